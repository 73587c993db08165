//! `redkit rewrite`: an RDB file as a fresh multi-part AOF directory (an RDB or command base,
//! an empty incr file, a manifest), or as one RESP command stream for `redis-cli --pipe`.

use crate::aofdir::NewAofDir;
use crate::args::WriteArgs;
use crate::input::{Input, InputInfo, Resolved};
use crate::output::{self, AtomicFile, Dest, Kind, NamedFile, ThreadedWriter};
use crate::replay::{self, ReplayOptions, Replayed, WRITE_QUEUE};
use crate::report::conversion_outcome;
use anyhow::{bail, Result};
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use transcode::{KeySink, Options, RdbSink, RespSink};

const EXAMPLES: &str = "Examples:
  redkit rewrite dump.rdb -o appendonlydir                  an AOF directory seeded from a snapshot
  redkit rewrite dump.rdb -o appendonlydir --base aof       the base as commands, not RDB
  redkit rewrite dump.rdb --format resp -o - | redis-cli --pipe
                                                            load a snapshot into a running server
  redkit rewrite dump.rdb --format resp -o users.resp --key 'user:*'
  redkit rewrite appendonlydir -o compacted/appendonlydir      an offline BGREWRITEAOF
  redkit rewrite appendonlydir -o restored/appendonlydir --until 2026-11-21T14:30:00Z

With `-o -` and a file as input, the input is read twice: once to find what would be refused
(nothing is written then), once to write.

The directory holds <filename>.1.base.rdb (or .base.aof), an empty <filename>.1.incr.aof and
<filename>.manifest; point `appenddirname` at it (with `appendonly yes`) and the server loads
it. With --base aof or --format resp, keys are written as the commands Redis's own AOF rewrite
emits: SET, RPUSH/SADD/ZADD/HMSET of at most 64 items, PEXPIREAT for TTLs, HPEXPIREAT for field
TTLs, XADD/XSETID/XGROUP CREATE/XCLAIM for streams, FUNCTION LOAD, SELECT per database. The
command form keeps no LRU/LFU data, and stream consumers' seen and active times become the
load time, as with the server's own rewrite.

--rdb-version / --target name the server that will load the output (its RDB version for an RDB
base, the command forms it accepts otherwise); by default the source's version. What it cannot
hold is refused unless --lossy allows it, as in `redkit convert`.

Exit status: 0 written, 1 refused or corrupt input (nothing written), 2 usage or I/O error.";

/// What the base of the directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Base {
    /// An RDB file (what Redis 7+ writes with `aof-use-rdb-preamble yes`)
    Rdb,
    /// Commands (what Redis writes with `aof-use-rdb-preamble no`)
    Aof,
}

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A multi-part AOF directory (Redis 7+)
    Dir,
    /// One RESP command stream (a file, or `-` for stdout)
    Resp,
}

/// Write an RDB file, or the dataset at the end of an AOF, as a multi-part AOF directory or as
/// RESP commands.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected), or an AOF (a directory,
    /// a manifest, or a file named *.aof or starting with a command), replayed first
    pub file: PathBuf,
    /// The directory to create (must not exist, unless --force), or with --format resp the
    /// file (`-`: stdout)
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// Replace an existing output (a file, or an AOF directory)
    #[arg(long)]
    pub force: bool,
    /// What to write
    #[arg(long, value_enum, default_value_t = Format::Dir)]
    pub format: Format,
    /// The base of the directory
    #[arg(long, value_enum, default_value_t = Base::Rdb)]
    pub base: Base,
    /// The `appendfilename` the files are named after
    #[arg(long, value_name = "NAME", default_value = "appendonly.aof")]
    pub filename: String,
    #[command(flatten)]
    pub write: WriteArgs,
    /// With an RDB base: decode and re-encode every value, also those already stored as the
    /// target would store them (which are otherwise copied as they are)
    #[arg(long)]
    pub re_encode: bool,
    /// With an AOF: replay up to the first restore point (#TS) after this time
    #[arg(long, visible_alias = "to", value_name = "TIME", value_parser = crate::time::parse_time)]
    pub until: Option<u64>,
    /// With an AOF: skip commands that cannot be applied instead of stopping
    #[arg(long)]
    pub skip_unknown: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// Says what the command form changes that --lossy does not cover.
fn note_negative_zeros(n: u64) {
    if n > 0 {
        eprintln!(
            "redkit: note: {n} sorted-set score(s) of -0 may load as 0 (ZADD into a small, \
             listpack-encoded sorted set stores 0, as after the server's own rewrite); an RDB \
             base keeps them"
        );
    }
}

/// The outcome's verdict: an exit code when nothing may be written.
fn verdict(outcome: &transcode::Outcome, info: &InputInfo) -> Result<Option<i32>> {
    conversion_outcome(outcome, info)
}

