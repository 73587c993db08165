//! Every write of every command: where an output may go, and how it gets there.
//!
//! The rules, the same for every command:
//! - `-` and `/dev/stdout` are standard output where the output is a stream (dump-json,
//!   convert, aof-to-rdb, `rewrite --format resp`), and a usage error elsewhere;
//! - an output that is an input, lies inside an input directory, or is a file of an input's
//!   AOF directory is refused, `--force` or not;
//! - an existing output that is not a regular file (a FIFO, a device, a symlink) is refused,
//!   `--force` or not; an existing regular file (or AOF directory) is replaced only with
//!   `--force`;
//! - files are written under a temporary name beside the output (`temp-<name>.<pid>`), synced
//!   and renamed; the directory is synced. Temporary files that a stopped run left for the same
//!   output are removed first. Parent directories that a failed run created are removed.

use anyhow::{bail, Context, Result};
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

/// Flushes a directory entry to disk (after a rename or create in it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).with_context(|| format!("cannot open directory {}", dir.display()))?;
    d.sync_all()
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

/// What a run has on disk that is not an output yet: the temporary files and directories being
/// written, and the parent directories it made. [`remove_temporaries`] removes them when the
/// run is stopped by a signal (SIGINT, SIGTERM, SIGHUP). Every creation, commit and removal of
/// these holds the lock, so the removal never races with a commit: once it has the lock, no
/// temporary is created or renamed into place again. (SIGKILL cannot be caught: the next run
/// to the same output removes what it left.)
struct Temporaries {
    paths: Vec<PathBuf>,
    made: Vec<PathBuf>,
}

static TEMPORARIES: std::sync::Mutex<Temporaries> = std::sync::Mutex::new(Temporaries {
    paths: Vec::new(),
    made: Vec::new(),
});

fn temporaries() -> std::sync::MutexGuard<'static, Temporaries> {
    TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every temporary file and directory still being written, then the parent
/// directories the run made (when empty). Keeps the lock: the process is about to exit.
pub fn remove_temporaries() {
    let t = temporaries();
    for p in &t.paths {
        // Retried: the writing thread may add a file to a directory while it is removed (it
        // cannot once the directory is gone).
        for _ in 0..10 {
            let gone = if p.is_dir() {
                fs::remove_dir_all(p).is_ok() || !p.exists()
            } else {
                fs::remove_file(p).is_ok() || !p.exists()
            };
            if gone {
                break;
            }
        }
    }
    for d in t.made.iter().rev() {
        let _ = fs::remove_dir(d);
    }
    std::mem::forget(t);
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file or directory, written atomically.
    Path(PathBuf),
}

impl Dest {
    /// The path, or `None` for standard output.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Dest::Stdout => None,
            Dest::Path(p) => Some(p),
        }
    }
}

/// What the output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One file, which may also be standard output.
    Stream,
    /// A directory.
    Dir,
}

/// The inputs of a run, which no output may touch.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// Input files, canonical.
    files: Vec<PathBuf>,
    /// Input directories (an AOF directory, the directory of a manifest), canonical.
    dirs: Vec<PathBuf>,
}

