"""The device's status message: a retained birth message and last will on ``hall/{hall}/status/{device}``.

Compact JSON, UTF-8, keys sorted (docs/records.md, "Status messages"):

* online (birth, sent after every CONNACK): ``{"v": 1, "state": "online",
  "device": ..., "device_kind": ..., "epoch": ..., "t": ...}``;
* offline, graceful stop: ``{"v": 1, "state": "offline", "device": ...,
  "why": "stopped", "t": ...}``;
* offline, last will (the broker publishes it when the connection is lost
  without DISCONNECT): ``{"v": 1, "state": "offline", "device": ...,
  "why": "lost"}``. It has no ``t``: it is fixed at CONNECT, long before.

Status is not signed: it says whether a device is connected, nothing the hall
stores as a record, and the broker's ACL lets only the device (and its will)
write its status topic. JSON, not CBOR, so that ``mosquitto_sub`` and a
dashboard read it as it is.
"""

import json

STATUS_VERSION = 1
STATES = ("online", "offline")
WHY = ("stopped", "lost")
_MAX_STATUS_BYTES = 1024


def _dump(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def birth_payload(device, device_kind, epoch, t_ms):
    """The online status: sent retained after every successful connect."""
    return _dump({"v": STATUS_VERSION, "state": "online", "device": device, "device_kind": device_kind,
                  "epoch": epoch, "t": t_ms})


def offline_payload(device, why, t_ms=None):
    """The offline status: ``why`` "stopped" (graceful, with ``t_ms``) or "lost" (the last will, no t)."""
    if why not in WHY:
        raise ValueError("why must be one of %s, got %r" % (", ".join(WHY), why))
    doc = {"v": STATUS_VERSION, "state": "offline", "device": device, "why": why}
    if t_ms is not None:
        doc["t"] = t_ms
    return _dump(doc)


def parse_status(data):
    """Decode a status message.

    Returns:
        The dict.

    Raises:
        ValueError: not a status message of this version (the message says what is wrong).
    """
    if len(data) > _MAX_STATUS_BYTES:
        raise ValueError("status message of %d bytes, at most %d expected" % (len(data), _MAX_STATUS_BYTES))
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("status message is not UTF-8 JSON: %s" % exc) from exc
    if not isinstance(doc, dict):
        raise ValueError("status message is a JSON %s, expected an object" % type(doc).__name__)
    if doc.get("v") != STATUS_VERSION:
        raise ValueError("status message version %r, expected %d" % (doc.get("v"), STATUS_VERSION))
    if doc.get("state") not in STATES:
        raise ValueError("status state %r, expected one of %s" % (doc.get("state"), ", ".join(STATES)))
    if not isinstance(doc.get("device"), str):
        raise ValueError("status message has no device id")
    return doc
