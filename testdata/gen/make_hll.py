#!/usr/bin/env python3
"""Makes testdata/keyspace/hll.json: HyperLogLog values as real servers leave them after PFADD,
PFMERGE, PFCOUNT and PFDEBUG TODENSE/GETREG, step by step, for the byte-exact module
crates/keyspace/src/hll.rs.

Usage:
    python3 testdata/gen/make_hll.py [--server redis-7.0 --server valkey-8.1]

Every case runs on every server (a fresh server per `hll-sparse-max-bytes` setting, FLUSHALL
before each case). Each step records the command, the reply (an integer, or the error text),
whether the server counted a change (`dirty`: rdb_changes_since_last_save grew, which is what
makes the server log the command to the AOF), and the value of the key the step is about, read
with GET: its length, its encoding, and its bytes in base64 (sparse values up to FULL_MAX bytes
and a few chosen dense ones), else their SHA-256.

Arguments are JSON strings (ASCII), or objects:
    {"b64": ...}                 other bytes;
    {"range": [prefix, a, b]}    the elements prefix + str(i), a <= i < b;
    {"reg": [index, value, salt]}  the 8-byte element that raises register `index` to `value`
                                 (1..=51), made by inverting MurmurHash64A (seed 0xadc83b19) on
                                 the hash index | 1 << (13 + value) | salt << (14 + value)
                                 (just `index` for 51), checked against the forward hash;
    {"dense": {seed, choices, card, stale, len}}  a dense value whose register i is
                                 choices[i-th splitmix64 output from seed % len(choices)].
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
import redis  # noqa: E402
import servers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "testdata", "keyspace", "hll.json")
FULL_MAX = 1000  # sparse values up to this length are stored whole
MASK = (1 << 64) - 1
M = 0xC6A4A7935BD1E995
MINV = pow(M, -1, 1 << 64)
SEED = 0xADC83B19
REGISTERS = 16384
DENSE_LEN = 16 + 12288


# ----------------------------------------------------------------------------------------------
# MurmurHash64A and its inverse on 8-byte inputs.


def murmur64a(data, seed=SEED):
    h = (seed ^ (len(data) * M)) & MASK
    n = len(data) - len(data) % 8
    for i in range(0, n, 8):
        k = int.from_bytes(data[i : i + 8], "little")
        k = (k * M) & MASK
        k ^= k >> 47
        k = (k * M) & MASK
        h ^= k
        h = (h * M) & MASK
    tail = data[n:]
    if tail:
        for i, b in enumerate(tail):
            h ^= b << (8 * i)
        h = (h * M) & MASK
    h ^= h >> 47
    h = (h * M) & MASK
    h ^= h >> 47
    return h


def pattern(data):
    h = murmur64a(data)
    index = h & (REGISTERS - 1)
    rest = (h >> 14) | (1 << 50)
    return index, (rest & -rest).bit_length()


def invert8(h):
    """The 8 bytes whose MurmurHash64A (seed SEED) is h. An xorshift by 47 undoes itself."""
    h ^= h >> 47
    h = (h * MINV) & MASK
    h ^= h >> 47
    h = (h * MINV) & MASK
    k = h ^ ((SEED ^ (8 * M)) & MASK)
    k = (k * MINV) & MASK
    k ^= k >> 47
    k = (k * MINV) & MASK
    return k.to_bytes(8, "little")


def elem_bytes(index, count, salt=0):
    """The 8 bytes of an element that raises register `index` to `count` (1..=51)."""
    if count == 51:
        h = index
    else:
        h = (index | (1 << (13 + count)) | (salt << (14 + count))) & MASK
    e = invert8(h)
    assert pattern(e) == (index, count), (index, count, pattern(e))
    return e


def elem(index, count, salt=0):
    """That element as an argument: {"reg": [index, count, salt]} in the JSON file."""
    elem_bytes(index, count, salt)
    return {"reg": [index, count, salt]}


# ----------------------------------------------------------------------------------------------
# Recording.


def arg_json(a):
    if isinstance(a, dict):
        return a
    if isinstance(a, str):
        a = a.encode()
    try:
        s = a.decode("ascii")
        if s.isprintable():
            return s
    except UnicodeDecodeError:
        pass
    return {"b64": base64.b64encode(a).decode()}


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def dense_spec(seed, choices, card=0, stale=True, length=DENSE_LEN):
    """A dense value described for the JSON file: register i is
    choices[splitmix64 output i % len(choices)], with the given cache; cut to `length` bytes."""
    return {"dense": {"seed": seed, "choices": list(choices), "card": card, "stale": stale, "len": length}}


def dense_from_spec(d):
    state, regs = d["seed"], []
    for _ in range(REGISTERS):
        state, x = splitmix64(state)
        regs.append(d["choices"][x % len(d["choices"])])
    return hll_bytes(0, regs=regs, card=d["card"], stale=d["stale"])[: d["len"]]


def expand(args):
    out = []
    for a in args:
        if isinstance(a, dict) and "range" in a:
            prefix, lo, hi = a["range"]
            out.extend(f"{prefix}{i}".encode() for i in range(lo, hi))
        elif isinstance(a, dict) and "dense" in a:
            out.append(dense_from_spec(a["dense"]))
        elif isinstance(a, dict) and "reg" in a:
            out.append(elem_bytes(*a["reg"]))
        elif isinstance(a, str):
            out.append(a.encode())
        else:
            out.append(a)
    return out


def rng(prefix, lo, hi):
    return {"range": [prefix, lo, hi]}


class Case:
    def __init__(self, srv, name, sparse_max):
        self.srv = srv
        self.c = srv.client()
        self.name = name
        self.sparse_max = sparse_max
        self.steps = []
        self.keep_dense = 0  # how many more dense values (beyond FULL_MAX) to store whole
        self.c.execute_command("FLUSHALL")

    def dirty(self):
        info = self.c.execute_command("INFO", "persistence").decode()
        for line in info.splitlines():
            if line.startswith("rdb_changes_since_last_save:"):
                return int(line.split(":")[1])
        raise RuntimeError("no rdb_changes_since_last_save")

    def value(self, key):
        v = self.c.execute_command("GET", key)
        if v is None:
            return None
        d = {"len": len(v)}
        if len(v) >= 16 and v[:4] == b"HYLL" and v[4] in (0, 1):
            d["enc"] = "dense" if v[4] == 0 else "sparse"
        full = len(v) <= FULL_MAX or (d.get("enc") == "dense" and self.keep_dense > 0)
        if d.get("enc") == "dense" and full and len(v) > FULL_MAX:
            self.keep_dense -= 1
        if full:
            d["b64"] = base64.b64encode(v).decode()
        else:
            d["sha256"] = hashlib.sha256(v).hexdigest()
        return d

    def run(self, key, *args, note=None, refused=False):
        """Runs one command and records it, with the value of `key` afterwards. `refused`
        marks a step whose result depends on the byte after the end of the string, which the
        module refuses to compute (the case ends there)."""
        before = self.dirty()
        step = {"cmd": [arg_json(a) for a in args], "key": key}
        try:
            reply = self.c.execute_command(*expand(args))
            if isinstance(reply, int):
                step["reply"] = reply
        except redis.exceptions.ResponseError as e:
            step["error"] = str(e)
        step["dirty"] = self.dirty() > before
        step["value"] = self.value(key)
        if note:
            step["note"] = note
        if refused:
            step["refused"] = True
        self.steps.append(step)
        return step

    def raw(self, key):
        return self.c.execute_command("GET", key)

    def strlen(self, key):
        return self.c.execute_command("STRLEN", key)

    def done(self):
        return {
            "server": self.srv.info.name,
            "version": self.srv.info.version,
            "sparse_max_bytes": self.sparse_max,
            "name": self.name,
            "steps": self.steps,
        }


def try_add(case, key, element):
    """Length and encoding byte `key` would have after PFADD of `element` (on a copy)."""
    element = expand([element])[0]
    c = case.c
    c.execute_command("DEL", "__try")
    c.execute_command("COPY", key, "__try")
    c.execute_command("PFADD", "__try", element)
    v = c.execute_command("GET", "__try")
    c.execute_command("DEL", "__try")
    return len(v), v[4]


# ----------------------------------------------------------------------------------------------
# Cases. Each takes a Case and runs its steps.


def case_create_and_cache(k):
    k.run("h", "PFADD", "h", note="new key, no element: empty sparse, stale cache")
    k.run("h", "PFCOUNT", "h", note="stale cache: computed and stored")
    k.run("h", "PFCOUNT", "h", note="valid cache: nothing changes")
    k.run("h", "PFADD", "h", "a", "b", "c")
    k.run("h", "PFADD", "h", "a", note="no register grows: value unchanged")
    k.run("h", "PFCOUNT", "h")
    k.run("h", "PFADD", "h", "a", note="still unchanged, cache stays valid")
    tails = [bytes(range(1, n + 1)) for n in range(0, 18)]
    k.run("h", "PFADD", "h", "", b"\x00\xff", b"x" * 100, *tails, note="hash tails of 0..17 bytes")
    k.run("h", "PFCOUNT", "h")
    k.run("h2", "PFADD", "h2", "only", note="new key with one element")
    k.run("none", "PFCOUNT", "none", note="missing key: nothing")
    k.run("h2", "PFADD", "h2", "only", "only", "x", "y")
    k.run("h3", "PFADD", "h3", rng("seq:", 0, 40))
    k.run("h3", "PFCOUNT", "h3")


def case_growth(k, prefix="g:", batches=(1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300, 300, 400, 600, 1000, 3000, 10000, 30000)):
    lo = 0
    for n in batches:
        k.run("g", "PFADD", "g", rng(prefix, lo, lo + n))
        lo += n
        k.run("g", "PFCOUNT", "g")
    k.run("g", "PFADD", "g", rng(prefix, 0, 500), note="known elements: no change")
    k.run("g", "PFCOUNT", "g")
    k.run("g", "PFCOUNT", "g")


def case_threshold(k, prefix="t:"):
    """Grows a key one element at a time up to exactly hll-sparse-max-bytes, then past it."""
    limit = k.sparse_max
    c = k.c
    # Find how many elements bring the value near the limit (on a scratch key, unrecorded).
    c.execute_command("DEL", "scratch")
    n = 0
    while True:
        c.execute_command("PFADD", "scratch", f"{prefix}{n}")
        n += 1
        if c.execute_command("STRLEN", "scratch") > limit - 40:
            break
    c.execute_command("DEL", "scratch")
    k.run("t", "PFADD", "t", rng(prefix, 0, n - 1))
    i = n - 1
    hit_limit = False
    singles = 0
    while k.raw("t")[4] == 1 and singles < 200:
        length = k.strlen("t")
        if length >= limit - 3 and not hit_limit:
            # Choose an element that brings the value to exactly the limit, still sparse; else
            # one that brings it closer.
            closer = None
            for j in range(i, i + 3000):
                e = f"{prefix}{j}"
                ln, enc = try_add(k, "t", e)
                if enc == 1 and ln == limit:
                    k.run("t", "PFADD", "t", e, note="exactly hll-sparse-max-bytes: stays sparse")
                    hit_limit = True
                    i = j + 1
                    break
                if enc == 1 and length < ln < limit and closer is None:
                    closer = j
            else:
                if closer is None:
                    raise RuntimeError("no element brings the value closer to the limit")
                k.run("t", "PFADD", "t", f"{prefix}{closer}")
                i = closer + 1
                singles += 1
                continue
            # An in-place change at the limit (a VAL raised): stays sparse.
            v = k.raw("t")
            targets = sorted(vals_of_len1(v))
            for j in range(2000):
                e = elem(random.Random(j).choice(targets), 20, salt=j)
                ln, enc = try_add(k, "t", e)
                if ln == limit and enc == 1:
                    k.run("t", "PFADD", "t", e, note="VAL raised in place at the limit")
                    break
            # One that would grow it: turns dense.
            for j in range(i, i + 3000):
                e = f"{prefix}{j}"
                ln, enc = try_add(k, "t", e)
                if enc == 0:
                    k.keep_dense += limit == 3000
                    k.run("t", "PFADD", "t", e, note="past the limit: dense")
                    i = j + 1
                    break
            break
        k.run("t", "PFADD", "t", f"{prefix}{i}")
        i += 1
        singles += 1
    k.run("t", "PFCOUNT", "t")
    k.run("t", "PFADD", "t", rng(prefix, i, i + 50))
    k.run("t", "PFCOUNT", "t")


def vals_of_len1(v):
    """Registers held by VAL opcodes of run 1 in a sparse value."""
    out = set()
    p, idx = 16, 0
    while p < len(v):
        b = v[p]
        if b & 0xC0 == 0:
            idx += (b & 0x3F) + 1
            p += 1
        elif b & 0xC0 == 0x40:
            idx += (((b & 0x3F) << 8) | v[p + 1]) + 1
            p += 2
        else:
            run = (b & 3) + 1
            if run == 1 and ((b >> 2) & 0x1F) + 1 < 20:
                out.add(idx)
            idx += run
            p += 1
    return out


def case_high_registers(k):
    k.run("hr", "PFADD", "hr", "a", "b", "c")
    k.run("hr", "PFADD", "hr", elem(100, 32), note="32: the largest sparse value")
    k.run("hr", "PFADD", "hr", elem(101, 32), note="VAL 32 run of 2")
    k.run("hr", "PFCOUNT", "hr")
    k.run("hr", "PFADD", "hr", elem(200, 33), note="33: not sparse, dense")
    k.run("hr", "PFADD", "hr", elem(7, 51), elem(16383, 40), elem(0, 50), elem(1, 49))
    k.run("hr", "PFCOUNT", "hr")
    k.run("hr2", "PFADD", "hr2", elem(5, 51), note="new key straight to dense")
    k.run("hr2", "PFCOUNT", "hr2")
    k.run("hr3", "PFADD", "hr3", "x", elem(9000, 40), "y", note="dense midway through one PFADD")


def case_sparse_shapes(k):
    """Opcode splits and merges at chosen registers."""
    s = "s"
    k.run(s, "PFADD", s, elem(0, 1), note="register 0")
    k.run(s, "PFADD", s, elem(16383, 2), note="last register")
    k.run(s, "PFADD", s, elem(1, 1), note="merges with register 0: VAL 1 x2")
    k.run(s, "PFADD", s, elem(2, 1), elem(3, 1), note="run of 4")
    k.run(s, "PFADD", s, elem(4, 1), note="a fifth: new VAL")
    k.run(s, "PFADD", s, elem(2, 5), note="inside a run of 4: split")
    k.run(s, "PFADD", s, elem(2, 5, salt=3), note="same value: no change")
    k.run(s, "PFADD", s, elem(0, 3), elem(3, 3), note="first and last of runs")
    k.run(s, "PFADD", s, elem(70, 4), note="ZERO/XZERO boundary")
    k.run(s, "PFADD", s, elem(135, 4), note="gap of 64: ZERO 64")
    k.run(s, "PFADD", s, elem(201, 4), note="gap of 65: XZERO 65")
    k.run(s, "PFADD", s, elem(136, 4), elem(137, 4), elem(138, 4), note="merge right")
    k.run(s, "PFADD", s, elem(134, 4), note="merge left into a full run? no: run of 4 stays")
    k.run(s, "PFADD", s, elem(200, 4), elem(199, 4), note="merge with the one after")
    k.run(s, "PFADD", s, elem(16382, 2), elem(16381, 2), elem(16380, 2), note="end runs")
    k.run(s, "PFADD", s, elem(5, 1), note="ZERO of 1 becomes VAL")
    k.run(s, "PFADD", s, elem(6, 1), elem(7, 1), elem(8, 1), elem(9, 1))
    k.run(s, "PFADD", s, *[elem(i, 1 + i % 3) for i in range(300, 340)])
    k.run(s, "PFADD", s, *[elem(i, 2) for i in range(500, 540, 2)])
    k.run(s, "PFADD", s, *[elem(i, 2) for i in range(501, 540, 2)], note="fills the gaps: merges")
    k.run(s, "PFADD", s, *[elem(i, 7) for i in range(1000, 900, -1)], note="descending")
    k.run(s, "PFCOUNT", s)
    k.run(s, "PFADD", s, *[elem(i, 9) for i in range(8000, 8200, 3)])
    k.run(s, "PFCOUNT", s)


def hll_bytes(encoding, regs=None, card=0, stale=True, body=b"", unused=b"\0\0\0"):
    hdr = b"HYLL" + bytes([encoding]) + unused + card.to_bytes(8, "little")
    if stale:
        hdr = hdr[:15] + bytes([hdr[15] | 0x80])
    if regs is None:
        return hdr + body
    dense = bytearray(12289)
    for i, r in enumerate(regs):
        byte, fb = i * 6 // 8, (i * 6) & 7
        dense[byte] |= (r << fb) & 0xFF
        dense[byte + 1] |= r >> (8 - fb)
    return hdr + bytes(dense[:12288])


def case_crafted(k):
    """Values written with SET: non-canonical, with a valid cache, extreme, corrupt."""
    zeros64 = bytes([63]) * 256  # 256 ZERO opcodes of 64: valid but not how the server writes it
    k.run("c1", "SET", "c1", hll_bytes(1, body=zeros64))
    k.run("c1", "PFADD", "c1", elem(10, 3), elem(64, 2), elem(16383, 1))
    k.run("c1", "PFCOUNT", "c1")
    k.run("c2", "SET", "c2", hll_bytes(1, card=12345, stale=False, body=bytes([0x7F, 0xFF])))
    k.run("c2", "PFCOUNT", "c2", note="a valid cache is believed")
    k.run("c2", "PFADD", "c2", "z")
    k.run("c2", "PFCOUNT", "c2")
    k.run("c2b", "SET", "c2b", hll_bytes(1, card=777, stale=False, body=bytes([0x7F, 0xFF]), unused=b"\1\2\3"))
    k.run("c2b", "PFADD", "c2b", "q", note="unused header bytes kept")
    k.run("c2b", "PFDEBUG", "TODENSE", "c2b")
    k.run("c3", "SET", "c3", dense_spec(1, [60]))
    k.run("c3", "PFCOUNT", "c3", note="all registers 60: estimate divides by zero")
    k.run("c3", "PFADD", "c3", "a")
    k.run("c3b", "SET", "c3b", dense_spec(1, [51]))
    k.run("c3b", "PFCOUNT", "c3b")
    k.run("c4", "SET", "c4", dense_spec(7, range(64)))
    k.run("c4", "PFCOUNT", "c4", note="random registers up to 63")
    k.run("c4b", "SET", "c4b", dense_spec(8, (0, 0, 0, 1, 2)))
    k.run("c4b", "PFCOUNT", "c4b")
    k.run("c4c", "SET", "c4c", dense_spec(9, range(1, 52)))
    k.run("c4d", "SET", "c4d", dense_spec(10, (0,) * 60 + (1,), card=5, stale=False))
    k.run("c4d", "PFCOUNT", "c4d", note="valid cache on a dense value")
    k.run("c4d", "PFADD", "c4d", rng("c4d:", 0, 100))
    k.run("c4d", "PFCOUNT", "c4d")
    k.run("c4c", "PFCOUNT", "c4c")
    k.run("c5", "SET", "c5", b"HYLL\x02" + bytes(11) + bytes([0x7F, 0xFF]))
    k.run("c5", "PFADD", "c5", "a", note="unknown encoding")
    k.run("c5", "PFCOUNT", "c5")
    k.run("c6", "SET", "c6", "hello")
    k.run("c6", "PFADD", "c6", "a", note="not a HyperLogLog")
    k.run("c6", "PFMERGE", "c6", note="not a HyperLogLog")
    k.run("c6b", "SET", "c6b", "HYLL\x01 too short")
    k.run("c6b", "PFADD", "c6b", "a")
    k.run("c7", "SET", "c7", dense_spec(1, [1], length=DENSE_LEN - 1))
    k.run("c7", "PFADD", "c7", "a", note="dense of the wrong length")
    # Sparse opcodes covering only 100 registers: PFADD works below, fails above.
    k.run("c8", "SET", "c8", hll_bytes(1, body=bytes([0x40, 99])))
    k.run("c8", "PFADD", "c8", elem(50, 3), note="short sparse: register covered")
    k.run("c8", "PFADD", "c8", elem(5000, 3), note="register not covered")
    k.run("c8", "PFADD", "c8", elem(20, 40), note="dense conversion of a short sparse fails")
    k.run("c8", "PFCOUNT", "c8")
    k.run("c8", "PFDEBUG", "TODENSE", "c8")
    k.run("x", "PFMERGE", "x", "c8")
    k.run("c8", "PFMERGE", "c8")
    # Two XZERO of 16384: too many registers.
    k.run("c9", "SET", "c9", hll_bytes(1, body=bytes([0x7F, 0xFF, 0x7F, 0xFF])))
    k.run("c9", "PFADD", "c9", elem(10, 2), note="first XZERO rewritten")
    k.run("c9", "PFCOUNT", "c9")
    k.run("c10", "SET", "c10", hll_bytes(1))
    k.run("c10", "PFADD", "c10", "a", note="header only")
    k.run("c10", "PFADD", "c10", elem(3, 45))
    k.run("c10", "PFADD", "c10")
    # Non-canonical runs where the merge after a split reaches the fifth opcode it scans:
    # x x | y y y | y | y y | zeros, then register 3 raised: y z y, then y+y and y+y merged.
    tail = bytes([0x7F, 0xF7])  # XZERO 16376
    k.run("c12", "SET", "c12", hll_bytes(1, body=bytes([0x81, 0x86, 0x84, 0x85]) + tail))
    k.run("c12", "PFADD", "c12", elem(3, 5), note="fifth opcode scanned merges")
    k.run("c13", "SET", "c13", hll_bytes(1, body=bytes([0x01, 0x86, 0x84, 0x85]) + tail))
    k.run("c13", "PFADD", "c13", elem(3, 5), note="a ZERO first, fifth opcode merges")
    k.run("c14", "SET", "c14", hll_bytes(1, body=bytes([0x80] * 6) + bytes([0x7F, 0xF9])))
    k.run("c14", "PFADD", "c14", elem(1, 1, salt=1), note="no change: nothing merged")
    k.run("c14", "PFADD", "c14", elem(0, 2), note="VAL 1 raised in place, then merges")
    # The last opcode is half an XZERO: its second byte is the terminator (zero), so the
    # opcodes cover 64*3 + 63 + 16129 = 16384 registers.
    trunc = bytes([63, 63, 63, 62, 0x7F])
    k.run("c11", "SET", "c11", hll_bytes(1, body=trunc))
    k.run("c11", "PFCOUNT", "c11", note="half an XZERO at the end, read with the terminator")
    k.run("c11", "PFADD", "c11", elem(10, 2), note="changed before the half opcode")
    k.run("c11", "PFCOUNT", "c11")
    k.run("c11m", "PFMERGE", "c11m", "c11")
    k.run("hd", "SET", "hd", dense_spec(12, (0,) * 20 + (1, 2, 40, 63)))
    k.run("c11d", "PFMERGE", "c11d", "c11", "hd")
    k.run("c11", "PFADD", "c11", elem(300, 2), note="half XZERO split: a byte lands past the end", refused=True)


def case_merge(k):
    k.run("sa", "PFADD", "sa", rng("m:", 0, 50))
    k.run("sb", "PFADD", "sb", rng("m:", 25, 80))
    k.run("sc", "PFADD", "sc", rng("n:", 0, 30))
    k.run("da", "PFADD", "da", rng("d:", 0, 5000))
    k.run("d1", "PFMERGE", "d1", note="no dest, no source: empty sparse")
    k.run("d2", "PFMERGE", "d2", "nokey1", "nokey2", note="missing sources")
    k.run("d3", "PFMERGE", "d3", "sa", "sb", note="sparse + sparse into a new key")
    k.run("d3", "PFCOUNT", "d3")
    k.run("d3", "PFMERGE", "d3", "d3", note="dest alone, cache valid before")
    k.run("sa", "PFMERGE", "sa", "sa", "sb", note="dest among the sources")
    k.run("sb", "PFMERGE", "sb", "sc", "nokey", note="sparse dest + sparse + missing")
    k.run("sb", "PFCOUNT", "sb")
    k.keep_dense += k.sparse_max == 3000
    k.run("d4", "PFMERGE", "d4", "sa", "da", note="sparse + dense into a new key")
    k.run("sc", "PFCOUNT", "sc")
    k.run("sc", "PFMERGE", "sc", "sc", "da", note="sparse dest made dense, header kept")
    k.run("da", "PFMERGE", "da", "sa", note="dense dest + sparse")
    k.run("da", "PFMERGE", "da", "nokey", note="dense dest, missing source")
    k.run("da", "PFCOUNT", "da")
    k.run("da", "PFMERGE", "da")
    k.run("s1", "PFADD", "s1", rng("u:", 0, 900))
    k.run("s2", "PFADD", "s2", rng("v:", 0, 900))
    k.run("d5", "PFMERGE", "d5", "s1", "s2", note="sparse inputs outgrow the limit: dense on the way")
    k.run("s3", "PFADD", "s3", *[elem(i, 1 + i % 5) for i in range(0, 16384, 97)])
    k.run("s4", "PFADD", "s4", *[elem(i, 6 - i % 5) for i in range(0, 16384, 97)])
    k.run("s4", "PFADD", "s4", *[elem(i, 3) for i in range(50, 16384, 131)])
    k.run("s3", "PFMERGE", "s3", "s4", note="VAL raised in the dest, new ones inserted")
    k.run("s3", "PFMERGE", "s3", "s3", "s3", "s4")
    k.run("s5", "PFADD", "s5", elem(400, 32))
    k.run("s6", "PFADD", "s6", elem(400, 31), elem(401, 32))
    k.run("s5", "PFMERGE", "s5", "s6")
    k.run("bad", "SET", "bad", "nope")
    k.run("d6", "PFMERGE", "d6", "sa", "bad", note="a source that is not a HyperLogLog")
    k.run("da", "PFMERGE", "da", "bad")


def case_pfdebug(k):
    k.run("p", "PFADD", "p", rng("p:", 0, 100))
    k.run("p", "PFCOUNT", "p")
    k.run("p", "PFDEBUG", "TODENSE", "p", note="cache kept as it is")
    k.run("p", "PFDEBUG", "TODENSE", "p", note="already dense: nothing")
    k.run("p2", "PFADD", "p2", rng("p:", 0, 10))
    k.run("p2", "PFDEBUG", "GETREG", "p2", note="GETREG also makes it dense")
    k.run("p2", "PFDEBUG", "GETREG", "p2")
    k.run("p2", "PFCOUNT", "p2")
    k.run("p3", "PFADD", "p3", "x")
    k.run("p3", "PFDEBUG", "ENCODING", "p3")
    k.run("p3", "PFDEBUG", "DECODE", "p3")


def case_merge_dense_src(k):
    """Crafted dense sources (register values up to 63) merged into sparse destinations."""
    k.run("hrd", "SET", "hrd", dense_spec(11, (0,) * 20 + (1, 2, 40, 63)))
    k.run("ms", "PFADD", "ms", rng("k:", 0, 20))
    k.run("ms", "PFCOUNT", "ms")
    k.run("ms", "PFMERGE", "ms", "hrd")
    k.run("ms", "PFCOUNT", "ms")


CASES = [
    ("create_and_cache", case_create_and_cache, (3000,)),
    ("growth", case_growth, (3000, 300)),
    ("threshold", case_threshold, (3000, 300)),
    ("high_registers", case_high_registers, (3000,)),
    ("sparse_shapes", case_sparse_shapes, (3000, 40)),
    ("crafted", case_crafted, (3000,)),
    ("merge", case_merge, (3000, 300)),
    ("merge_dense_source", case_merge_dense_src, (3000,)),
    ("pfdebug", case_pfdebug, (3000,)),
]


def run_server(name):
    out = []
    settings = sorted({m for _, _, ms in CASES for m in ms}, reverse=True)
    for sparse_max in settings:
        extra = [f"hll-sparse-max-bytes {sparse_max}"]
        with servers.running_server(name, extra_config=extra) as srv:
            for case_name, fn, maxes in CASES:
                if sparse_max not in maxes:
                    continue
                random.seed(f"{case_name}/{sparse_max}")
                k = Case(srv, case_name, sparse_max)
                fn(k)
                out.append(k.done())
                print(f"{name} {case_name} (max {sparse_max}): {len(k.steps)} steps", file=sys.stderr)
    return out


def dumps(doc):
    """The document with one line per step."""
    j = lambda x: json.dumps(x, separators=(",", ":"))  # noqa: E731
    head = {k: v for k, v in doc.items() if k != "cases"}
    out = [j(head)[:-1] + ',"cases":[']
    for n, case in enumerate(doc["cases"]):
        meta = {k: v for k, v in case.items() if k != "steps"}
        out.append(j(meta)[:-1] + ',"steps":[')
        out.append(",\n".join(j(s) for s in case["steps"]))
        out.append("]}" + ("," if n + 1 < len(doc["cases"]) else ""))
    out.append("]}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", choices=["redis-7.0", "valkey-8.1"])
    args = ap.parse_args()
    names = args.server or ["redis-7.0", "valkey-8.1"]
    cases, versions = [], {}
    for name in names:
        path = servers.find_server(name)
        if not path:
            print(f"{name}: not installed, skipped", file=sys.stderr)
            continue
        versions[name] = servers.version_line(path)
        cases.extend(run_server(name))
    doc = {
        "generator": "testdata/gen/make_hll.py",
        "generated": datetime.date.today().isoformat(),
        "servers": versions,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(dumps(doc))
    print(f"{OUT}: {os.path.getsize(OUT)} bytes, {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
