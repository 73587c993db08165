//! What a dataset holds, as the servers see it.
//!
//! [`digest`]: the digest `DEBUG DIGEST` returns on a server that loaded an RDB, computed in one
//! streaming pass over the file's events.

pub mod digest;
pub mod fpconv;
