//! What is intact in a damaged RDB file: the records that parse, around the damage.
//!
//! [`scan`] reads a file from its header on, as [`Parser`] does, and when a record fails it
//! looks for the next offset where records parse again (resynchronisation), so that one bad
//! byte costs one record, not the rest of the file. It writes nothing: its [`Plan`] names the
//! runs of intact records ([`Span`]s, each with the database in force at its start), the byte
//! ranges left out and why, and the records that parsed but are left out all the same.
//!
//! A place to resume at is accepted only when three records in a row parse there with every
//! check (or the records up to the file's EOF opcode and checksum, ending the file), when it
//! does not start with 16 equal bytes, and when none of those records is made of zero bytes
//! alone (a string key "" of value "", what a zeroed page parses as). A first record longer
//! than the window a trial reads (1 MiB) is accepted on that window; if it then fails, the bytes
//! read are counted, and past twice the file's size no such long trial is accepted again: the
//! time stays in proportion to the file, whatever its lengths say.
//!
//! The record just before a damaged place is left out too when its last bytes are not checked
//! by any structure (a plain string, the last element of a plain list, set, hash or sorted set,
//! a stream: their bytes are taken as they are), or when intact records are found inside it
//! (its length was damaged and it swallowed them): the damage may have begun inside it, and a
//! key whose value may be wrong is not guessed at but reported ([`Why::NextToDamage`]).
//! Records made of zero bytes alone are damage. Keys repeated in a database (a duplicated range)
//! keep their first record ([`Why::Duplicate`]).

use crate::dupes::{Background, KeySet, DEFAULT_BUDGET};
use crate::{
    Encoding, Error, ErrorKind, Event, Family, Limits, Parser, ValueType, MAX_REDIS_VERSION,
    MAX_VALKEY_VERSION,
};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// Bytes a trial at a candidate offset reads at most.
const WINDOW: usize = 1 << 20;

/// Records in a row that must parse at a candidate offset (unless the file's end comes first).
const CHAIN: u64 = 3;

/// Repeated keys listed (and left out) at most.
const KEEP_DUPLICATES: usize = 1 << 20;

/// Bytes of a key kept for reports.
const KEY_SHOWN: usize = 256;

/// A run of intact records: `[start, end)`, with database `db` selected at `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Offset of its first record.
    pub start: u64,
    /// Offset just past its last record.
    pub end: u64,
    /// The database in force at `start`.
    pub db: u64,
}

/// A byte range left out.
#[derive(Debug)]
pub struct Skipped {
    /// Its first byte.
    pub start: u64,
    /// Just past its last byte (the file's length when nothing intact follows).
    pub end: u64,
    /// The first error met in it.
    pub error: Error,
    /// The file ends in it: it was cut (the error is a truncation and nothing parses after).
    pub cut: bool,
}

/// Why a record that parsed is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// It comes just before a damaged place and its last bytes are checked by no structure, or
    /// intact records were found inside it: the damage may have begun in it.
    NextToDamage,
    /// Its key repeats the key of an earlier record in the same database (kept).
    Duplicate {
        /// Offset of the earlier record.
        first_offset: u64,
    },
}

/// A record left out though it parsed.
#[derive(Debug, Clone)]
pub struct Dropped {
    /// Offset of the record.
    pub offset: u64,
    /// Its database.
    pub db: u64,
    /// Its key (its first 256 bytes), when it is a key record and the key is known.
    pub key: Option<Vec<u8>>,
    /// Why.
    pub why: Why,
}

/// What the header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// A known version of its family.
    Intact,
    /// A version newer than any known of the family: read as the newest known.
    Newer {
        /// The version stated.
        stated: u32,
    },
    /// Not a header of a known family and version: read as the newest version of the family
    /// it looks most like.
    Damaged {
        /// Its bytes.
        found: Vec<u8>,
    },
}

/// How the file ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// With its EOF opcode, at this offset.
    Eof {
        /// Offset of the EOF opcode.
        at: u64,
        /// The checksum stored (`None` before RDB 5; 0 when the writer disabled it).
        stored: Option<u64>,
        /// The checksum of the file when it was read in one piece (`None` after a
        /// resynchronisation: the pieces do not make the file's checksum).
        computed: Option<u64>,
    },
    /// Without an EOF opcode (cut, or lost in the damage).
    Missing,
}

