"""Reading Modbus meters through pymodbus (concentrator._modbus) against the simulated meters,
over Modbus TCP and over Modbus RTU on a real pty pair."""

import socket
import time

import pytest

from concentrator import AbnormalReply, BadReply, ConcentratorError, LineError, Reading, ReplyTimeout
from concentrator._modbus import ModbusExceptionReply, ModbusLine, ModbusReading, read_modbus, read_modbus_items
from firmware_sim.modbus import ModbusMeterServer
from protocols.modbus_maps import get_model
from protocols.records._bodies import READING_V1

T0 = 1717171200.0
METERS = [
    {"unit": 1, "model": "dtsu666", "base_kw": 30.0, "start_kwh": 183456.25, "reply_delay_ms": 5},
    {"unit": 11, "model": "ddsu666", "start_kwh": 5321.07, "reply_delay_ms": 5},
    {"unit": 12, "model": "ddsu666", "export_kw": 2.5, "start_kwh": 2210.4, "start_export_kwh": 812.3,
     "reply_delay_ms": 5},
]


@pytest.fixture(scope="module", params=["tcp", "rtu-pty"])
def server(request):
    with ModbusMeterServer(METERS, transport=request.param, time_scale=0, start_utc=T0) as srv:
        yield srv


@pytest.fixture
def line(server):
    server.clear_fault()
    with ModbusLine(server.url, timeout_s=0.25) as opened:
        yield opened
    server.clear_fault()


def test_read_one_item_matches_the_meter_state(server, line):
    reading = read_modbus(line, 11, "ddsu666", "forward_active_total", meter="202406010011")
    assert isinstance(reading, Reading) and isinstance(reading, ModbusReading)
    assert (reading.address, reading.std, reading.di, reading.name) == ("202406010011", "modbus", 0x4000,
                                                                         "forward_active_total")
    assert (reading.value, reading.unit) == (5321.07, "kWh") == (server.state(11)["forward_active_total"], "kWh")
    assert reading.frames == 1 and reading.elapsed_s > 0


@pytest.mark.parametrize("unit,model", [(1, "dtsu666"), (11, "ddsu666"), (12, "ddsu666")])
def test_read_every_item_of_each_model(server, line, unit, model):
    readings = read_modbus_items(line, unit, model)
    state = server.state(unit)
    assert [r.name for r in readings] == get_model(model).item_names()
    assert {r.name: r.value for r in readings} == state
    assert all(r.unit_id == unit and r.model == model for r in readings)


def test_a_pv_meter_reads_its_export(line):
    readings = {r.name: r.value for r in read_modbus_items(line, 12, "ddsu666",
                                                           ["forward_active_total", "reverse_active_total"])}
    assert readings == {"forward_active_total": 2210.4, "reverse_active_total": 812.3}


def test_as_dict_is_a_valid_reading_record_body(line):
    """READING_V1 (M-01): di is the register address, 4 hex digits, for std "modbus"."""
    reading = read_modbus(line, 1, "dtsu666", "voltage_a", meter="202406010001")
    body = reading.as_dict()
    assert (body["std"], body["di"], body["unit"], body["unit_id"]) == ("modbus", "2006", "V", 1)
    record = {"meter": body["address"], "di": body["di"], "name": body["name"], "value": body["value"],
              "unit": body["unit"], "std": body["std"], "cycle": "2024-06-01", "read_t": 1717171200000}
    READING_V1.check(record, "body")


def test_energy_advances_between_reads(server, line):
    before = read_modbus(line, 1, "dtsu666", "forward_active_total").value
    server.advance(3600)
    after = read_modbus(line, 1, "dtsu666", "forward_active_total").value
    assert after > before
    assert after == server.state(1)["forward_active_total"]


