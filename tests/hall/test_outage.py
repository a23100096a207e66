"""A long outage (ARCHITECTURE promise 1, "not while the broker or hall is down for
hours"; outbox contract: the bound, the alarm, billing kinds never dropped).

The hall server is away while a concentrator produces a day of 15-minute
readings of 1,000 meters (96 cycles, 96,000 readings) as fast as its outbox
takes them. The outbox is bounded below a day's worth, so on the way:

* the alarm is raised at ``alarm_at`` of the bound;
* at the bound, appends are refused with ``OutboxFull`` (the producer waits
  and tries again) and nothing already committed is dropped;
* the device process's memory stays flat: the backlog is on disk, not in RAM.

Then the hall comes back: everything drains, the alarm clears, and the hall
holds every reading once. The device's RSS is read from /proc."""

import json
import time

from brokers import Mosquitto
from devices import HALL, Producer, enrol_device, reading
from hall._store import open_store
from test_serve import HallServe

DEVICE = "conc-01"
METERS = 1000
CYCLES = 96                     # a day of 15-minute cycles
RECORDS = METERS * CYCLES
BOUND = 80_000                  # records the outbox may hold: less than a day
ALARM_AT = 0.9


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def test_a_day_of_readings_while_the_hall_is_away_is_bounded_flat_and_drains(tmp_path):
    broker = Mosquitto(tmp_path / "broker", HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server"])
    broker.start()
    db = tmp_path / "hall.db"
    config = enrol_device(tmp_path / DEVICE, db, broker, DEVICE,
                          outbox={"max_records": BOUND, "alarm_at": ALARM_AT}, publisher={"ack_timeout_s": 5})
    producer = Producer(config, RECORDS, rate=0, batch=METERS)        # one append per cycle
    hall = None
    samples = []
    try:
        producer.wait_line("started")
        while not any(line.startswith("full:") for line in producer.lines):
            samples.append((sum(line.startswith("appended") for line in producer.lines), rss_kb(producer.process.pid)))
            assert producer.running, producer.lines[-5:]
            time.sleep(0.25)
        at_bound = producer.outbox_count()
        time.sleep(2.0)                                   # held at the bound: refused, nothing dropped
        assert producer.outbox_count() == at_bound == BOUND
        assert "alarm raised at %d records" % int(BOUND * ALARM_AT) in producer.lines
        samples.append((CYCLES, rss_kb(producer.process.pid)))
        hall = HallServe(broker, db, "--session-expiry-s", "3600")
        producer.wait_line("drained %d" % RECORDS, timeout_s=240)
        samples.append((CYCLES, rss_kb(producer.process.pid)))
        hall_rss_kb = rss_kb(hall.process.pid)
    finally:
        producer.stop()
        if hall is not None:
            assert hall.stop() == 0
        broker.close()
    print("device RSS (cycles appended, kB): %s; hall RSS after the drain %d kB" % (samples[::8], hall_rss_kb))
    assert any(line.startswith("alarm cleared") for line in producer.lines)
    # Flat: after the first ten cycles (imports, caches warmed) it grows by less than 8 MB
    # while 70+ more cycles pile up on disk and drain again.
    warm = [kb for cycles, kb in samples if cycles >= 10]
    assert warm and max(warm) - warm[0] < 8 * 1024, samples
    with open_store(str(db), create=False) as store:
        rows = store.records(DEVICE)
        assert store.quarantine() == []
    assert [seq for _s, _e, seq, *_ in rows] == list(range(1, RECORDS + 1))
    assert all(json.loads(body) == reading(seq) for _s, _e, seq, _k, body, _r in rows[::97])
    assert producer.outbox_count() == 0
