//! The replay reads the sources of the commands that combine many keys in place: a short log
//! naming one large key many times in a ZUNIONSTORE, a SUNIONSTORE or a BITOP, or a SORT whose
//! BY pattern names the same large key for every element, needs about the memory of that key
//! and of the result, as the server does, not a copy per argument or element. Each log is
//! replayed by `redkit aof-to-rdb` under an address-space limit (`ulimit -v`) of [`LIMIT_KB`]:
//! the replays need about 60 MB (peak RSS); with a copy per argument or element they needed
//! from 0.5 GB (BITOP, SORT) to 2.5 GB (SUNIONSTORE) and were stopped by the limit.

mod common;

use common::{redkit_bin, redkit_ok, scratch};
use serde_json::Value;
use std::process::Command;

/// The address-space limit of each replay, in KiB.
const LIMIT_KB: u64 = 256 * 1024;

/// A command in RESP, as the server appends it to its AOF.
fn resp(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `count` members (`m0`, `m1`...) added to `key` by `add` (ZADD with scores, or SADD), a
/// thousand a command.
fn fill(out: &mut Vec<u8>, add: &str, key: &str, count: usize) {
    for start in (0..count).step_by(1000) {
        let mut args: Vec<Vec<u8>> = vec![add.into(), key.into()];
        for i in start..count.min(start + 1000) {
            if add == "ZADD" {
                args.push(i.to_string().into_bytes());
            }
            args.push(format!("m{i}").into_bytes());
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        resp(out, &refs);
    }
}

/// Replays `log` under the address-space limit; the key `d` of the result, as dump-json
/// gives it, when `check` is set.
fn replay_within_limit(name: &str, log: &[u8], check: bool) -> Option<Value> {
    let dir = scratch(name);
    let aof = dir.join("appendonly.aof");
    let rdb = dir.join("out.rdb");
    std::fs::write(&aof, log).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -v {LIMIT_KB} && exec \"$0\" \"$@\""))
        .arg(redkit_bin())
        // One malloc arena: a thread's own would reserve 64 MiB of address space unused.
        .env("MALLOC_ARENA_MAX", "1")
        .args(["aof-to-rdb", "-q"])
        .arg(&aof)
        .arg("-o")
        .arg(&rdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: the replay failed within {LIMIT_KB} KiB of address space ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if !check {
        return None;
    }
    let json = redkit_ok(
        &["dump-json", "--key", "d", rdb.to_str().unwrap()],
        "dump-json",
    );
    Some(serde_json::from_slice(&json.stdout).unwrap())
}

/// How many members the key holds, as dump-json gives it.
fn len(key: &Value) -> usize {
    match &key["value"] {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        other => panic!("not a collection: {other}"),
    }
}

#[test]
fn zunionstore_naming_one_large_zset_many_times() {
    let (members, names) = (100_000, 100);
    let mut log = Vec::new();
    fill(&mut log, "ZADD", "z", members);
    let mut args: Vec<&[u8]> = vec![b"ZUNIONSTORE", b"d", b"100"];
    args.extend(std::iter::repeat_n(&b"z"[..], names));
    resp(&mut log, &args);
    let d = replay_within_limit("mem-zunion", &log, true).unwrap();
    assert_eq!((d["type"].as_str(), len(&d)), (Some("zset"), members));
}

#[test]
fn sunionstore_naming_one_large_set_many_times() {
    let (members, names) = (200_000, 200);
    let mut log = Vec::new();
    fill(&mut log, "SADD", "s", members);
    let mut args: Vec<&[u8]> = vec![b"SUNIONSTORE", b"d"];
    args.extend(std::iter::repeat_n(&b"s"[..], names));
    resp(&mut log, &args);
    let d = replay_within_limit("mem-sunion", &log, true).unwrap();
    assert_eq!((d["type"].as_str(), len(&d)), (Some("set"), members));
}

#[test]
fn bitop_naming_one_large_string_many_times() {
    // A 16 MB string, named 32 times.
    let mut log = Vec::new();
    resp(&mut log, &[b"SETRANGE", b"b", b"16777215", b"x"]);
    let mut args: Vec<&[u8]> = vec![b"BITOP", b"OR", b"d"];
    args.extend(std::iter::repeat_n(&b"b"[..], 32));
    resp(&mut log, &args);
    replay_within_limit("mem-bitop", &log, false);
}

#[test]
fn sort_by_one_large_string_for_every_element() {
    // Each of 1,000 equal elements sorts ALPHA by the same 512 KB string.
    let mut log = Vec::new();
    resp(&mut log, &[b"SETRANGE", b"w_x", b"524287", b"y"]);
    let mut args: Vec<&[u8]> = vec![b"RPUSH", b"l"];
    args.extend(std::iter::repeat_n(&b"x"[..], 1000));
    resp(&mut log, &args);
    resp(
        &mut log,
        &[b"SORT", b"l", b"BY", b"w_*", b"ALPHA", b"STORE", b"d"],
    );
    let d = replay_within_limit("mem-sort", &log, true).unwrap();
    assert_eq!((d["type"].as_str(), len(&d)), (Some("list"), 1000));
}

/// An RDB preamble whose RESIZEDB hints claim 2^62 keys in each of 16 databases: the tables
/// are sized from the hints only up to what the file can hold, so the replay stays within
/// the limit (a table sized from the number alone could not be allocated at all).
#[test]
fn a_preamble_claiming_billions_of_keys() {
    let mut log = b"REDIS0010".to_vec();
    for db in 0u8..16 {
        log.extend_from_slice(&[0xfe, db, 0xfb, 0x81]); // SELECTDB, RESIZEDB of 64-bit
        log.extend_from_slice(&(1u64 << 62).to_be_bytes());
        log.push(0); // no expiry
        let key = if db == 0 { b'd' } else { b'k' };
        log.extend_from_slice(&[0, 1, key, 1, b'v']); // a string key
    }
    log.push(0xff);
    log.extend_from_slice(&[0; 8]); // no checksum
    resp(&mut log, &[b"SET", b"after", b"the preamble"]);
    let d = replay_within_limit("mem-resizedb", &log, true).unwrap();
    assert_eq!(d["value"].as_str(), Some("v"), "{d}");
}
