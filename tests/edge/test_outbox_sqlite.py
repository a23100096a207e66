"""The outbox on real SQLite files: append, drain, ack, resend, reopen, epochs, the bound, errors."""

import os
import sqlite3
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodies import event, health, payment, reading
from edge.identity import create_identity
from edge.outbox import (AckAccepted, AlarmCleared, AlarmRaised, Gap, Ignored, Limits, Outbox, OutboxError,
                         OutboxFull, Pending, RecordsShed, ResendAccepted, StoreMismatch)
from protocols.records import (GENESIS_PREV, RecordError, decode_unverified, encode_control, record_hash,
                               verify_control, verify_record)


def open_outbox(db_path, identity, **kwargs):
    return Outbox(db_path, identity, **kwargs)


def verify_chain(items, identity, prev=None):
    """verify_record every Pending in order, each chained to the one before; return the last hash."""
    for item in items:
        record = verify_record(item.data, lambda src: identity.public_key if src == identity.device_id else None,
                               prev)
        assert (record.epoch, record.seq, record.kind) == (item.epoch, item.seq, item.kind)
        prev = record.hash
    return prev


def drain(outbox, limit=1000):
    items = outbox.next_to_publish(limit)
    for item in items:
        assert outbox.mark_published(item)
    return items


# --------------------------------------------------------------- the basics

