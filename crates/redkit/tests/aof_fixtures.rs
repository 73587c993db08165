//! The AOF fixtures of `testdata/aof/` (made by `testdata/gen/make_aof.py` with Redis 6.0, 6.2,
//! 7.0 and Valkey 8.1): multi-part directories with an RDB-preamble base and with an AOF base,
//! an old single file with an RDB preamble, and a plain one.
//!
//! On each: `check-aof` agrees with the server's own checker; the server that wrote it loads it
//! with the final dataset of the truth file; `restore-points` lists every second of the truth,
//! and `truncate --to S` gives a directory that the server loads with exactly the dataset the
//! live server had at the end of second S, compared key by key (values and expiries).

mod common;

use common::redkit;
use common::server::flavors;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Fixture {
    dir: PathBuf,
    /// The appendonlydir or the single appendonly.aof.
    aof: PathBuf,
    truth: Value,
}

fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    let root = common::testdata().join("aof");
    for server in std::fs::read_dir(&root).unwrap() {
        for case in std::fs::read_dir(server.unwrap().path()).unwrap() {
            let dir = case.unwrap().path();
            let Ok(text) = std::fs::read(dir.join("truth.json")) else {
                continue;
            };
            let truth: Value = serde_json::from_slice(&text).unwrap();
            // The corpus copies have a truth of another shape (restore_points.rs reads them).
            if truth.get("final").is_none() {
                continue;
            }
            let aof = if dir.join("appendonlydir").is_dir() {
                dir.join("appendonlydir")
            } else {
                dir.join("appendonly.aof")
            };
            out.push(Fixture { dir, aof, truth });
        }
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// Whether the tests must run the servers (as `make test` requires).
fn required() -> bool {
    std::env::var_os("REDKIT_REQUIRE_SERVERS").is_some()
}

/// Loads `aof` in `server` (testdata/gen/load_aof.py) and returns the dataset it holds, or the
/// server's refusal.
fn load(server: &str, aof: &Path) -> Result<Value, String> {
    let script = common::testdata().join("gen/load_aof.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(server)
        .arg(aof)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

fn installed(server: &str) -> bool {
    let script = format!(
        "import sys; sys.path.insert(0, {:?}); import servers; sys.exit(0 if servers.find_server({server:?}) else 1)",
        common::testdata().join("gen").to_str().unwrap()
    );
    let ok = Command::new("python3")
        .args(["-c", &script])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok || !required(), "{server} is required but not installed");
    ok
}

/// Key-by-key comparison, naming the first key that differs.
fn assert_same_keys(got: &Value, want: &Value, what: &str) {
    let (got, want) = (got.as_array().unwrap(), want.as_array().unwrap());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w, "{what}: first differing key");
    }
    assert_eq!(got.len(), want.len(), "{what}: key count");
}

