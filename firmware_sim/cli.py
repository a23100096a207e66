"""The ``firmware-sim`` command: simulated hall hardware for tests and demos.

Parses options, calls the library, prints results, and maps our errors to
``Error: ...`` (exit 1). With ``--json`` every line on standard output is
one JSON object with an ``event`` key.
"""

import importlib.resources
import json
import logging
import signal
import sys
import threading

import click

from firmware_sim.billing import BackOffice, ServiceSimError, load_accounts, sample_accounts_path
from firmware_sim.billing._commands import COMMAND_HELP as SERVICE_COMMAND_HELP
from firmware_sim.billing._commands import run_command as run_service_command
from firmware_sim.bus import BusError, BusServer, load_bus_config
from firmware_sim.bus._commands import COMMAND_HELP, meter_rows, run_command, summary
from firmware_sim.modbus import ModbusMeterServer, ModbusSimError, load_modbus_config
from firmware_sim.modbus._commands import COMMAND_HELP as MODBUS_COMMAND_HELP
from firmware_sim.modbus._commands import run_command as run_modbus_command
from firmware_sim.payment import ProviderService

SAMPLE = "sample"


def _sample_path(name="meters.toml"):
    return str(importlib.resources.files("firmware_sim") / "samples" / name)


class _Printer:
    """Prints events as text lines or as JSON objects, one per line, flushed."""

    def __init__(self, as_json):
        self.as_json = as_json
        self._lock = threading.Lock()

    def event(self, event, text, **fields):
        with self._lock:
            if self.as_json:
                obj = {"event": event}
                obj.update(fields)
                click.echo(json.dumps(obj, ensure_ascii=False))
            else:
                click.echo(text)


def _traffic_text(s):
    return ("traffic: sim %s  requests %d  replies %d  suppressed %d  collisions %d  garbled %d  corrupted %d  "
            "noise %d  babble %d  to-master %d B  dropped %d B"
            % (s["sim_utc"], s["requests_seen"], s["replies_sent"], s["replies_suppressed"], s["collisions"],
               s["bytes_garbled"], s["bytes_corrupted"], s["noise_bytes"], s["babble_bytes"], s["bytes_to_master"],
               s["bytes_dropped"]))


def _meter_text(row):
    return "meter %s  DL/T 645-%s  delay %4s ms  preamble %s  faults: %s" % (
        row["address"], row["std"], row["reply_delay_ms"], row["preamble"], ", ".join(row["faults"]) or "-")


def _result_text(result):
    command = result["command"]
    if command == "help":
        return "commands:\n" + result["help"]
    if command == "stats":
        return _traffic_text(result)
    if command == "meters":
        return "\n".join(_meter_text(row) for row in result["meters"])
    if command == "faults":
        if not result["faults"]:
            return "faults: none"
        return "\n".join("fault " + _fault_text(f) for f in result["faults"])
    if "cleared" in result:
        return "%s: cleared %d fault(s)%s" % (command, result["cleared"],
                                              " of " + result["address"] if result.get("address") else "")
    return "%s: set %s" % (command, _fault_text(result))


def _fault_text(f):
    params = " ".join("%s=%s" % (k, v) for k, v in f.items() if k not in ("kind", "address", "command"))
    return "%s%s%s" % (f["kind"], " " + f["address"] if f.get("address") else "", " " + params if params else "")


def _read_commands(bus, printer, stop):
    """Run stdin command lines until EOF (then the bus just keeps running)."""
    for line in sys.stdin:
        try:
            result = run_command(bus, line)
        except BusError as exc:
            printer.event("error", "error: %s" % exc, message=str(exc))
            continue
        if result is None:
            continue
        printer.event("command", _result_text(result), **result)
        if stop.is_set():
            break


@click.group()
@click.version_option(package_name="hall-edge")
def cli():
    """Simulated hall hardware: DL/T 645 meters on an RS-485 bus, Modbus meters.

    Run the bus (or the Modbus meters), then point a concentrator (or any
    pyserial or Modbus program) at the port or URL it prints.
    """


@cli.command(epilog="""\b
Commands on standard input while it runs (ADDR is a 12-digit meter address):
""" + COMMAND_HELP + """

\b
Examples:
  firmware-sim bus --tcp 0                        # the 20 sample meters
  firmware-sim bus --meters my.toml --pty --baud 9600
  concentrator read --port socket://127.0.0.1:PORT ...
""")
@click.option("--meters", "meters_path", default=SAMPLE, show_default=True, metavar="FILE",
              help="Meters file (TOML: [bus], [[meter]], [[fault]] tables). 'sample' is the packaged "
                   "firmware_sim/samples/meters.toml with a supply meter and 20 customer meters of both editions; "
                   "copy it to start your own.")
