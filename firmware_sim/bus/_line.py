"""Many meters on one half-duplex RS-485 line: the sans-I/O core of the bus.

The caller feeds the bytes the master wrote, with the monotonic time it read
them, asks when something is next due, and pops the bytes due to the master.
Nothing here reads a clock, sleeps or touches a port (STYLE.md, sans-I/O
cores); ``_server.py`` is the adapter that does.

Invariants:

1. Wire time is real monotonic time. A byte takes bits-per-character / baud
   seconds (11 bits for 8E1, DL/T 645 §1: 4.583 ms at 2400 bit/s). The
   master's bytes go out back to back from when they were written, however
   fast the pty or socket delivered them, so a request is complete on the
   wire only when its last byte has been clocked out.
2. The meters all hear the same line through one ``FrameExtractor``; each
   whole frame is offered to every meter that is not absent, with the
   simulation time at the frame's last byte. A reply starts the meter's reply
   delay (DL/T 645 §16: 20–500 ms, plus any ``slow`` fault) after that last
   byte, exactly, whenever the adapter got round to it, and is clocked out
   at wire speed.
3. Overlapping transmissions garble each other as described in ``_wire``
   (byte-wise AND aligned by wire slots, parity errors read as 0x00); the
   master's receiver is deaf to its own transmitter, the meters' is not, so
   a request sent into a reply is garbled for the meters too.
4. Simulation time is ``start_utc + (t - t0) * time_scale``; it drives the
   meters (energy, clock) only, never the wire.
5. Faults are looked up when used, so a fault set or expired between a
   request and its reply applies as of the request's end.
"""

import random

from protocols.dlt645 import FrameExtractor

from ._errors import BusConfigError, FaultError
from ._faults import CLOCK_KINDS, FAULT_KINDS, GENERATOR_KINDS, Fault, check_fault
from ._wire import PARITY_BITS, Receiver, Wire

MASTER = "master"
NOISE = "noise"
STAT_KEYS = (
    "requests_seen",        # whole request frames (D7 = 0) the meters' side extracted
    "frames_seen",          # all whole frames the meters' side extracted, replies included
    "replies_sent",         # replies put on the line
    "replies_suppressed",   # replies a silent meter did not send
    "collisions",           # transmissions that started or ran over another one
    "bytes_from_master",
    "bytes_to_master",
    "bytes_garbled",        # bytes to the master changed by a collision or noise overlap
    "parity_errors",        # of those, read as 0x00 after a failed parity check
    "bytes_corrupted",      # reply bytes with a bit flipped by a corrupt fault
    "noise_bytes",
    "babble_bytes",
    "meter_errors",         # exceptions raised by a meter's handle(): firmware bugs
)


# A jump longer than a meter's whole history limit (history_days, 3660) only
# burns CPU in the meters' hour-by-hour catch-up.
_MAX_ADVANCE_S = 3660 * 86400


def _ns(t):
    return int(round(t * 1e9))


