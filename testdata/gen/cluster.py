#!/usr/bin/env python3
"""A real 3-master cluster on loopback ports, for the split tests.

  cluster.py make SERVER OUTDIR
      Starts three cluster-enabled SERVERs, assigns slots 0-5460, 5461-10922 and 10923-16383
      with CLUSTER ADDSLOTSRANGE, writes keys of every type (hash tags included) through a
      cluster-aware client, and the same keys to a standalone server; SAVEs all four. Writes
      OUTDIR/node-<i>.rdb, node-<i>-aof/ and node-<i>.conf (each node's RDB, the AOF directory
      it logged its writes to, and its nodes.conf), OUTDIR/nodes.conf
      (node 0's view of the cluster), OUTDIR/all.rdb (the standalone server's RDB; all four
      hold the same function library) and
      OUTDIR/keys.json ({"<hex key>": {"slot", "digest"}}, slots from CLUSTER KEYSLOT, digests
      from DEBUG DIGEST-VALUE), and CLUSTER SHARDS saved in the forms save_shards names.

  cluster.py check SERVER OUTDIR SPLITDIR [rdb|aof|resp]
      Starts the three nodes again from their nodes.conf, each loading SPLITDIR/<node id>.rdb
      (rdb, the default), or SPLITDIR/<node id>/ as its AOF directory (aof), or starting empty
      and fed the commands of SPLITDIR/<node id>.resp on its socket (resp); then prints {"read": N, "missing": [...], "wrong": [...], "count_mismatch": [...]}: every
      key of keys.json read through a cluster-aware client (its DEBUG DIGEST-VALUE on the node
      that serves it), and CLUSTER COUNTKEYSINSLOT of every slot that holds keys.
"""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

RANGES = [(0, 5460), (5461, 10922), (10923, 16383)]
LIBRARY = "#!lua name=shardlib\nredis.register_function('hello', function() return 'hi' end)\n"


