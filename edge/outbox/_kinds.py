"""Storage class of each record kind, from ``protocols.records.KINDS`` (one place decides)."""

from protocols.records import KINDS

from ._values import BILLING, DROPPABLE, KEPT


def storage_class(kind):
    """``BILLING``, ``KEPT`` or ``DROPPABLE`` for a known kind (``encode_record`` refuses unknown ones first)."""
    facts = KINDS[kind]
    if facts.billing:
        return BILLING
    return DROPPABLE if facts.droppable else KEPT
