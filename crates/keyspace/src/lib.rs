//! A Redis dataset held in memory and changed by the write commands an AOF holds, applied as
//! the server applies them when it loads the file; then written out as an RDB.
//!
//! ```
//! use keyspace::Keyspace;
//!
//! let mut ks = Keyspace::new();
//! ks.apply(&[b"RPUSH".as_slice(), b"l", b"a", b"b"]).unwrap();
//! ks.apply(&[b"LPOP".as_slice(), b"l"]).unwrap();
//! assert_eq!(ks.len(), 1);
//! ```
//!
//! What is covered: strings, keys and databases, lists, sets, sorted sets, hashes, the stream
//! commands a server logs for XADD with explicit ids and consumer groups, MULTI/EXEC, functions.
//! A command outside that set is an [`Error::Unknown`], never silently skipped.

mod apply;
mod cmd;
mod db;
mod emit;
pub mod geo;
pub mod hll;
mod load;
mod num;
pub mod packed;
mod prefetch;
pub mod sort;
mod write;
mod zset;

pub use db::{Db, Found};
pub use load::{Loader, Unsupported};
pub use zset::{ScoreBound, ZSet};

use rdb_parse::StreamId;
use std::collections::{BTreeMap, VecDeque};

/// The hasher of every table here, one seed for all of them in a process: drawn at random,
/// so that a log cannot aim its keys or members at one place of a table (each lookup would
/// then walk all of them, and a replay take hours), unless [`fix_table_seed`] was called
/// first: the same log then gives the same RDB, byte for byte (tables are written in their
/// iteration order).
#[derive(Clone, Debug)]
pub struct TableHasher(foldhash::fast::SeedableRandomState);

static FIXED_SEED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Makes every table of this process use one fixed seed, for outputs that two runs write the
/// same; false (and nothing changed) when a table was made already.
pub fn fix_table_seed() -> bool {
    FIXED_SEED.set(true).is_ok() || FIXED_SEED.get() == Some(&true)
}

impl Default for TableHasher {
    #[inline]
    fn default() -> TableHasher {
        use foldhash::{fast::SeedableRandomState, SharedSeed};
        TableHasher(if *FIXED_SEED.get_or_init(|| false) {
            SeedableRandomState::fixed()
        } else {
            // The shared seed is drawn once for the process: every table hashes alike.
            SeedableRandomState::with_seed(0, SharedSeed::global_random())
        })
    }
}

impl std::hash::BuildHasher for TableHasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// A hash map with [`TableHasher`].
pub type Map<K, V> = std::collections::HashMap<K, V, TableHasher>;

/// A hash set with [`TableHasher`].
pub type Set<T> = std::collections::HashSet<T, TableHasher>;

/// The fields of a hash: field → (value, absolute field expiry in unix ms).
pub type HashFields = Map<Vec<u8>, (Vec<u8>, Option<i64>)>;

/// A value. Collections are boxed so that a key's entry stays small (most keys are strings).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Vec<u8>),
    /// A list, head first.
    List(Box<VecDeque<Vec<u8>>>),
    /// A set.
    Set(Box<Set<Vec<u8>>>),
    /// A sorted set: member → score (and its order, once needed).
    ZSet(Box<ZSet>),
    /// A hash: field → (value, absolute field expiry in unix ms).
    Hash(Box<HashFields>),
    /// A stream.
    Stream(Box<Stream>),
}

impl Value {
    /// The type name `TYPE` gives.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }
}

/// The field/value pairs of a stream entry.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    /// Live entries by id.
    pub entries: BTreeMap<StreamId, Fields>,
    /// Last generated id.
    pub last_id: StreamId,
    /// Largest deleted id.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups, in creation order.
    pub groups: Vec<Group>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Its name.
    pub name: Vec<u8>,
    /// Last delivered id.
    pub last_id: StreamId,
    /// Entries read (`None`: unknown, as after `-1`).
    pub entries_read: Option<u64>,
    /// Pending entries: id → (delivery time ms, delivery count, consumer).
    pub pel: BTreeMap<StreamId, (i64, u64, Vec<u8>)>,
    /// Consumers: name → (seen time ms, active time ms), in creation order.
    pub consumers: Vec<(Vec<u8>, i64, Option<i64>)>,
}

/// A key's value and expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry, unix ms.
    pub expire_ms: Option<i64>,
}

