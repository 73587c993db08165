//! Records held until a key ends (quicklist nodes, stream nodes: their count comes first in
//! the file), in memory up to a limit and then in an unlinked temporary file.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Bytes of records held in memory before they go to a temporary file.
pub const DEFAULT_LIMIT: usize = 32 << 20;

/// Length-prefixed records, in memory up to `limit` bytes, then spilled to disk.
pub(crate) struct Spool {
    mem: Vec<u8>,
    file: Option<File>,
    count: u64,
    limit: usize,
    dir: Option<PathBuf>,
    spilled: u64,
}

impl Spool {
    pub(crate) fn new(limit: usize, dir: Option<PathBuf>) -> Spool {
        Spool {
            mem: Vec::new(),
            file: None,
            count: 0,
            limit,
            dir,
            spilled: 0,
        }
    }

    /// Empties the spool for a new key; memory past 1 MiB is given back.
    pub(crate) fn clear(&mut self) {
        if self.mem.capacity() > 1 << 20 {
            self.mem = Vec::new();
        }
        self.mem.clear();
        self.file = None;
        self.count = 0;
        self.spilled = 0;
    }

    /// Number of records held.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Bytes that went to the temporary file.
    pub(crate) fn spilled(&self) -> u64 {
        self.spilled
    }

    /// Adds a record made of `parts`, concatenated.
    pub(crate) fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a record over 4 GiB"))?;
        self.mem.extend_from_slice(&len.to_le_bytes());
        for p in parts {
            self.mem.extend_from_slice(p);
        }
        self.count += 1;
        if self.mem.len() > self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(rdb_parse::scratch::unlinked_file(
                self.dir.as_ref(),
                "spool",
            )?);
        }
        let f = self.file.as_mut().expect("just opened");
        f.write_all(&self.mem)?;
        self.spilled += self.mem.len() as u64;
        self.mem.clear();
        Ok(())
    }

    /// Calls `each` on every record in order, and empties the spool.
    pub(crate) fn drain(
        &mut self,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        if let Some(mut f) = self.file.take() {
            f.seek(SeekFrom::Start(0))?;
            let mut r = BufReader::with_capacity(1 << 20, f).take(self.spilled);
            let mut len = [0u8; 4];
            loop {
                match r.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
                buf.resize(u32::from_le_bytes(len) as usize, 0);
                r.read_exact(&mut buf)?;
                each(&buf)?;
            }
        }
        let mut at = 0;
        while at < self.mem.len() {
            let len = u32::from_le_bytes(self.mem[at..at + 4].try_into().expect("4 bytes"));
            let end = at + 4 + len as usize;
            each(&self.mem[at + 4..end])?;
            at = end;
        }
        self.mem.clear();
        self.count = 0;
        self.spilled = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_across_the_spill() {
        for limit in [0, 10, 1000, DEFAULT_LIMIT] {
            let mut s = Spool::new(limit, None);
            for i in 0..500u32 {
                let body = vec![i as u8; (i % 37) as usize];
                s.push(&[&i.to_le_bytes(), &body]).unwrap();
            }
            assert_eq!(s.count(), 500);
            assert_eq!(s.spilled() > 0, limit < 1000 * 20);
            let mut i = 0u32;
            s.drain(|r| {
                assert_eq!(&r[..4], &i.to_le_bytes());
                assert_eq!(r.len() - 4, (i % 37) as usize);
                i += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(i, 500);
            assert_eq!(s.count(), 0);
        }
    }
}
