"""The reading-cycle planner (M-02 reading plan and reading day; docs/cycles.md).

Pure tests on the planner's slot and day arithmetic in Asia/Shanghai, catch-up
of missed days (freeze index k = today - day, DL/T 645-2007 0506xxNN) and
settlements (DI0 01..0C, 1997 x4 / x8), restarts, and config errors; then
the planned indexes read from the simulated meter back to back through the
codec, checked against the meter's own freeze records.
"""

import datetime
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from concentrator._cycles import (CycleConfig, CycleConfigError, check_freeze_time, cycle_id_kind, meter_text,
                                  plan_due, resolve_item)
from firmware_sim.meter import Meter
from protocols.dlt645 import build_read_request, parse_frame

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MIN_MS = 60000
DAY_MS = 86400000


def at(*fields):
    """UTC ms of a local Beijing time."""
    return int(datetime.datetime(*fields, tzinfo=TZ).timestamp()) * 1000


def local(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, TZ)


class M:
    """An archive meter as the planner sees it."""

    def __init__(self, address, protocol="2007", phases=3, line="l1", unit=None):
        self.key = (line, address, unit)
        self.protocol = protocol
        self.phases = phases
        self.address = address


M07 = M("202311150042")
M97 = M("000009310421", "1997")
MMB = M("000000000005", "modbus:dtsu666", line="tcp", unit=5)
METERS = [M07, M97, MMB]
DEFAULT = CycleConfig.from_dict({})


def by_kind(due, kind):
    return [c for c in due if c.kind == kind]


def ids(due, kind=None):
    return [c.cycle_id for c in due if kind is None or c.kind == kind]


def jobs(plan):
    return dict(plan.jobs)


# ---- config ----------------------------------------------------------------------

def test_defaults():
    c = DEFAULT
    assert c.timezone == "Asia/Shanghai" and c.max_catchup_days == 7
    assert (c.realtime.interval_min, c.realtime.deadline_min) == (15, 15)
    assert c.realtime.items["2007"][:2] == ("forward_active_total", "reverse_active_total")
    assert "date" in c.realtime.items["1997"] and "time" in c.realtime.items["2007"]
    assert (c.daily.enabled, c.daily.start_min, c.daily.deadline_min) == (True, 10, 360)
    assert c.daily.frozen == ("forward_active", "reverse_active")
    assert (c.monthly.day, c.monthly.start_min, c.monthly.deadline_min, c.monthly.max_catchup) == (1, 30, 1440, 2)


def test_config_is_taken():
    c = CycleConfig.from_dict({"timezone": "Asia/Urumqi", "max_catchup_days": 62,
                               "realtime": {"interval_min": 60, "deadline_min": 30, "items_2007": ["time"]},
                               "daily": {"start": "01:05", "frozen_2007": ["forward_active"]},
                               "monthly": {"day": 28, "start": "12:00", "max_catchup": 12}})
    assert c.tz.key == "Asia/Urumqi" and c.realtime.items["2007"] == ("time",)
    assert c.daily.start_min == 65 and c.monthly.start_min == 720


