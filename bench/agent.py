"""The concentrator agent reading 200 meters on two simulated lines, beside the lines' physical limit.

The real agent (``python -m concentrator run --config FILE``, a subprocess)
reads one realtime cycle of two RS-485 lines of 100 DL/T 645-2007 meters each,
its two ``LineRunner`` threads in parallel. Each line is a ``firmware_sim``
``BusServer`` (in this process, one thread each) that clocks every byte at
the line's rate, 11 bits a character (8E1). The archive is imported into the
agent's database, the agent has an enrolled identity, and a real Mosquitto
(TLS, the hall's generated configuration) takes its records; no ``hall
serve`` runs, so the signed records stay in the agent's outbox, where this
benchmark counts them.

Items per meter: forward_active_total, voltage_a, current_a (00010000,
02010100, 02020100): the energy for billing and the two values that show a
dead phase or an overload, three reads of 20-byte requests and 22 to 24-byte
replies. Every meter replies after Td = 20 ms, and the agent rests the
DL/T 645 §16 pacing (20 ms) after every reply. The physical time of a line's
cycle is

    sum over its reads of (request bytes + reply bytes) x 11 / baud + Td + pacing

(less the pacing after the last reply) with the bytes counted by the
simulator as they crossed the wire (preambles included), beside what the
codec's frame sizes predict. The lines run in parallel, so the cycle's limit is the slower
line's sum; ``ratio = limit / achieved`` (aim: at least 0.9), the cycle taken
from the ledger: from the cycle's start to its close when the last item was
noted.

Also measured: the agent's start-up (from ``Popen`` to its "agent ...: N
meters on M lines" line; aim at most 2 s) and its resident memory, the peak
(VmHWM) and after the cycle (VmRSS; aim at most 60 MB).

Checks, so that the figures are of real work: the ledger must hold every
(meter, item) of the cycle as read, and the outbox exactly one verified,
signed ``reading`` record for each, with the cycle's id.

    .venv/bin/python -m bench agent                    # 2 x 100 meters at 2400 and 9600 bit/s
    .venv/bin/python bench/agent.py --quick            # 2 x 25 meters
    .venv/bin/python bench/agent.py --meters 50 --baud 9600 --td-ms 50
"""

import argparse
import datetime
import os
import pwd
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):   # run as bench/agent.py: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import HOST, Child, cpu_seconds, free_port, proc_status, start_broker  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HALL = "bench"
LINES = ("line1", "line2")
ITEMS = ("forward_active_total", "voltage_a", "current_a")
PACING_S = 0.02             # the agent's default (concentrator DEFAULT_PACING_S), DL/T 645 §16
AIM_RATIO = 0.9
AIM_RSS_MB = 60
AIM_START_S = 2.0
PROGRESS_S = 10.0
STANDARD_BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)    # what the archive takes
CSV_HEAD = "address,unit,protocol,line,port,baud,parity,area,role,customer,phases,ct_ratio,pt_ratio,name,location\n"


def say(text):
    print(text, flush=True)


def address_of(line_no, i):
    """The 12-digit address of meter ``i`` of line ``line_no`` (both from 1)."""
    return "2024%02d%06d" % (line_no, i)


def bus_meters(line_no, count, td_ms):
    """Simulator meters for one line: a three-phase supply meter, then single-phase customers."""
    return [{"address": address_of(line_no, i), "std": "2007", "reply_delay_ms": td_ms, "preamble": 4,
             "phases": 3 if i == 1 else 1, "history_days": 1}      # history: start-up cost is not measured
            for i in range(1, count + 1)]


def archive_csv(path, urls, count, baud):
    """Write the archive of both lines: one area per line, its first meter the supply meter."""
    rows = []
    for line_no, (name, url) in enumerate(zip(LINES, urls), 1):
        for i in range(1, count + 1):
            supply = i == 1
            rows.append("%s,,2007,%s,%s,%d,E,TQ%04d,%s,%s,%d,1,1,,\n" % (
                address_of(line_no, i), name, url, baud, line_no, "supply" if supply else "customer",
                "" if supply else "3201%02d%06d" % (line_no, i), 3 if supply else 1))
    path.write_text(CSV_HEAD + "".join(rows), encoding="utf-8")


def fresh_slot_timezone(now_utc=None):
    """An ``Etc/GMT`` zone in which it is now between 00:00 and 01:00.

    The agent's realtime slots are aligned to local midnight and close at the
    slot's end; with one slot a day (``interval_min = 1440``) in this zone the
    cycle opened at start has at least 23 hours before its deadline, so the
    benchmark's cycle can never be cut short by the wall clock.
    """
    hour = (now_utc or datetime.datetime.now(datetime.timezone.utc)).hour
    offset = -hour if hour <= 12 else 24 - hour         # local = UTC + offset, within -12..+12
    # Etc/GMT names carry the sign the other way round: UTC+5 is Etc/GMT-5.
    return "Etc/GMT" if offset == 0 else "Etc/GMT%+d" % -offset


