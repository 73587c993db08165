//! The elements of changed collections, compared one by one, in bounded memory.
//!
//! [`ElementSink`] reads the elements of a chosen few keys of one side (their databases and
//! names given) into a [`Side`] of its own: each element becomes a record whose "database" is
//! the key's number among the chosen and whose "name" is the element's identity (a list's
//! index, a set or sorted set member, a hash field, a stream entry's ID or a consumer group's
//! name), with a digest of what it holds. [`compare_elements`] then compares the two sides as
//! [`compare`] compares keys, and keeps per key the exact counts and the first elements in
//! order of identity. Lists are compared by position: an element pushed at the head changes
//! every index after it.

use crate::diff::{compare, Change, Compare, Kept, Side};
use crate::digest::{Digest20, KeyRecord};
use rdb_parse::{KeyEnd, KeyInfo, Sink, Str, StreamId, ValueType};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;

/// What tells the elements of a collection apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    /// A list element, by its index.
    Index(u64),
    /// A set or sorted set member.
    Member(Vec<u8>),
    /// A hash field.
    Field(Vec<u8>),
    /// A stream entry.
    Entry(StreamId),
    /// A stream's consumer group, with its pending entries and consumers.
    Group(Vec<u8>),
}

impl Element {
    /// The element's identity as stored in a record: a tag byte, then its bytes (indexes and
    /// IDs big-endian, so that records sort as the elements do).
    fn encode(&self, into: &mut Vec<u8>) {
        into.clear();
        match self {
            Element::Index(i) => {
                into.push(b'i');
                into.extend_from_slice(&i.to_be_bytes());
            }
            Element::Member(m) => {
                into.push(b'm');
                into.extend_from_slice(m);
            }
            Element::Field(f) => {
                into.push(b'f');
                into.extend_from_slice(f);
            }
            Element::Entry(id) => {
                into.push(b'e');
                into.extend_from_slice(&id.ms.to_be_bytes());
                into.extend_from_slice(&id.seq.to_be_bytes());
            }
            Element::Group(g) => {
                into.push(b'g');
                into.extend_from_slice(g);
            }
        }
    }

    fn decode(b: &[u8]) -> Element {
        let (tag, rest) = b.split_first().unwrap_or((&b'm', &[]));
        let be = |r: &[u8]| u64::from_be_bytes(r.try_into().unwrap_or([0; 8]));
        match tag {
            b'i' => Element::Index(be(rest)),
            b'f' => Element::Field(rest.to_vec()),
            b'e' if rest.len() == 16 => Element::Entry(StreamId {
                ms: be(&rest[..8]),
                seq: be(&rest[8..]),
            }),
            b'g' => Element::Group(rest.to_vec()),
            _ => Element::Member(rest.to_vec()),
        }
    }
}

/// An element that differs between the two sides.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementChange {
    /// Which element.
    pub element: Element,
    /// `added` (only in the second), `removed` (only in the first) or `changed`.
    pub change: &'static str,
    /// For a changed element: `value` and/or `ttl` (a hash field's expiry); for a sorted set
    /// member, `score`.
    pub what: Vec<&'static str>,
    /// A sorted set member's score on each side where it is.
    pub scores: (Option<f64>, Option<f64>),
    /// A hash field's expiry (unix ms) on each side where it is and has one.
    pub expiries: (Option<i64>, Option<i64>),
}

/// How a chosen collection's elements differ.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detail {
    /// Elements only in the second.
    pub added: u64,
    /// Elements only in the first.
    pub removed: u64,
    /// Elements in both that differ.
    pub changed: u64,
    /// The first differing elements in order of identity, at most the limit given.
    pub listed: Vec<ElementChange>,
}

