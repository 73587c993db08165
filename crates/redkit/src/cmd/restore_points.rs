//! `redkit restore-points`: the `#TS` annotations of an AOF, the moments it can be cut at.

use crate::cmd::check_aof::locate_manifest;
use anyhow::{bail, Context, Result};
use aof_parse::{AofReader, Item};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use manifest::{FileType, Manifest};
use serde_json::json;
use std::fs::File;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  redkit restore-points appendonlydir               every restore point, oldest first
  redkit restore-points appendonlydir --every 1h    one row per hour
  redkit restore-points appendonly.aof --json       for scripts

Restore points exist when the server ran with `aof-timestamp-enabled yes`: before the first
command of each new second it writes `#TS:<unix-seconds>`. `redkit truncate --to <time>` cuts
the log at one of them.";

/// List the restore points (`#TS:` annotations) of an AOF: time, file, offset, and how many
/// commands were logged since the previous point.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An appendonlydir, its manifest, or a single AOF file
    pub path: PathBuf,
    /// Group the points by interval: a number with s, m, h or d (`30s`, `1m`, `1h`, `1d`)
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub every: Option<u64>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

fn parse_interval(s: &str) -> Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid interval '{s}' (try 30s, 1m, 1h)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid interval unit in '{s}' (s, m, h or d)")),
    };
    if n == 0 {
        return Err("the interval must be positive".into());
    }
    Ok(n * mult)
}

/// One restore point.
pub struct Point {
    /// Its time.
    pub unix_secs: u64,
    /// The file it is in.
    pub file: String,
    /// The offset of its `#TS` line in that file.
    pub offset: u64,
    /// Commands between the previous point (or the start) and this one.
    pub commands_before: u64,
}

/// A manifest and where it is.
pub type FoundManifest = Option<(PathBuf, Manifest)>;

/// The files of an AOF in load order, with the manifest when there is one.
pub fn aof_files(path: &Path) -> Result<(FoundManifest, Vec<(PathBuf, FileType)>)> {
    let Some(mp) = locate_manifest(path)? else {
        return Ok((None, vec![(path.to_path_buf(), FileType::Incr)]));
    };
    let text = std::fs::read(&mp).with_context(|| format!("cannot read {}", mp.display()))?;
    let m = Manifest::parse(&text).with_context(|| format!("in {}", mp.display()))?;
    let dir = mp
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let files = m
        .loaded()
        .map(|f| (dir.join(String::from_utf8_lossy(&f.name).as_ref()), f.kind))
        .collect();
    Ok((Some((mp, m)), files))
}

/// Every restore point of the files, in order.
pub fn points(files: &[(PathBuf, FileType)]) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    let mut since = 0u64;
    for (path, _) in files {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut r = AofReader::new(std::io::BufReader::with_capacity(1 << 17, f));
        loop {
            match r.next_item() {
                Ok(Some(Item::Timestamp {
                    unix_secs, offset, ..
                })) => {
                    out.push(Point {
                        unix_secs,
                        file: name.clone(),
                        offset,
                        commands_before: since,
                    });
                    since = 0;
                }
                Ok(Some(Item::Command(_))) => since += 1,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => bail!("{}: {e} (run redkit check-aof for details)", path.display()),
            }
        }
    }
    Ok(out)
}

/// Formats unix seconds as an RFC 3339 UTC time.
pub fn utc(secs: u64) -> String {
    crate::cmd::check_rdb::utc(secs as i64)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let (_, files) = aof_files(&args.path)?;
    let pts = points(&files)?;
    let rows: Vec<serde_json::Value> = match args.every {
        None => pts
            .iter()
            .map(|p| {
                json!({"time": utc(p.unix_secs), "unix": p.unix_secs, "file": p.file,
                       "offset": p.offset, "commands_before": p.commands_before})
            })
            .collect(),
        Some(step) => {
            let mut groups: Vec<serde_json::Value> = Vec::new();
            let mut cur: Option<(u64, usize, u64, &Point)> = None; // bucket, points, commands, first
            for p in &pts {
                let bucket = p.unix_secs / step * step;
                match &mut cur {
                    Some((b, n, c, _)) if *b == bucket => {
                        *n += 1;
                        *c += p.commands_before;
                    }
                    _ => {
                        if let Some((b, n, c, first)) = cur.take() {
                            groups.push(json!({"from": utc(b), "points": n, "commands_before": c,
                                               "first_unix": first.unix_secs, "file": first.file, "offset": first.offset}));
                        }
                        cur = Some((bucket, 1, p.commands_before, p));
                    }
                }
            }
            if let Some((b, n, c, first)) = cur {
                groups.push(json!({"from": utc(b), "points": n, "commands_before": c,
                                   "first_unix": first.unix_secs, "file": first.file, "offset": first.offset}));
            }
            groups
        }
    };
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"path": args.path.display().to_string(), "restore_points": rows})
            )?
        );
        return Ok(crate::exit::OK);
    }
    if pts.is_empty() {
        outln!(
            "{} has no restore points: it was written without aof-timestamp-enabled yes",
            args.path.display()
        );
        return Ok(crate::exit::OK);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
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
    Ok(crate::exit::OK)
}
