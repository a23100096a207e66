"""Server-rendered HTML of the later pages: the counter's rating screen, the guidance desk and admin.

Same rules as ``_pages.py`` (whose layout they share): every value is
escaped, data for the scripts is a JSON block, strings come from the
catalogue. The rating screen is the customer's, at the counter: five large
level buttons, then a reason for levels 1 and 2, then thanks, back to idle.
"""

from ._i18n import text
from ._pages import _e, _layout


def rating_page(lang, counter_id, label, choices):
    """The small touch screen at a counter: idle, ask (five levels), reason (levels 1-2), thanks."""
    levels = "".join('<button class="level level-%d" type="button" data-level="%d">%s</button>'
                     % (c["level"], c["level"], _e(c["name"])) for c in choices["levels"])
    reasons = "".join('<button class="reason action" type="button" data-pick="%d">%s</button>'
                      % (i, _e(r)) for i, r in enumerate(choices["reasons"], 1))
    body = """<div id="idle"><p class="welcome">%s</p></div>
<div id="ask" hidden><p class="welcome">%s</p><p><span>%s</span> <strong id="rate-number" class="big-number"></strong></p>
<div class="levels">%s</div></div>
<div id="reason" hidden><p class="welcome">%s</p><div class="buttons">%s</div>
<p><label>%s <input id="reason-text" maxlength="256"></label>
<button id="reason-send" class="action" type="button">%s</button></p></div>
<div id="thanks" hidden><p class="welcome">%s</p></div>
<p id="left" class="hint"></p>
<p id="status" class="error" role="alert"></p>""" % (
        _e(text(lang, "rating.idle")), _e(text(lang, "rating.ask")), _e(text(lang, "rating.ticket")), levels,
        _e(text(lang, "rating.why")), reasons, _e(text(lang, "rating.other")), _e(text(lang, "rating.send")),
        _e(text(lang, "rating.thanks")))
    title = "%s %s" % (text(lang, "title.rating"), label)
    return _layout(lang, title, "rating", body, {"lang": lang, "counter": counter_id, "choices": choices},
                   "/rating/" + counter_id)


def role_login_page(lang, role):
    """The sign-in form of the desk or admin page."""
    body = """<form id="login" class="login" autocomplete="off">
<h2>%s</h2>
<label>%s <input name="staff" id="staff" inputmode="numeric" maxlength="32" required></label>
<label>%s <input name="pin" id="pin" type="password" inputmode="numeric" maxlength="12" required></label>
<button class="action" type="submit" id="sign-in">%s</button>
<p id="status" class="error" role="alert"></p>
</form>""" % (_e(text(lang, "role.login." + role)), _e(text(lang, "counter.staff")), _e(text(lang, "counter.pin")),
              _e(text(lang, "counter.sign_in")))
    return _layout(lang, text(lang, "title." + role), role, body, {"lang": lang, "role": role, "signed_in": False},
                   "/" + role)


def desk_page(lang, staff, csrf, businesses, classes, reasons):
    """The guidance desk: business, class (green channel, VIP) and the reason, then issue (Q-10, Q-11)."""
    biz = "".join('<option value="%s">%s</option>' % (_e(b["code"]), _e(b["name"])) for b in businesses)
    cls = "".join('<label class="choice"><input type="radio" name="priority" value="%s"%s> %s</label>'
                  % (_e(c), " checked" if i == 0 else "", _e(text(lang, "priority." + c)))
                  for i, c in enumerate(classes))
    body = """<p>%s <span class="staff">%s</span></p>
<form id="issue" autocomplete="off">
<p><label>%s <select id="business">%s</select></label></p>
<p class="classes">%s</p>
<p><label>%s <select id="reason"></select></label></p>
<p><label>%s <input id="note" maxlength="200"></label></p>
<button class="action" type="submit" id="issue-ticket">%s</button>
</form>
<div id="issued" hidden><p>%s</p><p id="issued-number" class="big-number"></p><p id="issued-detail"></p></div>
<p id="status" class="error" role="alert"></p>
<section><h2>%s</h2><ol id="ledger"></ol></section>
<button type="button" id="logout" class="small">%s</button>""" % (
        _e(text(lang, "desk.signed_in")), _e(staff), _e(text(lang, "desk.business")), biz, cls,
        _e(text(lang, "desk.reason")), _e(text(lang, "desk.note")), _e(text(lang, "desk.issue")),
        _e(text(lang, "kiosk.your_number")), _e(text(lang, "desk.ledger")), _e(text(lang, "counter.logout")))
    names = {r: text(lang, "desk.reason." + r) for rs in reasons.values() for r in rs}
    return _layout(lang, text(lang, "title.desk"), "desk", body,
                   {"lang": lang, "role": "desk", "signed_in": True, "csrf": csrf,
                    "reasons": {c: list(rs) for c, rs in reasons.items()}, "reason_names": names}, "/desk")


def admin_page(lang, staff, csrf, settings):
    """The admin page: device health (refreshed), printer test, counters, and the settings summary."""
    body = """<p>%s <span class="staff">%s</span></p>
<section><h2>%s</h2><table id="health"><tbody></tbody></table></section>
<section><h2>%s</h2><table id="counters"><tbody></tbody></table></section>
<section><h2>%s</h2><button class="action" type="button" id="test-print">%s</button>
<p id="print-result" role="status"></p></section>
<section><h2>%s</h2><pre id="settings"></pre></section>
<p id="status" class="error" role="alert"></p>
<button type="button" id="logout" class="small">%s</button>""" % (
        _e(text(lang, "desk.signed_in")), _e(staff), _e(text(lang, "admin.health")), _e(text(lang, "admin.counters")),
        _e(text(lang, "admin.printer")), _e(text(lang, "admin.test_print")), _e(text(lang, "admin.settings")),
        _e(text(lang, "counter.logout")))
    return _layout(lang, text(lang, "title.admin"), "admin", body,
                   {"lang": lang, "role": "admin", "signed_in": True, "csrf": csrf, "settings": settings}, "/admin")
