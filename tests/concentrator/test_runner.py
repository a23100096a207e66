"""Line runners on simulated RS-485 lines (TCP and pty): Promise 4, on-demand priority, recovery, stop.

Every test runs real BusServers and real ``Line``s; timeouts are short
(0.3 s at 9600 bit/s) so that a dead meter's cost is visible but cheap.
"""

import threading
import time

import pytest

from concentrator._errors import ReplyTimeout
from concentrator._ledger import Ledger, render_ledger
from concentrator._runner import DLT645Driver, LineRunner, stop_all
from concentrator._schedule_events import ItemFailed, ItemRead, MeterQuarantined, ScheduleError, ScheduleSettings
from firmware_sim.bus import BusServer

BAUD = 9600
TIMEOUT_S = 0.3
ITEMS = ["forward_active_total", "voltage_a", "active_power_total"]
LINE1 = ["2023111501%02d" % i for i in range(1, 7)]
LINE2 = ["2023111502%02d" % i for i in range(1, 7)]
DEAD, BABBLER, SLOW = LINE1[0], LINE1[1], LINE2[0]
T0_MS = 1_717_200_000_000
JITTER_S = 2 * (TIMEOUT_S + 0.05)       # two retries caused by babble collisions


def settings(**kw):
    kw.setdefault("backoff_s", 60.0)
    return ScheduleSettings(**kw)


@pytest.fixture
def lines(meter):
    """``lines([(addresses, transport), ...], settings)`` -> (buses, runners, events); stopped after the test."""
    started = []
    events = []
    lock = threading.Lock()

    def on_event(runner, event):
        with lock:
            events.append((runner.name, event))

    def start(specs, schedule_settings=None, on_event_too=None):
        buses, runners = [], []
        for n, (addresses, transport) in enumerate(specs, 1):
            bus = BusServer([meter(a) for a in addresses], baud=BAUD, transport=transport, seed=645).start()
            started.append(bus)

            def deliver(runner, event, extra=on_event_too):
                on_event(runner, event)
                if extra:
                    extra(runner, event)
            runner = LineRunner(DLT645Driver(bus.url, baud=BAUD, timeout_s=TIMEOUT_S), "line%d" % n,
                                on_event=deliver, settings=schedule_settings or settings()).start()
            started.append(runner)
            buses.append(bus)
            runners.append(runner)
        return buses, runners, events

    yield start
    for thing in reversed(started):
        thing.stop()


def run_cycle(plan, tag, timeout_s=60.0, events=None):
    """Submit ``plan`` ({runner: [addresses]}) as one cycle; wait for every job. Returns seconds.

    With ``events``, each runner's ``cycle_s`` is set to when its own last item ended.
    """
    started = time.monotonic()
    for runner, addresses in plan.items():
        for address in addresses:
            runner.submit(address, ITEMS, tag, timeout_s=timeout_s)
    for runner in plan:
        assert runner.wait_idle(timeout_s + 10)
    took = time.monotonic() - started
    for runner in plan:
        ends = [e.at for n, e in events or () if n == runner.name and isinstance(e, (ItemRead, ItemFailed))
                and e.job.tag == tag]
        runner.cycle_s = max(ends) - started if ends else None
    return took


def outcomes(events, tag):
    read = {(e.job.meter, e.job.item) for _n, e in events if isinstance(e, ItemRead) and e.job.tag == tag}
    failed = {(e.job.meter, e.job.item): e for _n, e in events if isinstance(e, ItemFailed) and e.job.tag == tag}
    return read, failed


