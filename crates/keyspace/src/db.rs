//! One database's keys, laid out for replaying large logs in little memory.
//!
//! Most keys of most datasets are strings or small collections, so such a key lives in one
//! allocation holding its flags, expiry, key and value ([`Blob`]: a string's bytes, or a small
//! collection packed as in [`crate::packed`]), in a table of 16-byte slots. Other keys (larger
//! collections, streams, and strings that commands change in place, such as APPEND's and
//! SETBIT's, which then grow without being copied every time) are [`Entry`] values in a second
//! table. A key is in at most one of them.

use crate::packed::{self, Kind};
use crate::prefetch::prefetch;
use crate::TableHasher;
use crate::{Entry, Value};
use hashbrown::hash_table::Entry as Slot;
use hashbrown::{HashMap, HashTable};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// How a value is packed: [`packed::pack`] or [`packed::pack_as_stored`].
type PackFn = fn(&Value) -> Option<(packed::Kind, Vec<u8>)>;

/// Flag: an expiry (8 bytes, little-endian unix ms) follows the flags byte.
const HAS_EXPIRE: u8 = 1;
/// Flag: the key length is 4 bytes (little-endian) instead of 1.
const LONG_KEY: u8 = 2;
/// Flags: what the value is (bits 2 to 4): a string, or a packed collection.
const KIND_SHIFT: u8 = 2;
const KIND_MASK: u8 = 0b111 << KIND_SHIFT;

fn kind_bits(kind: Option<Kind>) -> u8 {
    let n = match kind {
        None => 0,
        Some(Kind::List) => 1,
        Some(Kind::Set) => 2,
        Some(Kind::ZSet) => 3,
        Some(Kind::Hash) => 4,
    };
    n << KIND_SHIFT
}

/// A key with its value (a string, or a packed collection) and expiry in one allocation:
/// `flags, [expire: 8], klen: 1 or 4, key, value`.
struct Blob(Box<[u8]>);

impl Blob {
    fn new(key: &[u8], value: &[u8], expire_ms: Option<i64>, kind: Option<Kind>) -> Blob {
        let long = key.len() > u8::MAX as usize;
        // The exact size: the boxed slice then keeps the allocation as it is.
        let size = 1
            + if expire_ms.is_some() { 8 } else { 0 }
            + if long { 4 } else { 1 }
            + key.len()
            + value.len();
        let mut b = Vec::with_capacity(size);
        b.push(
            if expire_ms.is_some() { HAS_EXPIRE } else { 0 }
                | if long { LONG_KEY } else { 0 }
                | kind_bits(kind),
        );
        if let Some(t) = expire_ms {
            b.extend_from_slice(&t.to_le_bytes());
        }
        if long {
            b.extend_from_slice(&(key.len() as u32).to_le_bytes());
        } else {
            b.push(key.len() as u8);
        }
        b.extend_from_slice(key);
        b.extend_from_slice(value);
        Blob(b.into_boxed_slice())
    }

    /// Starts loading the cache lines of the first 256 bytes (the key and most short values)
    /// and the last one, without waiting for them.
    #[inline]
    fn warm(&self) {
        let p = self.0.as_ptr();
        let n = self.0.len();
        for at in (0..n.min(256)).step_by(64) {
            prefetch(p.wrapping_add(at));
        }
        prefetch(p.wrapping_add(n.saturating_sub(1)));
    }

    /// Offset of the key and its length.
    #[inline]
    fn key_at(&self) -> (usize, usize) {
        let b = &self.0;
        let mut at = 1 + if b[0] & HAS_EXPIRE != 0 { 8 } else { 0 };
        let klen = if b[0] & LONG_KEY != 0 {
            let n = u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
            at += 4;
            n as usize
        } else {
            at += 1;
            b[at - 1] as usize
        };
        (at, klen)
    }

    #[inline]
    fn key(&self) -> &[u8] {
        let (at, n) = self.key_at();
        &self.0[at..at + n]
    }

    fn value(&self) -> &[u8] {
        let (at, n) = self.key_at();
        &self.0[at + n..]
    }

    /// The packed collection's kind; `None` for a string.
    fn kind(&self) -> Option<Kind> {
        match (self.0[0] & KIND_MASK) >> KIND_SHIFT {
            0 => None,
            1 => Some(Kind::List),
            2 => Some(Kind::Set),
            3 => Some(Kind::ZSet),
            _ => Some(Kind::Hash),
        }
    }

