//! How the commands reach the values of the selected database: a collection of a type,
//! created or existing ([`typed!`], [`existing!`]); strings; empty collections removed; the
//! sources of a command that reads many keys, read in place ([`Sources`]).

use crate::{Error, Keyspace, Map, Value};
use std::borrow::Cow;

/// The collection of type `$variant` at `$key`, created empty when missing; returns
/// [`Error::WrongType`] (naming `$name`) from the calling function when the key holds another
/// type.
macro_rules! typed {
    ($ks:expr, $key:expr, $variant:ident, $name:expr) => {{
        let db = $ks.db_mut();
        let e = db.get_or_insert_with($key, || $crate::Entry {
            value: $crate::Value::$variant(Default::default()),
            expire_ms: None,
        });
        match &mut e.value {
            $crate::Value::$variant(v) => v,
            other => {
                return Err($crate::Error::WrongType(format!(
                    "{} on a {}",
                    $name,
                    other.type_name()
                )))
            }
        }
    }};
}
pub(crate) use typed;

/// The collection of type `$variant` at `$key`, or `None` when missing; returns
/// [`Error::WrongType`] (naming `$name`) from the calling function when the key holds another
/// type.
macro_rules! existing {
    ($ks:expr, $key:expr, $variant:ident, $name:expr) => {{
        match $ks.db_mut().get_mut($key) {
            None => None,
            Some($crate::Entry {
                value: $crate::Value::$variant(v),
                ..
            }) => Some(v),
            Some(e) => {
                return Err($crate::Error::WrongType(format!(
                    "{} on a {}",
                    $name,
                    e.value.type_name()
                )))
            }
        }
    }};
}
pub(crate) use existing;

/// What a write does to the key's TTL.
#[derive(Clone, Copy)]
pub(crate) enum Ttl {
    /// The key keeps its TTL (KEEPTTL, APPEND, the counters).
    Keep,
    /// The key gets this expiry (`None`: none).
    Set(Option<i64>),
}

impl Keyspace {
    /// Removes `key` when its collection became empty (as the server does).
    pub(crate) fn drop_if_empty(&mut self, key: &[u8]) {
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

    /// Sets a string value, keeping the key's TTL or dropping it.
    pub(crate) fn set_string(&mut self, key: &[u8], v: &[u8], keep_ttl: bool) {
        self.put_string(key, v, if keep_ttl { Ttl::Keep } else { Ttl::Set(None) });
    }

    /// Sets a string value with one lookup, in place when the size allows.
    pub(crate) fn put_string(&mut self, key: &[u8], v: &[u8], ttl: Ttl) {
        let expire = match ttl {
            Ttl::Keep => None,
            Ttl::Set(t) => Some(t),
        };
        self.db_mut().put_str(key, v, expire);
    }

    /// The string at `key` to change in place, or `None` when missing.
    pub(crate) fn string_of(
        &mut self,
        key: &[u8],
        name: &str,
    ) -> Result<Option<&mut Vec<u8>>, Error> {
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

    /// The value at `key` in the selected database, read without moving it.
    pub(crate) fn found(&self, key: &[u8]) -> Option<crate::Found<'_>> {
        self.dbs.get(&self.db)?.get(key)
    }
}

/// The values of the keys a command reads (the sources of the *STORE commands), read in place:
/// a key named many times is looked up, and a packed collection unpacked, once, so that naming
/// a key again costs nothing but an index.
pub(crate) struct Sources<'a> {
    /// Each distinct key's value, in the order the keys were first named.
    held: Vec<Cow<'a, Value>>,
    /// For each key named, the index of its value in `held`; `None` for a missing key.
    at: Vec<Option<usize>>,
}

impl<'a> Sources<'a> {
    /// The value of the `i`-th key named; `None` when it is missing.
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        self.at[i].map(|j| self.held[j].as_ref())
    }

    /// Where the value of the `i`-th key named is kept (the same for every key naming it);
    /// `None` when it is missing.
    pub(crate) fn slot(&self, i: usize) -> Option<usize> {
        self.at[i]
    }

    /// The value kept at `slot` (see [`Sources::slot`]).
    pub(crate) fn held(&self, slot: usize) -> &Value {
        self.held[slot].as_ref()
    }

    /// How many keys were named.
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether a key named is missing.
    pub(crate) fn any_missing(&self) -> bool {
        self.at.iter().any(Option::is_none)
    }

    /// The values of the distinct keys that exist.
    pub(crate) fn distinct(&self) -> impl Iterator<Item = &Value> {
        self.held.iter().map(|v| v.as_ref())
    }
}

impl Keyspace {
    /// The values at `keys` in the selected database, read without moving or copying them
    /// (see [`Sources`]); [`Error::WrongType`] (naming `name`) when a key holds a value that
    /// `accept` refuses, or a string.
    pub(crate) fn sources<'a>(
        &'a self,
        keys: &[&[u8]],
        name: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Sources<'a>, Error> {
        let mut held = Vec::new();
        let mut at = Vec::with_capacity(keys.len());
        let mut seen: Map<&[u8], Option<usize>> = Map::default();
        let db = self.dbs.get(&self.db);
        for &k in keys {
            if let Some(&slot) = seen.get(k) {
                at.push(slot);
                continue;
            }
            let slot = match db.and_then(|d| d.get(k)) {
                None => None,
                Some(f) => match f.value() {
                    Some(v) if accept(&v) => {
                        held.push(v);
                        Some(held.len() - 1)
                    }
                    _ => return Err(Error::WrongType(format!("{name} on a {}", f.type_name()))),
                },
            };
            seen.insert(k, slot);
            at.push(slot);
        }
        Ok(Sources { held, at })
    }
}
