"""Register maps of Modbus meters (protocols.modbus_maps): tables, decode/encode, read plans."""

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import dlt645
from protocols.modbus_maps import (MAX_READ_REGISTERS, MeterModel, ModbusMapError, PlanError, ReadRequest,
                                   RegisterError, RegisterItem, UnknownItemError, UnknownModelError,
                                   ValueDecodeError, ValueEncodeError, decode, decode_block, encode, get_model,
                                   model_names, plan_reads)

MODELS = [get_model(name) for name in model_names()]
ALL_ITEMS = [(m.name, i.name) for m in MODELS for i in m.items]


def _dlt645_di(name):
    try:
        return dlt645.di_for_name(name, "2007")
    except dlt645.DLT645Error:
        return None


SHARED_ITEMS = [(m, n) for m, n in ALL_ITEMS if _dlt645_di(n) is not None]


def _f32(value):
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


# ---- the tables ----------------------------------------------------------------------


def test_model_names_are_sorted_and_include_both_chint_meters():
    assert model_names() == sorted(model_names())
    assert {"dtsu666", "ddsu666"} <= set(model_names())


def test_get_model_ignores_case_and_dashes_and_names_known_models_when_unknown():
    assert get_model("DTSU-666") is get_model("dtsu666")
    assert get_model(get_model("ddsu666")) is get_model("ddsu666")
    with pytest.raises(UnknownModelError, match="unknown Modbus meter model 'sdm999'; known models: ddsu666, dtsu666"):
        get_model("sdm999")


def test_dtsu666_facts_from_the_manual():
    m = get_model("dtsu666")
    assert (m.phases, m.function, m.function_code, m.word_order, m.byte_order) == (3, "holding", 3, "big", "big")
    assert (m.default_baud, m.default_parity) == (9600, "N")
    expect = {"voltage_a": (0x2006, "f32", "V"), "current_a": (0x200C, "f32", "A"),
              "active_power_total": (0x2012, "f32", "kW"), "power_factor_total": (0x202A, "f32", ""),
              "frequency": (0x2044, "f32", "Hz"), "forward_active_total": (0x401E, "f32", "kWh"),
              "reverse_active_total": (0x4028, "f32", "kWh"), "ct_ratio": (0x0006, "s16", "")}
    for name, (address, dtype, unit) in expect.items():
        item = m.item(name)
        assert (item.address, item.dtype, item.unit) == (address, dtype, unit), name


def test_ddsu666_facts_from_the_manual():
    m = get_model("ddsu666")
    assert (m.phases, m.function_code, m.word_order) == (1, 3, "big")
    assert [(i.address, i.name) for i in m.items if i.dtype == "f32"][:3] == [
        (0x2000, "voltage_a"), (0x2002, "current_a"), (0x2004, "active_power_total")]
    assert m.item("forward_active_total").address == 0x4000


@pytest.mark.parametrize("model,name", SHARED_ITEMS)
def test_names_shared_with_dlt645_mean_the_same_unit(model, name):
    """A Modbus reading and a DL/T 645 reading of one quantity carry the same name and unit."""
    assert get_model(model).item(name).unit == dlt645.describe(_dlt645_di(name), "2007").unit


def test_the_billing_quantities_use_dlt645_names():
    for m in MODELS:
        shared = {n for model, n in SHARED_ITEMS if model == m.name}
        assert {"forward_active_total", "reverse_active_total", "voltage_a", "current_a", "active_power_total",
                "power_factor_total", "frequency"} <= shared


def test_items_are_sorted_unique_and_do_not_overlap():
    for m in MODELS:
        ends = [(i.address, i.end) for i in m.items]
        assert ends == sorted(ends)
        assert all(a_end <= b_start for (_a, a_end), (b_start, _b) in zip(ends, ends[1:]))
        assert len(set(m.item_names())) == len(m.items)
        assert m.item_at(m.items[0].address) is m.items[0]


def _item(name="x", address=0, dtype="u16", scale=0, decimals=0):
    return RegisterItem(name, address, dtype, scale, decimals, "", "X", "test")


@pytest.mark.parametrize("items,message", [
    ([_item("a", 0, "f32"), _item("b", 1)], "item b at 0x0001 overlaps a"),
    ([_item("a", 0), _item("a", 1)], "item name a appears twice"),
    ([_item("a", 0, "f64")], "type must be one of"),
    ([_item("a", 0, scale=-1)], "scale_decimals must be 0-9"),
])
def test_a_broken_table_fails_when_built(items, message):
    with pytest.raises(ModbusMapError, match=message):
        MeterModel("broken", "Broken", 1, "test", "holding", "big", items)


