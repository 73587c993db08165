//! Databases and keys: SELECT, FLUSHDB, FLUSHALL, SWAPDB, DEL, UNLINK, the EXPIRE family,
//! PERSIST, RENAME, MOVE, COPY, RESTORE, and SORT ... STORE (see [`crate::sort`]).

use super::args::{arity, db_index, expiry};
use super::dump::{dump_payload, load_rdb, rdb_magic, value_type};
use crate::num::int;
use crate::{text, Entry, Error, Keyspace, Value};
use std::borrow::Cow;

impl Keyspace {
    /// SELECT db: the database the commands after it change.
    pub(crate) fn select(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        self.db = db_index(a[1])?;
        Ok(())
    }

    /// FLUSHDB: empties the selected database.
    pub(crate) fn flushdb(&mut self) -> Result<(), Error> {
        self.db_mut().clear();
        Ok(())
    }

    /// FLUSHALL: empties every database.
    pub(crate) fn flushall(&mut self) -> Result<(), Error> {
        self.dbs.clear();
        Ok(())
    }

    /// SWAPDB a b.
    pub(crate) fn swapdb(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let (x, y) = (db_index(a[1])?, db_index(a[2])?);
        let dx = self.dbs.remove(&x).unwrap_or_default();
        let dy = self.dbs.remove(&y).unwrap_or_default();
        self.dbs.insert(x, dy);
        self.dbs.insert(y, dx);
        Ok(())
    }

    /// DEL / UNLINK key...
    pub(crate) fn del(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        let db = self.db_mut();
        for k in &a[1..] {
            db.remove(k);
        }
        Ok(())
    }

    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key n [NX | XX | GT | LT]; relative times count
    /// from `now_ms`.
    pub(crate) fn expire(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let n = int(a[2])?;
        let ms = match name {
            b"PEXPIREAT" => n,
            b"EXPIREAT" => expiry(0, n, 1000)?,
            b"EXPIRE" => expiry(self.now_ms, n, 1000)?,
            _ => expiry(self.now_ms, n, 1)?,
        };
        self.expire_at(a[1], ms, &a[3..])?;
        Ok(())
    }

    /// PERSIST key.
    pub(crate) fn persist(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        self.db_mut().set_expire(a[1], None);
        Ok(())
    }

    /// RENAME / RENAMENX key newkey: the value moves with its TTL.
    pub(crate) fn rename(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let db = self.db_mut();
        if name == b"RENAMENX" && db.contains_key(a[2]) {
            return Ok(());
        }
        if let Some(e) = db.remove(a[1]) {
            db.insert(a[2], e);
        }
        Ok(())
    }

    /// MOVE key db: only when db does not hold the key.
    pub(crate) fn move_key(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let to = db_index(a[2])?;
        let exists = self.dbs.get(&to).is_some_and(|d| d.contains_key(a[1]));
        if !exists {
            if let Some(e) = self.db_mut().remove(a[1]) {
                self.dbs.entry(to).or_default().insert(a[1], e);
            }
        }
        Ok(())
    }

    /// COPY source destination [DB n] [REPLACE].
    pub(crate) fn copy(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let mut to = self.db;
        let mut replace = false;
        let mut i = 3;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"DB" if i + 1 < a.len() => {
                    to = db_index(a[i + 1])?;
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
        Ok(())
    }

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]: the payload is a
    /// value as DUMP writes it (type, value, RDB version, CRC64), read with the RDB parser.
    pub(crate) fn restore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 4 {
            return Err(Error::Syntax("RESTORE key ttl payload".into()));
        }
        let ttl = int(a[2])?;
        if ttl < 0 {
            return Err(Error::Syntax(
                "RESTORE: invalid TTL value, must be >= 0".into(),
            ));
        }
        let (mut replace, mut abs) = (false, false);
        let mut i = 4;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"REPLACE" => replace = true,
                b"ABSTTL" => abs = true,
                b"IDLETIME" | b"FREQ" => i += 1,
                _ => return Err(Error::Syntax("RESTORE option".into())),
            }
            i += 1;
        }
        if !replace && self.db_mut().contains_key(a[1]) {
            return Err(Error::Syntax(
                "RESTORE onto an existing key without REPLACE".into(),
            ));
        }
        let (value, version) = dump_payload(a[3], "RESTORE")?;
        if value.is_empty() {
            return Err(Error::Syntax("RESTORE payload without a value".into()));
        }
        value_type(value, "RESTORE")?;
        // A one-key RDB around the value.
        let mut rdb = rdb_magic(version);
        rdb.push(value[0]);
        rdb.push(1);
        rdb.push(b'k');
        rdb.extend_from_slice(&value[1..]);
        let mut tmp = load_rdb(rdb, "RESTORE")?;
        let mut entry = tmp
            .dbs
            .remove(&0)
            .and_then(|mut d| d.remove(&b"k"[..]))
            .ok_or_else(|| Error::Syntax("RESTORE payload without a value".into()))?;
        entry.expire_ms = match (ttl, abs) {
            (0, _) => None,
            (t, true) => Some(t),
            (t, false) => Some(expiry(self.now_ms, t, 1)?),
        };
        self.db_mut().insert(a[1], entry);
        Ok(())
    }

    /// SORT ... STORE: the sorted list at the destination (deleted when empty). BY and GET
    /// patterns read strings and hash fields of the selected database.
    pub(crate) fn sort_store(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        use crate::sort::SortSource;
        let src = crate::sort::sort_source_key(a)?;
        let found = self.found(src);
        let value = found.and_then(|f| f.value());
        let source = match (found, value.as_deref()) {
            (None, _) => SortSource::Missing,
            (_, Some(Value::List(l))) => SortSource::List(l.iter().map(Vec::as_slice).collect()),
            (_, Some(Value::Set(s))) => SortSource::Set(s.iter().map(Vec::as_slice).collect()),
            (_, Some(Value::ZSet(z))) => {
                SortSource::ZSet(z.iter().map(|(m, s)| (m.as_slice(), *s)).collect())
            }
            (Some(f), _) => return Err(Error::WrongType(format!("SORT on a {}", f.type_name()))),
        };
        let lookup = |key: &[u8], field: Option<&[u8]>| self.sort_lookup(key, field);
        let Some((dest, list)) = crate::sort::sort_store(a, source, &lookup)? else {
            return Ok(()); // no STORE: nothing changes
        };
        let db = self.db_mut();
        if list.is_empty() {
            db.remove(&dest);
        } else {
            let l = Box::new(list.into_iter().collect());
            db.insert(
                &dest,
                Entry {
                    value: Value::List(l),
                    expire_ms: None,
                },
            );
        }
        Ok(())
    }

    /// What a BY or GET pattern of SORT reads: the string at `key`, or the value of `field` in
    /// the hash at `key`; borrowed, except a field of a packed hash (at most 64 bytes).
    fn sort_lookup(&self, key: &[u8], field: Option<&[u8]>) -> Option<Cow<'_, [u8]>> {
        let f = self.found(key)?;
        match field {
            None => f.str().map(Cow::Borrowed),
            Some(field) => match f.value()? {
                Cow::Borrowed(Value::Hash(h)) => {
                    h.get(field).map(|(v, _)| Cow::Borrowed(v.as_slice()))
                }
                Cow::Owned(Value::Hash(mut h)) => h.remove(field).map(|(v, _)| Cow::Owned(v)),
                _ => None,
            },
        }
    }

    /// Sets the expiry of `key`, when it exists and the conditions in `opts` hold.
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
}
