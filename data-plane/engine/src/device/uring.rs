//! io_uring backend: one ring per device, driven by a dedicated thread,
//! `O_DIRECT`, and a pool of registered (fixed) buffers used with
//! `READ_FIXED`/`WRITE_FIXED` when an I/O's buffer comes from it.
//!
//! Requests reach the ring thread through a channel; an eventfd with a
//! read always armed on the ring wakes the thread when a request arrives
//! while others are in flight.
#![allow(unsafe_code)]
// SAFETY (module-wide): every pointer handed to the kernel points into an
// `IoBuf` (or the eventfd counter) owned by the in-flight table until its
// completion is reaped, so the memory outlives the I/O; registered buffers
// are owned by the pool for the ring's whole life (buffers handed out return
// to the pool, never freed, while the ring exists).

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use io_uring::{IoUring, opcode, squeue, types};
use tokio::sync::oneshot;

use super::{BLOCK, BlockDevice, IoBuf, check_io, file_size, open_file};

/// Bytes of one registered buffer.
pub const SLOT_BYTES: usize = 1 << 20;
/// Registered buffers per device.
const SLOTS: usize = 16;
const WAKE: u64 = u64::MAX;

/// Where a pooled buffer goes back to.
pub struct PoolSlot {
    pool: Arc<Pool>,
    index: u16,
}

impl PoolSlot {
    pub(crate) fn give_back(&self, raw: Vec<u8>) {
        self.pool
            .free
            .lock()
            .expect("pool lock")
            .push((self.index, raw));
    }
}

struct Pool {
    free: Mutex<Vec<(u16, Vec<u8>)>>,
}

enum Kind {
    Read,
    Write,
    /// A write with `RWF_DSYNC`: durable when it completes.
    WriteFua,
    Flush,
}

struct Req {
    kind: Kind,
    buf: Option<IoBuf>,
    offset: u64,
    done: oneshot::Sender<(Option<IoBuf>, std::io::Result<()>)>,
}

/// A file or block device driven through io_uring.
pub struct UringDevice {
    tx: Mutex<Option<mpsc::Sender<Req>>>,
    wake: Arc<OwnedFd>,
    size: u64,
    pool: Option<Arc<Pool>>,
    _thread: std::thread::JoinHandle<()>,
}

fn eventfd() -> std::io::Result<OwnedFd> {
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl UringDevice {
    /// Opens `path` with `O_DIRECT` (where allowed) on a new ring.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let (file, direct) = open_file(path)?;
        if !direct {
            tracing::info!(path = %path.display(), "O_DIRECT refused by the filesystem; buffered I/O");
        }
        let size = file_size(&file)?;
        let ring = IoUring::builder().build(256)?;
        // Register the buffer pool; run without it if the kernel refuses
        // (memlock limits), at the cost of per-I/O page pinning.
        let mut bufs: Vec<IoBuf> = (0..SLOTS).map(|_| IoBuf::new(SLOT_BYTES)).collect();
        let iovecs: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.ptr().cast(),
                iov_len: SLOT_BYTES,
            })
            .collect();
        let pool = match unsafe { ring.submitter().register_buffers(&iovecs) } {
            Ok(()) => Some(Arc::new(Pool {
                free: Mutex::new(
                    bufs.iter_mut()
                        .enumerate()
                        .map(|(i, b)| (i as u16, std::mem::take(&mut b.raw)))
                        .collect(),
                ),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "could not register io_uring buffers; using unregistered I/O");
                None
            }
        };
        let wake = Arc::new(eventfd()?);
        let (tx, rx) = mpsc::channel::<Req>();
        let wfd = wake.clone();
        let thread = std::thread::Builder::new()
            .name("objectio-uring".into())
            .spawn(move || ring_loop(ring, file, rx, wfd))?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            wake,
            size,
            pool,
            _thread: thread,
        })
    }

    async fn submit(
        &self,
        kind: Kind,
        buf: Option<IoBuf>,
        offset: u64,
    ) -> (Option<IoBuf>, std::io::Result<()>) {
        let (done, rx) = oneshot::channel();
        let req = Req {
            kind,
            buf,
            offset,
            done,
        };
        let sent = match self.tx.lock().expect("ring tx").as_ref() {
            Some(tx) => tx.send(req).map_err(|mpsc::SendError(r)| r),
            None => Err(req),
        };
        if let Err(req) = sent {
            return (
                req.buf,
                Err(std::io::Error::other("io_uring thread stopped")),
            );
        }
        self.wake();
        rx.await
            .unwrap_or_else(|_| (None, Err(std::io::Error::other("io_uring thread stopped"))))
    }
}

