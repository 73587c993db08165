#!/usr/bin/env python3
"""Loads each PATH into a fresh server and prints one JSON object:
{path: {"keys": [...], "digest": "<DEBUG DIGEST>", "digest_values": {"<db>:<hex key>": "<DEBUG
DIGEST-VALUE>"}}} (keys as truth.read_keys gives them), or
{path: {"error": "..."}} when the server refuses it. Tests compare the results with truth files
and with each other.

Usage: python3 testdata/gen/load_many.py SERVER MODE PATH...
    SERVER: redis-6.0 | redis-6.2 | redis-7.0 | valkey-8.1
    MODE:   rdb  - PATH is an RDB file, loaded at startup
            aof  - PATH is a multi-part AOF directory, loaded with appendonly yes
            pipe - PATH is a RESP command file, sent to an empty server with `redis-cli --pipe`
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
import truth  # noqa: E402


def redis_cli():
    for name in ("redis-cli", "valkey-cli"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("redis-cli is not installed (it comes with the redis-server package)")


def load(info, mode, path):
    path = os.path.abspath(path)
    if mode == "rdb":
        ctx = servers.running_server(info, rdb_file=path)
    elif mode == "aof":
        base = os.path.basename(os.path.normpath(path))
        config = ["appendonly yes", "aof-load-truncated no", f'appenddirname "{base}"']
        ctx = servers.running_server(info, extra_config=config, copy_in=[path])
    else:
        ctx = servers.running_server(info)
    with ctx as srv:
        if mode == "pipe":
            with open(path, "rb") as f:
                out = subprocess.run(
                    [redis_cli(), "-s", srv.sock, "--pipe"],
                    stdin=f,
                    capture_output=True,
                    timeout=300,
                )
            text = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
            if out.returncode != 0 or "errors: 0," not in text:
                raise RuntimeError(f"redis-cli --pipe: {text.strip()}")
        digest = srv.client().execute_command("DEBUG", "DIGEST")
        # DEBUG DIGEST-VALUE of every key: "db:hex(key)" -> digest.
        values = {}
        for db, key in truth.all_keys(srv):
            (v,) = srv.client(db).execute_command("DEBUG", "DIGEST-VALUE", key)
            values[f"{db}:{key.hex()}"] = v.decode()
        return {"keys": truth.read_keys(srv), "digest": digest.decode(), "digest_values": values}


def main():
    if len(sys.argv) < 4 or sys.argv[2] not in ("rdb", "aof", "pipe"):
        sys.exit(__doc__)
    name, mode = sys.argv[1], sys.argv[2]
    binary = servers.find_server(name)
    if not binary:
        sys.exit(f"{name} is not installed (run scripts/install-servers.sh)")
    info = servers.ServerInfo(name, binary)
    out = {}
    for path in sys.argv[3:]:
        try:
            out[path] = load(info, mode, path)
        except RuntimeError as e:
            out[path] = {"error": str(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
