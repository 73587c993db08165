//! The events a [`Parser`](crate::Parser) yields.

use crate::types::{Encoding, Family, RdbType, ValueType};
use std::fmt;

/// A Redis string as stored: bytes, or an integer that Redis stored in integer form.
///
/// Redis stores canonical decimal strings as integers (RDB INT encodings, listpack and ziplist
/// integer entries, intset members); the parser keeps them as integers and never formats.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Str<'a> {
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// An integer; its value as a Redis string is its canonical decimal text.
    Int(i64),
}

impl KeyInfo<'_> {
    /// Whether the key is a collection known to be empty from its header (a list, set, sorted
    /// set or hash of no element): the servers skip such keys at load (Redis 7.0 and later).
    pub fn is_empty_collection(&self) -> bool {
        self.len == Some(0)
            && matches!(
                self.value_type,
                ValueType::List | ValueType::Set | ValueType::Zset | ValueType::Hash
            )
    }
}

/// The integer value of `s` when Redis would store it as an integer: canonical decimal text
/// (no sign but `-`, no leading zeros, not `-0`) of at most 20 bytes that fits an `i64`.
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c - b'0');
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

impl<'a> Str<'a> {
    /// The bytes of this string; integers are formatted into `scratch`.
    pub fn as_bytes<'s>(&'s self, scratch: &'s mut [u8; 20]) -> &'s [u8]
    where
        'a: 's,
    {
        match *self {
            Str::Bytes(b) => b,
            Str::Int(v) => format_i64(v, scratch),
        }
    }

    /// Appends the bytes of this string to `out`.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        let mut scratch = [0u8; 20];
        out.extend_from_slice(self.as_bytes(&mut scratch));
    }

    /// The bytes of this string, owned.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.append_to(&mut v);
        v
    }

    /// The length in bytes of this string.
    pub fn len(&self) -> usize {
        match *self {
            Str::Bytes(b) => b.len(),
            Str::Int(v) => int_len(v),
        }
    }

    /// True when the string is empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, Str::Bytes(b) if b.is_empty())
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Str::Bytes(b) => f.write_str(&crate::error::escape(b)),
            Str::Int(v) => write!(f, "{v}"),
        }
    }
}

/// The length of `v` in decimal, sign included.
pub fn int_len(v: i64) -> usize {
    let mut n = v.unsigned_abs();
    let mut len = 1 + usize::from(v < 0);
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Formats `v` in decimal into `buf`, returning the used tail.
pub fn format_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// Reads the 16-byte big-endian form used for node keys and PEL entries.
    pub fn from_be_bytes(b: &[u8; 16]) -> StreamId {
        let (ms, seq) = b.split_at(8);
        StreamId {
            ms: u64::from_be_bytes(ms.try_into().expect("8 bytes")),
            seq: u64::from_be_bytes(seq.try_into().expect("8 bytes")),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Everything about a key that comes before its value.
#[derive(Debug, Clone)]
pub struct KeyInfo<'a> {
    /// Database number (0 until a SELECTDB is seen).
    pub db: u64,
    /// The key.
    pub key: Str<'a>,
    /// The object type byte as stored.
    pub rdb_type: RdbType,
    /// The logical type.
    pub value_type: ValueType,
    /// The on-disk encoding.
    pub encoding: Encoding,
    /// Absolute expiry time in unix milliseconds, if any.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds, if stored.
    pub idle_s: Option<u64>,
    /// LFU counter, if stored.
    pub freq: Option<u8>,
    /// Number of elements, when the format states it before the elements (plain encodings and
    /// validated blobs; 0 for a quicklist without nodes); `None` for other quicklists, streams
    /// and modules.
    pub len: Option<u64>,
    /// The length in bytes of the value's blob (a ziplist, listpack, intset or zipmap stored as
    /// one string), after decompression; `None` for other encodings.
    pub blob_bytes: Option<u64>,
    /// The longest entry of the value's blob in bytes (integers as their decimal text), when
    /// the blob was walked to validate it (listpacks, intsets, ziplist pairs); `None` for
    /// other encodings.
    pub max_element: Option<u64>,
    /// Offset of the first byte of this record (its first per-key opcode, or its type byte).
    pub offset: u64,
}

/// A quicklist or stream node, as [`Event::Node`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's blob length in bytes (a ziplist or listpack) after decompression; for a
    /// plain node, its element's length.
    pub bytes: u64,
    /// The entries it holds: elements of a list node (1 for a plain node); for a stream node,
    /// its entries including deleted ones.
    pub entries: u64,
    /// A stream node's master id (its key in the stream's radix tree).
    pub master: Option<StreamId>,
    /// The node's longest element in bytes, when its blob was walked (quicklist nodes).
    pub max_element: Option<u64>,
    /// A quicklist's plain node (one large element, outside any listpack). Its elements
    /// follow as usual, unless skipped
    /// ([`Parser::skip_blob_elements`](crate::Parser::skip_blob_elements)).
    pub plain: bool,
}

/// Stream metadata that follows the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMeta {
    /// The stream's length as stored: its live entries, except in files of Redis 5.0
    /// pre-releases, where it can be larger (the servers keep it: XLEN returns it).
    pub length: u64,
    /// The live entries actually read (0 when the events carry no entries, as from a
    /// dataset in memory; then `length` holds).
    pub live_entries: u64,
    /// Last generated id.
    pub last_id: StreamId,
    /// First live id (RDB stream v2+).
    pub first_id: Option<StreamId>,
    /// Largest deleted id (v2+).
    pub max_deleted_id: Option<StreamId>,
    /// Entries ever added (v2+).
    pub entries_added: Option<u64>,
    /// Number of consumer groups that follow.
    pub groups: u64,
    /// Where the stream's nodes lie in the source, when they were checked and not reported
    /// entry by entry (see
    /// [`Parser::stream_nodes_as_stored`](crate::Parser::stream_nodes_as_stored)).
    pub stored_nodes: Option<StoredNodes>,
}

