"""The text of ``mosquitto.conf`` and of the ACL file, from a hall's plan. Pure functions.

What Mosquitto 2.0.11 does with them (tests/hall/test_broker_acl.py checks each):

* With an ``acl_file``, a client may do only what its ``user`` block grants.
* A PUBLISH to a topic the user may not write is dropped. Over MQTT 5 the
  PUBACK of a QoS 1 publish says "Not authorized" (0x87); over MQTT 3.1.1 it
  looks like any other PUBACK.
* A SUBSCRIBE is granted whatever its filter; read access is checked when a
  message is delivered, against the message's own topic. A device subscribed
  to another device's ack topic is told "granted" and receives nothing. For
  the same reason a ``$share/GROUP/FILTER`` subscription needs no ACL line of
  its own.
* User names are certificate common names (``use_identity_as_username``).
  ``pattern`` lines would apply to every user, so each device gets its own
  block instead: a kiosk must not be able to write under ``concentrator/``.
* ``use_username_as_clientid`` replaces the client id by the user name, so one
  device cannot knock another off the broker by reusing its client id, nor take
  over its session. Each hall server instance therefore needs its own
  certificate (two connections of one user replace each other).
"""

from protocols.topics import (CONTROL_CHANNELS, ack_topic, command_topic,
                              device_records_filter, records_subscription, resend_topic, status_topic)


def device_grants(hall, device, device_kind):
    """(access, topic filter) pairs a device is granted: write its records and its status,
    read its ack, resend and command topics."""
    return [
        ("write", device_records_filter(hall, device_kind, device)),
        ("write", status_topic(hall, device)),
        ("read", ack_topic(hall, device)),
        ("read", resend_topic(hall, device)),
        ("read", command_topic(hall, device)),
    ]


def hall_server_grants(hall):
    """(access, topic filter) pairs of a hall server instance: read every record topic
    (``hall/{hall}/+/+/+`` has five levels, so it matches records only) and every status
    topic, write every device's ack, resend and command topics."""
    device = "+"  # the builders refuse wildcards, so the per-device filters are spelled here
    grants = [("read", records_subscription(hall)), ("read", "hall/%s/status/%s" % (hall, device))]
    grants += [("write", "hall/%s/%s/%s" % (hall, what, device)) for what in CONTROL_CHANNELS]
    return grants


def render_acl(hall, devices, hall_servers):
    """The ACL file. ``devices`` maps id -> kind; ``hall_servers`` is a list of user names."""
    lines = [
        "# Mosquitto ACL for hall %s, written by `hall broker-config`; the next run rewrites it." % hall,
        "# Users are certificate common names. Anything not granted here is denied.",
        "",
    ]
    for user in hall_servers:
        lines.append("# hall server instance")
        lines.append("user %s" % user)
        lines += ["topic %s %s" % grant for grant in hall_server_grants(hall)]
        lines.append("")
    for device in sorted(devices):
        lines.append("# %s %s" % (devices[device], device))
        lines.append("user %s" % device)
        lines += ["topic %s %s" % grant for grant in device_grants(hall, device, devices[device])]
        lines.append("")
    return "\n".join(lines)


def render_conf(plan, paths):
    """``mosquitto.conf``. ``plan`` holds the settings, ``paths`` the absolute file names the
    broker will read (as seen on the broker host)."""
    bind = " %s" % plan["bind"] if plan.get("bind") else ""
    user = ["user %s" % plan["run_as"]] if plan.get("run_as") else []
    lines = [
        "# Mosquitto 2.x configuration for hall %s, written by `hall broker-config`." % plan["hall"],
        "# The next run rewrites it; change the settings through that command.",
        "",
        "per_listener_settings false",
        "allow_anonymous false",
        "acl_file %s" % paths["acl"],
        *user,
        "",
        "# QoS 1 state (sessions, queued and in-flight messages, retained status) survives",
        "# a restart. It is written every autosave_interval seconds and on a clean stop, so a",
        "# broker killed hard loses up to that much: devices re-send anything the hall has",
        "# not acknowledged, so nothing is lost, only sent twice.",
        "persistence true",
        "persistence_location %s/" % paths["data"].rstrip("/"),
        "persistence_file mosquitto.db",
        "autosave_interval %d" % plan["autosave_interval_s"],
        "# Sessions of devices gone for good are dropped after this long.",
        "persistent_client_expiration %s" % plan["session_expiry"],
        "# Messages kept per offline or slow client (a hall server that is down); beyond",
        "# this the broker drops, and the hall asks the devices to re-send the gap.",
        "max_queued_messages %d" % plan["max_queued_messages"],
        "max_inflight_messages %d" % plan["max_inflight_messages"],
        "# A record is a few hundred bytes; a bigger packet is a fault or an attack.",
        "max_packet_size %d" % plan["max_packet_bytes"],
        "",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "",
        "listener %d%s" % (plan["port"], bind),
        "protocol mqtt",
        "cafile %s" % paths["ca"],
        "certfile %s" % paths["server_cert"],
        "keyfile %s" % paths["server_key"],
        "crlfile %s" % paths["crl"],
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_identity_as_username true",
        "use_username_as_clientid true",
        "",
    ]
    return "\n".join(lines)
