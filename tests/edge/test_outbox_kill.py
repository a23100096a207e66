"""kill -9 of a process that appends to the outbox, at random moments, again and again.

A child process (appender.py) appends single records and batches, and acks now
and then, printing each seq after its append returned. The test kills it with
SIGKILL after a random time (during start-up, opening, appending, acking),
then reopens the same file in this process and checks that every printed seq
is still there unless a printed ack covered it, that there is no gap between
the ack point and the last seq, that the chain verifies, and that appending
goes on with the next number. Then the next child continues the same store.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bodies import reading
from edge.identity import create_identity
from edge.outbox import Limits, Outbox
from protocols.records import record_hash, verify_record

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KILLS = 24


def test_kill_9_at_random_moments_loses_no_returned_record(tmp_path):
    rng = random.Random(9)
    identity = create_identity(str(tmp_path / "identity"), "conc-k9", "concentrator", "hall-01")
    db = str(tmp_path / "outbox.db")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    printed_max = 0
    acked_printed = 0
    returned = set()
    killed_while_running = 0
    for kill in range(KILLS):
        child = subprocess.Popen([sys.executable, str(HERE / "appender.py"), identity.data_dir, db, str(kill)],
                                 cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Start-up takes ~0.2 s (imports, open); the kill lands anywhere from there to well into appending.
        time.sleep(rng.uniform(0.05, 0.7))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, err.decode()
        lines = out.decode().splitlines()
        if any(line.startswith("seq ") for line in lines):
            killed_while_running += 1
        for line in lines:
            word, number = line.split()[0], int(line.split()[-1])
            if word == "seq":
                returned.add(number)
                printed_max = max(printed_max, number)
            elif word == "ack":
                acked_printed = max(acked_printed, number)
                returned = {s for s in returned if s > number}

        with Outbox(db, identity, Limits(max_records=5000, billing_reserve=0)) as ob:
            core = ob.core
            assert ob.epoch == 1, "the store was never lost, its epoch must stay"
            assert core.acked_seq >= acked_printed
            assert core.last_seq >= printed_max, "seq %d was returned, the store ends at %d" % (
                printed_max, core.last_seq)
            rows = ob.records()
            present = {s for s, _d in rows}
            missing = sorted(s for s in returned if s > core.acked_seq and s not in present)
            assert not missing, "returned records lost after kill %d: %s" % (kill, missing[:10])
            # No gaps: everything between the ack point and the head is there (nothing was shed:
            # the bound is far away), and it chains.
            assert sorted(present) == list(range(core.acked_seq + 1, core.last_seq + 1))
            prev = None
            for seq, data in rows:
                record = verify_record(data, lambda src: identity.public_key, prev)
                assert record.seq == seq
                prev = record.hash
            if rows:
                assert core.last_hash == record_hash(rows[-1][1])
            # Appending goes on after the last committed number: nothing is reused.
            seq = ob.append("reading", reading(kill))
            assert seq == core.last_seq and seq > printed_max
            returned.add(seq)
            printed_max = seq
    assert killed_while_running >= KILLS // 2, "most kills should land while records are being appended"
