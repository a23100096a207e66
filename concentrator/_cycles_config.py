"""The ``[cycles]`` table of the agent's config: what each reading cycle reads, and when.

Parsing is strict and happens once, at start-up: every key is checked
(type, range, item names against the DL/T 645 registry and the Modbus
maps) before anything is planned, and an error names the key as
``cycles.<table>.<key>`` with what was expected and what was given. After
that the planner (``_cycles.py``) cannot meet an unknown item.

Item names are the registry's (``forward_active_total``, ``voltage_a``,
``date``...). A Modbus model reads those of the configured names its map
has (a single-phase model has no ``voltage_b``); a name no model has is an
error. The 2007 daily cycle names freeze *quantities* (``forward_active``):
the planner reads ``daily_freeze_<quantity>_<k>`` for freeze index k, plus
``daily_freeze_time_<k>``. The monthly cycle names current totals
(``forward_active_total``): the planner reads ``<name>_prev<k>``, the k-th
previous settlement (2007 DI0 01..0C, 1997 9410 / 9810).

docs/cycles.md explains the defaults.
"""

import zoneinfo

from protocols.dlt645 import MAX_FREEZE_HISTORY, MAX_SETTLEMENT_HISTORY, DLT645Error, di_for_name
from protocols.modbus_maps import ModbusMapError, get_model, model_names

from ._errors import ConcentratorError

STD_2007, STD_1997, MODBUS = "2007", "1997", "modbus"
MODBUS_PREFIX = "modbus:"

# 1997 meters keep the last and the month-before-last settlement only (x4 / x8 DIs).
SETTLEMENTS_KEPT_1997 = 2

REALTIME_DEFAULTS = {
    STD_2007: ("forward_active_total", "reverse_active_total", "voltage_a", "voltage_b", "voltage_c",
               "current_a", "current_b", "current_c", "date", "time"),
    STD_1997: ("forward_active_total", "reverse_active_total", "voltage_a", "voltage_b", "voltage_c",
               "current_a", "current_b", "current_c", "date", "time"),
    MODBUS: ("forward_active_total", "reverse_active_total", "voltage_a", "voltage_b", "voltage_c",
             "current_a", "current_b", "current_c"),
}
DAILY_FROZEN_DEFAULT = ("forward_active", "reverse_active")
DAILY_DEFAULTS = {
    STD_1997: ("forward_active_total", "reverse_active_total", "date", "time"),
    MODBUS: ("forward_active_total", "reverse_active_total"),
}
MONTHLY_DEFAULTS = {
    STD_2007: ("forward_active_total", "reverse_active_total"),
    STD_1997: ("forward_active_total", "reverse_active_total"),
    MODBUS: ("forward_active_total", "reverse_active_total"),
}
# Items a single-phase meter does not have (ArchiveMeter.phases == 1).
PHASE_BC_ITEMS = frozenset(("voltage_b", "voltage_c", "current_b", "current_c"))

MINUTES_PER_DAY = 1440


class CycleConfigError(ConcentratorError):
    """A key of the ``[cycles]`` table is wrong.

    Attributes:
        key: the full key, e.g. ``cycles.realtime.interval_min``.
        expected: what the key accepts.
        got: what was given.
    """

    def __init__(self, key, expected, got):
        super().__init__("%s: expected %s, got %r" % (key, expected, got))
        self.key = key
        self.expected = expected
        self.got = got


class RealtimeConfig:
    """The realtime cycle. Attributes: interval_min (0 = off), deadline_min, items ({std: names})."""

    def __init__(self, interval_min, deadline_min, items):
        self.interval_min = interval_min
        self.deadline_min = deadline_min
        self.items = items


class DailyConfig:
    """The daily frozen cycle.

    Attributes:
        enabled, start_min (minutes after local midnight), deadline_min,
        frozen (2007 freeze quantities), items ({"1997"|"modbus": names}).
    """

    def __init__(self, enabled, start_min, deadline_min, frozen, items):
        self.enabled = enabled
        self.start_min = start_min
        self.deadline_min = deadline_min
        self.frozen = frozen
        self.items = items


class MonthlyConfig:
    """The settlement-day cycle.

    Attributes:
        enabled, day (1-28), start_min (minutes after local midnight of that
        day), deadline_min, max_catchup (the oldest settlement index read,
        1 = the last settlement only), items ({std: names}).
    """

    def __init__(self, enabled, day, start_min, deadline_min, max_catchup, items):
        self.enabled = enabled
        self.day = day
        self.start_min = start_min
        self.deadline_min = deadline_min
        self.max_catchup = max_catchup
        self.items = items


