//! Per-command replay against the real servers: `testdata/keyspace/commands.json` (made by
//! `testdata/gen/make_command_cases.py` on Redis 7.0 and Valkey 8.1) holds, for each of a few
//! hundred short cases (every family of write command `aof-to-rdb` applies, with edge and
//! error cases), exactly the commands the server logged to its AOF and the dataset it then
//! held (and, where the two differ, the dataset of the same server loading its own log, which
//! is the one compared). Each case's logged commands, written as a single-file AOF, are replayed by
//! `redkit aof-to-rdb --rdb-version 10`; `redkit dump-json` of the result must hold the same
//! keys, types, values and expiries (and, for the function cases, the same libraries). A key
//! whose logged expiry is at or before the server's time at the end of the case counts as
//! absent, as the server loading the file would drop it. Consumers' seen and active times,
//! a group's lag and the stream node layout are left out: the server sets or derives them.
//!
//! A case marked `refused` must stop the replay (exit 1) naming the logged command; one marked
//! `differs` records a known difference and must still differ (so that a fix is noticed and the
//! mark removed).
//!
//! Each case is its own log, replayed by its own process: a case may use several databases,
//! SWAPDB, FLUSHALL or functions, so cases cannot share a log (a database per case would not
//! keep them apart), and two short processes per case are fast (about 10 ms). The cases run on
//! two threads. No server is needed: the fixture holds what the servers did.
//!
//! Logs that a sane AOF cannot hold (a command on a key of another type, bad arity, a
//! non-integer where an integer is needed) must stop the replay with exit 1, naming the file,
//! the offset and the command, and never panic.

mod common;

use common::{
    b64_hex, dump_value_as_truth, redkit, scratch, stream_entries_as_truth, testdata, unbase64,
};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// An argument of the fixture: a UTF-8 string, or {"hex": ...}.
fn arg_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => unhex(o["hex"].as_str().expect("hex argument")),
        other => panic!("bad argument {other}"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A command in RESP, as the server appends it to its AOF.
fn resp(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A score as its bits: equal scores compare equal, and -0 differs from 0.
fn score_bits(v: &Value) -> Value {
    let f = match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => match s.as_str() {
            "inf" | "+inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            s => s.parse().unwrap_or_else(|_| panic!("bad score {s}")),
        },
        other => panic!("bad score {other}"),
    };
    json!(format!("{f:e} ({:016x})", f.to_bits()))
}

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|x| x.to_string());
    Value::Array(v)
}

/// A stream in the comparable form, from the truth's record.
fn truth_stream(t: &Value) -> Value {
    let groups = t["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let consumers = g["consumers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let ids: Vec<Value> = c["pending"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p[0].clone())
                        .collect();
                    json!({"name": c["name"], "pending": ids})
                })
                .collect();
            json!({"name": g["name"], "last_delivered_id": g["last_delivered_id"],
                   "entries_read": g["entries_read"], "pending": g["pending"],
                   "consumers": sorted(consumers)})
        })
        .collect();
    json!({"length": t["length"], "last_id": t["last_generated_id"],
           "max_deleted_id": t["max_deleted_entry_id"], "entries_added": t["entries_added"],
           "first_id": t["recorded_first_entry_id"], "entries": t["entries"],
           "groups": sorted(groups)})
}

/// A stream in the comparable form, from our dump (base64 mode).
fn our_stream(v: &Value) -> Value {
    let entries = stream_entries_as_truth(v);
    let groups = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let pending: Vec<Value> = g["pending"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    json!([
                        p["id"],
                        b64_hex(&p["consumer"]),
                        p["delivery_time_ms"],
                        p["delivery_count"]
                    ])
                })
                .collect();
            let consumers = g["consumers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| json!({"name": b64_hex(&c["name"]), "pending": c["pending"]}))
                .collect();
            json!({"name": b64_hex(&g["name"]), "last_delivered_id": g["last_delivered_id"],
                   "entries_read": g["entries_read"], "pending": pending,
                   "consumers": sorted(consumers)})
        })
        .collect();
    json!({"length": v["length"], "last_id": v["last_id"], "max_deleted_id": v["max_deleted_id"],
           "entries_added": v["entries_added"], "first_id": v["first_id"], "entries": entries,
           "groups": sorted(groups)})
}

