"""Records (protocols.records): round trips of every kind, the chain, the kind table, controls.

``EXAMPLES`` (one valid body per kind), the keys and ``make`` are shared
with the other test_records_* modules.
"""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocols.records import (CONTROLS, GENESIS_PREV, KINDS, MAX_RECORD_BYTES, REASONS, TQ_SOURCES, Control,
                               Record, RecordError, decode_unverified, encode_control, encode_record, record_hash,
                               verify_control, verify_record)
from protocols.topics import DEVICE_KINDS, is_identifier

# Fixed keys (RFC 8032 §7.1 tests 1-3), so failures reproduce byte for byte.
DEVICE_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
HALL_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7"))
SRC = "conc-01"
KEYS = {SRC: DEVICE_KEY.public_key(), "conc-02": OTHER_KEY.public_key()}
T0 = 1717200000000
TQ = {"src": "ntp", "err_ms": 20}

EXAMPLES = {
    "reading": {"meter": "202311150042", "di": "00010000", "name": "forward_active_total", "value": 12345.67,
                "unit": "kWh", "std": "2007", "cycle": "2024-06-01", "read_t": T0 - 1500},
    "frozen": {"meter": "000012345678", "di": "9010", "name": "forward_active_total", "value": None, "unit": "kWh",
               "std": "1997", "cycle": "2024-06", "read_t": T0, "freeze": "month", "frozen_at": None, "index": 1},
    "event": {"code": "cover-open", "severity": "warning", "state": "raised", "meter": "202311150042",
              "start_t": T0 - 60000, "end_t": None, "count": 3, "detail": "terminal cover opened"},
    "anomaly": {"meter": "202311150042", "class": "usage", "code": "energy-decrease", "state": "raised",
                "cycle": "2024-06-01", "value": -1.5, "threshold": 0, "detail": "total went down by 1.5 kWh"},
    "lineloss": {"area": "ta-0042", "cycle": "2024-06", "from_t": T0 - 86400000, "to_t": T0,
                 "supplied_kwh": 10234.5, "billed_kwh": 9560.25, "loss_kwh": 674.25, "loss_pct": 6.59,
                 "meters": 180, "meters_expected": 182},
    "cycle": {"cycle": "2024-06-01", "area": "ta-0042", "started_t": T0, "finished_t": T0 + 600000,
              "expected": 182, "read": 180, "failed": 2, "missing": ["202311150043", "202311150044"]},
    "ticket": {"number": "A012", "day": "2024-06-01", "business": "payment", "more": ["change.rename"],
               "priority": "green", "event": "issued", "channel": "kiosk", "key": "tap-7f3a"},
    "call": {"number": "A012", "day": "2024-06-01", "action": "transfer", "counter": "c3", "staff": "S0042",
             "business": "payment", "to_counter": "c5"},
    "payment": {"intent": "K01-20240601-0007", "account_masked": "******4321", "amount_fen": 15830,
                "method": "cash", "status": "paid", "provider_ref": None, "received_fen": 20000,
                "change_fen": 4170, "receipt": "R-000123", "ticket": "A012", "day": "2024-06-01"},
    "settlement": {"day": "2024-06-01", "count": 2, "amount_fen": 15830,
                   "totals": [{"method": "cash", "status": "paid", "count": 1, "amount_fen": 15830},
                              {"method": "qr", "status": "failed", "count": 1, "amount_fen": 0}],
                   "cash_fen": 15830},
    "rating": {"number": "A012", "day": "2024-06-01", "counter": "c3", "staff": "S0042", "business": "payment",
               "level": 2, "reason": "waited too long"},
    "health": {"uptime_s": 86400, "outbox_depth": 12, "oldest_unacked_s": 3, "publish_per_s": 41.5,
               "reconnects": 0, "alarms": ["outbox-near-bound"], "outbox_bytes": 123456,
               "outbox_bound_bytes": 1 << 30, "cpu_pct": 12.5, "mem_kb": 51200, "disk_free_kb": 10 << 20,
               "temp_c": 48.0},
}