class CycleConfig:
    """The parsed ``[cycles]`` table; build it with ``CycleConfig.from_dict``.

    Attributes:
        timezone: the hall's zone name; tz: its ``ZoneInfo``.
        max_catchup_days: the oldest freeze index a daily cycle reads (1 =
            yesterday only, no catch-up).
        realtime, daily, monthly: ``RealtimeConfig``, ``DailyConfig``, ``MonthlyConfig``.
    """

    def __init__(self, timezone, max_catchup_days, realtime, daily, monthly):
        self.timezone = timezone
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.max_catchup_days = max_catchup_days
        self.realtime = realtime
        self.daily = daily
        self.monthly = monthly

    @classmethod
    def from_dict(cls, table=None):
        """Parse the ``[cycles]`` table (a dict as ``tomllib`` gives it); None or {} = all defaults.

        Raises:
            CycleConfigError: an unknown key, a wrong type or range, an
                unknown time zone or an unknown item name.
        """
        table = _table(table, "cycles", ("timezone", "max_catchup_days", "realtime", "daily", "monthly"))
        timezone = table.get("timezone", "Asia/Shanghai")
        if not isinstance(timezone, str) or not timezone:
            raise CycleConfigError("cycles.timezone", "an IANA time zone name such as \"Asia/Shanghai\"",
                                   timezone)
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise CycleConfigError("cycles.timezone", "an IANA time zone name such as \"Asia/Shanghai\"",
                                   timezone) from exc
        max_days = _int(table, "cycles", "max_catchup_days", 7, 1, MAX_FREEZE_HISTORY,
                        "a whole number of days 1-%d (what a 2007 meter keeps at most)" % MAX_FREEZE_HISTORY)
        return cls(timezone, max_days, _realtime(table.get("realtime")), _daily(table.get("daily")),
                   _monthly(table.get("monthly")))


def _realtime(table):
    where = "cycles.realtime"
    table = _table(table, where, ("interval_min", "deadline_min", "items_2007", "items_1997", "items_modbus"))
    interval = _int(table, where, "interval_min", 15, 0, MINUTES_PER_DAY,
                    "a whole number of minutes dividing 1440 (0 = off)")
    if interval and MINUTES_PER_DAY % interval:
        raise CycleConfigError(where + ".interval_min", "a whole number of minutes dividing 1440 (0 = off)",
                               interval)
    deadline = _int(table, where, "deadline_min", interval, 1 if interval else 0, interval,
                    "minutes 1 to the interval (%d)" % interval)
    items = {STD_2007: _names(table, where, "items_2007", REALTIME_DEFAULTS[STD_2007], STD_2007),
             STD_1997: _names(table, where, "items_1997", REALTIME_DEFAULTS[STD_1997], STD_1997),
             MODBUS: _names(table, where, "items_modbus", REALTIME_DEFAULTS[MODBUS], MODBUS)}
    return RealtimeConfig(interval, deadline, items)


def _daily(table):
    where = "cycles.daily"
    table = _table(table, where, ("enabled", "start", "deadline_min", "frozen_2007", "items_1997",
                                  "items_modbus"))
    enabled = _bool(table, where, "enabled", True)
    start = _clock(table, where, "start", "00:10")
    deadline = _int(table, where, "deadline_min", 360, 1, MINUTES_PER_DAY, "minutes 1-1440")
    frozen = _names(table, where, "frozen_2007", DAILY_FROZEN_DEFAULT, "frozen")
    items = {STD_1997: _names(table, where, "items_1997", DAILY_DEFAULTS[STD_1997], STD_1997),
             MODBUS: _names(table, where, "items_modbus", DAILY_DEFAULTS[MODBUS], MODBUS)}
    return DailyConfig(enabled, start, deadline, frozen, items)


def _monthly(table):
    where = "cycles.monthly"
    table = _table(table, where, ("enabled", "day", "start", "deadline_min", "max_catchup", "items_2007",
                                  "items_1997", "items_modbus"))
    enabled = _bool(table, where, "enabled", True)
    # 28: every month has the day; DL/T 645 settlement days (04000B01, DDhh) are 1-28.
    day = _int(table, where, "day", 1, 1, 28, "a day of the month 1-28")
    start = _clock(table, where, "start", "00:30")
    deadline = _int(table, where, "deadline_min", 1440, 1, 28 * MINUTES_PER_DAY, "minutes 1-40320 (28 days)")
    max_catchup = _int(table, where, "max_catchup", 2, 1, MAX_SETTLEMENT_HISTORY,
                       "a number of settlements 1-%d (what a 2007 meter keeps)" % MAX_SETTLEMENT_HISTORY)
    items = {STD_2007: _names(table, where, "items_2007", MONTHLY_DEFAULTS[STD_2007], "settled:" + STD_2007),
             STD_1997: _names(table, where, "items_1997", MONTHLY_DEFAULTS[STD_1997], "settled:" + STD_1997),
             MODBUS: _names(table, where, "items_modbus", MONTHLY_DEFAULTS[MODBUS], MODBUS)}
    return MonthlyConfig(enabled, day, start, deadline, max_catchup, items)


