"""Reading one data item from one meter, with retries and follow-up frames.

Builds the request with the codec, exchanges it on a ``Line``, and when the
meter says more frames follow (B1H / A1H, DL/T 645 §8, §9) asks for them
(12H with SEQ 1, 2, ... / 1997 02H) and decodes the joined block. Retries
repeat the same frame on silence or a bad checksum (§16: 2-3 attempts); an
abnormal reply is an answer, not a failure to retry.
"""

import time

from protocols.dlt645 import (DLT645Error, build_follow_up_request, build_read_request, decode_value,
                              describe, format_di)

from ._errors import BadReply, ReplyTimeout
from ._line import raise_if_abnormal
from ._matching import Expectation

MAX_FOLLOW_UPS = 16     # a 255-byte frame carries ~250 value bytes; 16 is far beyond any real block


class Reading:
    """The decoded answer to one read.

    Attributes:
        address: the meter that answered (from its reply header).
        std, di, name, value, unit: what was read.
        frames: number of request frames it took (retries and follow-ups included).
        elapsed_s: time from the first request to the last reply.
    """

    def __init__(self, address, std, di, name, value, unit, frames, elapsed_s):
        self.address = address
        self.std = std
        self.di = di
        self.name = name
        self.value = value
        self.unit = unit
        self.frames = frames
        self.elapsed_s = elapsed_s

    def as_dict(self):
        value = self.value
        if isinstance(value, (bytes, bytearray)):
            value = {"hex": bytes(value).hex()}
        return {"address": self.address, "std": self.std, "di": format_di(self.di, self.std),
                "name": self.name, "value": value, "unit": self.unit, "frames": self.frames,
                "elapsed_ms": round(self.elapsed_s * 1000, 1)}


def _exchange_with_retries(line, request, expectation, retries, counter):
    last = None
    for _attempt in range(retries + 1):
        counter[0] += 1
        try:
            return line.exchange(request, expectation)
        except ReplyTimeout as exc:
            last = exc
    if retries:
        last.args = ("%s, %d attempts" % (last.args[0], retries + 1),)
    raise last


def read(line, address, di, std="2007", retries=2):
    """Read one DI from one meter.

    Args:
        line: an open Line.
        address: 12-digit address (or a shortened AA pattern).
        di: DI as int.
        std: "2007" or "1997".
        retries: extra attempts on silence or checksum failure.

    Returns:
        Reading.

    Raises:
        ReplyTimeout / ChecksumFailure: no usable reply after every attempt.
        AbnormalReply: the meter refused (error bits say why).
        BadReply: the reply is malformed.
        LineError: the port failed.
    """
    counter = [0]
    started = time.monotonic()
    read_fn = 0x01 if std == "1997" else 0x11
    request = build_read_request(address, di, std)
    ex = _exchange_with_retries(line, request, Expectation(address, read_fn, di, std), retries, counter)
    frame = raise_if_abnormal(ex.frame)
    answered = frame.address
    if not frame.has_more:
        return Reading(answered, std, di, frame.di_name, frame.value, frame.unit, counter[0],
                       time.monotonic() - started)
    payload = bytearray(frame.payload)
    seq = 1
    while frame.has_more:
        if seq > MAX_FOLLOW_UPS:
            raise BadReply("meter %s kept sending follow-up frames for %s beyond %d"
                           % (answered, format_di(di, std), MAX_FOLLOW_UPS))
        follow = build_follow_up_request(answered, di, seq, std)
        fn = 0x02 if std == "1997" else 0x12
        ex = _exchange_with_retries(line, follow, Expectation(answered, fn, di, std), retries, counter)
        frame = raise_if_abnormal(ex.frame)
        payload += frame.payload
        seq += 1
    try:
        value, unit = decode_value(di, bytes(payload), std)
    except DLT645Error as exc:
        raise BadReply("joined follow-up value from %s is malformed: %s" % (answered, exc)) from exc
    item = describe(di, std)
    return Reading(answered, std, di, item.name if item else None, value, unit, counter[0],
                   time.monotonic() - started)
