//! Keys written as an RDB file of the target's version.

use crate::keys::KeySink;
use rdb_parse::{StreamId, StreamMeta};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// An RDB file as the sink.
pub struct RdbSink<W: Write> {
    out: Option<W>,
    w: Option<RdbWriter<W>>,
    kw: Option<KeyWriter>,
    aof_base: bool,
    ctime: u64,
    spool_dir: Option<std::path::PathBuf>,
    window: Window,
    source_aux: bool,
}

/// Bytes of a source read ahead, for the records and stream nodes copied as stored: they
/// follow each other in the file.
struct Window {
    buf: Vec<u8>,
    start: u64,
    /// The file the window holds bytes of (several sources are copied from in a merge).
    fd: i32,
}

impl Window {
    /// Writes `len` bytes of `src` at `start` to `w`, as they are.
    fn copy<W: Write>(
        &mut self,
        src: &File,
        start: u64,
        len: u64,
        w: &mut RdbWriter<W>,
    ) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        if src.as_raw_fd() != self.fd {
            self.buf.clear();
            self.fd = src.as_raw_fd();
        }
        let mut at = start;
        let end = start + len;
        while at < end {
            let win_end = self.start + self.buf.len() as u64;
            if at < self.start || at >= win_end {
                self.buf.resize(WINDOW, 0);
                let n = read_at_most(src, &mut self.buf, at)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the input changed while it was read",
                    ));
                }
                self.buf.truncate(n);
                self.start = at;
                continue;
            }
            let from = (at - self.start) as usize;
            let n = ((end - at) as usize).min(self.buf.len() - from);
            w.raw(&self.buf[from..from + n])?;
            at += n as u64;
        }
        Ok(())
    }
}

impl<W: Write> RdbSink<W> {
    /// A sink writing to `out`; `aof_base` sets the `aof-base` AUX field (a multi-part AOF
    /// base), `ctime` the creation time written (unix seconds). Held nodes beyond memory go to
    /// `spool_dir` (default: the temporary directory).
    pub fn new(out: W, aof_base: bool, ctime: u64, spool_dir: Option<std::path::PathBuf>) -> Self {
        RdbSink {
            out: Some(out),
            w: None,
            kw: None,
            aof_base,
            ctime,
            spool_dir,
            window: Window {
                buf: Vec::new(),
                start: 0,
                fd: -1,
            },
            source_aux: false,
        }
    }

    /// Writes the source's AUX fields (see [`KeySink::aux`]) in place of its own.
    pub fn with_source_aux(mut self) -> Self {
        self.source_aux = true;
        self
    }

    fn parts(&mut self) -> (&mut RdbWriter<W>, &mut KeyWriter) {
        (
            self.w.as_mut().expect("started"),
            self.kw.as_mut().expect("started"),
        )
    }

    /// Writes EOF and the checksum; returns the output and the bytes that went through
    /// temporary files.
    pub fn finish(self) -> io::Result<(W, u64)> {
        let spilled = self.kw.as_ref().map_or(0, KeyWriter::spilled);
        let w = self.w.expect("started");
        Ok((w.finish()?, spilled))
    }
}

/// Bytes of the input read at once for copying records.
const WINDOW: usize = 1 << 20;

/// Reads up to `buf.len()` bytes at `at`; fewer only at the end of the file.
fn read_at_most(src: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The `redis-ver` AUX field a server of that RDB version writes.
pub fn redis_ver(version: u32) -> &'static str {
    match version {
        7 => "3.2.0",
        8 => "4.0.0",
        9 => "6.2.14",
        10 => "7.0.15",
        11 => "7.2.6",
        12 => "7.4.1",
        _ => "255.255.255",
    }
}

