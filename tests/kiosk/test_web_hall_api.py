"""The later pages' API on a real uvicorn server: rating pads, printing on issue, the guidance desk, admin.

Everything is real: the queue journal, the rating journal, the desk ledger
and the edge outbox are SQLite files in tmp_path; the printer is
python-escpos's Dummy (its bytes are decoded) or a network printer at a
closed loopback port (a real connection refused); the counter's serial pad
is a pty pair. The clock stands at 10:00 in the hall and is moved forward
for the rating timeout (``[rating] timeout_s`` = 5 s).
"""

import os
import socket
import time

import httpx
import pytest

from edge.identity import create_identity
from edge.outbox import Outbox
from kiosk.printing import Printer, PrinterConfig
from kiosk.queue import QueueStore, load_config
from kiosk.rating import RatingConfig, RatingStore
from kiosk.web import DeskLedger, WebConfig, WebServer, create_app, hash_pin
from protocols.records import decode_unverified
from test_web_api import PINS, QUEUE_TOML, Clock, web_table

HALL = "城东供电营业厅"
STAFF_PINS = dict(PINS, **{"9001": "9090", "9002": "8642"})
TIMEOUT_S = 5
WAIT_S = 10            # generous for two shared cores: the poller acts within 0.2 s


def hall_web_table(pads=None):
    table = web_table()
    table["staff"]["9001"] = {"pin_hash": hash_pin(STAFF_PINS["9001"], rounds=2000), "roles": ["admin"]}
    table["staff"]["9002"] = {"pin_hash": hash_pin(STAFF_PINS["9002"], rounds=2000), "roles": ["desk"]}
    for counter, url in (pads or {}).items():
        table["counter"].setdefault(counter, {})["pad"] = url
    return table


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HallKiosk:
    """A running app with rating (pads optional), a printer, the desk ledger, its journals and outbox."""

    def __init__(self, tmp_path, printer="dummy", pads=None):
        self.queue_config = load_config(QUEUE_TOML)
        self.web_config = WebConfig.from_dict(hall_web_table(pads), self.queue_config, "test-kiosk.toml")
        identity = create_identity(str(tmp_path / "identity"), "kiosk-1", "kiosk", "hall-01")
        self.outbox = Outbox(str(tmp_path / "outbox.db"), identity)
        self.store = QueueStore(tmp_path / "queue.db", self.queue_config, self.outbox)
        self.rating = RatingStore(tmp_path / "rating.db", RatingConfig(timeout_s=TIMEOUT_S), self.outbox)
        self.ledger = DeskLedger(tmp_path / "desk.db")
        table = {"kind": "dummy", "hall": HALL, "hall_en": "East City Supply Hall"}
        if printer == "offline":
            table = {"kind": "network", "host": "127.0.0.1", "port": closed_port(), "timeout_s": 2, "hall": HALL}
        self.printer = Printer(PrinterConfig.from_dict(table, "test-printer.toml"))
        self.clock = Clock()
        files = {"queue": tmp_path / "queue.db", "rating": tmp_path / "rating.db", "desk": tmp_path / "desk.db"}
        self.app = create_app(self.store, self.web_config, self.clock, rating=self.rating, printer=self.printer,
                              ledger=self.ledger, files=files, clock_quality=lambda: (self.clock(), {"src": "test"}))
        self.server = WebServer(self.app).start()
        self.url = self.server.url

    def client(self):
        return httpx.Client(base_url=self.url, timeout=10)

    def login(self, client, counter="w1", staff="1001"):
        reply = client.post("/api/login", json={"counter": counter, "staff": staff, "pin": STAFF_PINS[staff]})
        assert reply.status_code == 200, reply.text
        return {"X-CSRF-Token": reply.json()["csrf"]}

    def role_login(self, client, role, staff):
        reply = client.post("/api/staff/login", json={"role": role, "staff": staff, "pin": STAFF_PINS[staff]})
        assert reply.status_code == 200, reply.text
        return {"X-CSRF-Token": reply.json()["csrf"]}

    def serve_one(self, client, business="change.rename", counter="w1", key="t1"):
        """Take a ticket, then the counter calls, starts and finishes it; returns the ticket's answer."""
        ticket = client.post("/api/tickets", json={"business": business, "key": key}).json()
        h = self.login(client, counter)
        client.post("/api/counters/%s/resume" % counter, headers=h)
        assert client.post("/api/counters/%s/call-next" % counter, headers=h).json()["ticket"]["number"] == \
            ticket["number"]
        client.post("/api/counters/%s/start" % counter, headers=h)
        client.post("/api/counters/%s/finish" % counter, headers=h)
        return ticket

    def ratings_in_outbox(self):
        return [r.body for r in (decode_unverified(d) for _s, d in self.outbox.records()) if r.kind == "rating"]

    def state(self):
        """What must not change on a refused request."""
        return (self.store.journal(), self.rating.records(), sorted(self.rating.desk.prompts().items()),
                self.ledger.rows(), [bytes(d) for _s, d in self.outbox.records()])

    def close(self):
        self.server.stop()
        for part in (self.store, self.rating, self.ledger, self.outbox):
            part.close()
        self.printer.close()