def test_append_returns_consecutive_seqs_and_records_verify_and_chain(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        assert ob.epoch == 1 and ob.last_seq == 0
        assert ob.append("reading", reading(1)) == 1
        assert ob.append_many([("reading", reading(i)) for i in range(2, 6)]) == [2, 3, 4, 5]
        assert ob.append("event", event(), 1717200000123, {"src": "ntp", "err_ms": 20}) == 6
        items = ob.next_to_publish(100)
        assert [i.seq for i in items] == [1, 2, 3, 4, 5, 6] and all(isinstance(i, Pending) for i in items)
        verify_chain(items, identity, GENESIS_PREV)
        last = verify_record(items[-1].data, lambda src: identity.public_key)
        assert (last.t_ms, last.tq) == (1717200000123, {"src": "ntp", "err_ms": 20})
        assert ob.core.last_hash == record_hash(items[-1].data)


def test_the_file_is_in_wal_mode_with_full_sync(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append("reading", reading())
        assert ob._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert ob._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with open(db_path, "rb") as f:
        header = f.read(20)
    assert header[18:20] == b"\x02\x02"          # file format: WAL


def test_the_default_clock_claims_no_quality(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append("health", health())
        record = decode_unverified(ob.next_to_publish(1)[0].data)
        assert record.tq == {"src": "none", "err_ms": None} and record.t_ms > 1.7e12


def test_an_injected_clock_stamps_records_and_ages_figures(db_path, identity):
    now = [1_000_000]
    clock = lambda: (now[0], {"src": "hall", "err_ms": 500})
    with open_outbox(db_path, identity, clock=clock) as ob:
        ob.append("reading", reading())
        now[0] += 42_000
        ob.append("reading", reading(1))
        f = ob.figures()
        assert (f.depth_records, f.oldest_unacked_age_s, f.appended, f.epoch) == (2, 42.0, 2, 1)
        assert decode_unverified(ob.next_to_publish(1)[0].data).tq == {"src": "hall", "err_ms": 500}


def test_a_bad_body_stores_nothing_and_uses_no_seq(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append("reading", reading())
        bad = dict(reading(), di="0001")                   # 4 hex digits for a 2007 meter
        with pytest.raises(RecordError) as info:
            ob.append_many([("reading", reading(1)), ("reading", bad), ("reading", reading(2))])
        assert info.value.reason == "bad-body"
        with pytest.raises(RecordError):
            ob.append("no-such-kind", {})
        assert ob.last_seq == 1 and ob.append("reading", reading(3)) == 2
        assert [s for s, _d in ob.records()] == [1, 2]


def test_items_must_be_tuples(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        with pytest.raises(TypeError, match=r"\(kind, body"):
            ob.append_many([{"kind": "reading"}])
        assert ob.append_many([]) == []


# ------------------------------------------------------------ drain and acks

def test_in_order_drain_with_window_and_ack(db_path, identity):
    with open_outbox(db_path, identity, limits=Limits(window=4)) as ob:
        ob.append_many([("reading", reading(i)) for i in range(10)])
        assert [i.seq for i in drain(ob)] == [1, 2, 3, 4]
        assert ob.next_to_publish(100) == []                      # window full
        assert isinstance(ob.ack(1, 2), AckAccepted)
        assert [s for s, _d in ob.records()] == list(range(3, 11))
        assert [i.seq for i in drain(ob)] == [5, 6]
        f = ob.figures()
        assert (f.in_flight, f.acked, f.depth_records, f.acked_seq) == (4, 2, 8, 2)


def test_acks_that_cover_nothing_new_delete_nothing(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(5)])
        ob.ack(1, 3)
        for epoch, seq, reason in ((1, 3, "stale"), (1, 2, "stale"), (1, 0, "stale"), (2, 4, "epoch"),
                                   (1, 6, "beyond")):
            decision = ob.ack(epoch, seq)
            assert isinstance(decision, Ignored) and decision.reason == reason
        assert [s for s, _d in ob.records()] == [4, 5]


def test_resend_and_reconnect_publish_unacked_records_again_in_order(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(8)])
        drain(ob, 6)
        ob.ack(1, 1)
        assert isinstance(ob.resend(1, 3, 4), ResendAccepted)
        assert [i.seq for i in ob.next_to_publish(100)] == [3, 4, 7, 8]
        assert isinstance(ob.resend(1, 9, 12), Ignored)
        ob.on_reconnect()
        items = ob.next_to_publish(100)
        assert [i.seq for i in items] == [2, 3, 4, 5, 6, 7, 8]
        verify_chain(items, identity)


def test_mark_published_ignores_items_from_before_a_reconnect(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(4)])
        stale = ob.next_to_publish(4)
        assert ob.mark_published(stale[0]) and ob.mark_published(stale[1])
        ob.on_reconnect()
        assert not ob.mark_published(stale[2])      # not next: 1 must go again first
        assert ob.mark_published(1)
        assert [i.seq for i in ob.next_to_publish(10)] == [2, 3, 4]


def test_controls_signed_by_the_hall_drive_the_outbox(db_path, identity):
    hall = Ed25519PrivateKey.generate()
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(5)])
        drain(ob)

        def control(kind, **fields):
            data = encode_control(hall, hall="hall-01", device="conc-a1", kind=kind, fields=fields,
                                  t_ms=1717200000000)
            return verify_control(data, hall.public_key(), "conc-a1")

        assert isinstance(ob.apply_control(control("resend", epoch=1, from_seq=2, to_seq=3)), ResendAccepted)
        assert [i.seq for i in ob.next_to_publish(10)] == [2, 3]
        assert isinstance(ob.apply_control(control("ack", epoch=1, seq=4)), AckAccepted)
        assert [s for s, _d in ob.records()] == [5]
        with pytest.raises(ValueError, match="not 'command'"):
            ob.apply_control(control("command", id="c1", name="read-meter", args={}))


# ------------------------------------------------------------ reopen, epochs

def test_reopening_continues_the_sequence_and_the_chain(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(5)])
        ob.ack(1, 5)                                 # the store is empty, the counter is not
        head = ob.core.last_hash
    with open_outbox(db_path, identity) as ob:
        assert (ob.epoch, ob.last_seq, ob.core.acked_seq, ob.core.last_hash) == (1, 5, 5, head)
        assert ob.append("reading", reading(6)) == 6
        assert verify_chain(ob.next_to_publish(10), identity, head)


def test_in_flight_records_are_published_again_after_a_restart(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(5)])
        drain(ob)
        ob.ack(1, 2)
    with open_outbox(db_path, identity) as ob:
        assert [i.seq for i in ob.next_to_publish(10)] == [3, 4, 5]


