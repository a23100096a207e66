"""A tiny declarative schema language for record payloads and bodies.

A schema is a tree of type objects built once at import: ``Int``, ``Num``,
``Text``, ``Bytes``, ``Bool``, ``NULL``, ``Union``, ``List`` and ``Map`` (a
closed map with named fields, each required or ``optional``); _schema_open.py
adds ``AnyMap``, ``TextMap`` (an open map with text keys) and ``AnyValue``. ``check(value, path)`` either
returns or raises ``SchemaError`` whose ``problem`` is one of "unknown-key",
"missing-key", "wrong-type" or "out-of-range" and whose ``path`` names the
field ("body.totals[2].count"); paths are built only when a check fails. ``describe()`` gives the one-line type text
used in docs/records.md.

Invariants: every value a schema accepts is in the record data model (int,
finite float, text, bytes, bool, null, arrays, maps with text keys), so it
encodes to deterministic CBOR without tags; ints stay within 64 bits; a
closed map never accepts a key it does not define. ``bool`` is never taken
for an int, although Python makes it a subclass of int.
"""

import math
import re

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1


class SchemaError(Exception):
    """A value does not follow its schema.

    Attributes:
        problem: "unknown-key", "missing-key", "wrong-type" or "out-of-range".
        path: dotted path of the field ("body.totals[2].count").
        detail: what was expected and what was found there.
        message: ``"{path}: {detail}"``.
        expected: the schema's text for the field, or None.
        got: the offending value (or key), or None.
    """

    def __init__(self, problem, detail, expected=None, got=None):
        super().__init__(detail)
        self.problem = problem
        self.path = ""
        self.detail = detail
        self.expected = expected
        self.got = got

    def within(self, segment):
        """Prefix the path with the enclosing field ("name" or "[3]") on the way up."""
        if not self.path:
            self.path = segment
        elif self.path[0] == "[":
            self.path = segment + self.path
        else:
            self.path = segment + "." + self.path
        return self

    @property
    def message(self):
        return "%s: %s" % (self.path, self.detail) if self.path else self.detail

    def __str__(self):
        return self.message


