"""Every refusal reason of protocols.records, provoked on purpose with a crafted message.

Crafted messages are built here with cbor2 and cryptography directly and
signed with the right key, so that only the intended check can fail. Each
test also checks that the message says what and where (STYLE.md "Errors").
"""

import cbor2
import pytest

from protocols.records import (GENESIS_PREV, MAX_RECORD_BYTES, RecordError, decode_unverified, encode_control,
                               encode_record, record_hash, verify_control, verify_record)
from test_records import DEVICE_KEY, EXAMPLES, HALL_KEY, KEYS, OTHER_KEY, SRC, T0, TQ, control, make

PROTECTED = b"\xa1\x01\x27"


def payload_of(**changes):
    payload = {"v": 1, "src": SRC, "epoch": 1, "seq": 1, "prev": GENESIS_PREV, "t": T0, "tq": dict(TQ),
               "kind": "reading", "body": dict(EXAMPLES["reading"])}
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value
    return payload


def sign(payload_bytes, key=DEVICE_KEY, protected=PROTECTED, unprotected=None):
    """A COSE_Sign1 with a correct signature over whatever payload bytes are given."""
    tbs = cbor2.dumps(["Signature1", protected, b"", payload_bytes], canonical=True)
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected or {}, payload_bytes, key.sign(tbs)]),
                       canonical=True)


def signed(**changes):
    return sign(cbor2.dumps(payload_of(**changes), canonical=True))


def refused(data, reason, prev_hash=None, keys=KEYS, **kwargs):
    with pytest.raises(RecordError) as info:
        verify_record(data, keys.get, prev_hash=prev_hash, **kwargs)
    assert info.value.reason == reason, info.value
    assert str(info.value).startswith(reason + ": ")
    return info.value


def test_crafting_helpers_make_a_valid_record():
    assert signed() == make()


def test_too_large():
    err = refused(make(), "too-large", max_bytes=100)
    assert "100" in err.message and err.got == len(make())
    refused(b"\xd2" + b"\x00" * MAX_RECORD_BYTES, "too-large")


def test_too_large_is_decided_before_anything_is_decoded():
    refused(b"\xff" * (MAX_RECORD_BYTES + 1), "too-large")


@pytest.mark.parametrize("cut", [0, 1, 2, 7, 100, -1])
def test_truncated(cut):
    data = make()[:cut]
    err = refused(data, "truncated")
    assert err.where == "envelope"


def test_every_prefix_is_truncated_and_trailing_garbage_is_refused():
    """STYLE.md: the whole input, then piece by piece, then with garbage after it."""
    data = make()
    for end in range(len(data)):
        refused(data[:end], "truncated")
    for garbage in (b"\x00", b"\xff", data):
        err = refused(data + garbage, "not-cbor")
        assert "after the end" in err.message


def test_truncated_payload_inside_a_whole_envelope():
    whole = cbor2.dumps(payload_of(), canonical=True)
    err = refused(sign(whole[:-3]), "truncated")
    assert err.where == "payload"


@pytest.mark.parametrize("data", [b"\x1c", b"\xff", b"\x61\xff", b"\xf8\x10", b"\x81" * 40 + b"\x01"])
def test_not_cbor(data):
    refused(data, "not-cbor")


def test_not_cbor_payload():
    err = refused(sign(b"\x62\xc3\x28"), "not-cbor")          # invalid UTF-8
    assert err.where == "payload"


