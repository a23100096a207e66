"""Helpers for the payment tests: small account sets, started services, a notification sink.

Loaded by path from the test files (``load()``), because ``tests/kiosk`` on
``sys.path`` would let a module named after a package shadow it.
"""

import threading
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from firmware_sim.billing import BackOffice, HttpService, check_accounts, hall_day
from firmware_sim.payment import ProviderService

# Two customers: one with two arrears bills, one with a prepaid balance and no bills.
ACCOUNT_A = "3100001201"
ACCOUNT_B = "3100001208"
ACCOUNTS = [
    {"number": ACCOUNT_A, "name": "测试客户甲", "meter": "000000000101", "bill": [
        {"period": "2026-09", "kwh": 155.1, "amount_fen": 8732},
        {"period": "2026-10", "kwh": 140.5, "amount_fen": 7910},
    ]},
    {"number": ACCOUNT_B, "name": "测试客户乙", "meter": "000000000102", "balance_fen": 5000},
]


def accounts():
    """Fresh checked copies of ``ACCOUNTS``."""
    return check_accounts([dict(a) for a in ACCOUNTS])


def today():
    """The hall day (UTC+8) of now."""
    return hall_day(int(time.time() * 1000))


class Services:
    """Starts services and stops them all at the end of a test."""

    def __init__(self):
        self.started = []

    def back_office(self, **kwargs):
        office = BackOffice(kwargs.pop("accounts", None) or accounts(), **kwargs).start()
        self.started.append(office)
        return office

    def provider(self, channel, **kwargs):
        provider = ProviderService(channel, **kwargs).start()
        self.started.append(provider)
        return provider

    def sink(self):
        sink = NotifySink().start()
        self.started.append(sink)
        return sink

    def garbage(self, status=201, text="not json"):
        """A real HTTP server that answers every POST and GET with ``text`` (an unreadable reply)."""
        async def reply(request):
            return PlainTextResponse(text, status_code=status)

        service = HttpService(lambda http: Starlette(routes=[Route("/{path:path}", reply, methods=["GET", "POST"])]),
                              name="garbage").start()
        self.started.append(service)
        return service

    def stop_all(self):
        for service in reversed(self.started):
            service.stop()


class NotifySink:
    """A merchant notify endpoint on loopback that records every notification it gets."""

    def __init__(self):
        self.received = []
        self._cond = threading.Condition()

        async def notify(request):
            body = await request.json()
            with self._cond:
                self.received.append(body)
                self._cond.notify_all()
            return Response(status_code=204)

        self.http = HttpService(lambda http: Starlette(routes=[Route("/notify", notify, methods=["POST"])]),
                                name="notify sink")

    @property
    def url(self):
        return self.http.url + "/notify"

    def start(self):
        self.http.start()
        return self

    def stop(self):
        self.http.stop()

    def wait_for(self, n, timeout_s=5.0):
        """Wait until ``n`` notifications arrived; returns them (fewer on timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.received) < n and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return list(self.received)
