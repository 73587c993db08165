//! `redkit convert`: RDB to RDB, for another server version, streaming.

use crate::filter::{FilterArgs, KeyFilter};
use crate::fsutil::{AtomicFile, ThreadedWriter};
use crate::transcode::{self, parse_lossy, Lossy, Options, RdbSink};
use anyhow::{bail, Result};
use std::path::PathBuf;

const EXAMPLES: &str = "Examples:
  redkit convert dump.rdb -o for-valkey.rdb --target valkey-8   a Redis 7.4 backup for Valkey 8
  redkit convert dump.rdb -o old.rdb --rdb-version 9            for Redis 5.0-6.2
  redkit convert dump.rdb -o users.rdb --key 'user:*' --db 0    a subset of the keys
  redkit convert dump.rdb -o moved.rdb --db-map 3:0             database 3 becomes 0
  redkit convert dump.rdb -o v7.rdb --target redis-7.0 --lossy field-ttls
                                        drop hash field TTLs (reported), keep the fields

Keys are written in the encodings the target server writes with its default settings
(listpack, ziplist, intset, quicklist, stream nodes of 100 entries / 4 KiB), so a loaded file
uses memory as the server's own would. A value already stored in such an encoding (a listpack
hash from Redis 7.0 written for Valkey 8, any string) is validated and copied as it is, LZF
compression included, unless --re-encode. Without --rdb-version or --target the source's
version is kept.

What the target cannot hold (hash field TTLs before RDB 12, streams before 9, stream metadata
before its stream version, functions before 10, module values) is listed and nothing is
written (exit 1), unless --lossy names what may go; what it dropped is then listed:
  field-ttls   write the fields without their TTLs
  stream-meta  leave out stream metadata the target's stream version cannot store
               (entries-added, max-deleted-id, group entries-read, consumer active-time)
  keys         leave out whole keys, function libraries and module data the target cannot hold
  all          all of the above

Exit status: 0 written, 1 refused or corrupt input (nothing written), 2 usage or I/O error.";

/// Convert an RDB file for another server version (or a subset of its keys), streaming.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected)
    pub file: PathBuf,
    /// The file to write (atomically: a temporary file renamed at the end)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub write: WriteArgs,
    /// Decode and re-encode every value, also those already stored as the target would store
    /// them (which are otherwise copied as they are)
    #[arg(long)]
    pub re_encode: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// The options of the commands that write keys for a server (`convert`, `rewrite`): which
/// version, what may be dropped, which keys, which databases.
#[derive(Debug, Clone, clap::Args)]
pub struct WriteArgs {
    /// RDB version of the server that will load the output: 7 to 12, or 80 (Valkey 9)
    #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// The server that will load the output: redis-6.2, redis-7.0, redis-7.2, redis-7.4,
    /// valkey-7, valkey-8, valkey-9
    #[arg(long, value_name = "SERVER", value_parser = parse_target)]
    pub target: Option<u32>,
    /// What may be dropped when the target cannot hold it: field-ttls, stream-meta, keys, all
    /// (comma-separated); dropped items are listed
    #[arg(long, value_name = "WHAT", value_parser = parse_lossy)]
    pub lossy: Option<Lossy>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Write the keys of database FROM into database TO (repeatable)
    #[arg(long, value_name = "FROM:TO", value_parser = parse_db_map)]
    pub db_map: Vec<(u64, u64)>,
}

impl WriteArgs {
    /// The RDB version asked for, if any.
    pub fn version(&self) -> Option<u32> {
        self.rdb_version.or(self.target)
    }

    /// The transcoding options these ask for (no stored values copied: see
    /// [`Options::raw_source`]).
    pub fn options(&self) -> Result<Options> {
        Ok(Options {
            version: self.version(),
            filter: KeyFilter::from_args(self.filter.clone())?,
            db_map: self.db_map.clone(),
            lossy: self.lossy.unwrap_or_default(),
            raw_source: None,
        })
    }
}

