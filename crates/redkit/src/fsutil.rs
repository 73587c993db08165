//! Writing files safely: a temporary file in the target directory, fsync, rename, fsync dir.

use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Fault injection for the tests: with `REDKIT_CRASH_AT=N` in the environment, the N-th call
/// aborts the process on the spot (no destructors, no cleanup: what `kill -9` leaves), after
/// naming the point on stderr. Commands that change files call it between their steps, so a
/// test can stop them at every step in turn. Without the variable it does nothing.
pub fn crash_point(what: &str) {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let at = AT.get_or_init(|| {
        std::env::var("REDKIT_CRASH_AT")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(n) = *at {
        if COUNT.fetch_add(1, Ordering::Relaxed) + 1 == n {
            eprintln!("redkit: REDKIT_CRASH_AT={n}: stopping at: {what}");
            std::process::abort();
        }
    }
}

/// A file written under a temporary name and renamed into place only when complete.
pub struct AtomicFile {
    file: File,
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Flushes a directory entry to disk (after a rename or create in it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).with_context(|| format!("cannot open directory {}", dir.display()))?;
    d.sync_all()
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

impl AtomicFile {
    /// Creates `temp-<name>.<pid>` beside `target`.
    pub fn create(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .with_context(|| format!("{} is not a file name", target.display()))?;
        let tmp = dir_of(target).join(format!(
            "temp-{}.{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicFile {
            file,
            tmp,
            target: target.to_path_buf(),
            done: false,
        })
    }

    /// A handle to write through.
    pub fn file(&self) -> Result<File> {
        self.file
            .try_clone()
            .context("cannot duplicate file handle")
    }

    fn finish_to(mut self, dest: &Path) -> Result<PathBuf> {
        crash_point("temporary file written, not synced");
        self.file
            .sync_all()
            .with_context(|| format!("cannot sync {}", self.tmp.display()))?;
        crash_point("temporary file synced, not renamed");
        fs::rename(&self.tmp, dest).with_context(|| {
            format!("cannot rename {} to {}", self.tmp.display(), dest.display())
        })?;
        crash_point("file renamed into place, directory not synced");
        sync_dir(&dir_of(dest))?;
        self.done = true;
        Ok(dest.to_path_buf())
    }

    /// Syncs and renames the file to its target name.
    pub fn commit(self) -> Result<PathBuf> {
        let target = self.target.clone();
        self.finish_to(&target)
    }

    /// Keeps an incomplete output as `<target>.partial`; returns that path.
    pub fn keep_partial(self) -> Result<PathBuf> {
        let mut p = self.target.clone().into_os_string();
        p.push(".partial");
        self.finish_to(Path::new(&p))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A directory built under a temporary name beside its target and renamed into place only when
/// complete; removed if dropped before [`AtomicDir::commit`].
pub struct AtomicDir {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl AtomicDir {
    /// Creates `temp-<name>.<pid>` beside `target`, which must not exist.
    pub fn create(target: &Path) -> Result<Self> {
        if target.exists() {
            anyhow::bail!(
                "{} exists: give a new directory (nothing is overwritten)",
                target.display()
            );
        }
        let parent = dir_of(target);
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let name = target
            .file_name()
            .with_context(|| format!("{} needs a directory name", target.display()))?;
        let tmp = parent.join(format!(
            "temp-{}.{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicDir {
            tmp,
            target: target.to_path_buf(),
            done: false,
        })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Syncs the directory, renames it to its target and syncs the parent.
    pub fn commit(mut self) -> Result<()> {
        crash_point("temporary directory written, not synced");
        sync_dir(&self.tmp)?;
        crash_point("temporary directory synced, not renamed");
        fs::rename(&self.tmp, &self.target).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.tmp.display(),
                self.target.display()
            )
        })?;
        crash_point("directory renamed into place, parent not synced");
        sync_dir(&dir_of(&self.target))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}
