"""Archive files: CSV and TOML in, CSV and TOML out.

``parse_archive`` is pure (bytes in, rows and problems out); ``load_archive_file``
and ``write_archive_file`` only add the file I/O.

CSV: a header row, then one row per meter. UTF-8 with or without a BOM (what
Excel writes as "CSV UTF-8"); headers in English or Chinese (``ALIASES``);
blank rows and rows whose first cell starts with ``#`` are skipped. Line
numbers in messages are those an editor shows, counting the header.

TOML: one ``[[meter]]`` table per meter with the same keys. Messages name the
table by its number, counting from 1.

Exports write every meter with canonical English names, CSV with a BOM so
that Excel reads Chinese names right, and hold the full customer numbers
unless masked (then they cannot be imported back).
"""

import csv
import difflib
import io
import json
import os
import tempfile
import tomllib

from ._errors import ArchiveFileError, Problem, Where
from ._fields import FIELDS, REQUIRED, canonical_field, known_names, meter_from_fields

FORMATS = ("csv", "toml")
_BOM = b"\xef\xbb\xbf"


class ParsedArchive:
    """The outcome of parsing a file.

    Attributes:
        path: the file.
        rows: (Where, ArchiveMeter) for every valid row, in file order.
        problems: every problem of the rows that are not valid (row rules
            only; ``check_archive`` adds the rules across rows).
    """

    def __init__(self, path, rows, problems):
        self.path = path
        self.rows = rows
        self.problems = problems

    @property
    def meters(self):
        return [meter for _where, meter in self.rows]


def format_of(path, fmt=None):
    """``csv`` or ``toml``: ``fmt`` if given, else from the file name's ending.

    Raises:
        ArchiveFileError: neither tells.
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise ArchiveFileError(path, message="archive format %r: expected csv or toml" % (fmt,))
        return fmt
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext in FORMATS:
        return ext
    raise ArchiveFileError(path, message="%s: expected a file name ending in .csv or .toml (or give the format), "
                                         "got %s" % (path, "%r" % ("." + ext) if ext else "no ending"))


def _decode(data, path):
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ArchiveFileError(path, message="%s line %d: expected UTF-8 text, got byte 0x%02X (GBK?); save the "
                                             "file as CSV UTF-8, or convert it (iconv -f GBK -t UTF-8)"
                               % (path, line, data[exc.start])) from exc


def parse_archive(data, path, fmt):
    """Parse an archive file's bytes.

    Args:
        data: the file's bytes.
        path: its name, for messages.
        fmt: ``"csv"`` or ``"toml"``.

    Returns:
        ParsedArchive.

    Raises:
        ArchiveFileError: the file cannot be read as rows at all: not UTF-8,
            invalid TOML, a bad CSV header or TOML layout, no meters.
    """
    text = _decode(data, path)
    if fmt == "csv":
        return _parse_csv(text, path)
    return _parse_toml(text, path)


def _did_you_mean(name):
    close = difflib.get_close_matches(str(name).strip().lower(), known_names(), n=1)
    return "; did you mean %r?" % close[0] if close else ""


def _parse_csv(text, path):
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    header_line = 0
    rows, problems = [], []
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header_line = line
                header = _csv_header(cells, Where(path, line))
                continue
            where = Where(path, line)
            extra = [c for c in cells[len(header):] if c.strip()]
            if extra:
                problems.append(Problem(where, None, "%d columns like the header" % len(header),
                                        "%d (a comma inside a value needs quotes)" % len(cells)))
                continue
            raw = {field: cell for field, cell in zip(header, cells) if field is not None}
            meter, row_problems = meter_from_fields(raw, where)
            if meter is None:
                problems.extend(row_problems)
            else:
                rows.append((where, meter))
    except csv.Error as exc:
        raise ArchiveFileError(path, message="%s line %d: not valid CSV: %s" % (path, reader.line_num, exc)) from exc
    if header is None:
        raise ArchiveFileError(path, message="%s: expected a header row and one row per meter, got no rows" % path)
    if not rows and not problems:
        raise ArchiveFileError(path, message="%s: expected at least one meter after the header (line %d), got none"
                                             % (path, header_line))
    return ParsedArchive(path, rows, problems)


def _csv_header(cells, where):
    """Header cells -> field per column. Raises ArchiveFileError listing every bad column."""
    problems = []
    fields = []
    seen = {}
    if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
        sep = "';'" if ";" in cells[0] else "tabs"
        raise ArchiveFileError(where.path, [Problem(where, None, "columns separated by commas",
                                                    "a header separated by %s" % sep)])
    for number, cell in enumerate(cells, 1):
        if not cell.strip():
            fields.append(None)
            continue
        field = canonical_field(cell)
        if field is None:
            problems.append(Problem(where, "column %d" % number, "a field name (%s)" % ", ".join(FIELDS),
                                    "%r%s" % (cell.strip(), _did_you_mean(cell))))
        elif field in seen:
            problems.append(Problem(where, "column %d" % number, "each field once",
                                    "%r, the same field as column %d (%s)" % (cell.strip(), seen[field], field)))
            field = None
        else:
            seen[field] = number
        fields.append(field)
    missing = [f for f in REQUIRED if f not in seen]
    if missing:
        problems.append(Problem(where, None, "columns %s" % ", ".join(REQUIRED),
                                "no column for %s" % ", ".join(missing)))
    if problems:
        raise ArchiveFileError(where.path, problems)
    return fields


def _parse_toml(text, path):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ArchiveFileError(path, message="%s: invalid TOML: %s" % (path, exc)) from exc
    problems = []
    for key in doc:
        if key != "meter":
            problems.append(Problem(Where(path), None, "only [[meter]] tables", "%r at the top level" % key))
    entries = doc.get("meter")
    if entries is None:
        problems.append(Problem(Where(path), None, "[[meter]] tables, one per meter", "none"))
        raise ArchiveFileError(path, problems)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append(Problem(Where(path), "meter", "[[meter]] tables, one per meter", "%s" % (
            "a single [meter] table" if isinstance(entries, dict) else "something else")))
        raise ArchiveFileError(path, problems)
    rows = []
    for index, entry in enumerate(entries, 1):
        where = Where(path, index=index)
        raw = {}
        row_problems = []
        for key, value in entry.items():
            field = canonical_field(key)
            if field is None:
                row_problems.append(Problem(where, key, "a field name (%s)" % ", ".join(FIELDS),
                                            "unknown key %r%s" % (key, _did_you_mean(key))))
            elif field in raw:
                row_problems.append(Problem(where, key, "each field once", "%r and another key for %s" % (key, field)))
            else:
                raw[field] = value
        meter, more = meter_from_fields(raw, where)
        row_problems.extend(more)
        if row_problems:
            problems.extend(row_problems)
        else:
            rows.append((where, meter))
    if not entries:
        raise ArchiveFileError(path, message="%s: expected at least one [[meter]] table, got none" % path)
    return ParsedArchive(path, rows, problems)


def load_archive_file(path, fmt=None):
    """Read and parse an archive file.

    Args:
        path: a .csv or .toml file.
        fmt: ``"csv"`` or ``"toml"``; by default from the file name.

    Returns:
        ParsedArchive (row problems are in it, not raised).

    Raises:
        ArchiveFileError: the file cannot be read, or cannot be read as rows.
    """
    fmt = format_of(path, fmt)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ArchiveFileError(path, message="cannot read archive file %s: %s" % (path, exc.strerror or exc)) from exc
    return parse_archive(data, str(path), fmt)


# ------------------------------------------------------------------ export

def _number(value):
    """1.0 -> "1", 40.0 -> "40", 33.333333333333336 kept exactly (repr round-trips)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return "%d" % value
    return repr(float(value))


