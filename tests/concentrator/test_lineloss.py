"""Line loss of a transformer area (M-13): a hand-computed balance, the band, incompleteness,
rollover and replacement, config errors, and properties. Every body is checked against the
lineloss v2 schema, as tests/protocols do."""

import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from concentrator._anomalies_common import AnalysisConfigError, AnalysisInputError
from concentrator._lineloss import BODY_VERSION, LINELOSS_KEYS, LineLossConfig, MeterEnergy, line_loss
from protocols.records import GENESIS_PREV, KINDS, encode_record, verify_record
from protocols.records._schema import SchemaError

REPO = Path(__file__).resolve().parents[2]
T0 = 1717171200000
DAY = 86400000
SUPPLY = "202311150001"
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = KINDS["lineloss"].schema(BODY_VERSION)


def meter(i):
    return "2023111501%02d" % i


def balance(supply, customers, config=None, area="ta-0042"):
    body = line_loss(area, "2024-06-01", T0, T0 + DAY, supply, customers, config)
    SCHEMA.check(body, "body")
    return body


def test_hand_computed_example():
    """docs/anomalies.md: 12 kWh x CT 100 supplied; 400 + 350.5 + 2.5 x CT 150 billed."""
    body = balance(MeterEnergy(SUPPLY, 1000.00, 1012.00, ct=100),
                   [MeterEnergy(meter(1), 5000.0, 5400.0), MeterEnergy(meter(2), 120.25, 470.75),
                    MeterEnergy(meter(3), 10.0, 12.5, ct=150)])
    assert body["supplied_kwh"] == 1200.0 and body["billed_kwh"] == 1125.5
    assert body["loss_kwh"] == 74.5 and body["loss_pct"] == 6.208
    assert (body["status"], body["missing"], body["meters"], body["meters_expected"]) == ("ok", [], 3, 3)
    assert (body["low_pct"], body["high_pct"], body["supply"]) == (-1.0, 10.0, SUPPLY)


def test_ct_and_pt_multiply():
    body = balance(MeterEnergy(SUPPLY, 0, 10, ct=20, pt=100), [MeterEnergy(meter(1), 0, 19000)])
    assert (body["supplied_kwh"], body["loss_kwh"], body["loss_pct"]) == (20000.0, 1000.0, 5.0)


@pytest.mark.parametrize("billed, status", [
    (90.0, "ok"),                  # exactly 10 %: the band is inclusive
    (89.99, "out-of-band"),        # 10.01 %
    (101.0, "ok"),                 # exactly -1 %
    (101.01, "out-of-band"),       # -1.01 %
])
def test_band_boundaries(billed, status):
    body = balance(MeterEnergy(SUPPLY, 0, 100.0), [MeterEnergy(meter(1), 0, billed)])
    assert body["status"] == status


def test_band_is_configurable():
    config = LineLossConfig({"low_pct": -5, "high_pct": 3})
    body = balance(MeterEnergy(SUPPLY, 0, 100.0), [MeterEnergy(meter(1), 0, 96.0)], config)
    assert body["status"] == "out-of-band" and (body["low_pct"], body["high_pct"]) == (-5, 3)


def test_nothing_supplied():
    assert balance(MeterEnergy(SUPPLY, 5, 5), [MeterEnergy(meter(1), 7, 7)])["status"] == "ok"
    body = balance(MeterEnergy(SUPPLY, 5, 5), [MeterEnergy(meter(1), 7, 8)])
    assert (body["status"], body["loss_kwh"], body["loss_pct"]) == ("out-of-band", -1.0, None)


def test_missing_customer_readings_make_it_incomplete():
    body = balance(MeterEnergy(SUPPLY, 0, 100), [MeterEnergy(meter(1), 0, 50), MeterEnergy(meter(2), None, 20),
                                                 MeterEnergy(meter(3), 4, None)])
    assert body["status"] == "incomplete" and body["missing"] == [meter(2), meter(3)]
    assert body["loss_kwh"] is None and body["loss_pct"] is None
    assert body["supplied_kwh"] == 100 and body["billed_kwh"] == 50 and body["meters"] == 1
    assert "%s no start reading" % meter(2) in body["detail"] and "%s no end reading" % meter(3) in body["detail"]


