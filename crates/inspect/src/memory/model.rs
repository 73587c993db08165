//! The per-key estimator: fed a key's events, it keeps a few sums (never the elements) and
//! gives the key's estimated memory at its end.

use super::sizes::{self, Allocator, RaxCount};
use rdb_parse::{Encoding, KeyInfo, NodeInfo, Str, StreamId, ValueType};

/// A server whose memory accounting is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    /// Redis 6.0.
    Redis60,
    /// Redis 6.2.
    Redis62,
    /// Redis 7.0.
    Redis70,
    /// Redis 7.2.
    Redis72,
    /// Redis 7.4.
    Redis74,
    /// Valkey 8.0 (and 7.2, which counts as Redis 7.2 does).
    Valkey80,
    /// Valkey 8.1.
    Valkey81,
    /// Valkey 9.0 (from its sources: Valkey 8.1 with the embedded-string rule counting the
    /// key's real header, and 8 bytes more for a hash field with a TTL).
    Valkey90,
}

/// The servers by name, as `--server` takes them.
pub const SERVERS: [(&str, Server); 10] = [
    ("redis-6.0", Server::Redis60),
    ("redis-6.2", Server::Redis62),
    ("redis-7.0", Server::Redis70),
    ("redis-7.2", Server::Redis72),
    ("redis-7.4", Server::Redis74),
    // Redis 8.0 counts as 7.4 does (its sources do not differ in what MEMORY USAGE counts).
    ("redis-8.0", Server::Redis74),
    ("valkey-7.2", Server::Redis72),
    ("valkey-8.0", Server::Valkey80),
    ("valkey-8.1", Server::Valkey81),
    ("valkey-9.0", Server::Valkey90),
];

impl Server {
    /// The server a name (`redis-7.0`, `valkey-8.1`) stands for.
    pub fn by_name(name: &str) -> Option<Server> {
        SERVERS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Server::Redis60 => "redis-6.0",
            Server::Redis62 => "redis-6.2",
            Server::Redis70 => "redis-7.0",
            Server::Redis72 => "redis-7.2",
            Server::Redis74 => "redis-7.4",
            Server::Valkey80 => "valkey-8.0",
            Server::Valkey81 => "valkey-8.1",
            Server::Valkey90 => "valkey-9.0",
        }
    }

    /// The server a file's `redis-ver` / `valkey-ver` AUX field names (`family` is `redis` or
    /// `valkey`), and whether it is only the nearest one modelled (Redis 8 and later are
    /// counted as 7.4, Valkey 9 and later as 8.1).
    pub fn nearest(family: &str, version: &str) -> (Server, bool) {
        let mut parts = version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        match (family, major, minor) {
            ("redis", 8, 0) => (Server::Redis74, false),
            ("redis", 8.., _) => (Server::Redis74, true),
            ("valkey", 9, 0) => (Server::Valkey90, false),
            ("valkey", 9.., _) => (Server::Valkey90, true),
            _ => match Server::from_version(family, version) {
                Ok(s) => (s, false),
                Err(_) => (Server::Redis70, true),
            },
        }
    }

    /// The server a file's `redis-ver` / `valkey-ver` AUX field names (`family` is `redis` or
    /// `valkey`), or why none is modelled.
    pub fn from_version(family: &str, version: &str) -> Result<Server, String> {
        let mut parts = version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        Ok(match (family, major, minor) {
            ("redis", ..=5, _) | ("redis", 6, 0 | 1) => Server::Redis60,
            ("redis", 6, _) => Server::Redis62,
            ("redis", 7, 0 | 1) => Server::Redis70,
            ("redis", 7, 2 | 3) => Server::Redis72,
            ("redis", 7, 4..=99) => Server::Redis74,
            ("valkey", 7, _) => Server::Redis72,
            ("valkey", 8, 0) => Server::Valkey80,
            ("valkey", 8, _) => Server::Valkey81,
            _ => {
                return Err(format!(
                    "the file was written by {family} {version}, whose memory layout is not \
                     modelled: --server names one that is ({})",
                    SERVERS.map(|(n, _)| n).join(", ")
                ))
            }
        })
    }

    fn at_least(self, other: Server) -> bool {
        self >= other
    }

    fn is_valkey8(self) -> bool {
        self.at_least(Server::Valkey80)
    }
}

/// The default thresholds of a server's encodings (the same in every version modelled).
const HASH_ENTRIES: u64 = 512;
const HASH_VALUE: u64 = 64;
const ZSET_ENTRIES: u64 = 128;
const ZSET_VALUE: u64 = 64;
const SET_INTSET: u64 = 512;
const SET_LP_ENTRIES: u64 = 128;
const SET_LP_VALUE: u64 = 64;
/// A quicklist node's byte limit (`list-max-listpack-size -2`).
const LIST_NODE: u64 = 8192;

/// The most entries a collection stored plain can have and still be packed at load.
fn limit_plain(t: ValueType) -> u64 {
    match t {
        ValueType::Hash => HASH_ENTRIES,
        ValueType::Zset => ZSET_ENTRIES,
        _ => SET_INTSET,
    }
}

/// What a key costs, once its events are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Bytes, as `MEMORY USAGE key SAMPLES 0` counts them.
    pub memory: u64,
    /// The encoding the server gives the value at load (`OBJECT ENCODING`).
    pub encoding: &'static str,
}

/// Where a set stored plain (RDB type 2) stands while the server loads it: an intset while
/// every member is an integer, then (7.2 on) a listpack while it stays small, else a
/// hashtable.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SetPath {
    #[default]
    Intset,
    Listpack,
    Hashtable,
}

