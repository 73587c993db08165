#!/usr/bin/env python3
"""Build the benchmark RDB files with a real redis-server 7.0.

Two files, each about --size-mb MiB (default 1024), written to bench/data/ (or --out):

  strings.rdb  DEBUG POPULATE string keys (100-byte values) with a TTL on every 50th key, saved with
               `rdbcompression no` so the file is made of many small, uncompressed keys.
  mixed.rdb    every type in its usual encodings, saved with the default `rdbcompression yes`:
               strings of every size (integers, short text, text and random blobs up to 128 KiB),
               hashes (listpack and hashtable), lists (quicklist with one or many nodes), sets
               (intset and hashtable), sorted sets (listpack and skiplist), streams with consumer
               groups, consumers and pending entries; TTLs on a fraction of the keys; databases 0
               and 1. The keys are built by server-side Lua scripts, many keys per call.

Each server is fresh: a temporary directory, a unix socket only (`port 0`), `save ""`,
`appendonly no`; it is shut down afterwards. Next to each file, <name>.rdb.json records how it
was made; a file whose record matches the requested size and this generator's version is kept
as it is, and so is a file without a record (not made here); --force rebuilds both.

Usage: make_data.py [--size-mb N | --small] [--out DIR] [--only strings|mixed] [--force]
"""

import argparse
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "data")

# Bump when the content of a file changes, so that older files are rebuilt.
GENERATOR_VERSION = 1
MIB = 1024 * 1024
SMALL_MB = 50
# 2100-01-01T00:00:00Z in ms: expiries are FAR + n, so the files never hold expired keys.
FAR = 4102444800000
SEED = 20240501
POOL_BYTES = 1 * MIB
POOL_TEXT = "__bench:pool:text"
POOL_RAND = "__bench:pool:rand"

# strings.rdb: DEBUG POPULATE keys "key:<n>" with VALUE_SIZE-byte values; the RDB holds per key
# a type byte, the key ("key:" + n) and the value (2 length bytes + VALUE_SIZE), uncompressed.
VALUE_SIZE = 100
STRINGS_TTL_EVERY = 50

# Lua helpers shared by the scripts: `piece` cuts n bytes at a random offset of a pool that the
# generator stored in the server before the first call (and deletes before SAVE).
LUA_PRELUDE = """
local text = redis.call('GET', '__bench:pool:text')
local rand = redis.call('GET', '__bench:pool:rand')
local function piece(pool, n)
  local off = math.random(1, #pool - n + 1)
  return string.sub(pool, off, off + n - 1)
end
local function loglen(lo, hi)
  if hi <= lo then return lo end
  return math.floor(math.exp(math.log(lo) + math.random() * (math.log(hi + 1) - math.log(lo))))
end
local function int_text()
  local v = math.floor(math.random() * 10 ^ math.random(1, 12))
  if math.random() < 0.1 then v = -v end
  return string.format('%d', v)
end
local function value(kind, lo, hi)
  if kind == 'int' then return int_text() end
  local n = loglen(lo, hi)
  if kind == 'rand' then return piece(rand, n) end
  return piece(text, n)
end
local function push(cmd, key, args)
  for s = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, s, math.min(s + 999, #args)))
  end
end
local prefix = ARGV[1]
local first = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
math.randomseed(tonumber(ARGV[4]))
local ttl = tonumber(ARGV[5])
local far = tonumber(ARGV[6])
local function maybe_ttl(key, i)
  if ttl > 0 and math.random() < ttl then
    redis.call('PEXPIREAT', key, string.format('%d', far + i))
  end
end
"""

# ARGV[7..]: kind (int|text|rand), min length, max length
LUA_STRING = LUA_PRELUDE + """
local kind, lo, hi = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
for i = first, first + count - 1 do
  local key = prefix .. i
  redis.call('SET', key, value(kind, lo, hi))
  maybe_ttl(key, i)
end
return count
"""

