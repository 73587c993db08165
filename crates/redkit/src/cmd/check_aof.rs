//! `redkit check-aof`: does this AOF load? Manifest, files, framing, transactions, annotations;
//! `--fix` cuts a torn tail (keeping what it cuts), `--salvage` writes a copy without the damage.

use crate::exit;
use crate::fsutil;
use crate::input::AofPart;
use crate::output::{self, AtomicDir, Kind};
use crate::report::{cell_text, print_json, table, Capped, KEPT_ITEMS};
use anyhow::{bail, Context, Result};
use aof_parse::scan::{command_at, describe_range, next_command_after, salvage_ranges};
use aof_parse::{AofReader, CommandTable, Item, Verdict};
use comfy_table::{Cell, CellAlignment};
use manifest::{FileType, Manifest};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  redkit check-aof appendonlydir                      a Redis 7+ multi-part AOF directory
  redkit check-aof appendonlydir/appendonly.aof.manifest
  redkit check-aof appendonly.aof                     a single-file AOF (plain or RDB preamble)
  redkit check-aof appendonlydir --json               one JSON document, for scripts
  redkit check-aof appendonlydir --fix --dry-run      what a repair would cut, nothing changed
  redkit check-aof appendonlydir --fix                cut a torn tail (modifies the file)
  redkit check-aof appendonlydir --salvage fixed/appendonlydir
                                                      a copy without the damaged ranges

A command that no server version knows makes the verdict INVALID: the server refuses to load
such a log (--allow-unknown NAME,... for the commands of a module the server loads). A torn tail
(the last command cut short by a crash) is loaded without it by a server with
`aof-load-truncated yes`, the default; --fix cuts it for good.

--fix modifies the last file of the log: stop the server first (it is refused while another
process holds the files open, unless --force). It cuts only what the server could not load
anyway (a torn or corrupt tail, an unfinished MULTI), never a file that does not look like an
AOF, and keeps the cut bytes in <file>.cut-<offset> with the command that undoes it.

Exit status: 0 valid (or repaired), 1 problems found (corrupt, truncated, unknown commands,
missing files) or a repair refused, 2 usage or I/O error.";

/// Check that an append-only file loads: the manifest, every file it lists, RESP framing,
/// MULTI/EXEC balance, command names and `#TS` annotations.
///
/// Reads every file once, in bounded memory, and changes nothing unless --fix. For each problem
/// it says where (file and byte offset) and where a repair would cut: the end of the last
/// complete command, or the start of an unfinished MULTI.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// An appendonlydir, its manifest, a single AOF file (`-` for stdin; gzip is detected), or
    /// a base RDB
    pub path: PathBuf,
    /// Print one JSON document instead of tables (with --fix or --salvage it also records
    /// what was done; human text then goes to stderr)
    #[arg(long)]
    pub json: bool,
    /// Repair a torn or corrupt tail of the last file, in place (the cut bytes are kept beside
    /// it); asks first
    #[arg(long)]
    pub fix: bool,
    /// With --fix: do not ask for confirmation
    #[arg(long, requires = "fix")]
    pub yes: bool,
    /// With --fix: show what would be cut, change nothing
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// With --fix: go on though another process (a running server) holds the files open. With
    /// --salvage: replace an existing AOF directory
    #[arg(long)]
    pub force: bool,
    /// Write a repaired copy to OUTDIR that skips each damaged range (resyncing at the next
    /// valid command) and list every skipped range; the original is not changed
    #[arg(long, value_name = "OUTDIR", conflicts_with = "fix")]
    pub salvage: Option<PathBuf>,
    /// Command names to accept though no server version knows them (a module's commands),
    /// comma-separated: they are warnings instead of problems
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub allow_unknown: Vec<String>,
    /// Treat wrong argument counts as problems; by default they are warnings
    #[arg(long)]
    pub strict: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// Prints human text: on stdout, or on stderr when stdout holds the JSON document.
fn say(json: bool, text: &str) {
    if json {
        eprintln!("{text}");
    } else {
        outln!("{text}");
    }
}

