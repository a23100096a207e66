"""The record kinds: who produces them, whether they may be shed, their body schemas.

``KINDS`` is built once at import and is read-only. Three storage classes
follow from the architecture's outbox contract:

* billing-relevant (``billing``): readings, frozen values, payments,
  settlements, ratings, tickets. Never dropped; when the outbox is full the
  producer gets an error and the device degrades (P-02 for payments).
* kept (neither flag): events, anomalies, line loss, cycles, calls. Never
  dropped either; an outbox may refuse them before billing kinds to keep
  room for billing records.
* droppable (``droppable``): health only. May be shed near the bound.
"""

from types import MappingProxyType

from ._bodies import BODIES


class Kind:
    """Facts about one record kind.

    Attributes:
        name: the kind, as in the payload and the topic ("reading").
        billing: billing-relevant; never dropped.
        droppable: an outbox may shed it near its storage bound.
        producers: device kinds that publish it ("concentrator", "kiosk").
        schemas: read-only {version: body schema (a ``Map``)}.
        latest: the highest body schema version.
        summary: one line on what a record of this kind says.
    """

    __slots__ = ("name", "billing", "droppable", "producers", "schemas", "latest", "summary")

    def __init__(self, name, billing, droppable, producers, summary):
        if billing and droppable:
            raise ValueError("kind %s cannot be both billing-relevant and droppable" % name)
        self.name = name
        self.billing = billing
        self.droppable = droppable
        self.producers = producers
        self.schemas = MappingProxyType(dict(BODIES[name]))
        self.latest = max(self.schemas)
        self.summary = summary

    def schema(self, version):
        """The body schema of ``version``, or None when the kind has no such version."""
        return self.schemas.get(version)

    def __repr__(self):
        return "Kind(%r, billing=%r, droppable=%r, versions=%r)" % (
            self.name, self.billing, self.droppable, sorted(self.schemas))


_C = ("concentrator",)
_K = ("kiosk",)
_BOTH = ("concentrator", "kiosk")

KINDS = MappingProxyType({k.name: k for k in (
    Kind("reading", True, False, _C, "one value read from one meter in a reading cycle"),
    Kind("frozen", True, False, _C, "one value a meter froze (hour, day, month, settlement day)"),
    Kind("event", False, False, _BOTH, "something that happened to a device or a meter"),
    Kind("anomaly", False, False, _C, "a reading anomaly of one meter raised or cleared (M-08, M-09)"),
    Kind("lineloss", False, False, _C, "energy balance of a transformer area over a period (M-13)"),
    Kind("cycle", False, False, _C, "completeness of a reading cycle when it closes (K-16)"),
    Kind("ticket", True, False, _K, "a queue ticket issued, reprinted, cancelled or expired"),
    Kind("call", False, False, _K, "a counter's action on a ticket: call, start, finish, transfer, ..."),
    Kind("payment", True, False, _K, "one state of a payment intent (started, paid, failed, ...)"),
    Kind("settlement", True, False, _K, "the day's payment totals of a kiosk"),
    Kind("rating", True, False, _K, "a customer's satisfaction rating of one service act"),
    Kind("health", False, True, _BOTH, "device health figures and active alarms"),
)})

if set(KINDS) != set(BODIES):
    raise ImportError("record kinds and body schemas disagree: %s" % sorted(set(KINDS) ^ set(BODIES)))
