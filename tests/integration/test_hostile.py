"""Hostile clients against the real daemon (issue 13): slow ones, many
ones, malformed bodies by the thousand, and a front out of descriptors.

  slowloris   2,000 connections sending a request head one byte a second
              do not raise a well-behaved client's latency beyond 2x; they
              are closed once idle_timeout passes without a whole head
  per-ip      per_ip_connections holds: connections past it are closed at
              once, the ones before it are served
  bodies      each malformed body (over max_body with and without
              Content-Length, 100 KB of headers, invalid UTF-8, nesting
              10,000 deep, 100,000 keys, duplicate keys, numbers beyond
              2^64, NUL in strings) gets its precise 4xx within a second,
              and 10,000 of them leave the front's memory and descriptors
              where they were
  nofile      at RLIMIT_NOFILE the front refuses new connections cleanly
              (no busy loop) and serves again once they close

Loopback only; every loop is bounded in count and time; every wait polls
with a deadline.

Run from the repository root:
  /usr/bin/python3 tests/integration/test_hostile.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import AUD, ISS, SYNC, test  # noqa: E402

MAX_BODY = 16384
IDLE = 6            # idle_timeout of the slowloris instance, seconds

S = types.SimpleNamespace(key=None)


def instance(prefix, nofile=None, **server):
    t = T.one_issuer_instance(prefix, S.key, **dict(
        {"max_body": MAX_BODY, "workers": 1}, **server))
    t.start(nofile=nofile)
    return t


def setup():
    S.key = T.Key("ES256")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def jwt(sub="alice"):
    return T.sign_jwt(S.key, T.claims(sub, iss=ISS, aud=AUD))


def token_latency(t, n=40):
    """Median seconds of n token requests, one at a time, each on a new
    connection (what a new client sees)."""
    a = jwt()
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        st, _, body = t.token(a, timeout=10)
        times.append(time.monotonic() - t0)
        assert st == 200, (st, body)
    return statistics.median(times)


def eof_or_reset(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (BlockingIOError, socket.timeout):
        return False


# ---------------------------------------------------------------- slowloris

@test
def slowloris_2000_connections_cost_a_client_at_most_2x():
    t = instance("tkd-hostile-slow-", max_connections=5000,
                 per_ip_connections=0, idle_timeout=IDLE)
    base = token_latency(t)
    head = b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
    socks = []
    try:
        for _ in range(2000):
            s = socket.create_connection(("127.0.0.1", t.port), timeout=5)
            s.setblocking(False)
            socks.append(s)
        # One byte a second on every connection, for a few seconds, while
        # a well-behaved client asks for tokens.
        sent = 0
        t_end = time.monotonic() + 4
        loaded = []
        while time.monotonic() < t_end:
            tick = time.monotonic()
            for s in socks:
                try:
                    s.send(head[sent:sent + 1])
                except OSError:
                    pass
            sent += 1
            loaded.append(token_latency(t, n=5))
            time.sleep(max(0, 1 - (time.monotonic() - tick)))
        during = statistics.median(loaded)
        # 2x, with a millisecond of slack for a shared 2-core machine.
        assert during <= 2 * base + 0.001, \
            f"median {during * 1000:.2f} ms with 2000 slow clients, " \
            f"{base * 1000:.2f} ms without"
        # They stop sending: each is closed once idle_timeout passes
        # without a whole request head.
        def all_closed():
            return all(eof_or_reset(s) for s in socks)
        T.wait_until(all_closed, IDLE + 10, interval=0.5,
                     what="slow connections closed after idle_timeout")
    finally:
        for s in socks:
            s.close()
    st, _, _ = t.token(jwt())
    assert st == 200
    t.stop()


@test
def slow_trickle_cannot_outlive_idle_timeout():
    # One byte a second never completes a head: libmicrohttpd alone resets
    # its timer on every byte; through the guard, a head must be whole
    # within idle_timeout.
    t = instance("tkd-hostile-trickle-", idle_timeout=3)
    s = socket.create_connection(("127.0.0.1", t.port))
    s.setblocking(False)
    head = b"GET /__lbheartbeat__ HTTP/1.1\r\nX-A: " + b"a" * 100
    t0 = time.monotonic()
    closed_at = None
    try:
        for i in range(len(head)):
            try:
                s.send(head[i:i + 1])
            except OSError:
                closed_at = time.monotonic()
                break
            if eof_or_reset(s):
                closed_at = time.monotonic()
                break
            if time.monotonic() - t0 > 12:
                break
            time.sleep(0.5)
    finally:
        s.close()
    assert closed_at is not None and closed_at - t0 < 3 + 3, \
        "a trickling client outlived idle_timeout"
    t.stop()


@test
def per_ip_connections_holds():
    t = instance("tkd-hostile-perip-", per_ip_connections=50)
    socks = []
    try:
        for _ in range(100):
            socks.append(socket.create_connection(("127.0.0.1", t.port)))
        time.sleep(0.3)
        for s in socks:
            s.setblocking(False)
        refused = sum(1 for s in socks if eof_or_reset(s))
        assert refused >= 50, f"only {refused} of 100 refused at 50 per IP"
        # The ones kept are served.
        kept = [s for s in socks if not eof_or_reset(s)]
        kept[0].setblocking(True)
        kept[0].sendall(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n"
                        b"Connection: close\r\n\r\n")
        kept[0].settimeout(5)
        assert kept[0].recv(100).startswith(b"HTTP/1.1 200"), "kept one"
    finally:
        for s in socks:
            s.close()
    T.wait_until(lambda: t.token(jwt())[0] == 200, 5, what="served again")
    t.stop()


# ---------------------------------------------------------------- bodies

POST = (b"POST /v1/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\n")


def with_length(body):
    return POST + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunked(body):
    return POST + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
        b"%x\r\n" % len(body[i:i + 4096]) + body[i:i + 4096] + b"\r\n"
        for i in range(0, len(body), 4096)) + b"0\r\n\r\n"


def bad_bodies():
    """(name, request bytes, status, a word of the description)."""
    a = jwt()
    big = json.dumps({"assertion": a, "service": SYNC,
                      "pad": "x" * MAX_BODY}).encode()
    deep = b'{"assertion": "' + a.encode() + b'", "service": "' + \
        SYNC.encode() + b'", "x": ' + b"[" * 10000 + b"]" * 10000 + b"}"
    keys = b"{" + b",".join(b'"k%d":1' % i for i in range(100000)) + b"}"
    return [
        ("over max_body, Content-Length", with_length(big), 413, "larger"),
        ("over max_body, chunked", chunked(big), 413, "larger"),
        ("100 KB of headers", b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\n"
         b"X-Big: " + b"a" * 100000 + b"\r\n\r\n", 431, "head"),
        ("invalid UTF-8", with_length(b'{"assertion": "\xff\xfe", '
                                      b'"service": "sync-1.5"}'), 400,
         "JSON"),
        ("nesting 10,000 deep", with_length(deep), 413
         if len(deep) > MAX_BODY else 400, ""),
        ("100,000 keys", with_length(keys), 413, "larger"),
        ("duplicate keys", with_length(b'{"assertion": "a.b.c", '
                                       b'"assertion": "d.e.f", '
                                       b'"service": "sync-1.5"}'), 400,
         "duplicate"),
        ("number beyond 2^64", with_length(
            b'{"assertion": "a.b.c", "service": 184467440737095516160}'),
         400, "integer"),
        ("NUL in a string", with_length(b'{"assertion": "a\\u0000b", '
                                        b'"service": "sync-1.5"}'), 400,
         "JSON"),
        ("raw NUL in the body", with_length(b'{"assertion": "a\x00b", '
                                            b'"service": "sync-1.5"}'),
         400, "JSON"),
    ]


def answer(port, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass            # answered and closed before it read it all
        while b"\r\n\r\n" not in out or len(out) < out.index(
                b"\r\n\r\n") + 4 + content_length(out):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return out, time.monotonic() - t0


def content_length(raw):
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v)
    return 0


def status_and_error(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    st = int(head.split(b" ", 2)[1])
    return st, json.loads(body[:content_length(raw)])


@test
def malformed_bodies_each_get_their_4xx_quickly():
    t = instance("tkd-hostile-bodies-")
    for name, data, want, word in bad_bodies():
        raw, took = answer(t.port, data)
        assert raw, f"{name}: no answer"
        st, body = status_and_error(raw)
        assert st == want, f"{name}: {st}, expected {want}: {body}"
        desc = body["errors"][0]["description"]
        assert word in desc, f"{name}: {desc!r} lacks {word!r}"
        assert took < 1.0, f"{name}: answered after {took:.2f}s"
    t.stop()


@test
def ten_thousand_bad_requests_leave_memory_and_descriptors_flat():
    t = instance("tkd-hostile-mem-")
    front = t.front()
    cases = [c for c in bad_bodies() if len(c[1]) < 40000]

    def burst(n):
        for i in range(n):
            raw, _ = answer(t.port, cases[i % len(cases)][1])
            assert raw.startswith(b"HTTP/1.1 4"), raw[:80]

    burst(1000)             # warm up allocators and caches
    rss0, fds0 = T.proc_rss_kb(front), T.proc_fd_count(front)
    burst(10000)
    rss1, fds1 = T.proc_rss_kb(front), T.proc_fd_count(front)
    assert T.under_asan(front) or rss1 - rss0 < 2048, \
        f"front RSS grew {rss1 - rss0} KiB"
    T.wait_until(lambda: T.proc_fd_count(front) <= fds0 + 2, 5,
                 what=f"descriptors back to {fds0} (now {fds1})")
    st, _, _ = t.token(jwt())
    assert st == 200
    t.stop()


# ---------------------------------------------------------------- nofile

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15 of proc(5), 12 and 13 after ")".
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


@test
def front_at_rlimit_nofile_refuses_then_recovers():
    # tokend started where RLIMIT_NOFILE is 300 (soft and hard: the front
    # cannot raise it).  The front keeps descriptors back from clients for
    # ZeroMQ: libzmq aborts the process when its ipc accept() fails with
    # EMFILE, which a reconnecting worker used to cause.  Clients past the
    # limit wait in the kernel's queue (libmicrohttpd stops accepting at
    # its connection limit) without a busy loop; the connections held are
    # served; a worker killed meanwhile reconnects; once the clients
    # close, requests are served again.
    t = instance("tkd-hostile-nofile-", nofile=300, per_ip_connections=0,
                 max_connections=1000)
    t.wait_log(r"RLIMIT_NOFILE is 300: room for 150 client connections")
    front = t.front()
    socks = []
    try:
        for _ in range(400):
            try:
                socks.append(socket.create_connection(("127.0.0.1",
                                                       t.port), timeout=2))
            except OSError:
                break
        assert len(socks) > 150, f"only {len(socks)} connections made"
        socks[0].sendall(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n"
                         b"Connection: close\r\n\r\n")
        socks[0].settimeout(5)
        assert socks[0].recv(100).startswith(b"HTTP/1.1 200"), "held one"
        # No busy loop on the listening socket while at the limit.
        c0, w0 = cpu_seconds(front), time.monotonic()
        time.sleep(2)
        share = (cpu_seconds(front) - c0) / (time.monotonic() - w0)
        assert share < 0.3, f"front at {share:.0%} CPU while at the limit"
        # A worker that reconnects now still gets in.
        old = t.workers()
        t.signal_workers(9)
        t.wait_workers(1, gone=old)
        assert t.front() == front, "the front died at the limit"
    finally:
        for s in socks:
            s.close()
    T.wait_until(lambda: t.token(jwt(), timeout=2)[0] == 200, 10,
                 what="served again once the connections closed")
    assert t.front() == front
    t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=120)
