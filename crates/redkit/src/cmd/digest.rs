//! `redkit digest`: the digest `DEBUG DIGEST` prints on a server that loaded an RDB file.

use crate::exit;
use crate::report::{json_bytes, print_json, Position};
use anyhow::{bail, Result};
use inspect::digest::{hex, DigestSink, Error as DigestError, Scores};
use rdb_parse::{drive_relayed, KeyEnd, KeyInfo, Parser, Sink, Stop, Str, StreamId};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  redkit digest dump.rdb                      the 40 hex digits, as DEBUG DIGEST prints them
  redkit digest backup.rdb.gz --json          with the key counts, for scripts
  redkit digest dump.rdb --keys > keys.jsonl   per key, as DEBUG DIGEST-VALUE: diff two of them
  redkit digest appendonlydir --until 2026-11-21T14:30:00Z
                                             the log replayed up to a restore point
  redkit digest converted.rdb --server redis-7.0
                                             what a Redis 7.0 prints after loading the file
  redkit digest old.rdb new.rdb appendonlydir
                                             a line each, as sha1sum prints them, made at once
                                             on every core; the count of distinct digests

The digest is the one the server computes over the keys it holds after loading the file: keys
already expired (a master drops them at load) and empty collections (skipped at load) are left
out, as the server leaves them out. Two files with the same digest hold the same dataset, for
that server: sorted-set scores enter it as text, `%.17g` up to Redis 7.0 and the shortest digits
from 7.2 on and in Valkey. Redis 7.4 and Valkey 9 also digest hash field TTLs, not computed yet:
--server redis-7.2 gives what a Redis 7.2 prints for such a file.

Exit status: 0 printed, 1 the file is damaged, 2 usage or I/O error (or a server not known).";

/// Print the dataset digest that DEBUG DIGEST returns on a server that loaded an RDB file or an
/// AOF.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected), or an AOF (a directory,
    /// its manifest, or a single file), replayed
    pub file: PathBuf,
    /// More files (RDBs or AOFs): all are digested at once, on every core, a line each as
    /// sha1sum prints them (`--json`: a report each and a total); the exit status is the worst
    #[arg(value_name = "MORE")]
    pub more: Vec<PathBuf>,
    /// For an AOF: replay up to the first restore point (#TS) after this time: unix seconds or
    /// RFC 3339
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_time)]
    pub until: Option<u64>,
    /// The server whose digest to compute: redis-6.0, redis-6.2, redis-7.0, redis-7.2 or
    /// valkey-8 (by default the one named in the file's redis-ver or valkey-ver field)
    #[arg(long, value_name = "SERVER", value_parser = parse_server)]
    pub server: Option<String>,
    /// Print one JSON document (digest, server, keys counted and left out) instead of the digest
    #[arg(long, conflicts_with = "keys")]
    pub json: bool,
    /// Print one JSON line per key instead: its database, name (as dump-json writes it) and the
    /// digest DEBUG DIGEST-VALUE returns for it; the dataset's digest goes to stderr
    #[arg(long)]
    pub keys: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// The servers whose digest is computed here: `%.17g` scores up to Redis 7.0, the shortest
/// digits from 7.2 on and in Valkey (Redis 7.4 and Valkey 9 add hash field TTLs to the digest,
/// not computed yet).
const KNOWN: [&str; 5] = [
    "redis-6.0",
    "redis-6.2",
    "redis-7.0",
    "redis-7.2",
    "valkey-8",
];

fn parse_server(s: &str) -> Result<String, String> {
    if KNOWN.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown server '{s}': {} (Redis 7.4 and Valkey 9 add hash field TTLs to the \
             digest, not computed yet)",
            KNOWN.join(", ")
        ))
    }
}

/// The server a `redis-ver` / `valkey-ver` field names, if its digest is known here.
fn server_of(family: &str, version: &str) -> Result<String, String> {
    let mut parts = version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    match (family, major, minor) {
        ("redis", 6, m) => Ok(format!("redis-6.{}", if m < 2 { 0 } else { 2 })),
        ("redis", 7, 0) => Ok("redis-7.0".into()),
        ("redis", 7, 2) => Ok("redis-7.2".into()),
        ("redis", ..=5, _) => Ok("redis-6.0".into()),
        ("valkey", 7 | 8, _) => Ok("valkey-8".into()),
        _ => Err(format!(
            "the file was written by {family} {version}, whose digest also covers hash field \
             TTLs, not computed yet; --server redis-7.2 gives what a Redis 7.2 prints after \
             loading the file"
        )),
    }
}

