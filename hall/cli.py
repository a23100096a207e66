"""The ``hall`` command of the hall server.

Parses options, calls the library, prints results, and maps our errors to
``Error: ...`` (exit 1).
"""

import datetime
import json
from pathlib import Path

import click

from hall._broker import (DEFAULT_DAYS, BrokerConfigError, load_devices_file, parse_device,
                          write_broker_config)
from hall._keys import (BadKey, KeyFileError, fingerprint, hall_key_path, load_hall_key, parse_public_key,
                        public_key_text, raw_public_key)
from hall._command import (DEFAULT_SEARCH_WAIT_S, DEFAULT_USER, DEFAULT_WAIT_S, Answer, CommandError, SearchAnswer,
                           answer_lines, send_read, send_search, wait_answer)
from hall._serve import ServeError, parse_broker, serve
from hall._store import StoreError, now_ms, open_store
from protocols.topics import TopicError, is_identifier


def _fail(exc):
    raise click.ClickException(str(exc)) from exc


@click.group()
@click.version_option(package_name="hall-edge")
def cli():
    """The hall server: receives, checks and stores what a hall's devices report.

    Kiosks and meter concentrators publish signed records over MQTT to a
    broker; the hall server reads them from there. `hall broker-config`
    writes that broker's configuration.
    """


@cli.command("broker-config")
@click.option("--hall", "hall", required=True, metavar="ID",
              help="Hall id, the second level of every topic (hall/ID/...): a-z, 0-9 and '-'.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Directory to write into; created if missing. Run again on the same directory "
                   "to add or revoke devices: the CA and issued certificates are kept.")
@click.option("--device", "device_specs", multiple=True, metavar="ID:KIND",
              help="A device to issue a certificate for, KIND concentrator or kiosk. Repeatable.")
@click.option("--devices", "devices_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="A TOML file of [[device]] tables with id and kind, added to --device.")
@click.option("--hall-server", "hall_servers", multiple=True, metavar="NAME",
              help="A hall server user to issue a certificate for, one per hall server instance "
                   "(the broker uses it as the client id). Repeatable. Default: hall-server.")
@click.option("--revoke", "revoke", multiple=True, metavar="ID",
              help="Revoke a device: drop it from the ACL and put its certificate on the CRL. "
                   "Given with --device for the same id, issue it a new key and certificate.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port of the TLS listener. Default: as before, or 8883.")
@click.option("--bind", default=None, metavar="ADDR",
              help="Address the listener binds to. Default: as before, or every interface.")
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="A DNS name or IP address devices use to reach the broker, put in the server "
                   "certificate. Repeatable. Default: as before, or localhost and 127.0.0.1.")
@click.option("--days", type=click.IntRange(1, 36500), default=DEFAULT_DAYS, show_default=True,
              help="Validity of the certificates issued by this run. The CA is valid for 10 years.")
@click.option("--run-as", "run_as", default=None, metavar="USER",
              help="Account Mosquitto switches to when started as root (a 'user' line). "
                   "Mosquitto's own default is 'mosquitto'.")
@click.option("--broker-dir", "broker_dir", default=None, metavar="PATH",
              help="Where the directory will be on the broker host, for the paths in "
                   "mosquitto.conf. Default: --out.")
@click.option("--max-queued", "max_queued", type=click.IntRange(1), default=None,
              help="Messages the broker keeps for one offline or slow client before it drops "
                   "(max_queued_messages). Default: as before, or 100000.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object describing the configuration instead of text.")
