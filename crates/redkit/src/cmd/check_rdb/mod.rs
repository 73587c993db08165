//! `redkit check-rdb`: does this RDB load? Checksum, structure, and what it holds.

use crate::exit;
use crate::report::{cell_text, fault_kind, json_bytes, print_json, table, Capped, Position};
use crate::time::utc;
use anyhow::{Context, Result};
use comfy_table::{Cell, CellAlignment};
use rdb_parse::dupes::{Background, KeySet, DEFAULT_BUDGET};
use rdb_parse::{
    drive, Encoding, Family, KeyEnd, KeyInfo, Parser, Sink, Stop, Str, StreamMeta, ValueType,
};
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};

mod salvage;

const EXAMPLES: &str = "\
Examples:
  redkit check-rdb dump.rdb                 summary table; exit 0 when the file is sound
  redkit check-rdb backup.rdb.gz --json     one JSON object, for CI and backup pipelines
  cat dump.rdb | redkit check-rdb -         from stdin
  redkit check-rdb backups/*.rdb            several files at once, a row each and a total
  redkit check-rdb damaged.rdb --salvage saved.rdb
                                            every intact key into a new file
  redkit check-rdb damaged.rdb --salvage saved.rdb --target redis-7.0 --json

--salvage reads the file as a conversion does; where a record fails, it looks for the next place
where records parse again: three in a row, of types the file's writer writes, with keys of text
(or the file's EOF opcode and checksum). A record whose lengths lead from the failed one to intact
records keeps the record before it; otherwise the record just before the damage goes when its
last bytes are checked by no structure (a plain string), and the first one found after it goes
unless it starts with its own expiry and a structure checks its value: the damage may have begun
inside the one, or taken the expiry of the other. What is left out is listed by offset and key,
with the byte ranges skipped. A key repeated in a database (a duplicated range) keeps its first
intact record. When only the checksum fails, every key is kept and the one damaged byte that
explains the checksum is looked for (--suspect-report lists it and its key); a function library
holding it is left out (a server refuses a file whose library does not load). A damaged header is
read as the version the AUX fields or the types found show. The output is written to a temporary
file, synced and renamed; an existing file is replaced only with --force.

Exit status: 0 valid (with --salvage: nothing needed skipping, the copy is written), 1 corrupt or
truncated (with --salvage: the intact records are written), 2 usage or I/O error.";

/// Check that an RDB file is sound: structure, every inner encoding, and the CRC64.
///
/// Reads a sound file once, in bounded memory, validating as deeply as Redis with
/// `sanitize-dump-payload yes`. Prints what the file holds (version, creator, keys per database,
/// type and encoding, the largest keys) and the first problem found, with its byte offset and
/// the key it is in. One file's listpacks, ziplists and intsets are checked on a second core
/// while it is read; when one of them is damaged, the file is read a second time with every
/// check in line, to say where.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected)
    pub file: PathBuf,
    /// More RDB files: all are checked at once, on every core, with a row each and a total;
    /// the exit status is the worst
    #[arg(value_name = "MORE")]
    pub more: Vec<PathBuf>,
    /// Print one JSON object instead of tables
    #[arg(long)]
    pub json: bool,
    /// How many of the largest keys to list
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Read an RDB version newer than any known of its family as the newest known one (as
    /// Valkey's `rdb-version-check relaxed`); an opcode or type it does not have still fails
    #[arg(long)]
    pub relaxed_version: bool,
    /// Write every key that parses and validates into OUT.rdb (a new file: temp, fsync,
    /// rename), resuming after each damaged place; exit 1 when anything needed skipping
    #[arg(long, value_name = "OUT.rdb")]
    pub salvage: Option<PathBuf>,
    /// With --salvage: the server that will load the output (as `convert --target`; by
    /// default the source's version)
    #[arg(long, value_name = "SERVER", value_parser = crate::args::parse_target, requires = "salvage")]
    pub target: Option<u32>,
    /// With --salvage: the RDB version to write, 7 to 12 or 80
    #[arg(long, value_name = "N", value_parser = crate::args::parse_version, requires = "salvage", conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// With --salvage: what may be dropped when the target cannot hold it (as `convert
    /// --lossy`)
    #[arg(long, value_name = "WHAT", value_parser = transcode::parse_lossy, requires = "salvage")]
    pub lossy: Option<transcode::Lossy>,
    /// With --salvage: when only the checksum fails, find the one damaged byte that explains
    /// it, if one does, and the key that holds it
    #[arg(long, requires = "salvage")]
    pub suspect_report: bool,
    /// With --salvage: replace an existing output file
    #[arg(long, requires = "salvage")]
    pub force: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Default)]
struct DbStats {
    keys: u64,
    expires: u64,
    resize_hint: Option<(u64, u64)>,
}

#[derive(Default)]
struct TypeStats {
    keys: u64,
    bytes: u64,
    elements: u64,
}

/// A map for the databases and type/encoding pairs, looked up once per key of the file: a
/// handful in a real file, where a linear scan with the last hit first beats a tree; a file
/// with many (an attacker's 100,000 SELECTDBs) switches to a hash index, so that the time stays
/// linear.
struct SmallMap<K, V> {
    items: Vec<(K, V)>,
    last: usize,
    index: Option<std::collections::HashMap<K, usize>>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            items: Vec::new(),
            last: 0,
            index: None,
        }
    }
}

/// Entries searched linearly at most.
const LINEAR_ENTRIES: usize = 32;

impl<K: PartialEq + Ord + Clone + std::hash::Hash, V: Default> SmallMap<K, V> {
    fn entry(&mut self, k: K) -> &mut V {
        if self.items.get(self.last).is_none_or(|(lk, _)| *lk != k) {
            let found = match &self.index {
                Some(ix) => ix.get(&k).copied(),
                None => self.items.iter().position(|(lk, _)| *lk == k),
            };
            self.last = match found {
                Some(i) => i,
                None => {
                    self.items.push((k.clone(), V::default()));
                    let i = self.items.len() - 1;
                    match &mut self.index {
                        Some(ix) => {
                            ix.insert(k, i);
                        }
                        None if self.items.len() > LINEAR_ENTRIES => {
                            self.index = Some(
                                self.items
                                    .iter()
                                    .enumerate()
                                    .map(|(i, (k, _))| (k.clone(), i))
                                    .collect(),
                            );
                        }
                        None => {}
                    }
                    i
                }
            };
        }
        &mut self.items[self.last].1
    }

    fn sorted(&self) -> Vec<&(K, V)> {
        let mut v: Vec<_> = self.items.iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[derive(Default)]
struct Stats {
    version: u32,
    family: &'static str,
    /// The first [`KEPT_NAMES`] AUX fields; `aux_fields` counts them all.
    aux: Vec<(String, String)>,
    aux_fields: u64,
    dbs: SmallMap<u64, DbStats>,
    types: SmallMap<(ValueType, Encoding), TypeStats>,
    functions: Vec<String>,
    modules: BTreeMap<String, u64>,
    module_aux: Vec<String>,
    keys: u64,
    expired: u64,
    empty_keys: u64,
    /// Records whose key repeats an earlier key of the same database.
    duplicate_keys: u64,
    /// What a server loads but is not as it writes it, per key.
    key_warnings: Capped<String>,
    fields_with_ttl: u64,
    by_elements: Ranked,
    by_bytes: Ranked,
    checksum: Option<(Option<u64>, u64)>,
}

/// The N largest keys by some size: a min-heap, with its smallest size cached so that most keys
/// are turned away with one comparison.
/// (size, db, key, type name)
type RankedKey = (u64, u64, Vec<u8>, &'static str);

#[derive(Default)]
struct Ranked {
    heap: BinaryHeap<Reverse<RankedKey>>,
    floor: u64,
}

impl Ranked {
    /// Offers a key; most are turned away by the first comparison, kept inline.
    #[inline(always)]
    fn push(&mut self, n: usize, size: u64, db: u64, key: &[u8], t: &'static str) {
        if n == 0 || (self.heap.len() == n && size <= self.floor) {
            return;
        }
        self.insert(n, size, db, key, t);
    }

    #[inline(never)]
    fn insert(&mut self, n: usize, size: u64, db: u64, key: &[u8], t: &'static str) {
        if self.heap.len() == n {
            self.heap.pop();
        }
        self.heap.push(Reverse((size, db, key.to_vec(), t)));
        if self.heap.len() == n {
            self.floor = self.heap.peek().map_or(0, |Reverse(m)| m.0);
        }
    }

    /// Largest first.
    fn sorted(&self) -> Vec<RankedKey> {
        let mut v: Vec<_> = self.heap.iter().map(|Reverse(x)| x.clone()).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        v
    }
}

fn lossy(s: Str<'_>) -> String {
    String::from_utf8_lossy(&s.to_vec()).into_owned()
}

fn library_name(code: &[u8]) -> String {
    let first = code.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    first
        .split_whitespace()
        .find_map(|t| t.strip_prefix("name=").map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// AUX fields, function library names, module names and databases listed in the report at
/// most: a real file has a few; the rest of a forged file's millions are only counted.
const KEPT_NAMES: usize = 1000;

/// The sink of `check-rdb`: counts and ranks what the file holds.
struct Checker {
    st: Stats,
    pos: Position,
    key_offset: u64,
    key_type: (ValueType, Encoding),
    now_ms: i64,
    top: usize,
    /// Every (db, key) seen, checked on another thread: a key twice in one database makes the
    /// file unloadable.
    keys: Background,
}

impl Sink for Checker {
    type Error = std::convert::Infallible;

    fn header(&mut self, family: Family, version: u32) -> Result<(), Self::Error> {
        self.st.version = version;
        self.st.family = family.magic();
        Ok(())
    }

    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), Self::Error> {
        self.st.aux_fields += 1;
        if self.st.aux.len() < KEPT_NAMES {
            self.st.aux.push((lossy(key), lossy(value)));
        }
        Ok(())
    }

    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<(), Self::Error> {
        self.st.dbs.entry(self.pos.db).resize_hint = Some((keys, expires));
        self.keys.expect(keys);
        Ok(())
    }

    fn select_db(&mut self, db: u64) -> Result<(), Self::Error> {
        self.pos.db = db;
        Ok(())
    }

    fn function(&mut self, code: Str<'_>) -> Result<(), Self::Error> {
        if self.st.functions.len() < KEPT_NAMES {
            self.st.functions.push(library_name(&code.to_vec()));
        }
        Ok(())
    }

    fn module_aux(&mut self, name: [u8; 9], _: u16, _: u64) -> Result<(), Self::Error> {
        if self.st.module_aux.len() < KEPT_NAMES {
            self.st
                .module_aux
                .push(String::from_utf8_lossy(&name).into_owned());
        }
        Ok(())
    }

    #[inline]
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Self::Error> {
        self.pos.start(info.db, info.key);
        self.key_offset = info.offset;
        let mut scratch = [0u8; 20];
        self.keys
            .insert(info.db, info.key.as_bytes(&mut scratch), info.offset);
        self.key_type = (info.value_type, info.encoding);
        let st = &mut self.st;
        st.keys += 1;
        let db = st.dbs.entry(info.db);
        db.keys += 1;
        if let Some(ms) = info.expire_ms {
            db.expires += 1;
            if ms < self.now_ms {
                st.expired += 1;
            }
        }
        Ok(())
    }

    fn module(&mut self, name: [u8; 9], _: u16, _: u64) -> Result<(), Self::Error> {
        let name = String::from_utf8_lossy(&name).into_owned();
        let name = if self.st.modules.len() < KEPT_NAMES || self.st.modules.contains_key(&name) {
            name
        } else {
            "(other)".to_string()
        };
        *self.st.modules.entry(name).or_default() += 1;
        Ok(())
    }

    #[inline]
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
        let (st, pos, key_type) = (&mut self.st, &mut self.pos, self.key_type);
        pos.in_key = false;
        let elements = end.elements;
        st.fields_with_ttl += end.volatile_fields;
        let bytes = end.offset - self.key_offset;
        let t = st.types.entry(key_type);
        t.keys += 1;
        t.bytes += bytes;
        t.elements += elements;
        if elements == 0 && !matches!(key_type.0, ValueType::Stream | ValueType::Module) {
            st.empty_keys += 1;
        }
        let name = key_type.0.name();
        st.by_elements
            .push(self.top, elements, pos.db, &pos.key, name);
        st.by_bytes.push(self.top, bytes, pos.db, &pos.key, name);
        Ok(())
    }

    fn stream_meta(&mut self, meta: &StreamMeta) -> Result<(), Self::Error> {
        if meta.length != meta.live_entries {
            self.st.key_warnings.push(format!(
                "db {} key {}: stream length {} but {} live entries (as Redis 5.0 \
                 pre-releases wrote; the servers load it and keep the length)",
                self.pos.db,
                rdb_parse::escape(&self.pos.key),
                meta.length,
                meta.live_entries
            ));
        }
        Ok(())
    }

    fn eof(&mut self, stored_crc: Option<u64>, computed_crc: u64) -> Result<(), Self::Error> {
        self.st.checksum = Some((stored_crc, computed_crc));
        Ok(())
    }
}

/// Whether a regular, uncompressed file ends as a complete RDB of `version` does: the EOF
/// opcode then the 8-byte checksum (RDB 5 and later).
fn ends_like_a_complete_rdb(
    path: &std::path::Path,
    info: &crate::input::InputInfo,
    version: u32,
) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Some(size) = info
        .file_size
        .filter(|&s| s >= 18 && !info.gzip && version >= 5)
    else {
        return false;
    };
    let mut tail = [0u8; 9];
    std::fs::File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(size - 9))?;
            f.read_exact(&mut tail)
        })
        .is_ok_and(|()| tail[0] == rdb_parse::opcode::EOF)
}

/// Runs the subcommand; returns the exit code.
/// Checks one file; prints its report when `print`. Returns the exit code and the report.
fn check_file(args: &Args, file: &Path, print: bool) -> Result<(i32, Value)> {
    let now_ms = crate::time::now_ms();
    // One file (several are read on every core already): its blobs are checked on a second
    // thread while it is read, where that gains (`InputInfo::blobs_aside`). A blob that fails
    // there stops the reading, and the file is read again with every check inline, for the
    // fault's offset and key (a damaged file is read twice, a sound one once).
    let mut aside = print;
    let (parser, c, info, mut error, bar) = loop {
        let bar = crate::progress::bytes_bar(args.quiet || !print);
        let crate::input::Input { reader, info } = crate::input::open(file, bar.as_ref())?;
        let mut parser = Parser::new(reader);
        parser.relaxed_version(args.relaxed_version);
        // Every check runs; only the element events are not needed here.
        parser.skip_values(true);
        parser.check_blobs_aside(aside && info.blobs_aside());
        let mut c = Checker {
            st: Stats::default(),
            pos: Position::default(),
            key_offset: 0,
            key_type: (ValueType::String, Encoding::String),
            now_ms,
            top: args.top,
            keys: Background::start(KeySet::new(DEFAULT_BUDGET, None, KEPT_NAMES)),
        };
        let error = match drive(&mut parser, &mut c) {
            Ok(()) => None,
            Err(Stop::Parse(e)) => Some(e),
            Err(Stop::Sink(never)) => match never {},
        };
        if aside && error.as_ref().is_some_and(rdb_parse::Error::is_aside_fault) {
            aside = false;
            let _ = c.keys.finish();
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            continue;
        }
        break (parser, c, info, error, bar);
    };
    let Checker {
        mut st, pos, keys, ..
    } = c;
    // A whole file may still hold a key twice in one database, which no server loads.
    let dupes = keys
        .finish()
        .context("cannot keep the keys' fingerprints in a temporary file")?;
    st.duplicate_keys = dupes.count;
    if error.is_none() {
        error = dupes.error();
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let read = parser.offset();
    let stated_version = parser.stated_version();
    let gzip_fault = info
        .gzip_fault()
        .filter(|_| error.as_ref().is_some_and(|e| e.is_truncation()));
    // A whole RDB out of a gzip file: its gzip trailer must hold too. Bytes after the RDB's
    // checksum are ignored by the servers: they are counted for a warning.
    let (trailer_fault, trailing) = match &error {
        None => {
            let (mut rest, buffered) = parser.into_parts();
            let after = info.after_content(&mut rest);
            let trailing = match (info.gzip, info.file_size) {
                (false, Some(size)) => Some((size.saturating_sub(read), false)),
                (true, _) => Some((buffered.len() as u64 + after.trailing, after.more)),
                (false, None) => None,
            };
            (after.gzip_fault, trailing)
        }
        Some(_) => (None, None),
    };
    // Reading ran out, yet the file still ends as a complete RDB does: a length or count read
    // before that point is damaged, the file is not cut short.
    let complete = error.as_ref().is_some_and(|e| e.is_truncation())
        && gzip_fault.is_none()
        && ends_like_a_complete_rdb(file, &info, st.version);
    let status = match &error {
        Some(_) if complete => "corrupt",
        Some(e) => fault_kind(e),
        None => "valid",
    };
    let mut report = json_report(args, &info, &st, &error, &pos, status, read);
    if let Some(v) = stated_version {
        if let Some(list) = report["warnings"].as_array_mut() {
            list.insert(
                0,
                json!(format!(
                    "RDB version {v} is newer than any this reader knows: read as version {} \
                     (--relaxed-version)",
                    st.version
                )),
            );
        }
    }
    if let Some((n, more)) = trailing.filter(|&(n, _)| n > 0) {
        let w = format!(
            "{}{n} bytes follow the RDB's checksum{}: the servers ignore them",
            if more { "over " } else { "" },
            if more {
                " (not all read, and the gzip trailer not checked: the RDB's own checksum holds)"
            } else {
                ""
            }
        );
        if let Some(list) = report["warnings"].as_array_mut() {
            list.push(json!(w));
        }
    }
    if let Some(g) = &gzip_fault {
        report["error"]["gzip"] = json!(g);
    }
    if complete {
        report["error"]["kind"] = json!("corrupt");
        let what = report["error"]["message"]
            .as_str()
            .unwrap_or("")
            .replace(" (file is truncated)", "");
        report["error"]["message"] = json!(format!(
            "a length or count is damaged: {what}, yet the file ends with an EOF opcode and a \
             checksum as a complete file does (it is not cut short)"
        ));
    }
    if let Some(g) = &trailer_fault {
        report["status"] = json!("corrupt");
        report["valid"] = json!(false);
        report["error"] = json!({
            "offset": read, "kind": "corrupt", "db": null, "key": null, "gzip": g,
            "message": format!("the RDB is whole, but the gzip file is not: {g}"),
        });
    }
    if print {
        if args.json {
            print_json(&report)?;
        } else {
            print_tables(&report);
        }
    }
    if let Some(g) = &trailer_fault {
        if print {
            eprintln!(
                "redkit: {}: the RDB is whole, but the gzip file is not: {g}",
                info.name
            );
        }
        return Ok((exit::PROBLEMS, report));
    }
    if let Some(e) = error.as_ref().filter(|_| print) {
        match &gzip_fault {
            Some(g) => eprintln!(
                "redkit: {}: {g}: the decoded RDB ends at offset {}",
                info.name,
                e.offset()
            ),
            None if complete => eprintln!(
                "redkit: {}: corrupt at offset {}{}: {}",
                info.name,
                e.offset(),
                if pos.in_key {
                    format!(" (db {}, key {})", pos.db, rdb_parse::escape(&pos.key))
                } else {
                    String::new()
                },
                report["error"]["message"].as_str().unwrap_or("")
            ),
            None => eprintln!("redkit: {}: {}", info.name, pos.describe(e)),
        }
        if e.offset() < 9 && crate::input::is_aof(file) {
            eprintln!(
                "redkit: hint: {} looks like an AOF: redkit check-aof {}",
                file.display(),
                file.display()
            );
        }
    }
    let code = match &error {
        None => exit::OK,
        Some(e) if e.is_io() => exit::ERROR,
        Some(_) => exit::PROBLEMS,
    };
    Ok((code, report))
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    if let Some(out) = &args.salvage {
        if !args.more.is_empty() {
            anyhow::bail!("--salvage takes one file");
        }
        return salvage::run(&args, out);
    }
    if args.more.is_empty() {
        return check_file(&args, &args.file, true).map(|(code, _)| code);
    }
    many(&args)
}

/// Several files, checked at once on every core: a row each, a total, the worst exit code.
fn many(args: &Args) -> Result<i32> {
    let files = crate::many::files(&args.file, &args.more);
    let (worst, reports) = crate::many::reports(
        &files,
        |f| check_file(args, f, false),
        |f, why| {
            json!({"file": f.display().to_string(), "status": "read-error", "valid": false,
                   "error": {"message": why}})
        },
    );
    let (mut keys, mut bytes, mut valid) = (0u64, 0u64, 0u64);
    for report in &reports {
        keys += report["keys"].as_u64().unwrap_or(0);
        bytes += report["size_bytes"].as_u64().unwrap_or(0);
        valid += u64::from(report["valid"] == true);
    }
    let total = json!({"files": files.len(), "valid": valid, "keys": keys, "bytes": bytes});
    if args.json {
        print_json(&json!({"files": reports, "total": total}))?;
    } else {
        let mut t = table();
        t.set_header(vec![
            "file",
            "verdict",
            "RDB",
            "keys",
            "size",
            "first problem",
        ]);
        for r in &reports {
            let problem = match r["error"]["message"].as_str() {
                Some(m) => match r["error"]["offset"].as_u64() {
                    Some(o) => format!("at {o}: {m}"),
                    None => m.to_string(),
                },
                None => String::new(),
            };
            t.add_row(vec![
                Cell::new(r["file"].as_str().unwrap_or("")),
                Cell::new(r["status"].as_str().unwrap_or("").to_uppercase()),
                Cell::new(
                    r["rdb_version"]
                        .as_u64()
                        .map_or(String::new(), |v| v.to_string()),
                ),
                Cell::new(r["keys"].as_u64().unwrap_or(0)).set_alignment(CellAlignment::Right),
                Cell::new(crate::report::human_bytes(
                    r["size_bytes"].as_u64().unwrap_or(0),
                ))
                .set_alignment(CellAlignment::Right),
                Cell::new(problem),
            ]);
        }
        t.add_row(vec![
            Cell::new(format!("{} files", files.len())),
            Cell::new(format!("{valid} valid")),
            Cell::new(""),
            Cell::new(keys).set_alignment(CellAlignment::Right),
            Cell::new(crate::report::human_bytes(bytes)).set_alignment(CellAlignment::Right),
            Cell::new(""),
        ]);
        outln!("{t}");
    }
    Ok(worst)
}

fn json_report(
    args: &Args,
    input: &crate::input::InputInfo,
    st: &Stats,
    error: &Option<rdb_parse::Error>,
    pos: &Position,
    status: &str,
    read: u64,
) -> Value {
    let aux: serde_json::Map<String, Value> = st
        .aux
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let creator = st
        .aux
        .iter()
        .find(|(k, _)| k == "redis-ver" || k == "valkey-ver")
        .map(|(k, v)| format!("{} {v}", if k == "valkey-ver" { "valkey" } else { "redis" }));
    let ctime = st
        .aux
        .iter()
        .find(|(k, _)| k == "ctime")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let top = |heap: &Ranked, unit: &str| -> Value {
        heap.sorted()
            .into_iter()
            .map(|(size, db, key, t)| {
                json!({"db": db, "key": json_bytes(&key), "type": t, unit: size})
            })
            .collect()
    };
    let checksum = match st.checksum {
        None => {
            json!({"status": if error.as_ref().is_some_and(|e| matches!(e.kind(), rdb_parse::ErrorKind::ChecksumMismatch{..})) {"mismatch"} else {"not-reached"}})
        }
        Some((None, computed)) => {
            json!({"status": "absent", "computed": format!("0x{computed:016x}")})
        }
        Some((Some(0), computed)) => {
            json!({"status": "disabled", "stored": "0x0000000000000000", "computed": format!("0x{computed:016x}")})
        }
        Some((Some(s), computed)) => {
            json!({"status": if s == computed {"ok"} else {"mismatch"}, "stored": format!("0x{s:016x}"), "computed": format!("0x{computed:016x}")})
        }
    };
    json!({
        "file": input.name,
        "status": status,
        "valid": error.is_none(),
        "error": error.as_ref().map(|e| json!({
            "offset": e.offset(),
            "kind": fault_kind(e),
            "message": e.kind().to_string(),
            "db": if pos.in_key { Some(pos.db) } else { None },
            "key": if pos.in_key { json_bytes(&pos.key) } else { Value::Null },
        })),
        "size_bytes": input.file_size,
        "gzip": input.gzip,
        "bytes_read": read,
        "rdb_version": st.version,
        "magic": st.family,
        "creator": creator,
        "ctime": ctime,
        "ctime_utc": ctime.map(utc),
        "aux": aux,
        "aux_fields": st.aux_fields,
        "keys": st.keys,
        "expired_keys": st.expired,
        "empty_keys": st.empty_keys,
        "duplicate_keys": st.duplicate_keys,
        "fields_with_ttl": st.fields_with_ttl,
        "database_count": st.dbs.items.len(),
        "databases": st.dbs.sorted().into_iter().take(KEPT_NAMES).map(|(db, d)| json!({
            "db": db, "keys": d.keys, "expires": d.expires,
            "resize_hint": d.resize_hint.map(|(k, e)| json!({"keys": k, "expires": e})),
        })).collect::<Vec<_>>(),
        "types": st.types.sorted().into_iter().map(|((t, enc), s)| json!({
            "type": t.name(), "encoding": enc.name(), "keys": s.keys, "elements": s.elements, "bytes": s.bytes,
        })).collect::<Vec<_>>(),
        "functions": st.functions,
        "modules": st.modules.iter().map(|(m, n)| json!({"name": m, "keys": n})).collect::<Vec<_>>(),
        "module_aux": st.module_aux,
        "largest_by_elements": top(&st.by_elements, "elements"),
        "largest_by_bytes": top(&st.by_bytes, "bytes"),
        "checksum": checksum,
        "top": args.top,
        "warnings": warnings(st),
    })
}

/// What a server may refuse, though the file is whole.
fn warnings(st: &Stats) -> Vec<String> {
    let mut w = st.key_warnings.kept.clone();
    if st.empty_keys > 0 {
        w.push(format!(
            "{} empty key(s) (a list, set, sorted set or hash of no element): the servers skip \
             them at load (Redis 7.0 and later)",
            st.empty_keys
        ));
    }
    if st.key_warnings.omitted() > 0 {
        w.push(format!(
            "... and {} more such keys",
            st.key_warnings.omitted()
        ));
    }
    if let Some(db) = st
        .dbs
        .items
        .iter()
        .map(|(db, _)| *db)
        .max()
        .filter(|&db| db >= 16)
    {
        w.push(format!(
            "database {db}: a server loads this file only with `databases` set above {db} (the \
             default is 16)"
        ));
    }
    w
}

fn print_tables(r: &Value) {
    let s = cell_text;
    let key_text = |k: &Value| match k {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut t = table();
    t.set_header(vec!["file", &s(&r["file"])]);
    let mut verdict = s(&r["status"]).to_uppercase();
    if let Some(e) = r["error"].as_object() {
        verdict = format!("{verdict} at offset {}", s(&e["offset"]));
    }
    // A file that ends before its magic has neither a format nor (a pipe) a size.
    let format = match r["magic"].as_str() {
        Some(m) if !m.is_empty() => format!("{m} RDB version {}", s(&r["rdb_version"])),
        _ => "-".to_string(),
    };
    let size = match r["size_bytes"].as_u64() {
        Some(n) => format!("{n} bytes"),
        None => "-".to_string(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("verdict", verdict),
        ("size", size),
        ("format", format),
        ("created by", s(&r["creator"])),
        ("ctime", s(&r["ctime_utc"])),
        (
            "keys",
            format!(
                "{} ({} already expired, {} empty{})",
                s(&r["keys"]),
                s(&r["expired_keys"]),
                s(&r["empty_keys"]),
                match r["duplicate_keys"].as_u64() {
                    Some(n) if n > 0 => format!(", {n} repeated in their database"),
                    _ => String::new(),
                }
            ),
        ),
        ("hash fields with TTL", s(&r["fields_with_ttl"])),
        (
            "functions",
            r["functions"]
                .as_array()
                .map(|a| a.iter().map(&s).collect::<Vec<_>>().join(", "))
                .filter(|x| !x.is_empty())
                .unwrap_or("-".into()),
        ),
        (
            "modules",
            r["modules"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| format!("{} ({} keys)", s(&m["name"]), s(&m["keys"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|x| !x.is_empty())
                .unwrap_or("-".into()),
        ),
        ("checksum", {
            let c = &r["checksum"];
            match c["status"].as_str() {
                Some("ok") => format!("ok ({})", s(&c["stored"])),
                Some("mismatch") => format!(
                    "MISMATCH (stored {}, computed {})",
                    s(&c["stored"]),
                    s(&c["computed"])
                ),
                Some("disabled") => "disabled (stored as 0, not verified)".into(),
                Some("absent") => "none (RDB before version 5)".into(),
                _ => "not reached".into(),
            }
        }),
    ];
    for (k, v) in rows {
        t.add_row(vec![Cell::new(k), Cell::new(v)]);
    }
    outln!("{t}");

    if let Some(dbs) = r["databases"].as_array().filter(|a| !a.is_empty()) {
        let mut t = table();
        t.set_header(vec!["db", "keys", "with expiry"]);
        // A table of a forged file's 100,000 databases helps nobody: the first ones, and how
        // many more (--json lists them all).
        const SHOWN: usize = 64;
        for d in dbs.iter().take(SHOWN) {
            t.add_row(vec![
                Cell::new(s(&d["db"])),
                Cell::new(s(&d["keys"])).set_alignment(CellAlignment::Right),
                Cell::new(s(&d["expires"])).set_alignment(CellAlignment::Right),
            ]);
        }
        let total = r["database_count"].as_u64().unwrap_or(dbs.len() as u64);
        if total > SHOWN as u64 {
            let shown = &dbs[..SHOWN.min(dbs.len())];
            let sum = |f: &str| shown.iter().filter_map(|d| d[f].as_u64()).sum::<u64>();
            let keys = r["keys"].as_u64().unwrap_or(0).saturating_sub(sum("keys"));
            let expires = if dbs.len() as u64 == total {
                let all = dbs
                    .iter()
                    .filter_map(|d| d["expires"].as_u64())
                    .sum::<u64>();
                (all - sum("expires")).to_string()
            } else {
                "-".to_string()
            };
            t.add_row(vec![
                Cell::new(format!("{} more", total - SHOWN as u64)),
                Cell::new(keys).set_alignment(CellAlignment::Right),
                Cell::new(expires).set_alignment(CellAlignment::Right),
            ]);
        }
        outln!("{t}");
    }
    if let Some(types) = r["types"].as_array().filter(|a| !a.is_empty()) {
        let mut t = table();
        t.set_header(vec!["type", "encoding", "keys", "elements", "bytes"]);
        for d in types {
            t.add_row(vec![
                Cell::new(s(&d["type"])),
                Cell::new(s(&d["encoding"])),
                Cell::new(s(&d["keys"])).set_alignment(CellAlignment::Right),
                Cell::new(s(&d["elements"])).set_alignment(CellAlignment::Right),
                Cell::new(s(&d["bytes"])).set_alignment(CellAlignment::Right),
            ]);
        }
        outln!("{t}");
    }
    for (field, unit) in [
        ("largest_by_elements", "elements"),
        ("largest_by_bytes", "bytes"),
    ] {
        if let Some(list) = r[field].as_array().filter(|a| !a.is_empty()) {
            let mut t = table();
            t.set_header(vec!["db", "key", "type", unit]);
            for d in list {
                t.add_row(vec![
                    Cell::new(s(&d["db"])),
                    Cell::new(key_text(&d["key"])),
                    Cell::new(s(&d["type"])),
                    Cell::new(s(&d[unit])).set_alignment(CellAlignment::Right),
                ]);
            }
            outln!("{t}");
        }
    }
    for w in r["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", s(w));
    }
}