/// The digest sink, with the server chosen from the file's AUX fields when none was named.
struct Digester {
    inner: DigestSink,
    server: Option<String>,
    creator: Option<(String, String)>,
    pos: Position,
}

impl Digester {
    /// Chooses the server at the first key (AUX fields come before the keys).
    fn choose(&mut self) -> Result<(), String> {
        if self.server.is_none() {
            let (family, version) = self
                .creator
                .clone()
                .unwrap_or_else(|| ("redis".into(), "7.0".into()));
            self.server = Some(server_of(&family, &version)?);
        }
        let old = matches!(
            self.server.as_deref(),
            Some("redis-6.0" | "redis-6.2" | "redis-7.0")
        );
        self.inner.set_scores(if old {
            Scores::Printf17g
        } else {
            Scores::Shortest
        });
        Ok(())
    }
}

impl Sink for Digester {
    type Error = String;

    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), String> {
        crate::report::prefer_creator(&mut self.creator, key, value);
        Ok(())
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), String> {
        self.choose()?;
        self.pos.start(info.db, info.key);
        self.inner.key_start(info).map_err(|e| e.to_string())
    }
    fn element(&mut self, v: Str<'_>) -> Result<(), String> {
        self.inner
            .element(v)
            .map_err(|e: DigestError| e.to_string())
    }
    fn string_part(
        &mut self,
        part: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> Result<(), String> {
        self.inner
            .string_part(part, total, first, last)
            .map_err(|e| e.to_string())
    }
    fn zmember(&mut self, m: Str<'_>, score: f64) -> Result<(), String> {
        self.inner.zmember(m, score).map_err(|e| e.to_string())
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) -> Result<(), String> {
        self.inner.hash_field(f, v, ttl).map_err(|e| e.to_string())
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), String> {
        self.inner
            .stream_entry(id, fields)
            .map_err(|e| e.to_string())
    }
    fn stream_field(&mut self, n: Str<'_>, v: Str<'_>) -> Result<(), String> {
        self.inner.stream_field(n, v).map_err(|e| e.to_string())
    }
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), String> {
        self.pos.in_key = false;
        self.inner.key_end(end).map_err(|e| e.to_string())
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    if args.more.is_empty() {
        return digest_file(&args, &args.file, true).map(|(code, _)| code);
    }
    if args.keys {
        bail!("--keys takes one file: digest the files one by one");
    }
    many(&args)
}

/// Digests one file; prints the digest (or says why there is none) when `print`. Returns the
/// exit code and the report.
fn digest_file(args: &Args, file: &Path, print: bool) -> Result<(i32, Value)> {
    let bar = crate::progress::bytes_bar(args.quiet || args.json || !print);
    let input = match crate::input::resolve(file, bar.as_ref())? {
        crate::input::Resolved::Rdb(input) => {
            if args.until.is_some() {
                bail!("--until applies to an AOF input");
            }
            input
        }
        crate::input::Resolved::Aof(aof) => {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            return digest_aof(args, file, &aof, print);
        }
    };
    let crate::input::Input { reader, info } = input;
    let mut parser = Parser::new(reader);
    // A string value of any length is digested as it is read.
    parser.stream_strings(16 << 20);
    let mut d = digester(args);
    // The hashing runs on a second thread while this one reads and checks the file.
    let result = drive_relayed(&mut parser, &mut d);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let damaged = |why: String| -> Result<(i32, Value)> {
        if print {
            eprintln!("redkit: {}: {why}", info.name);
            eprintln!("redkit: no digest: the file is damaged");
        }
        Ok((
            exit::PROBLEMS,
            json!({"file": info.name, "digest": null, "error": why}),
        ))
    };
    match result {
        Ok(()) => {}
        Err(Stop::Sink(why)) => bail!("{}: {why}", info.name),
        Err(Stop::Parse(e)) if e.is_io() => bail!("cannot read {}: {e}", info.name),
        Err(Stop::Parse(e)) => {
            return damaged(match info.gzip_fault().filter(|_| e.is_truncation()) {
                Some(g) => g,
                None => d.pos.describe(&e),
            });
        }
    }
    if let Some(g) = info.check_gzip_trailer(&mut parser.into_parts().0) {
        return damaged(format!("the RDB is whole, but the gzip file is not: {g}"));
    }
    if let Err(why) = d.choose() {
        bail!("{}: {why}", info.name);
    }
    finish(args, &info.name, d, print)
}

