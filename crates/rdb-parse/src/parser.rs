//! The pull parser: a state machine that yields one [`Event`] per element.

use crate::aside::{Aside, Blob, CheckValue, MAX_BLOB};
use crate::blob::{self, BlobError, DupCheck};
use crate::error::{Error, ErrorKind};
use crate::event::{ArrayValue, Event, KeyInfo, NodeInfo, StoredNodes, Str, StreamId, StreamMeta};
use crate::input::Input;
use crate::lzf;
use crate::types::{
    module_name, opcode, Encoding, Family, RdbType, ValueType, MAX_REDIS_VERSION,
    MAX_VALKEY_VERSION,
};
use std::collections::HashSet;
use std::io::Read;

/// Bounds on what a file may make the parser hold in memory.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest string (key, value, element, or compressed/decompressed blob) accepted.
    pub max_string_len: u64,
    /// Members of one set/hash/zset checked for duplicates (plain-encoded, or in one listpack,
    /// ziplist or zipmap); past this number the duplicate check stops for that key (a 16-byte
    /// fingerprint per member, in a table of 17 bytes a slot).
    pub max_dup_check: usize,
    /// Whether a CRC64 mismatch is an error (true) or only reported in [`Event::Eof`].
    pub verify_checksum: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_string_len: 1 << 30,
            // As many as a table of 2^20 slots holds (7/8 of them): 17 MiB.
            max_dup_check: 7 << 17,
            verify_checksum: true,
        }
    }
}

/// Where a string's bytes are once read: in the input buffer, in a scratch buffer, or an int.
#[derive(Clone, Copy, Debug)]
enum SRef {
    Buf(u64, usize),
    Scratch(usize, usize),
    Int(i64),
}

/// A blob string read past, as stored.
#[derive(Clone, Copy, Debug)]
struct RawBlob {
    /// Offset of its first byte (its length or LZF marker).
    at: u64,
    /// Offset of its stored bytes.
    start: u64,
    /// Its stored bytes.
    stored: usize,
    /// Its length once decompressed, when stored LZF-compressed.
    ulen: Option<usize>,
}

impl RawBlob {
    /// Its length once decompressed (its stored length when stored plain).
    fn len(&self) -> usize {
        self.ulen.unwrap_or(self.stored)
    }
}

