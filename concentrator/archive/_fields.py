"""One meter of the archive: its fields, their rules, and masking of customer numbers.

``meter_from_fields`` turns the raw values of one row (text from a CSV cell,
or TOML values) into an ``ArchiveMeter``, or into the list of every problem
of that row; it never stops at the first. Rules that involve several rows
(unique addresses, one supply meter per area) are in ``_rules``.

Invariant: an ``ArchiveMeter`` is always valid on its own. ``unit`` is None
exactly for DL/T 645 meters; ``customer`` is "" exactly for supply meters.

Customer numbers (户号) are account numbers: they are shown masked on screen
and in every message (S-01, K-09); only export files hold them in full.
"""

import dataclasses
import math
import re

from protocols.topics import is_identifier

from ._errors import ArchiveFileError, Problem, Where

# Field order of exports and of the ``list`` table.
FIELDS = ("address", "unit", "protocol", "line", "port", "baud", "parity", "area", "role", "customer",
          "phases", "ct_ratio", "pt_ratio", "name", "location")
REQUIRED = ("address", "protocol", "line", "port", "area", "phases")
DEFAULTS = {"unit": None, "baud": 2400, "parity": "E", "role": "customer", "customer": "", "ct_ratio": 1.0,
            "pt_ratio": 1.0, "name": "", "location": ""}

# Header (CSV) and key (TOML) aliases, compared after lower-casing and
# dropping spaces. Chinese names are those of marketing-system archive sheets.
ALIASES = {
    "address": ("表地址", "电表地址", "通信地址", "addr", "meter_address"),
    "unit": ("unit_id", "slave", "从站地址", "站号", "单元号"),
    "protocol": ("规约", "通信规约", "协议", "std"),
    "line": ("线路", "通道", "line_name"),
    "port": ("端口", "串口", "url"),
    "baud": ("波特率", "baudrate", "baud_rate"),
    "parity": ("校验", "校验位", "校验方式"),
    "area": ("台区", "台区编号", "台区编码", "area_code"),
    "role": ("角色", "表计类型", "类型"),
    "customer": ("户号", "用户编号", "客户编号", "customer_number", "customer_no"),
    "phases": ("相数", "phase"),
    "ct_ratio": ("ct", "ct变比", "电流互感器变比"),
    "pt_ratio": ("pt", "pt变比", "电压互感器变比"),
    "name": ("名称", "表名"),
    "location": ("位置", "安装位置"),
}
_ALIAS_TO_FIELD = {}
for _field in FIELDS:
    _ALIAS_TO_FIELD[_field] = _field
    for _alias in ALIASES.get(_field, ()):
        _ALIAS_TO_FIELD[_alias.lower()] = _field

STANDARD_BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
ROLES = ("customer", "supply")
_ROLE_ALIASES = {"customer": "customer", "用户": "customer", "户表": "customer", "用户表": "customer",
                 "supply": "supply", "总表": "supply", "台区总表": "supply", "考核表": "supply"}
_PARITY_ALIASES = {"e": "E", "even": "E", "偶": "E", "偶校验": "E", "n": "N", "none": "N", "无": "N",
                   "无校验": "N", "o": "O", "odd": "O", "奇": "O", "奇校验": "O"}
_PHASE_ALIASES = {"1": 1, "3": 3, "单相": 1, "三相": 3}
# Ratios above this are typing errors: the largest CT and PT in a hall's
# areas (e.g. 4000/5, 35 kV/100 V) are far below it.
MAX_RATIO = 100000
MAX_TEXT = 64
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
_URL_RE = re.compile(r"(socket|rfc2217|tcp)://([^\s:/]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\Z")
BROADCAST = "999999999999"


def canonical_field(name):
    """The field a CSV header or TOML key means, or None (case, spaces and BOM ignored)."""
    key = "".join(str(name).split()).lstrip("\ufeff").lower()
    return _ALIAS_TO_FIELD.get(key)


def known_names():
    """Every header/key the files accept, for did-you-mean hints."""
    return sorted(_ALIAS_TO_FIELD)


def modbus_models():
    """The Modbus meter models the register maps know (``protocols.modbus_maps.model_names()``).

    Imported lazily: the maps are optional for a DL/T 645-only archive. An
    older ``protocols`` without ``model_names`` knows no model.
    """
    try:
        from protocols.modbus_maps import model_names
    except ImportError:
        return ()
    return tuple(model_names())


