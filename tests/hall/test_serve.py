"""`hall serve` against a real Mosquitto and a real SQLite file, run as a subprocess
(ARCHITECTURE "Hall server", promises 2 and 3: stored once and in order, acked after the commit,
gaps requested, everything else quarantined, and the service keeps running)."""

import json
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import HALL
from hall._keys import load_hall_key
from hall._store import open_store
from hall.cli import cli
from protocols.records import verify_control
from protocols.topics import ack_topic, resend_topic
from test_store import T0, Device

REPO = Path(__file__).resolve().parents[2]


class HallServe:
    """``python -m hall serve`` as a subprocess, its standard error read on a thread."""

    def __init__(self, broker, db, *extra, wait=True):
        self.lines = []
        self._cond = threading.Condition()
        args = [sys.executable, "-m", "hall", "serve", "--db", str(db), "--hall", HALL,
                "--broker", "127.0.0.1:%d" % broker.port, "--tls-dir", str(Path(broker.ca).parent),
                "--stats-s", "0", "--batch-ms", "5"] + list(extra)
        if "--session-expiry-s" not in extra:
            args += ["--session-expiry-s", "0"]
        self.process = subprocess.Popen(args, cwd=str(REPO), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()
        if wait:
            self.wait_line("subscribed to")

    def _read(self):
        for line in self.process.stderr:
            with self._cond:
                self.lines.append(line.decode("utf-8", "replace").rstrip())
                self._cond.notify_all()

    def wait_line(self, text, timeout_s=8.0):
        with self._cond:
            ok = self._cond.wait_for(lambda: any(text in line for line in self.lines)
                                     or self.process.poll() is not None, timeout_s)
        assert ok and any(text in line for line in self.lines), "no %r from hall serve: %s" % (text, self.lines)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(10)

    def kill(self):
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def hall(hall_broker, tmp_path):
    """``hall(*extra)`` starts hall serve on a database in tmp_path; stopped after the test."""
    started = []
    db = tmp_path / "hall.db"

    def start(*extra):
        server = HallServe(hall_broker, db, *extra)
        started.append(server)
        return server

    start.db = db
    yield start
    for server in started:
        server.stop()


def enrol(db, *devices):
    with open_store(db) as store:
        for d in devices:
            store.enrol(d.name, d.kind, d.public_raw, 0)


def device_link(connect, dev):
    probe = connect(dev.name)
    assert probe.subscribe(ack_topic(HALL, dev.name)) == [1]
    assert probe.subscribe(resend_topic(HALL, dev.name)) == [1]
    return probe


def controls(probe, db, dev, channel):
    hall_key = load_hall_key(db, create=False)[0].public_key()
    topic = (ack_topic if channel == "ack" else resend_topic)(HALL, dev.name)
    return [verify_control(m.payload, hall_key, dev.name, hall=HALL) for m in probe.received(topic)]


def wait_ack(probe, db, dev, seq, count=None):
    for _ in range(200):
        got = controls(probe, db, dev, "ack")
        if got and got[-1].fields["seq"] == seq and (count is None or len(got) >= count):
            return got
        time.sleep(0.025)
    raise AssertionError("no ack for seq %d; got %r" % (seq, [c.fields for c in controls(probe, db, dev, "ack")]))


def stored_seqs(db, dev):
    with open_store(db) as store:
        return [r[2] for r in store.records(dev.name)]


def test_records_stored_once_in_order_and_acked_with_hall_key(hall, connect):
    dev = Device("conc-01")
    enrol(hall.db, dev)
    server = hall()
    probe = device_link(connect, dev)
    sent = [dev.next() for _ in range(20)]
    for raw in sent:
        probe.publish(dev.topic, raw)
    acks = wait_ack(probe, hall.db, dev, 20)
    assert all(a.kind == "ack" and a.fields["epoch"] == 1 for a in acks)
    assert stored_seqs(hall.db, dev) == list(range(1, 21))
    # A re-send after a lost ack: acked again, not stored twice.
    probe.publish(dev.topic, sent[4])
    wait_ack(probe, hall.db, dev, 20, count=len(acks) + 1)
    assert stored_seqs(hall.db, dev) == list(range(1, 21))
    with open_store(hall.db) as store:
        assert [r[5] for r in store.records(dev.name)] == sent
    assert server.stop() == 0
    assert any("stopped; messages 21, stored 20, duplicates 1" in line for line in server.lines)


def test_gap_gets_a_resend_request_then_fills(hall, connect):
    dev = Device("conc-02")
    enrol(hall.db, dev)
    hall("--shared-group", "halls")
    probe = device_link(connect, dev)
    sent = [dev.next() for _ in range(5)]
    for raw in sent[:2] + sent[3:]:
        probe.publish(dev.topic, raw)
    probe.expect(resend_topic(HALL, dev.name))
    req = controls(probe, hall.db, dev, "resend")[0]
    assert req.fields == {"epoch": 1, "from_seq": 3, "to_seq": 3}
    assert controls(probe, hall.db, dev, "ack")[-1].fields["seq"] == 2
    probe.publish(dev.topic, sent[2])
    wait_ack(probe, hall.db, dev, 5)
    assert stored_seqs(hall.db, dev) == [1, 2, 3, 4, 5]


def test_forged_and_garbage_quarantined_service_keeps_running(hall, connect):
    dev = Device("conc-01")
    stranger = Device("conc-02")            # has broker credentials but is not enrolled here
    enrol(hall.db, dev)
    hall()
    probe = device_link(connect, dev)
    good = dev.next()
    probe.publish(dev.topic, good)
    wait_ack(probe, hall.db, dev, 1)

    forger = Device("conc-01")              # the device's own credentials, the wrong key
    forger.seq, forger.prev = dev.seq, dev.prev
    # A byte of the body changed under the signature (its time, still well-formed and canonical).
    altered = dev.next()
    t_bytes = struct.pack(">Q", T0 + dev.seq)
    assert altered.count(t_bytes) == 1
    altered = altered.replace(t_bytes, struct.pack(">Q", T0 + dev.seq + 1))
    dev.seq, dev.prev = 1, forger.prev
    rogue = connect("conc-02")
    payloads = [
        (probe, dev.topic, forger.next()),                      # bad-signature
        (probe, dev.topic, altered),                            # bad-signature
        (rogue, stranger.topic, stranger.next()),               # unknown-device
        (probe, dev.topic, good[:20]),                          # truncated CBOR
        (probe, dev.topic, b"\x00" * 100_000),                  # 100 KB
        (probe, dev.topic, b""),                                # empty
    ]
    for client, topic, raw in payloads:
        client.publish(topic, raw)
    # Still serving: the next genuine record is stored and acked.
    probe.publish(dev.topic, dev.next())
    wait_ack(probe, hall.db, dev, 2)
    assert stored_seqs(hall.db, dev) == [1, 2]

    result = CliRunner().invoke(cli, ["quarantine", "--db", str(hall.db), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()][::-1]
    assert [r["reason"] for r in rows] == ["bad-signature", "bad-signature", "unknown-device", "truncated",
                                           "too-large", "truncated"]
    assert rows[2]["src"] == "conc-02" and rows[4]["size"] == 100_000
    text = CliRunner().invoke(cli, ["quarantine", "--db", str(hall.db)]).output
    assert "%s  conc-02  unknown-device: " % stranger.topic in text


def test_kill_9_restart_restores_marks(hall, connect):
    dev = Device("kiosk-01", "kiosk")
    enrol(hall.db, dev)
    server = hall("--session-expiry-s", "60")
    probe = device_link(connect, dev)
    sent = [dev.next() for _ in range(8)]
    for raw in sent[:5]:
        probe.publish(dev.topic, raw)
    wait_ack(probe, hall.db, dev, 5)
    server.kill()
    # While the hall is down the broker queues for its session; the device also re-sends 4 and 5.
    for raw in sent[3:7]:
        probe.publish(dev.topic, raw)
    hall("--session-expiry-s", "60")
    wait_ack(probe, hall.db, dev, 7)
    probe.publish(dev.topic, sent[7])
    wait_ack(probe, hall.db, dev, 8)
    assert stored_seqs(hall.db, dev) == list(range(1, 9))
    with open_store(hall.db) as store:
        assert store.load_marks() == [(dev.name, 1, 8, dev.prev)]
        assert store.quarantine() == []


def test_serve_refuses_bad_options(tmp_path):
    runner = CliRunner()
    base = ["serve", "--db", str(tmp_path / "hall.db"), "--hall", HALL, "--tls-dir", str(tmp_path)]
    result = runner.invoke(cli, base + ["--broker", "localhost"])
    assert result.exit_code == 1
    assert result.output == "Error: --broker 'localhost': expected HOST:PORT\n"
    result = runner.invoke(cli, base + ["--broker", "127.0.0.1:1"])
    assert result.output == "Error: TLS file %s is missing (write it with `hall broker-config`)\n" % (
        tmp_path / "ca.crt")


class _Message:
    def __init__(self, topic, payload):
        self.topic, self.payload, self.qos, self.mid = topic, payload, 0, 0


def test_batch_never_raises_on_any_payload(hall_broker, tmp_path):
    """In process, without connecting: whatever arrives, a batch is written and nothing escapes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hall._serve import Server

    dev = Device("conc-01")
    db = tmp_path / "hall.db"
    enrol(db, dev)
    server = Server(db, HALL, ("127.0.0.1", hall_broker.port), Path(hall_broker.ca).parent, stats_s=0)
    seen = []

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=300), st.sampled_from([dev.topic, "hall/h1/kiosk/conc-01/event", "x/y"]))
    def feed(raw, topic):
        server._batch([_Message(topic, raw)])
        seen.append(raw)

    try:
        feed()
        with open_store(db) as store:
            assert len(store.quarantine(limit=10_000)) == len(seen)
            assert store.records() == []
    finally:
        server.store.close()
