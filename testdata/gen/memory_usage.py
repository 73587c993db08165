#!/usr/bin/env python3
"""Loads each RDB PATH into a fresh server (default configuration) and prints one JSON object:
{path: {"keys": [{"db", "key" (hex), "memory" (MEMORY USAGE key SAMPLES 0), "encoding"
(OBJECT ENCODING), "type"}...], "used_memory_dataset": N, "allocator": "..."}}, or
{path: {"error": "..."}} when the server refuses the file. The analyze tests compare redkit's
estimates with these figures.

Usage: python3 testdata/gen/memory_usage.py SERVER PATH...
    SERVER: redis-6.0 | redis-6.2 | redis-7.0 | valkey-8.1
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
import truth  # noqa: E402


def info_field(text, name):
    for line in text.decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def measure(info, path):
    with servers.running_server(info, rdb_file=os.path.abspath(path)) as srv:
        keys = []
        for db, key in truth.all_keys(srv):
            c = srv.client(db)
            memory = c.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
            keys.append(
                {
                    "db": db,
                    "key": key.hex(),
                    "memory": int(memory),
                    "encoding": c.execute_command("OBJECT", "ENCODING", key).decode(),
                    "type": c.execute_command("TYPE", key).decode(),
                }
            )
        text = srv.client().execute_command("INFO", "memory")
        return {
            "keys": keys,
            "used_memory_dataset": int(info_field(text, "used_memory_dataset") or 0),
            "allocator": info_field(text, "mem_allocator"),
        }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    name = sys.argv[1]
    binary = servers.find_server(name)
    if not binary:
        sys.exit(f"{name} is not installed (run scripts/install-servers.sh)")
    info = servers.ServerInfo(name, binary)
    out = {}
    for path in sys.argv[2:]:
        try:
            out[path] = measure(info, path)
        except RuntimeError as e:
            out[path] = {"error": str(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
