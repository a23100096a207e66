"""The device tables of a kiosk's or concentrator's config file (edge.DeviceConfig):
defaults, relative paths, and a clear error naming file, key, expected and got
for everything wrong (ARCHITECTURE promise 6). Also DeviceRuntime's refusals
before it touches any file."""

from pathlib import Path

import pytest

from edge import ConfigError, DeviceRuntime, IdentityMissing, load_device_config, parse_device_config
from edge.identity import create_identity

GOOD = """
[device]
data_dir = "data"

[hall]
broker = "hall.local:8883"
ca = "tls/ca.crt"
cert = "tls/conc-a1.crt"
key = "/etc/hall/conc-a1.key"
"""


def write(tmp_path, text, name="device.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_paths_relative_to_the_file(tmp_path):
    config = load_device_config(write(tmp_path, GOOD))
    assert config.data_dir == tmp_path / "data"
    assert config.outbox_path == tmp_path / "data" / "outbox.db"
    assert config.broker == ("hall.local", 8883)
    assert config.tls == (tmp_path / "tls/ca.crt", tmp_path / "tls/conc-a1.crt", Path("/etc/hall/conc-a1.key"))
    assert config.outbox == {"max_records": 2_000_000, "max_bytes": 1 << 30, "alarm_at": 0.9, "window": 1000}
    assert config.publisher == {"max_inflight": 20, "ack_timeout_s": 30.0, "backoff_min_s": 0.5,
                                "backoff_max_s": 60.0, "keepalive_s": 30}
    assert config.kind is None


def test_other_tables_are_the_applications_and_ignored(tmp_path):
    config = load_device_config(write(tmp_path, GOOD + '\n[[line]]\nname = "line1"\n[outbox]\nmax_records = 5\n'))
    assert config.outbox["max_records"] == 5


def test_ipv6_broker(tmp_path):
    config = parse_device_config({"device": {"data_dir": "d"}, "hall": {"broker": "[::1]:8883", "ca": "a",
                                                                        "cert": "b", "key": "c"}}, base=tmp_path)
    assert config.broker == ("::1", 8883)


@pytest.mark.parametrize("change, message", [
    ({"hall": None}, "[hall]: the table is missing"),
    ({"device": None}, "[device]: the table is missing"),
    ({"device": {"data_dir": 5}}, "device.data_dir: expected a path, got 5"),
    ({"device": {}}, "device.data_dir: missing (a file path)"),
    ({"device": {"data_dir": "d", "colour": "red"}}, "device.colour: unknown key; the keys are data_dir, kind"),
    ({"device": {"data_dir": "d", "kind": "meter"}}, "device.kind: expected one of concentrator, kiosk, got 'meter'"),
    ({"hall": {"ca": "a", "cert": "b", "key": "c"}}, "hall.broker: missing (HOST:PORT of the hall's broker)"),
    ({"hall": {"broker": "hall.local", "ca": "a", "cert": "b", "key": "c"}},
     "hall.broker: expected HOST:PORT such as \"hall.local:8883\", got 'hall.local'"),
    ({"hall": {"broker": "h:70000", "ca": "a", "cert": "b", "key": "c"}}, "hall.broker: expected HOST:PORT"),
    ({"hall": {"broker": "h:1", "ca": "a", "cert": "b"}}, "hall.key: missing (a file path)"),
    ({"outbox": {"max_records": 0}}, "outbox.max_records: expected a value from 1 to"),
    ({"outbox": {"max_records": 1.5}}, "outbox.max_records: expected an integer, got 1.5"),
    ({"outbox": {"alarm_at": True}}, "outbox.alarm_at: expected a number, not true/false, got True"),
    ({"outbox": {"alarm_at": 1.5}}, "outbox.alarm_at: expected a value from 0.01 to 1.0, got 1.5"),
    ({"outbox": {"shed": True}}, "outbox.shed: unknown key; the keys are alarm_at, max_bytes, max_records, window"),
    ({"outbox": "big"}, "outbox: expected a table [outbox], got str"),
    ({"publisher": {"ack_timeout_s": "30"}}, "publisher.ack_timeout_s: expected a number, got '30'"),
    ({"publisher": {"backoff_min_s": 10, "backoff_max_s": 5}},
     "publisher.backoff_max_s: must not be below backoff_min_s (10.0), got 5.0"),
])
def test_each_mistake_is_named(change, message):
    doc = {"device": {"data_dir": "d"}, "hall": {"broker": "h:1", "ca": "a", "cert": "b", "key": "c"}}
    for table, value in change.items():
        if value is None:
            del doc[table]
        else:
            doc[table] = value
    with pytest.raises(ConfigError) as info:
        parse_device_config(doc, source="conc.toml")
    assert str(info.value).startswith("conc.toml: ")
    assert message in str(info.value)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nothere.toml: no such file"):
        load_device_config(tmp_path / "nothere.toml")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML: .*line 2"):
        load_device_config(write(tmp_path, "[device]\ndata_dir = \n", "bad.toml"))


def test_runtime_refuses_before_touching_files(tmp_path):
    config = load_device_config(write(tmp_path, GOOD))
    with pytest.raises(IdentityMissing):
        DeviceRuntime(config, "concentrator")
    assert not (tmp_path / "data").exists()
    create_identity(tmp_path / "data", "conc-a1", "concentrator", "h1")
    with pytest.raises(ConfigError, match=r"device.kind is 'kiosk' but this program is a concentrator"):
        DeviceRuntime(load_device_config(write(tmp_path, GOOD.replace('"data"', '"data"\nkind = "kiosk"'))),
                      "concentrator")
    with pytest.raises(Exception, match="trust"):
        DeviceRuntime(config, "concentrator")          # no hall key trusted yet
    assert not config.outbox_path.exists()
