"""What ``write_broker_config`` returns: the paths of everything it wrote."""

import dataclasses
from pathlib import Path

from protocols.topics import DEVICE_KINDS


@dataclasses.dataclass(frozen=True)
class ClientFiles:
    """One MQTT user's certificate: ``kind`` is a device kind or ``"hall-server"``.
    The ``key`` file may be gone once the key has been moved to its device."""

    user: str
    kind: str
    cert: Path
    key: Path
    serial: int
    issued_now: bool


@dataclasses.dataclass(frozen=True)
class BrokerConfig:
    """What ``write_broker_config`` wrote. Paths are those in the output directory."""

    hall: str
    out_dir: Path
    conf: Path
    acl: Path
    manifest: Path
    ca_cert: Path
    ca_key: Path
    crl: Path
    server_cert: Path
    server_key: Path
    data_dir: Path
    port: int
    bind: str
    hosts: tuple
    clients: dict
    revoked_now: tuple
    ca_created: bool

    @property
    def devices(self):
        """id -> kind of every device that may connect."""
        return {u: c.kind for u, c in self.clients.items() if c.kind in DEVICE_KINDS}

    @property
    def hall_servers(self):
        return tuple(u for u, c in self.clients.items() if c.kind == "hall-server")

    def client(self, user):
        """The ``ClientFiles`` of a device id or hall server user; KeyError if unknown."""
        return self.clients[user]

    def summary(self):
        """A JSON-able dict of the configuration (the CLI's ``--json`` output)."""
        return {
            "hall": self.hall,
            "out": str(self.out_dir),
            "conf": str(self.conf),
            "acl": str(self.acl),
            "ca": str(self.ca_cert),
            "crl": str(self.crl),
            "port": self.port,
            "bind": self.bind,
            "hosts": list(self.hosts),
            "ca_created": self.ca_created,
            "clients": [
                {
                    "user": c.user,
                    "kind": c.kind,
                    "cert": str(c.cert),
                    "key": str(c.key) if c.key.exists() else None,
                    "serial": "%x" % c.serial,
                    "issued_now": c.issued_now,
                }
                for c in self.clients.values()
            ],
            "revoked_now": list(self.revoked_now),
        }
