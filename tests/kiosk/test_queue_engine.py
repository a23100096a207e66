"""The queue engine's rules, one by one, in virtual time (pure, milliseconds).

Every record an action returns is checked against its kind's body schema.
"""

import pytest

from kiosk.queue import ActionRefused, KeyConflict, QueueEngine
from protocols.records import KINDS
from queue_setup import MIN, at, config


def run(engine, action, *args, **kwargs):
    outcome = getattr(engine, action)(*args, **kwargs)
    for out in outcome.records:
        KINDS[out.kind].schema(1).check(out.body, "body")
    return outcome


def opened(cfg=None, counters=("w1", "w2", "w3"), now=None):
    engine = QueueEngine(cfg or config())
    now = now or at(8, 0)
    run(engine, "begin_day", now)
    for cid in counters:
        run(engine, "open_counter", now, cid)
    return engine


def issue(engine, now, business="change.rename", priority="normal", **kw):
    channel = "desk" if priority != "normal" else "kiosk"
    return run(engine, "issue", now, business, priority, channel, **kw).ticket


def test_numbering_per_category_with_prefix_and_restarts_each_day():
    engine = opened()
    numbers = [issue(engine, at(9, 0), b).number for b in ("change.rename", "payment", "other.consult", "payment")]
    assert numbers == ["A001", "B001", "A002", "B002"]
    out = run(engine, "begin_day", at(8, 0, day=4))
    assert {r.body["number"] for r in out.records} == set(numbers)              # left over: expired
    assert all(r.body["event"] == "expired" and r.body["day"] == "2024-06-03" for r in out.records)
    assert issue(engine, at(9, 0, day=4), "payment").number == "B001"
    assert engine.ticket("B001").day == "2024-06-04"


def test_business_day_is_local_not_utc():
    engine = QueueEngine(config(opens="00:00", closes="23:59"))
    run(engine, "begin_day", at(0, 30))          # 16:30 UTC of the day before
    assert engine.day == "2024-06-03"
    with pytest.raises(ActionRefused) as err:
        issue(engine, at(0, 10, day=4))
    assert err.value.reason == "new-day"


def test_idempotency_key_issues_once_and_refuses_another_request():
    engine = opened()
    first = run(engine, "issue", at(9, 0), "payment", key="tap-1")
    again = run(engine, "issue", at(9, 0, 2), "payment", key="tap-1")
    assert again.ticket.number == first.ticket.number and again.records == ()
    assert first.records[0].body["key"] == "tap-1"
    with pytest.raises(KeyConflict):
        run(engine, "issue", at(9, 1), "change.rename", key="tap-1")
    assert [t.number for t in engine.tickets()] == ["B001"]


@pytest.mark.parametrize("policy", ["strict", "ageing"])
def test_priority_classes_called_in_configured_order(policy):
    engine = opened(config(priority={"policy": policy}))
    plain = issue(engine, at(9, 0))
    vip = issue(engine, at(9, 1), priority="vip")
    green = issue(engine, at(9, 2), priority="green")
    called = [run(engine, "call_next", at(9, 3), "w1").ticket.number]
    for _ in range(2):
        run(engine, "start", at(9, 4), "w1")
        run(engine, "finish", at(9, 5), "w1")
        called.append(run(engine, "call_next", at(9, 6), "w1").ticket.number)
    assert called == [green.number, vip.number, plain.number]


def test_ageing_bound_puts_an_old_ordinary_ticket_before_newer_priority():
    engine = opened()
    old = issue(engine, at(9, 0))
    issue(engine, at(9, 15), priority="green")
    before_bound = at(9, 19, 59)
    assert engine.waiting("w1", before_bound)[0].priority == "green"
    assert engine.waiting("w1", at(9, 20))[0].number == old.number          # exactly at the bound
    assert run(engine, "call_next", at(9, 20), "w1").ticket.number == old.number


def test_strict_policy_lets_priority_overtake_for_ever():
    engine = opened(config(priority={"policy": "strict"}))
    issue(engine, at(9, 0))
    issue(engine, at(9, 30), priority="green")
    assert run(engine, "call_next", at(11, 0), "w1").ticket.priority == "green"


