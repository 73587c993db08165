//! Scans over one file of a log, for checks and repairs: where the next valid command after
//! damage starts, what a cut would remove, the byte ranges a salvage keeps, where a cut at a
//! restore point must move to stay outside a transaction, and the restore points themselves.
//!
//! They read through any `Read + Seek` (a file), given its size; none of them opens a file.

use crate::{AofReader, Error, Item};
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// The first offset after `from` where a complete command starts (a `*` at the start of a
/// line that parses as a whole command before `size`), if any: then damage at `from` is in the
/// middle of the file, and cutting there would lose valid data.
///
/// Linear in the file, whatever it holds: a candidate is first checked by walking its headers
/// (seeking over the argument bodies, never reading them), and the number of well-framed
/// arguments that follow each argument header is remembered, so that no header is walked
/// twice. Only a candidate that passes is parsed in full. (A naive parse of every candidate is
/// quadratic on a file of `*1\r\n$999999999\r\n` lines: each one reads to the end.)
pub fn next_command_after<R: Read + Seek>(
    src: &mut R,
    size: u64,
    from: u64,
) -> io::Result<Option<u64>> {
    let limits = crate::Limits::default();
    let mut frames = Frames {
        src,
        size,
        limits,
        chain: std::collections::HashMap::new(),
    };
    let mut pos = from + 1;
    let mut buf = vec![0u8; 1 << 16];
    // Whether the byte before `pos` is a newline.
    let mut after_newline = if pos == 0 || pos > size {
        false
    } else {
        frames.read_at(pos - 1, &mut buf[..1])? == 1 && buf[0] == b'\n'
    };
    while pos < size {
        let want = buf.len().min((size - pos) as usize);
        let n = frames.read_at(pos, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        let chunk = buf[..n].to_vec();
        for (i, &b) in chunk.iter().enumerate() {
            let at = pos + i as u64;
            let candidate = b == b'*' && after_newline;
            after_newline = b == b'\n';
            if candidate && frames.may_be_command(at)? && frames.parses(at)? {
                return Ok(Some(at));
            }
        }
        pos += n as u64;
    }
    Ok(None)
}

/// Framing checks over a seekable file, with the argument chains remembered.
struct Frames<'a, R: Read + Seek> {
    src: &'a mut R,
    size: u64,
    limits: crate::Limits,
    /// For an argument header at an offset: how many well-framed arguments follow from there
    /// (it included), capped at `limits.max_args`.
    chain: std::collections::HashMap<u64, u64>,
}

