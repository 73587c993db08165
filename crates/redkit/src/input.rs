//! What the user named as input, for every command: a file or `-` (stdin), gzip-compressed or
//! not (sniffed), and for the AOF commands a multi-part directory, its manifest, or one file.

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
    pub reader: Box<dyn Read>,
    /// What we know about it.
    pub info: InputInfo,
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
    let (raw, file_size, name): (Box<dyn Read>, Option<u64>, String) = if path == Path::new("-") {
        (Box::new(io::stdin().lock()), None, "<stdin>".to_string())
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
    let mut raw: Box<dyn Read> = match bar {
        Some(bar) => {
            if let Some(size) = file_size {
                bar.set_length(size);
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
    let reader: Box<dyn Read> = if gzip {
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

/// A second handle on `path` for copying stored values as they are, when it is a plain
/// uncompressed file.
pub fn raw_source(path: &Path, info: &InputInfo) -> Option<File> {
    if info.gzip || path == Path::new("-") {
        return None;
    }
    let f = File::open(path).ok()?;
    f.metadata().ok()?.is_file().then_some(f)
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

/// One file of an AOF, in load order.
#[derive(Debug, Clone)]
pub struct AofPart {
    /// Where it is.
    pub path: PathBuf,
    /// Its name, for messages and reports.
    pub name: String,
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
    /// Every restore point of the log, in order, with the index of its file, up to the first
    /// damaged record; the damage is returned beside them (the points before it are good).
    pub fn restore_points(&self) -> Result<(Vec<Point>, Option<Damage>)> {
        let mut pts = Vec::new();
        for (i, part) in self.files.iter().enumerate() {
            let f = File::open(&part.path)
                .with_context(|| format!("cannot open {}", part.path.display()))?;
            let scan = aof_parse::scan::restore_points(f, |p| pts.push(Point { file: i, p }));
            if let Some(error) = scan.damage {
                if error.is_io() {
                    bail!("cannot read {}: {error}", part.path.display());
                }
                let damage = Damage {
                    file: i,
                    error,
                    last_good_offset: scan.last_good_offset,
                };
                return Ok((pts, Some(damage)));
            }
        }
        Ok((pts, None))
    }

    /// Total size of the files, for progress.
    pub fn total_size(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::metadata(&f.path).ok().map(|m| m.len()))
            .sum()
    }
}

fn dir_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
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
        bail!("this command reads an AOF from a file or directory, not from standard input");
    }
    let Some(mp) = locate_manifest(path)? else {
        let mut head = [0u8; 2];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 2 && head == [0x1f, 0x8b] {
            bail!(
                "{} is gzip-compressed: this command reads an AOF as it is on disk; decompress \
                 a copy first (gunzip -k)",
                path.display()
            );
        }
        return Ok(Aof {
            manifest: None,
            files: vec![AofPart {
                path: path.to_path_buf(),
                name: file_name(path),
            }],
        });
    };
    let text = std::fs::read(&mp).with_context(|| format!("cannot read {}", mp.display()))?;
    let m = Manifest::parse(&text).with_context(|| format!("in {}", mp.display()))?;
    let dir = dir_of(&mp);
    let files = m
        .loaded()
        .map(|f| {
            let name = String::from_utf8_lossy(&f.name).into_owned();
            AofPart {
                path: dir.join(&name),
                name,
            }
        })
        .collect();
    Ok(Aof {
        manifest: Some((mp, m)),
        files,
    })
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
    if name.ends_with(".manifest") || name.ends_with(".aof") {
        return true;
    }
    let mut first = [0u8; 1];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut first))
        .is_ok_and(|()| first[0] == b'*' || first[0] == b'#')
}
