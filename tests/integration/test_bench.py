#!/usr/bin/python3
"""test_bench - scripts/bench itself, run short against the real daemon.

The figures of docs/performance.md come from scripts/bench, so it must keep
working (also --nodes sqlite, the node-assignment database's cost): a short
run (1 s, 8 connections, idle connections, the half-rate
probe, a [server] key through --set) must exit 0 and print every figure,
with every request answered 200 and plausible values.  It measures nothing
here: the machine running the tests is busy with them.  A short --sweep
(two worker counts, two connection counts) must print its table and draw
it: an SVG with a p50 and a p99 line per worker count.

Run from the repository root:  /usr/bin/python3 tests/integration/test_bench.py
(BUILD=dir picks the binaries, as for the other suites).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

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
def remote_measures_ipc_then_curve_tcp_in_one_run():
    """--remote: the same load on ipc workers, then on a worker host over
    CURVE TCP; both runs' figures and their difference per token."""
    r, err = bench("--remote", "--workers", "1")
    keys = [f"remote_{m}_{k}" for m in ("ipc", "tcp") for k in (
        "requests_per_second", "latency_p50_us", "front_cpu_us_per_token",
        "workers_cpu_us_per_token", "server_cpu_us_per_token")]
    missing = [k for k in keys + ["remote_tcp_extra_cpu_us_per_token",
                                  "remote_tcp_cpu_ratio"] if r.get(k) is None]
    assert not missing, f"figures missing: {missing}\n{err[-2000:]}"
    # The last run is the remote one, and every request of it was served.
    assert r["requests"] > 0 and r["responses_non2xx"] == 0, r
    assert r["socket_errors"] == 0, r
    for m in ("ipc", "tcp"):
        assert r[f"remote_{m}_requests_per_second"] > 0, r
        assert r[f"remote_{m}_workers_cpu_us_per_token"] > 0, r
    tcp, ipc = (r[f"remote_{m}_server_cpu_us_per_token"]
                for m in ("tcp", "ipc"))
    assert abs(r["remote_tcp_extra_cpu_us_per_token"] - (tcp - ipc)) < 0.1, r
    assert abs(r["remote_tcp_cpu_ratio"] - tcp / ipc) < 0.01, r


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


@T.test
def sweep_draws_the_table_it_prints():
    d = tempfile.mkdtemp(prefix="tkd-sweep-")
    svg = os.path.join(d, "sweep.svg")
    try:
        p = subprocess.run(
            [os.path.join(ROOT, "scripts", "bench"), "--sweep", "--workers",
             "1,2", "--sweep-connections", "1,3", "--duration", "1",
             "--warmup", "0", "--count", "20", "--out", svg],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=120, cwd=ROOT)
        assert p.returncode == 0, p.stderr[-3000:]
        rows = [line.split("|")[1:-1] for line in p.stdout.splitlines()
                if re.match(r"^\| \d", line)]
        assert [(int(r[0]), int(r[1])) for r in rows] == \
            [(1, 1), (1, 3), (2, 1), (2, 3)], p.stdout
        for r in rows:
            rps = float(r[2].replace(",", ""))
            p50, p90, p99 = (float(x) for x in r[3:6])
            assert rps > 0 and 0 < p50 <= p90 <= p99, r
            assert int(r[6]) == 0 and int(r[7]) == 0, r
            assert 0 <= float(r[8].rstrip(" %")) <= 100, r
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg"), root.tag
        text = open(svg).read()
        # One line each of p50 and p99 per worker count, with its title.
        for title in ("1 worker, p50", "1 worker, p99", "2 workers, p50",
                      "2 workers, p99", "throughput (requests/s)",
                      "latency (ms)"):
            assert title in text, title
    finally:
        shutil.rmtree(d, ignore_errors=True)


@T.test
def sweep_refuses_a_run_past_its_bound():
    p = subprocess.run(
        [os.path.join(ROOT, "scripts", "bench"), "--sweep", "--workers",
         "1,2,3,4", "--sweep-connections", "1,2,4,8,16,32,64,128",
         "--duration", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=30, cwd=ROOT)
    assert p.returncode == 2 and "more than 600 s" in p.stderr, p.stderr
    p = subprocess.run(
        [os.path.join(ROOT, "scripts", "bench"), "--workers", "1,2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=30, cwd=ROOT)
    assert p.returncode == 2 and "goes with --sweep" in p.stderr, p.stderr


@T.test
def nodes_sqlite_short_run_prints_every_figure():
    r, err = bench("--nodes", "sqlite", "--warmup", "0")
    for k in ("fixed_cpu_us_per_token", "db_cpu_us_per_token",
              "returning_overhead_pct", "first_request_cpu_us_per_token",
              "first_request_overhead_pct", "first_requests"):
        assert r.get(k) is not None, f"{k} missing: {r}\n{err[-2000:]}"
    assert r["nodes"] == "sqlite" and r["first_requests"] == 20, r
    assert r["fixed_cpu_us_per_token"] > 0 and \
        r["db_cpu_us_per_token"] > 0, r


if os.environ.get("TOKEND_TEST_PG") == "1":
    @T.test
    def nodes_postgres_over_the_unix_socket_prints_the_floor():
        """--db-unix: tokend (confined) reaches PostgreSQL over its Unix
        socket, and the run prints the floor of one round trip over TCP
        and over the socket, in a database of its own."""
        import psycopg2
        db = "tkd_bench_%d" % os.getpid()
        admin = psycopg2.connect(connect_timeout=5)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {db}")
        env = dict(os.environ, PGDATABASE=db)
        try:
            p = subprocess.run(
                [os.path.join(ROOT, "scripts", "bench"), "--nodes",
                 "postgres", "--db-unix", "--duration", "1", "--warmup",
                 "0", "--count", "20", "--connections", "4", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                universal_newlines=True, timeout=150, cwd=ROOT, env=env)
            assert p.returncode == 0, \
                f"scripts/bench exit {p.returncode}:\n{p.stderr[-3000:]}"
            r = json.loads(p.stdout)
            assert r["pg_transport"] == "unix" and \
                r["first_requests"] == 20, r
            for kind in ("tcp", "unix"):
                c = r[f"pg_floor_{kind}_client_us"]
                b = r[f"pg_floor_{kind}_backend_us"]
                f = r[f"pg_floor_{kind}_us_per_round_trip"]
                assert c > 0 and b > 0 and abs(f - (c + b)) < 0.2, r
            assert 0 < r["pg_floor_overhead_pct"] < 1000, r
            assert r["db_pg_backend_cpu_us_per_token"] > 0, r
        finally:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {db} "
                                   "WITH (FORCE)")
            admin.close()
else:
    print("# PostgreSQL case left out (nodes_postgres_over_the_unix_socket_"
          "prints_the_floor: run under tests/with-pg)", flush=True)


if __name__ == "__main__":
    T.run(per_test_timeout=240)
