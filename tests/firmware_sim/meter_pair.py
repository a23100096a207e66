"""Test helpers shared by the meter tests: a meter and a master back to back,
and a master's exchange with firmware running behind a pty."""

import datetime
import os
import select
import time

from firmware_sim.meter import Meter
from protocols.dlt645 import (FrameExtractor, build_follow_up_request, build_read_request, decode_value,
                              parse_frame)

ADDR = "202311150042"
# 2024-06-15 12:00 Beijing time (04:00 UTC), a Saturday.
NOW = datetime.datetime(2024, 6, 15, 4, 0, tzinfo=datetime.timezone.utc).timestamp()
HOUR = 3600.0


class Pair:
    """A meter and a master speaking through the codec, at a settable time
    (h11's ConnectionPair idea: no line in between)."""

    def __init__(self, config, now_s=NOW):
        self.now_s = now_s
        self.meter = Meter(config, now_s)
        self.std = self.meter.std
        self.address = self.meter.address

    def raw(self, request):
        """Feed one request (preamble allowed, as FrameExtractor strips it) and return the raw reply."""
        s = 0
        while request[s] == 0xFE:
            s += 1
        return self.meter.handle(request[s:], self.now_s)

    def ask(self, request):
        reply = self.raw(request)
        return None if reply is None else parse_frame(reply)

    def read(self, di, address=None):
        return self.ask(build_read_request(address or self.address, di, self.std))

    def value(self, di):
        f = self.read(di)
        assert f is not None and not f.is_error, (hex(di), f)
        return f.value

    def value_all(self, di):
        """Read with follow-up frames (§8 12H) and decode the assembled value."""
        f = self.read(di)
        payload = f.payload
        seq = 0
        while f.has_more:
            seq += 1
            f = self.ask(build_follow_up_request(self.address, di, seq))
            payload += f.payload
        return decode_value(di, payload)[0]

    def later(self, seconds):
        self.now_s += seconds
        return self


def pty_exchange(master, request, extractor=None, timeout_s=10.0, alive=None):
    """Write ``request`` to a pty master and return the first reply frame, parsed, or None.

    Args:
        alive: optional callable, checked while waiting, that fails the test
            when the firmware process has died.
    """
    extractor = extractor or FrameExtractor()
    os.write(master, request)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            frames = extractor.feed(os.read(master, 512))
            if frames:
                return parse_frame(frames[0])
    return None
