"""``firmware-sim bus``: as a subprocess on a real TCP port, and its error paths in-process."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
import serial
from click.testing import CliRunner

from firmware_sim.bus._commands import COMMANDS
from firmware_sim.cli import cli
from protocols.dlt645 import FrameExtractor, build_read_request, parse_frame

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST_METER = "202311150044"     # the sample's 20 ms meter


class Proc:
    """A ``firmware-sim`` subprocess whose stdout lines can be awaited."""

    def __init__(self, *args):
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.p = subprocess.Popen([sys.executable, "-m", "firmware_sim", *args], cwd=REPO, env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.lines = []

    def _pump(self):
        for text in self.p.stdout:
            self._queue.put(text.rstrip("\n"))
        self._queue.put(None)

    def line(self, timeout_s=10.0):
        try:
            text = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            self.kill()
            pytest.fail("no output within %.0f s; stderr: %s" % (timeout_s, self.p.stderr.read()))
        if text is None:
            pytest.fail("firmware-sim exited %s; stderr: %s" % (self.p.wait(), self.p.stderr.read()))
        self.lines.append(text)
        return text

    def rest(self, timeout_s=5.0):
        """The remaining lines after the process ends."""
        out = []
        while True:
            text = self._queue.get(timeout=timeout_s)
            if text is None:
                return out
            out.append(text)

    def until(self, predicate, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.line(deadline - time.monotonic())
            if predicate(text):
                return text
        pytest.fail("never saw the expected line; got %r" % self.lines[-5:])

    def send(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def sim():
    procs = []

    def start(*args):
        procs.append(Proc(*args))
        return procs[-1]

    yield start
    for proc in procs:
        proc.kill()
        proc.p.stderr.close()
        if not proc.p.stdin.closed:
            proc.p.stdin.close()


def read_one(url, address, timeout_s=2.0):
    with serial.serial_for_url(url, baudrate=9600, timeout=0.01) as port:
        port.write(build_read_request(address, 0x00010000))
        extractor = FrameExtractor()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            frames = extractor.feed(port.read(256))
            if frames:
                return parse_frame(frames[0])
    return None


def test_bus_serves_the_sample_over_tcp_and_stops_on_sigterm(sim):
    proc = sim("bus", "--meters", "sample", "--tcp", "0", "--baud", "9600", "--summary", "0.5")
    first = proc.line()
    assert first.startswith("url: socket://127.0.0.1:")
    url = first.split(": ", 1)[1]
    proc.until(lambda text: text.startswith("ready:"))
    assert sum(text.startswith("meter ") for text in proc.lines) == 21
    frame = read_one(url, FAST_METER)
    assert frame is not None and frame.address == FAST_METER and frame.is_reply
    proc.until(lambda text: text.startswith("traffic:") and "replies 1" in text)
    proc.p.send_signal(signal.SIGTERM)
    assert proc.p.wait(5) == 0
    assert proc.rest()[-1].startswith("stopped.")


def test_bus_json_lines_and_stdin_commands(sim):
    proc = sim("bus", "--meters", "sample", "--tcp", "0", "--baud", "9600", "--json", "--summary", "60")
    first = json.loads(proc.line())
    assert first["event"] == "listening" and first["url"].startswith("socket://127.0.0.1:")
    proc.until(lambda text: json.loads(text)["event"] == "ready")
    meters = [json.loads(text) for text in proc.lines if json.loads(text)["event"] == "meter"]
    assert len(meters) == 21 and {m["std"] for m in meters} == {"2007", "1997"}

    proc.send("silent %s" % FAST_METER)
    result = json.loads(proc.line())
    assert result == {"event": "command", "command": "silent", "kind": "silent", "address": FAST_METER}
    assert read_one(first["url"], FAST_METER, timeout_s=0.5) is None
    proc.send("back %s" % FAST_METER)
    assert json.loads(proc.line())["cleared"] == 1
    assert read_one(first["url"], FAST_METER) is not None
    proc.send("slow 123 5")
    error = json.loads(proc.line())
    assert error["event"] == "error" and "no meter 123" in error["message"]
    proc.send("stats")
    stats = json.loads(proc.line())
    assert stats["command"] == "stats" and stats["replies_sent"] == 1 and stats["replies_suppressed"] == 1
    proc.p.stdin.close()                    # EOF on stdin: the bus keeps running
    time.sleep(0.2)
    assert proc.p.poll() is None
    proc.p.send_signal(signal.SIGTERM)
    assert proc.p.wait(5) == 0
    assert json.loads(proc.rest()[-1])["event"] == "stopped"


def test_broken_toml_is_one_error_line_naming_file_and_key(tmp_path):
    bad = tmp_path / "meters.toml"
    bad.write_text("[[meter]]\naddress = \"202311150031\"\nreply_delay_ms = 900\n")
    result = CliRunner().invoke(cli, ["bus", "--meters", str(bad), "--tcp", "0"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: %s: meter 0 (address 202311150031): " % bad)
    assert "reply_delay_ms" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output

    bad.write_text("[[meter]\n")
    result = CliRunner().invoke(cli, ["bus", "--meters", str(bad)])
    assert result.exit_code == 1 and result.output.startswith("Error: %s: invalid TOML" % bad)


def test_missing_meters_file_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["bus", "--meters", str(tmp_path / "none.toml")])
    assert result.exit_code == 1 and result.output.startswith("Error: cannot read meters file")


def test_pty_and_tcp_together_is_a_usage_error():
    result = CliRunner().invoke(cli, ["bus", "--pty", "--tcp", "0"])
    assert result.exit_code == 2 and "choose one of --pty and --tcp" in result.output


def test_help_documents_every_option_and_stdin_command():
    result = CliRunner().invoke(cli, ["bus", "--help"])
    assert result.exit_code == 0
    for _, _, usage, text, _ in COMMANDS.values():
        assert usage in result.output and text.split()[0] in result.output
    command = cli.commands["bus"]
    for param in command.params:
        if param.name != "help":
            assert param.help, param.name
    top = CliRunner().invoke(cli, ["--help"])
    assert top.exit_code == 0 and "bus" in top.output
    for name, sub in cli.commands.items():
        assert sub.help, name


def test_every_stdin_command_runs(serve, meter_config):
    from firmware_sim.bus import BusError
    from firmware_sim.bus._commands import run_command

    a = "202311150031"
    bus = serve([meter_config(a, 20)])
    script = [
        ("silent %s 5" % a, {"kind": "silent", "ends_in_s": 5.0}),
        ("absent %s" % a, {"kind": "absent"}),
        ("back %s" % a, {"cleared": 2}),
        ("slow %s 250" % a, {"kind": "slow", "ms": 250.0}),
        ("slow %s 0" % a, {"cleared": 1}),
        ("corrupt %s 0.01" % a, {"kind": "corrupt", "prob": 0.01}),
        ("drift %s -40" % a, {"kind": "drift", "ppm": -40.0}),
        ("clock %s 90" % a, {"kind": "clock_error", "error_s": 90.0}),
        ("babble %s 2 8" % a, {"kind": "babble", "period_s": 2.0, "burst_bytes": 8}),
        ("noise 6", {"kind": "noise", "rate_per_min": 6.0, "burst_bytes": 6}),
        ("faults", {}),
        ("noise 0", {"cleared": 1}),
        ("clear %s" % a, {"cleared": 4}),
        ("meters", {"meters": [{"address": a, "std": "2007", "reply_delay_ms": 20, "preamble": 4, "faults": []}]}),
        ("stats", {"requests_seen": 0}),
        ("help", {}),
    ]
    assert {line.split()[0] for line, _ in script} == set(COMMANDS)
    for line, expected in script:
        result = run_command(bus, line)
        assert result["command"] == line.split()[0]
        for key, value in expected.items():
            assert result[key] == value, (line, key, result)
    assert bus.meters[a].drift_ppm == 0          # clear restored the configured drift
    assert run_command(bus, "   ") is None
    for bad, message in [("fly", "unknown command"), ("slow %s" % a, "usage: slow ADDR MS"),
                         ("slow %s fast" % a, "MS must be a number"), ("corrupt %s 2" % a, "outside"),
                         ("silent 1", "no meter 1")]:
        with pytest.raises(BusError, match=message):
            run_command(bus, bad)
