"""The line schedule's policy, on a fake clock: priorities, fairness, retries, quarantine, deadlines.

Pure: no ports, no sleeps. ``run`` plays a driver whose answers come from a
table of meter behaviours, advancing the fake clock by each attempt's cost.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from concentrator._schedule import LineSchedule
from concentrator._schedule_events import (ABNORMAL, CYCLE, DEMAND, GARBLED, LINE, OK, TIMEOUT, Idle, ItemFailed,
                                           ItemRead, MeterQuarantined, MeterRecovered, Outcome, Request,
                                           ScheduleError, ScheduleSettings)

A, B, C = "202311150001", "202311150002", "202311150003"


def answer(kind):
    return Outcome.ok(42.0) if kind == OK else Outcome.failed(kind, "%s from the meter" % kind)


def run(sched, behave, now=0.0, cost_s=0.1, until=None, max_steps=10000, on_request=None):
    """Drive ``sched`` until Idle(None) (or ``until``): returns (events, requests as (t, Request), now).

    ``behave(meter, item, t)`` gives the outcome kind of each attempt.
    """
    events, requests = [], []
    for _ in range(max_steps):
        d = sched.next_event(now)
        if isinstance(d, Request):
            requests.append((now, d))
            if on_request:
                on_request(sched, d, now)
            now += cost_s
            sched.outcome(d, answer(behave(d.meter, d.item, now)), now)
        elif isinstance(d, Idle):
            if d.until is None or (until is not None and d.until > until):
                return events, requests, now
            now = max(now, d.until)
        else:
            events.append(d)
    raise AssertionError("schedule did not settle in %d steps" % max_steps)


def healthy(meter, item, t):
    return OK


def dead(*meters):
    return lambda meter, item, t: TIMEOUT if meter in meters else OK


def test_all_items_of_healthy_meters_are_read_round_robin():
    s = LineSchedule()
    for m in (A, B, C):
        s.submit(m, ["e", "v", "p"], "c1", 0.0)
    events, requests, _ = run(s, healthy)
    assert [(r.meter, r.item) for _t, r in requests[:4]] == [(A, "e"), (B, "e"), (C, "e"), (A, "v")]
    assert sorted((e.job.meter, e.job.item) for e in events) == sorted((m, i) for m in (A, B, C) for i in "evp")
    assert all(isinstance(e, ItemRead) and e.value == 42.0 for e in events)
    assert s.pending == 0 and isinstance(s.next_event(9.0), Idle) and s.next_event(9.0).until is None


def test_a_meter_with_many_items_does_not_delay_one_with_few():
    s = LineSchedule()
    s.submit(A, ["i%02d" % i for i in range(40)], "c1", 0.0)
    s.submit(B, ["x", "y"], "c1", 0.0)
    _events, requests, _ = run(s, healthy)
    order = [r.meter for _t, r in requests]
    assert order.index(B) == 1 and order[3] == B        # B's two items in the first four requests


def test_on_demand_read_goes_before_every_queued_cycle_item():
    s = LineSchedule()
    for m in (A, B, C):
        s.submit(m, ["e", "v"], "c1", 0.0)
    first = s.next_event(0.0)
    s.submit(C, ["voltage"], "ask-1", 0.05, kind=DEMAND)       # while A's read is in flight
    s.outcome(first, answer(OK), 0.1)
    s.next_event(0.1)                                           # ItemRead of A
    nxt = s.next_event(0.1)
    assert isinstance(nxt, Request) and nxt.job.kind == DEMAND and nxt.item == "voltage"


def test_a_retry_goes_before_fresh_cycle_items_and_is_limited():
    s = LineSchedule(ScheduleSettings(max_attempts=2, quarantine_after=10))
    s.submit(A, ["e"], "c1", 0.0)
    s.submit(B, ["e"], "c1", 0.0)
    events, requests, _ = run(s, dead(A))
    assert [r.meter for _t, r in requests] == [A, A, B]
    failed = [e for e in events if isinstance(e, ItemFailed)]
    assert len(failed) == 1 and failed[0].reason == TIMEOUT and failed[0].job.attempts == 2
    assert "2 attempt(s)" in failed[0].message


def test_abnormal_reply_is_an_answer_not_retried_and_keeps_the_meter_healthy():
    s = LineSchedule(ScheduleSettings(quarantine_after=2))
    s.submit(A, ["e", "v", "p"], "c1", 0.0)
    events, requests, _ = run(s, lambda m, i, t: ABNORMAL)
    assert len(requests) == 3                                   # one attempt each (DL/T 645 §10)
    assert [e.reason for e in events] == [ABNORMAL] * 3
    assert not s.meter_state(A).quarantined


def test_garbled_replies_count_towards_quarantine_like_silence():
    s = LineSchedule(ScheduleSettings(quarantine_after=3, max_attempts=5))
    s.submit(A, ["e"], "c1", 0.0, deadline=10.0)
    events, requests, _ = run(s, lambda m, i, t: GARBLED)
    assert len(requests) == 3
    assert isinstance(events[0], MeterQuarantined) and events[0].reason == GARBLED
    assert events[1].reason == "quarantined"


def test_dead_meter_is_quarantined_after_n_failures_and_the_others_are_served():
    s = LineSchedule(ScheduleSettings(max_attempts=3, quarantine_after=3, backoff_s=60))
    for m in (A, B, C):
        s.submit(m, ["e", "v"], "c1", 0.0, deadline=30.0)
    events, requests, now = run(s, dead(A))
    asked_a = [t for t, r in requests if r.meter == A]
    assert len(asked_a) == 3                                    # one item's attempts, then quarantine
    q = [e for e in events if isinstance(e, MeterQuarantined)]
    assert len(q) == 1 and q[0].meter == A and q[0].until == pytest.approx(0.3 + 60)
    reasons = sorted(e.reason for e in events if isinstance(e, ItemFailed))
    assert reasons == ["quarantined", TIMEOUT]                  # the second item cannot be tried before 30 s
    assert sum(isinstance(e, ItemRead) for e in events) == 4
    assert now == pytest.approx(0.7)                            # 3 timeouts + 4 reads: no more


def test_quarantined_meter_is_probed_once_per_growing_backoff_capped():
    st_ = ScheduleSettings(max_attempts=100, quarantine_after=2, backoff_s=60, backoff_factor=2, backoff_max_s=300)
    s = LineSchedule(st_)
    s.submit(A, ["e"], "c1", 0.0, deadline=3600.0)
    events, requests, _ = run(s, dead(A), cost_s=1.0)
    times = [t for t, _r in requests]
    gaps = [round(b - a) for a, b in zip(times, times[1:])]
    assert gaps[:6] == [1, 61, 121, 241, 301, 301]              # 60, 120, 240, then capped at 300 (+1 s each try)
    assert all(r.probe for _t, r in requests[2:]) and not requests[0][1].probe
    levels = [e.level for e in events if isinstance(e, MeterQuarantined)]
    assert levels[:4] == [1, 2, 3, 4]
    assert isinstance(events[-1], ItemFailed) and events[-1].reason in ("deadline", "quarantined")


def test_meter_that_answers_a_probe_leaves_quarantine_and_its_items_are_read():
    s = LineSchedule(ScheduleSettings(quarantine_after=3, backoff_s=5))
    s.submit(A, ["e", "v", "p"], "c1", 0.0, deadline=100.0)
    back_at = 3.0
    events, requests, _ = run(s, lambda m, i, t: OK if t >= back_at else TIMEOUT)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ItemFailed", "MeterQuarantined", "MeterRecovered", "ItemRead", "ItemRead"]
    rec = events[2]
    assert rec.meter == A and rec.at == pytest.approx(5.3 + 0.1)
    assert not s.meter_state(A).quarantined and s.meter_state(A).failures == 0


def test_on_demand_read_of_a_quarantined_meter_fails_at_once_with_the_reason():
    s = LineSchedule(ScheduleSettings(quarantine_after=1, max_attempts=1, backoff_s=60))
    s.submit(A, ["e"], "c1", 0.0)
    run(s, dead(A))
    s.submit(A, ["e"], "ask", 1.0, kind=DEMAND)                 # deadline 1 + 30 s < probe at 60.1
    ev = s.next_event(1.0)
    assert isinstance(ev, ItemFailed) and ev.reason == "quarantined"
    assert ev.message.startswith("meter %s is quarantined after 1 failed attempt(s) in a row (last: timeout" % A)


def test_cycle_deadline_fails_leftovers_and_an_in_flight_read_still_counts():
    s = LineSchedule()
    s.submit(A, ["e", "v"], "c1", 0.0, deadline=1.0)
    req = s.next_event(0.0)
    s.outcome(req, answer(OK), 1.5)                             # came back after the deadline: a true reading
    events = [s.next_event(1.5), s.next_event(1.5)]
    assert isinstance(events[0], ItemRead) and events[0].job.item == "e"
    assert isinstance(events[1], ItemFailed) and events[1].reason == "deadline" and events[1].job.item == "v"


def test_failed_attempt_after_the_deadline_ends_the_item_as_deadline():
    s = LineSchedule(ScheduleSettings(quarantine_after=10))
    s.submit(A, ["e"], "c1", 0.0, deadline=1.0)
    req = s.next_event(0.0)
    s.outcome(req, answer(TIMEOUT), 1.2)
    ev = s.next_event(1.2)
    assert ev.reason == "deadline" and "last: timeout from the meter" in ev.message


def test_cancel_ends_queued_jobs_and_lets_the_one_in_flight_finish():
    s = LineSchedule()
    s.submit(A, ["e", "v"], "c1", 0.0)
    s.submit(B, ["e"], "c2", 0.0)
    req = s.next_event(0.0)
    assert s.cancel("c1", 0.05) == 1
    s.outcome(req, answer(OK), 0.1)
    events, requests, _ = run(s, healthy, now=0.1)
    assert [(type(e).__name__, e.job.tag) for e in events] == [
        ("ItemFailed", "c1"), ("ItemRead", "c1"), ("ItemRead", "c2")]
    assert events[0].reason == "cancelled"


def test_cancelled_job_whose_attempt_failed_ends_as_cancelled():
    s = LineSchedule()
    s.submit(A, ["e"], "c1", 0.0)
    req = s.next_event(0.0)
    s.cancel("c1", 0.0)
    s.outcome(req, answer(TIMEOUT), 0.1)
    assert s.next_event(0.1).reason == "cancelled"


def test_line_failure_rests_the_line_and_costs_no_attempt():
    s = LineSchedule(ScheduleSettings(line_retry_s=2.0, max_attempts=1))
    s.submit(A, ["e"], "c1", 0.0)
    req = s.next_event(0.0)
    s.outcome(req, Outcome.failed(LINE, "cannot write to line"), 0.01)
    idle = s.next_event(0.5)
    assert isinstance(idle, Idle) and idle.until == pytest.approx(2.01)
    again = s.next_event(2.01)
    assert isinstance(again, Request) and again.job.attempts == 1
    assert s.meter_state(A).failures == 0


def test_retry_delay_makes_the_schedule_idle_until_the_retry_is_due():
    s = LineSchedule(ScheduleSettings(retry_delay_s=0.5, quarantine_after=10))
    s.submit(A, ["e"], "c1", 0.0)
    req = s.next_event(0.0)
    s.outcome(req, answer(TIMEOUT), 0.1)
    assert s.next_event(0.2).until == pytest.approx(0.6)
    assert isinstance(s.next_event(0.6), Request)


def test_one_request_in_flight_asking_again_is_an_error():
    s = LineSchedule(name="line 1")
    s.submit(A, ["e"], "c1", 0.0)
    s.submit(B, ["e"], "c1", 0.0)
    req = s.next_event(0.0)
    with pytest.raises(ScheduleError, match="line 1 has Request.* in flight; report its outcome"):
        s.next_event(0.0)
    with pytest.raises(ScheduleError, match="outcome for"):
        s.outcome(Request(req.job), answer(OK), 0.1)


def test_bad_submissions_and_settings_are_rejected_with_what_and_why():
    s = LineSchedule(name="line 1")
    s.submit(A, ["e"], "c1", 0.0)
    with pytest.raises(ScheduleError, match="item 'e' of meter %s is already queued for 'c1' on line 1" % A):
        s.submit(A, ["v", "e"], "c1", 0.0)
    assert [j.item for j in s.jobs()] == ["e"]                   # nothing of the bad batch was queued
    with pytest.raises(ScheduleError, match="no items"):
        s.submit(A, [], "c2", 0.0)
    with pytest.raises(ScheduleError, match="job kind 'urgent'"):
        s.submit(A, ["e"], "c2", 0.0, kind="urgent")
    with pytest.raises(ScheduleError, match=r"max_attempts must be a whole number in 1..100, got 0") as info:
        ScheduleSettings(max_attempts=0)
    assert info.value.key == "max_attempts"
    with pytest.raises(ScheduleError, match="backoff_max_s"):
        ScheduleSettings(backoff_s=60, backoff_max_s=30)


# ---- properties -------------------------------------------------------------------

METERS = ["2023111500%02d" % i for i in range(1, 6)]
BEHAVIOURS = st.sampled_from(["ok", "dead", "flaky", "abnormal", "comes_back"])


@st.composite
def scenarios(draw):
    behave = {m: draw(BEHAVIOURS) for m in METERS}
    submits = draw(st.lists(st.tuples(
        st.floats(0, 200), st.sampled_from(METERS), st.lists(st.sampled_from("abcd"), min_size=1, max_size=3,
                                                             unique=True),
        st.sampled_from([CYCLE, CYCLE, DEMAND]), st.one_of(st.none(), st.floats(0.1, 400))), max_size=25))
    cfg = ScheduleSettings(max_attempts=draw(st.integers(1, 4)), quarantine_after=draw(st.integers(1, 4)),
                           backoff_s=draw(st.sampled_from([1.0, 10.0, 60.0])), backoff_max_s=120.0,
                           retry_delay_s=draw(st.sampled_from([0.0, 0.2])))
    seed = draw(st.integers(0, 2 ** 16))
    return behave, sorted(submits, key=lambda s: s[0]), cfg, seed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants_hold_for_any_mix_of_meters_and_jobs(scenario):
    import random
    behave, submits, cfg, seed = scenario
    rnd = random.Random(seed)
    s = LineSchedule(cfg)

    def outcome_kind(meter, t):
        kind = behave[meter]
        if kind == "dead" or (kind == "comes_back" and t < 100):
            return TIMEOUT
        if kind == "flaky":
            return rnd.choice([OK, TIMEOUT, GARBLED])
        return ABNORMAL if kind == "abnormal" else OK

    now = 0.0
    submitted, ended = {}, {}
    quarantine_until = {}           # meter -> until, while quarantined (from events)
    asked_while_quarantined = {}
    pending_submits = list(submits)
    for _step in range(20000):
        while pending_submits and pending_submits[0][0] <= now:
            t, meter, items, kind, timeout = pending_submits.pop(0)
            tag = "%s-%d" % (kind, len(submitted))
            for job in s.submit(meter, items, tag, now, kind, None if timeout is None else now + timeout):
                submitted[job.job_id] = job
        try:
            d = s.next_event(now)
        except ScheduleError:
            raise AssertionError("next_event raised with nothing in flight")
        if isinstance(d, Request):
            # One request in flight: asking again gives no second request.
            try:
                again = s.next_event(now)
                assert not isinstance(again, Request)
                assert isinstance(again, (ItemRead, ItemFailed, MeterQuarantined, MeterRecovered))
                raise AssertionError("an event was left queued behind a Request")
            except ScheduleError:
                pass
            # On-demand first: no ready DEMAND job of an askable meter is passed over.
            if d.job.kind != DEMAND:
                for job in s.jobs():
                    if job.kind == DEMAND and job is not d.job:
                        ms = s.meter_state(job.meter)
                        ready = job.not_before is None or job.not_before <= now
                        askable = not ms.quarantined or ms.probe_at <= now
                        assert not (ready and askable), "cycle %r went before demand %r" % (d.job, job)
            # Back-off: a quarantined meter is asked only when its period is over.
            if d.meter in quarantine_until:
                assert now >= quarantine_until[d.meter] - 1e-9
                assert d.probe
                asked_while_quarantined.setdefault(d.meter, []).append(now)
            cost = rnd.choice([0.05, 0.3, 1.0])
            now += cost
            s.outcome(d, answer(outcome_kind(d.meter, now)), now)
        elif isinstance(d, Idle):
            if d.until is None and not pending_submits:
                break
            nxt = [x for x in (d.until, pending_submits[0][0] if pending_submits else None) if x is not None]
            now = max(now, min(nxt))
        elif isinstance(d, MeterQuarantined):
            quarantine_until[d.meter] = d.until
        elif isinstance(d, MeterRecovered):
            quarantine_until.pop(d.meter)
        else:
            assert d.job.job_id not in ended, "job ended twice: %r" % d.job
            ended[d.job.job_id] = d
    else:
        raise AssertionError("did not settle")
    # Every job ends exactly once, read or failed.
    assert set(ended) == set(submitted)
    assert s.pending == 0
    for ev in ended.values():
        if isinstance(ev, ItemFailed):
            assert ev.reason in ("timeout", "garbled", "abnormal", "deadline", "cancelled", "quarantined")
            assert ev.job.attempts <= cfg.max_attempts
