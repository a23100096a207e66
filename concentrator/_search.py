"""Finding every meter on a line by a wildcard tree search (DL/T 645 §6).

Shortened addressing lets a master fill address bytes with ``AA``: a meter
whose remaining bytes match answers. The planner starts with all twelve
digits wildcarded. For each probe the driver reports what came back:

* silence: no meter matches the pattern;
* clean replies only: those meters are all the pattern selects (replies with
  different delays can arrive one after another without overlapping);
* garbage (bytes lost to a collision or noise), with or without clean
  replies: at least two meters answered at once, so the pattern is split by
  fixing its lowest wildcard byte to 00..99 (A0, the lowest nameplate digits,
  vary most between neighbouring meters, so they split best).

A fully specified address that still collides (two meters sharing one
address, or one meter whose replies are always garbled) is retried and then
reported as unresolved rather than searched forever. The planner is sans I/O:
it returns patterns and takes outcomes, so it is tested without a line.
"""

from protocols.dlt645 import WILDCARD, address_matches

DIGIT_PAIRS = ["%02d" % i for i in range(100)]


class SearchResult:
    """Outcome of a search.

    Attributes:
        found: sorted list of addresses.
        unresolved: patterns that kept colliding at full depth.
        probes: request frames sent.
        collisions: probes that came back garbled.
    """

    def __init__(self, found, unresolved, probes, collisions):
        self.found = found
        self.unresolved = unresolved
        self.probes = probes
        self.collisions = collisions


class SearchPlan:
    """The sans-I/O search planner.

    Use ``next_probe()`` to get a pattern (None when done), then report what
    came back with ``outcome(pattern, addresses, garbled)``.

    Args:
        full_depth_retries: how often a fully specified pattern that collides
            is probed again before it is reported unresolved.
    """

    def __init__(self, full_depth_retries=2):
        self._todo = [WILDCARD]
        self._retries = {}
        self.full_depth_retries = full_depth_retries
        self.found = set()
        self.unresolved = []
        self.probes = 0
        self.collisions = 0

    @property
    def pending(self):
        """Patterns still to probe."""
        return len(self._todo)

    def next_probe(self):
        """The next pattern to probe, or None when the search is complete."""
        if not self._todo:
            return None
        self.probes += 1
        return self._todo.pop()

    def outcome(self, pattern, addresses, garbled):
        """Record what a probe of ``pattern`` brought back.

        Args:
            pattern: the pattern probed.
            addresses: addresses of clean replies selected by the pattern.
            garbled: True if bytes were lost (collision, noise, bad checksum).
        """
        for address in addresses:
            if address_matches(pattern, address) and "A" not in address:
                self.found.add(address)
        if not garbled:
            return
        self.collisions += 1
        split = pattern.rfind("AA")
        if split < 0:
            tries = self._retries.get(pattern, 0)
            if tries < self.full_depth_retries:
                self._retries[pattern] = tries + 1
                self._todo.append(pattern)
            elif pattern not in self.found:
                self.unresolved.append(pattern)
            return
        # rfind gives the lowest wildcard pair (A0 is the last two characters);
        # pairs are aligned to even offsets.
        if split % 2:
            split -= 1
        children = [pattern[:split] + pair + pattern[split + 2:] for pair in DIGIT_PAIRS]
        children.reverse()          # pop() then probes 00 first
        self._todo.extend(children)

    def result(self):
        return SearchResult(sorted(self.found), sorted(self.unresolved), self.probes, self.collisions)


def probe_function(std):
    """Function code and DI used to probe: a read of forward active energy,
    which every meter supports (00010000 in 2007, 9010 in 1997)."""
    if std == "1997":
        return 0x01, 0x9010
    return 0x11, 0x00010000
