//! What a key costs in a server's memory: the figure `MEMORY USAGE key SAMPLES 0` returns on
//! a named server right after it loaded an RDB file, estimated from the file's events in one
//! streaming pass, without holding a key.
//!
//! The estimate follows what each server does at load (`rdbLoadObject`: the encoding it picks
//! under its default thresholds, the conversions it makes, how it sizes dictionaries) and what
//! its `MEMORY USAGE` counts (`objectComputeSize`: object headers, sds strings, dictionary
//! entries and tables, listpacks, quicklist nodes, skiplist nodes, stream radix trees and
//! listpacks, consumer groups), each allocation rounded up to the allocator's size class
//! ([`Allocator`]). Two parts are random in the server, and take their expected value here: a
//! skiplist node's level (so one sorted set can differ from the server by a few percent; a sum
//! over many does not), and a dictionary caught in the middle of a rehash.

mod model;
pub mod sizes;

pub use model::{Estimate, Estimator, Server, SERVERS};

/// The encodings an [`Estimate`] names, as `OBJECT ENCODING` does; an encoding's position
/// here is its one-byte code ([`encoding_code`]).
pub const ENCODINGS: [&str; 12] = [
    "unknown",
    "int",
    "embstr",
    "raw",
    "quicklist",
    "listpack",
    "ziplist",
    "intset",
    "hashtable",
    "skiplist",
    "listpackex",
    "stream",
];

/// The one-byte code of an encoding name (0, `unknown`, for a name not in [`ENCODINGS`]).
pub fn encoding_code(name: &str) -> u8 {
    ENCODINGS.iter().position(|e| *e == name).unwrap_or(0) as u8
}
pub use sizes::Allocator;
