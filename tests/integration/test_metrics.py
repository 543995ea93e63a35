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
    S.main.start()


def jwt(sub="alice", **claims):
    return T.sign_jwt(S.key, T.claims(sub, **claims))


def scrape(t, path="/metrics", method="GET", body=None):
    """(status, headers, text) of one request to t's metrics listener."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", t.mport, timeout=5)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, \
            r.read().decode("utf-8")
    finally:
        conn.close()


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


if __name__ == "__main__":
    T.run(setup, T.teardown)