def test_missing_supply_reading():
    body = balance(MeterEnergy(SUPPLY, None, 100), [MeterEnergy(meter(1), 0, 50)])
    assert (body["status"], body["missing"], body["supplied_kwh"]) == ("incomplete", [SUPPLY], None)
    assert "supply %s no start reading" % SUPPLY in body["detail"]


def test_a_register_going_backwards_is_not_counted():
    body = balance(MeterEnergy(SUPPLY, 0, 100), [MeterEnergy(meter(1), 500, 400), MeterEnergy(meter(2), 0, 90)])
    assert body["status"] == "incomplete" and body["missing"] == [meter(1)]
    assert "went backwards from 500 to 400 kWh" in body["detail"]


def test_rollover_is_counted_and_noted():
    body = balance(MeterEnergy(SUPPLY, 999950.0, 50.0), [MeterEnergy(meter(1), 0, 95.0)])
    assert (body["supplied_kwh"], body["loss_kwh"], body["status"]) == (100.0, 5.0, "ok")
    assert "rolled over" in body["detail"]


def test_replacement_adds_both_meters_advances():
    replaced = MeterEnergy(meter(1), 8000.0, 30.0, replaced=(8060.0, 0.0))     # 60 on the old, 30 on the new
    body = balance(MeterEnergy(SUPPLY, 0, 100.0), [replaced])
    assert body["billed_kwh"] == 90.0 and body["status"] == "ok" and "replaced" in body["detail"]
    lost = MeterEnergy(meter(1), 8000.0, 30.0, replaced=(None, 0.0))
    body = balance(MeterEnergy(SUPPLY, 0, 100.0), [lost])
    assert body["missing"] == [meter(1)] and "old meter no final reading" in body["detail"]


@pytest.mark.parametrize("values, message", [
    ({"low_pct": 5, "high_pct": 5}, "low_pct must be below high_pct"),
    ({"high_pct": 150}, "high_pct: expected a number in [-100, 100], got 150"),
    ({"band": 3}, "unknown key band"),
    ({"low_pct": "-1"}, "low_pct: expected a number"),
    ({"rollover_max_kwh": 2e6}, "rollover_max_kwh must be below register_wrap_kwh"),
])
def test_config_errors(values, message):
    with pytest.raises(AnalysisConfigError) as info:
        LineLossConfig(values)
    assert message in str(info.value)


def test_config_defaults():
    assert LineLossConfig().to_dict() == {k.name: k.default for k in LINELOSS_KEYS.values()}


@pytest.mark.parametrize("kwargs, message", [
    ({"customers": [MeterEnergy(meter(1), 0, 1), MeterEnergy(meter(1), 0, 1)]}, "listed twice"),
    ({"customers": [MeterEnergy(SUPPLY, 0, 1)]}, "it is the supply meter"),
    ({"area": "TA 42"}, "area must be an identifier"),
    ({"to_t": T0 - 1}, "is before from_t"),
    ({"customers": [MeterEnergy("%012d" % i, 0, 1) for i in range(1, 4097)]}, "at most 4095"),
])
def test_input_errors(kwargs, message):
    args = dict(area="ta-0042", cycle="2024-06-01", from_t=T0, to_t=T0 + DAY, supply=MeterEnergy(SUPPLY, 0, 1),
                customers=[])
    args.update(kwargs)
    with pytest.raises(AnalysisInputError) as info:
        line_loss(**args)
    assert message in str(info.value)


def test_a_tiny_supply_against_a_large_billing_still_makes_a_valid_body():
    body = balance(MeterEnergy(SUPPLY, 0, 0.001), [MeterEnergy(meter(1), 0, 999999.99, ct=5000, pt=100)])
    assert body["status"] == "out-of-band" and body["loss_pct"] < -1e12


def test_energy_beyond_what_a_record_carries_is_an_error():
    with pytest.raises(AnalysisInputError, match="1e.12 kWh"):
        line_loss("ta-0042", "2024-06-01", T0, T0 + DAY, MeterEnergy(SUPPLY, 0, 1),
                  [MeterEnergy(meter(i), 0, 999999, ct=5000, pt=1000) for i in range(3)])


def test_bad_meter_energy():
    for args, message in (((meter(1), "1", 2), "start_kwh must be a number or None"),
                          ((meter(1), 1, 2, 0), "ct must be a number > 0"),
                          (("12", 1, 2), "address must be 12 digits"),
                          ((meter(1), 1, 2, 1, 1, (3,)), "replaced must be")):
        with pytest.raises(AnalysisInputError, match=message):
            MeterEnergy(*args)


