//! Round-trip property tests of the writer.
//!
//! Generated datasets of every key type (strings, lists, sets, sorted sets, hashes, hashes with
//! field TTLs, streams with consumer groups) in several databases are written with
//! [`RdbWriter`] and [`KeyWriter`] for every target version (RDB 7 to 12 and Valkey's 80),
//! read back with [`rdb_parse::Parser`], and compared with the input: the same keys, expiries,
//! LRU/LFU metadata (from RDB 9), values, and the encoding the target server would have chosen
//! (packed under the default thresholds, plain past them). Stream metadata, groups and
//! consumers are expected as the target's stream version stores them (fields it lacks left
//! out, fields the input lacks filled in as the server does). Some cases use a tiny spool
//! limit so that held list and stream nodes go through the temporary file. The CRC64 stored in
//! the file must match the computed one.
//!
//! Deterministic tests cover streams over several nodes (1000 entries; the node count checked
//! against the 100-entry / 4 KiB node limits), a 20000-element list (RDB 9 and 10), both
//! spilled to the temporary file, RDB 12 hashes with field TTLs in both encodings
//! (listpack-ex, metadata hashtable) and Valkey 80's, and every packed-encoding threshold at
//! its edge (512/513 elements, 128/129, 64/65-byte strings) for every version.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use rdb_parse::{
    drive, Encoding, Event, Family, KeyEnd, KeyInfo, Parser, Sink, Str, StreamId, StreamMeta,
    ValueType,
};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;

/// Every target version the writer supports.
const VERSIONS: [u32; 7] = [7, 8, 9, 10, 11, 12, 80];

/// A Redis string; its `Debug` is escaped text, so that failing cases read well.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rdb_parse::escape(&self.0))
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

fn b(v: impl AsRef<[u8]>) -> Bytes {
    Bytes(v.as_ref().to_vec())
}

// ---------------------------------------------------------------------------------------------
// The input dataset.

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    id: StreamId,
    fields: Vec<(Bytes, Bytes)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    id: StreamId,
    delivery_time_ms: i64,
    delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Consumer {
    name: Bytes,
    seen_time_ms: i64,
    active_time_ms: Option<i64>,
    pending: Vec<StreamId>,
}

#[derive(Debug, Clone, PartialEq)]
struct Group {
    name: Bytes,
    last_id: StreamId,
    entries_read: Option<u64>,
    pel: Vec<Pending>,
    consumers: Vec<Consumer>,
}

#[derive(Debug, Clone)]
struct Stream {
    entries: Vec<Entry>,
    /// As given to the writer: `first_id`, `max_deleted_id`, `entries_added` may be `None`.
    meta: StreamMeta,
    groups: Vec<Group>,
}

#[derive(Debug, Clone)]
enum Value {
    String(Bytes),
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    ZSet(Vec<(Bytes, f64)>),
    Hash(Vec<(Bytes, Bytes)>),
    HashTtl(Vec<(Bytes, Bytes, Option<i64>)>),
    Stream(Box<Stream>),
}

#[derive(Debug, Clone)]
struct Key {
    name: Bytes,
    expire_ms: Option<i64>,
    idle_s: Option<u64>,
    freq: Option<u8>,
    value: Value,
}

#[derive(Debug, Clone)]
struct Case {
    version: u32,
    compress: bool,
    /// `KeyWriter::spool` limit; `None` keeps the default (32 MiB).
    spool_limit: Option<usize>,
    /// Databases in file order, each with its keys (unique within the database).
    dbs: Vec<(u64, Vec<Key>)>,
}

// ---------------------------------------------------------------------------------------------
// The model both sides are reduced to.

#[derive(Debug, PartialEq)]
enum Model {
    String(Bytes),
    List(Vec<Bytes>),
    Set(BTreeSet<Bytes>),
    /// Scores compared with `f64` equality.
    ZSet(BTreeMap<Bytes, f64>),
    /// Field -> (value, field TTL); hashes without TTLs have `None` everywhere.
    Hash(BTreeMap<Bytes, (Bytes, Option<i64>)>),
    Stream {
        entries: Vec<Entry>,
        meta: StreamMeta,
        groups: Vec<Group>,
    },
}

#[derive(Debug, PartialEq)]
struct KeyModel {
    expire_ms: Option<i64>,
    idle_s: Option<u64>,
    freq: Option<u8>,
    encoding: Encoding,
    value: Model,
}

type Dataset = BTreeMap<(u64, Bytes), KeyModel>;

/// What the parser saw besides the keys.
struct ReadBack {
    version: u32,
    dbs: Vec<u64>,
    keys: Dataset,
}

fn canonical(s: &[u8]) -> bool {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|v| v.to_string().as_bytes() == s)
}

/// The encoding the target server chooses with its default thresholds.
fn expected_encoding(version: u32, value: &Value) -> Encoding {
    let packed = |zl| {
        if version >= 10 {
            Encoding::Listpack
        } else {
            zl
        }
    };
    let short = |s: &[u8]| s.len() <= 64;
    match value {
        Value::String(_) => Encoding::String,
        Value::List(_) if version >= 10 => Encoding::Quicklist2,
        Value::List(_) => Encoding::Quicklist,
        Value::Set(m) => {
            if m.len() <= 512 && m.iter().all(|s| canonical(s)) {
                Encoding::Intset
            } else if version >= 11 && m.len() <= 128 && m.iter().all(|s| short(s)) {
                Encoding::Listpack
            } else {
                Encoding::Hashtable
            }
        }
        Value::ZSet(m) => {
            if m.len() <= 128 && m.iter().all(|(s, _)| short(s)) {
                packed(Encoding::Ziplist)
            } else if version >= 8 {
                Encoding::Skiplist
            } else {
                Encoding::Skiplist1
            }
        }
        Value::Hash(f) => {
            if f.len() <= 512 && f.iter().all(|(k, v)| short(k) && short(v)) {
                packed(Encoding::Ziplist)
            } else {
                Encoding::Hashtable
            }
        }
        Value::HashTtl(f) => {
            let fits = f.len() <= 512 && f.iter().all(|(k, v, _)| short(k) && short(v));
            if version >= 80 {
                Encoding::HashtableEx
            } else if fits {
                Encoding::ListpackEx
            } else if f.iter().any(|(_, _, t)| t.is_some()) {
                Encoding::HashtableEx
            } else {
                // No field has a TTL: written as a plain hash, as the server does.
                Encoding::Hashtable
            }
        }
        Value::Stream(_) => match version {
            9 => Encoding::StreamV1,
            10 => Encoding::StreamV2,
            _ => Encoding::StreamV3,
        },
    }
}

