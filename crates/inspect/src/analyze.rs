//! Where the memory goes: one pass over an RDB's events gives each key's estimated memory
//! ([`crate::memory`]) and sums it by database, type and encoding, by key prefix, by time to
//! live, and keeps the largest keys, all in bounded memory.

use crate::memory::{Estimate, Estimator};
use rdb_parse::{KeyEnd, KeyInfo, NodeInfo, Sink, Str, StreamId, ValueType};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// One key, as the per-key records give it.
#[derive(Debug, Clone, Copy)]
pub struct KeyRecord<'a> {
    /// Its database.
    pub db: u64,
    /// Its name.
    pub key: &'a [u8],
    /// Its type.
    pub value_type: ValueType,
    /// The encoding the server gives it at load.
    pub encoding: &'static str,
    /// Its expiry, unix ms.
    pub expire_ms: Option<i64>,
    /// Its elements (1 for a string).
    pub elements: u64,
    /// The bytes of its record in the file.
    pub rdb_bytes: u64,
    /// Its estimated memory.
    pub memory: u64,
    /// Its longest element (member, field, value, stream field) in bytes; a string's length.
    pub largest_element: u64,
}

/// Sums over a set of keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Keys.
    pub keys: u64,
    /// Estimated memory.
    pub memory: u64,
    /// Bytes in the file.
    pub rdb_bytes: u64,
    /// Elements.
    pub elements: u64,
}

impl Totals {
    fn add(&mut self, r: &KeyRecord<'_>) {
        self.keys += 1;
        self.memory += r.memory;
        self.rdb_bytes += r.rdb_bytes;
        self.elements += r.elements;
    }
}

/// The time-to-live buckets of the histogram.
pub const TTL_BUCKETS: [&str; 7] = [
    "no expiry",
    "expired",
    "< 1 hour",
    "< 1 day",
    "< 7 days",
    "< 30 days",
    ">= 30 days",
];

fn ttl_bucket(expire_ms: Option<i64>, now_ms: i64) -> usize {
    let Some(at) = expire_ms else { return 0 };
    let left = at - now_ms;
    const H: i64 = 3_600_000;
    match left {
        ..=0 => 1,
        l if l < H => 2,
        l if l < 24 * H => 3,
        l if l < 7 * 24 * H => 4,
        l if l < 30 * 24 * H => 5,
        _ => 6,
    }
}

/// A prefix's sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixStats {
    /// Keys under the prefix.
    pub keys: u64,
    /// Their memory.
    pub memory: u64,
    /// Those without an expiry.
    pub keys_without_ttl: u64,
}

impl PrefixStats {
    fn add(&mut self, o: &PrefixStats) {
        self.keys += o.keys;
        self.memory += o.memory;
        self.keys_without_ttl += o.keys_without_ttl;
    }
}

/// The prefix tree: each key counts under each of its first `depth` prefixes (a prefix ends
/// with a separator). When more than `cap` prefixes are held, the smaller half by memory is
/// folded into its parent's "other" sums: totals stay exact, and a prefix seen again after it
/// was folded is counted from there on (its figures are then a lower bound: `folded` says how
/// many prefixes were folded).
#[derive(Debug)]
pub struct PrefixTree {
    sep: Vec<u8>,
    depth: usize,
    cap: usize,
    /// Prefix → sums.
    nodes: HashMap<Vec<u8>, PrefixStats>,
    /// Sums folded out of each prefix's children ("" for the top level).
    other: HashMap<Vec<u8>, PrefixStats>,
    /// Per level, the last prefix seen and what was added to it since it was last put in
    /// `nodes` (keys come in runs of one prefix often: a run costs one lookup).
    pending: Vec<(Vec<u8>, PrefixStats)>,
    /// Keys with no separator at all.
    pub unprefixed: PrefixStats,
    /// Prefixes folded so far.
    pub folded: u64,
}

impl PrefixTree {
    /// A tree of prefixes ending in `sep`, `depth` levels deep, holding at most `cap`.
    pub fn new(sep: &[u8], depth: usize, cap: usize) -> PrefixTree {
        PrefixTree {
            sep: sep.to_vec(),
            depth,
            cap: cap.max(16),
            nodes: HashMap::default(),
            other: HashMap::default(),
            pending: Vec::new(),
            unprefixed: PrefixStats::default(),
            folded: 0,
        }
    }

