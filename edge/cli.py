"""Device commands shared by the kiosk and concentrator CLIs: ``identity init|show|trust-hall``.

``identity_commands(device_kind)`` builds the click group; each app attaches
it (``cli.add_command(identity_commands("concentrator"), name="identity")``).
Commands parse, call ``edge.identity`` and map ``EdgeError`` to one
``Error: ...`` line (exit 1).
"""

import base64
import json
import os

import click

from ._errors import BadKey, EdgeError
from .identity import create_identity, load_identity, parse_public_key, public_key_bytes, trust_hall


def _fail(exc):
    raise click.ClickException(str(exc)) from exc


def _data_dir_option(f):
    return click.option("--data-dir", required=True, metavar="DIR", type=click.Path(file_okay=False),
                        help="The device's data directory (mode 0700), holding device.key, device.json, "
                             "hall.pub and the epoch file.")(f)


def _describe(identity):
    hall_key = identity.hall_public_key
    return {
        "device_id": identity.device_id,
        "device_kind": identity.device_kind,
        "hall": identity.hall_id,
        "public_key": base64.b64encode(identity.public_key_raw).decode("ascii"),
        "public_key_hex": identity.public_key_raw.hex(),
        "fingerprint": identity.fingerprint,
        "hall_public_key": base64.b64encode(public_key_bytes(hall_key)).decode("ascii") if hall_key else None,
        "hall_fingerprint": identity.hall_fingerprint,
        "epoch": identity.last_epoch(),
        "data_dir": identity.data_dir,
    }


def _show_text(info, device_kind):
    rows = [
        ("device id", info["device_id"]),
        ("device kind", info["device_kind"]),
        ("hall", info["hall"]),
        ("public key", info["public_key"]),
        ("public key (hex)", info["public_key_hex"]),
        ("fingerprint", info["fingerprint"]),
        ("hall key", info["hall_fingerprint"] or "not trusted yet: run `%s identity trust-hall`" % device_kind),
        ("last epoch", str(info["epoch"]) if info["epoch"] else "none yet (the outbox takes 1 when it is created)"),
    ]
    width = max(len(name) for name, _v in rows)
    for name, value in rows:
        click.echo("%s  %s" % ((name + ":").ljust(width + 1), value))


def identity_commands(device_kind):
    """The ``identity`` click group for a device of ``device_kind`` ("concentrator" or "kiosk")."""

    @click.group(name="identity")
    def group():
        """Make and show this device's key pair, and trust the hall's key.

        A device signs every record with its own Ed25519 key, made once by
        `init` and kept in the data directory (0700; files 0600). The hall
        must know the public key (`show` prints it for `hall enrol`), and the
        device keeps the hall's public key (`trust-hall`) to verify the acks,
        resend requests and commands the hall signs.
        """

    @group.command()
    @_data_dir_option
    @click.option("--device-id", required=True, metavar="ID",
                  help="This device's id, chosen by the operator: 1-63 lower-case letters, digits and "
                       "hyphens, starting with a letter or digit (e.g. conc-a1). It names the device in "
                       "records and topics and cannot be changed later.")
    @click.option("--hall", "hall_id", required=True, metavar="HALL",
                  help="The id of the hall this device reports to (same rule as the device id).")
    def init(data_dir, device_id, hall_id):
        """Make the device key pair and device.json; refuses to overwrite an identity.

        Creates the data directory (0700) if needed, writes device.key (the
        private key, PEM, 0600) and device.json, each atomically, and prints
        what `show` prints.
        """
        try:
            identity = create_identity(data_dir, device_id, device_kind, hall_id)
        except EdgeError as exc:
            _fail(exc)
        _show_text(_describe(identity), device_kind)

    @group.command()
    @_data_dir_option
    @click.option("--json", "as_json", is_flag=True,
                  help="Print one JSON object: device_id, device_kind, hall, public_key (base64), "
                       "public_key_hex, fingerprint, hall_public_key, hall_fingerprint, epoch, data_dir.")
    @click.option("--key-only", "key_only", is_flag=True,
                  help="Print only the public key (base64), for `hall enrol --key \"$(... --key-only)\"`.")
    def show(data_dir, as_json, key_only):
        """Print the device id, kind, hall and public key (what `hall enrol` needs).

        The public key is printed as base64 and hex of its 32 raw bytes; the
        fingerprint is SHA256: and the unpadded base64 of its SHA-256, for
        comparing keys by eye or over the phone. Refuses a key file or data
        directory open to other users, naming the chmod that fixes it.
        """
        try:
            identity = load_identity(data_dir, device_kind)
            info = _describe(identity)
        except EdgeError as exc:
            _fail(exc)
        if as_json and key_only:
            raise click.ClickException("--json and --key-only cannot be used together")
        if key_only:
            click.echo(info["public_key"])
        elif as_json:
            click.echo(json.dumps(info, ensure_ascii=False))
        else:
            _show_text(info, device_kind)

    @group.command(name="trust-hall")
    @_data_dir_option
    @click.option("--replace", is_flag=True,
                  help="Replace a different hall key that is already trusted (a hall whose key was "
                       "renewed). Without it, trusting a second key is refused.")
    @click.argument("key", metavar="FILE-or-KEY")
    def trust_hall_command(data_dir, replace, key):
        """Trust the hall's public key: store it as hall.pub.

        FILE-or-KEY is a file (PEM public key, 32 raw bytes, or base64/hex
        text) or the key itself as base64 (44 characters) or hex (64 digits).
        Prints the fingerprint trusted; compare it with the one the hall shows.
        """
        try:
            if os.path.isfile(key):
                try:
                    with open(key, "rb") as f:
                        data = f.read(65536)
                except OSError as exc:
                    raise click.ClickException("cannot read hall key file %s: %s" % (key, exc.strerror)) from exc
                public = parse_public_key(data, "hall key file %s" % key)
            else:
                try:
                    public = parse_public_key(key, "hall key argument")
                except BadKey as exc:
                    if os.sep in key or key.endswith((".pub", ".pem")):
                        raise click.ClickException("%s is neither a file nor a key: no such file, and %s"
                                                   % (key, exc)) from exc
                    raise
            identity = trust_hall(data_dir, public, replace=replace)
        except EdgeError as exc:
            _fail(exc)
        click.echo("trusted hall key %s for hall %s in %s" % (identity.hall_fingerprint, identity.hall_id,
                                                               os.path.join(data_dir, "hall.pub")))

    return group
