//! Blob values checked on a second thread while the parser reads on.
//!
//! When the consumer takes no element of a value (see
//! [`Parser::skip_values`](crate::Parser::skip_values)), the parser needs only the element
//! count a blob's header states; the deep check of the blob (its LZF, every entry, the repeats
//! of its members, its scores) can run beside the reading. [`Aside`] gathers such blobs in
//! batches of 256 KiB and hands them to one thread, which runs the very check the parser runs
//! inline and compares the entries found with the header's count. A failure there is only a
//! flag: the parse stops with [`ErrorKind::AsideFault`](crate::ErrorKind::AsideFault), and the
//! consumer reads the input again without this thread to learn the fault, its offset and its
//! key. A damaged file is read twice; a sound one once.
//!
//! Memory: at most five batches exist (one filling, one waiting for room in the queue of two,
//! one being checked; a batch checked comes back to be filled again), each of at most
//! [`BATCH_BYTES`] plus one blob of at most [`MAX_BLOB`] bytes; larger blobs are checked
//! inline.

use crate::blob::{self, DupCheck};
use crate::lzf;
use crate::types::RdbType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes gathered before a batch is handed over.
const BATCH_BYTES: usize = 256 << 10;

/// Blobs gathered before a batch is handed over.
const BATCH_JOBS: usize = 4096;

/// Batches queued for the thread.
const QUEUED: usize = 2;

/// Blobs (as stored, and decompressed) larger than this are checked inline.
pub(crate) const MAX_BLOB: usize = 64 << 10;

/// The parser's deep check of a blob value of a type (the same one it runs inline): the
/// events it makes (elements, pairs or triples), or `None` when it fails.
pub(crate) type CheckValue = fn(RdbType, &[u8], &mut DupCheck) -> Option<usize>;

/// What a blob is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Blob {
    /// The whole value of a key of this type.
    Value(RdbType),
    /// A quicklist node: a listpack (`v2`) or a ziplist.
    Node {
        /// A listpack (quicklist 2) rather than a ziplist.
        v2: bool,
    },
}

#[derive(Clone, Copy)]
struct Job {
    blob: Blob,
    /// Where its bytes end in the batch (they start where the previous job's end).
    end: usize,
    /// Its length once decompressed; `None` when stored plain.
    ulen: Option<usize>,
    /// The entries its header states (elements of a node; before pairs are counted).
    entries: usize,
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    jobs: Vec<Job>,
}

/// The blobs handed to the checking thread; see the module documentation.
pub(crate) struct Aside {
    batch: Batch,
    to_thread: Option<SyncSender<Batch>>,
    back: Receiver<Batch>,
    failed: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Aside {
    /// Starts the checking thread, which checks values with `check_value` and `dup_cap` as
    /// the members checked for repeats in one blob ([`DupCheck::set_cap`]); `None` when the
    /// system starts no thread.
    pub(crate) fn start(check_value: CheckValue, dup_cap: usize) -> Option<Aside> {
        let (to_thread, from_parser) = mpsc::sync_channel::<Batch>(QUEUED);
        let (to_parser, back) = mpsc::channel::<Batch>();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("blob-checks".into())
            .spawn(move || work(from_parser, to_parser, &flag, check_value, dup_cap))
            .ok()?;
        Some(Aside {
            batch: Batch::default(),
            to_thread: Some(to_thread),
            back,
            failed,
            thread: Some(thread),
        })
    }

    /// Queues `bytes`, a blob `blob` whose header states `entries` entries,
    /// decompressed to `ulen` bytes when stored LZF-compressed. False when a blob queued
    /// before failed its check.
    pub(crate) fn push(
        &mut self,
        blob: Blob,
        bytes: &[u8],
        ulen: Option<usize>,
        entries: usize,
    ) -> bool {
        self.batch.bytes.extend_from_slice(bytes);
        self.batch.jobs.push(Job {
            blob,
            end: self.batch.bytes.len(),
            ulen,
            entries,
        });
        if self.batch.bytes.len() >= BATCH_BYTES || self.batch.jobs.len() >= BATCH_JOBS {
            self.hand_over();
        }
        !self.failed.load(Ordering::Relaxed)
    }

    fn hand_over(&mut self) {
        let next = self.back.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.to_thread {
            if tx.send(full).is_err() {
                // The thread is gone (it panicked): nothing it was given is known to be sound.
                self.failed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Hands over what is gathered, waits for the thread to check everything queued, and
    /// returns whether every blob passed. The thread is gone afterwards: later calls return
    /// the same answer.
    pub(crate) fn finish(&mut self) -> bool {
        if !self.batch.jobs.is_empty() {
            self.hand_over();
        }
        self.to_thread = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                self.failed.store(true, Ordering::Relaxed);
            }
        }
        !self.failed.load(Ordering::Relaxed)
    }
}

impl Drop for Aside {
    fn drop(&mut self) {
        // Stop the thread without checking what is left.
        self.failed.store(true, Ordering::Relaxed);
        self.to_thread = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The checking thread: every batch's blobs in order, until one fails.
fn work(
    batches: Receiver<Batch>,
    back: Sender<Batch>,
    failed: &AtomicBool,
    check_value: CheckValue,
    dup_cap: usize,
) {
    let mut dup = DupCheck::default();
    dup.set_cap(dup_cap);
    let mut out = Vec::new();
    for mut batch in batches {
        if !failed.load(Ordering::Relaxed) {
            let mut start = 0;
            for job in &batch.jobs {
                if !check(
                    job,
                    &batch.bytes[start..job.end],
                    check_value,
                    &mut dup,
                    &mut out,
                ) {
                    failed.store(true, Ordering::Relaxed);
                    break;
                }
                start = job.end;
            }
        }
        batch.bytes.clear();
        batch.jobs.clear();
        // The parser may be gone already: then the batch is simply freed.
        let _ = back.send(batch);
    }
}

/// Whether one blob passes the parser's own check and holds the entries its header states.
fn check(
    job: &Job,
    stored: &[u8],
    check_value: CheckValue,
    dup: &mut DupCheck,
    out: &mut Vec<u8>,
) -> bool {
    let b = match job.ulen {
        Some(n) => {
            if lzf::decompress(stored, n, out).is_err() {
                return false;
            }
            &out[..n]
        }
        None => stored,
    };
    let entries = match job.blob {
        Blob::Value(t) => {
            dup.clear();
            match check_value(t, b, dup) {
                // Pairs (hashes, sorted sets) count as two entries each.
                Some(n) if matches!(t.0, 12 | 13 | 16 | 17) => n * 2,
                Some(n) => n,
                None => return false,
            }
        }
        Blob::Node { v2: true } => match blob::lp_validate(b) {
            Ok(n) => n,
            Err(_) => return false,
        },
        Blob::Node { v2: false } => match blob::zl_validate(b) {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    entries == job.entries
}