/// The stream as the target's stream version stores it.
fn expected_stream(version: u32, s: &Stream) -> Model {
    let sv = Target { version }
        .stream_version()
        .expect("streams only from RDB 9");
    let m = &s.meta;
    let first = s.entries.first().map(|e| e.id).unwrap_or_default();
    let meta = StreamMeta {
        length: m.length,
        live_entries: m.length,
        last_id: m.last_id,
        first_id: (sv >= 2).then(|| m.first_id.unwrap_or(first)),
        max_deleted_id: (sv >= 2).then(|| m.max_deleted_id.unwrap_or_default()),
        entries_added: (sv >= 2).then(|| m.entries_added.unwrap_or(m.length)),
        groups: m.groups,
        stored_nodes: None,
    };
    let groups = s
        .groups
        .iter()
        .map(|g| Group {
            entries_read: if sv >= 2 { g.entries_read } else { None },
            consumers: g
                .consumers
                .iter()
                .map(|c| Consumer {
                    active_time_ms: (sv >= 3).then(|| c.active_time_ms.unwrap_or(c.seen_time_ms)),
                    ..c.clone()
                })
                .collect(),
            ..g.clone()
        })
        .collect();
    Model::Stream {
        entries: s.entries.clone(),
        meta,
        groups,
    }
}

