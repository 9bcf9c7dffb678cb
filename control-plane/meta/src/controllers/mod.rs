//! Background controllers. Each runs on the meta leader only, is
//! idempotent, and keeps what must survive a leader change in etcd:
//!
//! - [`health`]: an OSD down longer than `down_out_interval` has its disks
//!   marked `out` (and `in` again when it returns);
//! - [`repair`]: rebuilds lost shards (on out, replaced or missing disks, or
//!   never written) onto disks in service, resumable from its cursor in
//!   `jobs/repair`;
//! - [`gc`]: deletes queued and orphaned shards.

pub mod gc;
pub mod health;
pub mod repair;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this replica leads now.
#[derive(Clone)]
pub struct Leader(pub Arc<AtomicBool>);

impl Leader {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
