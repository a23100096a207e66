"""The generated TLS and ACL configuration, enforced by a real Mosquitto.

Each test states what Mosquitto 2.0 really does, so a broker upgrade that
changes it shows here first:

* a PUBLISH the ACL does not allow is dropped; over MQTT 5 its PUBACK says
  Not authorized (0x87), over MQTT 3.1.1 the PUBACK looks like any other;
* a SUBSCRIBE is granted whatever the filter; read access is checked on
  delivery against each message's topic, so nothing foreign arrives;
* a client without a certificate from the hall's CA never gets a CONNACK.
"""

import paho.mqtt.client as mqtt
import pytest

from brokers import GRANTED_QOS_1, NO_MATCHING_SUBSCRIBERS, NOT_AUTHORIZED, SUCCESS, ProbeError, wait_until
from hall import write_broker_config
from protocols.topics import (ack_topic, command_topic, record_topic, records_subscription, resend_topic,
                              shared_subscription, status_topic)

HALL = "h1"
_TO_DEVICE = {"ack": ack_topic, "resend": resend_topic, "command": command_topic, "status": status_topic}


def record(device_kind, device, kind, hall=HALL):
    return record_topic(hall, device_kind, device, kind)


def to_device(what, device, hall=HALL):
    return _TO_DEVICE[what](hall, device)


def hall_listening(connect, user="hall-server"):
    hall = connect(user)
    assert hall.subscribe(records_subscription(HALL)) == [GRANTED_QOS_1]
    assert hall.subscribe("hall/%s/status/+" % HALL) == [GRANTED_QOS_1]
    return hall


def sync(device, hall, topic):
    """Publish a marker on ``topic``, one of the device's own, and wait until the hall has it.
    The broker delivers one client's messages in order, so whatever the device published
    before has reached the hall by then, if it ever does."""
    assert device.publish(topic, b"marker") == SUCCESS
    hall.expect(topic)


def test_a_device_record_reaches_the_hall_server_directly_and_through_a_shared_subscription(connect):
    direct = connect("hall-server")
    shared = connect("hall-server-2")
    assert direct.subscribe("hall/h1/concentrator/+/+") == [GRANTED_QOS_1]
    assert shared.subscribe(shared_subscription("ingest", "hall/h1/concentrator/+/+")) == [GRANTED_QOS_1]
    device = connect("conc-01")

    topic = record("concentrator", "conc-01", "reading")
    assert device.publish(topic, b"r1") == SUCCESS

    assert direct.expect(topic).payload == b"r1"
    assert shared.expect(topic).payload == b"r1"


def test_hall_server_instances_in_one_share_group_split_the_records_without_duplicates(connect):
    instances = [connect("hall-server"), connect("hall-server-2")]
    for instance in instances:
        assert instance.subscribe(shared_subscription("split", records_subscription(HALL))) == [GRANTED_QOS_1]
    device = connect("kiosk-01")
    sent = [b"t%02d" % n for n in range(40)]
    for payload in sent:
        assert device.publish(record("kiosk", "kiosk-01", "ticket"), payload) == SUCCESS

    def got():
        return [m.payload for i in instances for m in i.received(record("kiosk", "kiosk-01", "ticket"))]

    wait_until(lambda: len(got()) >= len(sent), "all 40 records")
    assert sorted(got()) == sent
    assert all(instance.received() for instance in instances), "one instance got nothing"


@pytest.mark.parametrize("topic", [
    record("concentrator", "conc-02", "reading"),   # another device of the same kind
    record("kiosk", "conc-01", "ticket"),           # its own id under another device kind
    record("kiosk", "kiosk-01", "ticket"),          # another device of another kind
    to_device("status", "conc-02"),                 # another device's status
    record("concentrator", "conc-01", "reading", hall="h2"),  # another hall
    "hall/h1/concentrator/conc-01",                 # its own prefix, one level short
    "hall/h1/concentrator/conc-01/reading/extra",   # one level too many
])
def test_a_device_publishing_outside_its_own_topics_is_refused_by_the_broker(connect, topic):
    hall = hall_listening(connect)
    device = connect("conc-01")

    assert device.publish(topic, b"forged") == NOT_AUTHORIZED
    sync(device, hall, record("concentrator", "conc-01", "marker"))
    assert hall.received(topic) == []


@pytest.mark.parametrize("what", ["ack", "resend", "command"])
def test_a_device_cannot_write_the_hall_to_device_topics(connect, what):
    victim = connect("conc-02")
    assert victim.subscribe(to_device(what, "conc-02")) == [GRANTED_QOS_1]
    device = connect("conc-01")
    hall = connect("hall-server")

    assert device.publish(to_device(what, "conc-02"), b"forged") == NOT_AUTHORIZED
    assert device.publish(to_device(what, "conc-01"), b"to itself") == NOT_AUTHORIZED
    assert hall.publish(to_device(what, "conc-02"), b"marker") == SUCCESS
    victim.expect(to_device(what, "conc-02"))
    assert [m.payload for m in victim.received()] == [b"marker"]


def test_over_mqtt_311_a_refused_publish_gets_an_ordinary_puback_and_is_dropped(connect):
    hall = hall_listening(connect)
    device = connect("conc-01", protocol=mqtt.MQTTv311)
    topic = record("concentrator", "conc-02", "reading")

    assert device.publish(topic, b"forged") == SUCCESS  # 3.1.1 has no reason code to say no
    sync(device, hall, record("concentrator", "conc-01", "marker-311"))
    assert hall.received(topic) == []


