"""The agent's line searches: find every meter answering on a DL/T 645 line, compare with the archive.

A thin adapter (STYLE.md) around parts that already decide: ``_searcher``
drives the sans-I/O ``SearchPlan`` over the line, and
``AnomalyMonitor.observe_search`` turns the result into 有表无信息
(``meter-without-record``) and 有信息无表 (``record-without-meter``)
anomalies. This module says when a search runs and sends what it found.

* Triggers: the nightly slot of ``[search]`` (``at``, hall-local time, when
  ``enabled``), and the hall's signed ``search-line`` command (args
  ``{"line": name}``), run whether or not the slot is enabled.
* A search is a ``Broadcast`` job of the line's runner, like the time sync
  (``_agent_clock.py``): it waits for the read in flight, holds the line
  for its whole length (no read overlaps a probe) and other lines go on.
* Each search has an id: ``sr-<line>-<local date>`` for a slot,
  ``sr-<command id>`` for a command. Its anomaly records carry the id as
  their ``cycle``; one ``event`` record (code ``line-search``) sums it up.
* Expected meters are the line's archive meters of the editions searched;
  a search that left unresolved collisions is fed with ``complete`` false,
  so a meter it did not find is not counted missing.

Invariant (as ``AgentReports`` for cycles, see ``_agent_state.py``): the
records of a search are appended under producer keys
(``anomaly|<id>|<meter>|<code>|<state>``, ``search|<id>``) *before* the
monitor state and the mark that the id was done are committed in one
transaction. A crash between the two runs the same slot again after the
restart, from the state before it, so the same records come out under the
same keys and the outbox keeps the first ones. A slot missed by more than
``CATCH_UP_S`` (agent down) is skipped; the next night's runs.

Modbus lines are not searched: Modbus RTU has no wildcard address, and a
unit-id scan could not tell an archived meter from a stranger with the same
unit id. A ``search-line`` command naming one is refused.
"""

import datetime
import queue
import re
import time

from ._anomalies_common import clip
from ._cycles_config import STD_1997, STD_2007
from ._ondemand import REFUSED, FAILED, event_body
from ._schedule_events import Broadcast, ItemRead
from .archive import record_area

SEARCH_LINE = "search-line"
SUMMARY = "line-search"
ID_PREFIX = "sr-"
# sr-<id> is a cycle id (64 characters at most, CYCLE in the record schemas).
MAX_ID_CHARS = 64 - len(ID_PREFIX)
_ARGS = ("line",)
_KEYS = ("enabled", "at", "std", "window_s", "lines")
_LINE_KEYS = ("std", "window_s")
_STDS = ("archive", "2007", "1997", "both")
_AT = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
DEFAULT_AT = "02:30"
# A slot is run late after a restart only this close to its time: a search
# holds the line for minutes, and one at 10:00 would delay the morning's reads.
CATCH_UP_S = 6 * 3600
# The search must start within this long of being queued (it waits for the read in flight only).
_START_TIMEOUT_S = 120.0
BODY_V2 = 2     # anomaly bodies (decision 16)


class SearchConfig:
    """The ``[search]`` table.

    Attributes:
        enabled: the nightly slot runs; at: its hall-local ``datetime.time``;
        std: "archive" (the editions of the line's meters), "2007", "1997" or
        "both"; window_s: seconds to listen after each probe (None: the
        line's reply timeout); lines: {line name: {"std", "window_s"}}.
    """

    def __init__(self, enabled=False, at=DEFAULT_AT, std="archive", window_s=None, lines=None):
        self.enabled = enabled
        hour, minute = at.split(":")
        self.at = datetime.time(int(hour), int(minute))
        self.std = std
        self.window_s = window_s
        self.lines = dict(lines or {})

    def of(self, line):
        """(std, window_s) for ``line``: its own table over the defaults."""
        own = self.lines.get(line, {})
        return own.get("std", self.std), own.get("window_s", self.window_s)

    def check_lines(self, names, source=None):
        """Raise ``AgentConfigError`` when ``[search.lines.<name>]`` names a line the archive lacks."""
        from ._agent_config import AgentConfigError
        for name in sorted(self.lines):
            if name not in names:
                raise AgentConfigError("%s: search.lines.%s: no such line in the archive (lines: %s)"
                                       % (source, name, ", ".join(sorted(names))), source, "search.lines.%s" % name)


