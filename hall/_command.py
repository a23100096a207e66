"""``hall command read`` and ``hall command search``: send a concentrator a signed command, then wait
for its answer.

The hall signs a ``command`` control ``{id, name: "read-meter", args: {meter,
items}}`` with its key and publishes it at QoS 1 on the device's command
topic. The device answers with ordinary records on its record topics, which
``hall serve`` verifies and stores like any other; this module finds them in
the store (docs/records.md, "On-demand reads"):

* a ``reading`` per item read, whose ``cycle`` is ``od-<id>``;
* an ``event`` with code ``command-failed`` per item that could not be read,
  or one for the whole command;
* an ``event`` with code ``command-refused`` when the device will not run it.

Every such event's detail starts with ``command <id>:``.

``search-line`` (``{id, name: "search-line", args: {line}}``) asks the
concentrator to search one DL/T 645 line for every meter answering on it. It
answers with the ``anomaly`` records the search raised or cleared, whose
``cycle`` is ``sr-<id>``, then one ``event`` with code ``line-search``
summing the search up (or ``command-failed`` / ``command-refused``), whose
detail starts with ``command <id>:`` and ends with ``anomalies: R raised,
C cleared``.

Rules:

* Check before sending: the device must be enrolled as a concentrator, the
  meter a 12-digit address, the items names; the hall key must exist (a new
  key would be one the device does not trust). Nothing is published when a
  check fails.
* The broker keeps no session for devices (docs/records.md, "Status
  messages"), so a command published while the device is offline is lost.
  The device's retained status is read first; an offline device gets no
  command.
* The command goes out under its own broker user (default ``hall-command``),
  never ``hall serve``'s: the broker makes the user name the client id, and
  a second connection of one user would push ``hall serve`` off.
* The id is short (hex ms + 6 random hex digits, 18 characters) so that
  ``od-<id>`` fits a cycle id (64 characters).
"""

import json
import re
import secrets
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hall._keys import load_hall_key
from protocols.records import RecordError, encode_control
from protocols.topics import command_topic, status_topic

READ_METER = "read-meter"
CYCLE_PREFIX = "od-"
REFUSED = "command-refused"
FAILED = "command-failed"
SEARCH_LINE = "search-line"
SEARCH_PREFIX = "sr-"
SEARCHED = "line-search"
DEFAULT_USER = "hall-command"
DEFAULT_WAIT_S = 30.0
# A search holds the line for a probe per wildcard pattern: 101 probes for meters whose
# lowest address bytes differ, about 10,000 for 200 meters whose A0 bytes repeat.
DEFAULT_SEARCH_WAIT_S = 600.0
MAX_ITEMS = 32          # what a concentrator accepts in one command
# How long to listen for the retained status after the subscription is granted: the broker
# sends it at once, so this only covers a slow loop.
STATUS_WAIT_S = 1.0
CONNECT_TIMEOUT_S = 10.0
# Answers are looked up by the time they were stored, with this much slack for a hall
# database written by another host whose clock differs.
_SLACK_MS = 10 * 60 * 1000
_ADDRESS = re.compile(r"[0-9]{12}")
_ITEM = re.compile(r"[A-Za-z0-9_]{1,64}")
_LINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")      # an archive line name
_ANOMALY_COUNTS = re.compile(r"anomalies: ([0-9]+) raised, ([0-9]+) cleared$")


class CommandError(Exception):
    """A command cannot be sent (bad argument, device, key, TLS file, broker)."""


def new_command_id(now_ms, token=None):
    """A fresh command id: ``<ms in hex>-<6 random hex digits>``, e.g. ``19a4e2b1c3f-5e0c1a``."""
    return "%x-%s" % (now_ms, token if token is not None else secrets.token_hex(3))


def read_meter_fields(command_id, meter, items):
    """The body of a ``read-meter`` command.

    Args:
        command_id: the id (``new_command_id``).
        meter: the meter's 12-digit address.
        items: item names (``forward_active_total``, ...), 1 to ``MAX_ITEMS``, distinct.

    Returns:
        ``{"id", "name", "args": {"meter", "items"}}``.

    Raises:
        CommandError: the meter or an item is malformed, or there are no items,
            too many or a repeated one.
    """
    if not isinstance(meter, str) or not _ADDRESS.fullmatch(meter):
        raise CommandError("--meter %r: expected the meter's 12-digit address" % (meter,))
    items = list(items)
    if not 1 <= len(items) <= MAX_ITEMS:
        raise CommandError("--item: give 1 to %d items, got %d" % (MAX_ITEMS, len(items)))
    for item in items:
        if not _ITEM.fullmatch(item):
            raise CommandError("--item %r: expected an item name such as forward_active_total" % (item,))
        if items.count(item) > 1:
            raise CommandError("--item %s is given twice" % item)
    return {"id": command_id, "name": READ_METER, "args": {"meter": meter, "items": items}}


