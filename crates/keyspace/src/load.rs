//! Loading an RDB (a preamble, an RDB base) into a keyspace, one event at a time.

use crate::packed::{self, Kind, MAX_BYTES, MAX_ENTRIES};
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
    /// The key being loaded straight into the form the keyspace keeps it in (its name in
    /// `key_buf`, a collection's entries in `payload`), instead of `key`.
    packing: Option<Packing>,
    key_buf: Vec<u8>,
    payload: Vec<u8>,
    /// The database of the last SELECTDB.
    selected: u64,
    /// Keys the RESIZEDB hints may still make room for (see [`Loader::reserve_up_to`]).
    reserve_left: usize,
}

/// A key loaded without building its [`Value`]: a string, or a collection while it stays
/// small enough to be packed (see [`crate::packed`]); a collection that grows past that is
/// unpacked into a `Value` and goes on as any other.
struct Packing {
    db: u64,
    /// `None`: a string.
    kind: Option<Kind>,
    expire_ms: Option<i64>,
    entries: usize,
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
            packing: None,
            key_buf: Vec::new(),
            payload: Vec::new(),
            selected: 0,
            reserve_left: 0,
        }
    }

    /// Lets the RESIZEDB hints of the file make room for up to `keys` keys in all, at once
    /// instead of table growth by growth (each of which reads every key again). A hint is a
    /// number the file states: the caller bounds it by the size of the input, so that memory
    /// follows the data, never the number. Without this call the hints are ignored.
    pub fn reserve_up_to(&mut self, keys: usize) {
        self.reserve_left = keys;
    }

    /// Adds an entry (1 or 2 byte strings) to the packed key; false when it would not stay
    /// packed, once the key has been unpacked into `self.key`.
    fn pack(&mut self, parts: &[&[u8]]) -> bool {
        let Some(p) = &mut self.packing else {
            return false;
        };
        if p.entries < MAX_ENTRIES && parts.iter().all(|b| b.len() <= MAX_BYTES) {
            for b in parts {
                packed::put(&mut self.payload, b);
            }
            p.entries += 1;
            return true;
        }
        self.unpack();
        false
    }

    /// Moves the packed key to `self.key`, as a [`Value`].
    fn unpack(&mut self) {
        if let Some(p) = self.packing.take() {
            let value = match p.kind {
                Some(kind) => packed::unpack(kind, &self.payload),
                None => Value::Str(Vec::new()),
            };
            let entry = Entry {
                value,
                expire_ms: p.expire_ms,
            };
            self.key = Some((p.db, self.key_buf.clone(), entry));
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

    fn select_db(&mut self, db: u64) -> Step {
        self.selected = db;
        Ok(())
    }

    fn resize_db(&mut self, keys: u64, _: u64) -> Step {
        let n = usize::try_from(keys)
            .unwrap_or(usize::MAX)
            .min(self.reserve_left);
        if n > 0 {
            self.reserve_left -= n;
            self.ks.dbs.entry(self.selected).or_default().reserve(n);
        }
        Ok(())
    }

    fn key_start(&mut self, info: &KeyInfo<'_>) -> Step {
        // A listpack or ziplist is loaded as stored (a -0 score stays -0); a sorted set stored
        // plain is converted, its -0 scores becoming 0.
        self.as_stored = matches!(info.encoding, Encoding::Listpack | Encoding::Ziplist);
        let kind = match info.value_type {
            ValueType::String => Some(None),
            ValueType::List => Some(Some(Kind::List)),
            ValueType::Set => Some(Some(Kind::Set)),
            ValueType::Zset => Some(Some(Kind::ZSet)),
            ValueType::Hash => Some(Some(Kind::Hash)),
            _ => None,
        };
        if let Some(kind) = kind {
            self.key = None;
            self.key_buf.clear();
            info.key.append_to(&mut self.key_buf);
            self.payload.clear();
            self.packing = Some(Packing {
                db: info.db,
                kind,
                expire_ms: info.expire_ms,
                entries: 0,
            });
            return Ok(());
        }
        self.packing = None;
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
        Ok(())
    }

    fn element(&mut self, v: Str<'_>) -> Step {
        if let Some(Packing {
            db,
            kind: None,
            expire_ms,
            ..
        }) = self.packing
        {
            let mut scratch = [0u8; 20];
            let db = self.ks.dbs.entry(db).or_default();
            db.put_str(&self.key_buf, v.as_bytes(&mut scratch), Some(expire_ms));
            self.packing = None;
            return Ok(());
        }
        if matches!(&self.packing, Some(p) if matches!(p.kind, Some(Kind::List | Kind::Set))) {
            let mut scratch = [0u8; 20];
            if self.pack(&[v.as_bytes(&mut scratch)]) {
                return Ok(());
            }
        }
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
        if matches!(&self.packing, Some(p) if p.kind == Some(Kind::ZSet)) {
            let mut scratch = [0u8; 20];
            // The score as stored; a -0 becomes 0 at the end of the key unless kept as stored.
            if self.pack(&[member.as_bytes(&mut scratch), &score.to_le_bytes()]) {
                return Ok(());
            }
        }
        if let Some(Value::ZSet(z)) = self.value() {
            z.insert(member.to_vec(), score);
        }
        Ok(())
    }

    fn hash_field(&mut self, field: Str<'_>, value: Str<'_>, expire_ms: Option<i64>) -> Step {
        if matches!(&self.packing, Some(p) if p.kind == Some(Kind::Hash)) {
            if expire_ms.is_none() {
                let (mut fs, mut vs) = ([0u8; 20], [0u8; 20]);
                if self.pack(&[field.as_bytes(&mut fs), value.as_bytes(&mut vs)]) {
                    return Ok(());
                }
            } else {
                // A field with a TTL: not a packed hash.
                self.unpack();
            }
        }
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
        if let Some(p) = self.packing.take() {
            let db = self.ks.dbs.entry(p.db).or_default();
            match p.kind {
                // A string without its element: empty.
                None => db.put_str(&self.key_buf, &[], Some(p.expire_ms)),
                // An empty collection is skipped, as the servers skip it at load.
                Some(_) if p.entries == 0 => {}
                Some(kind) => {
                    if kind == Kind::ZSet && !self.as_stored {
                        packed::zero_negative_zero_scores(&mut self.payload);
                    }
                    db.put_packed(&self.key_buf, kind, &self.payload, p.expire_ms);
                }
            }
            self.consumer = None;
            return Ok(());
        }
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

    use crate::apply_all as run;

    fn cmd(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// Every kind of key, small (loaded packed) and past the packing limits (loaded as a
    /// value), goes through the loader unchanged.
    #[test]
    fn packed_and_unpacked_keys_load_unchanged() {
        let mut cmds = vec![
            cmd(&["SET", "s", "v"]),
            cmd(&["SET", "n", "12345"]),
            cmd(&["SET", "t", "v", "PXAT", "4000000000000"]),
            cmd(&["RPUSH", "l", "a", "b", "a"]),
            cmd(&["SADD", "set", "x", "7", "y"]),
            cmd(&["ZADD", "z", "1.5", "m", "-2", "n"]),
            cmd(&["HSET", "h", "f", "1", "g", "2"]),
            cmd(&["PEXPIREAT", "h", "4000000000000"]),
            // An element too long to pack.
            cmd(&["RPUSH", "long", "a", &"x".repeat(65)]),
            // A field with a TTL.
            cmd(&["HSET", "ttl", "f", "1", "g", "2"]),
            cmd(&["HPEXPIREAT", "ttl", "4000000000000", "FIELDS", "1", "g"]),
        ];
        // Past 128 entries, with a -0 score early (kept, as in the server's skiplist).
        let mut big = vec![
            "ZADD".to_string(),
            "bigz".into(),
            "-0".into(),
            "first".into(),
        ];
        let mut bigs = vec!["SADD".to_string(), "bigs".into()];
        let mut bigh = vec!["HSET".to_string(), "bigh".into()];
        for i in 0..200 {
            big.extend([i.to_string(), format!("m{i}")]);
            bigs.push(format!("m{i}"));
            bigh.extend([format!("f{i}"), i.to_string()]);
        }
        cmds.extend([big, bigs, bigh]);
        let mut ks = Keyspace::new();
        run(&mut ks, &cmds);
        let mut loaded = Keyspace::new();
        ks.emit(12, &mut Loader::new(&mut loaded)).unwrap();
        let db = &ks.dbs[&0];
        let back = &loaded.dbs[&0];
        assert_eq!(back.len(), db.len());
        assert_eq!(db.len(), 12);
        for (key, found) in db.iter() {
            let got = back.get(key).unwrap_or_else(|| panic!("{key:?} missing"));
            assert_eq!(
                got.to_entry(),
                found.to_entry(),
                "{:?}",
                String::from_utf8_lossy(key)
            );
            assert_eq!(got.type_name(), found.type_name());
        }
        let Some(crate::Value::ZSet(z)) = back
            .get(b"bigz")
            .and_then(|f| f.value())
            .map(|v| v.into_owned())
        else {
            panic!("bigz is not a sorted set");
        };
        assert_eq!(z[&b"first"[..]].to_bits(), (-0f64).to_bits());
    }

    /// A small sorted set's -0 score is loaded as 0 from a plain encoding, as stored from a
    /// listpack (as the servers do).
    #[test]
    fn negative_zero_scores_of_small_sorted_sets() {
        use rdb_parse::{Encoding, KeyEnd, KeyInfo, RdbType, Sink, Str, ValueType};
        let mut ks = Keyspace::new();
        let mut l = Loader::new(&mut ks);
        for (key, encoding) in [("plain", Encoding::Skiplist), ("lp", Encoding::Listpack)] {
            l.key_start(&KeyInfo {
                db: 0,
                key: Str::Bytes(key.as_bytes()),
                rdb_type: RdbType(5),
                value_type: ValueType::Zset,
                encoding,
                expire_ms: None,
                idle_s: None,
                freq: None,
                len: Some(2),
                blob_bytes: None,
                max_element: None,
                offset: 0,
            })
            .unwrap();
            l.zmember(Str::Bytes(b"a"), -0.0).unwrap();
            l.zmember(Str::Int(5), 1.0).unwrap();
            l.key_end(&KeyEnd {
                offset: 0,
                elements: 2,
                volatile_fields: 0,
            })
            .unwrap();
        }
        let score = |key: &[u8]| -> u64 {
            let f = ks.dbs[&0].get(key).unwrap();
            assert!(matches!(f, crate::Found::Packed { .. }), "{f:?}");
            let Some(crate::Value::ZSet(z)) = f.value().map(|v| v.into_owned()) else {
                panic!("not a sorted set");
            };
            assert_eq!(z[&b"5"[..]], 1.0);
            z[&b"a"[..]].to_bits()
        };
        assert_eq!(score(b"plain"), 0f64.to_bits());
        assert_eq!(score(b"lp"), (-0f64).to_bits());
    }

    // Redis 7.0 loads the first with no key (its suite checks dbsize 0) and the second with 13.
    #[test]
    fn empty_collections_are_skipped_as_the_servers_skip_them() {
        assert_eq!(keys(&load("valkey-corrupt_empty_keys.rdb")), 0);
        assert_eq!(keys(&load("valkey-encodings.rdb")), 13);
    }
}
