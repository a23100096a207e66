# MicroPython-compatible: see STYLE.md
"""Self-check of the codec against the shared test vectors.

The same vector file (``tests/vectors/dlt645.json``) drives the CPython tests
and this check, which also runs on the MicroPython target. A vector is a dict
``{"name", "hex", "std", "expect", "build"?}``: ``expect`` holds Frame fields
in JSON form (tuples as lists, raw bytes as ``{"hex": ...}``, ``di`` as hex
text), ``build`` a builder call ``{"fn", "args", "kwargs"?}`` that must give
``hex`` exactly.

Failures are collected and reported, never raised, so one run shows every
mismatch (and ``python -O`` cannot remove the checks).

The vector file holds one vector per line inside its JSON list, so
``iter_vectors`` can read it line by line in a small heap.
"""

import json

from . import _build, _commands
from ._errors import DLT645Error
from ._frame import parse_frame

_FLOAT_TOLERANCE = 1e-9


def iter_vectors(path):
    """Yield the vectors of a file holding one JSON object per line.

    The file is a JSON list (``[``, one vector per line with a trailing comma,
    ``]``), so ``json.load`` reads it too; reading it line by line keeps only
    one vector in memory at a time.
    """
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line.endswith(","):
                line = line[:-1]
            if line.startswith("{"):
                yield json.loads(line)


def jsonable(value):
    """The JSON form of a decoded value: tuples as lists, bytes as {"hex": ...}."""
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"hex": "".join(["%02x" % b for b in value])}
    return value


def _call_arg(value):
    """A builder argument from its JSON form: lists as tuples, {"hex"} as bytes."""
    if isinstance(value, list):
        return tuple([_call_arg(v) for v in value])
    if isinstance(value, dict):
        return bytes.fromhex(value["hex"])
    return value


def same(got, want):
    """Equality of JSON forms, floats within a relative 1e-9."""
    if isinstance(want, float) or isinstance(got, float):
        if isinstance(got, bool) or isinstance(want, bool) or got is None or want is None:
            return False
        if not isinstance(got, (int, float)) or not isinstance(want, (int, float)):
            return False
        scale = abs(want) if abs(want) > 1 else 1
        return abs(got - want) <= _FLOAT_TOLERANCE * scale
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return False
        for i in range(len(want)):
            if not same(got[i], want[i]):
                return False
        return True
    if isinstance(want, dict):
        if not isinstance(got, dict) or len(got) != len(want):
            return False
        for key in want:
            if key not in got or not same(got[key], want[key]):
                return False
        return True
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    return got == want


def _field(frame, key):
    if key == "di":
        return frame.di_text
    return jsonable(getattr(frame, key))


def build_call(build):
    """Call the builder a vector names; return its bytes."""
    name = build["fn"]
    fn = getattr(_build, name) if hasattr(_build, name) else getattr(_commands, name)
    args = [_call_arg(a) for a in build.get("args", [])]
    kwargs = {}
    extra = build.get("kwargs", {})
    for key in extra:
        kwargs[key] = _call_arg(extra[key])
    return fn(*args, **kwargs)


def check(vector):
    """Check one vector; return a list of mismatch descriptions (empty when fine)."""
    problems = []
    data = bytes.fromhex(vector["hex"].replace(" ", ""))
    std = vector["std"]
    try:
        frame = parse_frame(data, std)
    except DLT645Error as exc:
        return ["parse_frame raised %s: %s" % (type(exc).__name__, exc)]
    if frame.std != std:
        problems.append("std %r, expected %r" % (frame.std, std))
    expect = vector.get("expect", {})
    for key in expect:
        try:
            got = _field(frame, key)
        except AttributeError:
            problems.append("Frame has no field %r" % key)
            continue
        if not same(got, expect[key]):
            problems.append("%s = %r, expected %r" % (key, got, expect[key]))
    if frame.function != 0x08:
        # Only 08H is shared; every other code names its edition (§7).
        try:
            auto = parse_frame(data).std
        except DLT645Error as exc:
            auto = "%s: %s" % (type(exc).__name__, exc)
        if auto != std:
            problems.append("parse_frame without std gives edition %r, expected %r" % (auto, std))
    build = vector.get("build")
    if build is not None:
        try:
            built = build_call(build)
        except DLT645Error as exc:
            built = None
            problems.append("%s raised %s: %s" % (build["fn"], type(exc).__name__, exc))
        if built is not None and bytes(built) != data:
            problems.append("%s built %s, expected %s" % (build["fn"], jsonable(built)["hex"],
                                                          jsonable(data)["hex"]))
    return problems


def run(vectors, report=print):
    """Check every vector; report each mismatch through ``report``.

    Args:
        vectors: iterable of vector dicts.
        report: called with one line of text per mismatch.

    Returns:
        (checked, failed): vectors checked and vectors with a mismatch.
    """
    checked = 0
    failed = 0
    for vector in vectors:
        checked += 1
        problems = check(vector)
        if problems:
            failed += 1
            for p in problems:
                report("FAIL %s: %s" % (vector.get("name"), p))
    return checked, failed
