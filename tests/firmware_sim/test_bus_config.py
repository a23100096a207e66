"""Meters files: the packaged sample and the errors bad files give."""

import importlib.resources
import time

import pytest

from firmware_sim.bus import BusConfigError, build_meters, load_bus_config

SAMPLE = importlib.resources.files("firmware_sim") / "samples" / "meters.toml"


def write(tmp_path, text, name="meters.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD = """
[bus]
baud = 9600
start_utc = 2024-06-01T00:00:00Z

[[meter]]
address = "202311150031"
reply_delay_ms = 40

[[meter]]
address = "000009310421"
std = "1997"

[[fault]]
kind = "slow"
address = "202311150031"
ms = 200
for_s = 60

[[fault]]
kind = "noise"
rate_per_min = 3
"""


def test_good_file_loads(tmp_path):
    meters, settings = load_bus_config(write(tmp_path, GOOD))
    assert [m["address"] for m in meters] == ["202311150031", "000009310421"]
    assert settings["baud"] == 9600 and settings["bits_per_byte"] == 11 and settings["time_scale"] == 1.0
    assert settings["start_utc"] == 1717200000.0
    assert settings["faults"] == [{"kind": "slow", "address": "202311150031", "ms": 200, "for_s": 60},
                                  {"kind": "noise", "rate_per_min": 3}]


def test_sample_has_a_supply_meter_and_20_customers_of_both_editions_and_all_build():
    meters, settings = load_bus_config(SAMPLE)
    assert len(meters) == 21
    assert sum(m["std"] == "2007" for m in meters) == 15 and sum(m["std"] == "1997" for m in meters) == 6
    supply = [m for m in meters if "supplies" in m]
    assert len(supply) == 1 and supply[0]["phases"] == 3 and supply[0]["std"] == "2007"
    delays = [m["reply_delay_ms"] for m in meters]
    assert all(20 <= d <= 500 for d in delays)                     # DL/T 645 §16
    assert sum(30 <= d <= 120 for d in delays) >= 14
    assert sum(m.get("export_kw", 0) > 0 for m in meters) >= 2
    assert any(m.get("clock_drift_ppm") for m in meters)
    assert settings["baud"] == 2400 and settings["faults"] == []
    built = build_meters(meters, time.time(), str(SAMPLE))
    assert sorted(m.address for m in built) == sorted(m["address"] for m in meters)


def test_every_key_in_the_sample_is_explained_in_a_comment():
    lines = SAMPLE.read_text().splitlines()
    comments = "\n".join(line for line in lines if line.lstrip().startswith("#"))
    meters, _ = load_bus_config(SAMPLE)
    for key in {k for m in meters for k in m}:
        assert key in comments, key
    bus = lines[lines.index("[bus]") + 1:lines.index("[[meter]]")]
    for i, line in enumerate(bus):
        if line and not line.startswith("#"):           # a [bus] key: explained just above
            assert bus[i - 1].startswith("#"), line
    assert "[[fault]]" in comments


@pytest.mark.parametrize("text,expected,key", [
    ("[[meter]\naddress = 1", "invalid TOML", None),
    ("[bus]\nbaud = 2400\n", "no meters", "meter"),
    ("[[meter]]\nstd = \"2007\"\n", "meter 0: address is missing", "address"),
    ("[[meter]]\naddress = \"20231115003\"\n", "meter 0: address '20231115003' is not a 12-digit", "address"),
    ("[[meter]]\naddress = \"202311150031\"\n[[meter]]\naddress = \"202311150031\"\n",
     "meter 1: address 202311150031 is already used by meter 0", "address"),
    ("[bus]\nbaudrate = 2400\n[[meter]]\naddress = \"202311150031\"\n", "[bus] has no key 'baudrate'", "bus.baudrate"),
    ("[bus]\ntime_scale = -1\n[[meter]]\naddress = \"202311150031\"\n", "bus.time_scale", "bus.time_scale"),
    ("[bus]\nstart_utc = \"soon\"\n[[meter]]\naddress = \"202311150031\"\n", "bus.start_utc", "bus.start_utc"),
    ("[buss]\n[[meter]]\naddress = \"202311150031\"\n", "unknown top-level key 'buss'", "buss"),
    ("[[meter]]\naddress = \"202311150031\"\n[[fault]]\nkind = \"slow\"\naddress = \"202311150031\"\n",
     "fault 0 (slow, meter 202311150031): fault slow needs ms", "ms"),
    ("[[meter]]\naddress = \"202311150031\"\n[[fault]]\nkind = \"silent\"\naddress = \"202311150099\"\n",
     "no [[meter]] has address 202311150099", "address"),
    ("[[meter]]\naddress = \"202311150031\"\n[[fault]]\naddress = \"202311150031\"\n", "kind is missing", "kind"),
])
def test_bad_file_names_file_entry_and_key(tmp_path, text, expected, key):
    path = write(tmp_path, text)
    with pytest.raises(BusConfigError) as err:
        load_bus_config(path)
    message = str(err.value)
    assert message.startswith(path + ":") and expected in message
    assert err.value.path == path and err.value.key == key


def test_missing_file(tmp_path):
    with pytest.raises(BusConfigError, match="cannot read meters file .*nope.toml"):
        load_bus_config(tmp_path / "nope.toml")


def test_meter_key_errors_come_from_the_firmware_with_file_and_index(tmp_path):
    path = write(tmp_path, "[[meter]]\naddress = \"202311150031\"\n[[meter]]\naddress = \"202311150032\"\n"
                           "reply_delay_ms = 900\n")
    meters, _ = load_bus_config(path)
    with pytest.raises(BusConfigError) as err:
        build_meters(meters, time.time(), path)
    assert str(err.value).startswith(path + ": meter 1 (address 202311150032): ")
    assert err.value.key == "reply_delay_ms" and err.value.index == 1


def test_misspelt_meter_key_names_the_nearest_key(tmp_path):
    path = tmp_path / "meters.toml"
    path.write_text('[[meter]]\naddress = "202311150042"\nbase_kW = 2.0\n')
    with pytest.raises(BusConfigError) as err:
        build_meters(load_bus_config(str(path))[0], 0.0, str(path))
    assert str(err.value) == "%s: meter 0 (address 202311150042): unknown key 'base_kW'; did you mean 'base_kw'?" % path
    assert err.value.key == "base_kW"


def test_out_of_range_meter_key_is_named_once(tmp_path):
    path = tmp_path / "meters.toml"
    path.write_text('[[meter]]\naddress = "202311150042"\nreply_delay_ms = 900\n')
    with pytest.raises(BusConfigError) as err:
        build_meters(load_bus_config(str(path))[0], 0.0, str(path))
    assert str(err.value) == ("%s: meter 0 (address 202311150042): key 'reply_delay_ms' must be a whole number "
                              "from 20 to 500, got 900" % path)
