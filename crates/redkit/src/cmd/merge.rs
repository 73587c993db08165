//! `redkit merge`: several RDB files (the shards of a cluster, say) as one dataset.

use crate::output::{self, AtomicFile, Dest, Kind, ThreadedWriter};
use crate::report::{conversion_outcome, json_bytes, print_json};
use anyhow::{bail, Context, Result};
use rdb_parse::dupes::{KeySet, DEFAULT_BUDGET};
use rdb_parse::{Event, Parser};
use serde_json::json;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use transcode::RdbSink;

const EXAMPLES: &str = "\
Examples:
  redkit merge node-a.rdb node-b.rdb node-c.rdb -o all.rdb     the shards of a cluster as one
  redkit merge old.rdb new.rdb -o out.rdb --on-conflict last  a key in both: new.rdb's
  redkit merge a.rdb b.rdb -o out.rdb --db-map 2:0:1          input 2's database 0 becomes 1
  redkit merge node-a/appendonlydir node-b/appendonlydir -o all.rdb
                                                             AOFs, replayed first

A key held by two inputs in the same database (after --db-map) is a conflict: by default the
conflicting keys are listed and nothing is written (exit 1); --on-conflict first keeps the first
input's record, last the last one's. A function library several inputs hold is written once;
the same name with other code is refused. An AOF input is replayed as the server loads it,
one at a time, into a temporary RDB beside the output (removed at the end). The output is written in the first input's version
unless --target or --rdb-version, like convert's: values already stored as the target stores
them are copied as they are.

Exit status: 0 written, 1 conflicts, a refused or a damaged input (nothing written), 2 usage or
I/O error.";

