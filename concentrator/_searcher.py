"""Driving a ``SearchPlan`` over a real ``Line``."""

from protocols.dlt645 import build_read_request

from ._matching import Expectation
from ._search import SearchPlan, probe_function


def search(line, std="2007", window_s=None, progress=None):
    """Find every meter of one edition on a line.

    Args:
        line: an open Line.
        std: "2007" or "1997".
        window_s: how long to listen after each probe for replies; it must
            cover the slowest meter's reply delay plus its reply on the wire
            (default: the line's reply timeout).
        progress: optional callable(plan, pattern, exchange) after each probe.

    Returns:
        SearchResult.
    """
    plan = SearchPlan()
    function, di = probe_function(std)
    while True:
        pattern = plan.next_probe()
        if pattern is None:
            break
        request = build_read_request(pattern, di, std)
        ex = line.exchange(request, Expectation(pattern, function, di, std), timeout_s=window_s, collect=True)
        # Any lost byte, or a frame that passed its checksum but not the codec,
        # means replies overlapped (or noise hit): narrow the pattern.
        garbled = ex.garbage > 0 or bool(ex.bad)
        addresses = [f.address for f in ex.frames if not f.is_error]
        plan.outcome(pattern, addresses, garbled)
        if progress is not None:
            progress(plan, pattern, ex)
    return plan.result()
