"""The reference hall server.

Will receive signed records over MQTT, verify signature and hash chain, store
each record exactly once keyed by ``(src, epoch, seq)``, acknowledge, request
resends for gaps, quarantine what it cannot accept, and serve the hall's KPI
dashboard.
"""

from hall._broker import (
    BrokerConfig,
    BrokerConfigError,
    Device,
    load_devices_file,
    parse_device,
    write_broker_config,
)

__all__ = [
    "BrokerConfig",
    "BrokerConfigError",
    "Device",
    "load_devices_file",
    "parse_device",
    "write_broker_config",
]
