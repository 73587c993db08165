//! The engine: RDB events to a [`KeySink`], with the filters, the database map, and what the
//! target cannot hold, refused or (with [`Lossy`]) dropped, all reported in the [`Outcome`].

use crate::filter::KeyFilter;
use crate::keys::KeySink;
use rdb_parse::dupes::{Background, KeySet, DEFAULT_BUDGET};
use rdb_parse::{
    drive, escape, Encoding, Family, KeyEnd, KeyInfo, Parser, Position, RdbType, Sink, Stop, Str,
    StreamId, StreamMeta, ValueType,
};
use rdb_write::{KeyMeta, Kind, Target};
use std::fs::File;
use std::io::{self, Read};

/// Stream entry ids remembered per stream to find pending entries of deleted entries (16
/// bytes each: 64 MiB at most).
const MAX_REMEMBERED_IDS: usize = 4 << 20;

/// What `--lossy` allows to drop.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lossy {
    /// Hash field TTLs (the fields are kept, without TTL).
    pub field_ttls: bool,
    /// Stream metadata the target's stream version has no place for.
    pub stream_meta: bool,
    /// Whole keys (and function libraries, module data) the target cannot hold.
    pub keys: bool,
}

/// Parses a `--lossy` value.
pub fn parse_lossy(s: &str) -> Result<Lossy, String> {
    let mut l = Lossy::default();
    for part in s.split(',') {
        match part.trim() {
            "field-ttls" => l.field_ttls = true,
            "stream-meta" => l.stream_meta = true,
            "keys" => l.keys = true,
            "all" => {
                l = Lossy {
                    field_ttls: true,
                    stream_meta: true,
                    keys: true,
                }
            }
            other => {
                return Err(format!(
                    "unknown --lossy item {other:?}: field-ttls, stream-meta, keys or all"
                ))
            }
        }
    }
    Ok(l)
}

/// How the source's events map onto the target.
pub struct Options {
    /// The RDB version to write for; `None`: the source's own.
    pub version: Option<u32>,
    /// Which keys.
    pub filter: KeyFilter,
    /// Database renumbering, FROM → TO.
    pub db_map: Vec<(u64, u64)>,
    /// What may be dropped.
    pub lossy: Lossy,
    /// A second handle on the input when it is a plain file: values stored as the target
    /// would store them are copied from it as they are, without decoding.
    pub raw_source: Option<File>,
    /// Where the fingerprints of the keys go past a million keys, to find a key written twice
    /// in one database (the system's temporary directory when `None`).
    pub spill_dir: Option<std::path::PathBuf>,
    /// Write empty collections, which the servers skip at load (skipped and counted by
    /// default).
    pub keep_empty: bool,
    /// Read an RDB version newer than any known of its family as the newest known one (see
    /// [`rdb_parse::Parser::relaxed_version`]); the outcome notes it.
    pub relaxed_version: bool,
    /// Write the source's AUX fields in place of the sink's own (see [`KeySink::aux`]).
    pub keep_aux: bool,
}

/// The object types whose stored form is what a server of `target` writes for that value, so
/// that a record of the `source` (family, version) can be copied as it is.
fn copyable_types(family: Family, source: u32, target: u32) -> Vec<RdbType> {
    let redis_source = family == Family::Redis && (9..=12).contains(&source);
    let valkey_source = family == Family::Valkey && source == 80;
    if !(redis_source || valkey_source) || !(9..=12).contains(&target) && target != 80 {
        return Vec::new();
    }
    let mut t = vec![
        RdbType::STRING,
        RdbType::SET,
        RdbType::HASH,
        RdbType::ZSET_2,
        RdbType::SET_INTSET,
    ];
    if target == 9 {
        t.extend([
            RdbType::LIST_QUICKLIST,
            RdbType::ZSET_ZIPLIST,
            RdbType::HASH_ZIPLIST,
            RdbType::STREAM_LISTPACKS,
        ]);
    } else {
        t.extend([
            RdbType::HASH_LISTPACK,
            RdbType::ZSET_LISTPACK,
            RdbType::LIST_QUICKLIST_2,
        ]);
    }
    match target {
        10 => t.push(RdbType::STREAM_LISTPACKS_2),
        11.. => t.extend([RdbType::SET_LISTPACK, RdbType::STREAM_LISTPACKS_3]),
        _ => {}
    }
    if target == 12 && redis_source {
        t.extend([RdbType::HASH_METADATA, RdbType::HASH_LISTPACK_EX]);
    }
    if target == 80 && valkey_source {
        t.push(RdbType::VALKEY_HASH_2);
    }
    t
}

