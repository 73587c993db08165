//! `redkit convert`: every RDB of `testdata/rdb/`, converted to RDB 9, 10 and 11, loads in a
//! real server of that version (Redis 6.2, Redis 7.0, Valkey 8.1) with the dataset of the
//! source's truth file (read from the server that wrote the source), compared key by key:
//! values, expiries, databases, streams with their groups, PELs and consumers. Stream metadata
//! an older stream version cannot store is dropped with `--lossy stream-meta` (and left out of
//! the comparison where the loading server does not report it). What a target cannot hold is
//! refused with exit 1 and the list.

mod common;

use common::{
    align_streams, comparable, files_with_suffix, load_many, rdb_version, redkit, redkit_ok,
    servers_required as required, testdata,
};
use serde_json::Value;
use std::path::PathBuf;

#[test]
fn converted_files_load_with_the_source_dataset() {
    convert_and_load(false);
}

/// ...and with --re-encode every value goes through the decoder and the encoder.
#[test]
fn re_encoded_files_load_with_the_source_dataset() {
    convert_and_load(true);
}

fn convert_and_load(re_encode: bool) {
    let scratch =
        std::env::temp_dir().join(format!("redkit-convert-{re_encode}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let sources = files_with_suffix(&testdata().join("rdb"), ".truth.json");
    assert!(sources.len() >= 90);
    let mut compared = 0;
    let mut refused = 0;
    let mut streams = 0;
    let mut copied_total = 0u64;
    let mut digests = 0;
    for (version, server) in [(9, "redis-6.2"), (10, "redis-7.0"), (11, "valkey-8.1")] {
        let mut batch = Vec::new();
        for t in &sources {
            let rdb = PathBuf::from(t.to_string_lossy().replace(".truth.json", ".rdb"));
            let truth: Value = serde_json::from_slice(&std::fs::read(t).unwrap()).unwrap();
            let name = format!(
                "{}-{}-v{version}.rdb",
                rdb.parent().unwrap().file_name().unwrap().to_string_lossy(),
                rdb.file_stem().unwrap().to_string_lossy()
            );
            let out_path = scratch.join(name);
            let v = version.to_string();
            let mut args = vec![
                "convert",
                rdb.to_str().unwrap(),
                "-o",
                out_path.to_str().unwrap(),
                "--rdb-version",
                &v,
                "--lossy",
                "stream-meta",
            ];
            if re_encode {
                args.push("--re-encode");
            }
            let out = redkit(&args);
            let copied = String::from_utf8_lossy(&out.stderr)
                .split(" key(s) (")
                .nth(1)
                .and_then(|t| t.split(' ').next()?.parse::<u64>().ok())
                .unwrap_or(0);
            copied_total += copied;
            let keys = truth["keys"].as_array().unwrap();
            let unsupported = keys.iter().any(|k| {
                k["value"]
                    .as_array()
                    .is_some_and(|v| k["type"] == "hash" && v.iter().any(|f| !f[2].is_null()))
            }) || (version < 10
                && truth["functions"].as_array().is_some_and(|f| !f.is_empty()));
            if unsupported {
                assert_eq!(out.status.code(), Some(1), "{}", rdb.display());
                assert!(!out_path.exists());
                refused += 1;
                continue;
            }
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} to {version}: {}",
                rdb.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            // Our own reader accepts it (CRC, structure).
            let check = redkit(&["check-rdb", out_path.to_str().unwrap()]);
            assert_eq!(check.status.code(), Some(0), "{}", out_path.display());
            batch.push((out_path, comparable(&truth["keys"]), rdb));
        }
        let files: Vec<PathBuf> = batch.iter().map(|(p, _, _)| p.clone()).collect();
        let Some(loaded) = load_many(server, "rdb", &files) else {
            continue;
        };
        // The sources this server loads itself: their DEBUG DIGEST must be the converted one's.
        let sources: Vec<PathBuf> = batch
            .iter()
            .map(|(_, _, src)| src.clone())
            .filter(|src| rdb_version(src) <= version)
            .collect();
        let direct = load_many(server, "rdb", &sources).unwrap();
        for (path, want, src) in &batch {
            let got = &loaded[path.to_str().unwrap()];
            assert!(
                got.get("error").is_none(),
                "{server} refuses {}: {}",
                path.display(),
                got["error"]
            );
            if let Some(d) = direct[src.to_str().unwrap()]["digest"].as_str() {
                assert_eq!(got["digest"], d, "{}: DEBUG DIGEST", path.display());
                digests += 1;
            }
            let got = got["keys"].as_array().unwrap();
            for (g, w) in got.iter().zip(want) {
                let (mut g, mut w) = (g.clone(), w.clone());
                align_streams(&mut g, &mut w);
                assert_eq!(g, w, "{}: first differing key", path.display());
                streams += usize::from(g["type"] == "stream");
            }
            assert_eq!(got.len(), want.len(), "{}", path.display());
            compared += 1;
        }
    }
    eprintln!(
        "{compared} conversions loaded and compared ({streams} streams, {copied_total} keys \
         copied as stored, {digests} DEBUG DIGESTs equal to the source's), {refused} refused"
    );
    assert!(digests >= 150 || !required(), "{digests} digests compared");
    if re_encode {
        assert_eq!(copied_total, 0);
    } else {
        assert!(copied_total > 1000, "{copied_total} keys copied");
    }
    assert!(compared >= 170 || !required(), "{compared} compared");
    assert!(streams >= 50 || !required(), "{streams} streams compared");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn refusals_list_what_the_target_cannot_hold() {
    let src = testdata().join("rdb/redis-7.4.1/full.rdb");
    let out_path = std::env::temp_dir().join(format!("redkit-refuse-{}.rdb", std::process::id()));
    let out = redkit(&[
        "convert",
        src.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
        "--target",
        "valkey-8",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing written") && err.contains("hash field TTLs"),
        "{err}"
    );
    assert!(!out_path.exists());
    assert_eq!(
        redkit(&["convert", "x.rdb", "-o", "y.rdb", "--rdb-version", "13"])
            .status
            .code(),
        Some(2)
    );
}

/// The keys of an RDB as dump-json reads them, without encodings, in a canonical order.
fn dataset(path: &std::path::Path) -> Vec<Value> {
    let out = redkit(&["dump-json", "--bytes", "base64", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", path.display());
    let mut keys: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("encoding");
            if o["type"] == "set" || o["type"] == "zset" {
                let arr = o["value"].as_array_mut().unwrap();
                arr.sort_by_key(|x| x.to_string());
            }
            v
        })
        .collect();
    keys.sort_by_key(|k| (k["db"].as_u64(), k["key"].to_string()));
    keys
}

/// RDB 12 (Redis 7.4) and 80 (Valkey 9) cannot be loaded by a server here: the Redis 7.2 and
/// 7.4 files (hash field TTLs, streams v3) and Valkey 8.1's, converted to each, read back by
/// our reader (whose agreement with the servers' truth files is tested elsewhere) with the
/// same keys, values, expiries, field TTLs and streams.
#[test]
fn rdb_12_and_valkey_80_outputs_read_back_as_the_source() {
    let scratch = common::scratch("convert12");
    let mut n = 0;
    for dir in ["redis-7.4.1", "redis-7.2.6", "valkey-8.1.8"] {
        for src in files_with_suffix(&testdata().join("rdb").join(dir), ".rdb") {
            let want = dataset(&src);
            for (target, mode) in [
                ("12", ""),
                ("80", ""),
                ("12", "--re-encode"),
                ("80", "--re-encode"),
            ] {
                let out_path = scratch.join(format!("{target}.rdb"));
                let mut args = vec![
                    "convert",
                    src.to_str().unwrap(),
                    "-o",
                    out_path.to_str().unwrap(),
                    "--force",
                    "--rdb-version",
                    target,
                ];
                if !mode.is_empty() {
                    args.push(mode);
                }
                let out = redkit(&args);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{} to {target}: {}",
                    src.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                let head = std::fs::read(&out_path).unwrap()[..9].to_vec();
                let magic: &[u8] = if target == "12" {
                    b"REDIS0012"
                } else {
                    b"VALKEY080"
                };
                assert_eq!(head, magic);
                let got = dataset(&out_path);
                assert_eq!(got.len(), want.len(), "{} to {target}", src.display());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g, w, "{} to {target}", src.display());
                }
                n += 1;
            }
        }
    }
    assert!(n >= 100, "{n} conversions");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Without --lossy, stream metadata an older stream version cannot store is refused; with
/// `--lossy field-ttls`, a Redis 7.4 file loads in Valkey 8.1 with every field, and the keys
/// whose TTLs went are listed.
#[test]
fn lossy_conversions_say_what_they_drop() {
    let scratch = common::scratch("lossy");
    let out_path = scratch.join("out.rdb");
    let o = out_path.to_str().unwrap();

    let groups = testdata().join("rdb/redis-7.0.15/stream_stream_groups.rdb");
    let out = redkit(&[
        "convert",
        groups.to_str().unwrap(),
        "-o",
        o,
        "--target",
        "redis-6.2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("group entries-read") && err.contains("\"stream:groups\""),
        "{err}"
    );
    assert!(!out_path.exists());

    let src = testdata().join("rdb/redis-7.4.1/full.rdb");
    let truth: Value = serde_json::from_slice(
        &std::fs::read(testdata().join("rdb/redis-7.4.1/full.truth.json")).unwrap(),
    )
    .unwrap();
    let out = redkit(&[
        "convert",
        src.to_str().unwrap(),
        "-o",
        o,
        "--target",
        "valkey-8",
        "--lossy",
        "field-ttls",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let with_ttls: Vec<String> = truth["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            k["type"] == "hash"
                && k["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| !f[2].is_null())
        })
        .map(|k| k["key_repr"].as_str().unwrap().to_string())
        .collect();
    assert!(!with_ttls.is_empty());
    assert!(
        err.contains(&format!("dropped (--lossy), {} item(s)", with_ttls.len())),
        "{err}"
    );
    for k in &with_ttls {
        assert!(err.contains(&format!("\"{k}\"")), "{k} not listed: {err}");
    }
    // Valkey 8.1 loads it with every field of every hash, the TTLs gone.
    let Some(loaded) = load_many("valkey-8.1", "rdb", std::slice::from_ref(&out_path)) else {
        return;
    };
    let got = loaded[o]["keys"].as_array().expect("loaded");
    let mut want = comparable(&truth["keys"]);
    for k in &mut want {
        if k["type"] == "hash" {
            for f in k["value"].as_array_mut().unwrap() {
                f[2] = Value::Null;
            }
        }
    }
    for (g, w) in got.iter().zip(&want) {
        let (mut g, mut w) = (g.clone(), w.clone());
        align_streams(&mut g, &mut w);
        assert_eq!(g, w);
    }
    assert_eq!(got.len(), want.len());
    let _ = std::fs::remove_dir_all(&scratch);
}

/// RESIZEDB hints are kept when every key of every database is (they are the source's counts),
/// and left out when a filter or --db-map makes them wrong.
#[test]
fn size_hints_follow_the_databases() {
    let src = testdata().join("rdb/redis-7.0.15/misc_multidb.rdb");
    let dir = common::scratch("hints");
    let hints = |extra: &[&str], name: &str| -> Vec<Value> {
        let out = dir.join(name);
        let mut args = vec![
            "convert",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--force",
        ];
        args.extend(extra);
        assert_eq!(redkit(&args).status.code(), Some(0));
        let report = redkit(&["check-rdb", "--json", out.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&report.stdout).unwrap();
        v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["resize_hint"].clone())
            .collect()
    };
    let source: Value =
        serde_json::from_slice(&redkit(&["check-rdb", "--json", src.to_str().unwrap()]).stdout)
            .unwrap();
    let want: Vec<Value> = source["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["resize_hint"].clone())
        .collect();
    assert!(want.iter().all(|h| !h.is_null()));
    for (extra, name) in [
        (&[][..], "same.rdb"),
        (&["--rdb-version", "11"][..], "v11.rdb"),
    ] {
        assert_eq!(hints(extra, name), want, "{name}");
    }
    for (extra, name) in [
        (&["--db", "1"][..], "db1.rdb"),
        (&["--db-map", "1:3"][..], "map.rdb"),
    ] {
        assert!(hints(extra, name).iter().all(Value::is_null), "{name}");
    }
    // Databases 0 and 1 both hold "same-name": merged, a server would refuse the file.
    let merged = dir.join("merged.rdb");
    let o = redkit(&[
        "convert",
        src.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
        "--db-map",
        "1:0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("same-name") || err.contains("Duplicate key"),
        "{err}"
    );
    assert!(!merged.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The node bytes of each stream of `path` (db, key, nodes as stored), as the parser places
/// them.
fn stream_nodes(path: &std::path::Path) -> Vec<(u64, Vec<u8>, Vec<u8>)> {
    let data = std::fs::read(path).unwrap();
    let mut p = rdb_parse::Parser::new(&data[..]);
    p.stream_nodes_as_stored(true);
    let mut key = (0, Vec::new());
    let mut found = Vec::new();
    while let Some(ev) = p.next_event().unwrap() {
        match ev {
            rdb_parse::Event::KeyStart(info) => key = (info.db, info.key.to_vec()),
            rdb_parse::Event::StreamMeta(m) => {
                let n = m.stored_nodes.expect("nodes placed");
                let at = n.offset as usize;
                found.push((key.0, key.1.clone(), data[at..at + n.len as usize].to_vec()));
            }
            _ => {}
        }
    }
    found
}

/// A stream whose stream version changes (RDB 10's version 2 to RDB 11's version 3, and
/// back) keeps its nodes byte for byte, deleted entries and the server's compression
/// included: they are copied as stored and only the metadata is written anew. (That the
/// servers load such files with the source's dataset is checked above.)
#[test]
fn streams_keep_their_nodes_as_stored_across_stream_versions() {
    let scratch = common::scratch("nodes");
    let mut streams = 0;
    for (src, version) in [
        ("redis-7.0.15/stream_stream.rdb", "11"),
        ("redis-7.0.15/stream_stream_groups.rdb", "12"),
        ("valkey-8.1.8/stream_stream.rdb", "10"),
        ("valkey-8.1.8/stream_stream_groups.rdb", "10"),
    ] {
        let src = testdata().join("rdb").join(src);
        let out = scratch.join(format!("{streams}-{version}.rdb"));
        redkit_ok(
            &[
                "convert",
                src.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--rdb-version",
                version,
                "--lossy",
                "stream-meta",
            ],
            &src.display().to_string(),
        );
        assert_eq!(rdb_version(&out).to_string(), version);
        let (want, got) = (stream_nodes(&src), stream_nodes(&out));
        assert!(!want.is_empty(), "{}", src.display());
        assert_eq!(got.len(), want.len(), "{}", src.display());
        for ((db, key, nodes), (wdb, wkey, wnodes)) in got.iter().zip(&want) {
            assert_eq!((db, key), (wdb, wkey), "{}", src.display());
            assert!(
                nodes == wnodes,
                "{} to RDB {version}: stream {}: {} bytes of nodes written for {} stored",
                src.display(),
                String::from_utf8_lossy(key),
                nodes.len(),
                wnodes.len()
            );
        }
        streams += want.len();
    }
    assert!(streams >= 10, "{streams} streams");
}
