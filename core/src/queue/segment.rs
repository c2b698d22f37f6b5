//! The on-disk format of the queue: segment files of checksummed records.
//!
//! ```text
//! segment  = header record*
//! header   = "OGQSEG" 0x00 VERSION                       (8 bytes)
//! record   = MAGIC:u32le LEN:u32le CRC32(payload):u32le payload[LEN]
//! payload  = 2:u8 signal:u8 records:u32le received_ms:u64le request_id:u128le
//!            key_len:u16le key pipeline_len:u16le pipeline body
//! ```
//! Version 1 payloads (written before request ids) have no `request_id` and are still read;
//! their batches get a fresh id.
//! Each record starts with a magic word, so after a damaged record the reader finds the next
//! intact one instead of giving up on the rest of the file. Acknowledged records are listed
//! (as u64le offsets) in a sibling `.ack` file. Architecture Invariant: a record with a bad
//! checksum is skipped with an ERROR; every intact record is still read.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::keys::Secret;
use crate::otlp::Signal;
use crate::pipeline::batch::{Batch, Context};
use crate::settings::PipelineId;

/// File header: magic and format version.
pub const HEADER: &[u8; 8] = b"OGQSEG\x00\x01";
/// Start of every record.
pub const RECORD_MAGIC: u32 = 0x4F47_5231; // "OGR1"
/// Bytes before a record's payload.
pub const RECORD_OVERHEAD: usize = 12;
/// Largest payload accepted when reading (a corrupt length beyond it is not trusted).
pub const MAX_PAYLOAD: usize = 1 << 30;

fn signal_code(s: Signal) -> u8 {
    match s {
        Signal::Logs => 0,
        Signal::Metrics => 1,
        Signal::Traces => 2,
    }
}

/// A record's framing and metadata: the record is this followed by the batch's body, so the
/// writer can hand both to one vectored write without copying the body (the CRC covers both).
pub fn encode_head(batch: &Batch) -> Vec<u8> {
    let key = batch.context.client_key.as_ref().map(|k| k.expose().as_bytes()).unwrap_or(&[]);
    let pipeline = batch.pipeline.to_string();
    let received_ms = batch.context.received_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let meta_len = 1 + 1 + 4 + 8 + 16 + 2 + key.len() + 2 + pipeline.len();
    let payload_len = meta_len + batch.body.len();
    let mut out = Vec::with_capacity(RECORD_OVERHEAD + meta_len);
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]); // CRC, filled in below
    out.push(2);
    out.push(signal_code(batch.signal));
    out.extend_from_slice(&(batch.records as u32).to_le_bytes());
    out.extend_from_slice(&received_ms.to_le_bytes());
    out.extend_from_slice(&batch.context.request_id.to_le_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(pipeline.len() as u16).to_le_bytes());
    out.extend_from_slice(pipeline.as_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[RECORD_OVERHEAD..]);
    crc.update(&batch.body);
    out[8..12].copy_from_slice(&crc.finalize().to_le_bytes());
    out
}

fn parse_pipeline(s: &str) -> Option<PipelineId> {
    let (sig, name) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.to_string())),
        None => (s, None),
    };
    Some(PipelineId { signal: Signal::parse(sig)?, name })
}

/// Decodes a record's payload back into a batch (with the context the queue keeps).
pub fn decode(payload: Bytes) -> Option<Batch> {
    let p = &payload[..];
    let version = *p.first()?;
    if p.len() < 18 || !(1..=2).contains(&version) {
        return None;
    }
    let signal = [Signal::Logs, Signal::Metrics, Signal::Traces].get(p[1] as usize).copied()?;
    let records = u32::from_le_bytes(p[2..6].try_into().ok()?) as usize;
    let received_ms = u64::from_le_bytes(p[6..14].try_into().ok()?);
    let mut at = 14;
    let request_id = match version {
        2 => {
            let id = u128::from_le_bytes(p.get(at..at + 16)?.try_into().ok()?);
            at += 16;
            Some(id)
        }
        _ => None,
    };
    let key_len = u16::from_le_bytes(p.get(at..at + 2)?.try_into().ok()?) as usize;
    at += 2;
    let key = p.get(at..at + key_len)?;
    at += key_len;
    let pl_len = u16::from_le_bytes(p.get(at..at + 2)?.try_into().ok()?) as usize;
    at += 2;
    let pipeline = parse_pipeline(std::str::from_utf8(p.get(at..at + pl_len)?).ok()?)?;
    at += pl_len;
    let mut context = Context::new(None);
    context.received_at = UNIX_EPOCH + Duration::from_millis(received_ms);
    if let Some(id) = request_id {
        context.request_id = id;
    }
    if !key.is_empty() {
        context.client_key = Some(Secret::new(std::str::from_utf8(key).ok()?));
    }
    Some(Batch::new(signal, Arc::new(pipeline), payload.slice(at..), records, Arc::new(context)))
}

/// One intact record found in a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Offset of the record's magic in the file.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
}

/// What scanning a segment found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Intact records, in file order.
    pub records: Vec<Found>,
    /// Damaged stretches skipped (offset, bytes).
    pub damaged: Vec<(u64, u64)>,
    /// Where an incomplete last record starts, if the file ends mid-record.
    pub torn_tail: Option<u64>,
    /// The header was wrong: nothing in the file can be trusted.
    pub bad_header: bool,
}

