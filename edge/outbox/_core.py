"""The outbox's decisions, without I/O: what to send next, what an ack deletes,
what a resend request re-opens, and what the storage bound allows.

The SQLite adapter (``_store``) asks this class, carries the answer out in a
transaction, and only after COMMIT tells it what was done, so the in-memory
state never runs ahead of the disk. It holds counters and a few sequence
numbers, never per-record data, so its memory does not grow with the backlog.

Rules:

1. Sequence numbers of an epoch are 1, 2, 3, ... and are never reused:
   ``last_seq`` only grows, whatever is deleted.
2. The drain is in order. Records ``acked_seq + 1 .. cursor - 1`` have been
   published and wait for the hall's ack (they are *in flight*); the next new
   record to publish is ``cursor``. At most ``window`` sequence numbers are in
   flight; a publisher that asks for more gets less.
3. A record leaves the store only when the hall's ack covers it. An ack is
   "the hall has stored every record of this epoch up to ``seq``" (highest
   contiguous), so it deletes ``seq`` and everything below. Acks of another
   epoch, at or below ``acked_seq`` (stale or duplicate) or above
   ``last_seq`` (never appended) change nothing.
4. A resend request re-opens in-flight records for publishing again, in
   order, ahead of new ones; a reconnect re-opens all of them (nothing sent
   on a dead connection can be trusted to have arrived).
5. The bound (``max_records`` and/or ``max_bytes``) holds after every append.
   Each record has a storage class (``protocols.records.KINDS``): *billing*
   (readings, frozen values, payments, settlements, ratings, tickets),
   *kept* (events, anomalies, line loss, cycles, calls) or *droppable*
   (health). When an append would pass the bound, the oldest droppable
   records are shed until it fits; billing and kept records are never shed.
   If shedding every droppable record would not make room, the append is
   refused with ``OutboxFull`` and nothing changes. A batch without billing
   records may only fill the bound less ``billing_reserve``, so events and
   health cannot take the last room a payment or a reading needs.
6. A shed record leaves a hole in the sequence. The drain reports a hole as a
   ``Gap`` (epoch, from_seq, to_seq), which the publisher tells the hall, so
   the hall can record those numbers as shed rather than lost and its ack can
   pass them.
7. The alarm is raised when the fill level (the larger of records/max_records
   and bytes/max_bytes) reaches ``alarm_at`` and cleared when it falls below
   ``alarm_clear_at``; the gap between the two keeps it from flapping.
"""

from .._errors import OutboxFull
from ._values import (BILLING, DROPPABLE, AckAccepted, Admission, AlarmCleared, AlarmRaised, Figures, Ignored,
                      RecordsShed, ResendAccepted)