    fn add(&mut self, key: &[u8], s: &PrefixStats) {
        if self.sep.is_empty() || self.depth == 0 {
            return;
        }
        let mut from = 0;
        let mut level = 0;
        while level < self.depth {
            let Some(i) = memchr_seq(&key[from..], &self.sep) else {
                break;
            };
            let end = from + i + self.sep.len();
            if self.pending.len() == level {
                self.pending.push((Vec::new(), PrefixStats::default()));
            }
            let (last, stats) = &mut self.pending[level];
            if last.as_slice() == &key[..end] && stats.keys > 0 {
                stats.add(s);
            } else {
                self.flush_level(level);
                let (last, stats) = &mut self.pending[level];
                last.clear();
                last.extend_from_slice(&key[..end]);
                *stats = *s;
            }
            from = end;
            level += 1;
        }
        if level == 0 {
            self.unprefixed.add(s);
        }
        if self.nodes.len() > self.cap {
            self.flush();
            self.fold();
        }
    }

    /// Puts what was added to the last prefix of `level` into the tree.
    fn flush_level(&mut self, level: usize) {
        let (last, stats) = &mut self.pending[level];
        if stats.keys == 0 {
            return;
        }
        match self.nodes.get_mut(last.as_slice()) {
            Some(n) => n.add(stats),
            None => {
                self.nodes.insert(last.clone(), *stats);
            }
        }
        *stats = PrefixStats::default();
    }

    /// Puts every pending sum into the tree.
    fn flush(&mut self) {
        for level in 0..self.pending.len() {
            self.flush_level(level);
        }
    }

    /// Folds the smallest prefixes by memory, half of them or more (every prefix at the
    /// median or below), into their parents' "other". A prefix holds at least its children's
    /// memory, so a prefix folded takes its children with it.
    fn fold(&mut self) {
        let mut mem: Vec<u64> = self.nodes.values().map(|s| s.memory).collect();
        let mid = mem.len() / 2;
        let (_, &mut t, _) = mem.select_nth_unstable(mid);
        let folded: Vec<(Vec<u8>, PrefixStats)> =
            self.nodes.extract_if(|_, s| s.memory <= t).collect();
        for (k, _) in &folded {
            // Its own folded children are in its sums already.
            self.other.remove(k);
        }
        for (k, s) in folded {
            let parent = self.parent(&k);
            // A parent folded in the same round took this prefix's sums with it.
            if !parent.is_empty() && !self.nodes.contains_key(parent) {
                continue;
            }
            match self.other.get_mut(parent) {
                Some(o) => o.add(&s),
                None => {
                    self.other.insert(parent.to_vec(), s);
                }
            }
            self.folded += 1;
        }
    }

    /// The prefix one level up ("" at the top).
    fn parent<'k>(&self, prefix: &'k [u8]) -> &'k [u8] {
        let body = &prefix[..prefix.len() - self.sep.len()];
        match rfind_seq(body, &self.sep) {
            Some(i) => &prefix[..i + self.sep.len()],
            None => &prefix[..0],
        }
    }

    /// The prefixes held, with their sums, largest memory first.
    pub fn prefixes(&self) -> Vec<(&[u8], PrefixStats)> {
        let mut v: Vec<_> = self.nodes.iter().map(|(k, s)| (k.as_slice(), *s)).collect();
        v.sort_by(|a, b| b.1.memory.cmp(&a.1.memory).then(a.0.cmp(b.0)));
        v
    }

    /// What was folded out of `prefix`'s children ("" for the top level).
    pub fn other(&self, prefix: &[u8]) -> Option<PrefixStats> {
        self.other.get(prefix).copied()
    }

    /// The level of a prefix: the separators it holds (1 at the top).
    pub fn level(&self, prefix: &[u8]) -> usize {
        if self.sep.is_empty() {
            return 0;
        }
        memchr::memmem::find_iter(prefix, &self.sep).count()
    }

    /// The separator.
    pub fn sep(&self) -> &[u8] {
        &self.sep
    }

    /// The prefix one level up of a held prefix ("" at the top).
    pub fn parent_of<'k>(&self, prefix: &'k [u8]) -> &'k [u8] {
        self.parent(prefix)
    }
}

