//! `redkit split`: one RDB per cluster shard, by hash slot, in one pass.

use crate::aofdir::NewAofDir;
use crate::output::{self, AtomicFile, Dest, Kind, NamedFile, ThreadedWriter};
use crate::report::{conversion_outcome, print_json, table};
use anyhow::{bail, Context, Result};
use comfy_table::{Cell, CellAlignment};
use serde_json::json;
use std::path::{Path, PathBuf};
use transcode::slot::{SlotSet, SLOTS};
use transcode::{RdbSink, RespSink, SplitSink};

const EXAMPLES: &str = "\
Examples:
  redkit split dump.rdb -o shards --slots 0-5460,5461-10922,10923-16383
                                    shards/shard-0.rdb, shard-1.rdb, shard-2.rdb
  redkit split dump.rdb -o shards --nodes nodes.conf
                                    shards/<node id>.rdb for each master, with its slots
  redis-cli -p 7000 CLUSTER NODES > nodes.txt && redkit split dump.rdb -o shards --nodes nodes.txt
  redis-cli -p 7000 CLUSTER SHARDS > shards.txt && redkit split dump.rdb -o shards --nodes shards.txt
  redkit split dump.rdb -o shards --nodes nodes.conf --format aof
                                    shards/<node id>/, an AOF directory for each master
  redkit split dump.rdb -o shards --nodes nodes.conf --format resp
                                    shards/<node id>.resp: redis-cli -p PORT --pipe < it
  redkit split dump.rdb -o shards --slots 0-8191,8192-16383 --target valkey-8 --slot-info

Each key goes to the shard whose slots hold its slot, as CLUSTER KEYSLOT computes it (CRC16
of the key, or of its {hash tag}, modulo 16384). --slots gives one shard per comma-separated
item, in order (`0-100+200-300` joins ranges into one shard). --nodes reads a nodes.conf or the
saved output of CLUSTER NODES or CLUSTER SHARDS: one output per master that holds slots, named
after its node ID. Function libraries go to every output. --format aof writes each output as a
multi-part AOF directory (a base of commands, an empty incr file, the manifest: point
`appenddirname` at it, with `appendonly yes`); --format resp as the commands alone. Outputs
are written like convert's (the source's version unless --target or --rdb-version; values
already stored as the target stores them are copied as they are), to temporary files renamed
when all are complete; existing files are replaced only with --force.

--slot-info also writes the per-slot key counts a cluster node writes before each slot's
keys (Redis 7.4's SLOT_INFO records in RDB 12, Valkey 8's slot-info fields in RDB 11), which
a node uses to size its tables at load; the servers load the outputs without them too. They
take a first pass over the input, to count.

Exit status: 0 written, 1 keys in slots no shard holds (the others are written) or a refused or
damaged input (nothing written), 2 usage or I/O error.";

/// Split a dataset into one RDB (or AOF) per cluster shard, by hash slot
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
    /// A nodes.conf, or the saved output of CLUSTER NODES or CLUSTER SHARDS (as redis-cli
    /// prints it, or JSON): one shard per master with slots
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// What each output is written as
    #[arg(long, value_enum, default_value_t = Format::Rdb)]
    pub format: Format,
    /// Write each slot's key counts before its keys, as a cluster node of the target writes
    /// them (RDB 12: SLOT_INFO records; RDB 11: `slot-info` AUX fields, which Valkey 8 reads),
    /// so that a node sizes its tables at load; costs a first pass over the input
    #[arg(long)]
    pub slot_info: bool,
    #[command(flatten)]
    pub write: crate::args::TargetArgs,
    #[command(flatten)]
    pub filter: crate::args::NameArgs,
    /// Write empty collections too (as convert's --keep-empty)
    #[arg(long)]
    pub keep_empty: bool,
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

/// One output: its name (without extension), its slots, and the node it is for.
#[derive(Debug)]
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
                name: format!("shard-{i}"),
                slots: set,
                node: None,
            })
        })
        .collect()
}

/// The masters of a nodes.conf, a CLUSTER NODES listing or a CLUSTER SHARDS reply, with their
/// slots.
fn shards_from_nodes(path: &Path) -> Result<Vec<Shard>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let first = text.split_whitespace().next().unwrap_or("");
    if !(first.len() == 40 && first.bytes().all(|b| b.is_ascii_hexdigit())) && first != "vars" {
        return shards_from_shards_reply(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
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
            name: id.to_string(),
            slots,
            node: Some((id.to_string(), addr)),
        });
    }
    if out.is_empty() {
        bail!("{}: no master with slots", path.display());
    }
    Ok(out)
}

