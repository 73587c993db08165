//! What the user named as input, for every command: a file or `-` (stdin), gzip-compressed or
//! not (sniffed), and for the AOF commands a multi-part directory, its manifest, or one file.

use crate::exit::Damaged;
use crate::output::Inputs;
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use manifest::Manifest;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An opened input: a reader of the decoded bytes, and what we know about it.
pub struct Input {
    /// The decoded bytes.
    pub reader: Box<dyn Read + Send>,
    /// What we know about it.
    pub info: InputInfo,
}

/// Decoded bytes read after the content of a gzip input, at most (64 MiB).
pub const TRAILING_READ: u64 = 64 << 20;

/// What follows the content of a gzip input (see [`InputInfo::after_content`]).
#[derive(Debug, Default)]
pub struct AfterContent {
    /// Decoded bytes after the content, at most [`TRAILING_READ`].
    pub trailing: u64,
    /// Whether more than [`TRAILING_READ`] follow (the gzip trailer was then not reached).
    pub more: bool,
    /// Why the gzip layer failed, if it did (a wrong trailer, truncated or corrupt data).
    pub gzip_fault: Option<String>,
}

/// What is known about an input besides its bytes.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Size of the file on disk, when it is a regular file.
    pub file_size: Option<u64>,
    /// Whether the bytes were gzip-compressed.
    pub gzip: bool,
    /// A display name (`<stdin>` for `-`).
    pub name: String,
    /// Set when the gzip layer failed (truncated or corrupt compressed data): the decoded
    /// stream then simply ends, and this says why.
    pub gzip_fault: Arc<Mutex<Option<String>>>,
}

impl InputInfo {
    /// What is known of a stream made here (a replayed log's dataset): its name only.
    pub fn named(name: String) -> InputInfo {
        InputInfo {
            file_size: None,
            gzip: false,
            name,
            gzip_fault: Arc::default(),
        }
    }

    /// Whether a pass that reads no value gains from checking the blobs on a second thread
    /// ([`rdb_parse::Parser::check_blobs_aside`]): a regular file, which can be read again
    /// when a blob fails there, not gzip (its decompression holds a core already), on a
    /// machine of two cores or more.
    pub fn blobs_aside(&self) -> bool {
        self.file_size.is_some()
            && !self.gzip
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
    }

    /// For a gzip input whose content was read whole: reads the rest of the decoded stream, so
    /// that the gzip trailer (CRC32 and length) of every member is checked, and returns why it
    /// is wrong, if it is. The content readers stop at the end of what they read (an RDB's
    /// checksum), before the decoder reaches the trailer. See [`InputInfo::after_content`].
    pub fn check_gzip_trailer(&self, rest: &mut dyn Read) -> Option<String> {
        self.after_content(rest).gzip_fault
    }

    /// What follows the content (an RDB's checksum) in a gzip input: its decoded bytes are
    /// counted, up to [`TRAILING_READ`], and the gzip trailer checked when they end before. A
    /// gzip bomb after the content costs that much reading, not its whole size: past it, the
    /// trailer is not checked (the content's own checksum held).
    pub fn after_content(&self, rest: &mut dyn Read) -> AfterContent {
        if !self.gzip {
            return AfterContent::default();
        }
        let n = io::copy(&mut rest.take(TRAILING_READ + 1), &mut io::sink()).unwrap_or(0);
        AfterContent {
            trailing: n.min(TRAILING_READ),
            more: n > TRAILING_READ,
            gzip_fault: self.gzip_fault(),
        }
    }
    /// Why the gzip layer stopped early, if it did.
    pub fn gzip_fault(&self) -> Option<String> {
        self.gzip_fault.lock().ok().and_then(|g| g.clone())
    }
}

/// Counts the bytes read through it into a progress bar.
pub struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R> Counting<R> {
    /// Wraps `inner`, adding every byte read to `bar`.
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Counting { inner, bar }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Counts compressed bytes read (to place a gzip fault).
struct Tally<R> {
    inner: R,
    read: Arc<Mutex<u64>>,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut r) = self.read.lock() {
            *r += n as u64;
        }
        Ok(n)
    }
}

