"""Metrics and health (issue 17): what an operator's tools read of tokend.

  format      GET /metrics on the [metrics] listener passes `promtool check
              metrics` (Debian's prometheus package) and has every family
              of docs/metrics.md; the main listener has no /metrics
  listener    anything but GET /metrics is 404 or 405; a body is ignored
  counts      after a burst of good and refused requests, the counters
              match what the test sent, by endpoint, status, reason and
              service
  prometheus  a real Prometheus on loopback scrapes tokend every second:
              the target is up, and its query API returns the counters the
              burst made
  restart     a worker killed with SIGKILL counts cause="signal"; one that
              recycles after max_jobs counts cause="recycle"
  heartbeat   GET /__heartbeat__ is 200 with its checks; 503 naming the
              workers check within a second of asking when every worker is
              SIGSTOPped; 200 again after SIGCONT
  hostile     service names, assertions and paths a client makes up never
              reach a label value

Run from the repository root:  /usr/bin/python3 tests/integration/test_metrics.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import SYNC, OTHER, OTHER_NODE, new_secret, test  # noqa: E402

S = types.SimpleNamespace(main=None, key=None, mport=None)

HB_MS = 200          # heartbeat_interval of the suite's instances

FAMILIES = [
    "tokend_requests_total", "tokend_request_duration_seconds",
    "tokend_queue_wait_seconds", "tokend_worker_duration_seconds",
    "tokend_queue_length", "tokend_inflight_requests", "tokend_workers",
    "tokend_worker_restarts_total", "tokend_jobs_redispatched_total",
    "tokend_worker_jobs_total", "tokend_assertions_rejected_total",
    "tokend_tokens_issued_total", "tokend_jwks_reloads_total",
    "tokend_issuers_without_keys", "tokend_config_reloads_total",
    "tokend_process_cpu_seconds_total",
    "tokend_process_resident_memory_bytes",
    "tokend_metrics_heartbeat_fields_rejected_total",
]


def metrics_instance(prefix, workers=2, **server):
    """An instance trusting S.key, with sync-1.5 (tokenlib) and other-1.0
    (fernet), a metrics listener on a fresh port, fast heartbeats."""
    t = T.instance(prefix)
    t.mport = T.free_port()
    t.write_secrets(uid=new_secret(), sync=new_secret(), other=new_secret())
    t.write_jwks("example.jwks", [S.key])
    server.setdefault("heartbeat_interval", HB_MS)
    t.write_config(t.server_section(workers=workers, **server),
                   ("metrics", [("listen", f"127.0.0.1:{t.mport}")]),
                   T.issuer_section(algorithms=S.key.alg),
                   T.service_section(),
                   T.service_section(OTHER, OTHER_NODE, format="fernet"))
    return t


def setup():
    S.key = T.Key("ES256")
    S.main = metrics_instance("tkd-metrics-")
    S.main.start(no_core=True)     # restart_causes aborts a worker


def jwt(sub="alice", **claims):
    return T.sign_jwt(S.key, T.claims(sub, **claims))


def scrape(t, path="/metrics", method="GET", body=None):
    """(status, headers, text) of one request to t's metrics listener,
    which must answer within a second (a Prometheus scraping every second
    gives up after that)."""
    import http.client
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", t.mport, timeout=5)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        out = r.status, {k.lower(): v for k, v in r.getheaders()}, \
            r.read().decode("utf-8")
    finally:
        conn.close()
    took = time.monotonic() - t0
    assert took < 1.0, f"{method} {path} on the metrics listener took " \
        f"{took:.3f}s"
    return out


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels.items())): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    """The sample of name with exactly these labels, or 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def metrics(t):
    status, _, text = scrape(t)
    assert status == 200, f"/metrics answered {status}"
    return parse(text)


def wait_metric(t, pred, timeout=5, what="metric"):
    """Polls t's /metrics until pred(samples) holds; returns the samples."""
    def ok():
        s = metrics(t)
        return s if pred(s) else None
    return T.wait_until(ok, timeout, interval=0.05, what=what)


# ---------------------------------------------------------------- format

