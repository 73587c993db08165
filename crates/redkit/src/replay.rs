//! Replaying an AOF offline: the log read and split into commands on a second thread, applied
//! to a [`Keyspace`] as the server applies them when it loads the file; the dataset is then
//! written as an RDB. Used by `aof-to-rdb` and by `rewrite` of an AOF.

use crate::input::Aof;
use anyhow::{bail, Result};
use aof_parse::{AofReader, Item};
use indicatif::ProgressBar;
use keyspace::{Error as ApplyError, Keyspace, Loader, Value};
use rdb_parse::escape;
use rdb_write::{RdbWriter, Target};
use std::io::Read;
use std::ops::Range;
use std::sync::mpsc;

/// What to replay, and how.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// The RDB version asked for (`--rdb-version`/`--target`): a dataset it cannot hold is
    /// refused. Without it, the lowest version that holds the dataset is chosen.
    pub version: Option<u32>,
    /// Stop at the first restore point after this time.
    pub until: Option<u64>,
    /// Skip commands that cannot be applied instead of stopping.
    pub skip_unknown: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// A log replayed: the dataset and what the summary says of it.
pub struct Replayed {
    /// The dataset at the end of the log (or at `--until`).
    pub ks: Keyspace,
    /// The RDB version to write: asked for, else [`Replayed::default_version`].
    pub version: u32,
    /// The version written when none is asked for: the preamble's, else 10 for a multi-part
    /// directory and 9 for a single file.
    pub default_version: u32,
    commands: u64,
    files: usize,
    timestamps: u64,
    skipped: Vec<String>,
    skipped_total: u64,
    open_multi: bool,
}

/// Writes the dataset as an RDB of its version to `out` (an AOF base when `aof_base`).
pub fn write_rdb<W: std::io::Write>(r: &Replayed, out: W, aof_base: bool) -> Result<W> {
    let mut w = RdbWriter::new(out, r.version, true)?;
    transcode::write_aux(&mut w, r.version, aof_base, crate::time::ctime())?;
    // The keys are encoded (and compressed) on every core, the calling thread putting them
    // in order: the same file as one thread writes.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    r.ks.write_rdb_threads(&mut w, Target { version: r.version }, threads)?;
    Ok(w.finish()?)
}

impl Replayed {
    /// Ends the dataset's life without freeing it key by key, for a command about to exit:
    /// the system takes the memory back at once, where freeing millions of allocations one
    /// by one takes seconds.
    pub fn discard(self) {
        std::mem::forget(self);
    }

    /// Prints the summary: `what` (e.g. "Wrote FILE:"), counts, the time base, notes.
    pub fn summary(&self, what: &str, until: bool) {
        eprintln!(
            "{what} RDB {}, {} key(s), {} function librar(ies) from {} command(s) in {} file(s){}.",
            self.version,
            self.ks.len(),
            self.ks.functions.len(),
            self.commands,
            self.files,
            if until { " (up to --until)" } else { "" }
        );
        eprintln!(
            "Relative times counted from {}.",
            if self.timestamps > 0 {
                "the #TS annotations of the log"
            } else {
                "the time of this run (the log has no #TS annotation)"
            }
        );
        if self.open_multi {
            eprintln!("redkit: note: the log ends inside a MULTI: those commands were not applied");
        }
        if self.skipped_total > 0 {
            eprintln!(
                "redkit: {} command(s) skipped (--skip-unknown):",
                self.skipped_total
            );
            for s in &self.skipped {
                eprintln!("  {s}");
            }
        }
    }
}