fn expected(case: &Case) -> Dataset {
    let lru = case.version >= 9;
    let mut out = Dataset::new();
    for (db, keys) in &case.dbs {
        for k in keys {
            let value = match &k.value {
                Value::String(s) => Model::String(s.clone()),
                Value::List(l) => Model::List(l.clone()),
                Value::Set(m) => Model::Set(m.iter().cloned().collect()),
                Value::ZSet(m) => Model::ZSet(m.iter().cloned().collect()),
                Value::Hash(f) => Model::Hash(
                    f.iter()
                        .map(|(k, v)| (k.clone(), (v.clone(), None)))
                        .collect(),
                ),
                Value::HashTtl(f) => Model::Hash(
                    f.iter()
                        .map(|(k, v, t)| (k.clone(), (v.clone(), *t)))
                        .collect(),
                ),
                Value::Stream(s) => expected_stream(case.version, s),
            };
            let km = KeyModel {
                expire_ms: k.expire_ms,
                idle_s: k.idle_s.filter(|_| lru),
                freq: k.freq.filter(|_| lru),
                encoding: expected_encoding(case.version, &k.value),
                value,
            };
            assert!(out.insert((*db, k.name.clone()), km).is_none());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Writing.

fn write_key<W: io::Write>(kw: &mut KeyWriter, w: &mut RdbWriter<W>, k: &Key) -> io::Result<()> {
    let meta = KeyMeta {
        expire_ms: k.expire_ms,
        idle_s: k.idle_s,
        freq: k.freq,
    };
    let name = &k.name;
    match &k.value {
        Value::String(s) => {
            kw.begin(Kind::String, name, meta, None);
            kw.element(w, s)?;
        }
        Value::List(l) => {
            kw.begin(Kind::List, name, meta, Some(l.len() as u64));
            for e in l {
                kw.element(w, e)?;
            }
        }
        Value::Set(m) => {
            kw.begin(Kind::Set, name, meta, Some(m.len() as u64));
            for e in m {
                kw.element(w, e)?;
            }
        }
        Value::ZSet(m) => {
            kw.begin(Kind::ZSet, name, meta, Some(m.len() as u64));
            for (e, s) in m {
                kw.zmember(w, e, *s)?;
            }
        }
        Value::Hash(f) => {
            kw.begin(Kind::Hash, name, meta, Some(f.len() as u64));
            for (f, v) in f {
                kw.hash_field(w, f, v, None)?;
            }
        }
        Value::HashTtl(f) => {
            kw.begin(Kind::HashTtl, name, meta, Some(f.len() as u64));
            for (f, v, t) in f {
                kw.hash_field(w, f, v, *t)?;
            }
        }
        Value::Stream(s) => {
            kw.begin(Kind::Stream, name, meta, None);
            for e in &s.entries {
                kw.stream_entry(e.id, e.fields.len() as u64)?;
                for (f, v) in &e.fields {
                    kw.stream_field(f, v)?;
                }
            }
            kw.stream_meta(w, &s.meta)?;
            for g in &s.groups {
                kw.stream_group(w, &g.name, g.last_id, g.entries_read, g.pel.len() as u64)?;
                for p in &g.pel {
                    kw.stream_pending(w, p.id, p.delivery_time_ms, p.delivery_count)?;
                }
                kw.stream_consumers(w, g.consumers.len() as u64)?;
                for c in &g.consumers {
                    kw.stream_consumer(
                        w,
                        &c.name,
                        c.seen_time_ms,
                        c.active_time_ms,
                        c.pending.len() as u64,
                    )?;
                    for id in &c.pending {
                        kw.stream_consumer_pending(w, *id)?;
                    }
                }
            }
        }
    }
    kw.end(w)
}

/// Writes the case; returns the file and the bytes that went through temporary files.
fn write_case(case: &Case) -> (Vec<u8>, u64) {
    let mut w = RdbWriter::new(Vec::new(), case.version, case.compress).expect("header");
    let mut kw = KeyWriter::new(Target {
        version: case.version,
    });
    if let Some(limit) = case.spool_limit {
        kw.spool(None, limit);
    }
    for (db, keys) in &case.dbs {
        w.select_db(*db).expect("select");
        for k in keys {
            write_key(&mut kw, &mut w, k)
                .unwrap_or_else(|e| panic!("writing key {:?}: {e}", k.name));
        }
    }
    (w.finish().expect("finish"), kw.spilled())
}

// ---------------------------------------------------------------------------------------------
// Reading back.

/// A key being read: what its events said so far.
struct Reading {
    db: u64,
    key: Bytes,
    value_type: ValueType,
    km: KeyModel,
    elements: Vec<Bytes>,
    zmembers: Vec<(Bytes, f64)>,
    fields: Vec<(Bytes, Bytes, Option<i64>)>,
    entries: Vec<Entry>,
    /// Fields announced by each StreamEntry event.
    entry_fields: Vec<u64>,
    meta: Option<StreamMeta>,
    groups: Vec<Group>,
    /// Per group: (PEL entries announced, consumers announced).
    group_counts: Vec<(u64, Option<u64>)>,
    /// Per group, per consumer: pending ids announced.
    consumer_counts: Vec<Vec<u64>>,
}

impl Reading {
    fn finish(self) -> ((u64, Bytes), KeyModel) {
        let mut km = self.km;
        km.value = match self.value_type {
            ValueType::String => {
                assert_eq!(self.elements.len(), 1, "a string has one value");
                Model::String(self.elements.into_iter().next().expect("one"))
            }
            ValueType::List => Model::List(self.elements),
            ValueType::Set => {
                let n = self.elements.len();
                let s: BTreeSet<Bytes> = self.elements.into_iter().collect();
                assert_eq!(s.len(), n, "duplicate set members");
                Model::Set(s)
            }
            ValueType::Zset => {
                let n = self.zmembers.len();
                let m: BTreeMap<Bytes, f64> = self.zmembers.into_iter().collect();
                assert_eq!(m.len(), n, "duplicate sorted-set members");
                Model::ZSet(m)
            }
            ValueType::Hash => {
                let n = self.fields.len();
                let m: BTreeMap<_, _> = self
                    .fields
                    .into_iter()
                    .map(|(f, v, t)| (f, (v, t)))
                    .collect();
                assert_eq!(m.len(), n, "duplicate hash fields");
                Model::Hash(m)
            }
            ValueType::Stream => {
                for (e, &n) in self.entries.iter().zip(&self.entry_fields) {
                    assert_eq!(e.fields.len() as u64, n, "fields of entry {}", e.id);
                }
                let meta = self.meta.expect("stream metadata");
                assert_eq!(meta.groups, self.groups.len() as u64, "groups announced");
                for ((g, (pel, consumers)), cc) in self
                    .groups
                    .iter()
                    .zip(&self.group_counts)
                    .zip(&self.consumer_counts)
                {
                    assert_eq!(g.pel.len() as u64, *pel, "PEL announced");
                    assert_eq!(Some(g.consumers.len() as u64), *consumers);
                    for (c, &n) in g.consumers.iter().zip(cc) {
                        assert_eq!(c.pending.len() as u64, n, "consumer PEL announced");
                    }
                }
                Model::Stream {
                    entries: self.entries,
                    meta,
                    groups: self.groups,
                }
            }
            other => panic!("unexpected value type {other:?}"),
        };
        ((self.db, self.key), km)
    }
}

/// Rebuilds a dataset from the events of a file, checking their order: the reader's side of
/// the round trip, as a [`Sink`]. Events the writer never makes fail the test.
struct ReadBackSink {
    out: ReadBack,
    cur: Option<Reading>,
    eof: bool,
}

impl ReadBackSink {
    fn key(&mut self) -> &mut Reading {
        assert!(!self.eof, "an event after EOF");
        self.cur.as_mut().expect("in a key")
    }
}

type R = Result<(), std::convert::Infallible>;

impl Sink for ReadBackSink {
    type Error = std::convert::Infallible;

    fn header(&mut self, _: Family, version: u32) -> R {
        self.out.version = version;
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> R {
        assert!(!self.eof, "an event after EOF");
        self.out.dbs.push(db);
        Ok(())
    }
    fn aux(&mut self, k: Str<'_>, _: Str<'_>) -> R {
        panic!("unexpected aux field {:?}", k.to_vec())
    }
    fn resize_db(&mut self, _: u64, _: u64) -> R {
        panic!("unexpected RESIZEDB")
    }
    fn slot_info(&mut self, _: u64, _: u64, _: u64) -> R {
        panic!("unexpected SLOT_INFO")
    }
    fn function(&mut self, _: Str<'_>) -> R {
        panic!("unexpected function")
    }
    fn module_aux(&mut self, _: [u8; 9], _: u16, _: u64) -> R {
        panic!("unexpected module aux")
    }
    fn module(&mut self, _: [u8; 9], _: u16, _: u64) -> R {
        panic!("unexpected module value")
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> R {
        assert!(!self.eof, "an event after EOF");
        assert!(self.cur.is_none(), "a key inside a key");
        self.cur = Some(Reading {
            db: info.db,
            key: b(info.key.to_vec()),
            value_type: info.value_type,
            km: KeyModel {
                expire_ms: info.expire_ms,
                idle_s: info.idle_s,
                freq: info.freq,
                encoding: info.encoding,
                value: Model::List(Vec::new()),
            },
            elements: Vec::new(),
            zmembers: Vec::new(),
            fields: Vec::new(),
            entries: Vec::new(),
            entry_fields: Vec::new(),
            meta: None,
            groups: Vec::new(),
            group_counts: Vec::new(),
            consumer_counts: Vec::new(),
        });
        Ok(())
    }
    fn element(&mut self, s: Str<'_>) -> R {
        self.key().elements.push(b(s.to_vec()));
        Ok(())
    }
    fn zmember(&mut self, member: Str<'_>, score: f64) -> R {
        self.key().zmembers.push((b(member.to_vec()), score));
        Ok(())
    }
    fn hash_field(&mut self, field: Str<'_>, value: Str<'_>, expire_ms: Option<i64>) -> R {
        self.key()
            .fields
            .push((b(field.to_vec()), b(value.to_vec()), expire_ms));
        Ok(())
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> R {
        let r = self.key();
        r.entries.push(Entry {
            id,
            fields: Vec::new(),
        });
        r.entry_fields.push(fields);
        Ok(())
    }
    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> R {
        self.key()
            .entries
            .last_mut()
            .expect("in an entry")
            .fields
            .push((b(name.to_vec()), b(value.to_vec())));
        Ok(())
    }
    fn stream_meta(&mut self, m: &StreamMeta) -> R {
        self.key().meta = Some(*m);
        Ok(())
    }
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> R {
        let r = self.key();
        r.groups.push(Group {
            name: b(name.to_vec()),
            last_id,
            entries_read,
            pel: Vec::new(),
            consumers: Vec::new(),
        });
        r.group_counts.push((pending, None));
        r.consumer_counts.push(Vec::new());
        Ok(())
    }
    fn stream_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) -> R {
        self.key()
            .groups
            .last_mut()
            .expect("in a group")
            .pel
            .push(Pending {
                id,
                delivery_time_ms,
                delivery_count,
            });
        Ok(())
    }
    fn stream_consumers(&mut self, count: u64) -> R {
        self.key().group_counts.last_mut().expect("in a group").1 = Some(count);
        Ok(())
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) -> R {
        let r = self.key();
        r.groups
            .last_mut()
            .expect("in a group")
            .consumers
            .push(Consumer {
                name: b(name.to_vec()),
                seen_time_ms,
                active_time_ms,
                pending: Vec::new(),
            });
        r.consumer_counts
            .last_mut()
            .expect("in a group")
            .push(pending);
        Ok(())
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> R {
        self.key()
            .groups
            .last_mut()
            .expect("in a group")
            .consumers
            .last_mut()
            .expect("in a consumer")
            .pending
            .push(id);
        Ok(())
    }
    fn stream_nacked(&mut self, _: StreamId) -> R {
        panic!("unexpected NACK-zone entry")
    }
    fn array_element(&mut self, _: u64, _: rdb_parse::ArrayValue<'_>) -> R {
        panic!("unexpected array element")
    }
    fn key_end(&mut self, _: &KeyEnd) -> R {
        let (k, km) = self.cur.take().expect("in a key").finish();
        assert!(
            self.out.keys.insert(k.clone(), km).is_none(),
            "key {k:?} twice"
        );
        Ok(())
    }
    fn eof(&mut self, stored_crc: Option<u64>, computed_crc: u64) -> R {
        assert_eq!(stored_crc, Some(computed_crc), "CRC64");
        self.eof = true;
        Ok(())
    }
}

fn read_back(file: &[u8]) -> ReadBack {
    let mut sink = ReadBackSink {
        out: ReadBack {
            version: 0,
            dbs: Vec::new(),
            keys: Dataset::new(),
        },
        cur: None,
        eof: false,
    };
    if let Err(e) = drive(&mut Parser::new(file), &mut sink) {
        panic!("parse error: {e:?}");
    }
    assert!(sink.eof, "no EOF event");
    assert!(sink.cur.is_none(), "a key without its end");
    sink.out
}

/// Writes the case, reads it back and compares; returns the bytes spilled.
fn roundtrip(case: &Case) -> u64 {
    let (file, spilled) = write_case(case);
    let got = read_back(&file);
    assert_eq!(got.version, case.version, "header version");
    let dbs: Vec<u64> = case.dbs.iter().map(|(db, _)| *db).collect();
    assert_eq!(got.dbs, dbs, "SELECTDB records");
    let want = expected(case);
    let want_keys: Vec<_> = want.keys().collect();
    let got_keys: Vec<_> = got.keys.keys().collect();
    assert_eq!(got_keys, want_keys, "keys (db, name)");
    for (k, w) in &want {
        let g = &got.keys[k];
        assert_eq!(
            g, w,
            "key {k:?} at version {} (left: read back, right: expected)",
            case.version
        );
    }
    spilled
}

// ---------------------------------------------------------------------------------------------
// Generators.

fn int_text() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => -1000i64..1000,
        2 => any::<i32>().prop_map(i64::from),
        1 => any::<i64>(),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1, 127, 128, 32767, 32768]),
    ]
    .prop_map(|v| b(v.to_string()))
}

/// Strings that look like integers but are not canonical ones.
fn near_int_text() -> impl Strategy<Value = Bytes> {
    prop::sample::select(vec![
        "007",
        "-0",
        "+1",
        "1 ",
        "00",
        "-",
        "1e3",
        "0x10",
        "9223372036854775808",
        "-9223372036854775809",
        "12345678901234567890123",
    ])
    .prop_map(b)
}

/// At most 64 bytes: fits the packed encodings.
fn short_text() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => "[a-z]{0,12}".prop_map(String::into_bytes),
        2 => vec(any::<u8>(), 0..16),
        1 => vec(any::<u8>(), 60..=64),
    ]
    .prop_map(Bytes)
}

