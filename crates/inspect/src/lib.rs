//! What a dataset holds, as the servers see it.
//!
//! [`digest`]: the digest `DEBUG DIGEST` returns on a server that loaded an RDB, computed in one
//! streaming pass over the file's events, and per key as `DEBUG DIGEST-VALUE`.
//! [`diff`]: two datasets compared key by key through those per-key digests.
//! [`memory`]: what each key costs in a server's memory, as `MEMORY USAGE` counts it;
//! [`analyze`]: those costs summed by type, prefix and time to live, with the largest keys.

pub mod analyze;
pub mod detail;
pub mod diff;
pub mod digest;
pub mod fpconv;
pub mod memory;
