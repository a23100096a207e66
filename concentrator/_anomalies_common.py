"""What anomaly detection and line loss share: their error family, config checking, energy deltas.

Sans I/O: nothing here reads a clock, a file or a socket. Config tables are
built at import and never mutated; a config is validated as a whole before
any value of it is used (STYLE "validate before mutating").

The energy rule (docs/anomalies.md, "Register rollover and replacement"):
an energy register counts modulo ``register_wrap_kwh`` (DL/T 645 energy is
XXXXXX.XX, so 1,000,000 kWh). A later reading below an earlier one is

* jitter when it is at most ``tolerance_kwh`` lower (the delta is 0);
* a rollover when ``end + wrap - start`` is at most ``rollover_max_kwh``,
  the largest advance the operator believes one interval can have (so only
  a register near its top can wrap);
* otherwise a decrease: the meter went backwards (fault, replacement not
  recorded in the archive, tampering) and the interval has no energy.
"""

import math

from ._errors import ConcentratorError


class AnalysisError(ConcentratorError):
    """Base of the errors of anomaly detection and line loss.

    Attributes:
        where: what was being checked ("anomaly config key jump_factor").
        expected: what was expected, as text.
        got: what was found.
    """

    def __init__(self, message, where=None, expected=None, got=None):
        super().__init__(message)
        self.where = where
        self.expected = expected
        self.got = got


class AnalysisConfigError(AnalysisError):
    """An anomaly or line-loss configuration is invalid (unknown key, wrong type, out of range)."""


class AnalysisInputError(AnalysisError):
    """A reading, read result, meter fact or line-loss input is malformed."""


class AnalysisStateError(AnalysisError):
    """Persisted anomaly state cannot be restored (not the structure ``state_dict`` writes)."""


# ---- config checking -----------------------------------------------------------

class Key:
    """One config key: its kind ("int" or "number"), default, inclusive range and why the default."""

    __slots__ = ("name", "kind", "default", "lo", "hi", "lo_open", "why")

    def __init__(self, name, kind, default, lo, hi, why, lo_open=False):
        self.name = name
        self.kind = kind
        self.default = default
        self.lo = lo
        self.hi = hi
        self.lo_open = lo_open
        self.why = why

    def describe(self):
        lo = "(%g" % self.lo if self.lo_open else "[%g" % self.lo
        return "%s in %s, %g]" % ("an integer" if self.kind == "int" else "a number", lo, self.hi)


def is_number(value):
    """An int or a finite float, never a bool."""
    if type(value) is int:
        return True
    return type(value) is float and math.isfinite(value)


def check_config(keys, given, what):
    """Validate ``given`` (a mapping) against the ``Key`` table ``keys``; return every value, defaults filled.

    Raises:
        AnalysisConfigError: naming the key, the expected type and range, and the value found.
    """
    if not isinstance(given, dict):
        raise AnalysisConfigError("%s must be a table of keys, got %s" % (what, type(given).__name__),
                                  where=what, expected="a table", got=given)
    unknown = sorted(str(k) for k in given if k not in keys)
    if unknown:
        raise AnalysisConfigError("%s: unknown key %s (allowed: %s)" % (what, ", ".join(unknown), ", ".join(keys)),
                                  where=what, expected=tuple(keys), got=unknown[0])
    values = {}
    for name, key in keys.items():
        value = given.get(name, key.default)
        where = "%s key %s" % (what, name)
        ok_type = type(value) is int if key.kind == "int" else is_number(value)
        too_low = ok_type and (value <= key.lo if key.lo_open else value < key.lo)
        if not ok_type or too_low or (ok_type and value > key.hi):
            raise AnalysisConfigError("%s: expected %s, got %r" % (where, key.describe(), value),
                                      where=where, expected=key.describe(), got=value)
        values[name] = value
    return values


def config_error(what, rule, values):
    """An ``AnalysisConfigError`` for a cross-key rule, naming the keys' values."""
    shown = ", ".join("%s=%r" % item for item in values.items())
    return AnalysisConfigError("%s: %s (got %s)" % (what, rule, shown), where=what, expected=rule, got=values)


# ---- energy ----------------------------------------------------------------------

ADVANCE = "advance"
ROLLOVER = "rollover"
DECREASE = "decrease"


def energy_delta(start_kwh, end_kwh, wrap_kwh, rollover_max_kwh, tolerance_kwh=0.0):
    """The energy a register advanced from ``start_kwh`` to ``end_kwh`` (see the module's rule).

    Args:
        start_kwh, end_kwh: register readings (numbers, in register units).
        wrap_kwh: the register counts modulo this.
        rollover_max_kwh: the largest advance accepted as a wrap.
        tolerance_kwh: a drop of at most this much counts as no movement.

    Returns:
        (delta_kwh, how): how is "advance" (delta >= 0, rollovers excluded),
        "rollover" (delta is the wrapped advance) or "decrease" (delta is
        ``end - start``, negative, and the interval has no energy).
    """
    if end_kwh >= start_kwh:
        return end_kwh - start_kwh, ADVANCE
    if start_kwh - end_kwh <= tolerance_kwh:
        return 0.0, ADVANCE
    wrapped = end_kwh + wrap_kwh - start_kwh
    if 0 <= wrapped <= rollover_max_kwh:
        return wrapped, ROLLOVER
    return end_kwh - start_kwh, DECREASE


def clip(text, limit=512):
    """``text`` cut to ``limit`` characters (record detail fields are bounded)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def fmt(number):
    """A number for a detail sentence: at most 3 decimals, no trailing zeros."""
    if type(number) is int:
        return str(number)
    text = "%.3f" % number
    text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
