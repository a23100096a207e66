"""The device runtime: identity, outbox and publisher opened together from a config.

A kiosk or concentrator process makes one ``DeviceRuntime``, appends its
records to ``runtime.outbox`` (each commits before it returns) and lets the
publisher drain them in the background. Everything about delivery (acks,
resends, reconnects, bounds) stays in the outbox and publisher; this class
only wires them up in the right order and takes them down in the reverse one.
"""

import logging

from ._errors import ConfigError
from .identity import load_identity
from .outbox import Limits, Outbox
from .publisher import Publisher

log = logging.getLogger("edge.runtime")


class DeviceRuntime:
    """Open the identity, outbox and publisher that ``config`` describes.

    Args:
        config: an ``edge.DeviceConfig``.
        device_kind: the kind this program is ("concentrator", "kiosk"); the
            identity must be of it.
        clock: ``() -> (t_ms, tq)`` for record times and clock quality
            (default: system time with tq "none").
        on_event: ``(event) -> None`` for outbox and publisher events (alarms,
            connection changes, refused controls), on their threads.
        on_command: ``(control) -> None`` for signed hall commands that pass
            the replay rule.

    Raises:
        ConfigError: the config names a kind other than ``device_kind``.
        IdentityError: the identity is missing, insecure, of another kind, or
            trusts no hall key yet.
        OutboxError: the outbox cannot be opened.
    """

    def __init__(self, config, device_kind, clock=None, on_event=None, on_command=None):
        if config.kind is not None and config.kind != device_kind:
            raise ConfigError("%s: device.kind is %r but this program is a %s"
                              % (config.source or "<config>", config.kind, device_kind),
                              path=config.source, key="device.kind")
        self.config = config
        self.identity = load_identity(str(config.data_dir), device_kind)
        self.identity.require_hall_key()        # before the outbox: fail without touching files
        o = config.outbox
        limits = Limits(max_records=o["max_records"], max_bytes=o["max_bytes"], alarm_at=o["alarm_at"],
                        window=o["window"])
        self.outbox = Outbox(str(config.outbox_path), self.identity, limits, clock=clock, on_event=on_event)
        try:
            host, port = config.broker
            self.publisher = Publisher(self.outbox, self.identity, host, port, tls=config.tls, clock=clock,
                                       on_event=on_event, on_command=on_command, **config.publisher)
        except Exception:
            self.outbox.close()
            raise
        self._started = False

    @property
    def device_id(self):
        return self.identity.device_id

    def start(self):
        """Start publishing in the background."""
        self.publisher.start()
        self._started = True
        return self

    def stop(self, timeout_s=5.0):
        """Stop publishing (offline status, clean disconnect) and close the outbox."""
        try:
            if self._started:
                self.publisher.stop(timeout_s)
        finally:
            self._started = False
            self.outbox.close()

    def figures(self):
        """The publisher's health figures, with the outbox's depth and age in them."""
        return self.publisher.figures()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
