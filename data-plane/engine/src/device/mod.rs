//! The one block-device interface the engine does I/O through, and its
//! backends: `uring` (io_uring, `O_DIRECT`, registered buffers), `sync`
//! (`pread`/`pwrite` on the blocking pool, `O_DIRECT` where the filesystem
//! allows it) and `memory` (tests, with crash simulation).
//!
//! Every offset and length is a multiple of [`BLOCK`]; buffers are
//! [`IoBuf`]s, aligned to [`BLOCK`] in memory, owned by the I/O while it runs
//! (what io_uring needs).

pub mod memory;
pub mod sync;
pub mod uring;

use std::path::Path;
use std::sync::Arc;

/// Logical block size the engine uses for every I/O.
pub const BLOCK: u64 = 4096;

/// A heap buffer whose bytes start at a [`BLOCK`]-aligned address.
///
/// Alignment comes from over-allocating and starting at the first aligned
/// byte, so no unsafe code is needed; moving the `IoBuf` does not move the
/// bytes. A buffer may belong to a device's registered pool, to which it
/// returns on drop.
pub struct IoBuf {
    raw: Vec<u8>,
    /// Start of the aligned region within `raw`.
    off: usize,
    /// Bytes reserved in front of the visible bytes (see [`IoBuf::with_headroom`]).
    head: usize,
    len: usize,
    pub(crate) pool: Option<uring::PoolSlot>,
}

impl IoBuf {
    /// A zeroed buffer of `len` bytes.
    pub fn new(len: usize) -> Self {
        let raw = vec![0u8; len + BLOCK as usize];
        let off = raw.as_ptr().align_offset(BLOCK as usize);
        Self {
            raw,
            off,
            head: 0,
            len,
            pool: None,
        }
    }

    /// A buffer whose visible `len` bytes start `head` bytes into it, so a
    /// header can later be written in front of the data and both go to the
    /// device in one I/O, without a copy. The whole buffer
    /// (`head + len`, rounded up to whole blocks) is aligned.
    pub fn with_headroom(head: usize, len: usize) -> Self {
        let mut b = Self::new(round_up((head + len) as u64) as usize);
        b.head = head;
        b.len = len;
        b
    }

    /// Moves the start of the visible bytes `n` bytes forward.
    pub fn advance(&mut self, n: usize) {
        assert!(n <= self.len, "advance past the end");
        self.head += n;
        self.len -= n;
    }

    /// The bytes in front of the visible ones.
    pub fn headroom_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.off..self.off + self.head]
    }

    /// Makes the headroom part of the visible bytes.
    pub fn expose_headroom(&mut self) {
        self.len += self.head;
        self.head = 0;
    }

    /// A buffer holding `data`, zero-padded to a multiple of [`BLOCK`].
    pub fn from_padded(data: &[u8]) -> Self {
        let mut b = Self::new(round_up(data.len() as u64) as usize);
        b.as_mut_slice()[..data.len()].copy_from_slice(data);
        b
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        let s = self.off + self.head;
        &self.raw[s..s + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let s = self.off + self.head;
        &mut self.raw[s..s + self.len]
    }

    /// Shrinks or grows the visible length within capacity.
    pub fn set_len(&mut self, len: usize) {
        assert!(
            self.off + self.head + len <= self.raw.len(),
            "IoBuf capacity exceeded"
        );
        self.len = len;
    }

    /// Bytes the buffer can hold after its headroom.
    pub fn capacity(&self) -> usize {
        self.raw.len() - self.off - self.head
    }

    pub(crate) fn ptr(&mut self) -> *mut u8 {
        self.as_mut_slice().as_mut_ptr()
    }
}

impl Drop for IoBuf {
    fn drop(&mut self) {
        if let Some(slot) = self.pool.take() {
            slot.give_back(std::mem::take(&mut self.raw));
        }
    }
}

impl std::fmt::Debug for IoBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IoBuf({} bytes)", self.len)
    }
}

/// Rounds up to a multiple of [`BLOCK`].
pub fn round_up(x: u64) -> u64 {
    x.div_ceil(BLOCK) * BLOCK
}

/// A block device. Reads and writes take and give back owned buffers.
#[async_trait::async_trait]
pub trait BlockDevice: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Logical block size.
    fn block_size(&self) -> u64 {
        BLOCK
    }
    /// The backend's name, for logs.
    fn backend(&self) -> &'static str;
    /// A buffer for I/O of `len` bytes (registered with the device when the
    /// backend has a pool).
    fn alloc(&self, len: usize) -> IoBuf {
        IoBuf::new(len)
    }
    /// Reads `buf.len()` bytes at `offset`.
    async fn read_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>);
    /// Writes `buf` at `offset`.
    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>);
    /// Makes every completed write durable.
    async fn flush(&self) -> std::io::Result<()>;
    /// Writes `buf` at `offset` and returns once those bytes are durable
    /// (forced unit access: `RWF_DSYNC`, which NVMe turns into a FUA write),
    /// without waiting for other writes to become durable.
    async fn write_at_fua(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        let (buf, r) = self.write_at(buf, offset).await;
        if r.is_err() {
            return (buf, r);
        }
        let r = self.flush().await;
        (buf, r)
    }
}

/// Which backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `uring` when the kernel allows it, else `sync`.
    Auto,
    Uring,
    Sync,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Backend::Auto),
            "uring" => Ok(Backend::Uring),
            "sync" => Ok(Backend::Sync),
            other => Err(format!("unknown backend {other:?} (auto, uring, sync)")),
        }
    }
}

