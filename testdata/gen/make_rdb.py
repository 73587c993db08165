#!/usr/bin/env python3
"""Write small RDB files with real servers, each with a truth file read from the live server.

For every installed server (see servers.py) and every case below: start a fresh server, FLUSHALL,
build the keys, check OBJECT ENCODING of every key against what the case expects, SAVE, copy
dump.rdb to testdata/rdb/<server>-<version>/<case>.rdb, read the dataset back from the server
into <case>.truth.json, then load the file into a second fresh server of the same version and
check that it reads back identically.

Usage: make_rdb.py [--server redis-7.0 ...] [--case hash_listpack ...]
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402
import truth  # noqa: E402

ROOT = servers.ROOT
RDB_DIR = os.path.join(ROOT, "testdata", "rdb")

# 2100-01-01T00:00:00Z in ms: every expiry is FAR + a small number, so files stay valid for long.
FAR = 4102444800000
MAX_FILE_BYTES = 100 * 1024

# Integers around every ziplist/listpack/intset/RDB integer-encoding boundary.
INT_EDGES = [
    0, 1, 12, 13, 63, 64, 127, 128, 255, 256, -1, -12, -13, -63, -64, -65, -127, -128, -129,
    4095, 4096, -4095, -4096, -4097, 8191, 8192, -8192, 32767, 32768, -32768, -32769, 65535,
    65536, 8388607, 8388608, -8388608, -8388609, 16777215, 16777216, 2147483647, 2147483648,
    -2147483648, -2147483649, 4294967295, 4294967296, 140737488355327, 9223372036854775806,
    9223372036854775807, -9223372036854775807, -9223372036854775808,
]
# Strings that look like integers but are not canonical int64 text (must stay strings).
NEAR_INTS = [
    b"9223372036854775808", b"-9223372036854775809", b"007", b"-0", b"+1", b"1.0", b" 1",
    b"1 ", b"0x10", b"1e3", b"", b"--1",
]


def rnd_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def text(n, seed=0):
    """Deterministic compressible text of exactly n bytes."""
    words = b"the quick brown fox jumps over the lazy dog while redis saves its data to disk ".split()
    rng = random.Random(seed)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += b"%s %d " % (words[rng.randrange(len(words))], i % 97)
        i += 1
    return bytes(out[:n])


def compressible(n, seed=0):
    """Deterministic, highly compressible bytes: a 512-byte text block repeated with a counter."""
    block = text(512, seed)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += b"[%06d]" % i + block
        i += 1
    return bytes(out[:n])


def b(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class Builder:
    """What a case's build function gets: commands on the server, and the expectations."""

    def __init__(self, srv):
        self.srv = srv
        self.info = srv.info
        self.want = {}  # (db, key) -> expected OBJECT ENCODING (a str, or a set of allowed ones)
        self.ttl = {}  # (db, key) -> expiry the case set (checked against what the server says)
        self.notes = []

    def r(self, *args, db=0):
        return self.srv.client(db).execute_command(*args)

    def expect(self, key, encoding, db=0):
        self.want[(db, b(key))] = encoding

    def pexpireat(self, key, when, db=0):
        assert self.r("PEXPIREAT", key, when, db=db) == 1
        self.ttl[(db, b(key))] = when

    def ql_nodes(self, key, db=0):
        """Number of quicklist nodes (and the compress depth) from DEBUG OBJECT."""
        words = self.r("DEBUG", "OBJECT", key, db=db).decode().split()
        fields = dict(w.split(":", 1) for w in words if ":" in w)
        return int(fields["ql_nodes"]), int(fields["ql_compressed"])

    # Encoding names that differ by version.
    @property
    def pack(self):
        """Small hashes and zsets: ziplist before 7.0, listpack from 7.0."""
        return "listpack" if self.info.at_least(7, 0) else "ziplist"

    @property
    def small_list(self):
        """Small lists: always quicklist before 7.2; listpack from 7.2 (and Valkey)."""
        return "listpack" if self.info.at_least(7, 2) else "quicklist"

    @property
    def small_string_set(self):
        return "listpack" if self.info.at_least(7, 2) else "hashtable"

    # Builders that record the expected encoding as they go.
    def set_string(self, key, value, encoding, db=0):
        assert self.r("SET", key, value, db=db) == b"OK"
        self.expect(key, encoding, db)

    def rpush(self, key, items, encoding, db=0, chunk=200):
        for i in range(0, len(items), chunk):
            self.r("RPUSH", key, *items[i:i + chunk], db=db)
        self.expect(key, encoding, db)

    def sadd(self, key, members, encoding, db=0):
        self.r("SADD", key, *members, db=db)
        self.expect(key, encoding, db)

    def zadd(self, key, pairs, encoding, db=0):
        args = []
        for member, score in pairs:
            args += [score, member]
        for i in range(0, len(args), 400):
            self.r("ZADD", key, *args[i:i + 400], db=db)
        self.expect(key, encoding, db)

    def hset(self, key, pairs, encoding, db=0):
        args = []
        for field, value in pairs:
            args += [field, value]
        for i in range(0, len(args), 400):
            self.r("HSET", key, *args[i:i + 400], db=db)
        self.expect(key, encoding, db)

    def xadd(self, key, entry_id, fields, db=0):
        args = []
        for field, value in fields:
            args += [field, value]
        return self.r("XADD", key, entry_id, *args, db=db)


# ---------------------------------------------------------------------------------------------
# Strings


def build_string_int(x):
    for v in INT_EDGES + [9, 10, 99, 100, 9999, 10000, 99999999999, 12345678901, -1234567890]:
        x.set_string(f"int:{v}", v, "int")
    x.r("INCR", "int:counter")
    x.r("INCRBY", "int:counter", 41)
    x.expect("int:counter", "int")
    x.r("DECRBY", "int:decr", 9223372036854775807)
    x.expect("int:decr", "int")


