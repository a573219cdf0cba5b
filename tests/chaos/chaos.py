#!/usr/bin/env python3
"""chaos.py: the chaos test's driver and judge (see README.md here).

Started by run.sh, which provides the servers, the migrated database and
the worker's login role. This program

  * builds the workspace (examples/demo plus tests/chaos/test_chaos.py, the
    test's own tool marker) and the artifacts root under --out;
  * runs N `qf worker` processes and publishes R requests;
  * injects faults: kill -9 of a random worker every K s (restarted at
    once), graceful drains (SIGTERM, wait, restart), RabbitMQ and
    PostgreSQL restarts (infra.sh), re-sends of message ids with reply_to
    chaos.reply.b;
  * waits for the remaining work, stops the workers, and counts what went
    wrong (lost, doubled, repeated tool runs, side-by-side tool runs,
    orphaned tool processes, unfinished runs, dead letters, unanswered
    re-sends): summary.json and a table; exit 0 only if all are 0.

Only the standard library, pika, and the psql CLI.
"""
import argparse
import ctypes
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid

NS_RUN = uuid.UUID("082110d7-170d-4240-8acb-dcd0d5e17ce5")  # QF_UUID_NS_RUN

PROFILES = {
    # chaos_s: how long faults are injected; wait_s: how long the remaining
    # work may take after that; stall_s: give up waiting earlier when
    # nothing was decided for that long and nothing is queued; limit_s:
    # the whole program's timeout. window: requests are published as the
    # earlier ones are decided, at most this many undecided at a time (0:
    # all at once), so that workers are free to take a re-send while the
    # first copy still runs; one undecided after stuck_s no longer counts.
    "short": dict(workers=2, requests=40, real=32, kill_every=4.0,
                  broker_restarts=1, db_restarts=1, resends=8, drains=2,
                  window=2, stuck_s=60,
                  chaos_s=60, wait_s=120, stall_s=45, limit_s=330),
    "long": dict(workers=3, requests=3000, real=300, kill_every=5.0,
                 broker_restarts=2, db_restarts=2, resends=100, drains=8,
                 window=6, stuck_s=180,
                 chaos_s=420, wait_s=1200, stall_s=150, limit_s=2400),
}
FAULTS = ("kill", "drain", "broker", "db", "resend")
OVERRIDES = ("workers", "requests", "real", "resends", "drains", "chaos_s", "window",
             "wait_s", "limit_s")  # --workers N etc.
REPLY_A = "chaos.reply.a"
REPLY_B = "chaos.reply.b"
DOWN_S = 3  # how long a restarted server stays down
GRACE_S = 30  # QF_SHUTDOWN_GRACE_S

# --------------------------------------------------------------- the marker

# The test file the tool runs. Each pytest process that imports it (each
# tool start) appends "start" (and first "overlap" for every earlier tool of
# the same artifact dir, i.e. the same run, that has not ended and is still
# alive); the test sleeps 1-4 s (fixed per run) and appends "end". Appends
# hold flock; the overlap check and the start line are one critical
# section, so two tools starting together cannot miss each other.
MARKER_TEST = r'''"""The chaos test's tool marker (written by tests/chaos/chaos.py)."""
import fcntl
import hashlib
import json
import os
import time

MARKER = %(marker)r
ART = os.environ.get("QF_ARTIFACT_DIR")


def _starttime(pid):
    """The process's start time in clock ticks (/proc/PID/stat field 22):
    with the PID it names one process, whatever PIDs are reused."""
    try:
        with open("/proc/%%d/stat" %% pid, "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _same_live_pytest(entry):
    pid = entry.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%%d/cmdline" %% pid, "rb") as f:
            if b"pytest" not in f.read():
                return False
    except OSError:
        return False
    st = entry.get("starttime")
    return st is None or _starttime(pid) == st


def _entry(event, **extra):
    e = {"event": event, "artifact_dir": ART, "pid": os.getpid(),
         "ppid": os.getppid(), "starttime": _starttime(os.getpid()),
         "t": time.time()}
    e.update(extra)
    return e


def _append(lines):
    with open(MARKER, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write("".join(json.dumps(e) + "\n" for e in lines))
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _start():
    with open(MARKER, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            starts, ended = {}, set()
            for line in f.read().splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("artifact_dir") != ART:
                    continue
                if e.get("event") == "start":
                    starts[e.get("pid")] = e
                elif e.get("event") == "end":
                    ended.add(e.get("pid"))
            out = [_entry("overlap", other_pid=pid, other_ppid=e.get("ppid"),
                          other_t=e.get("t"))
                   for pid, e in starts.items()
                   if pid not in ended and _same_live_pytest(e)]
            out.append(_entry("start"))
            f.seek(0, os.SEEK_END)
            f.write("".join(json.dumps(e) + "\n" for e in out))
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _seconds():
    if not ART:
        return 1.0
    h = int(hashlib.sha256(ART.encode()).hexdigest()[:8], 16)
    return 1.0 + (h %% 3001) / 1000.0


_start()


def test_chaos_marker():
    time.sleep(_seconds())
    _append([_entry("end")])
'''


