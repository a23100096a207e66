"""``hall serve``: the MQTT adapter around ``Ingest`` and the store.

One of the two modules of the hall that import paho (the other, ``_command``,
publishes on-demand commands). It feeds messages to ``Ingest.receive``, writes
what it returns, and publishes acks and resend requests; the decisions are all
in ``hall._ingest``.

Rules:

* Batching: messages are received on paho's thread and queued; the main
  thread takes up to ``batch_max`` of them, or what arrived within
  ``batch_ms`` of the first, runs each through ``Ingest.receive``, and writes
  the whole batch in one transaction.
* Commit before promise: acks (and the MQTT PUBACKs of the batch's
  messages, sent with paho's manual ack) go out only after the commit
  returned. If the commit fails, the in-memory marks are reset from the
  database and the messages are not PUBACKed, so the broker or the device
  sends them again.
* Never crash on input: any exception from a message becomes a quarantine
  entry with reason "hall-error"; only database errors that persist stop
  the service.
* Shared group (several instances on one PostgreSQL database): before each
  write, the chains holding records past a gap catch up with the marks the
  other instances committed (``Ingest.advance``); see docs/hall.md.
* SIGTERM/SIGINT: stop taking messages, write and ack what was taken,
  disconnect.
"""

import queue
import signal
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hall._ingest import Ingest, Quarantined
from hall._keys import hall_key_path, load_hall_key
from hall._store import StoreError, open_store
from protocols.records import encode_control
from protocols.topics import ack_topic, records_subscription, resend_topic, shared_subscription


# Several instances on one shared group (docs/hall.md): a gap is first taken for records another
# instance is committing, so it is requested from the device only after this long, and this
# instance looks at the database's marks this often while it holds records.
SHARED_RESEND_GRACE_MS = 1000
SHARED_GAP_POLL_S = 0.01


class ServeError(Exception):
    """``hall serve`` cannot start or go on (bad options, TLS files, database)."""


class _Keys:
    """Enrolled devices, cached; an unknown id re-reads the table at most once a second so a device
    enrolled while the server runs is picked up without a restart."""

    def __init__(self, store, reload_s=1.0):
        self._store = store
        self._reload_s = reload_s
        self._loaded = 0.0
        self._devices = {}
        self._load()

    def _load(self):
        self._devices = {d.id: (d.kind, Ed25519PublicKey.from_public_bytes(d.public_key))
                         for d in self._store.devices()}
        self._loaded = time.monotonic()

    def _get(self, src):
        found = self._devices.get(src)
        if found is None and time.monotonic() - self._loaded >= self._reload_s:
            self._load()
            found = self._devices.get(src)
        return found

    def public_key_for(self, src):
        found = self._get(src)
        return found[1] if found else None

    def kind_for(self, src):
        found = self._get(src)
        return found[0] if found else None


