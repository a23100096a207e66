"""The rating, guidance-desk and admin pages, and printing on issue, in real headless Chromium.

A customer takes a ticket on the touch screen (printed: the Dummy printer's
bytes decode to the number in GB18030), the counter calls and finishes it,
the counter's rating screen, open all along, asks through Server-Sent
Events and the customer taps a level; a level 1 asks for a reason; an
unanswered prompt ends "not rated". The admin page needs its sign-in and
shows health; the desk issues a VIP ticket that the counter calls first; a
printer fault keeps the number on screen with a reprint button. Screenshots
go to $KIOSK_SCREENSHOTS (default: the test's tmp dir); their names are printed.
"""

import pytest

from test_web_hall_api import HALL, STAFF_PINS, TIMEOUT_S, HallKiosk, wait_until

playwright_api = pytest.importorskip("playwright.sync_api")
WAIT_MS = 10_000        # as conftest.WAIT_MS
expect = playwright_api.expect


@pytest.fixture
def kiosk(tmp_path):
    k = HallKiosk(tmp_path)
    yield k
    k.close()


def _context(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(WAIT_MS)
    return context


def _sign_in_counter(context, kiosk, counter="w1", staff="1001"):
    page = context.new_page()
    page.goto(kiosk.url + "/counter/" + counter)
    page.fill("#staff", staff)
    page.fill("#pin", STAFF_PINS[staff])
    page.click("#sign-in")
    page.wait_for_selector("#counter-status")
    page.click('button[data-action="resume"]')
    page.wait_for_selector('body[data-counter-status="open"]')
    return page


def _serve(counter, number):
    counter.click('button[data-action="call-next"]')
    expect(counter.locator("#current")).to_have_text(number)
    counter.click('button[data-action="start"]')
    expect(counter.locator("#current-detail")).to_contain_text("办理中")
    counter.click('button[data-action="finish"]')
    expect(counter.locator("#current")).to_have_text("无")


def test_take_print_call_finish_and_rate_on_the_counter_screen(browser, kiosk, shots):  # noqa: F811
    context = _context(browser)
    rating = context.new_page()
    rating.set_viewport_size({"width": 800, "height": 1000})          # the counter's small portrait screen
    rating.goto(kiosk.url + "/rating/w1")
    rating.wait_for_selector('body[data-rating="idle"]')
    shots(rating, "rating-idle-zh")

    screen = context.new_page()
    screen.goto(kiosk.url + "/")
    screen.click('button.biz[data-business="change.rename"]')
    screen.wait_for_selector("#ticket:not([hidden])")
    assert screen.inner_text("#ticket-number") == "A001"
    assert screen.inner_text("#print-status") == ""
    printed = bytes(kiosk.printer.output).decode("gb18030", errors="replace")
    assert "A001" in printed and HALL in printed and "更名过户" in printed
    shots(screen, "kiosk-ticket-printed-zh")

    counter = _sign_in_counter(context, kiosk)
    _serve(counter, "A001")
    rating.wait_for_selector('body[data-rating="ask"]')                # pushed, no reload
    assert rating.inner_text("#rate-number") == "A001"
    assert rating.locator("button.level").all_inner_texts() == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    shots(rating, "rating-ask-zh")
    rating.click('button.level[data-level="5"]')
    rating.wait_for_selector('body[data-rating="thanks"]')
    assert "感谢您的评价" in rating.inner_text("#thanks")
    shots(rating, "rating-thanks-zh")
    rating.wait_for_selector('body[data-rating="idle"]')
    ratings = kiosk.ratings_in_outbox()
    assert [(r["number"], r["counter"], r["staff"], r["level"]) for r in ratings] == [("A001", "w1", "1001", 5)]

    # a level 1 needs a reason, in English this time
    rating.goto(kiosk.url + "/rating/w1?lang=en")
    screen.click("#back")
    screen.click('button.biz[data-business="change.rename"]')
    expect(screen.locator("#ticket-number")).to_have_text("A002")
    _serve(counter, "A002")
    rating.wait_for_selector('body[data-rating="ask"]')
    rating.click('button.level[data-level="1"]')
    rating.wait_for_selector('body[data-rating="reason"]')
    assert "why" in rating.inner_text("#reason")
    assert kiosk.rating.records()[-1]["number"] == "A001"              # nothing recorded yet for A002
    shots(rating, "rating-reason-en")
    rating.fill("#reason-text", "waited too long at the door")
    rating.click("#reason-send")
    rating.wait_for_selector('body[data-rating="thanks"]')
    last = kiosk.rating.records()[-1]
    assert (last["number"], last["level"], last["reason"]) == ("A002", 1, "waited too long at the door")

    # nobody taps: the prompt times out, is recorded as not rated, and the screen goes back to idle
    screen.click("#back")
    screen.click('button.biz[data-business="change.rename"]')
    expect(screen.locator("#ticket-number")).to_have_text("A003")
    _serve(counter, "A003")
    rating.wait_for_selector('body[data-rating="ask"]')
    kiosk.clock.advance((TIMEOUT_S + 1) * 1000)
    rating.wait_for_selector('body[data-rating="idle"]')
    wait_until(lambda: kiosk.rating.records()[-1]["number"] == "A003")
    assert kiosk.rating.records()[-1]["outcome"] == "timeout"
    assert [r["number"] for r in kiosk.ratings_in_outbox()] == ["A001", "A002", "A003"]
    context.close()


def test_admin_page_needs_sign_in_and_shows_health(browser, kiosk, shots):  # noqa: F811
    context = _context(browser)
    page = context.new_page()
    page.goto(kiosk.url + "/admin")
    assert page.inner_text(".login h2") == "管理员登录"
    page.fill("#staff", "9002")                                          # a desk guide is not an admin
    page.fill("#pin", STAFF_PINS["9002"])
    with page.expect_response("**/api/staff/login*") as reply:
        page.click("#sign-in")
    assert reply.value.status == 403
    expect(page.locator("#status")).to_contain_text("没有")
    shots(page, "admin-login-refused-zh")
    page.fill("#staff", "9001")
    page.fill("#pin", STAFF_PINS["9001"])
    page.click("#sign-in")
    page.wait_for_selector('body[data-loaded="yes"]')
    assert page.inner_text('#health tr[data-name="printer.state"] td') == "unknown"
    page.click("#test-print")
    expect(page.locator("#print-result")).to_have_text("测试页已打印")
    page.wait_for_selector('body[data-printer="ok"]')
    assert int(page.inner_text('#health tr[data-name="journal.queue.bytes"] td')) > 0
    assert page.locator("#counters tr").count() == len(kiosk.queue_config.counters)
    assert "pbkdf2" not in page.content()
    shots(page, "admin-health-zh")
    context.close()


def test_desk_issues_a_vip_ticket_that_is_called_first(browser, kiosk, shots):  # noqa: F811
    context = _context(browser)
    screen = context.new_page()
    screen.goto(kiosk.url + "/")
    screen.click('button.biz[data-business="change.rename"]')
    expect(screen.locator("#ticket-number")).to_have_text("A001")

    desk = context.new_page()
    desk.goto(kiosk.url + "/desk?lang=en")
    desk.fill("#staff", "9002")
    desk.fill("#pin", STAFF_PINS["9002"])
    desk.click("#sign-in")
    desk.wait_for_selector("#issue")
    desk.select_option("#business", "new")
    desk.check('input[name="priority"][value="vip"]')
    desk.select_option("#reason", "vip_customer")
    desk.fill("#note", "key account, manager informed")
    desk.click("#issue-ticket")
    expect(desk.locator("#issued-number")).to_have_text("A002")
    expect(desk.locator("#ledger li")).to_contain_text("A002")
    shots(desk, "desk-issued-en")
    row = kiosk.ledger.rows()[0]
    assert (row["number"], row["priority"], row["reason"], row["note"], row["staff"]) == (
        "A002", "vip", "vip_customer", "key account, manager informed", "9002")

    counter = _sign_in_counter(context, kiosk)
    counter.click('button[data-action="call-next"]')
    expect(counter.locator("#current")).to_have_text("A002")              # VIP before the earlier A001
    context.close()


def test_a_printer_fault_shows_a_message_and_keeps_the_number(browser, tmp_path, shots):  # noqa: F811
    k = HallKiosk(tmp_path, printer="offline")
    try:
        context = _context(browser)
        screen = context.new_page()
        screen.goto(k.url + "/")
        screen.click('button.biz[data-business="payment"]')
        expect(screen.locator("#ticket-number")).to_have_text("B001")
        expect(screen.locator("#print-status")).to_contain_text("号票未能打印")
        assert screen.locator("#reprint").is_visible()
        shots(screen, "kiosk-print-fault-zh")
        screen.click("#reprint")                                          # still offline: told again
        expect(screen.locator("#print-status")).to_contain_text("cannot open")
        assert [row[3] for row in k.store.journal()].count("reprint") == 1
        context.close()
    finally:
        k.close()
