"""The JSON API under /api/: take a ticket, board, events, staff sign-in and counter actions.

Every request is checked before the queue is touched: a bad field gives 400
with ``{"error": {"field": ..., "reason": ..., "message": ...}}``, a refused
action 409, and nothing changes (promise 6). Staff actions need the signed
session cookie of that counter (``SameSite=Strict``) and the CSRF token in
``X-CSRF-Token``. Queue work runs in the thread pool (SQLite commits with
``synchronous=FULL``), never on the event loop.
"""

import asyncio
import json

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse

from kiosk.queue import ActionRefused, JournalError, KeyConflict

from ._auth import check_pin, hash_pin
from ._errors import BadRequest
from ._i18n import LANGUAGES, pick_language, text
from ._openapi import Operation, check_body, document
from ._service import COUNTER_ACTIONS

COOKIE = "kiosk_staff"
MAX_BODY = 4096            # the largest valid body is a few hundred bytes
KEEPALIVE_S = 15           # a comment line this often keeps proxies and the browser from timing out
_DUMMY_HASH = hash_pin("0000", salt=b"\0" * 16)   # checked for unknown staff numbers: same time as a real one

# ActionRefused reasons that point at one request field.
_REASON_FIELD = {"business": "business", "more": "more", "key": "key", "staff": "staff"}


def error_response(status, field, reason, message):
    return JSONResponse({"error": {"status": status, "field": field, "reason": reason, "message": message}},
                        status_code=status)


def lang_of(request):
    value = request.query_params.get("lang")
    if value is not None and value not in LANGUAGES:
        raise BadRequest(400, "lang", "unknown", "lang %r is not one of %s" % (value, ", ".join(LANGUAGES)))
    return pick_language(value, request.cookies.get("lang"))


async def read_body(request, schema):
    """The checked JSON body (an empty body counts as ``{}``)."""
    if request.headers.get("content-length", "0").isdigit() and int(request.headers.get("content-length", "0")) \
            > MAX_BODY:
        raise BadRequest(413, None, "too-large", "the body is over %d bytes" % MAX_BODY)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(413, None, "too-large", "the body is over %d bytes" % MAX_BODY)
    if not raw:
        data = {}
    else:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise BadRequest(415, None, "media-type", "send the body as application/json")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(400, None, "json", "the body is not JSON: %s" % exc) from exc
    return check_body(schema, data)


def refused(exc, field_of=None):
    """A queue refusal as a 4xx: a wrong field is 400, a conflict with the queue's state 409."""
    if isinstance(exc, KeyConflict):
        return error_response(409, "key", exc.reason, str(exc))
    field = (field_of or {}).get(exc.reason, _REASON_FIELD.get(exc.reason))
    return error_response(400 if field else 409, field, exc.reason, str(exc))


def staff_session(request, counter_id, post):
    """The session of ``counter_id`` (checks cookie, counter and, for POST, the CSRF header)."""
    state = request.app.state
    session = state.sessions.check(request.cookies.get(COOKIE), state.service.clock())
    if session is None:
        raise BadRequest(401, None, "sign-in", "sign in at counter %s first" % counter_id)
    if session["c"] != counter_id:
        raise BadRequest(403, "counter_id", "other-counter", "signed in at counter %s, not %s"
                         % (session["c"], counter_id))
    if post and request.headers.get("x-csrf-token") != state.sessions.csrf_token(session):
        raise BadRequest(403, "X-CSRF-Token", "csrf", "the X-CSRF-Token header is missing or wrong")
    return session


def known_counter(request):
    counter_id = request.path_params["counter_id"]
    counters = request.app.state.service.config.counters
    if counter_id not in counters:
        raise BadRequest(404, "counter_id", "unknown", "no counter %r (counters: %s)"
                         % (counter_id, ", ".join(counters)))
    return counter_id


# ------------------------------------------------------------ customers and displays

async def get_businesses(request):
    lang = lang_of(request)
    return JSONResponse(await run_in_threadpool(request.app.state.service.businesses, lang))


