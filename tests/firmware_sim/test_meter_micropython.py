"""The meter firmware on the real MicroPython binary, behind a pty.

``micropython -X heapsize=256K -m firmware_sim.meter.main CONFIG.json`` runs
with the pty slave (raw mode) as stdin/stdout; CPython writes DL/T 645
requests to the master side and parses the replies: the same firmware that
runs in the bus simulator, on the interpreter a meter board would use.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tty
from pathlib import Path

import pytest

from protocols.dlt645 import (FrameExtractor, build_follow_up_request, build_read_address_request,
                              build_read_request, build_time_sync, decode_value)

from meter_pair import pty_exchange

pytestmark = pytest.mark.micropython

REPO = Path(__file__).resolve().parents[2]
ADDR = "202311150042"
NOW = datetime.datetime(2024, 6, 15, 4, 0, tzinfo=datetime.timezone.utc).timestamp()   # 12:00 local


def _binary():
    found = shutil.which("micropython")
    if found:
        return found
    beside = Path(sys.executable).parent / "micropython"
    return str(beside) if beside.exists() else None


@pytest.fixture
def mpy_meter(tmp_path):
    """Start the firmware under micropython on a pty; yields ``ask(request) -> Frame or None``."""
    binary = _binary()
    if binary is None:
        pytest.skip("no micropython binary on PATH or next to %s (install the test extras)" % sys.executable)
    config = {"address": ADDR, "start_utc_s": NOW, "history_days": 400, "start_kwh": 1000.0,
              "profile": [1.0] * 24, "load_variation": 0.0, "reply_delay_ms": 20}
    path = tmp_path / "meter.json"
    path.write_text(json.dumps(config))
    master, slave = os.openpty()
    tty.setraw(slave)
    env = dict(os.environ, MICROPYPATH=str(REPO))
    proc = subprocess.Popen([binary, "-X", "heapsize=256K", "-m", "firmware_sim.meter.main", str(path)],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=REPO, env=env)
    os.close(slave)
    extractor = FrameExtractor()

    def alive():
        if proc.poll() is not None:
            pytest.fail("micropython exited %s: %s" % (proc.returncode, proc.stderr.read().decode()))

    def ask(request, timeout_s=10.0):
        return pty_exchange(master, request, extractor, timeout_s, alive)

    try:
        yield ask
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        os.close(master)


def test_micropython_meter_answers_energy_address_and_errors(mpy_meter):
    """W1-style read, W4 read address, W3 unknown DI, on the real binary (§8, §10)."""
    f = mpy_meter(build_read_request(ADDR, 0x00010000))
    assert f is not None and f.control == 0x91
    assert f.value == pytest.approx(1000.0 + 400 * 24 * 1.2, abs=0.02)
    block = mpy_meter(build_read_request(ADDR, 0x0001FF00)).value
    assert block[0] == f.value and abs(block[0] - sum(block[1:])) < 0.04 + 1e-9
    f = mpy_meter(build_read_address_request())
    assert (f.control, f.value) == (0x93, ADDR)
    f = mpy_meter(build_read_request(ADDR, 0x04ABCDEF))
    assert (f.control, f.error_bits) == (0xD1, 0x02)
    assert mpy_meter(build_read_request("202311150099", 0x00010000), timeout_s=0.5) is None
    assert mpy_meter(build_read_request(ADDR, 0x04000101)).value == "2024-06-15"


def test_micropython_meter_history_follow_up_and_sync(mpy_meter):
    """62 daily freezes, 12 settlements and a 260-byte block in two frames (§13.5, §19)."""
    assert mpy_meter(build_read_request(ADDR, 0x0506003E)).value == "2024-04-15T00:00"
    assert mpy_meter(build_read_request(ADDR, 0x0001000C)).value == pytest.approx(
        1000.0 + 1.2 * 24 * (400 - 350) - 1.2 * 12, abs=0.02)    # 2023-07-01 00:00, installed 2023-05-12 12:00
    first = mpy_meter(build_read_request(ADDR, 0x0001FFFF))
    last = mpy_meter(build_follow_up_request(ADDR, 0x0001FFFF, 1))
    assert (first.control, last.control) == (0xB1, 0x92)
    values = decode_value(0x0001FFFF, first.payload + last.payload)[0]
    assert len(values) == 65 and values[60:65] == mpy_meter(build_read_request(ADDR, 0x0001FF0C)).value
    assert mpy_meter(build_time_sync("2024-06-15T08:30:00"), timeout_s=0.5) is None
    assert mpy_meter(build_read_request(ADDR, 0x04000102)).value[:5] == "08:30"


def test_mpy_meter_script_same_output_on_micropython_and_cpython():
    """tests/micropython/mpy_meter.py prints a digest of every reply: both interpreters must agree.

    The load model (xorshift32 hash), the integer registers and the clock are
    meant to be bit-identical on CPython and MicroPython; this is the proof.
    """
    binary = _binary()
    if binary is None:
        pytest.skip("no micropython binary on PATH or next to %s (install the test extras)" % sys.executable)
    script = REPO / "tests" / "micropython" / "mpy_meter.py"
    env = dict(os.environ, MICROPYPATH=str(REPO), PYTHONPATH=str(REPO))
    mpy = subprocess.run([binary, "-X", "heapsize=256K", str(script)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    cpy = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert mpy.returncode == 0, mpy.stdout + mpy.stderr
    assert cpy.returncode == 0, cpy.stdout + cpy.stderr
    assert "FAIL" not in mpy.stdout
    assert mpy.stdout == cpy.stdout
    assert ", 0 failed" in mpy.stdout and "meter digest: " in mpy.stdout