def test_a_deleted_store_comes_back_with_the_next_epoch(db_path, identity):
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(3)])
    os.unlink(db_path)
    with open_outbox(db_path, identity) as ob:
        assert (ob.epoch, ob.last_seq) == (2, 0)
        assert ob.append("reading", reading()) == 1
        record = decode_unverified(ob.next_to_publish(1)[0].data)
        assert (record.epoch, record.seq, record.prev) == (2, 1, GENESIS_PREV)
    assert identity.last_epoch() == 2


def test_a_stale_wal_of_a_deleted_store_is_not_replayed(db_path, identity):
    # SQLite deletes a WAL whose database file is missing or empty; the new store starts clean.
    with open_outbox(db_path, identity) as ob:
        ob.append_many([("reading", reading(i)) for i in range(3)])
        with open(db_path + "-wal", "rb") as f:
            wal = f.read()                          # committed, not yet checkpointed
    assert wal
    os.unlink(db_path)
    with open(db_path + "-wal", "wb") as f:        # the log outlived its database
        f.write(wal)
    with open_outbox(db_path, identity) as ob:
        assert (ob.epoch, ob.last_seq, ob.records()) == (2, 0, [])


def test_the_epoch_file_catches_up_with_a_store_restored_from_a_backup(db_path, identity, tmp_path):
    with open_outbox(db_path, identity):
        pass
    for _ in range(4):
        identity.claim_epoch()                      # epoch file at 5, the store at 1
    fresh = create_identity(str(tmp_path / "id2"), "conc-a1", "concentrator", "hall-01")
    fresh.signing_key = identity.signing_key        # the same device, its epoch file reset
    fresh.public_key_raw = identity.public_key_raw
    with open_outbox(db_path, fresh) as ob:
        assert ob.epoch == 1
    assert fresh.last_epoch() == 1


def test_a_store_of_another_device_is_refused(db_path, identity, tmp_path):
    with open_outbox(db_path, identity):
        pass
    other = create_identity(str(tmp_path / "other"), "conc-b2", "concentrator", "hall-01")
    with pytest.raises(StoreMismatch) as info:
        open_outbox(db_path, other)
    assert info.value.field == "device_id" and "belongs to device_id 'conc-a1'" in str(info.value)


def test_a_database_that_is_not_an_outbox_is_refused(db_path, identity):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreMismatch, match="not an outbox .*customers"):
        open_outbox(db_path, identity)


def test_a_file_that_is_not_sqlite_is_refused_with_its_name(db_path, identity):
    with open(db_path, "wb") as f:
        f.write(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match="outbox %s: cannot" % db_path):
        open_outbox(db_path, identity)


def test_an_unwritable_place_is_a_clear_error(tmp_path, identity):
    with pytest.raises(OutboxError, match="cannot open the database"):
        open_outbox(str(tmp_path / "missing-dir" / "outbox.db"), identity)


def test_a_closed_outbox_says_so(db_path, identity):
    ob = open_outbox(db_path, identity)
    ob.close()
    ob.close()
    with pytest.raises(OutboxError, match="is closed"):
        ob.append("reading", reading())


# ----------------------------------------------------------- bound and alarm

def test_at_the_bound_health_is_shed_and_billing_records_are_refused(db_path, identity):
    events = []
    limits = Limits(shed_droppable=True, max_records=6, alarm_at=0.8, alarm_clear_at=0.5, billing_reserve=0)
    with open_outbox(db_path, identity, limits=limits, on_event=events.append) as ob:
        ob.append_many([("reading", reading(1)), ("health", health(1)), ("reading", reading(2)),
                        ("health", health(2)), ("payment", payment(1))])       # seqs 1..5
        assert [type(e) for e in events] == [AlarmRaised]
        ob.append("reading", reading(3))                                           # 6: full
        assert ob.append("reading", reading(4)) == 7                               # sheds health 2
        assert ob.append("payment", payment(2)) == 8                               # sheds health 4
        shed = [e for e in events if isinstance(e, RecordsShed)]
        assert [e.seqs for e in shed] == [[2], [4]]
        with pytest.raises(OutboxFull) as info:
            ob.append("payment", payment(3))
        err = info.value
        assert (err.depth_records, err.max_records, err.kinds) == (6, 6, ["payment"])
        assert str(err).startswith("outbox full: 6 of 6 records")
        with pytest.raises(OutboxFull):
            ob.append("health", health(3))                                          # health cannot push out billing
        assert [s for s, _d in ob.records()] == [1, 3, 5, 6, 7, 8]
        # The shed numbers are reported as gaps, in order, so the hall can pass them.
        items = ob.next_to_publish(100)
        assert [(type(i).__name__, i.from_seq, i.to_seq) for i in items] == [
            ("Pending", 1, 1), ("Gap", 2, 2), ("Pending", 3, 3), ("Gap", 4, 4), ("Pending", 5, 5),
            ("Pending", 6, 6), ("Pending", 7, 7), ("Pending", 8, 8)]
        assert items[1] == Gap(1, 2, 2)
        for item in items:
            assert ob.mark_published(item)
        ob.ack(1, 6)
        assert any(isinstance(e, AlarmCleared) for e in events)
        assert not ob.alarm
        f = ob.figures()
        assert (f.shed, f.refused, f.depth_records) == (2, 2, 2)


