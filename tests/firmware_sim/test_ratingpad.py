"""The simulated rating pad on a real pty (and a TCP socket), read by the kiosk's PadLink through pyserial.

The service acts come from a real queue engine; prompts live in a real
SQLite rating journal. Virtual time drives the rating decisions; the wire
is real, so the tests poll with a wall-clock bound.
"""

import datetime
import time
import zoneinfo

import pytest

from firmware_sim.ratingpad import RatingPad, RatingPadError
from kiosk.queue import QueueConfig, QueueEngine
from kiosk.rating import DEFAULT_REASONS, PadError, PadLink, RatingConfig, RatingStore

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
QUEUE = {"opens": "08:30", "closes": "17:30", "category": {"B": {"name": "Payment"}},
         "business": {"payment": {"category": "B", "limit_min": 3}},
         "counter": {"w1": {"categories": ["B"]}, "w2": {"categories": ["B"]}}}
WALL_S = 5.0          # generous bound for bytes to cross a pty on a busy 2-core machine (measured: < 50 ms)


def at(hh, mm, ss=0):
    return int(datetime.datetime(2024, 6, 3, hh, mm, ss, tzinfo=TZ).timestamp() * 1000)


@pytest.fixture
def finished():
    """``finished(counter, staff, t)``: a ticket served to the end at ``counter``; its finish record body."""
    engine = QueueEngine(QueueConfig.from_dict(QUEUE, "test.toml"))
    engine.begin_day(at(8, 0))
    for counter in ("w1", "w2"):
        engine.open_counter(at(8, 30), counter)

    def serve(counter, staff, t):
        engine.issue(t, "payment")
        engine.call_next(t + 1000, counter, staff=staff)
        engine.start(t + 2000, counter, staff=staff)
        return engine.finish(t + 60000, counter, staff=staff).records[0].body
    return serve


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(transport="pty", counter="w1"):
        pad = RatingPad(transport)
        store = RatingStore(tmp_path / ("rating-%d.db" % len(made)), RatingConfig(timeout_s=30))
        link = PadLink(pad.url, store, counter)
        made.append((pad, link, store))
        return pad, link, store
    yield make
    for pad, link, store in made:
        link.close()
        store.close()
        pad.close()


def poll_until(link, now_ms, want=1):
    """Poll the link until it produced ``want`` records (or the wall-clock bound passes)."""
    records, end = [], time.monotonic() + WALL_S
    while len(records) < want and time.monotonic() < end:
        records += link.poll(now_ms)
        time.sleep(0.01)
    return records


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_a_key_on_the_pad_rates_the_finished_ticket(rig, finished, transport):
    pad, link, store = rig(transport)
    body = finished("w1", "S0042", at(9, 0))
    link.ask_after(at(9, 1), body)
    assert pad.wait_for("ask " + body["number"], WALL_S)
    pad.press(4)
    (record,) = poll_until(link, at(9, 1, 8))
    assert (record.body["number"], record.body["counter"], record.body["staff"], record.body["level"]) == \
        (body["number"], "w1", "S0042", 4)
    assert pad.wait_for("thanks", WALL_S)


def test_a_low_key_asks_for_a_reason_then_takes_it(rig, finished):
    pad, link, store = rig()
    body = finished("w1", "S1", at(9, 0))
    link.ask_after(at(9, 1), body)
    pad.press(1)
    end = time.monotonic() + WALL_S
    while store.desk.pending("w1").level is None and time.monotonic() < end:
        assert link.poll(at(9, 1, 5)) == []
        time.sleep(0.01)
    assert pad.wait_for("reason", WALL_S)
    pad.pick_reason(3)
    (record,) = poll_until(link, at(9, 1, 9))
    assert record.body["level"] == 1 and record.body["reason"] == DEFAULT_REASONS[2]
    body = finished("w1", "S1", at(9, 5))
    link.ask_after(at(9, 6), body)
    pad.press(2)
    pad.type_reason("窗口人员离开未说明")
    (record,) = poll_until(link, at(9, 6, 9))
    assert record.body["level"] == 2 and record.body["reason"] == "窗口人员离开未说明"


def test_bad_pad_input_is_ignored_and_counted_without_a_crash(rig, finished):
    pad, link, store = rig()
    body = finished("w1", "S1", at(9, 0))
    link.ask_after(at(9, 1), body)
    noise = [b"K9\n", b"hello\n", b"\xff\xfe\n", b"\n", b"R0\n", b"x" * 400 + b"\n", b"T" + b" " * 3 + b"\n"]
    for line in noise:
        pad.send_raw(line)
    end = time.monotonic() + WALL_S
    while link.errors < len(noise) and time.monotonic() < end:
        assert link.poll(at(9, 1, 3)) == []
        time.sleep(0.01)
    assert link.errors == len(noise)
    assert store.desk.pending("w1").number == body["number"] and store.records() == []
    pad.pick_reason(1)                                     # well-formed, but no level 1-2 chosen: refused
    end = time.monotonic() + WALL_S
    while link.refused < 1 and time.monotonic() < end:
        link.poll(at(9, 1, 4))
        time.sleep(0.01)
    assert link.refused == 1
    pad.send_raw(b"K")                                     # half a line, then the rest
    time.sleep(0.05)
    assert link.poll(at(9, 1, 5)) == []
    pad.send_raw(b"5\r\n")
    (record,) = poll_until(link, at(9, 1, 6))
    assert record.body["level"] == 5 and link.errors == len(noise)


def test_no_key_within_the_timeout_is_not_rated_and_the_pad_is_cleared(rig, finished):
    pad, link, store = rig()
    body = finished("w1", "S1", at(9, 0))
    link.ask_after(at(9, 1), body)
    assert link.poll(at(9, 1, 29)) == []
    (record,) = link.poll(at(9, 1, 30))
    assert record.body["outcome"] == "timeout" and record.body["level"] is None
    assert pad.wait_for("cancelled", WALL_S)
    pad.press(5)                                           # too late: refused, counted
    end = time.monotonic() + WALL_S
    while link.refused < 1 and time.monotonic() < end:
        link.poll(at(9, 1, 31))
        time.sleep(0.01)
    assert link.refused == 1 and store.records() == [record.body]


def test_a_restarted_kiosk_lights_the_pending_prompt_again(tmp_path, finished):
    pad = RatingPad()
    try:
        path = tmp_path / "rating.db"
        store = RatingStore(path, RatingConfig(timeout_s=30))
        link = PadLink(pad.url, store, "w1")
        body = finished("w1", "S1", at(9, 0))
        link.ask_after(at(9, 1), body)
        assert pad.wait_for("ask " + body["number"], WALL_S)
        link.close()
        store.close()
        pad.display = "idle"
        store = RatingStore(path, RatingConfig(timeout_s=30))
        link = PadLink(pad.url, store, "w1")
        assert pad.wait_for("ask " + body["number"], WALL_S)
        pad.press(3)
        (record,) = poll_until(link, at(9, 1, 10))
        assert record.body["number"] == body["number"]
        link.close()
        store.close()
    finally:
        pad.close()


def test_a_pad_that_cannot_be_opened_is_a_clear_error(tmp_path):
    store = RatingStore(tmp_path / "rating.db", RatingConfig())
    with pytest.raises(PadError, match="rating pad .*ttyNONE: cannot open"):
        PadLink(str(tmp_path / "ttyNONE"), store, "w1")
    with pytest.raises(RatingPadError, match="transport"):
        RatingPad("bluetooth")
