"""The API of the later pages: reprint, the counters' rating pages, staff roles, the guidance desk and admin.

Same rules as ``_api.py``: every body is checked against its declared
schema first, refusals are 4xx with the field named, and nothing changes on
a refusal. The rating page is the customer's, at the counter, and needs no
sign-in (only the pad or the page rates, never staff, R-01). The desk and
admin pages need a session of a staff member with that role
(``[web.staff.*] roles``), signed in with ``POST /api/staff/login``; their
POSTs need the session's CSRF token in ``X-CSRF-Token``.
"""

import asyncio
import json

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse

from kiosk.queue import ActionRefused, JournalError, KeyConflict
from kiosk.rating import RatingRefused, RatingStoreError

from ._api import COOKIE, KEEPALIVE_S, _DUMMY_HASH, error_response, known_counter, lang_of, print_ticket, read_body, \
    refused
from ._auth import check_pin
from ._config import ROLES
from ._errors import BadRequest
from ._i18n import LANGUAGES, text
from ._ledger import REASONS, LedgerError, check_reason
from ._openapi import Operation

_ROLE_SESSION = "@"          # a role's session names "@admin" or "@desk" where a counter session names its counter


def role_session(request, role, post):
    """The session of a staff member signed in for ``role`` (checks cookie and, for POST, the CSRF header)."""
    state = request.app.state
    session = state.sessions.check(request.cookies.get(COOKIE), state.service.clock())
    if session is None or session["c"] != _ROLE_SESSION + role:
        raise BadRequest(401, None, "sign-in", "sign in for the %s page first" % role)
    if role not in state.web.roles.get(session["s"], ()):
        raise BadRequest(403, None, "role", "staff %s no longer has the %s role" % (session["s"], role))
    if post and request.headers.get("x-csrf-token") != state.sessions.csrf_token(session):
        raise BadRequest(403, "X-CSRF-Token", "csrf", "the X-CSRF-Token header is missing or wrong")
    return session


def rating_service(request):
    rating = request.app.state.rating
    if rating is None:
        raise BadRequest(404, None, "no-rating", "this kiosk has no [rating] table: no rating pages")
    return rating


def _rating_refused(exc, field=None):
    if exc.reason in ("level", "reason"):
        return error_response(400, field or exc.reason, exc.reason, str(exc))
    return error_response(409, None, exc.reason, str(exc))


# ------------------------------------------------------------ customers: reprint and rating

async def post_reprint(request):
    state = request.app.state
    number = request.path_params["number"]
    if not number.isascii() or not number.isalnum() or len(number) > 8:
        raise BadRequest(400, "number", "value", "a ticket number is 1-8 letters and digits, got %r" % number)
    await read_body(request, state.ops["reprint_ticket"].body)
    try:
        ticket, reprints = await run_in_threadpool(state.service.reprint, number)
    except ActionRefused as exc:
        status = 404 if exc.reason == "no-ticket" else 409
        return error_response(status, "number" if status == 404 else None, exc.reason, str(exc))
    except JournalError as exc:
        return error_response(503, None, "journal", str(exc))
    ticket["print"] = await print_ticket(request, ticket, reprints)
    return JSONResponse(dict(ticket, reprints=reprints))


async def get_rating(request):
    counter_id = known_counter(request)
    rating = rating_service(request)
    return JSONResponse(dict(rating.prompt(counter_id), **rating.choices(lang_of(request))))


async def post_rating_level(request):
    counter_id = known_counter(request)
    rating = rating_service(request)
    body = await read_body(request, request.app.state.ops["rate"].body)
    pending = rating.store.desk.pending(counter_id)
    if "number" in body and (pending is None or pending.number != body["number"]):
        return error_response(409, "number", "stale", "ticket %s is not the one asked at counter %s"
                              % (body["number"], counter_id))
    try:
        view = await run_in_threadpool(rating.press, counter_id, body["level"])
    except RatingRefused as exc:
        return _rating_refused(exc, "level")
    except RatingStoreError as exc:
        return error_response(503, None, "journal", str(exc))
    return JSONResponse(view)


async def post_rating_reason(request):
    counter_id = known_counter(request)
    rating = rating_service(request)
    body = await read_body(request, request.app.state.ops["rate_reason"].body)
    if ("pick" in body) == ("text" in body):
        raise BadRequest(400, "pick", "missing", "send either pick (a number of the list) or text")
    try:
        view = await run_in_threadpool(rating.reason, counter_id, body.get("pick", body.get("text")))
    except RatingRefused as exc:
        return _rating_refused(exc, "pick" if "pick" in body else "text")
    except RatingStoreError as exc:
        return error_response(503, None, "journal", str(exc))
    return JSONResponse(view)


