//! Small collections packed into one byte string, as the server keeps them in a listpack: a
//! list's elements, a set's members, a sorted set's members each followed by its score (8
//! bytes), a hash's fields each followed by its value; every byte string is preceded by its
//! length (LEB128). A collection stays packed while it has at most [`MAX_ENTRIES`] entries of at
//! most [`MAX_BYTES`] bytes each (the servers' default listpack limits) and, for a hash, no field
//! TTL. The changes the common write commands make are done here on the packed form; the
//! functions return `None` when the result would not stay packed (the caller then unpacks).

use crate::{HashFields, Set, Value};
use std::collections::VecDeque;

/// Most entries (elements, members, fields) of a packed collection.
pub const MAX_ENTRIES: usize = 128;
/// Longest element, member, field or value of a packed collection.
pub const MAX_BYTES: usize = 64;

/// The kind of a packed collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A hash without field TTLs.
    Hash,
}

/// Appends one byte string (its length, then its bytes) to a payload.
pub fn put(out: &mut Vec<u8>, item: &[u8]) {
    let mut n = item.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(item);
}

/// The byte strings of a payload, in order.
pub struct Items<'a> {
    b: &'a [u8],
    at: usize,
}

impl Items<'_> {
    /// Where the next byte string is in the payload.
    fn next_range(&mut self) -> Option<std::ops::Range<usize>> {
        if self.at >= self.b.len() {
            return None;
        }
        let (mut n, mut shift) = (0usize, 0);
        loop {
            let c = self.b[self.at];
            self.at += 1;
            n |= ((c & 0x7f) as usize) << shift;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let item = self.at..self.at + n;
        self.at += n;
        Some(item)
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let r = self.next_range()?;
        Some(&self.b[r])
    }
}

/// The byte strings of `payload`: elements, members and 8-byte scores, or fields and values.
pub fn items(payload: &[u8]) -> Items<'_> {
    Items { b: payload, at: 0 }
}

/// Pairs of a sorted set's or a hash's payload.
fn pairs(payload: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut it = items(payload);
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

fn score(b: &[u8]) -> f64 {
    f64::from_le_bytes(b.try_into().expect("8-byte score"))
}

/// How many entries `payload` holds.
pub fn len(kind: Kind, payload: &[u8]) -> usize {
    match kind {
        Kind::List | Kind::Set => items(payload).count(),
        Kind::ZSet | Kind::Hash => items(payload).count() / 2,
    }
}

fn fits(items: &[&[u8]]) -> bool {
    items.iter().all(|i| i.len() <= MAX_BYTES)
}

/// The packed form of `value`, when it is a collection small enough; a sorted set's -0
/// scores become 0, as a server's listpack holds a score it is given (`ZADD`, a conversion).
pub fn pack(value: &Value) -> Option<(Kind, Vec<u8>)> {
    pack_scores(value, listpack_score)
}

/// [`pack`] keeping each score as it is: a server keeps the scores of a listpack or ziplist
/// it loads as stored, a -0 included.
pub fn pack_as_stored(value: &Value) -> Option<(Kind, Vec<u8>)> {
    pack_scores(value, |s| s)
}

fn pack_scores(value: &Value, score: impl Fn(f64) -> f64) -> Option<(Kind, Vec<u8>)> {
    let mut out = Vec::new();
    let kind = match value {
        Value::List(l) if l.len() <= MAX_ENTRIES && l.iter().all(|e| e.len() <= MAX_BYTES) => {
            l.iter().for_each(|e| put(&mut out, e));
            Kind::List
        }
        Value::Set(s) if s.len() <= MAX_ENTRIES && s.iter().all(|e| e.len() <= MAX_BYTES) => {
            s.iter().for_each(|e| put(&mut out, e));
            Kind::Set
        }
        Value::ZSet(z) if z.len() <= MAX_ENTRIES && z.keys().all(|m| m.len() <= MAX_BYTES) => {
            for (m, s) in z.iter() {
                put(&mut out, m);
                put(&mut out, &score(*s).to_le_bytes());
            }
            Kind::ZSet
        }
        Value::Hash(h)
            if h.len() <= MAX_ENTRIES
                && h.iter().all(|(f, (v, t))| {
                    t.is_none() && f.len() <= MAX_BYTES && v.len() <= MAX_BYTES
                }) =>
        {
            for (f, (v, _)) in h.iter() {
                put(&mut out, f);
                put(&mut out, v);
            }
            Kind::Hash
        }
        _ => return None,
    };
    Some((kind, out))
}

/// The collection `payload` holds.
pub fn unpack(kind: Kind, payload: &[u8]) -> Value {
    match kind {
        Kind::List => Value::List(Box::new(
            items(payload).map(<[u8]>::to_vec).collect::<VecDeque<_>>(),
        )),
        Kind::Set => Value::Set(Box::new(
            items(payload).map(<[u8]>::to_vec).collect::<Set<_>>(),
        )),
        Kind::ZSet => Value::ZSet(Box::new(
            pairs(payload)
                .map(|(m, s)| (m.to_vec(), score(s)))
                .collect::<crate::ZSet>(),
        )),
        Kind::Hash => Value::Hash(Box::new(
            pairs(payload)
                .map(|(f, v)| (f.to_vec(), (v.to_vec(), None)))
                .collect::<HashFields>(),
        )),
    }
}

/// Sets fields of a hash (`nx`: only those it does not have), as HSET/HMSET/HSETNX do.
pub fn hash_set(payload: &[u8], pairs_in: &[&[u8]], nx: bool) -> Option<Vec<u8>> {
    if !pairs_in.len().is_multiple_of(2) || !fits(pairs_in) {
        return None;
    }
    // Written in one pass, with no list of the fields: the fields the hash has, in order,
    // each with the value the command gives it (the last one named, unless `nx`), then the
    // new fields in the order first named (with the last value named, or the first if `nx`).
    let given = |f: &[u8]| -> Option<&[u8]> {
        let mut named = pairs_in.chunks(2).filter(|p| p[0] == f);
        if nx {
            named.next().map(|p| p[1])
        } else {
            named.next_back().map(|p| p[1])
        }
    };
    let extra: usize = pairs_in.iter().map(|a| a.len() + 2).sum();
    let mut out = Vec::with_capacity(payload.len() + extra);
    let mut entries = 0;
    for (f, v) in pairs(payload) {
        put(&mut out, f);
        put(&mut out, if nx { v } else { given(f).unwrap_or(v) });
        entries += 1;
    }
    for (i, p) in pairs_in.chunks(2).enumerate() {
        let first = !pairs_in[..2 * i].chunks(2).any(|q| q[0] == p[0]);
        if first && !pairs(payload).any(|(f, _)| f == p[0]) {
            put(&mut out, p[0]);
            put(&mut out, given(p[0]).unwrap_or(p[1]));
            entries += 1;
        }
    }
    if entries > MAX_ENTRIES {
        return None;
    }
    Some(out)
}

/// The value of a hash's field.
pub fn hash_get<'a>(payload: &'a [u8], field: &[u8]) -> Option<&'a [u8]> {
    pairs(payload).find(|(f, _)| *f == field).map(|(_, v)| v)
}

