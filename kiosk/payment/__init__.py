"""Self-payment at the kiosk: clients of the billing back office and the payment providers.

So far the HTTP clients (``_clients``); the payment intent engine (never
charged twice across crashes, manual pre-collection, receipts) will be built
on them. Every write is keyed; every failure is either ``NotDone`` (nothing
happened) or ``OutcomeUnknown`` (resolve by key later). Account numbers only
ever reach logs and error texts through ``mask_account``.
"""

from ._clients import (METHODS, AccountInfo, AlreadyPaid, BackOfficeClient, Bill, IdempotencyConflict, NotDone,
                       Order, OutcomeUnknown, PaymentServiceError, PreCollection, Posting, ProviderClient, Refund,
                       Refused, Unavailable, Unreachable, mask_account)

__all__ = [
    "AccountInfo", "AlreadyPaid", "BackOfficeClient", "Bill", "IdempotencyConflict", "METHODS", "NotDone", "Order",
    "OutcomeUnknown", "PaymentServiceError", "PreCollection", "Posting", "ProviderClient", "Refund", "Refused",
    "Unavailable", "Unreachable", "mask_account",
]