/// Merge several RDB files or AOFs into one dataset
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The inputs, in order: RDB files (gzip is detected), or AOFs (a directory, a manifest,
    /// or a single file), replayed first
    #[arg(required = true, num_args = 2..)]
    pub inputs: Vec<PathBuf>,
    /// The RDB file to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// A key in two inputs: error (list them, write nothing), first, or last
    #[arg(long, value_name = "WHICH", default_value = "error", value_parser = ["error", "first", "last"])]
    pub on_conflict: String,
    /// INPUT:FROM:TO: the keys of database FROM of input INPUT (1 for the first) go to TO
    /// (repeatable)
    #[arg(long, value_name = "INPUT:FROM:TO", value_parser = parse_db_map)]
    pub db_map: Vec<(usize, u64, u64)>,
    #[command(flatten)]
    pub write: crate::args::TargetArgs,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of a line
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_db_map(s: &str) -> Result<(usize, u64, u64), String> {
    let p: Vec<&str> = s.split(':').collect();
    let bad = || format!("'{s}' is not INPUT:FROM:TO (input from 1)");
    if p.len() != 3 {
        return Err(bad());
    }
    let i: usize = p[0].parse().map_err(|_| bad())?;
    if i == 0 {
        return Err(bad());
    }
    Ok((
        i,
        p[1].parse().map_err(|_| bad())?,
        p[2].parse().map_err(|_| bad())?,
    ))
}

/// Bits of a key's offset within its input: the input's number goes above them.
const OFFSET_BITS: u32 = 48;

/// Repeated keys listed at most (and left out, with --on-conflict first or last).
const KEEP: usize = 1 << 20;

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    // An input's number goes above the offsets of its keys (see OFFSET_BITS), in 8 bits.
    if args.inputs.len() > 256 {
        bail!("at most 256 inputs at once (merge them in groups)");
    }
    for &(i, _, _) in &args.db_map {
        if i > args.inputs.len() {
            bail!("--db-map names input {i}; there are {}", args.inputs.len());
        }
    }
    let mut inputs = crate::input::protect(&args.inputs[0]);
    for p in &args.inputs[1..] {
        crate::input::add_protected(&mut inputs, p);
    }
    let dest = output::plan(&args.output, Kind::Stream, args.force, &inputs)?;
    let Dest::Path(out) = dest else {
        bail!("merge writes a file, not standard output");
    };
    let maps: Vec<Vec<(u64, u64)>> = (1..=args.inputs.len())
        .map(|i| {
            args.db_map
                .iter()
                .filter(|m| m.0 == i)
                .map(|m| (m.1, m.2))
                .collect()
        })
        .collect();

    // An AOF is replayed, one at a time, into a temporary RDB beside the output.
    let mut sources = Vec::new();
    for (i, path) in args.inputs.iter().enumerate() {
        if !crate::input::is_aof(path) {
            // An RDB is opened by each pass.
            sources.push(Source::Rdb);
            continue;
        }
        match replayed(&args, &out, i, &crate::input::aof(path)?)? {
            Ok(f) => sources.push(Source::Replayed(f)),
            Err(code) => return Ok(code),
        }
    }

    // First pass: the keys of every input, in the database each goes to.
    let mut set = KeySet::new(DEFAULT_BUDGET, None, KEEP);
    let mut keys = Vec::new();
    for (i, path) in args.inputs.iter().enumerate() {
        let input = sources[i].open(path)?;
        let aside = input.info.blobs_aside();
        let mut p = Parser::new(input.reader);
        p.skip_values(true);
        p.check_blobs_aside(aside);
        let mut n = 0u64;
        loop {
            match p.next_event() {
                Ok(Some(Event::KeyStart(info))) => {
                    let db = maps[i]
                        .iter()
                        .find(|(f, _)| *f == info.db)
                        .map_or(info.db, |(_, t)| *t);
                    let mut s = [0u8; 20];
                    let offset = ((i as u64) << OFFSET_BITS) | info.offset;
                    set.insert(db, info.key.as_bytes(&mut s), offset)?;
                    n += 1;
                }
                Ok(Some(Event::ResizeDb { keys, .. })) => set.expect(keys)?,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    // A blob that failed on the second thread names no fault: the input is
                    // read again with every check inline for it.
                    let mut e = p.settle(e);
                    if e.is_aside_fault() {
                        e = first_fault(sources[i].open(path)?).unwrap_or(e);
                    }
                    eprintln!(
                        "redkit: {}: {e}: a damaged input is not merged",
                        path.display()
                    );
                    return Ok(crate::exit::PROBLEMS);
                }
            }
        }
        keys.push(n);
    }
    let dupes = set.finish()?;
    if dupes.count > dupes.first.len() as u64 {
        bail!(
            "{} keys are in several inputs: more than {KEEP} can be resolved",
            dupes.count
        );
    }
    let name = |o: u64| {
        args.inputs[(o >> OFFSET_BITS) as usize]
            .display()
            .to_string()
    };
    if dupes.count > 0 && args.on_conflict == "error" {
        eprintln!(
            "redkit: {} key(s) are in several inputs; nothing written (--on-conflict first or \
             last picks one):",
            dupes.count
        );
        for d in dupes.first.iter().take(20) {
            let key = d.key.as_ref().map_or("(a key)".to_string(), |(db, k)| {
                format!("db {db} {}", rdb_parse::escape(k))
            });
            eprintln!(
                "  {key}: in {} and {}",
                name(d.first_offset),
                name(d.offset)
            );
        }
        if dupes.count > 20 {
            eprintln!("  ... and {} more", dupes.count - 20);
        }
        return Ok(crate::exit::PROBLEMS);
    }
    // The records that go: every later one (first), or every one but the last (last).
    let mut leave: Vec<Vec<u64>> = vec![Vec::new(); args.inputs.len()];
    let mut drop = |o: u64| {
        leave[(o >> OFFSET_BITS) as usize].push(o & ((1 << OFFSET_BITS) - 1));
    };
    if args.on_conflict == "first" {
        for d in &dupes.first {
            drop(d.offset);
        }
    } else {
        let mut groups: HashMap<u64, Vec<u64>> = HashMap::new();
        for d in &dupes.first {
            groups.entry(d.first_offset).or_default().push(d.offset);
        }
        for (first, mut later) in groups {
            later.push(first);
            later.sort_unstable();
            later.pop();
            for o in later {
                drop(o);
            }
        }
    }
    for l in &mut leave {
        l.sort_unstable();
    }

    // Second pass: every input into one output.
    let mut opts = Vec::new();
    let mut readers = Vec::new();
    let mut first_info = None;
    for (i, path) in args.inputs.iter().enumerate() {
        let input = sources[i].open(path)?;
        let mut o = args.write.options(maps[i].clone());
        if matches!(sources[i], Source::Rdb) {
            o.raw_source = crate::input::raw_source(path, &input.info);
        }
        opts.push(o);
        readers.push(input.reader);
        first_info.get_or_insert(input.info);
    }
    let atomic = AtomicFile::create(&out)?;
    let mut sink = RdbSink::new(
        ThreadedWriter::new(atomic.file()?),
        false,
        crate::time::ctime(),
        Some(atomic.dir()),
    );
    let outcome = transcode::run_many(readers, &opts, &leave, &mut sink)?;
    let info = first_info.expect("two inputs at least");
    if let Some(code) = conversion_outcome(&outcome, &info)? {
        return Ok(code);
    }
    let (w, _) = sink.finish()?;
    w.finish()?;
    let path = atomic.commit().context("cannot commit the output")?;
    let report = json!({
        "inputs": args.inputs.iter().zip(&keys).map(|(p, k)| json!({"file": p.display().to_string(), "keys": k})).collect::<Vec<_>>(),
        "output": path.display().to_string(),
        "rdb_version": outcome.version,
        "keys_written": outcome.keys,
        "conflicts": dupes.count,
        "on_conflict": args.on_conflict,
        "functions": outcome.functions,
        "first_conflict": dupes.first.first().and_then(|d| d.key.as_ref()).map(|(db, k)| json!({"db": db, "key": json_bytes(k)})),
    });
    if args.json {
        print_json(&report)?;
    } else {
        eprintln!(
            "Wrote {}: RDB {}, {} key(s) from {} inputs, {} conflict(s){}, {} function librar(ies).",
            path.display(),
            outcome.version,
            outcome.keys,
            args.inputs.len(),
            dupes.count,
            if dupes.count > 0 {
                format!(" (the {} record kept)", args.on_conflict)
            } else {
                String::new()
            },
            outcome.functions
        );
    }
    Ok(crate::exit::OK)
}

