"""Anomaly rules and the raise/clear monitor (M-08, M-09): boundaries, hysteresis, state, record bodies.

Every rule is checked just below and just above its threshold with the pure
rule functions; the monitor is fed whole cycles. Every body the monitor
returns is checked against the anomaly v2 schema, as tests/protocols do.
"""

import datetime
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from concentrator._anomalies import (BODY_VERSION, AnomalyMonitor, MeterFacts, ReadResult, Reading)
from concentrator._anomalies_common import (AnalysisConfigError, AnalysisError, AnalysisInputError,
                                            AnalysisStateError, energy_delta)
from concentrator._anomalies_rules import (ANOMALY_KEYS, CODES, AnomalyConfig, Point, clock_drift,
                                           consumption_jump, consumption_stall, energy_decrease, reverse_energy,
                                           voltage_rules)
from concentrator._errors import ConcentratorError
from protocols.records import GENESIS_PREV, KINDS, encode_record, verify_record

REPO = Path(__file__).resolve().parents[2]
DAY = 86400000
T0 = 1717171200000            # 2024-05-31T16:00Z = 2024-06-01 00:00 Asia/Shanghai
A = "202311150042"
B = "202311150043"
SUPPLY = "202311150001"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = KINDS["anomaly"].schema(BODY_VERSION)


def valid(bodies):
    for body in bodies:
        SCHEMA.check(body, "body")
    return bodies


def cfg(**overrides):
    return AnomalyConfig(overrides)


def pts(*values, step=DAY):
    """Forward-total Points, one a day, cycles d0, d1, ..."""
    return [Point(v, T0 + i * step, "d%d" % i) for i, v in enumerate(values)]


def archive(*facts):
    return {f.address: f for f in facts} or {A: MeterFacts(A), B: MeterFacts(B, phases=3),
                                              SUPPLY: MeterFacts(SUPPLY, role="supply", ct=100)}


def cycle_of(monitor, i, values=None, results=(), clock_err_ms=0):
    """Close cycle d{i}: ``values`` {(meter, name): value} read at T0 + i days."""
    t = T0 + i * DAY
    readings = [Reading(m, name, v, t + 500, "d%d" % i) for (m, name), v in (values or {}).items()]
    reads = [ReadResult(m, r, t + 600, error) for m, r, error in results]
    return valid(monitor.close_cycle("d%d" % i, readings, reads, t + 1000, clock_err_ms))


def codes(bodies):
    return [(b["meter"], b["code"], b["state"]) for b in bodies]


# ---- energy-decrease ------------------------------------------------------------

def test_energy_decrease_boundary():
    c = cfg(decrease_tolerance_kwh=0.5)
    assert not energy_decrease(*pts(100.0, 99.5), c).present          # exactly the tolerance: jitter
    found = energy_decrease(*pts(100.0, 99.25), c)
    assert found.present and found.value == -0.75 and found.threshold == -0.5
    assert "99.25" in found.detail and "d0" in found.detail and "d1" in found.detail
    assert [e["value"] for e in found.evidence] == [100.0, 99.25]
    assert energy_decrease(None, pts(5.0)[0], c) is None


def test_rollover_is_not_a_decrease():
    c = cfg()
    found = energy_decrease(*pts(999990.0, 10.0), c)
    assert not found.present and "rolled over" in found.detail
    assert energy_delta(999990.0, 10.0, 1e6, 1e4) == (20.0, "rollover")
    # a wrap larger than rollover_max_kwh is a meter going backwards
    assert energy_decrease(*pts(500000.0, 10.0), c).present


# ---- consumption-jump -------------------------------------------------------------

def test_consumption_jump_boundary():
    c = cfg(jump_factor=5, jump_floor_kwh=5)
    base = [1000.0 + 10 * i for i in range(5)]                 # 10 kWh a day
    at = consumption_jump(pts(*base, base[-1] + 50.0), c)      # exactly 5 x median
    assert not at.present and at.threshold == 50.0
    above = consumption_jump(pts(*base, base[-1] + 50.5), c)
    assert above.present and above.value == pytest.approx(50.5) and "median" in above.detail


