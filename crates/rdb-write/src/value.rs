//! Keys: the encoding the target server would choose, decided while the elements arrive.
//!
//! Elements are held only while the key may still get a packed encoding (at most 512 small
//! elements); past the server's thresholds the key switches to its plain encoding and the rest
//! is written as it comes. Lists are written as quicklist nodes of at most 8 KiB and streams as
//! nodes of at most 100 entries / 4 KiB (the server defaults); the nodes of one key are held
//! until its end, since their count comes first, in memory up to 32 MiB and then in an unlinked
//! temporary file. Hashes with field TTLs past the listpack thresholds are held the same way
//! (their smallest TTL comes first).

use crate::blob::{canonical_int, intset_into, Listpack, Ziplist};
use crate::spool::{Spool, DEFAULT_LIMIT};
use crate::writer::RdbWriter;
use rdb_parse::{RdbType, StreamId, StreamMeta};
use std::io::{self, Write};
use std::path::PathBuf;

/// What the target server version stores, and its default thresholds.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// RDB version written: 7 to 12, or 80 for Valkey 9 (`VALKEY080`).
    pub version: u32,
}

impl Target {
    const HASH_ENTRIES: usize = 512;
    const ZSET_ENTRIES: usize = 128;
    const SET_INTSET_ENTRIES: usize = 512;
    const SET_LISTPACK_ENTRIES: usize = 128;
    const VALUE_BYTES: usize = 64;
    const LIST_NODE_BYTES: usize = 8192;

    const STREAM_NODE_ENTRIES: u64 = 100;
    const STREAM_NODE_BYTES: usize = 4096;

    fn listpacks(self) -> bool {
        self.version >= 10
    }

    /// The stream RDB encoding version written (1 for RDB 9, 2 for 10, 3 from 11), or `None`
    /// when the target has no streams.
    pub fn stream_version(self) -> Option<u32> {
        match self.version {
            ..=8 => None,
            9 => Some(1),
            10 => Some(2),
            _ => Some(3),
        }
    }

    /// Whether the target stores hash field TTLs (Redis RDB 12, Valkey 80).
    pub fn field_ttls(self) -> bool {
        self.version == 12 || self.version >= 80
    }

    /// Whether the target stores LRU idle times and LFU counters (RDB 9+).
    pub fn lru_lfu(self) -> bool {
        self.version >= 9
    }

    /// Whether the target stores function libraries (RDB 10+).
    pub fn functions(self) -> bool {
        self.version >= 10
    }
}

/// The logical type of a key being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A hash (without field TTLs).
    Hash,
    /// A hash stored with field TTLs (RDB 12 listpack-ex or metadata hashtable; Valkey 9
    /// HASH_2), whether or not a field has one.
    HashTtl,
    /// A stream.
    Stream,
}

/// Per-key metadata written before the type byte.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyMeta {
    /// Absolute expiry, unix ms.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds.
    pub idle_s: Option<u64>,
    /// LFU counter.
    pub freq: Option<u8>,
}

enum Pack {
    Lp(Listpack),
    Zl(Ziplist),
}

impl Pack {
    fn new(t: Target) -> Pack {
        if t.listpacks() {
            Pack::Lp(Listpack::new())
        } else {
            Pack::Zl(Ziplist::new())
        }
    }
    fn push(&mut self, s: &[u8]) {
        match self {
            Pack::Lp(l) => l.push(s),
            Pack::Zl(z) => z.push(s),
        }
    }
    fn len(&self) -> usize {
        match self {
            Pack::Lp(l) => l.len(),
            Pack::Zl(z) => z.len(),
        }
    }
    fn bytes_len(&self) -> usize {
        match self {
            Pack::Lp(l) => l.bytes_len(),
            Pack::Zl(z) => z.bytes_len(),
        }
    }
    fn finish_into(&mut self, out: &mut Vec<u8>) {
        match self {
            Pack::Lp(l) => l.finish_into(out),
            Pack::Zl(z) => z.finish_into(out),
        }
    }
}

enum State {
    Idle,
    String {
        done: bool,
    },
    List {
        nodes: Spool,
        node: Pack,
    },
    /// Stream entries so far: finished nodes, the open one, the entry being received.
    Stream(Box<StreamBuild>),
    /// Stream written up to its metadata; groups follow.
    StreamTail,
    /// A hash with field TTLs past the listpack thresholds: (field, value, ttl) records.
    HashSpool {
        spool: Spool,
        min: Option<i64>,
        left: u64,
    },
    /// Still small: the elements so far are in [`KeyWriter::held`]; whether all of them are
    /// canonical integers / at most 64 bytes.
    Small {
        all_int: bool,
        all_short: bool,
    },
    /// Plain encoding, header written: the rest streams.
    Plain {
        left: u64,
    },
}

