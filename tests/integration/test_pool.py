"""Robustness tests of tokend's process pool, against the real daemon.

Every test starts its own small instance (fast heartbeats: 200 ms, taken
for dead after 3 missed) and stops it again.  Processes are found from the
supervisor this file started (its children in /proc), never by name, so
other tokend instances on the machine are left alone.  Every load is
bounded in count and time; every wait polls with a deadline.

  death      kill -9 of a worker that holds a job: the job is answered 200
             by another worker, at once (death notice, not heartbeats);
             kill -9 of each worker in turn under load: no failed request
  hang       a SIGSTOPped worker is routed around within heartbeat
             liveness, and forgotten ("hung" / "silent")
  overflow   queue_limit + workers x credit jobs at most: the rest 503 with
             Retry-After at once; the accepted ones finish after SIGCONT
  reload     SIGHUP 2 -> 4 -> 1 workers under load, then ten reloads:
             no request fails; an invalid config on SIGHUP keeps the old
             one (same workers, still 200)
  shutdown   SIGTERM under load: every accepted request answered 200, exit
             0; jobs held by stopped workers are waited for; a request on
             a kept-alive connection during the drain is answered; a new
             connection during the drain is refused, not left hanging
  backoff    a worker crashing at start-up is respawned with a doubling
             delay; one killed from outside at once
  recycling  max_jobs, max_rss: workers replaced, no request lost, pool
             size kept
  framing    an assertion over the 64 KiB frame limit (in the largest
             max_body) gets a JSON error, and every worker keeps serving:
             requests right after it and for 6 s get 200, none is forgotten
  reconnect  a worker whose connection is cut, or whose framing is broken
             by an oversize frame, while it holds a job reconnects with its
             identity and says READY: the job is answered at once, not
             after heartbeat liveness (through a relay on the worker socket)
  protocol   a version 1 worker (speaking ZMTP from Python) is refused in
             its own layout, logged once; a Python version 2 worker gets
             WELCOME's terms, keeps a slow job with PROGRESS, and is taken
             for hung on a silent one; a C worker refused by a (Python)
             broker exits with the fatal code and is not respawned, and
             says READY again on a RESYNC long after an unanswered one
  front      kill -9 of the front: respawned, workers found again, and a
             worker's death still re-dispatches its job at once
  orphans    kill -9 of the supervisor: every worker goes with it, a
             stopped one too; the front drains and goes
  systemd    READY=1, WATCHDOG=1, RELOADING=1, STOPPING=1 on a test
             NOTIFY_SOCKET (path and abstract)
  leaks      2000 requests: the front's descriptors and RSS do not grow

Run from the repository root:  /usr/bin/python3 tests/integration/test_pool.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import http.client
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, ISS, JOB, HEARTBEAT, PROGRESS,  # noqa: E402
                        READY, REFUSE, REPLY, RESYNC, SYNC, WELCOME,
                        PyWorker, Zmtp, test, v2_decode, v2_encode)

TOKEN_FIELDS = {"id", "key", "uid", "api_endpoint", "duration", "hashalg",
                "expires"}
HB_MS = 200
LIVENESS = 3
MAX_BODY = 69632    # the largest max_body: PROTO_MAX_VALUE + 4 KiB
# Every pool instance, unless a test says otherwise.
POOL = {"heartbeat_interval": HB_MS, "heartbeat_liveness": LIVENESS,
        "request_timeout": 5, "shutdown_timeout": 3}

S = types.SimpleNamespace(key=None, jwts=[], sync_secret=None)


def setup():
    if not os.access(T.tokend_path(), os.X_OK):
        raise RuntimeError(f"{T.tokend_path()} not built (make)")
    S.key = T.Key("EdDSA")          # the cheapest signature to verify
    S.sync_secret = T.new_secret()
    S.jwts = [T.sign_jwt(S.key, T.claims(f"user{i}", iss=ISS, aud=AUD,
                                         lifetime=900))
              for i in range(32)]


def configure(t, extra=(), **server):
    """(Re)writes t's config: POOL, then server overrides; extra is a list
    of raw (key, value) pairs appended to [server]."""
    head, items = t.server_section(**dict(POOL, **server))
    return t.write_config((head, items + list(extra)),
                          T.issuer_section(algorithms="EdDSA"),
                          T.service_section(duration=1800))


def instance(name, **server):
    """A configured (not started) instance in a fresh temp dir."""
    t = T.instance(f"tkd-pool-{name}-")
    t.write_secrets(uid=T.new_secret(), sync=S.sync_secret)
    t.write_jwks("example.jwks", [S.key])
    configure(t, **server)
    return t


def token_request(i, n):
    """Load's request maker: a valid token request, users round robin."""
    return ("POST", "/v1/token",
            {"assertion": S.jwts[(i * 7 + n) % len(S.jwts)],
             "service": SYNC})


def is_token(status, body):
    return status == 200 and isinstance(body, dict) and \
        set(body) == TOKEN_FIELDS


def check_token(resp, what="request"):
    """Asserts a 200 with a token whose signature checks under the service
    secret (the full field-by-field check is test_token.py's job)."""
    st, _, body = resp
    assert is_token(st, body), f"{what}: expected a 200 token, got {st} " \
                               f"{body!r}"
    try:
        T.parse_token(body["id"], S.sync_secret)
    except T.TokenError as e:
        raise AssertionError(f"{what}: token does not parse: {e}") from None
    return body


def notable_log(t, since=0, n=25):
    """The log's lines other than successful requests (the last n)."""
    lines = [ln for ln in t.log_since(since).splitlines()
             if not re.search(r" 200 [\d.]+ms worker=[1-9]", ln)]
    return "\n".join(lines[-n:])


def describe(t, load, results=None, n=5, ref=None):
    """kinds, the first failures and the notable log lines, for a
    message; times are relative to ref (monotonic) if given."""
    results = load.results if results is None else results
    bad = [o for o in results if o.kind != "200"][:n]
    ref = load.started if ref is None else ref

    def one(o):
        what = f"{o.status} {o.body!r}" if o.exc is None else \
            f"{o.kind}: {o.exc!r}"
        return f"\n  thread {o.thread}, sent at {o.t0 - ref:+.3f}s, " \
               f"done after {o.t1 - o.t0:.3f}s: {what}"
    return (f"outcomes {load.kinds(results)} of {len(results)}; first "
            f"failures:{''.join(one(o) for o in bad)}\nlog (requests "
            f"answered 200 left out):\n{notable_log(t)}")


def check_load_ok(t, load, minimum=1):
    """Every request of load got a 200 token; at least minimum were sent."""
    assert len(load.results) >= minimum, \
        f"only {len(load.results)} requests sent (expected >= {minimum})"
    bad = [o for o in load.results
           if o.exc is not None or not is_token(o.status, o.body)]
    assert not bad, describe(t, load)


