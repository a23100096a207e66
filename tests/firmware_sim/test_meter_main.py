"""Meter firmware main loop and the CPython stubs of ``machine`` / ``utime``.

``run`` is driven with a scripted UART and a fake tick clock (no sleeping);
``python -m firmware_sim.meter.main`` runs as a real subprocess behind a pty.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from firmware_sim.meter import Meter
from firmware_sim.meter.main import SimClock, StdioUART, run
from firmware_sim.stubs import STUBS_DIR
from protocols.dlt645 import (build_change_rate_request, build_read_address_request,
                              build_read_request, parse_frame)

from meter_pair import pty_exchange

REPO = Path(__file__).resolve().parents[2]
ADDR = "202311150042"
NOW = datetime.datetime(2024, 6, 15, 4, 0, tzinfo=datetime.timezone.utc).timestamp()

sys.path.insert(0, STUBS_DIR)
import machine  # noqa: E402  (the stub)
import utime  # noqa: E402  (the stub)

sys.path.remove(STUBS_DIR)


class ScriptedUART:
    """Gives the scripted chunks (None = a read timeout), then end of input."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.written = []
        self.inits = []

    def read(self, nbytes):
        if not self.chunks:
            return b""
        return self.chunks.pop(0)

    def write(self, data):
        self.written.append(bytes(data))
        return len(data)

    def init(self, baudrate):
        self.inits.append(baudrate)


class FakeTicks:
    """ticks_ms that only moves when told; sleep_ms records and moves it."""

    def __init__(self):
        self.ms = 1000
        self.slept = []

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.slept.append(ms)
        self.ms += ms


def _meter(**extra):
    cfg = {"address": ADDR, "history_days": 1, "reply_delay_ms": 80}
    cfg.update(extra)
    return Meter(cfg, NOW)


def test_run_cuts_frames_from_noise_and_pieces_and_waits_the_reply_delay():
    """§17 extraction: noise, a split request and two requests in one chunk; §16 delay 20-500 ms."""
    req1 = build_read_request(ADDR, 0x00010000)
    req2 = build_read_address_request()
    req3 = build_read_request("202311150099", 0x00010000)      # another meter: silence
    uart = ScriptedUART([b"\x00\x16\x68", req1[:7], None, req1[7:] + req2, req3])
    ticks = FakeTicks()
    handled = run(uart, _meter(), lambda: NOW, ticks)
    assert handled == 3
    assert [parse_frame(r).control for r in uart.written] == [0x91, 0x93]
    assert all(r.startswith(b"\xfe" * 4) for r in uart.written)
    assert ticks.slept == [80, 80]


def test_run_reinitialises_the_uart_after_a_rate_change_reply():
    """§8 17H: the meter switches rate only after sending the reply."""
    uart = ScriptedUART([build_change_rate_request(ADDR, 9600)])
    run(uart, _meter(), lambda: NOW, FakeTicks())
    assert parse_frame(uart.written[0]).value == 9600
    assert uart.inits == [9600]


def test_run_stops_after_max_frames():
    req = build_read_request(ADDR, 0x00010000)
    uart = ScriptedUART([req, req, req])
    assert run(uart, _meter(), lambda: NOW, FakeTicks(), max_frames=2) == 2
    assert len(uart.chunks) == 1


def test_sim_clock_counts_across_tick_wrap():
    class Ticks:
        def __init__(self):
            self.t = utime.TICKS_MAX - 500

        def ticks_ms(self):
            return self.t

        ticks_diff = staticmethod(utime.ticks_diff)

    ticks = Ticks()
    clock = SimClock(ticks, 1000.0)
    ticks.t = utime.ticks_add(ticks.t, 1500)
    assert ticks.t < 1500 and clock() == 1001.5
    ticks.t = utime.ticks_add(ticks.t, 2500)
    assert clock() == 1004.0


def test_utime_stub_tick_arithmetic():
    assert utime.ticks_diff(5, utime.TICKS_MAX - 4) == 10
    assert utime.ticks_diff(utime.TICKS_MAX - 4, 5) == -10
    assert utime.ticks_add(utime.TICKS_MAX, 1) == 0
    t0 = utime.ticks_ms()
    utime.sleep_ms(20)
    assert 15 <= utime.ticks_diff(utime.ticks_ms(), t0) < 1000
    assert abs(utime.time() - time.time()) < 1


def test_machine_uart_stub_over_a_pipe():
    r, w = os.pipe()
    try:
        uart = machine.UART(None, baudrate=2400, timeout=30, rx_fd=r, tx_fd=w)
        assert uart.read(10) is None            # timeout
        assert uart.any() == 0
        assert uart.write(b"\x68abc") == 4
        assert uart.any() == 4
        assert uart.read(2) == b"\x68a"
        buf = bytearray(8)
        assert uart.readinto(buf) == 2 and buf[:2] == b"bc"
    finally:
        os.close(r)
        os.close(w)


def test_stdio_uart_reads_what_is_ready_and_sees_end_of_input():
    r, w = os.pipe()
    out_r, out_w = os.pipe()
    rx = os.fdopen(r, "rb", buffering=0)
    tx = os.fdopen(out_w, "wb", buffering=0)
    try:
        uart = StdioUART(rx, tx, timeout=20)
        assert uart.read() is None
        os.write(w, b"\x68\x01\x02")
        assert uart.any() == 1
        assert uart.read() == b"\x68\x01\x02"
        assert uart.write(b"\x16") == 1 and os.read(out_r, 4) == b"\x16"
        os.close(w)
        w = None
        assert uart.read() == b""
    finally:
        rx.close()
        tx.close()
        os.close(out_r)
        if w is not None:
            os.close(w)


def _python_main(config, tmp_path):
    path = tmp_path / "meter.json"
    path.write_text(json.dumps(config))
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([sys.executable, "-m", "firmware_sim.meter.main", str(path)], stdin=slave,
                            stdout=slave, stderr=subprocess.PIPE, cwd=REPO)
    os.close(slave)
    return proc, master


def test_python_m_main_serves_a_pty(tmp_path):
    """``python -m firmware_sim.meter.main CONFIG.json``: the stubs stand in for machine/utime."""
    proc, master = _python_main({"address": ADDR, "start_utc_s": NOW, "history_days": 2,
                                 "profile": [1.0] * 24, "load_variation": 0.0, "reply_delay_ms": 20}, tmp_path)
    try:
        f = pty_exchange(master, build_read_request(ADDR, 0x00010000))
        assert f is not None, proc.stderr.read1(4096) if proc.poll() is not None else "no reply"
        assert f.value == pytest.approx(1.2 * 48, abs=0.02)
        assert pty_exchange(master, build_read_request(ADDR, 0x04000101)).value == "2024-06-15"
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def test_python_m_main_bad_config_is_one_error_line(tmp_path):
    path = tmp_path / "meter.json"
    path.write_text(json.dumps({"address": ADDR, "reply_delay_ms": 5}))
    result = subprocess.run([sys.executable, "-m", "firmware_sim.meter.main", str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "reply_delay_ms" in result.stderr and ADDR in result.stderr
