"""The reading-cycle planner (抄表计划, M-02): which cycles are due now, and what each reads.

Sans-I/O: ``plan_due(config, meters, now_ms, last)`` takes the time and the
ids already planned (from the ledger) and returns plans; it reads no clock,
touches no file or port and logs nothing. The agent opens each plan in the
ledger (``Ledger.open_cycle``) and submits its jobs to the line schedules.

Three kinds of cycle (docs/cycles.md), ids in hall local time:

* realtime ``rt-2026-11-23T10:15``: the slot of ``interval_min`` minutes,
  aligned to local midnight, that ``now`` is in.
* daily ``day-2026-11-22``: the data of day D, i.e. the daily freeze the
  meters take at their midnight ending D (freeze time ``2026-11-23T00:00``),
  planned at D+1 ``start`` local.
* monthly ``month-2026-11``: the settlement that happened in that month, on
  ``day`` (planned at ``start`` that day).

Invariants (tests/concentrator/test_cycles.py):

* A cycle id is planned only if it is later than the latest id of its kind
  in ``last``: re-planning after a restart never plans a cycle twice, and a
  clock stepped back plans nothing old again.
* Realtime: only the current slot; a slot missed while the agent was down is
  not replayed (its values are gone).
* Daily and monthly: every missed day (settlement) after the latest planned
  one is planned, oldest first, as long as its freeze (settlement) index k
  is at most ``max_catchup_days`` (``monthly.max_catchup``); older ones are
  returned as a ``Gap``. k counts back from the newest: 1 = yesterday's
  freeze, k = (today - D) days. A meter that keeps no history (1997 daily,
  Modbus) reads current totals for k = 1 and gets an explicit ``NotPlanned``
  entry for k > 1. Nothing is dropped without an entry.
* Daily cycles are planned only from ``daily.start`` to local midnight, and
  their deadline never passes midnight: the meters take the next freeze
  there, which would shift every index by one. Monthly likewise waits until
  ``monthly.start`` on the settlement day, and ends before the next one.
"""

import datetime

from ._cycles_config import (MODBUS, PHASE_BC_ITEMS, SETTLEMENTS_KEPT_1997, STD_1997, STD_2007, CycleConfig,
                             CycleConfigError, modbus_model, resolve_item)
from ._errors import ConcentratorError

__all__ = ["CycleConfig", "CycleConfigError", "CyclePlan", "DuePlan", "FreezeCheck", "Gap", "NotPlanned",
           "check_freeze_time", "cycle_id_kind", "meter_text", "plan_due", "resolve_item"]

REALTIME, DAILY, MONTHLY = "realtime", "daily", "monthly"
PREFIXES = {REALTIME: "rt-", DAILY: "day-", MONTHLY: "month-"}
_MS_PER_MIN = 60000
_ONE_DAY = datetime.timedelta(days=1)

# NotPlanned reasons.
NO_FREEZE_HISTORY = "no_freeze_history"
NO_SETTLEMENT_HISTORY = "no_settlement_history"
UNKNOWN_PROTOCOL = "unknown_protocol"
NO_ITEMS = "no_items"


class NotPlanned:
    """A meter a cycle cannot read, and why (never a silent skip).

    Attributes:
        meter_key: the meter's archive key.
        reason: ``no_freeze_history`` / ``no_settlement_history`` (a missed
            day or month the meter keeps no record of: 1997, Modbus),
            ``unknown_protocol``, or ``no_items`` (its model has none of the
            configured items).
        detail: one line for people.
    """

    __slots__ = ("meter_key", "reason", "detail")

    def __init__(self, meter_key, reason, detail):
        self.meter_key = meter_key
        self.reason = reason
        self.detail = detail

    def __eq__(self, other):
        return isinstance(other, NotPlanned) and (self.meter_key, self.reason) == (other.meter_key, other.reason)

    def __repr__(self):
        return "NotPlanned(%r, %s)" % (self.meter_key, self.reason)