/// Where a blob's bytes are.
#[derive(Clone, Copy, Debug)]
enum BlobLoc {
    Buf(u64, usize),
    /// In `Parser::blob`, this many bytes long.
    Decompressed(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemKind {
    ListElement,
    SetMember,
    ZsetText,
    ZsetBinary,
    Hash,
    /// Redis 7.4-rc type 22: `len ttl`, field, value.
    HashPreGa,
    /// Redis 7.4 type 24: relative ttl + min expire.
    HashMeta(i64),
    /// Valkey 9 type 22: field, value, i64 expiry.
    ValkeyHash2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlobKind {
    LpElements,
    LpHash,
    LpZset,
    LpHashEx,
    ZlElements,
    ZlHash,
    ZlZset,
    Intset(usize),
    Zipmap,
}

#[derive(Clone, Copy, Debug)]
enum After {
    KeyEnd,
    Quicklist { nodes_left: u64, v2: bool },
}

impl After {
    fn state(self) -> State {
        match self {
            After::KeyEnd => State::KeyEnd,
            After::Quicklist { nodes_left, v2 } => State::Quicklist { nodes_left, v2 },
        }
    }
}

#[derive(Debug)]
enum State {
    Header,
    Top,
    StringValue,
    /// A plain string value delivered in parts: bytes to go, of `total`.
    StringParts {
        left: u64,
        total: u64,
    },
    Items {
        kind: ItemKind,
        left: u64,
    },
    Blob {
        kind: BlobKind,
        loc: BlobLoc,
        pos: usize,
        left: usize,
        after: After,
    },
    Quicklist {
        nodes_left: u64,
        v2: bool,
    },
    /// A quicklist's plain node was announced: its element comes next.
    PlainElement {
        loc: BlobLoc,
        nodes_left: u64,
    },
    Stream(Box<StreamState>),
    Array {
        left: u64,
    },
    Module {
        name: [u8; 9],
        version: u16,
        raw_len: u64,
    },
    KeyEnd,
    Done,
}

#[derive(Debug)]
enum StreamPhase {
    /// Between listpack nodes.
    Nodes {
        left: u64,
    },
    /// Inside a node: entries to go, and the current entry's fields to go.
    Entries {
        node_entries_left: u64,
    },
    Fields {
        node_entries_left: u64,
        fields_left: u64,
        same: bool,
        master_idx: usize,
    },
    Meta,
    Groups {
        left: u64,
    },
    GroupPel {
        groups_left: u64,
        left: u64,
    },
    Consumers {
        groups_left: u64,
        left: u64,
    },
    ConsumerPel {
        groups_left: u64,
        consumers_left: u64,
        left: u64,
    },
    Nack {
        groups_left: u64,
        left: u64,
    },
    Idmp,
}

#[derive(Debug)]
struct StreamState {
    version: u8,
    /// The offset of the node count, when the nodes are not reported entry by entry (see
    /// [`Parser::stream_nodes_as_stored`]).
    stored_at: Option<u64>,
    nodes_left: u64,
    phase: StreamPhase,
    /// Current node.
    loc: BlobLoc,
    pos: usize,
    master: StreamId,
    master_fields: Vec<usize>,
    last_entry: Option<StreamId>,
    live_seen: u64,
    group_names: DupCheck,
    group_pel: HashSet<StreamId>,
    owned: HashSet<StreamId>,
    consumer_names: DupCheck,
}

/// Per-key opcodes seen before the type byte.
#[derive(Default, Clone, Copy)]
struct Pending {
    start: Option<u64>,
    expire_ms: Option<i64>,
    idle: Option<u64>,
    freq: Option<u8>,
}

/// A streaming RDB parser. See the crate docs for an example.
pub struct Parser<R> {
    input: Input<R>,
    limits: Limits,
    family: Family,
    version: u32,
    state: State,
    db: u64,
    pending: Pending,
    scratch: [Vec<u8>; 2],
    blob: Vec<u8>,
    dup: DupCheck,
    last_good: u64,
    key_start: u64,
    skip_values: bool,
    /// Plain string values longer than this come as parts of this size (0: never).
    string_parts: usize,
    /// Whether quicklist and stream nodes are announced with [`Event::Node`].
    report_nodes: bool,
    /// Plain string values longer than this are skipped and measured only.
    skip_strings_over: Option<usize>,
    /// The blob length of the value being started, for [`KeyInfo::blob_bytes`].
    blob_bytes: Option<u64>,
    /// The longest entry of the blob being validated, for [`KeyInfo::max_element`].
    max_element: Option<u64>,
    /// Per RDB type: blobs of at most this many entries have their elements skipped.
    skip_blobs: [u64; 32],
    /// Read a newer version of the family as the newest known one.
    relaxed_version: bool,
    /// The version the header states, when it was read as another.
    stated_version: Option<u32>,
    skip_all: bool,
    skip_types: [bool; 32],
    /// (see [`stream_nodes_as_stored`](Parser::stream_nodes_as_stored)).
    stored_nodes: bool,
    elements: u64,
    volatile_fields: u64,
    /// The current key's last string was stored LZF-compressed.
    compressed: bool,
    /// Blobs of skipped values checked on a second thread (see `check_blobs_aside`).
    aside: Option<Aside>,
}

/// Converts a blob-relative error to an absolute one.
fn blob_err(base: u64, e: BlobError) -> Error {
    Error::corrupt(base + e.pos as u64, e.reason)
}

fn parse_score(s: Str<'_>) -> Option<f64> {
    match s {
        Str::Int(v) => Some(v as f64),
        Str::Bytes(b) => parse_double_text(b),
    }
}

/// Parses a score as Redis's `strtod` would accept it (`inf`, `-inf`, decimal, exponent).
fn parse_double_text(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    match s {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => {
            let lower = s.to_ascii_lowercase();
            if lower.contains("inf") || lower.contains("nan") {
                match lower.as_str() {
                    "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
                    "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                    _ => None,
                }
            } else {
                s.parse::<f64>().ok()
            }
        }
    }
}

impl<R: Read> Parser<R> {
    /// A parser over `reader` with default [`Limits`].
    pub fn new(reader: R) -> Self {
        Parser::with_limits(reader, Limits::default())
    }

    /// A parser over `reader` with the given limits.
    pub fn with_limits(reader: R, limits: Limits) -> Self {
        // Room for two maximal strings of a pair plus their headers.
        let max_buf = (limits
            .max_string_len
            .saturating_mul(2)
            .saturating_add(1 << 16))
        .min(usize::MAX as u64) as usize;
        Parser {
            input: Input::new(reader, max_buf),
            limits,
            family: Family::Redis,
            version: 0,
            state: State::Header,
            db: 0,
            pending: Pending::default(),
            scratch: [Vec::new(), Vec::new()],
            blob: Vec::new(),
            dup: DupCheck::default(),
            last_good: 0,
            key_start: 0,
            skip_values: false,
            string_parts: 0,
            report_nodes: false,
            skip_strings_over: None,
            blob_bytes: None,
            max_element: None,
            skip_blobs: [0; 32],
            relaxed_version: false,
            stated_version: None,
            skip_all: false,
            skip_types: [false; 32],
            stored_nodes: false,
            elements: 0,
            volatile_fields: 0,
            compressed: false,
            aside: None,
        }
    }

    /// A parser that starts at a record boundary of a file whose header it does not read: the
    /// reader's first byte is at absolute offset `at` of a file of `family` and `version`
    /// (from its header), with database `db` selected. The first event is the record there.
    /// What reads a file in pieces (the intact parts of a damaged one, see
    /// [`salvage`](crate::salvage)) starts one such parser per piece; the CRC64 it computes
    /// covers only its piece.
    pub fn resume(
        reader: R,
        limits: Limits,
        family: Family,
        version: u32,
        db: u64,
        at: u64,
    ) -> Self {
        let mut p = Parser::with_limits(reader, limits);
        p.input.base = at;
        p.family = family;
        p.version = version;
        p.db = db;
        p.state = State::Top;
        p.last_good = at;
        p
    }

    /// Counts `prefix` (the bytes before the reader's first, from the file's start) into the
    /// checksum, before anything is read: a parser resumed just past the header then computes
    /// the file's checksum.
    pub fn checksum_prefix(&mut self, prefix: &[u8]) {
        self.input.crc_prefix(prefix);
    }

    /// Reads in small pieces at first (the buffer grows as a record needs): for a parser
    /// expected to stop after a few bytes, started many times over.
    pub fn small_reads(&mut self) {
        self.input.small_chunks(256);
    }

    /// Absolute offset of the next byte the parser will read.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// End of the last complete top-level record (header, opcode record or whole key).
    pub fn last_good_offset(&self) -> u64 {
        self.last_good
    }

    /// The RDB version from the header (0 before the header is read).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Reads a header version newer than any known of its family as the newest known one,
    /// as Valkey does with `rdb-version-check relaxed`: [`Event::Header`] and
    /// [`version`](Parser::version) then give the version read as, and
    /// [`stated_version`](Parser::stated_version) the one in the file. An opcode or type that
    /// version does not have still fails with its offset. Off by default.
    pub fn relaxed_version(&mut self, on: bool) {
        self.relaxed_version = on;
    }

    /// The version the header states, when it was newer than any known and read as the newest
    /// (see [`relaxed_version`](Parser::relaxed_version)).
    pub fn stated_version(&self) -> Option<u32> {
        self.stated_version
    }

    /// The magic family from the header.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The database of the current or last key.
    pub fn db(&self) -> u64 {
        self.db
    }

    /// Validates values without reporting their elements: no `Element`, `ZMember`, `HashField`,
    /// `StreamEntry`, `StreamField` or `ArrayElement` events; everything else is still reported
    /// and every check still runs. Faster, for checkers that only count. See [`key_elements`].
    ///
    /// [`key_elements`]: Parser::key_elements
    pub fn skip_values(&mut self, skip: bool) {
        self.skip_all = skip;
        self.skip_values = skip;
    }

    /// Checks the blob values (listpacks, ziplists, intsets, quicklist nodes) of keys whose
    /// elements are skipped (see [`skip_values`](Parser::skip_values)) on a second thread
    /// while the reading goes on; each key's count comes from its blob's header, which that
    /// thread checks against the entries it finds. Blobs over 64 KiB, and those whose header
    /// does not state a count, are still checked inline. [`KeyInfo::max_element`] is `None`
    /// for the blobs checked aside.
    ///
    /// When a blob fails there, the parse stops with [`ErrorKind::AsideFault`], which names no
    /// fault: read the input again without this option to learn it. Errors must pass through
    /// [`settle`](Parser::settle) ([`drive`](crate::drive) does it), so that a fault found aside
    /// in an earlier blob is not hidden by a later error. Without a second thread (the system
    /// refuses one), everything is checked inline.
    ///
    /// [`KeyInfo::max_element`]: crate::KeyInfo::max_element
    pub fn check_blobs_aside(&mut self, on: bool) {
        self.aside = if on {
            let check: CheckValue =
                |t, b, dup| check_blob_value(t, b, dup, 0).ok().map(|v| v.count);
            Aside::start(check, self.limits.max_dup_check)
        } else {
            None
        };
    }

    /// The error to report for `e`, which the parse stopped with: when blobs are checked
    /// aside, waits for every blob read before it, and gives [`ErrorKind::AsideFault`] if one
    /// failed (the earlier fault); else `e`.
    pub fn settle(&mut self, e: Error) -> Error {
        let failed = self.aside.as_mut().is_some_and(|a| !a.finish());
        if failed {
            Error::new(e.offset(), ErrorKind::AsideFault)
        } else {
            e
        }
    }

    /// Reads the rest of the file, discarding its events: `Ok` when it ends whole, else its
    /// first error, settled (see [`Parser::settle`]).
    pub fn read_to_end(&mut self) -> Result<(), Error> {
        loop {
            match self.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.settle(e)),
            }
        }
    }

    /// Delivers plain string values longer than `part` bytes as [`Event::StringPart`]s of at
    /// most `part` bytes instead of one [`Event::Element`], so that a value of any length is
    /// never held whole (0, the default: always whole). Compressed (LZF) values still come
    /// whole: their length is bounded by 100 times their stored size.
    pub fn stream_strings(&mut self, part: usize) {
        self.string_parts = part;
    }

    /// Skips the bytes of plain (not integer, not LZF) string values longer than `len`: such a
    /// value comes as an [`Event::StringSkipped`] with its length. For a consumer that needs
    /// only a long string's length (a short one may be an integer: it comes whole).
    pub fn skip_long_strings(&mut self, len: usize) {
        self.skip_strings_over = Some(len);
        // Strings are then read where parts are (whole up to any length, unless parts are
        // asked for too).
        if self.string_parts == 0 {
            self.string_parts = usize::MAX;
        }
    }

    /// Skips the elements of blob values of type `t` (ziplists, listpacks, intsets, and the
    /// nodes of a quicklist of type 18) that hold at most `up_to` entries: such a key comes as
    /// its [`KeyInfo`] (with [`KeyInfo::max_element`]) and its end, and a quicklist's nodes
    /// as [`Event::Node`]s when nodes are reported. What a memory estimate of a blob the
    /// server keeps as it is needs, without an event per element.
    pub fn skip_blob_elements(&mut self, t: RdbType, up_to: u64) {
        if let Some(slot) = self.skip_blobs.get_mut(t.0 as usize) {
            *slot = up_to;
        }
    }

    /// Announces each quicklist node and stream node with an [`Event::Node`] (its blob length
    /// and entry count) before its elements: what a memory estimate needs. Off by default.
    pub fn report_nodes(&mut self, on: bool) {
        self.report_nodes = on;
    }

    /// Like [`skip_values`](Parser::skip_values), for the keys of these object types only (the
    /// others are reported in full): for a reader that copies some values as they are stored.
    pub fn skip_types(&mut self, types: &[RdbType]) {
        self.skip_types = [false; 32];
        for t in types {
            if let Some(slot) = self.skip_types.get_mut(t.0 as usize) {
                *slot = true;
            }
        }
    }

    /// Checks the nodes of streams of RDB stream version 2 and 3 (types 19 and 21) as
    /// [`skip_values`](Parser::skip_values) does, without their `StreamEntry`, `StreamField`
    /// or `Node` events, and gives where they lie in the source in
    /// [`StreamMeta::stored_nodes`]: for a writer that copies them as stored under a stream
    /// type of another version (the nodes' bytes are the same from version 2 on). The
    /// metadata, groups and consumers are reported as usual.
    pub fn stream_nodes_as_stored(&mut self, on: bool) {
        self.stored_nodes = on;
    }

    /// Number of elements of the current (or last) key so far: members, fields, list elements,
    /// stream entries; 1 for a string.
    pub fn key_elements(&self) -> u64 {
        self.elements
    }

    /// Whether the last string read of the current (or last) key was stored LZF-compressed
    /// (its length then checked by decompression).
    pub fn last_string_compressed(&self) -> bool {
        self.compressed
    }

    /// Number of hash fields with an expiry time in the current (or last) key so far.
    pub fn key_volatile_fields(&self) -> u64 {
        self.volatile_fields
    }

    /// Gives back the reader and the bytes read from it past the last consumed byte (after
    /// [`Event::Eof`], what follows the RDB: an AOF tail, for instance).
    pub fn into_parts(self) -> (R, Vec<u8>) {
        self.input.into_parts()
    }

    /// Reads until the next event. `Ok(None)` after [`Event::Eof`].
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        self.input.mark = self.input.pos;
        loop {
            match self.state {
                State::Header => return self.header().map(Some),
                State::Top => return self.top(),
                State::StringValue if self.skip_values => {
                    // The mark is here: a plain string is read through, never held.
                    self.skip_string_value("string value")?;
                    self.state = State::KeyEnd;
                    self.elements = 1;
                    continue;
                }
                State::StringValue if self.string_parts > 0 => {
                    let what = "string value";
                    let at = self.input.offset();
                    let b = self.input.peek_u8(what)?;
                    let s = if b >> 6 != 3 {
                        self.input.pos += 1;
                        let n = self.string_len(b, at, what)?;
                        if self.skip_strings_over.is_some_and(|max| n > max) {
                            self.input.skip(n as u64, what, at)?;
                            self.state = State::KeyEnd;
                            self.elements = 1;
                            return Ok(Some(Event::StringSkipped { len: n as u64 }));
                        }
                        if n > self.string_parts {
                            self.state = State::StringParts {
                                left: n as u64,
                                total: n as u64,
                            };
                            continue;
                        }
                        SRef::Buf(self.input.take(n, what, at)?, n)
                    } else {
                        self.read_value(what)?
                    };
                    self.state = State::KeyEnd;
                    self.elements = 1;
                    return Ok(Some(Event::Element(self.resolve(s))));
                }
                State::StringParts { left, total } => {
                    let k = left.min(self.string_parts as u64);
                    let at = self.input.offset();
                    let start = self.input.take(k as usize, "string value", at)?;
                    let last = k == left;
                    self.state = if last {
                        self.elements = 1;
                        State::KeyEnd
                    } else {
                        State::StringParts {
                            left: left - k,
                            total,
                        }
                    };
                    return Ok(Some(Event::StringPart {
                        part: self.input.slice(start, k as usize),
                        total,
                        first: left == total,
                        last,
                    }));
                }
                State::StringValue => {
                    let s = self.read_value("string value")?;
                    self.state = State::KeyEnd;
                    self.elements = 1;
                    if self.skip_values {
                        continue;
                    }
                    return Ok(Some(Event::Element(self.resolve(s))));
                }
                State::Items { kind, left } => {
                    if left == 0 {
                        self.state = State::KeyEnd;
                        continue;
                    }
                    self.state = State::Items {
                        kind,
                        left: left - 1,
                    };
                    self.elements += 1;
                    if self.skip_values {
                        self.input.mark = self.input.pos;
                        self.item(kind)?;
                        continue;
                    }
                    return self.item(kind);
                }
                State::Quicklist { nodes_left, v2 } => {
                    if nodes_left == 0 {
                        self.state = State::KeyEnd;
                        continue;
                    }
                    let skip_small = v2 && self.skip_blobs[18] > 0;
                    if let Some(plain) = self.quicklist_node(nodes_left - 1, v2)? {
                        self.elements += 1;
                        let b = slice_of(&self.input.buf, self.input.base, &self.blob, plain);
                        let bytes = b.len() as u64;
                        let node = Event::Node(NodeInfo {
                            bytes,
                            entries: 1,
                            master: None,
                            max_element: Some(bytes),
                            plain: true,
                        });
                        if self.skip_values || skip_small {
                            self.input.mark = self.input.pos;
                            if self.report_nodes && !self.skip_values {
                                return Ok(Some(node));
                            }
                            continue;
                        }
                        if self.report_nodes {
                            // The element follows the node.
                            self.state = State::PlainElement {
                                loc: plain,
                                nodes_left: nodes_left - 1,
                            };
                            return Ok(Some(node));
                        }
                        let b = slice_of(&self.input.buf, self.input.base, &self.blob, plain);
                        return Ok(Some(Event::Element(Str::Bytes(b))));
                    }
                    if let State::Blob {
                        left, after, loc, ..
                    } = self.state
                    {
                        let skip =
                            self.skip_values || (skip_small && left as u64 <= self.skip_blobs[18]);
                        let node = NodeInfo {
                            bytes: slice_of(&self.input.buf, self.input.base, &self.blob, loc).len()
                                as u64,
                            entries: left as u64,
                            master: None,
                            max_element: self.max_element,
                            plain: false,
                        };
                        if skip {
                            self.elements += left as u64;
                            self.state = after.state();
                            self.input.mark = self.input.pos;
                        }
                        if self.report_nodes && !self.skip_values {
                            return Ok(Some(Event::Node(node)));
                        }
                    }
                }
                State::PlainElement { loc, nodes_left } => {
                    self.state = State::Quicklist {
                        nodes_left,
                        v2: true,
                    };
                    let b = slice_of(&self.input.buf, self.input.base, &self.blob, loc);
                    return Ok(Some(Event::Element(Str::Bytes(b))));
                }
                State::Module {
                    name,
                    version,
                    raw_len,
                } => {
                    self.state = State::KeyEnd;
                    return Ok(Some(Event::Module {
                        name,
                        version,
                        raw_len,
                    }));
                }
                State::Array { left } => {
                    if left == 0 {
                        self.state = State::KeyEnd;
                        continue;
                    }
                    self.state = State::Array { left: left - 1 };
                    self.elements += 1;
                    if self.skip_values {
                        self.input.mark = self.input.pos;
                        self.array_element()?;
                        continue;
                    }
                    return self.array_element();
                }
                State::KeyEnd => {
                    self.state = State::Top;
                    self.last_good = self.input.offset();
                    return Ok(Some(Event::KeyEnd));
                }
                State::Blob { left: 0, after, .. } => self.state = after.state(),
                // Blob iteration reads nothing new: it borrows what is already buffered.
                State::Blob { .. } => {
                    self.elements += 1;
                    return self.blob_next();
                }
                State::Stream(_) => return self.stream_next().map(Some),
                State::Done => return Ok(None),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Primitives

    fn len(&mut self, what: &'static str) -> Result<u64, Error> {
        let at = self.input.offset();
        let b = self.input.u8(what)?;
        match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => {
                let b2 = self.input.u8(what)?;
                Ok((((b & 0x3f) as u64) << 8) | b2 as u64)
            }
            2 if b == 0x80 => Ok(u32::from_be_bytes(self.input.array::<4>(what)?) as u64),
            2 if b == 0x81 => Ok(u64::from_be_bytes(self.input.array::<8>(what)?)),
            _ => Err(Error::new(at, ErrorKind::BadLength { byte: b })),
        }
    }

    /// A length that must fit the string limit.
    fn checked_len(&mut self, what: &'static str) -> Result<usize, Error> {
        let at = self.input.offset();
        let n = self.len(what)?;
        self.check_size(at, n, what)
    }

    fn check_size(&self, at: u64, n: u64, what: &'static str) -> Result<usize, Error> {
        if n > self.limits.max_string_len {
            return Err(Error::new(
                at,
                ErrorKind::LimitExceeded {
                    what,
                    value: n,
                    limit: self.limits.max_string_len,
                },
            ));
        }
        Ok(n as usize)
    }

    fn i64_le(&mut self, what: &'static str) -> Result<i64, Error> {
        Ok(i64::from_le_bytes(self.input.array::<8>(what)?))
    }

    fn stream_id_raw(&mut self, what: &'static str) -> Result<StreamId, Error> {
        Ok(StreamId::from_be_bytes(&self.input.array::<16>(what)?))
    }

    fn stream_id_lens(&mut self, what: &'static str) -> Result<StreamId, Error> {
        let ms = self.len(what)?;
        let seq = self.len(what)?;
        Ok(StreamId { ms, seq })
    }

    /// Reads an RDB string. LZF strings are decompressed into scratch buffer `slot`.
    ///
    /// A plain string, the common case, is read inline: returned through memory from a call,
    /// the result costs a store-forwarding stall per string.
    #[inline(always)]
    fn read_string(&mut self, slot: usize, what: &'static str) -> Result<SRef, Error> {
        let at = self.input.offset();
        let b = self.input.u8(what)?;
        self.compressed = false;
        if b >> 6 != 3 {
            let n = self.string_len(b, at, what)?;
            let start = self.input.take(n, what, at)?;
            return Ok(SRef::Buf(start, n));
        }
        self.read_encoded_string(b, at, slot, what)
    }

    /// [`Parser::read_string`] of an integer or LZF string, whose first byte `b` was read.
    #[inline(never)]
    fn read_encoded_string(
        &mut self,
        b: u8,
        at: u64,
        slot: usize,
        what: &'static str,
    ) -> Result<SRef, Error> {
        match b & 0x3f {
            0 => Ok(SRef::Int(self.input.u8(what)? as i8 as i64)),
            1 => Ok(SRef::Int(
                i16::from_le_bytes(self.input.array::<2>(what)?) as i64
            )),
            2 => Ok(SRef::Int(
                i32::from_le_bytes(self.input.array::<4>(what)?) as i64
            )),
            3 => {
                let (start, clen, ulen) = self.lzf_header(at, what)?;
                let compressed = self.input.slice(start, clen);
                lzf::decompress(compressed, ulen, &mut self.scratch[slot])
                    .map_err(|reason| Error::new(at, ErrorKind::Lzf { reason }))?;
                self.compressed = true;
                Ok(SRef::Scratch(slot, ulen))
            }
            _ => Err(Error::new(at, ErrorKind::BadStringEncoding { byte: b })),
        }
    }

    /// Reads a string whose bytes are reported only when values are (see `skip_values`): when
    /// skipped, an LZF value is validated without being decompressed.
    #[inline]
    fn read_value(&mut self, what: &'static str) -> Result<SRef, Error> {
        if !self.skip_values {
            return self.read_string(1, what);
        }
        let at = self.input.offset();
        if self.input.peek_u8(what)? != 0xc3 {
            return self.read_string(1, what);
        }
        self.input.pos += 1;
        let (start, clen, ulen) = self.lzf_header(at, what)?;
        lzf::validate(self.input.slice(start, clen), ulen)
            .map_err(|reason| Error::new(at, ErrorKind::Lzf { reason }))?;
        self.compressed = true;
        Ok(SRef::Int(0))
    }

    /// Passes over a string value no event reports, at the input's mark: a plain string is read
    /// through without being held (a 1 GB string out of a small gzip file costs no memory), an
    /// LZF one is validated as [`read_value`](Self::read_value) does.
    fn skip_string_value(&mut self, what: &'static str) -> Result<(), Error> {
        let at = self.input.offset();
        let b = self.input.peek_u8(what)?;
        if b >> 6 == 3 {
            self.read_value(what)?;
            return Ok(());
        }
        self.input.pos += 1;
        self.compressed = false;
        let n = self.string_len(b, at, what)?;
        self.input.skip(n as u64, what, at)
    }

    /// The length of a plain string whose first length byte `b` (not `11xxxxxx`) was read,
    /// checked against the limits.
    #[inline]
    fn string_len(&mut self, b: u8, at: u64, what: &'static str) -> Result<usize, Error> {
        let n = match b >> 6 {
            0 => (b & 0x3f) as u64,
            1 => (((b & 0x3f) as u64) << 8) | self.input.u8(what)? as u64,
            _ if b == 0x80 => u32::from_be_bytes(self.input.array::<4>(what)?) as u64,
            _ if b == 0x81 => u64::from_be_bytes(self.input.array::<8>(what)?),
            _ => return Err(Error::new(at, ErrorKind::BadLength { byte: b })),
        };
        self.check_size(at, n, what)
    }

    /// Reads an LZF header and makes the compressed bytes available; returns their offset.
    fn lzf_header(&mut self, at: u64, what: &'static str) -> Result<(u64, usize, usize), Error> {
        let clen = self.checked_len("LZF compressed length")?;
        let ulen_at = self.input.offset();
        let ulen = self.checked_len("LZF uncompressed length")?;
        // LZF expands at most ~88x (a 3-byte back reference yields 264 bytes).
        if ulen as u64 > (clen as u64).saturating_mul(100).saturating_add(64) {
            return Err(Error::new(
                ulen_at,
                ErrorKind::Lzf {
                    reason: "declared uncompressed length impossible for the compressed size",
                },
            ));
        }
        if clen == 0 && ulen != 0 {
            return Err(Error::new(
                ulen_at,
                ErrorKind::Lzf {
                    reason: "empty compressed data",
                },
            ));
        }
        let start = self.input.take(clen, what, at)?;
        Ok((start, clen, ulen))
    }

    /// Skips an RDB string without keeping it.
    fn skip_string(&mut self, what: &'static str) -> Result<u64, Error> {
        let at = self.input.offset();
        let s = self.read_string(1, what)?;
        let _ = s;
        Ok(self.input.offset() - at)
    }

    /// Reads a blob string (listpack, ziplist, ...); LZF blobs go to `self.blob`.
    fn read_blob(&mut self, what: &'static str) -> Result<(BlobLoc, u64), Error> {
        let raw = self.read_raw_blob(what)?;
        self.load_blob(raw)
    }

    /// Reads past a blob string, leaving it as stored (LZF not decompressed).
    fn read_raw_blob(&mut self, what: &'static str) -> Result<RawBlob, Error> {
        let at = self.input.offset();
        let b = self.input.u8(what)?;
        if b >> 6 != 3 {
            self.input.pos -= 1;
            let n = self.checked_len(what)?;
            let start = self.input.take(n, what, at)?;
            return Ok(RawBlob {
                at,
                start,
                stored: n,
                ulen: None,
            });
        }
        if b & 0x3f != 3 {
            return Err(Error::corrupt(at, format!("{what} stored as an integer")));
        }
        let (start, clen, ulen) = self.lzf_header(at, what)?;
        Ok(RawBlob {
            at,
            start,
            stored: clen,
            ulen: Some(ulen),
        })
    }

    /// The bytes of a blob read by [`read_raw_blob`](Self::read_raw_blob), decompressed into
    /// `self.blob` when stored LZF-compressed, and the offset its errors are relative to.
    fn load_blob(&mut self, raw: RawBlob) -> Result<(BlobLoc, u64), Error> {
        let Some(ulen) = raw.ulen else {
            return Ok((BlobLoc::Buf(raw.start, raw.stored), raw.start));
        };
        let compressed = self.input.slice(raw.start, raw.stored);
        lzf::decompress(compressed, ulen, &mut self.blob)
            .map_err(|reason| Error::new(raw.at, ErrorKind::Lzf { reason }))?;
        Ok((BlobLoc::Decompressed(ulen), raw.start))
    }

    /// Hands blob `raw` of kind `blob` to the checking thread when it can be checked there
    /// (see [`check_blobs_aside`](Parser::check_blobs_aside)): returns the count its header
    /// states, of entries (a node's elements, a ziplist's or listpack's entries before pairs
    /// are counted) or of an intset's members; `None` to check it inline.
    fn put_aside(&mut self, blob: Blob, raw: RawBlob) -> Result<Option<usize>, Error> {
        let Some(aside) = &mut self.aside else {
            return Ok(None);
        };
        if raw.stored > MAX_BLOB || raw.len() > MAX_BLOB {
            return Ok(None);
        }
        let bytes = self.input.slice(raw.start, raw.stored);
        let mut head = [0u8; 10];
        let got = match raw.ulen {
            Some(_) => lzf::decompress_head(bytes, &mut head),
            None => {
                let n = bytes.len().min(head.len());
                head[..n].copy_from_slice(&bytes[..n]);
                n
            }
        };
        let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]) as usize;
        // The header's count, where the header is whole and states one.
        let count = match blob {
            Blob::Value(RdbType(11)) if got >= 8 => {
                u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize
            }
            Blob::Value(RdbType(10 | 12 | 13)) | Blob::Node { v2: false } if got >= 10 => u16_at(8),
            Blob::Value(RdbType(16 | 17 | 20)) | Blob::Node { v2: true } if got >= 6 => u16_at(4),
            _ => return Ok(None),
        };
        let pairs = matches!(blob, Blob::Value(RdbType(12 | 13 | 16 | 17)));
        if count == 65535 || (pairs && count % 2 == 1) {
            return Ok(None);
        }
        if !aside.push(blob, bytes, raw.ulen, count) {
            return Err(Error::new(raw.at, ErrorKind::AsideFault));
        }
        self.input.mark = self.input.pos;
        Ok(Some(if pairs { count / 2 } else { count }))
    }

