//! Temporary files that leave nothing behind: created with a name of their own, then unlinked
//! at once, so that a crash, a kill or a full disk cannot leave them on disk.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A new, empty, unlinked file for reading and writing, in `dir` (the system's temporary
/// directory when `None`); `what` names it while it has a name (`.redkit-<what>-<pid>-<n>`).
pub fn unlinked_file(dir: Option<&PathBuf>, what: &str) -> io::Result<File> {
    let dir = dir.cloned().unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!(
        ".redkit-{what}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let f = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn the_file_works_and_has_no_name() {
        let mut f = unlinked_file(None, "test").unwrap();
        f.write_all(b"abc").unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
        let names = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&format!(".redkit-test-{}-", std::process::id()))
            })
            .count();
        assert_eq!(names, 0);
    }
}
