"""A real Mosquitto for tests, and an MQTT client that waits for what it asks.

``Mosquitto`` writes a hall's broker configuration with ``hall.write_broker_config``
into a directory, starts ``mosquitto -c`` on a loopback port the OS chose,
and waits until it completes a TLS handshake. It can be killed with SIGKILL,
restarted on the same port with the same persistence, reloaded with SIGHUP
and reconfigured. Its log (stdout and stderr of every run) is kept in
``mosquitto.log`` beside the configuration.

``MqttProbe`` wraps one paho-mqtt 2.x client (MQTT 5 unless told otherwise)
whose calls block until the broker answered: ``publish`` returns the PUBACK
reason code, ``subscribe`` the SUBACK codes. It never reconnects by itself.

Nothing here is started by hand: a missing ``mosquitto`` binary is a skip
(a failure when CI is set), and ``make test`` installs it.
"""

import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hall._broker import wait_for_tls, write_broker_config

HOST = "127.0.0.1"
# MQTT 5 reason codes the tests look for (MQTT 5.0 section 2.4).
SUCCESS = 0x00
GRANTED_QOS_1 = 0x01
NO_MATCHING_SUBSCRIBERS = 0x10
NOT_AUTHORIZED = 0x87
# What a PUBACK says when the broker took the message: "No matching subscribers" is a
# success too (Mosquitto sends it over MQTT 5 when nobody subscribed).
ACCEPTED = (SUCCESS, NO_MATCHING_SUBSCRIBERS)
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def mosquitto_binary(extra_dirs=_SBIN):
    """Path of the mosquitto binary, looked up in PATH and ``extra_dirs`` (Debian puts it in
    /usr/sbin, which a user's PATH may lack). Skips the test, or fails it when the environment
    variable CI is set, when there is none."""
    path = os.pathsep.join([os.environ.get("PATH", "")] + list(extra_dirs))
    found = shutil.which("mosquitto", path=path)
    if found:
        return found
    message = "the mosquitto binary is not installed; `make test` installs it (scripts/ensure-system-packages)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port():
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate, what, timeout_s=5.0, interval_s=0.01):
    """Poll ``predicate()`` until it is true; AssertionError naming ``what`` after ``timeout_s``.
    For conditions that span several probes (``MqttProbe.wait_for`` watches one)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %.1f s" % (what, timeout_s))
        time.sleep(interval_s)


class BrokerStartError(RuntimeError):
    pass


class Mosquitto:
    """One hall's Mosquitto, run from a configuration generated into ``directory``.

    Args:
        directory: where the configuration, persistence and log go.
        hall: the hall id.
        devices: ``(id, kind)`` pairs to issue certificates for.
        **config: further keyword arguments of ``write_broker_config``
            (``hall_servers``, ``max_queued_messages``, ...).
    """

    def __init__(self, directory, hall="h1", devices=(), **config):
        self.directory = Path(directory)
        self.hall = hall
        self.binary = mosquitto_binary()
        self.log_path = self.directory / "mosquitto.log"
        self.process = None
        self.config = None
        self._devices = list(devices)
        self._config_args = config
        self._probes = []

    # -- configuration -------------------------------------------------

    def _write(self, port, devices=(), revoke=(), **changes):
        self._config_args.update(changes)
        self.config = write_broker_config(
            self.directory / "broker", self.hall, devices, port=port, bind=HOST, revoke=revoke,
            run_as=pwd.getpwuid(os.geteuid()).pw_name, **self._config_args)
        return self.config

    def reconfigure(self, devices=(), revoke=(), **changes):
        """Re-run ``write_broker_config`` on the same directory: add ``devices``, ``revoke`` ids,
        change settings. The running broker sees it after ``reload()`` or ``restart()``."""
        return self._write(self.port, devices, revoke, **changes)

    @property
    def port(self):
        return self.config.port if self.config else None

    @property
    def ca(self):
        return str(self.config.ca_cert)

    def tls_files(self, user):
        """``(ca, cert, key)`` paths for a device id or hall server user."""
        client = self.config.client(user)
        return self.ca, str(client.cert), str(client.key)

    # -- process -------------------------------------------------------

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s=10.0):
        """Start the broker and wait until it completes a TLS handshake. The first start picks a
        free port; later ones reuse it, so clients and persistence carry over."""
        if self.running:
            raise BrokerStartError("mosquitto is already running (pid %d)" % self.process.pid)
        first = self.config is None
        for _attempt in range(5):
            if first:
                self._write(free_port(), self._devices)
            self._spawn()
            if self._wait_ready(timeout_s):
                return self
            log = self.log()
            if first and "Address already in use" in log:
                continue  # another process took the port between choosing and binding it
            raise BrokerStartError("mosquitto did not start on port %d; its log:\n%s" % (self.port, log))
        raise BrokerStartError("no free port found for mosquitto after 5 tries")

    def _spawn(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(b"=== mosquitto -c %s (port %d)\n" % (str(self.config.conf).encode(), self.port))
            log.flush()
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config.conf)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def _wait_ready(self, timeout_s):
        ca, cert, key = self.tls_files(self.config.hall_servers[0])
        if wait_for_tls(HOST, self.port, ca, cert, key, timeout_s, alive=lambda: self.process.poll() is None):
            return True
        self.kill()
        return False

    def kill(self):
        """SIGKILL the broker, as a power cut would: no state saved since the last autosave."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout_s=5.0):
        """SIGTERM the broker (it saves its state) and wait; SIGKILL if it hangs."""
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, kill=True):
        """Kill (SIGKILL, or SIGTERM with ``kill=False``) and start again, same port and data."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def reload(self):
        """SIGHUP: Mosquitto re-reads the ACL file and the CRL."""
        self.process.send_signal(signal.SIGHUP)

    def log(self):
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def close(self):
        """Disconnect every probe, stop the broker, and print its log (pytest shows it when a
        test failed)."""
        for probe in self._probes:
            probe.close()
        self.stop()
        print("--- mosquitto log (%s) ---\n%s" % (self.log_path, self.log()))

    # -- clients -------------------------------------------------------

    def probe(self, user, *, connect=True, **kwargs):
        """An ``MqttProbe`` with ``user``'s certificate (connected unless ``connect=False``).
        ``user=None`` gives a client with no certificate."""
        if user is None or "cert" in kwargs:
            ca, cert, key = self.ca, None, None
        else:
            ca, cert, key = self.tls_files(user)
        kwargs.setdefault("client_id", user or "")
        probe = MqttProbe(HOST, self.port, ca=kwargs.pop("ca", ca), cert=kwargs.pop("cert", cert),
                          key=kwargs.pop("key", key), **kwargs)
        self._probes.append(probe)
        if connect:
            probe.connect()
        return probe


class ProbeError(AssertionError):
    pass


class MqttProbe:
    """A paho-mqtt client whose calls wait for the broker's answer.

    Args:
        host, port: the broker.
        ca: CA file to verify the broker with; None for a plain TCP connection.
        cert, key: client certificate and key, or None.
        client_id: MQTT client id.
        protocol: ``mqtt.MQTTv5`` (default) or ``mqtt.MQTTv311``.
        will: ``(topic, payload)`` for a retained QoS 1 last will, or None.
        clean_start: MQTT 5 clean start (clean session for 3.1.1).
        session_expiry_s: MQTT 5 session expiry interval. Without one the broker
            forgets the session, queued messages included, when the client goes.
    """

    def __init__(self, host, port, *, ca=None, cert=None, key=None, client_id="",
                 protocol=mqtt.MQTTv5, will=None, clean_start=True, session_expiry_s=None,
                 timeout_s=5.0):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.client_id = client_id
        self.protocol = protocol
        self.clean_start = clean_start
        self.connect_properties = None
        if session_expiry_s is not None:
            self.connect_properties = Properties(PacketTypes.CONNECT)
            self.connect_properties.SessionExpiryInterval = session_expiry_s
        kwargs = {} if protocol == mqtt.MQTTv5 else {"clean_session": clean_start}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                  reconnect_on_failure=False, **kwargs)
        if ca is not None:
            self.client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self._cond = threading.Condition()
        self.connack = None
        self.disconnect_reason = None
        self.messages = []
        self._pubacks = {}
        self._subacks = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self._started = False

    # paho callbacks, on paho's thread
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self.connack = reason_code
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self.disconnect_reason = reason_code
            self._cond.notify_all()

    def _on_message(self, client, userdata, message):
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cond:
            self._pubacks[mid] = reason_code
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._subacks[mid] = reason_codes
            self._cond.notify_all()

    def wait_for(self, predicate, what, timeout_s=None):
        """Wait until ``predicate()`` (called under the probe's lock) is true; ProbeError naming
        ``what`` if it is not within the timeout."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        with self._cond:
            if not self._cond.wait_for(predicate, timeout_s):
                raise ProbeError("no %s within %.1f s (disconnect reason: %s)"
                                 % (what, timeout_s, self.disconnect_reason))

    def connect(self):
        """Connect and wait for a successful CONNACK.

        Raises:
            ProbeError: the broker refused or dropped the connection (TLS or MQTT), or did not
                answer; the message says which.
        """
        try:
            if self.protocol == mqtt.MQTTv5:
                self.client.connect(self.host, self.port, clean_start=self.clean_start,
                                    properties=self.connect_properties)
            else:
                self.client.connect(self.host, self.port)
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError("connection refused before MQTT: %r" % exc) from exc
        self.client.loop_start()
        self._started = True
        self.wait_for(lambda: self.connack is not None or self.disconnect_reason is not None, "CONNACK")
        if self.connack is None or self.connack.is_failure:
            raise ProbeError("connection refused: CONNACK %s, disconnect %s"
                             % (self.connack, self.disconnect_reason))
        return self

    def publish(self, topic, payload, qos=1, retain=False):
        """Publish and wait until the broker took it. Returns the PUBACK reason code as an int
        (always 0 over MQTT 3.1.1, which has none; 0 for QoS 0 once sent)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        self.wait_for(lambda: info.mid in self._pubacks, "PUBACK for %s" % topic)
        return self._pubacks.pop(info.mid).value

    def subscribe(self, topic_filter, qos=1):
        """Subscribe and return the SUBACK reason codes as ints."""
        result, mid = self.client.subscribe(topic_filter, qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ProbeError("subscribe %s not sent: %s" % (topic_filter, mqtt.error_string(result)))
        self.wait_for(lambda: mid in self._subacks, "SUBACK for %s" % topic_filter)
        return [code.value for code in self._subacks.pop(mid)]

    def expect(self, topic, timeout_s=None):
        """Wait for a message on ``topic``; returns it (and leaves it in ``messages``)."""
        found = []

        def seen():
            found[:] = [m for m in self.messages if m.topic == topic]
            return bool(found)

        self.wait_for(seen, "message on %s" % topic, timeout_s)
        return found[0]

    def received(self, topic=None):
        with self._cond:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def drop(self):
        """Cut the TCP connection without DISCONNECT, as a crashed device would; the broker
        then publishes the will."""
        sock = self.client.socket()
        if sock is not None:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        self.wait_for(lambda: self.disconnect_reason is not None, "disconnect after drop")

    def close(self):
        if self._started:
            if self.disconnect_reason is None:
                self.client.disconnect()
            self.client.loop_stop()
            self._started = False