/// A truth key (truth.read_keys) in the comparable form.
fn truth_key(t: &Value) -> Value {
    let v = &t["value"];
    let value = match t["type"].as_str().unwrap() {
        "zset" => Value::Array(
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| json!([p[0], score_bits(&p[1])]))
                .collect(),
        ),
        "stream" => truth_stream(v),
        _ => v.clone(),
    };
    json!({"db": t["db"], "key": t["key"], "type": t["type"], "expire_at_ms": t["expire_at_ms"],
           "value": value})
}

/// One of our dump's lines in the comparable form.
fn our_key(o: &Value) -> Value {
    let value = dump_value_as_truth(o, score_bits, our_stream);
    json!({"db": o["db"], "key": b64_hex(&o["key"]), "type": o["type"],
           "expire_at_ms": o.get("expire_at_ms").cloned().unwrap_or(Value::Null),
           "value": value})
}

/// What one replay gave: the exit code, stderr, and (on success) the keys and function codes.
struct Replay {
    code: Option<i32>,
    stderr: String,
    keys: Vec<Value>,
    functions: Vec<String>,
}

fn replay(dir: &Path, name: &str, log: &[u8]) -> Replay {
    let aof = dir.join(format!("{name}.aof"));
    let rdb = dir.join(format!("{name}.rdb"));
    std::fs::write(&aof, log).unwrap();
    let r = redkit(&[
        "aof-to-rdb",
        aof.to_str().unwrap(),
        "-o",
        rdb.to_str().unwrap(),
        "--rdb-version",
        "10",
        "-q",
    ]);
    let mut out = Replay {
        code: r.status.code(),
        stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
        keys: Vec::new(),
        functions: Vec::new(),
    };
    if out.code == Some(0) {
        let dump = redkit(&[
            "dump-json",
            "--bytes",
            "base64",
            "--meta",
            "-q",
            rdb.to_str().unwrap(),
        ]);
        assert!(
            dump.status.success(),
            "dump-json {name}: {}",
            String::from_utf8_lossy(&dump.stderr)
        );
        for line in String::from_utf8(dump.stdout).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            match v.get("meta").and_then(Value::as_str) {
                Some("function") => out
                    .functions
                    .push(String::from_utf8(unbase64(v["code"].as_str().unwrap())).unwrap()),
                Some(_) => {}
                None => out.keys.push(v),
            }
        }
        let _ = std::fs::remove_file(&rdb);
    }
    let _ = std::fs::remove_file(&aof);
    out
}

/// The first difference between our keys and the truth's, if any.
fn difference(
    ours: &[Value],
    want: &[Value],
    functions: Option<(&[String], &Value)>,
) -> Option<String> {
    for i in 0..ours.len().max(want.len()) {
        match (ours.get(i), want.get(i)) {
            (Some(o), Some(w)) if o == w => {}
            (Some(o), Some(w)) if o["db"] == w["db"] && o["key"] == w["key"] => {
                let field = ["type", "expire_at_ms", "value"]
                    .into_iter()
                    .find(|f| o[f] != w[f])
                    .unwrap_or("?");
                return Some(format!(
                    "db {} key {}: {field} differs\n      got:  {}\n      want: {}",
                    w["db"], w["key"], o[field], w[field]
                ));
            }
            (o, w) => {
                let name = |k: Option<&Value>| {
                    k.map_or("nothing".to_string(), |k| {
                        format!("db {} key {}", k["db"], k["key"])
                    })
                };
                return Some(format!("keys differ: got {}, want {}", name(o), name(w)));
            }
        }
    }
    if let Some((ours, want)) = functions {
        let mut want: Vec<String> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["library_code"].as_str().unwrap().to_string())
            .collect();
        let mut ours = ours.to_vec();
        want.sort();
        ours.sort();
        if ours != want {
            return Some(format!(
                "function libraries differ: got {ours:?}, want {want:?}"
            ));
        }
    }
    None
}

