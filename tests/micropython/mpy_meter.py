# MicroPython-compatible: see STYLE.md
"""Simulated meter firmware on the real MicroPython binary.

Builds a 2007 meter with a year of history and a 1997 meter, answers
requests of most function codes through the codec, checks the replies and
prints ``meter checks: N checked, 0 failed`` plus ``meter digest: ...``, a
FNV-1a hash of every reply byte. The same file runs on CPython
(tests/firmware_sim/test_meter_micropython.py compares both outputs line
for line): the load model, clock and registers must agree bit for bit.
Exits 1 on any failure.

Heap: the codec (about 68 KB resident) and the meter firmware (about 55 KB)
do not fit the 128 KB heap of the other scripts; run with
``-X heapsize=256K``, as the firmware entry point itself.
"""

import sys

from firmware_sim.meter import Meter
from firmware_sim.meter import _functions97, _inspect  # noqa: F401  (compile while the heap is unfragmented)
from protocols.dlt645 import (build_change_rate_request, build_demand_reset_request, build_follow_up_request,
                              build_read_address_request, build_read_request, build_time_sync,
                              build_write_request, decode_value, parse_frame)

ADDR = "202311150042"
NOW = 1718424000.0          # 2024-06-15 04:00 UTC = 12:00 Beijing
checks = 0
failed = 0
digest = 0x811C9DC5


def expect(ok, what):
    global checks, failed
    checks += 1
    if not ok:
        failed += 1
        print("FAIL %s" % what)


def ask(meter, request, now=NOW):
    global digest
    s = 0
    while request[s] == 0xFE:
        s += 1
    reply = meter.handle(request[s:], now)
    if reply is None:
        return None
    for b in reply:
        digest = ((digest ^ b) * 0x01000193) & 0xFFFFFFFF
    return parse_frame(reply)


def read(meter, di, std="2007", address=ADDR):
    return ask(meter, build_read_request(address, di, std))


def close(a, b, tol):
    return a is not None and b is not None and abs(a - b) <= tol


def check_2007():
    m = Meter({"address": ADDR, "start_kwh": 1000.0, "history_days": 400, "seed": 645,
               "password": "123456"}, NOW)
    expect(m.errors == 0, "no errors")
    total = read(m, 0x00010000)
    expect(total is not None and total.control == 0x91, "read forward total")
    block = read(m, 0x0001FF00).value
    expect(block[0] == total.value, "block total equals item")
    expect(abs(block[0] - (block[1] + block[2] + block[3] + block[4])) < 0.041, "total = sum of tariffs")
    expect(close(total.value, m.energy(), 0.01), "read equals register")
    expect(len(m.ledger.daily) == 62 and len(m.ledger.settlements) == 12, "62 freezes, 12 settlements")
    expect(read(m, 0x0506003E).value == "2024-04-15T00:00", "oldest daily freeze time")
    expect(read(m, 0x0506003F).error_bits == 0x02, "no 63rd freeze")
    expect(read(m, 0x00010001).value == read(m, 0x0001FF01).value[0], "last settlement")
    expect(read(m, 0x04000101).value == "2024-06-15", "date")
    expect(read(m, 0x04000102).value == "12:00:00", "time")
    expect(ask(m, build_read_address_request()).value == ADDR, "13H read address")
    f = read(m, 0x04ABCDEF)
    expect(f.control == 0xD1 and f.error_bits == 0x02, "unknown DI -> D1/02")
    expect(read(m, 0x00010000, address="AAAAAAAAAA42").address == ADDR, "AA wildcard")
    expect(read(m, 0x00010000, address="202311150043") is None, "other address silent")
    first = read(m, 0x0001FFFF)
    last = ask(m, build_follow_up_request(ADDR, 0x0001FFFF, 1))
    expect(first.control == 0xB1 and last.control == 0x92, "follow-up B1 then 92")
    values = decode_value(0x0001FFFF, first.payload + last.payload)[0]
    expect(len(values) == 65 and values[0:5] == block, "assembled block")
    f = ask(m, build_write_request(ADDR, 0x04000102, "08:30:00", (2, "000000"), "12345678"))
    expect(f.control == 0xD4 and f.error_bits == 0x04, "wrong password bit 2")
    f = ask(m, build_write_request(ADDR, 0x04000102, "08:30:00", (2, "123456"), "12345678"))
    expect(f.control == 0x94, "write time")
    expect(read(m, 0x04000102).value == "08:30:00", "time written")
    expect(ask(m, build_time_sync("2024-06-15T12:00:00")) is None, "broadcast silent")
    expect(read(m, 0x03300400).value == 2, "time setting count")
    f = ask(m, build_change_rate_request(ADDR, 9600))
    expect(f.value == 9600 and m.baud == 9600, "17H rate")
    expect(ask(m, build_demand_reset_request(ADDR, (2, "123456"))).control == 0x99, "19H demand reset")
    later = NOW + 3600.0
    f = ask(m, build_read_request(ADDR, 0x00010000), later)
    expect(f.value > total.value, "energy advances")
    for di in (0x0201FF00, 0x0202FF00, 0x0203FF00, 0x0206FF00, 0x02800002, 0x05060101, 0x05060901,
               0x0101FF01, 0x0001FF0C, 0x04000501, 0x04000503):
        f = ask(m, build_read_request(ADDR, di), later)
        expect(f is not None and f.control == 0x91, "read %08X" % di)
    expect(m.errors == 0, "no errors after requests")


def check_1997():
    m = Meter({"address": "000012345678", "std": "1997", "start_kwh": 2463.48, "history_days": 0}, NOW)
    f = read(m, 0x9010, "1997", "000012345678")
    expect(f.control == 0x81 and f.value == 2463.48, "1997 9010")
    expect(read(m, 0x00010000, "2007", "000012345678") is None, "1997 meter ignores 11H")
    f = read(m, 0xC123, "1997", "000012345678")
    expect(f.control == 0xC1 and f.error_bits == 0x02, "1997 unknown DI -> C1/02")
    expect(read(m, 0xC011, "1997", "000012345678").value == "12:00:00", "1997 time")


check_1997()
check_2007()
print("meter checks: %d checked, %d failed" % (checks, failed))
print("meter digest: %08x" % digest)
if failed:
    sys.exit(1)
