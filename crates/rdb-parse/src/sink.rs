//! The push side of the parser: a [`Sink`] with one method per event, each doing nothing by
//! default, and one [`drive`] loop that feeds it. A consumer implements only what it needs and
//! never matches the [`Event`] enum itself.
//!
//! ```
//! use rdb_parse::{drive, KeyEnd, KeyInfo, Parser, Sink};
//!
//! /// Counts keys and elements.
//! #[derive(Default)]
//! struct Count { keys: u64, elements: u64 }
//!
//! impl Sink for Count {
//!     type Error = std::convert::Infallible;
//!     fn key_start(&mut self, _: &KeyInfo<'_>) -> Result<(), Self::Error> {
//!         self.keys += 1;
//!         Ok(())
//!     }
//!     fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
//!         self.elements += end.elements;
//!         Ok(())
//!     }
//! }
//!
//! let file: &[u8] = b"REDIS0012\xfe\x00\xfb\x01\x00\x00\x03foo\x03bar\xff\x92\xf0\xc8\xe4\xb3\x8a\x8a\xd4";
//! let mut count = Count::default();
//! drive(&mut Parser::new(file), &mut count).unwrap();
//! assert_eq!((count.keys, count.elements), (1, 1));
//! ```

use crate::{
    ArrayValue, Error, Event, Family, KeyInfo, NodeInfo, Parser, Str, StreamId, StreamMeta,
};
use std::io::Read;

/// What the parser knows at the end of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEnd {
    /// The offset just past the key's record.
    pub offset: u64,
    /// The key's elements (fields, members, entries; 1 for a string).
    pub elements: u64,
    /// Hash fields with a TTL in the key.
    pub volatile_fields: u64,
}

/// Why [`drive`] stopped before the end of the file.
#[derive(Debug)]
pub enum Stop<E> {
    /// The file is damaged or could not be read.
    Parse(Error),
    /// The sink refused to go on.
    Sink(E),
}