    fn found(&self) -> Found<'_> {
        match self.kind() {
            None => Found::Str {
                value: self.value(),
                expire_ms: self.expire_ms(),
            },
            Some(kind) => Found::Packed {
                kind,
                payload: self.value(),
                expire_ms: self.expire_ms(),
            },
        }
    }

    fn expire_ms(&self) -> Option<i64> {
        (self.0[0] & HAS_EXPIRE != 0)
            .then(|| i64::from_le_bytes(self.0[1..9].try_into().expect("8 bytes")))
    }

    /// Replaces the value by a string (and the expiry, unless `keep`), in place when the size
    /// allows.
    fn set(&mut self, value: &[u8], expire_ms: Option<i64>, keep: bool) {
        let expire_ms = if keep { self.expire_ms() } else { expire_ms };
        let (at, n) = self.key_at();
        let same_shape = self.0.len() - at - n == value.len()
            && self.kind().is_none()
            && (self.0[0] & HAS_EXPIRE != 0) == expire_ms.is_some();
        if same_shape {
            self.0[at + n..].copy_from_slice(value);
            if let Some(t) = expire_ms {
                self.0[1..9].copy_from_slice(&t.to_le_bytes());
            }
        } else {
            *self = Blob::new(self.key(), value, expire_ms, None);
        }
    }

    fn into_entry(self) -> Entry {
        self.found().to_entry()
    }
}

/// A key's value as stored: an inline string, or an [`Entry`].
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// A string stored inline.
    Str {
        /// Its value.
        value: &'a [u8],
        /// Its expiry, unix ms.
        expire_ms: Option<i64>,
    },
    /// A small collection, packed.
    Packed {
        /// What it is.
        kind: Kind,
        /// Its entries (see [`crate::packed`]).
        payload: &'a [u8],
        /// Its expiry, unix ms.
        expire_ms: Option<i64>,
    },
    /// Any other value (or a string changed in place).
    Entry(&'a Entry),
}

impl<'a> Found<'a> {
    /// The string value, if the key holds a string.
    pub fn str(&self) -> Option<&'a [u8]> {
        match *self {
            Found::Str { value, .. } => Some(value),
            Found::Entry(Entry {
                value: Value::Str(s),
                ..
            }) => Some(s),
            _ => None,
        }
    }

    /// The value, unless it is a string stored inline (a packed collection comes unpacked).
    pub fn value(&self) -> Option<Cow<'a, Value>> {
        match *self {
            Found::Str { .. } => None,
            Found::Packed { kind, payload, .. } => Some(Cow::Owned(packed::unpack(kind, payload))),
            Found::Entry(e) => Some(Cow::Borrowed(&e.value)),
        }
    }

    /// The key's expiry, unix ms.
    pub fn expire_ms(&self) -> Option<i64> {
        match *self {
            Found::Str { expire_ms, .. } | Found::Packed { expire_ms, .. } => expire_ms,
            Found::Entry(e) => e.expire_ms,
        }
    }

    /// The type name `TYPE` gives.
    pub fn type_name(&self) -> &'static str {
        match *self {
            Found::Str { .. } => "string",
            Found::Packed { kind, .. } => match kind {
                Kind::List => "list",
                Kind::Set => "set",
                Kind::ZSet => "zset",
                Kind::Hash => "hash",
            },
            Found::Entry(e) => e.value.type_name(),
        }
    }

    /// An owned copy.
    pub fn to_entry(&self) -> Entry {
        match *self {
            Found::Str { value, expire_ms } => Entry {
                value: Value::Str(value.to_vec()),
                expire_ms,
            },
            Found::Packed {
                kind,
                payload,
                expire_ms,
            } => Entry {
                value: packed::unpack(kind, payload),
                expire_ms,
            },
            Found::Entry(e) => e.clone(),
        }
    }
}

/// The keys of one database.
#[derive(Default)]
pub struct Db {
    state: TableHasher,
    strs: HashTable<Blob>,
    rest: HashMap<Box<[u8]>, Entry, TableHasher>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("keys", &self.len()).finish()
    }
}

impl Db {
    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.state.hash_one(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.strs.len() + self.rest.len()
    }

    /// Number of keys with an expiry. Reads one byte of each inline key, with nothing that
    /// depends on the one before: the cache misses overlap.
    pub fn expires(&self) -> usize {
        let inline = self
            .strs
            .iter()
            .filter(|b| b.0[0] & HAS_EXPIRE != 0)
            .count();
        inline + self.rest.values().filter(|e| e.expire_ms.is_some()).count()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for `n` more keys stored inline.
    pub fn reserve(&mut self, n: usize) {
        let state = &self.state;
        self.strs.reserve(n, |b| state.hash_one(b.key()));
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.strs.clear();
        self.rest.clear();
    }

    /// Whether `key` exists.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.strs.find(self.hash(key), |b| b.key() == key).is_some() || self.rest.contains_key(key)
    }

