//! A streaming reader of Redis and Valkey append-only files.
//!
//! An AOF is a sequence of RESP commands (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per
//! argument), `#` annotation lines (`#TS:<unix-seconds>` restore points), and optionally an RDB
//! image first (the "preamble", or a whole `.base.rdb` of a multi-part AOF). [`AofReader`]
//! yields one [`Item`] per record, each with its byte offset, checks the framing as strictly as
//! `redis-check-aof`, tracks `MULTI`/`EXEC`, and knows the offset a repair would cut at
//! ([`AofReader::last_good_offset`]): the end of the last complete record, or the start of an
//! unfinished `MULTI` block.
//!
//! ```
//! use aof_parse::{AofReader, Item};
//!
//! let aof: &[u8] = b"#TS:1700000000\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL";
//! let mut r = AofReader::new(aof);
//! assert!(matches!(r.next_item()?, Some(Item::Timestamp { unix_secs: 1700000000, .. })));
//! match r.next_item()? {
//!     Some(Item::Command(c)) => assert_eq!(c.args().collect::<Vec<_>>(), [&b"SET"[..], b"k", b"v"]),
//!     other => panic!("{other:?}"),
//! }
//! let err = r.next_item().unwrap_err();
//! assert!(err.is_truncation());
//! assert_eq!(r.last_good_offset(), 43); // a fix keeps the first two records
//! # Ok::<(), aof_parse::Error>(())
//! ```

pub mod commands;
pub mod scan;
mod table;
pub mod write;

pub use table::{arity_ok, CommandTable, Verdict};

use std::fmt;
use std::io::{self, Chain, Cursor, Read};

/// Longest annotation line Redis reads in one piece (`AOF_ANNOTATION_LINE_MAX_LEN`).
pub const MAX_ANNOTATION: usize = 1024;

/// Bounds on what a file may make the reader hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest argument accepted.
    pub max_bulk_len: u64,
    /// Most arguments in one command.
    pub max_args: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 1 << 30,
            max_args: 1 << 24,
        }
    }
}

/// An error with the absolute byte offset where it was found.
#[derive(Debug)]
pub struct Error {
    offset: u64,
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file ended inside a record (a torn tail).
    UnexpectedEof {
        /// What was being read.
        what: &'static str,
    },
    /// A byte or line that breaks the RESP framing.
    Format {
        /// What was expected and found.
        reason: String,
    },
    /// `MULTI` inside `MULTI`, or `EXEC` outside one.
    Transaction {
        /// Which.
        reason: &'static str,
    },
    /// A length or count beyond [`Limits`].
    LimitExceeded {
        /// What the number counts.
        what: &'static str,
        /// The number found.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// The RDB preamble is not valid (Redis refuses to load such a file).
    Rdb(rdb_parse::Error),
    /// Reading failed.
    Io(io::Error),
}

impl Error {
    fn new(offset: u64, kind: ErrorKind) -> Error {
        Error { offset, kind }
    }

    fn format(offset: u64, reason: impl Into<String>) -> Error {
        Error::new(
            offset,
            ErrorKind::Format {
                reason: reason.into(),
            },
        )
    }

    /// Absolute byte offset of the problem (for a torn tail: where the file ends).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the file ends inside a RESP record (fixable by truncation).
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, ErrorKind::UnexpectedEof { .. })
    }

    /// True when reading failed (not a problem of the content).
    pub fn is_io(&self) -> bool {
        matches!(self.kind, ErrorKind::Io(_))
            || matches!(&self.kind, ErrorKind::Rdb(e) if e.is_io())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: ", self.offset)?;
        match &self.kind {
            ErrorKind::UnexpectedEof { what } => {
                write!(f, "unexpected end of file while reading {what} (torn tail)")
            }
            ErrorKind::Format { reason } => f.write_str(reason),
            ErrorKind::Transaction { reason } => f.write_str(reason),
            ErrorKind::LimitExceeded { what, value, limit } => {
                write!(f, "{what} of {value} exceeds the limit of {limit}")
            }
            ErrorKind::Rdb(e) => write!(f, "in the RDB preamble: {}", e.kind()),
            ErrorKind::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A command: its arguments borrow from the reader's buffer.
#[derive(Clone, Copy)]
pub struct Command<'a> {
    /// Offset of its `*`.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    buf: &'a [u8],
    ranges: &'a [(usize, usize)],
}

impl<'a> Command<'a> {
    /// Number of arguments, the command name included.
    pub fn argc(&self) -> usize {
        self.ranges.len()
    }

    /// Argument `i` (0 is the command name).
    pub fn arg(&self, i: usize) -> Option<&'a [u8]> {
        self.ranges.get(i).map(|&(a, b)| &self.buf[a..b])
    }

    /// The command name as written (any case).
    pub fn name(&self) -> &'a [u8] {
        self.arg(0).unwrap_or_default()
    }

    /// All arguments, the name first.
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.ranges.iter().map(move |&(a, b)| &buf[a..b])
    }

    /// True when the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args().map(rdb_parse::escape).collect();
        write!(f, "Command@{}[{}]", self.offset, args.join(" "))
    }
}