/// The element sums of the key being read.
#[derive(Debug, Default)]
struct Acc {
    value_type: Option<ValueType>,
    rdb_encoding: Option<Encoding>,
    key_len: u64,
    has_expire: bool,
    /// Elements (members, fields, entries, list elements).
    n: u64,
    /// The longest member, field or value, in bytes.
    max_len: u64,
    /// For a string: its length, and whether it is an integer the server keeps as one.
    str_len: u64,
    str_int: bool,
    /// Sets: every member an integer so far, and the intset width they need.
    all_int: bool,
    int_width: u64,
    /// Sets stored plain: the load path, and the listpack members and bytes on it.
    set_path: SetPath,
    set_lp_n: u64,
    set_lp_bytes: u64,
    /// The listpack bytes of every entry (a zset's scores, a 7.4 hash's TTLs included).
    lp: u64,
    /// Sorted sets: the listpack bytes of the entries with scores as `%.17g` writes them (a
    /// ziplist's text, copied as it is when the ziplist becomes a listpack).
    zl_as_lp: u64,
    /// The ziplist bytes of every entry, and the last entry's (its successor's prevlen).
    zl: u64,
    zl_last: u64,
    /// The allocated bytes of members (sets, sorted sets) or of fields and values.
    sds: u64,
    /// Valkey 8.1: a hash's entries (field and value, one block or two).
    entries: u64,
    /// The blob length as stored, for blob encodings.
    blob: Option<u64>,
    /// Sorted sets: the expected skiplist node bytes.
    zsl: f64,
    /// Lists: the quicklist nodes so far, their allocated bytes, and the node being read.
    ql_nodes: u64,
    ql_bytes: u64,
    node_left: u64,
    node_lp: u64,
    /// Whether a list has a plain node (one large element), and its last node's bytes; and
    /// whether the element of an announced plain node is still to come.
    ql_plain: bool,
    plain_pending: bool,
    ql_last: u64,
    /// Lists pushed element by element (plain lists): the open node's listpack and ziplist
    /// bytes, and its count.
    push_lp: u64,
    push_zl: u64,
    push_count: u64,
    /// Streams (apart: most keys are not).
    stream: Option<Box<StreamAcc>>,
    /// Hash fields with a TTL.
    volatile: u64,
    /// For a hash stored plain: the pairs read before the first one too long for a listpack.
    convert_at: Option<u64>,
    /// What the key's encoding needs summed: listpack bytes (the server builds a listpack),
    /// ziplist bytes (a server up to 6.2 builds a ziplist), allocated members (the value may
    /// be a hashtable).
    need_lp: bool,
    need_zl: bool,
    need_sds: bool,
    /// The element count the record states before its elements (they may be skipped).
    len_hint: Option<u64>,
}

#[derive(Debug, Default)]
struct StreamAcc {
    rax: Option<RaxCount>,
    lp_bytes: u64,
    /// Group PEL and consumer PEL costs so far.
    group_cost: u64,
    pel: Option<RaxCount>,
    consumer_pel: Option<RaxCount>,
    consumer_name_len: u64,
}

/// The estimator: the server, its allocator, and the key being read.
#[derive(Debug)]
pub struct Estimator {
    server: Server,
    alloc: Allocator,
    acc: Acc,
    /// `E[usable(24 + 16 * level)]` of a skiplist node, computed once.
    zsl_node: f64,
}

/// `sizeof(robj)`.
const ROBJ: u64 = 16;
/// `sizeof(dictEntry)`.
const DICT_ENTRY: u64 = 24;

impl Estimator {
    /// An estimator for `server` built with `alloc`.
    pub fn new(server: Server, alloc: Allocator) -> Estimator {
        let mut e = Estimator {
            server,
            alloc,
            acc: Acc::default(),
            zsl_node: 0.0,
        };
        e.zsl_node = e.zsl_node_expected();
        e
    }

    /// The server modelled.
    pub fn server(&self) -> Server {
        self.server
    }

    /// The allocator modelled.
    pub fn allocator(&self) -> Allocator {
        self.alloc
    }

    fn v72(&self) -> bool {
        self.server.at_least(Server::Redis72)
    }

    fn v70(&self) -> bool {
        self.server.at_least(Server::Redis70)
    }

    /// Whether the server has Valkey 8.1's layout (keys in objects, bucketed hashtables):
    /// 8.1 and 9.0.
    fn valkey81(&self) -> bool {
        self.server >= Server::Valkey81
    }

    /// The stream sums of the key being read.
    fn st(&mut self) -> &mut StreamAcc {
        self.acc.stream.get_or_insert_with(Box::default)
    }

    fn usable(&self, n: u64) -> u64 {
        self.alloc.usable(n)
    }

    /// The usable size of a block allocated for `old` bytes and shrunk to `new` by `realloc`
    /// (`lpShrinkToFit` after a ziplist became a listpack): jemalloc moves it to the smaller
    /// class; glibc keeps the chunk when less than 32 bytes would be freed.
    fn shrunk(&self, old: u64, new: u64) -> u64 {
        if self.alloc == Allocator::Libc && new < old {
            let chunk = |n: u64| ((n + 8 + 15) & !15).max(32);
            if chunk(old) - chunk(new) < 32 {
                return self.usable(old);
            }
        }
        self.usable(new)
    }

    /// What `MEMORY USAGE` counts for a ziplist, listpack or intset of `n` bytes: up to 6.2 its
    /// length (`ziplistBlobLen`, `intsetBlobLen`), from 7.0 on its allocation.
    fn blob(&self, n: u64) -> u64 {
        if self.v70() {
            self.usable(n)
        } else {
            n
        }
    }

    /// An sds header for `len` bytes, as `sdsReqType` picks it (Valkey's type limits leave
    /// room for the header), type 8 at least for an empty string.
    fn sds_header(&self, len: u64) -> u64 {
        if len == 0 {
            return 3;
        }
        if self.valkey81() {
            match len {
                0..=31 => 1,
                32..=252 => 3,
                253..=65530 => 5,
                _ if len < (1 << 32) - 9 => 9,
                _ => 17,
            }
        } else {
            sizes::sds_header(len)
        }
    }

    /// The allocated bytes of an sds string of `len` bytes made by `sdsnewlen`.
    fn sds(&self, len: u64) -> u64 {
        self.usable(self.sds_header(len) + len + 1)
    }

    /// The bytes a hash field of `len` bytes takes in Redis 7.4's hashtable (an `mstr`, with
    /// 18 bytes of metadata when it has a TTL); an sds before.
    fn hash_field_alloc(&self, len: u64, ttl: bool) -> u64 {
        if !self.server.at_least(Server::Redis74) || self.server.is_valkey8() {
            return self.sds(len);
        }
        let hdr = match len {
            0..=31 => 1,
            32..=65535 => 3,
            _ => 9,
        };
        self.usable(hdr + len + 1 + if ttl { 18 } else { 0 })
    }

