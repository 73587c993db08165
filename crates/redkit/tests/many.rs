//! `check-rdb`, `analyze` and `digest` over several files at once: each file's report is the
//! one it gets alone, the total adds them up, and the exit status is the worst.

mod common;

use common::{assert_schema, redkit, testdata};
use serde_json::Value;

#[test]
fn several_files_are_checked_as_each_alone() {
    let files = fixtures(&["rdb/redis-7.0.15", "rdb/redis-6.0.9"]);
    assert!(files.len() > 10);
    let mut args = vec!["check-rdb", "--json"];
    args.extend(files.iter().map(String::as_str));
    let o = redkit(&args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the corrupt one makes the exit status"
    );
    let all: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema("check-rdb-many", &all);
    let reports = all["files"].as_array().unwrap();
    assert_eq!(reports.len(), files.len());
    let mut keys = 0;
    for (f, r) in files.iter().zip(reports) {
        let alone = redkit(&["check-rdb", "--json", f]);
        let mut want: Value = serde_json::from_slice(&alone.stdout).unwrap();
        let mut got = r.clone();
        // The time the check ran at may differ by a second.
        for v in [&mut want, &mut got] {
            v.as_object_mut().unwrap().remove("expired_keys");
        }
        assert_eq!(got, want, "{f}");
        assert_schema("check-rdb", r);
        keys += r["keys"].as_u64().unwrap();
    }
    assert_eq!(all["total"]["keys"], keys);
    assert_eq!(all["total"]["valid"], (files.len() - 1) as u64);
    // All sound: exit 0; the table has a row each and a total.
    let o = redkit(&["check-rdb", &files[0], &files[1]]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("2 files") && text.contains("2 valid"),
        "{text}"
    );
    // --salvage takes one file.
    let o = redkit(&[
        "check-rdb",
        &files[0],
        &files[1],
        "--salvage",
        "/tmp/never-written.rdb",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// The RDB fixtures of `dirs`, and a corrupt file last.
fn fixtures(dirs: &[&str]) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for dir in dirs {
        for f in common::files_with_suffix(&testdata().join(dir), ".rdb") {
            files.push(f.to_str().unwrap().to_string());
        }
    }
    files.push(
        testdata()
            .join("corrupt/bad_magic.rdb")
            .to_str()
            .unwrap()
            .to_string(),
    );
    files
}

/// `analyze` over several files: each report is the one the file gets alone, the total adds
/// them up, the exit status is the worst; --keys and --html take one file.
#[test]
fn several_files_are_analyzed_as_each_alone() {
    let files = fixtures(&["rdb/redis-7.0.15", "rdb/valkey-8.1.8"]);
    assert!(files.len() > 20);
    let mut args = vec!["analyze", "--json", "-q", "--now", "1700000000"];
    args.extend(files.iter().map(String::as_str));
    let o = redkit(&args);
    assert_eq!(o.status.code(), Some(1), "the corrupt one");
    let all: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema("analyze-many", &all);
    let reports = all["files"].as_array().unwrap();
    assert_eq!(reports.len(), files.len());
    let (mut keys, mut memory) = (0, 0);
    for (f, r) in files.iter().zip(reports) {
        let alone = redkit(&["analyze", "--json", "-q", "--now", "1700000000", f]);
        let want: Value = serde_json::from_slice(&alone.stdout).unwrap();
        assert_eq!(r, &want, "{f}");
        keys += r["total"]["keys"].as_u64().unwrap();
        memory += r["total"]["memory"].as_u64().unwrap();
    }
    assert!(keys > 200);
    assert_eq!(all["total"]["keys"], keys);
    assert_eq!(all["total"]["memory"], memory);
    assert_eq!(all["total"]["files"], files.len() as u64);
    let o = redkit(&["analyze", &files[0], &files[1]]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 files"));
    let o = redkit(&["analyze", &files[0], &files[1], "--keys", "-"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `digest` over several files, RDBs and an AOF: each report is the one the file gets alone,
/// lines as sha1sum prints them, the distinct digests counted, the exit status the worst.
#[test]
fn several_files_are_digested_as_each_alone() {
    let mut files = fixtures(&["rdb/redis-7.0.15", "rdb/valkey-8.1.8"]);
    // The same dataset twice, and a log.
    files.insert(1, files[0].clone());
    let aof = testdata().join("aof/redis-7.0.15");
    let aof = common::files_with_suffix(&aof, ".manifest")
        .into_iter()
        .next()
        .map(|m| m.parent().unwrap().to_str().unwrap().to_string())
        .expect("a multi-part AOF in testdata");
    files.insert(2, aof);
    let mut args = vec!["digest", "--json", "-q"];
    args.extend(files.iter().map(String::as_str));
    let o = redkit(&args);
    assert_eq!(o.status.code(), Some(1), "the corrupt one");
    let all: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema("digest-many", &all);
    let reports = all["files"].as_array().unwrap();
    let mut digests = std::collections::BTreeSet::new();
    let mut keys = 0;
    for (f, r) in files.iter().zip(reports) {
        let alone = redkit(&["digest", "--json", "-q", f]);
        if r["digest"].is_null() {
            assert_eq!(alone.status.code(), Some(1), "{f}");
            assert!(r["error"].as_str().unwrap().contains("offset"), "{r}");
            continue;
        }
        let want: Value = serde_json::from_slice(&alone.stdout).unwrap();
        assert_eq!(r, &want, "{f}");
        digests.insert(r["digest"].as_str().unwrap().to_string());
        keys += r["keys"].as_u64().unwrap();
    }
    assert_eq!(reports[0]["digest"], reports[1]["digest"]);
    assert_eq!(all["total"]["distinct_digests"], digests.len());
    assert_eq!(all["total"]["digested"], (files.len() - 1) as u64);
    assert_eq!(all["total"]["keys"], keys);
    // The lines: digest, two spaces, file.
    let o = redkit(&["digest", &files[0], &files[1]]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let d = reports[0]["digest"].as_str().unwrap();
    assert_eq!(text, format!("{d}  {}\n{d}  {}\n", files[0], files[1]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("all the same digest"));
}