def wait_more(load, n, timeout=10):
    """Polls until load has finished n more requests than now."""
    load.wait_count(load.count() + n, timeout)


def in_thread(fn):
    """Runs fn() in a daemon thread; returns (thread, box) where box gets
    "value" or "exc" and "t1" (monotonic end)."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except Exception as e:
            box["exc"] = e
        box["t1"] = time.monotonic()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, box


def joined(th, box, timeout):
    th.join(timeout)
    assert not th.is_alive(), f"request still open after {timeout}s"
    if "exc" in box:
        raise AssertionError(f"request failed: {box['exc']!r}")
    return box["value"]


def wait_known(t, pids, timeout=10):
    """Polls, with bursts of concurrent requests, until the access log shows
    a reply from each of pids: then the broker has them all registered (a
    worker process that runs is not yet one the broker knows)."""
    pids = list(pids)
    rx = re.compile(r"POST /v1/token 200 .* worker=(\d+)")

    def known():
        T.Load(t.port, token_request, threads=2 * len(pids), seconds=5,
               max_per_thread=1).start().join()
        seen = {int(m.group(1)) for m in rx.finditer(t.stderr())}
        return set(pids) <= seen
    try:
        T.wait_until(known, timeout, interval=0.01,
                     what=f"replies from every worker of {pids}")
    except TimeoutError as e:
        raise AssertionError(f"{e}\n{t.stderr_tail()}") from None
    return pids


def holder_of_job(pids, assertion, timeout=5):
    """The one stopped worker in pids whose socket holds the JOB (it
    carries the assertion, so it is at least that long; heartbeats are a
    few bytes each)."""
    def find():
        held = [p for p in pids if T.unix_recv_queue(p) >= len(assertion)]
        return held or None
    held = T.wait_until(find, timeout, interval=0.01,
                        what="a stopped worker holding the job")
    assert len(held) == 1, f"the job is waiting at {len(held)} workers"
    return held[0]


# ---------------------------------------------------------------- death

@test
def kill9_of_worker_holding_job_still_200():
    # Liveness 15 x 200 ms = 3 s: a re-dispatch that comes sooner than
    # that comes from the supervisor's death notice, not from heartbeats.
    t = instance("hold", workers=2, heartbeat_liveness=15,
                 request_timeout=10)
    t.start()
    try:
        for it in range(6):
            pids = wait_known(t, t.wait_workers(2))
            T.stop_pids(pids)
            a = S.jwts[it]
            th, box = in_thread(lambda: t.token(a, timeout=15))
            holder = holder_of_job(pids, a)
            other = [p for p in pids if p != holder][0]
            # Mostly the holder dies; the other way round once in a while.
            victim, survivor = (holder, other) if it % 3 != 2 else \
                (other, holder)
            os.kill(victim, signal.SIGKILL)
            t0 = time.monotonic()
            T.cont_pids([survivor])
            resp = joined(th, box, 14)
            dt = box["t1"] - t0
            role = "holder" if victim == holder else "idle worker"
            check_token(resp, f"round {it} ({role} killed)")
            if victim == holder:
                assert dt < 1.5, \
                    f"round {it}: answered {dt:.2f}s after its worker " \
                    f"died; heartbeats alone take 3s, the death notice " \
                    f"should be at once\n{t.stderr_tail()}"
            t.wait_workers(2, gone=[victim])
        t.wait_log(r"killed by signal 9", count=6)
    finally:
        t.stop()


@test
def kill9_every_worker_in_turn_under_load():
    t = instance("killall", workers=3)
    t.start()
    try:
        first = t.wait_workers(3)
        load = T.Load(t.port, token_request, threads=4, seconds=15,
                      max_per_thread=5000).start()
        try:
            load.wait_count(20)
            for p in first:
                os.kill(p, signal.SIGKILL)
                # 300 ms apart, and traffic flowing in between.
                t0 = time.monotonic()
                wait_more(load, 10)
                T.wait_until(lambda: time.monotonic() - t0 >= 0.3, 1,
                             interval=0.01)
            t.wait_workers(3, gone=first)
            wait_more(load, 50)
        finally:
            load.stop()
        check_load_ok(t, load, minimum=100)
        t.wait_log(r"killed by signal 9", count=3)
        assert t.wait_workers(3, gone=first)
    finally:
        t.stop()


# ---------------------------------------------------------------- hang

@test
def hung_worker_routed_around_within_liveness():
    t = instance("hung", workers=2)
    t.start()
    try:
        pids = wait_known(t, t.wait_workers(2))
        hung = pids[0]
        mark = t.log_mark()
        T.stop_pids([hung])
        dead_ms = HB_MS * LIVENESS
        times = []
        try:
            start = time.monotonic()
            for i in range(20):
                t0 = time.monotonic()
                resp = t.token(S.jwts[i], timeout=10)
                times.append(time.monotonic() - t0)
                check_token(resp, f"request {i}")
            total = time.monotonic() - start
            limit = dead_ms / 1000 + 1.0
            assert max(times) < limit, \
                f"slowest request {max(times):.2f}s (liveness " \
                f"{dead_ms} ms + 1s margin = {limit:.1f}s); all: " \
                f"{[round(x, 2) for x in times]}"
            assert total < limit + 20 * 0.25, f"20 requests took {total:.2f}s"
            t.wait_log(rf"worker \S+ \(pid {hung}\) (hung on a job|"
                       r"silent): forgotten", timeout=5, since=mark)
        finally:
            T.cont_pids([hung])
        # Nothing was killed: the same two processes, still serving.
        assert t.workers() == pids, (t.workers(), pids)
        load = T.Load(t.port, token_request, threads=2, seconds=10,
                      max_per_thread=10).start().join()
        check_load_ok(t, load, minimum=20)
    finally:
        t.stop()

# ---------------------------------------------------------------- framing

@test
def oversize_assertion_refused_pool_keeps_serving():
    """Issue 12: with max_body = 300000, a 70 KB assertion made every
    request 504 until a restart: its JOB frame broke the connection of each
    worker it was sent to, and each such worker wedged.  Here, a 67 KB
    assertion in the largest body tokend now accepts."""
    # tokend -t now refuses max_body = 300000 (no request that large could
    # be served); MAX_BODY is the largest it takes: room for an assertion
    # just over the 64 KiB frame.
    t = instance("oversize", workers=2, max_body=MAX_BODY)
    t.start()
    try:
        pids = wait_known(t, t.wait_workers(2))
        mark = t.log_mark()
        big = T.sign_jwt(S.key, dict(T.claims("big", iss=ISS, aud=AUD,
                                              lifetime=900), pad="x" * 50000))
        assert 65536 < len(big) < MAX_BODY - 200, len(big)
        st, _, body = t.token(big, timeout=15)
        assert st == 413 and isinstance(body, dict) and \
            body["errors"][0]["name"] == "assertion", \
            f"67 KB assertion: expected 413 naming the assertion, got " \
            f"{st} {body!r}\n{t.stderr_tail()}"
        check_token(t.token(S.jwts[0]), "the request right after it")
        # Six seconds of traffic, each request a token.
        load = T.Load(t.port, token_request, threads=2, seconds=6,
                      max_per_thread=100000).start().join()
        check_load_ok(t, load, minimum=20)
        check_token(t.token(S.jwts[1]), "a request 6 s later")
        # No worker wedged: each still answers, none forgotten or replaced.
        wait_known(t, pids)
        assert t.workers() == pids, (t.workers(), pids)
        forgotten = [ln for ln in t.log_since(mark).splitlines()
                     if "forgotten" in ln]
        assert not forgotten, "\n".join(forgotten)
    finally:
        t.stop()


class WorkerLink:
    """A relay between the workers and the front's worker socket, to cut a
    worker's connection, or break its framing, at a chosen moment.

    The front's socket file is renamed and the relay listens under its
    name, so a worker that connects from then on (one respawned, or one
    reconnecting) goes through it.  Towards the worker the relay forwards
    whole ZMTP frames only (after the 64-byte greeting: a flags byte, a
    1- or 8-byte size, the body), so it can hold them back and knows where
    a frame may be inserted."""

    def __init__(self, path):
        self.front = path + ".front"
        os.rename(path, self.front)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)
        self.lock = threading.Lock()
        self.links = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                w, _ = self.listener.accept()
            except OSError:
                return
            f = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                f.connect(self.front)
            except OSError:             # the front is gone: so is the link
                f.close()
                w.close()
                continue
            with self.lock:
                self.links.append(Link(w, f))

    def current(self):
        """The newest connection, or None."""
        with self.lock:
            return self.links[-1] if self.links else None

    def close(self):
        self.listener.close()
        with self.lock:
            for k in self.links:
                k.cut()


class Link:
    """One worker's connection through WorkerLink."""
    GREETING = 64

    def __init__(self, w, f):
        self.w, self.f = w, f
        self.lock = threading.Lock()    # writes to the worker
        self.holding = False
        self.held = 0                   # bytes of frames held back
        self.gone = False
        threading.Thread(target=self._up, daemon=True).start()
        threading.Thread(target=self._down, daemon=True).start()

    def _up(self):
        """Worker -> front, as it comes."""
        try:
            while True:
                data = self.w.recv(65536)
                if not data:
                    break
                self.f.sendall(data)
        except OSError:
            pass
        self.cut()

    def _down(self):
        """Front -> worker, whole frames, unless holding."""
        buf = b""
        greeting = self.GREETING
        try:
            while True:
                data = self.f.recv(65536)
                if not data:
                    break
                buf += data
                if greeting:
                    n = min(greeting, len(buf))
                    self._send(buf[:n])
                    buf, greeting = buf[n:], greeting - n
                while greeting == 0:
                    n = self._frame_len(buf)
                    if n is None:
                        break
                    frame, buf = buf[:n], buf[n:]
                    with self.lock:
                        if self.holding:
                            self.held += n
                        else:
                            self.w.sendall(frame)
        except OSError:
            pass
        self.cut()

    @staticmethod
    def _frame_len(buf):
        if len(buf) < 2:
            return None
        if buf[0] & 0x02:               # LONG: 8-byte size
            if len(buf) < 9:
                return None
            n = 9 + struct.unpack(">Q", buf[1:9])[0]
        else:
            n = 2 + buf[1]
        return n if len(buf) >= n else None

    def _send(self, data):
        with self.lock:
            self.w.sendall(data)

    def hold(self):
        """From now on, frames for the worker stay here."""
        with self.lock:
            self.holding = True

    def held_bytes(self):
        with self.lock:
            return self.held

    def cut(self):
        """Both ends closed, frames held are lost: a dropped connection."""
        with self.lock:
            if self.gone:
                return
            self.gone = True
        for s in (self.w, self.f):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def send_oversize_frame(self):
        """A frame header announcing 1 MiB: over the worker's
        ZMQ_MAXMSGSIZE, so its ZeroMQ drops the connection, as it did for
        the 70 KB JOB of issue 12."""
        self._send(b"\x02" + struct.pack(">Q", 1 << 20) + b"x" * 64)


