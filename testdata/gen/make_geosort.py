#!/usr/bin/env python3
"""Makes testdata/keyspace/geo.json and testdata/keyspace/sort.json: GEO and SORT store commands
run on real servers, with what each one stored, for the replay tests of crates/keyspace
(src/geo.rs, src/sort.rs).

Usage:
    python3 testdata/gen/make_geosort.py [--seed N]

For each server (redis-7.0, valkey-8.1; one that is not installed is skipped) a fresh server is
started, the same data are loaded and the same commands run, each on a fresh destination key
(half of the time a string holding "old" is there first, to see that an empty result deletes
it). After each command the destination is read back: ZRANGE dest 0 -1 WITHSCORES (scores as
the exact strings the server prints) for GEO, LRANGE dest 0 -1 for SORT, null when the key
does not exist, or the error the command gave.

geo.json:
    servers: [version, ...]           e.g. "redis-7.0.15", "valkey-8.1.8"
    sets: {name: [[member, score], ...]}  the source sorted sets (ZRANGE WITHSCORES; the same
                                          on every server, checked)
    cases: [{"set": name, "argv": [...], "note": why,
             "results": {version: {"stored": [[member, score], ...] | null} | {"error": msg}}}]
    The command's source key is the set's name; "nokey" is a key that does not exist.

sort.json:
    servers: [...]
    datasets: [{"strings": {key: value}, "hashes": {key: {field: value}}, "lists": {key: [...]},
                "sets": {key: [...]}, "zsets": {key: [[member, score], ...]}}]
    cases: [{"dataset": i, "argv": [...], "results": {version: {"stored": [...] | null} |
             {"error": msg}}}]

Commands are chosen so that the server's result does not depend on its hash table order (SORT
ALPHA BY over a set or sorted set only with BY values that are all present and distinct), and
no SORT weight is out of double range (Redis 7.0 leaves errno at ERANGE after such a value, so
later numeric SORTs on that server fail until something resets it).
"""
import argparse
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402

import redis  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "keyspace")
SERVER_NAMES = ("redis-7.0", "valkey-8.1")
MAX_STORED = 30  # members stored by a GEO command, above which it is usually dropped
MAX_BIG = 12  # GEO commands kept that store more
MAX_GEO_CASES = 450

# ---------------------------------------------------------------------------------------------
# The server's geohash and distance arithmetic (geohash.c, geohash_helper.c), used only to
# aim commands at boundaries; what is recorded is what the servers answer.

LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
LON_MIN, LON_MAX = -180.0, 180.0
D_R = math.pi / 180.0
R = 6372797.560856
UNITS = {"m": 1.0, "km": 1000.0, "ft": 0.3048, "mi": 1609.34}


def interleave(x, y):
    out = 0
    for i in range(32):
        out |= ((x >> i) & 1) << (2 * i)
        out |= ((y >> i) & 1) << (2 * i + 1)
    return out


def encode(lon, lat):
    lat_off = (lat - LAT_MIN) / (LAT_MAX - LAT_MIN)
    lon_off = (lon - LON_MIN) / (LON_MAX - LON_MIN)
    lat_off *= float(1 << 26)
    lon_off *= float(1 << 26)
    return interleave(int(lat_off), int(lon_off))


def decode(score):
    bits = int(score)
    ilat = ilon = 0
    for i in range(32):
        ilat |= ((bits >> (2 * i)) & 1) << i
        ilon |= ((bits >> (2 * i + 1)) & 1) << i
    div = float(1 << 26)
    lat_min = LAT_MIN + (ilat * 1.0 / div) * (LAT_MAX - LAT_MIN)
    lat_max = LAT_MIN + ((ilat + 1) * 1.0 / div) * (LAT_MAX - LAT_MIN)
    lon_min = LON_MIN + (ilon * 1.0 / div) * (LON_MAX - LON_MIN)
    lon_max = LON_MIN + ((ilon + 1) * 1.0 / div) * (LON_MAX - LON_MIN)
    x = min(max((lon_min + lon_max) / 2, LON_MIN), LON_MAX)
    y = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return x, y