/// The masters of a saved CLUSTER SHARDS reply, as `redis-cli` prints it to a file or a
/// terminal, or as JSON (`redis-cli --json`, or a client's reply dumped), with their slots.
fn shards_from_shards_reply(text: &str) -> std::result::Result<Vec<Shard>, String> {
    let tokens = reply_tokens(text)?;
    // Each shard: "slots", its ranges as pairs, "nodes", then each node's fields as pairs,
    // a node starting with "id".
    struct Node {
        id: String,
        host: String,
        port: String,
        master: bool,
    }
    let mut shards: Vec<(SlotSet, Vec<Node>)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "slots" => {
                let mut set = SlotSet::default();
                i += 1;
                while i + 1 < tokens.len() && tokens[i].parse::<u16>().is_ok() {
                    let range = format!("{}-{}", tokens[i], tokens[i + 1]);
                    set.add_all(&SlotSet::parse(&range)?);
                    i += 2;
                }
                shards.push((set, Vec::new()));
            }
            "id" if i + 1 < tokens.len() => {
                let Some((_, nodes)) = shards.last_mut() else {
                    return Err("a node before any \"slots\": not a CLUSTER SHARDS reply".into());
                };
                nodes.push(Node {
                    id: tokens[i + 1].clone(),
                    host: String::new(),
                    port: String::new(),
                    master: false,
                });
                i += 2;
            }
            key @ ("ip" | "endpoint" | "hostname" | "port" | "role") if i + 1 < tokens.len() => {
                let v = tokens[i + 1].clone();
                if let Some(n) = shards.last_mut().and_then(|s| s.1.last_mut()) {
                    match key {
                        "port" => n.port = v,
                        "role" => n.master = v == "master",
                        _ if n.host.is_empty() && !v.is_empty() && v != "?" => n.host = v,
                        _ => {}
                    }
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    if shards.is_empty() {
        return Err("neither a nodes.conf, nor CLUSTER NODES or CLUSTER SHARDS output".into());
    }
    let mut out = Vec::new();
    for (slots, nodes) in shards {
        if slots.is_empty() {
            continue;
        }
        let Some(m) = nodes.iter().find(|n| n.master) else {
            return Err(format!(
                "the shard of slots {} has no master",
                slots.ranges()
            ));
        };
        if m.id.len() != 40 || !m.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("'{}' is not a node ID", m.id));
        }
        out.push(Shard {
            name: m.id.clone(),
            slots,
            node: Some((m.id.clone(), format!("{}:{}", m.host, m.port))),
        });
    }
    if out.is_empty() {
        return Err("no master with slots".into());
    }
    Ok(out)
}

