"""A hall that stalls behind a broker whose queue overflows (ARCHITECTURE "Hall
server": detects gaps and asks for a resend).

The hall server is stopped with SIGSTOP while a device keeps publishing: its
MQTT connection stays up, so Mosquitto fills the hall's in-flight window, then
its queue of ``max_queued_messages``, and then drops what does not fit, as a
real broker does for a slow subscriber. When the hall goes on (SIGCONT), the
records published after the drop reveal the hole; the hall asks the device to
re-send it, and every record arrives. The hall must ask at least once. A tail
dropped after the last record that arrives reveals no gap; the device's ack
timeout (15 s here) re-sends it. On a loaded machine the broker's queue can
stay full to the end of the run, so both ways are needed, as in a real hall."""

import json
import signal
import time

from brokers import Mosquitto
from devices import HALL, Producer, enrol_device, reading
from hall._store import open_store
from test_serve import HallServe

DEVICE = "conc-01"


def test_dropped_by_an_overflowing_broker_queue_are_requested_and_stored(tmp_path):
    broker = Mosquitto(tmp_path / "broker", HALL, [(DEVICE, "concentrator")], hall_servers=["hall-server"],
                       max_queued_messages=50)
    broker.start()
    db = tmp_path / "hall.db"
    config = enrol_device(tmp_path / DEVICE, db, broker, DEVICE, publisher={"ack_timeout_s": 15})
    records = 3000
    hall = HallServe(broker, db, "--session-expiry-s", "3600", "--batch", "50")
    producer = Producer(config, records, rate=300.0)
    try:
        producer.wait_line("appended 300")
        hall.process.send_signal(signal.SIGSTOP)       # the hall stalls; its session stays
        time.sleep(4.0)
        hall.process.send_signal(signal.SIGCONT)
        producer.wait_line("drained %d" % records, timeout_s=150)
    finally:
        hall.process.send_signal(signal.SIGCONT)
        producer.stop()
        assert hall.stop() == 0
        broker.close()
    assert "Outgoing messages are being dropped for client hall-server" in broker.log()
    stats = [line for line in hall.lines if "stopped;" in line][-1]
    resends = int(stats.split("resends ")[1].split()[0])
    assert resends >= 1, stats
    with open_store(str(db), create=False) as store:
        rows = store.records(DEVICE)
        assert store.quarantine() == []
    assert [seq for _s, _e, seq, *_ in rows] == list(range(1, records + 1))
    assert all(json.loads(body) == reading(seq) for _s, _e, seq, _k, body, _r in rows)
    assert producer.outbox_count() == 0
