"""How close a master gets to the physical limit of a simulated line.

A master reads the sample meters one after another, as fast as DL/T 645 §16
allows: request, wait for the whole reply, rest ``pacing`` (20 ms), next.
The physical time of one read is

    (request bytes + reply bytes) x bits per byte / baud + reply delay + pacing,

so ``sum(physical) / elapsed`` is the fraction of the line's limit reached
(1.0 = the simulator adds nothing). Also printed: how late each reply's last
byte was against its physical time (scheduling and transport slack).

    .venv/bin/python bench/bus_timing.py [--seconds 10] [--baud 2400] [--transport tcp|pty|both]
"""

import argparse
import statistics
import time

import serial

from firmware_sim.bus import BusServer, load_bus_config
from protocols.dlt645 import FrameExtractor, build_read_request

SAMPLE = __import__("importlib.resources").resources.files("firmware_sim") / "samples" / "meters.toml"
PACING_S = 0.020        # §16: rest >= 20 ms after a reply


def run(transport, baud, seconds, meters):
    with BusServer(meters, baud=baud, transport=transport, seed=1) as bus:
        port = serial.serial_for_url(bus.url, baudrate=baud, timeout=0.0005)
        cycle = list(bus.meters.values())
        physical = 0.0
        late = []
        reads = 0
        failed = 0
        start = time.monotonic()
        cpu = time.process_time()
        i = 0
        while time.monotonic() - start < seconds:
            meter = cycle[i % len(cycle)]
            i += 1
            di = 0x00010000 if meter.std == "2007" else 0x9010
            req = build_read_request(meter.address, di, std=meter.std)
            extractor = FrameExtractor()
            raw = 0
            port.write(req)
            sent = time.monotonic()
            frames = []
            while not frames and time.monotonic() - sent < 1.5:
                data = port.read(64)
                if data:
                    raw += len(data)
                    frames = extractor.feed(data)
            done = time.monotonic()
            if not frames:
                failed += 1
                continue
            reads += 1
            wire = bus.wire_time_s(len(req) + raw) + meter.reply_delay_ms / 1000.0
            late.append(done - sent - wire)
            physical += wire + PACING_S
            time.sleep(max(0.0, PACING_S - (time.monotonic() - done)))
        elapsed = time.monotonic() - start
        cpu = time.process_time() - cpu
        port.close()
        stats = bus.stats
    late_ms = sorted(x * 1000 for x in late)
    print("%-4s %5d bit/s: %4d reads in %.1f s (%.2f/s), %d failed; physical limit %.2f/s; "
          "reply last byte late by median %.2f ms, p95 %.2f ms, max %.2f ms; collisions %d"
          % (transport, baud, reads, elapsed, reads / elapsed, failed, reads / physical, statistics.median(late_ms),
             late_ms[int(len(late_ms) * 0.95)], late_ms[-1], stats["collisions"]))
    ratio = physical / elapsed
    print("     CPU (bus and master together): %.0f %% of one core" % (100 * cpu / elapsed))
    print("     ratio (achieved / physical limit): %.3f" % ratio)
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baud", type=int, default=2400)
    parser.add_argument("--transport", choices=["tcp", "pty", "both"], default="both")
    parser.add_argument("--delay-ms", type=int, default=None,
                        help="give every meter this reply delay (default: the sample's 20-450 ms)")
    args = parser.parse_args()
    meters, _ = load_bus_config(SAMPLE)
    if args.delay_ms is not None:
        for m in meters:
            m["reply_delay_ms"] = args.delay_ms
    for transport in (["tcp", "pty"] if args.transport == "both" else [args.transport]):
        run(transport, args.baud, args.seconds, meters)


if __name__ == "__main__":
    main()
