"""Chaos (ARCHITECTURE promises 1 and 2): two devices publish tens of thousands of
records while the device processes, the broker and the hall server are each
killed with SIGKILL at random moments, several times, and started again. At
the end the hall holds records 1..N of every source exactly once, each with the
content the device made, nothing is quarantined, and every outbox is empty.

Every process is real: ``tests/edge/producer.py`` on ``edge.DeviceRuntime``,
Mosquitto with the generated TLS config and ACLs, ``hall serve`` on SQLite.
The seed is printed, so a failing order of kills can be replayed with
``CHAOS_SEED=<seed>``."""

import json
import os
import random
import time

import pytest

from brokers import Mosquitto
from devices import HALL, Producer, enrol_device, reading
from hall._store import open_store
from test_serve import HallServe

DEVICES = ["conc-01", "conc-02"]


def run_chaos(tmp_path, records, rate, kills_each, seed):
    rng = random.Random(seed)
    print("chaos seed %d: %d records per device, %d kills each of device, broker and hall"
          % (seed, records, kills_each))
    broker = Mosquitto(tmp_path / "broker", HALL, [(d, "concentrator") for d in DEVICES],
                       hall_servers=["hall-server"])
    broker.start()
    db = tmp_path / "hall.db"
    configs = [enrol_device(tmp_path / d, db, broker, d) for d in DEVICES]
    hall = HallServe(broker, db, "--session-expiry-s", "3600")
    producers = [Producer(c, records, rate=rate) for c in configs]
    try:
        plan = ["device", "broker", "hall"] * kills_each
        rng.shuffle(plan)
        for target in plan:
            time.sleep(rng.uniform(0.3, 2.5))
            down_s = rng.uniform(0.1, 1.5)
            if target == "device":
                victim = rng.choice(producers)
                victim.kill()
                time.sleep(down_s)
                victim.start()
            elif target == "broker":
                broker.kill()
                time.sleep(down_s)
                broker.start()
            else:
                hall.kill()
                time.sleep(down_s)
                hall = HallServe(broker, db, "--session-expiry-s", "3600", wait=False)
            print("killed %s, down %.1f s" % (target, down_s))
        for p in producers:
            p.wait_line("drained %d" % records, timeout_s=180)
    finally:
        for p in producers:
            p.stop()
        hall.stop()
        broker.close()
    return db, producers


def check_hall_holds_exactly(db, records):
    with open_store(str(db), create=False) as store:
        assert store.quarantine() == []
        for device in DEVICES:
            rows = store.records(device)
            assert len({epoch for _src, epoch, *_ in rows}) == 1, "one epoch: the outbox was never re-created"
            seqs = [seq for _src, _epoch, seq, *_ in rows]
            assert seqs == list(range(1, records + 1)), "%s: %d stored, first missing %r" % (
                device, len(seqs), next((i for i in range(1, records + 1) if i not in set(seqs)), None))
            for _src, _epoch, seq, kind, body, _raw in rows:
                assert kind == "reading" and json.loads(body) == reading(seq)


def test_kill_9_of_devices_broker_and_hall_loses_and_duplicates_nothing(tmp_path):
    seed = int(os.environ.get("CHAOS_SEED", random.SystemRandom().randrange(1 << 31)))
    records = 10_000
    db, producers = run_chaos(tmp_path, records, rate=400.0, kills_each=3, seed=seed)
    check_hall_holds_exactly(db, records)
    for p in producers:
        assert p.outbox_count() == 0
    assert sum(p.starts for p in producers) == len(producers) + 3


@pytest.mark.soak
def test_chaos_soak(tmp_path):
    seed = int(os.environ.get("CHAOS_SEED", random.SystemRandom().randrange(1 << 31)))
    records = 100_000
    db, producers = run_chaos(tmp_path, records, rate=700.0, kills_each=12, seed=seed)
    check_hall_holds_exactly(db, records)
    for p in producers:
        assert p.outbox_count() == 0
