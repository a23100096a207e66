"""The meter archive (电表档案): field rules, rules across rows, files, the SQLite store.

Every rule is checked with the exact message a field collector sees.
"""

import csv
import io
import os
import re
import sqlite3
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from concentrator import ConcentratorError
from concentrator.archive import (FIELDS, MAX_PROBLEMS, Archive, ArchiveError, ArchiveFileError, ArchiveStoreError,
                                  dump_csv, dump_toml, load_archive_file, make_meter, mask_customer, modbus_models,
                                  parse_archive, write_archive_file)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "concentrator" / "samples" / "archive.csv"
SIM_METERS = REPO / "firmware_sim" / "samples" / "meters.toml"
PORT = "socket://127.0.0.1:4059"
ADDRESS_EXPECTED = "the nameplate address, 1 to 12 digits (zeros are added on the left)"


def _models_text():
    models = modbus_models()
    return ", ".join(models) if models else "none known to this version"


@pytest.fixture
def modbus_model():
    """A model the register maps know (``protocols.modbus_maps.model_names()``)."""
    models = modbus_models()
    if not models:
        pytest.skip("protocols.modbus_maps.model_names() knows no Modbus model yet")
    return models[0]


def row(**changes):
    """A valid CSV row (text cells) of a customer meter on line1, changed by keywords."""
    cells = {"address": "202311150032", "unit": "", "protocol": "2007", "line": "line1", "port": PORT,
             "baud": "2400", "parity": "E", "area": "TQ0001", "role": "customer", "customer": "320100017890",
             "phases": "1", "ct_ratio": "1", "pt_ratio": "1", "name": "", "location": ""}
    cells.update(changes)
    return cells


def supply(**changes):
    return row(**dict({"address": "202311150031", "role": "supply", "customer": "", "phases": "3",
                       "ct_ratio": "200/5"}, **changes))


def csv_bytes(*rows, header=FIELDS, bom=False):
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")     # as Excel writes, and so \r in a cell gets quotes
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(f, "") for f in FIELDS] if isinstance(r, dict) else r)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


def parse(*rows, path="a.csv", **kwargs):
    return parse_archive(csv_bytes(*rows, **kwargs), path, "csv")


def problems_of(*rows, **kwargs):
    return [str(p) for p in parse(*rows, **kwargs).problems]


def import_rows(archive, *rows, mode="merge", path="a.csv"):
    return archive.import_meters(parse(*rows, path=path), mode=mode)


def import_errors(archive, *rows, mode="merge", path="a.csv"):
    with pytest.raises(ArchiveFileError) as info:
        import_rows(archive, *rows, mode=mode, path=path)
    return [str(p) for p in info.value.problems]


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "concentrator.db") as store:
        yield store


# ------------------------------------------------------------------ sample

def test_sample_archive_matches_the_simulated_line():
    parsed = load_archive_file(SAMPLE)
    assert parsed.problems == []
    meters = {m.address: m for m in parsed.meters}
    sim = tomllib.loads(SIM_METERS.read_text(encoding="utf-8"))["meter"]
    assert [m.address for m in parsed.meters] == [m["address"] for m in sim]
    for entry in sim:
        meter = meters[entry["address"]]
        assert meter.protocol == entry["std"]
        assert meter.phases == entry["phases"]
        assert meter.baud == entry["baud"]
    # The supply meter and the CT-metered shop carry the ratios the simulator wires them with.
    assert [m.address for m in parsed.meters if m.role == "supply"] == ["202311150030"]
    assert [(e["address"], e.get("supplies")) for e in sim if "supplies" in e] == [("202311150030", "all")]
    for entry in sim:
        assert meters[entry["address"]].ct_ratio == entry.get("ct_ratio", 1)
        assert meters[entry["address"]].pt_ratio == entry.get("pt_ratio", 1)
    assert meters["202311150030"].ct_ratio == 40.0
    assert len({m.area for m in parsed.meters}) == 1 and len({m.line for m in parsed.meters}) == 1


def test_sample_imports_without_warnings(archive):
    summary = archive.import_file(SAMPLE, mode="replace")
    assert (summary.added, summary.meters, summary.lines, summary.areas, summary.warnings) == (21, 21, 1, 1, [])