@pytest.mark.parametrize("table, key, expected_text, got", [
    ({"bogus": 1}, "cycles.bogus", "no such key", 1),
    ({"timezone": "Mars/Olympus"}, "cycles.timezone", "IANA", "Mars/Olympus"),
    ({"max_catchup_days": 63}, "cycles.max_catchup_days", "1-62", 63),
    ({"max_catchup_days": 0}, "cycles.max_catchup_days", "1-62", 0),
    ({"max_catchup_days": True}, "cycles.max_catchup_days", "1-62", True),
    ({"realtime": {"interval_min": 7}}, "cycles.realtime.interval_min", "dividing 1440", 7),
    ({"realtime": {"interval_min": -15}}, "cycles.realtime.interval_min", "dividing 1440", -15),
    ({"realtime": {"deadline_min": 16}}, "cycles.realtime.deadline_min", "to the interval (15)", 16),
    ({"realtime": {"items_2007": ["forward_active_totl"]}}, "cycles.realtime.items_2007", "2007 registry",
     "forward_active_totl"),
    ({"realtime": {"items_1997": ["daily_freeze_time_1"]}}, "cycles.realtime.items_1997", "1997 registry",
     "daily_freeze_time_1"),
    ({"realtime": {"items_modbus": ["date"]}}, "cycles.realtime.items_modbus", "Modbus map", "date"),
    ({"realtime": {"items_2007": "time"}}, "cycles.realtime.items_2007", "list of item names", "time"),
    ({"realtime": {"items_2007": []}}, "cycles.realtime.items_2007", "non-empty", []),
    ({"realtime": {"items_2007": ["time", "time"]}}, "cycles.realtime.items_2007", "each item once", "time"),
    ({"realtime": []}, "cycles.realtime", "a table", []),
    ({"daily": {"start": "24:00"}}, "cycles.daily.start", "HH:MM", "24:00"),
    ({"daily": {"start": "0:10"}}, "cycles.daily.start", "HH:MM", "0:10"),
    ({"daily": {"enabled": "yes"}}, "cycles.daily.enabled", "true or false", "yes"),
    ({"daily": {"frozen_2007": ["voltage"]}}, "cycles.daily.frozen_2007", "daily-freeze quantity", "voltage"),
    ({"monthly": {"day": 29}}, "cycles.monthly.day", "1-28", 29),
    ({"monthly": {"max_catchup": 13}}, "cycles.monthly.max_catchup", "1-12", 13),
    ({"monthly": {"items_1997": ["voltage_a"]}}, "cycles.monthly.items_1997", "settlement history",
     "voltage_a"),
])
def test_config_errors_name_the_key_expected_and_got(table, key, expected_text, got):
    with pytest.raises(CycleConfigError) as info:
        CycleConfig.from_dict(table)
    err = info.value
    assert err.key == key and err.got == got and expected_text in err.expected
    assert str(err).startswith(key + ": expected ") and str(err).endswith("got %r" % (got,))


def test_resolve_item_gives_what_the_drivers_take():
    assert resolve_item("2007", "daily_freeze_time_3") == 0x05060003
    assert resolve_item("2007", "daily_freeze_forward_active_62") == 0x0506013E
    assert resolve_item("2007", "forward_active_total_prev1") == 0x00010001
    assert resolve_item("1997", "forward_active_total_prev2") == 0x9810
    assert resolve_item("modbus:ddsu666", "voltage_a") == "voltage_a"
    with pytest.raises(CycleConfigError, match="Modbus model ddsu666"):
        resolve_item("modbus:ddsu666", "voltage_b")
    with pytest.raises(CycleConfigError, match="1997 registry"):
        resolve_item("1997", "daily_freeze_time_1")
    with pytest.raises(CycleConfigError, match="protocol"):
        resolve_item("modbus:nope", "voltage_a")


# ---- realtime --------------------------------------------------------------------

@pytest.mark.parametrize("now, slot", [
    (at(2026, 11, 23, 10, 17, 59), "2026-11-23T10:15"),
    (at(2026, 11, 23, 10, 15), "2026-11-23T10:15"),
    (at(2026, 11, 23, 23, 59, 59), "2026-11-23T23:45"),
    (at(2026, 11, 24, 0, 0), "2026-11-24T00:00"),       # local midnight is 16:00 UTC the day before
    (at(2026, 12, 31, 23, 50), "2026-12-31T23:45"),
    (at(2028, 2, 29, 8, 1), "2028-02-29T08:00"),
])
def test_realtime_slot_in_local_time(now, slot):
    (plan,) = by_kind(plan_due(DEFAULT, METERS, now), "realtime")
    assert plan.cycle_id == "rt-" + slot and plan.period == slot
    assert local(plan.planned_ms).strftime("%Y-%m-%dT%H:%M") == slot
    assert plan.deadline_ms == plan.planned_ms + 15 * MIN_MS and plan.index is None


