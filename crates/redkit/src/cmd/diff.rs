//! `redkit diff`: two datasets (RDB files or AOFs) compared key by key.

use crate::args::FilterArgs;
use crate::json::BytesMode;
use crate::report::{json_bytes, table};
use anyhow::{bail, Result};
use comfy_table::{Cell, CellAlignment};
use inspect::detail::{compare_elements, Detail, Element, ElementSink};
use inspect::diff::{compare, Change, Compare, Difference, Side};
use inspect::digest::{DigestSink, Hash, Scores};
use inspect::memory::{Allocator, Estimate, Estimator, Server, SERVERS};
use rdb_parse::{drive, KeyEnd, KeyInfo, NodeInfo, Parser, Sink, Stop, Str, StreamId, ValueType};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const EXAMPLES: &str = "\
Examples:
  redkit diff yesterday.rdb today.rdb               keys added, removed and changed, by prefix
  redkit diff dump.rdb converted.rdb                did the conversion keep every key?
  redkit diff backup.rdb appendonlydir --until-b 2026-11-21T14:30:00Z
                                                    the 14:30 backup against the log at 14:30
  redkit diff a.rdb b.rdb --format jsonl | jq -r 'select(.change == \"changed\") | .key'
  redkit diff a.rdb b.rdb --detail                  which fields, members, list indexes and
                                                    stream entries of changed keys differ

Values are compared, not their encodings or LRU/LFU data: a listpack hash and a hashtable hash
of the same fields are the same (--compare-encoding compares the encodings a server gives the
keys at load too). A key whose expiry differs has changed (`ttl`) unless --ignore-ttl. Memory
is estimated as `redkit analyze` does (for the server that wrote each file, or --server): the
table gives the bytes added and removed by prefix, JSON Lines each key's on both sides. Keys already expired, and empty collections, are left out, as a server leaves them
out when it loads the file. The two inputs are read at once, one a core; values are compared
through a keyed 128-bit hash. Memory is about a 128th of the keys of one side: the keys go to
temporary files first.

--detail reads both inputs a second time for the first --detail-keys changed collections and
compares their elements the same way (through temporary files, in bounded memory): the counts
are exact, the first --detail-elements are listed in order. Lists are compared index by index
(an element pushed at the head changes every index); a stream's elements are its entries and
its consumer groups.

Exit status, as diff(1): 0 the same, 1 different, 2 an error (a damaged input included: there
is nothing to compare it with).";

/// Compare two datasets (RDB files or AOFs) key by key: added, removed, changed.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The first dataset: an RDB file (gzip is detected) or an AOF (replayed)
    pub a: PathBuf,
    /// The second dataset
    pub b: PathBuf,
    /// For an AOF as the first input: replay up to the first restore point after this time
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_time)]
    pub until_a: Option<u64>,
    /// For an AOF as the second input: replay up to the first restore point after this time
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_time)]
    pub until_b: Option<u64>,
    /// Do not compare expiries
    #[arg(long)]
    pub ignore_ttl: bool,
    /// Also compare the encodings a server gives the keys at load (a listpack and a hashtable
    /// of the same fields differ)
    #[arg(long)]
    pub compare_encoding: bool,
    /// The server whose memory and encodings to estimate (as `redkit analyze --server`; by
    /// default the one that wrote each file, Redis 7.0 for a log)
    #[arg(long, value_name = "SERVER", value_parser = parse_server)]
    pub server: Option<Server>,
    /// How JSON Lines write keys: auto (UTF-8 as text, else {"base64": ...}) or base64
    #[arg(long, value_enum, default_value = "auto")]
    pub bytes: BytesMode,
    /// `table`: counts by key prefix; `jsonl`: one JSON object per key that differs
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = ["table", "jsonl"])]
    pub format: String,
    /// The separator of key prefixes in the table
    #[arg(long, value_name = "SEP", default_value = ":")]
    pub sep: String,
    /// For changed lists, sets, sorted sets, hashes and streams, compare their elements too
    /// (a second pass over both inputs): elements added, removed and changed
    #[arg(long)]
    pub detail: bool,
    /// With --detail: how many changed collections to detail, at most (the first in the output)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub detail_keys: usize,
    /// With --detail: how many differing elements to list per key (the counts are exact)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub detail_elements: usize,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_server(s: &str) -> Result<Server, String> {
    Server::by_name(s).ok_or_else(|| {
        format!(
            "unknown server '{s}': {}",
            SERVERS.map(|(n, _)| n).join(", ")
        )
    })
}