def build_string_embstr(x):
    values = {
        "str:empty": b"",
        "str:a": b"a",
        "str:hello": b"hello world",
        "str:binary": bytes([0, 1, 2, 0xFF, 0xFE, 0x80, 0x7F, 0x0D, 0x0A]) + b"abc\x00",
        "str:utf8": "h\u00e9llo w\u00f6rld \u2713".encode(),
        "str:exactly20": b"a" * 20,  # longest string the writer never tries to compress
        "str:21-random": rnd_bytes(21, 21),  # LZF attempted, not kept
        "str:20-digits": b"12345678901234567890",  # does not fit int64
    }
    for i, near in enumerate(NEAR_INTS):
        if near:
            values[f"str:near-int:{i}"] = near
    # Longest embstr: 44 bytes in Redis; Valkey 8 embeds the key too, so key + value <= 41.
    key = "str:longest"
    values[key] = b"L" * (41 - len(key) if x.info.is_valkey else 44)
    for k, v in values.items():
        x.set_string(k, v, "embstr")


def build_string_raw(x):
    for n in (45, 64, 100, 1000, 5000):
        x.set_string(f"raw:random-{n}", rnd_bytes(1000 + n, n), "raw")
    x.r("SET", "raw:append", "abc")
    x.r("APPEND", "raw:append", "def")  # APPEND makes a raw string even when short
    x.expect("raw:append", "raw")
    x.r("SETRANGE", "raw:setrange", 5, "xyz")  # zero-filled prefix
    x.expect("raw:setrange", "raw")
    x.set_string("raw:binary-zeros", b"\x00" * 3 + rnd_bytes(7, 60), "raw")


def build_string_lzf(x):
    # Strings longer than 20 bytes that LZF shrinks by at least 4 bytes are stored compressed.
    either = {"embstr", "raw"}
    x.set_string("lzf:21", b"b" * 21, either)
    x.set_string("lzf:40", b"ab" * 20, either)
    x.set_string("lzf:text-300", text(300, 1), "raw")
    x.set_string("lzf:runs", (b"\x00" * 500 + b"\xff" * 500 + rnd_bytes(3, 40)) * 2, "raw")
    x.set_string("lzf:100k", compressible(100 * 1024, 2), "raw")
    x.set_string("lzf:random-not-compressed", rnd_bytes(99, 300), "raw")  # for contrast


def value_first_byte(data, key):
    """The first byte of a top-level string key's value in the saved file, found by searching for
    the key's record header (type 0, 1-byte length, key bytes); used to confirm LZF (0xC3)."""
    marker = b"\x00" + bytes([len(key)]) + key
    at = data.find(marker)
    assert at >= 0 and data.find(marker, at + 1) < 0, key
    return data[at + len(marker)]


def check_string_lzf(data):
    for key in (b"lzf:21", b"lzf:40", b"lzf:text-300", b"lzf:runs", b"lzf:100k"):
        assert value_first_byte(data, key) == 0xC3, f"{key!r} not LZF-compressed in the file"
    assert value_first_byte(data, b"lzf:random-not-compressed") != 0xC3
    assert len(data) < 10000, "the 100 KiB string was not compressed"


def check_string_embstr(data):
    assert value_first_byte(data, b"str:21-random") == 21  # plain length: LZF did not pay off
    assert value_first_byte(data, b"str:exactly20") == 20


def check_misc_lfu(data):
    for value in (0, 1, 5, 42, 100, 254, 255):
        key = b"freq:%d" % value
        pattern = b"\xf9" + re.escape(bytes([value])) + b"." + re.escape(bytes([len(key)]) + key)
        assert re.search(pattern, data, re.S), f"no FREQ {value} before {key!r}"


# ---------------------------------------------------------------------------------------------
# Lists


def small_list_keys(x, enc):
    x.rpush("list:ints", INT_EDGES, enc)
    x.rpush("list:near-ints", NEAR_INTS, enc)
    lengths = [0, 1, 12, 13, 63, 64, 65, 127, 128, 255, 256, 1000]
    x.rpush("list:str-lengths", [text(n, n) for n in lengths], enc)
    x.rpush("list:binary", [b"\x00bin\xff", b"", b"\r\n", rnd_bytes(5, 30)], enc)
    x.rpush("list:one", [b"only"], enc)
    x.r("LPUSH", "list:lpush", "c", "b", "a", 3, 2, 1)
    x.expect("list:lpush", enc)


def build_list_small(x):
    small_list_keys(x, x.small_list)
    if x.small_list == "quicklist":
        for key in ("list:ints", "list:str-lengths", "list:one"):
            assert x.ql_nodes(key) == (1, 0), key


def build_list_quicklist(x):
    # Many nodes without megabytes of truth: at most 32 entries per node for these two lists
    # (node boundaries are kept in the file; the setting is not).
    x.r("CONFIG", "SET", "list-max-ziplist-size", 32)
    x.rpush("list:many", [b"item-%04d" % i for i in range(300)], "quicklist")
    x.rpush("list:ints-many", INT_EDGES * 4, "quicklist")
    x.r("CONFIG", "SET", "list-max-ziplist-size", -2)
    # Elements > 8 KB (each in its own node) and around the string-length boundaries of the node
    # format: 4095/4096 for listpack (12-bit / 32-bit), 16383/16384 for ziplist (14-bit / 32-bit).
    if x.info.at_least(7, 0):
        big = [b"before", compressible(4095, 11), compressible(4096, 12), rnd_bytes(13, 8200),
               compressible(70000, 16), b"after"]
    else:
        big = [b"before", rnd_bytes(13, 8200), compressible(16383, 14), compressible(16384, 15),
               compressible(70000, 16), b"after"]
    x.rpush("list:big-elements", big, "quicklist")
    assert x.ql_nodes("list:many")[0] == 10
    assert x.ql_nodes("list:ints-many")[0] == 7
    assert x.ql_nodes("list:big-elements")[0] >= 5