def broker_config(hall, out_dir, device_specs, devices_file, hall_servers, revoke, port, bind,
                  hosts, days, run_as, broker_dir, max_queued, as_json):
    """Write a Mosquitto 2.x configuration for one hall.

    Writes, in --out: a CA, a server certificate, a client certificate and
    key per device and per hall server user (common name = user name), a
    CRL, an ACL that lets each device publish only its own records and
    status and read only its own ack, resend and command topics, and a
    mosquitto.conf with a TLS listener that requires client certificates.
    Run it with `mosquitto -c DIR/mosquitto.conf`. See docs/broker.md.
    """
    try:
        devices = [parse_device(spec) for spec in device_specs]
        if devices_file:
            devices += load_devices_file(devices_file)
        config = write_broker_config(
            out_dir, hall, devices, port=port, hosts=list(hosts) or None, bind=bind, days=days,
            hall_servers=hall_servers, revoke=revoke, run_as=run_as, broker_dir=broker_dir,
            max_queued_messages=max_queued,
        )
    except BrokerConfigError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(config.summary(), ensure_ascii=False))
        return
    issued = [c for c in config.clients.values() if c.issued_now]
    click.echo("hall %s: Mosquitto configuration in %s%s" % (
        config.hall, config.out_dir, " (new CA)" if config.ca_created else ""))
    click.echo("  run:     mosquitto -c %s" % config.conf)
    click.echo("  listens: %s:%d, TLS with client certificates, for %s" % (
        config.bind or "*", config.port, ", ".join(config.hosts)))
    for client in issued:
        click.echo("  issued:  %s (%s) %s %s" % (client.user, client.kind, client.cert, client.key))
    for device_id in config.revoked_now:
        click.echo("  revoked: %s (reload Mosquitto, SIGHUP, to apply the ACL and CRL)" % device_id)
    kept = len(config.clients) - len(issued)
    click.echo("  users:   %d devices, %d hall server (%d kept as they were)" % (
        len(config.devices), len(config.hall_servers), kept))


def _open(db, create=False):
    try:
        return open_store(db, create=create)
    except StoreError as exc:
        _fail(exc)


def _utc(ms):
    if ms is None:
        return "-"
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@cli.command("serve")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="SQLite database file, or a postgresql:// URL; tables created if missing. "
                   "See docs/hall.md.")
@click.option("--hall-key", "key_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="The hall's signing key, created if missing. Default: PATH.key beside a SQLite "
                   "database; required with a postgresql:// URL.")
@click.option("--hall", "hall", required=True, metavar="ID", help="Hall id, as given to broker-config.")
@click.option("--broker", "broker", required=True, metavar="HOST:PORT", help="The hall's Mosquitto TLS listener.")
@click.option("--tls-dir", "tls_dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="The directory broker-config wrote: ca.crt and clients/USER.crt, clients/USER.key.")
@click.option("--user", "user", default="hall-server", show_default=True, metavar="NAME",
              help="Broker user: whose certificate to use, also the MQTT client id.")
@click.option("--shared-group", "shared_group", default=None, metavar="NAME",
              help="Subscribe as $share/NAME/... so several hall server instances share the records.")
@click.option("--batch", "batch_max", type=click.IntRange(1, 100000), default=200, show_default=True,
              help="Commit after at most this many messages.")
@click.option("--batch-ms", "batch_ms", type=click.IntRange(0, 10000), default=20, show_default=True,
              help="Commit at most this long after the first message of a batch.")
@click.option("--stats-s", "stats_s", type=click.FloatRange(0), default=60.0, show_default=True,
              help="Seconds between progress lines on standard error; 0 for none.")
@click.option("--session-expiry-s", "session_expiry_s", type=click.IntRange(0), default=3600, show_default=True,
              help="How long the broker keeps this server's session and queues records while it is "
                   "away; 0 starts clean every time.")
def serve_command(db, key_path, hall, broker, tls_dir, user, shared_group, batch_max, batch_ms, stats_s,
                  session_expiry_s):
    """Receive, check and store the hall's records; ack and request resends.

    Subscribes to every record topic of the hall, verifies each record
    (enrolled device, signature, topic, hash chain), stores it once, commits,
    and only then publishes a signed ack; requests resends of gaps;
    quarantines what it cannot accept. Stops cleanly on SIGTERM or SIGINT.
    """
    try:
        serve(db, hall, broker, tls_dir, user=user, shared_group=shared_group, batch_max=batch_max,
              batch_ms=batch_ms, stats_s=stats_s, session_expiry_s=session_expiry_s, key_path=key_path)
    except (ServeError, StoreError, KeyFileError, TopicError) as exc:
        _fail(exc)


@cli.command("enrol")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="The hall's database: SQLite file or postgresql:// URL; created if missing.")
@click.option("--kind", "kind", required=True, type=click.Choice(["concentrator", "kiosk"]),
              help="What the device is; it publishes under this kind's topics.")
@click.option("--key", "key", required=True, metavar="PUBLIC-KEY",
              help="The device's public key as `concentrator identity show` prints it: base64, hex or PEM "
                   "(or @FILE to read it from a file).")
