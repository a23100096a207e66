"""Request-body checking and the OpenAPI 3 document, both from one table of operations.

Each operation of ``_api.py`` declares its method, path, parameters and body
schema (a small JSON Schema subset: object of typed properties, ``required``,
``enum``, ``pattern``, ``maxLength``, integers with ``minimum``/``maximum``,
arrays of strings). The same
declaration checks incoming bodies and writes ``/api/openapi.json``, so the
document cannot drift from what the routes accept.
"""

import re

from ._errors import BadRequest

OPENAPI_VERSION = "3.0.3"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["status", "reason", "message"],
        "properties": {
            "status": {"type": "integer"},
            "field": {"type": "string", "nullable": True, "description": "the request field that is wrong"},
            "reason": {"type": "string"},
            "message": {"type": "string"},
        },
    }},
}


class Operation:
    """One API operation: where it lives, what it takes and what it answers.

    Args:
        method: "get" or "post".
        path: the Starlette path ("/api/counters/{counter_id}/recall").
        operation_id, summary: for the document.
        handler: the async endpoint.
        body: a JSON Schema object for the request body, or None.
        query: {name: schema} of query parameters.
        responses: {status: description}.
        staff: needs a staff session (and for POST the CSRF header).
        media: the success media type.
    """

    def __init__(self, method, path, operation_id, summary, handler, body=None, query=None, responses=None,
                 staff=False, media="application/json"):
        self.method, self.path, self.operation_id, self.summary = method, path, operation_id, summary
        self.handler, self.body, self.query = handler, body, query or {}
        self.responses = responses or {"200": "done"}
        self.staff, self.media = staff, media


def check_body(schema, data):
    """Check a decoded JSON body against an operation's schema.

    Returns:
        ``data`` (a dict).

    Raises:
        BadRequest: 400 naming the first wrong field (unknown, missing, wrong type or value).
    """
    if not isinstance(data, dict):
        raise BadRequest(400, None, "type", "the body must be a JSON object, got %s" % type(data).__name__)
    props = schema.get("properties", {})
    for name in data:
        if name not in props:
            raise BadRequest(400, name, "unknown", "unknown field %r (fields: %s)" % (name, ", ".join(props) or "none"))
    for name in schema.get("required", ()):
        if name not in data:
            raise BadRequest(400, name, "missing", "field %r is required" % name)
    for name, value in data.items():
        check_value(name, props[name], value)
    return data


def check_value(name, schema, value):
    """Check one value against a property schema (string, integer, array); raises ``BadRequest``."""
    kind = schema["type"]
    if kind == "array":
        if not isinstance(value, list):
            raise BadRequest(400, name, "type", "field %r must be an array, got %r" % (name, value))
        if len(value) > schema.get("maxItems", 100):
            raise BadRequest(400, name, "value", "field %r has %d items, at most %d" % (name, len(value),
                                                                                         schema["maxItems"]))
        for i, item in enumerate(value):
            check_value("%s[%d]" % (name, i), schema["items"], item)
        return
    if kind == "integer":
        if type(value) is not int:
            raise BadRequest(400, name, "type", "field %r must be an integer, got %r" % (name, value))
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise BadRequest(400, name, "value", "field %r: %d is not within %s..%s" % (name, value, low, high))
        return
    if not isinstance(value, str):
        raise BadRequest(400, name, "type", "field %r must be a string, got %r" % (name, value))
    if len(value) > schema.get("maxLength", 1000):
        raise BadRequest(400, name, "value", "field %r is %d characters, at most %d" % (name, len(value),
                                                                                        schema["maxLength"]))
    if "enum" in schema and value not in schema["enum"]:
        raise BadRequest(400, name, "unknown", "field %r: %r is not one of %s" % (name, value,
                                                                                  ", ".join(schema["enum"])))
    if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
        raise BadRequest(400, name, "value", "field %r: %r does not match %s" % (name, value, schema["pattern"]))


def document(operations, title, version):
    """The OpenAPI 3 document of ``operations`` (a dict ready for JSON)."""
    paths = {}
    for op in operations:
        item = {"operationId": op.operation_id, "summary": op.summary, "responses": {}}
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{(\w+)}", op.path)]
        params += [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in op.query.items()]
        if op.staff:
            params.append({"name": "X-CSRF-Token", "in": "header", "required": op.method == "post",
                           "schema": {"type": "string"}, "description": "the token given at sign-in"})
            item["security"] = [{"staffSession": []}]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
        for status, description in op.responses.items():
            media = op.media if status.startswith("2") else "application/json"
            schema = {"$ref": "#/components/schemas/Error"} if not status.startswith("2") else {"type": "object"}
            if media == "text/event-stream":
                schema = {"type": "string"}
            item["responses"][status] = {"description": description, "content": {media: {"schema": schema}}}
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version,
                 "description": "The kiosk's queue: take a ticket, the waiting board, counter actions, "
                                "rating pads, the guidance desk and the admin page."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"staffSession": {"type": "apiKey", "in": "cookie", "name": "kiosk_staff"}},
        },
    }