# ARGV[7..]: field style (named|num), min fields, max fields, value kind, min len, max len,
# fraction of integer values
LUA_HASH = LUA_PRELUDE + """
local style, fmin, fmax = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local kind, lo, hi, intf = ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local names = {'name', 'email', 'age', 'city', 'country', 'created_at', 'updated_at', 'status',
  'plan', 'score', 'visits', 'last_ip', 'lang', 'tz', 'avatar', 'referrer', 'device', 'os',
  'version', 'balance', 'currency', 'phone', 'zip', 'street', 'title', 'company', 'role',
  'flags', 'theme', 'token', 'cart', 'items', 'total', 'coupon', 'notes', 'rating', 'level',
  'badge', 'streak', 'gender'}
for i = first, first + count - 1 do
  local key = prefix .. i
  local n = loglen(fmin, fmax)
  local args = {}
  for j = 1, n do
    local f
    if style == 'named' then
      f = names[(j - 1) % #names + 1]
      if j > #names then f = f .. '_' .. j end
    else
      f = 'field:' .. j
    end
    args[#args + 1] = f
    if math.random() < intf then args[#args + 1] = int_text() else args[#args + 1] = value(kind, lo, hi) end
  end
  push('HSET', key, args)
  maybe_ttl(key, i)
end
return count
"""

# ARGV[7..]: min elements, max elements, value kind, min len, max len, fraction of integers
LUA_LIST = LUA_PRELUDE + """
local nmin, nmax = tonumber(ARGV[7]), tonumber(ARGV[8])
local kind, lo, hi, intf = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
for i = first, first + count - 1 do
  local key = prefix .. i
  local args = {}
  for j = 1, loglen(nmin, nmax) do
    if math.random() < intf then args[j] = int_text() else args[j] = value(kind, lo, hi) end
  end
  push('RPUSH', key, args)
  maybe_ttl(key, i)
end
return count
"""

# ARGV[7..]: min members, max members, member kind (int|text), min len, max len
LUA_SET = LUA_PRELUDE + """
local nmin, nmax = tonumber(ARGV[7]), tonumber(ARGV[8])
local kind, lo, hi = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11])
for i = first, first + count - 1 do
  local key = prefix .. i
  local args = {}
  for j = 1, loglen(nmin, nmax) do
    if kind == 'int' then
      args[j] = string.format('%d', j * 1000 + math.random(0, 999))
    else
      args[j] = piece(text, loglen(lo, hi)) .. ':' .. j
    end
  end
  push('SADD', key, args)
  maybe_ttl(key, i)
end
return count
"""

# ARGV[7..]: min members, max members, min member len, max member len, score kind (int|float)
LUA_ZSET = LUA_PRELUDE + """
local nmin, nmax = tonumber(ARGV[7]), tonumber(ARGV[8])
local lo, hi, scores = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
for i = first, first + count - 1 do
  local key = prefix .. i
  local args = {}
  for j = 1, loglen(nmin, nmax) do
    if scores == 'int' then
      args[#args + 1] = string.format('%d', math.random(0, 1000000))
    else
      args[#args + 1] = string.format('%.17g', math.random() * 10000 - 100)
    end
    args[#args + 1] = piece(text, loglen(lo, hi)) .. ':' .. j
  end
  push('ZADD', key, args)
  maybe_ttl(key, i)
end
return count
"""

# One stream: ARGV[1] key, ARGV[2] first entry number, ARGV[3] count, ARGV[4] seed,
# ARGV[5] base ms, ARGV[6..9] min fields, max fields, min len, max len
LUA_STREAM = """
local text = redis.call('GET', '__bench:pool:text')
local key, first, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
math.randomseed(tonumber(ARGV[4]))
local base = tonumber(ARGV[5])
local fmin, fmax, lo, hi = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local fields = {'event', 'user', 'amount', 'path', 'agent', 'ip', 'status', 'ref'}
for i = first, first + count - 1 do
  local args = {key, string.format('%d-%d', base + math.floor(i / 3), i % 3)}
  for j = 1, math.random(fmin, fmax) do
    args[#args + 1] = fields[j]
    if j == 3 then
      args[#args + 1] = string.format('%d', math.random(0, 100000))
    else
      local n = math.random(lo, hi)
      local off = math.random(1, #text - n + 1)
      args[#args + 1] = string.sub(text, off, off + n - 1)
    end
  end
  redis.call('XADD', unpack(args))
end
return count
"""

SCRIPTS = {
    "string": LUA_STRING,
    "hash": LUA_HASH,
    "list": LUA_LIST,
    "set": LUA_SET,
    "zset": LUA_ZSET,
    "stream": LUA_STREAM,
}

