"""COSE_Sign1 (RFC 9052 §4.2) with Ed25519, in the one strict profile records use.

The message is ``18([protected, unprotected, payload, signature])``:

* protected: the byte string ``a1 01 27``, i.e. ``{1: -8}`` (alg: EdDSA,
  RFC 9053 §2.2); nothing else, so there is nothing to negotiate;
* unprotected: the empty map ``a0``. A key id would duplicate ``src`` from
  the payload, and unprotected headers are not signed: anything allowed there
  could be changed in transit without breaking the signature, and would
  change the record's bytes and so its hash;
* payload: a byte string (attached, never nil), the deterministic CBOR of the
  payload map;
* signature: 64 bytes, Ed25519 (RFC 8032) over the deterministic CBOR of
  ``Sig_structure = ["Signature1", protected, h'', payload]`` (RFC 9052 §4.4,
  empty external AAD).

Invariant: only one byte string is a valid message for a given payload and
key. The headers are fixed, the envelope must be deterministic CBOR, and
Ed25519 signatures are deterministic and (in OpenSSL) refused when S is not
reduced. So ``record_hash`` names a record, not one of its encodings.
"""

from collections.abc import Mapping

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._cbor import check_deterministic, decode, encode
from ._errors import RecordError

COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
PROTECTED = b"\xa1\x01\x27"          # {1: -8}
SIGNATURE_BYTES = 64
# Bytes a message adds around its payload: tag, array head, protected bstr,
# empty map, payload bstr head (at most 3 bytes below 64 KiB), signature bstr.
MAX_OVERHEAD_BYTES = 1 + 1 + 4 + 1 + 3 + 2 + SIGNATURE_BYTES


def to_be_signed(payload):
    """The bytes Ed25519 signs: deterministic CBOR of the Sig_structure (RFC 9052 §4.4)."""
    return encode(["Signature1", PROTECTED, b"", payload])


def sign1(signing_key, payload):
    """A tagged COSE_Sign1 message carrying ``payload``, signed with ``signing_key``.

    Raises:
        TypeError: ``signing_key`` is not an ``Ed25519PrivateKey``.
    """
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise TypeError("signing_key must be an Ed25519PrivateKey, got %s" % type(signing_key).__name__)
    signature = signing_key.sign(to_be_signed(payload))
    return encode(cbor2.CBORTag(COSE_SIGN1_TAG, [PROTECTED, {}, payload, signature]))


def open_sign1(data, max_bytes):
    """Check the envelope of a message and return ``(payload, signature)``; no signature check yet.

    Order: size, CBOR well-formed (no tag but 18), tag 18, 4-element array,
    element types, protected header, unprotected header, signature length,
    then the whole envelope deterministic with nothing after it.

    Raises:
        RecordError: "too-large", "truncated", "not-cbor", "not-cose",
            "bad-protected-header" or "non-canonical".
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytearray, memoryview)):
            raise RecordError("not-cbor", "a message must be bytes, got %s" % type(data).__name__,
                              where="envelope", expected="bytes", got=type(data).__name__)
        data = bytes(data)
    if len(data) > max_bytes:
        raise RecordError("too-large", "message is %d bytes, the limit is %d" % (len(data), max_bytes),
                          where="envelope", expected=max_bytes, got=len(data))
    if not data:
        raise RecordError("truncated", "message is empty", where="envelope", got=0)
    item = decode(data, "envelope")
    if not isinstance(item, cbor2.CBORTag):
        raise RecordError("not-cose", "envelope: expected COSE_Sign1 tag 18, got untagged %s" % (
            type(item).__name__,), where="envelope", expected=COSE_SIGN1_TAG, got=None)
    if item.tag != COSE_SIGN1_TAG:
        raise RecordError("not-cose", "envelope: expected COSE_Sign1 tag 18, got tag %d" % item.tag,
                          where="envelope", expected=COSE_SIGN1_TAG, got=item.tag)
    parts = item.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:
        got = "%d-element array" % len(parts) if isinstance(parts, (list, tuple)) else type(parts).__name__
        raise RecordError("not-cose", "envelope: COSE_Sign1 must be a 4-element array, got %s" % got,
                          where="envelope", expected="4-element array", got=got)
    protected, unprotected, payload, signature = parts
    for index, (name, value, want) in enumerate((("protected header", protected, bytes),
                                                 ("unprotected header", unprotected, Mapping),
                                                 ("payload", payload, bytes),
                                                 ("signature", signature, bytes))):
        if not isinstance(value, want):
            got = "null (detached payload)" if value is None else type(value).__name__
            raise RecordError("not-cose", "envelope: element %d (%s) must be %s, got %s" % (
                index, name, "a byte string" if want is bytes else "a map", got),
                where="envelope[%d]" % index, expected="bytes" if want is bytes else "map", got=got)
    if protected != PROTECTED:
        raise RecordError("bad-protected-header", "protected header must be a1 01 27 ({1: -8}, alg EdDSA), "
                          "got %s" % (protected.hex(" ") or "empty"), where="envelope[0]",
                          expected=PROTECTED.hex(), got=protected.hex())
    if len(unprotected) != 0:
        keys = ", ".join(sorted(repr(k)[:40] for k in unprotected))
        raise RecordError("not-cose", "unprotected header must be empty (a0) in this profile, got keys %s" % keys,
                          where="envelope[1]", expected="{}", got=keys)
    if len(signature) != SIGNATURE_BYTES:
        raise RecordError("not-cose", "signature must be %d bytes (Ed25519), got %d" % (
            SIGNATURE_BYTES, len(signature)), where="envelope[3]", expected=SIGNATURE_BYTES, got=len(signature))
    check_deterministic(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]), data, "envelope")
    return payload, signature


def check_signature(public_key, payload, signature, who):
    """Verify an Ed25519 signature over the Sig_structure of ``payload``.

    Raises:
        RecordError: "bad-signature".
        TypeError: ``public_key`` is not an ``Ed25519PublicKey``.
    """
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError("public key for %s must be an Ed25519PublicKey, got %s" % (who, type(public_key).__name__))
    try:
        public_key.verify(signature, to_be_signed(payload))
    except InvalidSignature:
        raise RecordError("bad-signature", "Ed25519 signature does not verify with the key of %s" % who,
                          where="envelope[3]") from None
