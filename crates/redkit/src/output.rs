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

/// A JSON writer over a buffered sink, with the byte-string rules of `--bytes`.
pub struct Json<W: Write> {
    out: io::BufWriter<W>,
    mode: BytesMode,
    scratch: Vec<u8>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl<W: Write> Json<W> {
    /// A writer in `mode`.
    pub fn new(w: W, mode: BytesMode) -> Self {
        Json {
            out: io::BufWriter::with_capacity(256 * 1024, w),
            mode,
            scratch: Vec::new(),
        }
    }

    /// The byte-string mode.
    pub fn mode(&self) -> BytesMode {
        self.mode
    }

    /// Writes raw JSON text.
    #[inline]
    pub fn raw(&mut self, s: &[u8]) -> io::Result<()> {
        self.out.write_all(s)
    }

    /// Writes an integer.
    pub fn int(&mut self, v: i64) -> io::Result<()> {
        let mut b = [0u8; 20];
        self.out.write_all(rdb_parse::format_i64(v, &mut b))
    }

    /// Writes an unsigned integer.
    pub fn uint(&mut self, v: u64) -> io::Result<()> {
        write!(self.out, "{v}")
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
            serde_json::to_writer(&mut self.out, &v).map_err(io::Error::other)
        }
    }

    /// Writes text known to be UTF-8 as a JSON string.
    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(b"\"")?;
        self.escaped(s.as_bytes())?;
        self.out.write_all(b"\"")
    }

    fn escaped(&mut self, s: &[u8]) -> io::Result<()> {
        let mut start = 0;
        for (i, &b) in s.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => {
                    self.out.write_all(&s[start..i])?;
                    self.out.write_all(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 15) as usize],
                    ])?;
                    start = i + 1;
                    continue;
                }
                _ => continue,
            };
            self.out.write_all(&s[start..i])?;
            self.out.write_all(esc)?;
            start = i + 1;
        }
        self.out.write_all(&s[start..])
    }

    fn base64_string(&mut self, b: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        let need = base64::encoded_len(b.len(), true).unwrap_or(0);
        self.scratch.resize(need, 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(b, &mut self.scratch)
            .map_err(io::Error::other)?;
        self.out.write_all(b"\"")?;
        self.out.write_all(&self.scratch[..n])?;
        self.out.write_all(b"\"")
    }

    /// Writes a byte string as a JSON value following the mode.
    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        match self.mode {
            BytesMode::Base64 => self.base64_string(b),
            BytesMode::Auto => {
                if std::str::from_utf8(b).is_ok() {
                    self.out.write_all(b"\"")?;
                    self.escaped(b)?;
                    self.out.write_all(b"\"")
                } else {
                    self.out.write_all(b"{\"base64\":")?;
                    self.base64_string(b)?;
                    self.out.write_all(b"}")
                }
            }
        }
    }

    /// Writes a byte string as an object key (caller has checked it is UTF-8 in auto mode).
    pub fn key(&mut self, b: &[u8]) -> io::Result<()> {
        match self.mode {
            BytesMode::Base64 => self.base64_string(b)?,
            BytesMode::Auto => {
                self.out.write_all(b"\"")?;
                self.escaped(b)?;
                self.out.write_all(b"\"")?;
            }
        }
        self.out.write_all(b":")
    }

    /// Writes a Redis string (integers as their decimal text) following the mode.
    #[inline]
    pub fn str(&mut self, s: Str<'_>) -> io::Result<()> {
        match s {
            Str::Bytes(b) => self.bytes(b),
            Str::Int(v) if self.mode == BytesMode::Auto => {
                self.out.write_all(b"\"")?;
                self.int(v)?;
                self.out.write_all(b"\"")
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
