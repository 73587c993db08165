//! Duplicate keys in one database, found in bounded memory.
//!
//! A server refuses a file that holds the same key twice in one database (a master stops at
//! load with "Duplicate key found in RDB file"), and nothing in the format prevents it. A
//! [`KeySet`] remembers a 128-bit fingerprint of every `(database, key)` it is given, with the
//! offset of the key's record. Up to a memory budget the fingerprints live in a hash table and a
//! duplicate is named the moment it is seen; past the budget (or from the start, when the input
//! states more keys than the budget holds: [`KeySet::expect`]) they go to one unlinked temporary
//! file in 256 partitions by fingerprint (each written in chunks of 32 KiB), and
//! [`KeySet::finish`] reads one partition at a time to find the rest. The fingerprints are
//! keyed with seeds drawn at random for each run, so a forged file cannot aim for collisions;
//! two distinct keys share a fingerprint with a chance of about n² / 2¹²⁹ (10⁻²¹ for a billion
//! keys) in memory, n² / 2⁸⁹ (10⁻⁹) once spilled: a spilled record keeps 88 of its bits (80
//! written, 8 in its partition).

use crate::blob::Fingerprints;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::PathBuf;

/// Fingerprints held in memory before they are spilled: 900,000 entries fill a table of 2^20
/// slots, about 34 MiB.
pub const DEFAULT_BUDGET: usize = 900_000;

/// Keys handed to the background thread at a time.
const BATCH: usize = 4096;

/// Partitions of the spill: one partition is sorted in memory at a time.
const PARTITIONS: usize = 256;

/// Bytes of one spilled record: 80 bits of the fingerprint (10; its partition holds 8 more)
/// and the offset (7: 56 bits, what `merge` needs for an offset of up to 256 TiB tagged with
/// the number of its input).
const RECORD: usize = 17;

/// Bytes of a partition's buffer, written to the file as one chunk when full.
const CHUNK: usize = 32 << 10;

/// The offsets a spilled record can hold.
const MAX_OFFSET: u64 = (1 << 56) - 1;

/// A duplicate key: the offset of its second record, and of the first when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Offset of the record of the repeated key (the later one).
    pub offset: u64,
    /// Offset of the earlier record of the same key.
    pub first_offset: u64,
    /// The database and key, when the duplicate was seen while the key was at hand (before
    /// any spill); `None` when it was found among spilled fingerprints.
    pub key: Option<(u64, Vec<u8>)>,
}

/// The duplicate keys of a file.
#[derive(Debug, Default)]
pub struct Duplicates {
    /// Every repeated record counted (a key present three times counts 2).
    pub count: u64,
    /// The first ones found, at most `keep` (see [`KeySet::new`]), in the order found.
    pub first: Vec<Duplicate>,
}

impl Duplicates {
    /// The error a server gives such a file, at the offset of the first repeated record;
    /// `None` when no key repeats.
    pub fn error(&self) -> Option<crate::Error> {
        let d = self.first.first()?;
        let what = match &d.key {
            Some((db, key)) => format!("key {} of db {db}", crate::escape(key)),
            None => "the key of this record".to_string(),
        };
        let more = match self.count {
            1 => String::new(),
            n => format!("; {n} repeated keys in all"),
        };
        Some(crate::Error::corrupt(
            d.offset,
            format!(
                "{what} repeats the key of the record at offset {} in the same database: a \
                 server refuses the file (\"Duplicate key found in RDB file\"){more}",
                d.first_offset
            ),
        ))
    }
}

/// The set of `(database, key)` pairs seen so far; see the module documentation.
pub struct KeySet {
    fp: Fingerprints,
    mem: HashMap<u128, u64, Identity>,
    budget: usize,
    dir: Option<PathBuf>,
    spill: Option<Spill>,
    found: Duplicates,
    keep: usize,
}

impl KeySet {
    /// A set that holds `budget` fingerprints in memory before spilling to unlinked files in
    /// `dir` (the system's temporary directory when `None`), and lists the first `keep`
    /// duplicates.
    pub fn new(budget: usize, dir: Option<PathBuf>, keep: usize) -> KeySet {
        KeySet {
            fp: Fingerprints::random(),
            mem: HashMap::with_hasher(Identity),
            budget: budget.max(1),
            dir,
            spill: None,
            found: Duplicates::default(),
            keep,
        }
    }

