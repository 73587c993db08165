//! Writing a keyspace as an RDB file, in the encodings the target server writes: a sink of
//! [`Keyspace::emit`] that hands each key to `rdb-write`.

use crate::Keyspace;
use rdb_parse::{KeyEnd, KeyInfo, Sink, Str, StreamId, StreamMeta, ValueType};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::io::{self, Write};
use std::sync::mpsc;

/// The events of a keyspace, written through an [`RdbWriter`] (which wrote the header and
/// writes the end itself).
struct Writing<'a, W: Write> {
    w: &'a mut RdbWriter<W>,
    kw: KeyWriter,
    target: Target,
    scratch: [u8; 20],
}

impl<'a, W: Write> Writing<'a, W> {
    fn new(w: &'a mut RdbWriter<W>, target: Target) -> Self {
        Writing {
            w,
            kw: KeyWriter::new(target),
            target,
            scratch: [0; 20],
        }
    }
}

impl<W: Write> Sink for Writing<'_, W> {
    type Error = io::Error;

    fn function(&mut self, code: Str<'_>) -> io::Result<()> {
        // A target before functions leaves them out, as the server of that version would.
        if self.target.functions() {
            self.w.function(code.as_bytes(&mut self.scratch))?;
        }
        Ok(())
    }
    fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.w.select_db(db)
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.w.resize_db(keys, expires)
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> io::Result<()> {
        let kind = match info.value_type {
            ValueType::String => Kind::String,
            ValueType::List => Kind::List,
            ValueType::Set => Kind::Set,
            ValueType::Zset => Kind::ZSet,
            ValueType::Hash if info.encoding == rdb_parse::Encoding::HashtableEx => Kind::HashTtl,
            ValueType::Hash => Kind::Hash,
            _ => Kind::Stream,
        };
        let meta = KeyMeta {
            expire_ms: info.expire_ms,
            ..KeyMeta::default()
        };
        // Strings announce no length: the writer takes the one value that follows.
        let len = if kind == Kind::String { None } else { info.len };
        self.kw
            .begin(kind, info.key.as_bytes(&mut self.scratch), meta, len);
        Ok(())
    }
    fn element(&mut self, v: Str<'_>) -> io::Result<()> {
        self.kw.element(self.w, v.as_bytes(&mut self.scratch))
    }
    fn zmember(&mut self, m: Str<'_>, score: f64) -> io::Result<()> {
        self.kw
            .zmember(self.w, m.as_bytes(&mut self.scratch), score)
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, expire_ms: Option<i64>) -> io::Result<()> {
        let mut vs = [0u8; 20];
        self.kw.hash_field(
            self.w,
            f.as_bytes(&mut self.scratch),
            v.as_bytes(&mut vs),
            expire_ms,
        )
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        self.kw.stream_entry(id, fields)
    }
    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> io::Result<()> {
        let mut vs = [0u8; 20];
        self.kw
            .stream_field(name.as_bytes(&mut self.scratch), value.as_bytes(&mut vs))
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()> {
        self.kw.stream_meta(self.w, meta)
    }
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        self.kw.stream_group(
            self.w,
            name.as_bytes(&mut self.scratch),
            last_id,
            entries_read,
            pending,
        )
    }
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()> {
        self.kw.stream_pending(self.w, id, delivery_ms, count)
    }
    fn stream_consumers(&mut self, count: u64) -> io::Result<()> {
        self.kw.stream_consumers(self.w, count)
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        self.kw.stream_consumer(
            self.w,
            name.as_bytes(&mut self.scratch),
            seen_ms,
            active_ms,
            pending,
        )
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        self.kw.stream_consumer_pending(self.w, id)
    }
    fn key_end(&mut self, _: &KeyEnd) -> io::Result<()> {
        self.kw.end(self.w)
    }
}

impl Keyspace {
    /// Writes every function library and key (databases in order) to `w`, for `target`. Keys
    /// with hash field TTLs need a target that stores them (RDB 12, 80).
    pub fn write_rdb<W: Write>(&self, w: &mut RdbWriter<W>, target: Target) -> io::Result<()> {
        self.emit(target.version, &mut Writing::new(w, target))
    }

    /// [`Keyspace::write_rdb`] on `threads` threads: each encodes (and compresses) its share
    /// of the keys, chunk by chunk, and the calling thread puts the chunks in order into `w`.
    /// The file is the same, byte for byte. Memory: a few pieces of 1 MiB per thread. When the
    /// system refuses a thread, the file is written on the calling one.
    pub fn write_rdb_threads<W: Write>(
        &self,
        w: &mut RdbWriter<W>,
        target: Target,
        threads: usize,
    ) -> io::Result<()> {
        if threads < 2 || self.len() < 4 * CHUNK_KEYS {
            return self.write_rdb(w, target);
        }
        self.write_parts(w, target, threads, CHUNK_KEYS, PIECE_BYTES)
    }

