"""Read a live server's dataset into the truth format of shared/corpus/README.md.

Everything here asks the running server; nothing parses an RDB file.
"""

import hashlib
import json

BIG_STRING = 65536  # byte strings longer than this are summarised as {len, sha256, head_hex}
HEAD_BYTES = 32

NOTES = [
    "byte strings are lowercase hex; strings longer than 65536 bytes are {len, sha256, head_hex}",
    "expire_at_ms is absolute unix time in ms (null = no TTL)",
    "zset values are [member_hex, score] sorted by member bytes; score is Python repr(float) ('inf', '-inf')",
    "set members sorted by bytes; hash fields sorted by bytes",
    "stream entries keep field order; pending = [id, consumer_hex, delivery_time_ms, delivery_count]",
    "encoding is OBJECT ENCODING on the server that wrote the file, read before SAVE-time state could change",
    "hash values are [field_hex, value_hex, field_expire_at_ms|null]",
]


def hexval(data):
    if len(data) > BIG_STRING:
        return {
            "len": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "head_hex": data[:HEAD_BYTES].hex(),
        }
    return data.hex()


def key_repr(data):
    return repr(bytes(data))[2:-1]


def _pairs(flat):
    """RESP2 maps arrive as flat [k1, v1, k2, v2, ...] lists."""
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def _s(value):
    return value.decode() if isinstance(value, bytes) else value


