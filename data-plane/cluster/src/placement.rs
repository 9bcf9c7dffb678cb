//! Shard placement: weighted rendezvous (HRW) hashing over usable disks,
//! keyed by the object version id, with at most
//! `ceil((k+m) / failure_domains)` shards per failure domain.
//!
//! The chosen disks are stored in the object record, so a later map change
//! never makes an object unreadable.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Error, Result};

/// A disk that can take shards.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub disk: Uuid,
    pub osd: String,
    pub domain: String,
    pub weight: f64,
}

/// Weighted rendezvous score of `disk` for `key`: `-w / ln(u)` with `u`
/// uniform in (0,1) from a hash of both, so a disk's chance of ranking first
/// is proportional to its weight.
fn score(key: &[u8], disk: &Uuid, weight: f64) -> f64 {
    let mut h = Sha256::new();
    h.update(key);
    h.update(disk.as_bytes());
    let d = h.finalize();
    let x = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    // (x + 1) / (2^64 + 1) is in (0, 1).
    let u = (x as f64 + 1.0) / (u64::MAX as f64 + 2.0);
    -weight.max(1e-9) / u.ln()
}

/// Chooses `n` disks for `key` among `candidates`. Disks are ranked by HRW
/// score and taken in order, skipping a disk whose failure domain already
/// holds the cap; the returned order is the shard order.
pub fn place(key: &[u8], candidates: &[Candidate], n: usize) -> Result<Vec<Candidate>> {
    let out = rank(key, candidates, n);
    if out.len() < n {
        return Err(not_enough(candidates, n));
    }
    Ok(out)
}

/// Like [`place`], but settles for `min..=n` disks when `n` cannot be had
/// (an OSD down leaves a failure domain short): slot `i` is shard `i`, and
/// the slots past the disks found are `None` (those shards, parity when
/// `min >= k`, are not written: a degraded write, reported as such).
/// The per-domain cap is the same as for a full placement.
pub fn place_at_least(
    key: &[u8],
    candidates: &[Candidate],
    n: usize,
    min: usize,
) -> Result<Vec<Option<Candidate>>> {
    let out = rank(key, candidates, n);
    if out.len() < min {
        return Err(not_enough(candidates, min));
    }
    let mut out: Vec<Option<Candidate>> = out.into_iter().map(Some).collect();
    out.resize(n, None);
    Ok(out)
}

/// Chooses `n` more disks for `key` (repair: replacements for lost shards)
/// among `candidates`, none of them a disk in `kept` (the disks holding the
/// shards that stay, with their failure domains), and keeping the
/// per-failure-domain cap of a full placement of `total` shards counted
/// over the kept shards too. Fails when `n` cannot be had.
pub fn place_more(
    key: &[u8],
    candidates: &[Candidate],
    kept: &[(Uuid, String)],
    total: usize,
    n: usize,
) -> Result<Vec<Candidate>> {
    let free: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !kept.iter().any(|(d, _)| *d == c.disk))
        .collect();
    let mut domains: std::collections::HashSet<&str> =
        free.iter().map(|c| c.domain.as_str()).collect();
    domains.extend(kept.iter().map(|(_, d)| d.as_str()));
    let cap = domain_cap(total, domains.len());
    let mut per_domain: HashMap<&str, usize> = HashMap::new();
    for (_, d) in kept {
        *per_domain.entry(d.as_str()).or_default() += 1;
    }
    let out = take_ranked(key, free, n, cap, per_domain);
    if out.len() < n {
        return Err(Error::NotEnoughDisks {
            needed: n,
            available: out.len(),
            domains: domains.len(),
        });
    }
    Ok(out)
}

fn not_enough(candidates: &[Candidate], needed: usize) -> Error {
    let domains: std::collections::HashSet<&str> =
        candidates.iter().map(|c| c.domain.as_str()).collect();
    Error::NotEnoughDisks {
        needed,
        available: candidates.len(),
        domains: domains.len(),
    }
}

/// The most shards of one object placement puts in one failure domain
/// when `n` shards spread over `domains` domains: `ceil(n / domains)`.
pub fn domain_cap(n: usize, domains: usize) -> usize {
    if domains == 0 { 0 } else { n.div_ceil(domains) }
}

