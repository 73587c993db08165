//! Exit codes, the same for every subcommand.

/// The file is valid, or the job is done.
pub const OK: i32 = 0;
/// Problems were found in the input (corrupt, truncated), or the job was refused.
pub const PROBLEMS: i32 = 1;
/// Usage error, or an I/O error that has nothing to do with the content.
pub const ERROR: i32 = 2;