class CyclePlan:
    """One cycle to open: its id, times and the items to read per meter.

    Attributes:
        cycle_id, kind, planned_ms, deadline_ms: as ``Ledger.open_cycle`` takes them
            (planned_ms is the cycle's nominal start, also for a catch-up).
        jobs: list of (meter_key, [item names]), meters in the given order.
        not_planned: list of ``NotPlanned``.
        period: the local day ``"2026-11-22"`` (daily), month ``"2026-11"``
            (monthly) or slot ``"2026-11-23T10:15"`` (realtime).
        index: the freeze (daily) or settlement (monthly) index k the 2007
            jobs read, 1 = newest; None for realtime.
        expected_freeze_time: daily only: the freeze time the meters should
            report, ``"2026-11-23T00:00"`` (see ``check_freeze_time``).
    """

    def __init__(self, cycle_id, kind, planned_ms, deadline_ms, period, index=None, expected_freeze_time=None):
        self.cycle_id = cycle_id
        self.kind = kind
        self.planned_ms = planned_ms
        self.deadline_ms = deadline_ms
        self.period = period
        self.index = index
        self.expected_freeze_time = expected_freeze_time
        self.jobs = []
        self.not_planned = []

    @property
    def catch_up(self):
        """True for a daily or monthly cycle planned after its time (index > 1)."""
        return self.index is not None and self.index > 1

    def expected(self, text=None):
        """(meter text, item) pairs for ``Ledger.open_cycle``; ``text`` maps a key (default ``meter_text``)."""
        text = text or meter_text
        return [(text(key), item) for key, items in self.jobs for item in items]

    def __repr__(self):
        return "CyclePlan(%s, %d jobs, %d not planned)" % (self.cycle_id, len(self.jobs), len(self.not_planned))


class Gap:
    """Missed cycles older than the catch-up window: nothing on the meters can fill them.

    Attributes:
        kind, first, last (periods, e.g. ``"2026-11-01"``), count, reason.
    """

    __slots__ = ("kind", "first", "last", "count", "reason")

    def __init__(self, kind, first, last, count, reason):
        self.kind = kind
        self.first = first
        self.last = last
        self.count = count
        self.reason = reason

    def __repr__(self):
        return "Gap(%s %s..%s, %d)" % (self.kind, self.first, self.last, self.count)


class DuePlan:
    """What ``plan_due`` returns: ``cycles`` (CyclePlans, oldest first per kind) and ``gaps``.

    Iterating, ``len`` and indexing go over ``cycles``.
    """

    def __init__(self, cycles, gaps):
        self.cycles = cycles
        self.gaps = gaps

    def __iter__(self):
        return iter(self.cycles)

    def __len__(self):
        return len(self.cycles)

    def __getitem__(self, i):
        return self.cycles[i]

    def ids(self):
        return [c.cycle_id for c in self.cycles]


def meter_text(key):
    """An archive key (line, address, unit) as the ledger's meter text: ``line/address[/unit]``."""
    if isinstance(key, str):
        return key
    line, address, unit = key
    return "%s/%s" % (line, address) if unit is None else "%s/%s/%d" % (line, address, unit)


def cycle_id_kind(cycle_id):
    """``"realtime"``, ``"daily"``, ``"monthly"`` for a planner id, None for any other text."""
    if isinstance(cycle_id, str):
        for kind, prefix in PREFIXES.items():
            if cycle_id.startswith(prefix):
                return kind
    return None


# ---- planning --------------------------------------------------------------------

def plan_due(config, meters, now_ms, last=()):
    """The cycles due at ``now_ms`` that are not planned yet.

    Args:
        config: a ``CycleConfig``.
        meters: archive meters (``ArchiveMeter`` or anything with ``key``,
            ``protocol`` and optionally ``phases``).
        now_ms: UTC milliseconds.
        last: ids already planned (any iterable of text, e.g. every cycle id
            the ledger holds, or just the latest of each kind); ids of other
            forms are ignored.

    Returns:
        a ``DuePlan``: realtime, then daily, then monthly cycles, each kind
        oldest first, and the gaps nothing can fill.

    Raises:
        ConcentratorError: ``now_ms`` is not an integer.
    """
    if isinstance(now_ms, bool) or not isinstance(now_ms, int):
        raise ConcentratorError("now_ms must be integer UTC milliseconds, got %r" % (now_ms,))
    latest = {}
    for cycle_id in last:
        kind = cycle_id_kind(cycle_id)
        if kind is not None:
            period = cycle_id[len(PREFIXES[kind]):]
            if period > latest.get(kind, ""):
                latest[kind] = period
    local = datetime.datetime.fromtimestamp(now_ms / 1000.0, config.tz)
    cycles, gaps = [], []
    _plan_realtime(config, meters, local, latest.get(REALTIME), cycles)
    _plan_daily(config, meters, now_ms, local, latest.get(DAILY), cycles, gaps)
    _plan_monthly(config, meters, now_ms, local, latest.get(MONTHLY), cycles, gaps)
    return DuePlan(cycles, gaps)


def _ms(config, day, minutes):
    """UTC ms of local ``day`` (a date) at ``minutes`` after midnight."""
    t = datetime.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=config.tz)
    return int(t.timestamp()) * 1000


