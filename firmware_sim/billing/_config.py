"""The accounts file of the simulated back office (TOML), checked before use.

Layout::

    [[account]]
    number = "3100012345"        # customer number, 6-20 digits, unique
    name = "..."                 # kept in the back office; kiosks see it masked
    meter = "000000000101"       # 12-digit meter address
    balance_fen = 0              # prepaid balance (optional, default 0)

    [[account.bill]]             # arrears bills, oldest first
    period = "2026-09"           # billing month
    kwh = 212.4                  # energy billed (P-03: "电量是_, 电费是_")
    amount_fen = 11150
    id = "..."                   # optional; default "BILL-<period>", unique per account

Every error names the file, the account index and the key, and says what
was expected and what was found; account numbers are shown masked.
"""

import re
import tomllib

from ._checks import ACCOUNT_RE, MAX_FEN, mask
from ._errors import ConfigError

_ACCOUNT_KEYS = ("number", "name", "meter", "balance_fen", "bill")
_BILL_KEYS = ("period", "kwh", "amount_fen", "id")
_METER_RE = re.compile(r"[0-9]{12}\Z")
_PERIOD_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])\Z")
_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,40}\Z")


def load_accounts(path):
    """Read and check an accounts file.

    Returns:
        list of dict: checked accounts (see ``check_accounts``).

    Raises:
        ConfigError: unreadable file, bad TOML, or a bad account (message names file, index, key).
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError("%s: cannot read accounts file: %s" % (path, exc.strerror or exc), path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("%s: not valid TOML: %s" % (path, exc), path=path) from exc
    unknown = sorted(set(data) - {"account"})
    if unknown:
        raise ConfigError("%s: unknown table(s) %s; an accounts file has [[account]] tables"
                          % (path, ", ".join(unknown)), path=path, key=unknown[0])
    try:
        return check_accounts(data.get("account", []))
    except ConfigError as exc:
        exc.path = path
        exc.args = ("%s: %s" % (path, exc.args[0]),)
        raise


def check_accounts(entries):
    """Check account dicts and fill in defaults.

    Returns:
        list of dict: ``number``, ``name``, ``meter``, ``balance_fen``, ``bills`` (each with
        ``id``, ``period``, ``kwh``, ``amount_fen``, ``paid`` False), bills sorted by period.

    Raises:
        ConfigError: a bad or duplicate entry.
    """
    if not isinstance(entries, list):
        raise ConfigError("account must be a list of tables ([[account]])", key="account")
    out, numbers = [], set()
    for i, entry in enumerate(entries):
        account = _check_account(i, entry)
        if account["number"] in numbers:
            raise ConfigError("account %d: number %s appears twice" % (i, mask(account["number"])), index=i,
                              key="number")
        numbers.add(account["number"])
        out.append(account)
    return out


def _check_account(i, entry):
    def fail(key, message):
        raise ConfigError("account %d: %s" % (i, message), index=i, key=key)

    if not isinstance(entry, dict):
        fail(None, "must be a table")
    for key in entry:
        if key not in _ACCOUNT_KEYS:
            fail(key, "unknown key %r; expected %s" % (key, ", ".join(_ACCOUNT_KEYS)))
    number = entry.get("number")
    if not isinstance(number, str) or not ACCOUNT_RE.match(number):
        fail("number", "number must be a text of 6-20 digits, got %s"
             % (mask(number) if isinstance(number, str) else repr(number)))
    name = entry.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        fail("name", "name must be a text of 1-64 characters")
    meter = entry.get("meter")
    if not isinstance(meter, str) or not _METER_RE.match(meter):
        fail("meter", "meter must be a 12-digit address text, got %r" % (meter,))
    balance = entry.get("balance_fen", 0)
    if type(balance) is not int or not 0 <= balance <= MAX_FEN:
        fail("balance_fen", "balance_fen must be an integer 0-%d, got %r" % (MAX_FEN, balance))
    bills, ids = [], set()
    raw_bills = entry.get("bill", [])
    if not isinstance(raw_bills, list):
        fail("bill", "bill must be a list of tables ([[account.bill]])")
    for j, bill in enumerate(raw_bills):
        where = "bill %d" % j
        if not isinstance(bill, dict):
            fail("bill", "%s must be a table" % where)
        for key in bill:
            if key not in _BILL_KEYS:
                fail(key, "%s: unknown key %r; expected %s" % (where, key, ", ".join(_BILL_KEYS)))
        period = bill.get("period")
        if not isinstance(period, str) or not _PERIOD_RE.match(period):
            fail("period", "%s: period must be a month YYYY-MM, got %r" % (where, period))
        kwh = bill.get("kwh")
        if type(kwh) not in (int, float) or not 0 <= kwh <= 1e9:
            fail("kwh", "%s: kwh must be a number 0-1000000000, got %r" % (where, kwh))
        amount = bill.get("amount_fen")
        if type(amount) is not int or not 1 <= amount <= MAX_FEN:
            fail("amount_fen", "%s: amount_fen must be an integer 1-%d, got %r" % (where, MAX_FEN, amount))
        # Not derived from the account number: bill ids reach kiosks and receipts.
        bill_id = bill.get("id", "BILL-%s" % period)
        if not isinstance(bill_id, str) or not _ID_RE.match(bill_id):
            fail("id", "%s: id must be 1-40 characters of A-Z a-z 0-9 . _ -, got %r" % (where, bill_id))
        if bill_id in ids:
            fail("id", "%s: id %r appears twice (give bills of one period their own id)" % (where, bill_id))
        ids.add(bill_id)
        bills.append({"id": bill_id, "period": period, "kwh": float(kwh), "amount_fen": amount, "paid": False})
    bills.sort(key=lambda b: b["period"])
    return {"number": number, "name": name, "meter": meter, "balance_fen": balance, "bills": bills}
