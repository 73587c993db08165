//! A sink on a second thread: [`drive_relayed`] reads and checks the file on the calling
//! thread and hands the events, in batches, to the sink on another, so that a sink with work of
//! its own (writing JSON, hashing, re-encoding) runs beside the parser instead of after it.
//!
//! The events are encoded into a batch buffer as they come (a tag byte, fixed-width numbers,
//! strings as a length and their bytes) and decoded on the other side into the same calls,
//! borrowing from the buffer. Batches of about [`BATCH`] bytes go through a channel of
//! [`IN_FLIGHT`] places and come back to be reused, so memory stays bounded: a few batches,
//! plus one large event (a batch that grew past four times its size is decoded before the
//! parser goes on).

use crate::event::{ArrayValue, KeyInfo, NodeInfo, StoredNodes, Str, StreamId, StreamMeta};
use crate::sink::{drive, KeyEnd, Sink, Stop};
use crate::types::{Encoding, Family, RdbType, ValueType};
use crate::Parser;
use std::io::Read;
use std::sync::mpsc;

/// Bytes of events gathered before a batch is handed over.
pub const BATCH: usize = 256 << 10;

/// Batches handed over and not yet taken.
pub const IN_FLIGHT: usize = 4;

/// A batch this many times [`BATCH`] is large: the parser waits until it was decoded.
const LARGE: usize = 4;

/// Feeds every event of `parser` to `sink` as [`drive`] does, with `sink` on a thread of its
/// own; only a streamed string's parts may come cut in smaller pieces (the same bytes, the
/// same `first` and `last` ends). The result is the one `drive` gives: the sink's first error
/// if it failed (it saw every event before the one it failed on, and no later one), else the
/// parser's fault. When no thread can be started, the sink runs on this one.
pub fn drive_relayed<R: Read, S: Sink + Send>(
    parser: &mut Parser<R>,
    sink: &mut S,
) -> Result<(), Stop<S::Error>>
where
    S::Error: Send,
{
    drive_relayed_batched(parser, sink, BATCH)
}

/// [`drive_relayed`] with batches of about `batch` bytes (small ones make the tests cross
/// batch boundaries everywhere).
pub fn drive_relayed_batched<R: Read, S: Sink + Send>(
    parser: &mut Parser<R>,
    sink: &mut S,
    batch: usize,
) -> Result<(), Stop<S::Error>>
where
    S::Error: Send,
{
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
    let relayed = std::thread::scope(|scope| {
        let sink = &mut *sink;
        let worker = std::thread::Builder::new()
            .name("sink".into())
            .spawn_scoped(scope, move || -> Result<(), S::Error> {
                for mut batch in rx {
                    decode(&batch, sink)?;
                    batch.clear();
                    let _ = back_tx.send(batch);
                }
                Ok(())
            });
        let Ok(worker) = worker else {
            return None;
        };
        let mut enc = Encoder {
            buf: Vec::with_capacity(batch + 4096),
            batch,
            out: 0,
            pool: Vec::new(),
            tx: Some(tx),
            back: back_rx,
        };
        let read = drive(parser, &mut enc);
        let sent = enc.send();
        drop(enc);
        let sunk = worker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        Some(match (sunk, read, sent) {
            (Err(e), _, _) => Err(Stop::Sink(e)),
            (Ok(()), Err(Stop::Parse(e)), _) => Err(Stop::Parse(e)),
            (Ok(()), Err(Stop::Sink(Stopped)), _) | (Ok(()), Ok(()), Err(Stopped)) => {
                unreachable!("the sink thread stops early only on an error")
            }
            (Ok(()), Ok(()), Ok(())) => Ok(()),
        })
    });
    // No second thread could be started: the sink on this one.
    relayed.unwrap_or_else(|| drive(parser, sink))
}

/// The sink thread is gone (it failed: its error says why).
#[derive(Debug, Clone, Copy)]
struct Stopped;

/// Encodes events into batches and hands them over.
struct Encoder {
    buf: Vec<u8>,
    /// Bytes gathered before a batch is handed over.
    batch: usize,
    /// Batches sent and not yet back.
    out: usize,
    /// Batches back, to reuse.
    pool: Vec<Vec<u8>>,
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    back: mpsc::Receiver<Vec<u8>>,
}

