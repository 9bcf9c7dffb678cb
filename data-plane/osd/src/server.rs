//! The shard protocol server over the storage engines of this OSD.

use std::collections::HashMap;
use std::sync::Arc;

use objectio_engine::{Engine, Error as EngineError};
use objectio_shard::proto::{self, ChunkStatus, ErrorCode, FoundShard, Reply, Request, ShardStat};
use tokio::io::{AsyncWriteExt, BufStream};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// The OSD's disks, shared by the server, scrub and the publishing of
/// usage; a disk added while the OSD runs (`osd add --id ID --disks DEV`)
/// joins them.
#[derive(Clone, Default)]
pub struct Disks(Arc<std::sync::RwLock<HashMap<Uuid, Arc<Engine>>>>);

impl Disks {
    pub fn get(&self, id: &Uuid) -> Option<Arc<Engine>> {
        self.0.read().expect("disks lock").get(id).cloned()
    }

    /// Every disk now, by id.
    pub fn all(&self) -> Vec<(Uuid, Arc<Engine>)> {
        let mut v: Vec<_> = self
            .0
            .read()
            .expect("disks lock")
            .iter()
            .map(|(k, e)| (*k, e.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.0.read().expect("disks lock").contains_key(id)
    }

    pub fn insert(&self, id: Uuid, e: Arc<Engine>) {
        self.0.write().expect("disks lock").insert(id, e);
    }
}

/// What a connection handler needs.
pub struct ServerState {
    pub secret: Vec<u8>,
    pub disks: Disks,
}

fn err_reply(e: &EngineError) -> Reply {
    let code = match e {
        EngineError::NotFound(_) => ErrorCode::NotFound,
        EngineError::Full { .. } => ErrorCode::DiskFull,
        EngineError::BadRequest(_) => ErrorCode::BadRequest,
        EngineError::Exists(_) => ErrorCode::Exists,
        _ => ErrorCode::Io,
    };
    Reply::Err {
        code,
        message: e.to_string(),
    }
}

fn unknown_disk(disk: Uuid) -> Reply {
    Reply::Err {
        code: ErrorCode::UnknownDisk,
        message: format!("disk {disk} is not served here"),
    }
}

/// Accepts connections until `stop` turns true, then waits for every
/// connection to finish the request it is serving (idle ones close at once).
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    let state = state.clone();
                    let stop = conn_stop.clone();
                    conns.spawn(async move {
                        if let Err(e) = handle(tcp, &state, stop).await {
                            tracing::debug!(%peer, error = %e, "shard connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut stop) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

type Conn = BufStream<TcpStream>;

async fn reply(s: &mut Conn, r: &Reply) -> std::io::Result<()> {
    proto::write_msg(s, r).await?;
    s.flush().await
}

async fn handle(
    tcp: TcpStream,
    state: &ServerState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let peer = tcp.peer_addr()?;
    let mut s = BufStream::with_capacity(64 << 10, 64 << 10, tcp);
    if !proto::server_handshake(&mut s, &state.secret).await? {
        tracing::warn!(%peer, "refused a shard connection that failed authentication");
        return Ok(());
    }
    loop {
        // Between requests a stopping OSD closes the connection (the
        // request being read is abandoned with it); a request already read
        // runs to its end.
        let req = tokio::select! {
            r = proto::read_msg::<_, Request>(&mut s) => match r? {
                Some(req) => req,
                None => break,
            },
            _ = stopped(&mut stop) => break,
        };
        match req {
            Request::PutBegin { disk, header } => {
                let Some(engine) = state.disks.get(&disk) else {
                    reply(&mut s, &unknown_disk(disk)).await?;
                    continue;
                };
                match engine.begin_put(header) {
                    Err(e) => reply(&mut s, &err_reply(&e)).await?,
                    Ok(w) => {
                        reply(&mut s, &Reply::Ok).await?;
                        put_stream(&mut s, Ok(w)).await?;
                    }
                }
            }
            Request::PutOpen { disk, header } => {
                let w = match state.disks.get(&disk) {
                    None => Err(unknown_disk(disk)),
                    Some(engine) => engine.begin_put(header).map_err(|e| err_reply(&e)),
                };
                put_stream(&mut s, w).await?;
            }
            Request::Get {
                disk,
                shard,
                first,
                count,
            } => {
                let Some(engine) = state.disks.get(&disk) else {
                    reply(&mut s, &unknown_disk(disk)).await?;
                    continue;
                };
                let e = match engine.entry(&shard) {
                    Ok(e) => e,
                    Err(e) => {
                        reply(&mut s, &err_reply(&e)).await?;
                        continue;
                    }
                };
                let stripes = e.geometry().stripes();
                let first = first as u64;
                let end = (first + count as u64).min(stripes);
                let n = end.saturating_sub(first) as u32;
                proto::write_msg(&mut s, &Reply::Get { count: n }).await?;
                for j in first..end {
                    let (status, data) = match engine.read_chunk(&e, j).await {
                        Ok(Some(b)) => (ChunkStatus::Ok, Some(b)),
                        Ok(None) => (ChunkStatus::Corrupt, None),
                        Err(err) => {
                            tracing::warn!(%shard, chunk = j, error = %err, "chunk read failed");
                            (ChunkStatus::Error, None)
                        }
                    };
                    let len = data.as_ref().map(|b| b.len() as u32).unwrap_or(0);
                    proto::write_msg(&mut s, &Reply::Chunk { status, len }).await?;
                    if let Some(b) = data {
                        proto::write_data(&mut s, b.as_slice()).await?;
                    }
                }
                s.flush().await?;
            }
            Request::Delete { disk, shard } => {
                let r = match state.disks.get(&disk) {
                    None => unknown_disk(disk),
                    Some(engine) => match engine.delete(&shard).await {
                        Ok(()) => Reply::Ok,
                        Err(e) => err_reply(&e),
                    },
                };
                reply(&mut s, &r).await?;
            }
            Request::Stat { disk, shard } => {
                let r = match state.disks.get(&disk) {
                    None => unknown_disk(disk),
                    Some(engine) => match engine.entry(&shard) {
                        Err(e) => err_reply(&e),
                        Ok(e) => match engine.read_header(&e).await {
                            Ok(h) => Reply::Stat {
                                stat: ShardStat {
                                    size: e.geometry().shard_size(),
                                    etag: h.etag,
                                    header: h.header,
                                },
                            },
                            Err(err) => err_reply(&err),
                        },
                    },
                };
                reply(&mut s, &r).await?;
            }
            Request::Find { segments } => {
                let mut shards = Vec::new();
                // Shard indices are below k+m <= 64 (headers are checked).
                let ids = segments.iter().flat_map(|(version_id, part)| {
                    (0..64u8).map(move |index| objectio_shard::ShardId {
                        version_id: *version_id,
                        part: *part,
                        index,
                    })
                });
                let ids: Vec<_> = ids.collect();
                for (disk, engine) in state.disks.all() {
                    for id in &ids {
                        // Absent, or its header unreadable: not a shard to
                        // rebuild from.
                        let Ok(e) = engine.entry(id) else { continue };
                        if let Ok(h) = engine.read_header(&e).await {
                            shards.push(FoundShard {
                                disk,
                                stat: ShardStat {
                                    size: e.geometry().shard_size(),
                                    etag: h.etag,
                                    header: h.header,
                                },
                            });
                        }
                    }
                }
                reply(&mut s, &Reply::Found { shards }).await?;
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{other:?} outside a put"),
                ));
            }
        }
    }
    Ok(())
}

/// Receives the chunks of an open put straight into engine buffers. An
/// error is remembered and answered at `PutEnd`, so the client can keep
/// pipelining; a put refused at its start (`Err`, a `PutOpen`'s) reads and
/// drops its chunks and answers the refusal there.
async fn put_stream(
    s: &mut Conn,
    mut w: Result<objectio_engine::ShardWriter, Reply>,
) -> std::io::Result<()> {
    loop {
        match proto::read_msg::<_, Request>(s).await? {
            Some(Request::PutChunk { len }) => {
                if len > proto::MAX_DATA {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "chunk too large",
                    ));
                }
                let failed = match &mut w {
                    Ok(writer) => {
                        let mut buf = writer.chunk_buf(len as usize);
                        proto::read_data_exact(s, buf.as_mut_slice()).await?;
                        writer.write_chunk(buf).await.err()
                    }
                    Err(_) => {
                        proto::skip_data(s, len).await?;
                        None
                    }
                };
                if let Some(e) = failed {
                    // The writer goes (its space with it); the rest of
                    // the chunks are dropped and the error answered last.
                    w = Err(err_reply(&e));
                }
            }
            Some(Request::PutEnd { etag }) => {
                let r = match w {
                    Err(r) => r,
                    Ok(writer) => match writer.finish(&etag).await {
                        Ok(()) => Reply::Ok,
                        Err(e) => err_reply(&e),
                    },
                };
                return reply(s, &r).await;
            }
            Some(Request::PutAbort) => return Ok(()),
            Some(other) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{other:?} inside a put"),
                ));
            }
            None => return Ok(()),
        }
    }
}