def load_search_config(doc, path):
    """Check the ``[search]`` table of an agent config.

    Keys: ``enabled`` (default false), ``at`` ("HH:MM", default "02:30"),
    ``std`` (default "archive"), ``window_s`` (0.01 to 10 s), and
    ``[search.lines.<name>]`` tables with ``std`` and ``window_s``.

    Returns:
        a ``SearchConfig``.

    Raises:
        AgentConfigError: naming the file and the ``search.key`` at fault.
    """
    from ._agent_config import AgentConfigError

    def bad(key, expected, got):
        raise AgentConfigError("%s: search.%s: expected %s, got %r" % (path, key, expected, got), path,
                               "search.%s" % key)

    table = doc.get("search", {})
    if not isinstance(table, dict):
        raise AgentConfigError("%s: search: expected a table, got %r" % (path, table), path, "search")

    def common(where, t, keys):
        for key in t:
            if key not in keys:
                bad("%s%s" % (where, key), "one of the keys %s" % ", ".join(keys), key)
        out = {}
        if "std" in t:
            if t["std"] not in _STDS:
                bad(where + "std", "one of %s" % ", ".join('"%s"' % s for s in _STDS), t["std"])
            out["std"] = t["std"]
        if "window_s" in t:
            w = t["window_s"]
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.01 <= w <= 10.0:
                bad(where + "window_s", "seconds from 0.01 to 10", w)
            out["window_s"] = float(w)
        return out

    top = common("", table, _KEYS)
    enabled = table.get("enabled", False)
    if not isinstance(enabled, bool):
        bad("enabled", "true or false", enabled)
    at = table.get("at", DEFAULT_AT)
    if not isinstance(at, str) or not _AT.fullmatch(at):
        bad("at", "a hall-local time \"HH:MM\" (00:00 to 23:59)", at)
    lines = table.get("lines", {})
    if not isinstance(lines, dict):
        bad("lines", "a table of [search.lines.<name>] tables", lines)
    own = {}
    for name, t in lines.items():
        if not isinstance(t, dict):
            bad("lines.%s" % name, "a table", t)
        own[name] = common("lines.%s." % name, t, _LINE_KEYS)
    return SearchConfig(enabled, at, top.get("std", "archive"), top.get("window_s"), own)


def editions(line_meters, std):
    """The DL/T 645 editions to search on a line, 2007 first ([] for a Modbus line)."""
    dlt = [m for m in line_meters if m.protocol in (STD_2007, STD_1997)]
    if not dlt:
        return []
    if std == "archive":
        return [s for s in (STD_2007, STD_1997) if any(m.protocol == s for m in dlt)]
    return [STD_2007, STD_1997] if std == "both" else [std]


class LineSearch:
    """What one search of a line found (the value of its ``Broadcast`` job).

    Attributes:
        found: sorted addresses; unresolved: patterns still colliding;
        probes: frames sent; duration_s: how long it held the line.
    """

    def __init__(self, results, duration_s):
        self.found = sorted({a for r in results for a in r.found})
        self.unresolved = sorted({p for r in results for p in r.unresolved})
        self.probes = sum(r.probes for r in results)
        self.duration_s = duration_s


def run_search(driver, stds, window_s):
    """Search a DL/T 645 line for each edition in ``stds``; for a ``Broadcast`` job.

    Returns:
        a ``LineSearch``.

    Raises:
        LineError: the port failed (the line is closed, opened again at the next job).
    """
    inner = getattr(driver, "driver", driver)       # the agent wraps DLT645Driver
    started = time.monotonic()
    # The driver owns the line's one open port; the job holds the line meanwhile.
    results = [inner.search(std, window_s) for std in stds]
    return LineSearch(results, time.monotonic() - started)


