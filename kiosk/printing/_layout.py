"""One layout definition for each slip, read by both the paper and the screen renderer.

A layout is a tuple of elements (``Text``, ``Qr``). ``_render.py`` turns it
into ESC/POS bytes for the printer and into a text preview for the web UI
and the logs; both read the same elements, so paper and screen never say
different things. Functions here are pure: values in, elements out; no
clock reads (times come in as UTC ms with the hall's zone), no I/O.

Privacy (S-01, K-09, open item 13 of the requirements): an account number
is masked before it enters a layout (last four characters kept), so no
renderer, log or preview can show it in full. A QR payload never carries it.

Widths: the printer's normal font has ``columns`` cells per line; a Chinese
character takes two (East Asian wide). Lines are wrapped and padded here,
by that measure, so both renderers print the very same strings.
"""

import datetime
import unicodedata
import urllib.parse

from ._errors import LayoutError

LEFT, CENTER = "left", "center"


class Text:
    """One line of text: its alignment, size (1 normal, 2 double, 3 triple) and weight."""

    __slots__ = ("text", "align", "size", "bold")

    def __init__(self, text, align=LEFT, size=1, bold=False):
        self.text, self.align, self.size, self.bold = text, align, size, bold

    def __repr__(self):
        return "Text(%r, %s, size=%d%s)" % (self.text, self.align, self.size, ", bold" if self.bold else "")


class Qr:
    """A QR code of ``payload`` (ASCII text), centred."""

    __slots__ = ("payload",)

    def __init__(self, payload):
        self.payload = payload

    def __repr__(self):
        return "Qr(%r)" % self.payload


# Chinese names of the business codes of hall-requirements.md §1, for the slip.
BUSINESS_ZH = {
    "new": "新装用电", "capacity_increase": "增容用电", "temporary": "临时用电", "payment": "电费缴纳",
    "repair": "故障报修", "report": "投诉举报", "assurance": "保电申请", "tou_enable": "峰谷电开通",
    "change.reduce": "减容", "change.suspend": "暂停", "change.temp_swap": "暂换", "change.relocate": "迁址",
    "change.move_meter": "移表", "change.temp_remove": "暂拆", "change.rename": "更名过户", "change.split": "分户",
    "change.merge": "并户", "change.close": "销户", "change.voltage": "改压", "change.category": "改类",
    "change.restore": "复装", "change.extend": "用电业务延期", "other.meter_fault": "计量装置故障",
    "other.refund_adjust": "电量电费退补", "other.suspend_supply": "中止供电", "other.restore_supply": "恢复供电",
    "other.bank_account": "修改帐号", "other.service_line": "更换接户线", "other.address": "路名门牌更改",
    "other.meter_unread": "表计未抄见", "other.complaint": "投诉处理", "other.consult": "咨询",
    "other.dispute": "用电纠纷处理",
}
METHOD_NAMES = {"cash": ("现金", "Cash"), "card": ("银行卡", "Card"), "qr": ("扫码", "QR code"),
                "bank": ("银行", "Bank"), "manual": ("手工预收", "Manual")}


