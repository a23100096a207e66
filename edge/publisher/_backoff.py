"""When to try again: exponential backoff with jitter, bounded, without a clock.

The delay after the n-th failure in a row is drawn uniformly from
``[min_s, min(max_s, min_s * factor ** (n - 1))]`` ("full jitter" with a
floor): the ceiling doubles per failure, so a hall of devices that lost the
broker together does not come back in lock-step, and no device waits longer
than ``max_s`` or retries faster than ``min_s``.

The count resets only once a connection has stayed up for ``stable_s``: a
broker that accepts and then drops at once (a full disk, a revoked
certificate) must not be hammered at ``min_s``.
"""


class Backoff:
    """The retry schedule (see the module docstring).

    Args:
        min_s: the shortest delay, and the first one (0.5 s: a restarting broker
            is usually back within a second).
        max_s: the longest delay (60 s: a device notices a returned broker
            within a minute).
        factor: growth of the ceiling per failure.
        stable_s: how long a connection must last before the count resets.
        random: ``() -> float`` in [0, 1), e.g. ``random.Random(seed).random``.
    """

    def __init__(self, random, min_s=0.5, max_s=60.0, factor=2.0, stable_s=10.0):
        if not 0 < min_s <= max_s:
            raise ValueError("backoff needs 0 < min_s <= max_s, got min_s=%r max_s=%r" % (min_s, max_s))
        if factor < 1:
            raise ValueError("backoff factor must be >= 1, got %r" % (factor,))
        self.min_s = min_s
        self.max_s = max_s
        self.factor = factor
        self.stable_s = stable_s
        self._random = random
        self.failures = 0
        self._up_since = None

    def ceiling_s(self, failures):
        """The largest delay after ``failures`` failures in a row."""
        if failures <= 0:
            return self.min_s
        # Stop multiplying once past max_s, so a long outage cannot overflow a float.
        ceiling = self.min_s
        for _ in range(failures - 1):
            ceiling *= self.factor
            if ceiling >= self.max_s:
                return self.max_s
        return min(ceiling, self.max_s)

    def succeeded(self, now_s):
        """Note that a connection (or a publish) succeeded at ``now_s``."""
        self._up_since = now_s

    def failed(self, now_s):
        """Note a failure at ``now_s``; return the delay in seconds before the next try."""
        if self._up_since is not None and now_s - self._up_since >= self.stable_s:
            self.failures = 0
        self._up_since = None
        self.failures += 1
        ceiling = self.ceiling_s(self.failures)
        return self.min_s + self._random() * (ceiling - self.min_s)

    def reset(self):
        """Forget the failures (a refusal cleared by a success)."""
        self.failures = 0
        self._up_since = None
