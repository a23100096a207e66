"""The ``hall`` command of the hall server.

Parses options, calls the library, prints results, and maps our errors to
``Error: ...`` (exit 1).
"""

import json

import click

from hall._broker import (DEFAULT_DAYS, BrokerConfigError, load_devices_file, parse_device,
                          write_broker_config)


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
