//! Random hostile AOF directories, made at test time from a fixed seed: manifests that list
//! files twice, themselves, names with `..`, `/` or odd bytes, seq 0 or 2^64-1; listed files
//! that are regular (whole, cut, garbage), symlinks to a file outside, FIFOs, directories, or
//! missing. Every AOF command, repairs included, must end (no FIFO blocks it), exit 0, 1 or 2
//! without a panic, and leave everything outside the directory and its named outputs as it
//! was: the file a symlink points to is never read into an output nor changed.

mod common;

use common::{scratch, testdata};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// xorshift64*: the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn run(args: &[&str]) -> Output {
    common::redkit_within(30, args)
}

/// Names a manifest may list.
const NAMES: &[&str] = &[
    "appendonly.aof.1.base.rdb",
    "appendonly.aof.1.incr.aof",
    "appendonly.aof.2.incr.aof",
    "appendonly.aof.manifest",
    "../outside.aof",
    "sub/appendonly.aof.3.incr.aof",
    "\"quoted name\".aof",
    "appendonly.aof.9.incr.aof",
];

/// What the directory holds under a name.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Whole,
    Cut,
    Garbage,
    LinkOutside,
    Fifo,
    Dir,
    Missing,
}

const KINDS: &[Kind] = &[
    Kind::Whole,
    Kind::Whole,
    Kind::Cut,
    Kind::Garbage,
    Kind::LinkOutside,
    Kind::Fifo,
    Kind::Dir,
    Kind::Missing,
];

fn make_case(rng: &mut Rng, dir: &Path, outside: &Path, base: &[u8], incr: &[u8]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    // One case in two lists the two real files as a server would (the other files of the
    // directory, unlisted, are still hostile); the rest list at random.
    let listed_well = rng.below(2) == 0;
    let mut manifest = String::new();
    if listed_well {
        manifest.push_str("file appendonly.aof.1.base.rdb seq 1 type b\n");
        manifest.push_str("file appendonly.aof.1.incr.aof seq 1 type i\n");
    }
    let lines = if listed_well {
        rng.below(2)
    } else {
        1 + rng.below(5)
    };
    for _ in 0..lines {
        let name = NAMES[rng.below(NAMES.len())];
        let quoted = if name.contains(' ') || name.contains('"') {
            format!("\"{}\"", name.replace('"', "\\\""))
        } else {
            name.to_string()
        };
        let seq = [0u64, 1, 2, 3, u64::MAX][rng.below(5)];
        let t = ["b", "h", "i", "i", "x"][rng.below(5)];
        manifest.push_str(&format!("file {quoted} seq {seq} type {t}\n"));
        if rng.below(8) == 0 {
            manifest.push_str("file\n");
        }
    }
    for name in NAMES {
        if name.contains('/') || *name == "appendonly.aof.manifest" {
            continue;
        }
        let p = dir.join(name);
        let body = if name.ends_with(".rdb") { base } else { incr };
        let real = name.starts_with("appendonly.aof.1.");
        let kind = if listed_well && real && rng.below(3) > 0 {
            [Kind::Whole, Kind::Cut][rng.below(2)]
        } else {
            KINDS[rng.below(KINDS.len())]
        };
        match kind {
            Kind::Whole => std::fs::write(&p, body).unwrap(),
            Kind::Cut => std::fs::write(&p, &body[..rng.below(body.len().max(1))]).unwrap(),
            Kind::Garbage => {
                let junk: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
                std::fs::write(&p, junk).unwrap()
            }
            Kind::LinkOutside => symlink(outside, &p).unwrap(),
            Kind::Fifo => {
                let ok = Command::new("mkfifo").arg(&p).status().unwrap().success();
                assert!(ok, "mkfifo");
            }
            Kind::Dir => std::fs::create_dir(&p).unwrap(),
            Kind::Missing => {}
        }
    }
    let mp = dir.join("appendonly.aof.manifest");
    match rng.below(if listed_well { 20 } else { 10 }) {
        0 => symlink(outside, &mp).unwrap(),
        1 => {
            let ok = Command::new("mkfifo").arg(&mp).status().unwrap().success();
            assert!(ok, "mkfifo");
        }
        _ => std::fs::write(&mp, &manifest).unwrap(),
    }
    manifest
}

