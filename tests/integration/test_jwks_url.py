"""jwks_url fetches: out of the request path, and verified (issue 12).

A worker fetches its issuers' jwks_url in a thread of its own
(src/identity/keys.c).  A job whose kid is unknown asks for a fetch and waits for
it at most KEYS_WAIT_MS (250 ms); the broker takes a worker that holds a
job for heartbeat_interval x heartbeat_liveness (3 s here) as hung.  These
tests run the real daemon against a real HTTPS server on 127.0.0.1 whose
test CA and certificates are made here with openssl(1):

  slow server  while a fetch takes 4 s: a token with an unknown kid gets
               its 401 well under 1 s, valid tokens sent meanwhile get 200
               at once, no worker is forgotten as hung; once the server
               answers, the new kid is accepted.  The periodic refresh
               (jwks_refresh) of a slow server holds up no request either,
               and a worker in the middle of a fetch stops at once.
  host name    a certificate of the trusted test CA issued for another
               name is refused: its keys never become trusted, the last
               good set keeps serving
  redirect     a 302 to a URL serving other keys is not followed: those
               keys never become trusted, the last good set keeps serving

Run from the repository root:  /usr/bin/python3 tests/integration/test_jwks_url.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import AUD, SYNC, new_secret, test  # noqa: E402

ISS = "https://web.example.com"
JWKS = "/jwks.json"
SLOW = 4.0          # seconds the slow server takes: under KEYS_TOTAL_MS
PROMPT = 1.0        # "at once": KEYS_WAIT_MS (0.25 s) and a wide margin
WRONG_NAME = "jwks.wrong.example"
# The broker's words for a worker it gives up on (src/pool/broker.c).
HUNG = re.compile(r"hung|forgotten|silent")

S = types.SimpleNamespace(servers=[], pki=None)


# ---------------------------------------------------------------- PKI

def openssl(d, *args):
    p = subprocess.run(["openssl"] + list(args), cwd=d,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {args[0]}: exit {p.returncode}: "
                           f"{p.stderr.decode('utf-8', 'replace')}")


def make_pki(d):
    """A test CA and two server certificates under it, made by openssl(1)
    in d: "good" for 127.0.0.1 and localhost, "wrong" for WRONG_NAME only.
    Returns {name: path} for ca, good.pem/.key, wrong.pem/.key."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(d, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=tokend test CA")
    for name, cn, san in (("good", "127.0.0.1", "IP:127.0.0.1,DNS:localhost"),
                          ("wrong", WRONG_NAME, "DNS:" + WRONG_NAME)):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(f"subjectAltName = {san}\n"
                    "extendedKeyUsage = serverAuth\n"
                    "basicConstraints = critical, CA:FALSE\n")
        openssl(d, "req", *ec, "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + cn)
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", name + ".ext", "-out", name + ".pem")
    return {n: os.path.join(d, n) for n in ("ca.pem", "good.pem", "good.key",
                                            "wrong.pem", "wrong.key")}


# ---------------------------------------------------------------- server

class JwksServer:
    """HTTPS on 127.0.0.1 with the given certificate, answering each path
    from a table the test changes as it goes: status, extra headers, body
    and a delay before the answer.  Counts TLS connections accepted and
    requests per path.  port=0 picks a free port."""

    def __init__(self, cert, key, port=0):
        self.routes = {}
        self.requests = {}
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()     # cuts every delay short
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, headers, body, delay = srv.answer(self.path)
                if delay:
                    srv.stopping.wait(delay)
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass        # the client gave up waiting

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                # Counted before the handshake, which may fail.
                with srv.lock:
                    srv.accepted += 1
                return super().get_request()

        self.httpd = Server(("127.0.0.1", port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        S.servers.append(self)

    def url(self, path=JWKS):
        return f"https://127.0.0.1:{self.port}{path}"

    def route(self, path, keys=None, status=200, headers=(), raw=None,
              delay=0):
        body = raw if raw is not None else json.dumps(
            {"keys": [k.jwk() for k in keys or []]}).encode()
        if raw is None:
            headers = tuple(headers) + (("Content-Type",
                                         "application/json"),)
        with self.lock:
            self.routes[path] = (status, tuple(headers), body, delay)

    def answer(self, path):
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            return self.routes.get(path, (404, (), b"not found", 0))

    def count(self, path=JWKS):
        with self.lock:
            return self.requests.get(path, 0)

    def connections(self):
        with self.lock:
            return self.accepted

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- tokend

def instance(prefix, url, workers=2, refresh=None):
    """tokend with issuer web fetching url (trusting the test CA) and
    service sync-1.5; not started."""
    t = T.instance(prefix)
    t.write_secrets(uid=S.uid_secret, sync=S.sync_secret, end="")
    t.write_config(t.server_section(workers=workers),
                   T.issuer_section("web", ISS, None, jwks_url=url,
                                    jwks_ca_file=S.pki["ca.pem"],
                                    algorithms="ES256",
                                    jwks_refresh=refresh),
                   T.service_section())
    return t


def started(t, nkeys, workers):
    """Starts t and waits until each worker has fetched its nkeys keys."""
    t.start()
    t.wait_log(rf"issuer web: {nkeys} keys fetched from https://127\.0\.0\.1",
               count=workers)
    return t


def jwt(key, sub="web-user"):
    return T.sign_jwt(key, T.claims(sub, iss=ISS, aud=AUD))


def body_of(key, sub="web-user"):
    return {"assertion": jwt(key, sub), "service": SYNC}


def check_200(resp, what=""):
    st, _, body = resp
    assert st == 200, f"{what}: expected 200, got {st} {body!r}"
    payload = T.parse_token(body["id"], S.sync_secret)
    assert payload["uid"] == body["uid"], (what, payload, body)
    return body


def check_kid_401(resp, what=""):
    st, _, body = resp
    assert st == 401, f"{what}: expected 401, got {st} {body!r}"
    assert body.get("status") == "invalid-credentials", (what, body)
    d = body["errors"][0]["description"].lower()
    assert "kid" in d or "key id" in d, f"{what}: description {d!r}"


def timed(fn):
    """(result of fn(), seconds it took)."""
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def valid_load(t, key, seconds, threads=3):
    """Client threads sending valid tokens of key for seconds."""
    tok = body_of(key, "load-user")
    return T.Load(t.port, lambda i, n: ("POST", "/v1/token", tok),
                  threads=threads, seconds=seconds, timeout=10).start()


def check_load_prompt(load):
    load.join()
    assert load.results, "the load sent nothing"
    assert load.kinds() == {"200": len(load.results)}, load.kinds()
    slow = sorted(o.t1 - o.t0 for o in load.results)[-1]
    assert slow < PROMPT, (f"a valid token took {slow:.2f}s "
                           f"({len(load.results)} requests)")


def check_none_hung(t, mark):
    log = t.log_since(mark)
    bad = [ln for ln in log.splitlines() if HUNG.search(ln)]
    assert not bad, "workers given up on:\n" + "\n".join(bad)


# ---------------------------------------------------------------- setup

def setup():
    S.uid_secret = new_secret()
    S.sync_secret = new_secret()
    S.pki = make_pki(T.instance("tkd-jwksurl-pki-").dir)


def teardown(failed):
    T.teardown(failed)
    for srv in S.servers:
        srv.stop()


# ---------------------------------------------------------------- the PKI

@test
def pki_wrong_certificate_differs_only_in_name():
    # The host name test below must fail for the name alone: the "wrong"
    # certificate verifies under the test CA for its own name, and not
    # for 127.0.0.1.
    srv = JwksServer(S.pki["wrong.pem"], S.pki["wrong.key"])

    def handshake(name, check_hostname):
        ctx = ssl.create_default_context(cafile=S.pki["ca.pem"])
        ctx.check_hostname = check_hostname
        with socket.create_connection(("127.0.0.1", srv.port), 5) as s:
            with ctx.wrap_socket(s, server_hostname=name):
                pass
    handshake(WRONG_NAME, True)
    try:
        handshake("127.0.0.1", True)
    except ssl.SSLCertVerificationError as e:
        assert "match" in str(e) or "mismatch" in str(e), e
    else:
        raise AssertionError("the wrong certificate fits 127.0.0.1")
    srv.stop()


# ---------------------------------------------------------------- slow server

@test
def unknown_kid_answered_at_once_while_a_slow_fetch_runs():
    a, b = T.Key("ES256", "slow-a"), T.Key("ES256", "slow-b")
    srv = JwksServer(S.pki["good.pem"], S.pki["good.key"])
    srv.route(JWKS, keys=[a])
    t = started(instance("tkd-jwksurl-slow-", srv.url(), workers=2), 1, 2)
    check_200(t.token(jwt(a)), "A before")
    mark = t.log_mark()
    # The issuer rotates to B, and its server becomes slow.
    srv.route(JWKS, keys=[a, b], delay=SLOW)
    n0 = srv.count()
    load = valid_load(t, a, SLOW + 1)
    resp, took = timed(lambda: t.token(jwt(b)))
    check_kid_401(resp, "B while the fetch runs")
    d = resp[2]["errors"][0]["description"]
    assert "being refreshed" in d and "retry" in d, d
    assert took < PROMPT, f"the unknown kid took {took:.2f}s"
    # That was no rate-limited refusal: the fetch it asked for is running.
    T.wait_until(lambda: srv.count() > n0, 2, what="a fetch of the set")
    for i in range(3):
        resp, took = timed(lambda: t.token(jwt(b, f"again-{i}")))
        check_kid_401(resp, f"B again ({i})")
        assert took < PROMPT, f"an unknown kid again took {took:.2f}s"
    check_load_prompt(load)
    # Once the server has answered, B is accepted (each worker fetches on
    # its own, so poll).
    T.wait_until(lambda: t.token(jwt(b))[0] == 200, SLOW + 10, interval=0.2,
                 what="B accepted after the slow server answered")
    check_200(t.token(jwt(b)), "B after")
    check_200(t.token(jwt(a)), "A after")
    check_none_hung(t, mark)
    t.stop()


@test
def periodic_refresh_of_a_slow_server_holds_up_no_request():
    a, b = T.Key("ES256", "tick-a"), T.Key("ES256", "tick-b")
    srv = JwksServer(S.pki["good.pem"], S.pki["good.key"])
    srv.route(JWKS, keys=[a])
    t = started(instance("tkd-jwksurl-tick-", srv.url(), workers=1,
                         refresh=1), 1, 1)
    mark = t.log_mark()
    srv.route(JWKS, keys=[a, b], delay=SLOW)
    n0 = srv.count()
    load = valid_load(t, a, SLOW + 2)
    # The refresh runs (every second) while the valid tokens flow.
    T.wait_until(lambda: srv.count() > n0, 3, what="a refresh under way")
    check_load_prompt(load)
    # The refresh, not a token, brought B in.
    t.wait_log(r"issuer web: 2 keys fetched from", since=mark,
               timeout=SLOW + 5)
    check_200(t.token(jwt(b)), "B after the refresh")
    check_none_hung(t, mark)
    t.stop()


@test
def worker_stops_at_once_in_the_middle_of_a_fetch():
    a, b = T.Key("ES256", "stop-a"), T.Key("ES256", "stop-b")
    srv = JwksServer(S.pki["good.pem"], S.pki["good.key"])
    srv.route(JWKS, keys=[a])
    t = started(instance("tkd-jwksurl-stop-", srv.url(), workers=1), 1, 1)
    srv.route(JWKS, keys=[a, b], delay=60)
    n0 = srv.count()
    resp, took = timed(lambda: t.token(jwt(b)))
    check_kid_401(resp, "B while the fetch runs")
    d = resp[2]["errors"][0]["description"]
    assert "being refreshed" in d and "retry" in d, d
    assert took < PROMPT, f"the unknown kid took {took:.2f}s"
    T.wait_until(lambda: srv.count() > n0, 2, what="a fetch under way")
    graceful, took = timed(t.stop)
    assert graceful and t.exit_code == 0, (graceful, t.exit_code,
                                           t.stderr_tail())
    assert took < 3, f"stopping took {took:.2f}s"


# ---------------------------------------------------------------- verification

@test
def certificate_for_another_name_refused_last_good_set_kept():
    a, b = T.Key("ES256", "name-a"), T.Key("ES256", "name-b")
    good = JwksServer(S.pki["good.pem"], S.pki["good.key"])
    good.route(JWKS, keys=[a])
    t = started(instance("tkd-jwksurl-name-", good.url(), workers=1), 1, 1)
    check_200(t.token(jwt(a)), "A before")
    # The same address now answers with a certificate of the trusted CA
    # for another name, serving B only.
    port = good.port
    good.stop()
    wrong = JwksServer(S.pki["wrong.pem"], S.pki["wrong.key"], port=port)
    wrong.route(JWKS, keys=[b])
    mark = t.log_mark()
    check_kid_401(t.token(jwt(b)), "B from the wrong name")
    t.wait_log(r"issuer web: jwks_url https://127\.0\.0\.1:\d+/jwks\.json: "
               r".*(host name|subject name|match).*keeping the keys in use",
               since=mark)
    assert wrong.connections() >= 1, "no fetch reached the server"
    assert wrong.count() == 0, "an HTTP request went through"
    check_kid_401(t.token(jwt(b)), "B after the refused fetch")
    check_200(t.token(jwt(a)), "A, the last good set")
    t.stop()


@test
def redirect_to_other_keys_not_followed():
    a, c = T.Key("ES256", "redir-a"), T.Key("ES256", "redir-c")
    srv = JwksServer(S.pki["good.pem"], S.pki["good.key"])
    srv.route(JWKS, keys=[a])
    t = started(instance("tkd-jwksurl-redir-", srv.url(), workers=1), 1, 1)
    check_200(t.token(jwt(a)), "A before")
    srv.route("/other.json", keys=[c])
    srv.route(JWKS, status=302, raw=b"",
              headers=[("Location", srv.url("/other.json"))])
    mark = t.log_mark()
    check_kid_401(t.token(jwt(c)), "C behind the redirect")
    t.wait_log(r"issuer web: jwks_url https://127\.0\.0\.1:\d+/jwks\.json: "
               r"HTTP status 302; keeping the keys in use", since=mark)
    assert srv.count("/other.json") == 0, "the redirect was followed"
    check_kid_401(t.token(jwt(c)), "C after the refused fetch")
    check_200(t.token(jwt(a)), "A, the last good set")
    t.stop()


if __name__ == "__main__":
    T.run(setup, teardown, per_test_timeout=90)
