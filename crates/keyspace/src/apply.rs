//! The semantics of each write command.

use crate::num::{float, int, uint};
use crate::{text, Entry, Error, Group, Keyspace, Map, Set, Stream, Value};
use rdb_parse::StreamId;
use std::collections::VecDeque;

/// `base + n * unit` ms, or an error where the server answers "invalid expire time".
pub(crate) fn expiry(base: i64, n: i64, unit: i64) -> Result<i64, Error> {
    n.checked_mul(unit)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(|| Error::Syntax(format!("invalid expire time: {n}")))
}

fn stream_id(b: &[u8]) -> Result<StreamId, Error> {
    let s = std::str::from_utf8(b).map_err(|_| Error::Syntax("bad stream id".into()))?;
    let (ms, seq) = match s.split_once('-') {
        Some((a, b)) => (a.parse::<u64>().ok(), b.parse::<u64>().ok()),
        None => (s.parse::<u64>().ok(), Some(0)),
    };
    match (ms, seq) {
        (Some(ms), Some(seq)) => Ok(StreamId { ms, seq }),
        _ => Err(Error::Unknown(format!(
            "stream id {s:?} (only explicit ids)"
        ))),
    }
}

fn arity(args: &[&[u8]], min: usize) -> Result<(), Error> {
    if args.len() < min {
        return Err(Error::Syntax(format!(
            "{} needs {} arguments",
            text(args[0]),
            min - 1
        )));
    }
    Ok(())
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

/// What a write does to the key's TTL.
#[derive(Clone, Copy)]
enum Ttl {
    Keep,
    Set(Option<i64>),
}

macro_rules! typed {
    ($ks:expr, $key:expr, $variant:ident, $new:expr, $name:expr) => {{
        let db = $ks.db_mut();
        let e = db.get_or_insert_with($key, || Entry {
            value: Value::$variant(Default::default()),
            expire_ms: None,
        });
        match &mut e.value {
            Value::$variant(v) => v,
            other => {
                return Err(Error::WrongType(format!(
                    "{} on a {}",
                    $name,
                    other.type_name()
                )))
            }
        }
    }};
}

macro_rules! existing {
    ($ks:expr, $key:expr, $variant:ident, $name:expr) => {{
        match $ks.db_mut().get_mut($key) {
            None => None,
            Some(Entry {
                value: Value::$variant(v),
                ..
            }) => Some(v),
            Some(e) => {
                return Err(Error::WrongType(format!(
                    "{} on a {}",
                    $name,
                    e.value.type_name()
                )))
            }
        }
    }};
}

impl Keyspace {
    /// Removes `key` when its collection became empty (as the server does).
    fn drop_if_empty(&mut self, key: &[u8]) {
        let db = self.db_mut();
        // (A packed collection is deleted as soon as it is empty.)
        let empty = match db.get(key) {
            Some(crate::Found::Entry(e)) => match &e.value {
                Value::List(l) => l.is_empty(),
                Value::Set(s) => s.is_empty(),
                Value::ZSet(z) => z.is_empty(),
                Value::Hash(h) => h.is_empty(),
                _ => false,
            },
            _ => false,
        };
        if empty {
            db.remove(key);
        }
    }

    fn set_string(&mut self, key: &[u8], v: &[u8], keep_ttl: bool) {
        self.put_string(key, v, if keep_ttl { Ttl::Keep } else { Ttl::Set(None) });
    }

    /// Sets a string value with one lookup, in place when the size allows.
    fn put_string(&mut self, key: &[u8], v: &[u8], ttl: Ttl) {
        let expire = match ttl {
            Ttl::Keep => None,
            Ttl::Set(t) => Some(t),
        };
        self.db_mut().put_str(key, v, expire);
    }

    fn string_of(&mut self, key: &[u8], name: &str) -> Result<Option<&mut Vec<u8>>, Error> {
        Ok(existing!(self, key, Str, name))
    }

    /// A string's value, read without moving it (see [`crate::Db::get_mut`]).
    pub(crate) fn string_value(&self, key: &[u8], name: &str) -> Result<Option<&[u8]>, Error> {
        match self.found(key) {
            None => Ok(None),
            Some(f) => match f.str() {
                Some(s) => Ok(Some(s)),
                None => Err(Error::WrongType(format!("{name} on a {}", f.type_name()))),
            },
        }
    }

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

    fn expire_at(&mut self, key: &[u8], ms: i64, opts: &[&[u8]]) -> Result<(), Error> {
        let Some(cur) = self.db_mut().expire_ms(key) else {
            return Ok(());
        };
        for o in opts {
            let ok = match o.to_ascii_uppercase().as_slice() {
                b"NX" => cur.is_none(),
                b"XX" => cur.is_some(),
                b"GT" => cur.is_some_and(|c| ms > c),
                b"LT" => cur.is_none_or(|c| ms < c),
                _ => return Err(Error::Syntax(format!("expire option {}", text(o)))),
            };
            if !ok {
                return Ok(());
            }
        }
        self.db_mut().set_expire(key, Some(ms));
        Ok(())
    }

    /// The common writes to small collections, done on their packed form (see
    /// [`crate::packed`]); false when the command is not one of them, or the key is not (or
    /// would no longer be) a packed collection of that type: the general path applies it then.
    fn packed_fast_path(&mut self, name: &[u8], a: &[&[u8]]) -> bool {
        use crate::packed::{self as p, Kind};
        if a.len() < 2 {
            return false;
        }
        let (key, rest) = (a[1], &a[2..]);
        let db = self.db_mut();
        match name {
            b"HSET" | b"HMSET" if !rest.is_empty() && rest.len() % 2 == 0 => {
                db.packed_update(key, Kind::Hash, true, |b| p::hash_set(b, rest, false))
            }
            b"HSETNX" if rest.len() == 2 => {
                db.packed_update(key, Kind::Hash, true, |b| p::hash_set(b, rest, true))
            }
            b"HDEL" if !rest.is_empty() => db.packed_update(key, Kind::Hash, false, |b| {
                Some(p::remove(Kind::Hash, b, rest))
            }),
            b"HINCRBY" if rest.len() == 2 => db.packed_update(key, Kind::Hash, true, |b| {
                let by = int(rest[1]).ok()?;
                let cur = p::hash_get(b, rest[0]).map_or(Ok(0), int).ok()?;
                let n = cur.checked_add(by)?.to_string();
                p::hash_set(b, &[rest[0], n.as_bytes()], false)
            }),
            b"SADD" if !rest.is_empty() => {
                db.packed_update(key, Kind::Set, true, |b| p::set_add(b, rest))
            }
            b"SREM" if !rest.is_empty() => db.packed_update(key, Kind::Set, false, |b| {
                Some(p::remove(Kind::Set, b, rest))
            }),
            // ZADD without options: its first argument is a score.
            b"ZADD" if rest.len() >= 2 && rest.len() % 2 == 0 && float(rest[0]).is_ok() => {
                db.packed_update(key, Kind::ZSet, true, |b| p::zset_add(b, rest))
            }
            b"ZINCRBY" if rest.len() == 2 => {
                let Ok(by) = float(rest[0]) else {
                    return false;
                };
                db.packed_update(key, Kind::ZSet, true, |b| p::zset_incr(b, by, rest[1]))
            }
            b"ZREM" if !rest.is_empty() => db.packed_update(key, Kind::ZSet, false, |b| {
                Some(p::remove(Kind::ZSet, b, rest))
            }),
            b"RPUSH" | b"LPUSH" | b"RPUSHX" | b"LPUSHX" if !rest.is_empty() => {
                let create = !name.ends_with(b"X");
                let front = name[0] == b'L';
                db.packed_update(key, Kind::List, create, |b| p::list_push(b, rest, front))
            }
            b"LPOP" | b"RPOP" if rest.len() <= 1 => {
                let count = match rest.first() {
                    None => 1,
                    Some(c) => match int(c) {
                        Ok(c) if c >= 0 => c as usize,
                        _ => return false,
                    },
                };
                let front = name[0] == b'L';
                db.packed_update(key, Kind::List, false, |b| {
                    Some(p::list_pop(b, count, front))
                })
            }
            _ => false,
        }
    }

    pub(crate) fn apply_one(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        if self.packed_fast_path(name, a) {
            return Ok(());
        }
        self.apply_general(name, a)?;
        // A small collection the general path changed goes back to the packed form.
        if let Some(key) = a.get(1) {
            if let Some(db) = self.dbs.get_mut(&self.db) {
                db.repack(key);
            }
        }
        Ok(())
    }

    fn apply_general(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        match name {
            // ----- databases and keys -----
            b"SELECT" => {
                arity(a, 2)?;
                self.db = uint(a[1])?;
            }
            b"FLUSHDB" => {
                self.db_mut().clear();
            }
            b"FLUSHALL" => self.dbs.clear(),
            b"SWAPDB" => {
                arity(a, 3)?;
                let (x, y) = (uint(a[1])?, uint(a[2])?);
                let dx = self.dbs.remove(&x).unwrap_or_default();
                let dy = self.dbs.remove(&y).unwrap_or_default();
                self.dbs.insert(x, dy);
                self.dbs.insert(y, dx);
            }
            b"DEL" | b"UNLINK" => {
                let db = self.db_mut();
                for k in &a[1..] {
                    db.remove(k);
                }
            }
            b"EXPIREAT" | b"PEXPIREAT" | b"EXPIRE" | b"PEXPIRE" => {
                arity(a, 3)?;
                let n = int(a[2])?;
                let ms = match name {
                    b"PEXPIREAT" => n,
                    b"EXPIREAT" => expiry(0, n, 1000)?,
                    b"EXPIRE" => expiry(self.now_ms, n, 1000)?,
                    _ => expiry(self.now_ms, n, 1)?,
                };
                self.expire_at(a[1], ms, &a[3..])?;
            }
            b"PERSIST" => {
                arity(a, 2)?;
                self.db_mut().set_expire(a[1], None);
            }
            b"RENAME" | b"RENAMENX" => {
                arity(a, 3)?;
                let db = self.db_mut();
                if name == b"RENAMENX" && db.contains_key(a[2]) {
                    return Ok(());
                }
                if let Some(e) = db.remove(a[1]) {
                    db.insert(a[2], e);
                }
            }
            b"MOVE" => {
                arity(a, 3)?;
                let to = uint(a[2])?;
                let exists = self.dbs.get(&to).is_some_and(|d| d.contains_key(a[1]));
                if !exists {
                    if let Some(e) = self.db_mut().remove(a[1]) {
                        self.dbs.entry(to).or_default().insert(a[1], e);
                    }
                }
            }
            b"COPY" => {
                arity(a, 3)?;
                let mut to = self.db;
                let mut replace = false;
                let mut i = 3;
                while i < a.len() {
                    match a[i].to_ascii_uppercase().as_slice() {
                        b"DB" if i + 1 < a.len() => {
                            to = uint(a[i + 1])?;
                            i += 1;
                        }
                        b"REPLACE" => replace = true,
                        _ => return Err(Error::Syntax("COPY option".into())),
                    }
                    i += 1;
                }
                if let Some(e) = self.db_mut().get(a[1]).map(|f| f.to_entry()) {
                    let dst = self.dbs.entry(to).or_default();
                    if replace || !dst.contains_key(a[2]) {
                        dst.insert(a[2], e);
                    }
                }
            }
            // ----- strings -----
            b"SET" => {
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
            }
            b"SETNX" => {
                arity(a, 3)?;
                if !self.db_mut().contains_key(a[1]) {
                    self.set_string(a[1], a[2], false);
                }
            }
            b"SETEX" | b"PSETEX" => {
                arity(a, 4)?;
                let n = int(a[2])?;
                let ms = expiry(self.now_ms, n, if name == b"SETEX" { 1000 } else { 1 })?;
                self.put_string(a[1], a[3], Ttl::Set(Some(ms)));
            }
            b"GETSET" => {
                arity(a, 3)?;
                self.string_value(a[1], "GETSET")?;
                self.set_string(a[1], a[2], false);
            }
            b"GETDEL" => {
                arity(a, 2)?;
                self.db_mut().remove(a[1]);
            }
            b"MSET" => {
                for pair in a[1..].chunks(2) {
                    if pair.len() == 2 {
                        self.set_string(pair[0], pair[1], false);
                    }
                }
            }
            b"MSETNX" => {
                let db = self.db_mut();
                if a[1..].chunks(2).all(|p| !db.contains_key(p[0])) {
                    for pair in a[1..].chunks(2) {
                        if pair.len() == 2 {
                            self.set_string(pair[0], pair[1], false);
                        }
                    }
                }
            }
            b"APPEND" => {
                arity(a, 3)?;
                match self.string_of(a[1], "APPEND")? {
                    Some(v) => v.extend_from_slice(a[2]),
                    None => self.set_string(a[1], a[2], false),
                }
            }
            b"SETRANGE" => {
                arity(a, 4)?;
                let off = uint(a[2])? as usize;
                if off + a[3].len() > 512 << 20 {
                    return Err(Error::Syntax("SETRANGE past 512 MB".into()));
                }
                if self.string_of(a[1], "SETRANGE")?.is_none() {
                    if a[3].is_empty() {
                        return Ok(());
                    }
                    self.set_string(a[1], b"", false);
                }
                let v = self.string_of(a[1], "SETRANGE")?.expect("exists");
                if v.len() < off + a[3].len() {
                    v.resize(off + a[3].len(), 0);
                }
                v[off..off + a[3].len()].copy_from_slice(a[3]);
            }
            b"INCR" | b"DECR" => {
                arity(a, 2)?;
                self.incr_by(a[1], if name == b"INCR" { 1 } else { -1 })?
            }
            b"INCRBY" => {
                arity(a, 3)?;
                self.incr_by(a[1], int(a[2])?)?
            }
            b"DECRBY" => {
                arity(a, 3)?;
                self.incr_by(a[1], int(a[2])?.checked_neg().unwrap_or(i64::MAX))?
            }
            // The server logs the results of these as SET ... KEEPTTL and HSET: computed in long
            // double, they cannot be redone exactly here, and a sane AOF does not hold them.
            b"INCRBYFLOAT" | b"HINCRBYFLOAT" => {
                return Err(Error::Unknown(format!(
                    "{} (the server logs its result as SET/HSET)",
                    text(name)
                )))
            }
            // ----- lists -----
            b"RPUSH" | b"LPUSH" | b"RPUSHX" | b"LPUSHX" => {
                arity(a, 3)?;
                if name.ends_with(b"X") && !self.db_mut().contains_key(a[1]) {
                    return Ok(());
                }
                let l = typed!(self, a[1], List, VecDeque::new(), "a push");
                for v in &a[2..] {
                    if name[0] == b'R' {
                        l.push_back(v.to_vec());
                    } else {
                        l.push_front(v.to_vec());
                    }
                }
            }
            b"LPOP" | b"RPOP" => {
                arity(a, 2)?;
                let n = match a.get(2) {
                    Some(c) => uint(c)? as usize,
                    None => 1,
                };
                if let Some(l) = existing!(self, a[1], List, "a pop") {
                    for _ in 0..n.min(l.len()) {
                        if name[0] == b'L' {
                            l.pop_front();
                        } else {
                            l.pop_back();
                        }
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"LSET" => {
                arity(a, 4)?;
                let i = int(a[2])?;
                let l = existing!(self, a[1], List, "LSET")
                    .ok_or_else(|| Error::Syntax("LSET on no key".into()))?;
                let idx = if i < 0 { l.len() as i64 + i } else { i };
                let slot = usize::try_from(idx)
                    .ok()
                    .and_then(|i| l.get_mut(i))
                    .ok_or_else(|| Error::Syntax("LSET index out of range".into()))?;
                *slot = a[3].to_vec();
            }
            b"LTRIM" => {
                arity(a, 4)?;
                let (s, e) = (int(a[2])?, int(a[3])?);
                if let Some(l) = existing!(self, a[1], List, "LTRIM") {
                    let n = l.len() as i64;
                    let s = if s < 0 { (n + s).max(0) } else { s };
                    let e = if e < 0 { n + e } else { e.min(n - 1) };
                    if s > e || s >= n {
                        l.clear();
                    } else {
                        l.truncate(e as usize + 1);
                        l.drain(..s as usize);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"LREM" => {
                arity(a, 4)?;
                let count = int(a[2])?;
                if let Some(l) = existing!(self, a[1], List, "LREM") {
                    let mut left = if count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    if count >= 0 {
                        let mut kept = VecDeque::with_capacity(l.len());
                        for v in l.drain(..) {
                            if left > 0 && v == a[3] {
                                left -= 1;
                            } else {
                                kept.push_back(v);
                            }
                        }
                        **l = kept;
                    } else {
                        let mut kept = VecDeque::with_capacity(l.len());
                        while let Some(v) = l.pop_back() {
                            if left > 0 && v == a[3] {
                                left -= 1;
                            } else {
                                kept.push_front(v);
                            }
                        }
                        **l = kept;
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"LINSERT" => {
                arity(a, 5)?;
                let before = a[2].eq_ignore_ascii_case(b"BEFORE");
                if let Some(l) = existing!(self, a[1], List, "LINSERT") {
                    if let Some(p) = l.iter().position(|v| v == a[3]) {
                        l.insert(if before { p } else { p + 1 }, a[4].to_vec());
                    }
                }
            }
            b"RPOPLPUSH" | b"LMOVE" => {
                arity(a, 3)?;
                let (from_left, to_left) = if name == b"LMOVE" {
                    arity(a, 5)?;
                    (
                        a[3].eq_ignore_ascii_case(b"LEFT"),
                        a[4].eq_ignore_ascii_case(b"LEFT"),
                    )
                } else {
                    (false, true)
                };
                let v = match existing!(self, a[1], List, name_str(name)) {
                    Some(l) => {
                        if from_left {
                            l.pop_front()
                        } else {
                            l.pop_back()
                        }
                    }
                    None => None,
                };
                self.drop_if_empty(a[1]);
                if let Some(v) = v {
                    let l = typed!(self, a[2], List, VecDeque::new(), name_str(name));
                    if to_left {
                        l.push_front(v);
                    } else {
                        l.push_back(v);
                    }
                }
            }
            // ----- sets -----
            b"SADD" => {
                arity(a, 3)?;
                let s = typed!(self, a[1], Set, Set::default(), "SADD");
                for m in &a[2..] {
                    s.insert(m.to_vec());
                }
            }
            b"SREM" => {
                arity(a, 3)?;
                if let Some(s) = existing!(self, a[1], Set, "SREM") {
                    for m in &a[2..] {
                        s.remove(*m);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"SMOVE" => {
                arity(a, 4)?;
                let moved = match existing!(self, a[1], Set, "SMOVE") {
                    Some(s) => s.remove(a[3]),
                    None => false,
                };
                self.drop_if_empty(a[1]);
                if moved {
                    typed!(self, a[2], Set, Set::default(), "SMOVE").insert(a[3].to_vec());
                }
            }
            // ----- sorted sets -----
            b"ZADD" => {
                arity(a, 4)?;
                let (mut nx, mut xx, mut gt, mut lt, mut incr) =
                    (false, false, false, false, false);
                let mut i = 2;
                while i < a.len() {
                    match a[i].to_ascii_uppercase().as_slice() {
                        b"NX" => nx = true,
                        b"XX" => xx = true,
                        b"GT" => gt = true,
                        b"LT" => lt = true,
                        b"CH" => {}
                        b"INCR" => incr = true,
                        _ => break,
                    }
                    i += 1;
                }
                if xx && !self.db_mut().contains_key(a[1]) {
                    return Ok(());
                }
                let pairs = &a[i..];
                if pairs.is_empty() || pairs.len() % 2 != 0 {
                    return Err(Error::Syntax("ZADD pairs".into()));
                }
                let z = typed!(self, a[1], ZSet, Map::default(), "ZADD");
                for p in pairs.chunks(2) {
                    let s = float(p[0])?;
                    match z.get(p[1]).copied() {
                        Some(_) if nx => {}
                        None if xx => {}
                        Some(old) => {
                            let new = if incr { old + s } else { s };
                            if (gt && new <= old) || (lt && new >= old) || new.is_nan() {
                                continue;
                            }
                            z.insert(p[1].to_vec(), new);
                        }
                        None => {
                            z.insert(p[1].to_vec(), s);
                        }
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"ZINCRBY" => {
                arity(a, 4)?;
                let by = float(a[2])?;
                let z = typed!(self, a[1], ZSet, Map::default(), "ZINCRBY");
                // A new member gets the increment itself (-0 stays -0).
                let v = z.get(a[3]).map_or(by, |s| s + by);
                if v.is_nan() {
                    return Err(Error::Syntax("ZINCRBY to NaN".into()));
                }
                z.insert(a[3].to_vec(), v);
            }
            b"ZPOPMIN" | b"ZPOPMAX" => {
                arity(a, 2)?;
                let n = match a.get(2) {
                    Some(c) => int(c)?.max(0) as usize,
                    None => 1,
                };
                if let Some(z) = existing!(self, a[1], ZSet, "ZPOP") {
                    let mut order = sorted(z);
                    if name == b"ZPOPMAX" {
                        order.reverse();
                    }
                    for (m, _) in order.into_iter().take(n) {
                        z.remove(&m);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"ZREMRANGEBYRANK" => {
                arity(a, 4)?;
                let (s, e) = (int(a[2])?, int(a[3])?);
                if let Some(z) = existing!(self, a[1], ZSet, "ZREMRANGEBYRANK") {
                    let order = sorted(z);
                    let n = order.len() as i64;
                    let s = if s < 0 { (n + s).max(0) } else { s };
                    let e = if e < 0 { n + e } else { e.min(n - 1) };
                    if s <= e && s < n {
                        for (m, _) in &order[s as usize..=e as usize] {
                            z.remove(m);
                        }
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"ZREMRANGEBYSCORE" => {
                arity(a, 4)?;
                let (lo, hi) = (score_bound(a[2])?, score_bound(a[3])?);
                if let Some(z) = existing!(self, a[1], ZSet, "ZREMRANGEBYSCORE") {
                    z.retain(|_, s| !(lo.below(*s) && hi.above(*s)));
                }
                self.drop_if_empty(a[1]);
            }
            b"ZREMRANGEBYLEX" => {
                // Defined for sorted sets whose scores are all equal (the server's result on
                // others depends on its encoding).
                arity(a, 4)?;
                let (lo, hi) = (lex_bound(a[2])?, lex_bound(a[3])?);
                if let Some(z) = existing!(self, a[1], ZSet, "ZREMRANGEBYLEX") {
                    z.retain(|m, _| !(lex_ge(m, &lo) && lex_le(m, &hi)));
                }
                self.drop_if_empty(a[1]);
            }
            b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" => {
                arity(a, 3)?;
                let mut sets: Vec<Set<Vec<u8>>> = Vec::new();
                for k in &a[2..] {
                    sets.push(
                        existing!(self, *k, Set, "S*STORE")
                            .map(|s| (**s).clone())
                            .unwrap_or_default(),
                    );
                }
                let mut it = sets.into_iter();
                let first = it.next().unwrap_or_default();
                let result: Set<Vec<u8>> = match name {
                    b"SINTERSTORE" => {
                        it.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
                    }
                    b"SUNIONSTORE" => it.fold(first, |mut acc, s| {
                        acc.extend(s);
                        acc
                    }),
                    _ => it.fold(first, |acc, s| acc.difference(&s).cloned().collect()),
                };
                let db = self.db_mut();
                if result.is_empty() {
                    db.remove(a[1]);
                } else {
                    db.insert(
                        a[1],
                        Entry {
                            value: Value::Set(Box::new(result)),
                            expire_ms: None,
                        },
                    );
                }
            }
            b"XCLAIM" => self.xclaim(a)?,
            b"SETBIT" => self.setbit(a)?,
            b"BITOP" => self.bitop(a)?,
            b"BITFIELD" => self.bitfield(a)?,
            b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => self.zstore(name, a)?,
            b"RESTORE" => self.restore(a)?,
            b"ZRANGESTORE" => self.zrangestore(a)?,
            b"GEOSEARCHSTORE" | b"GEORADIUS" | b"GEORADIUSBYMEMBER" => self.geo_store(a)?,
            b"SORT" => self.sort_store(a)?,
            b"PFADD" | b"PFMERGE" | b"PFCOUNT" | b"PFDEBUG" => self.hyperloglog(name, a)?,
            b"ZREM" => {
                arity(a, 3)?;
                if let Some(z) = existing!(self, a[1], ZSet, "ZREM") {
                    for m in &a[2..] {
                        z.remove(*m);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            // ----- hashes -----
            b"HSET" | b"HMSET" => {
                arity(a, 4)?;
                if a.len() % 2 != 0 {
                    return Err(Error::Syntax("HSET pairs".into()));
                }
                let h = typed!(self, a[1], Hash, Map::default(), "HSET");
                for p in a[2..].chunks(2) {
                    h.insert(p[0].to_vec(), (p[1].to_vec(), None));
                }
            }
            b"HSETNX" => {
                arity(a, 4)?;
                let h = typed!(self, a[1], Hash, Map::default(), "HSETNX");
                h.entry(a[2].to_vec()).or_insert((a[3].to_vec(), None));
            }
            b"HDEL" => {
                arity(a, 3)?;
                if let Some(h) = existing!(self, a[1], Hash, "HDEL") {
                    for f in &a[2..] {
                        h.remove(*f);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"HINCRBY" => {
                arity(a, 4)?;
                let h = typed!(self, a[1], Hash, Map::default(), "HINCRBY");
                let slot = h.entry(a[2].to_vec()).or_insert((b"0".to_vec(), None));
                let n = int(&slot.0)?
                    .checked_add(int(a[3])?)
                    .ok_or_else(|| Error::Syntax("HINCRBY overflow".into()))?;
                slot.0 = n.to_string().into_bytes();
            }
            b"HPEXPIREAT" => {
                // HPEXPIREAT key ms [NX|XX|GT|LT] FIELDS n f...
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
            }
            b"HPERSIST" => {
                let (_, fields) = fields_arg(a, 2, 1)?;
                if let Some(h) = existing!(self, a[1], Hash, "HPERSIST") {
                    for f in fields {
                        if let Some(slot) = h.get_mut(*f) {
                            slot.1 = None;
                        }
                    }
                }
            }
            b"HSETEX" => self.hsetex(a)?,
            // ----- streams -----
            b"XADD" => self.xadd(a)?,
            b"XGROUP" => self.xgroup(a)?,
            b"XTRIM" => {
                arity(a, 4)?;
                let (trim, next) = parse_trim(a, 2)?;
                if next != a.len() {
                    return Err(Error::Syntax("XTRIM arguments".into()));
                }
                let t = trim.ok_or_else(|| Error::Syntax("XTRIM without a strategy".into()))?;
                if let Some(s) = existing!(self, a[1], Stream, "XTRIM") {
                    trim_stream(s, t);
                }
            }
            b"XSETID" => {
                arity(a, 3)?;
                let last = stream_id(a[2])?;
                let mut i = 3;
                let (mut added, mut maxdel) = (None, None);
                while i + 1 < a.len() {
                    match a[i].to_ascii_uppercase().as_slice() {
                        b"ENTRIESADDED" => added = Some(int(a[i + 1])? as u64),
                        b"MAXDELETEDID" => maxdel = Some(stream_id(a[i + 1])?),
                        _ => return Err(Error::Syntax("XSETID option".into())),
                    }
                    i += 2;
                }
                let s = existing!(self, a[1], Stream, "XSETID")
                    .ok_or_else(|| Error::Syntax("XSETID on no key".into()))?;
                s.last_id = last;
                if let Some(n) = added {
                    s.entries_added = n;
                }
                if let Some(m) = maxdel {
                    s.max_deleted_id = m;
                }
            }
            b"XDEL" => {
                arity(a, 3)?;
                if let Some(s) = existing!(self, a[1], Stream, "XDEL") {
                    for id in &a[2..] {
                        let id = stream_id(id)?;
                        if s.entries.remove(&id).is_some() && id > s.max_deleted_id {
                            s.max_deleted_id = id;
                        }
                    }
                }
            }
            b"XACK" => {
                arity(a, 4)?;
                if let Some(s) = existing!(self, a[1], Stream, "XACK") {
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[2]) {
                        for id in &a[3..] {
                            g.pel.remove(&stream_id(id)?);
                        }
                    }
                }
            }
            b"FUNCTION" => self.function(a)?,
            // SCRIPT LOAD/FLUSH (logged by servers that replicated scripts verbatim) change no key.
            b"PING" | b"PUBLISH" | b"SCRIPT" => {}
            b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" => {
                return Err(Error::Unknown(format!(
                    "{} (a script logged as such, by a server older than Redis 5 or with \
                     lua-replicate-commands off: its effects are not in the log)",
                    text(name)
                )))
            }
            _ => return Err(Error::Unknown(text(name))),
        }
        Ok(())
    }

    /// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]: the
    /// range is stored at dst (without a TTL), or dst deleted when it is empty.
    fn zrangestore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 5)?;
        let (mut by_score, mut by_lex, mut rev) = (false, false, false);
        let mut limit: Option<(i64, i64)> = None;
        let mut i = 5;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"BYSCORE" => by_score = true,
                b"BYLEX" => by_lex = true,
                b"REV" => rev = true,
                b"LIMIT" if i + 2 < a.len() => {
                    limit = Some((int(a[i + 1])?, int(a[i + 2])?));
                    i += 2;
                }
                _ => return Err(Error::Syntax(format!("ZRANGESTORE option {}", text(a[i])))),
            }
            i += 1;
        }
        if (by_score && by_lex) || (limit.is_some() && !by_score && !by_lex) {
            return Err(Error::Syntax("ZRANGESTORE options".into()));
        }
        let mut order = match existing!(self, a[2], ZSet, "ZRANGESTORE") {
            Some(z) => sorted(z),
            None => Vec::new(),
        };
        // With REV, the range is given from its high end.
        let (lo, hi) = if rev && (by_score || by_lex) {
            (a[4], a[3])
        } else {
            (a[3], a[4])
        };
        if by_score {
            let (lo, hi) = (score_bound(lo)?, score_bound(hi)?);
            order.retain(|(_, s)| lo.below(*s) && hi.above(*s));
        } else if by_lex {
            let (lo, hi) = (lex_bound(lo)?, lex_bound(hi)?);
            order.retain(|(m, _)| lex_ge(m, &lo) && lex_le(m, &hi));
        }
        if rev {
            order.reverse();
        }
        let picked: Vec<(Vec<u8>, f64)> = if by_score || by_lex {
            match limit {
                // A negative offset selects nothing; a negative count, everything after it.
                Some((off, _)) if off < 0 => Vec::new(),
                Some((off, count)) => {
                    let it = order.into_iter().skip(off as usize);
                    if count < 0 {
                        it.collect()
                    } else {
                        it.take(count as usize).collect()
                    }
                }
                None => order,
            }
        } else {
            let n = order.len() as i64;
            let (mut s, mut e) = (int(lo)?, int(hi)?);
            if s < 0 {
                s += n;
            }
            if e < 0 {
                e += n;
            }
            s = s.max(0);
            if s > e || s >= n {
                Vec::new()
            } else {
                let e = e.min(n - 1);
                order.drain(s as usize..=e as usize).collect()
            }
        };
        self.store_zset(a[1], picked);
        Ok(())
    }

    /// HSETEX key [FNX | FXX] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL] FIELDS n f v ...
    /// (Redis 8 logs it with PXAT, and HINCRBYFLOAT as HSETEX key KEEPTTL FIELDS 1 f v).
    fn hsetex(&mut self, a: &[&[u8]]) -> Result<(), Error> {
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
        let h = typed!(self, a[1], Hash, Map::default(), "HSETEX");
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

    fn xadd(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 5)?;
        let mut i = 2;
        let mut nomkstream = false;
        if a[i].eq_ignore_ascii_case(b"NOMKSTREAM") {
            nomkstream = true;
            i += 1;
        }
        let (trim, next) = parse_trim(a, i)?;
        i = next;
        if a.get(i).is_none() {
            return Err(Error::Syntax("XADD without an id".into()));
        }
        let id = stream_id(a[i])?;
        let fields = &a[i + 1..];
        if fields.is_empty() || fields.len() % 2 != 0 {
            return Err(Error::Syntax("XADD fields".into()));
        }
        if nomkstream && !self.db_mut().contains_key(a[1]) {
            return Ok(());
        }
        let s = typed!(self, a[1], Stream, Box::default(), "XADD");
        if id <= s.last_id {
            return Err(Error::Syntax(format!(
                "XADD id {}-{} not after the last",
                id.ms, id.seq
            )));
        }
        s.last_id = id;
        s.entries_added += 1;
        let pairs = fields
            .chunks(2)
            .map(|p| (p[0].to_vec(), p[1].to_vec()))
            .collect();
        s.entries.insert(id, pairs);
        if let Some(t) = trim {
            trim_stream(s, t);
        }
        Ok(())
    }

    /// XCLAIM as the server logs it: `XCLAIM key group consumer min-idle id... [IDLE ms]
    /// [TIME ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]`.
    fn xclaim(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 6)?;
        let mut ids = Vec::new();
        let mut i = 5;
        while i < a.len() {
            match stream_id(a[i]) {
                Ok(id) if !a[i].iter().any(|b| b.is_ascii_alphabetic()) => ids.push(id),
                _ => break,
            }
            i += 1;
        }
        let (mut time, mut count, mut force, mut lastid) = (None, None, false, None);
        let now = self.now_ms;
        while i < a.len() {
            let arg = a.get(i + 1).copied();
            match (a[i].to_ascii_uppercase().as_slice(), arg) {
                (b"IDLE", Some(v)) => {
                    time = Some(now.saturating_sub(int(v)?));
                    i += 1;
                }
                (b"TIME", Some(v)) => {
                    time = Some(int(v)?);
                    i += 1;
                }
                (b"RETRYCOUNT", Some(v)) => {
                    count = Some(int(v)? as u64);
                    i += 1;
                }
                (b"LASTID", Some(v)) => {
                    lastid = Some(stream_id(v)?);
                    i += 1;
                }
                (b"FORCE", _) => force = true,
                (b"JUSTID", _) => {}
                (o, _) => return Err(Error::Syntax(format!("XCLAIM option {}", text(o)))),
            }
            i += 1;
        }
        let Some(s) = existing!(self, a[1], Stream, "XCLAIM") else {
            return Ok(());
        };
        let Some(g) = s.groups.iter_mut().find(|g| g.name == a[2]) else {
            return Ok(());
        };
        if let Some(l) = lastid {
            if l > g.last_id {
                g.last_id = l;
            }
        }
        let consumer = a[3].to_vec();
        if g.consumers.iter().all(|c| c.0 != consumer) {
            g.consumers.push((consumer.clone(), now, Some(now)));
        }
        for id in ids {
            if !s.entries.contains_key(&id) {
                // The entry is gone: the server drops it from the PEL.
                g.pel.remove(&id);
                continue;
            }
            let cur = g.pel.get(&id).cloned();
            if cur.is_none() && !force {
                continue;
            }
            let (t0, c0) = cur.map_or((now, 0), |p| (p.0, p.1));
            g.pel.insert(
                id,
                (
                    time.unwrap_or(t0),
                    count.unwrap_or(c0 + 1),
                    consumer.clone(),
                ),
            );
        }
        Ok(())
    }

    fn xgroup(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let sub = a[1].to_ascii_uppercase();
        match sub.as_slice() {
            b"CREATE" => {
                arity(a, 5)?;
                let mkstream = a[5..].iter().any(|x| x.eq_ignore_ascii_case(b"MKSTREAM"));
                let entries_read = entries_read_arg(a)?;
                if !mkstream && !self.db_mut().contains_key(a[2]) {
                    return Err(Error::Syntax("XGROUP CREATE on no key".into()));
                }
                let s: &mut Box<Stream> = typed!(self, a[2], Stream, Box::default(), "XGROUP");
                let last = group_start(s, a[4])?;
                if s.groups.iter().all(|g| g.name != a[3]) {
                    s.groups.push(Group {
                        name: a[3].to_vec(),
                        last_id: last,
                        entries_read,
                        pel: Default::default(),
                        consumers: Vec::new(),
                    });
                }
            }
            b"SETID" => {
                arity(a, 5)?;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP SETID") {
                    let last = group_start(s, a[4])?;
                    let entries_read = entries_read_arg(a)?;
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[3]) {
                        g.last_id = last;
                        g.entries_read = entries_read;
                    }
                }
            }
            b"DESTROY" => {
                arity(a, 4)?;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP DESTROY") {
                    s.groups.retain(|g| g.name != a[3]);
                }
            }
            b"CREATECONSUMER" => {
                arity(a, 5)?;
                let now = self.now_ms;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP CREATECONSUMER") {
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[3]) {
                        if g.consumers.iter().all(|c| c.0 != a[4]) {
                            g.consumers.push((a[4].to_vec(), now, Some(now)));
                        }
                    }
                }
            }
            b"DELCONSUMER" => {
                arity(a, 5)?;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP DELCONSUMER") {
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[3]) {
                        g.consumers.retain(|c| c.0 != a[4]);
                        g.pel.retain(|_, p| p.2 != a[4]);
                    }
                }
            }
            _ => return Err(Error::Unknown(format!("XGROUP {}", text(&sub)))),
        }
        Ok(())
    }

    fn function(&mut self, a: &[&[u8]]) -> Result<(), Error> {
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
}

/// How a stream is trimmed, as the server logs it (exact: `=`, or `~` rewritten by it).
#[derive(Clone, Copy)]
enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// Parses `[MAXLEN|MINID [=|~] threshold [LIMIT n]]` at `i`; returns it and the next index.
fn parse_trim(a: &[&[u8]], mut i: usize) -> Result<(Option<Trim>, usize), Error> {
    let Some(word) = a.get(i) else {
        return Ok((None, i));
    };
    let strategy = word.to_ascii_uppercase();
    if strategy != b"MAXLEN" && strategy != b"MINID" {
        return Ok((None, i));
    }
    i += 1;
    let mut approx = false;
    match a.get(i).copied() {
        Some(b"=") => i += 1,
        Some(b"~") => {
            approx = true;
            i += 1
        }
        _ => {}
    }
    let arg = a
        .get(i)
        .ok_or_else(|| Error::Syntax("trim threshold".into()))?;
    let t = if strategy == b"MAXLEN" {
        Trim::MaxLen(int(arg)?.max(0) as u64)
    } else {
        Trim::MinId(stream_id(arg)?)
    };
    i += 1;
    // LIMIT bounds an approximate trim only: the server logs the exact trim it made with the
    // LIMIT it was given, and ignores LIMIT when it loads the log.
    if a.get(i).is_some_and(|w| w.eq_ignore_ascii_case(b"LIMIT")) {
        i += 2;
    }
    if approx {
        // The server trims whole nodes then: what it removes depends on its node layout.
        return Err(Error::Unknown("approximate stream trimming (~)".into()));
    }
    Ok((Some(t), i))
}

fn trim_stream(s: &mut Stream, t: Trim) {
    match t {
        Trim::MaxLen(n) => {
            while s.entries.len() as u64 > n {
                s.entries.pop_first();
            }
        }
        Trim::MinId(min) => {
            while s.entries.first_key_value().is_some_and(|(id, _)| *id < min) {
                s.entries.pop_first();
            }
        }
    }
}

/// The `ENTRIESREAD n` of XGROUP CREATE / SETID; `None` when absent or -1 (unknown).
fn entries_read_arg(a: &[&[u8]]) -> Result<Option<u64>, Error> {
    match a
        .iter()
        .position(|x| x.eq_ignore_ascii_case(b"ENTRIESREAD"))
    {
        Some(p) => {
            let n = int(a.get(p + 1).copied().unwrap_or_default())?;
            Ok((n >= 0).then_some(n as u64))
        }
        None => Ok(None),
    }
}

/// A group's last delivered id as XGROUP gives it: an id, or `$` for the stream's last.
fn group_start(s: &Stream, arg: &[u8]) -> Result<StreamId, Error> {
    if arg == b"$" {
        Ok(s.last_id)
    } else {
        stream_id(arg)
    }
}

/// Members by (score, member), as the server orders a sorted set.
fn sorted(z: &Map<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    // -0 and 0 are equal scores (the members decide), as in the server.
    v.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    v
}

/// A score range end: `(1.5` (exclusive), `1.5`, `-inf`, `+inf`.
struct ScoreBound {
    v: f64,
    open: bool,
}

impl ScoreBound {
    /// Whether `s` is at or past this lower end.
    fn below(&self, s: f64) -> bool {
        if self.open {
            s > self.v
        } else {
            s >= self.v
        }
    }
    /// Whether `s` is at or before this upper end.
    fn above(&self, s: f64) -> bool {
        if self.open {
            s < self.v
        } else {
            s <= self.v
        }
    }
}

fn score_bound(b: &[u8]) -> Result<ScoreBound, Error> {
    match b.strip_prefix(b"(") {
        Some(rest) => Ok(ScoreBound {
            v: float(rest)?,
            open: true,
        }),
        None => Ok(ScoreBound {
            v: float(b)?,
            open: false,
        }),
    }
}

/// A lex range end: `-`, `+`, `[x` (inclusive), `(x` (exclusive).
enum LexBound {
    Min,
    Max,
    In(Vec<u8>),
    Ex(Vec<u8>),
}

fn lex_bound(b: &[u8]) -> Result<LexBound, Error> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if b.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::In(b[1..].to_vec())),
        Some(b'(') => Ok(LexBound::Ex(b[1..].to_vec())),
        _ => Err(Error::Syntax("lex range".into())),
    }
}

fn lex_ge(m: &[u8], lo: &LexBound) -> bool {
    match lo {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::In(x) => m >= x.as_slice(),
        LexBound::Ex(x) => m > x.as_slice(),
    }
}

fn lex_le(m: &[u8], hi: &LexBound) -> bool {
    match hi {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::In(x) => m <= x.as_slice(),
        LexBound::Ex(x) => m < x.as_slice(),
    }
}

fn name_str(name: &[u8]) -> &'static str {
    match name {
        b"RPOPLPUSH" => "RPOPLPUSH",
        _ => "LMOVE",
    }
}

/// The library name of `#!<engine> name=<lib> ...`.
pub(crate) fn library_name(code: &[u8]) -> Option<Vec<u8>> {
    let first = code.split(|&b| b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name="))
        .map(|n| n.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use crate::{Keyspace, Value};

    fn run(ks: &mut Keyspace, cmds: &[&str]) {
        for c in cmds {
            let parts: Vec<&[u8]> = c.split(' ').map(str::as_bytes).collect();
            ks.apply(&parts).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
    }

    fn get(ks: &Keyspace, key: &str) -> Option<Value> {
        Some(ks.dbs.get(&ks.db)?.get(key.as_bytes())?.to_entry().value)
    }

    // redis-server 7.0 gives "42" and "xyz" for the same commands.
    #[test]
    fn strings_and_counters() {
        let mut ks = Keyspace::new();
        run(
            &mut ks,
            &["SET a 1", "INCRBY a 41", "APPEND b xy", "APPEND b z"],
        );
        assert_eq!(get(&ks, "a"), Some(Value::Str(b"42".to_vec())));
        assert_eq!(get(&ks, "b"), Some(Value::Str(b"xyz".to_vec())));
        // 0.1 + 0.2 is "0.3" on the server (long double): not redone here.
        assert!(ks
            .apply(&[b"INCRBYFLOAT".as_slice(), b"g", b"0.1"])
            .is_err());
    }

    #[test]
    fn empty_collections_disappear() {
        let mut ks = Keyspace::new();
        run(
            &mut ks,
            &[
                "RPUSH l a",
                "LPOP l",
                "SADD s x",
                "SREM s x",
                "HSET h f v",
                "HDEL h f",
            ],
        );
        assert!(ks.is_empty());
    }

    #[test]
    fn transactions_apply_at_exec() {
        let mut ks = Keyspace::new();
        run(&mut ks, &["MULTI", "SET a 1"]);
        assert!(ks.is_empty() && ks.in_multi());
        run(&mut ks, &["EXEC"]);
        assert_eq!(ks.len(), 1);
    }

    /// The forms Redis 8 logs for HSETEX (EX/PX/EXAT rewritten to PXAT), HINCRBYFLOAT (HSETEX
    /// KEEPTTL with the result) and HGETEX (HPEXPIREAT with a condition, HPERSIST), read from
    /// its t_hash.c: no Redis 8 server runs here to record them.
    #[test]
    fn hash_field_ttl_forms_of_redis_8() {
        let mut ks = Keyspace::new();
        let field = |ks: &Keyspace, f: &str| -> Option<(Vec<u8>, Option<i64>)> {
            match get(ks, "h")? {
                Value::Hash(h) => h.get(f.as_bytes()).cloned(),
                _ => None,
            }
        };
        run(&mut ks, &["HSETEX h PXAT 5000 FIELDS 2 a 1 b 2"]);
        assert_eq!(field(&ks, "a"), Some((b"1".to_vec(), Some(5000))));
        run(&mut ks, &["HSETEX h KEEPTTL FIELDS 1 a 1.5"]);
        assert_eq!(field(&ks, "a"), Some((b"1.5".to_vec(), Some(5000))));
        run(&mut ks, &["HSETEX h FIELDS 1 a 7"]);
        assert_eq!(field(&ks, "a"), Some((b"7".to_vec(), None)));
        run(
            &mut ks,
            &["HSETEX h FNX FIELDS 1 a 0", "HSETEX h FXX FIELDS 2 a 0 c 0"],
        );
        assert_eq!(
            (field(&ks, "a").unwrap().0, field(&ks, "c")),
            (b"7".to_vec(), None)
        );
        run(
            &mut ks,
            &[
                "HPEXPIREAT h 6000 GT FIELDS 1 b",
                "HPEXPIREAT h 7000 LT FIELDS 1 b",
            ],
        );
        assert_eq!(field(&ks, "b").unwrap().1, Some(6000));
        run(
            &mut ks,
            &["HPEXPIREAT h 8000 NX FIELDS 2 a b", "HPERSIST h FIELDS 1 b"],
        );
        assert_eq!(
            (field(&ks, "a").unwrap().1, field(&ks, "b").unwrap().1),
            (Some(8000), None)
        );
        assert!(ks
            .apply(&[b"HSETEX".as_slice(), b"h", b"FIELDS", b"2", b"a", b"1"])
            .is_err());
    }

    /// A small collection the general path changed is packed again (a sorted set holding -0
    /// is not: the server keeps -0 only in a large one).
    #[test]
    fn general_path_results_are_packed_again() {
        let mut ks = Keyspace::new();
        let packed = |ks: &Keyspace, k: &str| {
            matches!(
                ks.dbs[&0].get(k.as_bytes()),
                Some(crate::Found::Packed { .. })
            )
        };
        run(&mut ks, &["HSET h f v", "LPUSH l a b c", "ZADD z 1 a"]);
        assert!(packed(&ks, "h") && packed(&ks, "l") && packed(&ks, "z"));
        run(&mut ks, &["HPEXPIREAT h 4102444800000 FIELDS 1 f"]);
        assert!(!packed(&ks, "h"), "a field TTL is not packed");
        run(
            &mut ks,
            &["HPERSIST h FIELDS 1 f", "LREM l 1 b", "ZADD z XX 2 a"],
        );
        assert!(packed(&ks, "h") && packed(&ks, "l") && packed(&ks, "z"));
        run(&mut ks, &["ZADD z XX -0 a"]);
        assert!(!packed(&ks, "z"));
        assert_eq!(
            get(&ks, "l"),
            Some(Value::List(Box::new(
                [b"c".to_vec(), b"a".to_vec()].into_iter().collect()
            )))
        );
    }

    #[test]
    fn unknown_commands_are_errors() {
        let mut ks = Keyspace::new();
        for cmd in [
            &[b"EVAL".as_slice(), b"return 1", b"0"][..],
            &[b"MODULE.CMD".as_slice(), b"k"],
            &[b"XTRIM".as_slice(), b"x", b"MAXLEN", b"~", b"10"],
        ] {
            assert!(
                matches!(ks.apply(cmd), Err(crate::Error::Unknown(_))),
                "{:?}",
                ks.apply(cmd)
            );
        }
    }
}
