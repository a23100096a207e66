"""Hypothesis properties of protocols.records (STYLE.md "Tests").

* random valid bodies of every kind, drawn from the kind's own schema,
  round-trip through encode_record -> verify_record;
* random bytes, random CBOR, and valid records mutated by flipping,
  inserting, deleting or truncating bytes only ever raise RecordError, and
  a mutated record is never accepted (promise 3: an altered record is never
  stored as valid);
* the same for control messages.
"""

import math

import cbor2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocols.records import (CONTROLS, GENESIS_PREV, KINDS, TQ_SOURCES, RecordError, decode_unverified,
                               encode_control, encode_record, record_hash, verify_control, verify_record)
from protocols.records import _schema as S
from protocols.records import _schema_open as O
from test_records import DEVICE_KEY, HALL_KEY, KEYS, SRC, control, make
from test_records_reasons import sign

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ints(lo, hi):
    # Mostly small numbers near the bottom of the range, so cross-field rules
    # (ordering, sums) hold often enough; sometimes anything in range.
    return st.one_of(st.integers(lo, min(hi, lo + 1000)), st.integers(lo, hi))


def strategy(schema):
    """A hypothesis strategy for values that ``schema`` accepts."""
    if isinstance(schema, S.Int):
        return _ints(schema.lo, schema.hi)
    if isinstance(schema, S.Num):
        lo, hi = schema.lo, schema.hi
        return st.one_of(_ints(int(math.ceil(lo)), int(math.floor(hi))),
                         st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    if isinstance(schema, S.Text):
        if schema.choices:
            return st.sampled_from(schema.choices)
        if schema.pattern:
            return st.from_regex(schema.pattern, fullmatch=True).filter(
                lambda t: schema.min_len <= len(t) <= schema.max_len)
        return st.text(min_size=schema.min_len, max_size=min(schema.max_len, 40))
    if isinstance(schema, S.Bytes):
        if schema.size is not None:
            return st.binary(min_size=schema.size, max_size=schema.size)
        return st.binary(max_size=min(schema.max_len, 40))
    if isinstance(schema, S.Bool):
        return st.booleans()
    if schema is S.NULL:
        return st.none()
    if isinstance(schema, S.Union):
        return st.one_of([strategy(alt) for alt in schema.alternatives])
    if isinstance(schema, S.List):
        return st.lists(strategy(schema.item), min_size=schema.min_items, max_size=min(schema.max_items, 5))
    if isinstance(schema, S.Map):
        required = {n: strategy(t) for n, t in schema.fields.items() if n in schema.required}
        optional = {n: strategy(t) for n, t in schema.fields.items() if n not in schema.required}
        maps = st.fixed_dictionaries(required, optional=optional)
        if schema.cross_check is not None:
            maps = maps.filter(lambda m: not schema.cross_check(m))
        return maps
    if isinstance(schema, O.TextMap):
        return st.dictionaries(strategy(schema.key), strategy(schema.value), max_size=min(schema.max_items, 4))
    if isinstance(schema, O.AnyValue):
        scalars = st.one_of(st.none(), st.booleans(), st.integers(S.INT64_MIN, S.INT64_MAX),
                            st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                            st.binary(max_size=20))
        values = scalars
        for _ in range(schema.depth):
            values = st.one_of(scalars, st.lists(values, max_size=3),
                               st.dictionaries(st.text(max_size=8), values, max_size=3))
        return values
    raise AssertionError("no strategy for %r" % (schema,))


def normal(value):
    """Tuples read back as lists; everything else as it was."""
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


KIND_BODIES = st.sampled_from(sorted(KINDS)).flatmap(
    lambda name: st.tuples(st.just(name), strategy(KINDS[name].schema(1))))
TQS = st.sampled_from(TQ_SOURCES).flatmap(
    lambda src: st.fixed_dictionaries({"src": st.just(src),
                                       "err_ms": st.none() if src == "none" else st.integers(0, 2 ** 31 - 1)}))


@FAST
@given(kind_body=KIND_BODIES, tq=TQS, epoch=st.integers(1, 2 ** 63 - 1), seq=st.integers(1, 2 ** 63 - 1),
       t_ms=st.integers(0, 2 ** 63 - 1), prev=st.binary(min_size=32, max_size=32))
def test_random_valid_records_round_trip(kind_body, tq, epoch, seq, t_ms, prev):
    kind, body = kind_body
    prev = GENESIS_PREV if seq == 1 else prev
    assume(seq == 1 or prev != GENESIS_PREV)
    data = encode_record(DEVICE_KEY, src=SRC, epoch=epoch, seq=seq, prev=prev, t_ms=t_ms, tq=tq, kind=kind,
                         body=body)
    record = verify_record(data, KEYS.get, prev_hash=prev if seq > 1 else None)
    assert (record.kind, record.epoch, record.seq, record.prev, record.t_ms, record.tq) == (
        kind, epoch, seq, prev, t_ms, tq)
    assert record.body == normal(body)
    assert record.hash == record_hash(data)
    # re-encoding what was read gives the same bytes
    assert encode_record(DEVICE_KEY, src=SRC, epoch=epoch, seq=seq, prev=prev, t_ms=t_ms, tq=tq, kind=kind,
                         body=record.body) == data


@FAST
@given(kind=st.sampled_from(sorted(CONTROLS)), data=st.data(), t_ms=st.integers(0, 2 ** 63 - 1))
def test_random_valid_controls_round_trip(kind, data, t_ms):
    fields = data.draw(strategy(CONTROLS[kind][1]))
    message = encode_control(HALL_KEY, hall="h1", device=SRC, kind=kind, fields=fields, t_ms=t_ms)
    got = verify_control(message, HALL_KEY.public_key(), SRC)
    assert got.fields == normal(fields) and got.t_ms == t_ms


def _only_record_errors(data, verify=lambda d: verify_record(d, KEYS.get)):
    try:
        verify(data)
    except RecordError:
        return False
    return True


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_record_error(data):
    assert not _only_record_errors(data)
    assert not _only_record_errors(data, lambda d: verify_control(d, HALL_KEY.public_key()))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_after_a_cose_prefix_only_raise_record_error(tail):
    assert not _only_record_errors(bytes.fromhex("d28443a10127a0") + tail)


VALID = [make(kind) for kind in sorted(KINDS)]
VALID_CONTROLS = [control(kind) for kind in sorted(CONTROLS)]

mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10 ** 6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10 ** 6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10 ** 6), st.integers(1, 8)),
    st.tuples(st.just("truncate"), st.integers(0, 10 ** 6), st.just(0)),
)