def test_realtime_items_per_protocol_and_phases():
    single = M("202311150099", phases=1)
    (plan,) = by_kind(plan_due(DEFAULT, METERS + [single], at(2026, 11, 23, 10, 0)), "realtime")
    j = jobs(plan)
    assert j[M07.key] == list(DEFAULT.realtime.items["2007"])
    assert j[M97.key] == list(DEFAULT.realtime.items["1997"])
    assert j[MMB.key] == list(DEFAULT.realtime.items["modbus"])      # the three-phase model has all
    assert "voltage_b" not in j[single.key] and "voltage_a" in j[single.key]
    ddsu = M("000000000006", "modbus:ddsu666", unit=6)
    (plan,) = by_kind(plan_due(DEFAULT, [ddsu], at(2026, 11, 23, 10, 0)), "realtime")
    assert jobs(plan)[ddsu.key] == ["forward_active_total", "reverse_active_total", "voltage_a", "current_a"]


def test_realtime_missed_slots_are_not_replayed_and_restart_plans_nothing_twice():
    due = plan_due(DEFAULT, METERS, at(2026, 11, 23, 11, 7), ["rt-2026-11-23T10:00"])
    assert ids(due, "realtime") == ["rt-2026-11-23T11:00"]
    again = plan_due(DEFAULT, METERS, at(2026, 11, 23, 11, 14), due.ids() + ["rt-2026-11-23T10:00"])
    assert ids(again, "realtime") == []


def test_realtime_off():
    c = CycleConfig.from_dict({"realtime": {"interval_min": 0}})
    assert ids(plan_due(c, METERS, at(2026, 11, 23, 11, 7)), "realtime") == []


def test_clock_stepped_back_plans_nothing_old():
    last = ["rt-2026-11-23T11:00", "day-2026-11-22", "month-2026-11"]
    assert plan_due(DEFAULT, METERS, at(2026, 11, 23, 9, 0), last).ids() == []


# ---- daily -----------------------------------------------------------------------

def test_daily_waits_for_start_after_midnight():
    assert ids(plan_due(DEFAULT, METERS, at(2026, 11, 23, 0, 9, 59), ["day-2026-11-21"]), "daily") == []
    (plan,) = by_kind(plan_due(DEFAULT, METERS, at(2026, 11, 23, 0, 10), ["day-2026-11-21"]), "daily")
    assert plan.cycle_id == "day-2026-11-22" and plan.index == 1 and not plan.catch_up
    assert plan.expected_freeze_time == "2026-11-23T00:00"
    assert plan.planned_ms == at(2026, 11, 23, 0, 10)
    assert plan.deadline_ms == at(2026, 11, 23, 6, 10)
    assert jobs(plan)[M07.key] == ["daily_freeze_time_1", "daily_freeze_forward_active_1",
                                   "daily_freeze_reverse_active_1"]
    assert jobs(plan)[M97.key] == ["forward_active_total", "reverse_active_total", "date", "time"]
    assert jobs(plan)[MMB.key] == ["forward_active_total", "reverse_active_total"]
    assert plan.not_planned == []


def test_daily_deadline_never_passes_the_next_freeze():
    (plan,) = by_kind(plan_due(DEFAULT, METERS, at(2026, 11, 23, 21, 0), ["day-2026-11-21"]), "daily")
    assert plan.deadline_ms == at(2026, 11, 24, 0, 0)


@pytest.mark.parametrize("now, last, expected", [
    (at(2026, 3, 1, 0, 10), "day-2026-02-27", ["day-2026-02-28"]),
    (at(2028, 3, 1, 0, 10), "day-2028-02-28", ["day-2028-02-29"]),
    (at(2027, 1, 1, 3, 0), "day-2026-12-30", ["day-2026-12-31"]),
    (at(2026, 12, 1, 0, 10), "day-2026-11-29", ["day-2026-11-30"]),
    (at(2028, 3, 2, 7, 0), "day-2028-02-27", ["day-2028-02-28", "day-2028-02-29", "day-2028-03-01"]),
])
def test_daily_days_across_month_and_year_ends(now, last, expected):
    due = by_kind(plan_due(DEFAULT, METERS, now, [last]), "daily")
    assert [p.cycle_id for p in due] == expected
    assert [p.index for p in due] == list(range(len(expected), 0, -1))
    for p in due:
        day = datetime.date.fromisoformat(p.period)
        assert p.expected_freeze_time == (day + datetime.timedelta(days=1)).isoformat() + "T00:00"
        assert local(p.planned_ms) == datetime.datetime.combine(day + datetime.timedelta(days=1),
                                                                datetime.time(0, 10), TZ)


