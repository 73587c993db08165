#!/usr/bin/env python3
"""Writes seven single-file AOFs of common access patterns into DIR (default bench/data):

  leaderboard.aof  200,000 ZADDs of random players to one sorted set, each followed by
                   ZREMRANGEBYRANK lb 0 -1001 (the top 1,000 kept)
  capped.aof       200,000 rounds of LPUSH + LTRIM 0 999 (a capped list), ZINCRBY into a
                   sorted set of 5,000 members, SADD into a set of 100,000
  bitmaps.aof      1,000,000 SETBITs at random offsets below 2^27 into 30 bitmaps (daily
                   active users by id): 30 sparse strings of 16 MiB
  window.aof       200,000 rounds of ZADD of a request at its time, then ZREMRANGEBYSCORE of
                   those more than 20,000 ticks old (a sliding-window rate limiter)
  leaderboard20k.aof  100,000 rounds of the leaderboard above, kept to its top 20,000
  topn.aof         20,000 players ZADDed, then 20,000 rounds of one player's new score and
                   ZRANGESTORE top lb 0 9 REV (a cached top ten)
  lexwindow.aof    20,000 terms ZADDed at score 0, then 40,000 rounds of a new term and
                   ZREMRANGEBYLEX of the terms more than 20,000 behind it

Time them with `redkit aof-to-rdb FILE -o OUT`, beside redis-server loading them (copy the
file as appendonly.aof into an empty directory, start the server there with --appendonly yes,
time until it answers PING); compare `redkit digest OUT` with the server's DEBUG DIGEST.
"""
import os
import random
import sys


def writer(path):
    out = open(path, "wb")

    def cmd(*args):
        out.write(b"*%d\r\n" % len(args))
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.write(b"$%d\r\n%s\r\n" % (len(a), a))

    return out, cmd


def leaderboard(path, rounds, keep):
    """`rounds` ZADDs of random players, each followed by a cut to the top `keep`."""
    random.seed(1)
    out, cmd = writer(path)
    for _ in range(rounds):
        cmd("ZADD", "lb", random.randint(0, 10**9), "player:%d" % random.randint(0, 10**6))
        cmd("ZREMRANGEBYRANK", "lb", 0, -(keep + 1))
    out.close()


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data")
    os.makedirs(d, exist_ok=True)
    leaderboard(os.path.join(d, "leaderboard.aof"), 200000, 1000)
    random.seed(2)
    out, cmd = writer(os.path.join(d, "capped.aof"))
    for i in range(200000):
        cmd("LPUSH", "recent", "item:%d" % i)
        cmd("LTRIM", "recent", 0, 999)
        cmd("ZINCRBY", "hot", 1, "k%d" % random.randint(0, 5000))
        cmd("SADD", "seen", "u%d" % random.randint(0, 100000))
    out.close()
    random.seed(7)
    out, cmd = writer(os.path.join(d, "bitmaps.aof"))
    for i in range(1000000):
        cmd("SETBIT", "dau:%d" % (i % 30), random.randrange(1 << 27), 1)
    out.close()
    out, cmd = writer(os.path.join(d, "window.aof"))
    for i in range(200000):
        cmd("ZADD", "rate:u1", i, "req:%d" % i)
        cmd("ZREMRANGEBYSCORE", "rate:u1", "-inf", "(%d" % (i - 20000))
    out.close()
    leaderboard(os.path.join(d, "leaderboard20k.aof"), 100000, 20000)
    random.seed(5)
    out, cmd = writer(os.path.join(d, "topn.aof"))
    for i in range(20000):
        cmd("ZADD", "lb", random.randrange(10**9), "p%d" % i)
    for i in range(20000):
        cmd("ZADD", "lb", random.randrange(10**9), "p%d" % random.randrange(20000))
        cmd("ZRANGESTORE", "top", "lb", "0", "9", "REV")
    out.close()
    out, cmd = writer(os.path.join(d, "lexwindow.aof"))
    for i in range(20000):
        cmd("ZADD", "ac", 0, "t%06d" % i)
    for i in range(20000, 60000):
        cmd("ZADD", "ac", 0, "t%06d" % i)
        cmd("ZREMRANGEBYLEX", "ac", "-", "(t%06d" % (i - 20000))
    out.close()


if __name__ == "__main__":
    main()