/// Replays `aof` into a dataset, checked against the version to write. The inner error is
/// the exit code of a problem already reported (nothing written).
pub fn replay(aof: &Aof, args: &ReplayOptions) -> Result<std::result::Result<Replayed, i32>> {
    let files = &aof.files;
    let total = aof.total_size();
    let bar = crate::progress::bytes_bar(args.quiet);
    if let Some(b) = &bar {
        b.set_style(crate::progress::counted_style());
        b.set_length(total);
    }
    let mut ks = Keyspace::new();
    ks.now_ms = crate::time::now_ms();
    let mut applier = Applier {
        ks,
        commands: 0,
        timestamps: 0,
        skipped: Vec::new(),
        skipped_total: 0,
        preamble_version: None,
        files,
        skip_unknown: args.skip_unknown,
    };
    // The log is read and split into commands on a second thread, in batches; this one
    // applies them. When the system refuses a thread, this one reads and applies in turn.
    let (tx, rx) = mpsc::sync_channel::<Batch>(RIDE_AHEAD);
    let (back_tx, back_rx) = mpsc::channel::<Batch>();
    let (until, shown) = (args.until, bar.as_ref());
    let mut threaded = true;
    let outcome = std::thread::scope(|scope| -> Result<Option<i32>> {
        let reader = std::thread::Builder::new()
            .name("aof-reader".into())
            .spawn_scoped(scope, move || {
                let mut hand = |batch: &mut Batch| {
                    let next = back_rx.try_recv().unwrap_or_default();
                    hand_over(&tx, std::mem::replace(batch, next))
                };
                read_log(files, until, &mut hand, shown)
            });
        let Ok(reader) = reader else {
            threaded = false;
            return Ok(None);
        };
        let rx = rx; // dropped on an early return, which stops the reader
        for mut batch in rx.iter() {
            if let Some(code) = applier.apply(&mut batch, shown)? {
                return Ok(Some(code));
            }
            let _ = back_tx.send(batch);
        }
        reader.join().expect("the log reader does not panic")?;
        Ok(None)
    })?;
    let outcome = if threaded {
        outcome
    } else {
        let mut stop = Ok(None);
        let mut hand = |batch: &mut Batch| {
            stop = applier.apply(batch, shown);
            matches!(stop, Ok(None))
        };
        read_log(files, until, &mut hand, shown)?;
        stop?
    };
    let Applier {
        ks,
        commands,
        timestamps,
        skipped,
        skipped_total,
        preamble_version,
        ..
    } = applier;
    if let Some(code) = outcome {
        return Ok(Err(code));
    }
    let open_multi = ks.in_multi();
    let default_version = preamble_version
        .filter(|v| (7..=12).contains(v))
        // Without a preamble: what the oldest server writing that form of log loads (a
        // multi-part directory comes from Redis 7.0+, a single file from an older server).
        .unwrap_or(if aof.manifest.is_some() { 10 } else { 9 });
    // (Hashes with field TTLs and streams are never stored inline: only the other entries
    // are read.)
    let ttl_keys = ks
        .dbs
        .values()
        .flat_map(|d| d.entries())
        .filter(|(_, e)| matches!(&e.value, Value::Hash(h) if h.values().any(|(_, t)| t.is_some())))
        .count();
    let has_streams = ks
        .dbs
        .values()
        .flat_map(|d| d.entries())
        .any(|(_, e)| matches!(e.value, Value::Stream(_)));
    // Without a version asked for, the lowest that holds the dataset; an explicit choice that
    // cannot hold it is refused.
    let needed = [
        (ttl_keys > 0, 12, "hash field TTLs"),
        (has_streams, 9, "streams"),
        (!ks.functions.is_empty(), 10, "functions"),
    ];
    let version = match args.version {
        Some(v) => {
            let target = Target { version: v };
            let lacks = [
                (
                    ttl_keys > 0 && !target.field_ttls(),
                    format!("{ttl_keys} hash(es) have field TTLs"),
                ),
                (
                    has_streams && target.stream_version().is_none(),
                    "the dataset has streams".to_string(),
                ),
                (
                    !ks.functions.is_empty() && v < 10,
                    "the dataset has functions".to_string(),
                ),
            ];
            if let Some((_, what)) = lacks.iter().find(|(l, _)| *l) {
                let lowest = needed
                    .iter()
                    .filter(|(n, _, _)| *n)
                    .map(|(_, v, _)| *v)
                    .max()
                    .unwrap_or(default_version);
                eprintln!(
                    "redkit: {what}, which RDB {v} cannot hold; nothing written (RDB {lowest} \
                     holds it: --rdb-version {lowest}, or leave the version out)"
                );
                return Ok(Err(crate::exit::PROBLEMS));
            }
            v
        }
        None => {
            let mut v = default_version;
            for (has, min, what) in needed {
                if has && v < min {
                    eprintln!(
                        "redkit: note: writing RDB {min}, not {v}: the dataset has {what}, which \
                         RDB {min} is the first to hold"
                    );
                    v = min;
                }
            }
            v
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Ok(Replayed {
        ks,
        version,
        default_version,
        commands,
        files: files.len(),
        timestamps,
        skipped,
        skipped_total,
        open_multi,
    }))
}

/// The applying side of a replay: the dataset and the counts for the summary.
struct Applier<'a> {
    ks: Keyspace,
    commands: u64,
    timestamps: u64,
    skipped: Vec<String>,
    skipped_total: u64,
    preamble_version: Option<u32>,
    files: &'a [crate::input::AofPart],
    skip_unknown: bool,
}