@test
def reconnected_worker_gets_its_job_again_at_once():
    """Issue 12 item 4: a worker that loses its connection while it holds a
    job reconnects with the same identity and says READY; the broker knows
    it and dispatches the job again at once.  Liveness here is 15 x 200 ms
    = 3 s, so an answer well before that is not the hung-worker rule."""
    t = instance("reconnect", workers=1, heartbeat_liveness=15,
                 request_timeout=10)
    t.start()
    link = None
    try:
        old = t.wait_workers(1)
        link = WorkerLink(t.path("run/worker.sock"))
        os.kill(old[0], signal.SIGKILL)
        pid = t.wait_workers(1, gone=old)[0]
        T.wait_until(link.current, 10, what="the new worker on the relay")
        check_token(t.token(S.jwts[0], timeout=10), "through the relay")
        mark = t.log_mark()
        for n, how in enumerate(("cut", "oversize frame")):
            conn = link.current()
            conn.hold()
            a = S.jwts[n + 1]
            th, box = in_thread(lambda: t.token(a, timeout=15))
            T.wait_until(lambda: conn.held_bytes() >= len(a), 5,
                         interval=0.01, what="the JOB held in the relay")
            t0 = time.monotonic()
            if how == "cut":
                conn.cut()
            else:
                conn.send_oversize_frame()
            resp = joined(th, box, 14)
            dt = box["t1"] - t0
            check_token(resp, f"job held when the connection broke ({how})")
            assert dt < 1.5, \
                f"{how}: answered {dt:.2f}s after the worker lost its " \
                f"connection; liveness is 3s, a reconnect should bring " \
                f"the job back at once\n{notable_log(t, mark)}"
            T.wait_until(lambda: link.current() is not conn, 5,
                         what="the worker's new connection")
        # The same process throughout: it reconnected, it did not die.
        assert t.workers() == [pid], (t.workers(), pid)
        t.wait_log(rf"worker \S+ \(pid {pid}\) reconnected", since=mark,
                   count=2)
        check_token(t.token(S.jwts[5], timeout=10), "after the reconnects")
    finally:
        if link is not None:
            link.close()
        t.stop()


# ---------------------------------------------------------------- protocol
#
# The ZMTP peer and the Python worker are tokendtest's (Zmtp, PyWorker).

