"""Simulated Modbus meters: the sans-I/O core (load, energy, registers, faults), the pymodbus
server over TCP and over a pty pair, the config file and the ``firmware-sim modbus`` command."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient

from firmware_sim.cli import cli
from firmware_sim.modbus import (FAULT_KINDS, MeterSet, ModbusFaultError, ModbusMeterServer, ModbusSimConfigError,
                                 SimMeter, check_meter, load_modbus_config)
from protocols.modbus_maps import decode, get_model, plan_reads

T0 = 1717171200.0           # 2024-05-31T16:00:00Z = 2024-06-01 00:00 Beijing
FLAT = [1.0] * 24


def _meter(unit=1, model="dtsu666", **extra):
    cfg = {"unit": unit, "model": model, "load_variation": 0.0, "profile": FLAT, "reply_delay_ms": 0}
    cfg.update(extra)
    return cfg


# ---- the meter core --------------------------------------------------------------------


def test_energy_integrates_power_over_time():
    meter = SimMeter(_meter(base_kw=6.0, start_kwh=100.0), T0)
    meter.advance(T0 + 5400)                       # 1.5 h at 6 kW
    assert meter.energy["forward_active_total"] == pytest.approx(109.0)
    assert meter.energy["reverse_active_total"] == 0.0
    meter.advance(T0)                               # time never runs backwards
    assert meter.energy["forward_active_total"] == pytest.approx(109.0)


def test_pv_meter_exports_at_noon_and_imports_at_night():
    meter = SimMeter(_meter(unit=2, model="ddsu666", base_kw=0.5, export_kw=2.0), T0)
    noon = T0 + 12 * 3600
    assert meter.power_kw(noon) < 0 < meter.power_kw(T0)
    meter.advance(noon)
    before = dict(meter.energy)
    meter.advance(noon + 3600)
    assert meter.energy["reverse_active_total"] > before["reverse_active_total"]
    assert meter.energy["reactive_q3_total"] > before["reactive_q3_total"]
    assert meter.values(noon)["power_factor_total"] < 0


def test_hourly_load_follows_the_profile_and_is_repeatable():
    a = SimMeter({"unit": 1, "model": "ddsu666"}, T0)
    b = SimMeter({"unit": 1, "model": "ddsu666"}, T0)
    hours = [T0 + h * 3600 for h in range(24)]
    assert [a.power_kw(t) for t in hours] == [b.power_kw(t) for t in hours]
    assert max(a.power_kw(t) for t in hours) > 2 * min(a.power_kw(t) for t in hours)   # evening peak, night low


def test_three_phase_values_add_up():
    values = SimMeter(_meter(base_kw=6.0, voltage_v=230.0), T0).values(T0)
    assert values["active_power_total"] == pytest.approx(sum(values["active_power_" + p] for p in "abc"))
    assert values["line_voltage_ab"] == pytest.approx(230.0 * 3 ** 0.5, rel=1e-6)
    assert values["current_a"] == pytest.approx(2000.0 / (230.0 * 0.95))
    assert values["modbus_address"] == 1


def test_registers_decode_to_the_values():
    meter = SimMeter(_meter(base_kw=6.0, start_kwh=12345.67), T0)
    image = meter.registers(T0)
    model = get_model("dtsu666")
    for item in model.items:
        words = [image[item.address + i] for i in range(item.registers)]
        assert decode(model, item, words)[0] == pytest.approx(meter.values(T0)[item.name], abs=10 ** -item.decimals)


# ---- faults and outcomes ---------------------------------------------------------------


@pytest.fixture
def line():
    return MeterSet([_meter(1), _meter(2, "ddsu666", reply_delay_ms=30)], T0)


def test_a_read_gets_the_registers_after_the_reply_delay(line):
    out = line.handle(2, 3, 0x2000, 2, T0)
    assert (out.kind, out.delay_s) == ("reply", 0.03)
    assert decode("ddsu666", "voltage_a", out.words) == (220.0, "V")


def test_an_unknown_unit_is_silent(line):
    assert line.handle(9, 3, 0x2000, 2, T0).kind == "silent"
    assert line.stats == {"requests": 1, "replies": 0, "exceptions": 0, "silent": 1}


@pytest.mark.parametrize("fc,address,count,code", [(4, 0x2000, 2, 1), (6, 0x2000, 1, 1), (3, 0x2008, 2, 2),
                                                    (3, 0x1000, 1, 2), (3, 0x4000, 5, 2)])
def test_wrong_function_or_unmapped_registers_get_exceptions(line, fc, address, count, code):
    out = line.handle(2, fc, address, count, T0)
    assert (out.kind, out.code) == ("exception", code)


def test_faults_absent_exception_slow_nan_and_clear(line):
    line.set_fault(1, "absent")
    assert line.handle(1, 3, 0x2006, 2, T0).kind == "silent"
    line.set_fault(2, "exception", code=6)
    assert line.handle(2, 3, 0x2000, 2, T0).code == 6
    line.clear_fault(2, "exception")
    line.set_fault(2, "slow", ms=500)
    assert line.handle(2, 3, 0x2000, 2, T0).delay_s == pytest.approx(0.53)
    line.set_fault(2, "nan")
    assert line.handle(2, 3, 0x2000, 2, T0).words == [0xFFFF, 0xFFFF]
    assert [f["kind"] for f in line.faults()] == ["absent", "nan", "slow"]
    assert line.clear_fault() == 3 and line.faults() == []
    assert line.handle(1, 3, 0x2006, 2, T0).kind == "reply"


@pytest.mark.parametrize("unit,kind,params,message", [
    (1, "melt", {}, "unknown fault kind 'melt'; kinds are: " + ", ".join(FAULT_KINDS)),
    (7, "absent", {}, r"fault absent: no meter at unit 7 \(units: 1, 2\)"),
    (1, "exception", {"code": 7}, "code must be one of 1, 2, 3, 4, 5, 6, 8, 10, 11, got 7"),
    (1, "slow", {}, "fault slow needs ms from 0 to 60000, got None"),
    (1, "absent", {"ms": 3}, "fault absent takes no parameters, not 'ms'"),
])
def test_bad_faults_are_refused_and_change_nothing(line, unit, kind, params, message):
    with pytest.raises(ModbusFaultError, match=message):
        line.set_fault(unit, kind, **params)
    assert line.faults() == []


# ---- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize("config,message", [
    ({"model": "dtsu666"},
     r"meter 0: key 'unit' must be a whole number from 1 to 247 \(the Modbus unit id\), got None"),
    ({"unit": 248, "model": "dtsu666"}, "got 248"),
    ({"unit": 3, "model": "sdm630"}, r"meter 0 \(unit 3\): key 'model' must be one of ddsu666, dtsu666, got 'sdm630'"),
    ({"unit": 3, "model": "ddsu666", "power_factor": 0}, "key 'power_factor' must be a number from 0.1 to 1, got 0"),
    ({"unit": 3, "model": "ddsu666", "colour": "red"}, "key 'colour' is not a meter key"),
    ({"unit": 3, "model": "ddsu666", "profile": [1] * 23}, "key 'profile' must be 24 numbers"),
    ({"unit": 3, "model": "dtsu666", "phase_shares": [0.5, 0.5]}, "must be 3 number.s. >= 0 summing to 1"),
])
def test_bad_meter_configs_name_entry_unit_and_key(config, message):
    with pytest.raises(ModbusSimConfigError, match=message):
        check_meter(config, None, 0)


def test_check_meter_fills_defaults_by_phases():
    assert check_meter({"unit": 1, "model": "ddsu666"})["base_kw"] == 1.2
    assert check_meter({"unit": 1, "model": "dtsu666"})["phase_shares"] == pytest.approx((1 / 3,) * 3)


def test_duplicate_units_are_refused():
    with pytest.raises(ModbusSimConfigError, match=r"meter 1 \(unit 1\): unit 1 is already used by meter 0"):
        ModbusMeterServer([_meter(1), _meter(1, "ddsu666")])


def test_sample_file_loads(tmp_path):
    from firmware_sim.cli import _sample_path
    meters, settings, faults = load_modbus_config(_sample_path("modbus.toml"))
    assert len(meters) == 5 and {m["model"] for m in meters} == {"dtsu666", "ddsu666"}
    assert settings["transport"] == "tcp" and faults == [{"unit": 13, "kind": "absent"}]


def test_config_file_errors_name_the_file(tmp_path):
    path = tmp_path / "line.toml"
    path.write_text('[server]\ntransport = "udp"\n[[meter]]\nunit = 1\nmodel = "ddsu666"\n')
    with pytest.raises(ModbusSimConfigError, match=r"line.toml: \[server\] key 'transport' must be"):
        load_modbus_config(str(path))
    path.write_text("[[meter]\n")
    with pytest.raises(ModbusSimConfigError, match="line.toml is not valid TOML"):
        load_modbus_config(str(path))
    path.write_text('[server]\nstart_utc = 2024-06-01T00:00:00Z\n[[meter]]\nunit = 1\nmodel = "ddsu666"\n'
                    '[[fault]]\nunit = 2\nkind = "absent"\n')
    meters, settings, faults = load_modbus_config(str(path))
    assert settings["start_utc"] == 1717200000.0
    with pytest.raises(ModbusSimConfigError, match=r"line.toml: fault 0: fault absent: no meter at unit 2"):
        ModbusMeterServer(meters, faults=faults, source=str(path))


# ---- the pymodbus server ---------------------------------------------------------------


@pytest.fixture(params=["tcp", "rtu-pty"])
def server(request):
    meters = [_meter(1, base_kw=6.0, start_kwh=1000.0), _meter(2, "ddsu666", start_kwh=55.5),
              _meter(3, "ddsu666")]
    with ModbusMeterServer(meters, transport=request.param, time_scale=0, start_utc=T0) as srv:
        yield srv


def _client(url, timeout=0.3):
    if url.startswith("tcp://"):
        host, port = url[6:].rsplit(":", 1)
        client = ModbusTcpClient(host, port=int(port), timeout=timeout, retries=0)
    else:
        client = ModbusSerialClient(port=url, framer=FramerType.RTU, baudrate=9600, timeout=timeout, retries=0)
    assert client.connect()
    return client


def test_several_units_answer_their_own_registers(server):
    client = _client(server.url)
    try:
        for unit, model in ((1, "dtsu666"), (2, "ddsu666"), (3, "ddsu666")):
            state = server.state(unit)
            for request in plan_reads(model):
                reply = client.read_holding_registers(request.address, count=request.count, device_id=unit)
                assert not reply.isError(), (unit, request)
                for item in request.items:
                    offset = item.address - request.address
                    value = decode(model, item, reply.registers[offset:offset + item.registers])[0]
                    assert value == state[item.name], (unit, item.name)
        assert server.state(1)["forward_active_total"] == 1000.0
    finally:
        client.close()


def test_absent_and_unknown_units_are_silent_and_the_others_still_answer(server):
    """Promise 4: a dead meter does not stop the others."""
    server.set_fault(3, "absent")
    client = _client(server.url, timeout=0.2)
    try:
        for unit in (3, 99):
            with pytest.raises(Exception, match="No response"):
                client.read_holding_registers(0x2000, count=2, device_id=unit)
        reply = client.read_holding_registers(0x2000, count=2, device_id=2)
        assert decode("ddsu666", "voltage_a", reply.registers)[0] == server.state(2)["voltage_a"]
    finally:
        client.close()
    assert server.stats["silent"] == 1       # unit 99 has no meter to count it


def test_exception_fault_gives_an_exception_reply(server):
    server.set_fault(2, "exception", code=4)
    client = _client(server.url)
    try:
        reply = client.read_holding_registers(0x2000, count=2, device_id=2)
        assert reply.isError() and reply.exception_code == 4
        reply = client.read_input_registers(0x2000, count=2, device_id=1)
        assert reply.isError() and reply.exception_code == 1
    finally:
        client.close()


def test_frozen_time_stands_still_until_advanced():
    with ModbusMeterServer([_meter(1, base_kw=6.0, start_kwh=10.0)], time_scale=0, start_utc=T0) as srv:
        assert srv.state(1)["forward_active_total"] == 10.0
        srv.advance(3600)
        assert srv.state(1)["forward_active_total"] == 16.0
        assert srv.sim_now() == T0 + 3600


def test_time_scale_runs_the_meters_faster():
    with ModbusMeterServer([_meter(1, base_kw=36.0)], time_scale=3600.0, start_utc=T0) as srv:
        first = srv.state(1)["forward_active_total"]
        import time
        time.sleep(0.05)          # 0.05 s x 3600 = 3 simulated minutes at 36 kW = 1.8 kWh
        assert srv.state(1)["forward_active_total"] - first >= 1.7


def test_stop_is_idempotent_and_the_port_closes():
    srv = ModbusMeterServer([_meter(1)], time_scale=0).start()
    url = srv.url
    srv.stop()
    srv.stop()
    host, port = url[6:].rsplit(":", 1)
    client = ModbusTcpClient(host, port=int(port), timeout=0.2, retries=0)
    assert not client.connect()


# ---- the command ------------------------------------------------------------------------


def test_cli_bad_file_exits_1_with_one_error_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[meter]]\nunit = 1\nmodel = "dtsu667"\n')
    result = CliRunner().invoke(cli, ["modbus", "--meters", str(path), "--tcp", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: %s: meter 0 (unit 1): key 'model' must be one of ddsu666, dtsu666, got 'dtsu667'" % path]


def test_cli_pty_and_tcp_together_is_a_usage_error():
    result = CliRunner().invoke(cli, ["modbus", "--pty", "--tcp", "0"])
    assert result.exit_code == 2 and "choose one of --pty and --tcp PORT" in result.output


def test_cli_serves_the_sample_and_takes_commands():
    proc = subprocess.Popen([sys.executable, "-m", "firmware_sim", "modbus", "--tcp", "0", "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "listening" and first["url"].startswith("tcp://127.0.0.1:")
        events = [json.loads(proc.stdout.readline()) for _ in range(7)]
        assert [e["event"] for e in events] == ["server"] + ["meter"] * 5 + ["ready"]
        assert events[-2]["faults"] == ["absent"]
        client = _client(first["url"], timeout=1.0)
        try:
            reply = client.read_holding_registers(0x4000, count=2, device_id=11)
            assert decode("ddsu666", "forward_active_total", reply.registers)[0] >= 5321.07
        finally:
            client.close()
        proc.stdin.write("exception 11 6\nbogus\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"event": "command", "kind": "exception", "unit": 11,
                                                      "code": 6, "command": "exception"}
        assert json.loads(proc.stdout.readline())["event"] == "error"
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["event"] == "stopped"
