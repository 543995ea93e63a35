"""Confinement of the running daemon (issue 13; docs/security.md).

The front and every worker install a seccomp filter once set up (and
Landlock, where the kernel has it); tests/unit/test_sandbox.c shows what
the filters refuse.  Here, against the real daemon:

  confined   the front and each worker report an active filter on every
             thread (Seccomp: 2, NoNewPrivs: 1 in /proc/PID/task/*/status:
             ZeroMQ's threads and the key fetcher's too); the supervisor
             runs unconfined, as documented; the log says which mechanisms
             this kernel gave
  tokens     still minted under the filters: a JWT whose key is in a
             jwks_file, one whose key is fetched from a jwks_url (HTTPS, a
             test CA: a fetch made after the filter, for a new kid, reads
             the CA file and connects out again; by this machine's host
             name, glibc's resolver reads /etc/hosts), a BrowserID
             assertion
  reload     SIGHUP: the new workers are confined, and mint
  recycling  workers replaced after max_jobs come back confined, and mint
  off        `sandbox = off` runs front and workers unconfined, and says so

Run from the repository root:  /usr/bin/python3 tests/integration/test_sandbox.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import importlib
import json
import os
import re
import signal
import socket
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import browserid_gen as G  # noqa: E402
import tokendtest as T  # noqa: E402
from tokendtest import SYNC, new_secret, test  # noqa: E402

WEB_ISS = "https://web.example.com"
BID_AUD = "https://token.example"
IDP = "idp.example"
MIN = 60 * 1000

S = types.SimpleNamespace(servers=[])


def suite_helpers(name):
    """Another suite, imported for its helpers alone (test_jwks_url's
    HTTPS JWKS server and test CA): the tests it registers on import are
    dropped again, so this file runs only its own."""
    n = len(T._TESTS)
    mod = importlib.import_module(name)
    del T._TESTS[n:]
    return mod


J = suite_helpers("test_jwks_url")


# ---------------------------------------------------------------- /proc

def status_fields(path):
    """{name: value} of a /proc status file; {} once the thread is gone."""
    try:
        with open(path) as f:
            return dict(ln.split(":\t", 1) for ln in f.read().splitlines()
                        if ":\t" in ln)
    except (FileNotFoundError, ProcessLookupError):
        return {}


def unconfined_threads(pid):
    """The threads of pid without a seccomp filter or no_new_privs, as
    "TID Seccomp=N NoNewPrivs=N"; [] when every one has both."""
    bad = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        st = status_fields(f"/proc/{pid}/task/{tid}/status")
        if st and (st.get("Seccomp", "").strip() != "2" or
                   st.get("NoNewPrivs", "").strip() != "1"):
            bad.append(f"{tid} Seccomp={st.get('Seccomp', '?').strip()} "
                       f"NoNewPrivs={st.get('NoNewPrivs', '?').strip()}")
    return bad


def check_confined(pid, what):
    nthreads = len(os.listdir(f"/proc/{pid}/task"))
    assert nthreads >= 2, f"{what} {pid}: {nthreads} threads (ZeroMQ's?)"
    bad = unconfined_threads(pid)
    assert not bad, f"{what} {pid}: threads without the filter: {bad}"


def seccomp_mode(pid):
    return status_fields(f"/proc/{pid}/status").get("Seccomp", "?").strip()


def check_all_confined(t):
    front = t.front()
    assert front is not None, t.children()
    check_confined(front, "front")
    workers = t.workers()
    assert workers, t.children()
    for pid in workers:
        check_confined(pid, "worker")
    return workers


# ---------------------------------------------------------------- assertions

def jwt(key, iss=T.ISS, sub="alice"):
    return T.sign_jwt(key, T.claims(sub, iss=iss))


def browserid():
    now = int(time.time() * 1000)
    cert = G.certificate(S.idp, "RS256", IDP, "bob@idp.example", S.user,
                         now - MIN, now + 60 * MIN)
    return G.backed([cert], G.assertion(S.user, "RS256", BID_AUD,
                                        now + 2 * MIN))


def check_minted(resp, what):
    st, _, body = resp
    assert st == 200, f"{what}: expected 200, got {st} {body!r}"
    data = T.parse_token(body["id"], S.sync_secret)
    assert data["uid"] == body["uid"], (what, data, body)


def check_nothing_refused(t, mark):
    """No failed fetch and no refused call in the log since mark."""
    bad = [ln for ln in t.log_since(mark).splitlines()
           if re.search(r"jwks_url .*keeping|not permitted|Permission "
                        r"denied| sandbox: ", ln)]
    assert not bad, "\n".join(bad)


def check_all_kinds(t):
    """A token for each kind of assertion and key source."""
    check_minted(t.token(jwt(S.file_key)), "jwks_file JWT")
    check_minted(t.token(jwt(S.url_key, WEB_ISS)), "jwks_url JWT")
    check_minted(t.token(browserid()), "BrowserID")


# ---------------------------------------------------------------- instances

def write_json(t, rel, obj):
    with open(t.path(rel), "w") as f:
        json.dump(obj, f)


def confined_instance(prefix, **server):
    """Issuers of every kind: [issuer file] (jwks_file), [issuer web]
    (jwks_url on the test server, trusting the test CA), [browserid idp];
    the sync service.  Not started."""
    t = T.instance(prefix)
    t.write_secrets(uid=new_secret(), sync=S.sync_secret)
    t.write_jwks("file.jwks", [S.file_key])
    write_json(t, "idp.pub.json", S.idp.public())
    t.write_config(
        t.server_section(**server),
        T.issuer_section("file", jwks_file="file.jwks",
                         algorithms=S.file_key.alg),
        T.issuer_section("web", WEB_ISS, jwks_file=None,
                         jwks_url=S.server.url(),
                         jwks_ca_file=S.pki["ca.pem"], algorithms="ES256"),
        ("browserid idp", [("issuer", IDP),
                           ("public_key_file", "idp.pub.json"),
                           ("audience", BID_AUD)]),
        T.service_section())
    return t


def started(t, workers):
    """Starts t; waits until each worker has fetched the web issuer's
    keys (its first fetch, made before the filter)."""
    t.start()
    t.wait_log(r"issuer web: \d+ keys fetched from https://127\.0\.0\.1",
               count=workers)
    return t


def setup():
    S.sync_secret = new_secret()
    S.file_key = T.Key("RS256")
    S.url_key = T.Key("ES256")
    S.idp = G.RSKey.generate(2048)
    S.user = G.RSKey.generate(2048)
    pki = T.instance("tkd-sandbox-pki-")
    S.pki = J.make_pki(pki.dir)
    S.server = J.JwksServer(S.pki["good.pem"], S.pki["good.key"])
    S.server.route(J.JWKS, [S.url_key])
    S.t = started(confined_instance("tkd-sandbox-", workers=2), 2)


def teardown(failed):
    T.teardown(failed)
    for srv in J.S.servers:
        srv.stop()


# ---------------------------------------------------------------- tests

@test
def front_and_workers_confined_on_every_thread():
    t = S.t
    check_all_confined(t)
    # The supervisor forks and reloads config files: not confined.
    assert seccomp_mode(t.pid) == "0", seccomp_mode(t.pid)
    t.wait_log(r"supervisor\[\d+\] info: confinement: seccomp filters"
               r"( and Landlock ABI \d+|; no Landlock)")


@test
def tokens_minted_for_file_url_and_browserid_keys():
    check_all_kinds(S.t)


@test
def jwks_url_fetched_again_under_the_filter():
    # A new kid makes a worker fetch after its filter is in: a new TLS
    # connection, the CA file read again, the set parsed and installed.
    t = S.t
    mark = t.log_mark()
    rotated = T.Key("ES256")
    S.server.route(J.JWKS, [S.url_key, rotated])

    def minted():
        st, _, body = t.token(jwt(rotated, WEB_ISS, "carol"))
        return body if st == 200 else None
    body = T.wait_until(minted, 15, interval=0.2,
                        what="a token of the rotated key")
    assert T.parse_token(body["id"], S.sync_secret)["uid"] == body["uid"]
    t.wait_log(r"issuer web: 2 keys fetched", since=mark)
    check_nothing_refused(t, mark)
    check_all_confined(t)


def resolved_host():
    """A name glibc's resolver maps to 127.0.0.1 from /etc/hosts: this
    machine's host name (so "files" in nsswitch.conf, /etc/hosts and the
    resolver's other files are read).  "localhost" only where the host
    name is not there: libcurl answers that one itself, without glibc."""
    host = socket.gethostname()
    try:
        if socket.gethostbyname(host) == "127.0.0.1":
            return host
    except OSError:
        pass
    print(f"# {host} is not 127.0.0.1 in /etc/hosts: using localhost, "
          f"which libcurl resolves without glibc", flush=True)
    return "localhost"


def host_server(host):
    """A JWKS server whose certificate (of the test CA) names host."""
    d = os.path.dirname(S.pki["ca.pem"])
    with open(os.path.join(d, "host.ext"), "w") as f:
        f.write(f"subjectAltName = DNS:{host}\n"
                "extendedKeyUsage = serverAuth\n"
                "basicConstraints = critical, CA:FALSE\n")
    J.openssl(d, "req", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", "host.key",
              "-out", "host.csr", "-subj", "/CN=" + host)
    J.openssl(d, "x509", "-req", "-in", "host.csr", "-CA", "ca.pem",
              "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
              "-extfile", "host.ext", "-out", "host.pem")
    srv = J.JwksServer(os.path.join(d, "host.pem"),
                       os.path.join(d, "host.key"))
    srv.route(J.JWKS, [S.url_key])
    return srv


@test
def jwks_url_host_name_resolved_under_the_filter():
    # https://HOST:PORT: the worker resolves HOST at start (Landlock in
    # place) and again for a new kid, in a resolver thread libcurl starts
    # after the filter.  Without /etc/hosts among its files: "Could not
    # resolve host".
    host = resolved_host()
    srv = host_server(host)
    t = T.instance("tkd-sandbox-dns-")
    t.write_secrets(uid=new_secret(), sync=S.sync_secret)
    t.write_config(t.server_section(workers=1),
                   T.issuer_section("web", WEB_ISS, jwks_file=None,
                                    jwks_url=srv.url().replace(
                                        "127.0.0.1", host),
                                    jwks_ca_file=S.pki["ca.pem"],
                                    algorithms="ES256"),
                   T.service_section())
    t.start()
    t.wait_log(rf"issuer web: 1 keys fetched from https://{host}:")
    mark = t.log_mark()
    rotated = T.Key("ES256")
    srv.route(J.JWKS, [S.url_key, rotated])

    def minted():
        st, _, body = t.token(jwt(rotated, WEB_ISS, "dora"))
        return body if st == 200 else None
    T.wait_until(minted, 15, interval=0.2, what="a token of the rotated key")
    t.wait_log(rf"issuer web: 2 keys fetched from https://{host}:",
               since=mark)
    check_nothing_refused(t, mark)
    check_all_confined(t)
    t.stop()


@test
def reload_starts_confined_workers():
    t = S.t
    old = t.workers()
    mark = t.log_mark()
    os.kill(t.pid, signal.SIGHUP)
    t.wait_log(r"reloaded: 2 workers", since=mark)
    t.wait_workers(2, timeout=15, gone=old)
    t.wait_log(r"issuer web: \d+ keys fetched", since=mark, count=2)
    check_all_confined(t)
    check_all_kinds(t)
    check_nothing_refused(t, mark)


@test
def recycled_workers_come_back_confined():
    t = started(confined_instance("tkd-sandbox-recycle-", workers=1,
                                  max_jobs=2), 1)
    first = t.workers()
    check_all_confined(t)
    for i in range(2):
        check_minted(t.token(jwt(S.file_key, sub=f"r{i}")), f"job {i}")
    t.wait_log(r"worker 1 recycled")
    again = t.wait_workers(1, timeout=15, gone=first)
    t.wait_log(r"issuer web: \d+ keys fetched", count=2)
    check_all_confined(t)
    assert t.workers() == again, (again, t.workers())
    check_all_kinds(t)
    t.stop()


@test
def sandbox_off_runs_unconfined_and_says_so():
    t = started(confined_instance("tkd-sandbox-off-", workers=1,
                                  sandbox="off"), 1)
    for pid in [t.front()] + t.workers():
        assert seccomp_mode(pid) == "0", (pid, seccomp_mode(pid))
    t.wait_log(r"sandbox = off: the front and the workers run unconfined")
    check_all_kinds(t)
    t.stop()


if __name__ == "__main__":
    T.run(setup, teardown, per_test_timeout=90)
