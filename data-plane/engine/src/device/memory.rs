//! An in-memory device for tests, able to simulate power loss: after a set
//! number of written bytes the device stops, tearing the write that
//! crosses the point; the image can then be reopened as it was left.

use std::sync::{Arc, Mutex};

use super::{BlockDevice, IoBuf, check_io};

/// In-memory block device. Clones share the same bytes.
#[derive(Clone)]
pub struct MemDevice {
    inner: Arc<Mutex<State>>,
    size: u64,
}

struct State {
    data: Vec<u8>,
    /// Bytes that may still be written before the simulated power loss.
    budget: Option<u64>,
}

fn lost() -> std::io::Error {
    std::io::Error::other("simulated power loss")
}

impl MemDevice {
    /// A zeroed device of `size` bytes.
    pub fn new(size: u64) -> Self {
        Self::from_bytes(vec![0; size as usize])
    }

    /// A device holding `data` (e.g. a crashed device's snapshot).
    pub fn from_bytes(data: Vec<u8>) -> Self {
        Self {
            size: data.len() as u64,
            inner: Arc::new(Mutex::new(State { data, budget: None })),
        }
    }

    /// Copies the bytes as they are now.
    pub fn snapshot(&self) -> Vec<u8> {
        self.inner.lock().expect("mem lock").data.clone()
    }

    /// Loses power after `bytes` more written bytes: the write crossing the
    /// point is torn and every later I/O fails.
    pub fn crash_after(&self, bytes: u64) {
        self.inner.lock().expect("mem lock").budget = Some(bytes);
    }

    /// Whether the simulated power loss has happened.
    pub fn crashed(&self) -> bool {
        self.inner.lock().expect("mem lock").budget == Some(0)
    }

    /// Overwrites bytes directly (to simulate media corruption).
    pub fn corrupt(&self, offset: u64, bytes: &[u8]) {
        let mut s = self.inner.lock().expect("mem lock");
        s.data[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
    }
}

#[async_trait::async_trait]
impl BlockDevice for MemDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn read_at(&self, mut buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let s = self.inner.lock().expect("mem lock");
        if s.budget == Some(0) {
            return (buf, Err(lost()));
        }
        let n = buf.len();
        buf.as_mut_slice()
            .copy_from_slice(&s.data[offset as usize..offset as usize + n]);
        (buf, Ok(()))
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let mut s = self.inner.lock().expect("mem lock");
        let mut n = buf.len();
        let mut torn = false;
        if let Some(b) = s.budget.as_mut() {
            if (n as u64) > *b {
                n = *b as usize;
                torn = true;
            }
            *b -= n as u64;
        }
        s.data[offset as usize..offset as usize + n].copy_from_slice(&buf.as_slice()[..n]);
        if torn || s.budget == Some(0) && n == 0 {
            return (buf, Err(lost()));
        }
        (buf, Ok(()))
    }

    async fn flush(&self) -> std::io::Result<()> {
        if self.inner.lock().expect("mem lock").budget == Some(0) {
            return Err(lost());
        }
        Ok(())
    }
}
