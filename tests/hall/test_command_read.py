"""``hall command read`` end to end: the real CLI (click's runner, in process), a real
Mosquitto with the generated TLS and ACL, ``hall serve`` as a subprocess on a SQLite
file, and the concentrator agent reading simulated DL/T 645 meters (firmware_sim
BusServer over socket://) while its real-time cycle runs on the same line (M-03)."""

import datetime
import io
import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from concentrator._agent import Agent, load_agent_config
from concentrator.archive import Archive
from devices import HALL, enrol_device
from firmware_sim.bus import BusServer
from hall._command import sign_command
from hall._keys import load_hall_key
from hall._store import open_store
from hall.cli import cli
from protocols.records import verify_control
from protocols.topics import command_topic
from test_serve import HallServe

DEVICE = "conc-01"
BAUD = 9600
# Slow replies, so the 17 items of a real-time cycle take about 5 s and a command lands in one.
DELAY_MS = 250
ADDRESSES = ["2023111500%02d" % n for n in range(30, 35)]
START_KWH = {a: 1000.0 + 111.11 * i for i, a in enumerate(ADDRESSES)}
ADDRESS_1997 = "000009310421"
CYCLE = "rt-2026-11-23T10:15"
CYCLE_ITEMS = 5 * 3 + 2
CSV_HEAD = "address,unit,protocol,line,port,baud,parity,area,role,customer,phases,ct_ratio,pt_ratio,name,location\n"
AGENT_TOML = """
[agent]
db = "agent.db"
poll_s = 0.05

[agent.lines.line1]
timeout_s = 0.6
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


def local_ms(text):
    t = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    return int(t.timestamp() * 1000)


def wait_until(predicate, what, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail("timed out waiting for %s" % what)


class Rig:
    """Broker, hall serve, simulated line and a running agent; ``read(...)`` runs the CLI."""

    def __init__(self, mosquitto, tmp_path):
        self.broker = mosquitto(HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server", "hall-command"])
        self.db = tmp_path / "hall.db"
        root = tmp_path / "conc"
        root.mkdir()
        config = enrol_device(root, self.db, self.broker, DEVICE)
        config.write_text(config.read_text(encoding="utf-8") + AGENT_TOML, encoding="utf-8")
        meters = [{"address": a, "std": "2007", "reply_delay_ms": DELAY_MS, "preamble": 4, "history_days": 1,
                   "start_kwh": START_KWH[a]} for a in ADDRESSES]
        meters.append({"address": ADDRESS_1997, "std": "1997", "reply_delay_ms": DELAY_MS, "preamble": 4,
                       "history_days": 1})
        self.bus = BusServer(meters, baud=BAUD, transport="tcp", seed=645).start()
        rows = ["%s,,2007,line1,%s,%d,E,tq0001,customer,32010001%04d,1,1,1,,\n" % (a, self.bus.url, BAUD, i)
                for i, a in enumerate(ADDRESSES)]
        rows.append("%s,,1997,line1,%s,%d,E,tq0001,customer,320100019999,1,1,1,,\n" % (ADDRESS_1997, self.bus.url,
                                                                                      BAUD))
        (root / "archive.csv").write_text(CSV_HEAD + "".join(rows), encoding="utf-8")
        with Archive(str(root / "agent.db"), create=True) as archive:
            archive.import_file(str(root / "archive.csv"), mode="replace")
        self.hall = HallServe(self.broker, self.db)
        self.out = io.StringIO()
        self.agent = Agent(load_agent_config(config), clock=lambda: local_ms("2026-11-23T10:15:05"), out=self.out)
        self.stop_agent = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._run_agent)
        self.thread.start()
        wait_until(lambda: "opened" in self.out.getvalue() or self.errors, "the agent's first cycle")
        wait_until(lambda: self.agent.runtime.publisher.connected or self.errors, "the agent online")
        assert not self.errors, self.errors

    def _run_agent(self):
        try:
            self.agent.run(self.stop_agent)
        except Exception as exc:        # shown by the tests' assertions
            self.errors.append(exc)

    def close(self):
        self.stop_agent.set()
        self.thread.join(30)
        self.hall.stop()
        self.bus.stop()

    def read(self, meter, *items, wait_s=15):
        args = ["command", "read", "--device", DEVICE, "--meter", meter, "--db", str(self.db), "--hall", HALL,
                "--broker", "127.0.0.1:%d" % self.broker.port, "--tls-dir", str(Path(self.broker.ca).parent),
                "--wait", str(wait_s)]
        for item in items:
            args += ["--item", item]
        return CliRunner().invoke(cli, args)

    def records(self, kind):
        with open_store(str(self.db), create=False) as store:
            return [json.loads(body) for _s, _e, _q, k, body, _r in store.records(DEVICE) if k == kind]

    def readings(self, cycle):
        return [b for b in self.records("reading") if b["cycle"] == cycle]


@pytest.fixture
def rig(mosquitto, tmp_path):
    rig = Rig(mosquitto, tmp_path)
    yield rig
    rig.close()
    assert not rig.errors, rig.errors


def command_id(output):
    line = next(line for line in output.splitlines() if line.startswith("sent command "))
    return line.split()[2]


def test_m03_read_during_a_running_cycle_returns_the_meters_own_value_quickly(rig):
    meter = ADDRESSES[3]
    wait_until(lambda: 2 <= len(rig.readings(CYCLE)), "the cycle under way")
    started = time.monotonic()
    result = rig.read(meter, "forward_active_total", "voltage_a")
    elapsed_s = time.monotonic() - started
    held = rig.bus.meters[meter].energy("forward_active")
    cycle_done = len(rig.readings(CYCLE))
    assert result.exit_code == 0, result.output
    cid = command_id(result.output)
    stored = {b["name"]: b for b in rig.readings("od-" + cid)}
    assert set(stored) == {"forward_active_total", "voltage_a"}
    energy = stored["forward_active_total"]
    assert energy["meter"] == meter and energy["unit"] == "kWh" and energy["std"] == "2007"
    assert energy["value"] >= START_KWH[meter] and abs(energy["value"] - held) < 0.011
    assert 100 < stored["voltage_a"]["value"] < 300
    lines = result.output.splitlines()
    assert any(line.startswith("forward_active_total  %s kWh  read " % energy["value"]) for line in lines), lines
    assert any(line.startswith("voltage_a             %s V  read " % stored["voltage_a"]["value"]) for line in lines)
    # It overtook the cycle: answered while cycle items were still to be read.
    assert cycle_done < CYCLE_ITEMS, "the cycle ended before the answer; nothing was overtaken"
    print("on-demand read of 2 items during a cycle: %.2f s at the CLI, cycle %d/%d read by then"
          % (elapsed_s, cycle_done, CYCLE_ITEMS))
    assert elapsed_s < 6.0
    # On-demand reads are not the ledger's: the cycle closes complete with its own 17 items.
    wait_until(lambda: len(rig.readings(CYCLE)) == CYCLE_ITEMS, "the cycle complete")
    assert "command %s: read-meter %s: 2 read, 0 failed" % (cid, meter) in rig.out.getvalue()


def test_unknown_meter_and_bad_item_are_refused_with_an_event_and_read_nothing(rig):
    result = rig.read("202311159999", "forward_active_total")
    assert result.exit_code == 1
    cid = command_id(result.output)
    assert ("Error: %s refused the command: command %s: meter 202311159999 is not in the archive" % (DEVICE, cid)
            in result.output), result.output
    result2 = rig.read(ADDRESSES[0], "forward_active_total", "no_such_item")
    assert result2.exit_code == 1
    cid2 = command_id(result2.output)
    assert "items: 'no_such_item' is not an item of meter %s (protocol 2007)" % ADDRESSES[0] in result2.output
    events = {e["detail"].split(":")[0]: e for e in rig.records("event")}
    assert events["command %s" % cid]["code"] == "command-refused"
    assert events["command %s" % cid]["meter"] == "202311159999"
    assert events["command %s" % cid2]["meter"] == ADDRESSES[0] and events["command %s" % cid2]["severity"] == "warning"
    # The valid item of the refused command was not read either.
    assert rig.readings("od-" + cid) == [] and rig.readings("od-" + cid2) == []


def test_a_replayed_command_runs_once_and_a_rerun_is_not_stored_twice(rig):
    meter = ADDRESSES[1]
    now_ms = int(time.time() * 1000)
    cid = "replay-%x" % now_ms
    fields = {"id": cid, "name": "read-meter", "args": {"meter": meter, "items": ["forward_active_total"]}}
    payload = sign_command(str(rig.db), HALL, DEVICE, fields, now_ms)
    probe = rig.broker.probe("hall-command")
    probe.publish(command_topic(HALL, DEVICE), payload)
    wait_until(lambda: len(rig.readings("od-" + cid)) == 1, "the answer")
    probe.publish(command_topic(HALL, DEVICE), payload)           # the same signed bytes again
    publisher = rig.agent.runtime.publisher
    wait_until(lambda: publisher.commands_refused == 1, "the replay refused")
    assert publisher.commands_run == 1 and rig.agent.ondemand.received == 1
    # After a restart the device has forgotten the id; a re-run reads again, the producer
    # keys keep the hall from a second answer.
    replies = rig.bus.replies_by_meter.get(meter, 0)
    key, _created = load_hall_key(str(rig.db), create=False)
    rig.agent.ondemand.receive(verify_control(payload, key.public_key(), DEVICE, hall=HALL))
    done = "command %s: read-meter %s: 1 read, 0 failed" % (cid, meter)
    wait_until(lambda: rig.out.getvalue().count(done) == 2, "the re-run")
    assert rig.bus.replies_by_meter.get(meter, 0) > replies, "the re-run did not read the meter"
    marker = rig.read(ADDRESSES[2], "voltage_a")        # anything the agent sends after the re-run
    assert marker.exit_code == 0, marker.output
    assert len(rig.readings("od-" + cid)) == 1


def test_no_answer_and_offline_device_say_what_to_check(rig):
    rig.hall.stop()                 # nobody stores the answer
    result = rig.read(ADDRESSES[0], "voltage_a", wait_s=1)
    assert result.exit_code == 1
    cid = command_id(result.output)
    assert ("Error: no answer from %s within 1 s for voltage_a (command %s); check that `hall serve` stores into %s"
            % (DEVICE, cid, rig.db)) in result.output, result.output
    assert "its status is online" in result.output and "od-%s" % cid in result.output
    rig.stop_agent.set()
    rig.thread.join(30)
    listener = rig.broker.probe(DEVICE)
    listener.subscribe(command_topic(HALL, DEVICE))
    result = rig.read(ADDRESSES[0], "voltage_a")
    assert result.exit_code == 1
    assert "Error: device %s is offline (stopped since " % DEVICE in result.output, result.output
    assert "sent command" not in result.output
    time.sleep(0.3)
    assert listener.received() == []


def test_bad_arguments_are_refused_before_anything_is_sent(tmp_path):
    db = tmp_path / "hall.db"
    key, _created = load_hall_key(str(db))
    with open_store(str(db)) as store:
        store.enrol("kiosk-01", "kiosk", bytes(32), 0)
    base = ["command", "read", "--db", str(db), "--hall", HALL, "--broker", "127.0.0.1:1", "--tls-dir",
            str(tmp_path)]
    cases = [
        (["--device", DEVICE, "--meter", "2023", "--item", "voltage_a"],
         "Error: --meter '2023': expected the meter's 12-digit address"),
        (["--device", DEVICE, "--meter", ADDRESSES[0], "--item", "voltage_a", "--item", "voltage_a"],
         "Error: --item voltage_a is given twice"),
        (["--device", DEVICE, "--meter", ADDRESSES[0], "--item", "volt age"],
         "Error: --item 'volt age': expected an item name"),
        (["--device", DEVICE, "--meter", ADDRESSES[0], "--item", "voltage_a"],
         "Error: --device conc-01 is not enrolled in %s" % db),
        (["--device", "kiosk-01", "--meter", ADDRESSES[0], "--item", "voltage_a"],
         "Error: --device kiosk-01 is a kiosk; only concentrators read meters"),
    ]
    for args, text in cases:
        result = CliRunner().invoke(cli, base + args)
        assert result.exit_code == 1 and text in result.output, (args, result.output)
    store_db = open_store(str(db), create=False)
    try:
        assert store_db.records() == []
    finally:
        store_db.close()
    result = CliRunner().invoke(cli, base[:6] + ["--broker", "nohost", "--tls-dir", str(tmp_path), "--device", DEVICE,
                                                 "--meter", ADDRESSES[0], "--item", "voltage_a"])
    assert result.exit_code == 1 and "Error: --broker 'nohost': expected HOST:PORT" in result.output


def test_an_item_the_meter_does_not_answer_is_a_command_failed_event(rig):
    meter = ADDRESSES[4]
    rig.bus.set_fault(meter, "absent")
    result = rig.read(meter, "voltage_a")
    assert result.exit_code == 1, result.output
    cid = command_id(result.output)
    assert "voltage_a  not read: " in result.output and "Error: 1 of 1 items not read" in result.output
    (event,) = [e for e in rig.records("event") if e["detail"].startswith("command %s:" % cid)]
    assert event["code"] == "command-failed" and event["meter"] == meter
    assert "meter %s item voltage_a not read: " % meter in event["detail"]
    assert rig.readings("od-" + cid) == []
