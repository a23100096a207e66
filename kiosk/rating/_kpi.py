"""Satisfaction KPIs from rating records (pure): the same on the kiosk and the hall (promise 7).

The requirements set a target of "80 or more" without a scale (R-02, K-01,
open item 3). This project reads it two ways and reports both:

* ``rate_pct``: the satisfaction rate (满意率), the share of ratings at
  level 3 "basically satisfied" or above, in percent. The government
  service standard counts those three levels as satisfied.
* ``score``: the mean level on a 100-point scale (level x 20, so 5 -> 100,
  1 -> 20).

``meets_target`` is ``rate_pct >= 80``. Only rated prompts count; prompts
that ended "timeout" or "superseded" are reported separately
(``not_rated``, ``response_pct``) so a counter cannot raise its rate by
letting customers skip the pad. Works on version 1 bodies (always rated)
and version 2 bodies alike. Per counter and per staff member (R-04) by
``group_by``.
"""

TARGET_PCT = 80.0      # R-02, K-01: "达到80以上"
SATISFIED_FROM = 3     # levels 3, 4, 5


def _is_rated(body):
    return body.get("outcome", "rated") == "rated" and body.get("level") is not None


def satisfaction(bodies, target_pct=TARGET_PCT):
    """The satisfaction figures of a set of rating record bodies.

    Args:
        bodies: rating bodies (version 1 or 2).
        target_pct: the target for ``meets_target``.

    Returns:
        A dict: ``asked`` (prompts), ``rated``, ``not_rated``, ``levels``
        ({1..5: count}), ``rate_pct`` and ``score`` (None without ratings),
        ``response_pct`` (None without prompts), ``meets_target`` (None
        without ratings).
    """
    levels = dict.fromkeys(range(1, 6), 0)
    asked = 0
    for body in bodies:
        asked += 1
        if _is_rated(body):
            levels[body["level"]] += 1
    rated = sum(levels.values())
    satisfied = sum(n for level, n in levels.items() if level >= SATISFIED_FROM)
    rate = 100.0 * satisfied / rated if rated else None
    return {"asked": asked, "rated": rated, "not_rated": asked - rated, "levels": levels,
            "rate_pct": rate, "score": 20.0 * sum(lv * n for lv, n in levels.items()) / rated if rated else None,
            "response_pct": 100.0 * rated / asked if asked else None,
            "meets_target": None if rate is None else rate >= target_pct}


def group_by(bodies, field, target_pct=TARGET_PCT):
    """``satisfaction`` per value of ``field`` ("counter", "staff", "day", "business"); a missing value is None."""
    groups = {}
    for body in bodies:
        groups.setdefault(body.get(field), []).append(body)
    return {key: satisfaction(items, target_pct) for key, items in groups.items()}
