#!/usr/bin/env python3
"""Starts a server on each RDB file given, waits for the load, and prints one JSON object:
{file: dataset} (truth.py's key list without encodings), or {file: {"error": log}} when the
server refuses the file. Tests compare the datasets with truth files.

Usage: python3 testdata/gen/load_rdb.py SERVER FILE...
    SERVER: redis-6.0 | redis-6.2 | redis-7.0 | valkey-8.1
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
import truth  # noqa: E402


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
            with servers.running_server(info, rdb_file=path) as srv:
                out[path] = truth.read_keys(srv)
        except RuntimeError as e:
            out[path] = {"error": str(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
