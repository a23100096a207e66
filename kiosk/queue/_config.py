"""The ``[queue]`` table of a kiosk's TOML file: categories, business types,
counters, the priority policy, the no-show rule and the hall's hours.

Parsing is strict and happens once, before the engine exists: every key is
checked (type, range, cross-references such as a counter naming a category
that does not exist) and an error names the file and the full key with what
was expected and what was found. Nothing is half-applied. docs/kiosk.md
("Queue") is the reference, with an example (kiosk/samples/queue.toml).

Defaults follow hall-requirements.md: time limits of 3 minutes for bill
payment and 10 for electricity business with an alarm at 20 (Q-06, K-13),
green channel and VIP before ordinary tickets (Q-10, Q-13), ordinary tickets
aged past 20 minutes served before newer priority ones (open item 1 of the
requirements; the bound is the hall's to set), the hall's local day in
Asia/Shanghai for numbering.
"""

import hashlib
import json
import re
import zoneinfo

from .._toml import read_table
from ._errors import QueueConfigError

CLASSES = ("normal", "green", "vip", "appointment")       # TICKET_V1 priority values
POLICIES = ("ageing", "strict")
REQUEUE = ("none", "back", "keep")
CHANNELS = ("kiosk", "desk", "app")

_BUSINESS = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)?\Z")      # BUSINESS of the record bodies
_PREFIX = re.compile(r"[A-Z]{1,3}\Z")                             # TICKET_NO allows 0-3 letters
_COUNTER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")               # record ID pattern
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\Z")


class Category:
    """A ticket category: its prefix letters (the key) and a display name."""

    __slots__ = ("prefix", "name")

    def __init__(self, prefix, name):
        self.prefix, self.name = prefix, name

    def __repr__(self):
        return "Category(%r, %r)" % (self.prefix, self.name)


class Business:
    """A business type: its code, its category prefix and its times in seconds.

    Attributes:
        code: e.g. ``change.rename`` (hall-requirements.md §1).
        category: the prefix of the category its tickets are numbered in.
        limit_s: the per-transaction target (Q-06: 3 min payment, 10 min business).
        alarm_s: the alarm bound (Q-06: 20 min).
        service_s: the expected service time, used by the wait estimate
            until there is history.
    """

    __slots__ = ("code", "category", "limit_s", "alarm_s", "service_s")

    def __init__(self, code, category, limit_s, alarm_s, service_s):
        self.code, self.category = code, category
        self.limit_s, self.alarm_s, self.service_s = limit_s, alarm_s, service_s

    def __repr__(self):
        return "Business(%r, %r, limit_s=%d)" % (self.code, self.category, self.limit_s)


class Counter:
    """A counter (window): the categories it calls (Q-03) and the priority classes it calls."""

    __slots__ = ("id", "categories", "classes")

    def __init__(self, counter_id, categories, classes):
        self.id, self.categories, self.classes = counter_id, categories, classes

    def __repr__(self):
        return "Counter(%r, %r)" % (self.id, self.categories)


class QueueConfig:
    """The validated ``[queue]`` table. Build it with ``load_config`` or ``QueueConfig.from_dict``.

    Attributes:
        source: where it came from (a file name or "<dict>").
        timezone, tz: the hall's zone name and ``ZoneInfo`` (business day, hours).
        opens_min, closes_min: issuing hours, minutes after local midnight (Q-08, H-01).
        digits: digits of a ticket number ("A001": 3); the daily cap is 10**digits - 1.
        policy: "ageing" or "strict".
        order: priority classes, first called first; "normal" is last.
        ageing_bound_s: with policy "ageing", a ticket that has waited this
            long is called before any ticket that arrived after it.
        desk_only: classes only staff may issue (channel "desk"): eligibility
            for the green channel is checked by a person (Q-10, Q-11).
        recalls: recalls allowed after the first call.
        requeue: what a no-show does: "none" (ends), "back" (waits again
            from now), "keep" (waits again in its first place).
        max_requeues: how often one ticket may be re-queued.
        estimate_window_s, estimate_samples: the service times the wait
            estimate averages: the last ``samples`` within ``window_s``.
        categories: {prefix: Category}; businesses: {code: Business};
        counters: {id: Counter}.
        digest: SHA-256 hex of the canonical table, stored by the journal.
    """

    def __init__(self, source, table, fields):
        self.source = source
        self.table = table
        for name, value in fields.items():
            setattr(self, name, value)
        canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), default=str)
        self.digest = hashlib.sha256(canonical.encode()).hexdigest()

    def business_category(self, code):
        """The category prefix of business ``code`` (KeyError when unknown)."""
        return self.businesses[code].category

    def rank(self, priority):
        """Position of a priority class in ``order`` (0 = called first)."""
        return self.order.index(priority)

    @classmethod
    def from_dict(cls, table, source="<dict>"):
        """Validate a ``[queue]`` table (a dict as ``tomllib`` gives it).

        Args:
            table: the table's contents (not the whole file).
            source: the file name, for error messages.

        Returns:
            A ``QueueConfig``.

        Raises:
            QueueConfigError: naming the first wrong key.
        """
        return cls(source, table, _Parser(source).queue(table))


