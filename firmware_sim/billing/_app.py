"""The simulated billing back office as an HTTP service (Starlette on uvicorn).

Endpoints (JSON in and out; money in integer fen; errors are
``{"error": code, "message": ..., "field": ...}`` with a 4xx/5xx status):

========================== ====== ==================================================
path                       method what
========================== ====== ==================================================
/health                    GET    ``{"status": "ok"}``
/accounts/lookup           POST   ``{"account"}`` -> bills, arrears, balance (the number
                                  goes in the body, never in a URL that a log may keep)
/payments                  POST   post a payment under an idempotency key; 201 new,
                                  200 replay (header ``Idempotent-Replayed: true``),
                                  409 same key for a different payment
/payments/{key}            GET    the posting made under key, 404 ``unknown-key`` if none
/precollections            POST   a batch of manual pre-collections (P-02), all or none
/statements/{day}          GET    postings of one hall day (``?terminal=``), for M-12
/admin/faults              GET, POST, DELETE: list, set (``{"kind", ...}``), clear
                                  (``?kind=``); admin calls ignore faults
========================== ====== ==================================================

503 ``down`` or ``injected-failure`` means nothing was done. A held reply
(``hang``) means the payment was applied but its answer never arrived in
time: the kiosk finds it with ``GET /payments/{key}`` or by posting again
with the same key.
"""

import time

from starlette.applications import Starlette
from starlette.routing import Route

from ._checks import check_key, parse_object
from ._errors import FaultError, RequestError
from ._http import HttpService, error_reply, guarded, json_reply
from ._ledger import Ledger, public_payment
from ._store import LedgerStore


class BackOffice:
    """The billing back office: books, optional SQLite file, HTTP service, faults.

    Use as a context manager or call ``start()`` / ``stop()``.

    Args:
        accounts: checked account dicts (``load_accounts`` / ``check_accounts``).
        db_path: SQLite file to keep the books in; if it already holds accounts, those
            (with every posting and key) are used and ``accounts`` is ignored.
        host, port: where to listen; port 0 lets the OS choose.
        clock_ms: returns UTC ms (a test can pin the hall day); default the wall clock.

    Raises:
        ConfigError: the database cannot be opened.
    """

    def __init__(self, accounts, db_path=None, host="127.0.0.1", port=0, clock_ms=None):
        self.store = LedgerStore(db_path) if db_path is not None else None
        stored_accounts, stored_payments = self.store.load() if self.store else ([], [])
        if stored_accounts:
            self.ledger = Ledger(stored_accounts, stored_payments)
        else:
            self.ledger = Ledger(accounts)
            if self.store:
                self.store.save(self.ledger.accounts(), [])
            self.ledger.changes()
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.http = HttpService(_make_app, host=host, port=port, name="billing back office")
        self.http.app.state.office = self
        self.stats = {"posted": 0, "replayed": 0, "refused": 0}

    url = property(lambda self: self.http.url)
    port = property(lambda self: self.http.port)

    def start(self):
        self.http.start()
        return self

    def stop(self):
        self.http.stop()
        if self.store:
            self.store.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def set_fault(self, kind, **params):
        """Inject a fault: ``down`` (mode 503|refuse, for_ms), ``slow`` (delay_ms), ``fail`` (count,
        status), ``hang`` (count, hang_ms). Returns the stored fault; raises ``FaultError``."""
        return self.http.set_fault(kind, **params)

    def clear_fault(self, kind=None):
        """Remove one fault kind or all; returns how many were removed."""
        return self.http.clear_fault(kind)

    def faults(self):
        return self.http.active_faults()

    # Python views for tests and the demo, under the same lock as the endpoints.

    def payment(self, key):
        """The posting under key (full detail) or None."""
        with self.http.lock:
            return self.ledger.payment(key)

    def lookup(self, number):
        with self.http.lock:
            return self.ledger.lookup(number)

    def statement(self, day, terminal=None):
        with self.http.lock:
            return self.ledger.statement(day, terminal)

    def _persist(self):
        if self.store:
            self.store.save(*self.ledger.changes())
        else:
            self.ledger.changes()