/// Past 64 bytes: forces the plain encodings; some compressible, some not.
fn long_text() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        2 => vec(any::<u8>(), 65..=300),
        1 => (any::<u8>(), 70usize..=300).prop_map(|(c, n)| vec![c; n]),
        1 => "[ab]{70,300}".prop_map(String::into_bytes),
    ]
    .prop_map(Bytes)
}

#[derive(Debug, Clone, Copy)]
enum Flavor {
    Ints,
    Short,
    Mixed,
    Long,
}

fn flavor() -> impl Strategy<Value = Flavor> {
    prop_oneof![
        2 => Just(Flavor::Ints),
        3 => Just(Flavor::Short),
        3 => Just(Flavor::Mixed),
        1 => Just(Flavor::Long),
    ]
}

fn elem(f: Flavor) -> BoxedStrategy<Bytes> {
    match f {
        Flavor::Ints => int_text().boxed(),
        Flavor::Short => prop_oneof![
            3 => short_text(),
            2 => int_text(),
            1 => near_int_text(),
        ]
        .boxed(),
        Flavor::Mixed => prop_oneof![
            6 => short_text(),
            4 => int_text(),
            1 => near_int_text(),
            1 => long_text(),
        ]
        .boxed(),
        Flavor::Long => prop_oneof![
            1 => short_text(),
            1 => int_text(),
            2 => long_text(),
        ]
        .boxed(),
    }
}

/// Collections of `s`: mostly small, some around the 128 and 512 thresholds, a few large.
/// (Ranges rather than a generated length, so that failing cases shrink.)
fn sized<T: std::fmt::Debug>(s: impl Strategy<Value = T> + Clone) -> impl Strategy<Value = Vec<T>> {
    prop_oneof![
        12 => vec(s.clone(), 1..=8),
        5 => vec(s.clone(), 9..=140),
        1 => vec(s.clone(), 500..=530),
        1 => vec(s, 600..=1500),
    ]
}

