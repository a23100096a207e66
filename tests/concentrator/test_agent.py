"""The concentrator agent end to end: a simulated RS-485 line (firmware_sim BusServer
over TCP) with five DL/T 645-2007 meters and one 1997 meter, the archive imported
from CSV, a real Mosquitto and ``hall serve`` on a real SQLite file.

The hall gets each (cycle, meter, item) reading exactly once, also when the agent
is killed with SIGKILL in the middle of a cycle and started again, and the ledger
shows the cycles closed complete (M-01, M-02, M-10)."""

import datetime
import importlib.util
import io
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from concentrator._agent import Agent, AgentConfigError, load_agent_config
from concentrator._ledger import Ledger
from concentrator.archive import Archive
from firmware_sim.bus import BusServer
from hall._store import open_store

REPO = Path(__file__).resolve().parents[2]
HALL = "h1"
DEVICE = "conc-01"
BAUD = 9600
# Slow enough that a cycle (17 items) takes about 3 s, so a kill lands in the middle of one.
DELAY_MS = 150
ADDRESSES_2007 = ["2023111500%02d" % n for n in range(30, 35)]
ADDRESS_1997 = "000009310421"
ITEMS = {"2007": ["forward_active_total", "voltage_a", "current_a"], "1997": ["forward_active_total", "voltage_a"]}
EXPECTED = {a: ITEMS["2007"] for a in ADDRESSES_2007}
EXPECTED[ADDRESS_1997] = ITEMS["1997"]
PER_CYCLE = sum(len(items) for items in EXPECTED.values())

# tests/ folders are not packages: load tests/hall/devices.py by its path.
_spec = importlib.util.spec_from_file_location("hall_devices", REPO / "tests" / "hall" / "devices.py")
_devices = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_devices)
enrol_device = _devices.enrol_device

CSV_HEAD = "address,unit,protocol,line,port,baud,parity,area,role,customer,phases,ct_ratio,pt_ratio,name,location\n"

CYCLES_TOML = """
[agent]
db = "agent.db"
poll_s = 0.1

[agent.lines.line1]
timeout_s = 0.3
pacing_s = 0.01

[cycles.realtime]
interval_min = 1
items_2007 = ["forward_active_total", "voltage_a", "current_a"]
items_1997 = ["forward_active_total", "voltage_a"]

[cycles.daily]
enabled = false

[cycles.monthly]
enabled = false
"""