def cells(text):
    """Printed width of ``text`` in normal-font cells: 2 for a wide (CJK) character, else 1."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text, width):
    """Split ``text`` into lines of at most ``width`` cells, at spaces where possible."""
    lines, line = [], ""
    for word in text.split(" "):
        candidate = word if not line else line + " " + word
        if cells(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:              # a word longer than a line (Chinese has no spaces) breaks anywhere
            if cells(line + ch) > width:
                lines.append(line)
                line = ""
            line += ch
    lines.append(line)
    return lines


def pair(label, value, width):
    """``label`` left and ``value`` right on one line of ``width`` cells (two lines if they do not fit)."""
    gap = width - cells(label) - cells(value)
    if gap >= 1:
        return [label + " " * gap + value]
    return wrap(label, width) + [" " * max(0, width - cells(value)) + value]


def local_time(t_ms, tz):
    """``YYYY-MM-DD HH:MM:SS`` of a UTC ms time in the hall's zone."""
    return datetime.datetime.fromtimestamp(t_ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S")


def yuan(fen):
    """Integer fen as yuan text with two decimals: 15830 -> ``"158.30"``."""
    if type(fen) is not int or fen < 0:
        raise LayoutError("amount", "an amount is a non-negative integer of fen, got %r" % (fen,))
    return "%d.%02d" % divmod(fen, 100)


def _head(cfg, title_zh, title_en, reprints):
    width = cfg.columns
    out = [Text(line, CENTER, bold=True) for line in wrap(cfg.hall, width)]
    out += [Text(line, CENTER) for line in wrap(cfg.hall_en, width)] if cfg.hall_en else []
    title = "%s / %s" % (title_zh, title_en)
    titles = [title] if cells(title) <= width else wrap(title_zh, width) + wrap(title_en, width)
    out += [Text(line, CENTER, bold=True) for line in titles]
    if reprints:
        if type(reprints) is not int or reprints < 0:
            raise LayoutError("reprints", "a reprint count is a non-negative integer, got %r" % (reprints,))
        out.append(Text("重打 / REPRINT %d" % reprints, CENTER, size=2, bold=True))
    out.append(Text("-" * width))
    return out


def _rows(pairs, width):
    return [Text(line) for label, value in pairs for line in pair(label, value, width)]


def ticket_layout(cfg, number, day, business, category_name, ahead, band_min, t_ms, tz, reprints=0):
    """The queue ticket: hall, category, number (big), business, people ahead, estimated wait, time.

    Args:
        cfg: the ``PrinterConfig`` (hall names, columns, ``queue_url`` for the optional QR).
        number: the ticket number ("A012").
        day: its business day (``YYYY-MM-DD``).
        business: the business code; its Chinese name is printed too (§1).
        category_name: the category's display name ("Electricity business").
        ahead: tickets that will be called first.
        band_min: the wait band in minutes (``Estimate.band_min``) or None (unknown / long).
        t_ms, tz: the issue time (UTC ms) and the hall's zone.
        reprints: 0 for the first print; n for the n-th reprint (marked "重打 / REPRINT n").

    Returns:
        A tuple of layout elements.

    Raises:
        LayoutError: a value cannot be printed (bad number, negative count...).
    """
    if not isinstance(number, str) or not number.isascii() or not number.isalnum() or len(number) > 8:
        raise LayoutError("number", "a ticket number is 1-8 letters and digits, got %r" % (number,))
    if type(ahead) is not int or ahead < 0:
        raise LayoutError("ahead", "people ahead is a non-negative integer, got %r" % (ahead,))
    width = cfg.columns
    wait = ("约 %d 分钟内 / under %d min" % (band_min, band_min)) if band_min else "请留意叫号 / please listen for calls"
    out = _head(cfg, "排队凭条", "Queue ticket", reprints)
    out += [Text(line, CENTER) for line in wrap(category_name, width)]
    out.append(Text(number, CENTER, size=3, bold=True))
    out += _rows([("业务 Business", BUSINESS_ZH.get(business, business)),
                  ("前面等候 Ahead", "%d 人 / %d" % (ahead, ahead))], width)
    out += [Text(line) for line in wrap("预计等候 Est. wait: " + wait, width)]
    out += _rows([("时间 Time", local_time(t_ms, tz))], width)
    out.append(Text("-" * width))
    out += [Text(line) for line in wrap("请在叫号时到对应窗口办理。过号请重新取号或咨询引导台。", width)]
    out += [Text(line) for line in wrap("Please go to the counter when your number is called.", width)]
    if cfg.queue_url:
        out.append(Qr("%s?%s" % (cfg.queue_url, urllib.parse.urlencode({"day": day, "n": number}))))
    return tuple(out)


def receipt_payload(cfg, serial, amount_fen, day):
    """The receipt QR payload: ``<verify_url>?r=<serial>&fen=<amount>&d=<day>``, or without a URL
    ``RCPT:<serial>:<amount_fen>:<day>``. Enough to look the receipt up and compare the amount;
    never the account."""
    if cfg.verify_url:
        return "%s?%s" % (cfg.verify_url, urllib.parse.urlencode({"r": serial, "fen": amount_fen, "d": day}))
    return "RCPT:%s:%d:%s" % (serial, amount_fen, day)


def receipt_layout(cfg, serial, account_masked, amount_fen, method, t_ms, tz, provisional=False,
                   received_fen=None, change_fen=None, ticket=None, kwh=None, reprints=0):
    """A payment receipt, or the provisional receipt of a manual pre-collection (P-02).

    Args:
        cfg: the ``PrinterConfig``.
        serial: the receipt serial (P-05), 1-64 printable ASCII characters.
        account_masked: the account as ``mask_account`` gives it (stars, last 4);
            anything with more than 4 characters unmasked is refused.
        amount_fen: the amount paid, integer fen.
        method: "cash", "card", "qr", "bank" or "manual".
        t_ms, tz: the payment time (UTC ms) and the hall's zone.
        provisional: True for a manual pre-collection: the slip is titled a
            provisional receipt and says it is posted after the system recovers.
        received_fen, change_fen: cash received and change given (P-03), or None.
        ticket: the queue ticket number, or None.
        kwh: the energy billed, or None (P-03: "电量是_,电费是_").
        reprints: as for ``ticket_layout``.

    Returns:
        A tuple of layout elements.

    Raises:
        LayoutError: a value is wrong, or the account is not masked.
    """
    if not isinstance(serial, str) or not 1 <= len(serial) <= 64 or not serial.isascii() or not serial.isprintable():
        raise LayoutError("serial", "a receipt serial is 1-64 printable ASCII characters, got %r" % (serial,))
    if (not isinstance(account_masked, str) or not account_masked.startswith("*")
            or len(account_masked.lstrip("*")) > 4):
        # Refuse rather than mask here: an unmasked number must not reach even the error text.
        raise LayoutError("account_masked", "an account on paper is masked: stars then at most 4 characters "
                                            "(mask_account)")
    if method not in METHOD_NAMES:
        raise LayoutError("method", "a method is one of %s, got %r" % (", ".join(METHOD_NAMES), method))
    width = cfg.columns
    if provisional:
        out = _head(cfg, "手工预收临时收据", "PROVISIONAL RECEIPT", reprints)
    else:
        out = _head(cfg, "电费缴费凭证", "Payment receipt", reprints)
    rows = [("凭证号 No.", serial), ("户号 Account", account_masked)]
    if ticket:
        rows.append(("排队号 Ticket", ticket))
    if kwh is not None:
        rows.append(("电量 Energy", "%.2f kWh" % kwh))
    rows += [("金额 Amount", yuan(amount_fen) + " 元"), ("方式 Method", "%s %s" % METHOD_NAMES[method])]
    if received_fen is not None:
        rows.append(("实收 Received", yuan(received_fen) + " 元"))
    if change_fen is not None:
        rows.append(("找零 Change", yuan(change_fen) + " 元"))
    rows.append(("时间 Time", local_time(t_ms, tz)))
    out += _rows(rows, width)
    out.append(Text("-" * width))
    if provisional:
        out += [Text(line, bold=True) for line in wrap("系统故障期间经客户同意手工预收，系统恢复后入账，"
                                                       "请保留本收据。", width)]
        out += [Text(line, bold=True) for line in wrap("Collected by hand with your consent while the system "
                                                       "is down; posted when it recovers. Keep this slip.", width)]
    else:
        if received_fen is not None and change_fen is not None:     # P-03, 004 Annex 6
            out += [Text(line) for line in wrap("您这是%s元钱，应找您%s元，请点清收好。"
                                                % (yuan(received_fen), yuan(change_fen)), width)]
        out += [Text(line) for line in wrap("Thank you. Please keep this receipt.", width)]
    day = local_time(t_ms, tz)[:10]
    out.append(Qr(receipt_payload(cfg, serial, amount_fen, day)))
    return tuple(out)