/// Opens `path` as a block device with `backend`, creating a sparse file of
/// `create_size` bytes when it does not exist (or is empty).
pub fn open(
    path: &Path,
    backend: Backend,
    create_size: u64,
) -> std::io::Result<Arc<dyn BlockDevice>> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(round_down(create_size))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?
            .set_len(round_down(create_size))?,
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let dev: Arc<dyn BlockDevice> = match backend {
        Backend::Sync => Arc::new(sync::SyncDevice::open(path)?),
        Backend::Uring => Arc::new(uring::UringDevice::open(path)?),
        Backend::Auto => match uring::UringDevice::open(path) {
            Ok(d) => Arc::new(d),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "io_uring unavailable; using the sync backend");
                Arc::new(sync::SyncDevice::open(path)?)
            }
        },
    };
    tracing::info!(path = %path.display(), backend = dev.backend(), size = dev.size(), "opened block device");
    Ok(dev)
}

fn round_down(x: u64) -> u64 {
    x / BLOCK * BLOCK
}

/// Opens a file with `O_DIRECT`, or without it where the filesystem refuses
/// (tmpfs); returns whether direct I/O is on.
pub(crate) fn open_file(path: &Path) -> std::io::Result<(std::fs::File, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => Ok((f, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)?;
            Ok((f, false))
        }
        Err(e) => Err(e),
    }
}

/// Size of an open file or block device.
pub(crate) fn file_size(f: &std::fs::File) -> std::io::Result<u64> {
    use std::io::Seek;
    let mut f = f;
    let n = f.seek(std::io::SeekFrom::End(0))?;
    Ok(round_down(n))
}

pub(crate) fn check_io(buf: &IoBuf, offset: u64, size: u64) -> std::io::Result<()> {
    let len = buf.len() as u64;
    if !offset.is_multiple_of(BLOCK) || !len.is_multiple_of(BLOCK) || offset + len > size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("unaligned or out-of-range I/O: {len} bytes at {offset} (device {size})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same checks against every backend.
    async fn exercise(dev: Arc<dyn BlockDevice>) {
        let size = dev.size();
        assert!(size >= 1 << 20);
        let mut b = dev.alloc(8192);
        for (i, x) in b.as_mut_slice().iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        let (b, r) = dev.write_at(b, 4096).await;
        r.unwrap();
        dev.flush().await.unwrap();
        let (back, r) = dev.read_at(dev.alloc(8192), 4096).await;
        r.unwrap();
        assert_eq!(back.as_slice(), b.as_slice());
        // A forced-unit-access write reads back like any other.
        let mut f = dev.alloc(4096);
        f.as_mut_slice().fill(0xf0);
        let (f, r) = dev.write_at_fua(f, 16384).await;
        r.unwrap();
        let (back, r) = dev.read_at(dev.alloc(4096), 16384).await;
        r.unwrap();
        assert_eq!(back.as_slice(), f.as_slice());
        let (_, r) = dev.write_at_fua(IoBuf::new(4096), size).await;
        assert!(r.is_err());
        // Unaligned and out-of-range I/O is refused, not performed.
        let (_, r) = dev.write_at(IoBuf::new(100), 0).await;
        assert!(r.is_err());
        let (_, r) = dev.read_at(IoBuf::new(4096), size).await;
        assert!(r.is_err());
        // Many concurrent I/Os complete with the right bytes.
        let mut tasks = Vec::new();
        for i in 0..64u64 {
            let dev = dev.clone();
            tasks.push(tokio::spawn(async move {
                let mut b = dev.alloc(4096);
                b.as_mut_slice().fill(i as u8);
                let (_, r) = dev.write_at(b, 65536 + i * 4096).await;
                r.unwrap();
                let (b, r) = dev.read_at(dev.alloc(4096), 65536 + i * 4096).await;
                r.unwrap();
                assert!(b.as_slice().iter().all(|x| *x == i as u8));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_backend() {
        exercise(Arc::new(memory::MemDevice::new(4 << 20))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sync_backend() {
        let d = tempfile::tempdir_in(".").unwrap();
        exercise(open(&d.path().join("f"), Backend::Sync, 4 << 20).unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uring_backend() {
        let d = tempfile::tempdir_in(".").unwrap();
        exercise(open(&d.path().join("f"), Backend::Uring, 4 << 20).unwrap()).await;
    }

    /// With a volatile write cache, a FUA write is in the image a power
    /// loss leaves and a plain write is not (until a flush).
    #[tokio::test]
    async fn fua_writes_skip_the_volatile_cache() {
        let m = memory::MemDevice::new(1 << 20);
        m.set_volatile();
        let mut a = m.alloc(4096);
        a.as_mut_slice().fill(1);
        let (_, r) = m.write_at(a, 0).await;
        r.unwrap();
        let mut b = m.alloc(4096);
        b.as_mut_slice().fill(2);
        let (_, r) = m.write_at_fua(b, 4096).await;
        r.unwrap();
        let img = m.image_with(|_, _| false);
        assert!(
            img[..4096].iter().all(|x| *x == 0),
            "plain write was cached"
        );
        assert!(img[4096..8192].iter().all(|x| *x == 2), "FUA write durable");
        // When the power goes before the write completes, it errs.
        m.fail_flushes();
        let (_, r) = m.write_at_fua(m.alloc(4096), 8192).await;
        assert!(r.is_err());
    }

    #[test]
    fn iobuf_is_aligned() {
        for n in [1usize, 100, 4096, 1 << 20] {
            let mut b = IoBuf::new(n);
            assert_eq!(b.ptr() as usize % BLOCK as usize, 0);
            assert_eq!(b.len(), n);
        }
    }
}
