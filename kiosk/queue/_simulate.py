"""A simulated hall day in virtual time: customers, counters and the real engine.

``simulate_day`` drives a ``QueueEngine`` through one business day with a
discrete-event loop (no sleeps): customers arrive in a morning and an
afternoon peak, take tickets (some green channel or VIP, issued at the
desk), wait, sometimes give up or miss their call, walk to the counter and
are served for a time drawn around their business type's service time;
a few are transferred to another business (Q-04). Counters call whenever
they are free, keep serving after closing time until nobody is left for
them (Q-08), then close. At each issue the engine's wait estimate and a
naive one (tickets ahead x the configured mean service time) are noted,
and compared with the wait the customer then had (issue to first call).

Used by tests/kiosk/test_queue_simulated_day.py and docs/kiosk.md's figures.
"""

import collections
import datetime
import heapq
import math
import random

from ._errors import ActionRefused
from ._estimate import naive_wait_s
from ._kpi import limits_of, summary
from ._engine import QueueEngine

Arrival = collections.namedtuple("Arrival", "offset_s business priority")
Arrival.__doc__ = "A customer: seconds after opening, business code, priority class."

CallTrace = collections.namedtuple("CallTrace", "t_ms counter number candidates")
CallTrace.__doc__ = ("A call: when, which counter, which ticket, and what that counter could call then, as "
                     "(number, priority, arrival_ms, issued_ms) in issue order.")

SimResult = collections.namedtuple("SimResult", "records trace estimates mae summary turned_away open_s "
                                   "engine opens_ms closes_ms")
SimResult.__doc__ = """What a simulated day gave.

records: every ``Out`` the engine returned, in order; trace: a ``CallTrace``
per call; estimates: (category, estimate_s, naive_s, actual_s) per ticket
that was called; mae: {category: {"n", "estimator_s", "naive_s"}} mean
absolute errors; summary: ``_kpi.summary`` of the records; turned_away:
arrivals refused after closing; open_s: seconds each counter was open;
engine: the engine at the end; opens_ms, closes_ms: the day's hours in UTC ms.
"""

WALK_S = (15, 45)          # from the call to the counter
RESPONSE_S = 45            # a counter waits this long before a recall or a no-show
NO_SHOW_P = 0.03           # customers who are away when called
RETURN_P = 0.5             # of those, who are back by the re-queued call
IMPATIENT_P = 0.05         # customers who leave after PATIENCE_S
PATIENCE_S = 45 * 60
TRANSFER_P = 0.03          # services that end in a transfer to another business
LATE_ARRIVALS = 8          # customers who come after closing (turned away, Q-08)


def generate_arrivals(config, customers=600, seed=0, green_p=0.05, vip_p=0.03):
    """Arrivals with a morning and an afternoon peak and a business mix weighted to bill payment.

    Args:
        config: the ``QueueConfig`` (business types, classes, hours).
        customers: arrivals during opening hours (plus ``LATE_ARRIVALS`` after closing).
        seed: the random seed.
        green_p, vip_p: shares of green-channel and VIP customers (when the classes exist).

    Returns:
        A list of ``Arrival`` sorted by time.
    """
    rng = random.Random(seed)
    span_s = (config.closes_min - config.opens_min) * 60
    codes = sorted(config.businesses)
    weights = [len(codes) if code == "payment" else 1 for code in codes]
    out = []
    while len(out) < customers:
        u = rng.random()
        if u < 0.4:
            t = rng.gauss(span_s * 0.12, span_s * 0.08)       # the morning peak
        elif u < 0.75:
            t = rng.gauss(span_s * 0.68, span_s * 0.09)       # the afternoon peak
        else:
            t = rng.uniform(0, span_s)
        if not 0 <= t < span_s - 60:
            continue
        u = rng.random()
        priority = "green" if u < green_p else "vip" if u < green_p + vip_p else "normal"
        if priority not in config.order:
            priority = "normal"
        out.append(Arrival(int(t), rng.choices(codes, weights)[0], priority))
    for i in range(LATE_ARRIVALS):
        out.append(Arrival(span_s + 60 * (i + 1), rng.choice(codes), "normal"))
    return sorted(out)


