"""The kiosk under load: ticket and call latency with 50 clients, memory, and the wait estimate's error.

``kiosk serve`` runs as a subprocess, as a hall runs it: a generated TOML
file with the sample queue (eight counters, open all day in a timezone where
it is now about noon) and web tables, a real identity, the SQLite queue
journal and the device outbox (``synchronous=FULL``: a commit per ticket).
No hall broker is started: the publisher keeps retrying and the records
wait in the outbox, which is what a kiosk does while the hall is away.

Phases, each ``--seconds`` long, with ``--clients`` HTTP clients on
threads, each with its own keep-alive connection:

1. reference: every client fetches ``/api/openapi.json``, a request that
   touches neither journal nor outbox. Its latency, measured by the same
   server in the same run, is what the ratios below divide by, so the ratio
   says what the journal and outbox cost, whatever the machine;
2. issue: every client takes tickets (``POST /api/tickets``, a new key each);
3. counters: one client per counter, signed in with a staff PIN, calls the
   next ticket and finishes it, again and again, while the other clients go
   on taking tickets.

Then the latency percentiles (p50, p99), throughput, and the kiosk
process's memory from ``/proc`` (VmHWM, the peak, and VmRSS after the load).
Last, the wait estimate's mean absolute error over a simulated hall day
(``kiosk.queue.simulate_day``: 600 customers, the sample's 8 counters)
next to the naive estimate a plain ticket machine shows (tickets ahead x the
configured mean service time), per category.

    .venv/bin/python -m bench kiosk
    .venv/bin/python -m bench.kiosk --clients 50 --seconds 10
    .venv/bin/python -m bench.kiosk --quick
"""

import argparse
import datetime
import itertools
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __name__ == "__main__" and sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a file, bench/ comes first on sys.path and this file would shadow the kiosk package.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from edge.identity import create_identity, trust_hall  # noqa: E402
from kiosk.queue import load_config, simulate_day  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "kiosk" / "samples"
# The sample [web] table's PINs (kiosk/samples/kiosk.toml) and where each staff member may sign in.
STAFF = {"1001": ("1357", ("w1", "w2", "w3")), "1002": ("2468", ("w4", "w5", "w6")),
         "1003": ("3579", ("w7", "vip"))}
PAGE_URL = re.compile(r"touch screen\s+(http://\S+?)/\s*$")


def _timezone_at_noon():
    """An ``Etc/GMT`` zone where it is about noon now, so the queue is open whenever this runs."""
    offset_h = 12 - datetime.datetime.now(datetime.timezone.utc).hour
    return "Etc/GMT" if offset_h == 0 else "Etc/GMT%+d" % -offset_h     # POSIX sign: Etc/GMT-8 is UTC+8


def _tables_of(sample, replace=()):
    text = "\n".join(line for line in sample.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    for old, new in replace:
        if old not in text:
            raise RuntimeError("%s no longer has %r" % (sample.name, old))
        text = text.replace(old, new)
    return text


def _closed_port():
    """A loopback port nobody listens on: the hall broker the publisher will not reach."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work):
    """A kiosk's identity and TOML file under ``work``; returns the file's path."""
    data = work / "data"
    create_identity(str(data), "kiosk-bench", "kiosk", "hall-bench")
    trust_hall(str(data), Ed25519PrivateKey.generate().public_key())
    device = """[device]
data_dir = "%s"
kind = "kiosk"
[hall]
broker = "127.0.0.1:%d"
ca = "tls/ca.crt"
cert = "tls/kiosk.crt"
key = "tls/kiosk.key"
[publisher]
backoff_min_s = 5
backoff_max_s = 60
""" % (data, _closed_port())
    # Open all day, and 5 digits so a long run does not use up A001-A999.
    queue = _tables_of(SAMPLES / "queue.toml", [('timezone = "Asia/Shanghai"', 'timezone = "%s"' % _timezone_at_noon()),
                                                ('opens = "08:30"', 'opens = "00:00"'),
                                                ('closes = "17:30"', 'closes = "23:59"'),
                                                ("digits = 3", "digits = 5")])
    web = _tables_of(SAMPLES / "kiosk.toml", [("port = 8080", "port = 0")])
    path = work / "kiosk.toml"
    path.write_text(device + "\n" + queue + "\n" + web + "\n", encoding="utf-8")
    return path


class KioskProcess:
    """``kiosk serve`` as a subprocess; ``url`` once it serves."""

    def __init__(self, config, timeout_s=30):
        self.process = subprocess.Popen([sys.executable, "-m", "kiosk", "serve", "--config", str(config)],
                                        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        found = threading.Event()
        self.url = None

        def read():
            for line in self.process.stdout:
                self.lines.append(line.rstrip())
                match = PAGE_URL.search(line)
                if match:
                    self.url = match.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout_s):
            self.stop()
            raise RuntimeError("kiosk serve did not start:\n" + "\n".join(self.lines[-20:]))

    def memory_kib(self):
        """(VmRSS, VmHWM) of the kiosk process in KiB, from /proc."""
        fields = {}
        with open("/proc/%d/status" % self.process.pid) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    fields[name] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def percentile(values, p):
    """The ``p``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100.0 * len(ordered))) - 1))]


