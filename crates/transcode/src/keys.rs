//! The interface between the engine and what writes keys.

use rdb_parse::{StreamId, StreamMeta};
use rdb_write::{KeyMeta, Kind, Target};
use std::fs::File;
use std::io;

/// Where keys go: an RDB writer ([`crate::RdbSink`]) or a command writer
/// ([`crate::RespSink`]). The engine calls it with keys already filtered, mapped and checked
/// against the target.
pub trait KeySink {
    /// Called once, after the source header: the target to write for.
    fn start(&mut self, target: Target) -> io::Result<()>;
    /// A function library.
    fn function(&mut self, code: &[u8]) -> io::Result<()>;
    /// An AUX field of the source, when the source's are kept
    /// ([`Options::keep_aux`](crate::Options::keep_aux)); ignored by default.
    fn aux(&mut self, _key: &[u8], _value: &[u8]) -> io::Result<()> {
        Ok(())
    }
    /// Keys of `db` follow.
    fn select_db(&mut self, db: u64) -> io::Result<()>;
    /// The key counts of a cluster slot, before its first key (see
    /// `rdb_write::RdbWriter::slot_info`); ignored by default.
    fn slot_info(&mut self, _slot: u64, _keys: u64, _expires: u64) -> io::Result<()> {
        Ok(())
    }
    /// The size hint of the selected database (RDB RESIZEDB); ignored by default.
    fn resize_db(&mut self, _keys: u64, _expires: u64) -> io::Result<()> {
        Ok(())
    }
    /// A key will be written (before its [`KeySink::begin`], or its
    /// [`KeySink::raw_record`] when it is copied as stored); ignored by default.
    fn key(&mut self, _db: u64, _key: &[u8]) -> io::Result<()> {
        Ok(())
    }
    /// A key starts.
    fn begin(&mut self, kind: Kind, key: &[u8], meta: KeyMeta, len: Option<u64>) -> io::Result<()>;
    /// A string value, list element or set member.
    fn element(&mut self, v: &[u8]) -> io::Result<()>;
    /// A part of a string value too long to be held whole (`total` bytes in all), in place of
    /// [`KeySink::element`] for a [`Kind::String`].
    fn string_part(&mut self, part: &[u8], total: u64, first: bool, last: bool) -> io::Result<()>;
    /// A sorted-set member.
    fn zmember(&mut self, m: &[u8], score: f64) -> io::Result<()>;
    /// A hash field, with its TTL when the key is a [`Kind::HashTtl`].
    fn hash_field(&mut self, f: &[u8], v: &[u8], expire_ms: Option<i64>) -> io::Result<()>;
    /// A stream entry; its fields follow.
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()>;
    /// A field of the current stream entry.
    fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()>;
    /// The stream's metadata, after its entries.
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()>;
    /// A consumer group.
    fn stream_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()>;
    /// A group PEL entry.
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()>;
    /// The group's consumer count.
    fn stream_consumers(&mut self, n: u64) -> io::Result<()>;
    /// A consumer.
    fn stream_consumer(
        &mut self,
        name: &[u8],
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()>;
    /// A consumer's pending id.
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()>;
    /// The key ends.
    fn end(&mut self) -> io::Result<()>;
    /// Copies a key record exactly as stored in `src` (`len` bytes at `start`: its expiry,
    /// LRU/LFU opcodes, type, key and value); `false` when this sink cannot.
    fn raw_record(&mut self, _src: &File, _start: u64, _len: u64) -> io::Result<bool> {
        Ok(false)
    }
    /// Whether this sink takes a stream's nodes copied as stored
    /// ([`KeySink::stream_meta_stored`]) in place of its entries.
    fn copies_stored_nodes(&self) -> bool {
        false
    }
    /// In place of [`KeySink::stream_meta`], for a stream given without entries: its nodes
    /// are copied from `src` as stored (where [`StreamMeta::stored_nodes`] says), then its
    /// metadata written. Only called when [`KeySink::copies_stored_nodes`].
    fn stream_meta_stored(&mut self, _src: &File, _meta: &StreamMeta) -> io::Result<()> {
        Err(io::Error::other(
            "this output cannot copy a stream's nodes as stored",
        ))
    }
    /// Whether pending entries must name live stream entries (true for commands: XCLAIM
    /// drops an id whose entry was deleted, as after the server's own rewrite).
    fn pel_needs_entries(&self) -> bool {
        false
    }
}

/// A sink that writes nothing: a first pass that finds what would be refused.
pub struct NullSink;

impl KeySink for NullSink {
    fn start(&mut self, _: Target) -> io::Result<()> {
        Ok(())
    }
    fn function(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn select_db(&mut self, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn begin(&mut self, _: Kind, _: &[u8], _: KeyMeta, _: Option<u64>) -> io::Result<()> {
        Ok(())
    }
    fn element(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn string_part(&mut self, _: &[u8], _: u64, _: bool, _: bool) -> io::Result<()> {
        Ok(())
    }
    fn zmember(&mut self, _: &[u8], _: f64) -> io::Result<()> {
        Ok(())
    }
    fn hash_field(&mut self, _: &[u8], _: &[u8], _: Option<i64>) -> io::Result<()> {
        Ok(())
    }
    fn stream_entry(&mut self, _: StreamId, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_field(&mut self, _: &[u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn stream_meta(&mut self, _: &StreamMeta) -> io::Result<()> {
        Ok(())
    }
    fn stream_group(&mut self, _: &[u8], _: StreamId, _: Option<u64>, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_pending(&mut self, _: StreamId, _: i64, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumers(&mut self, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumer(&mut self, _: &[u8], _: i64, _: Option<i64>, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumer_pending(&mut self, _: StreamId) -> io::Result<()> {
        Ok(())
    }
    fn end(&mut self) -> io::Result<()> {
        Ok(())
    }
}
