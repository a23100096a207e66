"""Queue KPIs from ticket and call records and their times (promise 7).

Pure functions over ``(kind, body, t_ms)`` triples (the engine's ``Out``, or
what the hall decodes from stored records), so the kiosk and the hall compute
the same figures from the same records. Definitions (queue-systems.md rule 6,
K-13):

* wait = the call that service started after (the last call or recall
  before the first ``start``) minus ``issued``; a ticket never served has
  no wait.
* service act = one ``start`` to the ``finish``, ``transfer`` or ``leave``
  that ends it, at one counter, for the business it had then; its time is
  checked against that business's limit and alarm (Q-06: 3 min payment,
  10 min business, 20 min alarm).
* outcome of a visit: the last thing that happened to the ticket: "done"
  (finish), "no-show", "left" (leave or cancelled), "expired", or
  "waiting" (still open). Abandonment = no-show + left + expired.
* counter busy time = call to the end of what the counter did with it
  (finish, transfer, leave, no-show); utilisation = busy / open time.
"""

import collections

Visit = collections.namedtuple("Visit", "day number business priority issued_ms wait_s outcome transfers calls")
Visit.__doc__ = "One ticket's visit: first business, class, issue time, wait (or None), outcome, counts."

ServiceAct = collections.namedtuple("ServiceAct", "day number counter business start_ms end_ms service_s ended_by")
ServiceAct.__doc__ = "One service at one counter: from start to finish, transfer or leave."

_END_OF_HOLD = ("finish", "transfer", "leave", "no-show")


def _ordered(records):
    """Ticket and call records in time order (the outbox order breaks ties)."""
    indexed = [(r[2], i, r) for i, r in enumerate(records) if r[0] in ("ticket", "call")]
    return [r for _t, _i, r in sorted(indexed)]


def visits(records):
    """One ``Visit`` per ticket issued in ``records``.

    Args:
        records: (kind, body, t_ms) triples; kinds other than ticket and call are ignored.

    Returns:
        {(day, number): Visit}, in issue order.
    """
    out = {}
    state = {}
    for kind, body, t_ms in _ordered(records):
        key = (body["day"], body["number"])
        if kind == "ticket" and body["event"] == "issued":
            state[key] = {"business": body["business"], "priority": body["priority"], "issued": t_ms,
                          "last_call": None, "wait": None, "outcome": "waiting", "transfers": 0, "calls": 0}
            continue
        s = state.get(key)
        if s is None:
            continue                      # a ticket issued before these records began
        if kind == "ticket":
            if body["event"] in ("cancelled", "expired"):
                s["outcome"] = "left" if body["event"] == "cancelled" else "expired"
            continue
        action = body["action"]
        if action in ("call", "recall"):
            s["last_call"] = t_ms
            s["calls"] += 1
            s["outcome"] = "waiting"
        elif action == "start" and s["wait"] is None and s["last_call"] is not None:
            s["wait"] = (s["last_call"] - s["issued"]) / 1000.0
        elif action == "finish":
            s["outcome"] = "done"
        elif action == "no-show":
            s["outcome"] = "no-show"
        elif action == "recycle":
            s["outcome"] = "waiting"
        elif action == "leave":
            s["outcome"] = "left"
        elif action == "transfer":
            s["transfers"] += 1
            s["outcome"] = "waiting"
    for key, s in state.items():
        out[key] = Visit(key[0], key[1], s["business"], s["priority"], s["issued"], s["wait"], s["outcome"],
                         s["transfers"], s["calls"])
    return out


def service_acts(records):
    """Every service act (start to finish, transfer or leave) in ``records``, in time order."""
    acts = []
    open_acts = {}
    for kind, body, t_ms in _ordered(records):
        if kind != "call":
            continue
        key = (body["day"], body["number"])
        if body["action"] == "start":
            open_acts[key] = (body["counter"], body.get("business"), t_ms)
        elif body["action"] in ("finish", "transfer", "leave") and key in open_acts:
            counter, business, start_ms = open_acts.pop(key)
            acts.append(ServiceAct(key[0], key[1], counter, business, start_ms, t_ms, (t_ms - start_ms) / 1000.0,
                                   body["action"]))
    return acts


