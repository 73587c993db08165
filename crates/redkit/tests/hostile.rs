//! Hostile AOF directories, made at test time: listed files that are symlinks (to a file
//! outside, to /dev/zero), FIFOs, a file listed twice, a manifest that lists itself. Nothing
//! outside the directory is read or changed, nothing blocks, and each is refused as damaged
//! (exit 1) by every AOF command; repairs change nothing.

mod common;

use common::{redkit_bin, scratch, testdata};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn run(args: &[&str]) -> Output {
    common::redkit_within(20, args)
}

/// Runs redkit with its address space limited to `mib` MiB: a command that holds what it should
/// stream fails with an allocation error. One malloc arena: each thread's own arena would
/// reserve 64 MiB of address space it does not use, and the limit would measure threads.
fn run_in(mib: u64, args: &[&str]) -> Output {
    let mut script = format!("ulimit -v {}; exec \"$0\"", mib * 1024);
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${{{i}}}\""));
    }
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(redkit_bin())
        .args(args)
        .env("MALLOC_ARENA_MAX", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed ({}): {}", o.status, stderr(o)))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the multi-part fixture in `dir/appendonlydir`; returns it and its incr file.
fn copy(dir: &Path) -> (PathBuf, PathBuf) {
    let to = dir.join("appendonlydir");
    common::server::copy_dir(
        &testdata().join("aof/redis-7.0.15/mp-preamble/appendonlydir"),
        &to,
    );
    let incr = std::fs::read_dir(&to)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .unwrap();
    (to, incr)
}

fn manifest_of(dir: &Path) -> PathBuf {
    dir.join("appendonly.aof.manifest")
}

/// Every AOF command on `aof`: refused as damaged, without blocking; check-aof names `what`.
fn all_refuse(aof: &Path, out: &Path, what: &str) {
    let a = aof.to_str().unwrap();
    let o = run(&["check-aof", a, "--json"]);
    assert_eq!(code(&o), 1, "check-aof: {}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        doc["problems"].to_string().contains(what),
        "check-aof names {what}: {doc}"
    );
    let rdb = out.join("x.rdb");
    let dir = out.join("cut/appendonlydir");
    for args in [
        vec!["restore-points", a],
        vec!["aof-to-rdb", a, "-o", rdb.to_str().unwrap()],
        vec![
            "truncate",
            a,
            "--to",
            "4000000000",
            "-o",
            dir.to_str().unwrap(),
        ],
        vec!["check-aof", a, "--fix", "--yes"],
        vec!["truncate", a, "--to", "1", "--in-place", "--yes"],
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
    }
    assert!(!rdb.exists() && !dir.exists(), "nothing written");
}

#[test]
fn listed_files_that_are_not_regular_files_are_refused() {
    let d = scratch("hostile-links");
    // A symlink to a file outside the directory: never read, never cut.
    let (aof, incr) = copy(&d);
    let outside = d.join("outside.aof");
    std::fs::rename(&incr, &outside).unwrap();
    let mut torn = std::fs::read(&outside).unwrap();
    torn.truncate(torn.len() - 3);
    std::fs::write(&outside, &torn).unwrap();
    std::os::unix::fs::symlink(&outside, &incr).unwrap();
    all_refuse(&aof, &d, "symbolic link");
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        torn,
        "the file outside is unchanged"
    );
    // A symlink to /dev/zero: refused before any read (no endless "cut bytes").
    std::fs::remove_file(&incr).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &incr).unwrap();
    all_refuse(&aof, &d, "symbolic link");
    // A FIFO: refused at once, nothing blocks in open.
    std::fs::remove_file(&incr).unwrap();
    let st = Command::new("mkfifo").arg(&incr).status().unwrap();
    assert!(st.success());
    all_refuse(&aof, &d, "not a regular file");
    // A FIFO as the manifest.
    let (aof2, _) = copy(&d.join("second"));
    std::fs::remove_file(manifest_of(&aof2)).unwrap();
    let st = Command::new("mkfifo")
        .arg(manifest_of(&aof2))
        .status()
        .unwrap();
    assert!(st.success());
    for args in [
        vec!["check-aof", aof2.to_str().unwrap()],
        vec!["restore-points", aof2.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_file_listed_twice_or_the_manifest_listed_is_invalid() {
    let d = scratch("hostile-manifest");
    let (aof, incr) = copy(&d);
    let m = manifest_of(&aof);
    let text = std::fs::read_to_string(&m).unwrap();
    let incr_name = incr.file_name().unwrap().to_string_lossy().into_owned();
    let incr_line = text
        .lines()
        .find(|l| l.contains(&incr_name))
        .unwrap()
        .to_string();
    // The incr file twice (the second with a higher seq, as a forged manifest would).
    let twice = format!("{text}{}\n", incr_line.replace("seq 2", "seq 3"));
    std::fs::write(&m, &twice).unwrap();
    let before: Vec<Vec<u8>> = [&incr, &m]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    all_refuse(&aof, &d, "listed twice");
    let after: Vec<Vec<u8>> = [&incr, &m]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after, "nothing changed");
    // The manifest listed as an incr file: never cut, never read as a log.
    let itself = format!("{text}file appendonly.aof.manifest seq 9 type i\n");
    std::fs::write(&m, &itself).unwrap();
    all_refuse(&aof, &d, "the manifest itself");
    assert_eq!(std::fs::read_to_string(&m).unwrap(), itself);
}

/// An RDB forged with 100,000 databases and 200,000 AUX fields (1.5 MB): checked in one linear
/// pass, the report lists the first 1,000 of each and counts them all.
#[test]
fn a_forged_rdb_of_many_databases_and_aux_fields_gives_a_bounded_report() {
    let d = scratch("hostile-rdb");
    let mut body = b"REDIS0010".to_vec();
    for i in 0..200_000u32 {
        let k = format!("k{i}");
        body.push(0xfa);
        body.push(k.len() as u8);
        body.extend_from_slice(k.as_bytes());
        body.extend_from_slice(b"\x01v");
    }
    for db in 0..100_000u32 {
        body.push(0xfe);
        body.push(0x80);
        body.extend_from_slice(&db.to_be_bytes());
        body.extend_from_slice(b"\xfb\x01\x00\x00\x01k\x01v");
    }
    body.push(0xff);
    let crc = rdb_parse::crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    let f = d.join("forged.rdb");
    std::fs::write(&f, &body).unwrap();
    let o = run(&["check-rdb", f.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["keys"], 100_000);
    assert_eq!(doc["database_count"], 100_000);
    assert_eq!(doc["databases"].as_array().unwrap().len(), 1000);
    assert_eq!(doc["aux_fields"], 200_000);
    assert_eq!(doc["aux"].as_object().unwrap().len(), 1000);
    let o = run(&["check-rdb", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("99936 more"));
}

/// `make test` runs every test with a file-size limit (ulimit -f), so that a command that
/// writes without end is stopped by SIGXFSZ instead of filling the disk.
#[test]
fn tests_run_with_a_file_size_limit() {
    if !common::servers_required() {
        return; // a plain `cargo test` is run as the user set it up
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max file size"))
        .unwrap();
    let soft = line.split_whitespace().nth(3).unwrap();
    assert_ne!(soft, "unlimited", "{line}");
    assert!(soft.parse::<u64>().unwrap() <= 4 << 30, "{line}");
}

/// A manifest that lists 100,000 missing files: every one is a problem, the report lists the
/// first 1000 of each list and counts them all.
#[test]
fn a_manifest_of_many_missing_files_gives_a_bounded_report() {
    let d = scratch("hostile-manifest");
    let dir = d.join("appendonlydir");
    std::fs::create_dir(&dir).unwrap();
    let mut text = String::from("file appendonly.aof.1.base.rdb seq 1 type b\n");
    for i in 1..=100_000 {
        text.push_str(&format!(
            "file appendonly.aof.{i}.incr.aof seq {i} type i\n"
        ));
    }
    std::fs::write(dir.join("appendonly.aof.manifest"), text).unwrap();
    let o = run(&["check-aof", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["problem_count"], 100_001);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 1000);
    assert_eq!(doc["problems"][999]["kind"], "missing");
    assert_eq!(doc["manifest"]["incr_count"], 100_000);
    assert_eq!(doc["manifest"]["incr"].as_array().unwrap().len(), 1000);
    assert_eq!(doc["file_count"], 0);
    let o = run(&["check-aof", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("INVALID: 100001 problem(s)"), "{text}");
    assert!(text.contains("and 99001 more"), "{text}");
    assert!(text.lines().count() < 1100, "the report is bounded");
}

/// A log of 200,000 restore points (one a second for 55 hours) is listed in a few MB: the
/// points are written as they are read (they took 2.7 KB each, 540 MB here).
#[test]
fn restore_points_stream_in_bounded_memory() {
    let d = scratch("hostile-points");
    let mut log = Vec::new();
    for i in 0..200_000u64 {
        log.extend_from_slice(format!("#TS:{}\r\n", 1_700_000_000 + i).as_bytes());
        log.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    }
    log.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r");
    let f = d.join("appendonly.aof");
    std::fs::write(&f, &log).unwrap();
    let f = f.to_str().unwrap();
    let o = run_in(128, &["restore-points", f, "--json"]);
    assert_eq!(code(&o), 1, "a torn tail: {}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let pts = doc["restore_points"].as_array().unwrap();
    assert_eq!(pts.len(), 200_000);
    assert_eq!(pts[199_999]["unix"], 1_700_199_999);
    assert_eq!(pts[1]["commands_before"], 1);
    assert_eq!(doc["damage"]["kind"], "truncated");
    let o = run_in(128, &["restore-points", f]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 200_001);
    let o = run_in(128, &["restore-points", f, "--every", "1h", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = doc["restore_points"].as_array().unwrap();
    let points: u64 = groups.iter().map(|g| g["points"].as_u64().unwrap()).sum();
    assert_eq!(points, 200_000);
    let hours = 1_700_199_999 / 3600 - 1_700_000_000 / 3600 + 1;
    assert_eq!(groups.len(), hours);
}

/// An RDB 10 file of `records` (each a SELECTDB or a string key), with its checksum.
fn rdb_of(records: &[(Option<u64>, &[u8])]) -> Vec<u8> {
    let mut body = b"REDIS0010".to_vec();
    for (db, key) in records {
        if let Some(db) = db {
            body.push(0xfe);
            if *db < 64 {
                body.push(*db as u8);
            } else {
                body.push(0x81);
                body.extend_from_slice(&db.to_be_bytes());
            }
            continue;
        }
        body.push(0);
        body.push(key.len() as u8);
        body.extend_from_slice(key);
        body.extend_from_slice(b"\x01v");
    }
    body.push(0xff);
    let crc = rdb_parse::crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// A key twice in one database: servers refuse the file ("Duplicate key found in RDB file"),
/// so check-rdb does (exit 1, the key and both offsets named), and convert writes nothing. The
/// same key in two databases is fine. Past a million keys the fingerprints go to temporary
/// files, and a repeat is still found.
#[test]
fn a_key_twice_in_one_database_is_refused() {
    let d = scratch("hostile-dupes");
    let write = |name: &str, body: &[u8]| {
        let f = d.join(name);
        std::fs::write(&f, body).unwrap();
        f.to_str().unwrap().to_string()
    };
    let twice = write(
        "twice.rdb",
        &rdb_of(&[
            (None, b"a"),
            (None, b"b"),
            (None, b"a"),
            (Some(1), b""),
            (None, b"a"),
        ]),
    );
    // check-rdb refuses `file`: one repeat, at `offset`, its message saying `says`.
    let refused = |file: &str, offset: u64, says: &str| {
        let o = run(&["check-rdb", file, "--json"]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(doc["duplicate_keys"], 1);
        assert_eq!(doc["error"]["offset"], offset);
        let msg = doc["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
    };
    refused(
        &twice,
        9 + 5 + 5,
        "key \"a\" of db 0 repeats the key of the record at offset 9",
    );
    // The same file stating 2^40 keys (RESIZEDB) before them: the fingerprints go to the
    // spill from the start, and the repeat is found there, named by its offsets.
    let mut hinted = rdb_of(&[(None, b"a"), (None, b"b"), (None, b"a")]);
    hinted.truncate(hinted.len() - 9);
    let mut resize = vec![0xfb, 0x81];
    resize.extend_from_slice(&(1u64 << 40).to_be_bytes());
    resize.push(0);
    hinted.splice(9..9, resize);
    hinted.push(0xff);
    let crc = rdb_parse::crc64(&hinted);
    hinted.extend_from_slice(&crc.to_le_bytes());
    let hinted = write("hinted.rdb", &hinted);
    refused(
        &hinted,
        20 + 5 + 5,
        "the key of this record repeats the key of the record at offset 20",
    );
    let out = d.join("out.rdb");
    let o = run(&["convert", &hinted, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!out.exists());
    let o = run(&["convert", &twice, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("Duplicate key"), "{}", stderr(&o));
    assert!(!out.exists());
    let once = write(
        "once.rdb",
        &rdb_of(&[(None, b"a"), (Some(1), b""), (None, b"a")]),
    );
    let o = run(&["check-rdb", &once, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // 1.1 million keys, then a repeat of the sixth: found among the spilled fingerprints.
    let names: Vec<Vec<u8>> = (0..1_100_000)
        .map(|i| format!("k{i}").into_bytes())
        .collect();
    let mut recs: Vec<(Option<u64>, &[u8])> = names.iter().map(|k| (None, &k[..])).collect();
    recs.push((None, b"k5"));
    let many = write("many.rdb", &rdb_of(&recs));
    let o = run(&["check-rdb", &many, "--json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["duplicate_keys"], 1);
    let first: u64 = 9 + names[..5].iter().map(|k| 4 + k.len() as u64).sum::<u64>();
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("record at offset {first}")), "{msg}");
}

/// SELECTDB past what a server can be configured for (2^31-1 databases) is corrupt; past the
/// default 16 it is a warning.
#[test]
fn a_database_number_no_server_loads_is_refused() {
    let d = scratch("hostile-selectdb");
    for (db, want) in [(1u64 << 40, 1), (u64::MAX, 1), (2_147_483_647, 1), (20, 0)] {
        let f = d.join(format!("db{db}.rdb"));
        std::fs::write(&f, rdb_of(&[(Some(db), b""), (None, b"k")])).unwrap();
        let o = run(&["check-rdb", f.to_str().unwrap(), "--json"]);
        assert_eq!(code(&o), want, "db {db}: {}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        if want == 1 {
            assert_eq!(doc["error"]["offset"], 9);
            assert!(doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no server has that many databases"));
        } else {
            assert!(doc["warnings"][0]
                .as_str()
                .unwrap()
                .contains("databases` set above 20"));
        }
    }
}

/// A gzip bomb: 256 KB of gzip holding an RDB with one 256 MiB string. check-rdb reads the
/// string through without holding it, in a few MB (it held the whole string, twice over).
#[test]
fn a_huge_string_out_of_a_small_gzip_is_checked_in_bounded_memory() {
    use std::io::Write;
    let d = scratch("hostile-gzip-bomb");
    let f = d.join("bomb.rdb.gz");
    let mut gz = Command::new("gzip")
        .arg("-1")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&f).unwrap())
        .spawn()
        .unwrap();
    let n: u32 = 256 << 20;
    {
        let w = gz.stdin.as_mut().unwrap();
        w.write_all(b"REDIS0010\xfe\x00\x00\x01k\x80").unwrap();
        w.write_all(&n.to_be_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..256 {
            w.write_all(&zeros).unwrap();
        }
        // The end, and a checksum of 0: not computed.
        w.write_all(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    }
    assert!(gz.wait().unwrap().success());
    assert!(std::fs::metadata(&f).unwrap().len() < 4 << 20);
    let o = run_in(128, &["check-rdb", f.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["keys"], 1);
    assert_eq!(
        doc["largest_by_bytes"][0]["bytes"].as_u64().unwrap(),
        1 + 2 + 5 + (256 << 20)
    );
    // dump-json writes the string as it reads it, in base64 (341 MiB of output).
    let out = d.join("bomb.jsonl");
    let o = run_in(
        128,
        &[
            "dump-json",
            f.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let size = std::fs::metadata(&out).unwrap().len();
    let head = r#"{"db":0,"key":"k","type":"string","encoding":"string","value":{"base64":""#;
    let b64 = (256u64 << 20).div_ceil(3) * 4;
    assert_eq!(size, head.len() as u64 + b64 + "\"}}\n".len() as u64);
    let mut start = vec![0u8; head.len() + 8];
    std::io::Read::read_exact(&mut std::fs::File::open(&out).unwrap(), &mut start).unwrap();
    assert_eq!(start, format!("{head}AAAAAAAA").as_bytes());
    let _ = std::fs::remove_file(&out);
    // convert and rewrite write it as they read it too; what they write reads back whole.
    let rdb = d.join("out.rdb");
    let o = run_in(
        128,
        &[
            "convert",
            f.to_str().unwrap(),
            "-o",
            rdb.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_in(128, &["check-rdb", rdb.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["largest_by_bytes"][0]["key"], "k");
    assert!(doc["largest_by_bytes"][0]["bytes"].as_u64().unwrap() > 256 << 20);
    let _ = std::fs::remove_file(&rdb);
    let resp = d.join("out.aof");
    let o = run_in(
        128,
        &[
            "rewrite",
            f.to_str().unwrap(),
            "--format",
            "resp",
            "-o",
            resp.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let head = format!(
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n",
        256u32 << 20
    );
    assert_eq!(
        std::fs::metadata(&resp).unwrap().len(),
        head.len() as u64 + (256 << 20) + 2
    );
    let mut start = vec![0u8; head.len()];
    std::io::Read::read_exact(&mut std::fs::File::open(&resp).unwrap(), &mut start).unwrap();
    assert_eq!(start, head.as_bytes());
    let o = run_in(128, &["check-aof", resp.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Bytes after an RDB's checksum are ignored by the servers: check-rdb warns (exit 0). Inside a
/// gzip file, past 64 MiB of them (a bomb of zeros after a small RDB) the rest is not read.
#[test]
fn bytes_after_the_checksum_are_a_warning_and_read_at_most_64_mib() {
    use std::io::Write;
    let d = scratch("hostile-trailing");
    let rdb = std::fs::read(testdata().join("rdb/redis-7.0.15/misc_multidb.rdb")).unwrap();
    let plain = d.join("trailing.rdb");
    std::fs::write(&plain, [&rdb[..], b"garbage"].concat()).unwrap();
    let o = run(&["check-rdb", plain.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["warnings"][0],
        "7 bytes follow the RDB's checksum: the servers ignore them"
    );
    let gz = d.join("bomb.rdb.gz");
    let mut g = Command::new("gzip")
        .arg("-1")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&gz).unwrap())
        .spawn()
        .unwrap();
    {
        let w = g.stdin.as_mut().unwrap();
        w.write_all(&rdb).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            w.write_all(&zeros).unwrap();
        }
    }
    assert!(g.wait().unwrap().success());
    let o = run_in(128, &["check-rdb", gz.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = doc["warnings"][0].as_str().unwrap();
    assert!(w.starts_with("over ") && w.contains("not all read"), "{w}");
    for args in [
        vec!["dump-json", gz.to_str().unwrap()],
        vec!["convert", gz.to_str().unwrap(), "-o", "-"],
    ] {
        let o = run_in(128, &args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
}

/// Bait for the search of the next valid command after damage: 1 MB of lines that each claim
/// a 1 GB argument. Every candidate is refused by its headers alone, so the search stays linear
/// (a full parse of each read to the end of the file: minutes); the valid command after the
/// bait is found and kept.
#[test]
fn the_resync_after_damage_is_linear_on_bait() {
    let d = scratch("hostile-bait");
    let ping = b"*1\r\n$4\r\nPING\r\n";
    let mut log = ping.to_vec();
    log.extend_from_slice(b"X\r\n");
    for _ in 0..60_000 {
        log.extend_from_slice(b"*1\r\n$999999999\r\n");
    }
    let tail = log.len();
    log.extend_from_slice(ping);
    let f = d.join("appendonly.aof");
    std::fs::write(&f, &log).unwrap();
    let o = run(&["check-aof", f.to_str().unwrap(), "--json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["problems"][0]["valid_data_after"], tail as u64, "{doc}");
    let out = d.join("salvaged");
    let o = run(&[
        "check-aof",
        f.to_str().unwrap(),
        "--salvage",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(out.join("appendonly.aof")).unwrap(),
        [&ping[..], &ping[..]].concat()
    );
}

/// A repair takes an exclusive lock on the files it cuts: with the log locked by another
/// process (another repair), it is refused even with --force (which only overrides the check
/// for open files), and nothing changes.
#[test]
fn a_repair_of_a_locked_log_is_refused() {
    let d = scratch("hostile-locked");
    let (aof, incr) = copy(&d);
    let mut torn = std::fs::read(&incr).unwrap();
    torn.truncate(torn.len() - 3);
    std::fs::write(&incr, &torn).unwrap();
    // `-o`: the lock stays with flock itself, not with the command it runs, so that killing
    // flock releases it.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(&incr)
        .args(["sleep", "10"])
        .spawn()
        .expect("flock (util-linux) holds the lock");
    // Wait until the lock is taken: `flock -n` fails while it is held.
    for _ in 0..250 {
        let probe = Command::new("flock")
            .args(["-n"])
            .arg(&incr)
            .arg("true")
            .status()
            .unwrap();
        if !probe.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = run(&[
        "check-aof",
        aof.to_str().unwrap(),
        "--fix",
        "--yes",
        "--force",
    ]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("locked"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&incr).unwrap(), torn, "nothing changed");
    // Once the lock is gone, the repair goes ahead.
    let o = run(&["check-aof", aof.to_str().unwrap(), "--fix", "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Members a forger picked so that an unkeyed hash of the members collides (the same 64-bit
/// hash under the checker's former member hash): a check that trusts such a hash calls these
/// distinct members duplicates and refuses a file every server loads.
const COLLIDING: [&str; 3] = ["member-acollides", "mmadvhaxGYBei1Mg", "mngchecrs7TeITxn"];

#[test]
fn members_forged_to_collide_are_not_duplicates() {
    use common::server::{call, flavors, make_aof};
    for flavor in flavors() {
        let (server, _) = make_aof("collide", &flavor, |c| {
            let filler: Vec<String> = (0..200).map(|i| format!("filler-{i}")).collect();
            let mut small: Vec<&str> = vec!["SADD", "small-set"];
            small.extend(COLLIDING);
            call(c, &small);
            // After the fillers: past the members compared one by one, into the table.
            let mut large: Vec<&str> = vec!["SADD", "large-set"];
            large.extend(filler.iter().map(String::as_str));
            large.extend(COLLIDING);
            call(c, &large);
            let mut hash: Vec<&str> = vec!["HSET", "hash"];
            let mut zset: Vec<&str> = vec!["ZADD", "zset"];
            for m in COLLIDING {
                hash.extend([m, "v"]);
                zset.extend(["1", m]);
            }
            call(c, &hash);
            call(c, &zset);
            assert_eq!(call(c, &["SAVE"]).trim(), "+OK");
        });
        let rdb = server.dir.join("dump.rdb");
        let rdb = rdb.to_str().unwrap();
        let o = run(&["check-rdb", rdb]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            flavor.name,
            String::from_utf8_lossy(&o.stderr)
        );
        let dump = run(&["dump-json", rdb]);
        assert_eq!(dump.status.code(), Some(0), "{}", flavor.name);
        let text = String::from_utf8_lossy(&dump.stdout);
        assert_eq!(text.lines().count(), 4, "{}: {text}", flavor.name);
        for m in COLLIDING {
            assert_eq!(text.matches(m).count(), 4, "{}: {m} in {text}", flavor.name);
        }
        // A member made a true repeat (one of the four places, its twin written over it; the
        // checksum zeroed, which servers take as none): found in each of the four keys.
        let file = std::fs::read(rdb).unwrap();
        let (from, to) = (COLLIDING[1].as_bytes(), COLLIDING[0].as_bytes());
        let places: Vec<usize> = (0..file.len() - from.len())
            .filter(|&i| &file[i..i + from.len()] == from)
            .collect();
        assert_eq!(places.len(), 4, "{}", flavor.name);
        for at in places {
            let mut bad = file.clone();
            bad[at..at + to.len()].copy_from_slice(to);
            let n = bad.len();
            bad[n - 8..].fill(0);
            let path = server.dir.join("repeat.rdb");
            std::fs::write(&path, &bad).unwrap();
            let o = run(&["check-rdb", path.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{} at {at}: {err}", flavor.name);
            assert!(err.contains("duplicate"), "{} at {at}: {err}", flavor.name);
        }
    }
}

/// A set listpack (RDB 11) of `n` distinct 32-bit integers, 6 bytes each, with no checksum.
fn set_listpack_rdb(n: u32) -> Vec<u8> {
    let mut lp = Vec::with_capacity(7 + 6 * n as usize);
    lp.extend_from_slice(&(7 + 6 * n).to_le_bytes());
    lp.extend_from_slice(&u16::MAX.to_le_bytes()); // count unknown
    for i in 0..n {
        lp.push(0xf4 - 1); // 32-bit integer
        lp.extend_from_slice(&(i as i32 + 1_000_000_000).to_le_bytes());
        lp.push(5); // back length
    }
    lp.push(0xff);
    let mut rdb = b"REDIS0011\xfe\x00\x14\x01k\x80".to_vec();
    rdb.extend_from_slice(&(lp.len() as u32).to_be_bytes());
    rdb.extend_from_slice(&lp);
    rdb.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    rdb
}

/// The members of one listpack are checked for repeats up to the same cap as those of a plain
/// set: a listpack of millions of tiny members is read in memory bounded by the blob, not a
/// table many times its size (16 bytes of fingerprint and more for each 6-byte member).
#[test]
fn a_listpack_of_tiny_members_is_checked_in_bounded_memory() {
    let d = scratch("hostile-tiny-members");
    let n = 4_000_000;
    let f = d.join("tiny.rdb");
    std::fs::write(&f, set_listpack_rdb(n)).unwrap();
    let f = f.to_str().unwrap();
    let o = run_in(128, &["check-rdb", f, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["keys"], 1);
    assert_eq!(doc["largest_by_elements"][0]["elements"], n);
    let out = d.join("tiny.jsonl");
    let o = run_in(128, &["dump-json", f, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let _ = std::fs::remove_file(&out);
    // A repeat among the members checked is still one.
    let mut small = set_listpack_rdb(1_000);
    let at = small.len() - 9 - 1 - 6 + 1;
    small[at..at + 4].copy_from_slice(&1_000_000_000i32.to_le_bytes());
    let f = d.join("repeat.rdb");
    std::fs::write(&f, small).unwrap();
    let o = run(&["check-rdb", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("duplicate entry in listpack"),
        "{}",
        stderr(&o)
    );
}