def wait_until(check, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("not within %s s" % timeout_s)


@pytest.fixture
def kiosk(tmp_path):
    k = HallKiosk(tmp_path)
    yield k
    k.close()


def test_a_ticket_is_printed_on_issue_in_gb18030_and_reprinted(kiosk):
    with kiosk.client() as c:
        first = c.post("/api/tickets", json={"business": "payment", "key": "p1"})
        again = c.post("/api/tickets", json={"business": "payment", "key": "p1"})      # a retry prints nothing
        assert first.status_code == 201 and first.json()["print"] == {"printed": True, "state": "ok", "error": None}
        assert "print" not in again.json()
        printed = bytes(kiosk.printer.output)
        text = printed.decode("gb18030", errors="replace")     # commands decode as noise; the text is exact
        assert "B001" in text and HALL in text and "排队凭条" in text and "电费缴纳" in text
        assert HALL.encode("gb18030") in printed and printed.count(b"B001") == 1
        reprint = c.post("/api/tickets/B001/reprint", json={})
        assert reprint.status_code == 200 and reprint.json()["reprints"] == 1
        assert "重打 / REPRINT 1" in bytes(kiosk.printer.output)[len(printed):].decode("gb18030", "replace")
    assert [row[3] for row in kiosk.store.journal()][-1] == "reprint"


def test_a_printer_fault_keeps_the_number_and_shows_in_health(tmp_path):
    k = HallKiosk(tmp_path, printer="offline")
    try:
        with k.client() as c:
            reply = c.post("/api/tickets", json={"business": "payment", "key": "p1"})
            assert reply.status_code == 201 and reply.json()["number"] == "B001"      # the ticket exists
            outcome = reply.json()["print"]
            assert outcome["printed"] is False and outcome["state"] == "offline"
            assert "cannot open" in outcome["error"] and "network 127.0.0.1" in outcome["error"]
            h = k.role_login(c, "admin", "9001")
            health = c.get("/api/admin/health", headers=h).json()
        assert health["printer"]["state"] == "offline" and "cannot open" in health["printer"]["last_error"]
        assert [row[3] for row in k.store.journal()].count("issue") == 1
    finally:
        k.close()


def test_finish_opens_the_rating_bound_to_ticket_counter_staff_and_one_rating_reaches_the_outbox(kiosk):
    with kiosk.client() as c:
        assert c.get("/api/rating/w1").json()["state"] == "idle"
        kiosk.serve_one(c)
        prompt = c.get("/api/rating/w1?lang=en").json()
        assert (prompt["state"], prompt["number"]) == ("ask", "A001")
        assert [lv["level"] for lv in prompt["levels"]] == [5, 4, 3, 2, 1]
        assert prompt["levels"][0]["name"] == "very satisfied"
        done = c.post("/api/rating/w1/level", json={"level": 4, "number": "A001"})
        assert done.status_code == 200 and done.json()["done"] is True and done.json()["state"] == "idle"
        again = c.post("/api/rating/w1/level", json={"level": 5})
        assert again.status_code == 409 and again.json()["error"]["reason"] == "no-prompt"
    ratings = kiosk.ratings_in_outbox()
    assert len(ratings) == 1
    r = ratings[0]
    assert (r["number"], r["counter"], r["staff"], r["level"], r["business"]) == ("A001", "w1", "1001", 4,
                                                                                   "change.rename")


def test_level_one_needs_a_reason_and_timeout_records_not_rated(kiosk):
    with kiosk.client() as c:
        kiosk.serve_one(c, key="t1")
        reply = c.post("/api/rating/w1/level", json={"level": 1})
        assert reply.json()["state"] == "reason" and reply.json()["done"] is False
        assert kiosk.ratings_in_outbox() == []                      # half a rating is not a rating
        assert c.post("/api/rating/w1/reason", json={"pick": 2}).json()["done"] is True
        kiosk.serve_one(c, business="other.consult", counter="w3", key="t2")
        assert c.get("/api/rating/w3").json()["number"] == "C001"
        kiosk.clock.advance((TIMEOUT_S + 1) * 1000)                  # nobody taps: the poller ends it
        wait_until(lambda: c.get("/api/rating/w3").json()["state"] == "idle")
    bodies = {b["number"]: b for b in wait_until(lambda: len(kiosk.ratings_in_outbox()) == 2
                                                 and kiosk.ratings_in_outbox())}
    assert bodies["A001"]["level"] == 1 and bodies["A001"]["reason"] == "办理时间长 / slow service"
    assert bodies["C001"].get("level") is None
    assert [b["outcome"] for b in kiosk.rating.records()] == ["rated", "timeout"]


def _rating_cases():
    # (path, body, status, field or reason)
    return [
        ("/api/rating/w1/level", {"level": 0}, 400, "level"),
        ("/api/rating/w1/level", {"level": 6}, 400, "level"),
        ("/api/rating/w1/level", {"level": "5"}, 400, "level"),
        ("/api/rating/w1/level", {"level": 5, "number": "A999"}, 409, "number"),
        ("/api/rating/w1/level", {"level": 5, "colour": 1}, 400, "colour"),
        ("/api/rating/w1/level", {}, 400, "level"),
        ("/api/rating/w9/level", {"level": 5}, 404, "counter_id"),
        ("/api/rating/w1/reason", {"pick": 1}, 409, None),                  # no level 1-2 chosen
        ("/api/rating/w1/reason", {"pick": 1, "text": "x"}, 400, "pick"),
        ("/api/rating/w1/reason", {"pick": 10}, 400, "pick"),
        ("/api/rating/w2/level", {"level": 5}, 409, None),                  # no prompt at w2
    ]


def test_bad_rating_requests_get_clear_4xx_and_change_nothing(kiosk):
    with kiosk.client() as c:
        kiosk.serve_one(c)
        before = kiosk.state()
        for path, body, status, field in _rating_cases():
            reply = c.post(path, json=body)
            assert reply.status_code == status, (path, body, reply.text)
            error = reply.json()["error"]
            assert error["message"] and error["field"] == field, (path, body, error)
        raw = c.post("/api/rating/w1/level", content=b"level=5", headers={"Content-Type": "text/plain"})
        assert raw.status_code == 415
        assert kiosk.state() == before


@pytest.mark.parametrize("pad_first", [False, True])
def test_pad_and_page_race_gives_one_rating_and_the_loser_is_told(tmp_path, pad_first):
    master, slave = os.openpty()
    k = HallKiosk(tmp_path, pads={"w1": os.ttyname(slave)})
    try:
        os.set_blocking(master, False)
        got = bytearray()

        def pad_reads(want):
            def check():
                try:
                    got.extend(os.read(master, 1024))
                except BlockingIOError:
                    pass
                return want in got
            return wait_until(check)

        with k.client() as c:
            k.serve_one(c)
            pad_reads(b"A A001\n")                              # the pad is lit for the same ticket
            os.write(master, b"K5\n")                           # the pad and the page answer together...
            if pad_first:                                       # ...or the pad clearly first
                wait_until(lambda: len(k.rating.records()) == 1)
            page = c.post("/api/rating/w1/level", json={"level": 3, "number": "A001"})
            wait_until(lambda: len(k.rating.records()) == 1)
            time.sleep(0.5)                                     # a second record would have come by now
            pad_reads(b"D\n" if page.status_code == 409 else b"C\n")
        records = k.rating.records()
        assert len(records) == 1 and records[0]["outcome"] == "rated"
        assert records[0]["level"] == (5 if page.status_code == 409 else 3)
        assert page.status_code in (200, 409) and (page.status_code == 409 or not pad_first)
        assert len(k.ratings_in_outbox()) == 1
        print("race: %s won" % ("pad" if page.status_code == 409 else "page"))
    finally:
        k.close()
        os.close(master)
        os.close(slave)


def test_the_desk_issues_a_vip_ticket_with_its_reason_and_it_is_called_first(kiosk):
    with kiosk.client() as c:
        normal = c.post("/api/tickets", json={"business": "change.rename", "key": "n1"}).json()
        h = kiosk.role_login(c, "desk", "9002")
        reply = c.post("/api/desk/tickets", headers=h, json={"business": "new", "priority": "vip",
                                                             "reason": "vip_customer", "key": "d1"})
        assert reply.status_code == 201, reply.text
        vip = reply.json()
        assert vip["priority"] == "vip" and vip["print"]["printed"] is True
        ledger = c.get("/api/desk/tickets", headers=h).json()["tickets"]
        assert [(r["number"], r["priority"], r["reason"], r["staff"]) for r in ledger] == [
            (vip["number"], "vip", "vip_customer", "9002")]
        hc = kiosk.login(c, "w1")
        c.post("/api/counters/w1/resume", headers=hc)
        assert c.post("/api/counters/w1/call-next", headers=hc).json()["ticket"]["number"] == vip["number"]
        assert c.post("/api/counters/w1/skip", headers=hc).status_code == 200
    issued = [b for k, b in [(r.kind, r.body) for r in (decode_unverified(d) for _s, d in kiosk.outbox.records())]
              if k == "ticket" and b["event"] == "issued"]
    assert [(b["number"], b["priority"], b["channel"]) for b in issued] == [
        (normal["number"], "normal", "kiosk"), (vip["number"], "vip", "desk")]


def test_bad_desk_requests_change_nothing(kiosk):
    good = {"business": "new", "priority": "green", "reason": "pregnant", "key": "d1"}
    with kiosk.client() as c:
        before = kiosk.state()
        assert c.post("/api/desk/tickets", json=good).status_code == 401                 # not signed in
        hc = kiosk.login(c, "w1")
        assert c.post("/api/desk/tickets", headers=hc, json=good).status_code == 401     # a counter session
        refused = c.post("/api/staff/login", json={"role": "desk", "staff": "1001", "pin": STAFF_PINS["1001"]})
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "role"
        h = kiosk.role_login(c, "desk", "9002")
        assert c.post("/api/desk/tickets", json=good).status_code == 403                 # no CSRF token
        cases = [(dict(good, priority="normal"), "priority"), (dict(good, reason="vip_customer"), "reason"),
                 (dict(good, reason="other"), "note"), (dict(good, business="bill"), "business"),
                 (dict(good, note="x" * 201), "note"), (dict(good, key="a b"), "key"),
                 ({k: v for k, v in good.items() if k != "reason"}, "reason")]
        for body, field in cases:
            reply = c.post("/api/desk/tickets", headers=h, json=body)
            assert reply.status_code == 400 and reply.json()["error"]["field"] == field, (body, reply.text)
        vip_at_screen = c.post("/api/tickets", json={"business": "new", "key": "k", "priority": "vip"})
        assert vip_at_screen.status_code == 400 and vip_at_screen.json()["error"]["field"] == "priority"
        assert kiosk.state() == before


def test_admin_needs_the_role_and_shows_health_and_settings_without_secrets(kiosk):
    with kiosk.client() as c:
        assert c.get("/api/admin/health").status_code == 401
        kiosk.role_login(c, "desk", "9002")
        assert c.get("/api/admin/health").status_code == 401                            # desk is not admin
        wrong = c.post("/api/staff/login", json={"role": "admin", "staff": "9001", "pin": "0000"})
        assert wrong.status_code == 401
        c.post("/api/tickets", json={"business": "payment", "key": "p1"})
        h = kiosk.role_login(c, "admin", "9001")
        kiosk.login(c, "w4", "1002")                                                     # cookie replaced
        assert c.get("/api/admin/health").status_code == 401
        h = kiosk.role_login(c, "admin", "9001")
        health = c.get("/api/admin/health").json()
        settings = c.get("/api/admin/settings").json()
        assert c.post("/api/admin/test-print", json={}).status_code == 403               # no CSRF token
        test = c.post("/api/admin/test-print", headers=h, json={})
        assert test.status_code == 200 and test.json()["printed"] is True
    assert health["outbox"]["depth_records"] == len(kiosk.outbox.records()) >= 1
    assert health["outbox"]["unacked"] == health["outbox"]["depth_records"]             # no hall in this test
    assert health["printer"]["state"] == "ok" and health["printer"]["jobs"] == 1
    assert health["journals"]["queue"] > 0 and health["clock"]["quality"] == {"src": "test"}
    assert health["counters"]["open"] == 0 and set(health["counters"]["counters"]) == set(kiosk.queue_config.counters)
    assert health["rating"]["pads"] == {} and health["rating"]["timeout_s"] == TIMEOUT_S
    dump = str(settings)
    assert "pbkdf2" not in dump and "pin_hash" not in dump and settings["staff"]["9001"]["roles"] == ["admin"]
    assert "T000" in bytes(kiosk.printer.output).decode("gb18030", "replace")
