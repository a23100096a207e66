"""A simulated payment provider (card terminal or QR code) as an HTTP service.

Endpoints (JSON; money in integer fen; errors ``{"error", "message", "field"}``):

=============================== ====== ==============================================
path                            method what
=============================== ====== ==============================================
/health                         GET    ``{"status": "ok", "channel"}``
/orders                         POST   create an order keyed by ``order_no`` (the kiosk's
                                       intent id); card: charges at once; qr: returns a
                                       ``code_url``; 201 new, 200 replay, 409 other amount
/orders/{order_no}              GET    query; 404 ``unknown-order`` if never created
/orders/{order_no}/close        POST   cancel an unpaid order; 409 ``already-paid``
/orders/{order_no}/refund       POST   ``{"refund_no", "amount_fen"}``, idempotent
/statements/{day}               GET    the day's paid orders and refunds (reconciliation)
/sim/orders/{order_no}/pay      POST   the customer pays with the phone (qr; no faults)
/admin/faults                   GET, POST, DELETE: as the back office, plus ``decline``
                                       (count, reason), ``delay_confirm`` (count,
                                       delay_ms), ``duplicate_notify`` (count)
=============================== ====== ==============================================

When an order becomes paid and it has a ``notify_url``, a notifier thread
POSTs ``{"order_no", "trade_no", "channel", "status", "amount_fen",
"paid_t"}`` to it once (twice under ``duplicate_notify``); the merchant must
treat notifications as hints and may receive the same one more than once.
"""

import queue
import threading
import time

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from firmware_sim.billing._app import admin_faults
from firmware_sim.billing._checks import check_key, parse_object
from firmware_sim.billing._errors import RequestError
from firmware_sim.billing._http import HttpService, error_reply, guarded, json_reply

from ._orders import PROVIDER_FAULT_KINDS, Orders

_TICK_S = 0.05
_NOTIFY_TIMEOUT_S = 2.0


class ProviderService:
    """One simulated provider channel served over HTTP, with its notifier.

    Args:
        channel: "card" or "qr".
        host, port: where to listen; port 0 lets the OS choose.
        auto_pay_ms: qr: the simulated customer pays this long after the order is created;
            None: only ``customer_pays`` or ``POST /sim/orders/{no}/pay`` pays.
        clock_ms: returns UTC ms; default the wall clock.
    """

    def __init__(self, channel, host="127.0.0.1", port=0, auto_pay_ms=None, clock_ms=None):
        self.channel = channel
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.http = HttpService(_make_app, host=host, port=port, extra_fault_kinds=PROVIDER_FAULT_KINDS,
                                name="%s provider" % channel)
        self.http.app.state.provider = self
        self.orders = Orders(channel, self.http.faults, auto_pay_ms=auto_pay_ms)
        self.notifications = []          # (order_no, status, delivered: bool), in sending order
        self._outbox = queue.Queue()
        self._stop = threading.Event()
        self._ticker = None

    url = property(lambda self: self.http.url)
    port = property(lambda self: self.http.port)

    def start(self):
        self._stop.clear()
        self.http.start()
        self._ticker = threading.Thread(target=self._run_ticker, daemon=True, name="%s-notifier" % self.channel)
        self._ticker.start()
        return self

    def stop(self):
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(_NOTIFY_TIMEOUT_S * 3)
        self.http.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def set_fault(self, kind, **params):
        """Inject a fault (generic kinds, or decline / delay_confirm / duplicate_notify).
        Returns the stored fault; raises ``FaultError``."""
        return self.http.set_fault(kind, **params)

    def clear_fault(self, kind=None):
        return self.http.clear_fault(kind)

    def faults(self):
        return self.http.active_faults()

    def customer_pays(self, order_no):
        """The simulated customer pays a waiting qr order. Returns the order; raises ``RequestError``."""
        with self.http.lock:
            order, notify = self.orders.pay(order_no, self.clock_ms())
        self._enqueue(notify)
        return order

    def query(self, order_no):
        with self.http.lock:
            self._enqueue(self.orders.tick(self.clock_ms()))
            return self.orders.query(order_no)

    def statement(self, day):
        with self.http.lock:
            return self.orders.statement(day)

    def _enqueue(self, orders):
        for order in orders:
            if order.get("notify_url"):
                self._outbox.put(order)
                if self.http.faults.take("duplicate_notify") is not None:
                    self._outbox.put(order)

    def _run_ticker(self):
        with httpx.Client(timeout=_NOTIFY_TIMEOUT_S) as client:
            while not self._stop.wait(_TICK_S):
                with self.http.lock:
                    self._enqueue(self.orders.tick(self.clock_ms()))
                while True:
                    try:
                        order = self._outbox.get_nowait()
                    except queue.Empty:
                        break
                    self._notify(client, order)

    def _notify(self, client, order):
        body = {k: order[k] for k in ("order_no", "trade_no", "channel", "status", "amount_fen", "paid_t")}
        try:
            reply = client.post(order["notify_url"], json=body)
            delivered = reply.status_code < 300
        except httpx.HTTPError:
            delivered = False      # the merchant must query anyway; a lost notify is normal
        self.notifications.append((order["order_no"], order["status"], delivered))