def search_line_fields(command_id, line):
    """The body of a ``search-line`` command.

    Raises:
        CommandError: ``line`` is not an archive line name.
    """
    if not isinstance(line, str) or not _LINE.fullmatch(line):
        raise CommandError("--line %r: expected a line name of the concentrator's archive (letters, digits, "
                           "_ . -, at most 32)" % (line,))
    return {"id": command_id, "name": SEARCH_LINE, "args": {"line": line}}


def tls_files(tls_dir, user):
    """``(ca, cert, key)`` paths of broker user ``user`` in a ``hall broker-config`` directory.

    Raises:
        CommandError: a file is missing; says how to issue it.
    """
    tls_dir = Path(tls_dir)
    files = (tls_dir / "ca.crt", tls_dir / "clients" / ("%s.crt" % user), tls_dir / "clients" / ("%s.key" % user))
    for f in files:
        if not f.is_file():
            raise CommandError("TLS file %s is missing (issue it with `hall broker-config --hall-server %s`)"
                               % (f, user))
    return tuple(str(f) for f in files)


def check_device(store, device):
    """Raise ``CommandError`` unless ``device`` is enrolled in ``store`` as a concentrator."""
    found = store.device(device)
    if found is None:
        raise CommandError("--device %s is not enrolled in %s (see `hall devices`)" % (device, store.path))
    if found.kind != "concentrator":
        raise CommandError("--device %s is a %s; only concentrators read meters" % (device, found.kind))


def sign_command(db, hall, device, fields, now_ms, key_path=None):
    """The signed command bytes; the hall key must exist already.

    Raises:
        KeyFileError: no hall key, or one that cannot be used.
        CommandError: the command does not fit the control schema.
    """
    key, _created = load_hall_key(db, create=False, key_path=key_path)
    try:
        return encode_control(key, hall=hall, device=device, kind="command", fields=fields, t_ms=now_ms)
    except RecordError as exc:
        raise CommandError("cannot make the command: %s" % exc) from exc


class Sender:
    """One short MQTT connection of a hall user: read a device's status, publish a command.

    Args:
        broker: (host, port); files: ``(ca, cert, key)``; user: the broker user
        (the broker makes it the client id).
    """

    def __init__(self, broker, files, user):
        self.broker = broker
        self.user = user
        self._cond = threading.Condition()
        self._connected = None      # None: waiting; else the CONNACK reason code
        self._subscribed = False
        self._status = None
        self._published = {}        # mid -> PUBACK reason code
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        client.tls_set(ca_certs=files[0], certfile=files[1], keyfile=files[2])
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self.client = client

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self._connected = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._subscribed = True
            self._cond.notify_all()

    def _on_message(self, client, userdata, message):
        with self._cond:
            self._status = bytes(message.payload)
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cond:
            self._published[mid] = reason_code
            self._cond.notify_all()

    def _wait(self, predicate, timeout_s, what):
        with self._cond:
            if not self._cond.wait_for(predicate, timeout_s):
                raise CommandError("broker %s:%d: no %s within %.0f s" % (self.broker + (what, timeout_s)))

    def __enter__(self):
        host, port = self.broker
        try:
            self.client.connect(host, port)
        except (OSError, ValueError) as exc:
            raise CommandError("cannot reach the broker %s:%d: %s" % (host, port, exc)) from exc
        self.client.loop_start()
        try:
            self._wait(lambda: self._connected is not None, CONNECT_TIMEOUT_S, "CONNACK")
            if self._connected.is_failure:
                raise CommandError("broker %s:%d refused user %s: %s" % (host, port, self.user, self._connected))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.client.disconnect()
        self.client.loop_stop()

    def status(self, hall, device):
        """The device's retained status as a dict, or None when the broker holds none."""
        self.client.subscribe(status_topic(hall, device), qos=1)
        self._wait(lambda: self._subscribed, CONNECT_TIMEOUT_S, "SUBACK")
        with self._cond:
            self._cond.wait_for(lambda: self._status is not None, STATUS_WAIT_S)
            raw = self._status
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            return {"state": "unreadable", "raw": raw[:64]}

    def publish(self, topic, payload):
        """Publish at QoS 1 and wait for the PUBACK.

        Raises:
            CommandError: no PUBACK in time, or the broker refused the message
                (MQTT 5 reason code, e.g. "Not authorized" when the ACL lacks it).
        """
        info = self.client.publish(topic, payload, qos=1)
        self._wait(lambda: info.mid in self._published, CONNECT_TIMEOUT_S, "PUBACK")
        code = self._published[info.mid]
        if code.is_failure:
            raise CommandError("broker refused the command on %s: %s (may user %s write command topics? "
                               "issue it with `hall broker-config --hall-server %s`)" % (topic, code, self.user,
                                                                                       self.user))