@pytest.mark.parametrize("item, words", [
    ([PROTECTED, {}, b"", b"\x00" * 64], "untagged"),
    (cbor2.CBORTag(98, [PROTECTED, {}, b"", b"\x00" * 64]), "tag 98"),
    (cbor2.CBORTag(18, [PROTECTED, {}, b""]), "4-element"),
    (cbor2.CBORTag(18, {"a": 1}), "4-element"),
    (cbor2.CBORTag(18, [PROTECTED, {}, None, b"\x00" * 64]), "detached"),
    (cbor2.CBORTag(18, [{1: -8}, {}, b"", b"\x00" * 64]), "protected header"),
    (cbor2.CBORTag(18, [PROTECTED, [], b"", b"\x00" * 64]), "unprotected header"),
    (cbor2.CBORTag(18, [PROTECTED, {}, b"", "sig"]), "signature"),
    (cbor2.CBORTag(18, [PROTECTED, {4: b"conc-01"}, b"", b"\x00" * 64]), "unprotected header must be empty"),
    (cbor2.CBORTag(18, [PROTECTED, {}, b"", b"\x00" * 63]), "64 bytes"),
    (7, "untagged"),
])
def test_not_cose(item, words):
    err = refused(cbor2.dumps(item, canonical=True), "not-cose")
    assert words in err.message


@pytest.mark.parametrize("protected", [b"\xa1\x01\x26", b"", b"\xa0", b"\xa2\x01\x27\x04\x41\x00",
                                       b"\xa1\x01\x38\x07", b"\xa1\x01\x27\x00"])
def test_bad_protected_header(protected):
    """Any header but exactly {1: -8}: another alg, empty, extra params, -8 in a longer form, garbage after."""
    err = refused(sign(cbor2.dumps(payload_of(), canonical=True), protected=protected), "bad-protected-header")
    assert "a1 01 27" in err.message


def test_non_canonical_payload_keys_unsorted():
    unsorted = cbor2.dumps(dict(sorted(payload_of().items())))
    err = refused(sign(unsorted), "non-canonical")
    assert err.where == "payload" and "byte 1" in err.message


def test_non_canonical_int_in_a_longer_form():
    canonical = cbor2.dumps(payload_of(), canonical=True)
    longer = canonical.replace(b"\x65epoch\x01", b"\x65epoch\x19\x00\x01")
    assert longer != canonical
    refused(sign(longer), "non-canonical")


def test_non_canonical_indefinite_length_map():
    refused(sign(cbor2.dumps(payload_of(), canonical=True, indefinite_containers=True)), "non-canonical")


def test_non_canonical_duplicate_key():
    canonical = cbor2.dumps(payload_of(), canonical=True)
    # one more entry (a9 -> aa) repeating "v": 1 at the front: duplicates collapse on decoding
    dup = b"\xaa" + b"\x61v\x01" + canonical[1:]
    refused(sign(dup), "non-canonical")


def test_non_canonical_float_in_a_longer_form():
    body = dict(EXAMPLES["reading"], value=1.5)
    canonical = cbor2.dumps(payload_of(body=body), canonical=True)
    longer = canonical.replace(b"\x65value\xf9\x3e\x00", b"\x65value\xfb" + bytes.fromhex("3ff8000000000000"))
    assert longer != canonical
    refused(sign(longer), "non-canonical")


def test_non_canonical_envelope():
    data = make()
    # the payload byte string's length in three bytes instead of two
    n = data[7 + 1]
    assert data[7] == 0x58
    longer = data[:7] + bytes([0x59, 0, n]) + data[9:]
    err = refused(longer, "non-canonical")
    assert err.where == "envelope"


def test_unknown_key():
    err = refused(signed(extra=1), "unknown-key")
    assert "'extra'" in err.message and err.where == "payload"


def test_unknown_key_in_tq():
    err = refused(signed(tq=dict(TQ, drift=1)), "unknown-key")
    assert err.where == "payload.tq"


@pytest.mark.parametrize("key", ["v", "src", "epoch", "seq", "prev", "t", "tq", "kind", "body"])
def test_missing_key(key):
    err = refused(signed(**{key: None}), "missing-key")
    assert repr(key) in err.message


