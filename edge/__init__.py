"""Device runtime shared by kiosks and concentrators (CPython).

``edge.identity`` holds the device key pair, device.json and the trusted hall
key; ``edge.outbox`` the SQLite outbox that commits every record before it is
published. Configuration loading, the MQTT publisher, health figures and the
clock-quality tracker come next. Errors of all of them are one family under
``EdgeError``, re-exported here.
"""

from ._errors import (BadKey, EdgeError, IdentityError, IdentityExists, IdentityMissing, InsecurePermissions,
                      OutboxError, OutboxFull, StoreMismatch)

__all__ = [
    "EdgeError", "IdentityError", "IdentityExists", "IdentityMissing", "InsecurePermissions", "BadKey",
    "OutboxError", "OutboxFull", "StoreMismatch",
]