impl<R: Read + Seek> Frames<'_, R> {
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.src.seek(SeekFrom::Start(at))?;
        read_full(self.src, buf)
    }

    /// `<prefix><digits>\r\n` at `at`, as the reader takes it: the number and the offset after.
    fn header(&mut self, at: u64, prefix: u8) -> io::Result<Option<(u64, u64)>> {
        let mut line = [0u8; 24];
        let n = self.read_at(at, &mut line)?;
        let line = &line[..n];
        if line.first() != Some(&prefix) {
            return Ok(None);
        }
        let Some(cr) = line.iter().position(|&b| b == b'\r') else {
            return Ok(None);
        };
        if line.get(cr + 1) != Some(&b'\n') {
            return Ok(None);
        }
        Ok(crate::parse_decimal(&line[1..cr]).map(|v| (v, at + cr as u64 + 2)))
    }

    /// The argument at `at`: its body fits in the file and ends with CRLF; the offset after it.
    fn argument(&mut self, at: u64) -> io::Result<Option<u64>> {
        let Some((len, body)) = self.header(at, b'$')? else {
            return Ok(None);
        };
        if len > self.limits.max_bulk_len || body + len + 2 > self.size {
            return Ok(None);
        }
        let mut crlf = [0u8; 2];
        if self.read_at(body + len, &mut crlf)? != 2 || crlf != *b"\r\n" {
            return Ok(None);
        }
        Ok(Some(body + len + 2))
    }

    /// How many well-framed arguments follow from `at` (capped at the argument limit); each
    /// header is walked once over all the calls.
    fn chain(&mut self, at: u64) -> io::Result<u64> {
        let cap = self.limits.max_args;
        let mut walked = Vec::new();
        let mut pos = at;
        let mut tail = loop {
            if let Some(&n) = self.chain.get(&pos) {
                break n;
            }
            if walked.len() as u64 >= cap {
                break 0;
            }
            match self.argument(pos)? {
                Some(next) => {
                    walked.push(pos);
                    pos = next;
                }
                None => {
                    self.chain.insert(pos, 0);
                    break 0;
                }
            }
        };
        for p in walked.into_iter().rev() {
            tail = (tail + 1).min(cap);
            self.chain.insert(p, tail);
        }
        Ok(self.chain.get(&at).copied().unwrap_or(0))
    }

    /// A necessary condition for a command at `at`: a valid argument count, that many
    /// well-framed arguments, and not an EXEC (which the reader refuses outside a MULTI).
    fn may_be_command(&mut self, at: u64) -> io::Result<bool> {
        let Some((argc, first)) = self.header(at, b'*')? else {
            return Ok(false);
        };
        if argc == 0 || argc > self.limits.max_args || self.chain(first)? < argc {
            return Ok(false);
        }
        let Some((len, body)) = self.header(first, b'$')? else {
            return Ok(false);
        };
        if len == 4 {
            let mut name = [0u8; 4];
            self.read_at(body, &mut name)?;
            if name.eq_ignore_ascii_case(b"exec") {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the reader takes a command at `at` (the final word on a candidate).
    fn parses(&mut self, at: u64) -> io::Result<bool> {
        self.src.seek(SeekFrom::Start(at))?;
        let mut r = AofReader::new(BufReader::new(Read::take(&mut *self.src, self.size - at)));
        Ok(matches!(r.next_item(), Ok(Some(Item::Command(_)))))
    }
}

/// [`next_command_after`] the naive way: a full parse at every candidate. Quadratic on hostile
/// files; kept as the oracle the fast version is tested against.
#[cfg(test)]
fn next_command_after_naive<R: Read + Seek>(
    src: &mut R,
    size: u64,
    from: u64,
) -> io::Result<Option<u64>> {
    let mut data = Vec::new();
    src.seek(SeekFrom::Start(0))?;
    Read::take(&mut *src, size).read_to_end(&mut data)?;
    let mut at = from + 1;
    while at < size {
        if data[at as usize] == b'*' && data[at as usize - 1] == b'\n' {
            let mut r = AofReader::new(&data[at as usize..]);
            if let Ok(Some(Item::Command(_))) = r.next_item() {
                return Ok(Some(at));
            }
        }
        at += 1;
    }
    Ok(None)
}

fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// What lies in a range of a log: complete commands and the `#TS` times.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RangeSummary {
    /// Complete commands.
    pub commands: u64,
    /// The first and last `#TS` time, if any.
    pub timestamps: Option<(u64, u64)>,
}

/// What lies in `[from, size)` (the part a cut at `from` removes): complete commands and the
/// `#TS` range, up to the first damaged record.
pub fn describe_range<R: Read + Seek>(
    src: &mut R,
    size: u64,
    from: u64,
) -> io::Result<RangeSummary> {
    src.seek(SeekFrom::Start(from))?;
    let mut r = AofReader::new(BufReader::new(Read::take(src, size.saturating_sub(from))));
    r.keep_args(1);
    let mut s = RangeSummary::default();
    while let Ok(Some(item)) = r.next_item() {
        match item {
            Item::Command(_) => s.commands += 1,
            Item::Timestamp { unix_secs, .. } => {
                s.timestamps = Some(
                    s.timestamps
                        .map_or((unix_secs, unix_secs), |(a, _)| (a, unix_secs)),
                )
            }
            _ => {}
        }
    }
    Ok(s)
}

/// The command at `offset`: its first `max_args` arguments, each at most `max_len` bytes, and
/// its argument count; `None` when no complete command starts there.
pub fn command_at<R: Read + Seek>(
    src: &mut R,
    size: u64,
    offset: u64,
    max_args: usize,
    max_len: usize,
) -> io::Result<Option<(Vec<Vec<u8>>, usize)>> {
    src.seek(SeekFrom::Start(offset))?;
    let mut r = AofReader::new(BufReader::new(Read::take(src, size.saturating_sub(offset))));
    Ok(match r.next_item() {
        Ok(Some(Item::Command(c))) => Some((
            c.args()
                .take(max_args)
                .map(|a| a[..a.len().min(max_len)].to_vec())
                .collect(),
            c.argc(),
        )),
        _ => None,
    })
}

/// A cut at `cut` (a `#TS` line) moved back to the `MULTI` of a transaction it falls inside,
/// if any. Reads the file from its start.
pub fn outside_multi<R: Read>(src: R, cut: u64) -> Result<u64, Error> {
    let mut r = AofReader::new(BufReader::new(src));
    loop {
        if r.offset() >= cut {
            return Ok(r.open_multi().unwrap_or(cut));
        }
        if r.next_item()?.is_none() {
            return Ok(cut);
        }
    }
}

/// A damaged range that a salvage leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// First byte left out.
    pub start: u64,
    /// First byte kept again (the next valid command), or the file's size.
    pub end: u64,
    /// Why.
    pub reason: String,
}

/// What a salvage of one RESP file keeps and leaves out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Salvage {
    /// Byte ranges kept, in order.
    pub kept: Vec<(u64, u64)>,
    /// Ranges left out.
    pub skipped: Vec<Skipped>,
}