def test_body_schema_refuses_a_silent_figure():
    body = balance(MeterEnergy(SUPPLY, 0, 100), [MeterEnergy(meter(1), None, 50)])
    with pytest.raises(SchemaError, match="null"):
        SCHEMA.check(dict(body, loss_kwh=100.0), "body")
    with pytest.raises(SchemaError, match="counted or missing|meters_expected"):
        SCHEMA.check(dict(body, missing=[], status="ok", loss_kwh=100.0), "body")


def test_body_signs_as_lineloss_v2():
    body = balance(MeterEnergy(SUPPLY, 0, 100), [MeterEnergy(meter(1), 0, 93.5)])
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    data = encode_record(key, src="conc-01", epoch=1, seq=1, prev=GENESIS_PREV, t_ms=T0 + DAY,
                         tq={"src": "ntp", "err_ms": 20}, kind="lineloss", body=body, v=BODY_VERSION)
    assert verify_record(data, {"conc-01": key.public_key()}.get).body == body


def test_docs_list_every_key_with_its_default():
    doc = (REPO / "docs" / "anomalies.md").read_text()
    for key in LINELOSS_KEYS.values():
        assert "| `%s` | %s | %s |" % (key.name, key.default, key.why) in doc, key.name


# ---- properties ------------------------------------------------------------------------------

READINGS = st.integers(0, 900000)
ADVANCE = st.integers(0, 5000)
RATIO = st.sampled_from([1, 5, 20, 40, 100, 150])


@FAST
@given(starts=st.lists(st.tuples(READINGS, ADVANCE, RATIO), min_size=0, max_size=20), supply_start=READINGS,
       supply_ct=RATIO)
def test_a_perfectly_metered_area_loses_nothing(starts, supply_start, supply_ct):
    customers = [MeterEnergy(meter(i), s, s + a, ct=ct) for i, (s, a, ct) in enumerate(starts)]
    total = sum(a * ct for _s, a, ct in starts)
    assume(total % supply_ct == 0)
    supply = MeterEnergy(SUPPLY, supply_start, supply_start + total // supply_ct, ct=supply_ct)
    body = balance(supply, customers)
    assert body["loss_kwh"] == 0 and body["status"] == "ok" and body["missing"] == []
    assert body["loss_pct"] == (0 if total else None)


@FAST
@given(advances=st.lists(st.floats(0, 5000), min_size=1, max_size=10), supply=st.floats(1, 50000),
       factor=st.sampled_from([2, 5, 40, 120]))
def test_scaling_every_ratio_scales_the_loss_not_the_percentage(advances, supply, factor):
    def body(k):
        return balance(MeterEnergy(SUPPLY, 0, supply, ct=k),
                       [MeterEnergy(meter(i), 0, a, ct=k) for i, a in enumerate(advances)])
    one, scaled = body(1), body(factor)
    assert scaled["loss_kwh"] == pytest.approx(one["loss_kwh"] * factor, abs=0.002 * factor)
    # the same up to the 1 Wh rounding of the unscaled totals and the 3-decimal percentage
    slack = (100 + abs(one["loss_pct"])) * 0.002 / supply + 0.002
    assert scaled["loss_pct"] == pytest.approx(one["loss_pct"], abs=slack)


@FAST
@given(readings=st.lists(st.tuples(st.one_of(st.none(), READINGS), st.one_of(st.none(), ADVANCE)),
                         min_size=1, max_size=20),
       supply_known=st.booleans())
def test_incompleteness_is_always_reported(readings, supply_known):
    customers, absent = [], []
    for i, (start, advance) in enumerate(readings):
        end = None if start is None or advance is None else start + advance
        if start is None and advance is not None:
            end = advance
        customers.append(MeterEnergy(meter(i), start, end))
        if start is None or end is None:
            absent.append(meter(i))
    supply = MeterEnergy(SUPPLY, 0 if supply_known else None, 10 ** 6 - 1)
    body = balance(supply, customers)
    expected = ([] if supply_known else [SUPPLY]) + absent
    assert body["missing"] == expected
    assert body["meters"] == len(readings) - len(absent)
    if expected:
        assert body["status"] == "incomplete" and body["loss_kwh"] is None and body["loss_pct"] is None
    else:
        assert body["status"] in ("ok", "out-of-band") and math.isfinite(body["loss_kwh"])