async def post_ticket(request):
    op = request.app.state.ops["take_ticket"]
    body = await read_body(request, op.body)
    service = request.app.state.service
    try:
        ticket = await run_in_threadpool(service.issue, body["business"], body["key"], body.get("more", ()))
    except ActionRefused as exc:
        return refused(exc)
    except JournalError as exc:
        return error_response(503, None, "journal", str(exc))
    request.app.state.hub.notify()
    if ticket["new"]:            # a repeated key shows the ticket again; the screen offers a reprint
        ticket["print"] = await print_ticket(request, ticket)
    return JSONResponse(ticket, status_code=201 if ticket["new"] else 200)


async def print_ticket(request, ticket, reprints=0):
    """Print an issued ticket (outside the queue's lock); returns the print outcome for the screen."""
    state = request.app.state
    name = state.service.category_name(lang_of(request), ticket["category"])
    return await run_in_threadpool(state.printing.ticket, ticket, name, ticket["t_ms"], reprints)


async def get_board(request):
    lang = lang_of(request)
    return JSONResponse(await run_in_threadpool(request.app.state.service.board, lang))


async def get_events(request):
    """Server-Sent Events: the whole board at once, then again after every change."""
    lang = lang_of(request)
    state = request.app.state
    listener = state.hub.listen()

    async def stream():
        try:
            yield "retry: 2000\n\n"
            sent = None
            while not state.hub.closed:
                board = await run_in_threadpool(state.service.board, lang)
                if board["version"] != sent:
                    sent = board["version"]
                    yield "event: board\ndata: %s\n\n" % json.dumps(board, ensure_ascii=False)
                try:
                    if not await asyncio.wait_for(listener.get(), KEEPALIVE_S):
                        return
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            state.hub.forget(listener)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------ staff

async def post_login(request):
    op = request.app.state.ops["login"]
    body = await read_body(request, op.body)
    state = request.app.state
    lang = lang_of(request)
    now_ms = state.service.clock()
    counter_id, staff = body["counter"], body["staff"]
    keys = ("counter:" + counter_id, "staff:" + staff)
    left = state.lockout.locked_s(keys, now_ms)
    if left:
        return error_response(429, "pin", "locked", text(lang, "error.locked", s=left))
    pin_hash, counters = state.web.staff.get(staff, (_DUMMY_HASH, ()))
    ok = await run_in_threadpool(check_pin, body["pin"], pin_hash) and staff in state.web.staff
    if not ok:
        left = state.lockout.failed(keys, now_ms)
        if left:
            return error_response(429, "pin", "locked", text(lang, "error.locked", s=left))
        return error_response(401, "pin", "wrong-pin", text(lang, "error.pin"))
    state.lockout.succeeded(keys)
    if counter_id not in counters:
        return error_response(403, "counter", "not-allowed", "staff %s may not sign in at counter %s (allowed: %s)"
                              % (staff, counter_id, ", ".join(counters)))
    cookie = state.sessions.issue(counter_id, staff, now_ms)
    session = state.sessions.check(cookie, now_ms)
    response = JSONResponse({"counter": counter_id, "staff": staff, "csrf": state.sessions.csrf_token(session)})
    response.set_cookie(COOKIE, cookie, max_age=int(state.sessions.ttl_ms / 1000), path="/", httponly=True,
                        samesite="strict")
    return response


