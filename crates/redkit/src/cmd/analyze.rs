//! `redkit analyze`: where the memory goes, as a server counts it after loading the file.

use crate::args::KeyArgs;
use crate::exit;
use crate::json::{BytesMode, Json};
use crate::output::{self, AtomicFile, Dest, Kind};
use crate::report::{human_bytes as human, json_bytes, print_json, table, Capped, Position};
use anyhow::{bail, Context, Result};
use inspect::analyze::{Analyzer, KeyRecord, Options, PerKey, Report, TopKey, TTL_BUCKETS};
use inspect::memory::{Allocator, Estimator, Server, SERVERS};
use rdb_parse::{
    drive, drive_to_first_key, KeyEnd, KeyInfo, NodeInfo, Parser, RdbType, Sink, Stop, Str,
    StreamId,
};
use serde_json::{json, Value};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const EXAMPLES: &str = "\
Examples:
  redkit analyze dump.rdb                        memory by type, prefix and TTL; the largest keys
  redkit analyze dump.rdb --server valkey-8.1    as a Valkey 8.1 counts it after loading the file
  redkit analyze dump.rdb --keys keys.csv --format csv
                                                 one row per key (redis-rdb-tools' columns too)
  redkit analyze dump.rdb --keys keys.parquet --format parquet
                                                 for DuckDB: select * from 'keys.parquet'
  redkit analyze dump.rdb --json | jq .prefixes  the whole report, for scripts
  redkit analyze backups/*.rdb                   a row per file and a total, at once on every core
  redkit analyze dump.rdb --slots 0-5460         only the keys a cluster node of those slots holds
  redkit analyze dump.rdb --key 'session:*' --type hash
                                                 only the keys of a pattern and a type
  redkit analyze dump.rdb --html memory.html     the report as a page: prefixes as a treemap
  redkit analyze backup.rdb.gz --max-key-memory 64MiB --max-key-elements 1000000
                                                 exit 1 when a key is too big (a backup pipeline)

Each key's memory is the figure `MEMORY USAGE key SAMPLES 0` gives on the named server right
after it loaded the file: the encoding the server picks at load under its default thresholds,
object and sds headers, dictionary entries and tables, listpacks, quicklist and skiplist nodes,
stream radix trees, consumer groups, each allocation rounded to the allocator's size class. A
skiplist node's level is random in the server: its expected size is used, so a single sorted
set can differ by a few percent. Keys already expired at --now (the server drops them at load)
and empty collections (skipped at load) are counted apart, not in the totals.

Sizes take K, M, G or T (powers of 1024; KiB, MB and the like are read the same way).

Exit status: 0 done, 1 the file is damaged or a --max-* limit was passed, 2 usage or I/O error.";

/// Where the memory goes: memory per key as a server counts it after loading an RDB file,
/// summed by type, prefix and time to live, with the largest keys
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected)
    pub file: PathBuf,
    /// More RDB files: all are analyzed at once, on every core, with a row each and a total;
    /// the exit status is the worst
    #[arg(value_name = "MORE")]
    pub more: Vec<PathBuf>,
    /// The server whose memory to estimate: redis-6.0, redis-6.2, redis-7.0, redis-7.2,
    /// redis-7.4, redis-8.0, valkey-7.2, valkey-8.0, valkey-8.1 or valkey-9.0 (by default the
    /// one named in the file's redis-ver or valkey-ver field)
    #[arg(long, value_name = "SERVER", value_parser = parse_server)]
    pub server: Option<Server>,
    /// The server's allocator: jemalloc (as Redis and Valkey build it: release builds and
    /// container images), jemalloc-q16 (a distribution's libjemalloc, as Debian's and Ubuntu's
    /// packages use; `INFO memory` cannot tell them apart) or libc
    #[arg(long, value_name = "ALLOCATOR", default_value = "jemalloc", value_parser = parse_allocator)]
    pub allocator: Allocator,
    /// The time expiries are compared with: unix seconds or RFC 3339 (default: now)
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_time)]
    pub now: Option<u64>,
    /// The separator of key prefixes
    #[arg(long, value_name = "SEP", default_value = ":")]
    pub sep: String,
    /// Prefix levels summed
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub depth: usize,
    /// Prefixes the table lists (the JSON report has every prefix held)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub prefixes: usize,
    /// Prefixes held at most: past it, the smaller half is folded into their parents' sums
    /// (a prefix seen again after it was folded is then counted from there on)
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub prefix_limit: usize,
    /// Keys in each list of the largest (by memory, by elements, by bytes in the file)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print one JSON document instead of tables
    #[arg(long)]
    pub json: bool,
    /// Also write one record per key to this file (`-` for stdout, then the report goes to
    /// stderr)
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// The per-key records' format: jsonl, csv (with redis-rdb-tools' memory-report columns
    /// first) or parquet (for DuckDB, Spark, Trino: a key as bytes, an expiry as unix ms)
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "jsonl",
        requires = "keys"
    )]
    pub format: KeysFormat,
    /// How JSON Lines records write keys: auto (UTF-8 as text, else {"base64": ...}) or base64
    #[arg(long, value_enum, default_value = "auto")]
    pub bytes: BytesMode,
    /// Also write the report as one self-contained HTML page (nothing fetched: a treemap of
    /// prefixes by memory, the TTL histogram, the largest keys)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Replace an existing --keys or --html file
    #[arg(long)]
    pub force: bool,
    /// Exit 1 when a key's memory passes SIZE, listing those keys
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_key_memory: Option<u64>,
    /// Exit 1 when the keys' memory in all passes SIZE
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_total_memory: Option<u64>,
    /// Exit 1 when a key has more than N elements, listing those keys
    #[arg(long, value_name = "N")]
    pub max_key_elements: Option<u64>,
    #[command(flatten)]
    pub filter: KeyArgs,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// The per-key records' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeysFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
    /// A Parquet file (uncompressed), row groups of 65,536 keys.
    Parquet,
}

fn parse_server(s: &str) -> Result<Server, String> {
    Server::by_name(s).ok_or_else(|| {
        format!(
            "unknown server '{s}': {}",
            SERVERS.map(|(n, _)| n).join(", ")
        )
    })
}

fn parse_allocator(s: &str) -> Result<Allocator, String> {
    Allocator::by_name(s)
        .ok_or_else(|| format!("unknown allocator '{s}': jemalloc, jemalloc-q16 or libc"))
}

/// A size: a number with an optional K, M, G or T (powers of 1024; `KiB`, `MB`, `m` alike).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 512M, 1.5GiB, 1048576)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("'{s}': unknown unit (K, M, G or T)")),
    };
    let bytes = v * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("'{s}' is too large"));
    }
    Ok(bytes.round() as u64)
}

/// A key over a --max-* limit.
#[derive(Debug)]
struct Offender {
    db: u64,
    key: Vec<u8>,
    memory: u64,
    elements: u64,
}

/// The analyzer, with the server chosen from the file's AUX fields when none was named.
struct Sinks {
    inner: Analyzer,
    chosen: bool,
    named: Option<Server>,
    creator: Option<(String, String)>,
    allocator: Allocator,
    pos: Position,
    /// The keys asked for (`None`: all).
    filter: Option<transcode::KeyFilter>,
    /// Whether the current key's events are passed over (filtered out).
    skipping: bool,
    /// Keys passed over.
    filtered: u64,
    /// The text of a key name stored as an integer.
    scratch: [u8; 20],
    /// The input's name, for notes.
    name: String,
}

impl Sinks {
    fn choose(&mut self) {
        if self.chosen {
            return;
        }
        self.chosen = true;
        let server = match self.named {
            Some(s) => s,
            None => match &self.creator {
                Some((family, version)) => {
                    let (server, nearest) = Server::nearest(family, version);
                    if nearest {
                        eprintln!(
                            "redkit: {}: note: the file was written by {family} {version}, \
                             whose memory layout is not modelled: counted as {} (--server \
                             names another)",
                            self.name,
                            server.name()
                        );
                    }
                    server
                }
                None => {
                    eprintln!(
                        "redkit: {}: note: the file does not name the server that wrote it: \
                         counted as redis-7.0 (--server names another)",
                        self.name
                    );
                    Server::Redis70
                }
            },
        };
        *self.inner.estimator_mut() = Estimator::new(server, self.allocator);
    }
}

impl Sink for Sinks {
    type Error = String;

    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), String> {
        crate::report::prefer_creator(&mut self.creator, key, value);
        Ok(())
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), String> {
        self.choose();
        self.pos.start(info.db, info.key);
        if let Some(f) = &self.filter {
            self.skipping = !f.matches(
                info.db,
                info.key.as_bytes(&mut self.scratch),
                info.value_type,
            );
            if self.skipping {
                self.filtered += 1;
                return Ok(());
            }
        }
        self.inner.key_start(info).map_err(|e| e.to_string())
    }
    fn element(&mut self, v: Str<'_>) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner.element(v).map_err(|e| e.to_string())
    }
    fn string_part(&mut self, p: &[u8], total: u64, first: bool, last: bool) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner
            .string_part(p, total, first, last)
            .map_err(|e| e.to_string())
    }
    fn string_skipped(&mut self, len: u64) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner.string_skipped(len).map_err(|e| e.to_string())
    }
    fn node(&mut self, node: &NodeInfo) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner.node(node).map_err(|e| e.to_string())
    }
    fn zmember(&mut self, m: Str<'_>, score: f64) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner.zmember(m, score).map_err(|e| e.to_string())
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner.hash_field(f, v, ttl).map_err(|e| e.to_string())
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner
            .stream_entry(id, fields)
            .map_err(|e| e.to_string())
    }
    fn stream_field(&mut self, n: Str<'_>, v: Str<'_>) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner.stream_field(n, v).map_err(|e| e.to_string())
    }
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last: StreamId,
        read: Option<u64>,
        pending: u64,
    ) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner
            .stream_group(name, last, read, pending)
            .map_err(|e| e.to_string())
    }
    fn stream_pending(&mut self, id: StreamId, t: i64, n: u64) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner
            .stream_pending(id, t, n)
            .map_err(|e| e.to_string())
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen: i64,
        active: Option<i64>,
        pending: u64,
    ) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner
            .stream_consumer(name, seen, active, pending)
            .map_err(|e| e.to_string())
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), String> {
        if self.skipping {
            return Ok(());
        }
        self.inner
            .stream_consumer_pending(id)
            .map_err(|e| e.to_string())
    }
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), String> {
        self.pos.in_key = false;
        if std::mem::take(&mut self.skipping) {
            return Ok(());
        }
        self.inner.key_end(end).map_err(|e| e.to_string())
    }
}

/// Sets the parser to skip the elements of the blobs `server` keeps as they are at load: the
/// estimate needs only their length and longest element, which the parser finds as it
/// validates them.
fn skip_kept_blobs<R: std::io::Read>(parser: &mut Parser<R>, server: Server) {
    // Intsets, listpacks of sets, sorted sets and hashes, quicklist nodes (RDB 10 on).
    for (t, up_to) in [(11, 512), (16, 512), (17, 128), (20, 128), (18, u64::MAX)] {
        parser.skip_blob_elements(RdbType(t), up_to);
    }
    if server >= Server::Redis74 && server < Server::Valkey80 {
        // Redis 7.4's listpacks with field TTLs.
        for t in [23, 25] {
            parser.skip_blob_elements(RdbType(t), 512);
        }
    }
    if server < Server::Redis70 {
        // Up to 6.2, the ziplists of sorted sets and hashes stay as they are.
        parser.skip_blob_elements(RdbType(12), 128);
        parser.skip_blob_elements(RdbType(13), 512);
    }
}

/// The columns of the Parquet records.
const PARQUET_COLUMNS: [(&str, crate::parquet::ColumnType); 9] = {
    use crate::parquet::ColumnType::*;
    [
        ("db", Int64),
        ("key", Binary),
        ("type", Utf8),
        ("encoding", Utf8),
        ("expire_at_ms", OptionalInt64),
        ("elements", Int64),
        ("rdb_bytes", Int64),
        ("memory", Int64),
        ("largest_element", Int64),
    ]
};

/// Writes the per-key records.
struct KeyWriter {
    json: Json<Box<dyn Write + Send>>,
    format: KeysFormat,
    line: Vec<u8>,
    parquet: Option<crate::parquet::ParquetWriter<Box<dyn Write + Send>>>,
}

impl KeyWriter {
    fn new(
        out: Box<dyn Write + Send>,
        format: KeysFormat,
        bytes: BytesMode,
    ) -> io::Result<KeyWriter> {
        let (json_out, parquet): (Box<dyn Write + Send>, _) = if format == KeysFormat::Parquet {
            let columns = PARQUET_COLUMNS
                .iter()
                .map(|&(name, ty)| crate::parquet::Column { name, ty })
                .collect();
            let w = crate::parquet::ParquetWriter::new(out, columns, 65_536)?;
            (Box::new(io::sink()), Some(w))
        } else {
            (out, None)
        };
        Ok(KeyWriter {
            json: Json::new(json_out, bytes),
            format,
            line: Vec::new(),
            parquet,
        })
    }

    /// Writes what is buffered (a Parquet file's last row group and footer).
    fn finish(mut self) -> io::Result<()> {
        self.json.flush()?;
        if let Some(p) = self.parquet.take() {
            p.finish()?.flush()?;
        }
        Ok(())
    }

    fn header(&mut self) -> io::Result<()> {
        if self.format == KeysFormat::Csv {
            self.json.raw(
                b"database,type,key,size_in_bytes,encoding,num_elements,len_largest_element,expiry,rdb_bytes,expire_at_ms\n",
            )?;
        }
        Ok(())
    }

    fn write(&mut self, r: &KeyRecord<'_>) -> io::Result<()> {
        match self.format {
            KeysFormat::Parquet => {
                use crate::parquet::Value as V;
                let int = |v: u64| V::Int(i64::try_from(v).unwrap_or(i64::MAX));
                let row = [
                    int(r.db),
                    V::Bytes(r.key),
                    V::Bytes(r.value_type.name().as_bytes()),
                    V::Bytes(r.encoding.as_bytes()),
                    r.expire_ms.map_or(V::Null, V::Int),
                    int(r.elements),
                    int(r.rdb_bytes),
                    int(r.memory),
                    int(r.largest_element),
                ];
                self.parquet
                    .as_mut()
                    .expect("a Parquet writer for the Parquet format")
                    .write_row(&row)
            }
            KeysFormat::Jsonl => {
                let j = &mut self.json;
                j.raw(b"{\"db\":")?;
                j.uint(r.db)?;
                j.raw(b",\"key\":")?;
                j.bytes(r.key)?;
                j.raw(b",\"type\":\"")?;
                j.raw(r.value_type.name().as_bytes())?;
                j.raw(b"\",\"encoding\":\"")?;
                j.raw(r.encoding.as_bytes())?;
                j.raw(b"\",\"expire_at_ms\":")?;
                match r.expire_ms {
                    Some(ms) => j.int(ms)?,
                    None => j.raw(b"null")?,
                }
                j.raw(b",\"elements\":")?;
                j.uint(r.elements)?;
                j.raw(b",\"rdb_bytes\":")?;
                j.uint(r.rdb_bytes)?;
                j.raw(b",\"memory\":")?;
                j.uint(r.memory)?;
                j.raw(b",\"largest_element\":")?;
                j.uint(r.largest_element)?;
                j.raw(b"}\n")
            }
            KeysFormat::Csv => {
                let l = &mut self.line;
                l.clear();
                write!(l, "{},{},", r.db, r.value_type.name())?;
                csv_field(l, r.key);
                write!(
                    l,
                    ",{},{},{},{},",
                    r.memory, r.encoding, r.elements, r.largest_element
                )?;
                if let Some(ms) = r.expire_ms {
                    l.extend_from_slice(crate::time::utc_ms(ms).as_bytes());
                }
                write!(l, ",{},", r.rdb_bytes)?;
                if let Some(ms) = r.expire_ms {
                    write!(l, "{ms}")?;
                }
                l.push(b'\n');
                let line = std::mem::take(&mut self.line);
                let r = self.json.raw(&line);
                self.line = line;
                r
            }
        }
    }
}

/// A CSV field: quoted when it holds a comma, quote or line break; bytes that are not UTF-8
/// are written as `\xNN` (as redis-rdb-tools writes them).
fn csv_field(out: &mut Vec<u8>, b: &[u8]) {
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(b) {
        Ok(s) => s.into(),
        Err(_) => rdb_parse::escape(b).into(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    if args.sep.is_empty() {
        bail!("--sep must not be empty");
    }
    if args.more.is_empty() {
        return analyze_file(&args, &args.file, true).map(|(code, _)| code);
    }
    many(&args)
}

/// Analyzes one file; prints its report when `print`. Returns the exit code and the report.
fn analyze_file(args: &Args, file: &std::path::Path, print: bool) -> Result<(i32, Value)> {
    let inputs = crate::input::protect(file);
    let keys_dest = match &args.keys {
        Some(p) => Some(output::plan(p, Kind::Stream, args.force, &inputs)?),
        None => None,
    };
    let html_dest = match &args.html {
        Some(p) if p.as_os_str() == "-" => bail!("--html writes a file: name one"),
        Some(p) => Some(output::plan(p, Kind::Stream, args.force, &inputs)?),
        None => None,
    };
    let report_to_stderr = matches!(keys_dest, Some(Dest::Stdout));
    let bar = crate::progress::bytes_bar(args.quiet || !print || report_to_stderr && args.json);
    let input = match crate::input::resolve(file, bar.as_ref())? {
        crate::input::Resolved::Rdb(input) => input,
        crate::input::Resolved::Aof(_) => {
            bail!("analyze reads an RDB file; for an AOF, `redkit aof-to-rdb` makes one first")
        }
    };
    let (keys_out, atomic): (Option<Box<dyn Write + Send>>, Option<AtomicFile>) = match &keys_dest {
        Some(Dest::Path(path)) => {
            let f = AtomicFile::create(path)?;
            (Some(Box::new(f.file()?)), Some(f))
        }
        Some(Dest::Stdout) => (Some(Box::new(io::stdout())), None),
        None => (None, None),
    };
    let now_ms = match args.now {
        Some(s) => (s as i64).saturating_mul(1000),
        None => crate::time::now_ms(),
    };
    let opts = Options {
        now_ms,
        sep: args.sep.as_bytes().to_vec(),
        depth: args.depth,
        prefix_cap: args.prefix_limit,
        top: args.top,
    };
    let offenders: Arc<Mutex<Capped<Offender>>> = Arc::default();
    let mut writer = match keys_out {
        Some(w) => Some(
            KeyWriter::new(w, args.format, args.bytes).context("cannot write the key records")?,
        ),
        None => None,
    };
    if let Some(w) = writer.as_mut() {
        w.header().context("cannot write the key records")?;
    }
    let has_writer = writer.is_some();
    let writer: Arc<Mutex<Option<KeyWriter>>> = Arc::new(Mutex::new(writer));
    let (max_mem, max_el) = (args.max_key_memory, args.max_key_elements);
    // The records and the --max-* checks run where the sums run, on the second thread.
    let per_key: Option<PerKey> = if has_writer || max_mem.is_some() || max_el.is_some() {
        let (w, off) = (writer.clone(), offenders.clone());
        Some(Box::new(move |r: &KeyRecord<'_>| {
            if let Some(w) = w.lock().expect("records").as_mut() {
                w.write(r)?;
            }
            let expired = r.expire_ms.is_some_and(|ms| ms <= now_ms);
            if !expired
                && (max_mem.is_some_and(|m| r.memory > m) || max_el.is_some_and(|m| r.elements > m))
            {
                off.lock().expect("offenders").push(Offender {
                    db: r.db,
                    key: r.key.to_vec(),
                    memory: r.memory,
                    elements: r.elements,
                });
            }
            Ok(())
        }))
    } else {
        None
    };
    let filter = args.filter.key_filter()?;
    let filter = (!filter.is_all()).then_some(filter);
    let analyzer = Analyzer::new(
        Estimator::new(Server::Redis70, args.allocator),
        opts,
        per_key,
    );
    let mut sinks = Sinks {
        inner: analyzer,
        chosen: false,
        named: args.server,
        creator: None,
        allocator: args.allocator,
        pos: Position::default(),
        filter,
        skipping: false,
        filtered: 0,
        scratch: [0; 20],
        name: input.info.name.clone(),
    };
    let crate::input::Input { reader, info } = input;
    let mut parser = Parser::new(reader);
    parser.stream_strings(16 << 20);
    parser.report_nodes(true);
    // A string longer than 20 bytes cannot be an integer: its length is all the estimate needs.
    parser.skip_long_strings(20);
    // The header and AUX fields name the server; then the blobs it keeps as they are (small
    // enough not to become hashtables) are read without an event per element.
    let result = drive_to_first_key(&mut parser, &mut sinks).and_then(|started| {
        if started {
            skip_kept_blobs(&mut parser, sinks.inner.estimator_mut().server());
            drive(&mut parser, &mut sinks)
        } else {
            Ok(())
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let damaged = match result {
        Ok(()) => info
            .check_gzip_trailer(&mut parser.into_parts().0)
            .map(|g| format!("the RDB is whole, but the gzip file is not: {g}")),
        Err(Stop::Sink(why)) => {
            return Err(anyhow::anyhow!(why)).context("cannot write the key records")
        }
        Err(Stop::Parse(e)) if e.is_io() => bail!("cannot read {}: {e}", info.name),
        Err(Stop::Parse(e)) => Some(match info.gzip_fault().filter(|_| e.is_truncation()) {
            Some(g) => g,
            None => sinks.pos.describe(&e),
        }),
    };
    sinks.choose();
    let server = sinks.inner.estimator_mut().server();
    // The sums end when every key was handed over: the records are then complete.
    let report = sinks
        .inner
        .into_report()
        .context("cannot write the key records")?;
    if let Some(w) = writer.lock().expect("records").take() {
        w.finish().context("cannot write the key records")?;
    }
    if let Some(f) = atomic {
        if damaged.is_some() {
            f.keep_partial()?;
        } else {
            f.commit()?;
        }
    }
    let offenders = std::mem::take(&mut *offenders.lock().expect("offenders"));
    let over_total = args.max_total_memory.filter(|&m| report.total.memory > m);
    let ctx = Shown {
        now_ms,
        name: &info.name,
        server,
        allocator: args.allocator,
        args,
        damaged: damaged.as_deref(),
        offenders: &offenders,
        over_total,
        filtered: sinks.filtered,
    };
    if let Some(Dest::Path(path)) = &html_dest {
        let f = AtomicFile::create(path)?;
        let mut w = io::BufWriter::new(f.file()?);
        crate::html::write_page(&mut w, &to_json(&report, &ctx))
            .and_then(|()| w.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        drop(w);
        f.commit()?;
    }
    let code = if damaged.is_some() || offenders.total > 0 || over_total.is_some() {
        exit::PROBLEMS
    } else {
        exit::OK
    };
    let v = to_json(&report, &ctx);
    if !print {
        return Ok((code, v));
    }
    if args.json {
        if report_to_stderr {
            eprintln!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print_json(&v)?;
        }
    } else {
        let text = to_text(&report, &ctx);
        if report_to_stderr {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    if let Some(d) = &damaged {
        eprintln!("redkit: {}: {d}", info.name);
        eprintln!("redkit: the file is damaged: the report covers the keys before the damage");
    }
    Ok((code, v))
}

/// Several files, analyzed at once on every core: a row each, a total, the worst exit code.
fn many(args: &Args) -> Result<i32> {
    if args.keys.is_some() || args.html.is_some() {
        bail!("--keys and --html take one file: analyze the files one by one");
    }
    let files = crate::many::files(&args.file, &args.more);
    let (worst, reports) = crate::many::reports(
        &files,
        |f| analyze_file(args, f, false),
        |f, why| json!({"file": f.display().to_string(), "complete": false, "error": why}),
    );
    let mut total = [0u64; 4];
    for report in &reports {
        for (t, k) in total.iter_mut().zip(["keys", "memory", "rdb_bytes"]) {
            *t += report["total"][k].as_u64().unwrap_or(0);
        }
        total[3] += report["expired"]["keys"].as_u64().unwrap_or(0);
    }
    let [keys, memory, rdb_bytes, expired] = total;
    if args.json {
        let total = json!({"files": files.len(), "keys": keys, "memory": memory,
                           "rdb_bytes": rdb_bytes, "expired_keys": expired});
        print_json(&json!({"files": reports, "total": total}))?;
        return Ok(worst);
    }
    let mut t = table();
    t.set_header([
        "file", "server", "keys", "memory", "in file", "expired", "problem",
    ]);
    let right =
        |v: String| comfy_table::Cell::new(v).set_alignment(comfy_table::CellAlignment::Right);
    for r in &reports {
        let mut problem = r["error"].as_str().unwrap_or("").to_string();
        if r["limits"]["keys_over"].as_u64().unwrap_or(0) > 0 || r["limits"]["total_over"] == true {
            problem = format!("{problem} over a --max-* limit").trim().to_string();
        }
        t.add_row(vec![
            comfy_table::Cell::new(r["file"].as_str().unwrap_or("")),
            comfy_table::Cell::new(r["server"].as_str().unwrap_or("")),
            right(r["total"]["keys"].as_u64().unwrap_or(0).to_string()),
            right(human(r["total"]["memory"].as_u64().unwrap_or(0))),
            right(human(r["total"]["rdb_bytes"].as_u64().unwrap_or(0))),
            right(r["expired"]["keys"].as_u64().unwrap_or(0).to_string()),
            comfy_table::Cell::new(problem),
        ]);
    }
    t.add_row(vec![
        comfy_table::Cell::new(format!("{} files", files.len())),
        comfy_table::Cell::new(""),
        right(keys.to_string()),
        right(human(memory)),
        right(human(rdb_bytes)),
        right(expired.to_string()),
        comfy_table::Cell::new(""),
    ]);
    outln!("{t}");
    Ok(worst)
}

/// What the report says beside the sums.
struct Shown<'a> {
    /// The time expiries were compared with, unix ms.
    now_ms: i64,
    name: &'a str,
    server: Server,
    allocator: Allocator,
    args: &'a Args,
    damaged: Option<&'a str>,
    offenders: &'a Capped<Offender>,
    over_total: Option<u64>,
    /// Keys left out by the key filters.
    filtered: u64,
}

fn top_json(keys: &[TopKey]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| {
                json!({
                    "db": k.db,
                    "key": json_bytes(&k.key),
                    "type": k.value_type,
                    "encoding": k.encoding,
                    "memory": k.memory,
                    "elements": k.elements,
                    "rdb_bytes": k.rdb_bytes,
                    "largest_element": k.largest_element,
                })
            })
            .collect(),
    )
}

fn totals_json(t: &inspect::analyze::Totals) -> Value {
    json!({"keys": t.keys, "memory": t.memory, "rdb_bytes": t.rdb_bytes, "elements": t.elements})
}

fn to_json(r: &Report, c: &Shown<'_>) -> Value {
    let by_type: Vec<Value> = r
        .by_type()
        .iter()
        .map(|((db, t, e), s)| {
            json!({"db": db, "type": t, "encoding": e, "keys": s.keys, "memory": s.memory,
                   "rdb_bytes": s.rdb_bytes, "elements": s.elements})
        })
        .collect();
    let ttl: Vec<Value> = TTL_BUCKETS
        .iter()
        .zip(&r.ttl)
        .map(|(b, s)| json!({"bucket": b, "keys": s.keys, "memory": s.memory}))
        .collect();
    let tree = &r.prefixes;
    let prefixes: Vec<Value> = tree
        .prefixes()
        .iter()
        .map(|(p, s)| {
            let mut v = json!({
                "prefix": json_bytes(p),
                "parent": json_bytes(tree.parent_of(p)),
                "keys": s.keys,
                "memory": s.memory,
                "keys_without_ttl": s.keys_without_ttl,
            });
            if let Some(o) = tree.other(p) {
                v["other"] = json!({"keys": o.keys, "memory": o.memory,
                                     "keys_without_ttl": o.keys_without_ttl});
            }
            v
        })
        .collect();
    let top_other = tree.other(b"").map(
        |o| json!({"keys": o.keys, "memory": o.memory, "keys_without_ttl": o.keys_without_ttl}),
    );
    let offenders: Vec<Value> = c
        .offenders
        .kept
        .iter()
        .map(|o| json!({"db": o.db, "key": json_bytes(&o.key), "memory": o.memory, "elements": o.elements}))
        .collect();
    json!({
        "file": c.name,
        "server": c.server.name(),
        "allocator": c.allocator.name(),
        "complete": c.damaged.is_none(),
        "error": c.damaged,
        "total": totals_json(&r.total),
        "expired": totals_json(&r.expired),
        "empty_keys": r.empty,
        "filtered_out": c.filtered,
        "by_type": by_type,
        "ttl": ttl,
        "prefix_separator": String::from_utf8_lossy(tree.sep()),
        "prefixes": prefixes,
        "prefixes_other": top_other,
        "unprefixed": {"keys": tree.unprefixed.keys, "memory": tree.unprefixed.memory,
                       "keys_without_ttl": tree.unprefixed.keys_without_ttl},
        "prefixes_folded": tree.folded,
        "top": {
            "memory": top_json(&r.top_memory.sorted()),
            "elements": top_json(&r.top_elements.sorted()),
            "rdb_bytes": top_json(&r.top_rdb_bytes.sorted()),
        },
        "limits": {
            "max_key_memory": c.args.max_key_memory,
            "max_key_elements": c.args.max_key_elements,
            "max_total_memory": c.args.max_total_memory,
            "keys_over": c.offenders.total,
            "keys_over_listed": offenders,
            "total_over": c.over_total.is_some(),
        },
    })
}

fn key_text(db: u64, key: &[u8]) -> String {
    let k = match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => rdb_parse::escape(key),
    };
    let k = if k.chars().count() > 60 {
        format!("{}…", k.chars().take(59).collect::<String>())
    } else {
        k
    };
    if db == 0 {
        k
    } else {
        format!("{k} (db {db})")
    }
}

fn to_text(r: &Report, c: &Shown<'_>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} keys, {} as {} ({}) counts them after loading the file; {} in the file",
        c.name,
        r.total.keys,
        human(r.total.memory),
        c.server.name(),
        c.allocator.name(),
        human(r.total.rdb_bytes),
    );
    if c.filtered > 0 {
        let _ = writeln!(s, "left out by the key filters: {} keys", c.filtered);
    }
    if r.expired.keys > 0 || r.empty > 0 {
        let _ = writeln!(
            s,
            "not counted: {} keys already expired ({} if they were loaded), {} empty collections",
            r.expired.keys,
            human(r.expired.memory),
            r.empty
        );
    }
    let mut t = table();
    t.set_header([
        "db", "type", "encoding", "keys", "memory", "share", "in file", "elements",
    ]);
    for ((db, ty, enc), v) in &r.by_type() {
        t.add_row([
            db.to_string(),
            ty.to_string(),
            enc.to_string(),
            v.keys.to_string(),
            human(v.memory),
            share(v.memory, r.total.memory),
            human(v.rdb_bytes),
            v.elements.to_string(),
        ]);
    }
    let _ = writeln!(s, "\nBy type and encoding\n{t}");

    let mut t = table();
    t.set_header(["expiry", "keys", "memory", "share"]);
    for (b, v) in TTL_BUCKETS.iter().zip(&r.ttl) {
        if v.keys > 0 {
            t.add_row([
                b.to_string(),
                v.keys.to_string(),
                human(v.memory),
                if *b == "expired" {
                    "-".to_string()
                } else {
                    share(v.memory, r.total.memory)
                },
            ]);
        }
    }
    let _ = writeln!(
        s,
        "\nBy time to live (at {})\n{t}",
        crate::time::utc_ms(c.now_ms)
    );

    let tree = &r.prefixes;
    let all = tree.prefixes();
    if !all.is_empty() {
        let mut t = table();
        t.set_header(["prefix", "keys", "memory", "share", "no TTL"]);
        for (p, v) in all.iter().take(c.args.prefixes) {
            let depth = tree.level(p);
            t.add_row([
                format!("{}{}", "  ".repeat(depth.saturating_sub(1)), key_text(0, p)),
                v.keys.to_string(),
                human(v.memory),
                share(v.memory, r.total.memory),
                v.keys_without_ttl.to_string(),
            ]);
        }
        if tree.unprefixed.keys > 0 {
            t.add_row([
                "(no prefix)".to_string(),
                tree.unprefixed.keys.to_string(),
                human(tree.unprefixed.memory),
                share(tree.unprefixed.memory, r.total.memory),
                tree.unprefixed.keys_without_ttl.to_string(),
            ]);
        }
        let folded = if tree.folded > 0 {
            format!(
                "; {} small prefixes folded into their parent's sums (figures of a prefix seen \
                 again after that are lower bounds)",
                tree.folded
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "\nBy prefix ('{}', {} levels; the {} largest of {}{folded})\n{t}",
            String::from_utf8_lossy(tree.sep()),
            c.args.depth,
            all.len().min(c.args.prefixes),
            all.len(),
        );
    }
    for (title, top) in [
        ("memory", &r.top_memory),
        ("elements", &r.top_elements),
        ("bytes in the file", &r.top_rdb_bytes),
    ] {
        let keys = top.sorted();
        if keys.is_empty() {
            continue;
        }
        let mut t = table();
        t.set_header([
            "key",
            "type",
            "encoding",
            "memory",
            "elements",
            "in file",
            "largest element",
        ]);
        for k in &keys {
            t.add_row([
                key_text(k.db, &k.key),
                k.value_type.to_string(),
                k.encoding.to_string(),
                human(k.memory),
                k.elements.to_string(),
                human(k.rdb_bytes),
                human(k.largest_element),
            ]);
        }
        let _ = writeln!(s, "\nLargest keys by {title}\n{t}");
    }
    if c.offenders.total > 0 {
        let _ = writeln!(s, "\n{} keys pass a --max-key-* limit:", c.offenders.total);
        for o in &c.offenders.kept {
            let _ = writeln!(
                s,
                "  {}: {}, {} elements",
                key_text(o.db, &o.key),
                human(o.memory),
                o.elements
            );
        }
        if c.offenders.omitted() > 0 {
            let _ = writeln!(s, "  ... and {} more", c.offenders.omitted());
        }
    }
    if let Some(m) = c.over_total {
        let _ = writeln!(
            s,
            "\nThe keys' memory, {}, passes --max-total-memory {}",
            human(r.total.memory),
            human(m)
        );
    }
    s
}

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("2 KB"), Ok(2048));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn csv_quotes() {
        let mut v = Vec::new();
        csv_field(&mut v, b"a,\"b\"");
        assert_eq!(v, b"\"a,\"\"b\"\"\"");
    }
}
