//! `redkit restore-points` on a multi-part AOF written by Redis 7.4.1 with
//! `aof-timestamp-enabled yes`: the points equal the truth recorded from that server's files.

mod common;

use common::{redkit, testdata};
use serde_json::Value;

#[test]
fn points_match_the_recorded_annotations() {
    let case = testdata().join("aof/redis-7.4.1/mp-timestamped");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(case.join("truth.json")).unwrap()).unwrap();
    let want = truth["ts_annotations"].as_array().unwrap();
    assert!(want.len() >= 6);
    let out = redkit(&[
        "restore-points",
        "--json",
        case.join("appendonlydir").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = r["restore_points"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["unix"], w["ts"]);
        assert_eq!(g["offset"], w["offset"]);
        assert_eq!(g["file"], w["file"]);
    }
    // The commands between points add up to every command of the log.
    let total: u64 = got
        .iter()
        .map(|p| p["commands_before"].as_u64().unwrap())
        .sum();
    let check = redkit(&[
        "check-aof",
        "--json",
        case.join("appendonlydir").to_str().unwrap(),
    ]);
    let c: Value = serde_json::from_slice(&check.stdout).unwrap();
    let commands: u64 = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["commands"].as_u64().unwrap())
        .sum();
    assert!(total <= commands && total > 0, "{total} of {commands}");

    // Grouped by hour: one group holding all six.
    let out = redkit(&[
        "restore-points",
        "--json",
        "--every",
        "1h",
        case.join("appendonlydir").to_str().unwrap(),
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = r["restore_points"].as_array().unwrap();
    let n: u64 = groups.iter().map(|g| g["points"].as_u64().unwrap()).sum();
    assert_eq!(n, want.len() as u64);
    // A bad interval is a usage error.
    assert_eq!(
        redkit(&["restore-points", "--every", "5x", "."])
            .status
            .code(),
        Some(2)
    );
}