/// Removes entries (hash fields, set or sorted-set members) named in `names`.
pub fn remove(kind: Kind, payload: &[u8], names: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    match kind {
        Kind::Set | Kind::List => {
            for m in items(payload).filter(|m| !names.contains(m)) {
                put(&mut out, m);
            }
        }
        Kind::ZSet | Kind::Hash => {
            for (a, b) in pairs(payload).filter(|(a, _)| !names.contains(a)) {
                put(&mut out, a);
                put(&mut out, b);
            }
        }
    }
    out
}

/// Adds members to a set, as SADD does.
pub fn set_add(payload: &[u8], members: &[&[u8]]) -> Option<Vec<u8>> {
    if !fits(members) {
        return None;
    }
    let mut out = payload.to_vec();
    let mut n = len(Kind::Set, payload);
    for (i, m) in members.iter().enumerate() {
        if items(payload).any(|e| e == *m) || members[..i].contains(m) {
            continue;
        }
        n += 1;
        if n > MAX_ENTRIES {
            return None;
        }
        put(&mut out, m);
    }
    Some(out)
}

/// Sets scores of a sorted set, as ZADD without options does (`pairs_in`: score, member, ...).
pub fn zset_add(payload: &[u8], pairs_in: &[&[u8]]) -> Option<Vec<u8>> {
    if !pairs_in.len().is_multiple_of(2) {
        return None;
    }
    let mut scored = Vec::with_capacity(pairs_in.len() / 2);
    for p in pairs_in.chunks(2) {
        // Scores the server would refuse (NaN, not a number) are left to the general path.
        scored.push((crate::num::float(p[0]).ok()?, p[1]));
    }
    zset_put(payload, &scored)
}

fn zset_put(payload: &[u8], scored: &[(f64, &[u8])]) -> Option<Vec<u8>> {
    let mut members: Vec<(&[u8], f64)> = pairs(payload).map(|(m, s)| (m, score(s))).collect();
    for &(s, member) in scored {
        if member.len() > MAX_BYTES {
            return None;
        }
        let s = listpack_score(s);
        match members.iter_mut().find(|(m, _)| *m == member) {
            Some(e) => e.1 = s,
            None => members.push((member, s)),
        }
    }
    if members.len() > MAX_ENTRIES {
        return None;
    }
    let mut out = Vec::with_capacity(payload.len() + 16);
    for (m, s) in members {
        put(&mut out, m);
        put(&mut out, &s.to_le_bytes());
    }
    Some(out)
}

