"""Text commands for a running ``firmware-sim modbus``: parse a line, act, return a dict.

Sans-I/O apart from the server calls: the CLI reads lines and prints what
``run_command`` returns. Mistakes raise ``ModbusFaultError`` with a usage
line; nothing is changed then.
"""

from ._errors import ModbusFaultError

COMMAND_HELP = """\
  absent UNIT            the unit never answers (a dead meter)
  back UNIT              end absent: the unit answers again
  exception UNIT [CODE]  answer every request with exception CODE (default 4)
  slow UNIT MS           answer MS milliseconds later; slow UNIT 0 ends it
  nan UNIT               every register reads 0xFFFF (float NaN)
  clear [UNIT]           remove every fault, or every fault of one unit
  faults                 list the faults in force
  state UNIT             print what the unit's registers hold now
  stats                  print the request counters
  help                   list these commands"""

_USAGE = {line.split()[0]: line.strip().split("  ")[0] for line in COMMAND_HELP.splitlines()}


def _int(word, command, what):
    try:
        return int(word)
    except ValueError:
        raise ModbusFaultError("%s: %s must be a whole number, got %r; usage: %s"
                               % (command, what, word, _USAGE[command]), kind=command) from None


def run_command(server, line):
    """Carry out one command line on a ModbusMeterServer.

    Returns:
        dict with ``command`` and its result, or None for an empty line.

    Raises:
        ModbusFaultError: unknown command, wrong arguments, unknown unit.
    """
    words = line.split()
    if not words:
        return None
    command, args = words[0].lower(), words[1:]
    if command not in _USAGE:
        raise ModbusFaultError("unknown command %r; type 'help' for the list" % command, kind=command)
    need = {"absent": (1, 1), "back": (1, 1), "exception": (1, 2), "slow": (2, 2), "nan": (1, 1),
            "clear": (0, 1), "faults": (0, 0), "state": (1, 1), "stats": (0, 0), "help": (0, 0)}[command]
    if not need[0] <= len(args) <= need[1]:
        raise ModbusFaultError("usage: %s" % _USAGE[command], kind=command)
    unit = _int(args[0], command, "UNIT") if args else None
    if command == "help":
        return {"command": "help", "help": COMMAND_HELP}
    if command == "faults":
        return {"command": "faults", "faults": server.faults()}
    if command == "stats":
        return dict(server.stats, command="stats")
    if command == "state":
        return {"command": "state", "unit": unit, "state": server.state(unit)}
    if command in ("back", "clear"):
        kind = "absent" if command == "back" else None
        return {"command": command, "unit": unit, "cleared": server.clear_fault(unit, kind)}
    if command == "slow" and _int(args[1], command, "MS") == 0:
        return {"command": command, "unit": unit, "cleared": server.clear_fault(unit, "slow")}
    params = {}
    if command == "exception" and len(args) == 2:
        params["code"] = _int(args[1], command, "CODE")
    if command == "slow":
        params["ms"] = _int(args[1], command, "MS")
    fault = server.set_fault(unit, command, **params)
    fault["command"] = command
    return fault