    /// Adds the key of the record at `offset`; returns whether it is known at once to repeat
    /// an earlier key (a repeat found only by [`KeySet::finish`] returns `false` here).
    pub fn insert(&mut self, db: u64, key: &[u8], offset: u64) -> io::Result<bool> {
        let fp = self.fp.of(db, key);
        if let Some(spill) = &mut self.spill {
            spill.push(fp, offset)?;
            return Ok(false);
        }
        if let Some(&first) = self.mem.get(&fp) {
            self.note(Duplicate {
                offset,
                first_offset: first,
                key: Some((db, key.to_vec())),
            });
            return Ok(true);
        }
        self.mem.insert(fp, offset);
        if self.mem.len() >= self.budget {
            self.start_spill()?;
        }
        Ok(false)
    }

    /// Takes a count of keys the input says follow (a RESIZEDB hint). When they would not
    /// all fit the budget, the set spills now, while its table is small, instead of filling the
    /// table first and then moving it: the keys of such an input go to the spill anyway. The
    /// count only chooses which of the two ways does the same work: nothing is sized from it,
    /// and a false one misses no repeat (repeats among spilled keys are named by offset only).
    pub fn expect(&mut self, more: u64) -> io::Result<()> {
        let room = self.budget.saturating_sub(self.mem.len()) as u64;
        if self.spill.is_none() && more > room {
            return self.start_spill();
        }
        Ok(())
    }

    fn note(&mut self, d: Duplicate) {
        self.found.count += 1;
        if self.found.first.len() < self.keep {
            self.found.first.push(d);
        }
    }

    /// Moves the table to the spill file, and sends every later key there.
    fn start_spill(&mut self) -> io::Result<()> {
        let mut spill = Spill {
            file: crate::scratch::unlinked_file(self.dir.as_ref(), "keys")?,
            end: 0,
            bufs: vec![Vec::new(); PARTITIONS],
            chunks: vec![Vec::new(); PARTITIONS],
        };
        // The table holds no fingerprint twice: its order does not matter, only that it goes
        // before every later key.
        for (fp, offset) in std::mem::take(&mut self.mem) {
            spill.push(fp, offset)?;
        }
        self.spill = Some(spill);
        Ok(())
    }

    /// The duplicates: those seen at once, then those among the spilled fingerprints (one
    /// partition at a time, on two threads).
    pub fn finish(mut self) -> io::Result<Duplicates> {
        let Some(mut spill) = self.spill.take() else {
            return Ok(self.found);
        };
        spill.flush_all()?;
        let keep = self.keep;
        let spill = &spill;
        let odd = || spill.repeats((1..PARTITIONS).step_by(2), keep);
        let (a, b) = std::thread::scope(|s| {
            let a = std::thread::Builder::new()
                .name("duplicate-keys".into())
                .spawn_scoped(s, odd);
            let b = spill.repeats((0..PARTITIONS).step_by(2), keep);
            // No second thread: the odd partitions after the even ones.
            let a = a.map_or_else(|_| Ok(odd()), |a| a.join());
            (a, b)
        });
        let a = a.map_err(|_| io::Error::other("the duplicate-key check stopped"))??;
        let b = b?;
        let mut later = a.1;
        later.extend(b.1);
        // In file order, as a reader expects them.
        later.sort_by_key(|d| d.offset);
        later.truncate(keep.saturating_sub(self.found.first.len()));
        self.found.count += a.0 + b.0;
        self.found.first.extend(later);
        Ok(self.found)
    }
}

/// The spilled fingerprints: one unlinked file of chunks, each chunk of one partition.
struct Spill {
    file: File,
    /// Bytes written to the file.
    end: u64,
    /// Per partition: records not yet written.
    bufs: Vec<Vec<u8>>,
    /// Per partition: where its chunks are in the file, and their lengths.
    chunks: Vec<Vec<(u64, u32)>>,
}

impl Spill {
    fn push(&mut self, fp: u128, offset: u64) -> io::Result<()> {
        if offset > MAX_OFFSET {
            return Err(io::Error::other(
                "a key's offset is past 2^56: too far for the duplicate-key check",
            ));
        }
        let p = (fp >> 120) as usize % PARTITIONS;
        let buf = &mut self.bufs[p];
        if buf.capacity() == 0 {
            buf.reserve_exact(CHUNK);
        }
        buf.extend_from_slice(&fp.to_le_bytes()[..10]);
        buf.extend_from_slice(&offset.to_le_bytes()[..7]);
        if buf.len() + RECORD > CHUNK {
            self.flush(p)?;
        }
        Ok(())
    }

