"""Simulated payment providers (card terminal, QR code) and a banknote acceptor.

The providers are real HTTP services on loopback with the guarantees real
ones give a merchant: idempotency by merchant order number (the kiosk's
payment intent id), query by order number, close, refund, a daily
statement for reconciliation, and injected failures: ``decline``,
``hang`` (charged, reply lost), ``delay_confirm``, ``duplicate_notify``,
plus the generic ``down``, ``slow`` and ``fail`` of the back office.

Public API:

* ``ProviderService(channel="card"|"qr", host, port=0, auto_pay_ms=None)``:
  ``start()``/``stop()`` or a context manager; ``url``; ``set_fault``/``clear_fault``;
  ``customer_pays(order_no)``, ``query(order_no)``, ``statement(day)``; ``notifications``.
* ``Orders``: the sans-I/O core; ``CHANNELS``, ``PROVIDER_FAULT_KINDS``.
* ``CashAcceptor`` and its events ``NoteStacked``, ``NoteReturned``, ``Jammed``,
  ``JamCleared``, ``CassetteFull``, ``CassetteEmptied``; ``RMB_NOTES_FEN``.
"""

from ._app import ProviderService
from ._cash import (RMB_NOTES_FEN, CashAcceptor, CashEvent, CassetteEmptied, CassetteFull, JamCleared, Jammed,
                    NoteReturned, NoteStacked)
from ._orders import CHANNELS, PROVIDER_FAULT_KINDS, Orders

__all__ = [
    "CHANNELS", "CashAcceptor", "CashEvent", "CassetteEmptied", "CassetteFull", "JamCleared", "Jammed",
    "NoteReturned", "NoteStacked", "Orders", "PROVIDER_FAULT_KINDS", "ProviderService", "RMB_NOTES_FEN",
]
