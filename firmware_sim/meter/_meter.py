# MicroPython-compatible: see STYLE.md
"""The simulated meter: state, clock and the ``handle`` entry point.

``Meter`` owns the state (registers via ``Ledger``, clock, passwords, events,
relay); ``_functions`` turns parsed requests into replies and ``_reads``
computes the value of each data identifier. Sans I/O: the caller passes
frames and ``now_s`` (UTC epoch seconds of the simulation) and writes the
replies itself after ``reply_delay_ms``.

Clock model: the meter keeps ``_clk_ms``, its local clock (epoch-style ms of
local civil time) at true time ``_u_ms``. Advancing by ``dt`` true ms moves
the clock by ``dt * (1 + drift_ppm / 1e6)``; fractions of a ms are carried,
so small steps still drift. Setting the clock (08H, 14H, ``set_clock_error``)
first brings the registers up to date, then jumps; a forward jump runs the
boundaries it crosses (missed freezes are taken), a backward one never takes
a freeze twice.
"""

from protocols.dlt645 import (BROADCAST, DLT645Error, address_matches, decode_address, encode_value,
                              parse_frame)

from ._civil import DAY_S, dt6_text
from ._config import check_config
from ._errors import MeterError
from ._functions import dispatch
from ._ledger import Ledger
from ._model import LoadModel

# Event kinds -> base DI of their records (DL/T 645-2007 §13.5, DI0 01..0A).
EVENT_BASES = {
    "power_down": 0x03110000,
    "programming": 0x03300000,
    "meter_clear": 0x03300100,
    "demand_reset": 0x03300200,
    "event_clear": 0x03300300,
    "time_setting": 0x03300400,
}
EVENTS_KEPT = 10


