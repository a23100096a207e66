"""The kiosk web app's JSON API on a real uvicorn server, over a real journal and outbox.

Each test starts the app on a free loopback port; the queue journal and the
edge outbox are SQLite files in tmp_path. The clock stands at 10:00 in the
hall (inside opening hours) and moves with real time, or by ``advance``.
"""

import json
import os
import time

import httpx
import pytest

from edge.identity import create_identity
from edge.outbox import Outbox
from kiosk.queue import QueueStore, load_config
from kiosk.web import (CATALOGUES, WebConfig, WebConfigError, WebServer, announcement, create_app, hash_pin,
                       load_web_config)
from protocols.records import decode_unverified
from queue_setup import at

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUEUE_TOML = os.path.join(ROOT, "kiosk", "samples", "queue.toml")
KIOSK_TOML = os.path.join(ROOT, "kiosk", "samples", "kiosk.toml")
PINS = {"1001": "1357", "1002": "2468"}


class Clock:
    """The hall's clock for a test: 10:00 local on 2024-06-03, running with real time, movable."""

    def __init__(self):
        self.base_ms, self.t0 = at(10, 0), time.monotonic()

    def __call__(self):
        return self.base_ms + int((time.monotonic() - self.t0) * 1000)

    def advance(self, ms):
        self.base_ms += ms


def web_table(**changes):
    table = {
        "max_failures": 3, "lockout_s": 60,
        "counter": {"w1": {"label": "1"}, "w3": {"label": "3"}, "w4": {"label": "4"}},
        "labels": {"zh-CN": {"A": "电力业务", "B": "电费缴纳", "C": "咨询报修"}},
        # fewer PBKDF2 rounds than hash_pin's default keep the tests quick
        "staff": {"1001": {"pin_hash": hash_pin(PINS["1001"], rounds=2000), "counters": ["w1", "w2", "w3"]},
                  "1002": {"pin_hash": hash_pin(PINS["1002"], rounds=2000), "counters": ["w4", "w5"]}},
    }
    table.update(changes)
    return table


class Kiosk:
    """A running app with its journal, outbox and clock."""

    def __init__(self, tmp_path, **web_changes):
        self.queue_config = load_config(QUEUE_TOML)
        self.web_config = WebConfig.from_dict(web_table(**web_changes), self.queue_config, "test-kiosk.toml")
        identity = create_identity(str(tmp_path / "identity"), "kiosk-1", "kiosk", "hall-01")
        self.outbox = Outbox(str(tmp_path / "outbox.db"), identity)
        self.store = QueueStore(tmp_path / "queue.db", self.queue_config, self.outbox)
        self.clock = Clock()
        self.app = create_app(self.store, self.web_config, self.clock)
        self.server = WebServer(self.app).start()
        self.url = self.server.url

    def client(self):
        return httpx.Client(base_url=self.url, timeout=10)

    def login(self, client, counter="w1", staff="1001"):
        reply = client.post("/api/login", json={"counter": counter, "staff": staff, "pin": PINS[staff]})
        assert reply.status_code == 200, reply.text
        return {"X-CSRF-Token": reply.json()["csrf"]}

    def state(self):
        """What must not change on a refused request: the journal rows and the outbox records."""
        return self.store.journal(), [bytes(data) for _seq, data in self.outbox.records()]

    def outbox_bodies(self):
        return [(r.kind, r.body) for r in (decode_unverified(data) for _seq, data in self.outbox.records())]

    def close(self):
        self.server.stop()
        self.store.close()
        self.outbox.close()


@pytest.fixture
def kiosk(tmp_path):
    k = Kiosk(tmp_path)
    yield k
    k.close()


