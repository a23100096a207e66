"""The broker as a process: restarts with its persistence, revocation and rotation of a
device on a running broker, and the fixture's own rules."""

import shutil
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

import brokers
from brokers import ACCEPTED, GRANTED_QOS_1, NOT_AUTHORIZED, SUCCESS, ProbeError

DEVICES = [("conc-01", "concentrator"), ("conc-02", "concentrator")]
READING = "hall/h1/concentrator/conc-01/reading"


# A session that outlives its connection and a broker restart: MQTT 3.1.1 with clean
# session off. See test_mqtt5_sessions_do_not_survive_a_restart for why not MQTT 5.
PERSISTENT = {"protocol": mqtt.MQTTv311, "clean_start": False}


def test_queued_records_survive_a_clean_restart(mosquitto):
    broker = mosquitto("h1", DEVICES)
    hall = broker.probe("hall-server", **PERSISTENT)
    assert hall.subscribe("hall/h1/+/+/+") == [GRANTED_QOS_1]
    hall.close()
    device = broker.probe("conc-01")
    assert device.publish(READING, b"while the hall was away") == SUCCESS
    device.close()

    broker.restart(kill=False)

    hall = broker.probe("hall-server", **PERSISTENT)
    assert hall.expect(READING).payload == b"while the hall was away"


def _version(binary):
    out = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout
    return out.split()[2] if out.startswith("mosquitto version") else "unknown"


def test_mqtt5_sessions_do_not_survive_a_restart(mosquitto):
    broker = mosquitto("h1", DEVICES)
    version = _version(broker.binary)
    if version != "2.0.11":
        pytest.skip("checked on Mosquitto 2.0.11 (Debian 12); this is %s" % version)
    hall = broker.probe("hall-server", clean_start=True, session_expiry_s=3600)
    assert hall.subscribe("hall/h1/+/+/+") == [GRANTED_QOS_1]
    hall.close()
    device = broker.probe("conc-01")
    assert device.publish(READING, b"while the hall was away") == SUCCESS

    broker.restart(kill=False)

    hall = broker.probe("hall-server", clean_start=False, session_expiry_s=3600)
    # Without the broker restart the session and its queued record would be there.
    device = broker.probe("conc-01")
    assert device.publish(READING, b"after") == brokers.NO_MATCHING_SUBSCRIBERS
    assert hall.received() == []


def wait_for_autosave(broker, since, timeout_s=5.0):
    db = broker.config.data_dir / "mosquitto.db"
    deadline = time.monotonic() + timeout_s
    while not (db.exists() and db.stat().st_mtime > since):
        assert time.monotonic() < deadline, "mosquitto saved nothing within %.0f s" % timeout_s
        time.sleep(0.05)


def test_a_broker_killed_hard_comes_back_on_the_same_port_with_what_it_last_saved(mosquitto):
    broker = mosquitto("h1", DEVICES, autosave_interval_s=1)
    port = broker.port
    hall = broker.probe("hall-server", **PERSISTENT)
    assert hall.subscribe("hall/h1/+/+/+") == [GRANTED_QOS_1]
    hall.close()
    device = broker.probe("conc-01", will=("hall/h1/status/conc-01", b"offline"))
    assert device.publish("hall/h1/status/conc-01", b"online", retain=True) in ACCEPTED
    assert device.publish(READING, b"saved before the kill") == SUCCESS
    wait_for_autosave(broker, since=time.time())

    broker.kill()
    device.wait_for(lambda: device.disconnect_reason is not None, "the device to see the broker go")
    broker.start()

    assert broker.port == port
    hall = broker.probe("hall-server", **PERSISTENT)
    assert hall.expect(READING).payload == b"saved before the kill"
    assert hall.subscribe("hall/h1/status/conc-01") == [GRANTED_QOS_1]
    assert hall.expect("hall/h1/status/conc-01").payload == b"online"


def test_a_revoked_device_can_do_nothing_after_a_reload_and_cannot_connect_again(mosquitto, tmp_path):
    broker = mosquitto("h1", DEVICES)
    ca, cert, key = broker.tls_files("conc-02")
    kept = tmp_path / "kept"
    kept.mkdir()
    cert, key = shutil.copy(cert, kept), shutil.copy(key, kept)
    connected = broker.probe("conc-02", cert=cert, key=key)
    topic = "hall/h1/concentrator/conc-02/reading"
    assert connected.publish(topic, b"before") in ACCEPTED

    config = broker.reconfigure(revoke=["conc-02"])
    broker.reload()

    assert "conc-02" not in config.devices
    deadline = time.monotonic() + 5
    while connected.publish(topic, b"after") != NOT_AUTHORIZED:  # the reload is asynchronous
        assert time.monotonic() < deadline, "the ACL was not reloaded"
        time.sleep(0.05)
    again = broker.probe("conc-02", connect=False, cert=cert, key=key)
    with pytest.raises(ProbeError):
        again.connect()
    assert "certificate verify failed" in broker.log()
    assert broker.probe("conc-01").publish(READING, b"others go on") in ACCEPTED


def test_rotating_a_device_refuses_its_old_certificate_and_accepts_the_new_one(mosquitto, tmp_path):
    broker = mosquitto("h1", DEVICES)
    old = [shutil.copy(p, tmp_path) for p in broker.tls_files("conc-01")[1:]]

    config = broker.reconfigure(devices=[("conc-01", "concentrator")], revoke=["conc-01"])
    broker.reload()

    assert config.client("conc-01").issued_now
    new = broker.probe("conc-01")
    assert new.publish(READING, b"new key") in ACCEPTED
    stale = broker.probe("conc-01", connect=False, cert=old[0], key=old[1])
    with pytest.raises(ProbeError):
        stale.connect()


def test_a_device_added_to_a_running_broker_can_publish_after_a_reload(mosquitto):
    broker = mosquitto("h1", DEVICES)
    broker.reconfigure(devices=[("kiosk-07", "kiosk")])
    broker.reload()

    kiosk = broker.probe("kiosk-07")
    deadline = time.monotonic() + 5
    while kiosk.publish("hall/h1/kiosk/kiosk-07/ticket", b"t1") not in ACCEPTED:
        assert time.monotonic() < deadline, "the ACL was not reloaded"
        time.sleep(0.05)


def test_without_the_binary_the_broker_tests_skip_and_under_ci_they_fail(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make test"):
        brokers.mosquitto_binary(extra_dirs=())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make test"):
        brokers.mosquitto_binary(extra_dirs=())


def test_a_broker_that_cannot_start_raises_with_its_log(tmp_path):
    broker = brokers.Mosquitto(tmp_path / "b", "h1", DEVICES)
    broker.start()
    try:
        blocked = brokers.Mosquitto(tmp_path / "c", "h1", DEVICES)
        blocked._write(broker.port, DEVICES)  # the port the first broker holds
        with pytest.raises(brokers.BrokerStartError, match="Address already in use"):
            blocked.start(timeout_s=2)
    finally:
        broker.close()
