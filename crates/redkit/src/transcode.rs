//! RDB events to a writer of keys (an RDB file, or commands): filters, database mapping, and
//! what the target cannot hold, refused or (with `--lossy`) dropped and reported.

use crate::filter::KeyFilter;
use crate::position::Position;
use rdb_parse::{
    escape, Encoding, Event, Family, Parser, RdbType, StreamId, StreamMeta, ValueType,
};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

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

/// Where keys go: an RDB writer or a command writer.
pub trait Sink {
    /// Called once, after the source header: the target to write for.
    fn start(&mut self, target: Target) -> io::Result<()>;
    /// A function library.
    fn function(&mut self, code: &[u8]) -> io::Result<()>;
    /// Keys of `db` follow.
    fn select_db(&mut self, db: u64) -> io::Result<()>;
    /// The size hint of the selected database (RDB RESIZEDB); ignored by default.
    fn resize_db(&mut self, _keys: u64, _expires: u64) -> io::Result<()> {
        Ok(())
    }
    /// A key starts.
    fn begin(&mut self, kind: Kind, key: &[u8], meta: KeyMeta, len: Option<u64>) -> io::Result<()>;
    /// A string value, list element or set member.
    fn element(&mut self, v: &[u8]) -> io::Result<()>;
    /// A sorted-set member.
    fn zmember(&mut self, m: &[u8], score: f64) -> io::Result<()>;
    /// A hash field, with its TTL when the key is a [`Kind::HashTtl`].
    fn hash_field(&mut self, f: &[u8], v: &[u8], expire_ms: Option<i64>) -> io::Result<()>;
    /// A stream entry; its fields follow.
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()>;
    /// A field of the current stream entry.
    fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()>;
    /// The stream's metadata, after its entries.
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()>;
    /// A consumer group.
    fn stream_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()>;
    /// A group PEL entry.
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()>;
    /// The group's consumer count.
    fn stream_consumers(&mut self, n: u64) -> io::Result<()>;
    /// A consumer.
    fn stream_consumer(
        &mut self,
        name: &[u8],
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()>;
    /// A consumer's pending id.
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()>;
    /// The key ends.
    fn end(&mut self) -> io::Result<()>;
    /// Copies a key record exactly as stored in `src` (`len` bytes at `start`: its expiry,
    /// LRU/LFU opcodes, type, key and value); `false` when this sink cannot.
    fn raw_record(&mut self, _src: &File, _start: u64, _len: u64) -> io::Result<bool> {
        Ok(false)
    }
    /// Whether pending entries must name live stream entries (true for commands: XCLAIM
    /// drops an id whose entry was deleted, as after the server's own rewrite).
    fn pel_needs_entries(&self) -> bool {
        false
    }
}

/// Stream entry ids remembered per stream to find pending entries of deleted entries (16
/// bytes each: 64 MiB at most).
const MAX_REMEMBERED_IDS: usize = 4 << 20;

/// An RDB file as the sink.
pub struct RdbSink<W: Write> {
    out: Option<W>,
    w: Option<RdbWriter<W>>,
    kw: Option<KeyWriter>,
    aof_base: bool,
    spool_dir: Option<std::path::PathBuf>,
    window: Vec<u8>,
    window_start: u64,
}

impl<W: Write> RdbSink<W> {
    /// A sink writing to `out`; `aof_base` sets the `aof-base` AUX field (a multi-part AOF
    /// base). Held nodes beyond memory go to `spool_dir` (default: the temporary directory).
    pub fn new(out: W, aof_base: bool, spool_dir: Option<std::path::PathBuf>) -> Self {
        RdbSink {
            out: Some(out),
            w: None,
            kw: None,
            aof_base,
            spool_dir,
            window: Vec::new(),
            window_start: 0,
        }
    }

    fn parts(&mut self) -> (&mut RdbWriter<W>, &mut KeyWriter) {
        (
            self.w.as_mut().expect("started"),
            self.kw.as_mut().expect("started"),
        )
    }

