"""The publisher's pure parts: the drain decisions, the reconnect backoff, the command replay rule
(docs/records.md, "Replays") and the status payload. No broker, no clock: milliseconds."""

import random

import pytest

from edge.outbox import Gap, Pending
from edge.publisher import Backoff, CommandGate, PublisherCore, birth_payload, offline_payload, parse_status
from protocols.records import Control


def pending(seq):
    return Pending(1, seq, "reading", 0, b"r%d" % seq)


def core(max_inflight=3):
    return PublisherCore(max_inflight, Backoff(lambda: 0.5, min_s=1.0, max_s=8.0))


# ------------------------------------------------------------------ core

def test_plan_respects_the_inflight_bound_and_skips_what_is_in_flight():
    c = core(3)
    items = [pending(s) for s in range(1, 6)]
    chosen = c.plan(items, 0.0)
    assert [i.seq for i in chosen] == [1, 2, 3]
    for mid, item in enumerate(chosen, 1):
        c.sent(item, mid)
    assert c.in_flight == 3 and c.plan(items, 0.0) == []
    assert c.puback(1, 0x00, 0.1) is None
    assert [i.seq for i in c.completed()] == [1]
    # The outbox now starts at 2; 2 and 3 are still in flight, so only 4 is new.
    assert [i.seq for i in c.plan(items[1:], 0.1)] == [4]


def test_completions_come_in_order_even_if_pubacks_do_not():
    c = core(3)
    for mid, seq in enumerate((1, 2, 3), 1):
        c.sent(pending(seq), mid)
    c.puback(3, 0x00, 0.0)
    c.puback(2, 0x10, 0.0)          # "no matching subscribers" is a success
    assert c.completed() == []      # 1 is still out
    c.puback(1, 0x00, 0.0)
    assert [i.seq for i in c.completed()] == [1, 2, 3]
    assert c.published_total == 3 and c.in_flight == 0


def test_gap_completes_when_it_reaches_the_head_and_costs_no_room():
    c = core(1)
    first, gap = pending(1), Gap(1, 2, 4)
    chosen = c.plan([first, gap, pending(5)], 0.0)
    assert chosen == [first, gap]
    c.sent(first, 7)
    c.sent(gap, None)
    assert c.completed() == []
    c.puback(7, 0, 0.0)
    assert c.completed() == [first, gap]


def test_refused_puback_pauses_and_forgets_what_followed():
    c = core(3)
    for mid, seq in enumerate((1, 2, 3), 1):
        c.sent(pending(seq), mid)
    c.puback(1, 0x00, 0.0)
    item, _topic, retry_s = c.puback(2, 0x87, 1.0)
    assert item.seq == 2 and retry_s == 1.0 and c.refused_total == 1
    assert [i.seq for i in c.completed()] == [1]
    assert c.in_flight == 0
    assert c.puback(3, 0x00, 1.0) is None          # forgotten: it would complete out of order
    assert c.room(1.5) == 0 and c.plan([pending(2), pending(3)], 1.5) == []
    assert [i.seq for i in c.plan([pending(2), pending(3)], 2.0)] == [2, 3]


def test_session_lost_forgets_everything_in_flight():
    c = core(3)
    c.sent(pending(1), 1)
    c.sent(pending(2), 2)
    assert c.session_lost() == 2
    assert c.in_flight == 0 and c.puback(1, 0, 0.0) is None
    assert [i.seq for i in c.plan([pending(1), pending(2)], 0.0)] == [1, 2]


def test_publish_rate_counts_pubacks_in_the_window():
    c = PublisherCore(10, Backoff(lambda: 0.0), rate_window_s=10.0)
    for mid in range(1, 6):
        c.sent(pending(mid), mid)
        c.puback(mid, 0, float(mid))
    assert c.publish_rate(5.0) == 0.5
    assert c.publish_rate(13.5) == pytest.approx(0.2)   # only the PUBACKs at 4 and 5 s remain


def test_core_refuses_a_bad_bound():
    with pytest.raises(ValueError, match="max_inflight"):
        PublisherCore(0, Backoff(lambda: 0.0))


# ------------------------------------------------------------------ backoff