    /// A key starts.
    pub fn key_start(&mut self, info: &KeyInfo<'_>) {
        use Encoding as E;
        // A blob the server keeps as it is needs no sums of its entries, unless it is long
        // enough to become a hashtable.
        let kept = matches!(info.encoding, E::Listpack | E::Intset | E::ListpackEx)
            || (matches!(info.encoding, E::Ziplist) && !self.v70());
        let limit = match info.value_type {
            ValueType::Hash => HASH_ENTRIES,
            ValueType::Zset => ZSET_ENTRIES,
            ValueType::Set if info.encoding == E::Intset => SET_INTSET,
            _ => SET_LP_ENTRIES,
        };
        let stays_packed = kept && info.len.is_some_and(|n| n <= limit);
        let plain = matches!(
            info.encoding,
            E::Hashtable | E::Skiplist | E::Skiplist1 | E::LinkedList | E::Zipmap | E::HashtableEx
        );
        self.acc = Acc {
            value_type: Some(info.value_type),
            rdb_encoding: Some(info.encoding),
            key_len: info.key.len() as u64,
            has_expire: info.expire_ms.is_some(),
            all_int: true,
            blob: info.blob_bytes,
            // A collection stored plain with more entries than a packed encoding takes is a
            // hashtable: its listpack would never be built.
            need_lp: !kept
                && info.encoding != E::Quicklist2
                && !(plain
                    && info.value_type != ValueType::List
                    && info.len.is_some_and(|n| n > limit_plain(info.value_type))),
            need_zl: plain && !self.v70(),
            need_sds: !stays_packed,
            len_hint: info.len,
            ..Acc::default()
        };
    }

    /// A string value, list element or set member.
    pub fn element(&mut self, v: Str<'_>) {
        let len = v.len() as u64;
        let a = &mut self.acc;
        a.n += 1;
        a.max_len = a.max_len.max(len);
        if a.value_type == Some(ValueType::List) {
            if a.plain_pending {
                a.plain_pending = false;
                return;
            }
            if !a.need_lp && a.node_left > 0 {
                // An element of a node counted when it was announced.
                a.node_left -= 1;
                return;
            }
        }
        let int = match v {
            Str::Int(i) => Some(i),
            Str::Bytes(b) => sizes::as_int(b),
        };
        match a.value_type {
            Some(ValueType::String) => {
                a.str_len = len;
                a.str_int = int.is_some();
            }
            Some(ValueType::List) => {
                let lp = match int {
                    Some(i) => sizes::lp_entry_int(i),
                    None => sizes::lp_entry_str(len),
                };
                if a.node_left > 0 {
                    a.node_left -= 1;
                    a.node_lp += lp;
                    if a.node_left == 0 {
                        self.close_node();
                    }
                } else if matches!(a.rdb_encoding, Some(Encoding::Quicklist2)) {
                    // A plain node: one element in its own allocation.
                    a.ql_nodes += 1;
                    a.ql_plain = true;
                    let u = self.usable(len);
                    self.acc.ql_bytes += u;
                } else {
                    let mut scratch = [0u8; 20];
                    self.push_list(v.as_bytes(&mut scratch), lp);
                }
            }
            Some(ValueType::Set) => self.set_member(len, int),
            _ => {}
        }
    }

    /// A set member: the intset width, the listpack and hashtable costs, and where a set
    /// stored plain stands on its load path.
    fn set_member(&mut self, len: u64, int: Option<i64>) {
        let sds = if self.acc.need_sds { self.sds(len) } else { 0 };
        let listpacks = self.v72();
        let a = &mut self.acc;
        let lp = match int {
            Some(i) => sizes::lp_entry_int(i),
            None => sizes::lp_entry_str(len),
        };
        a.lp += lp;
        a.sds += sds;
        match int {
            Some(i) => {
                let w = if i16::try_from(i).is_ok() {
                    2
                } else if i32::try_from(i).is_ok() {
                    4
                } else {
                    8
                };
                a.int_width = a.int_width.max(w);
            }
            None => a.all_int = false,
        }
        // The path of a plain set that may stay small (more than 512 members: a hashtable
        // from the start).
        match a.set_path {
            SetPath::Intset if int.is_some() => {}
            SetPath::Intset => {
                let before = a.n - 1;
                a.set_path = if listpacks && before < SET_LP_ENTRIES && a.max_len <= SET_LP_VALUE {
                    a.set_lp_n = before;
                    a.set_lp_bytes = a.lp - lp;
                    SetPath::Listpack
                } else {
                    SetPath::Hashtable
                };
                if a.set_path == SetPath::Listpack {
                    if a.set_lp_n < SET_LP_ENTRIES && len <= SET_LP_VALUE {
                        a.set_lp_n += 1;
                        a.set_lp_bytes += lp;
                    } else {
                        a.set_path = SetPath::Hashtable;
                    }
                }
            }
            SetPath::Listpack => {
                if a.set_lp_n < SET_LP_ENTRIES && len <= SET_LP_VALUE {
                    a.set_lp_n += 1;
                    a.set_lp_bytes += lp;
                } else {
                    a.set_path = SetPath::Hashtable;
                }
            }
            SetPath::Hashtable => {}
        }
        if a.set_path != SetPath::Intset && a.convert_at.is_none() {
            a.convert_at = Some(a.n - 1);
        }
    }

    /// A part of a long string value.
    pub fn string_part(&mut self, total: u64, first: bool) {
        if first {
            let a = &mut self.acc;
            a.n = 1;
            a.str_len = total;
            a.max_len = total;
            a.str_int = false;
        }
    }

    /// A quicklist or stream node announced by the parser.
    pub fn node(&mut self, node: &NodeInfo) {
        if let Some(id) = node.master {
            let alloc = self.alloc;
            let s = self.st();
            s.rax
                .get_or_insert_with(|| RaxCount::new(alloc))
                .push(id_key(id));
            // Redis 6.0 counts a stream listpack's length, later servers its allocation.
            let u = if self.server == Server::Redis60 {
                node.bytes
            } else {
                self.usable(node.bytes)
            };
            self.st().lp_bytes += u;
            return;
        }
        let a = &mut self.acc;
        a.plain_pending = false;
        if node.plain {
            // One element in its own allocation; the element may follow.
            a.ql_nodes += 1;
            a.ql_plain = true;
            a.plain_pending = true;
            let u = self.usable(node.bytes);
            self.acc.ql_bytes += u;
            return;
        }
        a.blob = Some(node.bytes);
        a.node_left = node.entries;
        a.node_lp = sizes::LP_EMPTY;
        if node.entries == 0 || !a.need_lp {
            // Kept as it is: counted now; its elements, if they come, are only looked at.
            self.close_node();
            self.acc.node_left = node.entries;
        }
    }

    /// The node being read is complete: what the server allocates for it.
    fn close_node(&mut self) {
        let v70 = self.v70();
        let a = &mut self.acc;
        let stored = a.blob.unwrap_or(a.node_lp);
        // A ziplist node is converted to a listpack from 7.0 on, and kept before.
        let converted = matches!(a.rdb_encoding, Some(Encoding::Quicklist)) && v70;
        let bytes = if converted { a.node_lp } else { stored };
        a.ql_nodes += 1;
        a.ql_last = bytes;
        let u = if converted {
            self.shrunk(stored, bytes)
        } else {
            self.blob(bytes)
        };
        self.acc.ql_bytes += u;
    }