/// One thing the target cannot hold.
pub struct Item {
    /// Database (0 for functions and module data).
    pub db: u64,
    /// The key (or a description for non-keys).
    pub key: Vec<u8>,
    /// What and why.
    pub why: String,
}

/// A bounded list of items: the first 50 and the total.
#[derive(Default)]
pub struct Items {
    /// The first items.
    pub first: Vec<Item>,
    /// How many in all.
    pub total: u64,
}

impl Items {
    pub(crate) fn push(&mut self, db: u64, key: &[u8], why: String) {
        self.total += 1;
        if self.first.len() < 50 {
            self.first.push(Item {
                db,
                key: key.to_vec(),
                why,
            });
        }
    }
}

/// What a run did.
#[derive(Default)]
pub struct Outcome {
    /// The RDB version written for.
    pub version: u32,
    /// Keys written.
    pub keys: u64,
    /// Of which copied as stored.
    pub copied: u64,
    /// Function libraries written.
    pub functions: u64,
    /// What the target cannot hold (nothing may be committed when not empty).
    pub refused: Items,
    /// What `--lossy` dropped.
    pub dropped: Items,
    /// Hash field TTLs dropped.
    pub dropped_field_ttls: u64,
    /// The fault that stopped the reading (corrupt, truncated, or a read error), with the key
    /// being read.
    pub parse_error: Option<(rdb_parse::Error, Position)>,
    /// Remarks on what was written that are neither refusals nor drops.
    pub notes: Vec<String>,
    /// Empty collections skipped, as the servers skip them at load.
    pub empty_skipped: u64,
}

/// The RDB version written when the user names none: the source's, where we can write it.
fn default_version(family: Family, version: u32) -> Result<u32, String> {
    match (family, version) {
        (Family::Valkey, 80) => Ok(80),
        (Family::Redis, ..=6) => Ok(7),
        (Family::Redis, v @ 7..=12) => Ok(v),
        (_, v) => Err(format!(
            "the source is RDB {v}, which cannot be written; choose --rdb-version or --target"
        )),
    }
}

/// Why a run stopped, other than a damaged input (which the [`Outcome`] reports).
#[derive(Debug)]
pub enum Error {
    /// The source's version cannot be written and none was asked for.
    Version(String),
    /// Writing a key failed.
    Write {
        /// Its database.
        db: u64,
        /// The key.
        key: Vec<u8>,
        /// Why.
        source: io::Error,
    },
    /// Writing outside a key failed (header, functions, databases).
    Io(io::Error),
    /// The sink cannot copy records as stored (a copy was asked of a sink that writes
    /// commands).
    CannotCopy,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Version(why) => write!(f, "{why}"),
            Error::Write { db, key, source } => write!(f, "db {db} key {}: {source}", escape(key)),
            Error::Io(e) => write!(f, "{e}"),
            Error::CannotCopy => write!(f, "this output cannot copy stored values"),
        }
    }
}

impl Error {
    /// The system's error, when writing failed.
    pub fn io(&self) -> Option<&io::Error> {
        match self {
            Error::Write { source, .. } | Error::Io(source) => Some(source),
            _ => None,
        }
    }
}

// The message already holds the system's error ([`Error::io`]): no source, or a chain of
// causes would say it twice.
impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// String values longer than this are read and written in parts of this size.
pub const STRING_PART: usize = 16 << 20;

/// Reads every event of `input` and writes what the options select to `sink`. A damaged input
/// is not an error: the outcome says where it stopped (nothing should be committed then).
pub fn run<R: Read, S: KeySink>(input: R, opts: &Options, sink: &mut S) -> Result<Outcome, Error> {
    run_fed(input, opts, sink, |t, p| t.feed(p))
}