/// Up to `n` disks by rendezvous score, at most [`domain_cap`] per
/// failure domain.
fn rank(key: &[u8], candidates: &[Candidate], n: usize) -> Vec<Candidate> {
    let domains: std::collections::HashSet<&str> =
        candidates.iter().map(|c| c.domain.as_str()).collect();
    let cap = domain_cap(n, domains.len());
    take_ranked(key, candidates.iter().collect(), n, cap, HashMap::new())
}

/// Up to `n` of `candidates` in rendezvous-score order, skipping a disk
/// whose domain already holds `cap` (counting `per_domain` already used).
fn take_ranked<'a>(
    key: &[u8],
    candidates: Vec<&'a Candidate>,
    n: usize,
    cap: usize,
    mut per_domain: HashMap<&'a str, usize>,
) -> Vec<Candidate> {
    let mut ranked: Vec<(f64, &Candidate)> = candidates
        .into_iter()
        .map(|c| (score(key, &c.disk, c.weight), c))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.disk.cmp(&b.1.disk)));
    let mut out = Vec::with_capacity(n);
    for (_, c) in ranked {
        if out.len() == n {
            break;
        }
        let used = per_domain.entry(c.domain.as_str()).or_default();
        if *used < cap {
            *used += 1;
            out.push(c.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disks(per_domain: usize, domains: usize) -> Vec<Candidate> {
        let mut v = Vec::new();
        for d in 0..domains {
            for i in 0..per_domain {
                v.push(Candidate {
                    disk: Uuid::new_v4(),
                    osd: format!("osd{d}-{i}"),
                    domain: format!("host{d}"),
                    weight: 1.0,
                });
            }
        }
        v
    }

    /// Naive reference: the same rule written as a brute-force loop.
    fn reference(key: &[u8], c: &[Candidate], n: usize) -> Vec<Uuid> {
        let domains: std::collections::BTreeSet<_> = c.iter().map(|x| x.domain.clone()).collect();
        let cap = n.div_ceil(domains.len());
        let mut left: Vec<Candidate> = c.to_vec();
        let mut out: Vec<Candidate> = Vec::new();
        while out.len() < n && !left.is_empty() {
            let best = left
                .iter()
                .enumerate()
                .max_by(|a, b| {
                    score(key, &a.1.disk, a.1.weight)
                        .total_cmp(&score(key, &b.1.disk, b.1.weight))
                        .then_with(|| b.1.disk.cmp(&a.1.disk))
                })
                .map(|(i, _)| i)
                .unwrap();
            let cand = left.remove(best);
            if out.iter().filter(|o| o.domain == cand.domain).count() < cap {
                out.push(cand);
            }
        }
        out.into_iter().map(|c| c.disk).collect()
    }

    #[test]
    fn matches_reference_and_respects_domain_cap() {
        let c = disks(2, 3);
        for i in 0..500u32 {
            let key = i.to_be_bytes();
            let got = place(&key, &c, 6).unwrap();
            let ids: Vec<Uuid> = got.iter().map(|c| c.disk).collect();
            assert_eq!(ids, reference(&key, &c, 6));
            for d in 0..3 {
                let n = got
                    .iter()
                    .filter(|x| x.domain == format!("host{d}"))
                    .count();
                assert!(n <= 2, "domain {d} got {n} shards");
            }
        }
    }

    #[test]
    fn settles_for_the_write_quorum_when_a_domain_is_short() {
        // One OSD of six down: host0 has one disk left, so only five slots
        // can be filled under the two-per-domain cap.
        let mut c = disks(2, 3);
        let gone = c.iter().position(|x| x.domain == "host0").unwrap();
        c.remove(gone);
        for i in 0..200u32 {
            let key = i.to_be_bytes();
            assert!(place(&key, &c, 6).is_err());
            let got = place_at_least(&key, &c, 6, 5).unwrap();
            assert_eq!(got.len(), 6);
            assert!(got[..5].iter().all(Option::is_some));
            assert!(got[5].is_none(), "the missing slot is the last");
            let placed: Vec<&Candidate> = got.iter().flatten().collect();
            let ids: std::collections::HashSet<Uuid> = placed.iter().map(|c| c.disk).collect();
            assert_eq!(ids.len(), 5, "five distinct disks");
            for d in 0..3 {
                let n = placed
                    .iter()
                    .filter(|x| x.domain == format!("host{d}"))
                    .count();
                assert!(n <= 2, "domain {d} got {n} shards");
            }
        }
        // With the whole cluster healthy it is a full placement.
        let full = disks(2, 3);
        let got = place_at_least(b"k", &full, 6, 5).unwrap();
        assert!(got.iter().all(Option::is_some));
        // Below the minimum it refuses.
        c.remove(c.iter().position(|x| x.domain == "host1").unwrap());
        assert!(matches!(
            place_at_least(b"k", &c, 6, 5),
            Err(Error::NotEnoughDisks { needed: 5, .. })
        ));
    }

    #[test]
    fn replacements_avoid_kept_disks_and_keep_the_domain_cap() {
        let all = disks(3, 3); // 9 disks on 3 domains: cap 2 for 6 shards
        let placed = place(b"v", &all, 6).unwrap();
        // Shard 0's disk is lost; the other five stay.
        let kept: Vec<(Uuid, String)> = placed[1..]
            .iter()
            .map(|c| (c.disk, c.domain.clone()))
            .collect();
        let lost_domain = placed[0].domain.clone();
        let alive: Vec<Candidate> = all
            .iter()
            .filter(|c| c.disk != placed[0].disk)
            .cloned()
            .collect();
        let more = place_more(b"v", &alive, &kept, 6, 1).unwrap();
        assert_eq!(more.len(), 1);
        assert!(!kept.iter().any(|(d, _)| *d == more[0].disk));
        // Only the lost shard's domain has room under the cap.
        assert_eq!(more[0].domain, lost_domain);
        // Deterministic.
        assert_eq!(place_more(b"v", &alive, &kept, 6, 1).unwrap(), more);
        // No room at all: five kept on a two-domain map of five disks.
        let two = disks(3, 2);
        let placed = place(b"w", &two, 6).unwrap();
        let kept: Vec<(Uuid, String)> = placed[1..]
            .iter()
            .map(|c| (c.disk, c.domain.clone()))
            .collect();
        let left: Vec<Candidate> = two
            .iter()
            .filter(|c| c.disk != placed[0].disk)
            .cloned()
            .collect();
        assert!(place_more(b"w", &left, &kept, 6, 1).is_err());
    }

    #[test]
    fn refuses_when_domains_cannot_hold_the_shards() {
        // Four disks left in two domains: cap is 3 per domain, 4 disks < 6.
        let c = disks(2, 2);
        assert!(matches!(
            place(b"k", &c, 6),
            Err(Error::NotEnoughDisks { needed: 6, .. })
        ));
    }

    #[test]
    fn adding_a_disk_moves_about_one_in_n() {
        let mut c = disks(3, 3);
        let before: Vec<Vec<Uuid>> = (0..2000u32)
            .map(|i| {
                place(&i.to_be_bytes(), &c, 1)
                    .unwrap()
                    .iter()
                    .map(|c| c.disk)
                    .collect()
            })
            .collect();
        c.push(Candidate {
            disk: Uuid::new_v4(),
            osd: "new".into(),
            domain: "host0".into(),
            weight: 1.0,
        });
        let moved = (0..2000u32)
            .filter(|i| {
                let now: Vec<Uuid> = place(&i.to_be_bytes(), &c, 1)
                    .unwrap()
                    .iter()
                    .map(|c| c.disk)
                    .collect();
                now != before[*i as usize]
            })
            .count();
        // Expect ~1/10 of 2000 = 200.
        assert!((100..350).contains(&moved), "moved {moved}");
    }

    #[test]
    fn weight_biases_choice() {
        let mut c = disks(1, 2);
        c[0].weight = 3.0;
        let first = (0..4000u32)
            .filter(|i| place(&i.to_be_bytes(), &c, 1).unwrap()[0].disk == c[0].disk)
            .count();
        // Expected share 3/4.
        assert!((2700..3300).contains(&first), "first {first}");
    }
}