class Meter:
    """A DL/T 645-2007 or -1997 electricity meter (see the package docstring).

    Attributes:
        address, std, reply_delay_ms, preamble, baud: as configured (``address``
            and ``baud`` change through 15H/0AH and 17H/0CH).
        drift_ppm: clock drift; may be changed at any time (applies from the
            last ``advance``).
        programming: the programming key state (15H/0AH accepted only when on).
        relay_open: True after a 1CH trip (no energy flows).
        errors, last_error: exceptions ``handle`` kept from escaping.
    """

    def __init__(self, config, now_s):
        cfg = check_config(config)
        self.config = cfg
        self.address = cfg["address"]
        self.std = cfg["std"]
        self.reply_delay_ms = cfg["reply_delay_ms"]
        self.preamble = cfg["preamble"]
        self.baud = cfg["baud"]
        self.bauds = cfg["bauds"]
        self.programming = cfg["programming"]
        self.utc_offset_s = cfg["utc_offset_s"]
        self.max_sync_correction_s = cfg["max_sync_correction_s"]
        self.meter_number = cfg["meter_number"]
        self.asset_number = cfg["asset_number"]
        self.user_number = cfg["meter_number"]
        self.device_code = cfg["meter_number"]
        self.passwords = {cfg["password_level"]: cfg["password"]}
        self.relay_open = False
        self.relay_command = 0
        self.alarm = False
        self.keep_power = False
        self.freeze_spec = None
        self.errors = 0
        self.last_error = None
        self.rejected = 0
        self.sync_refused = 0
        self.battery_minutes = 0
        self.event_counts = {}
        self.event_records = {}
        self.last_programming_min = None
        self.last_demand_reset_min = None
        if self.std == "2007":
            from ._functions07 import HANDLERS
        else:
            from ._functions97 import HANDLERS
        self.handlers = HANDLERS    # this edition's function codes only (§7)
        self.model = LoadModel(cfg)
        self.ledger = Ledger(self.model, cfg)
        self._clear_events()
        self._now_s = float(now_s)
        self._pending = None        # (di, payload) of a split 2007 read (§8 follow-up)
        self._last_read = None      # (di, payload) of the last 1997 read, for 03H
        self._off_from_ms = 0
        self._off_until_ms = 0
        self._drift_frac = 0.0
        # History: installed history_days before now, clock error constant
        # over the history (drift starts now), registers from start_kwh.
        now_ms = int(float(now_s) * 1000)
        self._u_ms = now_ms - cfg["history_days"] * DAY_S * 1000
        self._clk_ms = self._u_ms + int((cfg["utc_offset_s"] + cfg["clock_offset_s"]) * 1000)
        self.ledger.preset(cfg["start_kwh"])
        self.drift_ppm = 0.0
        self.advance(now_s)
        self.drift_ppm = cfg["clock_drift_ppm"]

    # ---- time ---------------------------------------------------------------

    def advance(self, now_s):
        """Bring registers, demand, freezes and settlements up to ``now_s``.

        Time never runs backwards: an earlier ``now_s`` changes nothing.
        """
        now_ms = int(now_s * 1000)
        while now_ms > self._u_ms:
            # Split at the edges of an injected outage (no energy inside).
            end = now_ms
            live = True
            if self._off_from_ms <= self._u_ms < self._off_until_ms:
                live = False
                end = min(now_ms, self._off_until_ms)
            elif self._u_ms < self._off_from_ms < end:
                end = self._off_from_ms
            dt = end - self._u_ms
            dclk = dt
            if self.drift_ppm:
                self._drift_frac += dt * self.drift_ppm / 1e6
                whole = int(self._drift_frac)
                self._drift_frac -= whole
                dclk += whole
            if dclk > 0:
                self.ledger.run(self._clk_ms, self._clk_ms + dclk, dt, live and not self.relay_open)
            self._clk_ms += dclk
            self._u_ms = end

    def clock_s(self, now_s):
        """The meter's local clock at ``now_s`` (epoch-style local seconds, with error and drift)."""
        dt = now_s * 1000.0 - self._u_ms
        return (self._clk_ms + self._drift_frac + dt * (1.0 + self.drift_ppm / 1e6)) / 1000.0

    def clock_error_s(self, now_s):
        """How far the meter clock is ahead of true local time at ``now_s`` (s)."""
        return self.clock_s(now_s) - now_s - self.utc_offset_s

    def set_clock_error(self, seconds):
        """Set the clock to true local time + ``seconds`` (at the last ``advance``)."""
        self._jump(self._u_ms + int((self.utc_offset_s + seconds) * 1000))

    def set_clock(self, local_s, now_s):
        """Set the meter clock to ``local_s`` at ``now_s`` (08H sync, 14H/04H time writes)."""
        self.advance(now_s)
        self._jump(int(local_s * 1000))

    def _jump(self, new_clk_ms):
        if new_clk_ms > self._clk_ms:
            self.ledger.run(self._clk_ms, new_clk_ms, 0, False)
        self._clk_ms = new_clk_ms
        self._drift_frac = 0.0

    def local_minute(self):
        """The meter clock at the last ``advance``, in local minutes."""
        return self._clk_ms // 60000

    def local_s(self):
        """The meter clock at the last ``advance``, in whole local seconds."""
        return self._clk_ms // 1000

    def power_w(self):
        """Net power flowing now (W, import > 0); 0 with the relay open or during an outage."""
        if self.relay_open or self._off_from_ms <= self._u_ms < self._off_until_ms:
            return 0
        return self.ledger.power_w(self._clk_ms)

    def power_down(self, start_s, end_s):
        """Inject a supply outage from ``start_s`` to ``end_s`` (UTC s).

        The meter is silent and accrues no energy in between; freezes still
        happen (taken on power-up, like real meters). The power-down event
        (03110000/03110001) is recorded with meter-clock start and end.

        Raises:
            MeterError: end before start, or start before the last advance.
        """
        start_ms = int(start_s * 1000)
        end_ms = int(end_s * 1000)
        if end_ms <= start_ms or start_ms < self._u_ms:
            raise MeterError("meter %s: power_down(%r, %r) needs last advance <= start < end"
                             % (self.address, start_s, end_s), address=self.address,
                             key="start_s", expected="start < end, start >= %r" % (self._u_ms / 1000.0),
                             got=(start_s, end_s))
        self.advance(start_s)
        begin = self.local_s()
        self._off_from_ms = start_ms
        self._off_until_ms = end_ms
        self.battery_minutes += (end_ms - start_ms) // 60000
        self.record_event("power_down", (dt6_text(begin), dt6_text(begin + (end_ms - start_ms) // 1000)))

    def powered(self, now_s):
        """False while an injected outage lasts."""
        now_ms = int(now_s * 1000)
        return not (self._off_from_ms <= now_ms < self._off_until_ms)

    # ---- events and passwords -------------------------------------------------

    def _clear_events(self, kinds=None):
        for kind in EVENT_BASES:
            if kinds is None or kind in kinds:
                self.event_counts[kind] = 0
                self.event_records[kind] = []
        if kinds is None or "programming" in kinds:
            self.last_programming_min = None
        if kinds is None or "demand_reset" in kinds:
            self.last_demand_reset_min = None

    def clear_events(self, kinds=None):
        """Clear the counts and records of ``kinds`` (all when None), 1BH."""
        self._clear_events(kinds)

    def record_event(self, kind, value):
        """Count an event and keep its record (encoded through the registry, last 10)."""
        self.event_counts[kind] += 1
        records = self.event_records[kind]
        records.insert(0, encode_value(EVENT_BASES[kind] + 1, value))
        if len(records) > EVENTS_KEPT:
            records.pop()
        if kind == "programming":
            self.last_programming_min = self.local_minute()
        elif kind == "demand_reset":
            self.last_demand_reset_min = self.local_minute()

    def authorized(self, password):
        """True if ``(level, digits)`` is a password the meter holds (§11)."""
        return password is not None and self.passwords.get(password[0]) == password[1]

    # ---- the wire ---------------------------------------------------------------

    def handle(self, frame, now_s):
        """Answer one whole frame (as cut by ``FrameExtractor``, no preamble).

        Returns:
            the complete reply (with ``preamble`` FE bytes) or None for
            silence: not addressed to this meter, broadcast, a reply seen on
            the line, the other edition's function codes, anything
            ``parse_frame`` rejects, an outage. Never raises: unexpected
            exceptions are counted in ``errors`` and kept in ``last_error``.
        """
        try:
            return self._handle(frame, now_s)
        except Exception as exc:  # a meter answers or stays silent; it never crashes
            self.errors += 1
            self.last_error = exc
            return None

    def _handle(self, frame, now_s):
        if len(frame) < 12 or frame[8] & 0x80:
            return None     # too short, or another meter's reply (D7 = 1, §6)
        self.advance(now_s)
        self._now_s = now_s
        if not self.powered(now_s):
            return None
        try:
            header = decode_address(frame, 1)
        except DLT645Error:
            self.rejected += 1
            return None
        broadcast = header == BROADCAST
        if not broadcast and not address_matches(header, self.address):
            return None
        try:
            f = parse_frame(frame, self.std)
        except DLT645Error:
            self.rejected += 1
            return None
        return dispatch(self, f, broadcast)

    # ---- inspection for tests (kept out of the firmware's resident code) ------

    def energy(self, quantity="forward_active", tariff=0):
        """Energy register as the meter holds it (kWh or kvarh, not truncated).

        Args:
            quantity: a registry quantity name: forward_active, reverse_active,
                combined_active, reactive_q1..reactive_q4, combined_reactive_1,
                combined_reactive_2, forward_apparent, reverse_apparent.
            tariff: 0 total, 1-4 sharp/peak/flat/valley.
        """
        from ._inspect import energy
        return energy(self.ledger, quantity, tariff)

    def max_demand(self, reverse=False, tariff=0):
        """(kW, local time text or None) of the current period's maximum demand."""
        from ._inspect import max_demand
        return max_demand(self.ledger, reverse, tariff)

    @property
    def daily_freezes(self):
        """Daily freezes, newest first: dicts of time and blocks (total, T1..T4)."""
        from ._inspect import record_dict
        return [record_dict(r) for r in self.ledger.daily]

    @property
    def settlements(self):
        """Settlement-day values, newest first (same dicts as ``daily_freezes``)."""
        from ._inspect import record_dict
        return [record_dict(r) for r in self.ledger.settlements]

    @property
    def instant_freezes(self):
        """Instantaneous freezes (16H), newest first."""
        from ._inspect import record_dict
        return [record_dict(r) for r in self.ledger.instant]
