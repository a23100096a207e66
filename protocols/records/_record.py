"""Records: encode, decode and verify one signed record.

A record is a COSE_Sign1 message (see _cose.py) whose payload is the
deterministic CBOR of a map with exactly these text keys:

    v      int 1..65535    schema version of the body (with the kind, picks the body schema)
    src    text            device id (identifier rule of protocols.topics)
    epoch  int 1..2^63-1   increases whenever the device's store is re-created
    seq    int 1..2^63-1   +1 per record per source within an epoch, never reused
    prev   bytes 32        record_hash of the previous record; GENESIS_PREV for seq 1
    t      int 0..2^63-1   UTC ms when the record was made
    tq     map             clock quality: {"src": ..., "err_ms": int or null}
    kind   text            a key of KINDS
    body   map             the kind's body schema of version v

Invariants: ``encode_record`` checks everything ``verify_record`` checks
(except the key and the link to the actual previous record) before it signs,
so a device never signs a record the hall would refuse. ``seq`` and ``epoch``
stop at 2^63-1 because both hall stores (SQLite INTEGER, PostgreSQL bigint)
are signed 64-bit; at a million records a second that is 292,000 years.
"""

import hashlib

from protocols.topics import IDENTIFIER_PATTERN

from ._cbor import encode
from ._cose import MAX_OVERHEAD_BYTES, check_signature, sign1
from ._envelope import check_body, check_fields, open_payload
from ._errors import RecordError
from ._kinds import KINDS
from ._schema import INT64_MAX, NULL, Bytes, Int, Map, Text, Union
from ._schema_open import AnyMap

MAX_RECORD_BYTES = 65536
GENESIS_PREV = bytes(32)
HASH_BYTES = 32

# Clock quality (tq). src says where the device's time came from, err_ms is
# the device's bound on |t - true UTC| in ms; "none" means the device does not
# know the time (its RTC lost power and nothing has set it since), and then
# err_ms is null. The hall never refuses a record for its time: billing
# records are kept whatever the clock; tq says how far to trust t.
TQ_SOURCES = ("gps", "ntp", "hall", "rtc", "none")
MAX_ERR_MS = 2 ** 31 - 1


def _tq_rule(tq):
    if (tq["src"] == "none") != (tq["err_ms"] is None):
        return "err_ms must be null exactly when src is \"none\" (got src %r, err_ms %r)" % (tq["src"], tq["err_ms"])
    return None


TQ = Map({
    "src": Text(choices=TQ_SOURCES),
    "err_ms": Union(Int(0, MAX_ERR_MS), NULL),
}, check=_tq_rule, rule='err_ms is null exactly when src is "none"')

PAYLOAD = Map({
    "v": Int(1, 65535),
    "src": Text(63, 1, IDENTIFIER_PATTERN),
    "epoch": Int(1, INT64_MAX),
    "seq": Int(1, INT64_MAX),
    "prev": Bytes(size=HASH_BYTES),
    "t": Int(0, INT64_MAX),
    "tq": TQ,
    "kind": Text(63, 1, IDENTIFIER_PATTERN),
    "body": AnyMap(),
})


def record_hash(record_bytes):
    """SHA-256 of a record's full COSE bytes: what ``prev`` of the next record holds."""
    return hashlib.sha256(record_bytes).digest()


class Record:
    """One decoded record.

    Attributes:
        v, src, epoch, seq, prev, t_ms, tq, kind, body: the payload fields
            (``t_ms`` is the payload's ``t``).
        raw: the record's bytes, exactly as signed and sent.
        hash: ``record_hash(raw)``.
    """

    __slots__ = ("v", "src", "epoch", "seq", "prev", "t_ms", "tq", "kind", "body", "raw", "hash")

    def __init__(self, v, src, epoch, seq, prev, t_ms, tq, kind, body, raw):
        self.v = v
        self.src = src
        self.epoch = epoch
        self.seq = seq
        self.prev = prev
        self.t_ms = t_ms
        self.tq = tq
        self.kind = kind
        self.body = body
        self.raw = raw
        self.hash = record_hash(raw)

    @property
    def key(self):
        """``(src, epoch, seq)``: what the hall stores a record under, exactly once."""
        return (self.src, self.epoch, self.seq)

    def __eq__(self, other):
        return isinstance(other, Record) and other.raw == self.raw

    def __hash__(self):
        return hash(self.raw)

    def __repr__(self):
        return "Record(src=%r, epoch=%d, seq=%d, kind=%r, v=%d, t_ms=%d, hash=%s)" % (
            self.src, self.epoch, self.seq, self.kind, self.v, self.t_ms, self.hash.hex()[:16])


def _check_payload(payload):
    """Fields, kind, version and body of a payload map; returns the body schema's kind."""
    check_fields(PAYLOAD, payload, "payload")
    kind = KINDS.get(payload["kind"])
    if kind is None:
        raise RecordError("unknown-kind", "payload.kind: unknown record kind %r (known: %s)" % (
            payload["kind"], ", ".join(KINDS)), where="payload.kind", expected=tuple(KINDS), got=payload["kind"])
    schema = kind.schema(payload["v"])
    if schema is None:
        raise RecordError("bad-schema-version", "payload.v: %s has no body schema version %d (known: %s)" % (
            kind.name, payload["v"], ", ".join(map(str, sorted(kind.schemas)))),
            where="payload.v", expected=tuple(sorted(kind.schemas)), got=payload["v"])
    check_body(schema, payload["body"], kind.name, payload["v"])


