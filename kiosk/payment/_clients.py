"""The kiosk's HTTP clients for the billing back office and the payment providers.

What they promise the payment intent engine built on them (promise 5):

* Every write carries a key the caller made and stored first: the payment
  key (back office) or the merchant order number / refund number
  (providers). Repeating a write with the same key is always safe: the
  service returns the first result and never applies it twice.
* A write either returns the service's result, or raises one of two kinds
  of error, and only two:

  - ``NotDone``: the service certainly did nothing (the connection was
    never made, the request was refused with a 4xx, or the service said
    503). The caller may give up, or retry with the same key.
  - ``OutcomeUnknown``: the request may have been applied (a timeout after
    it was sent, a dropped connection, a 500/502/504, a reply we cannot
    read). The caller must keep the intent open and resolve it later: query
    by key (``find_payment``, ``query_order``), post again with the same
    key, or ``close_order`` (a 409 ``AlreadyPaid`` then proves the money moved).

* A query that returns None means "not applied as of now". A request still
  in flight (a slow service) may be applied later, which is why resolution
  re-posts with the same key or closes the order rather than trusting one
  empty query.

Account numbers are masked (``mask_account``) in every log line and every
exception message, including texts that come back from a service (S-01, K-09).
"""

import logging
import re
from dataclasses import dataclass, field

import httpx

log = logging.getLogger("kiosk.payment")

_KEY_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
_ACCOUNT_RE = re.compile(r"[0-9]{6,20}\Z")
MAX_FEN = 10 ** 11
METHODS = ("cash", "card", "qr", "bank", "manual")


def mask_account(number):
    """Mask an account number for display and logs: stars, then the last 4 characters.

    ``"3100001201"`` -> ``"******1201"``; 4 characters or fewer become ``"****"``. The
    result matches the payment record's ``account_masked`` field.

    Args:
        number: the account number (any value; it is shown as text).

    Returns:
        str
    """
    text = str(number)
    if len(text) <= 4:
        return "*" * max(len(text), 4)
    return "*" * (len(text) - 4) + text[-4:]


# ---- errors --------------------------------------------------------------------------------


class PaymentServiceError(Exception):
    """Base of the client errors.

    Attributes:
        service: "billing", "card", "qr", ... (the client's name).
        operation: what was asked ("post_payment", "create_order", ...).
        key: the idempotency key or order number involved, or None.
        status: the HTTP status received, or None if no reply came.
        code: the service's error code ("unknown-account", ...), or None.
    """

    def __init__(self, message, service=None, operation=None, key=None, status=None, code=None):
        super().__init__(message)
        self.service = service
        self.operation = operation
        self.key = key
        self.status = status
        self.code = code


class NotDone(PaymentServiceError):
    """The service certainly did not apply the request."""


class Unreachable(NotDone):
    """No connection could be made (refused, no route, connect timeout): nothing was sent."""


class Unavailable(NotDone):
    """The service answered 503: it is up but did nothing."""


class Refused(NotDone):
    """The service refused the request (4xx); ``code`` and ``field`` say why. Also raised
    before sending when the request is malformed (``status`` None)."""

    def __init__(self, message, field=None, **kw):
        super().__init__(message, **kw)
        self.field = field


class IdempotencyConflict(Refused):
    """409: the key was already used for a different request (another amount, account or method)."""


class AlreadyPaid(Refused):
    """409 on ``close_order``: the order is paid (or pending confirmation) and cannot be closed."""


class OutcomeUnknown(PaymentServiceError):
    """The request may or may not have been applied; resolve it by key later."""


# ---- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bill:
    id: str
    period: str
    kwh: float
    amount_fen: int


@dataclass(frozen=True)
class AccountInfo:
    """What the back office lets a kiosk show. ``account`` is the full number (not in repr)."""
    account: str = field(repr=False)
    account_masked: str
    name_masked: str
    meter: str
    bills: tuple
    arrears_fen: int
    balance_fen: int


