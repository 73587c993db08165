//! `redkit truncate --to T`: point-in-time restore into a new AOF directory.

use crate::cmd::restore_points::{aof_files, points, utc};
use crate::fsutil::sync_dir;
use anyhow::{bail, Context, Result};
use aof_parse::{AofReader, Item};
use manifest::{AofFile, Manifest};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  redkit truncate appendonlydir --to 2026-11-21T14:30:00Z -o restored/appendonlydir
  redkit truncate appendonlydir --to 1795315891 -o restored/appendonlydir
  redkit restore-points appendonlydir                 to choose the time first

The new directory holds exactly what was logged up to the first restore point later than the
time (the rule of redis-check-aof --truncate-to-timestamp): files after the cut are left out,
the cut file is shortened, and the manifest is rewritten. The original is not changed.";

/// Point-in-time restore: write a new AOF directory that stops at the first restore point
/// (`#TS:` annotation) later than a time.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An appendonlydir, its manifest, or a single AOF file
    pub path: PathBuf,
    /// The time: unix seconds, or RFC 3339 (`2026-11-21T14:30:00Z`, `...+02:00`)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: u64,
    /// The directory to write (must not exist)
    #[arg(
        short,
        long,
        value_name = "OUTDIR",
        required_unless_present = "in_place"
    )]
    pub output: Option<PathBuf>,
    /// Cut the original instead, after confirmation: the bytes cut from the cut file are kept
    /// in `<file>.cut-<offset>`, later files are renamed `<file>.cut`, the manifest is rewritten
    /// and the old one kept as `<manifest>.before-cut-<unix>`. Run again after an interruption:
    /// it finishes the job
    #[arg(long, conflicts_with = "output")]
    pub in_place: bool,
    /// With --in-place: do not ask for confirmation
    #[arg(long, requires = "in_place")]
    pub yes: bool,
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses unix seconds or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<u64, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let bad =
        || format!("invalid time '{s}': give unix seconds or RFC 3339 like 2026-11-21T14:30:00Z");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    // Optional fraction, then Z or an offset.
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let oh: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let om: i64 = rest[4..6].parse().map_err(|_| bad())?;
            let v = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(secs).map_err(|_| bad())
}

/// Copies the first `len` bytes of `from` (all of it when `None`) to `to`, and syncs it.
fn copy_prefix(from: &Path, to: &Path, len: Option<u64>) -> Result<()> {
    let src = File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let mut dst = File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut reader: Box<dyn Read> = match len {
        Some(n) => Box::new(src.take(n)),
        None => Box::new(src),
    };
    std::io::copy(&mut reader, &mut dst)
        .with_context(|| format!("cannot write {}", to.display()))?;
    dst.flush()?;
    dst.sync_all()?;
    crate::fsutil::crash_point("one file of the new directory written");
    Ok(())
}

/// Moves a cut at a `#TS` line back to the `MULTI` of a transaction it falls inside, if any.
fn outside_multi(path: &Path, cut: u64) -> Result<u64> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = AofReader::new(std::io::BufReader::new(f));
    loop {
        let at = r.offset();
        if at >= cut {
            return Ok(r.open_multi().unwrap_or(cut));
        }
        match r.next_item() {
            Ok(Some(Item::Preamble)) => {}
            Ok(Some(_)) => {}
            Ok(None) => return Ok(cut),
            Err(e) => bail!("{}: {e}", path.display()),
        }
    }
}

/// `--in-place`: cut the original, keeping everything it removes. The order keeps the directory
/// loadable at every step: cut bytes saved, then the manifest without the later files, then the
/// cut, then the later files renamed.
fn in_place(
    args: &Args,
    manifest: crate::cmd::restore_points::FoundManifest,
    files: &[(PathBuf, manifest::FileType)],
    cut_point: Option<&crate::cmd::restore_points::Point>,
) -> Result<i32> {
    let Some(p) = cut_point else {
        outln!(
            "No restore point is later than {}: nothing to cut.",
            args.to
        );
        return Ok(crate::exit::OK);
    };
    let idx = files
        .iter()
        .position(|(f, _)| f.file_name().is_some_and(|n| n.to_string_lossy() == p.file))
        .context("restore point in an unknown file")?;
    let cut_path = &files[idx].0;
    let cut = outside_multi(cut_path, p.offset)?;
    let later: Vec<&PathBuf> = files[idx + 1..].iter().map(|(f, _)| f).collect();
    let size = std::fs::metadata(cut_path)?.len();
    outln!(
        "Plan: keep everything logged before {} ({}): cut {} at offset {cut} ({} bytes go to {}.cut-{cut}){}",
        utc(p.unix_secs),
        p.unix_secs,
        cut_path.display(),
        size - cut,
        cut_path.display(),
        if later.is_empty() {
            String::new()
        } else {
            format!("; {} later file(s) leave the manifest and are renamed <file>.cut", later.len())
        }
    );
    if !args.yes && !crate::cmd::check_aof::confirm("Cut the AOF in place?")? {
        eprintln!("redkit: not changing anything without confirmation: run again with --yes, or write a copy with -o OUTDIR");
        return Ok(crate::exit::PROBLEMS);
    }
    if let Some((mp, m)) = &manifest {
        let dropped: Vec<String> = later
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let new = Manifest {
            base: m
                .base
                .clone()
                .filter(|f| !dropped.contains(&f.display_name())),
            history: m.history.clone(),
            incr: m
                .incr
                .iter()
                .filter(|f| !dropped.contains(&f.display_name()))
                .cloned()
                .collect(),
        };
        // Save the cut bytes and the manifest before anything else changes; a copy kept by an
        // earlier run that stopped half way is kept as it is.
        let saved = crate::cmd::check_aof::cut_file_keep_only(cut_path, cut)?;
        let mut backup = mp.as_os_str().to_owned();
        backup.push(format!(".before-cut-{}", p.unix_secs));
        let backup = PathBuf::from(backup);
        if !backup.exists() {
            let staged = crate::fsutil::AtomicFile::create(&backup)?;
            staged.file()?.write_all(&std::fs::read(mp)?)?;
            staged.commit()?;
        }
        let staged = crate::fsutil::AtomicFile::create(mp)?;
        staged.file()?.write_all(&new.to_bytes())?;
        staged.commit()?;
        crate::cmd::check_aof::truncate_to(cut_path, cut)?;
        for f in &later {
            let mut to = f.as_os_str().to_owned();
            to.push(".cut");
            crate::fsutil::crash_point("before renaming a later file");
            std::fs::rename(f, &to).with_context(|| format!("cannot rename {}", f.display()))?;
        }
        if let Some(dir) = mp.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir)?;
        }
        outln!(
            "Done. Kept: the bytes cut in {}, the old manifest in {}{}. To undo: cat {} >> {}{}, then mv {} {}.",
            saved.display(),
            backup.display(),
            if later.is_empty() { "" } else { ", the later files as <file>.cut" },
            saved.display(),
            cut_path.display(),
            if later.is_empty() { "" } else { ", rename each <file>.cut back to <file>" },
            backup.display(),
            mp.display()
        );
    } else {
        let saved = crate::cmd::check_aof::cut_file(cut_path, cut)?;
        outln!(
            "Done. To undo: cat {} >> {}",
            saved.display(),
            cut_path.display()
        );
    }
    Ok(crate::exit::OK)
}

