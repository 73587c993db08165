//! Loading an RDB (a preamble, an RDB base) into a keyspace, one event at a time.

use crate::{Entry, Fields, Group, Keyspace, Stream, Value};
use rdb_parse::{Encoding, Family, KeyEnd, KeyInfo, Str, StreamId, StreamMeta, ValueType};

/// Feeds the events of an RDB into a [`Keyspace`], as an [`rdb_parse::Sink`]: each key
/// replaces any key of that name. What a keyspace cannot hold (module data, arrays, stream
/// entries pending without an owner) stops the load with [`Unsupported`].
///
/// ```
/// use keyspace::{Keyspace, Loader};
///
/// let file: &[u8] = b"REDIS0012\xfe\x00\xfb\x01\x00\x00\x03foo\x03bar\xff\x92\xf0\xc8\xe4\xb3\x8a\x8a\xd4";
/// let mut ks = Keyspace::new();
/// let mut loader = Loader::new(&mut ks);
/// rdb_parse::drive(&mut rdb_parse::Parser::new(file), &mut loader).unwrap();
/// assert_eq!(loader.version(), Some(12));
/// assert_eq!(ks.len(), 1);
/// ```
pub struct Loader<'a> {
    ks: &'a mut Keyspace,
    key: Option<(u64, Vec<u8>, Entry)>,
    entry: Option<(StreamId, Fields, u64)>,
    consumer: Option<Vec<u8>>,
    version: Option<u32>,
    /// Whether the key being loaded was stored packed (kept as stored).
    as_stored: bool,
}

/// What an RDB event cannot be loaded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Step = Result<(), Unsupported>;

impl<'a> Loader<'a> {
    /// A loader into `ks`, with no key open.
    pub fn new(ks: &'a mut Keyspace) -> Self {
        Loader {
            ks,
            key: None,
            entry: None,
            consumer: None,
            version: None,
            as_stored: false,
        }
    }

    /// The RDB version of the header, once read.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    fn value(&mut self) -> Option<&mut Value> {
        self.key.as_mut().map(|(_, _, e)| &mut e.value)
    }

    fn stream(&mut self) -> Option<&mut Stream> {
        match self.value() {
            Some(Value::Stream(s)) => Some(s),
            _ => None,
        }
    }
}

