//! Keys as the commands Redis's own AOF rewrite emits, in RESP: an AOF base, or a stream for
//! `redis-cli --pipe`.

use crate::keys::KeySink;
use aof_parse::write::{bulk, header};
use rdb_parse::{format_i64, StreamId, StreamMeta};
use rdb_write::{KeyMeta, Kind, Target};
use std::collections::HashMap;
use std::io::{self, Write};

/// Elements per RPUSH/SADD/ZADD/HMSET (Redis's `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// Writes keys as commands.
pub struct RespSink<W: Write> {
    out: W,
    /// Commands not yet written to `out`.
    buf: Vec<u8>,
    target: Target,
    kind: Kind,
    key: Vec<u8>,
    meta: KeyMeta,
    /// Arguments held for the current batch command (after the command name and key), already
    /// in RESP, and their number.
    batch: Vec<u8>,
    batch_args: usize,
    batch_items: usize,
    /// The stream entry being received: its id argument and fields.
    entry: Vec<Vec<u8>>,
    entry_left: u64,
    group: Vec<u8>,
    consumer: Vec<u8>,
    /// The current group's PEL: delivery time and count by id (XCLAIM needs them).
    pel: HashMap<StreamId, (i64, u64)>,
    /// Commands written.
    pub commands: u64,
    /// Sorted-set scores of -0 written as 0 (ZADD stores -0 as 0).
    pub negative_zeros: u64,
}

fn id_arg(id: StreamId) -> Vec<u8> {
    format!("{}-{}", id.ms, id.seq).into_bytes()
}

fn int_arg(v: i64) -> Vec<u8> {
    format_i64(v, &mut [0u8; 20]).to_vec()
}

/// A score as text that reads back as the same double.
fn score_arg(v: f64) -> Vec<u8> {
    // Integral scores (the common case) without the float formatter.
    if v == v.trunc() && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        return format_i64(v as i64, &mut [0u8; 20]).to_vec();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            b"inf".to_vec()
        } else {
            b"-inf".to_vec()
        };
    }
    let plain = format!("{v}");
    if plain.len() <= 24 {
        plain.into_bytes()
    } else {
        format!("{v:e}").into_bytes()
    }
}

