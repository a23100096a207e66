"""The web app's exception family.

``WebError`` is the base. ``WebConfigError`` names the file and key;
``BadRequest`` names the request field and becomes a 4xx JSON answer.
"""


class WebError(Exception):
    """Base of every error the web package raises."""


class WebConfigError(WebError):
    """The ``[web]`` table is wrong.

    Attributes:
        source: the file (or "<dict>").
        key: the full key, e.g. ``web.staff."1001".pin_hash``.
        expected: what the key accepts.
        got: what was given.
    """

    def __init__(self, source, key, expected, got):
        super().__init__("%s: %s: expected %s, got %r" % (source, key, expected, got))
        self.source = source
        self.key = key
        self.expected = expected
        self.got = got


class BadRequest(WebError):
    """A request the app refuses before touching the queue.

    Attributes:
        status: the HTTP status (400, 401, 403, 404, 409, 413, 415, 429).
        field: the request field that is wrong, or None.
        reason: a short code ("missing", "type", "unknown", "csrf", ...).
    """

    def __init__(self, status, field, reason, message):
        super().__init__(message)
        self.status = status
        self.field = field
        self.reason = reason
