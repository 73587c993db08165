//! Raw format values (object types, opcodes) as newtypes with named constants.

use std::fmt;

/// The magic family of a file: type ids and opcodes above 21 mean different things in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `REDIS%04d` magic: Redis, and Valkey up to 8.x.
    Redis,
    /// `VALKEY%03d` magic: Valkey 9 and later (RDB 80+).
    Valkey,
}

impl Family {
    /// The magic prefix, `REDIS` or `VALKEY`.
    pub fn magic(self) -> &'static str {
        match self {
            Family::Redis => "REDIS",
            Family::Valkey => "VALKEY",
        }
    }
}

/// The newest RDB version of the `REDIS` family this parser reads.
pub const MAX_REDIS_VERSION: u32 = 14;
/// The newest RDB version of the `VALKEY` family this parser reads.
pub const MAX_VALKEY_VERSION: u32 = 80;

/// An object type byte as stored in the file, before the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RdbType(pub u8);

#[allow(missing_docs)] // the names are the format's own, see the format reference §3
impl RdbType {
    pub const STRING: RdbType = RdbType(0);
    pub const LIST: RdbType = RdbType(1);
    pub const SET: RdbType = RdbType(2);
    pub const ZSET: RdbType = RdbType(3);
    pub const HASH: RdbType = RdbType(4);
    pub const ZSET_2: RdbType = RdbType(5);
    pub const MODULE_PRE_GA: RdbType = RdbType(6);
    pub const MODULE_2: RdbType = RdbType(7);
    pub const HASH_ZIPMAP: RdbType = RdbType(9);
    pub const LIST_ZIPLIST: RdbType = RdbType(10);
    pub const SET_INTSET: RdbType = RdbType(11);
    pub const ZSET_ZIPLIST: RdbType = RdbType(12);
    pub const HASH_ZIPLIST: RdbType = RdbType(13);
    pub const LIST_QUICKLIST: RdbType = RdbType(14);
    pub const STREAM_LISTPACKS: RdbType = RdbType(15);
    pub const HASH_LISTPACK: RdbType = RdbType(16);
    pub const ZSET_LISTPACK: RdbType = RdbType(17);
    pub const LIST_QUICKLIST_2: RdbType = RdbType(18);
    pub const STREAM_LISTPACKS_2: RdbType = RdbType(19);
    pub const SET_LISTPACK: RdbType = RdbType(20);
    pub const STREAM_LISTPACKS_3: RdbType = RdbType(21);
    /// Redis 7.4 release candidates only; in the `VALKEY` family 22 is [`RdbType::VALKEY_HASH_2`].
    pub const HASH_METADATA_PRE_GA: RdbType = RdbType(22);
    /// Redis 7.4 release candidates only.
    pub const HASH_LISTPACK_EX_PRE_GA: RdbType = RdbType(23);
    pub const HASH_METADATA: RdbType = RdbType(24);
    pub const HASH_LISTPACK_EX: RdbType = RdbType(25);
    pub const STREAM_LISTPACKS_4: RdbType = RdbType(26);
    pub const STREAM_LISTPACKS_5: RdbType = RdbType(27);
    pub const ARRAY: RdbType = RdbType(28);
    /// Valkey 9 (`VALKEY080`): a hashtable hash whose fields may carry expiry times.
    pub const VALKEY_HASH_2: RdbType = RdbType(22);
}

impl fmt::Display for RdbType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02x})", self.0, self.0)
    }
}

/// Opcodes, read where an object type byte would otherwise be.
#[allow(missing_docs)]
pub mod opcode {
    pub const VALKEY_UPDATE: u8 = 242;
    /// Redis 13+: KEY_META. Valkey 80+: SLOT_IMPORT.
    pub const KEY_META_OR_SLOT_IMPORT: u8 = 243;
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// The logical type of a key, whatever its on-disk encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// A string.
    String,
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    Zset,
    /// A hash.
    Hash,
    /// A stream.
    Stream,
    /// A module value.
    Module,
    /// A Redis 8.8 array.
    Array,
}

impl ValueType {
    /// The name Redis's `TYPE` command gives.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::Zset => "zset",
            ValueType::Hash => "hash",
            ValueType::Stream => "stream",
            ValueType::Module => "module",
            ValueType::Array => "array",
        }
    }
}

/// The on-disk encoding of a value, named after the structure it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is named after the structure; see `name()`
pub enum Encoding {
    /// A string (raw, integer or LZF encoded on disk).
    String,
    LinkedList,
    Ziplist,
    Quicklist,
    Quicklist2,
    Hashtable,
    Intset,
    Listpack,
    /// Sorted set with string-encoded scores (type 3).
    Skiplist1,
    /// Sorted set with binary scores (type 5).
    Skiplist,
    Zipmap,
    /// Hash listpack with field TTLs (Redis 7.4 types 23/25).
    ListpackEx,
    /// Hashtable hash with field TTLs (Redis 7.4 types 22/24, Valkey type 22).
    HashtableEx,
    StreamV1,
    StreamV2,
    StreamV3,
    StreamV4,
    StreamV5,
    Module,
    Array,
}

impl Encoding {
    /// A stable name for reports and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::String => "string",
            Encoding::LinkedList => "linkedlist",
            Encoding::Ziplist => "ziplist",
            Encoding::Quicklist => "quicklist",
            Encoding::Quicklist2 => "quicklist2",
            Encoding::Hashtable => "hashtable",
            Encoding::Intset => "intset",
            Encoding::Listpack => "listpack",
            Encoding::Skiplist1 => "skiplist-v1",
            Encoding::Skiplist => "skiplist",
            Encoding::Zipmap => "zipmap",
            Encoding::ListpackEx => "listpack-ex",
            Encoding::HashtableEx => "hashtable-ex",
            Encoding::StreamV1 => "stream-v1",
            Encoding::StreamV2 => "stream-v2",
            Encoding::StreamV3 => "stream-v3",
            Encoding::StreamV4 => "stream-v4",
            Encoding::StreamV5 => "stream-v5",
            Encoding::Module => "module",
            Encoding::Array => "array",
        }
    }
}

/// Decodes a module type id into its 9-character name and encoding version.
pub fn module_name(id: u64) -> ([u8; 9], u16) {
    const CSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = [0u8; 9];
    let mut bits = id >> 10;
    for i in (0..9).rev() {
        name[i] = CSET[(bits & 63) as usize];
        bits >>= 6;
    }
    (name, (id & 1023) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_ids_from_the_reference() {
        // Byte examples from the format reference §6.5 (len-encoded as 0x81 + u64 BE).
        let rejson = u64::from_be_bytes([0x45, 0xe2, 0x52, 0x38, 0xdf, 0x91, 0x2c, 0x03]);
        assert_eq!(module_name(rejson), (*b"ReJSON-RL", 3));
        let vset = u64::from_be_bytes([0xbd, 0xe7, 0x2d, 0xa2, 0xbb, 0x1e, 0xb4, 0x00]);
        assert_eq!(module_name(vset), (*b"vectorset", 0));
        let bloom = u64::from_be_bytes([0x30, 0x16, 0xe5, 0xa2, 0x89, 0xbe, 0xf8, 0x00]);
        assert_eq!(module_name(bloom), (*b"MBbloom--", 0));
    }
}
