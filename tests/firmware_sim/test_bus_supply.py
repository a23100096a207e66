"""The supply meter (台区总表) of a transformer area: energy that follows its customers (M-13).

Pure: meters built with ``build_meters`` and advanced by hand, or a ``Bus``
core fed frames; no ports. The rule is in ``firmware_sim/bus/_supply.py``.
"""

import importlib.resources
import random

import pytest

from firmware_sim.bus import Bus, BusConfigError, build_meters, load_bus_config
from protocols.dlt645 import FrameExtractor, build_read_request, parse_frame

SAMPLE = importlib.resources.files("firmware_sim") / "samples" / "meters.toml"
NOW = 1718380800.0          # 2024-06-14T16:00:00Z, midnight in Beijing
SUPPLY = "202311150030"
A, B, C = "202311150031", "202311150032", "000009310421"


def area(supply=None, **customer_changes):
    sup = {"address": SUPPLY, "history_days": 1, "supplies": "all", "loss_pct": 4.0, "ct_ratio": 40}
    sup.update(supply or {})
    customers = [
        {"address": A, "history_days": 1, "phases": 1, "base_kw": 1.1},
        {"address": B, "history_days": 1, "phases": 3, "base_kw": 0.3, "ct_ratio": 30, "clock_drift_ppm": 800.0,
         "clock_offset_s": 47.0},
        {"address": C, "history_days": 1, "std": "1997", "phases": 1, "base_kw": 0.7, "export_kw": 0.4},
    ]
    for c in customers:
        c.update(customer_changes.get(c["address"], {}))
    return [sup] + customers


def net_kwh(meter):
    return meter.energy("forward_active") - meter.energy("reverse_active")


def balance(meters, ratios):
    """(supply's net energy x its ratio, customers' net energy x theirs), kWh."""
    supply = net_kwh(meters[0]) * ratios[0]
    return supply, sum(net_kwh(m) * r for m, r in zip(meters[1:], ratios[1:]))


def test_supply_energy_is_the_customers_plus_the_loss_over_any_steps():
    meters = build_meters(area(), NOW)
    ratios = [40, 1, 30, 1]
    s0, c0 = balance(meters, ratios)
    rng = random.Random(645)
    t = NOW
    for _ in range(2000):           # uneven steps, from a ms to an hour: about a month
        t += rng.choice((0.001, 0.5, 7.0, 600.0, 3600.0)) * rng.random()
        if rng.random() < 0.5:
            meters[rng.randrange(4)].advance(t)     # the bus advances meters in any order
        meters[0].advance(t)
    s1, c1 = balance(meters, ratios)
    assert c1 - c0 > 10
    assert s1 - s0 == pytest.approx((c1 - c0) * 1.04, abs=1e-6)
    # Exact integers inside: the total is still the sum of the tariffs.
    e = meters[0].ledger.energy
    assert all(isinstance(x, int) for reg in e for x in reg)
    assert all(reg[0] == sum(reg[1:]) for reg in e)


def test_supply_follows_an_outage_and_an_area_that_exports():
    # C exports far more than A and B use at noon: the area feeds the grid back then.
    meters = build_meters(area(**{C: {"export_kw": 6.0}}), NOW)
    ratios = [40, 1, 30, 1]
    s0, c0 = balance(meters, ratios)
    fwd0, rev0 = meters[0].energy("forward_active"), meters[0].energy("reverse_active")
    meters[1].power_down(NOW + 3600, NOW + 5 * 3600)      # A off for four hours
    t = NOW
    while t < NOW + 86400:
        t += 60.0
        meters[0].advance(t)
    s1, c1 = balance(meters, ratios)
    fwd, rev = meters[0].energy("forward_active") - fwd0, meters[0].energy("reverse_active") - rev0
    assert fwd > 0 and rev > 0
    # Each piece is P + |P| x 4 %: forward gets 1.04 x import, reverse 0.96 x export.
    imported = fwd * 40 / 1.04
    exported = rev * 40 / 0.96
    assert imported - exported == pytest.approx(c1 - c0, abs=1e-6)
    assert s1 - s0 == pytest.approx(fwd * 40 - rev * 40, abs=1e-9)