def mask_customer(number):
    """Mask a customer number (户号) for screens and logs (S-01, K-09).

    12 digits or more keep the first 2 and last 4 (``32******7890``); 8 to 11
    keep the last 4; shorter ones the last 2. At least 4 digits are always hidden.
    """
    number = str(number or "")
    n = len(number)
    if n == 0:
        return ""
    if n >= 12:
        return number[:2] + "*" * (n - 6) + number[-4:]
    if n >= 8:
        return "*" * (n - 4) + number[-4:]
    return "*" * max(n - 2, 0) + number[-2:] if n > 2 else "*" * n


@dataclasses.dataclass(frozen=True)
class ArchiveMeter:
    """One meter of the archive (电表档案).

    Attributes:
        address: the 12-digit nameplate address.
        unit: Modbus unit id 1..247, or None for a DL/T 645 meter.
        protocol: ``"2007"``, ``"1997"`` or ``"modbus:<model>"``.
        line: the name of the RS-485 line (or Modbus TCP connection).
        port: the line's pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``)
            or ``tcp://host:port`` for Modbus TCP.
        baud, parity: the line's settings (``"E"``, ``"N"`` or ``"O"``).
        area: the transformer area (台区) code.
        role: ``"customer"``, or ``"supply"`` for the area's supply meter (台区总表).
        customer: the customer number (户号), "" for a supply meter. Shown masked.
        phases: 1 or 3.
        ct_ratio, pt_ratio: current and voltage transformer ratios (1 = direct).
        name, location: free labels ("" when not given).
    """

    address: str
    unit: object
    protocol: str
    line: str
    port: str
    baud: int
    parity: str
    area: str
    role: str
    customer: str
    phases: int
    ct_ratio: float
    pt_ratio: float
    name: str = ""
    location: str = ""

    @property
    def key(self):
        """(line, address, unit): what identifies a meter in the archive."""
        return (self.line, self.address, self.unit)

    @property
    def is_modbus(self):
        return self.protocol.startswith("modbus:")

    def label(self):
        """``202311150031`` or ``202311150031 unit 5``, for messages."""
        return self.address if self.unit is None else "%s unit %d" % (self.address, self.unit)

    def as_dict(self, masked=True):
        """The fields in ``FIELDS`` order; the customer number masked unless ``masked=False``."""
        out = {name: getattr(self, name) for name in FIELDS}
        if masked:
            out["customer"] = mask_customer(self.customer)
        return out

    def __repr__(self):
        # Never the full customer number: reprs end up in logs and tracebacks.
        return "ArchiveMeter(%s)" % ", ".join("%s=%r" % kv for kv in self.as_dict(masked=True).items())


class _Bad(Exception):
    def __init__(self, expected, got):
        super().__init__(expected)
        self.expected = expected
        self.got = got


def describe(raw):
    """A raw value for "got ...": 'text', the number 5, true, nothing."""
    if raw is None or raw == "":
        return "nothing"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return "the number %r" % (raw,)
    if isinstance(raw, str):
        return repr(raw)
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "an array"
    return "a %s" % type(raw).__name__


def _text(raw, expected):
    """Text of a field; TOML numbers are refused because they lose leading zeros."""
    if isinstance(raw, str):
        return raw.strip()
    raise _Bad(expected + ", in quotes", describe(raw))


def _whole(raw, expected):
    if isinstance(raw, bool):
        raise _Bad(expected, describe(raw))
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().isdigit() and raw.strip().isascii():
        return int(raw.strip())
    raise _Bad(expected, describe(raw))


def _address(raw):
    expected = "the nameplate address, 1 to 12 digits (zeros are added on the left)"
    text = _text(raw, expected)
    if not (text.isdigit() and text.isascii()) or len(text) > 12:
        raise _Bad(expected, describe(raw))
    text = text.rjust(12, "0")
    if text == BROADCAST:
        raise _Bad(expected + ", not the broadcast address", describe(raw))
    return text


def _unit(raw):
    expected = "a Modbus unit id 1 to 247"
    value = _whole(raw, expected)
    if not 1 <= value <= 247:
        raise _Bad(expected, describe(raw))
    return value