    /// An element of a list the server builds by pushing (a plain or ziplist-encoded list),
    /// with `lp` the bytes of its listpack entry: a new node when the open one would pass the
    /// node limit as `_quicklistNodeAllowInsert` estimates it.
    fn push_list(&mut self, v: &[u8], lp: u64) {
        let len = v.len() as u64;
        // 7.4 and Valkey 8 on: an element past the node limit is a plain node of its own.
        if (self.server.at_least(Server::Redis74)) && len > LIST_NODE {
            self.flush_push_node();
            let a = &mut self.acc;
            a.ql_nodes += 1;
            a.ql_plain = true;
            let u = self.usable(len);
            self.acc.ql_bytes += u;
            return;
        }
        let v7 = self.v70();
        let a = &mut self.acc;
        let full = if v7 {
            a.push_lp + len + 8 > LIST_NODE
        } else {
            let ov = if len < 254 { 1 } else { 5 }
                + match len {
                    0..=63 => 1,
                    64..=16383 => 2,
                    _ => 5,
                };
            a.push_zl + len + ov > LIST_NODE
        };
        if a.push_count > 0 && full {
            self.flush_push_node();
        }
        let a = &mut self.acc;
        if a.push_count == 0 {
            a.push_lp = sizes::LP_EMPTY;
            a.push_zl = sizes::ZL_EMPTY;
            a.zl_last = 0;
        }
        let zl = sizes::zl_entry(v, a.zl_last);
        a.zl_last = zl;
        a.push_zl += zl;
        a.push_lp += lp;
        a.push_count += 1;
    }

    /// Closes the node being filled by pushes.
    fn flush_push_node(&mut self) {
        let v70 = self.v70();
        let a = &mut self.acc;
        if a.push_count == 0 {
            return;
        }
        let bytes = if v70 { a.push_lp } else { a.push_zl };
        a.ql_nodes += 1;
        a.ql_last = bytes;
        a.push_count = 0;
        let u = self.blob(bytes);
        self.acc.ql_bytes += u;
    }

    /// Appends an entry to the ziplist a server up to 6.2 builds for a small hash or sorted
    /// set stored plain.
    fn zl_push(&mut self, v: &[u8]) {
        let a = &mut self.acc;
        let e = sizes::zl_entry(v, a.zl_last);
        a.zl_last = e;
        a.zl += e;
    }

    /// A sorted-set member.
    pub fn zmember(&mut self, m: Str<'_>, score: f64) {
        let len = m.len() as u64;
        if self.acc.need_lp || self.acc.need_zl {
            let mut s = [0u8; 20];
            let mb = m.as_bytes(&mut s);
            let text = score_text(score, self.server);
            self.acc.lp += sizes::lp_entry(mb) + sizes::lp_entry(text.as_bytes());
            if matches!(self.acc.rdb_encoding, Some(Encoding::Ziplist)) {
                let t = score_text(score, Server::Redis62);
                self.acc.zl_as_lp += sizes::lp_entry(mb) + sizes::lp_entry(t.as_bytes());
            }
            if self.acc.need_zl {
                self.zl_push(mb);
                self.zl_push(text.as_bytes());
            }
        }
        let sds = if self.acc.need_sds { self.sds(len) } else { 0 };
        let node = self.zsl_node;
        let a = &mut self.acc;
        a.n += 1;
        a.max_len = a.max_len.max(len);
        a.sds += sds;
        a.zsl += node;
    }

    /// A hash field.
    pub fn hash_field(&mut self, f: Str<'_>, v: Str<'_>, ttl: Option<i64>) {
        let (fl, vl) = (f.len() as u64, v.len() as u64);
        let mut lp = 0;
        if self.acc.need_lp || self.acc.need_zl {
            let mut s1 = [0u8; 20];
            let mut s2 = [0u8; 20];
            let (fb, vb) = (f.as_bytes(&mut s1), v.as_bytes(&mut s2));
            lp = sizes::lp_entry(fb) + sizes::lp_entry(vb);
            if matches!(
                self.acc.rdb_encoding,
                Some(Encoding::ListpackEx | Encoding::HashtableEx)
            ) {
                // Redis 7.4 keeps a hash with field TTLs as triplets: field, value, TTL (0:
                // none).
                lp += sizes::lp_entry_int(ttl.unwrap_or(0));
            }
            if self.acc.need_zl {
                self.zl_push(fb);
                self.zl_push(vb);
            }
        }
        let (sds, entry) = if self.acc.need_sds {
            (
                self.hash_field_alloc(fl, ttl.is_some()) + self.sds(vl),
                self.valkey_hash_entry(fl, vl, ttl.is_some()),
            )
        } else {
            (0, 0)
        };
        let a = &mut self.acc;
        if a.convert_at.is_none() && (fl > HASH_VALUE || vl > HASH_VALUE) {
            a.convert_at = Some(a.n);
        }
        a.n += 1;
        a.max_len = a.max_len.max(fl).max(vl);
        a.lp += lp;
        a.sds += sds;
        a.entries += entry;
        a.volatile += u64::from(ttl.is_some());
    }

    /// Valkey 8.1's hash entry: field and value in one block when they fit in 128 bytes,
    /// else a block with the field and a pointer, and the value apart (9.0: with a field's
    /// expiry).
    fn valkey_hash_entry(&self, fl: u64, vl: u64, ttl: bool) -> u64 {
        if !self.valkey81() {
            return 0;
        }
        // Valkey 9.0: 8 bytes of expiry in the entry of a field with a TTL.
        let fs = self.sds_header(fl) + fl + 1 + if ttl { 8 } else { 0 };
        let vs = 3 + vl + 1;
        if fs + vs <= 128 {
            self.usable(fs + vs)
        } else {
            self.usable(8 + self.sds_header(fl).max(3) + fl + 1) + self.sds(vl)
        }
    }

    /// A stream entry (its fields follow).
    pub fn stream_entry(&mut self) {
        self.acc.n += 1;
    }

    /// A field of a stream entry.
    pub fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) {
        let a = &mut self.acc;
        a.max_len = a.max_len.max(name.len() as u64).max(value.len() as u64);
    }

    /// A consumer group starts.
    pub fn stream_group(&mut self) {
        self.close_pels();
        self.st().pel = Some(RaxCount::new(self.alloc));
    }

    /// An entry of the group PEL.
    pub fn stream_pending(&mut self, id: StreamId) {
        if let Some(p) = &mut self.st().pel {
            p.push(id_key(id));
        }
    }

    /// A consumer of the current group starts.
    pub fn stream_consumer(&mut self, name_len: u64) {
        self.close_consumer();
        let alloc = self.alloc;
        let s = self.st();
        s.consumer_pel = Some(RaxCount::new(alloc));
        s.consumer_name_len = name_len;
    }

    /// A pending id of the current consumer.
    pub fn stream_consumer_pending(&mut self, id: StreamId) {
        if let Some(p) = &mut self.st().consumer_pel {
            p.push(id_key(id));
        }
    }

    /// What a radix tree of stream ids counts: Redis's `streamRadixTreeMemoryUsage` (16
    /// bytes per id and 4 + 30 words per node), Valkey 8.1's `raxAllocSize` (its struct and
    /// nodes as allocated).
    fn rax_usage(&self, r: &RaxCount) -> u64 {
        if self.valkey81() {
            self.usable(32) + r.node_bytes()
        } else {
            r.keys() * 16 + r.nodes() * (4 + 8 * 30)
        }
    }

    fn close_consumer(&mut self) {
        let consumer = if self.v72() { 32 } else { 24 };
        if let Some(p) = self.st().consumer_pel.take() {
            let cost = consumer + self.st().consumer_name_len + self.rax_usage(&p);
            self.st().group_cost += cost;
        }
    }

    fn close_pels(&mut self) {
        self.close_consumer();
        let cg = if self.v70() { 40 } else { 32 };
        if let Some(p) = self.st().pel.take() {
            let cost = cg + self.rax_usage(&p) + 24 * p.keys();
            self.st().group_cost += cost;
        }
    }

    /// The expected allocated bytes of a skiplist node: 24 bytes and 16 per level, levels
    /// drawn as `zslRandomLevel` draws them (p = 1/4, at most 32).
    fn zsl_node_expected(&self) -> f64 {
        let mut e = 0.0;
        let mut p = 0.75;
        for level in 1..=32u64 {
            let pr = if level == 32 { p / 0.75 } else { p };
            e += pr * self.usable(24 + 16 * level) as f64;
            p *= 0.25;
        }
        e
    }

    /// The key's estimate, at its end.
    pub fn key_end(&mut self) -> Estimate {
        if self.acc.n == 0 {
            // Elements skipped (a blob kept as it is): the record stated how many.
            self.acc.n = self.acc.len_hint.unwrap_or(0);
        }
        let (value, encoding) = match self.acc.value_type {
            Some(ValueType::String) => self.string_value(),
            Some(ValueType::List) => self.list_value(),
            Some(ValueType::Set) => self.set_value(),
            Some(ValueType::Zset) => self.zset_value(),
            Some(ValueType::Hash) => self.hash_value(),
            Some(ValueType::Stream) => self.stream_value(),
            _ => (0, "unknown"),
        };
        let memory = match self.server {
            // The key lives in the object (counted as its base).
            Server::Valkey81 | Server::Valkey90 => value,
            // The key lives in the keyspace's dict entry, with a 17-byte header.
            Server::Valkey80 => {
                let k = self.acc.key_len;
                value + self.usable(17 + self.sds_header(k) + k + 1)
            }
            _ => value + self.sds(self.acc.key_len) + DICT_ENTRY,
        };
        Estimate { memory, encoding }
    }

    /// The object's own bytes: 16, or in Valkey 8.1 its allocation with the key embedded (and
    /// the expiry, when it has one or when the allocation has room for it).
    fn base(&self) -> u64 {
        if !self.valkey81() {
            return ROBJ;
        }
        let a = &self.acc;
        let (size, has) = self.valkey_objalloc(a.key_len, false);
        if a.has_expire && !has {
            self.valkey_objalloc(a.key_len, true).0
        } else {
            size
        }
    }

    /// Valkey 8.1's object with an embedded key (`createObjectWithKeyAndExpire`): its usable
    /// size, and whether it has a slot for an expiry.
    fn valkey_objalloc(&self, klen: u64, expire: bool) -> (u64, bool) {
        let mut m = ROBJ + 1 + self.sds_header(klen) + klen + 1;
        let has = expire || klen >= 128;
        if has {
            m += 8;
        }
        let a = self.usable(m);
        (a, has || a >= m + 8)
    }

    /// A string: an integer object, an embedded string, or an object and its sds.
    fn string_value(&self) -> (u64, &'static str) {
        let a = &self.acc;
        let len = a.str_len;
        if self.valkey81() {
            return self.valkey_string();
        }
        if a.str_int {
            return (ROBJ, "int");
        }
        if len <= 44 {
            // Up to 6.2 an embedded string counts its sds length + 2 + the object, from 7.0
            // on its allocation.
            let m = if self.v70() {
                self.usable(ROBJ + 3 + len + 1)
            } else {
                len + 2 + ROBJ
            };
            return (m, "embstr");
        }
        (ROBJ + self.sds(len), "raw")
    }

    /// Valkey 8.1: a short value is embedded with the key when key and value fit in 41
    /// bytes (its rule counts a key's header as 3 bytes whatever its type); an expiry read
    /// after the key goes in a spare slot, or the object is made again.
    fn valkey_string(&self) -> (u64, &'static str) {
        let a = &self.acc;
        let (klen, vlen) = (a.key_len, a.str_len);
        if a.str_int {
            return (self.base(), "int");
        }
        if self.embeds(klen, vlen, false) {
            let m = ROBJ + 1 + self.sds_header(klen) + klen + 1 + 3 + vlen + 1;
            let u = self.usable(m);
            if !a.has_expire || u >= m + 8 {
                return (u, "embstr");
            }
            if self.embeds(klen, vlen, true) {
                return (self.usable(m + 8), "embstr");
            }
            return (self.valkey_objalloc(klen, true).0 + self.sds(vlen), "raw");
        }
        (self.base() + self.sds(vlen), "raw")
    }

    /// Whether Valkey embeds a value of `vlen` bytes with a key of `klen` (and an expiry) in
    /// one allocation of at most 64 bytes: 8.1 counts the key as `klen + 3` whatever its
    /// header, 9.0 its real sds.
    fn embeds(&self, klen: u64, vlen: u64, expire: bool) -> bool {
        let exp = if expire { 8 } else { 0 };
        if self.server >= Server::Valkey90 {
            self.sds_header(klen) + klen + 1 + vlen + exp <= 43
        } else {
            klen + vlen + exp <= 41
        }
    }

    /// `sizeof(dict)`: 96 up to 6.2, 56 from 7.0 on.
    fn dict_size(&self) -> u64 {
        if self.v70() {
            56
        } else {
            96
        }
    }

    /// A hashtable of `n` entries sized for them at load: Redis's dict (struct and table) or
    /// Valkey 8.1's bucketed table (struct, buckets and the expected chained buckets).
    fn table(&self, n: u64) -> u64 {
        if self.valkey81() {
            let b = valkey_buckets(n);
            72 + 64 * (b + expected_child_buckets(n, b).round() as u64)
        } else {
            self.dict_size() + 8 * sizes::next_pow2(n, 4)
        }
    }

    fn list_value(&mut self) -> (u64, &'static str) {
        self.flush_push_node();
        let base = self.base();
        let a = &self.acc;
        // 7.2 on: a list of one packed node within the node limit becomes that listpack
        // (not one stored as an old ziplist list, type 10).
        if self.v72()
            && a.ql_nodes == 1
            && !a.ql_plain
            && a.ql_last <= LIST_NODE
            && !matches!(a.rdb_encoding, Some(Encoding::Ziplist))
        {
            return (base + a.ql_bytes, "listpack");
        }
        // sizeof(quicklist), and sizeof(quicklistNode): 32 up to 6.2, 40 from 7.0 on.
        let node = if self.v70() { 40 } else { 32 };
        (base + 40 + a.ql_nodes * node + a.ql_bytes, "quicklist")
    }

    fn set_value(&self) -> (u64, &'static str) {
        let a = &self.acc;
        let base = self.base();
        let plain = matches!(a.rdb_encoding, Some(Encoding::Hashtable));
        let small = match a.rdb_encoding {
            Some(Encoding::Intset) if a.n <= SET_INTSET => Some("intset"),
            Some(Encoding::Listpack) if a.n <= SET_LP_ENTRIES => Some("listpack"),
            _ if plain && a.n <= SET_INTSET => match a.set_path {
                SetPath::Intset => Some("intset"),
                SetPath::Listpack => Some("listpack"),
                SetPath::Hashtable => None,
            },
            _ => None,
        };
        match small {
            Some("intset") => {
                let bytes = a.blob.unwrap_or(8 + a.n * a.int_width.max(2));
                return (base + self.blob(bytes), "intset");
            }
            Some(_) => {
                let bytes = a.blob.unwrap_or(a.set_lp_bytes + sizes::LP_EMPTY);
                return (base + self.usable(bytes), "listpack");
            }
            None => {}
        }
        let table = match a.convert_at {
            // Up to 7.0, an intset left for a hashtable at a member that is not an integer:
            // the table made for the integers read so far grows to the set's length,
            // rehashing incrementally as the rest is added.
            Some(k) if plain && a.n <= SET_INTSET && !self.v72() => {
                let mut d = DictSim::default();
                d.expand(k);
                d.add_n(k);
                d.expand(a.n);
                d.add_n(a.n - k);
                self.dict_size() + 8 * d.slots()
            }
            _ => self.table(a.n),
        };
        let entries = if self.valkey81() { 0 } else { a.n * DICT_ENTRY };
        (base + table + entries + a.sds, "hashtable")
    }

    fn zset_value(&self) -> (u64, &'static str) {
        let a = &self.acc;
        let base = self.base();
        let small = match a.rdb_encoding {
            Some(Encoding::Listpack | Encoding::Ziplist) => a.n <= ZSET_ENTRIES,
            _ => a.n <= ZSET_ENTRIES && a.max_len <= ZSET_VALUE,
        };
        if small {
            if !self.v70() {
                let bytes = a.blob.unwrap_or(a.zl + sizes::ZL_EMPTY);
                return (base + bytes, "ziplist");
            }
            let m = match (a.rdb_encoding, a.blob) {
                (Some(Encoding::Listpack), Some(b)) => self.usable(b),
                // A ziplist becomes a listpack of the same entries (its scores as text as
                // written, `%.17g` by the servers that wrote ziplists), then shrinks.
                (Some(Encoding::Ziplist), Some(b)) => self.shrunk(b, a.zl_as_lp + sizes::LP_EMPTY),
                _ => self.usable(a.lp + sizes::LP_EMPTY),
            };
            return (base + m, "listpack");
        }
        let header = self.usable(24 + 32 * 16);
        // Up to 7.0, a packed sorted set too long for its encoding grows its dict from 4.
        let packed = matches!(a.rdb_encoding, Some(Encoding::Listpack | Encoding::Ziplist));
        let table = if packed && !self.v72() {
            let mut d = DictSim::default();
            d.add_n(a.n);
            self.dict_size() + 8 * d.slots()
        } else {
            self.table(a.n)
        };
        let entries = if self.valkey81() { 0 } else { a.n * DICT_ENTRY };
        (
            base + 16 + 32 + table + header + entries + a.sds + a.zsl.round() as u64,
            "skiplist",
        )
    }

    fn hash_value(&self) -> (u64, &'static str) {
        let a = &self.acc;
        let base = self.base();
        let ttls = matches!(
            a.rdb_encoding,
            Some(Encoding::ListpackEx | Encoding::HashtableEx)
        );
        let small = match a.rdb_encoding {
            Some(Encoding::Listpack | Encoding::Ziplist | Encoding::ListpackEx) => {
                a.n <= HASH_ENTRIES
            }
            // Valkey 9 keeps a hash with field TTLs as a hashtable whatever its size.
            Some(Encoding::HashtableEx) if self.valkey81() => false,
            Some(Encoding::HashtableEx) => a.n <= HASH_ENTRIES && a.convert_at.is_none(),
            _ => a.n <= HASH_ENTRIES && a.max_len <= HASH_VALUE,
        };
        if small {
            if !self.v70() {
                let bytes = a.blob.unwrap_or(a.zl + sizes::ZL_EMPTY);
                return (base + bytes, "ziplist");
            }
            let m = match (a.rdb_encoding, a.blob) {
                (Some(Encoding::Listpack | Encoding::ListpackEx), Some(b)) => self.usable(b),
                // A ziplist becomes a listpack of the same entries, then shrinks.
                (Some(Encoding::Ziplist), Some(b)) => self.shrunk(b, a.lp + sizes::LP_EMPTY),
                _ => self.usable(a.lp + sizes::LP_EMPTY),
            };
            if ttls {
                // Redis 7.4: a listpackEx (32 bytes) around the listpack.
                return (base + self.usable(32) + m, "listpackex");
            }
            return (base + m, "listpack");
        }
        let plain = matches!(a.rdb_encoding, Some(Encoding::Hashtable));
        let table = match a.convert_at {
            // A listpack left for a hashtable at a long field or value: the table made for
            // the pairs read so far (sized for them from 7.0 on, grown from 4 before) grows to
            // what is left to read, rehashing incrementally as the rest is added.
            Some(k) if plain && a.n <= HASH_ENTRIES => {
                if self.valkey81() {
                    let mut h = BucketSim::default();
                    h.expand(k);
                    h.add_n(k + 1);
                    h.expand(a.n - k - 1);
                    h.add_n(a.n - k - 1);
                    72 + 64
                        * (h.buckets() + expected_child_buckets(a.n, h.buckets()).round() as u64)
                } else {
                    let mut d = DictSim::default();
                    if self.v70() {
                        d.expand(k);
                    }
                    d.add_n(k + 1);
                    let left = a.n - k - 1;
                    if left > 4 {
                        d.expand(left);
                    }
                    d.add_n(left);
                    self.dict_size() + 8 * d.slots()
                }
            }
            // Up to 6.2 a ziplist too long for its encoding is converted without sizing the
            // dict; in 7.4 so is a hash with field TTLs stored plain.
            _ if (!self.v70()
                && matches!(a.rdb_encoding, Some(Encoding::Ziplist | Encoding::Zipmap)))
                || (self.server.at_least(Server::Redis74)
                    && !self.valkey81()
                    && matches!(a.rdb_encoding, Some(Encoding::HashtableEx))) =>
            {
                let mut d = DictSim::default();
                d.add_n(a.n);
                self.dict_size() + 8 * d.slots()
            }
            _ => self.table(a.n),
        };
        if self.valkey81() {
            return (base + table + a.entries, "hashtable");
        }
        (base + table + a.n * DICT_ENTRY + a.sds, "hashtable")
    }

    fn stream_value(&mut self) -> (u64, &'static str) {
        self.close_pels();
        // sizeof(stream); Redis 6.0 counts none.
        let head = match self.server {
            Server::Redis60 => 0,
            Server::Redis62 => 40,
            _ => 80,
        };
        let empty = RaxCount::new(self.alloc);
        let s = self.acc.stream.take().unwrap_or_default();
        let rax = self.rax_usage(s.rax.as_ref().unwrap_or(&empty));
        (
            self.base() + head + rax + s.lp_bytes + s.group_cost,
            "stream",
        )
    }
}

