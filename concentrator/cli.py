"""The ``concentrator`` command: read meters, search a line, decode captures.

Parses options, calls the library, prints results, and maps our errors to
``Error: ...`` (exit 1). Every command takes ``--json`` for one JSON object
per result on standard output.
"""

import difflib
import json
import os
import sys
import time
import unicodedata

import click

from edge.cli import identity_commands
from protocols.dlt645 import (DLT645Error, FrameExtractor, format_di, known_items, parse_di,
                              parse_frame)

from ._errors import AbnormalReply, ConcentratorError, ReplyTimeout
from ._format import describe_frame, format_value, frame_dict
from ._line import DEFAULT_TIMEOUT_S, Line
from ._reader import read as read_item
from ._searcher import search as search_line

_STD = click.Choice(["2007", "1997"])
_HEX_DIGITS = "0123456789abcdefABCDEF"


def _line_options(f):
    f = click.option("--timeout", "timeout_s", type=click.FloatRange(0.01, 60), default=DEFAULT_TIMEOUT_S,
                     show_default=True,
                     help="Seconds to wait for each reply, counted from when the request has left the wire "
                          "(meters answer within 20-500 ms; use 2-5 s through TCP gateways). Every retry "
                          "waits this long again.")(f)
    f = click.option("--parity", type=click.Choice(["E", "N", "O"]), default="E", show_default=True,
                     help="Character parity: DL/T 645 lines run 8E1; a few third-party meters 8N1. A "
                          "pseudo-terminal (firmware-sim bus --pty) has no parity and is always opened 8N1.")(f)
    f = click.option("--baud", type=click.Choice(["600", "1200", "2400", "4800", "9600", "19200"]),
                     default="2400", show_default=True,
                     help="Line rate: 2400 for most 2007 meters, 1200 for old 1997 ones, 9600 for industrial meters.")(f)
    f = click.option("--port", "url", required=True, metavar="URL",
                     help="The line: /dev/ttyUSB0, a pty path, or socket://HOST:PORT for a TCP gateway "
                          "or the simulator.")(f)
    return f


def _open_line(url, baud, parity, timeout_s):
    return Line(url, baud=int(baud), parity=parity, timeout_s=timeout_s)


def _emit_json(obj):
    click.echo(json.dumps(obj, ensure_ascii=False))


def _fail(exc):
    raise click.ClickException(str(exc)) from exc


def _resolve_di(text, std):
    try:
        return parse_di(text, std)
    except DLT645Error as exc:
        # Suggest the names `dis` lists, not deep history entries (prev9, freeze 40).
        names = [item.name for item in known_items(std) if not _is_deep_history(item.name)]
        close = difflib.get_close_matches(text, names, n=3)
        hint = "; did you mean %s?" % " or ".join(close) if close else "; `concentrator dis` lists the names"
        raise click.ClickException(str(exc) + hint) from exc


@click.group()
@click.version_option(package_name="hall-edge")
def cli():
    """Read DL/T 645 electricity meters on an RS-485 line.

    A concentrator (集中器) talks to the meters of a transformer area over
    RS-485 as DL/T 645-2007 or -1997 master. These commands are what a field
    collector uses on site: read one value, find every meter on a line,
    decode frames captured with a line analyser, list the data identifiers.

    Lines are pyserial URLs: /dev/ttyUSB0, a pty path, or socket://HOST:PORT
    (a TCP-to-serial gateway or `firmware-sim bus --tcp PORT`).

    \b
    Examples:
      concentrator read --port /dev/ttyUSB0 --address 202311150042 --di forward_active_total
      concentrator read --port socket://127.0.0.1:4059 --address 000009310421 --di 9010 --std 1997
      concentrator search --port /dev/ttyUSB0 --window 0.6
      concentrator decode 68 42 00 15 11 23 20 68 91 08 33 33 34 33 9A 78 56 34 7D 16
      concentrator dis --grep voltage
    """


@cli.command()
@_line_options
@click.option("--address", required=True, metavar="ADDR",
              help="Meter address as on the nameplate (12 digits; letters dropped, zeros padded). "
                   "AA pairs in the high digits make a shortened address.")
