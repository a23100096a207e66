"""The hall's store on a real PostgreSQL server (issue 4): the behaviours of test_store.py, the
same schema as SQLite, writers on several connections storing each record once with marks that
never move back, and `hall serve --db postgresql://...` against a real Mosquitto."""

import json
import os
import re
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from brokers import wait_until
from conftest import HALL
from hall._keys import load_hall_key, public_key_text
from hall._store import SCHEMA, StoreError, open_store
from hall._store_pg import safe_url
from hall.cli import cli
from protocols.records import record_hash, verify_control
from protocols.topics import ack_topic
from test_serve import HallServe, device_link, wait_ack
from test_store import BODY, T0, Device, ingest_for

try:
    import psycopg
except ImportError:
    _reason = "psycopg is not installed; it is in the test extra: pip install -e '.[test]'"
    if os.environ.get("CI"):
        pytest.fail(_reason, pytrace=False)
    pytest.skip(_reason, allow_module_level=True)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def with_password(url, password="s3cret-pw"):
    return url.replace("postgresql://hall@", "postgresql://hall:%s@" % password)


# ---- the store -----------------------------------------------------------------


def test_pg_apply_stores_records_and_marks_in_one_transaction(pg_url):
    dev = Device()
    with open_store(pg_url) as store:
        store.enrol(dev.name, dev.kind, dev.public_raw, T0)
        ingest = ingest_for(store)
        events = []
        for _ in range(3):
            events += ingest.receive(dev.topic, dev.next(), T0)
        store.apply(events, T0)
        assert store.load_marks() == [(dev.name, 1, 3, dev.prev)]
        store.apply(events, T0)                 # a replay after a crash stores nothing twice
        assert [r[2] for r in store.records()] == [1, 2, 3]
        assert json.loads(store.records()[0][4]) == BODY
        assert store.stored_hash(dev.name, 1, 2) == record_hash(store.records()[1][5])
        assert store.stored_hash(dev.name, 1, 9) is None
    with open_store(pg_url) as store:           # reopened: tables kept, a restored ingest sees a duplicate
        ingest = ingest_for(store)
        dev.seq, dev.prev = 2, record_hash(store.records()[1][5])
        assert type(ingest.receive(dev.topic, dev.next(), T0)[0]).__name__ == "Duplicate"
        assert store.epochs(dev.name)[0] == {"epoch": 1, "count": 3, "first": 1, "last": 3, "hw": 3,
                                             "last_seen_ms": T0, "gaps": []}


def test_pg_same_tables_and_columns_as_sqlite(pg_url):
    sqlite = sqlite3.connect(":memory:")
    for statement in SCHEMA:
        sqlite.execute(statement)
    expected = {}
    for table in ("devices", "records", "marks", "quarantine"):
        expected[table] = [(row[1], row[5] > 0) for row in sqlite.execute("PRAGMA table_info(%s)" % table)]
    open_store(pg_url).close()
    with psycopg.connect(pg_url) as connection:
        got = {}
        for table in expected:
            columns = connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                (table,)).fetchall()
            keys = {name for (name,) in connection.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
                (table,)).fetchall()}
            got[table] = [(name, name in keys) for (name,) in columns]
        types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns"
                                        " WHERE table_name = 'records'").fetchall())
    assert got == expected
    assert types["raw"] == "bytea" and types["seq"] == "bigint"


def test_pg_marks_never_move_backwards(pg_url):
    """An instance whose in-memory marks are behind the database stores what it was given
    (ON CONFLICT DO NOTHING) but cannot lower the mark another instance committed."""
    dev = Device()
    with open_store(pg_url) as ahead, open_store(pg_url) as behind:
        ahead.enrol(dev.name, dev.kind, dev.public_raw, T0)
        stale = ingest_for(behind)              # restored before anything was stored
        fresh = ingest_for(ahead)
        raws = [dev.next() for _ in range(5)]
        ahead.apply([e for raw in raws for e in fresh.receive(dev.topic, raw, T0)], T0)
        behind.apply([e for raw in raws[:3] for e in stale.receive(dev.topic, raw, T0)], T0)
        assert ahead.load_marks() == [(dev.name, 1, 5, dev.prev)]
        assert [r[2] for r in behind.records()] == [1, 2, 3, 4, 5]


