"""bench_worker.py: driven by bench_worker.sh (read it first).

Preloads N requests into a fresh topology and database, lets W workers at
prefetch P drain them, and does the same for the floor program
(qf_bench_floor); prints both and the ratios. CPU comes from /proc
(utime + stime of the worker processes, of every postgres and beam.smp
process), commits from pg_stat_database.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pika

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total * 1000.0 / TICK


def pids_named(name):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == name:
                        out.append(int(d))
            except OSError:
                pass
    return out


def peak_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def psql(url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", url, "-c", sql],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def db_url(admin, name):
    u = urllib.parse.urlsplit(admin)
    return urllib.parse.urlunsplit(u._replace(path="/" + name))


def commits(admin, name):
    return int(psql(admin, "SELECT xact_commit FROM pg_stat_database WHERE "
                    f"datname = '{name}'") or 0)


class Broker:
    def __init__(self, url):
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    def count(self, queue):
        return self.ch.queue_declare(queue, passive=True).method.message_count

    def preload(self, exchange, key, bodies, prefix):
        props = lambda i: pika.BasicProperties(
            delivery_mode=2, content_type="application/json",
            message_id=f"{prefix}-{i}", correlation_id=f"{prefix}-{i}")
        for i, b in enumerate(bodies):
            self.ch.basic_publish(exchange, key, b, props(i))


def pytest_bodies(n):
    return [json.dumps({
        "nl_input": f"run the login tests {i}", "workspace": "demo",
        "requested_by": "bench",
        "options": {"tool_name": "run_pytest",
                    "args": {"test_path": "tests/passing"},
                    "timeout_s": 60}}).encode() for i in range(n)]


# The interpreter with pytest the worker starts (QF_PYTHON), ours by default.
PYTHON = os.environ.get("QF_PYTHON") or sys.executable


def pytest_floor(ws, n):
    """The tool's own run, n times one after the other, as the worker
    starts it (same interpreter, arguments and workspace): wall s."""
    t0 = time.monotonic()
    for _ in range(n):
        subprocess.run([PYTHON, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", f"--junitxml={ws}/.floor.xml",
                        "tests/passing"], cwd=ws, check=True,
                       capture_output=True)
    return time.monotonic() - t0


def bodies(n):
    out = []
    for i in range(n):
        nl = "deploy to production" if i % 5 == 4 else f"run the tests {i}"
        out.append(json.dumps({
            "nl_input": nl, "workspace": "demo", "requested_by": "bench",
            "options": {"tool_name": "run_pytest",
                        "args": {"test_path": "tests/passing"},
                        "timeout_s": 60, "dry_run": True}}).encode())
    return out


def wait_count(broker, queue, n, timeout_s):
    deadline = time.monotonic() + timeout_s
    while broker.count(queue) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: only {broker.count(queue)} of {n} "
                             f"arrived on {queue} in {timeout_s} s")
        time.sleep(0.02)


def server_cpu(names):
    """CPU ms of every process of those names, by PID (new ones start at 0)."""
    return {pid: cpu_ms([pid]) for name in names for pid in pids_named(name)}


def delta(before, after):
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def measure(admin, dbname, run, broker, queue, n, settle=None):
    pg0, mq0 = server_cpu(["postgres"]), server_cpu(["beam.smp"])
    c0 = commits(admin, dbname)
    t0 = time.monotonic()
    own = run()
    wait_count(broker, queue, n, 600)
    wall = time.monotonic() - t0
    # Read before anything exits: a backend's CPU leaves with it.
    pg1, mq1 = server_cpu(["postgres"]), server_cpu(["beam.smp"])
    own_ms, rss, trips = own()
    # A backend that stays connected may keep its counts for up to 10 s
    # before it reports them (PostgreSQL 15); one that leaves reports
    # them as it goes. So the commits are read after settle() (which
    # stops the workers) and the floor's exit.
    if settle:
        settle()
    time.sleep(0.7)
    return {"wall_s": wall, "per_s": n / wall, "own_ms": own_ms / n,
            "pg_ms": delta(pg0, pg1) / n, "mq_ms": delta(mq0, mq1) / n,
            "commits": (commits(admin, dbname) - c0) / n, "rss_kb": rss,
            "trips": trips / n,
            "machine_ms": (own_ms + delta(pg0, pg1) + delta(mq0, mq1)) / n}


METRICS_PORT = 19400 + os.getpid() % 500


def scrape(port, name):
    """The sum of a metric's series on a worker's /metrics (0 if absent)."""
    try:
        text = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def start_workers(a, env, count, logdir, metrics=False):
    procs = []
    for i in range(count):
        log = open(os.path.join(logdir, f"worker{i}.log"), "w")
        if metrics:
            env = dict(env, QF_METRICS_ADDR=f"127.0.0.1:{METRICS_PORT + i}")
        # BENCH_WRAP (say "valgrind --tool=callgrind") runs the
        # measured workers under a profiler; its figures are then its own.
        wrap = os.environ.get("BENCH_WRAP", "").split()
        procs.append(subprocess.Popen(wrap + [a.qf, "worker"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
    return procs


def wait_ready(logdir, count, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = 0
        for i in range(count):
            with open(os.path.join(logdir, f"worker{i}.log")) as f:
                ready += '"event":"worker.ready"' in f.read()
        if ready == count:
            return
        time.sleep(0.1)
    raise SystemExit("bench: workers not ready")


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(30)


def run_worker_round(a, env, work, admin, tag, broker, count_q):
    """The workers drain what is queued: one measurement."""
    procs = []

    def run_workers():
        procs.extend(start_workers(a, env, a.workers, work, True))
        return lambda: (cpu_ms([p.pid for p in procs]),
                        max(peak_rss_kb(p.pid) for p in procs),
                        sum(scrape(METRICS_PORT + i, "qf_db_round_trips_total")
                            for i in range(a.workers)))
    return measure(admin, tag, run_workers, broker, count_q, a.n,
                   lambda: stop(procs))


def run_floor_round(a, floor, amqp, url, fq, fx, admin, tag, broker, fcount,
                    prefetch):
    """The floor drains the same bodies: one measurement."""
    fl = []

    def run_floor():
        fl.append(subprocess.Popen([floor, amqp, url, fq, fx, str(a.n),
                                    str(prefetch)],
                                   stdout=subprocess.PIPE, text=True))

        def done():
            ms = cpu_ms([fl[0].pid])
            rss = peak_rss_kb(fl[0].pid)
            out, _ = fl[0].communicate(timeout=60)
            trips = sum(int(line.split()[1]) for line in out.splitlines()
                        if line.startswith("round_trips "))
            return ms, rss, trips
        return done
    return measure(admin, tag, run_floor, broker, fcount, a.n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--prefetch", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--pytest", action="store_true")
    # Rounds of (workers, floor), one after the other: the figures are
    # their medians, the ratios the medians of each round's own ratio.
    ap.add_argument("--rounds", type=int,
                    default=int(os.environ.get("BENCH_ROUNDS", "1")))
    a = ap.parse_args()
    a.qf = os.path.join(a.build, "qf")
    floor = os.path.join(a.build, "tests", "qf_bench_floor")
    amqp, admin = os.environ["QF_AMQP_URL"], os.environ["QF_DATABASE_URL"]
    tag = f"bench{os.getpid()}"
    work = f"/tmp/{tag}"
    os.makedirs(f"{work}/ws", exist_ok=True)
    os.makedirs(f"{work}/arts", exist_ok=True)
    subprocess.run(["cp", "-r", f"{a.repo}/examples/demo", f"{work}/ws/"],
                   check=True)
    psql(admin, f"CREATE DATABASE {tag}")
    url = db_url(admin, tag)
    env = dict(os.environ, QF_DATABASE_URL=url, QF_TOPOLOGY_PREFIX=tag,
               QF_POLICY=f"{a.repo}/policy/default.yaml",
               QF_ARTIFACTS_ROOT=f"{work}/arts", QF_WORKSPACE_ROOT=f"{work}/ws",
               QF_PREFETCH=str(a.prefetch), QF_LOG_LEVEL="warn",
               QF_CONCURRENCY=str(a.concurrency), QF_PYTHON=PYTHON)
    broker = None
    try:
        subprocess.run([a.qf, "migrate", "--dir", f"{a.repo}/migrations"],
                       env=env, check=True, capture_output=True)
        # A first worker declares the topology, then leaves.
        env_ready = dict(env, QF_LOG_LEVEL="info")
        p = start_workers(a, env_ready, 1, work)
        wait_ready(work, 1)
        # Connected, policy loaded, no run yet: an idle worker's peak.
        idle_rss = peak_rss_kb(p[0].pid)
        stop(p)
        broker = Broker(amqp)
        count_q = f"{tag}.bench.decisions"
        broker.ch.queue_declare(count_q, durable=True)
        broker.ch.queue_bind(count_q, f"{tag}.decisions", "decision.#")
        reqs = pytest_bodies(a.n) if a.pytest else bodies(a.n)
        if a.pytest:
            broker.preload(f"{tag}.requests", "run", reqs, tag)
            worker = run_worker_round(a, env, work, admin, tag, broker,
                                      count_q)
            report_pytest(a, worker, pytest_floor(f"{work}/ws/demo", a.n))
            print(f"idle worker peak RSS KiB: {idle_rss}")
            return
        # The floor: the same bodies, the same libraries.
        fq, fx, fcount = f"{tag}.floor", f"{tag}.floor.out", f"{tag}.floor.count"
        broker.ch.queue_declare(fq, durable=True,
                                arguments={"x-queue-type": "quorum"})
        broker.ch.exchange_declare(fx, "topic", durable=True)
        broker.ch.queue_declare(fcount, durable=True)
        broker.ch.queue_bind(fcount, fx, "decision.#")
        rounds = []
        for r in range(a.rounds):
            # Fresh message ids each round: a run already recorded would
            # only be re-published.
            broker.ch.queue_purge(count_q)
            broker.preload(f"{tag}.requests", "run", reqs, f"{tag}r{r}")
            worker = run_worker_round(a, env, work, admin, tag, broker,
                                      count_q)
            broker.ch.queue_purge(fcount)
            broker.preload("", fq, reqs, f"{tag}r{r}f")
            base = run_floor_round(a, floor, amqp, url, fq, fx, admin, tag,
                                   broker, fcount, a.prefetch)
            # Above prefetch 1, the floor at prefetch 1 too: the issue's
            # "times the prefetch-1 floor" from the same round.
            base1 = None
            if a.prefetch > 1:
                broker.ch.queue_purge(fcount)
                broker.preload("", fq, reqs, f"{tag}r{r}g")
                base1 = run_floor_round(a, floor, amqp, url, fq, fx, admin,
                                        tag, broker, fcount, 1)
            rounds.append((worker, base, base1))
        report(a, rounds)
        print(f"idle worker peak RSS KiB: {idle_rss} (connected, no run yet)")
    finally:
        if broker:
            for q in (f"{tag}.bench.decisions", f"{tag}.floor",
                      f"{tag}.floor.count", f"{tag}.orchestrations",
                      f"{tag}.orchestrations.dead", f"{tag}.dead",
                      f"{tag}.hitl"):
                try:
                    broker.ch.queue_delete(q)
                except Exception:
                    pass
        # BENCH_KEEP keeps the work folder and the database, to look at.
        if os.environ.get("BENCH_KEEP"):
            print(f"bench: kept {work} and database {tag}")
        else:
            psql(admin, f"DROP DATABASE IF EXISTS {tag} WITH (FORCE)")
            subprocess.run(["rm", "-rf", work])


def report_pytest(a, w, floor_s):
    """Per run: the worker's wall time (W workers, concurrency C, so runs
    overlap) against the tool's own run started by hand, one after the
    other."""
    runs_at_once = a.workers * a.concurrency
    per_run = w["wall_s"] * 1000 / a.n * runs_at_once
    own = floor_s * 1000 / a.n
    print(f"{a.n} real pytest runs (tests/passing), {a.workers} worker(s), "
          f"prefetch {a.prefetch}, concurrency {a.concurrency}")
    print(f"{'':30}{'worker':>10}{'tool alone':>12}{'ratio':>8}")
    print(f"{'wall ms per run':30}{per_run:>10.1f}{own:>12.1f}"
          f"{per_run / own:>8.2f}")
    print(f"{'added by the worker, ms/run':30}{per_run - own:>10.1f}")
    print(f"{'decisions/s':30}{w['per_s']:>10.1f}"
          f"{1000 / own * runs_at_once:>12.1f}")
    print(f"{'worker CPU ms per run':30}{w['own_ms']:>10.2f}")
    print(f"{'commits per run':30}{w['commits']:>10.2f}")
    print(f"{'round trips per run':30}{w['trips']:>10.2f}")
    print(f"{'peak RSS KiB':30}{w['rss_kb']:>10d}")


def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def report(a, rounds):
    print(f"{a.n} requests (80% dry runs, 20% parked for a human), "
          f"{a.workers} worker(s), prefetch {a.prefetch}"
          + (f", median of {len(rounds)} rounds" if len(rounds) > 1 else ""))
    print(f"{'':24}{'worker':>12}{'floor':>12}{'ratio':>8}")
    rows = [("decisions/s", "per_s", "%.0f"),
            ("wall s", "wall_s", "%.2f"),
            ("process CPU ms/decision", "own_ms", "%.2f"),
            ("PostgreSQL CPU ms/dec.", "pg_ms", "%.2f"),
            ("RabbitMQ CPU ms/dec.", "mq_ms", "%.2f"),
            ("machine CPU ms/dec.", "machine_ms", "%.2f"),
            ("commits/decision", "commits", "%.2f"),
            ("round trips/decision", "trips", "%.2f"),
            ("peak RSS KiB", "rss_kb", "%d")]
    for name, k, fmt in rows:
        w = median([r[0][k] for r in rounds])
        f = median([r[1][k] for r in rounds])
        ratios = [r[0][k] / r[1][k] for r in rounds if r[1][k]]
        ratio = median(ratios) if ratios else float("nan")
        if k == "rss_kb":
            w, f = int(w), int(f)
        print(f"{name:24}{fmt % w:>12}{fmt % f:>12}{ratio:>8.2f}")
    if a.prefetch > 1:
        f1 = median([r[2]["per_s"] for r in rounds])
        ratio = median([r[0]["per_s"] / r[2]["per_s"] for r in rounds])
        print(f"{'floor at prefetch 1 /s':24}{'':>12}{'%.0f' % f1:>12}"
              f"{ratio:>8.2f}")
    if len(rounds) > 1:
        per_s = ", ".join("%.0f/%.0f" % (r[0]["per_s"], r[1]["per_s"])
                          + ("/%.0f" % r[2]["per_s"] if r[2] else "")
                          for r in rounds)
        print("decisions/s by round (worker/floor"
              + ("/floor at prefetch 1" if a.prefetch > 1 else "")
              + f"): {per_s}")


if __name__ == "__main__":
    sys.exit(main())