struct StreamNode {
    master: StreamId,
    fields: Vec<Vec<u8>>,
    /// Bytes of the master entry's strings, for the node size limit.
    master_bytes: usize,
    entries: Listpack,
    count: u64,
}

/// A stream entry being received: id, fields still to come, (field, value) so far.
type PendingEntry = (StreamId, u64, Vec<(Vec<u8>, Vec<u8>)>);

struct StreamBuild {
    nodes: Spool,
    node: Option<StreamNode>,
    /// The entry being received: id, fields still to come, (field, value) so far.
    entry: Option<PendingEntry>,
    first: Option<StreamId>,
    last: Option<StreamId>,
    live: u64,
}

/// The elements of a key while it is small enough to be packed (pairs for zsets and hashes,
/// flattened), with the scores of sorted-set members and the field TTLs (ms, 0 = none) of
/// hashes with TTLs. Its buffers serve key after key: a small key costs no allocation.
#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    /// Where each element ends in `bytes`.
    ends: Vec<usize>,
    scores: Vec<f64>,
    ttls: Vec<i64>,
}

/// A held buffer larger than this is given back when the key ends, so that one large element
/// does not keep its memory for the rest of the run.
const HELD_KEEP: usize = 1 << 20;

impl Held {
    fn clear(&mut self) {
        if self.bytes.capacity() > HELD_KEEP {
            self.bytes = Vec::new();
        }
        self.bytes.clear();
        self.ends.clear();
        self.scores.clear();
        self.ttls.clear();
    }

