"""The ``kiosk`` command: run a hall kiosk, check its configuration, manage its identity.

``kiosk serve --config FILE`` is the kiosk in production: one TOML file
holds the device tables ([device], [hall], [outbox], [publisher], read by
``edge.load_device_config``), the [queue] table (``kiosk.queue.load_config``),
the [web] table (``kiosk.web.load_web_config``), the optional [printer]
(``kiosk.printing.load_printer_config``) and [rating]
(``kiosk.rating.load_rating_config``) tables, and an optional [kiosk]
table naming the journal files. Every table is validated before anything is
opened or created, so a wrong file leaves no trace (one ``Error: FILE: key:
...`` line, exit 1). Then the device runtime (identity, outbox, publisher),
the queue journal and the web app are opened in that order and closed in
the reverse one when SIGTERM or SIGINT arrives.

``kiosk identity`` is the group the concentrator has too, built by
``edge.cli.identity_commands`` for kind "kiosk".
"""

import os
import signal
import threading
from pathlib import Path

import click

import edge
from edge.cli import identity_commands

from .printing import Printer, PrintingError, load_printer_config
from .queue import QueueError, QueueStore, load_config
from .rating import RatingError, RatingStore, load_rating_config
from .web import LANGUAGES, DeskLedger, WebError, WebServer, create_app, load_web_config

DEVICE_KIND = "kiosk"
JOURNAL_NAME = "queue.db"
# [kiosk] key -> the file's default name in the data directory.
_KIOSK_FILES = {"journal": JOURNAL_NAME, "rating_journal": "rating.db", "desk_ledger": "desk.db"}
_ERRORS = (edge.EdgeError, QueueError, WebError, PrintingError, RatingError)


def _fail(exc):
    raise click.ClickException(str(exc)) from exc


class KioskConfig:
    """Every table of a kiosk's TOML file, validated.

    Attributes:
        source: the file.
        device: the ``edge.DeviceConfig``.
        queue: the ``kiosk.queue.QueueConfig``.
        web: the ``kiosk.web.WebConfig``.
        printer: the ``kiosk.printing.PrinterConfig``, or None (no [printer]: tickets are not printed).
        rating: the ``kiosk.rating.RatingConfig``, or None (no [rating]: no rating pages or pads).
        journal, rating_journal, desk_ledger: Paths of the queue journal, the
            rating journal and the guidance desk's ledger (``[kiosk]`` keys; by
            default queue.db, rating.db and desk.db in the device's data directory).
    """

    def __init__(self, source, device, queue, web, files, printer=None, rating=None):
        self.source, self.device, self.queue, self.web = source, device, queue, web
        self.printer, self.rating = printer, rating
        self.journal, self.rating_journal, self.desk_ledger = (files[k] for k in _KIOSK_FILES)


def load_kiosk_config(path):
    """Read and check a kiosk's TOML file; opens and creates nothing.

    Args:
        path: the file.

    Returns:
        A ``KioskConfig``.

    Raises:
        edge.ConfigError: the file cannot be read or parsed, or a device or
            [kiosk] key is wrong.
        kiosk.queue.QueueConfigError: a [queue] key is wrong.
        kiosk.web.WebConfigError: a [web] key is wrong.
        kiosk.printing.PrinterConfigError: a [printer] key is wrong.
        kiosk.rating.RatingConfigError: a [rating] key is wrong.
    """
    source = str(path)
    doc = edge.read_toml(source)          # file and syntax errors named once, before the table loaders
    device = edge.parse_device_config(doc, source=source)
    queue = load_config(source)
    web = load_web_config(source, queue)
    printer = load_printer_config(source) if "printer" in doc else None
    rating = load_rating_config(source) if "rating" in doc else None
    if web.pads and rating is None:
        raise edge.ConfigError("%s: web.counter.%s.pad: a rating pad needs a [rating] table" % (source, min(web.pads)),
                               path=source, key="web.counter.%s.pad" % min(web.pads))
    table = doc.get("kiosk", {})
    if not isinstance(table, dict):
        raise edge.ConfigError("%s: kiosk: expected a table [kiosk], got %s" % (source, type(table).__name__),
                               path=source, key="kiosk")
    for key in table:
        if key not in _KIOSK_FILES:
            raise edge.ConfigError("%s: kiosk.%s: unknown key; the keys are %s" % (source, key, ", ".join(_KIOSK_FILES)),
                                   path=source, key="kiosk.%s" % key)
    files = {}
    for key, default in _KIOSK_FILES.items():
        files[key] = device.data_dir / default
        if key in table:
            value = table[key]
            if not isinstance(value, str) or not value.strip():
                raise edge.ConfigError("%s: kiosk.%s: expected a file path, got %r" % (source, key, value),
                                       path=source, key="kiosk.%s" % key)
            files[key] = Path(os.path.expanduser(value))
            if not files[key].is_absolute():
                files[key] = Path(source).resolve().parent / files[key]
    return KioskConfig(source, device, queue, web, files, printer, rating)


