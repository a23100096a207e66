"""Server-rendered HTML of the three pages: touch screen, waiting board, counter.

Plain string templates; every value that comes from configuration, the
queue or the request goes through ``html.escape`` (``_e``), and data for
the scripts is JSON inside ``<script type="application/json">`` with ``<``,
``>`` and ``&`` escaped, so no value can close the element. Each page has
the language switch and its strings come from the catalogue (``_i18n.py``).
The scripts (``static/*.js``) take it from there; there is no build step.
"""

import html
import json

from ._i18n import CATALOGUES, LANGUAGES, text


def _e(value):
    return html.escape(str(value), quote=True)


def _json_script(element_id, value):
    data = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")
    return '<script type="application/json" id="%s">%s</script>' % (_e(element_id), data)


def _layout(lang, title, page, body, data, path):
    switch = " ".join(
        '<a class="lang%s" href="%s?lang=%s" lang="%s">%s</a>'
        % (" current" if code == lang else "", _e(path), _e(code), _e(code), _e(CATALOGUES[code]["lang.name"]))
        for code in LANGUAGES)
    return """<!doctype html>
<html lang="%(lang)s">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title>
<link rel="stylesheet" href="/static/kiosk.css">
</head>
<body class="%(page)s">
<header><h1>%(title)s</h1><nav class="langs">%(switch)s</nav></header>
<main>
%(body)s
</main>
%(strings)s
%(data)s
<script src="/static/common.js"></script>
<script src="/static/%(page)s.js"></script>
</body>
</html>
""" % {"lang": _e(lang), "title": _e(title), "page": _e(page), "switch": switch, "body": body,
       "strings": _json_script("strings", CATALOGUES[lang]), "data": _json_script("data", data)}


def _wait_text(lang, est, long_key="kiosk.wait_long", band_key="kiosk.wait_band", unknown="kiosk.wait_unknown"):
    if not est or est.get("wait_s") is None:
        return text(lang, unknown)
    if est.get("band_min") is None:
        return text(lang, long_key, m=120)
    return text(lang, band_key, m=est["band_min"])


def kiosk_page(lang, categories):
    """The customer touch screen: one large button per business type, grouped by category."""
    groups = []
    for cat in categories:
        buttons = "".join('<button class="biz" type="button" data-business="%s">%s</button>'
                          % (_e(b["code"]), _e(b["name"])) for b in cat["businesses"])
        groups.append('<section class="category"><h2>%s <span class="prefix">%s</span></h2>'
                      '<p class="hint">%s</p><div class="buttons">%s</div></section>'
                      % (_e(cat["name"]), _e(cat["prefix"]), _e(_wait_text(lang, cat["estimate"])), buttons))
    body = """<p class="welcome">%s</p>
<div id="choose">%s</div>
<div id="ticket" hidden>
  <p>%s</p>
  <p id="ticket-number" class="big-number"></p>
  <p id="ticket-business"></p>
  <p id="ticket-ahead"></p>
  <p id="ticket-wait"></p>
  <p>%s</p>
  <p id="print-status" role="alert"></p>
  <button id="reprint" class="action" type="button" hidden>%s</button>
  <button id="back" class="action" type="button">%s</button>
</div>
<p id="status" role="status" aria-live="polite"></p>""" % (
        _e(text(lang, "kiosk.welcome")), "".join(groups), _e(text(lang, "kiosk.your_number")),
        _e(text(lang, "kiosk.please_wait")), _e(text(lang, "kiosk.reprint")), _e(text(lang, "kiosk.back")))
    return _layout(lang, text(lang, "title.kiosk"), "kiosk", body, {"lang": lang}, "/")


def board_page(lang, board):
    """The waiting board; the script fills it from the event stream (first from ``board``)."""
    body = """<section class="calling"><h2>%s</h2>
<p id="announcement" class="announcement" aria-live="assertive"></p>
<table id="calls"><thead><tr><th>%s</th><th>%s</th></tr></thead><tbody></tbody></table></section>
<section class="waiting"><table id="categories"><thead><tr><th>%s</th><th>%s</th><th>%s</th></tr></thead>
<tbody></tbody></table></section>
<p id="offline" class="offline" hidden>%s</p>""" % tuple(_e(text(lang, k)) for k in (
        "board.calling", "board.number", "board.counter", "board.category", "board.waiting", "board.estimate",
        "board.offline"))
    return _layout(lang, text(lang, "title.board"), "board", body, {"lang": lang, "board": board}, "/board")


def login_page(lang, counter_id, label):
    """The counter's staff sign-in form."""
    body = """<form id="login" class="login" autocomplete="off">
<h2>%s</h2>
<label>%s <input name="staff" id="staff" inputmode="numeric" maxlength="32" required></label>
<label>%s <input name="pin" id="pin" type="password" inputmode="numeric" maxlength="12" required></label>
<button class="action" type="submit" id="sign-in">%s</button>
<p id="status" class="error" role="alert"></p>
</form>""" % (_e(text(lang, "counter.login")), _e(text(lang, "counter.staff")), _e(text(lang, "counter.pin")),
              _e(text(lang, "counter.sign_in")))
    title = "%s %s" % (text(lang, "title.counter"), label)
    return _layout(lang, title, "counter", body, {"lang": lang, "counter": counter_id, "signed_in": False},
                   "/counter/" + counter_id)


def counter_page(lang, view, csrf):
    """The counter's staff page: status, the ticket held, the action buttons and the queue."""
    buttons = "".join('<button class="action" type="button" data-action="%s">%s</button>'
                      % (_e(action), _e(text(lang, key))) for action, key in (
                          ("call-next", "counter.call_next"), ("recall", "counter.recall"),
                          ("start", "counter.start"), ("finish", "counter.finish"), ("skip", "counter.skip"),
                          ("resume", "counter.resume"), ("pause", "counter.pause")))
    options = "".join('<option value="b:%s">%s</option>' % (_e(b["code"]), _e(b["name"]))
                      for b in view["transfer"]["businesses"])
    options += "".join('<option value="c:%s">%s %s</option>' % (_e(c["id"]), _e(text(lang, "board.counter")),
                                                                   _e(c["label"]))
                       for c in view["transfer"]["counters"])
    body = """<section class="state">
<p>%s: <strong id="counter-status"></strong> <span class="staff">%s</span></p>
<p>%s: <strong id="current" class="big-number"></strong> <span id="current-detail"></span></p>
</section>
<section class="buttons">%s</section>
<section class="transfer"><label>%s %s <select id="transfer-to">%s</select></label>
<button class="action" type="button" id="transfer">%s</button></section>
<p id="status" class="error" role="alert"></p>
<section><h2>%s</h2><ol id="queue"></ol></section>
<button type="button" id="logout" class="small">%s</button>""" % (
        _e(text(lang, "counter.status")), _e(view["staff"]), _e(text(lang, "counter.current")), buttons,
        _e(text(lang, "counter.transfer")), _e(text(lang, "counter.transfer_to")), options,
        _e(text(lang, "counter.transfer")), _e(text(lang, "counter.queue")), _e(text(lang, "counter.logout")))
    title = "%s %s" % (text(lang, "title.counter"), view["label"])
    return _layout(lang, title, "counter", body, {"lang": lang, "counter": view["counter"], "signed_in": True,
                                                  "csrf": csrf, "view": view}, "/counter/" + view["counter"])
