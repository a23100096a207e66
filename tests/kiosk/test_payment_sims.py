"""The simulated billing back office, payment providers and cash acceptor, over real HTTP.

Every service runs on a loopback port (uvicorn); requests go through httpx
like any client's. Covers idempotency (promise 5), injected failures, bad
requests that change nothing (promise 6), masking (S-01, K-09), manual
pre-collection (P-02), statements (M-12), and the ``firmware-sim billing``
and ``payment`` commands.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from firmware_sim.billing import ConfigError, FaultError, load_accounts, sample_accounts_path
from firmware_sim.cli import cli
from firmware_sim.payment import (CashAcceptor, CassetteEmptied, CassetteFull, JamCleared, Jammed, NoteReturned,
                                  NoteStacked)


def _load_helpers():
    spec = importlib.util.spec_from_file_location("payment_services_sims",
                                                  Path(__file__).with_name("payment_services.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ps = _load_helpers()
A, B = ps.ACCOUNT_A, ps.ACCOUNT_B
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def services():
    s = ps.Services()
    yield s
    s.stop_all()


@pytest.fixture
def office(services):
    return services.back_office()


@pytest.fixture(scope="module")
def quiet_office():
    """One back office shared by tests that must change nothing (each checks that it did not)."""
    s = ps.Services()
    yield s.back_office()
    s.stop_all()


@pytest.fixture(scope="module")
def quiet_card():
    s = ps.Services()
    yield s.provider("card")
    s.stop_all()


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


def _pay(key="k1", account=A, amount_fen=9000, method="cash", terminal="K01"):
    return {"key": key, "account": account, "amount_fen": amount_fen, "method": method, "terminal": terminal}


def _books(office, http):
    """Everything a bad request must leave alone: both accounts and today's statement."""
    return ([http.post(office.url + "/accounts/lookup", json={"account": n}).json() for n in (A, B)],
            http.get(office.url + "/statements/" + ps.today()).json())


# ---- back office ---------------------------------------------------------------------------


def test_lookup_shows_arrears_and_masks_the_name(office, http):
    reply = http.post(office.url + "/accounts/lookup", json={"account": A})
    assert reply.status_code == 200
    body = reply.json()
    assert body["arrears_fen"] == 8732 + 7910 and body["balance_fen"] == 0
    assert [b["period"] for b in body["bills"]] == ["2026-09", "2026-10"]
    assert body["account_masked"] == "******1201"
    assert body["name_masked"] == "测****"
    assert "测试客户甲" not in reply.text        # S-01: the name stays in the back office


def test_payment_settles_oldest_bill_first_and_keeps_the_rest_prepaid(office, http):
    reply = http.post(office.url + "/payments", json=_pay(amount_fen=9000))
    assert reply.status_code == 201
    body = reply.json()
    assert body["bills_settled"] == ["BILL-2026-09"]
    assert body["arrears_fen_after"] == 7910 and body["balance_fen_after"] == 9000 - 8732
    assert A not in reply.text and body["account_masked"] == "******1201"


def test_same_key_twice_is_applied_once(office, http):
    """Promise 5: a retry with the same key returns the first result."""
    first = http.post(office.url + "/payments", json=_pay())
    second = http.post(office.url + "/payments", json=_pay())
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    statement = http.get(office.url + "/statements/" + ps.today()).json()
    assert statement["count"] == 1 and statement["amount_fen"] == 9000


def test_same_key_concurrently_is_applied_once(office):
    """Eight kiosks' retries racing with one key: one posting, seven replays."""
    barrier = threading.Barrier(8)
    statuses, ids = [], []

    def post():
        with httpx.Client(timeout=5) as client:
            barrier.wait()
            reply = client.post(office.url + "/payments", json=_pay(key="race"))
            statuses.append(reply.status_code)
            ids.append(reply.json()["payment_id"])

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 7 + [201]
    assert len(set(ids)) == 1
    assert office.lookup(A)["balance_fen"] == 9000 - 8732


