#!/usr/bin/env python3
"""A real 3-master cluster on loopback ports, for the split tests.

  cluster.py make SERVER OUTDIR
      Starts three cluster-enabled SERVERs, assigns slots 0-5460, 5461-10922 and 10923-16383
      with CLUSTER ADDSLOTSRANGE, writes keys of every type (hash tags included) through a
      cluster-aware client, and the same keys to a standalone server; SAVEs all four. Writes
      OUTDIR/node-<i>.rdb and node-<i>.conf (each node's RDB and nodes.conf), OUTDIR/nodes.conf
      (node 0's view of the cluster), OUTDIR/all.rdb (the standalone server's RDB; all four
      hold the same function library) and
      OUTDIR/keys.json ({"<hex key>": {"slot", "digest"}}, slots from CLUSTER KEYSLOT, digests
      from DEBUG DIGEST-VALUE).

  cluster.py check SERVER OUTDIR SPLITDIR
      Starts the three nodes again from their nodes.conf, each loading SPLITDIR/<node id>.rdb,
      and prints {"read": N, "missing": [...], "wrong": [...], "count_mismatch": [...]}: every
      key of keys.json read through a cluster-aware client (its DEBUG DIGEST-VALUE on the node
      that serves it), and CLUSTER COUNTKEYSINSLOT of every slot that holds keys.
"""
import contextlib
import json
import os
import shutil
import socket
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
def nodes(server, ports, confs=None, rdbs=None):
    """Three running nodes on `ports`; `confs`/`rdbs` copied in as nodes.conf/dump.rdb."""
    with contextlib.ExitStack() as stack:
        running = []
        for i, port in enumerate(ports):
            copy = []
            if confs:
                shutil.copyfile(confs[i], os.path.join("/tmp", f"nodes-{port}.conf"))
                copy.append(os.path.join("/tmp", f"nodes-{port}.conf"))
            extra = node_config(port, f"nodes-{port}.conf" if confs else "nodes.conf")
            running.append(stack.enter_context(servers.running_server(
                server, extra_config=extra, rdb_file=rdbs[i] if rdbs else None, copy_in=copy)))
        yield running


def make(server, out):
    ports = [free_port() for _ in range(3)]
    with nodes(server, ports) as running:
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
        for i, (r, c) in enumerate(zip(running, clients)):
            c.execute_command("SAVE")
            c.execute_command("CLUSTER", "SAVECONFIG")
            shutil.copyfile(r.rdb_path, os.path.join(out, f"node-{i}.rdb"))
            shutil.copyfile(os.path.join(r.dir, "nodes.conf"), os.path.join(out, f"node-{i}.conf"))
        shutil.copyfile(os.path.join(out, "node-0.conf"), os.path.join(out, "nodes.conf"))
    with open(os.path.join(out, "keys.json"), "w") as f:
        json.dump(keys, f)


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


def check(server, out, split):
    confs = [os.path.join(out, f"node-{i}.conf") for i in range(3)]
    ids_ports = [myself(c) for c in confs]
    rdbs = [os.path.join(split, f"{nid}.rdb") for nid, _ in ids_ports]
    keys = json.load(open(os.path.join(out, "keys.json")))
    result = {"read": 0, "missing": [], "wrong": [], "count_mismatch": []}
    with nodes(server, [p for _, p in ids_ports], confs=confs, rdbs=rdbs) as running:
        clients = [r.client() for r in running]
        for c in clients:
            wait_ok(c)
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
        check(sys.argv[2], sys.argv[3], sys.argv[4])
