//! `redkit digest`: the digest `DEBUG DIGEST` prints on a server that loaded an RDB file.

use crate::exit;
use crate::report::{json_bytes, print_json, Position};
use anyhow::{bail, Result};
use inspect::digest::{hex, DigestSink, Error as DigestError, Scores};
use rdb_parse::{drive, KeyEnd, KeyInfo, Parser, Sink, Stop, Str, StreamId};
use serde_json::json;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  redkit digest dump.rdb                      the 40 hex digits, as DEBUG DIGEST prints them
  redkit digest backup.rdb.gz --json          with the key counts, for scripts
  redkit digest dump.rdb --keys > keys.jsonl   per key, as DEBUG DIGEST-VALUE: diff two of them
  redkit digest appendonlydir --until 2026-11-21T14:30:00Z
                                             the log replayed up to a restore point
  redkit digest converted.rdb --server redis-7.0
                                             what a Redis 7.0 prints after loading the file

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
    let bar = crate::progress::bytes_bar(args.quiet || args.json);
    let input = match crate::input::resolve(&args.file, bar.as_ref())? {
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
            return run_aof(&args, &aof);
        }
    };
    let crate::input::Input { reader, info } = input;
    let mut parser = Parser::new(reader);
    // A string value of any length is digested as it is read.
    parser.stream_strings(16 << 20);
    let mut d = digester(&args);
    let result = drive(&mut parser, &mut d);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(()) => {}
        Err(Stop::Sink(why)) => bail!("{}: {why}", info.name),
        Err(Stop::Parse(e)) if e.is_io() => bail!("cannot read {}: {e}", info.name),
        Err(Stop::Parse(e)) => {
            match info.gzip_fault().filter(|_| e.is_truncation()) {
                Some(g) => eprintln!("redkit: {}: {g}", info.name),
                None => eprintln!("redkit: {}: {}", info.name, d.pos.describe(&e)),
            }
            eprintln!("redkit: no digest: the file is damaged");
            return Ok(exit::PROBLEMS);
        }
    }
    if let Some(g) = info.check_gzip_trailer(&mut parser.into_parts().0) {
        eprintln!(
            "redkit: {}: the RDB is whole, but the gzip file is not: {g}",
            info.name
        );
        return Ok(exit::PROBLEMS);
    }
    if let Err(why) = d.choose() {
        bail!("{}: {why}", info.name);
    }
    print(&args, &info.name, d)
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
fn run_aof(args: &Args, aof: &crate::input::Aof) -> Result<i32> {
    let opts = crate::replay::ReplayOptions {
        version: None,
        until: args.until,
        skip_unknown: false,
        quiet: args.quiet || args.json,
    };
    let r = match crate::replay::replay(aof, &opts)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let mut d = digester(args);
    if d.server.is_none() {
        eprintln!("redkit: note: a log does not name its server: the digest is Redis 7.0's (--server names another)");
        d.server = Some("redis-7.0".into());
    }
    if let Err(why) = d.choose() {
        bail!("{}: {why}", args.file.display());
    }
    if let Err(why) = r.ks.emit(12, &mut d) {
        bail!("{}: {why}", args.file.display());
    }
    print(args, &args.file.display().to_string(), d)
}

/// Prints the digest (or the per-key lines' summary) as the arguments ask.
fn print(args: &Args, name: &str, d: Digester) -> Result<i32> {
    let digest = hex(&d.inner.finish());
    if args.keys {
        // The per-key lines are flushed when the sink goes.
        let keys = d.inner.keys();
        drop(d);
        eprintln!("{} keys; dataset digest {digest}", keys);
    } else if args.json {
        print_json(&json!({
            "file": name,
            "digest": digest,
            "server": d.server,
            "keys": d.inner.keys(),
            "expired_keys_left_out": d.inner.expired,
            "empty_keys_left_out": d.inner.empty,
        }))?;
    } else {
        outln!("{digest}");
    }
    Ok(exit::OK)
}
