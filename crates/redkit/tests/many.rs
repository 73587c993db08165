//! `check-rdb` over several files at once: each file's report is the one it gets alone, the
//! total adds them up, and the exit status is the worst.

mod common;

use common::{assert_schema, redkit, testdata};
use serde_json::Value;

#[test]
fn several_files_are_checked_as_each_alone() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["rdb/redis-7.0.15", "rdb/redis-6.0.9"] {
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