def test_priority_classes_only_at_the_desk_Q10():
    engine = opened()
    with pytest.raises(ActionRefused) as err:
        run(engine, "issue", at(9, 0), "payment", "green", "kiosk")
    assert err.value.reason == "desk-only" and engine.tickets() == []


def test_counter_calls_only_its_categories_and_classes_Q03_Q13():
    cfg = config(counter={"w1": {"categories": ["A"]}, "w2": {"categories": ["B"]},
                          "vip": {"categories": ["A", "B"], "classes": ["green", "vip"]}})
    engine = opened(cfg, counters=("w1", "w2", "vip"))
    issue(engine, at(9, 0), "payment")
    assert run(engine, "call_next", at(9, 1), "w1").ticket is None
    assert run(engine, "call_next", at(9, 1), "vip").ticket is None
    assert run(engine, "call_next", at(9, 1), "w2").ticket.number == "B001"


def test_transfer_keeps_arrival_and_place_Q04():
    engine = opened(counters=("w1", "w2"))
    first = issue(engine, at(9, 0), "other.consult")
    run(engine, "call_next", at(9, 1), "w1")
    run(engine, "start", at(9, 2), "w1")
    for m in range(3, 8):
        issue(engine, at(9, m), "payment")
    out = run(engine, "transfer", at(9, 10), "w1", to_business="payment")
    assert out.records[0].body["to_business"] == "payment"
    moved = engine.ticket(first.number)
    assert (moved.status, moved.arrival_ms, moved.category) == ("waiting", first.arrival_ms, "B")
    assert run(engine, "call_next", at(9, 11), "w2").ticket.number == first.number   # ahead of B001..B005


def test_transfer_to_a_counter_only_that_counter_calls_it():
    engine = opened()
    t = issue(engine, at(9, 0))
    run(engine, "call_next", at(9, 1), "w1")
    run(engine, "transfer", at(9, 2), "w1", to_counter="w3")
    assert run(engine, "call_next", at(9, 3), "w1").ticket is None
    assert run(engine, "call_next", at(9, 3), "w3").ticket.number == t.number
    with pytest.raises(ActionRefused):
        run(engine, "transfer", at(9, 4), "w3")                                   # no target


def test_recall_limit_then_no_show_requeues_back_once():
    engine = opened(counters=("w1",))
    t = issue(engine, at(9, 0))
    other = issue(engine, at(9, 5))
    run(engine, "call_next", at(9, 10), "w1")
    run(engine, "recall", at(9, 11), "w1")
    run(engine, "recall", at(9, 12), "w1")
    with pytest.raises(ActionRefused) as err:
        run(engine, "recall", at(9, 13), "w1")
    assert err.value.reason == "recall-limit"
    out = run(engine, "no_show", at(9, 13), "w1")
    assert [r.body["action"] for r in out.records] == ["no-show", "recycle"]
    assert engine.ticket(t.number).arrival_ms == at(9, 13)           # "back": behind those waiting
    assert run(engine, "call_next", at(9, 14), "w1").ticket.number == other.number
    run(engine, "start", at(9, 15), "w1")
    run(engine, "finish", at(9, 16), "w1")
    assert run(engine, "call_next", at(9, 17), "w1").ticket.number == t.number
    out = run(engine, "no_show", at(9, 18), "w1")                     # second time: ends
    assert [r.body["action"] for r in out.records] == ["no-show"]
    assert engine.ticket(t.number).status == "no-show"


def test_no_show_requeue_keep_and_none():
    keep = opened(config(no_show={"requeue": "keep"}), counters=("w1",))
    t = issue(keep, at(9, 0))
    issue(keep, at(9, 5))
    run(keep, "call_next", at(9, 10), "w1")
    run(keep, "no_show", at(9, 11), "w1")
    assert run(keep, "call_next", at(9, 12), "w1").ticket.number == t.number     # its first place
    none = opened(config(no_show={"requeue": "none"}), counters=("w1",))
    issue(none, at(9, 0))
    run(none, "call_next", at(9, 1), "w1")
    assert len(run(none, "no_show", at(9, 2), "w1").records) == 1
    assert none.waiting() == []


