"""Device to hall and back, end to end, against raw paho-mqtt QoS 1 through the same broker.

Every real part runs as its own process, as in tests/hall/test_pipeline.py:
the real Mosquitto with the configuration ``hall.write_broker_config``
generates (TLS, client certificates, ACL), K device processes (each an
enrolled identity, an ``Outbox`` on a real SQLite file and a ``Publisher``;
this module with ``--device``) and H ``hall serve`` processes on one SQLite
database (with H > 1 they share the subscription, ``--shared-group``).

Figures:

* end to end: records per second from the first ``append_many`` to the moment
  every device's outbox is empty, that is, every record signed, committed on
  the device, published at QoS 1, verified and committed at the hall, and
  acked back with a signed ack;
* reference, measured in the same run through the same broker: raw paho-mqtt
  QoS 1 messages of the same size from one client (the same in-flight window)
  to one subscriber, counted as received per second end to end. It carries no
  signing, no verifying and no disk, so it is a ceiling; the ratio says how
  much of it the pipeline keeps;
* ``encode_record`` and ``verify_record`` per second on one core (what one
  device and one hall process can do at most);
* per process: CPU used during the run (a process near 100 % of one core is
  the bottleneck) and peak RSS (VmHWM), read before the process exits; and
  the CPU all of them spent per record, which bounds the rate the machine can
  reach however the work is spread.

With ``--halls 2`` the hall servers share one subscription, so the broker
deals each device's records out to both in turn; each sees gaps in every
chain, holds the records and asks for resends (see docs/performance.md).
``--profile-hall PATH`` runs the first hall server under cProfile.

Aim: at least 5,000 records/s end to end and at least 0.4 of the raw QoS 1
reference. The whole run takes well under two minutes with the defaults.

    .venv/bin/python -m bench pipeline
    .venv/bin/python bench/pipeline.py --records 40000 --devices 4 --halls 2
"""

import argparse
import os
import pwd
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):   # run as bench/pipeline.py: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
HALL = "bench"
HOST = "127.0.0.1"
KIND = "concentrator"
REF_DEVICE = "ref-device"
REF_SUBSCRIBER = "ref-hall"
PAYLOAD_BYTES = 312
AIM_RATE = 5000
AIM_RATIO = 0.4
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_TICKS = os.sysconf("SC_CLK_TCK")


def reading(i):
    return {"meter": "%012d" % (202311150000 + i % 200), "di": "00010000", "name": "forward_active_total",
            "value": round(1000 + i * 0.01, 2), "unit": "kWh", "std": "2007", "cycle": "2026-11-23T10:00",
            "read_t": 1795400000000 + i}


# ---------------------------------------------------------------- processes