def fake_token_reply(job):
    return [("job", job), ("id", "py-token"), ("key", "cHkta2V5"),
            ("uid", "42"), ("api_endpoint", "https://py.example.com"),
            ("duration", "1800"), ("expires", "1900000000"),
            ("hashalg", "sha256")]


def forget_c_worker(t, pid):
    """Stops the instance's C worker until the broker forgets it, so that
    jobs go to a test's own worker."""
    mark = t.log_mark()
    T.stop_pids([pid])
    t.wait_log(rf"worker \S+ \(pid {pid}\) silent: forgotten", since=mark,
               timeout=5)


@test
def v1_worker_refused_with_a_log_line_on_both_sides():
    """A worker of today's version 1 (its READY as such a worker sends it:
    a 2-byte header frame, then a frame per key and per value) gets a
    REFUSE in version 1's layout naming both sides' versions, which it can
    read and log; the front logs the refusal once, however often the
    worker retries, and goes on serving with its own workers."""
    t = instance("v1", workers=1)
    t.start()
    z = None
    try:
        wait_known(t, t.wait_workers(1))
        mark = t.log_mark()
        z = Zmtp.connect(t.path("run/worker.sock"), b"py-v1-worker")
        ready = [b"\x01\x01", b"pid", b"4242", b"worker", b"1",
                 b"credit", b"4"]
        z.send(ready)
        msg = z.recv()
        assert msg is not None and msg[0] == b"\x01\x07", \
            f"expected a version 1 REFUSE, got {msg!r}"
        fields = dict(zip(msg[1::2], msg[2::2]))
        # What the version 1 worker logs: both sides' versions.
        print(f"# the v1 worker's log: refused: {fields[b'reason'].decode()}",
              flush=True)
        assert fields[b"versions"] == b"2", fields
        assert b"version 1" in fields[b"peer_versions"], fields
        assert b"version 2" in fields[b"reason"] and \
            b"version 1" in fields[b"reason"], fields
        line = r"worker py-v1-worker refused: this front speaks worker " \
               r"protocol version 2; the worker offered version 1"
        t.wait_log(line, since=mark)
        # It retries: READY is answered again, heartbeats are not, and the
        # front's log says it once.
        z.send([b"\x01\x04", b"pid", b"4242"])
        z.send(ready)
        msg = z.recv()
        assert msg is not None and msg[0] == b"\x01\x07", msg
        check_token(t.token(S.jwts[0]), "the front's own worker")
        refusals = re.findall(line, t.log_since(mark))
        assert len(refusals) == 1, f"{len(refusals)} refusal log lines"
    finally:
        if z is not None:
            z.close()
        t.stop()


@test
def slow_job_with_progress_kept_hung_worker_forgotten():
    """A Python worker written from docs/protocol.md joins a real front:
    WELCOME gives it the front's heartbeat settings, credit and
    request_timeout.  A job it keeps for 1.5 s (liveness is 3 x 200 ms),
    sending PROGRESS every 150 ms, is answered with its REPLY; a job it
    keeps silently is taken for hung within liveness, and another worker
    answers it."""
    t = instance("progress", workers=1, request_timeout=5)
    t.start()
    w = None
    try:
        pid = wait_known(t, t.wait_workers(1))[0]
        forget_c_worker(t, pid)
        w = PyWorker(t.path("run/worker.sock"), b"py-v2-worker")
        w.send(READY, [("versions", "1,2"), ("credit", "1")])
        terms = w.expect(WELCOME)
        assert terms is not None, "no WELCOME"
        assert terms == {"version": b"2", "heartbeat_interval": b"200",
                         "heartbeat_liveness": b"3", "credit": b"1",
                         "request_timeout": b"5000"}, terms
        mark = t.log_mark()
        th, box = in_thread(lambda: t.token(S.jwts[0], timeout=10))
        job = w.expect(JOB)
        assert job is not None and job["assertion"] == \
            S.jwts[0].encode() and job["service"] == SYNC.encode(), job
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            w.send(PROGRESS, [("job", job["job"])])
            w.z.recv(timeout=0.15)      # the broker's HEARTBEAT back
        w.send(REPLY, fake_token_reply(job["job"]))
        st, _, body = joined(th, box, 5)
        assert st == 200 and body["id"] == "py-token" and \
            body["uid"] == 42 and body["key"] == "cHkta2V5", (st, body)
        assert "forgotten" not in t.log_since(mark), t.log_since(mark)
        # Silent on the next one: hung within liveness, not request_timeout.
        th, box = in_thread(lambda: t.token(S.jwts[1], timeout=10))
        assert w.expect(JOB) is not None
        t0 = time.monotonic()
        t.wait_log(r"worker py-v2-worker hung on a job: forgotten, its "
                   r"jobs are dispatched again", since=mark, timeout=3)
        assert time.monotonic() - t0 < 0.6 + 0.5
        T.cont_pids([pid])
        check_token(joined(th, box, 9), "the hung worker's job, elsewhere")
    finally:
        if w is not None:
            w.z.close()
        t.stop()


def fake_broker(t):
    """A broker in Python for t's C worker: t's worker socket is renamed
    and a listener takes its name; the worker is killed, and the one
    respawned connects to it.  Returns (listener, its Zmtp peer, the
    worker's pid, the fields of its READY)."""
    path = t.path("run/worker.sock")
    old = t.wait_workers(1)
    os.rename(path, path + ".front")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    listener.settimeout(10)
    os.kill(old[0], signal.SIGKILL)
    pid = t.wait_workers(1, gone=old)[0]
    conn, _ = listener.accept()
    z = Zmtp(conn, b"ROUTER")
    msg = z.recv()
    assert msg is not None and len(msg) == 1, msg
    version, cmd, fields = v2_decode(msg[0])
    assert (version, cmd) == (2, READY), (version, cmd)
    assert fields["versions"] == b"2" and \
        fields["pid"] == str(pid).encode(), fields
    return listener, z, pid, fields


@test
def refused_c_worker_exits_fatal_not_respawned():
    """A front that cannot serve the C worker's versions (here a broker in
    Python that speaks only version 3) refuses it: the worker logs both
    sides' versions and exits with the fatal code, and the supervisor does
    not respawn it in a loop."""
    t = instance("refused", workers=1)
    t.start()
    listener = None
    try:
        mark = t.log_mark()
        listener, z, _, _ = fake_broker(t)
        z.send([v2_encode(REFUSE, [
            ("versions", "3"), ("peer_versions", "2"),
            ("reason", "this broker speaks only version 3")])])
        t.wait_log(r"refused by the front, which speaks worker protocol "
                   r"version 3 \(this worker speaks 2\): this broker "
                   r"speaks only version 3; exiting", since=mark)
        t.wait_log(r"worker 1 exited with fatal code 2 and cannot be "
                   r"respawned", since=mark)
        T.wait_until(lambda: not t.workers(), 5, interval=0.02,
                     what="no worker running")
        z.close()
    finally:
        if listener is not None:
            listener.close()
        t.stop()


