//! `redkit diff`: two datasets (RDB files or AOFs) compared key by key.

use crate::args::FilterArgs;
use crate::report::{json_bytes, table};
use anyhow::{bail, Result};
use comfy_table::{Cell, CellAlignment};
use inspect::diff::{compare, Change, Difference, Side};
use inspect::digest::{DigestSink, Scores};
use rdb_parse::{drive, Parser, Stop};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const EXAMPLES: &str = "\
Examples:
  redkit diff yesterday.rdb today.rdb               keys added, removed and changed, by prefix
  redkit diff dump.rdb converted.rdb                did the conversion keep every key?
  redkit diff backup.rdb appendonlydir --until-b 2026-11-21T14:30:00Z
                                                    the 14:30 backup against the log at 14:30
  redkit diff a.rdb b.rdb --format jsonl | jq -r 'select(.change == \"changed\") | .key'

Values are compared, not their encodings or LRU/LFU data: a listpack hash and a hashtable hash
of the same fields are the same. A key whose expiry differs has changed (`ttl`) unless
--ignore-ttl. Keys already expired, and empty collections, are left out, as a server leaves them
out when it loads the file. Memory is about a 128th of the keys of one side: the keys go to
temporary files first.

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
    /// `table`: counts by key prefix; `jsonl`: one JSON object per key that differs
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = ["table", "jsonl"])]
    pub format: String,
    /// The separator of key prefixes in the table
    #[arg(long, value_name = "SEP", default_value = ":")]
    pub sep: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// Reads one side into its partition files.
fn side(args: &Args, path: &Path, until: Option<u64>) -> Result<Side> {
    let filter = args.filter.key_filter()?;
    let shared = Rc::new(RefCell::new(Side::new(None)?));
    let into = shared.clone();
    // Scores as the shortest digits on both sides: any one-to-one text compares values.
    let sink = DigestSink::new(Scores::Shortest, crate::time::now_ms()).with_key_digests(Box::new(
        move |k| {
            if filter.is_all() || filter.matches(k.db, k.key, k.value_type) {
                into.borrow_mut().add(k)?;
            }
            Ok(())
        },
    ));
    let mut sink = sink.keys_only();
    let shown = path.display();
    match crate::input::resolve(path, None)? {
        crate::input::Resolved::Rdb(input) => {
            if until.is_some() {
                bail!("{shown}: --until-a/--until-b apply to an AOF");
            }
            let mut parser = Parser::new(input.reader);
            parser.stream_strings(16 << 20);
            match drive(&mut parser, &mut sink) {
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
            if let Err(e) = r.ks.emit(12, &mut sink) {
                bail!("{shown}: {e}");
            }
        }
    }
    drop(sink);
    match Rc::try_unwrap(shared) {
        Ok(cell) => Ok(cell.into_inner()),
        Err(_) => bail!("the keys of {shown} are still in use"),
    }
}

/// Counts by prefix: added, removed, changed.
type ByPrefix = BTreeMap<String, [u64; 3]>;

fn prefix(key: &[u8], sep: &str) -> String {
    let text = String::from_utf8_lossy(key);
    match text.split_once(sep) {
        Some((p, _)) if !sep.is_empty() => format!("{p}{sep}*"),
        _ => "(no prefix)".to_string(),
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let a = side(&args, &args.a, args.until_a)?;
    let b = side(&args, &args.b, args.until_b)?;
    let (keys_a, keys_b) = (a.keys, b.keys);
    let jsonl = args.format == "jsonl";
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut by_prefix = ByPrefix::new();
    let mut differences = 0u64;
    let same = compare(a, b, args.ignore_ttl, |d: &Difference| {
        differences += 1;
        let (change, kept) = match &d.change {
            Change::Added(k) => ("added", k),
            Change::Removed(k) => ("removed", k),
            Change::Changed(_, k) => ("changed", k),
        };
        let slot = match change {
            "added" => 0,
            "removed" => 1,
            _ => 2,
        };
        by_prefix.entry(prefix(&d.key, &args.sep)).or_default()[slot] += 1;
        if jsonl {
            let mut line = json!({"change": change, "db": d.db, "key": json_bytes(&d.key),
                                  "type": kept.value_type.name()});
            if let Change::Changed(..) = d.change {
                line["what"] = json!(d.what());
            }
            writeln!(out, "{line}")?;
        }
        Ok(())
    })?;
    out.flush()?;
    drop(out);
    if !jsonl {
        print_table(&by_prefix);
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

fn print_table(by_prefix: &ByPrefix) {
    if by_prefix.is_empty() {
        return;
    }
    // The 20 prefixes with the most differences, then the rest together.
    let mut rows: Vec<(&String, &[u64; 3])> = by_prefix.iter().collect();
    rows.sort_by_key(|(p, c)| (std::cmp::Reverse(c.iter().sum::<u64>()), (*p).clone()));
    let mut t = table();
    t.set_header(vec!["prefix", "added", "removed", "changed"]);
    let mut rest = [0u64; 3];
    for (i, (p, c)) in rows.iter().enumerate() {
        if i < 20 {
            let mut row = vec![Cell::new(p)];
            row.extend(
                c.iter()
                    .map(|n| Cell::new(n).set_alignment(CellAlignment::Right)),
            );
            t.add_row(row);
        } else {
            for j in 0..3 {
                rest[j] += c[j];
            }
        }
    }
    if rows.len() > 20 {
        let mut row = vec![Cell::new(format!("({} more prefixes)", rows.len() - 20))];
        row.extend(
            rest.iter()
                .map(|n| Cell::new(n).set_alignment(CellAlignment::Right)),
        );
        t.add_row(row);
    }
    outln!("{t}");
}
