//! `redkit rewrite`: an RDB file as a fresh multi-part AOF directory (an RDB or command base,
//! an empty incr file, a manifest), or as one RESP command stream for `redis-cli --pipe`.

use crate::args::WriteArgs;
use crate::fsutil;
use crate::input::InputInfo;
use crate::output::{self, AtomicDir, AtomicFile, Dest, Kind, ThreadedWriter};
use crate::replay::{self, ReplayOptions, Replayed, WRITE_QUEUE};
use crate::report::conversion_outcome;
use anyhow::{bail, Context, Result};
use manifest::{AofFile, FileType, Manifest};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use transcode::{Options, RdbSink, RespSink};

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

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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

/// Runs the subcommand; returns the exit code.
pub fn run(mut args: Args) -> Result<i32> {
    // An AOF is replayed first. Its dataset is written straight into the directory's RDB
    // base when nothing is filtered; otherwise into a temporary RDB of the target's version
    // (by default that of the log's RDB preamble or base, else 10 for a directory and 9 for a
    // single file), then written out as from an RDB.
    let inputs = crate::input::protect(&args.file);
    let kind = match args.format {
        Format::Resp => Kind::Stream,
        Format::Dir => Kind::Dir,
    };
    match output::plan(&args.output, kind, args.force, &inputs)? {
        Dest::Stdout => args.output = PathBuf::from("-"),
        Dest::Path(p) => args.output = p,
    }
    let mut replayed_version = None;
    let _replayed = if crate::input::is_aof(&args.file) {
        // With --lossy, the replay is kept whole (RDB 12 holds all of it) and the conversion
        // to the target drops what --lossy allows, listing it.
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
        let aof = crate::input::aof(&args.file)?;
        let r = match replay::replay(&aof, &replay_opts)? {
            Ok(r) => r,
            Err(code) => return Ok(code),
        };
        r.summary(
            &format!("Replayed {}:", args.file.display()),
            args.until.is_some(),
        );
        let opts = args.write.options()?;
        replayed_version = Some(match args.write.version() {
            Some(v) => v,
            None if lossy => r.default_version,
            None => r.version,
        });
        if !lossy
            && args.format == Format::Dir
            && args.base == Base::Rdb
            && opts.filter.is_all()
            && opts.db_map.is_empty()
        {
            return replayed_directory(&args, &r);
        }
        let parent = match args.output.parent() {
            Some(p) if !p.as_os_str().is_empty() && args.output != Path::new("-") => {
                p.to_path_buf()
            }
            _ => std::env::temp_dir(),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        // Named like the output's temporary files, so that a run stopped before it removed
        // this one leaves it for the next run to the same output to remove.
        let out_name = args
            .output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stdout".into());
        let tmp = parent.join(format!("temp-{out_name}.{}.replay.rdb", std::process::id()));
        let guard = RemoveOnDrop(tmp.clone());
        let out = AtomicFile::create(&tmp)?;
        replay::write_rdb(
            &r,
            ThreadedWriter::with_queue(out.file()?, WRITE_QUEUE),
            false,
        )?
        .finish()?;
        out.commit()?;
        drop(r);
        args.file = tmp;
        Some(guard)
    } else {
        if args.until.is_some() || args.skip_unknown {
            bail!("--until and --skip-unknown apply to an AOF input");
        }
        None
    };
    let mut opts = args.write.options()?;
    opts.version = opts.version.or(replayed_version);
    let bar = crate::progress::bytes_bar(args.quiet || args.output == Path::new("-"));
    let input = crate::input::open(&args.file, bar.as_ref())?;
    if args.format == Format::Dir && args.base == Base::Rdb && !args.re_encode {
        opts.raw_source = crate::input::raw_source(&args.file, &input.info);
    }
    let info = input.info.clone();
    let code = match args.format {
        Format::Resp => resp_file(&args, &opts, input.reader, &info)?,
        Format::Dir => directory(&args, &opts, input.reader, &info)?,
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(code)
}

fn resp_file(args: &Args, opts: &Options, reader: Box<dyn Read>, info: &InputInfo) -> Result<i32> {
    if args.output == Path::new("-") {
        // What goes to stdout cannot be taken back: when the input can be read twice, a first
        // pass finds what would be refused before anything is written.
        if args.file != Path::new("-") {
            let again = crate::input::open(&args.file, None)?;
            let dry = transcode::run(again.reader, opts, &mut transcode::NullSink)?;
            if let Some(code) = verdict(&dry, &again.info)? {
                return Ok(code);
            }
        }
        let stdout = std::io::stdout().lock();
        let mut sink = RespSink::new(BufWriter::with_capacity(1 << 20, stdout));
        let outcome = transcode::run(reader, opts, &mut sink)?;
        // Commands already went out; a refusal still says so and fails.
        note_negative_zeros(sink.negative_zeros);
        sink.finish()?;
        return Ok(verdict(&outcome, info)?.unwrap_or(crate::exit::OK));
    }
    if args.output.is_dir() {
        bail!("{} is a directory", args.output.display());
    }
    let out = AtomicFile::create(&args.output)?;
    let mut sink = RespSink::new(BufWriter::with_capacity(1 << 20, out.file()?));
    let outcome = transcode::run(reader, opts, &mut sink)?;
    if let Some(code) = verdict(&outcome, info)? {
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

fn directory(args: &Args, opts: &Options, reader: Box<dyn Read>, info: &InputInfo) -> Result<i32> {
    let (dir, base_name, base_path) = create_dir(args)?;
    let file = File::create(&base_path)
        .with_context(|| format!("cannot create {}", args.output.join(&base_name).display()))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let (outcome, file, detail) = match args.base {
        Base::Rdb => {
            let mut sink = RdbSink::new(
                out,
                true,
                crate::time::ctime(),
                Some(dir.path().to_path_buf()),
            );
            let outcome = transcode::run(reader, opts, &mut sink)?;
            if let Some(code) = verdict(&outcome, info)? {
                return Ok(code);
            }
            let (w, _) = sink.finish()?;
            (outcome, w, String::new())
        }
        Base::Aof => {
            let mut sink = RespSink::new(out);
            let outcome = transcode::run(reader, opts, &mut sink)?;
            if let Some(code) = verdict(&outcome, info)? {
                return Ok(code);
            }
            let n = sink.commands;
            note_negative_zeros(sink.negative_zeros);
            (outcome, sink.finish()?, format!(", {n} commands"))
        }
    };
    let file = file.into_inner().map_err(|e| e.into_error())?;
    finish_dir(args, dir, &base_name, file, outcome.keys, &detail)
}

/// Creates the output directory (under a temporary name) and names its base file.
fn create_dir(args: &Args) -> Result<(AtomicDir, String, PathBuf)> {
    if args.filename.contains('/') || args.filename.is_empty() {
        bail!("--filename must be a plain file name");
    }
    let dir = AtomicDir::create(&args.output)?;
    let ext = match args.base {
        Base::Rdb => "rdb",
        Base::Aof => "aof",
    };
    let base_name = format!("{}.1.base.{ext}", args.filename);
    let base_path = dir.path().join(&base_name);
    Ok((dir, base_name, base_path))
}

/// A replayed log's dataset written straight into the directory's RDB base.
fn replayed_directory(args: &Args, r: &Replayed) -> Result<i32> {
    let (dir, base_name, base_path) = create_dir(args)?;
    let file = File::create(&base_path)
        .with_context(|| format!("cannot create {}", args.output.join(&base_name).display()))?;
    replay::write_rdb(
        r,
        ThreadedWriter::with_queue(file.try_clone()?, WRITE_QUEUE),
        true,
    )?
    .finish()?;
    finish_dir(args, dir, &base_name, file, r.ks.len() as u64, "")
}

/// Syncs the base, adds the empty incr file and the manifest, and puts the directory in place.
fn finish_dir(
    args: &Args,
    dir: AtomicDir,
    base_name: &str,
    file: File,
    keys: u64,
    detail: &str,
) -> Result<i32> {
    let incr_name = format!("{}.1.incr.aof", args.filename);
    fsutil::crash_point("base written, not synced");
    file.sync_all()
        .with_context(|| format!("cannot sync {}", args.output.join(base_name).display()))?;
    fsutil::crash_point("base synced, incr file not created");
    let incr = File::create(dir.path().join(&incr_name))?;
    incr.sync_all()?;
    fsutil::crash_point("incr file created, manifest not written");
    let manifest = Manifest {
        base: Some(AofFile::new(base_name.as_bytes(), 1, FileType::Base)),
        history: Vec::new(),
        incr: vec![AofFile::new(incr_name.as_bytes(), 1, FileType::Incr)],
    };
    let mut m = File::create(dir.path().join(format!("{}.manifest", args.filename)))?;
    m.write_all(&manifest.to_bytes())?;
    m.sync_all()?;
    dir.commit()?;
    eprintln!(
        "Wrote {}: {base_name} ({keys} key(s){detail}), {incr_name} (empty), {}.manifest.",
        args.output.display(),
        args.filename
    );
    Ok(crate::exit::OK)
}