class Phase:
    """Runs worker functions on threads until a deadline; collects latencies (s) by name."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.latency = {}
        self.errors = {}
        self.lock = threading.Lock()
        self.stop_at = None

    def timed(self, name, send, ok=(200, 201)):
        started = time.perf_counter()
        try:
            response = send()
            status = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        elapsed = time.perf_counter() - started
        with self.lock:
            if status in ok:
                self.latency.setdefault(name, []).append(elapsed)
            else:
                self.errors.setdefault((name, status), 0)
                self.errors[(name, status)] += 1
        return status

    def running(self):
        return time.monotonic() < self.stop_at

    def run(self, workers):
        self.stop_at = time.monotonic() + self.seconds
        threads = [threading.Thread(target=w, daemon=True) for w in workers]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed_s = time.perf_counter() - started
        return self


def _client(url):
    return httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=1))


def reference_worker(phase, url):
    def work():
        with _client(url) as c:
            while phase.running():
                phase.timed("openapi", lambda: c.get("/api/openapi.json"))
    return work


def reference_worker_once(url):
    def work():
        with _client(url) as c:
            c.get("/api/openapi.json")
            c.get("/api/board")
    return work


_keys = itertools.count()


def issue_worker(phase, url, businesses, index):
    def work():
        with _client(url) as c:
            for n in itertools.count():
                if not phase.running():
                    return
                body = {"business": businesses[(index + n) % len(businesses)], "key": "b%d" % next(_keys)}
                phase.timed("issue", lambda: c.post("/api/tickets", json=body))
    return work


def sign_in(url, counter_id, staff, pin):
    """A client signed in at ``counter_id`` with the counter open: (client, headers with the CSRF token)."""
    c = _client(url)
    reply = c.post("/api/login", json={"counter": counter_id, "staff": staff, "pin": pin})
    reply.raise_for_status()
    headers = {"X-CSRF-Token": reply.json()["csrf"]}
    c.post("/api/counters/%s/resume" % counter_id, headers=headers)    # counters start the day closed
    return c, headers


def counter_worker(phase, client, counter_id, headers):
    def work():
        base = "/api/counters/%s/" % counter_id
        c = client
        try:
            while phase.running():
                if phase.timed("call-next", lambda: c.post(base + "call-next", headers=headers)) != 200:
                    time.sleep(0.05)        # nobody waiting for this counter, or refused: try again shortly
                    continue
                phase.timed("start", lambda: c.post(base + "start", headers=headers))
                phase.timed("finish", lambda: c.post(base + "finish", headers=headers))
        finally:
            c.close()
    return work


def load(url, clients, seconds, counters):
    """The three phases against the kiosk at ``url``; returns them by name."""
    businesses = sorted(load_config(str(SAMPLES / "queue.toml")).businesses)
    staff_of = {c: (s, pin) for s, (pin, cs) in STAFF.items() for c in cs}
    # A warm-up: connections, the first journal pages, the thread pool.
    Phase(min(1.0, seconds)).run([reference_worker_once(url) for _ in range(4)])
    reference = Phase(seconds)
    reference.run([reference_worker(reference, url) for _ in range(clients)])
    issue = Phase(seconds)
    issue.run([issue_worker(issue, url, businesses, i) for i in range(clients)])
    mixed = Phase(seconds)
    chosen = counters[:min(len(counters), clients)]
    signed_in = [(c,) + sign_in(url, c, *staff_of[c]) for c in chosen]      # PIN checks are not timed
    mixed.run([counter_worker(mixed, client, c, headers) for c, client, headers in signed_in]
              + [issue_worker(mixed, url, businesses, i) for i in range(clients - len(chosen))])
    return {"reference": reference, "issue": issue, "mixed": mixed}


def estimate_errors(seed=0):
    """{category: {"n", "estimator_s", "naive_s"}} over a simulated hall day of the sample queue."""
    config = load_config(str(SAMPLES / "queue.toml"))
    result = simulate_day(config, seed=seed)
    return result.mae, len(config.counters), sum(m["n"] for m in result.mae.values())


def _ms(seconds):
    return "%8.1f" % (seconds * 1000) if seconds is not None else "%8s" % "-"


def report(phases, clients, memory):
    """Print the latency and throughput table, and the memory line."""
    ref = phases["reference"].latency.get("openapi", [])
    ref50, ref99 = percentile(ref, 50), percentile(ref, 99)
    print("%d clients, %.0f s a phase; latency in ms; ratio = p50 / p50 of the reference"
          % (clients, phases["reference"].seconds))
    print("%-34s %7s %8s %8s %9s %7s" % ("request", "count", "p50", "p99", "per s", "ratio"))
    rows = [("GET /api/openapi.json (reference)", "reference", "openapi"),
            ("POST /api/tickets", "issue", "issue"),
            ("POST /api/tickets, counters busy", "mixed", "issue"),
            ("POST .../call-next", "mixed", "call-next"),
            ("POST .../finish", "mixed", "finish")]
    for label, phase_name, name in rows:
        phase = phases[phase_name]
        values = phase.latency.get(name, [])
        p50 = percentile(values, 50)
        print("%-34s %7d %s %s %9.1f %7s" % (label, len(values), _ms(p50), _ms(percentile(values, 99)),
                                             len(values) / phase.elapsed_s,
                                             "%.1f" % (p50 / ref50) if p50 and ref50 else "-"))
    errors = {k: v for p in phases.values() for k, v in p.errors.items()}
    if errors:
        print("not 2xx (counted apart): " + ", ".join("%s %s: %d" % (n, s, c) for (n, s), c in sorted(
            errors.items(), key=str)))
    print("kiosk process memory: idle %.1f MiB, peak (VmHWM) %.1f MiB, after the load %.1f MiB"
          % (memory["idle"] / 1024.0, memory["peak"] / 1024.0, memory["after"] / 1024.0))
    return ref50, ref99


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients (default 50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load phase (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 s phases, for a smoke run")
    parser.add_argument("--dir", default=None, help="where to put the kiosk's files (default: system temp)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be at least 1 and --seconds above 0")
    seconds = 3.0 if args.quick else args.seconds
    work = Path(tempfile.mkdtemp(prefix="bench-kiosk-", dir=args.dir))
    kiosk = None
    try:
        kiosk = KioskProcess(write_config(work))
        idle, _peak = kiosk.memory_kib()
        counters = list(load_config(str(SAMPLES / "queue.toml")).counters)
        phases = load(kiosk.url, args.clients, seconds, counters)
        after, peak = kiosk.memory_kib()
        report(phases, args.clients, {"idle": idle, "peak": peak, "after": after})
        if any(status == 500 for p in phases.values() for _name, status in p.errors):
            print("the kiosk answered 500; the end of its output:\n  " + "\n  ".join(kiosk.lines[-15:]))
        journal = work / "data" / "queue.db"
        print("journal %.1f MiB, outbox %.1f MiB after the run (SQLite WAL, synchronous=FULL)"
              % (_size_mib(journal), _size_mib(work / "data" / "outbox.db")))
    finally:
        if kiosk is not None:
            kiosk.stop()
        shutil.rmtree(work, ignore_errors=True)
    mae, n_counters, n = estimate_errors()
    print("wait estimate over a simulated hall day (600 customers, %d counters; %d tickets called):"
          % (n_counters, n))
    print("%-10s %6s %14s %12s %7s" % ("category", "called", "estimator MAE", "naive MAE", "ratio"))
    for category, m in mae.items():
        print("%-10s %6d %12.0f s %10.0f s %7.2f" % (category, m["n"], m["estimator_s"], m["naive_s"],
                                                     m["estimator_s"] / m["naive_s"] if m["naive_s"] else 0))


def _size_mib(path):
    total = 0
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total / 1048576.0


if __name__ == "__main__":
    main()