    fn push(&mut self, s: &[u8]) {
        self.bytes.extend_from_slice(s);
        self.ends.push(self.bytes.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Writes keys of a target version, one element at a time.
pub struct KeyWriter {
    target: Target,
    kind: Kind,
    key: Vec<u8>,
    meta: KeyMeta,
    len: Option<u64>,
    state: State,
    held: Held,
    /// The packed encoding being built, and its finished bytes: kept from key to key.
    pack: Pack,
    packed: Vec<u8>,
    /// A score's text, for a packed sorted set.
    score: Vec<u8>,
    /// A listpack whatever the target (set listpacks, hash listpack-ex), the integers of an
    /// intset, the order of a sorted set's members: kept from key to key.
    lp: Listpack,
    ints: Vec<i64>,
    order: Vec<usize>,
    /// A list's node builder and node spool, kept for the next list once one is written.
    spare_list: Option<(Spool, Pack)>,
    spool_limit: usize,
    spool_dir: Option<PathBuf>,
    spilled: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A score as Redis writes it into a listpack or ziplist: an integer when it is one (and
/// exact), else the shortest text that reads back as the same double. Written into `out`.
fn score_text(v: f64, out: &mut Vec<u8>) {
    out.clear();
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v == v.trunc() && v.abs() < 9.007_199_254_740_992e15 && !(v == 0.0 && v.is_sign_negative()) {
        let mut b = [0u8; 20];
        out.extend_from_slice(rdb_parse::format_i64(v as i64, &mut b));
        return;
    }
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{v:e}");
}

impl KeyWriter {
    /// A writer for keys of `target`.
    pub fn new(target: Target) -> Self {
        KeyWriter {
            target,
            kind: Kind::String,
            key: Vec::new(),
            meta: KeyMeta::default(),
            len: None,
            state: State::Idle,
            held: Held::default(),
            pack: Pack::new(target),
            packed: Vec::new(),
            score: Vec::new(),
            lp: Listpack::new(),
            ints: Vec::new(),
            order: Vec::new(),
            spare_list: None,
            spool_limit: DEFAULT_LIMIT,
            spool_dir: None,
            spilled: 0,
        }
    }

    /// Where held nodes go past the memory limit (default: the system temporary directory),
    /// and that limit in bytes (default 32 MiB).
    pub fn spool(&mut self, dir: Option<PathBuf>, limit: usize) {
        self.spool_dir = dir;
        self.spool_limit = limit;
    }

    /// Bytes that went through temporary files so far.
    pub fn spilled(&self) -> u64 {
        self.spilled
    }

    fn new_spool(&self) -> Spool {
        Spool::new(self.spool_limit, self.spool_dir.clone())
    }

    /// Starts a key. `len` is its element count (pairs for hashes and zsets), needed for sets,
    /// sorted sets and hashes that turn out too large for a packed encoding.
    pub fn begin(&mut self, kind: Kind, key: &[u8], meta: KeyMeta, len: Option<u64>) {
        self.kind = kind;
        self.key.clear();
        self.key.extend_from_slice(key);
        self.meta = meta;
        self.len = len;
        self.state = match kind {
            Kind::String => State::String { done: false },
            Kind::List => {
                // The node builder of the last list is empty: it was finished.
                let (nodes, node) = match self.spare_list.take() {
                    Some((mut nodes, node)) => {
                        nodes.clear();
                        (nodes, node)
                    }
                    None => (self.new_spool(), Pack::new(self.target)),
                };
                State::List { nodes, node }
            }
            Kind::Stream => State::Stream(Box::new(StreamBuild {
                nodes: self.new_spool(),
                node: None,
                entry: None,
                first: None,
                last: None,
                live: 0,
            })),
            _ => {
                self.held.clear();
                State::Small {
                    all_int: true,
                    all_short: true,
                }
            }
        };
    }

    fn header<W: Write>(&self, w: &mut RdbWriter<W>, t: RdbType) -> io::Result<()> {
        let (idle, freq) = if self.target.lru_lfu() {
            (self.meta.idle_s, self.meta.freq)
        } else {
            (None, None)
        };
        w.key_meta(self.meta.expire_ms, idle, freq)?;
        w.byte(t.0)?;
        w.string(&self.key)
    }

    /// Whether a key of `n` held strings with these properties keeps a packed encoding.
    fn small_fits(&self, n: usize, all_int: bool, all_short: bool) -> bool {
        match self.kind {
            Kind::Hash => n <= 2 * Target::HASH_ENTRIES && all_short,
            // Valkey 9 keeps hashes with field TTLs as hashtables.
            Kind::HashTtl => n <= 2 * Target::HASH_ENTRIES && all_short && self.target.version < 80,
            Kind::ZSet => n <= Target::ZSET_ENTRIES && all_short,
            Kind::Set => {
                let ints = n <= Target::SET_INTSET_ENTRIES && all_int;
                let lp =
                    self.target.version >= 11 && n <= Target::SET_LISTPACK_ENTRIES && all_short;
                ints || lp
            }
            _ => false,
        }
    }

    /// Holds the strings of one element (and its score) while the key is small; switches to
    /// the plain encoding when they make it too large for a packed one.
    fn hold<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        parts: &[&[u8]],
        score: Option<f64>,
        ttl: Option<i64>,
    ) -> io::Result<()> {
        let State::Small { all_int, all_short } = &mut self.state else {
            return Err(invalid("an element outside a key".into()));
        };
        let held = &mut self.held;
        for p in parts {
            *all_int &= canonical_int(p).is_some();
            *all_short &= p.len() <= Target::VALUE_BYTES;
            held.push(p);
        }
        held.scores.extend(score);
        held.ttls.extend(ttl);
        let (n, i, s) = (held.len(), *all_int, *all_short);
        if !self.small_fits(n, i, s) {
            self.go_plain(w)?;
        }
        Ok(())
    }

    /// Switches a key that outgrew the packed encodings to its plain one, writing what was
    /// held.
    fn go_plain<W: Write>(&mut self, w: &mut RdbWriter<W>) -> io::Result<()> {
        let State::Small { .. } = std::mem::replace(&mut self.state, State::Idle) else {
            return Ok(());
        };
        self.with_held(|me, held| me.write_held_plain(w, held))
    }

    /// Runs `f` with the held elements out of `self`, then empties them for the next key.
    fn with_held<R>(&mut self, f: impl FnOnce(&mut Self, &Held) -> R) -> R {
        let held = std::mem::take(&mut self.held);
        let r = f(self, &held);
        self.held = held;
        self.held.clear();
        r
    }

    /// [`KeyWriter::go_plain`] once the held elements are out of `self`.
    fn write_held_plain<W: Write>(&mut self, w: &mut RdbWriter<W>, held: &Held) -> io::Result<()> {
        let len = self.len.ok_or_else(|| {
            invalid("a large set, sorted set or hash needs its element count".into())
        })?;
        if self.kind == Kind::HashTtl {
            let mut spool = self.new_spool();
            let mut min: Option<i64> = None;
            for (i, &ttl) in held.ttls.iter().enumerate() {
                spool_field(&mut spool, held.get(2 * i), held.get(2 * i + 1), ttl)?;
                if ttl != 0 {
                    min = Some(min.map_or(ttl, |m| m.min(ttl)));
                }
            }
            let left = len
                .checked_sub(spool.count())
                .ok_or_else(|| invalid(format!("more fields than the {len} announced")))?;
            self.state = State::HashSpool { spool, min, left };
            return Ok(());
        }
        let t = match self.kind {
            Kind::Set => RdbType::SET,
            Kind::ZSet if self.target.version >= 8 => RdbType::ZSET_2,
            Kind::ZSet => RdbType::ZSET,
            _ => RdbType::HASH,
        };
        self.header(w, t)?;
        w.len(len)?;
        let mut written = 0u64;
        match self.kind {
            Kind::ZSet => {
                for (m, &s) in held.iter().zip(&held.scores) {
                    self.zset_plain(w, m, s)?;
                    written += 1;
                }
            }
            Kind::Hash => {
                for i in 0..held.len() / 2 {
                    w.string(held.get(2 * i))?;
                    w.string(held.get(2 * i + 1))?;
                    written += 1;
                }
            }
            _ => {
                for m in held.iter() {
                    w.string(m)?;
                    written += 1;
                }
            }
        }
        self.state = State::Plain {
            left: len
                .checked_sub(written)
                .ok_or_else(|| invalid(format!("more elements than the {len} announced")))?,
        };
        Ok(())
    }

    fn zset_plain<W: Write>(&self, w: &mut RdbWriter<W>, m: &[u8], s: f64) -> io::Result<()> {
        w.string(m)?;
        if self.target.version >= 8 {
            w.double(s)
        } else if s.is_nan() {
            w.byte(253)
        } else if s == f64::INFINITY {
            w.byte(254)
        } else if s == f64::NEG_INFINITY {
            w.byte(255)
        } else {
            let t = format!("{s:e}");
            w.byte(t.len() as u8)?;
            w.raw(t.as_bytes())
        }
    }

    fn take_plain(&mut self) -> io::Result<()> {
        if let State::Plain { left } = &mut self.state {
            *left = left
                .checked_sub(1)
                .ok_or_else(|| invalid("more elements than announced".into()))?;
        }
        Ok(())
    }

    /// A string value, a list element or a set member.
    pub fn element<W: Write>(&mut self, w: &mut RdbWriter<W>, v: &[u8]) -> io::Result<()> {
        match &mut self.state {
            State::String { done } => {
                if *done {
                    return Err(invalid("a string has one value".into()));
                }
                *done = true;
                self.header(w, RdbType::STRING)?;
                w.string(v)
            }
            State::List { nodes, node } => {
                let entry = v.len() + 11;
                if node.len() > 0 && node.bytes_len() + entry > Target::LIST_NODE_BYTES {
                    node.finish_into(&mut self.packed);
                    nodes.push(&[&self.packed])?;
                }
                node.push(v);
                Ok(())
            }
            State::Small { .. } if self.kind == Kind::Set => self.hold(w, &[v], None, None),
            State::Plain { .. } if self.kind == Kind::Set => {
                self.take_plain()?;
                w.string(v)
            }
            _ => Err(invalid("an element outside a string, list or set".into())),
        }
    }

    /// A part of a string value written as it is read (`total` bytes in all): stored as a
    /// plain string, never integer-encoded or compressed (its length is known before its bytes).
    pub fn string_part<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        part: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> io::Result<()> {
        let State::String { done } = &mut self.state else {
            return Err(invalid("a string part outside a string".into()));
        };
        if *done {
            return Err(invalid("a string has one value".into()));
        }
        *done = last;
        if first {
            self.header(w, RdbType::STRING)?;
            w.len(total)?;
        }
        w.raw(part)
    }

    /// A sorted-set member.
    pub fn zmember<W: Write>(&mut self, w: &mut RdbWriter<W>, m: &[u8], s: f64) -> io::Result<()> {
        match &mut self.state {
            State::Small { .. } if self.kind == Kind::ZSet => self.hold(w, &[m], Some(s), None),
            State::Plain { .. } if self.kind == Kind::ZSet => {
                self.take_plain()?;
                self.zset_plain(w, m, s)
            }
            _ => Err(invalid("a sorted-set member outside a sorted set".into())),
        }
    }

    /// A hash field, with its absolute expiry in unix ms (only in a [`Kind::HashTtl`] key).
    pub fn hash_field<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        f: &[u8],
        v: &[u8],
        expire_ms: Option<i64>,
    ) -> io::Result<()> {
        let ttl = match (self.kind, expire_ms) {
            (Kind::HashTtl, _) if !self.target.field_ttls() => {
                return Err(invalid(format!(
                    "RDB {} has no hash field TTLs",
                    self.target.version
                )))
            }
            (Kind::HashTtl, e) => {
                let t = e.unwrap_or(0);
                if !(0..=EXPIRE_MAX).contains(&t) {
                    return Err(invalid(format!("field expiry {t} out of range")));
                }
                Some(t)
            }
            (_, None) => None,
            (_, Some(_)) => return Err(invalid("a field TTL in a hash without TTLs".into())),
        };
        match &mut self.state {
            State::Small { .. } if matches!(self.kind, Kind::Hash | Kind::HashTtl) => {
                self.hold(w, &[f, v], None, ttl)
            }
            State::Plain { .. } if self.kind == Kind::Hash => {
                self.take_plain()?;
                w.string(f)?;
                w.string(v)
            }
            State::HashSpool { spool, min, left } => {
                *left = left
                    .checked_sub(1)
                    .ok_or_else(|| invalid("more fields than announced".into()))?;
                let t = ttl.unwrap_or(0);
                if t != 0 {
                    *min = Some(min.map_or(t, |m| m.min(t)));
                }
                spool_field(spool, f, v, t)
            }
            _ => Err(invalid("a hash field outside a hash".into())),
        }
    }

    /// A stream entry with `fields` field/value pairs, which follow with
    /// [`stream_field`](Self::stream_field). Entries come in id order.
    pub fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        let State::Stream(b) = &mut self.state else {
            return Err(invalid("a stream entry outside a stream".into()));
        };
        if b.entry.is_some() {
            return Err(invalid(
                "a stream entry before the previous one's fields".into(),
            ));
        }
        if b.last.is_some_and(|l| id <= l) {
            return Err(invalid(format!("stream entry {id} out of order")));
        }
        if fields == 0 {
            return Err(invalid(format!("stream entry {id} without fields")));
        }
        b.entry = Some((id, fields, Vec::new()));
        Ok(())
    }

    /// A field of the current stream entry.
    pub fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        let State::Stream(b) = &mut self.state else {
            return Err(invalid("a stream field outside a stream".into()));
        };
        let Some((_, left, fields)) = &mut b.entry else {
            return Err(invalid("a stream field outside an entry".into()));
        };
        fields.push((name.to_vec(), value.to_vec()));
        *left -= 1;
        if *left == 0 {
            let (id, _, fields) = b.entry.take().expect("checked");
            b.add_entry(id, &fields)?;
        }
        Ok(())
    }

    /// The stream's metadata, after its entries: writes the key up to its consumer groups,
    /// which follow with [`stream_group`](Self::stream_group). What the target's stream
    /// version cannot store is left out (the caller decides whether that is a loss); what the
    /// source did not store is filled in as the server does when it loads an older version.
    pub fn stream_meta<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        meta: &StreamMeta,
    ) -> io::Result<()> {
        let State::Stream(mut b) = std::mem::replace(&mut self.state, State::Idle) else {
            return Err(invalid("stream metadata outside a stream".into()));
        };
        if b.entry.is_some() {
            return Err(invalid("stream metadata inside an entry".into()));
        }
        // The entries written are those read; the length is written as stored (a Redis 5.0
        // pre-release stored one larger than its entries, which the servers keep).
        if meta.live_entries != b.live {
            return Err(invalid(format!(
                "stream of {} entries, {} written",
                meta.live_entries, b.live
            )));
        }
        if meta.length > 0 && b.live == 0 {
            return Err(invalid(format!(
                "stream length {} but no entries (no server loads it)",
                meta.length
            )));
        }
        let sv = self.stream_version()?;
        if let Some(node) = b.node.take() {
            seal_node(&mut b.nodes, node)?;
        }
        self.header(w, stream_type(sv))?;
        w.len(b.nodes.count())?;
        self.spilled += b.nodes.spilled();
        b.nodes.drain(|rec| {
            w.blob(&rec[..16])?;
            w.blob(&rec[16..])
        })?;
        self.stream_tail(w, meta, sv, b.first)
    }