/// Adds `by` to a member's score (0 for a new member), as ZINCRBY does; `None` for a NaN
/// result (the server refuses it) or a member too long to stay packed.
pub fn zset_incr(payload: &[u8], by: f64, member: &[u8]) -> Option<Vec<u8>> {
    let cur = pairs(payload)
        .find(|(m, _)| *m == member)
        .map(|(_, s)| score(s));
    let new = cur.map_or(by, |c| c + by);
    if new.is_nan() {
        return None;
    }
    zset_put(payload, &[(new, member)])
}

/// Makes each -0 score of a sorted set's payload 0, as a server's listpack holds a score it
/// is given.
pub fn zero_negative_zero_scores(payload: &mut [u8]) {
    let mut at = 0;
    let mut member = true;
    loop {
        let mut it = Items { b: payload, at };
        let Some(r) = it.next_range() else {
            break;
        };
        at = it.at;
        if !member && r.len() == 8 {
            let s = f64::from_le_bytes(payload[r.clone()].try_into().expect("8 bytes"));
            payload[r].copy_from_slice(&listpack_score(s).to_le_bytes());
        }
        member = !member;
    }
}

/// A score as a listpack keeps it: -0 becomes 0 (stored as the integer 0).
fn listpack_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Pushes elements onto a list, one after another at its head (`front`) or tail.
pub fn list_push(payload: &[u8], elements: &[&[u8]], front: bool) -> Option<Vec<u8>> {
    if !fits(elements) || len(Kind::List, payload) + elements.len() > MAX_ENTRIES {
        return None;
    }
    let mut out =
        Vec::with_capacity(payload.len() + elements.iter().map(|e| e.len() + 1).sum::<usize>());
    if front {
        for e in elements.iter().rev() {
            put(&mut out, e);
        }
        out.extend_from_slice(payload);
    } else {
        out.extend_from_slice(payload);
        for e in elements {
            put(&mut out, e);
        }
    }
    Some(out)
}