    fn write_parts<W: Write>(
        &self,
        w: &mut RdbWriter<W>,
        target: Target,
        parts: usize,
        chunk: usize,
        piece: usize,
    ) -> io::Result<()> {
        let threaded = std::thread::scope(|scope| {
            let mut pieces = Vec::new();
            let mut workers = Vec::new();
            for part in 0..parts {
                let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, bool)>(QUEUED_PIECES);
                let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
                pieces.push((rx, back_tx));
                let worker = std::thread::Builder::new()
                    .name("rdb-encode".into())
                    .spawn_scoped(scope, move || {
                        let out = Pieces {
                            buf: Vec::with_capacity(piece),
                            limit: piece,
                            tx,
                            spare: back_rx,
                        };
                        self.write_part(out, target, part, parts, chunk)
                    });
                match worker {
                    Ok(worker) => workers.push(worker),
                    // Not every thread could be started: those that were stop at their first
                    // piece (nothing was written yet), and the file is written on this thread.
                    Err(_) => {
                        drop(pieces);
                        for worker in workers {
                            let _ = worker.join();
                        }
                        return None;
                    }
                }
            }
            let merged = self.merge_parts(w, target, pieces, chunk);
            // The receivers are gone: a worker still writing stops at its next piece.
            let mut first_err = None;
            for worker in workers {
                let r = worker
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                if let Err(e) = r {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        first_err.get_or_insert(e);
                    }
                }
            }
            // A worker's own error explains why the merge stopped; report it first.
            Some(match (first_err, merged) {
                (Some(e), _) => Err(e),
                (None, r) => r,
            })
        });
        threaded.unwrap_or_else(|| self.write_rdb(w, target))
    }

    /// The writing thread's side: the frame of the file (functions, each database's number and
    /// sizes) and, in order, the chunks the workers send, chunk `c` of a database from worker
    /// `c % parts`.
    fn merge_parts<W: Write>(
        &self,
        w: &mut RdbWriter<W>,
        target: Target,
        pieces: Vec<WorkerLink>,
        chunk: usize,
    ) -> io::Result<()> {
        let mut sink = Writing::new(w, target);
        for code in self.functions.values() {
            sink.function(Str::Bytes(code))?;
        }
        let stopped = || io::Error::new(io::ErrorKind::BrokenPipe, "an encoding thread stopped");
        for (db, keys) in &self.dbs {
            if keys.is_empty() {
                continue;
            }
            crate::emit::db_start(*db, keys, &mut sink)?;
            for c in 0..keys.len().div_ceil(chunk) {
                let (rx, back) = &pieces[c % pieces.len()];
                loop {
                    let (buf, last) = rx.recv().map_err(|_| stopped())?;
                    sink.w.raw(&buf)?;
                    let _ = back.send(buf);
                    if last {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// A worker's side: the keys of part `part`, encoded chunk by chunk into `out`.
    fn write_part(
        &self,
        out: Pieces,
        target: Target,
        part: usize,
        parts: usize,
        chunk: usize,
    ) -> io::Result<()> {
        let mut w = RdbWriter::fragment(out, target.version, true);
        let mut sink = Writing::new(&mut w, target);
        let end_chunk = |w: &mut RdbWriter<Pieces>| -> io::Result<()> {
            w.flush_records()?;
            w.get_mut().send(true)
        };
        for (db, keys) in &self.dbs {
            let mut current = None;
            for (c, key, found) in keys.iter_part(part, parts, chunk) {
                if current.is_some_and(|n| n != c) {
                    end_chunk(sink.w)?;
                }
                current = Some(c);
                crate::emit::emit_key(*db, key, &found, &mut sink)?;
            }
            if current.is_some() {
                end_chunk(sink.w)?;
            }
        }
        Ok(())
    }
}

/// Keys per chunk of [`Keyspace::write_rdb_threads`]: the unit the threads take turns on.
const CHUNK_KEYS: usize = 1024;
/// Bytes a worker sends at most at once (a larger key goes in several pieces).
const PIECE_BYTES: usize = 1 << 20;
/// Pieces queued per worker.
const QUEUED_PIECES: usize = 4;

/// The writing thread's ends of a worker's channels: the pieces it sends (with whether each
/// ends a chunk), and the way back for their buffers.
type WorkerLink = (mpsc::Receiver<(Vec<u8>, bool)>, mpsc::Sender<Vec<u8>>);

/// A worker's output: pieces of at most `limit` bytes sent to the writing thread, which sends
/// the buffers back to be filled again.
struct Pieces {
    buf: Vec<u8>,
    limit: usize,
    tx: mpsc::SyncSender<(Vec<u8>, bool)>,
    spare: mpsc::Receiver<Vec<u8>>,
}

impl Pieces {
    /// Sends what is buffered; `last` ends a chunk.
    fn send(&mut self, last: bool) -> io::Result<()> {
        let mut next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.limit));
        next.clear();
        let full = std::mem::replace(&mut self.buf, next);
        self.tx
            .send((full, last))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the writing thread stopped"))
    }
}

impl Write for Pieces {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = b.len().min(self.limit - self.buf.len());
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() == self.limit {
            self.send(false)?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(ks: &mut Keyspace, words: &[&str]) {
        crate::apply_all(ks, &[words]);
    }

    /// Keys of every kind in three databases, inline and not, small and large, some with
    /// expiries, and a value much larger than a piece.
    fn dataset() -> Keyspace {
        let mut ks = Keyspace::new();
        ks.functions
            .insert(b"lib".to_vec(), b"#!lua name=lib\nreturn 1".to_vec());
        for db in ["0", "2", "5"] {
            apply(&mut ks, &["SELECT", db]);
            for i in 0..300 {
                let k = format!("s:{db}:{i}");
                apply(&mut ks, &["SET", &k, &"v".repeat(i % 40 + 1)]);
                if i % 3 == 0 {
                    apply(&mut ks, &["PEXPIREAT", &k, "4000000000000"]);
                }
                let h = format!("h:{db}:{i}");
                apply(&mut ks, &["HSET", &h, "f", &i.to_string(), "g", "text"]);
                if i % 50 == 0 {
                    for j in 0..200 {
                        let (f, v) = (format!("f{j}"), format!("value {j}"));
                        apply(&mut ks, &["HSET", &h, &f, &v]);
                    }
                }
                if i % 7 == 0 {
                    let z = format!("z:{db}:{i}");
                    apply(
                        &mut ks,
                        &["ZADD", &z, "1.5", "a", "-2", "b", &i.to_string(), "c"],
                    );
                    let l = format!("l:{db}:{i}");
                    apply(&mut ks, &["RPUSH", &l, "x", "y", &i.to_string()]);
                    let st = format!("set:{db}:{i}");
                    apply(&mut ks, &["SADD", &st, "1", "2", &i.to_string()]);
                    apply(&mut ks, &["APPEND", &k, "-grown"]);
                }
            }
            let big = "0123456789abcdefghij".repeat(5000);
            apply(&mut ks, &["SET", &format!("big:{db}"), &big]);
            apply(&mut ks, &["XADD", &format!("stream:{db}"), "1-1", "f", "v"]);
        }
        ks
    }

    fn written(version: u32, write: impl FnOnce(&mut RdbWriter<Vec<u8>>)) -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), version, true).unwrap();
        write(&mut w);
        w.finish().unwrap()
    }

    #[test]
    fn threads_write_the_same_file_as_one() {
        let ks = dataset();
        for version in [9, 10, 11] {
            let target = Target { version };
            let one = written(version, |w| ks.write_rdb(w, target).unwrap());
            // Small chunks and pieces: many turns, keys cut across pieces.
            for (parts, chunk, piece) in [(2, 7, 100), (3, 64, 4096), (2, 1, 1 << 20)] {
                let many = written(version, |w| {
                    ks.write_parts(w, target, parts, chunk, piece).unwrap()
                });
                assert!(
                    one == many,
                    "RDB {version}, {parts} threads, chunks of {chunk}: the files differ"
                );
            }
        }
    }

    #[test]
    fn an_error_of_a_thread_is_reported() {
        let mut ks = dataset();
        apply(&mut ks, &["SELECT", "5"]);
        apply(&mut ks, &["HSET", "ttl", "f", "1"]);
        apply(
            &mut ks,
            &["HPEXPIREAT", "ttl", "4000000000000", "FIELDS", "1", "f"],
        );
        // RDB 10 cannot hold field TTLs: the thread with that key fails, the others stop.
        let mut w = RdbWriter::new(Vec::new(), 10, true).unwrap();
        let e = ks
            .write_parts(&mut w, Target { version: 10 }, 2, 5, 64)
            .unwrap_err();
        assert!(e.to_string().contains("field TTLs"), "{e}");
    }
}
