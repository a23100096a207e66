"""The printer adapter: opens the configured ESC/POS printer, checks it, sends a job.

A thin adapter (STYLE.md): python-escpos drives USB, serial and TCP; this
module adds the status check and turns every device failure into
``PrinterOffline`` or ``PaperOut``, so the kiosk can carry on and decide
(queue-systems.md rule 4: the ticket exists once it is stored; a failed
print is told to the customer, who can ask for a reprint).

Status (ESC/POS DLE EOT): before a job, when ``status_check`` is on, the
printer is asked for its printer status (n=1; bit 3 set = offline) and its
roll-paper sensor (n=4; bits 5-6 = paper end, bits 2-3 = near end). Each
reply is one byte of the form 0xx1xx10; anything else, or silence within
``timeout_s``, is "offline". python-escpos's own ``paper_status`` reads
silence as "paper adequate", which would hide a dead printer, hence our own.
"""

import logging
import termios

from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy, Network, Serial, Usb

from ._errors import PaperOut, PrinterOffline
from ._render import render_escpos, render_text

log = logging.getLogger("kiosk.printing")

STATUS_PRINTER = b"\x10\x04\x01"     # DLE EOT 1
STATUS_PAPER = b"\x10\x04\x04"       # DLE EOT 4
_OFFLINE = 0x08
_PAPER_END = 0x60
_PAPER_NEAR_END = 0x0C


def status_ok(byte):
    """True when ``byte`` has the fixed bits of a DLE EOT reply (0xx1xx10)."""
    return byte & 0x93 == 0x12


class Printer:
    """One configured printer.

    Args:
        cfg: a ``PrinterConfig``.

    Attributes:
        paper_low: True when the last status check saw the near-end sensor
            (print still works; staff should change the roll).
        jobs: jobs sent since the printer was made.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.paper_low = False
        self.jobs = 0
        self._dev = None

    @property
    def name(self):
        return self.cfg.describe()

    def _device(self):
        if self._dev is not None:
            return self._dev
        cfg = self.cfg
        try:
            if cfg.kind == "dummy":
                dev = Dummy()
            elif cfg.kind == "serial":
                dev = Serial(devfile=cfg.device, baudrate=cfg.baud, timeout=cfg.timeout_s, dsrdtr=False)
                dev.open()
            elif cfg.kind == "network":
                dev = Network(host=cfg.host, port=cfg.port, timeout=cfg.timeout_s)
                dev.open()
            else:
                dev = Usb(idVendor=cfg.vendor_id, idProduct=cfg.product_id, timeout=int(cfg.timeout_s * 1000))
                dev.open()
        except (EscposError, OSError, ValueError) as exc:
            raise PrinterOffline(self.name, "cannot open: %s" % (str(exc).strip() or type(exc).__name__)) from exc
        self._dev = dev
        return dev

    def close(self):
        """Close the connection (the next job opens it again)."""
        dev, self._dev = self._dev, None
        if dev is not None and not isinstance(dev, Dummy):
            try:
                dev.close()
            except (EscposError, OSError, termios.error) as exc:    # a pty or USB gone: nothing left to close
                log.warning("printer %s: closing: %s", self.name, exc)

    @property
    def output(self):
        """Bytes sent so far to a ``dummy`` printer (for tests and previews)."""
        return self._device().output

    def check(self):
        """Ask the printer whether it is online and has paper.

        Raises:
            PrinterOffline: no or a malformed reply within ``timeout_s``, or the printer says it is offline.
            PaperOut: the paper-end sensor is set.
        """
        dev = self._device()
        online = self._ask(dev, STATUS_PRINTER, "printer status")
        if online & _OFFLINE:
            self.close()
            raise PrinterOffline(self.name, "reports itself offline (status 0x%02x: cover open or error)" % online)
        paper = self._ask(dev, STATUS_PAPER, "paper status")
        if paper & _PAPER_END:
            self.close()
            raise PaperOut(self.name, "paper roll is out (status 0x%02x); load paper and reprint" % paper)
        self.paper_low = bool(paper & _PAPER_NEAR_END)

    def _ask(self, dev, command, what):
        try:
            dev._raw(command)
            # A status reply is one byte. Serial._read asks for 16 and so would always
            # wait the whole timeout; a socket or USB read returns what has come.
            reply = dev.device.read(1) if isinstance(dev, Serial) else dev._read()
        except (EscposError, OSError) as exc:
            self.close()
            raise PrinterOffline(self.name, "asking %s: %s" % (what, exc)) from exc
        if not reply:
            self.close()
            raise PrinterOffline(self.name, "no reply to the %s request within %.1f s" % (what, self.cfg.timeout_s))
        if not status_ok(reply[-1]):
            self.close()
            raise PrinterOffline(self.name, "%s reply 0x%02x is not an ESC/POS status byte" % (what, reply[-1]))
        return reply[-1]

    def print(self, layout, what="slip"):
        """Print one layout.

        Args:
            layout: from ``ticket_layout`` or ``receipt_layout``.
            what: a short label for the log ("ticket A012").

        Returns:
            The text preview of what was printed (for the screen and the log).

        Raises:
            LayoutError: the layout cannot be encoded (nothing sent).
            PrinterOffline, PaperOut: the printer cannot print (nothing sent
                when the status check caught it; otherwise part of the job may
                have come out: offer a reprint).
        """
        data = render_escpos(layout, self.cfg)
        dev = self._device()
        if self.cfg.status_check and self.cfg.kind != "dummy":
            self.check()
        try:
            dev._raw(data)
            if hasattr(getattr(dev, "device", None), "flush"):
                dev.device.flush()
        except (EscposError, OSError) as exc:
            self.close()
            raise PrinterOffline(self.name, "sending %s: %s" % (what, exc)) from exc
        self.jobs += 1
        preview = render_text(layout, self.cfg.columns)
        log.info("printed %s on %s (%d bytes)", what, self.name, len(data))
        log.debug("%s:\n%s", what, preview)
        return preview