def read_markers(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def run_of_artifact_dir(art, arts_root):
    """<arts>/<run_id>/tools/run_pytest -> run_id (None if not that form)."""
    if not art:
        return None
    rel = os.path.relpath(art, arts_root).split(os.sep)
    return rel[0] if len(rel) == 3 and rel[1] == "tools" else None


def analyze_markers(markers, arts_root, killed9, execute_actors, executed=()):
    """The tool-run counts from the marker lines.

    killed9: worker PID -> when the harness SIGKILLed it. execute_actors:
    run_id -> the actors of its node.execute run_events rows ("host:pid").
    executed: more (run_id, worker PID) pairs known to have saved the
    execute node (the workers' own "node.done" log lines).

    A run's second (third, ...) tool start is a repeated tool run unless
    every earlier start of it is excused: its tool's worker (the start's
    ppid) had been kill -9'ed by the harness before this start, and never
    recorded node.execute for the run (an actor ending in ":<ppid>"), so
    the earlier tool run was cut off before its result could count."""
    starts, overlaps = {}, []
    for e in markers:
        if e.get("event") == "start":
            starts.setdefault(e.get("artifact_dir"), []).append(e)
        elif e.get("event") == "overlap":
            overlaps.append(e)
    repeated = []
    for art, ss in starts.items():
        ss.sort(key=lambda e: e.get("t", 0))
        run_id = run_of_artifact_dir(art, arts_root)
        actors = execute_actors.get(run_id, [])
        for i in range(1, len(ss)):
            why = []
            for prev in ss[:i]:
                p = prev.get("ppid")
                if p not in killed9:
                    why.append("tool %s: its worker %s was not kill -9'ed" % (prev.get("pid"), p))
                elif killed9[p] > ss[i].get("t", 0):
                    why.append("tool %s: its worker %s was kill -9'ed only %.1f s after this start"
                               % (prev.get("pid"), p, killed9[p] - ss[i].get("t", 0)))
                elif any(a.endswith(":%s" % p) for a in actors) or (run_id, p) in executed:
                    why.append("tool %s: its worker %s saved node.execute before its kill"
                               % (prev.get("pid"), p))
            if why:
                repeated.append({"run_id": run_id, "artifact_dir": art,
                                 "start": ss[i], "earlier": ss[:i], "why": why})
    return {"starts": sum(len(v) for v in starts.values()),
            "runs_with_tool": len(starts), "repeated": repeated,
            "overlaps": overlaps}


# ------------------------------------------------------------------ helpers

class Log:
    def __init__(self, path):
        self.f = open(path, "a")
        self.t0 = time.time()

    def event(self, name_, **kw):
        kw.update(event=name_, t=round(time.time(), 3),
                  s=round(time.time() - self.t0, 1))
        self.f.write(json.dumps(kw) + "\n")
        self.f.flush()

    def say(self, text):
        print("chaos: %5.1fs %s" % (time.time() - self.t0, text), file=sys.stderr,
              flush=True)


_libc = None


def _pdeathsig():
    """In the child: die with the harness (PR_SET_PDEATHSIG)."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def my_ancestors():
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
            pid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def processes_mentioning(needles):
    """PIDs whose command line contains one of needles (not us or ours)."""
    mine, found = my_ancestors(), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in mine:
            continue
        cmd = proc_cmdline(int(name))
        if cmd and any(n in cmd for n in needles):
            found.append((int(name), cmd[:300]))
    return found


class Psql:
    def __init__(self, psql, url):
        from urllib.parse import unquote, urlsplit
        u = urlsplit(url)
        self.psql = psql
        # The URL's parts go in the environment: no password in argv.
        self.env = dict(os.environ, PGCONNECT_TIMEOUT="4", PGHOST=u.hostname or "127.0.0.1",
                        PGPORT=str(u.port or 5432), PGUSER=unquote(u.username or ""),
                        PGPASSWORD=unquote(u.password or ""),
                        PGDATABASE=unquote(u.path.lstrip("/")))

    def rows(self, sql, timeout=20):
        """Rows as lists of strings; raises RuntimeError on failure."""
        try:
            p = subprocess.run([self.psql, "-qAtX", "-F", "\x1f",
                                "-v", "ON_ERROR_STOP=1", "-c", sql],
                               capture_output=True, text=True, timeout=timeout,
                               env=self.env)
        except subprocess.TimeoutExpired:
            raise RuntimeError("psql timed out: %s" % sql)
        if p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (sql, p.stderr.strip()))
        return [line.split("\x1f") for line in p.stdout.splitlines()]

    def rows_patient(self, sql, seconds=120):
        deadline = time.time() + seconds
        while True:
            try:
                return self.rows(sql)
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(1)


class Amqp:
    """One pika connection that survives broker restarts: every operation
    reconnects when the connection was lost and tries again."""

    def __init__(self, url, log):
        import pika
        self.pika = pika
        self.params = pika.URLParameters(url)
        self.params.heartbeat = 30
        self.params.socket_timeout = 3
        self.params.blocked_connection_timeout = 30
        self.params.connection_attempts = 1
        self.params.stack_timeout = 5
        self.params.client_properties = {"connection_name": "qf-chaos"}
        self.log = log
        self.conn = self.ch = None
        self.reconnects = 0

    def reset(self):
        try:
            if self.conn is not None and self.conn.is_open:
                self.conn.close()
        except Exception:
            pass
        self.conn = self.ch = None

    def channel(self):
        if self.conn is None or not self.conn.is_open or self.ch is None or not self.ch.is_open:
            self.reset()
            self.conn = self.pika.BlockingConnection(self.params)
            self.ch = self.conn.channel()
            self.ch.confirm_delivery()
            self.reconnects += 1
        return self.ch

    def call(self, fn, seconds=120, what="amqp"):
        """fn(channel), retried across connection losses for seconds."""
        deadline = time.time() + seconds
        while True:
            try:
                return fn(self.channel())
            except (self.pika.exceptions.AMQPError, OSError) as e:
                self.reset()
                if time.time() > deadline:
                    raise RuntimeError("%s: %r" % (what, e))
                time.sleep(1)

    def try_call(self, fn):
        """fn(channel) once; None when the broker is unreachable."""
        try:
            return fn(self.channel())
        except (self.pika.exceptions.AMQPError, OSError):
            self.reset()
            return None

    def publish(self, exchange, key, body, props, seconds=120):
        def go(ch):
            ch.basic_publish(exchange, key, body, props, mandatory=True)
        self.call(go, seconds, "publish %s" % props.message_id)

    def drain(self, queue, sink, limit=500):
        """Gets (and acks) up to limit messages of queue into sink(props,
        body); returns how many, or None when the broker is down."""
        def go(ch):
            n = 0
            while n < limit:
                m, props, body = ch.basic_get(queue, auto_ack=False)
                if m is None:
                    break
                sink(props, body)
                ch.basic_ack(m.delivery_tag)
                n += 1
            return n
        return self.try_call(go)

    def count(self, queue):
        """Ready messages in queue (passive declare), -1 if it does not
        exist; None when the broker is down."""
        def go(ch):
            try:
                return ch.queue_declare(queue, passive=True).method.message_count
            except self.pika.exceptions.ChannelClosedByBroker:
                self.ch = None
                return -1
        return self.try_call(go)

    def peek(self, queue, n=50):
        """Up to n messages of queue, left in it (never acked)."""
        def go(ch):
            out = []
            for _ in range(n):
                m, props, body = ch.basic_get(queue, auto_ack=False)
                if m is None:
                    break
                out.append((m, props, body))
            self.reset()  # unacked: back to the queue
            return out
        return self.try_call(go) or []


# ------------------------------------------------------------------ workers

class Worker:
    def __init__(self, slot):
        self.slot = slot
        self.proc = None
        self.n = 0
        self.log = None
        self.state = "stopped"  # running | draining | stopped
        self.drain_deadline = 0.0

    @property
    def pid(self):
        return self.proc.pid if self.proc else None


class Chaos:
    def __init__(self, a):
        self.a = a
        p = dict(PROFILES[a.mode])
        for k in OVERRIDES:
            v = getattr(a, k)
            if v is not None:
                p[k] = v
        p["real"] = min(p["real"], p["requests"])
        self.p = p
        self.faults = set() if a.no_faults else set(a.faults.split(",")) if a.faults else set(FAULTS)
        bad = self.faults - set(FAULTS)
        if bad:
            sys.exit("chaos: unknown faults %s (known: %s)" % (",".join(sorted(bad)), ",".join(FAULTS)))
        self.rng = random.Random(a.seed)
        self.out = a.out
        self.ws = os.path.join(self.out, "ws")
        self.arts = os.path.join(self.out, "artifacts")
        self.markers = os.path.join(self.out, "markers.jsonl")
        self.wdir = os.path.join(self.out, "workers")
        self.log = Log(os.path.join(self.out, "events.jsonl"))
        self.prefix = "chaos%d" % int(time.time())
        self.db = Psql(a.psql, a.admin_db)
        self.workers = [Worker(i) for i in range(p["workers"])]
        self.killed9 = {}  # worker PID -> when the harness SIGKILLed it
        self.exits = []  # every worker exit: pid, slot, how, status
        self.mids = []
        self.pending = []  # not published yet, in order
        self.outstanding = {}  # published, no final decision yet: mid -> t
        self.published = set()
        self.real = set()
        self.body = {}
        self.run_of = {}
        self.mid_of = {}
        self.resent = {}  # mid -> {"while_running": bool, "s": t}
        self.msgs = {"decisions": [], REPLY_A: [], REPLY_B: []}
        self.infra = None  # (kind, Popen, started)
        self.stats = dict(kills=0, drains=0, drain_timeouts=0, broker_restarts=0,
                          db_restarts=0, infra_failures=0, resends=0,
                          resends_while_running=0, unexpected_exits=0)
        self.stopping = False
        self.timed_out = False
        self.t_start = time.time()
        self.deadline = self.t_start + p["limit_s"]

    # ---------------------------------------------------------------- setup

    def setup_files(self):
        for d in (self.ws, self.arts, self.wdir):
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(self.arts)
        os.makedirs(self.wdir)
        shutil.copytree(os.path.join(self.a.src, "examples", "demo"),
                        os.path.join(self.ws, "demo"))
        tdir = os.path.join(self.ws, "demo", "tests", "chaos")
        os.makedirs(tdir, exist_ok=True)
        with open(os.path.join(tdir, "test_chaos.py"), "w") as f:
            f.write(MARKER_TEST % {"marker": self.markers})
        open(self.markers, "w").close()

    def setup_amqp(self):
        self.decisions_q = "%s.chaos.decisions" % self.prefix
        self.queue = "%s.orchestrations" % self.prefix
        self.dead_q = "%s.orchestrations.dead" % self.prefix

        def go(ch):
            # As the workers declare it (durable topic), so that the
            # harness's view is bound before any decision is published.
            ch.exchange_declare("%s.decisions" % self.prefix, "topic", durable=True)
            ch.queue_declare(self.decisions_q, durable=True)
            ch.queue_bind(self.decisions_q, "%s.decisions" % self.prefix, "decision.#")
            for q in (REPLY_A, REPLY_B):
                ch.queue_delete(q)  # an earlier run's answers
                ch.queue_declare(q, durable=True)
        self.mq.call(go, 120, "declare the harness queues")

    def make_requests(self):
        n, real = self.p["requests"], self.p["real"]
        # The real tool runs are spread among the dry runs.
        real_idx = set(self.rng.sample(range(n), real))
        for i in range(n):
            mid = "%s-%05d" % (self.prefix, i)
            dry = i not in real_idx
            self.mids.append(mid)
            if not dry:
                self.real.add(mid)
            self.body[mid] = json.dumps({
                "nl_input": "run the chaos tests (%d)" % i,
                "workspace": "demo", "requested_by": "ci",
                "options": {"tool_name": "run_pytest",
                            "args": {"test_path": "tests/chaos"},
                            "timeout_s": 60, "dry_run": dry}},
                separators=(",", ":")).encode()
            rid = str(uuid.uuid5(NS_RUN, mid))
            self.run_of[mid] = rid
            self.mid_of[rid] = mid

    def publish(self, mid, reply_to, seconds=120):
        props = self.mq.pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=mid,
            correlation_id=mid, reply_to=reply_to)
        self.mq.publish("%s.requests" % self.prefix, "run", self.body[mid], props, seconds)

    def feed(self, flush=False):
        """Publishes pending requests while fewer than the window are
        undecided (all of them when flush); never waits for the broker
        unless flush."""
        now = time.time()
        window = self.p["window"]
        busy = sum(1 for t in self.outstanding.values() if now - t < self.p["stuck_s"])
        while self.pending and (flush or window <= 0 or busy < window):
            mid = self.pending[0]
            try:
                self.publish(mid, REPLY_A, 120 if flush else 0)
            except RuntimeError:
                return
            self.pending.pop(0)
            self.outstanding[mid] = now
            self.published.add(mid)
            busy += 1
            if not self.pending:
                self.log.event("published", n=len(self.mids))

    # -------------------------------------------------------------- workers

    def worker_env(self):
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")}
        env.update(
            QF_AMQP_URL=self.a.amqp_url, QF_DATABASE_URL=self.a.worker_db,
            QF_POLICY=os.path.join(self.a.src, "policy", "default.yaml"),
            QF_ARTIFACTS_ROOT=self.arts, QF_WORKSPACE_ROOT=self.ws,
            QF_TOPOLOGY_PREFIX=self.prefix, QF_PYTHON=self.a.python,
            QF_DELIVERY_LIMIT=str(self.a.delivery_limit),
            QF_SHUTDOWN_GRACE_S=str(GRACE_S), QF_MAX_BACKOFF_S="2",
            QF_LOG_LEVEL="info")
        for kv in self.a.env or ():
            k, _, v = kv.partition("=")
            env[k] = v
        return env

    def start_worker(self, w):
        w.n += 1
        w.log = os.path.join(self.wdir, "w%d-%03d.log" % (w.slot, w.n))
        with open(w.log, "ab") as f:
            w.proc = subprocess.Popen([self.a.qf, "worker"], stdin=subprocess.DEVNULL,
                                      stdout=f, stderr=f, env=self.worker_env(),
                                      start_new_session=True, preexec_fn=_pdeathsig)
        w.state = "running"
        self.log.event("worker.start", slot=w.slot, n=w.n, pid=w.pid, log=w.log)

    def reaped(self, w, how):
        st = w.proc.returncode
        self.exits.append({"pid": w.pid, "slot": w.slot, "n": w.n, "how": how, "status": st,
                           "log": w.log})
        self.log.event("worker.exit", slot=w.slot, pid=w.pid, how=how, status=st)
        w.proc = None
        w.state = "stopped"

    def kill9(self, w, why):
        pid = w.pid
        self.killed9[pid] = time.time()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        w.proc.wait(timeout=30)
        self.log.event("kill9", slot=w.slot, pid=pid, why=why)
        self.reaped(w, why)

    def check_workers(self, restart=True):
        for w in self.workers:
            if w.proc is None:
                continue
            if w.proc.poll() is not None:
                if w.state == "draining":
                    self.reaped(w, "drained")
                    self.log.say("worker %d drained (status %s)" % (w.slot, self.exits[-1]["status"]))
                else:
                    self.stats["unexpected_exits"] += 1
                    self.reaped(w, "unexpected")
                    x = self.exits[-1]
                    self.log.say("worker %d (pid %s) exited by itself, status %s: see %s"
                                 % (w.slot, x["pid"], x["status"], x["log"]))
                if self.stats["unexpected_exits"] > 30:
                    raise RuntimeError("workers keep exiting by themselves: see %s" % self.wdir)
                if restart and not self.stopping:
                    self.start_worker(w)
            elif w.state == "draining" and time.time() > w.drain_deadline:
                self.stats["drain_timeouts"] += 1
                self.log.say("worker %d did not finish its drain: kill -9" % w.slot)
                self.kill9(w, "drain-timeout")
                if restart and not self.stopping:
                    self.start_worker(w)

    def wait_ready(self, w, seconds=90):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                with open(w.log, "rb") as f:
                    if b'"event":"worker.ready"' in f.read():
                        return True
            except OSError:
                pass
            if w.proc.poll() is not None:
                break
            time.sleep(0.2)
        return False

    def stop_workers(self):
        self.stopping = True
        for w in self.workers:
            if w.proc is not None and w.state != "draining":
                try:
                    os.kill(w.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                w.state = "draining"
                w.drain_deadline = time.time() + GRACE_S + 20
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                w.proc.wait(timeout=max(1, w.drain_deadline - time.time()))
                self.reaped(w, "final-stop")
            except subprocess.TimeoutExpired:
                self.log.say("worker %d did not stop: kill -9" % w.slot)
                self.kill9(w, "final-kill")

    # ----------------------------------------------------------- observation

    def sink(self, name):
        def record(props, body):
            try:
                d = json.loads(body)
            except ValueError:
                d = {"unparsed": body.decode("utf-8", "replace")}
            self.msgs[name].append({
                "run_id": d.get("run_id"), "decision": d.get("decision"),
                "reason": d.get("reason"), "final": d.get("final"),
                "decided_by": d.get("decided_by"),
                "correlation_id": props.correlation_id, "t": time.time()})
            if name == "decisions" and d.get("final") is True:
                self.outstanding.pop(self.mid_of.get(d.get("run_id")), None)
        return record

    def poll_queues(self):
        """Collects the decisions and replies; False when the broker is
        unreachable (the rest is left for the next poll)."""
        for name, q in (("decisions", self.decisions_q), (REPLY_A, REPLY_A), (REPLY_B, REPLY_B)):
            while True:
                n = self.mq.drain(q, self.sink(name))
                if n is None:
                    return False
                if n < 500:
                    break
        return True

    def final_by(self, name):
        out = {}
        for m in self.msgs[name]:
            if m.get("final") is True and m.get("decision") in ("PASS", "FAIL"):
                out.setdefault(m["run_id"], m)
        return out

    def tools_running(self):
        """Message ids whose tool has started and not ended, and runs."""
        starts, ended = {}, set()
        for e in read_markers(self.markers):
            if e.get("event") == "start":
                starts[e.get("pid")] = e
            elif e.get("event") == "end":
                ended.add(e.get("pid"))
        out = []
        for pid, e in starts.items():
            if pid in ended or not pid_alive(pid):
                continue
            rid = run_of_artifact_dir(e.get("artifact_dir"), self.arts)
            if rid in self.mid_of:
                out.append(self.mid_of[rid])
        return out

    # -------------------------------------------------------------- faults

    def schedule(self):
        p, ev, c = self.p, [], self.p["chaos_s"]
        if "kill" in self.faults:
            t = p["kill_every"]
            while t < c:
                ev.append((t, "kill"))
                t += p["kill_every"] * self.rng.uniform(0.75, 1.25)
        nb = p["broker_restarts"] if "broker" in self.faults else 0
        nd = p["db_restarts"] if "db" in self.faults else 0
        order = []  # alternating, evenly spread over the window
        while nb or nd:
            if nb:
                order.append("broker")
                nb -= 1
            if nd:
                order.append("db")
                nd -= 1
        for i, k in enumerate(order):
            ev.append((c * (i + 1) / (len(order) + 1) - 5, k))
        if "drain" in self.faults:
            for i in range(p["drains"]):
                ev.append((c * (i + 0.6) / (p["drains"] + 0.5), "drain"))
        if "resend" in self.faults:
            n = p["resends"]
            for i in range(n):
                ev.append((4 + (c - 8) * i / max(1, n - 1), "resend"))
        ev.sort()
        return ev

    def do_kill(self):
        live = [w for w in self.workers if w.state == "running" and w.proc is not None]
        if not live:
            return
        w = self.rng.choice(live)
        pid = w.pid
        self.kill9(w, "kill9")
        self.stats["kills"] += 1
        self.start_worker(w)
        self.log.say("kill -9 worker %d (pid %d); restarted as pid %d" % (w.slot, pid, w.pid))

    def do_drain(self):
        if any(w.state == "draining" for w in self.workers) or self.infra is not None:
            return False  # later: one at a time, not during an outage
        live = [w for w in self.workers if w.state == "running" and w.proc is not None]
        if not live:
            return False
        w = self.rng.choice(live)
        os.kill(w.pid, signal.SIGTERM)
        w.state = "draining"
        w.drain_deadline = time.time() + GRACE_S + 20
        self.stats["drains"] += 1
        self.log.event("drain", slot=w.slot, pid=w.pid)
        self.log.say("drain worker %d (pid %d)" % (w.slot, w.pid))
        return True

    def do_infra(self, kind):
        if self.infra is not None or any(w.state == "draining" for w in self.workers):
            return False
        cmd = ["bash", os.path.join(self.a.here, "infra.sh"),
               "rmq-restart" if kind == "broker" else "pg-restart", str(DOWN_S)]
        f = open(os.path.join(self.out, "infra.log"), "a")
        # Its own session: a Ctrl-C or a SIGTERM to our process group must
        # not cut a server start short (cleanup() lets it finish, and
        # run.sh then stops the servers).
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                start_new_session=True)
        f.close()
        self.infra = (kind, proc, time.time())
        self.log.event("infra.start", kind=kind)
        self.log.say("%s restart: stop, %d s down, start" % (kind, DOWN_S))
        return True

    def check_infra(self):
        if self.infra is None:
            return
        kind, proc, t0 = self.infra
        if proc.poll() is None:
            if time.time() - t0 > 400:
                proc.kill()
            return
        self.infra = None
        ok = proc.returncode == 0
        self.stats["broker_restarts" if kind == "broker" else "db_restarts"] += ok
        self.stats["infra_failures"] += not ok
        self.log.event("infra.done", kind=kind, status=proc.returncode,
                       seconds=round(time.time() - t0, 1))
        self.log.say("%s restart done in %.1f s%s" % (
            kind, time.time() - t0, "" if ok else " (FAILED: see infra.log)"))
        if not ok:  # the servers must come back, whatever happened
            subprocess.run(["bash", os.path.join(self.a.here, "infra.sh"), "start"],
                           stdin=subprocess.DEVNULL, timeout=400,
                           stdout=open(os.path.join(self.out, "infra.log"), "a"),
                           stderr=subprocess.STDOUT)

    def do_resend(self, index):
        # Every other re-send goes to a run whose tool is running right now
        # (if there is one); the others to any request not re-sent yet.
        pool = [m for m in self.mids if m not in self.resent and m not in self.pending]
        if not pool:
            return True
        running = [m for m in self.tools_running() if m not in self.resent]
        if index % 2 == 0 and running:
            mid, during = self.rng.choice(running), True
        else:
            real = [m for m in pool if m in self.real]
            mid = self.rng.choice(real or pool)
            during = mid in running
        try:
            self.publish(mid, REPLY_B, 0)
        except RuntimeError:
            return False  # the broker is down: a little later
        self.resent[mid] = {"while_running": during, "s": round(time.time() - self.t_start, 1)}
        self.stats["resends"] += 1
        self.stats["resends_while_running"] += during
        self.log.event("resend", mid=mid, run_id=self.run_of[mid], while_running=during)
        self.log.say("re-send %s%s" % (mid, " (its tool is running)" if during else ""))
        return True

    # ------------------------------------------------------------ the phases

    def tick(self):
        self.check_workers()
        self.check_infra()
        if time.time() >= self.next_poll:
            up = self.poll_queues()
            self.next_poll = time.time() + (0.2 if up else 1.0)
            if up:
                self.feed()
        if time.time() > self.deadline:
            raise TimeoutError

    def chaos_phase(self):
        events = self.schedule()
        t0 = time.time()
        i_resend = 0
        self.log.say("chaos for %d s: %d events (%s)" % (
            self.p["chaos_s"], len(events), ",".join(sorted(self.faults)) or "no faults"))
        while events or self.infra is not None or any(w.state == "draining" for w in self.workers):
            self.tick()
            now = time.time() - t0
            later = []
            for t, kind in events:
                if t > now:
                    later.append((t, kind))
                elif kind == "kill":
                    self.do_kill()
                elif kind == "drain":
                    if not self.do_drain():
                        later.append((now + 2, kind))
                elif kind in ("broker", "db"):
                    if not self.do_infra(kind):
                        later.append((now + 2, kind))
                elif kind == "resend":
                    if self.do_resend(i_resend):
                        i_resend += 1
                    else:
                        later.append((now + 1, kind))
            events = sorted(later)
            time.sleep(0.1)

    def progress(self):
        decided = None
        try:
            r = self.db.rows("SELECT count(*) FILTER (WHERE status = 'decided'), count(*) FROM runs",
                             timeout=8)
            decided = int(r[0][0])
        except RuntimeError:
            pass
        return decided

    def complete(self, decided):
        if decided is None or decided < len(self.mids):
            return False
        d, ra, rb = self.final_by("decisions"), self.final_by(REPLY_A), self.final_by(REPLY_B)
        return (all(self.run_of[m] in d and self.run_of[m] in ra for m in self.mids)
                and all(self.run_of[m] in rb for m in self.resent))

    def wait_phase(self):
        if self.pending:
            self.log.say("publishing the %d requests left" % len(self.pending))
            self.feed(flush=True)
        self.log.say("waiting for the remaining work (at most %d s)" % self.p["wait_s"])
        deadline = time.time() + self.p["wait_s"]
        last_sig, last_change, last_db = None, time.time(), 0
        decided = None
        while time.time() < deadline:
            self.tick()
            if time.time() - last_db >= 2:
                last_db = time.time()
                decided = self.progress()
                if self.complete(decided):
                    self.log.say("every run is decided and answered")
                    break
                sig = (decided, sum(len(v) for v in self.msgs.values()))
                if sig != last_sig:
                    last_sig, last_change = sig, time.time()
                elif time.time() - last_change > self.p["stall_s"] and self.mq.count(self.queue) == 0:
                    self.log.say("no progress for %d s and nothing queued: giving up waiting"
                                 % self.p["stall_s"])
                    break
            time.sleep(0.2)
        else:
            self.log.say("the wait timed out (%d s)" % self.p["wait_s"])
        # Late duplicates, and the re-publishes of settling deliveries.
        end = time.time() + 3
        while time.time() < end:
            self.tick()
            time.sleep(0.2)

    # ------------------------------------------------------------- the judge

    def judge(self):
        p = self.p
        # Tools left running once every worker is gone.
        time.sleep(1)
        orphans = processes_mentioning([self.arts, self.ws])
        for pid, _ in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.poll_queues()
        runs = {r[0]: r for r in self.db.rows_patient(
            "SELECT run_id, status, coalesce(decision, ''), coalesce(message_id, ''), "
            "attempts, coalesce(worker, '') FROM runs")}
        decided_events = {}
        for rid, n in self.db.rows_patient(
                "SELECT run_id, count(*) FROM run_events WHERE event = 'decided' GROUP BY run_id"):
            decided_events[rid] = int(n)
        execute_actors = {}
        for rid, actor in self.db.rows_patient(
                "SELECT run_id, coalesce(actor, '') FROM run_events WHERE event = 'node.execute'"):
            execute_actors.setdefault(rid, []).append(actor)
        dmap = self.final_by("decisions")
        ra, rb = self.final_by(REPLY_A), self.final_by(REPLY_B)

        harness_errors = []
        for rid, r in runs.items():
            if r[3] and self.run_of.get(r[3]) != rid:
                harness_errors.append("run %s has message_id %s: not the UUIDv5 the harness computed"
                                      % (rid, r[3]))

        # A request never published (only after a global timeout) is the
        # harness's, not the worker's: it is reported apart.
        sent = [m for m in self.mids if m in self.published]
        lost = []
        for m in sent:
            rid = self.run_of[m]
            row = runs.get(rid)
            why = []
            if rid not in dmap:
                why.append("no final decision on the decisions queue")
            if row is None:
                why.append("no runs row")
            elif row[1] != "decided":
                why.append("runs.status %s" % row[1])
            if why:
                lost.append({"message_id": m, "run_id": rid, "why": why})

        doubled = []
        all_msgs = {}
        for name, ms in self.msgs.items():
            for x in ms:
                if x.get("run_id") and x.get("final") is True:
                    all_msgs.setdefault(x["run_id"], set()).add((x.get("decision"), x.get("reason")))
        for rid in set(runs) | set(all_msgs):
            why = []
            if decided_events.get(rid, 0) > 1:
                why.append("%d decided rows in run_events" % decided_events[rid])
            if len(all_msgs.get(rid, ())) > 1:
                why.append("decision messages disagree: %s" % sorted(all_msgs[rid], key=str))
            if why:
                doubled.append({"run_id": rid, "message_id": self.mid_of.get(rid), "why": why})

        tools = analyze_markers(read_markers(self.markers), self.arts, self.killed9,
                                execute_actors, self.executed_by_logs())
        unfinished = [{"run_id": rid, "status": r[1], "message_id": r[3]}
                      for rid, r in runs.items() if r[1] in ("received", "running")]
        dead_n = self.mq.count(self.dead_q)
        dead = []
        for m, props, body in self.mq.peek(self.dead_q):
            h = props.headers or {}
            dead.append({"message_id": props.message_id,
                         "x-qf-error": str(h.get("x-qf-error", ""))[:300],
                         "x-death": str(h.get("x-death", ""))[:300],
                         "x-first-death-reason": str(h.get("x-first-death-reason", ""))})
        unanswered_a = [m for m in sent if self.run_of[m] not in ra]
        unanswered_b = [m for m in self.resent if self.run_of[m] not in rb]
        queued_left = self.mq.count(self.queue)

        counts = {
            "lost": len(lost),
            "doubled": len(doubled),
            "repeated_tool_runs": len(tools["repeated"]),
            "side_by_side_tool_runs": len(tools["overlaps"]),
            "orphaned_tool_processes": len(orphans),
            "unfinished_runs": len(unfinished),
            "dead_letters": dead_n if dead_n is not None and dead_n >= 0 else 0,
            "unanswered_resends": len(unanswered_a) + len(unanswered_b),
        }
        decisions = {}
        for x in dmap.values():
            decisions[x["decision"]] = decisions.get(x["decision"], 0) + 1
        info = {
            "requests": len(self.mids), "real_tool_runs": len(self.real),
            "not_published": len(self.mids) - len(sent),
            "workers": p["workers"], "faults": sorted(self.faults),
            "runs_rows": len(runs), "tool_starts": tools["starts"],
            "runs_with_a_tool_start": tools["runs_with_tool"],
            "final_decisions_by_decision": decisions,
            "decision_messages": {k: len(v) for k, v in self.msgs.items()},
            "non_pass_decisions": sorted({(self.mid_of.get(x["run_id"]), x["reason"])
                                          for x in dmap.values() if x["decision"] != "PASS"},
                                         key=str)[:50],
            "awaiting_approval": sum(1 for r in runs.values() if r[1] == "awaiting_approval"),
            "max_attempts": max([int(r[4]) for r in runs.values()] or [0]),
            "queued_left": queued_left,
            "unanswered_reply_a": len(unanswered_a), "unanswered_reply_b": len(unanswered_b),
            "workers_killed9": len(self.killed9),
            "worker_exit_statuses": dict(sorted(
                {k: sum(1 for x in self.exits if "%s:%s" % (x["how"], x["status"]) == k)
                 for k in {"%s:%s" % (x["how"], x["status"]) for x in self.exits}}.items())),
            "worker_exits": self.exits,
            "harness_amqp_reconnects": self.mq.reconnects,
            "timed_out": self.timed_out,
            "harness_errors": harness_errors,
            "seconds": round(time.time() - self.t_start, 1),
        }
        info.update(self.stats)
        details = {
            "lost": lost, "doubled": doubled, "repeated_tool_runs": tools["repeated"],
            "side_by_side_tool_runs": tools["overlaps"],
            "orphaned_tool_processes": [{"pid": pid, "cmdline": c} for pid, c in orphans],
            "unfinished_runs": unfinished, "dead_letters": dead,
            "unanswered_reply_a": unanswered_a, "unanswered_reply_b": unanswered_b,
            "resent": self.resent,
        }
        return {"mode": self.a.mode, "prefix": self.prefix, "seed": self.a.seed,
                "counts": counts, "info": info, "details": details}

    def executed_by_logs(self):
        """(run_id, worker PID) of every execute node a worker logged as
        saved ("node.done" follows a successful checkpoint)."""
        out = set()
        for name in os.listdir(self.wdir):
            with open(os.path.join(self.wdir, name), "rb") as f:
                for line in f:
                    if b'"node.done"' not in line or b'"node":"execute"' not in line:
                        continue
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    out.add((e.get("run_id"), e.get("pid")))
        return out

    def report(self, s):
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump(s, f, indent=2, default=str)
        c, i = s["counts"], s["info"]
        zero = all(v == 0 for v in c.values())
        ok = zero and not i["timed_out"] and not i["harness_errors"]
        rows = [
            ("lost", c["lost"], "no final decision on the decisions queue, or runs.status not decided"),
            ("doubled", c["doubled"], "decided twice (run_events) or disagreeing decision messages"),
            ("repeated tool runs", c["repeated_tool_runs"], "tool started again, not excused by a kill -9"),
            ("side-by-side tool runs", c["side_by_side_tool_runs"], "a tool started while one of its run was alive"),
            ("orphaned tool processes", c["orphaned_tool_processes"], "alive after every worker stopped"),
            ("runs left unfinished", c["unfinished_runs"], "runs rows received/running"),
            ("dead letters", c["dead_letters"], "in %s" % self.dead_q),
            ("unanswered re-sends", c["unanswered_resends"], "reply.a missing %d, reply.b missing %d"
             % (i["unanswered_reply_a"], i["unanswered_reply_b"])),
        ]
        out = ["", "chaos %s (%s): %d requests (%d real tool runs), %d workers, %.0f s%s" % (
            s["mode"], ",".join(i["faults"]) or "no faults", i["requests"], i["real_tool_runs"],
            i["workers"], i["seconds"], ", TIMED OUT" if i["timed_out"] else "")]
        out.append("  faults: %d kill -9, %d drains (%d timed out), %d broker restarts, "
                   "%d database restarts, %d re-sends (%d while the tool ran)%s" % (
                       i["kills"], i["drains"], i["drain_timeouts"], i["broker_restarts"],
                       i["db_restarts"], i["resends"], i["resends_while_running"],
                       ", %d infra failures" % i["infra_failures"] if i["infra_failures"] else ""))
        out.append("  runs: %d rows, decisions %s, %d tool starts in %d runs, max attempts %d, "
                   "%d unexpected worker exits" % (
                       i["runs_rows"], i["final_decisions_by_decision"], i["tool_starts"],
                       i["runs_with_a_tool_start"], i["max_attempts"], i["unexpected_exits"]))
        out.append("  worker exits (how:status): %s" % (
            ", ".join("%s x%d" % kv for kv in i["worker_exit_statuses"].items()) or "none"))
        out.append("")
        out.append("  %-26s %6s   %s" % ("count", "value", "meaning"))
        for name, v, meaning in rows:
            out.append("  %-26s %6d   %s%s" % (name, v, meaning, "" if v == 0 else "   <--"))
        for e in i["harness_errors"]:
            out.append("  HARNESS ERROR: %s" % e)
        if i["timed_out"]:
            out.append("  the global timeout cut the run short; %d requests were never published"
                       % i["not_published"])
        out.append("")
        out.append("  %s   (details: %s/summary.json; logs: %s/workers/)" % (
            "PASS: every count is 0" if ok else "FAIL", self.out, self.out))
        print("\n".join(out), flush=True)
        return 0 if ok else 1 if not zero else 2

    # -------------------------------------------------------------- the run

    def run(self):
        self.setup_files()
        self.mq = Amqp(self.a.amqp_url, self.log)
        self.next_poll = 0.0
        self.setup_amqp()
        self.make_requests()
        self.log.event("config", profile=self.p, faults=sorted(self.faults), prefix=self.prefix,
                       seed=self.a.seed, qf=self.a.qf, src=self.a.src)
        for w in self.workers:
            self.start_worker(w)
        for w in self.workers:
            if not self.wait_ready(w):
                raise RuntimeError("worker %d is not ready after 90 s: %s" % (w.slot, w.log))
        self.log.say("%d workers ready (prefix %s); publishing %d requests (%d real tool runs)%s"
                     % (len(self.workers), self.prefix, len(self.mids), len(self.real),
                        ", at most %d undecided at a time" % self.p["window"]
                        if self.p["window"] > 0 else ""))
        self.pending = list(self.mids)
        self.feed()
        try:
            self.chaos_phase()
            self.wait_phase()
        except TimeoutError:
            self.timed_out = True
            self.log.say("global timeout (%d s): judging what there is" % self.p["limit_s"])
        self.log.say("stopping the workers")
        self.stop_workers()
        return self.report(self.judge())  # the exit status

    def cleanup(self):
        """Whatever happened: no worker, tool or infra job outlives us."""
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                    w.proc.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        if self.infra is not None and self.infra[1].poll() is None:
            # Let a restart finish: the servers must be up for run.sh's stop.
            try:
                self.infra[1].wait(timeout=240)
            except subprocess.TimeoutExpired:
                self.infra[1].kill()
        for pid, _ in processes_mentioning([self.arts, self.ws]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --------------------------------------------------------------- self-check

def self_check(a):
    """Checks of the harness itself, without servers or workers: the marker
    test run by pytest (a start, an overlap for two tools of one run at
    once, an end) and the judgement of repeated tool runs."""
    out = a.out
    shutil.rmtree(out, ignore_errors=True)
    demo = os.path.join(out, "ws", "demo")
    os.makedirs(os.path.join(demo, "tests", "chaos"))
    with open(os.path.join(demo, "pytest.ini"), "w") as f:
        f.write("[pytest]\naddopts = -p no:cacheprovider\n")
    markers = os.path.join(out, "markers.jsonl")
    arts = os.path.join(out, "artifacts")
    with open(os.path.join(demo, "tests", "chaos", "test_chaos.py"), "w") as f:
        f.write(MARKER_TEST % {"marker": markers})
    failures = []

    def check(cond, what):
        print("self-check: %s %s" % ("ok  " if cond else "FAIL", what), flush=True)
        if not cond:
            failures.append(what)

    def tool(art):
        env = dict(os.environ, QF_ARTIFACT_DIR=art, PYTHONDONTWRITEBYTECODE="1")
        return subprocess.Popen([a.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "tests/chaos"], cwd=demo, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def sleep_of(art):  # as the marker test computes it
        return 1.0 + (int(hashlib.sha256(art.encode()).hexdigest()[:8], 16) % 3001) / 1000.0

    # Run A's tools sleep at least 2.5 s, so that the second surely starts
    # while the first is alive.
    while True:
        run_a = str(uuid.uuid4())
        art_a = os.path.join(arts, run_a, "tools", "run_pytest")
        if sleep_of(art_a) >= 2.5:
            break
    run_b = str(uuid.uuid4())
    art_b = os.path.join(arts, run_b, "tools", "run_pytest")
    # Two tools of run A side by side, then one of run B alone, then A once
    # more after both ended (a repeat, but not side by side).
    p1 = tool(art_a)
    time.sleep(0.8)
    p2 = tool(art_a)
    for p in (p1, p2):
        o, _ = p.communicate(timeout=60)
        last = (o.decode().strip().splitlines() or [""])[-1]
        check(p.returncode == 0, "the marker test passes under pytest (%s)" % last)
    p3 = tool(art_b)
    p3.communicate(timeout=60)
    p4 = tool(art_a)
    p4.communicate(timeout=60)
    m = read_markers(markers)
    ev = lambda kind, art: [e for e in m if e["event"] == kind and e["artifact_dir"] == art]
    check(len(ev("start", art_a)) == 3 and len(ev("end", art_a)) == 3, "run A: 3 starts, 3 ends")
    ov = ev("overlap", art_a)
    check(len(ov) == 1 and ov[0]["pid"] == p2.pid and ov[0]["other_pid"] == p1.pid,
          "run A: exactly one overlap, the second tool seeing the first")
    check(len(ev("start", art_b)) == 1 and not ev("overlap", art_b), "run B: one start, no overlap")
    check(all(e["ppid"] == os.getpid() for e in m), "ppid is the process that started the tool")
    s_a = [e for e in ev("start", art_a)]
    check(s_a[0]["pid"] == p1.pid and all(isinstance(e["starttime"], int) for e in s_a),
          "start entries carry the tool's pid and start time")
    # The same sleep for every tool of a run, 1-4 s.
    ends = {e["pid"]: e["t"] for e in ev("end", art_a)}
    took = [ends[e["pid"]] - e["t"] for e in s_a]
    want = sleep_of(art_a)
    check(all(abs(t - want) < 0.3 for t in took),
          "a run's tools sleep the same 1-4 s (%.2f s: %s)" % (want, ", ".join("%.2f" % t for t in took)))

    me = os.getpid()
    r = analyze_markers(m, arts, {}, {})
    check(len(r["repeated"]) == 2 and {x["run_id"] for x in r["repeated"]} == {run_a},
          "live markers: run A's 2nd and 3rd starts are repeated tool runs (no kill)")
    check(len(r["overlaps"]) == 1, "live markers: one side-by-side tool run")
    early = {me: min(e["t"] for e in m) - 1}
    r = analyze_markers(m, arts, early, {})
    check(not r["repeated"], "excused when the earlier tools' worker was kill -9'ed before node.execute")
    r = analyze_markers(m, arts, {me: time.time()}, {})
    check(len(r["repeated"]) == 2, "not excused when that worker was killed only after the re-start")
    r = analyze_markers(m, arts, early, {run_a: ["host:%d" % me]})
    check(len(r["repeated"]) == 2, "not excused when that worker recorded node.execute")
    r = analyze_markers(m, arts, early, {}, {(run_a, me)})
    check(len(r["repeated"]) == 2, "not excused when that worker logged node.done execute")
    r = analyze_markers(m, arts, early, {run_a: ["host:%d" % (me * 10 + 1)]})
    check(not r["repeated"], "a node.execute by a worker whose pid only starts with the same digits does not count")

    # Synthetic: three starts; the first's worker killed, the second's not.
    def start(run, pid, ppid, t):
        return {"event": "start", "artifact_dir": os.path.join(arts, run, "tools", "run_pytest"),
                "pid": pid, "ppid": ppid, "t": t}
    syn = [start("r1", 11, 101, 1.0), start("r1", 12, 102, 2.0), start("r1", 13, 103, 3.0),
           start("r2", 21, 201, 1.0), start("r2", 22, 202, 2.0),
           start("r3", 31, 301, 1.0)]
    r = analyze_markers(syn, arts, {101: 0.5, 201: 0.5}, {"r2": ["h:201"]})
    rep = sorted((x["run_id"], x["start"]["pid"]) for x in r["repeated"])
    check(rep == [("r1", 13), ("r2", 22)],
          "synthetic: r1's 2nd start excused, its 3rd not (102 alive); r2 not (201 executed): %s" % rep)
    check(run_of_artifact_dir(art_a, arts) == run_a and run_of_artifact_dir(arts, arts) is None,
          "run id from the artifact dir")
    print("self-check: %s" % ("PASS" if not failures else "FAIL (%d)" % len(failures)), flush=True)
    return not failures


# --------------------------------------------------------------------- main

def main():
    global _libc
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", dest="mode", action="store_const", const="short")
    ap.add_argument("--long", dest="mode", action="store_const", const="long")
    ap.add_argument("--no-faults", action="store_true",
                    help="the same load with no faults at all (no kills, drains, restarts, re-sends)")
    ap.add_argument("--faults", help="only these faults: a comma list of " + ",".join(FAULTS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--delivery-limit", type=int, default=3,
                    help="QF_DELIVERY_LIMIT of the workers (default 3, the product's default)")
    for k in OVERRIDES:
        ap.add_argument("--" + k.replace("_", "-"), dest=k, type=int)
    ap.add_argument("--env", action="append", metavar="K=V",
                    help="one more variable for the workers (e.g. QF_LEASE_S=10); repeatable")
    ap.add_argument("--self-check", action="store_true")
    ap.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--qf")
    ap.add_argument("--src")
    ap.add_argument("--repo")
    ap.add_argument("--out", required=True)
    ap.add_argument("--psql", default="psql")
    ap.add_argument("--python", default="/usr/bin/python3")
    a = ap.parse_args()
    a.mode = a.mode or "short"
    if a.parse_only:  # run.sh: refuse bad options before starting servers
        bad = set(a.faults.split(",")) - set(FAULTS) if a.faults else set()
        if bad:
            ap.error("unknown faults %s (known: %s)" % (",".join(sorted(bad)), ",".join(FAULTS)))
        return 0
    a.here = os.path.dirname(os.path.abspath(__file__))
    # URLs with passwords come in the environment, not on the command line.
    a.amqp_url = os.environ.get("CHAOS_AMQP_URL")
    a.admin_db = os.environ.get("CHAOS_ADMIN_DB")
    a.worker_db = os.environ.get("CHAOS_WORKER_DB")
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        _libc = None
    if a.self_check:
        return 0 if self_check(a) else 1
    for k in ("qf", "src"):
        if not getattr(a, k):
            ap.error("--%s is required (run.sh passes it)" % k)
    for k in ("CHAOS_AMQP_URL", "CHAOS_ADMIN_DB", "CHAOS_WORKER_DB"):
        if not os.environ.get(k):
            ap.error("%s must be set (run.sh sets it)" % k)
    os.makedirs(a.out, exist_ok=True)

    def on_signal(sig, frame):
        # Once: the cleanup must not be cut short by the next one (run.sh's
        # trap sends SIGTERM after a Ctrl-C).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt
    # SIGINT too: a background job of a shell script starts with SIGINT
    # ignored, and Ctrl-C must still stop the harness (and its workers).
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    c = Chaos(a)
    # The last resort behind the program's own timeouts.
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(c.p["limit_s"] + 240)
    try:
        return c.run()
    except KeyboardInterrupt:
        print("chaos: interrupted; cleaning up", file=sys.stderr)
        return 130
    except Exception as e:
        print("chaos: harness error: %r" % e, file=sys.stderr)
        import traceback
        traceback.print_exc()
        return 2
    finally:
        signal.alarm(0)
        # run.sh's trap sends SIGTERM too: the cleanup must not be cut short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        c.cleanup()


if __name__ == "__main__":
    sys.exit(main())