@test
def format_promtool():
    t = S.main
    st, _, _ = t.token(jwt())
    assert st == 200
    # The workers' figures arrive with their next heartbeat.
    wait_metric(t, lambda s: value(s, "tokend_tokens_issued_total",
                                   service=SYNC, format="tokenlib") >= 1,
                what="the token counted")
    status, headers, text = scrape(t)
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    assert p.returncode == 0, f"promtool: {p.stdout}\n{text[:2000]}"
    for fam in FAMILIES:
        assert f"# TYPE {fam} " in text, f"{fam} missing"
    # Histograms are cumulative and end with +Inf == _count.
    s = parse(text)
    b = [v for (n, l), v in s.items()
         if n == "tokend_request_duration_seconds_bucket"
         and ("endpoint", "token") in l]
    assert b == sorted(b), "buckets not cumulative"
    assert value(s, "tokend_request_duration_seconds_bucket",
                 endpoint="token", le="+Inf") == \
        value(s, "tokend_request_duration_seconds_count", endpoint="token")
    assert value(s, "tokend_workers", state="idle", kind="local") + \
        value(s, "tokend_workers", state="busy", kind="local") == 2
    for role in ("front", "supervisor", "worker"):
        assert value(s, "tokend_process_resident_memory_bytes",
                     role=role) > 0, role
    assert ("tokend_process_cpu_seconds_total",
            frozenset({("role", "worker")})) in s
    # The public port shows none of it.
    st, _, _ = t.get("/metrics")
    assert st == 404


@test
def listener_refuses():
    t = S.main
    assert scrape(t, "/")[0] == 404
    assert scrape(t, "/metrics/x")[0] == 404
    assert scrape(t, "/__heartbeat__")[0] == 404
    st, h, _ = scrape(t, "/metrics", "POST", body=b"x" * 100000)
    assert st == 405 and h.get("allow") == "GET", (st, h)
    assert scrape(t, "/metrics", "DELETE")[0] == 405
    st, _, text = scrape(t, "/metrics", "HEAD")
    assert st == 200 and text == ""


# ---------------------------------------------------------------- counts

def burst(t):
    """Sends good and refused requests; returns what each counter of
    docs/metrics.md must have grown by: {(name, labels): delta}."""
    now = int(time.time())
    sent = {}

    def expect(name, n=1, **labels):
        k = (name, frozenset(labels.items()))
        sent[k] = sent.get(k, 0) + n

    for i in range(5):
        st, _, _ = t.token(jwt(f"user{i}"))
        assert st == 200, st
        expect("tokend_requests_total", endpoint="token", status="200")
        expect("tokend_tokens_issued_total", service=SYNC, format="tokenlib")
    for i in range(3):
        st, _, _ = t.token(jwt(f"user{i}"), service=OTHER)
        assert st == 200, st
        expect("tokend_requests_total", endpoint="token", status="200")
        expect("tokend_tokens_issued_total", service=OTHER, format="fernet")
    for i in range(4):
        st, _, _ = t.token(T.tamper_signature(jwt()))
        assert st == 401, st
        expect("tokend_requests_total", endpoint="token", status="401")
        expect("tokend_assertions_rejected_total",
               reason="invalid-credentials")
    for i in range(2):
        st, _, _ = t.token(jwt(now=now - 7200, lifetime=60))
        assert st == 401, st
        expect("tokend_requests_total", endpoint="token", status="401")
        expect("tokend_assertions_rejected_total", reason="invalid-timestamp")
    st, _, _ = t.token(jwt(), service="no-such-service")
    assert st == 404, st
    expect("tokend_requests_total", endpoint="token", status="404")
    expect("tokend_assertions_rejected_total", reason="unknown-service")
    st, _, _ = t.request("GET", "/1.0/sync/1.5",
                         headers={"Authorization": "Bearer " + jwt()})
    assert st == 200, st
    expect("tokend_requests_total", endpoint="mozilla", status="200")
    expect("tokend_tokens_issued_total", service=SYNC, format="tokenlib")
    st, _, _ = t.get("/nope")
    assert st == 404
    expect("tokend_requests_total", endpoint="other", status="404")
    st, _, _ = t.request("PUT", "/v1/token", body=b"{}")
    assert st == 405
    expect("tokend_requests_total", endpoint="token", status="405")
    expect("tokend_worker_jobs_total", 5 + 3 + 4 + 2 + 1 + 1)
    return sent