def _type_name(value):
    if value is None:
        return "null"
    if type(value) is bool:
        return "bool"
    if type(value) is int:
        return "int"
    if type(value) is float:
        return "float"
    if type(value) is str:
        return "text"
    if type(value) in (bytes, bytearray):
        return "bytes"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def short(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _num(n):
    if n == INT64_MAX:
        return "2^63-1"
    if n == INT64_MIN:
        return "-2^63"
    if type(n) is float:
        return "%g" % n
    return str(n)


def wrong_type(expected, value):
    return SchemaError("wrong-type", "expected %s, got %s %s" % (expected, _type_name(value), short(value)),
                       expected=expected, got=value)


def out_of_range(expected, value, why=None):
    detail = " (%s)" % why if why else ""
    return SchemaError("out-of-range", "expected %s, got %s%s" % (expected, short(value), detail),
                       expected=expected, got=value)


def utf8_ok(text):
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SchemaType:
    """Base of schema types.

    ``accepts_type`` picks a Union alternative; ``_check`` validates and
    raises ``SchemaError`` with a path relative to the value (containers
    prefix their children's paths on the way up, so nothing is formatted
    unless something is wrong); ``check`` adds the root path.
    """

    __slots__ = ()

    def check(self, value, path):
        """Validate ``value``, whose field path is ``path``.

        Raises:
            SchemaError: with ``path`` naming the offending field.
        """
        try:
            self._check(value)
        except SchemaError as exc:
            raise exc.within(path)

    def accepts_type(self, value):
        raise NotImplementedError

    def _check(self, value):
        raise NotImplementedError

    def describe(self):
        raise NotImplementedError


class Int(SchemaType):
    """An integer (never a bool) in ``lo..hi`` inclusive (default: the int64 range)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo=INT64_MIN, hi=INT64_MAX):
        self.lo = lo
        self.hi = hi

    def accepts_type(self, value):
        return type(value) is int

    def _check(self, value):
        if type(value) is not int:
            raise wrong_type("int", value)
        if not self.lo <= value <= self.hi:
            raise out_of_range(self.describe(), value)

    def describe(self):
        return "int %s..%s" % (_num(self.lo), _num(self.hi))


class Num(SchemaType):
    """A number: an int or a finite float, in ``lo..hi`` inclusive."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo=-1e15, hi=1e15):
        self.lo = lo
        self.hi = hi

    def accepts_type(self, value):
        return type(value) in (int, float)

    def _check(self, value):
        if type(value) not in (int, float):
            raise wrong_type("number", value)
        if type(value) is float and not math.isfinite(value):
            raise out_of_range(self.describe(), value, "not finite")
        if not self.lo <= value <= self.hi:
            raise out_of_range(self.describe(), value)

    def describe(self):
        return "number %s..%s" % (_num(self.lo), _num(self.hi))


class Text(SchemaType):
    """A text string: ``min_len..max_len`` characters, and a regex or a set of choices."""

    __slots__ = ("min_len", "max_len", "pattern", "_regex", "choices")

    def __init__(self, max_len=64, min_len=0, pattern=None, choices=None):
        self.min_len = min_len
        self.max_len = max_len
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern else None
        self.choices = tuple(choices) if choices else None

    def accepts_type(self, value):
        return type(value) is str

    def _check(self, value):
        if type(value) is not str:
            raise wrong_type("text", value)
        if self.choices is not None:
            if value not in self.choices:
                raise out_of_range(self.describe(), value)
            return
        if not self.min_len <= len(value) <= self.max_len:
            raise out_of_range(self.describe(), value, "%d characters" % len(value))
        if self._regex is not None and self._regex.fullmatch(value) is None:
            raise out_of_range(self.describe(), value)
        if not utf8_ok(value):
            raise out_of_range(self.describe(), value, "not encodable as UTF-8")

    def describe(self):
        if self.choices is not None:
            return "one of " + ", ".join('"%s"' % c for c in self.choices)
        if self.min_len == self.max_len:
            text = "text of %d chars" % self.max_len
        else:
            text = "text %d..%d chars" % (self.min_len, self.max_len)
        if self.pattern:
            text += " matching `%s`" % self.pattern
        return text


class Bytes(SchemaType):
    """A byte string of exactly ``size`` bytes, or of at most ``max_len``."""

    __slots__ = ("size", "max_len")

    def __init__(self, size=None, max_len=None):
        self.size = size
        self.max_len = max_len

    def accepts_type(self, value):
        return type(value) in (bytes, bytearray)

    def _check(self, value):
        if type(value) not in (bytes, bytearray):
            raise wrong_type("bytes", value)
        if self.size is not None and len(value) != self.size:
            raise out_of_range(self.describe(), value, "%d bytes" % len(value))
        if self.max_len is not None and len(value) > self.max_len:
            raise out_of_range(self.describe(), value, "%d bytes" % len(value))

    def describe(self):
        if self.size is not None:
            return "bytes, exactly %d" % self.size
        return "bytes 0..%d" % self.max_len


class Bool(SchemaType):
    """true or false."""

    __slots__ = ()

    def accepts_type(self, value):
        return type(value) is bool

    def _check(self, value):
        if type(value) is not bool:
            raise wrong_type("bool", value)

    def describe(self):
        return "bool"


class _Null(SchemaType):
    __slots__ = ()

    def accepts_type(self, value):
        return value is None

    def _check(self, value):
        if value is not None:
            raise wrong_type("null", value)

    def describe(self):
        return "null"


NULL = _Null()


class Union(SchemaType):
    """One of several types; the first alternative whose CBOR type fits the value checks it."""

    __slots__ = ("alternatives",)

    def __init__(self, *alternatives):
        self.alternatives = alternatives

    def accepts_type(self, value):
        return any(alt.accepts_type(value) for alt in self.alternatives)

    def _check(self, value):
        for alt in self.alternatives:
            if alt.accepts_type(value):
                alt._check(value)
                return
        raise wrong_type(self.describe(), value)

    def describe(self):
        return " or ".join(alt.describe() for alt in self.alternatives)


class List(SchemaType):
    """An array of ``min_items..max_items`` items of one type."""

    __slots__ = ("item", "max_items", "min_items")

    def __init__(self, item, max_items, min_items=0):
        self.item = item
        self.max_items = max_items
        self.min_items = min_items

    def accepts_type(self, value):
        return isinstance(value, (list, tuple))

    def _check(self, value):
        if not isinstance(value, (list, tuple)):
            raise wrong_type("array", value)
        if not self.min_items <= len(value) <= self.max_items:
            raise out_of_range("%d..%d items" % (self.min_items, self.max_items), value, "%d items" % len(value))
        check = self.item._check
        for index, element in enumerate(value):
            try:
                check(element)
            except SchemaError as exc:
                raise exc.within("[%d]" % index)

    def describe(self):
        inner = self.item.describe() if not isinstance(self.item, Map) else "map"
        return "array of %d..%d (%s)" % (self.min_items, self.max_items, inner)


class optional:
    """Marks a field of a ``Map`` as optional: it may be absent (absent is not null)."""

    __slots__ = ("type",)

    def __init__(self, type_):
        self.type = type_


class Map(SchemaType):
    """A closed map: exactly the named fields (text keys), required unless ``optional``.

    Args:
        fields: name -> type, or name -> ``optional(type)``; order is the
            documentation order.
        check: optional cross-field rule, a function of the (already
            field-checked) map that returns None or the text of what is wrong;
            a complaint is reported as "out-of-range" at the map's path.
        rule: one line describing ``check`` for the documentation.
    """

    __slots__ = ("fields", "required", "cross_check", "rule")

    def __init__(self, fields, check=None, rule=None):
        self.fields = {}
        required = set()
        for name, spec in fields.items():
            if isinstance(spec, optional):
                self.fields[name] = spec.type
            else:
                self.fields[name] = spec
                required.add(name)
        self.required = frozenset(required)
        self.cross_check = check
        self.rule = rule

    def accepts_type(self, value):
        return isinstance(value, dict)

    def _check(self, value):
        if not isinstance(value, dict):
            raise wrong_type("map", value)
        fields = self.fields
        keys = value.keys()
        # Set operations in C: this runs for every map of every record.
        unknown = keys - fields.keys()
        if unknown:
            names = ", ".join(sorted(short(k) for k in unknown))
            raise SchemaError("unknown-key", "unknown key %s (allowed: %s)" % (names, ", ".join(fields)),
                              expected=tuple(fields), got=min(unknown, key=repr))
        missing = self.required - keys
        if missing:
            names = [name for name in fields if name in missing]
            raise SchemaError("missing-key", "missing key %s" % ", ".join(map(repr, names)),
                              expected=tuple(names), got=None)
        for name, element in value.items():
            try:
                fields[name]._check(element)
            except SchemaError as exc:
                raise exc.within(name)
        if self.cross_check is not None:
            complaint = self.cross_check(value)
            if complaint:
                raise SchemaError("out-of-range", complaint, expected=self.rule, got=value)

    def describe(self):
        return "map"
