"""The publisher against a real Mosquitto (tests/brokers.py), with the hall played by a probe
logged in as ``hall-server``: records arrive in order and verify, signed acks and resends act on
the outbox, forgeries change nothing, a broker killed with SIGKILL loses no record, and the
retained status follows the device (birth, graceful stop, last will)."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodies import reading
from brokers import NOT_AUTHORIZED, free_port, wait_until
from edge.identity import create_identity, trust_hall
from edge.outbox import Outbox
from edge.publisher import (CommandRefused, ConnectFailed, ControlRefused, Disconnected, Publisher, PublishRefused,
                            parse_status)
from protocols.records import encode_control, verify_record
from protocols.topics import (ack_topic, command_topic, parse_topic, records_subscription, resend_topic,
                              status_topic)

HALL = "h1"
DEVICE = "conc-01"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Hall:
    """One broker, one device identity and outbox, the hall's key, and a hall-side probe."""

    def __init__(self, tmp_path, mosquitto):
        self.tmp_path = tmp_path
        self.broker = mosquitto(HALL, [(DEVICE, "concentrator")])
        self.key = Ed25519PrivateKey.generate()
        data_dir = str(tmp_path / "identity")
        create_identity(data_dir, DEVICE, "concentrator", HALL)
        self.identity = trust_hall(data_dir, self.key.public_key())
        self.outbox_path = str(tmp_path / "outbox.db")
        self.outbox = Outbox(self.outbox_path, self.identity)
        self.events = []
        self.commands = []
        self.publisher = None
        self.probe = self.hall_probe()

    def hall_probe(self):
        probe = self.broker.probe("hall-server")
        probe.subscribe(records_subscription(HALL))
        probe.subscribe("hall/%s/status/+" % HALL)
        return probe

    def start(self, **kwargs):
        kwargs.setdefault("on_event", self.events.append)
        kwargs.setdefault("on_command", self.commands.append)
        self.publisher = Publisher(self.outbox, self.identity, "127.0.0.1", self.broker.port,
                                   self.broker.tls_files(DEVICE), **kwargs).start()
        return self.publisher

    def control(self, kind, fields, key=None):
        data = encode_control(key or self.key, hall=HALL, device=DEVICE, kind=kind, fields=fields,
                              t_ms=int(time.time() * 1000))
        topic = {"ack": ack_topic, "resend": resend_topic, "command": command_topic}[kind](HALL, DEVICE)
        return self.probe.publish(topic, data)

    def close(self):
        if self.publisher is not None:
            self.publisher.stop()
        self.outbox.close()


def record_seqs(*probes):
    """Seqs of the records the probes received (each verified), in arrival order, each probe in turn."""
    seqs = []
    for probe in probes:
        for message in probe.received():
            if parse_topic(message.topic).channel == "record":
                seqs.append(verify_record(message.payload, DEVICE_KEYS.get).seq)
    return seqs


DEVICE_KEYS = {}   # what the hall enrolled: device id -> public key


@pytest.fixture
def hall(tmp_path, mosquitto):
    h = Hall(tmp_path, mosquitto)
    DEVICE_KEYS[DEVICE] = h.identity.public_key
    yield h
    h.close()
    DEVICE_KEYS.clear()


def wait_seqs(hall, wanted, *probes, timeout_s=5.0):
    probes = probes or (hall.probe,)
    wait_until(lambda: set(wanted) <= set(record_seqs(*probes)), "records %s..%s at the hall"
               % (min(wanted), max(wanted)), timeout_s)


def test_records_published_in_order_on_their_topics_and_verify(hall):
    hall.outbox.append_many([("reading", reading(i)) for i in range(30)])
    hall.start()
    wait_seqs(hall, range(1, 31))
    records = [m for m in hall.probe.received() if parse_topic(m.topic).channel == "record"]
    assert [m.topic for m in records] == ["hall/h1/concentrator/conc-01/reading"] * 30
    assert record_seqs(hall.probe) == list(range(1, 31))
    wait_until(lambda: hall.publisher.figures().published == 30, "30 PUBACKs")
    figures = hall.publisher.figures()
    assert figures.connected and figures.state == "connected"
    assert figures.depth_records == 30 and figures.in_flight == 0 and figures.publish_rate_per_s > 0
    # Records appended while connected follow, in order.
    hall.outbox.append("reading", reading(99))
    wait_seqs(hall, [31])
    assert record_seqs(hall.probe) == list(range(1, 32))