/// Everything under `root` (names, kinds, sizes and contents of regular files), outside the
/// AOF directory and the outputs.
fn snapshot(root: &Path, skip: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if skip.iter().any(|s| p.starts_with(s)) {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if m.is_file() {
                format!("{:?}", std::fs::read(&p).unwrap())
            } else {
                format!("{:?}", m.file_type())
            };
            out.push((p, what));
        }
    }
    out.sort();
    out
}

#[test]
fn random_hostile_directories_never_escape_block_or_panic() {
    let d = scratch("hostile-dirs");
    let fixture = testdata().join("aof/redis-7.0.15/mp-preamble/appendonlydir");
    let base = std::fs::read(fixture.join("appendonly.aof.2.base.rdb")).unwrap();
    let incr = std::fs::read(fixture.join("appendonly.aof.2.incr.aof")).unwrap();
    let mut rng = Rng(0x005e_ed0f_d1ce);
    // Exit codes seen: the cases must reach both verdicts, not only refusals.
    let mut seen = [0u32; 3];
    for case in 0..40 {
        let root = d.join(format!("case{case}"));
        let outside = root.join("outside.aof");
        std::fs::create_dir_all(&root).unwrap();
        let mut marked = incr.clone();
        marked.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$14\r\noutside-marker\r\n$1\r\n1\r\n");
        std::fs::write(&outside, &marked).unwrap();
        let dir = root.join("appendonlydir");
        let manifest = make_case(&mut rng, &dir, &outside, &base, &incr);
        let outs = [
            root.join("out.rdb"),
            root.join("cut"),
            root.join("salvaged"),
        ];
        let mut skip = vec![dir.clone()];
        skip.extend(outs.iter().cloned());
        let before = snapshot(&root, &skip);
        let a = dir.to_str().unwrap();
        let commands: Vec<Vec<&str>> = vec![
            vec!["check-aof", a, "--json"],
            vec!["restore-points", a, "--json"],
            vec!["aof-to-rdb", a, "-o", outs[0].to_str().unwrap()],
            vec![
                "truncate",
                a,
                "--to",
                "1796137210",
                "-o",
                outs[1].to_str().unwrap(),
            ],
            vec!["check-aof", a, "--salvage", outs[2].to_str().unwrap()],
            vec!["check-aof", a, "--fix", "--yes"],
            vec!["truncate", a, "--to", "1796137210", "--in-place", "--yes"],
        ];
        for args in &commands {
            let o = run(args);
            let err = String::from_utf8_lossy(&o.stderr);
            let code = o.status.code();
            if let Some(c @ 0..=2) = code {
                seen[c as usize] += 1;
            }
            assert!(
                matches!(code, Some(0..=2)) && !err.contains("panicked"),
                "case {case} {args:?}: exit {code:?}: {err}\nmanifest:\n{manifest}"
            );
        }
        assert_eq!(
            snapshot(&root, &skip),
            before,
            "case {case}: something outside the directory changed\nmanifest:\n{manifest}"
        );
        // Nothing of the file outside reaches an output.
        let mut stack: Vec<PathBuf> = outs.iter().filter(|p| p.exists()).cloned().collect();
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else {
                let body = std::fs::read(&p).unwrap();
                assert!(
                    !body.windows(14).any(|w| w == b"outside-marker"),
                    "case {case}: {} holds what the symlink points to\nmanifest:\n{manifest}",
                    p.display()
                );
            }
        }
        // What a salvage copied is only regular files of the directory.
        if let Ok(rd) = std::fs::read_dir(&outs[2]) {
            for e in rd {
                let m = std::fs::symlink_metadata(e.unwrap().path()).unwrap();
                assert!(
                    m.is_file(),
                    "case {case}: the salvage holds a non-regular file"
                );
            }
        }
    }
    assert!(
        seen[0] > 10 && seen[1] > 10,
        "exit codes 0, 1, 2 seen: {seen:?}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