/// What [`scan`] found.
#[derive(Debug)]
pub struct Plan {
    /// The family read as.
    pub family: Family,
    /// The version read as.
    pub version: u32,
    /// What the header said.
    pub header: Header,
    /// The file's length.
    pub file_len: u64,
    /// The runs of intact records, in file order, disjoint.
    pub spans: Vec<Span>,
    /// The byte ranges left out, in file order.
    pub skipped: Vec<Skipped>,
    /// Records that parsed but are left out, in file order.
    pub dropped: Vec<Dropped>,
    /// Offsets of key records inside the spans that are left out (repeated keys), sorted.
    pub skip_keys: Vec<u64>,
    /// How the file ends.
    pub end: End,
    /// Key records kept (in the spans, less `skip_keys`).
    pub keys: u64,
    /// The highest database selected by a record that parsed.
    pub max_db: u64,
}

impl Plan {
    /// Whether the checksum is known to be wrong: the file was read in one piece, and its
    /// stored checksum (not 0) differs from the computed one.
    pub fn checksum_mismatch(&self) -> bool {
        matches!(self.end, End::Eof { stored: Some(s), computed: Some(c), .. } if s != 0 && s != c)
    }

    /// Whether nothing needed leaving out and nothing is in doubt: a file that loads.
    pub fn is_intact(&self) -> bool {
        self.skipped.is_empty()
            && self.dropped.is_empty()
            && self.header == Header::Intact
            && matches!(self.end, End::Eof { .. })
            && !self.checksum_mismatch()
    }

    /// Bytes in the spans.
    pub fn kept_bytes(&self) -> u64 {
        self.spans.iter().map(|s| s.end - s.start).sum()
    }
}

/// A reader of `file` from `pos` to `end`.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.end - self.pos) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// A parsed record of a run.
#[derive(Debug, Clone)]
struct Rec {
    start: u64,
    end: u64,
    db_before: u64,
    key: Option<(u64, Vec<u8>)>,
    raw_tail: bool,
}

/// How a run of records from one place ended.
enum Stop {
    Eof {
        at: u64,
        stored: Option<u64>,
        computed: u64,
    },
    Error {
        error: Error,
        /// Where the failed record starts.
        at: u64,
    },
}

struct Run {
    records: u64,
    keys: u64,
    last: Option<Rec>,
    db_end: u64,
    stop: Stop,
}

/// What a trial at a candidate offset says.
#[derive(Debug, PartialEq, Eq)]
enum Trial {
    /// Where the first record ends.
    Confirmed(u64),
    /// The window ended before the chain did, with no error.
    Promising,
    Failed,
}

/// Whether a value's last bytes are taken as they are, with no structure that would show
/// damage (see the module documentation).
fn raw_tail(t: ValueType, e: Encoding) -> bool {
    !matches!(
        t,
        ValueType::List | ValueType::Set | ValueType::Zset | ValueType::Hash
    ) || !matches!(
        e,
        Encoding::Ziplist
            | Encoding::Listpack
            | Encoding::ListpackEx
            | Encoding::Intset
            | Encoding::Zipmap
            | Encoding::Quicklist
    )
}

fn limits() -> Limits {
    Limits {
        verify_checksum: false,
        ..Limits::default()
    }
}

/// Reads the header: the family and version to read the file as, and what it said.
fn header(head: &[u8]) -> (Family, u32, Header) {
    let digits = |d: &[u8]| -> Option<u32> {
        (!d.is_empty() && d.iter().all(u8::is_ascii_digit))
            .then(|| d.iter().fold(0u32, |v, c| v * 10 + u32::from(c - b'0')))
    };
    let damaged = || Header::Damaged {
        found: head.to_vec(),
    };
    if head.len() == 9 && &head[..5] == b"REDIS" {
        return match digits(&head[5..]) {
            Some(v) if (1..=MAX_REDIS_VERSION).contains(&v) => (Family::Redis, v, Header::Intact),
            Some(v) if v > MAX_REDIS_VERSION => (
                Family::Redis,
                MAX_REDIS_VERSION,
                Header::Newer { stated: v },
            ),
            _ => (Family::Redis, MAX_REDIS_VERSION, damaged()),
        };
    }
    if head.len() == 9 && &head[..6] == b"VALKEY" {
        return match digits(&head[6..]) {
            Some(v) if (80..=MAX_VALKEY_VERSION).contains(&v) => {
                (Family::Valkey, v, Header::Intact)
            }
            Some(v) if v > MAX_VALKEY_VERSION => (
                Family::Valkey,
                MAX_VALKEY_VERSION,
                Header::Newer { stated: v },
            ),
            _ => (Family::Valkey, MAX_VALKEY_VERSION, damaged()),
        };
    }
    // The family it looks most like.
    let like = |m: &[u8]| m.iter().zip(head).filter(|(a, b)| a == b).count();
    if like(b"VALKEY") > like(b"REDIS") {
        (Family::Valkey, MAX_VALKEY_VERSION, damaged())
    } else {
        (Family::Redis, MAX_REDIS_VERSION, damaged())
    }
}

