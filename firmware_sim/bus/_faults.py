"""Fault kinds the bus can inject, their parameters and their validation.

A fault is ``(address, kind, params)``; ``address`` is None for line-level
kinds. Every kind except the clock ones is windowed: it takes effect
``after_s`` seconds after it is set and, with ``for_s``, ends by itself
(an absent meter comes back). Setting the same kind on the same meter again
replaces the earlier one. Windows run on the wire's monotonic clock, not on
the (possibly sped-up) simulation clock, so "absent for 30 s" means 30 s of
your waiting.

The table is built at import and never changed.
"""

import math

from ._errors import FaultError

_REQUIRED = object()

# kind -> (scope, {param: default or _REQUIRED}, help)
FAULT_KINDS = {
    "silent": ("meter", {}, "receives and acts on requests but never answers (dead transmitter)"),
    "absent": ("meter", {}, "gone from the line: hears nothing, answers nothing, until it comes back"),
    "slow": ("meter", {"ms": _REQUIRED}, "answers ms later than its reply delay"),
    "corrupt": ("meter", {"prob": _REQUIRED}, "each reply byte gets one flipped bit with probability prob"),
    "drift": ("meter", {"ppm": _REQUIRED}, "its clock runs ppm parts per million fast (negative: slow)"),
    "clock_error": ("meter", {"error_s": _REQUIRED}, "its clock is set error_s seconds off"),
    "babble": ("meter", {"period_s": 5.0, "burst_bytes": 16},
               "emits burst_bytes random bytes every period_s seconds, whether asked or not"),
    "noise": ("line", {"rate_per_min": _REQUIRED, "burst_bytes": 6},
              "random bursts of burst_bytes random bytes, rate_per_min on average (Poisson)"),
}

# Kinds applied to the meter once rather than checked on every frame.
CLOCK_KINDS = ("drift", "clock_error")
# Kinds that put bytes on the line by themselves.
GENERATOR_KINDS = ("babble", "noise")
WINDOW_PARAMS = ("after_s", "for_s")

# Limits: the standard allows a reply delay up to 500 ms (§16); "slow" goes
# far beyond it to model a meter that misses any sane timeout. A burst longer
# than a maximal frame (12 + 255 bytes, §17) adds nothing.
_LIMITS = {
    "ms": (0.0, 60000.0),
    "prob": (0.0, 1.0),
    "ppm": (-100000.0, 100000.0),
    "error_s": (-10 * 366 * 86400.0, 10 * 366 * 86400.0),
    "period_s": (0.01, 86400.0),
    "burst_bytes": (1, 267),
    "rate_per_min": (0.001, 60000.0),
    "after_s": (0.0, 366 * 86400.0),
    "for_s": (0.001, 366 * 86400.0),
}
_INTEGER = ("burst_bytes",)


def _number(kind, address, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultError("fault %s: %s must be a number, got %r" % (kind, key, value),
                         kind=kind, address=address, key=key)
    if key in _INTEGER and value != int(value):
        raise FaultError("fault %s: %s must be a whole number, got %r" % (kind, key, value),
                         kind=kind, address=address, key=key)
    lo, hi = _LIMITS[key]
    if not math.isfinite(value) or not lo <= value <= hi:
        raise FaultError("fault %s: %s = %r is outside %s..%s" % (kind, key, value, lo, hi),
                         kind=kind, address=address, key=key)
    return int(value) if key in _INTEGER else float(value)


def check_fault(kind, address, params):
    """Validate a fault request.

    Args:
        kind: one of ``FAULT_KINDS``.
        address: meter address, or None for line-level kinds.
        params: the kind's parameters plus optional ``after_s`` / ``for_s``.

    Returns:
        (params with defaults filled in, after_s, for_s or None).

    Raises:
        FaultError: unknown kind, address given or missing for the scope,
            unknown or missing parameter, value of the wrong type or range.
    """
    if kind not in FAULT_KINDS:
        raise FaultError("unknown fault kind %r, expected one of %s" % (kind, ", ".join(sorted(FAULT_KINDS))),
                         kind=kind, address=address)
    scope, spec, _ = FAULT_KINDS[kind]
    if scope == "line" and address is not None:
        raise FaultError("fault %s is line-level and takes no meter address (got %s)" % (kind, address),
                         kind=kind, address=address, key="address")
    if scope == "meter" and address is None:
        raise FaultError("fault %s needs a meter address" % kind, kind=kind, key="address")
    out = {}
    for key in params:
        if key not in spec and key not in WINDOW_PARAMS:
            allowed = sorted(spec) + ([] if kind in CLOCK_KINDS else list(WINDOW_PARAMS))
            raise FaultError("fault %s has no parameter %r, expected %s" % (kind, key, ", ".join(allowed) or "none"),
                             kind=kind, address=address, key=key)
        if key in WINDOW_PARAMS and kind in CLOCK_KINDS:
            raise FaultError("fault %s is applied at once and takes no %s" % (kind, key),
                             kind=kind, address=address, key=key)
    for key in spec:
        if key in params:
            out[key] = _number(kind, address, key, params[key])
        elif spec[key] is _REQUIRED:
            raise FaultError("fault %s needs %s" % (kind, key), kind=kind, address=address, key=key)
        else:
            out[key] = spec[key]
    after_s = _number(kind, address, "after_s", params["after_s"]) if "after_s" in params else 0.0
    for_s = None
    if params.get("for_s") is not None:
        for_s = _number(kind, address, "for_s", params["for_s"])
    return out, after_s, for_s


class Fault:
    """One fault in force (or scheduled) on the line.

    Attributes:
        kind, address, params: as validated by ``check_fault``.
        from_ns: when it takes effect.
        until_ns: when it ends by itself, or None.
        next_ns: for babble and noise, when the next burst starts.
    """

    __slots__ = ("kind", "address", "params", "from_ns", "until_ns", "next_ns")

    def __init__(self, kind, address, params, from_ns, until_ns):
        self.kind = kind
        self.address = address
        self.params = params
        self.from_ns = from_ns
        self.until_ns = until_ns
        self.next_ns = None

    def active(self, t_ns):
        return self.from_ns <= t_ns and (self.until_ns is None or t_ns < self.until_ns)

    def expired(self, t_ns):
        return self.until_ns is not None and t_ns >= self.until_ns

    def describe(self, now_ns):
        """A plain dict for listings: kind, address, params, and timing in s from now."""
        out = {"kind": self.kind, "address": self.address}
        out.update(self.params)
        if self.from_ns > now_ns:
            out["starts_in_s"] = round((self.from_ns - now_ns) / 1e9, 3)
        if self.until_ns is not None:
            out["ends_in_s"] = round(max(0, self.until_ns - now_ns) / 1e9, 3)
        return out

    def __repr__(self):
        return "Fault(%s, %s, %r)" % (self.kind, self.address, self.params)
