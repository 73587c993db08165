//! A streaming writer of Redis RDB files, in the encodings the target server writes itself.
//!
//! [`RdbWriter`] is the record layer (header, opcodes, lengths, strings with integer and LZF
//! encodings, CRC64); [`KeyWriter`] writes one key at a time from its elements, choosing the
//! packed encoding (listpack, ziplist, intset) while the key stays under the server's default
//! thresholds and the plain one past them.
//!
//! ```
//! use rdb_write::{Kind, KeyMeta, KeyWriter, RdbWriter, Target};
//!
//! let mut w = RdbWriter::new(Vec::new(), 10, true)?;
//! w.select_db(0)?;
//! let mut k = KeyWriter::new(Target { version: 10 });
//! k.begin(Kind::Set, b"s", KeyMeta::default(), Some(2));
//! k.element(&mut w, b"1")?;
//! k.element(&mut w, b"2")?;
//! k.end(&mut w)?; // an intset
//! let file = w.finish()?;
//! assert!(file.starts_with(b"REDIS0010"));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod blob;
pub mod lzf;
mod spool;
mod value;
mod writer;

pub use value::{KeyMeta, KeyWriter, Kind, Target};
pub use writer::RdbWriter;
