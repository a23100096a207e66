"""The billing back office's books: a sans-I/O core (no clock, no I/O, no logging).

Accounts hold arrears bills (oldest first) and a prepaid balance. A payment
adds its amount to the balance, then settles whole bills oldest first while
the balance covers them; what is left stays prepaid (P-06).

Invariants:

* Idempotency (promise 5): a payment is keyed by the caller's key. The same
  key with the same account, amount and method returns the first result and
  changes nothing; with anything different it is a 409 conflict. Keys are
  kept for the life of the books (at least a day, as providers do).
* Validate before mutating: every field of a request (and every item of a
  pre-collection batch) is checked before any account changes.
* Account numbers never appear in error messages or replies unmasked,
  except the look-up reply's own ``account`` field; names never leave the
  back office, only a masked form (S-01, K-09).
* ``changes()`` hands the adapter what changed since the last call, so an
  optional SQLite store can persist it in one transaction.
"""

from ._checks import (METHODS, check_account, check_amount, check_choice, check_day, check_key, check_t_ms,
                      check_terminal, hall_day, mask, only_keys, required)
from ._errors import RequestError

_PAYMENT_FIELDS = ("key", "account", "amount_fen", "method", "terminal")
_PRECOLLECTION_FIELDS = ("key", "account", "amount_fen", "collected_t", "receipt", "consent")
MAX_BATCH = 500


def mask_name(name):
    """``"张三丰"`` -> ``"张**"``: the first character, then one star per other character."""
    return name[:1] + "*" * (len(name) - 1) if name else ""


