# MicroPython-compatible: see STYLE.md
"""Data items: what a DI means and how its value is laid out.

The registry's tables are text, one row per line, split when a DI is first
described. On the MicroPython heap every object takes at least one 32-byte
block (64-bit ports), so a row of tuples and strings costs about 200 bytes and
a line of text about 30; the whole registry as dicts of tuples took 25 KB of a
128 KB heap. ``describe`` caches the items it builds (bounded).

Element specs: parts joined by ``+``; a part is a kind letter, the size in
bytes, ``.d`` for implied decimals and ``s`` for a signed (sign-magnitude, §5)
number. ``N3.4s`` is XX.XXXX signed, ``D5`` YYMMDDhhmm, ``N3.4+D5`` a maximum
demand and its time. Letters: N number, G digit string, A ASCII, W YYMMDDWW,
T hhmmss, D YYMMDDhhmm, E YYMMDDhhmmss, M MMDDhhmm, H DDhh, B bit field,
R rate word, F freeze time, P password, X raw bytes.
"""

STD_2007 = "2007"
STD_1997 = "1997"
STANDARDS = (STD_2007, STD_1997)

# The letter's index is the kind constant of _formats (NUM = 0 ... RAW = 13);
# tests/protocols/test_dlt645_properties.py checks the correspondence.
KIND_LETTERS = "NGAWTDEMHBRFPX"

_elements = {}   # spec -> element; finite: only the tables' specs reach it


class DataItem:
    """What a data identifier means and how its value is laid out.

    Attributes:
        di: the identifier as an int (0x00010000, 0x9010).
        std: "2007" or "1997".
        name: stable name, e.g. "forward_active_total".
        unit: unit text ("kWh", "V", "" when dimensionless).
        element: tuple of parts ``(kind, size, decimals, signed)``.
        repeat: 1 for one element, 0 for a block of one or more elements.
        label: "value of <DI>" for error messages, set on first use.
    """

    label = None

    def __init__(self, di, std, name, unit, element, repeat):
        self.di = di
        self.std = std
        self.name = name
        self.unit = unit
        self.element = element
        self.repeat = repeat

    def __repr__(self):
        return "DataItem(%s, %r, %r)" % (format_di(self.di, self.std), self.name, self.unit)


def format_di(di, std):
    """Hex text of a DI as written in the standard: 8 digits (2007) or 4 (1997)."""
    if std == STD_1997:
        return "%04X" % di
    return "%08X" % di


def element(spec):
    """The element (tuple of parts) of a spec such as ``N3.4+D5``."""
    parsed = _elements.get(spec)
    if parsed is None:
        parts = []
        for text in spec.split("+"):
            signed = text[-1] == "s"
            if signed:
                text = text[:-1]
            dot = text.find(".")
            if dot < 0:
                size = int(text[1:])
                decimals = 0
            else:
                size = int(text[1:dot])
                decimals = int(text[dot + 1:])
            parts.append((KIND_LETTERS.find(text[0]), size, decimals, signed))
        parsed = tuple(parts)
        _elements[spec] = parsed
    return parsed


def row(table, key):
    """The fields of the line of ``table`` whose first field is ``key``, or None.

    Tables start and end with a newline; ``-`` stands for an empty unit.
    """
    i = table.find("\n" + key + " ")
    if i < 0:
        return None
    return table[i + 1:table.find("\n", i + 1)].split()


def unit(text):
    """Unit field of a table row ("-" is none)."""
    return "" if text == "-" else text


def keys(table):
    """The first fields of a table's rows, as ints (they are hex)."""
    return [int(line.split()[0], 16) for line in table.split("\n") if line]