/// A dictionary's table sizes as a Redis server grows it (`dictExpand`,
/// `_dictExpandIfNeeded`, incremental rehashing one bucket per add). Which buckets are empty
/// depends on the server's random hash seed: a rehash is taken to need as many steps as the
/// old table's expected non-empty buckets.
#[derive(Debug, Default)]
struct DictSim {
    size0: u64,
    size1: u64,
    used: u64,
    steps_left: f64,
}

impl DictSim {
    fn rehashing(&self) -> bool {
        self.size1 > 0
    }

    fn expand(&mut self, size: u64) {
        if self.rehashing() || self.used > size {
            return;
        }
        let real = sizes::next_pow2(size, 4);
        if real == self.size0 {
            return;
        }
        if self.size0 == 0 {
            self.size0 = real;
            return;
        }
        self.size1 = real;
        let s = self.size0 as f64;
        self.steps_left = s * (1.0 - (1.0 - 1.0 / s).powf(self.used as f64));
    }

    fn add(&mut self) {
        if self.rehashing() {
            self.steps_left -= 1.0;
            if self.steps_left <= 0.0 {
                self.size0 = self.size1;
                self.size1 = 0;
            }
        }
        if !self.rehashing() {
            if self.size0 == 0 {
                self.expand(4);
            } else if self.used >= self.size0 {
                self.expand(self.used + 1);
            }
        }
        self.used += 1;
    }

