"""CPython stand-ins for MicroPython's ``machine`` and ``utime`` modules.

Put this directory itself on ``sys.path`` (not the package) so that
``import machine`` and ``import utime`` find these files; then the meter
firmware's main loop (``firmware_sim.meter.main``) runs unchanged on CPython.
``firmware_sim.meter.main`` does that by itself when ``utime`` is missing.
Never import them on MicroPython, which has the real modules.
"""

import os

STUBS_DIR = os.path.dirname(os.path.abspath(__file__))
