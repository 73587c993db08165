//! The buffered input: one growable buffer, absolute offsets, and a running CRC64.

use crate::error::{Error, ErrorKind};
use crc_fast::{CrcAlgorithm, Digest};
use std::io::{self, Read};

const CHUNK: usize = 128 * 1024;

/// A reader with one buffer that grows only as data arrives, up to a limit.
///
/// Bytes before `mark` may be discarded when more room is needed; everything from `mark` on
/// stays addressable by absolute offset until the mark moves. The CRC64 is computed over bytes
/// as they are discarded, and finally up to the EOF opcode.
pub(crate) struct Input<R> {
    reader: R,
    pub(crate) buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    pub(crate) base: u64,
    pub(crate) pos: usize,
    pub(crate) filled: usize,
    pub(crate) mark: usize,
    crc: Digest,
    crc_upto: usize,
    max_buf: usize,
    reader_eof: bool,
    /// The buffer's first size: what one read asks for at most while the buffer is small.
    chunk: usize,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(reader: R, max_buf: usize) -> Self {
        Input {
            reader,
            buf: Vec::new(),
            base: 0,
            pos: 0,
            filled: 0,
            mark: 0,
            crc: Digest::new(CrcAlgorithm::Crc64Redis),
            crc_upto: 0,
            max_buf,
            reader_eof: false,
            chunk: CHUNK,
        }
    }

    /// Hashes bytes that came before the reader's first (nothing may be hashed yet).
    pub(crate) fn crc_prefix(&mut self, prefix: &[u8]) {
        self.crc.update(prefix);
    }

    /// Starts the buffer at `chunk` bytes instead of 128 KiB (it still grows as needed): for
    /// a parse expected to read only a few bytes, many times over.
    pub(crate) fn small_chunks(&mut self, chunk: usize) {
        self.chunk = chunk.max(16);
    }

    /// Absolute offset of the next byte to consume.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Absolute offset just past the bytes read from the reader so far.
    pub(crate) fn end_offset(&self) -> u64 {
        self.base + self.filled as u64
    }

    /// Makes `n` bytes from `pos` available; `what` and `start` describe the item for errors.
    #[inline]
    pub(crate) fn ensure(&mut self, n: usize, what: &'static str, start: u64) -> Result<(), Error> {
        if self.filled - self.pos >= n {
            return Ok(());
        }
        self.fill(n, what, start)
    }

    #[cold]
    fn fill(&mut self, n: usize, what: &'static str, start: u64) -> Result<(), Error> {
        // Discard what is before the mark, hashing it first.
        if self.mark > 0 {
            if self.crc_upto < self.mark {
                self.crc.update(&self.buf[self.crc_upto..self.mark]);
                self.crc_upto = self.mark;
            }
            self.buf.copy_within(self.mark..self.filled, 0);
            self.base += self.mark as u64;
            self.pos -= self.mark;
            self.filled -= self.mark;
            self.crc_upto -= self.mark;
            self.mark = 0;
        }
        let needed = self.pos.checked_add(n).filter(|&v| v <= self.max_buf);
        let Some(needed) = needed else {
            return Err(Error::new(
                start,
                ErrorKind::LimitExceeded {
                    what: "buffered record size",
                    value: (self.pos as u64).saturating_add(n as u64),
                    limit: self.max_buf as u64,
                },
            ));
        };
        while self.filled < needed {
            if self.filled == self.buf.len() {
                // Grow only when full of real data, so memory follows what the file holds.
                let new_len = (self.buf.len() * 2)
                    .max(self.chunk)
                    .min(self.max_buf.max(needed));
                self.buf.resize(new_len, 0);
            }
            if self.reader_eof {
                return Err(self.eof_error(what, start));
            }
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.reader_eof = true;
                    return Err(self.eof_error(what, start));
                }
                Ok(k) => self.filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::new(self.end_offset(), ErrorKind::Io(e))),
            }
        }
        Ok(())
    }

    fn eof_error(&self, what: &'static str, start: u64) -> Error {
        let _ = start;
        Error::new(self.end_offset(), ErrorKind::UnexpectedEof { what })
    }

    /// Consumes one byte.
    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        let start = self.offset();
        self.ensure(1, what, start)?;
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// The next byte, not consumed.
    #[inline]
    pub(crate) fn peek_u8(&mut self, what: &'static str) -> Result<u8, Error> {
        let start = self.offset();
        self.ensure(1, what, start)?;
        Ok(self.buf[self.pos])
    }

    /// Consumes `N` bytes.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Error> {
        let start = self.offset();
        self.ensure(N, what, start)?;
        let a: [u8; N] = self.buf[self.pos..self.pos + N]
            .try_into()
            .expect("slice of length N");
        self.pos += N;
        Ok(a)
    }

    /// Consumes `n` bytes (made available first), returning their absolute start offset.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str, start: u64) -> Result<u64, Error> {
        self.ensure(n, what, start)?;
        let at = self.offset();
        self.pos += n;
        Ok(at)
    }

    /// Consumes `n` bytes without holding them: what is buffered is passed over, then the
    /// rest is read through the buffer as it is (hashed, never grown), so a string of any length
    /// costs no memory. Nothing before `pos` may be needed after this (the mark moves).
    pub(crate) fn skip(&mut self, mut n: u64, what: &'static str, start: u64) -> Result<(), Error> {
        loop {
            let k = ((self.filled - self.pos) as u64).min(n);
            self.pos += k as usize;
            n -= k;
            if n == 0 {
                return Ok(());
            }
            // All buffered bytes are consumed: let them go, and read more into the same room.
            self.mark = self.pos;
            self.fill(1, what, start)?;
        }
    }

    /// The buffered bytes at absolute offset `at`, `len` long. They must be at or after the mark.
    #[inline]
    pub(crate) fn slice(&self, at: u64, len: usize) -> &[u8] {
        let i = (at - self.base) as usize;
        &self.buf[i..i + len]
    }

    /// Hashes everything consumed so far and returns the CRC64 up to here.
    pub(crate) fn crc_here(&mut self) -> u64 {
        self.crc.update(&self.buf[self.crc_upto..self.pos]);
        self.crc_upto = self.pos;
        self.crc.finalize()
    }

    /// Gives back the reader and the bytes buffered but not consumed.
    pub(crate) fn into_parts(self) -> (R, Vec<u8>) {
        (self.reader, self.buf[self.pos..self.filled].to_vec())
    }
}
