//! Keys: the encoding the target server would choose, decided while the elements arrive.
//!
//! Elements are held only while the key may still get a packed encoding (at most 512 small
//! elements); past the server's thresholds the key switches to its plain encoding and the rest
//! is written as it comes. Lists are written as quicklist nodes of at most 8 KiB, the nodes of
//! one key held until its end (a quicklist starts with its node count).

use crate::blob::{canonical_int, intset, Listpack, Ziplist};
use crate::writer::RdbWriter;
use rdb_parse::RdbType;
use std::io::{self, Write};

/// What the target server version stores, and its default thresholds.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// RDB version written (7 to 12).
    pub version: u32,
}

impl Target {
    const HASH_ENTRIES: usize = 512;
    const ZSET_ENTRIES: usize = 128;
    const SET_INTSET_ENTRIES: usize = 512;
    const SET_LISTPACK_ENTRIES: usize = 128;
    const VALUE_BYTES: usize = 64;
    const LIST_NODE_BYTES: usize = 8192;

    fn listpacks(self) -> bool {
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
    fn finish(&mut self) -> Vec<u8> {
        match self {
            Pack::Lp(l) => l.finish(),
            Pack::Zl(z) => z.finish(),
        }
    }
}

enum State {
    Idle,
    String {
        done: bool,
    },
    List {
        nodes: Vec<Vec<u8>>,
        node: Pack,
    },
    /// Still small: the elements so far (pairs for zsets and hashes, flattened), and whether
    /// all of them are canonical integers / at most 64 bytes.
    Small {
        items: Vec<Vec<u8>>,
        scores: Vec<f64>,
        all_int: bool,
        all_short: bool,
    },
    /// Plain encoding, header written: the rest streams.
    Plain {
        left: u64,
    },
}

/// Writes keys of a target version, one element at a time.
pub struct KeyWriter {
    target: Target,
    kind: Kind,
    key: Vec<u8>,
    meta: KeyMeta,
    len: Option<u64>,
    state: State,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A score as Redis writes it into a listpack or ziplist: an integer when it is one (and
/// exact), else the shortest text that reads back as the same double.
fn score_text(v: f64) -> Vec<u8> {
    if v.is_infinite() {
        return if v > 0.0 {
            b"inf".to_vec()
        } else {
            b"-inf".to_vec()
        };
    }
    if v == v.trunc() && v.abs() < 9.007_199_254_740_992e15 && !(v == 0.0 && v.is_sign_negative()) {
        return format!("{}", v as i64).into_bytes();
    }
    format!("{v:e}").into_bytes()
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
        }
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
            Kind::List => State::List {
                nodes: Vec::new(),
                node: Pack::new(self.target),
            },
            _ => State::Small {
                items: Vec::new(),
                scores: Vec::new(),
                all_int: true,
                all_short: true,
            },
        };
    }

    fn header<W: Write>(&self, w: &mut RdbWriter<W>, t: RdbType) -> io::Result<()> {
        w.key_meta(self.meta.expire_ms, self.meta.idle_s, self.meta.freq)?;
        w.byte(t.0)?;
        w.string(&self.key)
    }

