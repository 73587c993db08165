//! Applying one command: the packed fast path for the common writes to small collections,
//! else the general path, which dispatches by name to the families of [`crate::cmd`].

use crate::cmd::scripting::script_effects_missing;
use crate::cmd::strings::float_increment;
use crate::num::{float, int};
use crate::{text, Error, Keyspace};

impl Keyspace {
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

    /// Applies one command whose name is in capitals (MULTI and EXEC are handled before).
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

    /// The general path: every command by name, family by family.
    fn apply_general(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        match name {
            // databases and keys (cmd/keys.rs)
            b"SELECT" => self.select(a),
            b"FLUSHDB" => self.flushdb(),
            b"FLUSHALL" => self.flushall(),
            b"SWAPDB" => self.swapdb(a),
            b"DEL" | b"UNLINK" => self.del(a),
            b"EXPIREAT" | b"PEXPIREAT" | b"EXPIRE" | b"PEXPIRE" => self.expire(name, a),
            b"PERSIST" => self.persist(a),
            b"RENAME" | b"RENAMENX" => self.rename(name, a),
            b"MOVE" => self.move_key(a),
            b"COPY" => self.copy(a),
            b"RESTORE" => self.restore(a),
            b"SORT" => self.sort_store(a),
            // strings (cmd/strings.rs)
            b"SET" => self.set(a),
            b"SETNX" => self.setnx(a),
            b"SETEX" | b"PSETEX" => self.setex(name, a),
            b"GETSET" => self.getset(a),
            b"GETDEL" => self.getdel(a),
            b"MSET" => self.mset(a),
            b"MSETNX" => self.msetnx(a),
            b"APPEND" => self.append(a),
            b"SETRANGE" => self.setrange(a),
            b"INCR" | b"DECR" => self.incr(name, a),
            b"INCRBY" => self.incrby(a),
            b"DECRBY" => self.decrby(a),
            b"INCRBYFLOAT" | b"HINCRBYFLOAT" => Err(float_increment(name)),
            b"PFADD" | b"PFMERGE" | b"PFCOUNT" | b"PFDEBUG" => self.hyperloglog(name, a),
            // bitmaps (cmd/bits.rs)
            b"SETBIT" => self.setbit(a),
            b"BITOP" => self.bitop(a),
            b"BITFIELD" => self.bitfield(a),
            // lists (cmd/lists.rs)
            b"RPUSH" | b"LPUSH" | b"RPUSHX" | b"LPUSHX" => self.push(name, a),
            b"LPOP" | b"RPOP" => self.pop(name, a),
            b"LSET" => self.lset(a),
            b"LTRIM" => self.ltrim(a),
            b"LREM" => self.lrem(a),
            b"LINSERT" => self.linsert(a),
            b"RPOPLPUSH" | b"LMOVE" => self.lmove(name, a),
            // sets (cmd/sets.rs)
            b"SADD" => self.sadd(a),
            b"SREM" => self.srem(a),
            b"SMOVE" => self.smove(a),
            b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" => self.set_store(name, a),
            // sorted sets and GEO (cmd/zsets.rs)
            b"ZADD" => self.zadd(a),
            b"GEOADD" => self.geoadd(a),
            b"ZINCRBY" => self.zincrby(a),
            b"ZPOPMIN" | b"ZPOPMAX" => self.zpop(name, a),
            b"ZREMRANGEBYRANK" => self.zremrangebyrank(a),
            b"ZREMRANGEBYSCORE" => self.zremrangebyscore(a),
            b"ZREMRANGEBYLEX" => self.zremrangebylex(a),
            b"ZREM" => self.zrem(a),
            b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => self.zstore(name, a),
            b"ZRANGESTORE" => self.zrangestore(a),
            b"GEOSEARCHSTORE" | b"GEORADIUS" | b"GEORADIUSBYMEMBER" => self.geo_store(a),
            // hashes (cmd/hashes.rs)
            b"HSET" | b"HMSET" => self.hset(a),
            b"HSETNX" => self.hsetnx(a),
            b"HDEL" => self.hdel(a),
            b"HINCRBY" => self.hincrby(a),
            b"HPEXPIREAT" => self.hpexpireat(a),
            b"HPERSIST" => self.hpersist(a),
            b"HSETEX" => self.hsetex(a),
            // streams (cmd/streams.rs)
            b"XADD" => self.xadd(a),
            b"XGROUP" => self.xgroup(a),
            b"XCLAIM" => self.xclaim(a),
            b"XTRIM" => self.xtrim(a),
            b"XSETID" => self.xsetid(a),
            b"XDEL" => self.xdel(a),
            b"XACK" => self.xack(a),
            // functions and scripts (cmd/scripting.rs)
            b"FUNCTION" => self.function(a),
            b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" => {
                Err(script_effects_missing(name))
            }
            // SCRIPT LOAD/FLUSH (logged by servers that replicated scripts verbatim) change no key.
            b"PING" | b"PUBLISH" | b"SCRIPT" => Ok(()),
            _ => Err(Error::Unknown(text(name))),
        }
    }
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
