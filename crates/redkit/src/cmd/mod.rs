//! One module per subcommand: its `Args` (whose doc comments are its `--help`) and its `run`.

pub mod aof_to_rdb;
pub mod check_aof;
pub mod check_rdb;
pub mod convert;
pub mod dump_json;
pub mod restore_points;
pub mod rewrite;
pub mod truncate;

use rdb_parse::{escape, Error};

/// Where the parser was when something went wrong: the key being read, if any.
#[derive(Default)]
pub struct Position {
    /// Database of the current key.
    pub db: u64,
    /// The current key's bytes (valid while `in_key`).
    pub key: Vec<u8>,
    /// True between `KeyStart` and `KeyEnd`.
    pub in_key: bool,
}

impl Position {
    /// Records the start of a key.
    pub fn start(&mut self, db: u64, key: rdb_parse::Str<'_>) {
        self.db = db;
        self.key.clear();
        key.append_to(&mut self.key);
        self.in_key = true;
    }

    /// Describes a parse error with the key it happened in, in one line.
    pub fn describe(&self, err: &Error) -> String {
        let what = if err.is_truncation() {
            "truncated"
        } else if err.is_io() {
            "read error"
        } else {
            "corrupt"
        };
        let mut s = format!("{what} at offset {}", err.offset());
        if self.in_key {
            s.push_str(&format!(" (db {}, key {})", self.db, escape(&self.key)));
        }
        s.push_str(&format!(": {}", err.kind()));
        s
    }
}