def test_consumption_jump_floor():
    c = cfg(jump_factor=5, jump_floor_kwh=5)
    base = [100.0 + 0.1 * i for i in range(5)]                 # 0.1 kWh a day: 5 x median is 0.5
    assert not consumption_jump(pts(*base, base[-1] + 5.0), c).present
    assert consumption_jump(pts(*base, base[-1] + 5.25), c).present


def test_a_missed_cycle_is_not_a_jump():
    c = cfg()
    points = pts(1000.0, 1010.0, 1020.0, 1030.0, 1040.0)
    points.append(Point(1060.0, points[-1].read_t + 2 * DAY, "d6"))    # two days, twice the energy
    assert not consumption_jump(points, c).present


def test_consumption_jump_needs_history():
    c = cfg(history_min_intervals=3)
    assert consumption_jump(pts(1000.0, 1010.0, 1020.0, 2000.0), c) is None
    assert consumption_jump(pts(1000.0, 1010.0, 1020.0, 1030.0, 2000.0), c).present


# ---- consumption-stall --------------------------------------------------------------

def test_consumption_stall_boundary():
    c = cfg(stall_intervals=3, stall_zero_kwh=0.01, history_min_intervals=3)
    used = [1000.0, 1010.0, 1020.0, 1030.0]
    found = consumption_stall(pts(*used, 1030.0, 1030.0, 1030.0), c)
    assert found.present and found.value == 0 and "3 of the 3 intervals" in found.detail
    assert not consumption_stall(pts(*used, 1030.0, 1030.0, 1030.5), c).present
    assert consumption_stall(pts(*used[1:], 1030.0, 1030.0, 1030.0), c) is None     # 2 intervals of history


def test_no_stall_without_regular_use():
    c = cfg(stall_active_fraction=0.8)
    history = [1000.0, 1000.0, 1000.0, 1010.0, 1020.0]        # 2 of 4 intervals used energy
    found = consumption_stall(pts(*history, 1020.0, 1020.0, 1020.0), c)
    assert not found.present and "no regular use" in found.detail


# ---- reverse-energy ---------------------------------------------------------------------

def test_reverse_energy_boundary():
    c = cfg(reverse_tolerance_kwh=0.5)
    assert not reverse_energy(*pts(10.0, 10.5), c).present
    found = reverse_energy(*pts(10.0, 10.75), c)
    assert found.present and found.value == 0.75 and found.evidence[0]["name"] == "reverse_active_total"


def test_reverse_energy_only_on_customer_meters_that_do_not_export():
    solar = "202311150044"
    monitor = AnomalyMonitor(archive(MeterFacts(A), MeterFacts(SUPPLY, role="supply"),
                                     MeterFacts(solar, exports=True)))
    for i, reverse in enumerate((10.0, 12.0)):
        bodies = cycle_of(monitor, i, {(m, "reverse_active_total"): reverse for m in (A, SUPPLY, solar)})
    assert codes(bodies) == [(A, "reverse-energy", "raised")]
    assert bodies[0]["class"] == "metering"


# ---- clock-drift --------------------------------------------------------------------------

def _clock(drift_s, read_t=T0 + 3600000, date_read_t=None):
    """date and time Points for a meter whose clock is ``drift_s`` ahead (Asia/Shanghai local time)."""
    local = datetime.datetime.fromtimestamp((read_t + drift_s * 1000) / 1000 + 8 * 3600, datetime.timezone.utc)
    date = Point(local.date().isoformat(), read_t if date_read_t is None else date_read_t, "d0")
    return date, Point(local.time().isoformat()[:8], read_t, "d0")


def test_clock_drift_boundary():
    c = cfg(clock_limit_s=300)
    assert not clock_drift(*_clock(301), 0, c).present      # limit + 1 s resolution: not beyond
    found = clock_drift(*_clock(302), 0, c)
    assert found.present and found.value == 302 and found.threshold == 300 and found.unit == "s"
    assert "ahead" in found.detail
    behind = clock_drift(*_clock(-302), 0, c)
    assert behind.present and behind.value == -302 and "behind" in behind.detail
    # the concentrator's own clock error widens the margin; an unknown clock judges nothing
    assert not clock_drift(*_clock(302), 2000, c).present
    assert clock_drift(*_clock(302), None, c) is None


