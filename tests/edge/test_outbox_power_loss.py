"""Power loss on the device: the outbox loses no record whose append returned and reuses no seq.

Method (see faultdisk.py and docs/edge.md, "How power loss was tested"): the
real ``Outbox`` runs on a simulated disk (an apsw VFS with a write-back cache
per file) and the power is cut after a random number of file operations:
while the store is created, opened, appended to (single records and batches,
health records shed at the bound), acked, and while SQLite checkpoints. The
disk then holds what was synced plus a random prefix or subset of later
writes, torn at sector boundaries. That image is written to real files and
opened with the stdlib sqlite3 driver by the same ``Outbox`` code, as the
device does when power returns, and checked:

* every record whose append returned is there, unless an ack covering it was
  applied (and only acks that were at least attempted count);
* the next seq is above every seq ever returned: no seq is reused;
* every record verifies (signature, epoch, seq) and chains to the one before
  it through ``prev``; the head hash in ``meta`` is the last record's hash;
* the epoch changes only if nothing had been returned in it yet, and a store
  that was lost (its files deleted, about 3% of the trials) comes back with a
  higher epoch.

The device's life goes on across cuts: the recovered store is put back on the
simulated disk and the next trial appends to it.
"""

import os
import random
import time

import pytest

from edge.identity import create_identity
from edge.outbox import Limits, Outbox, OutboxError, OutboxFull
from bodies import health, reading
from faultdisk import Disk, FaultVFS, PowerCut, connector
from protocols.records import decode_unverified, record_hash, verify_record

# After the cut, SQLite's clean-up (rollback, close) meets the dead disk too; apsw can only report
# those errors as unraisable. They change nothing: the image was taken at the cut.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

DB = "outbox.db"
NAMES = (DB, DB + "-wal", DB + "-journal")
# Shedding on: it is the outbox's hardest delete path (unacked records deleted
# in the same transaction as an append), so the cuts must cover it too.
LIMITS = Limits(max_records=60, billing_reserve=0.0, shed_droppable=True)
MAX_OPS = 160          # a cut lands within this many file operations of a trial's start


class Life:
    """What the producers and the hall were told, across every cut."""

    def __init__(self):
        self.epoch = None
        self.returned = set()      # seqs of billing records whose append returned (above acked)
        self.max_returned = 0
        self.max_attempted = 0
        self.ack_returned = 0      # the highest ack whose delete returned
        self.ack_attempted = 0     # the highest ack ever asked for
        self.counter = 0
        self.wiped = False
        self.trial_epoch = None
        self.stats = {"trials": 0, "cut_at_open": 0, "cut_in_append": 0, "cut_in_ack": 0,
                      "in_progress_survived": 0, "in_progress_lost": 0, "new_epochs": 0, "records_checked": 0,
                      "shed": 0}

    def forget_epoch(self):
        self.returned = set()
        self.max_returned = self.max_attempted = 0
        self.ack_returned = self.ack_attempted = 0


def workload(outbox, life, rng):
    """Append and ack at random, forever (until the power goes)."""
    while True:
        core = outbox.core
        r = rng.random()
        if r < 0.2 and core.last_seq > core.acked_seq:
            seq = rng.randint(core.acked_seq + 1, core.last_seq)
            life.ack_attempted = max(life.ack_attempted, seq)
            life.phase = "ack"
            outbox.ack(core.epoch, seq)
            life.ack_returned = max(life.ack_returned, seq)
            life.returned = {s for s in life.returned if s > seq}
            continue
        n = rng.randint(2, 12) if r < 0.45 else 1
        items = []
        for _ in range(n):
            life.counter += 1
            droppable = rng.random() < 0.2
            items.append(("health", health(life.counter)) if droppable else ("reading", reading(life.counter)))
        first = core.last_seq + 1
        life.max_attempted = max(life.max_attempted, first + n - 1)
        life.phase = "append"
        try:
            seqs = outbox.append_many(items)
        except OutboxFull:
            life.phase = "ack"
            life.ack_attempted = max(life.ack_attempted, core.last_seq)
            outbox.ack(core.epoch, core.last_seq)
            life.ack_returned = max(life.ack_returned, core.last_seq)
            life.returned = set()
            continue
        assert seqs == list(range(first, first + n))
        life.returned.update(s for s, (kind, _b) in zip(seqs, items) if kind == "reading")
        life.max_returned = max(life.max_returned, seqs[-1])


def check_recovered(outbox, life, identity):
    """The invariants of the module docstring, on a store just reopened after a cut."""
    core = outbox.core
    if life.wiped:
        assert life.epoch is None or core.epoch > life.epoch, "a new store must take a new epoch"
    written = life.trial_epoch if life.trial_epoch is not None else life.epoch
    if core.epoch != written:
        # The store written in this trial did not survive its own creation: a store made
        # after the cut has a new epoch, and nothing of the lost one may have been returned.
        assert life.max_returned == 0, "epoch changed from %s to %d after seqs were returned" % (
            written, core.epoch)
        assert written is None or core.epoch > written
        life.stats["new_epochs"] += 1
        life.forget_epoch()
    life.wiped = False
    life.epoch = core.epoch
    assert life.ack_returned <= core.acked_seq <= max(life.ack_attempted, life.ack_returned), (
        "acked_seq %d, acks returned %d, attempted %d" % (core.acked_seq, life.ack_returned, life.ack_attempted))
    assert life.max_returned <= core.last_seq <= max(life.max_attempted, life.max_returned), (
        "last_seq %d, returned up to %d, attempted up to %d" % (core.last_seq, life.max_returned,
                                                                 life.max_attempted))
    rows = outbox.records()
    present = {seq for seq, _d in rows}
    lost = sorted(s for s in life.returned if s > core.acked_seq and s not in present)
    assert not lost, "records whose append returned are gone: %s" % lost[:10]
    prev_seq, prev_hash = None, None
    for seq, data in rows:
        assert core.acked_seq < seq <= core.last_seq
        record = decode_unverified(data)
        assert (record.epoch, record.seq, record.src) == (core.epoch, seq, identity.device_id)
        if prev_seq == seq - 1:
            assert record.prev == prev_hash, "record %d does not chain to %d" % (seq, prev_seq)
        prev_seq, prev_hash = seq, record_hash(data)
    if rows and rows[-1][0] == core.last_seq:
        assert core.last_hash == prev_hash
    for seq, data in rows[-3:]:   # signatures: the newest, the ones a cut could have touched
        verify_record(data, lambda src: identity.public_key)
    life.stats["records_checked"] += len(rows)
    return present