async def post_logout(request):
    counter_id = known_counter(request)
    state = request.app.state
    session = staff_session(request, counter_id, post=True)
    state.sessions.revoke(session, state.service.clock())
    response = JSONResponse({"counter": counter_id, "signed_out": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def get_counter(request):
    counter_id = known_counter(request)
    lang = lang_of(request)
    session = staff_session(request, counter_id, post=False)
    view = await run_in_threadpool(request.app.state.service.counter, counter_id, lang)
    return JSONResponse(dict(view, staff=session["s"]))


def counter_endpoint(action):
    """The endpoint of one counter action (``COUNTER_ACTIONS``)."""

    async def endpoint(request):
        counter_id = known_counter(request)
        state = request.app.state
        session = staff_session(request, counter_id, post=True)
        body = await read_body(request, state.ops[action.replace("-", "_")].body)
        lang = lang_of(request)
        if action == "transfer" and not body:
            raise BadRequest(400, "to_business", "missing", "a transfer needs to_business and/or to_counter (Q-04)")
        if body.get("to_counter") == counter_id:
            raise BadRequest(400, "to_counter", "value", "to_counter is this counter (%s)" % counter_id)
        try:
            await run_in_threadpool(state.service.counter_action, counter_id, action, session["s"], **body)
        except ActionRefused as exc:
            return refused(exc, {"counter": "to_counter", "business": "to_business"} if action == "transfer" else None)
        except JournalError as exc:
            return error_response(503, None, "journal", str(exc))
        state.hub.notify()
        return JSONResponse(await run_in_threadpool(state.service.counter, counter_id, lang))

    endpoint.__name__ = "counter_" + action.replace("-", "_")
    return endpoint


async def get_openapi(request):
    return JSONResponse(request.app.state.openapi)


# ------------------------------------------------------------ the operation table

def operations(queue_config):
    """Every API operation, with enums from the queue configuration (built once per app).

    The pages that came later (rating, guidance desk, admin, reprint) add
    theirs through ``_api_staff.more_operations``; a new group of pages adds
    its own list the same way.
    """
    from ._api_staff import more_operations
    lang = {"lang": {"type": "string", "enum": list(LANGUAGES)}}
    code = {"type": "string", "enum": list(queue_config.businesses)}
    counter = {"type": "string", "enum": list(queue_config.counters)}
    empty = {"type": "object", "properties": {}}
    errors = {"400": "a field is wrong (the error names it)", "409": "refused in the queue's present state"}
    staff_errors = dict(errors, **{"401": "not signed in", "403": "other counter or missing CSRF token",
                                   "404": "no such counter"})
    ops = [
        Operation("get", "/api/businesses", "list_businesses", "Categories and business types, with estimates",
                  get_businesses, query=lang, responses={"200": "the choices", "400": "bad lang"}),
        Operation("post", "/api/tickets", "take_ticket", "Take a ticket (idempotent per key)", post_ticket,
                  body={"type": "object", "required": ["business", "key"], "properties": {
                      "business": code,
                      "key": {"type": "string", "pattern": "[A-Za-z0-9._:-]{1,64}", "maxLength": 64,
                              "description": "one per tap on the screen: a retry or double tap repeats it"},
                      "more": {"type": "array", "items": code, "maxItems": 8}}},
                  responses=dict(errors, **{"201": "issued", "200": "the same key issued it before",
                                            "413": "body too large", "415": "not JSON"})),
        Operation("get", "/api/board", "board", "The waiting board", get_board, query=lang,
                  responses={"200": "the board", "400": "bad lang"}),
        Operation("get", "/api/events", "events", "Server-Sent Events: the board after every change", get_events,
                  query=lang, responses={"200": "event stream", "400": "bad lang"}, media="text/event-stream"),
        Operation("post", "/api/login", "login", "Staff sign-in with staff number and PIN", post_login,
                  body={"type": "object", "required": ["counter", "staff", "pin"], "properties": {
                      "counter": counter,
                      "staff": {"type": "string", "pattern": "[A-Za-z0-9][A-Za-z0-9._-]{0,31}", "maxLength": 32},
                      "pin": {"type": "string", "pattern": "[0-9]{4,12}", "maxLength": 12}}},
                  responses={"200": "signed in; sets the session cookie", "400": "a field is wrong",
                             "401": "wrong staff number or PIN", "403": "not allowed at that counter",
                             "429": "locked after too many wrong PINs"}),
        Operation("post", "/api/counters/{counter_id}/logout", "logout", "Staff sign-out", post_logout,
                  staff=True, responses={"200": "signed out", "401": "not signed in", "403": "other counter",
                                         "404": "no such counter"}),
        Operation("get", "/api/counters/{counter_id}", "counter", "A counter: status, its ticket and its queue",
                  get_counter, query=lang, staff=True, responses=dict(staff_errors, **{"200": "the counter"})),
    ]
    for action in COUNTER_ACTIONS:
        body = empty
        if action == "transfer":
            body = {"type": "object", "properties": {"to_business": code, "to_counter": counter},
                    "description": "to_business and/or to_counter (Q-04: the ticket keeps its place)"}
        ops.append(Operation("post", "/api/counters/{counter_id}/" + action, action.replace("-", "_"),
                             "Counter action: %s" % action, counter_endpoint(action), body=body, query=lang,
                             staff=True, responses=dict(staff_errors, **{"200": "the counter after it"})))
    ops += more_operations(queue_config)
    ops.append(Operation("get", "/api/openapi.json", "openapi", "This document", get_openapi))
    return ops


def api_document(ops, version):
    return document(ops, "Hall kiosk queue API", version)
