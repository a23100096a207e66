"""Optional SQLite file behind the back office's books, so postings survive a restart.

Two tables of JSON rows: ``accounts`` (one per customer number) and
``payments`` (one per idempotency key, with the posting order). The file is
opened in WAL mode with ``synchronous=FULL``: a posting the back office has
answered is on disk, so a restarted back office still knows every key and
never applies a payment twice.
"""

import json
import sqlite3

from ._errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (number TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payments (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
"""


class LedgerStore:
    """The SQLite file of one back office.

    Args:
        path: the database file; created if missing.

    Raises:
        ConfigError: the file cannot be opened or is not such a database.
    """

    def __init__(self, path):
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError("%s: cannot open the back office database: %s" % (self.path, exc),
                              path=self.path) from exc

    def load(self):
        """(accounts, payments) stored, payments in posting order; ([], []) for a new file."""
        accounts = [json.loads(row[0]) for row in self._db.execute("SELECT body FROM accounts ORDER BY number")]
        payments = [json.loads(row[0]) for row in self._db.execute("SELECT body FROM payments ORDER BY seq")]
        return accounts, payments

    def save(self, accounts, payments):
        """Write changed accounts and new payments in one transaction."""
        if not accounts and not payments:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO accounts (number, body) VALUES (?, ?)",
                                 [(a["number"], json.dumps(a, ensure_ascii=False)) for a in accounts])
            self._db.executemany("INSERT INTO payments (key, body) VALUES (?, ?)",
                                 [(p["key"], json.dumps(p, ensure_ascii=False)) for p in payments])

    def close(self):
        self._db.close()
