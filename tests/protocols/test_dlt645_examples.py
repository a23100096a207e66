"""The shared DL/T 645 vectors (tests/vectors/dlt645.json) on CPython.

Each vector is a frame from the reference (§15 W1-W10) or a frame of one
function code of either edition (§8, §9), with the Frame fields it must parse
to and the builder call that must reproduce it byte for byte. The same file
drives the MicroPython self-check (tests/micropython/mpy_dlt645.py).
"""

import json
from pathlib import Path

import pytest

from protocols.dlt645 import FUNCTIONS_1997, FUNCTIONS_2007, FrameExtractor, parse_frame
from protocols.dlt645._selfcheck import build_call, check, iter_vectors, jsonable, same

VECTOR_FILE = Path(__file__).resolve().parent.parent / "vectors" / "dlt645.json"
with open(VECTOR_FILE, encoding="utf-8") as _fh:
    VECTORS = json.load(_fh)
IDS = [v["name"] for v in VECTORS]


def _bytes(vector):
    return bytes.fromhex(vector["hex"])


def _without_preamble(data):
    return data.lstrip(b"\xfe")


def test_file_is_one_vector_per_line():
    """The MicroPython check reads the file line by line in a 128 KB heap; keep that layout."""
    assert list(iter_vectors(str(VECTOR_FILE))) == VECTORS


def test_names_are_unique():
    assert len(set(IDS)) == len(IDS)


def test_worked_examples_w1_to_w10_are_all_present():
    """§15: every worked example W1-W10 is a vector."""
    for n in range(1, 11):
        assert any(name.startswith("W%d " % n) for name in IDS), "W%d missing" % n


@pytest.mark.parametrize("std, functions", [("2007", FUNCTIONS_2007), ("1997", FUNCTIONS_1997)])
def test_every_function_code_has_request_and_replies(std, functions):
    """§7.1/§7.2: a request of every function code, and its normal and abnormal replies where defined."""
    seen = set()
    for v in VECTORS:
        if v["std"] != std:
            continue
        c = _without_preamble(_bytes(v))[8]
        seen.add(c)
    for f in functions:
        assert f in seen, "request %02X missing" % f
        if f == 0x08:
            continue  # broadcast time sync has no reply (§8)
        assert 0x80 | f in seen, "normal reply %02X missing" % (0x80 | f)
        if (std, f) not in (("2007", 0x13), ("2007", 0x15), ("1997", 0x0A)):   # no abnormal reply defined
            assert 0xC0 | f in seen, "abnormal reply %02X missing" % (0xC0 | f)


def test_special_cases_are_covered():
    """Follow-up B1/12/92 pair, FF-filled missing value, wildcard and broadcast addresses, 1997 signed power."""
    controls = {_without_preamble(_bytes(v))[8] for v in VECTORS if v["std"] == "2007"}
    assert {0xB1, 0x12, 0x92} <= controls
    missing = [v for v in VECTORS if "value" in v["expect"] and v["expect"]["value"] is None]
    assert any(set(parse_frame(_bytes(v)).payload or b"") == {0xFF} for v in missing)
    addresses = {v["expect"].get("address") for v in VECTORS}
    assert {"AAAAAAAAAAAA", "999999999999", "AAAA78563412"} <= addresses
    assert any(v["std"] == "1997" and isinstance(v["expect"].get("value"), float)
               and v["expect"]["value"] < 0 for v in VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_parse_gives_expected_fields(vector):
    """parse_frame gives every expected field (and edition) of the vector."""
    assert check(vector) == []


@pytest.mark.parametrize("vector", [v for v in VECTORS if "build" in v],
                         ids=[v["name"] for v in VECTORS if "build" in v])
def test_builder_reproduces_hex(vector):
    assert build_call(vector["build"]) == _bytes(vector)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_parse_round_trip_through_raw(vector):
    """Frame.raw is the frame without preamble; parsing it again gives the same fields."""
    frame = parse_frame(_bytes(vector), vector["std"])
    assert frame.raw == _without_preamble(_bytes(vector))
    again = parse_frame(frame.raw, vector["std"])
    for key in vector["expect"]:
        if key == "preamble":
            continue
        field = "di_text" if key == "di" else key
        assert same(jsonable(getattr(again, field)), vector["expect"][key]), key


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_extractor_whole(vector):
    """§17: the whole frame in one chunk comes out once, without its FE preamble."""
    data = _bytes(vector)
    ex = FrameExtractor()
    assert ex.feed(data) == [_without_preamble(data)]
    assert ex.pending == 0
    assert ex.discards["preamble"] == len(data) - len(_without_preamble(data))


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_extractor_byte_at_a_time(vector):
    data = _bytes(vector)
    ex = FrameExtractor()
    out = []
    for i in range(len(data)):
        got = ex.feed(data[i:i + 1])
        if i < len(data) - 1:
            assert got == []
        out += got
    assert out == [_without_preamble(data)]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_extractor_trailing_garbage(vector):
    """Trailing noise (a stray 0x68, 0x16) neither hides the frame nor delays it."""
    data = _bytes(vector)
    ex = FrameExtractor()
    assert ex.feed(data + b"\x16\x00\x68\x68\x16") == [_without_preamble(data)]
    assert ex.pending <= 3   # only the unfinished "68 68 16" candidate may wait
