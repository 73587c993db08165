#!/usr/bin/env python3
"""Writes, with a real server, the files the diff tests compare, and what differs between them
as the edits made it (never as any tool reads it):

  before.rdb           a dataset of every type, some keys with a TTL
  after.rdb            the same server after scripted edits: keys added and removed, values
                       changed, TTLs set and removed, a type changed, stream entries added
  uncompressed.rdb     `before` saved again with rdbcompression no
  lfu.rdb              `before` loaded and saved under maxmemory-policy allkeys-lfu
  expected.json        [{"change", "key", "what", "detail"?}...] for before -> after, where
                       "detail" lists the elements of a changed collection the edits added,
                       removed or changed, in the order `diff --detail` lists them (list
                       indexes, members and fields in byte order, stream entries then groups)

Usage: diff_edits.py SERVER OUTDIR
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

FAR = 4102444800000


def main():
    name, out = sys.argv[1], sys.argv[2]
    expected = []

    def edit(change, key, what=None, elements=None):
        e = {"change": change, "key": key}
        if what:
            e["what"] = what
        if elements is not None:
            e["detail"] = elements
        expected.append(e)

    def el(change, **kw):
        kw["change"] = change
        if change == "changed" and "what" not in kw:
            kw["what"] = ["value"]
        return kw

    with servers.running_server(name) as srv:
        c = srv.client()
        for i in range(50):
            c.set(f"s:{i}", f"value-{i}")
        c.rpush("l:1", *[f"e{i}" for i in range(300)])
        c.sadd("set:1", *range(100))
        c.sadd("set:2", "a", "b", "c")
        c.zadd("z:1", {f"m{i}": i / 3 for i in range(200)})
        c.hset("h:1", mapping={f"f{i}": f"v{i}" for i in range(20)})
        c.hset("h:2", mapping={"a": "1"})
        for i in range(1, 101):
            c.xadd("st:1", {"n": str(i)}, id=f"{i}-0")
        c.xgroup_create("st:1", "g1", id="0")
        c.set("ttl:keep", "x")
        c.pexpireat("ttl:keep", FAR)
        c.set("ttl:drop", "x")
        c.pexpireat("ttl:drop", FAR)
        c.set("ttl:add", "x")
        c.execute_command("SAVE")
        shutil.copyfile(srv.rdb_path, os.path.join(out, "before.rdb"))

        c.set("s:new", "fresh"); edit("added", "s:new")
        c.sadd("set:new", "x"); edit("added", "set:new")
        c.delete("s:3"); edit("removed", "s:3")
        c.delete("h:2"); edit("removed", "h:2")
        c.set("s:7", "changed"); edit("changed", "s:7", ["value"])
        c.rpush("l:1", "one-more")
        c.lset("l:1", 2, "other")
        edit("changed", "l:1", ["value"],
             [el("changed", index=2), el("added", index=300)])
        c.srem("set:1", 5)
        c.sadd("set:1", "x")
        edit("changed", "set:1", ["value"], [el("removed", member="5"), el("added", member="x")])
        c.zadd("z:1", {"m3": 99})
        c.zadd("z:1", {"new": 0.5})
        c.zrem("z:1", "m7")
        edit("changed", "z:1", ["value"],
             [el("changed", member="m3", what=["score"], score_a=1.0, score_b=99.0),
              el("removed", member="m7", score_a=7 / 3, score_b=None),
              el("added", member="new", score_a=None, score_b=0.5)])
        c.hset("h:1", "f0", "other")
        c.hdel("h:1", "f1")
        c.hset("h:1", "f20", "new")
        edit("changed", "h:1", ["value"],
             [el("changed", field="f0"), el("removed", field="f1"), el("added", field="f20")])
        c.xadd("st:1", {"n": "101"}, id="101-0")
        c.xreadgroup("g1", "c1", {"st:1": ">"}, count=2)
        c.xgroup_create("st:1", "g2", id="$")
        edit("changed", "st:1", ["value"],
             [el("added", id="101-0"), el("changed", group="g1"), el("added", group="g2")])
        c.persist("ttl:drop"); edit("changed", "ttl:drop", ["ttl"])
        c.pexpireat("ttl:add", FAR + 1); edit("changed", "ttl:add", ["ttl"])
        c.delete("set:2"); c.rpush("set:2", "a", "b", "c"); edit("changed", "set:2", ["type"])
        # Written and undone: the same.
        c.set("s:9", "tmp"); c.set("s:9", "value-9")
        c.execute_command("SAVE")
        shutil.copyfile(srv.rdb_path, os.path.join(out, "after.rdb"))

    for extra, fname in ((["rdbcompression no"], "uncompressed.rdb"),
                         (["maxmemory-policy allkeys-lfu"], "lfu.rdb")):
        with servers.running_server(name, extra_config=extra,
                                    rdb_file=os.path.join(out, "before.rdb")) as srv:
            c = srv.client()
            for i in range(5):
                c.get("s:1")  # an access: LFU counters move
            c.execute_command("SAVE")
            shutil.copyfile(srv.rdb_path, os.path.join(out, fname))

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