def test_openapi_document_is_openapi_3_and_matches_the_routes(kiosk):
    with kiosk.client() as c:
        doc = c.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.0.") and doc["info"]["title"] and doc["info"]["version"]
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    served = {(m, r.path) for r in kiosk.app.routes if getattr(r, "methods", None) and r.path.startswith("/api/")
              for m in r.methods if m != "HEAD"}
    assert documented == served
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))

    def resolve(ref):
        node = doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert method in ("get", "post", "put", "delete", "patch")
            assert op["responses"], (method, path)
            for status, response in op["responses"].items():
                assert status.isdigit() and response["description"]
                for media in response["content"].values():
                    if "$ref" in media["schema"]:
                        assert resolve(media["schema"]["$ref"])["type"] == "object"
            declared = {p["name"] for p in op.get("parameters", ()) if p["in"] == "path"}
            assert declared == set(part[1:-1] for part in path.split("/") if part.startswith("{")), path
            for p in op.get("parameters", ()):
                assert p["in"] in ("path", "query", "header", "cookie") and "schema" in p
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                assert schema["type"] == "object" and set(schema.get("required", ())) <= set(schema["properties"])
            for requirement in op.get("security", ()):
                assert set(requirement) <= set(doc["components"]["securitySchemes"])
    assert doc["paths"]["/api/tickets"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]["business"]["enum"] == list(kiosk.queue_config.businesses)


def test_a_double_tap_takes_one_ticket_and_its_record_reaches_the_outbox(kiosk):
    """queue-systems.md rule 2: the same key returns the same ticket, and issues one record."""
    with kiosk.client() as c:
        first = c.post("/api/tickets", json={"business": "payment", "key": "tap-1"})
        again = c.post("/api/tickets", json={"business": "payment", "key": "tap-1"})
        other = c.post("/api/tickets", json={"business": "change.rename", "key": "tap-1"})
        second = c.post("/api/tickets", json={"business": "payment", "key": "tap-2"})
    assert (first.status_code, again.status_code, second.status_code) == (201, 200, 201)
    assert first.json()["number"] == again.json()["number"] == "B001" and second.json()["number"] == "B002"
    assert second.json()["ahead"] == 1
    assert other.status_code == 409 and other.json()["error"]["field"] == "key"
    issued = [body for kind, body in kiosk.outbox_bodies() if kind == "ticket"]
    assert [(b["number"], b["key"], b["event"]) for b in issued] == [("B001", "tap-1", "issued"),
                                                                    ("B002", "tap-2", "issued")]


def test_counter_actions_are_journaled_and_posted(kiosk):
    with kiosk.client() as c:
        c.post("/api/tickets", json={"business": "change.rename", "key": "a"})
        c.post("/api/tickets", json={"business": "other.consult", "key": "b"})
        h = kiosk.login(c, "w1")
        assert c.post("/api/counters/w1/resume", headers=h).json()["status"] == "open"
        view = c.post("/api/counters/w1/call-next", headers=h).json()
        assert view["ticket"]["number"] == "A001" and view["ticket"]["status"] == "called"
        assert c.post("/api/counters/w1/recall", headers=h).json()["ticket"]["recalls"] == 1
        assert c.post("/api/counters/w1/start", headers=h).json()["ticket"]["status"] == "serving"
        # Q-04: transfer to counter 3, which then calls it ahead of nothing else it serves
        assert c.post("/api/counters/w1/transfer", headers=h, json={"to_counter": "w3"}).json()["ticket"] is None
        assert c.post("/api/counters/w1/pause", headers=h).json()["status"] == "paused"
        h3 = kiosk.login(c, "w3")
        c.post("/api/counters/w3/resume", headers=h3)
        assert c.post("/api/counters/w3/call-next", headers=h3).json()["ticket"]["number"] == "A001"
        c.post("/api/counters/w3/start", headers=h3)
        assert c.post("/api/counters/w3/finish", headers=h3).json()["ticket"] is None
        view = c.post("/api/counters/w3/call-next", headers=h3).json()
        assert view["ticket"]["number"] == "C001"
        assert c.post("/api/counters/w3/skip", headers=h3).json()["ticket"] is None
        board = c.get("/api/board?lang=en").json()
    actions = [row[3] for row in kiosk.store.journal()]
    assert actions == ["begin_day", "issue", "issue", "open_counter", "call_next", "recall", "start", "transfer",
                       "pause_counter", "open_counter", "call_next", "start", "finish", "call_next", "no_show"]
    calls = [(b["action"], b["number"], b["counter"], b.get("staff")) for k, b in kiosk.outbox_bodies() if k == "call"]
    assert calls == [("call", "A001", "w1", "1001"), ("recall", "A001", "w1", "1001"),
                     ("start", "A001", "w1", "1001"), ("transfer", "A001", "w1", "1001"),
                     ("call", "A001", "w3", "1001"), ("start", "A001", "w3", "1001"),
                     ("finish", "A001", "w3", "1001"), ("call", "C001", "w3", "1001"),
                     ("no-show", "C001", "w3", "1001"), ("recycle", "C001", "w3", "1001")]
    assert kiosk.store.unposted() == 0
    assert board["calling"][0]["number"] == "C001" and board["calling"][0]["label"] == "3"
    assert board["announcement"] == {"zh-CN": "请 C001 号到 3 号窗口办理", "en": "Number C001, please go to counter 3"}
    assert {c["prefix"]: c["waiting"] for c in board["categories"]} == {"A": 0, "B": 0, "C": 1}


