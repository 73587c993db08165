//! `redkit diff`: keys added, removed and changed between two datasets, whatever their form
//! (RDB of any version, AOF), with diff(1)'s exit status.

mod common;

use common::{assert_schema, redkit, redkit_ok, scratch, testdata};
use serde_json::Value;

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// An RDB 10 file of string keys: (name, value, expiry).
fn rdb(keys: &[(&str, &str, Option<i64>)], list: Option<&str>) -> Vec<u8> {
    let mut f = b"REDIS0010\xfe\x00".to_vec();
    for (k, v, ttl) in keys {
        if let Some(ms) = ttl {
            f.push(0xfc);
            f.extend_from_slice(&ms.to_le_bytes());
        }
        f.push(0);
        f.push(k.len() as u8);
        f.extend_from_slice(k.as_bytes());
        f.push(v.len() as u8);
        f.extend_from_slice(v.as_bytes());
    }
    if let Some(k) = list {
        // A plain list of one element.
        f.extend_from_slice(&[1, k.len() as u8]);
        f.extend_from_slice(k.as_bytes());
        f.extend_from_slice(b"\x01\x01x");
    }
    f.push(0xff);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn each_kind_of_difference_is_named() {
    let d = scratch("diff-kinds");
    let (t1, t2) = (Some(4_102_444_800_000), Some(4_102_444_800_001));
    let a = d.join("a.rdb");
    let b = d.join("b.rdb");
    std::fs::write(
        &a,
        rdb(
            &[
                ("k1", "v1", None),
                ("k2", "v2", t1),
                ("k3", "v3", None),
                ("k5", "s", None),
            ],
            None,
        ),
    )
    .unwrap();
    std::fs::write(
        &b,
        rdb(
            &[
                ("k1", "v1", None),
                ("k2", "v2", t2),
                ("k3", "vX", None),
                ("k4", "n", None),
            ],
            Some("k5"),
        ),
    )
    .unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = redkit(&["diff", a, b, "--format", "jsonl"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = lines(&o.stdout);
    for l in &got {
        assert_schema("diff", l);
    }
    let mut summary: Vec<String> = got
        .iter()
        .map(|l| format!("{} {} {} {}", l["change"], l["key"], l["type"], l["what"]))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            r#""added" "k4" "string" null"#,
            r#""changed" "k2" "string" ["ttl"]"#,
            r#""changed" "k3" "string" ["value"]"#,
            r#""changed" "k5" "list" ["type"]"#,
        ]
    );
    let o = redkit(&["diff", a, b, "--format", "jsonl", "--ignore-ttl"]);
    assert_eq!(lines(&o.stdout).len(), 3);
    let o = redkit(&["diff", a, a]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 key(s) the same, 0 different"));
}

/// The same data in other forms is the same; a filtered copy lacks exactly what was left out;
/// a damaged input is an error (2).
#[test]
fn forms_do_not_matter_keys_do() {
    let d = scratch("diff-forms");
    let src = testdata().join("rdb/redis-7.0.15/mixed_all.rdb");
    let s = src.to_str().unwrap();
    let again = d.join("re-encoded.rdb");
    redkit_ok(
        &["convert", s, "-o", again.to_str().unwrap(), "--re-encode"],
        "convert",
    );
    let o = redkit(&["diff", s, again.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let sub = d.join("strings.rdb");
    redkit_ok(
        &[
            "convert",
            s,
            "-o",
            sub.to_str().unwrap(),
            "--type",
            "string",
        ],
        "convert",
    );
    let all = lines(&redkit_ok(&["dump-json", s], "dump").stdout);
    let strings = all.iter().filter(|k| k["type"] == "string").count();
    let o = redkit(&["diff", s, sub.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    let got = lines(&o.stdout);
    assert_eq!(got.len(), all.len() - strings);
    assert!(got
        .iter()
        .all(|l| l["change"] == "removed" && l["type"] != "string"));
    // A log against the snapshot replayed from it.
    let aof = testdata().join("aof/redis-7.0.15/mp-preamble/appendonlydir");
    let rdb = d.join("replayed.rdb");
    let a = aof.to_str().unwrap();
    redkit_ok(
        &["aof-to-rdb", a, "-o", rdb.to_str().unwrap(), "-q"],
        "aof-to-rdb",
    );
    let o = redkit(&["diff", a, rdb.to_str().unwrap(), "-q"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = redkit(&[
        "diff",
        a,
        rdb.to_str().unwrap(),
        "-q",
        "--until-a",
        "1796137210",
    ]);
    assert_eq!(o.status.code(), Some(1), "the log cut earlier holds less");
    let mut cut = std::fs::read(&src).unwrap();
    cut.truncate(cut.len() / 2);
    let cut_f = d.join("cut.rdb");
    std::fs::write(&cut_f, cut).unwrap();
    let o = redkit(&["diff", s, cut_f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be compared"));
}

/// Each key's memory, on both sides, is what `redkit analyze` counts for it (read element by
/// element here, with blobs skipped there); `--bytes base64` writes keys in base64.
#[test]
fn memory_is_analyzes() {
    let d = scratch("diff-memory");
    let a = d.join("a.rdb");
    std::fs::write(&a, rdb(&[("only-in-a", "v", None)], None)).unwrap();
    for file in [
        "rdb/redis-7.0.15/mixed_all.rdb",
        "rdb/valkey-8.1.8/mixed_all.rdb",
        "rdb/redis-6.2.14/mixed_all.rdb",
    ] {
        let b = testdata().join(file);
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let o = redkit(&["diff", a, b, "--format", "jsonl", "--bytes", "base64"]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o2 = redkit_ok(
            &["analyze", b, "--keys", "-", "--bytes", "base64", "-q"],
            "analyze",
        );
        let mut want = std::collections::HashMap::new();
        for r in lines(&o2.stdout) {
            want.insert((r["db"].clone(), r["key"].clone()), r["memory"].clone());
        }
        let mut added = 0;
        for l in lines(&o.stdout) {
            assert_schema("diff", &l);
            assert!(l["key"].is_string(), "{l}");
            match l["change"].as_str().unwrap() {
                "added" => {
                    added += 1;
                    assert_eq!(
                        l["memory_b"],
                        want[&(l["db"].clone(), l["key"].clone())],
                        "{file}: {l}"
                    );
                    assert!(l["memory_a"].is_null());
                }
                "removed" => assert!(l["memory_a"].as_u64().unwrap() > 0),
                other => panic!("{other}"),
            }
        }
        assert_eq!(added, want.len(), "{file}");
    }
}

/// The same hash stored as a listpack (written by a server allowed long listpack values) and
/// as a hashtable: the same values (exit 0), different encodings at load with
/// --compare-encoding.
#[test]
fn encodings_differ_only_when_asked() {
    let d = scratch("diff-encoding");
    let script = r#"
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
import servers
for name, extra in (("plain.rdb", []), ("packed.rdb", ["hash-max-listpack-value 1024"])):
    with servers.running_server("redis-7.0", extra_config=extra) as srv:
        c = srv.client()
        c.hset("h", mapping={"f": "v" * 300, "g": "1"})
        c.set("s", "x")
        c.execute_command("SAVE")
        shutil.copyfile(srv.rdb_path, os.path.join(sys.argv[2], name))
"#;
    let gen = testdata().join("gen");
    let o = std::process::Command::new("python3")
        .args(["-c", script, gen.to_str().unwrap(), d.to_str().unwrap()])
        .output()
        .unwrap();
    if !o.status.success() {
        assert!(
            !common::servers_required(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        return;
    }
    let (a, b) = (d.join("plain.rdb"), d.join("packed.rdb"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = redkit(&["diff", a, b]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = redkit(&["diff", a, b, "--compare-encoding", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    let got = lines(&o.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_schema("diff", &got[0]);
    assert_eq!(got[0]["key"], "h");
    assert_eq!(got[0]["what"], serde_json::json!(["encoding"]));
    assert_eq!(
        (got[0]["encoding_a"].as_str(), got[0]["encoding_b"].as_str()),
        (Some("hashtable"), Some("listpack"))
    );
    assert!(got[0]["memory_a"].as_u64() > got[0]["memory_b"].as_u64());
}

/// Scripted edits on a live server between two SAVEs (keys added and removed, values changed,
/// TTLs set and removed, a type changed, stream entries added; `testdata/gen/diff_edits.py`)
/// are reported exactly as the script made them; the same data loaded by another process and
/// saved again without compression, or with LFU counters (its keys in another order), is the
/// same. On every server installed here.
#[test]
fn scripted_edits_are_reported_exactly() {
    for server in ["redis-7.0", "valkey-8.1", "redis-6.2", "redis-6.0"] {
        let d = scratch(&format!("diff-edits-{server}"));
        let o = std::process::Command::new("python3")
            .arg(testdata().join("gen/diff_edits.py"))
            .args([server, d.to_str().unwrap()])
            .output()
            .unwrap();
        if !o.status.success() {
            assert!(
                !common::servers_required(),
                "{server}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            continue;
        }
        let f = |n: &str| d.join(n).to_str().unwrap().to_string();
        let o = redkit(&[
            "diff",
            &f("before.rdb"),
            &f("after.rdb"),
            "--format",
            "jsonl",
        ]);
        assert_eq!(o.status.code(), Some(1), "{server}");
        let mut got: Vec<String> = lines(&o.stdout)
            .iter()
            .map(|l| {
                assert_schema("diff", l);
                format!("{} {} {}", l["change"], l["key"], l["what"])
            })
            .collect();
        let expected: Value =
            serde_json::from_slice(&std::fs::read(d.join("expected.json")).unwrap()).unwrap();
        let mut want: Vec<String> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {} {}", e["change"], e["key"], e["what"]))
            .collect();
        got.sort();
        want.sort();
        assert!(want.len() >= 13);
        assert_eq!(got, want, "{server}");
        for other in ["uncompressed.rdb", "lfu.rdb"] {
            let o = redkit(&["diff", &f("before.rdb"), &f(other)]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{server}: {other}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
    }
}

/// Every RDB of testdata/ against its `convert --re-encode`, its `rewrite` (a multi-part AOF
/// directory) and the `aof-to-rdb` of that directory: no difference.
#[test]
fn conversions_of_every_fixture_are_the_same() {
    let d = scratch("diff-conversions");
    let mut checked = 0;
    for dir in std::fs::read_dir(testdata().join("rdb")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in common::files_with_suffix(&dir, ".rdb") {
            let s = f.to_str().unwrap();
            let re = d.join("re.rdb");
            let aof = d.join("appendonlydir");
            let back = d.join("back.rdb");
            let o = redkit(&[
                "convert",
                s,
                "-o",
                re.to_str().unwrap(),
                "--re-encode",
                "--force",
                "-q",
            ]);
            if o.status.code() != Some(0) {
                // A file convert refuses (a module value): nothing to compare.
                continue;
            }
            let o = redkit(&["rewrite", s, "-o", aof.to_str().unwrap(), "--force", "-q"]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{s}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            redkit_ok(
                &[
                    "aof-to-rdb",
                    aof.to_str().unwrap(),
                    "-o",
                    back.to_str().unwrap(),
                    "--force",
                    "-q",
                ],
                "aof-to-rdb",
            );
            for other in [&re, &aof, &back] {
                let o = redkit(&[
                    "diff",
                    s,
                    other.to_str().unwrap(),
                    "-q",
                    "--format",
                    "jsonl",
                ]);
                assert_eq!(
                    o.status.code(),
                    Some(0),
                    "{s} against {}: {}{}",
                    other.display(),
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked}");
}