impl Inputs {
    /// Protects an input file (`-` is ignored).
    pub fn file(&mut self, p: &Path) {
        if p != Path::new("-") {
            self.files
                .push(fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
        }
    }

    /// Protects an input directory and everything in it.
    pub fn dir(&mut self, p: &Path) {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        self.dirs
            .push(fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    }
}

/// The canonical form of a path that may not exist yet: its deepest existing ancestor made
/// canonical, the rest appended.
fn canonical_of_new(p: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(p) {
        return c;
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = fs::canonicalize(cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Decides where an output named `path` goes, or refuses it (a usage error: exit 2).
pub fn plan(path: &Path, kind: Kind, force: bool, inputs: &Inputs) -> Result<Dest> {
    if path == Path::new("-") || path == Path::new("/dev/stdout") {
        return match kind {
            Kind::Stream => Ok(Dest::Stdout),
            Kind::Dir => {
                bail!("this output is a directory: `-` (standard output) is not possible here")
            }
        };
    }
    if path.as_os_str().is_empty() {
        bail!("the output path is empty");
    }
    let canon = canonical_of_new(path);
    for f in &inputs.files {
        if *f == canon {
            bail!(
                "{} is the input: an output never replaces its input (--force or not)",
                path.display()
            );
        }
    }
    for d in &inputs.dirs {
        if canon.starts_with(d) {
            bail!(
                "{} lies inside the input directory {}: an output never goes there (--force or not)",
                path.display(),
                d.display()
            );
        }
        if d.starts_with(&canon) {
            bail!(
                "{} holds the input directory {}: an output never replaces it (--force or not)",
                path.display(),
                d.display()
            );
        }
    }
    if let Ok(meta) = fs::symlink_metadata(path) {
        let ft = meta.file_type();
        let what = if ft.is_symlink() {
            Some("a symbolic link")
        } else if ft.is_dir() && kind != Kind::Dir {
            Some("a directory")
        } else if ft.is_file() && kind == Kind::Dir {
            Some("a file")
        } else if !ft.is_file() && !ft.is_dir() {
            Some("not a regular file (a FIFO, socket or device)")
        } else {
            None
        };
        if let Some(what) = what {
            bail!(
                "{} exists and is {what}: refused, --force or not; name a new {}",
                path.display(),
                if kind == Kind::Dir {
                    "directory"
                } else {
                    "file"
                }
            );
        }
        if !force {
            bail!(
                "{} exists: nothing is overwritten without --force",
                path.display()
            );
        }
        if kind == Kind::Dir && !replaceable_dir(path)? {
            bail!(
                "{} exists and is neither empty nor an AOF directory: --force replaces only those",
                path.display()
            );
        }
    }
    Ok(Dest::Path(path.to_path_buf()))
}

/// Whether `--force` may replace the directory: it is empty, or holds a manifest and only
/// files (an AOF directory).
fn replaceable_dir(dir: &Path) -> Result<bool> {
    let mut manifest = false;
    let mut empty = true;
    for e in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let e = e?;
        empty = false;
        if !e.file_type()?.is_file() {
            return Ok(false);
        }
        if e.file_name().to_string_lossy().ends_with(".manifest") {
            manifest = true;
        }
    }
    Ok(empty || manifest)
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates the missing parents of `path`; returns those it created, outermost first.
fn make_parents(path: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut cur = dir_of(path);
    while fs::symlink_metadata(&cur).is_err() {
        missing.push(cur.clone());
        match cur.parent() {
            Some(p) if !p.as_os_str().is_empty() => cur = p.to_path_buf(),
            _ => break,
        }
    }
    missing.reverse();
    let mut t = temporaries();
    for d in &missing {
        fs::create_dir(d).with_context(|| format!("cannot create directory {}", d.display()))?;
        t.made.push(d.clone());
    }
    Ok(missing)
}

/// Removes directories made by [`make_parents`] (innermost first), when still empty.
fn remove_made(made: &[PathBuf]) {
    let mut t = temporaries();
    for d in made.iter().rev() {
        let _ = fs::remove_dir(d);
        t.made.retain(|m| m != d);
    }
}

/// Forgets directories made by [`make_parents`]: they hold a committed output now.
fn keep_made(made: &[PathBuf]) {
    temporaries().made.retain(|m| !made.contains(m));
}

/// Creates the temporary `tmp` with `make` and registers it, under the lock (a signal finds
/// it as soon as it exists).
fn create_temporary<T>(
    tmp: &Path,
    make: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut t = temporaries();
    let r = make(tmp);
    if r.is_ok() {
        t.paths.push(tmp.to_path_buf());
    }
    r
}

/// Removes the temporary `tmp` of a run that did not commit it (with `remove`), under the
/// lock; then the parent directories it made.
fn abandon_temporary(
    tmp: &Path,
    made: &[PathBuf],
    remove: impl FnOnce(&Path) -> std::io::Result<()>,
) {
    {
        let mut t = temporaries();
        let _ = remove(tmp);
        t.paths.retain(|p| p != tmp);
    }
    remove_made(made);
}

/// Whether a process with this id runs.
fn alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes what stopped runs left for the output `target`: `temp-<name>.<pid>` beside it whose
/// process is gone.
fn remove_stale(target: &Path) {
    let Some(name) = target.file_name() else {
        return;
    };
    let prefix = format!("temp-{}.", name.to_string_lossy());
    let Ok(rd) = fs::read_dir(dir_of(target)) else {
        return;
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        // `temp-<name>.<pid>`, and what a run makes beside it (`.<pid>.replay.rdb`, `.old`).
        let Some(rest) = n.strip_prefix(&prefix) else {
            continue;
        };
        let Ok(pid) = rest.split('.').next().unwrap_or("").parse::<u32>() else {
            continue;
        };
        if alive(pid) {
            continue;
        }
        let p = e.path();
        let removed = match e.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&p).is_ok(),
            Ok(t) if t.is_file() => fs::remove_file(&p).is_ok(),
            _ => false,
        };
        if removed {
            eprintln!("redkit: removed {}, left by a stopped run", p.display());
        }
    }
}

/// The temporary name for `target`.
fn temp_name(target: &Path) -> Result<PathBuf> {
    let name = target
        .file_name()
        .with_context(|| format!("{} is not a file name", target.display()))?;
    Ok(dir_of(target).join(format!(
        "temp-{}.{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// A file written under a temporary name and renamed into place only when complete.
pub struct AtomicFile {
    file: File,
    tmp: PathBuf,
    target: PathBuf,
    made: Vec<PathBuf>,
    done: bool,
}

impl AtomicFile {
    /// Creates `temp-<name>.<pid>` beside `target` (and the missing parents), after removing
    /// what stopped runs left for it.
    pub fn create(target: &Path) -> Result<Self> {
        let made = make_parents(target)?;
        remove_stale(target);
        let tmp = temp_name(target)?;
        let created = create_temporary(&tmp, |p| {
            OpenOptions::new().write(true).create_new(true).open(p)
        });
        let file = match created {
            Ok(f) => f,
            Err(e) => {
                remove_made(&made);
                return Err(e).with_context(|| format!("cannot create {}", target.display()));
            }
        };
        Ok(AtomicFile {
            file,
            tmp,
            target: target.to_path_buf(),
            made,
            done: false,
        })
    }

    /// A handle to write through.
    pub fn file(&self) -> Result<NamedFile> {
        let file = self
            .file
            .try_clone()
            .context("cannot duplicate file handle")?;
        Ok(NamedFile::new(file, self.target.clone()))
    }

    /// The file as written so far, opened for reading from its start (a temporary input made
    /// beside the output, say).
    pub fn read_back(&self) -> Result<File> {
        File::open(&self.tmp).with_context(|| format!("cannot read {}", self.tmp.display()))
    }

    /// The directory the file goes to (for spooling beside it).
    pub fn dir(&self) -> PathBuf {
        dir_of(&self.target)
    }

    fn finish_to(mut self, dest: &Path) -> Result<PathBuf> {
        crash_point("temporary file written, not synced");
        self.file
            .sync_all()
            .with_context(|| format!("cannot sync {}", dest.display()))?;
        crash_point("temporary file synced, not renamed");
        {
            let mut t = temporaries();
            fs::rename(&self.tmp, dest)
                .with_context(|| format!("cannot write {}", dest.display()))?;
            t.paths.retain(|p| *p != self.tmp);
        }
        keep_made(&self.made);
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

    /// Keeps an incomplete output as `<target>.partial` (or `.partial-N`, the first name
    /// free: nothing is replaced); returns that path.
    pub fn keep_partial(self) -> Result<PathBuf> {
        let mut n = 1;
        let dest = loop {
            let mut p = self.target.clone().into_os_string();
            p.push(if n == 1 {
                ".partial".to_string()
            } else {
                format!(".partial-{n}")
            });
            let p = PathBuf::from(p);
            if fs::symlink_metadata(&p).is_err() {
                break p;
            }
            n += 1;
        };
        self.finish_to(&dest)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            abandon_temporary(&self.tmp, &self.made, |p| fs::remove_file(p));
        }
    }
}

/// A directory built under a temporary name beside its target and renamed into place only when
/// complete; removed if dropped before [`AtomicDir::commit`].
pub struct AtomicDir {
    tmp: PathBuf,
    target: PathBuf,
    made: Vec<PathBuf>,
    done: bool,
}

impl AtomicDir {
    /// Creates `temp-<name>.<pid>` beside `target` (and the missing parents), after removing
    /// what stopped runs left for it. The target was checked by [`plan`]; an existing one is
    /// replaced at commit (`--force`).
    pub fn create(target: &Path) -> Result<Self> {
        let made = make_parents(target)?;
        remove_stale(target);
        let tmp = temp_name(target)?;
        if let Err(e) = create_temporary(&tmp, |p| fs::create_dir(p)) {
            remove_made(&made);
            return Err(e).with_context(|| format!("cannot create {}", target.display()));
        }
        Ok(AtomicDir {
            tmp,
            target: target.to_path_buf(),
            made,
            done: false,
        })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Syncs the directory, renames it to its target and syncs the parent. An existing target
    /// (allowed by `--force`) is moved aside first and removed once the new one is in place.
    pub fn commit(mut self) -> Result<()> {
        crash_point("temporary directory written, not synced");
        sync_dir(&self.tmp)?;
        crash_point("temporary directory synced, not renamed");
        // The old directory (--force) moved aside and the new one renamed into place under the
        // lock: a signal cannot come between the two.
        let old = {
            let mut t = temporaries();
            let old = if fs::symlink_metadata(&self.target).is_ok() {
                let mut aside = temp_name(&self.target)?.into_os_string();
                aside.push(".old");
                let aside = PathBuf::from(aside);
                fs::rename(&self.target, &aside)
                    .with_context(|| format!("cannot move {} aside", self.target.display()))?;
                Some(aside)
            } else {
                None
            };
            fs::rename(&self.tmp, &self.target)
                .with_context(|| format!("cannot write {}", self.target.display()))?;
            t.paths.retain(|p| *p != self.tmp);
            old
        };
        keep_made(&self.made);
        crash_point("directory renamed into place, parent not synced");
        sync_dir(&dir_of(&self.target))?;
        if let Some(old) = old {
            fs::remove_dir_all(&old)
                .with_context(|| format!("cannot remove the replaced {}", old.display()))?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.done {
            abandon_temporary(&self.tmp, &self.made, |p| fs::remove_dir_all(p));
        }
    }
}

/// An output file whose write errors name it (its final path): "cannot write out.rdb: No
/// space left on device", not the system's message alone. The error's kind is kept.
pub struct NamedFile {
    file: File,
    name: PathBuf,
}

impl NamedFile {
    /// `file`, whose errors name `name`.
    pub fn new(file: File, name: PathBuf) -> NamedFile {
        NamedFile { file, name }
    }

    /// The file itself.
    pub fn into_file(self) -> File {
        self.file
    }

    fn named(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", self.name.display()),
        )
    }
}

impl Write for NamedFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.file.write(data).map_err(|e| self.named(e))
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().map_err(|e| self.named(e))
    }
}

impl SyncWrite for NamedFile {
    fn sync_data(&mut self) -> std::io::Result<()> {
        self.file.sync_data().map_err(|e| self.named(e))
    }

    fn sync_handle(&self) -> Option<Box<dyn SyncWrite>> {
        let file = self.file.try_clone().ok()?;
        Some(Box::new(NamedFile::new(file, self.name.clone())))
    }
}

/// A writer that hands full 1 MiB buffers to a thread which writes them to the file, so that
/// the write system calls overlap with the work of the caller. Errors of the thread come back
/// on a later write or on [`ThreadedWriter::finish`]. When the system refuses a thread, the
/// buffers are written by the caller.
pub struct ThreadedWriter {
    buf: Vec<u8>,
    to_thread: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    from_thread: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    /// The output, written on this thread (no other could be started).
    here: Option<Box<dyn SyncWrite>>,
}

const THREADED_BUF: usize = 1 << 20;
/// Buffers queued for the thread at most (memory: this many MiB).
const QUEUED_BUFS: usize = 32;
/// Bytes written between two requests for a sync (to the syncing thread, else made by the
/// writing thread itself).
const SYNC_EVERY: usize = 16 << 20;

/// Where a [`ThreadedWriter`] writes.
pub trait SyncWrite: Write + Send + 'static {
    /// Flushes what was written to the disk (nothing for a pipe).
    fn sync_data(&mut self) -> std::io::Result<()>;

    /// A second handle to the same file, to sync it from another thread while this one
    /// writes; `None` when there is no file to sync (a pipe) or no second handle.
    fn sync_handle(&self) -> Option<Box<dyn SyncWrite>> {
        None
    }
}

impl SyncWrite for File {
    fn sync_data(&mut self) -> std::io::Result<()> {
        File::sync_data(self)
    }

    fn sync_handle(&self) -> Option<Box<dyn SyncWrite>> {
        Some(Box::new(self.try_clone().ok()?))
    }
}

impl SyncWrite for Box<dyn SyncWrite> {
    fn sync_data(&mut self) -> std::io::Result<()> {
        (**self).sync_data()
    }

    fn sync_handle(&self) -> Option<Box<dyn SyncWrite>> {
        (**self).sync_handle()
    }
}

/// Syncs a file on a thread of its own each time it is asked to, so that the disk writes one
/// stretch of the file while the writer goes on with the next (a sync on the writing thread
/// holds the writes up, and the disk then waits for them in turn).
struct Syncer {
    ask: Option<std::sync::mpsc::SyncSender<()>>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Syncer {
    /// Starts the thread on `handle`; gives the handle back when no thread can be started.
    fn start(handle: Box<dyn SyncWrite>) -> Result<Syncer, Box<dyn SyncWrite>> {
        let (ask, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = rdb_parse::threads::spawn_or_keep("sync", handle, move |mut h| {
            for () in asked {
                h.sync_data()?;
            }
            Ok(())
        })?;
        Ok(Syncer {
            ask: Some(ask),
            thread,
        })
    }

    /// Asks for a sync of what was written so far; when one is under way already, the next
    /// request (or the commit's final sync) takes these writes too.
    fn ask(&self) {
        if let Some(a) = &self.ask {
            let _ = a.try_send(());
        }
    }

    /// Waits for the sync under way; its error, if any.
    fn finish(mut self) -> std::io::Result<()> {
        drop(self.ask.take());
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the syncing thread panicked")))
    }
}

impl SyncWrite for std::io::Stdout {
    fn sync_data(&mut self) -> std::io::Result<()> {
        self.flush()
    }
}

impl ThreadedWriter {
    /// Starts the writing thread on `out`.
    pub fn new(out: impl SyncWrite) -> ThreadedWriter {
        Self::with_queue(out, QUEUED_BUFS)
    }

    /// Starts the writing thread on `out`, with at most `queued` buffers of 1 MiB waiting for
    /// it (when the caller already holds much memory, fewer keep the peak down).
    pub fn with_queue(out: impl SyncWrite, queued: usize) -> ThreadedWriter {
        let (to_thread, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(queued);
        let (back, from_thread) = std::sync::mpsc::sync_channel::<Vec<u8>>(queued);
        let started = rdb_parse::threads::spawn_or_keep("writer", out, move |mut out| {
            // Sync as we go, while the caller keeps working, so that the final sync of the
            // commit has little left to do: on a thread of its own, else here.
            let syncer = out.sync_handle().and_then(|h| Syncer::start(h).ok());
            let mut unsynced = 0usize;
            let written = (|| {
                for mut b in rx {
                    out.write_all(&b)?;
                    unsynced += b.len();
                    if unsynced >= SYNC_EVERY {
                        match &syncer {
                            Some(s) => s.ask(),
                            None => out.sync_data()?,
                        }
                        unsynced = 0;
                    }
                    b.clear();
                    let _ = back.try_send(b);
                }
                out.flush()
            })();
            let synced = syncer.map_or(Ok(()), Syncer::finish);
            written.and(synced)
        });
        let (thread, here) = match started {
            Ok(thread) => (Some(thread), None),
            Err(out) => (None, Some(Box::new(out) as Box<dyn SyncWrite>)),
        };
        ThreadedWriter {
            buf: Vec::with_capacity(THREADED_BUF),
            to_thread: Some(to_thread),
            from_thread,
            thread,
            here,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(out) = &mut self.here {
            out.write_all(&self.buf)?;
            self.buf.clear();
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
        if let Some(mut out) = self.here.take() {
            return out.flush();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("redkit-out-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn stdout_only_for_streams() {
        let none = Inputs::default();
        assert_eq!(
            plan(Path::new("-"), Kind::Stream, false, &none).unwrap(),
            Dest::Stdout
        );
        assert_eq!(
            plan(Path::new("/dev/stdout"), Kind::Stream, false, &none).unwrap(),
            Dest::Stdout
        );
        assert!(plan(Path::new("-"), Kind::Dir, false, &none).is_err());
    }

    #[test]
    fn refusals() {
        let d = scratch("refusals");
        let input = d.join("in.rdb");
        fs::write(&input, b"x").unwrap();
        let aofdir = d.join("aofdir");
        fs::create_dir(&aofdir).unwrap();
        let mut inputs = Inputs::default();
        inputs.file(&input);
        inputs.dir(&aofdir);
        // The input itself, also by another spelling, and with --force.
        for p in [input.clone(), d.join("aofdir/../in.rdb")] {
            assert!(plan(&p, Kind::Stream, true, &inputs).is_err(), "{p:?}");
        }
        // Inside the input directory, even a new file.
        assert!(plan(&aofdir.join("new.rdb"), Kind::Stream, true, &inputs).is_err());
        assert!(plan(&d, Kind::Dir, true, &inputs).is_err());
        // Existing: only with --force.
        let other = d.join("other.rdb");
        fs::write(&other, b"y").unwrap();
        assert!(plan(&other, Kind::Stream, false, &inputs).is_err());
        assert!(plan(&other, Kind::Stream, true, &inputs).is_ok());
        // Not regular: never.
        let link = d.join("link.rdb");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        assert!(plan(&link, Kind::Stream, true, &inputs).is_err());
        assert!(plan(Path::new("/dev/null"), Kind::Stream, true, &inputs).is_err());
        // New: fine.
        assert_eq!(
            plan(&d.join("new.rdb"), Kind::Stream, false, &inputs).unwrap(),
            Dest::Path(d.join("new.rdb"))
        );
        fs::remove_dir_all(&d).unwrap();
    }

    /// A sink that takes every write and fails every sync, synced on its own thread or not.
    struct FailingSync {
        second_handle: bool,
        syncs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Write for FailingSync {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SyncWrite for FailingSync {
        fn sync_data(&mut self) -> std::io::Result<()> {
            self.syncs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(std::io::Error::other("the disk failed"))
        }
        fn sync_handle(&self) -> Option<Box<dyn SyncWrite>> {
            self.second_handle.then(|| {
                Box::new(FailingSync {
                    second_handle: false,
                    syncs: self.syncs.clone(),
                }) as Box<dyn SyncWrite>
            })
        }
    }

    #[test]
    fn a_failed_sync_along_the_way_fails_the_write() {
        for second_handle in [true, false] {
            let syncs = std::sync::Arc::default();
            let mut w = ThreadedWriter::new(FailingSync {
                second_handle,
                syncs: std::sync::Arc::clone(&syncs),
            });
            let block = vec![7u8; 1 << 20];
            let mut wrote = Ok(());
            for _ in 0..(SYNC_EVERY >> 20) + 2 {
                wrote = w.write_all(&block);
                if wrote.is_err() {
                    break;
                }
            }
            let e = wrote.and_then(|()| w.finish()).unwrap_err();
            assert!(e.to_string().contains("the disk failed"), "{e}");
            assert!(syncs.load(std::sync::atomic::Ordering::Relaxed) >= 1);
        }
    }

    #[test]
    fn failed_writes_leave_nothing() {
        let d = scratch("nothing");
        let target = d.join("a/b/out.rdb");
        {
            let f = AtomicFile::create(&target).unwrap();
            f.file().unwrap().write_all(b"partial").unwrap();
        }
        assert!(!d.join("a").exists(), "the parents made are removed");
        // A stale temporary file of a dead process is removed by the next run.
        let stale = d.join("out.rdb");
        let left = d.join("temp-out.rdb.999999999");
        fs::write(&left, b"left").unwrap();
        let f = AtomicFile::create(&stale).unwrap();
        assert!(!left.exists());
        f.commit().unwrap();
        assert!(stale.exists());
        fs::remove_dir_all(&d).unwrap();
    }
}
