"""`concentrator archive import | list | export`: output, masking, exit codes and messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from concentrator.archive import Archive
from concentrator.cli import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLE = str(REPO / "concentrator" / "samples" / "archive.csv")
HEADER = "address,unit,protocol,line,port,baud,parity,area,role,customer,phases,ct_ratio,pt_ratio,name,location\n"
SUPPLY = "202311150031,,2007,line1,/dev/ttyUSB0,2400,E,TQ1,supply,,3,200/5,1,总表,配电房\n"
CUSTOMER = "202311150032,,2007,line1,/dev/ttyUSB0,2400,E,TQ1,customer,320100017890,1,1,1,,\n"
SAMPLE_SUMMARY = ("imported 21 meters on 1 line in 1 area into {db} (replace): 21 added, 0 updated, 0 removed, "
                  "0 unchanged; the archive holds 21 meters on 1 line in 1 area\n")


def run(*args):
    return CliRunner().invoke(cli, ["archive"] + [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "concentrator.db"


@pytest.fixture
def filled(db):
    result = run("import", SAMPLE, "--db", db, "--replace")
    assert result.exit_code == 0, result.output
    return db


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_import_prints_one_summary_line(db):
    result = run("import", SAMPLE, "--db", db, "--replace")
    assert result.exit_code == 0
    assert result.stdout == SAMPLE_SUMMARY.format(db=db)
    assert result.stderr == ""


def test_import_defaults_to_the_database_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("import", SAMPLE)
    assert result.exit_code == 0
    assert result.stdout.startswith("imported 21 meters on 1 line in 1 area into concentrator.db (merge)")
    assert (tmp_path / "concentrator.db").is_file()


def test_merge_then_replace(filled, tmp_path):
    more = write(tmp_path / "more.csv", HEADER + "202311150050,,2007,line1,socket://127.0.0.1:4059,2400,E,TQ0001,"
                                                 "customer,320100099999,1,1,1,,\n")
    merged = run("import", more, "--db", filled, "--merge")
    assert merged.stdout == ("imported 1 meter on 1 line in 1 area into %s (merge): 1 added, 0 updated, 0 removed, "
                             "0 unchanged; the archive holds 22 meters on 1 line in 1 area\n" % filled)
    replaced = run("import", more, "--db", filled, "--replace")
    assert replaced.stdout.endswith("0 added, 0 updated, 21 removed, 1 unchanged; the archive holds 1 meter on 1 line "
                                    "in 1 area\n")
    # An area left without its supply meter is a warning, not an error.
    assert replaced.stderr == ("warning: %s line 2: role: expected one supply meter (台区总表) in area 'TQ0001', "
                               "got none, so the area's line loss cannot be computed\n" % more)


def test_a_bad_file_lists_every_error_then_one_error_line_and_changes_nothing(filled, tmp_path):
    bad = write(tmp_path / "bad.csv", HEADER + SUPPLY.replace("TQ1", "TQ0001").replace("/dev/ttyUSB0", "/dev/ttyUSB7")
                + CUSTOMER.replace(",1,1,1,,", ",2,1,1,,") + CUSTOMER.replace("2400", "2500"))
    before = Archive(filled).meters()
    result = run("import", bad, "--db", filled, "--replace")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "%s line 3: phases: expected 1 or 3, got '2'" % bad,
        "%s line 4: baud: expected a standard rate: 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, "
        "got '2500'" % bad,
        "Error: %s: 2 errors; the archive was not changed" % bad,
    ]
    assert result.stdout == ""
    with Archive(filled) as store:
        assert store.meters() == before and len(store.imports()) == 1


def test_errors_beyond_the_cap_are_counted(db, tmp_path):
    rows = "".join(CUSTOMER.replace("202311150032", "2023111501%02d" % i).replace(",1,1,1,,", ",4,1,1,,")
                   for i in range(60))
    result = run("import", write(tmp_path / "many.csv", HEADER + SUPPLY + rows), "--db", db)
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and len(lines) == 52
    assert lines[-2:] == ["... and 10 more",
                          "Error: %s: 60 errors; the archive was not changed" % (tmp_path / "many.csv")]


@pytest.mark.parametrize("args,message", [
    (["nosuch.csv"], "Error: cannot read archive file nosuch.csv: No such file or directory"),
    (["notes.txt"], "Error: notes.txt: expected a file name ending in .csv or .toml (or give the format), got '.txt'"),
])
def test_unreadable_files(db, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "notes.txt", HEADER + SUPPLY)
    result = run("import", *args, "--db", db)
    assert result.exit_code == 1
    assert result.stderr == message + "\n"


def test_format_option_reads_any_name(db, tmp_path):
    result = run("import", write(tmp_path / "notes.txt", HEADER + SUPPLY), "--db", db, "--format", "csv")
    assert result.exit_code == 0
    assert "imported 1 meter on 1 line in 1 area" in result.stdout


def test_dry_run_changes_nothing_and_creates_no_database(db, filled, tmp_path):
    fresh = tmp_path / "fresh.db"
    result = run("import", SAMPLE, "--db", fresh, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.startswith("dry run: would import 21 meters on 1 line in 1 area into %s (merge): 21 added"
                                    % fresh)
    assert result.stdout.endswith("; nothing was changed\n")
    assert not fresh.exists()
    again = run("import", SAMPLE, "--db", filled, "--dry-run", "--replace")
    assert "0 added, 0 updated, 0 removed, 21 unchanged" in again.stdout
    assert len(Archive(filled).imports()) == 1


def test_list_shows_a_table_with_masked_customer_numbers(filled):
    result = run("list", "--db", filled)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["line", "address", "unit", "protocol", "area", "role", "customer", "ph", "ct", "pt",
                                "name", "location"]
    assert lines[1].split() == ["line1", "000009310421", "1997", "TQ0001", "customer", "32******0518", "1", "1", "1",
                                "表箱", "B1"]
    supply = next(line for line in lines if "202311150030" in line)
    assert supply.split() == ["line1", "202311150030", "2007", "TQ0001", "supply", "3", "40", "1", "台区总表", "配电房"]
    assert lines[-2:] == ["line1: socket://127.0.0.1:4059, 2400 baud 8E1, 21 meters", "21 meters on 1 line in 1 area"]
    # S-01: no full customer number anywhere.
    assert "320100010518" not in result.output
    # Chinese names take two columns: the location column starts at one terminal column on every row.
    from concentrator.cli import _display_width
    starts = {_display_width(line[:line.index("表箱")]) for line in lines[1:21] if "表箱" in line}
    assert len(starts) == 1


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_list_formats_mask_customer_numbers(filled, fmt):
    result = run("list", "--db", filled, "--format", fmt, "--line", "line1")
    assert result.exit_code == 0
    assert "32******0518" in result.stdout and "320100010518" not in result.stdout
    if fmt == "json":
        objs = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(objs) == 21 and objs[0]["customer"] == "32******0518" and objs[0]["unit"] is None
    else:
        assert result.stdout.startswith(HEADER)


def test_list_filters_name_what_exists(filled):
    assert len(run("list", "--db", filled, "--area", "TQ0001", "--format", "json").stdout.splitlines()) == 21
    result = run("list", "--db", filled, "--area", "TQ9")
    assert result.exit_code == 1
    assert result.stderr == "Error: no area 'TQ9' in the archive in %s; its areas are TQ0001\n" % filled
    result = run("list", "--db", filled, "--line", "line9")
    assert result.stderr == "Error: no line 'line9' in the archive in %s; its lines are line1\n" % filled


def test_list_without_a_database(tmp_path):
    nosuch = tmp_path / "nosuch.db"
    result = run("list", "--db", nosuch)
    assert result.exit_code == 1
    assert result.stderr == ("Error: no archive database %s; make one with `concentrator archive import FILE --db %s`\n"
                             % (nosuch, nosuch))
    assert not nosuch.exists()


def test_list_of_an_empty_archive(tmp_path):
    empty = tmp_path / "empty.db"
    Archive(empty).close()
    result = run("list", "--db", empty)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ("the archive in %s is empty; fill it with `concentrator archive import FILE`\n" % empty)


@pytest.mark.parametrize("name", ["backup.csv", "backup.toml"])
def test_export_round_trips_with_full_numbers_in_a_private_file(filled, tmp_path, name):
    out = tmp_path / name
    result = run("export", out, "--db", filled)
    assert result.exit_code == 0
    assert result.stdout == ("exported 21 meters on 1 line in 1 area to %s (full customer numbers: keep it "
                             "confidential)\n" % out)
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert "320100010518" in out.read_text(encoding="utf-8-sig")
    again = run("import", out, "--db", filled, "--replace")
    assert "0 added, 0 updated, 0 removed, 21 unchanged" in again.stdout
    copy = tmp_path / "copy.db"
    run("import", out, "--db", copy, "--replace")
    assert Archive(copy).meters() == Archive(filled).meters()


def test_csv_export_has_a_bom_for_excel(filled, tmp_path):
    run("export", tmp_path / "x.csv", "--db", filled)
    assert (tmp_path / "x.csv").read_bytes().startswith(b"\xef\xbb\xbf" + HEADER.encode())


def test_masked_export_cannot_be_imported_back(filled, tmp_path):
    out = tmp_path / "shared.csv"
    result = run("export", out, "--db", filled, "--masked")
    assert result.stdout.endswith("(customer numbers masked)\n")
    assert "320100010518" not in out.read_text(encoding="utf-8-sig")
    again = run("import", out, "--db", filled)
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == (
        "%s line 2: customer: expected a customer number (户号) of 6 to 20 digits, got a masked number "
        "(32******0518); import a file exported without --masked" % out)


def test_export_to_standard_output(filled):
    result = run("export", "-", "--db", filled, "--format", "toml")
    assert result.exit_code == 0
    assert result.stdout.count("\n[[meter]]\n") == 21
    assert result.stderr == "exported 21 meters on 1 line in 1 area (full customer numbers: keep it confidential)\n"


def test_export_errors(tmp_path):
    empty = tmp_path / "empty.db"
    Archive(empty).close()
    result = run("export", tmp_path / "x.csv", "--db", empty)
    assert (result.exit_code, result.stderr) == (1, "Error: the archive in %s is empty: nothing to export\n" % empty)
    result = run("export", tmp_path / "x.csv", "--db", tmp_path / "nosuch.db")
    assert result.exit_code == 1 and result.stderr.startswith("Error: no archive database ")
    assert not (tmp_path / "x.csv").exists()


def test_command_line_errors_exit_2(db):
    result = run("list", "--db", db, "--format", "xml")
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr


def test_real_process(tmp_path):
    """The installed entry point, as a field collector runs it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    db = tmp_path / "concentrator.db"

    def concentrator(*args):
        return subprocess.run([sys.executable, "-m", "concentrator", "archive"] + [str(a) for a in args],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)

    done = concentrator("import", SAMPLE, "--replace")
    assert (done.returncode, done.stdout, done.stderr) == (0, SAMPLE_SUMMARY.format(db="concentrator.db"), "")
    listed = concentrator("list", "--format", "json")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 21
    bad = write(tmp_path / "bad.toml", '[[meter]]\naddress = "202311150032"\n')
    failed = concentrator("import", bad, "--db", db)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == "Error: %s: 6 errors; the archive was not changed" % bad
    assert all(line.startswith("%s meter 1: " % bad) for line in failed.stderr.splitlines()[:-1])
