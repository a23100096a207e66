"""A kiosk process working a queue, for the kill -9 test.

Usage: python queue_worker.py IDENTITY_DIR JOURNAL OUTBOX N [PAUSE_S]

Opens the queue store (journal + outbox), then for i in 0..N-1 takes a
ticket under key ``k<i>`` at virtual time 09:00 + i s, printing
"issued k<i> NUMBER" once ``do`` returned; every third ticket, counter w1
then calls, starts and finishes the next ticket ("served NUMBER"). Run
again after a kill it first finishes a ticket the counter still holds (the
kill came between call and finish), then repeats the same requests: keys
already issued return their ticket and no record, and their counter step
is skipped.
Prints "done" at the end.
"""

import datetime
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.identity import load_identity  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from kiosk.queue import CALLED, QueueConfig, QueueStore  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from queue_setup import BASE  # noqa: E402

START = int(datetime.datetime(2024, 6, 3, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")).timestamp() * 1000)
BUSINESSES = ("payment", "change.rename", "other.consult")


def main(identity_dir, journal, outbox_path, n, pause_s=0.0):
    outbox = Outbox(outbox_path, load_identity(identity_dir))
    store = QueueStore(journal, QueueConfig.from_dict(BASE), outbox)
    if store.counter("w1").status != "open":
        store.do("open_counter", START - 1000, counter_id="w1")
    held = store.counter("w1").ticket
    if held is not None:
        last_ms = store.journal()[-1][2]
        if store.ticket(held).status == CALLED:
            store.do("start", last_ms + 100, counter_id="w1")
        store.do("finish", last_ms + 200, counter_id="w1")
        print("served %s" % held, flush=True)
    for i in range(n):
        now = START + i * 1000
        outcome = store.do("issue", now, business=BUSINESSES[i % 3], key="k%d" % i)
        print("issued k%d %s" % (i, outcome.ticket.number), flush=True)
        if outcome.records and i % 3 == 2:
            called = store.do("call_next", now + 100, counter_id="w1")
            if called.ticket is not None:
                store.do("start", now + 200, counter_id="w1")
                store.do("finish", now + 300, counter_id="w1")
                print("served %s" % called.ticket.number, flush=True)
        if pause_s:
            time.sleep(pause_s)
    store.close()
    outbox.close()
    print("done", flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], int(a[3]), float(a[4]) if len(a) > 4 else 0.0)
