"""The reference hall server.

Will receive signed records over MQTT, verify signature and hash chain, store
each record exactly once keyed by ``(src, epoch, seq)``, acknowledge, request
resends for gaps, quarantine what it cannot accept, and serve the hall's KPI
dashboard.
"""
