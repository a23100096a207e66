"""Record bodies that follow their kinds' schemas, numbered so that records differ."""


def reading(i=0):
    """A reading body (M-01: one value of one meter in a reading cycle)."""
    return {"meter": "%012d" % (202311150000 + i % 1000), "di": "00010000", "name": "forward_active_total",
            "value": round(1000 + i * 0.01, 2), "unit": "kWh", "std": "2007", "cycle": "2024-06-01",
            "read_t": 1717200000000 + i}


def health(i=0):
    return {"uptime_s": i, "outbox_depth": 0, "oldest_unacked_s": None, "publish_per_s": 0.0, "reconnects": 0,
            "alarms": []}


def payment(i=0):
    return {"intent": "pay-%d" % i, "account_masked": "******1234", "amount_fen": 12345, "method": "qr",
            "status": "paid", "provider_ref": "ref-%d" % i}


def event(i=0):
    return {"code": "power-down", "severity": "warning", "state": "once"}
