//! Sinks that write RDB events out again: an RDB file for another server version
//! ([`RdbSink`]), or the commands the server's own AOF rewrite emits ([`RespSink`]). The engine
//! ([`run`]) reads an RDB through `rdb-parse` and feeds a [`KeySink`], applying a key filter, a
//! database map and the target's limits: what the target cannot hold is refused, or dropped
//! where [`Lossy`] allows it, and every such item is reported in the [`Outcome`]. Nothing here
//! prints; the caller reports.
//!
//! ```
//! use transcode::{run, KeyFilter, Options, RespSink};
//!
//! // A minimal RDB 12 file holding `SET foo bar`.
//! let file: &[u8] = b"REDIS0012\xfe\x00\xfb\x01\x00\x00\x03foo\x03bar\xff\x92\xf0\xc8\xe4\xb3\x8a\x8a\xd4";
//! let opts = Options {
//!     version: None,
//!     filter: KeyFilter::default(),
//!     db_map: Vec::new(),
//!     lossy: Default::default(),
//!     raw_source: None,
//!     spill_dir: None,
//!     keep_empty: false,
//!     relaxed_version: false,
//!     keep_aux: false,
//! };
//! let mut sink = RespSink::new(Vec::new());
//! let outcome = run(file, &opts, &mut sink).unwrap();
//! assert_eq!(outcome.keys, 1);
//! let resp = sink.finish().unwrap();
//! assert!(resp.windows(3).any(|w| w == b"SET"));
//! ```

mod engine;
pub mod filter;
mod keys;
mod rdb;
mod resp;
pub mod slot;
mod split;

pub use engine::{
    parse_lossy, run, run_many, run_relayed, run_spans, Error, Item, Items, Lossy, Options,
    Outcome, Transcoder,
};
pub use filter::KeyFilter;
pub use keys::{KeySink, NullSink};
pub use rdb::{redis_ver, write_aux, RdbSink};
pub use resp::RespSink;
pub use split::SplitSink;
