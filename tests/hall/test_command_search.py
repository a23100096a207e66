"""``hall command search`` end to end (M-08): the real CLI (click's runner, in process), a
real Mosquitto with the generated TLS and ACL, ``hall serve`` as a subprocess on a
SQLite file, and the concentrator agent searching a simulated DL/T 645 line
(firmware_sim BusServer over socket://) where one archive meter is gone and one
meter not in the archive answers. The rig is the nightly test's
(tests/concentrator/test_agent_search.py), with the slot disabled."""

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from hall.cli import cli

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("agent_search_e2e",
                                               REPO / "tests" / "concentrator" / "test_agent_search.py")
_rig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rig)
DEVICE, HALL, GONE, STRANGER = _rig.DEVICE, _rig.HALL, _rig.GONE, _rig.STRANGER


@pytest.fixture
def rig(mosquitto, tmp_path):
    rig = _rig.SearchRig(mosquitto, tmp_path, False, "2026-11-24T10:15:05",
                         hall_servers=("hall-server", "hall-command"))
    rig.start()
    yield rig
    rig.close()
    assert not rig.errors, rig.errors


def run_search(rig, line="line1", wait_s=30):
    args = ["command", "search", "--device", DEVICE, "--line", line, "--db", str(rig.db), "--hall", HALL,
            "--broker", "127.0.0.1:%d" % rig.broker.port, "--tls-dir", str(Path(rig.broker.ca).parent),
            "--wait", str(wait_s)]
    return CliRunner().invoke(cli, args)


def command_id(output):
    return next(line for line in output.splitlines() if line.startswith("sent command ")).split()[2]


def test_m08_search_command_raises_then_clears_one_anomaly_of_each_kind(rig):
    result = run_search(rig)
    assert result.exit_code == 0, result.output
    cid = command_id(result.output)
    lines = result.output.splitlines()
    assert lines[1].startswith("search sr-%s of line line1 (2007): 5 found, 5 in archive, 1 not in archive (%s), "
                               "1 not found (%s), 0 unresolved, 1 probes, " % (cid, STRANGER, GONE)), lines
    assert "record-without-meter raised %s: " % GONE in result.output
    assert "meter-without-record raised %s: " % STRANGER in result.output
    # Exactly one of each at the hall, none for the healthy meters, tied to the command by cycle.
    assert sorted(rig.search_anomalies()) == [(GONE, "record-without-meter", "raised"),
                                              (STRANGER, "meter-without-record", "raised")]
    assert {b["cycle"] for b in rig.records("anomaly") if b["code"] in _rig.CODES} == {"sr-" + cid}
    (summary,) = rig.summaries()
    assert summary["detail"].startswith("command %s: search sr-%s" % (cid, cid))

    # The gone meter is back and the stranger left the line: the next search clears both.
    rig.bus.clear_fault(GONE, "absent")
    rig.bus.set_fault(STRANGER, "absent")
    again = run_search(rig)
    assert again.exit_code == 0, again.output
    assert "5 found, 5 in archive, 0 not in archive, 0 not found" in again.output
    assert sorted(rig.search_anomalies()[2:]) == [(GONE, "record-without-meter", "cleared"),
                                                  (STRANGER, "meter-without-record", "cleared")]
    assert len(rig.summaries()) == 2 and rig.agent.reports.monitor.active() == []


def test_an_unknown_line_is_refused_and_searches_nothing(rig):
    result = run_search(rig, line="line9")
    assert result.exit_code == 1, result.output
    cid = command_id(result.output)
    assert ("Error: %s refused the command: command %s: line 'line9' is not in the archive (lines: line1)"
            % (DEVICE, cid)) in result.output, result.output
    assert rig.summaries() == [] and rig.search_anomalies() == []
    assert "search sr-" not in rig.out.getvalue()
    bad = CliRunner().invoke(cli, ["command", "search", "--device", DEVICE, "--line", "line 1", "--db", str(rig.db),
                                   "--hall", HALL, "--broker", "127.0.0.1:1", "--tls-dir", "."])
    assert bad.exit_code == 1 and "Error: --line 'line 1': expected a line name" in bad.output
