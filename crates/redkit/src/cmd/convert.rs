//! `redkit convert`: RDB to RDB, for another server version, streaming.

use crate::args::WriteArgs;
use crate::output::{self, AtomicFile, Dest, Kind, ThreadedWriter};
use crate::report::conversion_outcome;
use anyhow::Result;
use std::path::{Path, PathBuf};
use transcode::RdbSink;

const EXAMPLES: &str = "Examples:
  redkit convert dump.rdb -o for-valkey.rdb --target valkey-8   a Redis 7.4 backup for Valkey 8
  redkit convert dump.rdb -o old.rdb --rdb-version 9            for Redis 5.0-6.2
  redkit convert dump.rdb -o users.rdb --key 'user:*' --db 0    a subset of the keys
  redkit convert dump.rdb -o moved.rdb --db-map 3:0             database 3 becomes 0
  redkit convert dump.rdb -o v7.rdb --target redis-7.0 --lossy field-ttls
                                        drop hash field TTLs (reported), keep the fields
  redkit convert backup.rdb.gz -o - --target redis-6.2 | ssh host 'cat > dump.rdb'

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

An existing output is replaced only with --force; the input itself never is. With `-o -` the
RDB goes to standard output; when the input is a file, it is read twice (once to find what would
be refused, before anything is written).

Exit status: 0 written, 1 refused or corrupt input (nothing written), 2 usage or I/O error.";

/// Convert an RDB file for another server version (or a subset of its keys), streaming.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected)
    pub file: PathBuf,
    /// The file to write (atomically: a temporary file renamed at the end), or `-` for
    /// standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the output file if it exists
    #[arg(long)]
    pub force: bool,
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

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let mut opts = args.write.options()?;
    let inputs = crate::input::protect(&args.file);
    let dest = output::plan(&args.output, Kind::Stream, args.force, &inputs)?;
    if dest == Dest::Stdout && args.file != Path::new("-") {
        // What goes to stdout cannot be taken back: when the input can be read twice, a first
        // pass finds what would be refused before anything is written.
        let first = crate::input::open(&args.file, None)?;
        let dry = transcode::run(first.reader, &opts, &mut transcode::NullSink)?;
        if let Some(code) = conversion_outcome(&dry, &first.info)? {
            return Ok(code);
        }
    }
    let bar = crate::progress::bytes_bar(args.quiet);
    let mut input = crate::input::open(&args.file, bar.as_ref())?;
    if !args.re_encode {
        opts.raw_source = crate::input::raw_source(&args.file, &input.info);
    }
    // One run whatever the destination: a file is written under a temporary name and
    // committed, standard output is written as it goes.
    let (writer, atomic) = match &dest {
        Dest::Stdout => (ThreadedWriter::new(std::io::stdout()), None),
        Dest::Path(p) => {
            let out = AtomicFile::create(p)?;
            (ThreadedWriter::new(out.file()?), Some(out))
        }
    };
    let spool_dir = atomic.as_ref().map(AtomicFile::dir);
    opts.spill_dir = spool_dir.clone();
    let mut rdb = RdbSink::new(writer, false, crate::time::ctime(), spool_dir);
    // The records are encoded and written on a second thread while this one reads the file.
    let outcome = transcode::run_relayed(&mut input.reader, &opts, &mut rdb)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if outcome.parse_error.is_none() {
        // What follows the RDB: a wrong gzip trailer is then recorded for the verdict.
        input.info.after_content(&mut input.reader);
    }
    if let Some(code) = conversion_outcome(&outcome, &input.info)? {
        return Ok(code);
    }
    let (sink, spilled) = rdb.finish()?;
    sink.finish()?;
    let Some(out) = atomic else {
        eprintln!(
            "Wrote standard output: RDB {}, {} key(s).",
            outcome.version, outcome.keys
        );
        return Ok(crate::exit::OK);
    };
    let path = out.commit()?;
    eprintln!(
        "Wrote {}: RDB {}, {} key(s) ({} copied as stored){}{}.",
        path.display(),
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
