"""Which received frame answers which request (DL/T 645 §16), sans I/O.

A master accepts a reply only if D7 = 1, the function code matches, the header
address equals the requested address (or is selected by the wildcard pattern
asked, in which case the reply says who answered), and for reads the echoed
DI equals the requested DI. Anything else (the line echoing our own request,
another meter's late reply) is ignored, not taken as an error reply.
"""

from protocols.dlt645 import address_matches

_READ_FUNCTIONS = (0x11, 0x12, 0x01, 0x02, 0x03)


class Expectation:
    """What an acceptable reply to one request looks like.

    Args:
        address: the address or AA pattern the request was sent to.
        function: the request's function code.
        di: the DI asked for (reads), or None.
        std: the edition of the request.
    """

    def __init__(self, address, function, di=None, std="2007"):
        self.address = address
        self.function = function
        self.di = di
        self.std = std

    def accepts(self, frame):
        """True if ``frame`` (a parsed Frame) answers this request."""
        if not frame.is_reply or frame.function != self.function or frame.std != self.std:
            return False
        if not address_matches(self.address, frame.address):
            return False
        if frame.is_error:
            return True
        if self.di is not None and self.function in _READ_FUNCTIONS and frame.di != self.di:
            return False
        return True
