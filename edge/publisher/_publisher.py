"""The publisher: drains the outbox to the hall's broker and applies the hall's controls.

One loop, on one thread (``start`` runs it in the background, ``run`` in the
caller's): connect, then repeatedly poll the MQTT link, handle what came in,
and hand the next records to the broker. Everything paho does happens inside
``MqttLink.poll`` on that thread, so the state needs no lock of its own; only
``figures`` and ``stop`` are called from other threads.

Protocol: MQTT 5 with clean start and no session kept. MQTT 5 because its
PUBACK carries a reason code, so a refused publish (0x87 not authorized) is
seen instead of silently dropped as over MQTT 3.1.1. No session, because
nothing in one is worth keeping: unacked records are re-sent from the outbox
after every reconnect (``Outbox.on_reconnect``), the hall re-acks whatever it
receives, and Mosquitto 2.0.11 loses MQTT 5 sessions on restart anyway. A
command sent while the device is offline is therefore not delivered; the hall
must send it again (see docs/records.md, "Status messages").

On each session: SUBSCRIBE to the ack, resend and command topics, PUBLISH the
retained birth message, then the records, in order, at QoS 1, at most
``max_inflight`` without a PUBACK. The CONNECT carries the retained last will
(offline, "lost"); ``stop`` publishes offline "stopped" and disconnects
cleanly, so the broker drops the will.
"""

import logging
import random as _random
import threading
import time

from protocols.records import RecordError, verify_control
from protocols.topics import TopicError, device_subscriptions, parse_topic, record_topic, status_topic

from .._errors import BrokerRefused, ClientError, ConnectFailed, ConnectionLost, EdgeError, OutboxError, PublisherError
from ..outbox import system_clock
from ._backoff import Backoff
from ._core import FAILURE_REASON, PublisherCore
from ._mqtt import Closed, ConnAck, Message, MqttLink, PubAck, SubAck
from ._replay import CommandGate
from ._status import birth_payload, offline_payload
from ._values import (CommandFailed, Connected, ControlApplied, ControlRefused, Disconnected,
                      Figures, PublishRefused)

log = logging.getLogger("edge.publisher")

# How long to wait for a CONNACK after the TLS handshake, and for the offline
# status's PUBACK on stop: a local broker answers in milliseconds.
_CONNACK_TIMEOUT_S = 10.0
_POLL_S = 0.02
# After the outbox fails to read, wait this long before the next try.
_OUTBOX_RETRY_S = 1.0


