"""Hostile workers and hash flooding, against the real daemon.

A worker is trusted with secrets, but the broker must not trust it with
other workers' requests: a worker that is buggy, of another version, or
compromised speaks on the same socket as the good ones.  Here a misbehaving
worker (Python speaking protocol v2 from docs/protocol.md, on the front's
worker socket, next to real C workers) does one wrong thing per test while
a bounded load of real token requests runs, each request with an assertion
of its own.  Every answer is checked: a 200 whose token verifies under the
service secret for the user whose assertion was sent (uid by
docs/tokens.md, computed here), or a clean 503/504 for a job the bad worker
was given; never a token for someone else, never two answers (the access
log has one line per request), never a hang (every request ends within
request_timeout and a margin).

  malformed  frames broken every way the layout can break, an unknown
             command, a REPLY with no valid job id, a version 3 header:
             ignored, each logged with the worker's identity; the worker
             keeps its place and its jobs
  strays     REPLYs carrying mallory's token for jobs the worker does not
             hold: a slow honest worker's job, the ids around its own, a
             slot out of range: dropped and logged, and the honest worker's
             answer is the one its client gets
  twice      a second REPLY to each job (mallory's token): dropped, logged
  oversize   a frame over the 128 KiB limit: ZeroMQ drops the worker's
             connection; the broker forgets it when a send to it fails,
             or as hung within liveness (logged), and its jobs go to the
             C workers
  credit     READY asking for absurd credit (10^18 - 1, 0, -1, "abc", 19
             digits): capped by worker_credit or taken as 1, as WELCOME
             says, logged; never more jobs outstanding than granted
  flooding   a body of 10,000 members is refused 400, naming the body,
             within a few milliseconds; a JWT of 400 claims is refused
             401 by the worker (docs/security.md, Hash flooding)

Run from the repository root:  /usr/bin/python3 tests/integration/test_badworker.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import hashlib
import hmac
import json
import os
import queue
import re
import statistics
import struct
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, ISS, SYNC, SYNC_NODE,  # noqa: E402
                        new_secret, test)

DURATION = 1800
TOKEN_FIELDS = {"id", "key", "uid", "api_endpoint", "duration", "hashalg",
                "expires"}
USERS = 16
HB_MS = 200
LIVENESS = 3
CREDIT = 4              # worker_credit: what the broker grants at most
REQUEST_TIMEOUT = 5
MAX_FRAME = 131072      # PROTO_MAX_FRAME, ZMQ_MAXMSGSIZE of the front
MAX_BODY = 69632        # the largest max_body
POOL = {"heartbeat_interval": HB_MS, "heartbeat_liveness": LIVENESS,
        "request_timeout": REQUEST_TIMEOUT, "shutdown_timeout": 3,
        "worker_credit": CREDIT}

S = types.SimpleNamespace(key=None, uid_secret=None, sync_secret=None)


def setup():
    if not os.access(T.tokend_path(), os.X_OK):
        raise RuntimeError(f"{T.tokend_path()} not built (make)")
    S.key = T.Key("EdDSA")          # the cheapest signature to verify
    S.uid_secret = new_secret()
    S.sync_secret = new_secret()


def instance(name, workers=2, **server):
    """A started instance with POOL's settings, server overriding."""
    t = T.one_issuer_instance(
        f"tkd-bad-{name}-", S.key, sync_secret=S.sync_secret,
        uid_secret=S.uid_secret, service=T.service_section(duration=DURATION),
        **dict(POOL, workers=workers, **server))
    t.start()
    return t


# ---------------------------------------------------------------- tokens