@click.option("--di", "di_text", required=True, metavar="NAME-or-HEX",
              help="What to read: a name such as forward_active_total or voltage_block, or the DI "
                   "in hex (8 digits for 2007, 4 for 1997). `concentrator dis` lists them.")
@click.option("--std", type=_STD, default="2007", show_default=True, help="Protocol edition of the meter.")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Extra attempts on silence or a bad checksum.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: the reading, or for an abnormal reply its error bits (exit 1).")
def read(url, baud, parity, timeout_s, address, di_text, std, retries, as_json):
    """Read one value from one meter and print it with its unit.

    Prints one line, ADDRESS  NAME (DI) = VALUE UNIT, where ADDRESS is the
    meter that answered. Asks again on silence or a bad checksum (--retries),
    then fails with "Error: no reply ..." or "Error: reply ... failed its
    checksum". A meter that refuses answers with an abnormal reply, shown
    with the meaning of its error bits; that is not retried.
    """
    from protocols.dlt645 import normalize_address
    try:
        addr = address if "A" in address.upper() and len(address) == 12 else normalize_address(address)
    except DLT645Error as exc:
        _fail(exc)
    di = _resolve_di(di_text, std)
    try:
        with _open_line(url, baud, parity, timeout_s) as line:
            reading = read_item(line, addr.upper(), di, std, retries)
    except AbnormalReply as exc:
        if as_json:
            _emit_json({"address": exc.address, "std": std, "di": format_di(di, std), "error_bits": exc.error_bits,
                        "errors": exc.meanings})
            sys.exit(1)
        _fail(exc)
    except ReplyTimeout as exc:
        raise click.ClickException("%s; check the address, --std %s and --baud %s" % (exc, std, baud)) from exc
    except (ConcentratorError, DLT645Error) as exc:
        _fail(exc)
    if as_json:
        _emit_json(reading.as_dict())
        return
    click.echo("%s  %s (%s) = %s" % (reading.address, reading.name or "unknown DI", format_di(di, std),
                                     format_value(reading.value, di, std, reading.unit)))


@cli.command()
@_line_options
@click.option("--std", type=click.Choice(["2007", "1997", "both"]), default="both", show_default=True,
              help="Which edition to search for; a line may carry both.")
@click.option("--window", "window_s", type=click.FloatRange(0.01, 10), default=None,
              help="Seconds to listen after each probe; must cover the slowest meter's reply delay "
                   "plus its reply on the wire. Default: the --timeout value.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per meter, then a summary.")
@click.option("--quiet", is_flag=True, help="No progress on standard error.")
def search(url, baud, parity, timeout_s, std, window_s, as_json, quiet):
    """Find every meter on a line, even when many share it.

    Probes with shortened (AA wildcard) addresses, starting with all digits
    wildcarded. When several meters answer at once their replies collide;
    the search then fixes the lowest wildcard byte to 00..99 and probes
    again, narrowing until each meter answers alone. Every probe costs its
    listening window, and each collision level adds 100 probes, so a search
    takes minutes at 2400 baud; --std both searches twice.
    """
    stds = ["2007", "1997"] if std == "both" else [std]
    started = time.monotonic()
    total_probes = 0
    rows = []
    unresolved = []

    def progress(plan, pattern, ex):
        if quiet:
            return
        state = "collision" if (ex.garbage or ex.bad) else ("%d repl%s" % (len(ex.frames), "y" if len(ex.frames) == 1 else "ies") if ex.frames else "silent")
        click.echo("\r[%s] probe %4d  %s  %-10s found %d, %d to probe   "
                   % (current[0], plan.probes, pattern, state, len(plan.found), plan.pending),
                   err=True, nl=False)
        shown[0] = True

    current = [""]
    shown = [False]     # a progress line is open on standard error
    try:
        with _open_line(url, baud, parity, timeout_s) as line:
            for s in stds:
                current[0] = s
                result = search_line(line, s, window_s, progress)
                total_probes += result.probes
                rows.extend((a, s) for a in result.found)
                unresolved.extend((p, s) for p in result.unresolved)
    except (ConcentratorError, DLT645Error) as exc:
        _fail(exc)
    finally:
        if shown[0]:
            # End the progress line, so an error is still one line of its own.
            click.echo("", err=True)
    elapsed = time.monotonic() - started
    if as_json:
        for address, s in rows:
            _emit_json({"address": address, "std": s})
        _emit_json({"meters": len(rows), "frames": total_probes, "elapsed_s": round(elapsed, 1),
                    "unresolved": [p for p, _s in unresolved]})
        return
    for address, s in rows:
        click.echo("%s  DL/T 645-%s" % (address, s))
    for pattern, s in unresolved:
        click.echo("%s  DL/T 645-%s: kept colliding (two meters with one address, or a garbling meter)"
                   % (pattern, s))
    click.echo("%d meter(s) found in %d frames, %.1f s" % (len(rows), total_probes, elapsed))