class AgentSearch:
    """Line searches of one agent run (see the module doc). Runs on the agent's thread.

    Args:
        config: a ``SearchConfig``; tz: the hall's ``ZoneInfo``.
        runners: {line name: LineRunner} (filled when the lines start);
        line_meters: {line name: [ArchiveMeter]}.
        reports: the ``AgentReports`` (its monitor); state: the ``AgentState``;
        outbox: the runtime's outbox; clock_ms: ``() -> UTC ms``; say: progress lines.
    """

    def __init__(self, config, tz, runners, line_meters, reports, state, outbox, clock_ms, say):
        self.config = config
        self.tz = tz
        self.runners = runners
        self.line_meters = line_meters
        self.reports, self.state, self.outbox = reports, state, outbox
        self._clock_ms, self._say = clock_ms, say
        self._done = queue.Queue()      # (search id, event) from the runner threads
        self._running = {}              # line -> (search id, command id or None)
        self.finished = []              # search ids, for progress and tests

    # ---- triggers ----

    def poll(self):
        """Finish the searches that ended; start tonight's slot on lines where it is due."""
        while True:
            try:
                search_id, event = self._done.get_nowait()
            except queue.Empty:
                break
            self._finish(search_id, event)
        if not self.config.enabled:
            return
        now_ms = self._clock_ms()
        local = datetime.datetime.fromtimestamp(now_ms / 1000.0, self.tz)
        day = local.date() if local.time() >= self.config.at else local.date() - datetime.timedelta(days=1)
        slot = datetime.datetime.combine(day, self.config.at, tzinfo=self.tz)
        if now_ms - slot.timestamp() * 1000 > CATCH_UP_S * 1000:
            return
        for line in sorted(self.line_meters):
            search_id = "%s%s-%s" % (ID_PREFIX, line, day.isoformat())
            if line in self._running or line not in self.runners or not self.runners[line].running:
                continue
            if editions(self.line_meters[line], self.config.of(line)[0]) and not self.state.fed(search_id):
                self._start(line, search_id, None)

    def command(self, control, outbox):
        """Run a verified ``search-line`` command (``OnDemandReads`` hands it over)."""
        fields = control.fields
        cid = fields["id"]
        args = fields["args"]
        problem = None
        if len(cid) > MAX_ID_CHARS:
            problem = "id has %d characters, at most %d fit in a search id" % (len(cid), MAX_ID_CHARS)
        else:
            for key in sorted(args):
                if key not in _ARGS:
                    problem = "unknown argument %r (search-line takes %s)" % (key, ", ".join(_ARGS))
                    break
            else:
                line = args.get("line")
                if line is None:
                    problem = "argument 'line' is missing"
                elif not isinstance(line, str) or line not in self.line_meters:
                    problem = "line %r is not in the archive (lines: %s)" % (line, ", ".join(sorted(self.line_meters)))
                elif not editions(self.line_meters[line], self.config.of(line)[0]):
                    problem = ("line %s has Modbus meters: only DL/T 645 lines are searched (Modbus has no "
                               "wildcard address)" % line)
        if problem is not None:
            self._answer(REFUSED, "command %s: %s" % (cid, problem), "%s%s|refused" % (ID_PREFIX, cid))
            return
        runner = self.runners.get(line)
        if runner is None or not runner.running:
            problem = "line %s is not running" % line
        elif line in self._running:
            problem = "search %s of line %s is under way" % (self._running[line][0], line)
        if problem is not None:
            self._answer(FAILED, "command %s: line %s not searched: %s" % (cid, line, problem),
                         "%s%s|failed" % (ID_PREFIX, cid))
            return
        self._start(line, ID_PREFIX + cid, cid)

    def _answer(self, code, detail, key):
        self.outbox.append_many([("event", event_body(code, detail))], keys=[key])
        self._say(detail)

    def _start(self, line, search_id, cid):
        stds, window_s = self.config.of(line)
        stds = editions(self.line_meters[line], stds)

        def done(event):
            self._done.put((search_id, event))
        self._running[line] = (search_id, cid)
        self._say("search %s: line %s, DL/T 645-%s%s" % (search_id, line, "/".join(stds),
                                                          "" if cid is None else ", command %s" % cid))
        self.runners[line].broadcast(Broadcast("search", lambda driver: run_search(driver, stds, window_s)), done,
                                     timeout_s=_START_TIMEOUT_S)

    # ---- results ----

    def _finish(self, search_id, event):
        line = next(name for name, (sid, _c) in self._running.items() if sid == search_id)
        _sid, cid = self._running.pop(line)
        now_ms = self._clock_ms()
        head = "command %s: " % cid if cid is not None else ""
        meters = self.line_meters[line]
        stds = editions(meters, self.config.of(line)[0])
        records, keys = [], []
        if not isinstance(event, ItemRead):
            detail = "%ssearch %s of line %s failed: %s: %s" % (head, search_id, line, event.reason, event.message)
            code = SUMMARY if cid is None else FAILED
            records.append(("event", event_body(code, detail)))
            keys.append("search|%s" % search_id)
        else:
            result = event.value
            expected = sorted({m.address for m in meters if m.protocol in stds})
            areas = {record_area(m.area) for m in meters}
            area = areas.pop() if len(areas) == 1 else None
            bodies = self.reports.monitor.observe_search(result.found, expected, now_ms,
                                                         complete=not result.unresolved, area=area)
            for b in bodies:
                b["cycle"] = search_id
                records.append(("anomaly", b, None, None, BODY_V2))
                keys.append("anomaly|%s|%s|%s|%s" % (search_id, b["meter"], b["code"], b["state"]))
                self._say("anomaly %s %s of meter %s: %s" % (b["code"], b["state"], b["meter"], b["detail"]))
            detail = summary_detail(head, search_id, line, stds, result, expected, bodies)
            body = event_body(SUMMARY, detail)
            clean = result.found == expected and not result.unresolved
            body["severity"] = "info" if clean else "warning"
            records.append(("event", body))
            keys.append("search|%s" % search_id)
        self.outbox.append_many(records, keys=keys)
        self.state.commit({"anomalies": self.reports.monitor.state_dict()}, fed=search_id, now_ms=now_ms)
        self.finished.append(search_id)
        self._say(records[-1][1]["detail"])