/// A gzip decoder whose faults end the stream and are recorded, so that a damaged `.gz` is
/// reported as damaged content (exit 1) with what went wrong, never as an I/O error.
struct Gunzip<R: Read> {
    inner: flate2::read::MultiGzDecoder<Tally<R>>,
    compressed: Arc<Mutex<u64>>,
    fault: Arc<Mutex<Option<String>>>,
    done: bool,
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let at = self.compressed.lock().map(|r| *r).unwrap_or(0);
                let what = if e.kind() == io::ErrorKind::UnexpectedEof {
                    "truncated gzip data".to_string()
                } else {
                    format!("corrupt gzip data ({e})")
                };
                // (A wrong trailer is found after the last byte: the offset is the end.)
                if let Ok(mut f) = self.fault.lock() {
                    *f = Some(format!("{what}, near compressed offset {at}"));
                }
                self.done = true;
                Ok(0)
            }
        }
    }
}

/// Opens `path` (`-` is stdin), decompressing gzip when the first bytes say so. Progress counts
/// raw bytes read from the file.
pub fn open(path: &Path, bar: Option<&ProgressBar>) -> Result<Input> {
    let (raw, file_size, name): (Box<dyn Read + Send>, Option<u64>, String) = if path
        == Path::new("-")
    {
        (Box::new(io::stdin()), None, "<stdin>".to_string())
    } else {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if meta.is_dir() {
            bail!(
                "{} is a directory, not an RDB file (for an AOF directory: redkit check-aof {})",
                path.display(),
                path.display()
            );
        }
        let size = meta.is_file().then_some(meta.len());
        (Box::new(file), size, path.display().to_string())
    };
    let mut raw: Box<dyn Read + Send> = match bar {
        Some(bar) => {
            match file_size {
                Some(size) => bar.set_length(size),
                None => bar.set_style(crate::progress::spinner_style()),
            }
            Box::new(Counting {
                inner: raw,
                bar: bar.clone(),
            })
        }
        None => raw,
    };
    // Sniff the gzip magic without losing the bytes read.
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
        }
    }
    let gzip = got == 2 && head == [0x1f, 0x8b];
    let chained = Cursor::new(head[..got].to_vec()).chain(raw);
    let fault = Arc::new(Mutex::new(None));
    let reader: Box<dyn Read + Send> = if gzip {
        let compressed = Arc::new(Mutex::new(0));
        Box::new(Gunzip {
            inner: flate2::read::MultiGzDecoder::new(Tally {
                inner: chained,
                read: compressed.clone(),
            }),
            compressed,
            fault: fault.clone(),
            done: false,
        })
    } else {
        Box::new(chained)
    };
    // Decompression runs on a thread of its own, ahead of the parser (a plain file is read
    // where it is parsed: a thread for its reads measured slower).
    let reader: Box<dyn Read + Send> = if gzip {
        ReadAhead::start(reader)
    } else {
        reader
    };
    Ok(Input {
        reader,
        info: InputInfo {
            file_size,
            gzip,
            name,
            gzip_fault: fault,
        },
    })
}

/// Blocks read ahead at most.
const AHEAD: usize = 4;

/// Bytes of one block read ahead.
const AHEAD_BLOCK: usize = 1 << 20;

/// A reader whose reads (system calls, gzip decompression) run on a thread of its own, a few
/// blocks ahead of the caller; the caller's reads copy from the blocks. The thread stops at
/// the end of the input, at its first error (handed on in order), or when the reader is
/// dropped.
pub struct ReadAhead {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    block: Vec<u8>,
    at: usize,
    done: bool,
}