    /// [`stream_meta`](Self::stream_meta) for a stream whose nodes are copied as stored
    /// instead of given entry by entry: `nodes` writes them (the node count, then each node's
    /// key and listpack, as stream versions 2 and later store them). The metadata must give
    /// the first id, as a source of stream version 2 or later does.
    pub fn stream_meta_stored<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        meta: &StreamMeta,
        nodes: impl FnOnce(&mut RdbWriter<W>) -> io::Result<()>,
    ) -> io::Result<()> {
        let State::Stream(b) = std::mem::replace(&mut self.state, State::Idle) else {
            return Err(invalid("stream metadata outside a stream".into()));
        };
        if b.entry.is_some() || b.node.is_some() || b.live > 0 {
            return Err(invalid(
                "a stream's nodes copied as stored after some of its entries".into(),
            ));
        }
        let sv = self.stream_version()?;
        if sv < 2 || meta.first_id.is_none() {
            return Err(invalid(format!(
                "stream nodes copied as stored need stream version 2 or later on both sides \
                 (writing version {sv})"
            )));
        }
        self.header(w, stream_type(sv))?;
        nodes(w)?;
        self.stream_tail(w, meta, sv, None)
    }

    /// The stream version of the target.
    fn stream_version(&self) -> io::Result<u32> {
        self.target
            .stream_version()
            .ok_or_else(|| invalid(format!("RDB {} has no streams", self.target.version)))
    }

    /// The stream's length, ids and group count, after its nodes; `first` stands for the
    /// first id when the metadata has none.
    fn stream_tail<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        meta: &StreamMeta,
        sv: u32,
        first: Option<StreamId>,
    ) -> io::Result<()> {
        w.len(meta.length)?;
        w.stream_id(meta.last_id)?;
        if sv >= 2 {
            w.stream_id(meta.first_id.unwrap_or(first.unwrap_or_default()))?;
            w.stream_id(meta.max_deleted_id.unwrap_or_default())?;
            w.len(meta.entries_added.unwrap_or(meta.length))?;
        }
        w.len(meta.groups)?;
        self.state = State::StreamTail;
        Ok(())
    }

    fn tail(&self, what: &str) -> io::Result<u32> {
        match self.state {
            State::StreamTail => Ok(self.target.stream_version().unwrap_or(1)),
            _ => Err(invalid(format!("{what} outside a stream's groups"))),
        }
    }

    /// A consumer group: its `pending` PEL entries follow with
    /// [`stream_pending`](Self::stream_pending), then [`stream_consumers`](Self::stream_consumers).
    pub fn stream_group<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        let sv = self.tail("a consumer group")?;
        w.string(name)?;
        w.stream_id(last_id)?;
        if sv >= 2 {
            w.len(entries_read.unwrap_or(u64::MAX))?;
        }
        w.len(pending)
    }

    /// An entry of the current group's PEL.
    pub fn stream_pending<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        id: StreamId,
        delivery_time_ms: i64,
        delivery_count: u64,
    ) -> io::Result<()> {
        self.tail("a pending entry")?;
        w.stream_id_raw(id)?;
        w.i64_le(delivery_time_ms)?;
        w.len(delivery_count)
    }

    /// The number of consumers of the current group, after its PEL.
    pub fn stream_consumers<W: Write>(&mut self, w: &mut RdbWriter<W>, n: u64) -> io::Result<()> {
        self.tail("a consumer count")?;
        w.len(n)
    }

    /// A consumer; its `pending` ids follow with
    /// [`stream_consumer_pending`](Self::stream_consumer_pending).
    pub fn stream_consumer<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        name: &[u8],
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        let sv = self.tail("a consumer")?;
        w.string(name)?;
        w.i64_le(seen_time_ms)?;
        if sv >= 3 {
            w.i64_le(active_time_ms.unwrap_or(seen_time_ms))?;
        }
        w.len(pending)
    }

    /// A pending id owned by the current consumer.
    pub fn stream_consumer_pending<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        id: StreamId,
    ) -> io::Result<()> {
        self.tail("a consumer's pending id")?;
        w.stream_id_raw(id)
    }

    /// Ends the key, writing what was held.
    pub fn end<W: Write>(&mut self, w: &mut RdbWriter<W>) -> io::Result<()> {
        let t = self.target;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::String { done } => {
                if !done {
                    return Err(invalid("a string without its value".into()));
                }
            }
            State::List {
                mut nodes,
                mut node,
            } => {
                if node.len() > 0 {
                    node.finish_into(&mut self.packed);
                    nodes.push(&[&self.packed])?;
                }
                if nodes.count() == 0 {
                    return Err(invalid("an empty list".into()));
                }
                self.spilled += nodes.spilled();
                if t.listpacks() {
                    self.header(w, RdbType::LIST_QUICKLIST_2)?;
                    w.len(nodes.count())?;
                    nodes.drain(|n| {
                        w.len(2)?; // QUICKLIST_NODE_CONTAINER_PACKED
                        w.blob(n)
                    })?;
                } else {
                    self.header(w, RdbType::LIST_QUICKLIST)?;
                    w.len(nodes.count())?;
                    nodes.drain(|n| w.blob(n))?;
                }
                self.spare_list = Some((nodes, node));
            }
            State::Small { .. } => self.with_held(|me, held| me.small(w, held))?,
            State::Stream(_) => return Err(invalid("a stream without its metadata".into())),
            State::StreamTail => {}
            State::HashSpool {
                mut spool,
                min,
                left,
            } => {
                if left != 0 {
                    return Err(invalid(format!("{left} fewer fields than announced")));
                }
                self.spilled += spool.spilled();
                self.hash_ttl_plain(w, &mut spool, min)?;
            }
            State::Plain { left } => {
                if left != 0 {
                    return Err(invalid(format!("{left} fewer elements than announced")));
                }
            }
            State::Idle => return Err(invalid("no key to end".into())),
        }
        Ok(())
    }

    /// Writes a hash with field TTLs from its spooled (field, value, ttl) records.
    fn hash_ttl_plain<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        spool: &mut Spool,
        min: Option<i64>,
    ) -> io::Result<()> {
        let n = spool.count();
        if self.target.version >= 80 {
            self.header(w, RdbType::VALKEY_HASH_2)?;
            w.len(n)?;
            return spool.drain(|rec| {
                let (f, v, ttl) = unspool_field(rec);
                w.string(f)?;
                w.string(v)?;
                w.i64_le(if ttl == 0 { -1 } else { ttl })
            });
        }
        match min {
            None => {
                // No field has a TTL: the server writes such a hashtable as a plain hash.
                self.header(w, RdbType::HASH)?;
                w.len(n)?;
                spool.drain(|rec| {
                    let (f, v, _) = unspool_field(rec);
                    w.string(f)?;
                    w.string(v)
                })
            }
            Some(min) => {
                self.header(w, RdbType::HASH_METADATA)?;
                w.i64_le(min)?;
                w.len(n)?;
                spool.drain(|rec| {
                    let (f, v, ttl) = unspool_field(rec);
                    // Stored relative to the smallest TTL, plus one (0 means no TTL).
                    w.len(if ttl == 0 { 0 } else { (ttl - min + 1) as u64 })?;
                    w.string(f)?;
                    w.string(v)
                })
            }
        }
    }

    fn small<W: Write>(&mut self, w: &mut RdbWriter<W>, held: &Held) -> io::Result<()> {
        let t = self.target;
        let ttls = &held.ttls;
        match self.kind {
            Kind::Set => {
                self.ints.clear();
                self.ints.extend(held.iter().filter_map(canonical_int));
                if self.ints.len() == held.len() && held.len() > 0 {
                    intset_into(&mut self.ints, &mut self.packed);
                    self.header(w, RdbType::SET_INTSET)?;
                    w.blob(&self.packed)
                } else if held.len() == 0 {
                    Err(invalid("an empty set".into()))
                } else {
                    for i in held.iter() {
                        self.lp.push(i);
                    }
                    self.lp.finish_into(&mut self.packed);
                    self.header(w, RdbType::SET_LISTPACK)?;
                    w.blob(&self.packed)
                }
            }
            Kind::ZSet => {
                // Packed sorted sets are ordered by score, then member.
                let scores = &held.scores;
                let mut order = std::mem::take(&mut self.order);
                order.clear();
                order.extend(0..held.len());
                order.sort_by(|&a, &b| {
                    scores[a]
                        .total_cmp(&scores[b])
                        .then_with(|| held.get(a).cmp(held.get(b)))
                });
                for &i in &order {
                    self.pack.push(held.get(i));
                    score_text(scores[i], &mut self.score);
                    self.pack.push(&self.score);
                }
                self.order = order;
                let ty = if t.listpacks() {
                    RdbType::ZSET_LISTPACK
                } else {
                    RdbType::ZSET_ZIPLIST
                };
                self.write_pack(w, ty)
            }
            Kind::Hash => {
                for i in held.iter() {
                    self.pack.push(i);
                }
                let ty = if t.listpacks() {
                    RdbType::HASH_LISTPACK
                } else {
                    RdbType::HASH_ZIPLIST
                };
                self.write_pack(w, ty)
            }
            Kind::HashTtl if t.version < 80 => {
                // Listpack-ex: (field, value, ttl) triplets by TTL ascending, no TTL last.
                let mut order: Vec<usize> = (0..ttls.len()).collect();
                order.sort_by_key(|&i| (ttls[i] == 0, ttls[i]));
                for &i in &order {
                    self.lp.push(held.get(2 * i));
                    self.lp.push(held.get(2 * i + 1));
                    self.lp.push_int(ttls[i]);
                }
                self.lp.finish_into(&mut self.packed);
                let min = ttls.iter().copied().filter(|&t| t != 0).min().unwrap_or(0);
                self.header(w, RdbType::HASH_LISTPACK_EX)?;
                w.i64_le(min)?;
                w.blob(&self.packed)
            }
            Kind::HashTtl => {
                let mut spool = self.new_spool();
                for (i, &ttl) in ttls.iter().enumerate() {
                    spool_field(&mut spool, held.get(2 * i), held.get(2 * i + 1), ttl)?;
                }
                let min = ttls.iter().copied().filter(|&t| t != 0).min();
                self.hash_ttl_plain(w, &mut spool, min)
            }
            _ => Ok(()),
        }
    }

    /// Writes the key's header with type `ty` and the packed encoding built in `self.pack`,
    /// which is emptied for the next key.
    fn write_pack<W: Write>(&mut self, w: &mut RdbWriter<W>, ty: RdbType) -> io::Result<()> {
        self.pack.finish_into(&mut self.packed);
        self.header(w, ty)?;
        w.blob(&self.packed)
    }
}

