"""Line loss (M-13) read over a simulated line, checked against the simulator's own energy.

The area: a three-phase DL/T 645-2007 supply meter (台区总表) behind 200/5 A
CTs (ct_ratio 40) with a 4 % technical loss, feeding six customer meters of
both editions, one of them behind 150/5 A CTs. The supply meter's power is
the customers' plus the loss (firmware_sim/bus/_supply.py), so the balance
the concentrator computes from readings must match what the simulator holds.

Readings over a line are not simultaneous: reading seven meters takes a few
hundred ms, which is minutes of simulation at this time scale. So every
customer draws power only from 11:00 to 15:00 local time (its ``profile``),
and the start and end readings are taken in the quiet hours either side:
the registers do not move while they are read.
"""

import time

import pytest

from concentrator import Line, ReplyTimeout, read
from concentrator._lineloss import MeterEnergy, line_loss
from concentrator.archive import FIELDS, load_archive_file
from firmware_sim.bus import BusServer

START_UTC = 1718380800.0            # 2024-06-14T16:00:00Z: midnight in Beijing, the meters' local time
TIME_SCALE = 7200.0                 # two simulated hours a second
BUSY_FROM_H, BUSY_UNTIL_H = 11, 15  # local hours with load; quiet otherwise
PROFILE = [2.0 if BUSY_FROM_H <= h < BUSY_UNTIL_H else 0.0 for h in range(24)]
LOSS_PCT = 4.0
SUPPLY = "202311150030"
# address, std, phases, base_kw (what the meter registers), archive ct_ratio
CUSTOMERS = [
    ("202311150031", "2007", 1, 0.8, "1"),
    ("202311150032", "2007", 1, 1.1, "1"),
    ("202311150036", "2007", 3, 2.5, "1"),
    ("202311150044", "2007", 3, 0.3, "150/5"),
    ("000009310421", "1997", 1, 0.9, "1"),
    ("000009310425", "1997", 3, 1.6, "1"),
]
CT = {"1": 1, "150/5": 30, "200/5": 40}
DI = {"2007": 0x00010000, "1997": 0x9010}   # forward active energy, total
RESOLUTION_KWH = 0.01                       # the register shows XXXXXX.XX kWh


def _meters():
    supply = {"address": SUPPLY, "std": "2007", "phases": 3, "reply_delay_ms": 25, "history_days": 1,
              "start_kwh": 1587.23, "ct_ratio": 40, "loss_pct": LOSS_PCT,
              "supplies": [c[0] for c in CUSTOMERS]}
    out = [supply]
    for i, (address, std, phases, base_kw, ct) in enumerate(CUSTOMERS):
        cfg = {"address": address, "std": std, "phases": phases, "reply_delay_ms": 25, "history_days": 1,
               "base_kw": base_kw, "profile": PROFILE, "start_kwh": 1000.0 + 111.11 * i}
        if CT[ct] != 1:
            cfg["ct_ratio"] = CT[ct]
        out.append(cfg)
    return out


def _archive(tmp_path, url):
    """The area's archive (concentrator/samples/archive.csv format), parsed by the concentrator."""
    rows = [",".join(FIELDS),
            "%s,,2007,line1,%s,9600,E,TQ0001,supply,,3,200/5,1,台区总表,配电房" % (SUPPLY, url)]
    for n, (address, std, phases, _kw, ct) in enumerate(CUSTOMERS):
        rows.append("%s,,%s,line1,%s,9600,E,TQ0001,customer,3201000100%02d,%d,%s,1,,表箱 A1"
                    % (address, std, url, n, phases, ct))
    path = tmp_path / "archive.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    parsed = load_archive_file(path)
    assert parsed.problems == []
    return {m.address: m for m in parsed.meters}


@pytest.fixture
def area(tmp_path):
    with BusServer(_meters(), baud=9600, transport="tcp", time_scale=TIME_SCALE, start_utc=START_UTC,
                   seed=645) as bus:
        with Line(bus.url, baud=9600, timeout_s=0.2) as line:
            yield bus, line, _archive(tmp_path, bus.url)


def _local_hours(bus):
    return (bus.sim_now() - START_UTC) / 3600.0