fn unique_by<T, K: std::hash::Hash + Eq>(v: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    v.into_iter().filter(|x| seen.insert(key(x))).collect()
}

fn score() -> impl Strategy<Value = f64> + Clone {
    use prop::num::f64 as F;
    prop_oneof![
        4 => (-1000i64..1000).prop_map(|v| v as f64),
        3 => F::POSITIVE | F::NEGATIVE | F::NORMAL | F::SUBNORMAL | F::ZERO,
        2 => -1e6f64..1e6,
        1 => prop::sample::select(vec![
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            9_007_199_254_740_993.0,
            1e300,
            f64::MIN_POSITIVE,
            f64::MAX,
        ]),
    ]
}

fn field_ttl() -> impl Strategy<Value = Option<i64>> + Clone {
    prop_oneof![
        2 => Just(None),
        2 => (1_700_000_000_000i64..1_800_000_000_000).prop_map(Some),
        1 => (1i64..(1 << 48)).prop_map(Some),
        1 => prop::sample::select(vec![1i64, (1 << 48) - 1]).prop_map(Some),
    ]
}

fn string_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => elem(Flavor::Mixed),
        1 => long_text(),
        1 => vec(any::<u8>(), 1000..5000).prop_map(Bytes),
        1 => (any::<u8>(), 1000usize..20000).prop_map(|(c, n)| Bytes(vec![c; n])),
    ]
    .prop_map(Value::String)
}

fn list_value() -> impl Strategy<Value = Value> {
    flavor().prop_flat_map(|f| sized(elem(f)).prop_map(Value::List))
}

fn set_value() -> impl Strategy<Value = Value> {
    flavor().prop_flat_map(|f| sized(elem(f)).prop_map(|v| Value::Set(unique_by(v, |x| x.clone()))))
}

fn zset_value() -> impl Strategy<Value = Value> {
    flavor().prop_flat_map(|f| {
        sized((elem(f), score())).prop_map(|v| Value::ZSet(unique_by(v, |x| x.0.clone())))
    })
}

fn hash_value() -> impl Strategy<Value = Value> {
    (flavor(), flavor()).prop_flat_map(|(f, g)| {
        sized((elem(f), elem(g))).prop_map(|v| Value::Hash(unique_by(v, |x| x.0.clone())))
    })
}

fn hash_ttl_value() -> impl Strategy<Value = Value> {
    (flavor(), flavor(), prop::bool::weighted(0.8)).prop_flat_map(|(f, g, ttls)| {
        sized((elem(f), elem(g), field_ttl())).prop_map(move |v| {
            let v = unique_by(v, |x| x.0.clone())
                .into_iter()
                .map(|(f, v, t)| (f, v, t.filter(|_| ttls)))
                .collect();
            Value::HashTtl(v)
        })
    })
}

fn start_id() -> impl Strategy<Value = StreamId> {
    prop_oneof![
        (0u64..5, 0u64..5),
        (1_600_000_000_000u64..1_800_000_000_000, 0u64..3),
        (u64::MAX - (1 << 42)..u64::MAX - (1 << 41), any::<u64>()),
    ]
    .prop_map(|(ms, seq)| StreamId {
        ms,
        seq: if ms == 0 && seq == 0 { 1 } else { seq },
    })
}

/// How the next entry id follows the previous one.
#[derive(Debug, Clone, Copy)]
enum IdStep {
    NextSeq,
    SmallMs(u64, u64),
    RandomSeq(u64, u64),
    BigMs(u64),
}

fn id_step() -> impl Strategy<Value = IdStep> {
    prop_oneof![
        3 => Just(IdStep::NextSeq),
        4 => (1u64..1000, 0u64..4).prop_map(|(d, s)| IdStep::SmallMs(d, s)),
        1 => (1u64..10, any::<u64>()).prop_map(|(d, s)| IdStep::RandomSeq(d, s)),
        1 => (1u64..(1 << 40)).prop_map(IdStep::BigMs),
    ]
}

fn next_id(prev: StreamId, step: IdStep) -> Option<StreamId> {
    let ms = |d: u64, seq: u64| prev.ms.checked_add(d).map(|ms| StreamId { ms, seq });
    let next = match step {
        IdStep::NextSeq => None,
        IdStep::SmallMs(d, s) | IdStep::RandomSeq(d, s) => ms(d, s),
        IdStep::BigMs(d) => ms(d, 0),
    };
    next.or_else(|| {
        prev.seq
            .checked_add(1)
            .map(|seq| StreamId { ms: prev.ms, seq })
    })
}

/// One entry as generated: its id step, whether it reuses the previous entry's field names,
/// its fields (names made unique).
type EntryGen = (IdStep, bool, Vec<(Bytes, Bytes)>);

fn entry_gen() -> impl Strategy<Value = EntryGen> {
    let name = prop_oneof![
        4 => "[a-z]{1,6}".prop_map(b),
        1 => (0u32..20).prop_map(|v| b(v.to_string())),
    ];
    (
        id_step(),
        prop::bool::weighted(0.6),
        vec((name, elem(Flavor::Mixed)), 1..=4),
    )
}

fn build_entries(start: StreamId, gens: Vec<EntryGen>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for (step, reuse, fields) in gens {
        let id = match out.last() {
            None => start,
            Some(p) => match next_id(p.id, step) {
                Some(id) => id,
                None => break,
            },
        };
        let fields = match out.last() {
            Some(p) if reuse => p
                .fields
                .iter()
                .enumerate()
                .map(|(i, (f, _))| (f.clone(), fields[i % fields.len()].1.clone()))
                .collect(),
            _ => unique_by(fields, |x| x.0.clone()),
        };
        out.push(Entry { id, fields });
    }
    out
}

/// Stream metadata choices: last id bump, first id, max deleted id, extra entries added.
type MetaGen = (u8, u64, u8, (u64, u64), Option<(u64, u64)>, Option<u64>);

fn meta_gen() -> impl Strategy<Value = MetaGen> {
    (
        0u8..3,
        0u64..1000,
        0u8..3,
        (0u64..1000, 0u64..10),
        prop::option::of((0u64..1_000_000, 0u64..10)),
        prop::option::of(0u64..1000),
    )
}