def test_docs_examples_parse_to_the_same_archive():
    doc = (REPO / "docs" / "concentrator.md").read_text(encoding="utf-8")
    doc = doc[doc.index("\n## The meter archive"):]      # the reference's two examples, not the set-up guide's
    csv_text = re.search(r"```csv\n(.*?)```", doc, re.S).group(1)
    toml_text = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    from_csv = parse_archive(csv_text.encode(), "doc.csv", "csv")
    from_toml = parse_archive(toml_text.encode(), "doc.toml", "toml")
    assert from_csv.problems == [] and from_toml.problems == []
    assert from_csv.meters == from_toml.meters


# ------------------------------------------------------------- field rules

BAD_FIELDS = [
    ({"address": "2023x"}, "address: expected %s, got '2023x'" % ADDRESS_EXPECTED),
    ({"address": "2023111500312"}, "address: expected %s, got '2023111500312'" % ADDRESS_EXPECTED),
    ({"address": "999999999999"}, "address: expected %s, not the broadcast address, got '999999999999'"
     % ADDRESS_EXPECTED),
    ({"address": ""}, "address: expected %s, got nothing" % ADDRESS_EXPECTED),
    ({"unit": "3"}, "unit: expected nothing for a DL/T 645 meter (unit ids are for Modbus), got '3'"),
    ({"protocol": "2008"}, "protocol: expected 2007, 1997 or modbus:MODEL (MODEL: %s), got '2008'" % _models_text()),
    ({"protocol": "modbus:nosuch"}, "protocol: expected 2007, 1997 or modbus:MODEL (MODEL: %s), got 'modbus:nosuch'"
     % _models_text()),
    ({"line": "line 1"}, "line: expected a line name of 1 to 32 letters, digits, '-', '_' or '.' (such as line1), "
                         "got 'line 1'"),
    ({"port": "COM3"}, "port: expected a port such as /dev/ttyUSB0, socket://HOST:PORT, rfc2217://HOST:PORT or "
                       "tcp://HOST:PORT, got 'COM3'"),
    ({"port": "socket://h:70000"}, "port: expected a port such as /dev/ttyUSB0, socket://HOST:PORT, "
                                   "rfc2217://HOST:PORT or tcp://HOST:PORT, got 'socket://h:70000'"),
    ({"port": "tcp://10.0.0.5:502"}, "port: expected a serial port or socket:// for a DL/T 645 meter (tcp:// is "
                                     "Modbus TCP), got 'tcp://10.0.0.5:502'"),
    ({"baud": "2500"}, "baud: expected a standard rate: 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, "
                       "115200, got '2500'"),
    ({"parity": "X"}, "parity: expected E, N or O (even, none, odd), got 'X'"),
    ({"area": "A" * 33}, "area: expected a transformer area (台区) code of 1 to 32 ASCII letters, digits and '-', "
                        "starting with a letter or digit (records name the area by it in lower case), got '%s'"
                        % ("A" * 33)),
    ({"role": "boss"}, "role: expected customer or supply (the area's supply meter, 台区总表), got 'boss'"),
    ({"customer": "32010001789x"}, "customer: expected a customer number (户号) of 6 to 20 digits, got 12 characters "
                                   "with 'x' at position 12"),
    ({"customer": "12345"}, "customer: expected a customer number (户号) of 6 to 20 digits, got 5 characters"),
    ({"customer": "32******7890"}, "customer: expected a customer number (户号) of 6 to 20 digits, got a masked "
                                   "number (32******7890); import a file exported without --masked"),
    ({"customer": ""}, "customer: expected a customer number (户号) of 6 to 20 digits for a customer meter, "
                       "got nothing"),
    ({"phases": "2"}, "phases: expected 1 or 3, got '2'"),
    ({"ct_ratio": "0"}, "ct_ratio: expected a positive number such as 1, 40 or 200/5 (at most 100000), got '0'"),
    ({"ct_ratio": "-5"}, "ct_ratio: expected a positive number such as 1, 40 or 200/5 (at most 100000), got '-5'"),
    ({"ct_ratio": "200/0"}, "ct_ratio: expected a positive number such as 1, 40 or 200/5 (at most 100000), "
                            "got '200/0'"),
    ({"pt_ratio": "1e6"}, "pt_ratio: expected a positive number such as 1, 40 or 200/5 (at most 100000), got '1e6'"),
    ({"pt_ratio": "nan"}, "pt_ratio: expected a positive number such as 1, 40 or 200/5 (at most 100000), got 'nan'"),
    ({"name": "x" * 65}, "name: expected text of at most 64 characters on one line, got '%s'" % ("x" * 65)),
    ({"location": "box\n2"}, "location: expected text of at most 64 characters on one line, got 'box\\n2'"),
]


