#!/usr/bin/env python3
"""Makes testdata/keyspace/commands.json: short command sequences run on real servers with AOF
on, each with exactly the commands the server logged for it and the dataset it left, for the
per-command replay test `crates/redkit/tests/commands.rs` (`redkit aof-to-rdb` of the logged
commands must give that dataset).

Usage:
    python3 testdata/gen/make_command_cases.py [--server NAME ...] [--case SUBSTRING ...]
                                               [--update] [--show]

    --server  redis-7.0 and/or valkey-8.1 (default: both; one that is not installed is an error)
    --case    only the cases whose name contains one of these (the fixture is not written)
    --update  with --case: replace (or add) those cases in the existing fixture, the others
              kept as they are
    --show    print each step, its reply and what it logged (implies not writing)

Each server runs with `appendonly yes`, `appendfsync always`, `aof-use-rdb-preamble yes` and
`enable-debug-command yes` (automatic rewrites off). Before each case: SELECT 0, FLUSHALL,
FUNCTION FLUSH and SCRIPT FLUSH. Then each step is sent and its reply read; with `appendfsync
always` the server has written what a command logs to the AOF before it replies, so the bytes
appended to the incr file during a step are what that step logged (read and parsed from RESP).
A step on a second connection (`Send2`) is sent without waiting for its reply (a blocking pop),
which a later `Recv2` step reads: what the server logs when another client serves it is logged
by that client's step.

After the last step the dataset is read with truth.read_keys (and the function libraries with
truth.read_functions for the function cases), then again after DEBUG LOADAOF: the server
loading its own log, which is what a replay must match. The log does not always carry the whole
live state: Redis 7.0 logs no entries-read for what XREADGROUP delivers, neither server logs the
delivery count that reading a consumer's own pending entries again adds, and Valkey 8.1 logs no
consumer that XREADGROUP, XCLAIM or XAUTOCLAIM creates without delivering to it. The server time
is recorded too: logged expiries are absolute, and a key whose logged expiry is at or before
that time is one the server no longer shows.

commands.json:
    servers: {name: version}                      e.g. {"redis-7.0": "7.0.15", ...}
    notes: [...]
    cases: [{
        name: "family/what", family, note (optional),
        config: {name: value} (optional), CONFIG SET for the case only,
        steps: [argv | {"conn2": argv} | {"conn2_reply": true}], where an argument "$DUMP"
               stands for the reply of the last DUMP or FUNCTION DUMP step,
        runs: {server: {
            replies: [...],        one per step: int, string, null, list, {"error": text}
            logged: [[argv, ...]], one list per step: the commands the server logged for it
            keys: [...],           truth.read_keys after the case (db, key hex, type,
                                   expire_at_ms, value)
            reloaded: [...],       only where it differs from `keys` (consumers' seen and
                                   active times, lags and node layouts aside): the dataset of
                                   the same server after DEBUG LOADAOF, i.e. loading its own
                                   log. The replay must give this one.
            functions: [...],      truth.read_functions, for the function cases only
            end_ms: N,             the server's time after the case, unix ms
            expect: absent (the replay gives `reloaded`, else `keys`) |
                    {"refused": NAME, "reason": ...}  the replay stops at the first logged
                                                      command starting with the words of NAME
                                                      (exit 1), by design |
                    {"differs": reason}               a known difference of the replay
        }}}]
    An argument is a JSON string when its bytes are UTF-8, else {"hex": ...}.

Everything is deterministic but the server's clock (and which members SPOP takes, which the
log names): explicit stream ids except where `*` is the point, relative TTLs of at least
1000 s (never firing).
"""
import argparse
import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
import truth  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "testdata", "keyspace", "commands.json")
SERVER_NAMES = ("redis-7.0", "valkey-8.1")
CONFIG = [
    "appendonly yes",
    "appendfsync always",
    "aof-use-rdb-preamble yes",
    "auto-aof-rewrite-percentage 0",
    'appenddirname "appendonlydir"',
    "enable-debug-command yes",
]
FAR_S = 4102444800  # 2100-01-01T00:00:00Z
FAR_MS = FAR_S * 1000
# Commands that may log some effects and still answer an error (a script or a transaction
# whose later command failed).
PARTIAL = {b"EXEC", b"EVAL", b"EVALSHA", b"FCALL"}


