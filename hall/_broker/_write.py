"""Write, and re-write, the Mosquitto configuration of one hall into a directory.

Invariants:

* The CA is made once. A directory holding only half of it (certificate
  without key or the other way round) is an error, never a reason to make a
  new one: a new CA would lock out every device already in the field.
* A client certificate, once issued, is never replaced by a later run. The
  only way to a new certificate for the same id is to revoke the old one
  (its serial goes to the CRL) and add the id again.
* Everything is checked before anything is written. Files are written whole
  (a temporary file renamed over the old one); private keys are created 0600.
* ``broker.json`` in the directory records the hall, the settings, and each
  user's kind and certificate serial, so a re-run needs only what changed.
  Client keys may be deleted from the directory once they are on their device:
  the serial in ``broker.json`` is all a later revocation needs.

Layout of the directory::

    mosquitto.conf  acl  broker.json
    ca.crt  ca.key  crl.pem  server.crt  server.key
    clients/ID.crt  clients/ID.key      one pair per device and hall server user
    revoked/ID-SERIAL.crt                certificates taken out of use
    data/                                Mosquitto's persistence
"""

import datetime
import json
import os
from pathlib import Path

from protocols.topics import DEVICE_KINDS

from hall._broker import _pki
from hall._broker._errors import BrokerConfigError
from hall._broker._inputs import Device, check_conf_path, check_id, check_settings, make_device
from hall._broker._render import render_acl, render_conf
from hall._broker._result import BrokerConfig, ClientFiles

MANIFEST_FORMAT = 1

DEFAULTS = {
    "port": 8883,
    "bind": None,
    "hosts": ["localhost", "127.0.0.1"],
    "run_as": None,
    "broker_dir": None,
    # Seconds between saves of the broker's state; see the comment in mosquitto.conf.
    "autosave_interval_s": 30,
    "session_expiry": "14d",
    # Per client. A hall server down for an hour behind 50 devices sending a
    # record a second queues 180,000; beyond the bound the hall's gap
    # detection and resend requests bring the rest, so the bound caps memory,
    # not completeness.
    "max_queued_messages": 100000,
    "max_inflight_messages": 20,
    "max_packet_bytes": 1048576,
}
DEFAULT_DAYS = 1825
DEFAULT_HALL_SERVER = "hall-server"


class _Layout:
    def __init__(self, root):
        self.root = root
        self.conf = root / "mosquitto.conf"
        self.acl = root / "acl"
        self.manifest = root / "broker.json"
        self.ca_cert = root / "ca.crt"
        self.ca_key = root / "ca.key"
        self.crl = root / "crl.pem"
        self.server_cert = root / "server.crt"
        self.server_key = root / "server.key"
        self.clients = root / "clients"
        self.revoked = root / "revoked"
        self.data = root / "data"

    def client_cert(self, user):
        return self.clients / ("%s.crt" % user)

    def client_key(self, user):
        return self.clients / ("%s.key" % user)


def _read(path, what, loader):
    try:
        return loader(path.read_bytes())
    except OSError as exc:
        raise BrokerConfigError("cannot read %s %s: %s" % (what, path, exc.strerror), path) from exc
    except ValueError as exc:
        raise BrokerConfigError("%s %s is not readable PEM: %s" % (what, path, exc), path) from exc


