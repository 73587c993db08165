//! `redkit rewrite`: every RDB of `testdata/rdb/`, written as a multi-part AOF directory (RDB
//! base and command base) for Redis 7.0 and Valkey 8.1, loads in that server with the source
//! truth's dataset (key by key) and, where the server can load the source itself, the same
//! `DEBUG DIGEST`; the RESP stream piped with `redis-cli --pipe` into an empty server gives the
//! same. The command form cannot carry consumers' seen/active times (the server sets them at
//! load, as after its own rewrite): those are left out of the comparison for it.

mod common;

use common::{
    align_streams, assert_same_key, comparable, files_with_suffix, load_many, rdb_version, redkit,
    servers_required, testdata,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn drop_consumer_times(k: &mut Value) {
    if k["type"] != "stream" {
        return;
    }
    for g in k["value"]["groups"].as_array_mut().unwrap() {
        for c in g["consumers"].as_array_mut().unwrap() {
            c["seen_time_ms"] = Value::Null;
            c["active_time_ms"] = Value::Null;
        }
    }
}

/// What commands cannot carry: pending ids whose entry was deleted (XCLAIM drops them, as
/// after the server's own rewrite; `--lossy stream-meta` allows it and lists the keys).
fn drop_dangling_pending(k: &mut Value) {
    if k["type"] != "stream" {
        return;
    }
    let live: std::collections::HashSet<String> = k["value"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[0].as_str().unwrap().to_string())
        .collect();
    for g in k["value"]["groups"].as_array_mut().unwrap() {
        let keep = |p: &Value| live.contains(p[0].as_str().unwrap());
        g["pending"].as_array_mut().unwrap().retain(keep);
        g["pel_count"] = g["pending"].as_array().unwrap().len().into();
        for c in g["consumers"].as_array_mut().unwrap() {
            c["pending"].as_array_mut().unwrap().retain(keep);
            c["pel_count"] = c["pending"].as_array().unwrap().len().into();
        }
    }
}

/// ZADD into a listpack-encoded sorted set stores a score of -0 as 0 (the server's own rewrite
/// has the same effect): both sides are compared with 0. Returns whether the key had one.
fn zero_negative_zero(k: &mut Value) -> bool {
    let mut had = false;
    if k["type"] == "zset" {
        for m in k["value"].as_array_mut().unwrap() {
            if m[1] == "-0.0" {
                m[1] = "0.0".into();
                had = true;
            }
        }
    }
    had
}

struct Case {
    out: PathBuf,
    want: Vec<Value>,
    source: PathBuf,
    /// The digest cannot equal the source's (a -0 score became 0).
    digest_differs: bool,
}

/// Rewrites every source for `version`; returns the outputs to load and the refusal count.
fn rewrite_all(scratch: &Path, version: u32, mode: &str) -> (Vec<Case>, usize) {
    let mut cases = Vec::new();
    let mut refused = 0;
    for t in files_with_suffix(&testdata().join("rdb"), ".truth.json") {
        let rdb = PathBuf::from(t.to_string_lossy().replace(".truth.json", ".rdb"));
        let truth: Value = serde_json::from_slice(&std::fs::read(&t).unwrap()).unwrap();
        let name = format!(
            "{}-{}-{mode}-{version}",
            rdb.parent().unwrap().file_name().unwrap().to_string_lossy(),
            rdb.file_stem().unwrap().to_string_lossy()
        );
        let out_path = scratch.join(&name);
        let mut args = vec![
            "rewrite",
            rdb.to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
            "--lossy",
            "stream-meta",
            "-q",
        ];
        let v = version.to_string();
        args.extend(["--rdb-version", &v]);
        match mode {
            "rdb" => {}
            "aof" => args.extend(["--base", "aof"]),
            _ => args.extend(["--format", "resp"]),
        }
        let out = redkit(&args);
        let field_ttls = truth["keys"].as_array().unwrap().iter().any(|k| {
            k["type"] == "hash"
                && k["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| !f[2].is_null())
        });
        if field_ttls {
            assert_eq!(out.status.code(), Some(1), "{}", rdb.display());
            assert!(!out_path.exists(), "{}", out_path.display());
            refused += 1;
            continue;
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} ({mode}): {}",
            rdb.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut want = comparable(&truth["keys"]);
        let mut digest_differs = false;
        if mode != "rdb" {
            want.iter_mut().for_each(drop_consumer_times);
            want.iter_mut().for_each(drop_dangling_pending);
            for k in want.iter_mut() {
                digest_differs |= zero_negative_zero(k);
            }
        }
        cases.push(Case {
            out: out_path,
            want,
            source: rdb,
            digest_differs,
        });
    }
    (cases, refused)
}

fn check(server: &str, version: u32, mode: &str) {
    let scratch = std::env::temp_dir().join(format!(
        "redkit-rewrite-{mode}-{version}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let (cases, refused) = rewrite_all(&scratch, version, mode);
    assert!(cases.len() >= 85, "{} rewritten", cases.len());
    let outs: Vec<PathBuf> = cases.iter().map(|c| c.out.clone()).collect();
    let load_mode = if mode == "resp" { "pipe" } else { "aof" };
    let Some(loaded) = load_many(server, load_mode, &outs) else {
        return;
    };
    // The sources this server can load itself, for DEBUG DIGEST.
    let sources: Vec<PathBuf> = cases
        .iter()
        .map(|c| c.source.clone())
        .filter(|s| rdb_version(s) <= version)
        .collect();
    let direct = load_many(server, "rdb", &sources).unwrap();
    let digests: HashMap<String, String> = direct
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(p, v)| Some((p.clone(), v["digest"].as_str()?.to_string())))
        .collect();
    let (mut digest_checked, mut streams) = (0, 0);
    for c in &cases {
        let got = &loaded[c.out.to_str().unwrap()];
        assert!(
            got.get("error").is_none(),
            "{server} refuses {}: {}",
            c.out.display(),
            got["error"]
        );
        let keys = got["keys"].as_array().unwrap();
        for (g, w) in keys.iter().zip(&c.want) {
            let (mut g, mut w) = (g.clone(), w.clone());
            if mode != "rdb" {
                drop_consumer_times(&mut g);
                zero_negative_zero(&mut g);
            }
            align_streams(&mut g, &mut w);
            assert_same_key(&g, &w, &c.out.display().to_string());
            streams += usize::from(g["type"] == "stream");
        }
        assert_eq!(keys.len(), c.want.len(), "{}", c.out.display());
        if let Some(d) = digests
            .get(c.source.to_str().unwrap())
            .filter(|_| !c.digest_differs)
        {
            assert_eq!(
                got["digest"].as_str().unwrap(),
                d,
                "{}: DEBUG DIGEST differs from the source's",
                c.out.display()
            );
            digest_checked += 1;
        }
    }
    eprintln!(
        "{server} {mode}: {} outputs loaded and compared ({streams} streams), {digest_checked} \
         digests equal to the source's, {refused} refused",
        cases.len()
    );
    assert!(digest_checked >= 40 || !servers_required());
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn rdb_base_loads_in_redis_7_0() {
    check("redis-7.0", 10, "rdb");
}

#[test]
fn command_base_loads_in_redis_7_0() {
    check("redis-7.0", 10, "aof");
}

#[test]
fn rdb_base_loads_in_valkey_8_1() {
    check("valkey-8.1", 11, "rdb");
}

#[test]
fn command_base_loads_in_valkey_8_1() {
    check("valkey-8.1", 11, "aof");
}

#[test]
fn resp_piped_into_redis_7_0() {
    check("redis-7.0", 10, "resp");
}

#[test]
fn refusals_write_nothing_even_to_stdout() {
    let src = testdata().join("rdb/redis-7.4.1/full.rdb");
    let out = redkit(&[
        "rewrite",
        src.to_str().unwrap(),
        "--format",
        "resp",
        "-o",
        "-",
        "--target",
        "redis-7.0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{} bytes written", out.stdout.len());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hash field TTLs"));
    let dir = std::env::temp_dir().join(format!("redkit-rw-refuse-{}", std::process::id()));
    let out = redkit(&[
        "rewrite",
        src.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
        "--target",
        "redis-7.0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.exists());
    // No temporary directory is left beside it either.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("temp-redkit-rw-refuse-{}", std::process::id()))
        })
        .count();
    assert_eq!(leftovers, 0);
}