impl Applier<'_> {
    /// Applies a batch and empties it for reuse. The exit code of a problem already reported
    /// when the replay stops there.
    fn apply(&mut self, batch: &mut Batch, bar: Option<&ProgressBar>) -> Result<Option<i32>> {
        let ks = &mut self.ks;
        let mut ops = std::mem::take(&mut batch.ops);
        // The keys of the batch are looked up first: their cache misses overlap, and the
        // commands then find their entries in the cache.
        let mut argv: Vec<&[u8]> = Vec::new();
        argv.extend(ops.iter().filter_map(|op| match op {
            Op::Command { args: r, .. } if r.len() >= 2 => Some(batch.arg(r.start + 1)),
            _ => None,
        }));
        ks.warm(&argv);
        for op in ops.drain(..) {
            match op {
                Op::Command {
                    args: r,
                    offset,
                    file,
                } => {
                    argv.clear();
                    argv.extend(r.map(|i| batch.arg(i)));
                    self.commands += 1;
                    let Err(e) = ks.apply(&argv) else { continue };
                    let what = format!(
                        "{} offset {offset}: {}: {e}",
                        self.files[file].path.display(),
                        argv.iter()
                            .take(4)
                            .map(|a| escape(a))
                            .collect::<Vec<_>>()
                            .join(" "),
                    );
                    if self.skip_unknown && matches!(e, ApplyError::Unknown(_)) {
                        self.skipped_total += 1;
                        if self.skipped.len() < 20 {
                            self.skipped.push(what);
                        }
                        continue;
                    }
                    eprintln!("redkit: {what}");
                    eprintln!("redkit: nothing written (--skip-unknown skips commands that cannot be applied)");
                    return Ok(Some(crate::exit::PROBLEMS));
                }
                Op::Timestamp(secs) => {
                    self.timestamps += 1;
                    ks.now_ms = secs as i64 * 1000;
                }
                Op::Impossible(msg) => {
                    eprintln!("redkit: {msg}");
                    eprintln!("redkit: nothing written");
                    return Ok(Some(crate::exit::PROBLEMS));
                }
                Op::Preamble { loaded, version } => {
                    self.preamble_version = self.preamble_version.or(version);
                    ks.absorb(*loaded);
                }
                Op::Failed(msg) => {
                    eprintln!("redkit: {msg}");
                    eprintln!("redkit: nothing written");
                    return Ok(Some(crate::exit::PROBLEMS));
                }
            }
        }
        if let Some(b) = bar {
            b.set_message(format!("{} commands, {} keys", self.commands, ks.len()));
        }
        drop(argv);
        batch.ops = ops;
        batch.data.clear();
        batch.args.clear();
        Ok(None)
    }
}

/// Commands read from the log, handed from the reading thread to the applying one.
#[derive(Default)]
struct Batch {
    /// The arguments' bytes, one after another.
    data: Vec<u8>,
    /// Where each argument is in `data`.
    args: Vec<Range<usize>>,
    /// What to do, in log order.
    ops: Vec<Op>,
}

impl Batch {
    fn arg(&self, i: usize) -> &[u8] {
        &self.data[self.args[i].clone()]
    }
}

enum Op {
    /// A command: its arguments (indexes into [`Batch::args`]), offset, and file (index).
    Command {
        args: Range<usize>,
        offset: u64,
        file: usize,
    },
    /// A `#TS` annotation.
    Timestamp(u64),
    /// An RDB preamble, loaded.
    Preamble {
        loaded: Box<Keyspace>,
        version: Option<u32>,
    },
    /// The log cannot be read further: the message says where and why.
    Failed(String),
    /// The log holds what no server writes (a restore point past year 9999): the message says
    /// where.
    Impossible(String),
}

/// 9999-12-31T23:59:59Z: the latest restore point a log can hold.
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// Buffers of 1 MiB queued for the writing thread: the dataset is in memory already.
pub const WRITE_QUEUE: usize = 4;

/// Batches read ahead of the one being applied.
const RIDE_AHEAD: usize = 4;

/// A batch is handed over once it holds this many commands or bytes.
const BATCH_OPS: usize = 256;
const BATCH_BYTES: usize = 4 << 20;

