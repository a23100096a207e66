"""Mosquitto configuration for one hall: CA, certificates, CRL, ACL and ``mosquitto.conf``.

``write_broker_config`` writes a directory that ``mosquitto -c DIR/mosquitto.conf``
runs as is; re-running it adds devices, revokes them, or changes settings, and
never replaces the CA. See docs/broker.md.
"""

from protocols.topics import DEVICE_KINDS

from hall._broker._errors import BrokerConfigError
from hall._broker._inputs import Device, check_id, load_devices_file, parse_device
from hall._broker._ready import wait_for_tls
from hall._broker._render import device_grants, hall_server_grants
from hall._broker._result import BrokerConfig, ClientFiles
from hall._broker._write import DEFAULT_DAYS, DEFAULT_HALL_SERVER, write_broker_config

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_HALL_SERVER",
    "DEVICE_KINDS",
    "BrokerConfig",
    "BrokerConfigError",
    "ClientFiles",
    "Device",
    "check_id",
    "device_grants",
    "hall_server_grants",
    "load_devices_file",
    "parse_device",
    "wait_for_tls",
    "write_broker_config",
]
