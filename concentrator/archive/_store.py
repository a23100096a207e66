"""The archive in the agent's SQLite database file.

The same file later holds other parts of the agent (the scheduler's
completeness ledger), so every table here is named ``archive_*`` and the
archive keeps its own schema version.

Invariants:

* Only valid archives are stored: an import is checked as a whole (the rows,
  then the rules across rows against what stays in the archive) inside the
  write transaction, and either every row is stored or none is.
* ``unit`` is 0 in the table for a DL/T 645 meter (None in ``ArchiveMeter``):
  SQLite treats NULLs as distinct, which would defeat the primary key, and
  0 is the Modbus broadcast id, never a meter's.
* One supply meter per area is also a unique index, so even a writer that
  bypasses this module cannot store two.
* Every import is logged in ``archive_imports`` (M-04: changes to reading
  segments are recorded).
"""

import os
import sqlite3
import time

from ._errors import ArchiveFileError, ArchiveStoreError
from ._fields import ArchiveMeter
from ._files import ParsedArchive, load_archive_file
from ._rules import check_archive

SCHEMA_VERSION = 1
MODES = ("merge", "replace")
DEFAULT_DB = "concentrator.db"

TABLES = (
    """CREATE TABLE archive_schema (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    )""",
    """CREATE TABLE archive_meters (
        line TEXT NOT NULL,
        address TEXT NOT NULL CHECK (length(address) = 12),
        unit INTEGER NOT NULL CHECK (unit BETWEEN 0 AND 247),
        protocol TEXT NOT NULL,
        port TEXT NOT NULL,
        baud INTEGER NOT NULL,
        parity TEXT NOT NULL CHECK (parity IN ('E', 'N', 'O')),
        area TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('customer', 'supply')),
        customer TEXT NOT NULL,
        phases INTEGER NOT NULL CHECK (phases IN (1, 3)),
        ct_ratio REAL NOT NULL CHECK (ct_ratio > 0),
        pt_ratio REAL NOT NULL CHECK (pt_ratio > 0),
        name TEXT NOT NULL,
        location TEXT NOT NULL,
        PRIMARY KEY (line, address, unit)
    )""",
    "CREATE UNIQUE INDEX archive_meters_one_supply ON archive_meters (area) WHERE role = 'supply'",
    "CREATE INDEX archive_meters_area ON archive_meters (area)",
    """CREATE TABLE archive_imports (
        id INTEGER PRIMARY KEY,
        t_ms INTEGER NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('merge', 'replace')),
        source TEXT NOT NULL,
        added INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        meters INTEGER NOT NULL
    )""",
)

_COLUMNS = ("address", "unit", "protocol", "line", "port", "baud", "parity", "area", "role", "customer", "phases",
            "ct_ratio", "pt_ratio", "name", "location")
_SELECT = "SELECT %s FROM archive_meters" % ", ".join(_COLUMNS)
_ORDER = " ORDER BY line, address, unit"


def _to_row(meter):
    return tuple(0 if (c == "unit" and meter.unit is None) else getattr(meter, c) for c in _COLUMNS)


def _from_row(row):
    fields = dict(zip(_COLUMNS, row))
    fields["unit"] = fields["unit"] or None
    return ArchiveMeter(**fields)


