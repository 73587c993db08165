//! `redkit check-aof` against the servers' own checkers (redis-check-aof 7.0, valkey-check-aof
//! 8.1) on multi-part AOFs written by real redis-server 7.0 and valkey-server 8.1 (started here
//! on a unix socket), intact and damaged in the ways a crash leaves them: verdicts and cut
//! offsets must agree, and the servers must load what `--fix` and `--salvage` write.

mod common;

use common::redkit;
use common::server::{call, copy_dir, flavors, load_dbsize, make_aof, Flavor};
use serde_json::Value;
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// 200 SETs with a transaction every 50, then an HSET.
fn workload(c: &mut BufReader<UnixStream>) {
    for i in 0..200 {
        let k = format!("key:{i}");
        call(c, &["SET", &k, &format!("value-{i}")]);
        if i % 50 == 0 {
            call(c, &["MULTI"]);
            call(c, &["INCR", "counter"]);
            call(c, &["RPUSH", "list", &k]);
            call(c, &["EXEC"]);
        }
    }
    call(c, &["HSET", "h", "f", "v"]);
}

fn incr_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .unwrap()
}

/// The server's own checker's verdict (exit code) and its `ok_up_to` for the last file.
fn redis_check_aof(dir: &Path, flavor: &Flavor) -> (i32, Option<u64>) {
    let manifest = dir.join("appendonly.aof.manifest");
    let out = Command::new(flavor.check_aof(dir.parent().unwrap()))
        .arg(&manifest)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let ok_up_to = text
        .lines()
        .rfind(|l| l.starts_with("AOF analyzed:"))
        .and_then(|l| l.split("ok_up_to=").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok());
    (out.status.code().unwrap(), ok_up_to)
}

fn ours(dir: &Path) -> (i32, Value) {
    let out = redkit(&["check-aof", "--json", dir.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), v)
}

#[test]
fn agrees_with_redis_check_aof() {
    for flavor in flavors() {
        agrees_with_the_servers_checker(&flavor);
    }
}

fn agrees_with_the_servers_checker(flavor: &Flavor) {
    let (_server, dir) = make_aof("verdicts", flavor, workload);
    // Intact.
    let (code, r) = ours(&dir);
    assert_eq!(code, 0, "{r}");
    assert_eq!(redis_check_aof(&dir, flavor).0, 0);
    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{r}");
    assert!(files[1]["commands"].as_u64().unwrap() >= 200);
    assert!(files[1]["first_timestamp"].is_u64(), "{r}");

    let incr = incr_file(&dir);
    let original = std::fs::read(&incr).unwrap();
    // Redis logs MULTI and EXEC in either case depending on the version.
    let multi = original
        .windows(15)
        .rposition(|w| w.eq_ignore_ascii_case(b"*1\r\n$5\r\nMULTI\r\n"))
        .expect("a MULTI in the log");
    let exec_end = multi
        + original[multi..]
            .windows(14)
            .position(|w| w.eq_ignore_ascii_case(b"*1\r\n$4\r\nEXEC\r\n"))
            .expect("its EXEC")
        + 14;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("torn last command", original[..original.len() - 5].to_vec()),
        (
            "torn inside the last MULTI",
            original[..exec_end - 3].to_vec(),
        ),
        ("cut right after MULTI", original[..multi + 15].to_vec()),
        ("garbage in the middle", {
            // On the first command start past the middle (a byte inside a value would leave
            // the file valid).
            let mut d = original.clone();
            let at = (original.len() / 2..original.len())
                .find(|&i| original[i] == b'*' && original[i - 2..i] == *b"\r\n")
                .expect("a command in the second half");
            d[at] = b'!';
            d
        }),
        ("zero-filled tail", {
            let mut d = original.clone();
            d.extend(std::iter::repeat_n(0u8, 4096));
            d
        }),
    ];
    for (what, data) in cases {
        std::fs::write(&incr, &data).unwrap();
        let (their_code, their_cut) = redis_check_aof(&dir, flavor);
        let (code, r) = ours(&dir);
        assert_eq!(code, their_code, "{what}: verdict ({r})");
        let p = &r["problems"][0];
        // redis-check-aof's ok_up_to is where a repair cuts; ours must be the same offset.
        let cut = their_cut.unwrap_or_else(|| panic!("{what}: no ok_up_to from redis-check-aof"));
        assert_eq!(p["cut_at"].as_u64(), Some(cut), "{what}: cut ({r})");
    }
    std::fs::write(&incr, &original).unwrap();

    // A missing file and a bad manifest line are problems, with the line.
    let manifest = dir.join("appendonly.aof.manifest");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("type i", "type z")).unwrap();
    let (code, r) = ours(&dir);
    assert_eq!(code, 1);
    assert_eq!(r["problems"][0]["kind"], "manifest", "{r}");
    assert_eq!(redis_check_aof(&dir, flavor).0, 1);
    std::fs::write(&manifest, &text).unwrap();
    std::fs::rename(&incr, dir.join("moved-away")).unwrap();
    let (code, r) = ours(&dir);
    assert_eq!(code, 1);
    assert_eq!(r["problems"][0]["kind"], "missing", "{r}");
    assert_eq!(redis_check_aof(&dir, flavor).0, 1);
}

#[test]
fn fix_cuts_like_redis_check_aof_keeps_the_cut_and_redis_loads_the_result() {
    for flavor in flavors() {
        fix_and_salvage(&flavor);
    }
}