/// The bytes of a stream's nodes as stored in the source: the node count, then each node's
/// key and listpack, as the RDB stream types from version 2 on share them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredNodes {
    /// Offset of the node count.
    pub offset: u64,
    /// Bytes from there to the end of the last node.
    pub len: u64,
}

/// One event of the parse, in file order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The magic and version, always first.
    Header {
        /// Magic family.
        family: Family,
        /// RDB version number.
        version: u32,
    },
    /// An AUX field.
    Aux {
        /// Field name.
        key: Str<'a>,
        /// Field value.
        value: Str<'a>,
    },
    /// A SELECTDB opcode.
    SelectDb {
        /// The database number.
        db: u64,
    },
    /// A RESIZEDB hint.
    ResizeDb {
        /// Keys in the database.
        keys: u64,
        /// Keys with an expiry.
        expires: u64,
    },
    /// A Redis 7.4+ SLOT_INFO record.
    SlotInfo {
        /// Slot number.
        slot: u64,
        /// Keys in the slot.
        keys: u64,
        /// Keys with an expiry in the slot.
        expires: u64,
    },
    /// A function library (FUNCTION2): the whole library source.
    Function {
        /// The library code, starting with `#!<engine> name=<lib>`.
        code: Str<'a>,
    },
    /// A module AUX record, skipped through its opcode stream.
    ModuleAux {
        /// The module type name (9 characters).
        name: [u8; 9],
        /// The module's encoding version.
        version: u16,
        /// 1 = before keys, 2 = after keys.
        when: u64,
    },
    /// A Valkey 9 SLOT_IMPORT record.
    SlotImport {
        /// The import job name.
        job: Str<'a>,
        /// Number of slot ranges.
        ranges: u64,
    },
    /// The start of a key; its elements follow, then [`Event::KeyEnd`].
    KeyStart(KeyInfo<'a>),
    /// A string value, a list element or a set member.
    Element(Str<'a>),
    /// A part of a string value too long to be held whole, when the consumer asked for parts
    /// ([`Parser::stream_strings`](crate::Parser::stream_strings)): the parts of one value come
    /// in order, in place of its [`Event::Element`].
    StringPart {
        /// The bytes of this part.
        part: &'a [u8],
        /// The length of the whole value.
        total: u64,
        /// Whether this is the first part.
        first: bool,
        /// Whether this is the last part.
        last: bool,
    },
    /// A string value not read, only measured: a plain string longer than the consumer asked
    /// to read ([`Parser::skip_long_strings`](crate::Parser::skip_long_strings)), in place of
    /// its [`Event::Element`].
    StringSkipped {
        /// Its length.
        len: u64,
    },
    /// A sorted-set member.
    ZMember {
        /// The member.
        member: Str<'a>,
        /// Its score.
        score: f64,
    },
    /// A hash field.
    HashField {
        /// Field name.
        field: Str<'a>,
        /// Field value.
        value: Str<'a>,
        /// Absolute field expiry in unix ms (Redis 7.4+, Valkey 9).
        expire_ms: Option<i64>,
    },
    /// A node of a quicklist or a stream, before its elements: sent only when the consumer asked
    /// for nodes ([`Parser::report_nodes`](crate::Parser::report_nodes)).
    Node(NodeInfo),
    /// A live stream entry; its `fields` [`Event::StreamField`] events follow.
    StreamEntry {
        /// The entry id.
        id: StreamId,
        /// Number of field/value pairs that follow.
        fields: u64,
    },
    /// One field of a stream entry.
    StreamField {
        /// Field name.
        name: Str<'a>,
        /// Field value.
        value: Str<'a>,
    },
    /// Stream metadata, after all entries.
    StreamMeta(StreamMeta),
    /// A consumer group; its PEL, then its consumers follow.
    StreamGroup {
        /// Group name.
        name: Str<'a>,
        /// Last delivered id.
        last_id: StreamId,
        /// Entries read (v2+); `None` when absent or stored as invalid (-1).
        entries_read: Option<u64>,
        /// Number of group PEL entries that follow.
        pending: u64,
    },
    /// An entry of the group PEL.
    StreamPending {
        /// The pending id.
        id: StreamId,
        /// Last delivery time, unix ms.
        delivery_time_ms: i64,
        /// Delivery count.
        delivery_count: u64,
    },
    /// The number of consumers of the current group, after its PEL.
    StreamConsumers {
        /// Number of [`Event::StreamConsumer`] events that follow.
        count: u64,
    },
    /// A consumer of the current group; its pending ids follow.
    StreamConsumer {
        /// Consumer name.
        name: Str<'a>,
        /// Last seen time, unix ms.
        seen_time_ms: i64,
        /// Last active time (v3+), unix ms.
        active_time_ms: Option<i64>,
        /// Number of [`Event::StreamConsumerPending`] events that follow.
        pending: u64,
    },
    /// A pending id owned by the current consumer.
    StreamConsumerPending {
        /// The id.
        id: StreamId,
    },
    /// A pending id of the current group with no owner (stream v5 NACK zone).
    StreamNacked {
        /// The id.
        id: StreamId,
    },
    /// A module value, skipped through its opcode stream.
    Module {
        /// The module type name.
        name: [u8; 9],
        /// The module's encoding version.
        version: u16,
        /// Bytes of the serialized value after its module id: the module's opcode stream up to
        /// and including its EOF opcode (librdb counts the module id's bytes too).
        raw_len: u64,
    },
    /// An element of a Redis 8.8 array.
    ArrayElement {
        /// Its index.
        index: u64,
        /// Its value.
        value: ArrayValue<'a>,
    },
    /// The end of the current key.
    KeyEnd,
    /// The EOF opcode and checksum; always the last event.
    Eof {
        /// The stored CRC64 (`None` before RDB 5; `Some(0)` means checksum disabled).
        stored_crc: Option<u64>,
        /// The CRC64 computed over the file.
        computed_crc: u64,
    },
}

/// A value in a Redis 8.8 array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArrayValue<'a> {
    /// A string.
    Str(Str<'a>),
    /// An integer.
    Int(i64),
    /// A double.
    Float(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers() {
        let mut b = [0u8; 20];
        for v in [
            0i64,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            i64::MAX,
            i64::MIN,
            1234567890,
        ] {
            assert_eq!(format_i64(v, &mut b), v.to_string().as_bytes());
            assert_eq!(int_len(v), v.to_string().len());
        }
    }
}
