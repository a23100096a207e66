"""The hall's ingest decisions (ARCHITECTURE "Hall server", promises 2 and 3), without I/O."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hall._ingest import Ack, Duplicate, Held, Ingest, Quarantined, ResendRequest, Stored
from protocols.records import GENESIS_PREV, REASONS, encode_record, record_hash
from protocols.topics import record_topic

HALL = "hall-a"
T0 = 1_790_000_000_000
TQ = {"src": "ntp", "err_ms": 20}
BODY = {"code": "door-open", "severity": "info", "state": "once"}


class Device:
    """A device producing a chain of signed event records."""

    def __init__(self, name, kind="concentrator", epoch=1):
        self.name = name
        self.kind = kind
        self.key = Ed25519PrivateKey.generate()
        self.epoch = epoch
        self.seq = 0
        self.prev = GENESIS_PREV

    def next(self, body=BODY, key=None):
        self.seq += 1
        raw = encode_record(key or self.key, src=self.name, epoch=self.epoch, seq=self.seq, prev=self.prev,
                            t_ms=T0 + self.seq, tq=TQ, kind="event", body=body)
        self.prev = record_hash(raw)
        return raw

    @property
    def topic(self):
        return record_topic(HALL, self.kind, self.name, "event")


@pytest.fixture
def devices():
    return {"conc-a1": Device("conc-a1"), "kiosk-1": Device("kiosk-1", "kiosk")}


def make_ingest(devices, stored=None, **kwargs):
    def key_for(src):
        d = devices.get(src)
        return d.key.public_key() if d else None

    def kind_for(src):
        d = devices.get(src)
        return d.kind if d else None

    def lookup(src, epoch, seq):
        return stored.get((src, epoch, seq))

    return Ingest(HALL, key_for, kind_for, stored_hash=lookup if stored is not None else None, **kwargs)


def kinds(events):
    return [type(e).__name__ for e in events]


def test_records_in_order_are_stored_and_acked_up_to_the_last(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    events = [e for _ in range(3) for e in ing.receive(d.topic, d.next(), T0)]
    assert kinds(events) == ["Stored"] * 3
    assert [e.record.seq for e in events] == [1, 2, 3]
    assert ing.acks() == [Ack("conc-a1", 1, 3)]
    assert ing.acks() == []          # nothing new since


def test_a_gap_holds_later_records_requests_a_resend_and_drains_in_order(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    raws = [d.next() for _ in range(5)]
    assert kinds(ing.receive(d.topic, raws[0], T0)) == ["Stored"]
    assert kinds(ing.receive(d.topic, raws[3], T0)) == ["Held"]
    assert kinds(ing.receive(d.topic, raws[4], T0)) == ["Held"]
    assert ing.missing("conc-a1", 1) == [(2, 3)]
    assert ing.resend_requests(T0) == [ResendRequest("conc-a1", 1, 2, 3)]
    assert ing.resend_requests(T0 + 100) == []                     # not again at once
    assert ing.resend_requests(T0 + 5000) == [ResendRequest("conc-a1", 1, 2, 3)]
    assert kinds(ing.receive(d.topic, raws[1], T0)) == ["Stored"]
    events = ing.receive(d.topic, raws[2], T0)
    assert [e.record.seq for e in events] == [3, 4, 5]
    assert ing.acks() == [Ack("conc-a1", 1, 5)]
    assert ing.resend_requests(T0 + 10000) == []


def test_a_resent_record_is_a_duplicate_and_is_acked_again(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    raw = d.next()
    ing.receive(d.topic, raw, T0)
    ing.acks()
    assert kinds(ing.receive(d.topic, raw, T0)) == ["Duplicate"]
    assert ing.acks() == [Ack("conc-a1", 1, 1)]
    assert ing.counters["stored"] == 1 and ing.counters["duplicates"] == 1


def test_same_number_with_other_bytes_is_quarantined_as_conflicting(devices):
    d = devices["conc-a1"]
    first = d.next()
    stored = {("conc-a1", 1, 1): record_hash(first)}
    ing = make_ingest(devices, stored)
    ing.restore("conc-a1", 1, 1, record_hash(first))
    d.seq, d.prev = 0, GENESIS_PREV
    other = d.next(body={"code": "door-open", "severity": "critical", "state": "once"})
    (event,) = ing.receive(d.topic, other, T0)
    assert isinstance(event, Quarantined) and event.reason == "conflicting-duplicate"


def test_forged_altered_and_unknown_records_are_quarantined(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    raw = d.next()
    altered = bytearray(raw)
    altered[-70] ^= 0x01                          # a byte of the payload
    forged_by = Ed25519PrivateKey.generate()
    d.seq, d.prev = 0, GENESIS_PREV
    forged = d.next(key=forged_by)
    stranger = Device("rogue-9")
    cases = [(bytes(altered), d.topic), (forged, d.topic), (stranger.next(), stranger.topic), (b"\xa0", d.topic)]
    reasons = []
    for data, topic in cases:
        (event,) = ing.receive(topic, data, T0)
        assert isinstance(event, Quarantined)
        reasons.append(event.reason)
    assert reasons[1] == "bad-signature" and reasons[2] == "unknown-device"
    assert reasons[0] in REASONS            # which check catches it depends on the byte hit
    assert reasons[3] in ("truncated", "not-cose", "not-cbor")
    assert ing.counters["stored"] == 0


def test_record_on_another_devices_or_halls_topic_is_quarantined(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    raw = d.next()
    wrong = [record_topic(HALL, "kiosk", "kiosk-1", "event"),      # another device's topic
             record_topic(HALL, "kiosk", "conc-a1", "event"),      # wrong device kind
             record_topic(HALL, "concentrator", "conc-a1", "reading"),  # wrong record kind
             record_topic("hall-b", "concentrator", "conc-a1", "event"),
             "hall/hall-a/ack/conc-a1", "not/a/topic"]
    reasons = [ing.receive(t, raw, T0)[0].reason for t in wrong]
    assert reasons == ["topic-mismatch"] * 3 + ["wrong-topic"] * 3
    assert kinds(ing.receive(d.topic, raw, T0)) == ["Stored"]


def test_a_record_whose_prev_does_not_chain_is_quarantined(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    ing.receive(d.topic, d.next(), T0)
    d.prev = b"\x11" * 32                          # device lost its chain head
    (event,) = ing.receive(d.topic, d.next(), T0)
    assert isinstance(event, Quarantined) and event.reason == "broken-chain"
    assert ing.marks()[("conc-a1", 1)] == 1


def test_epochs_are_separate_chains(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    ing.receive(d.topic, d.next(), T0)
    d.epoch, d.seq, d.prev = 2, 0, GENESIS_PREV    # the device's store was re-created
    assert kinds(ing.receive(d.topic, d.next(), T0)) == ["Stored"]
    assert sorted(ing.marks().items()) == [(("conc-a1", 1), 1), (("conc-a1", 2), 1)]
    assert ing.acks() == [Ack("conc-a1", 1, 1), Ack("conc-a1", 2, 1)]


def test_holding_is_bounded_and_never_quarantines(devices):
    ing = make_ingest(devices, hold_max=3)
    d = devices["conc-a1"]
    raws = [d.next() for _ in range(10)]
    events = [e for raw in raws[1:] for e in ing.receive(d.topic, raw, T0)]
    assert kinds(events) == ["Held"] * 3
    assert ing.counters["let_go"] == 6 and ing.counters["quarantined"] == 0
    assert [e.record.seq for e in ing.receive(d.topic, raws[0], T0)] == [1, 2, 3, 4]


def test_restored_marks_continue_the_chain(devices):
    d = devices["kiosk-1"]
    raws = [d.next() for _ in range(3)]
    ing = make_ingest(devices)
    from protocols.records import record_hash as h
    ing.restore("kiosk-1", 1, 2, h(raws[1]))
    assert isinstance(ing.receive(d.topic, raws[0], T0)[0], Duplicate)
    assert [e.record.seq for e in ing.receive(d.topic, raws[2], T0)] == [3]


def test_events_are_in_apply_order(devices):
    ing = make_ingest(devices)
    d = devices["conc-a1"]
    raws = [d.next() for _ in range(3)]
    assert isinstance(ing.receive(d.topic, raws[2], T0)[0], Held)
    assert isinstance(ing.receive(d.topic, raws[1], T0)[0], Held)
    events = ing.receive(d.topic, raws[0], T0)
    assert all(isinstance(e, Stored) for e in events)
    assert [e.record.seq for e in events] == [1, 2, 3]


def test_advance_catches_up_with_marks_another_instance_committed(devices):
    """Two instances on one database (shared group): this one saw only seq 1 and 4..5; the other
    committed 1..3. Advancing to the database's mark drains the held records, no resend needed."""
    dev = devices["conc-a1"]
    raws = [dev.next() for _ in range(5)]
    ingest = make_ingest(devices)
    ingest.receive(dev.topic, raws[0], T0)
    assert kinds(ingest.receive(dev.topic, raws[3], T0) + ingest.receive(dev.topic, raws[4], T0)) == ["Held", "Held"]
    assert ingest.gapped() == [("conc-a1", 1)]
    ingest.acks()
    events = ingest.advance("conc-a1", 1, 3, record_hash(raws[2]))
    assert [(type(e).__name__, e.record.seq) for e in events] == [("Stored", 4), ("Stored", 5)]
    assert ingest.gapped() == [] and ingest.acks() == [Ack("conc-a1", 1, 5)]
    assert ingest.resend_requests(T0) == []
    # A mark at or behind the chain changes nothing.
    assert ingest.advance("conc-a1", 1, 2, record_hash(raws[1])) == []
    assert ingest.marks() == {("conc-a1", 1): 5}
