"""Errors of the meter archive, under ``ArchiveError`` (a ``ConcentratorError``).

A bad archive file is reported as a whole: ``ArchiveFileError`` carries every
``Problem`` found (up to ``MAX_PROBLEMS``), each naming the file, the CSV line
or the TOML ``[[meter]]`` table, the field, what was expected and what was got.
Customer numbers (户号) never appear in a message in full (S-01).
"""

from .._errors import ConcentratorError

# Enough to show a pattern (a whole column wrong) without flooding a terminal;
# the count of the rest is still given.
MAX_PROBLEMS = 50


class ArchiveError(ConcentratorError):
    """Base of every error the meter archive raises."""


class ArchiveStoreError(ArchiveError):
    """The archive database cannot be opened, read or written.

    Attributes:
        path: the database file.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


class Problem:
    """One thing wrong in an archive file (an error, or a warning that does not block).

    Attributes:
        path: the file (None for rows given in code).
        line: the CSV line number (1 = the header), or None.
        index: the 1-based ``[[meter]]`` table number in a TOML file, or None.
        field: the field (``address``, ``baud``...), or None for the row or file.
        expected, got: short texts for the message.
        severity: ``"error"`` or ``"warning"``.
    """

    __slots__ = ("path", "line", "index", "field", "expected", "got", "severity")

    def __init__(self, where, field, expected, got, severity="error"):
        self.path, self.line, self.index = where.path, where.line, where.index
        self.field = field
        self.expected = expected
        self.got = got
        self.severity = severity

    @property
    def where(self):
        return Where(self.path, self.line, self.index)

    def __str__(self):
        head = str(self.where)
        if self.field:
            head += ": " + self.field
        text = "%s: expected %s, got %s" % (head, self.expected, self.got)
        return "warning: " + text if self.severity == "warning" else text

    def __repr__(self):
        return "Problem(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, Problem) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


class Where:
    """Where a row came from: ``archive.csv line 3``, ``archive.toml meter 2``, ``row 4``."""

    __slots__ = ("path", "line", "index")

    def __init__(self, path=None, line=None, index=None):
        self.path, self.line, self.index = path, line, index

    def __str__(self):
        if self.line is not None:
            place = "line %d" % self.line
        elif self.index is not None:
            place = "meter %d" % self.index
        else:
            place = ""
        if self.path is None:
            return place or "archive"
        return ("%s %s" % (self.path, place)) if place else str(self.path)

    def __repr__(self):
        return "Where(%r)" % str(self)


class ArchiveFileError(ArchiveError):
    """An archive file (or a set of meters) is invalid; nothing was changed.

    Attributes:
        path: the file, or None.
        problems: every error found, in file order (at most ``MAX_PROBLEMS``).
        total: how many errors there were in all (``total > len(problems)``
            when the cap was reached).
    """

    def __init__(self, path, problems=(), total=None, message=None):
        self.path = path
        problems = list(problems)
        self.problems = problems[:MAX_PROBLEMS]
        self.total = max(total or 0, len(problems))
        first = str(self.problems[0]) if self.problems else "invalid"
        if message is not None:
            pass
        elif self.total == 1:
            message = first
        else:
            message = "%s: %d errors; the first: %s" % (path if path is not None else "archive", self.total, first)
        super().__init__(message)
