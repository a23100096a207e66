"""The queue as the web app sees it: actions through the journal, views for pages, change signals.

Every action goes through ``QueueStore.do`` (journaled, then posted to the
outbox), under one lock, so views built under the same lock see a whole
state. After an action the service bumps ``version`` and wakes the
Server-Sent Events streams (``Hub``), which re-send the board: a display
that reconnects gets the whole state, never a delta (queue-systems.md rule 7).

Views are plain dicts ready for JSON. Names are in the page language;
numbers and counter labels are not translated.
"""

import asyncio
import threading

from kiosk.queue import CALLED, SERVING, WAITING

from ._i18n import CATALOGUES, announcement, business_name

# The board shows the latest calls, newest first; more would not fit a hall screen.
RECENT_CALLS = 8

# Web action name -> (engine action, whether it calls a customer to the counter).
COUNTER_ACTIONS = {
    "call-next": ("call_next", True),
    "recall": ("recall", True),
    "skip": ("no_show", False),
    "start": ("start", False),
    "finish": ("finish", False),
    "transfer": ("transfer", False),
    "pause": ("pause_counter", False),
    "resume": ("open_counter", False),
    "close": ("close_counter", False),
}


class Hub:
    """Wakes every open event stream when the queue changes (lives on the server's event loop)."""

    def __init__(self):
        self._listeners = set()
        self.closed = False

    def listen(self):
        """A new listener queue; one pending wake-up is enough, later ones coalesce."""
        q = asyncio.Queue(maxsize=1)
        self._listeners.add(q)
        return q

    def forget(self, q):
        self._listeners.discard(q)

    def notify(self, closing=False):
        """Wake every listener (``closing``: tell them to end, for a prompt shutdown)."""
        self.closed = self.closed or closing
        for q in list(self._listeners):
            if q.empty():
                q.put_nowait(not closing)


