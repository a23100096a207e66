"""Child process of the kill -9 test: appends records forever, printing each seq once its append returned.

Usage: python appender.py DATA_DIR DB SEED

Prints "open EPOCH LAST_SEQ" once the outbox is open, then "seq N" for every
record whose append (single or batch) returned, and "ack N" after an ack
returned, each line flushed at once, until it is killed.
"""

import random
import sys

from bodies import health, reading      # beside this file: its directory is sys.path[0]
from edge.identity import load_identity
from edge.outbox import Limits, Outbox


def main(data_dir, db, seed):
    rng = random.Random(seed)
    identity = load_identity(data_dir)
    outbox = Outbox(db, identity, Limits(max_records=5000, billing_reserve=0))
    out = sys.stdout
    out.write("open %d %d\n" % (outbox.epoch, outbox.last_seq))
    out.flush()
    i = 0
    while True:
        r = rng.random()
        core = outbox.core
        if r < 0.05 and core.last_seq - core.acked_seq > 20:
            seq = rng.randint(core.acked_seq + 1, core.last_seq - 10)
            outbox.ack(outbox.epoch, seq)
            out.write("ack %d\n" % seq)
            out.flush()
            continue
        n = rng.randint(2, 50) if r < 0.3 else 1
        items = []
        for _ in range(n):
            i += 1
            items.append(("health", health(i)) if rng.random() < 0.1 else ("reading", reading(i)))
        seqs = outbox.append_many(items)
        out.write("".join("seq %d\n" % s for s in seqs))
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
