"""One broker for the hall's broker tests that do not change it: hall h1 with two
concentrators, a kiosk and two hall server instances."""

import pytest

from brokers import Mosquitto

HALL = "h1"
DEVICES = [("conc-01", "concentrator"), ("conc-02", "concentrator"), ("kiosk-01", "kiosk")]
HALL_SERVERS = ["hall-server", "hall-server-2"]


@pytest.fixture(scope="module")
def hall_broker(tmp_path_factory):
    broker = Mosquitto(tmp_path_factory.mktemp("hall-broker"), HALL, DEVICES, hall_servers=HALL_SERVERS)
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def connect(hall_broker):
    """``connect(user, **MqttProbe kwargs)``: a connected probe on the module's broker, closed
    after the test."""
    opened = []

    def open_(user, **kwargs):
        probe = hall_broker.probe(user, **kwargs)
        opened.append(probe)
        return probe

    yield open_
    for probe in opened:
        probe.close()
