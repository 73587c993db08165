//! The files of an AOF directory, opened so that a hostile directory cannot lead elsewhere.
//!
//! A server opens `appendonlydir/<name>` for each file its manifest lists. A directory that
//! came from somewhere else may hold, under those names, a symbolic link to any file of the
//! system, a FIFO (an `open` that never returns), a device (a read that never ends) or the
//! manifest itself. Here a listed file is opened only when it is a regular file of the
//! directory: the last path component is not followed when it is a symbolic link
//! (`O_NOFOLLOW`), the open does not wait on a FIFO (`O_NONBLOCK`), and the opened file is
//! checked to be a regular file (`fstat`), so that swapping a file for a link between a check
//! and the open changes nothing.

use crate::{AofFile, Error, Manifest};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Opens `path` for reading if it is a regular file: a symbolic link (as its last component),
/// FIFO, socket, device or directory is refused with [`io::ErrorKind::InvalidInput`], and
/// nothing blocks.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let f = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            // ELOOP: the last component is a symbolic link.
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is a symbolic link", path.display()),
                )
            } else {
                e
            }
        })?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (a directory, FIFO, socket or device)",
                path.display()
            ),
        ));
    }
    Ok(f)
}

/// Reads a manifest whole, if it is a regular file (see [`open_regular`]).
pub fn read_manifest(path: &Path) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    open_regular(path)?.read_to_end(&mut text)?;
    Ok(text)
}

/// The directory a manifest at `manifest` is in (`.` for a bare name).
pub fn dir_of(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What is wrong with a file a manifest lists, if anything it can tell without opening it: the
/// manifest itself, a symbolic link, or anything but a regular file. A missing file is not
/// this function's business. (The open by [`open_regular`] checks again.)
pub fn member_problem(manifest: &Path, name: &[u8]) -> Option<String> {
    let shown = String::from_utf8_lossy(name);
    if manifest
        .file_name()
        .is_some_and(|m| m.as_encoded_bytes() == name)
    {
        return Some(format!("{shown} is the manifest itself"));
    }
    let meta = std::fs::symlink_metadata(member_path(manifest, name)).ok()?;
    let t = meta.file_type();
    if t.is_symlink() {
        Some(format!(
            "{shown} is a symbolic link: the files of an AOF directory are read only as regular \
             files inside it"
        ))
    } else if !t.is_file() {
        Some(format!(
            "{shown} is not a regular file (a directory, FIFO, socket or device)"
        ))
    } else {
        None
    }
}

/// The path of the file a manifest at `manifest` lists as `name`.
pub fn member_path(manifest: &Path, name: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    dir_of(manifest).join(std::ffi::OsStr::from_bytes(name))
}

/// Why an AOF directory cannot be read.
#[derive(Debug)]
pub enum DirError {
    /// The manifest cannot be read (missing, not a regular file, an I/O error).
    Read(PathBuf, io::Error),
    /// The manifest does not parse.
    Manifest(PathBuf, Error),
    /// A listed file is not a regular file of the directory, or is the manifest.
    Member {
        /// The manifest.
        manifest: PathBuf,
        /// Its line that lists the file.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            DirError::Manifest(p, e) => write!(f, "{}: {e}", p.display()),
            DirError::Member {
                manifest,
                line,
                why,
            } => write!(f, "{}: line {line}: {why}", manifest.display()),
        }
    }
}

impl std::error::Error for DirError {}

/// An AOF directory: its manifest and the files it loads, in load order, each checked by
/// [`member_problem`] (a missing one is left for the reader to report).
#[derive(Debug)]
pub struct AofDir {
    /// The manifest's path.
    pub manifest_path: PathBuf,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The files a server loads (base, then incr files), with their paths.
    pub files: Vec<(AofFile, PathBuf)>,
}

impl AofDir {
    /// Reads the manifest at `manifest_path` and checks every file it loads.
    pub fn open(manifest_path: &Path) -> Result<AofDir, DirError> {
        let text =
            read_manifest(manifest_path).map_err(|e| DirError::Read(manifest_path.into(), e))?;
        let manifest =
            Manifest::parse(&text).map_err(|e| DirError::Manifest(manifest_path.into(), e))?;
        let mut files = Vec::new();
        for f in manifest.loaded() {
            if let Some(why) = member_problem(manifest_path, &f.name) {
                return Err(DirError::Member {
                    manifest: manifest_path.into(),
                    line: f.line,
                    why,
                });
            }
            files.push((f.clone(), member_path(manifest_path, &f.name)));
        }
        Ok(AofDir {
            manifest_path: manifest_path.into(),
            manifest,
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("manifest-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_regular_files_open() {
        let d = scratch("open");
        let file = d.join("a.aof");
        std::fs::write(&file, b"*1\r\n$4\r\nPING\r\n").unwrap();
        symlink(&file, d.join("link.aof")).unwrap();
        let fifo = d.join("fifo.aof");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(open_regular(&file).is_ok());
        let e = open_regular(&d.join("link.aof")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        if made.is_ok_and(|s| s.success()) {
            // Returns at once: a FIFO with no writer would block a plain open.
            let e = open_regular(&fifo).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        assert!(open_regular(&d).is_err());
        assert!(open_regular(Path::new("/dev/null")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_directory_lists_only_regular_files_of_its_own() {
        let d = scratch("dir");
        let mp = d.join("appendonly.aof.manifest");
        std::fs::write(d.join("appendonly.aof.1.incr.aof"), b"").unwrap();
        std::fs::write(&mp, "file appendonly.aof.1.incr.aof seq 1 type i\n").unwrap();
        let dir = AofDir::open(&mp).unwrap();
        assert_eq!(dir.files.len(), 1);
        assert_eq!(dir.files[0].1, d.join("appendonly.aof.1.incr.aof"));
        std::fs::write(&mp, "file appendonly.aof.manifest seq 1 type i\n").unwrap();
        let e = AofDir::open(&mp).unwrap_err();
        assert!(e.to_string().contains("the manifest itself"), "{e}");
        std::fs::write(&mp, "file .. seq 1 type i\n").unwrap();
        let e = AofDir::open(&mp).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        std::fs::remove_file(&mp).unwrap();
        symlink(d.join("appendonly.aof.1.incr.aof"), &mp).unwrap();
        let e = AofDir::open(&mp).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