@dataclass(frozen=True)
class Posting:
    """A payment as the back office posted it; ``replayed`` if the key had been posted before."""
    key: str
    payment_id: str
    account_masked: str
    amount_fen: int
    method: str
    terminal: str
    posted_t: int
    day: str
    bills_settled: tuple
    arrears_fen_after: int
    balance_fen_after: int
    precollected: bool
    collected_t: object = None
    receipt: object = None
    replayed: bool = False


@dataclass(frozen=True)
class Order:
    """A provider order. ``status``: waiting, pending, paid, declined, closed or refunded."""
    order_no: str
    channel: str
    amount_fen: int
    status: str
    trade_no: str
    paid_t: object = None
    reason: object = None
    refunded_fen: int = 0
    code_url: object = None
    replayed: bool = False


@dataclass(frozen=True)
class Refund:
    refund_no: str
    order_no: str
    amount_fen: int
    refunded_t: int
    day: str
    replayed: bool = False


@dataclass(frozen=True)
class PreCollection:
    """A manual pre-collection (P-02) taken while the back office was down. ``account`` not in repr."""
    key: str
    account: str = field(repr=False)
    amount_fen: int = 0
    collected_t: int = 0
    receipt: str = ""
    consent: bool = True


# ---- transport -----------------------------------------------------------------------------


class _JsonService:
    """One JSON-over-HTTP service: sends, classifies every failure as NotDone or OutcomeUnknown."""

    def __init__(self, name, base_url, timeout_s, connect_timeout_s, transport=None):
        self.name = name
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
                                   transport=transport, headers={"Accept": "application/json"})

    def call(self, operation, method, path, body=None, key=None, accounts=(), write=False, ok=(200, 201),
             none_on_404=False):
        """Returns (status, reply dict, replayed) or None for a 404 when ``none_on_404``."""
        def scrub(text):
            for number in accounts:
                if number:
                    text = text.replace(str(number), mask_account(number))
            return text

        where = dict(service=self.name, operation=operation, key=key)
        try:
            reply = self.client.request(method, path, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unreachable(scrub("%s %s%s: cannot connect to %s: %s; nothing was sent"
                                    % (self.name, operation, " key %s" % key if key else "", self.client.base_url,
                                       exc)), **where) from exc
        except httpx.TransportError as exc:
            error = OutcomeUnknown if write else Unavailable
            text = ("%s %s%s: no complete reply (%s: %s); %s"
                    % (self.name, operation, " key %s" % key if key else "", type(exc).__name__, exc,
                       "it may have been applied: resolve it by key" if write else "nothing was changed"))
            raise error(scrub(text), **where) from exc
        if none_on_404 and reply.status_code == 404:
            return None
        data = _json(reply)
        if reply.status_code in ok and isinstance(data, dict):
            return reply.status_code, data, reply.headers.get("Idempotent-Replayed") == "true"
        code = data.get("error") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) and isinstance(data.get("message"), str) else \
            reply.text[:200]
        text = scrub("%s %s%s: HTTP %d %s: %s" % (self.name, operation, " key %s" % key if key else "",
                                                  reply.status_code, code or "", message))
        where.update(status=reply.status_code, code=code)
        if reply.status_code in ok:
            # A success status with a body we cannot read: the request was (probably) applied.
            raise (OutcomeUnknown if write else Unavailable)(scrub("%s %s: unreadable reply: %s"
                                                                   % (self.name, operation, reply.text[:200])),
                                                             **where)
        if reply.status_code == 503:
            raise Unavailable(text, **where)
        if 400 <= reply.status_code < 500:
            fld = data.get("field") if isinstance(data, dict) else None
            if reply.status_code == 409 and code == "idempotency-conflict":
                raise IdempotencyConflict(text, field=fld, **where)
            if reply.status_code == 409 and code == "already-paid":
                raise AlreadyPaid(text, field=fld, **where)
            raise Refused(text, field=fld, **where)
        raise (OutcomeUnknown if write else Unavailable)(text, **where)

    def close(self):
        self.client.close()


