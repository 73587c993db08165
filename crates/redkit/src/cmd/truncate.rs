//! `redkit truncate --to T`: point-in-time restore into a new AOF directory.

use crate::fsutil::{self, sync_dir};
use crate::input::{Aof, AofPart, Point};
use crate::output::{self, AtomicDir, AtomicFile, Kind};
use crate::time::{parse_time, utc_u};
use anyhow::{bail, Context, Result};
use aof_parse::scan::{outside_multi, RestorePoint};
use manifest::{AofFile, Manifest};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  redkit truncate appendonlydir --to 2026-11-21T14:30:00Z -o restored/appendonlydir
  redkit truncate appendonlydir --to 1795315891 -o restored/appendonlydir
  redkit restore-points appendonlydir                 to choose the time first
  redkit truncate appendonlydir --to 1795315891 --in-place   cut the original (modifies it)

The new directory holds exactly what was logged up to the first restore point later than the
time (the rule of redis-check-aof --truncate-to-timestamp): files after the cut are left out,
the cut file is shortened, and the manifest is rewritten. The original is not changed. A log
damaged after that point (a torn tail) is cut before the damage.

--in-place changes the original: stop the server first (it is refused while another process
holds the files open, unless --force).

Exit status: 0 written, 1 no restore point to cut at or the log is damaged before the cut
(nothing written), 2 usage or I/O error.";

/// Point-in-time restore: write a new AOF directory that stops at the first restore point
/// (`#TS:` annotation) later than a time.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An appendonlydir, its manifest, or a single AOF file (`-` for stdin; gzip is detected)
    pub path: PathBuf,
    /// The time: unix seconds, or RFC 3339 (`2026-11-21T14:30:00Z`, `...+02:00`)
    #[arg(long, visible_alias = "until", value_name = "TIME", value_parser = parse_time)]
    pub to: u64,
    /// The directory to write (must not exist, unless --force)
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
    /// With -o: replace an existing AOF directory. With --in-place: go on though another
    /// process (a running server) holds the files open
    #[arg(long)]
    pub force: bool,
}

/// Copies the first `len` bytes of `from` (all of it when `None`) to `to`, and syncs it.
/// (`shown` is the path the file will have once the new directory is in place.)
fn copy_prefix(from: &AofPart, to: &Path, shown: &Path, len: Option<u64>) -> Result<()> {
    let src = from.reader()?;
    let mut dst = File::create(to).with_context(|| format!("cannot create {}", shown.display()))?;
    let mut reader: Box<dyn Read> = match len {
        Some(n) => Box::new(src.take(n)),
        None => Box::new(src),
    };
    std::io::copy(&mut reader, &mut dst)
        .with_context(|| format!("cannot write {}", shown.display()))?;
    dst.flush()?;
    dst.sync_all()?;
    crate::fsutil::crash_point("one file of the new directory written");
    Ok(())
}

/// The cut at restore point `p` of `part`, moved back to the `MULTI` of a transaction it
/// falls inside.
fn cut_at(part: &AofPart, p: &RestorePoint) -> Result<u64> {
    outside_multi(part.reader()?, p.offset).map_err(|e| anyhow::anyhow!("{}: {e}", part.name))
}

