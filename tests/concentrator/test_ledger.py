"""The completeness ledger on real SQLite files: cycles, items, restarts, kill -9 (M-09, M-10)."""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from concentrator._ledger import Ledger, LedgerError, render_ledger
from concentrator._reader import Reading
from concentrator._schedule_events import DEMAND, ItemFailed, ItemRead, Job

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("ledger_writer.py")
T0 = 1_717_200_000_000          # 2024-06-01 00:00:00 UTC
A, B, C = "202311150001", "202311150002", "202311150003"
ITEMS = ["forward_active_total", "voltage_a"]


def expected(*meters):
    return [(m, i) for m in meters for i in ITEMS]


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "agent.db", clock=lambda: T0 + 5000) as led:
        yield led


def test_new_ledger_is_wal_with_full_sync_and_only_ledger_tables(tmp_path):
    path = tmp_path / "agent.db"
    led = Ledger(path)
    assert led._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    led.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert names and all(n.startswith("ledger_") for n in names)


def test_ledger_lives_beside_the_archive_tables_without_touching_them(tmp_path):
    path = tmp_path / "agent.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE archive_meters (address TEXT PRIMARY KEY, std TEXT)")
    db.execute("INSERT INTO archive_meters VALUES (?, '2007')", (A,))
    db.commit()
    with Ledger(path) as led:
        led.open_cycle("daily/2024-06-01", "daily", T0, expected(A))
    assert db.execute("SELECT * FROM archive_meters").fetchall() == [(A, "2007")]


def test_cycle_starts_all_pending_and_closes_with_its_last_item(ledger):
    assert ledger.open_cycle("rt/1", "realtime", T0, expected(A, B), deadline_ms=T0 + 900_000) is True
    s = ledger.cycle("rt/1")
    assert (s.expected, s.read, s.failed, s.pending, s.closed) == (4, 0, 0, 4, False)
    assert ledger.record_read("rt/1", A, "forward_active_total", 1234.56, "kWh", read_ms=T0 + 1000) is True
    assert ledger.record_read("rt/1", A, "voltage_a", 229.9, "V") is True
    assert ledger.record_failed("rt/1", B, "forward_active_total", "timeout", "no reply within 1.00 s", 3) is True
    assert not ledger.cycle("rt/1").closed
    assert ledger.record_failed("rt/1", B, "voltage_a", "quarantined", "meter quarantined", 0) is True
    s = ledger.cycle("rt/1")
    assert (s.read, s.failed, s.pending, s.closed, s.close_reason) == (2, 2, 0, True, "complete")
    rows = {(r["meter"], r["item"]): r for r in ledger.items("rt/1")}
    assert rows[(A, "forward_active_total")]["value"] == 1234.56
    assert rows[(A, "forward_active_total")]["read_ms"] == T0 + 1000
    assert rows[(B, "forward_active_total")]["attempts"] == 3
    assert ledger.meter_reasons("rt/1") == [(B, {"quarantined": 1, "timeout": 1})]


def test_a_second_report_of_an_item_changes_nothing(ledger):
    ledger.open_cycle("rt/1", "realtime", T0, expected(A))
    assert ledger.record_read("rt/1", A, "voltage_a", 230.1, "V")
    assert ledger.record_read("rt/1", A, "voltage_a", 999.0, "V") is False
    assert ledger.record_failed("rt/1", A, "voltage_a", "timeout") is False
    [row] = ledger.items("rt/1", state="read")
    assert row["value"] == 230.1


def test_values_of_every_shape_round_trip(ledger):
    ledger.open_cycle("rt/1", "realtime", T0, [(A, "v"), (A, "b"), (A, "t")])
    ledger.record_read("rt/1", A, "v", (230.1, 229.8, 231.0), "V")
    ledger.record_read("rt/1", A, "b", b"\x01\x02\xff")
    ledger.record_read("rt/1", A, "t", None)
    values = {r["item"]: r["value"] for r in ledger.items("rt/1")}
    assert values == {"v": [230.1, 229.8, 231.0], "b": {"hex": "0102ff"}, "t": None}


