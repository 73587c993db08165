//! `check-rdb --salvage`: every RDB of testdata/ damaged at many places (single flipped bytes at
//! random and at every key record's first byte, zeroed 4 KiB pages, cuts, spliced garbage,
//! duplicated ranges), salvaged, and the result compared key by key with the intact file.

mod common;

use common::{assert_schema, load_many, redkit, scratch, testdata};
use rdb_parse::{Event, Parser};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A key record of the intact file: its database and key (as dump-json writes them), and its
/// byte range.
#[derive(Debug, Clone)]
struct Rec {
    id: String,
    start: u64,
    end: u64,
}

/// The key records of an intact file, from the parser.
fn records(bytes: &[u8]) -> Vec<Rec> {
    let mut p = Parser::new(bytes);
    p.skip_values(true);
    let mut out = Vec::new();
    let mut cur: Option<(String, u64)> = None;
    loop {
        match p.next_event() {
            Ok(Some(Event::KeyStart(info))) => {
                let mut s = [0u8; 20];
                let key = info.key.as_bytes(&mut s);
                cur = Some((id(info.db, &json_key(key)), info.offset));
            }
            Ok(Some(Event::KeyEnd)) => {
                let (id, start) = cur.take().unwrap();
                out.push(Rec {
                    id,
                    start,
                    end: p.offset(),
                });
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("an intact fixture fails: {e}"),
        }
    }
    out
}

/// A key as dump-json writes it: UTF-8 as text, anything else as `{"base64": ...}`.
fn json_key(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::new();
            for c in b.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for i in 0..4 {
                    if i <= c.len() {
                        out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            serde_json::json!({ "base64": out })
        }
    }
}

fn id(db: u64, key: &Value) -> String {
    format!("{db} {key}")
}

/// Each key's dump-json line without its encoding (a salvage may write another version), by
/// database and key; `None` when dump-json refuses the file.
fn dataset(path: &Path) -> Option<BTreeMap<String, String>> {
    let o = redkit(&["dump-json", path.to_str().unwrap()]);
    if !o.status.success() {
        return None;
    }
    let mut m = BTreeMap::new();
    for line in o.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut v: Value = serde_json::from_slice(line).unwrap();
        let key = id(v["db"].as_u64().unwrap(), &v["key"]);
        v.as_object_mut().unwrap().remove("encoding");
        m.insert(key, v.to_string());
    }
    Some(m)
}

/// A damage done to a file, and which intact records it touches.
#[derive(Debug, Clone)]
enum Damage {
    /// The byte at this offset xored with this value.
    Flip(u64, u8),
    /// Bytes `[from, to)` set to zero.
    Zero(u64, u64),
    /// The file cut to this length.
    Cut(u64),
    /// These bytes inserted at this offset.
    Insert(u64, Vec<u8>),
}

impl Damage {
    fn apply(&self, b: &[u8]) -> Vec<u8> {
        let mut d = b.to_vec();
        match self {
            Damage::Flip(at, x) => d[*at as usize] ^= x,
            Damage::Zero(from, to) => d[*from as usize..*to as usize].fill(0),
            Damage::Cut(n) => d.truncate(*n as usize),
            Damage::Insert(at, bytes) => {
                d.splice(*at as usize..*at as usize, bytes.iter().copied());
            }
        }
        d
    }

    /// Whether the intact record `[s, e)` overlaps the damage (its bytes, or its whole, changed).
    fn touches(&self, s: u64, e: u64) -> bool {
        match self {
            Damage::Flip(at, _) => (s..e).contains(at),
            Damage::Zero(from, to) => s < *to && *from < e,
            Damage::Cut(n) => e > *n,
            Damage::Insert(at, _) => s < *at && *at < e,
        }
    }

