//! `redkit check-aof`: is this AOF loadable? Manifest, files, framing, transactions, annotations.

use crate::exit;
use anyhow::{bail, Context, Result};
use aof_parse::{AofReader, Item};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use manifest::{FileType, Manifest};
use serde_json::{json, Value};
use std::fs::File;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  redkit check-aof appendonlydir                      a Redis 7+ multi-part AOF directory
  redkit check-aof appendonlydir/appendonly.aof.manifest
  redkit check-aof appendonly.aof                     a single-file AOF (plain or RDB preamble)
  redkit check-aof appendonlydir --json               one JSON object, for scripts

Exit status: 0 valid, 1 problems found (corrupt, truncated, missing files), 2 usage or I/O error.";

/// Check that an append-only file loads: the manifest, every file it lists, RESP framing,
/// MULTI/EXEC balance and `#TS` annotations.
///
/// Reads every file once, in bounded memory, and changes nothing. For each problem it says
/// where (file and byte offset) and where a repair would cut: the end of the last complete
/// command, or the start of an unfinished MULTI.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An appendonlydir, its manifest, a single AOF file, or a base RDB
    pub path: PathBuf,
    /// Print one JSON object instead of tables
    #[arg(long)]
    pub json: bool,
    /// Repair a torn or corrupt tail of the last file (the cut bytes are kept beside it)
    #[arg(long)]
    pub fix: bool,
    /// With --fix: do not ask for confirmation
    #[arg(long, requires = "fix")]
    pub yes: bool,
    /// With --fix: show what would be cut, change nothing
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// Write a repaired copy to OUTDIR that skips each damaged range (resyncing at the next
    /// valid command) and list every skipped range; the original is not changed
    #[arg(long, value_name = "OUTDIR", conflicts_with = "fix")]
    pub salvage: Option<PathBuf>,
    /// Treat unknown command names and wrong argument counts as problems (Redis refuses to
    /// load an AOF with a command it does not know); by default they are warnings
    #[arg(long)]
    pub strict: bool,
}

/// Command names and arities known to Redis 7.0 and Valkey 8.1, with the last hit cached
/// (logs repeat the same command).
struct CommandTable {
    arity: std::collections::HashMap<&'static [u8], i32>,
    last: Vec<u8>,
    last_arity: Option<i32>,
}

impl CommandTable {
    fn new() -> Self {
        CommandTable {
            arity: crate::commands::COMMANDS
                .iter()
                .map(|&(n, a)| (n.as_bytes(), a))
                .collect(),
            last: Vec::new(),
            last_arity: None,
        }
    }

    /// The arity of `name` (any case), or `None` for an unknown command.
    fn lookup(&mut self, name: &[u8]) -> Option<i32> {
        if !self.last.eq_ignore_ascii_case(name) {
            self.last.clear();
            self.last.extend(name.iter().map(u8::to_ascii_lowercase));
            self.last_arity = self.arity.get(self.last.as_slice()).copied();
        }
        self.last_arity
    }
}

/// Whether `argc` arguments fit `arity` (exact when positive, a minimum when negative).
fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// What was found in one file.
#[derive(Default)]
struct FileReport {
    path: PathBuf,
    name: String,
    /// Offset of the last command that a cut keeps (summarised only when a plan shows it).
    last_kept: Option<u64>,
    role: &'static str,
    size: u64,
    format: &'static str,
    commands: u64,
    annotations: u64,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    preamble_keys: u64,
    problems: Vec<Value>,
    warnings: Vec<String>,
    cut_at: Option<u64>,
}

/// Finds the manifest in a directory: the single `*.manifest` file.
fn manifest_in(dir: &Path) -> Result<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
    {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "manifest")
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("temp-"))
        {
            found.push(p);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "{} holds no *.manifest file: not a multi-part AOF directory",
            dir.display()
        ),
        _ => bail!(
            "{} holds several manifests: name the one to check",
            dir.display()
        ),
    }
}

