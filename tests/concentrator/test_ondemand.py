"""The hall's read-meter command checked against the archive (pure: no ports, no broker).

The end-to-end path (hall CLI, broker, agent, simulated meters, hall store) is in
tests/hall/test_command_read.py."""

import pytest

from concentrator._ondemand import (CYCLE_PREFIX, FAILED, READ_METER, REFUSED, CommandReceived, CommandRefused,
                                    OnDemandReads, event_body, parse_read_command)
from concentrator._schedule_events import CYCLE, DEMAND, ItemFailed, ItemRead, Job
from concentrator.archive import ArchiveMeter
from protocols.records import KINDS

A07 = "202311150030"
A97 = "000009310421"
MB = "202311150077"


def archive_meter(address, protocol="2007", line="line1", unit=None):
    return ArchiveMeter(address=address, unit=unit, protocol=protocol, line=line, port="socket://gw:4001",
                        baud=2400, parity="E", area="tq0001", role="customer", customer="", phases=1,
                        ct_ratio=1.0, pt_ratio=1.0)


METERS = {"line1/%s" % A07: archive_meter(A07), "line1/%s" % A97: archive_meter(A97, "1997"),
          "line2/%s/5" % MB: archive_meter(MB, "modbus:ddsu666", "line2", 5)}


def command(args, cid="19a4e2b1c3f-5e0c1a", name=READ_METER):
    return {"id": cid, "name": name, "args": args}


def refusal(fields, meters=METERS):
    with pytest.raises(CommandRefused) as info:
        parse_read_command(fields, meters)
    return info.value


def test_a_valid_command_names_the_archive_meter_and_keeps_the_item_order():
    request = parse_read_command(command({"meter": A07, "items": ["voltage_a", "forward_active_total"]}), METERS)
    assert request.meter_text == "line1/%s" % A07 and request.meter.address == A07
    assert request.items == ["voltage_a", "forward_active_total"]
    assert request.cycle_id == CYCLE_PREFIX + "19a4e2b1c3f-5e0c1a"


def test_items_are_checked_against_the_meters_own_protocol():
    assert parse_read_command(command({"meter": A97, "items": ["forward_active_total"]}), METERS).items == [
        "forward_active_total"]
    assert parse_read_command(command({"meter": MB, "items": ["voltage_a"]}), METERS).meter_text == "line2/%s/5" % MB
    parse_read_command(command({"meter": A07, "items": ["voltage_b"]}), METERS)      # a 2007 name
    exc = refusal(command({"meter": MB, "items": ["forward_active_total", "voltage_b"]}))
    assert exc.key == "items" and exc.meter == MB
    assert "'voltage_b' is not an item of meter %s (protocol modbus:ddsu666)" % MB in str(exc)


def test_unknown_meter_is_refused_naming_it():
    exc = refusal(command({"meter": "202311159999", "items": ["forward_active_total"]}))
    assert str(exc) == "command 19a4e2b1c3f-5e0c1a: meter 202311159999 is not in the archive"
    assert (exc.key, exc.meter, exc.command_id) == ("meter", "202311159999", "19a4e2b1c3f-5e0c1a")


@pytest.mark.parametrize("args,key,text", [
    ({"meter": A07, "items": ["no_such_item"]}, "items", "'no_such_item' is not an item of meter %s (protocol 2007)"
                                                        % A07),
    ({"meter": A07, "items": []}, "items", "expected a list of 1 to 32 item names, got []"),
    ({"meter": A07, "items": "forward_active_total"}, "items", "expected a list of 1 to 32 item names"),
    ({"meter": A07, "items": ["voltage_a"] * 33}, "items", "expected a list of 1 to 32"),
    ({"meter": A07, "items": ["voltage_a", "voltage_a"]}, "items", "voltage_a asked twice"),
    ({"meter": A07, "items": [7]}, "items", "expected item names of 1 to 64 characters, got 7"),
    ({"meter": "20231115003", "items": ["voltage_a"]}, "meter", "expected a 12-digit address, got '20231115003'"),
    ({"meter": 202311150030, "items": ["voltage_a"]}, "meter", "expected a 12-digit address"),
    ({"items": ["voltage_a"]}, "meter", "argument 'meter' is missing"),
    ({"meter": A07}, "items", "argument 'items' is missing"),
    ({"meter": A07, "items": ["voltage_a"], "di": "00010000"}, "di",
     "unknown argument 'di' (read-meter takes meter, items)"),
])
def test_bad_arguments_are_refused_naming_the_argument(args, key, text):
    exc = refusal(command(args))
    assert exc.key == key and text in str(exc), str(exc)
    assert str(exc).startswith("command 19a4e2b1c3f-5e0c1a: ")


def test_unknown_command_name_and_an_id_too_long_for_a_cycle_id():
    assert refusal(command({}, name="reboot")).key == "name"
    assert "unknown command 'reboot' (this concentrator runs: read-meter)" in str(refusal(command({}, name="reboot")))
    parse_read_command(command({"meter": A07, "items": ["voltage_a"]}, cid="x" * 61), METERS)     # od- + 61 = 64
    exc = refusal(command({"meter": A07, "items": ["voltage_a"]}, cid="x" * 62))
    assert exc.key == "id" and "id has 62 characters, at most 61 fit in a cycle id" in str(exc)


def test_a_meter_twice_in_the_archive_is_ambiguous():
    meters = dict(METERS, **{"line9/%s" % A07: archive_meter(A07, line="line9")})
    exc = refusal(command({"meter": A07, "items": ["voltage_a"]}), meters)
    assert "is in the archive 2 times (line1/%s, line9/%s)" % (A07, A07) in str(exc)


def test_answer_events_fit_the_event_schema():
    schema = KINDS["event"].schema(1)
    body = event_body(REFUSED, "command x: " + "y" * 600, A07)
    schema.check(body, "body")      # raises SchemaError when it does not fit
    schema.check(event_body(FAILED, "command x: line line1 is not running"), "body")
    assert len(body["detail"]) == 512 and body["state"] == "once" and body["meter"] == A07
    assert "meter" not in event_body(FAILED, "command x: line line1 is not running")


def test_only_commands_and_on_demand_job_ends_are_claimed():
    ondemand = OnDemandReads(lambda event: None, lambda: 0, lambda text: None, None)
    demand = Job(1, "line1/%s" % A07, "voltage_a", "od-x", DEMAND, None)
    cycle = Job(2, "line1/%s" % A07, "voltage_a", "rt-2026-11-23T10:15", CYCLE, None)
    assert ondemand.claims(CommandReceived(None))
    assert ondemand.claims(ItemRead(demand, 230.0, 0.0)) and ondemand.claims(ItemFailed(demand, "timeout", "", None, 0))
    assert not ondemand.claims(ItemRead(cycle, 230.0, 0.0)) and not ondemand.claims(ItemFailed(cycle, "timeout", "",
                                                                                                None, 0))