def test_the_byte_bound_counts_record_bytes(db_path, identity):
    with open_outbox(db_path, identity, limits=Limits(max_bytes=2000, billing_reserve=0)) as ob:
        size = len(ob.next_to_publish(1)[0].data) if ob.append("reading", reading()) else 0
        n = 2000 // size
        ob.append_many([("reading", reading(i)) for i in range(1, n)])
        with pytest.raises(OutboxFull, match="of 2000 bytes"):
            ob.append("reading", reading(n))


def test_the_bound_holds_across_a_reopen(db_path, identity):
    limits = Limits(shed_droppable=True, max_records=3, billing_reserve=0)
    with open_outbox(db_path, identity, limits=limits) as ob:
        ob.append_many([("reading", reading(i)) for i in range(2)] + [("health", health())])
    events = []
    with open_outbox(db_path, identity, limits=limits, on_event=events.append) as ob:
        assert ob.alarm and isinstance(events[0], AlarmRaised)
        ob.append("reading", reading(5))                            # sheds the health record
        with pytest.raises(OutboxFull):
            ob.append("reading", reading(6))


def test_events_are_delivered_outside_the_lock(db_path, identity):
    # A health module that reacts to the alarm by appending a health record must not deadlock.
    with open_outbox(db_path, identity, limits=Limits(max_records=10, alarm_at=0.2),
                     on_event=lambda e: isinstance(e, AlarmRaised) and ob.append("health", health())) as ob:
        ob.append_many([("reading", reading(i)) for i in range(2)])
        assert ob.last_seq == 3


# ----------------------------------------------------------------- threads

def test_a_producer_and_a_publisher_share_one_outbox(db_path, identity):
    with open_outbox(db_path, identity, limits=Limits(window=50)) as ob:
        done = threading.Event()
        errors = []

        def produce():
            try:
                for i in range(40):
                    ob.append_many([("reading", reading(i * 5 + j)) for j in range(5)])
            except Exception as exc:      # reported below
                errors.append(exc)
            finally:
                done.set()

        published = []
        producer = threading.Thread(target=produce)
        producer.start()
        while not (done.is_set() and ob.core.acked_seq == ob.last_seq):
            for item in ob.next_to_publish(20):
                assert ob.mark_published(item)
                published.append(item)
            if published:
                ob.ack(ob.epoch, published[-1].seq)
        producer.join()
        assert not errors
        assert [i.seq for i in published] == list(range(1, 201))
        verify_chain(published, identity, GENESIS_PREV)
        assert ob.records() == [] and ob.figures().depth_records == 0


def test_a_store_made_with_another_key_is_refused(db_path, identity, tmp_path):
    with open_outbox(db_path, identity):
        pass
    renewed = create_identity(str(tmp_path / "renewed"), "conc-a1", "concentrator", "hall-01")
    with pytest.raises(StoreMismatch) as info:
        open_outbox(db_path, renewed)
    assert info.value.field == "public_key"
    assert "made with key %s, this device's key is %s" % (identity.fingerprint, renewed.fingerprint) in str(info.value)
