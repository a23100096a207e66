"""The agent searches its DL/T 645 line on the nightly ``[search]`` slot (M-08 有表无信息 / 有信息无表).

End to end: a simulated line (firmware_sim BusServer over TCP) where one archive
meter is gone from the line and one meter not in the archive answers, a real
Mosquitto, ``hall serve`` on a SQLite file, and the agent in process on a clock
the test moves (as tests/concentrator/test_agent_week.py). The meters answer
with reply delays far enough apart that their replies never overlap, so each
search is one wildcard probe; the collision tree is tested in
test_search_on_bus.py. The ``search-line`` command path is tests/hall/test_command_search.py.
"""

import datetime
import importlib.util
import io
import json
import threading
import time
from pathlib import Path

import pytest

from concentrator._agent import Agent, AgentConfigError, load_agent_config
from concentrator._agent_search import CATCH_UP_S, LineSearch, editions, summary_detail
from concentrator._search import SearchPlan
from concentrator.archive import Archive, ArchiveMeter
from firmware_sim.bus import BusServer
from hall._store import open_store

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("agent_e2e", REPO / "tests" / "concentrator" / "test_agent.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

HALL, DEVICE, BAUD = _e2e.HALL, _e2e.DEVICE, 9600
HALL_TZ = datetime.timezone(datetime.timedelta(hours=8))
ARCHIVED = ["2023111500%02d" % n for n in range(30, 35)]
GONE = ARCHIVED[4]              # in the archive, absent from the line
STRANGER = "202311150099"       # on the line, not in the archive
CODES = ("meter-without-record", "record-without-meter")
# Reply delays 60 ms apart: a reply is about 30 ms at 9600 baud, so none overlap.
DELAYS_MS = {a: 20 + 60 * i for i, a in enumerate(ARCHIVED + [STRANGER])}
WINDOW_S = 0.45
SEARCH_TOML = """
[agent]
db = "agent.db"
poll_s = 0.05

[agent.lines.line1]
timeout_s = 0.6
pacing_s = 0.01

[cycles.realtime]
interval_min = 15
items_2007 = ["forward_active_total"]

[cycles.daily]
enabled = false

[cycles.monthly]
enabled = false

[anomalies]
search_miss_count = 1
clear_after = 1

[search]
enabled = %s
at = "02:30"
window_s = %s
"""


def local_ms(text):
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=HALL_TZ).timestamp() * 1000)


