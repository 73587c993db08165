//! A new multi-part AOF directory (Redis 7+): its base file, an empty incr file and the
//! manifest, written under a temporary name and put in place whole. `rewrite` and `split`
//! write them.

use crate::fsutil;
use crate::output::AtomicDir;
use anyhow::{bail, Context, Result};
use manifest::{AofFile, FileType, Manifest};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A directory being written: the base first, then [`NewAofDir::finish`].
pub struct NewAofDir {
    dir: AtomicDir,
    target: PathBuf,
    filename: String,
    base_name: String,
}

impl NewAofDir {
    /// Starts the directory `target` (under a temporary name) whose files are named after
    /// `filename` (the server's `appendfilename`); the base is `<filename>.1.base.<ext>`.
    pub fn create(target: &Path, filename: &str, ext: &str) -> Result<NewAofDir> {
        if filename.contains('/') || filename.is_empty() {
            bail!("--filename must be a plain file name");
        }
        Ok(NewAofDir {
            dir: AtomicDir::create(target)?,
            target: target.to_path_buf(),
            filename: filename.to_string(),
            base_name: format!("{filename}.1.base.{ext}"),
        })
    }

    /// The base file's name.
    pub fn base_name(&self) -> &str {
        &self.base_name
    }

    /// The incr file's name.
    pub fn incr_name(&self) -> String {
        format!("{}.1.incr.aof", self.filename)
    }

    /// The directory being written (its temporary name).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the base file goes (its final path, for messages).
    pub fn base_path(&self) -> PathBuf {
        self.target.join(&self.base_name)
    }

    /// Creates the base file.
    pub fn create_base(&self) -> Result<File> {
        File::create(self.dir.path().join(&self.base_name))
            .with_context(|| format!("cannot create {}", self.base_path().display()))
    }

    /// Syncs the base (`file`, written), adds the empty incr file and the manifest, and puts
    /// the directory in place.
    pub fn finish(self, file: File) -> Result<()> {
        let incr_name = self.incr_name();
        fsutil::crash_point("base written, not synced");
        file.sync_all().with_context(|| {
            format!(
                "cannot sync {}",
                self.target.join(&self.base_name).display()
            )
        })?;
        fsutil::crash_point("base synced, incr file not created");
        let incr = File::create(self.dir.path().join(&incr_name))?;
        incr.sync_all()?;
        fsutil::crash_point("incr file created, manifest not written");
        let manifest = Manifest {
            base: Some(AofFile::new(self.base_name.as_bytes(), 1, FileType::Base)),
            history: Vec::new(),
            incr: vec![AofFile::new(incr_name.as_bytes(), 1, FileType::Incr)],
        };
        let mut m = File::create(self.dir.path().join(format!("{}.manifest", self.filename)))?;
        m.write_all(&manifest.to_bytes())?;
        m.sync_all()?;
        self.dir.commit()
    }
}