@cli.command()
@click.argument("hex_text", nargs=-1, required=True, metavar="HEX...")
@click.option("--std", type=_STD, default=None,
              help="Parse every frame as this edition; by default each frame's function code decides.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per frame.")
def decode(hex_text, std, as_json):
    """Explain captured frames: address, direction, function, DI, value, errors.

    Paste the bytes from a line analyser: spaces, colons and line breaks are
    ignored, FE preambles are skipped, and a capture holding several frames
    (or noise between them) is cut into frames by their length bytes.
    """
    text = "".join(hex_text)
    for sep in " :-\n\t,":
        text = text.replace(sep, "")
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    # bytes.fromhex counts positions after the separators are gone, which
    # matches nothing the user typed: name the offending text instead.
    bad = next((c for c in text if c not in _HEX_DIGITS), None)
    if bad is not None:
        word = next((w for w in hex_text if bad in w), bad)
        raise click.ClickException("not hexadecimal: %r in %r" % (bad, word))
    if len(text) % 2:
        raise click.ClickException("odd number of hex digits (%d): a byte is two digits" % len(text))
    data = bytes.fromhex(text)
    extractor = FrameExtractor()
    frames = extractor.feed(data)
    if not frames:
        # No whole frame: parse the capture as one to say exactly what is wrong.
        try:
            parse_frame(data, std)
        except DLT645Error as exc:
            _fail(exc)
    refused = 0
    for i, raw in enumerate(frames, 1):
        try:
            frame = parse_frame(raw, std)
        except DLT645Error as exc:
            refused += 1
            if as_json:
                _emit_json({"frame": i, "raw": raw.hex(), "error": str(exc)})
            else:
                click.echo("frame %d: %d bytes: %s" % (i, len(raw), exc))
            continue
        if as_json:
            obj = frame_dict(frame)
            obj["frame"] = i
            _emit_json(obj)
        else:
            click.echo("frame %d: %d bytes" % (i, len(raw)))
            for line in describe_frame(frame):
                click.echo(line)
    lost = {k: v for k, v in extractor.discards.items() if v and k != "preamble"}
    if lost:
        detail = ", ".join("%s %d" % kv for kv in sorted(lost.items()))
        if as_json:
            _emit_json({"discarded": lost})
        else:
            click.echo("discarded: %s" % detail)
    if refused:
        # Every frame was explained above; the exit status tells a script some failed.
        raise click.ClickException("%d of %d frame(s) could not be decoded" % (refused, len(frames)))


@cli.command()
@_line_options
@click.option("--meters", "meter_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file with [[meter]] tables (address, std), e.g. the simulator's meters.toml.")
@click.option("--meter", "meter_opts", multiple=True, metavar="ADDR[:1997]",
              help="A meter to poll (repeatable); add :1997 for a DL/T 645-1997 meter.")
@click.option("--di", "di_texts", multiple=True, metavar="NAME-or-HEX",
              help="What to read from each meter (repeatable). Default: forward_active_total, "
                   "voltage_a, active_power_total. Names are looked up in each meter's edition.")
@click.option("--every", "every_s", type=click.FloatRange(0, 86400), default=60, show_default=True,
              help="Seconds from the start of one cycle to the start of the next.")
@click.option("--cycles", type=click.IntRange(0), default=0, show_default=True,
              help="Stop after this many cycles (0: run until interrupted).")
