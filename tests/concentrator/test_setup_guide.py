"""docs/concentrator.md, "Setting up an area, step by step", followed as written.

Every fenced block the guide marks with ``<!-- setup-step: NAME [background] [file=PATH] -->``
is run in order in a fresh directory (``tmp_path``), as a collector would on one machine:

* ``file=PATH``: the block is written to PATH (the archive CSV, the agent's TOML file);
* ``background``: the block is started with bash and left running (Mosquitto, ``hall serve``,
  the bus simulator, ``concentrator run``); the test waits until it is ready (``READY``) and
  stops it at the end with SIGTERM to its process group;
* otherwise: the block is run with ``bash -e -o pipefail`` and must exit 0.

The shell finds the project's commands first on PATH (the venv's ``bin``), then the system's,
with the sbin directories where Debian keeps ``mosquitto``.

Substitutions: the only change made to the guide's text is its two fixed TCP ports, replaced by
ports free at run time, so that the test can run beside others: ``8883`` (the broker's TLS
listener) and ``4059`` (the simulator's TCP port), each as a whole number wherever it appears.
Nothing else is changed: the cycle interval is the guide's own (15 min), since the agent opens
the current real-time cycle as soon as it starts.

Then it checks what the guide's "Check" step promises: the hall's database holds every
configured real-time item of every archive meter for the first real-time cycle exactly once,
with a ``cycle`` record that says all meters were read, and ``concentrator ledger`` prints that
cycle 100 % complete. Expected items come from the guide's own CSV and TOML blocks (single-phase
meters skip the ``_b``/``_c`` items, docs/cycles.md). Measured: about 25 s (the first cycle
shares the line with the daily and monthly cycles that open at the same time).
"""

import csv
import datetime
import io
import json
import os
import re
import signal
import socket
import subprocess
import time
import tomllib
import zoneinfo
from pathlib import Path

import pytest

from brokers import free_port, mosquitto_binary
from hall._store import open_store

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "concentrator.md"
VENV_BIN = REPO / ".venv" / "bin"
MARK = re.compile(r"<!-- setup-step: ([a-z0-9-]+)((?: [a-z]+(?:=[^ ]+)?)*) -->\n```([a-z]*)\n(.*?)\n```", re.S)
GUIDE_PORTS = {"broker": 8883, "simulator": 4059}
STEP_TIMEOUT_S = 60
CYCLE_TIMEOUT_S = 120        # measured about 20 s for the first real-time cycle; generous for 2 shared cores


def guide_steps(text):
    """[(name, options, lang, body)] of the marked blocks of ``text``, in order.

    Raises:
        AssertionError: the guide has no marked step, or a name twice.
    """
    steps = []
    for m in MARK.finditer(text):
        options = {}
        for word in m.group(2).split():
            key, _, value = word.partition("=")
            options[key] = value or True
        steps.append((m.group(1), options, m.group(3), m.group(4)))
    names = [s[0] for s in steps]
    assert steps, "no <!-- setup-step: NAME --> block in %s" % GUIDE
    markers = text.count("<!-- setup-step:")
    assert markers == len(steps), ("%d setup-step markers in %s but %d are directly followed by a fenced "
                                   "block: %s" % (markers, GUIDE, len(steps), names))
    assert len(names) == len(set(names)), "a step name twice in %s: %s" % (GUIDE, names)
    return steps


