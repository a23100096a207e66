"""Tickets and receipts on ESC/POS: bytes decoded back, the QR command, masking, config errors, dead printers.

The bytes come from a python-escpos Dummy printer, a serial printer on a
real pty (with a responder playing the printer's status replies) and a
network printer on a real loopback socket.
"""

import logging
import os
import select
import socket
import threading
import time
import tty
import zoneinfo

import pytest

from kiosk.payment import mask_account
from kiosk.printing import (LayoutError, PaperOut, Printer, PrinterConfig, PrinterConfigError, PrinterOffline,
                            load_printer_config, receipt_layout, receipt_payload, render_escpos, render_text,
                            ticket_layout)

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
T = 1717382400000 + 2 * 3600 * 1000          # 2024-06-03 10:00 in the hall
HALL = "城东供电营业厅"
ACCOUNT = "3100001201"
BASE = {"kind": "dummy", "hall": HALL, "hall_en": "East City Supply Hall", "verify_url": "https://hall.example.cn/r",
        "queue_url": "https://hall.example.cn/q"}


def cfg(**changes):
    return PrinterConfig.from_dict(dict(BASE, **changes), "printer.toml")


def parse(data):
    """Split ESC/POS bytes into (commands, text, qr payloads); fail on any byte we did not mean to send."""
    commands, text, qrs, i = [], bytearray(), [], 0
    fixed = {b"\x1b@": 2, b"\x1c&": 2, b"\x1d!": 3, b"\x1bE": 3, b"\x1ba": 3, b"\x1bd": 3, b"\x1dV": 3, b"\x1bt": 3,
             b"\x1b!": 3}
    while i < len(data):
        head = data[i:i + 2]
        if data[i] not in (0x1B, 0x1C, 0x1D):
            text.append(data[i])
            i += 1
        elif head == b"\x1dV" and data[i + 2] in (65, 66):      # cut with feed: GS V m n
            commands.append(bytes(data[i:i + 4]))
            i += 4
        elif head in fixed:
            commands.append(bytes(data[i:i + fixed[head]]))
            i += fixed[head]
        elif data[i:i + 3] == b"\x1d(k":
            n = data[i + 3] + 256 * data[i + 4]
            body = bytes(data[i + 5:i + 5 + n])
            if body[:3] == b"1P0":
                qrs.append(body[3:].decode("ascii"))
            commands.append(b"\x1d(k" + body[:2])
            i += 5 + n
        elif data[i:i + 3] == b"\x1dv0":
            width, height = data[i + 5] + 256 * data[i + 6], data[i + 7] + 256 * data[i + 8]
            commands.append(b"\x1dv0")
            i += 9 + width * height
        else:
            raise AssertionError("unexpected command %r at byte %d" % (bytes(data[i:i + 4]), i))
    return commands, bytes(text), qrs


def paper_lines(data, encoding="gb18030"):
    return [line.strip() for line in parse(data)[1].decode(encoding).split("\n") if line.strip()]


def screen_lines(layout, columns):
    return [line.strip() for line in render_text(layout, columns).splitlines()
            if line.strip() and not line.startswith("[QR]")]


def ticket(config, reprints=0):
    return ticket_layout(config, "A012", "2024-06-03", "change.rename", "Electricity business", 3, 10, T, TZ,
                         reprints=reprints)


def receipt(config, **kw):
    args = dict(received_fen=20000, change_fen=4170, ticket="B003", kwh=301.5)
    args.update(kw)
    return receipt_layout(config, "R20240603-0001", mask_account(ACCOUNT), 15830, "cash", T, TZ, **args)


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("columns", [32, 48])
def test_ticket_bytes_decode_back_to_the_preview(encoding, columns):
    config = cfg(encoding=encoding, columns=columns)
    printer = Printer(config)
    preview = printer.print(ticket(config), "ticket A012")
    data = printer.output
    commands, _, qrs = parse(data)
    assert data.startswith(b"\x1b@\x1c&")                  # reset, then Chinese character mode
    assert paper_lines(data, encoding) == screen_lines(ticket(config), columns)
    assert HALL in paper_lines(data, encoding)[0]
    assert HALL.encode(encoding) in data
    assert "更名过户" in preview and "A012" in preview
    assert b"\x1d!\x22" in commands                        # the number printed triple size
    assert qrs == ["https://hall.example.cn/q?day=2024-06-03&n=A012"]


def test_receipt_carries_a_native_qr_of_serial_and_amount_and_the_masked_account(caplog):
    config = cfg()
    printer = Printer(config)
    with caplog.at_level(logging.DEBUG, logger="kiosk.printing"):
        preview = printer.print(receipt(config), "receipt R20240603-0001")
    data = printer.output
    _, _, qrs = parse(data)
    assert qrs == [receipt_payload(config, "R20240603-0001", 15830, "2024-06-03")]
    assert "r=R20240603-0001" in qrs[0] and "fen=15830" in qrs[0]
    lines = paper_lines(data)
    assert lines == screen_lines(receipt(config), 32)
    assert any(line.endswith("******1201") for line in lines)
    assert "您这是200.00元钱，应找您41.70元，请点清收好。" in "".join(lines)          # P-03
    # S-01, K-09: the full account is nowhere: not on paper, in the QR, the preview or the log.
    for where in (data, preview.encode(), caplog.text.encode(), "".join(qrs).encode()):
        assert ACCOUNT.encode() not in where
    assert "receipt R20240603-0001" in caplog.text


