"""Device to hall and back, every real part joined: the outbox and publisher of a
device, the real Mosquitto with the generated TLS config and ACLs, and `hall serve`
as a separate process on a real SQLite file (ARCHITECTURE promises 1 and 2).

A reading cycle is committed to the device's outbox, published, stored by the
hall exactly once and in order, and acked; the acks empty the outbox. Killing
the hall with SIGKILL in the middle loses nothing the device committed."""

import time

import pytest

from conftest import HALL
from edge.identity import create_identity, trust_hall
from edge.outbox import Outbox
from edge.publisher import Publisher
from hall._keys import load_hall_key
from hall._store import open_store
from test_serve import HallServe

DEVICE = "conc-02"


def reading(i):
    return {"meter": "%012d" % (202311150000 + i % 200), "di": "00010000", "name": "forward_active_total",
            "value": round(1000 + i * 0.01, 2), "unit": "kWh", "std": "2007", "cycle": "2026-11-23T10:00",
            "read_t": 1795400000000 + i}


def wait_until(predicate, what, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail("timed out waiting for %s" % what)


@pytest.fixture
def device(hall_broker, tmp_path):
    """An enrolled device with its outbox and a running publisher; a fresh hall database."""
    db = tmp_path / "hall.db"
    identity = create_identity(tmp_path / "device", DEVICE, "concentrator", HALL)
    store = open_store(str(db))
    store.enrol(DEVICE, "concentrator", identity.public_key_raw, int(time.time() * 1000))
    store.close()
    hall_key, _created = load_hall_key(str(db))         # what `hall key` prints, trusted by the device
    identity = trust_hall(tmp_path / "device", hall_key.public_key())
    outbox = Outbox(str(tmp_path / "device" / "outbox.db"), identity)
    publisher = Publisher(outbox, identity, "127.0.0.1", hall_broker.port, tls=hall_broker.tls_files(DEVICE),
                          backoff_min_s=0.2, backoff_max_s=1.0, ack_timeout_s=2.0)
    publisher.start()
    yield db, outbox, publisher
    publisher.stop()
    outbox.close()


def stored_seqs(db):
    store = open_store(str(db), create=False)
    try:
        return [seq for src, epoch, seq, *_rest in store.records(DEVICE)]
    finally:
        store.close()


def test_a_reading_cycle_reaches_the_hall_once_and_the_acks_empty_the_outbox(hall_broker, device):
    db, outbox, _publisher = device
    hall = HallServe(hall_broker, db)
    try:
        seqs = outbox.append_many([("reading", reading(i)) for i in range(300)])
        assert seqs == list(range(1, 301))
        wait_until(lambda: outbox.figures().depth_records == 0, "the hall's acks to cover all 300 records")
    finally:
        assert hall.stop() == 0
    assert stored_seqs(db) == list(range(1, 301))


def test_killing_the_hall_mid_stream_loses_and_duplicates_nothing(hall_broker, device):
    db, outbox, _publisher = device
    hall = HallServe(hall_broker, db)
    for start in range(0, 200, 20):
        outbox.append_many([("reading", reading(i)) for i in range(start, start + 20)])
    wait_until(lambda: outbox.figures().acked_seq >= 20, "some records acked")
    hall.kill()                                   # SIGKILL, mid-stream
    outbox.append_many([("reading", reading(i)) for i in range(200, 300)])
    hall = HallServe(hall_broker, db)
    try:
        # The restarted hall starts a clean session, so what was published while
        # it was down is gone from the broker, and no later record reveals a gap:
        # the device's ack timeout re-sends from the first unacked record.
        wait_until(lambda: outbox.figures().depth_records == 0, "every record acked after the restart", 30.0)
    finally:
        assert hall.stop() == 0
    assert stored_seqs(db) == list(range(1, 301))
    assert _publisher.figures().ack_timeouts >= 1