def _protocol(raw):
    models = modbus_models()
    known = ", ".join(models) if models else "none known to this version"
    expected = "2007, 1997 or modbus:MODEL (MODEL: %s)" % known
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in (2007, 1997):
        return str(raw)
    if not isinstance(raw, str):
        raise _Bad(expected, describe(raw))
    text = raw.strip()
    if text in ("2007", "1997"):
        return text
    head, sep, model = text.partition(":")
    # Spelt as the register maps accept it: case, "-" and "_" ignored (DTSU-666).
    by_key = {_model_key(m): m for m in models}
    if sep and head.strip().lower() == "modbus" and _model_key(model) in by_key:
        return "modbus:" + by_key[_model_key(model)]
    raise _Bad(expected, describe(raw))


def _model_key(name):
    return name.strip().lower().replace("-", "").replace("_", "")


def _line(raw):
    expected = "a line name of 1 to 32 letters, digits, '-', '_' or '.' (such as line1)"
    text = _text(raw, expected)
    if not _NAME_RE.match(text):
        raise _Bad(expected, describe(raw))
    return text


def _port(raw):
    expected = "a port such as /dev/ttyUSB0, socket://HOST:PORT, rfc2217://HOST:PORT or tcp://HOST:PORT"
    text = _text(raw, expected)
    if text.startswith("/") and len(text) > 1 and text.isprintable() and " " not in text:
        return text
    match = _URL_RE.match(text)
    if match and 1 <= int(match.group(3)) <= 65535:
        return text
    raise _Bad(expected, describe(raw))


def _baud(raw):
    expected = "a standard rate: %s" % ", ".join(str(b) for b in STANDARD_BAUDS)
    try:
        value = _whole(raw, expected)
    except _Bad:
        raise _Bad(expected, describe(raw)) from None
    if value not in STANDARD_BAUDS:
        raise _Bad(expected, describe(raw))
    return value


def _parity(raw):
    expected = "E, N or O (even, none, odd)"
    if isinstance(raw, str) and raw.strip().lower() in _PARITY_ALIASES:
        return _PARITY_ALIASES[raw.strip().lower()]
    raise _Bad(expected, describe(raw))


def _area(raw):
    # Records name the area by this code lower-cased (protocols.topics
    # IDENTIFIER_PATTERN, decision 22), so a code must still be one after
    # lower-casing: ASCII letters, digits and "-", not starting with "-".
    expected = ("a transformer area (台区) code of 1 to 32 ASCII letters, digits and '-', starting with a letter "
                "or digit (records name the area by it in lower case)")
    text = _text(raw, expected)
    if not text or len(text) > 32 or not text.isascii() or not is_identifier(text.lower()):
        raise _Bad(expected, describe(raw))
    return text


def record_area(code):
    """The area id records carry for archive area ``code``: the code lower-cased.

    Returns:
        the id, or None for a code that does not fit the identifier rule
        (only an archive stored before area codes were checked holds one).
    """
    if not isinstance(code, str) or not code.isascii() or not is_identifier(code.lower()):
        return None
    return code.lower()


def _role(raw):
    expected = "customer or supply (the area's supply meter, 台区总表)"
    if isinstance(raw, str) and raw.strip().lower() in _ROLE_ALIASES:
        return _ROLE_ALIASES[raw.strip().lower()]
    raise _Bad(expected, describe(raw))


def _customer(raw):
    expected = "a customer number (户号) of 6 to 20 digits"
    # Every "got" here names the fault without showing the number (S-01).
    if not isinstance(raw, str):
        number = isinstance(raw, (int, float)) and not isinstance(raw, bool)
        raise _Bad(expected + ", in quotes", "a number (it would lose leading zeros)" if number else describe(raw))
    text = raw.strip()
    if text.isdigit() and text.isascii() and 6 <= len(text) <= 20:
        return text
    if "*" in text:
        raise _Bad(expected, "a masked number (%s); import a file exported without --masked" % mask_customer(text))
    bad = next((c for c in text if not ("0" <= c <= "9")), None)
    got = "%d characters" % len(text)
    if bad is not None:
        got += " with %r at position %d" % (bad, text.index(bad) + 1)
    raise _Bad(expected, got)