class Ledger:
    """Accounts and postings of the simulated back office.

    Args:
        accounts: checked account dicts (see ``_config.check_account_entry``):
            ``number``, ``name``, ``meter``, ``balance_fen``, ``bills`` (dicts with
            ``id``, ``period``, ``kwh``, ``amount_fen``, ``paid``).
        payments: postings to start with (from a store), in posting order.
    """

    def __init__(self, accounts, payments=()):
        self._accounts = {}
        for account in accounts:
            self._accounts[account["number"]] = _copy_account(account)
        self._payments = {}
        for payment in payments:
            self._payments[payment["key"]] = dict(payment)
        self._next_id = 1 + max((int(p["payment_id"][2:]) for p in self._payments.values()), default=0)
        self._changed_accounts = set()
        self._new_payments = []

    # ---- reading ---------------------------------------------------------------------

    def lookup(self, number):
        """What a kiosk may show about an account.

        Returns:
            dict: ``account`` (the number asked for), ``account_masked``, ``name_masked``,
            ``meter``, ``bills`` (unpaid, oldest first), ``arrears_fen``, ``balance_fen``.

        Raises:
            RequestError: 422 bad account number, 404 unknown account.
        """
        account = self._account(check_account(number))
        bills = [dict(b) for b in account["bills"] if not b["paid"]]
        for b in bills:
            del b["paid"]
        return {"account": number, "account_masked": mask(number), "name_masked": mask_name(account["name"]),
                "meter": account["meter"], "bills": bills, "arrears_fen": sum(b["amount_fen"] for b in bills),
                "balance_fen": account["balance_fen"]}

    def payment(self, key):
        """The posting made under a key, or None if none was (yet)."""
        check_key(key)
        payment = self._payments.get(key)
        return None if payment is None else dict(payment)

    def statement(self, day, terminal=None):
        """Everything posted on one hall day (optionally by one terminal), for settlement (M-12).

        Returns:
            dict: ``day``, ``terminal``, ``count``, ``amount_fen``, ``totals`` (per method:
            ``method``, ``count``, ``amount_fen``) and ``payments`` in posting order.

        Raises:
            RequestError: 422 bad day or terminal.
        """
        check_day(day)
        if terminal is not None:
            check_terminal(terminal)
        rows = [dict(p) for p in self._payments.values()
                if p["day"] == day and (terminal is None or p["terminal"] == terminal)]
        rows.sort(key=lambda p: int(p["payment_id"][2:]))
        totals = {}
        for p in rows:
            t = totals.setdefault(p["method"], {"method": p["method"], "count": 0, "amount_fen": 0})
            t["count"] += 1
            t["amount_fen"] += p["amount_fen"]
        return {"day": day, "terminal": terminal, "count": len(rows), "amount_fen": sum(p["amount_fen"] for p in rows),
                "totals": [totals[m] for m in sorted(totals)], "payments": rows}

    # ---- writing ---------------------------------------------------------------------

    def post(self, body, now_ms):
        """Post one payment (a request body from a kiosk).

        Args:
            body: ``key``, ``account``, ``amount_fen``, ``method``, ``terminal``.
            now_ms: UTC ms of the posting; its hall day files it in the statement.

        Returns:
            (dict, bool): the posting and whether it is a replay of an earlier one.

        Raises:
            RequestError: 422 bad field, 404 unknown account, 409 key reused for another payment.
        """
        only_keys(body, _PAYMENT_FIELDS, "payment")
        request = {name: required(body, name, "payment") for name in _PAYMENT_FIELDS}
        check_key(request["key"])
        check_account(request["account"])
        check_amount(request["amount_fen"])
        check_choice(request["method"], "method", METHODS)
        check_terminal(request["terminal"])
        replay = self._replay(request)
        if replay is not None:
            return replay, True
        self._account(request["account"])
        return self._apply(request, now_ms, None), False

    def post_precollections(self, body, now_ms):
        """Post a batch of manual pre-collections (P-02) taken while the back office was down.

        Every item is checked first (fields, consent, accounts, keys); if one is bad,
        nothing is posted and the error names its index. Items whose key was already
        posted with the same content are replays.

        Args:
            body: ``terminal`` and ``items``, each with ``key``, ``account``, ``amount_fen``,
                ``collected_t`` (UTC ms), ``receipt`` (provisional receipt serial, P-05) and
                ``consent`` (must be true).
            now_ms: UTC ms of the posting.

        Returns:
            list of (dict, bool): per item, the posting and whether it was a replay.

        Raises:
            RequestError: 422 bad batch or item, 404 unknown account, 409 reused key.
        """
        only_keys(body, ("terminal", "items"), "pre-collection batch")
        terminal = check_terminal(required(body, "terminal", "pre-collection batch"))
        items = required(body, "items", "pre-collection batch")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise RequestError(422, "bad-field", "items must be a list of 1-%d pre-collections" % MAX_BATCH,
                               field="items")
        requests, seen = [], set()
        for i, item in enumerate(items):
            where = "item %d" % i
            try:
                if not isinstance(item, dict):
                    raise RequestError(422, "bad-field", "must be an object", field="items")
                only_keys(item, _PRECOLLECTION_FIELDS, where)
                request = {name: required(item, name, where) for name in _PRECOLLECTION_FIELDS}
                check_key(request["key"])
                check_account(request["account"])
                check_amount(request["amount_fen"])
                check_t_ms(request["collected_t"], "collected_t")
                if not isinstance(request["receipt"], str) or not 1 <= len(request["receipt"]) <= 64:
                    raise RequestError(422, "bad-field", "receipt must be a text of 1-64 characters",
                                       field="receipt")
                if request["consent"] is not True:
                    raise RequestError(422, "no-consent", "consent must be true: a manual pre-collection needs "
                                                          "the customer's consent (P-02)", field="consent")
                if request["key"] in seen:
                    raise RequestError(422, "duplicate-key", "key %r appears twice in the batch" % request["key"],
                                       field="key")
                seen.add(request["key"])
                request["method"] = "manual"
                request["terminal"] = terminal
                if self._replay(request) is None:
                    self._account(request["account"])
            except RequestError as exc:
                raise RequestError(exc.status, exc.code, "%s: %s" % (where, exc), field=exc.field) from None
            requests.append(request)
        results = []
        for request in requests:
            replay = self._replay(request)
            if replay is not None:
                results.append((replay, True))
            else:
                results.append((self._apply(request, now_ms, request), False))
        return results

    def changes(self):
        """(accounts changed, payments added) since the last call, for a store; then forgets them."""
        accounts = [_copy_account(self._accounts[n]) for n in sorted(self._changed_accounts)]
        payments = self._new_payments
        self._changed_accounts = set()
        self._new_payments = []
        return accounts, payments

    def accounts(self):
        """Copies of every account, full detail (for the store and tests; never served)."""
        return [_copy_account(a) for a in self._accounts.values()]

    # ---- inside ----------------------------------------------------------------------

    def _account(self, number):
        account = self._accounts.get(number)
        if account is None:
            raise RequestError(404, "unknown-account", "no account %s" % mask(number), field="account")
        return account

    def _replay(self, request):
        """The earlier posting under this key if it matches; None if the key is new; 409 otherwise."""
        earlier = self._payments.get(request["key"])
        if earlier is None:
            return None
        for name in ("account", "amount_fen", "method"):
            if earlier[name] != request[name]:
                if name == "account":
                    got, was = mask(request[name]), earlier["account_masked"]
                else:
                    got, was = request[name], earlier[name]
                raise RequestError(409, "idempotency-conflict",
                                   "key %r was already used for a payment with %s %s; this request has %s: use a "
                                   "new key for a new payment" % (request["key"], name, was, got), field=name)
        return dict(earlier)

    def _apply(self, request, now_ms, precollection):
        account = self._accounts[request["account"]]
        credit = account["balance_fen"] + request["amount_fen"]
        settled = []
        for bill in account["bills"]:
            if not bill["paid"] and bill["amount_fen"] <= credit:
                credit -= bill["amount_fen"]
                bill["paid"] = True
                settled.append(bill["id"])
            elif not bill["paid"]:
                break      # oldest first: a later bill is never settled before an older one
        account["balance_fen"] = credit
        payment = {
            "key": request["key"], "payment_id": "BO%08d" % self._next_id, "account": request["account"],
            "account_masked": mask(request["account"]), "amount_fen": request["amount_fen"],
            "method": request["method"], "terminal": request["terminal"], "posted_t": now_ms,
            "day": hall_day(now_ms), "bills_settled": settled,
            "arrears_fen_after": sum(b["amount_fen"] for b in account["bills"] if not b["paid"]),
            "balance_fen_after": credit, "precollected": precollection is not None,
            "collected_t": precollection["collected_t"] if precollection else None,
            "receipt": precollection["receipt"] if precollection else None,
        }
        self._next_id += 1
        self._payments[payment["key"]] = payment
        self._changed_accounts.add(account["number"])
        self._new_payments.append(dict(payment))
        return dict(payment)


def public_payment(payment):
    """A posting as served over HTTP: the full account number left out."""
    out = dict(payment)
    out.pop("account", None)
    return out


def _copy_account(account):
    copy = dict(account)
    copy["bills"] = [dict(b) for b in account["bills"]]
    return copy
