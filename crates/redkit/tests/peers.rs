//! Files the servers load that a strict reader might refuse: a stream whose stored length is
//! larger than its live entries (a Redis 5.0 pre-release file from another project's suite),
//! and an AUX record between a key's expiry and its type (as KeyDB writes). Each is read as the
//! servers read it, and what redkit writes from it loads with the same dataset.

mod common;

use common::{load_many, redkit, redkit_ok, scratch, testdata};
use serde_json::Value;
use std::path::Path;

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// check-rdb's JSON report of `f`, which must be whole (exit 0).
fn check_ok(f: &str) -> Value {
    let o = redkit(&["check-rdb", f, "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{f}: {err}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Converts `f` to RDB 10 (Redis 7.0) at `out`.
fn convert_to_10(f: &str, out: &Path) {
    let o = out.to_str().unwrap();
    redkit_ok(&["convert", f, "-o", o, "--rdb-version", "10"], "convert");
}

/// `f` and what redkit wrote from it (`out`), loaded into Redis 7.0: both load, with the same
/// DEBUG DIGEST; their loaded datasets. `None` when the server is not installed (and not
/// required).
fn load_alike(f: &Path, out: &Path) -> Option<(Value, Value)> {
    let loaded = load_many("redis-7.0", "rdb", &[f.to_path_buf(), out.to_path_buf()])?;
    let (a, b) = (
        loaded[f.to_str().unwrap()].clone(),
        loaded[out.to_str().unwrap()].clone(),
    );
    assert!(a["error"].is_null() && b["error"].is_null(), "{loaded}");
    assert_eq!(a["digest"], b["digest"], "{f:?}");
    Some((a, b))
}

#[test]
fn a_stream_longer_than_its_entries_is_read_as_the_servers_read_it() {
    let f = testdata().join("peers/hdt3213-stream_listpacks_1.rdb");
    let fs = f.to_str().unwrap();
    let doc = check_ok(fs);
    let w = doc["warnings"][0].as_str().unwrap();
    assert!(
        w.contains("key \"trim\"") && w.contains("length 120 but 118 live entries"),
        "{w}"
    );
    let keys = json_lines(&redkit_ok(&["dump-json", fs], "dump-json").stdout);
    let trim = keys.iter().find(|k| k["key"] == "trim").unwrap();
    assert_eq!(trim["value"]["length"], 120);
    assert_eq!(trim["value"]["entries"].as_array().unwrap().len(), 118);
    // Converted, it loads in Redis 7.0 with the dataset of the original.
    let d = scratch("peers-stream");
    let out = d.join("converted.rdb");
    convert_to_10(fs, &out);
    let Some((a, b)) = load_alike(&f, &out) else {
        return;
    };
    let trim = a["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_repr"] == "trim")
        .unwrap();
    assert_eq!(
        trim["value"]["length"], 120,
        "the server keeps the stored length"
    );
    let trim = b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_repr"] == "trim")
        .unwrap();
    assert_eq!(
        trim["value"]["length"], 120,
        "and so does the converted file"
    );
}

/// An RDB 9 file, byte by byte: an expiry, then an AUX record (KeyDB's `mvcc-tstamp`), then
/// the key it belongs to.
fn aux_between_expiry_and_key() -> Vec<u8> {
    let mut f = b"REDIS0009".to_vec();
    f.extend_from_slice(b"\xfe\x00");
    f.push(0xfc);
    f.extend_from_slice(&4_102_444_800_000i64.to_le_bytes()); // 2100-01-01
    f.extend_from_slice(b"\xfa\x0bmvcc-tstamp\x0d1700000000000");
    f.extend_from_slice(b"\x00\x07testkey\x05value");
    f.extend_from_slice(b"\x00\x05other\x01v");
    f.push(0xff);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn an_aux_record_between_an_expiry_and_its_key_keeps_the_expiry() {
    let d = scratch("peers-aux");
    let f = d.join("keydb-expire.rdb");
    std::fs::write(&f, aux_between_expiry_and_key()).unwrap();
    let fs = f.to_str().unwrap();
    check_ok(fs);
    let keys = json_lines(&redkit_ok(&["dump-json", fs], "dump-json").stdout);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["key"], "testkey");
    assert_eq!(keys[0]["expire_at_ms"], 4_102_444_800_000i64);
    assert!(keys[1]["expire_at_ms"].is_null());
    let out = d.join("converted.rdb");
    convert_to_10(fs, &out);
    let Some((a, b)) = load_alike(&f, &out) else {
        return;
    };
    let testkey = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_repr"] == "testkey")
            .unwrap()["expire_at_ms"]
            .clone()
    };
    assert_eq!(
        testkey(&a),
        4_102_444_800_000i64,
        "the server keeps the expiry"
    );
    assert_eq!(testkey(&b), 4_102_444_800_000i64);
}

/// An RDB 10 file, byte by byte, holding empty collections of the kinds Redis 7.0 loads by
/// skipping them (a set, a quicklist, a hash, a sorted set: an empty intset or listpack it
/// refuses, and so does redkit), and one string.
fn empty_keys() -> Vec<u8> {
    let mut f = b"REDIS0010\xfe\x00".to_vec();
    f.extend_from_slice(b"\x02\x04eset\x00"); // set, 0 members
    f.extend_from_slice(b"\x12\x05elist\x00"); // quicklist 2, 0 nodes
    f.extend_from_slice(b"\x04\x05ehash\x00"); // hash, 0 fields
    f.extend_from_slice(b"\x05\x05ezset\x00"); // sorted set, 0 members
    f.extend_from_slice(b"\x00\x01k\x01v");
    f.push(0xff);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn empty_keys_are_skipped_as_the_servers_skip_them() {
    let d = scratch("peers-empty");
    let f = d.join("empty.rdb");
    std::fs::write(&f, empty_keys()).unwrap();
    let fs = f.to_str().unwrap();
    let doc = check_ok(fs);
    assert_eq!(doc["empty_keys"], 4);
    assert!(
        doc["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("4 empty key(s)"),
        "{doc}"
    );
    let o = redkit_ok(&["dump-json", fs], "dump-json");
    let keys = json_lines(&o.stdout);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["key"], "k");
    assert!(String::from_utf8_lossy(&o.stderr).contains("4 empty key(s) skipped"));
    let all = json_lines(&redkit_ok(&["dump-json", fs, "--keep-empty"], "dump-json").stdout);
    assert_eq!(all.len(), 5);
    let out = d.join("converted.rdb");
    let o = redkit_ok(&["convert", fs, "-o", out.to_str().unwrap()], "convert");
    assert!(String::from_utf8_lossy(&o.stderr).contains("4 empty key(s) skipped"));
    let kept = d.join("kept.rdb");
    redkit_ok(
        &["convert", fs, "-o", kept.to_str().unwrap(), "--keep-empty"],
        "convert --keep-empty",
    );
    let kept_keys = json_lines(
        &redkit_ok(
            &["dump-json", kept.to_str().unwrap(), "--keep-empty"],
            "dump",
        )
        .stdout,
    );
    assert_eq!(kept_keys.len(), 5);
    let Some((a, _)) = load_alike(&f, &out) else {
        return;
    };
    assert_eq!(
        a["keys"].as_array().unwrap().len(),
        1,
        "the server skips them: {a}"
    );
}

/// An RDB of `magic` (a version newer than any known) holding `body`, with its checksum.
fn newer(magic: &[u8], body: &[u8]) -> Vec<u8> {
    let mut f = magic.to_vec();
    f.extend_from_slice(body);
    f.push(0xff);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// --relaxed-version reads a newer version of the family as the newest known one, and says so;
/// an unknown type then still fails with its offset. Without it, the version is refused.
#[test]
fn a_newer_version_is_read_as_the_newest_known_when_asked() {
    let d = scratch("peers-relaxed");
    let write = |name: &str, body: Vec<u8>| {
        let f = d.join(name);
        std::fs::write(&f, body).unwrap();
        f.to_str().unwrap().to_string()
    };
    let redis = write(
        "redis15.rdb",
        newer(b"REDIS0015", b"\xfe\x00\x00\x01k\x01v"),
    );
    let valkey = write(
        "valkey81.rdb",
        newer(b"VALKEY081", b"\xfe\x00\x00\x01k\x01v"),
    );
    let unknown = write(
        "unknown-type.rdb",
        newer(b"REDIS0015", b"\xfe\x00\x40\x01k\x01v"),
    );
    for (f, read_as) in [(&redis, 14), (&valkey, 80)] {
        let o = redkit(&["check-rdb", f]);
        assert_eq!(o.status.code(), Some(1), "{f}: refused without the flag");
        assert!(String::from_utf8_lossy(&o.stderr).contains("unsupported RDB version"));
        let o = redkit(&["check-rdb", f, "--relaxed-version", "--json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
        let w = doc["warnings"][0].as_str().unwrap();
        assert!(w.contains(&format!("read as version {read_as}")), "{w}");
        assert_eq!(doc["keys"], 1);
        let o = redkit_ok(&["dump-json", f, "--relaxed-version"], "dump-json");
        assert_eq!(json_lines(&o.stdout)[0]["value"], "v");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--relaxed-version"));
        let out = d.join(format!("out{read_as}.rdb"));
        let o = redkit_ok(
            &[
                "convert",
                f,
                "--relaxed-version",
                "--rdb-version",
                "10",
                "-o",
                out.to_str().unwrap(),
            ],
            "convert",
        );
        assert!(String::from_utf8_lossy(&o.stderr).contains("read as version"));
        redkit_ok(&["check-rdb", out.to_str().unwrap()], "the converted file");
    }
    let o = redkit(&["check-rdb", &unknown, "--relaxed-version", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["offset"], 11, "{doc}");
}

/// Redis's and Valkey's own file of empty keys of every encoding (a quicklist of one empty
/// ziplist among them): their suite expects the server to load it with no key, and so it is
/// read here: a warning, nothing dumped, a conversion that loads the same.
#[test]
fn the_servers_file_of_empty_keys_loads_empty() {
    let f = testdata().join("peers/valkey-corrupt_empty_keys.rdb");
    let fs = f.to_str().unwrap();
    let doc = check_ok(fs);
    assert_eq!(doc["empty_keys"], 9);
    let o = redkit_ok(&["dump-json", fs], "dump-json");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("9 empty key(s) skipped"));
    let all = json_lines(&redkit_ok(&["dump-json", fs, "--keep-empty"], "dump-json").stdout);
    assert_eq!(all.len(), 9);
    let d = scratch("peers-empty-keys");
    let out = d.join("converted.rdb");
    let o = redkit_ok(
        &["convert", fs, "-o", out.to_str().unwrap(), "--re-encode"],
        "convert",
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("9 empty key(s) skipped"));
    let Some((a, _)) = load_alike(&f, &out) else {
        return;
    };
    assert_eq!(a["keys"].as_array().unwrap().len(), 0);
}

/// Old encodings from the servers' own suite: each file is whole, and what convert writes
/// from it holds the dataset Redis 7.0 loads from it (same DEBUG DIGEST, same keys).
#[test]
fn the_servers_old_encodings_convert_to_the_same_dataset() {
    let d = scratch("peers-old");
    let mut pairs = Vec::new();
    for name in [
        "encodings",
        "hash-zipmap",
        "hash-ziplist",
        "list-quicklist",
        "zset-ziplist",
        "scriptbackup",
    ] {
        let f = testdata().join(format!("peers/valkey-{name}.rdb"));
        redkit_ok(&["check-rdb", f.to_str().unwrap()], name);
        let out = d.join(format!("{name}.rdb"));
        redkit_ok(
            &[
                "convert",
                f.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--rdb-version",
                "10",
            ],
            name,
        );
        pairs.push((f, out));
    }
    let paths: Vec<_> = pairs
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let Some(loaded) = load_many("redis-7.0", "rdb", &paths) else {
        return;
    };
    let mut keys = 0;
    for (f, out) in &pairs {
        let (a, b) = (&loaded[f.to_str().unwrap()], &loaded[out.to_str().unwrap()]);
        assert!(
            a["error"].is_null() && b["error"].is_null(),
            "{f:?}: {loaded}"
        );
        assert_eq!(a["digest"], b["digest"], "{f:?}");
        common::assert_same_dataset(
            &common::comparable(&b["keys"]),
            &common::comparable(&a["keys"]),
            &f.display().to_string(),
        );
        keys += a["keys"].as_array().unwrap().len();
    }
    assert_eq!(keys, 18, "the files hold keys to compare");
}
