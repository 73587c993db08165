#!/usr/bin/env python3
"""Writes DIR/<server>.rdb with every installed server (see servers.py): one file per server that stresses a memory model. Every encoding at and just past its
thresholds (listpack entries and value bytes, intset size, quicklist node size, plain list
nodes), strings across every sds header type and the embedded-string limit, integers (shared and
not), keys of many lengths with and without a TTL, streams with deleted entries, consumer groups,
PELs and consumers. The analyze tests load each file into every server that reads it and compare
redkit's estimate of every key with `MEMORY USAGE key SAMPLES 0`; they make the files when
they run (about 300 KB each), so none is committed.

Usage: make_memory.py --out DIR [--server redis-7.0 ...]
"""

import argparse
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402

FAR = 4102444800000  # 2100-01-01 in ms: expiries stay in the future


def word(rng, n):
    """n random bytes of a small alphabet; past 48 bytes a repeated pattern (LZF keeps the
    file small: the model does not depend on the bytes)."""
    if n > 48:
        unit = word(rng, 16)
        return (unit * (n // 16 + 1))[:n]
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789:_-") for _ in range(n))


def build(srv, info):
    c = srv.client()
    rng = random.Random(7)
    p = c.pipeline(transaction=False)
    # Strings: every length around the embstr limit and the sds header types, integers.
    for n in list(range(0, 72)) + [100, 127, 128, 200, 255, 256, 257, 1000, 4095, 4096, 65535,
                                    65536, 70000]:
        p.set(b"str:len:%d" % n, word(rng, n))
    for v in [0, 1, 9999, 10000, -1, 123456789, -9223372036854775808, 9223372036854775807]:
        p.set(b"str:int:%d" % v, str(v))
    p.set(b"str:float", "3.14159")
    # Keys of every length, with and without a TTL.
    for n in list(range(1, 70)) + [100, 255, 256, 300]:
        k = b"k" * n
        p.set(k, word(rng, n % 50))
        p.set(b"t" * n, word(rng, 10))
        p.pexpireat(b"t" * n, FAR + n)
    p.execute()

    # Lists: small, at node boundaries, many nodes, integers, plain (large) elements.
    for n in [1, 2, 10, 127, 128, 129, 500, 3000]:
        c.rpush(b"list:%d" % n, *[word(rng, rng.randrange(1, 40)) for _ in range(n)])
    c.rpush(b"list:ints", *range(-300, 700))
    c.rpush(b"list:wide", *[word(rng, 65) for _ in range(200)])
    c.rpush(b"list:plain", word(rng, 9000), b"a", word(rng, 20000), b"b")
    c.rpush(b"list:big-elems", *[word(rng, 3000) for _ in range(12)])
    # Listpack entries of 16382, 16383 and 16384 bytes: a backlen of 2, 3 and 3 bytes.
    for n in (16377, 16378, 16379):
        c.rpush(b"list:backlen:%d" % n, word(rng, n))

    # Sets: intsets around the limit, listpack-sized string sets, hashtables.
    for n in [1, 10, 511, 512, 513, 2000]:
        c.sadd(b"set:int:%d" % n, *range(n))
    c.sadd(b"set:int64", *[rng.randrange(-2**63, 2**63) for _ in range(100)])
    for n in [1, 10, 127, 128, 129, 1000]:
        c.sadd(b"set:str:%d" % n, *[b"m:%d:" % i + word(rng, rng.randrange(0, 30)) for i in range(n)])
    c.sadd(b"set:long-member", b"x" * 64, b"y" * 65)
    c.sadd(b"set:mixed", *(list(range(100)) + [b"a", b"b"]))

    # Sorted sets: listpack and skiplist, around entries and value limits.
    for n in [1, 10, 127, 128, 129, 1000]:
        c.zadd(b"zset:%d" % n, {b"z:%d:" % i + word(rng, rng.randrange(0, 20)): rng.random() * 1000 for i in range(n)})
    c.zadd(b"zset:member64", {b"a" * 64: 1, b"b": 2})
    c.zadd(b"zset:member65", {b"a" * 65: 1, b"b": 2})
    c.zadd(b"zset:intmembers", {str(i): i for i in range(50)})

    # Hashes: listpack and hashtable, around entries and value limits.
    for n in [1, 10, 127, 128, 129, 1000]:
        c.hset(b"hash:%d" % n, mapping={b"f:%d" % i: word(rng, rng.randrange(0, 40)) for i in range(n)})
    c.hset(b"hash:value64", mapping={b"a": b"v" * 64, b"b": b"1"})
    c.hset(b"hash:value65", mapping={b"a": b"v" * 65, b"b": b"1"})
    c.hset(b"hash:ints", mapping={str(i): i * 1000 for i in range(100)})
    c.hset(b"hash:bigvals", mapping={b"f%d" % i: word(rng, 300) for i in range(200)})

    # Streams: one entry, many nodes, deleted entries, groups with PELs and consumers.
    c.xadd(b"stream:one", {b"f": b"v"}, id=b"1-1")
    for i in range(1, 1201):
        c.xadd(b"stream:many", {b"name": word(rng, 8), b"n": str(i)}, id=b"%d-%d" % (1000 + i // 3, i % 3))
    for i in range(1, 301):
        c.xadd(b"stream:del", {b"a": b"1", b"b": word(rng, 30)}, id=b"5-%d" % i)
    c.xdel(b"stream:del", *[b"5-%d" % i for i in range(1, 301, 3)])
    for i in range(1, 501):
        fields = {b"user": word(rng, 6), b"action": rng.choice([b"login", b"logout", b"buy"])}
        if i % 50 == 0:
            fields[b"extra"] = word(rng, 20)
        c.xadd(b"stream:groups", fields, id=b"%d-0" % (1700000000000 + i * 7))
    c.xgroup_create(b"stream:groups", b"g1", id=b"0")
    c.xgroup_create(b"stream:groups", b"g2", id=b"0")
    c.xgroup_create(b"stream:groups", b"empty", id=b"$")
    c.xreadgroup(b"g1", b"alice", {b"stream:groups": b">"}, count=120)
    c.xreadgroup(b"g1", b"bob", {b"stream:groups": b">"}, count=35)
    c.xreadgroup(b"g2", b"carol-with-a-longer-name", {b"stream:groups": b">"}, count=400)
    c.xack(b"stream:groups", b"g1", *[b"%d-0" % (1700000000000 + i * 7) for i in range(1, 60)])
    if info.at_least(6, 2):
        c.execute_command("XGROUP", "CREATECONSUMER", "stream:groups", "g1", "idle")

    # A second database.
    c2 = srv.client(2)
    c2.set(b"db2:str", b"hello")
    c2.sadd(b"db2:set", b"a", b"b")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the directory to write into")
    ap.add_argument("--server", action="append", help="only these servers")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for info in servers.available_servers(args.server or servers.NAMES):
        with servers.running_server(info) as srv:
            srv.client().execute_command("FLUSHALL")
            build(srv, info)
            srv.client().execute_command("SAVE")
            dest = os.path.join(args.out, f"{info.name}.rdb")
            shutil.copyfile(srv.rdb_path, dest)
            print(f"{dest}: {os.path.getsize(dest)} bytes")


if __name__ == "__main__":
    main()
