//! Shared helpers for the CLI tests.
#![allow(dead_code)] // each test file uses a different part

pub mod server;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The subcommands that read or write persistence files.
pub const COMMANDS: &[&str] = &[
    "check-rdb",
    "check-aof",
    "restore-points",
    "truncate",
    "dump-json",
    "split",
    "merge",
    "digest",
    "diff",
    "analyze",
    "convert",
    "rewrite",
    "aof-to-rdb",
];

/// The repository's `testdata/` directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A fresh, empty directory for one test (`redkit-NAME-PID` in the temporary directory),
/// removed when dropped, also when the test fails.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("redkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A directory removed when dropped (see [`scratch`]).
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The redkit binary under test: this build's, or `REDKIT_TEST_BIN` (to run the tests against
/// another build, e.g. to see a test fail on the code before a fix).
pub fn redkit_bin() -> PathBuf {
    std::env::var_os("REDKIT_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_redkit")))
}

/// Runs the redkit binary with `args`.
pub fn redkit(args: &[&str]) -> Output {
    Command::new(redkit_bin())
        .args(args)
        .output()
        .expect("run redkit")
}

/// Runs the redkit binary with `args`, `input` on its standard input.
#[allow(dead_code)] // not every test file feeds redkit a pipe
pub fn redkit_fed(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(redkit_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redkit");
    // A command that stops reading early closes the pipe: what it said is what counts.
    let _ = child.stdin.take().expect("piped").write_all(input);
    child.wait_with_output().expect("run redkit")
}

/// Runs the redkit binary with `args` (stdin empty), killing it and failing if it has not
/// ended within `secs` seconds: a FIFO or a forged input must not block a command.
pub fn redkit_within(secs: u64, args: &[&str]) -> Output {
    let child = Command::new(redkit_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redkit");
    let pid = child.id();
    // The output is read while the command runs (a full pipe would stop it).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => out.expect("wait for redkit"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("redkit {args:?} did not end within {secs} s");
        }
    }
}

/// Runs the redkit binary with `args` and asserts it succeeds (`ctx` and its stderr otherwise).
pub fn redkit_ok(args: &[&str], ctx: &str) -> Output {
    let r = redkit(args);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{ctx}: redkit {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&r.stderr)
    );
    r
}

/// A single-file AOF of `keys` SETs of `key:<i>` to `value(i)`, as RESP.
pub fn set_log(keys: usize, value: impl Fn(usize) -> String) -> Vec<u8> {
    let mut log = Vec::new();
    for i in 0..keys {
        let (k, v) = (format!("key:{i}"), value(i));
        log.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    log
}

/// All files under `dir` (recursively) whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes lowercase hex.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Decodes standard base64.
pub fn unbase64(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 char {c}"),
        }
    }
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The truth keys without what a load does not keep as written (encoding, LRU/LFU).
pub fn comparable(keys: &Value) -> Vec<Value> {
    keys.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let mut k = k.clone();
            let o = k.as_object_mut().unwrap();
            for f in [
                "encoding",
                "freq",
                "idle_s",
                "encoding_after_reload_if_different",
                "has_field_ttl",
            ] {
                o.remove(f);
            }
            // The corpus truth files write hash fields as [field, value] (no TTL slot).
            if o["type"] == "hash" {
                for pair in o["value"].as_array_mut().unwrap() {
                    let pair = pair.as_array_mut().unwrap();
                    if pair.len() == 2 {
                        pair.push(Value::Null);
                    }
                }
            }
            k
        })
        .collect()
}