mod tag {
    pub const HEADER: u8 = 0;
    pub const AUX: u8 = 1;
    pub const SELECT_DB: u8 = 2;
    pub const RESIZE_DB: u8 = 3;
    pub const SLOT_INFO: u8 = 4;
    pub const FUNCTION: u8 = 5;
    pub const MODULE_AUX: u8 = 6;
    pub const SLOT_IMPORT: u8 = 7;
    pub const KEY_START: u8 = 8;
    pub const ELEMENT: u8 = 9;
    pub const STRING_PART: u8 = 10;
    pub const STRING_SKIPPED: u8 = 11;
    pub const ZMEMBER: u8 = 12;
    pub const HASH_FIELD: u8 = 13;
    pub const NODE: u8 = 14;
    pub const STREAM_ENTRY: u8 = 15;
    pub const STREAM_FIELD: u8 = 16;
    pub const STREAM_META: u8 = 17;
    pub const STREAM_GROUP: u8 = 18;
    pub const STREAM_PENDING: u8 = 19;
    pub const STREAM_CONSUMERS: u8 = 20;
    pub const STREAM_CONSUMER: u8 = 21;
    pub const STREAM_CONSUMER_PENDING: u8 = 22;
    pub const STREAM_NACKED: u8 = 23;
    pub const MODULE: u8 = 24;
    pub const ARRAY_ELEMENT: u8 = 25;
    pub const KEY_END: u8 = 26;
    pub const EOF: u8 = 27;
}

/// The value types by their code (see [`value_type_code`]).
const VALUE_TYPES: [ValueType; 8] = [
    ValueType::String,
    ValueType::List,
    ValueType::Set,
    ValueType::Zset,
    ValueType::Hash,
    ValueType::Stream,
    ValueType::Module,
    ValueType::Array,
];

/// The encodings by their code (see [`encoding_code`]).
const ENCODINGS: [Encoding; 20] = [
    Encoding::String,
    Encoding::LinkedList,
    Encoding::Ziplist,
    Encoding::Quicklist,
    Encoding::Quicklist2,
    Encoding::Hashtable,
    Encoding::Intset,
    Encoding::Listpack,
    Encoding::Skiplist1,
    Encoding::Skiplist,
    Encoding::Zipmap,
    Encoding::ListpackEx,
    Encoding::HashtableEx,
    Encoding::StreamV1,
    Encoding::StreamV2,
    Encoding::StreamV3,
    Encoding::StreamV4,
    Encoding::StreamV5,
    Encoding::Module,
    Encoding::Array,
];

/// A value type's place in [`VALUE_TYPES`] (a match, so that a new type does not compile
/// until it has one).
fn value_type_code(v: ValueType) -> u8 {
    match v {
        ValueType::String => 0,
        ValueType::List => 1,
        ValueType::Set => 2,
        ValueType::Zset => 3,
        ValueType::Hash => 4,
        ValueType::Stream => 5,
        ValueType::Module => 6,
        ValueType::Array => 7,
    }
}

/// An encoding's place in [`ENCODINGS`].
fn encoding_code(e: Encoding) -> u8 {
    match e {
        Encoding::String => 0,
        Encoding::LinkedList => 1,
        Encoding::Ziplist => 2,
        Encoding::Quicklist => 3,
        Encoding::Quicklist2 => 4,
        Encoding::Hashtable => 5,
        Encoding::Intset => 6,
        Encoding::Listpack => 7,
        Encoding::Skiplist1 => 8,
        Encoding::Skiplist => 9,
        Encoding::Zipmap => 10,
        Encoding::ListpackEx => 11,
        Encoding::HashtableEx => 12,
        Encoding::StreamV1 => 13,
        Encoding::StreamV2 => 14,
        Encoding::StreamV3 => 15,
        Encoding::StreamV4 => 16,
        Encoding::StreamV5 => 17,
        Encoding::Module => 18,
        Encoding::Array => 19,
    }
}