/// How commands are judged.
struct Policy {
    allow_unknown: Vec<Vec<u8>>,
    strict: bool,
}

/// What was found in one file.
struct FileReport {
    part: AofPart,
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

fn check_file(
    part: &AofPart,
    role: &'static str,
    last: bool,
    bar: Option<&indicatif::ProgressBar>,
    policy: &Policy,
) -> Result<FileReport> {
    let path = &part.path;
    let mut table = CommandTable::new();
    // name -> (count, first offset); (name, argc) -> (count, first offset)
    let mut unknown: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut bad_arity: BTreeMap<(String, usize), (u64, u64)> = BTreeMap::new();
    let (file, size) = part.seekable()?;
    let mut rep = FileReport {
        part: part.clone(),
        name: part.name.clone(),
        last_kept: None,
        role,
        size,
        format: "resp",
        commands: 0,
        annotations: 0,
        first_ts: None,
        last_ts: None,
        preamble_keys: 0,
        problems: Vec::new(),
        warnings: Vec::new(),
        cut_at: None,
    };
    let input: Box<dyn std::io::Read + Send> = match bar {
        Some(b) => Box::new(crate::input::Counting::new(file, b.clone())),
        None => Box::new(file),
    };
    // The system calls (the kernel's copy out of the page cache) run on a thread of their
    // own, a block ahead of the check.
    let mut reader = AofReader::new(crate::input::ReadAhead::start(input));
    // Names and counts are what is checked: an argument of any length is passed over.
    reader.keep_args(1);
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
                match table.check(c.name(), c.argc()) {
                    Verdict::Ok => {}
                    Verdict::Unknown => {
                        let e = unknown
                            .entry(String::from_utf8_lossy(c.name()).to_ascii_uppercase())
                            .or_insert((0, at));
                        e.0 += 1;
                    }
                    Verdict::BadArity => {
                        let key = (
                            String::from_utf8_lossy(c.name()).to_ascii_uppercase(),
                            c.argc(),
                        );
                        bad_arity.entry(key).or_insert((0, at)).0 += 1;
                    }
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
                    let (mut f, _) = part.seekable()?;
                    next_command_after(&mut f, size, e.offset())?
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
    let mut notes: Vec<(u64, &'static str, String, bool)> = Vec::new();
    for (name, (n, at)) in unknown {
        let allowed = policy
            .allow_unknown
            .iter()
            .any(|a| a.eq_ignore_ascii_case(name.as_bytes()));
        notes.push((at, "unknown-command", format!("unknown command {name} ({n} time(s), first at offset {at}): no server version knows it, and a server refuses to load the log{}", if allowed { " unless a module provides it (--allow-unknown)" } else { " (--allow-unknown NAME if a module provides it)" }), !allowed));
    }
    for ((name, argc), (n, at)) in bad_arity {
        notes.push((at, "arity", format!("{name} with {argc} arguments ({n} time(s), first at offset {at}): wrong number of arguments"), policy.strict));
    }
    for (at, kind, msg, problem) in notes {
        if problem {
            rep.problems
                .push(json!({"offset": at, "kind": kind, "message": msg, "fixable": false}));
        } else {
            rep.warnings.push(msg);
        }
    }
    Ok(rep)
}

/// The command at `offset` of a file, in a few words: its first arguments, shortened.
fn summarize_at(part: &AofPart, offset: u64) -> Result<String> {
    let (mut f, size) = part.seekable()?;
    Ok(match command_at(&mut f, size, offset, 3, 40)? {
        Some((args, argc)) => {
            let mut words: Vec<String> = args
                .iter()
                .map(|a| {
                    let t = String::from_utf8_lossy(a).into_owned();
                    if a.len() >= 40 {
                        format!("{t}…")
                    } else {
                        t
                    }
                })
                .collect();
            if argc > 3 {
                words.push(format!("… ({argc} arguments)"));
            }
            words.join(" ")
        }
        None => format!("(the command at offset {offset})"),
    })
}

/// Whether the first bytes of a file look like an AOF: a command, an annotation, or an RDB
/// preamble. A repair never cuts anything else.
fn looks_like_aof(path: &Path) -> Result<Option<&'static str>> {
    use std::io::Read;
    let mut head = [0u8; 9];
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let n = f.read(&mut head)?;
    let head = &head[..n];
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip-compressed: decompress a copy first (gunzip -k FILE), repair that, and keep the .gz")
    } else if head.first().is_some_and(|&b| b == b'*' || b == b'#')
        || head.starts_with(b"REDIS")
        || head.starts_with(b"VALKEY")
    {
        None
    } else {
        Some("not an AOF: it does not begin with a command, an annotation or an RDB preamble")
    })
}