#[test]
fn check_aof_agrees_with_the_servers_checker() {
    let scratch = common::scratch("fixtures");
    let flavors = flavors();
    let all = fixtures();
    assert!(all.len() >= 5, "{} fixtures", all.len());
    for f in &all {
        let aof = f.aof.to_str().unwrap();
        let ours = redkit(&["check-aof", "--json", aof]);
        assert_eq!(
            ours.status.code(),
            Some(0),
            "{aof}: {}",
            String::from_utf8_lossy(&ours.stdout)
        );
        let report: Value = serde_json::from_slice(&ours.stdout).unwrap();
        assert_eq!(report["valid"], true, "{aof}");
        let family = if f.truth["server"].as_str().unwrap().starts_with("valkey") {
            "valkey"
        } else {
            "redis"
        };
        let Some(flavor) = flavors.iter().find(|fl| fl.name == family) else {
            continue;
        };
        // redis-check-aof 7.0 reads every Redis form (it takes a single file or a manifest).
        let target = if f.aof.is_dir() {
            f.aof.join("appendonly.aof.manifest")
        } else {
            f.aof.clone()
        };
        let theirs = Command::new(flavor.check_aof(&scratch))
            .arg(&target)
            .output()
            .unwrap();
        assert!(
            theirs.status.success(),
            "{aof}: {} rejects it: {}",
            family,
            String::from_utf8_lossy(&theirs.stdout)
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn servers_load_the_fixtures_with_the_recorded_dataset() {
    for f in fixtures() {
        let server = f.truth["server"].as_str().unwrap();
        if !installed(server) {
            continue;
        }
        let got = load(server, &f.aof).unwrap_or_else(|e| panic!("{}: {e}", f.aof.display()));
        assert_same_keys(
            &got,
            &f.truth["final"]["keys"],
            &format!("{} loaded whole", f.aof.display()),
        );
    }
}

#[test]
fn truncate_at_each_second_gives_that_seconds_dataset() {
    let scratch = std::env::temp_dir().join(format!("redkit-fixtures-tr-{}", std::process::id()));
    let mut checked = 0;
    for f in fixtures() {
        let seconds = f.truth["seconds"].as_array().unwrap();
        if seconds.is_empty() {
            continue;
        }
        let server = f.truth["server"].as_str().unwrap();
        let aof = f.aof.to_str().unwrap();
        let out = redkit(&["restore-points", "--json", aof]);
        assert_eq!(out.status.code(), Some(0));
        let points: Value = serde_json::from_slice(&out.stdout).unwrap();
        let points: Vec<u64> = points["restore_points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["unix"].as_u64().unwrap())
            .collect();
        for s in seconds {
            let t = s["unix_secs"].as_u64().unwrap();
            assert!(
                points.contains(&t),
                "{aof}: no restore point {t} in {points:?}"
            );
        }
        // Before the first point there is nothing to restore to.
        let _ = std::fs::remove_dir_all(&scratch);
        let first = points[0];
        let early = redkit(&[
            "truncate",
            aof,
            "--to",
            &(first - 1).to_string(),
            "-o",
            scratch.join("early/appendonlydir").to_str().unwrap(),
        ]);
        assert_eq!(early.status.code(), Some(1), "{aof}");
        assert!(!scratch.join("early").exists());

        if !installed(server) {
            continue;
        }
        for s in seconds {
            let t = s["unix_secs"].as_u64().unwrap();
            let out_dir = scratch.join(format!("at-{t}/appendonlydir"));
            let out = redkit(&[
                "truncate",
                aof,
                "--to",
                &t.to_string(),
                "-o",
                out_dir.to_str().unwrap(),
            ]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{aof} --to {t}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got = load(server, &out_dir).unwrap_or_else(|e| panic!("{aof} --to {t}: {e}"));
            assert_same_keys(&got, &s["keys"], &format!("{aof} truncated to {t}"));
            checked += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(checked >= 12 || !required(), "{checked} seconds checked");
}

/// The last file torn inside the `EXEC` of its final transaction: `--fix` cuts the whole
/// unfinished `MULTI` block, keeps the cut bytes, and the server loads exactly the dataset the
/// live server had before that transaction.
#[test]
fn fix_of_a_torn_transaction_keeps_the_dataset_before_it() {
    let scratch = std::env::temp_dir().join(format!("redkit-fixtures-fix-{}", std::process::id()));
    let mut checked = 0;
    for f in fixtures() {
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).unwrap();
        let (aof, last) = if f.aof.is_dir() {
            let dir = scratch.join("appendonlydir");
            common::server::copy_dir(&f.aof, &dir);
            let incr = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
                .unwrap();
            (dir, incr)
        } else {
            let file = scratch.join("appendonly.aof");
            std::fs::copy(&f.aof, &file).unwrap();
            (file.clone(), file)
        };
        let mut bytes = std::fs::read(&last).unwrap();
        assert!(
            bytes.ends_with(b"*1\r\n$4\r\nEXEC\r\n"),
            "{}",
            f.aof.display()
        );
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&last, &bytes).unwrap();
        let out = redkit(&["check-aof", "--fix", "--yes", aof.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.aof.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        // The cut bytes are beside the file: fixed + cut = the torn file.
        let fixed = std::fs::read(&last).unwrap();
        let mut kept = last.as_os_str().to_owned();
        kept.push(format!(".cut-{}", fixed.len()));
        let cut = std::fs::read(&kept).unwrap();
        assert_eq!([fixed.as_slice(), cut.as_slice()].concat(), bytes);
        assert!(cut.starts_with(b"*1\r\n$5\r\nMULTI\r\n"));
        let server = f.truth["server"].as_str().unwrap();
        if !installed(server) {
            continue;
        }
        let got = load(server, &aof).unwrap_or_else(|e| panic!("{}: {e}", f.aof.display()));
        assert_same_keys(
            &got,
            &f.truth["before_last_multi"]["keys"],
            &format!("{} fixed", f.aof.display()),
        );
        checked += 1;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(checked >= 5 || !required(), "{checked} fixtures checked");
}