/// The manifest PATH stands for: the one in a directory, PATH itself when it is a manifest, or
/// `None` for a single-file AOF.
pub(crate) fn locate_manifest(path: &Path) -> Result<Option<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(if meta.is_dir() {
        Some(manifest_in(path)?)
    } else if looks_like_manifest(path)? {
        Some(path.to_path_buf())
    } else {
        None
    })
}

/// True when the file's first line that is not a comment starts with `file ` (a manifest).
fn looks_like_manifest(path: &Path) -> Result<bool> {
    if path.extension().is_some_and(|x| x == "manifest") {
        return Ok(true);
    }
    let mut head = vec![0u8; 4096];
    let n = {
        use std::io::Read;
        let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        f.read(&mut head)?
    };
    let head = &head[..n];
    Ok(head
        .split(|&b| b == b'\n')
        .find(|l| !l.starts_with(b"#"))
        .is_some_and(|l| l.starts_with(b"file ")))
}

fn check_file(path: &Path, role: &'static str, last: bool) -> Result<FileReport> {
    check_file_with(path, role, last, None, false)
}

fn check_file_with(
    path: &Path,
    role: &'static str,
    last: bool,
    bar: Option<&indicatif::ProgressBar>,
    strict: bool,
) -> Result<FileReport> {
    let mut table = CommandTable::new();
    // name -> (count, first offset); (name, argc) -> (count, first offset)
    let mut unknown: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut bad_arity: std::collections::BTreeMap<(String, usize), (u64, u64)> = Default::default();
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata()?.len();
    let mut rep = FileReport {
        path: path.to_path_buf(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        role,
        size,
        format: "resp",
        ..FileReport::default()
    };
    let input: Box<dyn std::io::Read> = match bar {
        Some(b) => Box::new(crate::input::Counting::new(file, b.clone())),
        None => Box::new(file),
    };
    let mut reader = AofReader::new(input);
    loop {
        match reader.next_item() {
            Ok(Some(Item::Preamble)) => {
                rep.format = "rdb";
                let rdb = reader.rdb().expect("inside the preamble");
                loop {
                    match rdb.next_event() {
                        Ok(Some(rdb_parse::Event::KeyStart(_))) => rep.preamble_keys += 1,
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            rep.problems.push(json!({
                                "offset": e.offset(),
                                "kind": "rdb",
                                "message": format!("RDB part: {}", e.kind()),
                                "fixable": false,
                            }));
                            return Ok(rep);
                        }
                    }
                }
            }
            Ok(Some(Item::PreambleEnd { end })) => {
                if end < size {
                    rep.format = "rdb+resp";
                }
            }
            Ok(Some(Item::Timestamp {
                unix_secs, offset, ..
            })) => {
                if let Some(prev) = rep.last_ts {
                    if unix_secs < prev {
                        rep.warnings.push(format!(
                            "timestamp goes backwards at offset {offset}: {unix_secs} after {prev}"
                        ));
                    }
                }
                rep.first_ts.get_or_insert(unix_secs);
                rep.last_ts = Some(unix_secs);
            }
            Ok(Some(Item::Command(c))) => {
                let at = c.offset;
                match table.lookup(c.name()) {
                    None => {
                        let e = unknown
                            .entry(String::from_utf8_lossy(c.name()).to_ascii_uppercase())
                            .or_insert((0, at));
                        e.0 += 1;
                    }
                    Some(arity) if !arity_ok(arity, c.argc()) => {
                        let key = (
                            String::from_utf8_lossy(c.name()).to_ascii_uppercase(),
                            c.argc(),
                        );
                        bad_arity.entry(key).or_insert((0, at)).0 += 1;
                    }
                    Some(_) => {}
                }
                if reader.open_multi().is_none() {
                    rep.last_kept = Some(at);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                if let Some(multi) = reader.open_multi() {
                    rep.problems.push(json!({
                        "offset": multi,
                        "kind": "unfinished-multi",
                        "message": format!("MULTI at offset {multi} has no EXEC before the end of the file"),
                        "fixable": last,
                        "cut_at": multi,
                        "bytes_after_cut": size.saturating_sub(multi),
                    }));
                    rep.cut_at = Some(multi);
                }
                break;
            }
            Err(e) => {
                let kind = if e.is_truncation() {
                    "truncated"
                } else if e.is_io() {
                    bail!("cannot read {}: {e}", path.display())
                } else if matches!(e.kind(), aof_parse::ErrorKind::Rdb(_)) {
                    "rdb"
                } else {
                    "corrupt"
                };
                let cut = reader.last_good_offset();
                // Redis only ever truncates the last file, and never inside an RDB part; and a
                // cut must not throw away valid commands that follow the damage.
                let follows = if kind == "corrupt" {
                    valid_command_after(path, e.offset())?
                } else {
                    None
                };
                let fixable = last && kind != "rdb" && follows.is_none();
                rep.problems.push(json!({
                    "offset": e.offset(),
                    "kind": kind,
                    "message": e.to_string(),
                    "fixable": fixable,
                    "cut_at": cut,
                    "bytes_after_cut": size.saturating_sub(cut),
                    "valid_data_after": follows,
                }));
                rep.cut_at = Some(cut);
                break;
            }
        }
    }
    rep.commands = reader.commands();
    rep.annotations = reader.annotations();
    let mut notes: Vec<(u64, String)> = Vec::new();
    for (name, (n, at)) in unknown {
        notes.push((at, format!("unknown command {name} ({n} time(s), first at offset {at}): Redis 7.0 and Valkey 8.1 do not know it")));
    }
    for ((name, argc), (n, at)) in bad_arity {
        notes.push((at, format!("{name} with {argc} arguments ({n} time(s), first at offset {at}): wrong number of arguments")));
    }
    for (at, msg) in notes {
        if strict {
            rep.problems
                .push(json!({"offset": at, "kind": "command", "message": msg, "fixable": false}));
        } else {
            rep.warnings.push(msg);
        }
    }
    Ok(rep)
}

/// A command in a few words for messages: its first arguments, shortened.
fn summarize(c: &aof_parse::Command<'_>) -> String {
    let mut words: Vec<String> = c
        .args()
        .take(3)
        .map(|a| {
            let t = String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned();
            if a.len() > 40 {
                format!("{t}…")
            } else {
                t
            }
        })
        .collect();
    if c.argc() > 3 {
        words.push(format!("… ({} arguments)", c.argc()));
    }
    words.join(" ")
}

/// The command at `offset` of a file, summarised.
fn command_at(path: &Path, offset: u64) -> Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    f.seek(SeekFrom::Start(offset))?;
    let mut r = AofReader::new(std::io::BufReader::new(f.take(size - offset)));
    Ok(match r.next_item() {
        Ok(Some(Item::Command(c))) => summarize(&c),
        _ => format!("(the command at offset {offset})"),
    })
}

