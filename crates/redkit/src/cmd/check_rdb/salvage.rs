//! `check-rdb --salvage OUT.rdb`: every intact key of a damaged snapshot written to a new file.

use super::Args;
use crate::exit;
use crate::output::{self, AtomicFile, Dest, Kind, ThreadedWriter};
use crate::report::{json_bytes, print_items, print_json, table};
use anyhow::{bail, Context, Result};
use comfy_table::{Cell, CellAlignment};
use rdb_parse::salvage::{self, End, Header, OneByte, Plan, Why};
use rdb_parse::{escape, Event, Family, Parser};
use serde_json::{json, Value};
use std::fs::File;
use std::path::Path;
use transcode::{KeyFilter, Options, Outcome, RdbSink};

/// What the output was written from.
enum Written {
    /// The whole file, read in one piece: nothing needed skipping.
    Whole(Outcome),
    /// The intact parts of a damaged file; when only its checksum failed, the one damaged
    /// byte that explains it, if one does.
    Parts(Box<Plan>, Outcome, Option<Suspect>),
}

fn options(args: &Args, file: &File) -> Result<Options> {
    Ok(Options {
        version: args.rdb_version.or(args.target),
        filter: KeyFilter::default(),
        db_map: Vec::new(),
        // For the source's own version, what cannot be written is only module values (whose
        // encoding belongs to the module): they are dropped and listed, not a refusal.
        lossy: match (args.lossy, args.rdb_version.or(args.target)) {
            (Some(l), _) => l,
            (None, None) => transcode::parse_lossy("keys").expect("a known item"),
            (None, Some(_)) => transcode::Lossy::default(),
        },
        raw_source: Some(file.try_clone().context("cannot open the input twice")?),
        spill_dir: None,
        keep_empty: false,
        relaxed_version: false,
        keep_aux: args.rdb_version.or(args.target).is_none(),
    })
}

/// Writes `out` from the events `write` feeds an RDB sink; the temporary file is removed unless
/// the outcome may be committed.
fn write_with(
    out: &Path,
    keep_aux: bool,
    write: impl FnOnce(&mut RdbSink<ThreadedWriter>) -> Result<Outcome, transcode::Error>,
) -> Result<(Outcome, Option<AtomicFile>)> {
    let atomic = AtomicFile::create(out)?;
    let spool = Some(atomic.dir());
    let mut sink = RdbSink::new(
        ThreadedWriter::new(atomic.file()?),
        false,
        crate::time::ctime(),
        spool,
    );
    if keep_aux {
        sink = sink.with_source_aux();
    }
    let outcome = write(&mut sink)?;
    if outcome.parse_error.is_some() || outcome.refused.total > 0 {
        return Ok((outcome, None));
    }
    let (w, _) = sink.finish()?;
    w.finish()?;
    Ok((outcome, Some(atomic)))
}