def enrol(root, hall_db, broker_config, device):
    """Make the device's identity, enrol it in the hall database, trust the hall key, write device.toml.

    Returns:
        (config path, the identity).
    """
    from edge.identity import create_identity, trust_hall
    from hall._keys import load_hall_key
    from hall._store import open_store

    data = root / "data"
    identity = create_identity(data, device, "concentrator", HALL)
    with open_store(str(hall_db)) as store:
        store.enrol(device, "concentrator", identity.public_key_raw, int(time.time() * 1000))
    hall_key, _created = load_hall_key(str(hall_db))
    trust_hall(data, hall_key.public_key())
    client = broker_config.client(device)
    config = root / "device.toml"
    config.write_text(
        '[device]\ndata_dir = "%s"\nkind = "concentrator"\n\n'
        '[hall]\nbroker = "%s:%d"\nca = "%s"\ncert = "%s"\nkey = "%s"\n'
        % (data, HOST, broker_config.port, broker_config.ca_cert, client.cert, client.key), encoding="utf-8")
    return config, identity


def agent_tables(timezone, poll_s):
    """The [agent] and [cycles] tables: one realtime cycle a day of ITEMS, nothing daily or monthly."""
    items = ", ".join('"%s"' % i for i in ITEMS)
    return ('\n[agent]\ndb = "agent.db"\npoll_s = %s\n\n'
            '[cycles]\ntimezone = "%s"\n\n'
            '[cycles.realtime]\ninterval_min = 1440\nitems_2007 = [%s]\n\n'
            '[cycles.daily]\nenabled = false\n\n[cycles.monthly]\nenabled = false\n' % (poll_s, timezone, items))


# ---------------------------------------------------------------- what the agent left behind


def ledger_figures(db_path, cycle_id=None):
    """(cycle row or None, {state: count}, {line: last read_ms}) from the agent's ledger, read-only."""
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=5)
    try:
        if cycle_id is None:
            row = conn.execute("SELECT cycle_id FROM ledger_cycles ORDER BY started_ms DESC LIMIT 1").fetchone()
            if row is None:
                return None, {}, {}
            cycle_id = row[0]
        cycle = conn.execute("SELECT cycle_id, started_ms, closed_ms, close_reason FROM ledger_cycles "
                             "WHERE cycle_id = ?", (cycle_id,)).fetchone()
        states = dict(conn.execute("SELECT state, count(*) FROM ledger_items WHERE cycle_id = ? GROUP BY state",
                                   (cycle_id,)).fetchall())
        last = {}
        for meter, read_ms in conn.execute("SELECT meter, read_ms FROM ledger_items WHERE cycle_id = ? AND "
                                           "state = 'read'", (cycle_id,)):
            line = meter.split("/")[0]
            last[line] = max(last.get(line, 0), read_ms)
        return cycle, states, last
    except sqlite3.OperationalError:        # the agent has not created the tables yet
        return None, {}, {}
    finally:
        conn.close()


