"""Which frame answers which request (DL/T 645 §16 master rules)."""

from concentrator._matching import Expectation
from protocols.dlt645 import (build_error_reply, build_read_reply, build_read_request, parse_frame)

ADDR = "202311150042"


def test_reply_to_the_request_is_accepted():
    exp = Expectation(ADDR, 0x11, 0x00010000)
    assert exp.accepts(parse_frame(build_read_reply(ADDR, 0x00010000, 1.5)))


def test_echo_of_own_request_is_ignored():
    exp = Expectation(ADDR, 0x11, 0x00010000)
    assert not exp.accepts(parse_frame(build_read_request(ADDR, 0x00010000)))


def test_other_meter_and_other_di_are_ignored():
    exp = Expectation(ADDR, 0x11, 0x00010000)
    assert not exp.accepts(parse_frame(build_read_reply("202311150043", 0x00010000, 1.5)))
    assert not exp.accepts(parse_frame(build_read_reply(ADDR, 0x00020000, 1.5)))


def test_abnormal_reply_of_the_meter_is_an_answer():
    exp = Expectation(ADDR, 0x11, 0x00010000)
    assert exp.accepts(parse_frame(build_error_reply(ADDR, 0x11, 0x02)))


def test_wildcard_pattern_accepts_any_meter_it_selects():
    exp = Expectation("AAAAAAAAAA42", 0x11, 0x00010000)
    assert exp.accepts(parse_frame(build_read_reply(ADDR, 0x00010000, 1.5)))
    assert not exp.accepts(parse_frame(build_read_reply("202311150043", 0x00010000, 1.5)))


def test_edition_must_match():
    exp = Expectation("000012345678", 0x01, 0x9010, "1997")
    assert exp.accepts(parse_frame(build_read_reply("000012345678", 0x9010, 12.5, std="1997")))
    assert not exp.accepts(parse_frame(build_read_reply("000012345678", 0x00010000, 12.5)))
