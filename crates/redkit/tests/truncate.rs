//! `redkit truncate --to`: point-in-time restore, checked on real redis-server 7.0 and
//! valkey-server 8.1 logs that span several seconds (`aof-timestamp-enabled yes`) against
//! `*-check-aof --truncate-to-timestamp`, and by loading every restore point in the server.

mod common;

use common::redkit;
use common::server::{call, copy_dir, flavors, load_dbsize, make_aof, Flavor};
use std::process::Command;
use std::time::Duration;

#[test]
fn restores_each_second_like_redis_and_loads() {
    for flavor in flavors() {
        restore_each_second(&flavor);
    }
}

fn restore_each_second(flavor: &Flavor) {
    // Three batches in three different seconds; the key count after each, as the server saw it.
    let mut seen: Vec<(u64, i64)> = Vec::new();
    let (server, dir) = make_aof("truncate", flavor, |c| {
        for batch in 0..3 {
            // Start each batch just after a second begins, so that no batch straddles two
            // seconds (the server writes a restore point when its clock's second changes).
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            std::thread::sleep(Duration::from_millis(1050 - now.subsec_millis() as u64));
            for i in 0..10 {
                call(c, &["SET", &format!("b{batch}:k{i}"), "v"]);
            }
            call(c, &["MULTI"]);
            call(c, &["INCR", &format!("counter{batch}")]);
            call(c, &["EXEC"]);
            let n: i64 = call(c, &["DBSIZE"])
                .trim()
                .trim_start_matches(':')
                .parse()
                .unwrap();
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            seen.push((secs, n));
        }
    });
    let out = redkit(&["restore-points", "--json", dir.to_str().unwrap()]);
    let pts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pts = pts["restore_points"].as_array().unwrap().clone();
    assert!(pts.len() >= 3, "{pts:?}");
    for (k, p) in pts.iter().enumerate() {
        let t = p["unix"].as_u64().unwrap();
        let target = server.dir.join(format!("restored-{k}"));
        let out = redkit(&[
            "truncate",
            dir.to_str().unwrap(),
            "--to",
            &t.to_string(),
            "-o",
            target.join("appendonlydir").to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // redis-check-aof --truncate-to-timestamp on a copy cuts the same bytes.
        let theirs = server.dir.join(format!("theirs-{k}/appendonlydir"));
        copy_dir(&dir, &theirs);
        let st = Command::new(flavor.check_aof(&server.dir))
            .arg("--truncate-to-timestamp")
            .arg(t.to_string())
            .arg(theirs.join("appendonly.aof.manifest"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stdout)
        );
        let incr = |d: &std::path::Path| {
            std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
                .map(|p| std::fs::read(p).unwrap())
                .unwrap()
        };
        assert_eq!(
            incr(&target.join("appendonlydir")),
            incr(&theirs),
            "restore point {t}"
        );
        // redis-server loads it, with the keys the live server had at that second.
        let n = load_dbsize(&target, flavor).expect("redis-server loads the restored directory");
        let want = seen
            .iter()
            .filter(|(s, _)| *s <= t)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0);
        assert_eq!(
            n, want,
            "keys after restoring to {t} (batches seen: {seen:?})"
        );
    }
    // --in-place on a copy: refused without --yes (no terminal here), then done with it; the
    // result equals the -o result for the same time, and the cut bytes are kept beside it.
    let t = pts[1]["unix"].as_u64().unwrap();
    let copy = server.dir.join("inplace/appendonlydir");
    copy_dir(&dir, &copy);
    let before = std::fs::read(copy.join("appendonly.aof.1.incr.aof")).unwrap();
    let out = redkit(&[
        "truncate",
        copy.to_str().unwrap(),
        "--to",
        &t.to_string(),
        "--in-place",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(copy.join("appendonly.aof.1.incr.aof")).unwrap(),
        before
    );
    let out = redkit(&[
        "truncate",
        copy.to_str().unwrap(),
        "--to",
        &t.to_string(),
        "--in-place",
        "--yes",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read(copy.join("appendonly.aof.1.incr.aof")).unwrap();
    let restored = std::fs::read(
        server
            .dir
            .join("restored-1/appendonlydir/appendonly.aof.1.incr.aof"),
    )
    .unwrap();
    assert_eq!(after, restored);
    let kept =
        std::fs::read(copy.join(format!("appendonly.aof.1.incr.aof.cut-{}", after.len()))).unwrap();
    assert_eq!([after, kept].concat(), before);
    let want = seen
        .iter()
        .filter(|(s, _)| *s <= t)
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    assert_eq!(load_dbsize(&server.dir.join("inplace"), flavor), Ok(want));

    // Before the first point: refused. An existing output: refused.
    let first = pts[0]["unix"].as_u64().unwrap();
    let out = redkit(&[
        "truncate",
        dir.to_str().unwrap(),
        "--to",
        &(first - 10).to_string(),
        "-o",
        server.dir.join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("first restore point"));
    let out = redkit(&[
        "truncate",
        dir.to_str().unwrap(),
        "--to",
        &first.to_string(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}