/// Runs `check-rdb FILE --salvage OUT`; returns the exit code.
pub fn run(args: &Args, out: &Path) -> Result<i32> {
    if args.file == Path::new("-") {
        bail!("--salvage reads its input twice: give a file, not standard input");
    }
    let file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{}: --salvage needs a regular file", args.file.display());
    }
    let mut magic = [0u8; 2];
    if std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0).unwrap_or(0) == 2
        && magic == [0x1f, 0x8b]
    {
        bail!(
            "{}: a gzip file; --salvage reads an RDB in place: decompress a copy first \
             (gunzip -k), then salvage that",
            args.file.display()
        );
    }
    let inputs = crate::input::protect(&args.file);
    let dest = output::plan(out, Kind::Stream, args.force, &inputs)?;
    let Dest::Path(out) = dest else {
        bail!("--salvage writes a file, not standard output");
    };
    let opts = options(args, &file)?;

    // First as a conversion of the whole file: a file that turns out intact costs one pass.
    let bar = crate::progress::bytes_bar(args.quiet);
    let reader = crate::input::open(&args.file, bar.as_ref())?.reader;
    let (outcome, committed) = write_with(&out, opts.keep_aux, |sink| {
        transcode::run(reader, &opts, sink)
    })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // A damaged file is salvaged whatever the first pass refused (what it read after the
    // damage may not be there at all).
    if outcome.refused.total > 0 && outcome.parse_error.is_none() {
        return refused(&outcome);
    }
    let io_error = outcome.parse_error.as_ref().filter(|(e, _)| e.is_io());
    if let Some((e, _)) = io_error {
        bail!("cannot read {}: {e}", args.file.display())
    }
    let written = match committed {
        Some(atomic) if outcome.parse_error.is_none() => {
            atomic.commit()?;
            Written::Whole(outcome)
        }
        _ => {
            // Damaged: find the intact records, then write those.
            if !args.quiet {
                eprintln!(
                    "redkit: {}: damaged; looking for the intact records",
                    args.file.display()
                );
            }
            let mut plan = salvage::scan(&file)
                .with_context(|| format!("cannot read {}", args.file.display()))?;
            // Only the checksum fails: one damaged byte may explain it. In a function
            // library's code, it would make a server refuse the whole file: the library goes.
            let narrowed = if plan.checksum_mismatch() {
                Some(suspect(&file, &plan)?)
            } else {
                None
            };
            if let Some((from, to)) = narrowed.as_ref().and_then(|n| n.function) {
                plan.spans = plan
                    .spans
                    .iter()
                    .flat_map(|sp| {
                        [
                            salvage::Span {
                                start: sp.start,
                                end: sp.end.min(from),
                                db: sp.db,
                            },
                            salvage::Span {
                                start: sp.start.max(to),
                                end: sp.end,
                                db: sp.db,
                            },
                        ]
                    })
                    .filter(|sp| sp.end > sp.start)
                    .collect();
            }
            let mut opts = opts;
            if opts.version.is_none() {
                // A damaged header: written as the version of the server that wrote the file
                // (its AUX fields, or the types it holds, tell), else the newest written here.
                if let Some(v) = plan.source_version {
                    opts.version = Some(v);
                } else if plan.version > 12 && plan.family == Family::Redis {
                    opts.version = Some(12);
                }
            }
            let (outcome, committed) = write_with(&out, opts.keep_aux, |sink| {
                transcode::run_spans(&file, &plan, &opts, sink)
            })?;
            if outcome.refused.total > 0 {
                return refused(&outcome);
            }
            if let Some((e, pos)) = &outcome.parse_error {
                bail!(
                    "{}: {}: the file changed while it was read",
                    args.file.display(),
                    pos.describe(e)
                );
            }
            committed.expect("committable").commit()?;
            Written::Parts(Box::new(plan), outcome, narrowed)
        }
    };
    let suspect = match &written {
        Written::Parts(_, _, n) => n.as_ref(),
        Written::Whole(_) => None,
    };
    let report = report(args, &out, meta.len(), &written, suspect);
    if args.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(match written {
        Written::Whole(_) => exit::OK,
        Written::Parts(..) => exit::PROBLEMS,
    })
}

fn refused(outcome: &Outcome) -> Result<i32> {
    print_items(
        &outcome.refused,
        &format!(
            "redkit: {} item(s) cannot be written for RDB {}; nothing written (--lossy names \
             what may be dropped):",
            outcome.refused.total, outcome.version
        ),
    );
    Ok(exit::PROBLEMS)
}

/// The key (or other record) the one damaged byte is in.
struct Suspect {
    byte: Option<OneByte>,
    /// The key record holding it: (db, key, record offset).
    key: Option<(u64, Vec<u8>, u64)>,
    /// The function library record holding it: its byte range.
    function: Option<(u64, u64)>,
    place: &'static str,
}