@click.option("--note", "note", default=None, metavar="TEXT", help="A free note (where it is, serial number).")
@click.argument("device_id", metavar="DEVICE-ID")
def enrol(db, kind, key, note, device_id):
    """Enrol a device, or give an enrolled device a new key.

    Records are accepted only from enrolled devices, signed with the key given here.
    """
    if not is_identifier(device_id):
        raise click.ClickException("device id %r: expected a-z, 0-9 and '-', 1 to 63 characters" % device_id)
    source = "--key"
    if key.startswith("@"):
        source = key[1:]
        try:
            key = Path(source).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise click.ClickException("cannot read %s: %s" % (source, exc.strerror)) from exc
    try:
        raw = raw_public_key(parse_public_key(key, source))
    except BadKey as exc:
        _fail(exc)
    with _open(db, create=True) as store:
        try:
            new = store.enrol(device_id, kind, raw, now_ms(), note)
        except StoreError as exc:
            _fail(exc)
    click.echo("%s %s (%s) %s" % ("enrolled" if new else "re-keyed", device_id, kind, fingerprint(raw)))


@cli.command("devices")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="The hall's database: SQLite file or postgresql:// URL.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per device, one a line.")
def devices(db, as_json):
    """List enrolled devices with what the hall has stored from each.

    Per epoch: records stored, last seq, high-water mark (every seq up to it
    is stored) and the seq ranges missing between the first and last stored.
    """
    with _open(db) as store:
        rows = [(d, store.epochs(d.id)) for d in store.devices()]
    for device, epochs in rows:
        seen = max((e["last_seen_ms"] for e in epochs), default=None)
        if as_json:
            click.echo(json.dumps({"id": device.id, "kind": device.kind, "fingerprint": fingerprint(device.public_key),
                                   "enrolled_ms": device.enrolled_ms, "note": device.note, "last_seen_ms": seen,
                                   "epochs": [dict(e, gaps=[list(g) for g in e["gaps"]]) for e in epochs]}))
            continue
        click.echo("%s  %s  %s  last seen %s%s" % (device.id, device.kind, fingerprint(device.public_key),
                                                    _utc(seen), "  (%s)" % device.note if device.note else ""))
        for e in epochs:
            gaps = ", ".join("%d-%d" % g if g[0] != g[1] else "%d" % g[0] for g in e["gaps"]) or "none"
            click.echo("  epoch %d: %d records, last seq %d, hw %d, gaps %s"
                       % (e["epoch"], e["count"], e["last"], e["hw"], gaps))
    if not rows and not as_json:
        click.echo("no devices enrolled")


@cli.command("quarantine")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="The hall's database: SQLite file or postgresql:// URL.")
@click.option("--limit", "limit", type=click.IntRange(1), default=50, show_default=True,
              help="Show at most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per entry, one a line.")
def quarantine(db, limit, as_json):
    """List messages the hall refused, newest first: time, topic, claimed source, reason, detail."""
    with _open(db) as store:
        rows = store.quarantine(limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo("%s  %s  %s  %s: %s" % (_utc(row["received_ms"]), row["topic"], row["src"] or "-",
                                               row["reason"], row["detail"]))
    if not rows and not as_json:
        click.echo("quarantine is empty")


@cli.command("records")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="The hall's database: SQLite file or postgresql:// URL.")
@click.option("--device", "device", default=None, metavar="ID", help="Only this device's records.")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="Only records of this kind (reading, frozen, anomaly, payment, ...); repeat for several.")
@click.option("--cycle", "cycle", default=None, metavar="ID",
              help="Only records whose body names this cycle (readings, frozen values, anomalies, cycle "
                   "summaries, on-demand answers od-<id>, searches sr-<id>).")
@click.option("--since-h", "since_h", type=click.FloatRange(0, min_open=True), default=None, metavar="HOURS",
              help="Only records received in the last HOURS hours.")
@click.option("--limit", "limit", type=click.IntRange(1), default=50, show_default=True,
              help="Show at most this many, newest first.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per record, one a line: src, epoch, seq, kind, t_ms, tq, "
                   "received_ms, body.")