impl rdb_parse::Sink for Loader<'_> {
    type Error = Unsupported;

    fn header(&mut self, _: Family, version: u32) -> Step {
        self.version = Some(version);
        Ok(())
    }

    fn key_start(&mut self, info: &KeyInfo<'_>) -> Step {
        let value = match info.value_type {
            ValueType::String => Value::Str(Vec::new()),
            ValueType::List => Value::List(Default::default()),
            ValueType::Set => Value::Set(Default::default()),
            ValueType::Zset => Value::ZSet(Default::default()),
            ValueType::Hash => Value::Hash(Default::default()),
            ValueType::Stream => Value::Stream(Box::default()),
            other => return Err(Unsupported(format!("a {} value", other.name()))),
        };
        self.key = Some((
            info.db,
            info.key.to_vec(),
            Entry {
                value,
                expire_ms: info.expire_ms,
            },
        ));
        // A listpack or ziplist is loaded as stored (a -0 score stays -0); a sorted set stored
        // plain is converted, its -0 scores becoming 0.
        self.as_stored = matches!(info.encoding, Encoding::Listpack | Encoding::Ziplist);
        Ok(())
    }

    fn element(&mut self, v: Str<'_>) -> Step {
        match self.value() {
            Some(Value::Str(s)) => *s = v.to_vec(),
            Some(Value::List(l)) => l.push_back(v.to_vec()),
            Some(Value::Set(s)) => {
                s.insert(v.to_vec());
            }
            _ => return Err(Unsupported("an element outside a key".into())),
        }
        Ok(())
    }

    fn zmember(&mut self, member: Str<'_>, score: f64) -> Step {
        if let Some(Value::ZSet(z)) = self.value() {
            z.insert(member.to_vec(), score);
        }
        Ok(())
    }

    fn hash_field(&mut self, field: Str<'_>, value: Str<'_>, expire_ms: Option<i64>) -> Step {
        if let Some(Value::Hash(h)) = self.value() {
            h.insert(field.to_vec(), (value.to_vec(), expire_ms));
        }
        Ok(())
    }

    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Step {
        self.entry = Some((id, Vec::new(), fields));
        Ok(())
    }

    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> Step {
        if let Some((_, f, left)) = &mut self.entry {
            f.push((name.to_vec(), value.to_vec()));
            *left -= 1;
            if *left == 0 {
                let (id, f, _) = self.entry.take().expect("open");
                if let Some(s) = self.stream() {
                    s.entries.insert(id, f);
                }
            }
        }
        Ok(())
    }

    fn stream_meta(&mut self, m: &StreamMeta) -> Step {
        if let Some(s) = self.stream() {
            s.last_id = m.last_id;
            s.max_deleted_id = m.max_deleted_id.unwrap_or_default();
            s.entries_added = m.entries_added.unwrap_or(m.length);
        }
        Ok(())
    }

    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        _: u64,
    ) -> Step {
        if let Some(s) = self.stream() {
            s.groups.push(Group {
                name: name.to_vec(),
                last_id,
                entries_read,
                pel: Default::default(),
                consumers: Vec::new(),
            });
        }
        Ok(())
    }

    fn stream_pending(&mut self, id: StreamId, delivery_time_ms: i64, delivery_count: u64) -> Step {
        if let Some(g) = self.stream().and_then(|s| s.groups.last_mut()) {
            g.pel
                .insert(id, (delivery_time_ms, delivery_count, Vec::new()));
        }
        Ok(())
    }

    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        _: u64,
    ) -> Step {
        let name = name.to_vec();
        self.consumer = Some(name.clone());
        if let Some(g) = self.stream().and_then(|s| s.groups.last_mut()) {
            g.consumers.push((name, seen_time_ms, active_time_ms));
        }
        Ok(())
    }

    fn stream_consumer_pending(&mut self, id: StreamId) -> Step {
        let owner = self.consumer.clone().unwrap_or_default();
        if let Some(g) = self.stream().and_then(|s| s.groups.last_mut()) {
            if let Some(p) = g.pel.get_mut(&id) {
                p.2 = owner;
            }
        }
        Ok(())
    }

    fn stream_nacked(&mut self, _: StreamId) -> Step {
        Err(Unsupported(
            "stream pending entries without an owner".into(),
        ))
    }

    fn function(&mut self, code: Str<'_>) -> Step {
        let code = code.to_vec();
        if let Some(name) = library_name(&code) {
            self.ks.functions.insert(name, code);
        }
        Ok(())
    }

    fn module(&mut self, _: [u8; 9], _: u16, _: u64) -> Step {
        Err(Unsupported("module data".into()))
    }

    fn module_aux(&mut self, _: [u8; 9], _: u16, _: u64) -> Step {
        Err(Unsupported("module data".into()))
    }

    fn array_element(&mut self, _: u64, _: rdb_parse::ArrayValue<'_>) -> Step {
        Err(Unsupported("an array value".into()))
    }

    fn key_end(&mut self, _: &KeyEnd) -> Step {
        if let Some((db, key, entry)) = self.key.take() {
            // An empty collection is skipped, as the servers skip it at load.
            let empty = match &entry.value {
                Value::List(l) => l.is_empty(),
                Value::Set(s) => s.is_empty(),
                Value::ZSet(z) => z.is_empty(),
                Value::Hash(h) => h.is_empty(),
                _ => false,
            };
            if !empty {
                let db = self.ks.dbs.entry(db).or_default();
                if self.as_stored {
                    db.insert_as_stored(&key, entry);
                } else {
                    db.insert(&key, entry);
                }
            }
        }
        self.consumer = None;
        Ok(())
    }
}

/// The library name of `#!<engine> name=<lib> ...`.
pub(crate) fn library_name(code: &[u8]) -> Option<Vec<u8>> {
    let first = code.split(|&b| b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name="))
        .map(|n| n.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use crate::{Keyspace, Loader};

    fn load(name: &str) -> Keyspace {
        let path = format!("{}/../../testdata/peers/{name}", env!("CARGO_MANIFEST_DIR"));
        let data = std::fs::read(&path).unwrap();
        let mut ks = Keyspace::new();
        rdb_parse::drive(
            &mut rdb_parse::Parser::new(&data[..]),
            &mut Loader::new(&mut ks),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        ks
    }

    fn keys(ks: &Keyspace) -> usize {
        ks.dbs.values().map(|d| d.len()).sum()
    }

    // Redis 7.0 loads the first with no key (its suite checks dbsize 0) and the second with 13.
    #[test]
    fn empty_collections_are_skipped_as_the_servers_skip_them() {
        assert_eq!(keys(&load("valkey-corrupt_empty_keys.rdb")), 0);
        assert_eq!(keys(&load("valkey-encodings.rdb")), 13);
    }
}