class Bus:
    """Meters joined on one simulated half-duplex line (sans I/O).

    Args:
        meters: objects with ``address``, ``reply_delay_ms``, ``drift_ppm``,
            ``set_clock_error(s)`` and ``handle(frame, now_s) -> bytes | None``
            (``firmware_sim.meter.Meter``).
        baud: line rate in bit/s.
        bits_per_byte: bits per character on the wire: 11 for 8E1 (DL/T 645),
            10 for 8N1.
        t0: monotonic time (s) at which the simulation clock reads ``start_utc``.
        start_utc: simulation UTC epoch seconds at ``t0``.
        time_scale: simulated seconds per real second (meters only).
        seed: seed of the fault RNG (corruption, noise, babble); None for a
            fresh one. The seed used is kept in ``seed``.
        parity: characters carry a parity bit; default: when 11 bits a byte.

    Raises:
        BusConfigError: bad rate, framing or clock settings, or two meters
            with one address.
    """

    def __init__(self, meters, baud=2400, bits_per_byte=PARITY_BITS, t0=0.0, start_utc=0.0, time_scale=1.0,
                 seed=None, parity=None):
        if isinstance(baud, bool) or not isinstance(baud, int) or not 50 <= baud <= 1000000:
            raise BusConfigError("baud must be a whole number of bit/s in 50..1000000, got %r" % (baud,), key="baud")
        if isinstance(bits_per_byte, bool) or bits_per_byte not in (9, 10, 11, 12):
            raise BusConfigError("bits_per_byte must be 9..12 (11 for 8E1, 10 for 8N1), got %r" % (bits_per_byte,),
                                 key="bits_per_byte")
        if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not 0 < time_scale <= 1e6:
            raise BusConfigError("time_scale must be a number in (0, 1e6], got %r" % (time_scale,), key="time_scale")
        self.baud = baud
        self.bits_per_byte = bits_per_byte
        self.byte_ns = int(round(bits_per_byte * 1e9 / baud))
        self.t0 = t0
        self.start_utc = float(start_utc)
        self.time_scale = float(time_scale)
        if seed is None:
            seed = random.SystemRandom().randrange(1 << 32)
        self.seed = seed
        self._rng = random.Random(seed)
        self._meters = {}
        for i, meter in enumerate(meters):
            if meter.address in self._meters:
                raise BusConfigError("meter %d: address %s is already used by another meter on this line"
                                     % (i, meter.address), index=i, address=meter.address, key="address")
            self._meters[meter.address] = meter
        self._wire = Wire(self.byte_ns, parity=(bits_per_byte == PARITY_BITS) if parity is None else parity)
        self._master_rx = Receiver(self._wire, deaf_to=(MASTER,))
        self._meter_rx = Receiver(self._wire)
        self._extractor = FrameExtractor()
        self._master_free_ns = None
        self._out = bytearray()
        self._out_due_ns = None
        self._faults = {}
        self._base_drift = {}
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self.replies_by_meter = dict.fromkeys(self._meters, 0)
        self.last_meter_error = None

    # ---- clocks -------------------------------------------------------------

    @property
    def byte_time_s(self):
        """Wire time of one character in seconds."""
        return self.byte_ns / 1e9

    def wire_time_s(self, nbytes):
        """Wire time of ``nbytes`` characters in seconds."""
        return nbytes * self.byte_ns / 1e9

    def sim_now(self, t):
        """Simulation UTC epoch seconds at monotonic time ``t``."""
        return self.start_utc + (t - self.t0) * self.time_scale

    def advance(self, seconds):
        """Jump the simulation clock ``seconds`` ahead, at once.

        The meters see the jump at the next frame they hear: they add the
        energy of the span hour by hour and take the freezes and settlements
        of every midnight in it, as after a clock jump (firmware catch-up).
        Wire timing and fault windows stay on real time. A test uses this to
        run days of meter time in moments, in step with a clock it injects
        into the master.

        Raises:
            BusConfigError: ``seconds`` is not a number from 0 to 10 years.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 <= seconds <= _MAX_ADVANCE_S:
            raise BusConfigError("advance needs seconds from 0 to %d, got %r" % (_MAX_ADVANCE_S, seconds),
                                 key="seconds")
        self.start_utc += float(seconds)

    # ---- state --------------------------------------------------------------

    @property
    def meters(self):
        """The meters by address (a copy of the mapping; the meters themselves are live)."""
        return dict(self._meters)

    @property
    def stats(self):
        """A snapshot of the counters (see ``STAT_KEYS``)."""
        out = dict(self._stats)
        out["collisions"] = self._wire.collisions
        return out

    @property
    def extractor_discards(self):
        """Discard counters of the meters' side frame extractor."""
        return dict(self._extractor.discards)

    # ---- the master's side ----------------------------------------------------

    def feed(self, data, t):
        """Bytes the master wrote, read at monotonic time ``t``.

        They go on the wire back to back from ``t``, or from the end of the
        master's previous bytes if those are still being clocked out.
        """
        if not data:
            return
        now_ns = _ns(t)
        self._advance(now_ns)
        start = now_ns if self._master_free_ns is None else max(now_ns, self._master_free_ns)
        self._master_free_ns = start + len(data) * self.byte_ns
        self._wire.add(MASTER, "request", start, bytes(data))
        self._stats["bytes_from_master"] += len(data)

    def next_due(self):
        """Monotonic time (s) of the next thing to do, or None when the line is quiet.

        That is the end of the next character for the master or the meters,
        or the start of the next noise or babble burst. Sleep until then and
        call ``pop_due``.
        """
        due = self._out_due_ns
        for t in (self._master_rx.next_end_ns(), self._meter_rx.next_end_ns()):
            if t is not None and (due is None or t < due):
                due = t
        for fault in self._faults.values():
            if fault.next_ns is not None and (due is None or fault.next_ns < due):
                due = fault.next_ns
        return None if due is None else due / 1e9

    def pop_due(self, now):
        """Advance the line to monotonic time ``now``; return the bytes due to the master.

        Returns:
            bytes whose last bit has been clocked out by ``now``, in wire
            order (possibly empty).
        """
        self._advance(_ns(now))
        out = bytes(self._out)
        self._out = bytearray()
        self._out_due_ns = None
        return out

    # ---- the line -------------------------------------------------------------

    def _advance(self, now_ns):
        """Process, in time order, every event up to ``now_ns``."""
        while True:
            t_gen, gen = None, None
            for fault in self._faults.values():
                if fault.next_ns is not None and (t_gen is None or fault.next_ns < t_gen):
                    t_gen, gen = fault.next_ns, fault
            t_meter = self._meter_rx.next_end_ns()
            t_master = self._master_rx.next_end_ns()
            t = min(x for x in (t_gen, t_meter, t_master, now_ns + 1) if x is not None)
            if t > now_ns:
                break
            if t == t_gen:
                self._burst(gen)
            elif t == t_meter:
                self._meters_hear(self._meter_rx.take(now_ns))
            else:
                self._master_hears(self._master_rx.take(now_ns))
        self._wire.prune(now_ns)
        for key in [k for k, f in self._faults.items() if f.expired(now_ns) and f.next_ns is None]:
            del self._faults[key]

    def _master_hears(self, ch):
        if not self._out:
            self._out_due_ns = ch.end_ns
        self._out.append(ch.value)
        self._stats["bytes_to_master"] += 1
        if ch.garbled:
            self._stats["bytes_garbled"] += 1
        if ch.parity_error:
            self._stats["parity_errors"] += 1

    def _meters_hear(self, ch):
        for frame in self._extractor.feed(bytes((ch.value,)), ch.end_ns / 1e6):
            self._offer(frame, ch.end_ns)

    def _offer(self, frame, end_ns):
        """Offer one whole frame, ended at ``end_ns``, to every meter present."""
        self._stats["frames_seen"] += 1
        if not frame[8] & 0x80:
            self._stats["requests_seen"] += 1
        now_s = self.sim_now(end_ns / 1e9)
        for address, meter in self._meters.items():
            if self._fault(address, "absent", end_ns) is not None:
                continue
            try:
                reply = meter.handle(frame, now_s)
            except Exception as exc:    # a firmware bug must not take the line down; it is counted
                self._stats["meter_errors"] += 1
                self.last_meter_error = (address, "%s: %s" % (type(exc).__name__, exc))
                continue
            if not reply:
                continue
            if self._fault(address, "silent", end_ns) is not None:
                self._stats["replies_suppressed"] += 1
                continue
            delay_ms = meter.reply_delay_ms
            slow = self._fault(address, "slow", end_ns)
            if slow is not None:
                delay_ms += slow.params["ms"]
            corrupt = self._fault(address, "corrupt", end_ns)
            if corrupt is not None:
                reply = self._flip_bits(reply, corrupt.params["prob"])
            self._wire.add(address, "reply", end_ns + int(round(delay_ms * 1e6)), reply)
            self._stats["replies_sent"] += 1
            self.replies_by_meter[address] += 1

    def _flip_bits(self, data, prob):
        out = bytearray(data)
        rng = self._rng
        for i in range(len(out)):
            if rng.random() < prob:
                out[i] ^= 1 << rng.randrange(8)
                self._stats["bytes_corrupted"] += 1
        return bytes(out)

    def _burst(self, fault):
        """Put the due noise or babble burst on the line and schedule the next."""
        t = fault.next_ns
        n = fault.params["burst_bytes"]
        present = fault.address is None or self._fault(fault.address, "absent", t) is None
        if fault.active(t) and present:
            data = bytes(self._rng.randrange(256) for _ in range(n))
            if fault.kind == "noise":
                self._wire.add(NOISE, "noise", t, data)
                self._stats["noise_bytes"] += n
            else:
                self._wire.add(fault.address, "babble", t, data)
                self._stats["babble_bytes"] += n
        self._schedule(fault, t)

    def _schedule(self, fault, after_ns):
        """Set ``fault.next_ns`` to the next burst after ``after_ns`` (None when the window is over)."""
        if fault.kind == "noise":
            gap_s = self._rng.expovariate(fault.params["rate_per_min"] / 60.0)
        else:
            gap_s = fault.params["period_s"]
        nxt = after_ns + max(int(gap_s * 1e9), 1)
        if fault.until_ns is not None and nxt >= fault.until_ns:
            nxt = None
        fault.next_ns = nxt

    # ---- faults ---------------------------------------------------------------

    def _fault(self, address, kind, t_ns):
        fault = self._faults.get((address, kind))
        if fault is not None and fault.active(t_ns):
            return fault
        return None

    def _meter(self, address, kind):
        if address is None:
            return None
        meter = self._meters.get(address)
        if meter is None:
            raise FaultError("fault %s: no meter %s on this line (%d meters)" % (kind, address, len(self._meters)),
                             kind=kind, address=address, key="address")
        return meter

    def set_fault(self, address, kind, now, **params):
        """Inject a fault (see ``FAULT_KINDS``) at monotonic time ``now``.

        Args:
            address: the meter's 12-digit address, or None for ``noise``.
            kind: "silent", "absent", "slow", "corrupt", "drift",
                "clock_error", "babble" or "noise".
            now: monotonic time (s) the fault is set at.
            params: the kind's parameters, plus ``after_s`` (delay before it
                takes effect) and ``for_s`` (duration; omitted: until cleared).

        Returns:
            dict describing the fault, as ``faults()`` lists it.

        Raises:
            FaultError: unknown kind or meter, bad parameter. Nothing changes then.
        """
        if kind in FAULT_KINDS and FAULT_KINDS[kind][0] == "meter" and address is not None:
            address = str(address)
        params, after_s, for_s = check_fault(kind, address, params)
        meter = self._meter(address, kind)
        now_ns = _ns(now)
        self._advance(now_ns)
        from_ns = now_ns + _ns(after_s)
        until_ns = None if for_s is None else from_ns + _ns(for_s)
        fault = Fault(kind, address, params, from_ns, until_ns)
        if kind == "drift":
            self._base_drift.setdefault(address, meter.drift_ppm)
            meter.drift_ppm = params["ppm"]
        elif kind == "clock_error":
            meter.set_clock_error(params["error_s"])
        elif kind in GENERATOR_KINDS:
            if kind == "babble":
                # A random phase, so several babblers do not fire in step.
                fault.next_ns = from_ns + int(self._rng.random() * params["period_s"] * 1e9)
            else:
                self._schedule(fault, from_ns)
        self._faults[(address, kind)] = fault
        return fault.describe(now_ns)

    def clear_fault(self, address=None, kind=None, now=None):
        """Remove faults; the meter behaves normally again at once.

        Args:
            address: a meter address, or None for every meter and the line.
            kind: one kind, or None for all kinds.
            now: monotonic time (s); when given, the line is first advanced to it.

        Returns:
            number of faults removed.

        Raises:
            FaultError: unknown meter or kind.
        """
        if kind is not None and kind not in FAULT_KINDS:
            raise FaultError("unknown fault kind %r, expected one of %s" % (kind, ", ".join(sorted(FAULT_KINDS))),
                             kind=kind, address=address)
        if address is not None:
            address = str(address)
            self._meter(address, kind)
        if now is not None:
            self._advance(_ns(now))
        keys = [k for k in self._faults if (address is None or k[0] == address) and (kind is None or k[1] == kind)]
        for key in keys:
            addr, k = key
            if k == "drift":
                self._meters[addr].drift_ppm = self._base_drift.pop(addr, 0.0)
            elif k == "clock_error":
                self._meters[addr].set_clock_error(0.0)
            del self._faults[key]
        return len(keys)

    def faults(self, now, address=None):
        """The faults in force or scheduled at monotonic time ``now``, as dicts.

        Args:
            address: only this meter's (None: all, line-level included).
        """
        now_ns = _ns(now)
        out = []
        for (addr, kind), fault in sorted(self._faults.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            if fault.expired(now_ns) and kind not in CLOCK_KINDS:
                continue
            if address is None or addr == address:
                out.append(fault.describe(now_ns))
        return out
