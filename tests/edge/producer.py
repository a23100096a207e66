"""A device process for the end-to-end tests: ``DeviceRuntime`` from a config file,
producing readings numbered 1..N at a steady rate, publishing them, and then
staying up until every one is acked.

    python tests/edge/producer.py CONFIG --records N [--rate R] [--batch B]

Killed with SIGKILL and started again, it carries on after the last record its
outbox committed: record ``seq`` always has the body ``reading(seq)``, so the
test can check every stored record's content. Progress lines go to stdout:
``started last_seq=S``, ``appended S``, ``full: ...`` (the outbox is at its
bound; the producer tries again), ``alarm raised|cleared at D records``,
``drained N``.
"""

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge import DeviceRuntime, OutboxFull, load_device_config  # noqa: E402
from edge.outbox import AlarmCleared, AlarmRaised  # noqa: E402


def reading(seq):
    """The body of record ``seq``: deterministic, so a test can check content."""
    return {"meter": "%012d" % (202311150000 + seq % 1000), "di": "00010000", "name": "forward_active_total",
            "value": round(1000 + seq * 0.01, 2), "unit": "kWh", "std": "2007",
            "cycle": "c%d" % (seq // 1000), "read_t": 1795400000000 + seq}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--records", type=int, required=True, help="N: the last seq to produce")
    parser.add_argument("--rate", type=float, default=500.0, help="records per second (0: as fast as possible)")
    parser.add_argument("--batch", type=int, default=25, help="records per append_many")
    parser.add_argument("--kind", default="concentrator")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_event(event):
        if isinstance(event, AlarmCleared):
            print("alarm cleared at %d records" % event.depth_records, flush=True)
        elif isinstance(event, AlarmRaised):
            print("alarm raised at %d records" % event.depth_records, flush=True)

    runtime = DeviceRuntime(load_device_config(args.config), args.kind, on_event=on_event)
    runtime.start()
    seq = runtime.outbox.last_seq
    print("started last_seq=%d epoch=%d" % (seq, runtime.outbox.epoch), flush=True)
    began = time.monotonic()
    made = 0
    try:
        while not stop.is_set() and seq < args.records:
            n = min(args.batch, args.records - seq)
            try:
                got = runtime.outbox.append_many([("reading", reading(s)) for s in range(seq + 1, seq + 1 + n)])
            except OutboxFull as exc:
                print("full: %s" % exc, flush=True)
                stop.wait(0.2)
                continue
            if got != list(range(seq + 1, seq + 1 + n)):
                print("error: appended %r, expected %d..%d" % (got[:3], seq + 1, seq + n), flush=True)
                return 2
            seq += n
            made += n
            print("appended %d" % seq, flush=True)
            if args.rate:
                ahead = made / args.rate - (time.monotonic() - began)
                if ahead > 0:
                    stop.wait(ahead)
        while not stop.is_set():
            f = runtime.outbox.figures()
            if f.depth_records == 0 and f.last_seq >= args.records:
                print("drained %d" % f.last_seq, flush=True)
                break
            stop.wait(0.1)
        stop.wait()
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