/// A group as generated: name, last id choice, entries read, one (in PEL?, owner, delivery
/// time, delivery count) per stream entry, consumers (name, seen, active).
type GroupGen = (
    Bytes,
    Option<(u64, u64)>,
    Option<u64>,
    Vec<(bool, u8, i64, u64)>,
    Vec<(Bytes, i64, Option<i64>)>,
);

fn group_gen(n: usize) -> impl Strategy<Value = GroupGen> {
    let time = prop_oneof![
        3 => 1_600_000_000_000i64..1_800_000_000_000,
        1 => any::<i64>(),
    ];
    (
        prop_oneof![2 => elem(Flavor::Short), 1 => Just(b("group"))],
        prop::option::of((0u64..1_000_000, 0u64..10)),
        prop::option::of(0u64..2000),
        vec(
            (
                prop::bool::weighted(0.3),
                any::<u8>(),
                time.clone(),
                prop_oneof![3 => 1u64..5, 1 => any::<u64>()],
            ),
            n,
        ),
        vec(
            (elem(Flavor::Short), time.clone(), prop::option::of(time)),
            0..=3,
        ),
    )
}

fn build_stream(entries: Vec<Entry>, m: MetaGen, gens: Vec<GroupGen>) -> Stream {
    let (bump_kind, bump, first_kind, first_any, max_deleted, added) = m;
    let length = entries.len() as u64;
    let last = entries.last().map(|e| e.id);
    let last_id = match last {
        None => StreamId { ms: bump, seq: 0 },
        Some(l) => match bump_kind {
            0 => l,
            1 => StreamId {
                ms: l.ms.saturating_add(bump),
                seq: l.seq,
            },
            _ => StreamId {
                ms: l.ms,
                seq: l.seq.saturating_add(bump),
            },
        },
    };
    let first_id = match first_kind {
        0 => None,
        1 => Some(entries.first().map(|e| e.id).unwrap_or_default()),
        _ => Some(StreamId {
            ms: first_any.0,
            seq: first_any.1,
        }),
    };
    let mut groups = Vec::new();
    let mut names = HashSet::new();
    for (name, group_last, entries_read, pel_gen, consumer_gen) in gens {
        if !names.insert(name.clone()) {
            continue;
        }
        let pel_owner: Vec<(Pending, u8)> = entries
            .iter()
            .zip(pel_gen)
            .filter(|(_, (inp, ..))| *inp)
            .map(|(e, (_, owner, t, c))| {
                let p = Pending {
                    id: e.id,
                    delivery_time_ms: t,
                    delivery_count: c,
                };
                (p, owner)
            })
            .collect();
        let mut consumer_gen = consumer_gen;
        if consumer_gen.is_empty() && !pel_owner.is_empty() {
            consumer_gen.push((b("only"), 0, None));
        }
        let mut cnames = HashSet::new();
        let mut consumers: Vec<Consumer> = consumer_gen
            .into_iter()
            .enumerate()
            .map(|(i, (mut name, seen, active))| {
                while !cnames.insert(name.clone()) {
                    name.0.extend_from_slice(format!("#{i}").as_bytes());
                }
                Consumer {
                    name,
                    seen_time_ms: seen,
                    active_time_ms: active,
                    pending: Vec::new(),
                }
            })
            .collect();
        let nc = consumers.len();
        for (p, owner) in &pel_owner {
            consumers[*owner as usize % nc].pending.push(p.id);
        }
        groups.push(Group {
            name,
            last_id: group_last
                .map(|(ms, seq)| StreamId { ms, seq })
                .or(last)
                .unwrap_or_default(),
            entries_read,
            pel: pel_owner.into_iter().map(|(p, _)| p).collect(),
            consumers,
        });
    }
    Stream {
        meta: StreamMeta {
            length,
            live_entries: length,
            last_id,
            first_id,
            max_deleted_id: max_deleted.map(|(ms, seq)| StreamId { ms, seq }),
            entries_added: added.map(|a| length + a),
            groups: groups.len() as u64,
            stored_nodes: None,
        },
        entries,
        groups,
    }
}

fn stream_value() -> impl Strategy<Value = Value> {
    let entries = prop_oneof![
        1 => vec(entry_gen(), 0..=0),
        6 => vec(entry_gen(), 1..=10),
        3 => vec(entry_gen(), 11..=250),
    ];
    (start_id(), entries)
        .prop_map(|(start, g)| build_entries(start, g))
        .prop_flat_map(|entries| {
            let n = entries.len();
            (Just(entries), meta_gen(), vec(group_gen(n), 0..=3))
        })
        .prop_map(|(e, m, g)| Value::Stream(Box::new(build_stream(e, m, g))))
}

fn value(version: u32) -> BoxedStrategy<Value> {
    let mut kinds: Vec<(u32, BoxedStrategy<Value>)> = vec![
        (3, string_value().boxed()),
        (3, list_value().boxed()),
        (3, set_value().boxed()),
        (3, zset_value().boxed()),
        (3, hash_value().boxed()),
    ];
    if (Target { version }).field_ttls() {
        kinds.push((3, hash_ttl_value().boxed()));
    }
    if version >= 9 {
        kinds.push((3, stream_value().boxed()));
    }
    Union::new_weighted(kinds).boxed()
}

fn key(version: u32) -> impl Strategy<Value = Key> {
    let name = prop_oneof![
        6 => "k[a-z0-9]{0,8}".prop_map(b),
        1 => int_text(),
        1 => Just(Bytes::default()),
        1 => vec(any::<u8>(), 0..80).prop_map(Bytes),
    ];
    let expire = prop_oneof![
        3 => Just(None),
        1 => (1_700_000_000_000i64..1_800_000_000_000).prop_map(Some),
        1 => (1i64..=i64::MAX).prop_map(Some),
    ];
    (
        name,
        expire,
        prop::option::of(prop_oneof![0u64..100_000, any::<u64>()]),
        prop::option::of(any::<u8>()),
        value(version),
    )
        .prop_map(|(name, expire_ms, idle_s, freq, value)| Key {
            name,
            expire_ms,
            idle_s,
            freq,
            value,
        })
}