@click.option("--retries", type=click.IntRange(0, 10), default=1, show_default=True,
              help="Extra attempts per read on silence or a bad checksum.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per read, and a summary object after each cycle.")
def poll(url, baud, parity, timeout_s, meter_file, meter_opts, di_texts, every_s, cycles, retries, as_json):
    """Read a list of meters again and again, printing a row per meter.

    A simple reading cycle for watching a line: each cycle reads every DI
    of every meter in turn and prints the row as soon as the meter is done,
    then a summary line. A meter that does not answer shows the reason in
    its row and does not stop the others; after one timeout its remaining
    items are skipped for that cycle.
    """
    from ._meterlist import MeterListError, load_meter_file, parse_meter_option
    try:
        meters = load_meter_file(meter_file) if meter_file else []
        meters += [parse_meter_option(m) for m in meter_opts]
    except MeterListError as exc:
        _fail(exc)
    if not meters:
        raise click.UsageError("give meters with --meters FILE or --meter ADDR")
    names = list(di_texts) or ["forward_active_total", "voltage_a", "active_power_total"]
    plan = {std: [_resolve_di(n, std) for n in names] for std in ("2007", "1997") if any(s == std for _a, s in meters)}
    try:
        line = _open_line(url, baud, parity, timeout_s)
    except ConcentratorError as exc:
        _fail(exc)
    cycle = 0
    widths = [max(14, len(n) + 2) for n in names]
    try:
        while True:
            cycle += 1
            started = time.monotonic()
            if not as_json:
                click.echo("cycle %d  %s  %d meters on %s" % (cycle, time.strftime("%Y-%m-%d %H:%M:%S"), len(meters), url))
                click.echo("  %-12s  %-4s  %s" % ("address", "std", "".join("%-*s" % (w, n) for w, n in zip(widths, names))))
            ok = failed = 0
            for address, std in meters:
                cells = []
                silent = False
                for di in plan[std]:
                    if silent:
                        # One timeout (after its retries) is enough to know the
                        # meter is off the line this cycle; don't spend a
                        # timeout on each of its other items.
                        failed += 1
                        cells.append("skipped")
                        if as_json:
                            _emit_json({"cycle": cycle, "address": address, "std": std, "di": format_di(di, std),
                                        "error": "skipped: no usable reply from this meter this cycle"})
                        continue
                    try:
                        reading = read_item(line, address, di, std, retries)
                        ok += 1
                        if as_json:
                            _emit_json(dict(reading.as_dict(), cycle=cycle))
                        cells.append(format_value(reading.value, di, std, reading.unit))
                    except (AbnormalReply, ConcentratorError, DLT645Error) as exc:
                        failed += 1
                        if as_json:
                            _emit_json({"cycle": cycle, "address": address, "std": std, "di": format_di(di, std),
                                        "error": str(exc)})
                        cells.append(_short_error(exc))
                        # After silence or only garbled replies (a ReplyTimeout,
                        # ChecksumFailure included) the meter is unusable this cycle.
                        silent = isinstance(exc, ReplyTimeout)
                if not as_json:
                    click.echo("  %-12s  %-4s  %s" % (address, std, "".join("%-*s" % (w, c) for w, c in zip(widths, cells))))
            took = time.monotonic() - started
            summary = {"cycle": cycle, "reads": ok + failed, "ok": ok, "failed": failed, "seconds": round(took, 1)}
            if as_json:
                _emit_json(summary)
            else:
                click.echo("cycle %d done: %d reads, %d ok, %d failed, %.1f s" % (cycle, ok + failed, ok, failed, took))
            if cycles and cycle >= cycles:
                break
            rest = every_s - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)
    except KeyboardInterrupt:
        pass
    finally:
        line.close()


def _short_error(exc):
    if isinstance(exc, AbnormalReply):
        return "refused: " + (", ".join(exc.meanings) or "0x%02X" % exc.error_bits)
    text = str(exc)
    if text.startswith("no reply"):
        return "no reply"
    if "checksum" in text:
        return "bad checksum"
    return text[:40]


