"""Estimated wait for a new ticket: a queue-length estimator.

queue-systems.md "Wait estimates": count the tickets ahead in the real call
order, multiply by a recent mean of the time a ticket holds a counter (from
its call to its finish or transfer), and divide by the counters open for the
category, a counter that serves k categories counting 1/k. Queue-length
estimators beat history-only ones on multi-server queues (Ibrahim and Whitt,
2009). Until a category has ``MIN_SAMPLES`` services in the window, its mean
is the configured service times of its business types.

Pure functions: the engine passes what it knows.
"""

# Below this many recent services the mean is too noisy; use the configured prior.
MIN_SAMPLES = 3

# The bands a screen shows instead of a false exact minute ("under 10 minutes").
BANDS_MIN = (5, 10, 15, 20, 30, 45, 60, 90, 120)


class Estimate:
    """What a ticket screen can say about the wait in one category.

    Attributes:
        category: the category prefix.
        ahead: tickets that would be called first.
        counters: counters open for it, fractional (a counter serving k categories counts 1/k).
        mean_service_s: the mean time a ticket holds a counter, used below.
        wait_s: the expected wait in seconds, or None when no counter is open.
        band_min: the smallest band of ``BANDS_MIN`` at or above the wait,
            None when the wait is unknown or above the last band.
    """

    __slots__ = ("category", "ahead", "counters", "mean_service_s", "wait_s", "band_min")

    def __init__(self, category, ahead, counters, mean_service_s, wait_s):
        self.category = category
        self.ahead = ahead
        self.counters = counters
        self.mean_service_s = mean_service_s
        self.wait_s = wait_s
        self.band_min = None
        if wait_s is not None:
            self.band_min = next((b for b in BANDS_MIN if wait_s <= b * 60), None)

    def __repr__(self):
        return "Estimate(%s, ahead=%d, counters=%.2f, wait_s=%r)" % (
            self.category, self.ahead, self.counters, self.wait_s)


def mean_service_s(samples, prior_s, now_ms, window_s, max_samples):
    """The mean counter-holding time of the recent services of a category.

    Args:
        samples: (end_ms, held_s) pairs, oldest first.
        prior_s: the configured mean, used when there are too few samples.
        now_ms: the time of the estimate.
        window_s: only services that ended within this window count.
        max_samples: only the last this many count.

    Returns:
        Seconds (float).
    """
    recent = [held for end_ms, held in samples if now_ms - end_ms <= window_s * 1000][-max_samples:]
    if len(recent) < MIN_SAMPLES:
        return float(prior_s)
    return sum(recent) / len(recent)


def estimate_wait(category, ahead, counters, idle, mean_s):
    """Expected wait of a ticket taken now.

    With ``idle`` counters free and fewer tickets ahead, it is called at once.
    Otherwise it waits for ``ahead - idle + 1`` services spread over the open
    counters (the M/M/c picture: with every counter busy and nobody ahead,
    the first of c counters frees after mean/c).

    Args:
        category: the category prefix (for the result).
        ahead: tickets that would be called before it.
        counters: open counters for the category, fractional.
        idle: open counters for it that hold no ticket.
        mean_s: mean counter-holding time.

    Returns:
        An ``Estimate``.
    """
    if counters <= 0:
        return Estimate(category, ahead, 0.0, mean_s, None)
    if ahead < idle:
        return Estimate(category, ahead, counters, mean_s, 0)
    return Estimate(category, ahead, counters, mean_s, int(round((ahead - idle + 1) * mean_s / counters)))


def naive_wait_s(ahead, mean_s):
    """The baseline a simple ticket machine shows: tickets ahead times a fixed mean service time."""
    return int(round(ahead * mean_s))
