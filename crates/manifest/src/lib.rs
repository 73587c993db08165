//! Redis 7+ multi-part AOF manifests: parse, validate and write them as Redis's `aof.c` does.
//!
//! A manifest lists the files of an `appendonlydir/`: one BASE, HISTORY files (no longer
//! loaded) and INCR files, one per line:
//!
//! ```
//! let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
//! let m = manifest::Manifest::parse(text)?;
//! assert_eq!(m.base.as_ref().unwrap().name, b"appendonly.aof.1.base.rdb");
//! assert_eq!(m.incr.len(), 1);
//! assert_eq!(m.to_bytes(), text);
//! # Ok::<(), manifest::Error>(())
//! ```
//!
//! Parsing follows `aofLoadManifestFromFile`: tokens split like `sdssplitargs` (with `"..."`
//! and `'...'` quoting), keys case-insensitive and in any order, unknown keys ignored, every
//! line ending in a newline, at most one base, INCR sequence numbers strictly increasing.
//! Errors carry the line number. Writing follows `aofInfoFormat`, so writing then parsing gives
//! the same manifest.

pub mod dir;

use std::fmt;

/// Longest line Redis accepts, newline included.
pub const MAX_LINE: usize = 1024;

/// The role of a file in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// The base: an RDB (`.base.rdb`) or RESP (`.base.aof`) snapshot.
    Base,
    /// A file replaced by a rewrite, kept until deleted; never loaded.
    History,
    /// An incremental file of commands.
    Incr,
}

impl FileType {
    /// The letter written in the manifest.
    pub fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    /// File name (a plain name, relative to the manifest's directory; may hold any byte).
    pub name: Vec<u8>,
    /// Sequence number (never 0).
    pub seq: u64,
    /// Role.
    pub kind: FileType,
    /// Replication offset at the start of an INCR file (Redis 8.0+).
    pub start_offset: Option<i64>,
    /// Replication offset at the end of an INCR file, written on graceful close (Redis 8.0+).
    pub end_offset: Option<i64>,
    /// Line number in the parsed text (1-based); 0 for a file not read from text.
    pub line: usize,
}

impl AofFile {
    /// A file entry with no offsets.
    pub fn new(name: impl Into<Vec<u8>>, seq: u64, kind: FileType) -> AofFile {
        AofFile {
            name: name.into(),
            seq,
            kind,
            start_offset: None,
            end_offset: None,
            line: 0,
        }
    }

    /// The name as text, non-UTF-8 bytes replaced, for messages.
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A parsed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// History files, in file order.
    pub history: Vec<AofFile>,
    /// INCR files, in file (and load) order.
    pub incr: Vec<AofFile>,
}

/// A manifest error, with the 1-based line it was found on (0 for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Line number, 1-based; 0 when the problem is not on one line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "manifest line {}: {}", self.line, self.reason)
        } else {
            write!(f, "manifest: {}", self.reason)
        }
    }
}

impl std::error::Error for Error {}

