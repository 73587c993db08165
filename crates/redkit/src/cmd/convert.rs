//! `redkit convert`: RDB to RDB, for another server version, streaming.

use crate::cmd::Position;
use crate::filter::{FilterArgs, KeyFilter};
use crate::fsutil::AtomicFile;
use anyhow::{bail, Context, Result};
use rdb_parse::{escape, Event, Parser, Str, ValueType};
use rdb_write::{KeyMeta, KeyWriter, Kind, RdbWriter, Target};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

const EXAMPLES: &str = "Examples:
  redkit convert dump.rdb -o for-valkey.rdb --target valkey-8   a Redis 7.4 backup for Valkey 8
  redkit convert dump.rdb -o old.rdb --rdb-version 9            for Redis 5.0-6.2
  redkit convert dump.rdb -o users.rdb --key 'user:*' --db 0    a subset of the keys
  redkit convert dump.rdb -o moved.rdb --db-map 3:0             database 3 becomes 0

Keys are written in the encodings the target server writes with its default settings
(listpack, ziplist, intset, quicklist), so a loaded file uses memory as the server's own would.
What the target cannot hold is listed and nothing is written (exit 1). Not written yet:
streams, module values and hash field TTLs (listed as such).

Exit status: 0 written, 1 refused or corrupt input (nothing written), 2 usage or I/O error.";

/// Convert an RDB file for another server version (or a subset of its keys), streaming.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected)
    pub file: PathBuf,
    /// The file to write (atomically: a temporary file renamed at the end)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// RDB version to write, 7 to 12
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(7..=12), conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// The server to write for: redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-7, valkey-8
    #[arg(long, value_name = "SERVER", value_parser = parse_target)]
    pub target: Option<u32>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Write the keys of database FROM into database TO (repeatable)
    #[arg(long, value_name = "FROM:TO", value_parser = parse_db_map)]
    pub db_map: Vec<(u64, u64)>,
}

fn parse_target(s: &str) -> Result<u32, String> {
    Ok(match s {
        "redis-6.0" | "redis-6.2" | "redis-5.0" => 9,
        "redis-7.0" => 10,
        "redis-7.2" | "valkey-7" | "valkey-7.2" | "valkey-8" | "valkey-8.0" | "valkey-8.1" => 11,
        "redis-7.4" => 12,
        _ => {
            return Err(format!(
            "unknown target {s:?}: redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-7, valkey-8"
        ))
        }
    })
}

fn parse_db_map(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once(':').ok_or("expected FROM:TO, e.g. 3:0")?;
    Ok((
        a.parse().map_err(|_| format!("bad database {a:?}"))?,
        b.parse().map_err(|_| format!("bad database {b:?}"))?,
    ))
}

/// The `redis-ver` AUX field a server of that RDB version writes.
fn redis_ver(version: u32) -> &'static str {
    match version {
        7 => "3.2.0",
        8 => "4.0.0",
        9 => "6.2.14",
        10 => "7.0.15",
        11 => "7.2.6",
        _ => "7.4.1",
    }
}

/// A key the target cannot hold, and why.
struct Refusal {
    db: u64,
    key: Vec<u8>,
    why: String,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let version = args.rdb_version.or(args.target).unwrap_or(12);
    let filter = KeyFilter::from_args(args.filter.clone())?;
    if args.output.exists() && args.output.is_dir() {
        bail!("{} is a directory", args.output.display());
    }
    let input = crate::input::open(&args.file, None)?;
    let out = AtomicFile::create(&args.output)?;
    let sink = BufWriter::with_capacity(1 << 20, out.file()?);
    let mut w = RdbWriter::new(sink, version, true)?;
    w.aux(b"redis-ver", redis_ver(version).as_bytes())?;
    w.aux(b"redis-bits", b"64")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    w.aux(b"ctime", now.to_string().as_bytes())?;
    w.aux(b"used-mem", b"0")?;
    w.aux(b"aof-base", b"0")?;