    fn resolve(&self, r: SRef) -> Str<'_> {
        match r {
            SRef::Buf(at, n) => Str::Bytes(self.input.slice(at, n)),
            SRef::Scratch(slot, n) => Str::Bytes(&self.scratch[slot][..n]),
            SRef::Int(v) => Str::Int(v),
        }
    }

    /// Records a member for the duplicate check of a plain-encoded collection.
    fn dup_insert(&mut self, s: SRef, at: u64, what: &str) -> Result<(), Error> {
        // Past its cap the check takes every member as new.
        let fresh = match s {
            SRef::Buf(p, n) => self.dup.insert(self.input.slice(p, n)),
            SRef::Scratch(slot, n) => self.dup.insert(&self.scratch[slot][..n]),
            SRef::Int(v) => self.dup.insert_str(Str::Int(v)),
        };
        if !fresh {
            return Err(Error::corrupt(at, format!("duplicate {what}")));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Header and top level

    fn header(&mut self) -> Result<Event<'static>, Error> {
        let magic = match self.input.array::<9>("magic") {
            Ok(m) => m,
            Err(e) if e.is_truncation() => {
                let have = self.input.end_offset() as usize;
                let found = self.input.buf[..have].to_vec();
                if !(b"REDIS".starts_with(&found[..found.len().min(5)])
                    || b"VALKEY".starts_with(&found[..found.len().min(6)]))
                {
                    return Err(Error::new(0, ErrorKind::BadMagic { found }));
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let (family, digits) = if &magic[..5] == b"REDIS" {
            (Family::Redis, &magic[5..])
        } else if &magic[..6] == b"VALKEY" {
            (Family::Valkey, &magic[6..])
        } else {
            return Err(Error::new(
                0,
                ErrorKind::BadMagic {
                    found: magic.to_vec(),
                },
            ));
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::new(
                0,
                ErrorKind::BadMagic {
                    found: magic.to_vec(),
                },
            ));
        }
        let version = digits.iter().fold(0u32, |v, d| v * 10 + (d - b'0') as u32);
        let (known, newest) = match family {
            Family::Redis => (1..=MAX_REDIS_VERSION, MAX_REDIS_VERSION),
            Family::Valkey => (80..=MAX_VALKEY_VERSION, MAX_VALKEY_VERSION),
        };
        let mut version = version;
        if self.relaxed_version && version > newest {
            self.stated_version = Some(version);
            version = newest;
        }
        if !known.contains(&version) {
            return Err(Error::new(
                (9 - digits.len()) as u64,
                ErrorKind::UnsupportedVersion {
                    family: family.magic(),
                    version,
                },
            ));
        }
        self.family = family;
        self.version = version;
        self.state = State::Top;
        self.last_good = 9;
        Ok(Event::Header { family, version })
    }

    fn is_valkey(&self) -> bool {
        self.family == Family::Valkey
    }

    /// Reads one top-level record, with the per-key opcodes before a key.
    ///
    /// This and the other readers of one event (`record`, `key_start`, `item`, `blob_next`,
    /// `array_element`) give `Option<Event>`, always `Some`: the event is then built where
    /// `next_event` returns it, where wrapping a returned event copied it whole (measured:
    /// check-rdb of 9.3 million string keys 0.92x).
    fn top(&mut self) -> Result<Option<Event<'_>>, Error> {
        loop {
            let at = self.input.offset();
            if self.pending.start.is_none() {
                self.last_good = at;
            }
            let op = self.input.u8("opcode or object type")?;
            if self.per_key_opcode(at, op)? {
                continue;
            }
            return self.record(at, op);
        }
    }

    /// Handles EXPIRETIME*, IDLE, FREQ and KEY_META; true when `op` was one of them.
    fn per_key_opcode(&mut self, at: u64, op: u8) -> Result<bool, Error> {
        match op {
            opcode::EXPIRETIME_MS => {
                self.pending.start.get_or_insert(at);
                let ms = self.i64_le("expire time")?;
                self.pending.expire_ms = Some(ms);
            }
            opcode::EXPIRETIME => {
                self.pending.start.get_or_insert(at);
                let s = i32::from_le_bytes(self.input.array::<4>("expire time")?);
                self.pending.expire_ms = Some(s as i64 * 1000);
            }
            opcode::IDLE => {
                self.pending.start.get_or_insert(at);
                let idle = self.len("LRU idle time")?;
                self.pending.idle = Some(idle);
            }
            opcode::FREQ => {
                self.pending.start.get_or_insert(at);
                let f = self.input.u8("LFU frequency")?;
                self.pending.freq = Some(f);
            }
            opcode::KEY_META_OR_SLOT_IMPORT if !self.is_valkey() && self.version >= 13 => {
                self.pending.start.get_or_insert(at);
                let n = self.len("key metadata class count")?;
                if n > 7 {
                    return Err(Error::corrupt(
                        at,
                        format!("key metadata with {n} classes (at most 7)"),
                    ));
                }
                for _ in 0..n {
                    let _spec = self.input.array::<4>("key metadata class spec")?;
                    self.skip_module_stream()?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Reads the record that starts with `op` (not a per-key opcode).
    fn record(&mut self, at: u64, op: u8) -> Result<Option<Event<'_>>, Error> {
        match op {
            opcode::EOF => {
                if self.pending.start.is_some() {
                    return Err(Error::corrupt(
                        at,
                        "EOF opcode after a key's expiry/idle/freq opcode",
                    ));
                }
                // Every blob checked aside must have passed before the file is whole.
                if let Some(a) = &mut self.aside {
                    if !a.finish() {
                        return Err(Error::new(at, ErrorKind::AsideFault));
                    }
                }
                let computed = self.input.crc_here();
                let stored = if self.version >= 5 {
                    Some(u64::from_le_bytes(self.input.array::<8>("CRC64 checksum")?))
                } else {
                    None
                };
                if let Some(s) = stored {
                    if s != 0 && s != computed && self.limits.verify_checksum {
                        return Err(Error::new(
                            at + 1,
                            ErrorKind::ChecksumMismatch {
                                stored: s,
                                computed,
                            },
                        ));
                    }
                }
                self.state = State::Done;
                self.last_good = self.input.offset();
                Ok(Some(Event::Eof {
                    stored_crc: stored,
                    computed_crc: computed,
                }))
            }
            opcode::SELECTDB => {
                self.no_pending(at, "SELECTDB")?;
                let db = self.len("database number")?;
                // The `databases` setting is an int of at most 2^31-1: no server loads more.
                if db >= i32::MAX as u64 {
                    return Err(Error::corrupt(
                        at,
                        format!(
                            "SELECTDB {db}: no server has that many databases (the databases \
                             setting is at most 2147483647, numbered from 0)"
                        ),
                    ));
                }
                self.db = db;
                Ok(Some(Event::SelectDb { db }))
            }
            opcode::RESIZEDB => {
                self.no_pending(at, "RESIZEDB")?;
                let keys = self.len("RESIZEDB size")?;
                let expires = self.len("RESIZEDB expires size")?;
                Ok(Some(Event::ResizeDb { keys, expires }))
            }
            opcode::AUX => {
                // No check: the servers' loader keeps a key's expiry (and LRU/LFU) across an AUX
                // record, and KeyDB writes one there.
                let k = self.read_string(0, "AUX key")?;
                let v = self.read_string(1, "AUX value")?;
                Ok(Some(Event::Aux {
                    key: self.resolve(k),
                    value: self.resolve(v),
                }))
            }
            opcode::FUNCTION2 => {
                self.no_pending(at, "FUNCTION")?;
                let s = self.read_string(0, "function library code")?;
                Ok(Some(Event::Function {
                    code: self.resolve(s),
                }))
            }
            opcode::FUNCTION_PRE_GA => Err(Error::new(
                at,
                ErrorKind::Unsupported {
                    what: "pre-release function format (Redis 7.0 release candidates)".into(),
                },
            )),
            opcode::MODULE_AUX => {
                self.no_pending(at, "MODULE_AUX")?;
                let id = self.len("module id")?;
                let (name, version) = module_name(id);
                let op_at = self.input.offset();
                let op2 = self.len("module aux opcode")?;
                if op2 != 2 {
                    return Err(Error::corrupt(
                        op_at,
                        format!(
                            "module aux: expected the UINT opcode 2 before 'when', found {op2}"
                        ),
                    ));
                }
                let when = self.len("module aux 'when'")?;
                self.skip_module_stream()?;
                Ok(Some(Event::ModuleAux {
                    name,
                    version,
                    when,
                }))
            }
            opcode::SLOT_INFO => {
                self.no_pending(at, "SLOT_INFO")?;
                let slot = self.len("slot id")?;
                let keys = self.len("slot size")?;
                let expires = self.len("slot expires size")?;
                Ok(Some(Event::SlotInfo {
                    slot,
                    keys,
                    expires,
                }))
            }
            opcode::KEY_META_OR_SLOT_IMPORT if self.is_valkey() => {
                self.no_pending(at, "SLOT_IMPORT")?;
                let job = self.read_string(0, "slot import job name")?;
                let ranges = self.len("slot range count")?;
                if ranges > 16384 {
                    return Err(Error::corrupt(
                        at,
                        format!("slot import with {ranges} ranges (at most 16384)"),
                    ));
                }
                for _ in 0..ranges {
                    let a = self.len("slot range start")?;
                    let b = self.len("slot range end")?;
                    if a > b || b >= 16384 {
                        return Err(Error::corrupt(at, format!("invalid slot range {a}-{b}")));
                    }
                }
                Ok(Some(Event::SlotImport {
                    job: self.resolve(job),
                    ranges,
                }))
            }
            _ => self.key_start(at, RdbType(op)),
        }
    }

    fn no_pending(&self, at: u64, what: &str) -> Result<(), Error> {
        if self.pending.start.is_some() {
            return Err(Error::corrupt(
                at,
                format!("{what} opcode between a key's expiry/idle/freq opcode and its type"),
            ));
        }
        Ok(())
    }

    /// Walks a module opcode stream up to its EOF; returns the bytes skipped.
    fn skip_module_stream(&mut self) -> Result<u64, Error> {
        let start = self.input.offset();
        loop {
            self.input.mark = self.input.pos; // nothing here is returned: let the buffer slide
            let at = self.input.offset();
            match self.len("module opcode")? {
                0 => return Ok(self.input.offset() - start),
                1 | 2 => {
                    self.len("module integer")?;
                }
                3 => {
                    self.input.take(4, "module float", at)?;
                }
                4 => {
                    self.input.take(8, "module double", at)?;
                }
                5 => {
                    self.skip_string("module string")?;
                }
                op => return Err(Error::corrupt(at, format!("unknown module opcode {op}"))),
            }
        }
    }

    fn key_start(&mut self, at: u64, t: RdbType) -> Result<Option<Event<'_>>, Error> {
        self.skip_values =
            self.skip_all || self.skip_types.get(t.0 as usize).copied().unwrap_or(false);
        let pending = std::mem::take(&mut self.pending);
        let start = pending.start.unwrap_or(at);
        self.key_start = start;
        let valkey = self.is_valkey();
        let (value_type, encoding) = match t.0 {
            0 => (ValueType::String, Encoding::String),
            1 => (ValueType::List, Encoding::LinkedList),
            2 => (ValueType::Set, Encoding::Hashtable),
            3 => (ValueType::Zset, Encoding::Skiplist1),
            4 => (ValueType::Hash, Encoding::Hashtable),
            5 => (ValueType::Zset, Encoding::Skiplist),
            7 => (ValueType::Module, Encoding::Module),
            9 => (ValueType::Hash, Encoding::Zipmap),
            10 => (ValueType::List, Encoding::Ziplist),
            11 => (ValueType::Set, Encoding::Intset),
            12 => (ValueType::Zset, Encoding::Ziplist),
            13 => (ValueType::Hash, Encoding::Ziplist),
            14 => (ValueType::List, Encoding::Quicklist),
            15 => (ValueType::Stream, Encoding::StreamV1),
            16 => (ValueType::Hash, Encoding::Listpack),
            17 => (ValueType::Zset, Encoding::Listpack),
            18 => (ValueType::List, Encoding::Quicklist2),
            19 => (ValueType::Stream, Encoding::StreamV2),
            20 => (ValueType::Set, Encoding::Listpack),
            21 => (ValueType::Stream, Encoding::StreamV3),
            22 if valkey => (ValueType::Hash, Encoding::HashtableEx),
            22 | 24 if !valkey => (ValueType::Hash, Encoding::HashtableEx),
            23 | 25 if !valkey => (ValueType::Hash, Encoding::ListpackEx),
            26 if !valkey && self.version >= 13 => (ValueType::Stream, Encoding::StreamV4),
            27 if !valkey && self.version >= 13 => (ValueType::Stream, Encoding::StreamV5),
            28 if !valkey && self.version >= 14 => (ValueType::Array, Encoding::Array),
            6 => {
                return Err(Error::new(
                    at,
                    ErrorKind::Unsupported {
                        what: "pre-release module value (type 6)".into(),
                    },
                ))
            }
            _ => return Err(Error::new(at, ErrorKind::UnknownType { byte: t.0 })),
        };
        let mut key = self.read_string(0, "key")?;
        self.elements = 0;
        self.volatile_fields = 0;
        self.dup.clear();
        self.dup.set_cap(self.limits.max_dup_check);
        let mut len: Option<u64> = None;
        self.blob_bytes = None;
        self.max_element = None;
        let vat = self.input.offset();
        match t.0 {
            0 => self.state = State::StringValue,
            1..=5 => {
                let n = self.len("element count")?;
                len = Some(n);
                let kind = match t.0 {
                    1 => ItemKind::ListElement,
                    2 => ItemKind::SetMember,
                    3 => ItemKind::ZsetText,
                    5 => ItemKind::ZsetBinary,
                    _ => ItemKind::Hash,
                };
                if t.0 != 1 {
                    self.dup.expect(n);
                }
                self.state = State::Items { kind, left: n };
            }
            22 if valkey => {
                let n = self.len("hash field count")?;
                len = Some(n);
                self.state = State::Items {
                    kind: ItemKind::ValkeyHash2,
                    left: n,
                };
            }
            22 => {
                let n = self.len("hash field count")?;
                len = Some(n);
                self.state = State::Items {
                    kind: ItemKind::HashPreGa,
                    left: n,
                };
            }
            24 => {
                let min_expire = self.i64_le("hash minimum expire time")?;
                if !(0..=1 << 48).contains(&min_expire) {
                    return Err(Error::corrupt(
                        vat,
                        format!("hash minimum expire time {min_expire} out of range"),
                    ));
                }
                let n = self.len("hash field count")?;
                len = Some(n);
                self.state = State::Items {
                    kind: ItemKind::HashMeta(min_expire),
                    left: n,
                };
            }
            7 => {
                let id = self.len("module id")?;
                let (name, version) = module_name(id);
                // The key must survive the buffer sliding over a large module value.
                key = self.own_key(key);
                let raw_len = self.skip_module_stream()?;
                self.state = State::Module {
                    name,
                    version,
                    raw_len,
                };
            }
            14 | 18 => {
                let n = self.len("quicklist node count")?;
                // Empty when it has no node; otherwise its length is known only at its end.
                len = (n == 0).then_some(0);
                self.state = State::Quicklist {
                    nodes_left: n,
                    v2: t.0 == 18,
                };
            }
            15 | 19 | 21 | 26 | 27 => {
                let nodes_at = self.input.offset();
                let n = self.len("stream listpack count")?;
                let version = match t.0 {
                    15 => 1,
                    19 => 2,
                    21 => 3,
                    26 => 4,
                    _ => 5,
                };
                self.state = State::Stream(Box::new(StreamState {
                    version,
                    stored_at: (self.stored_nodes && matches!(version, 2 | 3)).then_some(nodes_at),
                    nodes_left: n,
                    phase: StreamPhase::Nodes { left: n },
                    loc: BlobLoc::Decompressed(0),
                    pos: 0,
                    master: StreamId::default(),
                    master_fields: Vec::new(),
                    last_entry: None,
                    live_seen: 0,
                    group_names: DupCheck::default(),
                    group_pel: HashSet::new(),
                    owned: HashSet::new(),
                    consumer_names: DupCheck::default(),
                }));
            }
            28 => {
                let n = self.len("array element count")?;
                if n == 0 {
                    return Err(Error::corrupt(vat, "array with zero elements"));
                }
                let flag_at = self.input.offset();
                let has_insert = self.len("array insert flag")?;
                match has_insert {
                    0 => {}
                    1 => {
                        self.len("array insert index")?;
                    }
                    v => {
                        return Err(Error::corrupt(
                            flag_at,
                            format!("array insert flag {v} (must be 0 or 1)"),
                        ))
                    }
                }
                len = Some(n);
                self.state = State::Array { left: n };
            }
            _ => {
                // Blob types.
                let min_expire = if t.0 == 25 {
                    let m = self.i64_le("hash minimum expire time")?;
                    if !(0..=1 << 48).contains(&m) {
                        return Err(Error::corrupt(
                            vat,
                            format!("hash minimum expire time {m} out of range"),
                        ));
                    }
                    Some(m)
                } else {
                    None
                };
                let _ = min_expire;
                let raw = self.read_raw_blob("encoded value")?;
                if self.skip_values {
                    if let Some(count) = self.put_aside(Blob::Value(t), raw)? {
                        self.blob_bytes = Some(raw.len() as u64);
                        self.elements = count as u64;
                        self.state = State::KeyEnd;
                        let blob = (self.blob_bytes, None);
                        let len = Some(count as u64);
                        return Ok(Some(self.key_info(
                            key, t, value_type, encoding, pending, start, len, blob,
                        )));
                    }
                }
                let (loc, blob_at) = self.load_blob(raw)?;
                let (kind, count) = self.validate_blob(t, loc, blob_at)?;
                self.blob_bytes =
                    Some(slice_of(&self.input.buf, self.input.base, &self.blob, loc).len() as u64);
                len = Some(count as u64);
                let (pos, left) = match kind {
                    BlobKind::Intset(_) => (0, count),
                    BlobKind::Zipmap => (1, count),
                    BlobKind::ZlElements | BlobKind::ZlHash | BlobKind::ZlZset => {
                        (blob::ZL_HEADER, count)
                    }
                    _ => (blob::LP_HEADER, count),
                };
                self.state = State::Blob {
                    kind,
                    loc,
                    pos,
                    left,
                    after: After::KeyEnd,
                };
                let small = (count as u64) <= self.skip_blobs[t.0 as usize & 31];
                if self.skip_values || small {
                    self.elements = count as u64;
                    self.state = State::KeyEnd;
                }
            }
        }
        // A string has no blob: said as constants rather than read back from the fields
        // just cleared (a wide read of narrow writes stalls, once per key).
        let blob = if t.0 == 0 {
            (None, None)
        } else {
            (self.blob_bytes, self.max_element)
        };
        Ok(Some(self.key_info(
            key, t, value_type, encoding, pending, start, len, blob,
        )))
    }

    #[allow(clippy::too_many_arguments)] // the parts of one record, gathered in one place
    fn key_info(
        &self,
        key: SRef,
        t: RdbType,
        value_type: ValueType,
        encoding: Encoding,
        pending: Pending,
        start: u64,
        len: Option<u64>,
        (blob_bytes, max_element): (Option<u64>, Option<u64>),
    ) -> Event<'_> {
        Event::KeyStart(KeyInfo {
            db: self.db,
            key: self.resolve(key),
            rdb_type: t,
            value_type,
            encoding,
            expire_ms: pending.expire_ms,
            idle_s: pending.idle,
            freq: pending.freq,
            len,
            blob_bytes,
            max_element,
            offset: start,
        })
    }
}

/// The bytes of a blob, borrowing only the buffers (so other fields stay free to change).
fn slice_of<'a>(buf: &'a [u8], base: u64, blob: &'a [u8], loc: BlobLoc) -> &'a [u8] {
    match loc {
        BlobLoc::Buf(at, n) => {
            let i = (at - base) as usize;
            &buf[i..i + n]
        }
        BlobLoc::Decompressed(n) => &blob[..n],
    }
}

/// A stream listpack counter: an integer entry (or a string holding one, as Redis accepts).
fn lp_int(b: &[u8], pos: usize) -> Result<(i64, usize), BlobError> {
    let (v, next) = blob::lp_entry(b, pos)?;
    let n = match v {
        Str::Int(n) => Some(n),
        Str::Bytes(s) => std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<i64>().ok()),
    };
    match n {
        Some(n) => Ok((n, next)),
        None => Err(BlobError {
            pos,
            reason: "stream listpack: expected an integer entry".into(),
        }),
    }
}

/// What a stream node holds, found by validating it.
struct StreamNode {
    master_fields: Vec<usize>,
    entries: u64,
    live: u64,
    first_entry_pos: usize,
}

/// Validates a stream node listpack like Redis's `streamValidateListpackIntegrity`, plus
/// strictly increasing ids across nodes.
fn validate_stream_node(
    b: &[u8],
    master: StreamId,
    last_entry: &mut Option<StreamId>,
) -> Result<StreamNode, BlobError> {
    let total = blob::lp_validate(b)?;
    let end = b.len() - 1;
    let mut pos = blob::LP_HEADER;
    let (live, p) = lp_int(b, pos)?;
    let (deleted, p) = lp_int(b, p)?;
    let (nfields, mut p) = lp_int(b, p)?;
    if live < 0 || deleted < 0 || nfields < 0 || nfields as usize > total {
        return Err(BlobError {
            pos,
            reason: format!("stream master entry has invalid counts (count {live}, deleted {deleted}, fields {nfields})"),
        });
    }
    let mut master_fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        master_fields.push(p);
        p = blob::lp_entry(b, p)?.1;
    }
    let (zero, p) = lp_int(b, p)?;
    if zero != 0 {
        return Err(BlobError {
            pos: p,
            reason: "stream master entry not terminated by 0".into(),
        });
    }
    let first_entry_pos = p;
    pos = p;
    let (mut seen_live, mut seen_deleted) = (0u64, 0u64);
    while pos < end {
        let entry_pos = pos;
        let (flags, p) = lp_int(b, pos)?;
        let (ms_delta, p) = lp_int(b, p)?;
        let (seq_delta, mut p) = lp_int(b, p)?;
        let same = flags & 2 != 0;
        let n = if same {
            nfields
        } else {
            let (n, q) = lp_int(b, p)?;
            p = q;
            if n < 0 || n as usize > total {
                return Err(BlobError {
                    pos: entry_pos,
                    reason: format!("stream entry with {n} fields"),
                });
            }
            n
        };
        let items = if same { n } else { 2 * n };
        for _ in 0..items {
            p = blob::lp_entry(b, p)?.1;
        }
        let (lp_count, p) = lp_int(b, p)?;
        let want = if same { n + 3 } else { 2 * n + 4 };
        if lp_count != want {
            return Err(BlobError {
                pos: entry_pos,
                reason: format!("stream entry back-count {lp_count}, expected {want}"),
            });
        }
        let id = StreamId {
            ms: master.ms.wrapping_add(ms_delta as u64),
            seq: master.seq.wrapping_add(seq_delta as u64),
        };
        if id < master {
            return Err(BlobError {
                pos: entry_pos,
                reason: format!("stream entry id {id} is before its node's master id {master}"),
            });
        }
        if let Some(prev) = *last_entry {
            if id <= prev {
                return Err(BlobError {
                    pos: entry_pos,
                    reason: format!("stream entry id {id} does not follow {prev}"),
                });
            }
        }
        *last_entry = Some(id);
        if flags & 1 != 0 {
            seen_deleted += 1;
        } else {
            seen_live += 1;
        }
        pos = p;
    }
    if seen_live != live as u64 || seen_deleted != deleted as u64 {
        return Err(BlobError {
            pos: blob::LP_HEADER,
            reason: format!(
                "stream node says {live} live and {deleted} deleted entries, found {seen_live} and {seen_deleted}"
            ),
        });
    }
    if seen_live == 0 {
        return Err(BlobError {
            pos: blob::LP_HEADER,
            reason: "stream node with no live entries".into(),
        });
    }
    Ok(StreamNode {
        master_fields,
        entries: seen_live + seen_deleted,
        live: seen_live,
        first_entry_pos,
    })
}

