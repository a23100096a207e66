"""Fixtures the kiosk's browser tests share: one headless Chromium per module, and screenshots.

Chromium is Debian's (/usr/bin/chromium, installed by the test set-up), driven
by Playwright without a browser download. Screenshots go to
$KIOSK_SCREENSHOTS (default: the test's tmp dir) and their paths are printed.
"""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
# How long a page may take to show a change; generous for two shared cores
# (Server-Sent Events delivery was measured well under 1 s).
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium at %s" % CHROMIUM)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path):
    """``shot(page, name)`` saves a full-page screenshot NAME.png and prints its path."""
    folder = os.environ.get("KIOSK_SCREENSHOTS") or str(tmp_path / "screenshots")
    os.makedirs(folder, exist_ok=True)

    def shot(page, name):
        path = os.path.join(folder, name + ".png")
        page.screenshot(path=path, full_page=True)
        print("screenshot", path)
    return shot
