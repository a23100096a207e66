"""Outbox throughput on a real SQLite file, against a raw SQLite loop with the same durability.

Figures (each against its reference measured in the same run, in the same
directory, so the ratio survives a slower disk):

* single appends per second: one signed record per transaction, WAL with
  synchronous=FULL, so one fsync per record; reference: a bare INSERT of a
  blob of the same size, one per transaction, same settings;
* batched appends per second (``append_many`` of a reading cycle); reference:
  bare INSERTs of the same blobs, the same number per transaction;
* ack deletes per second: acks of one record each (one fsync per ack), and
  acks of 100 records each; reference: bare ``DELETE ... WHERE seq <= ?``;
* signing alone (``encode_record`` per second), and the floor of any signed
  store, signing plus the raw batched insert: a batched append is compared
  with it too, which shows the outbox's own cost.

The files go to a temporary directory under ``--dir`` (default: the system's
temporary directory). fsync costs depend on the disk: on tmpfs they are free,
on an SD card a single append can take 10-50 ms.

    .venv/bin/python -m bench outbox
    .venv/bin/python bench/outbox.py --dir /var/lib/concentrator --batch 1000
"""

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time

from edge.identity import create_identity
from edge.outbox import Outbox
from protocols.records import GENESIS_PREV, encode_record, record_hash

SINGLE = 300
BATCHES = 20


def reading(i):
    return {"meter": "%012d" % (202311150000 + i % 1000), "di": "00010000", "name": "forward_active_total",
            "value": round(1000 + i * 0.01, 2), "unit": "kWh", "std": "2007", "cycle": "2024-06-01",
            "read_t": 1717200000000 + i}


def raw_connection(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, kind TEXT, droppable INTEGER, t_ms INTEGER, "
                 "nbytes INTEGER, data BLOB)")
    return conn


def raw_insert(conn, first, blobs, per_commit):
    seq = first
    for start in range(0, len(blobs), per_commit):
        conn.execute("BEGIN IMMEDIATE")
        for blob in blobs[start:start + per_commit]:
            conn.execute("INSERT INTO records VALUES (?, 'reading', 0, 0, ?, ?)", (seq, len(blob), blob))
            seq += 1
        conn.execute("COMMIT")
    return seq


def raw_delete(conn, first, count, per_ack):
    for through in range(first + per_ack - 1, first + count, per_ack):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM records WHERE seq <= ?", (through,))
        conn.execute("COMMIT")


def rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def timed(fn, *args):
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def run(directory, batch):
    work = tempfile.mkdtemp(prefix="bench-outbox-", dir=directory)
    try:
        identity = create_identity(os.path.join(work, "identity"), "conc-bench", "concentrator", "hall-01")
        outbox = Outbox(os.path.join(work, "outbox.db"), identity)
        raw = raw_connection(os.path.join(work, "raw.db"))
        n_batched = batch * BATCHES
        bodies = [reading(i) for i in range(SINGLE + n_batched)]

        # Signing alone: what a record costs before SQLite sees it (best of 3 passes, after a warm-up).
        key = identity.signing_key

        def sign_all():
            out = []
            prev = GENESIS_PREV
            for i, body in enumerate(bodies):
                out.append(encode_record(key, src="conc-bench", epoch=1, seq=i + 1, prev=prev, t_ms=1717200000000,
                                         tq={"src": "ntp", "err_ms": 50}, kind="reading", body=body))
                prev = record_hash(out[-1])
            return out

        blobs = sign_all()
        sign_s = min(timed(sign_all) for _ in range(3))

        single_s = timed(lambda: [outbox.append("reading", b) for b in bodies[:SINGLE]])
        raw_single_s = timed(raw_insert, raw, 1, blobs[:SINGLE], 1)
        batched_s = timed(lambda: [outbox.append_many([("reading", b) for b in bodies[s:s + batch]])
                                   for s in range(SINGLE, SINGLE + n_batched, batch)])
        raw_batched_s = timed(raw_insert, raw, SINGLE + 1, blobs[SINGLE:], batch)

        ack_one = 200
        ack_one_s = timed(lambda: [outbox.ack(1, s) for s in range(1, ack_one + 1)])
        raw_ack_one_s = timed(raw_delete, raw, 1, ack_one, 1)
        total = SINGLE + n_batched
        ack_many_s = timed(lambda: [outbox.ack(1, s) for s in range(ack_one + 100, total + 1, 100)])
        raw_ack_many_s = timed(raw_delete, raw, ack_one + 1, total - ack_one, 100)
        deleted_many = (total - ack_one) // 100 * 100
        outbox.close()
        raw.close()
        size = sum(len(b) for b in blobs) / len(blobs)
        return {
            "record_bytes": size,
            "sign_per_s": rate(len(blobs), sign_s),
            "single_per_s": rate(SINGLE, single_s), "raw_single_per_s": rate(SINGLE, raw_single_s),
            "batched_per_s": rate(n_batched, batched_s), "raw_batched_per_s": rate(n_batched, raw_batched_s),
            "ack_one_per_s": rate(ack_one, ack_one_s), "raw_ack_one_per_s": rate(ack_one, raw_ack_one_s),
            "ack_many_per_s": rate(deleted_many, ack_many_s),
            "raw_ack_many_per_s": rate(deleted_many, raw_ack_many_s),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="where to put the database files (default: system temp)")
    parser.add_argument("--batch", type=int, default=500, help="records per append_many (a reading cycle)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    f = run(args.dir, args.batch)
    print("record size: %.0f bytes (a reading); sign (encode_record): %.0f /s" % (f["record_bytes"],
                                                                                 f["sign_per_s"]))
    rows = [
        ("append, 1 per commit (records/s)", "single_per_s", "raw_single_per_s"),
        ("append_many, %d per commit (records/s)" % args.batch, "batched_per_s", "raw_batched_per_s"),
        ("ack of 1 record (acks/s)", "ack_one_per_s", "raw_ack_one_per_s"),
        ("acks of 100 records (records/s)", "ack_many_per_s", "raw_ack_many_per_s"),
    ]
    print("%-42s %10s %12s %7s" % ("operation", "outbox", "raw SQLite", "ratio"))
    for name, ours, ref in rows:
        print("%-42s %10.0f %12.0f %7.3f" % (name, f[ours], f[ref], f[ours] / f[ref]))
    floor = 1.0 / (1.0 / f["sign_per_s"] + 1.0 / f["raw_batched_per_s"])
    print("%-42s %10.0f %12.0f %7.3f" % ("append_many vs sign + raw insert", f["batched_per_s"], floor,
                                         f["batched_per_s"] / floor))
    print("(WAL, synchronous=FULL for both; one fsync per commit)")


if __name__ == "__main__":
    main()