def test_first_run_plans_only_yesterday():
    assert ids(plan_due(DEFAULT, METERS, at(2026, 11, 23, 9, 0)), "daily") == ["day-2026-11-22"]


def test_missed_days_are_caught_up_with_their_freeze_index_and_history_less_meters_listed():
    due = by_kind(plan_due(DEFAULT, METERS, at(2026, 11, 23, 9, 0), ["day-2026-11-19"]), "daily")
    assert [(p.cycle_id, p.index, p.catch_up) for p in due] == [
        ("day-2026-11-20", 3, True), ("day-2026-11-21", 2, True), ("day-2026-11-22", 1, False)]
    for p in due[:2]:
        assert jobs(p)[M07.key][0] == "daily_freeze_time_%d" % p.index
        assert list(jobs(p)) == [M07.key]
        assert [(n.meter_key, n.reason) for n in p.not_planned] == [
            (M97.key, "no_freeze_history"), (MMB.key, "no_freeze_history")]
        assert p.period in p.not_planned[0].detail and "1997" in p.not_planned[0].detail
        assert "dtsu666" in p.not_planned[1].detail
        assert p.deadline_ms == at(2026, 11, 23, 15, 0)
    assert set(jobs(due[2])) == {M07.key, M97.key, MMB.key}


def test_days_older_than_the_window_are_a_gap_not_silence():
    due = plan_due(DEFAULT, METERS, at(2026, 11, 23, 9, 0), ["day-2026-11-01"])
    daily = by_kind(due, "daily")
    assert [p.index for p in daily] == [7, 6, 5, 4, 3, 2, 1] and daily[0].cycle_id == "day-2026-11-16"
    (gap,) = [g for g in due.gaps if g.kind == "daily"]
    assert (gap.first, gap.last, gap.count) == ("2026-11-02", "2026-11-15", 14)
    assert "max_catchup_days (7)" in gap.reason


def test_a_week_with_a_three_day_gap():
    """Every 15 min for 10 days, the agent down from day 3 08:00 to day 6 09:00."""
    t0 = at(2026, 11, 20, 0, 0)
    down = (at(2026, 11, 23, 8, 0), at(2026, 11, 26, 9, 0))
    planned, daily = [], []
    t = t0
    while t < t0 + 10 * DAY_MS:
        if not down[0] <= t < down[1]:
            due = plan_due(DEFAULT, [M07], t, planned)
            planned += due.ids()
            daily += [(local(t).strftime("%m-%d %H:%M"), p.cycle_id, p.index) for p in by_kind(due, "daily")]
        t += 15 * MIN_MS
    assert len(planned) == len(set(planned))
    assert daily[4:7] == [("11-26 09:00", "day-2026-11-23", 3), ("11-26 09:00", "day-2026-11-24", 2),
                          ("11-26 09:00", "day-2026-11-25", 1)]
    assert [d[1] for d in daily] == ["day-2026-11-%02d" % d for d in range(19, 29)]
    assert all(i == 1 for when, _, i in daily if when != "11-26 09:00")


def test_restart_replans_nothing():
    now = at(2026, 11, 23, 9, 0)
    first = plan_due(DEFAULT, METERS, now, ["day-2026-11-18", "month-2026-10"])
    assert first.ids() and plan_due(DEFAULT, METERS, now + 5 * MIN_MS, first.ids()).ids() == []
    # The ledger's full list works as well as the latest ids; other ids are ignored.
    full = ["rt-2026-11-23T08:45", "day-2026-11-10", "ondemand-7"] + first.ids()
    assert plan_due(DEFAULT, METERS, now + 14 * MIN_MS, full).ids() == []