/// [`run`], with the sink on a second thread (see [`rdb_parse::drive_relayed`]): the file is
/// read and checked on this one, the keys encoded and written on the other. The outcome is the
/// one `run` gives.
pub fn run_relayed<R: Read, S: KeySink + Send>(
    input: R,
    opts: &Options,
    sink: &mut S,
) -> Result<Outcome, Error> {
    run_fed(input, opts, sink, |t, p| t.feed_relayed(p))
}

/// [`run`] with `feed` to hand the parser's events to the engine (it gives the parser's
/// fault, or the sink's error).
fn run_fed<R: Read, S: KeySink>(
    input: R,
    opts: &Options,
    sink: &mut S,
    feed: impl for<'t> FnOnce(
        &mut Transcoder<'t, S>,
        &mut Parser<R>,
    ) -> Result<Result<(), rdb_parse::Error>, Error>,
) -> Result<Outcome, Error> {
    let mut parser = Parser::new(input);
    parser.relaxed_version(opts.relaxed_version);
    // The header comes first: it decides the target and what can be copied as stored, which
    // the parser must know before it reads the keys.
    let (family, version) = match parser.next_event() {
        Ok(Some(rdb_parse::Event::Header { family, version })) => (family, version),
        Ok(_) => unreachable!("the header is always the first event"),
        Err(e) => {
            return Ok(Outcome {
                parse_error: Some((e, Position::default())),
                ..Outcome::default()
            })
        }
    };
    let mut t = Transcoder::new(opts, sink);
    // A file can hold a key twice in one database (no server loads it), and a --db-map can
    // merge two databases that hold the same key: either way the output must not.
    t.keys = Some(Background::start(KeySet::new(
        DEFAULT_BUDGET,
        opts.spill_dir.clone(),
        1,
    )));
    t.header(family, version)?;
    if let Err(e) = feed(&mut t, &mut parser)? {
        t.failed(e);
    }
    if let Some(v) = parser.stated_version() {
        t.out.notes.push(format!(
            "RDB version {v} is newer than any this reader knows: read as version {version} \
             (--relaxed-version)"
        ));
    }
    if let Some(keys) = t.keys.take() {
        let dupes = keys.finish()?;
        if t.out.parse_error.is_none() {
            t.out.parse_error = dupes.error().map(|e| (e, Position::default()));
        }
    }
    Ok(t.finish())
}

/// Writes the intact records of a damaged file, as [`rdb_parse::salvage::scan`] found them,
/// the way [`run`] writes a whole file: the spans of `plan` are read one after the other from
/// `file` (each by a parser resumed there, with the database in force), and the key records
/// of `plan.skip_keys` are left out.
pub fn run_spans<S: KeySink>(
    file: &File,
    plan: &rdb_parse::salvage::Plan,
    opts: &Options,
    sink: &mut S,
) -> Result<Outcome, Error> {
    let mut t = Transcoder::new(opts, sink);
    t.leave_out = &plan.skip_keys;
    t.header(plan.family, plan.version)?;
    for span in &plan.spans {
        let reader = rdb_parse::salvage::FileRange::new(file, span.start, span.end);
        let mut parser = Parser::resume(
            reader,
            rdb_parse::Limits::default(),
            plan.family,
            plan.version,
            span.db,
            span.start,
        );
        t.select_db(span.db)?;
        match t.feed(&mut parser)? {
            Ok(()) => {}
            // The span ends at a record's end: the parser finds nothing where the next begins.
            Err(e) if e.is_truncation() && parser.last_good_offset() == span.end => {}
            Err(e) => {
                t.failed(e);
                break;
            }
        }
    }
    Ok(t.finish())
}

/// The name a function library's code declares on its first line (`#!lua name=mylib`); the
/// whole first line when it declares none.
fn library_name(code: &[u8]) -> Vec<u8> {
    let first = code.split(|&b| b == b'\n').next().unwrap_or_default();
    first
        .split(|&b| b == b' ')
        .find_map(|w| w.strip_prefix(b"name="))
        .unwrap_or(first)
        .to_vec()
}

