"""The hall's SQLite store and keys (ARCHITECTURE "Hall server", promise 2: stored once, marks
with the records), and the `hall enrol/devices/quarantine/key` commands."""

import json
import os
import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hall._ingest import Ingest, Quarantined
from hall._keys import (BadKey, KeyFileError, fingerprint, hall_key_path, load_hall_key, parse_public_key,
                        public_key_text, raw_public_key)
from hall._store import StoreError, open_store
from hall.cli import cli
from protocols.records import GENESIS_PREV, encode_record, record_hash
from protocols.topics import record_topic

HALL = "h1"
T0 = 1_790_000_000_000
TQ = {"src": "ntp", "err_ms": 20}
BODY = {"code": "door-open", "severity": "info", "state": "once"}


class Device:
    def __init__(self, name="conc-01", kind="concentrator", epoch=1):
        self.name, self.kind, self.epoch = name, kind, epoch
        self.key = Ed25519PrivateKey.generate()
        self.seq, self.prev = 0, GENESIS_PREV

    def next(self):
        self.seq += 1
        raw = encode_record(self.key, src=self.name, epoch=self.epoch, seq=self.seq, prev=self.prev,
                            t_ms=T0 + self.seq, tq=TQ, kind="event", body=BODY)
        self.prev = record_hash(raw)
        return raw

    @property
    def topic(self):
        return record_topic(HALL, self.kind, self.name, "event")

    @property
    def public_raw(self):
        return raw_public_key(self.key.public_key())


def ingest_for(store):
    def key_for(src):
        d = store.device(src)
        return None if d is None else Ed25519PublicKey.from_public_bytes(d.public_key)

    def kind_for(src):
        d = store.device(src)
        return d.kind if d else None

    ingest = Ingest(HALL, key_for, kind_for, stored_hash=store.stored_hash)
    for mark in store.load_marks():
        ingest.restore(*mark)
    return ingest


@pytest.fixture
def db(tmp_path):
    return tmp_path / "hall.db"


