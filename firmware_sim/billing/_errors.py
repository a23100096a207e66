"""Errors of the simulated billing back office and payment providers.

One family under ``ServiceSimError``. ``RequestError`` is what a bad or
refused HTTP request becomes: it carries the HTTP status and a short code,
and the app turns it into a JSON reply ``{"error": code, "message": ...}``
with that status. Messages never hold a full account number (S-01, K-09).
"""


class ServiceSimError(Exception):
    """Base of every error the back office and provider simulators raise on purpose."""


class ConfigError(ServiceSimError):
    """An accounts file or a service setting is unusable.

    Attributes:
        path: the file, or None for in-process configuration.
        index: 0-based position of the offending entry, or None.
        key: the offending key, or None.
    """

    def __init__(self, message, path=None, index=None, key=None):
        super().__init__(message)
        self.path = path
        self.index = index
        self.key = key


class FaultError(ServiceSimError):
    """A fault request names an unknown kind or has a bad parameter.

    Attributes:
        kind, key: as named in the message (None when not involved).
    """

    def __init__(self, message, kind=None, key=None):
        super().__init__(message)
        self.kind = kind
        self.key = key


class RequestError(ServiceSimError):
    """A request the service refuses; nothing was changed.

    Attributes:
        status: HTTP status of the reply (400, 404, 409, 422, ...).
        code: short machine-readable reason ("bad-json", "unknown-account",
            "idempotency-conflict", ...).
        field: the request field at fault, or None.
    """

    def __init__(self, status, code, message, field=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field


class ServiceStartError(ServiceSimError):
    """The HTTP server could not bind its port or did not come up in time."""
