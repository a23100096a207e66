"""The Starlette app and the uvicorn server around it.

``create_app`` wires the pages, the API, the static scripts and the
services (queue, sessions, lockout, voice) into one app; ``WebServer`` runs
it under uvicorn on a thread (tests, and the kiosk's ``serve`` command);
the rating pads' poller starts and stops with the app (its lifespan);
``serve`` runs it in the foreground. The clock is a parameter so tests can
place the hall's day where they need it.
"""

import asyncio
import contextlib
import os
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ._admin import Health, settings_summary
from ._api import COOKIE, api_document, error_response, lang_of, operations
from ._auth import Lockout, Sessions
from ._errors import BadRequest, WebError
from ._ledger import REASONS
from ._pages import board_page, counter_page, kiosk_page, login_page
from ._pages_staff import admin_page, desk_page, rating_page, role_login_page
from ._print import PrintService
from ._rating import RatingService
from ._service import Hub, QueueService
from ._voice import Announcer

_STATIC = os.path.join(os.path.dirname(__file__), "static")
# Scripts and styles only from this server; the JSON data blocks are not scripts.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def system_clock():
    """Now in UTC ms."""
    return int(time.time() * 1000)


def _page(request, html):
    response = HTMLResponse(html, headers=_PAGE_HEADERS)
    chosen = request.query_params.get("lang")
    if chosen is not None:
        response.set_cookie("lang", chosen, max_age=30 * 86400, path="/", samesite="strict")
    return response


async def _kiosk(request):
    lang = lang_of(request)
    return _page(request, kiosk_page(lang, await run_in_threadpool(request.app.state.service.businesses, lang)))


async def _board(request):
    lang = lang_of(request)
    return _page(request, board_page(lang, await run_in_threadpool(request.app.state.service.board, lang)))


async def _counter(request):
    lang = lang_of(request)
    state = request.app.state
    counter_id = request.path_params["counter_id"]
    if counter_id not in state.service.config.counters:
        return PlainTextResponse("no counter %r" % counter_id, status_code=404)
    session = state.sessions.check(request.cookies.get(COOKIE), state.service.clock())
    if session is None or session["c"] != counter_id:
        return _page(request, login_page(lang, counter_id, state.service.label(counter_id)))
    view = await run_in_threadpool(state.service.counter, counter_id, lang)
    view["staff"] = session["s"]
    return _page(request, counter_page(lang, view, state.sessions.csrf_token(session)))


async def _rating(request):
    lang = lang_of(request)
    state = request.app.state
    counter_id = request.path_params["counter_id"]
    if counter_id not in state.service.config.counters:
        return PlainTextResponse("no counter %r" % counter_id, status_code=404)
    if state.rating is None:
        return PlainTextResponse("this kiosk has no [rating] table: no rating pages", status_code=404)
    return _page(request, rating_page(lang, counter_id, state.service.label(counter_id), state.rating.choices(lang)))


def _role_session(request, role):
    state = request.app.state
    session = state.sessions.check(request.cookies.get(COOKIE), state.service.clock())
    if session is None or session["c"] != "@" + role or role not in state.web.roles.get(session["s"], ()):
        return None
    return session


async def _desk(request):
    lang = lang_of(request)
    state = request.app.state
    session = _role_session(request, "desk")
    if session is None:
        return _page(request, role_login_page(lang, "desk"))
    classes = [c for c in state.service.config.order if c in REASONS]
    businesses = [b for cat in await run_in_threadpool(state.service.businesses, lang) for b in cat["businesses"]]
    return _page(request, desk_page(lang, session["s"], state.sessions.csrf_token(session), businesses, classes,
                                    {c: REASONS[c] for c in classes}))


async def _admin(request):
    lang = lang_of(request)
    state = request.app.state
    session = _role_session(request, "admin")
    if session is None:
        return _page(request, role_login_page(lang, "admin"))
    return _page(request, admin_page(lang, session["s"], state.sessions.csrf_token(session), state.settings()))


# The pages, in one table; a later group of pages appends its routes here.
PAGES = (("/", _kiosk), ("/board", _board), ("/counter/{counter_id}", _counter), ("/rating/{counter_id}", _rating),
         ("/desk", _desk), ("/admin", _admin))


async def _bad_request(request, exc):
    if request.url.path.startswith("/api/"):
        return error_response(exc.status, exc.field, exc.reason, str(exc))
    return PlainTextResponse(str(exc), status_code=exc.status)


async def _not_found(request, exc):
    return error_response(404, None, "not-found", "no such page: %s" % request.url.path)


async def _no_method(request, exc):
    return error_response(405, None, "method", "%s is not allowed on %s" % (request.method, request.url.path))


