"""The ``kiosk`` command: run a hall kiosk, check its configuration, manage its identity.

``kiosk serve --config FILE`` is the kiosk in production: one TOML file
holds the device tables ([device], [hall], [outbox], [publisher], read by
``edge.load_device_config``), the [queue] table (``kiosk.queue.load_config``),
the [web] table (``kiosk.web.load_web_config``) and an optional [kiosk]
table naming the queue journal. Every table is validated before anything is
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

from .queue import QueueError, QueueStore, load_config
from .web import LANGUAGES, WebError, WebServer, create_app, load_web_config

DEVICE_KIND = "kiosk"
JOURNAL_NAME = "queue.db"
_KIOSK_KEYS = ("journal",)


def _fail(exc):
    raise click.ClickException(str(exc)) from exc


class KioskConfig:
    """Every table of a kiosk's TOML file, validated.

    Attributes:
        source: the file.
        device: the ``edge.DeviceConfig``.
        queue: the ``kiosk.queue.QueueConfig``.
        web: the ``kiosk.web.WebConfig``.
        journal: Path of the queue journal (``[kiosk] journal``, by default
            queue.db in the device's data directory).
    """

    def __init__(self, source, device, queue, web, journal):
        self.source, self.device, self.queue, self.web, self.journal = source, device, queue, web, journal


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
    """
    source = str(path)
    doc = edge.read_toml(source)          # file and syntax errors named once, before the table loaders
    device = edge.parse_device_config(doc, source=source)
    queue = load_config(source)
    web = load_web_config(source, queue)
    journal = device.data_dir / JOURNAL_NAME
    table = doc.get("kiosk", {})
    if not isinstance(table, dict):
        raise edge.ConfigError("%s: kiosk: expected a table [kiosk], got %s" % (source, type(table).__name__),
                               path=source, key="kiosk")
    for key in table:
        if key not in _KIOSK_KEYS:
            raise edge.ConfigError("%s: kiosk.%s: unknown key; the keys are %s" % (source, key, ", ".join(_KIOSK_KEYS)),
                                   path=source, key="kiosk.%s" % key)
    if "journal" in table:
        value = table["journal"]
        if not isinstance(value, str) or not value.strip():
            raise edge.ConfigError("%s: kiosk.journal: expected a file path, got %r" % (source, value),
                                   path=source, key="kiosk.journal")
        journal = Path(os.path.expanduser(value))
        if not journal.is_absolute():
            journal = Path(source).resolve().parent / journal
    return KioskConfig(source, device, queue, web, journal)


def _load(config_path):
    try:
        return load_kiosk_config(config_path)
    except (edge.EdgeError, QueueError, WebError) as exc:
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
                   "[queue], [web] and optionally [kiosk] (journal = the queue journal file).")
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
    store = server = None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda _sig, _frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        runtime.start()
        store = QueueStore(config.journal, config.queue, runtime.outbox)
        server = WebServer(create_app(store, config.web), web_host, web_port)
        server.start()
        _print_pages(server.url, config, runtime)
        while not stop.wait(0.5):
            if not server._thread or not server._thread.is_alive():
                raise click.ClickException("the web server on %s stopped by itself" % server.url)
    except (edge.EdgeError, QueueError, WebError) as exc:
        _fail(exc)
    finally:
        if server is not None:
            server.stop()
        if store is not None:
            store.close()
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("kiosk %s stopped" % runtime.device_id)


def _print_pages(url, config, runtime):
    click.echo("kiosk %s of hall %s: journal %s, hall broker %s:%d"
               % (runtime.device_id, runtime.identity.hall_id, config.journal, *config.device.broker))
    click.echo("  touch screen   %s/" % url)
    click.echo("  waiting board  %s/board" % url)
    for counter_id in config.queue.counters:
        click.echo("  counter %-6s %s/counter/%s" % (config.web.counter_labels[counter_id], url, counter_id))
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
    click.echo("data dir: %s; journal: %s" % (config.device.data_dir, config.journal))


cli.add_command(identity_commands(DEVICE_KIND), name="identity")