def wait_until(predicate, what, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail("timed out waiting for %s" % what)


class SearchRig:
    """Broker, ``hall serve``, the simulated line and an agent on a clock the test sets."""

    def __init__(self, mosquitto, tmp_path, enabled, now_text, hall_servers=("hall-server",)):
        self.broker = mosquitto(HALL, [(DEVICE, "concentrator")], hall_servers=list(hall_servers))
        self.db = tmp_path / "hall.db"
        root = tmp_path / "conc"
        root.mkdir()
        self.config = _e2e.enrol_device(root, self.db, self.broker, DEVICE)
        self.config.write_text(self.config.read_text(encoding="utf-8") + SEARCH_TOML % (
            "true" if enabled else "false", WINDOW_S), encoding="utf-8")
        meters = [{"address": a, "std": "2007", "reply_delay_ms": DELAYS_MS[a], "preamble": 4, "history_days": 1}
                  for a in ARCHIVED + [STRANGER]]
        self.bus = BusServer(meters, baud=BAUD, transport="tcp", seed=645).start()
        self.bus.set_fault(GONE, "absent")
        rows = ["%s,,2007,line1,%s,%d,E,tq0001,customer,32010001%04d,1,1,1,,\n" % (a, self.bus.url, BAUD, i)
                for i, a in enumerate(ARCHIVED)]
        (root / "archive.csv").write_text(_e2e.CSV_HEAD + "".join(rows), encoding="utf-8")
        with Archive(str(root / "agent.db"), create=True) as archive:
            archive.import_file(str(root / "archive.csv"), mode="replace")
        self.hall = _e2e.HallServe(self.broker, self.db)
        self.now_ms = [local_ms(now_text)]
        self.out = io.StringIO()
        self.agent = self.thread = self.stop_event = None
        self.errors = []

    def start(self):
        self.agent = Agent(load_agent_config(self.config), clock=lambda: self.now_ms[0], out=self.out)
        self.stop_event = threading.Event()

        def run():
            try:
                self.agent.run(self.stop_event)
            except Exception as exc:        # shown by the assertions
                self.errors.append(exc)
        self.thread = threading.Thread(target=run)
        self.thread.start()
        agent = self.agent
        wait_until(lambda: agent.search is not None or self.errors, "the agent started")
        wait_until(lambda: agent.runtime.publisher.connected or self.errors, "the agent online")
        assert not self.errors, self.errors

    def stop(self):
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(30)
            assert not self.thread.is_alive(), "the agent did not stop"
            self.thread = None

    def close(self):
        self.stop()
        self.hall.stop()
        self.bus.stop()

    def records(self, kind):
        with open_store(str(self.db), create=False) as store:
            return [json.loads(body) for _s, _e, _q, k, body, _r in store.records(DEVICE) if k == kind]

    def search_anomalies(self):
        """(meter, code, state) of the search anomalies at the hall, in the order stored."""
        return [(b["meter"], b["code"], b["state"]) for b in self.records("anomaly") if b["code"] in CODES]

    def summaries(self):
        return [b for b in self.records("event") if b["code"] == "line-search"]


@pytest.fixture
def nightly(mosquitto, tmp_path):
    rig = SearchRig(mosquitto, tmp_path, True, "2026-11-24T02:29:00")
    yield rig
    rig.close()
    assert not rig.errors, rig.errors


def test_m08_nightly_slot_raises_each_search_anomaly_once_and_clears_them_on_the_next_night(nightly):
    rig = nightly
    rig.start()
    time.sleep(0.5)
    assert rig.agent.search.finished == [], "searched before the slot"
    rig.now_ms[0] = local_ms("2026-11-24T02:30:01")
    first = "sr-line1-2026-11-24"
    wait_until(lambda: rig.agent.search.finished == [first], "the slot's search")
    wait_until(lambda: len(rig.summaries()) == 1 and len(rig.search_anomalies()) == 2, "the records at the hall")
    assert sorted(rig.search_anomalies()) == [(GONE, "record-without-meter", "raised"),
                                              (STRANGER, "meter-without-record", "raised")]
    bodies = {b["meter"]: b for b in rig.records("anomaly") if b["code"] in CODES}
    assert bodies[STRANGER]["cycle"] == first and bodies[STRANGER]["area"] == "tq0001"
    assert bodies[GONE]["value"] == 1 and bodies[GONE]["unit"] == "searches"
    (summary,) = rig.summaries()
    assert summary["severity"] == "warning" and summary["state"] == "once"
    assert summary["detail"].startswith("search %s of line line1 (2007): 5 found, 5 in archive, "
                                        "1 not in archive (%s), 1 not found (%s), 0 unresolved, " % (first, STRANGER,
                                                                                                      GONE))
    assert summary["detail"].endswith("anomalies: 2 raised, 0 cleared"), summary["detail"]

    # A restart the same night: the slot is done, nothing is searched or sent again.
    rig.stop()
    rig.start()
    time.sleep(1.0)
    assert rig.agent.search.finished == [] and len(rig.summaries()) == 1 and len(rig.search_anomalies()) == 2

    # The meter is back, the stranger gone: the next night's search clears both.
    rig.bus.clear_fault(GONE, "absent")
    rig.bus.set_fault(STRANGER, "absent")
    rig.now_ms[0] = local_ms("2026-11-25T02:30:00")
    second = "sr-line1-2026-11-25"
    wait_until(lambda: rig.agent.search.finished == [second], "the next night's search")
    wait_until(lambda: len(rig.summaries()) == 2 and len(rig.search_anomalies()) == 4, "the clears at the hall")
    assert sorted(rig.search_anomalies()[2:]) == [(GONE, "record-without-meter", "cleared"),
                                                  (STRANGER, "meter-without-record", "cleared")]
    last = [s for s in rig.summaries() if second in s["detail"]][0]
    assert last["severity"] == "info" and "5 found, 5 in archive, 0 not in archive, 0 not found" in last["detail"]
    assert rig.agent.reports.monitor.active() == []
    # The cycle reads of the line went on around the searches.
    assert any(b["meter"] == ARCHIVED[0] for b in rig.records("reading"))


def test_a_slot_missed_by_more_than_the_catch_up_is_skipped(mosquitto, tmp_path):
    late = datetime.datetime(2026, 11, 24, 2, 30, tzinfo=HALL_TZ) + datetime.timedelta(seconds=CATCH_UP_S + 60)
    rig = SearchRig(mosquitto, tmp_path, True, late.isoformat()[:19])
    try:
        rig.start()
        time.sleep(1.0)
        assert rig.agent.search.finished == [] and "search sr-" not in rig.out.getvalue()
    finally:
        rig.close()
    assert not rig.errors, rig.errors


BAD_TABLES = [
    ("[search]\nenabled = \"yes\"\n", "search.enabled: expected true or false, got 'yes'"),
    ("[search]\nat = \"2:30\"\n", "search.at: expected a hall-local time \"HH:MM\" (00:00 to 23:59), got '2:30'"),
    ("[search]\nat = \"24:00\"\n", "search.at: expected a hall-local time"),
    ("[search]\nstd = \"2008\"\n", "search.std: expected one of \"archive\", \"2007\", \"1997\", \"both\", got '2008'"),
    ("[search]\nwindow_s = 0\n", "search.window_s: expected seconds from 0.01 to 10, got 0"),
    ("[search]\nwindow = 1\n", "search.window: expected one of the keys enabled, at, std, window_s, lines"),
    ("[search.lines.line1]\nstd = \"1998\"\n", "search.lines.line1.std: expected one of"),
    ("[search.lines.line1]\nat = \"03:00\"\n", "search.lines.line1.at: expected one of the keys std, window_s"),
    ("search = 3\n", "search: expected a table, got 3"),
]


def test_bad_search_table_is_a_clear_error_naming_the_file_and_key(mosquitto, tmp_path):
    broker = mosquitto(HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server"])
    good = _e2e.enrol_device(tmp_path, tmp_path / "hall.db", broker, DEVICE)
    assert load_agent_config(good).search.enabled is False      # no [search]: no nightly slot
    bad = tmp_path / "bad.toml"
    for table, text in BAD_TABLES:
        text_of = table + good.read_text(encoding="utf-8") if table.startswith("search =") else \
            good.read_text(encoding="utf-8") + table
        bad.write_text(text_of, encoding="utf-8")
        with pytest.raises(AgentConfigError) as info:
            load_agent_config(bad)
        assert str(info.value).startswith("%s: " % bad) and text in str(info.value), (table, str(info.value))


def test_a_search_table_naming_a_line_the_archive_lacks_starts_nothing(mosquitto, tmp_path):
    rig = SearchRig(mosquitto, tmp_path, True, "2026-11-24T02:29:00")
    try:
        rig.config.write_text(rig.config.read_text(encoding="utf-8") + "\n[search.lines.line9]\nstd = \"1997\"\n",
                              encoding="utf-8")
        agent = Agent(load_agent_config(rig.config), clock=lambda: rig.now_ms[0], out=io.StringIO())
        with pytest.raises(AgentConfigError) as info:
            agent.run(threading.Event())
        assert "search.lines.line9: no such line in the archive (lines: line1)" in str(info.value)
        assert agent.runtime is None and rig.bus.stats["requests_seen"] == 0
    finally:
        rig.close()


def archive_meter(address, protocol, line="line1"):
    return ArchiveMeter(address=address, unit=None, protocol=protocol, line=line, port="socket://gw:4001",
                        baud=2400, parity="E", area="tq0001", role="customer", customer="", phases=1,
                        ct_ratio=1.0, pt_ratio=1.0)


def test_editions_follow_the_archive_and_modbus_lines_are_not_searched():
    mixed = [archive_meter("202311150030", "2007"), archive_meter("000009310421", "1997")]
    assert editions(mixed, "archive") == ["2007", "1997"]
    assert editions(mixed[1:], "archive") == ["1997"] and editions(mixed[1:], "both") == ["2007", "1997"]
    assert editions(mixed, "2007") == ["2007"]
    assert editions([archive_meter("202311150077", "modbus:ddsu666")], "both") == []


def test_summary_names_strangers_missing_meters_and_unresolved_patterns():
    result = LineSearch([SearchPlan().result()], 12.34)
    result.found, result.unresolved, result.probes = ["202311150030", STRANGER], ["2023111500AA"], 301
    detail = summary_detail("command c1: ", "sr-c1", "line1", ["2007"], result, ["202311150030", GONE],
                            [{"state": "raised"}])
    assert detail == ("command c1: search sr-c1 of line line1 (2007): 2 found, 2 in archive, 1 not in archive "
                      "(%s), 1 not found (%s), 1 unresolved, 301 probes, 12.3 s; anomalies: 1 raised, 0 cleared"
                      % (STRANGER, GONE))