# mixed.rdb, by share of the file. `est` is the RDB bytes of one key (measured with DUMP);
# the number of keys of a category is share * size / est. `args` are the script's ARGV[7..].
MIXED = [
    # name             db  script    share  est      ttl   prefix               args
    ("counters",        0, "string", 0.010, 21,     0.00, "counter:",          ["int", 0, 0]),
    ("sessions",        1, "string", 0.040, 44,     0.60, "session:",          ["text", 8, 64]),
    ("short-strings",   0, "string", 0.040, 48,     0.10, "cache:flag:",       ["text", 8, 64]),
    ("text-strings",    0, "string", 0.100, 527,    0.10, "cache:page:",       ["text", 64, 2048]),
    ("blob-strings",    0, "string", 0.050, 590,    0.05, "thumb:",            ["rand", 64, 2048]),
    ("large-text",      0, "string", 0.040, 26300,  0.02, "doc:",              ["text", 4096, 131072]),
    ("large-blobs",     0, "string", 0.020, 36000,  0.02, "img:",              ["rand", 4096, 131072]),
    ("small-hashes",    0, "hash",   0.170, 310,    0.10, "user:",             ["named", 4, 40, "text", 1, 48, 0.3]),
    ("wide-hashes",     0, "hash",   0.020, 916,    0.05, "profile:",          ["named", 2, 10, "text", 65, 400, 0.0]),
    ("big-hashes",      0, "hash",   0.100, 53500,  0.00, "index:",            ["num", 200, 5000, "text", 4, 100, 0.2]),
    ("small-lists",     0, "list",   0.060, 479,    0.10, "recent:",           [2, 100, "text", 4, 64, 0.2]),
    ("big-lists",       0, "list",   0.080, 284000, 0.00, "queue:",            [1000, 50000, "text", 8, 128, 0.1]),
    ("int-sets",        0, "set",    0.030, 421,    0.05, "ids:",              [4, 500, "int", 0, 0]),
    ("small-sets",      0, "set",    0.030, 720,    0.05, "tags:",             [4, 100, "text", 8, 40]),
    ("big-sets",        0, "set",    0.040, 150000, 0.00, "followers:",        [1000, 20000, "text", 8, 40]),
    ("small-zsets",     0, "zset",   0.070, 1026,   0.10, "scores:",           [4, 120, 8, 48, "int"]),
    ("big-zsets",       0, "zset",   0.070, 236000, 0.00, "leaderboard:",      [500, 20000, 8, 48, "float"]),
]
STREAMS_SHARE = 0.030
STREAM_ENTRY_EST = 140
STREAM_COUNT = 12
STREAM_BASE_MS = 1700000000000


def log(msg):
    print(f"make_data: {msg}", flush=True)


def server_binary():
    path = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(path, os.X_OK):
        sys.exit("make_data: redis-server not found (install it with scripts/install-servers.sh "
                 "or set REDIS_SERVER)")
    return path


def server_version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip()


class Server:
    """A fresh redis-server on a unix socket; its working directory is `workdir`."""

    def __init__(self, binary, workdir, extra):
        self.sockdir = tempfile.mkdtemp(prefix="redkit-bench-sock-")
        self.sock = os.path.join(self.sockdir, "redis.sock")
        workdir = os.path.abspath(workdir)
        self.workdir = workdir
        args = [
            binary, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
            "--dir", workdir, "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", os.path.join(workdir, "server.log"),
            "--enable-debug-command", "yes", "--lua-time-limit", "60000",
        ] + extra
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _wait_ready(self):
        deadline = time.time() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start; see {self.workdir}/server.log")
            try:
                client = redis.Redis(unix_socket_path=self.sock)
                client.ping()
                client.close()
                return
            except (redis.ConnectionError, FileNotFoundError):
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def client(self, db=0):
        return redis.Redis(unix_socket_path=self.sock, db=db, socket_timeout=None)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.client().shutdown(nosave=True)
            except (redis.ConnectionError, redis.ResponseError):
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=30)
        shutil.rmtree(self.sockdir, ignore_errors=True)