def test_a_model_with_a_bad_function_or_word_order_fails_when_built():
    with pytest.raises(ModbusMapError, match="function must be"):
        MeterModel("m", "M", 1, "t", "coils", "big", [_item()])
    with pytest.raises(ModbusMapError, match="word_order must be"):
        MeterModel("m", "M", 1, "t", "input", "middle", [_item()])


# ---- decode and encode ------------------------------------------------------------------


def test_decode_dtsu666_scaled_floats():
    m = get_model("dtsu666")
    assert decode(m, "voltage_a", _f32(2201.0)) == (220.1, "V")          # 0.1 V units
    assert decode(m, "current_a", _f32(5234.0)) == (5.234, "A")          # 0.001 A
    assert decode(m, "active_power_total", _f32(-15234.0)) == (-1.5234, "kW")   # 0.1 W, export negative
    assert decode(m, "power_factor_total", _f32(950.0)) == (0.95, "")
    assert decode(m, "frequency", _f32(5001.0)) == (50.01, "Hz")
    assert decode(m, "forward_active_total", _f32(12345.67)) == (12345.67, "kWh")
    assert decode(m, "pt_ratio", [10]) == (1.0, "")
    assert decode(m, "ct_ratio", [40]) == (40, "")


def test_decode_ddsu666_engineering_units():
    m = get_model("ddsu666")
    assert decode(m, "voltage_a", [0x4365, 0x0000]) == (229.0, "V")
    assert decode(m, "active_power_total", _f32(1.25)) == (1.25, "kW")


def test_word_order_little_swaps_the_two_words():
    big = MeterModel("b", "B", 1, "t", "input", "big", [_item("v", 0, "u32")])
    little = MeterModel("l", "L", 1, "t", "input", "little", [_item("v", 0, "u32")])
    assert decode(big, "v", [0x0001, 0x0002]) == (0x00010002, "")
    assert decode(little, "v", [0x0001, 0x0002]) == (0x00020001, "")
    assert encode(little, "v", 0x00020001) == [0x0001, 0x0002]


@pytest.mark.parametrize("registers,error,message", [
    ([0x4365], RegisterError, r"ddsu666 voltage_a \(register 0x2000, f32\): needs 2 register\(s\), got 1"),
    ([0x4365, 0x10000], RegisterError, r"register 1 \(0x2001\) must be an int 0..65535, got 65536"),
    ([0x4365, -1], RegisterError, "must be an int 0..65535, got -1"),
    ([0x4365, 1.0], RegisterError, "got 1.0"),
    (None, RegisterError, "registers must be a list of ints"),
    ([0x7FC0, 0x0000], ValueDecodeError, "registers 7FC0 0000 hold nan, not a number"),
    ([0x7F80, 0x0000], ValueDecodeError, "hold inf, not a number"),
])
def test_decode_rejects_bad_registers_with_what_where_and_got(registers, error, message):
    with pytest.raises(error, match=message) as info:
        decode("ddsu666", "voltage_a", registers)
    assert (info.value.model, info.value.item) == ("ddsu666", "voltage_a")


def test_unknown_item_lists_the_models_items():
    with pytest.raises(UnknownItemError,
                       match="model ddsu666 has no item 'voltage_b'; it has: modbus_address, voltage_a"):
        decode("ddsu666", "voltage_b", [0, 0])
    with pytest.raises(UnknownItemError, match="not an item of model ddsu666"):
        decode("ddsu666", get_model("dtsu666").item("voltage_a"), [0, 0])


@pytest.mark.parametrize("item,value,message", [
    ("ct_ratio", 40000, r"40000 is out of range -32768..32767"),
    ("pt_ratio", 5000.0, r"out of range -3276.8..3276.7"),
    ("voltage_a", float("nan"), "must be a finite number, got nan"),
    ("voltage_a", True, "must be a finite number, got True"),
    ("voltage_a", "220", "must be a finite number"),
    ("voltage_a", 1e39, "too large for a float32"),
])
def test_encode_rejects_values_that_do_not_fit(item, value, message):
    with pytest.raises(ValueEncodeError, match=message):
        encode("dtsu666", item, value)