/// Why a file cannot be salvaged by skipping.
#[derive(Debug)]
pub enum SalvageError {
    /// Its RDB part is damaged: skipping cannot repair it.
    Rdb(String),
    /// A read failed.
    Io(io::Error),
}

impl std::fmt::Display for SalvageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SalvageError::Rdb(why) => {
                write!(
                    f,
                    "the RDB part is damaged ({why}); it cannot be salvaged by skipping"
                )
            }
            SalvageError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SalvageError {}

impl From<io::Error> for SalvageError {
    fn from(e: io::Error) -> Self {
        SalvageError::Io(e)
    }
}

/// The byte ranges of a file worth keeping: everything but each damaged record up to the next
/// command that parses, and a transaction left open at the end.
pub fn salvage_ranges<R: Read + Seek>(src: &mut R, size: u64) -> Result<Salvage, SalvageError> {
    let mut out = Salvage::default();
    let mut start = 0u64;
    while start < size {
        src.seek(SeekFrom::Start(start))?;
        let mut r = AofReader::new(BufReader::new(Read::take(&mut *src, size - start)));
        let err = loop {
            match r.next_item() {
                Ok(Some(Item::Preamble)) if start > 0 => {
                    break Some((0, "RDB magic in the middle of the file".to_string(), false))
                }
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(e) => {
                    if e.is_io() {
                        return Err(SalvageError::Io(io::Error::other(e.to_string())));
                    }
                    // The reader counts from `start`: give the reason with the file's offset.
                    let msg = e.to_string();
                    let reason = msg.split_once(": ").map_or(msg.as_str(), |x| x.1);
                    let rdb = matches!(e.kind(), crate::ErrorKind::Rdb(_));
                    break Some((
                        e.offset(),
                        format!("at offset {}: {reason}", start + e.offset()),
                        rdb,
                    ));
                }
            }
        };
        match err {
            None => {
                // A transaction left open at the end is dropped whole.
                let end = start + r.last_good_offset();
                out.kept.push((start, end));
                if end < size {
                    out.skipped.push(Skipped {
                        start: end,
                        end: size,
                        reason: "unfinished MULTI at the end of the file".into(),
                    });
                }
                break;
            }
            Some((at, why, rdb)) => {
                if rdb || r.rdb().is_some() {
                    return Err(SalvageError::Rdb(why));
                }
                let bad_start = start + r.last_good_offset();
                out.kept.push((start, bad_start));
                drop(r);
                let resume = next_command_after(src, size, start + at)?;
                let bad_end = resume.unwrap_or(size);
                out.skipped.push(Skipped {
                    start: bad_start,
                    end: bad_end,
                    reason: why,
                });
                match resume {
                    Some(next) => start = next,
                    None => break,
                }
            }
        }
    }
    out.kept.retain(|(a, b)| b > a);
    Ok(out)
}

/// One restore point: a `#TS` annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorePoint {
    /// Its time, in unix seconds.
    pub unix_secs: u64,
    /// The offset of its `#TS` line in its file.
    pub offset: u64,
    /// Commands since the previous point (or the start of the file).
    pub commands_before: u64,
}

/// What [`restore_points`] found in one file.
#[derive(Debug, Default)]
pub struct PointScan {
    /// Complete commands after the last point (before the damage, if any).
    pub commands_after: u64,
    /// The damage that stopped the scan, if any: the points before it were all reported.
    pub damage: Option<Error>,
    /// The end of the last complete record before the damage (the file's length when whole).
    pub last_good_offset: u64,
}

