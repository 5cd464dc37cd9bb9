"""Builds the binary lookup databases of the golden corpus from their committed text sources.
Run at record time and at test time (binaries are never committed).

  data/cdb.src     -> data/test.cdb        (own writer of the cdb format, no tool needed)
  data/dbm.src     -> data/test.dbm        (keys and values NUL-terminated, as exim_dbmbuild does)
                   -> data/test-nz.dbm     (no terminating NULs, for dbmnz)
  data/sqlite.sql  -> data/test.sqlite     (Python's sqlite3 module)

Source lines for cdb/dbm are `key: value` (first colon separates; blank lines and # comments
ignored).  Returns the set of database kinds that could not be built on this machine.
"""
import os
import pathlib
import shutil
import sqlite3
import struct
import subprocess
import tempfile


def read_pairs(src):
    pairs = []
    for line in pathlib.Path(src).read_text(encoding="utf-8").split("\n"):
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        pairs.append((key.strip().encode(), value.strip().encode()))
    return pairs


def _cdb_hash(key):
    h = 5381
    for byte in key:
        h = (((h << 5) + h) & 0xFFFFFFFF) ^ byte
    return h


def write_cdb(pairs, dst):
    """The cdb layout: 256 (position, slot count) pointers, the records, then 256 hash tables of
    (hash, record position) slots with linear probing, each twice as long as its record count."""
    records = bytearray()
    buckets = [[] for _ in range(256)]
    pos = 2048
    for key, value in pairs:
        h = _cdb_hash(key)
        buckets[h & 255].append((h, pos))
        rec = struct.pack("<II", len(key), len(value)) + key + value
        records += rec
        pos += len(rec)
    header = bytearray()
    tables = bytearray()
    for bucket in buckets:
        slots = 2 * len(bucket)
        header += struct.pack("<II", pos + len(tables), slots)
        table = [(0, 0)] * slots
        for h, rpos in bucket:
            i = (h >> 8) % slots
            while table[i][1] != 0:
                i = (i + 1) % slots
            table[i] = (h, rpos)
        for h, rpos in table:
            tables += struct.pack("<II", h, rpos)
    pathlib.Path(dst).write_bytes(bytes(header) + bytes(records) + bytes(tables))


def _dbm_with_db_load(pairs, dst, zero):
    tool = shutil.which("db_load") or shutil.which("db5.3_load")
    if tool is None:
        return False

    def enc(b):
        return " " + "".join(f"\\{c:02x}" for c in b + (b"\0" if zero else b"")) + "\n"

    dump = "VERSION=3\nformat=print\ntype=hash\nHEADER=END\n"
    dump += "".join(enc(k) + enc(v) for k, v in pairs) + "DATA=END\n"
    with tempfile.NamedTemporaryFile("w", suffix=".dump", delete=False) as f:
        f.write(dump)
    try:
        subprocess.run([tool, "-f", f.name, str(dst)], check=True, capture_output=True)
    finally:
        os.unlink(f.name)
    return True


def write_dbm(src, pairs, dst, zero):
    """Prefer exim_dbmbuild (the reference tool); fall back to Berkeley DB's db_load."""
    tool = shutil.which("exim_dbmbuild") or (
        "/usr/sbin/exim_dbmbuild" if os.path.exists("/usr/sbin/exim_dbmbuild") else None)
    if tool:
        args = [tool] + ([] if zero else ["-nozero"]) + [str(src), str(dst)]
        proc = subprocess.run(args, capture_output=True)
        if proc.returncode == 0 and os.path.exists(dst):
            return True
    return _dbm_with_db_load(pairs, dst, zero)


def build_binary_data(data):
    data = pathlib.Path(data)
    unavailable = set()
    write_cdb(read_pairs(data / "cdb.src"), data / "test.cdb")
    dbm_pairs = read_pairs(data / "dbm.src")
    if not (write_dbm(data / "dbm.src", dbm_pairs, data / "test.dbm", True)
            and write_dbm(data / "dbm.src", dbm_pairs, data / "test-nz.dbm", False)):
        unavailable.add("dbm")
    db = sqlite3.connect(data / "test.sqlite")
    db.executescript((data / "sqlite.sql").read_text(encoding="utf-8"))
    db.commit()
    db.close()
    return unavailable
