"""The rating pads as the web app sees them: the counter's touch page and its serial keypad, side by side.

When a counter finishes a ticket, ``after_finish`` opens the counter's
prompt (``RatingStore.ask_after`` with the queue's ``finish`` call body, so
it is bound to ticket, counter and signed-in staff, R-04). The customer
answers on the page (``press``, ``reason``) or on the serial pad
(``PadLink``); both act on the same prompt in the same store, so whichever
answers first wins and the other is refused ("no-prompt"). The pad is told
that the prompt ended (``C``) by ``PadLink.poll``; the page learns it from
its event stream.

A background thread (``start``/``stop``) polls the pads and ends prompts
whose time is up ("not rated", ``RatingStore.expire``), then wakes the
rating event streams. Rating never blocks the queue: a prompt that cannot
be opened is logged and counted in ``errors``, and the finish stands.
"""

import logging
import threading

from kiosk.rating import LEVELS, PadError, PadLink, RatingError, RatingRefused

log = logging.getLogger("kiosk.web")

POLL_S = 0.2          # pads and timeouts are looked at this often


class RatingService:
    """The ``RatingStore`` with the counters' pads and a change signal for the rating pages.

    Args:
        store: a ``kiosk.rating.RatingStore``.
        clock: returns now in UTC ms.
        pads: {counter id: pyserial URL}; a pad that cannot be opened is
            reported in ``pad_state`` and the page alone serves that counter.

    Attributes:
        version: bumped on every change (prompt opened, answered, ended).
        errors: the last few problems (prompt not opened, pad failures), newest last.
    """

    def __init__(self, store, clock, pads=None):
        self.store = store
        self.clock = clock
        self.version = 0
        self.errors = []
        self.lock = threading.Lock()
        self.links = {}
        self.pad_state = {}
        for counter, url in (pads or {}).items():
            try:
                self.links[counter] = PadLink(url, store, counter)
                self.pad_state[counter] = {"url": url, "connected": True, "error": None}
            except PadError as exc:
                self.pad_state[counter] = {"url": url, "connected": False, "error": str(exc)}
                self._note("pad of counter %s: %s" % (counter, exc))
        self.notify = lambda: None        # the app sets it to wake the rating event streams
        self._stop = threading.Event()
        self._thread = None

    def _note(self, message):
        log.warning("rating: %s", message)
        self.errors = (self.errors + [message])[-10:]

    def _changed(self):
        self.version += 1
        self.notify()

    # ------------------------------------------------------------ the queue's hook

    def after_finish(self, counter_id, records):
        """The queue finished a ticket at ``counter_id``: open its prompt (R-01, R-04).

        Args:
            counter_id: the counter.
            records: the finish action's records; the ``call`` record with
                action "finish" binds the prompt.
        """
        bodies = [body for kind, body, *_ in records if kind == "call" and body.get("action") == "finish"]
        if not bodies:
            return
        with self.lock:
            now_ms = self.clock()
            link = self.links.get(counter_id)
            try:
                if link is not None:
                    link.ask_after(now_ms, bodies[0])
                else:
                    self.store.ask_after(now_ms, bodies[0])
            except PadError as exc:            # the prompt stands on the page and times out as usual
                self.pad_state[counter_id].update(connected=False, error=str(exc))
                self._note("pad of counter %s: %s" % (counter_id, exc))
            except RatingError as exc:
                self._note("no prompt for %s at counter %s: %s" % (bodies[0].get("number"), counter_id, exc))
                return
            self._changed()

    # ------------------------------------------------------------ the page's answers

    def press(self, counter_id, level):
        """The customer tapped ``level`` on the page. Returns the prompt view after it.

        Raises:
            RatingRefused: no prompt open, a bad level, or the pad answered first.
            RatingStoreError: the journal cannot be written (nothing changed).
        """
        with self.lock:
            _out, needs_reason = self.store.press(self.clock(), counter_id, level)
            self._changed()
            view = self.prompt(counter_id)
            view["done"] = not needs_reason
            return view

    def reason(self, counter_id, reason):
        """The reason for a level 1 or 2: a number of the list (1-based) or typed text.

        Raises:
            RatingRefused: no prompt, no level 1-2 chosen, an unknown number or bad text.
            RatingStoreError: the journal cannot be written.
        """
        with self.lock:
            self.store.give_reason(self.clock(), counter_id, reason)
            self._changed()
            return dict(self.prompt(counter_id), done=True)

    # ------------------------------------------------------------ views

    def prompt(self, counter_id):
        """The rating page's state: idle, or the prompt (ticket, level chosen, seconds left)."""
        p = self.store.desk.pending(counter_id)
        now_ms = self.clock()
        if p is None or p.deadline_ms <= now_ms:
            return {"counter": counter_id, "state": "idle", "version": self.version}
        return {"counter": counter_id, "state": "reason" if p.level is not None else "ask", "number": p.number,
                "level": p.level, "left_s": max(0, (p.deadline_ms - now_ms) // 1000), "version": self.version}

    def choices(self, lang):
        """The five levels (best first) and the reasons, for the page."""
        index = 0 if lang == "zh-CN" else 1
        return {"levels": [{"level": n, "name": LEVELS[n][index]} for n in sorted(LEVELS, reverse=True)],
                "reasons": list(self.store.config.reasons), "timeout_s": self.store.config.timeout_s}

    def health(self):
        """Pads, pending prompts, unposted records and recent problems (for the admin page)."""
        return {"pads": {c: dict(s, errors=self.links[c].errors if c in self.links else 0,
                                 refused=self.links[c].refused if c in self.links else 0)
                         for c, s in self.pad_state.items()},
                "pending": sorted(self.store.desk.prompts()), "unposted": self.store.unposted(),
                "timeout_s": self.store.config.timeout_s, "errors": list(self.errors)}

    # ------------------------------------------------------------ the poller

    def tick(self):
        """Poll every pad and end the prompts whose time is up; wakes the pages when something changed."""
        with self.lock:
            now_ms = self.clock()
            before = self.store.desk.prompts()
            for counter, link in self.links.items():
                try:
                    link.poll(now_ms)
                    if not self.pad_state[counter]["connected"]:
                        self.pad_state[counter].update(connected=True, error=None)
                except PadError as exc:
                    if self.pad_state[counter]["connected"]:
                        self._note("pad of counter %s: %s" % (counter, exc))
                    self.pad_state[counter].update(connected=False, error=str(exc))
            try:
                self.store.expire(now_ms)
            except RatingError as exc:
                self._note("expiring prompts: %s" % exc)
            if self.store.desk.prompts() != before:
                self._changed()

    def _run(self):
        while not self._stop.wait(POLL_S):
            try:
                self.tick()
            except Exception as exc:       # the poller must outlive any one failure; it is logged and shown
                self._note("poller: %s" % exc)

    def start(self):
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="kiosk-rating", daemon=True)
            self._thread.start()

    def stop(self):
        """Stop the poller and close the pads (the store stays open: the caller closes it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for link in self.links.values():
            link.close()


__all__ = ["RatingService", "RatingRefused"]