    let mut parser = Parser::new(input.reader);
    let mut pos = Position::default();
    let mut kw = KeyWriter::new(Target { version });
    let mut refused: Vec<Refusal> = Vec::new();
    let mut skipping = false;
    let mut current_db: Option<u64> = None;
    let mut keys = 0u64;
    let mut functions = 0u64;
    let (mut sa, mut sb) = ([0u8; 20], [0u8; 20]);
    let map_db = |db: u64| {
        args.db_map
            .iter()
            .find(|(from, _)| *from == db)
            .map_or(db, |(_, to)| *to)
    };
    loop {
        let ev = match parser.next_event() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                eprintln!("redkit: {}: {}", input.info.name, pos.describe(&e));
                eprintln!("redkit: nothing written");
                return Ok(crate::exit::PROBLEMS);
            }
        };
        match ev {
            Event::KeyStart(info) => {
                pos.start(info.db, info.key);
                let key = info.key.as_bytes(&mut sa);
                skipping = !filter.is_all() && !filter.matches(info.db, key, info.value_type);
                if skipping {
                    continue;
                }
                let kind = match info.value_type {
                    ValueType::String => Kind::String,
                    ValueType::List => Kind::List,
                    ValueType::Set => Kind::Set,
                    ValueType::Zset => Kind::ZSet,
                    ValueType::Hash => Kind::Hash,
                    other => {
                        refused.push(Refusal {
                            db: info.db,
                            key: key.to_vec(),
                            why: format!("a {} value: not written yet", other.name()),
                        });
                        skipping = true;
                        continue;
                    }
                };
                let db = map_db(info.db);
                if current_db != Some(db) {
                    w.select_db(db)?;
                    current_db = Some(db);
                }
                let meta = KeyMeta {
                    expire_ms: info.expire_ms,
                    idle_s: info.idle_s,
                    freq: info.freq,
                };
                kw.begin(kind, key, meta, info.len);
                keys += 1;
            }
            _ if skipping && !matches!(ev, Event::KeyEnd) => {}
            Event::KeyEnd => {
                if skipping {
                    skipping = false;
                } else {
                    kw.end(&mut w)
                        .with_context(|| format!("db {} key {}", pos.db, escape(&pos.key)))?;
                }
                pos.in_key = false;
            }
            Event::Element(v) => kw.element(&mut w, v.as_bytes(&mut sa))?,
            Event::ZMember { member, score } => {
                kw.zmember(&mut w, member.as_bytes(&mut sa), score)?
            }
            Event::HashField {
                field,
                value,
                expire_ms,
            } => {
                if expire_ms.is_some() {
                    refused.push(Refusal {
                        db: pos.db,
                        key: pos.key.clone(),
                        why: "hash field TTLs: not written yet".into(),
                    });
                    // The key is abandoned; its output is discarded with the whole file.
                    skipping = true;
                    continue;
                }
                kw.hash_field(&mut w, field.as_bytes(&mut sa), value.as_bytes(&mut sb))?
            }
            Event::Function { code } => {
                if version < 10 {
                    refused.push(Refusal {
                        db: 0,
                        key: b"(function library)".to_vec(),
                        why: format!("functions need RDB 10 or later, not {version}"),
                    });
                } else {
                    let mut buf = Vec::new();
                    Str::append_to(&code, &mut buf);
                    w.function(&buf)?;
                    functions += 1;
                }
            }
            Event::ModuleAux { name, .. } => refused.push(Refusal {
                db: 0,
                key: name.to_vec(),
                why: "module aux data: not written".into(),
            }),
            Event::Eof { .. } => {}
            _ => {}
        }
    }
    if !refused.is_empty() {
        eprintln!(
            "redkit: {} cannot be written for RDB {version}; nothing written:",
            if refused.len() == 1 {
                "1 item".to_string()
            } else {
                format!("{} items", refused.len())
            }
        );
        for r in refused.iter().take(50) {
            eprintln!("  db {} {}: {}", r.db, escape(&r.key), r.why);
        }
        if refused.len() > 50 {
            eprintln!("  ... and {} more", refused.len() - 50);
        }
        return Ok(crate::exit::PROBLEMS);
    }
    let mut sink = w.finish()?;
    sink.flush()?;
    drop(sink);
    out.commit()?;
    println!(
        "Wrote {}: RDB {version}, {keys} key(s){}.",
        args.output.display(),
        if functions > 0 {
            format!(", {functions} function librar(ies)")
        } else {
            String::new()
        }
    );
    Ok(crate::exit::OK)
}