struct Scanner<'a> {
    file: &'a File,
    len: u64,
    family: Family,
    version: u32,
    keys: Background,
    /// Bytes read by long trials that turned out wrong.
    wasted: u64,
    win: Vec<u8>,
    win_start: u64,
    key: Vec<u8>,
    max_db: u64,
}

/// Finds the intact records of `file` (see the module documentation). Memory stays within
/// [`Limits`] and the duplicate check's budget, whatever the file; time is in proportion to
/// its length.
pub fn scan(file: &File) -> io::Result<Plan> {
    let len = file.metadata()?.len();
    let mut head = vec![0u8; 9.min(len) as usize];
    file.read_exact_at(&mut head, 0)?;
    let (family, version, said) = header(&head);
    let mut s = Scanner {
        file,
        len,
        family,
        version,
        keys: Background::start(KeySet::new(DEFAULT_BUDGET, None, KEEP_DUPLICATES)),
        wasted: 0,
        win: Vec::new(),
        win_start: 0,
        key: Vec::new(),
        max_db: 0,
    };
    let mut plan = Plan {
        family,
        version,
        header: said,
        file_len: len,
        spans: Vec::new(),
        skipped: Vec::new(),
        dropped: Vec::new(),
        skip_keys: Vec::new(),
        end: End::Missing,
        keys: 0,
        max_db: 0,
    };
    s.run(&mut plan)?;
    plan.max_db = s.max_db;
    // Repeated keys: of the records of one key, the first one kept stays (a record left out
    // next to damage does not count: a later intact copy is kept instead).
    let dupes = s.keys.finish()?;
    if dupes.count > dupes.first.len() as u64 {
        return Err(io::Error::other(format!(
            "{} repeated keys: more than the {KEEP_DUPLICATES} that can be left out",
            dupes.count
        )));
    }
    let gone: std::collections::HashSet<u64> = plan.dropped.iter().map(|d| d.offset).collect();
    let mut by_first: std::collections::HashMap<u64, Vec<crate::dupes::Duplicate>> =
        std::collections::HashMap::new();
    for d in dupes.first {
        by_first.entry(d.first_offset).or_default().push(d);
    }
    for (first, mut later) in by_first {
        later.sort_by_key(|d| d.offset);
        let mut kept = (!gone.contains(&first)).then_some(first);
        for d in later {
            if gone.contains(&d.offset) {
                continue;
            }
            let Some(k) = kept else {
                kept = Some(d.offset);
                continue;
            };
            plan.skip_keys.push(d.offset);
            let (db, key) = match d.key {
                Some((db, k)) => (db, Some(k.into_iter().take(KEY_SHOWN).collect())),
                None => (0, None),
            };
            plan.dropped.push(Dropped {
                offset: d.offset,
                db,
                key,
                why: Why::Duplicate { first_offset: k },
            });
        }
    }
    plan.skip_keys.sort_unstable();
    plan.keys -= plan.skip_keys.len() as u64;
    plan.dropped.sort_by_key(|d| d.offset);
    Ok(plan)
}