def _phases(raw):
    expected = "1 or 3"
    if isinstance(raw, str) and raw.strip() in _PHASE_ALIASES:
        return _PHASE_ALIASES[raw.strip()]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in (1, 3):
        return raw
    raise _Bad(expected, describe(raw))


def _ratio(raw):
    expected = "a positive number such as 1, 40 or 200/5 (at most %d)" % MAX_RATIO
    if isinstance(raw, bool):
        raise _Bad(expected, describe(raw))
    try:
        if isinstance(raw, (int, float)):
            value = float(raw)
        elif isinstance(raw, str):
            num, sep, den = raw.strip().partition("/")
            value = float(num) / float(den) if sep else float(num)
        else:
            raise ValueError
    except (ValueError, ZeroDivisionError, OverflowError):
        raise _Bad(expected, describe(raw)) from None
    if not (math.isfinite(value) and 0 < value <= MAX_RATIO):
        raise _Bad(expected, describe(raw))
    return value


def _label(raw):
    expected = "text of at most %d characters on one line" % MAX_TEXT
    text = _text(raw, expected)
    if len(text) > MAX_TEXT or not text.isprintable():
        raise _Bad(expected, describe(raw))
    return text


_CHECKS = {"address": _address, "unit": _unit, "protocol": _protocol, "line": _line, "port": _port,
           "baud": _baud, "parity": _parity, "area": _area, "role": _role, "customer": _customer,
           "phases": _phases, "ct_ratio": _ratio, "pt_ratio": _ratio, "name": _label, "location": _label}


def _missing(raw):
    return raw is None or (isinstance(raw, str) and not raw.strip())


def meter_from_fields(raw, where=None):
    """Check one row and build its meter.

    Args:
        raw: field name (``FIELDS``) -> raw value: text from a CSV cell, or a
            TOML value. Absent keys and empty text mean "not given".
        where: the ``Where`` of the row, for messages.

    Returns:
        (meter, problems): the ``ArchiveMeter`` and [] when the row is valid;
        None and every problem of the row otherwise.
    """
    where = where or Where()
    values = {}
    problems = []

    def bad(field, expected, got):
        problems.append(Problem(where, field, expected, got))

    for field in FIELDS:
        value = raw.get(field)
        if _missing(value):
            if field in REQUIRED:
                bad(field, _expected_of(field), "nothing")
            continue
        try:
            values[field] = _CHECKS[field](value)
        except _Bad as exc:
            bad(field, exc.expected, exc.got)
    role = values.get("role", DEFAULTS["role"])
    protocol = values.get("protocol")
    modbus = protocol is not None and protocol.startswith("modbus:")
    if protocol is not None:
        if modbus and "unit" not in values and _missing(raw.get("unit")):
            bad("unit", "a Modbus unit id 1 to 247 for a %s meter" % protocol, "nothing")
        if not modbus and not _missing(raw.get("unit")):
            bad("unit", "nothing for a DL/T 645 meter (unit ids are for Modbus)", describe(raw.get("unit")))
        port = values.get("port", "")
        if not modbus and port.startswith("tcp://"):
            bad("port", "a serial port or socket:// for a DL/T 645 meter (tcp:// is Modbus TCP)", describe(port))
    if "role" in values or _missing(raw.get("role")):
        given = not _missing(raw.get("customer"))
        if role == "customer" and not given:
            bad("customer", "a customer number (户号) of 6 to 20 digits for a customer meter", "nothing")
        if role == "supply" and given:
            problems[:] = [p for p in problems if p.field != "customer"]
            bad("customer", "nothing for a supply meter (台区总表 belongs to the area, not a customer)",
                "a customer number")
    if problems:
        return None, problems
    out = dict(DEFAULTS)
    out.update(values)
    if not modbus:
        out["unit"] = None
    return ArchiveMeter(**out), []


def _expected_of(field):
    try:
        _CHECKS[field](object())
    except _Bad as exc:
        return exc.expected.replace(", in quotes", "")
    return field     # pragma: no cover - every check refuses an object


def make_meter(**fields):
    """Build one meter from keyword fields, with the same rules as a file row.

    Raises:
        ArchiveFileError: every problem of the fields.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise TypeError("unknown archive field(s): %s" % ", ".join(unknown))
    meter, problems = meter_from_fields(fields)
    if problems:
        raise ArchiveFileError(None, problems)
    return meter