def make(kind="reading", seq=1, prev=None, body=None, key=DEVICE_KEY, src=SRC, epoch=1, t_ms=T0, tq=TQ, v=1):
    """A valid record (unless the arguments say otherwise)."""
    if prev is None:
        prev = GENESIS_PREV if seq == 1 else b"\x11" * 32
    return encode_record(key, src=src, epoch=epoch, seq=seq, prev=prev, t_ms=t_ms, tq=tq, kind=kind,
                         body=EXAMPLES[kind] if body is None else body, v=v)


def test_every_kind_has_an_example():
    assert set(EXAMPLES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_round_trip_of_every_kind(kind):
    data = make(kind)
    record = verify_record(data, KEYS.get)
    assert (record.v, record.src, record.epoch, record.seq, record.prev, record.t_ms, record.tq, record.kind) == (
        1, SRC, 1, 1, GENESIS_PREV, T0, TQ, kind)
    assert record.body == EXAMPLES[kind]
    assert record.raw == data
    assert record.hash == record_hash(data)
    assert record.key == (SRC, 1, 1)
    assert decode_unverified(data) == record
    # Ed25519 and deterministic CBOR: the same record is the same bytes
    assert make(kind) == data


def test_record_hash_is_sha256_of_the_whole_message():
    import hashlib
    data = make()
    assert record_hash(data) == hashlib.sha256(data).digest()
    assert len(GENESIS_PREV) == 32 and GENESIS_PREV == bytes(32)


def test_tuples_encode_as_arrays():
    body = dict(EXAMPLES["reading"], value=(220.1, 219.8, None))
    record = verify_record(make(body=body), KEYS.get)
    assert record.body["value"] == [220.1, 219.8, None]


def test_values_a_meter_gives_survive():
    """Blocks, nested pairs, raw bytes of an unknown DI, text times, negatives (decisions 2)."""
    for value in ([12.5, [3.25, "2024-05-31T23:45"], None], b"\x12\x34", "--11-23T08:30", -5.123, 0, 2 ** 40):
        body = dict(EXAMPLES["reading"], value=value)
        assert verify_record(make(body=body), KEYS.get).body["value"] == value


def test_a_chain_of_100_records_verifies_link_by_link():
    prev = GENESIS_PREV
    chain = []
    for seq in range(1, 101):
        kind = sorted(KINDS)[seq % len(KINDS)]
        data = make(kind, seq=seq, prev=prev, t_ms=T0 + seq)
        chain.append(data)
        prev = record_hash(data)
    stored = None
    for seq, data in enumerate(chain, 1):
        record = verify_record(data, KEYS.get, prev_hash=stored)
        assert record.seq == seq
        stored = record.hash
    # a gap breaks it: record 51 against record 49's hash
    with pytest.raises(RecordError) as info:
        verify_record(chain[50], KEYS.get, prev_hash=record_hash(chain[48]))
    assert info.value.reason == "broken-chain"


def test_new_epoch_starts_again_from_genesis():
    record = verify_record(make(epoch=2, seq=1), KEYS.get)
    assert record.epoch == 2 and record.prev == GENESIS_PREV


@pytest.mark.parametrize("tq", [{"src": s, "err_ms": 0 if s != "none" else None} for s in TQ_SOURCES]
                         + [{"src": "rtc", "err_ms": 2 ** 31 - 1}])
def test_every_clock_source(tq):
    assert verify_record(make(tq=tq), KEYS.get).tq == tq


def test_kind_table():
    billing = {name for name, kind in KINDS.items() if kind.billing}
    droppable = {name for name, kind in KINDS.items() if kind.droppable}
    # The architecture's never-dropped list, plus the day's settlement.
    assert billing == {"reading", "frozen", "payment", "settlement", "rating", "ticket"}
    assert droppable == {"health"}
    for name, kind in KINDS.items():
        assert kind.name == name
        assert is_identifier(name)                 # it is also a topic level
        assert kind.schema(1) is not None and kind.latest >= 1
        assert kind.schema(kind.latest + 1) is None
        assert kind.producers and set(kind.producers) <= set(DEVICE_KINDS)
        assert not (kind.billing and kind.droppable)
    with pytest.raises(TypeError):
        KINDS["weather"] = KINDS["reading"]        # built at import, never mutated


def test_reasons_are_distinct_stable_codes():
    assert list(REASONS)[:16] == [
        "too-large", "truncated", "not-cbor", "not-cose", "bad-protected-header", "non-canonical", "unknown-key",
        "missing-key", "wrong-type", "out-of-range", "unknown-kind", "bad-schema-version", "bad-body",
        "unknown-device", "bad-signature", "broken-chain"]
    assert "wrong-recipient" in REASONS
    with pytest.raises(ValueError):
        RecordError("no-such-reason", "x")


def test_the_largest_bodies_of_v1_fit_in_a_record():
    """Every v1 schema bounds its lists and texts so a valid body always fits MAX_RECORD_BYTES."""
    body = dict(EXAMPLES["cycle"], expected=4096, read=0, failed=0, missing=["%012d" % i for i in range(4096)])
    data = make("cycle", body=body)
    assert len(data) <= MAX_RECORD_BYTES
    block = [["x" * 32] * 8] * 64
    data = make(body=dict(EXAMPLES["reading"], value=block, name="n" * 64, unit="u" * 16))
    assert len(data) <= MAX_RECORD_BYTES
    with pytest.raises(RecordError) as info:
        make(body=dict(EXAMPLES["reading"], value=[["x" * 33]]))
    assert info.value.reason == "bad-body" and info.value.where == "body.value[0][0]"


def test_record_equality_and_repr():
    a = verify_record(make(), KEYS.get)
    b = decode_unverified(make())
    assert a == b and hash(a) == hash(b) and a != verify_record(make(seq=2), KEYS.get)
    assert "conc-01" in repr(a) and "seq=1" in repr(a)
    assert isinstance(a, Record)


# ---- controls ---------------------------------------------------------------

CONTROL_EXAMPLES = {
    "ack": {"epoch": 1, "seq": 42},
    "resend": {"epoch": 1, "from_seq": 7, "to_seq": 9},
    "command": {"id": "cmd-20240601-1", "name": "read-meter",
                "args": {"meter": "202311150042", "di": "00010000", "retries": 2, "urgent": True,
                         "items": ["00010000", "02010100"], "opts": {"timeout_s": 1.5}}},
}


def control(kind="ack", fields=None, key=HALL_KEY, hall="h1", device=SRC, t_ms=T0):
    return encode_control(key, hall=hall, device=device, kind=kind,
                          fields=CONTROL_EXAMPLES[kind] if fields is None else fields, t_ms=t_ms)


def test_control_examples_cover_every_kind():
    assert set(CONTROL_EXAMPLES) == set(CONTROLS)


@pytest.mark.parametrize("kind", sorted(CONTROLS))
def test_control_round_trip(kind):
    data = control(kind)
    msg = verify_control(data, HALL_KEY.public_key(), SRC, hall="h1")
    assert isinstance(msg, Control)
    assert (msg.v, msg.hall, msg.device, msg.kind, msg.t_ms) == (1, "h1", SRC, kind, T0)
    assert msg.fields == CONTROL_EXAMPLES[kind]
    assert msg.raw == data
    assert verify_control(data, HALL_KEY.public_key()) == msg     # device not given: not checked


def test_ack_of_nothing_yet_is_seq_zero():
    assert verify_control(control(fields={"epoch": 3, "seq": 0}), HALL_KEY.public_key(), SRC).fields["seq"] == 0


def test_control_time_tells_a_replay_apart():
    """Two acks with the same fields at different times are different messages (docstring rule)."""
    first = verify_control(control(t_ms=T0), HALL_KEY.public_key(), SRC)
    later = verify_control(control(t_ms=T0 + 1), HALL_KEY.public_key(), SRC)
    assert first.fields == later.fields and first.raw != later.raw and later.t_ms > first.t_ms
