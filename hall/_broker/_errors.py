"""Errors of the broker configuration generator."""


class BrokerConfigError(Exception):
    """A broker configuration cannot be written as asked; nothing was changed.

    ``path`` is the file or directory concerned, or None when the input alone
    is wrong.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path
