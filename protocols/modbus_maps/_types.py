"""Register data types: numbers <-> 16-bit register words.

Modbus carries 16-bit registers, each sent high byte first (Modbus
Application Protocol 1.1b3 §4.2). A 32-bit value spans two registers and
the order of the two words is the device's choice: ``"big"`` puts the high
word at the lower address (what CHINT calls ABCD), ``"little"`` the low
word (CDAB). Byte order inside a register is never swapped here: no meter
we support does that, and the map says so explicitly (``byte_order``).

Types: ``u16``, ``s16``, ``u32``, ``s32`` (two's complement), ``f32``
(IEEE 754 single precision). Pure functions, no I/O; errors are raised by
the caller, which knows the model and item (these return None or raise
ValueError/OverflowError/struct.error only on programming errors).
"""

import struct

# type -> (registers, struct format of the big-endian bytes)
TYPES = {
    "u16": (1, ">H"),
    "s16": (1, ">h"),
    "u32": (2, ">I"),
    "s32": (2, ">i"),
    "f32": (2, ">f"),
}
WORD_ORDERS = ("big", "little")

_LIMITS = {
    "u16": (0, 0xFFFF),
    "s16": (-0x8000, 0x7FFF),
    "u32": (0, 0xFFFFFFFF),
    "s32": (-0x80000000, 0x7FFFFFFF),
}
F32_MAX = 3.4028234663852886e38


def width(dtype):
    """Registers a value of ``dtype`` takes."""
    return TYPES[dtype][0]


def int_limits(dtype):
    """(lowest, highest) raw integer of an integer type, or None for f32."""
    return _LIMITS.get(dtype)


def words_to_raw(dtype, words, word_order):
    """The raw number (int, or float for f32) held in ``words`` (already checked 0..65535)."""
    if word_order == "little" and len(words) == 2:
        words = (words[1], words[0])
    data = b"".join(struct.pack(">H", w) for w in words)
    return struct.unpack(TYPES[dtype][1], data)[0]


def raw_to_words(dtype, raw, word_order):
    """The register words of raw number ``raw`` (int in range, or float for f32)."""
    data = struct.pack(TYPES[dtype][1], raw)
    words = [struct.unpack(">H", data[i:i + 2])[0] for i in range(0, len(data), 2)]
    if word_order == "little" and len(words) == 2:
        words.reverse()
    return words