def test_ack_deletes_covered_records_and_resend_republishes(hall):
    hall.outbox.append_many([("reading", reading(i)) for i in range(10)])
    hall.start()
    wait_seqs(hall, range(1, 11))
    epoch = hall.outbox.epoch
    assert hall.control("ack", {"epoch": epoch, "seq": 6}) in (0, 0x10)
    wait_until(lambda: hall.outbox.figures().acked_seq == 6, "ack applied")
    assert [s for s, _d in hall.outbox.records()] == [7, 8, 9, 10]
    hall.probe.messages.clear()
    hall.control("resend", {"epoch": epoch, "from_seq": 8, "to_seq": 9})
    wait_seqs(hall, [8, 9])
    time.sleep(0.2)
    assert record_seqs(hall.probe) == [8, 9]
    assert hall.publisher.figures().controls_applied == 2


def test_forged_and_misaddressed_controls_change_nothing(hall):
    hall.outbox.append_many([("reading", reading(i)) for i in range(5)])
    hall.start()
    wait_seqs(hall, range(1, 6))
    epoch = hall.outbox.epoch
    hall.control("ack", {"epoch": epoch, "seq": 5}, key=Ed25519PrivateKey.generate())
    hall.probe.publish(ack_topic(HALL, DEVICE), b"not a control")
    other = encode_control(hall.key, hall=HALL, device="conc-02", kind="ack", fields={"epoch": epoch, "seq": 5},
                           t_ms=int(time.time() * 1000))
    hall.probe.publish(ack_topic(HALL, DEVICE), other)
    # A genuine ack published on the resend topic is refused too.
    hall.probe.publish(resend_topic(HALL, DEVICE), encode_control(
        hall.key, hall=HALL, device=DEVICE, kind="ack", fields={"epoch": epoch, "seq": 5}, t_ms=1))
    wait_until(lambda: hall.publisher.figures().controls_refused == 4, "4 refused controls")
    refused = [e.reason for e in hall.events if isinstance(e, ControlRefused)]
    assert refused == ["bad-signature", "truncated", "wrong-recipient", "wrong-channel"]
    assert hall.outbox.figures().acked_seq == 0 and len(hall.outbox.records()) == 5


def test_command_runs_once_and_replay_is_refused(hall):
    hall.start()
    wait_until(lambda: hall.publisher.connected, "connection")
    data = encode_control(hall.key, hall=HALL, device=DEVICE, kind="command",
                          fields={"id": "c-1", "name": "read-meter", "args": {"meter": "202311150042"}},
                          t_ms=int(time.time() * 1000))
    hall.probe.publish(command_topic(HALL, DEVICE), data)
    hall.probe.publish(command_topic(HALL, DEVICE), data)
    wait_until(lambda: hall.publisher.figures().commands_refused == 1, "the replay refused")
    assert [c.fields["id"] for c in hall.commands] == ["c-1"]
    assert [e.reason for e in hall.events if isinstance(e, CommandRefused)] == ["seen"]


def test_refused_publish_is_an_error_and_keeps_the_record(hall):
    # Topics of another hall: the ACL refuses them, and over MQTT 5 the PUBACK says 0x87.
    hall.outbox.append("reading", reading(1))
    hall.start(hall="h9", backoff_min_s=5.0)
    wait_until(lambda: hall.publisher.figures().refused_publishes >= 1, "a refused PUBACK")
    figures = hall.publisher.figures()
    assert figures.state == "paused" and figures.published == 0
    assert "0x%02x" % NOT_AUTHORIZED in figures.last_error
    assert "hall/h9/concentrator/conc-01/reading" in figures.last_error
    refused = [e for e in hall.events if isinstance(e, PublishRefused)]
    assert refused[0].seq == 1 and refused[0].reason_code == NOT_AUTHORIZED and refused[0].retry_s >= 5.0
    assert len(hall.outbox.records()) == 1
    assert record_seqs(hall.probe) == []


def statuses(probe):
    return [(m.retain, parse_status(m.payload)) for m in probe.received(status_topic(HALL, DEVICE))]


