//! `split` and the slot filters, against a real 3-master cluster (`testdata/gen/cluster.py`):
//! the keys written through a cluster-aware client, each node's RDB, and the same keys saved by
//! a standalone server.

mod common;

use common::{assert_schema, redkit, scratch, testdata};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn cluster(args: &[&str]) -> Option<std::process::Output> {
    let o = std::process::Command::new("python3")
        .arg(testdata().join("gen/cluster.py"))
        .args(args)
        .output()
        .unwrap();
    if !o.status.success() {
        assert!(
            !common::servers_required(),
            "cluster.py {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return None;
    }
    Some(o)
}

/// `redkit split DIR/all.rdb -o OUT ARGS...`, which must succeed.
fn split_ok(d: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    let (all, out) = (d.join("all.rdb"), out.to_str().unwrap().to_string());
    let mut a = vec!["split", all.to_str().unwrap(), "-o", &out];
    a.extend(args);
    let o = redkit(&a);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// What `cluster.py check` saw of the cluster restarted on the files of `dir` (as `format`).
fn served(server: &str, d: &Path, dir: &Path, format: &str) -> Value {
    let o = cluster(&[
        "check",
        server,
        d.to_str().unwrap(),
        dir.to_str().unwrap(),
        format,
    ])
    .unwrap();
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every key read, none missing or wrong, every slot's count right.
fn all_served(r: &Value, keys: usize, what: &str) {
    assert_eq!(r["read"], keys, "{what}: {r}");
    for k in ["missing", "wrong", "count_mismatch"] {
        assert_eq!(r[k], serde_json::json!([]), "{what}: {r}");
    }
}

fn myself(conf: &Path) -> String {
    let text = std::fs::read_to_string(conf).unwrap();
    let line = text.lines().find(|l| l.contains("myself")).unwrap();
    line.split_whitespace().next().unwrap().to_string()
}

/// The split of the standalone file by the cluster's nodes.conf gives each node's own dataset
/// (`diff` finds nothing), and the cluster restarted on the split files serves every key, with
/// its value, from the right node (COUNTKEYSINSLOT agrees). `--slots` gives the same files;
/// keys of slots no shard holds are counted and exit 1. On Redis 7.0 and Valkey 8.1.
#[test]
fn a_split_gives_each_node_its_own_dataset() {
    for server in ["redis-7.0", "valkey-8.1"] {
        let d = scratch(&format!("split-{server}"));
        let s = |p: &Path| p.to_str().unwrap().to_string();
        if cluster(&["make", server, &s(&d)]).is_none() {
            continue;
        }
        let out = d.join("split");
        let nodes = s(&d.join("nodes.conf"));
        let o = split_ok(&d, &out, &["--nodes", &nodes, "--json"]);
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_schema("split", &report);
        assert_eq!(report["slots_covered"], 16384);
        let mut total = 0;
        for i in 0..3 {
            let id = myself(&d.join(format!("node-{i}.conf")));
            let node = d.join(format!("node-{i}.rdb"));
            let mine = out.join(format!("{id}.rdb"));
            let o = redkit(&["diff", &s(&node), &s(&mine), "-q"]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{server} node {i}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
            total += report["shards"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["node"] == id.as_str())
                .unwrap()["keys"]
                .as_u64()
                .unwrap();
        }
        let keys: Value =
            serde_json::from_slice(&std::fs::read(d.join("keys.json")).unwrap()).unwrap();
        let keys = keys.as_object().unwrap();
        assert_eq!(total, keys.len() as u64);
        assert!(keys.len() > 400);
        // The cluster on the split files.
        all_served(&served(server, &d, &out, "rdb"), keys.len(), server);
        // --slot-info: the same per-slot counts the nodes wrote (Valkey 8.1 writes them as
        // AUX fields; Redis 7.0 writes none), and the cluster loads the files.
        let with_info = d.join("split-slot-info");
        split_ok(&d, &with_info, &["--nodes", &nodes, "--slot-info", "-q"]);
        let mut told = 0;
        for i in 0..3 {
            let id = myself(&d.join(format!("node-{i}.conf")));
            let want = slot_infos(&d.join(format!("node-{i}.rdb")));
            let got = slot_infos(&with_info.join(format!("{id}.rdb")));
            assert_eq!(got, want, "{server} node {i}");
            told += got.len();
        }
        assert_eq!(told > 0, server.starts_with("valkey"), "{server}");
        let r = served(server, &d, &with_info, "rdb");
        assert_eq!(r["read"], keys.len(), "{server} --slot-info: {r}");
        // CLUSTER SHARDS, saved in every form, names the same nodes, slots and keys.
        let by_node = |r: &Value| -> Vec<Value> {
            let mut v: Vec<Value> = r["shards"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| serde_json::json!([x["node"], x["address"], x["slots"], x["keys"]]))
                .collect();
            v.sort_by_key(|x| x.to_string());
            v
        };
        let mut forms = 0;
        for form in [
            "shards.json",
            "shards-plain.txt",
            "shards-numbered.txt",
            "shards-cli.json",
        ] {
            if !d.join(form).exists() {
                assert_ne!(form, "shards.json");
                continue;
            }
            forms += 1;
            let listing = s(&d.join(form));
            let o = split_ok(
                &d,
                &d.join(format!("by-{form}")),
                &["--nodes", &listing, "--json"],
            );
            let r: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(by_node(&r), by_node(&report), "{server} {form}");
        }
        assert!(
            forms == 4 || !common::servers_required(),
            "redis-cli is installed with the servers"
        );
        // As AOF directories and as RESP commands: the cluster loads them, or is fed them,
        // and serves the same.
        for format in ["aof", "resp"] {
            let dir = d.join(format!("split-{format}"));
            split_ok(&d, &dir, &["--nodes", &nodes, "--format", format, "-q"]);
            let r = served(server, &d, &dir, format);
            all_served(&r, keys.len(), &format!("{server} {format}"));
            if format == "resp" {
                assert!(r["commands"].as_u64().unwrap() >= keys.len() as u64);
            }
        }
        // --slots, in node order, gives the same datasets.
        let by_slots = d.join("by-slots");
        split_ok(&d, &by_slots, &["--slots", "0-5460,5461-10922,10923-16383"]);
        let text = std::fs::read_to_string(d.join("nodes.conf")).unwrap();
        for line in text.lines().filter(|l| l.contains("master")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let i = ["0-5460", "5461-10922", "10923-16383"]
                .iter()
                .position(|r| f[8] == *r)
                .unwrap();
            let o = redkit(&[
                "diff",
                &s(&out.join(format!("{}.rdb", f[0]))),
                &s(&by_slots.join(format!("shard-{i}.rdb"))),
                "-q",
            ]);
            assert_eq!(o.status.code(), Some(0), "{server}");
        }
        // Slots no shard holds: counted, exit 1; the outputs exist again only with --force.
        let o = redkit(&[
            "split",
            &s(&d.join("all.rdb")),
            "-o",
            &s(&by_slots),
            "--slots",
            "0-100",
        ]);
        assert_eq!(o.status.code(), Some(2), "an existing output is refused");
        let o = redkit(&[
            "split",
            &s(&d.join("all.rdb")),
            "-o",
            &s(&by_slots),
            "--slots",
            "0-100",
            "--force",
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(1));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let inside = keys
            .values()
            .filter(|v| v["slot"].as_u64().unwrap() <= 100)
            .count();
        assert_eq!(r["shards"][0]["keys"], inside as u64);
        assert_eq!(r["unplaced_keys"], (keys.len() - inside) as u64);
    }
}

/// The `slot-info` AUX fields of an RDB file (`slot,keys,expires`), sorted.
fn slot_infos(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let tag = b"\xfa\x09slot-info";
    let mut out = Vec::new();
    for at in 0..data.len().saturating_sub(tag.len()) {
        if data[at..].starts_with(tag) {
            // A value of a few digits: a 6-bit length.
            let n = usize::from(data[at + tag.len()]);
            let v = &data[at + tag.len() + 1..at + tag.len() + 1 + n];
            out.push(String::from_utf8(v.to_vec()).unwrap());
        }
    }
    out.sort();
    out
}

/// `--slot` and `--slots` select the keys CLUSTER KEYSLOT puts in those slots (hash tags,
/// binary keys), on dump-json and convert; analyze of a node's slots counts what analyze of
/// the node's file counts.
#[test]
fn slot_filters_agree_with_cluster_keyslot() {
    let d = scratch("split-slots");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    if cluster(&["make", "redis-7.0", &s(&d)]).is_none() {
        return;
    }
    let keys: Value = serde_json::from_slice(&std::fs::read(d.join("keys.json")).unwrap()).unwrap();
    let keys = keys.as_object().unwrap();
    let hex = |v: &Value| -> String {
        match v {
            Value::String(t) => t.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
            other => common::unbase64(other["base64"].as_str().unwrap())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    };
    for (args, pick) in [
        (
            vec!["--slots", "0-5460"],
            Box::new(|s: u64| s <= 5460) as Box<dyn Fn(u64) -> bool>,
        ),
        (
            vec!["--slots", "5461-10922,16383"],
            Box::new(|s: u64| (5461..=10922).contains(&s) || s == 16383),
        ),
        (
            vec!["--slot", "1000", "--slot", "2000"],
            Box::new(|s: u64| s == 1000 || s == 2000),
        ),
    ] {
        let mut a = vec!["dump-json", "-q"];
        let all = s(&d.join("all.rdb"));
        a.push(&all);
        a.extend(args.iter().copied());
        let o = redkit(&a);
        assert!(o.status.success());
        let got: BTreeSet<String> = o
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| hex(&serde_json::from_slice::<Value>(l).unwrap()["key"]))
            .collect();
        let want: BTreeSet<String> = keys
            .iter()
            .filter(|(_, v)| pick(v["slot"].as_u64().unwrap()))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(got, want, "{args:?}");
    }
    // analyze --slots of a node's range counts what analyze of the node's own file counts.
    for i in 0..3 {
        let conf = std::fs::read_to_string(d.join(format!("node-{i}.conf"))).unwrap();
        let line = conf.lines().find(|l| l.contains("myself")).unwrap();
        let range = line.split_whitespace().nth(8).unwrap();
        let report = |args: &[&str]| -> Value {
            let mut a = vec!["analyze", "--json", "-q", "--now", "0"];
            a.extend(args);
            let o = redkit(&a);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_schema("analyze", &v);
            v
        };
        let alone = report(&[&s(&d.join(format!("node-{i}.rdb")))]);
        let part = report(&[&s(&d.join("all.rdb")), "--slots", range]);
        for k in ["total", "by_type", "ttl"] {
            assert_eq!(alone[k], part[k], "node {i} ({range}): {k}");
        }
        assert!(alone["total"]["keys"].as_u64().unwrap() > 100);
        assert_eq!(alone["filtered_out"], 0);
        assert_eq!(
            part["filtered_out"].as_u64().unwrap() + part["total"]["keys"].as_u64().unwrap(),
            keys.len() as u64,
            "node {i}"
        );
    }
    // split takes the filters: only the hashes of a prefix, in both shards.
    let lines = |args: &[&str]| -> BTreeSet<String> {
        let o = redkit(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let parts = d.join("filtered");
    let o = redkit(&[
        "split",
        &s(&d.join("all.rdb")),
        "-o",
        &s(&parts),
        "--slots",
        "0-8191,8192-16383",
        "--type",
        "hash",
        "--key",
        "hash:1*",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = lines(&[
        "dump-json",
        &s(&d.join("all.rdb")),
        "--type",
        "hash",
        "--key",
        "hash:1*",
    ]);
    assert!(want.len() > 5);
    let mut got = lines(&["dump-json", &s(&parts.join("shard-0.rdb"))]);
    got.extend(lines(&["dump-json", &s(&parts.join("shard-1.rdb"))]));
    assert_eq!(got, want);
    // The tagged keys share their tag's slot: all of {user:3} in one.
    let o = redkit(&[
        "convert",
        &s(&d.join("all.rdb")),
        "-o",
        &s(&d.join("low.rdb")),
        "--slots",
        "0-5460",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = redkit(&[
        "diff",
        &s(&d.join("node-0.rdb")),
        &s(&d.join("low.rdb")),
        "-q",
    ]);
    let text = std::fs::read_to_string(d.join("nodes.conf")).unwrap();
    if text
        .lines()
        .any(|l| l.contains("myself") && l.ends_with("0-5460"))
    {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

/// An RDB 11 file of string keys (`key`, `value`) in database 0.
fn tiny_rdb(keys: &[(&str, &str)]) -> Vec<u8> {
    let mut f = b"REDIS0011\xfe\x00".to_vec();
    f.extend_from_slice(&[0xfb, keys.len() as u8, 0]);
    for (k, v) in keys {
        f.push(0);
        f.push(k.len() as u8);
        f.extend_from_slice(k.as_bytes());
        f.push(v.len() as u8);
        f.extend_from_slice(v.as_bytes());
    }
    f.push(0xff);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// The three nodes' RDBs merged: the dataset the standalone server holds (the same digest), the
/// function library every node holds written once, and a file the server loads. A key in two
/// inputs is a conflict: listed (exit 1, nothing written), or the first or last record kept.
#[test]
fn a_merge_of_the_nodes_is_the_whole_dataset() {
    let d = scratch("merge");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    if cluster(&["make", "redis-7.0", &s(&d)]).is_none() {
        return;
    }
    let digest = |p: &Path| {
        let o = redkit(&["digest", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // The nodes' RDBs; the logs they wrote (AOF directories), replayed; an RDB beside logs:
    // the same dataset each time, and no temporary file left.
    for (name, inputs) in [
        ("merged.rdb", ["node-0.rdb", "node-1.rdb", "node-2.rdb"]),
        ("from-aofs.rdb", ["node-0-aof", "node-1-aof", "node-2-aof"]),
        ("mixed.rdb", ["node-0.rdb", "node-1-aof", "node-2-aof"]),
    ] {
        let out = d.join("merged").join(name);
        let mut a = vec!["merge".to_string(), "-q".to_string()];
        a.extend(inputs.iter().map(|i| s(&d.join(i))));
        a.extend(["-o".to_string(), s(&out), "--json".to_string()]);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = redkit(&a);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["functions"], 1, "{r}");
        assert_eq!(r["conflicts"], 0);
        assert_eq!(digest(&out), digest(&d.join("all.rdb")), "{name}");
        let left: Vec<_> = std::fs::read_dir(d.join("merged"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|f| f.to_string_lossy().starts_with("temp-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // The merge of the nodes' RDBs loads in Redis 7.0, with that digest.
    let out = d.join("merged/merged.rdb");
    let loaded = common::load_many("redis-7.0", "rdb", std::slice::from_ref(&out)).unwrap();
    let got = &loaded[out.to_str().unwrap()];
    assert!(got.get("error").is_none(), "{got}");
    let server_digest = got["digest"].as_str().unwrap().to_string();
    assert_eq!(server_digest, digest(&out).trim());

    // Conflicts.
    let (x, y) = (d.join("x.rdb"), d.join("y.rdb"));
    std::fs::write(&x, tiny_rdb(&[("a", "1"), ("b", "2")])).unwrap();
    std::fs::write(&y, tiny_rdb(&[("b", "3"), ("c", "4")])).unwrap();
    let m = d.join("m.rdb");
    let o = redkit(&["merge", &s(&x), &s(&y), "-o", &s(&m)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"b\""));
    assert!(!m.exists());
    let value_of_b = |which: &str| {
        let o = redkit(&[
            "merge",
            &s(&x),
            &s(&y),
            "-o",
            &s(&m),
            "--on-conflict",
            which,
            "--force",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = redkit(&["dump-json", &s(&m), "--key", "b"]);
        let v: Value =
            serde_json::from_slice(o.stdout.split(|&c| c == b'\n').next().unwrap()).unwrap();
        let n = redkit(&["dump-json", &s(&m)])
            .stdout
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        (v["value"].as_str().unwrap().to_string(), n)
    };
    assert_eq!(value_of_b("first"), ("2".to_string(), 3));
    assert_eq!(value_of_b("last"), ("3".to_string(), 3));
    // --db-map per input: y's keys in database 1, no conflict.
    let o = redkit(&[
        "merge",
        &s(&x),
        &s(&y),
        "-o",
        &s(&m),
        "--db-map",
        "2:0:1",
        "--force",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let n = redkit(&["dump-json", &s(&m), "--db", "1"])
        .stdout
        .iter()
        .filter(|&&c| c == b'\n')
        .count();
    assert_eq!(n, 2);
}

/// An RDB 11 file of one function library (its code) and one string key.
fn library_rdb(code: &str, key: &str) -> Vec<u8> {
    let mut f = b"REDIS0011".to_vec();
    f.push(0xf5); // FUNCTION2
    assert!(code.len() < 1 << 14);
    f.extend_from_slice(&[0x40 | (code.len() >> 8) as u8, code.len() as u8]);
    f.extend_from_slice(code.as_bytes());
    f.extend_from_slice(&[0xfe, 0, 0xfb, 1, 0, 0, key.len() as u8]);
    f.extend_from_slice(key.as_bytes());
    f.extend_from_slice(&[1, b'v', 0xff]);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// A library two inputs hold is written once; the same name with other code is refused.
#[test]
fn a_library_in_two_inputs_is_written_once_unless_its_code_differs() {
    let d = scratch("merge-libraries");
    let code =
        |n: u32| format!("#!lua name=lib\nredis.register_function('f', function() return {n} end)");
    let input = |name: &str, n: u32, key: &str| {
        let p = d.join(name);
        std::fs::write(&p, library_rdb(&code(n), key)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (a, b, c) = (
        input("a.rdb", 1, "a"),
        input("b.rdb", 1, "b"),
        input("c.rdb", 2, "c"),
    );
    let out = d.join("out.rdb");
    let out = out.to_str().unwrap();
    let o = redkit(&["merge", &a, &b, "-o", out]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = redkit(&["check-rdb", out, "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["functions"], serde_json::json!(["lib"]));
    assert_eq!(report["keys"], 2, "{report}");
    let o = redkit(&["merge", &a, &c, "-o", out, "--force"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("other code"), "{err}");
}

/// A damaged blob in an input of `merge`, whose first pass checks blobs on a second thread:
/// the input is refused with the fault a reading from a pipe finds inline (its offset and
/// message), for each byte changed in turn in a file of listpacks. `split --slot-info`, whose
/// first pass does the same, fails as `split` without it does.
#[test]
fn a_damaged_blob_in_a_first_pass_is_reported_as_inline() {
    let d = scratch("first-pass-aside");
    let good = d.join("good.rdb");
    std::fs::write(&good, tiny_rdb(&[("a", "1")])).unwrap();
    let data = std::fs::read(testdata().join("rdb/redis-7.0.15/hash_listpack.rdb")).unwrap();
    let bad = d.join("bad.rdb");
    let mut checked = 0;
    for pos in (100..data.len() - 9).step_by(97) {
        let mut b = data.clone();
        b[pos] ^= 0x10;
        std::fs::write(&bad, &b).unwrap();
        // The fault as read inline: check-rdb from a pipe checks every blob on its thread.
        let inline = common::redkit_fed(&["check-rdb", "--json", "-"], &b);
        let report: Value = serde_json::from_slice(&inline.stdout).unwrap();
        let message = report["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if report["error"]["kind"] != "corrupt"
            || message.contains("checksum")
            || message.contains("CRC")
        {
            continue;
        }
        let want = format!("at offset {}: {message}", report["error"]["offset"]);
        let ctx = format!("byte {pos} ^ 0x10");
        let out = d.join("m.rdb");
        let merged = redkit(&[
            "merge",
            "-q",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--force",
        ]);
        let said = String::from_utf8_lossy(&merged.stderr);
        assert_eq!(merged.status.code(), Some(1), "{ctx}: {said}");
        assert!(said.contains(&want), "{ctx}: {said} does not say {want}");
        let split = |extra: &[&str]| {
            let o = d.join("shards");
            let mut a = vec!["split", bad.to_str().unwrap(), "-o", o.to_str().unwrap()];
            a.extend(["--slots", "0-8191,8192-16383", "--force", "-q"]);
            a.extend(extra);
            let r = redkit(&a);
            (
                r.status.code(),
                String::from_utf8_lossy(&r.stderr).into_owned(),
            )
        };
        assert_eq!(split(&["--slot-info"]), split(&[]), "{ctx}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} damaged blobs");
}
