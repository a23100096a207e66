"""Rating prompts (R-01, R-02, R-04, K-01) from a real queue engine run, on real SQLite, into a real outbox."""

import sqlite3

import pytest

from edge.identity import create_identity
from edge.outbox import Outbox
from kiosk.queue import QueueEngine
from kiosk.rating import (DEFAULT_REASONS, RatingConfig, RatingConfigError, RatingDesk, RatingRefused, RatingStore,
                          RatingStoreError, as_v1, group_by, load_rating_config, satisfaction)
from protocols.records import KINDS, decode_unverified
from queue_setup import MIN, at, config

SEC = 1000
CFG = RatingConfig(timeout_s=30)


@pytest.fixture
def identity(tmp_path):
    return create_identity(str(tmp_path / "identity"), "kiosk-1", "kiosk", "hall-01")


def served(engine, start, counter, staff, business="payment"):
    """Issue, call, start and finish one ticket at ``counter``; return the finish call record body."""
    engine.issue(start, business)
    engine.call_next(start + SEC, counter, staff=staff)
    engine.start(start + 2 * SEC, counter, staff=staff)
    outcome = engine.finish(start + 3 * MIN, counter, staff=staff)
    (record,) = outcome.records
    return record.body


@pytest.fixture
def engine():
    e = QueueEngine(config())
    e.begin_day(at(8, 0))
    for counter in ("w1", "w2"):
        e.open_counter(at(8, 30), counter)
    return e


def check_v2(body):
    KINDS["rating"].schema(2).check(body, "body")


def test_rating_is_bound_to_the_ticket_counter_staff_and_business_of_the_finished_act(engine, tmp_path):
    finish = served(engine, at(9, 0), "w2", "S0042")
    store = RatingStore(tmp_path / "rating.db", CFG)
    assert store.ask_after(at(9, 3), finish) == ()
    records, needs_reason = store.press(at(9, 3, 10), "w2", 4)
    assert not needs_reason
    (record,) = records
    assert record.body == {"number": "B001", "day": "2024-06-03", "counter": "w2", "staff": "S0042",
                           "business": "payment", "outcome": "rated", "level": 4, "asked_t": at(9, 3)}
    assert record.t_ms == at(9, 3, 10) and record.v == 2
    check_v2(record.body)
    assert store.records() == [record.body]


def test_a_rating_follows_only_a_finish(engine):
    engine.issue(at(9, 0), "payment")
    (call,) = engine.call_next(at(9, 1), "w2").records
    with pytest.raises(RatingRefused) as err:
        RatingDesk(CFG).ask_after(at(9, 1), call.body)
    assert err.value.reason == "ticket"


def test_one_rating_per_ticket(engine, tmp_path):
    finish = served(engine, at(9, 0), "w1", "S1", "change.rename")
    store = RatingStore(tmp_path / "rating.db", CFG)
    store.ask_after(at(9, 3), finish)
    store.press(at(9, 3, 5), "w1", 5)
    with pytest.raises(RatingRefused, match="one rating per ticket") as err:
        store.ask_after(at(9, 4), finish)
    assert err.value.reason == "already-rated"
    with pytest.raises(RatingRefused) as err:        # the pad pressed again: nothing open
        store.press(at(9, 3, 6), "w1", 1)
    assert err.value.reason == "no-prompt"
    assert len(store.records()) == 1
    store.close()
    again = RatingStore(tmp_path / "rating.db", CFG)   # and after a restart
    with pytest.raises(RatingRefused) as err:
        again.ask_after(at(9, 5), finish)
    assert err.value.reason == "already-rated"


def test_the_database_itself_refuses_a_second_prompt_for_a_ticket(engine, tmp_path):
    finish = served(engine, at(9, 0), "w1", "S1", "change.rename")
    RatingStore(tmp_path / "rating.db", CFG).ask_after(at(9, 3), finish)
    conn = sqlite3.connect(tmp_path / "rating.db")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO prompts (day, number, counter, asked_ms, deadline_ms) VALUES (?, ?, 'w2', 0, 0)",
                     (finish["day"], finish["number"]))


def test_timeout_records_not_rated(engine, tmp_path):
    finish = served(engine, at(9, 0), "w2", "S7")
    store = RatingStore(tmp_path / "rating.db", CFG)
    store.ask_after(at(9, 3), finish)
    deadline = at(9, 3) + int(CFG.timeout_s * SEC)
    assert store.expire(deadline - 1) == ()
    (record,) = store.expire(deadline)
    assert record.body["outcome"] == "timeout" and record.body["level"] is None and "reason" not in record.body
    check_v2(record.body)
    with pytest.raises(RatingRefused):
        store.press(deadline + 1, "w2", 5)
    assert store.desk.pending("w2") is None