def grown_as_sent(before, sent):
    def ok(after):
        return all(after.get(k, 0) - before.get(k, 0) == n
                   for k, n in sent.items())
    return ok


@test
def counts_match_requests():
    t = S.main
    before = metrics(t)
    sent = burst(t)
    try:
        after = wait_metric(t, grown_as_sent(before, sent), timeout=5,
                            what="the counters to match the burst")
    except TimeoutError:
        after = metrics(t)
        wrong = {k: (after.get(k, 0) - before.get(k, 0), n)
                 for k, n in sent.items()
                 if after.get(k, 0) - before.get(k, 0) != n}
        raise AssertionError(f"(grown, sent) differ: {wrong}") from None
    # Each token's time is in the histograms, per endpoint.
    assert value(after, "tokend_worker_duration_seconds_count") - \
        value(before, "tokend_worker_duration_seconds_count") == 16
    assert value(after, "tokend_request_duration_seconds_count",
                 endpoint="token") - \
        value(before, "tokend_request_duration_seconds_count",
              endpoint="token") == 16


# ---------------------------------------------------------------- prometheus

class Prometheus:
    """A real Prometheus server on loopback scraping one tokend target
    every second, in a temp dir; stop() kills it (its pid only)."""

    def __init__(self, target_port):
        self.dir = tempfile.mkdtemp(prefix="tkd-prom-")
        self.port = T.free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: tokend\n"
                    "    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{target_port}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file", conf,
             "--storage.tsdb.path", os.path.join(self.dir, "data"),
             "--web.listen-address", f"127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        """The value of a query giving one number, or None if no result."""
        res = self.api("query", query=expr)["result"]
        return float(res[0]["value"][1]) if res else None

    def target_up(self):
        try:
            ts = self.api("targets")["activeTargets"]
        except (OSError, ValueError):
            return False
        return any(x["health"] == "up" for x in ts)

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@test
def prometheus_scrapes_counters():
    t = S.main
    prom = Prometheus(t.mport)
    try:
        T.wait_until(prom.target_up, 20, interval=0.2,
                     what="Prometheus to report the tokend target up")
        before = metrics(t)
        sent = burst(t)
        want = wait_metric(t, grown_as_sent(before, sent), timeout=5,
                           what="the counters to match the burst")
        for (name, labels), _ in sent.items():
            sel = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
            expr = f"sum({name}{{{sel}}})"
            T.wait_until(lambda: prom.query(expr) == want[(name, labels)],
                         10, interval=0.2,
                         what=f"Prometheus: {expr} == "
                              f"{want[(name, labels)]}")
        assert prom.query('up{job="tokend"}') == 1
    finally:
        prom.stop()


# ---------------------------------------------------------------- restart

def restarts(t, cause):
    return value(metrics(t), "tokend_worker_restarts_total", cause=cause)


@test
def restart_causes():
    t = S.main
    n = restarts(t, "signal")
    victim = t.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_metric(t, lambda s: value(s, "tokend_worker_restarts_total",
                                   cause="signal") == n + 1,
                what="restarts{cause=signal} + 1")
    t.wait_workers(2, gone=[victim])
    # A worker that dies of its own signal is a crash (SIGABRT: the
    # sanitizers let it through; no core, see start()).
    c = restarts(t, "crash")
    victim = t.workers()[0]
    os.kill(victim, signal.SIGABRT)
    wait_metric(t, lambda s: value(s, "tokend_worker_restarts_total",
                                   cause="crash") == c + 1,
                what="restarts{cause=crash} + 1")
    t.wait_workers(2, gone=[victim])
    assert restarts(t, "signal") == n + 1


@test
def restart_recycle():
    t = metrics_instance("tkd-metrics-recycle-", workers=1, max_jobs=3)
    t.start()
    try:
        for i in range(3):
            assert t.token(jwt(f"r{i}"))[0] == 200
        wait_metric(t, lambda s: value(s, "tokend_worker_restarts_total",
                                       cause="recycle") == 1,
                    what="restarts{cause=recycle} == 1")
        s = metrics(t)
        assert value(s, "tokend_worker_restarts_total", cause="signal") == 0
        assert value(s, "tokend_worker_restarts_total", cause="crash") == 0
        # What the recycled worker minted stays counted.
        assert value(s, "tokend_tokens_issued_total", service=SYNC,
                     format="tokenlib") == 3
    finally:
        t.stop()


# ---------------------------------------------------------------- heartbeat

def heartbeat(t):
    """(status, body) of GET /__heartbeat__, which must take < 1 s."""
    t0 = time.monotonic()
    st, h, body = t.get("/__heartbeat__", timeout=5)
    took = time.monotonic() - t0
    assert took < 1.0, f"/__heartbeat__ took {took:.3f}s"
    assert isinstance(body, dict), body
    if st == 503:
        assert h.get("retry-after") == "1"
    return st, body


@test
def heartbeat_stopped_workers():
    t = S.main
    st, body = T.wait_until(lambda: (lambda r: r if r[0] == 200 else None)(
        heartbeat(t)), 5, what="/__heartbeat__ 200")
    assert body == {"status": "ok", "checks": {"workers": "ok",
                                                "issuer_keys": "ok"},
                    "details": {}}, body
    pids = T.stop_pids(t.workers())
    try:
        t0 = time.monotonic()
        st, body = T.wait_until(
            lambda: (lambda r: r if r[0] == 503 else None)(heartbeat(t)),
            5, what="/__heartbeat__ 503 with every worker stopped")
        # Within two heartbeat intervals and some slack.
        assert time.monotonic() - t0 < 2 * HB_MS / 1000 + 1.0
        assert body["status"] == "error"
        assert body["checks"]["workers"] == "error"
        assert "heard from" in body["details"]["workers"]["message"]
        # The load balancer's check does not care.
        assert t.get("/__lbheartbeat__")[0] == 200
        s = metrics(t)
        assert value(s, "tokend_workers", state="idle", kind="local") == 0
    finally:
        T.cont_pids(pids)
    st, body = T.wait_until(lambda: (lambda r: r if r[0] == 200 else None)(
        heartbeat(t)), 10, what="/__heartbeat__ 200 after SIGCONT")
    assert body["checks"] == {"workers": "ok", "issuer_keys": "ok"}
    assert t.token(jwt())[0] == 200


@test
def heartbeat_issuer_without_keys():
    """An issuer whose jwks_url cannot be fetched fails issuer_keys."""
    t = T.instance("tkd-metrics-nokeys-")
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    dead = T.free_port()
    t.write_config(t.server_section(heartbeat_interval=HB_MS),
                   T.issuer_section(algorithms=S.key.alg),
                   T.issuer_section("remote", iss="https://remote.example",
                                    jwks_file=None,
                                    jwks_url=f"https://127.0.0.1:{dead}/k"),
                   T.service_section())
    t.start()
    try:
        # (A loaded machine may also fail the workers check a moment.)
        st, body = T.wait_until(
            lambda: (lambda r: r if r[1].get("checks") == {
                "workers": "ok", "issuer_keys": "error"} else None)(
                heartbeat(t)),
            5, what="/__heartbeat__ 503 naming issuer_keys alone")
        assert st == 503
        assert "1 issuers" in body["details"]["issuer_keys"]["message"]
        # The other issuer's tokens are still issued.
        assert t.token(jwt())[0] == 200
    finally:
        t.stop()


# ---------------------------------------------------------------- hostile

CLOSED = {
    "endpoint": {"token", "mozilla", "oauth", "lbheartbeat", "heartbeat",
                 "version", "other"},
    "reason": {"invalid-request", "invalid-credentials", "invalid-timestamp",
               "unknown-service", "error"},
    "service": {SYNC, OTHER},
    "format": {"tokenlib", "fernet"},
    "state": {"idle", "busy", "lost"},
    "kind": {"local", "remote"},
    "cause": {"crash", "signal", "recycle", "hang"},
    "result": {"ok", "error"},
    "role": {"supervisor", "front", "worker"},
}


@test
def hostile_labels():
    t = S.main
    evil = ['sync-1.5"} 1\nevil_total 9', "evil\\", "../../etc/passwd",
            "alice@example.com", "x" * 300, "\u00e9vil"]
    for name in evil:
        st, _, _ = t.token(jwt("alice@example.com"), service=name)
        assert st in (400, 404), st
        st, _, _ = t.request("GET", "/1.0/" + urllib.parse.quote(name[:40],
                                                                 safe="")
                             + "/1.0",
                             headers={"Authorization": "Bearer " + jwt()})
        assert st in (400, 401, 404), st
    for garbage in ["a.b.c", '"} 1', "evil_total 1\n", "x" * 5000]:
        st, _, _ = t.token(garbage)
        assert st in (400, 401), st
    t.request("GET", '/v1/token?x="}evil')
    t.request("GET", "/evil_path_total")
    time.sleep(0)   # the figures come with the next heartbeat: poll below
    s = wait_metric(t, lambda s: value(s, "tokend_assertions_rejected_total",
                                       reason="unknown-service") >= 6,
                    what="the hostile requests counted")
    _, _, text = scrape(t)
    for bad in ("evil", "passwd", "alice", "xxxxxxxxxx", "\u00e9"):
        assert bad not in text, f"{bad!r} in the metrics"
    for (name, labels) in s:
        for k, v in labels:
            if k == "le":
                assert v == "+Inf" or re.fullmatch(r"[0-9.e-]+", v), v
            elif k == "status":
                assert v == "other" or re.fullmatch(r"[1-5][0-9][0-9]", v), v
            else:
                assert v in CLOSED[k], f"{name}: {k}={v!r}"


# ---------------------------------------------------------------- reload

@test
def reloads_counted():
    t = S.main
    s0 = metrics(t)
    ok0 = value(s0, "tokend_config_reloads_total", result="ok")
    err0 = value(s0, "tokend_config_reloads_total", result="error")
    os.kill(t.proc.pid, signal.SIGHUP)
    wait_metric(t, lambda s: value(s, "tokend_config_reloads_total",
                                   result="ok") == ok0 + 1,
                what="config_reloads_total{result=ok} + 1")
    with open(t.conf) as f:
        good = f.read()
    try:
        with open(t.conf, "w") as f:
            f.write(good + "\n[server]\n")      # a section twice: refused
        os.kill(t.proc.pid, signal.SIGHUP)
        s = wait_metric(t, lambda s: value(s, "tokend_config_reloads_total",
                                           result="error") == err0 + 1,
                        what="config_reloads_total{result=error} + 1")
        assert value(s, "tokend_config_reloads_total", result="ok") == ok0 + 1
        # Retired workers are no restarts.
        assert value(s, "tokend_worker_restarts_total", cause="crash") == \
            value(s0, "tokend_worker_restarts_total", cause="crash")
    finally:
        with open(t.conf, "w") as f:
            f.write(good)
    assert t.token(jwt())[0] == 200


# ---------------------------------------------------------------- database

@test
def database_figures():
    """A nodes = database service (SQLite): its calls are timed, db_up
    says it answers, and /__heartbeat__ checks it."""
    t = T.instance("tkd-metrics-db-")
    t.mport = T.free_port()
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    # The database's timeout must fit the hung-worker limit: 3 x 500 ms.
    t.write_config(t.server_section(state_dir="state",
                                    heartbeat_interval=500),
                   ("metrics", [("listen", f"127.0.0.1:{t.mport}")]),
                   T.issuer_section(algorithms=S.key.alg),
                   T.service_section(nodes="database", duration=3600),
                   T.section("database", {"capacity": 10}, {}))
    t.start()
    try:
        for i in range(3):
            st, _, body = t.request("GET", "/1.0/sync/1.5", headers={
                "Authorization": "Bearer " + jwt(f"db{i}"),
                "X-KeyID": "1234-qqo"})
            assert st == 200, (st, body)
        s = wait_metric(t, lambda s: value(
            s, "tokend_db_duration_seconds_count") >= 3,
            what="three database calls timed")
        assert value(s, "tokend_db_up") == 1
        assert value(s, "tokend_tokens_issued_total", service=SYNC,
                     format="tokenlib") == 3
        st, body = heartbeat(t)
        assert st == 200 and body["checks"] == {
            "workers": "ok", "issuer_keys": "ok", "database": "ok"}, body
    finally:
        t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown)