def test_apply_stores_records_and_marks_in_one_transaction(db):
    dev = Device()
    with open_store(db) as store:
        store.enrol(dev.name, dev.kind, dev.public_raw, T0)
        ingest = ingest_for(store)
        events = []
        for _ in range(3):
            events += ingest.receive(dev.topic, dev.next(), T0)
        store.apply(events, T0)
        assert store.load_marks() == [(dev.name, 1, 3, dev.prev)]
        # Replaying the same events (a crash between commit and ack) stores nothing twice.
        store.apply(events, T0)
        assert [r[2] for r in store.records()] == [1, 2, 3]
        assert json.loads(store.records()[0][4]) == BODY
        assert store.stored_hash(dev.name, 1, 2) == record_hash(store.records()[1][5])
        assert store.stored_hash(dev.name, 1, 9) is None
    # Reopened: WAL and the marks survive; a restored ingest sees seq 3 as a duplicate.
    with open_store(db) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        ingest = ingest_for(store)
        dev.seq, dev.prev = 2, record_hash(store.records()[1][5])
        assert type(ingest.receive(dev.topic, dev.next(), T0)[0]).__name__ == "Duplicate"
        assert store.epochs(dev.name)[0] == {"epoch": 1, "count": 3, "first": 1, "last": 3, "hw": 3,
                                             "last_seen_ms": T0, "gaps": []}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """A fresh database of each backend: an SQLite path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "hall.db"
    return request.getfixturevalue("pg_url")


def test_quarantine_keeps_reason_and_caps_the_payload(any_db):
    with open_store(any_db) as store:
        store.apply([Quarantined("hall/h1/x", b"\x00" * 200_000, "too-large", "record of 200000 bytes"),
                     Quarantined("hall/h1/y", b"", "malformed", "empty", "conc-01")], T0)
        rows = store.quarantine()
        assert [r["reason"] for r in rows] == ["malformed", "too-large"]
        assert rows[1]["size"] == 128 * 1024 and "first 131072 kept" in rows[1]["detail"]
        assert len(store.quarantine(limit=1)) == 1


def test_enrol_rekeys_and_refuses_a_kind_change(any_db):
    with open_store(any_db) as store:
        assert store.enrol("conc-01", "concentrator", bytes(32), T0)
        assert not store.enrol("conc-01", "concentrator", bytes(range(32)), T0 + 1)
        assert store.device("conc-01").public_key == bytes(range(32))
        with pytest.raises(StoreError, match="enrolled as concentrator"):
            store.enrol("conc-01", "kiosk", bytes(32), T0)


def test_hall_key_created_0600_and_reused(db):
    key, created = load_hall_key(db)
    assert created and stat.S_IMODE(os.stat(hall_key_path(db)).st_mode) == 0o600
    again, created = load_hall_key(db)
    assert not created and raw_public_key(again.public_key()) == raw_public_key(key.public_key())
    os.chmod(hall_key_path(db), 0o644)
    with pytest.raises(KeyFileError, match="mode 0644"):
        load_hall_key(db)


def test_parse_public_key_forms():
    public = Ed25519PrivateKey.generate().public_key()
    raw = raw_public_key(public)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for text in (public_key_text(public), raw.hex(), pem.decode(), public_key_text(public).rstrip("=")):
        assert raw_public_key(parse_public_key(text)) == raw
    with pytest.raises(BadKey, match="not an Ed25519 public key"):
        parse_public_key("abc")


# ---- CLI -------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_enrol_devices_key_quarantine(db):
    dev = Device()
    key_text = public_key_text(dev.key.public_key())
    result = run("enrol", "--db", db, "--kind", "concentrator", "--key", key_text, "--note", "room 2", dev.name)
    assert result.exit_code == 0, result.output
    assert result.output == "enrolled conc-01 (concentrator) %s\n" % fingerprint(dev.public_raw)
    result = run("enrol", "--db", db, "--kind", "concentrator", "--key", dev.public_raw.hex(), dev.name)
    assert result.output.startswith("re-keyed conc-01")

    with open_store(db) as store:
        ingest = ingest_for(store)
        events = []
        for _ in range(2):
            events += ingest.receive(dev.topic, dev.next(), T0)
        events += ingest.receive(dev.topic, b"\xa0", T0)
        store.apply(events, T0)

    result = run("devices", "--db", db)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "conc-01  concentrator  %s  last seen 2026-09-21 14:13:20" % fingerprint(dev.public_raw),
        "  epoch 1: 2 records, last seq 2, hw 2, gaps none"]
    row = json.loads(run("devices", "--db", db, "--json").output)
    assert row["epochs"][0]["hw"] == 2 and row["fingerprint"] == fingerprint(dev.public_raw)

    result = run("quarantine", "--db", db)
    assert result.exit_code == 0
    line, = result.output.splitlines()
    assert line.startswith("2026-09-21 14:13:20  %s  conc-01  not-cose: " % dev.topic)
    assert json.loads(run("quarantine", "--db", db, "--json", "--limit", 1).output)["reason"] == "not-cose"

    result = CliRunner().invoke(cli, ["key", "--db", str(db)])
    assert result.exit_code == 0
    public = load_hall_key(db)[0].public_key()
    assert public_key_text(public) in result.output


def test_cli_errors(tmp_path, db):
    result = run("enrol", "--db", db, "--kind", "kiosk", "--key", "nonsense", "kiosk-01")
    assert result.exit_code == 1
    assert result.output.startswith("Error: --key is not an Ed25519 public key")
    result = run("enrol", "--db", db, "--kind", "kiosk", "--key", "a" * 64, "Bad_Id")
    assert result.output.startswith("Error: device id 'Bad_Id': expected a-z")
    result = run("devices", "--db", tmp_path / "none.db")
    assert result.exit_code == 1
    assert result.output == "Error: no database at %s; `hall enrol` or `hall serve` creates it\n" % (
        tmp_path / "none.db")
    result = run("quarantine", "--db", tmp_path / "none.db")
    assert result.output.startswith("Error: no database at")
    run("enrol", "--db", db, "--kind", "kiosk", "--key", "a" * 64, "kiosk-01")
    result = run("enrol", "--db", db, "--kind", "concentrator", "--key", "a" * 64, "kiosk-01")
    assert result.output == ("Error: device kiosk-01 is enrolled as kiosk; a device cannot change kind "
                             "(got concentrator)\n")
    load_hall_key(db)
    os.chmod(hall_key_path(db), 0o640)
    result = run("key", "--db", db)
    assert result.exit_code == 1 and "Error: hall key" in result.output and "mode 0640" in result.output


def _signed(dev, kind, body):
    dev.seq += 1
    raw = encode_record(dev.key, src=dev.name, epoch=dev.epoch, seq=dev.seq, prev=dev.prev, t_ms=T0 + dev.seq,
                        tq=TQ, kind=kind, body=body)
    dev.prev = record_hash(raw)
    return record_topic(HALL, dev.kind, dev.name, kind), raw


def _reading(cycle, meter="000000000101"):
    return {"meter": meter, "di": "00010000", "name": "forward_active_total", "value": 12.5, "unit": "kWh",
            "std": "2007", "cycle": cycle, "read_t": T0}


def test_records_command_filters_by_device_kind_and_cycle(any_db):
    """`hall records`: what a collector asks after a cycle or a command (docs/cli.md)."""
    conc, other = Device("conc-01"), Device("conc-02")
    with open_store(any_db) as store:
        for dev in (conc, other):
            store.enrol(dev.name, dev.kind, dev.public_raw, T0)
        ingest = ingest_for(store)
        events = []
        for dev, kind, body in [(conc, "reading", _reading("rt-1")), (conc, "reading", _reading("rt-2")),
                                (conc, "event", BODY), (other, "reading", _reading("rt-1", "000000000202"))]:
            events += ingest.receive(*_signed(dev, kind, body), T0)
        store.apply(events, T0)
    runner = CliRunner()

    def lines(*args):
        result = runner.invoke(cli, ["records", "--db", str(any_db), *args])
        assert result.exit_code == 0, result.output
        return result.output.splitlines()

    assert len(lines()) == 4
    rows = [json.loads(line) for line in lines("--device", "conc-01", "--kind", "reading", "--json")]
    assert [(r["src"], r["seq"], r["body"]["cycle"]) for r in rows] == [("conc-01", 2, "rt-2"), ("conc-01", 1, "rt-1")]
    rows = [json.loads(line) for line in lines("--cycle", "rt-1", "--json")]
    assert sorted(r["body"]["meter"] for r in rows) == ["000000000101", "000000000202"]
    text = lines("--device", "conc-01", "--kind", "event")
    assert len(text) == 1 and "conc-01  1/3  event  " in text[0] and '"code":"door-open"' in text[0]
    assert lines("--kind", "payment") == ["no records match"]
    assert len(lines("--limit", "1")) == 1
    assert lines("--since-h", "1") == ["no records match"]     # all received at T0, months ago
    bad = runner.invoke(cli, ["records", "--db", str(any_db), "--device", "Conc 01"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: device id 'Conc 01': expected a-z")