def test_dead_babbling_and_slow_meters_on_two_lines_do_not_starve_the_others(lines, tmp_path):
    """Promise 4 on a TCP line and a pty line in parallel, with the ledger keeping the score."""
    ledger = Ledger(tmp_path / "agent.db")
    buses, (r1, r2), events = lines([(LINE1, "tcp"), (LINE2, "pty")],
                                    on_event_too=lambda runner, event: ledger.record(event))
    bus1, bus2 = buses
    bus1.set_fault(BABBLER, "babble", period_s=2.0, burst_bytes=12)
    bus2.set_fault(SLOW, "slow", ms=150)                  # slow but inside the 0.3 s timeout
    healthy1 = [a for a in LINE1 if a != DEAD]

    # Baseline: the same lines without the dead meter in the plan.
    ledger.open_cycle("base", "realtime", T0_MS - 60_000, [(m, i) for m in healthy1 + LINE2 for i in ITEMS])
    base_s = run_cycle({r1: healthy1, r2: LINE2}, "base", timeout_s=20, events=events)
    base_line1_s = r1.cycle_s
    print("baseline: line1 %.2f s, line2 %.2f s" % (r1.cycle_s, r2.cycle_s))
    read, failed = outcomes(events, "base")
    assert not failed, failed
    # Now the dead meter is on line 1.
    bus1.set_fault(DEAD, "silent")
    expected = [(m, i) for m in LINE1 + LINE2 for i in ITEMS]
    ledger.open_cycle("rt/1", "realtime", T0_MS, expected, deadline_ms=None)
    ledger.open_cycle("rt/2", "realtime", T0_MS + 60_000, expected, deadline_ms=None)
    dead_s = run_cycle({r1: LINE1, r2: LINE2}, "rt/1", timeout_s=20, events=events)
    print("dead meter: line1 %.2f s, line2 %.2f s" % (r1.cycle_s, r2.cycle_s))
    read, failed = outcomes(events, "rt/1")
    assert read == {(m, i) for m in healthy1 + LINE2 for i in ITEMS}, failed
    assert {k: e.reason for k, e in failed.items()} == {
        (DEAD, ITEMS[0]): "timeout", (DEAD, ITEMS[1]): "quarantined", (DEAD, ITEMS[2]): "quarantined"}
    quarantined = [e for n, e in events if isinstance(e, MeterQuarantined)]
    assert [(e.meter, e.level) for e in quarantined] == [(DEAD, 1)]
    assert bus1.stats["requests_seen"] > 0 and r1.schedule.quarantined() == [DEAD]
    # The dead meter costs line 1 its quarantine_after timeouts, not one per
    # item; line 2 does not notice. Babble collisions add a retry or two
    # (a timeout each) to either cycle: that is the jitter allowed.
    base1 = base_line1_s
    dead1 = r1.cycle_s
    bound_s = 3 * (TIMEOUT_S + 0.05) + JITTER_S
    print("line 1 cycle: %.2f s without the dead meter, %.2f s with it (+%.2f s, bound %.2f s)"
          % (base1, dead1, dead1 - base1, bound_s))
    assert dead1 - base1 < bound_s
    assert dead_s < max(base1 + bound_s, base_s + JITTER_S)
    # Next cycle: the dead meter is in quarantine and is not asked at all.
    asked = r1.schedule.meter_state(DEAD).requests
    run_cycle({r1: LINE1, r2: LINE2}, "rt/2", timeout_s=20, events=events)
    read2, failed2 = outcomes(events, "rt/2")
    assert len(read2) == len(read) and {k[0] for k in failed2} == {DEAD}
    assert {e.reason for e in failed2.values()} == {"quarantined"}
    assert r1.schedule.meter_state(DEAD).requests == asked       # its probe is due in 60 s, after the deadline
    retries = sum(e.job.attempts - 1 for _n, e in events if isinstance(e, ItemRead))
    print("next cycle with the meter in quarantine: line1 %.2f s, line2 %.2f s; %d retries in all "
          "(babble collisions)" % (r1.cycle_s, r2.cycle_s, retries))
    assert r1.cycle_s < base1 + JITTER_S
    # The ledger has the cycle closed, with the dead meter's reasons.
    summary = ledger.cycle("rt/1")
    assert (summary.expected, summary.read, summary.failed, summary.closed) == (36, 33, 3, True)
    text = render_ledger(ledger)
    assert "%s  failed: quarantined 2, timeout 1" % DEAD in text
    ledger.close()


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_on_demand_read_overtakes_a_running_cycle(lines, transport):
    _buses, (runner,), events = lines([(LINE1, transport)])
    for address in LINE1:
        runner.submit(address, ITEMS * 1, "c1", timeout_s=60)
    time.sleep(0.15)                                      # the cycle is under way
    asked = time.monotonic()
    reading = runner.read_now(LINE1[-1], "voltage_a")
    took = time.monotonic() - asked
    cycle_left = runner.schedule.pending
    assert reading.address == LINE1[-1] and reading.unit == "V"
    assert took < 0.5 and cycle_left > 5                  # served at once, not after the cycle
    assert runner.wait_idle(30)
    read, failed = outcomes(events, "c1")
    assert len(read) == len(LINE1) * len(ITEMS) and not failed