def counter_busy_s(records):
    """Seconds each counter held a ticket: from its call to the end of what it did with it.

    Returns:
        {counter: seconds}.
    """
    busy = collections.defaultdict(float)
    held = {}
    for kind, body, t_ms in _ordered(records):
        if kind != "call":
            continue
        key = (body["day"], body["number"])
        if body["action"] == "call":
            held[key] = (body["counter"], t_ms)
        elif body["action"] in _END_OF_HOLD and key in held:
            counter, since = held.pop(key)
            busy[counter] += (t_ms - since) / 1000.0
    return dict(busy)


def _mean(values):
    return sum(values) / len(values) if values else None


def summary(records, limits, open_s=None):
    """The queue KPIs of a set of records.

    Args:
        records: (kind, body, t_ms) triples.
        limits: {business: (limit_s, alarm_s)}; ``limits_of(config)`` builds it.
        open_s: {counter: seconds open} for utilisation, or None.

    Returns:
        A dict: ``tickets``; ``outcomes`` {outcome: count}; ``abandonment``
        (share of no-show, left and expired among ended visits, or None);
        ``by_business`` {business: {"tickets", "served", "mean_wait_s",
        "max_wait_s", "acts", "mean_service_s", "within_limit" (share of
        acts within the limit, K-13/K-03), "over_alarm"}};
        ``by_priority`` {class: {"tickets", "mean_wait_s", "max_wait_s"}};
        ``counters`` {counter: {"acts", "busy_s", "utilisation"}}.
    """
    vs = list(visits(records).values())
    acts = service_acts(records)
    outcomes = collections.Counter(v.outcome for v in vs)
    ended = sum(n for outcome, n in outcomes.items() if outcome != "waiting")
    gave_up = outcomes["no-show"] + outcomes["left"] + outcomes["expired"]
    by_business = {}
    for business in sorted({v.business for v in vs} | {a.business for a in acts if a.business}):
        waits = [v.wait_s for v in vs if v.business == business and v.wait_s is not None]
        mine = [a for a in acts if a.business == business]
        limit_s, alarm_s = limits.get(business, (None, None))
        by_business[business] = {
            "tickets": sum(1 for v in vs if v.business == business),
            "served": len(waits),
            "mean_wait_s": _mean(waits),
            "max_wait_s": max(waits) if waits else None,
            "acts": len(mine),
            "mean_service_s": _mean([a.service_s for a in mine]),
            "within_limit": (_mean([1.0 if a.service_s <= limit_s else 0.0 for a in mine])
                             if mine and limit_s is not None else None),
            "over_alarm": sum(1 for a in mine if alarm_s is not None and a.service_s > alarm_s),
        }
    by_priority = {}
    for klass in sorted({v.priority for v in vs}):
        waits = [v.wait_s for v in vs if v.priority == klass and v.wait_s is not None]
        by_priority[klass] = {"tickets": sum(1 for v in vs if v.priority == klass), "mean_wait_s": _mean(waits),
                              "max_wait_s": max(waits) if waits else None}
    busy = counter_busy_s(records)
    counters = {}
    for counter in sorted(set(busy) | set(open_s or ()) | {a.counter for a in acts}):
        seconds_open = (open_s or {}).get(counter)
        counters[counter] = {"acts": sum(1 for a in acts if a.counter == counter), "busy_s": busy.get(counter, 0.0),
                             "utilisation": (busy.get(counter, 0.0) / seconds_open) if seconds_open else None}
    return {"tickets": len(vs), "outcomes": dict(outcomes), "abandonment": (gave_up / ended) if ended else None,
            "by_business": by_business, "by_priority": by_priority, "counters": counters}


def limits_of(config):
    """{business: (limit_s, alarm_s)} from a ``QueueConfig``."""
    return {code: (b.limit_s, b.alarm_s) for code, b in config.businesses.items()}