impl Scanner<'_> {
    fn run(&mut self, plan: &mut Plan) -> io::Result<()> {
        let mut pos = 9.min(self.len);
        let mut db = 0;
        let mut tentative = false;
        let mut whole = true;
        // The skipped range being extended (from a failed tentative resumption).
        let mut open: Option<Skipped> = None;
        loop {
            let run = self.parse_run(pos, db);
            match run.stop {
                Stop::Eof {
                    at,
                    stored,
                    computed,
                } => {
                    if let Some(s) = open.take() {
                        plan.skipped.push(s);
                    }
                    self.push_span(plan, pos, at, db, run.keys);
                    plan.end = End::Eof {
                        at,
                        stored,
                        computed: whole.then_some(computed),
                    };
                    return Ok(());
                }
                Stop::Error { error, at } => {
                    whole = false;
                    if tentative && run.records == 0 {
                        // A long first record that did not hold: not a place to resume at.
                        self.wasted += error.offset().saturating_sub(pos);
                        match self.resync(pos + 1, db) {
                            Some((p, confirmed)) => {
                                if let Some(s) = &mut open {
                                    s.end = p;
                                }
                                pos = p;
                                tentative = !confirmed;
                                continue;
                            }
                            None => {
                                if let Some(mut s) = open.take() {
                                    s.end = self.len;
                                    plan.skipped.push(s);
                                }
                                return Ok(());
                            }
                        }
                    }
                    // The record before the failed one, if this run has one.
                    let last = run.last.filter(|r| r.start >= pos);
                    let from = last.as_ref().map_or(at, |r| r.start) + 1;
                    let found = self.resync(from, run.db_end);
                    let mut end = at;
                    let mut db_next = run.db_end;
                    if let Some(r) = &last {
                        let swallowed = found.is_some_and(|(p, _)| p < r.end);
                        // A cut file (nothing parses after) loses nothing before the cut.
                        let cut = found.is_none() && error.is_truncation();
                        if swallowed || (r.raw_tail && !cut) {
                            end = r.start;
                            db_next = r.db_before;
                            plan.dropped.push(Dropped {
                                offset: r.start,
                                db: r.key.as_ref().map_or(r.db_before, |k| k.0),
                                key: r.key.as_ref().map(|k| k.1.clone()),
                                why: Why::NextToDamage,
                            });
                        }
                    }
                    let keys = run.keys
                        - u64::from(end != at && last.as_ref().is_some_and(|r| r.key.is_some()));
                    if let Some(s) = open.take() {
                        plan.skipped.push(s);
                    }
                    self.push_span(plan, pos, end, db, keys);
                    let (p, confirmed) = match found {
                        Some(f) => f,
                        None => {
                            plan.skipped.push(Skipped {
                                start: end,
                                end: self.len,
                                cut: error.is_truncation(),
                                error,
                            });
                            return Ok(());
                        }
                    };
                    let s = Skipped {
                        start: end,
                        end: p,
                        error,
                        cut: false,
                    };
                    if confirmed {
                        plan.skipped.push(s);
                    } else {
                        open = Some(s);
                    }
                    pos = p;
                    db = db_next;
                    tentative = !confirmed;
                }
            }
        }
    }

    /// Adds a span of `keys` key records, if it holds anything.
    fn push_span(&self, plan: &mut Plan, start: u64, end: u64, db: u64, keys: u64) {
        if end > start {
            plan.spans.push(Span { start, end, db });
            plan.keys += keys;
        }
    }

    /// Parses records from `pos` (a record boundary, `db` selected) until the EOF opcode or
    /// the first error.
    fn parse_run(&mut self, pos: u64, db: u64) -> Run {
        let reader = At {
            file: self.file,
            pos,
            end: self.len,
        };
        let mut p = Parser::resume(reader, limits(), self.family, self.version, db, pos);
        p.skip_values(true);
        if pos == 9 {
            // From the header on: the checksum covers it.
            let mut head = [0u8; 9];
            if self.file.read_exact_at(&mut head, 0).is_ok() {
                p.checksum_prefix(&head);
            }
        }
        let mut records = 0u64;
        let mut keys = 0u64;
        let mut last: Option<Rec> = None;
        let mut prev_end = pos;
        let mut db_now = db;
        // The key being read: its record's start, database, and whether its tail is raw.
        let mut current: Option<(u64, u64, bool, ValueType)> = None;
        loop {
            let ev = match p.next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => {
                    // After EOF only; not reached.
                    let at = p.offset();
                    return Run {
                        records,
                        keys,
                        last,
                        db_end: db_now,
                        stop: Stop::Error {
                            error: Error::new(at, ErrorKind::UnexpectedEof { what: "record" }),
                            at,
                        },
                    };
                }
                Err(error) => {
                    let at = p.last_good_offset().max(prev_end);
                    return Run {
                        records,
                        keys,
                        last,
                        db_end: db_now,
                        stop: Stop::Error { error, at },
                    };
                }
            };
            let done = match ev {
                Event::KeyStart(info) => {
                    self.key.clear();
                    let mut s = [0u8; 20];
                    self.key.extend_from_slice(info.key.as_bytes(&mut s));
                    current = Some((
                        info.offset,
                        info.db,
                        raw_tail(info.value_type, info.encoding),
                        info.value_type,
                    ));
                    false
                }
                Event::KeyEnd => {
                    let (start, kdb, raw, t) = current.take().expect("a key started");
                    let end = p.offset();
                    if end - start == 3 && t == ValueType::String && self.key.is_empty() {
                        // Zero bytes alone: a zeroed page, not a key.
                        return Run {
                            records,
                            keys,
                            last,
                            db_end: db_now,
                            stop: Stop::Error {
                                error: Error::corrupt(
                                    start,
                                    "a record of zero bytes (a string key \"\" of value \"\"): \
                                     a zeroed range",
                                ),
                                at: start,
                            },
                        };
                    }
                    self.keys.insert(kdb, &self.key, start);
                    last = Some(Rec {
                        start,
                        end,
                        db_before: db_now,
                        key: Some((kdb, self.key[..self.key.len().min(KEY_SHOWN)].to_vec())),
                        raw_tail: raw,
                    });
                    prev_end = end;
                    records += 1;
                    keys += 1;
                    true
                }
                Event::Eof {
                    stored_crc,
                    computed_crc,
                } => {
                    return Run {
                        records,
                        keys,
                        last,
                        db_end: db_now,
                        stop: Stop::Eof {
                            at: prev_end,
                            stored: stored_crc,
                            computed: computed_crc,
                        },
                    };
                }
                Event::SelectDb { db } => {
                    let before = db_now;
                    db_now = db;
                    self.max_db = self.max_db.max(db);
                    self.top_record(&mut last, &mut prev_end, &p, before, false);
                    records += 1;
                    true
                }
                Event::Aux { .. } | Event::Function { .. } => {
                    self.top_record(&mut last, &mut prev_end, &p, db_now, true);
                    records += 1;
                    true
                }
                Event::ResizeDb { .. }
                | Event::SlotInfo { .. }
                | Event::ModuleAux { .. }
                | Event::SlotImport { .. } => {
                    self.top_record(&mut last, &mut prev_end, &p, db_now, false);
                    records += 1;
                    true
                }
                _ => false,
            };
            let _ = done;
        }
    }

    fn top_record<R: Read>(
        &self,
        last: &mut Option<Rec>,
        prev_end: &mut u64,
        p: &Parser<R>,
        db_before: u64,
        raw_tail: bool,
    ) {
        let end = p.offset();
        *last = Some(Rec {
            start: *prev_end,
            end,
            db_before,
            key: None,
            raw_tail,
        });
        *prev_end = end;
    }

    /// Makes the window hold `[p, p + WINDOW)` (or up to the file's end).
    fn window(&mut self, p: u64) -> io::Result<()> {
        let win_end = self.win_start + self.win.len() as u64;
        if p >= self.win_start
            && (p + WINDOW as u64 <= win_end || win_end == self.len)
            && p < win_end
        {
            return Ok(());
        }
        let n = (2 * WINDOW as u64).min(self.len - p) as usize;
        self.win.resize(n, 0);
        self.file.read_exact_at(&mut self.win, p)?;
        self.win_start = p;
        Ok(())
    }

    /// The first offset from `from` where records parse again, and whether the chain was
    /// confirmed (else it is a long first record, accepted on its window).
    ///
    /// A place whose first record holds another place where records parse is passed over for
    /// that one: a record found there in damaged bytes may have swallowed intact ones.
    fn resync(&mut self, from: u64, db: u64) -> Option<(u64, bool)> {
        let mut p = from;
        // The place found, and where its first record ends.
        let mut found: Option<(u64, u64)> = None;
        while p < found.map_or(self.len, |(_, end)| end) {
            if self.window(p).is_err() {
                return None;
            }
            let i = (p - self.win_start) as usize;
            let b = self.win[i];
            if plausible_first(b) {
                match self.trial(p, db) {
                    Trial::Confirmed(end) => found = Some((p, end)),
                    Trial::Promising
                        if found.is_none() && self.wasted <= 2 * self.len + (64 << 20) =>
                    {
                        return Some((p, false))
                    }
                    _ => {}
                }
            }
            p += 1;
        }
        found.map(|(p, _)| (p, true))
    }

    /// Parses records at `p` from the window.
    fn trial(&mut self, p: u64, db: u64) -> Trial {
        let i = (p - self.win_start) as usize;
        let slice = &self.win[i..];
        let head = &slice[..slice.len().min(16)];
        if head.len() == 16 && head.iter().all(|&b| b == head[0]) {
            return Trial::Failed;
        }
        let to_file_end = self.win_start + self.win.len() as u64 == self.len;
        let slice = &slice[..slice.len().min(WINDOW)];
        let window_end = p + slice.len() as u64;
        let mut parser = Parser::resume(slice, limits(), self.family, self.version, db, p);
        parser.small_reads();
        parser.skip_values(true);
        let mut records = 0;
        let mut key_start = None;
        let mut key_empty = false;
        let mut first_end = None;
        loop {
            match parser.next_event() {
                Ok(Some(Event::KeyStart(info))) => {
                    key_start = Some((info.offset, info.value_type));
                    key_empty = matches!(info.key, crate::Str::Bytes(k) if k.is_empty());
                }
                Ok(Some(Event::KeyEnd)) => {
                    let (start, t) = key_start.take().unwrap_or((p, ValueType::String));
                    // Zero bytes alone are damage; an empty key is too rare to resume at.
                    if key_empty
                        && (records == 0
                            || (parser.offset() - start == 3 && t == ValueType::String))
                    {
                        return Trial::Failed;
                    }
                    records += 1;
                }
                Ok(Some(Event::SelectDb { db })) => {
                    if db > u64::from(u16::MAX) {
                        return Trial::Failed;
                    }
                    records += 1;
                }
                Ok(Some(
                    Event::Aux { .. }
                    | Event::Function { .. }
                    | Event::ResizeDb { .. }
                    | Event::SlotInfo { .. }
                    | Event::ModuleAux { .. }
                    | Event::SlotImport { .. },
                )) => records += 1,
                Ok(Some(Event::Eof { .. })) => {
                    // The chain ends the file: the EOF opcode and its checksum are the last
                    // bytes.
                    return if to_file_end && parser.offset() == self.len {
                        Trial::Confirmed(first_end.unwrap_or(parser.offset()))
                    } else {
                        Trial::Failed
                    };
                }
                Ok(Some(_)) => {}
                Ok(None) => return Trial::Failed,
                Err(e) => {
                    return if e.is_truncation() && !to_file_end && e.offset() >= window_end {
                        Trial::Promising
                    } else {
                        Trial::Failed
                    };
                }
            }
            if records == 1 && first_end.is_none() {
                first_end = Some(parser.offset());
            }
            if records >= CHAIN {
                return Trial::Confirmed(first_end.unwrap_or(p));
            }
        }
    }
}