/// Calls `point` for every restore point of one file, in order, up to the first damaged
/// record (reported in the result, not as an error: the points before it are good).
pub fn restore_points<R: Read>(src: R, mut point: impl FnMut(RestorePoint)) -> PointScan {
    let mut r = AofReader::new(BufReader::with_capacity(1 << 17, src));
    r.keep_args(1);
    let mut since = 0u64;
    let mut scan = PointScan::default();
    loop {
        match r.next_item() {
            Ok(Some(Item::Timestamp {
                unix_secs, offset, ..
            })) => {
                point(RestorePoint {
                    unix_secs,
                    offset,
                    commands_before: since,
                });
                since = 0;
            }
            Ok(Some(Item::Command(_))) => since += 1,
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                scan.damage = Some(e);
                break;
            }
        }
    }
    scan.commands_after = since;
    scan.last_good_offset = r.last_good_offset();
    scan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        v
    }

    #[test]
    fn resync_finds_the_next_whole_command() {
        let mut log = cmd(&["SET", "a", "1"]);
        let bad = log.len() as u64;
        log.extend_from_slice(b"*3\r\n$3\r\nSET\r\n!oops\r\n");
        let next = log.len() as u64;
        log.extend_from_slice(&cmd(&["SET", "b", "2"]));
        let size = log.len() as u64;
        let mut c = Cursor::new(log);
        assert_eq!(next_command_after(&mut c, size, bad).unwrap(), Some(next));
        assert_eq!(next_command_after(&mut c, size, next).unwrap(), None);
        let s = salvage_ranges(&mut c, size).unwrap();
        assert_eq!(s.kept, vec![(0, bad), (next, size)]);
        assert_eq!(s.skipped.len(), 1);
        assert_eq!((s.skipped[0].start, s.skipped[0].end), (bad, next));
    }

    #[test]
    fn points_before_damage_are_kept() {
        let mut log = b"#TS:100\r\n".to_vec();
        log.extend_from_slice(&cmd(&["SET", "a", "1"]));
        let second = log.len() as u64;
        log.extend_from_slice(b"#TS:101\r\n");
        log.extend_from_slice(&cmd(&["SET", "a", "2"]));
        log.extend_from_slice(&cmd(&["SET", "a", "3"]));
        let torn = log.len() as u64;
        log.extend_from_slice(b"*3\r\n$3\r\nSE");
        let mut pts = Vec::new();
        let scan = restore_points(Cursor::new(log), |p| pts.push(p));
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[1].offset, second);
        assert_eq!(pts[1].commands_before, 1);
        assert_eq!(scan.commands_after, 2);
        assert!(scan.damage.as_ref().unwrap().is_truncation());
        assert_eq!(scan.last_good_offset, torn);
    }

    #[test]
    fn cut_moves_out_of_a_transaction() {
        let mut log = cmd(&["SET", "a", "1"]);
        let multi = log.len() as u64;
        log.extend_from_slice(&cmd(&["MULTI"]));
        log.extend_from_slice(&cmd(&["SET", "a", "2"]));
        let ts = log.len() as u64;
        log.extend_from_slice(b"#TS:5\r\n");
        log.extend_from_slice(&cmd(&["EXEC"]));
        assert_eq!(outside_multi(Cursor::new(&log), ts).unwrap(), multi);
        assert_eq!(outside_multi(Cursor::new(&log), multi).unwrap(), multi);
        let s = describe_range(&mut Cursor::new(&log), log.len() as u64, multi).unwrap();
        assert_eq!(s.commands, 3);
        assert_eq!(s.timestamps, Some((5, 5)));
        let (args, argc) = command_at(&mut Cursor::new(&log), log.len() as u64, 0, 2, 40)
            .unwrap()
            .unwrap();
        assert_eq!((args, argc), (vec![b"SET".to_vec(), b"a".to_vec()], 3));
    }

    proptest::proptest! {
        /// The scans on arbitrary bytes (mostly RESP-like): no panic, offsets in the file,
        /// salvage ranges ordered and disjoint, a cut moved only backwards.
        #[test]
        fn scans_hold_on_any_bytes(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b"*3\r\n".to_vec()),
                proptest::strategy::Just(b"$3\r\nSET\r\n".to_vec()),
                proptest::strategy::Just(b"$1\r\nk\r\n".to_vec()),
                proptest::strategy::Just(b"*1\r\n$5\r\nMULTI\r\n".to_vec()),
                proptest::strategy::Just(b"*1\r\n$4\r\nEXEC\r\n".to_vec()),
                proptest::strategy::Just(b"#TS:7\r\n".to_vec()),
                proptest::strategy::Just(b"$999999999\r\n".to_vec()),
                proptest::collection::vec(proptest::num::u8::ANY, 0..6),
            ],
            0..40,
        )) {
            let data: Vec<u8> = parts.concat();
            let size = data.len() as u64;
            let mut c = Cursor::new(&data);
            for from in [0, size / 3, size / 2] {
                let fast = next_command_after(&mut c, size, from).unwrap();
                let naive = next_command_after_naive(&mut c, size, from).unwrap();
                proptest::prop_assert_eq!(fast, naive, "from {}", from);
                if let Some(at) = fast {
                    proptest::prop_assert!(at > from && at < size);
                }
                describe_range(&mut c, size, from).unwrap();
            }
            if let Ok(s) = salvage_ranges(&mut c, size) {
                let mut last = 0;
                for (a, b) in s.kept {
                    proptest::prop_assert!(a >= last && a < b && b <= size);
                    last = b;
                }
            }
            let mut pts = Vec::new();
            let scan = restore_points(&data[..], |p| pts.push(p));
            proptest::prop_assert!(scan.last_good_offset <= size);
            for p in &pts {
                proptest::prop_assert!(p.offset < size);
                if let Ok(cut) = outside_multi(&data[..], p.offset) {
                    proptest::prop_assert!(cut <= p.offset);
                }
            }
        }
    }
}