@pytest.mark.parametrize("changes,message", BAD_FIELDS, ids=[m.split(":")[0] + "-" + str(i)
                                                             for i, (_c, m) in enumerate(BAD_FIELDS)])
def test_each_field_rule_names_file_line_field_expected_and_got(changes, message):
    assert problems_of(supply(), row(**changes)) == ["a.csv line 3: " + message]


def test_a_supply_meter_has_no_customer_number():
    assert problems_of(supply(customer="320100017890")) == [
        "a.csv line 2: customer: expected nothing for a supply meter (台区总表 belongs to the area, not a customer), "
        "got a customer number"]


def test_every_problem_of_a_row_is_reported():
    got = problems_of(row(address="x", baud="1", parity="Q", phases="4"))
    assert [p.split(": ")[1] for p in got] == ["address", "baud", "parity", "phases"]


def test_values_are_normalised():
    parsed = parse(row(address="9310421", protocol="1997", parity="even", role="户表", phases="单相",
                       ct_ratio="150/5", pt_ratio="10000/100", name=" 便利店 "),
                   supply(area="TQ0001", role="总表", parity="e"))
    assert parsed.problems == []
    meter, total = parsed.meters
    assert (meter.address, meter.parity, meter.role, meter.phases, meter.ct_ratio, meter.pt_ratio, meter.name) == (
        "000009310421", "E", "customer", 1, 30.0, 100.0, "便利店")
    assert meter.unit is None and total.role == "supply" and total.customer == ""


def test_defaults_for_optional_fields():
    header = ("address", "protocol", "line", "port", "area", "phases", "customer")
    parsed = parse(["202311150032", "2007", "line1", "/dev/ttyUSB0", "TQ1", "1", "320100017890"], header=header)
    meter = parsed.meters[0]
    assert (meter.baud, meter.parity, meter.role, meter.ct_ratio, meter.pt_ratio, meter.name, meter.location) == (
        2400, "E", "customer", 1.0, 1.0, "", "")


def test_modbus_meter_needs_a_unit_id_in_range(modbus_model):
    protocol = "modbus:" + modbus_model
    assert problems_of(supply(), row(protocol=protocol), row(protocol=protocol, address="202311150033", unit="248"),
                       row(protocol=protocol, address="202311150034", unit="x")) == [
        "a.csv line 3: unit: expected a Modbus unit id 1 to 247 for a %s meter, got nothing" % protocol,
        "a.csv line 4: unit: expected a Modbus unit id 1 to 247, got '248'",
        "a.csv line 5: unit: expected a Modbus unit id 1 to 247, got 'x'",
    ]


def test_modbus_model_spelling_is_normalised_and_tcp_ports_accepted(modbus_model):
    parsed = parse(supply(), row(protocol="MODBUS:" + modbus_model.upper(), unit="7", port="tcp://10.0.0.5:502",
                                 line="gw1"))
    assert parsed.problems == []
    assert parsed.meters[1].protocol == "modbus:" + modbus_model and parsed.meters[1].unit == 7


def test_make_meter_checks_like_a_file_row():
    meter = make_meter(address="202311150032", protocol="2007", line="line1", port=PORT, area="TQ1", phases=1,
                       customer="320100017890")
    assert meter.key == ("line1", "202311150032", None)
    with pytest.raises(ArchiveFileError, match=r"^archive: phases: expected 1 or 3, got the number 2$"):
        make_meter(address="202311150032", protocol="2007", line="line1", port=PORT, area="TQ1", phases=2,
                   customer="320100017890")