fn err<T>(line: usize, reason: impl Into<String>) -> Result<T, Error> {
    Err(Error {
        line,
        reason: reason.into(),
    })
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits a line into tokens as Redis's `sdssplitargs` does; `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut p = 0;
    let ws = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    loop {
        while p < line.len() && ws(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if p >= line.len() {
                    return None;
                }
                let c = line[p];
                if c == b'\\'
                    && p + 3 < line.len()
                    && line[p + 1] == b'x'
                    && hex_digit(line[p + 2]).is_some()
                    && hex_digit(line[p + 3]).is_some()
                {
                    cur.push(
                        hex_digit(line[p + 2]).unwrap_or(0) * 16
                            + hex_digit(line[p + 3]).unwrap_or(0),
                    );
                    p += 3;
                } else if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    cur.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or the end.
                    if p + 1 < line.len() && !ws(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if p >= line.len() {
                    return None;
                }
                let c = line[p];
                if c == b'\\' && p + 1 < line.len() && line[p + 1] == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !ws(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if p >= line.len() {
                    break;
                }
                match line[p] {
                    c if ws(c) => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            p += 1;
        }
        out.push(cur);
    }
}

fn parse_int(tok: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(tok).ok()?;
    // Redis's string2ll: no leading '+', no spaces, no leading zeros (except "0").
    if s.is_empty()
        || s.starts_with('+')
        || (s.len() > 1 && s.starts_with('0'))
        || s.starts_with("-0")
    {
        return None;
    }
    s.parse().ok()
}

impl Manifest {
    /// Parses and validates manifest text.
    pub fn parse(text: &[u8]) -> Result<Manifest, Error> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return err(0, "the manifest is empty");
        }
        let mut lines = 0;
        let mut last_incr_seq: Option<u64> = None;
        let mut seen: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
        let mut start = 0;
        let mut line_no = 0;
        while start < text.len() {
            line_no += 1;
            let Some(nl) = text[start..].iter().position(|&b| b == b'\n') else {
                return err(line_no, "the last line does not end with a newline");
            };
            let line = &text[start..start + nl];
            start += nl + 1;
            if line.len() + 1 > MAX_LINE {
                return err(line_no, format!("line longer than {MAX_LINE} bytes"));
            }
            if line.first() == Some(&b'#') {
                continue;
            }
            lines += 1;
            if line.iter().all(|&c| matches!(c, b' ' | b'\t' | b'\r')) {
                return err(line_no, "empty line");
            }
            let Some(tokens) = split_args(line) else {
                return err(line_no, "unbalanced quotes");
            };
            if tokens.len() < 6 || tokens.len() % 2 != 0 {
                return err(
                    line_no,
                    format!(
                        "expected key/value pairs (file, seq, type), found {} tokens",
                        tokens.len()
                    ),
                );
            }
            let (mut name, mut seq, mut kind, mut so, mut eo) = (None, None, None, None, None);
            for pair in tokens.chunks(2) {
                let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                let val = &pair[1];
                match key.as_str() {
                    "file" => name = Some(val.clone()),
                    "seq" => seq = Some(val.clone()),
                    "type" => kind = Some(val.clone()),
                    "startoffset" => so = Some(val.clone()),
                    "endoffset" => eo = Some(val.clone()),
                    _ => {} // unknown keys are ignored, for forward compatibility
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return err(line_no, "a line needs file, seq and type");
            };
            if name.is_empty() {
                return err(line_no, "empty file name");
            }
            if name.iter().any(|&c| c == b'/' || c == b'\\') {
                return err(line_no, "file can't be a path, just a file name");
            }
            let seq = match parse_int(&seq) {
                Some(s) if s > 0 => s as u64,
                _ => {
                    return err(
                        line_no,
                        format!(
                            "invalid seq '{}' (a positive integer)",
                            String::from_utf8_lossy(&seq)
                        ),
                    )
                }
            };
            let kind = match kind.first() {
                Some(b'b') => FileType::Base,
                Some(b'h') => FileType::History,
                Some(b'i') => FileType::Incr,
                _ => {
                    return err(
                        line_no,
                        format!("unknown AOF file type '{}'", String::from_utf8_lossy(&kind)),
                    )
                }
            };
            let offset = |v: Option<Vec<u8>>, what: &str| -> Result<Option<i64>, Error> {
                match v {
                    None => Ok(None),
                    Some(t) => match parse_int(&t) {
                        Some(x) => Ok(Some(x)),
                        None => err(
                            line_no,
                            format!("invalid {what} '{}'", String::from_utf8_lossy(&t)),
                        ),
                    },
                }
            };
            // A file listed twice would be loaded twice (and a repair would cut it twice).
            if let Some(first) = seen.insert(name.clone(), line_no) {
                return err(
                    line_no,
                    format!(
                        "file '{}' is listed twice (lines {first} and {line_no})",
                        String::from_utf8_lossy(&name)
                    ),
                );
            }
            let file = AofFile {
                name,
                seq,
                kind,
                start_offset: offset(so, "startoffset")?,
                end_offset: offset(eo, "endoffset")?,
                line: line_no,
            };
            match kind {
                FileType::Base => {
                    if m.base.is_some() {
                        return err(line_no, "found duplicate base file information");
                    }
                    m.base = Some(file);
                }
                FileType::History => m.history.push(file),
                FileType::Incr => {
                    if last_incr_seq.is_some_and(|last| seq <= last) {
                        return err(line_no, "found a non-monotonic sequence number");
                    }
                    last_incr_seq = Some(seq);
                    m.incr.push(file);
                }
            }
        }
        if lines == 0 {
            return err(0, "the manifest lists no file");
        }
        Ok(m)
    }

    /// All files in the order Redis writes them: base, history, incr.
    pub fn files(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.history).chain(&self.incr)
    }

    /// The files Redis loads, in order: base, then incr.
    pub fn loaded(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incr)
    }

    /// The manifest text, as Redis writes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.files() {
            out.extend_from_slice(b"file ");
            write_name(&mut out, &f.name);
            out.extend_from_slice(format!(" seq {} type {}", f.seq, f.kind.letter()).as_bytes());
            if let Some(so) = f.start_offset {
                out.extend_from_slice(format!(" startoffset {so}").as_bytes());
            }
            if let Some(eo) = f.end_offset {
                out.extend_from_slice(format!(" endoffset {eo}").as_bytes());
            }
            out.push(b'\n');
        }
        out
    }
}

