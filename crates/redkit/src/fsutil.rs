//! Writing files safely: a temporary file in the target directory, fsync, rename, fsync dir.

use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
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

/// A writer that hands full 1 MiB buffers to a thread which writes them to the file, so that
/// the write system calls overlap with the work of the caller. Errors of the thread come back
/// on a later write or on [`ThreadedWriter::finish`].
pub struct ThreadedWriter {
    buf: Vec<u8>,
    to_thread: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    from_thread: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

const THREADED_BUF: usize = 1 << 20;
/// Buffers queued for the thread at most (memory: this many MiB).
const QUEUED_BUFS: usize = 32;
/// Bytes written between two syncs by the thread.
const SYNC_EVERY: usize = 64 << 20;

impl ThreadedWriter {
    /// Starts the writing thread on `out`.
    pub fn new(out: File) -> ThreadedWriter {
        Self::with_queue(out, QUEUED_BUFS)
    }

    /// Starts the writing thread on `out`, with at most `queued` buffers of 1 MiB waiting for
    /// it (when the caller already holds much memory, fewer keep the peak down).
    pub fn with_queue(mut out: File, queued: usize) -> ThreadedWriter {
        let (to_thread, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(queued);
        let (back, from_thread) = std::sync::mpsc::sync_channel::<Vec<u8>>(queued);
        let thread = std::thread::spawn(move || -> std::io::Result<()> {
            let mut unsynced = 0usize;
            for mut b in rx {
                out.write_all(&b)?;
                // Sync as we go, while the caller keeps working, so that the final sync of
                // the commit has little left to do.
                unsynced += b.len();
                if unsynced >= SYNC_EVERY {
                    out.sync_data()?;
                    unsynced = 0;
                }
                b.clear();
                let _ = back.try_send(b);
            }
            Ok(())
        });
        ThreadedWriter {
            buf: Vec::with_capacity(THREADED_BUF),
            to_thread: Some(to_thread),
            from_thread,
            thread: Some(thread),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .from_thread
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(THREADED_BUF));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self.to_thread.as_ref().map(|t| t.send(full));
        if !matches!(sent, Some(Ok(()))) {
            // The thread stopped: its error says why.
            return Err(self
                .join()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the writing thread stopped")));
        }
        Ok(())
    }

    fn join(&mut self) -> std::io::Result<()> {
        self.to_thread = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the writing thread panicked")),
            None => Ok(()),
        }
    }

    /// Writes what is buffered and waits for the thread to finish.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.send()?;
        self.join()
    }
}

impl Write for ThreadedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > THREADED_BUF && !self.buf.is_empty() {
            self.send()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Buffers are written by the thread; `finish` waits for them.
        Ok(())
    }
}

impl Drop for ThreadedWriter {
    fn drop(&mut self) {
        let _ = self.join();
    }
}