    fn flush(&mut self, p: usize) -> io::Result<()> {
        let buf = &mut self.bufs[p];
        if buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(buf)?;
        self.chunks[p].push((self.end, buf.len() as u32));
        self.end += buf.len() as u64;
        buf.clear();
        Ok(())
    }

    fn flush_all(&mut self) -> io::Result<()> {
        for p in 0..PARTITIONS {
            self.flush(p)?;
            self.bufs[p] = Vec::new();
        }
        Ok(())
    }

    /// The repeats among the records of `parts` (a repeat is always within one partition):
    /// how many, and the `keep` first in file order. A partition's records are in file
    /// order, so the first record of a fingerprint is its first occurrence; one partition's
    /// table at a time is held.
    fn repeats(
        &self,
        parts: impl Iterator<Item = usize>,
        keep: usize,
    ) -> io::Result<(u64, Vec<Duplicate>)> {
        let mut count = 0;
        let mut first: Vec<Duplicate> = Vec::new();
        let mut seen: HashMap<u128, u64, Identity> = HashMap::with_hasher(Identity);
        let mut chunk = vec![0u8; CHUNK];
        for p in parts {
            let n: u64 = self.chunks[p].iter().map(|c| u64::from(c.1)).sum();
            let n = usize::try_from(n / RECORD as u64)
                .map_err(|_| io::Error::other("a partition larger than memory"))?;
            seen.clear();
            seen.reserve(n);
            for &(at, len) in &self.chunks[p] {
                let c = &mut chunk[..len as usize];
                read_exact_at(&self.file, c, at)?;
                for r in c.chunks_exact(RECORD) {
                    let mut fp = [0u8; 16];
                    fp[..10].copy_from_slice(&r[..10]);
                    // The low bits, uniform, go where the table looks.
                    let fp = u128::from_le_bytes(fp);
                    let mut o = [0u8; 8];
                    o[..7].copy_from_slice(&r[10..]);
                    let at = u64::from_le_bytes(o);
                    match seen.entry(fp) {
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(at);
                        }
                        std::collections::hash_map::Entry::Occupied(o) => {
                            count += 1;
                            first.push(Duplicate {
                                offset: at,
                                first_offset: *o.get(),
                                key: None,
                            });
                            // Bounded: a forged file can repeat a key a billion times.
                            if first.len() > 2 * keep.max(1) {
                                first.sort_by_key(|d| d.offset);
                                first.truncate(keep);
                            }
                        }
                    }
                }
            }
        }
        Ok((count, first))
    }
}

/// Reads `buf.len()` bytes at `at` without moving a cursor (two threads read at once).
fn read_exact_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, at)
}

/// Keys on their way to the thread: `(db, offset, end of the key in `bytes`)`, and the keys
/// the input said follow (see [`KeySet::expect`]), taken before these.
#[derive(Default)]
struct Batch {
    keys: Vec<(u64, u64, usize)>,
    bytes: Vec<u8>,
    expect: u64,
}

/// A [`KeySet`] on its own thread: [`Background::insert`] only copies the key into a batch,
/// so finding duplicates costs the reading thread almost nothing on a machine with a second
/// core. When no thread can be started, the set is filled on the caller's thread.
pub struct Background {
    batch: Batch,
    tx: Option<std::sync::mpsc::SyncSender<Batch>>,
    worker: Option<std::thread::JoinHandle<io::Result<Duplicates>>>,
    /// The set kept on this thread (no other could be started), and its first error.
    here: Option<(KeySet, Option<io::Error>)>,
}

impl Background {
    /// Starts `set` on a thread of its own.
    pub fn start(set: KeySet) -> Background {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
        let started = crate::threads::spawn_or_keep("duplicate-keys", set, move |mut set| {
            // After an error the batches are still taken (the sender must not block).
            let mut failed = None;
            for b in rx {
                if failed.is_none() {
                    failed = add(&mut set, &b).err();
                }
            }
            match failed {
                Some(e) => Err(e),
                None => set.finish(),
            }
        });
        let (worker, here) = match started {
            Ok(w) => (Some(w), None),
            Err(set) => (None, Some((set, None))),
        };
        Background {
            batch: Batch::default(),
            tx: Some(tx),
            worker,
            here,
        }
    }