    /// Writes EOF and the checksum; returns the output and the bytes that went through
    /// temporary files.
    pub fn finish(self) -> io::Result<(W, u64)> {
        let spilled = self.kw.as_ref().map_or(0, KeyWriter::spilled);
        let w = self.w.expect("started");
        Ok((w.finish()?, spilled))
    }
}

/// Bytes of the input read at once for copying records.
const WINDOW: usize = 1 << 20;

/// Reads up to `buf.len()` bytes at `at`; fewer only at the end of the file.
fn read_at_most(src: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The `redis-ver` AUX field a server of that RDB version writes.
pub fn redis_ver(version: u32) -> &'static str {
    match version {
        7 => "3.2.0",
        8 => "4.0.0",
        9 => "6.2.14",
        10 => "7.0.15",
        11 => "7.2.6",
        12 => "7.4.1",
        _ => "255.255.255",
    }
}

/// Writes the AUX fields redkit puts at the head of every RDB it makes: the server version
/// that reads `version`, 64 bits, the creation time (SOURCE_DATE_EPOCH, the reproducible-builds
/// convention, fixes it so that two runs write the same bytes), and whether it is an AOF base.
pub fn write_aux<W: Write>(w: &mut RdbWriter<W>, version: u32, aof_base: bool) -> io::Result<()> {
    w.aux(b"redis-ver", redis_ver(version).as_bytes())?;
    if version >= 80 {
        w.aux(b"valkey-ver", b"9.0.0")?;
    }
    w.aux(b"redis-bits", b"64")?;
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    w.aux(b"ctime", now.to_string().as_bytes())?;
    w.aux(b"used-mem", b"0")?;
    w.aux(b"aof-base", if aof_base { b"1" } else { b"0" })
}

impl<W: Write> Sink for RdbSink<W> {
    fn start(&mut self, target: Target) -> io::Result<()> {
        let mut w = RdbWriter::new(self.out.take().expect("once"), target.version, true)?;
        write_aux(&mut w, target.version, self.aof_base)?;
        let mut kw = KeyWriter::new(target);
        kw.spool(self.spool_dir.clone(), 32 << 20);
        self.w = Some(w);
        self.kw = Some(kw);
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.parts().0.function(code)
    }
    fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.parts().0.select_db(db)
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.parts().0.resize_db(keys, expires)
    }
    fn begin(&mut self, kind: Kind, key: &[u8], meta: KeyMeta, len: Option<u64>) -> io::Result<()> {
        self.parts().1.begin(kind, key, meta, len);
        Ok(())
    }
    fn element(&mut self, v: &[u8]) -> io::Result<()> {
        let (w, k) = self.parts();
        k.element(w, v)
    }
    fn zmember(&mut self, m: &[u8], score: f64) -> io::Result<()> {
        let (w, k) = self.parts();
        k.zmember(w, m, score)
    }
    fn hash_field(&mut self, f: &[u8], v: &[u8], expire_ms: Option<i64>) -> io::Result<()> {
        let (w, k) = self.parts();
        k.hash_field(w, f, v, expire_ms)
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        self.parts().1.stream_entry(id, fields)
    }
    fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.parts().1.stream_field(name, value)
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_meta(w, meta)
    }
    fn stream_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_group(w, name, last_id, entries_read, pending)
    }
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_pending(w, id, delivery_ms, count)
    }
    fn stream_consumers(&mut self, n: u64) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_consumers(w, n)
    }
    fn stream_consumer(
        &mut self,
        name: &[u8],
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_consumer(w, name, seen_ms, active_ms, pending)
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_consumer_pending(w, id)
    }
    fn end(&mut self) -> io::Result<()> {
        let (w, k) = self.parts();
        k.end(w)
    }
    fn raw_record(&mut self, src: &File, start: u64, len: u64) -> io::Result<bool> {
        let mut at = start;
        let end = start + len;
        while at < end {
            // Records follow each other: serve them from a window of the file read ahead.
            let win_end = self.window_start + self.window.len() as u64;
            if at < self.window_start || at >= win_end {
                self.window.resize(WINDOW, 0);
                let n = read_at_most(src, &mut self.window, at)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the input changed while it was read",
                    ));
                }
                self.window.truncate(n);
                self.window_start = at;
                continue;
            }
            let from = (at - self.window_start) as usize;
            let n = ((end - at) as usize).min(self.window.len() - from);
            let chunk = &self.window[from..from + n];
            self.w.as_mut().expect("started").raw(chunk)?;
            at += n as u64;
        }
        Ok(true)
    }
}

/// A sink that writes nothing: a first pass that finds what would be refused.
pub struct NullSink;

