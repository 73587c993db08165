//! Where the parser was when something went wrong, for messages: the key being read.

use crate::{escape, Error};

/// Where the parser was when something went wrong: the key being read, if any.
#[derive(Debug, Clone, Default)]
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
    pub fn start(&mut self, db: u64, key: crate::Str<'_>) {
        self.db = db;
        self.key.clear();
        key.append_to(&mut self.key);
        self.in_key = true;
    }

    /// Describes a parse error with the key it happened in, in one line.
    pub fn describe(&self, err: &Error) -> String {
        let mut s = format!("{} at offset {}", fault_kind(err), err.offset());
        if self.in_key {
            s.push_str(&format!(" (db {}, key {})", self.db, escape(&self.key)));
        }
        s.push_str(&format!(": {}", err.kind()));
        s
    }
}

/// How a parse error is named in reports: `truncated`, `corrupt` or `read-error`.
pub fn fault_kind(err: &Error) -> &'static str {
    if err.is_truncation() {
        "truncated"
    } else if err.is_io() {
        "read-error"
    } else {
        "corrupt"
    }
}
