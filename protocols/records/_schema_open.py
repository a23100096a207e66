"""Schema types for open content: maps without a fixed key set, values of any shape.

Used where the envelope cannot know the shape (a record's ``body`` before
its kind is known) and where the shape belongs to someone else (a command's
``args``). Same contract as _schema.py: ``_check`` raises ``SchemaError``
with a relative path; every accepted value is in the record data model.
"""

import math

from ._schema import INT64_MAX, INT64_MIN, SchemaError, SchemaType, out_of_range, short, utf8_ok, wrong_type


class AnyMap(SchemaType):
    """Any map; its content is checked elsewhere (a record's body, by its kind's schema)."""

    __slots__ = ()

    def accepts_type(self, value):
        return isinstance(value, dict)

    def _check(self, value):
        if not isinstance(value, dict):
            raise wrong_type("map", value)

    def describe(self):
        return "map"


class TextMap(SchemaType):
    """An open map: up to ``max_items`` entries, keys checked by ``key``, values by ``value``."""

    __slots__ = ("key", "value", "max_items")

    def __init__(self, key, value, max_items):
        self.key = key
        self.value = value
        self.max_items = max_items

    def accepts_type(self, value):
        return isinstance(value, dict)

    def _check(self, value):
        if not isinstance(value, dict):
            raise wrong_type("map", value)
        if len(value) > self.max_items:
            raise out_of_range("at most %d entries" % self.max_items, value, "%d entries" % len(value))
        for key, element in value.items():
            try:
                self.key._check(key)
            except SchemaError as exc:
                raise exc.within("key %s" % short(key))
            try:
                self.value._check(element)
            except SchemaError as exc:
                raise exc.within(str(key))

    def describe(self):
        return "map of %s to %s, up to %d entries" % (self.key.describe(), self.value.describe(), self.max_items)


class AnyValue(SchemaType):
    """Any value of the record data model, nested at most ``depth`` arrays/maps deep.

    Scalars: int64 ints, finite floats, text up to ``max_text`` characters,
    bytes up to ``max_text`` bytes, bool, null. Map keys are text.
    """

    __slots__ = ("depth", "max_text")

    def __init__(self, depth=3, max_text=1024):
        self.depth = depth
        self.max_text = max_text

    def accepts_type(self, value):
        return True

    def _check(self, value, _level=0):
        kind = type(value)
        if value is None or kind is bool:
            return
        if kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                raise out_of_range("int64", value)
            return
        if kind is float:
            if not math.isfinite(value):
                raise out_of_range("finite number", value)
            return
        if kind is str or kind in (bytes, bytearray):
            if len(value) > self.max_text:
                raise out_of_range("at most %d characters or bytes" % self.max_text, value)
            if kind is str and not utf8_ok(value):
                raise out_of_range("UTF-8 text", value)
            return
        if isinstance(value, (list, tuple, dict)):
            if _level >= self.depth:
                raise out_of_range("nesting at most %d deep" % self.depth, value)
            if isinstance(value, dict):
                for key, element in value.items():
                    if type(key) is not str:
                        raise wrong_type("text", key).within("key %s" % short(key))
                    try:
                        self._check(element, _level + 1)
                    except SchemaError as exc:
                        raise exc.within(key)
            else:
                for index, element in enumerate(value):
                    try:
                        self._check(element, _level + 1)
                    except SchemaError as exc:
                        raise exc.within("[%d]" % index)
            return
        raise wrong_type("a CBOR data-model value", value)

    def describe(self):
        return "any value (arrays/maps at most %d deep, text keys)" % self.depth