class QueueService:
    """The store, the clock, the voice line and the labels, behind one lock.

    Args:
        store: a ``QueueStore``.
        web_config: a ``WebConfig`` (counter labels, category names).
        clock: returns now in UTC ms.
        announcer: an ``Announcer`` or None (no voice).
    """

    def __init__(self, store, web_config, clock, announcer=None):
        self.store = store
        self.config = store.config
        self.web = web_config
        self.clock = clock
        self.announcer = announcer
        self.lock = threading.Lock()
        self.version = 0
        # Called as f(counter_id, action, outcome) after each committed counter action (the rating pads).
        self.after_action = []
        self.recent = self._recent_from_journal()

    def _recent_from_journal(self):
        """The day's latest calls, from the journal, so a restarted kiosk shows the same board."""
        day = self.store.day
        calls = []
        if day is None:
            return calls
        for _id, _day, t_ms, action, _args, records in self.store.journal(day):
            if action in ("call_next", "recall"):
                for kind, body, _t in records:
                    if kind == "call":
                        calls.insert(0, {"number": body["number"], "counter": body["counter"], "t_ms": t_ms})
        return calls[:RECENT_CALLS]

    # ------------------------------------------------------------ names

    def category_name(self, lang, prefix):
        return self.web.labels.get(lang, {}).get(prefix) or self.config.categories[prefix].name

    def label(self, counter_id):
        return self.web.counter_labels[counter_id]

    def announcements(self, number, counter_id):
        """{language: call text} of a call, e.g. "请 A012 号到 3 号窗口办理"."""
        return {lang: announcement(lang, number, self.label(counter_id)) for lang in CATALOGUES}

    # ------------------------------------------------------------ actions

    def issue(self, business, key, more=(), priority="normal", channel="kiosk"):
        """Take a ticket; returns the ticket view with people ahead and the estimate.

        The touch screen issues ordinary tickets only; the guidance desk
        passes ``priority`` (green, vip) and channel "desk" (Q-10, Q-11).

        Raises:
            ActionRefused, KeyConflict, JournalError: from the store (nothing changed).
        """
        with self.lock:
            now_ms = self.clock()
            before = self._estimate_or_none(now_ms, business, priority)
            outcome = self.store.do("issue", now_ms, business=business, key=key, more=list(more), priority=priority,
                                    channel=channel)
            if outcome.records:
                self.version += 1
            t = outcome.ticket
            ahead, est = (before if before is not None else (0, None))
            return {"number": t.number, "business": t.business, "category": t.category, "status": t.status,
                    "priority": priority, "day": self.store.day, "t_ms": now_ms,
                    "ahead": ahead, "estimate": est, "new": bool(outcome.records)}

    def _estimate_or_none(self, now_ms, business, priority="normal"):
        if business not in self.config.businesses or priority not in self.config.order:
            return None
        est = self.store.estimate(now_ms, business, priority)
        return est.ahead, _estimate_dict(est)

    def counter_action(self, counter_id, action, staff, **kwargs):
        """Apply a counter action (``COUNTER_ACTIONS``) for ``staff``; returns the counter view.

        Raises:
            ActionRefused, JournalError: from the store (nothing changed).
        """
        engine_action, calls = COUNTER_ACTIONS[action]
        if engine_action not in ("pause_counter", "open_counter", "close_counter"):
            kwargs["staff"] = staff
        with self.lock:
            now_ms = self.clock()
            outcome = self.store.do(engine_action, now_ms, counter_id=counter_id, **kwargs)
            if calls and outcome.ticket is not None:
                number = outcome.ticket.number
                self.recent = ([{"number": number, "counter": counter_id, "t_ms": now_ms}] + self.recent)
                self.recent = self.recent[:RECENT_CALLS]
                if self.announcer is not None:
                    texts = self.announcements(number, counter_id)
                    self.announcer.say([(lang, texts[lang]) for lang in self.web.voice_languages])
            self.version += 1
        for listener in self.after_action:
            listener(counter_id, action, outcome)
        return outcome

    def reprint(self, number):
        """Journal a reprint of a waiting or called ticket; returns ``(ticket view, reprints so far)``.

        Raises:
            ActionRefused, JournalError: from the store (nothing changed).
        """
        with self.lock:
            now_ms = self.clock()
            outcome = self.store.do("reprint", now_ms, number=number)
            t = outcome.ticket
            reprints = sum(1 for *_x, action, args, _r in self.store.journal(self.store.day)
                           if action == "reprint" and args.get("number") == number)
            est = self._estimate_or_none(now_ms, t.business, t.priority)
            return ({"number": t.number, "business": t.business, "category": t.category, "status": t.status,
                     "priority": t.priority, "day": self.store.day, "t_ms": now_ms,
                     "ahead": est[0] if est else 0, "estimate": est[1] if est else None}, reprints)

    # ------------------------------------------------------------ views

    def businesses(self, lang):
        """The touch screen's choices: categories with their business types and current estimate."""
        with self.lock:
            now_ms = self.clock()
            out = []
            for prefix in self.config.categories:
                codes = [c for c, b in self.config.businesses.items() if b.category == prefix]
                est = self._estimate_or_none(now_ms, codes[0])
                out.append({"prefix": prefix, "name": self.category_name(lang, prefix),
                            "businesses": [{"code": c, "name": business_name(lang, c)} for c in codes],
                            "waiting": est[0] if est else 0, "estimate": est[1] if est else None})
            return out

    def board(self, lang):
        """The waiting board: latest calls (number -> counter), waiting counts and estimates per category."""
        categories = self.businesses(lang)
        with self.lock:
            tickets = self.store.tickets()
            waiting = {}
            for t in tickets:
                if t.status == WAITING:
                    waiting[t.category] = waiting.get(t.category, 0) + 1
            active = {t.number: t.status for t in tickets if t.status in (CALLED, SERVING)}
            calling = [dict(c, label=self.label(c["counter"]), status=active.get(c["number"], "done"))
                       for c in self.recent]
            last = self.recent[0] if self.recent else None
            return {"version": self.version, "day": self.store.day,
                    "calling": calling,
                    "announcement": self.announcements(last["number"], last["counter"]) if last else None,
                    "categories": [{"prefix": c["prefix"], "name": c["name"], "waiting": waiting.get(c["prefix"], 0),
                                    "estimate": c["estimate"]} for c in categories]}

    def counter(self, counter_id, lang):
        """A counter page's state: status, the ticket it holds, and the queue it would call, in order."""
        with self.lock:
            now_ms = self.clock()
            store = self.store
            view = store.counter(counter_id)
            ticket = store.ticket(view.ticket) if view.ticket else None
            queue = store.waiting(counter_id, now_ms) if store.day is not None else []
            cfg = self.config.counters[counter_id]
            return {
                "counter": counter_id, "label": self.label(counter_id), "status": view.status,
                "categories": [{"prefix": p, "name": self.category_name(lang, p)} for p in cfg.categories],
                "ticket": None if ticket is None else _ticket_dict(ticket, lang, now_ms),
                "queue": [_ticket_dict(t, lang, now_ms) for t in queue],
                "transfer": {
                    "businesses": [{"code": c, "name": business_name(lang, c)} for c in self.config.businesses],
                    "counters": [{"id": c, "label": self.label(c)} for c in self.config.counters if c != counter_id],
                },
                "version": self.version,
            }


def _ticket_dict(t, lang, now_ms):
    return {"number": t.number, "business": t.business, "business_name": business_name(lang, t.business),
            "priority": t.priority, "status": t.status, "recalls": t.recalls,
            "waited_s": max(0, (now_ms - t.arrival_ms) // 1000)}


def _estimate_dict(est):
    return {"wait_s": None if est.wait_s is None else round(est.wait_s), "band_min": est.band_min,
            "counters": est.counters}