def _cells(meter, masked):
    out = meter.as_dict(masked=masked)
    out["unit"] = "" if meter.unit is None else str(meter.unit)
    for key in ("ct_ratio", "pt_ratio"):
        out[key] = _number(out[key])
    return [str(out[f]) for f in FIELDS]


def dump_csv(meters, masked=False):
    """CSV text of the meters, header first (no BOM; ``write_archive_file`` adds it).

    Args:
        meters: ArchiveMeters, written in the order given.
        masked: mask customer numbers (the file then cannot be imported back).
    """
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FIELDS)
    for meter in meters:
        writer.writerow(_cells(meter, masked))
    return buf.getvalue()


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    # A JSON string of printable text is a TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def dump_toml(meters, masked=False):
    """TOML text: one ``[[meter]]`` table per meter; empty optional fields are left out."""
    out = ["# Meter archive (电表档案): one [[meter]] table per meter.",
           "# See docs/concentrator.md for the fields."]
    if not masked:
        out.append("# It holds full customer numbers (户号): keep it confidential (S-01).")
    for meter in meters:
        out.append("")
        out.append("[[meter]]")
        for field, value in meter.as_dict(masked=masked).items():
            if value is None or value == "":
                continue
            out.append("%s = %s" % (field, _toml_value(value)))
    return "\n".join(out) + "\n"


def write_archive_file(path, meters, fmt=None, masked=False):
    """Write an export file atomically, readable by its owner only (it holds
    customer numbers, S-01).

    Args:
        path: the file; replaced if it exists.
        meters: ArchiveMeters.
        fmt: ``"csv"`` or ``"toml"``; by default from the name.
        masked: mask customer numbers.

    Raises:
        ArchiveFileError: unknown format, or the file cannot be written.
    """
    fmt = format_of(path, fmt)
    if fmt == "csv":
        data = _BOM + dump_csv(meters, masked).encode("utf-8")
    else:
        data = dump_toml(meters, masked).encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".archive-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ArchiveFileError(path, message="cannot write archive file %s: %s" % (path, exc.strerror or exc)) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass

