//! `redkit restore-points`: the `#TS` annotations of an AOF, the moments it can be cut at.

use crate::exit;
use crate::input::Point;
use crate::time::{parse_interval, utc_u};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  redkit restore-points appendonlydir               every restore point, oldest first
  redkit restore-points appendonlydir --every 1h    one row per hour
  redkit restore-points appendonly.aof --json       for scripts

Restore points exist when the server ran with `aof-timestamp-enabled yes`: before the first
command of each new second it writes `#TS:<unix-seconds>`. `redkit truncate --to <time>` cuts
the log at one of them. When a file is damaged (a torn tail after a crash), the points before
the damage are listed and the damage is named (exit 1). The listing streams: `commands` is the
number of commands logged since the previous point (for a group, before its points).

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

/// One row of the listing: a point, or a group of points with `--every`.
struct Row {
    /// The point's time, or the start of the group's interval.
    from: u64,
    /// Points in the row (1 without `--every`).
    points: u64,
    /// Commands logged before the row's points, since the previous point.
    commands: u64,
    /// The (first) point.
    first: Point,
}

/// Writes rows as they come: JSON rows inside one document, or a table whose columns are as
/// wide as the largest value the files can hold (known before the first row).
struct Listing<'a> {
    json: bool,
    grouped: bool,
    names: &'a [String],
    /// Width of the file, offset and count columns.
    widths: (usize, usize),
    rows: u64,
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
}

impl Listing<'_> {
    fn row(&mut self, r: &Row) -> std::io::Result<()> {
        let sep = if self.rows == 0 { "\n" } else { ",\n" };
        if self.rows == 0 && !self.json {
            self.table_header()?;
        }
        self.rows += 1;
        let file = &self.names[r.first.file];
        if self.json {
            let v = if self.grouped {
                json!({"from": utc_u(r.from), "points": r.points, "commands_before": r.commands,
                       "first_unix": r.first.p.unix_secs, "file": file, "offset": r.first.p.offset})
            } else {
                json!({"time": utc_u(r.from), "unix": r.from, "file": file,
                       "offset": r.first.p.offset, "commands_before": r.commands})
            };
            return write!(self.out, "{sep}    {v}");
        }
        let (wf, wn) = self.widths;
        if self.grouped {
            writeln!(
                self.out,
                "{:<20}  {:>8}  {:<12}  {:<wf$}  {:>wn$}  {:>wn$}",
                utc_u(r.from),
                r.points,
                r.first.p.unix_secs,
                file,
                r.first.p.offset,
                r.commands
            )
        } else {
            writeln!(
                self.out,
                "{:<20}  {:<11}  {:<wf$}  {:>wn$}  {:>wn$}",
                utc_u(r.from),
                r.from,
                file,
                r.first.p.offset,
                r.commands
            )
        }
    }

    fn json_header(&mut self, path: &str, every: Option<u64>) -> std::io::Result<()> {
        write!(
            self.out,
            "{{\n  \"path\": {},\n  \"grouped_by_seconds\": {},\n  \"restore_points\": [",
            Value::from(path),
            every.map_or(Value::Null, Value::from)
        )
    }

    fn table_header(&mut self) -> std::io::Result<()> {
        let (wf, wn) = self.widths;
        if self.grouped {
            writeln!(
                self.out,
                "{:<20}  {:>8}  {:<12}  {:<wf$}  {:>wn$}  {:>wn$}",
                "from (UTC)", "points", "first (unix)", "file", "offset", "commands"
            )
        } else {
            writeln!(
                self.out,
                "{:<20}  {:<11}  {:<wf$}  {:>wn$}  {:>wn$}",
                "time (UTC)", "unix", "file", "offset", "commands"
            )
        }
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let aof = crate::input::aof(&args.path)?;
    let names: Vec<String> = aof.files.iter().map(|f| f.name.clone()).collect();
    // Offsets and counts are below the largest file's size: the columns are that wide.
    let digits = aof
        .files
        .iter()
        .map(|f| f.disk_size())
        .max()
        .unwrap_or(0)
        .max(9_999_999)
        .to_string()
        .len();
    let mut list = Listing {
        json: args.json,
        grouped: args.every.is_some(),
        widths: (
            names.iter().map(String::len).max().unwrap_or(4).max(4),
            digits,
        ),
        names: &names,
        rows: 0,
        out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
    };
    let path = args.path.display().to_string();
    // The first write error (a closed pipe) stops the output, not the scan's verdict.
    let mut io = if args.json {
        list.json_header(&path, args.every)
    } else {
        Ok(())
    };
    let mut group: Option<Row> = None;
    let mut listed = 0u64;
    let damage = aof.restore_points(|p| {
        listed += 1;
        if io.is_err() {
            return;
        }
        let row = match args.every {
            None => Row {
                from: p.p.unix_secs,
                points: 1,
                commands: p.p.commands_before,
                first: p,
            },
            Some(step) => {
                let bucket = p.p.unix_secs / step * step;
                match &mut group {
                    Some(g) if g.from == bucket => {
                        g.points += 1;
                        g.commands += p.p.commands_before;
                        return;
                    }
                    _ => {
                        let next = Row {
                            from: bucket,
                            points: 1,
                            commands: p.p.commands_before,
                            first: p,
                        };
                        match group.replace(next) {
                            Some(done) => done,
                            None => return,
                        }
                    }
                }
            }
        };
        io = list.row(&row);
    })?;
    if let (Some(g), Ok(())) = (group.take(), &io) {
        io = list.row(&g);
    }
    let damage = match damage {
        None => Value::Null,
        Some(d) => json!({
            "file": names[d.file],
            "offset": d.error.offset(),
            "kind": if d.error.is_truncation() { "truncated" } else { "corrupt" },
            "message": d.error.to_string(),
            "last_good_offset": d.last_good_offset,
        }),
    };
    let code = if damage.is_null() {
        exit::OK
    } else {
        exit::PROBLEMS
    };
    if args.json {
        if io.is_ok() {
            let end = if list.rows == 0 { "" } else { "\n  " };
            io = write!(list.out, "{end}],\n  \"damage\": {damage}\n}}\n");
        }
    } else if listed == 0 && io.is_ok() {
        drop(list);
        outln!(
            "{} has no restore points{}",
            args.path.display(),
            if damage.is_null() {
                ": it was written without aof-timestamp-enabled yes"
            } else {
                " before the damage"
            }
        );
    }
    if let Ok(()) = io {
        let _ = std::io::Write::flush(&mut std::io::stdout());
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
