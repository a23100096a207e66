"""Transformer-area supply meters (台区总表): energy that follows the meters they feed (M-13).

A supply meter is an ordinary simulated meter (``firmware_sim.meter.Meter``:
it answers every DL/T 645 request the same way) whose power is not drawn
from its own load profile but follows the customer meters it feeds:

    P_primary = S + |S| x loss_pct / 100,   S = sum of (fed meter's net power x its CT x PT)
    P_meter   = P_primary / (ct_ratio x pt_ratio)      (what its registers see: the secondary side)

For S >= 0 this is S x (1 + loss_pct / 100); when the area exports (PV), the
loss still comes off, so the transformer gets less than the customers send.

Invariants:

* Over any span of simulation time, whatever the time scale, the supply
  meter's forward minus reverse active energy (in mJ, exact to 1 mJ) times
  its CT x PT equals the fed meters' forward minus reverse energy times
  their own CT x PT, plus the loss. The fed meters' energy is taken from
  their registers, not recomputed, so outages, open relays, clock jumps and
  drift on their side are followed too.
* The fed meters' registers are the secondary side: ``ct_ratio`` and
  ``pt_ratio`` of a customer meter do not change what it registers (its
  ``base_kw`` is what it measures), they say what that is worth upstream.

Why a ledger subclass. The firmware ``Ledger`` integrates power that is
constant over each hour of the meter's own clock: ``run`` asks ``_values``
(cached per local hour) and adds whole-W x ms to the registers. A supply
meter's power changes whenever any fed meter's does (at each of their local
hours, which drift apart, at their outages and relay operations) and is not
a whole number of W once loss and ratios are applied. The firmware has no
hook for that and must stay small on a board, so it is left unchanged, and
``_FollowingLedger`` overrides the three places where power enters:

* ``run`` cuts the span it is given at the next local hour boundary of any
  fed meter, advances the fed meters to each cut, takes their register
  advance, and runs the firmware's integration over the piece with the
  power that advance implies;
* ``_values`` returns that power (fractional W) instead of the profile's;
* ``_add`` carries the fractions of a mJ, so the registers stay integers
  and ``total == T1 + T2 + T3 + T4`` still holds;
* ``_windows`` gets whole W, as maximum demand is kept in 0.0001 kW.

The meter is built as usual (its history comes from its own load model,
``base_kw`` by default the fed meters' average net load seen through the
ratios), then its ledger is taken over by a ``_FollowingLedger`` holding the
same state. Everything else (freezes, settlements, tariffs by its own
clock, maximum demand, instantaneous values) stays the firmware's.

Not modelled: a supply meter's own outage or open relay does not cut the
customers off (it only stops registering), and the power between two cuts
is the average over the piece (exact in energy).
"""

import math

from firmware_sim.meter._ledger import HOUR_MS, Q_FWD, Q_REV, Ledger
from firmware_sim.meter._model import iround

from ._errors import BusConfigError

_NUMBER = (int, float)
WIRING_KEYS = ("supplies", "loss_pct", "ct_ratio", "pt_ratio")
# A loss above half of what is supplied is a fault, not a loss; ratios reach 100 000 (HV CTs x PTs).
_LIMITS = {"loss_pct": (0.0, 50.0), "ct_ratio": (0.0, 100000.0), "pt_ratio": (0.0, 100000.0)}


def _where(path):
    return "%s: " % path if path is not None else ""


def _bad(path, index, address, key, expected, got):
    return BusConfigError("%smeter %d (address %s): key %r must be %s, got %r"
                          % (_where(path), index, address, key, expected, got),
                          path=path, index=index, address=address, key=key)


class Wiring:
    """How one meter is connected: its CT and PT ratios, and what it supplies.

    Attributes:
        ct_ratio, pt_ratio: primary energy = register energy x ct_ratio x pt_ratio.
        supplies: None for an ordinary meter; "all" or a tuple of addresses for a supply meter.
        loss_pct: technical loss of the area behind a supply meter (percent of what it supplies).
    """

    __slots__ = ("ct_ratio", "pt_ratio", "supplies", "loss_pct")

    def __init__(self, ct_ratio=1.0, pt_ratio=1.0, supplies=None, loss_pct=0.0):
        self.ct_ratio, self.pt_ratio, self.supplies, self.loss_pct = ct_ratio, pt_ratio, supplies, loss_pct

    @property
    def ratio(self):
        return self.ct_ratio * self.pt_ratio


