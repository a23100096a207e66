"""The outbox's pure decision core: ordering, acks, resends, the window, the bound, the alarm."""

import pytest

from edge import OutboxFull
from edge.outbox import (BILLING, DROPPABLE, KEPT, AckAccepted, AlarmCleared, AlarmRaised, Depth, Ignored, Limits, OutboxCore,
                         RecordsShed, ResendAccepted)

H = b"\x00" * 32
B, K, D = BILLING, KEPT, DROPPABLE


def core(last_seq=0, acked_seq=0, limits=None, depth=None, epoch=1):
    c = OutboxCore(limits or Limits(), epoch, last_seq, H, acked_seq,
                   depth or Depth(last_seq - acked_seq, 100 * (last_seq - acked_seq)))
    c.rows = []       # (seq, class, nbytes) of what the test appended: the "table" the adapter would read
    return c


def append(c, *items):
    """Append (kind, class, nbytes) items as the adapter does: admit, shed the oldest droppable, commit."""
    admission = c.admit(list(items))
    shed = []
    if admission.must_shed:
        shed = c.choose_shed(admission, ((seq, n) for seq, cls, n in c.rows if cls == D))
        gone = {seq for seq, _n in shed}
        c.rows = [row for row in c.rows if row[0] not in gone]
    first = c.last_seq + 1
    c.rows += [(first + i, cls, n) for i, (_k, cls, n) in enumerate(items)]
    return admission, c.appended(admission, b"h%d" % (c.last_seq + len(items)), shed)


def publish_all(c, limit=1000):
    """Publish every planned seq, as a publisher does, and return the seqs."""
    sent = []
    for lo, hi in c.publish_plan(limit):
        for seq in range(lo, hi + 1):
            assert c.published(seq, seq)
            sent.append(seq)
    return sent


# ------------------------------------------------------------------ ordering

def test_a_new_core_plans_from_the_oldest_unacked_record_in_order():
    c = core(last_seq=10, acked_seq=3)
    assert c.cursor == 4 and c.in_flight == 0
    assert c.publish_plan(100) == [(4, 10)]
    assert c.publish_plan(3) == [(4, 6)]


def test_publishing_moves_the_cursor_and_plans_only_what_is_not_in_flight():
    c = core(last_seq=10)
    assert publish_all(c, 4) == [1, 2, 3, 4]
    assert c.in_flight == 4
    assert c.publish_plan(100) == [(5, 10)]


def test_an_item_that_is_not_next_is_ignored():
    c = core(last_seq=10)
    assert not c.published(3, 3)          # would skip 1 and 2
    assert c.published(1, 2)              # a gap item covering 1..2
    assert c.cursor == 3
    assert not c.published(1, 1)          # already published, not re-opened
    assert not c.published(11, 11)        # never appended
    assert not c.published(5, 4)


def test_appending_extends_the_plan_and_chains():
    c = core()
    assert c.publish_plan(10) == []
    append(c, ("reading", B, 100), ("reading", B, 120))
    assert (c.last_seq, c.last_hash, c.depth.records, c.depth.bytes) == (2, b"h2", 2, 220)
    assert c.publish_plan(10) == [(1, 2)]


def test_window_bounds_what_is_in_flight():
    c = core(last_seq=50, limits=Limits(window=8))
    assert publish_all(c, 100) == list(range(1, 9))
    assert c.publish_plan(100) == []           # window full
    c.acked(3, Depth(3, 300))
    assert c.publish_plan(100) == [(9, 11)]


# ---------------------------------------------------------------------- acks

def test_ack_covers_everything_through_its_seq():
    c = core(last_seq=10)
    publish_all(c)
    decision = c.ack(1, 6)
    assert isinstance(decision, AckAccepted) and decision.through_seq == 6
    c.acked(6, Depth(6, 600))
    assert (c.acked_seq, c.depth.records, c.depth.bytes, c.in_flight, c.acked_total) == (6, 4, 400, 4, 6)