impl Encoder {
    /// Hands the batch over, taking back an empty one if the sink thread has one. A batch
    /// grown past [`LARGE`] times its size by a large event (a string part of megabytes) is
    /// waited for: it comes back before the parser goes on, so that no more than one such
    /// batch exists, and it is not kept.
    fn send(&mut self) -> Result<(), Stopped> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let large = self.buf.len() > LARGE * self.batch;
        while let Ok(b) = self.back.try_recv() {
            self.returned(b);
        }
        let next = self
            .pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.batch + 4096));
        let full = std::mem::replace(&mut self.buf, next);
        match &self.tx {
            Some(tx) if tx.send(full).is_ok() => self.out += 1,
            _ => return Err(Stopped),
        }
        if large {
            // Every batch sent comes back once decoded: all of them, the large one too.
            while self.out > 0 {
                match self.back.recv() {
                    Ok(b) => self.returned(b),
                    Err(_) => return Err(Stopped),
                }
            }
        }
        Ok(())
    }

    /// Takes back a decoded batch: kept for reuse unless a large event grew it.
    fn returned(&mut self, b: Vec<u8>) {
        self.out -= 1;
        if b.capacity() <= LARGE * self.batch {
            self.pool.push(b);
        }
    }

    #[inline]
    fn done(&mut self) -> Result<(), Stopped> {
        if self.buf.len() >= self.batch {
            self.send()
        } else {
            Ok(())
        }
    }

    #[inline]
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    #[inline]
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn i64(&mut self, v: i64) {
        self.u64(v as u64);
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
            None => self.u8(0),
        }
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        self.opt_u64(v.map(|v| v as u64));
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        if b.len() > self.batch {
            // A large string (a part of megabytes): the batch grows by its size exactly,
            // never to the double.
            self.buf.reserve_exact(b.len() + 64);
        }
        self.buf.extend_from_slice(b);
    }
    #[inline]
    fn str(&mut self, s: Str<'_>) {
        match s {
            Str::Bytes(b) => {
                self.u8(0);
                self.bytes(b);
            }
            Str::Int(v) => {
                self.u8(1);
                self.i64(v);
            }
        }
    }
    fn id(&mut self, id: StreamId) {
        self.u64(id.ms);
        self.u64(id.seq);
    }
    fn opt_id(&mut self, id: Option<StreamId>) {
        match id {
            Some(id) => {
                self.u8(1);
                self.id(id);
            }
            None => self.u8(0),
        }
    }
}

impl Sink for Encoder {
    type Error = Stopped;