/// A [`Sink`] that records the elements of chosen keys into a [`Side`].
pub struct ElementSink {
    chosen: HashMap<(u64, Vec<u8>), u64>,
    side: Side,
    seed: u64,
    /// The chosen key being read: its number and type.
    current: Option<(u64, ValueType)>,
    index: u64,
    /// The element whose parts are still arriving (a stream entry's fields, a group's state).
    open: Option<(Element, xxhash_rust::xxh3::Xxh3)>,
    /// Fields left of the open stream entry.
    fields_left: u64,
    name: Vec<u8>,
    scratch: [u8; 20],
}

fn widen(h: u128) -> Digest20 {
    let mut d = [0u8; 20];
    d[..16].copy_from_slice(&h.to_le_bytes());
    d
}

impl ElementSink {
    /// A sink for the keys `chosen` (database and name, numbered from 0 in that order), whose
    /// element records go to unlinked files in `dir` (the system's temporary directory when
    /// `None`). `seed` keys the hash of element values: the same on both sides.
    pub fn new(chosen: &[(u64, Vec<u8>)], seed: u64, dir: Option<PathBuf>) -> io::Result<Self> {
        Ok(ElementSink {
            chosen: chosen
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i as u64))
                .collect(),
            side: Side::new(dir)?,
            seed,
            current: None,
            index: 0,
            open: None,
            fields_left: 0,
            name: Vec::new(),
            scratch: [0; 20],
        })
    }

    /// The side read, for [`compare_elements`].
    pub fn into_side(mut self) -> io::Result<Side> {
        self.close()?;
        Ok(self.side)
    }

    fn add(
        &mut self,
        element: &Element,
        value: Digest20,
        expire_ms: Option<i64>,
    ) -> io::Result<()> {
        let Some((n, value_type)) = self.current else {
            return Ok(());
        };
        element.encode(&mut self.name);
        let rec = KeyRecord {
            db: n,
            key: &self.name,
            value_type,
            expire_ms,
            digest: value,
            value,
        };
        self.side.add(&rec, 0, "unknown", 0)
    }

    fn hash(&self, data: &[u8]) -> Digest20 {
        widen(xxhash_rust::xxh3::xxh3_128_with_seed(data, self.seed))
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some((e, h)) = self.open.take() {
            self.add(&e, widen(h.digest128()), None)?;
        }
        Ok(())
    }

    fn open(&mut self, e: Element) -> io::Result<()> {
        self.close()?;
        self.open = Some((e, xxhash_rust::xxh3::Xxh3::with_seed(self.seed)));
        Ok(())
    }

    /// Feeds a length-prefixed part to the open element.
    fn feed(&mut self, part: &[u8]) {
        if let Some((_, h)) = &mut self.open {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }

    fn bytes(&mut self, s: Str<'_>) -> Vec<u8> {
        s.as_bytes(&mut self.scratch).to_vec()
    }
}

impl Sink for ElementSink {
    type Error = io::Error;

    fn key_start(&mut self, info: &KeyInfo<'_>) -> io::Result<()> {
        let key = info.key.as_bytes(&mut self.scratch).to_vec();
        self.current = self
            .chosen
            .get(&(info.db, key))
            .map(|n| (*n, info.value_type));
        self.index = 0;
        Ok(())
    }

    fn element(&mut self, v: Str<'_>) -> io::Result<()> {
        match self.current {
            Some((_, ValueType::List)) => {
                let mut s = [0u8; 20];
                let value = self.hash(v.as_bytes(&mut s));
                let e = Element::Index(self.index);
                self.index += 1;
                self.add(&e, value, None)
            }
            Some((_, ValueType::Set)) => {
                let e = Element::Member(self.bytes(v));
                self.add(&e, [0; 20], None)
            }
            _ => Ok(()),
        }
    }