fn memchr_seq(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return memchr::memchr(needle[0], hay);
    }
    memchr::memmem::find(hay, needle)
}

fn rfind_seq(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A key kept among the largest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopKey {
    /// The figure it is ranked by.
    pub value: u64,
    /// Its order in the file (earlier first among equals).
    pub seq: Reverse<u64>,
    /// Its database.
    pub db: u64,
    /// Its name.
    pub key: Vec<u8>,
    /// Its type.
    pub value_type: &'static str,
    /// Its encoding at load.
    pub encoding: &'static str,
    /// Memory, elements, RDB bytes and largest element.
    pub memory: u64,
    /// Elements.
    pub elements: u64,
    /// RDB bytes.
    pub rdb_bytes: u64,
    /// Its longest element.
    pub largest_element: u64,
}

/// The `n` largest keys by one figure (a min-heap of fixed size).
#[derive(Debug)]
pub struct Top {
    n: usize,
    heap: BinaryHeap<Reverse<TopKey>>,
}

impl Top {
    fn new(n: usize) -> Top {
        Top {
            n,
            heap: BinaryHeap::new(),
        }
    }

    fn offer(&mut self, value: u64, seq: u64, r: &KeyRecord<'_>) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            let min = &self.heap.peek().expect("full").0;
            if (value, Reverse(seq)) <= (min.value, min.seq) {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(TopKey {
            value,
            seq: Reverse(seq),
            db: r.db,
            key: r.key.to_vec(),
            value_type: r.value_type.name(),
            encoding: r.encoding,
            memory: r.memory,
            elements: r.elements,
            rdb_bytes: r.rdb_bytes,
            largest_element: r.largest_element,
        }));
    }

    /// The keys, largest first.
    pub fn sorted(&self) -> Vec<TopKey> {
        let mut v: Vec<TopKey> = self.heap.iter().map(|r| r.0.clone()).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }
}

/// Everything the pass sums.
#[derive(Debug)]
pub struct Report {
    /// Per (database, type, encoding), in the order first seen (see [`Report::by_type`]).
    by_type: Vec<((u64, &'static str, &'static str), Totals)>,
    /// The entry of `by_type` used last.
    last_type: usize,
    /// All keys the server would hold.
    pub total: Totals,
    /// Keys already expired at `now` (a server drops them at load), with what they would cost.
    pub expired: Totals,
    /// Empty collections (a server skips them at load).
    pub empty: u64,
    /// Per TTL bucket ([`TTL_BUCKETS`]): keys and memory; expired keys are in bucket 1.
    pub ttl: [Totals; 7],
    /// The prefix tree.
    pub prefixes: PrefixTree,
    /// Largest by memory.
    pub top_memory: Top,
    /// Largest by elements.
    pub top_elements: Top,
    /// Largest by RDB bytes.
    pub top_rdb_bytes: Top,
}

impl Report {
    /// Per (database, type, encoding), sorted.
    pub fn by_type(&self) -> BTreeMap<(u64, &'static str, &'static str), Totals> {
        self.by_type.iter().copied().collect()
    }

    fn add_by_type(&mut self, k: (u64, &'static str, &'static str), r: &KeyRecord<'_>) {
        // The names are static: comparing their addresses is enough, and a file's keys come
        // in runs of one type.
        let same = |a: &(u64, &'static str, &'static str)| {
            a.0 == k.0 && std::ptr::eq(a.1, k.1) && std::ptr::eq(a.2, k.2)
        };
        let i = match self.by_type.get(self.last_type) {
            Some((key, _)) if same(key) => self.last_type,
            _ => match self
                .by_type
                .iter()
                .position(|(key, _)| same(key) || *key == k)
            {
                Some(i) => i,
                None => {
                    self.by_type.push((k, Totals::default()));
                    self.by_type.len() - 1
                }
            },
        };
        self.last_type = i;
        self.by_type[i].1.add(r);
    }
}

/// What the analyzer is asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time keys expire against, unix ms.
    pub now_ms: i64,
    /// The prefix separator.
    pub sep: Vec<u8>,
    /// Prefix levels.
    pub depth: usize,
    /// Most prefixes held.
    pub prefix_cap: usize,
    /// Keys kept in each top list.
    pub top: usize,
}

