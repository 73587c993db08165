//! How the commands reach the values of the selected database: a collection of a type,
//! created or existing ([`typed!`], [`existing!`]); strings; empty collections removed.

use crate::{Error, Keyspace, Value};

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