def test_a_dead_unit_times_out_after_every_attempt_and_the_others_still_answer(server, line):
    """M-09 acquisition failure for one meter; promise 4: the others keep answering."""
    server.set_fault(11, "absent")
    started = time.monotonic()
    with pytest.raises(ReplyTimeout, match=r"no reply from unit 11 \(meter 202406010011\) on .* within 0.25 s to "
                                           r"read holding registers 0x2000 count 2, 3 attempts") as info:
        read_modbus(line, 11, "ddsu666", "voltage_a", meter="202406010011", retries=2)
    assert time.monotonic() - started >= 0.7
    assert (info.value.address, info.value.timeout_s) == ("202406010011", 0.25)
    assert read_modbus(line, 12, "ddsu666", "voltage_a").value == server.state(12)["voltage_a"]
    assert read_modbus(line, 1, "dtsu666", "frequency").value == 50.0


def test_a_unit_with_no_meter_times_out(line):
    with pytest.raises(ReplyTimeout, match="no reply from unit 200 on"):
        read_modbus(line, 200, "ddsu666", "voltage_a", retries=0)


def test_an_exception_reply_is_an_abnormal_reply_and_is_not_retried(server, line):
    server.set_fault(12, "exception", code=4)
    before = server.stats["requests"]
    with pytest.raises(ModbusExceptionReply, match="unit 12 on .* answered exception 04 \\(server device failure\\) "
                                                   "to read holding registers 0x4000 count 2") as info:
        read_modbus(line, 12, "ddsu666", "forward_active_total", retries=2)
    assert isinstance(info.value, AbnormalReply)
    assert (info.value.exception_code, info.value.meanings, info.value.unit) == (4, ["server device failure"], 12)
    assert server.stats["requests"] == before + 1


def test_reading_unmapped_registers_gets_illegal_data_address(line):
    with pytest.raises(ModbusExceptionReply, match="exception 02 \\(illegal data address\\)"):
        read_modbus_items(line, 11, "ddsu666", ["voltage_a", "frequency"], max_gap=12)


def test_a_reply_without_a_number_is_a_bad_reply(server, line):
    server.set_fault(11, "nan")
    with pytest.raises(BadReply, match="reply from unit 11 on .*: ddsu666 voltage_a \\(register 0x2000, f32\\): "
                                       "registers FFFF FFFF hold nan, not a number"):
        read_modbus(line, 11, "ddsu666", "voltage_a")


def test_a_slow_meter_within_the_timeout_is_read(server, line):
    server.set_fault(1, "slow", ms=150)
    started = time.monotonic()
    assert read_modbus(line, 1, "dtsu666", "voltage_b", retries=0).unit == "V"
    assert time.monotonic() - started >= 0.15


def test_a_meter_slower_than_the_timeout_times_out_over_tcp():
    with ModbusMeterServer(METERS[:1], time_scale=0, start_utc=T0, faults=[{"unit": 1, "kind": "slow", "ms": 400}]) \
            as srv, ModbusLine(srv.url, timeout_s=0.15) as tcp:
        with pytest.raises(ReplyTimeout, match="within 0.15 s"):
            read_modbus(tcp, 1, "dtsu666", "voltage_a", retries=0)
        srv.clear_fault()
        time.sleep(0.3)     # let the late reply arrive and be discarded
        assert read_modbus(tcp, 1, "dtsu666", "voltage_a").value == srv.state(1)["voltage_a"]


def test_a_closed_port_is_a_line_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(LineError, match="cannot open Modbus line tcp://127.0.0.1:%d" % port):
        ModbusLine("tcp://127.0.0.1:%d" % port, timeout_s=0.2).open()


@pytest.mark.parametrize("kwargs,message", [
    ({"url": "tcp://nohost"}, "Modbus TCP URL must be tcp://HOST:PORT, got 'tcp://nohost'"),
    ({"url": "/dev/null", "parity": "X"}, "parity must be one of N, E, O, got 'X'"),
])
def test_bad_line_settings(kwargs, message):
    with pytest.raises(LineError, match=message):
        ModbusLine(**kwargs)


@pytest.mark.parametrize("args,message", [
    ((0, "ddsu666", "voltage_a"), "Modbus unit id must be 1-247, got 0"),
    ((11, "sdm120", "voltage_a"), "unknown Modbus meter model 'sdm120'"),
    ((11, "ddsu666", "voltage_c"), "model ddsu666 has no item 'voltage_c'"),
])
def test_bad_requests_are_concentrator_errors(line, args, message):
    with pytest.raises(ConcentratorError, match=message):
        read_modbus(line, *args)