def run_cuts(tmp_path, cuts, seed):
    rng = random.Random(seed)
    identity = create_identity(str(tmp_path / "identity"), "conc-pl", "concentrator", "hall-01")
    real = tmp_path / "disk"
    real.mkdir()
    disk = Disk(rng)
    vfs = FaultVFS("faultdisk-%d" % seed, disk)
    connect = connector(disk, vfs.vfs_name)
    life = Life()
    shed = []
    try:
        for trial in range(cuts):
            if trial and rng.random() < 0.03:
                # The store is lost (a replaced card, a deleted file): a new one, with a new epoch,
                # is created, and the power may go while it is.
                for name in NAMES:
                    if (real / name).exists():
                        (real / name).unlink()
                life.forget_epoch()
                life.wiped = True
                life.stats["stores_lost"] = life.stats.get("stores_lost", 0) + 1
            disk.__init__(rng, cut_after=rng.randint(1, MAX_OPS))
            disk.load(str(real), NAMES)
            life.phase = "open"
            in_progress_top = None
            life.trial_epoch = None
            try:
                outbox = Outbox(str(real / DB), identity, LIMITS, connect=connect, on_event=shed.append)
                life.trial_epoch = outbox.core.epoch
                try:
                    workload(outbox, life, rng)
                finally:
                    in_progress_top = life.max_attempted
                    _close(outbox)
            except OutboxError as exc:
                assert not disk.powered, "an outbox error with the power on: %s" % exc
            key = "cut_at_open" if life.phase == "open" else "cut_in_" + life.phase
            life.stats[key] += 1
            where = "cut_during_%s_%s" % (disk.cut_op[0], "wal" if disk.cut_op[1].endswith("-wal") else "db")
            life.stats[where] = life.stats.get(where, 0) + 1
            assert disk.image is not None
            disk.write_image(str(real))
            with Outbox(str(real / DB), identity, LIMITS) as recovered:
                present = check_recovered(recovered, life, identity)
                if life.phase == "append" and in_progress_top and in_progress_top > life.max_returned:
                    survived = in_progress_top in present or recovered.core.last_seq >= in_progress_top
                    life.stats["in_progress_survived" if survived else "in_progress_lost"] += 1
                # Appending goes on after the cut with the next number, chained to the last committed record.
                if recovered.core.depth.records >= LIMITS.max_records:
                    top = recovered.core.last_seq            # full of billing records: the hall acks first
                    recovered.ack(recovered.epoch, top)
                    life.ack_returned = life.ack_attempted = top
                    life.returned = set()
                head = recovered.core.last_hash
                seq = recovered.append("reading", reading(0))
                assert seq == recovered.core.last_seq and seq > life.max_returned
                assert decode_unverified(recovered.records(seq, seq)[0][1]).prev == head
                life.returned.add(seq)
                life.max_returned = life.max_attempted = seq
            life.stats["trials"] += 1
    finally:
        apsw_unregister(vfs)
    life.stats["shed"] = sum(e.count for e in shed if type(e).__name__ == "RecordsShed")
    return life.stats


def _close(outbox):
    try:
        outbox.close()
    except (OutboxError, PowerCut):
        pass


def apsw_unregister(vfs):
    vfs.unregister()


def _check_coverage(stats, cuts):
    assert stats["trials"] == cuts
    # The cuts must land everywhere: opening (recovery, checkpoint), appends and acks, and the
    # append in progress must sometimes have reached the disk and sometimes not.
    # Checkpoints write and sync the database file; commits write and sync the WAL.
    for key in ("cut_at_open", "cut_in_append", "cut_in_ack", "in_progress_survived", "in_progress_lost", "shed",
                "cut_during_write_wal", "cut_during_sync_wal", "cut_during_write_db", "cut_during_sync_db"):
        assert stats[key] > 0, stats


def test_1000_power_cuts_lose_no_returned_record_and_reuse_no_seq(tmp_path):
    started = time.monotonic()
    stats = run_cuts(tmp_path, 1000, seed=20240601)
    print("power cuts: %s in %.1f s" % (stats, time.monotonic() - started))
    _check_coverage(stats, 1000)


@pytest.mark.soak
def test_20000_power_cuts(tmp_path):
    seed = int(os.environ.get("POWER_CUT_SEED", "7"))
    stats = run_cuts(tmp_path, 20000, seed=seed)
    print("power cuts (seed %d): %s" % (seed, stats))
    _check_coverage(stats, 20000)
