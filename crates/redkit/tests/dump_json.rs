//! `redkit dump-json`: schema, filters, byte modes, atomic output, determinism.

mod common;

use common::{files_with_suffix, redkit, testdata};
use serde_json::Value;
use std::path::PathBuf;

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line ({e}): {l}")))
        .collect()
}

fn dump(args: &[&str]) -> Vec<Value> {
    let out = redkit(&[&["dump-json", "-q"], args].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)
}

fn path(rel: &str) -> String {
    testdata().join(rel).to_str().unwrap().to_string()
}

#[test]
fn every_line_of_every_file_is_json_with_the_schema_fields() {
    for f in files_with_suffix(&testdata().join("rdb"), ".rdb") {
        for mode in ["auto", "base64"] {
            for v in dump(&["--bytes", mode, f.to_str().unwrap()]) {
                for field in ["db", "key", "type", "encoding", "value"] {
                    assert!(v.get(field).is_some(), "{}: no {field} in {v}", f.display());
                }
            }
        }
    }
}

#[test]
fn output_is_deterministic() {
    let f = path("rdb/redis-7.4.1/full.rdb");
    let a = redkit(&["dump-json", "-q", &f]);
    let b = redkit(&["dump-json", "-q", &f]);
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn filters_select_the_same_keys_as_filtering_the_full_dump() {
    let f = path("rdb/redis-7.4.1/full.rdb");
    let all = dump(&[&f]);
    let keys = |vs: &[Value]| {
        vs.iter()
            .map(|v| (v["db"].clone(), v["key"].clone()))
            .collect::<Vec<_>>()
    };
    let pick = |pred: &dyn Fn(&Value) -> bool| {
        keys(&all.iter().filter(|v| pred(v)).cloned().collect::<Vec<_>>())
    };

    let by_db = dump(&["--db", "1", "--db", "15", &f]);
    assert!(!by_db.is_empty());
    assert_eq!(keys(&by_db), pick(&|v| v["db"] == 1 || v["db"] == 15));

    let by_glob = dump(&["--key", "hash:*", &f]);
    assert!(by_glob.len() > 3);
    assert_eq!(
        keys(&by_glob),
        pick(&|v| v["key"].as_str().is_some_and(|k| k.starts_with("hash:")))
    );

    let by_regex = dump(&["--key-regex", "^(set|zset):", &f]);
    assert_eq!(
        keys(&by_regex),
        pick(&|v| v["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("set:") || k.starts_with("zset:")))
    );

    let by_type = dump(&["--type", "stream", "--type", "list", &f]);
    assert!(!by_type.is_empty());
    assert_eq!(
        keys(&by_type),
        pick(&|v| v["type"] == "stream" || v["type"] == "list")
    );

    let none = dump(&["--key", "no-such-key-*", &f]);
    assert!(none.is_empty());
}

#[test]
fn field_ttls_are_written_for_hashes_that_have_them() {
    let v = dump(&[
        "--key",
        "hash:hfe:listpack",
        &path("rdb/redis-7.4.1/full.rdb"),
    ]);
    assert_eq!(v.len(), 1);
    let ttls = v[0]["field_expire_at_ms"]
        .as_object()
        .expect("field_expire_at_ms object");
    assert!(!ttls.is_empty());
    let fields = v[0]["value"].as_object().unwrap();
    for f in ttls.keys() {
        assert!(
            fields.contains_key(f),
            "TTL for a field not in the value: {f}"
        );
    }
    let plain = dump(&["--key", "hash:small", &path("rdb/redis-7.4.1/full.rdb")]);
    assert!(plain[0].get("field_expire_at_ms").is_none());
}

/// An RDB 9 file holding one hash (type 4) whose second field name is not UTF-8.
fn binary_field_hash() -> PathBuf {
    let mut body = b"REDIS0009".to_vec();
    body.extend_from_slice(&[4, 1, b'h', 2, 1, b'a', 1, b'1', 2, 0xff, 0xfe, 1, b'2']);
    body.push(0xff);
    let crc = rdb_parse::crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    let p = std::env::temp_dir().join(format!("redkit-binhash-{}.rdb", std::process::id()));
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn byte_modes() {
    let f = binary_field_hash();
    let auto = dump(&[f.to_str().unwrap()]);
    assert_eq!(
        auto[0]["value"],
        serde_json::json!([["a", "1"], [{"base64": "//4="}, "2"]])
    );
    let b64 = dump(&["--bytes", "base64", f.to_str().unwrap()]);
    assert_eq!(b64[0]["key"], "aA==");
    assert_eq!(
        b64[0]["value"],
        serde_json::json!({"YQ==": "MQ==", "//4=": "Mg=="})
    );
    std::fs::remove_file(f).unwrap();
}

#[test]
fn output_file_is_atomic_and_partial_on_error() {
    let dir = common::scratch("dump");
    let good = path("rdb/redis-7.0.15/mixed_all.rdb");
    let out = dir.join("out.jsonl");
    let r = redkit(&["dump-json", "-q", &good, "-o", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        redkit(&["dump-json", "-q", &good]).stdout
    );

    // A truncated file: exit 1, the keys before the fault kept as out2.jsonl.partial.
    let cases: Value =
        serde_json::from_slice(&std::fs::read(testdata().join("corrupt/cases.json")).unwrap())
            .unwrap();
    let case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["what"]
                .as_str()
                .unwrap()
                .starts_with("all records complete")
        })
        .expect("a truncation after the last record");
    let bad = testdata()
        .join("corrupt")
        .join(case["file"].as_str().unwrap());
    let out2 = dir.join("out2.jsonl");
    let r = redkit(&[
        "dump-json",
        "-q",
        bad.to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(!out2.exists());
    let partial = std::fs::read(dir.join("out2.jsonl.partial")).unwrap();
    // Every key of the source is there, since only the EOF opcode and CRC are missing.
    assert_eq!(partial, std::fs::read(&out).unwrap());
    assert!(String::from_utf8_lossy(&r.stderr).contains("truncated at offset"));
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn meta_lines() {
    let v = dump(&["--meta", &path("rdb/redis-7.0.15/function_lua.rdb")]);
    assert_eq!(v[0]["meta"], "rdb");
    assert_eq!(v[0]["version"], 10);
    assert!(v
        .iter()
        .any(|l| l["meta"] == "aux" && l["name"] == "redis-ver" && l["value"] == "7.0.15"));
    assert!(v.iter().any(|l| l["meta"] == "function"
        && l["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("#!lua name="))));
}

#[test]
fn help_has_examples() {
    let out = redkit(&["dump-json", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Examples:") && text.contains("--bytes") && text.contains("--key-regex"));
}