/// The reflected CRC-64/Jones polynomial of RDB checksums.
const POLY: u64 = 0x95AC_9329_AC4B_C9B5;

fn crc_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    for (b, slot) in t.iter_mut().enumerate() {
        let mut c = b as u64;
        for _ in 0..8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
        }
        *slot = c;
    }
    t
}

/// One damaged byte that explains a checksum mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneByte {
    /// Its offset in the file.
    pub offset: u64,
    /// The byte the checksum expects there (the file holds another).
    pub expected: u8,
}

/// For a file whose stored checksum `stored` differs from the `computed` checksum of its
/// first `covered` bytes (up to and including the EOF opcode): the one byte whose change
/// explains the difference, when one does. The checksum is linear, so the difference is the
/// checksum of the error alone, which is undone one position at a time from the end (each
/// step inverts a step of the table-driven CRC over a zero byte): time in proportion to
/// `covered`, no read of the file. A difference in the stored checksum itself (one byte of it
/// damaged) is found too. Two or more damaged bytes can mimic one with a chance of about
/// `covered * 255 / 2^64`.
pub fn locate_one_byte(
    file: &File,
    covered: u64,
    stored: u64,
    computed: u64,
) -> io::Result<Option<OneByte>> {
    let diff = stored ^ computed;
    if diff == 0 {
        return Ok(None);
    }
    // The stored checksum with one damaged byte.
    let bytes = diff.to_le_bytes();
    if bytes.iter().filter(|&&b| b != 0).count() == 1 {
        let j = bytes.iter().position(|&b| b != 0).expect("one");
        let mut held = [0u8; 1];
        file.read_exact_at(&mut held, covered + j as u64)?;
        return Ok(Some(OneByte {
            offset: covered + j as u64,
            expected: held[0] ^ bytes[j],
        }));
    }
    let table = crc_table();
    let mut inverse = [0u8; 256];
    for (b, t) in table.iter().enumerate() {
        inverse[(t >> 56) as usize] = b as u8;
    }
    let mut by_value = std::collections::HashMap::with_capacity(255);
    for (e, t) in table.iter().enumerate().skip(1) {
        by_value.insert(*t, e as u8);
    }
    let mut s = diff;
    for k in 0..covered {
        if let Some(&e) = by_value.get(&s) {
            let offset = covered - 1 - k;
            let mut held = [0u8; 1];
            file.read_exact_at(&mut held, offset)?;
            return Ok(Some(OneByte {
                offset,
                expected: held[0] ^ e,
            }));
        }
        // Undo one zero byte: s = (r >> 8) ^ table[r & 0xff] for the r before it.
        let b = inverse[(s >> 56) as usize];
        s = ((s ^ table[b as usize]) << 8) | u64::from(b);
    }
    Ok(None)
}

