//! `redkit aof-to-rdb`: replays an AOF offline, as the server applies it when it loads the
//! file, and writes the dataset as an RDB.

use crate::cmd::convert::{parse_target, parse_version};
use crate::cmd::restore_points::aof_files;
use crate::cmd::truncate::parse_time;
use crate::fsutil::{AtomicFile, ThreadedWriter};
use anyhow::{bail, Context, Result};
use aof_parse::{AofReader, Item};
use keyspace::{Error as ApplyError, Keyspace, Loader};
use rdb_parse::escape;
use rdb_write::{RdbWriter, Target};
use std::fs::File;
use std::path::PathBuf;

const EXAMPLES: &str = "Examples:
  redkit aof-to-rdb appendonlydir -o dump.rdb                  the dataset at the end of the log
  redkit aof-to-rdb appendonlydir -o dump.rdb --until 2026-11-21T14:30:00Z
                                                               ... as of a restore point
  redkit aof-to-rdb appendonly.aof -o dump.rdb --target redis-6.2

Every form of AOF is read: a multi-part directory or its manifest, a single file, with or
without an RDB preamble. Relative times in old logs (EXPIRE, SETEX, SET EX) count from the
latest #TS annotation before them, or from the time of the run when there is none (the summary
says which). A command that cannot be applied stops the run with its file, offset and
arguments; --skip-unknown skips the unknown ones and counts them. A MULTI left open at the end
of the log is not applied, as the server does not apply it.

Applied today: strings (SET family, APPEND, SETRANGE, INCR family, SETBIT, BITOP, BITFIELD),
keys and databases (SELECT, DEL, EXPIRE family, PERSIST, RENAME, MOVE, COPY, SWAPDB,
FLUSHDB/FLUSHALL, RESTORE), lists, sets (with SINTERSTORE/SUNIONSTORE/SDIFFSTORE), sorted sets
(ZADD, ZINCRBY, ZREM, ZPOPMIN/MAX, ZREMRANGEBYRANK/SCORE/LEX, ZUNIONSTORE/ZINTERSTORE/
ZDIFFSTORE), hashes (HSET, HDEL, HINCRBY, HPEXPIREAT, HPERSIST), streams (XADD with explicit
ids, XDEL, XSETID, XACK, XCLAIM, XGROUP), MULTI/EXEC, FUNCTION LOAD/DELETE/FLUSH. Not yet:
ZRANGESTORE, GEO*STORE, HyperLogLog, SORT ... STORE, XTRIM and trimming XADD, module commands;
they stop the run (or are skipped with --skip-unknown).

Exit status: 0 written, 1 a command could not be applied or the log is damaged (nothing
written), 2 usage or I/O error.";