/// Pops `count` elements from a list's head (`front`) or tail.
pub fn list_pop(payload: &[u8], count: usize, front: bool) -> Vec<u8> {
    let all: Vec<&[u8]> = items(payload).collect();
    let keep = all.len().saturating_sub(count);
    let kept = if front {
        &all[all.len() - keep..]
    } else {
        &all[..keep]
    };
    let mut out = Vec::with_capacity(payload.len());
    for e in kept {
        put(&mut out, e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(pairs: &[(&str, &str)]) -> Value {
        Value::Hash(Box::new(
            pairs
                .iter()
                .map(|(f, v)| (f.as_bytes().to_vec(), (v.as_bytes().to_vec(), None)))
                .collect(),
        ))
    }

    #[test]
    fn round_trips_and_limits() {
        let long = vec![b'x'; 300];
        let values = [
            hash(&[("a", "1"), ("b", "")]),
            Value::List(Box::new(
                [b"x".to_vec(), long.clone()].into_iter().collect(),
            )),
            Value::Set(Box::new([b"m".to_vec(), vec![]].into_iter().collect())),
            Value::ZSet(Box::new(
                [(b"z".to_vec(), -1.5), (b"y".to_vec(), f64::INFINITY)]
                    .into_iter()
                    .collect(),
            )),
        ];
        for v in &values {
            match pack(v) {
                Some((kind, p)) => {
                    let back = unpack(kind, &p);
                    if let (Value::ZSet(a), Value::ZSet(b)) = (&back, v) {
                        for (m, s) in a.iter() {
                            assert_eq!(s.to_bits(), b[m].to_bits());
                        }
                    }
                    assert_eq!(&back, v);
                }
                // The list holds a 300-byte element: not packed.
                None => assert!(matches!(v, Value::List(_))),
            }
        }
    }

    /// HSET's fields, as a server's listpack holds them: those it had in place (with the last
    /// value named, unless NX), then new ones in the order first named.
    fn hset_model(had: &[(Vec<u8>, Vec<u8>)], args: &[&[u8]], nx: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = had.to_vec();
        for p in args.chunks(2) {
            match out.iter_mut().find(|(f, _)| f == p[0]) {
                Some(_) if nx => {}
                Some(e) => e.1 = p[1].to_vec(),
                None => out.push((p[0].to_vec(), p[1].to_vec())),
            }
        }
        out
    }

    #[test]
    fn hash_set_keeps_the_listpack_order() {
        let names: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];
        let values: [&[u8]; 3] = [b"1", b"22", b""];
        let mut cases = 0;
        // Every hash of up to 3 of a, b, c in every order, and every HSET of 1 to 3 pairs.
        let mut hashes: Vec<Vec<usize>> = vec![vec![]];
        for _ in 0..3 {
            let longer: Vec<Vec<usize>> = hashes
                .iter()
                .flat_map(|h| {
                    (0..3)
                        .filter(|i| !h.contains(i))
                        .map(move |i| [&h[..], &[i]].concat())
                })
                .collect();
            hashes.extend(longer);
        }
        hashes.sort();
        hashes.dedup();
        let mut calls: Vec<Vec<(usize, usize)>> = vec![vec![]];
        for _ in 0..3 {
            let longer: Vec<Vec<(usize, usize)>> = calls
                .iter()
                .flat_map(|c| {
                    (0..4).flat_map(move |f| (0..3).map(move |v| [&c[..], &[(f, v)]].concat()))
                })
                .collect();
            calls.extend(longer);
        }
        calls.sort();
        calls.dedup();
        for h in &hashes {
            let had: Vec<(Vec<u8>, Vec<u8>)> = h
                .iter()
                .map(|&i| (names[i].to_vec(), b"old".to_vec()))
                .collect();
            let mut payload = Vec::new();
            for (f, v) in &had {
                put(&mut payload, f);
                put(&mut payload, v);
            }
            for c in calls.iter().filter(|c| !c.is_empty()) {
                let args: Vec<&[u8]> = c.iter().flat_map(|&(f, v)| [names[f], values[v]]).collect();
                for nx in [false, true] {
                    let got = hash_set(&payload, &args, nx).unwrap();
                    let got: Vec<(Vec<u8>, Vec<u8>)> =
                        pairs(&got).map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                    assert_eq!(got, hset_model(&had, &args, nx), "{had:?} {args:?} nx={nx}");
                    cases += 1;
                }
            }
        }
        assert!(cases > 10_000, "{cases}");
    }

    #[test]
    fn edits_match_the_unpacked_collections() {
        let (_, p) = pack(&hash(&[("a", "1")])).unwrap();
        let p = hash_set(&p, &[b"b", b"2", b"a", b"3"], false).unwrap();
        let p2 = hash_set(&p, &[b"a", b"9", b"c", b"4"], true).unwrap();
        assert_eq!(
            unpack(Kind::Hash, &p2),
            hash(&[("a", "3"), ("b", "2"), ("c", "4")])
        );
        assert_eq!(
            unpack(Kind::Hash, &remove(Kind::Hash, &p2, &[b"a", b"zz"])),
            hash(&[("b", "2"), ("c", "4")])
        );
        let l = list_push(&[], &[b"a", b"b"], false).unwrap();
        let l = list_push(&l, &[b"c", b"d"], true).unwrap(); // d c a b
        let got: Vec<&[u8]> = items(&l).collect();
        assert_eq!(got, [&b"d"[..], b"c", b"a", b"b"]);
        let got: Vec<Vec<u8>> = items(&list_pop(&l, 3, true)).map(|e| e.to_vec()).collect();
        assert_eq!(got, [b"b".to_vec()]);
        let got: Vec<Vec<u8>> = items(&list_pop(&l, 1, false)).map(|e| e.to_vec()).collect();
        assert_eq!(got, [b"d".to_vec(), b"c".to_vec(), b"a".to_vec()]);
        let s = set_add(&[], &[b"a", b"a", b"b"]).unwrap();
        assert_eq!(len(Kind::Set, &s), 2);
        let z = zset_add(&[], &[b"1.5", b"m", b"2", b"m"]).unwrap();
        assert_eq!(len(Kind::ZSet, &z), 1);
        // As in a listpack, -0 is held as 0.
        let z = zset_incr(&z, -0.0, b"n").unwrap();
        let Value::ZSet(u) = unpack(Kind::ZSet, &z) else {
            unreachable!()
        };
        assert_eq!((u[&b"m"[..]], u[&b"n"[..]].to_bits()), (2.0, 0));
        assert!(zset_add(&z, &[b"nan", b"m"]).is_none());
        // Past the limits: not packed.
        let many: Vec<Vec<u8>> = (0..=MAX_ENTRIES)
            .map(|i| i.to_string().into_bytes())
            .collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        assert!(set_add(&[], &refs).is_none());
        assert!(hash_set(&[], &[b"f", &[b'v'; MAX_BYTES + 1]], false).is_none());
    }
}
