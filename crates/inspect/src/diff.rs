//! Two datasets compared key by key, in bounded memory.
//!
//! Each side's keys, as [`KeyRecord`]s (database, name, type, expiry and value digest), go to
//! unlinked temporary files partitioned by a hash of `(database, name)`, so that a key lands in
//! the same partition on both sides. The comparison then holds one partition of one side at a
//! time: memory is about a [`PARTITIONS`]th of a side's keys.

use crate::digest::{Digest20, KeyRecord};
use rdb_parse::ValueType;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Partitions of each side.
pub const PARTITIONS: usize = 128;

/// What is kept of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its type.
    pub value_type: ValueType,
    /// Its expiry, in unix ms.
    pub expire_ms: Option<i64>,
    /// Its value's digest.
    pub value: Digest20,
    /// Its estimated memory on the server modelled.
    pub memory: u64,
    /// Its encoding after load on that server ([`crate::memory::ENCODINGS`]).
    pub encoding: &'static str,
    /// A hash's field expiries, as a digest of (field, expiry) pairs in any order (0 for none).
    pub field_ttls: u64,
}

/// A hash field's expiry as a part of [`Kept::field_ttls`]: the xor of these over a key's
/// fields with an expiry (keyed by `seed`, the same on both sides).
pub fn field_ttl(seed: u64, field: rdb_parse::Str<'_>, expire_ms: i64) -> u64 {
    let mut s = [0u8; 20];
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(seed);
    h.update(&expire_ms.to_le_bytes());
    h.update(field.as_bytes(&mut s));
    h.digest()
}

/// One side's keys, on their way to the comparison.
pub struct Side {
    parts: Vec<BufWriter<File>>,
    /// Keys added.
    pub keys: u64,
}

fn partition(db: u64, key: &[u8]) -> usize {
    // Fixed seeds: both sides must agree.
    let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
    h.write_u64(db);
    h.write(key);
    (h.finish() % PARTITIONS as u64) as usize
}

fn type_of(b: u8) -> ValueType {
    match b {
        0 => ValueType::String,
        1 => ValueType::List,
        2 => ValueType::Set,
        3 => ValueType::Zset,
        4 => ValueType::Hash,
        5 => ValueType::Module,
        6 => ValueType::Stream,
        _ => ValueType::Array,
    }
}

impl Side {
    /// An empty side whose partitions are unlinked files in `dir` (the system's temporary
    /// directory when `None`).
    pub fn new(dir: Option<PathBuf>) -> io::Result<Side> {
        let mut parts = Vec::with_capacity(PARTITIONS);
        for _ in 0..PARTITIONS {
            let f = rdb_parse::scratch::unlinked_file(dir.as_ref(), "diff")?;
            parts.push(BufWriter::with_capacity(1 << 13, f));
        }
        Ok(Side { parts, keys: 0 })
    }

    /// Adds a key, with its estimated memory and encoding after load and the digest of its
    /// field expiries (see [`Kept::field_ttls`]).
    pub fn add(
        &mut self,
        k: &KeyRecord<'_>,
        memory: u64,
        encoding: &str,
        field_ttls: u64,
    ) -> io::Result<()> {
        let len = u32::try_from(k.key.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a key over 4 GiB"))?;
        let w = &mut self.parts[partition(k.db, k.key)];
        w.write_all(&k.db.to_le_bytes())?;
        let t = crate::digest::type_code(k.value_type) as u8;
        w.write_all(&[t, u8::from(k.expire_ms.is_some())])?;
        w.write_all(&k.expire_ms.unwrap_or(0).to_le_bytes())?;
        w.write_all(&k.value)?;
        w.write_all(&memory.to_le_bytes())?;
        w.write_all(&[crate::memory::encoding_code(encoding)])?;
        w.write_all(&field_ttls.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(k.key)?;
        self.keys += 1;
        Ok(())
    }
}

/// Reads one partition's records, calling `each` with `(db, key, kept)` (the key in a buffer
/// reused from record to record).
fn read_part(
    w: BufWriter<File>,
    mut each: impl FnMut(u64, &[u8], Kept) -> io::Result<()>,
) -> io::Result<()> {
    let mut f = w.into_inner().map_err(|e| e.into_error())?;
    let end = f.stream_position()?;
    f.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::with_capacity(1 << 16, f.take(end));
    let mut head = [0u8; 8 + 2 + 8 + 20 + 8 + 1 + 8 + 4];
    let mut key = Vec::new();
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let db = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let expire = i64::from_le_bytes(head[10..18].try_into().expect("8 bytes"));
        let kept = Kept {
            value_type: type_of(head[8]),
            expire_ms: (head[9] == 1).then_some(expire),
            value: head[18..38].try_into().expect("20 bytes"),
            memory: u64::from_le_bytes(head[38..46].try_into().expect("8 bytes")),
            encoding: crate::memory::ENCODINGS
                .get(head[46] as usize)
                .copied()
                .unwrap_or("unknown"),
            field_ttls: u64::from_le_bytes(head[47..55].try_into().expect("8 bytes")),
        };
        let len = u32::from_le_bytes(head[55..59].try_into().expect("4 bytes")) as usize;
        key.resize(len, 0);
        r.read_exact(&mut key)?;
        each(db, &key, kept)?;
    }
}

/// How a key differs between the two sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Only in the second.
    Added(Kept),
    /// Only in the first.
    Removed(Kept),
    /// In both, with another type, value or expiry (first, second).
    Changed(Kept, Kept),
}

/// A key that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Its database.
    pub db: u64,
    /// Its name.
    pub key: Vec<u8>,
    /// How it differs.
    pub change: Change,
}

