"""Rules across the meters of an archive, checked before anything is stored.

Errors (the import is refused):

* a meter is identified by (line, address, unit): each at most once;
* every meter of a line has the line's port, baud and parity, and a port
  belongs to one line (one scheduler owns each line);
* a Modbus unit id is used by one meter per line (they share the bus);
* an area (台区) has at most one supply meter (台区总表), because line loss is
  supply minus the sum of the customers (M-13);
* two area codes differ in more than letter case: records name an area by
  its code lower-cased (decision 22), so "TQ1" and "tq1" would be one area.

Warnings (the import goes ahead):

* an area without a supply meter: its line loss cannot be computed (M-13);
* one customer number on several meters: one meter per household is the
  rule (一户一表, M-10), so it is often a typing error, but a customer may
  have more than one supply point.

A problem is always attributed to a row of the incoming file; rows already in
the archive are the reference ("like the other meters of line1"), since the
archive was valid when they were stored.
"""

from ._errors import Problem, Where
from ._fields import mask_customer


def _at(where):
    """`line 3` / `meter 2` (without the file) for "the first at ..." texts."""
    return str(Where(None, where.line, where.index))


def _origin(where, meter):
    """Where a reference meter is: a row of this file, or the archive."""
    if where is None:
        return "%s in the archive" % meter.label()
    return "%s at %s" % (meter.label(), _at(where))


def check_archive(rows, existing=()):
    """Check the rules across meters.

    Args:
        rows: (Where, ArchiveMeter) pairs from the incoming file, in file order.
        existing: ArchiveMeters already in the archive that stay (those not
            replaced by a row with the same key).

    Returns:
        list of Problem, errors and warnings (``problem.severity``), each at a row.
    """
    problems = []
    # (where or None, meter): archive rows first, so they are the reference.
    everyone = [(None, m) for m in existing] + list(rows)

    by_key = {}
    duplicate = set()
    for where, meter in everyone:
        first = by_key.get(meter.key)
        if first is None:
            by_key[meter.key] = (where, meter)
            continue
        duplicate.add(id(meter))
        problems.append(Problem(where, "address",
                                "each meter once per line",
                                "%s again on line %r (first %s)"
                                % (meter.label(), meter.line,
                                   "at %s" % _at(first[0]) if first[0] is not None else "in the archive")))

    line_ref = {}
    port_owner = {}
    units = {}
    for where, meter in everyone:
        if id(meter) in duplicate:
            continue
        ref = line_ref.setdefault(meter.line, (where, meter))
        if where is not None and ref[1] is not meter:
            for field in ("port", "baud", "parity"):
                want, got = getattr(ref[1], field), getattr(meter, field)
                if want != got:
                    problems.append(Problem(where, field, "%r like the other meters of line %r (%s)"
                                            % (want, meter.line, _origin(*ref)), repr(got)))
        owner = port_owner.setdefault(meter.port, (where, meter))
        if where is not None and owner[1].line != meter.line:
            problems.append(Problem(where, "port", "a port no other line uses",
                                    "%r, the port of line %r (%s)" % (meter.port, owner[1].line, _origin(*owner))))
        if meter.unit is not None:
            taken = units.setdefault((meter.line, meter.unit), (where, meter))
            if where is not None and taken[1] is not meter:
                problems.append(Problem(where, "unit", "a unit id no other meter of line %r uses" % meter.line,
                                        "%d, already the unit of %s" % (meter.unit, _origin(*taken))))

    cased = {}
    for where, meter in everyone:
        first = cased.setdefault(meter.area.lower(), (where, meter))
        if where is not None and first[1].area != meter.area:
            problems.append(Problem(where, "area", "an area code that differs from the others in more than letter "
                                    "case (records name areas in lower case)",
                                    "%r, and area %r is %s" % (meter.area, first[1].area, _origin(*first))))

    supply = {}
    area_first_row = {}
    customers = {}
    for where, meter in everyone:
        if id(meter) in duplicate:
            continue
        if where is not None:
            area_first_row.setdefault(meter.area, where)
        if meter.role == "supply":
            first = supply.setdefault(meter.area, (where, meter))
            if where is not None and first[1] is not meter:
                problems.append(Problem(where, "role", "at most one supply meter (台区总表) per area",
                                        "a second one in area %r (the first: %s)" % (meter.area, _origin(*first))))
        elif meter.customer:
            first = customers.setdefault(meter.customer, (where, meter))
            if where is not None and first[1] is not meter:
                problems.append(Problem(where, "customer", "one meter per customer number (一户一表, M-10)",
                                        "%s, also on %s" % (mask_customer(meter.customer), _origin(*first)),
                                        severity="warning"))
    for area, where in area_first_row.items():
        if area not in supply:
            problems.append(Problem(where, "role", "one supply meter (台区总表) in area %r" % area,
                                    "none, so the area's line loss cannot be computed", severity="warning"))
    problems.sort(key=lambda p: (_position(p), p.severity != "error"))
    return problems


def _position(problem):
    return problem.line if problem.line is not None else problem.index if problem.index is not None else 0
