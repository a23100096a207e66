"""A process that works through a ledger cycle, for the kill -9 test.

Usage: python ledger_writer.py DB CYCLE N_METERS N_ITEMS [PAUSE_S]

Opens (or re-opens) the cycle, then records every pending item as read,
printing "read METER ITEM" only after ``record_read`` returned, i.e. after the
commit; prints "dup METER ITEM" if the ledger said the item was done already,
and "done" at the end. The value of an item is a function of its meter and
item, so a reader can tell a value that was written twice differently.
"""

import sys
import time

from concentrator._ledger import Ledger


def value_of(meter, item):
    return int(meter[-4:]) * 1000 + int(item[1:]) + 0.25


def main(db, cycle, n_meters, n_items, pause_s=0.0):
    expected = [("2023111500%02d" % m, "i%02d" % i) for m in range(n_meters) for i in range(n_items)]
    with Ledger(db) as ledger:
        ledger.open_cycle(cycle, "daily", 1_717_200_000_000, expected, deadline_ms=None)
        for p in ledger.pending(cycle):
            ok = ledger.record_read(p.cycle_id, p.meter, p.item, value_of(p.meter, p.item), "kWh")
            print("%s %s %s" % ("read" if ok else "dup", p.meter, p.item), flush=True)
            if pause_s:
                time.sleep(pause_s)
    print("done", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1], int(args[2]), int(args[3]), float(args[4]) if len(args) > 4 else 0.0)
