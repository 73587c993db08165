//! Fault injection: `check-aof --fix`, `check-aof --salvage`, `truncate -o`,
//! `truncate --in-place`, `convert`, `rewrite` (from an RDB and from an AOF) and `aof-to-rdb`
//! stopped at every step in turn (`REDKIT_CRASH_AT=N` makes the N-th step
//! abort the process, leaving what `kill -9` leaves: no cleanup, temporary files in place).
//!
//! After each stop: the original is intact, or (for the commands that change it) exactly
//! restorable from what was kept; an output directory is complete or absent; running the
//! command again finishes the job with the same result as an uninterrupted run. The inputs are
//! the AOF fixtures of `testdata/aof/` (written by Redis 6.0 and 7.0), damaged where needed.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every file under `dir` (recursively, relative names) with its bytes, leaving out the
/// temporary files and directories a stopped run may leave (`temp-*`).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("temp-") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names of the leftovers of stopped runs under `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("temp-")
            {
                out.push(p.display().to_string());
            } else if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

fn run(args: &[&str], crash_at: Option<u32>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redkit"));
    cmd.args(args)
        .env_remove("REDKIT_CRASH_AT")
        .env("SOURCE_DATE_EPOCH", "1800000000");
    if let Some(n) = crash_at {
        cmd.env("REDKIT_CRASH_AT", n.to_string());
    }
    cmd.output().unwrap()
}