/// The largest field expiry Redis accepts (`EB_EXPIRE_TIME_MAX`, 2^48 - 1 ms).
const EXPIRE_MAX: i64 = (1 << 48) - 1;

fn spool_field(spool: &mut Spool, f: &[u8], v: &[u8], ttl: i64) -> io::Result<()> {
    let flen = u32::try_from(f.len()).map_err(|_| invalid("a field over 4 GiB".into()))?;
    spool.push(&[&ttl.to_le_bytes(), &flen.to_le_bytes(), f, v])
}

fn unspool_field(rec: &[u8]) -> (&[u8], &[u8], i64) {
    let ttl = i64::from_le_bytes(rec[..8].try_into().expect("8 bytes"));
    let flen = u32::from_le_bytes(rec[8..12].try_into().expect("4 bytes")) as usize;
    (&rec[12..12 + flen], &rec[12 + flen..], ttl)
}

impl StreamBuild {
    /// Adds a complete entry to the open node, sealing it first when the entry would pass the
    /// server's node limits (`stream-node-max-entries 100`, `stream-node-max-bytes 4096`).
    fn add_entry(&mut self, id: StreamId, fields: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
        let size: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
        if let Some(node) = &self.node {
            let bytes = node.master_bytes + node.entries.bytes_len();
            if bytes + size >= Target::STREAM_NODE_BYTES
                || node.count >= Target::STREAM_NODE_ENTRIES
            {
                let node = self.node.take().expect("checked");
                seal_node(&mut self.nodes, node)?;
            }
        }
        let node = self.node.get_or_insert_with(|| StreamNode {
            master: id,
            fields: fields.iter().map(|(f, _)| f.clone()).collect(),
            master_bytes: fields.iter().map(|(f, _)| f.len() + 2).sum::<usize>() + 8,
            entries: Listpack::new(),
            count: 0,
        });
        let same = node.fields.len() == fields.len()
            && node.fields.iter().zip(fields).all(|(m, (f, _))| m == f);
        let lp = &mut node.entries;
        lp.push_int(if same { 2 } else { 0 }); // STREAM_ITEM_FLAG_SAMEFIELDS
        lp.push_int(id.ms.wrapping_sub(node.master.ms) as i64);
        lp.push_int(id.seq.wrapping_sub(node.master.seq) as i64);
        let n = fields.len() as i64;
        if same {
            for (_, v) in fields {
                lp.push(v);
            }
            lp.push_int(n + 3);
        } else {
            lp.push_int(n);
            for (f, v) in fields {
                lp.push(f);
                lp.push(v);
            }
            lp.push_int(2 * n + 4);
        }
        node.count += 1;
        self.live += 1;
        self.first.get_or_insert(id);
        self.last = Some(id);
        Ok(())
    }
}

/// The type byte of a stream of stream version `sv`.
fn stream_type(sv: u32) -> RdbType {
    match sv {
        1 => RdbType::STREAM_LISTPACKS,
        2 => RdbType::STREAM_LISTPACKS_2,
        _ => RdbType::STREAM_LISTPACKS_3,
    }
}

/// Finishes a stream node: its master entry (live count, deleted count, the master fields,
/// a 0 terminator) then its entries; held as the 16-byte big-endian node key and the listpack.
fn seal_node(nodes: &mut Spool, mut node: StreamNode) -> io::Result<()> {
    let mut lp = Listpack::new();
    lp.push_int(node.count as i64);
    lp.push_int(0);
    lp.push_int(node.fields.len() as i64);
    for f in &node.fields {
        lp.push(f);
    }
    lp.push_int(0);
    lp.append(&mut node.entries);
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&node.master.ms.to_be_bytes());
    key[8..].copy_from_slice(&node.master.seq.to_be_bytes());
    nodes.push(&[&key, &lp.finish()])
}