@pytest.mark.parametrize("change, where", [
    ({"seq": "1"}, "payload.seq"), ({"seq": 1.0}, "payload.seq"), ({"seq": True}, "payload.seq"),
    ({"prev": GENESIS_PREV.hex()}, "payload.prev"), ({"src": b"conc-01"}, "payload.src"),
    ({"tq": "ntp"}, "payload.tq"), ({"tq": {"src": "ntp", "err_ms": "20"}}, "payload.tq.err_ms"),
    ({"body": [1]}, "payload.body"), ({"kind": 1}, "payload.kind"), ({"t": None}, None),
])
def test_wrong_type(change, where):
    if change == {"t": None}:
        change = {"t": 1.5}
        where = "payload.t"
    err = refused(signed(**change), "wrong-type")
    assert err.where == where


def test_wrong_type_for_tags_anywhere_in_the_payload():
    """Tags are refused while decoding, before cbor2 builds dates, bignums or shared references."""
    for value, tag in ((cbor2.CBORTag(1, 5), 1), (cbor2.CBORTag(300, 5), 300), (cbor2.CBORTag(55799, 5), 55799),
                       (2 ** 64, 2), (-(2 ** 64) - 1, 3)):
        err = refused(signed(body=dict(EXAMPLES["reading"], value=value)), "wrong-type")
        assert "CBOR tag %d" % tag in err.message and err.where == "payload"
    err = refused(signed(seq=2 ** 64), "wrong-type")                 # a 65-bit int needs a bignum tag
    assert "CBOR tag 2" in err.message
    refused(sign(cbor2.dumps([1, 2], canonical=True)), "wrong-type")


def test_cyclic_payload_from_shared_references_is_refused():
    """Tags 28/29 (value sharing) could make a list that contains itself: never decoded."""
    for cyclic in ("d81c81d81d00", "d81ca1617ad81d00"):
        err = refused(sign(bytes.fromhex(cyclic)), "wrong-type")
        assert "tag 2" in err.message


def test_simple_values_and_non_text_keys_are_wrong():
    for value in (cbor2.CBORSimpleValue(16), cbor2.undefined):
        refused(signed(seq=value), "wrong-type")
        err = refused(signed(body=dict(EXAMPLES["reading"], value=value)), "bad-body")
        assert err.where == "body.value"
    err = refused(sign(cbor2.dumps({**payload_of(), 1: 2}, canonical=True)), "unknown-key")
    assert "1" in err.message


@pytest.mark.parametrize("change, where", [
    ({"epoch": 0}, "payload.epoch"), ({"seq": 0}, "payload.seq"), ({"seq": 2 ** 63}, "payload.seq"),
({"v": 0}, "payload.v"), ({"t": -1}, "payload.t"),
    ({"prev": b"\x00" * 31}, "payload.prev"), ({"src": "Conc-01"}, "payload.src"),
    ({"src": "conc/01"}, "payload.src"), ({"kind": "Reading"}, "payload.kind"),
    ({"tq": {"src": "sundial", "err_ms": 5}}, "payload.tq.src"),
    ({"tq": {"src": "ntp", "err_ms": -1}}, "payload.tq.err_ms"),
    ({"tq": {"src": "none", "err_ms": 5}}, "payload.tq"), ({"tq": {"src": "ntp", "err_ms": None}}, "payload.tq"),
])
def test_out_of_range(change, where):
    err = refused(signed(**change), "out-of-range")
    assert err.where == where


def test_unknown_kind():
    err = refused(signed(kind="weather"), "unknown-kind")
    assert "'weather'" in err.message


def test_bad_schema_version():
    err = refused(signed(v=2), "bad-schema-version")
    assert "reading" in err.message and "2" in err.message