    fn header(&mut self, family: Family, version: u32) -> Result<(), Stopped> {
        self.u8(tag::HEADER);
        self.u8(u8::from(family == Family::Valkey));
        self.u64(u64::from(version));
        self.done()
    }
    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), Stopped> {
        self.u8(tag::AUX);
        self.str(key);
        self.str(value);
        self.done()
    }
    fn select_db(&mut self, db: u64) -> Result<(), Stopped> {
        self.u8(tag::SELECT_DB);
        self.u64(db);
        self.done()
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<(), Stopped> {
        self.u8(tag::RESIZE_DB);
        self.u64(keys);
        self.u64(expires);
        self.done()
    }
    fn slot_info(&mut self, slot: u64, keys: u64, expires: u64) -> Result<(), Stopped> {
        self.u8(tag::SLOT_INFO);
        self.u64(slot);
        self.u64(keys);
        self.u64(expires);
        self.done()
    }
    fn function(&mut self, code: Str<'_>) -> Result<(), Stopped> {
        self.u8(tag::FUNCTION);
        self.str(code);
        self.done()
    }
    fn module_aux(&mut self, name: [u8; 9], version: u16, when: u64) -> Result<(), Stopped> {
        self.u8(tag::MODULE_AUX);
        self.buf.extend_from_slice(&name);
        self.u64(u64::from(version));
        self.u64(when);
        self.done()
    }
    fn slot_import(&mut self, job: Str<'_>, ranges: u64) -> Result<(), Stopped> {
        self.u8(tag::SLOT_IMPORT);
        self.str(job);
        self.u64(ranges);
        self.done()
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Stopped> {
        self.u8(tag::KEY_START);
        self.u64(info.db);
        self.str(info.key);
        self.u8(info.rdb_type.0);
        self.u8(value_type_code(info.value_type));
        self.u8(encoding_code(info.encoding));
        self.opt_i64(info.expire_ms);
        self.opt_u64(info.idle_s);
        self.opt_u64(info.freq.map(u64::from));
        self.opt_u64(info.len);
        self.opt_u64(info.blob_bytes);
        self.opt_u64(info.max_element);
        self.u64(info.offset);
        self.done()
    }
    #[inline]
    fn element(&mut self, value: Str<'_>) -> Result<(), Stopped> {
        self.u8(tag::ELEMENT);
        self.str(value);
        self.done()
    }
    fn string_part(
        &mut self,
        part: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> Result<(), Stopped> {
        // A large part (megabytes of a streamed string) goes in pieces of a batch at most:
        // the sink gets more, smaller parts of the same string, and the relay never holds a
        // second copy of it. An empty part is one piece.
        let size = self.batch.max(1);
        let pieces = part.len().div_ceil(size).max(1);
        for i in 0..pieces {
            let piece = &part[i * size..part.len().min((i + 1) * size)];
            self.u8(tag::STRING_PART);
            self.bytes(piece);
            self.u64(total);
            let (f, l) = (first && i == 0, last && i + 1 == pieces);
            self.u8(u8::from(f) | u8::from(l) << 1);
            self.done()?;
        }
        Ok(())
    }
    fn string_skipped(&mut self, len: u64) -> Result<(), Stopped> {
        self.u8(tag::STRING_SKIPPED);
        self.u64(len);
        self.done()
    }
    #[inline]
    fn zmember(&mut self, member: Str<'_>, score: f64) -> Result<(), Stopped> {
        self.u8(tag::ZMEMBER);
        self.str(member);
        self.u64(score.to_bits());
        self.done()
    }
    #[inline]
    fn hash_field(
        &mut self,
        field: Str<'_>,
        value: Str<'_>,
        expire_ms: Option<i64>,
    ) -> Result<(), Stopped> {
        self.u8(tag::HASH_FIELD);
        self.str(field);
        self.str(value);
        self.opt_i64(expire_ms);
        self.done()
    }
    fn node(&mut self, node: &NodeInfo) -> Result<(), Stopped> {
        self.u8(tag::NODE);
        self.u64(node.bytes);
        self.u64(node.entries);
        self.opt_id(node.master);
        self.opt_u64(node.max_element);
        self.u8(u8::from(node.plain));
        self.done()
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), Stopped> {
        self.u8(tag::STREAM_ENTRY);
        self.id(id);
        self.u64(fields);
        self.done()
    }
    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> Result<(), Stopped> {
        self.u8(tag::STREAM_FIELD);
        self.str(name);
        self.str(value);
        self.done()
    }
    fn stream_meta(&mut self, m: &StreamMeta) -> Result<(), Stopped> {
        self.u8(tag::STREAM_META);
        self.u64(m.length);
        self.u64(m.live_entries);
        self.id(m.last_id);
        self.opt_id(m.first_id);
        self.opt_id(m.max_deleted_id);
        self.opt_u64(m.entries_added);
        self.u64(m.groups);
        self.opt_u64(m.stored_nodes.map(|n| n.offset));
        if let Some(n) = m.stored_nodes {
            self.u64(n.len);
        }
        self.done()
    }
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> Result<(), Stopped> {
        self.u8(tag::STREAM_GROUP);
        self.str(name);
        self.id(last_id);
        self.opt_u64(entries_read);
        self.u64(pending);
        self.done()
    }
    fn stream_pending(&mut self, id: StreamId, time_ms: i64, count: u64) -> Result<(), Stopped> {
        self.u8(tag::STREAM_PENDING);
        self.id(id);
        self.i64(time_ms);
        self.u64(count);
        self.done()
    }
    fn stream_consumers(&mut self, count: u64) -> Result<(), Stopped> {
        self.u8(tag::STREAM_CONSUMERS);
        self.u64(count);
        self.done()
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) -> Result<(), Stopped> {
        self.u8(tag::STREAM_CONSUMER);
        self.str(name);
        self.i64(seen_time_ms);
        self.opt_i64(active_time_ms);
        self.u64(pending);
        self.done()
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), Stopped> {
        self.u8(tag::STREAM_CONSUMER_PENDING);
        self.id(id);
        self.done()
    }
    fn stream_nacked(&mut self, id: StreamId) -> Result<(), Stopped> {
        self.u8(tag::STREAM_NACKED);
        self.id(id);
        self.done()
    }
    fn module(&mut self, name: [u8; 9], version: u16, raw_len: u64) -> Result<(), Stopped> {
        self.u8(tag::MODULE);
        self.buf.extend_from_slice(&name);
        self.u64(u64::from(version));
        self.u64(raw_len);
        self.done()
    }
    fn array_element(&mut self, index: u64, value: ArrayValue<'_>) -> Result<(), Stopped> {
        self.u8(tag::ARRAY_ELEMENT);
        self.u64(index);
        match value {
            ArrayValue::Str(s) => {
                self.u8(0);
                self.str(s);
            }
            ArrayValue::Int(v) => {
                self.u8(1);
                self.i64(v);
            }
            ArrayValue::Float(f) => {
                self.u8(2);
                self.u64(f.to_bits());
            }
        }
        self.done()
    }
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Stopped> {
        self.u8(tag::KEY_END);
        self.u64(end.offset);
        self.u64(end.elements);
        self.u64(end.volatile_fields);
        self.done()
    }
    fn eof(&mut self, stored_crc: Option<u64>, computed_crc: u64) -> Result<(), Stopped> {
        self.u8(tag::EOF);
        self.opt_u64(stored_crc);
        self.u64(computed_crc);
        self.done()
    }
}

/// Reads back what [`Encoder`] wrote (the buffer is its own: a misread is a bug, and panics).
struct Decoder<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    #[inline]
    fn u8(&mut self) -> u8 {
        let v = self.b[self.at];
        self.at += 1;
        v
    }
    #[inline]
    fn u64(&mut self) -> u64 {
        let v = u64::from_le_bytes(self.b[self.at..self.at + 8].try_into().expect("8 bytes"));
        self.at += 8;
        v
    }
    #[inline]
    fn i64(&mut self) -> i64 {
        self.u64() as i64
    }
    fn opt_u64(&mut self) -> Option<u64> {
        (self.u8() == 1).then(|| self.u64())
    }
    fn opt_i64(&mut self) -> Option<i64> {
        self.opt_u64().map(|v| v as i64)
    }
    #[inline]
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.u64() as usize;
        let v = &self.b[self.at..self.at + n];
        self.at += n;
        v
    }
    #[inline]
    fn str(&mut self) -> Str<'a> {
        match self.u8() {
            0 => Str::Bytes(self.bytes()),
            _ => Str::Int(self.i64()),
        }
    }
    fn id(&mut self) -> StreamId {
        StreamId {
            ms: self.u64(),
            seq: self.u64(),
        }
    }
    fn opt_id(&mut self) -> Option<StreamId> {
        (self.u8() == 1).then(|| self.id())
    }
    fn name(&mut self) -> [u8; 9] {
        let v: [u8; 9] = self.b[self.at..self.at + 9].try_into().expect("9 bytes");
        self.at += 9;
        v
    }
}

