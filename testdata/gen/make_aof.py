#!/usr/bin/env python3
"""Makes the AOF fixtures in testdata/aof/ by driving real servers with AOF on, and writes a
truth file per fixture: the dataset read from the live server at the end of each second in
which it wrote (and at the end of the run).

Usage:
    python3 testdata/gen/make_aof.py [--case NAME ...]

Cases (server, directory under testdata/aof/):
    redis-7.0  redis-7.0.15/mp-preamble   multi-part, RDB-preamble base, #TS annotations
    redis-7.0  redis-7.0.15/mp-aof-base   multi-part, AOF base (aof-use-rdb-preamble no), #TS
    valkey-8.1 valkey-8.1.8/mp-preamble   multi-part, RDB-preamble base, #TS annotations
    redis-6.2  redis-6.2.14/single-preamble  one appendonly.aof: RDB preamble, then commands
    redis-6.0  redis-6.0.9/single-plain   one appendonly.aof of commands only

Each run: a fresh server; second 1 writes keys of every type; BGREWRITEAOF (so the base holds
them); seconds 2..5 write, overwrite, delete, expire and run MULTI/EXEC blocks (the last one at
the very tail). Each second's writes and the dataset read that follows are done inside one
wall-clock second of the server (checked with TIME, else the run is retried), so the dataset
recorded for second S is what `truncate --to S` must give.

The truth file (truth.json) holds:
    server, version, case, config (the AOF settings used),
    seconds: [{"unix_secs": S, "keys": [...]}]   (only for servers with aof-timestamp-enabled)
    final: {"keys": [...]}
    before_last_multi: {"keys": [...]}   the dataset before the MULTI/EXEC block at the tail
                                         (what --fix must keep when that block is torn)
with keys in the format of truth.py (without encodings, which depend on how a file is loaded).
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
import truth  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

CASES = {
    "mp-preamble": [("redis-7.0", "yes"), ("valkey-8.1", "yes")],
    "mp-aof-base": [("redis-7.0", "no")],
    "single-preamble": [("redis-6.2", "yes")],
    "single-plain": [("redis-6.0", "no")],
}
EXPIRE_BASE_MS = 4102444800000  # 2100-01-01: never fires during a test


def server_second(c):
    return int(c.execute_command("TIME")[0])


def wait_next_second(c):
    now = server_second(c)
    while server_second(c) == now:
        time.sleep(0.005)
    return server_second(c)


def first_second(c, rng):
    """Keys of every type."""
    for i in range(20):
        c.execute_command("SET", f"str:{i}", f"value-{i}-" + "x" * rng.randrange(0, 40))
    c.execute_command("SET", "counter", 10)
    c.execute_command("RPUSH", "list", *[f"item{i}" for i in range(30)])
    c.execute_command("SADD", "set", *range(50))
    c.execute_command("SADD", "set:str", *[f"m{i}" for i in range(20)])
    c.execute_command("ZADD", "zset", *sum(([i * 1.5, f"z{i}"] for i in range(25)), []))
    c.execute_command("HSET", "hash", *sum(([f"f{i}", f"v{i}"] for i in range(25)), []))
    for i in range(5):
        c.execute_command("XADD", "stream", f"{1000 + i}-0", "field", f"value{i}", "n", i)
    c.execute_command("XGROUP", "CREATE", "stream", "group", "0")
    c.execute_command("PEXPIREAT", "str:0", EXPIRE_BASE_MS + 1)
    c.execute_command("SELECT", 3)
    c.execute_command("SET", "db3:key", "in db 3")
    c.execute_command("SELECT", 0)


def later_second(c, rng, n, last, srv=None):
    """Overwrites, deletes, expiries, new keys, and a MULTI/EXEC block (last thing written in
    the final second). For the last second, returns the dataset read just before that block."""
    for i in range(rng.randrange(5, 15)):
        c.execute_command("SET", f"str:{rng.randrange(40)}", f"s{n}-{i}")
    c.execute_command("INCRBY", "counter", n)
    c.execute_command("RPUSH", "list", f"second{n}")
    c.execute_command("LPOP", "list")
    c.execute_command("SADD", "set:str", f"new{n}")
    c.execute_command("SREM", "set", n)
    c.execute_command("ZINCRBY", "zset", 2.5, f"z{n}")
    c.execute_command("HSET", "hash", f"f{n}", f"changed{n}", f"new{n}", n)
    c.execute_command("HDEL", "hash", f"f{n + 10}")
    c.execute_command("XADD", "stream", f"{2000 + n}-0", "second", n)
    c.execute_command("DEL", f"str:{n + 10}")
    c.execute_command("PEXPIREAT", f"str:{n}", EXPIRE_BASE_MS + n)
    c.execute_command("APPEND", "appended", f"[{n}]")
    c.execute_command("SELECT", 3)
    c.execute_command("RPUSH", "db3:list", n)
    c.execute_command("SELECT", 0)
    # A transaction through a pipeline: MULTI ... EXEC are logged as sent.
    p = c.pipeline(transaction=True)
    p.execute_command("SET", f"tx:{n}", "in multi")
    p.execute_command("INCR", "tx:count")
    p.execute_command("RPUSH", "tx:list", n)
    p.execute()
    if last:
        before = truth.read_keys(srv)
        p = c.pipeline(transaction=True)
        p.execute_command("SET", "tx:last", "the tail")
        p.execute_command("HSET", "hash", "tail", "yes")
        p.execute()
        return before
    return None


def run_case(case, server_name, preamble, attempts=5):
    path = servers.find_server(server_name)
    if not path:
        print(f"  {server_name} not installed: skipped")
        return
    info = servers.ServerInfo(server_name, path)
    timestamps = info.at_least(7, 0)
    config = ["appendonly yes", f"aof-use-rdb-preamble {preamble}", "appendfsync always"]
    if timestamps:
        config.append("aof-timestamp-enabled yes")
    if info.at_least(7, 0):
        config.append('appenddirname "appendonlydir"')
    for attempt in range(attempts):
        rng = random.Random(7)
        seconds = []
        ok = True
        with servers.running_server(info, extra_config=config) as srv:
            c = srv.client()
            wait_next_second(c)
            first_second(c, rng)
            c.execute_command("BGREWRITEAOF")
            while True:
                pairs = dict(
                    line.split(":", 1)
                    for line in c.execute_command("INFO", "persistence").decode().split("\r\n")
                    if ":" in line
                )
                if pairs["aof_rewrite_in_progress"] == "0" and pairs["aof_rewrite_scheduled"] == "0":
                    break
                time.sleep(0.05)
            for n in range(2, 6):
                second = wait_next_second(c)
                before = later_second(c, rng, n, last=(n == 5), srv=srv)
                if before is not None:
                    before_last_multi = before
                keys = truth.read_keys(srv)
                if server_second(c) != second:
                    ok = False
                    break
                seconds.append({"unix_secs": second, "keys": keys})
            final = truth.read_keys(srv)
            # Let the last writes reach the file, then stop without a final rewrite or save.
            time.sleep(0.2)
            out_dir = os.path.join(ROOT, "aof", f"{server_name.split('-')[0]}-{info.version}", case)
            if ok:
                shutil.rmtree(out_dir, ignore_errors=True)
                os.makedirs(out_dir)
                if info.at_least(7, 0):
                    src = os.path.join(srv.dir, "appendonlydir")
                    shutil.copytree(src, os.path.join(out_dir, "appendonlydir"))
                else:
                    shutil.copyfile(
                        os.path.join(srv.dir, "appendonly.aof"), os.path.join(out_dir, "appendonly.aof")
                    )
        if not ok:
            print(f"  {case}: a second overran, retrying ({attempt + 1}/{attempts})")
            continue
        doc = {
            "server": server_name,
            "version": info.version,
            "case": case,
            "config": config,
            "notes": truth.NOTES[:4]
            + ["seconds[i].keys is the dataset at the end of server second unix_secs (what truncate --to unix_secs keeps)"],
            "seconds": seconds if timestamps else [],
            "final": {"keys": final},
            "before_last_multi": {"keys": before_last_multi},
        }
        with open(os.path.join(out_dir, "truth.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(out_dir) for n in ns)
        print(f"  {os.path.relpath(out_dir, ROOT)}: {len(final)} keys, {len(doc['seconds'])} seconds, {size} bytes")
        return
    sys.exit(f"{case} on {server_name}: every attempt overran a second")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases")
    args = ap.parse_args()
    for case in args.case or sorted(CASES):
        for server_name, preamble in CASES[case]:
            print(f"{case} on {server_name}")
            run_case(case, server_name, preamble)


if __name__ == "__main__":
    main()
