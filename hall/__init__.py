"""The reference hall server.

Receives signed records over MQTT, verifies signature and hash chain, stores
each record exactly once keyed by ``(src, epoch, seq)``, acknowledges, requests
resends for gaps and quarantines what it cannot accept (``hall serve``, in
``hall._serve``, the one module that imports paho; not re-exported here so
that using the store does not import it). The KPI dashboard is to come.
"""

from hall._broker import (
    BrokerConfig,
    BrokerConfigError,
    Device,
    load_devices_file,
    parse_device,
    write_broker_config,
)
from hall._keys import BadKey, KeyFileError, load_hall_key, parse_public_key
from hall._store import SqliteStore, Store, StoreError, open_store

__all__ = [
    "BadKey",
    "KeyFileError",
    "SqliteStore",
    "Store",
    "StoreError",
    "load_hall_key",
    "open_store",
    "parse_public_key",
    "BrokerConfig",
    "BrokerConfigError",
    "Device",
    "load_devices_file",
    "parse_device",
    "write_broker_config",
]