def test_clock_drift_across_midnight_between_the_two_reads():
    c = cfg()
    midnight = T0 + DAY          # local midnight
    date = Point("2024-06-01", midnight - 2000, "d0")        # read just before midnight
    time_ = Point("00:00:01", midnight + 1000, "d0")         # read just after
    assert abs(clock_drift(date, time_, 0, c).value) < 1


# ---- voltage-loss, phase-failure ---------------------------------------------------------------

def _phases(volts, amps):
    return ({p: Point(v, T0, "d0") for p, v in zip("abc", volts)},
            {p: (None if a is None else Point(a, T0, "d0")) for p, a in zip("abc", amps)})


def test_voltage_loss_single_phase_boundary():
    c = cfg()          # 0.78 x 220 = 171.6 V
    loss, failure = voltage_rules(*_phases([171.5], [1.0]), 1, 220.0, c)
    assert loss.present and failure is None and loss.threshold == pytest.approx(171.6)
    assert not voltage_rules(*_phases([171.6], [1.0]), 1, 220.0, c)[0].present
    assert not voltage_rules(*_phases([0.0], [0.05]), 1, 220.0, c)[0].present    # no current: not a loss
    assert voltage_rules(*_phases([0.0], [0.06]), 1, 220.0, c)[0].present
    assert voltage_rules(*_phases([0.0], [None]), 1, 220.0, c)[0] is None        # current not read


def test_phase_failure_three_phase():
    c = cfg()
    loss, failure = voltage_rules(*_phases([230.0, 12.0, 229.0], [3.0, 0.0, 2.0]), 3, 220.0, c)
    assert failure.present and not loss.present and "phase B" in failure.detail
    _loss, outage = voltage_rules(*_phases([10.0, 12.0, 9.0], [0.0, 0.0, 0.0]), 3, 220.0, c)
    assert not outage.present and "outage" in outage.detail
    # the other phases must be normal: 0.85 x 220 = 187 V
    assert voltage_rules(*_phases([187.0, 12.0, 100.0], [1.0, 0.0, 0.0]), 3, 220.0, c)[1].present
    assert not voltage_rules(*_phases([186.9, 12.0, 100.0], [1.0, 0.0, 0.0]), 3, 220.0, c)[1].present
    loss, failure = voltage_rules(*_phases([230.0, 100.0, 229.0], [3.0, 4.0, 2.0]), 3, 220.0, c)
    assert loss.present and not failure.present
    assert voltage_rules(*_phases([230.0, None, 229.0], [3.0, 4.0, 2.0]), 3, 220.0, c) == (None, None)


# ---- acquisition: no-reply, error-reply, garbled-reply ---------------------------------------------

def test_no_reply_after_n_consecutive_failures():
    monitor = AnomalyMonitor(archive(), cfg(no_reply_count=3))
    assert cycle_of(monitor, 0, results=[(A, "no-reply", None)] * 2) == []
    assert cycle_of(monitor, 1, results=[(A, "replied", None)]) == []            # a reply resets
    assert cycle_of(monitor, 2, results=[(A, "no-reply", None)] * 2) == []
    bodies = cycle_of(monitor, 3, results=[(A, "no-reply", None)])
    assert codes(bodies) == [(A, "no-reply", "raised")]
    assert bodies[0]["class"] == "acquisition-failure" and bodies[0]["value"] == 3 and bodies[0]["threshold"] == 3


def test_abnormal_and_garbled_replies_in_a_window():
    monitor = AnomalyMonitor(archive(), cfg(bad_reply_window=10, bad_reply_count=3))
    assert cycle_of(monitor, 0, results=[(A, "abnormal", 2), (A, "abnormal", 2)] + [(A, "replied", None)] * 7) == []
    bodies = cycle_of(monitor, 1, results=[(A, "abnormal", 2)])
    assert codes(bodies) == [(A, "error-reply", "raised")] and "error codes 2" in bodies[0]["detail"]
    assert [e["value"] for e in bodies[0]["evidence"]] == ["abnormal 2"] * 3
    bodies = cycle_of(monitor, 2, results=[(A, "garbled", None)] * 3)
    assert codes(bodies) == [(A, "garbled-reply", "raised")]


# ---- search: meter-without-record, record-without-meter ---------------------------------------------