def free_port():
    """A port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 10000))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def node_config(port, conf_name="nodes.conf"):
    return [f"port {port}", "bind 127.0.0.1", "cluster-enabled yes",
            f"cluster-config-file {conf_name}", "cluster-node-timeout 5000",
            "cluster-require-full-coverage yes"]


def wait_ok(client, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        info = client.execute_command("CLUSTER", "INFO")
        if isinstance(info, bytes):
            info = info.decode()
        if "cluster_state:ok" in info:
            return
        time.sleep(0.2)
    raise RuntimeError("cluster not ok in time")


def cluster_client(port):
    from redis.cluster import RedisCluster
    return RedisCluster(host="127.0.0.1", port=port, decode_responses=False)


def write_keys(c, targets):
    """Every type, plain and hash-tagged keys, to each client of `targets` alike."""
    def each(fn):
        for t in targets:
            fn(t)
    for i in range(300):
        each(lambda t: t.set(f"str:{i}", f"value-{i}"))
        each(lambda t: t.set(f"{{user:{i % 7}}}:name", f"name-{i}"))
    for i in range(40):
        each(lambda t: t.rpush(f"list:{i}", *[f"e{j}" for j in range(i + 1)]))
        each(lambda t: t.sadd(f"{{tag}}set:{i}", *range(i + 1)))
        each(lambda t: t.zadd(f"zset:{i}", {f"m{j}": j / 2 for j in range(i + 1)}))
        each(lambda t: t.hset(f"hash:{i}", mapping={f"f{j}": f"v{j}" for j in range(i + 1)}))
    for i in range(10):
        for j in range(1, 20):
            each(lambda t: t.xadd(f"stream:{i}", {"n": str(j)}, id=f"{j}-0"))
    each(lambda t: t.set("ttl:key", "x"))
    each(lambda t: t.pexpireat("ttl:key", 4102444800000))
    each(lambda t: t.set(b"bin\x00\xff{tag}", b"\x00\x01"))


@contextlib.contextmanager
def nodes(server, ports, confs=None, rdbs=None, aofs=None, log=False):
    """Three running nodes on `ports`; `confs`/`rdbs` copied in as nodes.conf/dump.rdb,
    `aofs` (AOF directories) copied in and loaded with appendonly yes; with `log`, each node
    logs its writes to an AOF directory of its own (appendonlydir)."""
    with contextlib.ExitStack() as stack:
        running = []
        for i, port in enumerate(ports):
            copy = []
            if confs:
                shutil.copyfile(confs[i], os.path.join("/tmp", f"nodes-{port}.conf"))
                copy.append(os.path.join("/tmp", f"nodes-{port}.conf"))
            extra = node_config(port, f"nodes-{port}.conf" if confs else "nodes.conf")
            if log:
                extra += ["appendonly yes", "appenddirname appendonlydir"]
            if aofs:
                copy.append(aofs[i])
                extra += ["appendonly yes",
                          f"appenddirname {os.path.basename(os.path.normpath(aofs[i]))}"]
            running.append(stack.enter_context(servers.running_server(
                server, extra_config=extra, rdb_file=rdbs[i] if rdbs else None, copy_in=copy)))
        yield running


def make(server, out):
    ports = [free_port() for _ in range(3)]
    with nodes(server, ports, log=True) as running:
        clients = [r.client() for r in running]
        for c, (a, b) in zip(clients, RANGES):
            c.execute_command("CLUSTER", "ADDSLOTSRANGE", a, b)
        for c in clients[1:]:
            c.execute_command("CLUSTER", "MEET", "127.0.0.1", ports[0])
        for c in clients:
            wait_ok(c)
        cc = cluster_client(ports[0])
        with servers.running_server(server) as alone:
            a = alone.client()
            write_keys(cc, [cc, a])
            # The same function library on every node, as FUNCTION LOAD through a cluster
            # client puts it.
            for c in clients:
                c.execute_command("FUNCTION", "LOAD", LIBRARY)
            a.execute_command("FUNCTION", "LOAD", LIBRARY)
            keys = {}
            for k in a.execute_command("KEYS", "*"):
                slot = clients[0].execute_command("CLUSTER", "KEYSLOT", k)
                keys[k.hex()] = {"slot": int(slot),
                                 "digest": one(a.execute_command("DEBUG", "DIGEST-VALUE", k))}
            a.execute_command("SAVE")
            shutil.copyfile(alone.rdb_path, os.path.join(out, "all.rdb"))
        save_shards(clients[0], ports[0], out)
        for i, (r, c) in enumerate(zip(running, clients)):
            c.execute_command("SAVE")
            c.execute_command("CLUSTER", "SAVECONFIG")
            shutil.copyfile(r.rdb_path, os.path.join(out, f"node-{i}.rdb"))
            shutil.copyfile(os.path.join(r.dir, "nodes.conf"), os.path.join(out, f"node-{i}.conf"))
            aof = os.path.join(out, f"node-{i}-aof")
            shutil.rmtree(aof, ignore_errors=True)
            shutil.copytree(os.path.join(r.dir, "appendonlydir"), aof)
        shutil.copyfile(os.path.join(out, "node-0.conf"), os.path.join(out, "nodes.conf"))
    with open(os.path.join(out, "keys.json"), "w") as f:
        json.dump(keys, f)


def save_shards(client, port, out):
    """CLUSTER SHARDS, saved as a client's reply in JSON (shards.json) and, when redis-cli is
    installed, as it prints it to a file (shards-plain.txt), to a terminal
    (shards-numbered.txt, --no-raw) and with --json (shards-cli.json)."""
    def plain(v):
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {plain(k): plain(x) for k, x in v.items()}
        return v
    with open(os.path.join(out, "shards.json"), "w") as f:
        json.dump(plain(client.execute_command("CLUSTER", "SHARDS")), f)
    cli = shutil.which("redis-cli")
    if not cli:
        return
    for name, flags in [("shards-plain.txt", []), ("shards-numbered.txt", ["--no-raw"]),
                        ("shards-cli.json", ["--json"])]:
        with open(os.path.join(out, name), "wb") as f:
            subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port), *flags, "CLUSTER", "SHARDS"],
                           stdout=f, check=True)


def one(reply):
    """A DEBUG DIGEST-VALUE reply of one key, as text."""
    if isinstance(reply, list):
        reply = reply[0]
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def myself(conf):
    for line in open(conf):
        parts = line.split()
        if len(parts) > 2 and "myself" in parts[2].split(","):
            return parts[0], int(parts[1].split("@")[0].rsplit(":", 1)[1])
    raise RuntimeError(f"no myself line in {conf}")


def resp_commands(data):
    """The commands of a RESP stream, each a list of bytes arguments."""
    i, out = 0, []
    while i < len(data):
        assert data[i:i + 1] == b"*", f"not a RESP array at {i}"
        end = data.index(b"\r\n", i)
        n, i = int(data[i + 1:end]), end + 2
        args = []
        for _ in range(n):
            assert data[i:i + 1] == b"$", f"not a RESP bulk string at {i}"
            end = data.index(b"\r\n", i)
            size, i = int(data[i + 1:end]), end + 2
            args.append(data[i:i + size])
            i += size + 2
        out.append(args)
    return out


def check(server, out, split, fmt="rdb"):
    confs = [os.path.join(out, f"node-{i}.conf") for i in range(3)]
    ids_ports = [myself(c) for c in confs]
    rdbs = [os.path.join(split, f"{nid}.rdb") for nid, _ in ids_ports] if fmt == "rdb" else None
    aofs = [os.path.join(split, nid) for nid, _ in ids_ports] if fmt == "aof" else None
    keys = json.load(open(os.path.join(out, "keys.json")))
    result = {"read": 0, "missing": [], "wrong": [], "count_mismatch": [], "commands": 0}
    with nodes(server, [p for _, p in ids_ports], confs=confs, rdbs=rdbs, aofs=aofs) as running:
        clients = [r.client() for r in running]
        for c in clients:
            wait_ok(c)
        if fmt == "resp":
            for c, (nid, _) in zip(clients, ids_ports):
                with open(os.path.join(split, f"{nid}.resp"), "rb") as f:
                    for cmd in resp_commands(f.read()):
                        c.execute_command(*cmd)
                        result["commands"] += 1
        cc = cluster_client(ids_ports[0][1])
        for hexkey, want in keys.items():
            k = bytes.fromhex(hexkey)
            node = cc.get_node_from_key(k)
            d = one(cc.execute_command("DEBUG", "DIGEST-VALUE", k, target_nodes=node))
            if not cc.exists(k):
                result["missing"].append(hexkey)
            elif d != want["digest"]:
                result["wrong"].append(hexkey)
            else:
                result["read"] += 1
        per_slot = {}
        for v in keys.values():
            per_slot[v["slot"]] = per_slot.get(v["slot"], 0) + 1
        for slot, n in per_slot.items():
            got = sum(int(c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)) for c in clients)
            if got != n:
                result["count_mismatch"].append([slot, n, got])
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        check(*sys.argv[2:6])