def split_wiring(config, path=None, index=0):
    """Take the bus's wiring keys out of a ``[[meter]]`` table.

    Args:
        config: the table (not changed).
        path, index: where it came from, for messages.

    Returns:
        (the firmware's config without the wiring keys, ``Wiring``).

    Raises:
        BusConfigError: a wiring key of the wrong type or range, or
            ``loss_pct`` on a meter that supplies nothing.
    """
    address = config.get("address")
    rest = {k: v for k, v in config.items() if k not in WIRING_KEYS}
    values = {}
    for key, (lo, hi) in _LIMITS.items():
        if key not in config:
            continue
        v = config[key]
        if isinstance(v, bool) or not isinstance(v, _NUMBER):
            ok = False
        elif key == "loss_pct":
            ok = lo <= v <= hi
        else:
            ok = lo < v <= hi
        if not ok:
            what = "a number from %g to %g" % (lo, hi) if key == "loss_pct" else "a number above 0, at most %g" % hi
            raise _bad(path, index, address, key, what, v)
        values[key] = float(v)
    supplies = config.get("supplies")
    if supplies is not None:
        ok = supplies == "all" or (isinstance(supplies, list) and supplies and all(
            isinstance(a, str) and len(a) == 12 and a.isdigit() for a in supplies))
        if not ok:
            raise _bad(path, index, address, "supplies", "\"all\" or a non-empty list of 12-digit addresses",
                       supplies)
        if isinstance(supplies, list):
            if address in supplies:
                raise _bad(path, index, address, "supplies", "other meters than itself", supplies)
            if len(set(supplies)) != len(supplies):
                raise _bad(path, index, address, "supplies", "each address once", supplies)
            supplies = tuple(supplies)
    elif "loss_pct" in values:
        raise _bad(path, index, address, "loss_pct", "given only with supplies (a supply meter)",
                   values["loss_pct"])
    return rest, Wiring(values.get("ct_ratio", 1.0), values.get("pt_ratio", 1.0), supplies,
                        values.get("loss_pct", 0.0))


def resolve_supplies(wirings, addresses, path=None):
    """The meters each supply meter feeds.

    Args:
        wirings: ``Wiring`` per meter, in file order.
        addresses: the meters' addresses, in the same order.

    Returns:
        {supply index: [fed meter indexes]}.

    Raises:
        BusConfigError: an unknown address, a supply meter fed by another, a
            meter fed by two supply meters.
    """
    index_of = {a: i for i, a in enumerate(addresses)}
    supply = [i for i, w in enumerate(wirings) if w.supplies is not None]
    fed_by = {}
    out = {}
    for i in supply:
        w = wirings[i]
        if w.supplies == "all":
            fed = [j for j, v in enumerate(wirings) if v.supplies is None]
        else:
            fed = []
            for a in w.supplies:
                if a not in index_of:
                    raise _bad(path, i, addresses[i], "supplies", "addresses of meters on this line",
                               a)
                j = index_of[a]
                if wirings[j].supplies is not None:
                    raise _bad(path, i, addresses[i], "supplies", "ordinary meters, not the supply meter %s" % a,
                               list(w.supplies))
                fed.append(j)
        for j in fed:
            if j in fed_by:
                raise _bad(path, i, addresses[i], "supplies", "meters no other supply meter feeds (%s is fed by "
                           "%s)" % (addresses[j], addresses[fed_by[j]]), w.supplies)
            fed_by[j] = i
        out[i] = fed
    return out


def history_base_kw(fed, wiring):
    """The supply meter's ``base_kw`` for its history: the fed meters' mean net load through the ratios."""
    primary = 0.0
    for meter, w in fed:
        primary += (meter.config["base_kw"] - meter.config["export_kw"]) * w.ratio
    primary = abs(primary) * (1.0 + wiring.loss_pct / 100.0)
    return min(30.0, round(primary / wiring.ratio, 4))


