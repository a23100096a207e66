"""Fixtures: simulated RS-485 lines (real TCP sockets and ptys) and concentrator Lines on them."""

import pytest

from concentrator._line import Line
from firmware_sim.bus import BusServer


def _meter(address, std="2007", delay_ms=25, **extra):
    cfg = {"address": address, "std": std, "reply_delay_ms": delay_ms, "preamble": 4, "history_days": 1}
    cfg.update(extra)
    return cfg


@pytest.fixture
def meter():
    """``meter(address, std="2007", delay_ms=25, **keys)``: a [[meter]] table with one
    day of history, so it builds in a millisecond."""
    return _meter


@pytest.fixture
def bus_line():
    """``bus_line(meters, transport="tcp", baud=9600, timeout_s=0.3, **bus_kwargs)`` -> (bus, line)."""
    opened = []

    def start(meters, transport="tcp", baud=9600, timeout_s=0.3, **kwargs):
        kwargs.setdefault("seed", 645)
        bus = BusServer(meters, baud=baud, transport=transport, **kwargs).start()
        opened.append(bus)
        line = Line(bus.url, baud=baud, timeout_s=timeout_s)
        opened.append(line)
        return bus, line

    yield start
    for thing in reversed(opened):
        thing.close() if isinstance(thing, Line) else thing.stop()
