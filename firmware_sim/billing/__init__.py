"""The simulated billing back office: accounts, arrears bills, postings, statements.

A real HTTP service on loopback (Starlette served by uvicorn) that a kiosk
looks accounts up in and posts payments to, with idempotency keys, manual
pre-collection reconciliation (P-02), a per-day statement (M-12) and
injected faults, including the one that matters most: a payment applied
whose reply is lost (promise 5).

Public API:

* ``BackOffice(accounts, db_path=None, host, port=0)``: ``start()``/``stop()`` or a
  context manager; ``url``; ``set_fault(kind, **params)``/``clear_fault(kind)``;
  ``payment(key)``, ``lookup(number)``, ``statement(day)`` for tests.
* ``Ledger``: the sans-I/O books behind it.
* ``load_accounts(path)``, ``check_accounts(entries)``; ``sample_accounts_path()``.
* ``FaultPlan``, ``GENERIC_KINDS``, ``HttpService`` (shared with ``firmware_sim.payment``).
* ``mask``: how the simulators show account numbers.
* Errors: ``ServiceSimError`` > ``ConfigError``, ``FaultError``, ``RequestError``, ``ServiceStartError``.

Nothing of the project outside ``firmware_sim`` is imported.
"""

import importlib.resources

from ._app import BackOffice
from ._checks import METHODS, hall_day, mask
from ._config import check_accounts, load_accounts
from ._errors import ConfigError, FaultError, RequestError, ServiceSimError, ServiceStartError
from ._faults import GENERIC_KINDS, FaultPlan
from ._http import HttpService
from ._ledger import Ledger


def sample_accounts_path():
    """Path of the packaged sample accounts file (``firmware_sim/samples/accounts.toml``)."""
    return str(importlib.resources.files("firmware_sim") / "samples" / "accounts.toml")


__all__ = [
    "BackOffice", "ConfigError", "FaultError", "FaultPlan", "GENERIC_KINDS", "HttpService", "Ledger", "METHODS",
    "RequestError", "ServiceSimError", "ServiceStartError", "check_accounts", "hall_day", "load_accounts", "mask",
    "sample_accounts_path",
]
