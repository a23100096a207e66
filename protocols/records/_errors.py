"""The one exception of the record envelope, and its reason codes.

Every refusal carries a short, stable ``reason`` (a machine code the hall
stores in its quarantine table and tests compare) and a message that says
what was wrong and where. Reasons are listed in the order verification meets
them; the first failing check decides the reason.
"""

# reason -> what it means. The order is the verification order (docs/records.md).
REASONS = {
    "too-large": "the message is longer than the size limit",
    "truncated": "the CBOR ends before the data item is complete",
    "not-cbor": "not one well-formed CBOR data item (bad bytes, invalid UTF-8, too deep, or trailing bytes)",
    "not-cose": "not a tagged COSE_Sign1 of this profile (tag 18, 4-element array, empty unprotected "
                "header, attached payload, 64-byte signature)",
    "bad-protected-header": "the protected header is not exactly {1: -8} (alg EdDSA) encoded as a1 01 27",
    "non-canonical": "the envelope or payload is not in deterministic CBOR (RFC 8949 §4.2.1)",
    "unknown-key": "the payload (or tq) has a key the schema does not define",
    "missing-key": "the payload (or tq) lacks a required key",
    "wrong-type": "a field has the wrong CBOR type (tags and simple values are never allowed)",
    "out-of-range": "a field has the right type but a value outside its range, length or pattern",
    "unknown-kind": "the record or control kind is not known",
    "bad-schema-version": "the kind has no body schema of that version",
    "bad-body": "the body does not follow its kind's schema (the message names the field)",
    "unknown-device": "no public key is enrolled for the source device",
    "bad-signature": "the Ed25519 signature does not verify with the enrolled key",
    "broken-chain": "prev does not hold the hash of the previous record (or seq 1 does not start the chain)",
    "wrong-recipient": "a control message addressed to another device or hall",
}


class RecordError(Exception):
    """Why a record or control message was refused.

    Attributes:
        reason: one of ``REASONS`` (a short stable code, e.g. "bad-signature").
        message: what was wrong, and where.
        where: the field path ("payload.seq", "body.meter", "envelope") or None.
        expected: what was expected there, or None.
        got: what was found, or None.
        record: the decoded but unverified ``Record`` (or ``Control``) when
            decoding got that far (refusals from "unknown-device" on), else
            None; lets the hall file a quarantined item under its source.
    """

    def __init__(self, reason, message, where=None, expected=None, got=None, record=None):
        if reason not in REASONS:
            raise ValueError("unknown record error reason %r" % (reason,))
        super().__init__("%s: %s" % (reason, message))
        self.reason = reason
        self.message = message
        self.where = where
        self.expected = expected
        self.got = got
        self.record = record
