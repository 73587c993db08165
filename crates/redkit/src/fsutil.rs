//! File surgery: cutting a file with the cut bytes kept first, syncing directories, and the
//! crash points of the fault-injection tests.

use anyhow::{bail, Context, Result};
use std::fs::{self, File};

use std::path::{Path, PathBuf};

pub use crate::output::{crash_point, sync_dir};

/// Cuts `path` at `cut`, first keeping the cut bytes in `<path>.cut-<cut>`; returns that path.
pub fn cut_file(path: &Path, cut: u64) -> Result<PathBuf> {
    let keep = cut_file_keep_only(path, cut)?;
    truncate_to(path, cut)?;
    Ok(keep)
}

/// Writes the bytes of `path` from `cut` on to `<path>.cut-<cut>` (temp file, fsync, rename).
/// When that file is already there holding exactly those bytes (an earlier run stopped before
/// it could cut), it is kept as it is.
pub fn cut_file_keep_only(path: &Path, cut: u64) -> Result<PathBuf> {
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
    let saved = crate::output::AtomicFile::create(&keep)?;
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
pub fn truncate_to(path: &Path, len: u64) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {} for writing", path.display()))?;
    crash_point("cut bytes saved, file not truncated");
    f.set_len(len)
        .with_context(|| format!("cannot truncate {}", path.display()))?;
    crash_point("file truncated, not synced");
    f.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The processes other than this one that hold one of `paths` open (Linux: `/proc/*/fd`), as
/// (pid, command name, path). Empty where `/proc` cannot be read.
pub fn held_open_by_others(paths: &[&Path]) -> Vec<(u32, String, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    let wanted: Vec<((u64, u64), &Path)> = paths
        .iter()
        .filter_map(|p| fs::metadata(p).ok().map(|m| ((m.dev(), m.ino()), *p)))
        .collect();
    let mut found = Vec::new();
    let me = std::process::id();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for proc_entry in procs.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(m) = fs::metadata(fd.path()) else {
                continue;
            };
            if let Some((_, p)) = wanted.iter().find(|(id, _)| *id == (m.dev(), m.ino())) {
                let comm = fs::read_to_string(proc_entry.path().join("comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                found.push((pid, comm, p.to_path_buf()));
            }
        }
    }
    found
}

/// Refuses (unless `force`) a repair of files that another process holds open, such as a
/// server still appending to its log.
pub fn refuse_if_held_open(paths: &[&Path], force: bool) -> Result<()> {
    let held = held_open_by_others(paths);
    if held.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = held
        .iter()
        .map(|(pid, comm, p)| format!("{} (pid {pid}, {comm})", p.display()))
        .collect();
    if force {
        eprintln!(
            "redkit: warning: --force: going on though other processes hold open: {}",
            list.join(", ")
        );
        return Ok(());
    }
    bail!(
        "other processes hold open: {}; stop the server first (a server appending while the \
         log is cut leaves neither state), or --force",
        list.join(", ")
    )
}

/// Refuses a repair when a file's size changed since it was planned (something appends).
pub fn check_size_unchanged(path: &Path, planned: u64) -> Result<()> {
    let now = fs::metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    if now != planned {
        bail!(
            "{} changed size while the repair was planned ({planned} -> {now} bytes): something \
             writes to it; stop the server first; nothing was changed",
            path.display()
        );
    }
    Ok(())
}

/// Takes an exclusive advisory lock (flock) on each of `paths` for as long as the returned
/// files live: two repairs of the same log never run at once. A lock held elsewhere is refused
/// at once (exit 2), `--force` or not.
pub fn lock_exclusive(paths: &[&Path]) -> Result<Vec<File>> {
    let mut held = Vec::new();
    for p in paths {
        let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
        match f.try_lock() {
            Ok(()) => held.push(f),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{} is locked by another process (another repair of this log?): nothing was \
                 changed",
                p.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", p.display()))
            }
        }
    }
    Ok(held)
}
