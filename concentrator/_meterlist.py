"""Lists of meters to poll, given on the command line or in a TOML file.

Until the meter archive exists, ``concentrator poll`` takes the meters from a
file in the simulator's format (``[[meter]]`` tables with ``address`` and
``std``; other keys are ignored) or from ``--meter ADDR[:1997]`` options.
"""

import tomllib

from protocols.dlt645 import DLT645Error, normalize_address

from ._errors import ConcentratorError


class MeterListError(ConcentratorError):
    """A meter list file or option is malformed."""


def parse_meter_option(text):
    """``202311150042`` or ``000012345678:1997`` -> (address, std)."""
    address, _sep, std = text.partition(":")
    std = std or "2007"
    if std not in ("2007", "1997"):
        raise MeterListError("meter %r: edition %r is not 2007 or 1997" % (text, std))
    try:
        return normalize_address(address), std
    except DLT645Error as exc:
        raise MeterListError("meter %r: %s" % (text, exc)) from exc


def load_meter_file(path):
    """Read (address, std) pairs from the ``[[meter]]`` tables of a TOML file.

    Raises:
        MeterListError: unreadable file, bad TOML, or a bad entry (named by index).
    """
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise MeterListError("cannot read meter file %s: %s" % (path, exc.strerror or exc)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise MeterListError("meter file %s is not valid TOML: %s" % (path, exc)) from exc
    entries = doc.get("meter")
    if not isinstance(entries, list) or not entries:
        raise MeterListError("meter file %s has no [[meter]] tables" % path)
    meters = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or "address" not in entry:
            raise MeterListError("meter file %s, meter %d: no address" % (path, i))
        std = str(entry.get("std", "2007"))
        if std not in ("2007", "1997"):
            raise MeterListError("meter file %s, meter %d (%s): std %r is not 2007 or 1997"
                                 % (path, i, entry["address"], std))
        try:
            meters.append((normalize_address(str(entry["address"])), std))
        except DLT645Error as exc:
            raise MeterListError("meter file %s, meter %d: %s" % (path, i, exc)) from exc
    return meters
