//! `redkit aof-to-rdb` on the AOF fixtures of `testdata/aof/` (written by Redis 6.0, 6.2, 7.0
//! and Valkey 8.1: strings, counters, lists, sets, sorted sets, hashes, streams with a group,
//! expiries, two databases, MULTI/EXEC, RDB and command bases): the RDB it writes loads in the
//! server that wrote the log with exactly the dataset that server had at the end (the fixture's
//! truth, key by key), and, for the multi-part logs, the same `DEBUG DIGEST` as that server
//! loading the log itself.

mod common;

use common::{
    assert_same_dataset, assert_same_key, comparable, load_many, redkit, redkit_ok, scratch,
    servers_required, testdata,
};
use serde_json::Value;
use std::path::PathBuf;

/// `redkit aof-to-rdb AOF -o OUT --rdb-version VERSION -q` and `more`, which must succeed.
fn replay_to(
    aof: &std::path::Path,
    out: &std::path::Path,
    version: &str,
    more: &[&str],
    ctx: &str,
) {
    let mut args = vec![
        "aof-to-rdb",
        aof.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--rdb-version",
        version,
        "-q",
    ];
    args.extend_from_slice(more);
    redkit_ok(&args, ctx);
}

/// Replays `aof` into `out` (RDB `version`) and loads both into `server`: the same keys and
/// the same `DEBUG DIGEST`. The number of keys; `None` when the server cannot be run.
fn same_digest(
    aof: &std::path::Path,
    out: &std::path::Path,
    version: &str,
    server: &str,
) -> Option<usize> {
    replay_to(aof, out, version, &[], server);
    let theirs = load_many(server, "aof", &[aof.to_path_buf()])?;
    let ours = load_many(server, "rdb", &[out.to_path_buf()])?;
    let (t, o) = (&theirs[aof.to_str().unwrap()], &ours[out.to_str().unwrap()]);
    assert!(
        t.get("error").is_none() && o.get("error").is_none(),
        "{t:?} {o:?}"
    );
    let keys = t["keys"].as_array().unwrap().len();
    assert_eq!(o["keys"].as_array().unwrap().len(), keys, "{server}");
    assert_eq!(t["digest"], o["digest"], "{server}: DEBUG DIGEST");
    Some(keys)
}

/// Runs `workload` on each server family with its AOF on, replays the log it wrote and
/// checks it with [`same_digest`]; the number of keys of each family compared (both when the
/// servers are required).
fn each_server_agrees(
    tag: &str,
    workload: impl Fn(&mut std::io::BufReader<std::os::unix::net::UnixStream>),
) -> Vec<(&'static str, usize)> {
    use common::server::{flavors, make_aof};
    let dir = scratch(&format!("a2r-{tag}"));
    let mut counts = Vec::new();
    for flavor in flavors() {
        let (version, server) = match flavor.name {
            "redis" => ("10", "redis-7.0"),
            _ => ("11", "valkey-8.1"),
        };
        let (_server, aof) = make_aof(tag, &flavor, &workload);
        let out = dir.join(format!("{}.rdb", flavor.name));
        if let Some(keys) = same_digest(&aof, &out, version, server) {
            counts.push((server, keys));
        }
    }
    assert!(
        counts.len() == 2 || !servers_required(),
        "{} servers",
        counts.len()
    );
    counts
}

#[test]
fn replayed_logs_load_with_the_servers_dataset() {
    let scratch = scratch("a2r");
    let cases = [
        ("redis-6.0.9/single-plain/appendonly.aof", "redis-6.0", "9"),
        (
            "redis-6.2.14/single-preamble/appendonly.aof",
            "redis-6.2",
            "9",
        ),
        ("redis-7.0.15/mp-preamble/appendonlydir", "redis-7.0", "10"),
        ("redis-7.0.15/mp-aof-base/appendonlydir", "redis-7.0", "10"),
        ("valkey-8.1.8/mp-preamble/appendonlydir", "valkey-8.1", "11"),
    ];
    let mut compared = 0;
    let mut digests = 0;
    for (i, (rel, server, version)) in cases.iter().enumerate() {
        let aof = testdata().join("aof").join(rel);
        let truth_path = aof.parent().unwrap().join("truth.json");
        let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
        let out = scratch.join(format!("{i}.rdb"));
        replay_to(&aof, &out, version, &[], rel);
        let Some(loaded) = load_many(server, "rdb", std::slice::from_ref(&out)) else {
            continue;
        };
        let got = &loaded[out.to_str().unwrap()];
        assert!(
            got.get("error").is_none(),
            "{server} refuses {rel}: {}",
            got["error"]
        );
        let want = comparable(&truth["final"]["keys"]);
        assert_same_dataset(got["keys"].as_array().unwrap(), &want, rel);
        compared += 1;
        if rel.ends_with("appendonlydir") {
            let direct = load_many(server, "aof", &[PathBuf::from(&aof)]).unwrap();
            let d = &direct[aof.to_str().unwrap()]["digest"];
            assert_eq!(
                &got["digest"], d,
                "{rel}: DEBUG DIGEST of the log loaded by {server}"
            );
            digests += 1;
        }
    }
    eprintln!("{compared} logs replayed and compared, {digests} digests equal");
    assert!(compared == cases.len() || !servers_required());
    let _ = std::fs::remove_dir_all(&scratch);
}