/// Writes a name bare, or quoted like `sdscatrepr` when it holds a space, a quote, a
/// backslash or a non-printable byte.
fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    let plain = name
        .iter()
        .all(|&c| (0x21..=0x7e).contains(&c) && c != b'"' && c != b'\\' && c != b'\'');
    if plain {
        out.extend_from_slice(name);
        return;
    }
    out.push(b'"');
    for &c in name {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Manifest, Error> {
        Manifest::parse(s.as_bytes())
    }

    #[test]
    fn redis_written_manifest() {
        let m = parse(
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type i\n\
             file appendonly.aof.4.incr.aof seq 4 type i startoffset 100 endoffset 250\n",
        )
        .unwrap();
        assert_eq!(m.base.as_ref().unwrap().seq, 2);
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.incr[1].start_offset, Some(100));
        assert_eq!(m.incr[1].end_offset, Some(250));
        assert_eq!(m.incr[1].line, 4);
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap().incr, m.incr);
    }

    #[test]
    fn loose_forms_redis_accepts() {
        // Keys in any order and any case, unknown keys ignored, `type` read by its first
        // letter, comments skipped, quoted names with spaces.
        let m = parse(
            "# comment\n\
             TYPE base SEQ 1 FILE \"my aof.1.base.rdb\" future-key value\n\
             file 'x.1.incr.aof' seq 1 type incr\n",
        )
        .unwrap();
        assert_eq!(m.base.unwrap().name, b"my aof.1.base.rdb");
        assert_eq!(m.incr[0].name, b"x.1.incr.aof");
    }

    #[test]
    fn errors_with_line_numbers() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty"),
            ("# only a comment\n", 0, "no file"),
            ("file a seq 1 type b", 1, "newline"),
            ("file a seq 1 type b\n\n", 2, "empty line"),
            ("file a seq 1 type b\n   \n", 2, "empty line"),
            ("file a seq 1\n", 1, "tokens"),
            ("file a seq 1 type b x\n", 1, "tokens"),
            ("file a seq 0 type i\n", 1, "invalid seq"),
            ("file a seq -1 type i\n", 1, "invalid seq"),
            ("file a seq 01 type i\n", 1, "invalid seq"),
            ("file a seq 1 type z\n", 1, "unknown AOF file type"),
            ("file a/b seq 1 type i\n", 1, "path"),
            (
                "file a seq 1 type b\nfile c seq 2 type b\n",
                2,
                "duplicate base",
            ),
            (
                "file a seq 2 type i\nfile c seq 2 type i\n",
                2,
                "non-monotonic",
            ),
            (
                "file a seq 1 type b\nfile a seq 2 type i\n",
                2,
                "listed twice",
            ),
            (
                "file a seq 1 type i\nfile b seq 2 type i\nfile a seq 3 type i\n",
                3,
                "listed twice (lines 1 and 3)",
            ),
            (
                "file a seq 3 type i\nfile c seq 2 type i\n",
                2,
                "non-monotonic",
            ),
            ("file \"a seq 1 type i\n", 1, "unbalanced"),
            ("file \"a\"b seq 1 type i\n", 1, "unbalanced"),
            ("seq 1 type i foo bar\n", 1, "file, seq and type"),
        ];
        for &(text, line, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(want), "{text:?}: {e}");
        }
        let long = format!("file {} seq 1 type i\n", "a".repeat(1100));
        assert!(parse(&long).unwrap_err().reason.contains("longer"));
    }

    #[test]
    fn quoting_round_trips() {
        for name in [
            &b"plain.aof"[..],
            b"with space.aof",
            b"quote\"mark",
            b"new\nline\ttab",
            b"\x00\x01\xff\xfe",
            b"it's",
        ] {
            let mut m = Manifest::default();
            m.incr.push(AofFile::new(name, 1, FileType::Incr));
            let text = m.to_bytes();
            let back =
                Manifest::parse(&text).unwrap_or_else(|e| panic!("{name:?} -> {text:?}: {e}"));
            assert_eq!(back.incr[0].name, name, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn write_then_parse_is_identity(
            names in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no path separators", |c| *c != b'/' && *c != b'\\'), 1..40), 1..6),
            offsets in proptest::option::of((any::<i64>(), any::<i64>())),
        ) {
            let mut m = Manifest::default();
            for (i, n) in names.iter().enumerate() {
                let mut f = AofFile::new(n.clone(), i as u64 + 1, if i == 0 { FileType::Base } else { FileType::Incr });
                if let Some((a, b)) = offsets {
                    f.start_offset = Some(a);
                    f.end_offset = Some(b);
                }
                if i == 0 { m.base = Some(f) } else { m.incr.push(f) }
            }
            let text = m.to_bytes();
            prop_assume!(text.split(|&c| c == b'\n').all(|l| l.len() < MAX_LINE));
            let mut back = Manifest::parse(&text).unwrap();
            for f in back.base.iter_mut().chain(back.incr.iter_mut()) {
                f.line = 0;
            }
            prop_assert_eq!(back, m);
        }
    }
}