def uid_of(sub):
    """docs/tokens.md, "uid": HMAC-SHA256(uid secret, namespace || 0 ||
    sub), the first 8 bytes big-endian, shifted right by 11; the namespace
    is the issuer's iss."""
    mac = hmac.new(S.uid_secret.encode(), ISS.encode() + b"\x00" +
                   sub.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 11


def sub_of(assertion):
    """The sub claim of a JWT (read, not verified: the test signed it)."""
    return json.loads(T.b64url_decode(assertion.split(".")[1]))["sub"]


def reply_for(job_id, sub):
    """A REPLY's fields with a token for sub that checks under the service
    secret, as a worker holding the secrets would mint it."""
    uid = uid_of(sub)
    tok = T.make_token({"uid": uid, "node": SYNC_NODE}, S.sync_secret,
                       duration=DURATION)
    expires = int(time.time()) + DURATION
    return [("job", job_id), ("id", tok),
            ("key", T.get_derived_secret(tok, S.sync_secret)),
            ("uid", str(uid)), ("api_endpoint", SYNC_NODE),
            ("duration", str(DURATION)), ("expires", str(expires)),
            ("hashalg", "sha256")]


def mallory(job_id):
    """A REPLY for job_id carrying a valid token for someone else."""
    return reply_for(job_id, "mallory")


# ---------------------------------------------------------------- load

class Requests:
    """The load's request maker: request n of thread i carries an
    assertion of its own (a jti), so that an answer can be traced to its
    user and to the worker that was given it."""

    def __init__(self):
        self.sent = {}

    def __call__(self, i, n):
        sub = f"user{(i * 7 + n) % USERS}"
        a = T.sign_jwt(S.key, T.claims(sub, iss=ISS, aud=AUD, lifetime=900,
                                       jti=f"{i}.{n}"))
        self.sent[(i, n)] = (sub, a)
        return ("POST", "/v1/token", {"assertion": a, "service": SYNC})


def load(t, seconds=3, threads=6):
    reqs = Requests()
    ld = T.Load(t.port, reqs, threads=threads, seconds=seconds,
                max_per_thread=100000, timeout=REQUEST_TIMEOUT + 3)
    ld.reqs = reqs
    return ld


def check_answers(t, ld, mark, held=()):
    """Every request of ld got the answer its own user should get: a 200
    with a token for that user, or, for an assertion in held (jobs the bad
    worker was given), a 503 or 504 in tokend's style; and the access log
    since mark has exactly one line per request.  Returns the kinds."""
    bad = []
    per_thread = {}
    for o in ld.results:
        per_thread.setdefault(o.thread, []).append(o)
    for i, outs in per_thread.items():
        for n, o in enumerate(outs):
            sub, a = ld.reqs.sent[(i, n)]
            why = answer_fault(o, sub, a in held)
            if why:
                bad.append(f"thread {i} request {n} ({sub}): {why}")
    assert not bad, f"{len(bad)} wrong answers of {len(ld.results)} " \
                    f"({ld.kinds()}):\n  " + "\n  ".join(bad[:8]) + \
                    f"\nlog:\n{t.stderr_tail(25)}"
    def logged():
        return len(re.findall(r"POST /v1/token \d{3} ", t.log_since(mark)))
    # A line is written once the answer is sent: poll for the last ones.
    try:
        T.wait_until(lambda: logged() >= len(ld.results), 2, interval=0.02)
    except TimeoutError:
        pass
    assert logged() == len(ld.results), \
        f"{len(ld.results)} requests, {logged()} access log lines"
    return ld.kinds()


def answer_fault(o, sub, held):
    """Why outcome o is not a right answer for sub, or None."""
    if o.exc is not None:
        return f"{o.kind}: {o.exc!r}"
    body = o.body
    if o.status in (503, 504) and held and isinstance(body, dict) and \
            body.get("status") in ("unavailable", "timeout"):
        return None
    if o.status != 200 or not isinstance(body, dict) or \
            set(body) != TOKEN_FIELDS:
        return f"{o.status} {body!r}"
    try:
        payload = T.parse_token(body["id"], S.sync_secret)
    except T.TokenError as e:
        return f"token does not verify: {e}"
    want = uid_of(sub)
    if payload["uid"] != want or body["uid"] != want:
        return f"a token for uid {payload['uid']} (body {body['uid']}), " \
               f"not {want}: someone else's"
    if body["key"] != T.get_derived_secret(body["id"], S.sync_secret) or \
            body["api_endpoint"] != SYNC_NODE:
        return f"key or node do not belong to the token: {body!r}"
    return None


# ---------------------------------------------------------------- workers

class BadWorker(T.PyWorker):
    """A Python worker on t's worker socket that runs in a thread of its
    own: it answers its jobs with right tokens (answer) or holds them, and
    a test adds one wrong thing by overriding on_job() or handing it
    actions (do()), which run in its thread, the only one that touches its
    socket."""

    def __init__(self, t, name, credit="1", answer=True):
        super().__init__(t.path("run/worker.sock"),
                         f"py-bad-{name}".encode(), beat=HB_MS / 1000 / 2)
        self.t = t
        self.answer = answer
        self.credits = [credit]     # asked for, one per READY
        self.granted = []           # WELCOME's credit, one per READY
        self.jobs = []              # every JOB's fields, in order
        self.held = set()           # job ids held since the last WELCOME
        self.max_held = 0           # most held at once, per registration
        self.resyncs = 0
        self.closed = False         # the front closed the connection
        self.error = None
        self.stopped = False
        self._todo = queue.Queue()
        self._stop = threading.Event()
        self._thread = None

    @property
    def name(self):
        return self.identity.decode()

    @property
    def log_name(self):
        """How the front's log names it: identity and pid."""
        return rf"{re.escape(self.name)} \(pid {os.getpid()}\)"

    def ready(self, credit):
        self.send(T.READY, [("versions", "2"), ("credit", credit),
                            ("pid", str(os.getpid()))])

    def join(self):
        """READY and WELCOME, before the thread starts."""
        self.ready(self.credits[0])
        terms = self.expect(T.WELCOME)
        assert terms is not None, f"{self.name}: no WELCOME"
        self.granted.append(int(terms["credit"]))
        return self

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def do(self, fn):
        """Runs fn(self) in the worker's thread."""
        self._todo.put(fn)

    def _run(self):
        try:
            while not self._stop.is_set():
                while not self._todo.empty():
                    self._todo.get()(self)
                got = self.recv(0.02)
                if got is not None:
                    self.on_message(*got)
                else:
                    self.on_idle()
        except (EOFError, ConnectionError):
            self.closed = True
        except Exception as e:
            self.error = e

    def on_message(self, cmd, f):
        if cmd == T.JOB:
            self.jobs.append(f)
            self.held.add(f["job"])
            self.max_held = max(self.max_held, len(self.held))
            self.on_job(f)
        elif cmd == T.RESYNC:
            self.on_resync()
        elif cmd == T.WELCOME:
            self.granted.append(int(f["credit"]))

    def on_job(self, f):
        if self.answer:
            self.reply_right(f)

    def on_idle(self):
        """Nothing came for 20 ms."""

    def on_resync(self):
        """Forgotten (its held jobs went elsewhere): READY again."""
        self.resyncs += 1
        self.held = set()
        self.ready(self.credits[-1])

    def reply_right(self, f):
        self.send(T.REPLY, reply_for(f["job"], sub_of(
            f["assertion"].decode())))
        self.held.discard(f["job"])

    def assertions(self):
        return {f["assertion"].decode() for f in self.jobs}

    def stop(self, bye=False):
        """Ends its thread; then, with bye, says BYE (docs/protocol.md: it
        leaves, so the broker sends its jobs elsewhere, counting nothing)."""
        if self.stopped:
            return
        self.stopped = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            assert not self._thread.is_alive(), f"{self.name} still runs"
        if bye and not self.closed:
            self.send(T.BYE)
        self.close()
        if self.error is not None:
            raise AssertionError(f"{self.name} failed: {self.error!r}")


def wait_jobs(w, n, timeout=10):
    T.wait_until(lambda: len(w.jobs) >= n, timeout, interval=0.02,
                 what=f"{n} jobs at {w.name} (has {len(w.jobs)})")


def run_until(t, ld, cond, what, timeout=15):
    """Runs load ld until cond() holds (polled), then stops it."""
    ld.start()
    try:
        T.wait_until(cond, timeout, interval=0.02, what=what)
    except TimeoutError as e:
        raise AssertionError(f"{e}; load {ld.kinds()}\n"
                             f"{t.stderr_tail()}") from None
    finally:
        ld.stop()


def wait_welcomed(t, pids):
    """Polls with single requests until each C worker of pids has answered
    one: then the broker knows them all before a test's worker joins.
    Returns once each of those requests is in the access log, so that a
    log mark taken next counts a test's requests only."""
    rx = re.compile(r"POST /v1/token 200 .* worker=(\d+)")
    reqs = Requests()

    def known():
        T.Load(t.port, reqs, threads=2 * len(pids), seconds=5,
               max_per_thread=1).start().join()
        return set(pids) <= {int(m.group(1)) for m in
                             rx.finditer(t.stderr())}
    T.wait_until(known, 10, interval=0.01, what=f"answers from {pids}")
    T.wait_until(lambda: len(re.findall(r"POST /v1/token ", t.stderr())) >=
                 len(reqs.sent), 5, interval=0.01, what="access log lines")


def frame(cmd, body=b""):
    """A version 2 header and raw record bytes, well-formed or not."""
    return bytes([2, cmd]) + body


def record(key, value, length=None):
    """One record; length overrides the value length it claims."""
    return bytes([len(key)]) + key + struct.pack(
        ">I", len(value) if length is None else length) + value


# ---------------------------------------------------------------- malformed

@test
def malformed_frames_ignored_and_logged():
    """Each way a message can break the layout, from a worker that
    otherwise answers its jobs: dropped, logged with its identity, and it
    keeps its place (no "forgotten", jobs keep coming)."""
    t = instance("malformed", workers=1)
    w = None
    try:
        wait_welcomed(t, t.wait_workers(1))
        w = BadWorker(t, "malformed", credit="2").join()
        me = w.log_name
        cases = [
            ([b""], rf"malformed message from worker {me}: no header"),
            ([b"\x02"], rf"malformed message from worker {me}: no header"),
            ([frame(T.REPLY, b"\x00")],
             rf"malformed message from worker {me}: empty key"),
            ([frame(T.REPLY, record(b"job", b"1234", length=8))],
             rf"malformed message from worker {me}: field runs past the "
             r"end"),
            ([frame(T.HEARTBEAT, b"".join(record(b"k%d" % i, b"v")
                                           for i in range(17)))],
             rf"malformed message from worker {me}: too many fields"),
            ([frame(T.REPLY, record(b"id", b"x", length=65537))],
             rf"malformed message from worker {me}: value over the limit"),
            ([frame(T.HEARTBEAT), b"second"],
             rf"malformed message from worker {me}: more than one frame"),
            ([frame(42)], rf"worker {me}: unknown command 42"),
            ([frame(T.REPLY, record(b"job", b"1234567"))],
             rf"worker {me}: REPLY without a valid job id"),
            ([frame(T.REPLY)], rf"worker {me}: REPLY without a valid job "
                               r"id"),
            ([bytes([3, T.REPLY])],
             rf"worker {re.escape(w.name)} refused: this front speaks "
             r"worker protocol version 2; the worker offered version 3"),
        ]
        nxt = iter(range(len(cases) * 100))

        def on_job(f):
            # One broken message before each answer, cycling.
            w.send_frames(cases[next(nxt) % len(cases)][0])
            w.reply_right(f)
        w.on_job = on_job
        mark = t.log_mark()
        for frames, _ in cases:
            w.send_frames(frames)
        w.start()
        ld = load(t)
        run_until(t, ld, lambda: len(w.jobs) >= 3 * len(cases),
                  f"{3 * len(cases)} jobs at the malformed worker")
        during = t.log_since(mark)  # before it goes
        w.stop()
        kinds = check_answers(t, ld, mark)
        log = t.log_since(mark)
        for _, pattern in cases:
            assert re.search(pattern, log), f"no log line /{pattern}/:\n" \
                f"{t.stderr_tail(30)}"
        assert "forgotten" not in during, during[-3000:]
        assert not w.closed and w.resyncs == 0
        answered = len(re.findall(rf"worker={os.getpid()}\b", log))
        print(f"# {kinds}; the malformed worker took {len(w.jobs)} jobs "
              f"and answered {answered}", flush=True)
        assert answered == len(w.jobs), (answered, len(w.jobs))
    finally:
        if w is not None:
            w.stop()
        t.stop()


# ---------------------------------------------------------------- strays

def ids_around(job_id, spread=3):
    """Job ids near job_id (slot index and generation, native order, as
    the broker makes them): what a worker could guess from its own."""
    slot, gen = struct.unpack("=II", job_id)
    for ds in range(-spread, spread + 1):
        for dg in range(-1, 2):
            if (ds, dg) != (0, 0) and slot + ds >= 0:
                yield struct.pack("=II", slot + ds, (gen + dg) & 0xffffffff)


@test
def replies_for_jobs_not_held_dropped_and_logged():
    """A bad worker sends mallory's token in REPLYs naming jobs it was not
    given: the job a slow honest Python worker holds at that moment, the
    ids around its own (jobs the C worker holds, or queued, or free slots)
    and a slot out of range.  None reaches a client: the honest worker's
    answer is the one its client gets, and every stray is logged."""
    t = instance("strays", workers=1)
    bad = honest = None
    try:
        wait_welcomed(t, t.wait_workers(1))
        mark = t.log_mark()
        # Registered before the bad one, so that it is given jobs first.
        honest = BadWorker(t, "honest", answer=False).join()
        bad = BadWorker(t, "stray").join()
        stray = rf"worker {bad.log_name}: REPLY for a job it does not " \
                r"hold: dropped"
        # A message the broker logs after it has read the ones before.
        marker = rf"worker {bad.log_name}: unknown command 42"

        def forge(job_id):
            """In bad's thread: mallory's REPLY for job_id, then the
            marker."""
            def fn(w):
                w.send(T.REPLY, mallory(job_id))
                w.send_frames([frame(42)])
            return fn

        def bad_job(f):
            for job_id in ids_around(f["job"]):
                bad.send(T.REPLY, mallory(job_id))
            bad.send(T.REPLY, mallory(struct.pack("=II", 1 << 31, 0)))
            bad.reply_right(f)
        bad.on_job = bad_job

        def honest_job(f):
            # Slow but honest: it keeps the job (PROGRESS) until the
            # broker has read the bad worker's REPLY for it, then answers.
            n = len(re.findall(marker, t.log_since(mark)))
            bad.do(forge(f["job"]))
            end = time.monotonic() + 3
            while len(re.findall(marker, t.log_since(mark))) <= n:
                assert time.monotonic() < end, "the forged REPLY was " \
                    "never read"
                honest.send(T.PROGRESS, [("job", f["job"])])
                honest.recv(0.05)
            honest.reply_right(f)
        honest.on_job = honest_job
        honest.start()
        bad.start()
        ld = load(t)
        run_until(t, ld, lambda: len(honest.jobs) >= 5 and
                  len(bad.jobs) >= 5, "5 jobs at each Python worker",
                  timeout=30)
        during = t.log_since(mark)  # before they go
        bad.stop()
        honest.stop()
        kinds = check_answers(t, ld, mark)
        log = t.log_since(mark)
        strays = len(re.findall(stray, log))
        print(f"# {kinds}; the honest worker answered {len(honest.jobs)}, "
              f"the bad one {len(bad.jobs)} and sent {strays} REPLYs for "
              f"jobs it did not hold", flush=True)
        assert strays >= len(honest.jobs) + len(bad.jobs), \
            (strays, len(honest.jobs), len(bad.jobs))
        assert re.search(rf"worker {bad.log_name}: REPLY without a valid "
                         r"job id", log), "the slot out of range"
        assert "forgotten" not in during, during[-3000:]
    finally:
        for w in (bad, honest):
            if w is not None:
                w.stop()
        t.stop()


@test
def second_reply_to_a_job_dropped_and_logged():
    """A worker answers each job right, then again with mallory's token:
    the first answer is the client's, the second is dropped and logged."""
    t = instance("twice", workers=1)
    w = None
    try:
        wait_welcomed(t, t.wait_workers(1))
        mark = t.log_mark()
        w = BadWorker(t, "twice", credit="2").join()

        def on_job(f):
            w.reply_right(f)
            w.send(T.REPLY, mallory(f["job"]))
        w.on_job = on_job
        w.start()
        ld = load(t)
        run_until(t, ld, lambda: len(w.jobs) >= 20,
                  "20 jobs at the worker that answers twice")
        w.stop()
        kinds = check_answers(t, ld, mark)
        twice = t.wait_log(rf"worker {w.log_name}: REPLY for a job it does "
                           r"not hold: dropped", since=mark,
                           count=len(w.jobs), timeout=5)
        print(f"# {kinds}; {len(w.jobs)} jobs answered twice, "
              f"{len(twice)} second answers dropped", flush=True)
        assert len(twice) == len(w.jobs), (len(twice), len(w.jobs))
    finally:
        if w is not None:
            w.stop()
        t.stop()


# ---------------------------------------------------------------- oversize

@test
def oversize_frame_disconnects_the_worker_its_jobs_go_elsewhere():
    """A worker holding jobs sends a frame over ZMQ_MAXMSGSIZE: ZeroMQ
    closes its connection; the broker forgets it (unreachable when it
    sends it the next job, or hung within liveness: logged) and its jobs
    are answered by the C workers."""
    t = instance("oversize", workers=2)
    w = None
    try:
        wait_welcomed(t, t.wait_workers(2))
        mark = t.log_mark()
        w = BadWorker(t, "oversize", credit=str(CREDIT), answer=False)
        w.join()
        sent = []

        def on_job(f):
            if not sent:
                sent.append(time.monotonic())
                w.send_frames([frame(T.REPLY, record(
                    b"job", f["job"]) + record(b"id", b"x" * MAX_FRAME))])
        w.on_job = on_job
        w.start()
        ld = load(t)
        run_until(t, ld, lambda: w.closed, "the front closing the "
                  "oversize worker's connection")
        line = t.wait_log(rf"worker {w.log_name} (unreachable|hung on a "
                          r"job|silent): forgotten", since=mark,
                          timeout=5)[0]
        w.stop()
        kinds = check_answers(t, ld, mark, held=w.assertions())
        print(f"# {kinds}; the oversize worker held {len(w.held)} jobs; "
              f"log: {line.group(0)}", flush=True)
        assert len(w.jobs) >= 1
    finally:
        if w is not None:
            w.stop()
        t.stop()


# ---------------------------------------------------------------- credit

class Batcher(BadWorker):
    """Takes every job it is sent and answers them together once none has
    come for 100 ms, so that it holds all the broker lets it hold at once;
    batches has (credit granted, jobs held) for each batch."""

    def __init__(self, t, name, credit):
        super().__init__(t, name, credit=credit, answer=False)
        self.batches = []
        self.last_job = 0

    def on_job(self, f):
        self.last_job = time.monotonic()

    def on_idle(self):
        if not self.held or time.monotonic() - self.last_job < 0.1:
            return
        self.batches.append((self.granted[-1], len(self.held)))
        for job in [j for j in self.jobs if j["job"] in self.held]:
            self.reply_right(job)


@test
def absurd_credit_capped_and_logged():
    """READY asking for absurd credit gets worker_credit, or 1 for what is
    not a number of 1 or more, as WELCOME says and the log tells.  With the
    C worker stopped, workers that answer only in batches (one per credit
    asked, in turn, each leaving with BYE) are sent exactly that many jobs
    at once, never more, by a load that would fill any credit."""
    t = instance("credit", workers=1)
    asks = [("999999999999999999", CREDIT), ("0", 1), ("-1", 1),
            ("abc", 1), ("9999999999999999999", 1), ("3", 3)]
    stopped, workers = [], []
    try:
        pid = t.wait_workers(1)[0]
        wait_welcomed(t, [pid])
        mark = t.log_mark()
        T.stop_pids([pid])
        stopped.append(pid)
        t.wait_log(rf"worker \S+ \(pid {pid}\) silent: forgotten",
                   since=mark, timeout=5)
        ld = load(t, seconds=60, threads=2 * CREDIT).start()
        try:
            for k, (ask, _) in enumerate(asks):
                w = Batcher(t, f"credit{k}", ask).join().start()
                workers.append(w)
                T.wait_until(lambda: len(w.batches) >= 2 or w.error, 10,
                             interval=0.02, what=f"2 batches at {w.name}")
                if k == len(asks) - 1:
                    ld.stop()       # answered by the last one
                w.stop(bye=True)
        finally:
            ld.stop()
        T.cont_pids(stopped)
        stopped.clear()
        held = set().union(*(w.assertions() for w in workers))
        kinds = check_answers(t, ld, mark, held=held)
        log = t.log_since(mark)
        print(f"# {kinds}; (credit asked, granted, held per batch): " +
              ", ".join(f"({w.credits[0]}, {w.granted[0]}, "
                        f"{[h for _, h in w.batches]})" for w in workers),
              flush=True)
        for w, (ask, given) in zip(workers, asks):
            assert w.granted == [given], (ask, w.granted)
            # Full while the load runs (the first two), never over.
            sizes = [h for _, h in w.batches]
            assert sizes[:2] == [given] * 2 and max(sizes) == given, \
                (ask, w.batches)
            logged = re.search(rf"worker {w.log_name} asked for a credit "
                               rf"of {re.escape(ask)}: given {given}", log)
            # A credit granted as asked is nothing to log.
            assert bool(logged) == (ask != str(given)), \
                f"credit {ask}:\n{t.stderr_tail(30)}"
    finally:
        T.cont_pids(stopped)
        for w in workers:
            w.stop()
        t.stop()


# ---------------------------------------------------------------- flooding

def flood_body(members=10000, per_object=1250):
    """A JSON body of members members in objects of per_object, keys of
    one or two printable characters (distinct within each object), within
    the largest max_body."""
    chars = [chr(c) for c in range(0x20, 0x7f) if chr(c) not in '"\\']
    keys = chars + [a + b for a in chars for b in chars]
    inner = "{" + ",".join(f'"{k}":0' for k in keys[:per_object]) + "}"
    n = members // per_object
    return "{" + ",".join(f'"o{i}":{inner}' for i in range(n)) + "}"


def median_ms(t, body, n=20):
    """The median time of n POSTs of body to /v1/token, in ms, and the
    last answer."""
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        resp = t.request("POST", "/v1/token", body,
                         {"Content-Type": "application/json"})
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times), resp