def test_search_against_the_archive():
    monitor = AnomalyMonitor(archive(), cfg(search_miss_count=2))
    stranger = "202399990001"
    bodies = valid(monitor.observe_search([A, stranger], [A, B], T0, area="ta-0042"))
    assert codes(bodies) == [(stranger, "meter-without-record", "raised")] and bodies[0]["area"] == "ta-0042"
    # an incomplete search says nothing about the meters it did not find
    assert valid(monitor.observe_search([A], [A, B], T0 + 1, complete=False)) == []
    bodies = valid(monitor.observe_search([A, stranger], [A, B], T0 + 2))
    assert codes(bodies) == [(B, "record-without-meter", "raised")] and bodies[0]["value"] == 2
    # the stranger is put in the archive of the line and B answers again
    assert valid(monitor.observe_search([A, B, stranger], [A, B, stranger], T0 + 3)) == []     # clear_after 2
    bodies = valid(monitor.observe_search([A, B, stranger], [A, B, stranger], T0 + 4))
    assert codes(bodies) == [(stranger, "meter-without-record", "cleared"), (B, "record-without-meter", "cleared")]
    assert all(b["state"] == "cleared" and b["since_t"] == T0 + 3 for b in bodies)


# ---- hysteresis ---------------------------------------------------------------------------------------

def _forward(monitor, i, value, results=((A, "replied", None),)):
    return cycle_of(monitor, i, {(A, "forward_active_total"): value}, results)


def test_raised_once_and_cleared_after_n_absent_cycles():
    monitor = AnomalyMonitor(archive(), cfg(clear_after=2))
    assert _forward(monitor, 0, 100.0) == []
    first = _forward(monitor, 1, 90.0)
    assert codes(first) == [(A, "energy-decrease", "raised")] and first[0]["since_t"] == T0 + DAY + 1000
    assert _forward(monitor, 2, 80.0) == []                    # still present: not raised again
    assert _forward(monitor, 3, 81.0) == []                    # absent once
    assert _forward(monitor, 4, 70.0) == []                    # present again: the count restarts
    assert _forward(monitor, 5, 71.0) == []
    assert cycle_of(monitor, 6, results=[(A, "no-reply", None)]) == []     # not read: unknown, no change
    cleared = _forward(monitor, 7, 72.0)
    assert codes(cleared) == [(A, "energy-decrease", "cleared")]
    assert cleared[0]["since_t"] == T0 + 5 * DAY + 1000 and cleared[0]["value"] == 1.0
    assert monitor.active() == []


def test_raise_after_waits_for_consecutive_present_cycles():
    monitor = AnomalyMonitor(archive(), cfg(raise_after=2, no_reply_count=1))
    assert cycle_of(monitor, 0, results=[(A, "no-reply", None)]) == []
    bodies = cycle_of(monitor, 1, results=[(A, "no-reply", None)])
    assert codes(bodies) == [(A, "no-reply", "raised")] and bodies[0]["since_t"] == T0 + 1000


def test_retire_clears_what_was_raised():
    monitor = AnomalyMonitor(archive(), cfg(no_reply_count=1))
    cycle_of(monitor, 0, results=[(A, "no-reply", None)])
    assert codes(valid(monitor.retire(A, T0 + DAY))) == [(A, "no-reply", "cleared")]
    assert monitor.active() == [] and A not in monitor.state_dict()["meters"]


# ---- state ------------------------------------------------------------------------------------------

def _scenario():
    """(cycle index, values, results) of a week with a decrease, a jump, failures and a drifting clock."""
    steps = []
    energy = 1000.0
    for i in range(14):
        energy += {5: -3.0, 9: 120.0}.get(i, 10.0)
        t = T0 + i * DAY + 500
        local = datetime.datetime.fromtimestamp(t / 1000 + 8 * 3600 + (600 if i in (3, 4) else 0),
                                                datetime.timezone.utc)
        values = {(A, "forward_active_total"): round(energy, 2), (A, "date"): local.date().isoformat(),
                  (A, "time"): local.time().isoformat()[:8], (B, "voltage_a"): 230.0,
                  (B, "voltage_b"): 20.0 if i in (6, 7, 8) else 231.0, (B, "voltage_c"): 229.0,
                  (B, "current_a"): 1.0, (B, "current_b"): 0.0, (B, "current_c"): 1.0}
        results = [(A, "replied", None)] + [(B, "no-reply" if i in (10, 11, 12) else "replied", None)]
        steps.append((i, values, results))
    return steps