impl<R: Read> Parser<R> {
    /// Copies a key out of the input buffer so the buffer may slide.
    fn own_key(&mut self, key: SRef) -> SRef {
        match key {
            SRef::Buf(at, n) => {
                let bytes = self.input.slice(at, n).to_vec();
                self.scratch[0] = bytes;
                SRef::Scratch(0, n)
            }
            other => other,
        }
    }

    /// One element of a plain-encoded collection.
    fn item(&mut self, kind: ItemKind) -> Result<Option<Event<'_>>, Error> {
        let at = self.input.offset();
        match kind {
            ItemKind::ListElement => {
                let s = self.read_value("list element")?;
                Ok(Some(Event::Element(self.resolve(s))))
            }
            ItemKind::SetMember => {
                let s = self.read_string(0, "set member")?;
                self.dup_insert(s, at, "set member")?;
                Ok(Some(Event::Element(self.resolve(s))))
            }
            ItemKind::ZsetText | ItemKind::ZsetBinary => {
                let m = self.read_string(0, "sorted set member")?;
                self.dup_insert(m, at, "sorted set member")?;
                let score_at = self.input.offset();
                let score = if kind == ItemKind::ZsetBinary {
                    f64::from_le_bytes(self.input.array::<8>("score")?)
                } else {
                    let n = self.input.u8("score length")?;
                    match n {
                        253 => f64::NAN,
                        254 => f64::INFINITY,
                        255 => f64::NEG_INFINITY,
                        _ => {
                            let p = self.input.take(n as usize, "score", score_at)?;
                            parse_double_text(self.input.slice(p, n as usize)).ok_or_else(|| {
                                Error::corrupt(score_at, "sorted set score is not a number")
                            })?
                        }
                    }
                };
                if score.is_nan() {
                    return Err(Error::corrupt(score_at, "sorted set score is NaN"));
                }
                Ok(Some(Event::ZMember {
                    member: self.resolve(m),
                    score,
                }))
            }
            ItemKind::Hash
            | ItemKind::HashPreGa
            | ItemKind::HashMeta(_)
            | ItemKind::ValkeyHash2 => {
                let ttl = match kind {
                    ItemKind::HashPreGa => Some(self.len("field expire time")?),
                    ItemKind::HashMeta(_) => Some(self.len("field expire time")?),
                    _ => None,
                };
                let f = self.read_string(0, "hash field")?;
                self.dup_insert(f, at, "hash field")?;
                let v = self.read_value("hash value")?;
                let ttl_at = self.input.offset();
                let expire_ms = match kind {
                    ItemKind::HashPreGa => ttl.filter(|&t| t != 0).map(|t| t as i64),
                    ItemKind::HashMeta(min) => match ttl {
                        Some(0) | None => None,
                        Some(t) => Some((t as i64).wrapping_add(min).wrapping_sub(1)),
                    },
                    ItemKind::ValkeyHash2 => {
                        let e = self.i64_le("field expire time")?;
                        if e < -1 {
                            return Err(Error::corrupt(
                                ttl_at,
                                format!("hash field expire time {e} (must be -1 or positive)"),
                            ));
                        }
                        (e != -1).then_some(e)
                    }
                    _ => None,
                };
                if let Some(e) = expire_ms {
                    self.volatile_fields += 1;
                    if !(0..=(1i64 << 48) - 1).contains(&e) {
                        return Err(Error::corrupt(
                            at,
                            format!("hash field expire time {e} out of range"),
                        ));
                    }
                }
                Ok(Some(Event::HashField {
                    field: self.resolve(f),
                    value: self.resolve(v),
                    expire_ms,
                }))
            }
        }
    }

    /// Reads a quicklist node. A PLAIN node's location is returned for an `Element` event; a
    /// packed node switches to blob iteration; an empty one is skipped.
    fn quicklist_node(&mut self, nodes_left: u64, v2: bool) -> Result<Option<BlobLoc>, Error> {
        let at = self.input.offset();
        let container = if v2 {
            self.len("quicklist container")?
        } else {
            2
        };
        if v2 && container != 1 && container != 2 {
            return Err(Error::corrupt(
                at,
                format!("quicklist node container {container} (must be 1 or 2)"),
            ));
        }
        let raw = self.read_raw_blob("quicklist node")?;
        if container == 2 && self.skip_values && !self.report_nodes && raw.stored > 0 {
            if let Some(count) = self.put_aside(Blob::Node { v2 }, raw)? {
                self.state = State::Quicklist { nodes_left, v2 };
                self.elements += count as u64;
                return Ok(None);
            }
        }
        let (loc, blob_at) = self.load_blob(raw)?;
        let b = slice_of(&self.input.buf, self.input.base, &self.blob, loc);
        if b.is_empty() {
            return Err(Error::corrupt(at, "quicklist node of length 0"));
        }
        self.state = State::Quicklist { nodes_left, v2 };
        if container == 1 {
            return Ok(Some(loc));
        }
        self.max_element = None;
        let (count, kind, pos) = if v2 {
            let n = if self.report_nodes {
                let mut longest = 0u64;
                let n = blob::lp_walk(b, |_, _, v| {
                    longest = longest.max(v.len() as u64);
                    Ok(())
                })
                .map_err(|e| blob_err(blob_at, e))?;
                self.max_element = Some(longest);
                n
            } else {
                blob::lp_validate(b).map_err(|e| blob_err(blob_at, e))?
            };
            (n, BlobKind::LpElements, blob::LP_HEADER)
        } else {
            let n = blob::zl_validate(b).map_err(|e| blob_err(blob_at, e))?;
            (n, BlobKind::ZlElements, blob::ZL_HEADER)
        };
        if count > 0 {
            self.state = State::Blob {
                kind,
                loc,
                pos,
                left: count,
                after: After::Quicklist { nodes_left, v2 },
            };
        }
        Ok(None)
    }

    /// Validates a blob value deeply; returns how to iterate it and its number of events.
    fn validate_blob(
        &mut self,
        t: RdbType,
        loc: BlobLoc,
        at: u64,
    ) -> Result<(BlobKind, usize), Error> {
        let b = slice_of(&self.input.buf, self.input.base, &self.blob, loc);
        let v = check_blob_value(t, b, &mut self.dup, at)?;
        self.max_element = v.max_element;
        if let Some(n) = v.volatile {
            self.volatile_fields = n;
        }
        Ok((v.kind, v.count))
    }

    /// The next element of the blob being iterated (validated already).
    fn blob_next(&mut self) -> Result<Option<Event<'_>>, Error> {
        let State::Blob {
            kind,
            loc,
            pos,
            left,
            after,
        } = self.state
        else {
            unreachable!("blob_next outside a blob")
        };
        let b = slice_of(&self.input.buf, self.input.base, &self.blob, loc);
        let at = self.input.offset();
        let e = |e: BlobError| Error::corrupt(at, e.reason);
        let (ev, next) = match kind {
            BlobKind::LpElements => {
                let (v, p) = blob::lp_entry(b, pos).map_err(e)?;
                (Event::Element(v), p)
            }
            BlobKind::ZlElements => {
                let (v, p, _) = blob::zl_entry(b, pos).map_err(e)?;
                (Event::Element(v), p)
            }
            BlobKind::Intset(width) => (
                Event::Element(Str::Int(blob::intset_get(b, width, pos))),
                pos + 1,
            ),
            BlobKind::LpHash | BlobKind::LpHashEx | BlobKind::LpZset => {
                let (f, p) = blob::lp_entry(b, pos).map_err(e)?;
                let (v, mut p) = blob::lp_entry(b, p).map_err(e)?;
                if kind == BlobKind::LpZset {
                    let score = parse_score(v).unwrap_or(f64::NAN);
                    (Event::ZMember { member: f, score }, p)
                } else {
                    let mut expire_ms = None;
                    if kind == BlobKind::LpHashEx {
                        let (t, q) = blob::lp_entry(b, p).map_err(e)?;
                        if let Str::Int(t) = t {
                            expire_ms = (t != 0).then_some(t);
                        }
                        p = q;
                    }
                    (
                        Event::HashField {
                            field: f,
                            value: v,
                            expire_ms,
                        },
                        p,
                    )
                }
            }
            BlobKind::ZlHash | BlobKind::ZlZset => {
                let (f, p, _) = blob::zl_entry(b, pos).map_err(e)?;
                let (v, p, _) = blob::zl_entry(b, p).map_err(e)?;
                if kind == BlobKind::ZlZset {
                    (
                        Event::ZMember {
                            member: f,
                            score: parse_score(v).unwrap_or(f64::NAN),
                        },
                        p,
                    )
                } else {
                    (
                        Event::HashField {
                            field: f,
                            value: v,
                            expire_ms: None,
                        },
                        p,
                    )
                }
            }
            BlobKind::Zipmap => match blob::zm_pair(b, pos).map_err(e)? {
                Some((k, v, p)) => (
                    Event::HashField {
                        field: Str::Bytes(k),
                        value: Str::Bytes(v),
                        expire_ms: None,
                    },
                    p,
                ),
                None => return Err(Error::corrupt(at, "zipmap ended early")),
            },
        };
        self.state = State::Blob {
            kind,
            loc,
            pos: next,
            left: left - 1,
            after,
        };
        Ok(Some(ev))
    }

    fn array_element(&mut self) -> Result<Option<Event<'_>>, Error> {
        let at = self.input.offset();
        let index = self.len("array index")?;
        if index == u64::MAX {
            return Err(Error::corrupt(at, "array index out of range"));
        }
        let tag_at = self.input.offset();
        let value = match self.len("array element tag")? {
            0 => {
                let s = self.read_string(0, "array string")?;
                return Ok(Some(Event::ArrayElement {
                    index,
                    value: ArrayValue::Str(self.resolve(s)),
                }));
            }
            1 => ArrayValue::Int(self.i64_le("array integer")?),
            2 => ArrayValue::Float(f64::from_le_bytes(self.input.array::<8>("array float")?)),
            3 => {
                let s = self.read_string(0, "array small string")?;
                let v = self.resolve(s);
                if v.len() > 7 {
                    return Err(Error::corrupt(
                        tag_at,
                        "array small string longer than 7 bytes",
                    ));
                }
                return Ok(Some(Event::ArrayElement {
                    index,
                    value: ArrayValue::Str(self.resolve(s)),
                }));
            }
            t => {
                return Err(Error::corrupt(
                    tag_at,
                    format!("array element tag {t} (must be 0..3)"),
                ))
            }
        };
        Ok(Some(Event::ArrayElement { index, value }))
    }

    fn stream(&mut self) -> &mut StreamState {
        match &mut self.state {
            State::Stream(s) => s,
            _ => unreachable!("stream state expected"),
        }
    }

    /// The next stream event.
    fn stream_next(&mut self) -> Result<Event<'_>, Error> {
        loop {
            let at = self.input.offset();
            let (phase, version) = {
                let st = self.stream();
                (
                    std::mem::replace(&mut st.phase, StreamPhase::Meta),
                    st.version,
                )
            };
            match phase {
                StreamPhase::Nodes { left } => {
                    if left == 0 {
                        self.stream().phase = StreamPhase::Meta;
                        continue;
                    }
                    // Nothing read before this node is returned from here on.
                    self.input.mark = self.input.pos;
                    let k = self.read_string(0, "stream node key")?;
                    let master = match self.resolve(k) {
                        Str::Bytes(b) if b.len() == 16 => {
                            StreamId::from_be_bytes(b.try_into().expect("16 bytes"))
                        }
                        _ => return Err(Error::corrupt(at, "stream node key is not 16 bytes")),
                    };
                    let (loc, blob_at) = self.read_blob("stream node listpack")?;
                    let b = slice_of(&self.input.buf, self.input.base, &self.blob, loc);
                    let State::Stream(st) = &mut self.state else {
                        unreachable!()
                    };
                    let info = validate_stream_node(b, master, &mut st.last_entry)
                        .map_err(|e| blob_err(blob_at, e))?;
                    st.loc = loc;
                    st.pos = info.first_entry_pos;
                    st.master = master;
                    st.master_fields = info.master_fields;
                    st.live_seen += info.live;
                    st.nodes_left = left - 1;
                    st.phase = if self.skip_values || st.stored_at.is_some() {
                        self.elements += info.live;
                        StreamPhase::Nodes { left: left - 1 }
                    } else {
                        StreamPhase::Entries {
                            node_entries_left: info.entries,
                        }
                    };
                    if self.report_nodes && !self.skip_values && st.stored_at.is_none() {
                        return Ok(Event::Node(NodeInfo {
                            bytes: b.len() as u64,
                            entries: info.entries,
                            master: Some(master),
                            max_element: None,
                            plain: false,
                        }));
                    }
                }
                StreamPhase::Entries { node_entries_left } => {
                    let State::Stream(st) = &mut self.state else {
                        unreachable!()
                    };
                    if node_entries_left == 0 {
                        st.phase = StreamPhase::Nodes {
                            left: st.nodes_left,
                        };
                        continue;
                    }
                    let b = slice_of(&self.input.buf, self.input.base, &self.blob, st.loc);
                    let e = |e: BlobError| Error::corrupt(at, e.reason);
                    let (flags, p) = lp_int(b, st.pos).map_err(e)?;
                    let (ms_delta, p) = lp_int(b, p).map_err(e)?;
                    let (seq_delta, mut p) = lp_int(b, p).map_err(e)?;
                    let same = flags & 2 != 0;
                    let n = if same {
                        st.master_fields.len() as u64
                    } else {
                        let (n, q) = lp_int(b, p).map_err(e)?;
                        p = q;
                        n as u64
                    };
                    let id = StreamId {
                        ms: st.master.ms.wrapping_add(ms_delta as u64),
                        seq: st.master.seq.wrapping_add(seq_delta as u64),
                    };
                    if flags & 1 != 0 {
                        // Deleted: skip its values and back-count.
                        let items = if same { n } else { 2 * n };
                        for _ in 0..=items {
                            p = blob::lp_entry(b, p).map_err(e)?.1;
                        }
                        st.pos = p;
                        st.phase = StreamPhase::Entries {
                            node_entries_left: node_entries_left - 1,
                        };
                        continue;
                    }
                    st.pos = p;
                    st.phase = StreamPhase::Fields {
                        node_entries_left: node_entries_left - 1,
                        fields_left: n,
                        same,
                        master_idx: 0,
                    };
                    self.elements += 1;
                    return Ok(Event::StreamEntry { id, fields: n });
                }
                StreamPhase::Fields {
                    node_entries_left,
                    fields_left,
                    same,
                    master_idx,
                } => {
                    let State::Stream(st) = &mut self.state else {
                        unreachable!()
                    };
                    let e = |e: BlobError| Error::corrupt(at, e.reason);
                    let (name_pos, value_pos, next) = {
                        let b = slice_of(&self.input.buf, self.input.base, &self.blob, st.loc);
                        if fields_left == 0 {
                            st.pos = blob::lp_entry(b, st.pos).map_err(e)?.1; // back-count
                            st.phase = StreamPhase::Entries { node_entries_left };
                            continue;
                        }
                        if same {
                            let next = blob::lp_entry(b, st.pos).map_err(e)?.1;
                            (st.master_fields[master_idx], st.pos, next)
                        } else {
                            let p = blob::lp_entry(b, st.pos).map_err(e)?.1;
                            let next = blob::lp_entry(b, p).map_err(e)?.1;
                            (st.pos, p, next)
                        }
                    };
                    st.pos = next;
                    st.phase = StreamPhase::Fields {
                        node_entries_left,
                        fields_left: fields_left - 1,
                        same,
                        master_idx: master_idx + 1,
                    };
                    let b = slice_of(&self.input.buf, self.input.base, &self.blob, st.loc);
                    let name = blob::lp_entry(b, name_pos).map_err(e)?.0;
                    let value = blob::lp_entry(b, value_pos).map_err(e)?.0;
                    return Ok(Event::StreamField { name, value });
                }
                StreamPhase::Meta => {
                    let length = self.len("stream length")?;
                    let last_id = self.stream_id_lens("stream last id")?;
                    let (first_id, max_deleted_id, entries_added) = if version >= 2 {
                        (
                            Some(self.stream_id_lens("stream first id")?),
                            Some(self.stream_id_lens("stream max deleted id")?),
                            Some(self.len("stream entries added")?),
                        )
                    } else {
                        (None, None, None)
                    };
                    let groups = self.len("stream group count")?;
                    let st = self.stream();
                    // As the servers' loader: a length with no entry at all is refused; a length
                    // larger (or smaller) than the live entries is kept (Redis 5.0 pre-releases
                    // wrote such files, and every server since loads them: XLEN is the length).
                    if length > 0 && st.live_seen == 0 {
                        return Err(Error::corrupt(
                            at,
                            format!("stream length {length} but no entries"),
                        ));
                    }
                    let live_entries = st.live_seen;
                    if let Some(last) = st.last_entry {
                        if last_id < last {
                            return Err(Error::corrupt(
                                at,
                                format!("stream last id {last_id} is before its last entry {last}"),
                            ));
                        }
                    }
                    st.phase = StreamPhase::Groups { left: groups };
                    // The metadata starts where the last node ends.
                    let stored_nodes = st.stored_at.map(|offset| StoredNodes {
                        offset,
                        len: at - offset,
                    });
                    return Ok(Event::StreamMeta(StreamMeta {
                        length,
                        live_entries,
                        last_id,
                        first_id,
                        max_deleted_id,
                        entries_added,
                        groups,
                        stored_nodes,
                    }));
                }
                StreamPhase::Groups { left } => {
                    if left == 0 {
                        if version >= 4 {
                            self.stream().phase = StreamPhase::Idmp;
                            continue;
                        }
                        self.state = State::KeyEnd;
                        return self.next_after_value();
                    }
                    let name = self.read_string(0, "consumer group name")?;
                    let fresh = {
                        let bytes = self.resolve(name).to_vec();
                        self.stream().group_names.insert(&bytes)
                    };
                    if !fresh {
                        return Err(Error::corrupt(at, "duplicate consumer group name"));
                    }
                    let last_id = self.stream_id_lens("group last id")?;
                    let entries_read = if version >= 2 {
                        let v = self.len("group entries read")?;
                        (v != u64::MAX).then_some(v)
                    } else {
                        None
                    };
                    let pending = self.len("group pending count")?;
                    let st = self.stream();
                    st.group_pel.clear();
                    st.owned.clear();
                    st.consumer_names.clear();
                    st.phase = StreamPhase::GroupPel {
                        groups_left: left - 1,
                        left: pending,
                    };
                    return Ok(Event::StreamGroup {
                        name: self.resolve(name),
                        last_id,
                        entries_read,
                        pending,
                    });
                }
                StreamPhase::GroupPel { groups_left, left } => {
                    if left == 0 {
                        let n = self.len("consumer count")?;
                        self.stream().phase = StreamPhase::Consumers {
                            groups_left,
                            left: n,
                        };
                        return Ok(Event::StreamConsumers { count: n });
                    }
                    let id = self.stream_id_raw("pending entry id")?;
                    let delivery_time_ms = self.i64_le("pending delivery time")?;
                    let delivery_count = self.len("pending delivery count")?;
                    let st = self.stream();
                    if !st.group_pel.insert(id) {
                        return Err(Error::corrupt(
                            at,
                            format!("duplicate pending entry {id} in group"),
                        ));
                    }
                    st.phase = StreamPhase::GroupPel {
                        groups_left,
                        left: left - 1,
                    };
                    return Ok(Event::StreamPending {
                        id,
                        delivery_time_ms,
                        delivery_count,
                    });
                }
                StreamPhase::Consumers { groups_left, left } => {
                    if left == 0 {
                        if version >= 5 {
                            let n = self.len("nacked count")?;
                            self.stream().phase = StreamPhase::Nack {
                                groups_left,
                                left: n,
                            };
                        } else {
                            self.end_group(at, version)?;
                            self.stream().phase = StreamPhase::Groups { left: groups_left };
                        }
                        continue;
                    }
                    let name = self.read_string(0, "consumer name")?;
                    let fresh = {
                        let bytes = self.resolve(name).to_vec();
                        self.stream().consumer_names.insert(&bytes)
                    };
                    if !fresh {
                        return Err(Error::corrupt(at, "duplicate consumer name in group"));
                    }
                    let seen_time_ms = self.i64_le("consumer seen time")?;
                    let active_time_ms = if version >= 3 {
                        Some(self.i64_le("consumer active time")?)
                    } else {
                        None
                    };
                    let pending = self.len("consumer pending count")?;
                    self.stream().phase = StreamPhase::ConsumerPel {
                        groups_left,
                        consumers_left: left - 1,
                        left: pending,
                    };
                    return Ok(Event::StreamConsumer {
                        name: self.resolve(name),
                        seen_time_ms,
                        active_time_ms,
                        pending,
                    });
                }
                StreamPhase::ConsumerPel {
                    groups_left,
                    consumers_left,
                    left,
                } => {
                    if left == 0 {
                        self.stream().phase = StreamPhase::Consumers {
                            groups_left,
                            left: consumers_left,
                        };
                        continue;
                    }
                    let id = self.stream_id_raw("consumer pending id")?;
                    let st = self.stream();
                    if !st.group_pel.contains(&id) {
                        return Err(Error::corrupt(
                            at,
                            format!("consumer pending id {id} is not in the group's pending list"),
                        ));
                    }
                    if !st.owned.insert(id) {
                        return Err(Error::corrupt(
                            at,
                            format!("pending id {id} owned by more than one consumer"),
                        ));
                    }
                    st.phase = StreamPhase::ConsumerPel {
                        groups_left,
                        consumers_left,
                        left: left - 1,
                    };
                    return Ok(Event::StreamConsumerPending { id });
                }
                StreamPhase::Nack { groups_left, left } => {
                    if left == 0 {
                        self.end_group(at, version)?;
                        self.stream().phase = StreamPhase::Groups { left: groups_left };
                        continue;
                    }
                    let id = self.stream_id_raw("nacked id")?;
                    let st = self.stream();
                    if !st.group_pel.contains(&id) || !st.owned.insert(id) {
                        return Err(Error::corrupt(
                            at,
                            format!("nacked id {id} is not an unowned pending entry"),
                        ));
                    }
                    st.phase = StreamPhase::Nack {
                        groups_left,
                        left: left - 1,
                    };
                    return Ok(Event::StreamNacked { id });
                }
                StreamPhase::Idmp => {
                    self.skip_idmp(at)?;
                    self.state = State::KeyEnd;
                    return self.next_after_value();
                }
            }
        }
    }

    /// Every pending entry of a group must be owned by a consumer (or, v5, be nacked).
    fn end_group(&mut self, at: u64, _version: u8) -> Result<(), Error> {
        let st = self.stream();
        if st.owned.len() != st.group_pel.len() {
            return Err(Error::corrupt(
                at,
                format!(
                    "group has {} pending entries but consumers own {}",
                    st.group_pel.len(),
                    st.owned.len()
                ),
            ));
        }
        Ok(())
    }

    /// Stream v4+ idempotency records: validated and skipped.
    fn skip_idmp(&mut self, at: u64) -> Result<(), Error> {
        let duration = self.len("IDMP duration")?;
        let max = self.len("IDMP max entries")?;
        if !(1..=86400).contains(&duration) || !(1..=10000).contains(&max) {
            return Err(Error::corrupt(
                at,
                format!("IDMP settings out of range (duration {duration}, max entries {max})"),
            ));
        }
        let producers = self.len("IDMP producer count")?;
        for _ in 0..producers {
            self.input.mark = self.input.pos;
            self.skip_string("IDMP producer id")?;
            let n = self.len("IDMP entry count")?;
            for _ in 0..n {
                self.input.mark = self.input.pos;
                self.skip_string("IDMP entry id")?;
                self.len("IDMP id ms")?;
                self.len("IDMP id seq")?;
            }
        }
        self.len("IDMP ids added")?;
        self.len("IDMP duplicates")?;
        Ok(())
    }

    /// Emits the `KeyEnd` of a value whose last part was just read.
    fn next_after_value(&mut self) -> Result<Event<'_>, Error> {
        self.state = State::Top;
        self.last_good = self.input.offset();
        Ok(Event::KeyEnd)
    }
}