def _json(reply):
    try:
        return reply.json()
    except ValueError:
        return None


def _build(cls, data, service, operation, key, write, **extra):
    """Make a result object from a reply; a reply missing fields is unreadable."""
    names = [f for f in cls.__dataclass_fields__ if f not in extra]
    try:
        return cls(**{name: data[name] for name in names if name in data}, **extra)
    except (KeyError, TypeError) as exc:
        error = OutcomeUnknown if write else Unavailable
        raise error("%s %s: reply lacks or mangles a field (%s)" % (service, operation, exc), service=service,
                    operation=operation, key=key) from exc


def _check_request(service, operation, key=None, key_name="key", amount_fen=None, account=None, method=None):
    where = dict(service=service, operation=operation, key=key if isinstance(key, str) else None)
    if key is not None and (not isinstance(key, str) or not _KEY_RE.match(key)):
        raise Refused("%s %s: %s must be 1-64 characters of A-Z a-z 0-9 . _ : -, got %r"
                      % (service, operation, key_name, key), field=key_name, **where)
    if amount_fen is not None and (type(amount_fen) is not int or not 1 <= amount_fen <= MAX_FEN):
        raise Refused("%s %s: amount_fen must be an integer 1-%d, got %r" % (service, operation, MAX_FEN, amount_fen),
                      field="amount_fen", **where)
    if account is not None and (not isinstance(account, str) or not _ACCOUNT_RE.match(account)):
        raise Refused("%s %s: account must be 6-20 digits, got %s" % (service, operation, mask_account(account)),
                      field="account", **where)
    if method is not None and method not in METHODS:
        raise Refused("%s %s: method must be one of %s, got %r" % (service, operation, ", ".join(METHODS), method),
                      field="method", **where)


# ---- the back office -----------------------------------------------------------------------