@test
def ten_thousand_members_refused_in_milliseconds():
    """Hash flooding: the front refuses a body of 10,000 members before
    jansson builds a table of them, 400 naming the body, as fast as a
    small malformed body; a JWT of 400 claims (within the 8 KiB of a JWT)
    is refused 401 by the worker's JOSE reader."""
    t = instance("flood", workers=1, max_body=MAX_BODY)
    try:
        body = flood_body()
        assert len(body) <= MAX_BODY and body.count(":") >= 10000, \
            len(body)
        small_ms, (st, _, small) = median_ms(t, '{"assertion":1}')
        assert st == 400, (st, small)
        flood_ms, (st, _, got) = median_ms(t, body)
        print(f"# 10,000 members: median {flood_ms:.2f} ms; a small "
              f"malformed body: {small_ms:.2f} ms", flush=True)
        assert st == 400 and got["errors"][0]["name"] == "body" and \
            "more than 64 members" in got["errors"][0]["description"], \
            (st, got)
        # A few milliseconds; AddressSanitizer slows every byte's path.
        limit = 15 if T.under_asan(t.front()) else 5
        assert flood_ms < limit, f"{flood_ms:.2f} ms for a refusal " \
                                 f"(limit {limit} ms)"
        claims = T.claims("flood", iss=ISS, aud=AUD, lifetime=900,
                          **{f"c{i}": i for i in range(400)})
        st, _, got = t.token(T.sign_jwt(S.key, claims))
        assert st == 401 and "too many members" in \
            got["errors"][0]["description"], (st, got)
        good = T.sign_jwt(S.key, T.claims("user1", iss=ISS, aud=AUD))
        st, _, got = t.token(good)
        assert st == 200 and got["uid"] == uid_of("user1"), (st, got)
    finally:
        t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
