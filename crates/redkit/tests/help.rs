//! Every `--help` is pinned: a change to what a command says of itself shows in review.
//! `REDKIT_BLESS=1 cargo test -p redkit --test help` rewrites the files in `tests/help/`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn every_help_is_pinned() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/help");
    let bless = std::env::var_os("REDKIT_BLESS").is_some();
    let mut changed = Vec::new();
    let all = [&[""][..], common::COMMANDS, &["completions", "man"]].concat();
    for cmd in &all {
        let mut args: Vec<&str> = Vec::new();
        if !cmd.is_empty() {
            args.push(cmd);
        }
        args.push("--help");
        let out = Command::new(common::redkit_bin())
            .args(&args)
            .env_remove("COLUMNS")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            cmd.is_empty() || text.contains("Example"),
            "{cmd} --help shows no example"
        );
        let name = if cmd.is_empty() { "redkit" } else { cmd };
        let file = dir.join(format!("{name}.txt"));
        if bless {
            std::fs::write(&file, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("{} is missing: run with REDKIT_BLESS=1", file.display()));
        if want != text {
            changed.push(name);
        }
    }
    assert!(
        changed.is_empty(),
        "--help changed for {changed:?}: review, then REDKIT_BLESS=1 cargo test -p redkit --test help"
    );
}