# (method, path, json body or raw bytes, extra headers, session counter, status, field)
BAD = [
    ("post", "/api/tickets", {"key": "k1"}, {}, None, 400, "business"),
    ("post", "/api/tickets", {"business": "payment"}, {}, None, 400, "key"),
    ("post", "/api/tickets", {"business": "bill", "key": "k1"}, {}, None, 400, "business"),
    ("post", "/api/tickets", {"business": 7, "key": "k1"}, {}, None, 400, "business"),
    ("post", "/api/tickets", {"business": "payment", "key": "no spaces"}, {}, None, 400, "key"),
    ("post", "/api/tickets", {"business": "payment", "key": "k" * 65}, {}, None, 400, "key"),
    ("post", "/api/tickets", {"business": "payment", "key": "k1", "priority": "vip"}, {}, None, 400, "priority"),
    ("post", "/api/tickets", {"business": "payment", "key": "k1", "more": "repair"}, {}, None, 400, "more"),
    ("post", "/api/tickets", {"business": "payment", "key": "k1", "more": ["payment"]}, {}, None, 400, "more"),
    ("post", "/api/tickets", {"business": "payment", "key": "k1", "more": ["x"]}, {}, None, 400, "more[0]"),
    ("post", "/api/tickets", ["payment"], {}, None, 400, None),
    ("post", "/api/tickets", b"{not json", {"Content-Type": "application/json"}, None, 400, None),
    ("post", "/api/tickets", b"business=payment", {"Content-Type": "application/x-www-form-urlencoded"}, None, 415,
     None),
    ("post", "/api/tickets", b"{" + b" " * 5000 + b"}", {"Content-Type": "application/json"}, None, 413, None),
    ("get", "/api/board?lang=fr", None, {}, None, 400, "lang"),
    ("get", "/api/businesses?lang=zh", None, {}, None, 400, "lang"),
    ("post", "/api/login", {"counter": "w1", "staff": "1001"}, {}, None, 400, "pin"),
    ("post", "/api/login", {"counter": "w9", "staff": "1001", "pin": "1357"}, {}, None, 400, "counter"),
    ("post", "/api/login", {"counter": "w1", "staff": "1001", "pin": "13a7"}, {}, None, 400, "pin"),
    ("post", "/api/counters/w1/call-next", {}, {}, None, 401, None),
    ("get", "/api/counters/w1", None, {}, None, 401, None),
    ("post", "/api/counters/w1/call-next", {}, {"X-CSRF-Token": "forged"}, "w1", 403, "X-CSRF-Token"),
    ("post", "/api/counters/w1/call-next", {}, {}, "w1", 403, "X-CSRF-Token"),
    ("post", "/api/counters/w2/call-next", {}, "csrf", "w1", 403, "counter_id"),
    ("post", "/api/counters/w99/call-next", {}, "csrf", "w1", 404, "counter_id"),
    ("post", "/api/counters/w1/call-next", {"staff": "x"}, "csrf", "w1", 400, "staff"),
    ("post", "/api/counters/w1/transfer", {}, "csrf", "w1", 400, "to_business"),
    ("post", "/api/counters/w1/transfer", {"to_counter": "w99"}, "csrf", "w1", 400, "to_counter"),
    ("post", "/api/counters/w1/transfer", {"to_counter": "w1"}, "csrf", "w1", 400, "to_counter"),
    ("post", "/api/counters/w1/transfer", {"to_business": "bill"}, "csrf", "w1", 400, "to_business"),
    ("post", "/api/counters/w1/recall", {}, "csrf", "w1", 409, None),       # holds no ticket
    ("post", "/api/counters/w1/finish", {}, "csrf", "w1", 409, None),
    ("post", "/api/counters/w1/call-next?lang=de", {}, "csrf", "w1", 400, "lang"),
    ("put", "/api/tickets", {"business": "payment", "key": "k1"}, {}, None, 405, None),
]