# ----------------------------------------------------------------- masking

@pytest.mark.parametrize("number,masked", [
    ("320100017890", "32******7890"),
    ("32010001789012", "32********9012"),
    ("3201017890", "******7890"),
    ("12345678", "****5678"),
    ("123456", "****56"),
    ("", ""),
])
def test_mask_customer_hides_at_least_four_digits(number, masked):
    assert mask_customer(number) == masked


def test_full_customer_numbers_never_appear_in_reprs_or_messages():
    number = "320100017890"
    meter = parse(row(customer=number)).meters[0]
    assert number not in repr(meter) and "32******7890" in repr(meter)
    assert meter.as_dict()["customer"] == "32******7890" and meter.as_dict(masked=False)["customer"] == number
    messages = problems_of(row(customer="3201000178x0"), row(customer="320100017890123456789"))
    assert messages and not any("3201000178" in m or "32010001789012" in m for m in messages)
    toml = b'[[meter]]\naddress = "202311150032"\ncustomer = 320100017890\n'
    texts = [str(p) for p in parse_archive(toml, "a.toml", "toml").problems]
    assert any("customer: expected a customer number" in t for t in texts)
    assert not any(number in t for t in texts)


# --------------------------------------------------------------- CSV files

def test_bom_and_chinese_headers_read_like_english_ones():
    chinese = ("表地址", "单元号", "规约", "线路", "端口", "波特率", "校验", "台区", "角色", "户号", "相数",
               "CT变比", "PT变比", "名称", "安装位置")
    rows = [[r[f] for f in FIELDS] for r in (supply(), row())]
    english = parse(*rows)
    assert english.problems == []
    assert parse(*rows, header=chinese, bom=True).meters == english.meters
    assert parse(*rows, bom=True).meters == english.meters
    assert parse(*rows, header=[h.upper() + " " for h in FIELDS]).meters == english.meters


def test_not_utf8_says_how_to_save_the_file():
    data = "address,protocol\n202311150032,2007\n# 台区\n".encode("gbk")
    with pytest.raises(ArchiveFileError) as info:
        parse_archive(data, "a.csv", "csv")
    assert str(info.value) == ("a.csv line 3: expected UTF-8 text, got byte 0xC7 (GBK?); save the file as CSV "
                               "UTF-8, or convert it (iconv -f GBK -t UTF-8)")


def test_header_problems_are_all_reported_with_a_hint():
    header = ("adress", "表地址", "address", "protocol", "line", "port", "phases")
    with pytest.raises(ArchiveFileError) as info:
        parse(["1", "2", "3", "2007", "line1", PORT, "1"], header=header)
    assert [str(p) for p in info.value.problems] == [
        "a.csv line 1: column 1: expected a field name (%s), got 'adress'; did you mean 'address'?" % ", ".join(FIELDS),
        "a.csv line 1: column 3: expected each field once, got 'address', the same field as column 2 (address)",
        "a.csv line 1: expected columns address, protocol, line, port, area, phases, got no column for area",
    ]
    assert str(info.value).startswith("a.csv: 3 errors; the first: a.csv line 1: column 1:")


def test_semicolon_separated_file_is_named():
    with pytest.raises(ArchiveFileError, match="expected columns separated by commas, got a header separated by ';'"):
        parse_archive(b"address;protocol;line\n1;2007;l\n", "a.csv", "csv")


def test_header_only_and_empty_files():
    with pytest.raises(ArchiveFileError, match=r"^a.csv: expected at least one meter after the header \(line 1\), "
                                               r"got none$"):
        parse()
    with pytest.raises(ArchiveFileError, match=r"^a.csv: expected a header row and one row per meter, got no rows$"):
        parse_archive(b"\n\n", "a.csv", "csv")