@pytest.mark.parametrize("epoch,seq,reason", [
    (1, 4, "stale"),       # duplicate of the last ack
    (1, 2, "stale"),       # older than the last ack
    (0, 9, "epoch"),       # an ack of a store that was lost
    (2, 9, "epoch"),       # an epoch this store never had
    (1, 11, "beyond"),     # a record never appended
])
def test_stale_duplicate_foreign_and_out_of_range_acks_change_nothing(epoch, seq, reason):
    c = core(last_seq=10, acked_seq=4)
    publish_all(c)
    before = (c.acked_seq, c.cursor, c.depth.records)
    decision = c.ack(epoch, seq)
    assert isinstance(decision, Ignored) and decision.reason == reason
    assert str(seq) in decision.message
    assert (c.acked_seq, c.cursor, c.depth.records) == before


def test_an_ack_beyond_the_cursor_moves_it_on():
    # The hall got records 1..7 on an earlier connection; this one has only sent 1..2.
    c = core(last_seq=10)
    c.published(1, 1)
    c.published(2, 2)
    c.acked(7, Depth(7, 700))
    assert c.cursor == 8 and c.in_flight == 0
    assert c.publish_plan(100) == [(8, 10)]


# ------------------------------------------------------------------- resends

def test_resend_reopens_in_flight_records_ahead_of_new_ones():
    c = core(last_seq=20)
    publish_all(c, 10)
    r = c.resend(1, 3, 5)
    assert isinstance(r, ResendAccepted) and (r.from_seq, r.to_seq) == (3, 5)
    assert c.publish_plan(100) == [(3, 5), (11, 20)]
    assert c.publish_plan(4) == [(3, 5), (11, 11)]
    assert c.publish_plan(2) == [(3, 4)]


def test_resend_ranges_merge_and_are_used_up_by_publishing():
    c = core(last_seq=20)
    publish_all(c, 15)
    c.resend(1, 8, 9)
    c.resend(1, 3, 5)
    c.resend(1, 5, 7)
    assert c.resend_ranges == [(3, 9)]
    assert c.published(3, 3) and c.published(4, 4)
    assert c.resend_ranges == [(5, 9)]
    assert c.publish_plan(100) == [(5, 9), (16, 20)]


def test_resend_is_clamped_to_unacked_records_and_new_ones_are_not_duplicated():
    c = core(last_seq=20, acked_seq=4)
    publish_all(c, 6)                          # 5..10 in flight
    r = c.resend(1, 1, 30)
    assert (r.from_seq, r.to_seq) == (5, 20)
    assert c.resend_ranges == [(5, 10)]        # 11..20 are not sent yet: they go once, as new
    assert c.publish_plan(100) == [(5, 10), (11, 20)]


@pytest.mark.parametrize("epoch,lo,hi,reason", [
    (2, 5, 6, "epoch"), (1, 7, 6, "range"), (1, 0, 3, "range"), (1, 1, 4, "range"), (1, 21, 30, "range"),
])
def test_resend_requests_that_cannot_be_served_change_nothing(epoch, lo, hi, reason):
    c = core(last_seq=20, acked_seq=4)
    publish_all(c, 6)
    r = c.resend(epoch, lo, hi)
    assert isinstance(r, Ignored) and r.reason == reason
    assert c.resend_ranges == [] and c.publish_plan(100) == [(11, 20)]


def test_an_ack_takes_acked_seqs_off_the_resend_ranges():
    c = core(last_seq=20)
    publish_all(c, 10)
    c.resend(1, 2, 8)
    c.acked(5, Depth(5, 500))
    assert c.resend_ranges == [(6, 8)]


def test_reconnect_reopens_everything_unacked_once():
    c = core(last_seq=20, acked_seq=2)
    publish_all(c, 10)
    c.resend(1, 4, 6)
    c.reconnected()
    assert c.in_flight == 0 and c.resend_ranges == []
    assert c.publish_plan(100) == [(3, 20)]