def test_bad_requests_get_a_4xx_naming_the_field_and_change_nothing(kiosk):
    """Promise 6: every route refuses bad input with a clear JSON error; journal and outbox unchanged."""
    with kiosk.client() as c:
        c.post("/api/tickets", json={"business": "payment", "key": "before"})
        headers = kiosk.login(c, "w1")
        c.post("/api/counters/w1/resume", headers=headers)
        cookie = c.cookies.get("kiosk_staff")
        before = kiosk.state()
        for method, path, body, extra, session, status, field in BAD:
            client = httpx.Client(base_url=kiosk.url, timeout=10)
            if session:
                client.cookies.set("kiosk_staff", cookie)
            hdrs = dict(headers) if extra == "csrf" else dict(extra)
            kwargs = {"content": body} if isinstance(body, bytes) else ({"json": body} if body is not None else {})
            reply = client.request(method.upper(), path, headers=hdrs, **kwargs)
            client.close()
            where = "%s %s %r" % (method, path, body)
            assert reply.status_code == status, (where, reply.text)
            error = reply.json()["error"]
            assert error["field"] == field and error["message"] and error["status"] == status, (where, error)
        assert kiosk.state() == before


def test_wrong_pins_are_refused_then_locked_out(kiosk):
    with kiosk.client() as c:
        wrong = {"counter": "w4", "staff": "1002", "pin": "0000"}
        first = c.post("/api/login?lang=en", json=wrong)
        assert first.status_code == 401 and first.json()["error"]["message"] == "Wrong staff number or PIN"
        assert c.post("/api/login", json=wrong).status_code == 401
        third = c.post("/api/login", json=wrong)
        assert third.status_code == 429 and "60" in third.json()["error"]["message"]
        right = {"counter": "w4", "staff": "1002", "pin": PINS["1002"]}
        assert c.post("/api/login", json=right).status_code == 429          # locked: not even checked
        # unknown staff numbers count against the counter too (no guessing of numbers)
        assert c.post("/api/login", json={"counter": "w5", "staff": "9999", "pin": "1111"}).status_code == 401
        assert "kiosk_staff" not in c.cookies
        kiosk.clock.advance(61_000)
        assert c.post("/api/login", json=right).status_code == 200
        # staff 1002 may not work counter w1 (S-03), even with the right PIN
        other = c.post("/api/login", json={"counter": "w1", "staff": "1002", "pin": PINS["1002"]})
        assert other.status_code == 403 and other.json()["error"]["field"] == "counter"
    assert kiosk.store.journal() == []


def test_sign_out_revokes_the_session_cookie(kiosk):
    with kiosk.client() as c:
        headers = kiosk.login(c, "w1")
        cookie = c.cookies.get("kiosk_staff")
        assert c.get("/api/counters/w1").json()["staff"] == "1001"
        assert c.post("/api/counters/w1/logout", headers=headers).status_code == 200
    with httpx.Client(base_url=kiosk.url, cookies={"kiosk_staff": cookie}) as replay:
        assert replay.get("/api/counters/w1").status_code == 401
        assert replay.post("/api/counters/w1/resume", headers=headers).status_code == 401
    assert kiosk.store.journal() == []


def read_event(lines):
    data = None
    for line in lines:
        if line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            return data
    raise AssertionError("the event stream ended")