def dist70(lon1, lat1, lon2, lat2):
    lat1r, lon1r, lat2r, lon2r = lat1 * D_R, lon1 * D_R, lat2 * D_R, lon2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    v = math.sin((lon2r - lon1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * R * math.asin(math.sqrt(a))


def latdist72(lat1, lat2):
    return R * abs(lat2 * D_R - lat1 * D_R)


def dist72(lon1, lat1, lon2, lat2):
    v = math.sin((lon2 * D_R - lon1 * D_R) / 2)
    if v == 0.0:
        return latdist72(lat1, lat2)
    return dist70(lon1, lat1, lon2, lat2)


def num(x):
    """A float as a string the servers parse back to the same double."""
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") else r


# ---------------------------------------------------------------------------------------------
# GEO data and commands.


def geo_sets(rng):
    """{name: [(member, lon, lat) | (member, score)]}: points added with GEOADD, or (for odd
    scores) with ZADD."""
    sets = {}
    # Clusters in Europe, with many members on the very same coordinates.
    pts = []
    for c in range(6):
        clon, clat = rng.uniform(5, 20), rng.uniform(40, 52)
        for k in range(rng.randint(25, 45)):
            pts.append((f"c{c}_{k}", clon + rng.gauss(0, 0.3), clat + rng.gauss(0, 0.2)))
        dup = (clon + rng.uniform(-0.05, 0.05), clat + rng.uniform(-0.05, 0.05))
        for k in range(rng.randint(6, 14)):
            pts.append((f"d{c}_{k}", dup[0], dup[1]))
        # Same longitude as the duplicates, other latitudes (the Valkey shortcut).
        for k in range(4):
            pts.append((f"m{c}_{k}", dup[0], dup[1] + rng.uniform(-0.3, 0.3)))
    sets["eu"] = pts
    # Near the poles, with the exact limits.
    pts = []
    for k in range(120):
        lat = rng.choice([1, -1]) * rng.uniform(75, LAT_MAX)
        pts.append((f"p{k}", rng.uniform(-180, 180), lat))
    for k in range(60):
        lat = rng.choice([1, -1]) * rng.uniform(83, LAT_MAX)
        pts.append((f"q{k}", rng.uniform(-180, 180), lat))
    pts += [("np", 0.0, LAT_MAX), ("sp", 0.0, LAT_MIN), ("np2", 179.5, LAT_MAX), ("sp2", -179.5, LAT_MIN)]
    sets["pole"] = pts
    # Across the antimeridian.
    pts = []
    for k in range(120):
        lon = rng.choice([1, -1]) * rng.uniform(178, 180)
        pts.append((f"a{k}", lon, rng.uniform(-60, 60)))
    pts += [("e180", 180.0, 10.0), ("w180", -180.0, 10.0), ("e180b", 180.0, -20.0), ("w180b", -180.0, 0.0)]
    sets["anti"] = pts
    # The whole world, plus members whose scores are not GEOADD scores.
    pts = []
    for k in range(150):
        pts.append((f"w{k}", rng.uniform(-180, 180), rng.uniform(LAT_MIN, LAT_MAX)))
    # Members on the longitude of another one, far north or south of it.
    for k in range(10):
        pts.append((f"ml{k}", pts[k][1], rng.uniform(LAT_MIN, LAT_MAX)))
    odd = [("neg", -5.0), ("frac", 1.5), ("big", float(2**53)), ("huge", 1e19), ("zero", 0.0),
           ("top", float(2**52 - 1))]
    for k in range(6):
        _, lon, lat = pts[k]
        odd.append((f"half{k}", encode(lon, lat) + 0.5))
    sets["world"] = pts + odd
    # A small set (listpack encoded).
    pts = []
    for k in range(30):
        pts.append((f"s{k}", 2.0 + rng.uniform(-0.01, 0.01), 48.0 + rng.uniform(-0.01, 0.01)))
    pts.append(("s_dup", pts[0][1], pts[0][2]))
    sets["small"] = pts
    return sets


def point_coords(sets):
    """{name: {member: (lon, lat)}} of the decoded GEOADD members."""
    out = {}
    for name, pts in sets.items():
        out[name] = {}
        for p in pts:
            if len(p) == 3:
                out[name][p[0]] = decode(encode(p[1], p[2]))
    return out


FIXED_NOTES = ("near a pole", "same longitude, radius on the distance", "same longitude, box height on the distance",
               "member not in the set", "WITHDIST with a store", "WITHCOORD with a store", "ANY without COUNT",
               "COUNT 0", "bad longitude", "hexadecimal numbers", "no source key", "the last STORE wins",
               "BYRADIUS twice")


def geo_cases(rng, sets, coords):
    cases = []

    def add(set_name, argv, note):
        cases.append({"set": set_name, "argv": [str(a) for a in argv], "note": note})

    names = list(sets)
    for n in range(700):
        name = rng.choice(names)
        members = list(coords[name])
        allm = [p[0] for p in sets[name]]
        kind = rng.random()
        # The centre.
        if rng.random() < 0.5:
            cm = rng.choice(allm if rng.random() < 0.1 else members)
            center = ("member", cm)
            cxy = coords[name].get(cm)
        else:
            if rng.random() < 0.1:
                cxy = (rng.choice([180.0, -180.0, 0.0]), rng.choice([LAT_MAX, LAT_MIN, 0.0]))
            else:
                bx, by = coords[name][rng.choice(members)]
                cxy = (min(max(bx + rng.gauss(0, 0.2), -180), 180),
                       min(max(by + rng.gauss(0, 0.2), LAT_MIN), LAT_MAX))
            center = ("lonlat", cxy)
        unit = rng.choice(list(UNITS))
        conv = UNITS[unit]
        uname = unit.upper() if rng.random() < 0.2 else unit
        # The shape.
        box = kind < 0.35
        target = rng.choice(members)
        tx, ty = coords[name][target]
        how = rng.random()
        note = ""
        if not box:
            if cxy is not None and how < 0.45:
                d = rng.choice([dist70, dist72])(cxy[0], cxy[1], tx, ty)
                r = d / conv
                r = rng.choice([r, r, math.nextafter(r, math.inf), math.nextafter(r, 0)])
                note = "radius on a member"
            elif how < 0.55:
                r = 0.0
                note = "radius 0"
            elif how < 0.65:
                r = rng.uniform(3000e3, 20000e3) / conv
                note = "huge radius"
            else:
                r = math.exp(rng.uniform(math.log(10), math.log(800e3))) / conv
                note = "random radius"
            shape = ["BYRADIUS", num(r), uname]
        else:
            if cxy is not None and how < 0.5:
                lon_d = dist70(tx, ty, cxy[0], ty) if rng.random() < 0.5 else dist72(tx, ty, cxy[0], ty)
                lat_d = dist70(tx, ty, tx, cxy[1]) if rng.random() < 0.5 else latdist72(ty, cxy[1])
                w = 2 * lon_d / conv
                h = 2 * lat_d / conv
                w = rng.choice([w, math.nextafter(w, math.inf), math.nextafter(w, 0), w * rng.uniform(1, 3)])
                h = rng.choice([h, math.nextafter(h, math.inf), math.nextafter(h, 0), h * rng.uniform(1, 3)])
                note = "box edge on a member"
            elif how < 0.6:
                w = rng.uniform(3000e3, 40000e3) / conv
                h = rng.uniform(3000e3, 20000e3) / conv
                note = "huge box"
            else:
                w = math.exp(rng.uniform(math.log(10), math.log(1500e3))) / conv
                h = math.exp(rng.uniform(math.log(10), math.log(1500e3))) / conv
                note = "random box"
            shape = ["BYBOX", num(w), num(h), uname]
        # Options.
        opts = []
        order = rng.choice([None, None, "ASC", "DESC"])
        if order:
            opts.append([order.lower() if rng.random() < 0.2 else order])
        count = None
        if rng.random() < 0.45 or note.startswith("huge"):
            count = rng.choice([1, 2, 3, 5, 8, 13, 21, 30, 40])
            c = ["COUNT", str(count)]
            if rng.random() < 0.3:
                if rng.random() < 0.5:
                    c.append("ANY")
                else:
                    opts.append(["ANY"])
            opts.append(c)
        storedist = rng.random() < 0.5
        dest = "dst"
        cmdkind = "search" if (box or rng.random() < 0.5) else ("radius" if center[0] == "lonlat" else "member")
        if cmdkind == "search":
            frm = ["FROMMEMBER", center[1]] if center[0] == "member" else ["FROMLONLAT", num(cxy[0]), num(cxy[1])]
            opts += [frm, shape]
            if storedist:
                opts.append(["STOREDIST"])
            rng.shuffle(opts)
            argv = ["GEOSEARCHSTORE", dest, name] + [a for o in opts for a in o]
        else:
            opts.append(["STOREDIST" if storedist else "STORE", dest])
            rng.shuffle(opts)
            flat = [a for o in opts for a in o]
            if cmdkind == "radius":
                argv = ["GEORADIUS", name, num(cxy[0]), num(cxy[1]), shape[1], shape[2]] + flat
            else:
                argv = ["GEORADIUSBYMEMBER", name, center[1], shape[1], shape[2]] + flat
        if rng.random() < 0.1:
            argv[0] = argv[0].lower()
        add(name, argv, note)

    # Near a pole the bounding box degenerates (the cosine of a latitude past 90 degrees): the
    # server drops neighbour cells that hold members within reach, and misses them.
    # Past about 84.5 degrees, a radius (or half box height) that reaches beyond the pole but
    # is below about 626 km keeps a step of 2 and the box's longitudes degenerate: the server
    # drops the east and west cells although they hold members within reach.
    for k in range(70):
        lat = rng.choice([1, -1]) * rng.uniform(84.5, LAT_MAX)
        lon = rng.uniform(-180, 180)
        reach = (90 - abs(lat)) * 111.2 + 5
        if k % 2 == 0:
            shape = ["BYRADIUS", num(rng.uniform(reach, 622)), "km"]
        else:
            h2 = rng.uniform(reach, 610)
            w2 = rng.uniform(5, math.sqrt(620 ** 2 - h2 ** 2))
            shape = ["BYBOX", num(2 * w2), num(2 * h2), "km"]
        if k % 7 == 3:
            frm = ["FROMMEMBER", rng.choice(["np", "sp", "np2", "sp2"])]
        else:
            frm = ["FROMLONLAT", num(lon), num(lat)]
        opts = [frm, shape]
        if rng.random() < 0.5:
            opts.append(["STOREDIST"])
        if rng.random() < 0.3:
            opts.append(["COUNT", str(rng.randint(1, 10))])
        rng.shuffle(opts)
        add("pole", ["GEOSEARCHSTORE", "dst", "pole"] + [a for o in opts for a in o], "near a pole")
    # Same longitude, other latitude: the haversine distance and R * |lat2 - lat1| differ in
    # the last bits, for STOREDIST and for the member on the boundary.
    pairs = [("eu", f"d{c}_0", f"m{c}_{k}") for c in range(6) for k in range(4)]
    pairs += [("world", f"w{k}", f"ml{k}") for k in range(10)]
    for set_name, a, b in pairs:
        (ax, ay), (bx, by) = coords[set_name][a], coords[set_name][b]
        for d in sorted({dist70(ax, ay, bx, by), dist72(ax, ay, bx, by)}):
            add(set_name, ["GEOSEARCHSTORE", "dst", set_name, "FROMMEMBER", a, "BYRADIUS", num(d), "m",
                           "STOREDIST"], "same longitude, radius on the distance")
        lat70, lat72 = dist70(bx, by, bx, ay), latdist72(by, ay)
        for h in sorted({2 * lat70, 2 * lat72}):
            add(set_name, ["GEOSEARCHSTORE", "dst", set_name, "FROMMEMBER", a, "BYBOX", "10", num(h), "m",
                           "STOREDIST"], "same longitude, box height on the distance")
    # Fixed cases: errors, a missing source, ANY before COUNT, a missing FROMMEMBER source.
    add("eu", ["GEORADIUSBYMEMBER", "eu", "nosuch", "10", "km", "STORE", "dst"], "member not in the set")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMMEMBER", "nosuch", "BYRADIUS", "10", "km"], "member not in the set")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "10", "45", "BYRADIUS", "10", "km", "WITHDIST"],
        "WITHDIST with a store")
    add("eu", ["GEORADIUS", "eu", "10", "45", "100", "km", "STORE", "dst", "WITHCOORD"], "WITHCOORD with a store")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "10", "45", "BYRADIUS", "10", "km", "ANY"],
        "ANY without COUNT")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "10", "45", "BYRADIUS", "10", "km", "COUNT", "0"],
        "COUNT 0")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "181", "45", "BYRADIUS", "10", "km"], "bad longitude")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "0x0A", "0x2D", "BYRADIUS", "0x3E8", "km", "STOREDIST"],
        "hexadecimal numbers")
    add("nokey", ["GEOSEARCHSTORE", "dst", "nokey", "FROMMEMBER", "x", "BYRADIUS", "10", "km"], "no source key")
    add("nokey", ["GEORADIUSBYMEMBER", "nokey", "x", "notanumber", "km", "STORE", "dst"], "no source key")
    add("nokey", ["GEORADIUS", "nokey", "10", "45", "10", "km", "STOREDIST", "dst"], "no source key")
    add("eu", ["GEORADIUS", "eu", "10", "45", "100", "km", "STORE", "x", "STOREDIST", "dst"], "the last STORE wins")
    add("eu", ["GEOSEARCHSTORE", "dst", "eu", "FROMLONLAT", "10", "45", "BYRADIUS", "1", "km", "BYRADIUS", "300", "km",
               "ANY", "COUNT", "7", "DESC"], "BYRADIUS twice")
    return cases