async def get_rating_events(request):
    """Server-Sent Events: the counter's prompt at once, then after every change (and each second while open)."""
    counter_id = known_counter(request)
    rating = rating_service(request)
    lang = lang_of(request)
    state = request.app.state
    listener = state.rating_hub.listen()

    async def stream():
        try:
            yield "retry: 2000\n\n"
            yield "event: choices\ndata: %s\n\n" % json.dumps(rating.choices(lang), ensure_ascii=False)
            sent = None
            while not state.rating_hub.closed:
                view = rating.prompt(counter_id)
                key = (view["state"], view.get("number"), view.get("level"), view.get("left_s"))
                if key != sent:
                    sent = key
                    yield "event: prompt\ndata: %s\n\n" % json.dumps(view, ensure_ascii=False)
                try:
                    wait_s = 1 if view["state"] != "idle" else KEEPALIVE_S
                    if not await asyncio.wait_for(listener.get(), wait_s):
                        return
                except asyncio.TimeoutError:
                    if view["state"] == "idle":
                        yield ": keep-alive\n\n"
        finally:
            state.rating_hub.forget(listener)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------ staff roles

async def post_staff_login(request):
    state = request.app.state
    body = await read_body(request, state.ops["staff_login"].body)
    lang = lang_of(request)
    now_ms = state.service.clock()
    role, staff = body["role"], body["staff"]
    keys = ("role:" + role, "staff:" + staff)
    left = state.lockout.locked_s(keys, now_ms)
    if left:
        return error_response(429, "pin", "locked", text(lang, "error.locked", s=left))
    pin_hash, _counters = state.web.staff.get(staff, (_DUMMY_HASH, ()))
    ok = await run_in_threadpool(check_pin, body["pin"], pin_hash) and staff in state.web.staff
    if not ok:
        left = state.lockout.failed(keys, now_ms)
        if left:
            return error_response(429, "pin", "locked", text(lang, "error.locked", s=left))
        return error_response(401, "pin", "wrong-pin", text(lang, "error.pin"))
    state.lockout.succeeded(keys)
    if role not in state.web.roles.get(staff, ()):
        return error_response(403, "role", "not-allowed", text(lang, "error.role", role=role))
    cookie = state.sessions.issue(_ROLE_SESSION + role, staff, now_ms)
    session = state.sessions.check(cookie, now_ms)
    response = JSONResponse({"role": role, "staff": staff, "csrf": state.sessions.csrf_token(session)})
    response.set_cookie(COOKIE, cookie, max_age=int(state.sessions.ttl_ms / 1000), path="/", httponly=True,
                        samesite="strict")
    return response