fn record_at(data: &[u8], at: usize) -> Result<u32, bool> {
    // Err(true): incomplete (could be a torn tail); Err(false): not a valid record here.
    let Some(head) = data.get(at..at + RECORD_OVERHEAD) else {
        return Err(true);
    };
    if u32::from_le_bytes(head[0..4].try_into().unwrap_or_default()) != RECORD_MAGIC {
        return Err(false);
    }
    let len = u32::from_le_bytes(head[4..8].try_into().unwrap_or_default());
    if len as usize > MAX_PAYLOAD {
        return Err(false);
    }
    let Some(payload) = data.get(at + RECORD_OVERHEAD..at + RECORD_OVERHEAD + len as usize) else {
        return Err(true);
    };
    let crc = u32::from_le_bytes(head[8..12].try_into().unwrap_or_default());
    if crc32fast::hash(payload) == crc {
        Ok(len)
    } else {
        Err(false)
    }
}

/// Finds every intact record in a segment's bytes, resynchronising after damage.
pub fn scan(data: &[u8]) -> Scan {
    let mut s = Scan::default();
    if data.len() < HEADER.len() || &data[..HEADER.len()] != HEADER {
        s.bad_header = true;
        return s;
    }
    let mut at = HEADER.len();
    while at < data.len() {
        match record_at(data, at) {
            Ok(len) => {
                s.records.push(Found { offset: at as u64, len });
                at += RECORD_OVERHEAD + len as usize;
            }
            Err(incomplete) => {
                // Look for the next record that checks out; what lies between is damaged.
                let magic = RECORD_MAGIC.to_le_bytes();
                let next = (at + 1..data.len().saturating_sub(3))
                    .find(|&i| data[i..i + 4] == magic && record_at(data, i).is_ok());
                match next {
                    Some(n) => {
                        s.damaged.push((at as u64, (n - at) as u64));
                        at = n;
                    }
                    None => {
                        if incomplete {
                            s.torn_tail = Some(at as u64);
                        } else {
                            s.damaged.push((at as u64, (data.len() - at) as u64));
                        }
                        break;
                    }
                }
            }
        }
    }
    s
}

/// When a record was received, from its payload (for `queue stats`).
pub fn received_at(payload: &[u8]) -> Option<SystemTime> {
    let ms = u64::from_le_bytes(payload.get(6..14)?.try_into().ok()?);
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole record (framing included), as the disk queue writes it.
    fn encode(batch: &Batch) -> Vec<u8> {
        let mut out = encode_head(batch);
        out.extend_from_slice(&batch.body);
        out
    }

    fn batch(body: &str, key: Option<&str>) -> Batch {
        let mut c = Context::new(None);
        c.client_key = key.map(Secret::new);
        Batch::new(
            Signal::Traces,
            Arc::new(PipelineId { signal: Signal::Traces, name: Some("x".into()) }),
            Bytes::from(body.to_string()),
            7,
            Arc::new(c),
        )
    }

    #[test]
    fn records_round_trip_and_damage_is_skipped() {
        let mut file = HEADER.to_vec();
        let bodies = ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"];
        for (i, b) in bodies.iter().enumerate() {
            file.extend(encode(&batch(b, (i == 1).then_some("og_k_s"))));
        }
        let s = scan(&file);
        assert_eq!(s.records.len(), 3);
        let r = &s.records[1];
        let payload = Bytes::copy_from_slice(&file[r.offset as usize + RECORD_OVERHEAD..][..r.len as usize]);
        let b = decode(payload).unwrap();
        assert_eq!(&b.body[..], b"{\"b\":2}");
        assert_eq!(b.records, 7);
        assert_eq!(b.pipeline.to_string(), "traces/x");
        assert_eq!(b.context.client_key.as_ref().unwrap().expose(), "og_k_s");

        // Flip a byte inside the second record's payload: it is skipped, the others remain.
        let mut bad = file.clone();
        bad[s.records[1].offset as usize + RECORD_OVERHEAD + 3] ^= 0xff;
        let s2 = scan(&bad);
        assert_eq!(s2.records.len(), 2);
        assert_eq!(s2.damaged.len(), 1);
        // Truncate mid-record: a torn tail.
        let torn = &file[..file.len() - 3];
        let s3 = scan(torn);
        assert_eq!(s3.records.len(), 2);
        assert_eq!(s3.torn_tail, Some(s.records[2].offset));
        assert!(scan(b"garbage").bad_header);
    }

    /// The request id travels with the batch; a version-1 payload (no id) still reads.
    #[test]
    fn request_ids_round_trip_and_version_1_records_still_read() {
        let original = batch("{\"a\":1}", Some("og_k_s"));
        let whole = encode(&original);
        let payload = Bytes::copy_from_slice(&whole[RECORD_OVERHEAD..]);
        let b = decode(payload.clone()).unwrap();
        assert_eq!(b.context.request_id, original.context.request_id);
        // The same record as version 1 wrote it: without the 16 id bytes after received_ms.
        let mut v1 = payload.to_vec();
        v1.drain(14..30);
        v1[0] = 1;
        let old = decode(Bytes::from(v1)).unwrap();
        assert_eq!((&old.body[..], old.records), (&b"{\"a\":1}"[..], 7));
        assert_eq!(old.context.client_key.as_ref().unwrap().expose(), "og_k_s");
        assert_ne!(old.context.request_id, original.context.request_id, "a fresh id");
    }
}
