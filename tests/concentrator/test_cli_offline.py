"""CLI commands that need no line: decode and dis; and option errors."""

import json

from click.testing import CliRunner

from concentrator.cli import cli

W2 = "68 42 00 15 11 23 20 68 91 0A 33 32 34 35 34 55 CB 54 43 55 24 16"
W3 = "68 42 00 15 11 23 20 68 D1 01 35 82 16"
W6 = "68 78 56 34 12 00 00 68 81 06 43 C3 7B 96 57 33 0C 16"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_decode_explains_a_reply_with_units():
    result = run("decode", *W2.split())
    assert result.exit_code == 0
    assert "0201FF00 voltage_block" in result.output
    assert "220.1, 219.8, 221.0 V" in result.output
    assert "meter -> master (reply), normal" in result.output


def test_decode_names_error_bits_of_abnormal_reply():
    result = run("decode", W3)
    assert result.exit_code == 0
    assert "error      0x02: no requested data" in result.output


def test_decode_splits_a_capture_with_noise_and_preambles():
    capture = "00 13 " + W2 + " FE FE FE FE " + W3 + " 77"
    result = run("decode", "--json", capture)
    assert result.exit_code == 0
    objs = [json.loads(line) for line in result.output.splitlines()]
    assert [o.get("di") for o in objs[:2]] == ["0201FF00", None]
    assert objs[0]["value"] == [220.1, 219.8, 221.0]
    assert objs[1]["error_bits"] == 2
    assert objs[2] == {"discarded": {"noise": 3}}


def test_decode_1997_frame():
    result = run("decode", "--json", W6)
    obj = json.loads(result.output)
    assert obj["std"] == "1997" and obj["di"] == "9010" and obj["value"] == 2463.48 and obj["unit"] == "kWh"


def test_decode_bad_checksum_says_where():
    result = CliRunner().invoke(cli, ["decode", W2[:-5] + "25 16"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: checksum 0x25 at byte 20, computed 0x24"


def test_decode_rejects_non_hex():
    result = CliRunner().invoke(cli, ["decode", "68 zz"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: not hexadecimal")


def test_dis_lists_names_of_both_editions():
    r2007 = run("dis", "--grep", "forward_active_total")
    assert "00010000  forward_active_total" in r2007.output
    assert "forward_active_total_prev2" not in r2007.output
    assert "forward_active_total_prev2" in run("dis", "--all", "--grep", "forward_active_total").output
    r1997 = run("dis", "--std", "1997", "--json", "--grep", "voltage")
    assert {json.loads(line)["di"] for line in r1997.output.splitlines()} >= {"B611", "B61F"}


def test_read_suggests_close_names_for_a_misspelt_di():
    result = CliRunner().invoke(cli, ["read", "--port", "socket://127.0.0.1:9", "--address", "202311150042",
                                      "--di", "forward_actve_total"])
    assert result.exit_code == 1
    assert "did you mean forward_active_total" in result.output


def test_read_rejects_a_di_of_the_wrong_width():
    result = CliRunner().invoke(cli, ["read", "--port", "socket://127.0.0.1:9", "--address", "202311150042",
                                      "--di", "9010"])
    assert result.exit_code == 1
    assert "has 4 hex digits; DL/T 645-2007 uses 8" in result.output


def test_read_on_a_closed_port_is_a_clear_error():
    result = CliRunner().invoke(cli, ["read", "--port", "socket://127.0.0.1:9", "--address", "202311150042",
                                      "--di", "forward_active_total"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot open line socket://127.0.0.1:9 at 2400 baud")


def test_decode_exits_1_when_a_whole_frame_cannot_be_parsed():
    result = CliRunner().invoke(cli, ["decode", "--std", "1997", W2])
    assert result.exit_code == 1
    assert "frame 1: 22 bytes: unknown control code: function 0x11 is not a DL/T 645-1997 function" in result.output
    assert result.output.splitlines()[-1] == "Error: 1 of 1 frame(s) could not be decoded"


def test_dis_with_no_match_is_an_error():
    result = CliRunner().invoke(cli, ["dis", "--grep", "nothing_here"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no DL/T 645-2007 data identifier name contains 'nothing_here'"


def test_suggestions_are_names_that_dis_lists():
    result = CliRunner().invoke(cli, ["read", "--port", "socket://127.0.0.1:9", "--address", "202311150042",
                                      "--di", "forward_active_totl"])
    assert "prev9" not in result.output and "forward_active_total" in result.output


def test_max_demand_prints_the_unit_after_the_value():
    from concentrator._format import format_value
    assert format_value((17.203, "2026-11-21T19:15"), 0x01010000, "2007", "kW") == "17.2030 kW @ 2026-11-21T19:15"