def mutate(data, ops):
    out = bytearray(data)
    for op, where, arg in ops:
        i = where % (len(out) + 1)
        if op == "flip" and out:
            out[i % len(out)] ^= arg
        elif op == "insert":
            out[i:i] = bytes([arg])
        elif op == "delete":
            del out[i:i + arg]
        elif op == "truncate":
            del out[i:]
    return bytes(out)


@FUZZ
@given(index=st.integers(0, len(VALID) - 1), ops=st.lists(mutations, min_size=1, max_size=4))
def test_mutated_records_are_never_accepted(index, ops):
    original = VALID[index]
    mutated = mutate(original, ops)
    assume(mutated != original)
    accepted = _only_record_errors(mutated)
    assert not accepted, "a mutated record verified: %s" % mutated.hex()
    # decoding without a signature check must not crash either
    try:
        decode_unverified(mutated)
    except RecordError:
        pass


@FUZZ
@given(index=st.integers(0, len(VALID_CONTROLS) - 1), ops=st.lists(mutations, min_size=1, max_size=4))
def test_mutated_controls_are_never_accepted(index, ops):
    original = VALID_CONTROLS[index]
    mutated = mutate(original, ops)
    assume(mutated != original)
    assert not _only_record_errors(mutated, lambda d: verify_control(d, HALL_KEY.public_key(), SRC))


cbor_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(), st.text(max_size=12),
              st.binary(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=6), st.integers(-5, 30)), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.one_of(cbor_values, st.dictionaries(st.sampled_from(
    ["v", "src", "epoch", "seq", "prev", "t", "tq", "kind", "body", "x"]), cbor_values, max_size=10)))
def test_signed_random_payloads_only_raise_record_error_or_are_fully_valid(payload):
    """Correctly signed, so only the payload checks stand between the bytes and acceptance."""
    data = sign(cbor2.dumps(payload, canonical=True))
    try:
        record = verify_record(data, KEYS.get)
    except RecordError:
        return
    # accepted: then it is exactly what encode_record would have made
    assert encode_record(DEVICE_KEY, src=record.src, epoch=record.epoch, seq=record.seq, prev=record.prev,
                         t_ms=record.t_ms, tq=record.tq, kind=record.kind, body=record.body, v=record.v) == data