def offline_reason(device, status):
    """None when ``status`` (a retained status dict, or None) allows sending; else why not."""
    if status is None or status.get("state") == "online":
        return None
    why = status.get("why", status.get("state"))
    when = status.get("t")
    since = " since %s" % _utc(when) if isinstance(when, int) else ""
    return ("device %s is offline (%s%s); the broker keeps no commands for it: start its agent or "
            "restore its link, then send again" % (device, why, since))


class Answer:
    """What a device answered to one ``read-meter`` command, from the hall store.

    Attributes:
        readings: {item name: reading body}; failed: {item name: event body};
        whole: the event body that answered the whole command (refused, or
        failed before any read), or None.
    """

    KINDS = ("reading", "event")

    def __init__(self, command_id, items):
        self.command_id = command_id
        self.items = list(items)
        self.readings = {}
        self.failed = {}
        self.whole = None

    @property
    def complete(self):
        """Every item answered, or the whole command."""
        return self.whole is not None or all(i in self.readings or i in self.failed for i in self.items)

    @property
    def missing(self):
        return [i for i in self.items if i not in self.readings and i not in self.failed]

    def take(self, kind, body):
        """Note one stored record of the device if it answers this command."""
        if kind == "reading" and body.get("cycle") == CYCLE_PREFIX + self.command_id:
            self.readings[body.get("name")] = body
            return
        detail = body.get("detail") or ""
        if kind != "event" or body.get("code") not in (REFUSED, FAILED):
            return
        if not detail.startswith("command %s:" % self.command_id):
            return
        for item in self.items:
            if " item %s not read:" % item in detail:
                self.failed[item] = body
                return
        self.whole = body


class SearchAnswer:
    """What a device answered to one ``search-line`` command, from the hall store.

    Attributes:
        summary: the ``line-search`` event body, or None; whole: the event
        body of a refused or failed command, or None; anomalies: the anomaly
        bodies of the search (``cycle`` ``sr-<id>``), in the order stored.
    """

    KINDS = ("event", "anomaly")

    def __init__(self, command_id):
        self.command_id = command_id
        self.summary = None
        self.whole = None
        self.anomalies = []

    @property
    def expected_anomalies(self):
        """How many anomaly records the summary announces (0 before it arrives)."""
        match = _ANOMALY_COUNTS.search(self.summary.get("detail", "")) if self.summary else None
        return int(match.group(1)) + int(match.group(2)) if match else 0

    @property
    def complete(self):
        """Refused or failed, or the summary and every anomaly it announces arrived."""
        return self.whole is not None or (self.summary is not None
                                          and len(self.anomalies) >= self.expected_anomalies)

    def take(self, kind, body):
        """Note one stored record of the device if it answers this command."""
        if kind == "anomaly":
            if body.get("cycle") == SEARCH_PREFIX + self.command_id and body not in self.anomalies:
                self.anomalies.append(body)
            return
        if kind != "event" or not (body.get("detail") or "").startswith("command %s:" % self.command_id):
            return
        if body.get("code") == SEARCHED:
            self.summary = body
        elif body.get("code") in (REFUSED, FAILED):
            self.whole = body


