//! One module per subcommand: its `Args` (whose doc comments are its `--help`) and its `run`.
//! No module here imports another: what two commands share lives in the modules beside `cmd/`
//! or in a library crate.

pub mod analyze;
pub mod aof_to_rdb;
pub mod check_aof;
pub mod check_rdb;
pub mod completions;
pub mod convert;
pub mod diff;
pub mod digest;
pub mod dump_json;
pub mod merge;
pub mod restore_points;
pub mod rewrite;
pub mod split;
pub mod truncate;