def build_list_quicklist_compressed(x):
    # list-compress-depth 1 (server config): inner nodes are kept LZF-compressed and saved as such.
    # With list-max-ziplist-size 64 (server config): 5 nodes, the 3 inner ones compressed.
    x.rpush("list:compressed", [text(30, i) for i in range(320)], "quicklist")
    x.rpush("list:compressed-ints", INT_EDGES * 6, "quicklist")
    x.rpush("list:two-nodes", [text(40, i) for i in range(100)], "quicklist")  # nothing inner
    assert x.ql_nodes("list:compressed") == (5, 1), x.ql_nodes("list:compressed")
    assert x.ql_nodes("list:compressed-ints") == (5, 1)
    assert x.ql_nodes("list:two-nodes") == (2, 1)


def build_list_quicklist_plain(x):
    # Elements >= the packed threshold go to PLAIN nodes (one raw element per node, 7.0+).
    assert x.r("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 1000) == b"OK"
    items = [b"head", rnd_bytes(21, 1500), b"mid", compressible(5000, 22), b"tail", text(1000, 23),
             text(999, 24), b"end"]
    x.rpush("list:plain", items, "quicklist")
    x.r("LPUSH", "list:plain-lpush", compressible(9000, 25), b"small")
    x.expect("list:plain-lpush", "quicklist")
    # head | PLAIN 1500 | mid | PLAIN 5000 | tail | PLAIN 1000 | 999 + end: 7 nodes only if
    # the three large elements went to PLAIN nodes (packed, they would share 2-3 nodes)
    assert x.ql_nodes("list:plain") == (7, 0), x.ql_nodes("list:plain")
    assert x.ql_nodes("list:plain-lpush") == (2, 0)


# ---------------------------------------------------------------------------------------------
# Sets


def build_set_intset(x):
    x.sadd("set:int16", [1, 2, 3, -300, 32767, -32768, 0], "intset")
    x.sadd("set:int32", [1, 32768, -32769, 2147483647, -2147483648], "intset")
    x.sadd("set:int64", [1, 2147483648, -2147483649, 9223372036854775807, -9223372036854775808], "intset")
    x.sadd("set:one", [42], "intset")
    x.sadd("set:512", list(range(-256, 256)), "intset")  # the most an intset holds by default


def build_set_listpack(x):
    x.sadd("set:strings", [b"apple", b"banana", b"cherry", b"", b"\x00\xff"], "listpack")
    x.sadd("set:mixed", [1, 2, b"three", -5, 9223372036854775807, b"007"], "listpack")
    x.sadd("set:128", [b"m%03d" % i for i in range(128)], "listpack")
    x.sadd("set:64-byte-member", [b"x" * 64, b"y"], "listpack")


def build_set_hashtable(x):
    x.sadd("set:long-member", [b"x" * 65, b"y"], "hashtable")
    x.sadd("set:129-strings", [b"member-%04d" % i for i in range(129)], "hashtable")
    x.sadd("set:513-ints", list(range(513)), "hashtable")
    if x.small_string_set == "hashtable":  # before 7.2 any non-integer member means hashtable
        x.sadd("set:strings-small", [b"apple", b"banana", b"", b"\x00\xff"], "hashtable")


# ---------------------------------------------------------------------------------------------
# Sorted sets

ZSCORES = [
    (b"zero", "0"), (b"neg-zero", "-0"), (b"one", "1"), (b"minus-one", "-1"), (b"one-half", "1.5"),
    (b"neg-frac", "-2.25"), (b"point-one", "0.1"), (b"huge", "1e100"), (b"tiny", "-1.5e-07"),
    (b"plus-inf", "+inf"), (b"minus-inf", "-inf"), (b"2^53+1", "9007199254740993"),
    (b"2^63", "9223372036854775808"), (b"int-big", "123456789012"), (b"denormal", "5e-324"),
    (b"max", "1.7976931348623157e308"), (b"third", "0.3333333333333333"),
    (b"", "7"), (b"\x00bin\xff", "8"), (b"12345", "9"), (b"-5", "10"), (b"9223372036854775807", "11"),
]


def build_zset_small(x):
    x.zadd("zset:scores", ZSCORES, x.pack)
    x.zadd("zset:same-score", [(b"a", 5), (b"b", 5), (b"c", 5)], x.pack)
    x.zadd("zset:one", [(b"only", 1)], x.pack)
    x.zadd("zset:128", [(b"m%03d" % i, i * 0.5) for i in range(128)], x.pack)
    x.zadd("zset:64-byte-member", [(b"m" * 64, 1), (b"s", 2)], x.pack)
    x.r("ZINCRBY", "zset:incr", "1.1", "a")
    x.r("ZINCRBY", "zset:incr", "2.2", "a")
    x.expect("zset:incr", x.pack)


def build_zset_skiplist(x):
    rng = random.Random(7)
    pairs = [(b"zm-%04d" % i, repr(rng.uniform(-1e6, 1e6))) for i in range(150)]
    x.zadd("zset:150", pairs + [(b"inf", "inf"), (b"-inf", "-inf"), (b"zero", 0)], "skiplist")
    x.zadd("zset:long-member", [(b"m" * 65, 1), (b"short", 2)], "skiplist")
    x.zadd("zset:scores", ZSCORES + [(b"long" * 20, 1)], "skiplist")


# ---------------------------------------------------------------------------------------------
# Hashes


def build_hash_small(x):
    pairs = [(b"int-%d" % i, v) for i, v in enumerate(INT_EDGES)]
    pairs += [(b"near-%d" % i, v) for i, v in enumerate(NEAR_INTS)]
    pairs += [(b"", b"empty field"), (b"empty", b""), (b"bin\x00", b"\xff\xfe"), (b"12", b"twelve")]
    x.hset("hash:small", pairs, x.pack)
    x.hset("hash:one", [(b"f", b"v")], x.pack)
    x.hset("hash:64-byte-value", [(b"f", b"v" * 64), (b"g" * 64, b"1")], x.pack)
    x.hset("hash:512", [(b"f%03d" % i, i) for i in range(512)], x.pack)
    x.r("HINCRBY", "hash:counter", "n", 41)
    x.r("HINCRBY", "hash:counter", "n", 1)
    x.r("HINCRBYFLOAT", "hash:counter", "f", "1.5")
    x.expect("hash:counter", x.pack)


def build_hash_hashtable(x):
    x.hset("hash:long-value", [(b"f", b"v" * 65), (b"g", b"short"), (b"n", 12345)], "hashtable")
    x.hset("hash:long-field", [(b"f" * 65, b"v")], "hashtable")
    x.hset("hash:513", [(b"field-%04d" % i, i - 256) for i in range(513)], "hashtable")
    x.hset("hash:ints", [(i, v) for i, v in enumerate(INT_EDGES)] + [(b"big", b"b" * 100)], "hashtable")


# ---------------------------------------------------------------------------------------------
# Streams

T0 = 1700000000000  # stream ids and PEL delivery times use fixed ms values


def claim_fixed(x, key, group, consumer, ids, base_time, key_db=0):
    """Give pending entries fixed delivery times and counts (XCLAIM TIME/RETRYCOUNT)."""
    for i, entry_id in enumerate(ids):
        x.r("XCLAIM", key, group, consumer, 0, entry_id, "TIME", base_time + i,
            "RETRYCOUNT", 1 + i % 4, "JUSTID", db=key_db)


def build_stream_main(x):
    key = "stream:main"
    ids = []
    for i in range(250):
        entry_id = f"{T0 + i // 3}-{i % 3}"
        if i == 17:
            fields = [(b"field%02d" % j, b"value-%d-%d" % (i, j)) for j in range(20)]
        elif i % 10 == 3:
            fields = [(b"temp", 20 + i % 15), (b"humidity", -i), (b"extra", b"e%d" % i)]
        elif i % 10 == 7:
            fields = [(b"humidity", -i), (b"temp", 20 + i % 15)]  # same fields, other order
        elif i % 10 == 9:
            fields = [(b"note", [b"", b"\x00\xff", text(100, i), b"-12"][i % 4])]
        else:
            fields = [(b"temp", 20 + i % 15), (b"humidity", -i)]  # same fields as the master entry
        x.xadd(key, entry_id, fields)
        ids.append(entry_id)
    # Delete the first entry, a run in the middle, a node's first entry and the last entry.
    x.r("XDEL", key, ids[0], ids[5], ids[100], *ids[120:131], ids[249])
    x.expect(key, "stream")

    for i in range(100):
        x.xadd("stream:trimmed", f"{T0 + 100 + i}-0", [(b"i", i)])
    x.r("XTRIM", "stream:trimmed", "MAXLEN", 10)  # exact trim
    x.expect("stream:trimmed", "stream")

    if x.info.at_least(6, 2):
        for i in range(1, 4):
            x.xadd("stream:minid", f"{i}-1", [(b"a", i)])
        x.r("XTRIM", "stream:minid", "MINID", "2-1")
        x.expect("stream:minid", "stream")

    x.xadd("stream:setid", "1-1", [(b"a", b"b")])
    if x.info.at_least(7, 0):
        x.r("XSETID", "stream:setid", "99-99", "ENTRIESADDED", 50, "MAXDELETEDID", "50-0")
    else:
        x.r("XSETID", "stream:setid", "99-99")
    x.expect("stream:setid", "stream")

    x.xadd("stream:bigid", "18446744073709551614-18446744073709551614", [(b"x", b"y")])
    x.expect("stream:bigid", "stream")

    x.xadd("stream:binary", "5-0", [(b"\x00", b"\xff" * 3), (b"", b""), (b"long", text(200, 5))])
    x.xadd("stream:binary", "5-1", [(b"\x00", b"x"), (b"", b"y"), (b"long", b"z")])
    x.expect("stream:binary", "stream")


def build_stream_groups(x):
    key = "stream:groups"
    ids = [x.xadd(key, f"{T0 + i}-0", [(b"n", i), (b"s", b"v%d" % i)]).decode() for i in range(30)]
    x.r("XGROUP", "CREATE", key, "g1", "0")
    c1 = x.r("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 10, "STREAMS", key, ">")
    c2 = x.r("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 5, "STREAMS", key, ">")
    alice = [e[0].decode() for e in c1[0][1]]
    bob = [e[0].decode() for e in c2[0][1]]
    x.r("XACK", key, "g1", *alice[:4])
    claim_fixed(x, key, "g1", "alice", alice[4:], T0 + 1000)
    claim_fixed(x, key, "g1", "bob", bob, T0 + 2000)
    # carol: a consumer with nothing pending
    if x.info.at_least(6, 2):
        x.r("XGROUP", "CREATECONSUMER", key, "g1", "carol")
    else:
        x.r("XREADGROUP", "GROUP", "g1", "carol", "COUNT", 1, "STREAMS", key, "0")
    # g2 at the end of the stream, no reads; g3 read with NOACK (no PEL)
    x.r("XGROUP", "CREATE", key, "g2", "$")
    x.r("XGROUP", "CREATE", key, "g3", ids[9])
    x.r("XREADGROUP", "GROUP", "g3", "dave", "COUNT", 7, "NOACK", "STREAMS", key, ">")
    # a binary group name and consumer name
    x.r("XGROUP", "CREATE", key, b"g\x00\xff", "0")
    got = x.r("XREADGROUP", "GROUP", b"g\x00\xff", b"c\x00\xfe", "COUNT", 2, "STREAMS", key, ">")
    claim_fixed(x, key, b"g\x00\xff", b"c\x00\xfe", [e[0].decode() for e in got[0][1]], T0 + 3000)
    if x.info.at_least(7, 0):
        x.r("XGROUP", "CREATE", key, "g4", ids[19], "ENTRIESREAD", 20)
    # a pending entry that was deleted from the stream afterwards
    x.r("XDEL", key, bob[0])
    x.expect(key, "stream")

    x.r("XGROUP", "CREATE", "stream:empty-with-group", "g", "$", "MKSTREAM")
    x.expect("stream:empty-with-group", "stream")

    x.xadd("stream:acked", "1-0", [(b"k", b"v")])
    x.r("XGROUP", "CREATE", "stream:acked", "g", "0")
    x.r("XREADGROUP", "GROUP", "g", "c", "STREAMS", "stream:acked", ">")
    x.r("XACK", "stream:acked", "g", "1-0")
    x.expect("stream:acked", "stream")


def build_stream_empty(x):
    x.xadd("stream:all-deleted", "10-1", [(b"a", 1)])
    x.xadd("stream:all-deleted", "10-2", [(b"a", 2)])
    x.r("XDEL", "stream:all-deleted", "10-1", "10-2")
    x.expect("stream:all-deleted", "stream")

    for i in range(5):
        x.xadd("stream:trimmed-to-zero", f"20-{i}", [(b"a", i)])
    x.r("XTRIM", "stream:trimmed-to-zero", "MAXLEN", 0)
    x.expect("stream:trimmed-to-zero", "stream")

    x.r("XGROUP", "CREATE", "stream:mkstream-no-group", "g", "$", "MKSTREAM")
    x.r("XGROUP", "DESTROY", "stream:mkstream-no-group", "g")
    x.expect("stream:mkstream-no-group", "stream")


# ---------------------------------------------------------------------------------------------
# Keys, expiries, databases, eviction metadata, functions


def build_misc_expiry(x):
    x.set_string("ttl:string", b"v", "embstr")
    x.rpush("ttl:list", [b"a", b"b"], x.small_list)
    x.sadd("ttl:set", [1, 2], "intset")
    x.zadd("ttl:zset", [(b"a", 1)], x.pack)
    x.hset("ttl:hash", [(b"f", b"v")], x.pack)
    x.xadd("ttl:stream", "1-1", [(b"f", b"v")])
    x.expect("ttl:stream", "stream")
    x.set_string("ttl:int", 7, "int")
    for n, key in enumerate(["ttl:string", "ttl:list", "ttl:set", "ttl:zset", "ttl:hash",
                             "ttl:stream", "ttl:int"]):
        x.pexpireat(key, FAR + n)
    x.set_string("ttl:odd-ms", b"v", "embstr")
    x.pexpireat("ttl:odd-ms", FAR + 86400000 * 365 + 123)
    x.set_string("ttl:persisted", b"v", "embstr")
    x.r("PEXPIREAT", "ttl:persisted", FAR + 99)
    x.r("PERSIST", "ttl:persisted")
    x.set_string("ttl:none", b"v", "embstr")


def build_misc_multidb(x):
    for db in (0, 1, 15):
        x.set_string("same-name", b"value in db %d" % db, "embstr", db=db)
        x.set_string(f"db{db}:int", db, "int", db=db)
        x.rpush(f"db{db}:list", [b"x", db], x.small_list, db=db)
        x.hset(f"db{db}:hash", [(b"db", db)], x.pack, db=db)
    x.set_string("db1:ttl", b"v", "embstr", db=1)
    x.pexpireat("db1:ttl", FAR + 1, db=1)
    x.set_string("db15:ttl", b"v", "embstr", db=15)
    x.pexpireat("db15:ttl", FAR + 15, db=15)
    x.sadd("db15:set", [1, 2, 3], "intset", db=15)
    x.xadd("db15:stream", "15-15", [(b"db", 15)], db=15)
    x.expect("db15:stream", "stream", db=15)


def build_misc_keys(x):
    keys = [b"", b"key:\x00\xff\xfe", b"0", b"1", b"-1", b"123", b"127", b"128", b"-128", b"-129",
            b"32767", b"32768", b"-32769", b"2147483647", b"2147483648", b"-2147483649",
            b"9223372036854775807", b"007", b"-0", b"+1", b" key with spaces ", b"\r\n\t",
            b"quote'\"\\", "\u00e9\u2713".encode(), b"k" * 1000, rnd_bytes(31, 300)]
    for i, key in enumerate(keys):
        # Valkey 8 embeds the key in the object: a long key makes even a short value raw.
        x.set_string(key, b"v%d" % i, {"embstr", "raw"} if x.info.is_valkey else "embstr")
    x.hset(b"42", [(b"f", b"v")], x.pack)
    x.rpush(b"-7", [b"x"], x.small_list)


def restore_with(x, key, build, option, value, encoding):
    """Create a key, then DUMP + RESTORE it with IDLETIME/FREQ so the metadata is fixed."""
    build(key)
    payload = x.r("DUMP", key)
    x.r("DEL", key)
    assert x.r("RESTORE", key, 0, payload, option, value) == b"OK"
    x.expect(key, encoding)


def metadata_keys(x, option, values):
    makers = [
        (lambda k: x.r("SET", k, "string value"), "embstr"),
        (lambda k: x.r("RPUSH", k, "a", "b"), x.small_list),
        (lambda k: x.r("SADD", k, 1, 2), "intset"),
        (lambda k: x.r("ZADD", k, 1, "a"), x.pack),
        (lambda k: x.r("HSET", k, "f", "v"), x.pack),
        (lambda k: x.r("XADD", k, "1-1", "f", "v"), "stream"),
    ]
    for i, value in enumerate(values):
        build, encoding = makers[i % len(makers)]
        restore_with(x, f"{option.lower()}:{value}", build, option, value, encoding)
    x.r("SET", "plain-set", 1)  # created by SET and not touched again
    x.expect("plain-set", "int")


def build_misc_lfu(x):
    metadata_keys(x, "FREQ", [0, 1, 5, 42, 100, 254, 255])


def build_misc_lru(x):
    metadata_keys(x, "IDLETIME", [0, 1, 60, 3600, 16384, 86400])


LIB_MAIN = """#!lua name=redkitlib
local function echo_first(keys, args)
  return args[1]
end
local function incr_by_two(keys, args)
  return redis.call('INCRBY', keys[1], 2)
end
redis.register_function{function_name='redkit_echo', callback=echo_first, flags={'no-writes', 'allow-stale'}, description='echo first arg'}
redis.register_function('redkit_incr2', incr_by_two)
"""

LIB_SECOND = """#!lua name=redkitlib2
redis.register_function{function_name='redkit_time', callback=function() return redis.call('TIME') end, flags={'no-writes'}}
"""


def build_function_lua(x):
    assert x.r("FUNCTION", "LOAD", LIB_MAIN) == b"redkitlib"
    assert x.r("FUNCTION", "LOAD", LIB_SECOND) == b"redkitlib2"
    assert x.r("FCALL", "redkit_incr2", 1, "fcall:counter") == 2
    x.expect("fcall:counter", "int")


def build_mixed_all(x):
    x.set_string("str:int", 12345, "int")
    x.set_string("str:big-int", 9223372036854775807, "int")
    x.set_string("str:short", b"hello", "embstr")
    x.set_string("str:flipme", b"FLIPME-FLIPME-FLIP", "embstr")  # base of crc_flipped_byte
    x.set_string("str:empty", b"", "embstr")
    x.set_string("str:raw", rnd_bytes(41, 80), "raw")
    x.set_string("str:lzf", text(300, 41), "raw")
    x.set_string(b"key:\x00\xff\xfe", b"binary key", "embstr")
    x.rpush("list:small", [b"a", 1, -300, 70000, b"", 9223372036854775807], x.small_list)
    x.rpush("list:quicklist", [b"item-%05d" % i for i in range(1000)], "quicklist")
    assert x.ql_nodes("list:quicklist")[0] >= 2
    x.sadd("set:intset", [1, 2, 70000, -9223372036854775808], "intset")
    x.sadd("set:small", [b"a", b"b", b"c"], x.small_string_set)
    x.sadd("set:hashtable", [b"member-%04d" % i for i in range(200)], "hashtable")
    x.zadd("zset:small", [(b"a", 1), (b"b", "2.5"), (b"c", "-inf")], x.pack)
    x.zadd("zset:skiplist", [(b"zm-%04d" % i, i * 1.25) for i in range(140)], "skiplist")
    x.hset("hash:small", [(b"a", 1), (b"b", b"two")], x.pack)
    x.hset("hash:hashtable", [(b"f", b"v" * 100)], "hashtable")
    for i in range(120):
        x.xadd("stream:s", f"{T0 + i}-0", [(b"i", i)] if i % 5 else [(b"i", i), (b"x", b"y")])
    x.r("XDEL", "stream:s", f"{T0 + 3}-0")
    x.r("XGROUP", "CREATE", "stream:s", "g", "0")
    got = x.r("XREADGROUP", "GROUP", "g", "c1", "COUNT", 3, "STREAMS", "stream:s", ">")
    claim_fixed(x, "stream:s", "g", "c1", [e[0].decode() for e in got[0][1]], T0 + 5000)
    x.expect("stream:s", "stream")
    x.set_string("ttl:string", b"v", "embstr")
    x.pexpireat("ttl:string", FAR + 1)
    x.hset("ttl:hash", [(b"f", 1)], x.pack)
    x.pexpireat("ttl:hash", FAR + 2)
    x.set_string("db1:string", b"in db 1", "embstr", db=1)
    x.zadd("db1:zset", [(b"m", 1)], x.pack, db=1)
    x.set_string("db15:int", 15, "int", db=15)
    x.pexpireat("db15:int", FAR + 15, db=15)
    if x.info.at_least(7, 0):
        assert x.r("FUNCTION", "LOAD", LIB_MAIN) == b"redkitlib"


# ---------------------------------------------------------------------------------------------
# The cases


class Case:
    def __init__(self, name, description, build, when=lambda info: True, config=(), name_for=None,
                 check_file=None):
        self.name = name  # file name without .rdb; name_for(info) may override it
        self.description = description
        self.build = build
        self.check_file = check_file  # byte-level sanity check of the saved file (marker search)
        self.when = when
        self.config = list(config)
        self.name_for = name_for

    def file_name(self, info):
        return (self.name_for(info) if self.name_for else self.name) + ".rdb"


def v(*version):
    return lambda info: info.at_least(*version)


def pack_name(kind):
    return lambda info: f"{kind}_{'listpack' if info.at_least(7, 0) else 'ziplist'}"


CASES = [
    Case("string_int", "int-encoded strings at every RDB integer-encoding boundary (INT8/16/32 and "
         "plain text above 32 bits), INCR/DECRBY results", build_string_int),
    Case("string_embstr", "embstr strings: empty, binary, UTF-8, non-canonical integers, 20 and 21 "
         "byte values (21 incompressible), the longest embstr", build_string_embstr,
         check_file=check_string_embstr),
    Case("string_raw", "raw strings: incompressible random bytes 45..5000, APPEND and SETRANGE "
         "results", build_string_raw),
    Case("string_lzf", "strings stored LZF-compressed (21, 40, 300, 2040 bytes and a 100 KiB text), "
         "plus an incompressible one for contrast", build_string_lzf, check_file=check_string_lzf),
    Case("list_small", "small lists in one node: integers of every ziplist/listpack integer width "
         "(incl. negative 13/24-bit and 64-bit extremes), non-canonical integers, string lengths "
         "around the 6/12/14-bit length boundaries", build_list_small,
         name_for=lambda info: "list_listpack" if info.at_least(7, 2) else "list_quicklist_small"),
    Case("list_quicklist", "quicklists with many nodes (300 items in 10 nodes and 200 integers in "
         "7 nodes, built with list-max-ziplist-size 32), elements of "
         "8200 random bytes and 70000 compressible bytes in their own nodes, and 4095/4096-byte "
         "(listpack, 7.0+) or 16383/16384-byte (ziplist, 6.x) elements", build_list_quicklist),
    Case("list_quicklist_compressed", "quicklists written with list-compress-depth 1 and "
         "list-max-ziplist-size 64: inner nodes saved as the node's LZF blob (5 nodes, 3 compressed; "
         "a 2-node list with none compressed)", build_list_quicklist_compressed,
         config=["list-compress-depth 1", "list-max-ziplist-size 64"]),
    Case("list_quicklist_plain", "quicklist PLAIN nodes: DEBUG QUICKLIST-PACKED-THRESHOLD 1000, "
         "elements of >= 1000 bytes stored as plain nodes", build_list_quicklist_plain, when=v(7, 0)),
    Case("set_intset", "intsets of 16-, 32- and 64-bit width, a 512-member intset", build_set_intset),
    Case("set_listpack", "listpack sets: strings, mixed integers and strings, 128 members, a "
         "64-byte member", build_set_listpack, when=v(7, 2)),
    Case("set_hashtable", "hashtable sets: a 65-byte member, 129 strings, 513 integers (and small "
         "string sets where those are hashtables)", build_set_hashtable),
    Case("zset_small", "small sorted sets: integer, negative, fractional, -0, 1e100, denormal, "
         "max double, inf/-inf scores; integer-looking and binary members",
         build_zset_small, name_for=pack_name("zset")),
    Case("zset_skiplist", "skiplist sorted sets (binary double scores): 153 members, a 65-byte "
         "member, every special score", build_zset_skiplist),
    Case("hash_small", "small hashes: integer-looking values of every width, empty field and "
         "value, binary, 512 fields, HINCRBY/HINCRBYFLOAT", build_hash_small,
         name_for=pack_name("hash")),
    Case("hash_hashtable", "hashtable hashes: 65-byte value, 65-byte field, 513 fields, integer "
         "field names", build_hash_hashtable),
    Case("stream_stream", "streams: 250 entries in 3 nodes with master-field (SAMEFIELDS) and "
         "explicit-field entries, XDEL (first, middle run, last), XTRIM MAXLEN/MINID, XSETID, "
         "a maximal id, binary fields", build_stream_main),
    Case("stream_stream_groups", "stream consumer groups: PEL with fixed delivery times and counts "
         "(XCLAIM TIME/RETRYCOUNT), several consumers, a consumer without PEL, a NOACK group, "
         "binary group/consumer names, a pending entry deleted by XDEL, an empty stream with a "
         "group, a fully acknowledged group", build_stream_groups),
    Case("stream_stream_empty", "empty streams: all entries deleted by XDEL, trimmed to 0, "
         "created by MKSTREAM with the group destroyed", build_stream_empty),
    Case("misc_expiry", "keys of every type with PEXPIREAT far in the future, a PERSISTed key",
         build_misc_expiry),
    Case("misc_multidb", "keys in databases 0, 1 and 15 (the same key name in each)",
         build_misc_multidb),
    Case("misc_keys", "binary, empty, integer-looking (INT-encoded on disk), long (LZF-compressed "
         "on disk) and random keys", build_misc_keys),
    Case("misc_lfu", "maxmemory-policy allkeys-lfu: a FREQ opcode before every key (values set "
         "with RESTORE ... FREQ; lfu-decay-time 0 so they do not decay)", build_misc_lfu,
         check_file=check_misc_lfu,
         config=["maxmemory-policy allkeys-lfu", "lfu-decay-time 0"]),
    Case("misc_lru", "maxmemory-policy allkeys-lru: an IDLE opcode before every key (values set "
         "with RESTORE ... IDLETIME; idle_s is approximate)", build_misc_lru,
         config=["maxmemory-policy allkeys-lru"]),
    Case("function_lua", "two Lua function libraries (FUNCTION LOAD) and a key written by FCALL",
         build_function_lua, when=v(7, 0)),
    Case("mixed_all", "a bit of everything: every type and encoding, TTLs, databases 0/1/15, a "
         "binary key, a function library where supported (base for testdata/corrupt)",
         build_mixed_all),
]


# ---------------------------------------------------------------------------------------------
# Running a case


def check_encodings(x, meta):
    problems = []
    for (db, key), m in sorted(meta.items()):
        want = x.want.get((db, key))
        if want is None:
            problems.append(f"db {db} key {key!r}: not expected by the case")
        elif m["encoding"] not in (want if isinstance(want, set) else {want}):
            problems.append(f"db {db} key {key!r}: OBJECT ENCODING {m['encoding']}, expected {want}")
    for (db, key) in x.want:
        if (db, key) not in meta:
            problems.append(f"db {db} key {key!r}: missing")
    if problems:
        raise AssertionError("\n".join(problems))


def compare(written, reloaded, written_funcs, reloaded_funcs):
    """Differences between the dataset read from the writer and from the reloaded file."""
    diffs = []
    encoding_changes = {}
    by_key = {(k["db"], k["key"]): k for k in reloaded}
    if len(written) != len(reloaded):
        diffs.append(f"key count {len(written)} != {len(reloaded)} after reload")
    for w in written:
        r = by_key.get((w["db"], w["key"]))
        label = f"{w['db']}:{w['key_repr']}"
        if r is None:
            diffs.append(f"{label}: missing after reload")
            continue
        if r["encoding"] != w["encoding"]:
            encoding_changes[label] = r["encoding"]
        for field in w:
            if field in ("encoding", "idle_s"):
                continue
            if w[field] != r.get(field):
                diffs.append(f"{label}: {field} differs after reload")
        if "idle_s" in w and not (w["idle_s"] <= r["idle_s"] <= w["idle_s"] + 5):
            diffs.append(f"{label}: idle_s {w['idle_s']} -> {r['idle_s']} after reload")
    if written_funcs != reloaded_funcs:
        diffs.append("functions differ after reload")
    return diffs, encoding_changes


def run_case(info, case, out_dir):
    file_name = case.file_name(info)
    rdb_out = os.path.join(out_dir, file_name)
    with servers.running_server(info, case.config) as srv:
        x = Builder(srv)
        srv.client().execute_command("FLUSHALL")
        if info.at_least(7, 0):
            srv.client().execute_command("FUNCTION", "FLUSH")
        case.build(x)
        meta = truth.snapshot_meta(srv)  # OBJECT ENCODING/FREQ/IDLETIME: none of them touch keys
        check_encodings(x, meta)
        assert srv.client().execute_command("SAVE") == b"OK"
        shutil.copyfile(srv.rdb_path, rdb_out)
        query_time = truth.server_time_ms(srv)
        keys = truth.read_dataset(srv, meta)
        functions = truth.read_functions(srv)
    for k in keys:
        want = x.ttl.get((k["db"], bytes.fromhex(k["key"])))
        assert k["expire_at_ms"] == want, (file_name, k["key_repr"], k["expire_at_ms"], want)

    with servers.running_server(info, case.config, rdb_file=rdb_out) as again:
        reloaded = truth.read_dataset(again, truth.snapshot_meta(again))
        reloaded_functions = truth.read_functions(again)
    diffs, encoding_changes = compare(keys, reloaded, functions, reloaded_functions)
    if diffs:
        raise AssertionError(f"{info.dir_name}/{file_name} did not reload identically:\n" + "\n".join(diffs))

    with open(rdb_out, "rb") as f:
        data = f.read()
    magic = data[:9]
    assert magic[:5] == b"REDIS" and magic[5:].isdigit(), magic
    assert len(data) < MAX_FILE_BYTES, (file_name, len(data))
    if case.check_file:
        case.check_file(data)

    notes = list(truth.NOTES)
    if not info.at_least(7, 0):
        notes.append("expire_at_ms: this server has no PEXPIRETIME; read as PTTL + TIME in one Lua call "
                     "(minimum of several samples) and checked against the PEXPIREAT value the script set")
    if any("idle_s" in k for k in keys):
        notes.append("idle_s is OBJECT IDLETIME read just before SAVE: approximate (1 s resolution; the "
                     "IDLE value in the file is the idle time at SAVE)")
    if any("freq" in k for k in keys):
        notes.append("freq is OBJECT FREQ read just before SAVE (lfu-decay-time 0, so it equals the "
                     "FREQ byte)")
    if any(k["type"] == "stream" for k in keys):
        notes.append("PEL delivery times and counts are fixed with XCLAIM TIME/RETRYCOUNT; consumer "
                     "seen/active times are the time the file was made")
    doc = {
        "file": file_name,
        "server": info.dir_name,
        "server_version_line": info.version_line,
        "rdb_version": int(magic[5:]),
        "description": case.description,
        "server_args": case.config,
        "verified_by_reload": True,
        "verification_differences": [],
        "encoding_after_reload_if_different": encoding_changes,
        "notes": notes,
        "query_time_ms": query_time,
        "keys": keys,
    }
    if functions is not None:
        doc["functions"] = functions
    with open(rdb_out[:-4] + ".truth.json", "w") as f:
        f.write(truth.dumps(doc))
    return file_name, len(data), sorted({(k["type"], k["encoding"]) for k in keys})


# ---------------------------------------------------------------------------------------------
# Corpus copies and redis-check-rdb verdicts


def corpus_dir():
    for candidate in (os.path.join(os.path.dirname(ROOT), "shared", "corpus"), "/work/shared/corpus"):
        if os.path.isdir(candidate):
            return candidate
    return None


def copy_corpus():
    src_root = corpus_dir()
    if not src_root:
        print("corpus not found; keeping the copies already in testdata/rdb", file=sys.stderr)
        return
    for server in ("redis-7.2.6", "redis-7.4.1"):
        src = os.path.join(src_root, server, "rdb")
        dst = os.path.join(RDB_DIR, server)
        os.makedirs(dst, exist_ok=True)
        for name in sorted(os.listdir(src)):
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
            os.chmod(os.path.join(dst, name), 0o644)


def check_rdb(path):
    """(exit code, the checker's verdict line) of /usr/bin/redis-check-rdb on `path`."""
    checker = shutil.which("redis-check-rdb") or "/usr/bin/redis-check-rdb"
    proc = subprocess.run([checker, path], capture_output=True, text=True, errors="replace", timeout=120)
    lines = (proc.stdout + proc.stderr).splitlines()
    verdict = ""
    for i, line in enumerate(lines):
        if "RDB ERROR DETECTED" in line and i + 1 < len(lines):
            verdict = lines[i + 1].strip()
            break
        if "RDB looks OK" in line:
            verdict = line.strip()
    return proc.returncode, verdict


def checker_version():
    checker = shutil.which("redis-check-rdb") or "/usr/bin/redis-check-rdb"
    out = subprocess.run([checker, "--version"], capture_output=True, text=True).stdout.strip()
    return out


def write_verdicts():
    verdicts = {}
    for server in sorted(os.listdir(RDB_DIR)):
        d = os.path.join(RDB_DIR, server)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith(".rdb"):
                code, verdict = check_rdb(os.path.join(d, name))
                verdicts[f"{server}/{name}"] = {"redis_check_rdb_exit": code, "message": verdict}
    doc = {
        "checker": checker_version(),
        "description": "exit code and verdict line of redis-check-rdb (Debian redis-tools 7.0.15) on "
                       "every file under testdata/rdb; 7.0 refuses RDB versions above 10",
        "files": verdicts,
    }
    with open(os.path.join(RDB_DIR, "verdicts.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return verdicts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", action="append", help="server name (default: all installed)")
    ap.add_argument("--case", action="append", help="case name (default: all)")
    args = ap.parse_args()

    names = args.server or list(servers.NAMES)
    infos = servers.available_servers(names)
    missing = [n for n in names if n not in {i.name for i in infos}]
    for name in missing:
        print(f"{name}: not installed, skipped (run scripts/install-servers.sh)", file=sys.stderr)

    for info in infos:
        out_dir = os.path.join(RDB_DIR, info.dir_name)
        os.makedirs(out_dir, exist_ok=True)
        if not args.case:  # a full run replaces the directory's files
            for name in os.listdir(out_dir):
                if name.endswith(".rdb") or name.endswith(".truth.json"):
                    os.remove(os.path.join(out_dir, name))
        for case in CASES:
            if args.case and case.name not in args.case and case.file_name(info)[:-4] not in args.case:
                continue
            if not case.when(info):
                continue
            file_name, size, kinds = run_case(info, case, out_dir)
            print(f"{info.dir_name}/{file_name:34} {size:7d} B  "
                  + ", ".join(f"{t}:{e}" for t, e in kinds))
    if not args.case and not args.server:
        copy_corpus()
    write_verdicts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