/// Where the keys come from: an RDB read from the input, or a log replayed into memory.
enum Source<'a> {
    /// An RDB: the input opened once (a second pass opens it again).
    Rdb {
        reader: Option<Box<dyn Read>>,
        info: InputInfo,
    },
    /// A replayed log, emitted as the events of an RDB 12 (which holds every dataset).
    Replayed { r: &'a Replayed, info: InputInfo },
}

impl Source<'_> {
    fn info(&self) -> &InputInfo {
        match self {
            Source::Rdb { info, .. } | Source::Replayed { info, .. } => info,
        }
    }

    /// Feeds every key to `sink`, through the engine with `opts`.
    fn feed<S: KeySink + Send>(
        &mut self,
        opts: &Options,
        sink: &mut S,
    ) -> Result<transcode::Outcome> {
        Ok(match self {
            Source::Rdb { reader, info } => {
                let mut reader = reader.take().expect("an RDB source is read once");
                // The keys are encoded and written on a second thread while this one reads.
                let outcome = transcode::run_relayed(&mut reader, opts, sink)?;
                if outcome.parse_error.is_none() {
                    // Reads what follows the RDB: a wrong gzip trailer is then recorded.
                    let _ = info.after_content(&mut reader);
                }
                outcome
            }
            Source::Replayed { r, .. } => {
                let mut t = transcode::Transcoder::new(opts, sink);
                r.ks.emit(12, &mut t)?;
                t.finish()
            }
        })
    }

    /// A first pass that writes nothing, to find what would be refused before anything goes to
    /// standard output; `None` when the input cannot be read twice (stdin).
    fn dry_run(&self, args: &Args, opts: &Options) -> Result<Option<Option<i32>>> {
        match self {
            Source::Rdb { .. } => {
                if args.file == Path::new("-") {
                    return Ok(None);
                }
                let mut again = crate::input::open(&args.file, None)?;
                let dry = transcode::run(&mut again.reader, opts, &mut transcode::NullSink)?;
                if dry.parse_error.is_none() {
                    let _ = again.info.after_content(&mut again.reader);
                }
                Ok(Some(verdict(&dry, &again.info)?))
            }
            Source::Replayed { r, info } => {
                let mut null = transcode::NullSink;
                let mut t = transcode::Transcoder::new(opts, &mut null);
                r.ks.emit(12, &mut t)?;
                Ok(Some(verdict(&t.finish(), info)?))
            }
        }
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(mut args: Args) -> Result<i32> {
    let inputs = crate::input::protect(&args.file);
    let kind = match args.format {
        Format::Resp => Kind::Stream,
        Format::Dir => Kind::Dir,
    };
    match output::plan(&args.output, kind, args.force, &inputs)? {
        Dest::Stdout => args.output = PathBuf::from("-"),
        Dest::Path(p) => args.output = p,
    }
    let bar = crate::progress::bytes_bar(args.quiet || args.output == Path::new("-"));
    let aof = match crate::input::resolve(&args.file, bar.as_ref())? {
        Resolved::Aof(aof) => {
            // The replay shows its own progress.
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            aof
        }
        Resolved::Rdb(input) => {
            if args.until.is_some() || args.skip_unknown {
                bail!("--until and --skip-unknown apply to an AOF input");
            }
            return rewrite_rdb(&args, input, bar);
        }
    };
    // An AOF is replayed first. Its dataset is written straight into the directory's RDB base
    // when nothing is filtered; otherwise its events go through the engine like an RDB's. With
    // --lossy, the replay is kept whole (RDB 12 holds all of it) and the engine drops what
    // --lossy allows for the target, listing it.
    let lossy = args
        .write
        .lossy
        .is_some_and(|l| l.field_ttls || l.stream_meta || l.keys);
    let replay_opts = ReplayOptions {
        version: if lossy {
            Some(12)
        } else {
            args.write.version()
        },
        until: args.until,
        skip_unknown: args.skip_unknown,
        quiet: args.quiet || args.output == Path::new("-"),
    };
    let r = match replay::replay(&aof, &replay_opts)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    r.summary(
        &format!("Replayed {}:", args.file.display()),
        args.until.is_some(),
    );
    let mut opts = args.write.options()?;
    opts.version = Some(match args.write.version() {
        Some(v) => v,
        None if lossy => r.default_version,
        None => r.version,
    });
    let code = if !lossy
        && args.format == Format::Dir
        && args.base == Base::Rdb
        && opts.filter.is_all()
        && opts.db_map.is_empty()
    {
        replayed_directory(&args, &r)
    } else {
        let info = crate::input::InputInfo::named(args.file.display().to_string());
        write_out(&args, &opts, Source::Replayed { r: &r, info })
    };
    r.discard();
    code
}

/// Rewrites an RDB input.
fn rewrite_rdb(args: &Args, input: Input, bar: Option<ProgressBar>) -> Result<i32> {
    let mut opts = args.write.options()?;
    if args.format == Format::Dir && args.base == Base::Rdb && !args.re_encode {
        opts.raw_source = crate::input::raw_source(&args.file, &input.info);
    }
    let source = Source::Rdb {
        reader: Some(input.reader),
        info: input.info,
    };
    let code = write_out(args, &opts, source)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(code)
}

/// Writes the keys of `source` as the output asks.
fn write_out(args: &Args, opts: &Options, source: Source<'_>) -> Result<i32> {
    match args.format {
        Format::Resp => resp_file(args, opts, source),
        Format::Dir => directory(args, opts, source),
    }
}

fn resp_file(args: &Args, opts: &Options, mut source: Source<'_>) -> Result<i32> {
    if args.output == Path::new("-") {
        // What goes to stdout cannot be taken back: when the input can be read twice, a first
        // pass finds what would be refused before anything is written.
        if let Some(Some(code)) = source.dry_run(args, opts)? {
            return Ok(code);
        }
        let stdout = std::io::stdout();
        let mut sink = RespSink::new(BufWriter::with_capacity(1 << 20, stdout));
        let outcome = source.feed(opts, &mut sink)?;
        // Commands already went out; a refusal still says so and fails.
        note_negative_zeros(sink.negative_zeros);
        sink.finish()?;
        return Ok(verdict(&outcome, source.info())?.unwrap_or(crate::exit::OK));
    }
    let out = AtomicFile::create(&args.output)?;
    let mut sink = RespSink::new(BufWriter::with_capacity(1 << 20, out.file()?));
    let outcome = source.feed(opts, &mut sink)?;
    if let Some(code) = verdict(&outcome, source.info())? {
        return Ok(code);
    }
    let commands = sink.commands;
    note_negative_zeros(sink.negative_zeros);
    drop(sink.finish()?);
    out.commit()?;
    eprintln!(
        "Wrote {}: {commands} commands, {} key(s).",
        args.output.display(),
        outcome.keys
    );
    Ok(crate::exit::OK)
}

fn directory(args: &Args, opts: &Options, mut source: Source<'_>) -> Result<i32> {
    let dir = create_dir(args)?;
    let base = NamedFile::new(dir.create_base()?, dir.base_path());
    let out = BufWriter::with_capacity(1 << 20, base);
    let (outcome, file, detail) = match args.base {
        Base::Rdb => {
            let mut sink = RdbSink::new(
                out,
                true,
                crate::time::ctime(),
                Some(dir.path().to_path_buf()),
            );
            let outcome = source.feed(opts, &mut sink)?;
            if let Some(code) = verdict(&outcome, source.info())? {
                return Ok(code);
            }
            let (w, _) = sink.finish()?;
            (outcome, w, String::new())
        }
        Base::Aof => {
            let mut sink = RespSink::new(out);
            let outcome = source.feed(opts, &mut sink)?;
            if let Some(code) = verdict(&outcome, source.info())? {
                return Ok(code);
            }
            let n = sink.commands;
            note_negative_zeros(sink.negative_zeros);
            (outcome, sink.finish()?, format!(", {n} commands"))
        }
    };
    let file = file.into_inner().map_err(|e| e.into_error())?.into_file();
    finish_dir(args, dir, file, outcome.keys, &detail)
}

/// Creates the output directory (under a temporary name).
fn create_dir(args: &Args) -> Result<NewAofDir> {
    let ext = match args.base {
        Base::Rdb => "rdb",
        Base::Aof => "aof",
    };
    NewAofDir::create(&args.output, &args.filename, ext)
}

/// A replayed log's dataset written straight into the directory's RDB base.
fn replayed_directory(args: &Args, r: &Replayed) -> Result<i32> {
    let dir = create_dir(args)?;
    let file = dir.create_base()?;
    replay::write_rdb(
        r,
        ThreadedWriter::with_queue(
            NamedFile::new(file.try_clone()?, dir.base_path()),
            WRITE_QUEUE,
        ),
        true,
    )?
    .finish()?;
    finish_dir(args, dir, file, r.ks.len() as u64, "")
}

/// Completes the directory and says what it holds.
fn finish_dir(args: &Args, dir: NewAofDir, file: File, keys: u64, detail: &str) -> Result<i32> {
    let (base_name, incr_name) = (dir.base_name().to_string(), dir.incr_name());
    dir.finish(file)?;
    eprintln!(
        "Wrote {}: {base_name} ({keys} key(s){detail}), {incr_name} (empty), {}.manifest.",
        args.output.display(),
        args.filename
    );
    Ok(crate::exit::OK)
}
