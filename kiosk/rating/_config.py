"""The ``[rating]`` table: how long the pad waits and the reasons a customer may pick.

Five levels are fixed by the government service standard (queue-systems.md
"Ratings"): 5 very satisfied, 4 satisfied, 3 basically satisfied, 2
dissatisfied, 1 very dissatisfied; 1 and 2 need a reason, picked from the
list (keys 1..9 on the pad) or typed. Checked once; an error names the file
and key (``RatingConfigError``).
"""

from .._toml import read_table
from ._errors import RatingConfigError

LEVELS = {5: ("非常满意", "very satisfied"), 4: ("满意", "satisfied"), 3: ("基本满意", "basically satisfied"),
          2: ("不满意", "dissatisfied"), 1: ("非常不满意", "very dissatisfied")}
DEFAULT_REASONS = ("等候时间长 / long wait", "办理时间长 / slow service", "服务态度差 / attitude",
                   "业务不熟练 / not competent", "一次告知不清 / not told everything at once",
                   "其他 / other")
MAX_REASONS = 9           # one pad key each
MAX_REASON_CHARS = 256    # RATING body "reason"


class RatingConfig:
    """A checked ``[rating]`` table.

    Attributes:
        timeout_s: seconds the pad waits for a key (and again for a reason) before "not rated".
        reasons: the reasons offered for levels 1 and 2, in key order.
        source: the file.
    """

    __slots__ = ("timeout_s", "reasons", "source")

    def __init__(self, timeout_s=60, reasons=DEFAULT_REASONS, source="<defaults>"):
        self.timeout_s, self.reasons, self.source = timeout_s, tuple(reasons), source

    @classmethod
    def from_dict(cls, table, source="<dict>"):
        """Check a ``[rating]`` table given as a dict.

        Raises:
            RatingConfigError: an unknown key or a wrong value.
        """
        if not isinstance(table, dict):
            raise RatingConfigError(source, "rating", "a table", table)
        for key in table:
            if key not in ("timeout_s", "reasons"):
                raise RatingConfigError(source, "rating.%s" % key, "timeout_s or reasons", "an unknown key")
        timeout_s = table.get("timeout_s", 60)
        if type(timeout_s) not in (int, float) or not 5 <= timeout_s <= 600:
            raise RatingConfigError(source, "rating.timeout_s", "a number of seconds 5..600", timeout_s)
        reasons = table.get("reasons", DEFAULT_REASONS)
        if not isinstance(reasons, (list, tuple)) or not 1 <= len(reasons) <= MAX_REASONS:
            raise RatingConfigError(source, "rating.reasons", "a list of 1..%d texts" % MAX_REASONS, reasons)
        for i, text in enumerate(reasons):
            if not isinstance(text, str) or not 1 <= len(text) <= MAX_REASON_CHARS or not text.isprintable():
                raise RatingConfigError(source, "rating.reasons[%d]" % i, "printable text of 1..%d characters"
                                        % MAX_REASON_CHARS, text)
        return cls(timeout_s, reasons, source)


def load_rating_config(path):
    """Read and check the ``[rating]`` table of a TOML file (defaults when the table is absent).

    Raises:
        RatingConfigError: the file cannot be read, is not TOML, or a key is wrong.
    """
    table, source = read_table(path, "rating", RatingConfigError, required=False)
    return RatingConfig.from_dict(table, source)