def test_a_press_after_the_deadline_is_refused_even_before_expire_runs(engine, tmp_path):
    store = RatingStore(tmp_path / "rating.db", CFG)
    store.ask_after(at(9, 3), served(engine, at(9, 0), "w2", "S7"))
    with pytest.raises(RatingRefused, match="timed out"):
        store.press(at(9, 3) + 30 * SEC, "w2", 5)


def test_levels_one_and_two_need_a_reason_from_the_list_or_typed(engine, tmp_path):
    store = RatingStore(tmp_path / "rating.db", CFG)
    store.ask_after(at(9, 3), served(engine, at(9, 0), "w2", "S7"))
    with pytest.raises(RatingRefused) as err:
        store.give_reason(at(9, 3, 1), "w2", 1)
    assert err.value.reason == "no-level"
    assert store.press(at(9, 3, 2), "w2", 2) == ((), True)
    with pytest.raises(RatingRefused) as err:
        store.give_reason(at(9, 3, 3), "w2", len(DEFAULT_REASONS) + 1)
    assert err.value.reason == "reason"
    (record,) = store.give_reason(at(9, 3, 4), "w2", 1)
    assert record.body["level"] == 2 and record.body["reason"] == DEFAULT_REASONS[0]
    check_v2(record.body)
    store.ask_after(at(9, 10), served(engine, at(9, 6), "w2", "S7"))
    store.press(at(9, 10, 1), "w2", 1)
    (record,) = store.give_reason(at(9, 10, 2), "w2", "  排队叫号听不清  ")
    assert record.body["level"] == 1 and record.body["reason"] == "排队叫号听不清"


def test_a_dissatisfied_key_without_a_reason_ends_not_rated(engine, tmp_path):
    store = RatingStore(tmp_path / "rating.db", CFG)
    store.ask_after(at(9, 3), served(engine, at(9, 0), "w2", "S7"))
    store.press(at(9, 3, 20), "w2", 1)                   # the reason gets its own timeout from the key
    assert store.expire(at(9, 3) + 30 * SEC) == ()
    (record,) = store.expire(at(9, 3, 20) + 30 * SEC)
    assert record.body["outcome"] == "timeout" and record.body["level"] is None


def test_the_next_finish_at_a_counter_supersedes_an_open_prompt(engine, tmp_path):
    store = RatingStore(tmp_path / "rating.db", CFG)
    first = served(engine, at(9, 0), "w2", "S7")
    store.ask_after(at(9, 3), first)
    second = served(engine, at(9, 3), "w2", "S7")
    (record,) = store.ask_after(at(9, 6), second)
    assert (record.body["number"], record.body["outcome"]) == (first["number"], "superseded")
    assert store.desk.pending("w2").number == second["number"]


def test_a_restart_keeps_a_pending_prompt_and_its_chosen_level(engine, tmp_path):
    path = tmp_path / "rating.db"
    finish = served(engine, at(9, 0), "w1", "S1", "change.rename")
    with RatingStore(path, CFG) as store:
        store.ask_after(at(9, 3), finish)
        store.press(at(9, 3, 5), "w1", 2)
        before = store.desk.pending("w1")
    with RatingStore(path, CFG) as store:
        assert store.desk.pending("w1") == before
        (record,) = store.give_reason(at(9, 3, 9), "w1", 3)
        assert record.body["level"] == 2 and record.body["staff"] == "S1"
    with RatingStore(path, CFG) as store:
        assert store.desk.pending("w1") is None and store.records() == [record.body]


def test_bad_asks_change_nothing(tmp_path):
    store = RatingStore(tmp_path / "rating.db", CFG)
    for args in (("a12", "2024-06-03", "w1"), ("A012", "3 June", "w1"), ("A012", "2024-06-03", "W 1"),
                 ("A012", "2024-06-03", "w1", "张三")):
        with pytest.raises(RatingRefused) as err:
            store.ask(at(9, 0), *args)
        assert err.value.reason == "ticket"
    assert store.desk.prompts() == {} and store.records() == []
    with pytest.raises(RatingRefused) as err:
        store.press(at(9, 0), "w1", 3)
    assert err.value.reason == "no-prompt"