class BackOfficeClient:
    """Client of the billing back office.

    Args:
        base_url: ``http://host:port`` of the back office.
        terminal: this kiosk's id, sent with every posting (1-32 of A-Z a-z 0-9 . _ -).
        timeout_s: read/write timeout; past it a write's outcome is unknown.
        connect_timeout_s: connect timeout; past it nothing was sent.
        transport: an httpx transport (tests may pass one; default: real sockets).
    """

    def __init__(self, base_url, terminal, timeout_s=5.0, connect_timeout_s=2.0, transport=None):
        self.terminal = terminal
        self._http = _JsonService("billing", base_url, timeout_s, connect_timeout_s, transport)

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def lookup(self, account):
        """Arrears and balance of an account.

        Returns:
            AccountInfo

        Raises:
            Refused: bad or unknown account (code ``unknown-account``).
            Unreachable, Unavailable: no answer.
        """
        _check_request("billing", "lookup", account=account)
        _status, data, _r = self._http.call("lookup", "POST", "/accounts/lookup", {"account": account},
                                            accounts=(account,), ok=(200,))
        info = dict(data, bills=tuple(Bill(**b) for b in data.get("bills", ()) if isinstance(b, dict)))
        result = _build(AccountInfo, info, "billing", "lookup", None, False)
        log.info("billing lookup %s: arrears %d fen, balance %d fen, %d bill(s)", result.account_masked,
                 result.arrears_fen, result.balance_fen, len(result.bills))
        return result

    def post_payment(self, key, account, amount_fen, method):
        """Post a payment under an idempotency key (safe to repeat with the same key).

        Returns:
            Posting (``replayed`` True if the key had already been posted).

        Raises:
            IdempotencyConflict: the key was used for a different payment.
            Refused, Unreachable, Unavailable: not posted.
            OutcomeUnknown: maybe posted; resolve with ``find_payment(key)`` or by posting again.
        """
        _check_request("billing", "post_payment", key=key, amount_fen=amount_fen, account=account, method=method)
        log.info("billing post key %s: %d fen to %s by %s", key, amount_fen, mask_account(account), method)
        try:
            status, data, replayed = self._http.call(
                "post_payment", "POST", "/payments", {"key": key, "account": account, "amount_fen": amount_fen,
                                                      "method": method, "terminal": self.terminal},
                key=key, accounts=(account,), write=True)
        except PaymentServiceError as exc:
            log.warning("billing post key %s: %s: %s", key, type(exc).__name__, exc)
            raise
        posting = _posting(data, "post_payment", key, write=True, replayed=replayed)
        log.info("billing posted key %s as %s%s", key, posting.payment_id, " (replay)" if replayed else "")
        return posting

    def find_payment(self, key):
        """The posting under a key, or None if none was posted (as of now).

        Raises:
            Unreachable, Unavailable: no answer (try again later).
        """
        _check_request("billing", "find_payment", key=key)
        found = self._http.call("find_payment", "GET", "/payments/%s" % key, key=key, ok=(200,), none_on_404=True)
        if found is None:
            log.info("billing find key %s: not posted", key)
            return None
        return _posting(found[1], "find_payment", key, write=False)

    def post_precollections(self, items):
        """Post manual pre-collections (P-02) after the back office is back; all or none.

        Args:
            items: ``PreCollection`` objects (each needs ``consent`` True).

        Returns:
            list of Posting, in the order of ``items`` (``replayed`` for keys posted before).

        Raises:
            Refused: a bad item (the message names its index), nothing posted.
            Unreachable, Unavailable: not posted.
            OutcomeUnknown: maybe posted; posting the same batch again is safe.
        """
        items = list(items)
        for item in items:
            _check_request("billing", "post_precollections", key=item.key, amount_fen=item.amount_fen,
                           account=item.account)
        body = {"terminal": self.terminal, "items": [
            {"key": i.key, "account": i.account, "amount_fen": i.amount_fen, "collected_t": i.collected_t,
             "receipt": i.receipt, "consent": i.consent} for i in items]}
        accounts = tuple(i.account for i in items)
        log.info("billing post %d pre-collection(s), %d fen", len(items), sum(i.amount_fen for i in items))
        try:
            _status, data, _r = self._http.call("post_precollections", "POST", "/precollections", body,
                                                accounts=accounts, write=True, ok=(200,))
        except PaymentServiceError as exc:
            log.warning("billing pre-collections: %s: %s", type(exc).__name__, exc)
            raise
        results = data.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise OutcomeUnknown("billing post_precollections: reply has no result per item", service="billing",
                                 operation="post_precollections")
        return [_posting(r, "post_precollections", r.get("key") if isinstance(r, dict) else None, write=True,
                         replayed=bool(r.get("replayed")) if isinstance(r, dict) else False) for r in results]

    def statement(self, day, terminal=None):
        """The back office's postings of one hall day (for settlement, M-12), as a dict.

        Raises:
            Refused: bad day. Unreachable, Unavailable: no answer.
        """
        path = "/statements/%s" % day
        params = "?terminal=%s" % terminal if terminal else ""
        return self._http.call("statement", "GET", path + params, ok=(200,))[1]


def _posting(data, operation, key, write, replayed=False):
    if not isinstance(data, dict):
        raise (OutcomeUnknown if write else Unavailable)("billing %s: reply is not an object" % operation,
                                                         service="billing", operation=operation, key=key)
    data = dict(data, bills_settled=tuple(data.get("bills_settled") or ()))
    data.pop("replayed", None)
    return _build(Posting, data, "billing", operation, key, write, replayed=replayed)


# ---- the providers -------------------------------------------------------------------------


