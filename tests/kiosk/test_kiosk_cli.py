"""The ``kiosk`` command as a hall runs it: ``kiosk serve`` a real subprocess.

The kiosk's identity is enrolled at a hall database and its device tables
point at a real Mosquitto (tests/brokers.py); ``hall serve`` runs as a second
subprocess on that database. A ticket taken over HTTP must reach the hall's
store as a signed ``ticket`` record, and SIGTERM must stop the kiosk with
exit 0. A wrong file gives one ``Error: FILE: key: ...`` line, exit 1, and
creates nothing.
"""

import datetime
import importlib.util
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hall._store import open_store
from kiosk.cli import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "kiosk" / "samples"
DEVICE = "kiosk-01"

_spec = importlib.util.spec_from_file_location("hall_devices", REPO / "tests" / "hall" / "devices.py")
_devices = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_devices)
enrol_device = _devices.enrol_device


def _timezone_at_noon():
    """An ``Etc/GMT`` zone in which it is about noon now, so the queue is open whatever the time
    the test runs (the sample's 08:30-17:30 in Asia/Shanghai would refuse tickets at night)."""
    offset_h = 12 - datetime.datetime.now(datetime.timezone.utc).hour    # local = UTC + offset
    if offset_h == 0:
        return "Etc/GMT"
    return "Etc/GMT%+d" % -offset_h          # POSIX sign: Etc/GMT-8 is UTC+8


