//! Writing a keyspace as an RDB file, in the encodings the target server writes: a sink of
//! [`Keyspace::emit`] that hands each key to `rdb-write`.

use crate::Keyspace;
use rdb_parse::{KeyEnd, KeyInfo, Sink, Str, StreamId, StreamMeta, ValueType};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::io::{self, Write};

/// The events of a keyspace, written through an [`RdbWriter`] (which wrote the header and
/// writes the end itself).
struct Writing<'a, W: Write> {
    w: &'a mut RdbWriter<W>,
    kw: KeyWriter,
    target: Target,
    scratch: [u8; 20],
}

impl<W: Write> Sink for Writing<'_, W> {
    type Error = io::Error;

    fn function(&mut self, code: Str<'_>) -> io::Result<()> {
        // A target before functions leaves them out, as the server of that version would.
        if self.target.functions() {
            self.w.function(code.as_bytes(&mut self.scratch))?;
        }
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.w.select_db(db)
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.w.resize_db(keys, expires)
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> io::Result<()> {
        let kind = match info.value_type {
            ValueType::String => Kind::String,
            ValueType::List => Kind::List,
            ValueType::Set => Kind::Set,
            ValueType::Zset => Kind::ZSet,
            ValueType::Hash if info.encoding == rdb_parse::Encoding::HashtableEx => Kind::HashTtl,
            ValueType::Hash => Kind::Hash,
            _ => Kind::Stream,
        };
        let meta = KeyMeta {
            expire_ms: info.expire_ms,
            ..KeyMeta::default()
        };
        // Strings announce no length: the writer takes the one value that follows.
        let len = if kind == Kind::String { None } else { info.len };
        self.kw
            .begin(kind, info.key.as_bytes(&mut self.scratch), meta, len);
        Ok(())
    }
    fn element(&mut self, v: Str<'_>) -> io::Result<()> {
        self.kw.element(self.w, v.as_bytes(&mut self.scratch))
    }
    fn zmember(&mut self, m: Str<'_>, score: f64) -> io::Result<()> {
        self.kw
            .zmember(self.w, m.as_bytes(&mut self.scratch), score)
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, expire_ms: Option<i64>) -> io::Result<()> {
        let mut vs = [0u8; 20];
        self.kw.hash_field(
            self.w,
            f.as_bytes(&mut self.scratch),
            v.as_bytes(&mut vs),
            expire_ms,
        )
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        self.kw.stream_entry(id, fields)
    }
    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> io::Result<()> {
        let mut vs = [0u8; 20];
        self.kw
            .stream_field(name.as_bytes(&mut self.scratch), value.as_bytes(&mut vs))
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()> {
        self.kw.stream_meta(self.w, meta)
    }
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        self.kw.stream_group(
            self.w,
            name.as_bytes(&mut self.scratch),
            last_id,
            entries_read,
            pending,
        )
    }
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()> {
        self.kw.stream_pending(self.w, id, delivery_ms, count)
    }
    fn stream_consumers(&mut self, count: u64) -> io::Result<()> {
        self.kw.stream_consumers(self.w, count)
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        self.kw.stream_consumer(
            self.w,
            name.as_bytes(&mut self.scratch),
            seen_ms,
            active_ms,
            pending,
        )
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        self.kw.stream_consumer_pending(self.w, id)
    }
    fn key_end(&mut self, _: &KeyEnd) -> io::Result<()> {
        self.kw.end(self.w)
    }
}

impl Keyspace {
    /// Writes every function library and key (databases in order) to `w`, for `target`. Keys
    /// with hash field TTLs need a target that stores them (RDB 12, 80).
    pub fn write_rdb<W: Write>(&self, w: &mut RdbWriter<W>, target: Target) -> io::Result<()> {
        let mut sink = Writing {
            w,
            kw: KeyWriter::new(target),
            target,
            scratch: [0; 20],
        };
        self.emit(target.version, &mut sink)
    }
}