/// Reads the log's files in order into batches, each given to `hand` when full (it takes
/// the batch's contents and leaves it empty; false when the applying side stopped), the last
/// one at the end; stops at the first #TS past `until`, and moves the progress bar.
fn read_log(
    files: &[crate::input::AofPart],
    until: Option<u64>,
    hand: &mut dyn FnMut(&mut Batch) -> bool,
    bar: Option<&ProgressBar>,
) -> Result<()> {
    let mut batch = Batch::default();
    let mut done_bytes = 0u64;
    'files: for (i, part) in files.iter().enumerate() {
        let path = &part.path;
        let f = part.reader()?;
        let name = path.display().to_string();
        let mut r = AofReader::new(f);
        loop {
            let item = match r.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    let msg = format!("{name}: {e} (run redkit check-aof for details)");
                    batch.ops.push(Op::Failed(msg));
                    break 'files;
                }
            };
            match item {
                Item::Preamble => match load_preamble(&mut r, &name, part.disk_size())? {
                    Ok((loaded, version)) => batch.ops.push(Op::Preamble {
                        loaded: Box::new(loaded),
                        version,
                    }),
                    Err(msg) => {
                        batch.ops.push(Op::Failed(msg));
                        break 'files;
                    }
                },
                Item::Timestamp {
                    unix_secs, offset, ..
                } => {
                    if until.is_some_and(|u| unix_secs > u) {
                        break 'files;
                    }
                    // A time in milliseconds must fit the expiries computed from it.
                    if unix_secs > MAX_UNIX_SECS {
                        batch.ops.push(Op::Impossible(format!(
                            "{name}: offset {offset}: #TS:{unix_secs} is past year 9999: no server \
                             writes it"
                        )));
                        break 'files;
                    }
                    batch.ops.push(Op::Timestamp(unix_secs));
                }
                Item::Command(c) => {
                    let first = batch.args.len();
                    for a in c.args() {
                        let at = batch.data.len();
                        batch.data.extend_from_slice(a);
                        batch.args.push(at..batch.data.len());
                    }
                    batch.ops.push(Op::Command {
                        args: first..batch.args.len(),
                        offset: c.offset,
                        file: i,
                    });
                    if batch.ops.len() >= BATCH_OPS || batch.data.len() >= BATCH_BYTES {
                        if let Some(b) = bar {
                            b.set_position(done_bytes + r.offset());
                        }
                        if !hand(&mut batch) {
                            return Ok(()); // the applying side stopped
                        }
                    }
                }
                _ => {}
            }
        }
        done_bytes += part.disk_size();
    }
    hand(&mut batch);
    Ok(())
}

/// Sends `batch` to the applying thread; false when it stopped. When the queue is full, the
/// reader naps and tries again rather than waiting to be woken: the applying thread, the
/// slower one, then never pays for waking it (a system call per batch).
fn hand_over(tx: &mpsc::SyncSender<Batch>, mut batch: Batch) -> bool {
    loop {
        match tx.try_send(batch) {
            Ok(()) => return true,
            Err(mpsc::TrySendError::Full(b)) => {
                batch = b;
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// Bytes of an RDB base or preamble for each key its RESIZEDB hints may reserve room for.
const RESERVE_BYTES_PER_KEY: u64 = 16;

/// Loads the RDB preamble `r` is at, of a file of `file_size` bytes on disk. The inner error
/// is a damaged preamble's message.
#[allow(clippy::type_complexity)]
fn load_preamble<R: Read>(
    r: &mut AofReader<R>,
    name: &str,
    file_size: u64,
) -> Result<std::result::Result<(Keyspace, Option<u32>), String>> {
    let p = r.rdb().expect("a preamble has a parser");
    let mut ks = Keyspace::new();
    let mut loader = Loader::new(&mut ks);
    // The tables sized from the RESIZEDB hints, up to one key per 16 bytes of the file (of a
    // gzip file, of its size on disk). Loading that many keys takes more memory than their
    // table's 17 bytes a key: a false hint costs at most what the file's size allows anyway,
    // and a file of smaller keys still loads, its tables grown as they fill.
    loader.reserve_up_to(usize::try_from(file_size / RESERVE_BYTES_PER_KEY).unwrap_or(usize::MAX));
    // The keys are loaded on a second thread while this one parses: the applying thread has
    // nothing to do before the base is loaded.
    let result = rdb_parse::drive_relayed(p, &mut loader);
    let version = loader.version();
    match result {
        Ok(()) => {}
        Err(rdb_parse::Stop::Sink(e)) => bail!(
            "{name}: the RDB preamble holds {}, which cannot be replayed",
            e.0
        ),
        Err(rdb_parse::Stop::Parse(e)) => return Ok(Err(format!("{name}: RDB preamble: {e}"))),
    }
    Ok(Ok((ks, version)))
}