    /// Adds the key of the record at `offset`.
    #[inline]
    pub fn insert(&mut self, db: u64, key: &[u8], offset: u64) {
        self.batch.bytes.extend_from_slice(key);
        self.batch.keys.push((db, offset, self.batch.bytes.len()));
        if self.batch.keys.len() >= BATCH {
            self.send();
        }
    }

    /// Passes on a count of keys the input says follow (see [`KeySet::expect`]).
    pub fn expect(&mut self, more: u64) {
        self.batch.expect = self.batch.expect.saturating_add(more);
    }

    fn send(&mut self) {
        let b = std::mem::take(&mut self.batch);
        if let Some((set, failed)) = &mut self.here {
            if failed.is_none() {
                *failed = add(set, &b).err();
            }
        } else if let Some(tx) = &self.tx {
            // A closed channel means the thread ended: finish() reports why.
            let _ = tx.send(b);
        }
    }

    /// Waits for the thread and returns the duplicates (see [`KeySet::finish`]).
    pub fn finish(mut self) -> io::Result<Duplicates> {
        self.send();
        drop(self.tx.take());
        if let Some((set, failed)) = self.here.take() {
            return match failed {
                Some(e) => Err(e),
                None => set.finish(),
            };
        }
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the duplicate-key check stopped")),
        }
    }
}

/// Adds the keys of `b` to `set`.
fn add(set: &mut KeySet, b: &Batch) -> io::Result<()> {
    if b.expect > 0 {
        set.expect(b.expect)?;
    }
    let mut start = 0;
    for &(db, offset, end) in &b.keys {
        set.insert(db, &b.bytes[start..end], offset)?;
        start = end;
    }
    Ok(())
}

/// The fingerprints are uniform already: the table uses their low bits as they are.
#[derive(Clone, Copy, Default)]
struct Identity;

impl BuildHasher for Identity {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (offset, first offset) of each repeat kept.
    fn repeats_at(d: &Duplicates) -> Vec<(u64, u64)> {
        d.first.iter().map(|d| (d.offset, d.first_offset)).collect()
    }

    fn keys(set: &mut KeySet, list: &[(u64, &str)]) -> Vec<bool> {
        list.iter()
            .enumerate()
            .map(|(i, (db, k))| set.insert(*db, k.as_bytes(), i as u64 * 10).unwrap())
            .collect()
    }

    #[test]
    fn a_repeat_in_the_same_database_is_named_at_once() {
        let mut s = KeySet::new(DEFAULT_BUDGET, None, 10);
        let seen = keys(&mut s, &[(0, "a"), (1, "a"), (0, "b"), (0, "a"), (0, "a")]);
        assert_eq!(seen, [false, false, false, true, true]);
        let d = s.finish().unwrap();
        assert_eq!(d.count, 2);
        assert_eq!(d.first[0].offset, 30);
        assert_eq!(d.first[0].first_offset, 0);
        assert_eq!(d.first[0].key, Some((0, b"a".to_vec())));
        let e = d.error().unwrap();
        assert_eq!(e.offset(), 30);
        assert!(
            e.to_string()
                .contains("key \"a\" of db 0 repeats the key of the record at offset 0"),
            "{e}"
        );
        assert!(e.to_string().contains("2 repeated keys in all"), "{e}");
        assert!(Duplicates::default().error().is_none());
    }

    #[test]
    fn repeats_across_the_spill_are_found_in_file_order() {
        // A budget of 100: 10,000 keys spill; 3 repeats, one of a key from before the spill.
        let mut s = KeySet::new(100, None, 10);
        for i in 0..10_000u64 {
            assert!(!s.insert(i % 3, format!("k{i}").as_bytes(), i).unwrap());
        }
        s.insert(0, b"k9", 20_000).unwrap();
        s.insert(2, b"k9998", 20_001).unwrap();
        s.insert(1, b"k9998", 20_002).unwrap(); // k9998 is in db 9998 % 3 = 2: new here
        s.insert(0, b"k0", 20_003).unwrap();
        let d = s.finish().unwrap();
        assert_eq!(d.count, 3);
        assert_eq!(repeats_at(&d), [(20_000, 9), (20_001, 9998), (20_003, 0)]);
        assert!(d.first.iter().all(|d| d.key.is_none()));
    }