impl<E: std::fmt::Display> std::fmt::Display for Stop<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Parse(e) => write!(f, "{e}"),
            Stop::Sink(e) => write!(f, "{e}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for Stop<E> {}

/// A consumer of RDB events: one method per [`Event`], each doing nothing by default.
#[allow(unused_variables)] // the defaults ignore their arguments
pub trait Sink {
    /// What the sink fails with (an I/O error of its output, a refusal).
    type Error;

    /// The magic and version, always first.
    fn header(&mut self, family: Family, version: u32) -> Result<(), Self::Error> {
        Ok(())
    }
    /// An AUX field.
    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A SELECTDB opcode.
    fn select_db(&mut self, db: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A RESIZEDB hint.
    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A SLOT_INFO record.
    fn slot_info(&mut self, slot: u64, keys: u64, expires: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A function library.
    fn function(&mut self, code: Str<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A module AUX record (skipped by the parser).
    fn module_aux(&mut self, name: [u8; 9], version: u16, when: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A Valkey 9 SLOT_IMPORT record.
    fn slot_import(&mut self, job: Str<'_>, ranges: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A key starts; its elements follow, then [`Sink::key_end`].
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A string value, a list element or a set member.
    fn element(&mut self, value: Str<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A part of a string value too long to be held whole: sent only when the consumer asked
    /// for parts ([`Parser::stream_strings`](crate::Parser::stream_strings)), in place of
    /// [`Sink::element`].
    fn string_part(
        &mut self,
        part: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A string value skipped by length only (when asked for with
    /// [`Parser::skip_long_strings`](crate::Parser::skip_long_strings)), in place of
    /// [`Sink::element`].
    fn string_skipped(&mut self, len: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A sorted-set member.
    fn zmember(&mut self, member: Str<'_>, score: f64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A hash field, with its absolute expiry in unix ms when it has one.
    fn hash_field(
        &mut self,
        field: Str<'_>,
        value: Str<'_>,
        expire_ms: Option<i64>,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A quicklist or stream node, before its elements (only when asked for with
    /// [`Parser::report_nodes`](crate::Parser::report_nodes)).
    fn node(&mut self, node: &NodeInfo) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A stream entry; its `fields` fields follow.
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A field of the current stream entry.
    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The stream's metadata, after its entries.
    fn stream_meta(&mut self, meta: &StreamMeta) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A consumer group; its PEL, then its consumers follow.
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// An entry of the group PEL.
    fn stream_pending(
        &mut self,
        id: StreamId,
        delivery_time_ms: i64,
        delivery_count: u64,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The number of consumers of the current group.
    fn stream_consumers(&mut self, count: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A consumer of the current group; its pending ids follow.
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A pending id owned by the current consumer.
    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A pending id of the current group with no owner (stream v5).
    fn stream_nacked(&mut self, id: StreamId) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A module value (skipped by the parser).
    fn module(&mut self, name: [u8; 9], version: u16, raw_len: u64) -> Result<(), Self::Error> {
        Ok(())
    }
    /// An element of a Redis 8.8 array.
    fn array_element(&mut self, index: u64, value: ArrayValue<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The end of the current key.
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The EOF opcode and checksum; always last.
    fn eof(&mut self, stored_crc: Option<u64>, computed_crc: u64) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Feeds every event of `parser` to `sink`, up to the end of the file or the first fault.
#[inline]
pub fn drive<R: Read, S: Sink + ?Sized>(
    parser: &mut Parser<R>,
    sink: &mut S,
) -> Result<(), Stop<S::Error>> {
    drive_events(parser, sink, false).map(|_| ())
}

/// Feeds events of `parser` to `sink` up to and including the first key's start (what comes
/// before the keys: the header, AUX fields, functions); returns whether a key started (false:
/// the file ended first). [`drive`] goes on from there: a consumer can set the parser up for
/// the keys from what it learned of the file (its version, the server that wrote it).
pub fn drive_to_first_key<R: Read, S: Sink + ?Sized>(
    parser: &mut Parser<R>,
    sink: &mut S,
) -> Result<bool, Stop<S::Error>> {
    drive_events(parser, sink, true)
}

#[inline]
fn drive_events<R: Read, S: Sink + ?Sized>(
    parser: &mut Parser<R>,
    sink: &mut S,
    to_first_key: bool,
) -> Result<bool, Stop<S::Error>> {
    loop {
        let ev = match parser.next_event() {
            Ok(Some(ev)) => ev,
            Ok(None) => return Ok(false),
            Err(e) => return Err(Stop::Parse(parser.settle(e))),
        };
        let key_start = matches!(ev, Event::KeyStart(_));
        let r = match ev {
            Event::Header { family, version } => sink.header(family, version),
            Event::Aux { key, value } => sink.aux(key, value),
            Event::SelectDb { db } => sink.select_db(db),
            Event::ResizeDb { keys, expires } => sink.resize_db(keys, expires),
            Event::SlotInfo {
                slot,
                keys,
                expires,
            } => sink.slot_info(slot, keys, expires),
            Event::Function { code } => sink.function(code),
            Event::ModuleAux {
                name,
                version,
                when,
            } => sink.module_aux(name, version, when),
            Event::SlotImport { job, ranges } => sink.slot_import(job, ranges),
            Event::KeyStart(info) => sink.key_start(&info),
            Event::Element(v) => sink.element(v),
            Event::StringPart {
                part,
                total,
                first,
                last,
            } => sink.string_part(part, total, first, last),
            Event::StringSkipped { len } => sink.string_skipped(len),
            Event::ZMember { member, score } => sink.zmember(member, score),
            Event::HashField {
                field,
                value,
                expire_ms,
            } => sink.hash_field(field, value, expire_ms),
            Event::Node(node) => sink.node(&node),
            Event::StreamEntry { id, fields } => sink.stream_entry(id, fields),
            Event::StreamField { name, value } => sink.stream_field(name, value),
            Event::StreamMeta(m) => sink.stream_meta(&m),
            Event::StreamGroup {
                name,
                last_id,
                entries_read,
                pending,
            } => sink.stream_group(name, last_id, entries_read, pending),
            Event::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => sink.stream_pending(id, delivery_time_ms, delivery_count),
            Event::StreamConsumers { count } => sink.stream_consumers(count),
            Event::StreamConsumer {
                name,
                seen_time_ms,
                active_time_ms,
                pending,
            } => sink.stream_consumer(name, seen_time_ms, active_time_ms, pending),
            Event::StreamConsumerPending { id } => sink.stream_consumer_pending(id),
            Event::StreamNacked { id } => sink.stream_nacked(id),
            Event::Module {
                name,
                version,
                raw_len,
            } => sink.module(name, version, raw_len),
            Event::ArrayElement { index, value } => sink.array_element(index, value),
            Event::KeyEnd => {
                let end = KeyEnd {
                    offset: parser.offset(),
                    elements: parser.key_elements(),
                    volatile_fields: parser.key_volatile_fields(),
                };
                sink.key_end(&end)
            }
            Event::Eof {
                stored_crc,
                computed_crc,
            } => sink.eof(stored_crc, computed_crc),
        };
        if to_first_key && key_start {
            return r.map(|()| true).map_err(Stop::Sink);
        }
        r.map_err(Stop::Sink)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every call as a line, to compare with the event enum.
    #[derive(Default)]
    struct Trace(Vec<String>);

    impl Sink for Trace {
        type Error = &'static str;
        fn header(&mut self, f: Family, v: u32) -> Result<(), Self::Error> {
            self.0.push(format!("header {} {v}", f.magic()));
            Ok(())
        }
        fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Self::Error> {
            self.0
                .push(format!("key {:?} db {}", info.key.to_vec(), info.db));
            Ok(())
        }
        fn element(&mut self, v: Str<'_>) -> Result<(), Self::Error> {
            self.0.push(format!("element {:?}", v.to_vec()));
            Ok(())
        }
        fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
            self.0.push(format!("end {} {}", end.offset, end.elements));
            Ok(())
        }
        fn eof(&mut self, s: Option<u64>, c: u64) -> Result<(), Self::Error> {
            self.0.push(format!("eof {}", s == Some(c)));
            Err("stop here")
        }
    }

    const FILE: &[u8] =
        b"REDIS0012\xfe\x00\xfb\x01\x00\x00\x03foo\x03bar\xff\x92\xf0\xc8\xe4\xb3\x8a\x8a\xd4";

    #[test]
    fn every_event_reaches_its_method() {
        let mut t = Trace::default();
        let r = drive(&mut Parser::new(FILE), &mut t);
        assert!(matches!(r, Err(Stop::Sink("stop here"))));
        assert_eq!(
            t.0,
            [
                "header REDIS 12",
                "key [102, 111, 111] db 0",
                "element [98, 97, 114]",
                "end 23 1",
                "eof true",
            ]
        );
    }

    #[test]
    fn a_fault_stops_the_drive_with_its_offset() {
        let mut t = Trace::default();
        let r = drive(&mut Parser::new(&FILE[..20]), &mut t);
        match r {
            Err(Stop::Parse(e)) => assert!(e.is_truncation(), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
