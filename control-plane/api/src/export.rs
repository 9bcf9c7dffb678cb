//! The metadata export format (`meta export`, `meta import`): one JSON
//! document, written and read a line at a time so neither side holds the
//! cluster in memory.
//!
//! ```text
//! {"format":"objectio-meta-export","version":1,"cluster":"prod",...,"records":[
//! {"k":"config","v":{...}}
//! ,{"k":"buckets/photos","v":{...}}
//! ],"count":2,
//! "sha256":"<hex of every byte before this line>"}
//! ```
//!
//! Each record is an etcd key below the cluster's root and its value:
//! `v` holds a JSON value as it was stored (byte for byte), `vb64` any
//! other value, `kb64` a key that is not UTF-8. The last line's SHA-256
//! covers every line before it, so a truncated or edited file is refused
//! before anything is written.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The `format` field of every export.
pub const FORMAT: &str = "objectio-meta-export";
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const RECORDS_OPEN: &[u8] = b",\"records\":[\n";
const SHA_OPEN: &[u8] = b"\"sha256\":\"";

/// What an export says of itself (its first line).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportHeader {
    pub format: String,
    pub version: u32,
    /// The cluster name (etcd keys live under `/objectio/<cluster>/v1/`).
    pub cluster: String,
    pub cluster_id: String,
    /// The etcd revision every record was read at.
    pub revision: i64,
    /// RFC 3339.
    pub exported_at: String,
    /// The `objectio-meta` version that wrote it.
    pub software: String,
}

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kb64: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    v: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vb64: Option<String>,
}

/// Why an export was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportError(pub String);

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExportError {}

fn err<T>(line: u64, what: impl std::fmt::Display) -> Result<T, ExportError> {
    Err(ExportError(format!("line {line}: {what}")))
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Writes an export: the header, then each record, then the end.
pub struct ExportWriter {
    hash: Sha256,
    count: u64,
}

impl ExportWriter {
    /// The writer and the first line.
    pub fn start(header: &ExportHeader) -> (Self, Vec<u8>) {
        let mut line = serde_json::to_vec(header).expect("headers serialise");
        line.pop(); // the closing brace
        line.extend_from_slice(RECORDS_OPEN);
        let mut w = Self {
            hash: Sha256::new(),
            count: 0,
        };
        w.hash.update(&line);
        (w, line)
    }

    /// The line of one record: `key` relative to the cluster's root.
    pub fn record(&mut self, key: &[u8], value: &[u8]) -> Vec<u8> {
        let (k, kb64) = match std::str::from_utf8(key) {
            Ok(k) => (Some(k.into()), None),
            Err(_) => (None, Some(b64().encode(key))),
        };
        // A stored JSON value goes in as it is, unless it spans lines.
        let raw = (!value.contains(&b'\n'))
            .then(|| serde_json::from_slice::<&RawValue>(value).ok())
            .flatten();
        let line = Line {
            k,
            kb64,
            v: raw,
            vb64: raw.is_none().then(|| b64().encode(value)),
        };
        let mut out = Vec::with_capacity(key.len() + value.len() + 16);
        if self.count > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &line).expect("records serialise");
        out.push(b'\n');
        self.count += 1;
        self.hash.update(&out);
        out
    }

    /// Records written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last two lines: the count, then the checksum of everything
    /// before it.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = format!("],\"count\":{},\n", self.count).into_bytes();
        self.hash.update(&out);
        out.extend_from_slice(SHA_OPEN);
        out.extend_from_slice(hex::encode(self.hash.finalize()).as_bytes());
        out.extend_from_slice(b"\"}\n");
        out
    }
}

/// One record read back: its key below the cluster's root and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

enum State {
    Header,
    Records,
    Checksum,
    Done,
}

/// Reads an export a line at a time, checking its shape, its count and
/// its checksum: feed it every line (with its newline), then `finish`.
pub struct ExportReader {
    state: State,
    hash: Sha256,
    count: u64,
    line: u64,
    header: Option<ExportHeader>,
}

impl Default for ExportReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ExportReader {
    pub fn new() -> Self {
        Self {
            state: State::Header,
            hash: Sha256::new(),
            count: 0,
            line: 0,
            header: None,
        }
    }

