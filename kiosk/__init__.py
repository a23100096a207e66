"""The hall kiosk: queue tickets, counter calling, self-payment and rating.

Will hold the queue engine (categories, green channel and VIP priority,
counters), self-payment against the billing back office with manual
pre-collection, the satisfaction rating pad, ticket and receipt printing, and
the touch-screen web UI, all reporting through the edge outbox.
"""
