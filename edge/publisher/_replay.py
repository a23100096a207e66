"""The replay rule for the hall's commands (docs/records.md, "Replays").

A signed command stays valid forever, so the device refuses old ones itself:

* an ``id`` it has run within the window W is refused (``seen``);
* with a known clock, a ``t`` older than now - W (``too-old``) or newer than
  now + W (``from-future``) is refused; ids older than W are then forgotten,
  since such a command is refused on its ``t`` anyway;
* with an unknown clock (tq ``none``), a ``t`` not newer than the newest
  command run is refused (``not-newer``).

At most once: a command is remembered before it is run, so one that fails
half-way is not run again by a replay. Memory is bounded: at most
``max_ids`` ids are kept (a hall sends a few commands a minute; 10,000 in
10 minutes would be an attack), and past that the oldest go first, while the
``not-newer`` floor below them keeps protecting against their replay.
"""

from collections import OrderedDict

from ._values import CommandRefused


class CommandGate:
    """Admit each command at most once (see the module docstring).

    Args:
        window_ms: W, in milliseconds (10 minutes suggested).
        max_ids: the most ids remembered.
    """

    def __init__(self, window_ms=600000, max_ids=10000):
        self.window_ms = window_ms
        self.max_ids = max_ids
        self._ids = OrderedDict()     # id -> t of the command, in the order run
        self.newest_t_ms = None       # the newest t of a command run
        self._floor_t_ms = None       # the newest t of an id forgotten for room

    def admit(self, control, now_ms, clock_known):
        """Decide whether to run a verified command, and remember it if so.

        Args:
            control: a verified ``protocols.records.Control`` of kind "command".
            now_ms: the device's UTC time in ms.
            clock_known: False when the device's time is unknown (tq "none").

        Returns:
            None to run it, or a ``CommandRefused`` saying why not.
        """
        cid = control.fields["id"]
        t_ms = control.t_ms
        if clock_known:
            self._forget_before(now_ms - self.window_ms)
        if cid in self._ids:
            return CommandRefused(cid, "seen", "command %s was already run (t %d)" % (cid, self._ids[cid]))
        if clock_known:
            if t_ms < now_ms - self.window_ms:
                return CommandRefused(cid, "too-old", "command %s t %d is older than now %d minus %d ms"
                                      % (cid, t_ms, now_ms, self.window_ms))
            if t_ms > now_ms + self.window_ms:
                return CommandRefused(cid, "from-future", "command %s t %d is later than now %d plus %d ms"
                                      % (cid, t_ms, now_ms, self.window_ms))
            if self._floor_t_ms is not None and t_ms <= self._floor_t_ms:
                return CommandRefused(cid, "not-newer", "command %s t %d is not newer than %d, below which "
                                      "ids were forgotten for room" % (cid, t_ms, self._floor_t_ms))
        elif self.newest_t_ms is not None and t_ms <= self.newest_t_ms:
            return CommandRefused(cid, "not-newer", "command %s t %d is not newer than the newest command run "
                                  "(t %d) and the device clock is unknown" % (cid, t_ms, self.newest_t_ms))
        self._ids[cid] = t_ms
        self.newest_t_ms = t_ms if self.newest_t_ms is None else max(self.newest_t_ms, t_ms)
        while len(self._ids) > self.max_ids:
            _old_id, old_t = self._ids.popitem(last=False)
            self._floor_t_ms = old_t if self._floor_t_ms is None else max(self._floor_t_ms, old_t)
        return None

    def _forget_before(self, limit_ms):
        for cid in [c for c, t in self._ids.items() if t < limit_ms]:
            del self._ids[cid]

    def __len__(self):
        return len(self._ids)
