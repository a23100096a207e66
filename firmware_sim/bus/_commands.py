"""Run-time commands for a running bus, one text line each (the CLI reads them on stdin).

``run_command(bus, line)`` parses one line and calls the ``BusServer``; it
returns a result dict and raises ``CommandError`` on bad input, so the CLI
prints an error and keeps the bus running. The table is built at import and
never changed; ``COMMAND_HELP`` is its text for ``--help`` and ``help``.
"""

import time

from ._errors import BusError


class CommandError(BusError):
    """A command line that cannot be run: unknown command, bad argument.

    Attributes:
        command: the command word, or None.
    """

    def __init__(self, message, command=None):
        super().__init__(message)
        self.command = command


def _number(command, text, what):
    try:
        return float(text)
    except ValueError:
        raise CommandError("%s: %s must be a number, got %r" % (command, what, text), command) from None


def _gone(kind):
    def run(bus, args):
        params = {"for_s": _number(kind, args[1], "SECONDS")} if len(args) > 1 else {}
        return bus.set_fault(args[0], kind, **params)
    return run


def _back(bus, args):
    return {"address": args[0], "cleared": bus.clear_fault(args[0], "absent") + bus.clear_fault(args[0], "silent")}


def _slow(bus, args):
    ms = _number("slow", args[1], "MS")
    if ms == 0:
        return {"address": args[0], "cleared": bus.clear_fault(args[0], "slow")}
    return bus.set_fault(args[0], "slow", ms=ms)


def _corrupt(bus, args):
    prob = _number("corrupt", args[1], "PROB")
    if prob == 0:
        return {"address": args[0], "cleared": bus.clear_fault(args[0], "corrupt")}
    return bus.set_fault(args[0], "corrupt", prob=prob)


def _drift(bus, args):
    return bus.set_fault(args[0], "drift", ppm=_number("drift", args[1], "PPM"))


def _clock(bus, args):
    return bus.set_fault(args[0], "clock_error", error_s=_number("clock", args[1], "SECONDS"))


def _babble(bus, args):
    params = {}
    if len(args) > 1:
        params["period_s"] = _number("babble", args[1], "PERIOD_S")
    if len(args) > 2:
        params["burst_bytes"] = _number("babble", args[2], "BYTES")
    if params.get("period_s") == 0:
        return {"address": args[0], "cleared": bus.clear_fault(args[0], "babble")}
    return bus.set_fault(args[0], "babble", **params)


def _noise(bus, args):
    rate = _number("noise", args[0], "RATE")
    if rate == 0:
        return {"cleared": bus.clear_fault(None, "noise")}
    params = {"rate_per_min": rate}
    if len(args) > 1:
        params["burst_bytes"] = _number("noise", args[1], "BYTES")
    return bus.set_fault(None, "noise", **params)


def _clear(bus, args):
    return {"address": args[0] if args else None, "cleared": bus.clear_fault(args[0] if args else None)}


def _faults(bus, args):
    return {"faults": bus.faults()}


def _stats(bus, args):
    return summary(bus)


def _meters(bus, args):
    return {"meters": meter_rows(bus)}


def _help(bus, args):
    return {"help": COMMAND_HELP}


# word -> (min args, max args, usage, help, function)
COMMANDS = {
    "silent": (1, 2, "silent ADDR [SECONDS]", "meter never answers (for SECONDS, or until back)", _gone("silent")),
    "absent": (1, 2, "absent ADDR [SECONDS]", "meter disappears from the line (for SECONDS, or until back)",
               _gone("absent")),
    "back": (1, 1, "back ADDR", "end silent/absent: the meter answers again", _back),
    "slow": (2, 2, "slow ADDR MS", "add MS to the meter's reply delay (0 ends it)", _slow),
    "corrupt": (2, 2, "corrupt ADDR PROB", "flip a bit in each reply byte with probability PROB (0 ends it)",
                _corrupt),
    "drift": (2, 2, "drift ADDR PPM", "meter clock runs PPM parts per million fast (negative: slow)", _drift),
    "clock": (2, 2, "clock ADDR SECONDS", "set the meter clock SECONDS off true time", _clock),
    "babble": (1, 3, "babble ADDR [PERIOD_S [BYTES]]", "meter sends BYTES random bytes every PERIOD_S s "
               "(default 5 s, 16 bytes; period 0 ends it)", _babble),
    "noise": (1, 2, "noise RATE [BYTES]", "random bursts of BYTES bytes (default 6), RATE per minute (0 ends it)",
              _noise),
    "clear": (0, 1, "clear [ADDR]", "remove every fault (of one meter)", _clear),
    "faults": (0, 0, "faults", "list the faults in force", _faults),
    "meters": (0, 0, "meters", "list the meters", _meters),
    "stats": (0, 0, "stats", "print the traffic counters now", _stats),
    "help": (0, 0, "help", "list these commands", _help),
}

COMMAND_HELP = "\n".join("  %-31s %s" % (usage, text) for _, _, usage, text, _ in COMMANDS.values())


def run_command(bus, line):
    """Run one command line against a ``BusServer``.

    Args:
        bus: the running server.
        line: e.g. ``"slow 202311150001 300"``.

    Returns:
        dict: the result (always with ``command``); None for a blank line.

    Raises:
        CommandError: unknown command or wrong arguments.
        FaultError: the bus refused the fault (unknown meter, bad value).
    """
    words = line.split()
    if not words:
        return None
    word, args = words[0].lower(), words[1:]
    if word not in COMMANDS:
        raise CommandError("unknown command %r; commands: %s" % (word, ", ".join(COMMANDS)), word)
    lo, hi, usage, _, fn = COMMANDS[word]
    if not lo <= len(args) <= hi:
        raise CommandError("usage: %s" % usage, word)
    out = {"command": word}
    out.update(fn(bus, args))
    return out


def summary(bus):
    """The traffic counters plus the simulation time, as one flat dict."""
    out = bus.stats
    out["sim_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(bus.sim_now()))
    return out


def meter_rows(bus):
    """One dict per meter: address, edition, reply delay, preamble, faults."""
    faults = bus.faults()
    rows = []
    for address, meter in bus.meters.items():
        mine = [f for f in faults if f["address"] == address]
        rows.append({"address": address, "std": getattr(meter, "std", None),
                     "reply_delay_ms": getattr(meter, "reply_delay_ms", None),
                     "preamble": getattr(meter, "preamble", None),
                     "faults": [f["kind"] for f in mine]})
    return rows
