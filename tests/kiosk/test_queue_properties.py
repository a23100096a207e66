"""Hypothesis over random action sequences: no ticket lost or served twice, every ticket ends.

After any sequence of actions (refused ones included), and the next day's
``begin_day``: every issued ticket is done, no-show, left or expired; none
was finished twice; a counter held at most one ticket and a ticket was at
one counter at most; numbers ran 1, 2, 3 per prefix; a refused action left
the state as it was; replaying the accepted actions gives the same state
and records (what the journal relies on).
"""

import collections

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.queue import FINAL, ActionRefused, QueueEngine, visits
from queue_setup import at, config

COUNTERS = ("w1", "w2", "w3")
BUSINESSES = ("change.rename", "other.consult", "payment")

step = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(BUSINESSES), st.sampled_from(("normal", "green", "vip")),
              st.sampled_from(("k1", "k2", "k3", None, None, None))),
    st.tuples(st.sampled_from(("call_next", "recall", "start", "finish", "no_show", "leave", "open_counter",
                               "pause_counter", "close_counter")), st.sampled_from(COUNTERS)),
    st.tuples(st.just("transfer"), st.sampled_from(COUNTERS), st.sampled_from(BUSINESSES + (None,)),
              st.sampled_from(COUNTERS + (None,))),
    st.tuples(st.just("cancel"), st.integers(1, 6)),
)


def apply(engine, now, s):
    name = s[0]
    if name == "issue":
        channel = "kiosk" if s[2] == "normal" else "desk"
        return engine.issue(now, s[1], s[2], channel, s[3])
    if name == "transfer":
        return engine.transfer(now, s[1], to_business=s[2], to_counter=s[3])
    if name == "cancel":
        waiting = engine.waiting()
        return engine.cancel(now, waiting[s[1] % len(waiting)].number if waiting else "A999")
    return getattr(engine, name)(now, s[1])


def check_holding(engine):
    held = [engine.counter(c).ticket for c in COUNTERS if engine.counter(c).ticket is not None]
    assert len(held) == len(set(held))
    for t in engine.tickets():
        if t.status in ("called", "serving"):
            assert engine.counter(t.counter).ticket == t.number
        else:
            assert t.counter is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=st.sampled_from(("ageing", "strict")), requeue=st.sampled_from(("none", "back", "keep")),
       steps=st.lists(st.tuples(step, st.integers(0, 15 * 60)), max_size=80))
def test_random_sequences_lose_nothing_and_serve_nothing_twice(policy, requeue, steps):
    cfg = config(priority={"policy": policy}, no_show={"requeue": requeue})
    engine = QueueEngine(cfg)
    now = at(8, 25)
    records = list(engine.begin_day(now).records)
    accepted = []
    for s, dt_s in steps:
        now = min(now + dt_s * 1000, at(23, 59))
        before = engine.snapshot()
        try:
            outcome = apply(engine, now, s)
        except ActionRefused:
            assert engine.snapshot() == before
            continue
        accepted.append((now, s))
        records.extend(outcome.records)
        check_holding(engine)
    issued = engine.tickets()
    per_prefix = collections.defaultdict(list)
    for t in issued:
        per_prefix[t.number[0]].append(int(t.number[1:]))       # one-letter prefixes here
    for numbers in per_prefix.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    replay = QueueEngine(cfg)
    replayed = list(replay.begin_day(at(8, 25)).records)
    for t_ms, s in accepted:
        replayed.extend(apply(replay, t_ms, s).records)
    assert replay.snapshot() == engine.snapshot() and replayed == records
    records.extend(engine.begin_day(at(8, 0, day=4)).records)      # the next day ends what was left
    finished = collections.Counter(r.body["number"] for r in records if r.kind == "call"
                                   and r.body["action"] == "finish")
    assert all(n == 1 for n in finished.values())
    ends = visits(records)
    assert len(ends) == len(issued)
    assert {v.outcome for v in ends.values()} <= {"done", "no-show", "left", "expired"}
    for t in issued:
        assert t.status in FINAL or ends[(t.day, t.number)].outcome == "expired"
        assert (ends[(t.day, t.number)].outcome == "done") == (t.number in finished)
