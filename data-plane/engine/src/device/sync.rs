//! `pread`/`pwrite` on tokio's blocking pool, with `O_DIRECT` where the
//! filesystem allows it. The fallback that works everywhere.

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

    async fn flush(&self) -> std::io::Result<()> {
        let f = self.file.clone();
        tokio::task::spawn_blocking(move || f.sync_data())
            .await
            .expect("blocking flush task")
    }
}