def read_zset(c, key):
    if not c.exists(key):
        return None
    raw = c.execute_command("ZRANGE", key, 0, -1, "WITHSCORES")
    return [[raw[i].decode(), raw[i + 1].decode()] for i in range(0, len(raw), 2)]


def run_geo(server, sets, cases, rng_seed):
    c = server.client()
    c.execute_command("FLUSHALL")
    for name, pts in sets.items():
        for i in range(0, len(pts), 50):
            chunk = pts[i:i + 50]
            geo = [a for p in chunk if len(p) == 3 for a in (num(p[1]), num(p[2]), p[0])]
            if geo:
                c.execute_command("GEOADD", name, *geo)
            odd = [a for p in chunk if len(p) == 2 for a in (num(p[1]), p[0])]
            if odd:
                c.execute_command("ZADD", name, *odd)
    loaded = {name: read_zset(c, name) for name in sets}
    rng = random.Random(rng_seed)
    results = []
    for case in cases:
        c.delete("dst", "x")
        if rng.random() < 0.5:
            c.set("dst", "old")
        try:
            c.execute_command(*case["argv"])
            results.append({"stored": read_zset(c, "dst")})
        except redis.exceptions.ResponseError as e:
            results.append({"error": str(e)})
    return loaded, results


# ---------------------------------------------------------------------------------------------
# SORT data and commands.

