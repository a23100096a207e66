"""What the admin page shows: the settings in force and the device's health.

The settings summary is read-only and leaves out every secret: no PIN
hashes, no session secret, only which staff numbers exist and what they may
do. Health gathers, each part optional: the outbox (depth, unacked, oldest
age) and the hall link from the edge runtime (state, last acknowledged
sequence, and when the hall last acknowledged one, as this module sees it
change), the printer, the rating pads, the journal files' sizes, the
clock's quality and the counters' states.
"""

import os
import threading

from kiosk.queue import OPEN, PAUSED


class Health:
    """Builds the health view of a running app.

    Args:
        service: the ``QueueService``.
        printing: the ``PrintService``.
        rating: the ``RatingService`` or None.
        runtime: an ``edge.DeviceRuntime`` or None (the hall link and outbox figures).
        outbox: an ``edge.outbox.Outbox`` or None (used when there is no runtime).
        files: {name: path} of journal files whose sizes are shown.
        clock_quality: ``() -> (t_ms, tq)`` (``edge.clock.ClockQuality``) or None.
    """

    def __init__(self, service, printing, rating=None, runtime=None, outbox=None, files=None, clock_quality=None):
        self.service, self.printing, self.rating = service, printing, rating
        self.runtime, self.outbox = runtime, outbox if outbox is not None else getattr(runtime, "outbox", None)
        self.files = dict(files or {})
        self.clock_quality = clock_quality
        self._acked = None            # (acked_seq, when it was first seen at that value)
        self._lock = threading.Lock()

    def __call__(self):
        now_ms = self.service.clock()
        view = {"t_ms": now_ms, "outbox": self._outbox(now_ms), "hall": self._hall(now_ms),
                "printer": self.printing.health(), "rating": self.rating.health() if self.rating else None,
                "journals": {name: _size(path) for name, path in sorted(self.files.items())},
                "clock": self._clock(), "counters": self._counters()}
        return view

    def _outbox(self, now_ms):
        if self.outbox is None:
            return None
        try:
            f = self.outbox.figures()
        except Exception as exc:       # a closed or broken outbox is shown, not raised into the page
            return {"error": str(exc)}
        self._note_ack(f.acked_seq, now_ms)
        return {"depth_records": f.depth_records, "depth_bytes": f.depth_bytes, "unacked": f.last_seq - f.acked_seq,
                "in_flight": f.in_flight, "last_seq": f.last_seq, "acked_seq": f.acked_seq,
                "oldest_unacked_age_s": f.oldest_unacked_age_s, "alarm": f.alarm}

    def _note_ack(self, acked_seq, now_ms):
        with self._lock:
            if self._acked is None or self._acked[0] != acked_seq:
                # The first value seen at start has no known time; later changes are timed here.
                self._acked = (acked_seq, now_ms if self._acked is not None else None)

    def _hall(self, now_ms):
        if self.runtime is None:
            return None
        try:
            f = self.runtime.figures()
        except Exception as exc:
            return {"error": str(exc)}
        self._note_ack(getattr(f, "acked_seq", None), now_ms)
        return {"state": f.state, "connected": f.connected, "reconnects": f.reconnects,
                "acked_seq": getattr(f, "acked_seq", None), "last_ack_t_ms": self._acked[1] if self._acked else None,
                "last_error": None if f.last_error is None else str(f.last_error)}

    def _clock(self):
        if self.clock_quality is None:
            return None
        try:
            t_ms, tq = self.clock_quality()
        except Exception as exc:
            return {"error": str(exc)}
        return {"t_ms": t_ms, "quality": tq}

    def _counters(self):
        store = self.service.store
        out = {}
        with self.service.lock:
            for cid in self.service.config.counters:
                view = store.counter(cid)
                out[cid] = {"label": self.service.label(cid), "status": view.status, "ticket": view.ticket}
        return {"counters": out, "open": sum(1 for c in out.values() if c["status"] == OPEN),
                "paused": sum(1 for c in out.values() if c["status"] == PAUSED)}


def _size(path):
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.path.getsize(str(path) + suffix)
        except OSError:
            pass
    return total


def settings_summary(web, queue, printer_cfg=None, rating_cfg=None):
    """The settings in force for the admin page: no PIN hashes, no secret."""
    return {
        "web": {"host": web.host, "port": web.port, "session_h": web.session_h, "max_failures": web.max_failures,
                "lockout_s": web.lockout_s, "secret": "set" if web.secret else "random per start",
                "voice": web.voice, "voice_languages": list(web.voice_languages), "source": web.source},
        "queue": {"timezone": queue.timezone, "opens": "%02d:%02d" % divmod(queue.opens_min, 60),
                  "closes": "%02d:%02d" % divmod(queue.closes_min, 60), "classes": list(queue.order),
                  "desk_only": sorted(queue.desk_only), "categories": list(queue.categories),
                  "counters": {cid: {"label": web.counter_labels[cid], "categories": list(c.categories),
                                     "pad": web.pads.get(cid)} for cid, c in queue.counters.items()}},
        "staff": {number: {"counters": list(counters), "roles": sorted(web.roles.get(number, ()))}
                  for number, (_hash, counters) in sorted(web.staff.items())},
        "printer": None if printer_cfg is None else {
            "printer": printer_cfg.describe(), "encoding": printer_cfg.encoding, "columns": printer_cfg.columns,
            "qr": printer_cfg.qr, "status_check": printer_cfg.status_check, "hall": printer_cfg.hall},
        "rating": None if rating_cfg is None else {"timeout_s": rating_cfg.timeout_s,
                                                   "reasons": list(rating_cfg.reasons)},
    }
