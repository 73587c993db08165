//! `redkit digest` against the servers: every RDB fixture, loaded by the server that wrote it
//! (Redis 6.0, 6.2, 7.0, Valkey 8.1), gives the DEBUG DIGEST redkit computes from the file, byte
//! for byte (sorted-set scores as `%.17g` up to 7.0, as the shortest digits in Valkey).

mod common;

use common::{assert_schema, load_many, redkit, redkit_ok, scratch, testdata};
use serde_json::Value;
use std::path::PathBuf;

fn rdb_files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(testdata().join("rdb").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
        .collect();
    v.sort();
    v
}

#[test]
fn the_digest_is_the_servers_on_every_fixture() {
    for (installed, dir, server) in [
        ("redis-7.0", "redis-7.0.15", "redis-7.0"),
        ("redis-6.2", "redis-6.2.14", "redis-6.2"),
        ("redis-6.0", "redis-6.0.9", "redis-6.0"),
        ("valkey-8.1", "valkey-8.1.8", "valkey-8"),
    ] {
        let files = rdb_files(dir);
        let Some(loaded) = load_many(installed, "rdb", &files) else {
            continue;
        };
        let mut nonzero = 0;
        for f in &files {
            let fs = f.to_str().unwrap();
            let want = loaded[fs]["digest"]
                .as_str()
                .unwrap_or_else(|| panic!("{loaded}"));
            // The server named in the file is the default.
            let o = redkit_ok(&["digest", fs], "digest");
            let got = String::from_utf8_lossy(&o.stdout).trim().to_string();
            assert_eq!(got, want, "{server}: {fs}");
            let o = redkit_ok(
                &["digest", fs, "--server", server, "--json"],
                "digest --json",
            );
            let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_schema("digest", &doc);
            assert_eq!(doc["digest"], want);
            assert_eq!(doc["server"], server);
            nonzero += usize::from(want != "0".repeat(40));
            // Per key: DEBUG DIGEST-VALUE.
            let o = redkit_ok(
                &["digest", fs, "--server", server, "--keys"],
                "digest --keys",
            );
            let mut got = serde_json::Map::new();
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                let key = match &v["key"] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    other => common::unbase64(other["base64"].as_str().unwrap()),
                };
                let name = format!("{}:{}", v["db"], common::hex(&key));
                got.insert(name, v["digest"].clone());
            }
            assert_eq!(
                Value::Object(got),
                loaded[fs]["digest_values"],
                "{server}: {fs}"
            );
        }
        assert!(
            nonzero >= 20,
            "{server}: the fixtures hold data ({nonzero})"
        );
    }
}