def _load_manifest(layout, hall):
    if not layout.manifest.exists():
        return None
    try:
        manifest = json.loads(layout.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BrokerConfigError("cannot read %s: %s" % (layout.manifest, exc), layout.manifest) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BrokerConfigError("%s is not a broker manifest of format %d"
                                % (layout.manifest, MANIFEST_FORMAT), layout.manifest)
    if manifest.get("hall") != hall:
        raise BrokerConfigError("%s holds the broker of hall %s, not %s; use another directory"
                                % (layout.root, manifest.get("hall"), hall), layout.root)
    return manifest


def _load_ca(layout):
    have_cert, have_key = layout.ca_cert.exists(), layout.ca_key.exists()
    if not have_cert and not have_key:
        return None
    if not have_key:
        raise BrokerConfigError(
            "%s exists but its key %s does not; the CA is never made anew (every device trusts it): "
            "restore the key or use a new directory" % (layout.ca_cert, layout.ca_key), layout.ca_key)
    if not have_cert:
        raise BrokerConfigError(
            "%s exists but its certificate %s does not; restore the certificate or use a new directory"
            % (layout.ca_key, layout.ca_cert), layout.ca_cert)
    cert = _read(layout.ca_cert, "CA certificate", _pki.load_cert)
    key = _read(layout.ca_key, "CA key", _pki.load_key)
    if not _pki.key_matches(key, cert):
        raise BrokerConfigError("CA key %s does not belong to %s" % (layout.ca_key, layout.ca_cert),
                                layout.ca_key)
    return key, cert


def _check_dir(root):
    if root.exists() and not root.is_dir():
        raise BrokerConfigError("cannot write to %s: not a directory" % root, root)
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise BrokerConfigError("cannot create %s: %s is not a directory" % (root, probe), root)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BrokerConfigError("cannot write to %s: permission denied" % probe, probe)


def _write_file(path, data, mode):
    """Write ``data`` to ``path`` whole: a temporary file with ``mode`` renamed over it."""
    tmp = path.with_name(".%s.tmp" % path.name)
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            fd = None
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    finally:
        if fd is not None:
            os.close(fd)
    os.replace(tmp, path)


def _settings(previous, given):
    settings = dict(DEFAULTS)
    settings.update((previous or {}).get("settings", {}))
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def write_broker_config(out_dir, hall, devices=(), *, port=None, hosts=None, bind=None,
                        days=DEFAULT_DAYS, hall_servers=(), revoke=(), run_as=None,
                        broker_dir=None, max_queued_messages=None, max_inflight_messages=None,
                        autosave_interval_s=None, now=None):
    """Write (or bring up to date) the Mosquitto configuration of hall ``hall`` in ``out_dir``.

    A re-run keeps the CA and every certificate already issued; it issues
    certificates for new devices and hall server users, re-issues the server
    certificate when ``hosts`` changed, and rewrites the ACL, CRL and config.
    Settings left as None keep their previous value (or the default).

    Args:
        out_dir: directory to write into; created if missing.
        hall: the hall id (a topic level: ``hall/{hall}/...``).
        devices: Device (or ``(id, kind)``) values to add; ones already there are kept.
        port: the TLS listener's port (default 8883).
        hosts: names and IP addresses the server certificate is valid for
            (default localhost and 127.0.0.1); devices must connect by one of them.
        bind: address the listener binds to (default: all).
        days: validity of newly issued server and client certificates.
        hall_servers: hall server user names to add (one per instance, since
            the broker makes the user name the client id); ``hall-server`` when
            the directory has none.
        revoke: device ids whose certificate is revoked: taken out of the ACL,
            serial put on the CRL. An id both revoked and in ``devices`` gets a
            new key and certificate (rotation).
        run_as: a ``user`` line for the config, the account Mosquitto drops to
            when started as root.
        broker_dir: where the directory will be on the broker host, for the
            paths written into mosquitto.conf (default: ``out_dir``, absolute).
        max_queued_messages, max_inflight_messages, autosave_interval_s:
            Mosquitto settings of the same names (see mosquitto.conf).
        now: aware datetime to issue certificates at (default: the clock).

    Returns:
        BrokerConfig with the paths of everything written.

    Raises:
        BrokerConfigError: a bad id, kind or host; a device given twice or
            under another kind than before; a half-present or foreign CA; a
            directory of another hall; an unwritable directory. Raised before
            anything is written.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    check_id(hall, "hall id")
    root = Path(out_dir).absolute()
    layout = _Layout(root)
    _check_dir(root)

    wanted = []
    seen = set()
    for device in devices:
        device = device if isinstance(device, Device) else make_device(*device)
        make_device(device.id, device.kind)
        if device.id in seen:
            raise BrokerConfigError("device %s is given twice" % device.id)
        seen.add(device.id)
        wanted.append(device)
    new_servers = []
    for user in hall_servers:
        check_id(user, "hall server user")
        if user in seen:
            raise BrokerConfigError("%s is given twice (as a device and a hall server user)" % user)
        seen.add(user)
        new_servers.append(user)
    revoke = list(dict.fromkeys(revoke))
    for device_id in revoke:
        check_id(device_id, "device id")
    given = check_settings(port=port, hosts=hosts, bind=bind, run_as=run_as, broker_dir=broker_dir,
                           max_queued_messages=max_queued_messages,
                           max_inflight_messages=max_inflight_messages,
                           autosave_interval_s=autosave_interval_s)
    if days is None or int(days) < 1:
        raise BrokerConfigError("bad validity %r days: expected at least 1" % (days,))
    check_conf_path(root)

    manifest = _load_manifest(layout, hall)
    ca = _load_ca(layout)
    if manifest is not None and ca is None:
        raise BrokerConfigError("%s lists issued certificates but the CA %s is gone; restore it"
                                % (layout.manifest, layout.ca_cert), layout.ca_cert)
    users = dict((manifest or {}).get("users", {}))
    revoked = list((manifest or {}).get("revoked", []))

    for device_id in revoke:
        if device_id not in users or users[device_id]["kind"] not in DEVICE_KINDS:
            raise BrokerConfigError("cannot revoke %s: no such device in %s" % (device_id, root))
    revoking = set(revoke)
    for device in wanted:
        old = users.get(device.id)
        if old is None or device.id in revoking:
            continue
        if old["kind"] != device.kind:
            raise BrokerConfigError(
                "device %s is a %s in %s, not a %s; revoke it first to re-issue it"
                % (device.id, old["kind"], root, device.kind))
    for user in new_servers:
        old = users.get(user)
        if old is not None and old["kind"] != "hall-server":
            raise BrokerConfigError("%s is a %s in %s, not a hall server user" % (user, old["kind"], root))
    if not new_servers and not any(u["kind"] == "hall-server" for u in users.values()):
        if DEFAULT_HALL_SERVER in users or DEFAULT_HALL_SERVER in seen:
            raise BrokerConfigError("device id %s is reserved for the hall server" % DEFAULT_HALL_SERVER)
        new_servers.append(DEFAULT_HALL_SERVER)

    settings = _settings(manifest, given)

    # --- everything checked; make the new material in memory, then write it ---
    files = {}  # path -> (bytes, mode)
    ca_created = ca is None
    if ca is None:
        ca = _pki.new_ca(hall, now)
        files[layout.ca_key] = (_pki.key_pem(ca[0]), 0o600)
        files[layout.ca_cert] = (_pki.cert_pem(ca[1]), 0o644)
    ca_key, ca_cert = ca

    moves = []
    for device_id in revoke:
        entry = users.pop(device_id)
        revoked.append({"id": device_id, "kind": entry["kind"], "serial": entry["serial"],
                        "revoked_at": now.isoformat()})
        cert_path = layout.client_cert(device_id)
        if cert_path.exists():
            moves.append((cert_path, layout.revoked / ("%s-%s.crt" % (device_id, entry["serial"]))))
        moves.append((layout.client_key(device_id), None))

    issued = []
    to_issue = [(d.id, d.kind) for d in wanted if d.id not in users]
    to_issue += [(u, "hall-server") for u in new_servers if u not in users]
    for user, kind in to_issue:
        key, cert = _pki.new_client(ca_key, ca_cert, hall, user, int(days), now)
        files[layout.client_key(user)] = (_pki.key_pem(key), 0o600)
        files[layout.client_cert(user)] = (_pki.cert_pem(cert), 0o644)
        users[user] = {"kind": kind, "serial": "%x" % cert.serial_number,
                       "not_after": cert.not_valid_after_utc.isoformat()}
        issued.append(user)

    if _server_needs_issue(layout, ca_cert, settings["hosts"], now):
        key, cert = _pki.new_server(ca_key, ca_cert, hall, settings["hosts"], int(days), now)
        files[layout.server_key] = (_pki.key_pem(key), 0o600)
        files[layout.server_cert] = (_pki.cert_pem(cert), 0o644)

    crl = _pki.new_crl(ca_key, ca_cert, [int(r["serial"], 16) for r in revoked], now)
    files[layout.crl] = (_pki.crl_pem(crl), 0o644)

    devices_now = {u: e["kind"] for u, e in users.items() if e["kind"] in DEVICE_KINDS}
    servers_now = sorted(u for u, e in users.items() if e["kind"] == "hall-server")
    files[layout.acl] = (render_acl(hall, devices_now, servers_now).encode(), 0o644)
    there = Path(settings["broker_dir"]) if settings["broker_dir"] else root
    broker_paths = {
        "acl": there / "acl", "data": str(there / "data"), "ca": there / "ca.crt",
        "server_cert": there / "server.crt", "server_key": there / "server.key", "crl": there / "crl.pem",
    }
    plan = dict(settings, hall=hall)
    files[layout.conf] = (render_conf(plan, broker_paths).encode(), 0o644)
    new_manifest = {"format": MANIFEST_FORMAT, "hall": hall, "settings": settings,
                    "users": dict(sorted(users.items())), "revoked": revoked}
    files[layout.manifest] = ((json.dumps(new_manifest, indent=2) + "\n").encode(), 0o644)

    try:
        for directory, mode in ((root, 0o755), (layout.clients, 0o700), (layout.data, 0o700)):
            directory.mkdir(mode=mode, parents=True, exist_ok=True)
        for path, target in moves:
            if target is None:
                if path.exists():
                    path.unlink()
            else:
                layout.revoked.mkdir(mode=0o700, exist_ok=True)
                os.replace(path, target)
        # The CA first and the manifest last: a run cut short leaves either
        # nothing new or a CA that the next run picks up.
        order = [layout.ca_key, layout.ca_cert] + [p for p in files if p not in
                                                    (layout.ca_key, layout.ca_cert, layout.manifest)]
        for path in order + [layout.manifest]:
            if path in files:
                data, mode = files[path]
                _write_file(path, data, mode)
    except OSError as exc:
        where = exc.filename or root
        raise BrokerConfigError("cannot write %s: %s" % (where, exc.strerror), Path(where)) from exc

    clients = {}
    for user in sorted(users):
        entry = users[user]
        clients[user] = ClientFiles(user, entry["kind"], layout.client_cert(user), layout.client_key(user),
                                    int(entry["serial"], 16), user in issued)
    return BrokerConfig(
        hall=hall, out_dir=root, conf=layout.conf, acl=layout.acl, manifest=layout.manifest,
        ca_cert=layout.ca_cert, ca_key=layout.ca_key, crl=layout.crl,
        server_cert=layout.server_cert, server_key=layout.server_key, data_dir=layout.data,
        port=settings["port"], bind=settings["bind"], hosts=tuple(settings["hosts"]),
        clients=clients, revoked_now=tuple(revoke), ca_created=ca_created,
    )


def _server_needs_issue(layout, ca_cert, hosts, now):
    """A new server certificate is due when there is none, it is not from this CA, its names
    differ from ``hosts``, its key is gone or does not match, or it expires within 30 days."""
    if not (layout.server_cert.exists() and layout.server_key.exists()):
        return True
    try:
        cert = _pki.load_cert(layout.server_cert.read_bytes())
        key = _pki.load_key(layout.server_key.read_bytes())
    except (OSError, ValueError):
        return True
    return (
        not _pki.issued_by(cert, ca_cert)
        or not _pki.key_matches(key, cert)
        or _pki.server_hosts(cert) != list(hosts)
        or cert.not_valid_after_utc - now < datetime.timedelta(days=30)
    )
