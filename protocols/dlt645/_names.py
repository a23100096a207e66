# MicroPython-compatible: see STYLE.md
"""Registry names and text forms of data identifiers.

``known_items`` enumerates what the registry can name (tariffs 1-4 of 63, all
settlement periods and freezes), ``di_for_name`` inverts it, ``parse_di``
accepts hex text or a name. On CPython the name index (about 8,000 names for
2007) is built once; on MicroPython it would not fit a small heap, so names
are found by scanning and only the ones asked for are remembered. Names of
tariffs 5-63, which ``known_items`` leaves out, are found by rule.
"""

import sys

from ._errors import DataIdentifierError
from ._items import STANDARDS, STD_1997
from ._registry import describe, describe_2007, well_known_2007
from ._registry97 import describe_1997, well_known_1997
from ._wire import CACHE_MAX

_SMALL_HEAP = sys.implementation.name == "micropython"
_by_name = {}       # std -> {name: di}: the whole index (CPython) or names asked for


def known_items(std="2007"):
    """Yield every ``DataItem`` the registry can name, in DI order groups."""
    if std == STD_1997:
        source = well_known_1997()
        make = describe_1997
    else:
        source = well_known_2007()
        make = describe_2007
    for di in source:
        item = make(di)
        if item is not None:
            yield item


def di_for_name(name, std="2007"):
    """Return the DI (int) of a registry name.

    Raises:
        DataIdentifierError: the name is not known for that edition.
    """
    table = _by_name.get(std)
    if table is None:
        table = {}
        if not _SMALL_HEAP:
            for item in known_items(std):
                table[item.name] = item.di
        _by_name[std] = table
    di = table.get(name)
    if di is None and _SMALL_HEAP and std in STANDARDS:
        for item in known_items(std):
            if item.name == name:
                di = item.di
                if len(table) >= CACHE_MAX:
                    table.clear()
                table[name] = di
                break
    if di is None and std != STD_1997:
        di = _other_tariff(name, table)
    if di is None:
        raise DataIdentifierError("unknown data identifier name %r for DL/T 645-%s" % (name, std),
                                  got=name)
    return di


def parse_di(text, std="2007"):
    """Parse a DI given as hex (``00010000``, ``0x9010``) or as a registry name.

    Raises:
        DataIdentifierError: not text, hex of the wrong width for the edition,
            or an unknown name.
    """
    if std not in STANDARDS:
        raise DataIdentifierError("unknown standard %r, expected 2007 or 1997" % (std,), got=std)
    if not isinstance(text, str):
        raise DataIdentifierError("data identifier %r is neither hex text nor a name" % (text,), got=text)
    s = text.strip()
    prefixed = s[:2] in ("0x", "0X")
    body = s[2:] if prefixed else s
    width = 4 if std == STD_1997 else 8
    if body and _is_hex(body) and (prefixed or len(body) in (4, 8)):
        if len(body) != width:
            raise DataIdentifierError(
                "data identifier %r has %d hex digits; DL/T 645-%s uses %d" % (text, len(body), std, width),
                expected=width, got=len(body))
        return int(body, 16)
    if prefixed:
        raise DataIdentifierError("data identifier %r is not hexadecimal" % (text,), got=text)
    return di_for_name(s, std)


def _is_hex(s):
    for ch in s:
        if ch not in "0123456789abcdefABCDEF":
            return False
    return True


def _other_tariff(name, table):
    """DI of a 2007 energy or demand name with tariff 5-63 (``..._t17...``).

    ``known_items`` lists tariffs 1-4 only (§13.1: the four Chinese tariffs);
    DI1 is the tariff number, so ``_tN`` is ``_t1`` plus N - 1 in DI1.
    """
    i = name.find("_t")
    while i >= 0:
        j = i + 2
        while j < len(name) and "0" <= name[j] <= "9":
            j += 1
        if j > i + 2 and (j == len(name) or name[j] == "_"):
            n = int(name[i + 2:j])
            if 5 <= n <= 0x3F:
                base = name[:i] + "_t1" + name[j:]
                di = table.get(base)
                if di is None:
                    try:
                        di = di_for_name(base)
                    except DataIdentifierError:
                        return None
                di += (n - 1) << 8
                item = describe(di)
                return di if item is not None and item.name == name else None
        i = name.find("_t", i + 2)
    return None
