#!/usr/bin/env python3
"""Loads an RDB file into a fresh server (testdata/gen/servers.py) and prints one JSON object:
{"server", "keys", "memory_usage_sum" (MEMORY USAGE key SAMPLES 0 summed over every key),
"used_memory_dataset", "allocator"}. The analyze benchmark compares redkit's and
redis-rdb-tools' totals with it.

Usage: bench/memory_total.py SERVER FILE
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "gen"))
import servers  # noqa: E402


def info_field(text, name):
    for line in text.decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def main():
    name, path = sys.argv[1], os.path.abspath(sys.argv[2])
    with servers.running_server(name, rdb_file=path, startup_timeout=600) as srv:
        total = keys = 0
        for db in range(16):
            c = srv.client(db)
            cursor = b"0"
            while True:
                cursor, batch = c.execute_command("SCAN", cursor, "COUNT", 1000)
                if batch:
                    p = c.pipeline(transaction=False)
                    for k in batch:
                        p.execute_command("MEMORY", "USAGE", k, "SAMPLES", "0")
                    for m in p.execute():
                        if m is not None:
                            total += int(m)
                            keys += 1
                if cursor in (b"0", 0):
                    break
        text = srv.client().execute_command("INFO", "memory")
        json.dump(
            {
                "server": name,
                "keys": keys,
                "memory_usage_sum": total,
                "used_memory_dataset": int(info_field(text, "used_memory_dataset") or 0),
                "allocator": info_field(text, "mem_allocator"),
            },
            sys.stdout,
        )
        print()


if __name__ == "__main__":
    main()