def test_daily_off():
    c = CycleConfig.from_dict({"daily": {"enabled": False}})
    assert ids(plan_due(c, METERS, at(2026, 11, 23, 9, 0), ["day-2026-11-18"]), "daily") == []


# ---- monthly ---------------------------------------------------------------------

def test_settlement_day_cycle():
    last = ["month-2026-10"]
    assert ids(plan_due(DEFAULT, METERS, at(2026, 11, 1, 0, 29), last), "monthly") == []
    (plan,) = by_kind(plan_due(DEFAULT, METERS, at(2026, 11, 1, 0, 30), last), "monthly")
    assert plan.cycle_id == "month-2026-11" and plan.index == 1 and plan.period == "2026-11"
    assert plan.planned_ms == at(2026, 11, 1, 0, 30) and plan.deadline_ms == at(2026, 11, 2, 0, 30)
    assert jobs(plan)[M07.key] == ["forward_active_total_prev1", "reverse_active_total_prev1"]
    assert jobs(plan)[M97.key] == ["forward_active_total_prev1", "reverse_active_total_prev1"]
    assert jobs(plan)[MMB.key] == ["forward_active_total", "reverse_active_total"]


def test_settlement_day_25_across_year_end():
    c = CycleConfig.from_dict({"monthly": {"day": 25, "start": "08:00", "max_catchup": 12}})
    due = by_kind(plan_due(c, [M07, M97, MMB], at(2027, 1, 10, 9, 0), ["month-2026-10"]), "monthly")
    assert [(p.cycle_id, p.index) for p in due] == [("month-2026-11", 2), ("month-2026-12", 1)]
    assert jobs(due[0])[M07.key] == ["forward_active_total_prev2", "reverse_active_total_prev2"]
    assert jobs(due[0])[M97.key] == ["forward_active_total_prev2", "reverse_active_total_prev2"]
    assert [(n.meter_key, n.reason) for n in due[0].not_planned] == [(MMB.key, "no_settlement_history")]
    assert due[1].deadline_ms == at(2027, 1, 11, 9, 0)         # 24 h from now
    c = CycleConfig.from_dict({"monthly": {"day": 25, "start": "08:00", "deadline_min": 28 * 1440}})
    (plan,) = by_kind(plan_due(c, [M07], at(2027, 1, 10, 9, 0), ["month-2026-11"]), "monthly")
    assert plan.deadline_ms == at(2027, 1, 25, 0, 0)         # ends before the next settlement


def test_1997_keeps_two_settlements():
    c = CycleConfig.from_dict({"monthly": {"max_catchup": 12}})
    due = by_kind(plan_due(c, [M07, M97], at(2026, 11, 23, 9, 0), ["month-2026-07"]), "monthly")
    assert [(p.cycle_id, p.index) for p in due] == [("month-2026-08", 4), ("month-2026-09", 3),
                                                     ("month-2026-10", 2), ("month-2026-11", 1)]
    assert [n.reason for n in due[0].not_planned] == ["no_settlement_history"]
    assert "keep 2 settlements" in due[0].not_planned[0].detail
    assert jobs(due[0])[M07.key] == ["forward_active_total_prev4", "reverse_active_total_prev4"]
    assert M97.key in jobs(due[2])


def test_monthly_gap():
    due = plan_due(DEFAULT, [M07], at(2026, 11, 23, 9, 0), ["month-2026-01"])
    assert ids(due, "monthly") == ["month-2026-10", "month-2026-11"]
    (gap,) = [g for g in due.gaps if g.kind == "monthly"]
    assert (gap.first, gap.last, gap.count) == ("2026-02", "2026-09", 8)


def test_unknown_protocol_is_listed():
    odd = M("202311150077", "modbus:unknown")
    due = plan_due(DEFAULT, [odd], at(2026, 11, 23, 9, 0))
    assert len(due) == 3 and all(p.jobs == [] for p in due)
    assert all([n.reason for n in p.not_planned] == ["unknown_protocol"] for p in due)