def _plan_realtime(config, meters, local, latest, cycles):
    rt = config.realtime
    if not rt.interval_min:
        return
    minute = local.hour * 60 + local.minute
    slot_min = minute - minute % rt.interval_min
    period = "%sT%02d:%02d" % (local.date().isoformat(), slot_min // 60, slot_min % 60)
    if latest is not None and period <= latest:
        return
    planned = _ms(config, local.date(), slot_min)
    plan = CyclePlan(PREFIXES[REALTIME] + period, REALTIME, planned, planned + rt.deadline_min * _MS_PER_MIN,
                     period)
    for meter in meters:
        kind, model = _protocol(meter)
        if kind is None:
            plan.not_planned.append(_unknown(meter))
            continue
        _add_job(plan, meter, [n for n in rt.items[kind] if _has(meter, model, n)])
    cycles.append(plan)


def _plan_daily(config, meters, now_ms, local, latest, cycles, gaps):
    daily = config.daily
    if not daily.enabled or local.hour * 60 + local.minute < daily.start_min:
        return      # before start: the meters' midnight freeze may not be taken yet
    today = local.date()
    newest = today - _ONE_DAY
    oldest = today - datetime.timedelta(days=config.max_catchup_days)
    first = newest if latest is None else _date(latest) + _ONE_DAY
    if first < oldest:
        missed_last = oldest - _ONE_DAY
        gaps.append(Gap(DAILY, first.isoformat(), missed_last.isoformat(), (missed_last - first).days + 1,
                        "older than max_catchup_days (%d): freeze index beyond the window"
                        % config.max_catchup_days))
        first = oldest
    midnight_ms = _ms(config, today + _ONE_DAY, 0)
    day = first
    while day <= newest:
        k = (today - day).days
        period = day.isoformat()
        deadline = min(now_ms + daily.deadline_min * _MS_PER_MIN, midnight_ms)
        plan = CyclePlan(PREFIXES[DAILY] + period, DAILY, _ms(config, day + _ONE_DAY, daily.start_min), deadline,
                         period, k, "%sT00:00" % (day + _ONE_DAY).isoformat())
        for meter in meters:
            _daily_job(plan, daily, meter, k)
        cycles.append(plan)
        day += _ONE_DAY


def _daily_job(plan, daily, meter, k):
    kind, model = _protocol(meter)
    if kind is None:
        plan.not_planned.append(_unknown(meter))
    elif kind == STD_2007:
        items = ["daily_freeze_time_%d" % k] + ["daily_freeze_%s_%d" % (q, k) for q in daily.frozen]
        _add_job(plan, meter, items)
    elif k == 1:
        _add_job(plan, meter, [n for n in daily.items[kind] if _has(meter, model, n)])
    else:
        what = "DL/T 645-1997 meters" if kind == STD_1997 else "Modbus meters (%s)" % model.name
        plan.not_planned.append(NotPlanned(
            meter.key, NO_FREEZE_HISTORY,
            "%s keep no daily freezes: day %s (%d days back) was only readable on the day after"
            % (what, plan.period, k)))


def _plan_monthly(config, meters, now_ms, local, latest, cycles, gaps):
    monthly = config.monthly
    if not monthly.enabled:
        return
    day_min = local.hour * 60 + local.minute
    this_month = (local.year, local.month)
    if local.day == monthly.day and day_min < monthly.start_min:
        return      # the meters may be settling now; the index is unsure until start
    if local.day >= monthly.day:
        newest = this_month
    else:
        newest = _add_months(this_month, -1)
    oldest = _add_months(newest, 1 - monthly.max_catchup)
    first = newest if latest is None else _add_months(_month(latest), 1)
    if first < oldest:
        missed_last = _add_months(oldest, -1)
        gaps.append(Gap(MONTHLY, "%04d-%02d" % first, "%04d-%02d" % missed_last,
                        _months_between(first, missed_last) + 1,
                        "older than monthly.max_catchup (%d): settlement index beyond the window"
                        % monthly.max_catchup))
        first = oldest
    next_settlement = _add_months(newest, 1)
    end_ms = _ms(config, datetime.date(next_settlement[0], next_settlement[1], monthly.day), 0)
    month = first
    while month <= newest:
        k = _months_between(month, newest) + 1
        period = "%04d-%02d" % month
        planned = _ms(config, datetime.date(month[0], month[1], monthly.day), monthly.start_min)
        deadline = min(now_ms + monthly.deadline_min * _MS_PER_MIN, end_ms)
        plan = CyclePlan(PREFIXES[MONTHLY] + period, MONTHLY, planned, deadline, period, k)
        for meter in meters:
            _monthly_job(plan, monthly, meter, k)
        cycles.append(plan)
        month = _add_months(month, 1)


def _monthly_job(plan, monthly, meter, k):
    kind, model = _protocol(meter)
    if kind is None:
        plan.not_planned.append(_unknown(meter))
    elif kind == STD_2007 or (kind == STD_1997 and k <= SETTLEMENTS_KEPT_1997):
        _add_job(plan, meter, ["%s_prev%d" % (n, k) for n in monthly.items[kind]])
    elif kind == MODBUS and k == 1:
        _add_job(plan, meter, [n for n in monthly.items[kind] if _has(meter, model, n)])
    else:
        what = ("DL/T 645-1997 meters keep %d settlements" % SETTLEMENTS_KEPT_1997 if kind == STD_1997
                else "Modbus meters (%s) keep no settlements" % model.name)
        plan.not_planned.append(NotPlanned(
            meter.key, NO_SETTLEMENT_HISTORY,
            "%s: the settlement of %s is %d back" % (what, plan.period, k)))


def _protocol(meter):
    """("2007" | "1997" | "modbus", model or None), or (None, None) for an unknown protocol."""
    protocol = getattr(meter, "protocol", None)
    if protocol in (STD_2007, STD_1997):
        return protocol, None
    model = modbus_model(protocol)
    if model is not None:
        return MODBUS, model
    return None, None


def _has(meter, model, name):
    if getattr(meter, "phases", 3) == 1 and name in PHASE_BC_ITEMS:
        return False
    return model is None or model.item(name) is not None


def _unknown(meter):
    return NotPlanned(meter.key, UNKNOWN_PROTOCOL,
                      "protocol %r is not \"2007\", \"1997\" or a known \"modbus:<model>\""
                      % (getattr(meter, "protocol", None),))


def _add_job(plan, meter, items):
    if items:
        plan.jobs.append((meter.key, items))
    else:
        plan.not_planned.append(NotPlanned(meter.key, NO_ITEMS,
                                           "none of the configured %s items exist for protocol %s"
                                           % (plan.kind, meter.protocol)))


def _date(text):
    return datetime.date.fromisoformat(text[:10])


def _month(text):
    return int(text[:4]), int(text[5:7])


def _add_months(month, n):
    index = month[0] * 12 + (month[1] - 1) + n
    return index // 12, index % 12 + 1


def _months_between(a, b):
    return (b[0] * 12 + b[1]) - (a[0] * 12 + a[1])


# ---- checking a frozen reading ---------------------------------------------------

class FreezeCheck:
    """The result of ``check_freeze_time``.

    Attributes:
        ok: True if the freeze is the one of the expected day.
        expected: the freeze time expected, ``"2026-11-23T00:00"``.
        got: the value read.
        days_off: freeze date minus expected date (0 when ok; None if the
            value is not a freeze time). Negative: an older freeze (the meter
            missed a midnight: power down, clock behind); positive: a newer
            one (clock ahead).
        reason: "" when ok, else one line for people.
    """

    __slots__ = ("ok", "expected", "got", "days_off", "reason")

    def __init__(self, ok, expected, got, days_off, reason):
        self.ok = ok
        self.expected = expected
        self.got = got
        self.days_off = days_off
        self.reason = reason

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return "FreezeCheck(ok=%r, expected=%r, got=%r)" % (self.ok, self.expected, self.got)


def check_freeze_time(value, day):
    """Check that a daily freeze read for day ``day`` is that day's freeze.

    The freeze of day D is taken at the meter's midnight ending D, so its
    freeze time (``daily_freeze_time_k``, 0506xx01-3E, YYMMDDhhmm) is
    D+1 00:00. Only the date is compared: a meter whose freeze hour is set
    later (04001201) still froze the right day.

    Args:
        value: the freeze time as the registry decodes it (``"2026-11-23T00:00"``).
        day: the cycle's day, a ``datetime.date`` or ``"2026-11-22"``.

    Returns:
        a ``FreezeCheck`` (true when it matches).
    """
    if isinstance(day, str):
        day = datetime.date.fromisoformat(day)
    expected_date = day + _ONE_DAY
    expected = "%sT00:00" % expected_date.isoformat()
    try:
        got_date = datetime.date.fromisoformat(value[:10])
    except (TypeError, ValueError):
        return FreezeCheck(False, expected, value, None,
                           "freeze time %r is not a date and time (expected %s): the meter holds no freeze "
                           "at that index" % (value, expected))
    off = (got_date - expected_date).days
    if off == 0:
        return FreezeCheck(True, expected, value, 0, "")
    direction = "older" if off < 0 else "newer"
    return FreezeCheck(False, expected, value, off,
                       "freeze time %s is %d day%s %s than expected %s: this index holds day %s, not %s "
                       "(the meter missed or added a midnight: power down or clock wrong)"
                       % (value, abs(off), "" if abs(off) == 1 else "s", direction, expected,
                          (got_date - _ONE_DAY).isoformat(), day.isoformat()))
