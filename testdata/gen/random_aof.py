#!/usr/bin/env python3
"""Drives a real server with random write commands, AOF on, and copies its multi-part AOF
directory out: the input of the offline-replay tests (`tests/aof_to_rdb.rs`), which compare
what `redkit aof-to-rdb` makes of the log with what the server makes of it.

The commands are those `aof-to-rdb` applies and those the server logs in such a form
(INCRBYFLOAT as SET ... KEEPTTL, SPOP as SREM, GETEX as PEXPIREAT/PERSIST, expiries as
PEXPIREAT, XADD * with its id): strings, keys and databases (with TTLs short enough to fire
during the run, which the server logs as DEL), lists, sets, sorted sets, hashes, streams with
consumer groups, HyperLogLogs (sparse and dense), ZRANGESTORE, GEO*STORE, SORT ... STORE, scripts (logged as their effects
in MULTI/EXEC), SWAPDB and FLUSHDB, MULTI/EXEC. Errors the server answers (WRONGTYPE and the like) are part of
the workload: the server does not log them.

Usage: python3 testdata/gen/random_aof.py SERVER SEED COMMANDS OUTDIR [PREAMBLE]
    SERVER:   redis-7.0 | valkey-8.1
    PREAMBLE: yes (default) or no: aof-use-rdb-preamble, for the base written by the
              BGREWRITEAOF run halfway
Writes OUTDIR/appendonlydir.
"""
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402

from redis.exceptions import ResponseError  # noqa: E402


def key(rng, kind):
    return f"{kind}:{rng.randrange(4 if kind == 'hll' else 12)}"


def member(rng):
    r = rng.random()
    if r < 0.3:
        return str(rng.randrange(-50, 200))
    if r < 0.9:
        return f"m{rng.randrange(40)}"
    return "x" * rng.randrange(60, 90)  # past the listpack value limit


def few(rng):
    """One of a few values: lists repeat them, so that LREM/LINSERT/LPOS find several."""
    return rng.choice(["a", "b", "c", "1", "2", "y" * 70])


def score(rng):
    return rng.choice([str(rng.randrange(-20, 20)), f"{rng.uniform(-100, 100):.3f}", "inf", "-inf"])


