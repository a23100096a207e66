"""The adapter between one counter's rating pad (a pyserial URL) and the ``RatingStore``.

Thin (STYLE.md): it reads bytes, feeds ``PadParser``, calls the store and
writes the pad's commands. A bad line or a key the desk refuses (no prompt
open, a reason without a level) is ignored, counted (``errors``,
``refused``) and logged: a pad's noise never stops the kiosk. Ports are
pyserial URLs: a device path, a pty (``/dev/pts/N``) or ``socket://host:port``.
"""

import logging

import serial

from ._errors import PadError, RatingRefused
from ._wire import CANCELLED, NEED_REASON, THANKS, BadLine, KeyPress, PadParser, ReasonPick, ask_line

log = logging.getLogger("kiosk.rating")


class PadLink:
    """One counter's pad.

    Args:
        url: the pad's pyserial URL.
        store: the ``RatingStore``.
        counter: the counter id the pad sits at.

    Attributes:
        errors: bad lines received.
        refused: well-formed messages the desk refused (nothing changed).

    Raises:
        PadError: the port cannot be opened.
    """

    def __init__(self, url, store, counter):
        self.url, self.store, self.counter = url, store, counter
        self.parser = PadParser()
        self.refused = 0
        self._lit = None
        try:
            self._port = serial.serial_for_url(url, timeout=0, write_timeout=1.0)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise PadError(url, "cannot open: %s" % exc) from exc
        self._restore_light()

    @property
    def errors(self):
        return self.parser.errors

    def _restore_light(self):
        prompt = self.store.desk.pending(self.counter)
        if prompt is not None:           # after a restart the pending prompt is shown again
            self._write(ask_line(prompt.number) + (NEED_REASON if prompt.level is not None else b""))
            self._lit = (prompt.day, prompt.number)

    def _write(self, data):
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise PadError(self.url, "cannot write: %s" % exc) from exc

    def ask_after(self, now_ms, call_body):
        """Ask for a rating of the service act of a queue ``finish`` record; light the pad.

        Returns:
            The desk's records (a ``superseded`` one when a prompt was open).

        Raises:
            RatingRefused: as ``RatingDesk.ask_after`` (e.g. already rated).
            PadError: the pad cannot be written (the prompt stands and times out).
        """
        records = self.store.ask_after(now_ms, call_body)
        prompt = self.store.desk.pending(self.counter)
        self._lit = (prompt.day, prompt.number)
        self._write(ask_line(prompt.number))
        return records

    def poll(self, now_ms):
        """Read what the pad sent, act on it, and end prompts whose time is up.

        Returns:
            The records produced (a list).

        Raises:
            PadError: the port failed.
        """
        try:
            data = self._port.read(4096)
        except (serial.SerialException, OSError) as exc:
            raise PadError(self.url, "cannot read: %s" % exc) from exc
        records = []
        for event in self.parser.feed(data):
            if isinstance(event, BadLine):
                log.warning("rating pad %s (counter %s): ignored %r: %s", self.url, self.counter, event.line,
                            event.why)
                continue
            try:
                if isinstance(event, KeyPress):
                    out, needs_reason = self.store.press(now_ms, self.counter, event.level)
                    self._write(NEED_REASON if needs_reason else THANKS)
                else:
                    reason = event.index if isinstance(event, ReasonPick) else event.text
                    out = self.store.give_reason(now_ms, self.counter, reason)
                    self._write(THANKS)
            except RatingRefused as exc:
                self.refused += 1
                log.warning("rating pad %s: %s", self.url, exc)
                continue
            records.extend(out)
            if out:
                self._lit = None
        records.extend(r for r in self.store.expire(now_ms) if r.body["counter"] == self.counter)
        prompt = self.store.desk.pending(self.counter)
        if self._lit is not None and (prompt is None or (prompt.day, prompt.number) != self._lit):
            self._write(CANCELLED)
            self._lit = None
        return records

    def close(self):
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
