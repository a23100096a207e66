"""A week of daily freezes through the concentrator agent, with the agent down over
two midnights (M-02, M-06; docs/cycles.md "The catch-up rule").

Eight DL/T 645-2007 meters on a simulated line (firmware_sim BusServer over TCP),
the archive imported from CSV, a real Mosquitto and ``hall serve`` on a real
SQLite file; the agent runs in-process with an injected clock. Time runs fast in
step on both sides: the test sets the agent's clock and jumps the simulator's
clock (``BusServer.advance``) to the same instant, so each meter takes its
freeze at each local midnight it is carried over, as a real meter would.

The week is 2026-11-16 .. 2026-11-22 (hall time, UTC+8). The agent reads
``day-16`` on the 17th and ``day-17`` on the 18th, is stopped, and is started
again on the 21st after missing the midnights of the 19th and 20th: it then
catches up ``day-18`` (freeze index 3), ``day-19`` (2) and ``day-20`` (1) from
the meters' freeze history, and reads ``day-21`` and ``day-22`` on time.

At the hall there is, for every meter and every day of the week, exactly one
frozen forward active energy value, equal to the simulator's own freeze of that
day (the one stamped D+1 00:00), and its freeze time. The agent sends them as
``reading`` records with the day cycle id today; ``frozen`` records (FROZEN_V1)
are accepted too, so the test keeps working when the agent switches.
"""

import datetime
import importlib.util
import io
import re
import threading
import time
from pathlib import Path

