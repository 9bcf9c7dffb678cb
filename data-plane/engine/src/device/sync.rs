//! `pread`/`pwrite` on tokio's blocking pool, with `O_DIRECT` where the
//! filesystem allows it. The fallback that works everywhere.

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::{BlockDevice, IoBuf, check_io, file_size, open_file};

/// A file or block device driven with positioned reads and writes.
pub struct SyncDevice {
    file: Arc<std::fs::File>,
    size: u64,
    direct: bool,
}

impl SyncDevice {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let (file, direct) = open_file(path)?;
        let size = file_size(&file)?;
        Ok(Self {
            file: Arc::new(file),
            size,
            direct,
        })
    }

    /// Opens read-only, without `O_DIRECT` (offline tools).
    pub fn open_read_only(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let size = file_size(&file)?;
        Ok(Self {
            file: Arc::new(file),
            size,
            direct: false,
        })
    }

    /// Whether `O_DIRECT` is on.
    pub fn direct(&self) -> bool {
        self.direct
    }
}

#[async_trait::async_trait]
impl BlockDevice for SyncDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn backend(&self) -> &'static str {
        "sync"
    }

    async fn read_at(&self, mut buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let f = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let r = f.read_exact_at(buf.as_mut_slice(), offset);
            (buf, r)
        })
        .await
        .expect("blocking read task")
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let f = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let r = f.write_all_at(buf.as_slice(), offset);
            (buf, r)
        })
        .await
        .expect("blocking write task")
    }

    async fn write_at_fua(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let f = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let r = pwrite_dsync(&f, buf.as_slice(), offset);
            (buf, r)
        })
        .await
        .expect("blocking write task")
    }

    async fn flush(&self) -> std::io::Result<()> {
        let f = self.file.clone();
        tokio::task::spawn_blocking(move || f.sync_data())
            .await
            .expect("blocking flush task")
    }
}

/// `pwritev2(RWF_DSYNC)` until every byte is written; kernels without it
/// get a plain write followed by `fdatasync`.
#[allow(unsafe_code)]
fn pwrite_dsync(f: &std::fs::File, mut data: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !data.is_empty() {
        let iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: one iovec over a live slice; the fd is open for writing.
        let n = unsafe {
            libc::pwritev2(
                f.as_raw_fd(),
                &iov,
                1,
                offset as libc::off_t,
                libc::RWF_DSYNC,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOSYS | libc::EOPNOTSUPP) => {
                    f.write_all_at(data, offset)?;
                    return f.sync_data();
                }
                _ => return Err(e),
            }
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        data = &data[n as usize..];
        offset += n as u64;
    }
    Ok(())
}
