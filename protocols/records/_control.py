"""Control messages: what the hall tells one device, signed with the hall's key.

Same envelope as records (COSE_Sign1, Ed25519, deterministic CBOR, same
strictness and reasons), with a payload map of exactly these text keys:

    v       int 1..65535   schema version of the body
    hall    text           hall id (the signer)
    device  text           the device it is addressed to
    kind    text           "ack", "resend" or "command"
    t       int            the hall's UTC ms when it made the message
    body    map            the kind's schema (CONTROLS)

Kinds (version 1):

* ack {epoch, seq}: the hall has committed every record of ``epoch`` with
  seq 1..``seq`` (highest contiguous). Covers that epoch only; seq 0 covers
  nothing. A device deletes what an ack covers and only ever moves its ack
  point forward, so a replayed old ack changes nothing.
* resend {epoch, from_seq, to_seq}: publish again the records of ``epoch``
  with from_seq <= seq <= to_seq that the device still holds. Idempotent.
* command {id, name, args}: do something (e.g. an on-demand read). ``id`` is
  unique per command; the device runs an id at most once.

Replay: a control is valid forever once signed, so the device, not this
module, refuses old ones. ``t`` is the hall's clock at signing. A device
keeps the ids of commands it ran within a window W (10 minutes suggested)
and refuses a command whose id it has seen, or whose ``t`` is older than
its own time minus W; when its clock is unknown (tq "none"), it refuses a
command whose ``t`` is not newer than the newest command it ran. Acks and
resends are safe to replay (see above). A verified ``t`` is also a lower
bound on the current time, which a device without NTP may use (tq "hall").
Records and controls cannot be confused: their payload key sets differ, and
they are signed by different keys.
"""

import hashlib

from protocols.topics import IDENTIFIER_PATTERN

from ._cbor import encode
from ._cose import MAX_OVERHEAD_BYTES, check_signature, sign1
from ._envelope import check_body, check_fields, open_payload
from ._errors import RecordError
from ._schema import INT64_MAX, Int, Map, Text
from ._schema_open import AnyMap, AnyValue, TextMap

# Controls are small; a command's args are the largest part.
MAX_CONTROL_BYTES = 16384


def _resend_rule(body):
    if body["to_seq"] < body["from_seq"]:
        return "to_seq (%d) is before from_seq (%d)" % (body["to_seq"], body["from_seq"])
    return None


ACK_V1 = Map({
    "epoch": Int(1, INT64_MAX),
    "seq": Int(0, INT64_MAX),
})
RESEND_V1 = Map({
    "epoch": Int(1, INT64_MAX),
    "from_seq": Int(1, INT64_MAX),
    "to_seq": Int(1, INT64_MAX),
}, check=_resend_rule, rule="from_seq <= to_seq")
COMMAND_V1 = Map({
    "id": Text(64, 1, r"[A-Za-z0-9._:-]+"),
    "name": Text(63, 1, IDENTIFIER_PATTERN),               # e.g. "read-meter"
    "args": TextMap(Text(63, 1, r"[a-z_][a-z0-9_]*"), AnyValue(depth=3, max_text=1024), 64),
})

# control kind -> {version: body schema}
CONTROLS = {
    "ack": {1: ACK_V1},
    "resend": {1: RESEND_V1},
    "command": {1: COMMAND_V1},
}

CONTROL_PAYLOAD = Map({
    "v": Int(1, 65535),
    "hall": Text(63, 1, IDENTIFIER_PATTERN),
    "device": Text(63, 1, IDENTIFIER_PATTERN),
    "kind": Text(63, 1, IDENTIFIER_PATTERN),
    "t": Int(0, INT64_MAX),
    "body": AnyMap(),
})


class Control:
    """One decoded control message.

    Attributes:
        v, hall, device, kind, t_ms: payload fields (``t_ms`` is ``t``).
        fields: the body map ({"epoch", "seq"} for an ack, ...).
        raw: the message bytes; hash: SHA-256 of ``raw``.
    """

    __slots__ = ("v", "hall", "device", "kind", "t_ms", "fields", "raw", "hash")

    def __init__(self, v, hall, device, kind, t_ms, fields, raw):
        self.v = v
        self.hall = hall
        self.device = device
        self.kind = kind
        self.t_ms = t_ms
        self.fields = fields
        self.raw = raw
        self.hash = hashlib.sha256(raw).digest()

    def __eq__(self, other):
        return isinstance(other, Control) and other.raw == self.raw

    def __hash__(self):
        return hash(self.raw)

    def __repr__(self):
        return "Control(hall=%r, device=%r, kind=%r, t_ms=%d, fields=%r)" % (
            self.hall, self.device, self.kind, self.t_ms, self.fields)


