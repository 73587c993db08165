#!/usr/bin/env python3
"""Writes an RDB of N string keys with deep prefixes ("t12:u4567:s3:890123"): 50 top-level
prefixes, a million second-level ones, ten million third-level ones at N = 10M. `analyze`'s
prefix tree must stay bounded on it (the benchmark checks peak RSS). Written directly in the
RDB 9 format, checksum disabled (8 zero bytes), which every server and redkit accept.

Usage: bench/make_prefixes.py OUT [N]
"""
import random
import sys


def length(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + n.to_bytes(4, "big")


def main():
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    rng = random.Random(11)
    with open(out, "wb", buffering=1 << 20) as f:
        f.write(b"REDIS0009")
        f.write(b"\xfa" + length(9) + b"redis-ver" + length(5) + b"6.2.0")
        f.write(b"\xfe\x00")
        chunk = []
        for i in range(n):
            key = b"t%d:u%d:s%d:%d" % (i % 50, rng.randrange(20000), rng.randrange(10), i)
            value = b"v" * (8 + i % 40)
            chunk.append(b"\x00" + length(len(key)) + key + length(len(value)) + value)
            if len(chunk) == 100_000:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))
        f.write(b"\xff" + b"\x00" * 8)


if __name__ == "__main__":
    main()
