//! A keyspace as a stream of RDB events, to any [`rdb_parse::Sink`]: what an RDB of the
//! chosen version holding the dataset would give its reader. Writing an RDB, and every other
//! job on a replayed dataset, is a sink of this stream.

use crate::{packed, Found, Keyspace, Value};
use rdb_parse::{
    Encoding, Family, KeyEnd, KeyInfo, RdbType, Sink, Str, StreamId, StreamMeta, ValueType,
};

/// The type and encoding a key is announced with: the plain encoding of its type (the
/// server's own choice of encoding is the writer's business).
fn plain(value_type: ValueType, field_ttls: bool) -> (RdbType, Encoding) {
    match value_type {
        ValueType::String => (RdbType::STRING, Encoding::String),
        ValueType::List => (RdbType::LIST_QUICKLIST_2, Encoding::Quicklist2),
        ValueType::Set => (RdbType::SET, Encoding::Hashtable),
        ValueType::Zset => (RdbType::ZSET_2, Encoding::Skiplist),
        ValueType::Hash if field_ttls => (RdbType::HASH_METADATA, Encoding::HashtableEx),
        ValueType::Hash => (RdbType::HASH, Encoding::Hashtable),
        _ => (RdbType::STREAM_LISTPACKS_3, Encoding::StreamV3),
    }
}

/// Sorted-set members in the order the server keeps them (and an RDB holds them): by score,
/// then by member bytes; -0 and 0 are equal scores, as in the server's comparison.
fn in_score_order(mut members: Vec<(&[u8], f64)>) -> Vec<(&[u8], f64)> {
    members.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(b.0))
    });
    members
}

/// Entries of an intset at most (`set-max-intset-entries`, the same default in every server).
const MAX_INTSET_ENTRIES: usize = 512;

/// Set members in the order an RDB holds them: a small set of integers only as an intset
/// (sorted by value), any other in the keyspace's own order.
fn set_order(mut members: Vec<&[u8]>) -> Vec<&[u8]> {
    if members.len() > MAX_INTSET_ENTRIES {
        return members;
    }
    let ints: Option<Vec<i64>> = members.iter().map(|m| crate::num::string2ll(m)).collect();
    if let Some(ints) = ints {
        let mut pairs: Vec<(i64, &[u8])> = ints.into_iter().zip(members).collect();
        pairs.sort_unstable_by_key(|p| p.0);
        return pairs.into_iter().map(|p| p.1).collect();
    }
    members.shrink_to_fit();
    members
}

impl Keyspace {
    /// Feeds the dataset to `sink` as the events of an RDB of `version`: the header, the
    /// function libraries, then each database in order (`select_db`, `resize_db`) with its keys,
    /// each announced by `key_start` with its expiry and the plain encoding of its type, then the
    /// end. The events carry no offsets (0) and the end no checksum.
    pub fn emit<S: Sink>(&self, version: u32, sink: &mut S) -> Result<(), S::Error> {
        let family = if version >= 80 {
            Family::Valkey
        } else {
            Family::Redis
        };
        sink.header(family, version)?;
        for code in self.functions.values() {
            sink.function(Str::Bytes(code))?;
        }
        for (db, keys) in &self.dbs {
            if keys.is_empty() {
                continue;
            }
            db_start(*db, keys, sink)?;
            for (key, found) in keys.iter() {
                emit_key(*db, key, &found, sink)?;
            }
        }
        sink.eof(None, 0)
    }
}

/// The events before a database's keys: its number, then its key and expiry counts.
pub(crate) fn db_start<S: Sink>(db: u64, keys: &crate::Db, sink: &mut S) -> Result<(), S::Error> {
    sink.select_db(db)?;
    sink.resize_db(keys.len() as u64, keys.expires() as u64)
}