def _check_genesis(seq, prev, record=None):
    if seq == 1 and prev != GENESIS_PREV:
        raise RecordError("broken-chain", "seq 1 starts an epoch's chain: prev must be 32 zero bytes, got %s" % (
            bytes(prev).hex(),), where="payload.prev", expected=GENESIS_PREV.hex(), got=bytes(prev).hex(),
            record=record)
    if seq != 1 and prev == GENESIS_PREV:
        raise RecordError("broken-chain", "seq %d is not the first of its epoch, but prev is 32 zero bytes" % seq,
                          where="payload.prev", got=GENESIS_PREV.hex(), record=record)


def encode_record(signing_key, *, src, epoch, seq, prev, t_ms, tq, kind, body, v=1):
    """Build and sign one record.

    Args:
        signing_key: the device's ``Ed25519PrivateKey``.
        src: device id (lower-case identifier, as in topics).
        epoch: store epoch, >= 1.
        seq: sequence number in the epoch, 1..2^63-1.
        prev: ``record_hash`` of the previous record of this epoch, or
            ``GENESIS_PREV`` when ``seq`` is 1.
        t_ms: UTC time in ms (from the caller's clock).
        tq: clock quality, ``{"src": "ntp", "err_ms": 20}`` (see ``TQ_SOURCES``).
        kind: a key of ``KINDS``.
        body: the body map, following ``KINDS[kind].schema(v)``.
        v: body schema version.

    Returns:
        The record's bytes (a tagged COSE_Sign1 message).

    Raises:
        RecordError: any field is wrong (same reasons as ``verify_record``),
            including "broken-chain" when seq 1 does not carry
            ``GENESIS_PREV`` (or a later seq does), and "too-large" when the
            record would exceed ``MAX_RECORD_BYTES``. Nothing is signed then.
        TypeError: ``signing_key`` is not an ``Ed25519PrivateKey``.
    """
    payload = {"v": v, "src": src, "epoch": epoch, "seq": seq, "prev": prev, "t": t_ms, "tq": tq,
               "kind": kind, "body": body}
    _check_payload(payload)
    _check_genesis(seq, prev)
    if type(prev) is not bytes:
        payload["prev"] = bytes(prev)
    payload_bytes = encode(payload)
    size = len(payload_bytes) + MAX_OVERHEAD_BYTES
    if size > MAX_RECORD_BYTES:
        raise RecordError("too-large", "record of %s seq %d would be about %d bytes, the limit is %d" % (
            src, seq, size, MAX_RECORD_BYTES), where="payload", expected=MAX_RECORD_BYTES, got=size)
    return sign1(signing_key, payload_bytes)


def _decode(record_bytes, max_bytes):
    payload, payload_bytes, signature = open_payload(record_bytes, max_bytes)
    _check_payload(payload)
    record = Record(payload["v"], payload["src"], payload["epoch"], payload["seq"], payload["prev"],
                    payload["t"], payload["tq"], payload["kind"], payload["body"], bytes(record_bytes))
    return record, payload_bytes, signature


def decode_unverified(record_bytes, max_bytes=MAX_RECORD_BYTES):
    """Decode a record with every structural check but no signature, device or chain check.

    For logging and quarantine: the result may be forged. Never store it as valid.

    Raises:
        RecordError: reasons "too-large" to "bad-body".
    """
    return _decode(record_bytes, max_bytes)[0]


def verify_record(record_bytes, public_key_for, prev_hash=None, max_bytes=MAX_RECORD_BYTES):
    """Verify one record strictly and return it.

    Order (the first failure decides the reason): size; well-formed CBOR;
    COSE_Sign1 structure; protected header; deterministic envelope; payload
    well-formed without tags, deterministic, a map; exact key set; field
    types and ranges; known kind; body schema version; body schema; device
    known; signature; chain (docs/records.md, "Verification order").

    Args:
        record_bytes: the message as received.
        public_key_for: ``src -> Ed25519PublicKey or None`` (None: not enrolled).
        prev_hash: the hash of the stored record (src, epoch, seq - 1) when
            the caller has it; the record's ``prev`` must equal it.
        max_bytes: size limit.

    Returns:
        The verified ``Record``.

    Raises:
        RecordError: with one of ``REASONS``; from "unknown-device" on, the
            error's ``record`` holds the decoded, unverified record.
        ValueError: ``prev_hash`` is not None and not 32 bytes.
        TypeError: ``public_key_for`` gave something other than an
            ``Ed25519PublicKey`` or None.
    """
    if prev_hash is not None and (type(prev_hash) is not bytes or len(prev_hash) != HASH_BYTES):
        raise ValueError("prev_hash must be %d bytes or None, got %r" % (HASH_BYTES, prev_hash))
    record, payload_bytes, signature = _decode(record_bytes, max_bytes)
    public_key = public_key_for(record.src)
    if public_key is None:
        raise RecordError("unknown-device", "no key enrolled for device %r" % record.src, where="payload.src",
                          got=record.src, record=record)
    try:
        check_signature(public_key, payload_bytes, signature, "device %r" % record.src)
    except RecordError as exc:
        exc.record = record
        raise
    _check_genesis(record.seq, record.prev, record)
    if prev_hash is not None and record.prev != prev_hash:
        raise RecordError("broken-chain", "%s epoch %d seq %d: prev is %s, the stored record %d hashes to %s" % (
            record.src, record.epoch, record.seq, record.prev.hex(), record.seq - 1, prev_hash.hex()),
            where="payload.prev", expected=prev_hash.hex(), got=record.prev.hex(), record=record)
    return record
