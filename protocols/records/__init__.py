"""The signed record envelope every device report travels in, and the hall's control messages.

Public API (stable; other packages call only this):

* ``encode_record(signing_key, *, src, epoch, seq, prev, t_ms, tq, kind, body, v=1) -> bytes``;
* ``verify_record(record_bytes, public_key_for, prev_hash=None, max_bytes=MAX_RECORD_BYTES) -> Record``;
* ``decode_unverified(record_bytes) -> Record`` (structure only, for quarantine logs);
* ``record_hash(record_bytes) -> bytes``; ``Record``; ``GENESIS_PREV``;
  ``MAX_RECORD_BYTES``; ``TQ_SOURCES``;
* ``KINDS`` (name -> ``Kind``: billing, droppable, producers, body schemas);
* ``encode_control(signing_key, *, hall, device, kind, fields, t_ms, v=1) -> bytes``,
  ``verify_control(data, hall_public_key, device=None, *, hall=None) -> Control``,
  ``Control``, ``CONTROLS``, ``MAX_CONTROL_BYTES``;
* ``RecordError`` with ``.reason`` in ``REASONS``.

A record is a COSE_Sign1 message (RFC 9052) signed with Ed25519 over a
deterministic-CBOR payload (RFC 8949 §4.2.1). Sans I/O: keys and times are
passed in; nothing here reads a clock, a file or a socket. The byte-level
specification, with a worked example, is docs/records.md.
"""

from ._control import CONTROLS, MAX_CONTROL_BYTES, Control, encode_control, verify_control
from ._errors import REASONS, RecordError
from ._kinds import KINDS, Kind
from ._record import (GENESIS_PREV, MAX_RECORD_BYTES, TQ_SOURCES, Record, decode_unverified, encode_record,
                      record_hash, verify_record)

__all__ = [
    "CONTROLS", "Control", "GENESIS_PREV", "KINDS", "Kind", "MAX_CONTROL_BYTES", "MAX_RECORD_BYTES", "REASONS",
    "Record", "RecordError", "TQ_SOURCES", "decode_unverified", "encode_control", "encode_record",
    "record_hash", "verify_control", "verify_record",
]