def _load(config_path):
    try:
        return load_kiosk_config(config_path)
    except _ERRORS as exc:
        _fail(exc)


@click.group()
@click.version_option(package_name="hall-edge")
def cli():
    """Run a business hall's kiosk: queue tickets, the waiting board and the counter pages.

    The kiosk (自助终端) issues queue tickets on its touch screen, shows the
    waiting board with spoken calls, and gives each counter a page behind a
    staff PIN. Every ticket and call is kept in the kiosk's queue journal and
    sent to the hall server as a signed record through the device outbox.

    One TOML file configures it: the device tables ([device], [hall],
    [outbox], [publisher]), [queue], [web] and optionally [kiosk].
    kiosk/samples/kiosk-device.toml is a complete example.

    \b
    Examples:
      kiosk identity init --data-dir data --device-id kiosk-01 --hall h1
      kiosk identity trust-hall --data-dir data hall.pub
      kiosk check-config kiosk.toml
      kiosk serve --config kiosk.toml
    """


@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The kiosk's TOML file: the device tables ([device], [hall], [outbox], [publisher]), "
                   "[queue], [web] and optionally [printer], [rating] and [kiosk] (journal, "
                   "rating_journal, desk_ledger: the files).")
@click.option("--host", default=None, metavar="HOST",
              help="Address to serve the pages on, instead of [web] host (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, metavar="N",
              help="Port to serve the pages on, instead of [web] port; 0 lets the system choose one.")
def serve(config_path, host, port):
    """Run the kiosk: the web app over the queue journal, sending records to the hall.

    Checks the whole file first (nothing is created when it is wrong), then
    opens the device identity, outbox and publisher, the queue journal
    (replayed, so the day carries on after a restart) and serves the touch
    screen, the waiting board and the counter pages. Prints their addresses.
    SIGTERM or SIGINT stops it: the web server first, then the journal, then
    the publisher (a clean disconnect) and the outbox; exit 0.
    """
    config = _load(config_path)
    web_host = host if host is not None else config.web.host
    web_port = port if port is not None else config.web.port
    try:
        runtime = edge.DeviceRuntime(config.device, DEVICE_KIND)
    except edge.EdgeError as exc:
        _fail(exc)
    store = rating = ledger = printer = server = None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda _sig, _frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        runtime.start()
        store = QueueStore(config.journal, config.queue, runtime.outbox)
        if config.rating is not None:
            rating = RatingStore(config.rating_journal, config.rating, runtime.outbox)
        ledger = DeskLedger(config.desk_ledger)
        printer = Printer(config.printer) if config.printer is not None else None
        files = {"queue": config.journal, "rating": config.rating_journal, "desk": config.desk_ledger,
                 "outbox": config.device.outbox_path}
        app = create_app(store, config.web, rating=rating, printer=printer, ledger=ledger, runtime=runtime,
                         files=files, clock_quality=_clock_quality())
        server = WebServer(app, web_host, web_port)
        server.start()
        _print_pages(server.url, config, runtime)
        while not stop.wait(0.5):
            if not server._thread or not server._thread.is_alive():
                raise click.ClickException("the web server on %s stopped by itself" % server.url)
    except _ERRORS as exc:
        _fail(exc)
    finally:
        if server is not None:
            server.stop()
        for part in (printer, ledger, rating, store):
            if part is not None:
                part.close()
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("kiosk %s stopped" % runtime.device_id)


