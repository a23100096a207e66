"""The one exception of the topic scheme."""


class TopicError(ValueError):
    """A topic, filter or identifier does not follow the scheme.

    Attributes:
        topic: the topic or filter text in question (None when an identifier
            was refused before any topic was built).
        level: 0-based index of the offending topic level, or None.
        expected: what the scheme wants there, or None.
        got: what was found, or None.
    """

    def __init__(self, message, topic=None, level=None, expected=None, got=None):
        super().__init__(message)
        self.message = message
        self.topic = topic
        self.level = level
        self.expected = expected
        self.got = got