def test_new_items_published_while_a_resend_is_pending_keep_the_resend():
    c = core(last_seq=20)
    publish_all(c, 5)
    plan = c.publish_plan(100)                 # [(6, 20)] taken by the publisher...
    c.resend(1, 2, 3)                          # ...when a resend request arrives
    for seq in range(plan[0][0], plan[0][1] + 1):
        c.published(seq, seq)
    assert c.publish_plan(100) == [(2, 3)]


# -------------------------------------------------------- bound and shedding

def test_an_append_within_the_bound_needs_no_shedding():
    c = core(limits=Limits(max_records=10, max_bytes=1000))
    admission, events = append(c, ("reading", B, 100))
    assert not admission.must_shed and events == []


def test_at_the_bound_the_oldest_droppable_records_are_shed():
    c = core(limits=Limits(shed_droppable=True, max_records=4, alarm_at=1.0, alarm_clear_at=0.5))
    append(c, ("health", D, 50), ("reading", B, 100), ("health", D, 60), ("reading", B, 100))
    admission = c.admit([("reading", B, 100)])
    assert (admission.shed_records, admission.shed_bytes) == (1, 0)
    shed = c.choose_shed(admission, iter([(1, 50), (3, 60)]))
    assert shed == [(1, 50)]
    events = c.appended(admission, b"h5", shed)
    assert isinstance(events[0], RecordsShed) and events[0].seqs == [1] and events[0].nbytes == 50
    assert (c.depth.records, c.depth.bytes, c.depth.droppable_records, c.depth.droppable_bytes) == (4, 360, 1, 60)
    assert c.shed_total == 1 and c.last_seq == 5


def test_a_byte_bound_sheds_until_enough_bytes_are_free():
    c = core(limits=Limits(shed_droppable=True, max_bytes=1000))
    append(c, ("health", D, 100), ("health", D, 100), ("health", D, 100), ("reading", B, 600))
    admission = c.admit([("reading", B, 250)])
    assert (admission.shed_records, admission.shed_bytes) == (0, 150)
    assert c.choose_shed(admission, [(1, 100), (2, 100), (3, 100)]) == [(1, 100), (2, 100)]


@pytest.mark.parametrize("kind", ["reading", "frozen", "payment", "rating", "ticket"])
def test_billing_records_are_never_shed_and_a_full_store_refuses_with_figures(kind):
    c = core(limits=Limits(shed_droppable=True, max_records=3, max_bytes=10_000))
    append(c, ("reading", B, 100), ("health", D, 40), ("reading", B, 100))
    append(c, (kind, B, 100))              # sheds the one health record
    assert c.depth.droppable_records == 0
    with pytest.raises(OutboxFull) as info:
        c.admit([(kind, B, 100)])
    err = info.value
    assert (err.depth_records, err.max_records, err.add_records, err.kinds) == (3, 3, 1, [kind])
    assert "3 of 3 records" in str(err) and "never dropped" in str(err)
    assert c.refused_total == 1 and c.last_seq == 4 and c.depth.records == 3


def test_a_batch_is_admitted_whole_or_not_at_all():
    c = core(limits=Limits(shed_droppable=True, max_records=5))
    append(c, ("reading", B, 10), ("health", D, 10), ("reading", B, 10))
    with pytest.raises(OutboxFull):
        c.admit([("reading", B, 10)] * 4)  # needs 2 shed, 1 droppable held
    admission = c.admit([("reading", B, 10)] * 3)
    assert admission.shed_records == 1


def test_health_cannot_displace_billing_records_either():
    c = core(limits=Limits(max_records=2))
    append(c, ("reading", B, 10), ("reading", B, 10))
    with pytest.raises(OutboxFull) as info:
        c.admit([("health", D, 10)])
    assert info.value.kinds == ["health"]


def test_a_record_larger_than_the_whole_bound_is_refused():
    c = core(limits=Limits(max_bytes=500))
    with pytest.raises(OutboxFull):
        c.admit([("reading", B, 501)])


def test_choose_shed_complains_when_the_table_disagrees_with_the_figures():
    c = core(limits=Limits(shed_droppable=True, max_records=1, billing_reserve=0))
    append(c, ("health", D, 10))
    admission = c.admit([("reading", B, 10)])
    with pytest.raises(ValueError):
        c.choose_shed(admission, [])


