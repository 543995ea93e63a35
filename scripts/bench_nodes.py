"""bench_nodes - scripts/bench --nodes sqlite|postgres: what the
node-assignment database costs per token (docs/nodes.md).

One tokend, two services on the same 1.0 endpoint and the same identity
path (an fxa-oauth issuer verifying FxA JWT access tokens locally, ES256):
fixed-1.5 with one fixed node (no database), and sync-1.5 with nodes =
database.  In one run:

 1. first requests: --count users never seen, one request each (Python
    client threads): each allocates a node and writes a record.  The
    server's CPU (supervisor + front + workers, /proc utime+stime) per
    request is first_request_cpu_us_per_token.
 2. returning users: wrk sends the same users again (a record exists,
    nothing to write) to sync-1.5, and for comparison to fixed-1.5, twice
    each, alternating, --duration seconds a run after a --warmup; the
    lower of the two figures of each is kept (noise on a shared machine
    only adds).  db_cpu_us_per_token against fixed_cpu_us_per_token gives
    returning_overhead_pct, the figure docs/performance.md sets targets for
    (SQLite at most +10%, PostgreSQL on loopback at most +25%).
 3. with PostgreSQL, the CPU of the server processes serving tokend's
    connections (their pids from pg_stat_activity) is reported apart, per
    token: pg_backend_cpu_us_per_token (first requests and returning).

 4. with PostgreSQL, the floor: scripts/pgfloor.c (built here with cc and
    libpq) runs a prepared SELECT 1 20,000 times over the same TCP
    connection kind tokend uses, and over the server's Unix socket when
    the server is this host's throwaway cluster, and reports the client's
    and the server backend's CPU per round trip (user + system: the
    kernel's share of both sides is in).  A returning user costs tokend
    one round trip (docs/nodes.md), so pg_floor_overhead_pct (one round
    trip, client + server, against the fixed-node token) is the least
    returning_overhead_with_pg_backend_pct can be on this machine.

PostgreSQL: a throwaway cluster (tests/with-pg, pg_virtualenv) unless
--db-url names one; --db-unix makes tokend connect to the throwaway
cluster over its Unix socket (as the OS user, peer authentication; a
superuser role of that name is made in the cluster) instead of TCP
loopback.  Output: "key: value" lines, or JSON with --json.
"""

import base64
import getpass
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

FLOOR_CALLS = 20000            # round trips per floor measurement
ISS = "https://accounts.example.com"
SCOPE = "https://identity.mozilla.com/apps/oldsync"
CLIENT_STATE = "aaaa"
GENERATION = 1234


def key_id():
    cs = base64.urlsafe_b64encode(bytes.fromhex(CLIENT_STATE))
    return f"{GENERATION}-{cs.decode().rstrip('=')}"