/// Calls `sink` for every event of a batch, in order.
fn decode<S: Sink>(batch: &[u8], sink: &mut S) -> Result<(), S::Error> {
    let mut d = Decoder { b: batch, at: 0 };
    while d.at < batch.len() {
        match d.u8() {
            tag::ELEMENT => sink.element(d.str())?,
            tag::HASH_FIELD => {
                let (f, v) = (d.str(), d.str());
                sink.hash_field(f, v, d.opt_i64())?
            }
            tag::ZMEMBER => {
                let m = d.str();
                sink.zmember(m, f64::from_bits(d.u64()))?
            }
            tag::KEY_START => {
                let db = d.u64();
                let key = d.str();
                let rdb_type = RdbType(d.u8());
                let value_type = VALUE_TYPES[usize::from(d.u8())];
                let encoding = ENCODINGS[usize::from(d.u8())];
                let info = KeyInfo {
                    db,
                    key,
                    rdb_type,
                    value_type,
                    encoding,
                    expire_ms: d.opt_i64(),
                    idle_s: d.opt_u64(),
                    freq: d.opt_u64().map(|v| v as u8),
                    len: d.opt_u64(),
                    blob_bytes: d.opt_u64(),
                    max_element: d.opt_u64(),
                    offset: d.u64(),
                };
                sink.key_start(&info)?
            }
            tag::KEY_END => {
                let end = KeyEnd {
                    offset: d.u64(),
                    elements: d.u64(),
                    volatile_fields: d.u64(),
                };
                sink.key_end(&end)?
            }
            tag::STRING_PART => {
                let part = d.bytes();
                let total = d.u64();
                let flags = d.u8();
                sink.string_part(part, total, flags & 1 != 0, flags & 2 != 0)?
            }
            tag::STRING_SKIPPED => sink.string_skipped(d.u64())?,
            tag::NODE => {
                let node = NodeInfo {
                    bytes: d.u64(),
                    entries: d.u64(),
                    master: d.opt_id(),
                    max_element: d.opt_u64(),
                    plain: d.u8() == 1,
                };
                sink.node(&node)?
            }
            tag::STREAM_ENTRY => {
                let id = d.id();
                sink.stream_entry(id, d.u64())?
            }
            tag::STREAM_FIELD => {
                let (n, v) = (d.str(), d.str());
                sink.stream_field(n, v)?
            }
            tag::STREAM_META => {
                let m = StreamMeta {
                    length: d.u64(),
                    live_entries: d.u64(),
                    last_id: d.id(),
                    first_id: d.opt_id(),
                    max_deleted_id: d.opt_id(),
                    entries_added: d.opt_u64(),
                    groups: d.u64(),
                    stored_nodes: d.opt_u64().map(|offset| StoredNodes {
                        offset,
                        len: d.u64(),
                    }),
                };
                sink.stream_meta(&m)?
            }
            tag::STREAM_GROUP => {
                let name = d.str();
                let last = d.id();
                let read = d.opt_u64();
                sink.stream_group(name, last, read, d.u64())?
            }
            tag::STREAM_PENDING => {
                let id = d.id();
                let t = d.i64();
                sink.stream_pending(id, t, d.u64())?
            }
            tag::STREAM_CONSUMERS => sink.stream_consumers(d.u64())?,
            tag::STREAM_CONSUMER => {
                let name = d.str();
                let seen = d.i64();
                let active = d.opt_i64();
                sink.stream_consumer(name, seen, active, d.u64())?
            }
            tag::STREAM_CONSUMER_PENDING => sink.stream_consumer_pending(d.id())?,
            tag::STREAM_NACKED => sink.stream_nacked(d.id())?,
            tag::HEADER => {
                let family = if d.u8() == 1 {
                    Family::Valkey
                } else {
                    Family::Redis
                };
                sink.header(family, d.u64() as u32)?
            }
            tag::AUX => {
                let (k, v) = (d.str(), d.str());
                sink.aux(k, v)?
            }
            tag::SELECT_DB => sink.select_db(d.u64())?,
            tag::RESIZE_DB => {
                let keys = d.u64();
                sink.resize_db(keys, d.u64())?
            }
            tag::SLOT_INFO => {
                let (slot, keys) = (d.u64(), d.u64());
                sink.slot_info(slot, keys, d.u64())?
            }
            tag::FUNCTION => sink.function(d.str())?,
            tag::MODULE_AUX => {
                let name = d.name();
                let version = d.u64() as u16;
                sink.module_aux(name, version, d.u64())?
            }
            tag::SLOT_IMPORT => {
                let job = d.str();
                sink.slot_import(job, d.u64())?
            }
            tag::MODULE => {
                let name = d.name();
                let version = d.u64() as u16;
                sink.module(name, version, d.u64())?
            }
            tag::ARRAY_ELEMENT => {
                let index = d.u64();
                let value = match d.u8() {
                    0 => ArrayValue::Str(d.str()),
                    1 => ArrayValue::Int(d.i64()),
                    _ => ArrayValue::Float(f64::from_bits(d.u64())),
                };
                sink.array_element(index, value)?
            }
            tag::EOF => {
                let stored = d.opt_u64();
                sink.eof(stored, d.u64())?
            }
            t => unreachable!("event tag {t} is not one the encoder writes"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_tables_agree() {
        for (i, &v) in VALUE_TYPES.iter().enumerate() {
            assert_eq!(usize::from(value_type_code(v)), i);
        }
        for (i, &e) in ENCODINGS.iter().enumerate() {
            assert_eq!(usize::from(encoding_code(e)), i);
        }
    }
}
