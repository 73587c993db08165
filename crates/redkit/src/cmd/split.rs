//! `redkit split`: one RDB per cluster shard, by hash slot, in one pass.

use crate::output::{self, AtomicFile, Dest, Kind, ThreadedWriter};
use crate::report::{conversion_outcome, print_json, table};
use anyhow::{bail, Context, Result};
use comfy_table::{Cell, CellAlignment};
use serde_json::json;
use std::path::{Path, PathBuf};
use transcode::slot::{SlotSet, SLOTS};
use transcode::{RdbSink, SplitSink};

const EXAMPLES: &str = "\
Examples:
  redkit split dump.rdb -o shards --slots 0-5460,5461-10922,10923-16383
                                    shards/shard-0.rdb, shard-1.rdb, shard-2.rdb
  redkit split dump.rdb -o shards --nodes nodes.conf
                                    shards/<node id>.rdb for each master, with its slots
  redis-cli -p 7000 CLUSTER NODES > nodes.txt && redkit split dump.rdb -o shards --nodes nodes.txt
  redkit split dump.rdb -o shards --slots 0-8191,8192-16383 --target valkey-8

Each key goes to the shard whose slots hold its slot, as CLUSTER KEYSLOT computes it (CRC16
of the key, or of its {hash tag}, modulo 16384). --slots gives one shard per comma-separated
item, in order (`0-100+200-300` joins ranges into one shard). --nodes reads a nodes.conf or the
saved output of CLUSTER NODES: one output per master that holds slots, named after its node
ID. Function libraries go to every output. Outputs are written like convert's (the source's
version unless --target or --rdb-version; values already stored as the target stores them are
copied as they are), to temporary files renamed when all are complete; existing files are
replaced only with --force.

Exit status: 0 written, 1 keys in slots no shard holds (the others are written) or a refused or
damaged input (nothing written), 2 usage or I/O error.";

/// Split a dataset into one RDB per cluster shard, by hash slot
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (gzip is detected)
    pub file: PathBuf,
    /// The directory the shards go to (made if missing)
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// The shards' slots: one comma-separated item per shard, `+` joining ranges of one shard
    #[arg(
        long,
        value_name = "SHARDS",
        conflicts_with = "nodes",
        required_unless_present = "nodes"
    )]
    pub slots: Option<String>,
    /// A nodes.conf, or the saved output of CLUSTER NODES: one shard per master with slots
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    #[command(flatten)]
    pub write: crate::args::TargetArgs,
    /// Replace existing output files
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// One output: its file name, its slots, and the node it is for.
struct Shard {
    name: String,
    slots: SlotSet,
    node: Option<(String, String)>,
}

fn shards_from_slots(spec: &str) -> Result<Vec<Shard>> {
    spec.split(',')
        .enumerate()
        .map(|(i, item)| {
            let mut set = SlotSet::default();
            for part in item.split('+') {
                set.add_all(&SlotSet::parse(part).map_err(anyhow::Error::msg)?);
            }
            Ok(Shard {
                name: format!("shard-{i}.rdb"),
                slots: set,
                node: None,
            })
        })
        .collect()
}

