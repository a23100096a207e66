"""Opening a signed message down to its payload map, shared by records and controls.

Order (the first failure decides the reason): the COSE envelope (size,
well-formed CBOR, COSE_Sign1 structure, protected header, deterministic
envelope; see _cose.py), then the payload byte string: well-formed CBOR
without tags, deterministic encoding with nothing after it, and a map at the
top. Field checks follow in the callers, through
``check_fields`` and ``check_body``, which turn schema problems into reasons.
"""

from ._cbor import check_deterministic, decode
from ._cose import open_sign1
from ._errors import RecordError
from ._schema import SchemaError


def open_payload(data, max_bytes):
    """Check a signed message up to its payload and return ``(payload, payload_bytes, signature)``.

    Raises:
        RecordError: any reason up to "non-canonical", or "wrong-type" when
            the payload holds a tag or is not a map.
    """
    payload_bytes, signature = open_sign1(data, max_bytes)
    payload = decode(payload_bytes, "payload")
    check_deterministic(payload, payload_bytes, "payload")
    if not isinstance(payload, dict):
        raise RecordError("wrong-type", "payload must be a map, got %s" % type(payload).__name__,
                          where="payload", expected="map", got=type(payload).__name__)
    return payload, payload_bytes, signature


def check_fields(schema, value, where):
    """Check envelope fields; schema problems keep their own reason.

    Raises:
        RecordError: "unknown-key", "missing-key", "wrong-type" or "out-of-range".
    """
    try:
        schema.check(value, where)
    except SchemaError as exc:
        raise RecordError(exc.problem, exc.message, where=exc.path, expected=exc.expected, got=exc.got) from None


def check_body(schema, body, kind, version):
    """Check a body against its kind's schema; every problem is "bad-body".

    Raises:
        RecordError: "bad-body", the message naming the field and the problem.
    """
    try:
        schema.check(body, "body")
    except SchemaError as exc:
        raise RecordError("bad-body", "%s v%d %s: %s" % (kind, version, exc.problem, exc.message),
                          where=exc.path, expected=exc.expected, got=exc.got) from None