def test_not_a_rating_journal(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE journal (id INTEGER)")
    conn.commit()
    with pytest.raises(RatingStoreError, match="not a rating journal"):
        RatingStore(path, CFG)


def test_every_outcome_reaches_the_outbox_once_as_body_version_2(engine, tmp_path, identity):
    with Outbox(str(tmp_path / "outbox.db"), identity) as outbox:
        store = RatingStore(tmp_path / "rating.db", CFG, outbox)
        store.ask_after(at(9, 3), served(engine, at(9, 0), "w2", "S7"))
        (rated,) = store.press(at(9, 3, 5), "w2", 5)[0]
        store.ask_after(at(9, 10), served(engine, at(9, 6), "w2", "S7"))
        (timeout,) = store.expire(at(9, 11))
        decoded = [decode_unverified(data) for _seq, data in outbox.records()]
        assert [(r.kind, r.v, r.body, r.t_ms) for r in decoded] == [("rating", 2, rated.body, rated.t_ms),
                                                                     ("rating", 2, timeout.body, timeout.t_ms)]
        assert [r.body["outcome"] for r in decoded] == ["rated", "timeout"]
        assert store.unposted() == 0 and store.post_error is None
        store.close()
        again = RatingStore(tmp_path / "rating.db", CFG, outbox)     # a restart posts nothing twice
        assert len(outbox.records()) == 2 and again.unposted() == 0
        assert timeout.body in again.records()


def test_v2_schema_refuses_a_level_without_a_rating_and_a_rating_without_reason():
    schema = KINDS["rating"].schema(2)
    base = {"number": "A001", "day": "2024-06-03", "counter": "w1", "asked_t": 1}
    for body in (dict(base, outcome="timeout", level=4), dict(base, outcome="rated", level=None),
                 dict(base, outcome="rated", level=2), dict(base, outcome="timeout", level=None, reason="x")):
        with pytest.raises(Exception) as err:
            schema.check(body, "body")
        assert type(err.value).__name__ == "SchemaError"
    schema.check(dict(base, outcome="rated", level=2, reason="long wait"), "body")
    KINDS["rating"].schema(1).check(as_v1(dict(base, outcome="rated", level=5)), "body")


def test_satisfaction_kpi_R02_K01():
    levels = [5, 5, 4, 3, 2, 1, 4, 5]
    bodies = [{"counter": "w1" if i % 2 else "w2", "staff": "S%d" % (i % 3), "outcome": "rated", "level": lv,
               "reason": "r"} for i, lv in enumerate(levels)]
    bodies += [{"counter": "w1", "outcome": "timeout", "level": None}, {"counter": "w2", "outcome": "superseded",
                                                                       "level": None}]
    bodies.append({"counter": "w1", "level": 4})                       # a version 1 body
    rated = levels + [4]
    k = satisfaction(bodies)
    assert k["asked"] == len(bodies) and k["rated"] == len(rated) and k["not_rated"] == 2
    assert k["levels"] == {lv: rated.count(lv) for lv in range(1, 6)}
    assert k["rate_pct"] == pytest.approx(100.0 * sum(1 for lv in rated if lv >= 3) / len(rated))
    assert k["score"] == pytest.approx(20.0 * sum(rated) / len(rated))
    assert k["response_pct"] == pytest.approx(100.0 * len(rated) / len(bodies))
    assert k["meets_target"] == (k["rate_pct"] >= 80)
    per_counter = group_by(bodies, "counter")
    assert set(per_counter) == {"w1", "w2"}
    assert sum(g["asked"] for g in per_counter.values()) == len(bodies)
    assert satisfaction([])["rate_pct"] is None and satisfaction([])["meets_target"] is None
    low = satisfaction([{"outcome": "rated", "level": 2, "reason": "x"}] * 3 + [{"outcome": "rated", "level": 5}])
    assert low["rate_pct"] == 25.0 and low["meets_target"] is False


@pytest.mark.parametrize("table, key", [
    ({"timeout_s": 2}, "rating.timeout_s"), ({"timeout_s": "60"}, "rating.timeout_s"),
    ({"reasons": []}, "rating.reasons"), ({"reasons": ["ok", ""]}, "rating.reasons[1]"), ({"reasons": ["x"] * 10}, "rating.reasons"),
    ({"colour": 1}, "rating.colour")])
def test_bad_rating_config_names_file_and_key(tmp_path, table, key):
    path = tmp_path / "kiosk.toml"
    path.write_text("[rating]\n" + "\n".join("%s = %s" % (k, _toml(v)) for k, v in table.items()) + "\n")
    with pytest.raises(RatingConfigError) as err:
        load_rating_config(path)
    assert err.value.key == key and str(err.value).startswith("%s: %s" % (path, key))


def _toml(value):
    if isinstance(value, list):
        return "[%s]" % ", ".join(_toml(v) for v in value)
    if isinstance(value, str):
        return '"%s"' % value
    return str(value)