/// The scalars of a reply, in order: from JSON (objects as key, value), from redis-cli's
/// numbered form (`1) 1) "slots"`, `(integer) 0`), or from its plain form (a line each, an
/// empty string an empty line).
fn reply_tokens(text: &str) -> std::result::Result<Vec<String>, String> {
    fn flatten(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
            // A shard's slots come before its nodes, and a node's ID before its other
            // fields, whatever the order of the keys.
            serde_json::Value::Object(o) => {
                let (first, rest): (Vec<_>, Vec<_>) =
                    o.iter().partition(|(k, _)| *k == "slots" || *k == "id");
                for (k, x) in first.into_iter().chain(rest) {
                    out.push(k.clone());
                    flatten(x, out);
                }
            }
            serde_json::Value::String(s) => out.push(s.clone()),
            other => out.push(other.to_string()),
        }
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(trimmed).map_err(|e| format!("not JSON: {e}"))?;
        let mut out = Vec::new();
        flatten(&v, &mut out);
        return Ok(out);
    }
    let numbered = |l: &str| {
        let l = l.trim_start();
        let digits = l.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && l[digits..].starts_with(')')
    };
    if !text
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(numbered)
    {
        return Ok(text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect());
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let mut l = line.trim();
        while numbered(l) {
            l = l[l.find(')').expect("numbered") + 1..].trim_start();
        }
        if let Some(n) = l.strip_prefix("(integer) ") {
            out.push(n.to_string());
        } else if let Some(q) = l.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
            out.push(q.replace("\\\"", "\"").replace("\\\\", "\\"));
        } else if !l.is_empty() && !l.starts_with('(') {
            out.push(l.to_string());
        }
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
    let mut paths = Vec::new();
    for s in &shards {
        let path = args.output.join(s.file_name(args.format));
        let kind = match args.format {
            Format::Aof => Kind::Dir,
            Format::Rdb | Format::Resp => Kind::Stream,
        };
        match output::plan(&path, kind, args.force, &inputs)? {
            Dest::Path(p) => paths.push(p),
            Dest::Stdout => bail!("--output is a directory"),
        }
    }
    let mut opts = args.write.options(Vec::new());
    opts.filter = args.filter.key_filter()?;
    opts.keep_empty = args.keep_empty;
    let counts = if args.slot_info {
        if args.format != Format::Rdb {
            bail!("--slot-info applies to --format rdb");
        }
        Some(slot_counts(&args.file, &opts)?)
    } else {
        None
    };
    let bar = crate::progress::bytes_bar(args.quiet);
    let mut input = crate::input::open(&args.file, bar.as_ref())?;
    if args.format == Format::Rdb {
        opts.raw_source = crate::input::raw_source(&args.file, &input.info);
    }
    let sets: Vec<SlotSet> = shards.iter().map(|s| s.slots.clone()).collect();
    let mut outs = Vec::new();
    for p in &paths {
        outs.push(Out::create(p, args.format)?);
    }
    // A writer thread each: the outputs are written while the input is read.
    let written = match args.format {
        Format::Rdb => {
            let sinks = outs
                .iter()
                .map(|o| {
                    let dir = o.dir();
                    Ok(RdbSink::new(
                        ThreadedWriter::new(o.file()?),
                        false,
                        crate::time::ctime(),
                        Some(dir),
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            split_with(&mut input, &opts, sinks, &sets, counts, |s| {
                Ok(s.finish()?.0)
            })?
        }
        Format::Aof | Format::Resp => {
            let sinks = outs
                .iter()
                .map(|o| Ok(RespSink::new(ThreadedWriter::new(o.file()?))))
                .collect::<Result<Vec<_>>>()?;
            split_with(&mut input, &opts, sinks, &sets, None, |s| Ok(s.finish()?))?
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (outcome, keys, unplaced) = match written {
        Err(code) => return Ok(code),
        Ok(w) => w,
    };
    let mut written = Vec::new();
    for (o, p) in outs.into_iter().zip(&paths) {
        o.commit()?;
        written.push(p.clone());
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

/// What each output is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An RDB file, `<name>.rdb`
    Rdb,
    /// A multi-part AOF directory, `<name>/`: a base of commands, an empty incr file, the
    /// manifest (for a node with `appendonly yes`)
    Aof,
    /// RESP commands, `<name>.resp` (for `redis-cli -p PORT --pipe` into a running node)
    Resp,
}

impl Shard {
    fn file_name(&self, format: Format) -> String {
        match format {
            Format::Rdb => format!("{}.rdb", self.name),
            Format::Aof => self.name.clone(),
            Format::Resp => format!("{}.resp", self.name),
        }
    }
}

/// One output being written: a file, or an AOF directory and its base.
enum Out {
    File(AtomicFile),
    Dir(NewAofDir, std::fs::File),
}

impl Out {
    fn create(path: &Path, format: Format) -> Result<Out> {
        Ok(match format {
            Format::Rdb | Format::Resp => Out::File(AtomicFile::create(path)?),
            Format::Aof => {
                let d = NewAofDir::create(path, "appendonly.aof", "aof")?;
                let f = d.create_base()?;
                Out::Dir(d, f)
            }
        })
    }

    /// Where the output's file is written.
    fn file(&self) -> Result<NamedFile> {
        match self {
            Out::File(a) => a.file(),
            Out::Dir(d, f) => Ok(NamedFile::new(f.try_clone()?, d.base_path())),
        }
    }

    /// Where large values are spooled meanwhile.
    fn dir(&self) -> PathBuf {
        match self {
            Out::File(a) => a.dir(),
            Out::Dir(d, _) => d.path().to_path_buf(),
        }
    }

    /// Puts the output in place, complete.
    fn commit(self) -> Result<()> {
        match self {
            Out::File(a) => a.commit().map(|_| ()),
            Out::Dir(d, f) => d.finish(f),
        }
    }
}

/// The keys of each slot of database 0, and those with an expiry, as written (those the
/// filters pass; empty collections only with --keep-empty): a first pass that reads no
/// value.
fn slot_counts(path: &Path, opts: &transcode::Options) -> Result<Vec<(u64, u64)>> {
    let input = crate::input::open(path, None)?;
    let mut p = rdb_parse::Parser::new(input.reader);
    p.skip_values(true);
    // A fault, found aside or not, ends this pass: the writing pass says it.
    p.check_blobs_aside(input.info.blobs_aside());
    let mut counts = vec![(0u64, 0u64); usize::from(SLOTS)];
    let mut scratch = [0u8; 20];
    loop {
        match p.next_event() {
            Ok(Some(rdb_parse::Event::KeyStart(info))) => {
                let key = info.key.as_bytes(&mut scratch);
                if info.db == 0
                    && (opts.keep_empty || !info.is_empty_collection())
                    && opts.filter.matches(info.db, key, info.value_type)
                {
                    let slot = transcode::slot::key_slot(key);
                    let c = &mut counts[usize::from(slot)];
                    c.0 += 1;
                    c.1 += u64::from(info.expire_ms.is_some());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(counts),
            // The writing pass meets the fault again and says it with its context.
            Err(_) => return Ok(counts),
        }
    }
}

/// What a split gives: the conversion's outcome, the keys of each shard, and the keys no
/// shard holds (with the first of them); or the exit code when nothing may be written.
type Split = std::result::Result<(transcode::Outcome, Vec<u64>, (u64, Option<Vec<u8>>)), i32>;

/// Reads the input once into `sinks`, one a shard, each finished with `finish` (which gives
/// back its writer thread) when the input was whole.
fn split_with<S: transcode::KeySink + Send>(
    input: &mut crate::input::Input,
    opts: &transcode::Options,
    sinks: Vec<S>,
    sets: &[SlotSet],
    counts: Option<Vec<(u64, u64)>>,
    finish: impl Fn(S) -> Result<ThreadedWriter>,
) -> Result<Split> {
    let mut split = SplitSink::new(sinks, sets).map_err(anyhow::Error::msg)?;
    if let Some(c) = counts {
        split = split.with_slot_counts(c);
    }
    // The keys are routed and encoded on a second thread while this one reads the file.
    let outcome = transcode::run_relayed(&mut input.reader, opts, &mut split)?;
    if outcome.parse_error.is_none() {
        input.info.after_content(&mut input.reader);
    }
    if let Some(code) = conversion_outcome(&outcome, &input.info)? {
        return Ok(Err(code));
    }
    let keys = split.keys.clone();
    let unplaced = split.unplaced.clone();
    for sink in split.into_outputs() {
        finish(sink)?.finish()?;
    }
    Ok(Ok((outcome, keys, unplaced)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5caf15103c1b18eba82018155672cdcb5ae694d6";

    /// One shard of slots 0-100, as redis-cli 7.0 printed CLUSTER SHARDS of a one-node
    /// cluster (no MEET yet: an empty ip and endpoint), in its three forms.
    fn forms() -> [String; 3] {
        let plain = format!(
            "slots\n0\n100\nnodes\nid\n{ID}\nport\n7999\nip\n\nendpoint\n\nrole\nmaster\n\
             replication-offset\n0\nhealth\nonline\n"
        );
        let numbered = format!(
            "1) 1) \"slots\"\n   2) 1) (integer) 0\n      2) (integer) 100\n   3) \"nodes\"\n   \
             4) 1)  1) \"id\"\n          2) \"{ID}\"\n          3) \"port\"\n          \
             4) (integer) 7999\n          5) \"ip\"\n          6) \"\"\n          \
             7) \"endpoint\"\n          8) \"\"\n          9) \"role\"\n         \
             10) \"master\"\n         11) \"replication-offset\"\n         12) (integer) 0\n         \
             13) \"health\"\n         14) \"online\"\n"
        );
        let json = format!(
            "[{{\"slots\":[0,100],\"nodes\":[{{\"id\":\"{ID}\",\"port\":7999,\"ip\":\"\",\
             \"endpoint\":\"\",\"role\":\"master\",\"replication-offset\":0,\"health\":\"online\"}}]}}]"
        );
        [plain, numbered, json]
    }

    #[test]
    fn cluster_shards_is_read_in_every_form() {
        for text in forms() {
            let shards = shards_from_shards_reply(&text).unwrap();
            assert_eq!(shards.len(), 1, "{text}");
            assert_eq!(shards[0].name, ID);
            assert_eq!(shards[0].slots.ranges(), "0-100");
            assert_eq!(shards[0].node.as_ref().unwrap().1, ":7999");
        }
    }

    #[test]
    fn a_shard_without_a_master_or_slots_is_refused() {
        let text = forms()[0].replace("master", "replica");
        assert!(shards_from_shards_reply(&text)
            .unwrap_err()
            .contains("no master"));
        assert!(shards_from_shards_reply("hello\nworld\n").is_err());
    }
}