def records(db, device, kinds, cycle, since_h, limit, as_json):
    """List stored records, newest first: received time, device, epoch/seq, kind and body.

    Each record is shown as the hall stored it after verification; account
    numbers were masked by the device and never reach the hall in clear.
    """
    if device is not None and not is_identifier(device):
        raise click.ClickException("device id %r: expected a-z, 0-9 and '-', 1 to 63 characters" % device)
    since_ms = None if since_h is None else now_ms() - int(since_h * 3600 * 1000)
    with _open(db) as store:
        try:
            rows = store.find(device, kinds, since_ms, None if cycle is not None else limit)
        except StoreError as exc:
            _fail(exc)
    if cycle is not None:
        rows = [r for r in rows if isinstance(r["body"], dict) and r["body"].get("cycle") == cycle][:limit]
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
            continue
        body = json.dumps(row["body"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if len(body) > 200:
            body = body[:199] + "…"
        click.echo("%s  %s  %d/%d  %s  %s" % (_utc(row["received_ms"]), row["src"], row["epoch"], row["seq"],
                                             row["kind"], body))
    if not rows and not as_json:
        click.echo("no records match")


@cli.command("key")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="The hall's database; the key is PATH.key, created if missing.")
@click.option("--hall-key", "key_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="The key file instead of PATH.key; required with a postgresql:// URL "
                   "(the database is not opened).")
def key(db, key_path):
    """Print the hall's public key, for `concentrator identity trust-hall` on each device."""
    try:
        private, created = load_hall_key(db, key_path=key_path)
    except KeyFileError as exc:
        _fail(exc)
    public = private.public_key()
    click.echo(public_key_text(public))
    click.echo("fingerprint %s%s" % (fingerprint(raw_public_key(public)),
                                     " (new key %s)" % hall_key_path(db, key_path) if created else ""), err=True)


@cli.group("command")
def command():
    """Send signed commands to a device and show its answer."""


@command.command("read")
@click.option("--device", "device", required=True, metavar="ID", help="The concentrator to ask.")
@click.option("--meter", "meter", required=True, metavar="ADDRESS",
              help="The meter's 12-digit address, as in the concentrator's archive.")
@click.option("--item", "items", required=True, multiple=True, metavar="NAME",
              help="An item to read, named as for the meter's protocol (forward_active_total, voltage_a, ...). "
                   "Repeatable, up to 32.")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
              help="The database `hall serve` stores into; the answer is looked for there.")
@click.option("--hall-key", "key_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="The hall's signing key. Default: PATH.key beside a SQLite database; required with a "
                   "postgresql:// URL. It must exist: devices trust only it.")