fn case() -> impl Strategy<Value = Case> {
    let spool = prop_oneof![4 => Just(None), 1 => Just(Some(0usize)), 1 => Just(Some(1024usize))];
    let db = prop_oneof![6 => 0u64..4, 1 => 0u64..16, 1 => 16u64..100_000];
    (prop::sample::select(&VERSIONS[..]), any::<bool>(), spool).prop_flat_map(
        move |(version, compress, spool_limit)| {
            vec((db.clone(), vec(key(version), 1..=4)), 1..=3).prop_map(move |dbs| {
                // One SELECTDB per database, keys unique within it.
                let mut merged: Vec<(u64, Vec<Key>)> = Vec::new();
                for (db, keys) in dbs {
                    match merged.iter_mut().find(|(d, _)| *d == db) {
                        Some((_, ks)) => ks.extend(keys),
                        None => merged.push((db, keys)),
                    }
                }
                for (_, keys) in &mut merged {
                    *keys = unique_by(std::mem::take(keys), |k| k.name.clone());
                }
                Case {
                    version,
                    compress,
                    spool_limit,
                    dbs: merged,
                }
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // No regression file next to the tests: a failure prints its minimal case.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn datasets_round_trip(case in case()) {
        let spilled = roundtrip(&case);
        let spools_nodes = case.dbs.iter().flat_map(|(_, ks)| ks).any(|k| match &k.value {
            Value::List(_) => true,
            Value::Stream(s) => !s.entries.is_empty(),
            _ => false,
        });
        if case.spool_limit == Some(0) && spools_nodes {
            prop_assert!(spilled > 0, "a zero spool limit must spill list and stream nodes");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic cases.

fn one_key(version: u32, spool_limit: Option<usize>, key: Key) -> Case {
    Case {
        version,
        compress: true,
        spool_limit,
        dbs: vec![(0, vec![key])],
    }
}

fn plain_key(name: &[u8], value: Value) -> Key {
    Key {
        name: b(name),
        expire_ms: None,
        idle_s: None,
        freq: None,
        value,
    }
}

/// Reads the RDB length at `at`: (value, bytes used).
fn rdb_len(b: &[u8], at: usize) -> (u64, usize) {
    match b[at] >> 6 {
        0 => (u64::from(b[at] & 0x3F), 1),
        1 => ((u64::from(b[at] & 0x3F) << 8) | u64::from(b[at + 1]), 2),
        _ => {
            assert_eq!(b[at], 0x80, "32-bit length");
            let v = u32::from_be_bytes(b[at + 1..at + 5].try_into().expect("4 bytes"));
            (u64::from(v), 5)
        }
    }
}

/// The node count of the single key `k` (one-byte name) of a one-key file: after the 9-byte
/// magic, SELECTDB 0 (2 bytes), the type byte and the name (2 bytes).
fn node_count(file: &[u8]) -> u64 {
    assert_eq!(&file[9..11], &[0xFE, 0x00]);
    assert_eq!(&file[12..14], &[0x01, b'k']);
    rdb_len(file, 14).0
}

/// A stream of `n` entries of one or two small fields (or one of `value_len` bytes), with two
/// consumer groups.
fn long_stream(n: usize, value_len: usize) -> Stream {
    let mut entries = Vec::new();
    for i in 0..n as u64 {
        let fields = if value_len > 0 {
            vec![(b("blob"), Bytes(vec![b'a' + (i % 26) as u8; value_len]))]
        } else if i % 7 == 3 {
            vec![(b("other"), b(format!("v{i}"))), (b("n"), b(i.to_string()))]
        } else {
            vec![(b("n"), b(i.to_string()))]
        };
        entries.push(Entry {
            id: StreamId {
                ms: 1_700_000_000_000 + i / 3,
                seq: i % 3,
            },
            fields,
        });
    }
    let ids: Vec<StreamId> = entries.iter().map(|e| e.id).collect();
    let group = |name: &[u8], step: usize, consumers: usize| {
        let pel: Vec<Pending> = ids
            .iter()
            .step_by(step)
            .enumerate()
            .map(|(i, &id)| Pending {
                id,
                delivery_time_ms: 1_700_000_000_000 + i as i64,
                delivery_count: 1 + i as u64 % 3,
            })
            .collect();
        let mut cs: Vec<Consumer> = (0..consumers)
            .map(|c| Consumer {
                name: b(format!("consumer-{c}")),
                seen_time_ms: 1_700_000_000_000 + c as i64,
                active_time_ms: (c % 2 == 0).then_some(1_700_000_000_500),
                pending: Vec::new(),
            })
            .collect();
        for (i, p) in pel.iter().enumerate() {
            cs[i % consumers].pending.push(p.id);
        }
        Group {
            name: b(name),
            last_id: ids[n * 9 / 10],
            entries_read: Some((n * 9 / 10 + 1) as u64),
            pel,
            consumers: cs,
        }
    };
    let groups = vec![group(b"g1", 7, 3), group(b"g2", 1, 1)];
    Stream {
        meta: StreamMeta {
            length: n as u64,
            live_entries: n as u64,
            last_id: ids[n - 1],
            first_id: None,
            max_deleted_id: None,
            entries_added: None,
            groups: 2,
            stored_nodes: None,
        },
        entries,
        groups,
    }
}

#[test]
fn stream_of_1000_entries_over_several_nodes() {
    // (entries, value bytes, nodes): stream-node-max-entries 100, stream-node-max-bytes 4096.
    for (n, value_len, min_nodes, max_nodes) in
        [(1000, 0, 10, 10), (201, 0, 3, 3), (200, 300, 15, 20)]
    {
        let stream = long_stream(n, value_len);
        for version in [9, 10, 11, 12, 80] {
            for compress in [false, true] {
                let mut case = one_key(
                    version,
                    Some(0),
                    plain_key(b"k", Value::Stream(Box::new(stream.clone()))),
                );
                case.compress = compress;
                let spilled = roundtrip(&case);
                assert!(spilled > 0, "version {version}: nothing spilled");
                let (file, _) = write_case(&case);
                let nodes = node_count(&file);
                assert!(
                    (min_nodes..=max_nodes).contains(&nodes),
                    "version {version}, {n} entries of {value_len} bytes: {nodes} nodes"
                );
            }
        }
    }
}

#[test]
fn list_of_20000_elements_spilled() {
    let list: Vec<Bytes> = (0..20000u32)
        .map(|i| match i % 5 {
            0 => b(i.to_string()),
            1 => b(format!("element-{i}")),
            2 => Bytes(vec![b'x'; 70 + (i % 200) as usize]),
            3 => Bytes::default(),
            _ => b((i64::from(i) * -1_000_003).to_string()),
        })
        .collect();
    let bytes: usize = list.iter().map(|e| e.len()).sum();
    for version in [9, 10] {
        for limit in [0, 1024] {
            let case = one_key(
                version,
                Some(limit),
                plain_key(b"k", Value::List(list.clone())),
            );
            let spilled = roundtrip(&case);
            assert!(spilled > 0, "version {version}: nothing spilled");
            let (file, _) = write_case(&case);
            // Nodes of at most 8 KiB.
            assert!(
                node_count(&file) as usize > bytes / 8192,
                "version {version}"
            );
        }
    }
}

#[test]
fn hash_with_field_ttls_in_both_encodings() {
    let fields = |n: usize, with_ttls: bool| -> Vec<(Bytes, Bytes, Option<i64>)> {
        (0..n)
            .map(|i| {
                let ttl = (with_ttls && i % 3 != 0)
                    .then_some(1_700_000_000_000 + (i as i64 * 7919) % 5000);
                (b(format!("field:{i}")), b(i.to_string()), ttl)
            })
            .collect()
    };
    let cases = [
        (12, fields(600, true), Encoding::HashtableEx),
        (12, fields(5, true), Encoding::ListpackEx),
        (12, fields(5, false), Encoding::ListpackEx),
        (12, fields(600, false), Encoding::Hashtable),
        (80, fields(600, true), Encoding::HashtableEx),
        (80, fields(5, true), Encoding::HashtableEx),
    ];
    for (version, f, encoding) in cases {
        let n = f.len();
        let value = Value::HashTtl(f);
        assert_eq!(expected_encoding(version, &value), encoding);
        for limit in [None, Some(0)] {
            let mut key = plain_key(b"k", value.clone());
            key.expire_ms = Some(1_800_000_000_000);
            roundtrip(&one_key(version, limit, key));
        }
        // The encoding as the parser reports it, independently of `expected_encoding`.
        let (file, _) = write_case(&one_key(version, None, plain_key(b"k", value)));
        let mut p = Parser::new(&file[..]);
        let mut seen = None;
        while let Some(ev) = p.next_event().expect("parse") {
            if let Event::KeyStart(info) = ev {
                seen = Some(info.encoding);
            }
        }
        assert_eq!(seen, Some(encoding), "version {version}, {n} fields");
    }
}

#[test]
fn packed_thresholds_at_their_edges() {
    let ints = |n: usize| -> Vec<Bytes> {
        (0..n)
            .map(|i| b((i as i64 * 37 - 5000).to_string()))
            .collect()
    };
    // `n` distinct strings, the first one `first_len` bytes long (at least 6).
    let strs = |n: usize, first_len: usize| -> Vec<Bytes> {
        (0..n)
            .map(|i| {
                let mut s = format!("s{i:05}").into_bytes();
                if i == 0 {
                    s.resize(first_len, b'.');
                }
                Bytes(s)
            })
            .collect()
    };
    let pairs = |keys: Vec<Bytes>, vals: Vec<Bytes>| -> Vec<(Bytes, Bytes)> {
        keys.into_iter().zip(vals).collect()
    };
    let mut checked = 0;
    for version in VERSIONS {
        let lp = |zl| {
            if version >= 10 {
                Encoding::Listpack
            } else {
                zl
            }
        };
        let set_lp = if version >= 11 {
            Encoding::Listpack
        } else {
            Encoding::Hashtable
        };
        let zset_plain = if version >= 8 {
            Encoding::Skiplist
        } else {
            Encoding::Skiplist1
        };
        let mut cases = vec![
            (Value::Set(ints(512)), Encoding::Intset),
            (Value::Set(ints(513)), Encoding::Hashtable),
            (Value::Set(strs(128, 64)), set_lp),
            (Value::Set(strs(129, 6)), Encoding::Hashtable),
            (Value::Set(strs(128, 65)), Encoding::Hashtable),
            (
                Value::ZSet(strs(128, 64).into_iter().map(|m| (m, 1.5)).collect()),
                lp(Encoding::Ziplist),
            ),
            (
                Value::ZSet(strs(129, 6).into_iter().map(|m| (m, 1.5)).collect()),
                zset_plain,
            ),
            (
                Value::ZSet(strs(128, 65).into_iter().map(|m| (m, -2.25)).collect()),
                zset_plain,
            ),
            (
                Value::Hash(pairs(strs(512, 64), strs(512, 64))),
                lp(Encoding::Ziplist),
            ),
            (
                Value::Hash(pairs(strs(513, 6), strs(513, 6))),
                Encoding::Hashtable,
            ),
            (
                Value::Hash(pairs(strs(512, 65), strs(512, 6))),
                Encoding::Hashtable,
            ),
            (
                Value::Hash(pairs(strs(512, 6), strs(512, 65))),
                Encoding::Hashtable,
            ),
        ];
        if (Target { version }).field_ttls() {
            let ttl = |p: Vec<(Bytes, Bytes)>| -> Value {
                Value::HashTtl(
                    p.into_iter()
                        .enumerate()
                        .map(|(i, (f, v))| {
                            (f, v, (i % 2 == 0).then_some(1_700_000_000_000 + i as i64))
                        })
                        .collect(),
                )
            };
            let (fits, past) = if version >= 80 {
                (Encoding::HashtableEx, Encoding::HashtableEx)
            } else {
                (Encoding::ListpackEx, Encoding::HashtableEx)
            };
            cases.push((ttl(pairs(strs(512, 64), strs(512, 64))), fits));
            cases.push((ttl(pairs(strs(513, 6), strs(513, 6))), past));
            cases.push((ttl(pairs(strs(512, 6), strs(512, 65))), past));
        }
        for (value, encoding) in cases {
            assert_eq!(
                expected_encoding(version, &value),
                encoding,
                "version {version}: {value:?}"
            );
            roundtrip(&one_key(version, None, plain_key(b"k", value)));
            checked += 1;
        }
    }
    assert_eq!(checked, 7 * 12 + 2 * 3);
}
