//! Helpers shared by the parser's test files.

// Each test file uses some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository's `testdata` directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Every `.rdb` file below the given directories of `testdata`, sorted.
pub fn rdb_files_in(dirs: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| testdata().join(d)).collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rdb") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// An RDB length in its smallest encoding (6-bit, 14-bit, 32-bit or 64-bit).
pub fn len(n: u64) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else if n <= u32::MAX as u64 {
        let mut v = vec![0x80];
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v
    } else {
        let mut v = vec![0x81];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
}