/// Writes several RDBs as one dataset to `sink`, in order, like [`run`] each: `readers[i]` is
/// read with `opts[i]` (its database map, its file for records copied as stored; the target,
/// filter and lossy settings of the first apply to all), leaving out the key records at the
/// offsets `leave_out[i]` (sorted). The first one's header (or the options' version) decides
/// the target; a function library several inputs hold is written once (the same name with
/// other code is refused). A damaged input stops the run (the outcome says where).
pub fn run_many<R: Read, S: KeySink>(
    readers: Vec<R>,
    opts: &[Options],
    leave_out: &[Vec<u64>],
    sink: &mut S,
) -> Result<Outcome, Error> {
    let Some(first) = opts.first() else {
        return Ok(Outcome::default());
    };
    let mut t = Transcoder::new(first, sink);
    t.libraries = Some((
        std::collections::HashMap::new(),
        rdb_parse::blob::Fingerprints::random(),
    ));
    let mut started = false;
    for (i, reader) in readers.into_iter().enumerate() {
        let mut parser = Parser::new(reader);
        let (family, version) = match parser.next_event() {
            Ok(Some(rdb_parse::Event::Header { family, version })) => (family, version),
            Ok(_) => unreachable!("the header is always the first event"),
            Err(e) => {
                t.out.parse_error = Some((e, Position::default()));
                break;
            }
        };
        t.opts = &opts[i];
        t.leave_out = &leave_out[i];
        t.current_db = None;
        if started {
            t.copy_types = if opts[i].raw_source.is_some() {
                copyable_types(family, version, t.target.version)
            } else {
                Vec::new()
            };
        } else {
            t.header(family, version)?;
            started = true;
        }
        if let Err(e) = t.feed(&mut parser)? {
            t.failed(e);
            break;
        }
    }
    Ok(t.finish())
}

/// The engine as an [`rdb_parse::Sink`]: feed it the events of a dataset (a parser through
/// [`rdb_parse::drive`], or any other source of events, such as a replayed keyspace), then take
/// its [`Outcome`] with [`Transcoder::finish`]. [`run`] does this for an RDB file.
pub struct Transcoder<'a, S: KeySink> {
    opts: &'a Options,
    sink: &'a mut S,
    out: Outcome,
    target: Target,
    stream_sv: u32,
    copy_types: Vec<RdbType>,
    pos: Position,
    /// The database selected in the source (RESIZEDB hints follow SELECTDB).
    source_db: u64,
    /// Per key: skip its events (filtered out, dropped or refused).
    skipping: bool,
    /// False after the first refusal: nothing will be committed, only refusals are collected.
    writing: bool,
    current_db: Option<u64>,
    /// The source's RESIZEDB hints by database, written with SELECTDB when they still hold:
    /// every key kept, no two databases merged.
    sizes: Vec<(u64, u64, u64)>,
    keep_sizes: bool,
    first_entry: Option<StreamId>,
    key_ttls_dropped: bool,
    key_meta_dropped: Vec<&'static str>,
    /// The offset of the current key's record, when it is copied as stored.
    copying: Option<u64>,
    check_pel: bool,
    entry_ids: Vec<StreamId>,
    ids_complete: bool,
    dangling: u64,
    sa: [u8; 20],
    sb: [u8; 20],
    /// The keys written so far, by target database, when duplicates are looked for.
    keys: Option<Background>,
    /// A quicklist not begun yet: its nodes may hold no element (then it is skipped, as the
    /// servers skip it), which is known at its first element or its end.
    deferred: Option<(Kind, Vec<u8>, KeyMeta)>,
    /// Offsets of key records to leave out (sorted).
    leave_out: &'a [u64],
    /// When several sources are merged: each function library's name and a fingerprint of
    /// its code (keyed at random: a forged library cannot pass for another), so that a
    /// library every source holds is written once.
    libraries: Option<(
        std::collections::HashMap<Vec<u8>, u128>,
        rdb_parse::blob::Fingerprints,
    )>,
}