/// One record of an AOF.
#[derive(Debug)]
#[non_exhaustive]
pub enum Item<'a> {
    /// An RDB image starts at offset 0. Drive it with [`AofReader::rdb`]; if the next
    /// [`AofReader::next_item`] comes first, the reader walks (and so validates) it itself.
    Preamble,
    /// The RDB image ended at `end`; RESP follows.
    PreambleEnd {
        /// Offset just past the RDB's checksum.
        end: u64,
    },
    /// A `#TS:<unix-seconds>` annotation: a restore point.
    Timestamp {
        /// The time.
        unix_secs: u64,
        /// Offset of its `#`.
        offset: u64,
        /// Length of the line, CRLF included.
        len: u64,
    },
    /// Any other `#` line (skipped by Redis).
    Annotation {
        /// The line without its line ending.
        text: &'a [u8],
        /// Offset of its `#`.
        offset: u64,
        /// Length of the line, line ending included.
        len: u64,
    },
    /// A command.
    Command(Command<'a>),
}

/// Whether a command name is MULTI, or EXEC (any case).
fn multi_exec(name: &[u8]) -> (bool, bool) {
    (
        name.eq_ignore_ascii_case(b"multi"),
        name.eq_ignore_ascii_case(b"exec"),
    )
}

type PreambleReader<R> = Chain<Cursor<Vec<u8>>, R>;

enum State<R: Read> {
    Start,
    Rdb(Box<rdb_parse::Parser<PreambleReader<R>>>),
    Resp,
    Done,
}

/// A streaming AOF reader. See the crate docs.
pub struct AofReader<R: Read> {
    reader: Option<R>,
    limits: Limits,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    base: u64,
    pos: usize,
    filled: usize,
    eof: bool,
    state: State<R>,
    ranges: Vec<(usize, usize)>,
    last_good: u64,
    multi_start: Option<u64>,
    commands: u64,
    annotations: u64,
    /// With [`AofReader::keep_args`]: how many arguments of a command are kept, and their bytes.
    keep: Option<usize>,
    kept: Vec<u8>,
}

const CHUNK: usize = 128 * 1024;

pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |v, d| v * 10 + (d - b'0') as u64))
}

impl<R: Read> AofReader<R> {
    /// A reader with default [`Limits`].
    pub fn new(reader: R) -> Self {
        AofReader::with_limits(reader, Limits::default())
    }

    /// A reader with the given limits.
    pub fn with_limits(reader: R, limits: Limits) -> Self {
        AofReader {
            reader: Some(reader),
            limits,
            buf: Vec::new(),
            base: 0,
            pos: 0,
            filled: 0,
            eof: false,
            state: State::Start,
            ranges: Vec::new(),
            last_good: 0,
            multi_start: None,
            commands: 0,
            annotations: 0,
            keep: None,
            kept: Vec::new(),
        }
    }

    /// Offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Where a repair cuts: the end of the last complete record, or the start of the `MULTI`
    /// of an unfinished transaction.
    pub fn last_good_offset(&self) -> u64 {
        self.multi_start.unwrap_or(self.last_good)
    }

    /// The offset of the `MULTI` of the open transaction, if one is open.
    pub fn open_multi(&self) -> Option<u64> {
        self.multi_start
    }

    /// Commands read so far.
    pub fn commands(&self) -> u64 {
        self.commands
    }

    /// Annotation lines (including timestamps) read so far.
    pub fn annotations(&self) -> u64 {
        self.annotations
    }

    /// The RDB preamble's parser, between [`Item::Preamble`] and [`Item::PreambleEnd`].
    pub fn rdb(&mut self) -> Option<&mut rdb_parse::Parser<PreambleReader<R>>> {
        match &mut self.state {
            State::Rdb(p) => Some(p),
            _ => None,
        }
    }

    /// Makes `n` bytes from `pos` available, keeping everything from absolute offset
    /// `keep_from` (the start of the record being read). False at the end of the input.
    #[inline]
    fn fill(&mut self, n: usize, keep_from: u64, what: &'static str) -> Result<bool, Error> {
        if self.filled - self.pos >= n {
            return Ok(true);
        }
        self.refill(n, keep_from, what)
    }