/// The same dataset through convert and gzip has the same digest; a file of a server whose
/// digest is not computed yet is refused (exit 2), and a damaged one is damage (exit 1).
#[test]
fn the_digest_follows_the_dataset_not_the_file() {
    let d = scratch("digest");
    let src = testdata().join("rdb/redis-7.0.15/mixed_all.rdb");
    let s = src.to_str().unwrap();
    let want = String::from_utf8_lossy(&redkit_ok(&["digest", s], "digest").stdout).to_string();
    let again = d.join("re-encoded.rdb");
    redkit_ok(
        &["convert", s, "-o", again.to_str().unwrap(), "--re-encode"],
        "convert",
    );
    let gz = d.join("mixed.rdb.gz");
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -c '{s}' > '{}'", gz.display()))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    for f in [&again, &gz] {
        let o = redkit_ok(
            &["digest", f.to_str().unwrap(), "--server", "redis-7.0"],
            "digest",
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{f:?}");
    }
    // Another version: RDB 9 (ziplists) from RDB 10 (listpacks), scores included.
    let z = testdata().join("rdb/redis-7.0.15/zset_skiplist.rdb");
    let z9 = d.join("zset9.rdb");
    redkit_ok(
        &[
            "convert",
            z.to_str().unwrap(),
            "-o",
            z9.to_str().unwrap(),
            "--rdb-version",
            "9",
        ],
        "convert",
    );
    let digest = |f: &std::path::Path| {
        redkit_ok(
            &["digest", f.to_str().unwrap(), "--server", "redis-7.0"],
            "digest",
        )
        .stdout
    };
    assert_eq!(digest(&z), digest(&z9));
    // Redis 7.4 digests hash field TTLs too: not computed yet, said so (exit 2).
    let v74 = testdata().join("rdb/redis-7.4.1/small.rdb");
    let o = redkit(&["digest", v74.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--server redis-7.2"));
    let mut cut = std::fs::read(&src).unwrap();
    cut.truncate(cut.len() / 2);
    let cut_f = d.join("cut.rdb");
    std::fs::write(&cut_f, cut).unwrap();
    let o = redkit(&["digest", cut_f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
}

/// An RDB of `version` holding one sorted set (plain encoding, binary scores) of these scores.
fn zset_rdb(version: &str, scores: &[f64]) -> Vec<u8> {
    let mut f = format!("REDIS{version}").into_bytes();
    f.extend_from_slice(b"\xfe\x00\x05\x01z");
    // The member count, as a 32-bit length.
    f.push(0x80);
    f.extend_from_slice(&(scores.len() as u32).to_be_bytes());
    for (i, s) in scores.iter().enumerate() {
        let m = format!("m{i}");
        f.push(m.len() as u8);
        f.extend_from_slice(m.as_bytes());
        f.extend_from_slice(&s.to_le_bytes());
    }
    f.push(0xff);
    let crc = rdb_parse::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// 20,000 doubles of every magnitude (random bits: subnormals, huge, tiny, integers), as
/// scores: the digest is the server's, so every score was formatted as the server formats it
/// (`%.17g` in Redis 7.0, the shortest digits in Valkey 8.1).
#[test]
fn every_kind_of_score_is_formatted_as_the_server_formats_it() {
    let d = scratch("digest-scores");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut scores = Vec::new();
    while scores.len() < 20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let x = match scores.len() % 4 {
            0 => f64::from_bits(seed),
            1 => (seed % 1_000_000) as f64 / 1000.0,
            2 => (seed >> 11) as f64 * 2f64.powi(-53) * 10f64.powi((seed % 40) as i32 - 20),
            _ => (seed as i64 >> 20) as f64,
        };
        if x.is_finite() {
            scores.push(x);
        }
    }
    for (installed, version, server) in [
        ("redis-7.0", "0010", "redis-7.0"),
        ("valkey-8.1", "0011", "valkey-8"),
    ] {
        let f = d.join(format!("scores-{server}.rdb"));
        std::fs::write(&f, zset_rdb(version, &scores)).unwrap();
        let Some(loaded) = load_many(installed, "rdb", std::slice::from_ref(&f)) else {
            continue;
        };
        let want = loaded[f.to_str().unwrap()]["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("{loaded}"))
            .to_string();
        let o = redkit_ok(
            &["digest", f.to_str().unwrap(), "--server", server],
            "digest",
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), want, "{server}");
        // The other format gives another digest: the scores are what is being compared.
        let other = if server == "redis-7.0" {
            "valkey-8"
        } else {
            "redis-7.0"
        };
        let o = redkit_ok(
            &["digest", f.to_str().unwrap(), "--server", other],
            "digest",
        );
        assert_ne!(String::from_utf8_lossy(&o.stdout).trim(), want, "{server}");
    }
}

/// A log, replayed, has the digest the server prints after loading the log itself.
#[test]
fn a_log_has_the_digest_of_the_server_that_loads_it() {
    let mut compared = 0;
    for (rel, installed, server) in [
        (
            "redis-7.0.15/mp-preamble/appendonlydir",
            "redis-7.0",
            "redis-7.0",
        ),
        (
            "redis-7.0.15/mp-aof-base/appendonlydir",
            "redis-7.0",
            "redis-7.0",
        ),
        (
            "valkey-8.1.8/mp-preamble/appendonlydir",
            "valkey-8.1",
            "valkey-8",
        ),
    ] {
        let aof = testdata().join("aof").join(rel);
        let Some(loaded) = load_many(installed, "aof", std::slice::from_ref(&aof)) else {
            continue;
        };
        let want = loaded[aof.to_str().unwrap()]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let a = aof.to_str().unwrap();
        let o = redkit_ok(&["digest", a, "--server", server, "-q"], rel);
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), want, "{rel}");
        compared += 1;
    }
    assert!(compared == 3 || !common::servers_required());
    // Up to a restore point: the digest of what aof-to-rdb writes up to it.
    let aof = testdata().join("aof/redis-7.0.15/mp-preamble/appendonlydir");
    let a = aof.to_str().unwrap();
    let d = scratch("digest-until");
    let out = d.join("cut.rdb");
    let t = "1796137210";
    redkit_ok(
        &[
            "aof-to-rdb",
            a,
            "-o",
            out.to_str().unwrap(),
            "--until",
            t,
            "-q",
        ],
        "aof-to-rdb",
    );
    let from_rdb = redkit_ok(
        &["digest", out.to_str().unwrap(), "--server", "redis-7.0"],
        "rdb",
    );
    let from_log = redkit_ok(
        &["digest", a, "--until", t, "--server", "redis-7.0", "-q"],
        "log",
    );
    assert_eq!(from_rdb.stdout, from_log.stdout);
    let whole = redkit_ok(&["digest", a, "--server", "redis-7.0", "-q"], "log");
    assert_ne!(whole.stdout, from_log.stdout, "the cut holds less");
}