@test
def lost_ready_said_again_on_resync():
    """A READY that got no WELCOME (it went to a front that was going
    away) is said again when a RESYNC comes later than a heartbeat
    interval after it: the C worker does not wait for a WELCOME that will
    never come while the new front keeps answering its heartbeats."""
    t = instance("resync", workers=1)
    t.start()
    listener = None
    try:
        listener, z, pid, _ = fake_broker(t)
        t0 = time.monotonic()
        msg = z.recv()
        assert msg is not None and v2_decode(msg[0])[1] == HEARTBEAT, msg
        assert time.monotonic() - t0 >= HB_MS / 1000 / 2
        z.send([v2_encode(RESYNC, [])])
        msg = z.recv(timeout=2)
        assert msg is not None, "no answer to RESYNC"
        version, cmd, fields = v2_decode(msg[0])
        assert cmd == READY and fields["pid"] == str(pid).encode(), \
            (cmd, fields)
        z.close()
    finally:
        if listener is not None:
            listener.close()
        t.stop()


# ---------------------------------------------------------------- overflow

@test
def queue_overflow_503_retry_after_then_recovers():
    workers, credit, limit, n = 2, 2, 1, 10
    t = instance("overflow", workers=workers, queue_limit=limit,
                 request_timeout=5, worker_credit=credit)
    t.start()
    try:
        pids = T.stop_pids(wait_known(t, t.wait_workers(workers)))
        # Each stopped worker holds its credit's worth, queue_limit wait.
        capacity = workers * credit + limit
        done = []
        lock = threading.Lock()

        def one(i):
            try:
                r = t.token(S.jwts[i], timeout=10)
            except Exception as e:
                r = e
            with lock:
                done.append((time.monotonic(), r))
        start = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,), daemon=True)
                   for i in range(n)]
        try:
            for th in threads:
                th.start()
            T.wait_until(lambda: len(done) >= n - capacity, 3,
                         interval=0.01,
                         what=f"{n - capacity} quick answers")
            quick = list(done)
        finally:
            T.cont_pids(pids)
        for th in threads:
            th.join(max(0.01, 12 - (time.monotonic() - start)))
        assert not any(th.is_alive() for th in threads), \
            "requests still open 12s after they were sent"
        for t1, r in quick:
            assert isinstance(r, tuple), f"request failed: {r!r}"
            st, h, body = r
            assert st == 503, f"quick answer {st} {body!r}, expected 503"
            assert isinstance(body, dict) and \
                body.get("status") == "unavailable", body
            ra = h.get("retry-after", "")
            assert ra.strip().isdigit() and int(ra) > 0, \
                f"Retry-After {ra!r}"
            assert t1 - start < 2, \
                f"503 after {t1 - start:.2f}s (request_timeout is 5s)"
        assert len(quick) == n - capacity, \
            f"{len(quick)} quick answers, expected {n - capacity}"
        # The accepted ones were held, not dropped: 200 after SIGCONT.
        rest = [r for _, r in done[len(quick):]]
        codes = [r[0] if isinstance(r, tuple) else repr(r) for r in rest]
        assert codes == [200] * capacity, \
            f"the {capacity} accepted requests got {codes}\n" \
            f"{t.stderr_tail()}"
        check_token(t.token(S.jwts[0], timeout=10), "after SIGCONT")
    finally:
        t.stop()


# ---------------------------------------------------------------- reload

@test
def sighup_resizes_pool_2_4_1_under_load():
    t = instance("resize", workers=2)
    t.start()
    try:
        old = t.wait_workers(2)
        load = T.Load(t.port, token_request, threads=4, seconds=25,
                      max_per_thread=5000).start()
        try:
            load.wait_count(20)
            for n in (4, 1):
                mark = t.log_mark()
                configure(t, workers=n)
                os.kill(t.pid, signal.SIGHUP)
                t.wait_log(rf"reloaded: {n} workers", since=mark)
                old = t.wait_workers(n, gone=old)
                want = T.proc_titles(t, n)[1]
                # A retired worker in exit shows an empty title until it
                # is reaped (long enough under ASan to be seen): poll.
                try:
                    T.wait_until(lambda: sorted(t.children().values()) ==
                                 want, 5, interval=0.02,
                                 what=f"children {want}")
                except TimeoutError:
                    raise AssertionError(
                        (sorted(t.children().values()), want)) from None
                wait_more(load, 30)
        finally:
            load.stop()
        check_load_ok(t, load, minimum=80)
    finally:
        t.stop()


@test
def sighup_ten_reloads_under_load_lose_nothing():
    """The same as above, ten times (4 and 1 workers in turn): a job must
    not be lost between the retiring workers of one reload."""
    t = instance("reload10", workers=2)
    t.start()
    try:
        old = t.wait_workers(2)
        load = T.Load(t.port, token_request, threads=4, seconds=30,
                      max_per_thread=10000).start()
        try:
            load.wait_count(20)
            for i in range(10):
                n = (4, 1)[i % 2]
                mark = t.log_mark()
                configure(t, workers=n)
                os.kill(t.pid, signal.SIGHUP)
                t.wait_log(rf"reloaded: {n} workers", since=mark)
                old = t.wait_workers(n, gone=old)
                wait_more(load, 20)
        finally:
            load.stop()
        check_load_ok(t, load, minimum=200)
    finally:
        t.stop()


@test
def invalid_config_on_sighup_keeps_old_one():
    t = instance("badhup", workers=2)
    t.start()
    try:
        pids = t.wait_workers(2)
        load = T.Load(t.port, token_request, threads=3, seconds=20,
                      max_per_thread=5000).start()
        try:
            load.wait_count(10)
            mark = t.log_mark()
            configure(t, extra=[("bogus_key", 1)], workers=3)
            os.kill(t.pid, signal.SIGHUP)
            m = t.wait_log(r"^.*reload failed.*$", since=mark)[0]
            assert "bogus_key" in m.group(0), \
                f"the failure does not name the bad key: {m.group(0)!r}"
            wait_more(load, 30)
            assert t.workers() == pids, \
                f"workers {t.workers()} after a failed reload, were {pids}"
            # Not stuck: a good config is taken on the next SIGHUP.
            mark = t.log_mark()
            configure(t, workers=3)
            os.kill(t.pid, signal.SIGHUP)
            t.wait_log(r"reloaded: 3 workers", since=mark)
            t.wait_workers(3, gone=pids)
            wait_more(load, 20)
        finally:
            load.stop()
        check_load_ok(t, load, minimum=60)
    finally:
        t.stop()


