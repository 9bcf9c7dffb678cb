//! Watches whether the failure domains in service can each be lost whole.
//!
//! Placement puts at most `ceil((k+m)/domains)` shards of an object in one
//! domain; when that is more than `m`, losing one domain (a host, with
//! several OSDs on it) can lose objects. The meta says so in its log when
//! it becomes true and when it stops being true.

use std::collections::BTreeMap;
use std::time::Duration;

use objectio_cluster::placement::domain_cap;
use objectio_cluster::{DiskRecord, DiskState, EcProfile, OsdRecord, Store};

/// Why the domains cannot each be lost, or `None` when they can.
pub fn risk(domains: &BTreeMap<String, usize>, ec: &EcProfile) -> Option<String> {
    if domains.is_empty() {
        return None;
    }
    let n = ec.total();
    let cap = domain_cap(n, domains.len());
    (cap > ec.m as usize).then(|| {
        let need = n.div_ceil(ec.m as usize);
        format!(
            "{} failure domain(s) in service ({}): placement may put {cap} shards of a {}+{} object in one domain, more than m={}, so losing one domain can lose data; run OSDs in at least {need} domains (--failure-domain, the host name by default)",
            domains.len(),
            domains
                .iter()
                .map(|(d, disks)| format!("{d}: {disks} disk(s)"))
                .collect::<Vec<_>>()
                .join(", "),
            ec.k,
            ec.m,
            ec.m
        )
    })
}

/// Disks in service per failure domain.
async fn domains(store: &Store) -> objectio_cluster::Result<BTreeMap<String, usize>> {
    let k = store.keys();
    let osds: BTreeMap<String, OsdRecord> = store
        .list::<OsdRecord>(k.osds_prefix())
        .await?
        .into_iter()
        .map(|(_, o)| (o.id.clone(), o))
        .collect();
    let mut out = BTreeMap::new();
    for (_, d) in store.list::<DiskRecord>(k.disks_prefix()).await? {
        if d.state != DiskState::In {
            continue;
        }
        if let Some(o) = osds.get(&d.osd) {
            *out.entry(o.failure_domain.clone()).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// Checks every `every` and logs each change of verdict.
pub async fn run(store: Store, ec: EcProfile, every: Duration) {
    let mut last: Option<String> = None;
    loop {
        match domains(&store).await {
            Ok(d) => {
                let now = risk(&d, &ec);
                if now != last {
                    match &now {
                        Some(why) => tracing::warn!("{why}"),
                        None if last.is_some() => {
                            tracing::info!(
                                domains = d.len(),
                                "every failure domain can now be lost whole"
                            )
                        }
                        None => {}
                    }
                    last = now;
                }
            }
            Err(e) => tracing::debug!(error = %e, "reading failure domains"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: &[(&str, usize)]) -> BTreeMap<String, usize> {
        v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn warns_when_one_domain_may_hold_more_than_m_shards() {
        let ec = EcProfile::default(); // 4+2
        assert_eq!(risk(&d(&[]), &ec), None);
        // Three hosts: at most 2 shards each, m = 2.
        assert_eq!(risk(&d(&[("h1", 2), ("h2", 2), ("h3", 2)]), &ec), None);
        // Two hosts: 3 shards on one host, one host lost loses data.
        let w = risk(&d(&[("h1", 3), ("h2", 3)]), &ec).unwrap();
        assert!(
            w.contains("3 shards") && w.contains("at least 3 domains"),
            "{w}"
        );
        // Every OSD of one machine in its own domain name is still one
        // domain only if it says so; one domain is the worst case.
        assert!(risk(&d(&[("h1", 6)]), &ec).unwrap().contains("6 shards"));
    }
}
