"""Concentrator read rate on a simulated line, beside the line's physical limit.

One concentrator (``concentrator.Line`` + ``read``, the code `concentrator
read` and `poll` run) reads forward active energy from the 20 meters of the
sample line in turn, as fast as it can. Every meter replies after the
reference delay Td = 20 ms (DL/T 645 §16's example). The physical time of one
read is

    (request bytes + reply bytes) x 11 / baud + Td + pacing (20 ms),

with the bytes counted as they went over the wire (4 FE preamble each way),
so ``limit = reads / sum(physical)`` and the ratio ``achieved / limit`` says
how much the concentrator and the simulator lose on top of the wire (aim:
at least 0.9).

Then the wildcard search of the same 20 meters (14 of DL/T 645-2007, 6 of
-1997) at 9600 baud: frames and seconds, beside its own floor: every probe
costs its request's wire time plus the listening window, which a silent
probe must wait out in full.

    .venv/bin/python -m bench bus            # defaults: 10 s per rate, tcp
    .venv/bin/python bench/bus.py --seconds 30 --transport pty --search-baud 2400 --window 0.6
"""

import argparse
import importlib.resources
import time

from concentrator import DEFAULT_PACING_S, ConcentratorError, Line, read, search
from firmware_sim.bus import BusServer, load_bus_config
from protocols.dlt645 import build_read_reply, build_read_request

AIM_RATIO = 0.9
TD_S = 0.020
SAMPLE = importlib.resources.files("firmware_sim") / "samples" / "meters.toml"


def _sample_meters(delay_ms):
    meters, _settings = load_bus_config(SAMPLE)
    for m in meters:
        m["reply_delay_ms"] = delay_ms
        m["history_days"] = 2       # start-up cost is not what is measured here
    return meters


def _frame_bytes(meter, di):
    """Wire bytes of one read: request with 4 FE, reply with the meter's preamble."""
    request = build_read_request(meter["address"], di, meter["std"])
    reply = build_read_reply(meter["address"], di, 0.0, meter["std"], preamble=meter.get("preamble", 4))
    return len(request) + len(reply)


def read_rate(baud, seconds, transport):
    meters = _sample_meters(int(TD_S * 1000))
    with BusServer(meters, baud=baud, transport=transport, seed=1) as bus:
        line = Line(bus.url, baud=baud, timeout_s=0.5)
        physical = 0.0
        reads = failed = 0
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            m = meters[i % len(meters)]
            i += 1
            di = 0x9010 if m["std"] == "1997" else 0x00010000
            try:
                read(line, m["address"], di, m["std"], retries=0)
            except ConcentratorError:   # counted, not fatal: the ratio shows the cost
                failed += 1
                continue
            reads += 1
            physical += line.wire_time_s(_frame_bytes(m, di)) + TD_S + DEFAULT_PACING_S
        elapsed = time.monotonic() - started
        line.close()
    achieved = reads / elapsed
    limit = reads / physical
    ratio = achieved / limit
    print("  %-3s %5d bit/s: %5.2f reads/s, physical limit %5.2f reads/s, ratio %.3f (aim >= %.1f)%s"
          % (transport, baud, achieved, limit, ratio, AIM_RATIO, ", %d failed" % failed if failed else ""))
    return ratio


def search_time(baud, window_s, transport):
    meters = _sample_meters(int(TD_S * 1000))
    with BusServer(meters, baud=baud, transport=transport, seed=1) as bus:
        line = Line(bus.url, baud=baud, timeout_s=window_s)
        started = time.monotonic()
        found = []
        probes = 0
        for std in ("2007", "1997"):
            result = search(line, std, window_s=window_s)
            found += result.found
            probes += result.probes
        elapsed = time.monotonic() - started
        line.close()
    probe_bytes = len(build_read_request("AAAAAAAAAAAA", 0x00010000))
    floor = probes * (line.wire_time_s(probe_bytes) + window_s + DEFAULT_PACING_S)
    print("  %-3s %5d bit/s: found %d of %d meters in %d frames, %.1f s; floor %.1f s "
          "(probes x (request wire time + %.2f s window + pacing)), ratio %.3f"
          % (transport, baud, len(found), len(meters), probes, elapsed, floor, window_s, floor / elapsed))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="reading time per rate")
    parser.add_argument("--transport", choices=["tcp", "pty"], default="tcp")
    parser.add_argument("--search-baud", type=int, default=9600)
    parser.add_argument("--window", type=float, default=0.08,
                        help="search listening window (s); must cover Td + the reply's wire time")
    args = parser.parse_args()
    print("reads of forward active energy, 20 meters, Td = %d ms, one concentrator:" % (TD_S * 1000))
    for baud in (2400, 9600):
        read_rate(baud, args.seconds, args.transport)
    print("search of the 20 meters (both editions):")
    search_time(args.search_baud, args.window, args.transport)


if __name__ == "__main__":
    main()