# ---------------------------------------------------------------- shutdown

@test
def sigterm_under_load_answers_every_accepted_request():
    t = instance("term", workers=2, shutdown_timeout=3)
    t.start()
    try:
        # A thread stops at its first "refused": the listener is gone.
        load = T.Load(t.port, token_request, threads=4, seconds=15,
                      max_per_thread=5000, timeout=10,
                      stop_on=("refused",)).start()
        try:
            load.wait_count(40)
            sent = time.monotonic()
            os.kill(t.pid, signal.SIGTERM)
            exited = T.exited_noreap(t.pid, 3 + 4)
            dt = time.monotonic() - sent
            load.join(timeout=12)
        finally:
            load.stop()
        assert exited, f"supervisor still running {dt:.1f}s after " \
                       f"SIGTERM (shutdown_timeout 3s)"
        t.proc.wait(5)
        assert t.proc.returncode == 0, \
            f"exit code {t.proc.returncode}\n{t.stderr_tail()}"
        before = [o for o in load.results if o.t0 < sent]
        after = [o for o in load.results if o.t0 >= sent]
        # A request sent before SIGTERM was accepted: it must be answered.
        # One whose connect() lost the race with SIGTERM is refused, and
        # only then: the listener is open until the front takes SIGTERM.
        bad = [o for o in before if o.kind != "refused" and
               (o.exc is not None or not is_token(o.status, o.body))]
        # After it: answered (200, or 503 while draining), or refused once
        # the listener is closed; never dropped after the connection was
        # taken (reset, or closed without an answer).
        bad_after = [o for o in after
                     if o.kind not in ("200", "503", "refused")]
        assert not bad and not bad_after, \
            f"requests sent before SIGTERM: {load.kinds(before)}, after: " \
            f"{load.kinds(after)}; times relative to SIGTERM: " + \
            describe(t, load, bad + bad_after, ref=sent)
        assert len(before) >= 40, len(before)
    finally:
        t.stop()


@test
def sigterm_waits_for_jobs_held_by_stopped_workers():
    t = instance("drain", workers=2, shutdown_timeout=4)
    t.start()
    try:
        pids = T.stop_pids(wait_known(t, t.wait_workers(2)))
        reqs = [in_thread(lambda i=i: t.token(S.jwts[i], timeout=15))
                for i in range(3)]
        try:
            # Two JOBs wait in the stopped workers, one in the queue.
            T.wait_until(lambda: all(T.unix_recv_queue(p) >= len(S.jwts[0])
                                     for p in pids), 5, interval=0.01,
                         what="both stopped workers holding a job")
            mark = t.log_mark()
            os.kill(t.pid, signal.SIGTERM)
            t.wait_log(r"front\[\d+\] \w+: draining", since=mark)
            assert T.proc_alive(t.pid), "supervisor gone while draining"
        finally:
            T.cont_pids(pids)
        for i, (th, box) in enumerate(reqs):
            check_token(joined(th, box, 10), f"held request {i}")
        assert T.exited_noreap(t.pid, 4 + 4), \
            "supervisor still running after the drain"
        t.proc.wait(5)
        assert t.proc.returncode == 0, t.proc.returncode
        log = t.log_since(mark)
        assert "did not stop in time" not in log and \
            "still in flight" not in log, log
    finally:
        t.stop()


@test
def sigterm_keepalive_request_during_drain_answered():
    """A keep-alive connection opened before SIGTERM sends its next request
    while the front drains: it gets an answer (503 "shutting down", or
    200), and the front does not crash."""
    t = instance("kadrain", workers=2, shutdown_timeout=3)
    t.start()
    try:
        wait_known(t, t.wait_workers(2))
        front = t.front()
        conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=10)
        body = json.dumps({"assertion": S.jwts[0], "service": SYNC})
        hdrs = {"Content-Type": "application/json"}
        try:
            conn.request("POST", "/v1/token", body, hdrs)
            r = conn.getresponse()
            assert r.status == 200 and \
                (r.getheader("connection") or "").lower() != "close", \
                (r.status, r.getheaders())
            r.read()
            mark = t.log_mark()
            os.kill(t.pid, signal.SIGTERM)
            t.wait_log(r"front\[\d+\] \w+: draining", since=mark)
            # With nothing in flight the drain stops the broker, then
            # waits up to 1 s for connections such as this one.
            t.wait_log(r"front\[\d+\] \w+: drain: broker stopped",
                       since=mark)
            try:
                conn.request("POST", "/v1/token", body, hdrs)
                r = conn.getresponse()
                got = (r.status, r.getheader("connection"), r.read())
            except Exception as e:
                got = e
        finally:
            conn.close()
        assert T.exited_noreap(t.pid, 3 + 4), "supervisor still running"
        log = t.log_since(mark)
        assert isinstance(got, tuple) and got[0] in (200, 503), \
            f"request on a kept-alive connection during the drain: " \
            f"{got!r}; log:\n{log}"
        print(f"# kept-alive request during the drain: {got[0]}, "
              f"Connection: {got[1]}", flush=True)
        assert "killed by signal" not in log, log
    finally:
        t.stop()


@test
def sigterm_new_connection_during_drain_not_left_hanging():
    """While the front drains (a job held by a stopped worker keeps it
    draining), a new connection is refused, or answered (503): it is not
    taken into the listen backlog, left hanging, and reset at exit."""
    t = instance("backlog", workers=1, shutdown_timeout=4)
    t.start()
    try:
        pids = T.stop_pids(wait_known(t, t.wait_workers(1)))
        held = in_thread(lambda: t.token(S.jwts[0], timeout=15))
        try:
            T.wait_until(lambda: T.unix_recv_queue(pids[0]) >=
                         len(S.jwts[0]), 5, interval=0.01,
                         what="the stopped worker holding the job")
            mark = t.log_mark()
            os.kill(t.pid, signal.SIGTERM)
            t.wait_log(r"front\[\d+\] \w+: draining", since=mark)
            t0 = time.monotonic()
            late = in_thread(lambda: t.token(S.jwts[1], timeout=15))
            # Refused or answered at once, while the drain still waits.
            late[0].join(1.5)
            hanging = late[0].is_alive()
            during = time.monotonic() - t0
        finally:
            T.cont_pids(pids)
        check_token(joined(*held, 10), "the request held during the drain")
        late[0].join(10)
        got = late[1].get("value", late[1].get("exc"))
        kind = T.error_kind(got) if isinstance(got, Exception) else got[0]
        assert not hanging and kind in ("refused", 503), \
            f"a connection made during the drain: " \
            f"{'no answer after %.1fs' % during if hanging else 'answered'}" \
            f" while the drain ran; in the end: {got!r} after " \
            f"{late[1]['t1'] - t0:.2f}s\nlog:\n{notable_log(t, mark)}"
    finally:
        t.stop()


