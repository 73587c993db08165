//! The operator's contract, the same for every command: where outputs may go (never over an
//! input, an existing file only with --force, `-` as stdout for streams), the same exit code
//! for the same fault, one JSON document that validates against its schema in docs/schemas,
//! repairs that refuse what they must, and the smaller promises of `--help`.

mod common;

use common::{assert_schema, redkit, scratch, testdata};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs redkit in `dir` (for relative paths such as `-`).
fn redkit_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::redkit_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run redkit")
}

fn small_rdb() -> PathBuf {
    testdata().join("rdb/redis-7.0.15/mixed_all.rdb")
}

fn mp_dir() -> PathBuf {
    testdata().join("aof/redis-7.0.15/mp-preamble/appendonlydir")
}

/// A copy of the multi-part fixture in `dir/appendonlydir`.
fn copy_mp(dir: &Path) -> PathBuf {
    let to = dir.join("appendonlydir");
    common::server::copy_dir(&mp_dir(), &to);
    to
}

/// The incr file of a multi-part directory.
fn incr_of(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file")
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = common::files_with_suffix(dir, "")
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// Parses stdout as exactly one JSON document.
fn one_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn outputs_never_replace_an_input_and_existing_files_only_with_force() {
    let d = scratch("contract-outputs");
    let rdb = d.join("dump.rdb");
    std::fs::copy(small_rdb(), &rdb).unwrap();
    let original = std::fs::read(&rdb).unwrap();
    let rdb_s = rdb.to_str().unwrap();
    // The input as the output: refused with and without --force, the input unchanged.
    for args in [
        vec!["dump-json", rdb_s, "-o", rdb_s],
        vec!["dump-json", rdb_s, "-o", rdb_s, "--force"],
        vec!["convert", rdb_s, "-o", rdb_s, "--force"],
        vec!["rewrite", rdb_s, "--format", "resp", "-o", rdb_s, "--force"],
    ] {
        let o = redkit(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("is the input"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert_eq!(std::fs::read(&rdb).unwrap(), original, "{args:?}");
    }
    // An output inside the input AOF directory, or one of its files.
    let aof = copy_mp(&d);
    let before = snapshot(&aof);
    let base = std::fs::read_dir(&aof)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".base."))
        .unwrap();
    for out in [base.clone(), aof.join("new.rdb")] {
        let o = redkit(&[
            "aof-to-rdb",
            aof.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(code(&o), 2, "{out:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("inside the input directory"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(snapshot(&aof), before, "the AOF directory is unchanged");
    // An existing file: refused without --force, replaced with it.
    let existing = d.join("existing.out");
    for args in [
        vec!["dump-json", rdb_s],
        vec!["convert", rdb_s],
        vec!["aof-to-rdb", aof.to_str().unwrap()],
        vec!["rewrite", rdb_s, "--format", "resp"],
    ] {
        std::fs::write(&existing, b"keep me").unwrap();
        let mut a = args.clone();
        a.extend(["-o", existing.to_str().unwrap()]);
        let o = redkit(&a);
        assert_eq!(code(&o), 2, "{a:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep me", "{a:?}");
        a.push("--force");
        let o = redkit(&a);
        assert_eq!(code(&o), 0, "{a:?}: {}", stderr(&o));
        assert_ne!(std::fs::read(&existing).unwrap(), b"keep me", "{a:?}");
    }
    // A directory output that exists: refused without --force (rewrite, truncate, salvage).
    let outdir = d.join("outdir");
    std::fs::create_dir(&outdir).unwrap();
    std::fs::write(outdir.join("keep"), b"x").unwrap();
    for args in [
        vec!["rewrite", rdb_s, "-o"],
        vec![
            "truncate",
            aof.to_str().unwrap(),
            "--to",
            "4000000000",
            "-o",
        ],
        vec!["check-aof", aof.to_str().unwrap(), "--salvage"],
    ] {
        let mut a = args.clone();
        a.push(outdir.to_str().unwrap());
        let o = redkit(&a);
        assert_eq!(code(&o), 2, "{a:?}: {}", stderr(&o));
        // --force replaces only an empty or AOF directory, never this one.
        a.push("--force");
        let o = redkit(&a);
        assert_eq!(code(&o), 2, "{a:?}: {}", stderr(&o));
        assert_eq!(std::fs::read(outdir.join("keep")).unwrap(), b"x");
    }
    // Not a regular file: refused, --force or not.
    let o = redkit(&["convert", rdb_s, "-o", "/dev/null", "--force"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let link = d.join("link.rdb");
    std::os::unix::fs::symlink(&existing, &link).unwrap();
    let o = redkit(&["convert", rdb_s, "-o", link.to_str().unwrap(), "--force"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn dash_is_standard_output_for_streams_and_an_error_elsewhere() {
    let d = scratch("contract-dash");
    let rdb = small_rdb();
    let rdb_s = rdb.to_str().unwrap();
    let aof = mp_dir();
    let aof_s = aof.to_str().unwrap();
    for args in [
        vec!["convert", rdb_s, "-o", "-"],
        vec!["aof-to-rdb", aof_s, "-o", "-"],
    ] {
        let o = redkit_in(&d, &args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert!(
            o.stdout.starts_with(b"REDIS00"),
            "{args:?}: an RDB on stdout"
        );
        // What went to stdout is a sound RDB.
        let rdb_out = d.join("from-stdout.rdb");
        std::fs::write(&rdb_out, &o.stdout).unwrap();
        let c = redkit(&["check-rdb", rdb_out.to_str().unwrap(), "-q"]);
        assert_eq!(code(&c), 0, "{args:?}: {}", stderr(&c));
        std::fs::remove_file(&rdb_out).unwrap();
    }
    for args in [
        vec!["dump-json", rdb_s, "-o", "-"],
        vec!["rewrite", rdb_s, "--format", "resp", "-o", "-"],
    ] {
        let o = redkit_in(&d, &args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{args:?}");
    }
    for args in [
        vec!["rewrite", rdb_s, "-o", "-"],
        vec!["truncate", aof_s, "--to", "4000000000", "-o", "-"],
        vec!["check-aof", aof_s, "--salvage", "-"],
    ] {
        let o = redkit_in(&d, &args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("standard output"), "{}", stderr(&o));
    }
    assert!(!d.join("-").exists(), "no file named '-' was made");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn fix_never_cuts_what_is_not_an_aof_nor_to_nothing() {
    let d = scratch("contract-fix-refuses");
    let text = d.join("notes.txt");
    std::fs::write(&text, b"this is a text file\nnot a log\n").unwrap();
    let random = d.join("random.aof");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&random, &bytes).unwrap();
    let gz = d.join("appendonly.aof.gz");
    // A gzip of a log with a torn tail: readable, but not repairable in place.
    let plain = d.join("appendonly.aof");
    let mut log =
        std::fs::read(testdata().join("aof/redis-6.0.9/single-plain/appendonly.aof")).unwrap();
    log.truncate(log.len() - 3);
    std::fs::write(&plain, &log).unwrap();
    let st = Command::new("gzip").arg("-k").arg(&plain).status().unwrap();
    assert!(st.success());
    // A log torn inside its very first command: a cut would leave nothing.
    let torn_first = d.join("torn-first.aof");
    std::fs::write(&torn_first, b"*3\r\n$3\r\nSET\r\n$1\r\nk").unwrap();
    for f in [&text, &random, &gz, &torn_first] {
        let before = std::fs::read(f).unwrap();
        let o = redkit(&["check-aof", f.to_str().unwrap(), "--fix", "--yes"]);
        assert_ne!(code(&o), 0, "{f:?}: {}", stderr(&o));
        assert_eq!(std::fs::read(f).unwrap(), before, "{f:?} unchanged");
        let leftovers: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".cut"))
            .collect();
        assert!(leftovers.is_empty(), "{f:?}: {leftovers:?}");
    }
    let o = redkit(&["check-aof", gz.to_str().unwrap(), "--fix", "--yes"]);
    assert!(stderr(&o).contains("gunzip"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

/// A copy of the multi-part fixture whose incr file is torn in its last command.
fn torn_copy(d: &Path) -> (PathBuf, PathBuf, u64) {
    let aof = copy_mp(d);
    let incr = incr_of(&aof);
    let mut bytes = std::fs::read(&incr).unwrap();
    let size = bytes.len() as u64;
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&incr, &bytes).unwrap();
    (aof, incr, size - 3)
}

#[test]
fn json_is_one_document_that_records_the_repair() {
    let d = scratch("contract-json-repair");
    let (aof, incr, _) = torn_copy(&d);
    let aof_s = aof.to_str().unwrap();
    let o = redkit(&["check-aof", aof_s, "--json"]);
    assert_eq!(code(&o), 1);
    let doc = one_json(&o);
    assert_schema("check-aof", &doc);
    assert_eq!(doc["valid"], false);

    let o = redkit(&["check-aof", aof_s, "--json", "--fix", "--dry-run"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc = one_json(&o);
    assert_schema("check-aof", &doc);
    assert_eq!(doc["repair"]["action"], "dry-run");
    assert!(stderr(&o).contains("Plan: cut"), "human text on stderr");

    let salvage = d.join("salvaged");
    let o = redkit(&[
        "check-aof",
        aof_s,
        "--json",
        "--salvage",
        salvage.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc = one_json(&o);
    assert_schema("check-aof", &doc);
    assert_eq!(doc["repair"]["action"], "salvaged");
    assert_eq!(doc["repair"]["skipped"].as_array().unwrap().len(), 1);

    let o = redkit(&["check-aof", aof_s, "--json", "--fix", "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc = one_json(&o);
    assert_schema("check-aof", &doc);
    assert_eq!(doc["repair"]["action"], "cut");
    let kept = PathBuf::from(doc["repair"]["cut_bytes_kept_in"].as_str().unwrap());
    assert!(kept.exists(), "{kept:?}");
    assert!(doc["repair"]["undo"]
        .as_str()
        .unwrap()
        .contains(&incr.display().to_string()));

    // The schema is not a rubber stamp: a wrong type fails it.
    let mut bad = doc.clone();
    bad["valid"] = Value::from("yes");
    let path = testdata().join("../docs/schemas/check-aof.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("file:///redkit/x.json", schema)
        .unwrap();
    let id = compiler
        .compile("file:///redkit/x.json", &mut schemas)
        .unwrap();
    assert!(schemas.validate(&bad, id).is_err());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn json_reports_follow_their_schemas() {
    let d = scratch("contract-schemas");
    // check-rdb: valid, corrupt inside a key, truncated, gzip.
    for f in [
        small_rdb(),
        testdata().join("corrupt/crc_flipped_byte.rdb"),
        testdata().join("corrupt/truncated_2968.rdb"),
        testdata().join("corrupt/bad_type.rdb"),
        testdata().join("rdb/redis-7.4.1/small.rdb"),
    ] {
        let o = redkit(&["check-rdb", f.to_str().unwrap(), "--json"]);
        assert!(code(&o) <= 1, "{f:?}: {}", stderr(&o));
        assert_schema("check-rdb", &one_json(&o));
    }
    // A key in an error is the key's bytes as dump-json writes them, never debug-quoted.
    let mut found_key = false;
    for f in common::files_with_suffix(&testdata().join("corrupt"), ".rdb") {
        let o = redkit(&["check-rdb", f.to_str().unwrap(), "--json"]);
        let doc = one_json(&o);
        if let Some(k) = doc["error"]["key"].as_str() {
            found_key = true;
            assert!(!k.starts_with('"'), "{f:?}: {k}");
        }
    }
    assert!(found_key, "some corrupt fixture fails inside a key");
    // restore-points: plain, grouped, and with a torn tail.
    for extra in [vec![], vec!["--every", "1h"]] {
        let dir = mp_dir();
        let mut a = vec!["restore-points", dir.to_str().unwrap()];
        a.extend(extra.iter().copied());
        a.push("--json");
        let o = redkit(&a);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert_schema("restore-points", &one_json(&o));
    }
    let (aof, _, _) = torn_copy(&d);
    let o = redkit(&["restore-points", aof.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 1);
    let doc = one_json(&o);
    assert_schema("restore-points", &doc);
    assert_eq!(doc["damage"]["kind"], "truncated");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_torn_tail_hides_no_restore_point() {
    let d = scratch("contract-torn-points");
    let whole = redkit(&["restore-points", mp_dir().to_str().unwrap(), "--json"]);
    let all = one_json(&whole)["restore_points"]
        .as_array()
        .unwrap()
        .clone();
    assert!(all.len() >= 2, "the fixture has restore points");
    let (aof, _, _) = torn_copy(&d);
    let o = redkit(&["restore-points", aof.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc = one_json(&o);
    assert_eq!(
        doc["restore_points"].as_array().unwrap(),
        &all,
        "every point is before the tear"
    );
    // A cut before the damage works on the torn log, and the copy loads as a whole log.
    let to = all[0]["unix"].as_u64().unwrap().to_string();
    let out = d.join("restored/appendonlydir");
    let o = redkit(&[
        "truncate",
        aof.to_str().unwrap(),
        "--to",
        &to,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let c = redkit(&["check-aof", out.to_str().unwrap()]);
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    // --until is the same option as --to.
    let out2 = d.join("restored2/appendonlydir");
    let o = redkit(&[
        "truncate",
        aof.to_str().unwrap(),
        "--until",
        &to,
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(snapshot(&out).len(), snapshot(&out2).len());
    // A time past the last point before the damage: refused, nothing written.
    let out3 = d.join("restored3/appendonlydir");
    let o = redkit(&[
        "truncate",
        aof.to_str().unwrap(),
        "--to",
        "4000000000",
        "-o",
        out3.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        !d.join("restored3").exists(),
        "nothing written, no parent left"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_command_no_server_knows_makes_the_log_invalid_unless_allowed() {
    let d = scratch("contract-unknown");
    let log = d.join("appendonly.aof");
    let mut bytes =
        std::fs::read(testdata().join("aof/redis-6.0.9/single-plain/appendonly.aof")).unwrap();
    bytes.extend_from_slice(b"*2\r\n$6\r\nFOOBAR\r\n$1\r\nx\r\n");
    std::fs::write(&log, &bytes).unwrap();
    let o = redkit(&["check-aof", log.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc = one_json(&o);
    assert_schema("check-aof", &doc);
    assert_eq!(doc["problems"][0]["kind"], "unknown-command");
    let o = redkit(&[
        "check-aof",
        log.to_str().unwrap(),
        "--allow-unknown",
        "foobar,other.cmd",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("FOOBAR"),
        "still a warning: {}",
        stderr(&o)
    );
    // The server agrees: it refuses to start on this log.
    if let Some(flavor) = common::server::flavors()
        .into_iter()
        .find(|f| f.name == "redis")
    {
        let parent = d.join("load");
        std::fs::create_dir_all(&parent).unwrap();
        std::fs::copy(&log, parent.join("appendonly.aof")).unwrap();
        assert!(
            common::server::load_dbsize(&parent, &flavor).is_err(),
            "redis-server loaded a log with an unknown command"
        );
    }
    // A torn tail tells what the server does with it and what to run.
    let (aof, _, _) = torn_copy(&d);
    let o = redkit(&["check-aof", aof.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("aof-load-truncated yes"), "{out}");
    assert!(out.contains("--fix"), "{out}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn aof_to_rdb_writes_the_lowest_version_that_holds_the_dataset() {
    let d = scratch("contract-version");
    // A single-file log without a preamble is written as RDB 9 by default; one with a hash
    // field TTL needs RDB 12, one with a function RDB 10.
    use common::server::resp;
    for (cmds, want) in [
        (vec![resp(&["SET", "k", "v"])], 9),
        (
            vec![
                resp(&["HSET", "h", "f", "v", "g", "w"]),
                resp(&["HPEXPIREAT", "h", "4000000000000", "FIELDS", "1", "f"]),
            ],
            12,
        ),
        (
            vec![resp(&[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
            ])],
            10,
        ),
    ] {
        let log = d.join("appendonly.aof");
        std::fs::write(&log, cmds.concat()).unwrap();
        let out = d.join(format!("out{want}.rdb"));
        let o = redkit(&[
            "aof-to-rdb",
            log.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        if want > 9 {
            assert!(
                stderr(&o).contains(&format!("writing RDB {want}")),
                "{}",
                stderr(&o)
            );
        }
        let c = redkit(&["check-rdb", out.to_str().unwrap(), "--json"]);
        assert_eq!(one_json(&c)["rdb_version"], want, "{}", stderr(&o));
    }
    // An explicit choice that cannot hold the dataset is refused, naming the version that
    // can (and what it holds), and nothing is written.
    let refused = |log: &Path, version: &str, says: &[&str]| {
        let out = d.join(format!("refused{version}.rdb"));
        let o = redkit(&[
            "aof-to-rdb",
            log.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--rdb-version",
            version,
        ]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        for s in says {
            assert!(stderr(&o).contains(s), "{}", stderr(&o));
        }
        assert!(!out.exists());
    };
    let log = testdata().join("aof/redis-7.4.1/mp-timestamped/appendonlydir");
    refused(&log, "10", &["RDB 12"]);
    // A stream among strings: RDB 8 cannot hold it.
    let log = d.join("streams.aof");
    let mut cmds: Vec<Vec<u8>> = (0..100)
        .map(|i| resp(&["SET", &format!("k{i}"), "v"]))
        .collect();
    cmds.push(resp(&["XADD", "s", "1-1", "f", "v"]));
    std::fs::write(&log, cmds.concat()).unwrap();
    refused(&log, "8", &["streams", "RDB 9"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn repairs_refuse_while_another_process_holds_the_log() {
    let d = scratch("contract-held");
    let (aof, incr, _) = torn_copy(&d);
    let before = std::fs::read(&incr).unwrap();
    // A process that holds the incr file open, as a server appending to it would.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 3>>\"$1\"; sleep 60")
        .arg("sh")
        .arg(&incr)
        .spawn()
        .unwrap();
    // Wait until it has the file open.
    let start = std::time::Instant::now();
    loop {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", holder.id()))
            .map(|r| r.count())
            .unwrap_or(0);
        if fds >= 4 || start.elapsed().as_secs() > 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let aof_s = aof.to_str().unwrap();
    for args in [
        vec!["check-aof", aof_s, "--fix", "--yes"],
        vec!["truncate", aof_s, "--to", "1", "--in-place", "--yes"],
    ] {
        let o = redkit(&args);
        if args[0] == "truncate" && code(&o) == 1 {
            // No restore point before the first second: nothing to cut, nothing changed.
            assert_eq!(std::fs::read(&incr).unwrap(), before);
            continue;
        }
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("stop the server"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&incr).unwrap(), before, "{args:?}: unchanged");
    }
    let points = one_json(&redkit(&["restore-points", aof_s, "--json"]));
    let first = points["restore_points"][0]["unix"]
        .as_u64()
        .unwrap()
        .to_string();
    let o = redkit(&["truncate", aof_s, "--to", &first, "--in-place", "--yes"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(std::fs::read(&incr).unwrap(), before);
    // --force goes on.
    let o = redkit(&["check-aof", aof_s, "--fix", "--yes", "--force"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let _ = holder.kill();
    let _ = holder.wait();
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_same_fault_gives_the_same_exit_code_in_every_command() {
    let d = scratch("contract-exit-codes");
    // A truncated gzip of an RDB: damaged content, exit 1 everywhere.
    let rdb = d.join("dump.rdb");
    std::fs::copy(small_rdb(), &rdb).unwrap();
    let st = Command::new("gzip").arg("-k").arg(&rdb).status().unwrap();
    assert!(st.success());
    let gz = d.join("dump.rdb.gz");
    let bytes = std::fs::read(&gz).unwrap();
    let torn_gz = d.join("torn.rdb.gz");
    std::fs::write(&torn_gz, &bytes[..bytes.len() / 2]).unwrap();
    // A damaged AOF (garbage in the middle of a command): exit 1 everywhere.
    let aof = copy_mp(&d);
    let incr = incr_of(&aof);
    let mut log = std::fs::read(&incr).unwrap();
    let at = log
        .windows(3)
        .position(|w| w == b"*3\r")
        .expect("a command")
        + 1;
    log[at] = b'x';
    std::fs::write(&incr, &log).unwrap();
    let torn_s = torn_gz.to_str().unwrap();
    let aof_s = aof.to_str().unwrap();
    let out = |n: &str| d.join(n).to_str().unwrap().to_string();
    let (o1, o2, o3, o4, o5) = (
        out("a.json"),
        out("b.rdb"),
        out("c.resp"),
        out("d.rdb"),
        out("e"),
    );
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["check-rdb", torn_s], 1),
        (vec!["dump-json", torn_s, "-o", &o1], 1),
        (vec!["convert", torn_s, "-o", &o2], 1),
        (vec!["rewrite", torn_s, "--format", "resp", "-o", &o3], 1),
        (vec!["check-aof", aof_s], 1),
        (vec!["restore-points", aof_s], 1),
        (vec!["aof-to-rdb", aof_s, "-o", &o4], 1),
        (vec!["truncate", aof_s, "--to", "4000000000", "-o", &o5], 1),
        (vec!["rewrite", aof_s, "-o", &o5], 1),
        // A missing input: I/O, exit 2 everywhere.
        (vec!["check-rdb", "/nonexistent/x.rdb"], 2),
        (vec!["dump-json", "/nonexistent/x.rdb"], 2),
        (vec!["convert", "/nonexistent/x.rdb", "-o", &o2], 2),
        (vec!["check-aof", "/nonexistent/dir"], 2),
        (vec!["restore-points", "/nonexistent/dir"], 2),
        (vec!["aof-to-rdb", "/nonexistent/dir", "-o", &o4], 2),
        (
            vec!["truncate", "/nonexistent/dir", "--to", "1", "-o", &o5],
            2,
        ),
        (vec!["rewrite", "/nonexistent/dir", "-o", &o5], 2),
    ];
    for (args, want) in &cases {
        let o = redkit(args);
        assert_eq!(code(&o), *want, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    let o = redkit(&["check-rdb", torn_s]);
    assert!(stderr(&o).contains("truncated gzip"), "{}", stderr(&o));
    // A gzip file whose RDB is whole but whose trailer (CRC32) is wrong: damaged, exit 1,
    // nothing written.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    let bad_gz = d.join("badcrc.rdb.gz");
    std::fs::write(&bad_gz, &bad).unwrap();
    let bad_s = bad_gz.to_str().unwrap();
    let out6 = out("f.rdb");
    let out7 = out("f.aof");
    for args in [
        vec!["check-rdb", bad_s],
        vec!["dump-json", bad_s, "-o", &o1],
        vec!["convert", bad_s, "-o", &out6],
        vec!["rewrite", bad_s, "--format", "resp", "-o", &out7],
        vec!["rewrite", bad_s, "--format", "resp", "-o", "-"],
    ] {
        let o = redkit(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("checksum"), "{args:?}: {}", stderr(&o));
        if args[0] != "check-rdb" {
            assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
        }
    }
    assert!(!Path::new(&out6).exists());
    assert!(!Path::new(&out7).exists());
    let o = redkit(&["check-rdb", gz.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "the intact gzip: {}", stderr(&o));
    for f in [&o1, &o2, &o3, &o4, &o5] {
        assert!(!Path::new(f).exists(), "{f}: nothing written");
    }
    // Usage errors: exit 2 in every command.
    for cmd in common::COMMANDS {
        let o = redkit(&[cmd, "--no-such-option"]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs redkit with `stdin` as its standard input.
fn redkit_stdin(args: &[&str], stdin: &Path) -> Output {
    Command::new(common::redkit_bin())
        .args(args)
        .stdin(std::fs::File::open(stdin).unwrap())
        .output()
        .expect("run redkit")
}

#[test]
fn aof_commands_read_standard_input_and_gzip() {
    let d = scratch("contract-aof-inputs");
    // A single-file log with restore points: the incr file of the multi-part fixture.
    let log = d.join("appendonly.aof");
    std::fs::copy(incr_of(&mp_dir()), &log).unwrap();
    let st = Command::new("gzip").arg("-k").arg(&log).status().unwrap();
    assert!(st.success());
    let gz = d.join("appendonly.aof.gz");
    let (log_s, gz_s) = (log.to_str().unwrap(), gz.to_str().unwrap());
    // The same answers from the file, its gzip and standard input.
    let want_check = one_json(&redkit(&["check-aof", log_s, "--json"]));
    let want_points =
        one_json(&redkit(&["restore-points", log_s, "--json"]))["restore_points"].clone();
    assert!(!want_points.as_array().unwrap().is_empty());
    // The dataset's digest: a replay's tables are seeded at random, so the order of the keys
    // in the file changes from run to run.
    let dump = |rdb: &Path| redkit(&["digest", rdb.to_str().unwrap()]).stdout;
    let plain_rdb = d.join("plain.rdb");
    let o = redkit(&[
        "aof-to-rdb",
        log_s,
        "-o",
        plain_rdb.to_str().unwrap(),
        "--until",
        "4000000000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for (name, run) in [
        (
            "gzip",
            Box::new(|a: &[&str]| redkit(a)) as Box<dyn Fn(&[&str]) -> Output>,
        ),
        ("stdin", Box::new(|a: &[&str]| redkit_stdin(a, &log))),
    ] {
        let src = if name == "gzip" { gz_s } else { "-" };
        let o = run(&["check-aof", src, "--json"]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let got = one_json(&o);
        assert_eq!(
            got["files"][0]["commands"], want_check["files"][0]["commands"],
            "{name}"
        );
        let o = run(&["restore-points", src, "--json"]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let mut got = one_json(&o)["restore_points"].clone();
        for p in got.as_array_mut().unwrap() {
            p["file"] = want_points[0]["file"].clone();
        }
        assert_eq!(got, want_points, "{name}");
        let rdb = d.join(format!("{name}.rdb"));
        let o = run(&[
            "aof-to-rdb",
            src,
            "-o",
            rdb.to_str().unwrap(),
            "--until",
            "4000000000",
        ]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        assert_eq!(dump(&rdb), dump(&plain_rdb), "{name}: the same dataset");
        let to = want_points[1]["unix"].as_u64().unwrap().to_string();
        let out = d.join(format!("{name}-cut/appendonlydir"));
        let o = run(&["truncate", src, "--to", &to, "-o", out.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let cut = std::fs::read(out.join("appendonly.aof")).unwrap();
        let off = want_points[2]["offset"].as_u64().unwrap() as usize;
        assert_eq!(
            cut,
            std::fs::read(&log).unwrap()[..off].to_vec(),
            "{name}: the cut copy"
        );
        // A repair in place of such an input is refused, nothing changed.
        let o = run(&["check-aof", src, "--fix", "--yes"]);
        assert_eq!(
            code(&o),
            0,
            "{name}: a valid log needs no fix: {}",
            stderr(&o)
        );
    }
    // A torn gzip log: damaged content (exit 1), and --fix refuses to repair the .gz in place.
    let mut torn = std::fs::read(&log).unwrap();
    torn.truncate(torn.len() - 3);
    let torn_log = d.join("torn.aof");
    std::fs::write(&torn_log, &torn).unwrap();
    let st = Command::new("gzip").arg(&torn_log).status().unwrap();
    assert!(st.success());
    let torn_gz = d.join("torn.aof.gz");
    let before = std::fs::read(&torn_gz).unwrap();
    let o = redkit(&["check-aof", torn_gz.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = redkit(&["check-aof", torn_gz.to_str().unwrap(), "--fix", "--yes"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("gzip"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&torn_gz).unwrap(), before);
    let first = want_points[0]["unix"].as_u64().unwrap().to_string();
    let o = redkit_stdin(
        &["truncate", "-", "--to", &first, "--in-place", "--yes"],
        &log,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--in-place needs"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

/// Answering `n` at the prompt (on a terminal: `script` gives the command one) says
/// "cancelled" and changes nothing.
#[test]
fn answering_no_cancels() {
    let d = scratch("contract-cancel");
    let (aof, incr, _) = torn_copy(&d);
    let before = std::fs::read(&incr).unwrap();
    let cmd = format!(
        "{} check-aof {} --fix",
        common::redkit_bin().display(),
        aof.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (bsdutils) runs the command on a terminal");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{text}");
    assert!(text.contains("Cut the file? [y/N]"), "{text}");
    assert!(text.contains("cancelled"), "{text}");
    assert_eq!(std::fs::read(&incr).unwrap(), before);
}

#[test]
fn smaller_promises() {
    let d = scratch("contract-small");
    let rdb = small_rdb();
    let rdb_s = rdb.to_str().unwrap();
    let aof_s = mp_dir();
    let aof_s = aof_s.to_str().unwrap();
    // -q on every command that shows progress.
    let out = d.join("q.out");
    let out_s = out.to_str().unwrap();
    for args in [
        vec!["check-rdb", rdb_s, "-q"],
        vec!["check-aof", aof_s, "-q"],
        vec!["dump-json", rdb_s, "-q", "-o", out_s, "--force"],
        vec!["convert", rdb_s, "-q", "-o", out_s, "--force"],
        vec!["aof-to-rdb", aof_s, "-q", "-o", out_s, "--force"],
        vec![
            "rewrite", rdb_s, "--format", "resp", "-q", "-o", out_s, "--force",
        ],
    ] {
        let o = redkit(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    // "Wrote ..." goes to stderr: stdout stays empty when the output is a file.
    for args in [
        vec!["convert", rdb_s, "-o", out_s, "--force"],
        vec!["aof-to-rdb", aof_s, "-o", out_s, "--force"],
        vec!["rewrite", rdb_s, "--format", "resp", "-o", out_s, "--force"],
    ] {
        let o = redkit(&args);
        assert_eq!(code(&o), 0, "{args:?}");
        assert!(
            o.stdout.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(stderr(&o).contains("Wrote"), "{args:?}");
    }
    // A stale temporary file of a stopped run is removed by the next run to the same output.
    let target = d.join("stale.rdb");
    let stale = d.join("temp-stale.rdb.999999999");
    std::fs::write(&stale, b"left by a killed run").unwrap();
    let o = redkit(&["convert", rdb_s, "-o", target.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stale.exists(), "the stale temporary file is removed");
    // --db-map: a database mapped twice is an error; one past the default 16 is warned about.
    let o = redkit(&[
        "convert", rdb_s, "-o", out_s, "--force", "--db-map", "0:1", "--db-map", "0:2",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = redkit(&["convert", rdb_s, "-o", out_s, "--force", "--db-map", "0:20"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("databases"), "{}", stderr(&o));
    // An invalid --key glob is an error.
    let o = redkit(&["dump-json", rdb_s, "--key", "user:[abc"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A missing parent is made; a failed run removes what it made.
    let deep = d.join("a/b/c/out.rdb");
    let o = redkit(&[
        "convert",
        testdata().join("corrupt/bad_type.rdb").to_str().unwrap(),
        "-o",
        deep.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        !d.join("a").exists(),
        "the parents a failed run made are removed"
    );
    let o = redkit(&["convert", rdb_s, "-o", deep.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(deep.exists());
    // A damaged length in a complete file is corruption, not truncation: the file still ends
    // with the EOF opcode and its checksum.
    let mut bytes = std::fs::read(small_rdb()).unwrap();
    let at = bytes.windows(10).position(|w| w == b"str:flipme").unwrap() + 10;
    bytes.splice(at..at + 1, [0x80, 0, 0, 0xea, 0x60]); // a 32-bit length of 60000
    let damaged = d.join("damaged-length.rdb");
    std::fs::write(&damaged, &bytes).unwrap();
    let o = redkit(&["check-rdb", damaged.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 1);
    let doc = one_json(&o);
    assert_schema("check-rdb", &doc);
    assert_eq!(doc["status"], "corrupt", "{doc}");
    for f in ["truncated_2968.rdb", "truncated_410.rdb"] {
        let o = redkit(&[
            "check-rdb",
            testdata().join("corrupt").join(f).to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(one_json(&o)["status"], "truncated", "{f}");
    }
    // check-rdb on an AOF points to check-aof.
    let o = redkit(&[
        "check-rdb",
        testdata()
            .join("aof/redis-6.0.9/single-plain/appendonly.aof")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("check-aof"), "{}", stderr(&o));
    // Arguments past their range are usage errors, never panics.
    for args in [
        vec!["restore-points", aof_s, "--every", "144115188075855872d"],
        vec![
            "truncate",
            aof_s,
            "--to",
            "2026-11-21T14:30:00+0é00",
            "-o",
            out_s,
        ],
        vec![
            "aof-to-rdb",
            aof_s,
            "--until",
            "2026-11-21T14:30:00+0é00",
            "-o",
            out_s,
        ],
    ] {
        let o = redkit(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    // Completions and the man page.
    let o = redkit(&["completions", "bash"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("check-aof"));
    let o = redkit(&["man"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH"));
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs redkit in `dir` with files limited to `kib` KiB (the signal of the limit ignored, as a
/// full disk does, writes fail with "File too large").
fn redkit_limited(dir: &Path, kib: u64, args: &[&str]) -> Output {
    let mut script = format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${{{i}}}\""));
    }
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(common::redkit_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run redkit")
}

/// A write that fails (a full disk, a file size limit) is an I/O error (exit 2) whose message
/// names the output being written and says why once; nothing is left behind.
#[test]
fn a_failed_write_names_the_output_and_leaves_nothing() {
    let d = scratch("write-fails");
    // A log of 6,000 keys: outputs well past the limit.
    let log = common::set_log(6000, |_| "v".repeat(20));
    let aof = d.join("in.aof");
    std::fs::write(&aof, log).unwrap();
    let rdb = d.join("in.rdb");
    let o = redkit(&[
        "aof-to-rdb",
        aof.to_str().unwrap(),
        "-o",
        rdb.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (rdb, aof) = (rdb.to_str().unwrap(), aof.to_str().unwrap());
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let at = |name: &str| out.join(name).to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["convert".into(), rdb.into(), "-o".into(), at("c.rdb")],
            at("c.rdb"),
        ),
        (
            vec![
                "split".into(),
                rdb.into(),
                "-o".into(),
                at("sp"),
                "--slots".into(),
                "0-16383".into(),
            ],
            at("sp/shard-0.rdb"),
        ),
        (
            vec![
                "split".into(),
                rdb.into(),
                "-o".into(),
                at("spa"),
                "--slots".into(),
                "0-16383".into(),
                "--format".into(),
                "aof".into(),
            ],
            at("spa/shard-0/appendonly.aof.1.base.aof"),
        ),
        (
            vec!["rewrite".into(), rdb.into(), "-o".into(), at("rw")],
            at("rw/appendonly.aof.1.base.rdb"),
        ),
        (
            vec!["rewrite".into(), aof.into(), "-o".into(), at("rwa")],
            at("rwa/appendonly.aof.1.base.rdb"),
        ),
        (
            vec!["aof-to-rdb".into(), aof.into(), "-o".into(), at("a.rdb")],
            at("a.rdb"),
        ),
        (
            vec![
                "merge".into(),
                // The first input's version is written: RDB 10, which holds them both.
                small_rdb().to_str().unwrap().into(),
                rdb.into(),
                "-o".into(),
                at("m.rdb"),
            ],
            at("m.rdb"),
        ),
        (
            vec![
                "check-rdb".into(),
                rdb.into(),
                "--salvage".into(),
                at("s.rdb"),
            ],
            at("s.rdb"),
        ),
    ];
    for (args, target) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = redkit_limited(&d, 16, &args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        let why = "File too large";
        assert!(
            err.contains(&format!("cannot write {target}: {why}")),
            "{args:?}: {err}"
        );
        assert_eq!(err.matches(why).count(), 1, "{args:?}: {err}");
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}