def test_an_unmasked_account_is_refused_without_showing_it():
    with pytest.raises(LayoutError) as err:
        receipt_layout(cfg(), "R1", ACCOUNT, 100, "cash", T, TZ)
    assert err.value.field == "account_masked" and ACCOUNT not in str(err.value)


def test_provisional_receipt_is_marked_as_such_P02():
    config = cfg()
    layout = receipt_layout(config, "P-0001", mask_account(ACCOUNT), 15830, "manual", T, TZ, provisional=True)
    text = render_text(layout, 32)
    assert "手工预收临时收据" in text and "PROVISIONAL RECEIPT" in text and "系统恢复后入账" in text
    assert "PROVISIONAL" not in render_text(receipt(config), 32)
    printer = Printer(config)
    printer.print(layout)
    assert paper_lines(printer.output) == screen_lines(layout, 32)


def test_reprint_is_marked_with_its_count():
    config = cfg()
    assert "REPRINT" not in render_text(ticket(config), 32)
    for n in (1, 2):
        printer = Printer(config)
        printer.print(ticket(config, reprints=n))
        assert "重打 / REPRINT %d" % n in paper_lines(printer.output)
    printer = Printer(config)
    printer.print(receipt(config, reprints=1))
    assert "重打 / REPRINT 1" in paper_lines(printer.output)


def test_qr_as_image_and_off():
    image = Printer(cfg(qr="image"))
    image.print(receipt(cfg(qr="image")))
    commands, _, qrs = parse(image.output)
    assert b"\x1dv0" in commands and qrs == []
    off = Printer(cfg(qr="off"))
    off.print(receipt(cfg(qr="off")))
    commands, _, qrs = parse(off.output)
    assert b"\x1dv0" not in commands and not any(c.startswith(b"\x1d(k") for c in commands)


def test_without_a_queue_url_the_ticket_has_no_qr():
    config = PrinterConfig.from_dict({k: v for k, v in BASE.items() if k != "queue_url"})
    printer = Printer(config)
    printer.print(ticket(config))
    assert parse(printer.output)[2] == []


def test_layout_values_are_checked():
    config = cfg()
    with pytest.raises(LayoutError, match="number"):
        ticket_layout(config, "A 12", "2024-06-03", "payment", "B", 0, None, T, TZ)
    with pytest.raises(LayoutError, match="ahead"):
        ticket_layout(config, "A012", "2024-06-03", "payment", "B", -1, None, T, TZ)
    with pytest.raises(LayoutError, match="amount"):
        receipt_layout(config, "R1", "******1201", 1.5, "cash", T, TZ)
    with pytest.raises(LayoutError, match="method"):
        receipt_layout(config, "R1", "******1201", 100, "cheque", T, TZ)
    gbk = cfg(encoding="gbk")
    with pytest.raises(LayoutError, match="line 5.*gbk"):
        render_escpos(ticket_layout(gbk, "A012", "2024-06-03", "payment", "Pay \U0001F600", 0, None, T, TZ), gbk)


@pytest.mark.parametrize("text, key", [
    ('kind = "bluetooth"\nhall = "h"', "printer.kind"),
    ('kind = "serial"\nhall = "h"', "printer.device"),
    ('kind = "serial"\ndevice = "/dev/ttyS0"\nbaud = 9601\nhall = "h"', "printer.baud"),
    ('kind = "usb"\nvendor_id = 0x0416\nhall = "h"', "printer.product_id"),
    ('kind = "usb"\nvendor_id = 70000\nproduct_id = 1\nhall = "h"', "printer.vendor_id"),
    ('kind = "network"\nhost = "printer one"\nhall = "h"', "printer.host"),
    ('kind = "network"\nhost = "10.0.0.9"\nport = 0\nhall = "h"', "printer.port"),
    ('kind = "dummy"\nhall = "h"\ncolour = "red"', "printer.colour"),
    ('kind = "dummy"\nhall = "h"\ndevice = "/dev/ttyS0"', "printer.device"),
    ('kind = "dummy"\nhall = "h"\ncolumns = 100', "printer.columns"),
    ('kind = "dummy"\nhall = "h"\nencoding = "utf-8"', "printer.encoding"),
    ('kind = "dummy"\nhall = "h"\nqr = true', "printer.qr"),
    ('kind = "dummy"\nhall = "h"\nverify_url = "ftp://x"', "printer.verify_url"),
    ('kind = "dummy"\nhall = "营业厅\U0001F600"\nencoding = "gbk"', "printer.hall"),
    ('kind = "dummy"', "printer.hall"),
    ('kind = "dummy"\nhall = "h"\ntimeout_s = "5"', "printer.timeout_s"),
])
def test_bad_printer_config_names_file_and_key(tmp_path, text, key):
    path = tmp_path / "kiosk.toml"
    path.write_text("[printer]\n" + text + "\n", encoding="utf-8")
    with pytest.raises(PrinterConfigError) as err:
        load_printer_config(path)
    assert err.value.key == key and err.value.source == str(path)
    assert str(err.value).startswith("%s: %s: expected " % (path, key))