class ProviderClient:
    """Client of one payment provider channel (card terminal or QR code).

    Args:
        base_url: ``http://host:port`` of the provider.
        name: the channel's name in messages and logs ("card", "qr").
        timeout_s, connect_timeout_s, transport: as ``BackOfficeClient``.
    """

    def __init__(self, base_url, name, timeout_s=5.0, connect_timeout_s=2.0, transport=None):
        self.name = name
        self._http = _JsonService(name, base_url, timeout_s, connect_timeout_s, transport)

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def create_order(self, order_no, amount_fen, description="", notify_url=None):
        """Create an order keyed by ``order_no`` (use the payment intent id); safe to repeat.

        Returns:
            Order: card: ``paid``, ``declined`` or ``pending``; qr: ``waiting`` with ``code_url``.

        Raises:
            IdempotencyConflict: the order number exists with another amount.
            Refused, Unreachable, Unavailable: no order was created.
            OutcomeUnknown: maybe created (and charged): ``query_order`` or repeat.
        """
        _check_request(self.name, "create_order", key=order_no, key_name="order_no", amount_fen=amount_fen)
        body = {"order_no": order_no, "amount_fen": amount_fen, "description": description}
        if notify_url is not None:
            body["notify_url"] = notify_url
        log.info("%s create order %s: %d fen", self.name, order_no, amount_fen)
        try:
            _s, data, replayed = self._http.call("create_order", "POST", "/orders", body, key=order_no, write=True)
        except PaymentServiceError as exc:
            log.warning("%s create order %s: %s: %s", self.name, order_no, type(exc).__name__, exc)
            raise
        order = self._order(data, "create_order", order_no, True, replayed)
        log.info("%s order %s is %s%s", self.name, order_no, order.status, " (replay)" if replayed else "")
        return order

    def query_order(self, order_no):
        """The order, or None if the provider never created it (as of now).

        Raises:
            Unreachable, Unavailable: no answer.
        """
        _check_request(self.name, "query_order", key=order_no, key_name="order_no")
        found = self._http.call("query_order", "GET", "/orders/%s" % order_no, key=order_no, ok=(200,),
                                none_on_404=True)
        return None if found is None else self._order(found[1], "query_order", order_no, False)

    def close_order(self, order_no):
        """Cancel an unpaid order so it can never be paid later.

        Returns:
            Order: ``closed`` (or ``declined``, which stays so).

        Raises:
            AlreadyPaid: it is paid or pending: the money moved (query it, or refund).
            Refused: unknown order. Unreachable, Unavailable: not closed.
            OutcomeUnknown: maybe closed: repeat (closing is idempotent).
        """
        _check_request(self.name, "close_order", key=order_no, key_name="order_no")
        _s, data, _r = self._http.call("close_order", "POST", "/orders/%s/close" % order_no, key=order_no,
                                       write=True, ok=(200,))
        return self._order(data, "close_order", order_no, True)

    def refund(self, order_no, refund_no, amount_fen):
        """Refund part or all of a paid order; idempotent by ``refund_no``.

        Returns:
            Refund

        Raises:
            IdempotencyConflict, Refused (not paid, more than is left), Unreachable, Unavailable:
            not refunded. OutcomeUnknown: maybe refunded: repeat with the same refund_no.
        """
        _check_request(self.name, "refund", key=refund_no, key_name="refund_no", amount_fen=amount_fen)
        _check_request(self.name, "refund", key=order_no, key_name="order_no")
        log.info("%s refund %s of order %s: %d fen", self.name, refund_no, order_no, amount_fen)
        _s, data, replayed = self._http.call("refund", "POST", "/orders/%s/refund" % order_no,
                                             {"refund_no": refund_no, "amount_fen": amount_fen}, key=refund_no,
                                             write=True)
        return _build(Refund, data, self.name, "refund", refund_no, True, replayed=replayed)

    def statement(self, day):
        """The provider's statement of one hall day (paid orders, refunds, totals), as a dict."""
        return self._http.call("statement", "GET", "/statements/%s" % day, ok=(200,))[1]

    def _order(self, data, operation, order_no, write, replayed=False):
        data = dict(data)
        data.pop("replayed", None)
        return _build(Order, data, self.name, operation, order_no, write, replayed=replayed)
