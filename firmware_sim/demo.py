"""The demo: a simulated RS-485 line of meters, read by the concentrator.

What ``make demo`` runs. It starts the sample line (21 meters, 15 speaking
DL/T 645-2007 and 6 speaking -1997) on a pseudo-terminal, with the meters'
clocks running fast so energy visibly grows between cycles, then runs the
concentrator as a separate process, the way an operator would: ``concentrator
poll`` on the pty, cycle after cycle. After the first cycle one meter drops
off the line for a while, to show that a missing meter does not stop the
others. Stops on Ctrl-C or after ``--minutes``.

This module starts the concentrator through its command, never imports it:
the simulator depends on ``protocols`` only.
"""

import argparse
import importlib.resources
import signal
import subprocess
import sys
import threading
import time

from .bus import BusError, BusServer, load_bus_config

SAMPLE = importlib.resources.files("firmware_sim") / "samples" / "meters.toml"
VANISHING_METER = "202311150036"
VANISH_S = 60
DIS = ["forward_active_total", "voltage_a", "active_power_total", "time"]


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m firmware_sim.demo",
        description="Run a simulated RS-485 line of 21 DL/T 645 meters and watch the concentrator read it.")
    parser.add_argument("--minutes", type=float, default=0,
                        help="stop after this many minutes (default: run until Ctrl-C)")
    parser.add_argument("--baud", type=int, default=2400, choices=[1200, 2400, 4800, 9600],
                        help="line rate (default 2400, the DL/T 645-2007 default)")
    parser.add_argument("--time-scale", type=float, default=60.0,
                        help="meter seconds per real second (default 60: an hour of meter time a minute)")
    parser.add_argument("--meters", default=str(SAMPLE), help="meters file (default: the sample line)")
    return parser.parse_args(argv)


def _say(text):
    print("[demo] " + text, flush=True)


def main(argv=None):
    args = _parse_args(argv)
    try:
        meters, settings = load_bus_config(args.meters)
    except BusError as exc:
        print("Error: %s" % exc, file=sys.stderr)
        return 1
    editions = {"2007": 0, "1997": 0}
    for m in meters:
        editions[str(m.get("std", "2007"))] += 1
    _say("building %d simulated meters with their history ..." % len(meters))
    bus = BusServer(meters, baud=args.baud, transport="pty", time_scale=args.time_scale,
                    start_utc=settings.get("start_utc"), seed=settings.get("seed"))
    bus.start()
    _say("RS-485 line simulated on %s: %d baud 8E1, %d meters (%d DL/T 645-2007, %d DL/T 645-1997), "
         "meter clocks x%g" % (bus.url, args.baud, len(meters), editions["2007"], editions["1997"],
                               args.time_scale))
    _say("the concentrator reads them now: concentrator poll --port %s --meters %s" % (bus.url, args.meters))
    _say("to try commands yourself afterwards: .venv/bin/firmware-sim bus --tcp 4059, then "
         ".venv/bin/concentrator read --port socket://127.0.0.1:4059 --address 202311150042 --di forward_active_total")
    cmd = [sys.executable, "-m", "concentrator", "poll", "--port", bus.url, "--baud", str(args.baud),
           "--meters", args.meters, "--every", "0", "--timeout", "0.6"]
    for di in DIS:
        cmd += ["--di", di]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    stop_at = time.monotonic() + args.minutes * 60 if args.minutes else None
    if stop_at is not None:
        threading.Timer(args.minutes * 60, lambda: proc.send_signal(signal.SIGINT)).start()
    vanished = False
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("cycle 1 done") and not vanished and VANISHING_METER in bus.meters:
                vanished = True
                bus.set_fault(VANISHING_METER, "absent", for_s=VANISH_S)
                _say("meter %s drops off the line for %d s; watch the concentrator keep reading the others"
                     % (VANISHING_METER, VANISH_S))
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
    finally:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        stats = bus.stats
        bus.stop()
    _say("line traffic: %d requests, %d replies, %d collisions, %d bytes to the concentrator"
         % (stats["requests_seen"], stats["replies_sent"], stats["collisions"], stats["bytes_to_master"]))
    _say("stopped")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