    fn zmember(&mut self, m: Str<'_>, score: f64) -> io::Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        let mut value = [0u8; 20];
        value[..8].copy_from_slice(&score.to_bits().to_le_bytes());
        let e = Element::Member(self.bytes(m));
        self.add(&e, value, None)
    }

    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) -> io::Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        let mut s = [0u8; 20];
        let value = self.hash(v.as_bytes(&mut s));
        let e = Element::Field(self.bytes(f));
        self.add(&e, value, ttl)
    }

    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        self.open(Element::Entry(id))?;
        self.fields_left = fields;
        if fields == 0 {
            self.close()?;
        }
        Ok(())
    }

    fn stream_field(&mut self, n: Str<'_>, v: Str<'_>) -> io::Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        let mut s = [0u8; 20];
        self.feed(n.as_bytes(&mut s));
        self.feed(v.as_bytes(&mut s));
        self.fields_left = self.fields_left.saturating_sub(1);
        if self.fields_left == 0 {
            self.close()?;
        }
        Ok(())
    }

    fn stream_group(
        &mut self,
        name: Str<'_>,
        last: StreamId,
        read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        if self.current.is_none() {
            return Ok(());
        }
        let g = Element::Group(self.bytes(name));
        self.open(g)?;
        self.feed(&last.ms.to_le_bytes());
        self.feed(&last.seq.to_le_bytes());
        self.feed(&read.map_or(u64::MAX, |r| r).to_le_bytes());
        self.feed(&pending.to_le_bytes());
        Ok(())
    }

    fn stream_pending(&mut self, id: StreamId, time: i64, count: u64) -> io::Result<()> {
        self.feed(&id.ms.to_le_bytes());
        self.feed(&id.seq.to_le_bytes());
        self.feed(&time.to_le_bytes());
        self.feed(&count.to_le_bytes());
        Ok(())
    }

    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen: i64,
        active: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        let mut s = [0u8; 20];
        self.feed(name.as_bytes(&mut s));
        self.feed(&seen.to_le_bytes());
        self.feed(&active.unwrap_or(i64::MIN).to_le_bytes());
        self.feed(&pending.to_le_bytes());
        Ok(())
    }

    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        self.feed(&id.ms.to_le_bytes());
        self.feed(&id.seq.to_le_bytes());
        Ok(())
    }

    fn key_end(&mut self, _: &KeyEnd) -> io::Result<()> {
        self.close()?;
        self.current = None;
        Ok(())
    }
}

