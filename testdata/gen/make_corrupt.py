#!/usr/bin/env python3
"""Write damaged copies of good RDB files to testdata/corrupt/, with cases.json.

Each fault is placed by finding known marker bytes in the good file (a key or value the
generator wrote), never by parsing the file. Where a case is meant to isolate one fault, the
CRC64 trailer is recomputed so that the edit is the only thing wrong. cases.json records, per
file: what was done, the byte offset of the fault, whether it is a truncation or a corruption,
and the exit code and verdict of /usr/bin/redis-check-rdb.

Run after make_rdb.py (it reads testdata/rdb/redis-7.0.15/).
"""

import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rdb import check_rdb  # noqa: E402  (the same verdict reader for both scripts)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RDB_DIR = os.path.join(ROOT, "testdata", "rdb")
OUT_DIR = os.path.join(ROOT, "testdata", "corrupt")

# --- CRC-64/Jones as used by Redis: reflected, poly 0xad93d23594c935a9 (reflected form
# 0x95ac9329ac4bc9b5), init 0, xorout 0.
_POLY_REFLECTED = 0x95AC9329AC4BC9B5


def _table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc64(data, crc=0):
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
assert crc64(b"REDIS0011\xff") == 0x629738748D8A22C0


def with_crc(body):
    """`body` ends with the 0xFF EOF opcode; append its CRC64, little-endian."""
    assert body[-1] == 0xFF
    return body + crc64(body).to_bytes(8, "little")


def check_trailer(data):
    assert data[-9] == 0xFF, "good file does not end with EOF + CRC"
    assert int.from_bytes(data[-8:], "little") == crc64(data[:-8]), "good file CRC mismatch"


def find_once(data, marker):
    at = data.find(marker)
    assert at >= 0, f"{marker!r} not found"
    assert data.find(marker, at + 1) < 0, f"{marker!r} found twice"
    return at


def find_string_key(data, key):
    """Offset of the type byte of the string key `key` (short key: 1-byte length prefix)."""
    at = find_once(data, bytes([len(key)]) + key)
    assert data[at - 1] == 0x00, f"byte before {key!r} is {data[at - 1]:#x}, not string type 0"
    return at - 1


