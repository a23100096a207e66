"""The paho-mqtt adapter: one MQTT 5 connection over TLS, fed and polled by the publisher's loop.

Thin by design: it makes the client, connects, publishes, subscribes, and turns
paho's callbacks into a list of plain events (``poll``) and paho's return codes
into our errors. It never reconnects by itself (``reconnect_on_failure`` off),
never runs a thread of its own (the caller's loop calls ``poll``), and is used
for one connection only: a new session gets a new ``MqttLink``, so message ids
and paho's own queue never leak from a dead connection into a live one.

paho-mqtt is imported here and nowhere else in ``edge`` (STYLE.md).
"""

import ssl
from collections import namedtuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .._errors import ClientError, ConnectFailed

# What ``poll`` returns. Codes are ints (MQTT 5.0 §2.4 reason codes).
ConnAck = namedtuple("ConnAck", "code reason")
PubAck = namedtuple("PubAck", "mid code reason")
SubAck = namedtuple("SubAck", "mid codes")
Message = namedtuple("Message", "topic payload")
Closed = namedtuple("Closed", "code reason")


def default_client_factory(client_id):
    """A paho 2.x client speaking MQTT 5, with reconnection left to the publisher."""
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                       reconnect_on_failure=False)


class MqttLink:
    """One MQTT connection.

    Args:
        host, port: the broker.
        tls: (ca, cert, key) file paths: the hall's CA and the device's client
            certificate and key (the broker takes the certificate's common name
            as user name and client id).
        client_id: sent in CONNECT (the broker replaces it with the CN anyway).
        will: (topic, payload) of the retained QoS 1 last will.
        keepalive_s: MQTT keep-alive; a dead peer is noticed within 1.5 times this.
        max_inflight: paho's own in-flight limit (set above the publisher's, so
            paho never holds back what the publisher decided to send).
        client_factory: ``(client_id) -> paho Client`` (default ``default_client_factory``).
    """

    def __init__(self, host, port, tls, client_id, will, keepalive_s=30, max_inflight=100, client_factory=None):
        self.host = host
        self.port = port
        self.keepalive_s = keepalive_s
        self.events = []
        self.closed = False
        client = (client_factory or default_client_factory)(client_id)
        ca, cert, key = tls
        try:
            client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise ConnectFailed("cannot load TLS files ca=%s cert=%s key=%s: %s" % (ca, cert, key, exc),
                                host, port) from exc
        client.will_set(will[0], will[1], qos=1, retain=True)
        client.max_inflight_messages_set(max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client

    # paho callbacks: they run inside ``poll`` (paho's loop), on the caller's thread.
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.events.append(ConnAck(reason_code.value, str(reason_code)))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.closed = True
        self.events.append(Closed(reason_code.value, str(reason_code)))

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self.events.append(PubAck(mid, reason_code.value, str(reason_code)))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.events.append(SubAck(mid, [code.value for code in reason_codes]))

    def _on_message(self, client, userdata, message):
        self.events.append(Message(message.topic, bytes(message.payload)))

    def _where(self):
        return "broker %s:%d" % (self.host, self.port)

    def connect(self):
        """Open TCP and TLS and send CONNECT (clean start). The CONNACK comes later from ``poll``.

        Raises:
            ConnectFailed: the TCP connection or the TLS handshake failed.
        """
        try:
            rc = self.client.connect(self.host, self.port, keepalive=self.keepalive_s, clean_start=True)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.closed = True
            raise ConnectFailed("cannot connect to %s: %s" % (self._where(), exc), self.host, self.port) from exc
        self._check(rc, "connect")

    def _check(self, rc, call):
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise ClientError("%s to %s failed: %s (%s)" % (call, self._where(), mqtt.error_string(rc), rc.name),
                              call, rc.name, self.host, self.port)

    def publish(self, topic, payload, retain=False):
        """Send a QoS 1 PUBLISH; returns its message id (the PUBACK comes from ``poll``).

        Raises:
            ClientError: the client refused (not connected, queue full).
        """
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        self._check(info.rc, "publish to %s" % topic)
        return info.mid

    def subscribe(self, topic_filters):
        """Subscribe to each filter at QoS 1 in one SUBSCRIBE; returns its message id."""
        rc, mid = self.client.subscribe([(f, 1) for f in topic_filters])
        self._check(rc, "subscribe to %s" % ", ".join(topic_filters))
        return mid

    def poll(self, timeout_s):
        """Run the client's network I/O for up to ``timeout_s``; return the events since the last poll.

        A lost connection shows as a ``Closed`` event (never an exception).
        """
        if not self.closed:
            rc = self.client.loop(timeout_s)
            if rc != mqtt.MQTT_ERR_SUCCESS and not self.closed:
                self.closed = True
                self.events.append(Closed(-1, "%s (%s)" % (mqtt.error_string(rc), rc.name)))
        events, self.events = self.events, []
        return events

    def disconnect(self):
        """Send DISCONNECT (normal: the broker drops the will) and close the socket."""
        if not self.closed:
            self.client.disconnect()
            self.client.loop(0.01)
            self.closed = True

    def abort(self):
        """Close the socket without DISCONNECT (the broker then publishes the will)."""
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:   # already closed by the peer: there is nothing left to close
                pass
        self.closed = True
