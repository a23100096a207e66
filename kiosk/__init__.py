"""The hall kiosk: queue tickets, counter calling, self-payment and rating.

``kiosk.queue`` is the queue engine (categories, green channel and VIP
priority, counters, no-show and transfer rules, wait estimates, KPIs) with
its SQLite journal (docs/kiosk.md, "Queue"). Still to come: self-payment
against the billing back office with manual pre-collection, the
satisfaction rating pad, ticket and receipt printing, and the touch-screen
web UI, all reporting through the edge outbox.
"""