/// Replay an AOF offline and write the dataset as an RDB file.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The AOF: a directory, a manifest, or a single file
    pub path: PathBuf,
    /// The RDB file to write (atomically)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// RDB version to write: 7 to 12, or 80 (default: the preamble's version, else 10 for a
    /// multi-part directory and 9 for a single file)
    #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// The server to write for: redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-8, valkey-9
    #[arg(long, value_name = "SERVER", value_parser = parse_target)]
    pub target: Option<u32>,
    /// Replay up to the first restore point (#TS) after this time: unix seconds or RFC 3339
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<u64>,
    /// Skip commands that cannot be applied (counted in the summary) instead of stopping
    #[arg(long)]
    pub skip_unknown: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
    /// Set by `rewrite`, which replays into a temporary file: the summary says "Replayed".
    #[arg(skip)]
    pub for_rewrite: bool,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let (manifest, files) = aof_files(&args.path)?;
    let total: u64 = files
        .iter()
        .filter_map(|(p, _)| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    let bar = crate::progress::bytes_bar(args.quiet);
    if let Some(b) = &bar {
        b.set_length(total);
    }
    let mut ks = Keyspace::new();
    let run_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ks.now_ms = run_ms;
    let mut timestamps = 0u64;
    let mut commands = 0u64;
    let mut skipped: Vec<String> = Vec::new();
    let mut skipped_total = 0u64;
    let mut preamble_version: Option<u32> = None;
    let mut done_bytes = 0u64;
    'files: for (path, _) in &files {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let name = path.display().to_string();
        let mut r = AofReader::new(std::io::BufReader::with_capacity(1 << 20, f));
        loop {
            let item = match r.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("redkit: {name}: {e} (run redkit check-aof for details)");
                    eprintln!("redkit: nothing written");
                    return Ok(crate::exit::PROBLEMS);
                }
            };
            match item {
                Item::Preamble => {
                    let p = r.rdb().expect("a preamble has a parser");
                    let mut loader = Loader::new();
                    loop {
                        match p.next_event() {
                            Ok(Some(ev)) => {
                                if let rdb_parse::Event::Header { version, .. } = &ev {
                                    preamble_version = Some(*version);
                                }
                                if let Err(e) = loader.event(&mut ks, &ev) {
                                    bail!("{name}: the RDB preamble holds {}, which cannot be replayed", e.0);
                                }
                                if matches!(ev, rdb_parse::Event::Eof { .. }) {
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                eprintln!("redkit: {name}: RDB preamble: {e}");
                                eprintln!("redkit: nothing written");
                                return Ok(crate::exit::PROBLEMS);
                            }
                        }
                    }
                }
                Item::Timestamp { unix_secs, .. } => {
                    if args.until.is_some_and(|u| unix_secs > u) {
                        break 'files;
                    }
                    timestamps += 1;
                    ks.now_ms = unix_secs as i64 * 1000;
                }
                Item::Command(c) => {
                    let argv: Vec<&[u8]> = c.args().collect();
                    commands += 1;
                    if let Err(e) = ks.apply(&argv) {
                        let what = format!(
                            "{name} offset {}: {}: {}",
                            c.offset,
                            argv.iter()
                                .take(4)
                                .map(|a| escape(a))
                                .collect::<Vec<_>>()
                                .join(" "),
                            e
                        );
                        if args.skip_unknown && matches!(e, ApplyError::Unknown(_)) {
                            skipped_total += 1;
                            if skipped.len() < 20 {
                                skipped.push(what);
                            }
                            continue;
                        }
                        eprintln!("redkit: {what}");
                        eprintln!("redkit: nothing written (--skip-unknown skips commands that cannot be applied)");
                        return Ok(crate::exit::PROBLEMS);
                    }
                    if let Some(b) = &bar {
                        b.set_position(done_bytes + r.offset());
                    }
                }
                _ => {}
            }
        }
        done_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    let open_multi = ks.in_multi();
    let version = args
        .rdb_version
        .or(args.target)
        .or(preamble_version.filter(|v| (7..=12).contains(v)))
        // Without a preamble: what the oldest server writing that form of log loads (a
        // multi-part directory comes from Redis 7.0+, a single file from an older server).
        .unwrap_or(if manifest.is_some() { 10 } else { 9 });
    let target = Target { version };
    let ttl_keys = ks
        .dbs
        .values()
        .flat_map(|d| d.values())
        .filter(|e| matches!(&e.value, keyspace::Value::Hash(h) if h.values().any(|(_, t)| t.is_some())))
        .count();
    if ttl_keys > 0 && !target.field_ttls() {
        eprintln!("redkit: {ttl_keys} hash(es) have field TTLs, which RDB {version} cannot hold; nothing written (use --rdb-version 12)");
        return Ok(crate::exit::PROBLEMS);
    }
    let has_streams = ks
        .dbs
        .values()
        .flat_map(|d| d.values())
        .any(|e| matches!(e.value, keyspace::Value::Stream(_)));
    if has_streams && target.stream_version().is_none() {
        eprintln!(
            "redkit: the dataset has streams, which RDB {version} cannot hold; nothing written"
        );
        return Ok(crate::exit::PROBLEMS);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let out = AtomicFile::create(&args.output)?;
    let mut w = RdbWriter::new(ThreadedWriter::new(out.file()?), version, true)?;
    w.aux(
        b"redis-ver",
        crate::transcode::redis_ver(version).as_bytes(),
    )?;
    w.aux(b"redis-bits", b"64")?;
    w.aux(b"ctime", (run_ms / 1000).to_string().as_bytes())?;
    w.aux(b"aof-base", b"0")?;
    ks.write_rdb(&mut w, target)?;
    w.finish()?.finish()?;
    out.commit()?;
    eprintln!(
        "{} RDB {version}, {} key(s), {} function librar(ies) from {commands} command(s) in {} file(s){}.",
        if args.for_rewrite {
            format!("Replayed {}:", args.path.display())
        } else {
            format!("Wrote {}:", args.output.display())
        },
        ks.len(),
        ks.functions.len(),
        files.len(),
        if args.until.is_some() { " (up to --until)" } else { "" }
    );
    eprintln!(
        "Relative times counted from {}.",
        if timestamps > 0 {
            "the #TS annotations of the log"
        } else {
            "the time of this run (the log has no #TS annotation)"
        }
    );
    if open_multi {
        eprintln!("redkit: note: the log ends inside a MULTI: those commands were not applied");
    }
    if skipped_total > 0 {
        eprintln!("redkit: {skipped_total} command(s) skipped (--skip-unknown):");
        for s in &skipped {
            eprintln!("  {s}");
        }
    }
    Ok(crate::exit::OK)
}