/// Leaves out of both stream values what one side does not report (older servers' XINFO has no
/// entries-added, max-deleted-id, entries-read, lag or active-time) and the node layout.
pub fn align_streams(got: &mut Value, want: &mut Value) {
    if got["type"] != "stream" || want["type"] != "stream" {
        return;
    }
    let (g, w) = (&mut got["value"], &mut want["value"]);
    for f in ["radix_tree_keys", "radix_tree_nodes"] {
        g.as_object_mut().unwrap().remove(f);
        w.as_object_mut().unwrap().remove(f);
    }
    for f in [
        "entries_added",
        "max_deleted_entry_id",
        "recorded_first_entry_id",
    ] {
        if g[f].is_null() || w[f].is_null() {
            g[f] = Value::Null;
            w[f] = Value::Null;
        }
    }
    let (gg, wg) = (
        g["groups"].as_array_mut().unwrap(),
        w["groups"].as_array_mut().unwrap(),
    );
    for (a, b) in gg.iter_mut().zip(wg.iter_mut()) {
        for f in ["entries_read", "lag"] {
            if a[f].is_null() || b[f].is_null() {
                a[f] = Value::Null;
                b[f] = Value::Null;
            }
        }
        let (ac, bc) = (
            a["consumers"].as_array_mut().unwrap(),
            b["consumers"].as_array_mut().unwrap(),
        );
        for (x, y) in ac.iter_mut().zip(bc.iter_mut()) {
            if x["active_time_ms"].is_null() || y["active_time_ms"].is_null() {
                x["active_time_ms"] = Value::Null;
                y["active_time_ms"] = Value::Null;
            }
        }
    }
}

/// Whether the tests must find the servers (`make test` sets REDKIT_REQUIRE_SERVERS).
pub fn servers_required() -> bool {
    std::env::var_os("REDKIT_REQUIRE_SERVERS").is_some()
}