def test_state_round_trips_through_json_at_every_cycle():
    steps = _scenario()
    straight = AnomalyMonitor(archive())
    expected = [cycle_of(straight, *step) for step in steps]
    assert {c for bodies in expected for _m, c, _s in codes(bodies)} >= {
        "energy-decrease", "consumption-jump", "clock-drift", "phase-failure", "no-reply"}
    for split in range(len(steps)):
        monitor = AnomalyMonitor(archive())
        got = [cycle_of(monitor, *step) for step in steps[:split]]
        state = json.loads(json.dumps(monitor.state_dict()))
        monitor = AnomalyMonitor(archive(), state=state)
        got += [cycle_of(monitor, *step) for step in steps[split:]]
        assert got == expected, split
    assert monitor.state_dict() == straight.state_dict()


@pytest.mark.parametrize("state, where", [
    ({"v": 2, "meters": {}, "alarms": {}}, "v 1"),
    ({"v": 1, "meters": {"12": {}}, "alarms": {}}, "meters.12"),
    ({"v": 1, "meters": {}, "alarms": {A: {"no-such-code": {}}}}, "no-such-code"),
    ({"v": 1, "meters": {}, "alarms": {A: {"no-reply": {"raised": 1, "present": 0, "absent": 0, "t": None}}}},
     "alarms.%s.no-reply" % A),
    ({"v": 1, "meters": {A: {"energy": [[1.0, "x", "d0"]], "reverse": None, "failures": 0, "reads": [],
                             "misses": 0}}, "alarms": {}}, "energy[0]"),
])
def test_bad_state_is_refused_with_where(state, where):
    with pytest.raises(AnalysisStateError) as info:
        AnomalyMonitor(archive(), state=state)
    assert where in str(info.value)


# ---- config and inputs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    ({"jump_factr": 5}, "unknown key jump_factr"),
    ({"jump_factor": "5"}, "jump_factor: expected a number in [1, 1000], got '5'"),
    ({"no_reply_count": 2.5}, "no_reply_count: expected an integer in [1, 1000], got 2.5"),
    ({"no_reply_count": True}, "no_reply_count: expected an integer"),
    ({"clock_limit_s": 0}, "clock_limit_s: expected a number in (0, 1e+07], got 0"),
    ({"jump_factor": float("nan")}, "jump_factor"),
    ({"bad_reply_count": 5, "bad_reply_window": 4}, "bad_reply_count must not exceed bad_reply_window"),
    ({"history_min_intervals": 9}, "history_min_intervals must not exceed history_intervals"),
    ({"voltage_normal_fraction": 0.7}, "voltage_normal_fraction must be above voltage_loss_fraction"),
])
def test_config_errors_say_what_and_where(values, message):
    with pytest.raises(AnalysisConfigError) as info:
        AnomalyConfig(values)
    assert message in str(info.value)
    assert isinstance(info.value, AnalysisError) and isinstance(info.value, ConcentratorError)


def test_config_defaults_and_read_only():
    c = AnomalyConfig()
    assert c.to_dict() == {k.name: k.default for k in ANOMALY_KEYS.values()}
    with pytest.raises(AttributeError):
        c.jump_factor = 2


@pytest.mark.parametrize("reading, result, message", [
    (Reading("202399990001", "forward_active_total", 1.0, T0, "d0"), None, "not in the archive"),
    (Reading(A, "forward_active_total", "12.5", T0, "d0"), None, "expected a number or null, got '12.5'"),
    (Reading(A, "date", 20240601, T0, "d0"), None, "expected time text or null"),
    (Reading(A, "forward_active_total", 1.0, -5, "d0"), None, "UTC ms"),
    (None, ReadResult(A, "timeout", T0), "result must be one of replied, no-reply, abnormal, garbled"),
    (None, ReadResult("12345", "replied", T0), "12 digits"),
])
def test_bad_input_changes_nothing(reading, result, message):
    monitor = AnomalyMonitor(archive())
    _forward(monitor, 0, 100.0)
    before = monitor.state_dict()
    good = [Reading(A, "forward_active_total", 50.0, T0 + DAY, "d1")]
    with pytest.raises(AnalysisInputError) as info:
        monitor.close_cycle("d1", good + ([reading] if reading else []), [result] if result else [], T0 + DAY)
    assert message in str(info.value)
    assert monitor.state_dict() == before