def test_pg_two_writers_overlapping_batches_store_each_record_once(pg_url):
    """Two connections apply overlapping batches for the same sources at the same time, taking
    the sources in opposite orders: no deadlock, every record once, marks at the last seq."""
    devs = [Device("conc-01"), Device("conc-02")]
    count = 120
    raws = {d.name: [d.next() for _ in range(count)] for d in devs}
    with open_store(pg_url) as store:
        for d in devs:
            store.enrol(d.name, d.kind, d.public_raw, T0)
    errors = []
    barrier = threading.Barrier(2)

    def writer(order, batch):
        try:
            with open_store(pg_url) as store:
                ingest = ingest_for(store)
                for start in range(0, count, batch):
                    events = []
                    for d in order:
                        for raw in raws[d.name][start:start + batch]:
                            events += ingest.receive(d.topic, raw, T0)
                    barrier.wait(10)
                    store.apply(events, T0)
        except Exception as exc:               # reported below, with the thread's reason
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(devs, 10)),
               threading.Thread(target=writer, args=(devs[::-1], 10))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with open_store(pg_url) as store:
        for d in devs:
            assert [r[2] for r in store.records(d.name)] == list(range(1, count + 1))
            assert [r[5] for r in store.records(d.name)] == raws[d.name]
        assert store.load_marks() == [(d.name, 1, count, d.prev) for d in devs]


def test_pg_url_password_never_shown():
    url = "postgresql://hall:s3cret-pw@127.0.0.1:1/hall"
    assert safe_url(url) == "postgresql://hall:***@127.0.0.1:1/hall"
    assert safe_url("postgresql://hall@db/x") == "postgresql://hall@db/x"
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "s3cret" not in str(info.value) and "hall:***@" in str(info.value)
    result = run("devices", "--db", url)
    assert result.exit_code == 1 and result.output.startswith("Error: database postgresql://hall:***@")
    assert "s3cret" not in result.output and len(result.output.splitlines()) == 1


# ---- the CLI ---------------------------------------------------------------------


def test_pg_cli_enrol_devices_quarantine_key(pg_url, tmp_path):
    url = with_password(pg_url)
    dev = Device()
    result = run("enrol", "--db", url, "--kind", "concentrator", "--key", public_key_text(dev.key.public_key()),
                 dev.name)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("enrolled conc-01 (concentrator)")
    with open_store(url) as store:
        ingest = ingest_for(store)
        events = ingest.receive(dev.topic, dev.next(), T0) + ingest.receive(dev.topic, b"\xa0", T0)
        store.apply(events, T0)
    result = run("devices", "--db", url)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "  epoch 1: 1 records, last seq 1, hw 1, gaps none"
    assert json.loads(run("quarantine", "--db", url, "--json").output)["reason"] == "not-cose"

    result = run("key", "--db", url)
    assert result.exit_code == 1
    assert result.output == ("Error: a PostgreSQL database keeps no key file beside it; give the hall key "
                             "file with --hall-key PATH\n")
    key_file = tmp_path / "hall.key"
    result = run("key", "--db", url, "--hall-key", key_file)
    assert result.exit_code == 0, result.output
    public = load_hall_key(url, create=False, key_path=key_file)[0].public_key()
    assert public_key_text(public) in result.output
    assert "s3cret" not in result.output


# ---- hall serve ------------------------------------------------------------------