def test_same_key_with_another_amount_is_409_and_changes_nothing(office, http):
    http.post(office.url + "/payments", json=_pay())
    before = _books(office, http)
    reply = http.post(office.url + "/payments", json=_pay(amount_fen=9001))
    assert reply.status_code == 409
    assert reply.json()["error"] == "idempotency-conflict" and reply.json()["field"] == "amount_fen"
    assert "9000" in reply.json()["message"] and "9001" in reply.json()["message"]
    other = http.post(office.url + "/payments", json=_pay(account=B))
    assert other.status_code == 409 and B not in other.text and "******1208" in other.text
    assert _books(office, http) == before


@pytest.mark.parametrize("raw, status, code, field", [
    (b"{not json", 400, "bad-json", None),
    (b"[1, 2]", 400, "bad-json", None),
    (json.dumps(_pay(amount_fen=-100)).encode(), 422, "bad-field", "amount_fen"),
    (json.dumps(_pay(amount_fen=0)).encode(), 422, "bad-field", "amount_fen"),
    (json.dumps(_pay(amount_fen=90.5)).encode(), 422, "bad-field", "amount_fen"),
    (json.dumps(_pay(amount_fen=True)).encode(), 422, "bad-field", "amount_fen"),
    (json.dumps(_pay(account="3100009999")).encode(), 404, "unknown-account", "account"),
    (json.dumps(_pay(account="31-0000")).encode(), 422, "bad-field", "account"),
    (json.dumps(_pay(method="cheque")).encode(), 422, "bad-field", "method"),
    (json.dumps(_pay(key="has space")).encode(), 422, "bad-field", "key"),
    (json.dumps(dict(_pay(), tip=1)).encode(), 422, "unknown-field", "tip"),
    (json.dumps({"key": "k1"}).encode(), 422, "missing-field", "account"),
])
def test_bad_payment_requests_get_clear_4xx_and_change_nothing(quiet_office, http, raw, status, code, field):
    """Promise 6."""
    office = quiet_office
    before = _books(office, http)
    reply = http.post(office.url + "/payments", content=raw, headers={"Content-Type": "application/json"})
    assert reply.status_code == status
    body = reply.json()
    assert body["error"] == code and body["field"] == field and body["message"]
    assert "3100009999" not in reply.text
    assert _books(office, http) == before
    assert office.payment("k1") is None


def test_unknown_payment_key_is_404(office, http):
    reply = http.get(office.url + "/payments/never-posted")
    assert reply.status_code == 404 and reply.json()["error"] == "unknown-key"


def test_down_503_does_nothing(office, http):
    office.set_fault("down")
    reply = http.post(office.url + "/payments", json=_pay())
    assert reply.status_code == 503 and reply.json()["error"] == "down"
    office.clear_fault()
    assert office.payment("k1") is None
    assert http.post(office.url + "/payments", json=_pay()).status_code == 201


def test_down_refuse_closes_the_port_and_reopens_it(office, http):
    office.set_fault("down", mode="refuse")
    with pytest.raises(httpx.ConnectError):
        http.get(office.url + "/health")
    office.clear_fault("down")
    assert http.get(office.url + "/health").json() == {"status": "ok"}


def test_down_refuse_over_admin_needs_a_duration_and_comes_back(office, http):
    reply = http.post(office.url + "/admin/faults", json={"kind": "down", "mode": "refuse"})
    assert reply.status_code == 422 and reply.json()["field"] == "for_ms"
    reply = http.post(office.url + "/admin/faults", json={"kind": "down", "mode": "refuse", "for_ms": 2000})
    assert reply.status_code == 201
    # The port closes just after the reply (the server cannot stop inside its own request).
    deadline = time.monotonic() + 1.5
    while True:
        try:
            http.get(office.url + "/health")
        except httpx.ConnectError:
            break
        assert time.monotonic() < deadline, "the port was not closed"
        time.sleep(0.05)
    deadline = time.monotonic() + 6
    while True:
        try:
            assert http.get(office.url + "/health").status_code == 200
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the port did not reopen after for_ms"
            time.sleep(0.05)
    assert office.faults() == []