/// Parses `--rdb-version`.
pub fn parse_version(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v @ (7..=12 | 80)) => Ok(v),
        _ => Err(format!("cannot write RDB version {s:?}: 7 to 12, or 80")),
    }
}

/// Parses `--target`: the RDB version that server writes.
pub fn parse_target(s: &str) -> Result<u32, String> {
    Ok(match s {
        "redis-3.2" => 7,
        "redis-4.0" => 8,
        "redis-6.0" | "redis-6.2" | "redis-5.0" => 9,
        "redis-7.0" => 10,
        "redis-7.2" | "valkey-7" | "valkey-7.2" | "valkey-8" | "valkey-8.0" | "valkey-8.1" => 11,
        "redis-7.4" | "redis-8.0" | "redis-8.2" | "redis-8.4" => 12,
        "valkey-9" | "valkey-9.0" | "valkey-9.1" => 80,
        _ => {
            return Err(format!(
                "unknown target {s:?}: redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-7, \
                 valkey-8, valkey-9"
            ))
        }
    })
}

/// Parses `--db-map`.
pub fn parse_db_map(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once(':').ok_or("expected FROM:TO, e.g. 3:0")?;
    Ok((
        a.parse().map_err(|_| format!("bad database {a:?}"))?,
        b.parse().map_err(|_| format!("bad database {b:?}"))?,
    ))
}

/// Prints the summary of refusals and drops; returns the exit code when refused.
pub fn report(out: &transcode::Outcome) -> Option<i32> {
    if out.refused.total > 0 {
        let n = out.refused.total;
        out.refused.print(&format!(
            "redkit: {} cannot be written for RDB {}; nothing written (--lossy names what may \
             be dropped):",
            if n == 1 {
                "1 item".to_string()
            } else {
                format!("{n} items")
            },
            out.version
        ));
        return Some(crate::exit::PROBLEMS);
    }
    if out.dropped.total > 0 {
        out.dropped.print(&format!(
            "redkit: dropped (--lossy), {} item(s){}:",
            out.dropped.total,
            if out.dropped_field_ttls > 0 {
                format!(", {} field TTL(s) in all", out.dropped_field_ttls)
            } else {
                String::new()
            }
        ));
    }
    None
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let mut opts = args.write.options()?;
    if args.output.is_dir() {
        bail!("{} is a directory", args.output.display());
    }
    let bar = crate::progress::bytes_bar(args.quiet);
    let input = crate::input::open(&args.file, bar.as_ref())?;
    let out = AtomicFile::create(&args.output)?;
    let sink = ThreadedWriter::new(out.file()?);
    let spool_dir = args.output.parent().map(|p| {
        if p.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            p.to_path_buf()
        }
    });
    let mut rdb = RdbSink::new(sink, false, spool_dir);
    if !args.re_encode {
        opts.raw_source = transcode::raw_source(&args.file, &input.info);
    }
    let outcome = transcode::run(input.reader, &input.info.name, &opts, &mut rdb)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = &outcome.parse_error {
        eprintln!("redkit: {e}");
        eprintln!("redkit: nothing written");
        return Ok(crate::exit::PROBLEMS);
    }
    if let Some(code) = report(&outcome) {
        return Ok(code);
    }
    let (sink, spilled) = rdb.finish()?;
    sink.finish()?;
    out.commit()?;
    outln!(
        "Wrote {}: RDB {}, {} key(s) ({} copied as stored){}{}.",
        args.output.display(),
        outcome.version,
        outcome.keys,
        outcome.copied,
        if outcome.functions > 0 {
            format!(", {} function librar(ies)", outcome.functions)
        } else {
            String::new()
        },
        if spilled > 0 {
            format!(", {spilled} bytes of large keys held in a temporary file")
        } else {
            String::new()
        }
    );
    Ok(crate::exit::OK)
}
