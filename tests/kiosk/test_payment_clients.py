"""The kiosk's clients of the back office and the providers, against the real simulators.

The contract the payment intent engine relies on (promise 5): a write
returns the result, or raises ``NotDone`` (certainly nothing happened) or
``OutcomeUnknown`` (maybe applied: resolve by key), and never anything
else; repeating a write with its key is safe. Account numbers never reach
a log line or an error text unmasked (S-01, K-09).
"""

import importlib.util
import logging
import re
import time
from pathlib import Path

import pytest

from firmware_sim.billing import RequestError
from kiosk.payment import (AlreadyPaid, BackOfficeClient, IdempotencyConflict, NotDone, OutcomeUnknown,
                           PreCollection, ProviderClient, Refused, Unavailable, Unreachable, mask_account)


def _load_helpers():
    spec = importlib.util.spec_from_file_location("payment_services_clients",
                                                  Path(__file__).with_name("payment_services.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ps = _load_helpers()
A, B = ps.ACCOUNT_A, ps.ACCOUNT_B
# The payment record's account_masked field (protocols/records/_bodies.py).
RECORD_MASK = re.compile(r"\*+[0-9A-Za-z]{0,4}\Z")


@pytest.fixture
def services():
    s = ps.Services()
    yield s
    s.stop_all()


@pytest.fixture
def office(services):
    return services.back_office()


@pytest.fixture
def billing(office):
    with BackOfficeClient(office.url, "K01", timeout_s=1.0) as client:
        yield client


@pytest.mark.parametrize("number, masked", [
    ("3100001201", "******1201"), ("12345678901234567890", "*" * 16 + "7890"), ("1234567", "***4567"),
    ("1234", "****"), ("12", "****"), ("", "****"),
])
def test_mask_account_keeps_the_last_four(number, masked):
    assert mask_account(number) == masked
    assert RECORD_MASK.match(masked)


def test_lookup_and_post_payment(billing, office):
    info = billing.lookup(A)
    assert info.arrears_fen == 8732 + 7910 and info.account_masked == "******1201"
    assert [b.period for b in info.bills] == ["2026-09", "2026-10"]
    assert A not in repr(info)
    posting = billing.post_payment("k1", A, info.arrears_fen, "qr")
    assert not posting.replayed and posting.arrears_fen_after == 0
    assert posting.bills_settled == ("BILL-2026-09", "BILL-2026-10")
    again = billing.post_payment("k1", A, info.arrears_fen, "qr")
    assert again.replayed and again.payment_id == posting.payment_id
    assert office.statement(ps.today())["count"] == 1


def test_key_reused_for_another_payment_is_a_conflict(billing):
    billing.post_payment("k1", A, 100, "cash")
    with pytest.raises(IdempotencyConflict) as info:
        billing.post_payment("k1", B, 100, "cash")
    assert isinstance(info.value, NotDone) and info.value.status == 409 and info.value.field == "account"
    assert B not in str(info.value) and "******1208" in str(info.value)


def test_unknown_account_is_refused_with_masked_text(billing):
    with pytest.raises(Refused) as info:
        billing.lookup("3100009999")
    assert info.value.code == "unknown-account" and info.value.status == 404
    assert "3100009999" not in str(info.value) and "******9999" in str(info.value)


@pytest.mark.parametrize("kwargs, field", [
    (dict(amount_fen=-5), "amount_fen"), (dict(amount_fen=1.5), "amount_fen"), (dict(account="31x"), "account"),
    (dict(method="cheque"), "method"), (dict(key="a b"), "key"),
])
def test_bad_arguments_are_refused_before_sending(billing, office, kwargs, field):
    args = dict(key="k1", account=A, amount_fen=100, method="cash")
    args.update(kwargs)
    with pytest.raises(Refused) as info:
        billing.post_payment(**args)
    assert info.value.field == field and info.value.status is None
    assert office.stats == {"posted": 0, "replayed": 0, "refused": 0}


def test_refused_connection_is_unreachable_and_nothing_posted(billing, office):
    office.set_fault("down", mode="refuse")
    with pytest.raises(Unreachable) as info:
        billing.post_payment("k1", A, 100, "cash")
    assert isinstance(info.value, NotDone) and info.value.key == "k1"
    office.clear_fault()
    assert billing.find_payment("k1") is None


@pytest.mark.parametrize("fault", [dict(kind="down"), dict(kind="fail", status="503")])
def test_503_is_unavailable_and_nothing_posted(billing, office, fault):
    office.set_fault(**fault)
    with pytest.raises(Unavailable) as info:
        billing.post_payment("k1", A, 100, "cash")
    assert isinstance(info.value, NotDone) and info.value.status == 503
    office.clear_fault()
    assert billing.find_payment("k1") is None


@pytest.mark.parametrize("status", ["500", "502", "504"])
def test_other_5xx_is_an_unknown_outcome(billing, office, status):
    office.set_fault("fail", status=status)
    with pytest.raises(OutcomeUnknown) as info:
        billing.post_payment("k1", A, 100, "cash")
    assert info.value.status == int(status)
    assert billing.post_payment("k1", A, 100, "cash").replayed is False    # resolved by posting again


def test_reply_lost_after_applying_is_resolved_by_key(billing, office):
    """Promise 5: the payment was applied but the reply never came; nothing is charged twice."""
    office.set_fault("hang", hang_ms=10000)
    t0 = time.monotonic()
    with pytest.raises(OutcomeUnknown) as info:
        billing.post_payment("lost", A, 9000, "cash")
    assert time.monotonic() - t0 < 5
    assert info.value.key == "lost" and info.value.status is None
    found = billing.find_payment("lost")
    assert found is not None and found.amount_fen == 9000
    again = billing.post_payment("lost", A, 9000, "cash")
    assert again.replayed and again.payment_id == found.payment_id
    assert office.lookup(A)["balance_fen"] == 9000 - 8732
    assert office.statement(ps.today())["count"] == 1


def test_slow_service_applies_after_the_client_gave_up(services):
    """Why an empty query is not proof: a slow request lands after it. Re-posting the key is safe."""
    office = services.back_office()
    office.set_fault("slow", delay_ms=1500)
    with BackOfficeClient(office.url, "K01", timeout_s=0.2) as client:
        t0 = time.monotonic()
        with pytest.raises(OutcomeUnknown):
            client.post_payment("late", A, 500, "cash")
        office.clear_fault()
        assert client.find_payment("late") is None           # not yet
        assert time.monotonic() - t0 < 1.5, "too slow to see the gap; the check above proved nothing"
        while client.find_payment("late") is None:          # the first request lands
            assert time.monotonic() - t0 < 6
            time.sleep(0.05)
        assert client.post_payment("late", A, 500, "cash").replayed
    assert office.statement(ps.today())["count"] == 1


def test_unreadable_success_reply_is_an_unknown_outcome(services):
    garbage = services.garbage(status=201, text="<html>ok</html>")
    with BackOfficeClient(garbage.url, "K01") as client:
        with pytest.raises(OutcomeUnknown, match="unreadable reply"):
            client.post_payment("k1", A, 100, "cash")
    with ProviderClient(garbage.url, "card") as client:
        with pytest.raises(OutcomeUnknown):
            client.create_order("i-1", 100)


def test_precollections_through_the_client(billing, office):
    items = [PreCollection("p1", A, 500, 1795400000000, "PR-1"), PreCollection("p2", B, 700, 1795400000001, "PR-2")]
    postings = billing.post_precollections(items)
    assert [p.precollected for p in postings] == [True, True] and [p.replayed for p in postings] == [False, False]
    assert [p.replayed for p in billing.post_precollections(items)] == [True, True]
    with pytest.raises(Refused) as info:
        billing.post_precollections([PreCollection("p3", A, 500, 1795400000000, "PR-3", consent=False)])
    assert info.value.code == "no-consent"
    assert A not in repr(items[0])
    assert billing.statement(ps.today(), terminal="K01")["count"] == 2


def test_logs_and_errors_never_hold_a_full_account_number(billing, office, caplog):
    """S-01, K-09: every record of every logger, and every exception text."""
    caplog.set_level(logging.DEBUG)
    texts = []
    billing.lookup(A)
    billing.post_payment("m1", A, 100, "cash")
    for fault, call in [
        (None, lambda: billing.lookup("3100009999")),
        (None, lambda: billing.post_payment("m1", B, 100, "cash")),
        (dict(kind="hang", hang_ms=10000), lambda: billing.post_payment("m2", A, 100, "cash")),
        (dict(kind="fail", status="500"), lambda: billing.post_payment("m3", B, 100, "card")),
        (dict(kind="down"), lambda: billing.post_payment("m4", A, 100, "cash")),
        (None, lambda: billing.post_precollections([PreCollection("m5", "3100009999", 5, 1, "R")])),
    ]:
        if fault:
            office.set_fault(**fault)
        with pytest.raises(NotDone if fault is None or fault["kind"] == "down" else OutcomeUnknown) as info:
            call()
        texts.append(str(info.value))
        office.clear_fault()
    logged = [record.getMessage() for record in caplog.records]
    assert any("******1201" in line for line in logged)
    for text in logged + texts:
        for number in (A, B, "3100009999"):
            assert number not in text, text


def test_card_payment_lost_reply_is_resolved_by_query(services):
    card = services.provider("card")
    with ProviderClient(card.url, "card", timeout_s=0.5) as client:
        assert client.create_order("i-1", 1000).status == "paid"
        card.set_fault("hang", hang_ms=10000)
        with pytest.raises(OutcomeUnknown):
            client.create_order("i-2", 500)
        assert client.query_order("i-2").status == "paid"
        assert client.create_order("i-2", 500).replayed
        assert client.query_order("i-3") is None
        with pytest.raises(IdempotencyConflict):
            client.create_order("i-1", 999)
        card.set_fault("decline", reason="card-expired")
        declined = client.create_order("i-4", 100)
        assert (declined.status, declined.reason) == ("declined", "card-expired")
        statement = client.statement(ps.today())
    assert statement["paid_fen"] == 1500 and len(statement["paid"]) == 2


def test_qr_timeout_is_settled_by_closing_the_order(services):
    """After giving up on a QR code, closing it either cancels it or proves it was paid."""
    qr = services.provider("qr")
    with ProviderClient(qr.url, "qr", timeout_s=1.0) as client:
        waiting = client.create_order("q-1", 800)
        assert waiting.status == "waiting" and waiting.code_url
        assert client.close_order("q-1").status == "closed"
        with pytest.raises(RequestError, match="closed, not waiting"):
            qr.customer_pays("q-1")
        client.create_order("q-2", 800)
        qr.customer_pays("q-2")
        with pytest.raises(AlreadyPaid):
            client.close_order("q-2")
        assert client.query_order("q-2").status == "paid"
        refund = client.refund("q-2", "r-1", 800)
        assert refund.amount_fen == 800 and client.refund("q-2", "r-1", 800).replayed
        assert client.query_order("q-2").status == "refunded"


def test_provider_down_is_not_done(services):
    qr = services.provider("qr")
    qr.set_fault("down", mode="refuse")
    with ProviderClient(qr.url, "qr", timeout_s=1.0) as client:
        with pytest.raises(Unreachable):
            client.create_order("q-1", 800)
    qr.clear_fault()
    assert qr.query("q-1") is None
