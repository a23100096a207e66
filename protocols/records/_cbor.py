"""Deterministic CBOR in and strict CBOR out, over cbor2.

Encoding: ``cbor2.dumps(value, canonical=True)`` gives shortest-form
integers, lengths and floats, definite lengths only, and map keys sorted
shortest first, then bytewise. RFC 8949 §4.2.1 sorts keys bytewise by their
encoding; for text keys (the only keys records use, enforced by the schemas)
the two orders are the same, because a text key's first byte grows with its
length. So the bytes are RFC 8949 core deterministic encoding.

Decoding: cbor2's errors are translated: running out of input is
"truncated"; anything else it refuses (reserved bytes, invalid UTF-8,
nesting deeper than ``MAX_DEPTH``) is "not-cbor". Tags are refused while
decoding, before cbor2 would build anything from them (a date, a decimal, a
shared reference that makes a cyclic list, a compiled regex...): the only tag
records use is the outer COSE_Sign1 tag 18. Determinism is checked by
re-encoding what was decoded and comparing bytes: a non-shortest int or
length, an indefinite length, unsorted or duplicate keys, a float in a longer
form than needed all change the bytes; bytes left after the item are
"not-cbor". Simple values and undefined decode, re-encode identically and
are then refused by the schemas ("wrong-type"), like any other wrong type.
"""

from collections.abc import Mapping

import cbor2

from ._errors import RecordError

# Containers nested deeper than this are refused while decoding. The deepest
# legitimate payload is payload map > body > list > list (or command args,
# 3 deep, under a body): 6 levels. 16 leaves room and bounds recursion.
MAX_DEPTH = 16
COSE_SIGN1_TAG = 18


class _TagRefused(Exception):
    def __init__(self, tag):
        super().__init__(tag)
        self.tag = tag


class _Tags(Mapping):
    """cbor2 semantic decoders for every tag: refuse them all, except tag 18 if allowed.

    cbor2 asks this mapping for the decoder of each tag it meets (built-in
    ones included) and calls it with the already decoded content.
    """

    def __init__(self, allow_cose):
        self._allow_cose = allow_cose

    def __getitem__(self, tag):
        if tag == COSE_SIGN1_TAG and self._allow_cose:
            return _cose_tag

        def refuse(*_args):
            raise _TagRefused(tag)
        return refuse

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


def _cose_tag(value, *_args):
    return cbor2.CBORTag(COSE_SIGN1_TAG, value)


_ENVELOPE_TAGS = _Tags(allow_cose=True)
_PAYLOAD_TAGS = _Tags(allow_cose=False)


def _tag_hook(tag, *_args):
    # Only reached for a tag the mapping above was not asked about.
    raise _TagRefused(tag.tag)


def encode(value):
    """Deterministic CBOR of ``value``, which the caller has schema-checked.

    Raises:
        RecordError: "wrong-type" if cbor2 cannot encode the value (a schema
            gap; should not happen for checked values).
    """
    try:
        return cbor2.dumps(value, canonical=True)
    except (cbor2.CBOREncodeError, TypeError, ValueError, OverflowError) as exc:
        raise RecordError("wrong-type", "cannot encode value as CBOR: %s" % exc) from exc


def decode(data, where):
    """Decode the CBOR data item at the start of ``data``, refusing tags.

    Bytes after the item are found by ``check_deterministic``.

    Args:
        data: the bytes.
        where: "envelope" (tag 18 allowed) or "payload" (no tag allowed).

    Raises:
        RecordError: "truncated" or "not-cbor"; a tag is "not-cose" in the
            envelope and "wrong-type" in the payload.
    """
    tags = _ENVELOPE_TAGS if where == "envelope" else _PAYLOAD_TAGS
    try:
        return cbor2.loads(data, semantic_decoders=tags, tag_hook=_tag_hook, max_depth=MAX_DEPTH)
    except cbor2.CBORDecodeEOF as exc:
        raise RecordError("truncated", "%s: CBOR ends early after %d bytes (%s)" % (where, len(data), exc),
                          where=where, got=len(data)) from exc
    except cbor2.CBORDecodeError as exc:
        if isinstance(exc.__cause__, _TagRefused):
            tag = exc.__cause__.tag
            if where == "envelope":
                raise RecordError("not-cose", "envelope: expected COSE_Sign1 tag 18 only, found tag %d" % tag,
                                  where=where, expected=COSE_SIGN1_TAG, got=tag) from None
            raise RecordError("wrong-type", "%s: CBOR tag %d is not allowed in a record" % (where, tag),
                              where=where, got=tag) from None
        raise RecordError("not-cbor", "%s: not well-formed CBOR: %s" % (where, exc), where=where) from exc
    except (ValueError, TypeError, OverflowError, ArithmeticError, LookupError, RecursionError) as exc:
        raise RecordError("not-cbor", "%s: CBOR item cannot be decoded: %s" % (where, exc), where=where) from exc


def check_deterministic(value, data, where):
    """Check that ``data`` is exactly the deterministic encoding of ``value`` (decoded from it).

    Raises:
        RecordError: "not-cbor" when bytes follow the item, else
            "non-canonical" with the offset of the first differing byte.
    """
    expected = encode(value)
    if expected == data:
        return
    if len(data) > len(expected) and data.startswith(expected):
        raise RecordError("not-cbor", "%s: %d bytes after the end of the CBOR item at byte %d" % (
            where, len(data) - len(expected), len(expected)), where=where, expected=len(expected), got=len(data))
    offset = next((i for i, (a, b) in enumerate(zip(data, expected)) if a != b), min(len(data), len(expected)))
    got_byte = "0x%02x" % data[offset] if offset < len(data) else "end"
    want_byte = "0x%02x" % expected[offset] if offset < len(expected) else "end"
    raise RecordError("non-canonical", "%s is not deterministic CBOR (RFC 8949 §4.2.1): byte %d is %s, the "
                      "deterministic encoding has %s there (%d bytes instead of %d; non-shortest int, length "
                      "or float, indefinite length, unsorted or duplicate map keys)" % (
                          where, offset, got_byte, want_byte, len(data), len(expected)),
                      where=where, expected=want_byte, got=got_byte)
