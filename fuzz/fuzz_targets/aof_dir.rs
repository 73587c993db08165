//! Arbitrary AOF directories: the first bytes choose, for each of a few names, what the
//! directory holds under it (a regular file with some of the input, a symbolic link to a file
//! outside, a FIFO, a directory, nothing), and the rest is the manifest. Opening the directory
//! and every file it lists never panics and never blocks; every file it hands out is a
//! regular file of the directory (never the file outside, never the manifest).
#![no_main]

use libfuzzer_sys::fuzz_target;
use manifest::dir::{open_regular, AofDir};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::PathBuf;

const NAMES: [&str; 4] = [
    "appendonly.aof.1.base.rdb",
    "appendonly.aof.1.incr.aof",
    "appendonly.aof.2.incr.aof",
    "x",
];

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("redkit-fuzz-aof-dir-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < NAMES.len() {
        return;
    }
    let (kinds, manifest) = data.split_at(NAMES.len());
    let root = scratch();
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("appendonlydir");
    std::fs::create_dir_all(&dir).unwrap();
    let outside = root.join("outside.aof");
    std::fs::write(&outside, b"*1\r\n$4\r\nPING\r\n").unwrap();
    for (name, k) in NAMES.iter().zip(kinds) {
        let p = dir.join(name);
        match k % 5 {
            0 => std::fs::write(&p, &manifest[..manifest.len().min(*k as usize)]).unwrap(),
            1 => symlink(&outside, &p).unwrap(),
            2 => {
                let _ = std::process::Command::new("mkfifo").arg(&p).status();
            }
            3 => std::fs::create_dir(&p).unwrap(),
            _ => {}
        }
    }
    let mp = dir.join("appendonly.aof.manifest");
    std::fs::write(&mp, manifest).unwrap();
    let outside_ino = std::fs::metadata(&outside).unwrap().ino();
    let manifest_ino = std::fs::metadata(&mp).unwrap().ino();
    if let Ok(d) = AofDir::open(&mp) {
        for (_, path) in &d.files {
            assert!(path.starts_with(&dir));
            if let Ok(f) = open_regular(path) {
                let m = f.metadata().unwrap();
                assert!(m.is_file());
                assert_ne!(m.ino(), outside_ino);
                assert_ne!(m.ino(), manifest_ino);
                let lm = std::fs::symlink_metadata(path).unwrap();
                assert!(lm.file_type().is_file());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
});
