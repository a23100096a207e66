"""The documentation keeps up with the code.

* Every command of the ``concentrator`` and ``firmware-sim`` click groups
  (walked recursively) has help text and a section in docs/cli.md headed by
  its full name ("concentrator read"), and every option it takes is named in
  that section by its long name.
* README.md opens with the two set-up commands.
* No document names a path on a particular machine.
"""

import re
from pathlib import Path

import click
import pytest

from concentrator.cli import cli as concentrator_cli
from firmware_sim.cli import cli as firmware_sim_cli
from hall.cli import cli as hall_cli
from kiosk.cli import cli as kiosk_cli

REPO = Path(__file__).resolve().parents[1]
CLI_DOC = REPO / "docs" / "cli.md"
GROUPS = {"concentrator": concentrator_cli, "firmware-sim": firmware_sim_cli, "hall": hall_cli, "kiosk": kiosk_cli}
# Paths that only exist on one machine or in one working setup; joined from
# parts so that this file does not name them itself.
MACHINE_PATHS = tuple("/" + part for part in ("work/", "tmp/research", "farm/"))


def _walk(group, path):
    """(full name, command) for a group and, recursively, every command under it."""
    yield path, group
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            yield from _walk(command, path + " " + name)
        else:
            yield path + " " + name, command


COMMANDS = [pair for prog, group in GROUPS.items() for pair in _walk(group, prog)]
LEAVES = [(name, command) for name, command in COMMANDS if not isinstance(command, click.Group)]


def _long_options(command):
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts + param.secondary_opts:
                if opt.startswith("--"):
                    yield param, opt


def _sections(text):
    """Markdown heading text (backticks removed) -> the text under it, up to the next heading
    of the same or a higher level. Lines inside fenced code blocks are never headings."""
    headings = []
    lines = text.splitlines()
    fenced = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"(#+)\s+(.*\S)\s*$", line)
        if match and not fenced:
            headings.append((i, len(match.group(1)), match.group(2).replace("`", "")))
    out = {}
    for n, (i, level, title) in enumerate(headings):
        end = len(lines)
        for j, other_level, _title in headings[n + 1:]:
            if other_level <= level:
                end = j
                break
        out[title] = "\n".join(lines[i + 1:end])
    return out


def _mentions(text, option):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(option), text) is not None


@pytest.fixture(scope="module")
def cli_doc():
    return CLI_DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("name,command", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_and_option_has_help(name, command):
    assert (command.help or "").strip(), "%s has no help text" % name
    for param, opt in _long_options(command):
        assert (param.help or "").strip(), "%s %s has no help text" % (name, opt)


@pytest.mark.parametrize("name,command", LEAVES, ids=[name for name, _ in LEAVES])
def test_every_command_has_a_section_naming_all_its_options(name, command, cli_doc):
    sections = _sections(cli_doc)
    assert name in sections, "docs/cli.md has no heading for `%s`" % name
    missing = [opt for _param, opt in _long_options(command) if not _mentions(sections[name], opt)]
    assert not missing, "the `%s` section of docs/cli.md does not mention %s" % (name, ", ".join(missing))


@pytest.mark.parametrize("prog", sorted(GROUPS))
def test_group_options_are_documented(prog, cli_doc):
    group = GROUPS[prog]
    assert _mentions(cli_doc, prog)
    missing = [opt for _param, opt in _long_options(group) if not _mentions(cli_doc, opt)]
    assert not missing, "docs/cli.md does not mention %s of %s" % (", ".join(missing), prog)


def test_readme_starts_with_make_demo_and_make_test():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    assert block, "README.md has no code block"
    section = text.find("\n## ")
    assert section < 0 or block.start() < section, "the set-up commands must come before the first section"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands[:2] == ["make demo", "make test"]


def test_readme_links_to_docs_that_exist():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert links
    missing = [link for link in links if not (REPO / link).is_file()]
    assert not missing, "README.md links to missing files: %s" % ", ".join(missing)


def _documents():
    files = [REPO / "README.md"] + sorted(p for p in (REPO / "docs").rglob("*") if p.is_file())
    return [p for p in files if p.exists()]


@pytest.mark.parametrize("path", _documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_documents_name_no_machine_paths(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [(n, line) for n, line in enumerate(text.splitlines(), 1) for m in MACHINE_PATHS if m in line]
    assert not found, "%s names machine paths: %s" % (path.relative_to(REPO), found)