def test_deadline_closes_the_cycle_and_leftovers_fail_as_deadline(ledger):
    ledger.open_cycle("rt/1", "realtime", T0, expected(A, B), deadline_ms=T0 + 60_000)
    ledger.open_cycle("rt/2", "realtime", T0 + 60_000, expected(A), deadline_ms=T0 + 120_000)
    ledger.record_read("rt/1", A, "voltage_a", 230.0)
    assert ledger.close_due(T0 + 59_999) == []
    assert ledger.close_due(T0 + 60_000) == ["rt/1"]
    s = ledger.cycle("rt/1")
    assert (s.read, s.failed, s.pending, s.close_reason) == (1, 3, 0, "deadline")
    assert ledger.record_read("rt/1", B, "voltage_a", 231.0) is False     # too late: stays failed
    assert ledger.meter_reasons("rt/1") == [(A, {"deadline": 1}), (B, {"deadline": 2})]
    assert sorted({p.cycle_id for p in ledger.pending()}) == ["rt/2"]


def test_reopened_ledger_hands_back_the_pending_work_of_open_cycles(tmp_path):
    path = tmp_path / "agent.db"
    with Ledger(path) as led:
        led.open_cycle("daily/1", "daily", T0, expected(A, B), deadline_ms=T0 + 86_400_000)
        led.open_cycle("rt/9", "realtime", T0, expected(C))
        led.record_read("daily/1", A, "forward_active_total", 100.0, "kWh")
        led.record_read("rt/9", C, "forward_active_total", 1.0)
        led.record_read("rt/9", C, "voltage_a", 2.0)
    with Ledger(path) as led:
        assert [(p.cycle_id, p.meter, p.item) for p in led.pending()] == [
            ("daily/1", A, "voltage_a"), ("daily/1", B, "forward_active_total"), ("daily/1", B, "voltage_a")]
        assert led.pending_jobs() == [("daily/1", A, ["voltage_a"], T0 + 86_400_000),
                                      ("daily/1", B, ["forward_active_total", "voltage_a"], T0 + 86_400_000)]
        assert led.open_cycle("daily/1", "daily", T0, expected(A, B)) is False     # planned again after restart
        assert led.cycle("daily/1").read == 1
        with pytest.raises(LedgerError, match="cycle daily/1 exists as daily planned at %d, not monthly" % T0):
            led.open_cycle("daily/1", "monthly", T0, expected(A))


def test_schedule_events_go_into_the_ledger(ledger):
    ledger.open_cycle("rt/1", "realtime", T0, expected(A))
    job = Job(1, A, "forward_active_total", "rt/1", "cycle", None)
    job.attempts = 2
    reading = Reading(A, "2007", 0x00010000, "forward_active_total", 12.5, "kWh", 1, 0.1)
    assert ledger.record(ItemRead(job, reading, 1.0)) is True
    failed = Job(2, A, "voltage_a", "rt/1", "cycle", None)
    failed.attempts = 3
    assert ledger.record(ItemFailed(failed, "timeout", "no reply from %s" % A, None, 2.0)) is True
    demand = Job(3, A, "voltage_a", ("demand", 1), DEMAND, None)
    assert ledger.record(ItemRead(demand, reading, 3.0)) is None
    rows = {r["item"]: r for r in ledger.items("rt/1")}
    assert rows["forward_active_total"]["value"] == 12.5 and rows["forward_active_total"]["unit"] == "kWh"
    assert rows["forward_active_total"]["attempts"] == 2
    assert rows["voltage_a"]["reason"] == "timeout" and rows["voltage_a"]["detail"] == "no reply from %s" % A


def test_rendered_table_shows_counts_per_cycle_and_reasons_per_meter(ledger):
    ledger.open_cycle("daily/2024-06-01", "daily", T0, expected(A, B), deadline_ms=T0 + 3_600_000)
    ledger.open_cycle("rt/2024-06-01T00:15", "realtime", T0 + 900_000, expected(A))
    ledger.record_read("daily/2024-06-01", A, "forward_active_total", 1.0)
    ledger.record_read("daily/2024-06-01", A, "voltage_a", 1.0)
    ledger.record_failed("daily/2024-06-01", B, "forward_active_total", "timeout", "no reply")
    ledger.close_due(T0 + 3_600_000)
    text = render_ledger(ledger)
    lines = text.splitlines()
    assert lines[0].split() == ["cycle", "kind", "planned", "(UTC)", "closed", "(UTC)", "expected", "read", "failed",
                                "pending", "complete"]
    assert lines[1].split() == ["rt/2024-06-01T00:15", "realtime", "2024-06-01", "00:15:00", "open",
                                "2", "0", "0", "2", "0.0%"]
    assert lines[2].split() == ["daily/2024-06-01", "daily", "2024-06-01", "00:00:00", "2024-06-01", "01:00:00",
                                "(deadline)", "4", "2", "2", "0", "50.0%"]
    assert lines[3].split() == [B, "failed:", "deadline", "1,", "timeout", "1"]
    assert render_ledger(ledger, cycle_id="rt/2024-06-01T00:15").count("\n") == 1
    with pytest.raises(LedgerError, match="has no cycle rt/none"):
        render_ledger(ledger, cycle_id="rt/none")