/// `--fix`: one fixable problem in the last file is cut away, after showing what goes. Returns
/// the exit code and what was done, for the JSON document.
fn fix(args: &Args, files: &[FileReport], problems: &Capped<Value>) -> Result<(i32, Value)> {
    let say = |t: &str| say(args.json, t);
    if problems.is_empty() {
        say("nothing to fix");
        return Ok((exit::OK, json!({"action": "none", "reason": "valid"})));
    }
    if problems.total > 1 || problems.kept[0]["fixable"] != true {
        eprintln!("redkit: not fixing: a cut would lose data, or there is more than one problem:");
        for p in &problems.kept {
            let mut why = String::new();
            if let Some(at) = p["valid_data_after"].as_u64() {
                why = format!(" (valid commands follow, from offset {at}: this is damage in the middle, not a torn tail; --salvage OUTDIR skips it)");
            } else if p["fixable"] != true {
                why = " (not in the last file, in an RDB part, an unknown command, or in the manifest: a cut cannot repair it)".into();
            }
            eprintln!(
                "- {}: {}{why}",
                p["file"].as_str().unwrap_or("?"),
                p["message"].as_str().unwrap_or("?")
            );
        }
        if problems.omitted() > 0 {
            eprintln!("- ... and {} more", problems.omitted());
        }
        eprintln!("redkit: nothing was changed");
        return Ok((
            exit::PROBLEMS,
            json!({"action": "refused", "reason": "a cut would lose data, or more than one problem"}),
        ));
    }
    let p = &problems.kept[0];
    let file = files
        .iter()
        .find(|f| Some(f.name.as_str()) == p["file"].as_str())
        .context("problem without a file")?;
    let cut = p["cut_at"]
        .as_u64()
        .context("problem without a cut offset")?;
    if !file.part.is_plain_file() {
        let why = "the log was read from standard input or a gzip file: a repair in place \
                   needs the file itself (decompress a copy with gunzip -k, repair that, or use --salvage OUTDIR)";
        eprintln!(
            "redkit: not fixing {}: {why}; nothing was changed",
            file.name
        );
        return Ok((exit::PROBLEMS, json!({"action": "refused", "reason": why})));
    }
    let path = file.part.path.clone();
    if let Some(why) = looks_like_aof(&path)? {
        eprintln!(
            "redkit: not fixing {}: {why}; nothing was changed",
            path.display()
        );
        return Ok((exit::PROBLEMS, json!({"action": "refused", "reason": why})));
    }
    if cut == 0 {
        eprintln!(
            "redkit: not fixing {}: the cut would leave nothing (no complete command before the \
             damage at offset 0); nothing was changed",
            path.display()
        );
        return Ok((
            exit::PROBLEMS,
            json!({"action": "refused", "reason": "the cut would leave an empty file"}),
        ));
    }
    let summary = {
        let (mut f, _) = file.part.seekable()?;
        describe_range(&mut f, file.size, cut)?
    };
    let keep_path = format!("{}.cut-{cut}", path.display());
    say(&format!("Plan: cut {} at offset {cut}", path.display()));
    say(&format!(
        "  removes {} bytes: {} complete command(s){}",
        file.size - cut,
        summary.commands,
        match summary.timestamps {
            Some((a, b)) => format!(", restore points {a}..{b}"),
            None => String::new(),
        }
    ));
    let last_kept = match file.last_kept {
        Some(at) => summarize_at(&file.part, at)?,
        None => "(none)".into(),
    };
    say(&format!(
        "  keeps {cut} bytes; the last command kept: {last_kept}"
    ));
    say(&format!("  the cut bytes are saved first in {keep_path}"));
    let mut plan = json!({
        "file": file.name,
        "cut_at": cut,
        "bytes_removed": file.size - cut,
        "commands_removed": summary.commands,
        "cut_bytes_kept_in": keep_path,
    });
    if args.dry_run {
        say("dry run: nothing was changed");
        plan["action"] = json!("dry-run");
        return Ok((exit::PROBLEMS, plan));
    }
    fsutil::refuse_if_held_open(&[path.as_path()], args.force)?;
    let _locked = fsutil::lock_exclusive(&[path.as_path()])?;
    if !crate::prompt::go_ahead(
        args.yes,
        "Cut the file?",
        ", or --dry-run to only see the plan",
    )? {
        plan["action"] = json!("cancelled");
        return Ok((exit::PROBLEMS, plan));
    }
    fsutil::check_size_unchanged(&path, file.size)?;
    let keep = fsutil::cut_file(&path, cut)?;
    let policy = Policy {
        allow_unknown: Vec::new(),
        strict: false,
    };
    let after = check_file(&file.part, file.role, true, None, &policy)?;
    let still: Vec<&Value> = after
        .problems
        .iter()
        .filter(|p| p["kind"] != "unknown-command")
        .collect();
    if !still.is_empty() {
        bail!(
            "{} still has problems after the cut: {}",
            path.display(),
            still[0]
        );
    }
    say(&format!(
        "Fixed: {} is now {cut} bytes and valid.",
        path.display()
    ));
    let undo = format!("cat {} >> {}", keep.display(), path.display());
    say(&format!("To undo: {undo}"));
    plan["action"] = json!("cut");
    plan["undo"] = json!(undo);
    Ok((exit::OK, plan))
}