@pytest.mark.parametrize("kind, change, where", [
    ("reading", {"meter": "20231115004"}, "body.meter"),
    ("reading", {"meter": 202311150042}, "body.meter"),
    ("reading", {"std": "2009"}, "body.std"),
    ("reading", {"di": "9010"}, "body"),                                  # 4 digits with std 2007
    ("reading", {"value": float("inf")}, "body.value"),
    ("reading", {"note": "x"}, "body"),
    ("payment", {"account_masked": "6222021234564321"}, "body.account_masked"),   # K-09: never in clear
    ("payment", {"amount_fen": 0}, "body.amount_fen"),
    ("payment", {"amount_fen": 158.3}, "body.amount_fen"),
    ("payment", {"status": "precollected"}, "body"),                      # P-02 needs consent
    ("rating", {"level": 6}, "body.level"),
    ("rating", {"level": 1, "reason": ""}, "body"),                       # reason required
    ("call", {"to_counter": None}, "body"),                               # transfer needs a target
    ("ticket", {"day": "2024-13-01"}, "body.day"),
    ("cycle", {"read": 181}, "body"),
    ("lineloss", {"to_t": T0 - 86400001}, "body"),
    ("event", {"end_t": T0 - 60001}, "body"),
    ("settlement", {"totals": [{"method": "cash", "status": "paid", "count": 1}]}, "body.totals[0]"),
    ("health", {"alarms": "none"}, "body.alarms"),
])
def test_bad_body(kind, change, where):
    body = dict(EXAMPLES[kind])
    for key, value in change.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    err = refused(signed(kind=kind, body=body), "bad-body")
    assert err.where == where
    assert kind + " v1" in err.message


def test_unknown_device():
    err = refused(make(src="conc-99"), "unknown-device")
    assert "'conc-99'" in err.message
    assert err.record is not None and err.record.src == "conc-99"


def test_bad_signature_after_altering_one_payload_byte_and_rewrapping():
    good = cbor2.loads(make())
    protected, unprotected, payload, signature = good.value
    altered = bytearray(payload)
    altered[altered.index(b"\x63seq\x01") + 4] = 0x02              # seq 1 -> 2, still canonical
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, bytes(altered), signature]), canonical=True)
    err = refused(forged, "bad-signature", keys={SRC: KEYS[SRC]})
    assert err.record.seq == 2


def test_bad_signature_by_another_devices_key():
    """conc-02 signs a record claiming to come from conc-01."""
    refused(make(key=OTHER_KEY), "bad-signature")


def test_bad_signature_flipped_bit():
    data = bytearray(make())
    data[-10] ^= 0x40
    refused(bytes(data), "bad-signature")


def test_bad_signature_with_an_unreduced_s():
    """S + L is the same point equation but another byte string: refused (RFC 8032 §5.1.7), so the
    bytes, and the hash, of a valid record cannot be changed."""
    data = make()
    order = 2 ** 252 + 27742317777372353535851937790883648493
    s = int.from_bytes(data[-32:], "little")
    refused(data[:-32] + (s + order).to_bytes(32, "little"), "bad-signature")


def test_broken_chain():
    first = make()
    second = make(seq=2, prev=record_hash(first))
    assert verify_record(second, KEYS.get, prev_hash=record_hash(first)).seq == 2
    err = refused(second, "broken-chain", prev_hash=b"\x00" * 31 + b"\x01")
    assert record_hash(first).hex() in err.message
    assert err.record.seq == 2


def test_broken_chain_at_genesis_is_refused_even_without_prev_hash():
    refused(signed(prev=b"\x01" * 32), "broken-chain")
    refused(signed(seq=2, prev=GENESIS_PREV), "broken-chain")


def test_encode_refuses_the_same_things_before_signing():
    """Validation comes first: with no key at all, bad input still gives RecordError, not TypeError."""
    cases = [
        (dict(src="Conc"), "out-of-range"), (dict(epoch=0), "out-of-range"), (dict(seq="1"), "wrong-type"),
        (dict(kind="weather"), "unknown-kind"), (dict(v=2), "bad-schema-version"),
        (dict(body={"meter": "1"}), "bad-body"), (dict(prev=b"\x01" * 32), "broken-chain"),
        (dict(tq={"src": "ntp"}), "missing-key"), (dict(tq={"src": "ntp", "err_ms": 1, "x": 1}), "unknown-key"),
    ]
    for change, reason in cases:
        args = dict(src=SRC, epoch=1, seq=1, prev=GENESIS_PREV, t_ms=T0, tq=TQ, kind="reading",
                    body=EXAMPLES["reading"])
        args.update(change)
        with pytest.raises(RecordError) as info:
            encode_record(object(), **args)
        assert info.value.reason == reason, (change, info.value)
    with pytest.raises(TypeError):
        encode_record(object(), src=SRC, epoch=1, seq=1, prev=GENESIS_PREV, t_ms=T0, tq=TQ, kind="reading",
                      body=EXAMPLES["reading"])