def _tables_of(sample, replace=()):
    """A sample's text without its comments, with ``(old, new)`` replacements applied."""
    text = "\n".join(line for line in sample.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    for old, new in replace:
        assert old in text, "the sample no longer has %r" % old
        text = text.replace(old, new)
    return text


def kiosk_file(root, broker, db):
    """Enrol the kiosk and write its one file: device tables from enrol_device, then the samples'
    [queue] (open all day) and [web] tables."""
    path = enrol_device(root, db, broker, DEVICE, kind="kiosk")
    queue = _tables_of(SAMPLES / "queue.toml", [('timezone = "Asia/Shanghai"', 'timezone = "%s"' % _timezone_at_noon()),
                                                ('opens = "08:30"', 'opens = "00:00"'),
                                                ('closes = "17:30"', 'closes = "23:59"')])
    web = _tables_of(SAMPLES / "kiosk.toml")
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n" + queue + "\n" + web + "\n")
    return path


class Process:
    """A subprocess whose merged output is read on a thread, line by line."""

    def __init__(self, args):
        self.lines = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen(args, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.decode("utf-8", "replace").rstrip())
                self._cond.notify_all()

    def wait_line(self, pattern, timeout_s=15.0):
        """The first match of the regex ``pattern`` in the output; fails if the process ends first."""
        found = []

        def seen():
            found[:] = [m for m in map(re.compile(pattern).search, self.lines) if m][:1]
            return bool(found) or self.process.poll() is not None

        with self._cond:
            self._cond.wait_for(seen, timeout_s)
        assert found, "no %r in the output: %s" % (pattern, self.lines)
        return found[0]

    def stop(self, timeout_s=15.0):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def hall_serve(broker, db):
    return Process([sys.executable, "-m", "hall", "serve", "--db", str(db), "--hall", broker.hall,
                    "--broker", "127.0.0.1:%d" % broker.port, "--tls-dir", str(Path(broker.ca).parent),
                    "--stats-s", "0", "--batch-ms", "5", "--session-expiry-s", "0"])


def stored(db, kind):
    store = open_store(str(db), create=False)
    try:
        return [json.loads(body) for src, _e, _s, k, body, _raw in store.records(DEVICE) if k == kind]
    finally:
        store.close()


def test_serve_issues_a_ticket_that_reaches_the_hall_and_stops_on_sigterm(mosquitto, tmp_path):
    """H-03: a ticket taken on the touch screen's API is journaled, sent, and stored by the hall."""
    broker = mosquitto(devices=[(DEVICE, "kiosk")])
    db = tmp_path / "hall.db"
    config = kiosk_file(tmp_path / "kiosk", broker, db)
    hall = hall_serve(broker, db)
    kiosk = Process([sys.executable, "-m", "kiosk", "serve", "--config", str(config), "--port", "0"])
    try:
        hall.wait_line("subscribed to")
        url = kiosk.wait_line(r"touch screen\s+(http://\S+)/").group(1)
        kiosk.wait_line(r"waiting board\s+%s/board" % re.escape(url))
        kiosk.wait_line(r"counter 8\s+%s/counter/vip" % re.escape(url))
        kiosk.wait_line(r"rating 8\s+%s/rating/vip" % re.escape(url))                 # the sample has [rating]
        kiosk.wait_line(r"printer\s+none \(no \[printer\] table\)")
        kiosk.wait_line(r"admin\s+%s/admin" % re.escape(url))
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/").status_code == 200
            for page in ("/rating/w1", "/desk", "/admin"):
                assert client.get(page).status_code == 200, page
            reply = client.post("/api/tickets", json={"business": "payment", "key": "tap-1"})
            assert reply.status_code == 201, reply.text
            assert reply.json()["number"] == "B001"
        deadline = time.monotonic() + 20
        while not stored(db, "ticket") and time.monotonic() < deadline:
            time.sleep(0.1)
        tickets = stored(db, "ticket")
        assert [(t["number"], t["event"], t["business"]) for t in tickets] == [("B001", "issued", "payment")]
        assert kiosk.stop() == 0
        assert "kiosk %s stopped" % DEVICE in kiosk.lines
    finally:
        kiosk.kill()
        hall.stop()
    journal = tmp_path / "kiosk" / "data" / "queue.db"
    assert journal.exists()
    assert (tmp_path / "kiosk" / "data" / "rating.db").exists() and (tmp_path / "kiosk" / "data" / "desk.db").exists()


@pytest.mark.parametrize("change, where", [
    (("", '[printer]\nkind = "dummy"\nhall = "h"\ncolour = "red"\n'), "printer.colour"),
    (("", '[printer]\nkind = "fax"\nhall = "h"\n'), "printer.kind"),
    (("", '[rating]\ntimeout_s = 1\n'), "rating.timeout_s"),
    (('[web.counter.w2]\n', '[web.counter.w2]\npad = "socket://127.0.0.1:1"\n'),
     "web.counter.w2.pad: a rating pad needs a [rating] table"),
    (('[kiosk]\njournal = "data/queue.db"', '[kiosk]\nrating_journal = 3'), "kiosk.rating_journal"),
])
def test_check_config_names_wrong_printer_rating_and_pad_keys(tmp_path, change, where):
    text = (SAMPLES / "kiosk-device.toml").read_text(encoding="utf-8")
    old, new = change
    text = text.replace(old, new) if old else text + "\n" + new
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: %s: " % path) and where in result.output, result.output
    assert result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == [path]


def test_check_config_reports_printer_rating_and_roles(tmp_path):
    text = (SAMPLES / "kiosk-device.toml").read_text(encoding="utf-8")
    text = text.replace('[web.counter.w1]\n', '[web.counter.w1]\npad = "socket://127.0.0.1:9"\n')
    text = text.replace('counters = ["w7", "vip"]', 'counters = ["w7", "vip"]\nroles = ["admin", "desk"]')
    text += '\n[printer]\nkind = "network"\nhost = "192.0.2.7"\nhall = "城东供电营业厅"\n\n[rating]\ntimeout_s = 30\n'
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "printer: network 192.0.2.7:9100" in result.output
    assert "rating: timeout 30 s, pads at w1" in result.output
    assert "roles: admin 1003; desk 1003" in result.output
    assert list(tmp_path.iterdir()) == [path]


def test_serve_refuses_a_wrong_file_with_one_line_and_creates_nothing(mosquitto, tmp_path):
    broker = mosquitto(devices=[(DEVICE, "kiosk")])
    config = kiosk_file(tmp_path / "kiosk", broker, tmp_path / "hall.db")
    text = config.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('categories = ["B"]', 'categories = ["Z"]', 1), encoding="utf-8")
    before = sorted(p.name for p in (tmp_path / "kiosk" / "data").iterdir())
    done = subprocess.run([sys.executable, "-m", "kiosk", "serve", "--config", str(bad)], cwd=str(REPO),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: %s: queue.counter.w4.categories: " % bad), lines
    assert done.stdout == ""
    assert sorted(p.name for p in (tmp_path / "kiosk" / "data").iterdir()) == before
    assert "outbox.db" not in before and "queue.db" not in before


def test_serve_without_an_identity_says_how_to_make_one(tmp_path):
    """The file is right but its data directory holds no identity: one line, nothing created."""
    path = tmp_path / "kiosk.toml"
    path.write_text((SAMPLES / "kiosk-device.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["serve", "--config", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert "identity" in result.output, result.output
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("change, where", [
    (("[hall]\n", "[hall]\nbrokr = \"x:1\"\n"), "hall.brokr"),
    (("port = 8080", "port = 80800"), "web.port"),
    (("[queue]\n", "[kiosk]\njournal = 7\n[queue]\n"), "kiosk.journal"),
    (("[device]\n", "[device\n"), "not valid TOML"),
])
def test_check_config_names_the_wrong_key(tmp_path, change, where):
    text = (SAMPLES / "kiosk-device.toml").read_text(encoding="utf-8").replace(*change)
    if change[0] == "[queue]\n":       # the sample has a [kiosk] table already: make the one under test the only one
        text = text.replace('[kiosk]\njournal = "data/queue.db"', "")
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: %s: " % path) and where in result.output, result.output
    assert result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == [path]


def test_check_config_summarises_the_sample():
    result = CliRunner().invoke(cli, ["check-config", str(SAMPLES / "kiosk-device.toml")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "categories: A Electricity business, B Bill payment, C Enquiries and repairs" in out
    assert "  vip (label 8): A, B, C; green, vip" in out
    assert "  w1 (label 1): A; green, vip, normal" in out
    assert "languages: zh-CN, en (voice off)" in out
    assert "staff: 1001, 1002, 1003" in out
    assert not (SAMPLES / "data").exists()


def test_identity_commands_make_a_kiosk_identity(tmp_path):
    runner = CliRunner()
    made = runner.invoke(cli, ["identity", "init", "--data-dir", str(tmp_path / "d"), "--device-id", "kiosk-02",
                               "--hall", "h1"])
    assert made.exit_code == 0, made.output
    shown = runner.invoke(cli, ["identity", "show", "--data-dir", str(tmp_path / "d"), "--json"])
    info = json.loads(shown.output)
    assert (info["device_id"], info["device_kind"], info["hall"]) == ("kiosk-02", "kiosk", "h1")


@pytest.mark.parametrize("args, words", [
    ([], ["kiosk", "serve", "check-config", "identity"]),
    (["serve"], ["--config", "--host", "--port", "SIGTERM"]),
    (["check-config"], ["FILE", "categories"]),
    (["identity"], ["init", "show", "trust-hall"]),
])
def test_help_explains(args, words):
    result = CliRunner().invoke(cli, args + ["--help"])
    assert result.exit_code == 0
    for word in words:
        assert word in result.output


def test_version_and_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "kiosk", "--version"], cwd=str(REPO), capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and re.match(r"kiosk, version \d", done.stdout), done