# --------------------------------------------------------------------- alarm

def test_alarm_is_raised_near_the_bound_and_cleared_with_hysteresis():
    c = core(limits=Limits(max_records=10, alarm_at=0.9, alarm_clear_at=0.7))
    for _ in range(8):
        assert append(c, ("reading", B, 10))[1] == []
    events = append(c, ("reading", B, 10))[1]
    assert [type(e) for e in events] == [AlarmRaised] and c.alarm
    assert events[0].depth_records == 9 and events[0].level == pytest.approx(0.9)
    assert append(c, ("reading", B, 10))[1] == []          # still raised, no repeat
    assert c.acked(2, Depth(2, 20)) == [] and c.alarm          # 0.8: between the thresholds
    events = c.acked(4, Depth(2, 20))                          # 0.6
    assert [type(e) for e in events] == [AlarmCleared] and not c.alarm


def test_the_byte_bound_counts_for_the_alarm_too():
    c = core(limits=Limits(max_records=1000, max_bytes=1000))
    events = append(c, ("reading", B, 950))[1]
    assert isinstance(events[0], AlarmRaised) and c.level == pytest.approx(0.95)


def test_a_core_opened_above_the_alarm_level_raises_it_once_checked():
    c = core(last_seq=95, limits=Limits(max_records=100))
    assert not c.alarm
    assert [type(e) for e in c.check_alarm()] == [AlarmRaised]
    assert c.check_alarm() == []


def test_an_unbounded_core_never_alarms():
    c = core(last_seq=10 ** 6)
    assert c.level == 0.0 and c.check_alarm() == []


# ------------------------------------------------------------------- figures

def test_figures_take_now_from_the_caller():
    c = core(last_seq=3, limits=Limits(max_records=10))
    c.published(1, 1)
    f = c.figures(now_ms=10_000, oldest_t_ms=4_000)
    assert (f.depth_records, f.depth_bytes, f.in_flight, f.oldest_unacked_age_s, f.level) == (3, 300, 1, 6.0, 0.3)
    assert c.figures(now_ms=1, oldest_t_ms=None).oldest_unacked_age_s is None
    assert set(f.as_dict()) >= {"appended", "acked", "shed", "refused", "alarm"}


@pytest.mark.parametrize("kwargs", [
    dict(max_records=0), dict(max_bytes=-1), dict(alarm_at=0), dict(alarm_at=1.5),
    dict(alarm_at=0.5, alarm_clear_at=0.6), dict(window=0),
])
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError):
        Limits(**kwargs)


# ----------------------------------------------------------- billing reserve

def test_kept_and_droppable_records_leave_the_reserve_to_billing_records():
    c = core(limits=Limits(max_records=20, billing_reserve=0.1))       # 18 for the rest, 20 for billing
    for _ in range(18):
        append(c, ("event", K, 10))
    with pytest.raises(OutboxFull) as info:
        c.admit([("event", K, 10)])
    assert "kept for billing records" in str(info.value) and info.value.max_records == 18
    with pytest.raises(OutboxFull):
        c.admit([("health", D, 10)])
    append(c, ("payment", B, 10), ("rating", B, 10))
    assert c.depth.records == 20


def test_a_mixed_batch_with_billing_records_may_use_the_whole_bound():
    c = core(limits=Limits(max_records=10, billing_reserve=0.5))
    append(c, *[("reading", B, 10)] * 5)
    append(c, ("reading", B, 10), ("anomaly", K, 10), ("cycle", K, 10))
    assert c.depth.records == 8


def test_with_shedding_off_nothing_is_deleted_unacked():
    c = core(limits=Limits(max_records=3, billing_reserve=0, shed_droppable=False))
    append(c, ("health", D, 10), ("reading", B, 10), ("health", D, 10))
    for item in (("reading", B, 10), ("health", D, 10)):
        with pytest.raises(OutboxFull, match="after shedding all 0 droppable"):
            c.admit([item])
    assert c.depth.records == 3 and c.shed_total == 0