/// Writes the AUX fields redkit puts at the head of every RDB it makes: the server version
/// that reads `version`, 64 bits, the creation time `ctime` (unix seconds; a fixed one makes
/// two runs write the same bytes), and whether it is an AOF base.
pub fn write_aux<W: Write>(
    w: &mut RdbWriter<W>,
    version: u32,
    aof_base: bool,
    ctime: u64,
) -> io::Result<()> {
    w.aux(b"redis-ver", redis_ver(version).as_bytes())?;
    if version >= 80 {
        w.aux(b"valkey-ver", b"9.0.0")?;
    }
    w.aux(b"redis-bits", b"64")?;
    w.aux(b"ctime", ctime.to_string().as_bytes())?;
    w.aux(b"used-mem", b"0")?;
    w.aux(b"aof-base", if aof_base { b"1" } else { b"0" })
}

impl<W: Write> KeySink for RdbSink<W> {
    fn start(&mut self, target: Target) -> io::Result<()> {
        let mut w = RdbWriter::new(self.out.take().expect("once"), target.version, true)?;
        if !self.source_aux {
            write_aux(&mut w, target.version, self.aof_base, self.ctime)?;
        }
        let mut kw = KeyWriter::new(target);
        kw.spool(self.spool_dir.clone(), 32 << 20);
        self.w = Some(w);
        self.kw = Some(kw);
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.parts().0.function(code)
    }
    fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if self.source_aux {
            self.parts().0.aux(key, value)?;
        }
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.parts().0.select_db(db)
    }
    fn slot_info(&mut self, slot: u64, keys: u64, expires: u64) -> io::Result<()> {
        self.parts().0.slot_info(slot, keys, expires)
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.parts().0.resize_db(keys, expires)
    }
    fn begin(&mut self, kind: Kind, key: &[u8], meta: KeyMeta, len: Option<u64>) -> io::Result<()> {
        self.parts().1.begin(kind, key, meta, len);
        Ok(())
    }
    fn element(&mut self, v: &[u8]) -> io::Result<()> {
        let (w, k) = self.parts();
        k.element(w, v)
    }
    fn string_part(&mut self, part: &[u8], total: u64, first: bool, last: bool) -> io::Result<()> {
        let (w, k) = self.parts();
        k.string_part(w, part, total, first, last)
    }
    fn zmember(&mut self, m: &[u8], score: f64) -> io::Result<()> {
        let (w, k) = self.parts();
        k.zmember(w, m, score)
    }
    fn hash_field(&mut self, f: &[u8], v: &[u8], expire_ms: Option<i64>) -> io::Result<()> {
        let (w, k) = self.parts();
        k.hash_field(w, f, v, expire_ms)
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        self.parts().1.stream_entry(id, fields)
    }
    fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.parts().1.stream_field(name, value)
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_meta(w, meta)
    }
    fn stream_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_group(w, name, last_id, entries_read, pending)
    }
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_pending(w, id, delivery_ms, count)
    }
    fn stream_consumers(&mut self, n: u64) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_consumers(w, n)
    }
    fn stream_consumer(
        &mut self,
        name: &[u8],
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_consumer(w, name, seen_ms, active_ms, pending)
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        let (w, k) = self.parts();
        k.stream_consumer_pending(w, id)
    }
    fn end(&mut self) -> io::Result<()> {
        let (w, k) = self.parts();
        k.end(w)
    }
    fn raw_record(&mut self, src: &File, start: u64, len: u64) -> io::Result<bool> {
        let w = self.w.as_mut().expect("started");
        self.window.copy(src, start, len, w)?;
        Ok(true)
    }
    fn copies_stored_nodes(&self) -> bool {
        true
    }
    fn stream_meta_stored(&mut self, src: &File, meta: &StreamMeta) -> io::Result<()> {
        let nodes = meta.stored_nodes.ok_or_else(|| {
            io::Error::other("a stream's nodes copied as stored without their place")
        })?;
        let (w, kw, window) = (
            self.w.as_mut().expect("started"),
            self.kw.as_mut().expect("started"),
            &mut self.window,
        );
        kw.stream_meta_stored(w, meta, |w| window.copy(src, nodes.offset, nodes.len, w))
    }
}