/// The offset of the first complete command after `offset`, if any: then the damage is in the
/// middle of the file, and cutting there would lose valid data.
fn valid_command_after(path: &Path, offset: u64) -> Result<Option<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata()?.len();
    let mut pos = offset + 1;
    let mut buf = vec![0u8; 1 << 16];
    while pos < size {
        f.seek(SeekFrom::Start(pos))?;
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        // Candidates: a '*' at the start of a line.
        for i in 0..n {
            let at = pos + i as u64;
            if buf[i] != b'*'
                || (i == 0 && at > 0 && !prev_is_newline(&mut f, at)?)
                || (i > 0 && buf[i - 1] != b'\n')
            {
                continue;
            }
            let mut g = File::open(path)?;
            g.seek(SeekFrom::Start(at))?;
            let mut r = AofReader::new(std::io::BufReader::new(g.take(size - at)));
            if let Ok(Some(Item::Command(_))) = r.next_item() {
                return Ok(Some(at));
            }
        }
        pos += n as u64;
    }
    Ok(None)
}

fn prev_is_newline(f: &mut File, at: u64) -> Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at - 1))?;
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

/// What lies in `[cut, end)` of a file: complete commands and the `#TS` range.
fn describe_cut(path: &Path, cut: u64) -> Result<(u64, Option<(u64, u64)>)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    f.seek(SeekFrom::Start(cut))?;
    let mut r = AofReader::new(std::io::BufReader::new(f.take(size - cut)));
    let mut ts: Option<(u64, u64)> = None;
    let mut commands = 0;
    while let Ok(Some(item)) = r.next_item() {
        match item {
            Item::Command(_) => commands += 1,
            Item::Timestamp { unix_secs, .. } => {
                ts = Some(ts.map_or((unix_secs, unix_secs), |(a, _)| (a, unix_secs)))
            }
            _ => {}
        }
    }
    Ok((commands, ts))
}