def follow(meter, fed, wiring, now_s):
    """Make ``meter`` a supply meter of ``fed`` from ``now_s`` on (its last advance).

    Args:
        meter: a freshly built ``Meter`` (advanced to ``now_s``).
        fed: [(Meter, Wiring)] of the meters it feeds, advanced to ``now_s``.
        wiring: the supply meter's ``Wiring``.
        now_s: simulation UTC seconds the meters were built at.
    """
    meter.ledger = _FollowingLedger.take_over(meter.ledger, fed, wiring, int(now_s * 1000))
    return meter


class _FollowingLedger(Ledger):
    """A firmware ``Ledger`` whose power follows the fed meters (see the module docstring)."""

    @classmethod
    def take_over(cls, ledger, fed, wiring, t_ms):
        new = cls.__new__(cls)
        new.__dict__.update(ledger.__dict__)
        new.fed = [(m, w.ratio) for m, w in fed]
        new.loss = wiring.loss_pct / 100.0
        new.ratio = wiring.ratio
        new.t_ms = t_ms                     # true time the fed meters were followed to
        new.power = 0.0                     # W on the meter's side, over the last piece
        new._carry = [0.0] * len(ledger.energy)
        new._seen = [(m.ledger.energy[Q_FWD][0], m.ledger.energy[Q_REV][0]) for m, _ in fed]
        return new

    # ---- what the fed meters did ------------------------------------------

    def _next_cut(self, t_ms):
        """True ms of the next local hour boundary of any fed meter after ``t_ms``."""
        nxt = None
        for m, _ in self.fed:
            clk = int(round(m.clock_s(t_ms / 1000.0) * 1000.0))
            left = (HOUR_MS - clk % HOUR_MS) / (1.0 + m.drift_ppm / 1e6)
            t = t_ms + max(1, int(math.ceil(left)))
            if nxt is None or t < nxt:
                nxt = t
        return nxt

    def _fed_energy_mj(self, t_ms):
        """Advance the fed meters to ``t_ms``; their net primary energy since the last call (mJ)."""
        now_s = (t_ms + 0.5) / 1000.0       # so int(now_s * 1000) is t_ms, not t_ms - 1
        total = 0.0
        for k, (m, ratio) in enumerate(self.fed):
            m.advance(now_s)
            fwd, rev = m.ledger.energy[Q_FWD][0], m.ledger.energy[Q_REV][0]
            fwd0, rev0 = self._seen[k]
            # A meter clear (1AH) zeroes the registers: count what came after it.
            d = (fwd - fwd0 if fwd >= fwd0 else fwd) - (rev - rev0 if rev >= rev0 else rev)
            self._seen[k] = (fwd, rev)
            total += d * ratio
        return total

    # ---- the firmware's integration, fed with that power --------------------

    def run(self, m0, m1, true_ms, live):
        if true_ms <= 0:
            Ledger.run(self, m0, m1, true_ms, live)    # a clock jump: no energy, freezes only
            return
        span = m1 - m0
        start = self.t_ms
        done, ma = 0, m0
        while done < true_ms:
            cut = min(true_ms, self._next_cut(start + done) - start)
            mb = m1 if cut == true_ms else m0 + cut * span // true_ms
            if mb == ma and cut < true_ms:
                continue_at = cut
                # the local clock has not moved (a strongly slow clock): take the next cut too
                while mb == ma and continue_at < true_ms:
                    continue_at = min(true_ms, self._next_cut(start + continue_at) - start)
                    mb = m1 if continue_at == true_ms else m0 + continue_at * span // true_ms
                cut = continue_at
            dt = cut - done
            primary = self._fed_energy_mj(start + cut) / dt
            self.power = (primary + abs(primary) * self.loss) / self.ratio
            Ledger.run(self, ma, mb, dt, live)
            done, ma = cut, mb
        self.t_ms = start + true_ms

    def _values(self, hour):
        net = self.power
        mag = abs(net)
        return net, mag * self.model.tan_phi, mag / self.model.pf, [iround(net * s) for s in self.model.shares]

    def _add(self, q, tariff, mj):
        if type(mj) is not int:
            x = mj + self._carry[q]
            whole = math.floor(x)
            self._carry[q] = x - whole
            mj = int(whole)
        Ledger._add(self, q, tariff, mj)

    def _windows(self, m0, m1, net, tariff):
        Ledger._windows(self, m0, m1, iround(net), tariff)
