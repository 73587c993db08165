#!/usr/bin/env python3
"""Starts a server on a copy of an AOF (an appendonlydir or a single appendonly file), waits
for the load, and prints the dataset as JSON (truth.py's key list, without encodings). Exits 1
with the server's log when it refuses the file. Tests compare the output with truth files.

Usage: python3 testdata/gen/load_aof.py SERVER PATH
    SERVER: redis-6.0 | redis-6.2 | redis-7.0 | valkey-8.1
    PATH:   .../appendonlydir (7.0+) or .../appendonly.aof
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
import truth  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    name, path = sys.argv[1], os.path.abspath(sys.argv[2])
    binary = servers.find_server(name)
    if not binary:
        sys.exit(f"{name} is not installed (run scripts/install-servers.sh)")
    info = servers.ServerInfo(name, binary)
    base = os.path.basename(os.path.normpath(path))
    config = ["appendonly yes", "aof-load-truncated no"]
    if os.path.isdir(path):
        config.append(f'appenddirname "{base}"')
    else:
        config.append(f'appendfilename "{base}"')
    try:
        with servers.running_server(info, extra_config=config, copy_in=[path]) as srv:
            print(json.dumps(truth.read_keys(srv)))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