/// Loads each path into a fresh `server` (`testdata/gen/load_many.py`, MODE rdb, aof or
/// pipe): {path: {"keys", "digest"} | {"error"}}; `None` when the server is not installed
/// and the tests do not require it.
pub fn load_many(server: &str, mode: &str, paths: &[PathBuf]) -> Option<Value> {
    // A loop over nothing proves nothing: with the servers required, it fails.
    assert!(
        !paths.is_empty() || !servers_required(),
        "{server}: nothing to load (REDKIT_REQUIRE_SERVERS is set)"
    );
    if paths.is_empty() {
        return Some(Value::Object(Default::default()));
    }
    let out = std::process::Command::new("python3")
        .arg(testdata().join("gen/load_many.py"))
        .arg(server)
        .arg(mode)
        .args(paths)
        .output()
        .unwrap();
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(!servers_required(), "{server}: {msg}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Asserts two keys (truth.py records) are equal; on a difference, names the key and the first
/// differing field, with both values cut to 1,500 characters.
pub fn assert_same_key(got: &Value, want: &Value, ctx: &str) {
    if got == want {
        return;
    }
    let cut = |v: &Value| {
        let s = v.to_string();
        if s.len() > 1500 {
            format!("{}...", &s[..1500])
        } else {
            s
        }
    };
    let (g, w) = (got.as_object(), want.as_object());
    let field = match (g, w) {
        (Some(g), Some(w)) => g
            .keys()
            .chain(w.keys())
            .find(|k| g.get(*k) != w.get(*k))
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    };
    panic!(
        "{ctx}: key {} differs in {field:?}\n got: {}\nwant: {}",
        want["key_repr"],
        cut(&got[&field]),
        cut(&want[&field])
    );
}

/// The RDB version in a file's header (`REDIS0011`, `VALKEY080`).
pub fn rdb_version(path: &Path) -> u32 {
    let head = std::fs::read(path).unwrap();
    let digits = if head.starts_with(b"VALKEY") {
        &head[6..9]
    } else {
        &head[5..9]
    };
    std::str::from_utf8(digits).unwrap().parse().unwrap()
}

/// Asserts two datasets (truth.py key lists, in the same order) hold the same keys: each pair
/// compared with [`assert_same_key`] after [`align_streams`], then their lengths.
pub fn assert_same_dataset(got: &[Value], want: &[Value], ctx: &str) {
    for (g, w) in got.iter().zip(want) {
        let (mut g, mut w) = (g.clone(), w.clone());
        align_streams(&mut g, &mut w);
        assert_same_key(&g, &w, ctx);
    }
    assert_eq!(got.len(), want.len(), "{ctx}");
}

/// A byte string of our dump (base64) in the truth's form: hex, or {len, sha256, head_hex}
/// past 65536 bytes.
pub fn truth_bytes(v: &Value) -> Value {
    let b = unbase64(v.as_str().expect("base64 string"));
    if b.len() > 65536 {
        json!({"len": b.len(), "sha256": hex(&Sha256::digest(&b)), "head_hex": hex(&b[..32])})
    } else {
        Value::String(hex(&b))
    }
}

/// A byte string of our dump (base64) as plain hex.
pub fn b64_hex(v: &Value) -> String {
    hex(&unbase64(v.as_str().expect("base64 string")))
}

/// The value of one line of `dump-json --bytes base64` in the truth's form (sets sorted,
/// sorted-set members and hash fields sorted by their bytes, hash fields as [field, value,
/// ttl]); scores go through `score`, streams through `stream`.
pub fn dump_value_as_truth(
    line: &Value,
    score: fn(&Value) -> Value,
    stream: fn(&Value) -> Value,
) -> Value {
    let v = &line["value"];
    match line["type"].as_str().unwrap() {
        "string" => truth_bytes(v),
        "list" => Value::Array(v.as_array().unwrap().iter().map(truth_bytes).collect()),
        "set" => {
            let mut m: Vec<Value> = v.as_array().unwrap().iter().map(truth_bytes).collect();
            m.sort_by_key(|x| x.to_string());
            Value::Array(m)
        }
        "zset" => {
            let mut m: Vec<(String, Value)> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (b64_hex(&p[0]), score(&p[1])))
                .collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            m.into_iter().map(|(k, s)| json!([k, s])).collect()
        }
        "hash" => {
            let ttls = line.get("field_expire_at_ms").and_then(Value::as_object);
            let mut m: Vec<(String, Value, Value)> = v
                .as_object()
                .expect("base64 mode writes hashes as objects")
                .iter()
                .map(|(f, val)| {
                    let ttl = ttls.and_then(|t| t.get(f)).cloned().unwrap_or(Value::Null);
                    (hex(&unbase64(f)), truth_bytes(val), ttl)
                })
                .collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            m.into_iter()
                .map(|(f, val, t)| json!([f, val, t]))
                .collect()
        }
        "stream" => stream(v),
        other => panic!("unexpected type {other}"),
    }
}

/// The entries of a stream of our dump (base64 mode) as the truth writes them:
/// `[id, [[field_hex, value_hex], ...]]`.
pub fn stream_entries_as_truth(v: &Value) -> Vec<Value> {
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let fields: Vec<Value> = e["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| json!([b64_hex(&p[0]), b64_hex(&p[1])]))
                .collect();
            json!([e["id"], fields])
        })
        .collect()
}

/// Validates `doc` against `docs/schemas/<name>.schema.json`.
pub fn assert_schema(name: &str, doc: &Value) {
    let path = testdata().join(format!("../docs/schemas/{name}.schema.json"));
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    // Its `$id`, `redkit/NAME.schema.json`, resolves from there to where the others are.
    let url = format!("file:///{name}.schema.json");
    // The others, for a `$ref` from one schema to another.
    for other in std::fs::read_dir(path.parent().unwrap()).unwrap() {
        let other = other.unwrap().path();
        let file = other.file_name().unwrap().to_str().unwrap().to_string();
        if file != format!("{name}.schema.json") && file.ends_with(".schema.json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&other).unwrap()).unwrap();
            compiler
                .add_resource(&format!("file:///redkit/{file}"), v)
                .unwrap();
        }
    }
    compiler.add_resource(&url, schema).unwrap();
    let id = compiler.compile(&url, &mut schemas).unwrap();
    if let Err(e) = schemas.validate(doc, id) {
        panic!(
            "{name}: the output does not follow its schema: {e:#}\n{}",
            serde_json::to_string_pretty(doc).unwrap()
        );
    }
}