/// Replays one case's log for one server; the problem found, if any.
fn check(dir: &Path, id: &str, case: &Value, server: &str, run: &Value) -> Result<(), String> {
    let mut log = Vec::new();
    // Each logged command's offset and arguments, quoted as aof-to-rdb names them.
    let mut heads: Vec<(usize, Vec<String>)> = Vec::new();
    for step in run["logged"].as_array().unwrap() {
        for cmd in step.as_array().unwrap() {
            let args: Vec<Vec<u8>> = cmd.as_array().unwrap().iter().map(arg_bytes).collect();
            let quoted = args
                .iter()
                .map(|a| format!("{:?}", String::from_utf8_lossy(a).to_ascii_uppercase()))
                .collect();
            heads.push((log.len(), quoted));
            log.extend(resp(&args));
        }
    }
    let ctx = format!("{server} {}", case["name"].as_str().unwrap());
    let r = replay(dir, id, &log);
    if r.stderr.contains("panicked") {
        return Err(format!("{ctx}: panicked: {}", r.stderr));
    }
    let expect = &run["expect"];
    if let Some(cmd) = expect.get("refused").and_then(Value::as_str) {
        // The first logged command that starts with the words of `cmd`: the replay stops there.
        let words: Vec<String> = cmd.split(' ').map(|w| format!("{w:?}")).collect();
        let Some((offset, _)) = heads.iter().find(|(_, h)| h.starts_with(&words)) else {
            return Err(format!(
                "{ctx}: marked refused at {cmd}, which the log does not hold"
            ));
        };
        let named = format!(".aof offset {offset}: {}", words.join(" "));
        if r.code != Some(1)
            || !r
                .stderr
                .to_ascii_uppercase()
                .contains(&named.to_ascii_uppercase())
        {
            return Err(format!(
                "{ctx}: expected exit 1 naming {cmd} ({}), got {:?}: {}",
                expect["reason"], r.code, r.stderr
            ));
        }
        return Ok(());
    }
    if r.code != Some(0) {
        if expect.get("differs").is_some() {
            return Ok(());
        }
        return Err(format!("{ctx}: exit {:?}: {}", r.code, r.stderr.trim()));
    }
    let end_ms = run["end_ms"].as_i64().unwrap();
    let mut ours: Vec<Value> = r
        .keys
        .iter()
        .filter(|k| k["expire_at_ms"].as_i64().is_none_or(|t| t > end_ms))
        .map(our_key)
        .collect();
    ours.sort_by(|a, b| {
        (a["db"].as_u64(), a["key"].as_str()).cmp(&(b["db"].as_u64(), b["key"].as_str()))
    });
    // The dataset of the server loading its own log, where the fixture has it (it differs
    // from the live one when the log does not carry the whole live state).
    let truth = run.get("reloaded").unwrap_or(&run["keys"]);
    let want: Vec<Value> = truth.as_array().unwrap().iter().map(truth_key).collect();
    let functions = run.get("functions").map(|f| (r.functions.as_slice(), f));
    let diff = difference(&ours, &want, functions);
    match (diff, expect.get("differs")) {
        (None, None) => Ok(()),
        (Some(d), None) => Err(format!("{ctx}: {d}")),
        (Some(_), Some(_)) => Ok(()),
        (None, Some(why)) => Err(format!(
            "{ctx}: marked as a known difference ({why}) but the replay now matches: remove the mark"
        )),
    }
}