NUMBERS = ["0", "1", "2", "3", "10", "-1", "-7", "42", "007", "+5", "1.5", "-0.25", "1e3", "2.5e-3", "0x1A",
           " 12", ".5", "5.", "-0", "inf", "-inf", "1.0", "100", "99", "3.14159", "2", "2.0", "-3"]
WORDS = ["apple", "Banana", "cherry", "apple2", "a b", "", "zeta", "Zeta", "\u00e9t\u00e9", "x", "xx", "12abc",
         "1 ", "nan", "12\u0000ab", "-", "."]


def sort_dataset(rng):
    strings, hashes, lists, sets, zsets = {}, {}, {}, {}, {}
    universe = set()
    # Numeric lists (some with duplicates), mixed lists, word lists.
    for i in range(8):
        n = rng.choice([0, 1, 3, 6, 7, 8, 20, 41, 60])
        lists[f"ln{i}"] = [rng.choice(NUMBERS) for _ in range(n)]
    for i in range(4):
        n = rng.choice([5, 12, 45])
        lists[f"lw{i}"] = [rng.choice(NUMBERS + WORDS) for _ in range(n)]
    for i in range(4):
        n = rng.choice([2, 9, 30, 50])
        sets[f"sn{i}"] = sorted(set(rng.choice(NUMBERS) for _ in range(n)))
        sets[f"sw{i}"] = sorted(set(rng.choice(NUMBERS + WORDS) for _ in range(n)))
        sets[f"si{i}"] = sorted(set(str(rng.randint(-50, 500)) for _ in range(n)))  # intsets
        zs = {}
        for _ in range(n):
            zs[rng.choice(NUMBERS + WORDS)] = rng.choice([1.0, 2.0, -3.5, 0.0, rng.uniform(-10, 10)])
        zsets[f"z{i}"] = sorted(zs.items())
    for coll in (lists, sets):
        for v in coll.values():
            universe.update(v)
    for v in zsets.values():
        universe.update(m for m, _ in v)
    # BY and GET keys: w_ numeric with ties (some missing, some not numbers), u_ distinct,
    # h_ hashes (f numeric, g a word; some h_ keys are strings).
    uniq = list(range(len(universe)))
    rng.shuffle(uniq)
    for k, e in enumerate(sorted(universe)):
        r = rng.random()
        if r < 0.8:
            strings[f"w_{e}"] = rng.choice(["1", "2", "3", "-1", "0.5", "10", "2.0", " 4", "0x10"])
        elif r < 0.85:
            strings[f"w_{e}"] = rng.choice(["abc", "1x"])
        strings[f"u_{e}"] = f"v{uniq[k]:04d}"
        r = rng.random()
        if r < 0.75:
            h = {}
            if rng.random() < 0.8:
                h["f"] = rng.choice(["1", "5", "-2", "3.5", "7"])
            if rng.random() < 0.8:
                h["g"] = rng.choice(WORDS[:8])
            if h:
                hashes[f"h_{e}"] = h
        elif r < 0.85:
            strings[f"h_{e}"] = "notahash"
    strings["const"] = "5"
    return {"strings": strings, "hashes": hashes, "lists": lists, "sets": sets,
            "zsets": [[k, [[m, num(s)] for m, s in v]] for k, v in zsets.items()]}


