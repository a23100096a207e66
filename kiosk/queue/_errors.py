"""The queue's exception family.

``QueueError`` is the base. Configuration problems name the file and the key;
refused actions name the ticket or counter and what state it was in. An
action that raises has changed nothing (the engine validates before it
mutates).
"""


class QueueError(Exception):
    """Base of every error the queue package raises."""


class QueueConfigError(QueueError):
    """A queue configuration file or table is wrong.

    Attributes:
        source: the file (or "<dict>") the table came from.
        key: the full key, e.g. ``queue.business."change.rename".limit_min``.
        expected: what the key accepts.
        got: what was given.
    """

    def __init__(self, source, key, expected, got):
        super().__init__("%s: %s: expected %s, got %r" % (source, key, expected, got))
        self.source = source
        self.key = key
        self.expected = expected
        self.got = got


class ActionRefused(QueueError):
    """An action does not apply to the queue's current state (nothing changed).

    Attributes:
        action: the action ("issue", "call", "recall", ...).
        subject: the ticket number or counter id it was about.
        reason: a short code ("closed", "no-ticket", "recall-limit", ...).
    """

    def __init__(self, action, subject, reason, message):
        super().__init__("%s %s refused: %s" % (action, subject, message))
        self.action = action
        self.subject = subject
        self.reason = reason


class KeyConflict(ActionRefused):
    """An idempotency key was reused for a different "take a ticket" request."""


class JournalError(QueueError):
    """The queue journal cannot be opened, read, written or replayed.

    Attributes:
        path: the SQLite file.
    """

    def __init__(self, path, message):
        super().__init__("queue journal %s: %s" % (path, message))
        self.path = path
