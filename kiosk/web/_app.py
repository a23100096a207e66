"""The Starlette app and the uvicorn server around it.

``create_app`` wires the pages, the API, the static scripts and the
services (queue, sessions, lockout, voice) into one app; ``WebServer`` runs
it under uvicorn on a thread (tests, and the kiosk's ``serve`` command);
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

from ._api import COOKIE, api_document, error_response, lang_of, operations
from ._auth import Lockout, Sessions
from ._errors import BadRequest, WebError
from ._pages import board_page, counter_page, kiosk_page, login_page
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


async def _bad_request(request, exc):
    if request.url.path.startswith("/api/"):
        return error_response(exc.status, exc.field, exc.reason, str(exc))
    return PlainTextResponse(str(exc), status_code=exc.status)


async def _not_found(request, exc):
    return error_response(404, None, "not-found", "no such page: %s" % request.url.path)


async def _no_method(request, exc):
    return error_response(405, None, "method", "%s is not allowed on %s" % (request.method, request.url.path))


def create_app(store, web_config, clock=None, announcer=None, version="1"):
    """The kiosk's web app.

    Args:
        store: a ``kiosk.queue.QueueStore`` (journal and outbox); the caller closes it.
        web_config: a ``WebConfig``.
        clock: returns now in UTC ms (default: the system clock).
        announcer: an ``Announcer``; by default one is made when
            ``web_config.voice`` is on, else there is no voice.
        version: the API version in the OpenAPI document.

    Returns:
        A Starlette app; ``app.state`` holds ``service``, ``hub``,
        ``sessions``, ``lockout``, ``announcer`` and ``openapi``.
    """
    if announcer is None and web_config.voice:
        announcer = Announcer(web_config.voice_command, web_config.voice_wav_dir)
    ops = operations(store.config)
    routes = [Route("/", _kiosk), Route("/board", _board), Route("/counter/{counter_id}", _counter)]
    routes += [Route(op.path, op.handler, methods=[op.method.upper()], name=op.operation_id) for op in ops]
    routes.append(Mount("/static", StaticFiles(directory=_STATIC), name="static"))
    hub = Hub()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.loop = asyncio.get_running_loop()
        yield
        hub.notify(closing=True)
        if announcer is not None:
            await asyncio.to_thread(announcer.close)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={BadRequest: _bad_request, 404: _not_found, 405: _no_method})
    state = app.state
    state.web = web_config
    state.service = QueueService(store, web_config, clock or system_clock, announcer)
    state.hub = hub
    state.sessions = Sessions(web_config.secret or os.urandom(32), web_config.session_h * 3600)
    state.lockout = Lockout(web_config.max_failures, web_config.lockout_s)
    state.announcer = announcer
    state.ops = {op.operation_id: op for op in ops}
    state.openapi = api_document(ops, version)
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