def summary_detail(head, search_id, line, stds, result, expected, bodies):
    """The ``line-search`` event's detail: one sentence the hall shows as is.

    ``[command <id>: ]search <id> of line L (2007): F found, A in archive,
    N not in archive (...), M not found (...), U unresolved, P probes,
    D s; anomalies: R raised, C cleared``.
    """
    strangers = [a for a in result.found if a not in expected]
    missing = [a for a in expected if a not in result.found]

    def listed(addresses):
        return " (%s)" % ", ".join(addresses[:8] + (["..."] if len(addresses) > 8 else [])) if addresses else ""
    raised = sum(1 for b in bodies if b["state"] == "raised")
    return clip("%ssearch %s of line %s (%s): %d found, %d in archive, %d not in archive%s, %d not found%s, "
                "%d unresolved, %d probes, %.1f s; anomalies: %d raised, %d cleared"
                % (head, search_id, line, "/".join(stds), len(result.found), len(expected), len(strangers),
                   listed(strangers), len(missing), listed(missing), len(result.unresolved), result.probes,
                   result.duration_s, raised, len(bodies) - raised))


__all__ = ["AgentSearch", "LineSearch", "SearchConfig", "editions", "load_search_config", "run_search",
           "summary_detail", "ID_PREFIX", "SEARCH_LINE", "SUMMARY"]
