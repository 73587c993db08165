//! One dataset into several by cluster slot: a [`KeySink`] that hands each key to the output
//! whose slots hold it, and everything that is not a key (function libraries, AUX fields,
//! database selectors) to every output.

use crate::keys::KeySink;
use crate::slot::{key_slot, SlotSet};
use rdb_parse::{StreamId, StreamMeta};
use rdb_write::{KeyMeta, Kind, Target};
use std::fs::File;
use std::io;

/// Several outputs, each with its slots.
pub struct SplitSink<S: KeySink> {
    outs: Vec<S>,
    /// Per slot: the output that takes it.
    by_slot: Vec<Option<u32>>,
    /// The output of the current key (`None`: its slot is no output's).
    current: Option<usize>,
    /// Keys written to each output.
    pub keys: Vec<u64>,
    /// Keys whose slot no output takes (left out), and the first of them.
    pub unplaced: (u64, Option<Vec<u8>>),
    /// Per slot of database 0: its keys and keys with an expiry, told to its output before
    /// its first key (see [`SplitSink::with_slot_counts`]).
    counts: Option<Vec<(u64, u64)>>,
    /// Per slot: told already.
    told: Vec<bool>,
}

impl<S: KeySink> SplitSink<S> {
    /// Outputs `outs`, output `i` taking the slots `slots[i]`; the sets must not overlap.
    pub fn new(outs: Vec<S>, slots: &[SlotSet]) -> Result<Self, String> {
        let mut by_slot = vec![None; crate::slot::SLOTS as usize];
        for (i, set) in slots.iter().enumerate() {
            for (s, owner) in by_slot.iter_mut().enumerate() {
                if set.contains(s as u16) {
                    if let Some(j) = owner {
                        return Err(format!("slot {s} is given to outputs {j} and {i}"));
                    }
                    *owner = Some(i as u32);
                }
            }
        }
        let n = outs.len();
        Ok(SplitSink {
            outs,
            by_slot,
            current: None,
            keys: vec![0; n],
            unplaced: (0, None),
            counts: None,
            told: Vec::new(),
        })
    }

    /// Tells each output the key counts of a slot of database 0 (keys, keys with an expiry)
    /// before the slot's first key, as a cluster node writes them; `counts` has one entry per
    /// slot, counted by a first pass.
    pub fn with_slot_counts(mut self, counts: Vec<(u64, u64)>) -> Self {
        self.told = vec![false; counts.len()];
        self.counts = Some(counts);
        self
    }

    /// The outputs, for their finish.
    pub fn into_outputs(self) -> Vec<S> {
        self.outs
    }

    fn each(&mut self, f: impl FnMut(&mut S) -> io::Result<()>) -> io::Result<()> {
        self.outs.iter_mut().try_for_each(f)
    }

    fn cur(&mut self) -> Option<&mut S> {
        self.current.map(|i| &mut self.outs[i])
    }
}

/// Calls the current key's output, if it has one.
macro_rules! to_current {
    ($self:ident, $o:ident => $e:expr) => {
        match $self.cur() {
            Some($o) => $e,
            None => Ok(()),
        }
    };
}

impl<S: KeySink> KeySink for SplitSink<S> {
    fn start(&mut self, target: Target) -> io::Result<()> {
        self.each(|o| o.start(target))
    }
    fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.each(|o| o.function(code))
    }
    fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.each(|o| o.aux(key, value))
    }
    fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.each(|o| o.select_db(db))
    }
    // RESIZEDB hints count the whole source: left out (each server sizes its tables anyway).
    fn key(&mut self, db: u64, key: &[u8]) -> io::Result<()> {
        let slot = key_slot(key) as usize;
        self.current = self.by_slot[slot].map(|i| i as usize);
        match self.current {
            Some(i) => {
                self.keys[i] += 1;
                if let Some(counts) = &self.counts {
                    if db == 0 && !self.told[slot] {
                        self.told[slot] = true;
                        let (keys, expires) = counts[slot];
                        self.outs[i].slot_info(slot as u64, keys, expires)?;
                    }
                }
            }
            None => {
                self.unplaced.0 += 1;
                self.unplaced.1.get_or_insert_with(|| key.to_vec());
            }
        }
        Ok(())
    }
    fn begin(&mut self, kind: Kind, key: &[u8], meta: KeyMeta, len: Option<u64>) -> io::Result<()> {
        to_current!(self, o => o.begin(kind, key, meta, len))
    }
    fn element(&mut self, v: &[u8]) -> io::Result<()> {
        to_current!(self, o => o.element(v))
    }
    fn string_part(&mut self, part: &[u8], total: u64, first: bool, last: bool) -> io::Result<()> {
        to_current!(self, o => o.string_part(part, total, first, last))
    }
    fn zmember(&mut self, m: &[u8], score: f64) -> io::Result<()> {
        to_current!(self, o => o.zmember(m, score))
    }
    fn hash_field(&mut self, f: &[u8], v: &[u8], expire_ms: Option<i64>) -> io::Result<()> {
        to_current!(self, o => o.hash_field(f, v, expire_ms))
    }
    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        to_current!(self, o => o.stream_entry(id, fields))
    }
    fn stream_field(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        to_current!(self, o => o.stream_field(name, value))
    }
    fn stream_meta(&mut self, meta: &StreamMeta) -> io::Result<()> {
        to_current!(self, o => o.stream_meta(meta))
    }
    fn stream_group(
        &mut self,
        name: &[u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        pending: u64,
    ) -> io::Result<()> {
        to_current!(self, o => o.stream_group(name, last_id, entries_read, pending))
    }
    fn stream_pending(&mut self, id: StreamId, delivery_ms: i64, count: u64) -> io::Result<()> {
        to_current!(self, o => o.stream_pending(id, delivery_ms, count))
    }
    fn stream_consumers(&mut self, n: u64) -> io::Result<()> {
        to_current!(self, o => o.stream_consumers(n))
    }
    fn stream_consumer(
        &mut self,
        name: &[u8],
        seen_ms: i64,
        active_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        to_current!(self, o => o.stream_consumer(name, seen_ms, active_ms, pending))
    }
    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        to_current!(self, o => o.stream_consumer_pending(id))
    }
    fn end(&mut self) -> io::Result<()> {
        let r = to_current!(self, o => o.end());
        self.current = None;
        r
    }
    fn raw_record(&mut self, src: &File, start: u64, len: u64) -> io::Result<bool> {
        let r = match self.cur() {
            Some(o) => o.raw_record(src, start, len),
            None => Ok(true),
        };
        self.current = None;
        r
    }
    fn copies_stored_nodes(&self) -> bool {
        self.outs.iter().all(KeySink::copies_stored_nodes)
    }
    fn stream_meta_stored(&mut self, src: &File, meta: &StreamMeta) -> io::Result<()> {
        to_current!(self, o => o.stream_meta_stored(src, meta))
    }
    fn pel_needs_entries(&self) -> bool {
        self.outs.iter().any(KeySink::pel_needs_entries)
    }
}