@cli.command(name="dis")
@click.option("--std", type=_STD, default="2007", show_default=True, help="Protocol edition.")
@click.option("--grep", "pattern", default=None, help="Only names containing this text (plain, case-sensitive).")
@click.option("--all", "show_all", is_flag=True,
              help="Also list every history entry (settlement periods 2-12, freezes 2-62).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per data identifier.")
def dis(std, pattern, show_all, as_json):
    """List the data identifiers the tools know, with names and units.

    The names work wherever a DI is asked for (`--di forward_active_total`).
    History entries beyond the first are hidden unless --all: their names
    follow the pattern (forward_active_total_prev3, daily_freeze_time_7).
    """
    shown = 0
    for item in known_items(std):
        if pattern and pattern not in item.name:
            continue
        if not show_all and _is_deep_history(item.name):
            continue
        shown += 1
        if as_json:
            _emit_json({"di": format_di(item.di, std), "name": item.name, "unit": item.unit,
                        "block": item.repeat == 0})
        else:
            click.echo("%s  %-44s %s" % (format_di(item.di, std), item.name, item.unit))
    if not shown:
        raise click.ClickException("no DL/T 645-%s data identifier name contains %r" % (std, pattern))


def _is_deep_history(name):
    tail = name.rsplit("_", 1)[-1]
    if tail.startswith("prev") and tail[4:].isdigit():
        return int(tail[4:]) > 1
    if "_freeze_" in name and tail.isdigit():
        return int(tail) > 1
    return "_history" in name


cli.add_command(identity_commands(device_kind="concentrator"), name="identity")


# ------------------------------------------------------------------ archive

_DB_HELP = "The agent's SQLite database file that holds the archive (archive_* tables)."


def _db_option(f):
    from .archive import DEFAULT_DB
    return click.option("--db", "db_path", type=click.Path(dir_okay=False), default=DEFAULT_DB, show_default=True,
                        metavar="PATH",
                        help=_DB_HELP)(f)


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _counts(meters, lines, areas):
    return "%s on %s in %s" % (_plural(meters, "meter"), _plural(lines, "line"), _plural(areas, "area"))


def _open_archive(db_path):
    """An existing archive database, or Error: naming the command that makes one."""
    from .archive import Archive, ArchiveStoreError
    try:
        return Archive(db_path, create=False)
    except ArchiveStoreError as exc:
        if not os.path.exists(db_path):
            raise click.ClickException("no archive database %s; make one with `concentrator archive import FILE "
                                       "--db %s`" % (db_path, db_path)) from exc
        _fail(exc)


def _display_width(text):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text, width):
    """Left-justify for a terminal, where a Chinese character takes two columns."""
    return text + " " * max(width - _display_width(text), 0)


@cli.group()
def archive():
    """Keep the meter archive (电表档案): which meters to read, on which line.

    The archive lists every meter of the concentrator's transformer areas
    (台区) with its address, protocol, line and port settings, area, role
    (customer, or the area's supply meter 台区总表), customer number (户号),
    phases and CT/PT ratios. It lives in the agent's SQLite database
    (--db, concentrator.db in the current directory by default) and is
    filled from a CSV or TOML file, checked as a whole first: a file with
    any error changes nothing. docs/concentrator.md describes the fields.

    Customer numbers are account numbers: `list` shows them masked
    (32******7890); only `export` writes them in full.

    \b
    Examples:
      concentrator archive import archive.csv --replace
      concentrator archive list --area TQ0001
      concentrator archive export backup.csv
    """


@archive.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@_db_option
@click.option("--replace/--merge", "replace", default=False, show_default=True,
              help="--merge (the default) adds the file's meters and updates those with the same line, address "
                   "and unit, keeping every other meter; --replace makes the archive exactly the file's meters, "
                   "removing the others.")
@click.option("--dry-run", is_flag=True,
              help="Check the file against the archive and say what would change, without changing anything.")
@click.option("--format", "fmt", type=click.Choice(["csv", "toml"]), default=None,
              help="The file's format. Default: from its name (.csv or .toml).")
