//! `redkit restore-points`: the `#TS` annotations of an AOF, the moments it can be cut at.

use crate::exit;
use crate::input::Point;
use crate::report::{print_json, table};
use crate::time::{parse_interval, utc_u};
use anyhow::Result;
use comfy_table::{Cell, CellAlignment};
use serde_json::{json, Value};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  redkit restore-points appendonlydir               every restore point, oldest first
  redkit restore-points appendonlydir --every 1h    one row per hour
  redkit restore-points appendonly.aof --json       for scripts

Restore points exist when the server ran with `aof-timestamp-enabled yes`: before the first
command of each new second it writes `#TS:<unix-seconds>`. `redkit truncate --to <time>` cuts
the log at one of them. When a file is damaged (a torn tail after a crash), the points before
the damage are listed and the damage is named (exit 1).

Exit status: 0 listed, 1 the log is damaged (the points before the damage are listed), 2 usage
or I/O error.";

/// List the restore points (`#TS:` annotations) of an AOF: time, file, offset, and how many
/// commands were logged since the previous point.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An appendonlydir, its manifest, or a single AOF file (`-` for stdin; gzip is detected)
    pub path: PathBuf,
    /// Group the points by interval: a number with s, m, h or d (`30s`, `1m`, `1h`, `1d`)
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub every: Option<u64>,
    /// Print one JSON document instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let aof = crate::input::aof(&args.path)?;
    let (pts, damage) = aof.restore_points()?;
    let damage = match damage {
        None => Value::Null,
        Some(d) => json!({
            "file": aof.files[d.file].name,
            "offset": d.error.offset(),
            "kind": if d.error.is_truncation() { "truncated" } else { "corrupt" },
            "message": d.error.to_string(),
            "last_good_offset": d.last_good_offset,
        }),
    };
    let row = |p: &Point| {
        json!({"time": utc_u(p.p.unix_secs), "unix": p.p.unix_secs, "file": aof.files[p.file].name,
               "offset": p.p.offset, "commands_before": p.p.commands_before})
    };
    let rows: Vec<Value> = match args.every {
        None => pts.iter().map(row).collect(),
        Some(step) => {
            let mut groups: Vec<Value> = Vec::new();
            // bucket, points, commands, first point
            let mut cur: Option<(u64, usize, u64, &Point)> = None;
            let group = |(b, n, c, first): (u64, usize, u64, &Point)| {
                json!({"from": utc_u(b), "points": n, "commands_before": c,
                       "first_unix": first.p.unix_secs, "file": aof.files[first.file].name,
                       "offset": first.p.offset})
            };
            for p in &pts {
                let bucket = p.p.unix_secs / step * step;
                match &mut cur {
                    Some((b, n, c, _)) if *b == bucket => {
                        *n += 1;
                        *c += p.p.commands_before;
                    }
                    _ => {
                        if let Some(g) = cur.take() {
                            groups.push(group(g));
                        }
                        cur = Some((bucket, 1, p.p.commands_before, p));
                    }
                }
            }
            if let Some(g) = cur {
                groups.push(group(g));
            }
            groups
        }
    };
    let code = if damage.is_null() {
        exit::OK
    } else {
        exit::PROBLEMS
    };
    if args.json {
        print_json(&json!({
            "path": args.path.display().to_string(),
            "grouped_by_seconds": args.every,
            "restore_points": rows,
            "damage": damage,
        }))?;
        return Ok(code);
    }
    if pts.is_empty() {
        outln!(
            "{} has no restore points{}",
            args.path.display(),
            if damage.is_null() {
                ": it was written without aof-timestamp-enabled yes"
            } else {
                " before the damage"
            }
        );
    } else {
        let mut t = table();
        if args.every.is_some() {
            t.set_header(vec![
                "from (UTC)",
                "points",
                "first point (unix)",
                "file",
                "offset",
                "commands",
            ]);
            for r in &rows {
                t.add_row(vec![
                    Cell::new(r["from"].as_str().unwrap_or("")),
                    Cell::new(r["points"].to_string()).set_alignment(CellAlignment::Right),
                    Cell::new(r["first_unix"].to_string()),
                    Cell::new(r["file"].as_str().unwrap_or("")),
                    Cell::new(r["offset"].to_string()).set_alignment(CellAlignment::Right),
                    Cell::new(r["commands_before"].to_string()).set_alignment(CellAlignment::Right),
                ]);
            }
        } else {
            t.set_header(vec![
                "time (UTC)",
                "unix",
                "file",
                "offset",
                "commands since previous",
            ]);
            for r in &rows {
                t.add_row(vec![
                    Cell::new(r["time"].as_str().unwrap_or("")),
                    Cell::new(r["unix"].to_string()),
                    Cell::new(r["file"].as_str().unwrap_or("")),
                    Cell::new(r["offset"].to_string()).set_alignment(CellAlignment::Right),
                    Cell::new(r["commands_before"].to_string()).set_alignment(CellAlignment::Right),
                ]);
            }
        }
        outln!("{t}");
    }
    if !damage.is_null() {
        eprintln!(
            "redkit: {}: {} {}; the points above are those before it (redkit check-aof {} tells \
             more; truncate --to a time before it still works)",
            damage["file"].as_str().unwrap_or("?"),
            damage["kind"].as_str().unwrap_or("?"),
            damage["message"].as_str().unwrap_or("?"),
            args.path.display()
        );
    }
    Ok(code)
}