def collect(store, device, answer, since_ms):
    """Fill ``answer`` from the records of ``device`` stored since ``since_ms``. Returns it.

    Raises:
        StoreError: the database cannot be read.
    """
    # The filter on cycle/detail is done here: the store keeps bodies as canonical JSON text
    # in both SQLite and PostgreSQL.
    for kind, body in store.records_since(device, since_ms - _SLACK_MS, answer.KINDS):
        answer.take(kind, json.loads(body))
    return answer


def wait_answer(store, device, answer, since_ms, wait_s, poll_s=0.1):
    """Look for the answer until it is complete or ``wait_s`` passed. Returns ``answer``."""
    deadline = time.monotonic() + wait_s
    while True:
        collect(store, device, answer, since_ms)
        if answer.complete or time.monotonic() >= deadline:
            return answer
        time.sleep(poll_s)


def format_value(value):
    if isinstance(value, dict) and "$hex" in value:
        return "0x" + value["$hex"]
    if isinstance(value, list):
        return "[%s]" % ", ".join(format_value(v) for v in value)
    if value is None:
        return "(none: the meter sent FF)"
    return str(value)


def answer_lines(answer):
    """Readable lines, one per item: ``forward_active_total  12345.67 kWh  read 2026-11-23 02:15:07 UTC``."""
    lines = []
    width = max(len(i) for i in answer.items)
    for item in answer.items:
        if item in answer.readings:
            body = answer.readings[item]
            unit = (" " + body["unit"]) if body.get("unit") else ""
            lines.append("%-*s  %s%s  read %s" % (width, item, format_value(body.get("value")), unit,
                                                 _utc(body.get("read_t"))))
        elif item in answer.failed:
            why = answer.failed[item]["detail"].split(" not read: ", 1)[-1]
            lines.append("%-*s  not read: %s" % (width, item, why))
    return lines


def _utc(ms):
    if not isinstance(ms, int):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def send_read(db, hall, device, meter, items, broker, tls_dir, user=DEFAULT_USER, key_path=None, store=None,
              now_ms=None):
    """Check, sign and publish one ``read-meter`` command.

    Args:
        db: the hall database (for the key path); store: the opened store.
        hall, device, meter, items: what to read where.
        broker: (host, port); tls_dir, user: as ``hall serve``.
        key_path: the hall key file (default ``<db>.key``).
        now_ms: the hall's UTC ms (default now).

    Returns:
        (command id, status dict or None, sent UTC ms).

    Raises:
        CommandError: a bad argument, the device not enrolled or offline, a TLS
            file missing, the broker unreachable or refusing; nothing was sent.
        KeyFileError: no usable hall key.
        StoreError: the database cannot be read.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    command_id = new_command_id(now_ms)
    fields = read_meter_fields(command_id, meter, items)
    return command_id, send_command(db, hall, device, fields, broker, tls_dir, user, key_path, store, now_ms), now_ms


def send_search(db, hall, device, line, broker, tls_dir, user=DEFAULT_USER, key_path=None, store=None, now_ms=None):
    """Check, sign and publish one ``search-line`` command; as ``send_read``.

    Returns:
        (command id, status dict or None, sent UTC ms).

    Raises:
        as ``send_read``; CommandError also for a malformed line name.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    command_id = new_command_id(now_ms)
    fields = search_line_fields(command_id, line)
    return command_id, send_command(db, hall, device, fields, broker, tls_dir, user, key_path, store, now_ms), now_ms


def send_command(db, hall, device, fields, broker, tls_dir, user, key_path, store, now_ms):
    """Check the device, sign ``fields`` and publish them; returns the device's status (or None).

    Raises:
        as ``send_read``.
    """
    check_device(store, device)
    files = tls_files(tls_dir, user)
    payload = sign_command(db, hall, device, fields, now_ms, key_path=key_path)
    with Sender(broker, files, user) as sender:
        status = sender.status(hall, device)
        reason = offline_reason(device, status)
        if reason is not None:
            raise CommandError(reason)
        sender.publish(command_topic(hall, device), payload)
    return status


__all__ = ["Answer", "CommandError", "SearchAnswer", "Sender", "answer_lines", "collect", "new_command_id",
           "read_meter_fields", "search_line_fields", "send_command", "send_read", "send_search", "sign_command",
           "tls_files", "wait_answer", "DEFAULT_SEARCH_WAIT_S", "DEFAULT_USER", "DEFAULT_WAIT_S"]