fn fix_and_salvage(flavor: &Flavor) {
    let (server, dir) = make_aof("fix", flavor, workload);
    let incr = incr_file(&dir);
    let original = std::fs::read(&incr).unwrap();
    let torn = original[..original.len() - 9].to_vec();
    std::fs::write(&incr, &torn).unwrap();
    // The damaged directory does not load with aof-load-truncated off.
    assert!(load_dbsize(&server.dir, flavor).is_err());

    // redis-check-aof --fix on one copy, redkit check-aof --fix --yes on another.
    let theirs = server.dir.join("theirs/appendonlydir");
    let ours_dir = server.dir.join("ours/appendonlydir");
    copy_dir(&dir, &theirs);
    copy_dir(&dir, &ours_dir);
    let mut child = Command::new(flavor.check_aof(&server.dir))
        .arg("--fix")
        .arg(theirs.join("appendonly.aof.manifest"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    assert!(child.wait().unwrap().success());

    // Without --yes and without a terminal: refused, nothing changed.
    let out = redkit(&["check-aof", "--fix", ours_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(std::fs::read(incr_file(&ours_dir)).unwrap(), torn);
    // --dry-run: the plan, nothing changed.
    let out = redkit(&[
        "check-aof",
        "--fix",
        "--dry-run",
        ours_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plan: cut"));
    assert_eq!(std::fs::read(incr_file(&ours_dir)).unwrap(), torn);

    let out = redkit(&["check-aof", "--fix", "--yes", ours_dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fixed = std::fs::read(incr_file(&ours_dir)).unwrap();
    assert_eq!(
        fixed,
        std::fs::read(incr_file(&theirs)).unwrap(),
        "same bytes as redis-check-aof --fix"
    );
    // Nothing lost: the cut bytes are beside the file, and appending them restores it.
    let cut_file = ours_dir.join(format!("appendonly.aof.1.incr.aof.cut-{}", fixed.len()));
    let kept = std::fs::read(&cut_file).unwrap();
    assert_eq!([fixed.clone(), kept].concat(), torn);
    // redis-server loads the fixed directory, and every key before the cut is there.
    std::fs::remove_file(&cut_file).unwrap();
    let n =
        load_dbsize(&server.dir.join("ours"), flavor).expect("redis-server loads the fixed AOF");
    assert!(n >= 199, "{n} keys");

    // Damage in the middle: refused, because valid commands follow.
    // (the '*' of a command a third of the way in, so the framing breaks there)
    let mut middle = original.clone();
    let third = original.len() / 3;
    let star = third
        + original[third..]
            .windows(3)
            .position(|w| w == b"\r\n*")
            .unwrap()
        + 2;
    middle[star] = b'!';
    std::fs::write(incr_file(&ours_dir), &middle).unwrap();
    let out = redkit(&["check-aof", "--fix", "--yes", ours_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damage in the middle"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(incr_file(&ours_dir)).unwrap(), middle);
    // redis-server refuses it; --salvage writes a copy without the damaged command that it loads.
    assert!(load_dbsize(&server.dir.join("ours"), flavor).is_err());
    let salvaged = server.dir.join("salvaged/appendonlydir");
    let out = redkit(&[
        "check-aof",
        ours_dir.to_str().unwrap(),
        "--salvage",
        salvaged.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("skipped 1 damaged range(s)"), "{text}");
    assert!(text.contains(&format!("bytes {star}..")), "{text}");
    assert_eq!(
        std::fs::read(incr_file(&ours_dir)).unwrap(),
        middle,
        "original unchanged"
    );
    assert_eq!(ours(&salvaged).0, 0);
    let n = load_dbsize(&server.dir.join("salvaged"), flavor)
        .expect("redis-server loads the salvaged copy");
    assert!(
        (198..=203).contains(&n),
        "{n} keys: one command lost at most"
    );
}

#[test]
fn unknown_commands_are_problems_and_arity_warnings_or_with_strict_problems() {
    let dir = common::scratch("strict");
    let f = dir.join("appendonly.aof");
    let body = [
        common::server::resp(&["SET", "a", "1"]),
        common::server::resp(&["NOSUCHCMD", "x"]),
        common::server::resp(&["GET"]),
    ]
    .concat();
    std::fs::write(&f, body).unwrap();
    // A server refuses a log with a command it does not know: a problem by default.
    let (code, r) = ours(&f);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["problems"].as_array().unwrap().len(), 1, "{r}");
    assert!(
        r["problems"][0]["message"]
            .to_string()
            .contains("NOSUCHCMD"),
        "{r}"
    );
    // Allowed (a module's command): warnings only.
    let out = redkit(&[
        "check-aof",
        "--json",
        "--allow-unknown",
        "nosuchcmd",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("unknown command NOSUCHCMD") && warnings.contains("GET with 1 arguments"),
        "{r}"
    );
    let out = redkit(&["check-aof", "--json", "--strict", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["problems"].as_array().unwrap().len(), 2, "{r}");
    std::fs::remove_dir_all(&dir).unwrap();

    // Redis 7.4.1's own log (with HPEXPIREAT, logged for HEXPIRE) passes --strict.
    let case = common::testdata().join("aof/redis-7.4.1/mp-timestamped/appendonlydir");
    let incr = std::fs::read(case.join("appendonly.aof.1.incr.aof")).unwrap();
    assert!(incr
        .windows(10)
        .any(|w| w.eq_ignore_ascii_case(b"HPEXPIREAT")));
    let out = redkit(&["check-aof", "--json", "--strict", case.to_str().unwrap()]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(r["warnings"].as_array().unwrap().len(), 0, "{r}");
}

#[test]
fn usage_errors_exit_2() {
    let out = redkit(&["check-aof", "/nonexistent/dir"]);
    assert_eq!(out.status.code(), Some(2));
    let out = redkit(&["check-aof", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:"));
}