impl<'a, S: KeySink> Transcoder<'a, S> {
    /// An engine writing what `opts` select to `sink`; the header event starts it.
    pub fn new(opts: &'a Options, sink: &'a mut S) -> Self {
        let check_pel = sink.pel_needs_entries();
        Transcoder {
            opts,
            sink,
            out: Outcome::default(),
            target: Target { version: 12 },
            stream_sv: 0,
            copy_types: Vec::new(),
            pos: Position::default(),
            source_db: 0,
            skipping: false,
            writing: true,
            current_db: None,
            sizes: Vec::new(),
            keep_sizes: opts.filter.is_all() && opts.db_map.is_empty(),
            first_entry: None,
            key_ttls_dropped: false,
            key_meta_dropped: Vec::new(),
            copying: None,
            entry_ids: Vec::new(),
            ids_complete: true,
            check_pel,
            dangling: 0,
            sa: [0; 20],
            sb: [0; 20],
            keys: None,
            deferred: None,
            leave_out: &[],
            libraries: None,
        }
    }

    /// What was written, refused and dropped.
    pub fn finish(self) -> Outcome {
        self.out
    }

    /// Feeds the records of `parser` (past its header) to the engine: the types copied as
    /// stored are not read element by element, and a string value of any length is written
    /// as it is read, never held whole. Returns where reading stopped short, if it did.
    fn feed<R: Read>(
        &mut self,
        parser: &mut Parser<R>,
    ) -> Result<Result<(), rdb_parse::Error>, Error> {
        parser.skip_types(&self.copy_types);
        parser.stream_strings(STRING_PART);
        parser.stream_nodes_as_stored(self.copies_stream_nodes());
        match drive(parser, self) {
            Ok(()) => Ok(Ok(())),
            Err(Stop::Parse(e)) => Ok(Err(e)),
            Err(Stop::Sink(e)) => Err(e),
        }
    }

    /// [`Transcoder::feed`], with this engine on a second thread.
    fn feed_relayed<R: Read>(
        &mut self,
        parser: &mut Parser<R>,
    ) -> Result<Result<(), rdb_parse::Error>, Error>
    where
        S: Send,
    {
        parser.skip_types(&self.copy_types);
        parser.stream_strings(STRING_PART);
        parser.stream_nodes_as_stored(self.copies_stream_nodes());
        match rdb_parse::drive_relayed(parser, self) {
            Ok(()) => Ok(Ok(())),
            Err(Stop::Parse(e)) => Ok(Err(e)),
            Err(Stop::Sink(e)) => Err(e),
        }
    }

    /// Whether streams that change stream version keep their nodes as stored (the same bytes
    /// from version 2 on), copied from the source, instead of being rebuilt entry by entry.
    fn copies_stream_nodes(&self) -> bool {
        self.opts.raw_source.is_some() && self.stream_sv >= 2 && self.sink.copies_stored_nodes()
    }

    /// Records where reading stopped, with the key being read.
    fn failed(&mut self, e: rdb_parse::Error) {
        self.out.parse_error = Some((e, self.pos.clone()));
    }
}

impl<S: KeySink> Transcoder<'_, S> {
    /// Whether the events of the current key go to the sink.
    #[inline]
    fn live(&mut self) -> bool {
        self.writing &= self.out.refused.total == 0;
        self.writing && !self.skipping && self.copying.is_none()
    }

    /// Whether the current key's events are being passed over (filtered, refused, copied).
    #[inline]
    fn passing_over(&self) -> bool {
        self.skipping || self.copying.is_some()
    }

    /// Wraps a failed write with the key it was for.
    fn key_error(&self, source: io::Error) -> Error {
        Error::Write {
            db: self.pos.db,
            key: self.pos.key.clone(),
            source,
        }
    }

    fn cannot(&mut self, drop: bool, db: u64, key: &[u8], why: String) {
        if drop {
            self.out.dropped.push(db, key, why);
        } else {
            self.out.refused.push(db, key, why);
        }
    }

    fn map_db(&self, db: u64) -> u64 {
        self.opts
            .db_map
            .iter()
            .find(|(from, _)| *from == db)
            .map_or(db, |(_, to)| *to)
    }
}

/// Calls the sink when the key's events are live, naming the key on failure.
macro_rules! put {
    ($self:ident, $e:expr) => {
        if $self.live() {
            if let Err(e) = $e {
                return Err($self.key_error(e));
            }
        }
        return Ok(())
    };
}

