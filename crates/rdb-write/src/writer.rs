//! The record layer: header, opcodes, lengths, strings, CRC64.

use crate::lzf::Compressor;
use rdb_parse::opcode;
use std::io::{self, Write};

/// Writes RDB records to `W`, computing the CRC64 of everything written.
pub struct RdbWriter<W: Write> {
    out: W,
    crc: crc_fast::Digest,
    compress: bool,
    lzf: Compressor,
    scratch: Vec<u8>,
    written: u64,
    version: u32,
    /// Bytes not yet hashed and handed to `out`: records are small, and both the CRC and the
    /// writer cost less per call on large blocks.
    pending: Vec<u8>,
    /// False for a [`RdbWriter::fragment`]: no CRC.
    hashed: bool,
}

/// Bytes gathered before they are hashed and written.
const PENDING: usize = 64 << 10;

impl<W: Write> RdbWriter<W> {
    /// Starts a file: writes `REDIS<version>` (four digits), or `VALKEY080` for version 80
    /// (Valkey 9). `compress` is Redis's
    /// `rdbcompression`: strings longer than 20 bytes are stored LZF-compressed when that saves
    /// at least 4 bytes.
    pub fn new(out: W, version: u32, compress: bool) -> io::Result<Self> {
        let mut w = RdbWriter {
            hashed: true,
            ..RdbWriter::fragment(out, version, compress)
        };
        let magic = if version >= 80 {
            format!("VALKEY{version:03}")
        } else {
            format!("REDIS{version:04}")
        };
        w.raw(magic.as_bytes())?;
        Ok(w)
    }