def wait_until(predicate, what, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail("timed out waiting for %s" % what)


class HallServe:
    """``python -m hall serve`` as a subprocess, its standard error read on a thread."""

    def __init__(self, broker, db):
        self.lines = []
        self._cond = threading.Condition()
        args = [sys.executable, "-m", "hall", "serve", "--db", str(db), "--hall", HALL,
                "--broker", "127.0.0.1:%d" % broker.port, "--tls-dir", str(Path(broker.ca).parent),
                "--stats-s", "0", "--batch-ms", "5", "--session-expiry-s", "0"]
        self.process = subprocess.Popen(args, cwd=str(REPO), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()
        with self._cond:
            ok = self._cond.wait_for(lambda: any("subscribed to" in line for line in self.lines)
                                     or self.process.poll() is not None, 10.0)
        assert ok and self.process.poll() is None, "hall serve did not subscribe: %s" % self.lines

    def _read(self):
        for line in self.process.stderr:
            with self._cond:
                self.lines.append(line.decode("utf-8", "replace").rstrip())
                self._cond.notify_all()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(10)


@pytest.fixture
def setup(mosquitto, tmp_path):
    """(config path, hall db, bus): an enrolled concentrator whose archive lists the bus's meters,
    and a running hall; everything stopped after the test."""
    broker = mosquitto(HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server"])
    hall_db = tmp_path / "hall.db"
    root = tmp_path / "conc"
    root.mkdir()
    config = enrol_device(root, hall_db, broker, DEVICE)
    config.write_text(config.read_text(encoding="utf-8") + CYCLES_TOML, encoding="utf-8")
    meters = [{"address": a, "std": "2007", "reply_delay_ms": DELAY_MS, "preamble": 4, "history_days": 1}
              for a in ADDRESSES_2007]
    meters.append({"address": ADDRESS_1997, "std": "1997", "reply_delay_ms": DELAY_MS, "preamble": 4, "history_days": 1})
    bus = BusServer(meters, baud=BAUD, transport="tcp", seed=645).start()
    rows = ["%s,,2007,line1,%s,%d,E,tq0001,%s,%s,1,1,1,,\n"
            % (a, bus.url, BAUD, "supply" if i == 0 else "customer", "" if i == 0 else "32010001%04d" % i)
            for i, a in enumerate(ADDRESSES_2007)]
    rows.append("%s,,1997,line1,%s,%d,E,tq0001,customer,320100019999,1,1,1,,\n" % (ADDRESS_1997, bus.url, BAUD))
    csv = root / "archive.csv"
    csv.write_text(CSV_HEAD + "".join(rows), encoding="utf-8")
    with Archive(str(root / "agent.db"), create=True) as archive:
        archive.import_file(str(csv), mode="replace")
    hall = HallServe(broker, hall_db)
    yield config, hall_db, bus
    hall.stop()
    bus.stop()


def hall_records(db, kind):
    try:
        store = open_store(str(db), create=False)
    except Exception:       # not created yet by hall serve
        return []
    try:
        return [json.loads(body) for _src, _epoch, _seq, k, body, _raw in store.records(DEVICE) if k == kind]
    finally:
        store.close()


def readings_of(db, cycle_id):
    return [(b["meter"], b["name"]) for b in hall_records(db, "reading") if b["cycle"] == cycle_id]


def complete(db, cycle_id):
    return set(readings_of(db, cycle_id)) == {(m, i) for m, items in EXPECTED.items() for i in items}


def local_ms(text):
    t = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    return int(t.timestamp() * 1000)


def assert_once(db):
    keys = [(b["cycle"], b["meter"], b["name"]) for b in hall_records(db, "reading")]
    assert len(keys) == len(set(keys)), "duplicate readings: %s" % sorted(k for k in keys if keys.count(k) > 1)


def test_config_errors_name_the_file_and_key(tmp_path, setup):
    config, _db, _bus = setup
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text(encoding="utf-8").replace("poll_s = 0.1", "poll_s = -1"), encoding="utf-8")
    with pytest.raises(AgentConfigError, match=r"bad\.toml: agent\.poll_s: expected seconds"):
        load_agent_config(bad)
    bad.write_text(config.read_text(encoding="utf-8").replace("interval_min = 1", "interval_min = 7"),
                   encoding="utf-8")
    with pytest.raises(AgentConfigError, match=r"bad\.toml: cycles\.realtime\.interval_min"):
        load_agent_config(bad)
    cfg = load_agent_config(config)
    assert cfg.db_path == str(config.parent / "agent.db") and cfg.lines["line1"]["timeout_s"] == 0.3


def test_m02_agent_in_process_reads_two_cycles_into_the_hall_once(setup):
    config, hall_db, _bus = setup
    now = [local_ms("2026-11-23T10:15:05")]
    out = io.StringIO()
    agent = Agent(load_agent_config(config), clock=lambda: now[0], out=out)
    stop = threading.Event()
    errors = []

    def run():
        try:
            agent.run(stop)
        except Exception as exc:        # shown by the assertion below
            errors.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_until(lambda: complete(hall_db, "rt-2026-11-23T10:15") or errors, "cycle 10:15 in the hall")
        now[0] = local_ms("2026-11-23T10:16:02")
        wait_until(lambda: complete(hall_db, "rt-2026-11-23T10:16") or errors, "cycle 10:16 in the hall")
        wait_until(lambda: len(hall_records(hall_db, "cycle")) == 2 or errors, "two cycle records")
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors
    assert not thread.is_alive()
    assert_once(hall_db)
    cycles = {b["cycle"]: b for b in hall_records(hall_db, "cycle")}
    assert cycles["rt-2026-11-23T10:15"]["expected"] == 6 and cycles["rt-2026-11-23T10:15"]["read"] == 6
    assert cycles["rt-2026-11-23T10:15"]["missing"] == [] and cycles["rt-2026-11-23T10:15"]["area"] == "tq0001"
    text = out.getvalue()
    assert "cycle rt-2026-11-23T10:15: %d/%d read, 0 failed" % (PER_CYCLE, PER_CYCLE) in text, text
    assert "agent stopped" in text
    with Ledger(str(config.parent / "agent.db")) as ledger:
        summaries = {s.cycle_id: s for s in ledger.summaries()}
    assert {c: (s.close_reason, s.read) for c, s in summaries.items()} == {
        "rt-2026-11-23T10:15": ("complete", PER_CYCLE), "rt-2026-11-23T10:16": ("complete", PER_CYCLE)}


class AgentProcess:
    """``python -m concentrator run --config FILE``, its output read on a thread."""

    def __init__(self, config):
        self.lines = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen([sys.executable, "-m", "concentrator", "run", "--config", str(config)],
                                        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.decode("utf-8", "replace").rstrip())
                self._cond.notify_all()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def test_m02_kill_9_mid_cycle_then_restart_reads_each_item_once(setup):
    """Wall-clock minutes (the subprocess plans with the real clock): up to about 90 s."""
    config, hall_db, bus = setup
    # Start early in a minute, so the first cycle has time to finish before its deadline.
    while datetime.datetime.now().second > 30:
        time.sleep(0.5)
    agent = AgentProcess(config)
    try:
        first = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
        first_id = "rt-%s" % first.strftime("%Y-%m-%dT%H:%M")
        wait_until(lambda: complete(hall_db, first_id), "the first cycle in the hall: %s" % agent.lines, 40)
        second = first + datetime.timedelta(minutes=1)
        second_id = "rt-%s" % second.strftime("%Y-%m-%dT%H:%M")
        wait_until(lambda: len(readings_of(hall_db, second_id)) >= 3, "the second cycle started", 75)
        agent.kill()
        done = len(readings_of(hall_db, second_id))
        assert done < PER_CYCLE, "the second cycle finished before the kill; nothing was tested"
        agent = AgentProcess(config)
        wait_until(lambda: complete(hall_db, second_id), "the second cycle after the restart: %s" % agent.lines, 40)
        assert any(line.startswith("resumed ") for line in agent.lines), agent.lines
        wait_until(lambda: second_id in {b["cycle"] for b in hall_records(hall_db, "cycle")},
                   "the second cycle's record", 20)
    finally:
        rc = agent.stop()
    assert rc == 0, agent.lines
    assert_once(hall_db)
    with Ledger(str(config.parent / "agent.db")) as ledger:
        for cycle_id in (first_id, second_id):
            s = ledger.cycle(cycle_id)
            assert (s.close_reason, s.read, s.expected) == ("complete", PER_CYCLE, PER_CYCLE), s
    out = subprocess.run([sys.executable, "-m", "concentrator", "ledger", "--db", str(config.parent / "agent.db"),
                          "--cycle", second_id], cwd=str(REPO), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "100.0%" in out.stdout, out.stdout + out.stderr