@click.option("--hall", "hall", required=True, metavar="ID", help="Hall id, as given to broker-config.")
@click.option("--broker", "broker", required=True, metavar="HOST:PORT", help="The hall's Mosquitto TLS listener.")
@click.option("--tls-dir", "tls_dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="The directory broker-config wrote: ca.crt and clients/USER.crt, clients/USER.key.")
@click.option("--user", "user", default=DEFAULT_USER, show_default=True, metavar="NAME",
              help="Broker user: whose certificate to use, also the MQTT client id. Not the one `hall serve` "
                   "uses, which it would push off the broker.")
@click.option("--wait", "wait_s", type=click.FloatRange(0, 3600), default=DEFAULT_WAIT_S, show_default=True,
              metavar="SECONDS",
              help="Seconds to wait for the answer in the database; 0 sends and returns.")
def command_read(device, meter, items, db, key_path, hall, broker, tls_dir, user, wait_s):
    """Ask a concentrator to read a meter now, and print the values it sends back.

    Signs a read-meter command with the hall key and publishes it on the
    device's command topic (QoS 1). The concentrator reads the meter ahead
    of its reading cycle and answers with readings of cycle od-ID, which
    `hall serve` stores; this waits for them to appear in --db. A meter or
    item the concentrator does not know is answered with a command-refused
    event, shown as the error. Exits 1 when anything was not read.
    """
    try:
        address = parse_broker(broker)
    except ServeError as exc:
        _fail(exc)
    with _open(db) as store:
        try:
            command_id, status, sent_ms = send_read(db, hall, device, meter, list(items), address, tls_dir, user=user,
                                                    key_path=key_path, store=store)
        except (CommandError, KeyFileError, StoreError, TopicError) as exc:
            _fail(exc)
        click.echo("sent command %s to %s: read %s %s" % (command_id, device, meter, " ".join(items)))
        if wait_s == 0:
            click.echo("not waiting; the values will be stored as readings of cycle od-%s" % command_id)
            return
        try:
            answer = wait_answer(store, device, Answer(command_id, items), sent_ms, wait_s)
        except StoreError as exc:
            _fail(exc)
    for line in answer_lines(answer):
        click.echo(line)
    if answer.whole is not None:
        what = "refused" if answer.whole["code"] == "command-refused" else "could not run"
        raise click.ClickException("%s %s the command: %s" % (device, what, answer.whole.get("detail", "")))
    if answer.missing:
        seen = "its status is %s" % status.get("state") if status else "the broker holds no status for it"
        raise click.ClickException(
            "no answer from %s within %g s for %s (command %s); check that `hall serve` stores into %s and that "
            "the concentrator's agent runs (%s); a late answer is stored as readings of cycle od-%s"
            % (device, wait_s, ", ".join(answer.missing), command_id, db, seen, command_id))
    if answer.failed:
        raise click.ClickException("%d of %d items not read" % (len(answer.failed), len(answer.items)))


def _common_command_options(func):
    """--db, --hall-key, --hall, --broker, --tls-dir and --user, as ``command read`` has them."""
    for option in reversed([
        click.option("--db", "db", required=True, type=click.Path(dir_okay=False), metavar="PATH|URL",
                     help="The database `hall serve` stores into; the answer is looked for there."),
        click.option("--hall-key", "key_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
                     help="The hall's signing key. Default: PATH.key beside a SQLite database; required with a "
                          "postgresql:// URL. It must exist: devices trust only it."),
        click.option("--hall", "hall", required=True, metavar="ID", help="Hall id, as given to broker-config."),
        click.option("--broker", "broker", required=True, metavar="HOST:PORT",
                     help="The hall's Mosquitto TLS listener."),
        click.option("--tls-dir", "tls_dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
                     help="The directory broker-config wrote: ca.crt and clients/USER.crt, clients/USER.key."),
        click.option("--user", "user", default=DEFAULT_USER, show_default=True, metavar="NAME",
                     help="Broker user: whose certificate to use, also the MQTT client id. Not the one "
                          "`hall serve` uses, which it would push off the broker."),
    ]):
        func = option(func)
    return func


@command.command("search")
@click.option("--device", "device", required=True, metavar="ID", help="The concentrator to ask.")
@click.option("--line", "line", required=True, metavar="NAME",
              help="The DL/T 645 line to search, named as in the concentrator's archive (line1, ...).")
@_common_command_options
@click.option("--wait", "wait_s", type=click.FloatRange(0, 7200), default=DEFAULT_SEARCH_WAIT_S, show_default=True,
              metavar="SECONDS",
              help="Seconds to wait for the answer in the database; 0 sends and returns. A search of many meters "
                   "holds the line for minutes.")
def command_search(device, line, db, key_path, hall, broker, tls_dir, user, wait_s):
    """Ask a concentrator to search a line for every meter on it, and print what it found.

    Signs a search-line command with the hall key and publishes it on the
    device's command topic (QoS 1). The concentrator runs a wildcard search
    of the line (DL/T 645) between two reads, compares the meters that
    answered with its archive and answers with a line-search event and the
    anomaly records it raised or cleared: meter-without-record for a meter
    on the line that is not in the archive, record-without-meter for an
    archive meter not found. Exits 1 when the search was refused, failed or
    not answered in time.
    """
    try:
        address = parse_broker(broker)
    except ServeError as exc:
        _fail(exc)
    with _open(db) as store:
        try:
            command_id, status, sent_ms = send_search(db, hall, device, line, address, tls_dir, user=user,
                                                      key_path=key_path, store=store)
        except (CommandError, KeyFileError, StoreError, TopicError) as exc:
            _fail(exc)
        click.echo("sent command %s to %s: search line %s" % (command_id, device, line))
        if wait_s == 0:
            click.echo("not waiting; the answer will be stored as an event whose detail starts with "
                       "\"command %s:\"" % command_id)
            return
        try:
            answer = wait_answer(store, device, SearchAnswer(command_id), sent_ms, wait_s)
        except StoreError as exc:
            _fail(exc)
    if answer.whole is not None:
        what = "refused" if answer.whole["code"] == "command-refused" else "could not run"
        raise click.ClickException("%s %s the command: %s" % (device, what, answer.whole.get("detail", "")))
    if answer.summary is None:
        seen = "its status is %s" % status.get("state") if status else "the broker holds no status for it"
        raise click.ClickException(
            "no answer from %s within %g s (command %s); check that `hall serve` stores into %s and that the "
            "concentrator's agent runs (%s); a late answer is stored as a line-search event"
            % (device, wait_s, command_id, db, seen))
    click.echo(answer.summary["detail"].split(": ", 1)[1])
    for body in answer.anomalies:
        click.echo("%s %s %s: %s" % (body["code"], body["state"], body["meter"], body["detail"]))
    if len(answer.anomalies) < answer.expected_anomalies:
        click.echo("(%d of %d anomaly records stored so far)" % (len(answer.anomalies), answer.expected_anomalies))