def test_a_device_subscribing_to_another_devices_topics_is_granted_but_receives_nothing(connect):
    snoop = connect("conc-01")
    filters = [to_device("ack", "conc-02"), to_device("command", "conc-02"), "hall/h1/resend/+",
               "hall/h1/command/+", "hall/h1/concentrator/conc-02/+", "hall/h1/#", "#"]
    for topic_filter in filters:
        assert snoop.subscribe(topic_filter) == [GRANTED_QOS_1]
    other = connect("conc-02")
    hall = connect("hall-server")
    assert hall.subscribe("hall/h1/+/+/+") == [GRANTED_QOS_1]

    for what in ("ack", "resend", "command"):
        assert hall.publish(to_device(what, "conc-02"), b"for conc-02") in (SUCCESS, NO_MATCHING_SUBSCRIBERS)
    assert other.publish(record("concentrator", "conc-02", "reading"), b"conc-02's reading") == SUCCESS
    hall.expect(record("concentrator", "conc-02", "reading"))
    assert hall.publish(to_device("command", "conc-01"), b"for conc-01") == SUCCESS

    snoop.expect(to_device("command", "conc-01"))
    assert [m.payload for m in snoop.received()] == [b"for conc-01"] * len(snoop.received())


def test_the_hall_server_publishes_ack_resend_and_command_and_each_device_gets_only_its_own(connect):
    devices = {name: connect(name) for name in ("conc-01", "conc-02", "kiosk-01")}
    for name, device in devices.items():
        for what in ("ack", "resend", "command"):
            assert device.subscribe(to_device(what, name)) == [GRANTED_QOS_1]
    hall = connect("hall-server")

    for name in devices:
        for what in ("ack", "resend", "command"):
            assert hall.publish(to_device(what, name), ("%s %s" % (what, name)).encode()) == SUCCESS
    for name, device in devices.items():
        for what in ("ack", "resend", "command"):
            assert device.expect(to_device(what, name)).payload == ("%s %s" % (what, name)).encode()
        assert len(device.received()) == 3


def test_the_hall_server_cannot_forge_device_records_or_status(connect):
    hall = connect("hall-server")
    assert hall.publish(record("concentrator", "conc-01", "reading"), b"forged") == NOT_AUTHORIZED
    assert hall.publish(to_device("status", "conc-01"), b"offline") == NOT_AUTHORIZED


def test_a_device_will_is_published_retained_on_its_status_topic_when_its_connection_dies(connect):
    hall = connect("hall-server")
    assert hall.subscribe(to_device("status", "kiosk-01")) == [GRANTED_QOS_1]
    device = connect("kiosk-01", will=(to_device("status", "kiosk-01"), b"offline"))
    assert device.publish(to_device("status", "kiosk-01"), b"online", retain=True) == SUCCESS
    assert hall.expect(to_device("status", "kiosk-01")).payload == b"online"

    device.drop()

    hall.wait_for(lambda: len(hall.received()) == 2, "the will")
    assert [m.payload for m in hall.received()] == [b"online", b"offline"]
    late = connect("hall-server-2")
    assert late.subscribe(to_device("status", "kiosk-01")) == [GRANTED_QOS_1]
    retained = late.expect(to_device("status", "kiosk-01"))
    assert (retained.payload, retained.retain) == (b"offline", True)


def test_a_will_on_another_devices_status_topic_is_dropped(connect):
    hall = connect("hall-server")
    assert hall.subscribe("hall/h1/status/+") == [GRANTED_QOS_1]
    device = connect("conc-01", will=(to_device("status", "conc-02"), b"forged offline"))

    device.drop()

    marker = connect("conc-02")
    assert marker.publish(to_device("status", "conc-02"), b"marker") == SUCCESS
    hall.expect(to_device("status", "conc-02"))
    assert [m.payload for m in hall.received(to_device("status", "conc-02"))
            if not m.retain] == [b"marker"]


def test_a_device_reusing_another_devices_client_id_does_not_take_its_place(connect):
    hall = hall_listening(connect)
    owner = connect("conc-01")
    impostor = connect("kiosk-01", client_id="conc-01")

    assert impostor.publish(record("concentrator", "conc-01", "reading"), b"forged") == NOT_AUTHORIZED
    assert owner.disconnect_reason is None, "the owner was knocked off"
    sync(owner, hall, record("concentrator", "conc-01", "still-here"))
    assert hall.received(record("concentrator", "conc-01", "reading")) == []


@pytest.fixture(scope="module")
def foreign_ca(tmp_path_factory):
    """A configuration of the same hall and device ids made by another CA."""
    return write_broker_config(tmp_path_factory.mktemp("foreign"), HALL, [("conc-01", "concentrator")])


def test_a_client_without_a_certificate_is_refused(hall_broker):
    probe = hall_broker.probe(None, connect=False)
    with pytest.raises(ProbeError):
        probe.connect()
    assert probe.connack is None


def test_a_client_with_a_certificate_from_another_ca_is_refused(hall_broker, foreign_ca):
    client = foreign_ca.client("conc-01")
    probe = hall_broker.probe("conc-01", connect=False, cert=str(client.cert), key=str(client.key))
    with pytest.raises(ProbeError):
        probe.connect()
    assert probe.connack is None


def test_an_anonymous_client_without_tls_is_refused(hall_broker):
    probe = hall_broker.probe(None, connect=False, ca=None)
    with pytest.raises(ProbeError):
        probe.connect()
    assert probe.connack is None


def test_a_client_that_does_not_trust_the_hall_ca_refuses_the_broker(hall_broker, foreign_ca):
    probe = hall_broker.probe("conc-01", connect=False, ca=str(foreign_ca.ca_cert))
    with pytest.raises(ProbeError, match="CERTIFICATE_VERIFY_FAILED"):
        probe.connect()