def load_config(path):
    """Read and validate the ``[queue]`` table of a TOML file.

    Args:
        path: the file.

    Returns:
        A ``QueueConfig``.

    Raises:
        QueueConfigError: the file cannot be read, is not TOML, has no
            ``[queue]`` table, or a key is wrong.
    """
    table, source = read_table(path, "queue", QueueConfigError)
    return QueueConfig.from_dict(table, source)


def _minutes(text):
    match = _CLOCK.match(text)
    return int(match.group(1)) * 60 + int(match.group(2))


class _Parser:
    def __init__(self, source):
        self.source = source

    def fail(self, key, expected, got):
        raise QueueConfigError(self.source, key, expected, got)

    def table(self, value, where, allowed):
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, "a table", value)
        for key in value:
            if key not in allowed:
                self.fail("%s.%s" % (where, key), "one of the keys %s" % ", ".join(allowed), "an unknown key")
        return value

    def number(self, table, where, key, default, low, high, integer=False):
        value = table.get(key, default)
        ok = type(value) is int if integer else type(value) in (int, float)
        expected = "%s from %s to %s" % ("a whole number" if integer else "a number", low, high)
        if not ok or not low <= value <= high:
            self.fail("%s.%s" % (where, key), expected, value)
        return value

    def choice(self, table, where, key, default, choices):
        value = table.get(key, default)
        if value not in choices:
            self.fail("%s.%s" % (where, key), "one of %s" % ", ".join(choices), value)
        return value

    def clock(self, table, where, key, default):
        value = table.get(key, default)
        if not isinstance(value, str) or not _CLOCK.match(value):
            self.fail("%s.%s" % (where, key), "a local time \"HH:MM\"", value)
        return _minutes(value)

    def names(self, table, where, key, default, choices=None, pattern=None, what="names"):
        value = table.get(key, default)
        full = "%s.%s" % (where, key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(full, "a list of %s" % what, value)
        for item in value:
            if choices is not None and item not in choices:
                self.fail(full, "%s from %s" % (what, ", ".join(choices)), item)
            if pattern is not None and not pattern.match(item):
                self.fail(full, what, item)
        if len(set(value)) != len(value):
            self.fail(full, "%s without repeats" % what, value)
        return tuple(value)

    def queue(self, table):
        where = "queue"
        table = self.table(table, where, ("timezone", "opens", "closes", "digits", "priority", "no_show",
                                          "estimate", "category", "business", "counter"))
        timezone = table.get("timezone", "Asia/Shanghai")
        try:
            tz = zoneinfo.ZoneInfo(timezone) if isinstance(timezone, str) and timezone else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = None
        if tz is None:
            self.fail("queue.timezone", "an IANA time zone name such as \"Asia/Shanghai\"", timezone)
        opens = self.clock(table, where, "opens", "08:30")
        closes = self.clock(table, where, "closes", "17:30")
        if closes <= opens:
            self.fail("queue.closes", "a time after opens (%02d:%02d)" % divmod(opens, 60), table.get("closes"))
        fields = {"timezone": timezone, "tz": tz, "opens_min": opens, "closes_min": closes,
                  "digits": self.number(table, where, "digits", 3, 1, 5, integer=True)}
        fields.update(self.priority(table.get("priority")))
        fields.update(self.no_show(table.get("no_show")))
        fields.update(self.estimate(table.get("estimate")))
        categories = self.categories(table.get("category"), fields["digits"])
        businesses = self.businesses(table.get("business"), categories)
        counters = self.counters(table.get("counter"), categories, fields["order"])
        served = {c for counter in counters.values() for c in counter.categories}
        for prefix in categories:
            if not any(b.category == prefix for b in businesses.values()):
                self.fail("queue.category.%s" % prefix, "a category that some queue.business entry uses",
                          "no business type in it")
            if prefix not in served:
                self.fail("queue.category.%s" % prefix, "a category that some counter calls (Q-03)",
                          "no counter serves it")
            for klass in fields["order"]:
                if not any(prefix in c.categories and klass in c.classes for c in counters.values()):
                    self.fail("queue.category.%s" % prefix, "a category whose %s tickets some counter calls"
                              % klass, "every counter of it leaves out class %s" % klass)
        fields.update(categories=categories, businesses=businesses, counters=counters)
        return fields

    def priority(self, table):
        where = "queue.priority"
        table = self.table(table, where, ("policy", "order", "ageing_bound_min", "desk_only"))
        order = self.names(table, where, "order", ["green", "vip", "normal"], CLASSES, what="priority classes")
        if not order or order[-1] != "normal":
            self.fail(where + ".order", "a list of priority classes ending with \"normal\"", list(order))
        desk_only = self.names(table, where, "desk_only", [c for c in order if c != "normal"], order,
                               what="priority classes of order")
        if "normal" in desk_only:
            self.fail(where + ".desk_only", "priority classes other than \"normal\"", list(desk_only))
        bound = self.number(table, where, "ageing_bound_min", 20, 1, 240)
        return {"policy": self.choice(table, where, "policy", "ageing", POLICIES), "order": order,
                "ageing_bound_s": int(bound * 60), "desk_only": frozenset(desk_only)}

    def no_show(self, table):
        where = "queue.no_show"
        table = self.table(table, where, ("recalls", "requeue", "max_requeues"))
        return {"recalls": self.number(table, where, "recalls", 2, 0, 10, integer=True),
                "requeue": self.choice(table, where, "requeue", "back", REQUEUE),
                "max_requeues": self.number(table, where, "max_requeues", 1, 0, 10, integer=True)}

    def estimate(self, table):
        where = "queue.estimate"
        table = self.table(table, where, ("window_min", "samples"))
        return {"estimate_window_s": int(self.number(table, where, "window_min", 60, 5, 1440) * 60),
                "estimate_samples": self.number(table, where, "samples", 20, 1, 1000, integer=True)}

    def categories(self, table, digits):
        where = "queue.category"
        if not isinstance(table, dict) or not table:
            self.fail(where, "at least one category table, e.g. [queue.category.A]", table)
        out = {}
        for prefix, entry in table.items():
            if not _PREFIX.match(prefix) or len(prefix) + digits > 8:
                self.fail("%s.%s" % (where, prefix), "1-3 capital letters (the ticket prefix; with %d digits "
                          "at most %d)" % (digits, 8 - digits), prefix)
            entry = self.table(entry, "%s.%s" % (where, prefix), ("name",))
            name = entry.get("name", prefix)
            if not isinstance(name, str) or not 0 < len(name) <= 64:
                self.fail("%s.%s.name" % (where, prefix), "text of 1-64 characters", name)
            out[prefix] = Category(prefix, name)
        return out

    def businesses(self, table, categories):
        where = "queue.business"
        if not isinstance(table, dict) or not table:
            self.fail(where, "at least one business type, e.g. payment = { category = \"B\", limit_min = 3 }",
                      table)
        out = {}
        for code, entry in table.items():
            at = "%s.\"%s\"" % (where, code) if "." in code else "%s.%s" % (where, code)
            if not _BUSINESS.match(code) or len(code) > 64:
                self.fail(at, "a business code such as \"payment\" or \"change.rename\" (hall-requirements "
                          "§1)", code)
            entry = self.table(entry, at, ("category", "limit_min", "alarm_min", "service_min"))
            category = entry.get("category")
            if category not in categories:
                self.fail(at + ".category", "one of the categories %s" % ", ".join(categories), category)
            limit = self.number(entry, at, "limit_min", 10, 0.5, 240)
            alarm = self.number(entry, at, "alarm_min", max(20, limit), limit, 480)
            service = self.number(entry, at, "service_min", limit * 0.6, 0.1, limit * 4)
            out[code] = Business(code, category, int(limit * 60), int(alarm * 60), int(service * 60))
        return out

    def counters(self, table, categories, order):
        where = "queue.counter"
        if not isinstance(table, dict) or not table:
            self.fail(where, "at least one counter table, e.g. [queue.counter.w1]", table)
        out = {}
        for counter_id, entry in table.items():
            at = "%s.%s" % (where, counter_id)
            if not _COUNTER.match(counter_id):
                self.fail(at, "a counter id of lowercase letters, digits and -", counter_id)
            entry = self.table(entry, at, ("categories", "classes"))
            cats = self.names(entry, at, "categories", [], tuple(categories), what="categories")
            if not cats:
                self.fail(at + ".categories", "at least one category (Q-03)", [])
            classes = self.names(entry, at, "classes", list(order), order, what="priority classes of order")
            if not classes:
                self.fail(at + ".classes", "at least one priority class", [])
            out[counter_id] = Counter(counter_id, cats, frozenset(classes))
        return out
