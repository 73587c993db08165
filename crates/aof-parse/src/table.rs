//! The command table: which command names the servers know, and their arities.

use crate::commands::COMMANDS;
use std::collections::HashMap;

/// What the table says of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Known, with a fitting number of arguments.
    Ok,
    /// No server version in the table knows the name: a server refuses to load the log.
    Unknown,
    /// Known, with a number of arguments no server accepts.
    BadArity,
}

/// Command names and arities known to the servers (see [`crate::commands`]), looked up by
/// name in any case, with the last hit cached (logs repeat the same command).
pub struct CommandTable {
    arity: HashMap<&'static [u8], i32>,
    last: Vec<u8>,
    last_arity: Option<i32>,
}

impl Default for CommandTable {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandTable {
    /// The table of every known command.
    pub fn new() -> Self {
        CommandTable {
            arity: COMMANDS.iter().map(|&(n, a)| (n.as_bytes(), a)).collect(),
            last: Vec::new(),
            last_arity: None,
        }
    }

    /// The arity of `name` (any case): exact when positive, a minimum when negative, both
    /// counting the name; `None` for an unknown command.
    pub fn arity(&mut self, name: &[u8]) -> Option<i32> {
        if !self.last.eq_ignore_ascii_case(name) || self.last.is_empty() {
            self.last.clear();
            self.last.extend(name.iter().map(u8::to_ascii_lowercase));
            self.last_arity = self.arity.get(self.last.as_slice()).copied();
        }
        self.last_arity
    }

    /// Whether a command of `argc` arguments (its name included) named `name` can load.
    pub fn check(&mut self, name: &[u8], argc: usize) -> Verdict {
        match self.arity(name) {
            None => Verdict::Unknown,
            Some(a) if !arity_ok(a, argc) => Verdict::BadArity,
            Some(_) => Verdict::Ok,
        }
    }
}

/// Whether `argc` arguments fit `arity` (exact when positive, a minimum when negative).
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let mut t = CommandTable::new();
        assert_eq!(t.check(b"SET", 3), Verdict::Ok);
        assert_eq!(t.check(b"set", 2), Verdict::BadArity);
        assert_eq!(t.check(b"FOOBAR", 2), Verdict::Unknown);
        assert_eq!(t.check(b"", 1), Verdict::Unknown);
        assert_eq!(t.check(b"del", 5), Verdict::Ok);
        assert_eq!(t.check(b"DEL", 1), Verdict::BadArity);
    }
}
