//! The shard protocol server.

use std::collections::HashMap;
use std::sync::Arc;

use objectio_shard::proto::{self, ChunkStatus, ErrorCode, Reply, Request, ShardStat};
use tokio::io::{AsyncWriteExt, BufStream};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use crate::disk::{Disk, DiskError};

/// What a connection handler needs.
pub struct ServerState {
    pub secret: Vec<u8>,
    pub disks: HashMap<Uuid, Arc<Disk>>,
}

fn err_reply(e: &DiskError) -> Reply {
    let code = match e {
        DiskError::NotFound { .. } => ErrorCode::NotFound,
        DiskError::Full { .. } => ErrorCode::DiskFull,
        DiskError::BadRequest(_) | DiskError::Exists { .. } => ErrorCode::BadRequest,
        DiskError::Io { .. } | DiskError::Foreign { .. } => ErrorCode::Io,
    };
    Reply::Err {
        code,
        message: e.to_string(),
    }
}

/// Accepts connections forever.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(tcp, &state).await {
                        tracing::debug!(%peer, error = %e, "shard connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(tcp: TcpStream, state: &ServerState) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let peer = tcp.peer_addr()?;
    let mut s = BufStream::with_capacity(64 << 10, 64 << 10, tcp);
    if !proto::server_handshake(&mut s, &state.secret).await? {
        tracing::warn!(%peer, "refused a shard connection that failed authentication");
        return Ok(());
    }
    let mut buf = Vec::new();
    while let Some(req) = proto::read_msg::<_, Request>(&mut s).await? {
        match req {
            Request::PutBegin { disk, header } => {
                let Some(d) = state.disks.get(&disk) else {
                    proto::write_msg(&mut s, &unknown_disk(disk)).await?;
                    s.flush().await?;
                    continue;
                };
                match d.begin_put(header).await {
                    Err(e) => {
                        proto::write_msg(&mut s, &err_reply(&e)).await?;
                        s.flush().await?;
                    }
                    Ok(mut w) => {
                        proto::write_msg(&mut s, &Reply::Ok).await?;
                        s.flush().await?;
                        // The put streams: chunks then PutEnd. An error is
                        // remembered and answered at PutEnd so the client
                        // can keep pipelining.
                        let mut failed: Option<DiskError> = None;
                        loop {
                            match proto::read_msg::<_, Request>(&mut s).await? {
                                Some(Request::PutChunk { len }) => {
                                    proto::read_data(&mut s, len, &mut buf).await?;
                                    if failed.is_none() {
                                        let data = std::mem::take(&mut buf);
                                        match w.write_chunk(data).await {
                                            Ok(d) => buf = d,
                                            Err(e) => failed = Some(e),
                                        }
                                    }
                                }
                                Some(Request::PutEnd { etag }) => {
                                    let r = match failed.take() {
                                        Some(e) => err_reply(&e),
                                        None => match w.finish(etag).await {
                                            Ok(()) => Reply::Ok,
                                            Err(e) => err_reply(&e),
                                        },
                                    };
                                    proto::write_msg(&mut s, &r).await?;
                                    s.flush().await?;
                                    break;
                                }
                                Some(Request::PutAbort) => break,
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
                }
            }
            Request::Get {
                disk,
                shard,
                first,
                count,
            } => {
                let Some(d) = state.disks.get(&disk) else {
                    proto::write_msg(&mut s, &unknown_disk(disk)).await?;
                    s.flush().await?;
                    continue;
                };
                let e = match d.entry(&shard).await {
                    Ok(e) => e,
                    Err(e) => {
                        proto::write_msg(&mut s, &err_reply(&e)).await?;
                        s.flush().await?;
                        continue;
                    }
                };
                let stripes = e.header.geometry().stripes();
                let first = first as u64;
                let end = (first + count as u64).min(stripes);
                let n = end.saturating_sub(first) as u32;
                proto::write_msg(&mut s, &Reply::Get { count: n }).await?;
                for j in first..end {
                    match d.read_chunk(&e, j).await {
                        Ok(Some(data)) => {
                            proto::write_msg(
                                &mut s,
                                &Reply::Chunk {
                                    status: ChunkStatus::Ok,
                                    len: data.len() as u32,
                                },
                            )
                            .await?;
                            proto::write_data(&mut s, &data).await?;
                        }
                        Ok(None) => {
                            proto::write_msg(
                                &mut s,
                                &Reply::Chunk {
                                    status: ChunkStatus::Corrupt,
                                    len: 0,
                                },
                            )
                            .await?
                        }
                        Err(err) => {
                            tracing::warn!(shard = %shard, chunk = j, error = %err, "chunk read failed");
                            proto::write_msg(
                                &mut s,
                                &Reply::Chunk {
                                    status: ChunkStatus::Error,
                                    len: 0,
                                },
                            )
                            .await?
                        }
                    }
                }
                s.flush().await?;
            }
            Request::Delete { disk, shard } => {
                let r = match state.disks.get(&disk) {
                    None => unknown_disk(disk),
                    Some(d) => match d.delete(&shard).await {
                        Ok(()) => Reply::Ok,
                        Err(e) => err_reply(&e),
                    },
                };
                proto::write_msg(&mut s, &r).await?;
                s.flush().await?;
            }
            Request::Stat { disk, shard } => {
                let r = match state.disks.get(&disk) {
                    None => unknown_disk(disk),
                    Some(d) => match d.entry(&shard).await {
                        Ok(e) => Reply::Stat {
                            stat: ShardStat {
                                size: e.header.geometry().shard_size(),
                                etag: e.trailer.etag.clone(),
                                header: e.header,
                            },
                        },
                        Err(e) => err_reply(&e),
                    },
                };
                proto::write_msg(&mut s, &r).await?;
                s.flush().await?;
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

fn unknown_disk(disk: Uuid) -> Reply {
    Reply::Err {
        code: ErrorCode::UnknownDisk,
        message: format!("disk {disk} is not served here"),
    }
}