impl Sink for NullSink {
    fn start(&mut self, _: Target) -> io::Result<()> {
        Ok(())
    }
    fn function(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn select_db(&mut self, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn begin(&mut self, _: Kind, _: &[u8], _: KeyMeta, _: Option<u64>) -> io::Result<()> {
        Ok(())
    }
    fn element(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn zmember(&mut self, _: &[u8], _: f64) -> io::Result<()> {
        Ok(())
    }
    fn hash_field(&mut self, _: &[u8], _: &[u8], _: Option<i64>) -> io::Result<()> {
        Ok(())
    }
    fn stream_entry(&mut self, _: StreamId, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_field(&mut self, _: &[u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn stream_meta(&mut self, _: &StreamMeta) -> io::Result<()> {
        Ok(())
    }
    fn stream_group(&mut self, _: &[u8], _: StreamId, _: Option<u64>, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_pending(&mut self, _: StreamId, _: i64, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumers(&mut self, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumer(&mut self, _: &[u8], _: i64, _: Option<i64>, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumer_pending(&mut self, _: StreamId) -> io::Result<()> {
        Ok(())
    }
    fn end(&mut self) -> io::Result<()> {
        Ok(())
    }
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
}

/// A second handle on `path` for copying stored values, when it is a plain uncompressed file.
pub fn raw_source(path: &std::path::Path, info: &crate::input::InputInfo) -> Option<File> {
    if info.gzip || path == std::path::Path::new("-") {
        return None;
    }
    let f = File::open(path).ok()?;
    f.metadata().ok()?.is_file().then_some(f)
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
    fn push(&mut self, db: u64, key: &[u8], why: String) {
        self.total += 1;
        if self.first.len() < 50 {
            self.first.push(Item {
                db,
                key: key.to_vec(),
                why,
            });
        }
    }

    /// Prints the items under a heading, to stderr.
    pub fn print(&self, heading: &str) {
        eprintln!("{heading}");
        for r in &self.first {
            eprintln!("  db {} {}: {}", r.db, escape(&r.key), r.why);
        }
        if self.total > self.first.len() as u64 {
            eprintln!("  ... and {} more", self.total - self.first.len() as u64);
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
    /// A parse error, already described (the input is corrupt or truncated).
    pub parse_error: Option<String>,
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

/// Reads every event of `input` and writes what the options select to `sink`.
pub fn run<R: Read, S: Sink>(
    input: R,
    name: &str,
    opts: &Options,
    sink: &mut S,
) -> anyhow::Result<Outcome> {
    let mut parser = Parser::new(input);
    let mut pos = Position::default();
    let mut out = Outcome::default();
    let mut target = Target { version: 12 };
    // Per key: skip its events (filtered out, dropped or refused).
    let mut skipping = false;
    let mut writing = true;
    let mut current_db: Option<u64> = None;
    // The source's RESIZEDB hints by database, written with SELECTDB when they still hold:
    // every key kept, no two databases merged.
    let mut sizes: Vec<(u64, u64, u64)> = Vec::new();
    let keep_sizes = opts.filter.is_all() && opts.db_map.is_empty();
    let mut first_entry: Option<StreamId> = None;
    let mut key_ttls_dropped = false;
    let mut key_meta_dropped: Vec<&'static str> = Vec::new();
    let mut stream_sv = 3;
    let mut copy_types: Vec<RdbType> = Vec::new();
    // The record of the current key, when it is copied as stored.
    let mut copying: Option<u64> = None;
    let check_pel = sink.pel_needs_entries();
    let mut entry_ids: Vec<StreamId> = Vec::new();
    let mut ids_complete = true;
    let mut dangling = 0u64;
    let (mut sa, mut sb) = ([0u8; 20], [0u8; 20]);
    let map_db = |db: u64| {
        opts.db_map
            .iter()
            .find(|(from, _)| *from == db)
            .map_or(db, |(_, to)| *to)
    };
    loop {
        let ev = match parser.next_event() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) if e.is_io() => {
                anyhow::bail!("cannot read {name}: {}", pos.describe(&e));
            }
            Err(e) => {
                out.parse_error = Some(format!("{name}: {}", pos.describe(&e)));
                return Ok(out);
            }
        };
        // After the first refusal nothing will be committed: only collect the others.
        writing &= out.refused.total == 0;
        macro_rules! put {
            ($e:expr) => {
                if writing && !skipping {
                    $e.map_err(|e| anyhow::anyhow!("db {} key {}: {e}", pos.db, escape(&pos.key)))?;
                }
            };
        }
        let cannot = |out: &mut Outcome, drop: bool, db: u64, key: &[u8], why: String| {
            if drop {
                out.dropped.push(db, key, why);
            } else {
                out.refused.push(db, key, why);
            }
        };
        match ev {
            Event::Header { family, version } => {
                let v = match opts.version {
                    Some(v) => v,
                    None => default_version(family, version).map_err(anyhow::Error::msg)?,
                };
                target = Target { version: v };
                out.version = v;
                stream_sv = target.stream_version().unwrap_or(0);
                sink.start(target)?;
                if opts.raw_source.is_some() {
                    copy_types = copyable_types(family, version, v);
                    parser.skip_types(&copy_types);
                }
            }
            Event::KeyStart(info) => {
                pos.start(info.db, info.key);
                let key = info.key.as_bytes(&mut sa);
                skipping =
                    !opts.filter.is_all() && !opts.filter.matches(info.db, key, info.value_type);
                if skipping {
                    continue;
                }
                let kind = match info.value_type {
                    ValueType::String => Kind::String,
                    ValueType::List => Kind::List,
                    ValueType::Set => Kind::Set,
                    ValueType::Zset => Kind::ZSet,
                    ValueType::Hash
                        if target.field_ttls()
                            && matches!(
                                info.encoding,
                                Encoding::ListpackEx | Encoding::HashtableEx
                            ) =>
                    {
                        Kind::HashTtl
                    }
                    ValueType::Hash => Kind::Hash,
                    ValueType::Stream if stream_sv > 0 => Kind::Stream,
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
                        cannot(&mut out, opts.lossy.keys, info.db, key, why);
                        skipping = true;
                        continue;
                    }
                };
                let db = map_db(info.db);
                if current_db != Some(db) && writing {
                    sink.select_db(db)?;
                    if let Some(&(_, k, e)) = sizes.iter().find(|(d, _, _)| *d == db) {
                        sink.resize_db(k, e)?;
                    }
                    current_db = Some(db);
                }
                let meta = KeyMeta {
                    expire_ms: info.expire_ms,
                    idle_s: info.idle_s,
                    freq: info.freq,
                };
                if copy_types.contains(&info.rdb_type) {
                    copying = Some(info.offset);
                    out.keys += 1;
                    out.copied += 1;
                    continue;
                }
                first_entry = None;
                entry_ids.clear();
                ids_complete = true;
                dangling = 0;
                key_ttls_dropped = false;
                key_meta_dropped.clear();
                if matches!(info.encoding, Encoding::StreamV4 | Encoding::StreamV5) {
                    // Stream v4 (Redis 8.6) adds idempotent-producer records, which no stream
                    // version written here stores (they are read and not reported).
                    key_meta_dropped.push("IDMP settings and producer records");
                }
                put!(sink.begin(kind, key, meta, info.len));
                out.keys += 1;
            }
            _ if (skipping || copying.is_some()) && !matches!(ev, Event::KeyEnd) => {}
            Event::KeyEnd => {
                if let Some(start) = copying.take() {
                    if !skipping && writing {
                        let end = parser.offset();
                        let src = opts.raw_source.as_ref().expect("copying needs the source");
                        if !sink.raw_record(src, start, end - start)? {
                            anyhow::bail!("this output cannot copy stored values");
                        }
                    }
                    skipping = false;
                    pos.in_key = false;
                    continue;
                }
                if !skipping {
                    put!(sink.end());
                    if check_pel && !ids_complete {
                        eprintln!(
                            "redkit: db {} key {}: over {MAX_REMEMBERED_IDS} stream entries; its \
                             pending entries were not checked against deleted entries",
                            pos.db,
                            escape(&pos.key)
                        );
                    }
                    if !key_meta_dropped.is_empty() {
                        key_meta_dropped.sort_unstable();
                        key_meta_dropped.dedup();
                        let what = key_meta_dropped.join(", ");
                        cannot(
                            &mut out,
                            opts.lossy.stream_meta,
                            pos.db,
                            &pos.key.clone(),
                            if dangling > 0 {
                                format!(
                                    "stream {what}: {dangling} pending id(s) name deleted \
                                     entries, which commands cannot carry"
                                )
                            } else {
                                format!(
                                    "stream {what}: not stored by stream version {stream_sv} \
                                     (RDB {})",
                                    target.version
                                )
                            },
                        );
                    }
                }
                skipping = false;
                pos.in_key = false;
            }
            Event::Element(v) => put!(sink.element(v.as_bytes(&mut sa))),
            Event::ZMember { member, score } => put!(sink.zmember(member.as_bytes(&mut sa), score)),
            Event::HashField {
                field,
                value,
                expire_ms,
            } => {
                let mut expire_ms = expire_ms;
                if expire_ms.is_some() && !target.field_ttls() {
                    if !key_ttls_dropped {
                        key_ttls_dropped = true;
                        cannot(
                            &mut out,
                            opts.lossy.field_ttls,
                            pos.db,
                            &pos.key.clone(),
                            format!(
                                "hash field TTLs: RDB {} has none (RDB 12, Valkey 80)",
                                target.version
                            ),
                        );
                    }
                    if opts.lossy.field_ttls {
                        out.dropped_field_ttls += 1;
                        expire_ms = None;
                    } else {
                        skipping = true;
                        continue;
                    }
                }
                put!(sink.hash_field(field.as_bytes(&mut sa), value.as_bytes(&mut sb), expire_ms))
            }
            Event::StreamEntry { id, fields } => {
                first_entry.get_or_insert(id);
                if check_pel {
                    if entry_ids.len() < MAX_REMEMBERED_IDS {
                        entry_ids.push(id);
                    } else {
                        ids_complete = false;
                    }
                }
                put!(sink.stream_entry(id, fields))
            }
            Event::StreamField { name, value } => {
                put!(sink.stream_field(name.as_bytes(&mut sa), value.as_bytes(&mut sb)))
            }
            Event::StreamMeta(meta) => {
                if stream_sv < 2 {
                    if meta
                        .first_id
                        .is_some_and(|f| f != first_entry.unwrap_or_default())
                    {
                        key_meta_dropped.push("first-id");
                    }
                    if meta
                        .max_deleted_id
                        .is_some_and(|m| m != StreamId::default())
                    {
                        key_meta_dropped.push("max-deleted-id");
                    }
                    if meta.entries_added.is_some_and(|n| n != meta.length) {
                        key_meta_dropped.push("entries-added");
                    }
                }
                put!(sink.stream_meta(&meta))
            }
            Event::StreamGroup {
                name,
                last_id,
                entries_read,
                pending,
            } => {
                if stream_sv < 2 && entries_read.is_some() {
                    key_meta_dropped.push("group entries-read");
                }
                put!(sink.stream_group(name.as_bytes(&mut sa), last_id, entries_read, pending))
            }
            Event::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => put!(sink.stream_pending(id, delivery_time_ms, delivery_count)),
            Event::StreamConsumers { count } => put!(sink.stream_consumers(count)),
            Event::StreamConsumer {
                name,
                seen_time_ms,
                active_time_ms,
                pending,
            } => {
                if stream_sv < 3 && active_time_ms.is_some_and(|a| a != seen_time_ms) {
                    key_meta_dropped.push("consumer active-time");
                }
                put!(sink.stream_consumer(
                    name.as_bytes(&mut sa),
                    seen_time_ms,
                    active_time_ms,
                    pending
                ))
            }
            Event::StreamConsumerPending { id } => {
                if check_pel && ids_complete && entry_ids.binary_search(&id).is_err() {
                    dangling += 1;
                    if dangling == 1 {
                        key_meta_dropped.push("pending entries");
                    }
                }
                put!(sink.stream_consumer_pending(id))
            }
            Event::StreamNacked { .. } => {
                key_meta_dropped.push("unowned pending entries (NACK zone)")
            }
            Event::Function { code } => {
                if !target.functions() {
                    cannot(
                        &mut out,
                        opts.lossy.keys,
                        0,
                        b"(function library)",
                        format!("functions need RDB 10 or later, not {}", target.version),
                    );
                } else if writing {
                    let mut buf = Vec::new();
                    code.append_to(&mut buf);
                    sink.function(&buf)?;
                    out.functions += 1;
                }
            }
            Event::ResizeDb { keys, expires } if keep_sizes && sizes.len() < 1024 => {
                sizes.push((parser.db(), keys, expires));
            }
            Event::ModuleAux { name, .. } => cannot(
                &mut out,
                opts.lossy.keys,
                0,
                &name,
                "module aux data: its encoding belongs to the module".into(),
            ),
            _ => {}
        }
    }
    Ok(out)
}
