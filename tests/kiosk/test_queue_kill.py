"""kill -9 of a kiosk process in the middle of a queue day (real SQLite files, real outbox).

The worker (queue_worker.py) takes tickets under keys k0, k1, ... and serves
some; it is killed at a random point and run again with the same requests.
Afterwards: every ticket it reported is in the journal with the same number,
each key has one number, numbers run without gaps or repeats per category,
the outbox holds exactly one "issued" record per ticket and exactly the
journal's records, and a rebuilt engine equals the journal.
"""

import collections
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from edge.identity import create_identity, load_identity
from edge.outbox import Outbox
from kiosk.queue import QueueConfig, QueueStore
from protocols.records import decode_unverified
from queue_setup import BASE

WORKER = Path(__file__).with_name("queue_worker.py")
N = 60


def run_worker(args, kill_after_lines=None):
    proc = subprocess.Popen([sys.executable, str(WORKER)] + args, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line.split())
        if kill_after_lines is not None and len(lines) >= kill_after_lines:
            os.kill(proc.pid, signal.SIGKILL)
            break
    lines += [line.split() for line in proc.stdout]
    proc.wait(timeout=60)
    return proc.returncode, lines


def test_kill_9_mid_day_loses_and_duplicates_nothing(tmp_path):
    ident = str(tmp_path / "identity")
    create_identity(ident, "kiosk-1", "kiosk", "hall-01")
    journal, outbox = str(tmp_path / "queue.db"), str(tmp_path / "outbox.db")
    args = [ident, journal, outbox, str(N), "0.01"]
    code, before = run_worker(args, kill_after_lines=random.Random().randint(10, 40))
    assert code == -signal.SIGKILL
    code, after = run_worker(args)
    assert code == 0 and after[-1] == ["done"]
    reported = {}
    for line in before + after:
        if line[0] == "issued":
            assert reported.setdefault(line[1], line[2]) == line[2], "a key got two numbers"
    assert len(reported) == N
    with QueueStore(journal, QueueConfig.from_dict(BASE)) as store:
        tickets = {t.number: t for t in store.tickets()}
        assert sorted(tickets) == sorted(reported.values())
        per_prefix = collections.defaultdict(list)
        for number in tickets:
            per_prefix[number[0]].append(int(number[1:]))
        for numbers in per_prefix.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))
        rows = store.journal()
        assert store.unposted() == 0
        snapshot = store.snapshot()
    with QueueStore(journal, QueueConfig.from_dict(BASE)) as again:
        assert again.snapshot() == snapshot
    with Outbox(outbox, load_identity(ident)) as box:
        stored = [decode_unverified(data) for _seq, data in box.records()]
    issued = collections.Counter(r.body["number"] for r in stored if r.kind == "ticket")
    assert set(issued) == set(tickets) and set(issued.values()) == {1}
    journaled = [tuple(r) for row in rows for r in row[5]]
    assert [(r.kind, r.body, r.t_ms) for r in stored] == [(k, b, t) for k, b, t in journaled]
    served = [line[1] for line in before + after if line[0] == "served"]
    assert all(tickets[n].status == "done" for n in served)