def text_pool(rng):
    """POOL_BYTES of word soup, JSON-ish fragments and numbers (compresses about 2:1 with LZF)."""
    words = (
        "the of and to in is you that it he was for on are as with his they at be this have "
        "from or one had by word but not what all were we when your can said there use an each "
        "which she do how their if will up other about out many then them these so some her "
        "would make like him into time has look two more write go see number no way could people "
        "my than first water been call who oil its now find long down day did get come made may "
        "part user order item price total status active pending shipped paid error warning info "
        "https www example com api v1 v2 json id name email created updated true false null"
    ).split()
    out = []
    size = 0
    while size < POOL_BYTES:
        r = rng.random()
        if r < 0.6:
            s = rng.choice(words) + " "
        elif r < 0.8:
            s = '{"%s":%d,' % (rng.choice(words), rng.randrange(100000))
        elif r < 0.9:
            s = "%s/%s/%d " % (rng.choice(words), rng.choice(words), rng.randrange(10**6))
        else:
            s = "%d.%02d " % (rng.randrange(10000), rng.randrange(100))
        out.append(s)
        size += len(s)
    return "".join(out).encode()[:POOL_BYTES]


def store_pools(server, dbs):
    rng = random.Random(SEED)
    text = text_pool(rng)
    rand = rng.randbytes(POOL_BYTES)
    for db in dbs:
        c = server.client(db)
        c.set(POOL_TEXT, text)
        c.set(POOL_RAND, rand)
        c.close()


def drop_pools(server, dbs):
    for db in dbs:
        c = server.client(db)
        c.delete(POOL_TEXT, POOL_RAND)
        c.close()


def save_to(server, dest):
    """SAVE, then move dump.rdb to dest (same file system: a rename). Returns the SAVE seconds."""
    t = time.time()
    server.client().save()
    seconds = time.time() - t
    os.replace(os.path.join(server.workdir, "dump.rdb"), dest)
    return seconds