/// Where an input's RDB is read from.
enum Source {
    /// The input itself.
    Rdb,
    /// An AOF input, replayed into a temporary RDB (removed when dropped).
    Replayed(AtomicFile),
}

impl Source {
    /// Opens the input's RDB from its start.
    fn open(&self, path: &Path) -> Result<crate::input::Input> {
        match self {
            Source::Rdb => crate::input::open(path, None),
            Source::Replayed(f) => {
                let file = f.read_back()?;
                Ok(crate::input::Input {
                    reader: Box::new(BufReader::with_capacity(1 << 20, file)),
                    info: crate::input::InputInfo::named(path.display().to_string()),
                })
            }
        }
    }
}

/// Replays the AOF input `i` as the server loads it, into a temporary RDB beside `out`; the
/// exit code when the log cannot be replayed.
fn replayed(
    args: &Args,
    out: &Path,
    i: usize,
    aof: &crate::input::Aof,
) -> Result<std::result::Result<AtomicFile, i32>> {
    let opts = crate::replay::ReplayOptions {
        version: None,
        until: None,
        skip_unknown: false,
        quiet: args.quiet || args.json,
    };
    let r = match crate::replay::replay(aof, &opts)? {
        Ok(r) => r,
        Err(code) => return Ok(Err(code)),
    };
    let name = out
        .file_name()
        .context("the output is not a file name")?
        .to_string_lossy()
        .to_string();
    let tmp = AtomicFile::create(&out.with_file_name(format!("{name}.input-{}.rdb", i + 1)))?;
    crate::replay::write_rdb(&r, ThreadedWriter::new(tmp.file()?), false)?.finish()?;
    Ok(Ok(tmp))
}

/// The first fault of `input`, read with every check inline; `None` when it reads whole.
fn first_fault(input: crate::input::Input) -> Option<rdb_parse::Error> {
    let mut p = Parser::new(input.reader);
    p.skip_values(true);
    p.read_to_end().err()
}