/// `--salvage OUTDIR`: a repaired copy without the damaged ranges. Returns the exit code and
/// what was done.
fn salvage(
    args: &Args,
    out: &Path,
    manifest_path: Option<&Path>,
    files: &[FileReport],
) -> Result<(i32, Value)> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let staged = AtomicDir::create(out)?;
    let tmp = staged.path().to_path_buf();
    let result = (|| -> Result<Vec<(String, u64, u64, String)>> {
        let mut all_skipped = Vec::new();
        for f in files {
            let dst_path = tmp.join(f.part.output_name());
            let shown = out.join(f.part.output_name());
            let mut dst = File::create(&dst_path)
                .with_context(|| format!("cannot create {}", shown.display()))?;
            if f.problems.is_empty() || f.format == "rdb" {
                let (mut src, _) = f.part.seekable()?;
                std::io::copy(&mut src, &mut dst)?;
            } else {
                let (mut src, _) = f.part.seekable()?;
                let s = salvage_ranges(&mut src, f.size)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", f.name))?;
                for (a, b) in s.kept {
                    src.seek(SeekFrom::Start(a))?;
                    std::io::copy(&mut Read::take(&mut src, b - a), &mut dst)?;
                }
                all_skipped.extend(
                    s.skipped
                        .into_iter()
                        .map(|k| (f.name.clone(), k.start, k.end, k.reason)),
                );
            }
            dst.flush()?;
            dst.sync_all()?;
            fsutil::crash_point("one file of the salvaged copy written");
        }
        if let Some(mp) = manifest_path {
            let mname = mp.file_name().context("manifest without a name")?;
            std::fs::copy(mp, tmp.join(mname))?;
        }
        Ok(all_skipped)
    })();
    let skipped = result?;
    staged.commit()?;
    let say = |t: &str| say(args.json, t);
    say(&format!(
        "Salvaged into {}; skipped {} damaged range(s):",
        out.display(),
        skipped.len()
    ));
    for (file, a, b, why) in &skipped {
        say(&format!(
            "- {file}: bytes {a}..{b} ({} bytes): {why}",
            b - a
        ));
    }
    say(&format!(
        "The original is unchanged; check the copy with: redkit check-aof {}",
        out.display()
    ));
    Ok((
        exit::OK,
        json!({
            "action": "salvaged",
            "output": out.display().to_string(),
            "skipped": skipped.iter().map(|(f, a, b, why)| json!({
                "file": f, "start": a, "end": b, "bytes": b - a, "reason": why,
            })).collect::<Vec<_>>(),
        }),
    ))
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let path = &args.path;
    let salvage_dest = match &args.salvage {
        Some(out) => {
            let inputs = crate::input::protect(path);
            match output::plan(out, Kind::Dir, args.force, &inputs)? {
                output::Dest::Path(p) => Some(p),
                output::Dest::Stdout => unreachable!("a directory is never standard output"),
            }
        }
        None => None,
    };
    let manifest_path = if path == Path::new("-") {
        None
    } else {
        crate::input::locate_manifest(path)?
    };
    let policy = Policy {
        allow_unknown: args
            .allow_unknown
            .iter()
            .map(|s| s.trim().as_bytes().to_vec())
            .collect(),
        strict: args.strict,
    };
    // Progress over every byte to read, on a terminal only.
    let bar = crate::progress::bytes_bar(args.json || args.quiet);
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
    // A forged manifest can list a million files: the report keeps the first problems and
    // warnings, and counts them all.
    let mut problems: Capped<Value> = Capped::default();
    let mut warnings: Capped<String> = Capped::default();
    let mut manifest_json = Value::Null;
    match &manifest_path {
        None => {
            let mut aof = crate::input::aof(path)?;
            let part = aof.files.remove(0);
            files.push(check_file(&part, "single", true, bar.as_ref(), &policy)?)
        }
        Some(mp) => {
            let dir = mp
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            // A manifest that is not a regular file (a link, a FIFO) is damage, not an error.
            let parsed = match manifest::dir::read_manifest(mp) {
                Ok(text) => Manifest::parse(&text).map_err(|e| (e.line, e.to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Err((0, e.to_string())),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", mp.display())),
            };
            match parsed {
                Err((line, message)) => problems.push(json!({
                    "file": mp.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "line": line,
                    "kind": "manifest",
                    "message": message,
                    "fixable": false,
                })),
                Ok(m) => {
                    let names = |l: &[manifest::AofFile]| {
                        l.iter()
                            .take(KEPT_ITEMS)
                            .map(|f| f.display_name())
                            .collect::<Vec<_>>()
                    };
                    manifest_json = json!({
                        "path": mp.display().to_string(),
                        "base": m.base.as_ref().map(|f| f.display_name()),
                        "history": names(&m.history),
                        "history_count": m.history.len(),
                        "incr": names(&m.incr),
                        "incr_count": m.incr.len(),
                    });
                    // Files on disk the manifest does not list.
                    let listed: std::collections::HashSet<&[u8]> =
                        m.files().map(|f| f.name.as_slice()).collect();
                    if let Ok(rd) = std::fs::read_dir(&dir) {
                        for e in rd.flatten() {
                            use std::os::unix::ffi::OsStrExt;
                            let raw = e.file_name();
                            let n = raw.to_string_lossy().into_owned();
                            let part = n.ends_with(".aof") || n.ends_with(".rdb");
                            if part
                                && !listed.contains(raw.as_bytes())
                                && Some(e.path()) != Some(mp.clone())
                            {
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
                        let fname = String::from_utf8_lossy(&f.name).into_owned();
                        if let Some(why) = crate::input::member_problem(mp, &fname) {
                            problems.push(json!({
                                "file": f.display_name(),
                                "line": f.line,
                                "kind": if mp.file_name().is_some_and(|m| m.to_string_lossy() == fname) {
                                    "manifest"
                                } else {
                                    "not-regular"
                                },
                                "message": format!("{why} (manifest line {})", f.line),
                                "fixable": false,
                            }));
                            continue;
                        }
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
                        let rep = check_file(
                            &AofPart::member(p),
                            role,
                            i + 1 == loaded.len(),
                            bar.as_ref(),
                            &policy,
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
    // Problems of the directory (manifest, missing or special files) cannot be salvaged; those
    // of a file's contents can when they are damage.
    let only_damage = problems.is_empty()
        && files.iter().all(|f| {
            f.problems.iter().all(|p| {
                matches!(
                    p["kind"].as_str(),
                    Some("truncated" | "corrupt" | "unfinished-multi")
                )
            })
        });
    for f in &files {
        for p in &f.problems {
            let mut p = p.clone();
            p["file"] = json!(f.name);
            problems.push(p);
        }
        for w in &f.warnings {
            warnings.push(format!("{}: {w}", f.name));
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut report = json!({
        "path": path.display().to_string(),
        "kind": if manifest_path.is_some() { "multi-part" } else { "single-file" },
        "valid": problems.is_empty(),
        "manifest": manifest_json,
        "file_count": files.len(),
        "files": files.iter().take(KEPT_ITEMS).map(|f| json!({
            "name": f.name, "role": f.role, "size": f.size, "format": f.format,
            "commands": f.commands, "annotations": f.annotations,
            "first_timestamp": f.first_ts, "last_timestamp": f.last_ts,
            "rdb_keys": f.preamble_keys, "cut_at": f.cut_at,
        })).collect::<Vec<_>>(),
        "problem_count": problems.total,
        "problems": &problems.kept,
        "warning_count": warnings.total,
        "warnings": &warnings.kept,
    });
    if !args.json {
        print_report(&report);
    }
    let mut code = if problems.is_empty() {
        exit::OK
    } else {
        exit::PROBLEMS
    };
    if args.fix {
        let (c, done) = fix(&args, &files, &problems)?;
        code = c;
        report["repair"] = done;
    } else if let Some(out) = &salvage_dest {
        if !only_damage {
            eprintln!(
                "redkit: not salvaging: only damaged commands can be skipped; the problems above \
                 (manifest, missing file, RDB part, unknown commands) need another repair"
            );
            report["repair"] =
                json!({"action": "refused", "reason": "problems a salvage cannot skip"});
            code = exit::PROBLEMS;
        } else {
            let (c, done) = salvage(&args, out, manifest_path.as_deref(), &files)?;
            code = c;
            report["repair"] = done;
        }
    }
    if args.json {
        print_json(&report)?;
    }
    Ok(code)
}

fn print_report(r: &Value) {
    let s = cell_text;
    let mut t = table();
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
    let empty = Vec::new();
    let problems = r["problems"].as_array().unwrap_or(&empty);
    if problems.is_empty() {
        outln!("VALID: {} ({})", s(&r["path"]), s(&r["kind"]));
    } else {
        outln!("INVALID: {} problem(s)", s(&r["problem_count"]));
        for p in problems {
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
            if p["fixable"] == true
                && matches!(p["kind"].as_str(), Some("truncated" | "unfinished-multi"))
            {
                outln!(
                    "  a server with aof-load-truncated yes (the default) loads the log without \
                     this tail; to cut it for good: redkit check-aof {} --fix",
                    s(&r["path"])
                );
            }
        }
    }
    let more =
        |total: &Value, listed: usize| total.as_u64().unwrap_or(0).saturating_sub(listed as u64);
    let omitted = more(&r["problem_count"], problems.len());
    if omitted > 0 {
        outln!("- ... and {omitted} more (not listed)");
    }
    let warnings = r["warnings"].as_array().unwrap_or(&empty);
    for w in warnings {
        eprintln!("warning: {}", s(w));
    }
    let omitted = more(&r["warning_count"], warnings.len());
    if omitted > 0 {
        eprintln!("warning: ... and {omitted} more (not listed)");
    }
    let omitted = more(&r["file_count"], r["files"].as_array().map_or(0, Vec::len));
    if omitted > 0 {
        eprintln!("note: {omitted} more file(s) were checked and not listed");
    }
}