def _check_control(payload):
    check_fields(CONTROL_PAYLOAD, payload, "payload")
    versions = CONTROLS.get(payload["kind"])
    if versions is None:
        raise RecordError("unknown-kind", "payload.kind: unknown control kind %r (known: %s)" % (
            payload["kind"], ", ".join(CONTROLS)), where="payload.kind", expected=tuple(CONTROLS),
            got=payload["kind"])
    schema = versions.get(payload["v"])
    if schema is None:
        raise RecordError("bad-schema-version", "payload.v: control %s has no version %d" % (
            payload["kind"], payload["v"]), where="payload.v", expected=tuple(sorted(versions)), got=payload["v"])
    check_body(schema, payload["body"], payload["kind"], payload["v"])


def encode_control(signing_key, *, hall, device, kind, fields, t_ms, v=1):
    """Build and sign one control message from the hall to a device.

    Args:
        signing_key: the hall's ``Ed25519PrivateKey``.
        hall: hall id; device: the addressee's device id.
        kind: "ack", "resend" or "command".
        fields: the body: {"epoch", "seq"}, {"epoch", "from_seq", "to_seq"}
            or {"id", "name", "args"}.
        t_ms: the hall's UTC time in ms.
        v: body schema version.

    Returns:
        The message bytes (a tagged COSE_Sign1 message).

    Raises:
        RecordError: a field is wrong (same reasons as ``verify_control``) or
            the message would exceed ``MAX_CONTROL_BYTES``; nothing is signed.
        TypeError: ``signing_key`` is not an ``Ed25519PrivateKey``.
    """
    payload = {"v": v, "hall": hall, "device": device, "kind": kind, "t": t_ms, "body": fields}
    _check_control(payload)
    payload_bytes = encode(payload)
    size = len(payload_bytes) + MAX_OVERHEAD_BYTES
    if size > MAX_CONTROL_BYTES:
        raise RecordError("too-large", "%s control would be about %d bytes, the limit is %d" % (
            kind, size, MAX_CONTROL_BYTES), where="payload", expected=MAX_CONTROL_BYTES, got=size)
    return sign1(signing_key, payload_bytes)


def verify_control(data, hall_public_key, device=None, *, hall=None, max_bytes=MAX_CONTROL_BYTES):
    """Verify a control message from the hall and return it.

    Order: as ``verify_record`` up to the body schema, then the signature
    with the hall's key, then the addressee.

    Args:
        data: the message as received.
        hall_public_key: the hall's ``Ed25519PublicKey`` (kept on the device).
        device: this device's id; a message for another device is refused.
        hall: this device's hall id; a message naming another hall is refused.
        max_bytes: size limit.

    Returns:
        The verified ``Control``. The caller still applies the replay rules
        in this module's docstring.

    Raises:
        RecordError: one of the record reasons, or "wrong-recipient".
        TypeError: ``hall_public_key`` is not an ``Ed25519PublicKey``.
    """
    payload, payload_bytes, signature = open_payload(data, max_bytes)
    _check_control(payload)
    control = Control(payload["v"], payload["hall"], payload["device"], payload["kind"], payload["t"],
                      payload["body"], bytes(data))
    try:
        check_signature(hall_public_key, payload_bytes, signature, "hall %r" % control.hall)
    except RecordError as exc:
        exc.record = control
        raise
    if device is not None and control.device != device:
        raise RecordError("wrong-recipient", "control %s is addressed to device %r, this is %r" % (
            control.kind, control.device, device), where="payload.device", expected=device, got=control.device,
            record=control)
    if hall is not None and control.hall != hall:
        raise RecordError("wrong-recipient", "control %s comes from hall %r, this device belongs to %r" % (
            control.kind, control.hall, hall), where="payload.hall", expected=hall, got=control.hall,
            record=control)
    return control
