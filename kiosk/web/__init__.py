"""The kiosk's web app: customer touch screen, waiting board, counter pages and their JSON API.

``create_app(store, web_config)`` builds the Starlette app over a
``kiosk.queue.QueueStore`` (every action journaled and sent to the outbox);
``WebServer`` runs it under uvicorn on a thread, ``serve`` in the
foreground. ``load_web_config`` reads the ``[web]`` table (address, staff
PINs as ``hash_pin`` strings, staff roles, counter labels and rating pads,
voice). With a ``RatingStore`` the counters get rating pages (and their
serial pads), with a ``Printer`` tickets are printed on issue, with a
``DeskLedger`` the guidance desk issues green-channel and VIP tickets.
docs/kiosk.md ("Web app") is the reference.
"""

from ._app import WebServer, create_app, serve, system_clock
from ._auth import Lockout, Sessions, check_pin, hash_pin
from ._config import WebConfig, load_web_config
from ._errors import BadRequest, WebConfigError, WebError
from ._ledger import REASONS as DESK_REASONS, DeskLedger, LedgerError
from ._print import PrintService
from ._rating import RatingService
from ._i18n import CATALOGUES, DEFAULT_LANGUAGE, LANGUAGES, announcement, business_name, text
from ._service import COUNTER_ACTIONS, QueueService
from ._voice import Announcer

__all__ = [
    "create_app", "serve", "WebServer", "system_clock",
    "WebConfig", "load_web_config", "hash_pin", "check_pin", "Lockout", "Sessions",
    "WebError", "WebConfigError", "BadRequest",
    "CATALOGUES", "LANGUAGES", "DEFAULT_LANGUAGE", "text", "announcement", "business_name",
    "QueueService", "COUNTER_ACTIONS", "Announcer",
    "DeskLedger", "LedgerError", "DESK_REASONS", "PrintService", "RatingService",
]