/// The masters of a nodes.conf or CLUSTER NODES listing, with their slots.
fn shards_from_nodes(path: &Path) -> Result<Vec<Shard>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || f[0] == "vars" {
            continue;
        }
        if f.len() < 8 {
            bail!("{}:{}: not a cluster node line", path.display(), n + 1);
        }
        let (id, addr, flags) = (f[0], f[1], f[2]);
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) || id.len() != 40 {
            bail!("{}:{}: '{id}' is not a node ID", path.display(), n + 1);
        }
        if !flags.split(',').any(|x| x == "master") {
            continue;
        }
        let mut slots = SlotSet::default();
        // Slots migrating or importing (`[N->-id]`, `[N-<-id]`) stay with their owner.
        for s in f[8..].iter().filter(|s| !s.starts_with('[')) {
            let set = SlotSet::parse(s)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
            slots.add_all(&set);
        }
        if slots.is_empty() {
            continue;
        }
        let addr = addr.split('@').next().unwrap_or(addr).to_string();
        out.push(Shard {
            name: format!("{id}.rdb"),
            slots,
            node: Some((id.to_string(), addr)),
        });
    }
    if out.is_empty() {
        bail!("{}: no master with slots", path.display());
    }
    Ok(out)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let shards = match (&args.slots, &args.nodes) {
        (Some(spec), _) => shards_from_slots(spec)?,
        (None, Some(nodes)) => shards_from_nodes(nodes)?,
        (None, None) => bail!("give --slots or --nodes"),
    };
    for (i, a) in shards.iter().enumerate() {
        for b in &shards[i + 1..] {
            if a.slots.overlaps(&b.slots) {
                bail!("{} and {} share slots", a.name, b.name);
            }
        }
    }
    let inputs = crate::input::protect(&args.file);
    let mut files = Vec::new();
    for s in &shards {
        let path = args.output.join(&s.name);
        match output::plan(&path, Kind::Stream, args.force, &inputs)? {
            Dest::Path(p) => files.push(p),
            Dest::Stdout => bail!("--output is a directory"),
        }
    }
    let opts = args.write.options(Vec::new());
    let bar = crate::progress::bytes_bar(args.quiet);
    let mut input = crate::input::open(&args.file, bar.as_ref())?;
    let mut opts = opts;
    opts.raw_source = crate::input::raw_source(&args.file, &input.info);
    let mut atomics = Vec::new();
    let mut sinks = Vec::new();
    for p in &files {
        let a = AtomicFile::create(p)?;
        // A writer thread each: the outputs are written while the input is read.
        sinks.push(RdbSink::new(
            ThreadedWriter::new(a.file()?),
            false,
            crate::time::ctime(),
            Some(a.dir()),
        ));
        atomics.push(a);
    }
    let sets: Vec<SlotSet> = shards.iter().map(|s| s.slots.clone()).collect();
    let mut split = SplitSink::new(sinks, &sets).map_err(anyhow::Error::msg)?;
    let outcome = transcode::run(&mut input.reader, &opts, &mut split)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if outcome.parse_error.is_none() {
        input.info.after_content(&mut input.reader);
    }
    if let Some(code) = conversion_outcome(&outcome, &input.info)? {
        return Ok(code);
    }
    let keys = split.keys.clone();
    let unplaced = split.unplaced.clone();
    for sink in split.into_outputs() {
        let (w, _) = sink.finish()?;
        w.finish()?;
    }
    let mut written = Vec::new();
    for a in atomics {
        written.push(a.commit()?);
    }
    let mut covered = SlotSet::default();
    for s in &sets {
        covered.add_all(s);
    }
    let rows: Vec<serde_json::Value> = shards
        .iter()
        .zip(&written)
        .zip(&keys)
        .map(|((s, path), k)| {
            json!({"file": path.display().to_string(), "slots": s.slots.ranges(),
                   "node": s.node.as_ref().map(|n| n.0.clone()),
                   "address": s.node.as_ref().map(|n| n.1.clone()), "keys": k})
        })
        .collect();
    let report = json!({
        "input": args.file.display().to_string(),
        "rdb_version": outcome.version,
        "shards": rows,
        "slots_covered": covered.len(),
        "unplaced_keys": unplaced.0,
        "first_unplaced_key": unplaced.1.as_deref().map(crate::report::json_bytes),
    });
    if args.json {
        print_json(&report)?;
    } else {
        let mut t = table();
        t.set_header(vec!["output", "node", "slots", "keys"]);
        for r in &rows {
            let node = match (r["node"].as_str(), r["address"].as_str()) {
                (Some(id), Some(addr)) => format!("{} {addr}", &id[..8.min(id.len())]),
                _ => String::new(),
            };
            t.add_row(vec![
                Cell::new(r["file"].as_str().unwrap_or("")),
                Cell::new(node),
                Cell::new(r["slots"].as_str().unwrap_or("")),
                Cell::new(r["keys"].as_u64().unwrap_or(0)).set_alignment(CellAlignment::Right),
            ]);
        }
        outln!("{t}");
        if covered.len() < u32::from(SLOTS) {
            outln!(
                "{} of {SLOTS} slots are held by no shard",
                u32::from(SLOTS) - covered.len()
            );
        }
    }
    if unplaced.0 > 0 {
        eprintln!(
            "redkit: {} key(s) are in slots no shard holds and were left out (the first: {})",
            unplaced.0,
            rdb_parse::escape(unplaced.1.as_deref().unwrap_or_default())
        );
        return Ok(crate::exit::PROBLEMS);
    }
    Ok(crate::exit::OK)
}