# ---------------------------------------------------------------- backoff

@test
def crash_loop_backs_off_not_spins():
    t = instance("crash", workers=1)
    t.start(no_core=True)
    try:
        first = t.wait_workers(1)[0]
        mark = t.log_mark()
        crashed = []
        window = 2.0
        start = time.monotonic()
        # Crash every worker as soon as it shows up, for `window` seconds.
        # SIGABRT, not SIGSEGV: under AddressSanitizer a SIGSEGV is
        # reported as a memory error, while a crash is all we mean here.
        while time.monotonic() - start < window:
            for p in t.workers():
                if p not in crashed:
                    os.kill(p, signal.SIGABRT)
                    crashed.append(p)
            time.sleep(0.005)
        log = t.log_since(mark)
        delays = [int(d) for d in
                  re.findall(r"respawning worker 1 in (\d+) ms", log)]
        assert "worker 1 killed by signal 6" in log, log[-2000:]
        assert len(crashed) <= 8, \
            f"{len(crashed)} workers forked in {window}s of crashes: " \
            f"no backoff? delays {delays}"
        assert len(delays) >= 4, f"respawn delays {delays} (crashed " \
            f"{len(crashed)} workers)\n{log[-2000:]}"
        assert delays == [100 << i for i in range(len(delays))], \
            f"respawn delays {delays}, expected 100, 200, 400, ..."
        # It comes back after the last delay and serves.
        t.wait_workers(1, timeout=delays[-1] / 1000 + 5, gone=crashed)
        check_token(t.token(S.jwts[0], timeout=10), "after the crash loop")
        # Killed from outside: respawned at once, without a delay.
        victim = t.workers()[0]
        mark = t.log_mark()
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        t.wait_workers(1, timeout=5, gone=[victim])
        dt = time.monotonic() - t0
        assert dt < 1, f"SIGKILLed worker respawned after {dt:.2f}s"
        assert "respawning" not in t.log_since(mark), t.log_since(mark)
        assert first in crashed
    finally:
        t.stop()


# ---------------------------------------------------------------- recycling

@test
def recycling_after_max_jobs_loses_nothing():
    t = instance("recycle", workers=2, max_jobs=5)
    t.start()
    try:
        before = t.wait_workers(2)
        seen = set(before)
        most = 0
        for i in range(40):
            check_token(t.token(S.jwts[i % len(S.jwts)], timeout=10),
                        f"request {i}")
            w = t.workers()
            seen |= set(w)
            most = max(most, len(w))
        assert most <= 2, f"{most} workers at once (workers = 2)"
        t.wait_log(r"worker \d recycled", count=6)
        t.wait_log(r"recycling after 5 jobs", count=6)
        after = t.wait_workers(2)
        assert after != before, f"the same workers {after} after 40 jobs"
        assert len(seen) >= 2 + 6, f"only {len(seen)} worker pids seen"
        assert "killed by signal" not in t.stderr(), t.stderr_tail()
    finally:
        t.stop()


@test
def recycling_past_max_rss_loses_nothing():
    # Every worker is past 1 MiB resident after its first batch of jobs:
    # each one answers, says BYE and is replaced.
    t = instance("rss", workers=1, max_rss=1)
    t.start()
    try:
        first = t.wait_workers(1)
        for i in range(6):
            check_token(t.token(S.jwts[i % len(S.jwts)], timeout=10),
                        f"request {i}")
        t.wait_log(r"recycling at \d+ KiB resident \(max_rss 1024 KiB\)",
                   count=3)
        t.wait_log(r"worker \d recycled", count=3)
        assert t.wait_workers(1) != first, "the first worker never left"
        assert "killed by signal" not in t.stderr(), t.stderr_tail()
    finally:
        t.stop()


# ---------------------------------------------------------------- front

@test
def front_killed_is_respawned_and_finds_workers():
    t = instance("front", workers=2)
    t.start()
    try:
        pids = t.wait_workers(2)
        front = t.front()
        assert front, t.children()
        os.kill(front, signal.SIGKILL)
        T.wait_until(lambda: t.front() not in (None, front), 5,
                     what="a new front")
        deadline = time.monotonic() + 5
        while True:
            try:
                resp = t.token(S.jwts[0], timeout=5)
                if resp[0] == 200:
                    break
            except OSError as e:
                resp = e
            assert time.monotonic() < deadline, \
                f"no 200 within 5s of the front's respawn: {resp!r}\n" \
                f"{t.stderr_tail()}"
            time.sleep(0.05)
        check_token(resp, "after the front's respawn")
        assert t.workers() == pids, "workers were replaced: " \
            f"{t.workers()} != {pids}"
    finally:
        t.stop()


@test
def death_notice_works_after_front_restart():
    """After the front is restarted, the workers rejoin it by their next
    HEARTBEAT (no READY, so the new broker does not learn their pids).
    The death of one that holds a job must still re-dispatch the job at
    once, as the supervisor's death notice promises."""
    t = instance("rejoin", workers=2, heartbeat_liveness=10,
                 request_timeout=10)
    t.start()
    try:
        pids = wait_known(t, t.wait_workers(2))
        front = t.front()
        os.kill(front, signal.SIGKILL)
        T.wait_until(lambda: t.front() not in (None, front), 5,
                     what="a new front")
        mark = t.log_mark()

        def serves():
            try:
                return t.token(S.jwts[0], timeout=5)[0] == 200
            except OSError:
                return False
        T.wait_until(serves, 5, what="200 from the new front")
        assert t.workers() == pids, (t.workers(), pids)
        T.stop_pids(pids)
        th, box = in_thread(lambda: t.token(S.jwts[1], timeout=15))
        try:
            holder = holder_of_job(pids, S.jwts[1])
            os.kill(holder, signal.SIGKILL)
            t0 = time.monotonic()
        finally:
            T.cont_pids(pids)
        resp = joined(th, box, 14)
        dt = box["t1"] - t0
        check_token(resp, "job of the killed worker")
        assert dt < 1.0, \
            f"answered {dt:.2f}s after its worker (pid {holder}) died, as " \
            f"by the heartbeat timeout ({HB_MS * 10} ms), not at once; " \
            f"log since the front's restart:\n" + \
            "\n".join(ln for ln in t.log_since(mark).splitlines()
                      if "forgotten" in ln or "killed" in ln or
                      "worker=0" in ln)
    finally:
        t.stop()


# ---------------------------------------------------------------- orphans