class Publisher:
    """Publish an outbox's records to the hall's broker, and apply the hall's controls.

    Args:
        outbox: an ``edge.outbox.Outbox``.
        identity: the device's ``edge.identity.Identity``; it must trust a hall key.
        host, port: the broker.
        tls: (ca, cert, key) file paths: the hall CA and the device's client
            certificate and key, issued for ``identity.device_id``.
        hall: the hall id of the topics (default ``identity.hall_id``).
        max_inflight: the most records handed to the broker without a PUBACK
            (20: Mosquitto's ``max_inflight_messages`` in the hall config).
        client_factory: ``(client_id) -> paho Client``, to replace paho's client.
        clock: ``() -> (t_ms, tq)`` as for the outbox (default: system time, tq
            "none"); used for status times and the command replay rule.
        on_command: ``(control) -> None``, called for each command that passes
            the replay rule, on the publisher's thread.
        on_event: ``(event) -> None`` for ``Connected``, ``Disconnected``,
            ``PublishRefused``, ``ControlApplied``, ``ControlRefused``,
            ``CommandRefused``, ``CommandFailed``.
        backoff_min_s, backoff_max_s: the reconnect delay bounds (``Backoff``).
        random: ``() -> float`` in [0, 1) for the jitter (default ``random.random``).
        command_window_s: W of the replay rule.
        keepalive_s: MQTT keep-alive.
        monotonic: ``() -> seconds`` (default ``time.monotonic``).
        ack_timeout_s: when records the broker accepted wait this long with no
            ack progress, re-send every unacked record. The hall may have
            lost them without seeing a gap: a hall restarted with a clean
            session, or a broker that dropped the tail of a queue.

    Raises:
        IdentityError: the identity trusts no hall key yet.
        ValueError: ``tls`` is not three paths, or ``max_inflight`` is not positive.
    """

    def __init__(self, outbox, identity, host, port, tls, hall=None, max_inflight=20, client_factory=None,
                 clock=None, on_command=None, on_event=None, backoff_min_s=0.5, backoff_max_s=60.0, random=None,
                 command_window_s=600.0, keepalive_s=30, monotonic=None, ack_timeout_s=30.0):
        self._hall_key = identity.require_hall_key()
        if not isinstance(tls, (tuple, list)) or len(tls) != 3:
            raise ValueError("tls must be (ca, cert, key) file paths, got %r" % (tls,))
        self.outbox = outbox
        self.identity = identity
        self.host = host
        self.port = port
        self.tls = tuple(str(p) for p in tls)
        self.hall = hall or identity.hall_id
        self.device = identity.device_id
        self.device_kind = identity.device_kind
        self.status_topic = status_topic(self.hall, self.device)
        self._subscriptions = device_subscriptions(self.hall, self.device)
        self._client_factory = client_factory
        self._clock = clock or system_clock
        self._on_command = on_command
        self._on_event = on_event
        self._keepalive_s = keepalive_s
        self._monotonic = monotonic or time.monotonic
        rand = random or _random.random
        self.core = PublisherCore(max_inflight, Backoff(rand, backoff_min_s, backoff_max_s))
        self.backoff = Backoff(rand, backoff_min_s, backoff_max_s)
        self.gate = CommandGate(int(command_window_s * 1000))
        self._link = None
        self._ready = False            # CONNACK received on the current link
        self._connack_deadline = None
        self._next_attempt = 0.0
        self._status_mids = {}
        self._sub_mid = None
        self._sessions = 0
        self._stopping = threading.Event()
        self._thread = None
        self._lock = threading.Lock()  # guards the counters figures() reads
        self.reconnects = 0
        self.ack_timeouts = 0
        self.ack_timeout_s = ack_timeout_s
        self._ack_wait = None       # (acked_seq, since) while published records wait for an ack
        self.controls_applied = 0
        self.controls_refused = 0
        self.commands_run = 0
        self.commands_refused = 0
        self.last_error = None
        self._running = False

    # ------------------------------------------------------------ lifecycle

    def start(self):
        """Run the loop on a background thread (daemon); returns at once."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("publisher already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name="publisher-%s" % self.device, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s=5.0):
        """Stop the loop: publish the offline status (retained), DISCONNECT, and join the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise PublisherError("publisher thread did not stop within %.1f s" % timeout_s, self.host, self.port)
            self._thread = None

    def run(self):
        """Run the loop in this thread until ``stop`` (from another thread)."""
        self._running = True
        try:
            while not self._stopping.is_set():
                self.step()
            self._shutdown()
        except Exception as exc:
            # A bug, not a network or broker condition (those are handled in step):
            # leave it visible in figures() and the log, then end the loop.
            with self._lock:
                self.last_error = "publisher loop stopped: %r" % exc
            log.exception("publisher %s: loop stopped", self.device)
            raise
        finally:
            self._running = False

    def step(self):
        """One turn of the loop: connect if due, poll, handle events, publish what is next."""
        now = self._monotonic()
        if self._link is None:
            wait_s = self._next_attempt - now
            if wait_s > 0:
                self._stopping.wait(min(wait_s, 0.1))
                return
            self._open(now)
            return
        for event in self._link.poll(_POLL_S):
            self._handle(event)
            if self._link is None:
                return
        now = self._monotonic()
        if not self._ready:
            if now > self._connack_deadline:
                self._lost(ConnectFailed("no CONNACK from broker %s:%d within %.0f s"
                                         % (self.host, self.port, _CONNACK_TIMEOUT_S), self.host, self.port))
            return
        try:
            self._drain(now)
            self._watch_acks(now)
        except ClientError as exc:
            self._lost(exc)
        except OutboxError as exc:
            # The store cannot be read (a failing disk): keep the session for the
            # controls, report, and try the drain again after a pause.
            retry_s = self.core.pause(now, _OUTBOX_RETRY_S)
            with self._lock:
                self.last_error = "cannot read the outbox: %s" % exc
            log.error("publisher %s: %s; retrying in %.1f s", self.device, self.last_error, retry_s)

    # ------------------------------------------------------------ connection

    def _open(self, now):
        will = (self.status_topic, offline_payload(self.device, "lost"))
        try:
            link = MqttLink(self.host, self.port, self.tls, self.device, will, self._keepalive_s,
                            self.core.max_inflight + 10, self._client_factory)
            self._link = link
            link.connect()
        except PublisherError as exc:
            self._lost(exc)
            return
        self._ready = False
        self._connack_deadline = now + _CONNACK_TIMEOUT_S

    def _lost(self, error):
        """End the current link (if any) and schedule the next attempt."""
        if self._link is not None:
            self._link.abort()
            self._link = None
        was_ready = self._ready
        self._ready = False
        self._status_mids.clear()
        self.core.session_lost()
        retry_s = self.backoff.failed(self._monotonic())
        self._next_attempt = self._monotonic() + retry_s
        with self._lock:
            self.last_error = str(error)
        log.log(logging.WARNING if was_ready else logging.INFO, "publisher %s: %s; retrying in %.2f s",
                self.device, error, retry_s)
        self._emit(Disconnected(error, retry_s))

    def _session_up(self):
        now = self._monotonic()
        self._ready = True
        self.backoff.succeeded(now)
        if self._sessions:
            with self._lock:
                self.reconnects += 1
        self._sessions += 1
        # Nothing sent on the previous connection can be trusted to have arrived.
        self.outbox.on_reconnect()
        self._sub_mid = self._link.subscribe(self._subscriptions)
        t_ms, _tq = self._clock()
        mid = self._link.publish(self.status_topic, birth_payload(self.device, self.device_kind,
                                                                  self.outbox.epoch, t_ms), retain=True)
        self._status_mids[mid] = "online"
        log.info("publisher %s: connected to %s:%d", self.device, self.host, self.port)
        self._emit(Connected(self.reconnects))

    def _shutdown(self):
        link = self._link
        if link is None:
            return
        if self._ready:
            try:
                t_ms, _tq = self._clock()
                mid = link.publish(self.status_topic, offline_payload(self.device, "stopped", t_ms), retain=True)
                self._status_mids[mid] = "offline"
                deadline = self._monotonic() + 2.0
                while mid in self._status_mids and not link.closed and self._monotonic() < deadline:
                    for event in link.poll(_POLL_S):
                        if isinstance(event, PubAck):
                            self._on_puback(event)
            except ClientError as exc:
                log.warning("publisher %s: offline status not sent: %s", self.device, exc)
            link.disconnect()
        else:
            link.abort()
        self._link = None
        self._ready = False
        self.core.session_lost()

    # ------------------------------------------------------------ events

    def _handle(self, event):
        if isinstance(event, PubAck):
            self._on_puback(event)
        elif isinstance(event, Message):
            self._on_message(event.topic, event.payload)
        elif isinstance(event, ConnAck):
            if event.code >= FAILURE_REASON:
                self._lost(BrokerRefused("broker %s:%d refused the connection: CONNACK %s (0x%02x)"
                                         % (self.host, self.port, event.reason, event.code), "CONNACK",
                                         event.code, event.reason, None, self.host, self.port))
            else:
                try:
                    self._session_up()
                except ClientError as exc:
                    self._lost(exc)
        elif isinstance(event, SubAck):
            failed = [(f, c) for f, c in zip(self._subscriptions, event.codes) if c >= FAILURE_REASON]
            if failed and event.mid == self._sub_mid:
                topic, code = failed[0]
                error = BrokerRefused("broker refused the subscription to %s: SUBACK 0x%02x" % (topic, code),
                                      "SUBACK", code, "0x%02x" % code, topic, self.host, self.port)
                with self._lock:
                    self.last_error = str(error)
                log.error("publisher %s: %s", self.device, error)
        elif isinstance(event, Closed):
            self._lost(ConnectionLost("connection to broker %s:%d lost: %s" % (self.host, self.port, event.reason),
                                      self.host, self.port))

    def _on_puback(self, event):
        status = self._status_mids.pop(event.mid, None)
        if status is not None:
            if event.code >= FAILURE_REASON:
                with self._lock:
                    self.last_error = ("broker refused the %s status on %s: PUBACK %s (0x%02x)"
                                       % (status, self.status_topic, event.reason, event.code))
                log.error("publisher %s: %s", self.device, self.last_error)
            return
        now = self._monotonic()
        refused = self.core.puback(event.mid, event.code, now)
        if refused is not None:
            item, topic, retry_s = refused
            with self._lock:
                self.last_error = ("broker refused record seq %d on %s: PUBACK %s (0x%02x)"
                                   % (item.seq, topic, event.reason, event.code))
            log.error("publisher %s: %s; pausing %.2f s", self.device, self.last_error, retry_s)
            self._emit(PublishRefused(item.seq, topic, event.code, event.reason, retry_s))
        for done in self.core.completed():
            self.outbox.mark_published(done)

    def _drain(self, now):
        room = self.core.room(now)
        if room <= 0:
            return
        items = self.outbox.next_to_publish(self.core.in_flight + room)
        for item in self.core.plan(items, now):
            if getattr(item, "seq", None) is None:
                # Shed numbers (a Gap): nothing to send until signed gap notices exist (docs/edge.md).
                log.warning("publisher %s: seqs %d..%d of epoch %d were shed, not published",
                            self.device, item.from_seq, item.to_seq, item.epoch)
                self.core.sent(item, None)
                continue
            topic = record_topic(self.hall, self.device_kind, self.device, item.kind)
            self.core.sent(item, self._link.publish(topic, item.data), topic)
        for done in self.core.completed():
            self.outbox.mark_published(done)

    def _watch_acks(self, now):
        """Re-send unacked records when acks stop coming.

        Reconnects and the hall's resend requests cover most losses, but not a
        lost tail: if the hall never sees a record after the ones it lost, it
        sees no gap to ask for. Reading two ints of the outbox core without its
        lock is safe: only this thread moves the cursor, and a stale acked_seq
        only delays the decision by one turn.
        """
        core = self.outbox.core
        acked = core.acked_seq
        if core.cursor <= acked + 1 or self.core.in_flight:
            self._ack_wait = None          # nothing accepted by the broker is waiting for an ack
            return
        if self._ack_wait is None or self._ack_wait[0] != acked:
            self._ack_wait = (acked, now)
            return
        if now - self._ack_wait[1] >= self.ack_timeout_s:
            with self._lock:
                self.ack_timeouts += 1
            log.warning("publisher %s: no ack beyond seq %d for %.0f s; re-sending from seq %d",
                        self.device, acked, now - self._ack_wait[1], acked + 1)
            self.outbox.on_reconnect()
            self._ack_wait = (acked, now)

    # ------------------------------------------------------------ controls

    def _refuse(self, topic, reason, message):
        with self._lock:
            self.controls_refused += 1
        log.warning("publisher %s: refused control on %s: %s: %s", self.device, topic, reason, message)
        self._emit(ControlRefused(topic, reason, message))

    def _on_message(self, topic, payload):
        try:
            channel = parse_topic(topic).channel
        except TopicError as exc:
            self._refuse(topic, "bad-topic", str(exc))
            return
        try:
            control = verify_control(payload, self._hall_key, self.device, hall=self.hall)
        except RecordError as exc:
            self._refuse(topic, exc.reason, str(exc))
            return
        if control.kind != channel:
            self._refuse(topic, "wrong-channel", "a %s control on the %s topic" % (control.kind, channel))
            return
        if control.kind in ("ack", "resend"):
            try:
                result = self.outbox.apply_control(control)
            except EdgeError as exc:
                with self._lock:
                    self.last_error = "cannot apply %s %r: %s" % (control.kind, control.fields, exc)
                log.error("publisher %s: %s", self.device, self.last_error)
                return
            with self._lock:
                self.controls_applied += 1
            self._emit(ControlApplied(control.kind, dict(control.fields), result))
            return
        self._run_command(control)

    def _run_command(self, control):
        now_ms, tq = self._clock()
        refusal = self.gate.admit(control, now_ms, tq.get("src") != "none")
        if refusal is not None:
            with self._lock:
                self.commands_refused += 1
            log.warning("publisher %s: %s", self.device, refusal.message)
            self._emit(refusal)
            return
        with self._lock:
            self.commands_run += 1
        if self._on_command is None:
            log.warning("publisher %s: command %s (%s) accepted but no on_command handler is set",
                        self.device, control.fields["id"], control.fields["name"])
            return
        try:
            self._on_command(control)
        except Exception as exc:   # a handler's bug must not stop the publisher; it is logged and reported
            log.exception("publisher %s: command %s (%s) failed", self.device, control.fields["id"],
                          control.fields["name"])
            with self._lock:
                self.last_error = "command %s failed: %r" % (control.fields["id"], exc)
            self._emit(CommandFailed(control.fields["id"], control.fields["name"], exc))

    def _emit(self, event):
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:   # an observer's bug must not stop the publisher
                log.exception("publisher %s: on_event handler failed on %r", self.device, event)

    # ------------------------------------------------------------ figures

    @property
    def connected(self):
        return self._ready

    def figures(self):
        """Health figures (a ``Figures``): connection, in flight, rates, counters, outbox depth and age."""
        now = self._monotonic()
        if not self._running:
            state = "stopped"
        elif self._ready:
            paused = self.core.paused_until
            state = "paused" if paused is not None and now < paused else "connected"
        elif self._link is not None:
            state = "connecting"
        else:
            state = "waiting"
        out = {}
        try:
            of = self.outbox.figures()
            out.update(depth_records=of.depth_records, depth_bytes=of.depth_bytes,
                       oldest_unacked_age_s=of.oldest_unacked_age_s, last_seq=of.last_seq, acked_seq=of.acked_seq)
        except EdgeError as exc:
            out["last_error"] = "outbox figures: %s" % exc
        with self._lock:
            return Figures(state=state, connected=self._ready, reconnects=self.reconnects,
                           in_flight=self.core.in_flight, published=self.core.published_total,
                           publish_rate_per_s=self.core.publish_rate(now),
                           refused_publishes=self.core.refused_total, controls_applied=self.controls_applied,
                           controls_refused=self.controls_refused, commands_run=self.commands_run,
                           commands_refused=self.commands_refused, ack_timeouts=self.ack_timeouts,
                           last_error=out.pop("last_error", self.last_error), **out)