/// A per-key callback: every key the server would hold, and every expired key (with
/// `expire_ms` in the past), in file order. It runs on the thread that sums.
pub type PerKey = Box<dyn FnMut(&KeyRecord<'_>) -> std::io::Result<()> + Send>;

/// One key as the reading side hands it to the summing side: its name is in the batch's
/// byte buffer.
#[derive(Debug, Clone, Copy)]
struct Rec {
    db: u64,
    key_end: usize,
    value_type: ValueType,
    encoding: &'static str,
    expire_ms: Option<i64>,
    elements: u64,
    rdb_bytes: u64,
    memory: u64,
    largest_element: u64,
}

/// Keys handed over together.
#[derive(Debug, Default)]
struct Batch {
    keys: Vec<u8>,
    recs: Vec<Rec>,
    empty: u64,
}

impl Batch {
    /// Empties the batch, keeping its buffers.
    fn clear(&mut self) {
        self.keys.clear();
        self.recs.clear();
        self.empty = 0;
    }
}

/// Keys in a batch.
const BATCH: usize = 4096;

/// The summing side: the report, and the per-key callback.
struct Sums {
    opts: Options,
    report: Report,
    per_key: Option<PerKey>,
    seq: u64,
}

impl Sums {
    fn add(&mut self, r: &KeyRecord<'_>) -> std::io::Result<()> {
        let bucket = ttl_bucket(r.expire_ms, self.opts.now_ms);
        self.report.ttl[bucket].add(r);
        if let Some(f) = &mut self.per_key {
            f(r)?;
        }
        if bucket == 1 {
            self.report.expired.add(r);
            return Ok(());
        }
        self.report.total.add(r);
        self.report
            .add_by_type((r.db, r.value_type.name(), r.encoding), r);
        let s = PrefixStats {
            keys: 1,
            memory: r.memory,
            keys_without_ttl: u64::from(r.expire_ms.is_none()),
        };
        self.seq += 1;
        let seq = self.seq;
        self.report.top_memory.offer(r.memory, seq, r);
        self.report.top_elements.offer(r.elements, seq, r);
        self.report.top_rdb_bytes.offer(r.rdb_bytes, seq, r);
        self.report.prefixes.add(r.key, &s);
        Ok(())
    }

    fn add_batch(&mut self, b: &Batch) -> std::io::Result<()> {
        self.report.empty += b.empty;
        let mut start = 0;
        for r in &b.recs {
            let key = &b.keys[start..r.key_end];
            start = r.key_end;
            self.add(&KeyRecord {
                db: r.db,
                key,
                value_type: r.value_type,
                encoding: r.encoding,
                expire_ms: r.expire_ms,
                elements: r.elements,
                rdb_bytes: r.rdb_bytes,
                memory: r.memory,
                largest_element: r.largest_element,
            })?;
        }
        Ok(())
    }
}

/// The summing thread and the channels to it.
struct Worker {
    tx: std::sync::mpsc::SyncSender<Batch>,
    free: std::sync::mpsc::Receiver<Batch>,
    handle: std::thread::JoinHandle<std::io::Result<Sums>>,
}

/// The analysis sink: it reads each key's events and estimates its memory; the sums (and the
/// per-key callback) run on a second thread, fed in batches of keys.
pub struct Analyzer {
    est: Estimator,
    batch: Batch,
    worker: Option<Worker>,
    /// The sums kept on this thread (no other could be started).
    here: Option<Box<Sums>>,
    key: Vec<u8>,
    info: Option<(u64, ValueType, Option<i64>, u64)>,
    largest: u64,
}

impl Analyzer {
    /// An analyzer estimating with `est`, calling `per_key` for every key.
    pub fn new(est: Estimator, opts: Options, per_key: Option<PerKey>) -> Analyzer {
        let sums = Sums {
            report: Report {
                by_type: Vec::new(),
                last_type: 0,
                total: Totals::default(),
                expired: Totals::default(),
                empty: 0,
                ttl: [Totals::default(); 7],
                prefixes: PrefixTree::new(&opts.sep, opts.depth, opts.prefix_cap),
                top_memory: Top::new(opts.top),
                top_elements: Top::new(opts.top),
                top_rdb_bytes: Top::new(opts.top),
            },
            opts,
            per_key,
            seq: 0,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(4);
        let (give_back, free) = std::sync::mpsc::channel::<Batch>();
        let started = rdb_parse::threads::spawn_or_keep("analyze-sums", sums, move |mut sums| {
            for mut b in rx {
                sums.add_batch(&b)?;
                b.clear();
                let _ = give_back.send(b);
            }
            Ok(sums)
        });
        let (worker, here) = match started {
            Ok(handle) => (Some(Worker { tx, free, handle }), None),
            Err(sums) => (None, Some(Box::new(sums))),
        };
        Analyzer {
            est,
            batch: Batch::default(),
            worker,
            here,
            key: Vec::new(),
            info: None,
            largest: 0,
        }
    }

    /// The estimator (to change the server before the first key).
    pub fn estimator_mut(&mut self) -> &mut Estimator {
        &mut self.est
    }

    /// Hands the batch over; the summing side's error when it stopped.
    fn send(&mut self) -> std::io::Result<()> {
        if let Some(sums) = &mut self.here {
            sums.add_batch(&self.batch)?;
            self.batch.clear();
            return Ok(());
        }
        let Some(w) = &self.worker else {
            return Err(std::io::Error::other("the analysis stopped"));
        };
        let next = w.free.try_recv().unwrap_or_default();
        let b = std::mem::replace(&mut self.batch, next);
        if w.tx.send(b).is_ok() {
            return Ok(());
        }
        // The summing side stopped: its error says why.
        let w = self.worker.take().expect("worker");
        drop(w.tx);
        match w.handle.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(std::io::Error::other("the analysis stopped")),
        }
    }

    /// The sums, at the end (the per-key callback's error, when it failed).
    pub fn into_report(mut self) -> std::io::Result<Report> {
        self.send()?;
        let mut sums = match (self.here.take(), self.worker.take()) {
            (Some(sums), _) => *sums,
            (None, Some(w)) => {
                drop(w.tx);
                match w.handle.join() {
                    Ok(r) => r?,
                    Err(_) => return Err(std::io::Error::other("the analysis stopped")),
                }
            }
            (None, None) => return Err(std::io::Error::other("the analysis stopped")),
        };
        sums.report.prefixes.flush();
        Ok(sums.report)
    }

    fn record(&mut self, est: Estimate, end: &KeyEnd) -> std::io::Result<()> {
        let Some((db, vt, expire_ms, offset)) = self.info.take() else {
            return Ok(());
        };
        let elements = if vt == ValueType::String {
            1
        } else {
            end.elements
        };
        if elements == 0 && vt != ValueType::Stream && vt != ValueType::Module {
            self.batch.empty += 1;
            return Ok(());
        }
        self.batch.keys.extend_from_slice(&self.key);
        self.batch.recs.push(Rec {
            db,
            key_end: self.batch.keys.len(),
            value_type: vt,
            encoding: est.encoding,
            expire_ms,
            elements,
            rdb_bytes: end.offset.saturating_sub(offset),
            memory: est.memory,
            largest_element: self.largest,
        });
        if self.batch.recs.len() >= BATCH || self.batch.keys.len() >= 1 << 20 {
            self.send()?;
        }
        Ok(())
    }
}

impl Sink for Analyzer {
    type Error = std::io::Error;

    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Self::Error> {
        self.key.clear();
        info.key.append_to(&mut self.key);
        self.info = Some((info.db, info.value_type, info.expire_ms, info.offset));
        self.largest = info.max_element.unwrap_or(0);
        self.est.key_start(info);
        Ok(())
    }
    fn element(&mut self, v: Str<'_>) -> Result<(), Self::Error> {
        self.largest = self.largest.max(v.len() as u64);
        self.est.element(v);
        Ok(())
    }
    fn string_part(
        &mut self,
        _: &[u8],
        total: u64,
        first: bool,
        _: bool,
    ) -> Result<(), Self::Error> {
        self.largest = total;
        self.est.string_part(total, first);
        Ok(())
    }
    fn string_skipped(&mut self, len: u64) -> Result<(), Self::Error> {
        self.largest = len;
        self.est.string_part(len, true);
        Ok(())
    }
    fn node(&mut self, node: &NodeInfo) -> Result<(), Self::Error> {
        self.largest = self.largest.max(node.max_element.unwrap_or(0));
        self.est.node(node);
        Ok(())
    }
    fn zmember(&mut self, m: Str<'_>, score: f64) -> Result<(), Self::Error> {
        self.largest = self.largest.max(m.len() as u64);
        self.est.zmember(m, score);
        Ok(())
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) -> Result<(), Self::Error> {
        self.largest = self.largest.max(f.len() as u64).max(v.len() as u64);
        self.est.hash_field(f, v, ttl);
        Ok(())
    }
    fn stream_entry(&mut self, _: StreamId, _: u64) -> Result<(), Self::Error> {
        self.est.stream_entry();
        Ok(())
    }
    fn stream_field(&mut self, n: Str<'_>, v: Str<'_>) -> Result<(), Self::Error> {
        self.largest = self.largest.max(n.len() as u64).max(v.len() as u64);
        self.est.stream_field(n, v);
        Ok(())
    }
    fn stream_group(
        &mut self,
        _: Str<'_>,
        _: StreamId,
        _: Option<u64>,
        _: u64,
    ) -> Result<(), Self::Error> {
        self.est.stream_group();
        Ok(())
    }
    fn stream_pending(&mut self, id: StreamId, _: i64, _: u64) -> Result<(), Self::Error> {
        self.est.stream_pending(id);
        Ok(())
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        _: i64,
        _: Option<i64>,
        _: u64,
    ) -> Result<(), Self::Error> {
        self.est.stream_consumer(name.len() as u64);
        Ok(())
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), Self::Error> {
        self.est.stream_consumer_pending(id);
        Ok(())
    }
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
        let est = self.est.key_end();
        self.record(est, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(m: u64) -> PrefixStats {
        PrefixStats {
            keys: 1,
            memory: m,
            keys_without_ttl: 1,
        }
    }

    #[test]
    fn prefixes_sum_each_level() {
        let mut t = PrefixTree::new(b":", 2, 100);
        t.add(b"user:1:name", &stats(10));
        t.add(b"user:2:name", &stats(20));
        t.add(b"session:x", &stats(5));
        t.add(b"plain", &stats(7));
        t.flush();
        let p: HashMap<_, _> = t.prefixes().into_iter().collect();
        assert_eq!(p[&b"user:"[..]].memory, 30);
        assert_eq!(p[&b"user:1:"[..]].memory, 10);
        assert_eq!(p[&b"session:"[..]].keys, 1);
        assert_eq!(t.unprefixed.memory, 7);
        assert_eq!(t.parent_of(b"user:1:"), b"user:");
        assert_eq!(t.parent_of(b"user:"), b"");
    }

    #[test]
    fn folding_keeps_totals() {
        let mut t = PrefixTree::new(b":", 2, 16);
        let mut total = 0;
        for i in 0..1000u64 {
            let k = format!("p{}:{}:x", i % 7, i);
            t.add(k.as_bytes(), &stats(i));
            total += i;
        }
        t.flush();
        assert!(t.folded > 0);
        assert!(t.nodes.len() <= 16 + 2, "{}", t.nodes.len());
        // Every key is under one top-level prefix, held or folded into the top's "other".
        let top: u64 = t
            .prefixes()
            .iter()
            .filter(|(k, _)| t.parent_of(k).is_empty())
            .map(|(_, s)| s.memory)
            .sum::<u64>()
            + t.other(b"").map_or(0, |s| s.memory);
        assert_eq!(top, total);
    }

    #[test]
    fn top_keeps_the_largest() {
        let mut top = Top::new(3);
        for (i, m) in [5u64, 1, 9, 3, 9, 7].iter().enumerate() {
            let r = KeyRecord {
                db: 0,
                key: b"k",
                value_type: ValueType::String,
                encoding: "raw",
                expire_ms: None,
                elements: 1,
                rdb_bytes: 1,
                memory: *m,
                largest_element: 1,
            };
            top.offer(*m, i as u64, &r);
        }
        let v: Vec<(u64, u64)> = top.sorted().iter().map(|k| (k.value, k.seq.0)).collect();
        assert_eq!(v, [(9, 2), (9, 4), (7, 5)]);
    }
}
