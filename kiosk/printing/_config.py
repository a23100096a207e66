"""The ``[printer]`` table of a kiosk's TOML file: which printer and how tickets look.

Parsing is strict and happens once: unknown keys are refused, each value is
checked, and an error names the file and the full key with what was expected
and what was found (``PrinterConfigError``). docs/kiosk.md ("Printing") is
the reference; kiosk/samples/printer.toml is an example.
"""

import ipaddress
import re

from .._toml import read_table
from ._errors import PrinterConfigError

KINDS = ("usb", "serial", "network", "dummy")
ENCODINGS = ("gb18030", "gbk")
QR_MODES = ("native", "image", "off")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})\Z")
_COMMON = {"kind", "encoding", "columns", "qr", "cut", "status_check", "timeout_s", "hall", "hall_en", "verify_url",
           "queue_url"}
_BY_KIND = {"usb": {"vendor_id", "product_id"}, "serial": {"device", "baud"}, "network": {"host", "port"},
            "dummy": set()}


class PrinterConfig:
    """A checked ``[printer]`` table.

    Attributes:
        kind: "usb", "serial", "network" or "dummy" (tests and previews).
        vendor_id, product_id: USB ids (kind usb).
        device, baud: serial device path and speed (kind serial).
        host, port: printer address (kind network, raw TCP, usually 9100).
        encoding: "gb18030" (default) or "gbk": how Chinese text is sent.
        columns: characters per line of the normal font (32 for 58 mm paper, 48 for 80 mm).
        qr: "native" (the printer draws it, GS ( k), "image" (a raster) or "off".
        cut: cut the paper after each job.
        status_check: ask the printer for paper and online status before each job.
        timeout_s: how long to wait for the printer.
        hall, hall_en: the hall's name on every ticket and receipt.
        verify_url: the base of the receipt QR payload, or None.
        queue_url: the base of the ticket QR payload (check the queue), or None: no QR on tickets.
        source: the file the table came from.
    """

    __slots__ = ("kind", "vendor_id", "product_id", "device", "baud", "host", "port", "encoding", "columns", "qr",
                 "cut", "status_check", "timeout_s", "hall", "hall_en", "verify_url", "queue_url", "source")

    @classmethod
    def from_dict(cls, table, source="<dict>"):
        """Check a ``[printer]`` table given as a dict.

        Raises:
            PrinterConfigError: a key is unknown, missing or wrong.
        """
        p = _Parser(source)
        if not isinstance(table, dict):
            p.fail("printer", "a table", table)
        kind = table.get("kind")
        if kind not in KINDS:
            p.fail("printer.kind", "one of %s" % ", ".join(KINDS), kind)
        allowed = _COMMON | _BY_KIND[kind]
        for key in table:
            if key not in allowed:
                p.fail("printer.%s" % key, "one of the keys of a %s printer (%s)" % (kind, ", ".join(sorted(allowed))),
                       "an unknown key")
        c = cls()
        c.source, c.kind = source, kind
        c.vendor_id = c.product_id = c.device = c.baud = c.host = c.port = None
        if kind == "usb":
            c.vendor_id = p.int(table, "vendor_id", 1, 0xFFFF, required=True)
            c.product_id = p.int(table, "product_id", 1, 0xFFFF, required=True)
        elif kind == "serial":
            c.device = p.text(table, "device", 1, 256, required=True)
            c.baud = p.choice(table, "baud", (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200), 9600)
        elif kind == "network":
            c.host = p.text(table, "host", 1, 253, required=True)
            if not _HOST.match(c.host):
                try:
                    ipaddress.ip_address(c.host)
                except ValueError:
                    p.fail("printer.host", "a host name or IP address", c.host)
            c.port = p.int(table, "port", 1, 65535, default=9100)
        c.encoding = p.choice(table, "encoding", ENCODINGS, "gb18030")
        c.columns = p.int(table, "columns", 24, 64, default=32)
        c.qr = p.choice(table, "qr", QR_MODES, "native")
        c.cut = p.bool(table, "cut", True)
        c.status_check = p.bool(table, "status_check", kind in ("serial", "network"))
        c.timeout_s = p.num(table, "timeout_s", 0.1, 60, 5.0)
        c.hall = p.text(table, "hall", 1, 40, required=True)
        c.hall_en = p.text(table, "hall_en", 0, 48, default="")
        for key in ("verify_url", "queue_url"):
            value = p.text(table, key, 1, 200, default=None)
            if value is not None and not re.match(r"https?://[!-~]+\Z", value):
                p.fail("printer.%s" % key, "an http:// or https:// URL without spaces", value)
            setattr(c, key, value)
        for key in ("hall", "hall_en"):
            try:
                getattr(c, key).encode(c.encoding)
            except UnicodeEncodeError:
                p.fail("printer.%s" % key, "text the %s encoding can print" % c.encoding, getattr(c, key))
        return c

    def describe(self):
        """The printer in a few words, for messages: ``"serial /dev/ttyUSB0"``."""
        if self.kind == "usb":
            return "usb %04x:%04x" % (self.vendor_id, self.product_id)
        if self.kind == "serial":
            return "serial %s" % self.device
        if self.kind == "network":
            return "network %s:%d" % (self.host, self.port)
        return "dummy"


def load_printer_config(path):
    """Read and check the ``[printer]`` table of a TOML file.

    Args:
        path: the file.

    Returns:
        A ``PrinterConfig``.

    Raises:
        PrinterConfigError: the file cannot be read, is not TOML, has no
            ``[printer]`` table, or a key is wrong.
    """
    table, source = read_table(path, "printer", PrinterConfigError)
    return PrinterConfig.from_dict(table, source)


class _Parser:
    def __init__(self, source):
        self.source = source

    def fail(self, key, expected, got):
        raise PrinterConfigError(self.source, key, expected, got)

    def _get(self, table, key, default, required):
        if key not in table:
            if required:
                self.fail("printer.%s" % key, "a value", "nothing")
            return default, False
        return table[key], True

    def int(self, table, key, lo, hi, default=None, required=False):
        value, given = self._get(table, key, default, required)
        if given and (type(value) is not int or not lo <= value <= hi):
            self.fail("printer.%s" % key, "an integer %d..%d" % (lo, hi), value)
        return value

    def num(self, table, key, lo, hi, default):
        value, given = self._get(table, key, default, False)
        if given and (type(value) not in (int, float) or not lo <= value <= hi):
            self.fail("printer.%s" % key, "a number %g..%g" % (lo, hi), value)
        return float(value)

    def bool(self, table, key, default):
        value, given = self._get(table, key, default, False)
        if given and type(value) is not bool:
            self.fail("printer.%s" % key, "true or false", value)
        return value

    def text(self, table, key, lo, hi, default=None, required=False):
        value, given = self._get(table, key, default, required)
        if given and (not isinstance(value, str) or not lo <= len(value) <= hi or not value.isprintable()):
            self.fail("printer.%s" % key, "printable text of %d..%d characters" % (lo, hi), value)
        return value

    def choice(self, table, key, choices, default):
        value, given = self._get(table, key, default, False)
        if given and (value not in choices or type(value) is not type(choices[0])):
            self.fail("printer.%s" % key, "one of %s" % ", ".join(str(c) for c in choices), value)
        return value