    /// Whether a key of `n` held strings with these properties keeps a packed encoding.
    fn small_fits(&self, n: usize, all_int: bool, all_short: bool) -> bool {
        match self.kind {
            Kind::Hash => n <= 2 * Target::HASH_ENTRIES && all_short,
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
    ) -> io::Result<()> {
        let State::Small {
            items,
            scores,
            all_int,
            all_short,
        } = &mut self.state
        else {
            return Err(invalid("an element outside a key".into()));
        };
        for p in parts {
            *all_int &= canonical_int(p).is_some();
            *all_short &= p.len() <= Target::VALUE_BYTES;
            items.push(p.to_vec());
        }
        scores.extend(score);
        let (n, i, s) = (items.len(), *all_int, *all_short);
        if !self.small_fits(n, i, s) {
            self.go_plain(w)?;
        }
        Ok(())
    }

    /// Switches a key that outgrew the packed encodings to its plain one, writing what was
    /// held.
    fn go_plain<W: Write>(&mut self, w: &mut RdbWriter<W>) -> io::Result<()> {
        let State::Small { items, scores, .. } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return Ok(());
        };
        let len = self.len.ok_or_else(|| {
            invalid("a large set, sorted set or hash needs its element count".into())
        })?;
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
                for (m, s) in items.iter().zip(scores) {
                    self.zset_plain(w, m, s)?;
                    written += 1;
                }
            }
            Kind::Hash => {
                for pair in items.chunks(2) {
                    w.string(&pair[0])?;
                    w.string(&pair[1])?;
                    written += 1;
                }
            }
            _ => {
                for m in &items {
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
                    nodes.push(node.finish());
                }
                node.push(v);
                Ok(())
            }
            State::Small { .. } => self.hold(w, &[v], None),
            State::Plain { .. } => {
                self.take_plain()?;
                w.string(v)
            }
            State::Idle => Err(invalid("an element outside a key".into())),
        }
    }

    /// A sorted-set member.
    pub fn zmember<W: Write>(&mut self, w: &mut RdbWriter<W>, m: &[u8], s: f64) -> io::Result<()> {
        match &mut self.state {
            State::Small { .. } => self.hold(w, &[m], Some(s)),
            State::Plain { .. } => {
                self.take_plain()?;
                self.zset_plain(w, m, s)
            }
            _ => Err(invalid("a sorted-set member outside a sorted set".into())),
        }
    }

    /// A hash field.
    pub fn hash_field<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        f: &[u8],
        v: &[u8],
    ) -> io::Result<()> {
        match &mut self.state {
            State::Small { .. } => self.hold(w, &[f, v], None),
            State::Plain { .. } => {
                self.take_plain()?;
                w.string(f)?;
                w.string(v)
            }
            _ => Err(invalid("a hash field outside a hash".into())),
        }
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
                    nodes.push(node.finish());
                }
                if t.listpacks() {
                    self.header(w, RdbType::LIST_QUICKLIST_2)?;
                    w.len(nodes.len() as u64)?;
                    for n in &nodes {
                        w.len(2)?; // QUICKLIST_NODE_CONTAINER_PACKED
                        w.blob(n)?;
                    }
                } else {
                    self.header(w, RdbType::LIST_QUICKLIST)?;
                    w.len(nodes.len() as u64)?;
                    for n in &nodes {
                        w.blob(n)?;
                    }
                }
            }
            State::Small {
                mut items, scores, ..
            } => self.small(w, &mut items, &scores)?,
            State::Plain { left } => {
                if left != 0 {
                    return Err(invalid(format!("{left} fewer elements than announced")));
                }
            }
            State::Idle => return Err(invalid("no key to end".into())),
        }
        Ok(())
    }

    fn small<W: Write>(
        &mut self,
        w: &mut RdbWriter<W>,
        items: &mut [Vec<u8>],
        scores: &[f64],
    ) -> io::Result<()> {
        let t = self.target;
        match self.kind {
            Kind::Set => {
                let mut ints: Vec<i64> = items.iter().filter_map(|i| canonical_int(i)).collect();
                if ints.len() == items.len() && !items.is_empty() {
                    self.header(w, RdbType::SET_INTSET)?;
                    w.blob(&intset(&mut ints))
                } else if items.is_empty() {
                    Err(invalid("an empty set".into()))
                } else {
                    let mut lp = Listpack::new();
                    for i in items.iter() {
                        lp.push(i);
                    }
                    self.header(w, RdbType::SET_LISTPACK)?;
                    w.blob(&lp.finish())
                }
            }
            Kind::ZSet => {
                // Packed sorted sets are ordered by score, then member.
                let mut order: Vec<usize> = (0..items.len()).collect();
                order.sort_by(|&a, &b| {
                    scores[a]
                        .total_cmp(&scores[b])
                        .then_with(|| items[a].cmp(&items[b]))
                });
                let mut p = Pack::new(t);
                for &i in &order {
                    p.push(&items[i]);
                    p.push(&score_text(scores[i]));
                }
                let ty = if t.listpacks() {
                    RdbType::ZSET_LISTPACK
                } else {
                    RdbType::ZSET_ZIPLIST
                };
                self.header(w, ty)?;
                w.blob(&p.finish())
            }
            Kind::Hash => {
                let mut p = Pack::new(t);
                for i in items.iter() {
                    p.push(i);
                }
                let ty = if t.listpacks() {
                    RdbType::HASH_LISTPACK
                } else {
                    RdbType::HASH_ZIPLIST
                };
                self.header(w, ty)?;
                w.blob(&p.finish())
            }
            _ => Ok(()),
        }
    }
}