def _provider(request):
    return request.app.state.provider


async def _health(request):
    p = _provider(request)
    return await guarded(p.http, False, lambda: json_reply({"status": "ok", "channel": p.channel}))


async def _create(request):
    p = _provider(request)
    raw = await request.body()

    def handle():
        order, replayed, notify = p.orders.create(parse_object(raw), p.clock_ms())
        p._enqueue(notify)
        return json_reply(_public(order), status=200 if replayed else 201,
                          headers={"Idempotent-Replayed": "true"} if replayed else None)

    return await guarded(p.http, True, handle)


async def _query(request):
    p = _provider(request)
    order_no = request.path_params["order_no"]

    def handle():
        p._enqueue(p.orders.tick(p.clock_ms()))
        order = p.orders.query(order_no)
        if order is None:
            raise RequestError(404, "unknown-order", "no order %r" % order_no, field="order_no")
        return json_reply(_public(order))

    return await guarded(p.http, False, handle)


async def _close(request):
    p = _provider(request)
    order_no = request.path_params["order_no"]

    def handle():
        p._enqueue(p.orders.tick(p.clock_ms()))
        return json_reply(_public(p.orders.close(order_no)))

    return await guarded(p.http, True, handle)


async def _refund(request):
    p = _provider(request)
    order_no = request.path_params["order_no"]
    raw = await request.body()

    def handle():
        p._enqueue(p.orders.tick(p.clock_ms()))
        refund, replayed = p.orders.refund(order_no, parse_object(raw), p.clock_ms())
        return json_reply(refund, status=200 if replayed else 201,
                          headers={"Idempotent-Replayed": "true"} if replayed else None)

    return await guarded(p.http, True, handle)


async def _statement(request):
    p = _provider(request)
    day = request.path_params["day"]

    def handle():
        p._enqueue(p.orders.tick(p.clock_ms()))
        statement = p.orders.statement(day)
        statement["paid"] = [_public(o) for o in statement["paid"]]
        return json_reply(statement)

    return await guarded(p.http, False, handle)


async def _customer_pays(request):
    p = _provider(request)
    order_no = request.path_params["order_no"]
    try:
        check_key(order_no, "order_no")
        return json_reply(_public(p.customer_pays(order_no)))
    except RequestError as exc:
        return error_reply(exc.status, exc.code, str(exc), exc.field)


def _public(order):
    out = dict(order)
    out.pop("notify_url", None)
    return out


def _make_app(http):
    app = Starlette(routes=[
        Route("/health", _health, methods=["GET"]),
        Route("/orders", _create, methods=["POST"]),
        Route("/orders/{order_no}", _query, methods=["GET"]),
        Route("/orders/{order_no}/close", _close, methods=["POST"]),
        Route("/orders/{order_no}/refund", _refund, methods=["POST"]),
        Route("/statements/{day}", _statement, methods=["GET"]),
        Route("/sim/orders/{order_no}/pay", _customer_pays, methods=["POST"]),
        Route("/admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
    ])
    app.state.http = http
    return app