/// Asks on the terminal; false when stdin is not one.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Cuts `path` at `cut`, first keeping the cut bytes in `<path>.cut-<cut>`; returns that path.
pub(crate) fn cut_file(path: &Path, cut: u64) -> Result<PathBuf> {
    let keep = cut_file_keep_only(path, cut)?;
    truncate_to(path, cut)?;
    Ok(keep)
}

/// Writes the bytes of `path` from `cut` on to `<path>.cut-<cut>` (temp file, fsync, rename).
/// When that file is already there holding exactly those bytes (an earlier run stopped before
/// it could cut), it is kept as it is.
pub(crate) fn cut_file_keep_only(path: &Path, cut: u64) -> Result<PathBuf> {
    use std::io::{Read, Seek, SeekFrom};
    let mut keep_name = path.as_os_str().to_owned();
    keep_name.push(format!(".cut-{cut}"));
    let keep = PathBuf::from(keep_name);
    if keep.exists() {
        if holds_tail(&keep, path, cut)? {
            eprintln!(
                "redkit: {} already holds the bytes to cut (from an earlier run): keeping it",
                keep.display()
            );
            return Ok(keep);
        }
        bail!(
            "{} already exists: move it away first (it holds bytes an earlier fix cut)",
            keep.display()
        );
    }
    let saved = crate::fsutil::AtomicFile::create(&keep)?;
    {
        let mut src =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        src.seek(SeekFrom::Start(cut))?;
        let mut dst = saved.file()?;
        std::io::copy(&mut src.by_ref(), &mut dst)
            .with_context(|| format!("cannot write {}", keep.display()))?;
    }
    saved.commit()
}

/// Whether `keep` holds exactly the bytes of `path` from `cut` to its end.
fn holds_tail(keep: &Path, path: &Path, cut: u64) -> Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let size = std::fs::metadata(path)?.len();
    if std::fs::metadata(keep)?.len() != size.saturating_sub(cut) {
        return Ok(false);
    }
    let mut a = std::io::BufReader::new(File::open(keep)?);
    let mut src = File::open(path)?;
    src.seek(SeekFrom::Start(cut))?;
    let mut b = std::io::BufReader::new(src);
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// Truncates `path` to `len` bytes and syncs it and its directory.
pub(crate) fn truncate_to(path: &Path, len: u64) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {} for writing", path.display()))?;
    crate::fsutil::crash_point("cut bytes saved, file not truncated");
    f.set_len(len)
        .with_context(|| format!("cannot truncate {}", path.display()))?;
    crate::fsutil::crash_point("file truncated, not synced");
    f.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsutil::sync_dir(dir)?;
    }
    Ok(())
}