/// Whether the run was stopped by the crash point (SIGABRT).
fn stopped(out: &Output) -> bool {
    const SIGABRT: i32 = 6;
    out.status.signal() == Some(SIGABRT)
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            copy_tree(&p, &to.join(p.file_name().unwrap()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

struct Scenario {
    name: &'static str,
    /// Makes the input under the work directory; returns the path to give the command.
    setup: fn(&Path) -> PathBuf,
    /// The command's arguments, given the input path and the work directory.
    args: fn(&Path, &Path) -> Vec<String>,
    /// Checks the state a stopped run left; `original` is the work directory before the run.
    check_stopped: fn(&Path, &BTreeMap<String, Vec<u8>>, &str),
    /// Steps there must be at least.
    min_stops: u32,
}

fn fixture(rel: &str) -> PathBuf {
    common::testdata().join("aof").join(rel)
}

/// The multi-part fixture with its incr file torn 7 bytes before its end.
fn torn_dir(work: &Path) -> PathBuf {
    let dir = work.join("in/appendonlydir");
    copy_tree(&fixture("redis-7.0.15/mp-preamble/appendonlydir"), &dir);
    let incr = dir.join("appendonly.aof.2.incr.aof");
    let mut b = std::fs::read(&incr).unwrap();
    b.truncate(b.len() - 7);
    std::fs::write(&incr, b).unwrap();
    dir
}

/// The single-file fixture (Redis 6.0) torn inside its last command.
fn torn_single(work: &Path) -> PathBuf {
    let f = work.join("in/appendonly.aof");
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    let mut b = std::fs::read(fixture("redis-6.0.9/single-plain/appendonly.aof")).unwrap();
    b.truncate(b.len() - 5);
    std::fs::write(&f, b).unwrap();
    f
}

/// The multi-part fixture with garbage written over bytes in the middle of its incr file.
fn garbage_dir(work: &Path) -> PathBuf {
    let dir = work.join("in/appendonlydir");
    copy_tree(&fixture("redis-7.0.15/mp-preamble/appendonlydir"), &dir);
    let incr = dir.join("appendonly.aof.2.incr.aof");
    let mut b = std::fs::read(&incr).unwrap();
    let mid = b.len() / 2;
    b[mid..mid + 16].copy_from_slice(b"!!garbage here!!");
    std::fs::write(&incr, b).unwrap();
    dir
}

fn intact_dir(work: &Path) -> PathBuf {
    std::fs::create_dir_all(work.join("out")).unwrap();
    let dir = work.join("in/appendonlydir");
    copy_tree(&fixture("redis-7.0.15/mp-preamble/appendonlydir"), &dir);
    dir
}

/// The second restore point of the fixture (a cut inside its incr file).
fn second_point() -> String {
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("redis-7.0.15/mp-preamble/truth.json")).unwrap(),
    )
    .unwrap();
    truth["seconds"][1]["unix_secs"].to_string()
}

/// A fixed file: each file the run changed is its original, or its original cut at N with the
/// rest in `<file>.cut-N` (a complete copy, never a partial one).
fn check_cut_restorable(work: &Path, original: &BTreeMap<String, Vec<u8>>, what: &str) {
    let now = snapshot(work);
    for (name, bytes) in &now {
        if let Some((file, n)) = name.rsplit_once(".cut-") {
            let n: usize = n.parse().unwrap();
            let orig = &original[file];
            assert_eq!(
                &orig[n..],
                &bytes[..],
                "{what}: {name} is not the tail of {file}"
            );
            let cur = &now[file];
            assert!(
                cur == orig || (cur.len() == n && cur[..] == orig[..n]),
                "{what}: {file} is neither the original nor its cut at {n}"
            );
        } else if name.ends_with(".before-cut-") || name.contains(".before-cut-") {
            let manifest = name.split(".before-cut-").next().unwrap();
            assert_eq!(&original[manifest], bytes, "{what}: the manifest backup");
        } else if !name.starts_with("out/") {
            let orig = original
                .get(name)
                .unwrap_or_else(|| panic!("{what}: new file {name}"));
            if orig != bytes {
                // Changed: only a cut file (with its .cut-N beside it) or a rewritten manifest
                // (with its backup beside it) may differ.
                let has_cut = now.keys().any(|k| k.starts_with(&format!("{name}.cut-")));
                let has_backup = now
                    .keys()
                    .any(|k| k.starts_with(&format!("{name}.before-cut-")));
                assert!(
                    has_cut || has_backup,
                    "{what}: {name} changed with no way back"
                );
            }
        }
    }
    for name in original.keys() {
        assert!(now.contains_key(name), "{what}: {name} is gone");
    }
}

/// An output directory is complete or absent, and the input is untouched.
fn check_output_all_or_nothing(work: &Path, original: &BTreeMap<String, Vec<u8>>, what: &str) {
    let now = snapshot(work);
    for (name, bytes) in original {
        assert_eq!(now.get(name), Some(bytes), "{what}: input {name} changed");
    }
    let out: Vec<&String> = now.keys().filter(|k| k.starts_with("out/")).collect();
    if !out.is_empty() {
        // Present: then it is the whole directory (compared with an uninterrupted run below).
        assert!(
            out.iter().any(|k| k.ends_with(".manifest")),
            "{what}: out/ without its manifest: {out:?}"
        );
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "check-aof --fix (multi-part)",
            setup: torn_dir,
            args: |input, _| {
                vec![
                    "check-aof".into(),
                    "--fix".into(),
                    "--yes".into(),
                    input.display().to_string(),
                ]
            },
            check_stopped: check_cut_restorable,
            min_stops: 4,
        },
        Scenario {
            name: "check-aof --fix (single file)",
            setup: torn_single,
            args: |input, _| {
                vec![
                    "check-aof".into(),
                    "--fix".into(),
                    "--yes".into(),
                    input.display().to_string(),
                ]
            },
            check_stopped: check_cut_restorable,
            min_stops: 4,
        },
        Scenario {
            name: "check-aof --salvage",
            setup: garbage_dir,
            args: |input, work| {
                vec![
                    "check-aof".into(),
                    "--salvage".into(),
                    work.join("out/appendonlydir").display().to_string(),
                    input.display().to_string(),
                ]
            },
            check_stopped: check_output_all_or_nothing,
            min_stops: 4,
        },
        Scenario {
            name: "truncate -o",
            setup: intact_dir,
            args: |input, work| {
                vec![
                    "truncate".into(),
                    input.display().to_string(),
                    "--to".into(),
                    second_point(),
                    "-o".into(),
                    work.join("out/appendonlydir").display().to_string(),
                ]
            },
            check_stopped: check_output_all_or_nothing,
            min_stops: 4,
        },
        Scenario {
            name: "truncate --in-place",
            setup: intact_dir,
            args: |input, _| {
                vec![
                    "truncate".into(),
                    input.display().to_string(),
                    "--to".into(),
                    second_point(),
                    "--in-place".into(),
                    "--yes".into(),
                ]
            },
            check_stopped: check_cut_restorable,
            min_stops: 4,
        },
        Scenario {
            name: "convert -o",
            setup: rdb_input,
            args: |input, work| {
                vec![
                    "convert".into(),
                    input.display().to_string(),
                    "-o".into(),
                    work.join("out/converted.rdb").display().to_string(),
                    "--rdb-version".into(),
                    "11".into(),
                ]
            },
            check_stopped: check_file_all_or_nothing,
            min_stops: 3,
        },
        Scenario {
            name: "rewrite -o",
            setup: rdb_input,
            args: |input, work| {
                vec![
                    "rewrite".into(),
                    input.display().to_string(),
                    "-o".into(),
                    work.join("out/appendonlydir").display().to_string(),
                ]
            },
            check_stopped: check_output_all_or_nothing,
            min_stops: 6,
        },
        Scenario {
            name: "aof-to-rdb -o",
            setup: intact_dir,
            args: |input, work| {
                vec![
                    "aof-to-rdb".into(),
                    input.display().to_string(),
                    "-o".into(),
                    work.join("out/converted.rdb").display().to_string(),
                ]
            },
            check_stopped: check_file_all_or_nothing,
            min_stops: 3,
        },
        Scenario {
            name: "rewrite -o (from an AOF)",
            setup: intact_dir,
            args: |input, work| {
                vec![
                    "rewrite".into(),
                    input.display().to_string(),
                    "-o".into(),
                    work.join("out/appendonlydir").display().to_string(),
                ]
            },
            check_stopped: check_output_all_or_nothing,
            min_stops: 6,
        },
    ]
}