def proc_status(pid, field="VmHWM"):
    """A ``/proc/PID/status`` field in kB (None when the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User plus system CPU seconds of a process so far (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Child:
    """A subprocess in its own process group; its output lines go to a queue, read on a thread."""

    def __init__(self, name, args, stdin=False, stream="stderr"):
        self.name = name
        self.lines = []
        self.queue = queue.Queue()
        out = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT} if stream == "stdout" else \
            {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
        self.process = subprocess.Popen(args, cwd=str(REPO), stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                        start_new_session=True, **out)
        pipe = self.process.stdout if stream == "stdout" else self.process.stderr
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    @property
    def pid(self):
        return self.process.pid

    def _read(self, pipe):
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip()
            self.lines.append(line)
            self.queue.put(line)
        self.queue.put(None)

    def expect(self, prefix, timeout_s):
        """The next output line starting with ``prefix``; RuntimeError on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.queue.get(timeout=max(left, 0.001))
            except queue.Empty:
                line = ""
                if left <= 0:
                    raise RuntimeError("%s: no %r within %.0f s; output:\n%s"
                                       % (self.name, prefix, timeout_s, "\n".join(self.lines[-20:])))
            if line is None:
                raise RuntimeError("%s exited (%s) before %r; output:\n%s"
                                   % (self.name, self.process.poll(), prefix, "\n".join(self.lines[-20:])))
            if line.startswith(prefix):
                return line

    def send(self, line):
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def terminate(self, timeout_s=10.0):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.process.returncode

    def kill(self):
        """SIGKILL the whole process group, whatever is left of it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def mosquitto_binary():
    path = os.pathsep.join([os.environ.get("PATH", "")] + list(_SBIN))
    found = shutil.which("mosquitto", path=path)
    if not found:
        raise SystemExit("Error: the mosquitto binary is not installed (scripts/ensure-system-packages)")
    return found


def start_broker(config, timeout_s=10.0):
    from hall._broker import wait_for_tls
    broker = Child("mosquitto", [mosquitto_binary(), "-c", str(config.conf)], stream="stdout")
    client = config.client(config.hall_servers[0])
    if wait_for_tls(HOST, config.port, config.ca_cert, client.cert, client.key, timeout_s,
                    alive=lambda: broker.process.poll() is None, poll_s=0.02):
        return broker
    broker.kill()
    raise RuntimeError("mosquitto did not start on port %d:\n%s" % (config.port, "\n".join(broker.lines)))


# ---------------------------------------------------------------- reference


def _paho_client(tls, user, window):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    ca, cert, key = tls
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
    client.max_inflight_messages_set(window + 10)
    return client


def _tls(tls_dir, user):
    tls_dir = Path(tls_dir)
    return tls_dir / "ca.crt", tls_dir / "clients" / (user + ".crt"), tls_dir / "clients" / (user + ".key")


def subscriber_main(args):
    """The reference's subscriber, in a process of its own like a hall: print "ready" once
    subscribed, then "done T" (time.monotonic()) when ``--count`` messages have arrived."""
    from protocols.topics import records_subscription

    subscribed = threading.Event()
    done = threading.Event()
    got = [0, None]

    def on_message(_c, _u, _m):
        got[0] += 1
        if got[0] == args.count:
            got[1] = time.monotonic()
            done.set()

    client = _paho_client(_tls(args.tls_dir, REF_SUBSCRIBER), REF_SUBSCRIBER, args.max_inflight)
    client.on_connect = lambda c, *a: c.subscribe(records_subscription(HALL), qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = on_message
    client.connect(HOST, args.port)
    client.loop_start()
    if not subscribed.wait(10):
        print("error: no SUBACK", flush=True)
        return 1
    print("ready", flush=True)
    if done.wait(args.seconds):
        print("done %.6f" % got[1], flush=True)
    else:
        print("error: %d of %d messages received" % (got[0], args.count), flush=True)
    client.disconnect()
    client.loop_stop()
    return 0


def raw_qos1(config, count, window, timeout_s):
    """Raw paho-mqtt QoS 1: ``count`` messages of PAYLOAD_BYTES from one device client, at most
    ``window`` without a PUBACK, to one subscriber in another process; messages received per
    second, from the first publish to the last message received."""
    from protocols.topics import record_topic

    sub = Child("reference subscriber", [
        sys.executable, "-m", "bench.pipeline", "--ref-subscriber", "--port", str(config.port),
        "--tls-dir", str(config.out_dir), "--count", str(count), "--max-inflight", str(window),
        "--seconds", str(timeout_s)], stream="stdout")
    connected = threading.Event()
    room = threading.Semaphore(window)
    pub = _paho_client(_tls(config.out_dir, REF_DEVICE), REF_DEVICE, window)
    pub.on_connect = lambda *a: connected.set()
    pub.on_publish = lambda *a: room.release()
    try:
        sub.expect("ready", 15)
        pub.connect(HOST, config.port)
        pub.loop_start()
        if not connected.wait(10):
            raise RuntimeError("reference publisher did not connect")
        topic = record_topic(HALL, KIND, REF_DEVICE, "reading")
        payload = os.urandom(PAYLOAD_BYTES)
        started = time.monotonic()
        for _ in range(count):
            if not room.acquire(timeout=timeout_s):
                raise RuntimeError("reference: no PUBACK within %.0f s" % timeout_s)
            pub.publish(topic, payload, qos=1)
        line = sub.expect("done", timeout_s)
        return count / (float(line.split()[1]) - started)
    finally:
        pub.disconnect()
        pub.loop_stop()
        sub.kill()


def record_rates():
    """encode_record and verify_record per second on one core (bench.records' workload)."""
    from bench.records import rates, workload
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from protocols.records import GENESIS_PREV, encode_record, record_hash, verify_record

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    keys = {"conc-01": key.public_key()}.get
    bodies = workload()[:1000]
    signed, prev = [], GENESIS_PREV
    for seq, body in enumerate(bodies, 1):
        signed.append((encode_record(key, src="conc-01", epoch=1, seq=seq, prev=prev, t_ms=seq,
                                     tq={"src": "ntp", "err_ms": 20}, kind="reading", body=body), prev))
        prev = record_hash(signed[-1][0])
    links = [(data, None if seq == 1 else prev_hash) for seq, (data, prev_hash) in enumerate(signed, 1)]

    def encode():
        for seq, body in enumerate(bodies, 1):
            encode_record(key, src="conc-01", epoch=1, seq=seq, prev=GENESIS_PREV if seq == 1 else b"\x01" * 32,
                          t_ms=seq, tq={"src": "ntp", "err_ms": 20}, kind="reading", body=body)

    def verify():
        for data, prev_hash in links:
            verify_record(data, keys, prev_hash=prev_hash)

    return rates({"sign": encode, "verify": verify}, len(bodies), rounds=3)


# ---------------------------------------------------------------- device process


def device_main(args):
    """One device: wait for "go" on stdin, append ``--count`` readings in batches, print "done"
    when the outbox is empty (everything acked), wait for "exit"."""
    from edge.identity import load_identity
    from edge.outbox import Outbox
    from edge.publisher import Connected, Publisher

    identity = load_identity(args.device)
    outbox = Outbox(os.path.join(args.device, "outbox.db"), identity)
    connected = threading.Event()
    tls = _tls(args.tls_dir, identity.device_id)
    publisher = Publisher(outbox, identity, HOST, args.port, tls=tls, max_inflight=args.max_inflight,
                          on_event=lambda e: connected.set() if isinstance(e, Connected) else None,
                          backoff_min_s=0.2, backoff_max_s=1.0, ack_timeout_s=5.0)
    publisher.start()
    if not connected.wait(10):
        print("error: no connection: %s" % publisher.figures().last_error, flush=True)
        return 1
    print("ready", flush=True)
    sys.stdin.readline()                       # "go"
    for start in range(0, args.count, args.batch):
        outbox.append_many([("reading", reading(i)) for i in range(start, min(start + args.batch, args.count))])
    print("appended", flush=True)
    while outbox.figures().depth_records:
        time.sleep(0.005)
    print("done", flush=True)
    sys.stdin.readline()                       # "exit"
    f = publisher.figures()
    print("figures reconnects=%d ack_timeouts=%d" % (f.reconnects, f.ack_timeouts), flush=True)
    publisher.stop()
    outbox.close()
    return 0


# ---------------------------------------------------------------- the run


def pipeline(work, config, args, out):
    """Start the halls and devices, run the records through, return the figures."""
    from edge.identity import create_identity, trust_hall
    from hall._keys import load_hall_key
    from hall._store import open_store

    db = work / "hall.db"
    store = open_store(str(db))
    dirs = []
    for d in range(args.devices):
        device_id = "bench-%02d" % (d + 1)
        directory = work / device_id
        identity = create_identity(directory, device_id, KIND, HALL)
        store.enrol(device_id, KIND, identity.public_key_raw, int(time.time() * 1000))
        dirs.append(directory)
    store.close()
    hall_key, _created = load_hall_key(str(db))
    for directory in dirs:
        trust_hall(directory, hall_key.public_key())

    children = []
    halls, devices = [], []
    try:
        for h in range(args.halls):
            extra = ["--shared-group", "bench"] if args.halls > 1 else []
            profile = ["-m", "cProfile", "-o", args.profile_hall] if args.profile_hall and h == 0 else []
            halls.append(Child("hall serve %d" % (h + 1), [
                sys.executable] + profile + ["-m", "hall", "serve", "--db", str(db), "--hall", HALL,
                "--broker", "%s:%d" % (HOST, config.port), "--tls-dir", str(config.out_dir),
                "--user", "hall-%d" % (h + 1), "--stats-s", "0", "--session-expiry-s", "0",
                "--batch", str(args.hall_batch), "--batch-ms", str(args.hall_batch_ms)] + extra))
            children.append(halls[-1])
        for hall in halls:
            hall.expect("hall serve: subscribed to", 15)
        share = args.records // args.devices
        counts = [share + (1 if d < args.records % args.devices else 0) for d in range(args.devices)]
        for directory, count in zip(dirs, counts):
            devices.append(Child("device %s" % directory.name, [
                sys.executable, "-m", "bench.pipeline", "--device", str(directory), "--port", str(config.port),
                "--tls-dir", str(config.out_dir), "--count", str(count), "--batch", str(args.batch),
                "--max-inflight", str(args.max_inflight)], stdin=True, stream="stdout"))
            children.append(devices[-1])
        for device in devices:
            device.expect("ready", 20)
        watched = [("mosquitto", args.broker_pid)] + [(c.name, c.pid) for c in children]
        cpu0 = {name: cpu_seconds(pid) for name, pid in watched}
        started = time.perf_counter()
        for device in devices:
            device.send("go")
        finished = True
        for device in devices:
            left = args.seconds - (time.perf_counter() - started)
            try:
                device.expect("done", max(left, 0.1))
            except RuntimeError as exc:
                out("  %s" % str(exc).splitlines()[0])
                finished = False
        elapsed = time.perf_counter() - started
        cpu = {name: (cpu_seconds(pid) or 0.0) - (cpu0[name] or 0.0) for name, pid in watched}
        rss = {name: proc_status(pid) for name, pid in watched}
        for device in devices:
            device.send("exit")
        for device in devices:
            try:
                device.expect("figures", 10)
            except RuntimeError:
                pass
            device.terminate()
        for hall in halls:
            hall.terminate()
        stats = [next((line for line in reversed(h.lines) if "stopped;" in line), "(no final stats)") for h in halls]
        with open_store(str(db), create=False) as store:
            stored = sum(len(list(store.records(directory.name))) for directory in dirs)
        return {"finished": finished, "elapsed": elapsed, "records": sum(counts), "stored": stored,
                "cpu": cpu, "rss": rss, "hall_stats": stats,
                "device_figures": [next((ln for ln in d.lines if ln.startswith("figures")), "") for d in devices]}
    finally:
        for child in children:
            child.kill()


def run(args, out=print):
    from hall import write_broker_config

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    broker = None
    try:
        devices = [("bench-%02d" % (d + 1), KIND) for d in range(args.devices)] + [(REF_DEVICE, KIND)]
        config = write_broker_config(
            work / "broker", HALL, devices, port=free_port(), bind=HOST,
            hall_servers=["hall-%d" % (h + 1) for h in range(args.halls)] + [REF_SUBSCRIBER],
            run_as=pwd.getpwuid(os.geteuid()).pw_name, max_inflight_messages=args.broker_inflight)
        broker = start_broker(config)
        args.broker_pid = broker.pid
        reference = raw_qos1(config, args.reference, args.max_inflight, args.seconds)
        result = pipeline(work, config, args, out)
        result["reference"] = reference
        result["broker_rss"] = proc_status(broker.pid)
        return result
    finally:
        if broker is not None:
            broker.kill()
        shutil.rmtree(work, ignore_errors=True)


def report(r, rates, args, out=print):
    rate = (r["records"] if r["finished"] else r["stored"]) / r["elapsed"]
    ratio = rate / r["reference"]
    out("Pipeline: %d devices -> Mosquitto (TLS) -> %d hall serve, %d records, %d CPUs, Python %s"
        % (args.devices, args.halls, args.records, os.cpu_count(), sys.version.split()[0]))
    out("  device: append_many of %d, max_inflight %d; hall: --batch %d --batch-ms %d%s; broker "
        "max_inflight_messages %d" % (args.batch, args.max_inflight, args.hall_batch, args.hall_batch_ms,
                                      " --shared-group bench" if args.halls > 1 else "", args.broker_inflight))
    if not r["finished"]:
        out("  NOT FINISHED within %.0f s: %d of %d records stored at the hall (the rate below counts those)"
            % (args.seconds, r["stored"], r["records"]))
    out("  end to end (append -> committed at the hall -> acked): %9s records/s (%.1f s)"
        % ("{:,.0f}".format(rate), r["elapsed"]))
    out("  raw paho QoS 1, %d-byte payloads, same broker:        %9s messages/s"
        % (PAYLOAD_BYTES, "{:,.0f}".format(r["reference"])))
    out("  ratio: %.3f" % ratio)
    out("  one core: encode_record %s /s, verify_record %s /s"
        % ("{:,.0f}".format(rates["sign"]), "{:,.0f}".format(rates["verify"])))
    out("  stored at the hall: %d of %d records" % (r["stored"], r["records"]))
    out("  %-18s %10s %14s" % ("process", "CPU (%)", "peak RSS (MB)"))
    for name in r["cpu"]:
        rss = r["rss"].get(name)
        out("  %-18s %10.0f %14s" % (name, 100 * r["cpu"][name] / r["elapsed"],
                                     "-" if rss is None else "%.1f" % (rss / 1024)))
    total = sum(r["cpu"].values())
    if r["finished"] and total > 0:
        out("  CPU per record, all processes: %.0f us; at that cost %d CPUs carry at most %s records/s"
            % (1e6 * total / r["records"], os.cpu_count(), "{:,.0f}".format(os.cpu_count() * r["records"] / total)))
    for line in r["hall_stats"] + [f for f in r["device_figures"] if f]:
        out("  " + line)
    ok = r["finished"] and rate >= AIM_RATE and ratio >= AIM_RATIO
    out("  aim: >= %s records/s and >= %.1f of raw QoS 1: %s"
        % ("{:,}".format(AIM_RATE), AIM_RATIO, "met" if ok else "NOT met"))
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20000, help="records in all, shared among the devices")
    parser.add_argument("--devices", type=int, default=2, help="device processes")
    parser.add_argument("--halls", type=int, default=1, help="hall serve processes (> 1: a shared subscription)")
    parser.add_argument("--seconds", type=float, default=60.0, help="give up on the end to end run after this long")
    parser.add_argument("--batch", type=int, default=500, help="records per append_many on a device")
    parser.add_argument("--max-inflight", type=int, default=20, help="the publisher's (and reference's) window")
    parser.add_argument("--broker-inflight", type=int, default=20, help="Mosquitto's max_inflight_messages")
    parser.add_argument("--hall-batch", type=int, default=200, help="hall serve --batch")
    parser.add_argument("--hall-batch-ms", type=int, default=20, help="hall serve --batch-ms")
    parser.add_argument("--reference", type=int, default=20000, help="messages of the raw paho reference")
    parser.add_argument("--profile-hall", metavar="PATH", help="run the first hall serve under cProfile, "
                        "writing its statistics to PATH (pstats format)")
    # the device process (started by the run itself)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tls-dir", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ref-subscriber", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.ref_subscriber:
        return subscriber_main(args)
    if args.device:
        return device_main(args)
    rates = record_rates()
    report(run(args), rates, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