# ---- item names ------------------------------------------------------------------

def resolve_item(protocol, name):
    """What a driver needs to read one item of a meter.

    Args:
        protocol: the archive's ``"2007"``, ``"1997"`` or ``"modbus:<model>"``.
        name: the item name as planned (e.g. ``daily_freeze_forward_active_3``).

    Returns:
        the DI (int) for DL/T 645; the item name for Modbus (what
        ``read_modbus_items`` takes), after checking the model has it.

    Raises:
        CycleConfigError: unknown protocol, model or item.
    """
    if protocol in (STD_2007, STD_1997):
        try:
            return di_for_name(name, protocol)
        except DLT645Error as exc:
            raise CycleConfigError("item", "a DL/T 645-%s registry name" % protocol, name) from exc
    model = modbus_model(protocol)
    if model is None:
        raise CycleConfigError("protocol", "\"2007\", \"1997\" or \"modbus:<model>\"", protocol)
    if model.item(name) is None:
        raise CycleConfigError("item", "an item of Modbus model %s (%s)" % (model.name, ", ".join(model.item_names())),
                               name)
    return name


def modbus_model(protocol):
    """The ``MeterModel`` of a ``"modbus:<model>"`` protocol, or None if it is not one we know."""
    if not isinstance(protocol, str) or not protocol.startswith(MODBUS_PREFIX):
        return None
    try:
        return get_model(protocol[len(MODBUS_PREFIX):])
    except ModbusMapError:
        return None


def _modbus_names():
    names = set()
    for model in model_names():
        names.update(get_model(model).item_names())
    return names


def _check_name(where, key, name, kind):
    """Raise unless ``name`` is readable as ``kind`` (a std, "modbus", "frozen" or "settled:<std>")."""
    full = "%s.%s" % (where, key)
    if kind == MODBUS:
        if name not in _modbus_names():
            raise CycleConfigError(full, "item names of a Modbus map (%s)" % ", ".join(sorted(_modbus_names())),
                                   name)
        return
    if kind == "frozen":
        probe, std, what = "daily_freeze_%s_1" % name, STD_2007, "a daily-freeze quantity (forward_active, ...)"
    elif kind.startswith("settled:"):
        std = kind[len("settled:"):]
        probe, what = name + "_prev1", "a DL/T 645-%s item with settlement history (forward_active_total, ...)" % std
    else:
        probe, std, what = name, kind, "DL/T 645-%s registry names" % kind
    try:
        di_for_name(probe, std)
    except DLT645Error as exc:
        raise CycleConfigError(full, what, name) from exc


# ---- scalar keys -----------------------------------------------------------------

def _table(table, where, keys):
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise CycleConfigError(where, "a table", table)
    for key in table:
        if key not in keys:
            raise CycleConfigError("%s.%s" % (where, key), "no such key (known: %s)" % ", ".join(keys), table[key])
    return table


def _int(table, where, key, default, low, high, expected):
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CycleConfigError("%s.%s" % (where, key), expected, value)
    return value


def _bool(table, where, key, default):
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise CycleConfigError("%s.%s" % (where, key), "true or false", value)
    return value


def _clock(table, where, key, default):
    """``"HH:MM"`` local time -> minutes after midnight."""
    value = table.get(key, default)
    expected = "a local time \"HH:MM\" 00:00-23:59"
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise CycleConfigError("%s.%s" % (where, key), expected, value)
    hour, minute = int(value[:2]), int(value[3:])
    if hour > 23 or minute > 59:
        raise CycleConfigError("%s.%s" % (where, key), expected, value)
    return hour * 60 + minute


def _names(table, where, key, default, kind):
    value = table.get(key, default)
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise CycleConfigError("%s.%s" % (where, key), "a non-empty list of item names", value)
    seen = []
    for name in value:
        if not isinstance(name, str):
            raise CycleConfigError("%s.%s" % (where, key), "item names (text)", name)
        if name in seen:
            raise CycleConfigError("%s.%s" % (where, key), "each item once", name)
        _check_name(where, key, name, kind)
        seen.append(name)
    return tuple(seen)