    /// Brings the entries of `keys` into the cache before they are used, and changes
    /// nothing. A lookup walks three places one after another (the table's control bytes,
    /// the slot, the key's allocation), each a cache miss in a large table; done key by key
    /// the misses come one after another. Here each pass goes one level down for every key,
    /// starting the loads of the next level without waiting for them, so that the misses of
    /// a pass overlap.
    pub fn warm(&self, keys: &[&[u8]]) {
        // The control bytes, read; the slots whose tag matches, started.
        for k in keys {
            self.strs.find(self.hash(k), |b| {
                prefetch(b as *const Blob);
                false
            });
        }
        // The slots, read; the allocations they point to, started.
        for k in keys {
            self.strs.find(self.hash(k), |b| {
                b.warm();
                false
            });
        }
        if !self.rest.is_empty() {
            for k in keys {
                std::hint::black_box(self.rest.get(*k).map(|e| e as *const Entry));
            }
        }
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Option<Found<'_>> {
        if let Some(b) = self.strs.find(self.hash(key), |b| b.key() == key) {
            return Some(b.found());
        }
        self.rest.get(key).map(Found::Entry)
    }

    /// The entry at `key`, to change; a value stored inline (a string, a packed collection) is
    /// moved beside the other values first, unpacked (so that changes in place stay cheap).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = self.hash(key);
        if let Ok(slot) = self.strs.find_entry(h, |b| b.key() == key) {
            let (blob, _) = slot.remove();
            return Some(
                self.rest
                    .entry(Box::from(key))
                    .insert(blob.into_entry())
                    .into_mut(),
            );
        }
        self.rest.get_mut(key)
    }

    /// The entry at `key`, made by `make` when there is none (see [`Db::get_mut`]).
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> Entry) -> &mut Entry {
        if self.contains_key(key) {
            return self.get_mut(key).expect("present");
        }
        self.rest.entry(Box::from(key)).or_insert_with(make)
    }

    /// Removes `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let h = self.hash(key);
        if let Ok(slot) = self.strs.find_entry(h, |b| b.key() == key) {
            return Some(slot.remove().0.into_entry());
        }
        self.rest.remove(key)
    }

    /// Sets `key` to `entry`, replacing what it held; a small collection is packed.
    pub fn insert(&mut self, key: &[u8], entry: Entry) {
        self.insert_packed(key, entry, packed::pack)
    }

    /// [`Db::insert`] of a value loaded from a packed record (a listpack or ziplist), whose
    /// scores a server keeps as stored.
    pub fn insert_as_stored(&mut self, key: &[u8], entry: Entry) {
        self.insert_packed(key, entry, packed::pack_as_stored)
    }

    fn insert_packed(&mut self, key: &[u8], entry: Entry, pack: PackFn) {
        if let Some((kind, payload)) = pack(&entry.value) {
            self.put_blob(key, Blob::new(key, &payload, entry.expire_ms, Some(kind)));
            return;
        }
        match entry.value {
            Value::Str(s) => self.put_str(key, &s, Some(entry.expire_ms)),
            value => {
                let h = self.hash(key);
                if let Ok(slot) = self.strs.find_entry(h, |b| b.key() == key) {
                    slot.remove();
                }
                self.rest.insert(
                    Box::from(key),
                    Entry {
                        value,
                        expire_ms: entry.expire_ms,
                    },
                );
            }
        }
    }

    /// Sets `key` to the string `value` with the expiry `expire` (`None`: keep the key's).
    pub fn put_str(&mut self, key: &[u8], value: &[u8], expire: Option<Option<i64>>) {
        let h = self.hash(key);
        if let Ok(mut slot) = self.strs.find_entry(h, |b| b.key() == key) {
            slot.get_mut()
                .set(value, expire.flatten(), expire.is_none());
            return;
        }
        let mut expire_ms = expire.flatten();
        if !self.rest.is_empty() {
            if let Some(e) = self.rest.get_mut(key) {
                if let Value::Str(s) = &mut e.value {
                    s.clear();
                    s.extend_from_slice(value);
                    if let Some(t) = expire {
                        e.expire_ms = t;
                    }
                    return;
                }
                let old = self.rest.remove(key).expect("present");
                if expire.is_none() {
                    expire_ms = old.expire_ms;
                }
            }
        }
        let state = &self.state;
        match self
            .strs
            .entry(h, |b| b.key() == key, |b| state.hash_one(b.key()))
        {
            Slot::Vacant(v) => {
                v.insert(Blob::new(key, value, expire_ms, None));
            }
            Slot::Occupied(_) => unreachable!("looked up above"),
        }
    }

    /// Sets `key` to the packed collection `payload` (see [`crate::packed`]) of `kind`,
    /// replacing what it held.
    pub fn put_packed(&mut self, key: &[u8], kind: Kind, payload: &[u8], expire_ms: Option<i64>) {
        self.put_blob(key, Blob::new(key, payload, expire_ms, Some(kind)));
    }

    /// Puts `blob` at `key`, replacing what it held.
    fn put_blob(&mut self, key: &[u8], blob: Blob) {
        if !self.rest.is_empty() {
            self.rest.remove(key);
        }
        let h = self.hash(key);
        let state = &self.state;
        match self
            .strs
            .entry(h, |b| b.key() == key, |b| state.hash_one(b.key()))
        {
            Slot::Vacant(v) => {
                v.insert(blob);
            }
            Slot::Occupied(mut o) => *o.get_mut() = blob,
        }
    }

    /// Packs the collection at `key` if it is small enough (see [`crate::packed`]) and is
    /// not a sorted set the server holds in a skiplist (once large, never packed again) or
    /// with a -0 score (which the server keeps only in a skiplist).
    pub fn repack(&mut self, key: &[u8]) {
        if self.rest.is_empty() {
            return;
        }
        let Some(e) = self.rest.get(key) else {
            return;
        };
        if let Value::ZSet(z) = &e.value {
            // The size first: a large set is not walked after each command.
            if z.is_skiplist()
                || z.len() > packed::MAX_ENTRIES
                || z.values().any(|s| *s == 0.0 && s.is_sign_negative())
            {
                return;
            }
        }
        if matches!(e.value, Value::Str(_) | Value::Stream(_)) {
            return;
        }
        if let Some((kind, payload)) = packed::pack(&e.value) {
            let blob = Blob::new(key, &payload, e.expire_ms, Some(kind));
            self.put_blob(key, blob);
        }
    }

    /// Changes the packed collection of `kind` at `key` with `change` (which gets its payload,
    /// empty when the key does not exist and `create` is set, and returns the new one, or
    /// `None` when the result would not stay packed). An empty result deletes the key. False
    /// when nothing was done: the key holds something else (another type, a collection too
    /// large to pack), is missing and not to be created, or `change` returned `None`; the
    /// caller then applies the command to the unpacked value.
    pub fn packed_update(
        &mut self,
        key: &[u8],
        kind: Kind,
        create: bool,
        change: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> bool {
        let h = self.hash(key);
        match self.strs.find_entry(h, |b| b.key() == key) {
            Ok(mut slot) => {
                let b = slot.get_mut();
                if b.kind() != Some(kind) {
                    return false;
                }
                let Some(new) = change(b.value()) else {
                    return false;
                };
                if new.is_empty() {
                    slot.remove();
                } else if new.len() == b.value().len() {
                    // The same size (a value overwritten by one as long): in place.
                    let (at, n) = b.key_at();
                    b.0[at + n..].copy_from_slice(&new);
                } else {
                    *b = Blob::new(b.key(), &new, b.expire_ms(), Some(kind));
                }
                true
            }
            Err(_) if !create || self.rest.contains_key(key) => false,
            Err(_) => {
                let Some(new) = change(&[]) else {
                    return false;
                };
                if !new.is_empty() {
                    let state = &self.state;
                    self.strs
                        .insert_unique(h, Blob::new(key, &new, None, Some(kind)), |b| {
                            state.hash_one(b.key())
                        });
                }
                true
            }
        }
    }

    /// The expiry of `key`: `None` when there is no such key.
    pub fn expire_ms(&self, key: &[u8]) -> Option<Option<i64>> {
        self.get(key).map(|f| f.expire_ms())
    }

    /// Sets the expiry of `key`; false when there is no such key.
    pub fn set_expire(&mut self, key: &[u8], expire_ms: Option<i64>) -> bool {
        let h = self.hash(key);
        if let Ok(mut slot) = self.strs.find_entry(h, |b| b.key() == key) {
            let b = slot.get_mut();
            if b.expire_ms() != expire_ms {
                *b = Blob::new(b.key(), b.value(), expire_ms, b.kind());
            }
            return true;
        }
        match self.rest.get_mut(key) {
            Some(e) => {
                e.expire_ms = expire_ms;
                true
            }
            None => false,
        }
    }

    /// Every key and its entry, taken out.
    pub fn into_entries(self) -> impl Iterator<Item = (Vec<u8>, Entry)> {
        self.strs
            .into_iter()
            .map(|b| (b.key().to_vec(), b.into_entry()))
            .chain(self.rest.into_iter().map(|(k, e)| (k.into_vec(), e)))
    }

    /// The keys whose values are not stored inline (see [`Found::Entry`]): every hash with
    /// field TTLs and every stream is among them. Reads none of the inline keys.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.rest.iter().map(|(k, e)| (&k[..], e))
    }

    /// Every key and its value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Found<'_>)> {
        self.iter_part(0, 1, usize::MAX).map(|(_, k, f)| (k, f))
    }

    /// The keys of part `part` of `parts`: the keys in the order of [`Db::iter`], cut in
    /// chunks of `chunk` keys, chunk `c` in part `c % parts`. Each comes with its chunk's
    /// number.
    pub fn iter_part(
        &self,
        part: usize,
        parts: usize,
        chunk: usize,
    ) -> impl Iterator<Item = (usize, &[u8], Found<'_>)> {
        // A second walk of the table runs ahead of the first: every `AHEAD` keys, it starts
        // loading the allocations of the next `AHEAD`, so that their cache misses overlap
        // instead of coming one per key.
        const AHEAD: usize = 16;
        let chunk = chunk.max(1);
        let number = move |i: usize| if parts <= 1 { 0 } else { i / chunk };
        let mine = move |i: usize| parts <= 1 || number(i) % parts == part;
        let mut scout = self.strs.iter().enumerate().filter(move |&(i, _)| mine(i));
        let mut n = 0usize;
        let strs = self.strs.len();
        self.strs
            .iter()
            .enumerate()
            .filter(move |&(i, _)| mine(i))
            .map(move |(i, b)| {
                if n.is_multiple_of(AHEAD) {
                    for (_, next) in scout.by_ref().take(AHEAD) {
                        next.warm();
                    }
                }
                n += 1;
                (number(i), b.key(), b.found())
            })
            .chain(
                self.rest
                    .iter()
                    .enumerate()
                    .filter(move |&(i, _)| mine(strs + i))
                    .map(move |(i, (k, e))| (number(strs + i), &k[..], Found::Entry(e))),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8], t: Option<i64>) -> Entry {
        Entry {
            value: Value::Str(v.to_vec()),
            expire_ms: t,
        }
    }

    #[test]
    fn strings_inline_and_moved() {
        let mut db = Db::default();
        let long_key = vec![b'k'; 300];
        for key in [&b"a"[..], &long_key] {
            db.put_str(key, b"one", Some(None));
            assert_eq!(db.get(key).unwrap().str(), Some(&b"one"[..]));
            db.put_str(key, b"two", Some(Some(5)));
            assert_eq!(db.get(key).unwrap().expire_ms(), Some(5));
            db.put_str(key, b"three", None);
            assert_eq!(db.get(key).unwrap().to_entry(), s(b"three", Some(5)));
            assert!(db.set_expire(key, None));
            assert_eq!(db.get(key).unwrap().to_entry(), s(b"three", None));
            // Changed in place: moved to the other table, same key and value.
            db.get_mut(key).unwrap().expire_ms = Some(9);
            assert_eq!(db.get(key).unwrap().to_entry(), s(b"three", Some(9)));
            db.put_str(key, b"four", None);
            assert_eq!(db.get(key).unwrap().to_entry(), s(b"four", Some(9)));
            assert_eq!(db.len(), 1);
            assert_eq!(db.remove(key), Some(s(b"four", Some(9))));
            assert!(db.is_empty());
        }
    }

    #[test]
    fn types_replace_each_other() {
        let mut db = Db::default();
        db.put_str(b"k", b"v", Some(Some(7)));
        let list = Entry {
            value: Value::List(Box::default()),
            expire_ms: None,
        };
        db.insert(b"k", list.clone());
        assert_eq!(db.len(), 1);
        assert_eq!(db.get(b"k").unwrap().type_name(), "list");
        db.put_str(b"k", b"w", None);
        assert_eq!(db.len(), 1);
        assert_eq!(db.get(b"k").unwrap().to_entry(), s(b"w", None));
        db.insert(b"k", s(b"x", Some(1)));
        assert_eq!(db.iter().count(), 1);
        assert_eq!(db.expire_ms(b"k"), Some(Some(1)));
        assert_eq!(db.expire_ms(b"nope"), None);
    }
}
