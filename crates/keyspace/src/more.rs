//! Bit operations, sorted-set stores and RESTORE.

use crate::apply::expiry;
use crate::num::{float, int, uint};
use crate::{text, Entry, Error, Keyspace, Loader, Map, Value};

/// Strings are at most 512 MB.
const MAX_BITS: u64 = 512 * 8 * 1024 * 1024;

fn get_bits(s: &[u8], off: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let bit = off + i;
        let byte = (bit / 8) as usize;
        let b = s.get(byte).map_or(0, |x| (x >> (7 - bit % 8)) & 1);
        v = (v << 1) | u64::from(b);
    }
    v
}

fn set_bits(s: &mut Vec<u8>, off: u64, bits: u32, v: u64) {
    let need = ((off + bits as u64).div_ceil(8)) as usize;
    if s.len() < need {
        s.resize(need, 0);
    }
    for i in 0..bits as u64 {
        let bit = off + i;
        let byte = (bit / 8) as usize;
        let mask = 1u8 << (7 - bit % 8);
        if (v >> (bits as u64 - 1 - i)) & 1 == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// Applies `value` (SET) or `current + by` (INCRBY) to a field of `bits` bits, as the server's
/// `checkSignedBitfieldOverflow` / `checkUnsignedBitfieldOverflow` do; `None` when FAIL refuses.
fn field_result(signed: bool, bits: u32, current: i128, incr: i128, ow: Overflow) -> Option<u64> {
    let (min, max): (i128, i128) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let want = current + incr;
    let v = if want > max || want < min {
        match ow {
            Overflow::Fail => return None,
            Overflow::Sat => {
                if want > max {
                    max
                } else {
                    min
                }
            }
            Overflow::Wrap => want.rem_euclid(1i128 << bits),
        }
    } else {
        want
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    Some((v as u64) & mask)
}

impl Keyspace {
    fn string_mut(&mut self, key: &[u8], name: &str) -> Result<&mut Vec<u8>, Error> {
        let db = self.db_mut();
        let e = db.get_or_insert_with(key, || Entry {
            value: Value::Str(Vec::new()),
            expire_ms: None,
        });
        match &mut e.value {
            Value::Str(s) => Ok(s),
            other => Err(Error::WrongType(format!(
                "{name} on a {}",
                other.type_name()
            ))),
        }
    }

    pub(crate) fn setbit(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() != 4 {
            return Err(Error::Syntax("SETBIT key offset value".into()));
        }
        let off = int(a[2])?;
        if off < 0 || off as u64 >= MAX_BITS {
            return Err(Error::Syntax("SETBIT offset".into()));
        }
        let bit = match a[3] {
            b"0" => 0,
            b"1" => 1,
            _ => return Err(Error::Syntax("SETBIT value".into())),
        };
        let s = self.string_mut(a[1], "SETBIT")?;
        set_bits(s, off as u64, 1, bit);
        Ok(())
    }

    pub(crate) fn bitop(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 4 {
            return Err(Error::Syntax("BITOP op dest key...".into()));
        }
        let op = a[1].to_ascii_uppercase();
        let mut srcs = Vec::new();
        for k in &a[3..] {
            let v = self.string_value(k, "BITOP")?.unwrap_or_default();
            srcs.push(v.to_vec());
        }
        let len = srcs.iter().map(Vec::len).max().unwrap_or(0);
        let out: Vec<u8> = match op.as_slice() {
            b"NOT" if srcs.len() == 1 => srcs[0].iter().map(|b| !b).collect(),
            b"AND" | b"OR" | b"XOR" => (0..len)
                .map(|i| {
                    let mut it = srcs.iter().map(|s| s.get(i).copied().unwrap_or(0));
                    let first = it.next().unwrap_or(0);
                    it.fold(first, |acc, b| match op.as_slice() {
                        b"AND" => acc & b,
                        b"OR" => acc | b,
                        _ => acc ^ b,
                    })
                })
                .collect(),
            _ => return Err(Error::Unknown(format!("BITOP {}", text(&op)))),
        };
        let db = self.db_mut();
        if out.is_empty() {
            db.remove(a[2]);
        } else {
            db.insert(
                a[2],
                Entry {
                    value: Value::Str(out),
                    expire_ms: None,
                },
            );
        }
        Ok(())
    }

    pub(crate) fn bitfield(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 2 {
            return Err(Error::Syntax("BITFIELD key".into()));
        }
        let mut ow = Overflow::Wrap;
        let mut i = 2;
        // Parse every operation first: a bad one fails the whole command.
        let mut ops: Vec<(bool, bool, u32, u64, i64, Overflow)> = Vec::new(); // (incr, signed, bits, off, v, ow)
        while i < a.len() {
            let op = a[i].to_ascii_uppercase();
            match op.as_slice() {
                b"OVERFLOW" => {
                    ow = match a.get(i + 1).map(|x| x.to_ascii_uppercase()).as_deref() {
                        Some(b"WRAP") => Overflow::Wrap,
                        Some(b"SAT") => Overflow::Sat,
                        Some(b"FAIL") => Overflow::Fail,
                        _ => return Err(Error::Syntax("BITFIELD OVERFLOW".into())),
                    };
                    i += 2;
                }
                b"GET" => i += 3,
                b"SET" | b"INCRBY" => {
                    let (Some(t), Some(o), Some(v)) = (a.get(i + 1), a.get(i + 2), a.get(i + 3))
                    else {
                        return Err(Error::Syntax("BITFIELD operation".into()));
                    };
                    let signed = match t.first() {
                        Some(b'i') | Some(b'I') => true,
                        Some(b'u') | Some(b'U') => false,
                        _ => return Err(Error::Syntax("BITFIELD type".into())),
                    };
                    let bits: u32 = text(&t[1..])
                        .parse()
                        .map_err(|_| Error::Syntax("BITFIELD type".into()))?;
                    if bits == 0 || (signed && bits > 64) || (!signed && bits > 63) {
                        return Err(Error::Syntax("BITFIELD type".into()));
                    }
                    let off = match o.strip_prefix(b"#") {
                        Some(n) => uint(n)?.saturating_mul(bits as u64),
                        None => uint(o)?,
                    };
                    if off.saturating_add(bits as u64) > MAX_BITS {
                        return Err(Error::Syntax("BITFIELD offset".into()));
                    }
                    ops.push((op.as_slice() == b"INCRBY", signed, bits, off, int(v)?, ow));
                    i += 4;
                }
                _ => return Err(Error::Syntax(format!("BITFIELD {}", text(&op)))),
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        let s = self.string_mut(a[1], "BITFIELD")?;
        // The server first grows the string to the last field written, even when OVERFLOW
        // FAIL then skips that write.
        let end = ops.iter().map(|o| o.3 + u64::from(o.2)).max().unwrap_or(0);
        if (s.len() as u64) < end.div_ceil(8) {
            s.resize(end.div_ceil(8) as usize, 0);
        }
        for (incr, signed, bits, off, v, ow) in ops {
            let raw = get_bits(s, off, bits);
            let current: i128 = if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
                raw as i128 - (1i128 << bits)
            } else if signed && bits == 64 {
                raw as i64 as i128
            } else {
                raw as i128
            };
            let result = if incr {
                field_result(signed, bits, current, v as i128, ow)
            } else {
                // SET: the new value, checked (and wrapped or saturated) like an increment
                // from zero; an unsigned field reads it as unsigned (-1 is 2^64 - 1).
                let v = if signed { v as i128 } else { v as u64 as i128 };
                field_result(signed, bits, 0, v, ow)
            };
            if let Some(r) = result {
                set_bits(s, off, bits, r);
            }
        }
        Ok(())
    }

    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE dest numkeys key... [WEIGHTS w...] [AGGREGATE
    /// SUM|MIN|MAX]; sets count as members of score 1.
    pub(crate) fn zstore(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 4 {
            return Err(Error::Syntax("Z*STORE dest numkeys key...".into()));
        }
        let n = uint(a[2])? as usize;
        if n == 0 || a.len() < 3 + n {
            return Err(Error::Syntax("Z*STORE numkeys".into()));
        }
        let mut weights = vec![1.0f64; n];
        let mut agg = b"SUM".to_vec();
        let mut i = 3 + n;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"WEIGHTS" if i + n < a.len() => {
                    for (k, w) in weights.iter_mut().enumerate() {
                        *w = float(a[i + 1 + k])?;
                    }
                    i += 1 + n;
                }
                b"AGGREGATE" if i + 1 < a.len() => {
                    agg = a[i + 1].to_ascii_uppercase();
                    i += 2;
                }
                _ => return Err(Error::Syntax("Z*STORE option".into())),
            }
        }
        let mut srcs: Vec<Map<Vec<u8>, f64>> = Vec::new();
        for k in &a[3..3 + n] {
            let Some(found) = self.db_mut().get(k) else {
                srcs.push(Map::default());
                continue;
            };
            let z = match found.value().as_deref() {
                Some(Value::ZSet(z)) => (**z).clone(),
                Some(Value::Set(s)) => s.iter().map(|m| (m.clone(), 1.0)).collect(),
                _ => {
                    return Err(Error::WrongType(format!(
                        "Z*STORE on a {}",
                        found.type_name()
                    )))
                }
            };
            srcs.push(z);
        }
        let combine = |acc: f64, v: f64| -> f64 {
            match agg.as_slice() {
                b"MIN" => acc.min(v),
                b"MAX" => acc.max(v),
                _ => {
                    let s = acc + v;
                    if s.is_nan() {
                        0.0
                    } else {
                        s
                    }
                }
            }
        };
        let weighted = |v: f64, w: f64| -> f64 {
            let s = v * w;
            if s.is_nan() {
                0.0
            } else {
                s
            }
        };
        let mut out: Map<Vec<u8>, f64> = Map::default();
        match name {
            b"ZUNIONSTORE" => {
                for (z, w) in srcs.iter().zip(&weights) {
                    for (m, v) in z {
                        let v = weighted(*v, *w);
                        out.entry(m.clone())
                            .and_modify(|acc| *acc = combine(*acc, v))
                            .or_insert(v);
                    }
                }
            }
            b"ZINTERSTORE" => {
                if let Some(first) = srcs.first() {
                    'm: for (m, v) in first {
                        let mut acc = weighted(*v, weights[0]);
                        for (z, w) in srcs.iter().zip(&weights).skip(1) {
                            match z.get(m) {
                                Some(x) => acc = combine(acc, weighted(*x, *w)),
                                None => continue 'm,
                            }
                        }
                        out.insert(m.clone(), acc);
                    }
                }
            }
            _ => {
                if let Some(first) = srcs.first() {
                    for (m, v) in first {
                        if srcs[1..].iter().all(|z| !z.contains_key(m)) {
                            out.insert(m.clone(), *v);
                        }
                    }
                }
            }
        }
        self.store_zset(a[1], out.into_iter().collect());
        Ok(())
    }

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]: the payload is a
    /// value as DUMP writes it (type, value, RDB version, CRC64), read with the RDB parser.
    pub(crate) fn restore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 4 {
            return Err(Error::Syntax("RESTORE key ttl payload".into()));
        }
        let ttl = int(a[2])?;
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

    /// The value at `key` in the selected database, read without moving it.
    pub(crate) fn found(&self, key: &[u8]) -> Option<crate::Found<'_>> {
        self.dbs.get(&self.db)?.get(key)
    }

    /// Writes `members` as the sorted set at `dest` (without a TTL), or deletes `dest` when
    /// there is none, as the *STORE commands do.
    pub(crate) fn store_zset(&mut self, dest: &[u8], members: Vec<(Vec<u8>, f64)>) {
        let db = self.db_mut();
        if members.is_empty() {
            db.remove(dest);
        } else {
            let z = Box::new(members.into_iter().collect());
            db.insert(
                dest,
                Entry {
                    value: Value::ZSet(z),
                    expire_ms: None,
                },
            );
        }
    }

    /// GEOSEARCHSTORE, and GEORADIUS / GEORADIUSBYMEMBER with STORE or STOREDIST.
    pub(crate) fn geo_store(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        let src = crate::geo::geo_source_key(a)?;
        let stored = match self.found(src) {
            None => crate::geo::geo_store(a, None)?,
            Some(f) => match f.value().as_deref() {
                Some(Value::ZSet(z)) => crate::geo::geo_store(a, Some(z))?,
                _ => {
                    return Err(Error::WrongType(format!(
                        "{} on a {}",
                        text(a[0]),
                        f.type_name()
                    )))
                }
            },
        };
        self.store_zset(&stored.dest, stored.members);
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
        let lookup = |key: &[u8], field: Option<&[u8]>| -> Option<Vec<u8>> {
            let f = self.found(key)?;
            match field {
                None => f.str().map(<[u8]>::to_vec),
                Some(field) => match f.value()?.as_ref() {
                    Value::Hash(h) => h.get(field).map(|(v, _)| v.clone()),
                    _ => None,
                },
            }
        };
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

    /// FUNCTION RESTORE payload [FLUSH | APPEND | REPLACE]: the libraries of a FUNCTION DUMP.
    pub(crate) fn function_restore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 3 || a.len() > 4 {
            return Err(Error::Syntax("FUNCTION RESTORE payload [policy]".into()));
        }
        let policy = a.get(3).map(|p| p.to_ascii_uppercase()).unwrap_or_default();
        let (body, version) = dump_payload(a[2], "FUNCTION RESTORE")?;
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

/// The value and RDB version of a DUMP payload (`value, version: 2 bytes, CRC-64: 8 bytes`),
/// its checksum checked (0: not computed).
fn dump_payload<'a>(p: &'a [u8], what: &str) -> Result<(&'a [u8], u32), Error> {
    if p.len() < 10 {
        return Err(Error::Syntax(format!("{what} payload too short")));
    }
    let (body, crc) = p.split_at(p.len() - 8);
    let stored = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
    d.update(body);
    if stored != 0 && stored != d.finalize() {
        return Err(Error::Syntax(format!("{what} payload checksum")));
    }
    let (value, ver) = body.split_at(body.len() - 2);
    Ok((value, u16::from_le_bytes([ver[0], ver[1]]) as u32))
}

/// The header of an RDB file of `version`.
fn rdb_magic(version: u32) -> Vec<u8> {
    if version >= 80 {
        format!("VALKEY{version:03}").into_bytes()
    } else {
        format!("REDIS{version:04}").into_bytes()
    }
}

/// Loads `rdb` (a header and records; the end and a disabled checksum are added here).
fn load_rdb(mut rdb: Vec<u8>, what: &str) -> Result<Keyspace, Error> {
    rdb.push(0xFF);
    rdb.extend_from_slice(&[0; 8]);
    let mut tmp = Keyspace::new();
    let mut loader = Loader::new();
    let mut parser = rdb_parse::Parser::new(&rdb[..]);
    loop {
        match parser.next_event() {
            Ok(Some(ev)) => loader
                .event(&mut tmp, &ev)
                .map_err(|e| Error::Unknown(format!("{what} of {}", e.0)))?,
            Ok(None) => return Ok(tmp),
            Err(e) => return Err(Error::Syntax(format!("{what} payload: {}", e.kind()))),
        }
    }
}
