//! Opening what the user named: a path or `-` (stdin), gzip-compressed or not (sniffed).

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

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
            anyhow::bail!("{} is a directory, not an RDB file", path.display());
        }
        (Box::new(file), Some(meta.len()), path.display().to_string())
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
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    Ok(Input {
        reader,
        info: InputInfo {
            file_size,
            gzip,
            name,
        },
    })
}
