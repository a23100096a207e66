# MicroPython-compatible: see STYLE.md
"""DL/T 645 codec on the real MicroPython binary (run by tests/test_micropython.py).

Checks every vector of tests/vectors/dlt645.json (the file the CPython tests
use), feeds the frames through ``FrameExtractor`` (whole, byte by byte, with
noise, concatenated) and checks a few error cases. Prints one summary line
per part and exits 1 on any failure. Runs in a 128 KB heap, so vectors are
read one line at a time.
"""

import sys

from protocols.dlt645 import (BCDError, ChecksumError, ControlCodeError, DataIdentifierError, DLT645Error,
                              EndByteError, FrameExtractor, LengthError, build_frame, describe, parse_di,
                              parse_frame)
from protocols.dlt645 import _selfcheck

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
VECTORS = _here + "/../vectors/dlt645.json"

failed_checks = 0
checks = 0


def expect(ok, what):
    global failed_checks, checks
    checks += 1
    if not ok:
        failed_checks += 1
        print("FAIL %s" % what)


def frames_of(vector):
    data = bytes.fromhex(vector["hex"].replace(" ", ""))
    s = 0
    while data[s] == 0xFE:
        s += 1
    return data, data[s:]


def check_extractor():
    """§17: whole, byte by byte, with trailing noise, and all frames in one stream."""
    stream = FrameExtractor()
    want = []
    for vector in _selfcheck.iter_vectors(VECTORS):
        data, frame = frames_of(vector)
        name = vector["name"]
        got = FrameExtractor().feed(data)
        expect(got == [frame], "%s: extractor whole gave %r" % (name, got))
        ex = FrameExtractor()
        got = []
        for i in range(len(data)):
            got += ex.feed(data[i:i + 1])
        expect(got == [frame], "%s: extractor byte by byte gave %r" % (name, got))
        ex = FrameExtractor()
        got = ex.feed(b"\x00\x16\x68\x16" + data + b"\x16\x00\xfe")
        expect(got == [frame], "%s: extractor with noise gave %r" % (name, got))
        got = stream.feed(data)
        expect(got == [frame], "%s: extractor in a stream gave %r" % (name, got))
        want.append(len(frame))
    expect(stream.pending == 0, "stream left %d bytes pending" % stream.pending)
    expect(stream.frames == len(want), "stream emitted %d frames of %d" % (stream.frames, len(want)))
    # Stale partial frame (§16 inter-byte timeout): dropped when now_ms passes 500 ms.
    ex = FrameExtractor()
    ex.feed(b"\x68\x42\x00\x15\x11\x23\x20\x68\x91", 1000)
    ex.feed(b"", 1600)
    expect(ex.pending == 0 and ex.discards["stale"] == 1, "stale partial frame kept")


def raises(exc_class, data, what):
    try:
        parse_frame(data)
    except exc_class as exc:
        expect(isinstance(exc, DLT645Error) and exc.message, "%s: empty message" % what)
        return exc
    except Exception as exc:  # noqa: BLE001 - report the wrong class, not crash
        expect(False, "%s raised %s, expected %s" % (what, type(exc).__name__, exc_class.__name__))
        return None
    expect(False, "%s did not raise %s" % (what, exc_class.__name__))
    return None


def check_errors():
    good = bytes.fromhex("68420015112320689108333334339A7856347D16")   # §15 W1 reply
    bad = bytearray(good)
    bad[18] = 0x7E
    exc = raises(ChecksumError, bytes(bad), "checksum")
    if exc is not None:
        expect(exc.offset == 18 and exc.expected == 0x7D and exc.got == 0x7E,
               "checksum fields %r %r %r" % (exc.offset, exc.expected, exc.got))
    bad = bytearray(good)
    bad[19] = 0x17
    raises(EndByteError, bytes(bad), "end byte")
    raises(LengthError, good[:-1], "short frame")
    # 0x05 is a function of neither edition.
    raises(ControlCodeError, build_frame("202311150042", 0x05, b"", 0), "control code")
    # value byte 0x9A -> plain 0x67 changed to wire 0x3E -> plain 0x0B: not BCD
    bad = bytearray(good)
    bad[14] = 0x3E
    bad[18] = (bad[18] + 0x3E - 0x9A) & 0xFF
    raises(BCDError, bytes(bad), "BCD digit")


def check_registry():
    """§13/§14: names and hex text both give the DI (a name scan on MicroPython)."""
    expect(parse_di("forward_active_total") == 0x00010000, "name of 00010000")
    expect(parse_di("forward_active_total", "1997") == 0x9010, "1997 name of 9010")
    expect(parse_di("0x0201FF00") == 0x0201FF00, "hex DI")
    expect(describe(0x02030000).element[0][3] is True, "active power is signed (§5)")
    try:
        parse_di("9010")
        expect(False, "4-digit DI accepted for 2007")
    except DataIdentifierError:
        expect(True, "")


def main():
    checked, failed = _selfcheck.run(_selfcheck.iter_vectors(VECTORS))
    print("dlt645 vectors: %d checked, %d failed" % (checked, failed))
    check_extractor()
    check_errors()
    check_registry()
    print("dlt645 stream and error checks: %d checked, %d failed" % (checks, failed_checks))
    if failed or failed_checks or not checked:
        sys.exit(1)


main()