/// `--in-place`: cut the original, keeping everything it removes. The order keeps the directory
/// loadable at every step: cut bytes saved, then the manifest without the later files, then the
/// cut, then the later files renamed.
fn in_place(args: &Args, aof: &Aof, cut_point: Option<&Point>) -> Result<i32> {
    let Some(p) = cut_point else {
        outln!(
            "No restore point is later than {}: nothing to cut.",
            args.to
        );
        return Ok(crate::exit::OK);
    };
    let files = &aof.files;
    let cut_path = &files[p.file].path;
    if !files[p.file].is_plain_file() {
        bail!(
            "--in-place needs the log's own files: {} was read from standard input or a gzip \
             file; write a copy with -o OUTDIR",
            files[p.file].name
        );
    }
    let cut = cut_at(&files[p.file], &p.p)?;
    let later: Vec<&AofPart> = files[p.file + 1..].iter().collect();
    let mut watched: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    if let Some((mp, _)) = &aof.manifest {
        watched.push(mp);
    }
    fsutil::refuse_if_held_open(&watched, args.force)?;
    let _locked = fsutil::lock_exclusive(&watched)?;
    let size = std::fs::metadata(cut_path)?.len();
    eprintln!(
        "Plan: keep everything logged before {} ({}): cut {} at offset {cut} ({} bytes go to {}.cut-{cut}){}",
        utc_u(p.p.unix_secs),
        p.p.unix_secs,
        cut_path.display(),
        size - cut,
        cut_path.display(),
        if later.is_empty() {
            String::new()
        } else {
            format!("; {} later file(s) leave the manifest and are renamed <file>.cut", later.len())
        }
    );
    if !crate::prompt::go_ahead(
        args.yes,
        "Cut the AOF in place?",
        ", or write a copy with -o OUTDIR",
    )? {
        return Ok(crate::exit::PROBLEMS);
    }
    fsutil::check_size_unchanged(cut_path, size)?;
    if let Some((mp, m)) = &aof.manifest {
        let dropped: Vec<&str> = later.iter().map(|f| f.name.as_str()).collect();
        let new = Manifest {
            base: m
                .base
                .clone()
                .filter(|f| !dropped.contains(&f.display_name().as_str())),
            history: m.history.clone(),
            incr: m
                .incr
                .iter()
                .filter(|f| !dropped.contains(&f.display_name().as_str()))
                .cloned()
                .collect(),
        };
        // Save the cut bytes and the manifest before anything else changes; a copy kept by an
        // earlier run that stopped half way is kept as it is.
        let saved = fsutil::cut_file_keep_only(cut_path, cut)?;
        let mut backup = mp.as_os_str().to_owned();
        backup.push(format!(".before-cut-{}", p.p.unix_secs));
        let backup = PathBuf::from(backup);
        if !backup.exists() {
            let staged = AtomicFile::create(&backup)?;
            staged
                .file()?
                .write_all(&manifest::dir::read_manifest(mp)?)?;
            staged.commit()?;
        }
        let staged = AtomicFile::create(mp)?;
        staged.file()?.write_all(&new.to_bytes())?;
        staged.commit()?;
        fsutil::truncate_to(cut_path, cut)?;
        for f in &later {
            let mut to = f.path.as_os_str().to_owned();
            to.push(".cut");
            fsutil::crash_point("before renaming a later file");
            std::fs::rename(&f.path, &to)
                .with_context(|| format!("cannot rename {}", f.path.display()))?;
        }
        if let Some(dir) = mp.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir)?;
        }
        eprintln!(
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
        let saved = fsutil::cut_file(cut_path, cut)?;
        eprintln!(
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
    let inputs = crate::input::protect(&args.path);
    let dest = match &args.output {
        Some(o) => Some(output::plan(o, Kind::Dir, args.force, &inputs)?),
        None => None,
    };
    let aof = crate::input::aof(&args.path)?;
    // The first point, and the first one past the time asked for: where the cut falls.
    let (mut first, mut cut_point) = (None, None);
    let damage = aof.restore_points(|p| {
        first.get_or_insert(p);
        if cut_point.is_none() && p.p.unix_secs > args.to {
            cut_point = Some(p);
        }
    })?;
    let damage = damage.map(|d| (d.file, d.last_good_offset, d.error.to_string()));
    let Some(first) = first else {
        match &damage {
            Some((i, at, msg)) => eprintln!(
                "redkit: {} is damaged ({msg}; the last good record ends at offset {at}) before \
                 its first restore point: nothing to restore to (redkit check-aof --fix repairs \
                 a torn tail)",
                aof.files[*i].name
            ),
            None => eprintln!(
                "redkit: {} has no restore points (#TS annotations): it was written without aof-timestamp-enabled yes",
                args.path.display()
            ),
        }
        return Ok(crate::exit::PROBLEMS);
    };
    if args.to < first.p.unix_secs {
        eprintln!(
            "redkit: the first restore point is {} ({}), later than {}: there is no point to restore to",
            utc_u(first.p.unix_secs),
            first.p.unix_secs,
            args.to
        );
        return Ok(crate::exit::PROBLEMS);
    }
    if let (None, Some((i, at, msg))) = (cut_point, &damage) {
        eprintln!(
            "redkit: {}: {msg}; no restore point after {} comes before this damage, so the cut \
             would keep it (the last good record ends at offset {at}): repair the log first \
             (redkit check-aof --fix, or --salvage OUTDIR), or choose an earlier time",
            aof.files[*i].name, args.to
        );
        return Ok(crate::exit::PROBLEMS);
    }
    if let Some((i, at, _)) = &damage {
        eprintln!(
            "redkit: note: {} is damaged after offset {at}; the cut comes before the damage",
            aof.files[*i].name
        );
    }
    let Some(output) = dest.and_then(|d| d.path().map(Path::to_path_buf)) else {
        return in_place(&args, &aof, cut_point.as_ref());
    };
    // The new directory is built beside the target and renamed into place when complete.
    let staged = AtomicDir::create(&output)?;
    let tmp = staged.path().to_path_buf();
    let result = (|| -> Result<Written> {
        let mut kept = Vec::new();
        let mut cut_info = None;
        for (i, part) in aof.files.iter().enumerate() {
            let fname = part.output_name();
            match cut_point {
                Some(p) if p.file == i => {
                    let cut = cut_at(part, &p.p)?;
                    copy_prefix(part, &tmp.join(&fname), &output.join(&fname), Some(cut))?;
                    kept.push(fname.clone());
                    cut_info = Some((fname, cut));
                    break;
                }
                _ => {
                    copy_prefix(part, &tmp.join(&fname), &output.join(&fname), None)?;
                    kept.push(fname);
                }
            }
        }
        if let Some((mp, m)) = &aof.manifest {
            let names: std::collections::HashSet<&str> = kept.iter().map(String::as_str).collect();
            let keep = |f: &AofFile| names.contains(f.display_name().as_str());
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
            eprintln!(
                "Wrote {}: everything logged before {} ({}), cut in {file} at offset {at}{}; {} file(s).",
                output.display(),
                utc_u(p.p.unix_secs),
                p.p.unix_secs,
                if at != p.p.offset {
                    format!(" (moved back from {} to the start of an unfinished MULTI)", p.p.offset)
                } else {
                    String::new()
                },
                kept.len()
            );
        }
        _ => eprintln!(
            "Wrote {}: no restore point is later than {}, so it holds the whole log ({} file(s)).",
            output.display(),
            args.to,
            kept.len()
        ),
    }
    Ok(crate::exit::OK)
}