def _clock_quality():
    """The clock-quality reader for the admin page's health, or None where the platform has none."""
    try:
        from edge.clock import ClockQuality
        return ClockQuality().now
    except (ImportError, OSError):
        return None


def _print_pages(url, config, runtime):
    click.echo("kiosk %s of hall %s: journal %s, hall broker %s:%d"
               % (runtime.device_id, runtime.identity.hall_id, config.journal, *config.device.broker))
    click.echo("  touch screen   %s/" % url)
    click.echo("  waiting board  %s/board" % url)
    for counter_id in config.queue.counters:
        click.echo("  counter %-6s %s/counter/%s" % (config.web.counter_labels[counter_id], url, counter_id))
    if config.rating is None:
        click.echo("  rating         off (no [rating] table): no rating pages, no pads")
    else:
        for counter_id in config.queue.counters:
            pad = config.web.pads.get(counter_id)
            click.echo("  rating %-7s %s/rating/%s%s" % (config.web.counter_labels[counter_id], url, counter_id,
                                                        "  (pad %s)" % pad if pad else ""))
    click.echo("  printer        %s" % (config.printer.describe() if config.printer is not None
                                        else "none (no [printer] table): tickets are shown, not printed"))
    click.echo("  guidance desk  %s/desk" % url)
    click.echo("  admin          %s/admin" % url)
    click.echo("  API document   %s/api/openapi.json" % url)
    click.echo("serving; SIGTERM or Ctrl-C stops")


@cli.command(name="check-config")
@click.argument("file", type=click.Path(dir_okay=False))
def check_config(file):
    """Check a kiosk's TOML file and summarise it; creates nothing.

    Validates every table `kiosk serve` reads and prints the categories,
    the counters with what they serve, the staff numbers, the languages,
    where the pages are served, the hall broker and the journal file. A
    wrong file gives one `Error: FILE: key: ...` line and exit 1.
    """
    config = _load(file)
    queue, web = config.queue, config.web
    click.echo("%s: valid" % file)
    click.echo("categories: %s" % ", ".join("%s %s" % (p, c.name) for p, c in queue.categories.items()))
    click.echo("counters:")
    for counter_id, counter in queue.counters.items():
        click.echo("  %s (label %s): %s; %s" % (counter_id, web.counter_labels[counter_id],
                                                ", ".join(counter.categories),
                                                ", ".join(c for c in queue.order if c in counter.classes)))
    click.echo("staff: %s" % (", ".join(sorted(web.staff)) or "none (no counter can sign in)"))
    voice = "voice in %s" % ", ".join(web.voice_languages) if web.voice else "voice off"
    click.echo("languages: %s (%s)" % (", ".join(LANGUAGES), voice))
    click.echo("hours: %02d:%02d-%02d:%02d %s" % (*divmod(queue.opens_min, 60), *divmod(queue.closes_min, 60),
                                                  queue.timezone))
    click.echo("web: %s port %d" % (web.host, web.port))
    click.echo("hall broker: %s:%d" % config.device.broker)
    click.echo("printer: %s" % (config.printer.describe() if config.printer is not None else "none"))
    click.echo("rating: %s" % ("off" if config.rating is None else "timeout %s s, pads at %s" % (
        config.rating.timeout_s, ", ".join(sorted(config.web.pads)) or "no counter")))
    roles = {r: sorted(n for n, rs in web.roles.items() if r in rs) for r in ("admin", "desk")}
    click.echo("roles: admin %s; desk %s" % (", ".join(roles["admin"]) or "nobody", ", ".join(roles["desk"]) or "nobody"))
    click.echo("data dir: %s; journal: %s; rating journal: %s; desk ledger: %s"
               % (config.device.data_dir, config.journal, config.rating_journal, config.desk_ledger))


cli.add_command(identity_commands(DEVICE_KIND), name="identity")