def test_empty_ledger_renders_a_plain_sentence(ledger):
    assert render_ledger(ledger) == "no reading cycles"


def test_bad_calls_are_clear_errors_and_change_nothing(ledger):
    with pytest.raises(LedgerError, match="kind 'weekly' is not one of realtime, daily, monthly"):
        ledger.open_cycle("w/1", "weekly", T0, expected(A))
    with pytest.raises(LedgerError, match="listed twice"):
        ledger.open_cycle("rt/1", "realtime", T0, expected(A) + [(A, "voltage_a")])
    with pytest.raises(LedgerError, match="meter and item must be text"):
        ledger.open_cycle("rt/1", "realtime", T0, [(A, 0x00010000)])
    assert ledger.summaries() == []
    ledger.open_cycle("rt/1", "realtime", T0, expected(A))
    with pytest.raises(LedgerError, match="cycle rt/1 has no item voltage_b of meter %s" % A):
        ledger.record_read("rt/1", A, "voltage_b", 1.0)
    with pytest.raises(LedgerError, match="needs a reason"):
        ledger.record_failed("rt/1", A, "voltage_a", "")


def test_a_file_that_is_not_sqlite_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="ledger .*notes.db: cannot open: file is not a database"):
        Ledger(path)


def test_a_ledger_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "agent.db"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE ledger_meta SET schema_version = 99")
    db.commit()
    with pytest.raises(LedgerError, match="has layout version 99, this software reads 1"):
        Ledger(path)


def _writer(db, cycle, n_meters, n_items, pause_s):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(WRITER), str(db), cycle, str(n_meters), str(n_items), str(pause_s)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=str(REPO))


def test_kill_9_mid_cycle_loses_and_duplicates_no_read(tmp_path):
    from ledger_writer import value_of
    db = tmp_path / "agent.db"
    n_meters, n_items = 10, 6
    proc = _writer(db, "daily/1", n_meters, n_items, 0.002)
    reported = []
    for line in proc.stdout:
        reported.append(line.split())
        if len(reported) == 23:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(10)
    reported += [line.split() for line in proc.stdout]      # printed before the kill, not read yet
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert all(r[0] == "read" for r in reported)
    with Ledger(db) as led:
        read = {(r["meter"], r["item"]): r["value"] for r in led.items("daily/1", state="read")}
        # Everything reported as committed is there; at most the one in progress more.
        assert {(m, i) for _w, m, i in reported} <= set(read)
        assert len(read) <= len(reported) + 1
        assert all(v == value_of(m, i) for (m, i), v in read.items())
        pending = {(p.meter, p.item) for p in led.pending("daily/1")}
        assert len(pending) + len(read) == n_meters * n_items and not pending & set(read)
    # A restarted writer does only what was pending; then the cycle is complete and closed.
    proc = _writer(db, "daily/1", n_meters, n_items, 0)
    out, _ = proc.communicate(timeout=60)
    lines = out.split("\n")
    assert lines[-2] == "done" and proc.returncode == 0
    assert not [x for x in lines if x.startswith("dup")]
    assert {tuple(x.split()[1:]) for x in lines if x.startswith("read")} == pending
    with Ledger(db) as led:
        s = led.cycle("daily/1")
        assert (s.expected, s.read, s.failed, s.pending, s.close_reason) == (60, 60, 0, 0, "complete")
        rows = led.items("daily/1")
        assert len(rows) == 60 and all(r["value"] == value_of(r["meter"], r["item"]) for r in rows)