def test_pg_serve_stores_once_and_acks(hall_broker, connect, pg_url, tmp_path):
    url = with_password(pg_url)
    key_file = tmp_path / "hall.db.key"         # wait_ack reads the key as "<db>.key"
    dev = Device("conc-01")
    with open_store(url) as store:
        store.enrol(dev.name, dev.kind, dev.public_raw, 0)
    server = HallServe(hall_broker, url, "--hall-key", str(key_file))
    try:
        probe = device_link(connect, dev)
        sent = [dev.next() for _ in range(20)]
        for raw in sent:
            probe.publish(dev.topic, raw)
        acks = wait_ack(probe, tmp_path / "hall.db", dev, 20)
        probe.publish(dev.topic, sent[4])       # a re-send after a lost ack: acked, not stored again
        wait_ack(probe, tmp_path / "hall.db", dev, 20, count=len(acks) + 1)
        with open_store(url) as store:
            assert [r[5] for r in store.records(dev.name)] == sent
            assert store.load_marks() == [(dev.name, 1, 20, dev.prev)]
    finally:
        assert server.stop() == 0
    assert any("stopped; messages 21, stored 20, duplicates 1" in line for line in server.lines)
    assert not any("s3cret" in line for line in server.lines)


def test_pg_serve_without_hall_key_refuses(pg_url, tmp_path):
    result = run("serve", "--db", pg_url, "--hall", HALL, "--tls-dir", tmp_path, "--broker", "127.0.0.1:1")
    assert result.exit_code == 1
    assert result.output.startswith("Error: a PostgreSQL database keeps no key file beside it")


def test_pg_two_serve_instances_on_one_shared_group_store_each_record_once(hall_broker, connect, pg_url,
                                                                          tmp_path):
    """Mosquitto hands the device's records to the two instances in turn: each sees only part of
    the chain and catches up with what the other committed. All 200 stored once, acked to 200."""
    key_file = tmp_path / "hall.db.key"
    dev = Device("conc-02")
    with open_store(pg_url) as store:
        store.enrol(dev.name, dev.kind, dev.public_raw, 0)
    common = ("--hall-key", str(key_file), "--shared-group", "pg-pair", "--batch-ms", "2")
    servers = [HallServe(hall_broker, pg_url, *common)]
    try:
        servers.append(HallServe(hall_broker, pg_url, "--user", "hall-server-2", *common))
        probe = device_link(connect, dev)
        sent = [dev.next() for _ in range(200)]
        for raw in sent:
            probe.publish(dev.topic, raw)
        hall_key = load_hall_key(pg_url, create=False, key_path=key_file)[0].public_key()

        def acked():
            seqs = [verify_control(m.payload, hall_key, dev.name, hall=HALL).fields["seq"]
                    for m in probe.received(ack_topic(HALL, dev.name))]
            return max(seqs, default=0)

        wait_until(lambda: acked() == 200, "ack of seq 200", timeout_s=20)
        with open_store(pg_url) as store:
            assert [r[5] for r in store.records(dev.name)] == sent
            assert store.load_marks() == [(dev.name, 1, 200, dev.prev)]
            assert store.quarantine() == []
    finally:
        codes = [server.stop() for server in servers]
    assert codes == [0, 0]
    handled = [int(re.search(r"stopped; messages (\d+)", " ".join(s.lines)).group(1)) for s in servers]
    assert all(n > 0 for n in handled) and sum(handled) >= 200, handled


def test_pg_store_reconnects_after_the_connection_is_dropped(pg_url):
    """A write on a connection the server closed fails (nothing is acked); the next one reconnects."""
    dev = Device()
    with open_store(pg_url) as store:
        store.enrol(dev.name, dev.kind, dev.public_raw, T0)
        pid = store._backend.connection.info.backend_pid
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreError, match="database postgresql://"):
            store.enrol("conc-02", "concentrator", bytes(32), T0)
        assert store.enrol("conc-02", "concentrator", bytes(32), T0)
        assert [d.id for d in store.devices()] == ["conc-01", "conc-02"]
