"""The hall kiosk: queue tickets, counter calling, self-payment and rating.

* ``kiosk.queue``: the queue engine (categories, green channel and VIP
  priority, counters, no-show and transfer rules, wait estimates, KPIs) with
  its SQLite journal (docs/kiosk.md, "Queue").
* ``kiosk.web``: the touch screen, waiting board, counter pages and JSON API.
* ``kiosk.printing``: tickets and receipts on ESC/POS printers.
* ``kiosk.rating``: the satisfaction rating pad of each counter.
* ``kiosk.payment``: the clients of the billing back office and payment
  providers; the payment intents (never charged twice, manual
  pre-collection) are still to come.
* ``kiosk.cli``: ``kiosk serve``, ``kiosk check-config``, ``kiosk identity``.

Everything the kiosk does becomes a signed record through the edge outbox.
"""