def _stream_value(c, key):
    info = _pairs(c.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0"))
    entries = c.execute_command("XRANGE", key, "-", "+")
    out_entries = []
    for entry_id, fields in entries:
        pairs = [[hexval(fields[i]), hexval(fields[i + 1])] for i in range(0, len(fields), 2)]
        out_entries.append([entry_id.decode(), pairs])
    full_entries = info.get("entries") or []
    # XLEN can exceed the live entries: Redis 5.0 pre-releases stored such lengths, and every
    # server since loads them and keeps the length.
    assert len(full_entries) == len(out_entries) <= info["length"], (key, len(full_entries), info["length"])
    groups = []
    for raw_group in info.get("groups") or []:
        g = _pairs(raw_group)
        consumers = []
        for raw_consumer in g.get("consumers") or []:
            cons = _pairs(raw_consumer)
            consumers.append(
                {
                    "name": cons["name"].hex(),
                    "name_repr": key_repr(cons["name"]),
                    "seen_time_ms": cons.get("seen-time"),
                    "active_time_ms": cons.get("active-time"),
                    "pel_count": cons["pel-count"],
                    "pending": [[p[0].decode(), p[1], p[2]] for p in cons["pending"]],
                }
            )
            assert len(consumers[-1]["pending"]) == cons["pel-count"]
        groups.append(
            {
                "name": g["name"].hex(),
                "name_repr": key_repr(g["name"]),
                "last_delivered_id": _s(g["last-delivered-id"]),
                "entries_read": g.get("entries-read"),
                "lag": g.get("lag"),
                "pel_count": g["pel-count"],
                "pending": [[p[0].decode(), p[1].hex(), p[2], p[3]] for p in g["pending"]],
                "consumers": consumers,
            }
        )
        assert len(groups[-1]["pending"]) == g["pel-count"]
    return {
        "length": info["length"],
        "last_generated_id": _s(info["last-generated-id"]),
        "radix_tree_keys": info["radix-tree-keys"],
        "radix_tree_nodes": info["radix-tree-nodes"],
        "max_deleted_entry_id": _s(info.get("max-deleted-entry-id")),
        "entries_added": info.get("entries-added"),
        "recorded_first_entry_id": _s(info.get("recorded-first-entry-id")),
        "entries": out_entries,
        "groups": groups,
    }


def read_value(c, key, type_name):
    if type_name == "string":
        return hexval(c.execute_command("GET", key))
    if type_name == "list":
        items = c.execute_command("LRANGE", key, 0, -1)
        assert len(items) == c.execute_command("LLEN", key)
        return [hexval(x) for x in items]
    if type_name == "set":
        members = sorted(c.execute_command("SMEMBERS", key))
        assert len(members) == c.execute_command("SCARD", key)
        return [hexval(x) for x in members]
    if type_name == "zset":
        flat = c.execute_command("ZRANGE", key, 0, -1, "WITHSCORES")
        pairs = sorted((flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2))
        assert len(pairs) == c.execute_command("ZCARD", key)
        return [[hexval(m), repr(s)] for m, s in pairs]
    if type_name == "hash":
        flat = c.execute_command("HGETALL", key)
        pairs = sorted((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
        assert len(pairs) == c.execute_command("HLEN", key)
        return [[hexval(f), hexval(v), None] for f, v in pairs]
    if type_name == "stream":
        return _stream_value(c, key)
    raise ValueError(f"type {type_name} of {key!r} not handled")


PTTL_AND_TIME = "local p = redis.call('PTTL', KEYS[1]) local t = redis.call('TIME') return {p, t[1], t[2]}"


def expire_at_ms(srv, c, key):
    """Absolute expiry in ms, or None. PEXPIRETIME where the server has it (7.0+); before 7.0
    PTTL and TIME read in one Lua call (PTTL first, so each sample is >= the true value; the
    minimum of several samples is exact unless every sample straddled a millisecond tick)."""
    if srv.info.at_least(7, 0):
        value = c.execute_command("PEXPIRETIME", key)
        return None if value < 0 else value
    samples = []
    for _ in range(7):
        pttl, sec, usec = c.execute_command("EVAL", PTTL_AND_TIME, 1, key)
        if pttl < 0:
            return None
        samples.append(int(sec) * 1000 + int(usec) // 1000 + pttl)
    return min(samples)


def all_keys(srv):
    for db in range(16):
        c = srv.client(db)
        for key in sorted(c.execute_command("KEYS", "*")):
            yield db, key


def snapshot_meta(srv):
    """Per key: OBJECT ENCODING, and OBJECT FREQ / IDLETIME when the eviction policy keeps them.
    Only commands that do not touch the key's access time."""
    policy = srv.client().execute_command("CONFIG", "GET", "maxmemory-policy")[1].decode()
    meta = {}
    for db, key in all_keys(srv):
        c = srv.client(db)
        m = {"encoding": c.execute_command("OBJECT", "ENCODING", key).decode()}
        if "lfu" in policy:
            m["freq"] = c.execute_command("OBJECT", "FREQ", key)
        elif "lru" in policy:
            m["idle_s"] = c.execute_command("OBJECT", "IDLETIME", key)
        meta[(db, key)] = m
    return meta


def read_dataset(srv, meta):
    """The truth `keys` list (sorted by db, key bytes), using `meta` for encoding/freq/idle."""
    out = []
    for db, key in all_keys(srv):
        c = srv.client(db)
        type_name = c.execute_command("TYPE", key).decode()
        record = {
            "db": db,
            "key": hexval(key),
            "key_repr": key_repr(key),
            "type": type_name,
            "encoding": meta[(db, key)]["encoding"],
            "expire_at_ms": expire_at_ms(srv, c, key),
            "value": read_value(c, key, type_name),
        }
        for extra in ("freq", "idle_s"):
            if extra in meta[(db, key)]:
                record[extra] = meta[(db, key)][extra]
        out.append(record)
    return out


def read_keys(srv):
    """The dataset as `read_dataset` gives it, without encodings (which depend on how the data
    was loaded rather than on what it is)."""
    out = read_dataset(srv, {k: {"encoding": None} for k in all_keys(srv)})
    for record in out:
        del record["encoding"]
    return out


def read_functions(srv):
    if not srv.info.at_least(7, 0):
        return None
    libs = []
    for raw in srv.client().execute_command("FUNCTION", "LIST", "WITHCODE"):
        lib = _pairs(raw)
        functions = []
        for raw_fn in lib["functions"]:
            fn = _pairs(raw_fn)
            functions.append(
                {
                    "name": _s(fn["name"]),
                    "description": _s(fn["description"]),
                    "flags": [_s(f) for f in fn["flags"]],
                }
            )
        libs.append(
            {
                "library_name": _s(lib["library_name"]),
                "engine": _s(lib["engine"]),
                "functions": sorted(functions, key=lambda f: f["name"]),
                "library_code": _s(lib["library_code"]),
            }
        )
    return sorted(libs, key=lambda lib: lib["library_name"])


def server_time_ms(srv):
    sec, usec = srv.client().execute_command("TIME")
    return int(sec) * 1000 + int(usec) // 1000


def dumps(truth):
    """JSON laid out like the corpus truth files: one line per key and per library."""
    lines = ["{"]
    items = list(truth.items())
    for i, (name, value) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if name in ("keys", "functions") and isinstance(value, list):
            if not value:
                lines.append(f" {json.dumps(name)}: []{comma}")
                continue
            lines.append(f" {json.dumps(name)}: [")
            for j, element in enumerate(value):
                sep = "," if j + 1 < len(value) else ""
                lines.append("  " + json.dumps(element, separators=(",", ":"), ensure_ascii=False) + sep)
            lines.append(" ]" + comma)
        else:
            text = json.dumps(value, indent=1, ensure_ascii=False).replace("\n", "\n ")
            lines.append(f" {json.dumps(name)}: {text}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"
