//! The shard protocol client: pooled, authenticated, `TCP_NODELAY`
//! connections to OSDs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::proto::{self, ChunkStatus, FoundShard, Reply, Request, ShardStat};
use crate::{Error, Result, ShardHeader, ShardId};

/// Idle connections kept per OSD address.
const MAX_IDLE_PER_ADDR: usize = 32;

type Conn = BufStream<TcpStream>;

/// A pooled client of the shard protocol. Cheap to clone.
#[derive(Clone)]
pub struct ShardClient {
    inner: Arc<Inner>,
}

struct Inner {
    secret: Vec<u8>,
    idle: Mutex<HashMap<String, Vec<Conn>>>,
    timeout: Duration,
}

/// One chunk of a `Get` answer.
#[derive(Debug)]
pub enum Chunk {
    Ok(Vec<u8>),
    Corrupt,
    Error,
}

impl ShardClient {
    /// A client that proves itself with `secret`; every operation fails
    /// after `timeout` without progress.
    pub fn new(secret: &[u8], timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                secret: secret.to_vec(),
                idle: Mutex::new(HashMap::new()),
                timeout,
            }),
        }
    }

    fn io(addr: &str) -> impl Fn(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            addr: addr.to_string(),
            source,
        }
    }

    async fn with_timeout<T>(&self, addr: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.inner.timeout, f)
            .await
            .map_err(|_| Error::Timeout {
                addr: addr.to_string(),
            })?
    }

    async fn connect(&self, addr: &str) -> Result<Conn> {
        loop {
            let Some(c) = self
                .inner
                .idle
                .lock()
                .expect("pool lock")
                .get_mut(addr)
                .and_then(|v| v.pop())
            else {
                break;
            };
            if idle_and_open(&c) {
                return Ok(c);
            }
            // The OSD closed it (it restarted, or stopped): a request on it
            // would fail and cost a shard. Dial afresh instead.
        }
        self.with_timeout(addr, async {
            let tcp = TcpStream::connect(addr).await.map_err(Self::io(addr))?;
            tcp.set_nodelay(true).map_err(Self::io(addr))?;
            let mut s = BufStream::with_capacity(64 << 10, 64 << 10, tcp);
            if !proto::client_handshake(&mut s, &self.inner.secret)
                .await
                .map_err(Self::io(addr))?
            {
                return Err(Error::AuthRefused {
                    addr: addr.to_string(),
                });
            }
            Ok(s)
        })
        .await
    }

    fn release(&self, addr: &str, c: Conn) {
        let mut idle = self.inner.idle.lock().expect("pool lock");
        let v = idle.entry(addr.to_string()).or_default();
        if v.len() < MAX_IDLE_PER_ADDR {
            v.push(c);
        }
    }

    async fn expect_ok(addr: &str, c: &mut Conn) -> Result<Reply> {
        match proto::read_msg::<_, Reply>(c)
            .await
            .map_err(Self::io(addr))?
        {
            Some(Reply::Err { code, message }) => Err(Error::Remote {
                addr: addr.to_string(),
                code,
                message,
            }),
            Some(r) => Ok(r),
            None => Err(Error::Protocol {
                addr: addr.to_string(),
                msg: "connection closed".into(),
            }),
        }
    }

    /// Opens a streaming shard write on `disk` of the OSD at `addr`.
    pub async fn put(&self, addr: &str, disk: Uuid, header: ShardHeader) -> Result<PutStream> {
        let mut c = self.connect(addr).await?;
        self.with_timeout(addr, async {
            proto::write_msg(&mut c, &Request::PutBegin { disk, header })
                .await
                .map_err(Self::io(addr))?;
            c.flush().await.map_err(Self::io(addr))?;
            Self::expect_ok(addr, &mut c).await
        })
        .await?;
        Ok(PutStream {
            client: self.clone(),
            addr: addr.to_string(),
            conn: Some(c),
        })
    }

    /// Opens a pipelined shard write on `disk` of the OSD at `addr`: the
    /// request waits in the connection's buffer with the chunks after it,
    /// nothing waits for a round trip, and a refusal (disk unknown or
    /// full, shard exists) is [`PutStream::finish`]'s error. A shard of
    /// one chunk goes out in one write.
    pub async fn open(&self, addr: &str, disk: Uuid, header: ShardHeader) -> Result<PutStream> {
        let mut c = self.connect(addr).await?;
        self.with_timeout(addr, async {
            proto::write_msg(&mut c, &Request::PutOpen { disk, header })
                .await
                .map_err(Self::io(addr))
        })
        .await?;
        Ok(PutStream {
            client: self.clone(),
            addr: addr.to_string(),
            conn: Some(c),
        })
    }

    /// Reads `count` chunks of `shard` starting at chunk `first`.
    pub async fn get(
        &self,
        addr: &str,
        disk: Uuid,
        shard: ShardId,
        first: u32,
        count: u32,
    ) -> Result<Vec<Chunk>> {
        let mut c = self.connect(addr).await?;
        let out = self
            .with_timeout(addr, async {
                proto::write_msg(
                    &mut c,
                    &Request::Get {
                        disk,
                        shard,
                        first,
                        count,
                    },
                )
                .await
                .map_err(Self::io(addr))?;
                c.flush().await.map_err(Self::io(addr))?;
                let n = match Self::expect_ok(addr, &mut c).await? {
                    Reply::Get { count } => count,
                    other => {
                        return Err(Error::Protocol {
                            addr: addr.to_string(),
                            msg: format!("unexpected {other:?}"),
                        });
                    }
                };
                let mut out = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    match proto::read_msg::<_, Reply>(&mut c)
                        .await
                        .map_err(Self::io(addr))?
                    {
                        Some(Reply::Chunk {
                            status: ChunkStatus::Ok,
                            len,
                        }) => {
                            let mut buf = Vec::new();
                            proto::read_data(&mut c, len, &mut buf)
                                .await
                                .map_err(Self::io(addr))?;
                            out.push(Chunk::Ok(buf));
                        }
                        Some(Reply::Chunk {
                            status: ChunkStatus::Corrupt,
                            ..
                        }) => out.push(Chunk::Corrupt),
                        Some(Reply::Chunk { .. }) => out.push(Chunk::Error),
                        other => {
                            return Err(Error::Protocol {
                                addr: addr.to_string(),
                                msg: format!("unexpected {other:?}"),
                            });
                        }
                    }
                }
                Ok(out)
            })
            .await;
        match out {
            Ok(v) => {
                self.release(addr, c);
                Ok(v)
            }
            Err(e @ Error::Remote { .. }) => {
                self.release(addr, c);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn simple(&self, addr: &str, req: Request) -> Result<Reply> {
        let mut c = self.connect(addr).await?;
        let r = self
            .with_timeout(addr, async {
                proto::write_msg(&mut c, &req)
                    .await
                    .map_err(Self::io(addr))?;
                c.flush().await.map_err(Self::io(addr))?;
                Self::expect_ok(addr, &mut c).await
            })
            .await;
        if matches!(r, Ok(_) | Err(Error::Remote { .. })) {
            self.release(addr, c);
        }
        r
    }

    /// Deletes a shard.
    pub async fn delete(&self, addr: &str, disk: Uuid, shard: ShardId) -> Result<()> {
        self.simple(addr, Request::Delete { disk, shard })
            .await
            .map(|_| ())
    }

    /// Every shard of `segments` (data id, part) on any disk of the OSD at
    /// `addr`.
    pub async fn find(&self, addr: &str, segments: Vec<(Uuid, u32)>) -> Result<Vec<FoundShard>> {
        match self.simple(addr, Request::Find { segments }).await? {
            Reply::Found { shards } => Ok(shards),
            other => Err(Error::Protocol {
                addr: addr.to_string(),
                msg: format!("unexpected {other:?}"),
            }),
        }
    }

    /// Describes a shard.
    pub async fn stat(&self, addr: &str, disk: Uuid, shard: ShardId) -> Result<ShardStat> {
        match self.simple(addr, Request::Stat { disk, shard }).await? {
            Reply::Stat { stat } => Ok(stat),
            other => Err(Error::Protocol {
                addr: addr.to_string(),
                msg: format!("unexpected {other:?}"),
            }),
        }
    }
}

/// Whether a pooled connection can carry a request: nothing to read (an
/// idle peer sends nothing; a readable socket means the peer closed it, or
/// sent bytes nobody asked for).
fn idle_and_open(c: &Conn) -> bool {
    let mut b = [0u8; 1];
    matches!(
        c.get_ref().try_read(&mut b),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}

/// An open streaming shard write. Dropping it without [`PutStream::finish`]
/// abandons the write (the OSD discards it when the connection closes).
pub struct PutStream {
    client: ShardClient,
    addr: String,
    conn: Option<Conn>,
}

impl PutStream {
    /// The OSD address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends what is buffered now: a write of more than one chunk is
    /// opened at once, so the OSD takes its space (and the write shows as
    /// under way) while the body still streams.
    pub async fn flush(&mut self) -> Result<()> {
        let timeout = self.client.inner.timeout;
        let c = self.open_conn()?;
        let r = tokio::time::timeout(timeout, c.flush()).await;
        self.settle(r)
    }

    /// Sends the next chunk.
    pub async fn send(&mut self, data: &[u8]) -> Result<()> {
        let timeout = self.client.inner.timeout;
        let c = self.open_conn()?;
        let r = tokio::time::timeout(timeout, async {
            proto::write_msg(
                c,
                &Request::PutChunk {
                    len: data.len() as u32,
                },
            )
            .await?;
            // Not flushed: a chunk larger than the buffer goes out as it
            // is written, smaller ones with the next (or with the end).
            proto::write_data(c, data).await
        })
        .await;
        self.settle(r)
    }

    fn open_conn(&mut self) -> Result<&mut Conn> {
        let addr = &self.addr;
        self.conn.as_mut().ok_or_else(|| Error::Protocol {
            addr: addr.clone(),
            msg: "put already closed".into(),
        })
    }

    /// The outcome of a write on the connection; a failed or timed-out one
    /// leaves it in no known state, so it is dropped (and the put with it).
    fn settle(
        &mut self,
        r: std::result::Result<std::io::Result<()>, tokio::time::error::Elapsed>,
    ) -> Result<()> {
        let addr = self.addr.clone();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => {
                self.conn = None;
                Err(Error::Io { addr, source })
            }
            Err(_) => {
                self.conn = None;
                Err(Error::Timeout { addr })
            }
        }
    }

    /// Seals the shard and waits for the OSD's durable acknowledgement.
    pub async fn finish(mut self, etag: &str) -> Result<()> {
        let addr = self.addr.clone();
        let mut c = self.conn.take().ok_or_else(|| Error::Protocol {
            addr: addr.clone(),
            msg: "put already closed".into(),
        })?;
        let r = self
            .client
            .with_timeout(&addr, async {
                proto::write_msg(
                    &mut c,
                    &Request::PutEnd {
                        etag: etag.to_string(),
                    },
                )
                .await
                .map_err(ShardClient::io(&addr))?;
                c.flush().await.map_err(ShardClient::io(&addr))?;
                ShardClient::expect_ok(&addr, &mut c).await
            })
            .await;
        if matches!(r, Ok(_) | Err(Error::Remote { .. })) {
            self.client.release(&addr, c);
        }
        r.map(|_| ())
    }
}
