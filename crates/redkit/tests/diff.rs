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