impl<S: KeySink> Sink for Transcoder<'_, S> {
    type Error = Error;

    fn header(&mut self, family: Family, version: u32) -> Result<(), Error> {
        let v = match self.opts.version {
            Some(v) => v,
            None => default_version(family, version).map_err(Error::Version)?,
        };
        self.target = Target { version: v };
        self.out.version = v;
        self.stream_sv = self.target.stream_version().unwrap_or(0);
        if self.opts.raw_source.is_some() {
            self.copy_types = copyable_types(family, version, v);
        }
        self.sink.start(self.target)?;
        Ok(())
    }

    fn select_db(&mut self, db: u64) -> Result<(), Error> {
        self.source_db = db;
        Ok(())
    }

    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), Error> {
        if self.opts.keep_aux && self.writing {
            let (mut k, mut v) = (Vec::new(), Vec::new());
            key.append_to(&mut k);
            value.append_to(&mut v);
            self.sink.aux(&k, &v)?;
        }
        Ok(())
    }

    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<(), Error> {
        if let Some(set) = &mut self.keys {
            set.expect(keys);
        }
        if self.keep_sizes && self.sizes.len() < 1024 {
            self.sizes.push((self.source_db, keys, expires));
        }
        Ok(())
    }

    fn function(&mut self, code: Str<'_>) -> Result<(), Error> {
        self.writing &= self.out.refused.total == 0;
        if !self.target.functions() {
            let why = format!(
                "functions need RDB 10 or later, not {}",
                self.target.version
            );
            self.cannot(self.opts.lossy.keys, 0, b"(function library)", why);
        } else if self.writing {
            let mut buf = Vec::new();
            code.append_to(&mut buf);
            if let Some((seen, fp)) = &mut self.libraries {
                let name = library_name(&buf);
                let hash = fp.of(0, &buf);
                match seen.insert(name.clone(), hash) {
                    Some(h) if h == hash => return Ok(()),
                    Some(_) => {
                        let why = "a function library of this name with other code is in an \
                                   earlier input"
                            .to_string();
                        self.cannot(false, 0, &name, why);
                        return Ok(());
                    }
                    None => {}
                }
            }
            self.sink.function(&buf)?;
            self.out.functions += 1;
        }
        Ok(())
    }

    fn module_aux(&mut self, name: [u8; 9], _: u16, _: u64) -> Result<(), Error> {
        self.cannot(
            self.opts.lossy.keys,
            0,
            &name,
            "module aux data: its encoding belongs to the module".into(),
        );
        Ok(())
    }

    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Error> {
        self.writing &= self.out.refused.total == 0;
        self.pos.start(info.db, info.key);
        let key = info.key.as_bytes(&mut self.sa);
        let opts = self.opts;
        self.skipping = (!opts.filter.is_all()
            && !opts.filter.matches(info.db, key, info.value_type))
            || self.leave_out.binary_search(&info.offset).is_ok();
        if self.skipping {
            return Ok(());
        }
        if !opts.keep_empty && info.is_empty_collection() {
            self.skipping = true;
            self.out.empty_skipped += 1;
            return Ok(());
        }
        let target = self.target;
        let kind = match info.value_type {
            ValueType::String => Kind::String,
            ValueType::List => Kind::List,
            ValueType::Set => Kind::Set,
            ValueType::Zset => Kind::ZSet,
            ValueType::Hash
                if target.field_ttls()
                    && matches!(info.encoding, Encoding::ListpackEx | Encoding::HashtableEx) =>
            {
                Kind::HashTtl
            }
            ValueType::Hash => Kind::Hash,
            ValueType::Stream if self.stream_sv > 0 => Kind::Stream,
            other => {
                let why = match other {
                    ValueType::Stream => format!(
                        "a stream: RDB {} has no streams (RDB 9 and later)",
                        target.version
                    ),
                    ValueType::Module => {
                        "a module value: its encoding belongs to the module".to_string()
                    }
                    t => format!(
                        "a {} value: RDB {} cannot hold it",
                        t.name(),
                        target.version
                    ),
                };
                let key = key.to_vec();
                self.cannot(opts.lossy.keys, info.db, &key, why);
                self.skipping = true;
                return Ok(());
            }
        };
        let db = self.map_db(info.db);
        if let Some(keys) = &mut self.keys {
            keys.insert(db, info.key.as_bytes(&mut self.sb), info.offset);
        }
        if self.current_db != Some(db) && self.writing {
            self.sink.select_db(db)?;
            if let Some(&(_, k, e)) = self.sizes.iter().find(|(d, _, _)| *d == db) {
                self.sink.resize_db(k, e)?;
            }
            self.current_db = Some(db);
        }
        let meta = KeyMeta {
            expire_ms: info.expire_ms,
            idle_s: info.idle_s,
            freq: info.freq,
        };
        if self.writing {
            let key = info.key.as_bytes(&mut self.sa);
            if let Err(e) = self.sink.key(db, key) {
                return Err(self.key_error(e));
            }
        }
        if self.copy_types.contains(&info.rdb_type) {
            self.copying = Some(info.offset);
            self.out.keys += 1;
            self.out.copied += 1;
            return Ok(());
        }
        self.first_entry = None;
        self.entry_ids.clear();
        self.ids_complete = true;
        self.dangling = 0;
        self.key_ttls_dropped = false;
        self.key_meta_dropped.clear();
        if matches!(info.encoding, Encoding::StreamV4 | Encoding::StreamV5) {
            // Stream v4 (Redis 8.6) adds idempotent-producer records, which no stream
            // version written here stores (they are read and not reported).
            self.key_meta_dropped
                .push("IDMP settings and producer records");
        }
        self.out.keys += 1;
        let key = info.key.as_bytes(&mut self.sa);
        if !opts.keep_empty && kind == Kind::List && info.len.is_none() {
            self.deferred = Some((kind, key.to_vec(), meta));
            return Ok(());
        }
        if self.writing {
            if let Err(e) = self.sink.begin(kind, key, meta, info.len) {
                return Err(self.key_error(e));
            }
        }
        Ok(())
    }

    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Error> {
        self.writing &= self.out.refused.total == 0;
        if let Some(start) = self.copying.take() {
            if !self.skipping && self.writing {
                let src = self
                    .opts
                    .raw_source
                    .as_ref()
                    .expect("copying needs the source");
                if !self.sink.raw_record(src, start, end.offset - start)? {
                    return Err(Error::CannotCopy);
                }
            }
            self.skipping = false;
            self.pos.in_key = false;
            return Ok(());
        }
        if !self.skipping && self.deferred.take().is_some() {
            // A quicklist whose nodes held no element: skipped as the servers skip it.
            self.out.keys -= 1;
            self.out.empty_skipped += 1;
            self.pos.in_key = false;
            return Ok(());
        }
        if !self.skipping {
            if self.writing {
                if let Err(e) = self.sink.end() {
                    return Err(self.key_error(e));
                }
            }
            if self.check_pel && !self.ids_complete {
                self.out.notes.push(format!(
                    "db {} key {}: over {MAX_REMEMBERED_IDS} stream entries; its pending entries \
                     were not checked against deleted entries",
                    self.pos.db,
                    escape(&self.pos.key)
                ));
            }
            if !self.key_meta_dropped.is_empty() {
                self.key_meta_dropped.sort_unstable();
                self.key_meta_dropped.dedup();
                let what = self.key_meta_dropped.join(", ");
                let why = if self.dangling > 0 {
                    format!(
                        "stream {what}: {} pending id(s) name deleted entries, which commands \
                         cannot carry",
                        self.dangling
                    )
                } else {
                    format!(
                        "stream {what}: not stored by stream version {} (RDB {})",
                        self.stream_sv, self.target.version
                    )
                };
                let (db, key) = (self.pos.db, self.pos.key.clone());
                self.cannot(self.opts.lossy.stream_meta, db, &key, why);
            }
        }
        self.skipping = false;
        self.pos.in_key = false;
        Ok(())
    }

    #[inline]
    fn element(&mut self, v: Str<'_>) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        if let Some((kind, key, meta)) = self.deferred.take() {
            if self.live() {
                if let Err(e) = self.sink.begin(kind, &key, meta, None) {
                    return Err(self.key_error(e));
                }
            }
        }
        put!(self, self.sink.element(v.as_bytes(&mut self.sa)));
    }

    fn string_part(
        &mut self,
        part: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        put!(self, self.sink.string_part(part, total, first, last));
    }

    fn zmember(&mut self, member: Str<'_>, score: f64) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        put!(
            self,
            self.sink.zmember(member.as_bytes(&mut self.sa), score)
        );
    }

    fn hash_field(
        &mut self,
        field: Str<'_>,
        value: Str<'_>,
        expire_ms: Option<i64>,
    ) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        let mut expire_ms = expire_ms;
        if expire_ms.is_some() && !self.target.field_ttls() {
            if !self.key_ttls_dropped {
                self.key_ttls_dropped = true;
                let why = format!(
                    "hash field TTLs: RDB {} has none (RDB 12, Valkey 80)",
                    self.target.version
                );
                let (db, key) = (self.pos.db, self.pos.key.clone());
                self.cannot(self.opts.lossy.field_ttls, db, &key, why);
            }
            if self.opts.lossy.field_ttls {
                self.out.dropped_field_ttls += 1;
                expire_ms = None;
            } else {
                self.skipping = true;
                return Ok(());
            }
        }
        put!(
            self,
            self.sink.hash_field(
                field.as_bytes(&mut self.sa),
                value.as_bytes(&mut self.sb),
                expire_ms
            )
        );
    }

    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        self.first_entry.get_or_insert(id);
        if self.check_pel {
            if self.entry_ids.len() < MAX_REMEMBERED_IDS {
                self.entry_ids.push(id);
            } else {
                self.ids_complete = false;
            }
        }
        put!(self, self.sink.stream_entry(id, fields));
    }

    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        put!(
            self,
            self.sink
                .stream_field(name.as_bytes(&mut self.sa), value.as_bytes(&mut self.sb))
        );
    }

    fn stream_meta(&mut self, meta: &StreamMeta) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        if self.stream_sv < 2 {
            if meta
                .first_id
                .is_some_and(|f| f != self.first_entry.unwrap_or_default())
            {
                self.key_meta_dropped.push("first-id");
            }
            if meta
                .max_deleted_id
                .is_some_and(|m| m != StreamId::default())
            {
                self.key_meta_dropped.push("max-deleted-id");
            }
            if meta.entries_added.is_some_and(|n| n != meta.length) {
                self.key_meta_dropped.push("entries-added");
            }
        }
        if meta.stored_nodes.is_some() {
            let src = self.opts.raw_source.as_ref().ok_or(Error::CannotCopy)?;
            put!(self, self.sink.stream_meta_stored(src, meta));
        }
        put!(self, self.sink.stream_meta(meta));
    }

    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        if self.stream_sv < 2 && entries_read.is_some() {
            self.key_meta_dropped.push("group entries-read");
        }
        put!(
            self,
            self.sink
                .stream_group(name.as_bytes(&mut self.sa), last_id, entries_read, pending)
        );
    }

    fn stream_pending(
        &mut self,
        id: StreamId,
        delivery_time_ms: i64,
        delivery_count: u64,
    ) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        put!(
            self,
            self.sink
                .stream_pending(id, delivery_time_ms, delivery_count)
        );
    }

    fn stream_consumers(&mut self, count: u64) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        put!(self, self.sink.stream_consumers(count));
    }

    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        if self.stream_sv < 3 && active_time_ms.is_some_and(|a| a != seen_time_ms) {
            self.key_meta_dropped.push("consumer active-time");
        }
        put!(
            self,
            self.sink.stream_consumer(
                name.as_bytes(&mut self.sa),
                seen_time_ms,
                active_time_ms,
                pending
            )
        );
    }

    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), Error> {
        if self.passing_over() {
            return Ok(());
        }
        if self.check_pel && self.ids_complete && self.entry_ids.binary_search(&id).is_err() {
            self.dangling += 1;
            if self.dangling == 1 {
                self.key_meta_dropped.push("pending entries");
            }
        }
        put!(self, self.sink.stream_consumer_pending(id));
    }

    fn stream_nacked(&mut self, _: StreamId) -> Result<(), Error> {
        if !self.passing_over() {
            self.key_meta_dropped
                .push("unowned pending entries (NACK zone)");
        }
        Ok(())
    }
}
