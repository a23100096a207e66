"""protocols.records against tests/vectors/records.json and docs/records.md.

The vectors are made by tests/vectors/make_records.py from the document with
cbor2 and cryptography alone; here the package must produce the same bytes,
accept the valid messages and refuse each invalid one with its reason. The
document must show the worked example exactly, list every reason, and hold
the field table of every body schema as the schemas say.
"""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocols.records import (CONTROLS, KINDS, REASONS, RecordError, encode_control, encode_record, record_hash,
                               verify_control, verify_record)
from protocols.records import _schema as S
from protocols.records._record import PAYLOAD, TQ
from protocols.records._control import CONTROL_PAYLOAD

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "tests" / "vectors" / "records.json").read_text())
DOC = (REPO / "docs" / "records.md").read_text()
DEVICE_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["device_seed_hex"]))
HALL_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["hall_seed_hex"]))
ENROLLED = {src: Ed25519PublicKey.from_public_bytes(bytes.fromhex(h)) for src, h in VECTORS["enrolled"].items()}


def unjson(value):
    if isinstance(value, dict):
        if set(value) == {"hex"}:
            return bytes.fromhex(value["hex"])
        return {k: unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unjson(v) for v in value]
    return value


@pytest.mark.parametrize("vector", VECTORS["records"], ids=lambda v: v["name"])
def test_valid_record_vectors(vector):
    p = unjson(vector["payload"])
    data = encode_record(DEVICE_KEY, src=p["src"], epoch=p["epoch"], seq=p["seq"], prev=p["prev"], t_ms=p["t"],
                         tq=p["tq"], kind=p["kind"], body=p["body"], v=p["v"])
    assert data.hex() == vector["record_hex"]
    assert bytes.fromhex(vector["payload_hex"]) in data
    assert data.endswith(bytes.fromhex(vector["signature_hex"]))
    assert record_hash(data).hex() == vector["hash_hex"]
    record = verify_record(data, ENROLLED.get, prev_hash=None if p["seq"] == 1 else p["prev"])
    assert record.body == p["body"] and record.tq == p["tq"]


def test_vector_records_form_a_chain():
    records = VECTORS["records"]
    for before, after in zip(records, records[1:]):
        assert after["payload"]["prev"]["hex"] == before["hash_hex"]
        verify_record(bytes.fromhex(after["record_hex"]), ENROLLED.get, prev_hash=bytes.fromhex(before["hash_hex"]))


@pytest.mark.parametrize("vector", VECTORS["controls"], ids=lambda v: v["name"])
def test_control_vectors(vector):
    p = vector["payload"]
    data = encode_control(HALL_KEY, hall=p["hall"], device=p["device"], kind=p["kind"], fields=p["body"],
                          t_ms=p["t"], v=p["v"])
    assert data.hex() == vector["control_hex"]
    got = verify_control(data, Ed25519PublicKey.from_public_bytes(bytes.fromhex(VECTORS["hall_public_hex"])),
                         p["device"], hall=p["hall"])
    assert got.fields == p["body"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors(vector):
    prev_hash = bytes.fromhex(vector["prev_hash"]) if "prev_hash" in vector else None
    with pytest.raises(RecordError) as info:
        verify_record(bytes.fromhex(vector["hex"]), ENROLLED.get, prev_hash=prev_hash)
    assert info.value.reason == vector["reason"]


def test_invalid_vectors_cover_every_record_reason_but_size():
    assert {v["reason"] for v in VECTORS["invalid"]} == set(REASONS) - {"too-large", "wrong-recipient"}


# ---- the document ------------------------------------------------------------

def _wrapped_hex(text):
    """The hex digits of each fenced block, joined (the document wraps long hex); info strings skipped."""
    blocks = [block.partition("\n")[2] for block in text.split("```")[1::2]]
    return ["".join(ch for ch in block if ch in "0123456789abcdef") for block in blocks]


def test_document_shows_the_worked_example_exactly():
    example = VECTORS["records"][0]
    blocks = _wrapped_hex(DOC)
    for field in ("record_hex", "payload_hex", "to_be_signed_hex", "signature_hex", "hash_hex"):
        assert any(example[field] == block for block in blocks), field
    assert VECTORS["device_seed_hex"] in DOC and VECTORS["device_public_hex"] in DOC


def test_document_lists_every_reason_in_order():
    positions = [DOC.find("| `%s` |" % reason) for reason in REASONS]
    assert all(p >= 0 for p in positions), [r for r, p in zip(REASONS, positions) if p < 0]
    assert positions == sorted(positions)


def schema_rows(schema, prefix=""):
    """Markdown table rows ``| `field` | type | required |`` for a Map, nested maps flattened."""
    rows = []
    for name, type_ in schema.fields.items():
        path = prefix + name
        need = "yes" if name in schema.required else "no"
        rows.append("| `%s` | %s | %s |" % (path, type_.describe().replace("|", "\\|"), need))
        if isinstance(type_, S.List) and isinstance(type_.item, S.Map):
            rows.extend(schema_rows(type_.item, path + "[]."))
        if isinstance(type_, S.Map):
            rows.extend(schema_rows(type_, path + "."))
    return rows


def all_tables():
    """(title, schema) of every table the document must hold."""
    tables = [("payload", PAYLOAD), ("tq", TQ), ("control payload", CONTROL_PAYLOAD)]
    tables += [("%s v%d" % (name, v), schema) for name, kind in KINDS.items() for v, schema in kind.schemas.items()]
    tables += [("control %s v%d" % (name, v), schema) for name, versions in CONTROLS.items()
               for v, schema in versions.items()]
    return tables


@pytest.mark.parametrize("title, schema", all_tables(), ids=lambda x: x if isinstance(x, str) else "")
def test_document_has_every_schema_table(title, schema):
    for row in schema_rows(schema):
        assert row in DOC, "docs/records.md lacks, for %s, the row\n%s" % (title, row)
    if schema.rule:
        assert schema.rule in DOC, "docs/records.md lacks the rule of %s: %s" % (title, schema.rule)


def test_document_states_each_kinds_storage_class():
    for name, kind in KINDS.items():
        cls = "billing" if kind.billing else "droppable" if kind.droppable else "kept"
        assert "| `%s` | %s | %s |" % (name, cls, ", ".join(kind.producers)) in DOC, name


if __name__ == "__main__":
    # Print the tables for docs/records.md.
    for title, schema in all_tables():
        print("\n#### %s\n\n| Field | Type | Required |\n|---|---|---|" % title)
        print("\n".join(schema_rows(schema)))
        if schema.rule:
            print("\nRule: %s." % schema.rule)
