//! A streaming, bounded-memory parser for Redis and Valkey RDB files.
//!
//! It reads every RDB version from 1 to 14 (`REDIS0001`..`REDIS0014`) and Valkey's
//! `VALKEY080`, yielding one [`Event`] per element: a 10 GB hash is read field by field, never
//! held whole. Every inner blob (listpack, ziplist, intset, zipmap, stream node) is validated as
//! deeply as Redis does with `sanitize-dump-payload yes`, the CRC64 is computed while reading,
//! and every length read from the file is checked against [`Limits`] before anything is
//! allocated. Errors carry the byte offset where they were found, and a truncated file
//! ([`Error::is_truncation`]) is told apart from a corrupt one.
//!
//! ```
//! use rdb_parse::{Event, Parser, Str};
//!
//! // A minimal RDB 12 file holding `SET foo bar` (format reference §6.5).
//! let file: &[u8] = b"REDIS0012\xfe\x00\xfb\x01\x00\x00\x03foo\x03bar\xff\x92\xf0\xc8\xe4\xb3\x8a\x8a\xd4";
//! let mut parser = Parser::new(file);
//! let mut keys = Vec::new();
//! while let Some(event) = parser.next_event()? {
//!     match event {
//!         Event::KeyStart(info) => keys.push(info.key.to_vec()),
//!         Event::Element(Str::Bytes(v)) => assert_eq!(v, b"bar"),
//!         Event::Eof { stored_crc, computed_crc } => assert_eq!(stored_crc, Some(computed_crc)),
//!         _ => {}
//!     }
//! }
//! assert_eq!(keys, vec![b"foo".to_vec()]);
//! # Ok::<(), rdb_parse::Error>(())
//! ```
//!
//! Consumers that would rather not match the event enum implement [`Sink`] (one method per
//! event, each a no-op by default) and call [`drive`].

mod aside;
pub mod blob;
pub mod dupes;
mod error;
mod event;
mod input;
pub mod lzf;
mod parser;
mod position;
pub mod relay;
pub mod salvage;
pub mod scratch;
mod sink;
pub mod threads;
mod types;

pub use error::{escape, Error, ErrorKind};
pub use event::{
    canonical_int, format_i64, int_len, ArrayValue, Event, KeyInfo, NodeInfo, StoredNodes, Str,
    StreamId, StreamMeta,
};
pub use parser::{Limits, Parser};
pub use position::{fault_kind, Position};
pub use relay::{drive_relayed, drive_relayed_batched};
pub use sink::{drive, drive_to_first_key, KeyEnd, Sink, Stop};
pub use types::{
    module_name, opcode, Encoding, Family, RdbType, ValueType, MAX_REDIS_VERSION,
    MAX_VALKEY_VERSION,
};

/// CRC-64/REDIS (Jones polynomial, reflected, init 0) of `data`, as stored in RDB files.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc64_check_values() {
        assert_eq!(super::crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        // "REDIS0011" followed by FF, from the format reference §1.3.
        assert_eq!(super::crc64(b"REDIS0011\xff"), 0x629738748d8a22c0);
    }
}