def test_slow_delays_every_call(office, http):
    office.set_fault("slow", delay_ms=300)
    t0 = time.monotonic()
    assert http.get(office.url + "/health").status_code == 200
    assert time.monotonic() - t0 >= 0.3


def test_fail_next_n_calls_then_recover(office, http):
    reply = http.post(office.url + "/admin/faults", json={"kind": "fail", "count": 2, "status": "500"})
    assert reply.status_code == 201
    assert [http.post(office.url + "/payments", json=_pay()).status_code for _ in range(3)] == [500, 500, 201]
    assert office.statement(ps.today())["count"] == 1


def test_hang_applies_then_loses_the_reply_and_a_repost_is_a_replay(office):
    """The case that matters for promise 5: money moved, reply lost."""
    office.set_fault("hang", hang_ms=5000)
    with httpx.Client(timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(office.url + "/payments", json=_pay(key="lost"))
        found = client.get(office.url + "/payments/lost")
        assert found.status_code == 200 and found.json()["amount_fen"] == 9000
        again = client.post(office.url + "/payments", json=_pay(key="lost"))
        assert again.status_code == 200 and again.json()["payment_id"] == found.json()["payment_id"]
    assert office.lookup(A)["balance_fen"] == 9000 - 8732
    assert office.statement(ps.today())["count"] == 1


def test_bad_faults_are_refused(office, http):
    assert http.post(office.url + "/admin/faults", json={"kind": "melt"}).status_code == 422
    reply = http.post(office.url + "/admin/faults", json={"kind": "slow", "delay_ms": -5})
    assert reply.status_code == 422 and "delay_ms" in reply.json()["message"]
    with pytest.raises(FaultError, match="slow needs delay_ms"):
        office.set_fault("slow")
    with pytest.raises(FaultError, match="has no parameter 'count'"):
        office.set_fault("down", count=2)
    assert office.faults() == []


def _item(key, account=A, amount_fen=500, consent=True):
    return {"key": key, "account": account, "amount_fen": amount_fen, "collected_t": 1795400000000,
            "receipt": "PR-%s" % key, "consent": consent}


def test_precollections_are_all_or_nothing_and_idempotent(office, http):
    """P-02: a batch with one item lacking consent posts nothing; a good one posts once."""
    before = _books(office, http)
    bad = {"terminal": "K01", "items": [_item("p1"), _item("p2", consent=False)]}
    reply = http.post(office.url + "/precollections", json=bad)
    assert reply.status_code == 422 and reply.json()["error"] == "no-consent"
    assert reply.json()["message"].startswith("item 1:")
    unknown = {"terminal": "K01", "items": [_item("p1"), _item("p2", account="3100009999")]}
    reply = http.post(office.url + "/precollections", json=unknown)
    assert reply.status_code == 404 and "item 1" in reply.json()["message"] and "3100009999" not in reply.text
    assert _books(office, http) == before
    good = {"terminal": "K01", "items": [_item("p1"), _item("p2", account=B, amount_fen=700)]}
    first = http.post(office.url + "/precollections", json=good).json()["results"]
    assert [r["replayed"] for r in first] == [False, False]
    assert all(r["method"] == "manual" and r["precollected"] for r in first)
    second = http.post(office.url + "/precollections", json=good).json()["results"]
    assert [r["replayed"] for r in second] == [True, True]
    assert office.lookup(B)["balance_fen"] == 5000 + 700


def test_statement_totals_by_method_and_terminal(office, http):
    """M-12: the back office's day statement, for the kiosk's settlement."""
    http.post(office.url + "/payments", json=_pay("s1", amount_fen=100, method="cash", terminal="K01"))
    http.post(office.url + "/payments", json=_pay("s2", amount_fen=200, method="qr", terminal="K01"))
    http.post(office.url + "/payments", json=_pay("s3", account=B, amount_fen=400, method="cash", terminal="K02"))
    day = ps.today()
    statement = http.get(office.url + "/statements/" + day).json()
    assert statement["count"] == 3 and statement["amount_fen"] == 700
    assert statement["totals"] == [{"method": "cash", "count": 2, "amount_fen": 500},
                                   {"method": "qr", "count": 1, "amount_fen": 200}]
    k1 = http.get(office.url + "/statements/" + day, params={"terminal": "K01"}).json()
    assert [p["key"] for p in k1["payments"]] == ["s1", "s2"]
    assert A not in json.dumps(statement)
    assert http.get(office.url + "/statements/2026-13-01").status_code == 422


def test_sqlite_books_survive_a_restart(services, tmp_path, http):
    db = tmp_path / "office.sqlite"
    office = services.back_office(db_path=db)
    first = http.post(office.url + "/payments", json=_pay(key="persist")).json()
    office.stop()
    again = services.back_office(db_path=db, accounts=ps.accounts())
    reply = http.post(again.url + "/payments", json=_pay(key="persist"))
    assert reply.status_code == 200 and reply.json()["payment_id"] == first["payment_id"]
    assert again.lookup(A)["balance_fen"] == 9000 - 8732
    nxt = http.post(again.url + "/payments", json=_pay(key="after-restart", amount_fen=1)).json()
    assert nxt["payment_id"] != first["payment_id"]


def test_sample_accounts_load():
    accounts = load_accounts(sample_accounts_path())
    assert len(accounts) == 10 and len({a["number"] for a in accounts}) == 10


@pytest.mark.parametrize("text, needle", [
    ("[[account]\n", "not valid TOML"),
    ('[[account]]\nnumber = "12"\nname = "x"\nmeter = "000000000001"\n', "account 0: number must be"),
    ('[[account]]\nnumber = "3100001201"\nname = "x"\nmeter = "1"\n', "account 0: meter must be"),
    ('[[account]]\nnumber = "3100001201"\nname = "x"\nmeter = "000000000001"\n[[account.bill]]\n'
     'period = "2026-9"\nkwh = 1\namount_fen = 5\n', "bill 0: period must be"),
    ('[[account]]\nnumber = "3100001201"\nname = "x"\nmeter = "000000000001"\n'
     '[[account]]\nnumber = "3100001201"\nname = "y"\nmeter = "000000000002"\n', "number ******1201 appears twice"),
    ('[[acount]]\n', "unknown table(s) acount"),
])
def test_bad_accounts_file_names_file_and_entry(tmp_path, text, needle):
    path = tmp_path / "accounts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_accounts(str(path))
    assert needle in str(info.value) and str(path) in str(info.value)
    assert "3100001201" not in str(info.value)


# ---- providers -----------------------------------------------------------------------------


def test_card_order_is_charged_once_per_order_number(services, http):
    card = services.provider("card")
    first = http.post(card.url + "/orders", json={"order_no": "i-1", "amount_fen": 1234})
    again = http.post(card.url + "/orders", json={"order_no": "i-1", "amount_fen": 1234})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["status"] == "paid" and again.json()["trade_no"] == first.json()["trade_no"]
    other = http.post(card.url + "/orders", json={"order_no": "i-1", "amount_fen": 999})
    assert other.status_code == 409 and other.json()["error"] == "idempotency-conflict"
    statement = http.get(card.url + "/statements/" + ps.today()).json()
    assert statement["paid_fen"] == 1234 and len(statement["paid"]) == 1


def test_card_decline(services, http):
    card = services.provider("card")
    card.set_fault("decline", reason="insufficient-funds")
    body = http.post(card.url + "/orders", json={"order_no": "i-2", "amount_fen": 100}).json()
    assert body["status"] == "declined" and body["reason"] == "insufficient-funds"
    assert http.get(card.url + "/statements/" + ps.today()).json()["paid"] == []
    assert http.post(card.url + "/orders", json={"order_no": "i-3", "amount_fen": 100}).json()["status"] == "paid"


def test_card_hang_charges_and_the_query_tells(services):
    card = services.provider("card")
    card.set_fault("hang", hang_ms=5000)
    with httpx.Client(timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(card.url + "/orders", json={"order_no": "i-4", "amount_fen": 500})
        assert client.get(card.url + "/orders/i-4").json()["status"] == "paid"
        assert client.post(card.url + "/orders", json={"order_no": "i-4", "amount_fen": 500}).status_code == 200
        assert client.get(card.url + "/statements/" + ps.today()).json()["paid_fen"] == 500


def test_delayed_confirmation_is_pending_then_paid(services, http):
    card = services.provider("card")
    card.set_fault("delay_confirm", delay_ms=1500)
    t0 = time.monotonic()
    assert http.post(card.url + "/orders", json={"order_no": "i-5", "amount_fen": 100}).json()["status"] == "pending"
    assert http.get(card.url + "/orders/i-5").json()["status"] == "pending"
    assert http.post(card.url + "/orders/i-5/close").status_code == 409     # pending money cannot be cancelled
    while http.get(card.url + "/orders/i-5").json()["status"] != "paid":
        assert time.monotonic() - t0 < 6
        time.sleep(0.05)
    assert time.monotonic() - t0 >= 1.5


def test_qr_flow_pay_notify_and_duplicate_notify(services, http):
    qr = services.provider("qr")
    sink = services.sink()
    qr.set_fault("duplicate_notify")
    created = http.post(qr.url + "/orders", json={"order_no": "q-1", "amount_fen": 800, "notify_url": sink.url})
    assert created.json()["status"] == "waiting" and created.json()["code_url"].startswith("simpay://qr/")
    assert http.post(qr.url + "/sim/orders/q-1/pay").json()["status"] == "paid"
    got = sink.wait_for(2)
    assert len(got) == 2 and got[0] == got[1] and got[0]["status"] == "paid" and got[0]["order_no"] == "q-1"
    assert http.post(qr.url + "/sim/orders/q-1/pay").status_code == 409


def test_qr_auto_pay(services, http):
    qr = services.provider("qr", auto_pay_ms=200)
    http.post(qr.url + "/orders", json={"order_no": "q-auto", "amount_fen": 100})
    deadline = time.monotonic() + 5
    while http.get(qr.url + "/orders/q-auto").json()["status"] != "paid":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_closed_qr_order_can_never_be_paid(services, http):
    qr = services.provider("qr")
    http.post(qr.url + "/orders", json={"order_no": "q-2", "amount_fen": 100})
    assert http.post(qr.url + "/orders/q-2/close").json()["status"] == "closed"
    assert http.post(qr.url + "/orders/q-2/close").json()["status"] == "closed"
    reply = http.post(qr.url + "/sim/orders/q-2/pay")
    assert reply.status_code == 409 and reply.json()["error"] == "not-waiting"


def test_refunds_are_idempotent_and_bounded(services, http):
    card = services.provider("card")
    http.post(card.url + "/orders", json={"order_no": "i-6", "amount_fen": 1000})
    url = card.url + "/orders/i-6/refund"
    assert http.post(url, json={"refund_no": "r1", "amount_fen": 400}).status_code == 201
    assert http.post(url, json={"refund_no": "r1", "amount_fen": 400}).status_code == 200
    assert http.post(url, json={"refund_no": "r1", "amount_fen": 401}).status_code == 409
    over = http.post(url, json={"refund_no": "r2", "amount_fen": 601})
    assert over.status_code == 422 and over.json()["error"] == "over-refund"
    assert http.post(url, json={"refund_no": "r2", "amount_fen": 600}).status_code == 201
    assert http.get(card.url + "/orders/i-6").json()["status"] == "refunded"
    statement = http.get(card.url + "/statements/" + ps.today()).json()
    assert (statement["paid_fen"], statement["refunded_fen"], statement["net_fen"]) == (1000, 1000, 0)


@pytest.mark.parametrize("body, status, field", [
    ({"order_no": "x", "amount_fen": -1}, 422, "amount_fen"),
    ({"order_no": "x", "amount_fen": "100"}, 422, "amount_fen"),
    ({"order_no": "", "amount_fen": 100}, 422, "order_no"),
    ({"order_no": "x", "amount_fen": 100, "notify_url": "ftp://x"}, 422, "notify_url"),
    ({"order_no": "x", "amount_fen": 100, "colour": "red"}, 422, "colour"),
])
def test_bad_orders_are_refused_and_create_nothing(quiet_card, http, body, status, field):
    card = quiet_card
    reply = http.post(card.url + "/orders", json=body)
    assert reply.status_code == status and reply.json()["field"] == field
    assert http.get(card.url + "/orders/x").status_code == 404
    assert http.post(card.url + "/orders", content=b"{", headers={"Content-Type": "application/json"}
                     ).status_code == 400


# ---- cash acceptor -------------------------------------------------------------------------


def test_cash_acceptor_events():
    cash = CashAcceptor(capacity=3)
    assert cash.insert(10000) == NoteReturned(10000, 0, "disabled")
    cash.enable(limit_fen=15000)
    assert cash.insert(10000) == NoteStacked(10000, 10000)
    assert cash.insert(300) == NoteReturned(300, 10000, "not-accepted")
    assert cash.insert(10000) == NoteReturned(10000, 10000, "over-limit")
    cash.jam_next()
    assert isinstance(cash.insert(1000), Jammed)
    assert cash.insert(100) == NoteReturned(100, 10000, "jammed")
    assert isinstance(cash.clear_jam(), JamCleared)
    cash.insert(2000)
    cash.insert(1000)
    events = []
    while (event := cash.next_event(timeout_s=0)) is not None:
        events.append(event)
    assert [type(e) for e in events] == [NoteReturned, NoteStacked, NoteReturned, NoteReturned, Jammed,
                                         NoteReturned, JamCleared, NoteStacked, NoteStacked, CassetteFull]
    assert cash.insert(100) == NoteReturned(100, 13000, "cassette-full")
    assert cash.disable() == 13000
    assert sum(e.value_fen for e in events if isinstance(e, NoteStacked)) == cash.status["cassette_fen"]
    emptied = cash.empty_cassette()
    assert isinstance(emptied, CassetteEmptied) and emptied.value_fen == 13000 and cash.status["notes"] == 0


def test_cash_acceptor_full_fault():
    cash = CashAcceptor()
    cash.enable()
    cash.insert(500)
    assert isinstance(cash.set_full(), CassetteFull)
    assert cash.insert(500).reason == "cassette-full"
    cash.empty_cassette(capacity=10)
    assert isinstance(cash.insert(500), NoteStacked)


# ---- commands ------------------------------------------------------------------------------


def test_billing_command_bad_accounts_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[account]]\nnumber = 5\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["billing", "--accounts", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: %s: account 0: number must be" % path)


@pytest.mark.parametrize("args, expect", [
    (["billing", "--json"], {"billing"}),
    (["payment", "--json", "--auto-pay-ms", "-1"], {"card", "qr"}),
])
def test_service_commands_serve_and_stop_on_sigterm(args, expect):
    proc = subprocess.Popen([sys.executable, "-m", "firmware_sim"] + args, cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        urls = {}
        while len(urls) < len(expect):
            line = json.loads(proc.stdout.readline())
            if line["event"] == "listening":
                urls[line.get("channel", "billing")] = line["url"]
        assert set(urls) == expect
        for name, url in urls.items():
            assert httpx.get(url + "/health", timeout=5).json()["status"] == "ok"
        proc.stdin.write("fault %s fail count=1\nfaults\n" % name)
        proc.stdin.flush()
        while (line := json.loads(proc.stdout.readline()))["event"] != "command" or line["command"] != "faults":
            pass
        assert line["faults"] == [{"kind": "fail", "count": 1, "status": "503", "service": name}]
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert json.loads(out.strip().splitlines()[-1])["event"] == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
