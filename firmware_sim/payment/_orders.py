"""A simulated payment provider's orders: a sans-I/O core (time comes in as ``now_ms``).

Two channels share it. ``card``: a bank card terminal; creating an order
is the charge (the customer's card is read at once), so it ends ``paid`` or
``declined``. ``qr``: a WeChat/Alipay-like code payment; creating an order
returns a code and the order waits until the customer pays with the phone
(``pay``, or automatically after ``auto_pay_ms``), then the provider
notifies the merchant and answers queries with ``paid``.

Order states: ``waiting`` (qr, not paid yet), ``pending`` (charged, bank
confirmation outstanding: ``delay_confirm``), ``paid``, ``declined``,
``closed`` (qr, cancelled by the merchant before payment), ``refunded``
(refunds cover the whole amount; partial refunds keep ``paid``).

Invariants (what real providers guarantee and the kiosk relies on):

* The merchant order number (the kiosk's payment intent id) is the
  idempotency key: creating it again with the same amount returns the same
  order and never charges twice; with another amount it is a 409.
* A closed order can never be paid; closing a paid or pending order is a
  409 ``already-paid``, which is how a merchant that lost a reply learns
  the money moved.
* Refunds are keyed by refund number; they never exceed what was paid.
* Every state change that a notification should report is returned by the
  call that made it (or by ``tick``), so the adapter can send it.
"""

from firmware_sim.billing._checks import (check_amount, check_day, check_key, hall_day, only_keys, required)
from firmware_sim.billing._errors import RequestError

CHANNELS = ("card", "qr")
# Provider-specific faults (the generic down/slow/fail/hang come from FaultPlan).
PROVIDER_FAULT_KINDS = {
    "decline": {"count": (1, 1, 100000), "reason": ("insufficient-funds", "card-expired", "limit-exceeded",
                                                      "risk-control", "wrong-pin")},
    "delay_confirm": {"count": (1, 1, 100000), "delay_ms": (3000, 1, 3600000)},
    "duplicate_notify": {"count": (1, 1, 100000)},
}
_CREATE_FIELDS = ("order_no", "amount_fen", "description", "notify_url")
_REFUND_FIELDS = ("refund_no", "amount_fen")


