"""tokenctl status against a running tokend, one test per exit code (issue 17).

  unreachable  2, with the reason on stderr: nothing listens; a server
               that accepts and never answers (--timeout); an answer that
               is not 200; tokend's main listener (JSON, not the format);
               an endpoint in the format that is not tokend's

Run from the repository root:  /usr/bin/python3 tests/integration/test_status.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import http.server
import os
import socket
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import new_secret, standalone, test  # noqa: E402

S = types.SimpleNamespace(main=None, key=None)


def setup():
    S.key = T.Key("ES256")
    t = S.main = T.instance("tkd-status-")
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    t.write_config(t.server_section(workers=2),
                   T.issuer_section(algorithms=S.key.alg),
                   T.service_section())
    t.start()


def status(url, *args, timeout=30):
    return T.tokenctl("status", "--metrics", url, "--interval", "0.3",
                      *args, timeout=timeout)


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


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