/// `--fix`: one fixable problem in the last file is cut away, after showing what goes.
fn fix(args: &Args, files: &[FileReport], problems: &[Value]) -> Result<i32> {
    if problems.is_empty() {
        outln!("nothing to fix");
        return Ok(exit::OK);
    }
    let unfixable: Vec<&Value> = problems.iter().filter(|p| p["fixable"] != true).collect();
    if !unfixable.is_empty() || problems.len() > 1 {
        eprintln!("redkit: not fixing: a cut would lose data, or there is more than one problem:");
        for p in problems {
            let mut why = String::new();
            if let Some(at) = p["valid_data_after"].as_u64() {
                why = format!(" (valid commands follow, from offset {at}: this is damage in the middle, not a torn tail)");
            } else if p["fixable"] != true {
                why = " (not in the last file, in an RDB part, or in the manifest: a cut cannot repair it)".into();
            }
            eprintln!(
                "- {}: {}{why}",
                p["file"].as_str().unwrap_or("?"),
                p["message"].as_str().unwrap_or("?")
            );
        }
        eprintln!("redkit: nothing was changed");
        return Ok(exit::PROBLEMS);
    }
    let p = &problems[0];
    let file = files
        .iter()
        .find(|f| Some(f.name.as_str()) == p["file"].as_str())
        .context("problem without a file")?;
    let cut = p["cut_at"]
        .as_u64()
        .context("problem without a cut offset")?;
    let (commands, ts) = describe_cut(&file.path, cut)?;
    outln!("Plan: cut {} at offset {cut}", file.path.display());
    outln!(
        "  removes {} bytes: {commands} complete command(s){}",
        file.size - cut,
        match ts {
            Some((a, b)) => format!(", restore points {a}..{b}"),
            None => String::new(),
        }
    );
    let last_kept = match file.last_kept {
        Some(at) => command_at(&file.path, at)?,
        None => "(none)".into(),
    };
    outln!("  keeps {cut} bytes; the last command kept: {last_kept}");
    outln!(
        "  the cut bytes are saved first in {}.cut-{cut}",
        file.path.display()
    );
    if args.dry_run {
        outln!("dry run: nothing was changed");
        return Ok(exit::PROBLEMS);
    }
    if !args.yes && !confirm("Cut the file?")? {
        eprintln!("redkit: not changing anything without confirmation: run again with --yes (or --dry-run to only see the plan)");
        return Ok(exit::PROBLEMS);
    }
    let keep = cut_file(&file.path, cut)?;
    let after = check_file(&file.path, file.role, true)?;
    if !after.problems.is_empty() {
        bail!(
            "{} still has problems after the cut: {}",
            file.path.display(),
            after.problems[0]
        );
    }
    outln!(
        "Fixed: {} is now {cut} bytes and valid.",
        file.path.display()
    );
    outln!("To undo: cat {} >> {}", keep.display(), file.path.display());
    Ok(exit::OK)
}

/// The byte ranges of a RESP file worth keeping: everything but each damaged record up to the
/// next command that parses. Returns (kept ranges, skipped ranges).
#[allow(clippy::type_complexity)] // two lists of ranges, named in the doc
fn salvage_ranges(path: &Path) -> Result<(Vec<(u64, u64)>, Vec<(u64, u64, String)>)> {
    use std::io::{Read, Seek, SeekFrom};
    let size = std::fs::metadata(path)?.len();
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    let mut start = 0u64;
    while start < size {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(start))?;
        let mut r = AofReader::new(std::io::BufReader::new(f.take(size - start)));
        let err = loop {
            match r.next_item() {
                Ok(Some(Item::Preamble)) if start > 0 => {
                    break Some((0, "RDB magic in the middle of the file".to_string()))
                }
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(e) => {
                    // The reader counts from `start`: give the reason with the file's offset.
                    let msg = e.to_string();
                    let reason = msg.split_once(": ").map_or(msg.as_str(), |x| x.1);
                    break Some((
                        e.offset(),
                        format!("at offset {}: {reason}", start + e.offset()),
                    ));
                }
            }
        };
        match err {
            None => {
                // A transaction left open at the end is dropped whole.
                let end = start + r.last_good_offset();
                kept.push((start, end));
                if end < size {
                    skipped.push((end, size, "unfinished MULTI at the end of the file".into()));
                }
                break;
            }
            Some((at, why)) => {
                if r.rdb().is_some() || why.contains("RDB preamble") {
                    bail!(
                        "{}: the RDB part is damaged ({why}); it cannot be salvaged by skipping",
                        path.display()
                    );
                }
                let bad_start = start + r.last_good_offset();
                kept.push((start, bad_start));
                let resume = valid_command_after(path, start + at)?;
                let bad_end = resume.unwrap_or(size);
                skipped.push((bad_start, bad_end, why));
                match resume {
                    Some(next) => start = next,
                    None => break,
                }
            }
        }
    }
    kept.retain(|(a, b)| b > a);
    Ok((kept, skipped))
}