def _local_ms(config, day, minute):
    date = datetime.date.fromisoformat(day)
    local = datetime.datetime(date.year, date.month, date.day, minute // 60, minute % 60, tzinfo=config.tz)
    return int(local.timestamp() * 1000)


def simulate_day(config, arrivals=None, seed=0, day="2024-06-03"):
    """Run one hall day in virtual time.

    Args:
        config: a ``QueueConfig``.
        arrivals: ``Arrival`` list, or None for ``generate_arrivals(config, 600, seed)``.
        seed: the random seed for behaviour and service times.
        day: the local business day (``YYYY-MM-DD``).

    Returns:
        A ``SimResult``.
    """
    rng = random.Random(seed + 1)
    arrivals = generate_arrivals(config, 600, seed) if arrivals is None else arrivals
    engine = QueueEngine(config)
    opens_ms, closes_ms = _local_ms(config, day, config.opens_min), _local_ms(config, day, config.closes_min)
    records, trace, noted = [], [], {}
    events, order = [], [0]
    customers = {}            # number -> {"away": bool, "impatient": bool}
    turned_away = [0]
    transferred = set()

    def at(t_ms, what, *data):
        order[0] += 1
        heapq.heappush(events, (t_ms, order[0], what, data))

    def act(action, now_ms, *args, **kwargs):
        outcome = getattr(engine, action)(now_ms, *args, **kwargs)
        records.extend(outcome.records)
        return outcome

    def service_s(business):
        mean = config.businesses[business].service_s
        sigma = 0.5
        return max(20.0, rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))

    def try_calls(now_ms):
        for cid in sorted(config.counters):
            view = engine.counter(cid)
            if view.status != "open" or view.ticket is not None:
                continue
            candidates = [(t.number, t.priority, t.arrival_ms, t.issued_ms) for t in engine.waiting(cid, now_ms)]
            outcome = act("call_next", now_ms, cid)
            t = outcome.ticket
            if t is None:
                if now_ms >= closes_ms:
                    act("close_counter", now_ms, cid)
                continue
            trace.append(CallTrace(now_ms, cid, t.number, sorted(candidates, key=lambda c: c[3])))
            note = noted.get(t.number)
            if note is not None and note[3] is None:
                noted[t.number] = note[:3] + ((now_ms - t.issued_ms) / 1000.0,)
            who = customers[t.number]
            if who["away"]:
                at(now_ms + RESPONSE_S * 1000, "no-response", cid, t.number, 1)
            else:
                at(now_ms + int(rng.uniform(*WALK_S) * 1000), "walk-up", cid, t.number)

    act("begin_day", opens_ms - 3600 * 1000)
    for cid in sorted(config.counters):
        act("open_counter", opens_ms, cid)
    for a in arrivals:
        at(opens_ms + a.offset_s * 1000, "arrive", a)
    now_ms = opens_ms
    while events:
        now_ms, _n, what, data = heapq.heappop(events)
        if what == "arrive":
            a = data[0]
            channel = "desk" if a.priority in config.desk_only else "kiosk"
            try:
                estimate = engine.estimate(now_ms, a.business, a.priority)
                outcome = act("issue", now_ms, a.business, a.priority, channel)
            except ActionRefused as exc:
                if exc.reason != "closed":
                    raise
                turned_away[0] += 1
                continue
            number = outcome.ticket.number
            prior = engine.mean_service_s(estimate.category, 0)        # the configured mean, no history
            noted[number] = (estimate.category, estimate.wait_s, naive_wait_s(estimate.ahead, prior), None)
            customers[number] = {"away": rng.random() < NO_SHOW_P, "impatient": rng.random() < IMPATIENT_P}
            if customers[number]["impatient"]:
                at(now_ms + PATIENCE_S * 1000, "patience", number)
        elif what == "patience":
            if engine.ticket(data[0]).status == "waiting":
                act("cancel", now_ms, data[0])
        elif what == "no-response":
            cid, number, tries = data
            if engine.counter(cid).ticket != number:
                continue
            if tries <= config.recalls:
                act("recall", now_ms, cid)
                at(now_ms + RESPONSE_S * 1000, "no-response", cid, number, tries + 1)
            else:
                outcome = act("no_show", now_ms, cid)
                if outcome.ticket.status == "waiting":
                    customers[number]["away"] = rng.random() >= RETURN_P
        elif what == "walk-up":
            cid, number = data
            act("start", now_ms, cid)
            business = engine.ticket(number).business
            at(now_ms + int(service_s(business) * 1000), "done", cid, number)
        elif what == "done":
            cid, number = data
            t = engine.ticket(number)
            others = [c for c in sorted(config.businesses) if config.businesses[c].category != t.category]
            if others and number not in transferred and rng.random() < TRANSFER_P:
                transferred.add(number)
                act("transfer", now_ms, cid, to_business=rng.choice(others))
            else:
                act("finish", now_ms, cid)
        try_calls(now_ms)
    end_ms = max(now_ms, closes_ms) + 1000
    for cid in sorted(config.counters):
        if engine.counter(cid).status != "closed":
            act("close_counter", end_ms, cid)
    open_s = engine.open_seconds(end_ms)
    act("end_day", end_ms)
    return SimResult(records, trace, [v for v in noted.values() if v[3] is not None],
                     _mae(noted.values()), summary(records, limits_of(config), open_s), turned_away[0], open_s,
                     engine, opens_ms, closes_ms)


def _mae(notes):
    errors = collections.defaultdict(lambda: ([], []))
    for category, estimate_s, naive_s, actual_s in notes:
        if actual_s is None or estimate_s is None:
            continue
        errors[category][0].append(abs(estimate_s - actual_s))
        errors[category][1].append(abs(naive_s - actual_s))
    return {c: {"n": len(e), "estimator_s": sum(e) / len(e), "naive_s": sum(n) / len(n)}
            for c, (e, n) in sorted(errors.items())}