def sort_cases(rng, ds, index, n_cases):
    cases = []
    keys = ([("list", k) for k in ds["lists"]] + [("set", k) for k in ds["sets"]]
            + [("zset", k) for k, _ in ds["zsets"]] + [("none", "nokey")])
    by_patterns = ["w_*", "u_*", "h_*->f", "h_*->g", "nosort", "const", "w_*->", "*", "nokey_*", "u_*"]
    get_patterns = ["#", "w_*", "h_*->g", "h_*->f", "nokey", "u_*", "*"]
    while len(cases) < n_cases:
        typ, key = rng.choice(keys)
        opts = []
        alpha = rng.random() < 0.4
        if alpha:
            opts.append(["ALPHA"])
        by = None
        if rng.random() < 0.6:
            by = rng.choice(by_patterns)
            opts.append(["BY", by])
        if typ in ("set", "zset") and alpha and by is not None and "*" in by and by != "u_*":
            continue  # ties in the server's hash table order
        if rng.random() < 0.5:
            opts.append([rng.choice(["ASC", "DESC", "desc", "asc"])])
        if rng.random() < 0.5:
            off = rng.choice(["0", "1", "2", "5", "-1", "-3", "40", "100", "9223372036854775807"])
            cnt = rng.choice(["0", "1", "3", "7", "10", "-1", "-5", "100", "9223372036854775807"])
            opts.append(["LIMIT", off, cnt])
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            opts.append(["GET", rng.choice(get_patterns)])
        opts.append(["STORE", "dst"])
        rng.shuffle(opts)
        argv = ["SORT", key] + [a for o in opts for a in o]
        if rng.random() < 0.1:
            argv[0] = "sort"
        cases.append({"dataset": index, "argv": argv})
    return cases