def test_decode_unverified_skips_key_signature_and_chain_only():
    forged = make(key=OTHER_KEY, src="conc-99", seq=5)
    record = decode_unverified(forged)
    assert record.src == "conc-99" and record.seq == 5
    with pytest.raises(RecordError) as info:
        decode_unverified(signed(extra=1))
    assert info.value.reason == "unknown-key"


# ---- controls ---------------------------------------------------------------

def control_refused(data, reason, key=HALL_KEY, **kwargs):
    with pytest.raises(RecordError) as info:
        verify_control(data, key.public_key(), **kwargs)
    assert info.value.reason == reason, info.value
    return info.value


def test_control_tampering_is_refused():
    data = bytearray(control())
    data[-1] ^= 1
    control_refused(bytes(data), "bad-signature")
    good = cbor2.loads(control())
    protected, _, payload, signature = good.value
    altered = payload.replace(b"\x63seq\x18\x2a", b"\x63seq\x18\x2b")       # ack 42 -> 43
    assert altered != payload
    control_refused(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, altered, signature]), canonical=True),
                    "bad-signature")


def test_control_with_a_wrong_hall_key():
    control_refused(control(key=OTHER_KEY), "bad-signature")


def test_control_for_another_device_or_hall():
    err = control_refused(control(device="conc-02"), "wrong-recipient", device=SRC)
    assert "conc-02" in err.message
    control_refused(control(hall="h2"), "wrong-recipient", device=SRC, hall="h1")


def test_control_reasons_follow_the_record_ones():
    control_refused(control()[:-1], "truncated")
    control_refused(b"\x00" * 20000, "too-large")
    control_refused(control(fields={"epoch": 1, "seq": 1}, t_ms=T0)[1:], "not-cose")
    payload = {"v": 1, "hall": "h1", "device": SRC, "kind": "ack", "t": T0, "body": {"epoch": 1, "seq": 1}}
    control_refused(sign(cbor2.dumps(dict(payload, x=1), canonical=True), key=HALL_KEY), "unknown-key")
    control_refused(sign(cbor2.dumps(dict(payload, kind="reboot"), canonical=True), key=HALL_KEY), "unknown-kind")
    control_refused(sign(cbor2.dumps(dict(payload, v=9), canonical=True), key=HALL_KEY), "bad-schema-version")
    control_refused(sign(cbor2.dumps(dict(payload, body={"epoch": 1}), canonical=True), key=HALL_KEY), "bad-body")
    control_refused(sign(cbor2.dumps(dict(sorted(payload.items()))), key=HALL_KEY), "non-canonical")


@pytest.mark.parametrize("kind, fields", [
    ("resend", {"epoch": 1, "from_seq": 9, "to_seq": 7}),
    ("resend", {"epoch": 0, "from_seq": 1, "to_seq": 1}),
    ("ack", {"epoch": 1, "seq": -1}),
    ("command", {"id": "c1", "name": "read-meter", "args": {"Bad-Key": 1}}),
    ("command", {"id": "c1", "name": "read-meter", "args": {"x": {"y": {"z": [[1]]}}}}),  # 4 deep
    ("command", {"id": "c 1", "name": "read-meter", "args": {}}),
])
def test_bad_control_bodies_are_refused_before_signing(kind, fields):
    with pytest.raises(RecordError) as info:
        encode_control(object(), hall="h1", device=SRC, kind=kind, fields=fields, t_ms=T0)
    assert info.value.reason == "bad-body"


def test_records_and_controls_cannot_stand_for_each_other():
    control_refused(make(), "unknown-key", key=DEVICE_KEY)
    refused(control(key=DEVICE_KEY), "unknown-key")