def _value(item):
    """Values with the item's decimals that fit its type (and float32's 24-bit mantissa)."""
    if item.dtype == "f32":
        bound = 2 ** 23 - 1
    else:
        low, high = {"u16": (0, 0xFFFF), "s16": (-0x8000, 0x7FFF), "u32": (0, 2 ** 32 - 1),
                     "s32": (-2 ** 31, 2 ** 31 - 1)}[item.dtype]
        return st.integers(low, high).map(
            lambda n: n / 10 ** item.scale_decimals if item.decimals else n)
    return st.integers(-bound, bound).map(lambda n: round(n / 10 ** item.decimals, item.decimals))


@pytest.mark.parametrize("model,name", ALL_ITEMS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_encode_then_decode_round_trips(model, name, data):
    item = get_model(model).item(name)
    value = data.draw(_value(item))
    registers = encode(model, name, value)
    assert len(registers) == item.registers
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(model, name, registers) == (value, item.unit)


@pytest.mark.parametrize("model,name", ALL_ITEMS)
@settings(max_examples=20, deadline=None)
@given(registers=st.lists(st.integers(-5, 0x10005) | st.floats() | st.none(), max_size=3))
def test_random_registers_never_crash_decode(model, name, registers):
    try:
        value, unit = decode(model, name, registers)
    except ModbusMapError:
        return
    assert isinstance(value, (int, float)) and math.isfinite(value)


# ---- read plans ---------------------------------------------------------------------------


def test_plan_groups_touching_items_into_one_request():
    plan = plan_reads("dtsu666", ["current_a", "voltage_c", "voltage_a", "voltage_b", "forward_active_total"])
    assert plan == [
        ReadRequest("holding", 3, 0x2006, 8, [get_model("dtsu666").item(n) for n in
                                               ("voltage_a", "voltage_b", "voltage_c", "current_a")]),
        ReadRequest("holding", 3, 0x401E, 2, [get_model("dtsu666").item("forward_active_total")]),
    ]
    assert "fc 3, 0x2006, count 8" in repr(plan[0])


def test_plan_respects_max_registers_and_reads_duplicates_once():
    plan = plan_reads("dtsu666", ["voltage_a", "voltage_b", "voltage_c", "voltage_a"], max_registers=4)
    assert [(r.address, r.count) for r in plan] == [(0x2006, 4), (0x200A, 2)]


def test_plan_spans_gaps_only_when_asked():
    assert len(plan_reads("ddsu666", ["voltage_a", "frequency"])) == 2
    plan = plan_reads("ddsu666", ["voltage_a", "frequency"], max_gap=12)
    assert [(r.address, r.count) for r in plan] == [(0x2000, 16)]


@pytest.mark.parametrize("kwargs,message", [
    ({"max_registers": 0}, "max_registers must be an int 1-125, got 0"),
    ({"max_registers": 126}, "got 126"),
    ({"max_gap": -1}, "max_gap must be an int 0-125, got -1"),
    ({"max_registers": 1, "items": ["voltage_a"]}, "item voltage_a takes 2 registers, more than max_registers 1"),
])
def test_plan_rejects_bad_limits(kwargs, message):
    with pytest.raises(PlanError, match=message):
        plan_reads("dtsu666", **kwargs)


def test_plan_rejects_unknown_items():
    with pytest.raises(UnknownItemError, match="model ddsu666 has no item 'voltage_c'"):
        plan_reads("ddsu666", "voltage_c")


@pytest.mark.parametrize("model", model_names())
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_plan_reads_every_item_once_within_limits(model, data):
    m = get_model(model)
    names = data.draw(st.lists(st.sampled_from(m.item_names()), min_size=1))
    limit = data.draw(st.integers(2, MAX_READ_REGISTERS))
    gap = data.draw(st.integers(0, 20))
    plan = plan_reads(m, names, max_registers=limit, max_gap=gap)
    got = [i.name for r in plan for i in r.items]
    assert sorted(got) == sorted(set(names))
    for r in plan:
        assert 1 <= r.count <= limit
        assert r.address == r.items[0].address and r.address + r.count == r.items[-1].end
    # A block of encoded values decodes back item by item.
    for r in plan:
        words = [0] * r.count
        for item in r.items:
            words[item.address - r.address:item.end - r.address] = encode(m, item, 1)
        assert all(v == (1, m.item(n).unit) for n, v in decode_block(m, r, words).items())


def test_decode_block_needs_exactly_the_requested_registers():
    request = plan_reads("ddsu666", ["voltage_a", "current_a"])[0]
    with pytest.raises(RegisterError, match="ddsu666 read at 0x2000: expected 4 registers, got 3"):
        decode_block("ddsu666", request, [0, 0, 0])
