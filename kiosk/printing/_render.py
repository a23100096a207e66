"""Renderers of a layout (``_layout.py``): ESC/POS bytes for the paper, text for the screen.

Both walk the same elements, so what the customer holds and what the web UI
or the log shows are the same lines (the tests decode the bytes back and
compare them with the preview).

Chinese text. python-escpos encodes text through single-byte code pages
(``MagicEncode``); its capability profiles list none for Chinese, so
``Escpos.text`` cannot print 汉字. Chinese thermal printers instead have a
"Chinese character mode" (FS &, 0x1C 0x26) in which they read GB18030 (or
GBK on older models) double-byte text from their own font ROM. So the
commands (alignment, bold, size, QR, cut) come from python-escpos, and each
line of text is encoded here with the configured encoding and written raw
after FS &. GB18030 never produces a byte below 0x30 inside a character,
so encoded text cannot be mistaken for a command.
"""

from escpos.printer import Dummy

from ._errors import LayoutError
from ._layout import CENTER, Qr, Text, cells

INIT = b"\x1b@"                 # ESC @: reset the printer's modes
CHINESE_ON = b"\x1c&"           # FS &: Chinese character mode (GB18030/GBK double-byte text)
QR_SIZE = 6                     # module size in dots: a 60-80 character URL is about 3 cm wide at 203 dpi
FEED_LINES = 3


def render_escpos(layout, cfg):
    """ESC/POS bytes of a layout for the configured printer.

    Args:
        layout: a tuple of ``Text``/``Qr`` elements.
        cfg: the ``PrinterConfig`` (encoding, QR mode, cut).

    Returns:
        bytes, ready to send.

    Raises:
        LayoutError: a line has a character the encoding cannot print, or a
            QR payload is not ASCII.
    """
    out = Dummy()
    out._raw(INIT + CHINESE_ON)
    for i, element in enumerate(layout):
        if isinstance(element, Text):
            try:
                data = element.text.encode(cfg.encoding)
            except UnicodeEncodeError as exc:
                raise LayoutError("line %d" % (i + 1), "%r has %r, which %s cannot encode"
                                  % (element.text, element.text[exc.start:exc.end], cfg.encoding)) from exc
            out.set(align=element.align, bold=element.bold, custom_size=True, width=element.size,
                    height=element.size)
            out._raw(data + b"\n")
        elif isinstance(element, Qr):
            if not element.payload.isascii():
                raise LayoutError("line %d" % (i + 1), "a QR payload is ASCII, got %r" % element.payload)
            if cfg.qr == "off":
                continue
            out.set(align=CENTER, bold=False, custom_size=True, width=1, height=1)
            out.qr(element.payload, size=QR_SIZE, native=cfg.qr == "native", center=False)
            out._raw(b"\n")
        else:
            raise LayoutError("line %d" % (i + 1), "not a layout element: %r" % (element,))
    out.set(align="left", bold=False, custom_size=True, width=1, height=1)
    out._raw(b"\n" * FEED_LINES)     # not Escpos.ln: its text path selects a code page (ESC t)
    if cfg.cut:
        out.cut(feed=False)
    return out.output


def render_text(layout, columns):
    """The text preview of a layout: the slip's lines as a screen or a log shows them.

    Centred lines are padded to the middle of the paper width (a size-n line
    has ``columns // n`` cells); a QR code shows as ``[QR] <payload>``.

    Args:
        layout: a tuple of ``Text``/``Qr`` elements.
        columns: the paper's normal-font width in cells.

    Returns:
        str, one line per printed line, ending with a newline.
    """
    lines = []
    for element in layout:
        if isinstance(element, Qr):
            lines.append("[QR] " + element.payload)
            continue
        width = columns // element.size
        text = element.text
        if element.align == CENTER:
            text = " " * max(0, (width - cells(text)) // 2) + text
        lines.append(text.rstrip())
    return "\n".join(lines) + "\n"
