"""The concentrator agent's config file (``concentrator run --config FILE``).

The device tables (``[device] [hall] [outbox] [publisher]``, ``edge``),
``[agent]`` (archive db, loop period, per-line timing), ``[cycles]``
(``CycleConfig``), the report tables ``[anomalies] [lineloss]
[clocksync]`` (``load_report_config``) and ``[search]``
(``load_search_config``), and ``[clock]`` (the agent's own clock quality,
``edge.clock.clock_settings``). Every mistake names the file and the
``table.key``.
"""

import os

import edge
from edge.clock import clock_settings

from ._agent_reports import load_report_config
from ._agent_search import load_search_config
from ._cycles_config import CycleConfig, CycleConfigError
from ._errors import ConcentratorError

DEFAULT_DB = "concentrator.db"
DEFAULT_POLL_S = 1.0
_AGENT_KEYS = ("db", "poll_s", "lines")
_LINE_KEYS = ("timeout_s", "pacing_s", "retry_delay_s")
# The agent's rest before a failed item is tried again, while the line reads
# other meters. Not 0 (ScheduleSettings' own default): a meter slower than the
# timeout answers late, at the cadence of its retries, and immediate retries
# put the next meter's requests where those late replies land, so a healthy
# neighbour could lose every attempt (seen in tests/concentrator/test_agent_area.py).
DEFAULT_RETRY_DELAY_S = 0.5


class AgentConfigError(ConcentratorError):
    """The agent's config file is wrong.

    Attributes:
        path: the file; key: the ``table.key`` at fault (or None).
    """

    def __init__(self, message, path=None, key=None):
        super().__init__(message)
        self.path = path
        self.key = key


class AgentConfig:
    """A parsed agent config file.

    Attributes:
        source: the file; device: its ``edge.DeviceConfig``; db_path: the
        archive and ledger file; poll_s: the loop period; lines: {line name:
        {"timeout_s", "pacing_s"}} overrides; cycles: a ``CycleConfig``;
        reports: a ``ReportConfig`` ([anomalies], [lineloss], [clocksync]);
        search: a ``SearchConfig`` ([search]); clock: ``edge.clock.ClockQuality``
        keyword arguments ([clock]: ``rtc_err_ms``, ``cache_s``, ``rtc_path``).
    """

    def __init__(self, source, device, db_path, poll_s, lines, cycles):
        self.source = source
        self.device = device
        self.db_path = db_path
        self.poll_s = poll_s
        self.lines = lines
        self.cycles = cycles
        self.clock = clock_settings({})


def _bad(path, key, expected, got):
    raise AgentConfigError("%s: %s: expected %s, got %r" % (path, key, expected, got), path, key)


def _seconds(path, table, key, where, low, high):
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        _bad(path, "%s.%s" % (where, key), "seconds from %s to %s" % (low, high), value)
    return float(value)


def load_agent_config(path):
    """Read and check an agent config file: the device tables, ``[agent]`` and ``[cycles]``.

    ``[anomalies]``, ``[lineloss]`` and ``[clocksync]``: see
    ``load_report_config``; ``[search]``: ``load_search_config``.

    ``[agent]`` keys: ``db`` (relative to the file's directory, default
    ``concentrator.db``), ``poll_s`` (default 1.0) and ``[agent.lines.<name>]``
    tables with ``timeout_s``, ``pacing_s`` and ``retry_delay_s`` (default
    ``DEFAULT_RETRY_DELAY_S``).

    Returns:
        an ``AgentConfig``.

    Raises:
        edge.ConfigError: the file is missing or not TOML, or a device table is wrong.
        AgentConfigError: an [agent] or [cycles] key is wrong; names the file and key.
    """
    path = str(path)
    doc = edge.read_toml(path)
    device = edge.parse_device_config(doc, source=path)
    agent = doc.get("agent", {})
    if not isinstance(agent, dict):
        _bad(path, "agent", "a table", agent)
    for key in agent:
        if key not in _AGENT_KEYS:
            _bad(path, "agent.%s" % key, "one of the keys %s" % ", ".join(_AGENT_KEYS), key)
    db = agent.get("db", DEFAULT_DB)
    if not isinstance(db, str) or not db:
        _bad(path, "agent.db", "a file name", db)
    db_path = db if os.path.isabs(db) else os.path.join(os.path.dirname(os.path.abspath(path)), db)
    poll_s = _seconds(path, agent, "poll_s", "agent", 0.01, 60.0) if "poll_s" in agent else DEFAULT_POLL_S
    lines = {}
    tables = agent.get("lines", {})
    if not isinstance(tables, dict):
        _bad(path, "agent.lines", "a table of [agent.lines.<name>] tables", tables)
    for name, table in tables.items():
        where = "agent.lines.%s" % name
        if not isinstance(table, dict):
            _bad(path, where, "a table", table)
        for key in table:
            if key not in _LINE_KEYS:
                _bad(path, "%s.%s" % (where, key), "one of the keys %s" % ", ".join(_LINE_KEYS), key)
        lines[name] = {}
        if "timeout_s" in table:
            lines[name]["timeout_s"] = _seconds(path, table, "timeout_s", where, 0.01, 60.0)
        if "pacing_s" in table:
            lines[name]["pacing_s"] = _seconds(path, table, "pacing_s", where, 0.0, 10.0)
        if "retry_delay_s" in table:
            lines[name]["retry_delay_s"] = _seconds(path, table, "retry_delay_s", where, 0.0, 60.0)
    try:
        cycles = CycleConfig.from_dict(doc.get("cycles"))
    except CycleConfigError as exc:
        raise AgentConfigError("%s: %s" % (path, exc), path, exc.key) from exc
    config = AgentConfig(path, device, db_path, poll_s, lines, cycles)
    config.reports = load_report_config(doc, path, cycles)
    config.search = load_search_config(doc, path)
    clock = doc.get("clock", {})
    if not isinstance(clock, dict):
        _bad(path, "clock", "a table", clock)
    try:
        config.clock = clock_settings(clock, path)
    except edge.ConfigError as exc:
        raise AgentConfigError("%s: %s" % (path, exc), path, exc.key) from exc
    return config


__all__ = ["AgentConfig", "AgentConfigError", "DEFAULT_DB", "DEFAULT_POLL_S", "DEFAULT_RETRY_DELAY_S", "load_agent_config"]