# ----------------------------------------------------------------------------------------------
# A RESP connection that sends exactly the given arguments.


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _fill(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return {"error": rest.decode(errors="replace")}
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            self._fill(n + 2)
            data, self.buf = self.buf[:n], self.buf[n + 2 :]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(f"unexpected reply line {line!r}")

    def call(self, args):
        self.send(args)
        return self.read()


def parse_log(data):
    """The commands (lists of bytes) in RESP bytes as the server appends them to its AOF."""
    out, i = [], 0
    while i < len(data):
        assert data[i : i + 1] == b"*", data[i : i + 40]
        j = data.index(b"\r\n", i)
        n, i = int(data[i + 1 : j]), j + 2
        args = []
        for _ in range(n):
            assert data[i : i + 1] == b"$", data[i : i + 40]
            j = data.index(b"\r\n", i)
            size, i = int(data[i + 1 : j]), j + 2
            args.append(data[i : i + size])
            i += size + 2
        out.append(args)
    return out


def incr_file(server_dir):
    """The incr file named by the AOF manifest."""
    d = os.path.join(server_dir, "appendonlydir")
    manifest = [f for f in os.listdir(d) if f.endswith(".manifest")][0]
    with open(os.path.join(d, manifest)) as f:
        for line in f:
            words = line.split()  # file NAME seq N type b|h|i
            fields = dict(zip(words[::2], words[1::2]))
            if fields.get("type") == "i":
                return os.path.join(d, fields["file"])
    raise RuntimeError("no incr file in the manifest")


# ----------------------------------------------------------------------------------------------
# Cases.


class Send2:
    """Sends a command on the second connection without reading its reply."""

    def __init__(self, line):
        self.args = argv(line)


class Recv2:
    """Reads the reply of the command sent by the last Send2."""


class Refused:
    """The replay stops at the logged command `name`, by design."""

    def __init__(self, name, reason):
        self.name, self.reason = name, reason


class Differs:
    """A known difference between the replay and the server."""

    def __init__(self, reason):
        self.reason = reason


class Case:
    def __init__(self, family, name, steps, note=None, expect=None, functions=False, config=None):
        self.family = family
        self.config = config or {}  # CONFIG SET for this case only
        self.name = f"{family}/{name}"
        self.steps = steps
        self.note = note
        self.expect = expect  # None, Refused, Differs, or {server: Refused | Differs}
        self.functions = functions


def argv(line):
    """A step's arguments: a list as given (str or bytes), or a line split on spaces, where
    '' is the empty string."""
    if isinstance(line, (list, tuple)):
        return [a if isinstance(a, bytes) else str(a).encode() for a in line]
    return [b"" if w == "''" else w.encode() for w in line.split()]


def steps_of(spec):
    """Steps from a multi-line string (one command a line) or a list of lines, lists, Send2
    and Recv2."""
    if isinstance(spec, str):
        spec = [line for line in spec.strip().splitlines() if line.strip()]
    out = []
    for s in spec:
        if isinstance(s, (Send2, Recv2)):
            out.append(s)
        else:
            out.append(argv(s))
    return out


CASES = []


def case(family, name, spec, note=None, expect=None, functions=False, config=None):
    assert all(c.name != f"{family}/{name}" for c in CASES), name
    CASES.append(Case(family, name, steps_of(spec), note, expect, functions, config))


# ----- strings ------------------------------------------------------------------------------

S = "strings"
case(S, "set", "SET k v\nSET k v2\nSET '' empty-key\nSET e ''")
case(S, "set_binary", [["SET", b"\x00\xff\r\n", b"\x80\x81\x00"], ["SET", "int", "12345"]])
case(S, "set_nx_absent", "SET k v NX")
case(S, "set_nx_present", "SET k old\nSET k new NX")
case(S, "set_xx_absent", "SET k v XX")
case(S, "set_xx_present", "SET k old EX 5000\nSET k new XX")
case(S, "set_get_absent", "SET k v GET")
case(S, "set_get_present", "SET k old\nSET k new GET")
case(S, "set_nx_get", "SET k old\nSET k new NX GET\nSET j new NX GET")
case(S, "set_xx_get_absent", "SET k new XX GET")
case(S, "set_ex", "SET k v EX 5000")
case(S, "set_px", "SET k v PX 5000000")
case(S, "set_exat", f"SET k v EXAT {FAR_S}")
case(S, "set_pxat", f"SET k v PXAT {FAR_MS + 7}")
case(S, "set_keepttl", "SET k v EX 5000\nSET k v2 KEEPTTL")
case(S, "set_keepttl_no_ttl", "SET k v\nSET k v2 KEEPTTL\nSET j v KEEPTTL")
case(S, "set_clears_ttl", "SET k v EX 5000\nSET k v2")
case(S, "set_nx_ex", "SET k v NX EX 5000\nSET k v2 NX EX 9000")
case(S, "set_xx_px_get", "SET k v EX 5000\nSET k v2 XX PX 9000000 GET")
case(S, "set_exat_past", "SET k v EXAT 1\nSET j v\nSET j v2 PXAT 100",
     note="an expiry in the past: Redis 7.0 logs SET ... PXAT past, then the DEL of the expired key")
case(S, "set_over_other_types", "RPUSH k a\nSET k v\nHSET h f v\nSET h v EX 5000")
case(S, "set_ex_zero", "SET k v\nSET k v2 EX 0")
case(S, "set_ex_negative", "SET k v EX -5")
case(S, "set_ex_overflow", "SET k v EX 9223372036854775807")
case(S, "set_ex_not_integer", "SET k v EX 1.5")
case(S, "set_nx_xx", "SET k v NX XX")
case(S, "set_ex_keepttl", "SET k v EX 10 KEEPTTL")
case(S, "set_get_wrongtype", "RPUSH k a\nSET k v GET")
case(S, "set_arity", "SET k")
case(S, "setnx", "SETNX k v\nSETNX k v2\nSET t v EX 5000\nSETNX t v3")
case(S, "setex", "SETEX k 5000 v\nSET j v\nSETEX j 9000 v2")
case(S, "psetex", "PSETEX k 5000000 v")
case(S, "setex_zero", "SET k v\nSETEX k 0 v2")
case(S, "setex_not_integer", "SETEX k ten v")
case(S, "getset", "GETSET k v\nSET t old EX 5000\nGETSET t new")
case(S, "getset_wrongtype", "SADD k a\nGETSET k v")
case(S, "getdel", "SET k v EX 5000\nGETDEL k\nGETDEL missing")
case(S, "getdel_wrongtype", "RPUSH k a\nGETDEL k")
case(S, "getex_ex", "SET k v\nGETEX k EX 5000")
case(S, "getex_px", "SET k v\nGETEX k PX 5000000")
case(S, "getex_exat", f"SET k v\nGETEX k EXAT {FAR_S + 3}")
case(S, "getex_pxat", f"SET k v\nGETEX k PXAT {FAR_MS + 3}")
case(S, "getex_persist", "SET k v EX 5000\nGETEX k PERSIST\nSET j v\nGETEX j PERSIST")
case(S, "getex_plain", "SET k v EX 5000\nGETEX k\nGETEX missing EX 100")
case(S, "getex_exat_past", "SET k v\nGETEX k EXAT 1")
case(S, "getex_ex_zero", "SET k v\nGETEX k EX 0")
case(S, "getex_two_options", "SET k v\nGETEX k EX 100 PERSIST")
case(S, "mset", "SET a old EX 5000\nMSET a 1 b 2 c 3")
case(S, "mset_same_key", "MSET k 1 k 2 k 3")
case(S, "mset_odd", "MSET a 1 b")
case(S, "msetnx_all_absent", "MSETNX a 1 b 2")
case(S, "msetnx_one_present", "SET b x\nMSETNX a 1 b 2")
case(S, "append", "APPEND k abc\nAPPEND k def\nAPPEND k ''\nAPPEND e ''")
case(S, "append_int", "SET k 12\nAPPEND k 34\nSET t v EX 5000\nAPPEND t w")
case(S, "append_wrongtype", "HSET k f v\nAPPEND k x")
case(S, "setrange_middle", "SET k hello\nSETRANGE k 1 EL")
case(S, "setrange_past_end", "SET k abc\nSETRANGE k 6 xyz")
case(S, "setrange_absent", "SETRANGE k 3 ab")
case(S, "setrange_absent_empty", "SETRANGE k 3 ''\nSETRANGE j 0 ''")
case(S, "setrange_existing_empty", "SET k abc\nSETRANGE k 10 ''\nSETRANGE k 0 ''")
case(S, "setrange_keeps_ttl", "SET k abc EX 5000\nSETRANGE k 0 x")
case(S, "setrange_negative", "SET k abc\nSETRANGE k -1 x")
case(S, "setrange_too_far", "SETRANGE k 536870912 x")
case(S, "setrange_wrongtype", "SADD k a\nSETRANGE k 0 x")
case(S, "incr", "INCR k\nINCR k\nSET j 10\nINCR j")
case(S, "decr", "DECR k\nSET j -9\nDECR j")
case(S, "incrby", "INCRBY k 100\nINCRBY k -250\nINCRBY k 0")
case(S, "decrby", "DECRBY k 5\nDECRBY k -20")
case(S, "incr_keeps_ttl", "SET k 5 EX 5000\nINCR k\nINCRBY k 10")
case(S, "incr_max", "SET k 9223372036854775806\nINCR k\nINCR k")
case(S, "incr_min", "SET k -9223372036854775807\nDECR k\nDECR k")
case(S, "decrby_min", "SET k 0\nDECRBY k -9223372036854775808")
case(S, "incrby_overflow", "SET k 1\nINCRBY k 9223372036854775807")
case(S, "incr_not_integer", ["SET k abc", "INCR k", "SET j 1.5", "INCR j", ["SET", "s", " 1"], "INCR s"])
case(S, "incr_leading_zero", "SET k 007\nINCR k\nSET j -0\nINCR j\nSET p +1\nINCR p")
case(S, "incr_wrongtype", "RPUSH k a\nINCR k")
case(S, "incrby_not_integer", "INCRBY k 1.0\nINCRBY k abc")
case(S, "incrbyfloat", "INCRBYFLOAT k 1.5\nINCRBYFLOAT k 0.25\nINCRBYFLOAT k -10")
case(S, "incrbyfloat_exponent", "INCRBYFLOAT k 1.5e3\nINCRBYFLOAT j 5.0e3\nINCRBYFLOAT n 1e-5\nINCRBYFLOAT m 2E2")
case(S, "incrbyfloat_on_integer", "SET k 10\nINCRBYFLOAT k 0.1\nSET j 3.0\nINCRBYFLOAT j 1")
case(S, "incrbyfloat_precision", "SET k 0.1\nINCRBYFLOAT k 0.2\nSET j 10.5\nINCRBYFLOAT j 0.1")
case(S, "incrbyfloat_keeps_ttl", "SET k 1 EX 5000\nINCRBYFLOAT k 2.5")
case(S, "incrbyfloat_inf", "INCRBYFLOAT k inf\nSET j 1\nINCRBYFLOAT j nan")
case(S, "incrbyfloat_overflow", "SET k 1e308\nINCRBYFLOAT k 1e308")
case(S, "incrbyfloat_not_float", "SET k abc\nINCRBYFLOAT k 1")
case(S, "setbit_grow", "SETBIT k 0 1\nSETBIT k 7 1\nSETBIT k 100 1")
case(S, "setbit_zero_absent", "SETBIT k 20 0")
case(S, "setbit_clear", [["SET", "k", b"\xff\xff"], "SETBIT k 0 0", "SETBIT k 15 0"])
case(S, "setbit_keeps_ttl", "SET k a EX 5000\nSETBIT k 1 0")
case(S, "setbit_bad_value", "SETBIT k 0 2")
case(S, "setbit_bad_offset", "SETBIT k -1 1\nSETBIT k 4294967296 1")
case(S, "setbit_wrongtype", "RPUSH k a\nSETBIT k 0 1")
case(S, "bitop_and", [["SET", "a", b"\xff\xf0\xaa"], ["SET", "b", b"\x0f"], "BITOP AND d a b"])
case(S, "bitop_or", [["SET", "a", b"\x01"], ["SET", "b", b"\x10\x20\x30"], "BITOP OR d a b missing"])
case(S, "bitop_xor", "SET a abc\nSET b abcdef\nBITOP XOR d a b")
case(S, "bitop_not", [["SET", "a", b"\x0f\xf0"], "BITOP NOT d a"])
case(S, "bitop_dest_is_source", [["SET", "a", "ab"], ["SET", "b", b"\x01"], "BITOP XOR a a b"])
case(S, "bitop_all_missing", "SET d old EX 5000\nBITOP OR d m1 m2")
case(S, "bitop_replaces_ttl", "SET d old EX 5000\nSET a x\nBITOP AND d a")
case(S, "bitop_empty_source", "SET a ''\nSET d old\nBITOP NOT d a")
case(S, "bitop_and_missing", [["SET", "a", b"\xff\xff"], "BITOP AND d a missing"])
case(S, "bitop_not_two_keys", "SET a x\nSET b y\nBITOP NOT d a b")
case(S, "bitop_wrongtype", "SET a x\nRPUSH b y\nBITOP AND d a b")
case(S, "bitop_bad_op", "SET a x\nBITOP NAND d a")
case(S, "bitfield_set", "BITFIELD k SET u8 0 255 SET i8 8 -1 SET u4 #4 9")
case(S, "bitfield_incrby_wrap", "BITFIELD k INCRBY u2 0 5 INCRBY i5 10 20 INCRBY i5 10 -40")
case(S, "bitfield_incrby_sat", "BITFIELD k OVERFLOW SAT INCRBY u2 0 5 INCRBY i5 10 20 INCRBY i5 10 -70")
case(S, "bitfield_incrby_fail", "BITFIELD k SET u8 0 250 OVERFLOW FAIL INCRBY u8 0 10 INCRBY u8 0 1")
case(S, "bitfield_fail_only", "SET k x\nBITFIELD k OVERFLOW FAIL INCRBY u2 0 10")
case(S, "bitfield_overflow_switch",
     "BITFIELD k OVERFLOW SAT SET i8 0 300 OVERFLOW WRAP SET i8 8 300 OVERFLOW FAIL SET i8 16 300",
     note="the string grows to the last field written, even when OVERFLOW FAIL skips that write")
case(S, "bitfield_i64", "BITFIELD k SET i64 0 -9223372036854775808 INCRBY i64 0 -1 SET i64 64 9223372036854775807 OVERFLOW SAT INCRBY i64 64 1")
case(S, "bitfield_u63", "BITFIELD k SET u63 0 9223372036854775807 INCRBY u63 0 1 SET u63 64 -1")
case(S, "bitfield_fail_grows", "SET k x\nBITFIELD k OVERFLOW FAIL INCRBY u8 100 300\nBITFIELD j OVERFLOW FAIL SET u2 0 9",
     note="the live server grows (or creates) the string but logs nothing when every write fails")
case(S, "bitfield_hash_offsets", "BITFIELD k SET u8 #0 1 SET u8 #2 3 SET i16 #1 -2 INCRBY u3 #7 5")
case(S, "bitfield_unaligned", "SET k ab\nBITFIELD k SET u5 3 31 INCRBY i7 13 100")
case(S, "bitfield_get_only", "SET k ab\nBITFIELD k GET u8 0\nBITFIELD j GET i4 0")
case(S, "bitfield_keeps_ttl", "SET k ab EX 5000\nBITFIELD k SET u8 0 65")
case(S, "bitfield_bad_type", "BITFIELD k SET u64 0 1\nBITFIELD k SET i0 0 1\nBITFIELD k SET x8 0 1")
case(S, "bitfield_bad_offset", "BITFIELD k SET u8 -1 1\nBITFIELD k SET u8 4294967296 1")
case(S, "bitfield_bad_value", "BITFIELD k SET u8 0 abc\nBITFIELD k INCRBY u8 0 1.5")
case(S, "bitfield_bad_overflow", "BITFIELD k OVERFLOW MAYBE SET u8 0 1")
case(S, "bitfield_wrongtype", "HSET k f v\nBITFIELD k SET u8 0 1")

# ----- keys and databases ---------------------------------------------------------------------

K = "keys"
case(K, "del", "SET a 1\nRPUSH b x\nSADD c y\nDEL a b missing\nDEL missing")
case(K, "unlink", "SET a 1\nHSET b f v\nUNLINK a b missing")
case(K, "expire", "SET k v\nEXPIRE k 5000\nRPUSH l a\nEXPIRE l 7000")
case(K, "pexpire", "SET k v\nPEXPIRE k 5000000")
case(K, "expireat", f"SET k v\nEXPIREAT k {FAR_S}")
case(K, "pexpireat", f"SET k v\nPEXPIREAT k {FAR_MS + 123}")
case(K, "expire_missing", "EXPIRE k 5000\nPEXPIREAT j 10")
case(K, "expire_negative", "SET k v\nEXPIRE k -1\nSET j v\nPEXPIRE j 0")
case(K, "expireat_past", "SET k v\nEXPIREAT k 1\nSET j v EX 5000\nPEXPIREAT j 1000")
case(K, "expire_nx", "SET k v\nEXPIRE k 5000 NX\nEXPIRE k 9000 NX")
case(K, "expire_xx", "SET k v\nEXPIRE k 5000 XX\nEXPIRE k 1000 NX\nEXPIRE k 9000 XX")
case(K, "expire_gt", "SET k v\nEXPIRE k 5000 GT\nEXPIRE k 5000\nEXPIRE k 4000 GT\nEXPIRE k 9000 GT")
case(K, "expire_lt", "SET k v\nEXPIRE k 9000 LT\nEXPIRE k 9500 LT\nEXPIRE k 5000 LT")
case(K, "pexpireat_gt_lt", f"SET k v\nPEXPIREAT k {FAR_MS} LT\nPEXPIREAT k {FAR_MS + 5} GT\nPEXPIREAT k {FAR_MS + 1} LT")
case(K, "expire_nx_xx", "SET k v\nEXPIRE k 100 NX XX")
case(K, "expire_gt_lt", "SET k v\nEXPIRE k 100 GT LT")
case(K, "expire_nx_gt", "SET k v\nEXPIRE k 100 NX GT")
case(K, "expire_overflow", "SET k v\nEXPIRE k 9223372036854775807\nPEXPIRE k 9223372036854775807")
case(K, "expire_not_integer", "SET k v\nEXPIRE k 10.5")
case(K, "persist", "SET k v EX 5000\nPERSIST k\nSET j v\nPERSIST j\nPERSIST missing")
case(K, "rename", "SET a v EX 5000\nRENAME a b")
case(K, "rename_onto_itself", "SET a v EX 5000\nRENAME a a\nRPUSH l x\nRENAME l l")
case(K, "rename_onto_existing_with_ttl", "SET a v\nSET b old EX 5000\nRENAME a b")
case(K, "rename_ttl_onto_existing", "SET a v EX 7000\nRPUSH b old\nRENAME a b")
case(K, "rename_missing", "RENAME a b")
case(K, "renamenx", "SET a v EX 5000\nRENAMENX a b\nSET c w\nRENAMENX b c")
case(K, "renamenx_onto_itself", "SET a v\nRENAMENX a a")
case(K, "rename_types", "HSET h f v\nRENAME h h2\nXADD x 1-1 f v\nXGROUP CREATE x g 0\nRENAME x x2")
case(K, "move", "SET a v EX 5000\nMOVE a 1\nSET b v\nSELECT 1\nSET b other\nSELECT 0\nMOVE b 1")
case(K, "move_missing", "MOVE a 1")
case(K, "move_same_db", "SET a v\nMOVE a 0")
case(K, "move_bad_db", "SET a v\nMOVE a 99")
case(K, "copy", "SET a v EX 5000\nCOPY a b\nRPUSH l x y\nCOPY l l2")
case(K, "copy_existing", "SET a v\nSET b old\nCOPY a b")
case(K, "copy_replace", "SET a v\nSET b old EX 5000\nCOPY a b REPLACE")
case(K, "copy_db", "SET a v EX 5000\nCOPY a a DB 2\nSELECT 2\nSET b old\nSELECT 0\nCOPY a b DB 2\nCOPY a b DB 2 REPLACE")
case(K, "copy_same_key", "SET a v\nCOPY a a")
case(K, "copy_missing", "COPY a b")
case(K, "copy_types",
     "SADD s a b\nZADD z 1 a 2 b\nHSET h f v\nXADD x 1-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c STREAMS x >\nCOPY s s2\nCOPY z z2\nCOPY h h2\nCOPY x x2")
case(K, "restore", ["RPUSH l a b c", "EXPIRE l 5000", "DUMP l", "RESTORE l2 0 $DUMP", "RESTORE l3 7000000 $DUMP",
                       f"RESTORE l4 {FAR_MS} $DUMP ABSTTL", "SET s old", "RESTORE s 0 $DUMP REPLACE"],
     note="$DUMP stands for the reply of the last DUMP")
case(K, "restore_types", ["HSET h f v", "DUMP h", "RESTORE h2 0 $DUMP", "ZADD z 1.5 a", "DUMP z", "RESTORE z2 0 $DUMP",
                          "XADD x 1-1 f v", "XGROUP CREATE x g 0", "XREADGROUP GROUP g c STREAMS x >", "DUMP x",
                          "RESTORE x2 0 $DUMP", "SADD s 1 2 3", "DUMP s", "RESTORE s2 0 $DUMP IDLETIME 100"])
case(K, "restore_busy", ["SET k v", "DUMP k", "RESTORE k 0 $DUMP"])
case(K, "restore_bad_payload", ["RESTORE k 0 garbage"])
case(K, "swapdb", "SET a 0\nSELECT 1\nSET a 1\nSET b 1 EX 5000\nSWAPDB 0 1\nSET c 1")
case(K, "swapdb_same", "SET a 0\nSWAPDB 0 0")
case(K, "swapdb_empty", "SET a 0\nSWAPDB 0 3")
case(K, "swapdb_bad", "SWAPDB 0 99")
case(K, "flushdb", "SET a 0\nSELECT 1\nSET a 1\nFLUSHDB\nSET b 1")
case(K, "flushall", "SET a 0\nSELECT 1\nSET a 1\nFLUSHALL\nSET b 1")
case(K, "flush_async", "SET a 0\nSELECT 1\nSET a 1\nFLUSHDB ASYNC\nSET b 1\nSELECT 2\nSET c 2\nFLUSHALL SYNC\nSET d 2")
case(K, "writes_keep_ttl", "SADD s a\nZADD z 1 a\nXADD x 1-1 f v\nRPUSH l a\nEXPIRE s 5000\nEXPIRE z 6000\n"
     "EXPIRE x 7000\nEXPIRE l 8000\nSADD s b\nSREM s a\nZADD z 2 b\nZINCRBY z 1 a\nZREM z a\nXADD x 2-1 f v\n"
     "XDEL x 1-1\nXGROUP CREATE x g 0\nLSET l 0 b\nLINSERT l AFTER b c\nLTRIM l 0 0")
case(K, "repeated_in_one_command", "MSETNX a 1 a 2\nHSET h f 1 f 2\nZADD z 1 m 2 m\nZADD y NX 1 m 2 m\n"
     "ZADD w GT 1 m 0 m 3 m\nSADD s x x\nSREM s x x\nRPUSH l a\nXADD x 1-1 f 1 f 2\nDEL l l\nMSET b 1 b 2")
case(K, "select", "SELECT 3\nSET a 3\nSELECT 15\nRPUSH l x\nSELECT 0\nSET a 0")
case(K, "select_bad", "SELECT 16\nSET a 0")

# ----- lists ----------------------------------------------------------------------------------

L = "lists"
case(L, "push", "RPUSH l a b c\nLPUSH l x y\nRPUSH l ''")
case(L, "pushx", "LPUSHX l a\nRPUSHX l a\nRPUSH l b\nLPUSHX l a b\nRPUSHX l c")
case(L, "push_wrongtype", "SET l v\nRPUSH l a\nLPUSH l a")
case(L, "pop", "RPUSH l a b c d\nLPOP l\nRPOP l")
case(L, "pop_count", "RPUSH l a b c d e\nLPOP l 2\nRPOP l 2")
case(L, "pop_count_zero", "RPUSH l a b\nLPOP l 0\nRPOP l 0")
case(L, "pop_count_past_end", "RPUSH l a b c\nLPOP l 10")
case(L, "pop_last", "RPUSH l a\nRPOP l\nRPUSH m a b\nRPOP m 2")
case(L, "pop_huge_count", "RPUSH l a b c\nLPOP l 9223372036854775807\nRPUSH m a\nRPOP m 9223372036854775807")
case(L, "pop_missing", "LPOP l\nRPOP l 3")
case(L, "pop_negative", "RPUSH l a\nLPOP l -1")
case(L, "pop_keeps_ttl", "RPUSH l a b\nEXPIRE l 5000\nLPOP l")
case(L, "lset", "RPUSH l a b c\nLSET l 0 x\nLSET l -1 z\nLSET l 1 ''")
case(L, "lset_out_of_range", "RPUSH l a b\nLSET l 2 x\nLSET l -3 x")
case(L, "lset_missing", "LSET l 0 x")
case(L, "ltrim_all", "RPUSH l a b c d\nLTRIM l 0 -1")
case(L, "ltrim_inner", "RPUSH l a b c d e\nLTRIM l 1 -2")
case(L, "ltrim_empty_range", "RPUSH l a b c\nLTRIM l 2 1")
case(L, "ltrim_past_end", "RPUSH l a b c\nLTRIM l 5 10")
case(L, "ltrim_wide", "RPUSH l a b c\nLTRIM l -100 100")
case(L, "ltrim_tail", "RPUSH l a b c d\nLTRIM l -2 -1")
case(L, "ltrim_first", "RPUSH l a b c\nLTRIM l 0 0")
case(L, "ltrim_negative_inverted", "RPUSH l a b c\nLTRIM l -1 -3")
case(L, "ltrim_end_before_start", "RPUSH l a b c d\nLTRIM l -3 0")
case(L, "lrem_positive", "RPUSH l a b a c a\nLREM l 2 a")
case(L, "lrem_negative", "RPUSH l a b a c a\nLREM l -2 a")
case(L, "lrem_zero", "RPUSH l a b a c a\nLREM l 0 a")
case(L, "lrem_more_than_present", "RPUSH l a b a\nLREM l -5 a")
case(L, "lrem_none", "RPUSH l a b\nLREM l 1 z")
case(L, "lrem_all", "RPUSH l a a\nLREM l 0 a")
case(L, "linsert", "RPUSH l a b c\nLINSERT l BEFORE b x\nLINSERT l AFTER c y\nLINSERT l after a z")
case(L, "linsert_first_match", "RPUSH l a b a\nLINSERT l AFTER a x")
case(L, "linsert_no_pivot", "RPUSH l a\nLINSERT l BEFORE z x\nLINSERT m BEFORE a x")
case(L, "linsert_syntax", "RPUSH l a\nLINSERT l MIDDLE a x")
case(L, "lmove", "RPUSH s a b c\nLMOVE s d LEFT RIGHT\nLMOVE s d RIGHT LEFT\nLMOVE s d LEFT LEFT\nRPUSH s e f\nLMOVE s d RIGHT RIGHT")
case(L, "lmove_same_key", "RPUSH l a b c\nLMOVE l l LEFT RIGHT\nLMOVE l l RIGHT LEFT\nLMOVE l l LEFT LEFT")
case(L, "lmove_last_element", "RPUSH s a\nLMOVE s d LEFT RIGHT")
case(L, "lmove_missing", "LMOVE s d LEFT RIGHT")
case(L, "lmove_dest_wrongtype", "RPUSH s a\nSET d v\nLMOVE s d LEFT RIGHT")
case(L, "rpoplpush", "RPUSH s a b\nRPOPLPUSH s d\nRPOPLPUSH s d")
case(L, "rpoplpush_same_key", "RPUSH l a b c\nRPOPLPUSH l l")
case(L, "lmpop", "RPUSH b x y z\nLMPOP 2 a b LEFT\nLMPOP 2 a b RIGHT COUNT 5")
case(L, "lmpop_count", "RPUSH a 1 2 3\nRPUSH b 4\nLMPOP 2 a b RIGHT COUNT 2")
case(L, "lmpop_none", "LMPOP 2 a b LEFT")
case(L, "lmpop_bad_count", "RPUSH a x\nLMPOP 1 a LEFT COUNT 0")
case(L, "blpop_ready", "RPUSH b x y\nBLPOP a b 1\nBRPOP b 1")
case(L, "blmove_ready", "RPUSH s a b\nBLMOVE s d RIGHT LEFT 1\nBRPOPLPUSH s d 1")
case(L, "blmpop_ready", "RPUSH a 1 2 3\nBLMPOP 1 2 x a LEFT COUNT 2")
case(L, "blpop_served_by_push", [Send2("BLPOP l 0"), "RPUSH l a b", Recv2()],
     note="a client blocked in BLPOP is served by another client's RPUSH")
case(L, "blmove_served_by_push", [Send2("BLMOVE s d LEFT RIGHT 0"), "LPUSH s x y", Recv2()])
case(L, "brpoplpush_served_same_key", [Send2("BRPOPLPUSH l l 0"), "RPUSH l a b", Recv2()])

# ----- sets -----------------------------------------------------------------------------------

T = "sets"
case(T, "sadd", "SADD s a b a 1 2\nSADD s b c\nSADD s ''")
case(T, "sadd_wrongtype", "SET s v\nSADD s a")
case(T, "srem", "SADD s a b c\nSREM s a z\nSREM missing a")
case(T, "srem_last", "SADD s a b\nEXPIRE s 5000\nSREM s a b")
case(T, "spop_one", "SADD s only\nSPOP s")
case(T, "spop_random", "SADD s a b c d e f\nSPOP s\nSPOP s 2",
     note="which members go is random; the log names them")
case(T, "spop_count_all", "SADD s a b c\nSPOP s 5")
case(T, "spop_count_equal", "SADD s 1 2 3\nSPOP s 3")
case(T, "spop_count_zero", "SADD s a\nSPOP s 0")
case(T, "spop_negative", "SADD s a\nSPOP s -1")
case(T, "spop_large_count", [["SADD", "s"] + [f"m{i}" for i in range(40)], "SPOP s 30"],
     note="SPOP of most of a set: the server builds the remainder and logs the SREMs")
case(T, "spop_missing", "SPOP s\nSPOP s 3")
case(T, "smove", "SADD a x y\nSADD b z\nSMOVE a b x\nSMOVE a b missing")
case(T, "smove_last", "SADD a x\nSMOVE a b x")
case(T, "smove_same_key", "SADD a x y\nSMOVE a a x")
case(T, "smove_already_in_dest", "SADD a x y\nSADD b x\nSMOVE a b x")
case(T, "smove_dest_wrongtype", "SADD a x\nSET b v\nSMOVE a b x")
case(T, "sinterstore", "SADD a 1 2 3 x\nSADD b 2 3 x y\nSINTERSTORE d a b")
case(T, "sunionstore", "SADD a 1 2\nSADD b 2 z\nSUNIONSTORE d a b missing")
case(T, "sdiffstore", "SADD a 1 2 3 4\nSADD b 2\nSADD c 4 5\nSDIFFSTORE d a b c")
case(T, "sinterstore_dest_is_source", "SADD a 1 2 3\nSADD b 2 3 4\nSINTERSTORE a a b")
case(T, "sunionstore_dest_is_source", "SADD a 1\nSADD b 2\nSUNIONSTORE b a b")
case(T, "sdiffstore_dest_is_source", "SADD a 1 2 3\nSADD b 3\nSDIFFSTORE b a b")
case(T, "sinterstore_empty_deletes", "SADD a 1\nSADD b 2\nSET d old EX 5000\nSINTERSTORE d a b")
case(T, "sinterstore_missing_source", "SADD a 1\nSADD d old\nSINTERSTORE d a missing")
case(T, "sdiffstore_first_missing", "SADD b 1\nSADD d old\nSDIFFSTORE d missing b")
case(T, "sunionstore_replaces_ttl", "SADD a 1\nSADD d old\nEXPIRE d 5000\nSUNIONSTORE d a")
case(T, "sunionstore_onto_other_type", "SADD a 1\nSET d str\nSUNIONSTORE d a")
case(T, "sinterstore_wrongtype", "SADD a 1\nSET b v\nSADD d old\nSINTERSTORE d a b")
case(T, "sunionstore_empty_no_dest", "SUNIONSTORE d m1 m2")

# ----- sorted sets ----------------------------------------------------------------------------

Z = "zsets"
case(Z, "zadd", "ZADD z 1 a 2 b 1.5 c\nZADD z 3 a\nZADD z 0 z0")
# A small (listpack) sorted set holds a -0 score as 0; a large (skiplist) one keeps -0.
case(Z, "zadd_negative_zero", "ZADD z -0 a 1 b\nZINCRBY y -0 a")
case(Z, "zadd_negative_zero_skiplist",
     "ZADD z " + " ".join(f"{i} m{i}" for i in range(130)) + "\nZADD z -0 a\nZINCRBY z -0 b")
case(Z, "zadd_inf", "ZADD z inf a -inf b +inf c 1e308 d")
case(Z, "zadd_float_forms", "ZADD z 1e3 a 0.1 b -1.5E-7 c 00012 d 0x10 e 0x1.8p1 f -0X.8 g 0x1p-1074 h "
     "0xABCDEFp-4 i 0x1.fffffffffffff8p0 j 0x123456789abcdef123p-20 k +.5e1 l 5. m",
     note="scores are read with strtod, which takes hexadecimal forms")
case(Z, "zadd_nx", "ZADD z 1 a\nZADD z NX 5 a 2 b")
case(Z, "zadd_xx", "ZADD z 1 a\nZADD z XX 5 a 2 b\nZADD y XX 1 a")
case(Z, "zadd_gt", "ZADD z 5 a 5 b\nZADD z GT 3 a 7 b 1 c")
case(Z, "zadd_lt", "ZADD z 5 a 5 b\nZADD z LT 3 a 7 b 1 c")
case(Z, "zadd_xx_gt_ch", "ZADD z 5 a 5 b\nZADD z XX GT CH 6 a 4 b 9 c")
case(Z, "zadd_ch", "ZADD z 1 a\nZADD z CH 1 a 2 b")
case(Z, "zadd_incr", "ZADD z INCR 5 a\nZADD z INCR -2.5 a")
case(Z, "zadd_incr_nx_present", "ZADD z 1 a\nZADD z NX INCR 5 a")
case(Z, "zadd_incr_xx_absent", "ZADD z 1 a\nZADD z XX INCR 5 b")
case(Z, "zadd_incr_gt", "ZADD z 5 a\nZADD z GT INCR -1 a\nZADD z GT INCR 2 a")
case(Z, "zadd_incr_lt", "ZADD z 5 a\nZADD z LT INCR 1 a\nZADD z LT INCR -2 a")
case(Z, "zadd_incr_nan", "ZADD z inf a\nZADD z INCR -inf a")
case(Z, "zadd_nan", "ZADD z nan a")
case(Z, "zadd_bad_score", "ZADD z 1 a x b")
case(Z, "zadd_nx_xx", "ZADD z NX XX 1 a")
case(Z, "zadd_gt_lt", "ZADD z GT LT 1 a")
case(Z, "zadd_nx_gt", "ZADD z NX GT 1 a")
case(Z, "zadd_incr_two_pairs", "ZADD z INCR 1 a 2 b")
case(Z, "zadd_wrongtype", "SET z v\nZADD z 1 a")
case(Z, "zadd_xx_missing_key", "ZADD z XX 1 a")
case(Z, "zincrby", "ZINCRBY z 2 a\nZINCRBY z 0.5 a\nZINCRBY z -10 b")
case(Z, "zincrby_inf", "ZINCRBY z inf a\nZINCRBY z 1 a")
case(Z, "zincrby_nan", "ZINCRBY z inf a\nZINCRBY z -inf a")
case(Z, "zincrby_bad", "ZINCRBY z x a")
case(Z, "zrem", "ZADD z 1 a 2 b 3 c\nZREM z a z\nZREM missing a")
case(Z, "zrem_last", "ZADD z 1 a\nZREM z a")
case(Z, "zpopmin", "ZADD z 3 c 1 a 2 b 1 aa\nZPOPMIN z\nZPOPMIN z 2")
case(Z, "zpopmax", "ZADD z 3 c 1 a 2 b 3 cc\nZPOPMAX z\nZPOPMAX z 2")
case(Z, "zpop_count_past_end", "ZADD z 1 a 2 b\nZPOPMIN z 10")
case(Z, "zpop_count_zero", "ZADD z 1 a\nZPOPMIN z 0\nZPOPMAX z 0")
case(Z, "zpop_negative", "ZADD z 1 a\nZPOPMIN z -1")
case(Z, "zpop_missing", "ZPOPMIN z\nZPOPMAX z 3")
case(Z, "zpop_equal_scores", "ZADD z 1 b 1 a 1 c\nZPOPMIN z\nZPOPMAX z")
case(Z, "bzpop_ready", "ZADD z 1 a 2 b 3 c\nBZPOPMIN y z 1\nBZPOPMAX z 1")
case(Z, "bzpop_served_by_add", [Send2("BZPOPMIN z 0"), "ZADD z 2 b 1 a", Recv2()])
case(Z, "zmpop", "ZADD b 1 x 2 y 3 z\nZMPOP 2 a b MIN\nZMPOP 2 a b MAX COUNT 5")
case(Z, "zmpop_count", "ZADD a 1 x 2 y 3 z\nZMPOP 1 a MIN COUNT 2")
case(Z, "bzmpop_ready", "ZADD a 1 x 2 y\nBZMPOP 1 2 q a MAX COUNT 1")
case(Z, "zremrangebyrank_all", "ZADD z 1 a 2 b 3 c\nZREMRANGEBYRANK z 0 -1")
case(Z, "zremrangebyrank_inner", "ZADD z 1 a 2 b 3 c 4 d\nZREMRANGEBYRANK z 1 2")
case(Z, "zremrangebyrank_negative", "ZADD z 1 a 2 b 3 c 4 d\nZREMRANGEBYRANK z -2 -1")
case(Z, "zremrangebyrank_past_end", "ZADD z 1 a 2 b\nZREMRANGEBYRANK z 5 10")
case(Z, "zremrangebyrank_inverted", "ZADD z 1 a 2 b 3 c\nZREMRANGEBYRANK z 2 1")
case(Z, "zremrangebyrank_wide", "ZADD z 1 a 2 b 3 c\nZREMRANGEBYRANK z -100 100")
case(Z, "zremrangebyrank_end_clamped", "ZADD z 1 a 2 b 3 c\nZREMRANGEBYRANK z 1 100")
case(Z, "zremrangebyscore", "ZADD z 1 a 2 b 3 c 4 d\nZREMRANGEBYSCORE z 2 3")
case(Z, "zremrangebyscore_exclusive", "ZADD z 1 a 2 b 3 c 4 d\nZREMRANGEBYSCORE z (1 (4")
case(Z, "zremrangebyscore_inf", "ZADD z -inf a 1 b inf c\nZREMRANGEBYSCORE z -inf (inf")
case(Z, "zremrangebyscore_all", "ZADD z -inf a 1 b inf c\nZREMRANGEBYSCORE z -inf +inf")
case(Z, "zremrangebyscore_inverted", "ZADD z 1 a 2 b\nZREMRANGEBYSCORE z 2 1")
case(Z, "zremrangebyscore_bad", "ZADD z 1 a\nZREMRANGEBYSCORE z x 1")
case(Z, "zremrangebylex", "ZADD z 0 a 0 b 0 c 0 d 0 e\nZREMRANGEBYLEX z [b (d")
case(Z, "zremrangebylex_open_ends", "ZADD z 0 a 0 b 0 c\nZREMRANGEBYLEX z - (b\nZREMRANGEBYLEX z (b +")
case(Z, "zremrangebylex_all", "ZADD z 0 a 0 b\nZREMRANGEBYLEX z - +")
case(Z, "zremrangebylex_bad", "ZADD z 0 a\nZREMRANGEBYLEX z a c")
case(Z, "zunionstore", "ZADD a 1 x 2 y\nZADD b 10 y 20 z\nZUNIONSTORE d 2 a b")
case(Z, "zunionstore_weights", "ZADD a 1 x 2 y\nZADD b 10 y 20 z\nZUNIONSTORE d 2 a b WEIGHTS 2 0.5")
case(Z, "zunionstore_min", "ZADD a 1 x 5 y\nZADD b 3 x 2 y\nZUNIONSTORE d 2 a b AGGREGATE MIN")
case(Z, "zunionstore_max", "ZADD a 1 x 5 y\nZADD b 3 x 2 y\nZUNIONSTORE d 2 a b WEIGHTS 1 -1 AGGREGATE MAX")
case(Z, "zunionstore_inf", "ZADD a inf x -inf y 1 z\nZADD b -inf x -inf y\nZUNIONSTORE d 2 a b")
case(Z, "zunionstore_inf_weight", "ZADD a 0 x 1 y -1 z\nZUNIONSTORE d 1 a WEIGHTS inf")
case(Z, "zunionstore_set_source", "ZADD a 1 x\nSADD s x y\nZUNIONSTORE d 2 a s")
case(Z, "zunionstore_dest_is_source", "ZADD a 1 x\nZADD b 2 x 3 y\nZUNIONSTORE a 2 a b")
case(Z, "zunionstore_missing", "ZADD d 1 old\nZUNIONSTORE d 2 m1 m2")
case(Z, "zunionstore_replaces_ttl", "ZADD a 1 x\nZADD d 1 old\nEXPIRE d 5000\nZUNIONSTORE d 1 a")
case(Z, "zinterstore", "ZADD a 1 x 2 y 3 z\nZADD b 10 y 20 z 30 w\nZINTERSTORE d 2 a b")
case(Z, "zinterstore_weights_max", "ZADD a 1 x 2 y\nZADD b 10 x 1 y\nZINTERSTORE d 2 a b WEIGHTS 3 1 AGGREGATE MAX")
case(Z, "zinterstore_min", "ZADD a 1 x 2 y\nZADD b 10 x 1 y\nZINTERSTORE d 2 a b AGGREGATE MIN")
case(Z, "zinterstore_inf_nan", "ZADD a inf x\nZADD b -inf x\nZINTERSTORE d 2 a b",
     note="inf + -inf is NaN, which the server stores as 0")
case(Z, "zinterstore_zero_weight_inf", "ZADD a inf x -inf y\nZINTERSTORE d 1 a WEIGHTS 0")
case(Z, "zinterstore_empty_deletes", "ZADD a 1 x\nZADD b 1 y\nZADD d 1 old\nZINTERSTORE d 2 a b")
case(Z, "zinterstore_set_source", "ZADD a 3 x 4 y\nSADD s x\nZINTERSTORE d 2 a s")
case(Z, "zinterstore_missing", "ZADD a 1 x\nZINTERSTORE d 2 a missing")
case(Z, "zdiffstore", "ZADD a 1 x 2 y 3 z\nZADD b 5 y\nZDIFFSTORE d 2 a b")
case(Z, "zdiffstore_dest_is_source", "ZADD a 1 x 2 y\nZADD b 5 y\nZDIFFSTORE a 2 a b")
case(Z, "zdiffstore_empty_deletes", "ZADD a 1 x\nZADD d 1 old\nZDIFFSTORE d 2 a a")
case(Z, "zstore_bad_numkeys", "ZADD a 1 x\nZUNIONSTORE d 0 a\nZUNIONSTORE d 3 a")
case(Z, "zstore_bad_weight", "ZADD a 1 x\nZUNIONSTORE d 1 a WEIGHTS x")
case(Z, "zstore_wrongtype", "ZADD a 1 x\nSET b v\nZUNIONSTORE d 2 a b")
case(Z, "zrangestore_rank", "ZADD z 1 a 2 b 3 c 4 d\nZRANGESTORE d z 1 2\nZRANGESTORE e z -2 -1\nZRANGESTORE f z 0 100")
case(Z, "zrangestore_rank_rev", "ZADD z 1 a 2 b 3 c 4 d\nZRANGESTORE d z 0 1 REV")
case(Z, "zrangestore_rank_empty", "ZADD z 1 a\nZADD d 1 old\nZRANGESTORE d z 5 10")
case(Z, "zrangestore_byscore", "ZADD z 1 a 2 b 3 c 4 d\nZRANGESTORE d z (1 3 BYSCORE")
case(Z, "zrangestore_byscore_rev", "ZADD z 1 a 2 b 3 c 4 d\nZRANGESTORE d z 3 (1 BYSCORE REV")
case(Z, "zrangestore_byscore_limit", "ZADD z 1 a 2 b 3 c 4 d 5 e\nZRANGESTORE d z -inf +inf BYSCORE LIMIT 1 2")
case(Z, "zrangestore_limit_negative_count", "ZADD z 1 a 2 b 3 c 4 d\nZRANGESTORE d z -inf +inf BYSCORE LIMIT 1 -1")
case(Z, "zrangestore_limit_negative_offset", "ZADD z 1 a 2 b 3 c\nZADD d 1 old\nZRANGESTORE d z -inf +inf BYSCORE LIMIT -1 2")
case(Z, "zrangestore_limit_zero_count", "ZADD z 1 a 2 b\nZADD d 1 old\nZRANGESTORE d z -inf +inf BYSCORE LIMIT 0 0")
case(Z, "zrangestore_limit_rev", "ZADD z 1 a 2 b 3 c 4 d\nZRANGESTORE d z +inf -inf BYSCORE REV LIMIT 1 2")
case(Z, "zrangestore_bylex", "ZADD z 0 a 0 b 0 c 0 d\nZRANGESTORE d z [b + BYLEX\nZRANGESTORE e z (a (d BYLEX LIMIT 1 5")
case(Z, "zrangestore_bylex_rev", "ZADD z 0 a 0 b 0 c 0 d\nZRANGESTORE d z + (b BYLEX REV")
case(Z, "zrangestore_dest_is_source", "ZADD z 1 a 2 b 3 c\nZRANGESTORE z z 0 0")
case(Z, "zrangestore_missing_source", "ZADD d 1 old\nZRANGESTORE d missing 0 -1")
case(Z, "zrangestore_limit_without_by", "ZADD z 1 a\nZRANGESTORE d z 0 -1 LIMIT 0 1")
case(Z, "zrangestore_src_wrongtype", "SET z v\nZRANGESTORE d z 0 -1")
case(Z, "geoadd", "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania")
case(Z, "geoadd_nx_xx_ch", "GEOADD g 13.361389 38.115556 P\nGEOADD g NX 1 1 P 2 2 Q\nGEOADD g XX CH 3 3 P 4 4 R")
case(Z, "geoadd_bad_coordinates", "GEOADD g 200 100 P\nGEOADD g 1 1")
case(Z, "geosearchstore",
     "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 2.35 48.85 Paris\n"
     "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 200 km ASC\n"
     "GEOSEARCHSTORE e g FROMMEMBER Palermo BYBOX 400 400 km DESC COUNT 1 STOREDIST")
case(Z, "geosearchstore_empty_deletes", "GEOADD g 13.36 38.11 P\nZADD d 1 old\nGEOSEARCHSTORE d g FROMLONLAT -70 -30 BYRADIUS 10 km")
case(Z, "georadius_store", "GEOADD g 13.361389 38.115556 P 15.087269 37.502669 C\nGEORADIUS g 15 37 200 km STORE d\nGEORADIUSBYMEMBER g P 300 km STOREDIST e")

# ----- hashes ---------------------------------------------------------------------------------

H = "hashes"
case(H, "hset", "HSET h a 1 b 2\nHSET h a 3 c ''\nHSET h '' empty")
case(H, "hmset", "HMSET h a 1 b 2")
case(H, "hset_odd", "HSET h a 1 b")
case(H, "hset_wrongtype", "SET h v\nHSET h a 1")
case(H, "hsetnx", "HSETNX h a 1\nHSETNX h a 2\nHSETNX h b 3")
case(H, "hdel", "HSET h a 1 b 2 c 3\nHDEL h a z\nHDEL missing a")
case(H, "hdel_last", "HSET h a 1\nEXPIRE h 5000\nHDEL h a")
case(H, "hincrby", "HINCRBY h n 5\nHINCRBY h n -7\nHSET h m 10\nHINCRBY h m 1")
case(H, "hincrby_overflow", "HSET h n 9223372036854775807\nHINCRBY h n 1")
case(H, "hincrby_not_integer", "HSET h n abc\nHINCRBY h n 1\nHINCRBY h m x")
case(H, "hincrbyfloat", "HINCRBYFLOAT h f 1.5\nHINCRBYFLOAT h f 1e2\nHSET h g 3\nHINCRBYFLOAT h g -0.5")
case(H, "hincrbyfloat_precision", "HSET h f 0.1\nHINCRBYFLOAT h f 0.2")
case(H, "hincrbyfloat_bad", "HSET h f abc\nHINCRBYFLOAT h f 1\nHINCRBYFLOAT h g inf")
case(H, "hash_keeps_ttl", "HSET h a 1\nEXPIRE h 5000\nHSET h b 2\nHINCRBY h c 1\nHDEL h a")

# ----- streams --------------------------------------------------------------------------------

X = "streams"
case(X, "xadd_ids", "XADD x 1-1 f v\nXADD x 1-2 f v g w\nXADD x 5 a b\nXADD x 5-* c d")
case(X, "xadd_star", "XADD x * f v\nXADD x * f2 v2",
     note="the server logs the id it generated")
case(X, "xadd_max_id", "XADD x 18446744073709551615-18446744073709551614 f v")
case(X, "xadd_id_not_after", "XADD x 5-5 f v\nXADD x 5-5 f v\nXADD x 4-0 f v")
case(X, "xadd_zero_id", "XADD x 0-0 f v")
case(X, "xadd_nomkstream", "XADD x NOMKSTREAM 1-1 f v\nXADD y 1-1 f v\nXADD y NOMKSTREAM 2-1 f v")
case(X, "xadd_maxlen", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXADD x MAXLEN 2 4-1 f v\nXADD x MAXLEN = 1 5-1 f v")
case(X, "xadd_maxlen_zero", "XADD x 1-1 f v\nXADD x MAXLEN 0 2-1 f v")
case(X, "xadd_minid", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXADD x MINID 2-1 4-1 f v\nXADD x MINID = 4 5-1 f v")
# Small stream nodes (5 entries) so that approximate trims remove whole nodes of a short stream.
SMALL_NODES = {"stream-node-max-entries": "5"}


def entries(n, key="x"):
    return [["XADD", key, f"{i}-1", "f", "v"] for i in range(1, n + 1)]


case(X, "xadd_maxlen_approx", entries(23) + ["XADD x MAXLEN ~ 7 30-1 f v"], config=SMALL_NODES,
     note="an approximate trim of whole nodes, logged with the resulting exact threshold")
case(X, "xadd_maxlen_approx_limit", entries(23) + ["XADD x MAXLEN ~ 2 LIMIT 10 30-1 f v"], config=SMALL_NODES,
     note="with LIMIT: logged as MAXLEN = n LIMIT 10, which a load applies exactly (LIMIT ignored)")
case(X, "xadd_minid_approx", entries(23) + ["XADD x MINID ~ 13 30-1 f v"], config=SMALL_NODES)
case(X, "xadd_approx_nothing_trimmed", "XADD x 1-1 f v\nXADD x MAXLEN ~ 1 2-1 f v")
case(X, "xadd_limit_without_approx", "XADD x 1-1 f v\nXADD x MAXLEN 1 LIMIT 10 2-1 f v")
case(X, "xadd_wrongtype", "SET x v\nXADD x 1-1 f v")
case(X, "xadd_odd_fields", "XADD x 1-1 f")
case(X, "xdel", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXDEL x 2-1 9-9\nXDEL x 1-1")
case(X, "xdel_last_entry", "XADD x 1-1 f v\nXDEL x 1-1")
case(X, "xdel_missing", "XDEL x 1-1")
case(X, "xtrim_maxlen", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXTRIM x MAXLEN 1")
case(X, "xtrim_minid", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXTRIM x MINID = 3")
case(X, "xtrim_to_zero", "XADD x 1-1 f v\nXADD x 2-1 f v\nXTRIM x MAXLEN 0")
case(X, "xtrim_nothing", "XADD x 1-1 f v\nXTRIM x MAXLEN 5\nXTRIM missing MAXLEN 0")
case(X, "xtrim_maxlen_approx", entries(23) + ["XTRIM x MAXLEN ~ 9"], config=SMALL_NODES)
case(X, "xtrim_minid_approx_limit", entries(33) + ["XTRIM x MINID ~ 30 LIMIT 10"], config=SMALL_NODES)
case(X, "xtrim_bad", "XADD x 1-1 f v\nXTRIM x MAXLEN -1\nXTRIM x FOO 1")
case(X, "xsetid", "XADD x 1-1 f v\nXSETID x 5-5")
case(X, "xsetid_entriesadded", "XADD x 1-1 f v\nXDEL x 1-1\nXSETID x 9-9 ENTRIESADDED 7 MAXDELETEDID 8-8")
case(X, "xsetid_smaller", "XADD x 5-1 f v\nXSETID x 1-1")
case(X, "xsetid_missing", "XSETID x 1-1")
case(X, "xgroup_create", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g1 0\nXGROUP CREATE x g2 $\nXGROUP CREATE x g3 1-1")
case(X, "xgroup_create_mkstream", "XGROUP CREATE x g $ MKSTREAM\nXGROUP CREATE y g 0 MKSTREAM")
case(X, "xgroup_create_entriesread", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 1-1 ENTRIESREAD 1")
case(X, "xgroup_create_exists", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXGROUP CREATE x g $")
case(X, "xgroup_create_missing", "XGROUP CREATE x g 0")
case(X, "xgroup_create_past_last", "XADD x 1-1 f v\nXGROUP CREATE x g 9-9\nXADD x 10-1 f v\nXREADGROUP GROUP g c STREAMS x >")
case(X, "xgroup_setid", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g $\nXGROUP SETID x g 0\nXGROUP CREATE x h 0\nXGROUP SETID x h $ ENTRIESREAD 2")
case(X, "xgroup_destroy", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXGROUP CREATE x h 0\nXGROUP DESTROY x g\nXGROUP DESTROY x nope")
case(X, "xgroup_createconsumer", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXGROUP CREATECONSUMER x g c\nXGROUP CREATECONSUMER x g c\nXGROUP CREATECONSUMER x g d")
case(X, "xgroup_delconsumer", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c COUNT 1 STREAMS x >\nXREADGROUP GROUP g d STREAMS x >\nXGROUP DELCONSUMER x g c")
case(X, "xreadgroup", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c COUNT 2 STREAMS x >\nXREADGROUP GROUP g d STREAMS x >")
case(X, "xreadgroup_again", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\n"
     "XREADGROUP GROUP g c STREAMS x 0",
     note="reading the consumer's own pending entries again counts another delivery")
case(X, "xreadgroup_noack", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c NOACK STREAMS x >")
case(X, "xreadgroup_nothing_new", "XADD x 1-1 f v\nXGROUP CREATE x g $\nXREADGROUP GROUP g c STREAMS x >")
case(X, "xreadgroup_two_streams", "XADD x 1-1 f v\nXADD y 1-1 f v\nXGROUP CREATE x g 0\nXGROUP CREATE y g 0\n"
     "XREADGROUP GROUP g c STREAMS x y > >")
case(X, "xreadgroup_served_by_xadd", ["XGROUP CREATE x g $ MKSTREAM", Send2("XREADGROUP GROUP g c BLOCK 0 STREAMS x >"),
                                      "XADD x 1-1 f v", Recv2()])
case(X, "xreadgroup_no_group", "XADD x 1-1 f v\nXREADGROUP GROUP g c STREAMS x >")
case(X, "xack", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\nXACK x g 1-1 9-9\nXACK x nope 2-1")
case(X, "xack_all", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\nXACK x g 1-1")
case(X, "xclaim", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\n"
     f"XCLAIM x g d 0 1-1\nXCLAIM x g e 0 2-1 TIME {FAR_MS} RETRYCOUNT 7")
case(X, "xclaim_justid", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\nXCLAIM x g d 0 1-1 JUSTID")
case(X, "xclaim_force", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\nXCLAIM x g d 0 2-1 FORCE\nXCLAIM x g d 0 1-1")
case(X, "xclaim_min_idle", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\nXCLAIM x g d 3600000 1-1")
case(X, "xclaim_deleted_entry", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\n"
     "XDEL x 1-1\nXCLAIM x g d 0 1-1 2-1")
case(X, "xclaim_lastid", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\nXCLAIM x g d 0 1-1 FORCE LASTID 2-1")
case(X, "xautoclaim", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c STREAMS x >\nXAUTOCLAIM x g d 0 0 COUNT 2\nXAUTOCLAIM x g e 0 0 JUSTID")
case(X, "xautoclaim_cursor", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c STREAMS x >\nXAUTOCLAIM x g d 0 2-1 COUNT 1\nXAUTOCLAIM x g e 0 0 COUNT 1 JUSTID")
case(X, "xautoclaim_deleted_entry", "XADD x 1-1 f v\nXADD x 2-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c STREAMS x >\nXDEL x 1-1\nXAUTOCLAIM x g d 0 0")
case(X, "xautoclaim_min_idle", "XADD x 1-1 f v\nXGROUP CREATE x g 0\nXREADGROUP GROUP g c STREAMS x >\nXAUTOCLAIM x g d 3600000 0")
case(X, "stream_groups_after_trim", "XADD x 1-1 f v\nXADD x 2-1 f v\nXADD x 3-1 f v\nXGROUP CREATE x g 0\n"
     "XREADGROUP GROUP g c COUNT 1 STREAMS x >\nXTRIM x MAXLEN 1\nXADD x 4-1 f v\nXREADGROUP GROUP g c STREAMS x >")
case(X, "xgroup_wrongtype", "SET x v\nXGROUP CREATE x g 0")

# ----- HyperLogLog ----------------------------------------------------------------------------

P = "hyperloglog"
case(P, "pfadd", "PFADD h a b c\nPFADD h a\nPFADD h d")
case(P, "pfadd_empty", "PFADD h\nPFADD h")
case(P, "pfcount_caches", "PFADD h a b c\nPFCOUNT h\nPFCOUNT h")
case(P, "pfcount_several", "PFADD h a\nPFADD i b\nPFCOUNT h i\nPFCOUNT missing")
case(P, "pfmerge", "PFADD a x y\nPFADD b y z\nPFMERGE d a b\nPFMERGE a b")
case(P, "pfmerge_missing", "PFMERGE d m1 m2\nPFMERGE e")
case(P, "pfadd_dense", [["PFADD", "h"] + [f"e{i}" for i in range(900)], "PFCOUNT h"])
case(P, "pfadd_keeps_ttl", "PFADD h a\nEXPIRE h 5000\nPFADD h b")
case(P, "pfadd_wrongtype", "SET h notanhll\nPFADD h a\nRPUSH l x\nPFADD l a")
case(P, "pfmerge_into_existing", "PFADD d x\nEXPIRE d 5000\nPFADD a y z\nPFMERGE d a")
case(P, "pfmerge_wrongtype", "PFADD a x\nSET b v\nPFMERGE d a b")

# ----- SORT ... STORE -------------------------------------------------------------------------

O = "sort"
case(O, "sort_numeric", "RPUSH l 3 1 2 10\nSORT l STORE d")
case(O, "sort_alpha_desc_limit", "SADD s c a b d\nSORT s ALPHA DESC LIMIT 1 2 STORE d")
case(O, "sort_by_get", "RPUSH l 1 2 3\nSET w_1 30\nSET w_2 10\nSET w_3 20\nHSET h_1 n one\nHSET h_2 n two\n"
     "SORT l BY w_* GET # GET h_*->n STORE d")
case(O, "sort_nosort", "RPUSH l c a b\nSORT l BY nosort STORE d")
case(O, "sort_zset", "ZADD z 3 c 1 a 2 b\nSORT z BY nosort STORE d")
case(O, "sort_empty_deletes", "RPUSH d old\nSORT missing STORE d")
case(O, "sort_replaces_ttl", "RPUSH l 2 1\nSET d x EX 5000\nSORT l STORE d")
case(O, "sort_not_number", "RPUSH l a b\nSORT l STORE d")
case(O, "sort_set_numeric", "SADD s 10 9 100 -1 2.5\nSORT s STORE d\nSORT s DESC LIMIT 1 2 STORE e")
case(O, "sort_by_hash_field", "RPUSH l a b c\nHSET w_a n 3\nHSET w_b n 1\nHSET w_c n 2\nSORT l BY w_*->n GET # GET w_*->n STORE d")
case(O, "sort_get_missing", "RPUSH l 2 1\nSET v_1 one\nSORT l GET v_* STORE d",
     note="GET of a missing key stores an empty string")
case(O, "sort_wrongtype", "SET l v\nSORT l STORE d")

# ----- names and options in lower case (logged as the client sent them) -----------------------

W = "lowercase"
case(W, "strings", "set k v nx ex 5000\nset k v2 xx keepttl get\nsetex j 5000 v\nincrbyfloat f 1.5\n"
     "getex k persist\nsetrange k 3 x\nbitfield b overflow sat incrby u8 0 300 set i4 #1 -1")
case(W, "keys", "set a v\nexpire a 5000 nx\npexpire a 6000000 gt\ncopy a b db 1 replace\nrename a c\n"
     "move c 2\nselect 1\nswapdb 1 3\nflushdb async")
case(W, "lists", "rpush l a b c d\nlmove l m left right\nlinsert l before c x\nlrem l -1 x\nltrim l 0 1\n"
     "lpop l 1\nlmpop 1 m right count 1")
case(W, "zsets", "zadd z gt ch 1 a 2 b\nzadd z xx incr 5 a\nzincrby z 1 b\nzrangestore d z (1 +inf byscore limit 0 1\n"
     "zunionstore u 2 z d weights 1 2 aggregate max\nzremrangebyscore z -inf (7\nzpopmax z")
case(W, "streams", "xadd x maxlen = 5 1-1 f v\nxadd x nomkstream 2-1 f v\nxgroup create x g 0 mkstream\n"
     "xreadgroup group g c count 1 streams x >\nxclaim x g d 0 1-1 force justid\nxack x g 1-1\n"
     "xtrim x minid = 2\nxsetid x 3-0 entriesadded 5 maxdeletedid 1-1\nxgroup setid x g 0 entriesread 0")
case(W, "sort_geo", "rpush l 3 1 2\nsort l desc limit 0 2 store d\ngeoadd g 13.361389 38.115556 p 15.087269 37.502669 c\n"
     "geosearchstore e g frommember p byradius 300 km asc count 1 storedist")

# ----- transactions, scripts and functions ----------------------------------------------------

M = "scripts"
case(M, "multi_exec", "MULTI\nSET a 1\nINCR a\nRPUSH l x\nEXEC")
case(M, "multi_runtime_error", "SET s v\nMULTI\nSET a 1\nLPUSH s x\nINCR a\nEXEC",
     note="a command that fails inside EXEC is not logged; the others are")
case(M, "multi_queue_error", "MULTI\nSET a 1\nNOSUCHCOMMAND\nEXEC")
case(M, "multi_discard", "MULTI\nSET a 1\nDISCARD")
case(M, "multi_read_only", "SET a 1\nMULTI\nGET a\nEXISTS a\nEXEC")
case(M, "multi_select", "MULTI\nSET a 0\nSELECT 2\nSET a 2\nEXEC\nSET b 2")
case(M, "multi_expire", "MULTI\nSET a 1\nEXPIRE a 5000\nSETEX b 6000 v\nEXEC")
case(M, "watch_fails", "SET a 1\nWATCH a\nSET a 2\nMULTI\nSET a 3\nEXEC")
case(M, "eval_writes", [["EVAL", "redis.call('SET', KEYS[1], ARGV[1]) redis.call('RPUSH', KEYS[2], ARGV[1]) "
                         "redis.call('INCRBY', KEYS[3], 2) return 1", "3", "s", "l", "n", "v"]])
case(M, "eval_single_write", [["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"]])
case(M, "eval_read_only", ["SET k 1", ["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"]])
case(M, "eval_error_after_write", [["EVAL", "redis.call('SET', 'a', '1') redis.call('SET', 'b', '2') "
                                    "return redis.call('INCR', 'a' .. 'x' .. 'y', 'extra')", "0"]],
     note="the writes before the error are logged")
case(M, "eval_pcall_error", ["SET s v", ["EVAL", "redis.call('SET', 'a', '1') redis.pcall('LPUSH', 's', 'x') "
                                         "redis.call('SET', 'b', '2') return 1", "0"]])
case(M, "eval_expire", [["EVAL", "redis.call('SET', 'a', '1', 'EX', 5000) redis.call('EXPIRE', 'a', 6000) "
                         "redis.call('SPOP', 'nope') return 1", "0"]])
case(M, "eval_select", [["EVAL", "redis.call('SET', 'a', '0') redis.call('SELECT', 1) redis.call('SET', 'a', '1') return 1", "0"],
                        "SET b 0"],
     note="SELECT inside a script changes the database of the later writes only")
case(M, "eval_incrbyfloat", [["EVAL", "return redis.call('INCRBYFLOAT', 'f', '1.5e1')", "0"]])
RPUSH_A = "return redis.call('RPUSH', KEYS[1], 'a')"
case(M, "evalsha", [["SCRIPT", "LOAD", RPUSH_A], ["EVALSHA", hashlib.sha1(RPUSH_A.encode()).hexdigest(), "1", "l"],
                    ["EVAL", RPUSH_A, "1", "l"]])
LIB = "#!lua name=lib\nredis.register_function('put', function(keys, args) return redis.call('SET', keys[1], args[1]) end)"
LIB2 = ("#!lua name=lib\nredis.register_function('put', function(keys, args) "
        "redis.call('SET', keys[1], args[1]) return redis.call('RPUSH', 'log', args[1]) end)")
LIB_OTHER = "#!lua name=other\nredis.register_function{function_name='noop', callback=function() return 1 end, flags={'no-writes'}}"
case(M, "function_load_fcall", [["FUNCTION", "LOAD", LIB], ["FCALL", "put", "1", "k", "v"]], functions=True)
case(M, "function_load_replace", [["FUNCTION", "LOAD", LIB], ["FUNCTION", "LOAD", "REPLACE", LIB2],
                                  ["FCALL", "put", "1", "k", "v"]], functions=True)
case(M, "function_load_exists", [["FUNCTION", "LOAD", LIB], ["FUNCTION", "LOAD", LIB2]], functions=True)
case(M, "function_delete", [["FUNCTION", "LOAD", LIB], ["FUNCTION", "LOAD", LIB_OTHER], ["FCALL", "put", "1", "k", "v"],
                            "FUNCTION DELETE lib", "FUNCTION DELETE nope"], functions=True)
case(M, "function_flush", [["FUNCTION", "LOAD", LIB], ["FUNCTION", "LOAD", LIB_OTHER], "SET k v", "FUNCTION FLUSH"],
     functions=True)
case(M, "function_restore", [["FUNCTION", "LOAD", LIB], "FUNCTION DUMP", "FUNCTION FLUSH", "FUNCTION RESTORE $DUMP",
                             ["FCALL", "put", "1", "k", "v"]], functions=True)
case(M, "function_restore_policies", [["FUNCTION", "LOAD", LIB], "FUNCTION DUMP", ["FUNCTION", "LOAD", LIB_OTHER],
                                      "FUNCTION RESTORE $DUMP REPLACE", "FUNCTION RESTORE $DUMP",
                                      "FUNCTION RESTORE $DUMP FLUSH"], functions=True)
case(M, "multi_with_eval", ["MULTI", "SET a 1", ["EVAL", "redis.call('INCR', KEYS[1]) return redis.call('RPUSH', 'l', 'x')", "1", "a"],
                            "EXEC"])
case(M, "publish", "SET a 1\nPUBLISH ch hello\nSET b 2")
case(M, "fcall_ro_no_write", [["FUNCTION", "LOAD", LIB_OTHER], ["FCALL_RO", "noop", "0"]], functions=True)


# ----------------------------------------------------------------------------------------------
# Running the cases.


def enc(b):
    try:
        return b.decode()
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def reply_json(r):
    if isinstance(r, bytes):
        return enc(r)
    if isinstance(r, list):
        return [reply_json(x) for x in r]
    return r  # int, None, {"error": ...}


def fresh(conn, conn2):
    for c in (conn, conn2):
        assert c.call([b"SELECT", b"0"]) == b"OK"
    assert conn.call([b"FLUSHALL"]) == b"OK"
    assert conn.call([b"FUNCTION", b"FLUSH"]) == b"OK"
    assert conn.call([b"SCRIPT", b"FLUSH"]) == b"OK"


def run_case(srv, conn, conn2, sync, incr, c, show):
    fresh(conn, conn2)
    dumped = None
    saved = {}
    for name, value in c.config.items():
        saved[name] = sync.call([b"CONFIG", b"GET", name.encode()])[1]
        assert sync.call([b"CONFIG", b"SET", name.encode(), value.encode()]) == b"OK"
    replies, logged = [], []
    pending = None
    for step in c.steps:
        before = os.path.getsize(incr)
        if isinstance(step, Send2):
            conn2.send(step.args)
            pending = step.args
            reply = None
        elif isinstance(step, Recv2):
            reply = conn2.read()
        else:
            reply = conn.call([dumped if a == b"$DUMP" else a for a in step])
            if step[0] == b"DUMP" or step[:2] == [b"FUNCTION", b"DUMP"]:
                dumped = reply
        if isinstance(step, Send2):
            time.sleep(0.05)  # let the server take it up before the next step
        # A round trip on a third connection: what the step logged is on disk by its end.
        assert sync.call([b"PING"]) == b"PONG"
        with open(incr, "rb") as f:
            f.seek(before)
            log = parse_log(f.read())
        name = step.args[0] if isinstance(step, Send2) else (pending[0] if isinstance(step, Recv2) else step[0])
        if isinstance(reply, dict) and log and name.upper() not in PARTIAL:
            raise AssertionError(f"{c.name}: {name!r} answered {reply} and logged {log}")
        replies.append(reply_json(reply))
        logged.append([[enc(a) for a in cmd] for cmd in log])
        if show:
            shown = step.args if isinstance(step, Send2) else ([b"<reply of conn2>"] if isinstance(step, Recv2) else step)
            print(f"  {' '.join(str(enc(a)) for a in shown)[:120]}"
                  f"  =>  {json.dumps(reply_json(reply))[:200]}")
            for cmd in log:
                print(f"      logged: {' '.join(str(enc(a)) for a in cmd)[:200]}")
    run = {
        "replies": replies,
        "logged": logged,
        "keys": truth.read_keys(srv),
        "end_ms": truth.server_time_ms(srv),
    }
    if c.functions:
        run["functions"] = truth.read_functions(srv)
    # The same server loading its own log (everything since it started: the earlier cases
    # end in FLUSHALL): where that differs from the live dataset, the log does not carry
    # all of the live state.
    assert sync.call([b"DEBUG", b"LOADAOF"]) == b"OK"
    reloaded = truth.read_keys(srv)
    if comparable(reloaded) != comparable(run["keys"]):
        run["reloaded"] = reloaded
        if show:
            print("      (the server loading its log has another dataset)")
    for name, value in saved.items():
        assert sync.call([b"CONFIG", b"SET", name.encode(), value]) == b"OK"
    return run


def comparable(keys):
    """Keys without what a load sets or derives rather than reads from the log: consumers'
    seen and active times, a group's lag, the stream node layout."""
    out = json.loads(json.dumps(keys))
    for k in out:
        if k["type"] == "stream":
            v = k["value"]
            for f in ("radix_tree_keys", "radix_tree_nodes"):
                v.pop(f)
            for g in v["groups"]:
                g.pop("lag")
                for c in g["consumers"]:
                    c.pop("seen_time_ms")
                    c.pop("active_time_ms")
    return out


def expect_json(c, server):
    e = c.expect.get(server) if isinstance(c.expect, dict) else c.expect
    if isinstance(e, Refused):
        return {"refused": e.name, "reason": e.reason}
    if isinstance(e, Differs):
        return {"differs": e.reason}
    assert e is None, e
    return None


def step_json(step):
    if isinstance(step, Send2):
        return {"conn2": [enc(a) for a in step.args]}
    if isinstance(step, Recv2):
        return {"conn2_reply": True}
    return [enc(a) for a in step]


def run_server(name, cases, show):
    path = servers.find_server(name)
    if not path:
        sys.exit(f"{name} is not installed (run scripts/install-servers.sh)")
    info = servers.ServerInfo(name, path)
    out = {}
    with servers.running_server(info, extra_config=CONFIG) as srv:
        incr = incr_file(srv.dir)
        conn, conn2, sync = Conn(srv.sock), Conn(srv.sock), Conn(srv.sock)
        try:
            for c in cases:
                if show:
                    print(f"{name} {c.name}")
                run = run_case(srv, conn, conn2, sync, incr, c, show)
                e = expect_json(c, name)
                if e:
                    run["expect"] = e
                out[c.name] = run
        finally:
            for c in (conn, conn2, sync):
                c.close()
    return info.version, out


def dumps(doc):
    """One line per case, so that a regeneration's diff shows which cases changed."""
    lines = ["{"]
    lines.append(f' "servers": {json.dumps(doc["servers"])},')
    lines.append(f' "notes": {json.dumps(doc["notes"], ensure_ascii=False)},')
    lines.append(' "cases": [')
    for i, c in enumerate(doc["cases"]):
        sep = "," if i + 1 < len(doc["cases"]) else ""
        lines.append("  " + json.dumps(c, separators=(",", ":"), ensure_ascii=False) + sep)
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def case_json(c, runs, names):
    entry = {"name": c.name, "family": c.family}
    if c.note:
        entry["note"] = c.note
    if c.config:
        entry["config"] = c.config
    entry["steps"] = [step_json(s) for s in c.steps]
    entry["runs"] = {name: runs[name][c.name] for name in names}
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", action="append", choices=SERVER_NAMES)
    ap.add_argument("--case", action="append")
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    names = args.server or list(SERVER_NAMES)
    cases = [c for c in CASES if not args.case or any(s in c.name for s in args.case)]
    if not cases:
        sys.exit("no case matches")
    if args.update and (args.show or len(names) < len(SERVER_NAMES)):
        sys.exit("--update runs the cases on every server, and does not go with --show")
    runs, versions = {}, {}
    for name in names:
        versions[name], runs[name] = run_server(name, cases, args.show)
    if args.update:
        with open(OUT) as f:
            doc = json.load(f)
        if doc["servers"] != versions:
            sys.exit(f"{OUT} was made by {doc['servers']}, not {versions}: regenerate it whole")
        known = {c.name for c in CASES}
        entries = {e["name"]: e for e in doc["cases"] if e["name"] in known}
        entries.update({c.name: case_json(c, runs, names) for c in cases})
        doc["cases"] = [entries[c.name] for c in CASES if c.name in entries]
    elif args.case or args.show or len(names) < len(SERVER_NAMES):
        print(f"{len(cases)} case(s) run on {', '.join(names)}; {OUT} not written")
        return
    else:
        doc = {
            "servers": versions,
            "notes": [
                "made by testdata/gen/make_command_cases.py; the format is described there",
                "keys are truth.read_keys records: byte strings in hex, expire_at_ms absolute",
                "logged: per step, the commands the server appended to its AOF for that step",
            ],
            "cases": [case_json(c, runs, names) for c in cases],
        }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(dumps(doc))
    counts = {}
    for c in doc["cases"]:
        counts[c["family"]] = counts.get(c["family"], 0) + 1
    print(f"wrote {OUT}: {len(doc['cases'])} cases x {len(names)} servers "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())}), {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