/// A side's sink: each key's events go to the memory estimator, then to the digest sink,
/// whose per-key callback adds the key with the estimate and the digest of its field expiries
/// (which the servers' digest leaves out).
struct SideSink {
    digest: DigestSink,
    est: Estimator,
    estimate: Arc<Mutex<(u64, &'static str, u64)>>,
    field_ttls: u64,
    seed: u64,
    named: Option<Server>,
    creator: Option<(String, String)>,
    chosen: bool,
}

impl SideSink {
    fn choose(&mut self) {
        if !self.chosen {
            self.chosen = true;
            let server = self.named.unwrap_or_else(|| match &self.creator {
                Some((family, version)) => Server::nearest(family, version).0,
                None => Server::Redis70,
            });
            self.est = Estimator::new(server, Allocator::Jemalloc);
        }
    }
}

impl Sink for SideSink {
    type Error = inspect::digest::Error;

    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), Self::Error> {
        crate::report::prefer_creator(&mut self.creator, key, value);
        Ok(())
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Self::Error> {
        self.choose();
        self.field_ttls = 0;
        self.est.key_start(info);
        self.digest.key_start(info)
    }
    fn element(&mut self, v: Str<'_>) -> Result<(), Self::Error> {
        self.est.element(v);
        self.digest.element(v)
    }
    fn string_part(
        &mut self,
        p: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> Result<(), Self::Error> {
        self.est.string_part(total, first);
        self.digest.string_part(p, total, first, last)
    }
    fn node(&mut self, node: &NodeInfo) -> Result<(), Self::Error> {
        self.est.node(node);
        Ok(())
    }
    fn zmember(&mut self, m: Str<'_>, score: f64) -> Result<(), Self::Error> {
        self.est.zmember(m, score);
        self.digest.zmember(m, score)
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) -> Result<(), Self::Error> {
        self.est.hash_field(f, v, ttl);
        if let Some(t) = ttl {
            self.field_ttls ^= inspect::diff::field_ttl(self.seed, f, t);
        }
        self.digest.hash_field(f, v, ttl)
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), Self::Error> {
        self.est.stream_entry();
        self.digest.stream_entry(id, fields)
    }
    fn stream_field(&mut self, n: Str<'_>, v: Str<'_>) -> Result<(), Self::Error> {
        self.est.stream_field(n, v);
        self.digest.stream_field(n, v)
    }
    fn stream_group(
        &mut self,
        n: Str<'_>,
        last: StreamId,
        read: Option<u64>,
        p: u64,
    ) -> Result<(), Self::Error> {
        self.est.stream_group();
        self.digest.stream_group(n, last, read, p)
    }
    fn stream_pending(&mut self, id: StreamId, t: i64, n: u64) -> Result<(), Self::Error> {
        self.est.stream_pending(id);
        self.digest.stream_pending(id, t, n)
    }
    fn stream_consumer(
        &mut self,
        n: Str<'_>,
        seen: i64,
        active: Option<i64>,
        p: u64,
    ) -> Result<(), Self::Error> {
        self.est.stream_consumer(n.len() as u64);
        self.digest.stream_consumer(n, seen, active, p)
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), Self::Error> {
        self.est.stream_consumer_pending(id);
        self.digest.stream_consumer_pending(id)
    }
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Self::Error> {
        let Estimate { memory, encoding } = self.est.key_end();
        *self.estimate.lock().expect("not poisoned") = (memory, encoding, self.field_ttls);
        self.digest.key_end(end)
    }
}

/// Reads one side into its partition files.
fn side(args: &Args, path: &Path, until: Option<u64>, seed: u64) -> Result<Side> {
    let filter = args.filter.key_filter()?;
    // Shared with the per-key callback (locked once a key, never contended: one thread).
    let shared = Arc::new(Mutex::new(Side::new(None)?));
    let into = shared.clone();
    let estimate = Arc::new(Mutex::new((0, "unknown", 0)));
    let last = estimate.clone();
    // Scores as the shortest digits on both sides: any one-to-one text compares values.
    // Values are compared through a keyed fast hash, not SHA1: the digests only meet each
    // other, in this process.
    let digest = DigestSink::new(Scores::Shortest, crate::time::now_ms())
        .with_hash(Hash::Fast(seed))
        .with_key_digests(Box::new(move |k| {
            if filter.is_all() || filter.matches(k.db, k.key, k.value_type) {
                let (memory, encoding, field_ttls) = *last.lock().expect("not poisoned");
                into.lock()
                    .expect("not poisoned")
                    .add(k, memory, encoding, field_ttls)?;
            }
            Ok(())
        }));
    let mut sink = SideSink {
        digest: digest.keys_only(),
        est: Estimator::new(Server::Redis70, Allocator::Jemalloc),
        estimate,
        field_ttls: 0,
        seed,
        named: args.server,
        creator: None,
        chosen: false,
    };
    read_into(args, path, until, &mut sink)?;
    drop(sink);
    match Arc::try_unwrap(shared) {
        Ok(cell) => Ok(cell.into_inner().expect("not poisoned")),
        Err(_) => bail!("the keys of {} are still in use", path.display()),
    }
}

/// Reads `path` (an RDB, or an AOF replayed up to `until`) into `sink`.
fn read_into<S: Sink>(args: &Args, path: &Path, until: Option<u64>, sink: &mut S) -> Result<()>
where
    S::Error: std::fmt::Display,
{
    let shown = path.display();
    match crate::input::resolve(path, None)? {
        crate::input::Resolved::Rdb(input) => {
            if until.is_some() {
                bail!("{shown}: --until-a/--until-b apply to an AOF");
            }
            let mut parser = Parser::new(input.reader);
            parser.stream_strings(16 << 20);
            parser.report_nodes(true);
            match drive(&mut parser, sink) {
                Ok(()) => {}
                Err(Stop::Sink(e)) => bail!("{shown}: {e}"),
                Err(Stop::Parse(e)) => {
                    bail!("{shown}: {e}: a damaged file cannot be compared")
                }
            }
            if let Some(g) = input.info.check_gzip_trailer(&mut parser.into_parts().0) {
                bail!("{shown}: the RDB is whole, but the gzip file is not: {g}");
            }
        }
        crate::input::Resolved::Aof(aof) => {
            let opts = crate::replay::ReplayOptions {
                version: None,
                until,
                skip_unknown: false,
                quiet: args.quiet,
            };
            let r = match crate::replay::replay(&aof, &opts)? {
                Ok(r) => r,
                Err(_) => bail!("{shown}: the log cannot be replayed (see above)"),
            };
            if let Err(e) = r.ks.emit(12, sink) {
                bail!("{shown}: {e}");
            }
        }
    }
    Ok(())
}

/// Per prefix: keys added, removed, changed; estimated bytes added and removed.
type ByPrefix = BTreeMap<String, [u64; 5]>;

fn prefix(key: &[u8], sep: &str) -> String {
    let text = String::from_utf8_lossy(key);
    match text.split_once(sep) {
        Some((p, _)) if !sep.is_empty() => format!("{p}{sep}*"),
        _ => "(no prefix)".to_string(),
    }
}

/// A key as JSON, in the `--bytes` mode.
fn key_json(key: &[u8], mode: BytesMode) -> serde_json::Value {
    use base64::Engine;
    match mode {
        BytesMode::Auto => json_bytes(key),
        BytesMode::Base64 => json!(base64::engine::general_purpose::STANDARD.encode(key)),
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    // The two sides are read at once, one a core.
    let seed = {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
    };
    let (a, b) = crate::many::both(
        || side(&args, &args.a, args.until_a, seed),
        || side(&args, &args.b, args.until_b, seed),
    );
    let (a, b) = (a?, b?);
    let (keys_a, keys_b) = (a.keys, b.keys);
    let jsonl = args.format == "jsonl";
    let how = Compare {
        ttl: !args.ignore_ttl,
        encoding: args.compare_encoding,
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut by_prefix = ByPrefix::new();
    let mut detailed = Vec::new();
    let mut differences = 0u64;
    // With --detail: the first changed collections, and their JSON lines held until their
    // elements are compared.
    let mut chosen: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut held: Vec<(serde_json::Value, &'static str)> = Vec::new();
    let same = compare(a, b, how, |d: &Difference| {
        differences += 1;
        let (change, before, after) = match &d.change {
            Change::Added(k) => ("added", None, Some(k)),
            Change::Removed(k) => ("removed", Some(k), None),
            Change::Changed(x, y) => ("changed", Some(x), Some(y)),
        };
        let row = by_prefix.entry(prefix(&d.key, &args.sep)).or_default();
        row[match change {
            "added" => 0,
            "removed" => 1,
            _ => 2,
        }] += 1;
        let (m0, m1) = (
            before.map_or(0, |k| k.memory),
            after.map_or(0, |k| k.memory),
        );
        row[3] += m1.saturating_sub(m0);
        row[4] += m0.saturating_sub(m1);
        let kept = after.or(before).expect("a side");
        let mut line = json!({"change": change, "db": d.db, "key": key_json(&d.key, args.bytes),
                              "type": kept.value_type.name(),
                              "memory_a": before.map(|k| k.memory),
                              "memory_b": after.map(|k| k.memory)});
        let what = d.what(how);
        if let Change::Changed(..) = d.change {
            line["what"] = json!(what);
        }
        if args.compare_encoding {
            line["encoding_a"] = json!(before.map(|k| k.encoding));
            line["encoding_b"] = json!(after.map(|k| k.encoding));
        }
        let collection = matches!(
            kept.value_type,
            ValueType::List
                | ValueType::Set
                | ValueType::Zset
                | ValueType::Hash
                | ValueType::Stream
        );
        let elements = what.iter().any(|w| *w == "value" || *w == "field_ttl");
        if args.detail && collection && elements && chosen.len() < args.detail_keys {
            chosen.push((d.db, d.key.clone()));
            held.push((line, kept.value_type.name()));
        } else if jsonl {
            writeln!(out, "{line}")?;
        }
        Ok(())
    })?;
    if !chosen.is_empty() {
        let details = detail(&args, &chosen, seed)?;
        for (n, ((db, key), (mut line, type_name))) in chosen.iter().zip(held).enumerate() {
            let d = details.get(&(n as u64)).cloned().unwrap_or_default();
            if jsonl {
                line["detail"] = detail_json(&d, args.bytes);
                writeln!(out, "{line}")?;
            } else {
                detailed.push((*db, key.clone(), type_name, d));
            }
        }
    }
    out.flush()?;
    drop(out);
    if !jsonl {
        print_table(&by_prefix);
        print_details(&detailed, args.detail_keys, chosen.len());
        outln!(
            "{} and {}: {same} key(s) the same, {differences} different ({} and {} keys)",
            args.a.display(),
            args.b.display(),
            keys_a,
            keys_b
        );
    }
    Ok(if differences == 0 { 0 } else { 1 })
}

/// Bytes for people with a sign: `+1.5 MiB`; `0` for none.
fn signed(n: u64, sign: char) -> String {
    if n == 0 {
        return "0".into();
    }
    format!("{sign}{}", crate::report::human_bytes(n))
}

fn print_table(by_prefix: &ByPrefix) {
    if by_prefix.is_empty() {
        return;
    }
    // The 20 prefixes with the most differences, then the rest together.
    let mut rows: Vec<(&String, &[u64; 5])> = by_prefix.iter().collect();
    rows.sort_by_key(|(p, c)| (std::cmp::Reverse(c[..3].iter().sum::<u64>()), (*p).clone()));
    let mut t = table();
    t.set_header(vec![
        "prefix",
        "added",
        "removed",
        "changed",
        "memory added",
        "memory removed",
    ]);
    let mut rest = [0u64; 5];
    let cells = |c: &[u64; 5]| {
        let mut v: Vec<Cell> = c[..3]
            .iter()
            .map(|n| Cell::new(n).set_alignment(CellAlignment::Right))
            .collect();
        v.push(Cell::new(signed(c[3], '+')).set_alignment(CellAlignment::Right));
        v.push(Cell::new(signed(c[4], '-')).set_alignment(CellAlignment::Right));
        v
    };
    for (i, (p, c)) in rows.iter().enumerate() {
        if i < 20 {
            let mut row = vec![Cell::new(p)];
            row.extend(cells(c));
            t.add_row(row);
        } else {
            for j in 0..5 {
                rest[j] += c[j];
            }
        }
    }
    if rows.len() > 20 {
        let mut row = vec![Cell::new(format!("({} more prefixes)", rows.len() - 20))];
        row.extend(cells(&rest));
        t.add_row(row);
    }
    outln!("{t}");
}

/// The second pass of --detail: the elements of the `chosen` keys read from both inputs at
/// once and compared; per key's number, how they differ.
fn detail(args: &Args, chosen: &[(u64, Vec<u8>)], seed: u64) -> Result<BTreeMap<u64, Detail>> {
    let read = |path: &Path, until: Option<u64>| -> Result<inspect::diff::Side> {
        let mut sink = ElementSink::new(chosen, seed, None)?;
        read_into(args, path, until, &mut sink)?;
        Ok(sink.into_side()?)
    };
    let (a, b) = crate::many::both(
        || read(&args.a, args.until_a),
        || read(&args.b, args.until_b),
    );
    Ok(compare_elements(
        a?,
        b?,
        !args.ignore_ttl,
        args.detail_elements,
    )?)
}

/// An element as JSON: `{"field": ...}`, `{"member": ...}`, `{"index": n}`, `{"id": "ms-seq"}`
/// or `{"group": ...}`.
fn element_json(e: &Element, mode: BytesMode) -> (&'static str, serde_json::Value) {
    match e {
        Element::Index(i) => ("index", json!(i)),
        Element::Member(m) => ("member", key_json(m, mode)),
        Element::Field(f) => ("field", key_json(f, mode)),
        Element::Entry(id) => ("id", json!(id.to_string())),
        Element::Group(g) => ("group", key_json(g, mode)),
    }
}

fn detail_json(d: &Detail, mode: BytesMode) -> serde_json::Value {
    let elements: Vec<serde_json::Value> = d
        .listed
        .iter()
        .map(|c| {
            let (name, value) = element_json(&c.element, mode);
            let mut e = json!({"change": c.change});
            e[name] = value;
            if c.change == "changed" {
                e["what"] = json!(c.what);
            }
            if c.scores != (None, None) {
                e["score_a"] = json!(c.scores.0);
                e["score_b"] = json!(c.scores.1);
            }
            if c.expiries != (None, None) {
                e["expire_a"] = json!(c.expiries.0);
                e["expire_b"] = json!(c.expiries.1);
            }
            e
        })
        .collect();
    let total = d.added + d.removed + d.changed;
    json!({"added": d.added, "removed": d.removed, "changed": d.changed,
           "elements": elements, "complete": elements.len() as u64 == total})
}

/// An element for people: `field "f"`, `index 3`, `entry 1-0`.
fn element_text(e: &Element) -> String {
    let esc = rdb_parse::escape;
    match e {
        Element::Index(i) => format!("index {i}"),
        Element::Member(m) => format!("member {}", esc(m)),
        Element::Field(f) => format!("field {}", esc(f)),
        Element::Entry(id) => format!("entry {id}"),
        Element::Group(g) => format!("group {}", esc(g)),
    }
}

fn print_details(detailed: &[(u64, Vec<u8>, &str, Detail)], limit: usize, chosen: usize) {
    if detailed.is_empty() {
        return;
    }
    outln!("Changed collections, element by element:");
    for (db, key, type_name, d) in detailed {
        outln!(
            "  db {db} {} ({type_name}): {} added, {} removed, {} changed",
            rdb_parse::escape(key),
            d.added,
            d.removed,
            d.changed
        );
        for c in &d.listed {
            let sign = match c.change {
                "added" => '+',
                "removed" => '-',
                _ => '~',
            };
            let mut extra = String::new();
            if c.change == "changed" {
                extra = format!(" ({})", c.what.join(", "));
            }
            match c.scores {
                (Some(x), Some(y)) => extra.push_str(&format!(": score {x} -> {y}")),
                (Some(x), None) | (None, Some(x)) => extra.push_str(&format!(": score {x}")),
                _ => {}
            }
            outln!("    {sign} {}{extra}", element_text(&c.element));
        }
        let more = d.added + d.removed + d.changed - d.listed.len() as u64;
        if more > 0 {
            outln!("    ... and {more} more");
        }
    }
    if chosen == limit {
        outln!("(detailed: the first {limit} changed collections; --detail-keys for more)");
    }
    outln!();
}