def archive_import(file, db_path, replace, dry_run, fmt):
    """Import meters from a CSV or TOML file into the archive.

    The whole file is checked first, then stored in one transaction: a file
    with any error changes nothing, and every error is listed (the first
    50) with its line (CSV) or [[meter]] number (TOML), field, what was
    expected and what the file has. Warnings (an area without a supply
    meter, a customer number on two meters) are printed and do not stop
    the import.
    """
    from .archive import Archive, ArchiveError, ArchiveFileError
    mode = "replace" if replace else "merge"
    # A dry run against a database that does not exist yet must not create it.
    target = db_path if (not dry_run or os.path.exists(db_path)) else ":memory:"
    try:
        with Archive(target) as store:
            summary = store.import_file(file, mode=mode, dry_run=dry_run, fmt=fmt)
    except ArchiveFileError as exc:
        if not exc.problems:
            _fail(exc)
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        if exc.total > len(exc.problems):
            click.echo("... and %d more" % (exc.total - len(exc.problems)), err=True)
        raise click.ClickException("%s: %s; the archive was not changed"
                                   % (file, _plural(exc.total, "error"))) from exc
    except ArchiveError as exc:
        _fail(exc)
    for problem in summary.warnings:
        click.echo(str(problem), err=True)
    what = _counts(summary.file_meters, summary.file_lines, summary.file_areas)
    changes = "%d added, %d updated, %d removed, %d unchanged" % (summary.added, summary.updated, summary.removed,
                                                                 summary.unchanged)
    after = _counts(summary.meters, summary.lines, summary.areas)
    if dry_run:
        click.echo("dry run: would import %s into %s (%s): %s; the archive would hold %s; nothing was changed"
                   % (what, db_path, mode, changes, after))
    else:
        click.echo("imported %s into %s (%s): %s; the archive holds %s" % (what, db_path, mode, changes, after))


_LIST_COLUMNS = (("line", "line"), ("address", "address"), ("unit", "unit"), ("protocol", "protocol"),
                 ("area", "area"), ("role", "role"), ("customer", "customer"), ("phases", "ph"),
                 ("ct_ratio", "ct"), ("pt_ratio", "pt"), ("name", "name"), ("location", "location"))


def _list_cell(meter, field):
    value = meter.as_dict(masked=True)[field]
    if value is None:
        return ""
    if isinstance(value, float):
        return "%d" % value if value.is_integer() else "%g" % value
    return str(value)


@archive.command(name="list")
@_db_option
@click.option("--area", default=None, help="Only the meters of this transformer area (台区) code.")
@click.option("--line", "line_name", default=None, help="Only the meters of this line.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table: aligned columns and a summary per line; csv: the export columns; json: one object "
                   "per meter. Customer numbers are masked in all three.")
def archive_list(db_path, area, line_name, fmt):
    """List the meters of the archive, customer numbers masked.

    Meters are ordered by line, then address. The table ends with each
    line's port settings and meter count, then the totals.
    """
    from .archive import ArchiveError, dump_csv
    store = _open_archive(db_path)
    try:
        with store:
            meters = store.meters(area=area, line=line_name)
            everything = store.meters() if (area or line_name) and not meters else None
    except ArchiveError as exc:
        _fail(exc)
    if not meters and everything:
        # A filter that matches nothing is a typing error more often than not.
        if area is not None and area not in {m.area for m in everything}:
            raise click.ClickException("no area %r in the archive in %s; its areas are %s"
                                       % (area, db_path, ", ".join(sorted({m.area for m in everything}))))
        if line_name is not None and line_name not in {m.line for m in everything}:
            raise click.ClickException("no line %r in the archive in %s; its lines are %s"
                                       % (line_name, db_path, ", ".join(sorted({m.line for m in everything}))))
        raise click.ClickException("no meter of area %r is on line %r in %s" % (area, line_name, db_path))
    if fmt == "csv":
        click.echo(dump_csv(meters, masked=True), nl=False)
        return
    if fmt == "json":
        for meter in meters:
            _emit_json(meter.as_dict(masked=True))
        return
    if not meters:
        click.echo("the archive in %s is empty; fill it with `concentrator archive import FILE`" % db_path, err=True)
        return
    rows = [[_list_cell(m, field) for field, _title in _LIST_COLUMNS] for m in meters]
    titles = [title for _field, title in _LIST_COLUMNS]
    widths = [max([_display_width(t)] + [_display_width(r[i]) for r in rows]) for i, t in enumerate(titles)]
    for cells in [titles] + rows:
        click.echo("  ".join(_pad(c, w) for c, w in zip(cells, widths)).rstrip())
    lines = {}
    for meter in meters:
        lines.setdefault(meter.line, []).append(meter)
    click.echo("")
    for name, members in lines.items():
        first = members[0]
        click.echo("%s: %s, %d baud 8%s1, %s" % (name, first.port, first.baud, first.parity,
                                                 _plural(len(members), "meter")))
    click.echo(_counts(len(meters), len(lines), len({m.area for m in meters})))