class ImportSummary:
    """What an import did (or, for a dry run, would do).

    Attributes:
        mode: ``"merge"`` or ``"replace"``; dry_run: bool; source: the file.
        file_meters, file_lines, file_areas: counts in the imported file.
        added, updated, removed, unchanged: meters, against the archive before.
        meters, lines, areas: the archive after.
        warnings: Problems that did not block the import.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def as_dict(self):
        out = dict(self.__dict__)
        out["warnings"] = [str(p) for p in self.warnings]
        return out


class ArchiveLine:
    """A line as the archive has it: name, port, baud, parity and its meters."""

    def __init__(self, name, port, baud, parity, meters):
        self.name, self.port, self.baud, self.parity, self.meters = name, port, baud, parity, meters

    def __repr__(self):
        return "ArchiveLine(%r, %r, %d %s, %d meters)" % (self.name, self.port, self.baud, self.parity,
                                                           len(self.meters))


class Archive:
    """The meter archive in a SQLite file (WAL).

    Args:
        path: the database file.
        create: create the file and tables if missing (an import does);
            False opens an existing file only (list, export) and reads an
            archive without tables as empty.

    Raises:
        ArchiveStoreError: the file is missing (create=False), is not a
            SQLite database, has another archive schema version, or cannot be used.
    """

    def __init__(self, path=DEFAULT_DB, create=True):
        self.path = str(path)
        if not create and not os.path.exists(self.path):
            raise ArchiveStoreError("no archive database %s" % self.path, self.path)
        if create and self.path != ":memory:" and not os.path.exists(self.path):
            # The file holds customer numbers (S-01): readable by its owner
            # only. SQLite gives its -wal and -shm files the same mode.
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise ArchiveStoreError("cannot create archive database %s: %s" % (self.path, exc.strerror or exc),
                                        self.path) from exc
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        except sqlite3.Error as exc:
            raise ArchiveStoreError("cannot open archive database %s: %s" % (self.path, exc), self.path) from exc
        try:
            self._tables = self._open(create)
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._conn.close()

    # ------------------------------------------------------------ plumbing

    def _error(self, what, exc):
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            return ArchiveStoreError("%s is not a SQLite database" % self.path, self.path)
        return ArchiveStoreError("archive database %s: cannot %s: %s" % (self.path, what, exc), self.path)

    def _transaction(self, what, body, write=True):
        try:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise self._error(what, exc) from exc
        try:
            result = body()
            self._conn.execute("COMMIT")
            return result
        except BaseException as exc:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:   # already rolled back by SQLite; the first error is the one to report
                pass
            if isinstance(exc, sqlite3.Error):
                raise self._error(what, exc) from exc
            raise

    def _has_tables(self):
        return self._conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'archive_schema'").fetchone()[0]

    def _open(self, create):
        try:
            tables = self._has_tables()
            if create:
                # WAL: a reader (the scheduler) never blocks an import, nor the
                # reverse; FULL: an import reported done survives power loss.
                self._conn.execute("PRAGMA journal_mode = wal")
                self._conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise self._error("open it", exc) from exc
        if not tables:
            if not create:
                return False

            def make():
                if not self._has_tables():     # another process may have made them meanwhile
                    for sql in TABLES:
                        self._conn.execute(sql)
                    self._conn.execute("INSERT INTO archive_schema (id, version) VALUES (1, ?)", (SCHEMA_VERSION,))
            self._transaction("create the archive tables", make)
        row = self._transaction("read the schema version", lambda: self._conn.execute(
            "SELECT version FROM archive_schema WHERE id = 1").fetchone(), write=False)
        version = row[0] if row else None
        if version != SCHEMA_VERSION:
            raise ArchiveStoreError("archive database %s has archive schema version %r, this software reads %d"
                                    % (self.path, version, SCHEMA_VERSION), self.path)
        return True

    def _all(self, where="", params=()):
        if not self._tables:
            return []
        return [_from_row(r) for r in self._conn.execute(_SELECT + where + _ORDER, params).fetchall()]

    # ------------------------------------------------------------- reading

    def meters(self, area=None, line=None):
        """The meters, ordered by line, address and unit.

        Args:
            area, line: only those of this area / line.

        Returns:
            list of ArchiveMeter.
        """
        clauses, params = [], []
        if area is not None:
            clauses.append("area = ?")
            params.append(area)
        if line is not None:
            clauses.append("line = ?")
            params.append(line)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._transaction("read the meters", lambda: self._all(where, tuple(params)), write=False)

    def lines(self):
        """The lines with their settings and meters, ordered by name: list of ArchiveLine."""
        out = {}
        for meter in self.meters():
            line = out.get(meter.line)
            if line is None:
                line = out[meter.line] = ArchiveLine(meter.line, meter.port, meter.baud, meter.parity, [])
            line.meters.append(meter)
        return list(out.values())

    def imports(self):
        """The import log, oldest first: dicts of t_ms, mode, source, added, updated, removed, unchanged, meters."""
        if not self._tables:
            return []
        names = ("t_ms", "mode", "source", "added", "updated", "removed", "unchanged", "meters")
        rows = self._transaction("read the import log", lambda: self._conn.execute(
            "SELECT %s FROM archive_imports ORDER BY id" % ", ".join(names)).fetchall(), write=False)
        return [dict(zip(names, r)) for r in rows]

    # ------------------------------------------------------------- writing

    def import_file(self, path, mode="merge", dry_run=False, fmt=None, now_ms=None):
        """Check a CSV or TOML archive file and import it (see ``import_meters``).

        Raises:
            ArchiveFileError: the file cannot be read, or has errors (all of
                them, up to a cap); the archive is unchanged.
            ArchiveStoreError: the database cannot be written.
        """
        return self.import_meters(load_archive_file(path, fmt), mode, dry_run, now_ms=now_ms)

    def import_meters(self, meters, mode="merge", dry_run=False, source=None, now_ms=None):
        """Check meters against each other and the archive, then store them in one transaction.

        Args:
            meters: a ParsedArchive (from ``load_archive_file``/``parse_archive``),
                or ArchiveMeters, or (Where, ArchiveMeter) pairs.
            mode: ``"merge"`` adds new meters and updates those with the same
                (line, address, unit), keeping the others; ``"replace"`` makes
                the archive exactly these meters.
            dry_run: check and count, then roll back.
            source: the file name for the import log (a ParsedArchive gives its own).
            now_ms: the time for the import log (default: now).

        Returns:
            ImportSummary.

        Raises:
            ArchiveFileError: every row error and every broken rule across
                rows; nothing is stored.
            ArchiveStoreError: the database cannot be written.
            ValueError: an unknown mode.
        """
        if mode not in MODES:
            raise ValueError("import mode %r: expected merge or replace" % (mode,))
        from ._errors import Where
        if isinstance(meters, ParsedArchive):
            parsed = meters
        else:
            rows = [m if isinstance(m, tuple) else (Where(index=i), m) for i, m in enumerate(meters, 1)]
            parsed = ParsedArchive(source, rows, [])
        source = parsed.path if parsed.path is not None else (source or "")
        if not parsed.rows and not parsed.problems:
            raise ArchiveFileError(parsed.path, message="%s: expected at least one meter, got none"
                                                        % (source or "import"))
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms

        def body():
            before = {m.key: m for m in self._all()}
            incoming = {m.key: m for _w, m in parsed.rows}
            kept = [] if mode == "replace" else [m for k, m in before.items() if k not in incoming]
            problems = sorted(parsed.problems + check_archive(parsed.rows, kept),
                              key=lambda p: (p.line or p.index or 0))
            errors = [p for p in problems if p.severity == "error"]
            if errors:
                raise ArchiveFileError(parsed.path, errors)
            added = sum(1 for k in incoming if k not in before)
            updated = sum(1 for k, m in incoming.items() if k in before and before[k] != m)
            removed = sum(1 for k in before if k not in incoming) if mode == "replace" else 0
            after = kept + list(incoming.values())
            summary = ImportSummary(
                mode=mode, dry_run=dry_run, source=source,
                file_meters=len(incoming), file_lines=len({m.line for m in incoming.values()}),
                file_areas=len({m.area for m in incoming.values()}),
                added=added, updated=updated, removed=removed, unchanged=len(incoming) - added - updated,
                meters=len(after), lines=len({m.line for m in after}), areas=len({m.area for m in after}),
                warnings=[p for p in problems if p.severity == "warning"])
            if mode == "replace":
                self._conn.execute("DELETE FROM archive_meters")
            else:
                # Delete first, then insert: moving the supply role from one
                # meter of an area to another must not trip the unique index
                # halfway through.
                self._conn.executemany("DELETE FROM archive_meters WHERE line = ? AND address = ? AND unit = ?",
                                       [(k[0], k[1], k[2] or 0) for k in incoming])
            self._conn.executemany("INSERT INTO archive_meters (%s) VALUES (%s)"
                                   % (", ".join(_COLUMNS), ", ".join("?" * len(_COLUMNS))),
                                   [_to_row(m) for m in incoming.values()])
            self._conn.execute("INSERT INTO archive_imports (t_ms, mode, source, added, updated, removed, unchanged, "
                               "meters) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (now_ms, mode, str(source), added, updated, removed, summary.unchanged, len(after)))
            if dry_run:
                raise _DryRun(summary)
            return summary

        if not self._tables:
            raise ArchiveStoreError("archive database %s was opened read-only (create=False)" % self.path, self.path)
        try:
            return self._transaction("import the meters", body)
        except _DryRun as done:
            return done.summary


class _DryRun(Exception):
    """Carries a dry run's summary out of the transaction, which it rolls back."""

    def __init__(self, summary):
        super().__init__("dry run")
        self.summary = summary