def command(rng):
    s, l, st, z, h, x, hll = (key(rng, k) for k in "s l set z h x hll".split())
    pick = rng.randrange(1000)
    choices = [
        lambda: ["SET", s, member(rng)],
        # TTLs either fire during the run or last well past the test (never in between,
        # where the two loads compared would see different keys).
        lambda: ["SET", s, member(rng), "EX", str(rng.randrange(1000, 100000))],
        lambda: ["SET", s, member(rng), "PX", str(rng.randrange(1, 80))],  # fires during the run
        lambda: ["SET", s, member(rng), "KEEPTTL"],
        lambda: ["SET", s, member(rng), "NX"],
        lambda: ["SET", s, member(rng), "XX", "GET"],
        lambda: ["SETEX", s, str(rng.randrange(1000, 100000)), member(rng)],
        lambda: ["SETNX", s, member(rng)],
        lambda: ["MSET", s, member(rng), key(rng, "s"), member(rng)],
        lambda: ["APPEND", s, member(rng)],
        lambda: ["SETRANGE", s, str(rng.randrange(0, 20)), member(rng)],
        lambda: ["INCR", "n:" + str(rng.randrange(4))],
        lambda: ["INCRBY", "n:" + str(rng.randrange(4)), str(rng.randrange(-100, 100))],
        lambda: ["DECR", "n:" + str(rng.randrange(4))],
        lambda: ["INCRBYFLOAT", "f:" + str(rng.randrange(3)), f"{rng.uniform(-5, 5):.4f}"],
        lambda: ["GETSET", s, member(rng)],
        lambda: ["GETDEL", s],
        lambda: ["GETEX", s, "PX", str(rng.randrange(10**6, 10**8))],
        lambda: ["GETEX", s, "PERSIST"],
        lambda: ["DEL", rng.choice([s, l, st, z, h, x])],
        lambda: ["UNLINK", rng.choice([s, l, st, z, h])],
        lambda: ["EXPIRE", rng.choice([s, l, st, z, h, x]), str(rng.randrange(1000, 100000))],
        lambda: ["PEXPIRE", rng.choice([s, l, st, z, h]), str(rng.randrange(1, 60))],
        lambda: ["PERSIST", rng.choice([s, l, st, z, h, x])],
        lambda: ["RENAME", s, key(rng, "s")],
        lambda: ["RENAMENX", l, key(rng, "l")],
        lambda: ["MOVE", rng.choice([s, l, st]), str(rng.randrange(3))],
        lambda: ["COPY", rng.choice([s, z, h, x]), key(rng, "c"), "REPLACE"],
        lambda: ["SELECT", str(rng.randrange(3))],
        lambda: ["RPUSH", l, *[few(rng) for _ in range(rng.randrange(1, 6))]],
        lambda: ["LPUSH", l, *[few(rng) for _ in range(rng.randrange(1, 4))]],
        lambda: ["RPUSHX", l, few(rng)],
        lambda: ["LPOP", l, str(rng.randrange(1, 3))],
        lambda: ["RPOP", l],
        lambda: ["LSET", l, str(rng.randrange(-3, 3)), member(rng)],
        lambda: ["LTRIM", l, str(rng.randrange(-5, 3)), str(rng.randrange(-3, 10))],
        lambda: ["LREM", l, str(rng.randrange(-2, 3)), few(rng)],
        lambda: ["LINSERT", l, rng.choice(["BEFORE", "AFTER"]), few(rng), member(rng)],
        lambda: ["LMOVE", l, key(rng, "l"), rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])],
        lambda: ["RPOPLPUSH", l, key(rng, "l")],
        lambda: ["SADD", st, *[member(rng) for _ in range(rng.randrange(1, 8))]],
        lambda: ["SREM", st, member(rng), member(rng)],
        lambda: ["SPOP", st],
        lambda: ["SMOVE", st, key(rng, "set"), member(rng)],
        lambda: ["ZADD", z, score(rng), member(rng), score(rng), member(rng)],
        lambda: ["ZADD", z, rng.choice(["NX", "XX", "GT", "LT"]), "CH", score(rng), member(rng)],
        lambda: ["ZINCRBY", z, str(rng.randrange(-5, 5)), member(rng)],
        lambda: ["ZREM", z, member(rng)],
        lambda: ["HSET", h, member(rng), member(rng), member(rng), member(rng)],
        lambda: ["HSETNX", h, member(rng), member(rng)],
        lambda: ["HDEL", h, member(rng)],
        lambda: ["HINCRBY", h, "count", str(rng.randrange(-10, 10))],
        lambda: ["HINCRBYFLOAT", h, "float", f"{rng.uniform(-2, 2):.3f}"],
        lambda: ["XADD", x, "*", member(rng), member(rng)],
        lambda: ["XDEL", x, f"{rng.randrange(10**13)}-0"],
        lambda: ["XGROUP", "CREATE", x, f"g{rng.randrange(3)}", "$", "MKSTREAM"],
        lambda: ["XGROUP", "SETID", x, f"g{rng.randrange(3)}", "0"],
        lambda: ["XGROUP", "DESTROY", x, f"g{rng.randrange(3)}"],
        lambda: ["XGROUP", "CREATECONSUMER", x, f"g{rng.randrange(3)}", f"c{rng.randrange(3)}"],
        lambda: ["XSETID", x, f"{2 * 10**13}-{rng.randrange(5)}"],
        lambda: ["XREADGROUP", "GROUP", f"g{rng.randrange(3)}", f"c{rng.randrange(3)}", "COUNT", "2", "STREAMS", x, ">"],
        lambda: ["XACK", x, f"g{rng.randrange(3)}", f"{rng.randrange(10**13)}-0"],
        lambda: ["XAUTOCLAIM", x, f"g{rng.randrange(3)}", f"c{rng.randrange(3)}", "0", "0", "COUNT", "3"],
        lambda: ["ZPOPMIN", z, str(rng.randrange(1, 3))],
        lambda: ["ZPOPMAX", z],
        lambda: ["ZREMRANGEBYRANK", z, str(rng.randrange(-3, 2)), str(rng.randrange(-2, 3))],
        lambda: ["ZREMRANGEBYSCORE", z, rng.choice(["-inf", "(0", "-5"]), rng.choice(["+inf", "5", "(10"])],
        # Lex ranges are defined on sorted sets whose scores are all equal.
        lambda: ["ZADD", "lex:" + str(rng.randrange(3)), "0", member(rng), "0", member(rng)],
        lambda: ["ZREMRANGEBYLEX", "lex:" + str(rng.randrange(3)), rng.choice(["-", "[m1", "(m2"]), rng.choice(["+", "[m3", "(m30"])],
        lambda: [rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key(rng, "set"), st, key(rng, "set")],
        lambda: ["SETBIT", "b:" + str(rng.randrange(4)), str(rng.randrange(200)), str(rng.randrange(2))],
        lambda: ["BITOP", rng.choice(["AND", "OR", "XOR"]), "b:" + str(rng.randrange(4)), "b:" + str(rng.randrange(4)), "b:" + str(rng.randrange(4))],
        lambda: ["BITOP", "NOT", "b:" + str(rng.randrange(4)), "b:" + str(rng.randrange(4))],
        lambda: ["BITFIELD", "b:" + str(rng.randrange(4)), "OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"]),
                 "INCRBY", rng.choice(["i5", "u7", "i64", "u63", "i16"]), rng.choice(["#1", "3", "100"]), str(rng.randrange(-300, 300)),
                 "SET", rng.choice(["u8", "i9"]), "#" + str(rng.randrange(10)), str(rng.randrange(-400, 400))],
        lambda: [rng.choice(["ZUNIONSTORE", "ZINTERSTORE"]), key(rng, "z"), "2", z, rng.choice([key(rng, "z"), st]),
                 "WEIGHTS", str(rng.randrange(-2, 3)), f"{rng.uniform(-2, 2):.2f}", "AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])],
        lambda: ["ZDIFFSTORE", key(rng, "z"), "2", z, key(rng, "z")],
        "restore",
        lambda: ["XADD", x, "MAXLEN", rng.choice(["=", "~"]), str(rng.randrange(0, 6)), "*", member(rng), member(rng)],
        lambda: ["XADD", x, "MINID", "=", f"{rng.randrange(10**13)}-0", "*", member(rng), member(rng)],
        lambda: ["XTRIM", x, "MAXLEN", rng.choice(["=", "~"]), str(rng.randrange(0, 4))],
        lambda: ["GEOADD", "geo:" + str(rng.randrange(3)), f"{rng.uniform(-180, 180):.5f}", f"{rng.uniform(-85, 85):.5f}", member(rng)],
        lambda: ["LMPOP", "2", l, key(rng, "l"), rng.choice(["LEFT", "RIGHT"]), "COUNT", str(rng.randrange(1, 3))],
        lambda: ["ZMPOP", "2", z, key(rng, "z"), rng.choice(["MIN", "MAX"]), "COUNT", str(rng.randrange(1, 3))],
        lambda: ["SPOP", st, str(rng.randrange(1, 4))],
        lambda: ["BLPOP", l, key(rng, "l"), "0.01"],
        lambda: ["BZPOPMIN", z, "0.01"],
        # HyperLogLogs: small ones stay sparse, a few large adds make them dense; PFCOUNT of
        # one key is logged when it refreshes the cached cardinality.
        lambda: ["PFADD", hll, *[member(rng) for _ in range(rng.randrange(0, 8))]],
        lambda: ["PFADD", hll, *[f"e{rng.randrange(10**6)}" for _ in range(rng.randrange(200, 900))]],
        lambda: ["PFMERGE", hll, "hll:" + str(rng.randrange(4)), "hll:" + str(rng.randrange(4))],
        lambda: ["PFCOUNT", hll],
        lambda: ["ZRANGESTORE", key(rng, "z"), z, str(rng.randrange(-4, 3)), str(rng.randrange(-3, 6)), *rng.choice([[], ["REV"]])],
        lambda: ["ZRANGESTORE", key(rng, "z"), z, *rng.choice([["-inf", "+inf"], ["(-5", "10"], ["0", "(50"]]), "BYSCORE",
                 *rng.choice([[], ["LIMIT", str(rng.randrange(-1, 3)), str(rng.randrange(-1, 4))]])],
        lambda: ["ZRANGESTORE", key(rng, "z"), z, "+inf", "-inf", "BYSCORE", "REV"],
        lambda: ["ZRANGESTORE", "lex:" + str(rng.randrange(3)), "lex:" + str(rng.randrange(3)),
                 *rng.choice([["-", "+"], ["[m1", "(m3"], ["(m30", "[m1"]]), "BYLEX", *rng.choice([[], ["REV"]])],
        # A script: the server logs its effects inside MULTI/EXEC.
        lambda: ["EVAL", "redis.call('SET', KEYS[1], ARGV[1]) redis.call('RPUSH', KEYS[2], ARGV[1]) "
                 "redis.call('INCRBY', KEYS[3], 2) return 1", "3", s, l, "n:" + str(rng.randrange(4)), member(rng)],
        lambda: ["SWAPDB", str(rng.randrange(3)), str(rng.randrange(3))] if rng.random() < 0.3 else ["SET", s, member(rng)],
        lambda: ["FLUSHDB"] if rng.random() < 0.05 else ["DEL", s],
        lambda: ["GEOSEARCHSTORE", "geo:" + str(rng.randrange(3)), "geo:" + str(rng.randrange(3)),
                 *rng.choice([["FROMLONLAT", f"{rng.uniform(-180, 180):.4f}", f"{rng.uniform(-85, 85):.4f}"],
                              ["FROMMEMBER", member(rng)]]),
                 *rng.choice([["BYRADIUS", str(rng.randrange(100, 20000)), "km"],
                              ["BYBOX", str(rng.randrange(100, 20000)), str(rng.randrange(100, 9000)), "mi"]]),
                 rng.choice(["ASC", "DESC"]), *rng.choice([[], ["COUNT", str(rng.randrange(1, 4))], ["COUNT", "2", "ANY"]]),
                 *rng.choice([[], ["STOREDIST"]])],
        lambda: ["GEORADIUS", "geo:" + str(rng.randrange(3)), f"{rng.uniform(-180, 180):.4f}", f"{rng.uniform(-85, 85):.4f}",
                 str(rng.randrange(500, 20000)), "km", rng.choice(["STORE", "STOREDIST"]), "geo:" + str(rng.randrange(3))],
        lambda: ["GEORADIUSBYMEMBER", "geo:" + str(rng.randrange(3)), member(rng), str(rng.randrange(500, 20000)), "km",
                 "STORE", "geo:" + str(rng.randrange(3))],
        # SORT ... STORE: ALPHA on sets (members are unique, so no ties), BY and GET on lists.
        lambda: ["SORT", st, "ALPHA", *rng.choice([[], ["DESC"], ["LIMIT", str(rng.randrange(-1, 3)), str(rng.randrange(-1, 5))]]),
                 "STORE", key(rng, "l")],
        lambda: ["SORT", l, *rng.choice([["ALPHA"], ["BY", "nosort"], ["BY", "s:*", "ALPHA"], ["BY", "h:*->count"]]),
                 *rng.choice([[], ["GET", "#", "GET", "s:*"], ["GET", "h:*->m1"]]), "STORE", key(rng, "l")],
    ]
    choice = choices[pick % len(choices)]
    return choice if choice == "restore" else choice()


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    name, seed, count, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    preamble = sys.argv[5] if len(sys.argv) == 6 else "yes"
    path = servers.find_server(name)
    if not path:
        sys.exit(f"{name} is not installed (run scripts/install-servers.sh)")
    info = servers.ServerInfo(name, path)
    config = [
        "appendonly yes",
        f"aof-use-rdb-preamble {preamble}",
        "appendfsync always",
        "aof-timestamp-enabled yes",
        'appenddirname "appendonlydir"',
    ]
    rng = random.Random(seed)
    with servers.running_server(info, extra_config=config) as srv:
        c = srv.client()
        pipe_open = False
        for i in range(count):
            if i == count // 2:
                c.execute_command("BGREWRITEAOF")
                while b"aof_rewrite_in_progress:1" in c.execute_command("INFO", "persistence"):
                    time.sleep(0.02)
            if not pipe_open and rng.random() < 0.03:
                c.execute_command("MULTI")
                pipe_open = True
            cmd = command(rng)
            if cmd == "restore":
                # DUMP a key and RESTORE it under another name (as MIGRATE does).
                src = key(rng, rng.choice("s l set z h x".split()))
                try:
                    payload = c.execute_command("DUMP", src)
                    if payload is not None and not pipe_open:
                        c.execute_command("RESTORE", key(rng, "r"), str(rng.choice([0, 0, 10**7])), payload, "REPLACE")
                except ResponseError:
                    pass
                continue
            try:
                c.execute_command(*cmd)
            except ResponseError:
                pass
            if pipe_open and rng.random() < 0.3:
                try:
                    c.execute_command("EXEC")
                except ResponseError:
                    pass
                pipe_open = False
            if rng.random() < 0.002:
                time.sleep(0.1)  # let short TTLs fire
        if pipe_open:
            try:
                c.execute_command("EXEC")
            except ResponseError:
                pass
        time.sleep(0.2)
        dest = os.path.join(out, "appendonlydir")
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(os.path.join(srv.dir, "appendonlydir"), dest)


if __name__ == "__main__":
    main()