/// Narrows a checksum mismatch of a file read in one piece to one byte and its key.
fn suspect(file: &File, plan: &Plan) -> Result<Suspect> {
    let End::Eof {
        at,
        stored: Some(stored),
        computed: Some(computed),
    } = plan.end
    else {
        return Ok(Suspect {
            byte: None,
            key: None,
            function: None,
            place: "",
        });
    };
    let byte = salvage::locate_one_byte(file, at + 1, stored, computed)?;
    let Some(b) = byte else {
        return Ok(Suspect {
            byte,
            key: None,
            function: None,
            place: "",
        });
    };
    if b.offset > at {
        return Ok(Suspect {
            byte,
            key: None,
            function: None,
            place: "the stored checksum",
        });
    }
    if b.offset < 9 {
        return Ok(Suspect {
            byte,
            key: None,
            function: None,
            place: "the header",
        });
    }
    // The record that holds the byte.
    let reader = std::io::BufReader::with_capacity(1 << 16, file.try_clone()?);
    let limits = rdb_parse::Limits {
        verify_checksum: false,
        ..rdb_parse::Limits::default()
    };
    let mut p = Parser::with_limits(std::io::Read::take(reader, at + 9), limits);
    p.skip_values(true);
    let mut current: Option<(u64, Vec<u8>, u64)> = None;
    let mut prev_end = 9;
    let hit = |start: u64, end: u64| start <= b.offset && b.offset < end;
    loop {
        match p.next_event() {
            Ok(Some(Event::KeyStart(info))) => {
                let mut s = [0u8; 20];
                current = Some((info.db, info.key.as_bytes(&mut s).to_vec(), info.offset));
            }
            Ok(Some(Event::KeyEnd)) => {
                let end = p.offset();
                if let Some(k) = current.take() {
                    if hit(k.2, end) {
                        return Ok(Suspect {
                            byte,
                            key: Some(k),
                            function: None,
                            place: "a key",
                        });
                    }
                }
                prev_end = end;
            }
            Ok(Some(Event::Function { .. })) => {
                let end = p.offset();
                if hit(prev_end, end) {
                    return Ok(Suspect {
                        byte,
                        key: None,
                        function: Some((prev_end, end)),
                        place: "a function library's code",
                    });
                }
                prev_end = end;
            }
            Ok(Some(
                Event::Aux { .. }
                | Event::SelectDb { .. }
                | Event::ResizeDb { .. }
                | Event::SlotInfo { .. }
                | Event::ModuleAux { .. }
                | Event::SlotImport { .. },
            )) => {
                let end = p.offset();
                if hit(prev_end, end) {
                    break;
                }
                prev_end = end;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    Ok(Suspect {
        byte,
        key: None,
        function: None,
        place: "a record that is not a key (an AUX field, a database selector)",
    })
}

fn report(
    args: &Args,
    out: &Path,
    size: u64,
    written: &Written,
    suspect: Option<&Suspect>,
) -> Value {
    let file = args.file.display().to_string();
    let output = out.display().to_string();
    let (plan, outcome) = match written {
        Written::Whole(o) => {
            return json!({
                "file": file, "output": output, "status": "intact",
                "rdb_version_written": o.version, "keys_written": o.keys,
                "file_bytes": size, "bytes_kept": size, "kept_share": 1.0,
                "header": {"status": "intact"}, "end": "eof",
                "checksum": {"status": "ok"},
                "skipped": [], "left_out": [], "notes": o.notes,
            });
        }
        Written::Parts(p, o, _) => (p, o),
    };
    let mut notes: Vec<String> = outcome.notes.clone();
    notes.extend(plan.notes.iter().cloned());
    for d in &outcome.dropped.first {
        notes.push(format!(
            "left out db {} key {}: {}",
            d.db,
            escape(&d.key),
            d.why
        ));
    }
    if outcome.dropped.total > outcome.dropped.first.len() as u64 {
        notes.push(format!(
            "... and {} more left out the same way",
            outcome.dropped.total - outcome.dropped.first.len() as u64
        ));
    }
    let header = match &plan.header {
        Header::Intact => json!({"status": "intact"}),
        Header::Newer { stated } => {
            notes.push(format!(
                "the header states RDB {stated}, newer than any known: read as RDB {}",
                plan.version
            ));
            json!({"status": "newer", "stated": stated, "read_as": plan.version})
        }
        Header::Damaged { found } => {
            notes.push(format!(
                "the header ({}) is damaged: read as {} RDB {}, written as RDB {} ({}); \
                 --target names the server to write for",
                escape(found),
                if plan.family == Family::Valkey {
                    "Valkey"
                } else {
                    "Redis"
                },
                plan.version,
                outcome.version,
                if plan.source_version.is_some() {
                    "the version the AUX fields or the types found show"
                } else {
                    "nothing shows the writer's version"
                }
            ));
            json!({"status": "damaged", "found": json_bytes(found), "read_as": plan.version})
        }
    };
    if !plan.skipped.is_empty() && plan.spans.len() > 1 && plan.max_db > 0 {
        notes.push(
            "keys after a damaged range are put in the database in force before it: a \
             database selector lost in the damage cannot be seen"
                .to_string(),
        );
    }
    let checksum = match plan.end {
        End::Missing => {
            notes.push(
                "the file has no EOF opcode: a fresh one and its checksum were written".into(),
            );
            json!({"status": "missing"})
        }
        End::Eof { stored: None, .. } => json!({"status": "absent"}),
        End::Eof {
            stored: Some(0), ..
        } => json!({"status": "disabled"}),
        End::Eof {
            computed: None,
            stored: Some(s),
            ..
        } => {
            json!({"status": "not-checked", "stored": format!("0x{s:016x}")})
        }
        End::Eof {
            stored: Some(s),
            computed: Some(c),
            ..
        } => {
            let mut j = json!({"status": if s == c {"ok"} else {"mismatch"},
                               "stored": format!("0x{s:016x}"), "computed": format!("0x{c:016x}")});
            if s != c {
                notes.push(
                    "the checksum does not match though every record parses: every key is kept, \
                     and any value may be damaged (--suspect-report narrows it when one byte \
                     explains it)"
                        .to_string(),
                );
            }
            if let Some((from, _)) = suspect.and_then(|s| s.function) {
                notes.push(format!(
                    "the function library at offset {from} is left out: the one damaged byte \
                     that explains the checksum is in its code, and a server refuses a file \
                     whose library does not load"
                ));
            }
            if let Some(sus) = suspect.filter(|_| args.suspect_report) {
                j["suspect"] = match (&sus.byte, &sus.key) {
                    (None, _) => json!({"narrowed": false}),
                    (Some(b), key) => json!({
                        "narrowed": true, "offset": b.offset, "expected_byte": b.expected,
                        "in": sus.place,
                        "db": key.as_ref().map(|k| k.0),
                        "key": key.as_ref().map(|k| json_bytes(&k.1)),
                        "key_offset": key.as_ref().map(|k| k.2),
                    }),
                };
            }
            j
        }
    };
    let skipped: Vec<Value> = plan
        .skipped
        .iter()
        .map(|s| {
            json!({"start": s.start, "end": s.end, "bytes": s.end - s.start,
                   "kind": if s.cut {"cut"} else if s.error.is_truncation() {"truncated"} else {"corrupt"},
                   "error_offset": s.error.offset(), "message": s.error.kind().to_string()})
        })
        .collect();
    let left_out: Vec<Value> = plan
        .dropped
        .iter()
        .map(|d| {
            let (why, first) = match d.why {
                Why::NextToDamage => ("next-to-damage", None),
                Why::Duplicate { first_offset } => ("repeated", Some(first_offset)),
            };
            json!({"offset": d.offset, "db": d.db, "key": d.key.as_ref().map(|k| json_bytes(k)),
                   "why": why, "first_offset": first})
        })
        .collect();
    let kept = size - plan.skipped.iter().map(|s| s.end - s.start).sum::<u64>();
    json!({
        "file": file, "output": output, "status": "salvaged",
        "rdb_version_written": outcome.version, "keys_written": outcome.keys,
        "file_bytes": size, "bytes_kept": kept,
        "kept_share": if size == 0 { 0.0 } else { kept as f64 / size as f64 },
        "header": header,
        "end": if matches!(plan.end, End::Eof{..}) {"eof"} else {"missing"},
        "checksum": checksum,
        "skipped": skipped, "left_out": left_out, "notes": notes,
    })
}

fn print_report(r: &Value) {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    if r["status"] == "intact" {
        outln!(
            "{}: intact, nothing needed skipping. Wrote {}: RDB {}, {} key(s).",
            s("file"),
            s("output"),
            n("rdb_version_written"),
            n("keys_written")
        );
        return;
    }
    let skipped = r["skipped"].as_array().map_or(&[][..], |v| v.as_slice());
    let left_out = r["left_out"].as_array().map_or(&[][..], |v| v.as_slice());
    let lost: u64 = skipped
        .iter()
        .map(|x| x["bytes"].as_u64().unwrap_or(0))
        .sum();
    outln!(
        "{}: damaged. Wrote {}: RDB {}, {} key(s) recovered; {} byte(s) skipped in {} range(s), \
         {:.4}% of the file kept; {} key record(s) left out.",
        s("file"),
        s("output"),
        n("rdb_version_written"),
        n("keys_written"),
        lost,
        skipped.len(),
        r["kept_share"].as_f64().unwrap_or(0.0) * 100.0,
        left_out.len()
    );
    if !skipped.is_empty() {
        let mut t = table();
        t.set_header(vec!["from", "to", "bytes", "kind", "first error"]);
        for x in skipped.iter().take(50) {
            let mut row: Vec<Cell> = ["start", "end", "bytes"]
                .iter()
                .map(|k| Cell::new(x[*k].as_u64().unwrap_or(0)).set_alignment(CellAlignment::Right))
                .collect();
            row.push(Cell::new(x["kind"].as_str().unwrap_or("")));
            row.push(Cell::new(format!(
                "at {}: {}",
                x["error_offset"],
                x["message"].as_str().unwrap_or("")
            )));
            t.add_row(row);
        }
        outln!("{t}");
        if skipped.len() > 50 {
            outln!(
                "... and {} more ranges (--json lists all)",
                skipped.len() - 50
            );
        }
    }
    for x in left_out.iter().take(50) {
        let why = match x["why"].as_str() {
            Some("repeated") => format!(
                "repeats the key of the record at offset {}",
                x["first_offset"]
            ),
            _ => "next to damaged bytes, and its last bytes are checked by no structure: its \
                  value may hold the start of the damage"
                .to_string(),
        };
        outln!(
            "left out: the record at offset {} (db {} key {}): {why}",
            x["offset"],
            x["db"],
            crate::report::cell_text(&x["key"])
        );
    }
    if left_out.len() > 50 {
        outln!(
            "... and {} more left out (--json lists all)",
            left_out.len() - 50
        );
    }
    if let Some(sus) = r["checksum"].get("suspect") {
        if sus["narrowed"] == true {
            outln!(
                "The checksum is explained by one damaged byte at offset {} (the checksum \
                 expects 0x{:02x} there), in {}{}.",
                sus["offset"],
                sus["expected_byte"].as_u64().unwrap_or(0),
                sus["in"].as_str().unwrap_or(""),
                if sus["key"].is_null() {
                    String::new()
                } else {
                    format!(
                        " (db {} key {}, record at offset {})",
                        sus["db"],
                        crate::report::cell_text(&sus["key"]),
                        sus["key_offset"]
                    )
                }
            );
        } else {
            outln!("The checksum mismatch is not explained by one damaged byte: it cannot be narrowed.");
        }
    }
    if let Some(notes) = r["notes"].as_array() {
        for x in notes {
            outln!("note: {}", x.as_str().unwrap_or(""));
        }
    }
}