def substitute(body, ports):
    """The guide's fixed ports replaced by the ones chosen for this run (the only substitution)."""
    for what, port in GUIDE_PORTS.items():
        body = re.sub(r"\b%d\b" % port, str(ports[what]), body)
    return body


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Background:
    """A step left running: bash in a process group of its own, output to a log file."""

    def __init__(self, name, body, cwd, env, logs):
        self.name = name
        self.log_path = logs / ("%s.log" % name)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(["bash", "-e", "-c", body], cwd=str(cwd), env=env,
                                        stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, predicate, what, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process.poll() is not None:
                pytest.fail("step %s exited %s before %s; its output:\n%s"
                            % (self.name, self.process.returncode, what, self.output()))
            time.sleep(0.1)
        pytest.fail("step %s: no %s within %d s; its output:\n%s" % (self.name, what, timeout_s, self.output()))

    def stop(self):
        """SIGTERM to the step's process group; SIGKILL if it is still there after 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
        return self.process.returncode


# When a background step is ready, by its name in the guide. A new background step needs a line here.
READY = {
    "mosquitto": ("the broker's port open", lambda bg, ports: port_open(ports["broker"])),
    "hall-serve": ("'subscribed to'", lambda bg, ports: "subscribed to" in bg.output()),
    "simulator": ("'ready'", lambda bg, ports: "\nready" in bg.output()),
    "agent": ("a real-time cycle opened", lambda bg, ports: re.search(r"cycle rt-\S+: opened", bg.output())),
}


def expected_items(archive_csv, config_toml):
    """{(meter, item)} a real-time cycle reads: every archive meter, its protocol's configured
    items, without the _b/_c phases on single-phase meters."""
    realtime = tomllib.loads(config_toml)["cycles"]["realtime"]
    expected = set()
    for row in csv.DictReader(io.StringIO(archive_csv)):
        items = realtime["items_%s" % row["protocol"]]
        for item in items:
            if row["phases"] == "1" and item.endswith(("_b", "_c")):
                continue
            expected.add((row["address"], item))
    return expected


def hall_bodies(db):
    """[(src, kind, body)] of every record the hall stored."""
    with open_store(str(db), create=False) as store:
        return [(src, kind, json.loads(body)) for src, _e, _s, kind, body, _raw in store.records()]


def wait_clear_of_period_end(config_toml, margin_s=90):
    """Sleep past the end of the current real-time period when fewer than ``margin_s`` seconds
    are left in it: the agent opens the current period's cycle at start, and one that cannot
    finish before its deadline would close incomplete for reasons the guide does not cover."""
    cycles = tomllib.loads(config_toml)["cycles"]
    period_s = cycles["realtime"]["interval_min"] * 60
    now = datetime.datetime.now(zoneinfo.ZoneInfo(cycles.get("timezone", "Asia/Shanghai")))
    into_s = (now.hour * 3600 + now.minute * 60 + now.second) % period_s
    if period_s - into_s < margin_s:
        time.sleep(period_s - into_s + 1)


def test_setup_guide_runs_as_written_and_the_hall_gets_the_first_cycle_once(tmp_path):
    broker_bin = mosquitto_binary()
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    ports = {what: free_port() for what in GUIDE_PORTS}
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", ""), os.path.dirname(broker_bin),
                                   "/usr/local/sbin", "/usr/sbin", "/sbin"])
    logs = tmp_path / "logs"
    logs.mkdir()
    work = tmp_path / "site"
    work.mkdir()
    blocks = {name: substitute(body, ports) for name, _o, _l, body in steps}
    files = {name: opts["file"] for name, opts, _l, _b in steps if "file" in opts}
    csv_step = next(n for n, o, lang, _b in steps if lang == "csv" and "file" in o)
    toml_step = next(n for n, o, lang, _b in steps if lang == "toml" and "file" in o)
    expected = expected_items(blocks[csv_step], blocks[toml_step])
    wait_clear_of_period_end(blocks[toml_step])

    running = []
    outputs = {}
    first_cycle = None
    started = time.monotonic()
    try:
        for name, opts, _lang, _body in steps:
            body = blocks[name]
            if name in files:
                path = work / files[name]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body + "\n", encoding="utf-8")
            elif opts.get("background"):
                if name not in READY:
                    pytest.fail("background step %r of the guide has no readiness rule in READY" % name)
                bg = Background(name, body, work, env, logs)
                running.append(bg)
                what, ready = READY[name]
                bg.wait_for(lambda: ready(bg, ports), what, STEP_TIMEOUT_S)
                if name == "agent":
                    first_cycle = re.search(r"cycle (rt-\S+): opened", bg.output()).group(1)
                    db = work / "hall" / "hall.db"
                    bg.wait_for(lambda: any(k == "cycle" and b["cycle"] == first_cycle
                                            for _s, k, b in hall_bodies(db)),
                                "cycle record of %s at the hall" % first_cycle, CYCLE_TIMEOUT_S)
            else:
                done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", body], cwd=str(work), env=env,
                                      capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
                assert done.returncode == 0, "step %s exited %d:\n%s\n%s" % (name, done.returncode, done.stdout,
                                                                           done.stderr)
                outputs[name] = done.stdout
        elapsed_s = time.monotonic() - started
    finally:
        codes = {bg.name: bg.stop() for bg in reversed(running)}
    assert first_cycle is not None, "the guide has no background step named 'agent'"
    print("guide steps took %.1f s; first real-time cycle %s" % (elapsed_s, first_cycle))
    assert codes.get("agent") == 0, "concentrator run did not stop cleanly on SIGTERM: %s" % codes

    records = hall_bodies(work / "hall" / "hall.db")
    assert {src for src, _k, _b in records} == {"conc-a1"}
    got = [(b["meter"], b["name"]) for _s, k, b in records if k == "reading" and b["cycle"] == first_cycle]
    assert len(got) == len(set(got)), "readings stored twice: %s" % sorted(x for x in got if got.count(x) > 1)
    assert set(got) == expected, "missing %s, unexpected %s" % (sorted(expected - set(got)),
                                                                sorted(set(got) - expected))
    meters = {m for m, _i in expected}
    cycles = [b for _s, k, b in records if k == "cycle" and b["cycle"] == first_cycle]
    assert len(cycles) == 1, cycles
    assert (cycles[0]["expected"], cycles[0]["read"], cycles[0]["failed"], cycles[0]["missing"]) == \
        (len(meters), len(meters), 0, []), cycles[0]
    assert cycles[0]["area"] == "tq0001"

    ledger_rows = [line.split() for line in outputs["ledger"].splitlines() if line.startswith(first_cycle + " ")]
    assert len(ledger_rows) == 1, outputs["ledger"]
    row = ledger_rows[0]
    assert row[1] == "realtime" and row[-1] == "100.0%", outputs["ledger"]
    assert row[-5:-1] == [str(len(expected)), str(len(expected)), "0", "0"], outputs["ledger"]
    assert re.search(r"^conc-a1 +concentrator .*last seen", outputs["hall-devices"], re.M), outputs["hall-devices"]
    assert re.search(r"gaps none", outputs["hall-devices"]), outputs["hall-devices"]
    # `hall records` lists the latest cycle summaries (more cycles may have closed by then).
    listed = outputs["hall-records"].splitlines()
    assert 1 <= len(listed) <= 3 and all("  conc-a1  " in line and "  cycle  " in line for line in listed), listed
    assert all('"cycle":"' in line for line in listed), listed