/// What validating a blob value found.
pub(crate) struct BlobValue {
    /// How to iterate it.
    pub(crate) kind: BlobKind,
    /// Its number of events (elements, pairs or triples).
    pub(crate) count: usize,
    /// Its longest entry, when it was walked.
    pub(crate) max_element: Option<u64>,
    /// Its fields with a TTL, for a hash listpack with TTLs.
    pub(crate) volatile: Option<u64>,
}

/// Validates blob value `b` of type `t`, stored at offset `at`, deeply: its structure, its
/// members' repeats (through `dup`, cleared by the caller) and its scores and TTLs.
pub(crate) fn check_blob_value(
    t: RdbType,
    b: &[u8],
    dup: &mut DupCheck,
    at: u64,
) -> Result<BlobValue, Error> {
    let e = |e: BlobError| blob_err(at, e);
    let done = |kind, count, max_element| BlobValue {
        kind,
        count,
        max_element,
        volatile: None,
    };
    let pairs = |n: usize, per: usize, what: &str| -> Result<usize, Error> {
        if !n.is_multiple_of(per) {
            return Err(Error::corrupt(
                at,
                format!("{what} with {n} entries, not a multiple of {per}"),
            ));
        }
        Ok(n / per)
    };
    match t.0 {
        9 => Ok(done(
            BlobKind::Zipmap,
            blob::zm_validate(b, dup).map_err(e)?,
            None,
        )),
        10 => Ok(done(
            BlobKind::ZlElements,
            blob::zl_validate(b).map_err(e)?,
            None,
        )),
        11 => {
            let (width, count) = blob::intset_validate(b).map_err(e)?;
            // Sorted: the longest decimal text is the first or the last member's.
            let member = |i: usize| {
                let at = 8 + i * width;
                let mut v = [0u8; 8];
                v[..width].copy_from_slice(&b[at..at + width]);
                let raw = i64::from_le_bytes(v);
                let shift = 64 - 8 * width as u32;
                crate::event::int_len((raw << shift) >> shift) as u64
            };
            let longest = member(0).max(member(count - 1));
            Ok(done(BlobKind::Intset(width), count, Some(longest)))
        }
        12 | 13 => {
            let n = pairs(blob::zl_validate(b).map_err(e)?, 2, "ziplist")?;
            let mut pos = blob::ZL_HEADER;
            let mut longest = 0u64;
            for _ in 0..n {
                let (first, p, _) = blob::zl_entry(b, pos).map_err(e)?;
                let (second, p, _) = blob::zl_entry(b, p).map_err(e)?;
                longest = longest.max(first.len() as u64);
                if t.0 == 13 {
                    longest = longest.max(second.len() as u64);
                }
                if !dup.insert_str(first) {
                    return Err(Error::corrupt(
                        at + pos as u64,
                        "duplicate entry in ziplist",
                    ));
                }
                if t.0 == 12 && parse_score(second).is_none_or(f64::is_nan) {
                    return Err(Error::corrupt(
                        at + pos as u64,
                        "sorted set score is not a number",
                    ));
                }
                pos = p;
            }
            let kind = if t.0 == 12 {
                BlobKind::ZlZset
            } else {
                BlobKind::ZlHash
            };
            Ok(done(kind, n, Some(longest)))
        }
        16 | 17 | 20 | 23 | 25 => {
            let per = match t.0 {
                20 => 1,
                23 | 25 => 3,
                _ => 2,
            };
            let mut prev_ttl: i64 = 1;
            let mut volatile = 0u64;
            let mut longest = 0u64;
            let zset = t.0 == 17;
            let berr = |pos: usize, reason: String| BlobError { pos, reason };
            let total = blob::lp_walk(b, |i, pos, v| {
                let slot = i % per;
                if slot == 0 || (slot == 1 && !zset) {
                    longest = longest.max(v.len() as u64);
                }
                match slot {
                    0 => {
                        if !dup.insert_str(v) {
                            return Err(berr(pos, "duplicate entry in listpack".into()));
                        }
                    }
                    1 => {
                        if zset && parse_score(v).is_none_or(f64::is_nan) {
                            return Err(berr(pos, "sorted set score is not a number".into()));
                        }
                    }
                    _ => {
                        let Str::Int(ttl) = v else {
                            return Err(berr(
                                pos,
                                "hash field expire time is not an integer".into(),
                            ));
                        };
                        if !(0..=(1i64 << 48) - 1).contains(&ttl) {
                            return Err(berr(
                                pos,
                                format!("hash field expire time {ttl} out of range"),
                            ));
                        }
                        // Ordered by expiry, fields without one (0) last.
                        if ttl != 0 && (prev_ttl == 0 || ttl < prev_ttl) {
                            return Err(berr(
                                pos,
                                "hash listpack fields not ordered by expire time".into(),
                            ));
                        }
                        prev_ttl = ttl;
                        volatile += (ttl != 0) as u64;
                    }
                }
                Ok(())
            })
            .map_err(e)?;
            let n = pairs(total, per, "listpack")?;

            let kind = match t.0 {
                16 => BlobKind::LpHash,
                17 => BlobKind::LpZset,
                20 => BlobKind::LpElements,
                _ => BlobKind::LpHashEx,
            };
            Ok(BlobValue {
                kind,
                count: n,
                max_element: Some(longest),
                volatile: Some(volatile),
            })
        }
        _ => Err(Error::new(at, ErrorKind::UnknownType { byte: t.0 })),
    }
}
