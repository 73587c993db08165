//! JSON writing for byte strings, streamed element by element.

use base64::Engine;
use rdb_parse::Str;
use std::io::{self, Write};

/// How byte strings are written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BytesMode {
    /// Valid UTF-8 as a JSON string, anything else as `{"base64": "..."}`.
    Auto,
    /// Every byte string, object keys included, as a base64 JSON string.
    Base64,
}

/// A JSON writer over a sink, with the byte-string rules of `--bytes`. It renders into its own
/// buffer and writes it out in large blocks.
pub struct Json<W: Write> {
    out: W,
    buf: Vec<u8>,
    mode: BytesMode,
    scratch: Vec<u8>,
    /// Bytes of a value written in parts that do not yet make a base64 group of 3.
    carry: Vec<u8>,
    /// Bytes written out so far (what [`Json::rollback`] cannot take back).
    written: u64,
}

/// A point in the output that [`Json::rollback`] can return to while nothing after it was
/// written out.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    written: u64,
    buffered: usize,
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const FLUSH_AT: usize = 256 * 1024;

/// For each byte: 0 when it needs no escape in a JSON string, else the letter after `\`
/// (`u` for the `\u00XX` form).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const NEEDS_ESCAPE: u8 = 1;
const NON_ASCII: u8 = 2;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of the 8 in `w` needs a JSON escape (control bytes, `"`, `\\`).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    // A byte of `v` is zero: the classic "has zero byte" test.
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
        | has_zero(w ^ (ONES * b'"' as u64))
        | has_zero(w ^ (ONES * b'\\' as u64))
        != 0
}

/// One pass over `s`, 8 bytes at a time: whether any byte needs a JSON escape (control
/// bytes, `"`, `\\`), and whether any is outside ASCII.
#[inline]
fn scan(s: &[u8]) -> u8 {
    let mut escape = false;
    let mut high = 0u64;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        high |= w;
        escape |= word_needs_escape(w);
    }
    let mut flags = 0u8;
    for &b in chunks.remainder() {
        flags |= ((b < 0x20) | (b == b'"') | (b == b'\\')) as u8;
        high |= b as u64;
    }
    if escape {
        flags |= NEEDS_ESCAPE;
    }
    if high & HIGHS != 0 {
        flags |= NON_ASCII;
    }
    flags
}

/// For each byte, what it becomes inside a JSON string, in an 8-byte cell, and its length.
static ESCAPED: [([u8; 8], u8); 256] = {
    let mut t = [([0u8; 8], 1u8); 256];
    let mut i = 0;
    while i < 256 {
        let e = ESCAPE[i];
        t[i] = if e == 0 {
            ([i as u8, 0, 0, 0, 0, 0, 0, 0], 1)
        } else if e == b'u' {
            ([b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15], 0, 0], 6)
        } else {
            ([b'\\', e, 0, 0, 0, 0, 0, 0], 2)
        };
        i += 1;
    }
    t
};

/// Eight NUL bytes inside a JSON string.
static NUL_WORD: [u8; 48] = *b"\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000";

impl<W: Write> Json<W> {
    /// A writer in `mode`.
    pub fn new(w: W, mode: BytesMode) -> Self {
        Json {
            out: w,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            mode,
            scratch: Vec::new(),
            carry: Vec::new(),
            written: 0,
        }
    }

    /// The byte-string mode.
    pub fn mode(&self) -> BytesMode {
        self.mode
    }

    /// Writes raw JSON text.
    #[inline]
    pub fn raw(&mut self, s: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(s);
        self.maybe_flush()
    }

    #[inline]
    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// The current point of the output.
    pub fn mark(&self) -> Mark {
        Mark {
            written: self.written,
            buffered: self.buf.len(),
        }
    }

    /// Takes back what was rendered since `m`; false (and nothing changed) when part of it
    /// was already written out.
    pub fn rollback(&mut self, m: Mark) -> bool {
        if m.written != self.written || m.buffered > self.buf.len() {
            return false;
        }
        self.buf.truncate(m.buffered);
        true
    }

    /// Writes an integer.
    pub fn int(&mut self, v: i64) -> io::Result<()> {
        let mut b = [0u8; 20];
        self.buf.extend_from_slice(rdb_parse::format_i64(v, &mut b));
        self.maybe_flush()
    }