/// Compares the elements the two sides recorded; returns, per chosen key's number, how its
/// elements differ, with at most `limit` of them listed. A hash field's expiry is compared
/// when `ttl`.
pub fn compare_elements(
    a: Side,
    b: Side,
    ttl: bool,
    limit: usize,
) -> io::Result<BTreeMap<u64, Detail>> {
    let mut out: BTreeMap<u64, Detail> = BTreeMap::new();
    let how = Compare {
        ttl,
        encoding: false,
    };
    let score = |k: &Kept| f64::from_bits(u64::from_le_bytes(k.value[..8].try_into().expect("8")));
    compare(a, b, how, |d| {
        let detail = out.entry(d.db).or_default();
        let element = Element::decode(&d.key);
        let member = matches!(element, Element::Member(_));
        let zset = |k: &Kept| (k.value_type == ValueType::Zset && member).then(|| score(k));
        let change = match &d.change {
            Change::Added(k) => {
                detail.added += 1;
                ElementChange {
                    element,
                    change: "added",
                    what: Vec::new(),
                    scores: (None, zset(k)),
                    expiries: (None, k.expire_ms),
                }
            }
            Change::Removed(k) => {
                detail.removed += 1;
                ElementChange {
                    element,
                    change: "removed",
                    what: Vec::new(),
                    scores: (zset(k), None),
                    expiries: (k.expire_ms, None),
                }
            }
            Change::Changed(x, y) => {
                detail.changed += 1;
                let mut what = d.what(how);
                if x.value_type == ValueType::Zset {
                    for w in &mut what {
                        if *w == "value" {
                            *w = "score";
                        }
                    }
                }
                ElementChange {
                    element,
                    change: "changed",
                    what,
                    scores: (zset(x), zset(y)),
                    expiries: (x.expire_ms, y.expire_ms),
                }
            }
        };
        detail.listed.push(change);
        // Keep the `limit` first in order of identity, sorting only now and then.
        if detail.listed.len() >= 2 * limit.max(1) {
            detail.listed.sort_by(|x, y| x.element.cmp(&y.element));
            detail.listed.truncate(limit);
        }
        Ok(())
    })?;
    for d in out.values_mut() {
        d.listed.sort_by(|x, y| x.element.cmp(&y.element));
        d.listed.truncate(limit);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdb_parse::{Encoding, RdbType};

    fn info(key: &[u8], t: ValueType) -> KeyInfo<'_> {
        KeyInfo {
            db: 0,
            key: Str::Bytes(key),
            rdb_type: RdbType::STRING,
            value_type: t,
            encoding: Encoding::String,
            expire_ms: None,
            idle_s: None,
            freq: None,
            len: None,
            blob_bytes: None,
            max_element: None,
            offset: 0,
        }
    }

    fn end() -> KeyEnd {
        KeyEnd {
            offset: 0,
            elements: 0,
            volatile_fields: 0,
        }
    }

    #[test]
    fn elements_are_compared_one_by_one() {
        let chosen = vec![(0, b"h".to_vec()), (0, b"z".to_vec()), (0, b"l".to_vec())];
        let mut a = ElementSink::new(&chosen, 7, None).unwrap();
        let mut b = ElementSink::new(&chosen, 7, None).unwrap();
        // A hash: f1 the same, f2 changed, f3 removed, f4 added, f5's expiry changed.
        a.key_start(&info(b"h", ValueType::Hash)).unwrap();
        for (f, v, t) in [
            ("f1", "1", None),
            ("f2", "2", None),
            ("f3", "3", None),
            ("f5", "5", Some(9)),
        ] {
            a.hash_field(Str::Bytes(f.as_bytes()), Str::Bytes(v.as_bytes()), t)
                .unwrap();
        }
        a.key_end(&end()).unwrap();
        b.key_start(&info(b"h", ValueType::Hash)).unwrap();
        for (f, v, t) in [
            ("f1", "1", None),
            ("f2", "x", None),
            ("f4", "4", None),
            ("f5", "5", Some(10)),
        ] {
            b.hash_field(Str::Bytes(f.as_bytes()), Str::Bytes(v.as_bytes()), t)
                .unwrap();
        }
        b.key_end(&end()).unwrap();
        // A key not chosen is not read.
        for s in [&mut a, &mut b] {
            s.key_start(&info(b"other", ValueType::Hash)).unwrap();
            s.hash_field(Str::Bytes(b"f"), Str::Int(1), None).unwrap();
            s.key_end(&end()).unwrap();
        }
        // A sorted set: one score changed, as an integer member on one side.
        a.key_start(&info(b"z", ValueType::Zset)).unwrap();
        a.zmember(Str::Bytes(b"7"), 1.5).unwrap();
        a.key_end(&end()).unwrap();
        b.key_start(&info(b"z", ValueType::Zset)).unwrap();
        b.zmember(Str::Int(7), 2.5).unwrap();
        b.key_end(&end()).unwrap();
        // A list, by position: three elements against two, the second changed.
        a.key_start(&info(b"l", ValueType::List)).unwrap();
        for v in ["a", "b", "c"] {
            a.element(Str::Bytes(v.as_bytes())).unwrap();
        }
        a.key_end(&end()).unwrap();
        b.key_start(&info(b"l", ValueType::List)).unwrap();
        for v in ["a", "B"] {
            b.element(Str::Bytes(v.as_bytes())).unwrap();
        }
        b.key_end(&end()).unwrap();

        let got =
            compare_elements(a.into_side().unwrap(), b.into_side().unwrap(), true, 10).unwrap();
        let h = &got[&0];
        assert_eq!((h.added, h.removed, h.changed), (1, 1, 2));
        let names: Vec<_> = h
            .listed
            .iter()
            .map(|c| (c.element.clone(), c.change, c.what.clone()))
            .collect();
        let f = |s: &str| Element::Field(s.as_bytes().to_vec());
        assert_eq!(
            names,
            [
                (f("f2"), "changed", vec!["value"]),
                (f("f3"), "removed", vec![]),
                (f("f4"), "added", vec![]),
                (f("f5"), "changed", vec!["ttl"]),
            ]
        );
        assert_eq!(h.listed[3].expiries, (Some(9), Some(10)));
        let z = &got[&1];
        assert_eq!((z.added, z.removed, z.changed), (0, 0, 1));
        assert_eq!(z.listed[0].what, ["score"]);
        assert_eq!(z.listed[0].scores, (Some(1.5), Some(2.5)));
        let l = &got[&2];
        assert_eq!((l.added, l.removed, l.changed), (0, 1, 1));
        assert_eq!(l.listed[0].element, Element::Index(1));
        assert_eq!(l.listed[1].element, Element::Index(2));

        // Without expiries compared, f5 is the same; with a limit of 1, the counts stay.
        let mut a = ElementSink::new(&chosen, 7, None).unwrap();
        let mut b = ElementSink::new(&chosen, 7, None).unwrap();
        for (s, ttl) in [(&mut a, 1), (&mut b, 2)] {
            s.key_start(&info(b"h", ValueType::Hash)).unwrap();
            s.hash_field(Str::Bytes(b"f5"), Str::Int(5), Some(ttl))
                .unwrap();
            for i in 0..50 {
                s.hash_field(Str::Int(i * ttl), Str::Int(0), None).unwrap();
            }
            s.key_end(&end()).unwrap();
        }
        let got =
            compare_elements(a.into_side().unwrap(), b.into_side().unwrap(), false, 1).unwrap();
        let h = &got[&0];
        assert_eq!((h.added, h.removed, h.changed), (25, 25, 0));
        assert_eq!(h.listed.len(), 1);
        assert_eq!(h.listed[0].element, Element::Field(b"1".to_vec()));
    }

    #[test]
    fn stream_entries_and_groups_are_elements() {
        let chosen = vec![(0, b"s".to_vec())];
        let mut sides = Vec::new();
        for variant in 0..2u64 {
            let mut s = ElementSink::new(&chosen, 1, None).unwrap();
            s.key_start(&info(b"s", ValueType::Stream)).unwrap();
            for i in 1..=3u64 {
                s.stream_entry(StreamId { ms: i, seq: 0 }, 1).unwrap();
                let v = if i == 2 { variant } else { 0 };
                s.stream_field(Str::Bytes(b"f"), Str::Int(v as i64))
                    .unwrap();
            }
            s.stream_group(Str::Bytes(b"g"), StreamId { ms: 1, seq: 0 }, Some(1), 1)
                .unwrap();
            s.stream_pending(StreamId { ms: 1, seq: 0 }, 100 + variant as i64, 1)
                .unwrap();
            s.stream_group(Str::Bytes(b"same"), StreamId { ms: 1, seq: 0 }, None, 0)
                .unwrap();
            s.key_end(&end()).unwrap();
            sides.push(s.into_side().unwrap());
        }
        let b = sides.pop().unwrap();
        let a = sides.pop().unwrap();
        let got = compare_elements(a, b, true, 10).unwrap();
        let s = &got[&0];
        assert_eq!((s.added, s.removed, s.changed), (0, 0, 2));
        assert_eq!(
            s.listed[0].element,
            Element::Entry(StreamId { ms: 2, seq: 0 })
        );
        assert_eq!(s.listed[1].element, Element::Group(b"g".to_vec()));
    }
}
