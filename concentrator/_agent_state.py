"""What the agent keeps across restarts besides the ledger: analysis state, in its own SQLite file.

The agent's file already holds the archive (``archive_*`` tables) and the
ledger (``ledger_*``); these tables are ``agent_*``, and no other module
reads them.

* ``agent_state``: named JSON values: the anomaly monitor's
  ``state_dict()`` and each line's last time sync.
* ``agent_fed``: the closed cycles whose anomalies and line loss were
  worked out.

Invariant: the monitor state a closed cycle produced and the mark that the
cycle was fed are committed in one transaction (``commit``), *after* the
records the cycle produced were appended to the outbox under producer keys.
A crash before the commit feeds the cycle again after the restart, from the
state before it: the same records come out under the same keys, and the
outbox keeps the first ones. A crash after it feeds nothing twice. So a
restart neither forgets an anomaly nor raises it again.
"""

import json
import sqlite3

from ._errors import ConcentratorError

TABLES = (
    "CREATE TABLE IF NOT EXISTS agent_state (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS agent_fed (cycle_id TEXT PRIMARY KEY, fed_ms INTEGER NOT NULL) WITHOUT ROWID",
)


class AgentStateError(ConcentratorError):
    """The agent's state tables cannot be read or written, or hold what no agent wrote.

    Attributes:
        path: the database file; name: the value at fault (or None).
    """

    def __init__(self, message, path=None, name=None):
        super().__init__(message)
        self.path = path
        self.name = name


class AgentState:
    """The ``agent_*`` tables of the agent's database (one connection, the agent's thread only).

    Args:
        path: the agent's SQLite file (created tables if missing).

    Raises:
        AgentStateError: the file cannot be opened or the tables created.
    """

    def __init__(self, path):
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            # Same settings as the ledger: WAL, and every commit synced.
            self._db.execute("PRAGMA journal_mode = wal")
            self._db.execute("PRAGMA synchronous = 2")
            for sql in TABLES:
                self._db.execute(sql)
        except sqlite3.Error as exc:
            raise AgentStateError("%s: cannot open the agent state tables: %s" % (self.path, exc), self.path) from exc

    def close(self):
        self._db.close()

    def get(self, name, default=None):
        """The JSON value stored as ``name``, or ``default``.

        Raises:
            AgentStateError: the stored text is not JSON (names the value).
        """
        row = self._query("SELECT value FROM agent_state WHERE name = ?", (name,))
        if not row:
            return default
        try:
            return json.loads(row[0][0])
        except ValueError as exc:
            raise AgentStateError("%s: agent_state %r is not JSON: %s" % (self.path, name, exc), self.path,
                                  name) from exc

    def fed(self, cycle_id):
        """True when ``cycle_id`` was fed (its ``commit`` happened)."""
        return bool(self._query("SELECT 1 FROM agent_fed WHERE cycle_id = ?", (cycle_id,)))

    def commit(self, values, fed=None, now_ms=0):
        """Store ``values`` ({name: JSON-able}) and mark cycle ``fed``, in one transaction.

        Raises:
            AgentStateError: the write failed; nothing was stored.
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for name, value in values.items():
                    self._db.execute("INSERT OR REPLACE INTO agent_state (name, value) VALUES (?, ?)",
                                     (name, json.dumps(value, separators=(",", ":"), sort_keys=True)))
                if fed is not None:
                    self._db.execute("INSERT OR IGNORE INTO agent_fed (cycle_id, fed_ms) VALUES (?, ?)",
                                     (fed, int(now_ms)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except (sqlite3.Error, TypeError, ValueError) as exc:
            raise AgentStateError("%s: cannot store the agent state (%s): %s"
                                  % (self.path, ", ".join(sorted(values)) or fed, exc), self.path) from exc

    def _query(self, sql, params):
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AgentStateError("%s: cannot read the agent state: %s" % (self.path, exc), self.path) from exc


__all__ = ["AgentState", "AgentStateError"]