def outbox_readings(outbox_path, identity):
    """Verify every record in the outbox (signature and chain); return the reading bodies and other kinds.

    Raises:
        RecordError: a record does not verify.
    """
    from protocols.records import verify_record

    conn = sqlite3.connect("file:%s?mode=ro" % outbox_path, uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT data FROM records ORDER BY seq").fetchall()
    finally:
        conn.close()
    keys = {identity.device_id: identity.public_key}.get
    readings, others, prev = [], {}, None
    for (data,) in rows:
        record = verify_record(bytes(data), keys, prev_hash=prev)
        prev = record.hash
        if record.kind == "reading":
            readings.append(record.body)
        else:
            others[record.kind] = others.get(record.kind, 0) + 1
    return readings, others


def predicted_bytes(count):
    """Wire bytes of one line's cycle from the codec's frame sizes (request and reply, 4 FE each)."""
    from protocols.dlt645 import build_read_reply, build_read_request, parse_di

    total = 0
    for item in ITEMS:
        di = parse_di(item, "2007")
        total += len(build_read_request(address_of(1, 1), di, "2007"))
        total += len(build_read_reply(address_of(1, 1), di, 0.0, "2007", preamble=4))
    return total * count


# ---------------------------------------------------------------- one run


def wait_cycle(agent, db_path, items, timeout_s):
    """Wait for the agent's "cycle X: N/N read" line, printing the ledger's progress; return the line."""
    started = time.monotonic()
    next_report = started + PROGRESS_S
    while True:
        now = time.monotonic()
        if now >= next_report:
            _cycle, states, _last = ledger_figures(db_path)
            say("    %3.0f s: %d of %d items read, %d failed"
                % (now - started, states.get("read", 0), items, states.get("failed", 0)))
            next_report += PROGRESS_S
        try:
            line = agent.expect("cycle ", min(1.0, max(0.01, next_report - time.monotonic())))
        except RuntimeError:
            if agent.process.poll() is not None:
                raise
            if time.monotonic() - started > timeout_s:
                raise RuntimeError("no closed cycle within %.0f s:\n%s" % (timeout_s, "\n".join(agent.lines[-20:])))
            continue
        if " opened" not in line:
            return line


def run_rate(baud, args, work, broker_config, hall_db):
    """One agent run at ``baud``: start the lines, the agent, read one cycle; return the figures."""
    from concentrator.archive import Archive
    from firmware_sim.bus import BusServer

    root = work / ("agent-%d" % baud)
    root.mkdir()
    device = "conc-%d" % baud
    items = len(LINES) * args.meters * len(ITEMS)
    say("  %d bit/s: starting %d simulated lines of %d meters (Td %d ms)..."
        % (baud, len(LINES), args.meters, args.td_ms))
    buses = []
    try:
        for n in range(1, len(LINES) + 1):
            buses.append(BusServer(bus_meters(n, args.meters, args.td_ms), baud=baud, transport="tcp",
                                   seed=645 + n).start())
        csv = root / "archive.csv"
        archive_csv(csv, [b.url for b in buses], args.meters, baud)
        with Archive(str(root / "agent.db"), create=True) as archive:
            archive.import_file(str(csv), mode="replace")
        config, identity = enrol(root, hall_db, broker_config, device)
        zone = fresh_slot_timezone()
        with open(config, "a", encoding="utf-8") as f:
            f.write(agent_tables(zone, args.poll_s))
        t0 = time.monotonic()
        agent = Child("agent", [sys.executable, "-m", "concentrator", "run", "--config", str(config)], stream="stdout")
        try:
            first = agent.expect("agent ", 30)
            start_s = time.monotonic() - t0
            say("    %s (after %.2f s)" % (first, start_s))
            cpu0, sim0, wall0 = cpu_seconds(agent.pid), time.process_time(), time.monotonic()
            opened = agent.expect("cycle ", 30)
            say("    " + opened)
            closed = wait_cycle(agent, str(root / "agent.db"), items, args.timeout)
            wall = time.monotonic() - wall0
            cpu = {"agent": (cpu_seconds(agent.pid) - cpu0) / wall, "simulator": (time.process_time() - sim0) / wall}
            rss_after = proc_status(agent.pid, "VmRSS")
            peak = proc_status(agent.pid, "VmHWM")
            say("    " + closed)
            stats = [b.stats for b in buses]
            agent.process.send_signal(signal.SIGTERM)
            try:
                agent.expect("agent stopped", 15)
            except RuntimeError as exc:
                say("    (agent did not stop cleanly: %s)" % str(exc).splitlines()[0])
        finally:
            agent.terminate()
    finally:
        for bus in buses:
            bus.stop()
    cycle, states, last = ledger_figures(str(root / "agent.db"))
    readings, others = outbox_readings(root / "data" / "outbox.db", identity)
    return {"baud": baud, "start_s": start_s, "cpu": cpu, "rss_after_kb": rss_after, "peak_kb": peak, "stats": stats,
            "cycle": cycle, "states": states, "last": last, "readings": readings, "others": others,
            "zone": zone, "items": items}


# ---------------------------------------------------------------- figures


def check(r, meters):
    """Problems with what the agent left: every (meter, item) read once, in the ledger and the outbox."""
    problems = []
    cycle_id = r["cycle"][0] if r["cycle"] else None
    if r["cycle"] is None or r["cycle"][3] != "complete":
        problems.append("cycle %s not closed complete: %s" % (cycle_id, r["cycle"]))
    if r["states"].get("read", 0) != r["items"]:
        problems.append("ledger: %s, expected %d read" % (r["states"], r["items"]))
    want = {(address_of(n, i), item) for n in range(1, len(LINES) + 1) for i in range(1, meters + 1)
            for item in ITEMS}
    got = [(b["meter"], b["name"]) for b in r["readings"] if b["cycle"] == cycle_id]
    if len(got) != len(set(got)):
        problems.append("outbox: %d duplicate readings" % (len(got) - len(set(got))))
    if set(got) != want:
        problems.append("outbox: %d of %d (meter, item) readings, %d unexpected"
                        % (len(want & set(got)), len(want), len(set(got) - want)))
    return problems


def report(r, args):
    """Print one rate's figures; return the cycle's ratio."""
    baud, td_s = r["baud"], args.td_ms / 1000.0
    started_ms, closed_ms = r["cycle"][1], r["cycle"][2]
    achieved_s = (closed_ms - started_ms) / 1000.0
    limits = []
    say("  %d bit/s, one realtime cycle (%s, zone %s):" % (baud, r["cycle"][0], r["zone"]))
    for name, s in zip(LINES, r["stats"]):
        wire = s["bytes_from_master"] + s["bytes_to_master"]
        # The rest after the last reply is not part of the cycle: one pacing fewer than requests.
        limit = wire * 11 / baud + s["replies_sent"] * td_s + max(s["requests_seen"] - 1, 0) * PACING_S
        limits.append(limit)
        line_s = (r["last"].get(name, closed_ms) - started_ms) / 1000.0
        say("    %s: %d requests, %d replies, %d wire bytes (codec frame sizes: %d), %d collisions; "
            "limit %.1f s, done after %.1f s, ratio %.3f"
            % (name, s["requests_seen"], s["replies_sent"], wire, predicted_bytes(args.meters), s["collisions"],
               limit, line_s, limit / line_s))
    limit = max(limits)
    ratio = limit / achieved_s
    say("    cycle of %d items: %.1f s, physical limit %.1f s (the slower line), ratio %.3f (aim >= %.1f): %s"
        % (r["items"], achieved_s, limit, ratio, AIM_RATIO, "met" if ratio >= AIM_RATIO else "NOT met"))
    say("    agent: start-up %.2f s (aim <= %.0f s), RSS peak %.1f MB, after the cycle %.1f MB (aim <= %d MB)"
        % (r["start_s"], AIM_START_S, r["peak_kb"] / 1024, r["rss_after_kb"] / 1024, AIM_RSS_MB))
    say("    CPU during the cycle: agent %.1f %%, simulated lines and this process %.1f %% of one core"
        % (100 * r["cpu"]["agent"], 100 * r["cpu"]["simulator"]))
    say("    outbox: %d verified reading records%s"
        % (len(r["readings"]), "".join(", %d %s" % (n, k) for k, n in sorted(r["others"].items()))))
    return ratio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100, help="meters per line (two lines)")
    parser.add_argument("--quick", action="store_true", help="25 meters per line")
    parser.add_argument("--baud", type=int, action="append", help="line rate (repeatable; default 2400 and 9600)")
    parser.add_argument("--td-ms", type=int, default=20, help="the meters' reply delay Td (20-500 ms)")
    parser.add_argument("--poll-s", type=float, default=1.0, help="the agent's [agent] poll_s")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a cycle after this long (s)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.meters = 25
    if args.meters < 1 or args.meters > 9999:
        parser.error("--meters: expected 1 to 9999, got %d" % args.meters)
    if not 20 <= args.td_ms <= 500:
        parser.error("--td-ms: expected 20 to 500 (the simulator's range), got %d" % args.td_ms)
    bauds = args.baud or [2400, 9600]
    for baud in bauds:
        if baud not in STANDARD_BAUDS:
            parser.error("--baud: expected one of %s, got %d" % (", ".join(map(str, STANDARD_BAUDS)), baud))
    if len(set(bauds)) != len(bauds):
        parser.error("--baud: each rate once, got %s" % ", ".join(map(str, bauds)))
    if not 0.01 <= args.poll_s <= 60:
        parser.error("--poll-s: expected 0.01 to 60 s (the agent's range), got %s" % args.poll_s)

    from hall import write_broker_config

    say("Agent cycle: 2 lines x %d DL/T 645-2007 meters, items %s, Td %d ms, pacing %d ms; %d CPUs, Python %s"
        % (args.meters, ", ".join(ITEMS), args.td_ms, PACING_S * 1000, os.cpu_count(), sys.version.split()[0]))
    say("  running: the agent (python -m concentrator run), 2 BusServer lines in this process, Mosquitto (TLS);"
        " no hall serve: records stay in the outbox")
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    broker = None
    results = []
    try:
        broker_config = write_broker_config(
            work / "broker", HALL, [("conc-%d" % b, "concentrator") for b in bauds], port=free_port(), bind=HOST,
            hall_servers=["hall-server"], run_as=pwd.getpwuid(os.geteuid()).pw_name)
        broker = start_broker(broker_config)
        hall_db = work / "hall.db"
        for baud in bauds:
            results.append(run_rate(baud, args, work, broker_config, hall_db))
    finally:
        if broker is not None:
            broker.kill()
        shutil.rmtree(work, ignore_errors=True)
    failed = False
    for r in results:
        report(r, args)
        for problem in check(r, args.meters):
            say("    CHECK FAILED: " + problem)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