def _office(request):
    return request.app.state.office


async def _health(request):
    return await guarded(_office(request).http, False, lambda: json_reply({"status": "ok"}))


async def _lookup(request):
    office = _office(request)
    raw = await request.body()

    def handle():
        body = parse_object(raw)
        if set(body) != {"account"}:
            raise RequestError(422, "bad-field", "look-up takes exactly one field, account", field="account")
        return json_reply(office.ledger.lookup(body["account"]))

    return await guarded(office.http, False, handle)


async def _post_payment(request):
    office = _office(request)
    raw = await request.body()

    def handle():
        try:
            payment, replayed = office.ledger.post(parse_object(raw), office.clock_ms())
        except RequestError:
            office.stats["refused"] += 1
            raise
        office._persist()
        office.stats["replayed" if replayed else "posted"] += 1
        return json_reply(public_payment(payment), status=200 if replayed else 201,
                          headers={"Idempotent-Replayed": "true"} if replayed else None)

    return await guarded(office.http, True, handle)


async def _get_payment(request):
    office = _office(request)
    key = request.path_params["key"]

    def handle():
        payment = office.ledger.payment(check_key(key))
        if payment is None:
            raise RequestError(404, "unknown-key", "no payment was posted under key %r" % key, field="key")
        return json_reply(public_payment(payment))

    return await guarded(office.http, False, handle)


async def _precollections(request):
    office = _office(request)
    raw = await request.body()

    def handle():
        try:
            results = office.ledger.post_precollections(parse_object(raw), office.clock_ms())
        except RequestError:
            office.stats["refused"] += 1
            raise
        office._persist()
        for _payment, replayed in results:
            office.stats["replayed" if replayed else "posted"] += 1
        return json_reply({"results": [dict(public_payment(p), replayed=r) for p, r in results]})

    return await guarded(office.http, True, handle)


async def _statement(request):
    office = _office(request)
    day = request.path_params["day"]
    terminal = request.query_params.get("terminal")

    def handle():
        statement = office.ledger.statement(day, terminal)
        statement["payments"] = [public_payment(p) for p in statement["payments"]]
        return json_reply(statement)

    return await guarded(office.http, False, handle)


async def admin_faults(request):
    """GET lists, POST sets (``{"kind": ..., params}``), DELETE clears (``?kind=``); never faulted.

    Shared by the back office and the providers: ``request.app.state.http`` is the service.
    """
    http = request.app.state.http
    try:
        if request.method == "GET":
            return json_reply({"faults": http.active_faults()})
        if request.method == "DELETE":
            kind = request.query_params.get("kind")
            return json_reply({"cleared": http.clear_fault(kind), "faults": http.active_faults()})
        body = parse_object(await request.body())
        kind = body.pop("kind", None)
        if not isinstance(kind, str):
            raise RequestError(422, "missing-field", "a fault needs a kind", field="kind")
        if kind == "down" and body.get("mode") == "refuse" and not body.get("for_ms"):
            raise RequestError(422, "bad-field", "down with mode refuse over HTTP needs for_ms: once the port is "
                                                 "closed no HTTP call can reopen it", field="for_ms")
        return json_reply({"fault": http.set_fault(kind, **body)}, status=201)
    except RequestError as exc:
        return error_reply(exc.status, exc.code, str(exc), exc.field)
    except FaultError as exc:
        return error_reply(422, "bad-fault", str(exc), exc.key)


def _make_app(http):
    app = Starlette(routes=[
        Route("/health", _health, methods=["GET"]),
        Route("/accounts/lookup", _lookup, methods=["POST"]),
        Route("/payments", _post_payment, methods=["POST"]),
        Route("/payments/{key}", _get_payment, methods=["GET"]),
        Route("/precollections", _precollections, methods=["POST"]),
        Route("/statements/{day}", _statement, methods=["GET"]),
        Route("/admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
    ])
    app.state.http = http
    return app