impl ReadAhead {
    /// Starts the thread on `inner`; gives `inner` itself when the system refuses a thread.
    pub fn start(inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(AHEAD);
        let (back, free) = std::sync::mpsc::sync_channel::<Vec<u8>>(AHEAD + 2);
        let started =
            rdb_parse::threads::spawn_or_keep("read-ahead", inner, move |mut inner| loop {
                let mut b = free.try_recv().unwrap_or_default();
                b.resize(AHEAD_BLOCK, 0);
                let mut filled = 0;
                // A full block, unless the input ends or fails first.
                let end = loop {
                    match inner.read(&mut b[filled..]) {
                        Ok(0) => break Ok(true),
                        Ok(n) => {
                            filled += n;
                            if filled == b.len() {
                                break Ok(false);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                b.truncate(filled);
                if filled > 0 && tx.send(Ok(b)).is_err() {
                    return;
                }
                match end {
                    Ok(false) => {}
                    Ok(true) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            });
        match started {
            Ok(_) => Box::new(ReadAhead {
                rx,
                back,
                block: Vec::new(),
                at: 0,
                done: false,
            }),
            Err(inner) => inner,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.block.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(b)) => {
                    let used = std::mem::replace(&mut self.block, b);
                    let _ = self.back.try_send(used);
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The thread ended: the input did.
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A second handle on `path` for copying stored values as they are, when it is a plain
/// uncompressed file.
pub fn raw_source(path: &Path, info: &InputInfo) -> Option<File> {
    if info.gzip || path == Path::new("-") {
        return None;
    }
    let f = File::open(path).ok()?;
    f.metadata().ok()?.is_file().then_some(f)
}

/// What a path names, for a command that takes either kind of file.
pub enum Resolved {
    /// An RDB file (or `-`), opened.
    Rdb(Input),
    /// An AOF: a directory, a manifest, or a single file.
    Aof(Aof),
}

/// Resolves `path` into an RDB stream or an AOF (see [`is_aof`]); progress counts the bytes of
/// an RDB read through `bar`.
pub fn resolve(path: &Path, bar: Option<&ProgressBar>) -> Result<Resolved> {
    Ok(if is_aof(path) {
        Resolved::Aof(aof(path)?)
    } else {
        Resolved::Rdb(open(path, bar)?)
    })
}

/// The input files and directories of `path`, which no output may touch.
pub fn protect(path: &Path) -> Inputs {
    let mut inputs = Inputs::default();
    add_protected(&mut inputs, path);
    inputs
}

/// Adds `path` (a file, a directory, or a manifest and its directory) to `inputs`.
pub fn add_protected(inputs: &mut Inputs, path: &Path) {
    if path.is_dir() {
        inputs.dir(path);
    } else {
        inputs.file(path);
        if looks_like_manifest(path).unwrap_or(false) {
            inputs.dir(path.parent().unwrap_or(Path::new(".")));
        }
    }
}

/// Where the bytes of an AOF file come from.
#[derive(Debug, Clone)]
enum Source {
    /// A regular file, read as it is.
    File,
    /// A gzip-compressed file, decompressed at each read.
    Gzip,
    /// Standard input, read once into an unlinked temporary file.
    Spooled(Arc<File>),
}

/// One file of an AOF, in load order.
#[derive(Debug, Clone)]
pub struct AofPart {
    /// Where it is (`-` for standard input).
    pub path: PathBuf,
    /// Its name, for messages and reports.
    pub name: String,
    source: Source,
    /// A file a manifest lists: opened only as a regular file of its directory.
    member: bool,
    /// A decompressed copy of a gzip file, made when random access is needed.
    spool: Arc<std::sync::OnceLock<Arc<File>>>,
}

impl AofPart {
    /// A regular file of the log.
    pub fn file(path: PathBuf) -> AofPart {
        AofPart {
            name: file_name(&path),
            path,
            source: Source::File,
            member: false,
            spool: Default::default(),
        }
    }

    /// A file a manifest lists: opened only if it is a regular file, never through a symbolic
    /// link, never waiting on a FIFO (see [`manifest::dir::open_regular`]).
    pub fn member(path: PathBuf) -> AofPart {
        AofPart {
            member: true,
            ..AofPart::file(path)
        }
    }

    /// Opens the file itself.
    fn open(&self) -> Result<File> {
        let f = if self.member {
            manifest::dir::open_regular(&self.path)
        } else {
            File::open(&self.path)
        };
        f.with_context(|| format!("cannot open {}", self.path.display()))
    }

    /// Whether it is a regular file on disk, read as it is (what a repair in place needs).
    pub fn is_plain_file(&self) -> bool {
        matches!(self.source, Source::File)
    }

    /// Its bytes from the start, decompressed, in one pass.
    pub fn reader(&self) -> Result<Box<dyn Read + Send>> {
        Ok(match &self.source {
            Source::File => Box::new(self.open()?),
            Source::Gzip => {
                let f = self.open()?;
                // A damaged gzip stream ends the log there: what the AOF reader then reports
                // as a torn tail.
                Box::new(Gunzip {
                    inner: flate2::read::MultiGzDecoder::new(Tally {
                        inner: f,
                        read: Default::default(),
                    }),
                    compressed: Default::default(),
                    fault: Default::default(),
                    done: false,
                })
            }
            Source::Spooled(f) => Box::new(reopen(f)?),
        })
    }

    /// Its bytes as a file that can be read anywhere, and their size: the file itself, or a
    /// decompressed copy in an unlinked temporary file.
    pub fn seekable(&self) -> Result<(File, u64)> {
        let f = match &self.source {
            Source::File => self.open()?,
            Source::Spooled(f) => reopen(f)?,
            Source::Gzip => {
                let spooled = match self.spool.get() {
                    Some(f) => f.clone(),
                    None => {
                        let f = Arc::new(spool(&mut self.reader()?, &self.name)?);
                        let _ = self.spool.set(f.clone());
                        f
                    }
                };
                reopen(&spooled)?
            }
        };
        let size = f.metadata()?.len();
        Ok((f, size))
    }

    /// The name to give it in an AOF written from it: its own, without `.gz`
    /// (`appendonly.aof` for standard input).
    pub fn output_name(&self) -> String {
        match &self.source {
            Source::Spooled(_) => "appendonly.aof".into(),
            Source::Gzip => self
                .name
                .strip_suffix(".gz")
                .unwrap_or(&self.name)
                .to_string(),
            Source::File => self.name.clone(),
        }
    }

    /// Its size on disk (compressed, for a gzip file), for progress.
    pub fn disk_size(&self) -> u64 {
        match &self.source {
            Source::Spooled(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
            _ => std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        }
    }
}

/// A second, independent handle (its own offset) on an unlinked temporary file.
fn reopen(f: &File) -> Result<File> {
    use std::os::fd::AsRawFd;
    File::open(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .context("cannot reopen a temporary file (is /proc mounted?)")
}

/// Copies `r` into a temporary file that is unlinked at once (nothing is left behind, however
/// the run ends); returns it, rewound.
fn spool(r: &mut dyn Read, what: &str) -> Result<File> {
    use std::io::{Seek, SeekFrom};
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("redkit-spool-{}-{n}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let _ = std::fs::remove_file(&path);
    io::copy(r, &mut f).with_context(|| {
        format!(
            "cannot copy {what} into a temporary file in {}",
            dir.display()
        )
    })?;
    f.seek(SeekFrom::Start(0))?;
    Ok(f)
}

/// A restore point of an AOF and the index of its file.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Index into [`Aof::files`].
    pub file: usize,
    /// The point.
    pub p: aof_parse::scan::RestorePoint,
}

/// The first damaged record of an AOF.
#[derive(Debug)]
pub struct Damage {
    /// Index into [`Aof::files`].
    pub file: usize,
    /// What is wrong, and where.
    pub error: aof_parse::Error,
    /// The end of the last complete record before it.
    pub last_good_offset: u64,
}

/// An AOF as named on the command line: its manifest (for a multi-part AOF) and its files in
/// load order.
#[derive(Debug)]
pub struct Aof {
    /// The manifest's path and contents.
    pub manifest: Option<(PathBuf, Manifest)>,
    /// The files, in load order.
    pub files: Vec<AofPart>,
}

impl Aof {
    /// Calls `point` for every restore point of the log, in order, with the index of its file,
    /// up to the first damaged record; returns the damage (the points before it are good).
    /// Nothing is kept: a log of a million points costs no more than one of ten.
    pub fn restore_points(&self, mut point: impl FnMut(Point)) -> Result<Option<Damage>> {
        for (i, part) in self.files.iter().enumerate() {
            let scan =
                aof_parse::scan::restore_points(part.reader()?, |p| point(Point { file: i, p }));
            if let Some(error) = scan.damage {
                if error.is_io() {
                    bail!("cannot read {}: {error}", part.path.display());
                }
                return Ok(Some(Damage {
                    file: i,
                    error,
                    last_good_offset: scan.last_good_offset,
                }));
            }
        }
        Ok(None)
    }

    /// Total size of the files, for progress.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(AofPart::disk_size).sum()
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Opens the AOF `path` names: a directory, its manifest, or a single file. A manifest that
/// does not parse is an error here (`check-aof` reports it as a problem instead).
pub fn aof(path: &Path) -> Result<Aof> {
    if path == Path::new("-") {
        // Read once into a temporary file: the commands may read the log more than once.
        let mut stdin = open(path, None)?;
        let f = spool(&mut stdin.reader, "standard input")?;
        return Ok(Aof {
            manifest: None,
            files: vec![AofPart {
                path: path.to_path_buf(),
                name: "<stdin>".into(),
                source: Source::Spooled(Arc::new(f)),
                member: false,
                spool: Default::default(),
            }],
        });
    }
    let Some(mp) = locate_manifest(path)? else {
        let mut part = AofPart::file(path.to_path_buf());
        if is_gzip(path)? {
            part.source = Source::Gzip;
        }
        return Ok(Aof {
            manifest: None,
            files: vec![part],
        });
    };
    let dir = match manifest::dir::AofDir::open(&mp) {
        Ok(dir) => dir,
        // A manifest that cannot be opened as a regular file is damage, like one that does
        // not parse or lists what is not a regular file of the directory.
        Err(manifest::dir::DirError::Read(_, e)) if e.kind() != io::ErrorKind::InvalidInput => {
            return Err(e).with_context(|| format!("cannot read {}", mp.display()))
        }
        Err(e) => return Err(Damaged(e.to_string()).into()),
    };
    let files = dir
        .files
        .into_iter()
        .map(|(_, p)| AofPart::member(p))
        .collect();
    Ok(Aof {
        manifest: Some((mp, dir.manifest)),
        files,
    })
}

/// What is wrong with a file a manifest lists, if anything (see
/// [`manifest::dir::member_problem`]).
pub fn member_problem(manifest: &Path, name: &str) -> Option<String> {
    manifest::dir::member_problem(manifest, name.as_bytes())
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
        1 => {
            let mp = found.remove(0);
            let t = std::fs::symlink_metadata(&mp)?.file_type();
            if !t.is_file() {
                return Err(Damaged(format!(
                    "{} is not a regular file (a symbolic link, FIFO or device): refused",
                    mp.display()
                ))
                .into());
            }
            Ok(mp)
        }
        0 => bail!(
            "{} holds no *.manifest file: not a multi-part AOF directory",
            dir.display()
        ),
        _ => bail!(
            "{} holds several manifests: name the one to use",
            dir.display()
        ),
    }
}

/// The manifest `path` stands for: the one in a directory, `path` itself when it is a
/// manifest, or `None` for a single-file AOF.
pub fn locate_manifest(path: &Path) -> Result<Option<PathBuf>> {
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

/// True when the file is named `*.manifest` or its first line that is not a comment starts
/// with `file ` (a manifest).
fn looks_like_manifest(path: &Path) -> Result<bool> {
    if path.extension().is_some_and(|x| x == "manifest") {
        return Ok(true);
    }
    let mut head = vec![0u8; 4096];
    let n = {
        let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        f.read(&mut head)?
    };
    let head = &head[..n];
    Ok(head
        .split(|&b| b == b'\n')
        .find(|l| !l.starts_with(b"#"))
        .is_some_and(|l| l.starts_with(b"file ")))
}

/// Whether the file begins with the gzip magic.
pub fn is_gzip(path: &Path) -> Result<bool> {
    let mut head = [0u8; 2];
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut n = 0;
    while n < 2 {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n == 2 && head == [0x1f, 0x8b])
}

/// Whether `path` is an AOF (a directory, a manifest, a file named `*.aof`, or a file that
/// starts with a command or an annotation) rather than an RDB file.
pub fn is_aof(path: &Path) -> bool {
    if path == Path::new("-") {
        return false;
    }
    if path.is_dir() {
        return true;
    }
    let name = file_name(path);
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".manifest") || name.ends_with(".aof") {
        return true;
    }
    // The first decoded byte: a command or an annotation.
    let mut first = [0u8; 1];
    open(path, None)
        .and_then(|mut i| Ok(i.reader.read_exact(&mut first)?))
        .is_ok_and(|()| first[0] == b'*' || first[0] == b'#')
}
