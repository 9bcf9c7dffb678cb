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
    /// With a volatile write cache: the flushed bytes, and the writes since.
    durable: Option<Vec<u8>>,
    pending: Vec<(u64, Vec<u8>)>,
    fail_flush: bool,
    /// Byte ranges whose reads fail with EIO (bad sectors).
    bad: Vec<std::ops::Range<u64>>,
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
            inner: Arc::new(Mutex::new(State {
                data,
                budget: None,
                durable: None,
                pending: Vec::new(),
                fail_flush: false,
                bad: Vec::new(),
            })),
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

    /// Models a volatile write cache from now on: writes are visible at
    /// once but durable only after a flush (see [`MemDevice::image_with`]).
    pub fn set_volatile(&self) {
        let mut s = self.inner.lock().expect("mem lock");
        s.durable = Some(s.data.clone());
    }

    /// Makes every later flush fail (the power goes before it completes).
    pub fn fail_flushes(&self) {
        self.inner.lock().expect("mem lock").fail_flush = true;
    }

    /// The image after a power loss that kept only the unflushed writes
    /// `keep(offset, len)` selects (a write cache reorders freely).
    pub fn image_with(&self, keep: impl Fn(u64, usize) -> bool) -> Vec<u8> {
        let s = self.inner.lock().expect("mem lock");
        let mut img = s.durable.clone().unwrap_or_else(|| s.data.clone());
        for (off, b) in &s.pending {
            if keep(*off, b.len()) {
                img[*off as usize..*off as usize + b.len()].copy_from_slice(b);
            }
        }
        img
    }

    /// Makes reads touching `[offset, offset + len)` fail with EIO, as a bad
    /// sector does.
    pub fn fail_reads(&self, offset: u64, len: u64) {
        self.inner
            .lock()
            .expect("mem lock")
            .bad
            .push(offset..offset + len);
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
        let span = offset..offset + n as u64;
        if s.bad
            .iter()
            .any(|b| b.start < span.end && span.start < b.end)
        {
            return (buf, Err(std::io::Error::from_raw_os_error(libc::EIO)));
        }
        buf.as_mut_slice()
            .copy_from_slice(&s.data[offset as usize..offset as usize + n]);
        (buf, Ok(()))
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        self.write(buf, offset, false)
    }

    async fn write_at_fua(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        self.write(buf, offset, true)
    }

    async fn flush(&self) -> std::io::Result<()> {
        let mut s = self.inner.lock().expect("mem lock");
        if s.budget == Some(0) || s.fail_flush {
            return Err(lost());
        }
        let pending = std::mem::take(&mut s.pending);
        if let Some(d) = s.durable.as_mut() {
            for (off, b) in pending {
                d[off as usize..off as usize + b.len()].copy_from_slice(&b);
            }
        }
        Ok(())
    }
}

impl MemDevice {
    /// A write; with `fua` it goes past the volatile cache straight to the
    /// durable image (unless flushes fail: then it stays cached and errs).
    fn write(&self, buf: IoBuf, offset: u64, fua: bool) -> (IoBuf, std::io::Result<()>) {
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
        let through = fua && !s.fail_flush;
        let bytes = &buf.as_slice()[..n];
        match s.durable.as_mut() {
            Some(d) if through => d[offset as usize..offset as usize + n].copy_from_slice(bytes),
            Some(_) => s.pending.push((offset, bytes.to_vec())),
            None => {}
        }
        if torn || s.budget == Some(0) && n == 0 || fua && !through {
            return (buf, Err(lost()));
        }
        (buf, Ok(()))
    }
}
