"""Device runtime shared by kiosks and concentrators (CPython).

Will hold configuration loading, the device identity (key pair, enrolment),
the SQLite outbox that commits every record before it is published, the MQTT
publisher, health figures and alarms, and the clock-quality tracker.
"""
