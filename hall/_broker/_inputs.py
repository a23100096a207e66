"""What ``hall broker-config`` is given: ids, devices, host names, the devices file.

Ids of halls, devices and hall server users follow the topic scheme's
identifier rule (protocols.topics): they become topic levels, file names and
certificate common names. Host names go into the server certificate.
"""

import dataclasses
import ipaddress
import re
import tomllib
from pathlib import Path

from protocols.topics import DEVICE_KINDS, is_identifier

from hall._broker._errors import BrokerConfigError

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(r"(?=.{1,253}\Z)%s(?:\.%s)*\Z" % (_LABEL, _LABEL))


@dataclasses.dataclass(frozen=True)
class Device:
    """A device to be given a certificate: ``id`` (the CN and MQTT user) and ``kind``."""

    id: str
    kind: str


def check_id(value, what):
    """Raise BrokerConfigError unless ``value`` is a valid hall, device or user id: the topic
    scheme's identifier rule, since ids become topic levels, file names and certificate CNs."""
    if not is_identifier(value):
        raise BrokerConfigError(
            "bad %s %r: expected 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
            % (what, value)
        )


def parse_device(text):
    """``"ID:KIND"`` -> Device. Raises BrokerConfigError."""
    device_id, sep, kind = text.partition(":")
    if not sep:
        raise BrokerConfigError("bad device %r: expected ID:KIND, e.g. conc-01:concentrator" % text)
    return make_device(device_id, kind)


def make_device(device_id, kind):
    check_id(device_id, "device id")
    if kind not in DEVICE_KINDS:
        raise BrokerConfigError(
            "bad kind %r of device %s: expected one of %s" % (kind, device_id, ", ".join(DEVICE_KINDS))
        )
    return Device(device_id, kind)


def load_devices_file(path):
    """Devices from a TOML file of ``[[device]]`` tables with ``id`` and ``kind``.

    Raises:
        BrokerConfigError: unreadable file, bad TOML, unknown keys, bad ids or kinds.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise BrokerConfigError("cannot read devices file %s: %s" % (path, exc.strerror), path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise BrokerConfigError("devices file %s is not TOML: %s" % (path, exc), path) from exc
    extra = sorted(set(data) - {"device"})
    if extra:
        raise BrokerConfigError("devices file %s: unknown key %s; expected [[device]] tables"
                                % (path, extra[0]), path)
    tables = data.get("device", [])
    if not isinstance(tables, list):
        raise BrokerConfigError("devices file %s: 'device' must be [[device]] tables" % path, path)
    devices = []
    for n, table in enumerate(tables, 1):
        where = "devices file %s, device %d" % (path, n)
        if not isinstance(table, dict):
            raise BrokerConfigError("%s: expected a table with id and kind" % where, path)
        unknown = sorted(set(table) - {"id", "kind"})
        missing = [k for k in ("id", "kind") if k not in table]
        if unknown or missing:
            raise BrokerConfigError(
                "%s: %s; expected keys id and kind"
                % (where, "unknown key %s" % unknown[0] if unknown else "no %s" % missing[0]), path)
        try:
            devices.append(make_device(table["id"], table["kind"]))
        except BrokerConfigError as exc:
            raise BrokerConfigError("%s: %s" % (where, exc), path) from exc
    return devices


def check_host(host):
    """Raise BrokerConfigError unless ``host`` is a DNS name or an IP address."""
    if not isinstance(host, str) or not host:
        raise BrokerConfigError("bad host %r: expected a DNS name or an IP address" % (host,))
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if not _HOST.match(host) or host.replace(".", "").isdigit():
        raise BrokerConfigError("bad host %r: expected a DNS name or an IP address" % host)


def check_conf_path(path):
    """Raise BrokerConfigError if ``path`` cannot stand on a line of mosquitto.conf."""
    text = str(path)
    if any(ord(c) < 32 for c in text):
        raise BrokerConfigError("path %r holds a control character; mosquitto.conf cannot name it" % text)


def _positive(name, value):
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise BrokerConfigError("bad %s %r: expected a whole number of at least 1" % (name, value))
    return value


def check_settings(*, port, hosts, bind, run_as, broker_dir, max_queued_messages,
                   max_inflight_messages, autosave_interval_s):
    """Check the broker settings given to one run (None: not given) and return them as a dict
    for broker.json, hosts de-duplicated in order.

    Raises:
        BrokerConfigError: a value that is out of range, or that could not stand on a line of
            mosquitto.conf as it is (a newline would let it add settings of its own).
    """
    if hosts is not None:
        hosts = list(dict.fromkeys(hosts))
        if not hosts:
            raise BrokerConfigError("no host given for the server certificate")
        for host in hosts:
            check_host(host)
    if port is not None and (type(port) is not int or not 0 < port < 65536):
        raise BrokerConfigError("bad port %r: expected 1-65535" % (port,))
    if bind is not None:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            raise BrokerConfigError("bad bind address %r: expected an IP address" % (bind,)) from None
    if run_as is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", run_as):
        raise BrokerConfigError("bad user name %r for the broker to run as" % (run_as,))
    if broker_dir is not None:
        check_conf_path(broker_dir)
        if not Path(broker_dir).is_absolute():
            raise BrokerConfigError("bad broker directory %r: expected an absolute path" % (str(broker_dir),))
        broker_dir = str(Path(broker_dir))
    return {
        "port": port,
        "hosts": hosts,
        "bind": bind,
        "run_as": run_as,
        "broker_dir": broker_dir,
        "max_queued_messages": _positive("max_queued_messages", max_queued_messages),
        "max_inflight_messages": _positive("max_inflight_messages", max_inflight_messages),
        "autosave_interval_s": _positive("autosave_interval_s", autosave_interval_s),
    }
