"""Tickets on the kiosk's printer, as the web app sees them: print on issue, reprint, and the printer's state.

The ticket exists once the queue stored it; printing comes after, outside
the queue's lock, and a failure never takes the number away: the screen
shows it with the printer's message and a reprint button (queue-systems.md
rule 4). The last outcome is kept for the admin page and health:
``state`` is "ok", "offline", "paper-out" or "none" (no printer
configured), with the message of the last failure.
"""

import logging
import threading

from kiosk.printing import LayoutError, PaperOut, PrinterError, PrinterOffline, ticket_layout

log = logging.getLogger("kiosk.web")


class PrintService:
    """The configured ``kiosk.printing.Printer``, or None for a kiosk without one.

    Args:
        printer: a ``Printer`` or None.
        queue_config: the ``QueueConfig`` (time zone, category names).

    Attributes:
        state: "ok", "offline", "paper-out", "none" (no printer) or "unknown" (nothing printed yet).
        last_error: the message of the last failure, or None.
        printed: slips printed since start.
    """

    def __init__(self, printer, queue_config):
        self.printer = printer
        self.queue_config = queue_config
        self.state = "none" if printer is None else "unknown"
        self.last_error = None
        self.printed = 0
        self._lock = threading.Lock()      # one job at a time on the one printer

    def ticket(self, view, category_name, t_ms, reprints=0):
        """Print a ticket view of ``QueueService.issue``.

        Returns:
            ``{"printed": bool, "state": ..., "error": message or None}``.
        """
        if self.printer is None:
            return {"printed": False, "state": "none", "error": None}
        cfg = self.printer.cfg
        est = view.get("estimate") or {}
        try:
            layout = ticket_layout(cfg, view["number"], view.get("day") or "", view["business"], category_name,
                                   view.get("ahead", 0), est.get("band_min"), t_ms, self.queue_config.tz,
                                   reprints=reprints)
        except LayoutError as exc:
            return self._failed("layout", exc)
        return self._print(layout, "ticket %s" % view["number"])

    def test_page(self, t_ms):
        """A test slip from the admin page (a ticket numbered T000, marked as a test reprint)."""
        if self.printer is None:
            return {"printed": False, "state": "none", "error": None}
        layout = ticket_layout(self.printer.cfg, "T000", "", "other.consult", "测试 / TEST", 0, None, t_ms,
                               self.queue_config.tz)
        return self._print(layout, "test page")

    def _print(self, layout, what):
        with self._lock:
            try:
                self.printer.print(layout, what)
            except PaperOut as exc:
                return self._failed("paper-out", exc)
            except PrinterOffline as exc:
                return self._failed("offline", exc)
            except PrinterError as exc:
                return self._failed("offline", exc)
            self.state, self.last_error = "ok", None
            self.printed += 1
            return {"printed": True, "state": "ok", "error": None}

    def _failed(self, state, exc):
        log.warning("printing: %s", exc)
        if state != "layout":
            self.state = state
        self.last_error = str(exc)
        return {"printed": False, "state": state, "error": str(exc)}

    def health(self):
        """The printer's state for the admin page."""
        if self.printer is None:
            return {"configured": False, "state": "none"}
        return {"configured": True, "printer": self.printer.name, "state": self.state,
                "paper_low": self.printer.paper_low, "jobs": self.printer.jobs, "printed": self.printed,
                "last_error": self.last_error}