def test_line_numbers_count_comments_blank_lines_and_quoted_line_breaks():
    text = csv_bytes(supply()).decode() + "# a comment\n\n" + \
        '202311150032,,2007,line1,%s,2400,E,TQ0001,customer,320100017890,1,1,1,"two\nlines",\n' % PORT + \
        "202311150033,,2007,line1,%s,2400,E,TQ0001,customer,320100017891,2,1,1,,\n" % PORT
    got = [str(p) for p in parse_archive(text.encode(), "a.csv", "csv").problems]
    assert got == ["a.csv line 5: name: expected text of at most 64 characters on one line, got 'two\\nlines'",
                   "a.csv line 7: phases: expected 1 or 3, got '2'"]


def test_a_row_with_more_cells_than_the_header():
    cells = [supply()[f] for f in FIELDS] + ["extra"]
    assert problems_of(cells) == [
        "a.csv line 2: expected 15 columns like the header, got 16 (a comma inside a value needs quotes)"]


def test_errors_are_capped_but_counted(archive):
    rows = [supply()] + [row(address=str(i), phases="9") for i in range(1, 61)]
    with pytest.raises(ArchiveFileError) as info:
        import_rows(archive, *rows)
    assert len(info.value.problems) == MAX_PROBLEMS and info.value.total == 60
    assert str(info.value.problems[-1]).startswith("a.csv line %d: phases" % (MAX_PROBLEMS + 2))


# -------------------------------------------------------------- TOML files

def test_toml_takes_native_values():
    text = ('[[meter]]\naddress = "202311150031"\nprotocol = 2007\nline = "line1"\nport = "%s"\nbaud = 2400\n'
            'area = "TQ1"\nrole = "supply"\nphases = 3\nct_ratio = 40.0\n' % PORT)
    parsed = parse_archive(text.encode(), "a.toml", "toml")
    assert parsed.problems == []
    assert parsed.meters[0].protocol == "2007" and parsed.meters[0].ct_ratio == 40.0


def test_toml_problems_name_the_meter_table_and_key():
    text = ('[[meter]]\naddress = "202311150031"\nprotocol = "2007"\nline = "line1"\nport = "%s"\narea = "TQ1"\n'
            'role = "supply"\nphases = 3\n\n[[meter]]\naddress = 202311150032\nprotocl = "2007"\nline = "line1"\n'
            'port = "%s"\narea = "TQ1"\nphases = true\ncustomer = "320100017890"\n' % (PORT, PORT))
    got = [str(p) for p in parse_archive(text.encode(), "a.toml", "toml").problems]
    assert got == [
        "a.toml meter 2: protocl: expected a field name (%s), got unknown key 'protocl'; did you mean 'protocol'?"
        % ", ".join(FIELDS),
        "a.toml meter 2: address: expected %s, in quotes, got the number 202311150032" % ADDRESS_EXPECTED,
        "a.toml meter 2: protocol: expected 2007, 1997 or modbus:MODEL (MODEL: %s), got nothing" % _models_text(),
        "a.toml meter 2: phases: expected 1 or 3, got true",
    ]


@pytest.mark.parametrize("text,message", [
    ("[[meter]\n", r"^a.toml: invalid TOML: "),
    ('[meter]\naddress = "1"\n', r"^a.toml: meter: expected \[\[meter\]\] tables, one per meter, got a single "
                                 r"\[meter\] table$"),
    ('title = "x"\n', r"^a.toml: 2 errors; the first: a.toml: expected only \[\[meter\]\] tables, got 'title' at "
                      r"the top level$"),
])
def test_toml_layout_errors(text, message):
    with pytest.raises(ArchiveFileError, match=message):
        parse_archive(text.encode(), "a.toml", "toml")