def test_event_stream_sends_the_board_then_each_change(kiosk):
    with kiosk.client() as c:
        with c.stream("GET", "/api/events?lang=en") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert read_event(lines)["calling"] == []
            c.post("/api/tickets", json={"business": "payment", "key": "e1"})
            assert read_event(lines)["categories"][1]["waiting"] == 1
            headers = kiosk.login(c, "w4", "1002")
            c.post("/api/counters/w4/resume", headers=headers)
            board = read_event(lines)
            c.post("/api/counters/w4/call-next", headers=headers)
            while not board["calling"]:
                board = read_event(lines)
    assert board["calling"][0]["number"] == "B001" and board["calling"][0]["label"] == "4"
    assert board["announcement"]["en"] == "Number B001, please go to counter 4"


def test_voice_speaks_each_call_in_both_languages(tmp_path):
    if not os.path.exists("/usr/bin/espeak-ng") and not __import__("shutil").which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    wav_dir = tmp_path / "calls"
    k = Kiosk(tmp_path, voice={"enabled": True, "wav_dir": str(wav_dir)})
    try:
        with k.client() as c:
            c.post("/api/tickets", json={"business": "payment", "key": "v1"})
            headers = k.login(c, "w4", "1002")
            c.post("/api/counters/w4/resume", headers=headers)
            started = time.monotonic()
            assert c.post("/api/counters/w4/call-next", headers=headers).status_code == 200
            answered_s = time.monotonic() - started
        assert k.app.state.announcer.wait(1, 30), k.app.state.announcer.failed
        files = sorted(os.listdir(wav_dir))
        assert files == ["call-00001-en.wav", "call-00001-zh-CN.wav"]
        assert all(os.path.getsize(wav_dir / f) > 1000 for f in files)
        print("call answered in %.3f s; speech written after %.2f s" % (answered_s, time.monotonic() - started))
    finally:
        k.close()


def test_catalogues_have_the_same_strings_and_the_call_text():
    assert set(CATALOGUES["zh-CN"]) == set(CATALOGUES["en"])
    assert announcement("zh-CN", "A012", "3") == "请 A012 号到 3 号窗口办理"
    assert announcement("en", "A012", "3") == "Number A012, please go to counter 3"


def test_the_sample_file_loads_and_bad_web_tables_name_the_key(tmp_path):
    queue_config = load_config(QUEUE_TOML)
    sample = load_web_config(KIOSK_TOML, queue_config)
    assert sample.counter_labels["vip"] == "8" and set(sample.staff) == {"1001", "1002", "1003", "2001"}
    assert sample.roles["1003"] == {"admin", "desk"} and sample.roles["2001"] == {"desk"}
    assert sample.staff["2001"][1] == () and sample.roles["1001"] == frozenset()
    cases = [
        ({"staff": {"1001": {"pin_hash": "1357", "counters": ["w1"]}}}, 'web.staff."1001".pin_hash'),
        ({"staff": {"1001": {"pin_hash": hash_pin("1357", rounds=2000), "counters": ["w42"]}}},
         'web.staff."1001".counters'),
        ({"counter": {"w42": {"label": "42"}}}, "web.counter.w42"),
        ({"labels": {"fr": {}}}, "web.labels.fr"),
        ({"port": "80"}, "web.port"),
        ({"voice": {"enabled": "yes"}}, "web.voice.enabled"),
        ({"secret": "short"}, "web.secret"),
        ({"colour": "red"}, "web.colour"),
        ({"staff": {"1001": {"pin_hash": hash_pin("1357", rounds=2000), "roles": ["boss"]}}}, 'web.staff."1001".roles'),
        ({"staff": {"1001": {"pin_hash": hash_pin("1357", rounds=2000)}}}, 'web.staff."1001".counters'),
        ({"counter": {"w1": {"pad": 7}}}, "web.counter.w1.pad"),
    ]
    for table, key in cases:
        with pytest.raises(WebConfigError) as caught:
            WebConfig.from_dict(table, queue_config, "k.toml")
        assert caught.value.key == key and str(caught.value).startswith("k.toml: " + key)
    bad = tmp_path / "bad.toml"
    bad.write_text("[queue]\n")
    with pytest.raises(WebConfigError, match="no such table"):
        load_web_config(bad, queue_config)