impl UringDevice {
    fn wake(&self) {
        let one: u64 = 1;
        unsafe {
            libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }
}

impl Drop for UringDevice {
    fn drop(&mut self) {
        // Disconnect, then wake the ring thread so it sees it and exits
        // once in-flight I/O completes (closing the ring and the file).
        self.tx.lock().expect("ring tx").take();
        self.wake();
    }
}

struct InFlight {
    req: Req,
    /// Bytes already transferred (short transfers are resubmitted).
    done_bytes: usize,
}

fn write_flags(kind: &Kind) -> i32 {
    match kind {
        Kind::WriteFua => libc::RWF_DSYNC,
        _ => 0,
    }
}

fn sqe_for(fd: types::Fd, f: &mut InFlight, user: u64) -> squeue::Entry {
    let off = f.req.offset + f.done_bytes as u64;
    match f.req.kind {
        Kind::Flush => opcode::Fsync::new(fd)
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(user),
        Kind::Read | Kind::Write | Kind::WriteFua => {
            let buf = f.req.buf.as_mut().expect("data I/O has a buffer");
            let fixed = buf.pool.as_ref().map(|p| p.index);
            let len = (buf.len() - f.done_bytes) as u32;
            let ptr = unsafe { buf.ptr().add(f.done_bytes) };
            let e = match (&f.req.kind, fixed) {
                (Kind::Read, Some(i)) => {
                    opcode::ReadFixed::new(fd, ptr, len, i).offset(off).build()
                }
                (Kind::Read, None) => opcode::Read::new(fd, ptr, len).offset(off).build(),
                (kind, Some(i)) => opcode::WriteFixed::new(fd, ptr, len, i)
                    .offset(off)
                    .rw_flags(write_flags(kind))
                    .build(),
                (kind, None) => opcode::Write::new(fd, ptr, len)
                    .offset(off)
                    .rw_flags(write_flags(kind))
                    .build(),
            };
            e.user_data(user)
        }
    }
}

fn ring_loop(mut ring: IoUring, file: std::fs::File, rx: mpsc::Receiver<Req>, wake: Arc<OwnedFd>) {
    let fd = types::Fd(file.as_raw_fd());
    let mut slots: Vec<Option<InFlight>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut pending: VecDeque<usize> = VecDeque::new();
    let mut counter = Box::new(0u64);
    let mut wake_armed = false;
    let mut open = true;
    loop {
        if !wake_armed {
            let e = opcode::Read::new(
                types::Fd(wake.as_raw_fd()),
                (&mut *counter as *mut u64).cast(),
                8,
            )
            .build()
            .user_data(WAKE);
            if unsafe { ring.submission().push(&e) }.is_ok() {
                wake_armed = true;
            }
        }
        // Take every queued request.
        loop {
            match rx.try_recv() {
                Ok(req) => {
                    let f = InFlight { req, done_bytes: 0 };
                    let i = match free.pop() {
                        Some(i) => {
                            slots[i] = Some(f);
                            i
                        }
                        None => {
                            slots.push(Some(f));
                            slots.len() - 1
                        }
                    };
                    pending.push_back(i);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        while let Some(&i) = pending.front() {
            let e = sqe_for(fd, slots[i].as_mut().expect("pending slot"), i as u64);
            if unsafe { ring.submission().push(&e) }.is_err() {
                break; // submission queue full: retry after completions
            }
            pending.pop_front();
        }
        let busy = slots.iter().filter(|s| s.is_some()).count();
        if !open && busy == 0 {
            return;
        }
        if let Err(e) = ring.submit_and_wait(1) {
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            tracing::error!(error = %e, "io_uring submit failed");
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        }
        let cqes: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (user, res) in cqes {
            if user == WAKE {
                wake_armed = false;
                continue;
            }
            let i = user as usize;
            let mut f = slots[i].take().expect("completed slot");
            let result = if res < 0 {
                Err(std::io::Error::from_raw_os_error(-res))
            } else {
                f.done_bytes += res as usize;
                let want = f.req.buf.as_ref().map(IoBuf::len).unwrap_or(0);
                if matches!(f.req.kind, Kind::Flush) || f.done_bytes >= want {
                    Ok(())
                } else if res == 0 {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "short transfer",
                    ))
                } else {
                    // Short transfer: resubmit the rest.
                    slots[i] = Some(f);
                    pending.push_back(i);
                    continue;
                }
            };
            free.push(i);
            let _ = f.req.done.send((f.req.buf.take(), result));
        }
    }
}

#[async_trait::async_trait]
impl BlockDevice for UringDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn backend(&self) -> &'static str {
        "uring"
    }

    fn alloc(&self, len: usize) -> IoBuf {
        if len <= SLOT_BYTES
            && let Some(pool) = &self.pool
            && let Some((index, raw)) = pool.free.lock().expect("pool lock").pop()
        {
            let off = raw.as_ptr().align_offset(BLOCK as usize);
            return IoBuf {
                raw,
                off,
                head: 0,
                len,
                pool: Some(PoolSlot {
                    pool: pool.clone(),
                    index,
                }),
            };
        }
        IoBuf::new(len)
    }

    async fn read_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let (b, r) = self.submit(Kind::Read, Some(buf), offset).await;
        (b.unwrap_or_else(|| IoBuf::new(0)), r)
    }

    async fn write_at(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let (b, r) = self.submit(Kind::Write, Some(buf), offset).await;
        (b.unwrap_or_else(|| IoBuf::new(0)), r)
    }

    async fn flush(&self) -> std::io::Result<()> {
        self.submit(Kind::Flush, None, 0).await.1
    }

    async fn write_at_fua(&self, buf: IoBuf, offset: u64) -> (IoBuf, std::io::Result<()>) {
        if let Err(e) = check_io(&buf, offset, self.size) {
            return (buf, Err(e));
        }
        let (b, r) = self.submit(Kind::WriteFua, Some(buf), offset).await;
        (b.unwrap_or_else(|| IoBuf::new(0)), r)
    }
}