pub(crate) fn emit_key<S: Sink>(
    db: u64,
    key: &[u8],
    found: &Found<'_>,
    sink: &mut S,
) -> Result<(), S::Error> {
    let start = |sink: &mut S, value_type, ttls: bool, len: Option<u64>| {
        let (rdb_type, encoding) = plain(value_type, ttls);
        sink.key_start(&KeyInfo {
            db,
            key: Str::Bytes(key),
            rdb_type,
            value_type,
            encoding,
            blob_bytes: None,
            max_element: None,
            expire_ms: found.expire_ms(),
            idle_s: None,
            freq: None,
            len,
            offset: 0,
        })
    };
    let end = |sink: &mut S, elements: u64, volatile_fields: u64| {
        sink.key_end(&KeyEnd {
            offset: 0,
            elements,
            volatile_fields,
        })
    };
    if let Some(s) = found.str() {
        start(sink, ValueType::String, false, Some(1))?;
        sink.element(Str::Bytes(s))?;
        return end(sink, 1, 0);
    }
    if let Found::Packed { kind, payload, .. } = *found {
        let n = packed::len(kind, payload) as u64;
        let mut items = packed::items(payload);
        match kind {
            packed::Kind::List => {
                start(sink, ValueType::List, false, Some(n))?;
                for v in items {
                    sink.element(Str::Bytes(v))?;
                }
            }
            packed::Kind::Set => {
                start(sink, ValueType::Set, false, Some(n))?;
                for v in set_order(items.collect()) {
                    sink.element(Str::Bytes(v))?;
                }
            }
            packed::Kind::ZSet => {
                start(sink, ValueType::Zset, false, Some(n))?;
                let mut members = Vec::with_capacity(n as usize);
                while let (Some(m), Some(s)) = (items.next(), items.next()) {
                    members.push((m, f64::from_le_bytes(s.try_into().expect("8-byte score"))));
                }
                for (m, s) in in_score_order(members) {
                    sink.zmember(Str::Bytes(m), s)?;
                }
            }
            packed::Kind::Hash => {
                start(sink, ValueType::Hash, false, Some(n))?;
                while let (Some(f), Some(v)) = (items.next(), items.next()) {
                    sink.hash_field(Str::Bytes(f), Str::Bytes(v), None)?;
                }
            }
        }
        return end(sink, n, 0);
    }
    let value = found.value().expect("not a string");
    match value.as_ref() {
        Value::Str(_) => unreachable!("strings are emitted above"),
        Value::List(l) => {
            start(sink, ValueType::List, false, Some(l.len() as u64))?;
            for v in l.iter() {
                sink.element(Str::Bytes(v))?;
            }
            end(sink, l.len() as u64, 0)
        }
        Value::Set(s) => {
            start(sink, ValueType::Set, false, Some(s.len() as u64))?;
            for v in set_order(s.iter().map(Vec::as_slice).collect()) {
                sink.element(Str::Bytes(v))?;
            }
            end(sink, s.len() as u64, 0)
        }
        Value::ZSet(z) => {
            start(sink, ValueType::Zset, false, Some(z.len() as u64))?;
            let members = z.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
            for (m, s) in in_score_order(members) {
                sink.zmember(Str::Bytes(m), s)?;
            }
            end(sink, z.len() as u64, 0)
        }
        Value::Hash(h) => {
            let volatile = h.values().filter(|(_, t)| t.is_some()).count() as u64;
            start(sink, ValueType::Hash, volatile > 0, Some(h.len() as u64))?;
            for (f, (v, t)) in h.iter() {
                sink.hash_field(Str::Bytes(f), Str::Bytes(v), *t)?;
            }
            end(sink, h.len() as u64, volatile)
        }
        Value::Stream(s) => {
            start(sink, ValueType::Stream, false, None)?;
            for (id, fields) in &s.entries {
                sink.stream_entry(*id, fields.len() as u64)?;
                for (f, v) in fields {
                    sink.stream_field(Str::Bytes(f), Str::Bytes(v))?;
                }
            }
            let first = s.entries.keys().next().copied().unwrap_or_default();
            sink.stream_meta(&StreamMeta {
                length: s.entries.len() as u64,
                live_entries: s.entries.len() as u64,
                last_id: s.last_id,
                first_id: Some(first),
                max_deleted_id: Some(s.max_deleted_id),
                entries_added: Some(s.entries_added),
                groups: s.groups.len() as u64,
                stored_nodes: None,
            })?;
            for g in &s.groups {
                sink.stream_group(
                    Str::Bytes(&g.name),
                    g.last_id,
                    g.entries_read,
                    g.pel.len() as u64,
                )?;
                for (id, (t, c, _)) in &g.pel {
                    sink.stream_pending(*id, *t, *c)?;
                }
                sink.stream_consumers(g.consumers.len() as u64)?;
                for (name, seen, active) in &g.consumers {
                    let owned: Vec<StreamId> = g
                        .pel
                        .iter()
                        .filter(|(_, p)| &p.2 == name)
                        .map(|(id, _)| *id)
                        .collect();
                    sink.stream_consumer(Str::Bytes(name), *seen, *active, owned.len() as u64)?;
                    for id in owned {
                        sink.stream_consumer_pending(id)?;
                    }
                }
            }
            end(sink, s.entries.len() as u64, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the calls as lines.
    #[derive(Default)]
    struct Trace(Vec<String>);

    impl Sink for Trace {
        type Error = std::convert::Infallible;
        fn header(&mut self, f: Family, v: u32) -> Result<(), Self::Error> {
            self.0.push(format!("header {} {v}", f.magic()));
            Ok(())
        }
        fn select_db(&mut self, db: u64) -> Result<(), Self::Error> {
            self.0.push(format!("db {db}"));
            Ok(())
        }
        fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Self::Error> {
            self.0.push(format!(
                "key {} {} {:?}",
                String::from_utf8_lossy(&info.key.to_vec()),
                info.encoding.name(),
                info.expire_ms
            ));
            Ok(())
        }
        fn element(&mut self, v: Str<'_>) -> Result<(), Self::Error> {
            self.0
                .push(String::from_utf8_lossy(&v.to_vec()).into_owned());
            Ok(())
        }
        fn zmember(&mut self, m: Str<'_>, s: f64) -> Result<(), Self::Error> {
            self.0
                .push(format!("{} {s}", String::from_utf8_lossy(&m.to_vec())));
            Ok(())
        }
        fn hash_field(
            &mut self,
            f: Str<'_>,
            _: Str<'_>,
            t: Option<i64>,
        ) -> Result<(), Self::Error> {
            self.0
                .push(format!("{} {t:?}", String::from_utf8_lossy(&f.to_vec())));
            Ok(())
        }
        fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
            self.0
                .push(format!("end {} {}", end.elements, end.volatile_fields));
            Ok(())
        }
        fn eof(&mut self, _: Option<u64>, _: u64) -> Result<(), Self::Error> {
            self.0.push("eof".into());
            Ok(())
        }
    }

    fn run(ks: &mut Keyspace, cmds: &[&[&str]]) {
        crate::apply_all(ks, cmds);
    }

    #[test]
    fn events_in_the_order_an_rdb_holds_them() {
        let mut ks = Keyspace::new();
        run(
            &mut ks,
            &[
                &["ZADD", "z", "10", "b", "9", "c", "10", "a", "-1", "d"],
                &["SADD", "ints", "30", "-4", "7"],
                &["SELECT", "3"],
                &["SET", "s", "v"],
                &["PEXPIREAT", "s", "4000000000000"],
            ],
        );
        let mut t = Trace::default();
        ks.emit(12, &mut t).unwrap();
        let want = [
            "header REDIS 12",
            "db 0",
            "key ints hashtable None",
            "-4",
            "7",
            "30",
            "end 3 0",
            "key z skiplist None",
            "d -1",
            "c 9",
            "a 10",
            "b 10",
            "end 4 0",
            "db 3",
            "key s string Some(4000000000000)",
            "v",
            "end 1 0",
            "eof",
        ];
        // Keys of one database come in the keyspace's order: compare them as a set.
        let got = t.0.join("\n");
        for w in want {
            assert!(got.contains(w), "{w} missing in:\n{got}");
        }
        let pos = |s: &str| t.0.iter().position(|l| l == s).unwrap();
        assert!(pos("-4") < pos("7") && pos("7") < pos("30"));
        assert!(pos("d -1") < pos("c 9") && pos("c 9") < pos("a 10") && pos("a 10") < pos("b 10"));
        assert!(pos("db 3") < pos("key s string Some(4000000000000)"));
    }

    #[test]
    fn field_ttls_are_announced_and_counted() {
        let mut ks = Keyspace::new();
        run(
            &mut ks,
            &[
                &["HSET", "h", "f", "1", "g", "2"],
                &["HPEXPIREAT", "h", "4000000000000", "FIELDS", "1", "f"],
            ],
        );
        let mut t = Trace::default();
        ks.emit(12, &mut t).unwrap();
        assert!(
            t.0.contains(&"key h hashtable-ex None".to_string()),
            "{:?}",
            t.0
        );
        assert!(
            t.0.contains(&"f Some(4000000000000)".to_string()),
            "{:?}",
            t.0
        );
        assert!(t.0.contains(&"end 2 1".to_string()), "{:?}", t.0);
    }
}