def test_ids_and_ledger_pairs():
    assert cycle_id_kind("rt-2026-11-23T10:15") == "realtime" and cycle_id_kind("daily/2024-06-01") is None
    assert meter_text(("l1", "202311150042", None)) == "l1/202311150042"
    assert meter_text(("tcp", "000000000005", 5)) == "tcp/000000000005/5"
    (plan,) = by_kind(plan_due(DEFAULT, [M07], at(2026, 11, 23, 9, 0)), "daily")
    assert plan.expected()[0] == ("l1/202311150042", "daily_freeze_time_1")


def test_now_must_be_integer_ms():
    from concentrator._errors import ConcentratorError
    with pytest.raises(ConcentratorError, match="integer UTC milliseconds"):
        plan_due(DEFAULT, METERS, 1.5e12)


# ---- checking the freeze ---------------------------------------------------------

def test_check_freeze_time():
    assert check_freeze_time("2026-11-23T00:00", "2026-11-22")
    assert check_freeze_time("2026-11-23T01:00", datetime.date(2026, 11, 22)).ok   # freeze hour set later
    bad = check_freeze_time("2026-11-22T00:00", "2026-11-22")
    assert not bad and bad.days_off == -1 and bad.expected == "2026-11-23T00:00"
    assert bad.reason.startswith("freeze time 2026-11-22T00:00 is 1 day older than expected 2026-11-23T00:00")
    assert "holds day 2026-11-21, not 2026-11-22" in bad.reason
    ahead = check_freeze_time("2026-11-25T00:00", "2026-11-22")
    assert ahead.days_off == 2 and "2 days newer" in ahead.reason
    none = check_freeze_time(None, "2026-11-22")
    assert not none and none.days_off is None and "not a date" in none.reason


# ---- properties ------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(start=st.integers(0, 4 * 365 * DAY_MS),
       steps=st.lists(st.integers(0, 4 * DAY_MS), min_size=1, max_size=40),
       catchup=st.integers(1, 10))
def test_every_day_in_the_window_is_planned_exactly_once(start, steps, catchup):
    config = CycleConfig.from_dict({"max_catchup_days": catchup})
    now = at(2024, 1, 1) + start
    planned, days, gaps, rts = [], [], [], []
    for step in steps:
        now += step
        due = plan_due(config, [M07], now, planned)
        planned += due.ids()
        today = local(now).date()
        for p in by_kind(due, "daily"):
            day = datetime.date.fromisoformat(p.period)
            assert p.index == (today - day).days and 1 <= p.index <= catchup
            days.append(day)
        rts += ids(due, "realtime")
        for g in due.gaps:
            if g.kind == "daily":
                first = datetime.date.fromisoformat(g.first)
                gaps += [first + datetime.timedelta(days=i) for i in range(g.count)]
    assert len(planned) == len(set(planned))
    assert rts == sorted(rts)
    covered = sorted(days + gaps)
    assert len(covered) == len(set(covered))
    if covered:
        assert covered == [covered[0] + datetime.timedelta(days=i) for i in range(len(covered))]
        last_local = local(now)
        newest = last_local.date() - datetime.timedelta(days=1)
        if last_local.hour * 60 + last_local.minute >= 10:
            assert covered[-1] == newest
        else:
            # Before daily.start the planner waits (the meters' freeze index is ambiguous
            # around midnight), so older missed days may wait too; nothing newer is planned.
            assert covered[-1] <= newest - datetime.timedelta(days=1)


# ---- against the simulated meter -------------------------------------------------

def _read(meter, address, std, item, now_s):
    """One read of the planned item, back to back with the meter through the codec."""
    request = build_read_request(address, resolve_item(std, item), std)
    while request[0] == 0xFE:
        request = request[1:]
    reply = parse_frame(meter.handle(request, now_s))
    assert not reply.is_error, (item, reply)
    return reply.value