    /// Writes an unsigned integer.
    pub fn uint(&mut self, v: u64) -> io::Result<()> {
        match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => {
                write!(self.buf, "{v}")?;
                self.maybe_flush()
            }
        }
    }

    /// Writes a double as a JSON number, or `"inf"` / `"-inf"`.
    pub fn double(&mut self, v: f64) -> io::Result<()> {
        if v == f64::INFINITY {
            self.raw(b"\"inf\"")
        } else if v == f64::NEG_INFINITY {
            self.raw(b"\"-inf\"")
        } else if v.is_nan() {
            self.raw(b"\"nan\"")
        } else {
            serde_json::to_writer(&mut self.buf, &v).map_err(io::Error::other)?;
            self.maybe_flush()
        }
    }

    /// Writes text known to be UTF-8 as a JSON string.
    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.quoted(s.as_bytes())
    }

    /// Writes bytes known to be UTF-8 as a JSON string, escaping what JSON requires.
    fn quoted(&mut self, s: &[u8]) -> io::Result<()> {
        let plain = scan(s) & NEEDS_ESCAPE == 0;
        self.quoted_scanned(s, plain)
    }

    /// [`Json::quoted`] once the caller knows whether `s` needs escapes.
    fn quoted_scanned(&mut self, s: &[u8], plain: bool) -> io::Result<()> {
        let buf = &mut self.buf;
        if plain {
            buf.reserve(s.len() + 2);
            buf.push(b'"');
            buf.extend_from_slice(s);
            buf.push(b'"');
            return self.maybe_flush();
        }
        // Escapes: every byte's output (itself, or its escape) comes from a table of 8-byte
        // cells written whole, with room for the worst case; then trim.
        let old = buf.len();
        buf.resize(old + s.len() * 6 + 8, 0);
        let out = &mut buf[old..];
        out[0] = b'"';
        let mut j = 1;
        let mut chunks = s.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            if w == 0 {
                // Eight NUL bytes (zero padding, binary values): one block.
                out[j..j + 48].copy_from_slice(&NUL_WORD);
                j += 48;
            } else if word_needs_escape(w) {
                for &b in c {
                    let (cell, len) = &ESCAPED[b as usize];
                    out[j..j + 8].copy_from_slice(cell);
                    j += *len as usize;
                }
            } else {
                // Eight plain bytes: one move.
                out[j..j + 8].copy_from_slice(c);
                j += 8;
            }
        }
        for &b in chunks.remainder() {
            let (cell, len) = &ESCAPED[b as usize];
            out[j..j + 8].copy_from_slice(cell);
            j += *len as usize;
        }
        out[j] = b'"';
        buf.truncate(old + j + 1);
        self.maybe_flush()
    }

    fn base64_string(&mut self, b: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        let need = base64::encoded_len(b.len(), true).unwrap_or(0);
        self.scratch.resize(need, 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(b, &mut self.scratch)
            .map_err(io::Error::other)?;
        self.buf.push(b'"');
        self.buf.extend_from_slice(&self.scratch[..n]);
        self.buf.push(b'"');
        self.maybe_flush()
    }

    /// Writes a byte string as a JSON value following the mode.
    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        match self.mode {
            BytesMode::Base64 => self.base64_string(b),
            BytesMode::Auto => {
                // One pass tells ASCII (valid UTF-8 without more work) and escapes apart.
                let flags = scan(b);
                if flags & NON_ASCII == 0 || std::str::from_utf8(b).is_ok() {
                    self.quoted_scanned(b, flags & NEEDS_ESCAPE == 0)
                } else {
                    self.buf.extend_from_slice(b"{\"base64\":");
                    self.base64_string(b)?;
                    self.raw(b"}")
                }
            }
        }
    }

    /// Writes one part of a byte string too long to be held whole, always in base64 (whether
    /// the whole is UTF-8 cannot be known before its end): `{"base64": "..."}` in auto mode, a
    /// base64 string in base64 mode. Memory stays that of one part.
    pub fn bytes_part(&mut self, part: &[u8], first: bool, last: bool) -> io::Result<()> {
        if first {
            self.carry.clear();
            self.raw(match self.mode {
                BytesMode::Auto => b"{\"base64\":\"",
                BytesMode::Base64 => b"\"",
            })?;
        }
        let mut rest = part;
        if !self.carry.is_empty() {
            let k = (3 - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..k]);
            rest = &rest[k..];
            if self.carry.len() == 3 {
                let group = std::mem::take(&mut self.carry);
                self.base64_run(&group)?;
            }
        }
        let whole = rest.len() / 3 * 3;
        for run in rest[..whole].chunks(48 * 1024) {
            self.base64_run(run)?;
        }
        self.carry.extend_from_slice(&rest[whole..]);
        if last {
            let tail = std::mem::take(&mut self.carry);
            self.base64_run(&tail)?;
            self.raw(match self.mode {
                BytesMode::Auto => b"\"}",
                BytesMode::Base64 => b"\"",
            })?;
        }
        Ok(())
    }

    /// Appends the base64 of `b` (a multiple of 3 bytes, or the last group) to the output.
    fn base64_run(&mut self, b: &[u8]) -> io::Result<()> {
        let old = self.buf.len();
        self.buf
            .resize(old + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(b, &mut self.buf[old..])
            .map_err(io::Error::other)?;
        self.buf.truncate(old + n);
        self.maybe_flush()
    }

    /// Writes a byte string as an object key (caller has checked it is UTF-8 in auto mode).
    pub fn key(&mut self, b: &[u8]) -> io::Result<()> {
        match self.mode {
            BytesMode::Base64 => self.base64_string(b)?,
            BytesMode::Auto => self.quoted(b)?,
        }
        self.raw(b":")
    }

    /// Writes a Redis string (integers as their decimal text) following the mode.
    #[inline]
    pub fn str(&mut self, s: Str<'_>) -> io::Result<()> {
        match s {
            Str::Bytes(b) => self.bytes(b),
            Str::Int(v) if self.mode == BytesMode::Auto => {
                self.buf.push(b'"');
                self.int(v)?;
                self.raw(b"\"")
            }
            Str::Int(v) => {
                let mut buf = [0u8; 20];
                let t = rdb_parse::format_i64(v, &mut buf);
                let t = t.to_vec();
                self.base64_string(&t)
            }
        }
    }

    /// Flushes the buffered output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        mode: BytesMode,
        f: impl FnOnce(&mut Json<&mut Vec<u8>>) -> io::Result<()>,
    ) -> String {
        let mut v = Vec::new();
        {
            let mut j = Json::new(&mut v, mode);
            f(&mut j).unwrap();
            j.flush().unwrap();
        }
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn a_value_in_parts_is_the_base64_of_the_whole() {
        let whole: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&whole);
        for cuts in [
            vec![1000],
            vec![1, 999],
            vec![2, 2, 996],
            vec![500, 499, 1],
            vec![3; 333],
        ] {
            let mut cuts = cuts;
            let sum: usize = cuts.iter().sum();
            if sum < 1000 {
                cuts.push(1000 - sum);
            }
            for (mode, want) in [
                (BytesMode::Auto, format!(r#"{{"base64":"{b64}"}}"#)),
                (BytesMode::Base64, format!(r#""{b64}""#)),
            ] {
                let got = render(mode, |j| {
                    let mut at = 0;
                    for (i, &n) in cuts.iter().enumerate() {
                        j.bytes_part(&whole[at..at + n], i == 0, i + 1 == cuts.len())?;
                        at += n;
                    }
                    Ok(())
                });
                assert_eq!(got, want, "{cuts:?}");
            }
        }
    }

    /// The next of a fixed sequence of pseudo-random numbers.
    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn scan_agrees_with_a_byte_loop() {
        let mut state = 7u64;
        for _ in 0..20_000 {
            let seed = xorshift(&mut state);
            let len = (seed % 40) as usize;
            let s: Vec<u8> = (0..len)
                .map(|i| {
                    let r = (seed >> (i % 50)) as u8;
                    // Mostly printable ASCII, sometimes a byte of interest.
                    match r % 16 {
                        0 => b'"',
                        1 => b'\\',
                        2 => r % 0x20,
                        3 => 0x80 | r,
                        _ => 0x20 + r % 0x5f,
                    }
                })
                .collect();
            let want_escape = s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            let want_high = s.iter().any(|&b| b >= 0x80);
            let f = scan(&s);
            // A high byte may also set the escape flag (it is then handled by from_utf8 and the
            // escaping pass, which only ever escapes what needs it).
            if !want_high {
                assert_eq!(f & NEEDS_ESCAPE != 0, want_escape, "{s:?}");
            } else if want_escape {
                assert!(f & NEEDS_ESCAPE != 0, "{s:?}");
            }
            assert_eq!(f & NON_ASCII != 0, want_high, "{s:?}");
        }
    }

    /// Strings with runs of NUL bytes (written eight at a time) and other escapes at every
    /// alignment read back as themselves.
    #[test]
    fn escaped_strings_read_back_as_written() {
        let mut state = 11u64;
        for _ in 0..20_000 {
            let seed = xorshift(&mut state);
            let len = (seed % 70) as usize;
            let s: Vec<u8> = (0..len)
                .map(|i| {
                    let r = (seed >> (i % 60)) as u8;
                    match (seed >> (i / 9 % 60)) % 4 {
                        // Runs of NUL, the length of a run set by the seed's bits.
                        0 | 1 => 0,
                        _ => match r % 8 {
                            0 => b'"',
                            1 => r % 0x20,
                            _ => 0x20 + r % 0x5f,
                        },
                    }
                })
                .collect();
            let got = render(BytesMode::Auto, |j| j.bytes(&s));
            let back: String = serde_json::from_str(&got).unwrap();
            assert_eq!(back.as_bytes(), &s[..], "{got}");
        }
        assert_eq!(
            render(BytesMode::Auto, |j| j.bytes(&[0; 9])),
            format!("\"{}\"", "\\u0000".repeat(9))
        );
    }

    #[test]
    fn byte_strings() {
        assert_eq!(
            render(BytesMode::Auto, |j| j.bytes(b"a\"b\\\n\x01")),
            r#""a\"b\\\n\u0001""#
        );
        assert_eq!(
            render(BytesMode::Auto, |j| j.bytes(b"\xff")),
            r#"{"base64":"/w=="}"#
        );
        assert_eq!(render(BytesMode::Base64, |j| j.bytes(b"hi")), r#""aGk=""#);
        assert_eq!(
            render(BytesMode::Auto, |j| j.str(Str::Int(-12))),
            r#""-12""#
        );
        assert_eq!(
            render(BytesMode::Base64, |j| j.str(Str::Int(5))),
            r#""NQ==""#
        );
        assert_eq!(
            render(BytesMode::Auto, |j| j.double(f64::NEG_INFINITY)),
            r#""-inf""#
        );
        assert_eq!(render(BytesMode::Auto, |j| j.double(1.5)), "1.5");
    }
}
