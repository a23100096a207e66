"""Fixtures for the simulator tests: meter configs, running buses, a pyserial master."""

import time

import pytest
import serial

from firmware_sim.bus import BusServer
from protocols.dlt645 import FrameExtractor, parse_frame



def _meter_config(address, delay_ms=30, std="2007", **extra):
    cfg = {"address": address, "std": std, "reply_delay_ms": delay_ms, "preamble": 4, "history_days": 1}
    cfg.update(extra)
    return cfg


@pytest.fixture
def meter_config():
    """``meter_config(address, delay_ms=30, std="2007", **keys)``: a [[meter]] table.

    One day of history, so a meter builds in a millisecond.
    """
    return _meter_config


@pytest.fixture
def serve():
    """Start BusServers that are stopped after the test: ``serve(meters, **kwargs)``."""
    started = []

    def start(meters, **kwargs):
        kwargs.setdefault("baud", 9600)
        kwargs.setdefault("seed", 645)
        bus = BusServer(meters, **kwargs).start()
        started.append(bus)
        return bus

    yield start
    for bus in started:
        bus.stop()


@pytest.fixture
def master():
    """Open pyserial masters on bus URLs, closed after the test: ``master(bus)``."""
    opened = []

    def open_(bus):
        port = serial.serial_for_url(bus.url, baudrate=bus.baud, timeout=0.002)
        opened.append(port)
        return port

    yield open_
    for port in opened:
        port.close()


class Exchange:
    """What a master read back after one request."""

    def __init__(self):
        self.raw = bytearray()
        self.frames = []
        self.t_sent = None        # after write() returned
        self.t_last = None        # when the last byte was read
        self.extractor = FrameExtractor()

    @property
    def parsed(self):
        return [parse_frame(f) for f in self.frames]


@pytest.fixture
def exchange():
    """``exchange(port, request, want=1, timeout_s=1.5, settle_s=0)`` -> Exchange."""
    return _exchange


def _exchange(port, request, want=1, timeout_s=1.5, settle_s=0.0):
    """Write ``request`` and read until ``want`` frames arrived or ``timeout_s``.

    After the wanted frames, keep reading ``settle_s`` longer (to catch more).
    """
    port.reset_input_buffer()
    ex = Exchange()
    port.write(request)
    port.flush()
    ex.t_sent = time.monotonic()
    deadline = ex.t_sent + timeout_s
    done_at = None
    while time.monotonic() < (deadline if done_at is None else min(deadline, done_at)):
        data = port.read(512)
        if data:
            ex.t_last = time.monotonic()
            ex.raw += data
            ex.frames += ex.extractor.feed(data)
            if done_at is None and len(ex.frames) >= want:
                done_at = time.monotonic() + settle_s
    return ex