from concentrator._agent import Agent, load_agent_config
from concentrator._ledger import Ledger
from concentrator.archive import Archive
from firmware_sim.bus import BusServer

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("agent_e2e", REPO / "tests" / "concentrator" / "test_agent.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

HALL, DEVICE, BAUD = _e2e.HALL, _e2e.DEVICE, 9600
ADDRESSES = ["2023111600%02d" % n for n in range(1, 9)]
HALL_TZ = datetime.timezone(datetime.timedelta(hours=8))
WEEK = [datetime.date(2026, 11, 16) + datetime.timedelta(days=n) for n in range(7)]
# The meters are installed two days before the simulation starts, at noon on the 16th.
START = datetime.datetime(2026, 11, 16, 12, 0, tzinfo=HALL_TZ)
# Freeze index of each day caught up at the restart on the 21st (k = 21 - D).
INDEX = {WEEK[2]: 3, WEEK[3]: 2, WEEK[4]: 1}
FORWARD = re.compile(r"(daily_freeze_)?forward_active(_total)?(_\d+)?$")
FREEZE_TIME = re.compile(r"daily_freeze_time(_\d+)?$")

CYCLES_TOML = """
[agent]
db = "agent.db"
poll_s = 0.05

[agent.lines.line1]
timeout_s = 0.3
pacing_s = 0.01

[cycles]
max_catchup_days = 7

[cycles.realtime]
interval_min = 0

[cycles.daily]
enabled = true
start = "00:10"
frozen_2007 = ["forward_active"]

[cycles.monthly]
enabled = false
"""


def at(day, hhmm):
    """UTC epoch seconds of hall local time ``hhmm`` on ``day``."""
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.datetime(day.year, day.month, day.day, h, m, tzinfo=HALL_TZ).timestamp()


class WeekRig:
    """The line, the hall and an agent that can be started and stopped on one shared clock."""

    def __init__(self, mosquitto, tmp_path):
        broker = mosquitto(HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server"])
        self.hall_db = tmp_path / "hall.db"
        root = tmp_path / "conc"
        root.mkdir()
        self.config = _e2e.enrol_device(root, self.hall_db, broker, DEVICE)
        self.config.write_text(self.config.read_text(encoding="utf-8") + CYCLES_TOML, encoding="utf-8")
        meters = [{"address": a, "std": "2007", "reply_delay_ms": 30, "preamble": 4, "history_days": 2,
                   "start_kwh": 1000.0 + 100 * i, "base_kw": 0.8 + 0.2 * i} for i, a in enumerate(ADDRESSES)]
        self.bus = BusServer(meters, baud=BAUD, transport="tcp", seed=645, start_utc=START.timestamp()).start()
        rows = ["%s,,2007,line1,%s,%d,E,tq0002,customer,32010002%04d,1,1,1,,\n" % (a, self.bus.url, BAUD, i)
                for i, a in enumerate(ADDRESSES)]
        csv = root / "archive.csv"
        csv.write_text(_e2e.CSV_HEAD + "".join(rows), encoding="utf-8")
        with Archive(str(root / "agent.db"), create=True) as archive:
            archive.import_file(str(csv), mode="replace")
        self.hall = _e2e.HallServe(broker, self.hall_db)
        self.now_ms = [int(START.timestamp() * 1000)]
        self.out = io.StringIO()
        self.thread = self.stop_event = None
        self.errors = []

    def set_time(self, epoch_s):
        """Move the agent's clock and the meters' clock to ``epoch_s`` (never back)."""
        ahead = epoch_s - self.bus.sim_now()
        if ahead > 0:
            self.bus.advance(ahead)
        self.now_ms[0] = int(epoch_s * 1000)

    def start(self):
        agent = Agent(load_agent_config(self.config), clock=lambda: self.now_ms[0], out=self.out)
        self.stop_event = threading.Event()

        def run():
            try:
                agent.run(self.stop_event)
            except Exception as exc:        # shown by the assertions
                self.errors.append(exc)
        self.thread = threading.Thread(target=run)
        self.thread.start()

    def stop(self):
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(30)
            assert not self.thread.is_alive(), "the agent did not stop"
            self.thread = None

    def close(self):
        try:
            self.stop()
        finally:
            self.hall.stop()
            self.bus.stop()

    def day_records(self):
        """(kind, body) of every reading or frozen record of a daily cycle at the hall."""
        return [(kind, b) for kind in ("reading", "frozen") for b in _e2e.hall_records(self.hall_db, kind)
                if str(b.get("cycle", "")).startswith("day-")]

    def wait_closed(self, day_ids, what):
        def done():
            closed = {b["cycle"] for b in _e2e.hall_records(self.hall_db, "cycle")}
            return set(day_ids) <= closed or self.errors
        _e2e.wait_until(done, "%s; agent said: %s" % (what, self.out.getvalue()), timeout_s=30)
        assert not self.errors, self.errors


def day_id(day):
    return "day-%s" % day.isoformat()


def test_m06_a_week_of_daily_freezes_with_two_missed_midnights_caught_up_once(mosquitto, tmp_path):
    started = time.monotonic()
    rig = WeekRig(mosquitto, tmp_path)
    try:
        # On time: day-16 on the 17th, day-17 on the 18th.
        for day in WEEK[:2]:
            rig.set_time(at(day + datetime.timedelta(days=1), "00:15"))
            if rig.thread is None:
                rig.start()
            rig.wait_closed([day_id(day)], "%s closed at the hall" % day_id(day))
        rig.stop()
        # Down over the midnights of the 19th and 20th; back on the 21st at 00:15.
        rig.set_time(at(WEEK[5], "00:15"))
        rig.start()
        rig.wait_closed([day_id(d) for d in WEEK[2:5]], "the three missed days caught up")
        for day in WEEK[5:]:
            rig.set_time(at(day + datetime.timedelta(days=1), "00:15"))
            rig.wait_closed([day_id(day)], "%s closed at the hall" % day_id(day))
        rig.stop()
        records = rig.day_records()
        meters = rig.bus.meters
    finally:
        rig.close()
    text = rig.out.getvalue()
    assert not rig.errors, rig.errors

    # The restart planned the three missed days, oldest first, by freeze index 3, 2, 1.
    opened = re.findall(r"cycle (day-\S+): opened", text)
    assert opened == [day_id(d) for d in WEEK], text
    kinds = {kind for kind, _b in records}
    frozen = {}
    times = {}
    for kind, body in records:
        key = (body["meter"], body["cycle"])
        if FORWARD.match(body["name"]):
            frozen.setdefault(key, []).append(body)
        elif FREEZE_TIME.match(body["name"]):
            times.setdefault(key, []).append(body)
    expected_keys = {(a, day_id(d)) for a in ADDRESSES for d in WEEK}
    assert set(frozen) == expected_keys, sorted(expected_keys ^ set(frozen))
    dupes = {k: len(v) for k, v in frozen.items() if len(v) != 1}
    assert not dupes, "frozen values not exactly once: %s" % dupes
    for address in ADDRESSES:
        by_time = {f["time"]: f for f in meters[address].daily_freezes}
        for day in WEEK:
            stamp = "%sT00:00" % (day + datetime.timedelta(days=1)).isoformat()
            assert stamp in by_time, "meter %s has no freeze %s: %s" % (address, stamp, sorted(by_time))
            (body,) = frozen[(address, day_id(day))]
            assert body["value"] == list(by_time[stamp]["forward_active"]), (address, day, body)
            # Read by freeze index: 1 on time, today - D for the days caught up after the restart.
            index = body["index"] if "index" in body else int(body["name"].rsplit("_", 1)[1])
            assert index == INDEX.get(day, 1), (address, day, body)
            if "frozen_at" in body:         # a FROZEN_V1 body carries the freeze time itself
                assert body["frozen_at"] == stamp and body.get("freeze") == "day", body
            else:
                (time_body,) = times[(address, day_id(day))]
                assert time_body["value"] == stamp, (address, day, time_body)
    # One week: the values go up day by day (the meters were carried through every hour of it).
    for address in ADDRESSES:
        totals = [frozen[(address, day_id(d))][0]["value"][0] for d in WEEK]
        assert totals == sorted(totals) and totals[0] < totals[-1], (address, totals)
    with Ledger(str(rig.config.parent / "agent.db")) as ledger:
        summaries = {s.cycle_id: s for s in ledger.summaries() if s.cycle_id.startswith("day-")}
    assert {c: s.close_reason for c, s in summaries.items()} == {day_id(d): "complete" for d in WEEK}
    elapsed = time.monotonic() - started
    print("week test: %.1f s, record kinds %s" % (elapsed, sorted(kinds)))