def test_file_format_comes_from_the_name(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(csv_bytes(supply()))
    with pytest.raises(ArchiveFileError, match=r"a.txt: expected a file name ending in .csv or .toml \(or give the "
                                               r"format\), got '.txt'$"):
        load_archive_file(path)
    assert len(load_archive_file(path, "csv").meters) == 1
    with pytest.raises(ArchiveFileError, match=r"^cannot read archive file .*nosuch.csv: No such file or directory$"):
        load_archive_file(tmp_path / "nosuch.csv")


# ---------------------------------------------------------- rules across rows

def test_address_is_unique_per_line(archive):
    assert import_errors(archive, supply(), row(), row(customer="320100017891")) == [
        "a.csv line 4: address: expected each meter once per line, got 202311150032 again on line 'line1' "
        "(first at line 3)"]
    other_line = row(line="line2", port="/dev/ttyUSB1", customer="320100017891")
    assert import_rows(archive, supply(), row(), other_line).added == 3


def test_modbus_meters_are_keyed_by_address_and_unit(archive, modbus_model):
    bus = dict(protocol="modbus:" + modbus_model, line="rtu1", port="/dev/ttyUSB2", baud="9600", parity="N")
    summary = import_rows(archive, supply(), row(unit="1", **bus), row(unit="2", customer="320100017891", **bus))
    assert summary.added == 3
    assert import_errors(archive, row(address="202311150050", unit="2", customer="320100017892", **bus)) == [
        "a.csv line 2: unit: expected a unit id no other meter of line 'rtu1' uses, got 2, already the unit of "
        "202311150032 unit 2 in the archive"]


@pytest.mark.parametrize("field,value,shown", [("baud", "9600", "9600"), ("parity", "N", "'N'"),
                                               ("port", "/dev/ttyUSB1", "'/dev/ttyUSB1'")])
def test_port_settings_are_the_same_for_every_meter_of_a_line(archive, field, value, shown):
    want = {"baud": "2400", "parity": "'E'", "port": repr(PORT)}[field]
    assert import_errors(archive, supply(), row(**{field: value})) == [
        "a.csv line 3: %s: expected %s like the other meters of line 'line1' (202311150031 at line 2), got %s"
        % (field, want, shown)]


def test_a_port_belongs_to_one_line(archive):
    assert import_errors(archive, supply(), row(line="line2")) == [
        "a.csv line 3: port: expected a port no other line uses, got '%s', the port of line 'line1' (202311150031 "
        "at line 2)" % PORT]


def test_an_area_has_at_most_one_supply_meter(archive):
    assert import_errors(archive, supply(), supply(address="202311150044")) == [
        "a.csv line 3: role: expected at most one supply meter (台区总表) per area, got a second one in area "
        "'TQ0001' (the first: 202311150031 at line 2)"]
    import_rows(archive, supply())
    assert import_errors(archive, supply(address="202311150044"), path="b.csv") == [
        "b.csv line 2: role: expected at most one supply meter (台区总表) per area, got a second one in area "
        "'TQ0001' (the first: 202311150031 in the archive)"]


def test_warnings_do_not_block_the_import(archive):
    summary = import_rows(archive, row(), row(address="202311150033"))
    assert [str(p) for p in summary.warnings] == [
        "warning: a.csv line 2: role: expected one supply meter (台区总表) in area 'TQ0001', got none, so the "
        "area's line loss cannot be computed",
        "warning: a.csv line 3: customer: expected one meter per customer number (一户一表, M-10), got "
        "32******7890, also on 202311150032 at line 2",
    ]
    assert summary.meters == 2


def test_merge_checks_against_the_meters_it_keeps(archive):
    import_file_rows = [supply(), row(), row(address="202311150033", customer="320100017891")]
    import_rows(archive, *import_file_rows)
    # Moving only some meters of line1 to 9600 baud leaves the line inconsistent.
    assert import_errors(archive, row(baud="9600")) == [
        "a.csv line 2: baud: expected 2400 like the other meters of line 'line1' (202311150031 in the archive), "
        "got 9600"]
    # Moving all of them, or replacing, is fine.
    moved = [dict(r, baud="9600") for r in import_file_rows]
    assert import_rows(archive, *moved).updated == 3
    assert {m.baud for m in archive.meters()} == {9600}


# ----------------------------------------------------------------- the store

def test_replace_and_merge(archive):
    first = import_rows(archive, supply(), row(), row(address="202311150033", customer="320100017891"),
                        mode="replace")
    assert (first.added, first.updated, first.removed, first.unchanged, first.meters) == (3, 0, 0, 0, 3)
    merged = import_rows(archive, row(name="便利店"), row(address="202311150034", customer="320100017892"))
    assert (merged.added, merged.updated, merged.removed, merged.unchanged, merged.meters) == (1, 1, 0, 0, 4)
    assert archive.meters(line="line1")[1].name == "便利店"
    replaced = import_rows(archive, supply(), row(name="便利店"), mode="replace")
    assert (replaced.added, replaced.updated, replaced.removed, replaced.unchanged, replaced.meters) == (0, 0, 2, 2, 2)
    assert [m.address for m in archive.meters()] == ["202311150031", "202311150032"]
    assert [i["mode"] for i in archive.imports()] == ["replace", "merge", "replace"]


def test_the_supply_role_can_move_within_a_merge(archive):
    import_rows(archive, supply(), row())
    summary = import_rows(archive, supply(role="customer", customer="320100017899"),
                          row(role="supply", customer=""))
    assert summary.updated == 2
    assert [m.address for m in archive.meters() if m.role == "supply"] == ["202311150032"]


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_bad_file_changes_nothing(archive, mode):
    import_rows(archive, supply(), row())
    before, log = archive.meters(), archive.imports()
    # One bad row among good ones, and a rule broken across rows.
    with pytest.raises(ArchiveFileError):
        import_rows(archive, supply(baud="9600"), row(address="202311150040", customer="320100017800"),
                    row(phases="2"), mode=mode)
    assert archive.meters() == before and archive.imports() == log


def test_dry_run_counts_and_changes_nothing(archive):
    import_rows(archive, supply())
    summary = archive.import_meters(parse(supply(), row()), mode="replace", dry_run=True)
    assert (summary.dry_run, summary.added, summary.unchanged, summary.meters) == (True, 1, 1, 2)
    assert len(archive.meters()) == 1 and len(archive.imports()) == 1


def test_meters_given_in_code(archive):
    meters = parse(supply(), row()).meters
    assert archive.import_meters(meters, source="code").added == 2
    with pytest.raises(ArchiveFileError, match=r"^meter 2: address: expected each meter once per line"):
        archive.import_meters([meters[0], meters[0]])
    with pytest.raises(ValueError, match="import mode 'append': expected merge or replace"):
        archive.import_meters(meters, mode="append")
    with pytest.raises(ArchiveFileError, match="expected at least one meter, got none"):
        archive.import_meters([])


def test_database_layout(tmp_path):
    path = tmp_path / "agent.db"
    with sqlite3.connect(path) as conn:    # another part of the agent got there first
        conn.execute("CREATE TABLE ledger_cycles (id INTEGER PRIMARY KEY)")
    with Archive(path) as store:
        store.import_meters(parse(supply(), row()))
        assert [line.name for line in store.lines()] == ["line1"]
    conn = sqlite3.connect(path)
    names = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    assert names == ["archive_imports", "archive_meters", "archive_schema", "ledger_cycles"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM archive_schema").fetchone()[0] == 1
    # unit 0 is "not Modbus"; the supply index refuses a second supply meter even from outside.
    assert conn.execute("SELECT unit FROM archive_meters").fetchall() == [(0,), (0,)]
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE archive_meters SET role = 'supply', customer = ''")
    conn.close()


def test_a_new_database_is_private(tmp_path):
    with Archive(tmp_path / "new.db"):
        pass
    assert os.stat(tmp_path / "new.db").st_mode & 0o777 == 0o600


def test_store_errors(tmp_path):
    with pytest.raises(ArchiveStoreError, match=r"^no archive database .*nosuch.db$"):
        Archive(tmp_path / "nosuch.db", create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveStoreError, match=r"junk.db is not a SQLite database$"):
        Archive(junk)
    future = tmp_path / "future.db"
    with Archive(future):
        pass
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE archive_schema SET version = 2")
    with pytest.raises(ArchiveStoreError, match=r"future.db has archive schema version 2, this software reads 1$"):
        Archive(future)
    assert issubclass(ArchiveStoreError, ArchiveError) and issubclass(ArchiveError, ConcentratorError)


def test_an_archive_without_tables_reads_as_empty(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    with Archive(path, create=False) as store:
        assert store.meters() == [] and store.lines() == [] and store.imports() == []


# ------------------------------------------------------------- round trips

_TEXT = st.text(alphabet="ab Z9表箱便利店,\"'#;\\/-", max_size=12)


@st.composite
def archives(draw):
    """A valid archive: 1-3 lines, 1-3 areas, at most one supply meter per area."""
    models = modbus_models()
    n_lines = draw(st.integers(1, 3))
    lines = []
    for i in range(n_lines):
        modbus = bool(models) and draw(st.booleans())
        lines.append({"line": "line%d" % i, "port": draw(st.sampled_from(["/dev/ttyUSB%d", "socket://gw:40%02d",
                                                                        "tcp://10.0.0.%d:502" if modbus else
                                                                        "rfc2217://h:5%03d"])) % i,
                      "baud": draw(st.sampled_from(["1200", "2400", "9600", "115200"])),
                      "parity": draw(st.sampled_from("ENO")),
                      "protocols": ["modbus:" + m for m in models] if modbus else ["2007", "1997"]})
    areas = draw(st.lists(st.from_regex(r"[TQ01][TQ01-]{0,7}", fullmatch=True), min_size=1, max_size=3, unique=True))
    meters, keys, supplied = [], set(), set()
    for _ in range(draw(st.integers(1, 12))):
        line = draw(st.sampled_from(lines))
        protocol = draw(st.sampled_from(line["protocols"]))
        unit = str(draw(st.integers(1, 247))) if protocol.startswith("modbus") else ""
        address = draw(st.text(alphabet="0123456789", min_size=1, max_size=12))
        if address.rjust(12, "0") == "999999999999":
            continue
        key = (line["line"], address.rjust(12, "0"), unit)
        used_units = {k[2] for k in keys if k[0] == line["line"]}
        if key in keys or (unit and unit in used_units):
            continue
        area = draw(st.sampled_from(areas))
        role = "supply" if area not in supplied and draw(st.booleans()) else "customer"
        if role == "supply":
            supplied.add(area)
        keys.add(key)
        ratio = st.one_of(st.integers(1, 1000).map(str), st.floats(0.001, 1e5).map(repr),
                          st.sampled_from(["200/5", "100/3", "10000/100"]))
        meters.append(make_meter(
            address=address, unit=unit, protocol=protocol, line=line["line"], port=line["port"], baud=line["baud"],
            parity=line["parity"], area=area, role=role,
            customer=draw(st.text(alphabet="0123456789", min_size=6, max_size=20)) if role == "customer" else "",
            phases=draw(st.sampled_from(["1", "3"])), ct_ratio=draw(ratio), pt_ratio=draw(ratio),
            name=draw(_TEXT), location=draw(_TEXT)))
    return meters


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives())
def test_files_round_trip(meters):
    assert parse_archive(b"\xef\xbb\xbf" + dump_csv(meters).encode(), "a.csv", "csv").meters == meters
    assert parse_archive(dump_toml(meters).encode(), "a.toml", "toml").meters == meters


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meters=archives(), fmt=st.sampled_from(["csv", "toml"]))
def test_import_of_an_export_is_the_archive(tmp_path_factory, meters, fmt):
    folder = tmp_path_factory.mktemp("rt")
    with Archive(folder / "a.db") as first:
        first.import_meters(meters, mode="replace")
        write_archive_file(folder / ("x." + fmt), first.meters())
        exported = first.meters()
    with Archive(folder / "b.db") as second:
        summary = second.import_file(folder / ("x." + fmt), mode="replace")
        assert second.meters() == exported
    assert summary.added == len(meters)
    assert sorted(exported, key=lambda m: (m.line, m.address, m.unit or 0)) == exported
    assert sorted(meters, key=lambda m: (m.line, m.address, m.unit or 0)) == exported


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["csv", "toml"]))
def test_random_bytes_only_raise_archive_errors(data, fmt):
    try:
        parse_archive(data, "x", fmt)
    except ArchiveFileError:
        pass


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.text(max_size=15), min_size=len(FIELDS), max_size=len(FIELDS)))
def test_random_cells_give_problems_never_crashes(cells):
    try:
        parsed = parse_archive(csv_bytes(cells), "x.csv", "csv")
    except ArchiveFileError:    # a row that reads as blank or as a comment: no meters
        return
    assert len(parsed.meters) + len({p.line for p in parsed.problems}) <= 1