def test_planned_indexes_read_the_right_freezes_from_the_simulated_meter():
    """2007 §13 0506xxNN: across a 3-day outage of the agent the catch-up
    cycles read freezes 3, 2, 1 and each equals the meter's own record of that day."""
    a07, a97, ahead = "202311150042", "000009310421", "202311150043"
    base = {"profile": [1.0] * 24, "load_variation": 0.0, "history_days": 2, "preamble": 0}
    t0 = at(2024, 6, 15, 12, 0) / 1000
    meters = {a07: Meter(dict(base, address=a07, start_kwh=100.0), t0),
              a97: Meter(dict(base, address=a97, std="1997", start_kwh=50.0), t0),
              # A clock a day ahead: it takes one more freeze than the hall's calendar.
              ahead: Meter(dict(base, address=ahead, clock_offset_s=86400), t0)}
    archive = [M(a07), M(a97, "1997"), M(ahead)]
    planned, seen = ["day-2024-06-14"], {}
    for now_ms in (at(2024, 6, 16, 0, 15), at(2024, 6, 19, 9, 0)):     # the agent is down 16th-19th
        now_s = now_ms / 1000
        due = plan_due(DEFAULT, archive, now_ms, planned)
        planned += due.ids()
        for plan in by_kind(due, "daily"):
            for key, items in plan.jobs:
                address = key[1]
                std = "1997" if address == a97 else "2007"
                values = {item: _read(meters[address], address, std, item, now_s) for item in items}
                seen[(plan.cycle_id, address)] = (plan, values)
    daily_ids = sorted({cid for cid, _ in seen})
    assert daily_ids == ["day-2024-06-15", "day-2024-06-16", "day-2024-06-17", "day-2024-06-18"]
    indexes = {cid: plan.index for (cid, _), (plan, _) in seen.items()}
    assert [indexes[c] for c in daily_ids] == [1, 3, 2, 1]

    records = {r["time"]: r for r in meters[a07].daily_freezes}
    for cid in daily_ids:
        plan, values = seen[(cid, a07)]
        k = plan.index
        got_time = values["daily_freeze_time_%d" % k]
        assert check_freeze_time(got_time, plan.period).ok
        record = records[plan.expected_freeze_time]
        assert tuple(values["daily_freeze_forward_active_%d" % k]) == pytest.approx(record["forward_active"])
        assert tuple(values["daily_freeze_reverse_active_%d" % k]) == pytest.approx(record["reverse_active"])
    # A steady 1.2 kW: each day's freeze is 28.8 kWh above the one before.
    totals = [seen[(c, a07)][1]["daily_freeze_forward_active_%d" % seen[(c, a07)][0].index][0] for c in daily_ids]
    assert [round(b - a, 2) for a, b in zip(totals, totals[1:])] == [28.8, 28.8, 28.8]

    # The 1997 meter: current totals on the day after, explicit entries for the missed days.
    assert (("day-2024-06-16", a97) not in seen) and (("day-2024-06-18", a97) in seen)
    due_again = plan_due(DEFAULT, archive, at(2024, 6, 19, 9, 0), ["day-2024-06-15"])
    missed = [n for p in by_kind(due_again, "daily") for n in p.not_planned]
    assert [(n.meter_key[1], n.reason) for n in missed] == [(a97, "no_freeze_history")] * 2
    held = meters[a97].energy("forward_active")
    assert seen[("day-2024-06-18", a97)][1]["forward_active_total"] == pytest.approx(held, abs=0.011)

    # The meter with its clock a day ahead answers with the wrong day's freeze at every index.
    for cid in daily_ids:
        plan, values = seen[(cid, ahead)]
        check = check_freeze_time(values["daily_freeze_time_%d" % plan.index], plan.period)
        assert not check.ok and check.days_off == 1 and "1 day newer" in check.reason


def test_archive_meters_plan_directly():
    from concentrator.archive import ArchiveMeter
    m = ArchiveMeter(address="202311150042", unit=None, protocol="2007", line="l1", port="socket://gw:4001",
                     baud=2400, parity="E", area="A1", role="customer", customer="", phases=1, ct_ratio=1.0,
                     pt_ratio=1.0)
    (plan,) = by_kind(plan_due(DEFAULT, [m], at(2026, 11, 23, 10, 0)), "realtime")
    assert plan.jobs[0][0] == m.key and "voltage_b" not in plan.jobs[0][1]