def parse_broker(text):
    """``HOST:PORT`` -> (host, port). Raises ServeError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ServeError("--broker %r: expected HOST:PORT" % text)
    return host.strip("[]"), int(port)


class Server:
    """One ``hall serve`` instance.

    Args:
        db: SQLite path or ``postgresql://`` URL.
        key_path: the hall's key file; default ``<db>.key`` (required for a URL).
        hall: hall id.
        broker: (host, port).
        tls_dir: directory with ca.crt and clients/USER.crt/.key.
        user: broker user (certificate name and MQTT client id).
        shared_group: subscribe as ``$share/GROUP/...`` to share the records with other instances.
        batch_max, batch_ms: commit after this many messages or this long after the first.
        stats_s: seconds between progress lines (0: none).
        session_expiry_s: MQTT session kept by the broker while the server is away (0: clean start).
        out: where progress lines go.
    """

    def __init__(self, db, hall, broker, tls_dir, user="hall-server", shared_group=None, batch_max=200,
                 batch_ms=20, stats_s=60.0, session_expiry_s=3600, out=None, key_path=None):
        self.hall = hall
        self.out = out or sys.stderr
        self.batch_max = batch_max
        self.batch_ms = batch_ms
        self.stats_s = stats_s
        key_file = hall_key_path(db, key_path)        # first: a URL without --hall-key fails fast
        tls_dir = Path(tls_dir)
        files = (tls_dir / "ca.crt", tls_dir / "clients" / ("%s.crt" % user), tls_dir / "clients" / ("%s.key" % user))
        for f in files:
            if not f.is_file():
                raise ServeError("TLS file %s is missing (write it with `hall broker-config`)" % f)
        self.filter = records_subscription(hall)
        # Other instances store records of the same devices: catch up with their marks.
        self._shared = bool(shared_group)
        if shared_group:
            self.filter = shared_subscription(shared_group, self.filter)
        self.store = open_store(db)
        self.key, created = load_hall_key(db, key_path=key_file)
        self._keys = _Keys(self.store)
        self.ingest = self._new_ingest()
        self._restore()
        self.counters = {"messages": 0, "batches": 0, "acks": 0, "resends": 0}
        self._queue = queue.Queue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
        self.client.tls_set(ca_certs=str(files[0]), certfile=str(files[1]), keyfile=str(files[2]))
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self._broker = broker
        self._session_expiry_s = session_expiry_s
        if created:
            self._say("hall serve: created the hall key %s" % key_file)

    def _new_ingest(self):
        return Ingest(self.hall, self._keys.public_key_for, self._keys.kind_for, stored_hash=self.store.stored_hash,
                      resend_grace_ms=SHARED_RESEND_GRACE_MS if self._shared else 0)

    def _restore(self):
        for src, epoch, hw, head in self.store.load_marks():
            self.ingest.restore(src, epoch, hw, head)

    def _say(self, line):
        print(line, file=self.out, flush=True)

    # ---- paho's thread --------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._say("hall serve: broker refused the connection: %s" % reason_code)
            return
        client.subscribe(self.filter, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        codes = [c for c in reason_codes if c.is_failure]
        if codes:
            self._say("hall serve: subscription to %s refused: %s" % (self.filter, codes[0]))
            return
        self._say("hall serve: subscribed to %s" % self.filter)
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self._stop.is_set():
            self._say("hall serve: disconnected (%s); reconnecting" % reason_code)

    def _on_connect_fail(self, client, userdata):
        self._say("hall serve: cannot reach the broker %s:%d; trying again" % self._broker)

    def _on_message(self, client, userdata, message):
        self._queue.put(message)

    # ---- main thread ------------------------------------------------------------

    def stop(self, *_args):
        self._stop.set()

    def run(self):
        """Connect and serve until ``stop()`` (or SIGTERM/SIGINT when run from the CLI)."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry_s
        # Messages are PUBACKed only after their commit, so this bounds what the broker has in
        # flight to us, and with it our queue: back-pressure instead of unbounded memory.
        props.ReceiveMaximum = min(65535, max(100, 2 * self.batch_max))
        # Asynchronous: a broker that is down (restarting, not yet up at boot) is tried again every
        # 1..30 s by paho's loop, as after a lost connection; the store is ready meanwhile.
        self.client.connect_async(self._broker[0], self._broker[1], clean_start=self._session_expiry_s == 0,
                                  properties=props)
        self.client.loop_start()
        next_stats = time.monotonic() + self.stats_s if self.stats_s else None
        try:
            while not self._stop.is_set():
                # Sharing the records, a gap is usually filled by another instance's commit:
                # look again soon rather than at the next message.
                self._batch(self._take(SHARED_GAP_POLL_S if self._shared and self.ingest.gapped() else 0.1))
                now = time.monotonic()
                if next_stats is not None and now >= next_stats:
                    self._say(self.stats())
                    next_stats = now + self.stats_s
            # Final: what paho already handed us is written and acked before we go.
            self._batch(self._take(0))
            self._say("hall serve: stopped; " + self.stats())
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.store.close()

    def _take(self, wait_s):
        try:
            first = self._queue.get(timeout=wait_s) if wait_s else self._queue.get_nowait()
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_ms / 1000.0
        while len(batch) < self.batch_max:
            left = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _batch(self, messages):
        now_ms = int(time.time() * 1000)
        events = []
        for message in messages:
            events.extend(self._receive(message, now_ms))
        if self._shared:
            events.extend(self._catch_up())
        if messages or events:
            try:
                self.store.apply(events, now_ms)
            except StoreError as exc:
                # The marks moved ahead of the database: go back to it. The messages are not
                # PUBACKed, so they come again (or the device re-sends them).
                self._say("hall serve: commit failed, %d messages not acknowledged: %s" % (len(messages), exc))
                self.ingest = self._new_ingest()
                self._restore()
                time.sleep(0.5)
                return
            if messages:
                self.counters["messages"] += len(messages)
                self.counters["batches"] += 1
            for message in messages:
                if message.qos > 0:
                    self.client.ack(message.mid, message.qos)
        for ack in self.ingest.acks():
            self._control(ack_topic(self.hall, ack.src), ack.src, "ack", {"epoch": ack.epoch, "seq": ack.seq})
            self.counters["acks"] += 1
        for req in self.ingest.resend_requests(now_ms):
            self._control(resend_topic(self.hall, req.src), req.src, "resend",
                          {"epoch": req.epoch, "from_seq": req.from_seq, "to_seq": req.to_seq})
            self.counters["resends"] += 1

    def _catch_up(self):
        """Advance the chains with a gap to the marks other instances committed (shared group)."""
        events = []
        for src, epoch in self.ingest.gapped():
            try:
                mark = self.store.mark(src, epoch)
            except StoreError as exc:
                # Only a shortcut: the gap stays open and is requested again; the commit
                # path deals with a database that stays unusable.
                self._say("hall serve: cannot read the marks of %s epoch %d: %s" % (src, epoch, exc))
                return events
            if mark is not None:
                events.extend(self.ingest.advance(src, epoch, *mark))
        return events

    def _receive(self, message, now_ms):
        raw = bytes(message.payload)
        try:
            topic = message.topic
        except UnicodeDecodeError:          # the broker should refuse these; keep the evidence anyway
            return [Quarantined(repr(bytes(message._topic)), raw, "wrong-topic", "topic is not UTF-8")]
        try:
            return self.ingest.receive(topic, raw, now_ms)
        except Exception as exc:  # never crash on input; keep the evidence
            return [Quarantined(topic, raw, "hall-error", "the hall failed on this message: %r" % exc)]

    def _control(self, topic, device, kind, fields):
        data = encode_control(self.key, hall=self.hall, device=device, kind=kind, fields=fields,
                              t_ms=int(time.time() * 1000))
        self.client.publish(topic, data, qos=1)

    def stats(self):
        c = dict(self.ingest.counters)
        c.update(self.counters)
        return ("messages %(messages)d, stored %(stored)d, duplicates %(duplicates)d, held %(held)d, "
                "let go %(let_go)d, quarantined %(quarantined)d, acks %(acks)d, resends %(resends)d" % c)


def serve(db, hall, broker, tls_dir, **kwargs):
    """Run ``hall serve`` in this process until SIGTERM or SIGINT.

    Raises:
        ServeError, StoreError, KeyFileError: cannot start.
    """
    server = Server(db, hall, parse_broker(broker), tls_dir, **kwargs)
    signal.signal(signal.SIGTERM, server.stop)
    signal.signal(signal.SIGINT, server.stop)
    server.run()