@test
def supervisor_killed_takes_every_worker_along():
    """Issue 12: wedged workers outlived a supervisor killed with -9 (still
    there 40 minutes later, parent pid 1).  A worker must die with its
    supervisor whatever it is doing: one stopped (SIGSTOP: no signal but
    SIGKILL acts on it) stands for any that is blocked."""
    t = instance("orphans", workers=2)
    t.start()
    pids = []
    try:
        pids = wait_known(t, t.wait_workers(2))
        front = t.front()
        T.stop_pids(pids[:1])
        os.kill(t.pid, signal.SIGKILL)

        def left():
            return [p for p in pids if T.proc_alive(p)]
        try:
            T.wait_until(lambda: not left(), 5, interval=0.02,
                         what="the workers gone with their supervisor")
        except TimeoutError:
            raise AssertionError(
                "workers outlived their supervisor: " +
                ", ".join(f"pid {p} (state, ppid) {T.proc_stat(p)}"
                          for p in left())) from None
        # The front drains (up to shutdown_timeout) and goes too.
        T.wait_until(lambda: not T.proc_alive(front),
                     POOL["shutdown_timeout"] + 5, interval=0.05,
                     what="the front gone after its supervisor")
    finally:
        T.cont_pids(pids)
        t.stop()


# ---------------------------------------------------------------- systemd

class NotifyListener:
    """An AF_UNIX datagram socket standing in for systemd's notify socket;
    a thread records (monotonic time, set of KEY=VALUE lines) and, on the
    first READY=1, whether the port accepts a connection at that moment."""

    def __init__(self, addr, port):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.sock.settimeout(0.05)
        self.port = port
        self.msgs = []
        self.listening_at_ready = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            lines = set(data.decode("utf-8", "replace").split("\n"))
            if "READY=1" in lines and self.listening_at_ready is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             timeout=1).close()
                    self.listening_at_ready = True
                except OSError:
                    self.listening_at_ready = False
            with self._lock:
                self.msgs.append((time.monotonic(), lines))

    def since(self, mark=0):
        with self._lock:
            return list(self.msgs[mark:])

    def mark(self):
        with self._lock:
            return len(self.msgs)

    def wait(self, line, mark=0, count=1, timeout=10):
        """Polls until `line` arrived count times after mark; returns the
        index just after the last one."""
        def found():
            got = [i for i, (_, ls) in enumerate(self.since(mark))
                   if line in ls]
            return mark + got[count - 1] + 1 if len(got) >= count else None
        try:
            return T.wait_until(found, timeout, interval=0.02,
                                what=f"{line} x{count}")
        except TimeoutError as e:
            raise AssertionError(f"{e}; datagrams: "
                                 f"{[sorted(m) for _, m in self.since()]}"
                                 ) from None

    def close(self):
        self._stop.set()
        self._th.join(2)
        self.sock.close()


def notify_case(t, env_addr, bind_addr, full):
    listener = NotifyListener(bind_addr, None)
    try:
        configure(t, workers=1, log_level="debug")
        listener.port = t.port
        t.start(env={"NOTIFY_SOCKET": env_addr, "WATCHDOG_USEC": "400000",
                     "WATCHDOG_PID": None})
        after_ready = listener.wait("READY=1")
        assert listener.listening_at_ready, \
            "READY=1 arrived while the port did not accept connections"
        log = t.stderr()
        serving = log.find(": serving")
        listening = log.find("listening on")
        joined_at = re.search(r"worker \d+ ready on", log)
        assert serving != -1 and listening != -1 and joined_at, log[-2000:]
        assert listening < serving and joined_at.start() < serving, \
            f"READY (\"serving\") logged before the front listened or a " \
            f"worker joined:\n{log[-2000:]}"
        pings = listener.wait("WATCHDOG=1", after_ready, count=4,
                              timeout=5)
        times = [tm for tm, ls in listener.since() if "WATCHDOG=1" in ls]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert max(gaps) < 0.4, \
            f"watchdog pings {[round(g, 3) for g in gaps]}s apart, " \
            f"WATCHDOG_USEC is 0.4s"
        if full:
            mark = listener.mark()
            os.kill(t.pid, signal.SIGHUP)
            r = listener.wait("RELOADING=1", mark)
            listener.wait("READY=1", r)
            t.wait_workers(1)
            check_token(t.token(S.jwts[0], timeout=10), "after SIGHUP")
        mark = max(listener.mark(), pings)
        os.kill(t.pid, signal.SIGTERM)
        listener.wait("STOPPING=1", mark)
        assert T.exited_noreap(t.pid, 10), "still running after SIGTERM"
        t.proc.wait(5)
        assert t.proc.returncode == 0, t.proc.returncode
        first_ready = [i for i, (_, ls) in enumerate(listener.since())
                       if "READY=1" in ls][0]
        assert not any("STOPPING=1" in ls for _, ls in
                       listener.since()[:first_ready]), listener.since()
    finally:
        listener.close()
        t.stop()


@test
def systemd_notify_ready_watchdog_reload_stop():
    t = instance("notify", workers=1)
    path = t.path("notify.sock")
    notify_case(t, path, path, full=True)


@test
def systemd_notify_abstract_socket():
    t = instance("notifyabs", workers=1)
    name = f"tkd-notify-{os.getpid()}-{os.urandom(4).hex()}"
    notify_case(t, "@" + name, "\0" + name, full=False)


# ---------------------------------------------------------------- leaks

@test
def no_fd_or_rss_growth_over_2000_requests():
    t = instance("leak", workers=2, max_jobs=100)
    t.start()
    try:
        front = t.front()

        def settled_fds():
            # Connections close asynchronously: two equal readings.
            a = T.proc_fd_count(front)
            time.sleep(0.1)
            b = T.proc_fd_count(front)
            return a if a == b else None

        warm = T.Load(t.port, token_request, threads=4, seconds=30,
                      max_per_thread=50).start().join()
        check_load_ok(t, warm, minimum=200)
        fds0 = T.wait_until(settled_fds, 5, what="front fds settle")
        rss0 = T.proc_rss_kb(front)
        load = T.Load(t.port, token_request, threads=4, seconds=60,
                      max_per_thread=500).start().join()
        check_load_ok(t, load, minimum=2000)
        try:
            T.wait_until(lambda: abs(T.proc_fd_count(front) - fds0) <= 2,
                         5, what="front fds back")
        except TimeoutError:
            raise AssertionError(
                f"front fds {fds0} -> {T.proc_fd_count(front)} after "
                f"2000 requests: {sorted(os.listdir(f'/proc/{front}/fd'))}"
            ) from None
        rss1 = T.proc_rss_kb(front)
        assert T.under_asan(front) or rss1 - rss0 < 2048, \
            f"front RSS {rss0} -> {rss1} KiB after 2000 requests"
        assert t.front() == front, "the front was restarted"
        print(f"# front fds {fds0} -> {T.proc_fd_count(front)}, "
              f"RSS {rss0} -> {rss1} KiB", flush=True)
    finally:
        t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=40)