def test_supply_answers_dlt645_reads_with_its_own_registers_and_power():
    meters = build_meters(area(), NOW)
    bus = Bus(meters, baud=9600, t0=0.0, start_utc=NOW, time_scale=3600.0, seed=645)
    request = build_read_request(SUPPLY, 0x00010000, "2007")
    bus.feed(request, 13.0)                     # 13 h of simulation: the supply meter is busy
    out = bus.pop_due(14.0)
    frames = [parse_frame(f) for f in FrameExtractor().feed(out, 0)]
    assert [f.address for f in frames] == [SUPPLY]
    supply = bus.meters[SUPPLY]
    assert abs(frames[0].value - supply.energy("forward_active")) < 0.011
    customers = sum(m.power_w() * r for m, r in zip(meters[1:], (1, 30, 1)))
    assert supply.power_w() == pytest.approx(customers * 1.04 / 40, rel=1e-9)
    power = supply.handle(build_read_request(SUPPLY, 0x0203FF00, "2007", preamble=0), NOW + 13 * 3600)
    assert parse_frame(power).value[0] == pytest.approx(customers * 1.04 / 40 / 1000, abs=1e-4)


def test_supply_list_and_history_base_kw():
    meters = build_meters(area({"supplies": [A, C]}), NOW)
    # History load: the fed meters' mean net load x ratios x (1 + loss) / CT.
    assert meters[0].config["base_kw"] == round((1.1 + 0.7 - 0.4) * 1.04 / 40, 4)
    assert [m.address for m in meters] == [SUPPLY, A, B, C]


@pytest.mark.parametrize("supply, message, key", [
    ({"supplies": "some"}, "key 'supplies' must be \"all\" or a non-empty list of 12-digit addresses", "supplies"),
    ({"supplies": []}, "key 'supplies' must be \"all\" or a non-empty list", "supplies"),
    ({"supplies": [SUPPLY]}, "key 'supplies' must be other meters than itself", "supplies"),
    ({"supplies": [A, A]}, "key 'supplies' must be each address once", "supplies"),
    ({"supplies": ["202311159999"]}, "key 'supplies' must be addresses of meters on this line, got '202311159999'",
     "supplies"),
    ({"loss_pct": 60}, "key 'loss_pct' must be a number from 0 to 50, got 60", "loss_pct"),
    ({"loss_pct": True}, "key 'loss_pct' must be a number from 0 to 50, got True", "loss_pct"),
    ({"ct_ratio": 0}, "key 'ct_ratio' must be a number above 0, at most 100000, got 0", "ct_ratio"),
    ({"pt_ratio": "10"}, "key 'pt_ratio' must be a number above 0", "pt_ratio"),
    ({"ct_ratoi": 40}, "unknown key 'ct_ratoi'; did you mean 'ct_ratio'?", "ct_ratoi"),
])
def test_bad_wiring_keys_name_the_meter_and_key(supply, message, key):
    with pytest.raises(BusConfigError) as info:
        build_meters(area(supply), NOW, "area.toml")
    assert str(info.value).startswith("area.toml: meter 0 (address %s): " % SUPPLY)
    assert message in str(info.value)
    assert info.value.key == key and info.value.index == 0


def test_loss_without_supplies_and_a_meter_fed_twice_are_refused():
    with pytest.raises(BusConfigError, match="key 'loss_pct' must be given only with supplies"):
        build_meters(area(**{A: {"loss_pct": 3.0}}), NOW)
    second = {"address": "202311150039", "history_days": 1, "supplies": [A]}
    with pytest.raises(BusConfigError, match="fed by 202311150030") as info:
        build_meters(area({"supplies": [A, B]}) + [second], NOW)
    assert info.value.index == 4
    nested = {"address": "202311150039", "history_days": 1, "supplies": [SUPPLY]}
    with pytest.raises(BusConfigError, match="ordinary meters, not the supply meter 202311150030"):
        build_meters(area({"supplies": [A]}) + [nested], NOW)


def test_the_sample_lines_supply_meter_balances_its_customers():
    meters, _settings = load_bus_config(SAMPLE)
    for m in meters:
        m["history_days"] = 1
    built = build_meters(meters, NOW)
    ratios = [m.get("ct_ratio", 1) * m.get("pt_ratio", 1) for m in meters]
    supply = [i for i, m in enumerate(meters) if "supplies" in m]
    assert [meters[i]["address"] for i in supply] == [SUPPLY]
    before = [net_kwh(m) for m in built]
    t = NOW
    for _ in range(48):
        t += 1800.0
        built[supply[0]].advance(t)
    delta = [(net_kwh(m) - b) * r for m, b, r in zip(built, before, ratios)]
    customers = sum(d for i, d in enumerate(delta) if i not in supply)
    assert customers > 100
    assert delta[supply[0]] == pytest.approx(customers * 1.04, rel=1e-6)
