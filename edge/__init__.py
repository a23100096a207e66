"""Device runtime shared by kiosks and concentrators (CPython).

``edge.identity`` holds the device key pair, device.json and the trusted hall
key; ``edge.outbox`` the SQLite outbox that commits every record before it is
published; ``edge.publisher`` drains it to the hall's broker. ``DeviceConfig``
(``load_device_config``) reads a device's TOML tables, and ``DeviceRuntime``
opens the three together from it. ``edge.clock`` says how good the device's
time is (the ``tq`` of every record). Errors of all of them are one family under
``EdgeError``, re-exported here.
"""

from ._config import DeviceConfig, load_device_config, parse_device_config, read_toml
from ._errors import (BadKey, ConfigError, EdgeError, IdentityError, IdentityExists, IdentityMissing, InsecurePermissions,
                      OutboxError, OutboxFull, StoreMismatch)
from ._runtime import DeviceRuntime

__all__ = [
    "DeviceConfig", "DeviceRuntime", "load_device_config", "parse_device_config", "read_toml", "ConfigError",
    "EdgeError", "IdentityError", "IdentityExists", "IdentityMissing", "InsecurePermissions", "BadKey",
    "OutboxError", "OutboxFull", "StoreMismatch",
]