class OutboxCore:
    """The outbox state machine (rules in the module docstring).

    Args:
        limits: a ``Limits``.
        epoch: the store's epoch.
        last_seq: the last sequence number appended (0 in a new store).
        last_hash: the hash of that record (the next record's ``prev``).
        acked_seq: the highest sequence number the hall has acknowledged.
        depth: a ``Depth`` of what the store holds.
    """

    def __init__(self, limits, epoch, last_seq, last_hash, acked_seq, depth):
        if not 0 <= acked_seq <= last_seq:
            raise ValueError("acked_seq %d outside 0..last_seq %d" % (acked_seq, last_seq))
        self.limits = limits
        self.epoch = epoch
        self.last_seq = last_seq
        self.last_hash = last_hash
        self.acked_seq = acked_seq
        self.depth = depth
        self.cursor = acked_seq + 1
        self._resend = []          # disjoint, sorted [lo, hi] ranges below the cursor
        self.alarm = False
        self.appended_total = 0
        self.acked_total = 0
        self.shed_total = 0
        self.refused_total = 0

    # ------------------------------------------------------------------ state

    @property
    def in_flight(self):
        """Sequence numbers published and not yet acknowledged."""
        return self.cursor - self.acked_seq - 1

    @property
    def level(self):
        """The fill level: the larger of records/max_records and bytes/max_bytes (0 if unbounded)."""
        lim = self.limits
        level = 0.0
        if lim.max_records:
            level = self.depth.records / lim.max_records
        if lim.max_bytes:
            level = max(level, self.depth.bytes / lim.max_bytes)
        return level

    def check_alarm(self):
        """Raise or clear the alarm for the current level. Returns a list of events (maybe empty)."""
        level = self.level
        cls = None
        if not self.alarm and level >= self.limits.alarm_at:
            self.alarm, cls = True, AlarmRaised
        elif self.alarm and level < self.limits.alarm_clear_at:
            self.alarm, cls = False, AlarmCleared
        if cls is None:
            return []
        return [cls(level, self.depth.records, self.depth.bytes, self.limits.max_records, self.limits.max_bytes)]

    def figures(self, now_ms, oldest_t_ms):
        """Health figures. ``oldest_t_ms`` is the ``t`` of the oldest record held (None if empty).

        Counters (appended, acked, shed, refused) count since this core was made.
        """
        age = None if oldest_t_ms is None else max(0.0, (now_ms - oldest_t_ms) / 1000.0)
        return Figures(epoch=self.epoch, last_seq=self.last_seq, acked_seq=self.acked_seq,
                       depth_records=self.depth.records, depth_bytes=self.depth.bytes, in_flight=self.in_flight,
                       oldest_unacked_age_s=age, appended=self.appended_total, acked=self.acked_total, shed=self.shed_total,
                       refused=self.refused_total, alarm=self.alarm, level=round(self.level, 4))

    # ----------------------------------------------------------------- append

    def admit(self, items):
        """Decide whether records of the given sizes may be appended, all together.

        Args:
            items: (kind, storage class, nbytes) for each new record; the
                class is ``BILLING``, ``KEPT`` or ``DROPPABLE``.

        Returns:
            An ``Admission``: how much droppable data must be shed first.

        Raises:
            OutboxFull: shedding every droppable record would not make room.
                Counted in ``refused``; nothing else changes.
        """
        billing = any(c == BILLING for _k, c, _n in items)
        max_records, max_bytes = self.limits.bound(billing)
        add_records = len(items)
        add_bytes = sum(n for _k, _c, n in items)
        add_drop_records = sum(1 for _k, c, _n in items if c == DROPPABLE)
        add_drop_bytes = sum(n for _k, c, n in items if c == DROPPABLE)
        over_records = 0
        over_bytes = 0
        if max_records is not None:
            over_records = max(0, self.depth.records + add_records - max_records)
        if max_bytes is not None:
            over_bytes = max(0, self.depth.bytes + add_bytes - max_bytes)
        sheddable_records = self.depth.droppable_records if self.limits.shed_droppable else 0
        sheddable_bytes = self.depth.droppable_bytes if self.limits.shed_droppable else 0
        if over_records > sheddable_records or over_bytes > sheddable_bytes:
            self.refused_total += add_records
            kinds = sorted({k for k, _c, _n in items})
            reserve = "" if billing or not self.limits.billing_reserve else (
                "; without billing records a batch may fill only %s (the rest is kept for billing records)"
                % self._bound_text(max_records, max_bytes))
            raise OutboxFull(
                "outbox full: %s; cannot add %d record%s (%d bytes, %s) even after shedding all %d droppable "
                "records%s; billing records are never dropped, so the hall must ack before more can be stored"
                % (self._depth_text(), add_records, "" if add_records == 1 else "s", add_bytes, ", ".join(kinds),
                   sheddable_records, reserve),
                kinds, self.depth.records, self.depth.bytes, max_records, max_bytes, add_records, add_bytes)
        return Admission(add_records, add_bytes, add_drop_records, add_drop_bytes, over_records, over_bytes)

    @staticmethod
    def _bound_text(max_records, max_bytes):
        parts = []
        if max_records is not None:
            parts.append("%d records" % max_records)
        if max_bytes is not None:
            parts.append("%d bytes" % max_bytes)
        return " and ".join(parts)

    def _depth_text(self):
        parts = []
        lim = self.limits
        if lim.max_records is not None:
            parts.append("%d of %d records" % (self.depth.records, lim.max_records))
        else:
            parts.append("%d records" % self.depth.records)
        if lim.max_bytes is not None:
            parts.append("%d of %d bytes" % (self.depth.bytes, lim.max_bytes))
        else:
            parts.append("%d bytes" % self.depth.bytes)
        return ", ".join(parts)

    @staticmethod
    def choose_shed(admission, candidates):
        """Pick the droppable records to shed: the oldest, until the admission's need is met.

        Args:
            admission: from ``admit``.
            candidates: (seq, nbytes) of droppable records, oldest first (an
                iterable; it is read only as far as needed).

        Returns:
            A list of (seq, nbytes).

        Raises:
            ValueError: the candidates run out first (the caller's depth
                figures disagree with its table: a bug, not a full store).
        """
        chosen = []
        records = 0
        nbytes = 0
        for seq, size in candidates:
            if records >= admission.shed_records and nbytes >= admission.shed_bytes:
                break
            chosen.append((seq, size))
            records += 1
            nbytes += size
        if records < admission.shed_records or nbytes < admission.shed_bytes:
            raise ValueError("only %d droppable records (%d bytes) to shed, need %d (%d bytes)"
                             % (records, nbytes, admission.shed_records, admission.shed_bytes))
        return chosen

    def appended(self, admission, last_hash, shed=()):
        """Record a committed append of ``admission.add_records`` records.

        Args:
            admission: the ``Admission`` the append was made under.
            last_hash: the hash of the last record appended.
            shed: the (seq, nbytes) shed in the same transaction.

        Returns:
            Events: ``RecordsShed`` if any, then alarm changes.
        """
        d = self.depth
        self.last_seq += admission.add_records
        self.last_hash = last_hash
        self.appended_total += admission.add_records
        shed_bytes = sum(n for _s, n in shed)
        d.records += admission.add_records - len(shed)
        d.bytes += admission.add_bytes - shed_bytes
        d.droppable_records += admission.add_droppable_records - len(shed)
        d.droppable_bytes += admission.add_droppable_bytes - shed_bytes
        events = []
        if shed:
            self.shed_total += len(shed)
            events.append(RecordsShed([s for s, _n in shed], shed_bytes))
        return events + self.check_alarm()

    # ------------------------------------------------------------------ drain

    def publish_plan(self, limit):
        """The sequence ranges to publish next, in order: re-opened ones first, then new ones.

        Args:
            limit: the most sequence numbers to plan (a publisher's batch).

        Returns:
            A list of (lo, hi) inclusive ranges, at most ``limit`` numbers in
            all. New numbers stop at the window. The adapter reads the
            records in these ranges; numbers with no record are holes (shed).
        """
        plan = []
        room = limit
        for lo, hi in self._resend:
            if room <= 0:
                break
            hi = min(hi, lo + room - 1)
            plan.append((lo, hi))
            room -= hi - lo + 1
        room = min(room, self.limits.window - self.in_flight)
        if room > 0 and self.cursor <= self.last_seq:
            plan.append((self.cursor, min(self.last_seq, self.cursor + room - 1)))
        return plan

    def published(self, from_seq, to_seq):
        """Record that the item covering ``from_seq .. to_seq`` was handed to the broker.

        A new item must start at the cursor (in-order drain); a re-opened one
        (below the cursor) is taken off the resend ranges. Anything else is an
        item from before a reconnect or ack and is ignored.

        Returns:
            True if the state changed.
        """
        if from_seq > to_seq or to_seq > self.last_seq:
            return False
        if from_seq <= self.cursor <= to_seq:
            self.cursor = to_seq + 1
            return True
        if to_seq < self.cursor and self._resend:
            before = self._resend
            self._resend = _remove_through(self._resend, to_seq)
            return self._resend != before
        return False

    def reconnected(self):
        """Re-open every in-flight record: publish again from the oldest unacked one."""
        self.cursor = self.acked_seq + 1
        self._resend = []

    def resend(self, epoch, from_seq, to_seq):
        """Decide on the hall's request to resend ``from_seq .. to_seq`` of ``epoch``.

        Returns:
            ``ResendAccepted`` with the range clamped to unacked records, or ``Ignored``.
        """
        if epoch != self.epoch:
            return Ignored("epoch", "resend of %d..%d for epoch %d, the store is at epoch %d"
                           % (from_seq, to_seq, epoch, self.epoch))
        if from_seq < 1 or to_seq < from_seq:
            return Ignored("range", "resend range %d..%d is empty or starts below 1" % (from_seq, to_seq))
        lo = max(from_seq, self.acked_seq + 1)
        hi = min(to_seq, self.last_seq)
        if lo > hi:
            return Ignored("range", "resend %d..%d: nothing unacked there (acked through %d, last %d)"
                           % (from_seq, to_seq, self.acked_seq, self.last_seq))
        in_flight_hi = min(hi, self.cursor - 1)
        if lo <= in_flight_hi:
            self._resend = _add_range(self._resend, lo, in_flight_hi)
        return ResendAccepted(lo, hi)

    def ack(self, epoch, seq):
        """Decide on the hall's ack "stored every record of ``epoch`` through ``seq``".

        Returns:
            ``AckAccepted`` (the adapter deletes through the seq, then calls
            ``acked``) or ``Ignored`` with reason "epoch", "stale" or "beyond".
        """
        if epoch != self.epoch:
            return Ignored("epoch", "ack of %d for epoch %d, the store is at epoch %d" % (seq, epoch, self.epoch))
        if seq <= self.acked_seq:
            return Ignored("stale", "ack of %d, already acked through %d" % (seq, self.acked_seq))
        if seq > self.last_seq:
            return Ignored("beyond", "ack of %d, but the last record appended is %d" % (seq, self.last_seq))
        return AckAccepted(seq)

    def acked(self, through_seq, freed):
        """Record a committed delete of every record through ``through_seq``.

        Args:
            freed: a ``Depth`` of what the delete removed.

        Returns:
            Alarm events.
        """
        d = self.depth
        self.acked_total += freed.records
        self.acked_seq = through_seq
        self.cursor = max(self.cursor, through_seq + 1)
        self._resend = _remove_through(self._resend, through_seq)
        d.records -= freed.records
        d.bytes -= freed.bytes
        d.droppable_records -= freed.droppable_records
        d.droppable_bytes -= freed.droppable_bytes
        return self.check_alarm()

    @property
    def resend_ranges(self):
        """The re-opened ranges waiting to be published again (a copy)."""
        return list(self._resend)


def _add_range(ranges, lo, hi):
    out = []
    for a, b in sorted(ranges + [(lo, hi)]):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _remove_through(ranges, seq):
    out = []
    for a, b in ranges:
        if b <= seq:
            continue
        out.append((max(a, seq + 1), b))
    return out