/// An RDB written by Redis 7.0 with every type, as the input.
fn rdb_input(work: &Path) -> PathBuf {
    std::fs::create_dir_all(work.join("out")).unwrap();
    let to = work.join("dump.rdb");
    std::fs::copy(fixture("../rdb/redis-7.0.15/mixed_all.rdb"), &to).unwrap();
    to
}

/// An output file is complete (as after an uninterrupted run, checked by the caller after the
/// rerun) or absent, and the input is untouched.
fn check_file_all_or_nothing(work: &Path, original: &BTreeMap<String, Vec<u8>>, what: &str) {
    let now = snapshot(work);
    for (name, bytes) in original {
        assert_eq!(now.get(name), Some(bytes), "{what}: input {name} changed");
    }
    if let Some(out) = now.get("out/converted.rdb") {
        let check = common::redkit(&[
            "check-rdb",
            "-q",
            work.join("out/converted.rdb").to_str().unwrap(),
        ]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{what}: a partial output ({} bytes)",
            out.len()
        );
    }
}

#[test]
fn stopped_at_every_step_nothing_is_lost_and_a_rerun_finishes() {
    let root = std::env::temp_dir().join(format!("redkit-faults-{}", std::process::id()));
    for sc in scenarios() {
        // The uninterrupted run.
        let reference_dir = root.join("reference");
        let _ = std::fs::remove_dir_all(&root);
        let input = (sc.setup)(&reference_dir);
        let args = (sc.args)(&input, &reference_dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}{}",
            sc.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let reference = snapshot(&reference_dir);
        assert!(temporaries(&reference_dir).is_empty());

        let mut stops = 0;
        for k in 1..200 {
            let work = root.join(format!("run-{k}"));
            let input = (sc.setup)(&work);
            let original = snapshot(&work);
            let args = (sc.args)(&input, &work);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run(&args, Some(k));
            if !stopped(&out) {
                // Past the last step: the run completed like the reference.
                assert_eq!(snapshot(&work), reference, "{}: complete run", sc.name);
                break;
            }
            stops += 1;
            let what = format!(
                "{} stopped at step {k} ({})",
                sc.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            (sc.check_stopped)(&work, &original, &what);
            // Run again: it finishes, with the result of an uninterrupted run (an output
            // directory already complete is refused, not overwritten).
            let again = run(&args, None);
            assert!(
                again.status.code().is_some(),
                "{what}: rerun did not exit: {again:?}"
            );
            assert_eq!(snapshot(&work), reference, "{what}: after a rerun");
            let _ = std::fs::remove_dir_all(&work);
        }
        assert!(
            stops >= sc.min_stops,
            "{}: only {stops} steps were stopped",
            sc.name
        );
        eprintln!("{}: stopped at each of {stops} steps", sc.name);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A 30 MB log of 200,000 SETs with a restore point every 20,000, written in `dir`.
fn big_log(dir: &Path) -> (PathBuf, Vec<u8>) {
    let input = dir.join("appendonly.aof");
    let mut log = Vec::new();
    let value = "v".repeat(100);
    for i in 0..200_000u32 {
        if i % 20_000 == 0 {
            log.extend_from_slice(format!("#TS:{}\r\n", 1_700_000_000 + i / 20_000).as_bytes());
        }
        let key = format!("key{i:08}");
        log.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$100\r\n{value}\r\n",
                key.len()
            )
            .as_bytes(),
        );
    }
    std::fs::write(&input, &log).unwrap();
    (input, log)
}

/// `truncate -o` and `check-aof --salvage` on a 30 MB log, killed with SIGKILL after random
/// delays (most of them while the output is being written): the input never changes, the output
/// is absent or complete.
#[test]
fn killed_at_random_times_the_output_is_all_or_nothing() {
    let root = common::scratch("kills");
    let (input, log) = big_log(&root);
    let commands: [(&str, Vec<String>); 2] = [
        (
            "truncate",
            vec![
                "truncate".into(),
                input.display().to_string(),
                "--to".into(),
                "1700000008".into(),
                "-o".into(),
            ],
        ),
        (
            "salvage",
            vec![
                "check-aof".into(),
                input.display().to_string(),
                "--salvage".into(),
            ],
        ),
    ];
    // A cheap deterministic sequence of delays (no rand dependency).
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for (name, args) in commands {
        let reference = root.join(format!("{name}-reference"));
        let mut a = args.clone();
        a.push(reference.display().to_string());
        let t0 = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_redkit"))
            .args(&a)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        let full = t0.elapsed();
        let want = snapshot(&reference);
        let mut absent = 0;
        let mut complete = 0;
        for k in 0..12 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = full.mul_f64((seed % 1000) as f64 / 1000.0);
            let target = root.join(format!("{name}-{k}"));
            let mut a = args.clone();
            a.push(target.display().to_string());
            let mut child = Command::new(env!("CARGO_BIN_EXE_redkit"))
                .args(&a)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
            assert_eq!(std::fs::read(&input).unwrap(), log, "{name}: input changed");
            if target.exists() {
                assert_eq!(snapshot(&target), want, "{name} killed after {delay:?}");
                complete += 1;
            } else {
                absent += 1;
            }
        }
        eprintln!("{name}: 12 kills, {absent} left no output, {complete} a complete one");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `truncate -o`, `check-aof --salvage` and `aof-to-rdb` on a 30 MB log, stopped by SIGTERM or
/// SIGINT after random delays: nothing temporary is left behind, the output is absent or
/// complete, the input unchanged.
#[test]
fn stopped_by_a_signal_the_run_leaves_no_temporaries() {
    let root = common::scratch("signals");
    let (input, log) = big_log(&root);
    let i = input.display().to_string();
    let commands: [(&str, Vec<String>); 3] = [
        (
            "truncate",
            vec![
                "truncate".into(),
                i.clone(),
                "--to".into(),
                "1700000008".into(),
                "-o".into(),
            ],
        ),
        (
            "salvage",
            vec!["check-aof".into(), i.clone(), "--salvage".into()],
        ),
        (
            "aof-to-rdb",
            vec!["aof-to-rdb".into(), i.clone(), "-q".into(), "-o".into()],
        ),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut stopped = 0;
    for (name, args) in commands {
        let reference = root.join(format!("{name}-reference"));
        let mut a = args.clone();
        a.push(reference.display().to_string());
        let t0 = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_redkit"))
            .args(&a)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        let full = t0.elapsed();
        for k in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = full.mul_f64((seed % 1000) as f64 / 1000.0);
            let signal = if k % 2 == 0 { "-TERM" } else { "-INT" };
            let target = root.join(format!("{name}-{k}"));
            let mut a = args.clone();
            a.push(target.display().to_string());
            let mut child = Command::new(env!("CARGO_BIN_EXE_redkit"))
                .args(&a)
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let status = child.wait().unwrap();
            if status.code() == Some(130) {
                stopped += 1;
            }
            assert_eq!(std::fs::read(&input).unwrap(), log, "{name}: input changed");
            let left = temporaries(&root);
            assert!(
                left.is_empty(),
                "{name} {signal} after {delay:?}: left {left:?}"
            );
            if target.exists() {
                let (a, b) = (snapshot_any(&target), snapshot_any(&reference));
                let size = |m: &BTreeMap<String, Vec<u8>>| m.values().map(Vec::len).sum::<usize>();
                assert!(
                    a == b,
                    "{name} {signal} after {delay:?}: an incomplete output ({} file(s), {} bytes; \
                     complete: {} file(s), {} bytes)",
                    a.len(),
                    size(&a),
                    b.len(),
                    size(&b)
                );
            }
        }
    }
    assert!(
        stopped >= 6,
        "only {stopped} runs were stopped by the signal"
    );
    eprintln!("{stopped} of 24 runs stopped by a signal, none left a temporary file");
}

/// The bytes of a file, or of every file under a directory.
fn snapshot_any(p: &Path) -> BTreeMap<String, Vec<u8>> {
    if p.is_dir() {
        snapshot(p)
    } else {
        BTreeMap::from([(String::new(), std::fs::read(p).unwrap())])
    }
}
