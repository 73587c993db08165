//! `redkit aof-to-rdb`: replays an AOF offline, as the server applies it when it loads the
//! file, and writes the dataset as an RDB.

use crate::args::{parse_target, parse_version};
use crate::output::{self, AtomicFile, Dest, Kind, ThreadedWriter};
use crate::replay::{replay, write_rdb, ReplayOptions, WRITE_QUEUE};
use crate::time::parse_time;
use anyhow::Result;
use std::path::PathBuf;

const EXAMPLES: &str = "Examples:
  redkit aof-to-rdb appendonlydir -o dump.rdb                  the dataset at the end of the log
  redkit aof-to-rdb appendonlydir -o dump.rdb --until 2026-11-21T14:30:00Z
                                                               ... as of a restore point
  redkit aof-to-rdb appendonly.aof -o dump.rdb --target redis-6.2
  redkit aof-to-rdb appendonlydir -o - | gzip > dump.rdb.gz     to standard output

The whole dataset is held in memory while the log is replayed, as the server holds it; the
RDB is then written (atomically: a temporary file renamed at the end).

Every form of AOF is read: a multi-part directory or its manifest, a single file, with or
without an RDB preamble. Relative times in old logs (EXPIRE, SETEX, SET EX) count from the
latest #TS annotation before them, or from the time of the run when there is none (the summary
says which). A command that cannot be applied stops the run with its file, offset and
arguments; --skip-unknown skips the unknown ones and counts them. A MULTI left open at the end
of the log is not applied, as the server does not apply it.

Applied: strings (SET family, APPEND, SETRANGE, INCR family, SETBIT, BITOP, BITFIELD),
keys and databases (SELECT, DEL, EXPIRE family, PERSIST, RENAME, MOVE, COPY, SWAPDB,
FLUSHDB/FLUSHALL, RESTORE), lists, sets (with SINTERSTORE/SUNIONSTORE/SDIFFSTORE), sorted sets
(ZADD, ZINCRBY, ZREM, ZPOPMIN/MAX, ZREMRANGEBY*, ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE,
ZRANGESTORE, GEOADD, GEOSEARCHSTORE, GEORADIUS[BYMEMBER] ... STORE), SORT ... STORE, hashes
(HSET, HDEL, HINCRBY, HSETEX, HPEXPIREAT, HPERSIST), HyperLogLogs (PFADD, PFMERGE, PFCOUNT,
byte for byte), streams (XADD, XDEL, XSETID, XACK, XCLAIM, XGROUP, exact XTRIM and
MAXLEN/MINID), scripts' effects in MULTI/EXEC, FUNCTION LOAD/DELETE/FLUSH/RESTORE. Not
applied: approximate stream trimming (~, in logs of servers before 6.2), INCRBYFLOAT and
HINCRBYFLOAT as such (servers log their results as SET, HSET or HSETEX), module commands,
scripts logged as EVAL (servers before 5.0); they stop the run (or are skipped with
--skip-unknown).

Exit status: 0 written, 1 a command could not be applied or the log is damaged (nothing
written), 2 usage or I/O error.";

/// Replay an AOF offline and write the dataset as an RDB file.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The AOF: a directory, a manifest, or a single file (`-` for stdin; gzip is detected)
    pub path: PathBuf,
    /// The RDB file to write (atomically), or `-` for standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the output file if it exists
    #[arg(long)]
    pub force: bool,
    /// RDB version to write: 7 to 12, or 80 (default: the lowest that holds the dataset, from
    /// the preamble's version, else 10 for a multi-part directory and 9 for a single file)
    #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// The server to write for: redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-8, valkey-9
    #[arg(long, value_name = "SERVER", value_parser = parse_target)]
    pub target: Option<u32>,
    /// Replay up to the first restore point (#TS) after this time: unix seconds or RFC 3339
    #[arg(long, visible_alias = "to", value_name = "TIME", value_parser = parse_time)]
    pub until: Option<u64>,
    /// Skip commands that cannot be applied (counted in the summary) instead of stopping
    #[arg(long)]
    pub skip_unknown: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let inputs = crate::input::protect(&args.path);
    let dest = output::plan(&args.output, Kind::Stream, args.force, &inputs)?;
    let aof = crate::input::aof(&args.path)?;
    let opts = ReplayOptions {
        version: args.rdb_version.or(args.target),
        until: args.until,
        skip_unknown: args.skip_unknown,
        quiet: args.quiet,
    };
    let r = match replay(&aof, &opts)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    match dest {
        Dest::Stdout => {
            write_rdb(
                &r,
                ThreadedWriter::with_queue(std::io::stdout(), WRITE_QUEUE),
                false,
            )?
            .finish()?;
            r.summary("Wrote standard output:", args.until.is_some());
        }
        Dest::Path(path) => {
            let out = AtomicFile::create(&path)?;
            write_rdb(
                &r,
                ThreadedWriter::with_queue(out.file()?, WRITE_QUEUE),
                false,
            )?
            .finish()?;
            out.commit()?;
            r.summary(&format!("Wrote {}:", path.display()), args.until.is_some());
        }
    }
    r.discard();
    Ok(crate::exit::OK)
}
