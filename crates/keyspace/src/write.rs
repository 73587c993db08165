//! Writing a keyspace as an RDB file, in the encodings the target server writes.

use crate::{packed, Found, Keyspace, Value};
use rdb_parse::{StreamId, StreamMeta};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::io::{self, Write};

impl Keyspace {
    /// Writes every function library and key (databases in order) to `w`, for `target`. Keys
    /// with hash field TTLs need a target that stores them (RDB 12, 80).
    pub fn write_rdb<W: Write>(&self, w: &mut RdbWriter<W>, target: Target) -> io::Result<()> {
        if target.functions() {
            for code in self.functions.values() {
                w.function(code)?;
            }
        }
        let mut kw = KeyWriter::new(target);
        for (db, keys) in &self.dbs {
            if keys.is_empty() {
                continue;
            }
            w.select_db(*db)?;
            let expires = keys.iter().filter(|(_, f)| f.expire_ms().is_some()).count();
            w.resize_db(keys.len() as u64, expires as u64)?;
            for (key, found) in keys.iter() {
                let meta = KeyMeta {
                    expire_ms: found.expire_ms(),
                    ..KeyMeta::default()
                };
                if let Some(s) = found.str() {
                    kw.begin(Kind::String, key, meta, None);
                    kw.element(w, s)?;
                    continue;
                }
                if let Found::Packed { kind, payload, .. } = found {
                    let n = Some(packed::len(kind, payload) as u64);
                    let mut items = packed::items(payload);
                    match kind {
                        packed::Kind::List | packed::Kind::Set => {
                            let k = if kind == packed::Kind::List {
                                Kind::List
                            } else {
                                Kind::Set
                            };
                            kw.begin(k, key, meta, n);
                            for v in items {
                                kw.element(w, v)?;
                            }
                        }
                        packed::Kind::ZSet => {
                            kw.begin(Kind::ZSet, key, meta, n);
                            while let (Some(m), Some(s)) = (items.next(), items.next()) {
                                let s = f64::from_le_bytes(s.try_into().expect("8-byte score"));
                                kw.zmember(w, m, s)?;
                            }
                        }
                        packed::Kind::Hash => {
                            kw.begin(Kind::Hash, key, meta, n);
                            while let (Some(f), Some(v)) = (items.next(), items.next()) {
                                kw.hash_field(w, f, v, None)?;
                            }
                        }
                    }
                    kw.end(w)?;
                    continue;
                }
                match found.value().expect("not a string").as_ref() {
                    Value::Str(_) => unreachable!("strings are written above"),
                    Value::List(l) => {
                        kw.begin(Kind::List, key, meta, Some(l.len() as u64));
                        for v in l.iter() {
                            kw.element(w, v)?;
                        }
                    }
                    Value::Set(s) => {
                        kw.begin(Kind::Set, key, meta, Some(s.len() as u64));
                        for v in s.iter() {
                            kw.element(w, v)?;
                        }
                    }
                    Value::ZSet(z) => {
                        kw.begin(Kind::ZSet, key, meta, Some(z.len() as u64));
                        for (m, s) in z.iter() {
                            kw.zmember(w, m, *s)?;
                        }
                    }
                    Value::Hash(h) => {
                        let ttls = h.values().any(|(_, t)| t.is_some());
                        let kind = if ttls { Kind::HashTtl } else { Kind::Hash };
                        kw.begin(kind, key, meta, Some(h.len() as u64));
                        for (f, (v, t)) in h.iter() {
                            kw.hash_field(w, f, v, *t)?;
                        }
                    }
                    Value::Stream(s) => {
                        kw.begin(Kind::Stream, key, meta, None);
                        for (id, fields) in &s.entries {
                            kw.stream_entry(*id, fields.len() as u64)?;
                            for (f, v) in fields {
                                kw.stream_field(f, v)?;
                            }
                        }
                        let first = s.entries.keys().next().copied().unwrap_or_default();
                        kw.stream_meta(
                            w,
                            &StreamMeta {
                                length: s.entries.len() as u64,
                                last_id: s.last_id,
                                first_id: Some(first),
                                max_deleted_id: Some(s.max_deleted_id),
                                entries_added: Some(s.entries_added),
                                groups: s.groups.len() as u64,
                            },
                        )?;
                        for g in &s.groups {
                            kw.stream_group(
                                w,
                                &g.name,
                                g.last_id,
                                g.entries_read,
                                g.pel.len() as u64,
                            )?;
                            for (id, (t, c, _)) in &g.pel {
                                kw.stream_pending(w, *id, *t, *c)?;
                            }
                            kw.stream_consumers(w, g.consumers.len() as u64)?;
                            for (name, seen, active) in &g.consumers {
                                let owned: Vec<StreamId> = g
                                    .pel
                                    .iter()
                                    .filter(|(_, p)| &p.2 == name)
                                    .map(|(id, _)| *id)
                                    .collect();
                                kw.stream_consumer(w, name, *seen, *active, owned.len() as u64)?;
                                for id in owned {
                                    kw.stream_consumer_pending(w, id)?;
                                }
                            }
                        }
                    }
                }
                kw.end(w)?;
            }
        }
        Ok(())
    }
}