    #[cold]
    fn refill(&mut self, n: usize, keep_from: u64, what: &'static str) -> Result<bool, Error> {
        let keep = (keep_from - self.base) as usize;
        if keep > 0 {
            self.buf.copy_within(keep..self.filled, 0);
            self.base += keep as u64;
            self.pos -= keep;
            self.filled -= keep;
        }
        let needed = self.pos + n;
        while self.filled < needed {
            if self.eof {
                return Ok(false);
            }
            if self.filled == self.buf.len() {
                let new_len = (self.buf.len() * 2)
                    .max(CHUNK)
                    .max(needed.min(self.buf.len() * 2 + CHUNK));
                self.buf.resize(new_len, 0);
            }
            let Some(r) = self.reader.as_mut() else {
                return Ok(false);
            };
            match r.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::new(self.base + self.filled as u64, ErrorKind::Io(e))),
            }
        }
        let _ = what;
        Ok(true)
    }

    fn eof_error(&self, what: &'static str) -> Error {
        Error::new(
            self.base + self.filled as u64,
            ErrorKind::UnexpectedEof { what },
        )
    }

    /// Keeps only the first `n` arguments of each command (`n` ≥ 1: the name is always kept);
    /// the others are framed, checked and counted, but passed over as they are read, so that an
    /// argument of any length costs no memory. [`Command::arg`] is then empty for those.
    /// For readers that need only names and counts (a check, restore points).
    pub fn keep_args(&mut self, n: usize) {
        self.keep = Some(n.max(1));
    }

    /// Reads the next record. `Ok(None)` at the end of the file.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, Error> {
        loop {
            match self.state {
                State::Start => {
                    self.fill(6, self.base, "file start")?;
                    let head = &self.buf[..self.filled.min(6)];
                    if head.starts_with(b"REDIS") || head.starts_with(b"VALKEY") {
                        let buffered = self.buf[..self.filled].to_vec();
                        let inner = self.reader.take().expect("reader present at start");
                        let parser = rdb_parse::Parser::new(Cursor::new(buffered).chain(inner));
                        self.state = State::Rdb(Box::new(parser));
                        return Ok(Some(Item::Preamble));
                    }
                    self.state = State::Resp;
                }
                State::Rdb(ref mut parser) => {
                    while let Some(_ev) = parser
                        .next_event()
                        .map_err(|e| Error::new(e.offset(), ErrorKind::Rdb(e)))?
                    {
                    }
                    let end = parser.offset();
                    let State::Rdb(parser) = std::mem::replace(&mut self.state, State::Resp) else {
                        unreachable!("state checked above")
                    };
                    let (chain, leftover) = parser.into_parts();
                    let (cursor, inner) = chain.into_inner();
                    let pos = cursor.position() as usize;
                    let mut rest = leftover;
                    rest.extend_from_slice(&cursor.get_ref()[pos.min(cursor.get_ref().len())..]);
                    self.filled = rest.len();
                    self.buf = rest;
                    self.pos = 0;
                    self.base = end;
                    self.eof = false;
                    self.reader = Some(inner);
                    self.last_good = end;
                    return Ok(Some(Item::PreambleEnd { end }));
                }
                State::Resp => return self.resp_item(),
                State::Done => return Ok(None),
            }
        }
    }

    fn resp_item(&mut self) -> Result<Option<Item<'_>>, Error> {
        let at = self.offset();
        if !self.fill(1, at, "record")? {
            self.state = State::Done;
            return Ok(None);
        }
        match self.buf[self.pos] {
            b'#' => self.annotation(at),
            b'*' => self.command(at),
            b => Err(Error::format(
                at,
                format!("expected '*' or '#' at the start of a record, found byte 0x{b:02x}"),
            )),
        }
    }

    fn annotation(&mut self, at: u64) -> Result<Option<Item<'_>>, Error> {
        // Find the newline within the line limit.
        let mut scanned = 0;
        let nl = loop {
            if let Some(i) = self.buf[self.pos + scanned..self.filled]
                .iter()
                .position(|&b| b == b'\n')
            {
                break scanned + i;
            }
            scanned = self.filled - self.pos;
            if scanned >= MAX_ANNOTATION {
                return Err(Error::format(
                    at,
                    format!("annotation line longer than {MAX_ANNOTATION} bytes"),
                ));
            }
            if !self.fill(scanned + 1, at, "annotation line")? {
                return Err(self.eof_error("annotation line"));
            }
        };
        if nl + 1 > MAX_ANNOTATION {
            return Err(Error::format(
                at,
                format!("annotation line longer than {MAX_ANNOTATION} bytes"),
            ));
        }
        let line_start = self.pos;
        let line_end = self.pos + nl; // index of '\n'
        self.pos = line_end + 1;
        let len = (nl + 1) as u64;
        self.annotations += 1;
        if self.multi_start.is_none() {
            self.last_good = self.offset();
        }
        let line = &self.buf[line_start..line_end];
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(ts) = line.strip_prefix(b"#TS:") {
            // The digits must be followed by "\r" (redis-check-aof's rule).
            let Some(digits) = ts.strip_suffix(b"\r") else {
                return Err(Error::format(
                    at,
                    "invalid timestamp annotation: no CRLF after the digits",
                ));
            };
            let Some(unix_secs) = parse_decimal(digits) else {
                return Err(Error::format(
                    at,
                    format!("invalid timestamp annotation {}", rdb_parse::escape(line)),
                ));
            };
            return Ok(Some(Item::Timestamp {
                unix_secs,
                offset: at,
                len,
            }));
        }
        Ok(Some(Item::Annotation {
            text,
            offset: at,
            len,
        }))
    }

    /// Reads `<prefix><digits>\r\n` at `pos` (inside the record at `record`); returns the number.
    #[inline]
    fn header_line(&mut self, record: u64, prefix: u8, what: &'static str) -> Result<u64, Error> {
        // Fast path: the whole line is buffered and well formed; parse while scanning.
        let b = &self.buf[self.pos..self.filled];
        if b.len() >= 4 && b[0] == prefix {
            let mut v = 0u64;
            let mut i = 1;
            while i < b.len() && i <= 19 && b[i].is_ascii_digit() {
                v = v * 10 + (b[i] - b'0') as u64;
                i += 1;
            }
            if i > 1 && i + 1 < b.len() && b[i] == b'\r' && b[i + 1] == b'\n' {
                self.pos += i + 2;
                return Ok(v);
            }
        }
        self.header_line_slow(record, prefix, what)
    }

    #[cold]
    fn header_line_slow(
        &mut self,
        record: u64,
        prefix: u8,
        what: &'static str,
    ) -> Result<u64, Error> {
        let at = self.offset();
        let mut scanned = 0usize;
        let cr = loop {
            if let Some(i) = self.buf[self.pos + scanned..self.filled]
                .iter()
                .position(|&b| b == b'\r')
            {
                break scanned + i;
            }
            scanned = self.filled - self.pos;
            if scanned > 21 {
                return Err(Error::format(
                    at,
                    format!("{what}: no CRLF within 21 bytes"),
                ));
            }
            if !self.fill(scanned + 1, record, what)? {
                return Err(self.eof_error(what));
            }
        };
        if !self.fill(cr + 2, record, what)? {
            return Err(self.eof_error(what));
        }
        let line = &self.buf[self.pos..self.pos + cr + 2];
        if line[0] != prefix {
            return Err(Error::format(
                at,
                format!(
                    "expected '{}', found byte 0x{:02x}",
                    prefix as char, line[0]
                ),
            ));
        }
        if line[cr + 1] != b'\n' {
            return Err(Error::format(
                at + cr as u64 + 1,
                format!("{what}: expected \\n after \\r"),
            ));
        }
        let Some(n) = parse_decimal(&line[1..cr]) else {
            return Err(Error::format(
                at,
                format!("{what}: not a number: {}", rdb_parse::escape(&line[1..cr])),
            ));
        };
        self.pos += cr + 2;
        Ok(n)
    }

    fn command(&mut self, at: u64) -> Result<Option<Item<'_>>, Error> {
        let argc = self.header_line(at, b'*', "argument count")?;
        if argc == 0 {
            return Err(Error::format(at, "command with zero arguments"));
        }
        if argc > self.limits.max_args {
            return Err(Error::new(
                at,
                ErrorKind::LimitExceeded {
                    what: "argument count",
                    value: argc,
                    limit: self.limits.max_args,
                },
            ));
        }
        if let Some(keep) = self.keep {
            return self.command_kept(at, argc, keep);
        }
        // Argument ranges relative to the record start: the buffer may slide while reading.
        self.ranges.clear();
        for _ in 0..argc {
            let n = self.arg_len(at)?;
            // The buffer grows only as data arrives: a huge length in a short file ends at EOF.
            if !self.fill(n as usize + 2, at, "argument")? {
                return Err(self.eof_error("argument"));
            }
            let rel = (self.offset() - at) as usize;
            self.pos += n as usize;
            self.arg_end(n)?;
            self.ranges.push((rel, rel + n as usize));
        }
        let start = self.buf_index(at);
        for r in &mut self.ranges {
            *r = (r.0 + start, r.1 + start);
        }
        let len = self.offset() - at;
        let (multi, exec) = multi_exec(&self.buf[self.ranges[0].0..self.ranges[0].1]);
        self.transaction(at, len, multi, exec)?;
        Ok(Some(Item::Command(Command {
            offset: at,
            len,
            buf: &self.buf,
            ranges: &self.ranges,
        })))
    }

    /// One argument's length header, checked against the limits (bytes from `keep_from` on
    /// stay buffered).
    fn arg_len(&mut self, keep_from: u64) -> Result<u64, Error> {
        let arg_at = self.offset();
        let n = self.header_line(keep_from, b'$', "argument length")?;
        if n > self.limits.max_bulk_len {
            return Err(Error::new(
                arg_at,
                ErrorKind::LimitExceeded {
                    what: "argument length",
                    value: n,
                    limit: self.limits.max_bulk_len,
                },
            ));
        }
        Ok(n)
    }

    /// The CRLF after an argument of `n` bytes, at `pos` (buffered).
    fn arg_end(&mut self, n: u64) -> Result<(), Error> {
        let crlf = self.pos;
        if &self.buf[crlf..crlf + 2] != b"\r\n" {
            return Err(Error::format(
                self.base + crlf as u64,
                format!(
                    "expected \\r\\n after a {n}-byte argument, found 0x{:02x}{:02x}",
                    self.buf[crlf],
                    self.buf[crlf + 1]
                ),
            ));
        }
        self.pos = crlf + 2;
        Ok(())
    }

    /// A command of which only the first `keep` arguments are kept (see
    /// [`AofReader::keep_args`]): they are copied aside, and the buffer slides over the rest.
    fn command_kept(&mut self, at: u64, argc: u64, keep: usize) -> Result<Option<Item<'_>>, Error> {
        self.ranges.clear();
        self.kept.clear();
        for i in 0..argc as usize {
            // Nothing before this argument needs to stay buffered.
            let n = self.arg_len(self.offset())?;
            if i < keep {
                if !self.fill(n as usize + 2, self.offset(), "argument")? {
                    return Err(self.eof_error("argument"));
                }
                let start = self.kept.len();
                self.kept
                    .extend_from_slice(&self.buf[self.pos..self.pos + n as usize]);
                self.ranges.push((start, self.kept.len()));
                self.pos += n as usize;
            } else {
                // Passed over as it is read: the buffer never holds more than a chunk of it.
                let mut left = n;
                loop {
                    let k = ((self.filled - self.pos) as u64).min(left);
                    self.pos += k as usize;
                    left -= k;
                    if left == 0 {
                        break;
                    }
                    if !self.fill(1, self.offset(), "argument")? {
                        return Err(self.eof_error("argument"));
                    }
                }
                self.ranges.push((0, 0));
            }
            if !self.fill(2, self.offset(), "argument")? {
                return Err(self.eof_error("argument"));
            }
            self.arg_end(n)?;
        }
        let len = self.offset() - at;
        let (multi, exec) = multi_exec(&self.kept[self.ranges[0].0..self.ranges[0].1]);
        self.transaction(at, len, multi, exec)?;
        Ok(Some(Item::Command(Command {
            offset: at,
            len,
            buf: &self.kept,
            ranges: &self.ranges,
        })))
    }

    /// Counts a command and follows MULTI/EXEC: `last_good` moves only outside a transaction.
    fn transaction(&mut self, at: u64, len: u64, multi: bool, exec: bool) -> Result<(), Error> {
        self.commands += 1;
        if multi {
            if self.multi_start.is_some() {
                return Err(Error::new(
                    at,
                    ErrorKind::Transaction {
                        reason: "MULTI inside MULTI",
                    },
                ));
            }
            self.multi_start = Some(at);
        } else if exec {
            if self.multi_start.is_none() {
                return Err(Error::new(
                    at,
                    ErrorKind::Transaction {
                        reason: "EXEC without MULTI",
                    },
                ));
            }
            self.multi_start = None;
        }
        if self.multi_start.is_none() {
            self.last_good = at + len;
        }
        Ok(())
    }

    /// The buffer index of absolute offset `at` (which must still be buffered).
    fn buf_index(&self, at: u64) -> usize {
        (at - self.base) as usize
    }
}