    fn add_n(&mut self, n: u64) {
        for _ in 0..n {
            self.add();
        }
    }

    fn slots(&self) -> u64 {
        self.size0 + self.size1
    }
}

/// The buckets of Valkey 8.1's hashtable sized for `n` entries (`nextBucketExp`: 7 entries a
/// bucket, filled to 5/32 of a bucket per entry at most).
fn valkey_buckets(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    let min = (n * 5).div_ceil(32);
    if min <= 1 {
        1
    } else {
        min.next_power_of_two()
    }
}

/// The expected chained buckets of Valkey's hashtable: a bucket holds 7 entries, each bucket
/// chained to it 6 more; entries fall in buckets at random (Poisson with `n / b` per bucket).
fn expected_child_buckets(n: u64, b: u64) -> f64 {
    if b == 0 || n <= 7 {
        return 0.0;
    }
    let lambda = n as f64 / b as f64;
    // P(X = x) by recurrence from P(X = 0).
    let mut p = (-lambda).exp();
    let mut e = 0.0;
    for x in 1..200u64 {
        p *= lambda / x as f64;
        if x >= 8 {
            e += p * (x - 7).div_ceil(6) as f64;
        }
        if x as f64 > lambda * 4.0 + 30.0 {
            break;
        }
    }
    b as f64 * e
}

/// Valkey 8.1's hashtable as it grows (`hashtableExpand`, growth past 7 entries a bucket,
/// incremental rehashing one bucket per add), by bucket counts.
#[derive(Debug, Default)]
struct BucketSim {
    /// Bucket exponents of the two tables (`None`: no table).
    exp: [Option<u32>; 2],
    used: u64,
    rehash_idx: Option<u64>,
}

impl BucketSim {
    fn buckets_of(e: Option<u32>) -> u64 {
        e.map_or(0, |e| 1u64 << e)
    }

    fn resize(&mut self, cap: u64) {
        let e = valkey_buckets(cap.max(1)).trailing_zeros();
        if Some(e) == self.exp[0] {
            return;
        }
        self.exp[1] = Some(e);
        self.rehash_idx = Some(0);
        if self.exp[0].is_none() || self.used == 0 {
            self.done();
        }
    }

    fn done(&mut self) {
        self.exp = [self.exp[1], None];
        self.rehash_idx = None;
    }

    fn expand(&mut self, n: u64) {
        if self.rehash_idx.is_none() && n >= self.used {
            self.resize(n);
        }
    }

    fn add(&mut self) {
        if self.used > 0 {
            if let Some(i) = self.rehash_idx {
                let i = i + 1;
                self.rehash_idx = Some(i);
                if i >= Self::buckets_of(self.exp[0]) {
                    self.done();
                }
            }
        }
        if self.rehash_idx.is_none() && self.used + 1 > 7 * Self::buckets_of(self.exp[0]) {
            self.resize(self.used + 1);
        }
        self.used += 1;
    }

    fn add_n(&mut self, n: u64) {
        for _ in 0..n {
            self.add();
        }
    }

    fn buckets(&self) -> u64 {
        Self::buckets_of(self.exp[0]) + Self::buckets_of(self.exp[1])
    }
}

fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// A score as a server writes it into a small sorted set: an integer's digits when the
/// server stores it as one, else `%.17g` (up to 7.0) or the shortest digits (7.2 on).
fn score_text(score: f64, server: Server) -> String {
    let integral = score.fract() == 0.0 && score.is_finite();
    let as_int = if server.at_least(Server::Redis70) {
        // double2ll: |score| <= LLONG_MAX / 2.
        integral && score.abs() <= (i64::MAX / 2) as f64
    } else {
        // 6.x d2string: integers within 2^52 are printed as such.
        integral && score.abs() < (1u64 << 52) as f64
    };
    if as_int {
        return (score as i64).to_string();
    }
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if server.at_least(Server::Redis72) {
        crate::fpconv::format_shortest(score)
    } else {
        crate::digest::format_17g(score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdb_parse::RdbType;

    fn info(key: &[u8], vt: ValueType, enc: Encoding, expire: bool) -> KeyInfo<'_> {
        KeyInfo {
            db: 0,
            key: Str::Bytes(key),
            rdb_type: RdbType(0),
            value_type: vt,
            encoding: enc,
            expire_ms: expire.then_some(4102444800000),
            idle_s: None,
            freq: None,
            len: None,
            blob_bytes: None,
            max_element: None,
            offset: 0,
        }
    }

    fn string(
        server: Server,
        alloc: Allocator,
        key: &[u8],
        value: &[u8],
        expire: bool,
    ) -> Estimate {
        let mut e = Estimator::new(server, alloc);
        e.key_start(&info(key, ValueType::String, Encoding::String, expire));
        e.element(Str::Bytes(value));
        e.key_end()
    }

    /// The figures redis.io gives for Redis 7.2 (jemalloc as Redis builds it), which no
    /// server here can confirm.
    #[test]
    fn redis_7_2_strings_as_documented() {
        let j = Allocator::Jemalloc;
        assert_eq!(string(Server::Redis72, j, b"foo", b"bar", false).memory, 56);
        assert_eq!(string(Server::Redis72, j, b"", b"", false).memory, 56);
        let e = string(Server::Redis72, j, b"foo", &[b'x'; 100], false);
        assert_eq!((e.memory, e.encoding), (160, "raw"));
        assert_eq!(
            string(Server::Redis72, j, b"foo", b"12345", false).encoding,
            "int"
        );
    }

    /// Valkey 8.1's embedded strings, as measured on 8.1.8 (glibc): (key length, value
    /// length) -> usage and encoding.
    #[test]
    fn valkey_8_1_strings_as_measured() {
        let cases = [
            (1, 1, 40, "embstr"),
            (10, 0, 40, "embstr"),
            (10, 10, 56, "embstr"),
            (10, 31, 72, "embstr"),
            (10, 32, 80, "raw"),
            (20, 21, 72, "embstr"),
            (20, 22, 64, "raw"),
            (32, 9, 72, "embstr"),
            (32, 10, 80, "raw"),
            (40, 1, 72, "embstr"),
            (10, 44, 96, "raw"),
            (10, 100, 144, "raw"),
            (127, 5, 176, "raw"),
            (128, 5, 192, "raw"),
        ];
        for (k, v, mem, enc) in cases {
            let e = string(
                Server::Valkey81,
                Allocator::Libc,
                &vec![b'k'; k],
                &vec![b'v'; v],
                false,
            );
            assert_eq!((e.memory, e.encoding), (mem, enc), "key {k}, value {v}");
        }
        let e = string(
            Server::Valkey81,
            Allocator::Libc,
            &[b'k'; 10],
            b"1234",
            false,
        );
        assert_eq!((e.memory, e.encoding), (40, "int"));
    }

    /// Valkey 9.0 counts a key's real sds header when it embeds a value: 2 bytes stricter than
    /// 8.1 for keys of 32 bytes and more.
    #[test]
    fn valkey_9_0_embeds_by_the_real_key_size() {
        let key = [b'k'; 32];
        let e81 = string(Server::Valkey81, Allocator::Libc, &key, &[b'v'; 9], false);
        let e90 = string(Server::Valkey90, Allocator::Libc, &key, &[b'v'; 9], false);
        assert_eq!((e81.encoding, e90.encoding), ("embstr", "raw"));
        let short = [b'k'; 10];
        let e81 = string(
            Server::Valkey81,
            Allocator::Libc,
            &short,
            &[b'v'; 31],
            false,
        );
        let e90 = string(
            Server::Valkey90,
            Allocator::Libc,
            &short,
            &[b'v'; 31],
            false,
        );
        assert_eq!(e81, e90);
    }

    /// Redis 7.4 keeps a small hash with field TTLs as a listpackEx: a 32-byte wrapper and a
    /// listpack of (field, value, TTL) triplets.
    #[test]
    fn redis_7_4_hash_with_field_ttls() {
        let mut e = Estimator::new(Server::Redis74, Allocator::Jemalloc);
        e.key_start(&info(b"h", ValueType::Hash, Encoding::HashtableEx, false));
        e.hash_field(Str::Bytes(b"f"), Str::Bytes(b"v"), Some(1_700_000_000_000));
        let got = e.key_end();
        // 16 + J(32) + J(7 + 2 + 2 + 10 (int64 TTL)) + key J(1 + 1 + 1) + 24
        assert_eq!(got.encoding, "listpackex");
        assert_eq!(got.memory, 16 + 32 + 24 + 8 + 24);
    }

    /// A list of one small node is a listpack from 7.2 on, a quicklist before.
    #[test]
    fn small_lists_are_listpacks_from_7_2() {
        for (server, enc) in [
            (Server::Redis70, "quicklist"),
            (Server::Redis72, "listpack"),
        ] {
            let mut e = Estimator::new(server, Allocator::Jemalloc);
            e.key_start(&info(b"l", ValueType::List, Encoding::Quicklist2, false));
            e.node(&NodeInfo {
                bytes: 20,
                entries: 2,
                master: None,
                max_element: Some(1),
                plain: false,
            });
            e.element(Str::Bytes(b"a"));
            e.element(Str::Bytes(b"b"));
            assert_eq!(e.key_end().encoding, enc);
        }
    }

    #[test]
    fn valkey_bucket_counts() {
        for (n, b) in [
            (1, 1),
            (6, 1),
            (7, 2),
            (12, 2),
            (13, 4),
            (25, 4),
            (26, 8),
            (51, 8),
            (52, 16),
            (1638, 256),
            (1639, 512),
        ] {
            assert_eq!(valkey_buckets(n), b, "{n}");
        }
    }

    #[test]
    fn child_buckets_are_rare_at_low_fill() {
        assert_eq!(expected_child_buckets(5, 1), 0.0);
        let e = expected_child_buckets(1000, 256);
        assert!((10.0..13.0).contains(&e), "{e}");
        let e = expected_child_buckets(10000, 2048);
        assert!((240.0..260.0).contains(&e), "{e}");
    }
}