/// `--salvage OUTDIR`: a repaired copy without the damaged ranges.
fn salvage(out: &Path, manifest_path: Option<&Path>, files: &[FileReport]) -> Result<i32> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let staged = crate::fsutil::AtomicDir::create(out)?;
    let tmp = staged.path().to_path_buf();
    let result = (|| -> Result<Vec<(String, u64, u64, String)>> {
        let mut all_skipped = Vec::new();
        for f in files {
            let dst_path = tmp.join(&f.name);
            let mut dst = File::create(&dst_path)?;
            if f.problems.is_empty() || f.format == "rdb" {
                let mut src = File::open(&f.path)?;
                std::io::copy(&mut src, &mut dst)?;
            } else {
                let (kept, skipped) = salvage_ranges(&f.path)?;
                let mut src = File::open(&f.path)?;
                for (a, b) in kept {
                    src.seek(SeekFrom::Start(a))?;
                    std::io::copy(&mut Read::take(&mut src, b - a), &mut dst)?;
                }
                all_skipped.extend(
                    skipped
                        .into_iter()
                        .map(|(a, b, why)| (f.name.clone(), a, b, why)),
                );
            }
            dst.flush()?;
            dst.sync_all()?;
            crate::fsutil::crash_point("one file of the salvaged copy written");
        }
        if let Some(mp) = manifest_path {
            let mname = mp.file_name().context("manifest without a name")?;
            std::fs::copy(mp, tmp.join(mname))?;
        }
        Ok(all_skipped)
    })();
    let skipped = result?;
    staged.commit()?;
    outln!(
        "Salvaged into {}; skipped {} damaged range(s):",
        out.display(),
        skipped.len()
    );
    for (file, a, b, why) in &skipped {
        outln!("- {file}: bytes {a}..{b} ({} bytes): {why}", b - a);
    }
    outln!(
        "The original is unchanged; check the copy with: redkit check-aof {}",
        out.display()
    );
    Ok(exit::OK)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let path = &args.path;
    let manifest_path = locate_manifest(path)?;
    // Progress over every byte to read, on a terminal only.
    let bar = crate::progress::bytes_bar(args.json);
    if let Some(b) = &bar {
        let total: u64 = match &manifest_path {
            Some(mp) => std::fs::read_dir(mp.parent().unwrap_or(Path::new(".")))
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|e| e.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0),
            None => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        };
        b.set_length(total);
    }
    let mut files: Vec<FileReport> = Vec::new();
    let mut problems: Vec<Value> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut manifest_json = Value::Null;
    match &manifest_path {
        None => files.push(check_file_with(
            path,
            "single",
            true,
            bar.as_ref(),
            args.strict,
        )?),
        Some(mp) => {
            let dir = mp
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            let text =
                std::fs::read(mp).with_context(|| format!("cannot read {}", mp.display()))?;
            match Manifest::parse(&text) {
                Err(e) => problems.push(json!({
                    "file": mp.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "line": e.line,
                    "kind": "manifest",
                    "message": e.to_string(),
                    "fixable": false,
                })),
                Ok(m) => {
                    manifest_json = json!({
                        "path": mp.display().to_string(),
                        "base": m.base.as_ref().map(|f| f.display_name()),
                        "history": m.history.iter().map(|f| f.display_name()).collect::<Vec<_>>(),
                        "incr": m.incr.iter().map(|f| f.display_name()).collect::<Vec<_>>(),
                    });
                    // Files on disk the manifest does not list.
                    let listed: Vec<String> = m.files().map(|f| f.display_name()).collect();
                    if let Ok(rd) = std::fs::read_dir(&dir) {
                        for e in rd.flatten() {
                            let n = e.file_name().to_string_lossy().into_owned();
                            let part = n.ends_with(".aof") || n.ends_with(".rdb");
                            if part && !listed.contains(&n) && Some(e.path()) != Some(mp.clone()) {
                                warnings.push(format!(
                                    "{n} is in the directory but not in the manifest"
                                ));
                            }
                        }
                    }
                    let loaded: Vec<_> = m.loaded().collect();
                    for (i, f) in loaded.iter().enumerate() {
                        let p = dir.join(String::from_utf8_lossy(&f.name).as_ref());
                        let role = if f.kind == FileType::Base {
                            "base"
                        } else {
                            "incr"
                        };
                        if !p.exists() {
                            problems.push(json!({
                                "file": f.display_name(),
                                "line": f.line,
                                "kind": "missing",
                                "message": format!("{} is listed in the manifest (line {}) but missing", f.display_name(), f.line),
                                "fixable": false,
                            }));
                            continue;
                        }
                        let rep = check_file_with(
                            &p,
                            role,
                            i + 1 == loaded.len(),
                            bar.as_ref(),
                            args.strict,
                        )?;
                        let name = f.display_name();
                        if role == "base" {
                            let says_rdb = name.ends_with(".rdb");
                            if says_rdb != rep.format.starts_with("rdb") {
                                warnings.push(format!(
                                    "{name}: named as {} but holds {}",
                                    if says_rdb {
                                        "an RDB base"
                                    } else {
                                        "a RESP base"
                                    },
                                    rep.format
                                ));
                            }
                        }
                        files.push(rep);
                    }
                }
            }
        }
    }
    for f in &files {
        for p in &f.problems {
            let mut p = p.clone();
            p["file"] = json!(f.name);
            problems.push(p);
        }
        warnings.extend(f.warnings.iter().map(|w| format!("{}: {w}", f.name)));
    }
    let report = json!({
        "path": path.display().to_string(),
        "kind": if manifest_path.is_some() { "multi-part" } else { "single-file" },
        "valid": problems.is_empty(),
        "manifest": manifest_json,
        "files": files.iter().map(|f| json!({
            "name": f.name, "role": f.role, "size": f.size, "format": f.format,
            "commands": f.commands, "annotations": f.annotations,
            "first_timestamp": f.first_ts, "last_timestamp": f.last_ts,
            "rdb_keys": f.preamble_keys, "cut_at": f.cut_at,
        })).collect::<Vec<_>>(),
        "problems": problems,
        "warnings": warnings,
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if args.fix {
        return fix(&args, &files, &problems);
    }
    if let Some(out) = &args.salvage {
        return salvage(out, manifest_path.as_deref(), &files);
    }
    Ok(if problems.is_empty() {
        exit::OK
    } else {
        exit::PROBLEMS
    })
}

fn print_report(r: &Value) {
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "file",
        "role",
        "format",
        "bytes",
        "commands",
        "#TS range",
    ]);
    for f in r["files"].as_array().into_iter().flatten() {
        let ts = match (f["first_timestamp"].as_u64(), f["last_timestamp"].as_u64()) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "-".into(),
        };
        t.add_row(vec![
            Cell::new(s(&f["name"])),
            Cell::new(s(&f["role"])),
            Cell::new(s(&f["format"])),
            Cell::new(s(&f["size"])).set_alignment(CellAlignment::Right),
            Cell::new(s(&f["commands"])).set_alignment(CellAlignment::Right),
            Cell::new(ts),
        ]);
    }
    outln!("{t}");
    let problems = r["problems"].as_array().cloned().unwrap_or_default();
    if problems.is_empty() {
        outln!("VALID: {} ({})", s(&r["path"]), s(&r["kind"]));
    } else {
        outln!("INVALID: {} problem(s)", problems.len());
        for p in &problems {
            let mut line = format!("- {}: {}", s(&p["file"]), s(&p["message"]));
            if let Some(cut) = p["cut_at"].as_u64() {
                line.push_str(&format!(
                    "; a repair would cut at offset {cut}, keeping {cut} bytes and setting {} aside",
                    s(&p["bytes_after_cut"])
                ));
                if let Some(at) = p["valid_data_after"].as_u64() {
                    line.push_str(&format!(
                        " (valid commands follow from offset {at}: a cut would lose them; --salvage OUTDIR skips only the damage)"
                    ));
                } else if p["fixable"] == false {
                    line.push_str(" (not the last file: cutting would lose what follows)");
                }
            }
            outln!("{line}");
        }
    }
    for w in r["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", s(w));
    }
}
