"""tokenctl status against a running tokend, one test per exit code (issue 17).

  unreachable  2, with the reason on stderr: nothing listens; a server
               that accepts and never answers (--timeout); an answer that
               is not 200; tokend's main listener (JSON, not the format);
               an endpoint in the format that is not tokend's
  healthy      0: a tokend with [metrics] listen, after a few token
               requests, good and refused: the summary names the workers,
               the statuses and the rejection reason
  degraded     1: every worker SIGSTOPped until the broker counts them
               lost; then SIGCONT and healthy again

Run from the repository root:  /usr/bin/python3 tests/integration/test_status.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import http.server
import os
import re
import socket
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import new_secret, standalone, test  # noqa: E402

S = types.SimpleNamespace(main=None, key=None, mport=None)


def setup():
    S.key = T.Key("ES256")
    t = S.main = T.instance("tkd-status-")
    S.mport = T.free_port()
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    t.write_config(t.server_section(workers=2, heartbeat_interval=100,
                                    heartbeat_liveness=20),
                   ("metrics", [("listen", f"127.0.0.1:{S.mport}")]),
                   T.issuer_section(algorithms=S.key.alg),
                   T.service_section())
    t.start()


def status(url, *args, timeout=30):
    return T.tokenctl("status", "--metrics", url, "--interval", "0.3",
                      *args, timeout=timeout)


def metrics_url():
    return f"http://127.0.0.1:{S.mport}/metrics"


# ---------------------------------------------------------------- 2

def check_unreachable(url, words, *args):
    code, out, err = status(url, *args)
    assert code == 2, (code, out, err)
    assert out == "", out
    assert err.startswith("tokenctl: unreachable: "), err
    for w in words:
        assert w in err, (w, err)


@standalone
def unreachable_nothing_listens():
    check_unreachable(f"http://127.0.0.1:{T.free_port()}/metrics",
                      ["Couldn't connect"])


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the server's canned (status, body)."""

    def do_GET(self):
        st, body = self.server.canned
        self.send_response(st)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def with_canned(st, body, fn):
    srv = http.server.HTTPServer(("127.0.0.1", 0), Canned)
    srv.canned = (st, body)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        fn(f"http://127.0.0.1:{srv.server_address[1]}/metrics")
    finally:
        srv.shutdown()
        srv.server_close()


@standalone
def unreachable_not_200_or_not_the_format_or_not_tokend():
    with_canned(404, b"not here\n", lambda u: check_unreachable(
        u, ["HTTP status 404"]))
    with_canned(200, b"<html><body>hello</body></html>\n",
                lambda u: check_unreachable(
                    u, ["not the Prometheus text format", "line 1"]))
    with_canned(200, b"up 1\nprocess_cpu_seconds_total 3.5\n",
                lambda u: check_unreachable(u, ["tokend_workers"]))


@standalone
def unreachable_silent_server_times_out():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    try:
        t0 = time.monotonic()
        check_unreachable(f"http://127.0.0.1:{ls.getsockname()[1]}/m",
                          ["imed out"], "--timeout", "0.5")
        assert time.monotonic() - t0 < 5
    finally:
        ls.close()


@test
def unreachable_main_listener_is_json():
    check_unreachable(f"http://127.0.0.1:{S.main.port}/__lbheartbeat__",
                      ["not the Prometheus text format"])


# ---------------------------------------------------------------- 0, 1

def jwt(sub="alice", **claims):
    return T.sign_jwt(S.key, T.claims(sub, **claims))


@test
def healthy_after_good_and_refused_requests():
    t = S.main
    T.wait_until(lambda: T.tokenctl("status", "--metrics", metrics_url(),
                                    "--interval", "0.1")[0] == 0, 10,
                 what="healthy")
    done = threading.Event()

    def load():
        # Requests during the window, bounded: good and expired.
        for i in range(200):
            if done.is_set():
                break
            st, _, _ = t.token(jwt() if i % 2 else
                               jwt(now=int(time.time()) - 7200))
            assert st in (200, 401), st
    th = threading.Thread(target=load, daemon=True)
    th.start()
    try:
        code, out, err = status(metrics_url(), "--interval", "1")
    finally:
        done.set()
        th.join(30)
    assert code == 0, (code, out, err)
    assert re.search(r"^workers: +2 idle, 0 busy, 0 lost$|"
                     r"^workers: +[012] idle, [012] busy, 0 lost$", out,
                     re.M), out
    assert re.search(r"^requests: +[\d.]+/s \(200 [\d.]+/s, 401 [\d.]+/s\)$",
                     out, re.M), out
    assert re.search(r"^latency: +p50 [\d.]+ ms, p99 [\d.]+ ms$", out,
                     re.M), out
    assert re.search(r"^rejected: .*invalid-timestamp \d+", out, re.M), out
    assert out.rstrip().endswith("status:    healthy"), out


@test
def degraded_when_every_worker_is_stopped():
    t = S.main
    pids = t.workers()
    T.stop_pids(pids)
    try:
        def degraded():
            # One worker may be counted lost a moment before the other.
            r = status(metrics_url(), "--interval", "0.1")
            return r if r[0] == 1 and "2 lost" in r[1] else None
        code, out, err = T.wait_until(degraded, 15, what="degraded")
        assert re.search(r"^status: +degraded: no worker idle or busy; "
                         r"2 workers lost$", out, re.M), out
        assert re.search(r"^workers: +0 idle, 0 busy, 2 lost$", out,
                         re.M), out
    finally:
        T.cont_pids(pids)
    T.wait_until(lambda: status(metrics_url(), "--interval", "0.1")[0] == 0,
                 15, what="healthy again after SIGCONT")


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