impl Difference {
    /// What changed, for [`Change::Changed`]: `type`, else `value`, `ttl`, `field_ttl` (a
    /// hash field's expiry) and/or `encoding` (the last three when they are compared: see
    /// [`Compare`]).
    pub fn what(&self, how: Compare) -> Vec<&'static str> {
        match &self.change {
            Change::Changed(a, b) if a.value_type != b.value_type => vec!["type"],
            Change::Changed(a, b) => {
                let mut w = Vec::new();
                if a.value != b.value {
                    w.push("value");
                }
                if how.ttl && a.expire_ms != b.expire_ms {
                    w.push("ttl");
                }
                if how.ttl && a.field_ttls != b.field_ttls {
                    w.push("field_ttl");
                }
                if how.encoding && a.encoding != b.encoding {
                    w.push("encoding");
                }
                w
            }
            _ => Vec::new(),
        }
    }
}

/// What besides type and value makes a key differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compare {
    /// The expiry, and a hash's field expiries.
    pub ttl: bool,
    /// The encoding after load.
    pub encoding: bool,
}

impl Kept {
    fn differs(&self, other: &Kept, how: Compare) -> bool {
        self.value_type != other.value_type
            || self.value != other.value
            || (how.ttl
                && (self.expire_ms != other.expire_ms || self.field_ttls != other.field_ttls))
            || (how.encoding && self.encoding != other.encoding)
    }
}

/// Compares the two sides, partition by partition; each partition's differences are handed to
/// `each` sorted by database and key. `how` says whether expiries and encodings are compared.
/// Returns the number of keys found the same.
pub fn compare(
    a: Side,
    b: Side,
    how: Compare,
    mut each: impl FnMut(&Difference) -> io::Result<()>,
) -> io::Result<u64> {
    let mut same = 0u64;
    for (pa, pb) in a.parts.into_iter().zip(b.parts) {
        // Keyed by the database's 8 bytes then the name: one allocation per key of `a`, none
        // for a lookup.
        let id = |db: u64, key: &[u8], into: &mut Vec<u8>| {
            into.clear();
            into.extend_from_slice(&db.to_le_bytes());
            into.extend_from_slice(key);
        };
        let mut left: HashMap<Vec<u8>, Kept> = HashMap::new();
        read_part(pa, |db, key, kept| {
            let mut k = Vec::with_capacity(8 + key.len());
            id(db, key, &mut k);
            left.insert(k, kept);
            Ok(())
        })?;
        let mut found = Vec::new();
        let mut probe = Vec::new();
        read_part(pb, |db, key, kept| {
            id(db, key, &mut probe);
            match left.remove(probe.as_slice()) {
                None => found.push(Difference {
                    db,
                    key: key.to_vec(),
                    change: Change::Added(kept),
                }),
                Some(old) => {
                    if old.differs(&kept, how) {
                        found.push(Difference {
                            db,
                            key: key.to_vec(),
                            change: Change::Changed(old, kept),
                        });
                    } else {
                        same += 1;
                    }
                }
            }
            Ok(())
        })?;
        for (k, kept) in left {
            let db = u64::from_le_bytes(k[..8].try_into().expect("8 bytes"));
            found.push(Difference {
                db,
                key: k[8..].to_vec(),
                change: Change::Removed(kept),
            });
        }
        found.sort_by(|x, y| (x.db, &x.key).cmp(&(y.db, &y.key)));
        for d in &found {
            each(d)?;
        }
    }
    Ok(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &[u8], t: ValueType, ttl: Option<i64>, v: u8) -> KeyRecord<'_> {
        KeyRecord {
            db: 0,
            key,
            value_type: t,
            expire_ms: ttl,
            digest: [v; 20],
            value: [v; 20],
        }
    }

    #[test]
    fn added_removed_and_changed_keys_are_told_apart() {
        let (mut a, mut b) = (Side::new(None).unwrap(), Side::new(None).unwrap());
        use ValueType::*;
        for r in [
            rec(b"same", String, None, 1),
            rec(b"gone", String, None, 2),
            rec(b"value", Hash, None, 3),
            rec(b"ttl", String, Some(5), 4),
            rec(b"type", String, None, 5),
        ] {
            a.add(&r, 10, "raw", 0).unwrap();
        }
        for r in [
            rec(b"same", String, None, 1),
            rec(b"new", Set, None, 6),
            rec(b"value", Hash, None, 7),
            rec(b"ttl", String, Some(6), 4),
            rec(b"type", List, None, 5),
        ] {
            let field_ttls = u64::from(r.key == b"value");
            b.add(
                &r,
                20,
                if r.key == b"same" { "raw" } else { "embstr" },
                field_ttls,
            )
            .unwrap();
        }
        let mut seen = Vec::new();
        let how = Compare {
            ttl: true,
            encoding: false,
        };
        let same = compare(a, b, how, |d| {
            seen.push((
                std::string::String::from_utf8_lossy(&d.key).into_owned(),
                d.what(how),
            ));
            if let Change::Changed(x, y) = &d.change {
                assert_eq!((x.memory, y.memory), (10, 20));
            }
            Ok(())
        })
        .unwrap();
        seen.sort();
        assert_eq!(same, 1);
        assert_eq!(
            seen,
            [
                ("gone".to_owned(), vec![]),
                ("new".to_string(), vec![]),
                ("ttl".to_string(), vec!["ttl"]),
                ("type".to_string(), vec!["type"]),
                ("value".to_string(), vec!["value", "field_ttl"]),
            ]
        );
    }
}
