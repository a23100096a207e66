"""The ``concentrator`` console script end to end, against simulated lines (DL/T 645 §8, §10, §16).

Each test starts a real ``BusServer`` in-process (TCP on an OS-chosen port, or
a pty) and runs ``python -m concentrator`` as a subprocess on it, so what is
checked is what a field collector sees: standard output, standard error and
the exit status. Lines run at 9600 baud to keep the wire time short.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from concentrator.cli import cli as concentrator_group
from firmware_sim.bus import BusServer

REPO = Path(__file__).resolve().parents[2]
A1, A2, A3 = "202311150041", "202311150042", "202311150043"
BAUD = "9600"


def _meter(address, std="2007", **extra):
    cfg = {"address": address, "std": std, "reply_delay_ms": 25, "preamble": 4, "history_days": 1}
    cfg.update(extra)
    return cfg


@pytest.fixture
def bus():
    """``bus(meters, transport="tcp")`` -> a running BusServer at 9600 baud, stopped after the test."""
    started = []

    def start(meters, transport="tcp"):
        server = BusServer(meters, baud=int(BAUD), transport=transport, seed=645).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def concentrator(*args, timeout_s=60):
    """Run the console script; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "concentrator", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout_s)


def on(server, *args):
    """``concentrator`` options for a line: the command, then --port and --baud."""
    return [*args, "--port", server.url, "--baud", BAUD]


def _one_error_line(proc):
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---- read ------------------------------------------------------------------------------------------


def test_read_prints_the_meters_own_register_q01(bus):
    server = bus([_meter(A2, start_kwh=12345.67)])
    proc = concentrator(*on(server, "read", "--address", A2, "--di", "forward_active_total"))
    assert proc.returncode == 0, proc.stderr
    match = re.fullmatch(r"%s  forward_active_total \(00010000\) = (\d+\.\d\d) kWh\n" % A2, proc.stdout)
    assert match, proc.stdout
    held = server.meters[A2].energy("forward_active")
    assert abs(float(match.group(1)) - held) < 0.011      # the meter shows 0.01 kWh
    assert proc.stderr == ""


def test_read_json_is_one_object_with_the_reading(bus):
    server = bus([_meter(A2, start_kwh=500.0)])
    proc = concentrator(*on(server, "read", "--address", A2, "--di", "00010000", "--json"))
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert set(obj) == {"address", "std", "di", "name", "value", "unit", "frames", "elapsed_ms"}
    assert (obj["address"], obj["std"], obj["di"], obj["name"], obj["unit"]) == (
        A2, "2007", "00010000", "forward_active_total", "kWh")
    assert abs(obj["value"] - server.meters[A2].energy("forward_active")) < 0.011
    assert obj["frames"] == 1 and obj["elapsed_ms"] > 25


def test_read_twice_on_a_pty_with_the_default_parity(bus):
    # A pty has no parity, and Linux refuses even parity on a second open: the
    # concentrator opens a pty 8N1 by itself, so the defaults work every time.
    server = bus([_meter(A2, voltage_v=230.0), _meter("000009310421", std="1997")], transport="pty")
    assert server.url.startswith("/dev/")
    text = concentrator(*on(server, "read", "--address", A2, "--di", "voltage_block"))
    assert text.returncode == 0, text.stderr
    assert re.fullmatch(r"%s  voltage_block \(0201FF00\) = (2\d\d\.\d, ){2}2\d\d\.\d V\n" % A2, text.stdout)
    proc = concentrator(*on(server, "read", "--address", "000009310421", "--std", "1997", "--di", "9010",
                            "--json"))
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert (obj["std"], obj["di"], obj["unit"]) == ("1997", "9010", "kWh")


def test_read_of_a_silent_meter_exits_1_with_one_error_line(bus):
    server = bus([_meter(A2)])
    server.set_fault(A2, "silent")
    proc = concentrator(*on(server, "read", "--address", A2, "--di", "forward_active_total",
                            "--timeout", "0.2", "--retries", "1"))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert _one_error_line(proc).startswith("Error: no reply from %s on %s within 0.20 s" % (A2, server.url))
    assert server.stats["replies_suppressed"] == 2        # the try and one retry