/// The files written, and where the cut fell (file name, offset).
type Written = (Vec<String>, Option<(String, u64)>);

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let (manifest, files) = aof_files(&args.path)?;
    let pts = points(&files)?;
    let Some(first) = pts.first() else {
        eprintln!(
            "redkit: {} has no restore points (#TS annotations): it was written without aof-timestamp-enabled yes",
            args.path.display()
        );
        return Ok(crate::exit::PROBLEMS);
    };
    if args.to < first.unix_secs {
        eprintln!(
            "redkit: the first restore point is {} ({}), later than {}: there is no point to restore to",
            utc(first.unix_secs),
            first.unix_secs,
            args.to
        );
        return Ok(crate::exit::PROBLEMS);
    }
    let cut_point = pts.iter().find(|p| p.unix_secs > args.to);
    let Some(output) = args.output.clone() else {
        return in_place(&args, manifest, &files, cut_point);
    };
    // The new directory is built beside the target and renamed into place when complete.
    let staged = crate::fsutil::AtomicDir::create(&output)?;
    let tmp = staged.path().to_path_buf();
    let result = (|| -> Result<Written> {
        let mut kept = Vec::new();
        let mut cut_info = None;
        let mut kept_files: Vec<PathBuf> = Vec::new();
        for (path, _) in &files {
            let fname = path
                .file_name()
                .context("file without a name")?
                .to_string_lossy()
                .into_owned();
            match cut_point {
                Some(p) if p.file == fname => {
                    let cut = outside_multi(path, p.offset)?;
                    copy_prefix(path, &tmp.join(&fname), Some(cut))?;
                    kept.push(fname.clone());
                    kept_files.push(path.clone());
                    cut_info = Some((fname, cut));
                    break;
                }
                _ => {
                    copy_prefix(path, &tmp.join(&fname), None)?;
                    kept.push(fname);
                    kept_files.push(path.clone());
                }
            }
        }
        if let Some((mp, m)) = &manifest {
            let keep = |f: &AofFile| kept.contains(&f.display_name());
            let new = Manifest {
                base: m.base.clone().filter(|f| keep(f)),
                history: Vec::new(),
                incr: m.incr.iter().filter(|f| keep(f)).cloned().collect(),
            };
            let mname = mp.file_name().context("manifest without a name")?;
            let mut f = File::create(tmp.join(mname))?;
            f.write_all(&new.to_bytes())?;
            f.sync_all()?;
        }
        Ok((kept, cut_info))
    })();
    let (kept, cut_info) = result?;
    staged.commit()?;
    match (cut_point, cut_info) {
        (Some(p), Some((file, at))) => {
            outln!(
                "Wrote {}: everything logged before {} ({}), cut in {file} at offset {at}{}; {} file(s).",
                output.display(),
                utc(p.unix_secs),
                p.unix_secs,
                if at != p.offset {
                    format!(" (moved back from {} to the start of an unfinished MULTI)", p.offset)
                } else {
                    String::new()
                },
                kept.len()
            );
        }
        _ => outln!(
            "Wrote {}: no restore point is later than {}, so it holds the whole log ({} file(s)).",
            output.display(),
            args.to,
            kept.len()
        ),
    }
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times() {
        assert_eq!(parse_time("1795315891"), Ok(1795315891));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2000-02-29T12:00:00Z"), Ok(951825600));
        assert_eq!(parse_time("2000-02-29T14:00:00+02:00"), Ok(951825600));
        assert_eq!(parse_time("2000-02-29T12:00:00.750Z"), Ok(951825600));
        assert_eq!(parse_time("2000-02-29 11:30:00-00:30"), Ok(951825600));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2000-13-01T00:00:00Z").is_err());
        assert!(parse_time("2000-01-01T00:00:00").is_err());
    }
}