def test_status_online_then_offline_on_stop(hall):
    hall.start()
    wait_until(lambda: any(s["state"] == "online" for _r, s in statuses(hall.probe)), "online status")
    online = statuses(hall.probe)[-1][1]
    assert online["device"] == DEVICE and online["device_kind"] == "concentrator"
    assert online["epoch"] == hall.outbox.epoch
    hall.publisher.stop()
    hall.publisher = None
    wait_until(lambda: statuses(hall.probe)[-1][1]["state"] == "offline", "offline status")
    assert statuses(hall.probe)[-1][1]["why"] == "stopped"
    # Retained: a hall server that starts later still reads it.
    late = hall.broker.probe("hall-server")
    late.subscribe("hall/%s/status/+" % HALL)
    late.expect(status_topic(HALL, DEVICE))
    retained, status = statuses(late)[0]
    assert retained and status["state"] == "offline" and status["why"] == "stopped"


def test_broker_killed_and_restarted_while_publishing_loses_nothing(hall):
    total = 150
    # The first retry comes 1 s after the loss, after the test's hall probe is back and subscribed
    # (a real hall asks for what it lacks with a resend; here nothing is ever acked, so the
    # device re-sends everything and the probe must be listening).
    hall.start(backoff_min_s=1.0, max_inflight=10)
    done = threading.Event()

    def produce():
        for i in range(total):
            hall.outbox.append("reading", reading(i))
            time.sleep(0.004)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    wait_until(lambda: len(record_seqs(hall.probe)) >= 30, "30 records before the kill")
    hall.broker.kill()
    before = hall.probe
    wait_until(lambda: not hall.publisher.connected, "the publisher noticing the kill")
    hall.broker.start()
    after = hall.hall_probe()
    assert hall.publisher.figures().reconnects == 0, "the publisher reconnected before the hall probe listened"
    producer.join()
    wait_seqs(hall, range(1, total + 1), before, after, timeout_s=8.0)
    assert hall.publisher.figures().reconnects >= 1
    # After reconnecting the device re-sent from the oldest unacked record, in order.
    resent = record_seqs(after)
    assert resent[0] == 1 and resent[:total] == list(range(1, total + 1))
    # The retained status names the device online again (the birth message is sent on every connect).
    wait_until(lambda: statuses(after) and statuses(after)[-1][1]["state"] == "online", "online after restart")


DEVICE_SCRIPT = textwrap.dedent("""
    import sys, time
    from edge.identity import load_identity
    from edge.outbox import Outbox
    from edge.publisher import Publisher
    data_dir, db, port, ca, cert, key = sys.argv[1:]
    identity = load_identity(data_dir)
    publisher = Publisher(Outbox(db, identity), identity, "127.0.0.1", int(port), (ca, cert, key)).start()
    while not publisher.connected:
        time.sleep(0.01)
    print("connected", flush=True)
    time.sleep(60)
""")


def test_last_will_when_the_device_dies(hall):
    hall.outbox.close()   # the device process owns the outbox
    proc = subprocess.Popen([sys.executable, "-c", DEVICE_SCRIPT, hall.identity.data_dir, hall.outbox_path,
                             str(hall.broker.port), *hall.broker.tls_files(DEVICE)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "connected"
        wait_until(lambda: statuses(hall.probe) and statuses(hall.probe)[-1][1]["state"] == "online", "online")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        wait_until(lambda: statuses(hall.probe)[-1][1]["state"] == "offline", "the last will")
        retained, will = statuses(hall.probe)[-1]
        assert will == {"v": 1, "state": "offline", "device": DEVICE, "why": "lost"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        hall.outbox = Outbox(hall.outbox_path, hall.identity)


def test_no_broker_means_backing_off_with_the_error_in_figures(hall):
    events = []
    publisher = Publisher(hall.outbox, hall.identity, "127.0.0.1", free_port(), hall.broker.tls_files(DEVICE),
                          on_event=events.append, backoff_min_s=0.05, backoff_max_s=0.2).start()
    try:
        wait_until(lambda: len([e for e in events if isinstance(e, Disconnected)]) >= 3, "three failed attempts")
        assert all(isinstance(e.error, ConnectFailed) and 0.05 <= e.retry_s <= 0.2 for e in events)
        figures = publisher.figures()
        assert not figures.connected and figures.state in ("waiting", "connecting")
        assert "cannot connect to broker 127.0.0.1:" in figures.last_error
    finally:
        started = time.monotonic()
        publisher.stop()
        assert time.monotonic() - started < 1.0
    assert publisher.figures().state == "stopped"
