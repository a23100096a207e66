"""Injected faults of a simulated HTTP service: a sans-I/O table of what to do next.

The service asks ``FaultPlan.on_call(write)`` before handling each request
(admin calls excepted) and gets a ``CallFault`` back: refuse, fail with a
status, wait, or (for a write) apply and then hold the reply. Counted faults
are used up one call at a time and disappear at zero.

Generic kinds, shared by the back office and every provider:

=========== ===================== ================================================
kind        parameters            effect
=========== ===================== ================================================
down        mode 503|refuse,      every call gets 503 (nothing done), or the port
            for_ms (0 = until     is closed so connections are refused
            cleared)
slow        delay_ms              every call waits before it is handled
fail        count, status         the next count calls get status (500, 502, 503,
            500|502|503|504       504) and nothing is done
hang        count, hang_ms        the next count writes are applied, then the
                                  reply is held hang_ms and never delivered
=========== ===================== ================================================

``hang`` is the case the kiosk must survive without charging twice: the
money moved but the reply was lost (promise 5). Providers add their own
kinds (``decline``, ``delay_confirm``, ``duplicate_notify``) through
``extra_kinds``; the plan only validates and counts them.

Dispatch tables are built here once and never changed.
"""

from ._errors import FaultError

# kind -> {param: spec}; a spec is (default, low, high) for an int, or a tuple of choices
# (the first is the default) for a text. A default of None means "required".
GENERIC_KINDS = {
    "down": {"mode": ("503", "refuse"), "for_ms": (0, 0, 3600000)},
    "slow": {"delay_ms": (None, 1, 600000)},
    "fail": {"count": (1, 1, 100000), "status": ("503", "500", "502", "504")},
    "hang": {"count": (1, 1, 100000), "hang_ms": (60000, 1, 3600000)},
}


class CallFault:
    """What to do with one call: fields are None/0 when the fault is not active.

    Attributes:
        refuse: the port should be closed (down, mode refuse).
        status: reply with this HTTP status and do nothing (down 503 or fail).
        code: the error code of that reply: "down" or "injected-failure".
        delay_s: wait this long before handling the call (slow).
        hang_s: apply the call, then hold the reply this long and drop it (hang).
    """

    __slots__ = ("refuse", "status", "code", "delay_s", "hang_s")

    def __init__(self, refuse=False, status=None, code=None, delay_s=0.0, hang_s=None):
        self.refuse = refuse
        self.status = status
        self.code = code
        self.delay_s = delay_s
        self.hang_s = hang_s


class FaultPlan:
    """The active faults of one service.

    Args:
        extra_kinds: more kinds, in the same form as ``GENERIC_KINDS``.
    """

    def __init__(self, extra_kinds=None):
        self.kinds = dict(GENERIC_KINDS)
        self.kinds.update(extra_kinds or {})
        self._active = {}

    def set(self, kind, **params):
        """Activate (or replace) a fault.

        Args:
            kind: one of ``self.kinds``.
            **params: its parameters; ints for numbers (text digits are accepted from
                forms), text for choices.

        Returns:
            dict: the fault as stored, ``kind`` plus every parameter with defaults filled in.

        Raises:
            FaultError: unknown kind, unknown parameter, missing or out-of-range value.
        """
        spec = self.kinds.get(kind)
        if spec is None:
            raise FaultError("unknown fault kind %r; expected one of %s" % (kind, ", ".join(sorted(self.kinds))),
                             kind=kind)
        for key in params:
            if key not in spec:
                raise FaultError("fault %s has no parameter %r; it takes %s" % (kind, key, ", ".join(spec) or
                                                                               "none"), kind=kind, key=key)
        fault = {"kind": kind}
        for key, rule in spec.items():
            fault[key] = _check_param(kind, key, rule, params.get(key))
        self._active[kind] = fault
        return dict(fault)

    def clear(self, kind=None):
        """Remove one fault kind, or all with None. Returns how many were removed.

        Raises:
            FaultError: unknown kind.
        """
        if kind is None:
            n = len(self._active)
            self._active.clear()
            return n
        if kind not in self.kinds:
            raise FaultError("unknown fault kind %r; expected one of %s" % (kind, ", ".join(sorted(self.kinds))),
                             kind=kind)
        return 1 if self._active.pop(kind, None) is not None else 0

    def active(self):
        """The active faults, as a list of dicts sorted by kind."""
        return [dict(self._active[k]) for k in sorted(self._active)]

    def get(self, kind):
        """The active fault of this kind as a dict, or None."""
        fault = self._active.get(kind)
        return None if fault is None else dict(fault)

    def take(self, kind):
        """Use up one count of a counted fault (or read an uncounted one).

        Returns:
            dict or None: the fault's parameters if it is active, else None.
        """
        fault = self._active.get(kind)
        if fault is None:
            return None
        if "count" in fault:
            fault["count"] -= 1
            if fault["count"] <= 0:
                del self._active[kind]
        return dict(fault)

    def on_call(self, write):
        """Decide what the generic faults do to one call.

        Args:
            write: True for a call that changes state (post, create, refund); only those hang.

        Returns:
            CallFault
        """
        down = self._active.get("down")
        if down is not None:
            if down["mode"] == "refuse":
                return CallFault(refuse=True)
            return CallFault(status=503, code="down")
        fault = CallFault()
        slow = self._active.get("slow")
        if slow is not None:
            fault.delay_s = slow["delay_ms"] / 1000.0
        fail = self.take("fail")
        if fail is not None:
            fault.status = int(fail["status"])
            fault.code = "injected-failure"
            return fault
        if write:
            hang = self.take("hang")
            if hang is not None:
                fault.hang_s = hang["hang_ms"] / 1000.0
        return fault


def _check_param(kind, key, rule, value):
    if all(isinstance(r, str) for r in rule):
        if value is None:
            return rule[0]
        value = str(value)
        if value not in rule:
            raise FaultError("fault %s: %s must be one of %s, got %r" % (kind, key, ", ".join(rule), value),
                             kind=kind, key=key)
        return value
    default, low, high = rule
    if value is None:
        if default is None:
            raise FaultError("fault %s needs %s (%d-%d)" % (kind, key, low, high), kind=kind, key=key)
        return default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise FaultError("fault %s: %s must be an integer %d-%d, got %r" % (kind, key, low, high, value),
                         kind=kind, key=key)
    return value