def test_facts_from_an_archive_entry():
    class Entry:            # the attributes of concentrator.archive ArchiveMeter that matter here
        address, role, ct_ratio, pt_ratio, phases, area = A, "supply", 200.0, 1.0, 3, "ta-0042"

    facts = MeterFacts.from_archive(Entry())
    assert (facts.address, facts.role, facts.ct, facts.pt, facts.phases, facts.area, facts.nominal_v) == (
        A, "supply", 200.0, 1.0, 3, "ta-0042", 220.0)


def test_bad_facts():
    for kwargs, message in (({"role": "producer"}, "role must be one of customer, supply"),
                            ({"ct": 0}, "ct must be a number > 0"), ({"phases": 2}, "phases must be 1 or 3")):
        with pytest.raises(AnalysisInputError, match=re.escape(message)):
            MeterFacts(A, **kwargs)


# ---- bodies as records ------------------------------------------------------------------------------------

def test_every_code_has_a_class_and_bodies_sign_as_anomaly_v2():
    assert set(CODES.values()) == {"acquisition-failure", "metering", "usage"}
    monitor = AnomalyMonitor(archive())
    bodies = [b for step in _scenario() for b in cycle_of(monitor, *step)]
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    for body in bodies:
        assert body["class"] == CODES[body["code"]]
        data = encode_record(key, src="conc-01", epoch=1, seq=1, prev=GENESIS_PREV, t_ms=T0,
                             tq={"src": "ntp", "err_ms": 20}, kind="anomaly", body=body, v=BODY_VERSION)
        assert verify_record(data, {"conc-01": key.public_key()}.get).body == body


def test_long_details_are_cut_to_the_schema_limit():
    monitor = AnomalyMonitor(archive(), cfg(bad_reply_window=40, bad_reply_count=1))
    bodies = cycle_of(monitor, 0, results=[(A, "abnormal", "error-%02d-%s" % (i, "x" * 20)) for i in range(40)])
    assert len(bodies[0]["detail"]) == 512 and len(bodies[0]["evidence"]) == 16


# ---- properties --------------------------------------------------------------------------------------------

OUTCOME = st.sampled_from(["no-reply", "replied", None])


@FAST
@given(outcomes=st.lists(st.lists(OUTCOME, min_size=1, max_size=3), max_size=30),
       raise_after=st.integers(1, 3), clear_after=st.integers(1, 3), split=st.integers(0, 30))
def test_raised_and_cleared_alternate_and_survive_a_restart(outcomes, raise_after, clear_after, split):
    config = cfg(raise_after=raise_after, clear_after=clear_after, no_reply_count=2)

    def run(monitor, cycles, start):
        out = []
        for i, cycle in enumerate(cycles, start):
            out += cycle_of(monitor, i, results=[(A, r, None) for r in cycle if r is not None])
        return out

    straight = run(AnomalyMonitor(archive(), config), outcomes, 0)
    states = [b["state"] for b in straight]
    assert states == ["raised", "cleared"] * (len(states) // 2) + ["raised"] * (len(states) % 2)
    first = AnomalyMonitor(archive(), config)
    got = run(first, outcomes[:split], 0)
    second = AnomalyMonitor(archive(), config, state=json.loads(json.dumps(first.state_dict())))
    assert got + run(second, outcomes[split:], split) == straight


@FAST
@given(start=st.floats(0, 999999.99), advance=st.floats(0, 9999))
def test_an_advancing_register_never_decreases(start, advance):
    end = (start + advance) % 1e6
    delta, how = energy_delta(start, end, 1e6, 1e4, 0.01)
    assert how != "decrease" and delta == pytest.approx(advance, abs=1e-6)


# ---- documentation ---------------------------------------------------------------------------------------------

def test_docs_list_every_code_and_key_with_its_default():
    doc = (REPO / "docs" / "anomalies.md").read_text()
    for code, cls in CODES.items():
        assert "| `%s` | %s |" % (code, cls) in doc, code
    for key in ANOMALY_KEYS.values():
        assert "| `%s` | %s | %s |" % (key.name, key.default, key.why) in doc, key.name
