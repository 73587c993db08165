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
/// are reported exactly as the script made them, and with --detail each changed collection's
/// elements (fields, members and scores, list indexes, stream entries and groups); the same data loaded by another process and
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
        // --detail: the elements the edits touched, exactly, and nothing else.
        let o = redkit(&[
            "diff",
            &f("before.rdb"),
            &f("after.rdb"),
            "--format",
            "jsonl",
            "--detail",
        ]);
        assert_eq!(o.status.code(), Some(1), "{server}");
        let got = lines(&o.stdout);
        let mut detailed = 0;
        for e in expected.as_array().unwrap() {
            let line = got
                .iter()
                .find(|l| l["key"] == e["key"])
                .unwrap_or_else(|| panic!("{server}: {} missing", e["key"]));
            assert_schema("diff", line);
            let Some(want) = e.get("detail") else {
                assert!(line.get("detail").is_none(), "{server}: {line}");
                continue;
            };
            detailed += 1;
            let d = &line["detail"];
            let want = want.as_array().unwrap();
            let count = |c: &str| want.iter().filter(|w| w["change"] == c).count() as u64;
            for c in ["added", "removed", "changed"] {
                assert_eq!(d[c].as_u64(), Some(count(c)), "{server}: {c}: {line}");
            }
            assert_eq!(d["complete"], true);
            let listed = d["elements"].as_array().unwrap();
            assert_eq!(listed.len(), want.len(), "{server}: {line}");
            for (g, w) in listed.iter().zip(want) {
                for (k, v) in w.as_object().unwrap() {
                    match v.as_f64() {
                        Some(x) if k.starts_with("score") => {
                            assert_eq!(g[k].as_f64(), Some(x), "{server}: {k}: {g} {w}")
                        }
                        _ => assert_eq!(&g[k], v, "{server}: {k}: {g} against {w}"),
                    }
                }
            }
        }
        assert_eq!(detailed, 5, "{server}");
        // The same elements when the second side is a log (replayed).
        let aof = d.join("after-aof");
        let o = redkit(&["rewrite", &f("after.rdb"), "-o", aof.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = redkit(&[
            "diff",
            &f("before.rdb"),
            aof.to_str().unwrap(),
            "--format",
            "jsonl",
            "--detail",
            "-q",
        ]);
        let mut from_log: Vec<String> = lines(&o.stdout)
            .iter()
            .map(|l| format!("{} {}", l["key"], l["detail"]))
            .collect();
        let mut from_rdb: Vec<String> = got
            .iter()
            .map(|l| format!("{} {}", l["key"], l["detail"]))
            .collect();
        from_log.sort();
        from_rdb.sort();
        assert_eq!(from_log, from_rdb, "{server}");
        // Bounded: one element listed, the counts still exact; one key detailed.
        let o = redkit(&[
            "diff",
            &f("before.rdb"),
            &f("after.rdb"),
            "--format",
            "jsonl",
            "--detail",
            "--detail-elements",
            "1",
            "--detail-keys",
            "1",
        ]);
        let got = lines(&o.stdout);
        let with: Vec<&Value> = got.iter().filter(|l| l.get("detail").is_some()).collect();
        assert_eq!(with.len(), 1, "{server}");
        let d = &with[0]["detail"];
        assert_eq!(d["elements"].as_array().unwrap().len(), 1);
        let total: u64 = ["added", "removed", "changed"]
            .iter()
            .map(|c| d[c].as_u64().unwrap())
            .sum();
        assert_eq!(d["complete"], total == 1, "{server}: {d}");
        assert!(total >= 2, "{server}: {d}");
        // The table names the elements too.
        let o = redkit(&["diff", &f("before.rdb"), &f("after.rdb"), "--detail"]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("+ field \"f20\""), "{server}: {text}");
        assert!(
            text.contains("~ member \"m3\" (score): score 1 -> 99"),
            "{server}: {text}"
        );
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

/// Hash field expiries are compared (`field_ttl`), field by field with --detail: the Redis 7.4
/// file against its conversion for Redis 7.0 with the field TTLs dropped differs in exactly the
/// hashes and fields its truth file gives a TTL, and not at all with --ignore-ttl.
#[test]
fn field_ttls_are_compared() {
    let dir = testdata().join("rdb/redis-7.4.1");
    let src = dir.join("full.rdb");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("full.truth.json")).unwrap()).unwrap();
    let hex = |s: &str| -> String {
        let b: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        String::from_utf8(b).unwrap()
    };
    // Per key with field TTLs: (field, expiry) pairs, from the truth file.
    let mut want: Vec<(String, Vec<(String, i64)>)> = Vec::new();
    for k in truth["keys"].as_array().unwrap() {
        if k["type"] != "hash" {
            continue;
        }
        let mut fields: Vec<(String, i64)> = k["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| !f[2].is_null())
            .map(|f| (hex(f[0].as_str().unwrap()), f[2].as_i64().unwrap()))
            .collect();
        if !fields.is_empty() {
            fields.sort();
            want.push((hex(k["key"].as_str().unwrap()), fields));
        }
    }
    want.sort();
    assert!(want.len() >= 3);
    let d = scratch("diff-field-ttls");
    let out = d.join("no-field-ttls.rdb");
    redkit_ok(
        &[
            "convert",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--target",
            "redis-7.0",
            "--lossy",
            "all",
        ],
        "convert",
    );
    let o = redkit(&[
        "diff",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
        "--format",
        "jsonl",
        "--detail",
        "--detail-elements",
        "1000",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let mut got: Vec<(String, Vec<(String, i64)>)> = lines(&o.stdout)
        .iter()
        .map(|l| {
            assert_schema("diff", l);
            assert_eq!(l["what"], serde_json::json!(["field_ttl"]), "{l}");
            let fields = l["detail"]["elements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    assert_eq!(e["what"], serde_json::json!(["ttl"]), "{e}");
                    assert!(e["expire_b"].is_null());
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["expire_a"].as_i64().unwrap(),
                    )
                })
                .collect();
            (l["key"].as_str().unwrap().to_string(), fields)
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    let o = redkit(&[
        "diff",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
        "--ignore-ttl",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