async def post_staff_logout(request):
    state = request.app.state
    body = await read_body(request, state.ops["staff_logout"].body)
    session = role_session(request, body["role"], post=True)
    state.sessions.revoke(session, state.service.clock())
    response = JSONResponse({"role": body["role"], "signed_out": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------ guidance desk

async def post_desk_ticket(request):
    state = request.app.state
    session = role_session(request, "desk", post=True)
    body = await read_body(request, state.ops["desk_ticket"].body)
    note = check_reason(body["priority"], body["reason"], body.get("note"))
    if state.ledger is None:
        return error_response(503, None, "ledger", "this kiosk has no desk ledger")
    try:
        ticket = await run_in_threadpool(state.service.issue, body["business"], body["key"], (), body["priority"],
                                         "desk")
    except (ActionRefused, KeyConflict) as exc:
        return refused(exc, {"class": "priority", "desk-only": "priority"})
    except JournalError as exc:
        return error_response(503, None, "journal", str(exc))
    try:
        await run_in_threadpool(state.ledger.add, ticket["day"], ticket["number"], body["priority"],
                                body["business"], body["reason"], note, session["s"], ticket["t_ms"])
    except LedgerError as exc:           # the ticket stands (it is in the journal); the guide is told
        ticket["ledger_error"] = str(exc)
    state.hub.notify()
    if ticket["new"]:
        ticket["print"] = await print_ticket(request, ticket)
    return JSONResponse(dict(ticket, reason=body["reason"], note=note), status_code=201 if ticket["new"] else 200)


async def get_desk_tickets(request):
    state = request.app.state
    role_session(request, "desk", post=False)
    rows = await run_in_threadpool(state.ledger.rows, state.service.store.day) if state.ledger else []
    return JSONResponse({"day": state.service.store.day, "tickets": rows})


# ------------------------------------------------------------ admin

async def get_admin_health(request):
    role_session(request, "admin", post=False)
    return JSONResponse(await run_in_threadpool(request.app.state.health))


async def get_admin_settings(request):
    role_session(request, "admin", post=False)
    return JSONResponse(request.app.state.settings())


async def post_admin_test_print(request):
    state = request.app.state
    role_session(request, "admin", post=True)
    await read_body(request, state.ops["admin_test_print"].body)
    if state.printing.printer is None:
        return error_response(409, None, "no-printer", "this kiosk has no [printer] table")
    return JSONResponse(await run_in_threadpool(state.printing.test_page, state.service.clock()))


# ------------------------------------------------------------ the operation table

def more_operations(queue_config):
    """The operations of this module, with enums from the queue configuration."""
    lang = {"lang": {"type": "string", "enum": list(LANGUAGES)}}
    empty = {"type": "object", "properties": {}}
    number = {"type": "string", "pattern": "[A-Z]{0,3}[0-9]{1,5}", "maxLength": 8}
    rating_errors = {"400": "a field is wrong (the error names it)", "404": "no such counter, or no rating",
                     "409": "no prompt open (answered on the pad, timed out) or another ticket"}
    role_errors = {"401": "not signed in for this role", "403": "no such role or missing CSRF token"}
    classes = [c for c in queue_config.order if c in REASONS]
    return [
        Operation("post", "/api/tickets/{number}/reprint", "reprint_ticket", "Reprint a waiting or called ticket",
                  post_reprint, body=empty, query=lang,
                  responses={"200": "journaled and printed (see print)", "400": "bad number", "404": "no such ticket",
                             "409": "the ticket is no longer waiting or called"}),
        Operation("get", "/api/rating/{counter_id}", "rating", "The counter's rating prompt, levels and reasons",
                  get_rating, query=lang, responses={"200": "the prompt", "404": "no such counter or no rating"}),
        Operation("post", "/api/rating/{counter_id}/level", "rate", "The customer's level (5 best, 1 worst)",
                  post_rating_level, query=lang, body={"type": "object", "required": ["level"], "properties": {
                      "level": {"type": "integer", "minimum": 1, "maximum": 5},
                      "number": dict(number, description="the ticket the page shows; refused if another is asked")}},
                  responses=dict(rating_errors, **{"200": "the prompt after it (done, or a reason needed)"})),
        Operation("post", "/api/rating/{counter_id}/reason", "rate_reason", "The reason of a level 1 or 2",
                  post_rating_reason, query=lang, body={"type": "object", "properties": {
                      "pick": {"type": "integer", "minimum": 1, "maximum": 9},
                      "text": {"type": "string", "maxLength": 256}},
                      "description": "pick (a number of the configured list) or text"},
                  responses=dict(rating_errors, **{"200": "rated"})),
        Operation("get", "/api/rating/{counter_id}/events", "rating_events",
                  "Server-Sent Events: choices, then the prompt after every change", get_rating_events, query=lang,
                  responses={"200": "event stream", "404": "no such counter or no rating"}, media="text/event-stream"),
        Operation("post", "/api/staff/login", "staff_login", "Sign in for the desk or admin page", post_staff_login,
                  query=lang, body={"type": "object", "required": ["role", "staff", "pin"], "properties": {
                      "role": {"type": "string", "enum": list(ROLES)},
                      "staff": {"type": "string", "pattern": "[A-Za-z0-9][A-Za-z0-9._-]{0,31}", "maxLength": 32},
                      "pin": {"type": "string", "pattern": "[0-9]{4,12}", "maxLength": 12}}},
                  responses={"200": "signed in; sets the session cookie", "400": "a field is wrong",
                             "401": "wrong staff number or PIN", "403": "no such role for this staff member",
                             "429": "locked after too many wrong PINs"}),
        Operation("post", "/api/staff/logout", "staff_logout", "Sign out of the desk or admin page", post_staff_logout,
                  staff=True, body={"type": "object", "required": ["role"], "properties": {
                      "role": {"type": "string", "enum": list(ROLES)}}},
                  responses=dict(role_errors, **{"200": "signed out", "400": "a field is wrong"})),
        Operation("post", "/api/desk/tickets", "desk_ticket", "Issue a green-channel or VIP ticket (Q-10, Q-13)",
                  post_desk_ticket, staff=True, query=lang,
                  body={"type": "object", "required": ["business", "priority", "reason", "key"], "properties": {
                      "business": {"type": "string", "enum": list(queue_config.businesses)},
                      "priority": {"type": "string", "enum": classes},
                      "reason": {"type": "string", "enum": sorted({r for c in classes for r in REASONS[c]})},
                      "note": {"type": "string", "maxLength": 200},
                      "key": {"type": "string", "pattern": "[A-Za-z0-9._:-]{1,64}", "maxLength": 64}}},
                  responses=dict(role_errors, **{"201": "issued and recorded in the ledger",
                                                 "200": "the same key issued it before",
                                                 "400": "a field is wrong (e.g. a reason of another class)",
                                                 "409": "refused in the queue's present state"})),
        Operation("get", "/api/desk/tickets", "desk_tickets", "Today's desk ledger", get_desk_tickets, staff=True,
                  responses=dict(role_errors, **{"200": "the ledger rows"})),
        Operation("get", "/api/admin/health", "admin_health", "Device health", get_admin_health, staff=True,
                  responses=dict(role_errors, **{"200": "outbox, hall link, printer, pads, journals, clock"})),
        Operation("get", "/api/admin/settings", "admin_settings", "The settings in force (no secrets)",
                  get_admin_settings, staff=True, responses=dict(role_errors, **{"200": "the summary"})),
        Operation("post", "/api/admin/test-print", "admin_test_print", "Print a test slip", post_admin_test_print,
                  staff=True, body=empty,
                  responses=dict(role_errors, **{"200": "the print outcome", "409": "no printer configured"})),
    ]