def test_read_of_an_unknown_di_names_the_error_bits_q10(bus):
    server = bus([_meter(A2)])
    proc = concentrator(*on(server, "read", "--address", A2, "--di", "04A00000"))
    assert proc.returncode == 1
    assert _one_error_line(proc) == (
        "Error: meter %s answered abnormal reply D1H: no requested data (error bits 0x02)" % A2)
    assert server.stats["requests_seen"] == 1             # an abnormal reply is an answer: no retry


def test_read_json_of_an_abnormal_reply_prints_its_error_bits(bus):
    server = bus([_meter(A2)])
    proc = concentrator(*on(server, "read", "--address", A2, "--di", "04A00000", "--json"))
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"address": A2, "std": "2007", "di": "04A00000", "error_bits": 2,
                                       "errors": ["no requested data"]}


# ---- poll ------------------------------------------------------------------------------------------


def test_poll_one_cycle_shows_the_silent_meter_in_its_row(bus):
    server = bus([_meter(A1), _meter(A2), _meter(A3)])
    server.set_fault(A2, "silent")
    proc = concentrator(*on(server, "poll", "--meter", A1, "--meter", A2, "--meter", A3,
                            "--cycles", "1", "--every", "0", "--timeout", "0.2"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("cycle 1  ") and lines[0].endswith("3 meters on %s" % server.url)
    assert lines[1].split() == ["address", "std", "forward_active_total", "voltage_a", "active_power_total"]
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert set(rows) == {A1, A2, A3}
    assert "no reply" in rows[A2] and "skipped" in rows[A2]
    for address in (A1, A3):
        assert "kWh" in rows[address] and " V " in rows[address] and "kW" in rows[address]
        assert "no reply" not in rows[address]
    assert re.fullmatch(r"cycle 1 done: 9 reads, 6 ok, 3 failed, \d+\.\d s", lines[5])
    assert len(lines) == 6


def test_poll_json_gives_an_object_per_read_and_a_summary(bus):
    server = bus([_meter(A1), _meter(A2), _meter("000009310421", std="1997")])
    server.set_fault(A2, "silent")
    proc = concentrator(*on(server, "poll", "--meter", A1, "--meter", A2, "--meter", "000009310421:1997",
                            "--di", "forward_active_total", "--cycles", "1", "--every", "0",
                            "--timeout", "0.2", "--json"))
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(objs) == 4
    good, silent, old, summary = objs
    assert good["address"] == A1 and good["di"] == "00010000" and good["cycle"] == 1 and good["unit"] == "kWh"
    assert set(silent) == {"cycle", "address", "std", "di", "error"}
    assert silent["address"] == A2 and silent["error"].startswith("no reply from %s" % A2)
    assert (old["std"], old["di"]) == ("1997", "9010")
    assert {k: summary[k] for k in ("cycle", "reads", "ok", "failed")} == {"cycle": 1, "reads": 3, "ok": 2,
                                                                          "failed": 1}
    assert isinstance(summary["seconds"], float)


# ---- search ----------------------------------------------------------------------------------------


def test_search_finds_three_meters_after_one_collision(bus):
    # Equal reply delays: the three replies to the all-wildcard probe overlap
    # and garble (§6); the search then probes AAAAAAAAAA00..99 one by one.
    server = bus([_meter(A1), _meter(A2), _meter(A3)])
    proc = concentrator(*on(server, "search", "--std", "2007", "--window", "0.08", "--quiet"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["%s  DL/T 645-2007" % a for a in (A1, A2, A3)]
    assert re.fullmatch(r"3 meter\(s\) found in 101 frames, \d+\.\d s", lines[3])
    assert len(lines) == 4
    assert proc.stderr == ""
    assert server.stats["collisions"] >= 1


# ---- help ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [""] + sorted(concentrator_group.commands))
def test_help_of_every_command_exits_0(command):
    proc = concentrator(*command.split(), "--help")
    assert proc.returncode == 0, proc.stderr
    # click names the program as invoked: "python -m concentrator" here.
    assert re.match(r"Usage: (python -m )?concentrator %s ?\[OPTIONS\]" % command, proc.stdout), proc.stdout
