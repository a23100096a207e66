"""The queue journal on real SQLite files, with a real outbox: restart, refusal, posting once."""

import json
import sqlite3

import pytest

from edge.identity import create_identity
from edge.outbox import Outbox
from kiosk.queue import ActionRefused, JournalError, QueueEngine, QueueStore
from protocols.records import decode_unverified
from queue_setup import at, config


@pytest.fixture
def identity(tmp_path):
    return create_identity(str(tmp_path / "identity"), "kiosk-1", "kiosk", "hall-01")


def busy_day(store):
    store.do("open_counter", at(8, 30), counter_id="w1")
    store.do("open_counter", at(8, 30), counter_id="w2")
    for m, business in enumerate(("payment", "change.rename", "payment", "other.consult")):
        store.do("issue", at(9, m), business=business, key="key-%d" % m)
    store.do("issue", at(9, 5), business="payment", priority="green", channel="desk")
    store.do("call_next", at(9, 10), counter_id="w1")
    store.do("start", at(9, 11), counter_id="w1")
    store.do("transfer", at(9, 15), counter_id="w1", to_business="payment")
    store.do("call_next", at(9, 16), counter_id="w2")
    store.do("no_show", at(9, 18), counter_id="w2")


def outbox_bodies(outbox):
    return [(r.kind, r.body, r.t_ms) for r in (decode_unverified(data) for _seq, data in outbox.records())]


def test_restart_rebuilds_the_same_state_and_posts_each_record_once(tmp_path, identity):
    journal = tmp_path / "queue.db"
    with Outbox(str(tmp_path / "outbox.db"), identity) as outbox:
        with QueueStore(journal, config(), outbox) as store:
            busy_day(store)
            before = store.snapshot()
            assert store.unposted() == 0
        with QueueStore(journal, config(), outbox) as again:
            assert again.snapshot() == before
            again.do("call_next", at(9, 20), counter_id="w1")          # carries on
        expected = [r for row in QueueStore(journal, config()).journal() for r in row[5]]
        assert [tuple(r) for r in outbox_bodies(outbox)] == [tuple(r) for r in expected]
    # the engine alone, fed the journal's actions, agrees (the journal is the one place of truth)
    engine = QueueEngine(config())
    for _id, _day, _t, action, args, _records in QueueStore(journal, config()).journal():
        getattr(engine, action)(**args)
    with QueueStore(journal, config()) as store:
        assert store.snapshot() == engine.snapshot()


def test_records_wait_in_the_journal_until_an_outbox_takes_them(tmp_path, identity):
    journal = tmp_path / "queue.db"
    with QueueStore(journal, config()) as store:
        busy_day(store)
        rows = store.unposted()
        assert rows > 0
    # a crash after the outbox committed but before "posted" was noted: the keys keep it single
    with Outbox(str(tmp_path / "outbox.db"), identity) as outbox:
        with QueueStore(journal, config(), outbox) as store:
            assert store.unposted() == 0
            count = len(outbox.records())
        conn = sqlite3.connect(journal)
        conn.execute("UPDATE journal SET posted = 0")
        conn.commit()
        conn.close()
        with QueueStore(journal, config(), outbox) as store:
            assert store.unposted() == 0
        assert len(outbox.records()) == count


def test_database_refuses_a_number_twice(tmp_path):
    journal = tmp_path / "queue.db"
    with QueueStore(journal, config()) as store:
        store.do("issue", at(9, 0), business="payment")
        conn = sqlite3.connect(journal)
        conn.execute("DELETE FROM journal WHERE action = 'issue'")      # the engine's memory says B001 is free
        conn.commit()
        conn.close()
        store.engine = store._replay()
        with pytest.raises(JournalError, match="UNIQUE"):
            store.do("issue", at(9, 1), business="payment")
        assert store.tickets() == []                                     # rebuilt from the journal


def test_refused_action_is_not_journaled(tmp_path):
    with QueueStore(tmp_path / "queue.db", config()) as store:
        store.do("issue", at(9, 0), business="payment")
        rows = len(store.journal())
        with pytest.raises(ActionRefused):
            store.do("finish", at(9, 1), counter_id="w1")
        with pytest.raises(ActionRefused):
            store.do("launch", at(9, 1))
        store.do("open_counter", at(9, 1), counter_id="w1")
        rows += 1
        assert store.do("call_next", at(9, 2), counter_id="w1").ticket is None     # nothing of A waiting
        assert store.do("issue", at(9, 3), business="payment", key="x").records
        assert store.do("issue", at(9, 4), business="payment", key="x").records == ()
        rows += 1
        assert len(store.journal()) == rows


def test_new_day_is_begun_and_journaled(tmp_path):
    with QueueStore(tmp_path / "queue.db", config()) as store:
        store.do("issue", at(9, 0), business="payment")
        out = store.do("issue", at(9, 0, day=4), business="payment")
        assert out.ticket.number == "B001" and out.ticket.day == "2024-06-04"
        actions = [(row[1], row[3]) for row in store.journal()]
        assert actions == [("2024-06-03", "begin_day"), ("2024-06-03", "issue"), ("2024-06-04", "begin_day"),
                           ("2024-06-04", "issue")]
        assert json.dumps(store.journal()[2][5]).count('"expired"') == 1
    with QueueStore(tmp_path / "queue.db", config()) as store:
        assert [t.number for t in store.tickets()] == ["B001"] and store.ticket("B001").day == "2024-06-04"


def test_config_changed_mid_day_is_a_clear_error(tmp_path):
    journal = tmp_path / "queue.db"
    with QueueStore(journal, config()) as store:
        store.do("issue", at(9, 0), business="other.consult")
    smaller = config(business={"payment": {"category": "B", "limit_min": 3},
                               "change.rename": {"category": "A", "limit_min": 10}})
    with pytest.raises(JournalError, match="row 2 \\(issue\\) does not replay.*configuration changed"):
        QueueStore(journal, smaller)
    with QueueStore(journal, config(closes="18:00")) as store:        # a change that replays the same is fine
        assert store.ticket("A001") is not None


def test_not_a_journal(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="not a queue journal"):
        QueueStore(other, config())
    (tmp_path / "text.db").write_text("hello, this is not SQLite at all" * 20)
    with pytest.raises(JournalError):
        QueueStore(tmp_path / "text.db", config())
