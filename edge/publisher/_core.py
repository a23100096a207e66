"""The publisher's decisions, without I/O: what to hand to the broker next, what a PUBACK completes,
when to pause, and the figures.

The adapter asks the outbox for its next items, gives them to ``plan``, publishes
what comes back, reports each message id with ``sent``, feeds PUBACKs to
``puback`` and tells the outbox, in order, about what ``completed`` returns.
Time is passed in (``now_s``, monotonic seconds).

Rules:

1. In order. Items are handed out in the order the outbox gives them, and
   reported complete strictly in that order (the head of the in-flight queue
   first), so ``Outbox.mark_published`` always sees the item at its cursor,
   even if PUBACKs were to come out of order.
2. Bounded. At most ``max_inflight`` records are handed to the broker
   without a PUBACK. A ``Gap`` (shed numbers) is not sent; it completes when
   it reaches the head of the queue.
3. One session. Message ids belong to one MQTT connection: ``session_lost``
   forgets every in-flight item (the outbox re-opens them on reconnect, since
   nothing sent on a dead connection can be trusted to have arrived).
4. A refused PUBACK (reason >= 0x80) is not success: the record stays in the
   outbox, it and everything handed out after it are forgotten (they would
   complete out of order), and publishing pauses for a backoff delay, then
   tries the same record again. 0x10 "no matching subscribers" is success.
"""

from collections import deque

# MQTT 5.0 §2.4: reason codes of 0x80 and above are failures.
FAILURE_REASON = 0x80


class _Entry:
    __slots__ = ("item", "mid", "done", "topic")

    def __init__(self, item, mid, topic):
        self.item = item
        self.mid = mid
        self.topic = topic
        self.done = mid is None


def item_span(item):
    """(from_seq, to_seq) of a ``Pending`` (one seq) or a ``Gap``."""
    seq = getattr(item, "seq", None)
    if seq is not None:
        return seq, seq
    return item.from_seq, item.to_seq


class PublisherCore:
    """The publisher state machine (rules in the module docstring).

    Args:
        max_inflight: the most records handed to the broker without a PUBACK.
        refusal_backoff: a ``Backoff`` for pauses after refused publishes.
        rate_window_s: the window of ``publish_rate``.
    """

    def __init__(self, max_inflight, refusal_backoff, rate_window_s=10.0):
        if not isinstance(max_inflight, int) or max_inflight < 1:
            raise ValueError("max_inflight must be a positive int, got %r" % (max_inflight,))
        self.max_inflight = max_inflight
        self.rate_window_s = rate_window_s
        self._refusal_backoff = refusal_backoff
        self._queue = deque()          # _Entry, in the order handed out
        self._by_mid = {}
        self._spans = set()
        self._sent = 0                 # entries in the queue with a message id
        self.paused_until = None
        self._acks = deque()           # monotonic times of recent PUBACKs
        self.published_total = 0
        self.refused_total = 0

    @property
    def in_flight(self):
        """Records handed to the broker without a PUBACK yet."""
        return self._sent

    def room(self, now_s):
        """How many more records may be handed out now (0 while paused)."""
        if self.paused_until is not None:
            if now_s < self.paused_until:
                return 0
            self.paused_until = None
        return self.max_inflight - self._sent

    def pause(self, now_s, for_s):
        """Hand out nothing for ``for_s`` seconds (the outbox could not be read). Returns ``for_s``."""
        self.paused_until = max(self.paused_until or now_s, now_s + for_s)
        return for_s

    def plan(self, items, now_s):
        """Choose what to publish from the outbox's next items.

        Args:
            items: ``Outbox.next_to_publish(...)`` (``Pending`` and ``Gap``), in order.
            now_s: monotonic seconds.

        Returns:
            The items to hand out now, in order: those not already in flight,
            at most ``room(now_s)`` records (gaps do not count).
        """
        room = self.room(now_s)
        chosen = []
        for item in items:
            if item_span(item) in self._spans:
                continue
            is_gap = getattr(item, "seq", None) is None
            if not is_gap:
                if room <= 0:
                    break
                room -= 1
            chosen.append(item)
        return chosen

    def sent(self, item, mid, topic=None):
        """Note that ``item`` was handed to the broker as message ``mid`` (None for a ``Gap``)."""
        entry = _Entry(item, mid, topic)
        self._queue.append(entry)
        self._spans.add(item_span(item))
        if mid is not None:
            self._by_mid[mid] = entry
            self._sent += 1

    def puback(self, mid, reason_code, now_s):
        """Apply the broker's PUBACK for ``mid``.

        Returns:
            None, or for a refusal (reason >= 0x80) ``(item, topic, retry_s)``:
            the refused item and how long publishing now pauses. A PUBACK for
            an unknown id (forgotten by a refusal or a lost session) is ignored.
        """
        entry = self._by_mid.pop(mid, None)
        if entry is None:
            return None
        if reason_code < FAILURE_REASON:
            entry.done = True
            self._sent -= 1
            self.published_total += 1
            self._acks.append(now_s)
            self._refusal_backoff.reset()
            return None
        self.refused_total += 1
        self._forget_from(entry)
        retry_s = self._refusal_backoff.failed(now_s)
        self.paused_until = now_s + retry_s
        return entry.item, entry.topic, retry_s

    def _forget_from(self, entry):
        while self._queue:
            last = self._queue.pop()
            self._spans.discard(item_span(last.item))
            if last.mid is not None:
                self._by_mid.pop(last.mid, None)
                if not last.done:
                    self._sent -= 1
            if last is entry:
                return

    def completed(self):
        """Pop and return the items at the head of the queue that are done, in order (rule 1)."""
        out = []
        while self._queue and self._queue[0].done:
            entry = self._queue.popleft()
            self._spans.discard(item_span(entry.item))
            out.append(entry.item)
        return out

    def session_lost(self):
        """Forget everything in flight (rule 3). Returns how many records were in flight."""
        lost = self._sent
        self._queue.clear()
        self._by_mid.clear()
        self._spans.clear()
        self._sent = 0
        self.paused_until = None
        return lost

    def publish_rate(self, now_s):
        """PUBACKs per second over the last ``rate_window_s``."""
        while self._acks and self._acks[0] < now_s - self.rate_window_s:
            self._acks.popleft()
        return len(self._acks) / self.rate_window_s
