"""Tickets and receipts on the kiosk's ESC/POS thermal printer, and the same slips as text.

``ticket_layout`` and ``receipt_layout`` define each slip once; ``render_escpos``
makes the printer's bytes (Chinese text in GB18030 or GBK) and ``render_text``
the preview for the web UI and the logs. ``Printer`` sends a job to the
configured printer (USB, serial, network or a dummy) and raises
``PrinterOffline`` or ``PaperOut`` when it cannot; the kiosk carries on.
``load_printer_config`` reads the ``[printer]`` table. docs/kiosk.md
("Printing") is the reference.
"""

from ._config import ENCODINGS, KINDS, QR_MODES, PrinterConfig, load_printer_config
from ._device import Printer
from ._errors import LayoutError, PaperOut, PrinterConfigError, PrinterError, PrinterOffline, PrintingError
from ._layout import BUSINESS_ZH, Qr, Text, cells, receipt_layout, receipt_payload, ticket_layout, wrap, yuan
from ._render import render_escpos, render_text

__all__ = [
    "PrinterConfig", "load_printer_config", "KINDS", "ENCODINGS", "QR_MODES",
    "Printer", "ticket_layout", "receipt_layout", "receipt_payload", "render_escpos", "render_text",
    "Text", "Qr", "cells", "wrap", "yuan", "BUSINESS_ZH",
    "PrintingError", "PrinterConfigError", "LayoutError", "PrinterError", "PrinterOffline", "PaperOut",
]
