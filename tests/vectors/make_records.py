"""Writes tests/vectors/records.json: ``python tests/vectors/make_records.py``.

Independent of ``protocols.records`` on purpose: every message is assembled
here straight from the specification in docs/records.md with cbor2
(``canonical=True``) and cryptography's Ed25519, so the vectors check the
package against the document, not against itself. Keys are the secret keys
of RFC 8032 §7.1 tests 1 (device ``conc-01``) and 2 (hall ``h1``); Ed25519 is
deterministic, so the file is the same on every run.

Contents: valid records (a chain of three: two readings and a payment) and controls
with every intermediate byte string, and invalid messages, each with the one
reason a verifier must give. Invalid ones are made by editing the valid
payload and signing again, so only the intended check fails.
"""

import hashlib
import json
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

OUT = Path(__file__).resolve().parent / "records.json"
DEVICE_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"   # RFC 8032 test 1
HALL_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"     # RFC 8032 test 2
PROTECTED = bytes.fromhex("a10127")        # {1: -8}
GENESIS = bytes(32)
T0 = 1717200000000                         # 2024-06-01T00:00:00Z

DEVICE = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(DEVICE_SEED))
HALL = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(HALL_SEED))


def public_hex(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def dcbor(value):
    return cbor2.dumps(value, canonical=True)


def to_be_signed(payload_bytes, protected=PROTECTED):
    return dcbor(["Signature1", protected, b"", payload_bytes])


def sign1(key, payload_bytes, protected=PROTECTED):
    signature = key.sign(to_be_signed(payload_bytes, protected))
    return dcbor(cbor2.CBORTag(18, [protected, {}, payload_bytes, signature])), signature


def jsonable(value):
    """Payload values for JSON: bytes become {"hex": ...}."""
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def record_payload(seq, prev, kind, body, t=T0, src="conc-01"):
    return {"v": 1, "src": src, "epoch": 1, "seq": seq, "prev": prev, "t": t,
            "tq": {"src": "ntp", "err_ms": 20}, "kind": kind, "body": body}


READING_1 = {"meter": "202311150042", "di": "00010000", "name": "forward_active_total", "value": 12345.67,
             "unit": "kWh", "std": "2007", "cycle": "2024-06-01", "read_t": T0 - 1500}
READING_2 = {"meter": "202311150042", "di": "02010100", "name": "voltage_a", "value": 220.5,
             "unit": "V", "std": "2007", "cycle": "2024-06-01", "read_t": T0 - 900}
PAYMENT = {"intent": "K01-20240601-0007", "account_masked": "******4321", "amount_fen": 15830,
           "method": "qr", "status": "paid", "provider_ref": "QR8812345"}


def valid_record(name, payload):
    payload_bytes = dcbor(payload)
    record, signature = sign1(DEVICE, payload_bytes)
    return {
        "name": name,
        "payload": jsonable(payload),
        "payload_hex": payload_bytes.hex(),
        "to_be_signed_hex": to_be_signed(payload_bytes).hex(),
        "signature_hex": signature.hex(),
        "record_hex": record.hex(),
        "hash_hex": hashlib.sha256(record).hexdigest(),
    }


def main():
    records = []
    first = record_payload(1, GENESIS, "reading", READING_1)
    records.append(valid_record("reading, seq 1 of epoch 1 (prev = 32 zero bytes)", first))
    first_hash = bytes.fromhex(records[0]["hash_hex"])
    second = record_payload(2, first_hash, "reading", READING_2, t=T0 + 1000)
    records.append(valid_record("reading, seq 2 (prev = hash of seq 1; value as half float)", second))
    second_hash = bytes.fromhex(records[1]["hash_hex"])
    payment = record_payload(3, second_hash, "payment", PAYMENT, t=T0 + 2000, src="conc-01")
    records.append(valid_record("payment, seq 3", payment))

    controls = []
    for kind, fields in (("ack", {"epoch": 1, "seq": 2}),
                         ("resend", {"epoch": 1, "from_seq": 3, "to_seq": 3}),
                         ("command", {"id": "cmd-1", "name": "read-meter",
                                      "args": {"meter": "202311150042", "di": "00010000"}})):
        payload = {"v": 1, "hall": "h1", "device": "conc-01", "kind": kind, "t": T0 + 5000, "body": fields}
        payload_bytes = dcbor(payload)
        message, signature = sign1(HALL, payload_bytes)
        controls.append({"name": kind, "payload": jsonable(payload), "payload_hex": payload_bytes.hex(),
                         "signature_hex": signature.hex(), "control_hex": message.hex()})

    valid = bytes.fromhex(records[0]["record_hex"])
    valid_payload = bytes.fromhex(records[0]["payload_hex"])
    invalid = []

    def bad(name, reason, data, **extra):
        invalid.append(dict({"name": name, "reason": reason, "hex": data.hex()}, **extra))

    def edited(**changes):
        payload = dict(first)
        for key, value in changes.items():
            if value is None:
                del payload[key]
            else:
                payload[key] = value
        return sign1(DEVICE, dcbor(payload))[0]

    bad("empty message", "truncated", b"")
    bad("last byte cut off", "truncated", valid[:-1])
    bad("a byte after the message", "not-cbor", valid + b"\x00")
    bad("reserved additional information 0x1c", "not-cbor", b"\x1c")
    bad("no tag 18", "not-cose", valid[1:])
    bad("tag 98 (COSE_Sign) instead of 18", "not-cose", b"\xd8\x62" + valid[1:])
    bad("non-empty unprotected header (kid)", "not-cose",
        dcbor(cbor2.CBORTag(18, [PROTECTED, {4: b"conc-01"}, valid_payload, DEVICE.sign(to_be_signed(valid_payload))])))
    bad("protected header alg ES256 (-7)", "bad-protected-header",
        sign1(DEVICE, valid_payload, protected=bytes.fromhex("a10126"))[0])
    bad("protected header empty", "bad-protected-header", sign1(DEVICE, valid_payload, protected=b"")[0])
    unsorted = cbor2.dumps(dict(sorted(first.items())))     # keys alphabetical, not deterministic order
    bad("payload keys not in deterministic order", "non-canonical", sign1(DEVICE, unsorted)[0])
    long_int = valid_payload.replace(b"\x63seq\x01", b"\x63seq\x18\x01")
    bad("payload seq 1 encoded in two bytes (18 01)", "non-canonical", sign1(DEVICE, long_int)[0])
    bad("payload as an indefinite-length map", "non-canonical",
        sign1(DEVICE, cbor2.dumps(first, canonical=True, indefinite_containers=True))[0])
    bad("envelope payload length in a longer form", "non-canonical",
        valid.replace(b"\x58" + bytes([len(valid_payload)]), b"\x59\x00" + bytes([len(valid_payload)]), 1))
    bad("unknown payload key", "unknown-key", edited(x=1))
    bad("missing tq", "missing-key", edited(tq=None))
    bad("seq as text", "wrong-type", edited(seq="1"))
    bad("body value as a CBOR tag (epoch time)", "wrong-type",
        edited(body=dict(READING_1, value=cbor2.CBORTag(1, 1717200000))))
    bad("seq 2^64, which needs a bignum (tag 2)", "wrong-type", edited(seq=2 ** 64))
    bad("payload holding a shared reference to itself (tags 28, 29)", "wrong-type",
        sign1(DEVICE, bytes.fromhex("d81c81d81d00"))[0])
    bad("self-described CBOR tag 55799 in front", "not-cose", b"\xd9\xd9\xf7" + valid)
    bad("epoch 0", "out-of-range", edited(epoch=0))
    bad("unknown kind", "unknown-kind", edited(kind="weather"))
    bad("reading body version 2", "bad-schema-version", edited(v=2))
    bad("meter address of 11 digits", "bad-body", edited(body=dict(READING_1, meter="20231115004")))
    bad("body with an unknown field", "bad-body", edited(body=dict(READING_1, note="x")))
    bad("device not enrolled", "unknown-device", edited(src="conc-99"))
    bad("signature by another key", "bad-signature", sign1(HALL, valid_payload)[0])
    flipped = bytearray(valid)
    flipped[-1] ^= 0x01
    bad("last signature byte flipped", "bad-signature", bytes(flipped))
    bad("seq 1 with a non-zero prev", "broken-chain", edited(prev=b"\x01" * 32))
    bad("seq 2 whose prev is not the stored seq 1", "broken-chain",
        edited(seq=2, prev=b"\x02" * 32), prev_hash=records[0]["hash_hex"])

    document = {
        "about": "Records and controls of docs/records.md; made by tests/vectors/make_records.py.",
        "device_seed_hex": DEVICE_SEED,
        "device_public_hex": public_hex(DEVICE),
        "enrolled": {"conc-01": public_hex(DEVICE)},
        "hall_seed_hex": HALL_SEED,
        "hall_public_hex": public_hex(HALL),
        "records": records,
        "controls": controls,
        "invalid": invalid,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print("wrote %s: %d records, %d controls, %d invalid" % (OUT.name, len(records), len(controls), len(invalid)))


if __name__ == "__main__":
    main()
