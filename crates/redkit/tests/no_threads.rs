//! A system that refuses every new thread (a limit on processes in a container, or no memory
//! for a thread's stack): every command does its work on its one thread, with the same output
//! and exit code as when it can start threads. The refusal is made with `RUST_MIN_STACK` at
//! 256 TiB, a stack no thread can be given.

mod common;

use common::{redkit_bin, scratch, testdata};
use std::path::Path;
use std::process::{Command, Output};

/// The default stack of a new thread asked for: more than the address space holds.
const NO_STACK: &str = "281474976710656";

/// Runs redkit; the outputs of two runs are the same bytes (`SOURCE_DATE_EPOCH`).
fn redkit(args: &[&str]) -> Output {
    Command::new(redkit_bin())
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run redkit")
}

fn refused(args: &[&str]) -> Output {
    Command::new(redkit_bin())
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("RUST_MIN_STACK", NO_STACK)
        .output()
        .expect("run redkit")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs `args` with and without threads: the same exit code and the same standard output.
fn same(args: &[&str]) -> Output {
    let with = redkit(args);
    let without = refused(args);
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !err(&without).contains("panicked"),
        "redkit {args:?} without threads: {}",
        err(&without)
    );
    assert_eq!(
        with.status.code(),
        without.status.code(),
        "redkit {args:?}: {} / {}",
        err(&with),
        err(&without)
    );
    assert!(
        with.stdout == without.stdout,
        "redkit {args:?}: the output differs without threads ({} / {} bytes)",
        with.stdout.len(),
        without.stdout.len()
    );
    without
}

#[test]
fn this_machine_cannot_give_a_thread_that_stack() {
    // Else the tests below would compare two runs with threads.
    let size: usize = NO_STACK.parse().unwrap();
    let spawned = std::thread::Builder::new().stack_size(size).spawn(|| ());
    assert!(spawned.is_err(), "a thread of a {size}-byte stack started");
}

#[test]
fn rdb_commands_work_on_one_thread() {
    let dir = scratch("no-threads-rdb");
    let rdb = testdata().join("rdb/redis-7.0.15/mixed_all.rdb");
    let other = testdata().join("rdb/valkey-8.1.8/hash_listpack.rdb");
    let gz = dir.join("mixed_all.rdb.gz");
    let zipped = Command::new("gzip")
        .arg("-c")
        .arg(&rdb)
        .output()
        .expect("gzip");
    std::fs::write(&gz, zipped.stdout).unwrap();
    let (rdb, other, gz) = (s(&rdb), s(&other), s(&gz));
    // Each on a thread of its own: the duplicate-key check, the sink (the relay), the sums,
    // the read-ahead of a gzip file, the workers of several files, the two sides of a diff.
    same(&["check-rdb", &rdb, "--json"]);
    same(&["check-rdb", &rdb, &other, "--json"]);
    same(&["check-rdb", &gz, "--json"]);
    same(&["dump-json", &rdb]);
    same(&["dump-json", &gz]);
    same(&["analyze", &rdb, "--json"]);
    same(&["digest", &rdb]);
    same(&["diff", &rdb, &other]);
    same(&["convert", &rdb, "-o", "-", "--rdb-version", "11"]);
    same(&["rewrite", &rdb, "--format", "resp", "-o", "-"]);
    // Files written by a writing thread: the same datasets.
    for (i, run) in [redkit, refused].iter().enumerate() {
        let out = |name: &str| s(&dir.join(format!("{name}-{i}")));
        let o = run(&["check-rdb", &rdb, "--salvage", &out("salvaged.rdb")]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = run(&[
            "split",
            &rdb,
            "-o",
            &out("shards"),
            "--slots",
            "0-8000,8001-16383",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let dump = |p: &str| redkit(&["dump-json", &s(&dir.join(p))]).stdout;
    for p in [
        "salvaged.rdb",
        "shards-{}/shard-0.rdb",
        "shards-{}/shard-1.rdb",
    ] {
        let (a, b) = if p.contains("{}") {
            (p.replace("{}", "0"), p.replace("{}", "1"))
        } else {
            (format!("{p}-0"), format!("{p}-1"))
        };
        let (a, b) = (dump(&a), dump(&b));
        assert!(!a.is_empty(), "{p}: no keys");
        assert!(a == b, "{p}: another dataset without threads");
    }
}

#[test]
fn aof_commands_work_on_one_thread() {
    let dir = scratch("no-threads-aof");
    let aof = testdata().join("aof/redis-7.0.15/mp-preamble/appendonlydir");
    // A log of more keys than the RDB writer encodes on one thread (4,096).
    let big = dir.join("big.aof");
    let log = common::set_log(6000, |i| "v".repeat(i % 50));
    std::fs::write(&big, log).unwrap();
    let (aof, big) = (s(&aof), s(&big));
    same(&["check-aof", &aof, "--json"]);
    same(&["restore-points", &aof]);
    same(&["rewrite", &aof, "--format", "resp", "-o", "-"]);
    same(&["rewrite", &big, "--format", "resp", "-o", "-"]);
    for (i, run) in [redkit, refused].iter().enumerate() {
        for (name, log) in [("preamble", &aof), ("big", &big)] {
            let out = s(&dir.join(format!("{name}-{i}.rdb")));
            let o = run(&["aof-to-rdb", log, "-o", &out, "-q"]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    for name in ["preamble", "big"] {
        let dump = |i: usize| redkit(&["dump-json", &s(&dir.join(format!("{name}-{i}.rdb")))]);
        let (a, b) = (dump(0), dump(1));
        assert_eq!(a.status.code(), Some(0));
        assert!(
            a.stdout == b.stdout,
            "{name}: another dataset without threads"
        );
    }
    let keys = redkit(&["dump-json", &s(&dir.join("big-1.rdb"))]).stdout;
    assert_eq!(keys.iter().filter(|&&b| b == b'\n').count(), 6000);
}