/// Why a command could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A command (or form of one) this crate does not apply.
    Unknown(String),
    /// A command on a key of another type (impossible in a sane AOF).
    WrongType(String),
    /// Bad arguments (impossible in a sane AOF).
    Syntax(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unknown(s) => write!(f, "cannot apply {s}"),
            Error::WrongType(s) => write!(f, "wrong type: {s}"),
            Error::Syntax(s) => write!(f, "bad arguments: {s}"),
        }
    }
}

impl std::error::Error for Error {}

/// Databases of keys, the selected database, function libraries, an open transaction.
#[derive(Debug, Default)]
pub struct Keyspace {
    /// Databases by number.
    pub dbs: BTreeMap<u64, Db>,
    /// The selected database.
    pub db: u64,
    /// Function libraries: name → code.
    pub functions: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Commands of an open MULTI, applied at EXEC.
    multi: Option<Vec<Vec<Vec<u8>>>>,
    /// The time relative expiries (EXPIRE, SETEX, SET EX) count from, unix ms: the latest
    /// `#TS` annotation of the log, or the time of the run.
    pub now_ms: i64,
}

impl Keyspace {
    /// An empty dataset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys in all databases.
    pub fn len(&self) -> usize {
        self.dbs.values().map(Db::len).sum()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings the entries of `keys` in the selected database into the cache and changes
    /// nothing (see [`Db::warm`]): done for the keys of many commands before they are applied,
    /// their cache misses overlap.
    pub fn warm(&self, keys: &[&[u8]]) {
        if let Some(d) = self.dbs.get(&self.db) {
            d.warm(keys);
        }
    }

    /// Moves every key and function of `other` into this dataset (replacing keys of the same
    /// name), as loading an RDB preamble does.
    pub fn absorb(&mut self, other: Keyspace) {
        for (n, db) in other.dbs {
            match self.dbs.get_mut(&n) {
                Some(mine) if !mine.is_empty() => {
                    for (key, entry) in db.into_entries() {
                        mine.insert(&key, entry);
                    }
                }
                _ => {
                    self.dbs.insert(n, db);
                }
            }
        }
        self.functions.extend(other.functions);
    }

    /// Whether a MULTI is open (its commands are held until EXEC).
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Applies one command (name first) as the server does when it loads an AOF.
    pub fn apply(&mut self, args: &[&[u8]]) -> Result<(), Error> {
        let Some(name) = args.first() else {
            return Err(Error::Syntax("an empty command".into()));
        };
        // The name in capitals, without allocating for the usual short ones.
        let mut buf = [0u8; 32];
        let long;
        let upper: &[u8] = if name.len() <= buf.len() {
            buf[..name.len()].copy_from_slice(name);
            buf[..name.len()].make_ascii_uppercase();
            &buf[..name.len()]
        } else {
            long = name.to_ascii_uppercase();
            &long
        };
        match (upper, &mut self.multi) {
            (b"MULTI", Some(_)) => Err(Error::Syntax("MULTI inside MULTI".into())),
            (b"MULTI", None) => {
                self.multi = Some(Vec::new());
                Ok(())
            }
            (b"EXEC", None) => Err(Error::Syntax("EXEC without MULTI".into())),
            (b"EXEC", Some(_)) => {
                let held = self.multi.take().unwrap_or_default();
                for cmd in held {
                    let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
                    self.apply_one(&upper_name(&refs), &refs)?;
                }
                Ok(())
            }
            (b"DISCARD", _) => {
                self.multi = None;
                Ok(())
            }
            (_, Some(held)) => {
                held.push(args.iter().map(|a| a.to_vec()).collect());
                Ok(())
            }
            (_, None) => self.apply_one(upper, args),
        }
    }

    fn db_mut(&mut self) -> &mut Db {
        self.dbs.entry(self.db).or_default()
    }
}

/// An argument as text, for a message.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn upper_name(args: &[&[u8]]) -> Vec<u8> {
    args.first()
        .map(|n| n.to_ascii_uppercase())
        .unwrap_or_default()
}

/// Applies a test's commands, each given as words; each must succeed.
#[cfg(test)]
pub(crate) fn apply_all<C: AsRef<[S]>, S: AsRef<[u8]>>(ks: &mut Keyspace, cmds: &[C]) {
    for c in cmds {
        let argv: Vec<&[u8]> = c.as_ref().iter().map(AsRef::as_ref).collect();
        if let Err(e) = ks.apply(&argv) {
            let words: Vec<_> = argv.iter().map(|a| String::from_utf8_lossy(a)).collect();
            panic!("{words:?}: {e}");
        }
    }
}