def test_closing_time_stops_issuing_but_keeps_serving_Q08():
    engine = opened(counters=("w1",))
    waiting = issue(engine, at(17, 29))
    with pytest.raises(ActionRefused) as err:
        issue(engine, at(17, 30))
    assert err.value.reason == "closed"
    with pytest.raises(ActionRefused) as err:
        issue(engine, at(8, 29))
    assert err.value.reason == "not-open"
    assert run(engine, "call_next", at(17, 45), "w1").ticket.number == waiting.number
    assert engine.ticket(waiting.number).status == "called"


def test_end_day_expires_only_waiting_tickets():
    engine = opened(counters=("w1",))
    served = issue(engine, at(9, 0))
    left = issue(engine, at(9, 1))
    run(engine, "call_next", at(9, 2), "w1")
    out = run(engine, "end_day", at(18, 0))
    assert [r.body["number"] for r in out.records] == [left.number]
    assert engine.ticket(served.number).status == "called"
    with pytest.raises(ActionRefused):
        issue(engine, at(10, 0))


def test_counter_must_be_open_and_free():
    engine = opened(counters=())
    issue(engine, at(9, 0))
    with pytest.raises(ActionRefused) as err:
        run(engine, "call_next", at(9, 1), "w1")
    assert err.value.reason == "not-open"
    run(engine, "open_counter", at(9, 1), "w1")
    run(engine, "call_next", at(9, 2), "w1")
    for action in ("call_next", "pause_counter", "close_counter"):
        with pytest.raises(ActionRefused) as err:
            run(engine, action, at(9, 3), "w1")
        assert err.value.reason == "busy"
    with pytest.raises(ActionRefused):
        run(engine, "finish", at(9, 3), "w1")                 # not started


def test_refused_action_changes_nothing():
    engine = opened()
    issue(engine, at(9, 0))
    before = engine.snapshot()
    for action, args in (("issue", (at(9, 1), "no.such")), ("issue", (at(9, 1), "payment", "appointment")),
                         ("recall", (at(9, 1), "w1")), ("transfer", (at(9, 1), "w1", "payment")),
                         ("cancel", (at(9, 1), "Z001")), ("call_next", (at(9, 1), "w9")),
                         ("issue", (at(9, 1), "payment", "normal", "kiosk", "bad key!"))):
        with pytest.raises(ActionRefused):
            run(engine, action, *args)
    assert engine.snapshot() == before


def test_cancel_and_reprint():
    engine = opened()
    t = issue(engine, at(9, 0))
    assert run(engine, "reprint", at(9, 1), t.number).records[0].body["event"] == "reprinted"
    assert run(engine, "cancel", at(9, 2), t.number).records[0].body["event"] == "cancelled"
    assert engine.ticket(t.number).status == "left"


def test_estimate_counts_ahead_in_call_order_and_shares_counters():
    engine = opened(counters=("w1", "w3"))
    for m in range(4):
        issue(engine, at(9, m))
    issue(engine, at(9, 4), priority="green")
    normal = engine.estimate(at(9, 5), "change.rename")
    green = engine.estimate(at(9, 5), "change.rename", "green")
    assert (normal.ahead, green.ahead) == (5, 1)
    assert normal.counters == pytest.approx(1.5)        # w1 serves A only, w3 serves A and B
    prior = engine.mean_service_s("A", at(9, 5))
    assert normal.wait_s == round((5 - 2 + 1) * prior / 1.5)
    assert engine.estimate(at(9, 5), "payment").counters == pytest.approx(0.5)
    # history replaces the prior once a category has three services
    for m in (10, 20, 30):
        run(engine, "call_next", at(9, m), "w1")
        run(engine, "start", at(9, m + 1), "w1")
        run(engine, "finish", at(9, m + 5), "w1")
    assert engine.mean_service_s("A", at(9, 40)) == pytest.approx(5 * MIN / 1000)
    closed = opened(counters=())
    assert closed.estimate(at(9, 0), "payment").wait_s is None
