"""Bus configuration: the meters file (TOML) and building meters from it.

Schema (see ``samples/meters.toml`` for a commented example)::

    [bus]                   # optional; command-line options override it
    baud = 2400             # bit/s
    bits_per_byte = 11      # 11 = 8E1 (DL/T 645 §1), 10 = 8N1
    time_scale = 1.0        # simulated seconds per real second (meters only)
    start_utc = 2024-06-01T08:00:00Z   # simulation start; omitted: now
    seed = 645              # fault RNG seed; omitted: random

    [[meter]]               # one table per meter, handed to Meter(config, now_s)
    address = "202311150001"
    ...                     # the meter firmware's keys (std, reply_delay_ms, ...)
    ct_ratio = 40           # the bus's wiring keys (_supply.py): CT and PT ratios,
    supplies = "all"        # and for a supply meter (台区总表) what it feeds
    loss_pct = 4.0          # and the area's technical loss

    [[fault]]               # optional, any number
    kind = "slow"           # see FAULT_KINDS
    address = "202311150001"   # omitted for line-level kinds (noise)
    ms = 300                # the kind's parameters, after_s, for_s

Every error names the file, the entry (0-based index and address) and the key.
"""

import datetime
import difflib
import tomllib

from ._errors import BusConfigError, FaultError
from ._faults import check_fault
from ._supply import WIRING_KEYS, Wiring, follow, history_base_kw, resolve_supplies, split_wiring

BUS_DEFAULTS = {"baud": 2400, "bits_per_byte": 11, "time_scale": 1.0, "start_utc": None, "seed": None}
_TOP_KEYS = ("bus", "meter", "fault")


def _where(path):
    return "%s: " % path if path is not None else ""


def parse_start_utc(value, path=None, key="start_utc"):
    """A simulation start as epoch seconds: TOML datetime, ISO text or a number (naive = UTC).

    Raises:
        BusConfigError: anything else.
    """
    if isinstance(value, bool):
        value = None
    elif isinstance(value, (int, float)):
        return float(value)
    elif isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            value = None
    elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime.datetime):
        raise BusConfigError("%sbus.%s must be a date-time such as 2024-06-01T08:00:00Z or epoch seconds"
                             % (_where(path), key), path=path, key="bus." + key)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def check_address(address, path=None, index=None):
    """A meter address must be a 12-digit string (DL/T 645 §6; no wildcards on a meter)."""
    where = "%smeter %s" % (_where(path), index) if index is not None else "%smeter" % _where(path)
    if address is None:
        raise BusConfigError("%s: address is missing (a 12-digit string such as \"202311150042\")" % where,
                             path=path, index=index, key="address")
    if not isinstance(address, str) or len(address) != 12 or not address.isdigit():
        raise BusConfigError("%s: address %r is not a 12-digit string" % (where, address),
                             path=path, index=index, address=address if isinstance(address, str) else None,
                             key="address")
    return address


def _settings(table, path):
    if not isinstance(table, dict):
        raise BusConfigError("%s[bus] must be a table" % _where(path), path=path, key="bus")
    out = dict(BUS_DEFAULTS)
    for key, value in table.items():
        if key not in BUS_DEFAULTS:
            raise BusConfigError("%s[bus] has no key %r, expected %s" % (_where(path), key, ", ".join(BUS_DEFAULTS)),
                                 path=path, key="bus." + key)
        if key == "start_utc":
            out[key] = parse_start_utc(value, path)
        elif key == "time_scale":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1e6:
                raise BusConfigError("%sbus.time_scale must be a number in (0, 1e6], got %r" % (_where(path), value),
                                     path=path, key="bus.time_scale")
            out[key] = float(value)
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise BusConfigError("%sbus.%s must be a whole number, got %r" % (_where(path), key, value),
                                     path=path, key="bus." + key)
            out[key] = value
    return out


def _meter_configs(entries, path):
    if not isinstance(entries, list) or not entries:
        raise BusConfigError("%sno meters: add at least one [[meter]] table with an address" % _where(path),
                             path=path, key="meter")
    seen = {}
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise BusConfigError("%smeter %d must be a table" % (_where(path), i), path=path, index=i, key="meter")
        address = check_address(entry.get("address"), path, i)
        if address in seen:
            raise BusConfigError("%smeter %d: address %s is already used by meter %d"
                                 % (_where(path), i, address, seen[address]),
                                 path=path, index=i, address=address, key="address")
        seen[address] = i
        out.append(dict(entry))
    return out