def build_strings(server, size_mb):
    c = server.client()
    target = size_mb * MIB
    # Bytes of key n: type byte, key length byte, "key:<n>", 2 value length bytes, the value.
    digits = len(str(target // (VALUE_SIZE + 12)))
    per_key = 1 + 1 + 4 + digits + 2 + VALUE_SIZE
    keys = target // per_key
    log(f"strings: DEBUG POPULATE {keys} key {VALUE_SIZE}")
    c.execute_command("DEBUG", "POPULATE", keys, "key", VALUE_SIZE)
    script = """
for i = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) do
  redis.call('PEXPIREAT', 'key:' .. i, string.format('%d', tonumber(ARGV[4]) + i))
end
"""
    c.eval(script, 0, 0, keys - 1, STRINGS_TTL_EVERY, FAR)
    c.close()


def build_mixed(server, size_mb):
    target = size_mb * MIB
    shas = {}
    admin = server.client()
    for name, src in SCRIPTS.items():
        shas[name] = admin.script_load(src)
    store_pools(server, [0, 1])
    clients = {0: admin, 1: server.client(1)}
    for n, (name, db, script, share, est, ttl, prefix, args) in enumerate(MIXED):
        t = time.time()
        keys = max(1, round(share * target / est))
        # About 4 MB of values per call, so that a call takes tens of milliseconds.
        batch = max(1, min(20000, int(4_000_000 / est)))
        for first in range(0, keys, batch):
            count = min(batch, keys - first)
            clients[db].evalsha(shas[script], 0, prefix, first, count, SEED + n * 7919 + first,
                                ttl, FAR, *args)
        log(f"mixed: {name:<14} {keys:>9} keys in db {db}  {time.time() - t:6.1f} s")

    t = time.time()
    entries = max(STREAM_COUNT * 100, round(STREAMS_SHARE * target / STREAM_ENTRY_EST))
    per_stream = entries // STREAM_COUNT
    for s in range(STREAM_COUNT):
        key = f"events:{s}"
        # Streams of different lengths: stream s has (s + 1) / mean shares.
        n = max(100, per_stream * 2 * (s + 1) // (STREAM_COUNT + 1))
        for first in range(0, n, 20000):
            admin.evalsha(shas["stream"], 0, key, first, min(20000, n - first), SEED + s,
                          STREAM_BASE_MS + s * 10**7, 2, 6, 4, 64)
        stream_groups(admin, key, s, n)
    # An empty stream that still has a group.
    admin.xgroup_create("events:empty", "audit", id="0", mkstream=True)
    log(f"mixed: {'streams':<14} {STREAM_COUNT + 1:>9} keys ({entries} entries)  "
        f"{time.time() - t:6.1f} s")
    drop_pools(server, [0, 1])
    for c in clients.values():
        c.close()


def stream_groups(c, key, s, n):
    """Consumer groups with consumers, pending entries (some acknowledged) and deleted entries."""
    rng = random.Random(SEED + s)
    # Delete one entry in 500, so that the stream listpacks hold deleted-entry flags.
    deleted = [e["id"] if isinstance(e, dict) else e[0]
               for e in c.xrange(key, count=n)[::500]] if s % 3 == 0 else []
    if deleted:
        c.xdel(key, *deleted)
    for g in range(s % 4):
        group = f"group-{g}"
        c.xgroup_create(key, group, id="0")
        for k in range(rng.randint(1, 5)):
            consumer = f"worker-{k}"
            got = c.xreadgroup(group, consumer, {key: ">"}, count=rng.randint(50, 2000))
            ids = [eid for _, items in got for eid, _ in items]
            if ids:
                c.xack(key, group, *ids[: len(ids) // 2])
    if s % 4 == 3:
        c.xtrim(key, maxlen=max(50, n * 9 // 10), approximate=False)


def marker_path(rdb):
    return rdb + ".json"


def up_to_date(rdb, size_mb):
    try:
        with open(marker_path(rdb)) as f:
            marker = json.load(f)
        return (marker.get("generator") == GENERATOR_VERSION
                and marker.get("size_mb") == size_mb
                and os.path.getsize(rdb) == marker.get("bytes"))
    except (OSError, ValueError):
        return False


def generate(kind, out_dir, size_mb, binary, version, force):
    rdb = os.path.join(out_dir, f"{kind}.rdb")
    if not force and up_to_date(rdb, size_mb):
        log(f"{rdb} is up to date ({os.path.getsize(rdb)} bytes)")
        return
    if not force and os.path.exists(rdb) and not os.path.exists(marker_path(rdb)):
        # Not written by this script (no record beside it): never replace it silently.
        log(f"{rdb} has no {os.path.basename(marker_path(rdb))}; kept as it is (--force replaces it)")
        return
    for path in (rdb, marker_path(rdb)):
        if os.path.exists(path):
            os.remove(path)
    workdir = tempfile.mkdtemp(prefix=f".gen-{kind}-", dir=out_dir)
    extra = ["--rdbcompression", "no"] if kind == "strings" else []
    started = time.time()
    server = Server(binary, workdir, extra)
    try:
        if kind == "strings":
            build_strings(server, size_mb)
        else:
            build_mixed(server, size_mb)
        c = server.client()
        keys = sum(v.get("keys", 0) for k, v in c.info("keyspace").items() if k.startswith("db"))
        memory = c.info("memory")["used_memory"]
        c.close()
        log(f"{kind}: {keys} keys, {memory / MIB:.0f} MiB used; SAVE ...")
        save_seconds = save_to(server, rdb + ".part")
    finally:
        server.close()
    os.replace(rdb + ".part", rdb)
    shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.time() - started
    marker = {
        "generator": GENERATOR_VERSION,
        "size_mb": size_mb,
        "bytes": os.path.getsize(rdb),
        "keys": keys,
        "server": f"redis-server {version}",
        "rdbcompression": kind != "strings",
        "seconds": round(seconds, 1),
        "save_seconds": round(save_seconds, 1),
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with open(marker_path(rdb), "w") as f:
        json.dump(marker, f, indent=1)
        f.write("\n")
    log(f"wrote {rdb}: {marker['bytes']} bytes ({marker['bytes'] / MIB:.0f} MiB), {keys} keys, "
        f"{seconds:.0f} s (SAVE {save_seconds:.0f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--size-mb", type=int, default=1024, help="size of each file in MiB")
    size.add_argument("--small", action="store_true",
                      help=f"{SMALL_MB} MiB files in <out>/small (a quick try of the scripts)")
    ap.add_argument("--out", help="output directory (default bench/data, or bench/data/small)")
    ap.add_argument("--only", choices=["strings", "mixed"], action="append",
                    help="build only this file (repeatable)")
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    opts = ap.parse_args()

    size_mb = SMALL_MB if opts.small else opts.size_mb
    if size_mb < 1:
        ap.error("--size-mb must be at least 1")
    out_dir = opts.out or (os.path.join(DEFAULT_OUT, "small") if opts.small else DEFAULT_OUT)
    os.makedirs(out_dir, exist_ok=True)
    binary = server_binary()
    version = server_version(binary)
    if not version.startswith("7.0."):
        log(f"warning: {binary} is version {version}; the encodings described assume 7.0")
    for kind in opts.only or ["strings", "mixed"]:
        generate(kind, out_dir, size_mb, binary, version, opts.force)


if __name__ == "__main__":
    main()