class Orders:
    """The orders of one provider channel.

    Args:
        channel: "card" or "qr".
        faults: the service's ``FaultPlan`` (for decline, delay_confirm, duplicate_notify).
        auto_pay_ms: qr only: the simulated customer pays this long after the code is shown;
            None: only when told (``pay``).
    """

    def __init__(self, channel, faults, auto_pay_ms=None):
        if channel not in CHANNELS:
            raise ValueError("channel must be card or qr, got %r" % (channel,))
        self.channel = channel
        self.faults = faults
        self.auto_pay_ms = auto_pay_ms
        self._orders = {}
        self._refunds = {}
        self._next_trade = 1

    def create(self, body, now_ms):
        """Create (card: and charge) an order.

        Args:
            body: ``order_no``, ``amount_fen``, optional ``description`` and ``notify_url``.
            now_ms: UTC ms.

        Returns:
            (dict, bool, list): the order, whether it is a replay, orders to notify.

        Raises:
            RequestError: 422 bad field, 409 order number reused with another amount.
        """
        only_keys(body, _CREATE_FIELDS, "order")
        order_no = check_key(required(body, "order_no", "order"), "order_no")
        amount = check_amount(required(body, "amount_fen", "order"))
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > 128:
            raise RequestError(422, "bad-field", "description must be a text of at most 128 characters",
                               field="description")
        notify_url = body.get("notify_url")
        if notify_url is not None and (not isinstance(notify_url, str) or
                                       not notify_url.startswith(("http://", "https://")) or len(notify_url) > 512):
            raise RequestError(422, "bad-field", "notify_url must be an http(s) URL of at most 512 characters",
                               field="notify_url")
        earlier = self._orders.get(order_no)
        if earlier is not None:
            if earlier["amount_fen"] != amount:
                raise RequestError(409, "idempotency-conflict",
                                   "order_no %r already exists with amount_fen %d; this request has %d: a new "
                                   "payment needs a new order number" % (order_no, earlier["amount_fen"], amount),
                                   field="amount_fen")
            return self._view(earlier), True, []
        order = {"order_no": order_no, "channel": self.channel, "amount_fen": amount, "description": description,
                 "notify_url": notify_url, "status": "waiting", "trade_no": "%s%010d" % (self.channel.upper(),
                                                                                          self._next_trade),
                 "created_t": now_ms, "paid_t": None, "confirm_t": None, "pay_t": None, "reason": None,
                 "refunded_fen": 0, "day": None}
        self._next_trade += 1
        self._orders[order_no] = order
        notify = []
        if self.channel == "card":
            notify = self._charge(order, now_ms)
        else:
            order["code_url"] = "simpay://qr/%s" % order["trade_no"]
            if self.auto_pay_ms is not None:
                order["pay_t"] = now_ms + self.auto_pay_ms
        return self._view(order), False, notify

    def pay(self, order_no, now_ms):
        """The customer pays a waiting qr order with the phone (not a merchant call).

        Returns:
            (dict, list): the order and orders to notify.

        Raises:
            RequestError: 404 unknown order, 409 the order is not waiting.
        """
        order = self._order(order_no)
        if order["status"] != "waiting":
            raise RequestError(409, "not-waiting", "order %r is %s, not waiting for payment"
                               % (order_no, order["status"]), field="order_no")
        notify = self._charge(order, now_ms)
        return self._view(order), notify

    def tick(self, now_ms):
        """Advance time: confirmations that came due, auto-payments. Returns orders to notify."""
        notify = []
        for order in self._orders.values():
            if order["status"] == "pending" and order["confirm_t"] <= now_ms:
                order["status"] = "paid"
                order["paid_t"] = order["confirm_t"]
                order["day"] = hall_day(order["paid_t"])
                notify.append(self._view(order))
            elif order["status"] == "waiting" and order["pay_t"] is not None and order["pay_t"] <= now_ms:
                notify.extend(self._charge(order, now_ms))
        return notify

    def query(self, order_no):
        """The order, or None if the provider never created it."""
        check_key(order_no, "order_no")
        order = self._orders.get(order_no)
        return None if order is None else self._view(order)

    def close(self, order_no):
        """Cancel a qr order that is not paid, so it can never be paid later.

        Returns:
            dict: the order (closing a closed or declined order changes nothing).

        Raises:
            RequestError: 404 unknown order, 409 ``already-paid`` (paid, pending or refunded).
        """
        order = self._order(order_no)
        if order["status"] in ("paid", "pending", "refunded"):
            raise RequestError(409, "already-paid", "order %r is %s and cannot be closed; refund it instead"
                               % (order_no, order["status"]), field="order_no")
        if order["status"] == "waiting":
            order["status"] = "closed"
        return self._view(order)

    def refund(self, order_no, body, now_ms):
        """Refund part or all of a paid order, idempotent by ``refund_no``.

        Returns:
            (dict, bool): the refund and whether it is a replay.

        Raises:
            RequestError: 422 bad field or more than is left, 404 unknown order, 409 not paid or
            refund_no reused differently.
        """
        only_keys(body, _REFUND_FIELDS, "refund")
        refund_no = check_key(required(body, "refund_no", "refund"), "refund_no")
        amount = check_amount(required(body, "amount_fen", "refund"))
        order = self._order(order_no)
        earlier = self._refunds.get(refund_no)
        if earlier is not None:
            if earlier["order_no"] != order_no or earlier["amount_fen"] != amount:
                raise RequestError(409, "idempotency-conflict",
                                   "refund_no %r was already used for %d fen of order %r" %
                                   (refund_no, earlier["amount_fen"], earlier["order_no"]), field="refund_no")
            return dict(earlier), True
        if order["status"] not in ("paid", "refunded"):
            raise RequestError(409, "not-paid", "order %r is %s; only a paid order can be refunded"
                               % (order_no, order["status"]), field="order_no")
        left = order["amount_fen"] - order["refunded_fen"]
        if amount > left:
            raise RequestError(422, "over-refund", "refund of %d fen is more than the %d fen left on order %r"
                               % (amount, left, order_no), field="amount_fen")
        order["refunded_fen"] += amount
        if order["refunded_fen"] == order["amount_fen"]:
            order["status"] = "refunded"
        refund = {"refund_no": refund_no, "order_no": order_no, "amount_fen": amount, "refunded_t": now_ms,
                  "day": hall_day(now_ms)}
        self._refunds[refund_no] = refund
        return dict(refund), False

    def statement(self, day):
        """The provider's statement of one hall day: orders paid and refunds made that day.

        Returns:
            dict: ``day``, ``channel``, ``paid`` (orders), ``refunds``, ``paid_fen``,
            ``refunded_fen``, ``net_fen``.
        """
        check_day(day)
        paid = [self._view(o) for o in self._orders.values() if o["paid_t"] is not None and o["day"] == day]
        paid.sort(key=lambda o: (o["paid_t"], o["order_no"]))
        refunds = sorted((dict(r) for r in self._refunds.values() if r["day"] == day),
                         key=lambda r: (r["refunded_t"], r["refund_no"]))
        paid_fen = sum(o["amount_fen"] for o in paid)
        refunded_fen = sum(r["amount_fen"] for r in refunds)
        return {"day": day, "channel": self.channel, "paid": paid, "refunds": refunds, "paid_fen": paid_fen,
                "refunded_fen": refunded_fen, "net_fen": paid_fen - refunded_fen}

    def _charge(self, order, now_ms):
        decline = self.faults.take("decline")
        if decline is not None:
            order["status"] = "declined"
            order["reason"] = decline["reason"]
            return []
        delay = self.faults.take("delay_confirm")
        if delay is not None:
            order["status"] = "pending"
            order["confirm_t"] = now_ms + delay["delay_ms"]
            return []
        order["status"] = "paid"
        order["paid_t"] = now_ms
        order["day"] = hall_day(now_ms)
        return [self._view(order)]

    def _order(self, order_no):
        check_key(order_no, "order_no")
        order = self._orders.get(order_no)
        if order is None:
            raise RequestError(404, "unknown-order", "no order %r" % order_no, field="order_no")
        return order

    @staticmethod
    def _view(order):
        view = dict(order)
        for key in ("pay_t", "confirm_t"):
            view.pop(key, None)
        return view
