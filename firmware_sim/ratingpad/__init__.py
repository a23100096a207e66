"""The simulated satisfaction rating pad (评价器, R-01) of a hall counter.

``RatingPad(transport="pty"|"tcp")`` opens the line the kiosk reads with
pyserial (``url``); ``press``, ``pick_reason``, ``type_reason`` and
``send_raw`` act as the customer; ``display`` shows what the kiosk told it.
The protocol is in docs/kiosk.md ("Rating") and docs/simulator.md.
"""

from ._pad import RatingPad, RatingPadError

__all__ = ["RatingPad", "RatingPadError"]