/// Several files (RDBs or AOFs), digested at once on every core: a line each, a total, the
/// worst exit code.
fn many(args: &Args) -> Result<i32> {
    let files = crate::many::files(&args.file, &args.more);
    let (worst, reports) = crate::many::reports(
        &files,
        |f| digest_file(args, f, false),
        |f, why| json!({"file": f.display().to_string(), "digest": null, "error": why}),
    );
    let keys: u64 = reports.iter().filter_map(|r| r["keys"].as_u64()).sum();
    let digests: std::collections::BTreeSet<&str> = reports
        .iter()
        .filter_map(|r| r["digest"].as_str())
        .collect();
    let digested = reports.iter().filter(|r| r["digest"].is_string()).count();
    if args.json {
        let total = json!({"files": files.len(), "digested": digested, "keys": keys,
                           "distinct_digests": digests.len()});
        print_json(&json!({"files": reports, "total": total}))?;
        return Ok(worst);
    }
    // As sha1sum prints: the digest, two spaces, the file.
    for r in &reports {
        let file = r["file"].as_str().unwrap_or("");
        match r["digest"].as_str() {
            Some(d) => outln!("{d}  {file}"),
            None => {
                outln!("{:40}  {file}", "-");
                eprintln!("redkit: {file}: {}", r["error"].as_str().unwrap_or(""));
            }
        }
    }
    let same = match digests.len() {
        0 => "no digest".to_string(),
        1 if digested == files.len() => "all the same digest".to_string(),
        n => format!("{n} distinct digests"),
    };
    eprintln!(
        "redkit: {} files, {digested} digested, {keys} keys; {same}",
        files.len()
    );
    Ok(worst)
}

/// The digester the arguments ask for.
fn digester(args: &Args) -> Digester {
    let mut inner = DigestSink::new(Scores::Printf17g, crate::time::now_ms());
    if args.keys {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        inner = inner.with_key_digests(Box::new(move |k| {
            use std::io::Write;
            let line = json!({"db": k.db, "key": json_bytes(k.key), "digest": hex(&k.digest)});
            writeln!(out, "{line}")
        }));
    }
    Digester {
        inner,
        server: args.server.clone(),
        creator: None,
        pos: Position::default(),
    }
}

/// An AOF: replayed as the server loads it, then digested. A log does not name its server:
/// without --server, Redis 7.0's digest is computed, and that is said.
fn digest_aof(
    args: &Args,
    file: &Path,
    aof: &crate::input::Aof,
    print: bool,
) -> Result<(i32, Value)> {
    let opts = crate::replay::ReplayOptions {
        version: None,
        until: args.until,
        skip_unknown: false,
        quiet: args.quiet || args.json || !print,
    };
    let r = match crate::replay::replay(aof, &opts)? {
        Ok(r) => r,
        Err(code) => {
            let why = "the log cannot be replayed (see above)";
            return Ok((
                code,
                json!({"file": file.display().to_string(), "digest": null, "error": why}),
            ));
        }
    };
    let mut d = digester(args);
    if d.server.is_none() {
        eprintln!(
            "redkit: {}: note: a log does not name its server: the digest is Redis 7.0's \
             (--server names another)",
            file.display()
        );
        d.server = Some("redis-7.0".into());
    }
    if let Err(why) = d.choose() {
        bail!("{}: {why}", file.display());
    }
    if let Err(why) = r.ks.emit(12, &mut d) {
        bail!("{}: {why}", file.display());
    }
    finish(args, &file.display().to_string(), d, print)
}

/// The report, printed as the arguments ask when `print` (the per-key lines are written as
/// the keys are digested).
fn finish(args: &Args, name: &str, d: Digester, print: bool) -> Result<(i32, Value)> {
    let digest = hex(&d.inner.finish());
    let report = json!({
        "file": name,
        "digest": digest,
        "server": d.server,
        "keys": d.inner.keys(),
        "expired_keys_left_out": d.inner.expired,
        "empty_keys_left_out": d.inner.empty,
    });
    if !print {
        return Ok((exit::OK, report));
    }
    if args.keys {
        // The per-key lines are flushed when the sink goes.
        let keys = d.inner.keys();
        drop(d);
        eprintln!("{} keys; dataset digest {digest}", keys);
    } else if args.json {
        print_json(&report)?;
    } else {
        outln!("{digest}");
    }
    Ok((exit::OK, report))
}
