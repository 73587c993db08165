//! Hashes: HSET, HSETNX, HDEL, HINCRBY, and the field TTLs (HPEXPIREAT, HPERSIST, HSETEX).

use super::access::{existing, typed};
use super::args::{arity, expiry};
use crate::num::int;
use crate::{text, Error, Keyspace, Value};

impl Keyspace {
    /// HSET / HMSET key field value...: the fields lose their TTL.
    pub(crate) fn hset(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        if !a.len().is_multiple_of(2) {
            return Err(Error::Syntax("HSET pairs".into()));
        }
        let h = typed!(self, a[1], Hash, "HSET");
        for p in a[2..].chunks(2) {
            h.insert(p[0].to_vec(), (p[1].to_vec(), None));
        }
        Ok(())
    }

    /// HSETNX key field value.
    pub(crate) fn hsetnx(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let h = typed!(self, a[1], Hash, "HSETNX");
        h.entry(a[2].to_vec()).or_insert((a[3].to_vec(), None));
        Ok(())
    }

    /// HDEL key field...
    pub(crate) fn hdel(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        if let Some(h) = existing!(self, a[1], Hash, "HDEL") {
            for f in &a[2..] {
                h.remove(*f);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// HINCRBY key field increment.
    pub(crate) fn hincrby(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let h = typed!(self, a[1], Hash, "HINCRBY");
        let slot = h.entry(a[2].to_vec()).or_insert((b"0".to_vec(), None));
        let n = int(&slot.0)?
            .checked_add(int(a[3])?)
            .ok_or_else(|| Error::Syntax("HINCRBY overflow".into()))?;
        slot.0 = n.to_string().into_bytes();
        Ok(())
    }

    /// HPEXPIREAT key ms [NX | XX | GT | LT] FIELDS n field...
    pub(crate) fn hpexpireat(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 6)?;
        let ms = int(a[2])?;
        let (opts, fields) = fields_arg(a, 3, 1)?;
        let cond = match opts {
            [] => None,
            [c] => Some(c.to_ascii_uppercase()),
            _ => return Err(Error::Syntax("HPEXPIREAT options".into())),
        };
        if let Some(h) = existing!(self, a[1], Hash, "HPEXPIREAT") {
            for f in fields {
                let Some(slot) = h.get_mut(*f) else { continue };
                let ok = match (cond.as_deref(), slot.1) {
                    (None, _) => true,
                    (Some(b"NX"), cur) => cur.is_none(),
                    (Some(b"XX"), cur) => cur.is_some(),
                    (Some(b"GT"), cur) => cur.is_some_and(|c| ms > c),
                    (Some(b"LT"), cur) => cur.is_none_or(|c| ms < c),
                    _ => return Err(Error::Syntax("HPEXPIREAT condition".into())),
                };
                if ok {
                    slot.1 = Some(ms);
                }
            }
        }
        Ok(())
    }

    /// HPERSIST key FIELDS n field...
    pub(crate) fn hpersist(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        let (_, fields) = fields_arg(a, 2, 1)?;
        if let Some(h) = existing!(self, a[1], Hash, "HPERSIST") {
            for f in fields {
                if let Some(slot) = h.get_mut(*f) {
                    slot.1 = None;
                }
            }
        }
        Ok(())
    }

    /// HSETEX key [FNX | FXX] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL] FIELDS n f v ...
    /// (Redis 8 logs it with PXAT, and HINCRBYFLOAT as HSETEX key KEEPTTL FIELDS 1 f v).
    pub(crate) fn hsetex(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 6)?;
        let (opts, pairs) = fields_arg(a, 2, 2)?;
        let (mut fnx, mut fxx, mut keep) = (false, false, false);
        let mut ttl: Option<i64> = None;
        let mut i = 0;
        while i < opts.len() {
            let o = opts[i].to_ascii_uppercase();
            let n = || opts.get(i + 1).map(|v| int(v)).transpose();
            match o.as_slice() {
                b"FNX" => fnx = true,
                b"FXX" => fxx = true,
                b"KEEPTTL" => keep = true,
                b"EX" | b"PX" | b"EXAT" | b"PXAT" => {
                    let v = n()?.ok_or_else(|| Error::Syntax("HSETEX time".into()))?;
                    ttl = Some(match o.as_slice() {
                        b"EX" => expiry(self.now_ms, v, 1000)?,
                        b"PX" => expiry(self.now_ms, v, 1)?,
                        b"EXAT" => expiry(0, v, 1000)?,
                        _ => v,
                    });
                    i += 1;
                }
                _ => return Err(Error::Syntax(format!("HSETEX option {}", text(&o)))),
            }
            i += 1;
        }
        if fnx || fxx {
            let exists =
                |h: Option<&crate::HashFields>, f: &[u8]| h.is_some_and(|h| h.contains_key(f));
            let found = self.found(a[1]);
            let value = found.and_then(|f| f.value());
            let h = match value.as_deref() {
                Some(Value::Hash(h)) => Some(h.as_ref()),
                Some(_) => return Err(Error::WrongType("HSETEX on another type".into())),
                None => None,
            };
            let all = pairs.chunks(2).all(|p| exists(h, p[0]));
            let none = pairs.chunks(2).all(|p| !exists(h, p[0]));
            if (fnx && !none) || (fxx && !all) {
                return Ok(());
            }
        }
        let h = typed!(self, a[1], Hash, "HSETEX");
        for p in pairs.chunks(2) {
            let old = h.get(p[0]).and_then(|(_, t)| *t);
            let t = match ttl {
                Some(t) => Some(t),
                None if keep => old,
                None => None,
            };
            h.insert(p[0].to_vec(), (p[1].to_vec(), t));
        }
        Ok(())
    }
}

/// Splits `a[from..]` at `FIELDS n`: the options before it and the `n` fields after it (`per`
/// arguments each: 1, or 2 for HSETEX's field/value pairs).
#[allow(clippy::type_complexity)]
fn fields_arg<'a, 'b>(
    a: &'b [&'a [u8]],
    from: usize,
    per: usize,
) -> Result<(&'b [&'a [u8]], &'b [&'a [u8]]), Error> {
    let at = a
        .iter()
        .skip(from)
        .position(|x| x.eq_ignore_ascii_case(b"FIELDS"))
        .map(|p| p + from)
        .ok_or_else(|| Error::Syntax(format!("{} without FIELDS", text(a[0]))))?;
    let n = a
        .get(at + 1)
        .map(|n| int(n))
        .transpose()?
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::Syntax("FIELDS count".into()))? as usize;
    let rest = &a[at + 2..];
    if rest.len() != n * per {
        return Err(Error::Syntax("FIELDS count does not match".into()));
    }
    Ok((&a[from..at], rest))
}
