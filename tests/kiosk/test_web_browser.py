"""The kiosk's pages in real headless Chromium against a real uvicorn server.

A customer takes a ticket on the touch screen (with a double tap), staff
sign in at a counter (after a wrong PIN), call the ticket, and the board,
open all along, shows it at that counter through Server-Sent Events without
a reload; then the language switch and the lockout. A screenshot of each
page goes to $KIOSK_SCREENSHOTS (default: the test's tmp dir) and its name
is printed.
"""

import pytest

from test_web_api import PINS, Kiosk

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

WAIT_MS = 10_000        # as conftest.WAIT_MS


@pytest.fixture
def kiosk(tmp_path):
    k = Kiosk(tmp_path)
    yield k
    k.close()


def test_ticket_call_and_board_update_without_reload(browser, kiosk, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    board = context.new_page()
    board.goto(kiosk.url + "/board")
    board.wait_for_selector("#calls td")
    loaded_version = board.locator("body").get_attribute("data-version")
    navigations = []
    board.on("framenavigated", lambda frame: navigations.append(frame.url))

    screen = context.new_page()
    screen.goto(kiosk.url + "/")
    assert screen.locator("html").get_attribute("lang") == "zh-CN"
    assert "您好!请选择要办理的业务" in screen.inner_text(".welcome")
    shots(screen, "kiosk-choose-zh")
    button = screen.locator('button.biz[data-business="payment"]')
    assert button.inner_text() == "电费缴纳"
    button.dblclick()                                                   # a double tap issues once
    screen.wait_for_selector("#ticket:not([hidden])")
    assert screen.inner_text("#ticket-number") == "B001"
    assert screen.inner_text("#ticket-ahead") == "前面还有 0 人"
    assert screen.inner_text("#ticket-wait") == "窗口尚未开放,请稍候"
    shots(screen, "kiosk-ticket-zh")
    assert [row[3] for row in kiosk.store.journal()].count("issue") == 1

    counter = context.new_page()
    counter.goto(kiosk.url + "/counter/w4")
    counter.fill("#staff", "1002")
    counter.fill("#pin", "9999")
    with counter.expect_response("**/api/login*") as reply:
        counter.click("#sign-in")
    assert reply.value.status == 401
    expect(counter.locator("#status")).to_have_text("工号或密码错误")
    shots(counter, "counter-login-zh")
    counter.fill("#pin", PINS["1002"])
    counter.click("#sign-in")
    counter.wait_for_selector("#counter-status")
    counter.click('button[data-action="resume"]')
    counter.wait_for_selector('body[data-counter-status="open"]')
    counter.click('button[data-action="call-next"]')
    expect(counter.locator("#current")).to_have_text("B001")

    # the board never reloaded: the same document, redrawn from the event stream
    board.wait_for_selector('#calls tr[data-number="B001"][data-counter="w4"]')
    assert board.inner_text('#calls tr[data-number="B001"] td:nth-child(2)') == "4"
    assert board.inner_text("#announcement") == "请 B001 号到 4 号窗口办理"
    assert board.locator("body").get_attribute("data-version") != loaded_version
    assert navigations == []
    shots(board, "board-calling-zh")

    counter.click('button[data-action="start"]')
    expect(counter.locator("#current-detail")).to_contain_text("办理中")
    shots(counter, "counter-serving-zh")
    counter.click('button[data-action="finish"]')
    expect(counter.locator("#current")).to_have_text("无")
    assert [row[3] for row in kiosk.store.journal()][-3:] == ["call_next", "start", "finish"]
    calls = [(b["action"], b["number"], b["staff"]) for k, b in kiosk.outbox_bodies() if k == "call"]
    assert calls == [("call", "B001", "1002"), ("start", "B001", "1002"), ("finish", "B001", "1002")]
    context.close()


def test_language_switch_and_lockout_in_english(browser, kiosk, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(kiosk.url + "/")
    page.click('a.lang[lang="en"]')
    page.wait_for_selector('html[lang="en"]')
    assert page.inner_text(".welcome") == "Welcome! Please choose your business"
    assert page.inner_text("h1") == "Take a ticket"
    assert page.inner_text('button.biz[data-business="payment"]') == "Pay a bill"
    page.click('button.biz[data-business="other.consult"]')
    page.wait_for_selector("#ticket:not([hidden])")
    assert page.inner_text("#ticket-number") == "C001"
    assert page.inner_text("#ticket-wait") == "No counter is open yet, please wait"
    shots(page, "kiosk-ticket-en")

    # the choice is kept for the other pages (cookie), each with the switch back
    page.goto(kiosk.url + "/board")
    assert page.inner_text(".calling h2") == "Now calling"
    page.wait_for_selector('#categories tr[data-prefix="C"]')
    assert page.inner_text('#categories tr[data-prefix="C"] td:nth-child(2)') == "1"
    assert page.inner_text('#categories tr[data-prefix="C"] td:nth-child(3)') == "no counter open"
    assert page.locator('a.lang[lang="zh-CN"]').inner_text() == "中文"
    shots(page, "board-en")

    page.goto(kiosk.url + "/counter/w5")
    assert page.inner_text(".login h2") == "Staff sign-in"
    for attempt in range(3):                                            # max_failures = 3
        page.fill("#staff", "1002")
        page.fill("#pin", "1111")
        with page.expect_response("**/api/login*") as reply:
            page.click("#sign-in")
        assert reply.value.status == (401 if attempt < 2 else 429)
        expect(page.locator("#status")).to_have_text("Wrong staff number or PIN" if attempt < 2 else
                                                     "Too many wrong PINs; try again in 60 s")
    page.fill("#pin", PINS["1002"])                                     # the right PIN is refused while locked
    with page.expect_response("**/api/login*") as reply:
        page.click("#sign-in")
    assert reply.value.status == 429
    expect(page.locator("#status")).to_contain_text("Too many wrong PINs")
    shots(page, "counter-locked-en")
    assert page.locator("#counter-status").count() == 0
    context.close()
