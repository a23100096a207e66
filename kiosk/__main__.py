"""``python -m kiosk``: the ``kiosk`` command (kiosk/cli.py)."""

from .cli import cli

cli(prog_name="kiosk")
