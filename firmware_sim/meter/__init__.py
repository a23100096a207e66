# MicroPython-compatible: see STYLE.md
"""Simulated DL/T 645 electricity meter firmware (2007 and 1997 editions).

Contract (used by the bus simulator and the concentrator tests):

* ``Meter(config, now_s)``: ``config`` a plain dict, ``now_s`` the
  simulation's UTC epoch seconds. Raises ``MeterConfigError`` (``key``,
  ``address``, ``expected``, ``got``) for an invalid config.
* ``handle(frame, now_s) -> bytes | None``: one whole frame as cut by
  ``FrameExtractor``; the reply with the meter's preamble, or None for
  silence. Never raises.
* ``advance(now_s)``, ``clock_s(now_s)``, ``set_clock_error(seconds)``,
  attribute ``drift_ppm``; ``power_down(start_s, end_s)`` injects an outage.
* Attributes ``address``, ``std``, ``reply_delay_ms``, ``preamble``, ``baud``,
  ``programming``, ``relay_open``.
* Inspection: ``energy(quantity="forward_active", tariff=0)`` (kWh as held),
  ``max_demand(reverse=False, tariff=0)``, ``daily_freezes``,
  ``settlements``, ``instant_freezes`` (newest first; dicts with ``time`` and
  blocks total, T1..T4 per quantity), ``event_counts``.

Config keys (only ``address`` is required):

====================== ============ ==================================================
key                    default      meaning
====================== ============ ==================================================
address                (required)   12-digit string, e.g. "202311150042"
std                    "2007"       "2007" or "1997" (the other edition is ignored)
reply_delay_ms         50           20-500, the bus/main loop waits this before replying
preamble               4            FE bytes in front of replies: 0 or 4
password               "000000"     6 digits, for writes/clears/control (§11)
password_level         2            0-9, the level of that password
programming            false        programming key on: 15H/0AH write address accepted
phases                 3            1 or 3
phase_shares           equal        3 numbers: how P splits over phases A, B, C
base_kw                1.2          average load (kW) when profile averages 1.0
export_kw              0.0          average generation (PV) (kW), export_profile shaped
profile                residential  24 hourly load factors (default averages 1.0)
export_profile         solar        24 hourly generation factors (default averages 1.0)
load_variation         0.1          0-0.9: each hour's load x (1 +- v), 0 = exact profile
seed                   from address deterministic per-hour variation (xorshift32 hash)
tariff_hours           TOU day      24 tariffs 1-4 (sharp/peak/flat/valley) by local hour
start_kwh              0.0          forward active total at installation
history_days           400          installed this many days before now_s
daily_freezes_kept     62           1-62 (older meters 7)
settlement_day         1            1-28, day of month of the settlement
settlement_hour        0            0-23, hour of the settlement
utc_offset_s           28800        local time offset (Beijing), multiple of 900
clock_drift_ppm        0.0          clock drift from now_s on (+ runs fast)
clock_offset_s         0.0          clock error at now_s (s, + ahead)
max_sync_correction_s  0            08H corrections larger than this are ignored; 0 = any
voltage_v              220.0        nominal phase voltage
frequency_hz           50.0         grid frequency
power_factor           0.95         0.1-1.0
temperature_c          25.0         meter temperature at no load (+0.5 °C per kW)
meter_number           address      12 digits (04000402 / C032)
asset_number           address      ASCII, up to 32 characters (04000403)
rated_current_a        5            rated current (04000405, "5A")
max_current_a          60           maximum current (04000406, "60A")
meter_constant         1200         imp/kWh (04000409, 0400040A, C030, C031)
baud                   2400 / 1200  current rate (2007 / 1997), changed by 17H/0CH
bauds                  1200-9600    rates 17H/0CH accept; others refused (D7/08)
====================== ============ ==================================================

Energy rule: the net power P of each local hour (see ``_model``: load minus
generation, constant within the hour) accrues to forward active (P > 0) or
reverse active (P < 0) in the tariff ``tariff_hours[hour]`` and the total;
reactive ``|P| tan(acos pf)`` to quadrant I (import) or III (export);
apparent ``|P| / pf`` to forward or reverse apparent. Combined active =
forward - reverse; combined reactive 1 = QI + QII, 2 = QIII + QIV. Registers
are exact integers (mJ); replies show them truncated to 0.01 kWh, so
the total exceeds T1+..+T4 by at most 0.03 kWh. ``start_kwh`` is split over the tariffs
by the profile's daily share and matched by QI and apparent energy.

Freezes: at each local midnight (meter clock) a daily freeze (0506xxNN, time,
forward/reverse, combined reactive 1/2, quadrants, forward/reverse max
demand; the last ``daily_freezes_kept``); at ``settlement_hour`` of
``settlement_day`` a settlement (DI0 01..0C, 1997 x4/x8; last 12), after
which the current maximum demand restarts. Maximum demand: 15-min block
windows on the meter clock, per tariff, with the window's end time.

In a bus meters file each ``[[meter]]`` table is such a config::

    [[meter]]
    address = "202311150042"
    std = "2007"
    base_kw = 1.5
    export_kw = 2.0          # a PV customer
    start_kwh = 12345.67
    clock_offset_s = 42

``firmware_sim/meter/sample.json`` is a complete example for
``python -m firmware_sim.meter.main`` (the same keys plus ``start_utc_s``).
"""

# Import order matters on a small heap: MicroPython compiles each module from
# source with a transient peak of about 3x its size, so the larger modules
# that do not need the codec compile first, while the heap is still empty.
from ._errors import MeterConfigError, MeterError
from . import _config, _ledger, _model  # noqa: F401  (compile before the codec loads)
from ._meter import Meter

__all__ = ["Meter", "MeterConfigError", "MeterError"]
