//! What is intact in a damaged RDB file: the records that parse, around the damage.
//!
//! [`scan`] reads a file from its header on, as [`Parser`] does, and when a record fails it
//! looks for the next offset where records parse again (resynchronisation), so that one bad
//! byte costs one record, not the rest of the file. It writes nothing: its [`Plan`] names the
//! runs of intact records ([`Span`]s, each with the database in force at its start), the byte
//! ranges left out and why, and the records that parsed but are left out all the same.
//!
//! When a record fails, the place to resume at is found in this order:
//! 1. inside one of the last few records, when it is a plain string whose length may have been
//!    damaged upwards: eight records in a row that parse from inside it and do not meet its end
//!    (it swallowed them; it and what parsed after it go);
//! 2. where the failed record ends when read by its lengths alone, with its own type byte (or
//!    another, when the byte stored is no type at all), if eight records in a row parse there:
//!    the damage is inside that record;
//! 3. byte by byte from the failed record's start (past a compressed string or a blob it read
//!    whole, whose entries would read as records): three records in a row that parse with every
//!    check, or the records up to the EOF opcode and checksum that end the file.
//!
//! A place is no place to resume at when it starts with 16 equal bytes, or when one of its
//! records is of a type the file's writer does not write, has a key that is not text (bytes of
//! compressed data, listpacks or stream IDs read as records have keys of control bytes), holds a
//! string a server would have written as an integer, is made of zero bytes alone (a string key
//! "" of value "", what a zeroed page parses as), or selects a database out of order or without
//! the RESIZEDB a server writes next; an AUX field or a function after the first key; an empty
//! key first. A first record longer than the window a trial reads (1 MiB) is accepted on that
//! window; if it then fails, the bytes read are counted, and past twice the file's size no such
//! long trial is accepted again: the time stays in proportion to the file, whatever its lengths
//! say. After a cut (a truncation at the file's end), a place counts only when its records go
//! on to the EOF opcode ending the file.
//!
//! Unless the failed record's own lengths led to intact records, the record just before it goes
//! when its last bytes are checked by no structure (a plain string, the last element of a plain
//! collection, a stream): the damage may have begun inside it. And the first record found after
//! it goes unless it starts with its own expiry and a structure checks its value: it may have
//! lost its expiry to the damage, or be made of damaged bytes. A key whose value may be wrong
//! is not guessed at but reported ([`Why::NextToDamage`]). Keys repeated in a database (a
//! duplicated range) keep their first intact record ([`Why::Duplicate`]).
//!
//! What is ambiguous stays so, and is said: in a Redis 7.4 file (RDB 12), the fields of a hash
//! with field TTLs whose header was lost read byte for byte as string records (a TTL of 0, a
//! field, a value). Resuming right after a damaged hash of that type skips string records; a
//! place found byte by byte in such a file gets a note ([`Plan::notes`]).

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

/// Records in a row that must parse inside a string value for it to have swallowed them, or
/// where a damaged record's lengths lead.
const SWALLOWED_CHAIN: u64 = 8;

/// Records before a failed one looked into for intact records they swallowed.
const RECENT: usize = 4;

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
    /// What the reader of the report should know about particular places.
    pub notes: Vec<String>,
    /// When the header was damaged: the RDB version of the server that wrote the file, as the
    /// AUX fields name it or the object types found show it (the lowest version that writes
    /// them all); what to write the salvaged file as.
    pub source_version: Option<u32>,
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

/// A reader of the bytes `[pos, end)` of a file, by position (the file's own offset is left
/// alone): what a parser resumed at a record reads ([`Parser::resume`]).
pub struct FileRange<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> FileRange<'a> {
    /// The bytes `[pos, end)` of `file`.
    pub fn new(file: &'a File, pos: u64, end: u64) -> Self {
        FileRange { file, pos, end }
    }
}

impl Read for FileRange<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.end.saturating_sub(self.pos)) as usize;
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
    /// A key record that starts with its expiry (the first per-key opcode a server writes).
    expiry: bool,
    /// A string value stored as it is (not compressed): bytes a damaged length could have
    /// made it take from the records after. (The elements of a collection read as records
    /// would be found in one.)
    plain_tail: bool,
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
        /// How far its bytes were read, by lengths that held up to the failure: no record
        /// starts before there unless one of those lengths is damaged.
        read: u64,
    },
}

struct Run {
    records: u64,
    keys: u64,
    first: Option<Rec>,
    last: Option<Rec>,
    /// The last few records, oldest first (the last is `last`).
    recent: Vec<Rec>,
    db_end: u64,
    stop: Stop,
}

