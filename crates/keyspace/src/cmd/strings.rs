//! Strings: SET and its variants, APPEND, SETRANGE, the integer counters; the float counters
//! are refused. Also the HyperLogLog commands, whose values are strings (see [`crate::hll`]).

use super::access::Ttl;
use super::args::{arity, expiry};
use crate::num::int;
use crate::{text, Error, Keyspace};

impl Keyspace {
    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL].
    pub(crate) fn set(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let mut keep_ttl = false;
        let mut expire: Option<i64> = None;
        let (mut nx, mut xx) = (false, false);
        let mut i = 3;
        while i < a.len() {
            let o = a[i].to_ascii_uppercase();
            let arg = a.get(i + 1).copied();
            match (o.as_slice(), arg) {
                (b"NX", _) => nx = true,
                (b"XX", _) => xx = true,
                (b"GET", _) => {}
                (b"KEEPTTL", _) => keep_ttl = true,
                (b"EX", Some(v)) => {
                    expire = Some(expiry(self.now_ms, int(v)?, 1000)?);
                    i += 1;
                }
                (b"PX", Some(v)) => {
                    expire = Some(expiry(self.now_ms, int(v)?, 1)?);
                    i += 1;
                }
                (b"EXAT", Some(v)) => {
                    expire = Some(int(v)? * 1000);
                    i += 1;
                }
                (b"PXAT", Some(v)) => {
                    expire = Some(int(v)?);
                    i += 1;
                }
                _ => return Err(Error::Syntax(format!("SET option {}", text(&o)))),
            }
            i += 1;
        }
        if nx || xx {
            let exists = self.db_mut().contains_key(a[1]);
            if (nx && exists) || (xx && !exists) {
                return Ok(());
            }
        }
        let ttl = match (expire, keep_ttl) {
            (Some(t), _) => Ttl::Set(Some(t)),
            (None, true) => Ttl::Keep,
            (None, false) => Ttl::Set(None),
        };
        self.put_string(a[1], a[2], ttl);
        Ok(())
    }

    /// SETNX key value.
    pub(crate) fn setnx(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        if !self.db_mut().contains_key(a[1]) {
            self.set_string(a[1], a[2], false);
        }
        Ok(())
    }

    /// SETEX / PSETEX key n value.
    pub(crate) fn setex(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let n = int(a[2])?;
        let ms = expiry(self.now_ms, n, if name == b"SETEX" { 1000 } else { 1 })?;
        self.put_string(a[1], a[3], Ttl::Set(Some(ms)));
        Ok(())
    }

    /// GETSET key value: drops the TTL.
    pub(crate) fn getset(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        self.string_value(a[1], "GETSET")?;
        self.set_string(a[1], a[2], false);
        Ok(())
    }

    /// GETDEL key.
    pub(crate) fn getdel(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        self.db_mut().remove(a[1]);
        Ok(())
    }

    /// MSET key value...
    pub(crate) fn mset(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        for pair in a[1..].chunks(2) {
            if pair.len() == 2 {
                self.set_string(pair[0], pair[1], false);
            }
        }
        Ok(())
    }

    /// MSETNX key value...: all or nothing.
    pub(crate) fn msetnx(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        let db = self.db_mut();
        if a[1..].chunks(2).all(|p| !db.contains_key(p[0])) {
            for pair in a[1..].chunks(2) {
                if pair.len() == 2 {
                    self.set_string(pair[0], pair[1], false);
                }
            }
        }
        Ok(())
    }

    /// APPEND key value.
    pub(crate) fn append(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        match self.string_of(a[1], "APPEND")? {
            Some(v) => {
                check_string_length("APPEND", v.len() as u64, a[2].len() as u64)?;
                v.extend_from_slice(a[2]);
            }
            None => self.set_string(a[1], a[2], false),
        }
        Ok(())
    }

    /// SETRANGE key offset value: zero bytes fill a gap. An empty value changes nothing (and is
    /// not checked against the size limit), as in the server.
    pub(crate) fn setrange(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let off = int(a[2])?;
        if off < 0 {
            return Err(Error::Syntax("SETRANGE: offset is out of range".into()));
        }
        let off = off as u64;
        let exists = self.string_of(a[1], "SETRANGE")?.is_some();
        if a[3].is_empty() {
            return Ok(());
        }
        check_string_length("SETRANGE", off, a[3].len() as u64)?;
        if !exists {
            self.set_string(a[1], b"", false);
        }
        let Some(v) = self.string_of(a[1], "SETRANGE")? else {
            return Err(Error::Syntax("SETRANGE on a string just made".into()));
        };
        // Within the limit: the offset and the end fit in memory sizes.
        let (off, end) = (off as usize, off as usize + a[3].len());
        if v.len() < end {
            v.resize(end, 0);
        }
        v[off..end].copy_from_slice(a[3]);
        Ok(())
    }

    /// INCR / DECR key.
    pub(crate) fn incr(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        self.incr_by(a[1], if name == b"INCR" { 1 } else { -1 })?;
        Ok(())
    }

    /// INCRBY key n.
    pub(crate) fn incrby(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        self.incr_by(a[1], int(a[2])?)?;
        Ok(())
    }

    /// DECRBY key n.
    pub(crate) fn decrby(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        // DECRBY of i64::MIN: the server answers "decrement would overflow" (nothing logged).
        let by = int(a[2])?
            .checked_neg()
            .ok_or_else(|| Error::Syntax("DECRBY: decrement would overflow".into()))?;
        self.incr_by(a[1], by)?;
        Ok(())
    }

    /// Adds `by` to the integer at `key` (0 when missing), keeping its TTL.
    fn incr_by(&mut self, key: &[u8], by: i64) -> Result<(), Error> {
        let cur = match self.string_value(key, "INCRBY")? {
            Some(v) => int(v)?,
            None => 0,
        };
        let n = cur
            .checked_add(by)
            .ok_or_else(|| Error::Syntax("increment would overflow".into()))?;
        self.set_string(key, n.to_string().as_bytes(), true);
        Ok(())
    }

    /// PFADD, PFMERGE, PFCOUNT (logged when it refreshes the cached cardinality of one key)
    /// and PFDEBUG TODENSE/GETREG (logged when they convert the value to dense): the value
    /// changes as the server changes it, byte for byte; the key keeps its TTL.
    pub(crate) fn hyperloglog(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        let wrong = |e: Error| match e {
            Error::WrongType(m) => Error::WrongType(format!("{}: {m}", text(name))),
            other => other,
        };
        let (key, new) = match name {
            b"PFADD" => {
                if a.len() < 2 {
                    return Err(Error::Syntax("PFADD key [element ...]".into()));
                }
                let cur = self.string_value(a[1], "PFADD")?;
                (a[1], Some(crate::hll::pfadd(cur, &a[2..]).map_err(wrong)?))
            }
            b"PFMERGE" => {
                if a.len() < 2 {
                    return Err(Error::Syntax("PFMERGE destkey [sourcekey ...]".into()));
                }
                let mut sources = Vec::with_capacity(a.len() - 2);
                for k in &a[2..] {
                    sources.push(self.string_value(k, "PFMERGE")?);
                }
                let dest = self.string_value(a[1], "PFMERGE")?;
                let merged = crate::hll::pfmerge(dest, &sources).map_err(wrong)?;
                (a[1], Some(merged))
            }
            // With several keys, or on a missing key, PFCOUNT changes nothing.
            b"PFCOUNT" if a.len() == 2 => match self.string_value(a[1], "PFCOUNT")? {
                Some(v) => (a[1], crate::hll::pfcount_cache(v).map_err(wrong)?),
                None => return Ok(()),
            },
            b"PFCOUNT" => return Ok(()),
            _ => {
                if a.len() < 3 {
                    return Err(Error::Syntax("PFDEBUG subcommand key".into()));
                }
                match a[1].to_ascii_uppercase().as_slice() {
                    b"TODENSE" | b"GETREG" => match self.string_value(a[2], "PFDEBUG")? {
                        Some(v) => (a[2], crate::hll::pfdebug_todense(v).map_err(wrong)?),
                        None => return Err(Error::Syntax("PFDEBUG on a missing key".into())),
                    },
                    // ENCODING, DECODE and the like only read.
                    _ => return Ok(()),
                }
            }
        };
        if let Some(v) = new {
            self.db_mut().put_str(key, &v, None);
        }
        Ok(())
    }
}

/// The largest string the server makes (`proto-max-bulk-len`, 512 MB by default).
pub(crate) const PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

/// `checkStringLength` (t_string.c): a string of `size` bytes grown by `append` bytes must stay
/// within [`PROTO_MAX_BULK_LEN`]; the server refuses APPEND and SETRANGE past it with "string
/// exceeds maximum allowed size".
fn check_string_length(name: &str, size: u64, append: u64) -> Result<(), Error> {
    match size.checked_add(append) {
        Some(total) if total <= PROTO_MAX_BULK_LEN => Ok(()),
        _ => Err(Error::Syntax(format!(
            "{name}: string exceeds maximum allowed size (proto-max-bulk-len)"
        ))),
    }
}

/// INCRBYFLOAT and HINCRBYFLOAT are refused: the server logs their results as SET ... KEEPTTL
/// and HSET (HSETEX on Redis 8) since, computed in long double, they cannot be redone exactly;
/// a sane AOF does not hold them.
pub(crate) fn float_increment(name: &[u8]) -> Error {
    Error::Unknown(format!(
        "{} (the server logs its result as SET/HSET)",
        text(name)
    ))
}