def create_app(store, web_config, clock=None, announcer=None, version="1", rating=None, printer=None, ledger=None,
               runtime=None, files=None, clock_quality=None):
    """The kiosk's web app.

    Args:
        store: a ``kiosk.queue.QueueStore`` (journal and outbox); the caller closes it.
        web_config: a ``WebConfig``.
        clock: returns now in UTC ms (default: the system clock).
        announcer: an ``Announcer``; by default one is made when
            ``web_config.voice`` is on, else there is no voice.
        version: the API version in the OpenAPI document.
        rating: a ``kiosk.rating.RatingStore`` or None (no rating pages);
            the counters' pads are ``web_config.pads``. The caller closes the store.
        printer: a ``kiosk.printing.Printer`` or None (tickets are not printed).
        ledger: a ``DeskLedger`` or None (the desk page cannot issue).
        runtime: the ``edge.DeviceRuntime`` or None, for health (hall link, outbox).
        files: {name: path} of journal files whose sizes health shows.
        clock_quality: ``() -> (t_ms, tq)`` for health, or None.

    Returns:
        A Starlette app; ``app.state`` holds ``service``, ``hub``,
        ``sessions``, ``lockout``, ``announcer``, ``openapi``, ``rating``
        (a ``RatingService`` or None), ``printing``, ``ledger`` and ``health``.
    """
    if announcer is None and web_config.voice:
        announcer = Announcer(web_config.voice_command, web_config.voice_wav_dir)
    clock = clock or system_clock
    ops = operations(store.config)
    routes = [Route(path, page) for path, page in PAGES]
    routes += [Route(op.path, op.handler, methods=[op.method.upper()], name=op.operation_id) for op in ops]
    routes.append(Mount("/static", StaticFiles(directory=_STATIC), name="static"))
    hub, rating_hub = Hub(), Hub()
    service = QueueService(store, web_config, clock, announcer)
    rating_service = None
    if rating is not None:
        rating_service = RatingService(rating, clock, web_config.pads)

        def ask_after_finish(counter_id, action, outcome):
            if action == "finish":
                rating_service.after_finish(counter_id, outcome.records)
        service.after_action.append(ask_after_finish)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loop = app.state.loop = asyncio.get_running_loop()
        if rating_service is not None:
            rating_service.notify = lambda: loop.call_soon_threadsafe(rating_hub.notify)
            rating_service.start()
        yield
        hub.notify(closing=True)
        rating_hub.notify(closing=True)
        if rating_service is not None:
            await asyncio.to_thread(rating_service.stop)
        if announcer is not None:
            await asyncio.to_thread(announcer.close)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={BadRequest: _bad_request, 404: _not_found, 405: _no_method})
    state = app.state
    state.web = web_config
    state.service = service
    state.hub = hub
    state.rating_hub = rating_hub
    state.rating = rating_service
    state.printing = PrintService(printer, store.config)
    state.ledger = ledger
    state.sessions = Sessions(web_config.secret or os.urandom(32), web_config.session_h * 3600)
    state.lockout = Lockout(web_config.max_failures, web_config.lockout_s)
    state.announcer = announcer
    state.ops = {op.operation_id: op for op in ops}
    state.openapi = api_document(ops, version)
    state.health = Health(service, state.printing, rating_service, runtime, getattr(store, "outbox", None),
                          files, clock_quality)
    summary = settings_summary(web_config, store.config, printer.cfg if printer is not None else None,
                               rating.config if rating is not None else None)
    state.settings = lambda: summary
    return app


class WebServer:
    """Runs an app under uvicorn on a background thread.

    Args:
        app: the app of ``create_app``.
        host: the address to listen on.
        port: the port, 0 for one the OS picks (see ``url``).
    """

    def __init__(self, app, host="127.0.0.1", port=0):
        self.app = app
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise WebError("cannot listen on %s port %d: %s" % (host, port, exc.strerror or exc)) from exc
        self.host, self.port = host, self._sock.getsockname()[1]
        self.url = "http://%s:%d" % (host if ":" not in host else "[%s]" % host, self.port)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3,
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = None

    def start(self, timeout_s=10):
        """Start serving; returns self once uvicorn accepts connections."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="kiosk-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WebError("the web server did not start on %s" % self.url)
            time.sleep(0.02)
        return self

    def stop(self, timeout_s=10):
        """Close the event streams and stop the server (idempotent)."""
        if self._thread is not None:
            loop = getattr(self.app.state, "loop", None)
            if loop is not None and not loop.is_closed():
                # Open event streams end now instead of holding the graceful shutdown.
                loop.call_soon_threadsafe(self.app.state.hub.notify, True)
                loop.call_soon_threadsafe(self.app.state.rating_hub.notify, True)
            self._server.should_exit = True
            self._thread.join(timeout_s)
            self._thread = None
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def serve(store, web_config, clock=None):
    """Serve the app in the foreground on ``web_config.host``/``port`` until interrupted."""
    server = WebServer(create_app(store, web_config, clock), web_config.host, web_config.port)
    server.start()
    try:
        while server._thread.is_alive():
            server._thread.join(0.5)
    finally:
        server.stop()
