"""Waiting until a broker written by ``write_broker_config`` answers TLS."""

import socket
import ssl
import time


def wait_for_tls(host, port, ca, cert, key, timeout_s=10.0, alive=None, poll_s=0.01):
    """Return True once a TLS handshake with a client certificate succeeds.

    A completed handshake is what a device needs, so it is a better readiness
    test than an open port. Mosquitto writes no "ready" line we could wait for.

    Args:
        host, port: the listener.
        ca, cert, key: the hall CA and a client's certificate and key (paths).
        timeout_s: give up after this long.
        alive: optional callable; when it returns False (the broker process
            exited) waiting stops at once.

    Returns:
        True when ready, False on timeout or when ``alive`` said the broker died.
    """
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=1.0) as raw:
                with context.wrap_socket(raw, server_hostname=host):
                    return True
        except (OSError, ssl.SSLError):
            time.sleep(poll_s)
    return False