def _wait_for_local_hour(bus, hour):
    while _local_hours(bus) < hour:
        time.sleep(min(0.05, (hour - _local_hours(bus)) * 3600.0 / TIME_SCALE + 0.001))


def _read_all(bus, line, archive, quiet_until_h):
    """Forward active total of every archive meter over the line (None when it does not answer),
    and the registers the simulated meters hold, all inside one quiet window."""
    read_kwh = {}
    for address, meter in archive.items():
        try:
            read_kwh[address] = read(line, address, DI[meter.protocol], std=meter.protocol, retries=1).value
        except ReplyTimeout:
            read_kwh[address] = None
    held_kwh = {a: bus.meters[a].energy("forward_active") for a in archive}
    assert _local_hours(bus) < quiet_until_h, "reading took too long: the meters drew power meanwhile"
    return read_kwh, held_kwh, int(bus.sim_now() * 1000)


def _balance(archive, start, end, from_t, to_t):
    def energy(address):
        m = archive[address]
        return MeterEnergy(address, start[address], end[address], m.ct_ratio, m.pt_ratio)
    customers = [energy(a) for a in archive if archive[a].role == "customer"]
    return line_loss("tq0001", "2024-06-15", from_t, to_t, energy(SUPPLY), customers)


def test_lineloss_from_line_reads_equals_the_simulators_energy_balance(area):
    """M-13: supplied - billed over a day, read over the line, is the loss the simulator put in."""
    bus, line, archive = area
    read0, held0, from_t = _read_all(bus, line, archive, BUSY_FROM_H)
    _wait_for_local_hour(bus, BUSY_UNTIL_H)
    read1, held1, to_t = _read_all(bus, line, archive, 24)

    body = _balance(archive, read0, read1, from_t, to_t)

    ratio = {a: m.ct_ratio * m.pt_ratio for a, m in archive.items()}
    customers = [a for a in archive if a != SUPPLY]
    supplied = (held1[SUPPLY] - held0[SUPPLY]) * ratio[SUPPLY]
    billed = sum((held1[a] - held0[a]) * ratio[a] for a in customers)
    # The simulator itself: what the supply meter registered is the customers' energy plus the loss.
    assert billed > 50.0
    assert supplied == pytest.approx(billed * (1 + LOSS_PCT / 100.0), abs=1e-6)
    # The concentrator's figure, from truncated readings, within one register count per meter.
    supplied_tol = RESOLUTION_KWH * ratio[SUPPLY] + 0.001
    billed_tol = RESOLUTION_KWH * sum(ratio[a] for a in customers) + 0.001
    assert body["status"] == "ok" and body["missing"] == [] and body["meters"] == 6 == body["meters_expected"]
    assert body["supply"] == SUPPLY
    assert abs(body["supplied_kwh"] - supplied) <= supplied_tol
    assert abs(body["billed_kwh"] - billed) <= billed_tol
    assert abs(body["loss_kwh"] - (supplied - billed)) <= supplied_tol + billed_tol
    pct_tol = 100.0 * (supplied_tol + billed_tol) / body["supplied_kwh"]
    assert abs(body["loss_pct"] - 100.0 * LOSS_PCT / (100.0 + LOSS_PCT)) <= pct_tol


def test_a_silent_customer_meter_makes_the_balance_incomplete_and_is_named(area):
    """M-13: a customer meter that stops answering (a bus fault) gives no figure, not a wrong one."""
    bus, line, archive = area
    silent = "000009310425"
    read0, _held0, from_t = _read_all(bus, line, archive, BUSY_FROM_H)
    bus.set_fault(silent, "silent")
    read1, _held1, to_t = _read_all(bus, line, archive, BUSY_FROM_H)
    assert read0[silent] is not None and read1[silent] is None

    body = _balance(archive, read0, read1, from_t, to_t)

    assert body["status"] == "incomplete"
    assert body["missing"] == [silent]
    assert body["loss_kwh"] is None and body["loss_pct"] is None
    assert body["meters"] == 5 and body["meters_expected"] == 6
    assert "%s no end reading" % silent in body["detail"]