class NodesBench:
    def __init__(self, a, B):
        self.a = a
        self.B = B                      # scripts/bench, for its helpers
        self.tmp = tempfile.mkdtemp(prefix="tkd-bench-nodes-")
        self.tokend = None
        self.res = {}
        sys.path.insert(0, os.path.join(B.ROOT, "tests", "integration"))
        import tokendtest
        self.T = tokendtest

    # -- set-up

    def db_url(self):
        a = self.a
        if a.nodes == "sqlite":
            return "sqlite:///" + os.path.join(self.tmp, "tokend.db")
        if a.db_url:
            return a.db_url
        if a.db_unix:
            return self.unix_url()
        return self.tcp_url()

    def tcp_url(self):
        e = os.environ
        return (f"postgres://{e['PGUSER']}@{e.get('PGHOST', 'localhost')}:"
                f"{e['PGPORT']}/{e.get('PGDATABASE', 'postgres')}")

    def sql(self, url, query):
        """The first column of query's rows, on a connection of its own."""
        import psycopg2
        url = url.replace("postgres://", "postgresql://", 1)
        c = psycopg2.connect(url, connect_timeout=5)
        try:
            c.autocommit = True
            cur = c.cursor()
            cur.execute(query)
            return [r[0] for r in cur.fetchall()] if cur.description \
                else []
        finally:
            c.close()

    def unix_url(self):
        """The throwaway cluster over its Unix socket, as the OS user (peer
        authentication), whose superuser role is made the first time."""
        from urllib.parse import quote
        if getattr(self, "_unix_url", None) is None:
            tcp = self.tcp_url()
            me = getpass.getuser()
            d = self.sql(tcp, "SHOW unix_socket_directories")[0]
            d = d.split(",")[0].strip()
            if not self.sql(tcp, "SELECT 1 FROM pg_roles WHERE rolname = "
                            f"'{me}'"):
                self.sql(tcp, f'CREATE ROLE "{me}" SUPERUSER LOGIN')
            e = os.environ
            self._unix_url = (f"postgres://{me}@{quote(d, safe='')}:"
                              f"{e['PGPORT']}/"
                              f"{e.get('PGDATABASE', 'postgres')}")
        return self._unix_url

    def users(self):
        """--count users: (fxa uid, the headers line for bench-get.lua)."""
        T = self.T
        key = T.Key("ES256", kid="bench")
        T.write_jwks(os.path.join(self.tmp, "fxa.jwks"), [key])
        now = int(time.time())
        out = []
        for _ in range(self.a.count):
            uid = uuid.uuid4().hex
            jwt = T.sign_jwt(key, {
                "iss": ISS, "sub": uid, "scope": SCOPE,
                "fxa-generation": GENERATION, "client_id": "bench",
                "iat": now, "exp": now + 3 * 3600},
                header={"alg": "ES256", "typ": "at+jwt", "kid": "bench"})
            out.append((uid, f"Bearer {jwt}\t{key_id()}"))
        return out

    def write_config(self):
        T, a = self.T, self.a
        for name in ("uid", "sync", "fixed"):
            T.write_secret(os.path.join(self.tmp, name + ".secret"),
                           T.new_secret() + "\n")
        self.port = self.B.free_port()
        server = [("listen", f"127.0.0.1:{self.port}"),
                  ("workers", a.workers), ("runtime_dir", "run"),
                  ("state_dir", "state"), ("uid_secret_file", "uid.secret"),
                  ("access_log", "off"), ("log_level", "warning"),
                  ("request_timeout", 10), ("queue_limit", 4096)]
        database = [("url", self.db_url()), ("capacity", 100000000)]
        issuer = [("type", "fxa-oauth"), ("iss", ISS),
                  ("jwks_file", "fxa.jwks"),
                  # never asked: every token verifies locally
                  ("verify_url", f"http://127.0.0.1:{self.B.free_port()}"
                                 f"/v1/verify"),
                  ("email_domain", "api.accounts.firefox.com")]
        sync = [("secret_file", "sync.secret"), ("nodes", "database"),
                ("bootstrap_nodes", "https://sync-1.example.com"),
                ("duration", 3600)]
        fixed = [("secret_file", "fixed.secret"),
                 ("node", "https://fixed.example.com"), ("duration", 3600)]
        text, _ = T.render_config([("server", server),
                                   ("database", database),
                                   ("issuer fxa", issuer),
                                   ("service sync-1.5", sync),
                                   ("service fixed-1.5", fixed)])
        self.conf = os.path.join(self.tmp, "tokend.conf")
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self):
        B = self.B
        self.log = os.path.join(self.tmp, "tokend.log")
        with open(self.log, "w") as f:
            self.tokend = subprocess.Popen(
                [os.path.join(B.BUILD, "tokend"), "-c", self.conf],
                cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                start_new_session=True)
        B.wait_http(self.port, self.tokend, 30, self.log, "tokend")
        deadline = time.monotonic() + 10
        while True:
            kids = B.children_of(self.tokend.pid)
            if len(kids) >= self.a.workers + 1:
                break
            if time.monotonic() > deadline:
                raise B.BenchError("tokend's children did not appear")
            time.sleep(0.05)
        self.kids = kids
        self.pids = [self.tokend.pid] + list(kids)

    # -- measuring

    def server_ticks(self):
        return self.B.cpu_ticks(self.pids)

    def pg_backends(self):
        """The pids of the PostgreSQL server processes serving tokend (all
        connections but ours), or [] for SQLite."""
        if self.a.nodes != "postgres":
            return []
        import psycopg2
        url = self.db_url().replace("postgres://", "postgresql://", 1)
        with psycopg2.connect(url, connect_timeout=5) as c:
            cur = c.cursor()
            cur.execute("SELECT pid FROM pg_stat_activity WHERE "
                        "datname = current_database() AND "
                        "pid <> pg_backend_pid()")
            return [r[0] for r in cur.fetchall()]

    def get(self, conn, path, line):
        auth, kid = line.split("\t")
        conn.request("GET", path, headers={"Authorization": auth,
                                           "X-KeyID": kid})
        r = conn.getresponse()
        body = r.read()
        return r.status, body

    def first_requests(self, users):
        """One request for each user, from 4 client threads."""
        import http.client
        lines = [line for _, line in users]
        statuses, lock = {}, threading.Lock()
        pg = self.pg_backends()

        def client(chunk):
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=15)
            for line in chunk:
                try:
                    st, _ = self.get(conn, "/1.0/sync/1.5", line)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=15)
                    st = "error"
                with lock:
                    statuses[st] = statuses.get(st, 0) + 1
            conn.close()
        t0 = self.server_ticks()
        p0 = self.B.cpu_ticks(pg)
        w0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(lines[i::4],))
                   for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
        wall = time.monotonic() - w0
        cpu = self.B.ticks_delta_us(t0, self.server_ticks())
        ok = statuses.get(200, 0)
        # A write that outlived the database timeout on a busy machine is
        # 503 with Retry-After, as a client would see it: counted, not an
        # error of the bench, while most requests are served.
        self.res["first_requests_503"] = statuses.get(503, 0)
        if ok + statuses.get(503, 0) != len(lines) or ok < len(lines) * 0.9:
            raise self.B.BenchError(f"first requests: {statuses} (want "
                                    f"{len(lines)} x 200); log:\n"
                                    f"{self.B.tail(self.log)}")
        self.res["first_requests"] = ok
        self.res["first_requests_per_second"] = round(ok / wall, 1)
        self.res["first_request_cpu_us_per_token"] = round(cpu / ok, 1)
        if pg:
            pg = self.pg_backends()
            self.res["first_request_pg_backend_cpu_us_per_token"] = round(
                self.B.ticks_delta_us(p0, self.B.cpu_ticks(pg)) / ok, 1)

    def wrk(self, path, seconds, tag):
        B = self.B
        out = os.path.join(self.tmp, f"wrk-{tag}.out")
        cmd = ["wrk", "-t", str(self.a.threads), "-c",
               str(self.a.connections), "-d", f"{seconds}s", "--timeout",
               f"{B.WRK_TIMEOUT_S}s", "-s",
               os.path.join(B.ROOT, "scripts", "bench-get.lua"),
               f"http://127.0.0.1:{self.port}{path}", "--", self.hfile]
        pg = self.pg_backends()
        t0 = self.server_ticks()
        p0 = B.cpu_ticks(pg)
        with open(out, "w") as f:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT,
                               timeout=seconds + B.WRK_TIMEOUT_S + 30)
        cpu = B.ticks_delta_us(t0, self.server_ticks())
        pcpu = B.ticks_delta_us(p0, B.cpu_ticks(pg))
        text = open(out, errors="replace").read()
        k = B.parse_keys(text)
        if p.returncode != 0 or "requests" not in k:
            raise B.BenchError(f"wrk failed ({p.returncode}):\n{text}")
        n = k["requests"]
        if k["errors_status"] or k["errors_socket"] or n == 0:
            raise B.BenchError(f"{path}: {int(k['errors_status'])} error "
                               f"answers, {int(k['errors_socket'])} socket "
                               f"errors of {int(n)}; log:\n"
                               f"{B.tail(self.log)}")
        return {"cpu": cpu / n, "pg": pcpu / n if pg else None,
                "rps": n / (k["duration_us"] / 1e6)}

    def build_floor(self):
        B = self.B
        exe = os.path.join(self.tmp, "pgfloor")
        try:
            flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                                    "libpq"], capture_output=True,
                                   text=True, check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            flags = ["-I/usr/include/postgresql", "-lpq"]
        cmd = [os.environ.get("CC", "cc"), "-O2", "-std=c11",
               "-D_GNU_SOURCE", "-o", exe,
               os.path.join(B.ROOT, "scripts", "pgfloor.c")] + flags
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise B.BenchError(f"building scripts/pgfloor.c failed:\n"
                               f"{p.stderr}")
        return exe

    def floor(self):
        """One prepared SELECT 1 round trip's CPU, client + backend, over
        TCP (tokend's URL, or the throwaway cluster's TCP one) and, on the
        throwaway cluster, its Unix socket."""
        B, r = self.B, self.res
        exe = self.build_floor()
        urls = [("tcp", self.a.db_url or self.tcp_url())]
        if not self.a.db_url:
            urls.append(("unix", self.unix_url()))
        for kind, url in urls:
            url = url.replace("postgres://", "postgresql://", 1)
            p = subprocess.run([exe, url, str(FLOOR_CALLS)],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise B.BenchError(f"pgfloor ({kind}): {p.stderr.strip()}")
            k = B.parse_keys(p.stdout)
            r[f"pg_floor_{kind}_client_us"] = k["client_us_per_call"]
            r[f"pg_floor_{kind}_backend_us"] = k["backend_us_per_call"]
            r[f"pg_floor_{kind}_us_per_round_trip"] = k["floor_us_per_call"]

    def run(self):
        a, B = self.a, self.B
        if __import__("shutil").which("wrk") is None:
            raise B.BenchError("wrk is not installed (scripts/install-deps)")
        users = self.users()
        self.hfile = os.path.join(self.tmp, "headers")
        with open(self.hfile, "w") as f:
            f.write("".join(line + "\n" for _, line in users))
        self.write_config()
        self.start()
        B.log(f"tokend on 127.0.0.1:{self.port}, {a.nodes}; "
              f"{a.count} first requests")
        self.first_requests(users)
        runs = {"fixed": [], "db": []}
        for rnd in range(2):
            for name, path in (("fixed", "/1.0/fixed/1.5"),
                               ("db", "/1.0/sync/1.5")):
                if a.warmup > 0:
                    self.wrk(path, a.warmup, f"{name}-warm{rnd}")
                B.log(f"{name}: {a.duration} s of returning users")
                runs[name].append(self.wrk(path, a.duration,
                                           f"{name}{rnd}"))
        fixed = min(runs["fixed"], key=lambda r: r["cpu"])
        db = min(runs["db"], key=lambda r: r["cpu"])
        r = self.res
        r["nodes"] = a.nodes
        r["workers"] = a.workers
        r["users"] = a.count
        r["fixed_cpu_us_per_token"] = round(fixed["cpu"], 1)
        r["fixed_requests_per_second"] = round(fixed["rps"], 1)
        r["db_cpu_us_per_token"] = round(db["cpu"], 1)
        r["db_requests_per_second"] = round(db["rps"], 1)
        r["returning_overhead_pct"] = round(
            100 * (db["cpu"] / fixed["cpu"] - 1), 1)
        r["first_request_overhead_pct"] = round(
            100 * (r["first_request_cpu_us_per_token"] / fixed["cpu"] - 1),
            1)
        if db["pg"] is not None:
            r["pg_transport"] = "unix" if a.db_unix else "tcp"
            r["db_pg_backend_cpu_us_per_token"] = round(db["pg"], 1)
            r["returning_overhead_with_pg_backend_pct"] = round(
                100 * ((db["cpu"] + db["pg"]) / fixed["cpu"] - 1), 1)
            B.log(f"floor: {FLOOR_CALLS} prepared SELECT 1 round trips")
            self.floor()
            r["pg_floor_overhead_pct"] = round(
                100 * r[f"pg_floor_{r['pg_transport']}_us_per_round_trip"]
                / fixed["cpu"], 1)

    def cleanup(self):
        if self.tokend is not None:
            self.B.stop_process(self.tokend, "tokend", 10,
                                [(p, t[1]) for p, t in
                                 getattr(self, "kids", {}).items()])
        if not self.a.keep:
            __import__("shutil").rmtree(self.tmp, ignore_errors=True)
        else:
            self.B.log(f"kept {self.tmp}")

    def report(self):
        if self.a.json:
            print(json.dumps(self.res, indent=1))
        else:
            for k, v in self.res.items():
                print(f"{k}: {v}")
        sys.stdout.flush()


def main(a, B):
    """scripts/bench --nodes: a is bench's arguments, B bench itself."""
    if a.nodes == "postgres" and not a.db_url and \
            os.environ.get("TOKEND_TEST_PG") != "1":
        withpg = os.path.join(B.ROOT, "tests", "with-pg")
        os.execv(withpg, [withpg, sys.executable,
                          os.path.join(B.ROOT, "scripts", "bench")] +
                 sys.argv[1:])
    nb = NodesBench(a, B)
    status = 0
    try:
        nb.run()
    except B.BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        status = 1
    finally:
        nb.cleanup()
    if status == 0:
        nb.report()
    return status