def test_on_demand_read_of_a_dead_meter_raises_its_timeout_then_the_quarantine(lines):
    buses, (runner,), _events = lines([(LINE1[:2], "tcp")], settings(quarantine_after=2, max_attempts=2))
    buses[0].set_fault(LINE1[0], "silent")
    with pytest.raises(ReplyTimeout, match="no reply from %s" % LINE1[0]):
        runner.read_now(LINE1[0], "voltage_a", timeout_s=5)
    with pytest.raises(ScheduleError, match="meter %s is quarantined after 2 failed attempt" % LINE1[0]) as info:
        runner.read_now(LINE1[0], "voltage_a", timeout_s=5)
    assert info.value.reason == "quarantined"
    assert runner.read_now(LINE1[1], "voltage_a").unit == "V"


def test_meter_that_comes_back_leaves_quarantine_and_is_read(lines):
    cfg = settings(quarantine_after=2, max_attempts=2, backoff_s=0.5, backoff_max_s=1.0)
    buses, (runner,), events = lines([(LINE1[:3], "tcp")], cfg)
    buses[0].set_fault(LINE1[0], "absent", for_s=1.2)
    run_cycle({runner: LINE1[:3]}, "c1", timeout_s=6)
    read, failed = outcomes(events, "c1")
    assert {(m, i) for m in LINE1[:3] for i in ITEMS} == read | set(failed)
    assert len(read) >= 6 + 1                              # the others, and the absent one once back
    kinds = [type(e).__name__ for _n, e in events if getattr(e, "meter", None) == LINE1[0]]
    assert kinds[0] == "MeterQuarantined" and "MeterRecovered" in kinds
    assert not runner.schedule.meter_state(LINE1[0]).quarantined


def test_port_failure_rests_the_line_and_items_end_by_their_deadline():
    events = []
    driver = DLT645Driver("socket://127.0.0.1:1", baud=BAUD, timeout_s=TIMEOUT_S)
    with LineRunner(driver, "gone", on_event=lambda r, e: events.append(e),
                    settings=settings(line_retry_s=0.1)) as runner:
        runner.submit(LINE1[0], ITEMS, "c1", timeout_s=0.5)
        assert runner.wait_idle(5)
    assert [e.reason for e in events] == ["deadline"] * 3
    assert "0 attempt(s); last: cannot open line socket://127.0.0.1:1" in events[0].message
    assert 2 <= runner.requests <= 10                     # one try per line_retry_s, not a busy loop


def test_stop_is_prompt_with_work_queued_and_releases_waiters(lines):
    buses, (r1, r2), _events = lines([(LINE1, "tcp"), (LINE2, "pty")])
    for runner, addresses in ((r1, LINE1), (r2, LINE2)):
        for address in addresses:
            runner.submit(address, ITEMS, "c1", timeout_s=60)
    buses[0].set_fault(LINE1[0], "silent")
    waiter_error = []

    def ask():
        try:
            r1.read_now(LINE1[0], "voltage_a", timeout_s=20)
        except Exception as exc:
            waiter_error.append(exc)
    t = threading.Thread(target=ask)
    t.start()
    time.sleep(0.2)
    stopping = time.monotonic()
    stop_all([r1, r2])
    took = time.monotonic() - stopping
    t.join(5)
    assert took < TIMEOUT_S * 2 + 0.3                     # at most the read in progress
    assert not r1.running and not r2.running
    assert waiter_error and ("stopped" in str(waiter_error[0]) or isinstance(waiter_error[0], ReplyTimeout))
    with pytest.raises(ScheduleError, match="line1 is stopped"):
        r1.submit(LINE1[1], ITEMS, "c2")