#[test]
fn each_command_replays_as_the_server_applied_it() {
    let path = testdata().join("keyspace/commands.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut work: Vec<(&Value, &str, &Value)> = Vec::new();
    for case in cases {
        for (server, run) in case["runs"].as_object().unwrap() {
            work.push((case, server, run));
        }
    }
    assert!(
        cases.len() >= 300 && work.len() >= 600,
        "{} cases",
        cases.len()
    );
    let dir = scratch("commands");
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let (refused, differs) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((case, server, run)) = work.get(i) else {
                    break;
                };
                if run["expect"].get("refused").is_some() {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                if run["expect"].get("differs").is_some() {
                    differs.fetch_add(1, Ordering::Relaxed);
                }
                if let Err(e) = check(&dir, &i.to_string(), case, server, run) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{} case runs replayed ({} refused by design, {} known differences)",
        work.len(),
        refused.into_inner(),
        differs.into_inner()
    );
    assert!(
        failures.is_empty(),
        "{} of {} case runs differ:\n{}",
        failures.len(),
        work.len(),
        failures.join("\n")
    );
}

/// Logs no server writes: each stops the replay with exit 1, naming the file, the offset of the
/// command and the command, and nothing is written.
#[test]
fn impossible_logs_are_named_not_applied() {
    let dir = scratch("commands-bad");
    let cmd = |line: &str| -> Vec<u8> {
        let args: Vec<Vec<u8>> = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        resp(&args)
    };
    // (setup commands, the impossible command, the name the error must show)
    let cases: &[(&[&str], &str, &str)] = &[
        (&["SET k v"], "LPUSH k a", "LPUSH"),
        (&["RPUSH l a"], "INCR l", "INCR"),
        (&["SADD s a"], "HSET s f v", "HSET"),
        (&["HSET h f v"], "ZADD h 1 a", "ZADD"),
        (&["ZADD z 1 a"], "XADD z 1-1 f v", "XADD"),
        (&["XADD x 1-1 f v"], "SADD x a", "SADD"),
        (&["SET k v"], "XGROUP CREATE k g 0", "XGROUP"),
        (&[], "SET k", "SET"),
        (&[], "RPUSH l", "RPUSH"),
        (&[], "EXPIRE k", "EXPIRE"),
        (&["SET k 1"], "INCRBY k x", "INCRBY"),
        (&["SET k v"], "EXPIRE k soon", "EXPIRE"),
        (&["SET k v"], "PEXPIREAT k 1.5", "PEXPIREAT"),
        (&["RPUSH l a"], "LTRIM l a b", "LTRIM"),
        (&["RPUSH l a"], "LSET l 5 x", "LSET"),
        (&[], "SELECT x", "SELECT"),
        (&["SET k abc"], "INCR k", "INCR"),
        (&["SET k 9223372036854775807"], "INCR k", "INCR"),
        (&["XADD x 5-5 f v"], "XADD x 5-5 f v", "XADD"),
        (&[], "ZADD z nan a", "ZADD"),
        (&[], "HSET h f", "HSET"),
        (&["SET k v"], "SETRANGE k -1 x", "SETRANGE"),
        (&["RPUSH l a"], "LPOP l -1", "LPOP"),
        (&[], "SELECT -1", "SELECT"),
        (&[], "SWAPDB 0 -1", "SWAPDB"),
        (&["SET k v"], "MOVE k -2", "MOVE"),
        (&["SET k v"], "COPY k j DB -1", "COPY"),
        (&[], "BITFIELD k SET u8 -5 1", "BITFIELD"),
        (&[], "BITFIELD k SET u8 #9223372036854775807 1", "BITFIELD"),
        (&["ZADD z 1 a"], "ZUNIONSTORE d -1 z", "ZUNIONSTORE"),
        (&[], "INCR", "INCR"),
        (&["SET k v"], "SET k v EX 9223372036854775807", "SET"),
        (&["SET k v"], "EXPIRE k 9223372036854775807", "EXPIRE"),
        (&["MULTI"], "MULTI", "MULTI"),
        (&[], "EXEC", "EXEC"),
        // What the servers refuse (and so never log), from the hostile-input review.
        (&["XADD x 5-5 f v"], "XSETID x 1-1", "XSETID"),
        (&["XADD x 5-5 f v"], "XSETID x 9-9 ENTRIESADDED 0", "XSETID"),
        (
            &["XADD x 5-5 f v"],
            "XSETID x 9-9 ENTRIESADDED -1",
            "XSETID",
        ),
        (
            &["XADD x 5-5 f v"],
            "XSETID x 6-6 MAXDELETEDID 7-7",
            "XSETID",
        ),
        (&["SET k 1"], "DECRBY k -9223372036854775808", "DECRBY"),
        (&[], "SELECT 1099511627776", "SELECT"),
        (&[], "SELECT 2147483647", "SELECT"),
        (&["SET k v"], "MOVE k 9223372036854775807", "MOVE"),
        (&[], "SWAPDB 0 4294967296", "SWAPDB"),
        (&["SET k v"], "COPY k j DB 2147483648", "COPY"),
        (&[], "RESTORE k -5 x", "RESTORE"),
    ];
    for (i, (setup, bad, name)) in cases.iter().enumerate() {
        let mut log: Vec<u8> = setup.iter().flat_map(|c| cmd(c)).collect();
        let offset = log.len();
        log.extend(cmd(bad));
        let aof = dir.join(format!("bad{i}.aof"));
        let out = dir.join(format!("bad{i}.rdb"));
        std::fs::write(&aof, &log).unwrap();
        let r = redkit(&[
            "aof-to-rdb",
            aof.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains(aof.to_str().unwrap())
                && err.contains(&format!("offset {offset}:"))
                && err.contains(name)
                && !err.contains("panicked"),
            "{bad}: {err}"
        );
        assert!(!out.exists(), "{bad}: an output was written");
    }
    // A restore point no server writes (its milliseconds would wrap the expiries after it).
    let mut log = b"#TS:9999999999999999999\r\n".to_vec();
    log.extend(cmd("SET k v EX 10"));
    let aof = dir.join("ts.aof");
    let out = dir.join("ts.rdb");
    std::fs::write(&aof, &log).unwrap();
    let r = redkit(&[
        "aof-to-rdb",
        aof.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("offset 0") && err.contains("past year 9999"),
        "{err}"
    );
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