@click.option("--pty", "use_pty", is_flag=True,
              help="Serve on a pseudo-terminal (the default); prints its path for the master to open. A pty "
                   "ignores the baud and parity the master sets; the wire timing is simulated anyway.")
@click.option("--tcp", "tcp_port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve on TCP PORT (on --host) instead, like a serial-to-Ethernet gateway; 0 lets the OS choose. "
                   "Open it with pyserial as socket://HOST:PORT. One master at a time.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on with --tcp.")
@click.option("--baud", type=click.IntRange(50, 1000000), default=None,
              help="Line rate in bit/s for the wire timing (default: [bus] baud, else 2400).")
@click.option("--time-scale", type=click.FloatRange(0, 1e6, min_open=True), default=None,
              help="Simulated seconds per real second for the meters' clocks and energy, e.g. 3600 to run an "
                   "hour a second (default: [bus] time_scale, else 1). Wire timing stays real.")
@click.option("--seed", type=int, default=None, help="Seed for corruption, noise and babble (default: [bus] seed, "
                                                     "else random; printed at start).")
@click.option("--summary", "summary_s", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Seconds between traffic summary lines.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line instead of text.")
def bus(meters_path, use_pty, tcp_port, host, baud, time_scale, seed, summary_s, as_json):
    """Run a simulated RS-485 line with DL/T 645 meters.

    The bus holds every byte for its time on the wire (11 bits per byte at
    8E1), answers after each meter's reply delay (20-500 ms), garbles
    replies that overlap (a wildcard read that several meters answer) and
    injects faults from the meters file or from commands typed on standard
    input.

    The first line says where to connect ("port: /dev/pts/N" or
    "url: socket://127.0.0.1:PORT"); then the meters are listed and a
    traffic summary follows every few seconds. Ctrl-C or SIGTERM stops it.
    """
    if use_pty and tcp_port is not None:
        raise click.UsageError("choose one of --pty and --tcp PORT")
    path = _sample_path() if meters_path == SAMPLE else meters_path
    try:
        meters, settings = load_bus_config(path)
        server = BusServer(meters, baud=baud or settings["baud"], transport="pty" if tcp_port is None else "tcp",
                           port=tcp_port or 0, host=host,
                           time_scale=time_scale if time_scale is not None else settings["time_scale"],
                           start_utc=settings["start_utc"], bits_per_byte=settings["bits_per_byte"],
                           seed=seed if seed is not None else settings["seed"], faults=settings["faults"],
                           source=path)
    except BusError as exc:
        raise click.ClickException(str(exc)) from exc
    printer = _Printer(as_json)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    server.start()
    try:
        where = "port" if server.transport == "pty" else "url"
        printer.event("listening", "%s: %s" % (where, server.url), transport=server.transport, url=server.url)
        rows = meter_rows(server)
        printer.event("bus", "bus: %d meters, %d bit/s, %d bits/byte (%.3f ms/byte), time scale %g, seed %d, file %s"
                      % (len(rows), server.baud, server.bits_per_byte, server.byte_time_s * 1000,
                         server.time_scale, server.seed, path),
                      meters=len(rows), baud=server.baud, bits_per_byte=server.bits_per_byte,
                      byte_time_ms=round(server.byte_time_s * 1000, 3), time_scale=server.time_scale,
                      seed=server.seed, file=path)
        for row in rows:
            printer.event("meter", _meter_text(row), **row)
        for f in server.faults():
            if f["address"] is None:
                printer.event("fault", "fault " + _fault_text(f), **f)
        printer.event("ready", "ready: type 'help' for commands; Ctrl-C stops")
        threading.Thread(target=_read_commands, args=(server, printer, stop), daemon=True).start()
        while not stop.wait(summary_s) and server.running:
            s = summary(server)
            printer.event("traffic", _traffic_text(s), **s)
            if server.last_meter_error is not None and s["meter_errors"]:
                address, message = server.last_meter_error
                printer.event("meter_error", "meter error: %s raised %s (%d so far)" % (address, message,
                                                                                       s["meter_errors"]),
                              address=address, message=message, count=s["meter_errors"])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            server.stop()
        except BusError as exc:
            raise click.ClickException(str(exc)) from exc
    s = summary(server)
    printer.event("stopped", "stopped. " + _traffic_text(s), **s)


# ---- firmware-sim modbus ------------------------------------------------------------


def _modbus_result_text(result):
    command = result["command"]
    if command == "help":
        return "commands:\n" + result["help"]
    if command == "stats":
        return "stats: requests %d  replies %d  exceptions %d  silent %d" % (
            result["requests"], result["replies"], result["exceptions"], result["silent"])
    if command == "faults":
        if not result["faults"]:
            return "faults: none"
        return "\n".join("fault " + _modbus_fault_text(f) for f in result["faults"])
    if command == "state":
        return "state of unit %d: %s" % (result["unit"], ", ".join("%s=%s" % kv for kv in result["state"].items()))
    if "cleared" in result:
        return "%s: cleared %d fault(s)%s" % (command, result["cleared"],
                                              " of unit %d" % result["unit"] if result.get("unit") else "")
    return "%s: set %s" % (command, _modbus_fault_text(result))


def _modbus_fault_text(f):
    params = " ".join("%s=%s" % (k, v) for k, v in f.items() if k not in ("kind", "unit", "command"))
    return "%s unit %d%s" % (f["kind"], f["unit"], " " + params if params else "")


def _read_modbus_commands(server, printer):
    """Run stdin command lines until EOF (then the server just keeps running)."""
    for line in sys.stdin:
        try:
            result = run_modbus_command(server, line)
        except ModbusSimError as exc:
            printer.event("error", "error: %s" % exc, message=str(exc))
            continue
        if result is not None:
            printer.event("command", _modbus_result_text(result), **result)


@cli.command(epilog="""\b
Commands on standard input while it runs (UNIT is a Modbus unit id):
""" + MODBUS_COMMAND_HELP + """

\b
Examples:
  firmware-sim modbus --tcp 0                     # the 5 sample meters on Modbus TCP
  firmware-sim modbus --meters my-line.toml --pty # Modbus RTU on a pseudo-terminal
""")
@click.option("--meters", "meters_path", default=SAMPLE, show_default=True, metavar="FILE",
              help="Meters file (TOML: [server], [[meter]], [[fault]] tables). 'sample' is the packaged "
                   "firmware_sim/samples/modbus.toml with 5 CHINT meters; copy it to start your own.")
@click.option("--pty", "use_pty", is_flag=True,
              help="Serve Modbus RTU on a pseudo-terminal and print its path (default: [server] transport).")
@click.option("--tcp", "tcp_port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve Modbus TCP on PORT (on --host); 0 lets the OS choose. Open it as tcp://HOST:PORT.")
@click.option("--host", default=None, help="Address to listen on with --tcp (default: [server] host, else 127.0.0.1).")
@click.option("--baud", type=click.IntRange(1200, 115200), default=9600, show_default=True,
              help="Rate the RTU server opens its pty end with; a pty carries no rate, so any master rate works.")
@click.option("--time-scale", type=click.FloatRange(0, 1e6), default=None,
              help="Simulated seconds per real second for the meters' load and energy, e.g. 3600 to run an hour "
                   "a second; 0 freezes them (default: [server] time_scale, else 1).")
@click.option("--summary", "summary_s", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Seconds between request counter lines.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line instead of text.")
def modbus(meters_path, use_pty, tcp_port, host, baud, time_scale, summary_s, as_json):
    """Run simulated Modbus meters (CHINT DTSU666, DDSU666) on TCP or RTU.

    Several meters, each at its own unit id, answer on one Modbus TCP port
    or one RTU line on a pseudo-terminal, from registers that follow a load
    profile. Faults (a dead unit, exception replies, slow replies, NaN
    values) come from the meters file or from commands typed on standard
    input.

    The first line says where to connect ("url: tcp://127.0.0.1:PORT" or
    "port: /dev/pts/N"); then the meters are listed and request counters
    follow every few seconds. Ctrl-C or SIGTERM stops it.
    """
    if use_pty and tcp_port is not None:
        raise click.UsageError("choose one of --pty and --tcp PORT")
    path = _sample_path("modbus.toml") if meters_path == SAMPLE else meters_path
    try:
        meters, settings, faults = load_modbus_config(path)
        transport = "rtu-pty" if use_pty else "tcp" if tcp_port is not None else settings["transport"]
        server = ModbusMeterServer(meters, transport=transport, host=host or settings["host"],
                                   port=tcp_port if tcp_port is not None else settings["port"],
                                   time_scale=time_scale if time_scale is not None else settings["time_scale"],
                                   start_utc=settings["start_utc"], faults=faults, baud=baud, source=path)
    except ModbusSimError as exc:
        raise click.ClickException(str(exc)) from exc
    # pymodbus logs every silent unit with a frame dump; the counters say it once.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    printer = _Printer(as_json)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        server.start()
        where = "port" if transport == "rtu-pty" else "url"
        printer.event("listening", "%s: %s" % (where, server.url), transport=transport, url=server.url)
        printer.event("server", "modbus: %d meters, time scale %g, file %s" % (len(meters), server.time_scale, path),
                      meters=len(meters), time_scale=server.time_scale, file=path)
        for unit in server.units:
            meter = server.meters[unit]
            kinds = [f["kind"] for f in server.faults(unit)]
            printer.event("meter", "unit %3d  %-8s %d-phase  delay %4d ms  faults: %s"
                          % (unit, meter.model.name, meter.model.phases, meter.reply_delay_ms, ", ".join(kinds) or "-"),
                          unit=unit, model=meter.model.name, phases=meter.model.phases,
                          reply_delay_ms=meter.reply_delay_ms, faults=kinds)
        printer.event("ready", "ready: type 'help' for commands; Ctrl-C stops")
        threading.Thread(target=_read_modbus_commands, args=(server, printer), daemon=True).start()
        while not stop.wait(summary_s) and server.running:
            s = server.stats
            printer.event("stats", _modbus_result_text(dict(s, command="stats")), **s)
    except KeyboardInterrupt:
        pass
    except ModbusSimError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            server.stop()
        except ModbusSimError as exc:
            raise click.ClickException(str(exc)) from exc
    s = server.stats
    printer.event("stopped", "stopped. " + _modbus_result_text(dict(s, command="stats")), **s)


# ---- firmware-sim billing / payment ---------------------------------------------------------


def _service_result_text(result):
    command = result["command"]
    if command == "help":
        return "commands:\n" + result["help"]
    if command == "faults":
        if not result["faults"]:
            return "faults: none"
        return "\n".join("fault %s %s" % (f["service"], _params_text(f)) for f in result["faults"])
    if command == "fault":
        return "%s: set %s" % (result["service"], _params_text(result))
    if command == "clear":
        return "%s: cleared %d fault(s)" % (result["service"], result["cleared"])
    if command == "pay":
        return "order %s: %s" % (result["order_no"], result["status"])
    return "statement %s %s: %s" % (result["service"], result["day"], _params_text(result))


def _params_text(fields):
    return " ".join("%s=%s" % (k, v) for k, v in fields.items() if k not in ("command", "service", "day"))


def _run_services(services, printer, summary_s, stats):
    """Serve until Ctrl-C or SIGTERM, reading commands from standard input."""
    def read_commands():
        for line in sys.stdin:
            try:
                result = run_service_command(services, line)
            except ServiceSimError as exc:
                printer.event("error", "error: %s" % exc, message=str(exc))
                continue
            if result is not None:
                printer.event("command", _service_result_text(result), **result)

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        printer.event("ready", "ready: type 'help' for commands; Ctrl-C stops")
        threading.Thread(target=read_commands, daemon=True).start()
        while not stop.wait(summary_s):
            text, fields = stats()
            printer.event("stats", text, **fields)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for service in services.values():
            service.stop()
    text, fields = stats()
    printer.event("stopped", "stopped. " + text, **fields)


@cli.command(epilog="""\b
Commands on standard input while it runs:
""" + SERVICE_COMMAND_HELP + """

\b
Endpoints (JSON, money in integer fen; see docs/simulator.md):
  POST /accounts/lookup  POST /payments  GET /payments/{key}
  POST /precollections   GET /statements/{day}  GET|POST|DELETE /admin/faults

\b
Examples:
  firmware-sim billing                            # the sample accounts on a free port
  firmware-sim billing --port 8601 --db office.sqlite
  curl -X POST localhost:8601/admin/faults -d '{"kind": "hang"}'
""")
@click.option("--accounts", "accounts_path", default=SAMPLE, show_default=True, metavar="FILE",
              help="Accounts file (TOML: [[account]] tables with [[account.bill]] arrears). 'sample' is the "
                   "packaged firmware_sim/samples/accounts.toml with 10 accounts; copy it to start your own.")
@click.option("--db", "db_path", default=None, metavar="FILE",
              help="Keep the books in this SQLite file, so postings and idempotency keys survive a restart. If it "
                   "already holds accounts, the accounts file is not read. Default: memory only.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port; 0 lets the OS choose (printed at start).")
@click.option("--summary", "summary_s", type=click.FloatRange(0.1, 3600), default=10.0, show_default=True,
              help="Seconds between posting counter lines.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line instead of text.")
def billing(accounts_path, db_path, host, port, summary_s, as_json):
    """Run the simulated billing back office (HTTP) that kiosks post payments to.

    Kiosks look accounts up (arrears bills, prepaid balance), post payments
    under idempotency keys (the same key never posts twice; the same key
    with another amount is a 409), post manual pre-collections taken while
    it was down (P-02), and fetch a day's statement for settlement.

    Faults are set on standard input or over POST /admin/faults: down (503
    or connection refused), slow, fail the next N calls, and hang: the
    payment is applied but its reply never arrives, which a kiosk must
    resolve by key without charging twice.

    The first line says where it listens ("url: http://127.0.0.1:PORT").
    Ctrl-C or SIGTERM stops it.
    """
    path = sample_accounts_path() if accounts_path == SAMPLE else accounts_path
    try:
        office = BackOffice(load_accounts(path), db_path=db_path, host=host, port=port).start()
    except ServiceSimError as exc:
        raise click.ClickException(str(exc)) from exc
    printer = _Printer(as_json)
    printer.event("listening", "url: %s" % office.url, url=office.url)
    printer.event("billing", "billing: %d accounts, file %s%s" % (len(office.ledger.accounts()), path,
                                                                  ", db %s" % db_path if db_path else ""),
                  accounts=len(office.ledger.accounts()), file=path, db=db_path)

    def stats():
        s = dict(office.stats)
        return "postings: new %(posted)d  replayed %(replayed)d  refused %(refused)d" % s, s

    _run_services({"billing": office}, printer, summary_s, stats)


@cli.command(epilog="""\b
Commands on standard input while it runs (SERVICE is card or qr):
""" + SERVICE_COMMAND_HELP + """

\b
Endpoints of each provider (JSON, money in integer fen; see docs/simulator.md):
  POST /orders  GET /orders/{no}  POST /orders/{no}/close  POST /orders/{no}/refund
  GET /statements/{day}  POST /sim/orders/{no}/pay  GET|POST|DELETE /admin/faults

\b
Examples:
  firmware-sim payment                            # card and qr on free ports
  firmware-sim payment --channel qr --qr-port 8702 --auto-pay-ms 0
""")
@click.option("--channel", type=click.Choice(["card", "qr", "both"]), default="both", show_default=True,
              help="Which providers to run: the bank card terminal, the QR code provider, or both.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--card-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port of the card provider; 0 lets the OS choose.")
@click.option("--qr-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port of the QR provider; 0 lets the OS choose.")
@click.option("--auto-pay-ms", type=click.IntRange(-1, 3600000), default=3000, show_default=True,
              help="QR: the simulated customer pays this many ms after the code is shown; -1: only the 'pay' "
                   "command or POST /sim/orders/{no}/pay pays.")
@click.option("--summary", "summary_s", type=click.FloatRange(0.1, 3600), default=10.0, show_default=True,
              help="Seconds between notification counter lines.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line instead of text.")
def payment(channel, host, card_port, qr_port, auto_pay_ms, summary_s, as_json):
    """Run simulated payment providers (card terminal, QR code) over HTTP.

    Orders are keyed by the merchant order number (the kiosk's payment
    intent id): creating it again never charges twice. A card order is
    charged at once; a QR order waits for the customer to pay by phone, then
    the provider notifies the merchant's notify_url. Orders can be queried,
    closed (an unpaid order can then never be paid) and refunded, and each
    day has a statement for reconciliation.

    Faults: decline, hang (charged but the reply is lost), delay_confirm
    (pending before paid), duplicate_notify, and the back office's down,
    slow and fail; set them on standard input or over POST /admin/faults.

    One "url:" line per provider says where it listens. Ctrl-C or SIGTERM
    stops them.
    """
    wanted = ("card", "qr") if channel == "both" else (channel,)
    services = {}
    try:
        for name in wanted:
            services[name] = ProviderService(name, host=host, port=card_port if name == "card" else qr_port,
                                             auto_pay_ms=None if auto_pay_ms < 0 else auto_pay_ms).start()
    except ServiceSimError as exc:
        for service in services.values():
            service.stop()
        raise click.ClickException(str(exc)) from exc
    printer = _Printer(as_json)
    for name, service in services.items():
        printer.event("listening", "url: %s (%s)" % (service.url, name), url=service.url, channel=name)

    def stats():
        fields = {name: len(s.notifications) for name, s in services.items()}
        return "notifications sent: " + "  ".join("%s %d" % kv for kv in fields.items()), fields

    _run_services(services, printer, summary_s, stats)
