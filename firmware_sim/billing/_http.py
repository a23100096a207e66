"""Serve a Starlette app with uvicorn on a loopback port, in a thread, and apply injected faults.

``HttpService`` is the thin adapter shared by the back office and the
providers: it binds the port itself (port 0 lets the OS choose), runs
uvicorn's loop in a daemon thread, and can close and reopen the same port,
which is how ``down`` with ``mode=refuse`` gives real "connection refused".

``guarded(service, handler, write)`` wraps an endpoint: it asks the fault
plan what to do, turns ``RequestError`` into a JSON error reply, and for a
hung write applies it, then holds the reply until the hang ends or the
service stops. uvicorn's access log is off: it would print request paths,
and no account number may reach a log (S-01).
"""

import asyncio
import json
import socket
import threading
import time

import uvicorn
from starlette.responses import Response

from ._errors import RequestError, ServiceStartError
from ._faults import FaultPlan

_START_TIMEOUT_S = 10.0


def json_reply(value, status=200, headers=None):
    """A JSON response; text stays readable (``ensure_ascii=False``)."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_reply(status, code, message, field=None):
    """The JSON error every endpoint answers with: ``{"error", "message", "field"}``."""
    return json_reply({"error": code, "message": message, "field": field}, status=status)


class HttpService:
    """A Starlette app served on a loopback port, with a fault plan.

    Args:
        app_factory: called with this service, returns the ASGI app.
        host: address to listen on.
        port: TCP port; 0 lets the OS choose (then kept across down/up).
        extra_fault_kinds: fault kinds the service adds to the generic ones.
        name: for messages ("billing back office", "card provider").
    """

    def __init__(self, app_factory, host="127.0.0.1", port=0, extra_fault_kinds=None, name="service"):
        self.host = host
        self.port = port
        self.name = name
        self.faults = FaultPlan(extra_fault_kinds)
        self.lock = threading.RLock()      # guards the core and the fault plan across loop and callers
        self.app = app_factory(self)
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._refusing = False
        self._resume_timer = None

    @property
    def url(self):
        """``http://HOST:PORT`` (valid once started)."""
        return "http://%s:%d" % (self.host, self.port)

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Bind the port and serve until ``stop()``. Returns self.

        Raises:
            ServiceStartError: the port cannot be bound or the server did not come up.
        """
        self._stopping.clear()
        self._serve()
        return self

    def stop(self):
        """Stop serving and release the port; requests being held by a hang end at once."""
        self._stopping.set()
        if self._resume_timer is not None:
            self._resume_timer.cancel()
        self._halt()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- faults ------------------------------------------------------------------------

    def set_fault(self, kind, **params):
        """Activate a fault (see ``_faults``); ``down`` with ``mode="refuse"`` closes the port.

        Returns:
            dict: the fault as stored.

        Raises:
            FaultError: unknown kind or bad parameter.
        """
        with self.lock:
            fault = self.faults.set(kind, **params)
        if kind == "down":
            if fault["mode"] == "refuse":
                self._refuse()
            elif self._refusing:
                self._resume()
            if fault["for_ms"]:
                self._schedule_resume(fault["for_ms"] / 1000.0)
        return fault

    def clear_fault(self, kind=None):
        """Remove one fault kind (or all); reopens the port if it was refusing. Returns the number removed."""
        with self.lock:
            n = self.faults.clear(kind)
        if self._refusing and (kind is None or kind == "down"):
            self._resume()
        return n

    def active_faults(self):
        with self.lock:
            return self.faults.active()

    def _refuse(self):
        if not self._refusing and self.running:
            self._refusing = True
            if threading.current_thread() is self._thread:
                # From a request handler (admin): the loop cannot wait for itself to stop.
                threading.Thread(target=self._halt, daemon=True).start()
            else:
                self._halt()

    def _resume(self):
        self._refusing = False
        if self._thread is not None:
            self._thread.join(_START_TIMEOUT_S)
        if not self._stopping.is_set():
            self._serve()

    def _schedule_resume(self, delay_s):
        if self._resume_timer is not None:
            self._resume_timer.cancel()

        def resume():
            self.clear_fault("down")

        self._resume_timer = threading.Timer(delay_s, resume)
        self._resume_timer.daemon = True
        self._resume_timer.start()

    # ---- serving -----------------------------------------------------------------------

    def _serve(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ServiceStartError("%s: cannot listen on %s:%d: %s" % (self.name, self.host, self.port,
                                                                         exc.strerror or exc)) from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                  name="%s:%d" % (self.name, self.port))
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise ServiceStartError("%s: the HTTP server did not start on %s:%d" % (self.name, self.host,
                                                                                       self.port))
            time.sleep(0.01)

    def _halt(self):
        server, thread = self._server, self._thread
        if server is None:
            return
        server.should_exit = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(_START_TIMEOUT_S + 5)

    async def hold(self, seconds):
        """Wait ``seconds``, or less if the service stops (a hung reply must not block shutdown)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set() and not self._server.should_exit:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


async def guarded(service, write, handler):
    """Run one endpoint under the fault plan and our error mapping.

    Args:
        service: the ``HttpService``.
        write: True if the call changes state (it may then hang after applying).
        handler: a callable run under ``service.lock``, returning a Response.

    Returns:
        Response
    """
    with service.lock:
        fault = service.faults.on_call(write)
    if fault.refuse:
        # The port is closing; a call that slipped in gets what a dead server gives.
        return error_reply(503, "down", "%s is down" % service.name)
    if fault.delay_s:
        await service.hold(fault.delay_s)
    if fault.status is not None:
        what = "is down" if fault.code == "down" else "injected failure %d" % fault.status
        return error_reply(fault.status, fault.code, "%s: %s; nothing was done" % (service.name, what))
    try:
        with service.lock:
            response = handler()
    except RequestError as exc:
        return error_reply(exc.status, exc.code, str(exc), exc.field)
    if fault.hang_s is not None:
        await service.hold(fault.hang_s)
        return error_reply(500, "reply-lost", "%s: the reply to this call was held back (hang fault); the call "
                                              "was applied" % service.name)
    return response
