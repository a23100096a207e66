"""Device processes for the end-to-end tests: an identity enrolled at the hall, a
config file for ``edge.DeviceRuntime``, and ``tests/edge/producer.py`` run as a
subprocess that can be killed with SIGKILL and started again."""

import importlib.util
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge.identity import create_identity, trust_hall
from hall._keys import load_hall_key
from hall._store import open_store

HALL = "h1"
REPO = Path(__file__).resolve().parents[2]
PRODUCER = REPO / "tests" / "edge" / "producer.py"

_spec = importlib.util.spec_from_file_location("producer", PRODUCER)
_producer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_producer)
reading = _producer.reading       # the body of record seq, as the producer makes it


def enrol_device(root, db, broker, device, kind="concentrator", **tables):
    """Make ``device``'s identity under ``root``, enrol it in the hall database ``db``,
    trust the hall key, and write ``root/device.toml``. ``tables`` override config
    tables, e.g. ``publisher={"ack_timeout_s": 2}``. Returns the config path."""
    data = Path(root) / "data"
    identity = create_identity(data, device, kind, broker.hall)
    with open_store(str(db)) as store:
        store.enrol(device, kind, identity.public_key_raw, int(time.time() * 1000))
    hall_key, _created = load_hall_key(str(db))
    trust_hall(data, hall_key.public_key())
    ca, cert, key = broker.tls_files(device)
    doc = {"device": {"data_dir": str(data), "kind": kind},
           "hall": {"broker": "127.0.0.1:%d" % broker.port, "ca": ca, "cert": cert, "key": key},
           "publisher": {"ack_timeout_s": 2, "backoff_min_s": 0.1, "backoff_max_s": 1.0}}
    for name, values in tables.items():
        doc.setdefault(name, {}).update(values)
    lines = []
    for name, values in doc.items():
        lines.append("[%s]" % name)
        for k, v in values.items():
            lines.append("%s = %s" % (k, '"%s"' % v if isinstance(v, str) else repr(v)))
    path = Path(root) / "device.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Producer:
    """``producer.py CONFIG --records N`` as a subprocess; its stdout read on a thread."""

    def __init__(self, config, records, rate=500.0, batch=25):
        self.config = Path(config)
        self.args = [sys.executable, str(PRODUCER), str(config), "--records", str(records),
                     "--rate", str(rate), "--batch", str(batch)]
        self.lines = []
        self.process = None
        self.starts = 0
        self._cond = threading.Condition()
        self.start()

    def start(self):
        self.process = subprocess.Popen(self.args, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.starts += 1
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def _read(self, process):
        for line in process.stdout:
            with self._cond:
                self.lines.append(line.decode("utf-8", "replace").rstrip())
                self._cond.notify_all()

    def wait_line(self, text, timeout_s=30.0):
        with self._cond:
            ok = self._cond.wait_for(lambda: any(text in line for line in self.lines), timeout_s)
        assert ok, "no %r from the producer: %s" % (text, self.lines[-20:])

    @property
    def running(self):
        return self.process.poll() is None

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.running:
            self.process.terminate()
        return self.process.wait(15)

    def outbox_count(self):
        """Records left in the device's outbox (read with the process stopped or running)."""
        path = self.config.parent / "data" / "outbox.db"
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        finally:
            db.close()