    #[test]
    fn spilled_offsets_keep_56_bits() {
        // As merge tags them: the input's number above 48 bits of offset.
        let tag = |input: u64, at: u64| (input << 48) | at;
        let mut s = KeySet::new(10, None, 10);
        for i in 0..1000u64 {
            s.insert(0, format!("k{i}").as_bytes(), tag(1, i)).unwrap();
        }
        s.insert(0, b"k500", tag(255, (1 << 48) - 1)).unwrap();
        let d = s.finish().unwrap();
        assert_eq!(d.count, 1);
        assert_eq!(d.first[0].offset, tag(255, (1 << 48) - 1));
        assert_eq!(d.first[0].first_offset, tag(1, 500));
        let mut s = KeySet::new(1, None, 10);
        s.insert(0, b"a", 0).unwrap();
        assert!(s.insert(0, b"b", 1 << 56).is_err());
    }

    #[test]
    fn the_background_set_finds_what_the_set_finds() {
        let mut b = Background::start(KeySet::new(1000, None, 10));
        for i in 0..20_000u64 {
            b.insert(i % 2, format!("k{}", i / 2).as_bytes(), i);
        }
        b.insert(1, b"k7", 30_000);
        b.insert(0, b"k2", 30_001);
        let d = b.finish().unwrap();
        assert_eq!(d.count, 2);
        assert_eq!(repeats_at(&d), [(30_000, 15), (30_001, 4)]);
    }

    #[test]
    fn a_count_past_the_budget_spills_at_once_and_misses_no_repeat() {
        for stated in [1_000, u64::MAX] {
            let mut s = KeySet::new(100, None, 10);
            s.insert(0, b"before", 1).unwrap();
            s.expect(stated).unwrap();
            assert!(s.spill.is_some() && s.mem.is_empty(), "spilled at once");
            for i in 0..50u64 {
                assert!(!s.insert(0, format!("k{i}").as_bytes(), 10 + i).unwrap());
            }
            s.insert(0, b"k7", 500).unwrap();
            s.insert(0, b"before", 501).unwrap();
            let d = s.finish().unwrap();
            assert_eq!(d.count, 2);
            assert_eq!(repeats_at(&d), [(500, 17), (501, 1)]);
        }
    }

    #[test]
    fn a_count_within_the_budget_keeps_the_table_and_its_names() {
        let mut s = KeySet::new(100, None, 10);
        s.expect(60).unwrap();
        s.expect(40).unwrap();
        assert!(s.spill.is_none());
        for i in 0..60u64 {
            s.insert(0, format!("k{i}").as_bytes(), i).unwrap();
        }
        assert!(s.insert(0, b"k3", 99).unwrap(), "named at once");
        // Past what was stated, the set still spills at its budget.
        for i in 60..300u64 {
            s.insert(0, format!("k{i}").as_bytes(), i).unwrap();
        }
        assert!(s.spill.is_some());
        s.expect(1 << 40).unwrap();
        let d = s.finish().unwrap();
        assert_eq!(d.count, 1);
        assert_eq!(d.first[0].key, Some((0, b"k3".to_vec())));
    }

    #[test]
    fn the_background_set_takes_counts_before_its_keys() {
        let mut b = Background::start(KeySet::new(1000, None, 10));
        b.expect(1 << 62);
        b.expect(1 << 62);
        // Fewer keys than the budget: without the counts, the table would have named it.
        for i in 0..500u64 {
            b.insert(0, format!("k{i}").as_bytes(), i);
        }
        b.insert(0, b"k499", 9999);
        let d = b.finish().unwrap();
        assert_eq!(d.count, 1);
        assert_eq!(d.first[0].offset, 9999);
        assert_eq!(d.first[0].first_offset, 499);
        assert_eq!(
            d.first[0].key, None,
            "found in the spill, begun at the count"
        );
    }

    #[test]
    fn many_repeats_are_counted_and_a_few_kept() {
        let mut s = KeySet::new(50, None, 5);
        for i in 0..1000u64 {
            s.insert(0, b"same", i).unwrap();
        }
        let d = s.finish().unwrap();
        assert_eq!(d.count, 999);
        assert_eq!(d.first.len(), 5);
    }
}