    /// Where the byte at `at` of the intact file is in the damaged one.
    fn moved(&self, at: u64) -> u64 {
        match self {
            Damage::Insert(q, bytes) if at >= *q => at + bytes.len() as u64,
            _ => at,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Damage::Flip(..) => "flip",
            Damage::Zero(..) => "zero",
            Damage::Cut(..) => "cut",
            Damage::Insert(..) => "insert",
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The damages tried on a file of `len` bytes with these records.
fn damages(len: u64, recs: &[Rec], rng: &mut Rng) -> Vec<Damage> {
    let mut d = Vec::new();
    for _ in 0..10 {
        d.push(Damage::Flip(rng.below(len), (rng.below(255) + 1) as u8));
    }
    // Every key record's first byte, for the small files.
    for r in recs.iter().take(if len <= 16 << 10 { 24 } else { 4 }) {
        d.push(Damage::Flip(r.start, (rng.below(255) + 1) as u8));
    }
    // Zeroed pages: page-aligned where the file has pages, else anywhere.
    for _ in 0..3 {
        let from = if len > 8192 {
            rng.below(len / 4096) * 4096
        } else {
            rng.below(len)
        };
        d.push(Damage::Zero(from, (from + 4096).min(len)));
    }
    for _ in 0..4 {
        d.push(Damage::Cut(9 + rng.below(len - 9)));
    }
    for _ in 0..3 {
        let n = 1 + rng.below(600);
        let garbage: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        d.push(Damage::Insert(rng.below(len), garbage));
    }
    // A duplicated range, at its end.
    for _ in 0..2 {
        let a = 9 + rng.below(len - 9);
        let b = (a + 1 + rng.below(4096)).min(len);
        d.push(Damage::Insert(b, marker(a, b)));
    }
    d
}

/// Stands for the bytes `[a, b)` of the file, copied at `b`: a duplicated range.
fn marker(a: u64, b: u64) -> Vec<u8> {
    let mut v = b"\0DUP".to_vec();
    v.extend_from_slice(&a.to_le_bytes());
    v.extend_from_slice(&b.to_le_bytes());
    v
}

/// Replaces a duplicated-range marker with the file's bytes.
fn resolve(d: Damage, bytes: &[u8]) -> Damage {
    match d {
        Damage::Insert(at, v) if v.len() == 20 && v.starts_with(b"\0DUP") => {
            let a = u64::from_le_bytes(v[4..12].try_into().unwrap()) as usize;
            let b = u64::from_le_bytes(v[12..20].try_into().unwrap()) as usize;
            Damage::Insert(at, bytes[a..b].to_vec())
        }
        d => d,
    }
}

#[test]
fn every_intact_key_comes_back_and_no_wrong_value() {
    let dir = scratch("salvage");
    let mut files: Vec<PathBuf> = Vec::new();
    for v in std::fs::read_dir(testdata().join("rdb")).unwrap() {
        let v = v.unwrap().path();
        if v.is_dir() {
            files.extend(common::files_with_suffix(&v, ".rdb"));
        }
    }
    files.sort();
    assert!(files.len() >= 90, "{}", files.len());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Counts: cases, keys clear of the damage, of those recovered, left out next to damage.
    let (mut cases, mut clear, mut back, mut next_to, mut inside) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    // For the servers: one salvaged file per fixture and kind of damage.
    let mut to_load: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    for f in &files {
        let intact = std::fs::read(f).unwrap();
        let recs = records(&intact);
        let Some(want) = dataset(f) else {
            continue;
        };
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let tag = format!(
            "{}-{name}",
            f.parent().unwrap().file_name().unwrap().to_string_lossy()
        );
        let mut loaded_kinds = BTreeSet::new();
        for (n, d) in damages(intact.len() as u64, &recs, &mut rng)
            .into_iter()
            .enumerate()
        {
            let d = resolve(d, &intact);
            let damaged = d.apply(&intact);
            if damaged == intact {
                continue;
            }
            cases += 1;
            let ctx = format!("{tag} case {n} {d:?}");
            let ctx = if ctx.len() > 300 {
                format!("{}...", &ctx[..300])
            } else {
                ctx
            };
            let path = dir.join(format!("{tag}-{n}.rdb"));
            std::fs::write(&path, &damaged).unwrap();
            let out = dir.join(format!("{tag}-{n}.out.rdb"));
            let o = redkit(&[
                "check-rdb",
                path.to_str().unwrap(),
                "--salvage",
                out.to_str().unwrap(),
                "--json",
                "-q",
            ]);
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{ctx}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let report: Value = serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| panic!("{ctx}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
            assert_schema("check-rdb-salvage", &report);
            let got = dataset(&out).unwrap_or_else(|| panic!("{ctx}: the output does not read"));
            let checksum_only = report["skipped"].as_array().unwrap().is_empty()
                && report["left_out"].as_array().unwrap().is_empty()
                && report["status"] == "salvaged";
            // Never a key the intact file does not hold, never another value; unless only the
            // checksum failed, where the records the damage touched may read otherwise (a
            // damaged key name, a damaged value).
            let touched = recs.iter().filter(|r| d.touches(r.start, r.end)).count();
            let mut bad = Vec::new();
            for (k, v) in &got {
                match want.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => bad.push(format!("key {k} has another value\n got: {v}\nwant: {w}")),
                    None => bad.push(format!("key {k} is not in the intact file")),
                }
            }
            assert!(
                bad.is_empty() || (checksum_only && bad.len() <= touched),
                "{ctx}: {}",
                bad.join("\n")
            );
            // Every key clear of the damage is back, or named as left out next to it.
            let left: BTreeSet<u64> = report["left_out"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["why"] == "next-to-damage")
                .map(|x| x["offset"].as_u64().unwrap())
                .collect();
            let ranges = report["skipped"].as_array().unwrap().len();
            // At most the record just before and the one just after each damaged range.
            assert!(
                left.len() <= 2 * ranges,
                "{ctx}: {left:?} for {ranges} range(s)"
            );
            // A clear key in a skipped range: not found where records parse again (a place
            // is taken only where three records in a row parse, and its first record only
            // when nothing could be missing from it), or read as part of a damaged record.
            let skipped: Vec<(u64, u64)> = report["skipped"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (x["start"].as_u64().unwrap(), x["end"].as_u64().unwrap()))
                .collect();
            for r in &recs {
                if d.touches(r.start, r.end) || !want.contains_key(&r.id) {
                    continue;
                }
                clear += 1;
                let e = by_kind.entry(d.kind()).or_default();
                e.0 += 1;
                let (s, t) = (d.moved(r.start), d.moved(r.end));
                if got.contains_key(&r.id) {
                    back += 1;
                    e.1 += 1;
                } else if left.contains(&s) {
                    next_to += 1;
                } else {
                    assert!(
                        skipped.iter().any(|&(a, b)| a < t && s < b),
                        "{ctx}: key {} (record {}..{}) is clear of the damage, missing, and \
                         neither left out nor in a skipped range; report: {report}",
                        r.id,
                        r.start,
                        r.end
                    );
                    inside += 1;
                }
            }
            if o.status.code() == Some(0) {
                assert_eq!(got, want, "{ctx}: exit 0 yet another dataset");
            }
            if loaded_kinds.insert(d.kind()) {
                to_load.push((f.clone(), out.clone(), checksum_only));
            } else {
                std::fs::remove_file(&out).ok();
            }
            std::fs::remove_file(&path).ok();
        }
    }
    eprintln!(
        "{cases} damaged files: {back} of {clear} keys clear of the damage recovered \
         ({next_to} left out next to it, {inside} inside a skipped range); by kind (clear, \
         recovered): {by_kind:?}"
    );
    assert!(cases > 2000, "{cases}");
    // What is lost beyond the damage stays small.
    assert!(back * 100 >= clear * 94, "{back} of {clear}");
    // The real servers load the salvaged files, with the intact files' values.
    for (server, max_version) in [("redis-7.0", 10), ("valkey-8.1", 11)] {
        let pairs: Vec<&(PathBuf, PathBuf, bool)> = to_load
            .iter()
            .filter(|(f, _, _)| common::rdb_version(f) <= max_version)
            .collect();
        let mut paths: Vec<PathBuf> = pairs.iter().map(|(_, o, _)| o.clone()).collect();
        let intact: BTreeSet<PathBuf> = pairs.iter().map(|(f, _, _)| f.clone()).collect();
        paths.extend(intact.iter().cloned());
        let Some(loaded) = load_many(server, "rdb", &paths) else {
            continue;
        };
        let mut checked = 0;
        for (f, out, checksum_only) in pairs {
            let got = &loaded[out.to_str().unwrap()];
            let want = &loaded[f.to_str().unwrap()];
            if want.get("error").is_some() {
                continue;
            }
            assert!(
                got.get("error").is_none(),
                "{server}: {}: {got}",
                out.display()
            );
            let (g, w) = (
                got["digest_values"].as_object().unwrap(),
                want["digest_values"].as_object().unwrap(),
            );
            let differ = g.iter().filter(|(k, v)| w.get(*k) != Some(v)).count();
            assert!(
                differ == 0 || (*checksum_only && differ == 1),
                "{server}: {}: {differ} key(s) not as in {}",
                out.display(),
                f.display()
            );
            checked += 1;
        }
        eprintln!("{server}: {checked} salvaged files loaded");
        assert!(
            checked >= 40 || !common::servers_required(),
            "{server}: {checked}"
        );
    }
}

/// An intact file: exit 0, the same dataset, "intact"; the output is refused over an existing
/// file (without --force) or over the input, and standard input or a gzip file are refused.
#[test]
fn an_intact_file_is_copied_and_outputs_are_guarded() {
    let d = scratch("salvage-intact");
    let src = testdata().join("rdb/redis-7.0.15/mixed_all.rdb");
    let out = d.join("out.rdb");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = redkit(&["check-rdb", &s(&src), "--salvage", &s(&out), "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema("check-rdb-salvage", &r);
    assert_eq!(r["status"], "intact");
    assert_eq!(dataset(&out), dataset(&src));
    // Again: the output exists.
    let o = redkit(&["check-rdb", &s(&src), "--salvage", &s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    let o = redkit(&["check-rdb", &s(&src), "--salvage", &s(&out), "--force"]);
    assert_eq!(o.status.code(), Some(0));
    // Never over the input, even with --force.
    let copy = d.join("copy.rdb");
    std::fs::copy(&src, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let o = redkit(&["check-rdb", &s(&copy), "--salvage", &s(&copy), "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    // Standard input and gzip: not read in place.
    let o = redkit(&["check-rdb", "-", "--salvage", &s(&d.join("x.rdb"))]);
    assert_eq!(o.status.code(), Some(2));
    let gz = d.join("a.rdb.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    let o = redkit(&["check-rdb", &s(&gz), "--salvage", &s(&d.join("y.rdb"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("gunzip"));
    // --target and the like need --salvage.
    let o = redkit(&["check-rdb", &s(&src), "--target", "redis-7.0"]);
    assert_eq!(o.status.code(), Some(2));
}

/// One flipped byte inside a value: only the checksum fails. Every key is kept, and
/// --suspect-report finds the byte (and what the checksum expects there) and its key.
#[test]
fn one_flipped_byte_is_found_from_the_checksum() {
    let d = scratch("salvage-suspect");
    let src = testdata().join("rdb/redis-7.0.15/misc_keys.rdb");
    let intact = std::fs::read(&src).unwrap();
    let recs = records(&intact);
    // The last byte of a key record whose value is a plain string of 20 bytes or more (no
    // structure checks it): its last value byte.
    let r = recs
        .iter()
        .find(|r| r.end - r.start > 30 && r.id.contains("str"))
        .or_else(|| recs.iter().max_by_key(|r| r.end - r.start))
        .unwrap();
    let at = (r.end - 1) as usize;
    let mut b = intact.clone();
    b[at] ^= 0x20;
    let path = d.join("flip.rdb");
    std::fs::write(&path, &b).unwrap();
    let out = d.join("out.rdb");
    let o = redkit(&[
        "check-rdb",
        path.to_str().unwrap(),
        "--salvage",
        out.to_str().unwrap(),
        "--suspect-report",
        "--json",
    ]);
    let rep: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema("check-rdb-salvage", &rep);
    assert_eq!(o.status.code(), Some(1), "{rep}");
    assert_eq!(rep["checksum"]["status"], "mismatch");
    let sus = &rep["checksum"]["suspect"];
    assert_eq!(sus["narrowed"], true, "{rep}");
    assert_eq!(sus["offset"], at as u64);
    assert_eq!(sus["expected_byte"], intact[at] as u64);
    assert_eq!(sus["key_offset"], r.start, "{rep}");
    assert_eq!(id(sus["db"].as_u64().unwrap(), &sus["key"]), r.id);
    assert_eq!(dataset(&out).unwrap().len(), dataset(&src).unwrap().len());
}
