//! Wire format of the shard protocol.
//!
//! A connection opens with a challenge: the server sends a 32-byte nonce,
//! the client answers `HMAC-SHA256(secret, "objectio-shard-v1" || nonce)`,
//! and the server answers one byte, 1 for accepted; on a wrong answer it
//! closes the connection. Then the client sends requests, each a control
//! frame (`u32` big-endian length + JSON [`Request`]); `PutChunk` is
//! followed by a data frame (`u32` length + bytes). The server answers with
//! control frames ([`Reply`]); a `Get` answer is followed by one
//! [`Reply::Chunk`] control frame per chunk, each followed by its bytes when
//! the chunk is good.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::{ShardHeader, ShardId};

/// Largest control frame accepted.
pub const MAX_CONTROL: u32 = 1 << 20;
/// Largest data frame accepted (one chunk).
pub const MAX_DATA: u32 = 64 << 20;

const AUTH_CONTEXT: &[u8] = b"objectio-shard-v1";

/// A request from a gateway or controller to an OSD.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Starts a streaming shard write on `disk`, answered at once (`Ok`,
    /// or the error that refuses it).
    PutBegin { disk: Uuid, header: ShardHeader },
    /// Starts a streaming shard write on `disk` answered only at `PutEnd`:
    /// the chunks follow without waiting a round trip, and a refusal (disk
    /// unknown or full, shard exists) is the `PutEnd` answer, the chunks
    /// sent meanwhile read and dropped.
    PutOpen { disk: Uuid, header: ShardHeader },
    /// The next chunk of the open put; a data frame of `len` bytes follows.
    PutChunk { len: u32 },
    /// Seals the open put (trailer, fsync) and asks for the acknowledgement.
    PutEnd { etag: String },
    /// Abandons the open put.
    PutAbort,
    /// Reads `count` chunks starting at chunk `first` (chunk `j` is stripe `j`).
    Get {
        disk: Uuid,
        shard: ShardId,
        first: u32,
        count: u32,
    },
    /// Deletes a shard.
    Delete { disk: Uuid, shard: ShardId },
    /// Describes a shard.
    Stat { disk: Uuid, shard: ShardId },
    /// Every shard of these segments (data id, part) on any disk of the
    /// OSD, found by the disks' own indexes (not the object index): for a
    /// forced repair, and to tell live shards from deleted ones a raw scan
    /// still sees.
    Find { segments: Vec<(Uuid, u32)> },
}

/// Error codes an OSD answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    UnknownDisk,
    DiskFull,
    BadRequest,
    Io,
    /// A shard of that id is already on the disk.
    Exists,
}

/// Status of one chunk in a `Get` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkStatus {
    /// The chunk's bytes follow and matched their CRC32C.
    Ok,
    /// The bytes on disk failed their checksum; nothing follows.
    Corrupt,
    /// Reading failed; nothing follows.
    Error,
}

/// Description of a stored shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardStat {
    pub header: ShardHeader,
    pub etag: String,
    pub size: u64,
}

/// An OSD's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Ok,
    Err {
        code: ErrorCode,
        message: String,
    },
    /// Opens a `Get` answer: `count` chunk frames follow.
    Get {
        count: u32,
    },
    Chunk {
        status: ChunkStatus,
        len: u32,
    },
    Stat {
        stat: ShardStat,
    },
    Found {
        shards: Vec<FoundShard>,
    },
}

/// A shard a `Find` turned up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FoundShard {
    pub disk: Uuid,
    pub stat: ShardStat,
}

/// Writes a control frame.
pub async fn write_msg<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    w.write_u32(body.len() as u32).await?;
    w.write_all(&body).await
}

/// Reads a control frame; `Ok(None)` on a clean end of stream.
pub async fn read_msg<R: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(
    r: &mut R,
) -> std::io::Result<Option<T>> {
    let len = match r.read_u32().await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if len > MAX_CONTROL {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("control frame of {len} bytes"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf).await?;
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Writes a data frame.
pub async fn write_data<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    w.write_u32(data.len() as u32).await?;
    w.write_all(data).await
}

/// Reads a data frame of exactly `expect` bytes into `buf`.
pub async fn read_data<R: AsyncRead + Unpin>(
    r: &mut R,
    expect: u32,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    let len = r.read_u32().await?;
    if len != expect || len > MAX_DATA {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("data frame of {len} bytes, expected {expect}"),
        ));
    }
    buf.clear();
    buf.resize(len as usize, 0);
    r.read_exact(buf).await?;
    Ok(())
}

/// Reads a data frame of exactly `buf.len()` bytes into `buf`.
pub async fn read_data_exact<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut [u8],
) -> std::io::Result<()> {
    let len = r.read_u32().await?;
    if len as usize != buf.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("data frame of {len} bytes, expected {}", buf.len()),
        ));
    }
    r.read_exact(buf).await?;
    Ok(())
}

/// Reads a data frame of exactly `expect` bytes and drops it.
pub async fn skip_data<R: AsyncRead + Unpin>(r: &mut R, expect: u32) -> std::io::Result<()> {
    let len = r.read_u32().await?;
    if len != expect {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("data frame of {len} bytes, expected {expect}"),
        ));
    }
    let copied = tokio::io::copy(&mut r.take(len as u64), &mut tokio::io::sink()).await?;
    if copied != len as u64 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn mac(secret: &[u8], nonce: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length");
    m.update(AUTH_CONTEXT);
    m.update(nonce);
    m
}

/// Server side of the handshake: returns whether the peer proved it holds
/// the cluster secret. On `false` the caller must drop the connection.
pub async fn server_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    secret: &[u8],
) -> std::io::Result<bool> {
    let nonce: [u8; 32] = rand::random();
    s.write_all(&nonce).await?;
    s.flush().await?;
    let mut answer = [0u8; 32];
    s.read_exact(&mut answer).await?;
    let ok = mac(secret, &nonce).verify_slice(&answer).is_ok();
    s.write_u8(ok as u8).await?;
    s.flush().await?;
    Ok(ok)
}

/// Client side of the handshake.
pub async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    secret: &[u8],
) -> std::io::Result<bool> {
    let mut nonce = [0u8; 32];
    s.read_exact(&mut nonce).await?;
    let answer = mac(secret, &nonce).finalize().into_bytes();
    s.write_all(&answer).await?;
    s.flush().await?;
    Ok(s.read_u8().await? == 1)
}