/// What a trial at a candidate offset says.
#[derive(Debug, PartialEq, Eq)]
enum Trial {
    /// The chain parses: where its first record ends, and whether one of its records ends
    /// at the offset asked about.
    Confirmed {
        first_end: u64,
        aligned: bool,
    },
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

/// The limits the scan reads with: strings and blobs of at most 16 MiB, unless `big` (the
/// parser's own limits): a length damaged upwards then costs no more than that, and a record
/// past it is read again with the full limits when its lengths lead to intact records.
fn limits_for(big: bool) -> Limits {
    Limits {
        verify_checksum: false,
        max_string_len: if big {
            Limits::default().max_string_len
        } else {
            16 << 20
        },
        ..Limits::default()
    }
}

fn limits() -> Limits {
    limits_for(false)
}

/// The RDB version the server named by the file's `redis-ver` / `valkey-ver` AUX field
/// writes, read as `version` of `family` from just past the header.
fn version_from_aux(file: &File, len: u64, family: Family, version: u32) -> Option<u32> {
    let reader = FileRange::new(file, 9.min(len), len.min(1 << 20));
    let mut p = Parser::resume(reader, limits(), family, version, 0, 9);
    p.small_reads();
    let (mut redis, mut valkey) = (None, None);
    while let Ok(Some(ev)) = p.next_event() {
        match ev {
            Event::Aux { key, value } => {
                let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
                let v = String::from_utf8_lossy(value.as_bytes(&mut b)).into_owned();
                match key.as_bytes(&mut a) {
                    b"redis-ver" => redis = Some(v),
                    b"valkey-ver" => valkey = Some(v),
                    _ => {}
                }
            }
            Event::KeyStart(_) | Event::SelectDb { .. } => break,
            _ => {}
        }
    }
    let major_minor = |v: &str| {
        let mut it = v.split('.').map(|x| x.parse::<u32>().ok());
        Some((it.next()??, it.next()??))
    };
    match (valkey, redis) {
        (Some(v), _) => match major_minor(&v)? {
            (m, _) if m >= 9 => Some(80),
            _ => Some(11),
        },
        (None, Some(v)) => Some(match major_minor(&v)? {
            (m, _) if m <= 3 => 7,
            (4, _) => 8,
            (5 | 6, _) => 9,
            (7, 0) => 10,
            (7, 2) => 11,
            _ => 12,
        }),
        _ => None,
    }
}

/// The lowest RDB version whose writer writes every object type of `seen` (a bit each):
/// streams and listpacks date a file.
fn version_of_types(family: Family, seen: u32) -> Option<u32> {
    if family == Family::Valkey {
        return Some(if seen & (1 << 22) != 0 { 80 } else { 11 });
    }
    let has = |t: u32| seen & (1 << t) != 0;
    Some(if has(24) || has(25) {
        12
    } else if has(20) || has(21) {
        11
    } else if has(16) || has(17) || has(18) || has(19) {
        10
    } else if seen != 0 {
        9
    } else {
        return None;
    })
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
    /// Whether the header named the family and version.
    header_read: bool,
    /// The type byte of the record that failed last, while its damage is looked past.
    damaged_type: Option<u8>,
    /// A key record has parsed: AUX fields and functions (which come first) are over.
    keys_seen: bool,
    /// The object types of the key records that parsed, a bit each.
    types_seen: u32,
}

/// Finds the intact records of `file` (see the module documentation). Memory stays within
/// [`Limits`] and the duplicate check's budget, whatever the file; time is in proportion to
/// its length.
pub fn scan(file: &File) -> io::Result<Plan> {
    let len = file.metadata()?.len();
    let mut head = vec![0u8; 9.min(len) as usize];
    file.read_exact_at(&mut head, 0)?;
    let (family, mut version, said) = header(&head);
    let header_read = !matches!(said, Header::Damaged { .. });
    // The version the server named in the AUX fields writes, when they can be read.
    let aux_version = (!header_read)
        .then(|| version_from_aux(file, len, family, version))
        .flatten();
    if let Some(v) = aux_version {
        version = v;
    }
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
        header_read,
        damaged_type: None,
        keys_seen: false,
        types_seen: 0,
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
        source_version: None,
        notes: Vec::new(),
    };
    s.run(&mut plan)?;
    plan.max_db = s.max_db;
    if !header_read {
        plan.source_version = aux_version.or_else(|| version_of_types(family, s.types_seen));
    }
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
        // Resumed at a place found byte by byte: its first record may be made of the damaged
        // record's last bytes, read as a record that ends where a real one starts.
        let mut doubt_first = false;
        let mut big = false;
        loop {
            let mut run = self.parse_run(pos, db, big);
            let was_big = std::mem::replace(&mut big, false);
            if doubt_first {
                // Its bytes may be the damaged record's last ones read as a record, or a key
                // whose expiry was in the damage: kept only when it starts with its expiry and
                // a structure checks its value.
                let doubtful = |f: &Rec| match &f.key {
                    Some(_) => !f.expiry || f.raw_tail,
                    None => f.raw_tail,
                };
                if let Some(f) = run.first.take().filter(|f| doubtful(f) && f.start == pos) {
                    let is_last = run.last.as_ref().is_some_and(|l| l.start == f.start);
                    let ends_run = matches!(run.stop, Stop::Error { at, .. } if at == f.end)
                        || matches!(run.stop, Stop::Eof { at, .. } if at == f.end);
                    if !is_last || ends_run {
                        plan.dropped.push(Dropped {
                            offset: f.start,
                            db: f.key.as_ref().map_or(f.db_before, |k| k.0),
                            key: f.key.as_ref().map(|k| k.1.clone()),
                            why: Why::NextToDamage,
                        });
                        if let Some(s) = open.as_mut().or(plan.skipped.last_mut()) {
                            if s.end == pos {
                                s.end = f.end;
                            }
                        }
                        run.keys -= u64::from(f.key.is_some());
                        if is_last {
                            run.last = None;
                        }
                        pos = f.end;
                    }
                }
            }
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
                Stop::Error { error, at, .. }
                    if !was_big
                        && matches!(error.kind(), ErrorKind::LimitExceeded { .. })
                        && self.framed_end(at, run.db_end).is_some_and(|(_, own)| own) =>
                {
                    // A record longer than the scan reads at first, whose own lengths lead to
                    // intact records: read again from it with the full limits.
                    if let Some(s) = open.take() {
                        plan.skipped.push(s);
                    }
                    self.push_span(plan, pos, at, db, run.keys);
                    pos = at;
                    db = run.db_end;
                    big = true;
                    whole = false;
                    doubt_first = false;
                    continue;
                }
                Stop::Error { error, at, read } => {
                    whole = false;
                    if tentative && run.records == 0 {
                        // A long first record that did not hold: not a place to resume at.
                        self.wasted += error.offset().saturating_sub(pos);
                        match self.resync(pos + 1, db, None) {
                            Some((p, confirmed)) => {
                                if let Some(s) = &mut open {
                                    s.end = p;
                                }
                                pos = p;
                                tentative = !confirmed;
                                doubt_first = true;
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
                    // Records that parse inside one of the last few, not meeting its end: it
                    // swallowed them (its length was damaged), and what parsed after it is
                    // made of bytes after its false end. Only a plain string can swallow others
                    // and still parse; inside a collection or a blob, its own elements read as
                    // records would be found.
                    let mut swallower: Option<(usize, u64)> = None;
                    let recent: Vec<Rec> = run
                        .recent
                        .iter()
                        .filter(|r| r.start >= pos)
                        .cloned()
                        .collect();
                    for (i, r) in recent.iter().enumerate() {
                        if !r.plain_tail {
                            continue;
                        }
                        if let Some(q) = self.resync_within(r.start + 1, r.end, run.db_end) {
                            swallower = Some((i, q));
                            break;
                        }
                    }
                    let inside = swallower.map(|(_, q)| q);
                    // Else the failed record read by its lengths alone (its type byte as
                    // stored, or another): where it ends if only its contents, or its type
                    // byte, are damaged. Then the record before it is whole.
                    let (framed, own_type) = match inside {
                        Some(_) => (None, false),
                        None => match self.framed_end(at, run.db_end) {
                            Some((e, own)) => (Some(e), own),
                            None => (None, false),
                        },
                    };
                    // Cut at the file's end, or a length damaged to pass it: what follows is
                    // records only if they go on to the EOF opcode that ends the file.
                    let at_end = error.is_truncation() && error.offset() >= self.len;
                    let found = match (inside, framed) {
                        (Some(p), _) | (None, Some(p)) => Some((p, true)),
                        // From where the failed record's own lengths took the reading: records
                        // found before would be its own entries read another way.
                        (None, None) => {
                            self.damaged_type = self.type_at(at);
                            let r = self.resync_to(read, run.db_end, None, at_end);
                            self.damaged_type = None;
                            r
                        }
                    };
                    let mut end = at;
                    let mut db_next = run.db_end;
                    let mut lost_keys = 0;
                    // The swallower goes, and every record after it.
                    let last = match swallower {
                        Some((i, _)) => {
                            for r in &recent[i + 1..] {
                                lost_keys += u64::from(r.key.is_some());
                            }
                            Some(recent[i].clone())
                        }
                        None => last,
                    };
                    if let Some(r) = &last {
                        let swallowed = inside.is_some();
                        // A cut file (nothing parses after) loses nothing before the cut.
                        let cut = found.is_none() && error.is_truncation();
                        // Its own type byte frames the failed record up to intact records: the
                        // damage is inside that record, this one is whole. (Another type byte
                        // framing it proves less: the bytes may be anything.)
                        if swallowed || (r.raw_tail && !cut && !own_type) {
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
                        - lost_keys
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
                    if !own_type
                        && inside.is_none()
                        && self.family == Family::Redis
                        && self.version >= 12
                    {
                        plan.notes.push(format!(
                            "the string keys from offset {p} on may be fields of a hash with \
                             field TTLs whose start was in the damaged range {end}..{p}: such \
                             fields read byte for byte as string records"
                        ));
                    }
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
                    // Unless the failed record's own type byte framed it up to intact records,
                    // the first record found may have lost its opcodes (an expiry) to the
                    // damage, or be made of damaged bytes.
                    doubt_first = !own_type;
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
    fn parse_run(&mut self, pos: u64, db: u64, big: bool) -> Run {
        let reader = FileRange::new(self.file, pos, self.len);
        let mut p = Parser::resume(reader, limits_for(big), self.family, self.version, db, pos);
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
        let mut first: Option<Rec> = None;
        let mut last: Option<Rec> = None;
        let mut recent: Vec<Rec> = Vec::new();
        let mut expiry = false;
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
                        first: first.clone(),
                        last,
                        recent: recent.clone(),
                        db_end: db_now,
                        stop: Stop::Error {
                            error: Error::new(at, ErrorKind::UnexpectedEof { what: "record" }),
                            at,
                            read: at + 1,
                        },
                    };
                }
                Err(error) => {
                    let at = p.last_good_offset().max(prev_end);
                    // A string or blob read whole and found wrong inside (a compressed string,
                    // a listpack): past it, where its own entries would read as records.
                    // Otherwise from the record's start: a count or length damaged upwards
                    // makes it take in the records after it.
                    let read = if !error.is_truncation() && p.offset() > error.offset() + 9 {
                        p.offset()
                    } else {
                        at + 1
                    };
                    return Run {
                        records,
                        keys,
                        first: first.clone(),
                        last,
                        recent: recent.clone(),
                        db_end: db_now,
                        stop: Stop::Error { error, at, read },
                    };
                }
            };
            let done = match ev {
                Event::KeyStart(info) if !self.writes(info.rdb_type.0) => {
                    let at = info.offset;
                    let t = info.rdb_type.0;
                    return self.unwritten(
                        records,
                        keys,
                        first,
                        last,
                        &recent,
                        db_now,
                        at,
                        format!(
                            "object type {t}, which no server writing this file's version writes"
                        ),
                    );
                }
                // An AUX field's name is text (a server's own): else these are damaged bytes.
                Event::Aux { key, .. } if !text_like(key) => {
                    let at = prev_end;
                    return self.unwritten(
                        records,
                        keys,
                        first,
                        last,
                        &recent,
                        db_now,
                        at,
                        "an AUX field whose name is not text".to_string(),
                    );
                }
                Event::Function { .. } if !self.writes_functions() => {
                    let at = prev_end;
                    return self.unwritten(
                        records,
                        keys,
                        first,
                        last,
                        &recent,
                        db_now,
                        at,
                        "a function library, which RDB 9 and older do not hold".to_string(),
                    );
                }
                Event::KeyStart(info) => {
                    self.types_seen |= 1 << (info.rdb_type.0 & 31);
                    self.key.clear();
                    let mut s = [0u8; 20];
                    self.key.extend_from_slice(info.key.as_bytes(&mut s));
                    current = Some((
                        info.offset,
                        info.db,
                        raw_tail(info.value_type, info.encoding),
                        info.value_type,
                    ));
                    expiry = info.expire_ms.is_some();
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
                            first: first.clone(),
                            last,
                            recent: recent.clone(),
                            db_end: db_now,
                            stop: Stop::Error {
                                error: Error::corrupt(
                                    start,
                                    "a record of zero bytes (a string key \"\" of value \"\"): \
                                     a zeroed range",
                                ),
                                at: start,
                                read: start + 3,
                            },
                        };
                    }
                    self.keys.insert(kdb, &self.key, start);
                    self.keys_seen = true;
                    last = Some(Rec {
                        start,
                        end,
                        db_before: db_now,
                        key: Some((kdb, self.key[..self.key.len().min(KEY_SHOWN)].to_vec())),
                        raw_tail: raw,
                        expiry,
                        plain_tail: t == ValueType::String && !p.last_string_compressed(),
                    });
                    prev_end = end;
                    records += 1;
                    keys += 1;
                    if first.is_none() {
                        first = last.clone();
                    }
                    true
                }
                Event::Eof {
                    stored_crc,
                    computed_crc,
                } => {
                    if p.offset() < self.len
                        && stored_crc.is_some_and(|s| s != 0 && s != computed_crc)
                    {
                        // Bytes follow an EOF opcode whose checksum does not hold: a damaged
                        // byte that reads as EOF, not the file's end.
                        let at = prev_end;
                        let why = format!(
                            "an EOF opcode with a wrong checksum and {} bytes after it",
                            self.len - p.offset()
                        );
                        return Run {
                            records,
                            keys,
                            first: first.clone(),
                            last,
                            recent: recent.clone(),
                            db_end: db_now,
                            stop: Stop::Error {
                                error: Error::corrupt(at, why),
                                at,
                                read: at + 1,
                            },
                        };
                    }
                    return Run {
                        records,
                        keys,
                        first: first.clone(),
                        last,
                        recent: recent.clone(),
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
                    if first.is_none() {
                        first = last.clone();
                    }
                    true
                }
                Event::Aux { .. } | Event::Function { .. } => {
                    self.top_record(&mut last, &mut prev_end, &p, db_now, true);
                    records += 1;
                    if first.is_none() {
                        first = last.clone();
                    }
                    true
                }
                Event::ResizeDb { .. }
                | Event::SlotInfo { .. }
                | Event::ModuleAux { .. }
                | Event::SlotImport { .. } => {
                    self.top_record(&mut last, &mut prev_end, &p, db_now, false);
                    records += 1;
                    if first.is_none() {
                        first = last.clone();
                    }
                    true
                }
                _ => false,
            };
            if done {
                if let Some(r) = &last {
                    if recent.len() == RECENT {
                        recent.remove(0);
                    }
                    recent.push(r.clone());
                }
            }
        }
    }

    /// Whether the writer of the file writes object type `t` (see [`written_by`]).
    fn writes(&self, t: u8) -> bool {
        written_by(self.family, self.version, t, self.header_read)
    }

    fn writes_functions(&self) -> bool {
        !self.header_read || self.family == Family::Valkey || self.version >= 10
    }

    /// A run that stops at a record no server writing this version writes: damage.
    #[allow(clippy::too_many_arguments)] // the state of a run, handed back whole
    fn unwritten(
        &self,
        records: u64,
        keys: u64,
        first: Option<Rec>,
        last: Option<Rec>,
        recent: &[Rec],
        db_end: u64,
        at: u64,
        why: String,
    ) -> Run {
        Run {
            records,
            keys,
            first,
            last,
            recent: recent.to_vec(),
            db_end,
            stop: Stop::Error {
                error: Error::corrupt(at, why),
                at,
                read: at + 1,
            },
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
            expiry: false,
            plain_tail: raw_tail,
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
    /// A place inside a record already read (`enclosing`, its end; or the first record of a
    /// place found) is taken only when its records do not meet that record's end at a record
    /// boundary: records that meet it are the record's own bytes read another way (a ziplist's
    /// tail parses as a string record); records that do not contradict it, and the record
    /// that holds them swallowed them (its length was damaged).
    fn resync(&mut self, from: u64, db: u64, enclosing: Option<u64>) -> Option<(u64, bool)> {
        self.resync_to(from, db, enclosing, false)
    }

    /// [`Scanner::resync`]; with `to_eof` on, a place counts only when its records go on to
    /// the EOF opcode that ends the file (or fill a window).
    fn resync_to(
        &mut self,
        from: u64,
        db: u64,
        enclosing: Option<u64>,
        to_eof: bool,
    ) -> Option<(u64, bool)> {
        let mut p = from;
        let mut found: Option<(u64, u64)> = None;
        let mut outer = enclosing;
        while p < found.map_or(self.len, |(_, end)| end) {
            if self.window(p).is_err() {
                return None;
            }
            let i = (p - self.win_start) as usize;
            let b = self.win[i];
            // After a damaged hash with field TTLs (Redis 7.4 type 24), a string record is
            // byte for byte one of its fields (a TTL of 0, a field, a value): no place there.
            let like_its_fields = self.damaged_type == Some(24) && b == 0;
            if plausible_first(b) && !like_its_fields {
                let align = outer.filter(|&e| p < e);
                match self.trial_to(p, db, align, to_eof, CHAIN) {
                    Trial::Confirmed { first_end, aligned } if !aligned => {
                        found = Some((p, first_end));
                        outer = Some(first_end);
                    }
                    Trial::Promising
                        if found.is_none()
                            && align.is_none()
                            && self.wasted <= 2 * self.len + (64 << 20) =>
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

    /// The type byte of the key record at `at` (after its per-key opcodes).
    fn type_at(&mut self, at: u64) -> Option<u8> {
        self.window(at).ok()?;
        let i = (at - self.win_start) as usize;
        Framer {
            b: &self.win[i..(i + WINDOW).min(self.win.len())],
            pos: 0,
            end: self.len - at,
            file: None,
        }
        .record(Some(0))
        .1
    }

    /// The first offset in `[from, end)` where records parse that do not meet `end` at a
    /// record boundary (see [`Scanner::resync`]).
    fn resync_within(&mut self, from: u64, end: u64, db: u64) -> Option<u64> {
        let mut p = from;
        while p < end {
            if self.window(p).is_err() {
                return None;
            }
            let b = self.win[(p - self.win_start) as usize];
            if plausible_first(b) {
                // Records inside a string are its bytes unless many follow: a long chain.
                // And the first of them inside it: a record from its bytes that reaches past
                // its end is its bytes too.
                let t = self.trial_to(p, db, Some(end), false, SWALLOWED_CHAIN);
                if let Trial::Confirmed {
                    aligned: false,
                    first_end,
                } = t
                {
                    if first_end >= end {
                        p += 1;
                        continue;
                    }
                    return Some(p);
                }
            }
            p += 1;
        }
        None
    }

    /// Where the key record at `at` ends when read by its lengths alone, with its own type
    /// byte or another, if records parse from there; and whether its own type byte did.
    fn framed_end(&mut self, at: u64, db: u64) -> Option<(u64, bool)> {
        if self.window(at).is_err() {
            return None;
        }
        let i = (at - self.win_start) as usize;
        let end = self.len - at;
        let file = self.file;
        let frame = |win: &[u8], t: Option<u8>| {
            Framer {
                b: &win[i..(i + WINDOW).min(win.len())],
                pos: 0,
                end,
                file: Some((file, at)),
            }
            .record(t)
        };
        let own = frame(&self.win, None).1?;
        let mut tries: Vec<u8> = vec![own];
        // Other types only when the byte stored is no type at all: a damaged type byte, the
        // rest of the record whole. (A byte that is a type was not damaged alone, or was
        // damaged into another type: no guess.)
        let is_type = own <= 28 && own != 8;
        if !is_type {
            tries.extend(FRAMED.iter().copied().filter(|&t| t != own));
            tries.dedup();
        }
        for ty in tries {
            let Some(n) = frame(&self.win, Some(ty)).0 else {
                continue;
            };
            let e = at + n;
            if e >= self.len || self.window(e).is_err() {
                continue;
            }
            let first = self.win[(e - self.win_start) as usize];
            if plausible_first(first) {
                // Lengths read through damaged bytes can land anywhere: a long chain there.
                let t = self.trial_to(e, db, None, false, SWALLOWED_CHAIN);
                if let Trial::Confirmed { .. } = t {
                    return Some((e, ty == own));
                }
            }
            // The window moved: back to the record.
            if self.window(at).is_err() {
                return None;
            }
        }
        None
    }

    /// Parses records at `p` from the window: `chain` of them, with `align` on until one ends
    /// at or past that offset, and with `to_eof` on until the EOF opcode ending the file (a
    /// window's worth of records without error is promising).
    fn trial_to(&mut self, p: u64, db: u64, align: Option<u64>, to_eof: bool, chain: u64) -> Trial {
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
        let mut records = 0;
        let mut key_start = None;
        let mut key_empty = false;
        let mut first_end = None;
        let mut aligned = false;
        let mut db = db;
        // The record before was a SELECTDB: a server writes a RESIZEDB next (from RDB 7 on).
        let resize_follows =
            !self.header_read || self.family == Family::Valkey || self.version >= 7;
        let mut selected = false;
        loop {
            let ev = parser.next_event();
            let top = matches!(
                ev,
                Ok(Some(
                    Event::KeyStart(_)
                        | Event::SelectDb { .. }
                        | Event::Aux { .. }
                        | Event::Function { .. }
                        | Event::SlotInfo { .. }
                        | Event::ModuleAux { .. }
                        | Event::SlotImport { .. }
                        | Event::Eof { .. }
                ))
            );
            if selected && top && resize_follows {
                return Trial::Failed;
            }
            if !matches!(ev, Ok(Some(Event::SelectDb { .. }))) && top {
                selected = false;
            }
            match ev {
                Ok(Some(Event::KeyStart(info))) => {
                    // A type the writer of this version does not write is no place to resume,
                    // nor a key it would have written as an integer.
                    if !self.writes(info.rdb_type.0) || as_int(info.key) {
                        return Trial::Failed;
                    }
                    // The records must look like ones a user wrote: keys of text. Bytes of
                    // compressed data, listpacks or stream IDs read as records have keys of
                    // control bytes. (Binary keys right after damage are lost with it.)
                    if !text_like(info.key) {
                        return Trial::Failed;
                    }
                    key_start = Some((info.offset, info.value_type));
                    key_empty = matches!(info.key, crate::Str::Bytes(k) if k.is_empty());
                }
                Ok(Some(Event::KeyEnd)) => {
                    let (start, t) = key_start.take().unwrap_or((p, ValueType::String));
                    // Zero bytes alone are damage; an empty key is too rare to resume at (a
                    // zeroed page's last zeros read as one, swallowing the records after).
                    if key_empty
                        && (records == 0
                            || (parser.offset() - start == 3 && t == ValueType::String))
                    {
                        return Trial::Failed;
                    }
                    records += 1;
                }
                // A server selects each database once, in order, and states its size next.
                Ok(Some(Event::SelectDb { db: n })) => {
                    if n <= db || n > u64::from(u16::MAX) {
                        return Trial::Failed;
                    }
                    db = n;
                    selected = true;
                    records += 1;
                }
                Ok(Some(Event::ResizeDb { .. })) if !selected => return Trial::Failed,
                Ok(Some(Event::ResizeDb { .. })) => {
                    selected = false;
                    records += 1;
                }
                // AUX fields and functions come before the keys; an AUX field's name is text.
                Ok(Some(Event::Aux { .. } | Event::Function { .. })) if self.keys_seen => {
                    return Trial::Failed
                }
                Ok(Some(Event::Aux { key, .. })) if !text_like(key) => return Trial::Failed,
                Ok(Some(Event::Function { .. })) if !self.writes_functions() => {
                    return Trial::Failed
                }
                // A string a server would have written as an integer: not written by one.
                Ok(Some(Event::Element(v))) if as_int(v) => return Trial::Failed,
                Ok(Some(Event::HashField { field, value, .. }))
                    if as_int(field) || as_int(value) =>
                {
                    return Trial::Failed
                }
                Ok(Some(Event::ZMember { member, .. })) if as_int(member) => return Trial::Failed,
                Ok(Some(Event::StreamField { name, value })) if as_int(name) || as_int(value) => {
                    return Trial::Failed
                }
                Ok(Some(
                    Event::Aux { .. }
                    | Event::Function { .. }
                    | Event::SlotInfo { .. }
                    | Event::ModuleAux { .. }
                    | Event::SlotImport { .. },
                )) => records += 1,
                Ok(Some(Event::Eof { .. })) => {
                    // The chain ends the file: the EOF opcode and its checksum are the last
                    // bytes.
                    return if to_file_end && parser.offset() == self.len {
                        Trial::Confirmed {
                            first_end: first_end.unwrap_or(parser.offset()),
                            aligned,
                        }
                    } else {
                        Trial::Failed
                    };
                }
                Ok(Some(_)) => {}
                Ok(None) => return Trial::Failed,
                Err(e) => {
                    return if e.is_truncation()
                        && !to_file_end
                        && e.offset() >= window_end
                        && (!to_eof || records >= CHAIN)
                    {
                        Trial::Promising
                    } else {
                        Trial::Failed
                    };
                }
            }
            if records == 1 && first_end.is_none() {
                first_end = Some(parser.offset());
            }
            let at = parser.offset();
            aligned |= align == Some(at) && key_start.is_none();
            if records >= chain && align.is_none_or(|e| at >= e) && !to_eof {
                return Trial::Confirmed {
                    first_end: first_end.unwrap_or(p),
                    aligned,
                };
            }
        }
    }
}

/// Reads the framing of RDB records from a byte slice, checking nothing but that each length
/// fits: where a record ends if its lengths are right, whatever its contents.
struct Framer<'a> {
    b: &'a [u8],
    pos: u64,
    /// How far the record may reach (the file's end): a skip may pass the bytes at hand.
    end: u64,
    /// The file and the offset of `b[0]` in it, for a byte past the bytes at hand.
    file: Option<(&'a File, u64)>,
}

impl Framer<'_> {
    fn u8(&mut self) -> Option<u8> {
        let v = self.peek()?;
        self.pos += 1;
        Some(v)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        if end > self.end {
            return None;
        }
        self.pos = end;
        Some(())
    }

    fn peek(&self) -> Option<u8> {
        if let Some(&v) = usize::try_from(self.pos).ok().and_then(|i| self.b.get(i)) {
            return Some(v);
        }
        if self.pos >= self.end {
            return None;
        }
        let (file, base) = self.file?;
        let mut one = [0u8; 1];
        file.read_exact_at(&mut one, base + self.pos).ok()?;
        Some(one[0])
    }

    /// A length, or `Err(kind)` for a string's special encoding `11kkkkkk`.
    fn len(&mut self) -> Option<Result<u64, u8>> {
        let b = self.u8()?;
        Some(Ok(match b >> 6 {
            0 => u64::from(b & 0x3f),
            1 => (u64::from(b & 0x3f) << 8) | u64::from(self.u8()?),
            2 if b == 0x80 => {
                let mut v = 0u64;
                for _ in 0..4 {
                    v = (v << 8) | u64::from(self.u8()?);
                }
                v
            }
            2 if b == 0x81 => {
                let mut v = 0u64;
                for _ in 0..8 {
                    v = (v << 8) | u64::from(self.u8()?);
                }
                v
            }
            2 => return None,
            _ => return Some(Err(b & 0x3f)),
        }))
    }

    fn count(&mut self) -> Option<u64> {
        self.len()?.ok()
    }

    fn string(&mut self) -> Option<()> {
        match self.len()? {
            Ok(n) => self.skip(n),
            Err(0) => self.skip(1),
            Err(1) => self.skip(2),
            Err(2) => self.skip(4),
            Err(3) => {
                let clen = self.count()?;
                self.count()?;
                self.skip(clen)
            }
            Err(_) => None,
        }
    }

    /// The length of the key record at the start, with `t` in place of its type byte (its
    /// own when `None`), and the type byte it holds.
    fn record(mut self, t: Option<u8>) -> (Option<u64>, Option<u8>) {
        let mut own = None;
        let n = self.frame(t, &mut own);
        (n, own)
    }

    fn frame(&mut self, t: Option<u8>, own: &mut Option<u8>) -> Option<u64> {
        // Per-key opcodes first.
        loop {
            match self.peek()? {
                0xFC => self.skip(9)?,
                0xFD => self.skip(5)?,
                0xF8 => {
                    self.pos += 1;
                    self.count()?;
                }
                0xF9 => self.skip(2)?,
                _ => break,
            }
        }
        *own = Some(self.peek()?);
        let t = t.or(*own)?;
        self.pos += 1; // the type byte, read as `t`
        self.string()?;
        let each = |f: &mut Framer<'_>, n: u64, per: &dyn Fn(&mut Framer<'_>) -> Option<()>| {
            for _ in 0..n {
                per(f)?;
            }
            Some(())
        };
        match t {
            0 | 9..=13 | 16 | 17 | 20 => self.string()?,
            1 | 2 | 14 => {
                let n = self.count()?;
                each(self, n, &|f| f.string())?;
            }
            3 => {
                let n = self.count()?;
                each(self, n, &|f| {
                    f.string()?;
                    match f.u8()? {
                        253..=255 => Some(()),
                        k => f.skip(u64::from(k)),
                    }
                })?;
            }
            4 => {
                let n = self.count()?;
                each(self, n, &|f| {
                    f.string()?;
                    f.string()
                })?;
            }
            5 => {
                let n = self.count()?;
                each(self, n, &|f| {
                    f.string()?;
                    f.skip(8)
                })?;
            }
            18 => {
                let n = self.count()?;
                each(self, n, &|f| {
                    f.count()?;
                    f.string()
                })?;
            }
            25 => {
                self.skip(8)?;
                self.string()?;
            }
            15 | 19 | 21 => self.stream(t)?,
            _ => return None,
        }
        Some(self.pos)
    }
}

impl Framer<'_> {
    /// A stream of type `t` (15, 19 or 21), as `rdbSaveObject` writes it.
    fn stream(&mut self, t: u8) -> Option<()> {
        let nodes = self.count()?;
        for _ in 0..nodes {
            self.string()?; // the node's master ID
            self.string()?; // its listpack
        }
        // Length and last ID; from type 19 the first ID, the largest deleted ID and the
        // entries added.
        let lens = if t >= 19 { 3 + 5 } else { 3 };
        for _ in 0..lens {
            self.count()?;
        }
        let groups = self.count()?;
        for _ in 0..groups {
            self.string()?;
            for _ in 0..(if t >= 19 { 3 } else { 2 }) {
                self.count()?;
            }
            let pel = self.count()?;
            for _ in 0..pel {
                self.skip(16 + 8)?;
                self.count()?;
            }
            let consumers = self.count()?;
            for _ in 0..consumers {
                self.string()?;
                self.skip(if t >= 21 { 16 } else { 8 })?;
                let pel = self.count()?;
                self.skip(pel.checked_mul(16)?)?;
            }
        }
        Some(())
    }
}

/// The object types [`Framer::record`] frames.
const FRAMED: [u8; 20] = [
    0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 25,
];

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

/// Whether `s` is stored as text though every server writes it as an integer: a canonical
/// decimal integer of at most 11 bytes that fits 32 bits (`rdbTryIntegerEncoding`; listpacks
/// and ziplists take more).
fn as_int(s: crate::Str<'_>) -> bool {
    match s {
        crate::Str::Bytes(b) => {
            b.len() <= 11 && crate::canonical_int(b).is_some_and(|v| i32::try_from(v).is_ok())
        }
        crate::Str::Int(_) => false,
    }
}

/// Whether a key is text: UTF-8 without control characters (an integer key is).
fn text_like(s: crate::Str<'_>) -> bool {
    match s {
        crate::Str::Int(_) => true,
        crate::Str::Bytes(b) => {
            std::str::from_utf8(b).is_ok_and(|t| !t.chars().any(char::is_control))
        }
    }
}

/// Whether a server writing `family` RDB `version` writes object type `t` (every type for the
/// versions before 9, and when the header was not read: no filter).
fn written_by(family: Family, version: u32, t: u8, header_read: bool) -> bool {
    if !header_read || (family == Family::Redis && version < 9) {
        return true;
    }
    let base = matches!(t, 0 | 2 | 4 | 5 | 7 | 11);
    base || match (family, version) {
        (Family::Valkey, _) => matches!(t, 16 | 17 | 18 | 20 | 21 | 22),
        (_, 9) => matches!(t, 12..=15),
        (_, 10) => matches!(t, 16..=19),
        (_, 11) => matches!(t, 16 | 17 | 18 | 20 | 21),
        (_, 12) => matches!(t, 16 | 17 | 18 | 20 | 21 | 24 | 25),
        _ => matches!(t, 16..=28),
    }
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
        f.extend_from_slice(b"\xfe\x00\xfb\x01\x00");
        let mut recs = Vec::new();
        for i in 0..n {
            if i == n / 2 {
                f.extend_from_slice(b"\xfe\x01\xfb\x01\x00");
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
            let mut p = Parser::resume(
                slice,
                limits_for(true),
                plan.family,
                plan.version,
                s.db,
                s.start,
            );
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
    fn a_record_past_the_first_limit_is_read_again_whole() {
        // k10's key is 17 MiB: past what the scan reads at first, read again whole since its
        // lengths lead to intact records. The damage is before it (k5's type byte).
        let (b, recs) = sample(30);
        let (at, end) = (recs[10].0 as usize, recs[10].1 as usize);
        let big = vec![b'x'; 17 << 20];
        let mut rec = vec![0u8, 0x80];
        rec.extend_from_slice(&(big.len() as u32).to_be_bytes());
        rec.extend_from_slice(&big);
        rec.extend_from_slice(b"\x01v");
        let mut d = b[..at].to_vec();
        d.extend_from_slice(&rec);
        d.extend_from_slice(&b[end..]);
        d[recs[5].0 as usize] = 0xEE;
        let plan = scan(&file(&d)).unwrap();
        let keys = kept(&d, &plan);
        assert!(keys.iter().any(|k| k.1.len() == big.len()), "{plan:?}");
        assert!(keys.len() >= 26, "{}", keys.len());
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
    fn a_flipped_type_byte_costs_its_key_and_its_neighbours() {
        let (mut b, recs) = sample(50);
        let (at, _) = recs[20];
        b[at as usize] = 0xEE; // not a type nor an opcode
        let plan = scan(&file(&b)).unwrap();
        let keys = kept(&b, &plan);
        let names: Vec<String> = keys
            .iter()
            .map(|k| String::from_utf8_lossy(&k.1).into_owned())
            .collect();
        // k20's record read by its lengths with another type byte ends where k21 starts; but
        // those bytes could be anything read with a guessed type: k19 (a plain string, whose
        // last bytes nothing checks) goes, and k21 may be a key whose expiry opcode was
        // damaged (the lengths of an expiry read as a record): a key without an expiry there
        // goes too.
        assert_eq!(keys.len(), 47, "{names:?}");
        for k in ["k19", "k20", "k21"] {
            assert!(!names.contains(&k.to_string()), "{k}");
        }
        assert_eq!(plan.dropped.len(), 2);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].start, recs[19].0);
        assert_eq!(plan.skipped[0].end, recs[22].0);
        // The database after the damage is the one in force before it, until SELECTDB 1.
        for (db, k, _) in &keys {
            let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            assert_eq!(*db, u64::from(i >= 25), "k{i}");
        }
        assert_eq!(plan.keys, 47);
        // A flip in k20's key length: k19 may hold the start of the damage (a plain string
        // ends it), so it goes too.
        let (mut b, recs) = sample(50);
        b[recs[20].0 as usize + 1] ^= 0x40;
        let plan = scan(&file(&b)).unwrap();
        let keys = kept(&b, &plan);
        // And the record found byte by byte after the damage may be made of its last bytes:
        // a plain string there goes too.
        assert_eq!(keys.len(), 47);
        assert_eq!(plan.dropped.len(), 2);
        assert!(plan.dropped.iter().all(|d| d.why == Why::NextToDamage));
        assert_eq!(plan.dropped[0].offset, recs[19].0);
        assert_eq!(plan.dropped[1].offset, recs[21].0);
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
                    let i: usize = std::str::from_utf8(&k[1..])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or_else(|| panic!("{a}-{z}+{shift}: key {k:?} at {off}: {plan:?}"));
                    let (s, e) = (recs[i].0 as usize, recs[i].1 as usize);
                    assert_eq!(*off as usize, s);
                    assert_eq!(b[s..e], intact[s..e], "k{i}: a value that differs");
                }
                // Every key clear of the zeros is back but the ones just before and after.
                let clear = recs
                    .iter()
                    .filter(|(s, e)| *e as usize <= from || *s as usize >= to)
                    .count();
                assert!(
                    keys.len() + 2 >= clear,
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