    /// The header, once the first line is read.
    pub fn header(&self) -> Option<&ExportHeader> {
        self.header.as_ref()
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Takes the next line; the record it holds, if it is one.
    pub fn line(&mut self, line: &[u8]) -> Result<Option<ExportRecord>, ExportError> {
        self.line += 1;
        let n = self.line;
        // Only the checksum line may end without a newline.
        if !line.ends_with(b"\n") && !matches!(self.state, State::Checksum | State::Done) {
            return err(
                n,
                format!(
                    "truncated after {} records (the line has no end)",
                    self.count
                ),
            );
        }
        match self.state {
            State::Header => {
                let Some(head) = line.strip_suffix(RECORDS_OPEN) else {
                    return err(n, "not an ObjectIO metadata export (no header line)");
                };
                let mut obj = head.to_vec();
                obj.push(b'}');
                let h: ExportHeader = match serde_json::from_slice(&obj) {
                    Ok(h) => h,
                    Err(e) => return err(n, format!("the header is not valid: {e}")),
                };
                if h.format != FORMAT {
                    return err(n, format!("format is {:?}, not {FORMAT:?}", h.format));
                }
                if h.version > FORMAT_VERSION {
                    return err(
                        n,
                        format!(
                            "format version {} is newer than this build reads ({FORMAT_VERSION})",
                            h.version
                        ),
                    );
                }
                self.hash.update(line);
                self.header = Some(h);
                self.state = State::Records;
                Ok(None)
            }
            State::Records => {
                if let Some(rest) = line.strip_prefix(b"],\"count\":") {
                    let Some(num) = rest.strip_suffix(b",\n") else {
                        return err(n, "the count line is malformed");
                    };
                    let said: u64 = match std::str::from_utf8(num).ok().and_then(|s| s.parse().ok())
                    {
                        Some(c) => c,
                        None => return err(n, "the count is not a number"),
                    };
                    if said != self.count {
                        return err(
                            n,
                            format!("the export says {said} records but holds {}", self.count),
                        );
                    }
                    self.hash.update(line);
                    self.state = State::Checksum;
                    return Ok(None);
                }
                let body = match (self.count, line.strip_prefix(b",")) {
                    (0, None) => line,
                    (0, Some(_)) => return err(n, "the first record starts with a comma"),
                    (_, Some(b)) => b,
                    (_, None) => return err(n, "a record after the first lacks its comma"),
                };
                let body = body.strip_suffix(b"\n").unwrap_or(body);
                let rec: Line = match serde_json::from_slice(body) {
                    Ok(r) => r,
                    Err(e) => return err(n, format!("not a record: {e}")),
                };
                let key = match (rec.k, rec.kb64) {
                    (Some(k), None) => k.as_bytes().to_vec(),
                    (None, Some(k)) => match b64().decode(k) {
                        Ok(k) => k,
                        Err(e) => return err(n, format!("kb64: {e}")),
                    },
                    _ => return err(n, "a record needs exactly one of k and kb64"),
                };
                let value = match (rec.v, rec.vb64) {
                    (Some(v), None) => v.get().as_bytes().to_vec(),
                    (None, Some(v)) => match b64().decode(v) {
                        Ok(v) => v,
                        Err(e) => return err(n, format!("vb64: {e}")),
                    },
                    _ => return err(n, "a record needs exactly one of v and vb64"),
                };
                if key.is_empty() {
                    return err(n, "a record has an empty key");
                }
                self.hash.update(line);
                self.count += 1;
                Ok(Some(ExportRecord { key, value }))
            }
            State::Checksum => {
                let want = hex::encode(self.hash.clone().finalize());
                let got = line
                    .strip_prefix(SHA_OPEN)
                    .and_then(|l| l.strip_suffix(b"\n").or(Some(l)))
                    .and_then(|l| l.strip_suffix(b"\"}"));
                match got {
                    Some(g) if g == want.as_bytes() => {
                        self.state = State::Done;
                        Ok(None)
                    }
                    Some(g) => err(
                        n,
                        format!(
                            "checksum mismatch: the file says {}, its contents hash to {want} (damaged or edited)",
                            String::from_utf8_lossy(g)
                        ),
                    ),
                    None => err(n, "the checksum line is malformed"),
                }
            }
            State::Done => match line.iter().all(u8::is_ascii_whitespace) {
                true => Ok(None),
                false => err(n, "data after the checksum"),
            },
        }
    }

    /// Ends the reading: an error unless the checksum line was read and
    /// matched.
    pub fn finish(&self) -> Result<(), ExportError> {
        match self.state {
            State::Done => Ok(()),
            State::Header => Err(ExportError("the export is empty".into())),
            _ => Err(ExportError(format!(
                "truncated after {} records: the export ends before its checksum",
                self.count
            ))),
        }
    }
}

/// Splits a byte stream into lines (each with its newline) without
/// holding more than one line and one chunk.
#[derive(Default)]
pub struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// Calls `each` for every whole line `chunk` completes.
    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            if self.buf.is_empty() {
                each(&rest[..=i])?;
            } else {
                self.buf.extend_from_slice(&rest[..=i]);
                let line = std::mem::take(&mut self.buf);
                each(&line)?;
            }
            rest = &rest[i + 1..];
        }
        self.buf.extend_from_slice(rest);
        Ok(())
    }

    /// The last line, if it had no newline.
    pub fn rest(&mut self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf))
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ExportHeader {
        ExportHeader {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            cluster: "c".into(),
            cluster_id: "id".into(),
            revision: 7,
            exported_at: "2026-12-03T00:00:00Z".into(),
            software: "0.1.0".into(),
        }
    }

    fn write(records: &[(&[u8], &[u8])]) -> Vec<u8> {
        let (mut w, mut out) = ExportWriter::start(&header());
        for (k, v) in records {
            out.extend(w.record(k, v));
        }
        out.extend(w.finish());
        out
    }

    fn read(doc: &[u8], chunk: usize) -> Result<(ExportHeader, Vec<ExportRecord>), ExportError> {
        let mut r = ExportReader::new();
        let mut lines = Lines::default();
        let mut out = Vec::new();
        for c in doc.chunks(chunk) {
            lines.feed(c, |l| {
                out.extend(r.line(l)?);
                Ok::<_, ExportError>(())
            })?;
        }
        if let Some(l) = lines.rest() {
            out.extend(r.line(&l)?);
        }
        r.finish()?;
        Ok((r.header().unwrap().clone(), out))
    }

    const RECORDS: &[(&[u8], &[u8])] = &[
        (b"config", br#"{"name":"c","ec":{"k":4,"m":2}}"#),
        (b"objects/b/a\0ffff", br#"{"key":"a\nb"}"#),
        (b"map-epoch", b""),
        (b"weird", b"not json \xff"),
        (b"\xffkey", b"1"),
        (b"multi", b"{\n}"),
    ];

    #[test]
    fn a_written_export_is_valid_json_and_reads_back_byte_for_byte_in_any_chunking() {
        let doc = write(RECORDS);
        let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(v["count"], 6);
        assert_eq!(v["records"][0]["v"]["ec"]["k"], 4);
        for chunk in [1, 7, 64, 1 << 20] {
            let (h, recs) = read(&doc, chunk).unwrap();
            assert_eq!(h, header());
            let got: Vec<(Vec<u8>, Vec<u8>)> = recs.into_iter().map(|r| (r.key, r.value)).collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> = RECORDS
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn an_empty_export_reads_back_with_no_records() {
        let (_, recs) = read(&write(&[]), 3).unwrap();
        assert!(recs.is_empty());
    }

    #[test]
    fn truncation_edits_and_other_files_are_refused_saying_why() {
        let doc = write(RECORDS);
        let cut = &doc[..doc.len() - 80];
        assert!(read(cut, 16).unwrap_err().0.contains("truncated"));

        let edited = String::from_utf8_lossy(&doc).replace("\"k\":4", "\"k\":5");
        let e = read(edited.as_bytes(), 16).unwrap_err().0;
        assert!(e.contains("checksum mismatch"), "{e}");

        let text = String::from_utf8_lossy(&doc).into_owned();
        let miscounted = text.replace("],\"count\":6,", "],\"count\":5,");
        assert!(
            read(miscounted.as_bytes(), 16)
                .unwrap_err()
                .0
                .contains("says 5 records but holds 6")
        );

        let dropped: String = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert!(read(dropped.as_bytes(), 16).is_err());

        assert!(
            read(b"{\"hello\":1}\n", 16)
                .unwrap_err()
                .0
                .contains("not an ObjectIO")
        );
        assert!(read(b"", 16).unwrap_err().0.contains("empty"));
        let newer = text.replacen("\"version\":1", "\"version\":9", 1);
        assert!(read(newer.as_bytes(), 16).unwrap_err().0.contains("newer"));
        let trailing = format!("{text}{{}}\n");
        assert!(
            read(trailing.as_bytes(), 16)
                .unwrap_err()
                .0
                .contains("after the checksum")
        );
    }
}
