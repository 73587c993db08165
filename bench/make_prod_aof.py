#!/usr/bin/env python3
"""A log that looks like production, written by redis-server 7.0: bench/data/aof-prod.

The server runs with `appendonly yes`, `aof-use-rdb-preamble yes` and timestamps on. A first
batch of commands builds a dataset of every type (strings, lists, hashes, sets, sorted sets,
streams, in two databases), then BGREWRITEAOF turns it into the log's RDB base. Then a mixed
workload goes to the incr file, in one interleaved stream drawn with a fixed seed: most
commands touch a small set of hot keys (so many keys are written again and again), with
expiries, deletes, pops, trims and increments among them. The commands reach the server
through `redis-cli --pipe`; the log is what the server wrote of them.

  make_prod_aof.py [OUT_DIR] [--commands N]

OUT_DIR/appendonlydir is the log; OUT_DIR/made-<N> records the seconds it took (a log made
with the same N is not made again).
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HOT = 50_000  # keys of each kind most commands touch
COLD = 2_000_000  # keys of each kind in all


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def key(rng, kind):
    """A key of `kind`: 80% of the time one of the hot ones."""
    n = rng.randrange(HOT) if rng.random() < 0.8 else rng.randrange(COLD)
    return f"{kind}:{n}"


def word(rng, n=8):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def seed_commands(rng):
    """The dataset the RDB base holds."""
    for i in range(COLD // 2):
        yield resp("SET", f"str:{i}", f"user-{i}-{word(rng, 24)}")
    for i in range(COLD // 8):
        yield resp("RPUSH", f"list:{i}", *[word(rng, 12) for _ in range(rng.randrange(1, 30))])
        yield resp("HSET", f"hash:{i}", *sum(([f"f{j}", word(rng, 10)] for j in range(rng.randrange(1, 20))), []))
        yield resp("SADD", f"set:{i}", *[str(rng.randrange(10_000)) for _ in range(rng.randrange(1, 40))])
        yield resp("ZADD", f"zset:{i}", *sum(([str(rng.randrange(1000)), word(rng, 6)] for _ in range(rng.randrange(1, 30))), []))
    yield resp("SELECT", 1)
    for i in range(COLD // 4):
        yield resp("SET", f"session:{i}", word(rng, 64), "EX", rng.randrange(3600, 86400))
    yield resp("SELECT", 0)
    for i in range(200):
        for _ in range(200):
            yield resp("XADD", f"stream:{i}", "*", "event", word(rng, 6), "value", str(rng.randrange(10**6)))


def workload(rng, n):
    """`n` interleaved commands of every kind."""
    db = 0
    for _ in range(n):
        r = rng.random()
        if r < 0.01:
            db = 1 - db
            yield resp("SELECT", db)
        elif r < 0.20:
            yield resp("SET", key(rng, "str"), f"v-{word(rng, rng.randrange(8, 120))}")
        elif r < 0.26:
            yield resp("SET", key(rng, "session"), word(rng, 64), "EX", rng.randrange(60, 86400))
        elif r < 0.32:
            yield resp("INCR", key(rng, "counter"))
        elif r < 0.35:
            yield resp("INCRBYFLOAT", key(rng, "float"), "0.5")
        elif r < 0.38:
            yield resp("APPEND", key(rng, "str"), word(rng, 4))
        elif r < 0.45:
            yield resp("HSET", key(rng, "hash"), f"f{rng.randrange(40)}", word(rng, 10))
        elif r < 0.48:
            yield resp("HINCRBY", key(rng, "hash"), f"n{rng.randrange(5)}", rng.randrange(1, 9))
        elif r < 0.50:
            yield resp("HDEL", key(rng, "hash"), f"f{rng.randrange(40)}")
        elif r < 0.57:
            yield resp("LPUSH", key(rng, "list"), word(rng, 12))
        elif r < 0.60:
            yield resp("RPOP", key(rng, "list"))
        elif r < 0.61:
            yield resp("LTRIM", key(rng, "list"), 0, 99)
        elif r < 0.67:
            yield resp("SADD", key(rng, "set"), str(rng.randrange(10_000)))
        elif r < 0.69:
            yield resp("SREM", key(rng, "set"), str(rng.randrange(10_000)))
        elif r < 0.75:
            yield resp("ZADD", key(rng, "zset"), rng.randrange(10**6), word(rng, 6))
        elif r < 0.78:
            yield resp("ZINCRBY", key(rng, "zset"), 1, word(rng, 2))
        elif r < 0.79:
            yield resp("ZREMRANGEBYRANK", key(rng, "zset"), 0, 0)
        elif r < 0.86:
            yield resp("XADD", f"stream:{rng.randrange(200)}", "MAXLEN", "~", 1000, "*",
                       "event", word(rng, 6), "value", str(rng.randrange(10**6)))
        elif r < 0.90:
            yield resp("EXPIRE", key(rng, rng.choice(["str", "hash", "list", "set"])),
                       rng.randrange(600, 86400))
        elif r < 0.91:
            yield resp("PERSIST", key(rng, "str"))
        elif r < 0.96:
            yield resp("DEL", key(rng, rng.choice(["str", "hash", "list", "set", "zset", "counter"])))
        else:
            yield resp("MSET", *sum(([key(rng, "str"), word(rng, 16)] for _ in range(4)), []))


def pipe(cli, sock, commands):
    """Sends `commands` through redis-cli --pipe; fails unless every reply came back clean."""
    with tempfile.TemporaryFile() as f:
        buf = []
        for c in commands:
            buf.append(c)
            if len(buf) >= 10_000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
        f.seek(0)
        out = subprocess.run([cli, "-s", sock, "--pipe"], stdin=f, capture_output=True, text=True)
    if out.returncode != 0 or "errors: 0" not in out.stdout:
        sys.exit(f"make_prod_aof: redis-cli --pipe: {out.stdout}{out.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(__file__), "data", "aof-prod"))
    ap.add_argument("--commands", type=int, default=4_000_000)
    a = ap.parse_args()
    mark = os.path.join(a.out, f"made-{a.commands}")
    if os.path.exists(mark):
        return
    server = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    cli = shutil.which("redis-cli")
    if not server or not cli:
        sys.exit("make_prod_aof: redis-server and redis-cli are needed")
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    sock = os.path.join(tempfile.mkdtemp(prefix="redkit-prod-"), "s.sock")
    start = time.time()
    proc = subprocess.Popen([server, "--port", "0", "--unixsocket", sock, "--dir", a.out,
                             "--save", "", "--appendonly", "yes", "--aof-use-rdb-preamble", "yes",
                             "--aof-timestamp-enabled", "yes", "--auto-aof-rewrite-percentage", "0",
                             "--appenddirname", "appendonlydir", "--logfile", "server.log"])
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        rng = random.Random(17)
        pipe(cli, sock, seed_commands(rng))
        subprocess.run([cli, "-s", sock, "BGREWRITEAOF"], check=True, capture_output=True)
        while True:
            info = subprocess.run([cli, "-s", sock, "INFO", "persistence"], check=True,
                                  capture_output=True, text=True).stdout
            if "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info:
                break
            time.sleep(0.1)
        pipe(cli, sock, workload(rng, a.commands))
        subprocess.run([cli, "-s", sock, "SHUTDOWN", "NOSAVE"], capture_output=True)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open(mark, "w") as f:
        f.write(f"{time.time() - start:.0f}\n")
    sizes = {n: os.path.getsize(os.path.join(a.out, "appendonlydir", n))
             for n in os.listdir(os.path.join(a.out, "appendonlydir"))}
    print(f"make_prod_aof: {a.out}/appendonlydir: {sizes}")


if __name__ == "__main__":
    main()