impl<W: Write> RespSink<W> {
    /// A sink writing commands to `out`.
    pub fn new(out: W) -> Self {
        RespSink {
            out,
            buf: Vec::with_capacity(OUT_BUF + (64 << 10)),
            target: Target { version: 12 },
            kind: Kind::String,
            key: Vec::new(),
            meta: KeyMeta::default(),
            batch: Vec::new(),
            batch_args: 0,
            batch_items: 0,
            entry: Vec::new(),
            entry_left: 0,
            group: Vec::new(),
            consumer: Vec::new(),
            pel: HashMap::new(),
            commands: 0,
            negative_zeros: 0,
        }
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes out what is buffered once there is enough of it.
    fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= OUT_BUF {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn cmd(&mut self, args: &[&[u8]]) -> io::Result<()> {
        aof_parse::write::command(&mut self.buf, args);
        self.commands += 1;
        self.spill()
    }

    fn batch_name(&self) -> &'static [u8] {
        match self.kind {
            Kind::List => b"RPUSH",
            Kind::Set => b"SADD",
            Kind::ZSet => b"ZADD",
            _ => b"HMSET",
        }
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.batch_items == 0 {
            return Ok(());
        }
        header(&mut self.buf, b'*', self.batch_args + 2);
        let name = self.batch_name();
        bulk(&mut self.buf, name);
        bulk(&mut self.buf, &self.key);
        self.buf.extend_from_slice(&self.batch);
        self.commands += 1;
        self.spill()?;
        self.batch.clear();
        self.batch_args = 0;
        self.batch_items = 0;
        Ok(())
    }

    fn add(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for p in parts {
            bulk(&mut self.batch, p);
        }
        self.batch_args += parts.len();
        self.batch_items += 1;
        if self.batch_items == ITEMS_PER_CMD {
            self.flush_batch()?;
        }
        Ok(())
    }
}

/// Bytes of commands buffered before they are written out.
const OUT_BUF: usize = 1 << 20;

impl<W: Write> KeySink for RespSink<W> {
    fn start(&mut self, target: Target) -> io::Result<()> {
        self.target = target;
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.cmd(&[b"FUNCTION", b"LOAD", code])
    }
    fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.cmd(&[b"SELECT", db.to_string().as_bytes()])
    }
    fn begin(
        &mut self,
        kind: Kind,
        key: &[u8],
        meta: KeyMeta,
        _len: Option<u64>,
    ) -> io::Result<()> {
        self.kind = kind;
        self.key.clear();
        self.key.extend_from_slice(key);
        self.meta = meta;
        self.batch.clear();
        self.batch_args = 0;
        self.batch_items = 0;
        Ok(())
    }
    fn element(&mut self, v: &[u8]) -> io::Result<()> {
        if self.kind == Kind::String {
            let key = std::mem::take(&mut self.key);
            let r = self.cmd(&[b"SET", &key, v]);
            self.key = key;
            return r;
        }
        self.add(&[v])
    }
    fn string_part(&mut self, part: &[u8], total: u64, first: bool, last: bool) -> io::Result<()> {
        if first {
            // SET key <value>: the value's header first, its bytes as they come.
            aof_parse::write::header(&mut self.buf, b'*', 3);
            aof_parse::write::bulk(&mut self.buf, b"SET");
            aof_parse::write::bulk(&mut self.buf, &self.key);
            aof_parse::write::header(&mut self.buf, b'$', total as usize);
        }
        self.buf.extend_from_slice(part);
        if last {
            self.buf.extend_from_slice(b"\r\n");
            self.commands += 1;
        }
        self.spill()
    }
    fn zmember(&mut self, m: &[u8], score: f64) -> io::Result<()> {
        if score == 0.0 && score.is_sign_negative() {
            self.negative_zeros += 1;
        }
        self.add(&[&score_arg(score), m])
    }
    fn hash_field(&mut self, f: &[u8], v: &[u8], expire_ms: Option<i64>) -> io::Result<()> {
        match expire_ms {
            None => self.add(&[f, v]),
            Some(ms) => {
                // A field with a TTL: its own HMSET, then HPEXPIREAT (as Redis 7.4 rewrites).
                let key = std::mem::take(&mut self.key);
                let r = self.cmd(&[b"HMSET", &key, f, v]).and_then(|_| {
                    self.cmd(&[b"HPEXPIREAT", &key, &int_arg(ms), b"FIELDS", b"1", f])
                });
                self.key = key;
                r
            }
        }
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        self.entry.clear();
        self.entry.push(id_arg(id));
        self.entry_left = fields;
        Ok(())
    }
    fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.entry.push(name.to_vec());
        self.entry.push(value.to_vec());
        self.entry_left = self.entry_left.saturating_sub(1);
        if self.entry_left == 0 {
            let entry = std::mem::take(&mut self.entry);
            let key = std::mem::take(&mut self.key);
            let mut args: Vec<&[u8]> = vec![b"XADD", &key];
            args.extend(entry.iter().map(Vec::as_slice));
            let r = self.cmd(&args);
            drop(args);
            self.key = key;
            self.entry = entry;
            r?;
        }
        Ok(())
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()> {
        let key = std::mem::take(&mut self.key);
        if meta.length == 0 {
            // The empty-stream trick of Redis's rewrite.
            self.cmd(&[b"XADD", &key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])?;
        }
        let last = id_arg(meta.last_id);
        if self.target.version >= 10 {
            let added = meta.entries_added.unwrap_or(meta.length).to_string();
            let maxdel = id_arg(meta.max_deleted_id.unwrap_or_default());
            self.cmd(&[
                b"XSETID",
                &key,
                &last,
                b"ENTRIESADDED",
                added.as_bytes(),
                b"MAXDELETEDID",
                &maxdel,
            ])?;
        } else {
            self.cmd(&[b"XSETID", &key, &last])?;
        }
        self.key = key;
        Ok(())
    }
    fn stream_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        _pending: u64,
    ) -> io::Result<()> {
        self.group.clear();
        self.group.extend_from_slice(name);
        self.pel.clear();
        let key = std::mem::take(&mut self.key);
        let last = id_arg(last_id);
        let r = if self.target.version >= 10 {
            let read = entries_read.map_or(b"-1".to_vec(), |n| n.to_string().into_bytes());
            self.cmd(&[
                b"XGROUP",
                b"CREATE",
                &key,
                name,
                &last,
                b"ENTRIESREAD",
                &read,
            ])
        } else {
            self.cmd(&[b"XGROUP", b"CREATE", &key, name, &last])
        };
        self.key = key;
        r
    }
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()> {
        self.pel.insert(id, (delivery_ms, count));
        Ok(())
    }
    fn stream_consumers(&mut self, _n: u64) -> io::Result<()> {
        Ok(())
    }
    fn stream_consumer(
        &mut self,
        name: &[u8],
        _seen_ms: i64,
        _active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        self.consumer.clear();
        self.consumer.extend_from_slice(name);
        if pending == 0 {
            let (key, group) = (
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.group),
            );
            let r = self.cmd(&[b"XGROUP", b"CREATECONSUMER", &key, &group, name]);
            self.key = key;
            self.group = group;
            r?;
        }
        Ok(())
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        let (time, count) = self.pel.get(&id).copied().unwrap_or((0, 1));
        let key = std::mem::take(&mut self.key);
        let group = std::mem::take(&mut self.group);
        let consumer = std::mem::take(&mut self.consumer);
        let r = self.cmd(&[
            b"XCLAIM",
            &key,
            &group,
            &consumer,
            b"0",
            &id_arg(id),
            b"TIME",
            &int_arg(time),
            b"RETRYCOUNT",
            count.to_string().as_bytes(),
            b"JUSTID",
            b"FORCE",
        ]);
        self.key = key;
        self.group = group;
        self.consumer = consumer;
        r
    }
    fn pel_needs_entries(&self) -> bool {
        true
    }
    fn end(&mut self) -> io::Result<()> {
        self.flush_batch()?;
        self.pel.clear();
        if let Some(ms) = self.meta.expire_ms {
            let key = std::mem::take(&mut self.key);
            let r = self.cmd(&[b"PEXPIREAT", &key, &int_arg(ms)]);
            self.key = key;
            r?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_back_as_the_same_double() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -2.0,
            1e300,
            -1e-300,
            0.1 + 0.2,
            f64::MAX,
            f64::MIN_POSITIVE,
            123_456_789.123_456_78,
        ] {
            let t = String::from_utf8(score_arg(v)).unwrap();
            let back: f64 = t.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v} as {t}");
        }
        assert_eq!(score_arg(f64::INFINITY), b"inf");
        assert_eq!(score_arg(f64::NEG_INFINITY), b"-inf");
    }

    /// The commands of `out` as the AOF reader reads them: what was written must read back.
    fn commands_of(out: &[u8]) -> Vec<Vec<String>> {
        let mut r = aof_parse::AofReader::new(out);
        let mut cmds = Vec::new();
        while let Some(item) = r.next_item().unwrap() {
            if let aof_parse::Item::Command(c) = item {
                cmds.push(
                    c.args()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect(),
                );
            }
        }
        cmds
    }

    #[test]
    fn field_ttls_as_redis_7_4_rewrites_them() {
        let mut s = RespSink::new(Vec::new());
        let meta = KeyMeta {
            expire_ms: Some(4_102_444_800_000),
            ..KeyMeta::default()
        };
        s.begin(Kind::HashTtl, b"h", meta, None).unwrap();
        s.hash_field(b"a", b"1", None).unwrap();
        s.hash_field(b"b", b"2", Some(4_102_444_800_005)).unwrap();
        s.end().unwrap();
        let cmds = commands_of(&s.finish().unwrap());
        let want: Vec<Vec<&str>> = vec![
            vec!["HMSET", "h", "b", "2"],
            vec!["HPEXPIREAT", "h", "4102444800005", "FIELDS", "1", "b"],
            vec!["HMSET", "h", "a", "1"],
            vec!["PEXPIREAT", "h", "4102444800000"],
        ];
        assert_eq!(cmds, want);
    }

    #[test]
    fn empty_stream_and_groups_as_the_server_rewrites_them() {
        let mut s = RespSink::new(Vec::new());
        s.start(Target { version: 10 }).unwrap();
        s.begin(Kind::Stream, b"s", KeyMeta::default(), None)
            .unwrap();
        let id = |ms, seq| StreamId { ms, seq };
        s.stream_meta(&StreamMeta {
            length: 0,
            live_entries: 0,
            last_id: id(5, 1),
            first_id: None,
            max_deleted_id: Some(id(5, 1)),
            entries_added: Some(3),
            groups: 1,
            stored_nodes: None,
        })
        .unwrap();
        s.stream_group(b"g", id(5, 0), None, 0).unwrap();
        s.stream_consumers(1).unwrap();
        s.stream_consumer(b"c", 0, None, 0).unwrap();
        s.end().unwrap();
        let cmds = commands_of(&s.finish().unwrap());
        let want: Vec<Vec<&str>> = vec![
            vec!["XADD", "s", "MAXLEN", "0", "0-1", "x", "y"],
            vec![
                "XSETID",
                "s",
                "5-1",
                "ENTRIESADDED",
                "3",
                "MAXDELETEDID",
                "5-1",
            ],
            vec!["XGROUP", "CREATE", "s", "g", "5-0", "ENTRIESREAD", "-1"],
            vec!["XGROUP", "CREATECONSUMER", "s", "g", "c"],
        ];
        assert_eq!(cmds, want);
    }

    #[test]
    fn batches_of_64() {
        let mut s = RespSink::new(Vec::new());
        s.begin(Kind::List, b"l", KeyMeta::default(), None).unwrap();
        for i in 0..130 {
            s.element(i.to_string().as_bytes()).unwrap();
        }
        s.end().unwrap();
        let out = String::from_utf8(s.finish().unwrap()).unwrap();
        let heads: Vec<&str> = out.lines().filter(|l| l.starts_with('*')).collect();
        assert_eq!(heads, ["*66", "*66", "*4"]);
    }
}
