"""Body schemas of every record kind, by version.

Each kind maps body schema versions to a closed ``Map``; the record's ``v``
selects the version. To add version 2 of a kind, define ``<KIND>_V2`` next to
``<KIND>_V1`` and add ``2: <KIND>_V2`` to its entry in ``BODIES``; version 1
stays, so the hall keeps accepting records from devices not yet upgraded.
Never change a published version in place.

Conventions: times are UTC milliseconds (``*_t``), money is integer fen
(``*_fen``, no floats for money), energy is kWh, meters are 12-digit
nameplate addresses, days are the hall's local business day
(Asia/Shanghai) as ``YYYY-MM-DD``. Privacy (S-01, K-09): no body carries a
customer's name or a full account number; accounts are masked.
"""

from protocols.topics import IDENTIFIER_PATTERN

from ._schema import INT64_MAX, NULL, Bool, Bytes, Int, List, Map, Num, Text, Union, optional

# ---- field types shared by several kinds -------------------------------------

T_MS = Int(0, INT64_MAX)                                   # UTC ms since 1970
METER = Text(12, 12, r"[0-9]{12}")                         # nameplate address
ID = Text(63, 1, IDENTIFIER_PATTERN)                       # areas, counters, codes
CYCLE = Text(64, 1, r"[A-Za-z0-9][A-Za-z0-9:._+-]{0,63}")  # reading cycle id, e.g. "2024-06-01"
DAY = Text(10, 10, r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
TICKET_NO = Text(8, 1, r"[A-Z]{0,3}[0-9]{1,5}")            # e.g. "A012"
BUSINESS = Text(64, 1, r"[a-z][a-z_]*(\.[a-z][a-z_]*)?")   # business type code, §1 ("change.rename")
STAFF = Text(32, 1, r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")    # staff number, never a name
DETAIL = Text(512)
COUNT = Int(0, 2 ** 32 - 1)
KWH = Num(-1e12, 1e12)
STD = Text(choices=("2007", "1997", "modbus"))
DI = Text(8, 4, r"[0-9A-F]{4}([0-9A-F]{4})?")
_ITEM = Union(Num(), Text(32), Bytes(max_len=32), NULL)
# A decoded meter value: a number, time text, raw bytes of an unknown DI, null
# for a missing freeze (all FF), or a block of those (one level of nesting for
# blocks of pairs such as demand + time). Sized so the largest block, 64 x 8
# items of 32 bytes, keeps the record well under MAX_RECORD_BYTES.
VALUE = Union(Num(), Text(256), Bytes(max_len=256), NULL, List(Union(_ITEM, List(_ITEM, 8)), 64))
PAY_METHOD = Text(choices=("cash", "card", "qr", "bank", "manual"))
PAY_STATUS = Text(choices=("started", "paid", "failed", "precollected", "refunded"))


def _di_matches_std(body):
    want = 8 if body["std"] == "2007" else 4
    if len(body["di"]) != want:
        return "di %r has %d hex digits, std %s needs %d" % (body["di"], len(body["di"]), body["std"], want)
    return None


def _ordered(first, second):
    def rule(body):
        a, b = body.get(first), body.get(second)
        if type(a) is int and type(b) is int and b < a:
            return "%s (%d) is before %s (%d)" % (second, b, first, a)
        return None
    return rule


_METER_VALUE = {
    "meter": METER,
    "di": DI,               # DL/T 645 DI as format_di writes it; Modbus: register address
    "name": Text(64),       # registry name, e.g. "forward_active_total"
    "value": VALUE,
    "unit": Text(16),       # "kWh", "V", ... or "" for none
    "std": STD,
    "cycle": CYCLE,
    "read_t": T_MS,         # when the meter answered
}

# reading (M-01, K-16): one value read from one meter in a reading cycle.
READING_V1 = Map(_METER_VALUE, check=_di_matches_std, rule="di has 8 hex digits for std 2007, else 4")

# frozen (M-06, M-07): a value the meter froze (daily, monthly, settlement day...).
FROZEN_V1 = Map(dict(_METER_VALUE, **{
    "freeze": Text(choices=("hour", "day", "month", "settle", "timed", "instant")),
    "frozen_at": Union(Text(32), NULL),      # the meter's own local time text, null if all FF
    "index": optional(Int(1, 255)),          # 1 = latest freeze, 2 = the one before, ...
}), check=_di_matches_std, rule="di has 8 hex digits for std 2007, else 4")


# event: something that happened to a device or a meter (power down, cover open,
# printer out of paper, ...). E-01, E-06.
EVENT_V1 = Map({
    "code": ID,                                   # e.g. "power-down", "printer-paper-out"
    "severity": Text(choices=("info", "warning", "critical")),
    "state": Text(choices=("once", "raised", "cleared")),
    "meter": optional(METER),                     # when the event is a meter's
    "start_t": optional(Union(T_MS, NULL)),
    "end_t": optional(Union(T_MS, NULL)),
    "count": optional(COUNT),                     # the meter's event counter
    "detail": optional(DETAIL),
}, check=_ordered("start_t", "end_t"), rule="end_t is not before start_t")

# anomaly (M-08, M-09): a reading anomaly raised or cleared for one meter.
ANOMALY_V1 = Map({
    "meter": METER,
    "class": Text(choices=("acquisition-failure", "metering", "usage")),   # M-09
    "code": ID,                     # e.g. "no-reply", "energy-decrease", "theft-suspected"
    "state": Text(choices=("raised", "cleared")),
    "cycle": optional(CYCLE),
    "value": optional(Union(Num(), NULL)),
    "threshold": optional(Union(Num(), NULL)),
    "detail": optional(DETAIL),
})


# anomaly v2 (M-08, M-09): v1 plus the evidence behind the decision, so the hall
# can show what was compared without re-reading the meter: the unit of value
# and threshold, the readings compared (name, value, when, which cycle), when
# the condition was first seen (raised) or first seen gone (cleared), and the
# area for anomalies found by a search rather than a reading.
EVIDENCE = Map({
    "name": Text(64),                       # registry item name ("forward_active_total") or "read"
    "value": Union(Num(), Text(64), NULL),  # the value, or what the read gave ("no-reply")
    "read_t": optional(T_MS),
    "cycle": optional(CYCLE),
})

ANOMALY_V2 = Map({
    "meter": METER,
    "class": Text(choices=("acquisition-failure", "metering", "usage")),   # M-09
    "code": ID,
    "state": Text(choices=("raised", "cleared")),
    "cycle": optional(CYCLE),
    "area": optional(ID),
    "value": Union(Num(), NULL),            # what the rule measured (null: nothing to measure)
    "threshold": Union(Num(), NULL),        # what it was compared with
    "unit": Text(16),                       # of value and threshold: "kWh", "s", "V", "reads", ...
    "since_t": T_MS,                        # raised: condition first seen; cleared: first seen gone
    "evidence": List(EVIDENCE, 16),         # the readings compared, oldest first
    "detail": DETAIL,                       # one readable sentence naming them
})


def _lineloss_rule(body):
    complaint = _ordered("from_t", "to_t")(body)
    if complaint:
        return complaint
    if body["meters"] > body["meters_expected"]:
        return "meters (%d) exceeds meters_expected (%d)" % (body["meters"], body["meters_expected"])
    return None


# lineloss (M-13, K-17): energy balance of one transformer area over one period.
LINELOSS_V1 = Map({
    "area": ID,
    "cycle": CYCLE,
    "from_t": T_MS,
    "to_t": T_MS,
    "supplied_kwh": Num(0, 1e12),           # area total meter
    "billed_kwh": Num(0, 1e12),             # sum of customer meters counted
    "loss_kwh": KWH,                        # supplied - billed (negative when meters disagree)
    "loss_pct": Union(Num(-1e6, 1e6), NULL),    # null when nothing was supplied
    "meters": COUNT,                        # customer meters counted
    "meters_expected": COUNT,               # customer meters in the area
}, check=_lineloss_rule, rule="to_t is not before from_t; meters <= meters_expected")


def _lineloss_v2_rule(body):
    complaint = _lineloss_rule(body)
    if complaint:
        return complaint
    missing = body["missing"]
    if len(set(missing)) != len(missing):
        return "missing lists a meter twice"
    customers_missing = len(missing) - (1 if body["supply"] in missing else 0)
    if body["meters"] + customers_missing != body["meters_expected"]:
        return "meters (%d) + missing customer meters (%d) is not meters_expected (%d)" % (
            body["meters"], customers_missing, body["meters_expected"])
    if (body["supply"] in missing) != (body["supplied_kwh"] is None):
        return "supplied_kwh is null exactly when the supply meter is missing"
    if (body["status"] == "incomplete") != bool(missing):
        return "status is incomplete exactly when missing is not empty"
    if body["status"] == "incomplete" and (body["loss_kwh"] is not None or body["loss_pct"] is not None):
        return "an incomplete balance has null loss_kwh and loss_pct"
    if body["status"] != "incomplete" and body["loss_kwh"] is None:
        return "a complete balance has a loss_kwh"
    if not body["low_pct"] < body["high_pct"]:
        return "low_pct (%r) is not below high_pct (%r)" % (body["low_pct"], body["high_pct"])
    return None


# lineloss v2 (M-13): never a silent wrong figure. v1 plus the supply meter,
# a status ("ok", "out-of-band" outside [low_pct, high_pct], "incomplete"),
# the meters whose energy could not be established (no start or end reading,
# or a register that went backwards without a known rollover or replacement)
# and the band. An incomplete balance carries no loss figure at all: a partial
# sum of customer meters would overstate the loss.
LINELOSS_V2 = Map({
    "area": ID,
    "cycle": CYCLE,
    "from_t": T_MS,
    "to_t": T_MS,
    "supply": METER,                                # the area (supply) meter
    "supplied_kwh": Union(Num(0, 1e12), NULL),      # null when the supply meter is missing
    "billed_kwh": Num(0, 1e12),                     # sum of the customer meters counted
    "loss_kwh": Union(KWH, NULL),                   # supplied - billed; null when incomplete
    "loss_pct": Union(Num(-1e18, 1e18), NULL),      # null when incomplete or nothing was supplied; wide:
                                                    # 1 Wh supplied against 1e12 kWh billed is -1e17 %
    "meters": COUNT,                                # customer meters counted
    "meters_expected": COUNT,                       # customer meters in the area
    "status": Text(choices=("ok", "out-of-band", "incomplete")),
    "missing": List(METER, 4096),                   # meters not counted (supply meter included)
    "low_pct": Num(-100, 100),                      # the band the loss was checked against
    "high_pct": Num(-100, 100),
    "detail": optional(DETAIL),                     # why each missing meter is missing
}, check=_lineloss_v2_rule, rule="to_t is not before from_t; meters <= meters_expected; every expected "
                                 "customer meter is counted or missing; supplied_kwh is null exactly when "
                                 "supply is missing; status is incomplete exactly when missing is not empty, "
                                 "and then loss_kwh and loss_pct are null; low_pct < high_pct")


def _cycle_rule(body):
    complaint = _ordered("started_t", "finished_t")(body)
    if complaint:
        return complaint
    if body["read"] + body["failed"] > body["expected"]:
        return "read + failed (%d) exceeds expected (%d)" % (body["read"] + body["failed"], body["expected"])
    if len(body["missing"]) > body["expected"]:
        return "%d missing meters, more than expected (%d)" % (len(body["missing"]), body["expected"])
    return None


# cycle (M-02, K-16): completeness of one reading cycle, reported when it closes.
CYCLE_V1 = Map({
    "cycle": CYCLE,
    "area": optional(ID),
    "started_t": T_MS,
    "finished_t": T_MS,
    "expected": COUNT,                      # meters in the cycle's plan
    "read": COUNT,                          # meters with every planned item read
    "failed": COUNT,                        # meters that gave up
    "missing": List(METER, 4096),           # meters without a complete reading
}, check=_cycle_rule, rule="finished_t is not before started_t; read + failed <= expected; "
                           "len(missing) <= expected")

# ticket: a queue ticket issued or ended outside a counter.
TICKET_V1 = Map({
    "number": TICKET_NO,
    "day": DAY,
    "business": BUSINESS,
    "more": optional(List(BUSINESS, 8)),    # further businesses on the same ticket
    "priority": Text(choices=("normal", "green", "vip", "appointment")),
    "event": Text(choices=("issued", "reprinted", "cancelled", "expired")),
    "channel": optional(Text(choices=("kiosk", "desk", "app"))),
    "key": optional(Text(64, 1, r"[A-Za-z0-9._:-]+")),   # client idempotency key of "take a ticket"
})


def _call_rule(body):
    if body["action"] == "transfer" and "to_business" not in body and "to_counter" not in body:
        return "a transfer needs to_business or to_counter (Q-04)"
    return None


# call (Q-04, Q-05, Q-06, K-13): what a counter did with a ticket. KPIs come from
# the record times: wait = call - issued, service = finish - start.
CALL_V1 = Map({
    "number": TICKET_NO,
    "day": DAY,
    "action": Text(choices=("call", "recall", "start", "finish", "no-show", "transfer", "recycle", "leave")),
    "counter": ID,
    "staff": optional(STAFF),
    "business": optional(BUSINESS),
    "to_business": optional(BUSINESS),
    "to_counter": optional(ID),
}, check=_call_rule, rule="action transfer needs to_business or to_counter")


def _payment_rule(body):
    if body["status"] == "precollected" and body.get("consent") is not True:
        return "a precollected payment needs consent true (P-02)"
    return None


# payment (P-01..P-05, promise 5): one state of a payment intent. Every intent
# ends paid, failed or precollected; "started" is written before the provider
# is asked, so a crash leaves a trace.
PAYMENT_V1 = Map({
    "intent": Text(64, 1, r"[A-Za-z0-9._:-]+"),      # idempotency key = merchant order number
    "account_masked": Text(32, 1, r"\*+[0-9A-Za-z]{0,4}"),   # e.g. "******1234" (K-09)
    "amount_fen": Int(1, 10 ** 11),
    "method": PAY_METHOD,
    "status": PAY_STATUS,
    "provider_ref": Union(Text(64), NULL),
    "reason": optional(Text(256)),                   # why it failed
    "consent": optional(Bool()),                     # P-02 manual pre-collection
    "received_fen": optional(Int(0, 10 ** 11)),      # cash received (P-03)
    "change_fen": optional(Int(0, 10 ** 11)),        # change given (P-03)
    "receipt": optional(Text(64)),                   # receipt serial (P-05)
    "ticket": optional(TICKET_NO),
    "day": optional(DAY),
}, check=_payment_rule, rule="status precollected needs consent true")

# settlement (P-04, P-08, M-12): the day's payment totals of one kiosk.
SETTLEMENT_V1 = Map({
    "day": DAY,
    "count": COUNT,                                  # payment intents of the day
    "amount_fen": Int(0, 10 ** 14),                  # paid total
    "totals": List(Map({
        "method": PAY_METHOD,
        "status": PAY_STATUS,
        "count": COUNT,
        "amount_fen": Int(0, 10 ** 14),
    }), 64),
    "cash_fen": optional(Int(0, 10 ** 14)),          # cash in the box (P-08)
})


def _rating_rule(body):
    if body["level"] <= 2 and not body.get("reason"):
        return "level %d (dissatisfied) needs a reason" % body["level"]
    return None


# rating (R-01, R-02, R-04, K-01): one customer's rating of one service act,
# five levels: 5 very satisfied, 4 satisfied, 3 basically, 2 dissatisfied,
# 1 very dissatisfied (reason required on the last two).
RATING_V1 = Map({
    "number": TICKET_NO,
    "day": DAY,
    "counter": ID,
    "staff": optional(STAFF),
    "business": optional(BUSINESS),
    "level": Int(1, 5),
    "reason": optional(Text(256)),
}, check=_rating_rule, rule="level 1 or 2 needs a non-empty reason")


def _rating_v2_rule(body):
    level, outcome = body["level"], body["outcome"]
    if (outcome == "rated") != (level is not None):
        return "level is %r with outcome %s: a level is given exactly when the outcome is rated" % (level, outcome)
    if level is not None and level <= 2 and not body.get("reason"):
        return "level %d (dissatisfied) needs a reason" % level
    if level is None and "reason" in body:
        return "a reason without a rating"
    return None


# rating v2 (R-01, R-02, R-04, K-01): every prompt of the rating pad ends in one
# record, so "not rated" is counted instead of missing. v1 plus the outcome:
# "rated" (level 1..5), "timeout" (nobody pressed within the kiosk's timeout)
# or "superseded" (the counter finished its next ticket first); level is null
# unless rated. asked_t is when the pad asked (the finish of the service act).
RATING_V2 = Map({
    "number": TICKET_NO,
    "day": DAY,
    "counter": ID,
    "staff": optional(STAFF),
    "business": optional(BUSINESS),
    "outcome": Text(choices=("rated", "timeout", "superseded")),
    "level": Union(Int(1, 5), NULL),
    "reason": optional(Text(256)),
    "asked_t": T_MS,
}, check=_rating_v2_rule, rule="level is 1..5 exactly when outcome is rated, else null; level 1 or 2 needs a "
                               "non-empty reason; no reason without a level")

# health: device figures, sent periodically; the only kind an outbox may shed.
HEALTH_V1 = Map({
    "uptime_s": Int(0, INT64_MAX),
    "outbox_depth": Int(0, INT64_MAX),               # records not yet acked
    "oldest_unacked_s": Union(Int(0, INT64_MAX), NULL),
    "publish_per_s": Num(0, 1e9),
    "reconnects": Int(0, INT64_MAX),
    "alarms": List(ID, 32),                          # active alarm codes, e.g. "outbox-near-bound"
    "outbox_bytes": optional(Int(0, INT64_MAX)),
    "outbox_bound_bytes": optional(Int(0, INT64_MAX)),
    "cpu_pct": optional(Num(0, 6400)),
    "mem_kb": optional(Int(0, INT64_MAX)),
    "disk_free_kb": optional(Int(0, INT64_MAX)),
    "temp_c": optional(Num(-60, 200)),
})

# kind -> {version: schema}
BODIES = {
    "reading": {1: READING_V1},
    "frozen": {1: FROZEN_V1},
    "event": {1: EVENT_V1},
    "anomaly": {1: ANOMALY_V1, 2: ANOMALY_V2},
    "lineloss": {1: LINELOSS_V1, 2: LINELOSS_V2},
    "cycle": {1: CYCLE_V1},
    "ticket": {1: TICKET_V1},
    "call": {1: CALL_V1},
    "payment": {1: PAYMENT_V1},
    "settlement": {1: SETTLEMENT_V1},
    "rating": {1: RATING_V1, 2: RATING_V2},
    "health": {1: HEALTH_V1},
}
