#!/usr/bin/env python3
"""Writes crates/aof-parse/src/commands.rs: every command name and arity that redis-server 7.0 and
valkey-server 8.1 report through COMMAND, read from the running servers (unix sockets only),
and the write commands of later releases that cannot be installed here (NEWER below).

Usage: python3 scripts/gen-commands.py   (after scripts/install-servers.sh)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "testdata", "gen"))
import servers  # noqa: E402  (testdata/gen/servers.py starts and stops the servers)

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "aof-parse", "src", "commands.rs")


# Write commands added after Redis 7.0 / Valkey 8.1, with the arity of their command table entry
# (redis/redis src/commands/<name>.json, valkey-io/valkey src/commands/<name>.json) in the
# release that added them. An AOF from those servers may hold them.
NEWER = {
    "waitaof": 4,  # Redis 7.2
    "hexpire": -6,  # Redis 7.4, Valkey 9.0 (hash field TTLs)
    "hpexpire": -6,
    "hexpireat": -6,
    "hpexpireat": -6,
    "hpersist": -5,
    "httl": -5,
    "hpttl": -5,
    "hexpiretime": -5,
    "hpexpiretime": -5,
    "hgetdel": -5,  # Redis 8.0
    "hgetex": -5,  # Redis 8.0, Valkey 9.0
    "hsetex": -6,  # Redis 8.0, Valkey 9.0
    "xdelex": -5,  # Redis 8.2
    "xackdel": -6,  # Redis 8.2
    "delifeq": 3,  # Valkey 9.0
}


def table(name):
    path = servers.find_server(name)
    if not path:
        sys.exit("%s is not installed: run scripts/install-servers.sh" % name)
    info = servers.ServerInfo(name, path)
    rows = {}
    with servers.running_server(info) as server:
        for entry in server.client().execute_command("COMMAND"):
            cmd = entry[0].decode() if isinstance(entry[0], bytes) else entry[0]
            rows[cmd.lower()] = int(entry[1])
    return info.version, rows


def merge(a, b):
    """Both servers' commands; where arities differ, the more permissive (a minimum)."""
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
        elif out[k] != v:
            lo = min(abs(out[k]), abs(v))
            out[k] = -lo
    return out


def main():
    rv, redis = table("redis-7.0")
    vv, valkey = table("valkey-8.1")
    rows = merge(merge(redis, valkey), NEWER)
    with open(OUT, "w") as f:
        f.write("//! Command names and arities as redis-server %s and valkey-server %s report them\n" % (rv, vv))
        f.write("//! (`COMMAND`), and the later write commands listed in scripts/gen-commands.py\n")
        f.write("//! (hash field TTLs, HGETEX/HSETEX, XDELEX, ...): generated, do not edit.\n\n")
        f.write("/// (lowercase name, arity): a positive arity is exact, a negative one a minimum,\n")
        f.write("/// both counting the command name.\n")
        f.write("pub const COMMANDS: &[(&str, i32)] = &[\n")
        for k in sorted(rows):
            f.write('    ("%s", %d),\n' % (k, rows[k]))
        f.write("];\n")
    print("wrote %s: %d commands" % (OUT, len(rows)))


if __name__ == "__main__":
    main()
