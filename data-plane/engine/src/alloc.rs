//! Extent allocator over the data region: a map of free extents, first
//! fit, neighbours merged on free. Its state is derived: at start-up it is
//! the data region minus the extents of the recovered index, so it needs
//! no persistence of its own, and space of a write that never committed is
//! free again after a crash.

use std::collections::BTreeMap;

/// Free extents by offset.
#[derive(Debug, Clone)]
pub struct Allocator {
    free: BTreeMap<u64, u64>,
    total: u64,
    free_bytes: u64,
}

impl Allocator {
    /// Everything in `[start, end)` is free except `used` extents
    /// (`(offset, len)`, which must not overlap).
    pub fn new(start: u64, end: u64, used: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut used: Vec<(u64, u64)> = used.into_iter().collect();
        used.sort_unstable();
        let mut free = BTreeMap::new();
        let mut at = start;
        for (off, len) in used {
            if off > at {
                free.insert(at, off - at);
            }
            at = at.max(off + len);
        }
        if end > at {
            free.insert(at, end - at);
        }
        let free_bytes = free.values().sum();
        Self {
            free,
            total: end - start,
            free_bytes,
        }
    }

    /// Takes `len` bytes; `None` when no free extent is large enough.
    pub fn alloc(&mut self, len: u64) -> Option<u64> {
        let (&off, &flen) = self.free.iter().find(|(_, l)| **l >= len)?;
        self.free.remove(&off);
        if flen > len {
            self.free.insert(off + len, flen - len);
        }
        self.free_bytes -= len;
        Some(off)
    }

    /// Gives back an extent taken by [`Allocator::alloc`].
    pub fn free(&mut self, off: u64, len: u64) {
        let mut start = off;
        let mut l = len;
        if let Some((&poff, &plen)) = self.free.range(..off).next_back()
            && poff + plen == off
        {
            self.free.remove(&poff);
            start = poff;
            l += plen;
        }
        if let Some(&nlen) = self.free.get(&(off + len)) {
            self.free.remove(&(off + len));
            l += nlen;
        }
        self.free.insert(start, l);
        self.free_bytes += len;
    }

    pub fn free_bytes(&self) -> u64 {
        self.free_bytes
    }

    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Number of free extents (fragmentation).
    pub fn extents(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reuses_and_merges() {
        let mut a = Allocator::new(0, 100, []);
        let x = a.alloc(30).unwrap();
        let y = a.alloc(30).unwrap();
        let z = a.alloc(40).unwrap();
        assert_eq!((x, y, z), (0, 30, 60));
        assert_eq!(a.alloc(1), None);
        a.free(y, 30);
        assert_eq!(a.alloc(20), Some(30));
        a.free(30, 20);
        a.free(x, 30);
        a.free(z, 40);
        assert_eq!(a.extents(), 1);
        assert_eq!(a.free_bytes(), 100);
        assert_eq!(a.alloc(100), Some(0));
    }

    #[test]
    fn starts_from_used_extents() {
        let a = Allocator::new(10, 100, [(50, 10), (10, 5)]);
        assert_eq!(a.free_bytes(), 75);
        assert_eq!(a.extents(), 2);
    }

    proptest! {
        /// Against a naive reference: a bitmap of bytes.
        #[test]
        fn matches_a_bitmap(ops in proptest::collection::vec((any::<bool>(), 1u64..40), 1..200)) {
            let mut a = Allocator::new(0, 1000, []);
            let mut bitmap = vec![false; 1000];
            let mut live: Vec<(u64, u64)> = Vec::new();
            for (do_alloc, n) in ops {
                if do_alloc || live.is_empty() {
                    if let Some(off) = a.alloc(n) {
                        for b in &mut bitmap[off as usize..(off + n) as usize] {
                            prop_assert!(!*b, "double allocation");
                            *b = true;
                        }
                        live.push((off, n));
                    }
                } else {
                    let (off, n) = live.remove(n as usize % live.len());
                    a.free(off, n);
                    for b in &mut bitmap[off as usize..(off + n) as usize] {
                        *b = false;
                    }
                }
                prop_assert_eq!(a.free_bytes(), bitmap.iter().filter(|b| !**b).count() as u64);
            }
        }
    }
}