def test_unreadable_or_tableless_config(tmp_path):
    with pytest.raises(PrinterConfigError, match=r"\(file\): expected a readable TOML file"):
        load_printer_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[printer\n")
    with pytest.raises(PrinterConfigError, match=r"\(file\): expected valid TOML"):
        load_printer_config(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("[queue]\n")
    with pytest.raises(PrinterConfigError, match="printer: expected a \\[printer\\] table"):
        load_printer_config(empty)


def test_the_sample_file_loads():
    here = os.path.dirname(__file__)
    config = load_printer_config(os.path.join(here, "..", "..", "kiosk", "samples", "printer.toml"))
    assert config.kind == "serial" and config.status_check


# ---- real ports ------------------------------------------------------------------------------


class PtyPrinter:
    """The printer's end of a pty: answers DLE EOT 1 and 4 with the given bytes (None: silence), keeps the rest."""

    def __init__(self, online=0x12, paper=0x12):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.replies = {b"\x10\x04\x01": online, b"\x10\x04\x04": paper}
        self.received = bytearray()
        self._stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            self.received += chunk
            for ask, reply in self.replies.items():
                if self.received.endswith(ask) and reply is not None:
                    os.write(self.master, bytes([reply]))

    def close(self):
        self._stop = True
        self.thread.join(2)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_printer():
    made = []

    def make(**replies):
        made.append(PtyPrinter(**replies))
        return made[-1]
    yield make
    for p in made:
        p.close()


def serial_cfg(path, **changes):
    return cfg(**dict({"kind": "serial", "device": path, "timeout_s": 0.5}, **changes))


def test_serial_printer_prints_after_its_status_says_ready(pty_printer):
    end = pty_printer()
    config = serial_cfg(end.path)
    printer = Printer(config)
    printer.print(ticket(config))
    job = render_escpos(ticket(config), config)
    end_s = time.monotonic() + 5.0          # bytes cross a pty in milliseconds; generous on a busy machine
    while job not in end.received and time.monotonic() < end_s:
        time.sleep(0.01)
    printer.close()
    assert end.received.startswith(b"\x10\x04\x01\x10\x04\x04")
    assert job in end.received and not printer.paper_low


def test_serial_printer_out_of_paper_gets_no_job(pty_printer):
    end = pty_printer(paper=0x72)          # paper-end bits 5-6 set
    config = serial_cfg(end.path)
    printer = Printer(config)
    with pytest.raises(PaperOut, match="paper roll is out") as err:
        printer.print(ticket(config))
    assert err.value.printer == "serial %s" % end.path
    assert b"\x1c&" not in end.received                     # nothing of the job was sent
    printer.close()


def test_serial_printer_near_end_prints_and_says_so(pty_printer):
    end = pty_printer(paper=0x1E)
    config = serial_cfg(end.path)
    printer = Printer(config)
    printer.print(ticket(config))
    assert printer.paper_low
    printer.close()


@pytest.mark.parametrize("replies, words", [({"online": None}, "no reply"), ({"online": 0x1A}, "offline"),
                                            ({"online": 0xFF}, "not an ESC/POS status byte")])
def test_serial_printer_silent_offline_or_babbling_is_offline(pty_printer, replies, words):
    end = pty_printer(**replies)
    config = serial_cfg(end.path, timeout_s=0.3)
    printer = Printer(config)
    with pytest.raises(PrinterOffline, match=words):
        printer.print(ticket(config))


def test_missing_serial_device_is_offline(tmp_path):
    config = serial_cfg(str(tmp_path / "ttyNONE"))
    with pytest.raises(PrinterOffline, match="cannot open"):
        Printer(config).print(ticket(config))


def test_network_printer_on_loopback_gets_the_job():
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def serve():
        conn, _ = server.accept()
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                received.extend(chunk)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    config = cfg(kind="network", host="127.0.0.1", port=server.getsockname()[1], status_check=False, timeout_s=2)
    printer = Printer(config)
    printer.print(receipt(config))
    printer.close()
    thread.join(5)
    server.close()
    assert bytes(received) == render_escpos(receipt(config), config)


def test_network_printer_that_refuses_is_offline():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()                                            # nothing listens there now
    config = cfg(kind="network", host="127.0.0.1", port=port, timeout_s=1)
    with pytest.raises(PrinterOffline, match="network 127.0.0.1:%d: cannot open" % port):
        Printer(config).print(ticket(config))