def encode_len(n):
    """RDB length encoding (used only to write replacement bytes and to check what is there)."""
    if n < 0x40:
        return bytes([n])
    if n < 0x4000:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for old in glob.glob(os.path.join(OUT_DIR, "*.rdb")):
        os.remove(old)
    server_dir = "redis-7.0.15"
    mixed_rel = f"rdb/{server_dir}/mixed_all.rdb"
    lzf_rel = f"rdb/{server_dir}/string_lzf.rdb"
    with open(os.path.join(RDB_DIR, server_dir, "mixed_all.rdb"), "rb") as f:
        mixed = f.read()
    with open(os.path.join(RDB_DIR, server_dir, "string_lzf.rdb"), "rb") as f:
        lzf = f.read()
    check_trailer(mixed)
    check_trailer(lzf)

    cases = []

    def emit(name, data, source, kind, offset, what, **extra):
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(data)
        case = {"file": name, "source": source, "kind": kind, "offset": offset, "what": what}
        case.update(extra)
        case["size"] = len(data)
        cases.append(case)

    # Markers in mixed_all.rdb: "str:flipme" -> "FLIPME-FLIPME-FLIP" (18 bytes, stored plain:
    # strings of 20 bytes or less are never compressed) and "str:lzf" (300 bytes, LZF).
    flip_type = find_string_key(mixed, b"str:flipme")
    flip_key = flip_type + 2
    flip_len = flip_key + len(b"str:flipme")
    assert mixed[flip_len] == 18
    flip_value = flip_len + 1
    assert mixed[flip_value:flip_value + 18] == b"FLIPME-FLIPME-FLIP"
    lzf_type = find_string_key(mixed, b"str:lzf")
    lzf_value = lzf_type + 2 + len(b"str:lzf")
    assert mixed[lzf_value] == 0xC3, "str:lzf is not LZF-compressed in mixed_all.rdb"
    eof = len(mixed) - 9
    crc_at = len(mixed) - 8

    # 1. One byte of a value flipped; the CRC is left as it was, so only the CRC check fails.
    at = flip_value + 7
    data = bytearray(mixed)
    data[at] ^= 0x20  # 'F' -> 'f'
    emit("crc_flipped_byte.rdb", bytes(data), mixed_rel, "corruption", at,
         "one byte of the value of str:flipme flipped ('F' -> 'f'); the stored CRC is the original, "
         "so the file parses and only the checksum is wrong",
         detected_at=crc_at, crc_recomputed=False,
         stored_crc=f"{int.from_bytes(mixed[-8:], 'little'):016x}",
         computed_crc=f"{crc64(bytes(data[:-8])):016x}")

    # 2. Truncations.
    truncations = [
        (5, "mid-header: inside the 'REDIS' magic"),
        (9, "right after the 9-byte header, before the first opcode"),
        (flip_key + 4, "mid-key: inside the key name str:flipme"),
        (flip_value + 9, "mid-value: inside the value of str:flipme"),
        (lzf_value + 10, "mid-value: inside the LZF payload of str:lzf"),
        (eof, "all records complete, the 0xFF EOF opcode and the CRC missing"),
        (crc_at, "just before the CRC: ends right after the 0xFF EOF opcode"),
        (crc_at + 4, "inside the CRC: 4 of its 8 bytes present"),
    ]
    for n, what in truncations:
        emit(f"truncated_{n}.rdb", mixed[:n], mixed_rel, "truncation", n,
             f"{what}; the file is the first {n} bytes of the source", crc_recomputed=False)

    # 3. Header faults (CRC recomputed).
    emit("bad_version.rdb", with_crc(b"REDIS0099" + mixed[9:-8]), mixed_rel, "corruption", 5,
         "version digits changed to 0099 (REDIS0099); CRC recomputed", crc_recomputed=True)
    emit("bad_magic.rdb", with_crc(b"NOTRD" + mixed[5:-8]), mixed_rel, "corruption", 0,
         "magic 'REDIS' changed to 'NOTRD'; CRC recomputed", crc_recomputed=True)

    # 4. A string length claiming 2^60 bytes: 0x12 (18) rewritten as 0x81 + u64 BE.
    huge = 1 << 60
    body = mixed[:flip_len] + encode_len(huge) + mixed[flip_len + 1:-8]
    emit("huge_length.rdb", with_crc(body), mixed_rel, "corruption", flip_len,
         "the length of the value of str:flipme (1 byte, 18) rewritten as 0x81 + 8 bytes claiming "
         f"{huge} bytes (2^60); the 18 value bytes follow as before; CRC recomputed",
         declared_length=huge, crc_recomputed=True)

    # 5. Type byte 8 (unused) and 99 (no such type or opcode) before str:flipme.
    for type_byte, name in ((8, "bad_type.rdb"), (99, "bad_type_99.rdb")):
        body = bytearray(mixed[:-8])
        body[flip_type] = type_byte
        emit(name, with_crc(bytes(body)), mixed_rel, "corruption", flip_type,
             f"the type byte of str:flipme (0, string) changed to {type_byte}; CRC recomputed",
             type_byte=type_byte, crc_recomputed=True)

    # 6. LZF string whose declared uncompressed length is huge: in string_lzf.rdb, the value of
    # lzf:text-300 is 0xC3, clen, ulen (300), then clen bytes of LZF data.
    key = b"lzf:text-300"
    t = find_string_key(lzf, key)
    v = t + 2 + len(key)
    assert lzf[v] == 0xC3, "lzf:text-300 is not LZF-compressed in string_lzf.rdb"
    clen_at = v + 1
    assert lzf[clen_at] >> 6 in (0, 1), "unexpected clen width"
    clen_width = 1 if lzf[clen_at] >> 6 == 0 else 2
    ulen_at = clen_at + clen_width
    assert lzf[ulen_at:ulen_at + 2] == encode_len(300), "ulen is not 300"
    new_ulen = 0xFFFFFFF0
    body = lzf[:ulen_at] + encode_len(new_ulen) + lzf[ulen_at + 2:-8]
    emit("lzf_huge_ulen.rdb", with_crc(body), lzf_rel, "corruption", ulen_at,
         "the uncompressed length of the LZF string lzf:text-300 (300) rewritten as 0x80 + "
         f"0x{new_ulen:08X}; compressed length and data unchanged; CRC recomputed",
         declared_length=new_ulen, crc_recomputed=True)

    # 7. Two files that are valid for Redis, for contrast.
    emit("crc_zero.rdb", mixed[:-8] + bytes(8), mixed_rel, "valid", crc_at,
         "CRC trailer set to 0, which Redis reads as 'checksum not computed' (as written with "
         "rdbchecksum no): the file is accepted", crc_recomputed=False)
    emit("trailing_bytes.rdb", mixed + b"GARBAGE\n", mixed_rel, "valid", len(mixed),
         "8 bytes appended after the CRC; the RDB loader and redis-check-rdb ignore bytes after "
         "the CRC", crc_recomputed=False)

    for case in cases:
        code, verdict = check_rdb(os.path.join(OUT_DIR, case["file"]))
        case["redis_check_rdb_exit"] = code
        case["redis_check_rdb_message"] = verdict

    doc = {
        "description": "damaged copies of good RDB files; offset = byte offset of the fault in the "
                       "damaged file (for truncations: the new file size, where reading runs out); "
                       "detected_at = where a reader can first notice it when that differs",
        "checker": subprocess.run(["redis-check-rdb", "--version"], capture_output=True,
                                  text=True).stdout.strip(),
        "cases": cases,
    }
    with open(os.path.join(OUT_DIR, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for case in cases:
        print(f"{case['file']:24} {case['kind']:10} offset {case['offset']:6}  "
              f"redis-check-rdb {case['redis_check_rdb_exit']}: {case['redis_check_rdb_message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