def test_backoff_grows_with_jitter_within_bounds():
    rng = random.Random(7)
    b = Backoff(rng.random, min_s=0.5, max_s=60.0)
    delays = [b.failed(0.0) for _ in range(12)]
    assert delays[0] == 0.5
    for n, d in enumerate(delays, 1):
        assert 0.5 <= d <= min(60.0, 0.5 * 2 ** (n - 1))
    top = Backoff(lambda: 1.0, min_s=0.5, max_s=60.0)
    assert [top.failed(0.0) for _ in range(9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert b.ceiling_s(10_000) == 60.0   # no overflow in a long outage


def test_backoff_resets_only_after_a_stable_connection():
    b = Backoff(lambda: 1.0, min_s=0.5, max_s=60.0, stable_s=10.0)
    assert [b.failed(0.0) for _ in range(3)] == [0.5, 1.0, 2.0]
    b.succeeded(100.0)
    assert b.failed(101.0) == 4.0        # dropped after 1 s: still counting
    b.succeeded(200.0)
    assert b.failed(215.0) == 0.5        # up for 15 s: start again


def test_backoff_refuses_bad_bounds():
    with pytest.raises(ValueError, match="min_s"):
        Backoff(lambda: 0.0, min_s=2.0, max_s=1.0)


# ------------------------------------------------------------------ replay rule

def command(cid, t_ms):
    return Control(1, "h1", "conc-01", "command", t_ms, {"id": cid, "name": "read-meter", "args": {}}, b"")


NOW = 1_800_000_000_000
W = 600_000


def test_command_ids_run_at_most_once_within_the_window():
    gate = CommandGate(W)
    assert gate.admit(command("a", NOW), NOW, True) is None
    assert gate.admit(command("a", NOW), NOW + 1000, True).reason == "seen"
    assert gate.admit(command("b", NOW - W - 1), NOW, True).reason == "too-old"
    assert gate.admit(command("c", NOW + W + 1), NOW, True).reason == "from-future"
    # Past the window the id is forgotten, and the command is refused on its t instead.
    assert gate.admit(command("a", NOW), NOW + W + 1, True).reason == "too-old"
    assert len(gate) == 0


def test_command_with_unknown_clock_must_be_newer_than_the_newest_run():
    gate = CommandGate(W)
    assert gate.admit(command("a", 5000), 0, False) is None
    assert gate.admit(command("b", 5000), 0, False).reason == "not-newer"
    assert gate.admit(command("c", 4000), 0, False).reason == "not-newer"
    assert gate.admit(command("d", 5001), 0, False) is None


def test_command_memory_is_bounded_and_forgotten_ids_stay_refused():
    gate = CommandGate(W, max_ids=2)
    for i, cid in enumerate("abc"):
        assert gate.admit(command(cid, NOW + i), NOW, True) is None
    assert len(gate) == 2
    assert gate.admit(command("a", NOW), NOW, True).reason == "not-newer"


# ------------------------------------------------------------------ status

def test_status_payloads_are_compact_sorted_json():
    assert birth_payload("conc-01", "concentrator", 3, 1717200000000) == (
        b'{"device":"conc-01","device_kind":"concentrator","epoch":3,"state":"online","t":1717200000000,"v":1}')
    assert offline_payload("conc-01", "lost") == b'{"device":"conc-01","state":"offline","v":1,"why":"lost"}'
    assert parse_status(offline_payload("conc-01", "stopped", 5))["t"] == 5


@pytest.mark.parametrize("data, message", [
    (b"\xff", "not UTF-8 JSON"), (b"[]", "expected an object"), (b'{"v":2}', "version 2"),
    (b'{"v":1,"state":"gone","device":"x"}', "state 'gone'"), (b'{"v":1,"state":"online"}', "no device"),
    (b" " * 2000, "2000 bytes"),
])
def test_parse_status_refuses_what_is_not_a_status(data, message):
    with pytest.raises(ValueError, match=message):
        parse_status(data)


def test_offline_payload_refuses_an_unknown_why():
    with pytest.raises(ValueError, match="why"):
        offline_payload("conc-01", "bored")
