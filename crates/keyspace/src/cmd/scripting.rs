//! Functions and scripts: FUNCTION LOAD / DELETE / FLUSH / RESTORE; scripts logged as such
//! (EVAL and the like) are refused.

use super::args::arity;
use super::dump::{dump_payload, load_rdb, rdb_magic};
use crate::load::library_name;
use crate::{text, Error, Keyspace};

impl Keyspace {
    /// FUNCTION LOAD [REPLACE] code | DELETE library | FLUSH | RESTORE payload [policy].
    pub(crate) fn function(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        match a[1].to_ascii_uppercase().as_slice() {
            b"LOAD" => {
                let code = a.last().copied().unwrap_or_default();
                let name = library_name(code)
                    .ok_or_else(|| Error::Syntax("FUNCTION LOAD without a library name".into()))?;
                self.functions.insert(name, code.to_vec());
            }
            b"DELETE" => {
                arity(a, 3)?;
                self.functions.remove(a[2]);
            }
            b"FLUSH" => self.functions.clear(),
            b"RESTORE" => self.function_restore(a)?,
            other => return Err(Error::Unknown(format!("FUNCTION {}", text(other)))),
        }
        Ok(())
    }

    /// FUNCTION RESTORE payload [FLUSH | APPEND | REPLACE]: the libraries of a FUNCTION DUMP.
    pub(crate) fn function_restore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 3 || a.len() > 4 {
            return Err(Error::Syntax("FUNCTION RESTORE payload [policy]".into()));
        }
        let policy = a.get(3).map(|p| p.to_ascii_uppercase()).unwrap_or_default();
        let (body, version) = dump_payload(a[2], "FUNCTION RESTORE")?;
        // The payload is a list of libraries (the servers: "given type is not a function").
        if body.first().is_some_and(|&t| {
            t != rdb_parse::opcode::FUNCTION2 && t != rdb_parse::opcode::FUNCTION_PRE_GA
        }) {
            return Err(Error::Syntax(
                "FUNCTION RESTORE payload that does not start with a function library".into(),
            ));
        }
        let mut rdb = rdb_magic(version);
        rdb.extend_from_slice(body);
        let tmp = load_rdb(rdb, "FUNCTION RESTORE")?;
        match policy.as_slice() {
            b"FLUSH" => self.functions.clear(),
            b"REPLACE" => {}
            b"" | b"APPEND" => {
                if tmp.functions.keys().any(|n| self.functions.contains_key(n)) {
                    return Err(Error::Syntax(
                        "FUNCTION RESTORE of an existing library".into(),
                    ));
                }
            }
            _ => return Err(Error::Syntax("FUNCTION RESTORE policy".into())),
        }
        self.functions.extend(tmp.functions);
        Ok(())
    }
}

/// EVAL, EVALSHA, their _RO forms and FCALL in a log are refused: a server logs a script
/// itself only when it is older than Redis 5 or has lua-replicate-commands off, and then the
/// script's effects are not in the log.
pub(crate) fn script_effects_missing(name: &[u8]) -> Error {
    Error::Unknown(format!(
        "{} (a script logged as such, by a server older than Redis 5 or with \
         lua-replicate-commands off: its effects are not in the log)",
        text(name)
    ))
}
