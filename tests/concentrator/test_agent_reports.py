"""The agent's frozen, anomaly, line-loss and time-sync records, end to end (M-06, M-07, M-08, M-09, M-13).

Simulated DL/T 645-2007 meters on a firmware_sim BusServer over TCP, the
archive imported from CSV, a real Mosquitto and ``hall serve`` on a real
SQLite file; the agent runs in-process and its clock *is* the simulator's
(``bus.sim_now``), so a day passes when the test jumps the bus
(``BusServer.advance``) and the meters take their freezes on the way.
"""

import datetime
import importlib.util
import io
import threading
from pathlib import Path

import pytest

from concentrator._agent import Agent, AgentConfigError, load_agent_config
from concentrator._schedule_events import ScheduleSettings
from concentrator.archive import Archive, ArchiveFileError, record_area
from firmware_sim.bus import BusServer

_spec = importlib.util.spec_from_file_location("agent_e2e", Path(__file__).with_name("test_agent.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
HallServe, hall_records, wait_until, enrol_device = e2e.HallServe, e2e.hall_records, e2e.wait_until, e2e.enrol_device

HALL, DEVICE = e2e.HALL, e2e.DEVICE
UTC8 = datetime.timezone(datetime.timedelta(hours=8))
SUPPLY = "202311150030"
CUSTOMERS = [("202311150031", "1", 0.8), ("202311150032", "1", 1.1), ("202311150036", "150/5", 0.3)]
CT = {"1": 1, "150/5": 30}


def local_s(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC8).timestamp()


def csv_rows(url, area="TQ0001"):
    rows = [e2e.CSV_HEAD.rstrip("\n"), "%s,,2007,line1,%s,9600,E,%s,supply,,3,200/5,1,,\n" % (SUPPLY, url, area)]
    rows += ["%s,,2007,line1,%s,9600,E,%s,customer,3201000100%02d,1,%s,1,,\n" % (a, url, area, i, ct)
             for i, (a, ct, _kw) in enumerate(CUSTOMERS)]
    return "\n".join(r.rstrip("\n") for r in rows) + "\n"


# ---- area codes in records (decision 22) ---------------------------------------------

def test_area_codes_are_lower_cased_for_records_and_checked_at_import(tmp_path):
    assert record_area("TQ0001") == "tq0001" and record_area("台区A") is None
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_rows("/dev/ttyUSB0", area="台区A"), encoding="utf-8")
    with pytest.raises(ArchiveFileError, match=r"area: expected a transformer area .* lower case\), got '台区A'"):
        Archive(str(tmp_path / "a.db"), create=True).import_file(str(bad))
    cased = tmp_path / "cased.csv"
    text = csv_rows("/dev/ttyUSB0")
    cased.write_text(text.replace(",TQ0001,customer,320100010001", ",tq0001,customer,320100010001"), encoding="utf-8")
    with pytest.raises(ArchiveFileError) as caught:
        Archive(str(tmp_path / "a.db"), create=True).import_file(str(cased))
    assert "area: expected an area code that differs from the others in more than letter case" in str(caught.value)
    assert "'tq0001', and area 'TQ0001' is" in str(caught.value)
    with Archive(str(tmp_path / "a.db")) as archive:
        assert archive.meters() == []       # refused as a whole: nothing stored


# ---- config ----------------------------------------------------------------------------

CONFIG_CASES = [
    ("[lineloss]\nlow_pct = 5.0\nhigh_pct = 2.0\n", r"\[lineloss\] line-loss config: low_pct must be below high_pct",
     "lineloss"),
    ("[anomalies]\njump_factr = 2\n", r"\[anomalies\] anomaly config: unknown key jump_factr", "anomalies"),
    ("[lineloss]\nhigh_pct = \"ten\"\n", r"line-loss config key high_pct: expected a number", "lineloss.high_pct"),
    ("[cycles.realtime]\nitems_2007 = [\"voltage_a\"]\nitems_1997 = [\"voltage_a\"]\n[clocksync]\ncheck_in = \"realtime\"\n",
     r"clocksync\.check_in: the realtime cycle does not read", "clocksync.check_in"),
    ("[clocksync]\ndrift_limit_s = 0\n", r"clocksync\.drift_limit_s must be a number", "clocksync.drift_limit_s"),
    ("[clock]\nrtc_err_ms = 0\n", r"clock\.rtc_err_ms must be an integer 1\.\.", "clock.rtc_err_ms"),
    ("[clock]\nrtc_error_ms = 1000\n", r"clock\.rtc_error_ms is not a clock setting", "clock.rtc_error_ms"),
]


def test_clock_table_sets_the_agents_own_clock_quality(hall):
    """[clock] rtc_err_ms is what a concentrator with a battery RTC and no NTP claims."""
    config, _db = hall
    good = config.parent / "clock.toml"
    good.write_text(config.read_text(encoding="utf-8") + "[clock]\nrtc_err_ms = 2000\ncache_s = 0.5\n",
                    encoding="utf-8")
    loaded = load_agent_config(good)
    assert loaded.clock["rtc_err_ms"] == 2000 and loaded.clock["cache_s"] == 0.5
    agent = Agent(loaded)
    assert agent._quality.rtc_err_ms == 2000
    assert load_agent_config(config).clock["rtc_err_ms"] == 300000     # the default


def test_report_config_errors_name_the_file_and_key(hall):
    config, _db = hall
    device = config.read_text(encoding="utf-8")
    for table, message, key in CONFIG_CASES:
        bad = config.parent / "bad.toml"
        bad.write_text(device + table, encoding="utf-8")
        with pytest.raises(AgentConfigError, match=message) as caught:
            load_agent_config(bad)
        assert str(caught.value).startswith(str(bad) + ": ") and caught.value.key == key, caught.value


# ---- end to end ------------------------------------------------------------------------

def start_agent(config, bus, own_tq=None, **kwargs):
    out = io.StringIO()
    agent = Agent(load_agent_config(config), clock=lambda: int(bus.sim_now() * 1000), out=out, **kwargs)
    agent.own_tq = own_tq
    stop, errors = threading.Event(), []

    def run():
        try:
            agent.run(stop)
        except Exception as exc:        # shown by the test's assertions
            errors.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return agent, stop, thread, errors, out


def stop_agent(stop, thread, errors, out):
    stop.set()
    thread.join(30)
    print(out.getvalue())       # the agent's progress lines, shown by pytest when the test fails
    assert not thread.is_alive() and not errors, errors


@pytest.fixture
def hall(mosquitto, tmp_path):
    broker = mosquitto(HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server"])
    hall_db = tmp_path / "hall.db"
    root = tmp_path / "conc"
    root.mkdir()
    config = enrol_device(root, hall_db, broker, DEVICE)
    server = HallServe(broker, hall_db)
    yield config, hall_db
    server.stop()


def install(config, bus, extra):
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    csv = config.parent / "archive.csv"
    csv.write_text(csv_rows(bus.url), encoding="utf-8")
    with Archive(str(config.parent / "agent.db"), create=True) as archive:
        archive.import_file(str(csv), mode="replace")


DAILY_TOML = """
[agent]
db = "agent.db"
poll_s = 0.05

[agent.lines.line1]
timeout_s = 0.3
pacing_s = 0.01

[cycles]
timezone = "Asia/Shanghai"

[cycles.realtime]
interval_min = 0

[cycles.daily]
start = "00:10"

[cycles.monthly]
day = 15
start = "00:30"
max_catchup = 1

[lineloss]
high_pct = 8.0
"""


def test_m06_m13_daily_and_monthly_values_are_frozen_records_and_the_day_balance_is_the_simulators(hall):
    config, hall_db = hall
    meters = [{"address": SUPPLY, "std": "2007", "phases": 3, "reply_delay_ms": 20, "history_days": 3, "settlement_day": 15,
               "start_kwh": 1587.23, "ct_ratio": 40, "loss_pct": 4.0, "supplies": [c[0] for c in CUSTOMERS]}]
    meters += [{"address": a, "std": "2007", "phases": 1, "reply_delay_ms": 20, "history_days": 3, "settlement_day": 15, "base_kw": kw,
                "start_kwh": 1000.0 + 111.11 * i, **({"ct_ratio": CT[ct]} if CT[ct] != 1 else {})}
               for i, (a, ct, kw) in enumerate(CUSTOMERS)]
    with BusServer(meters, baud=9600, transport="tcp", start_utc=local_s("2026-11-16T00:40:00"), seed=645) as bus:
        install(config, bus, DAILY_TOML)
        agent, stop, thread, errors, out = start_agent(config, bus)
        try:
            frozen = lambda cycle: [b for b in hall_records(hall_db, "frozen") if b["cycle"] == cycle]  # noqa: E731
            wait_until(lambda: len(frozen("day-2026-11-15")) == 12 and len(frozen("month-2026-11")) == 8 or errors,
                       "day-15 and month-11 frozen records: %s" % out.getvalue())
            bus.advance(86400.0)        # to 2026-11-17 00:40: the meters freeze day 16 on the way
            wait_until(lambda: len(frozen("day-2026-11-16")) == 12 or errors, "day-16 frozen records")
            wait_until(lambda: {b["cycle"] for b in hall_records(hall_db, "lineloss")} >= {
                "day-2026-11-15", "day-2026-11-16"} or errors, "line loss of days 15 and 16: %s" % out.getvalue())
        finally:
            stop_agent(stop, thread, errors, out)
        held = {m: {f["time"]: f for f in bus.meters[m].daily_freezes} for m in [SUPPLY] + [c[0] for c in CUSTOMERS]}

    assert hall_records(hall_db, "reading") == []       # daily and monthly values are frozen, never readings
    for cycle, at in (("day-2026-11-15", "2026-11-16T00:00"), ("day-2026-11-16", "2026-11-17T00:00")):
        bodies = frozen(cycle)
        assert {(b["freeze"], b["index"], b["frozen_at"]) for b in bodies} == {("day", 1, at)}
        for b in bodies:
            if b["name"] == "daily_freeze_forward_active_1":
                assert b["value"] == list(held[b["meter"]][at]["forward_active"]), b
    month = frozen("month-2026-11")
    assert {(b["freeze"], b["index"], b["frozen_at"], b["std"]) for b in month} == {("settle", 1, None, "2007")}

    losses = {b["cycle"]: b for b in hall_records(hall_db, "lineloss")}
    first = losses["day-2026-11-15"]         # day 14 was never read: no start readings, no figure
    assert first["status"] == "incomplete" and first["loss_kwh"] is None and len(first["missing"]) == 4
    body = losses["day-2026-11-16"]

    def advance(address, ratio):
        return (held[address]["2026-11-17T00:00"]["forward_active"][0]
                - held[address]["2026-11-16T00:00"]["forward_active"][0]) * ratio
    supplied = round(advance(SUPPLY, 40), 3)
    billed = round(sum(advance(a, CT[ct]) for a, ct, _kw in CUSTOMERS), 3)
    assert body["area"] == "tq0001" and body["supply"] == SUPPLY and body["missing"] == []
    assert body["supplied_kwh"] == supplied and body["billed_kwh"] == billed and supplied > billed > 10
    assert body["loss_kwh"] == round(supplied - billed, 3)
    assert body["loss_pct"] == round(100.0 * body["loss_kwh"] / supplied, 3)
    assert body["high_pct"] == 8.0 and body["status"] == ("ok" if body["loss_pct"] <= 8.0 else "out-of-band")
    assert len(losses) == 2 and len(hall_records(hall_db, "lineloss")) == 2     # once per area and day


CLOCK_TOML = """
[agent]
db = "agent.db"
poll_s = 0.05

[agent.lines.line1]
timeout_s = 0.2
pacing_s = 0.01

[cycles.realtime]
interval_min = 1
items_2007 = ["forward_active_total", "date", "time"]

[cycles.daily]
enabled = false

[cycles.monthly]
enabled = false

[anomalies]
clock_limit_s = 60.0

[clocksync]
daily_at = "23:00"
drift_limit_s = 30
"""
GOOD_TQ = {"src": "ntp", "err_ms": 20}


def test_m08_m09_no_reply_and_clock_drift_are_raised_once_synced_and_cleared_across_a_restart(hall):
    config, hall_db = hall
    drifted, silent = CUSTOMERS[0][0], CUSTOMERS[1][0]
    meters = [{"address": a, "std": "2007", "phases": 1, "reply_delay_ms": 20, "history_days": 1,
               **({"clock_offset_s": 120.0} if a == drifted else {})} for a in [SUPPLY] + [c[0] for c in CUSTOMERS]]
    settings = ScheduleSettings(max_attempts=2, backoff_s=0.2, backoff_max_s=0.5)
    with BusServer(meters, baud=9600, transport="tcp", start_utc=local_s("2026-11-23T10:00:05"), seed=645) as bus:
        install(config, bus, CLOCK_TOML)
        bus.set_fault(silent, "silent")
        good = lambda: dict(GOOD_TQ)  # noqa: E731
        anomalies = lambda: {(b["meter"], b["code"], b["state"]): b  # noqa: E731
                             for b in hall_records(hall_db, "anomaly")}
        agent, stop, thread, errors, out = start_agent(config, bus, good, settings=settings)
        first_out = out
        try:
            wait_until(lambda: {(drifted, "clock-drift", "raised"), (silent, "no-reply", "raised")}
                       <= set(anomalies()) or errors, "raised anomalies: %s" % out.getvalue())
            wait_until(lambda: agent.clocksync.sent or errors, "the broadcast time sync: %s" % out.getvalue())
        finally:
            stop_agent(stop, thread, errors, out)
        bus.clear_fault(silent)
        assert abs(bus.meters[drifted].clock_s(bus.sim_now()) - 28800 - bus.sim_now()) < 5.0     # local time
        agent, stop, thread, errors, out = start_agent(config, bus, good, settings=settings)   # the restart
        try:
            for minute in (1, 2, 3):
                bus.advance(max(0.0, local_s("2026-11-23T10:%02d:02" % minute) - bus.sim_now()))
                wait_until(lambda: "rt-2026-11-23T10:%02d" % minute in {b["cycle"] for b in hall_records(
                    hall_db, "cycle")} or errors, "cycle 10:%02d" % minute)
                if {(drifted, "clock-drift", "cleared"), (silent, "no-reply", "cleared")} <= set(anomalies()):
                    break
            wait_until(lambda: {(drifted, "clock-drift", "cleared"), (silent, "no-reply", "cleared")}
                       <= set(anomalies()) or errors, "cleared anomalies: %s" % out.getvalue())
        finally:
            stop_agent(stop, thread, errors, out)
    bodies = hall_records(hall_db, "anomaly")
    keys = [(b["meter"], b["code"], b["state"]) for b in bodies]
    assert len(keys) == len(set(keys)) == 4, keys       # raised once (also after the restart), cleared once
    found = anomalies()
    raised = found[(drifted, "clock-drift", "raised")]
    assert raised["class"] == "metering" and raised["unit"] == "s" and raised["area"] == "tq0001"
    assert 115 < raised["value"] < 125 and raised["threshold"] == 60.0
    assert [e["name"] for e in raised["evidence"]] == ["date", "time"]
    assert found[(silent, "no-reply", "raised")]["class"] == "acquisition-failure"
    assert "line line1: broadcast time sync 2026-11-23T10:0" in first_out.getvalue(), first_out.getvalue()