def load_sort_dataset(c, ds):
    c.execute_command("FLUSHALL")
    for k, v in ds["strings"].items():
        c.set(k, v)
    for k, h in ds["hashes"].items():
        c.hset(k, mapping=h)
    for k, v in ds["lists"].items():
        if v:
            c.rpush(k, *v)
    for k, v in ds["sets"].items():
        c.sadd(k, *v)
    for k, v in ds["zsets"]:
        c.execute_command("ZADD", k, *[a for m, s in v for a in (s, m)])


def run_sort(server, datasets, cases, rng_seed):
    c = server.client()
    rng = random.Random(rng_seed)
    results = []
    current = None
    for case in cases:
        if case["dataset"] != current:
            current = case["dataset"]
            load_sort_dataset(c, datasets[current])
        c.delete("dst")
        if rng.random() < 0.5:
            c.set("dst", "old")
        try:
            c.execute_command(*case["argv"])
            if c.exists("dst"):
                results.append({"stored": [x.decode() for x in c.lrange("dst", 0, -1)]})
            else:
                results.append({"stored": None})
        except redis.exceptions.ResponseError as e:
            results.append({"error": str(e)})
    return results


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    infos = servers.available_servers(SERVER_NAMES)
    if not infos:
        sys.exit("no server installed (run scripts/install-servers.sh)")
    os.makedirs(OUT, exist_ok=True)

    rng = random.Random(args.seed)
    sets = geo_sets(rng)
    coords = point_coords(sets)
    candidates = geo_cases(rng, sets, coords)
    # Keep the file small: drop most commands that store more than MAX_STORED members (judged
    # on the first server), and keep at most MAX_GEO_CASES.
    with servers.running_server(infos[0]) as s:
        _, first = run_geo(s, sets, candidates, args.seed + 1)
    cases, big = [], 0
    for case, res in zip(candidates, first):
        n = len(res.get("stored") or [])
        if n > MAX_STORED:
            if big >= MAX_BIG:
                continue
            big += 1
        cases.append(case)
    fixed = [c for c in cases if c["note"] in FIXED_NOTES]
    random_cases = [c for c in cases if c["note"] not in FIXED_NOTES]
    cases = random_cases[:MAX_GEO_CASES - len(fixed)] + fixed
    geo = {"servers": [], "sets": None, "cases": [dict(c, results={}) for c in cases]}
    for info in infos:
        with servers.running_server(info) as s:
            loaded, results = run_geo(s, sets, cases, args.seed + 1)
        if geo["sets"] is None:
            geo["sets"] = loaded
        elif geo["sets"] != loaded:
            sys.exit(f"{info.dir_name}: the source sets differ from the first server's")
        geo["servers"].append(info.dir_name)
        for case, res in zip(geo["cases"], results):
            case["results"][info.dir_name] = res
        print(f"geo  {info.dir_name}: {len(results)} cases, "
              f"{sum('error' in r for r in results)} errors, "
              f"{sum(r.get('stored') is None and 'error' not in r for r in results)} deleted")

    datasets = [sort_dataset(rng) for _ in range(4)]
    scases = []
    for i, ds in enumerate(datasets):
        scases += sort_cases(rng, ds, i, 150)
    srt = {"servers": [], "datasets": datasets, "cases": [dict(c, results={}) for c in scases]}
    for info in infos:
        with servers.running_server(info) as s:
            results = run_sort(s, datasets, scases, args.seed + 2)
        srt["servers"].append(info.dir_name)
        for case, res in zip(srt["cases"], results):
            case["results"][info.dir_name] = res
        print(f"sort {info.dir_name}: {len(results)} cases, "
              f"{sum('error' in r for r in results)} errors, "
              f"{sum(r.get('stored') is None and 'error' not in r for r in results)} deleted")

    for name, data in (("geo.json", geo), ("sort.json", srt)):
        path = os.path.join(OUT, name)
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"), ensure_ascii=False)
            f.write("\n")
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
