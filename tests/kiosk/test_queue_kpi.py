"""Queue KPIs from the engine's records and their times (promise 7, K-13, queue-systems rule 6)."""

import pytest

from kiosk.queue import QueueEngine, limits_of, service_acts, summary, visits
from queue_setup import MIN, at, config


def test_wait_service_limits_abandonment_and_utilisation():
    cfg = config()
    engine = QueueEngine(cfg)
    records = []

    def do(action, *args, **kwargs):
        records.extend(getattr(engine, action)(*args, **kwargs).records)

    do("begin_day", at(8, 0))
    do("open_counter", at(9, 0), "w2")
    do("issue", at(9, 0), "payment")                  # B001: waits 5 min (to its recall), served 4 min
    do("issue", at(9, 1), "payment")                  # B002: no-show twice
    do("issue", at(9, 2), "payment")                  # B003: cancelled
    do("call_next", at(9, 3), "w2")
    do("recall", at(9, 5), "w2")
    do("start", at(9, 6), "w2")
    do("finish", at(9, 10), "w2")                      # 4 min > 3 min limit
    do("cancel", at(9, 11), "B003")
    for m in (12, 20):
        do("call_next", at(9, m), "w2")
        do("no_show", at(9, m + 1), "w2")
    do("close_counter", at(10, 0), "w2")
    open_s = engine.open_seconds(at(10, 0))
    vs = visits(records)
    assert vs[("2024-06-03", "B001")].wait_s == 5 * MIN / 1000
    assert [v.outcome for v in vs.values()] == ["done", "no-show", "left"]
    acts = service_acts(records)
    assert [(a.number, a.service_s, a.ended_by) for a in acts] == [("B001", 4 * MIN / 1000, "finish")]
    kpi = summary(records, limits_of(cfg), open_s)
    assert kpi["by_business"]["payment"]["within_limit"] == 0.0
    assert kpi["by_business"]["payment"]["over_alarm"] == 0
    assert kpi["abandonment"] == pytest.approx(2 / 3)
    busy_s = (10 - 3 + 1 + 1) * 60                   # B001 call..finish, then two one-minute no-show holds
    assert kpi["counters"]["w2"]["busy_s"] == busy_s
    assert kpi["counters"]["w2"]["utilisation"] == pytest.approx(busy_s / 3600)


def test_transfer_splits_service_acts_by_business():
    engine = QueueEngine(config())
    records = []

    def do(action, *args, **kwargs):
        records.extend(getattr(engine, action)(*args, **kwargs).records)

    do("begin_day", at(8, 0))
    do("open_counter", at(9, 0), "w1")
    do("open_counter", at(9, 0), "w2")
    do("issue", at(9, 0), "other.consult")
    do("call_next", at(9, 1), "w1")
    do("start", at(9, 2), "w1")
    do("transfer", at(9, 4), "w1", to_business="payment")
    do("call_next", at(9, 5), "w2")
    do("start", at(9, 6), "w2")
    do("finish", at(9, 8), "w2")
    acts = service_acts(records)
    assert [(a.counter, a.business, a.service_s) for a in acts] == [("w1", "other.consult", 120.0),
                                                                     ("w2", "payment", 120.0)]
    visit = visits(records)[("2024-06-03", "A001")]
    assert (visit.wait_s, visit.transfers, visit.outcome) == (60.0, 1, "done")