    /// A writer of records only, for a part of a file that another writer puts in place (with
    /// [`RdbWriter::raw`]): no header, no CRC, no end. [`RdbWriter::flush_records`] hands
    /// what it holds to `out`.
    pub fn fragment(out: W, version: u32, compress: bool) -> Self {
        RdbWriter {
            out,
            crc: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis),
            compress,
            lzf: Compressor::new(),
            scratch: Vec::new(),
            written: 0,
            version,
            pending: Vec::with_capacity(PENDING),
            hashed: false,
        }
    }

    /// Hands every record written so far to the output (a fragment's, at the end of its part).
    pub fn flush_records(&mut self) -> io::Result<()> {
        self.flush_pending()
    }

    /// The output.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes bytes as they are.
    #[inline]
    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.written += b.len() as u64;
        if self.pending.len() + b.len() <= PENDING {
            self.pending.extend_from_slice(b);
            return Ok(());
        }
        self.flush_pending()?;
        if b.len() >= PENDING {
            if self.hashed {
                self.crc.update(b);
            }
            return self.out.write_all(b);
        }
        self.pending.extend_from_slice(b);
        Ok(())
    }

    /// Hashes and writes what was gathered.
    fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.hashed {
            self.crc.update(&self.pending);
        }
        let r = self.out.write_all(&self.pending);
        self.pending.clear();
        r
    }

    /// Writes one byte (a type or an opcode).
    pub fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    /// Writes a length in the RDB length encoding.
    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 64 {
            self.raw(&[n as u8])
        } else if n < 16384 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            let mut b = [0x80, 0, 0, 0, 0];
            b[1..].copy_from_slice(&(n as u32).to_be_bytes());
            self.raw(&b)
        } else {
            let mut b = [0x81, 0, 0, 0, 0, 0, 0, 0, 0];
            b[1..].copy_from_slice(&n.to_be_bytes());
            self.raw(&b)
        }
    }

    /// Writes a string as Redis's `rdbSaveRawString` does: an integer encoding for canonical
    /// integers of at most 11 bytes that fit 32 bits, LZF when enabled and worth it, else raw.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = crate::blob::canonical_int(s) {
                if let Ok(v8) = i8::try_from(v) {
                    return self.raw(&[0xC0, v8 as u8]);
                }
                if let Ok(v16) = i16::try_from(v) {
                    let b = v16.to_le_bytes();
                    return self.raw(&[0xC1, b[0], b[1]]);
                }
                if let Ok(v32) = i32::try_from(v) {
                    let b = v32.to_le_bytes();
                    return self.raw(&[0xC2, b[0], b[1], b[2], b[3]]);
                }
            }
        }
        self.blob(s)
    }

    /// Writes a string that is never integer-encoded (listpacks, ziplists and other blobs),
    /// LZF-compressed when enabled and worth it.
    pub fn blob(&mut self, s: &[u8]) -> io::Result<()> {
        if self.compress && s.len() > 20 {
            let mut buf = std::mem::take(&mut self.scratch);
            let ok = self.lzf.compress(s, &mut buf, s.len() - 4);
            if ok {
                self.byte(0xC3)?;
                self.len(buf.len() as u64)?;
                self.len(s.len() as u64)?;
                self.raw(&buf)?;
                self.scratch = buf;
                return Ok(());
            }
            self.scratch = buf;
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// Writes an AUX field.
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.byte(opcode::AUX)?;
        self.string(key)?;
        self.string(value)
    }

    /// Writes the key counts of a cluster slot as the servers of this file's version write
    /// them in cluster mode, before the slot's keys, to size their tables at load: opcode
    /// SLOT_INFO in RDB 12 (Redis 7.4 on), an AUX field `slot-info` of `slot,keys,expires` in
    /// RDB 11 (Valkey 8; Redis 7.2 ignores it). Nothing in other versions.
    pub fn slot_info(&mut self, slot: u64, keys: u64, expires: u64) -> io::Result<()> {
        match self.version {
            12 => {
                self.byte(opcode::SLOT_INFO)?;
                self.len(slot)?;
                self.len(keys)?;
                self.len(expires)
            }
            11 => self.aux(b"slot-info", format!("{slot},{keys},{expires}").as_bytes()),
            _ => Ok(()),
        }
    }

    /// Writes SELECTDB.
    pub fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.byte(opcode::SELECTDB)?;
        self.len(db)
    }

    /// Writes RESIZEDB.
    pub fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.byte(opcode::RESIZEDB)?;
        self.len(keys)?;
        self.len(expires)
    }

    /// Writes what comes before a key's type byte: expiry (ms), LRU idle seconds, LFU counter.
    pub fn key_meta(
        &mut self,
        expire_ms: Option<i64>,
        idle_s: Option<u64>,
        freq: Option<u8>,
    ) -> io::Result<()> {
        if let Some(ms) = expire_ms {
            self.byte(opcode::EXPIRETIME_MS)?;
            self.raw(&ms.to_le_bytes())?;
        }
        if let Some(idle) = idle_s {
            self.byte(opcode::IDLE)?;
            self.len(idle)?;
        }
        if let Some(f) = freq {
            self.byte(opcode::FREQ)?;
            self.byte(f)?;
        }
        Ok(())
    }

    /// Writes a function library (FUNCTION2, RDB 10+).
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.byte(opcode::FUNCTION2)?;
        self.string(code)
    }

    /// Writes a little-endian i64 (ms times: PEL delivery, consumer seen/active, minExpire).
    pub fn i64_le(&mut self, v: i64) -> io::Result<()> {
        self.raw(&v.to_le_bytes())
    }

    /// Writes a stream id as two lengths (ms, seq).
    pub fn stream_id(&mut self, id: rdb_parse::StreamId) -> io::Result<()> {
        self.len(id.ms)?;
        self.len(id.seq)
    }

    /// Writes a stream id as 16 raw big-endian bytes (PEL entries).
    pub fn stream_id_raw(&mut self, id: rdb_parse::StreamId) -> io::Result<()> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&id.ms.to_be_bytes());
        b[8..].copy_from_slice(&id.seq.to_be_bytes());
        self.raw(&b)
    }

    /// Writes a binary double (ZSET_2 scores).
    pub fn double(&mut self, v: f64) -> io::Result<()> {
        self.raw(&v.to_le_bytes())
    }

    /// Writes EOF and the CRC64, flushes, and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.byte(opcode::EOF)?;
        self.flush_pending()?;
        let crc = self.crc.finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdb_parse::{Event, Parser};

    /// The events of a file that holds only what `write` puts after the header.
    fn events(version: u32, write: impl Fn(&mut RdbWriter<Vec<u8>>)) -> Vec<String> {
        let mut w = RdbWriter::new(Vec::new(), version, false).unwrap();
        write(&mut w);
        let bytes = w.finish().unwrap();
        let mut p = Parser::new(&bytes[..]);
        let mut out = Vec::new();
        while let Some(e) = p.next_event().unwrap() {
            out.push(match e {
                Event::SlotInfo {
                    slot,
                    keys,
                    expires,
                } => format!("SLOT_INFO {slot} {keys} {expires}"),
                Event::Aux { key, value } => {
                    let (mut a, mut b) = ([0; 20], [0; 20]);
                    format!(
                        "AUX {} {}",
                        String::from_utf8_lossy(key.as_bytes(&mut a)),
                        String::from_utf8_lossy(value.as_bytes(&mut b))
                    )
                }
                _ => continue,
            });
        }
        out
    }

    #[test]
    fn slot_info_is_written_as_each_version_writes_it() {
        let write = |w: &mut RdbWriter<Vec<u8>>| w.slot_info(16383, 7, 2).unwrap();
        assert_eq!(events(12, write), ["SLOT_INFO 16383 7 2"]);
        assert_eq!(events(11, write), ["AUX slot-info 16383,7,2"]);
        assert!(events(10, write).is_empty());
    }
}
