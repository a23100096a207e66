"""The rating package's exception family.

``RatingError`` is the base. A refused action names the ticket or counter
and why, and has changed nothing; configuration errors name the file and key.
"""


class RatingError(Exception):
    """Base of every error the rating package raises."""


class RatingConfigError(RatingError):
    """The ``[rating]`` table is wrong.

    Attributes:
        source: the file (or "<dict>").
        key: the full key, e.g. ``rating.timeout_s``.
        expected: what the key accepts.
        got: what was given.
    """

    def __init__(self, source, key, expected, got):
        super().__init__("%s: %s: expected %s, got %r" % (source, key, expected, got))
        self.source, self.key, self.expected, self.got = source, key, expected, got


class RatingRefused(RatingError):
    """An action does not apply now (nothing changed).

    Attributes:
        action: "ask", "press", "reason".
        subject: the ticket number or counter id.
        reason: a short code: "already-rated", "no-prompt", "level", "no-level", "reason", "ticket".
    """

    def __init__(self, action, subject, reason, message):
        super().__init__("%s %s refused: %s" % (action, subject, message))
        self.action, self.subject, self.reason = action, subject, reason


class RatingStoreError(RatingError):
    """The rating journal cannot be opened, read or written.

    Attributes:
        path: the SQLite file.
    """

    def __init__(self, path, message):
        super().__init__("rating journal %s: %s" % (path, message))
        self.path = path


class PadError(RatingError):
    """The rating pad's port cannot be opened, read or written.

    Attributes:
        url: the pyserial URL of the pad.
    """

    def __init__(self, url, message):
        super().__init__("rating pad %s: %s" % (url, message))
        self.url = url