/// A command that cannot be applied stops the run with its file and offset, and nothing is
/// written; --skip-unknown skips it and says so.
#[test]
fn unknown_commands_are_named_with_their_offset() {
    let dir = scratch("a2r-unknown");
    let aof = dir.join("appendonly.aof");
    let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    // A module's command.
    let module = b"*3\r\n$10\r\nBF.INSERT1\r\n$1\r\nh\r\n$1\r\na\r\n";
    std::fs::write(&aof, [&set[..], &module[..]].concat()).unwrap();
    let out = dir.join("out.rdb");
    let r = redkit(&[
        "aof-to-rdb",
        aof.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(&format!("offset {}", set.len())) && err.contains("BF.INSERT1"),
        "{err}"
    );
    assert!(!out.exists());
    let r = redkit(&[
        "aof-to-rdb",
        aof.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
        "--skip-unknown",
    ]);
    assert_eq!(r.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&r.stderr).contains("1 command(s) skipped"));
    let check = redkit(&["dump-json", out.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        r#"{"db":0,"key":"k","type":"string","encoding":"string","value":"v"}"#
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--until S` on the multi-part logs (written with `aof-timestamp-enabled yes`) gives, for each
/// second S in which the server wrote, exactly the dataset that server had at the end of S.
#[test]
fn until_each_second_gives_that_seconds_dataset() {
    let scratch = scratch("a2r-until");
    let mut checked = 0;
    for (rel, server, version) in [
        ("redis-7.0.15/mp-preamble/appendonlydir", "redis-7.0", "10"),
        ("redis-7.0.15/mp-aof-base/appendonlydir", "redis-7.0", "10"),
        ("valkey-8.1.8/mp-preamble/appendonlydir", "valkey-8.1", "11"),
    ] {
        let aof = testdata().join("aof").join(rel);
        let truth: Value = serde_json::from_slice(
            &std::fs::read(aof.parent().unwrap().join("truth.json")).unwrap(),
        )
        .unwrap();
        let seconds = truth["seconds"].as_array().unwrap();
        assert!(!seconds.is_empty(), "{rel}");
        let mut outs = Vec::new();
        for s in seconds {
            let t = s["unix_secs"].as_u64().unwrap();
            let out = scratch.join(format!("{}-{t}.rdb", checked + outs.len()));
            let until = t.to_string();
            replay_to(
                &aof,
                &out,
                version,
                &["--until", &until],
                &format!("{rel} --until {t}"),
            );
            outs.push((out, comparable(&s["keys"]), t));
        }
        let paths: Vec<PathBuf> = outs.iter().map(|(p, _, _)| p.clone()).collect();
        let Some(loaded) = load_many(server, "rdb", &paths) else {
            continue;
        };
        for (path, want, t) in &outs {
            let keys = loaded[path.to_str().unwrap()]["keys"].as_array().unwrap();
            assert_same_dataset(keys, want, &format!("{rel} --until {t}"));
            checked += 1;
        }
    }
    assert!(
        checked >= 12 || !servers_required(),
        "{checked} seconds checked"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Random workloads (testdata/gen/random_aof.py: 3,000 write commands of every family
/// `aof-to-rdb` applies, TTLs that fire during the run, errors, transactions, scripts,
/// HyperLogLogs sparse and dense, GEO*STORE, SORT ... STORE, SWAPDB, FLUSHDB, a rewrite halfway)
/// run on Redis 7.0 and Valkey 8.1 with AOF on: the server loading its log and the server
/// loading redkit's RDB of the same log hold the same keys, values and expiries, and the same
/// `DEBUG DIGEST`; so do the directories `redkit rewrite` makes of the log (RDB and command
/// bases). Consumers' seen times are left out: the server sets them when it loads the
/// log.
#[test]
fn random_workloads_replay_as_the_server_loads_them() {
    let scratch = scratch("a2r-random");
    let (mut compared, mut compared_rewrites) = (0, 0);
    for (server, version, preamble) in [("redis-7.0", "10", "yes"), ("valkey-8.1", "11", "no")] {
        for seed in 1..=3 {
            let dir = scratch.join(format!("{server}-{seed}"));
            let gen = std::process::Command::new("python3")
                .arg(testdata().join("gen/random_aof.py"))
                .args([
                    server,
                    &seed.to_string(),
                    "3000",
                    dir.to_str().unwrap(),
                    preamble,
                ])
                .output()
                .unwrap();
            if !gen.status.success() {
                assert!(
                    !servers_required(),
                    "{}",
                    String::from_utf8_lossy(&gen.stderr)
                );
                return;
            }
            let aof = dir.join("appendonlydir");
            let out = dir.join("replayed.rdb");
            replay_to(&aof, &out, version, &[], &format!("{server} seed {seed}"));
            // The log rewritten offline, with both kinds of base, loads with the same digest.
            let mut rewritten = Vec::new();
            for base in ["rdb", "aof"] {
                let rw = dir.join(format!("rewritten-{base}/appendonlydir"));
                redkit_ok(
                    &[
                        "rewrite",
                        aof.to_str().unwrap(),
                        "-o",
                        rw.to_str().unwrap(),
                        "--base",
                        base,
                        "--rdb-version",
                        version,
                        "-q",
                    ],
                    &format!("{server} seed {seed} rewrite --base {base}"),
                );
                rewritten.push(rw);
            }
            let mut dirs = vec![aof.clone()];
            dirs.extend(rewritten.iter().cloned());
            let theirs = load_many(server, "aof", &dirs).unwrap();
            for rw in &rewritten {
                let got = &theirs[rw.to_str().unwrap()];
                assert!(got.get("error").is_none(), "{}: {got:?}", rw.display());
                assert_eq!(
                    got["digest"],
                    theirs[aof.to_str().unwrap()]["digest"],
                    "{server} seed {seed}: DEBUG DIGEST of {}",
                    rw.display()
                );
                compared_rewrites += 1;
            }
            let ours = load_many(server, "rdb", std::slice::from_ref(&out)).unwrap();
            let (t, o) = (&theirs[aof.to_str().unwrap()], &ours[out.to_str().unwrap()]);
            assert!(
                t.get("error").is_none() && o.get("error").is_none(),
                "{t:?} {o:?}"
            );
            let ctx = format!("{server} seed {seed}");
            let (tk, ok) = (t["keys"].as_array().unwrap(), o["keys"].as_array().unwrap());
            assert!(tk.len() > 50, "{ctx}: {} keys", tk.len());
            for (a, b) in tk.iter().zip(ok) {
                let (mut a, mut b) = (a.clone(), b.clone());
                for k in [&mut a, &mut b] {
                    if k["type"] == "stream" {
                        for g in k["value"]["groups"].as_array_mut().unwrap() {
                            for c in g["consumers"].as_array_mut().unwrap() {
                                c["seen_time_ms"] = Value::Null;
                                c["active_time_ms"] = Value::Null;
                            }
                        }
                    }
                }
                assert_same_key(&b, &a, &ctx);
            }
            assert_eq!(tk.len(), ok.len(), "{ctx}");
            assert_eq!(t["digest"], o["digest"], "{ctx}: DEBUG DIGEST");
            compared += 1;
        }
    }
    eprintln!("{compared} random workloads replayed, keys and digests equal; {compared_rewrites} rewrites, digests equal");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The Redis 7.4 log of the shared corpus (hash field TTLs, functions, stream groups with
/// XCLAIM, six batches in six seconds; no 7.4 server runs here): replayed to RDB 12 and read
/// back by our reader, the keys of each database are those its truth file lists at the end of
/// each batch's second (`--until`) and at the end.
#[test]
fn redis_7_4_log_replays_to_the_recorded_key_names() {
    let dir = testdata().join("aof/redis-7.4.1/mp-timestamped");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
    let scratch = scratch("a2r-74");
    let timeline = truth["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 6);
    for (i, batch) in timeline.iter().enumerate() {
        let out = scratch.join(format!("{i}.rdb"));
        let until = batch["unix_second"].as_u64().unwrap().to_string();
        redkit_ok(
            &[
                "aof-to-rdb",
                dir.join("appendonlydir").to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--until",
                &until,
                "-q",
            ],
            "",
        );
        let dump = redkit(&["dump-json", out.to_str().unwrap()]);
        let mut got: Vec<String> = String::from_utf8(dump.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                format!("{}:{}", v["db"], v["key"].as_str().unwrap())
            })
            .collect();
        got.sort();
        let mut want: Vec<String> = batch["key_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        want.sort();
        assert_eq!(got, want, "batch {i} (--until {until})");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// `rewrite` of a log (an offline BGREWRITEAOF): the new directory, with an RDB base or a
/// command base, loads with the log's final dataset, and for the multi-part logs with the same
/// DEBUG DIGEST as the log itself.
#[test]
fn rewritten_logs_load_with_the_final_dataset() {
    let scratch = scratch("a2r-rw");
    let mut compared = 0;
    for (i, (rel, server)) in [
        ("redis-6.0.9/single-plain/appendonly.aof", "redis-7.0"),
        ("redis-6.2.14/single-preamble/appendonly.aof", "redis-7.0"),
        ("redis-7.0.15/mp-preamble/appendonlydir", "redis-7.0"),
        ("redis-7.0.15/mp-aof-base/appendonlydir", "redis-7.0"),
        ("valkey-8.1.8/mp-preamble/appendonlydir", "valkey-8.1"),
    ]
    .iter()
    .enumerate()
    {
        let aof = testdata().join("aof").join(rel);
        let truth: Value = serde_json::from_slice(
            &std::fs::read(aof.parent().unwrap().join("truth.json")).unwrap(),
        )
        .unwrap();
        let mut outs = Vec::new();
        for base in ["rdb", "aof"] {
            let out = scratch.join(format!("{i}-{base}/appendonlydir"));
            redkit_ok(
                &[
                    "rewrite",
                    aof.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                    "--base",
                    base,
                    "-q",
                ],
                &format!("{rel} {base}"),
            );
            // No temporary replay file is left beside the output.
            let left: Vec<_> = std::fs::read_dir(out.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left.len(), 1, "{left:?}");
            outs.push(out);
        }
        let Some(loaded) = load_many(server, "aof", &outs) else {
            continue;
        };
        let direct = if rel.ends_with("appendonlydir") {
            load_many(server, "aof", std::slice::from_ref(&aof))
        } else {
            None
        };
        let want = comparable(&truth["final"]["keys"]);
        for out in &outs {
            let got = &loaded[out.to_str().unwrap()];
            assert!(
                got.get("error").is_none(),
                "{server} refuses {}: {}",
                out.display(),
                got["error"]
            );
            let keys = got["keys"].as_array().unwrap();
            assert_same_dataset(keys, &want, &out.display().to_string());
            if let Some(d) = &direct {
                assert_eq!(
                    got["digest"],
                    d[aof.to_str().unwrap()]["digest"],
                    "{}",
                    out.display()
                );
            }
            compared += 1;
        }
    }
    assert!(compared == 10 || !servers_required(), "{compared} compared");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The Redis 7.4 log, whose hash field TTLs RDB 11 cannot hold: `rewrite --rdb-version 11`
/// refuses it and writes nothing; with `--lossy field-ttls` the directory loads in Valkey 8.1
/// with every key of the log's truth file, the field TTLs left out (consumers' seen times aside:
/// the server sets them when it loads).
#[test]
fn rewrite_lossy_drops_field_ttls_and_loads_in_valkey() {
    let dir = testdata().join("aof/redis-7.4.1/mp-timestamped");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
    let scratch = scratch("a2r-lossy");
    let log = dir.join("appendonlydir");
    let out = scratch.join("appendonlydir");
    let rewrite = |lossy: bool| {
        let mut a = vec![
            "rewrite",
            log.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--rdb-version",
            "11",
            "-q",
        ];
        if lossy {
            a.extend(["--lossy", "field-ttls"]);
        }
        redkit(&a)
    };
    let r = rewrite(false);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("field TTLs"));
    assert!(!out.exists());
    let r = rewrite(true);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("1 field TTL(s)"));
    let Some(loaded) = load_many("valkey-8.1", "aof", std::slice::from_ref(&out)) else {
        return;
    };
    let got = &loaded[out.to_str().unwrap()];
    assert!(got.get("error").is_none(), "{got:?}");
    let mut want = comparable(&truth["keys"]);
    let mut got: Vec<Value> = got["keys"].as_array().unwrap().clone();
    for k in want.iter_mut().chain(got.iter_mut()) {
        if k["type"] == "hash" {
            for f in k["value"].as_array_mut().unwrap() {
                f[2] = Value::Null;
            }
        }
        if k["type"] == "stream" {
            for g in k["value"]["groups"].as_array_mut().unwrap() {
                for c in g["consumers"].as_array_mut().unwrap() {
                    c["seen_time_ms"] = Value::Null;
                    c["active_time_ms"] = Value::Null;
                }
            }
        }
    }
    assert_same_dataset(
        &got,
        &want,
        "7.4 log rewritten to RDB 11 --lossy field-ttls",
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// A dataset large enough to be written on several threads (thousands of keys of every small
/// and large kind, in two databases, some with expiries), from a log with a base and commands
/// after it: the RDB loads in the server that wrote the log with the same `DEBUG DIGEST` as
/// that server loading the log itself.
#[test]
fn large_datasets_load_with_the_logs_digest() {
    use common::server::call;
    // Keys of each kind, by the thousand: every database crosses many chunks of the writer.
    const SCRIPT: &str = r#"
        local n = tonumber(ARGV[1])
        for i = 1, n do
            redis.call('SET', 's:' .. i, string.rep('v', i % 90))
            if i % 3 == 0 then redis.call('PEXPIREAT', 's:' .. i, 4000000000000 + i) end
            redis.call('HSET', 'h:' .. i, 'f', i, 'g', 'text ' .. i)
            if i % 5 == 0 then redis.call('RPUSH', 'l:' .. i, 'a', i, 'b') end
            if i % 7 == 0 then redis.call('SADD', 'set:' .. i, i, i + 1, 'm') end
            if i % 11 == 0 then redis.call('ZADD', 'z:' .. i, 1.5, 'a', i, 'b') end
            if i % 500 == 0 then
                for j = 1, 300 do redis.call('HSET', 'big:' .. i, 'f' .. j, j) end
            end
        end
        return n"#;
    for (server, keys) in each_server_agrees("large", |c| {
        call(c, &["EVAL", SCRIPT, "0", "2500"]);
        call(c, &["SELECT", "1"]);
        call(c, &["EVAL", SCRIPT, "0", "900"]);
        // The base holds the first keys; the incremental file changes some of them.
        call(c, &["BGREWRITEAOF"]);
        while call(c, &["INFO", "persistence"]).contains("aof_rewrite_in_progress:1") {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        call(c, &["SELECT", "0"]);
        for i in 0..200 {
            call(c, &["SET", &format!("s:{i}"), "after"]);
            call(c, &["DEL", &format!("h:{}", i + 1000)]);
        }
    }) {
        assert!(keys > 8_000, "{server}: {keys} keys");
    }
}

/// The replayed dataset's tables are seeded at random for each run, so that a log cannot aim
/// its keys at one place of a table: two runs write the keys in other orders (the same
/// dataset); with `SOURCE_DATE_EPOCH`, the same bytes.
#[test]
fn tables_are_seeded_at_random_unless_the_run_is_to_be_reproducible() {
    let d = scratch("a2r-seed");
    let log = common::set_log(2000, |_| "v".to_string());
    let aof = d.join("in.aof");
    std::fs::write(&aof, log).unwrap();
    let run = |name: &str, epoch: Option<&str>| {
        let out = d.join(name);
        let mut cmd = std::process::Command::new(common::redkit_bin());
        cmd.args([
            "aof-to-rdb",
            aof.to_str().unwrap(),
            "-q",
            "-o",
            out.to_str().unwrap(),
        ]);
        if let Some(e) = epoch {
            cmd.env("SOURCE_DATE_EPOCH", e);
        }
        let o = cmd.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let keys = redkit(&["dump-json", out.to_str().unwrap()]).stdout;
        (std::fs::read(&out).unwrap(), keys)
    };
    let (a, keys_a) = run("a.rdb", None);
    let (b, keys_b) = run("b.rdb", None);
    assert!(keys_a != keys_b, "two runs wrote the keys in one order");
    let sorted = |k: &[u8]| {
        let mut lines: Vec<&[u8]> = k.split(|&c| c == b'\n').collect();
        lines.sort();
        lines.concat()
    };
    assert!(
        sorted(&keys_a) == sorted(&keys_b),
        "two runs wrote other keys"
    );
    assert_eq!(keys_a.iter().filter(|&&c| c == b'\n').count(), 2000);
    assert_eq!(a.len(), b.len());
    let (c, _) = run("c.rdb", Some("1700000000"));
    let (e, _) = run("e.rdb", Some("1700000000"));
    assert!(c == e, "two runs with SOURCE_DATE_EPOCH wrote other bytes");
}

/// Sorted sets past the packed size cut by rank (ZPOPMIN, ZPOPMAX, ZREMRANGEBYRANK, with
/// ties of score and -0 beside 0): the replay keeps the members the server keeps.
#[test]
fn sorted_sets_cut_by_rank_keep_the_servers_members() {
    use common::server::call;
    const SCRIPT: &str = r#"
        for k = 1, 6 do
            local key = 'z:' .. k
            for i = 1, 300 do
                local s = (i * 7919 + k) % 5 - 2
                if s == 0 and i % 2 == 0 then s = '-0' end
                redis.call('ZADD', key, s, 'm' .. ((i * 31) % 1000))
            end
            for r = 1, 40 do
                redis.call('ZADD', key, r % 3, 'n' .. r)
                redis.call('ZREMRANGEBYRANK', key, 0, -251)
                redis.call('ZPOPMIN', key, r % 3)
                redis.call('ZPOPMAX', key)
                redis.call('ZREMRANGEBYRANK', key, r % 50, r % 50 + k % 2)
                if r % 4 == 0 then redis.call('ZREMRANGEBYRANK', key, -k - 1, -k) end
            end
        end
        return 1"#;
    for (server, keys) in each_server_agrees("ranks", |c| {
        assert_eq!(call(c, &["EVAL", SCRIPT, "0"]).trim(), ":1");
    }) {
        assert!(keys > 0, "{server}: every sorted set emptied");
    }
}

/// Sorted sets past the packed size changed after a command read them in order (the replay
/// then keeps an ordered index beside each): scores updated with ties and -0, members added,
/// incremented and removed, cut by score with open and closed ends, by rank in the middle, by
/// lex range (on equal scores), and copied by ZRANGESTORE (by rank and by score, REV, LIMIT):
/// the replay keeps the members and scores the server keeps.
#[test]
fn sorted_sets_changed_after_an_ordered_cut_keep_the_servers_members() {
    use common::server::call;
    const SCRIPT: &str = r#"
        for k = 1, 4 do
            local key = 'w:' .. k
            for i = 1, 400 do
                local s = (i * 7919 + k) % 9 - 4
                if s == 0 and i % 2 == 0 then s = '-0' end
                redis.call('ZADD', key, s, 'm' .. ((i * 31) % 2000))
            end
            local lex = 'lex:' .. k
            for i = 1, 300 do redis.call('ZADD', lex, 0, 'm' .. i) end
            for r = 1, 60 do
                redis.call('ZPOPMIN', key)
                redis.call('ZADD', key, (r % 7) - 3, 'm' .. ((r * 13) % 2000))
                redis.call('ZINCRBY', key, 1, 'm' .. ((r * 17) % 2000))
                redis.call('ZREM', key, 'm' .. ((r * 19) % 2000))
                redis.call('ZADD', key, '-0', 'z' .. r)
                redis.call('ZREMRANGEBYSCORE', key, '(' .. ((r % 5) - 3), (r % 5) - 3 + (r % 2))
                if r % 10 == 0 then redis.call('ZREMRANGEBYSCORE', key, '-inf', '(-3') end
                redis.call('ZRANGESTORE', 'copy:' .. k, key, '(-1', '2', 'BYSCORE', 'LIMIT', r % 5, 40)
                redis.call('ZRANGESTORE', 'top:' .. k, key, 0, 9, 'REV')
                redis.call('ZRANGESTORE', 'mid:' .. k, key, r % 20, r % 20 + 30)
                redis.call('ZRANGESTORE', 'rev:' .. k, key, 3, '(-2', 'BYSCORE', 'REV', 'LIMIT', r % 3, 25)
                redis.call('ZREMRANGEBYRANK', key, r % 7, r % 7 + 2)
                redis.call('ZPOPMAX', lex)
                if r % 15 == 0 then redis.call('ZREMRANGEBYLEX', lex, '[m1' .. r, '(m2') end
                redis.call('ZADD', lex, 0, 'n' .. r)
                redis.call('ZREMRANGEBYRANK', lex, r % 11, r % 11 + 1)
            end
        end
        return 1"#;
    for (server, keys) in each_server_agrees("ordered", |c| {
        assert_eq!(call(c, &["EVAL", SCRIPT, "0"]).trim(), ":1");
    }) {
        assert!(keys >= 8, "{server}: {keys} keys left");
    }
}
