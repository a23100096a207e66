"""Fixtures shared by every test package.

``mosquitto``: start real Mosquitto brokers for one test. The broker code lives
in tests/brokers.py, importable by any test (``from brokers import ...``).

``pg_url``: the URL of a new empty database on a real PostgreSQL server
(tests/postgres.py), started once for the session and stopped at its end.
"""

import pytest

from brokers import Mosquitto
from postgres import Postgres


@pytest.fixture
def mosquitto(tmp_path):
    """``mosquitto(hall="h1", devices=[(id, kind), ...], **write_broker_config kwargs)`` starts a
    ``brokers.Mosquitto`` on a free loopback port and returns it; each is stopped after the test,
    and its log shown if the test failed. The binary missing is a skip (a failure under CI)."""
    started = []

    def start(hall="h1", devices=(), **config):
        broker = Mosquitto(tmp_path / ("mosquitto-%d" % len(started)), hall, devices, **config)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.close()


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the session; its log is shown if it fails to start."""
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(postgres_server):
    """``postgresql://...`` of a database created for this test."""
    return postgres_server.database()
