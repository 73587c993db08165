//! The relay gives a sink on another thread the very calls `drive` gives it (a streamed string's
//! parts perhaps cut smaller): on every fixture (intact, cut short, damaged), with batches
//! small enough to split the stream everywhere; and a sink's error stops it where `drive`
//! stops.

mod common;

use rdb_parse::{
    drive, drive_relayed_batched, ArrayValue, Family, KeyEnd, KeyInfo, NodeInfo, Parser, Sink,
    Stop, Str, StreamId, StreamMeta,
};
use std::path::PathBuf;

fn files() -> Vec<PathBuf> {
    let out = common::rdb_files_in(&["rdb", "corrupt"]);
    assert!(out.len() >= 60, "fixtures missing");
    out
}

/// Every call as text (the parts of a streamed string as one); fails at call number
/// `fail_at`.
#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
    fail_at: Option<usize>,
    /// The parts of the string being streamed, and its total.
    parts: Option<(Vec<u8>, u64)>,
}

impl Recorder {
    fn call(&mut self, s: String) -> Result<(), String> {
        if self.fail_at == Some(self.calls.len()) {
            return Err(format!("failed at {s}"));
        }
        self.calls.push(s);
        Ok(())
    }
}

impl Sink for Recorder {
    type Error = String;

    fn header(&mut self, family: Family, version: u32) -> Result<(), String> {
        self.call(format!("header {family:?} {version}"))
    }
    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> Result<(), String> {
        self.call(format!("aux {key:?} {value:?}"))
    }
    fn select_db(&mut self, db: u64) -> Result<(), String> {
        self.call(format!("select {db}"))
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<(), String> {
        self.call(format!("resize {keys} {expires}"))
    }
    fn slot_info(&mut self, slot: u64, keys: u64, expires: u64) -> Result<(), String> {
        self.call(format!("slot {slot} {keys} {expires}"))
    }
    fn function(&mut self, code: Str<'_>) -> Result<(), String> {
        self.call(format!("function {code:?}"))
    }
    fn module_aux(&mut self, name: [u8; 9], version: u16, when: u64) -> Result<(), String> {
        self.call(format!("module_aux {name:?} {version} {when}"))
    }
    fn slot_import(&mut self, job: Str<'_>, ranges: u64) -> Result<(), String> {
        self.call(format!("slot_import {job:?} {ranges}"))
    }
    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), String> {
        self.call(format!("key {info:?}"))
    }
    fn element(&mut self, value: Str<'_>) -> Result<(), String> {
        self.call(format!("element {value:?}"))
    }
    fn string_part(
        &mut self,
        part: &[u8],
        total: u64,
        first: bool,
        last: bool,
    ) -> Result<(), String> {
        // The relay may cut a part in pieces: the string is compared whole.
        let (bytes, _) = self.parts.get_or_insert_with(|| (Vec::new(), total));
        if first && !bytes.is_empty() {
            return Err("a new string before the last part".into());
        }
        bytes.extend_from_slice(part);
        if !last {
            return Ok(());
        }
        let (bytes, t) = self.parts.take().expect("parts");
        self.call(format!("string in parts {bytes:?} {t} {total}"))
    }
    fn string_skipped(&mut self, len: u64) -> Result<(), String> {
        self.call(format!("skipped {len}"))
    }
    fn zmember(&mut self, member: Str<'_>, score: f64) -> Result<(), String> {
        self.call(format!("zmember {member:?} {:x}", score.to_bits()))
    }
    fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) -> Result<(), String> {
        self.call(format!("field {f:?} {v:?} {ttl:?}"))
    }
    fn node(&mut self, node: &NodeInfo) -> Result<(), String> {
        self.call(format!("node {node:?}"))
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> Result<(), String> {
        self.call(format!("entry {id:?} {fields}"))
    }
    fn stream_field(&mut self, n: Str<'_>, v: Str<'_>) -> Result<(), String> {
        self.call(format!("sfield {n:?} {v:?}"))
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> Result<(), String> {
        self.call(format!("meta {meta:?}"))
    }
    fn stream_group(
        &mut self,
        name: Str<'_>,
        last: StreamId,
        read: Option<u64>,
        pending: u64,
    ) -> Result<(), String> {
        self.call(format!("group {name:?} {last:?} {read:?} {pending}"))
    }
    fn stream_pending(&mut self, id: StreamId, t: i64, n: u64) -> Result<(), String> {
        self.call(format!("pending {id:?} {t} {n}"))
    }
    fn stream_consumers(&mut self, count: u64) -> Result<(), String> {
        self.call(format!("consumers {count}"))
    }
    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen: i64,
        active: Option<i64>,
        pending: u64,
    ) -> Result<(), String> {
        self.call(format!("consumer {name:?} {seen} {active:?} {pending}"))
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> Result<(), String> {
        self.call(format!("cpending {id:?}"))
    }
    fn stream_nacked(&mut self, id: StreamId) -> Result<(), String> {
        self.call(format!("nacked {id:?}"))
    }
    fn module(&mut self, name: [u8; 9], version: u16, raw_len: u64) -> Result<(), String> {
        self.call(format!("module {name:?} {version} {raw_len}"))
    }
    fn array_element(&mut self, index: u64, value: ArrayValue<'_>) -> Result<(), String> {
        let v = match value {
            ArrayValue::Float(f) => format!("float {:x}", f.to_bits()),
            other => format!("{other:?}"),
        };
        self.call(format!("array {index} {v}"))
    }
    fn key_end(&mut self, end: &KeyEnd) -> Result<(), String> {
        self.call(format!("end {end:?}"))
    }
    fn eof(&mut self, stored: Option<u64>, computed: u64) -> Result<(), String> {
        self.call(format!("eof {stored:?} {computed}"))
    }
}

/// The calls and the outcome, driven directly or relayed in batches of `batch` bytes.
fn run(data: &[u8], relay: Option<usize>, fail_at: Option<usize>) -> (Vec<String>, String) {
    run_with(data, relay, fail_at, false)
}

/// [`run`], with strings past 20 bytes skipped by length and streams' nodes placed instead of
/// reported entry by entry when `skip`.
fn run_with(
    data: &[u8],
    relay: Option<usize>,
    fail_at: Option<usize>,
    skip: bool,
) -> (Vec<String>, String) {
    let mut p = Parser::new(data);
    // Parts (or skipped strings) and nodes too: every kind of call.
    p.stream_strings(64);
    p.report_nodes(true);
    if skip {
        p.skip_long_strings(20);
        p.stream_nodes_as_stored(true);
    }
    let mut r = Recorder {
        calls: Vec::new(),
        fail_at,
        parts: None,
    };
    let out = match relay {
        Some(batch) => drive_relayed_batched(&mut p, &mut r, batch),
        None => drive(&mut p, &mut r),
    };
    let out = match out {
        Ok(()) => "ok".to_string(),
        Err(Stop::Parse(e)) => format!("parse {} {e}", e.offset()),
        Err(Stop::Sink(e)) => format!("sink {e}"),
    };
    (r.calls, out)
}

#[test]
fn a_relayed_sink_gets_the_calls_drive_gives() {
    let (mut calls, mut placed) = (0, 0);
    for f in files() {
        let data = std::fs::read(&f).unwrap();
        // Whole, and cut short in its middle.
        for data in [&data[..], &data[..data.len() / 2]] {
            for skip in [false, true] {
                let want = run_with(data, None, None, skip);
                for batch in [1, 100, 1 << 18] {
                    let got = run_with(data, Some(batch), None, skip);
                    assert_eq!(got, want, "{} batch {batch}", f.display());
                }
                calls += want.0.len();
                placed += want
                    .0
                    .iter()
                    .filter(|c| c.contains("stored_nodes: Some"))
                    .count();
            }
        }
    }
    assert!(calls > 10_000, "{calls}");
    assert!(placed > 10, "{placed} streams' nodes placed");
}

#[test]
fn a_sink_error_stops_the_relay_where_drive_stops() {
    let f = files()
        .into_iter()
        .find(|f| {
            f.to_string_lossy().contains("redis-7.0") && f.to_string_lossy().contains("stream")
        })
        .unwrap();
    let data = std::fs::read(&f).unwrap();
    let all = run(&data, None, None).0.len();
    for fail_at in [0, 1, all / 2, all - 1] {
        let want = run(&data, None, Some(fail_at));
        assert!(want.1.starts_with("sink failed at"), "{want:?}");
        assert_eq!(want.0.len(), fail_at);
        for batch in [1, 100, 1 << 18] {
            assert_eq!(
                run(&data, Some(batch), Some(fail_at)),
                want,
                "at {fail_at}, batch {batch}"
            );
        }
    }
}