@archive.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_db_option
@click.option("--format", "fmt", type=click.Choice(["csv", "toml"]), default=None,
              help="The file's format. Default: from its name (.csv or .toml); csv for - (standard output).")
@click.option("--masked", is_flag=True,
              help="Mask customer numbers, for a copy to show or send; such a file cannot be imported back.")
def archive_export(file, db_path, fmt, masked):
    """Write the whole archive to a CSV or TOML file that imports back.

    The file is the operator's own backup or working copy, so it holds the
    full customer numbers (户号) unless --masked: it is created readable by
    its owner only (mode 0600); keep it as confidential as the archive. CSV
    is written UTF-8 with a BOM, so Excel shows Chinese text right. FILE -
    writes to standard output.
    """
    from .archive import ArchiveError, dump_csv, dump_toml, write_archive_file
    store = _open_archive(db_path)
    try:
        with store:
            meters = store.meters()
    except ArchiveError as exc:
        _fail(exc)
    if not meters:
        raise click.ClickException("the archive in %s is empty: nothing to export" % db_path)
    lines = len({m.line for m in meters})
    areas = len({m.area for m in meters})
    note = "customer numbers masked" if masked else "full customer numbers: keep it confidential"
    if file == "-":
        click.echo((dump_toml if fmt == "toml" else dump_csv)(meters, masked=masked), nl=False)
        click.echo("exported %s (%s)" % (_counts(len(meters), lines, areas), note), err=True)
        return
    try:
        write_archive_file(file, meters, fmt=fmt, masked=masked)
    except ArchiveError as exc:
        _fail(exc)
    click.echo("exported %s to %s (%s)" % (_counts(len(meters), lines, areas), file, note))


# ------------------------------------------------------------------ agent

@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The agent's TOML file: the device tables ([device], [hall], [outbox], [publisher]), "
                   "[agent] and [cycles].")
def run(config_path):
    """Run the concentrator agent: read every archive meter in reading cycles and send the values to the hall.

    Plans the realtime, daily and monthly cycles of [cycles], notes each in
    the completeness ledger, reads the meters of every archive line (one
    thread per line) and commits each value to the outbox, which the
    publisher sends to the hall. Prints one line per cycle opened and
    closed. SIGTERM or SIGINT stops it after the reads in progress; a
    restart carries on with the pending items of open cycles, and sends
    no value twice.
    """
    import signal
    import threading

    import edge

    from ._agent import Agent, load_agent_config
    stop = threading.Event()
    try:
        config = load_agent_config(config_path)
        agent = Agent(config)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _sig, _frame: stop.set())
        agent.run(stop)
    except (ConcentratorError, edge.EdgeError) as exc:
        _fail(exc)


@cli.command()
@_db_option
@click.option("--cycle", "cycle_id", default=None, metavar="ID", help="Show only this cycle (e.g. rt-2026-11-23T10:15).")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="The newest cycles to show.")
def ledger(db_path, cycle_id, limit):
    """Show the completeness ledger: per reading cycle, items expected, read, failed and pending.

    Under each cycle the meters with failed items are listed with their
    reasons (timeout, garbled, abnormal, quarantined, deadline): the meters
    not read (表计未抄见, M-10).
    """
    from ._ledger import Ledger, render_ledger
    if not os.path.exists(db_path):
        raise click.ClickException("no agent database %s" % db_path)
    try:
        with Ledger(db_path) as book:
            click.echo(render_ledger(book, limit=limit, cycle_id=cycle_id))
    except ConcentratorError as exc:
        _fail(exc)
