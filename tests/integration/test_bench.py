#!/usr/bin/python3
"""test_bench - scripts/bench itself, run short against the real daemon.

The figures of docs/performance.md come from scripts/bench, so it must keep
working: a short run (1 s, 8 connections, idle connections, the half-rate
probe, a [server] key through --set) must exit 0 and print every figure,
with every request answered 200 and plausible values.  It measures nothing
here: the machine running the tests is busy with them.

Run from the repository root:  /usr/bin/python3 tests/integration/test_bench.py
(BUILD=dir picks the binaries, as for the other suites).
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

FIGURES = (
    "requests_per_second", "responses_2xx", "responses_non2xx",
    "socket_errors", "latency_p50_us", "latency_p90_us", "latency_p99_us",
    "latency_p999_us", "latency_max_us", "front_cpu_us_per_token",
    "workers_cpu_us_per_token", "server_cpu_us_per_token",
    "ceiling_tokens_per_second", "ceiling_cpu_us_per_token",
    "overhead_ratio", "throughput_vs_ceiling", "front_peak_rss_kib",
    "worker_peak_rss_kib", "worker_pss_kib", "worker_private_kib",
    "loadgen_cpu_share", "half_requests_per_second", "half_latency_p99_us",
    "front_rss_idle_kib", "idle_connections_open")


def bench(*args, timeout=150):
    p = subprocess.run(
        [os.path.join(ROOT, "scripts", "bench"), "--duration", "1",
         "--warmup", "1", "--ceiling-seconds", "0.5", "--count", "20",
         "--connections", "8", "--json"] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=timeout, cwd=ROOT)
    assert p.returncode == 0, \
        f"scripts/bench exit {p.returncode}:\n{p.stderr[-3000:]}"
    return json.loads(p.stdout), p.stderr


@T.test
def short_run_prints_every_figure():
    r, err = bench("--alg", "ES256", "--idle-connections", "20",
                   "--rate", "half", "--set", "worker_credit=4")
    missing = [k for k in FIGURES if r.get(k) is None]
    assert not missing, f"figures missing: {missing}\n{err[-2000:]}"
    assert r["alg"] == "ES256" and r["workers"] == 2, r
    assert r["requests"] > 0 and r["responses_2xx"] == r["requests"], r
    assert r["responses_non2xx"] == 0 and r["socket_errors"] == 0, r
    assert r["half_responses_non2xx"] == 0, r
    assert r["idle_connections_open"] == 20, r
    lat = [r[k] for k in ("latency_p50_us", "latency_p90_us",
                          "latency_p99_us", "latency_max_us")]
    assert lat == sorted(lat) and lat[0] > 0, lat
    # The server cannot spend less than the crypto it does.
    assert r["overhead_ratio"] > 1, r["overhead_ratio"]
    assert 0 < r["loadgen_cpu_share"] < 1, r["loadgen_cpu_share"]
    assert 0 < r["worker_private_kib"] <= r["worker_pss_kib"] <= \
        r["worker_peak_rss_kib"], r
    assert r["front_rss_idle_kib"] >= r["front_rss_base_kib"], r


@T.test
def bad_set_key_is_refused_with_the_config_error():
    p = subprocess.run(
        [os.path.join(ROOT, "scripts", "bench"), "--duration", "1",
         "--warmup", "1", "--ceiling-seconds", "0.5", "--count", "5",
         "--set", "worker_credit=99"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=120, cwd=ROOT)
    assert p.returncode != 0, "bench ran with worker_credit = 99"
    assert "worker_credit" in p.stderr and "1 to 16" in p.stderr, \
        p.stderr[-2000:]


if __name__ == "__main__":
    T.run(per_test_timeout=240)
