"""A small queue configuration and clock for the queue tests (imported by them, not a test)."""

import copy
import datetime
import zoneinfo

from kiosk.queue import QueueConfig

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")

BASE = {
    "opens": "08:30",
    "closes": "17:30",
    "priority": {"policy": "ageing", "order": ["green", "vip", "normal"], "ageing_bound_min": 20},
    "no_show": {"recalls": 2, "requeue": "back", "max_requeues": 1},
    "category": {"A": {"name": "Business"}, "B": {"name": "Payment"}},
    "business": {
        "change.rename": {"category": "A", "limit_min": 10, "service_min": 6},
        "other.consult": {"category": "A", "limit_min": 10, "service_min": 4},
        "payment": {"category": "B", "limit_min": 3, "service_min": 2},
    },
    "counter": {"w1": {"categories": ["A"]}, "w2": {"categories": ["B"]}, "w3": {"categories": ["A", "B"]}},
}


def config(**changes):
    """BASE with top-level tables replaced or merged: ``config(priority={"policy": "strict"})``."""
    table = copy.deepcopy(BASE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(table.get(key), dict) and key not in ("counter", "business"):
            table[key].update(value)
        else:
            table[key] = value
    return QueueConfig.from_dict(table, "test.toml")


def at(hh, mm, ss=0, day=3):
    """UTC ms of a local time on 2024-06-<day> in the hall's zone."""
    return int(datetime.datetime(2024, 6, day, hh, mm, ss, tzinfo=TZ).timestamp() * 1000)


MIN = 60_000