/// Whether a record can start with byte `b`: an object type or an opcode.
fn plausible_first(b: u8) -> bool {
    b <= 30 || b >= 0xF3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of `n` string keys `k<i>` = `v<i>...`, with a SELECTDB 1 halfway, and the
    /// offsets of each key record.
    fn sample(n: usize) -> (Vec<u8>, Vec<(u64, u64)>) {
        let mut f = b"REDIS0011".to_vec();
        f.extend_from_slice(b"\xfa\x09redis-ver\x067.2.99");
        f.extend_from_slice(b"\xfe\x00");
        let mut recs = Vec::new();
        for i in 0..n {
            if i == n / 2 {
                f.extend_from_slice(b"\xfe\x01");
            }
            let start = f.len() as u64;
            let k = format!("k{i}");
            let v = format!("v{i}-{}", "x".repeat(i % 7));
            f.push(0);
            f.push(k.len() as u8);
            f.extend_from_slice(k.as_bytes());
            f.push(v.len() as u8);
            f.extend_from_slice(v.as_bytes());
            recs.push((start, f.len() as u64));
        }
        f.push(0xff);
        let crc = crate::crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        (f, recs)
    }

    fn file(bytes: &[u8]) -> File {
        let mut f = crate::scratch::unlinked_file(None::<&std::path::PathBuf>, "salvage").unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    /// The keys the plan keeps, by re-reading its spans.
    fn kept(bytes: &[u8], plan: &Plan) -> Vec<(u64, Vec<u8>, u64)> {
        let mut out = Vec::new();
        for s in &plan.spans {
            let slice = &bytes[s.start as usize..s.end as usize];
            let mut p = Parser::resume(slice, limits(), plan.family, plan.version, s.db, s.start);
            loop {
                match p.next_event() {
                    Ok(Some(Event::KeyStart(info))) => {
                        if plan.skip_keys.binary_search(&info.offset).is_err() {
                            let mut sc = [0u8; 20];
                            out.push((info.db, info.key.as_bytes(&mut sc).to_vec(), info.offset));
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.is_truncation() && p.last_good_offset() == s.end, "{e}");
                        break;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn one_damaged_byte_is_found_from_the_checksum() {
        let (intact, recs) = sample(300);
        let covered = intact.len() as u64 - 8;
        for (at, flip) in [
            (recs[7].0 + 4, 0x01u8),
            (recs[200].0 + 5, 0xff),
            (3, 0x20),
            (covered - 1, 0x80),
            (covered + 2, 0x10),
        ] {
            let mut b = intact.clone();
            b[at as usize] ^= flip;
            let stored = u64::from_le_bytes(b[covered as usize..].try_into().unwrap());
            let computed = crate::crc64(&b[..covered as usize]);
            let f = file(&b);
            let found = locate_one_byte(&f, covered, stored, computed).unwrap();
            assert_eq!(
                found,
                Some(OneByte {
                    offset: at,
                    expected: intact[at as usize]
                }),
                "{at}"
            );
        }
        // Two bytes: not explained by one (with near certainty).
        let mut b = intact.clone();
        b[100] ^= 1;
        b[900] ^= 1;
        let stored = u64::from_le_bytes(b[covered as usize..].try_into().unwrap());
        let computed = crate::crc64(&b[..covered as usize]);
        assert_eq!(
            locate_one_byte(&file(&b), covered, stored, computed).unwrap(),
            None
        );
    }

    #[test]
    fn an_intact_file_is_one_span() {
        let (b, recs) = sample(50);
        let plan = scan(&file(&b)).unwrap();
        assert!(plan.is_intact(), "{plan:?}");
        assert_eq!(plan.spans.len(), 1);
        assert_eq!(plan.keys, 50);
        assert_eq!(kept(&b, &plan).len(), recs.len());
    }

    #[test]
    fn a_flipped_type_byte_costs_its_key_and_the_one_before() {
        let (mut b, recs) = sample(50);
        let (at, _) = recs[20];
        b[at as usize] = 0xEE; // not a type nor an opcode
        let plan = scan(&file(&b)).unwrap();
        let keys = kept(&b, &plan);
        let names: Vec<String> = keys
            .iter()
            .map(|k| String::from_utf8_lossy(&k.1).into_owned())
            .collect();
        assert_eq!(keys.len(), 48, "{names:?}");
        assert!(!names.contains(&"k20".to_string()));
        // k19's value is a plain string: the damage could have begun in it.
        assert!(!names.contains(&"k19".to_string()));
        assert_eq!(plan.dropped.len(), 1);
        assert_eq!(plan.dropped[0].why, Why::NextToDamage);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].start, recs[19].0);
        assert_eq!(plan.skipped[0].end, recs[21].0);
        // The database after the damage is the one in force before it, until SELECTDB 1.
        for (db, k, _) in &keys {
            let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            assert_eq!(*db, u64::from(i >= 25), "k{i}");
        }
        assert_eq!(plan.keys, 48);
    }

    #[test]
    fn a_cut_file_keeps_every_key_before_the_cut() {
        let (b, recs) = sample(50);
        let cut = recs[30].0 as usize + 3;
        let plan = scan(&file(&b[..cut])).unwrap();
        let keys = kept(&b[..cut], &plan);
        assert_eq!(keys.len(), 30);
        assert_eq!(plan.end, End::Missing);
        assert!(plan.skipped.last().unwrap().cut);
    }

    #[test]
    fn a_zeroed_range_is_damage_not_keys() {
        let (intact, recs) = sample(200);
        for (a, z) in [(40, 60), (3, 4), (100, 101), (150, 199)] {
            for shift in 0..4 {
                let mut b = intact.clone();
                let (from, to) = (recs[a].0 as usize + shift, recs[z].0 as usize + shift);
                for x in &mut b[from..to] {
                    *x = 0;
                }
                let plan = scan(&file(&b)).unwrap();
                let keys = kept(&b, &plan);
                for (db, k, off) in &keys {
                    assert!(
                        !k.is_empty(),
                        "a key of zeros at {off} in db {db}: {a}-{z}+{shift} {:?} {recs:?}",
                        plan
                    );
                    let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
                    let (s, e) = (recs[i].0 as usize, recs[i].1 as usize);
                    assert_eq!(*off as usize, s);
                    assert_eq!(b[s..e], intact[s..e], "k{i}: a value that differs");
                }
                // Every key clear of the zeros is back but the one just before them.
                let clear = recs
                    .iter()
                    .filter(|(s, e)| *e as usize <= from || *s as usize >= to)
                    .count();
                assert!(
                    keys.len() + 1 >= clear,
                    "{a}-{z}+{shift}: {} of {clear}",
                    keys.len()
                );
            }
        }
    }

    #[test]
    fn a_duplicated_range_keeps_the_first_records() {
        let (b, recs) = sample(50);
        let (from, to) = (recs[10].0 as usize, recs[15].0 as usize);
        let mut d = b[..to].to_vec();
        d.extend_from_slice(&b[from..to]);
        d.extend_from_slice(&b[to..]);
        let plan = scan(&file(&d)).unwrap();
        let keys = kept(&d, &plan);
        assert_eq!(keys.len(), 50);
        assert_eq!(
            plan.dropped
                .iter()
                .filter(|x| matches!(x.why, Why::Duplicate { .. }))
                .count(),
            5
        );
        assert!(!plan.is_intact());
    }

    #[test]
    fn garbage_and_damaged_headers_do_not_panic() {
        let (b, _) = sample(30);
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            let mut d = b.clone();
            for _ in 0..(round % 5 + 1) {
                let i = (next() % d.len() as u64) as usize;
                d[i] = next() as u8;
            }
            if round % 7 == 0 {
                d[3] = b'X';
            }
            let plan = scan(&file(&d)).unwrap();
            let _ = kept(&d, &plan);
            let mut last = 0;
            for s in &plan.spans {
                assert!(s.start >= last && s.end > s.start && s.end <= d.len() as u64);
                last = s.end;
            }
        }
        let noise: Vec<u8> = (0..100_000).map(|_| next() as u8).collect();
        let plan = scan(&file(&noise)).unwrap();
        assert!(plan.keys < 3, "{:?}", plan.spans);
    }
}