def _fault_configs(entries, addresses, path):
    if not isinstance(entries, list):
        raise BusConfigError("%sfault must be an array of tables ([[fault]])" % _where(path), path=path, key="fault")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise BusConfigError("%sfault %d must be a table" % (_where(path), i), path=path, index=i, key="fault")
        params = dict(entry)
        kind = params.pop("kind", None)
        address = params.pop("address", None)
        what = "%sfault %d (%s%s)" % (_where(path), i, kind, ", meter %s" % address if address else "")
        if kind is None:
            raise BusConfigError("%s: kind is missing" % what, path=path, index=i, address=address, key="kind")
        try:
            check_fault(kind, address, params)
        except FaultError as exc:
            raise BusConfigError("%s: %s" % (what, exc), path=path, index=i, address=address,
                                 key=exc.key or "kind") from exc
        if address is not None and address not in addresses:
            raise BusConfigError("%s: no [[meter]] has address %s" % (what, address),
                                 path=path, index=i, address=address, key="address")
        out.append(dict(entry))
    return out


def load_bus_config(path):
    """Read a meters file.

    Args:
        path: the TOML file.

    Returns:
        (meters, settings): the ``[[meter]]`` tables as a list of dicts, and
        the bus settings (``BUS_DEFAULTS`` keys, ``start_utc`` as epoch
        seconds or None) plus ``faults``, the ``[[fault]]`` tables.

    Raises:
        BusConfigError: unreadable file, bad TOML, unknown or bad key, a meter
            without a valid unique address, a bad fault. Meter keys other
            than the address are checked by ``build_meters``.
    """
    path = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise BusConfigError("cannot read meters file %s: %s" % (path, exc.strerror or exc), path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise BusConfigError("%s: invalid TOML: %s" % (path, exc), path=path) from exc
    for key in doc:
        if key not in _TOP_KEYS:
            raise BusConfigError("%s: unknown top-level key %r, expected [bus], [[meter]] or [[fault]]" % (path, key),
                                 path=path, key=key)
    settings = _settings(doc.get("bus", {}), path)
    meters = _meter_configs(doc.get("meter"), path)
    settings["faults"] = _fault_configs(doc.get("fault", []), {m["address"] for m in meters}, path)
    return meters, settings


def _meter_problem(exc):
    """The firmware's complaint without its own "meter ADDR:" prefix (the caller
    names the entry), and with the nearest key suggested for a misspelt one."""
    from firmware_sim.meter._config import DEFAULTS
    if exc.key is None:
        return str(exc)
    if exc.key not in DEFAULTS:
        close = difflib.get_close_matches(exc.key.lower(), list(DEFAULTS) + list(WIRING_KEYS), n=1)
        hint = "; did you mean %r?" % close[0] if close else "; the keys are listed in docs/simulator.md"
        return "unknown key %r%s" % (exc.key, hint)
    return "key %r must be %s, got %r" % (exc.key, exc.expected, exc.got)


def build_meters(configs, now_s, path=None):
    """Make meters from config dicts (or pass meter objects through).

    The bus's own keys (``supplies``, ``loss_pct``, ``ct_ratio``,
    ``pt_ratio``; see ``_supply``) are taken out before the rest goes to the
    firmware. Supply meters are built after the meters they feed, then made
    to follow them.

    Args:
        configs: dicts for ``firmware_sim.meter.Meter``, or ready meter objects.
        now_s: simulation UTC epoch seconds at start.
        path: the file they came from, for messages.

    Returns:
        list of meters, in the order given.

    Raises:
        BusConfigError: a config the meter firmware rejects, or bad wiring
            keys, naming the entry and key.
    """
    from firmware_sim.meter import Meter, MeterConfigError
    firmware, wirings, addresses = [], [], []
    for i, config in enumerate(configs):
        if not isinstance(config, dict):
            firmware.append(config)
            wirings.append(Wiring())
            addresses.append(config.address)
            continue
        address = check_address(config.get("address"), path, i)
        rest, wiring = split_wiring(config, path, i)
        firmware.append(rest)
        wirings.append(wiring)
        addresses.append(address)
    supplies = resolve_supplies(wirings, addresses, path)
    out = [None] * len(firmware)

    def build(i, config):
        try:
            return Meter(config, now_s)
        except MeterConfigError as exc:
            raise BusConfigError("%smeter %d (address %s): %s" % (_where(path), i, addresses[i], _meter_problem(exc)),
                                 path=path, index=i, address=addresses[i], key=exc.key) from exc

    for i, config in enumerate(firmware):
        if i not in supplies:
            out[i] = build(i, config) if isinstance(config, dict) else config
    for i, fed_indexes in supplies.items():
        fed = []
        for j in fed_indexes:
            if not hasattr(out[j], "ledger"):
                raise BusConfigError("%smeter %d (address %s): key 'supplies' must name simulated DL/T 645 "
                                     "meters, got %s" % (_where(path), i, addresses[i], addresses[j]),
                                     path=path, index=i, address=addresses[i], key="supplies")
            fed.append((out[j], wirings[j]))
        config = dict(firmware[i])
        config.setdefault("base_kw", history_base_kw(fed, wirings[i]))
        out[i] = follow(build(i, config), fed, wirings[i], now_s)
    return out
