"""Node assignment in a database (issue 15, docs/nodes.md): the running
daemon, Mozilla's 1.0 endpoint and the operator's tokenctl, against SQLite
and, under tests/with-pg (TOKEND_TEST_PG=1), a throwaway PostgreSQL.

Each case runs once per backend (NAME_sqlite, NAME_postgres), against one
tokend per backend (3 workers, users verified by tokendtest.FxaVerifier on
loopback, the service sync-1.5 with nodes = database).  The tests read and
write the database directly, as Mozilla's own suite does, to set up nodes
and records and to check what tokend wrote.

  bootstrap   the node a config names is created at start, with available
              equal to capacity; a database from an empty file gets the
              schema
  rules       generation, keys_changed_at and client state, in Mozilla's
              order with Mozilla's exact bodies; 0 is absent; int64 values
              are kept exactly; a client-state change makes a new uid on
              the same node and retires the old record
  nodes       least loaded node; capacity release; 503 when none has room;
              downed and backed-off nodes get no new user
  concurrency many parallel first requests for one user through several
              workers: one current record, one uid
  outage      SQLite locked by another writer, PostgreSQL stopped mid-load:
              503 with Retry-After within a bound, no hang, no committed
              assignment lost, recovery by itself
  tokenctl    every node, user and db command against the running daemon,
              and their refusals of bad arguments

Run from the repository root:
    tests/with-pg /usr/bin/python3 tests/integration/test_nodes.py
(without tests/with-pg, the PostgreSQL cases are left out and named).
"""

import base64
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402

SERVICE = T.SYNC
NODE = "https://node-a.example.com"
CAPACITY = 1000
DOMAIN = "api.accounts.firefox.com"
PATTERN = "{node}/1.5/{uid}"
MAX_GENERATION = 2**63 - 1
USE_PG = os.environ.get("TOKEND_TEST_PG") == "1"
BACKENDS = ("sqlite", "postgres") if USE_PG else ("sqlite",)
REQUEST_TIMEOUT = 5             # [server] request_timeout, seconds
DB_TIMEOUT_MS = 400             # [database] timeout

FX = {}                         # backend -> Fixture, made by setup()
VERIFIER = None


# ---------------------------------------------------------------- database

class DB:
    """Direct access to the database tokend uses, "?" placeholders for
    both backends, every statement committed at once."""

    def __init__(self, backend, where):
        self.backend = backend
        if backend == "sqlite":
            self.conn = sqlite3.connect(where, timeout=10,
                                        isolation_level=None)
        else:
            import psycopg2
            self.conn = psycopg2.connect(dbname=where, connect_timeout=5)
            self.conn.autocommit = True
        self.where = where

    def q(self, sql, *params):
        """Runs sql; returns its rows (a list of tuples)."""
        if self.backend == "postgres":
            sql = sql.replace("?", "%s")
            for attempt in range(2):
                try:
                    cur = self.conn.cursor()
                    break
                except Exception:
                    self.reconnect()
        else:
            cur = self.conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        cur.close()
        return rows

    def one(self, sql, *params):
        rows = self.q(sql, *params)
        assert len(rows) == 1, (sql, params, rows)
        return rows[0]

    def reconnect(self):
        import psycopg2
        try:
            self.conn.close()
        except Exception:
            pass
        self.conn = psycopg2.connect(dbname=self.where, connect_timeout=5)
        self.conn.autocommit = True

    def service_id(self):
        return self.one("SELECT id FROM services WHERE service = ?",
                        SERVICE)[0]

    def reset(self, *nodes):
        """Only these nodes, (url, {column: value}) each, and no users."""
        sid = self.service_id()
        self.q("DELETE FROM users WHERE service = ?", sid)
        self.q("DELETE FROM nodes WHERE service = ?", sid)
        for url, cols in nodes:
            c = {"available": 100, "current_load": 0, "capacity": 100,
                 "downed": 0, "backoff": 0}
            c.update(cols)
            self.q("INSERT INTO nodes (service, node, available, "
                   "current_load, capacity, downed, backoff) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?)", sid, url, c["available"],
                   c["current_load"], c["capacity"], c["downed"],
                   c["backoff"])

    def node(self, url):
        """{column: value} of the node url of the service."""
        cols = ("id", "available", "current_load", "capacity", "downed",
                "backoff")
        row = self.one(f"SELECT {', '.join(cols)} FROM nodes WHERE "
                       f"service = ? AND node = ?", self.service_id(), url)
        return dict(zip(cols, row))

    def users(self, email):
        """The records of email, oldest first, as dicts."""
        cols = ("uid", "generation", "client_state", "created_at",
                "replaced_at", "nodeid", "keys_changed_at")
        rows = self.q(f"SELECT {', '.join(cols)} FROM users WHERE "
                      f"email = ? AND service = ? ORDER BY created_at, uid",
                      email, self.service_id())
        return [dict(zip(cols, r)) for r in rows]

    def add_user(self, email, generation=1234, keys_changed_at=1234,
                 client_state="aaaa", node=NODE, created_at=None,
                 replaced_at=None):
        nodeid = self.node(node)["id"]
        self.q("INSERT INTO users (service, email, generation, "
               "client_state, created_at, replaced_at, nodeid, "
               "keys_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               self.service_id(), email, generation, client_state,
               created_at or int(time.time() * 1000), replaced_at, nodeid,
               keys_changed_at)
        return self.one("SELECT MAX(uid) FROM users WHERE email = ?",
                        email)[0]


# ---------------------------------------------------------------- fixture

class Fixture:
    """One tokend on one backend, its database and its URL."""

    def __init__(self, backend):
        self.backend = backend
        self.t = T.instance("tkd-nodes-" + backend + "-")
        if backend == "sqlite":
            self.path = self.t.path("state/tokend.db")
            self.url = "sqlite:///" + self.path
            self.dbname = self.path
        else:
            self.dbname = f"tkd_nodes_{os.getpid()}"
            admin = DB("postgres", os.environ.get("PGDATABASE", "postgres"))
            admin.q(f"DROP DATABASE IF EXISTS {self.dbname}")
            admin.q(f"CREATE DATABASE {self.dbname}")
            admin.conn.close()
            # The password from a file, as an operator would keep it.
            self.t.write_secret("db.password",
                                os.environ["PGPASSWORD"] + "\n")
            self.url = (f"postgres://{os.environ['PGUSER']}@"
                        f"{os.environ.get('PGHOST', 'localhost')}:"
                        f"{os.environ['PGPORT']}/{self.dbname}")
        self.t.write_secrets(uid=T.new_secret(), sync=T.new_secret())
        self.configure()
        self.t.start(timeout=30)
        self.wait_bootstrapped()
        self.db = DB(backend, self.dbname)

    def wait_bootstrapped(self):
        """The workers make the schema and the node after tokend answers
        its heartbeat: a first request waits for them."""
        st, _, doc = self.get(new_user(), timeout=REQUEST_TIMEOUT + 5)
        assert st == 200, (st, doc)

    def configure(self, **database):
        db = {"url": self.url, "timeout": DB_TIMEOUT_MS,
              "capacity": CAPACITY}
        if self.backend == "postgres":
            db["password_file"] = "db.password"
        db.update(database)
        self.t.write_config(
            self.t.server_section(workers=3,
                                  request_timeout=REQUEST_TIMEOUT,
                                  state_dir="state"),
            T.fxa_issuer_section(verify_url=VERIFIER.url,
                                 email_domain=DOMAIN),
            T.section("database", db, {}),
            T.service_section(SERVICE, node=None, nodes="database",
                              bootstrap_nodes=NODE, pattern=PATTERN,
                              duration=3600))

    def drop(self):
        if self.backend == "postgres":
            try:
                self.db.conn.close()
                admin = DB("postgres",
                           os.environ.get("PGDATABASE", "postgres"))
                admin.q(f"DROP DATABASE IF EXISTS {self.dbname}")
                admin.conn.close()
            except Exception as e:
                print(f"# could not drop {self.dbname}: {e}", flush=True)

    def get(self, user, generation=1234, keys_changed_at=1234,
            client_state="aaaa", headers=None, path="/1.0/sync/1.5",
            timeout=10):
        """GET the 1.0 endpoint as user; (status, headers, json body)."""
        h = {"Authorization": "Bearer " + T.fxa_token(
            user=user, generation=generation)}
        if keys_changed_at is not False:
            h["X-KeyID"] = key_id(keys_changed_at, client_state)
        h.update(headers or {})
        return T.http_request(self.t.port, "GET", path, None, headers=h,
                              timeout=timeout)

    def ok(self, user, **kw):
        st, hd, doc = self.get(user, **kw)
        assert st == 200, (st, doc)
        return doc

    def tokenctl(self, *args, timeout=30):
        """tokenctl ARGS -c CONFIG: (exit code, stdout, stderr)."""
        p = subprocess.run([os.path.join(T.build_dir(), "tokenctl")] +
                           list(args) + ["-c", self.t.conf],
                           capture_output=True, timeout=timeout,
                           cwd=self.t.dir)
        return p.returncode, p.stdout.decode(), p.stderr.decode()


def key_id(keys_changed_at, client_state):
    cs = base64.urlsafe_b64encode(bytes.fromhex(client_state or ""))
    return f"{keys_changed_at}-{cs.decode().rstrip('=')}"


def new_user():
    return uuid.uuid4().hex


def email(user):
    return f"{user}@{DOMAIN}"


def unauthorized(status):
    return {"status": status, "errors": [
        {"location": "body", "name": "", "description": "Unauthorized"}]}


def bad_client_state(why):
    return {"status": "invalid-client-state", "errors": [
        {"location": "header", "name": "X-Client-State",
         "description": "Unacceptable client-state value " + why}]}


def setup():
    global VERIFIER
    VERIFIER = T.FxaVerifier()
    if not USE_PG:
        print("# PostgreSQL cases left out (run under tests/with-pg)",
              flush=True)
    for b in BACKENDS:
        FX[b] = Fixture(b)


def teardown(failed):
    T.teardown(failed)
    for fx in FX.values():
        fx.drop()
    if VERIFIER is not None:
        VERIFIER.stop()


def both(fn):
    """Registers fn(fixture) once per backend, as NAME_sqlite and
    NAME_postgres."""
    for b in BACKENDS:
        def case(b=b):
            fx = FX[b]
            fx.db.reset((NODE, {"capacity": CAPACITY,
                                "available": CAPACITY}))
            fn(fx)
        case.__name__ = f"{fn.__name__}_{b}"
        T.test(case)
    return fn


# ---------------------------------------------------------------- bootstrap

@T.test
def bootstrap_node_created_at_start_with_available_equal_capacity():
    for fx in FX.values():
        # setup() started each tokend on an empty database and sent one
        # user: the node the config names was made with available equal to
        # capacity, and that user took one place.
        sid = fx.db.service_id()
        assert fx.db.one("SELECT pattern FROM services WHERE id = ?",
                         sid)[0] == PATTERN
        n = fx.db.node(NODE)
        assert (n["capacity"], n["current_load"], n["available"]) == \
            (CAPACITY, 1, CAPACITY - 1), n


@T.test
def database_from_an_empty_file():
    t = T.instance("tkd-nodes-empty-")
    path = t.path("empty.db")
    open(path, "wb").close()
    t.write_secrets(uid=T.new_secret(), sync=T.new_secret())
    t.write_config(
        t.server_section(state_dir="state"),
        T.fxa_issuer_section(verify_url=VERIFIER.url, email_domain=DOMAIN),
        T.section("database", {"url": "sqlite:///" + path}, {}),
        T.service_section(SERVICE, node=NODE, nodes="database"))
    t.start(timeout=30)
    st, _, doc = T.http_request(t.port, "GET", "/1.0/sync/1.5", None,
                                headers={"Authorization": "Bearer " +
                                         T.fxa_token(user=new_user(),
                                                     generation=1),
                                         "X-KeyID": key_id(1, "aa")})
    assert st == 200, (st, doc)
    db = DB("sqlite", path)
    assert db.one("SELECT COUNT(*) FROM users")[0] == 1
    assert db.one("SELECT uid FROM users")[0] == doc["uid"]
    t.stop()


# ---------------------------------------------------------------- rules

@both
def first_request_allocates_and_second_reuses(fx):
    u = new_user()
    doc = fx.ok(u)
    recs = fx.db.users(email(u))
    assert len(recs) == 1, recs
    r = recs[0]
    assert doc["uid"] == r["uid"], (doc, r)
    assert doc["api_endpoint"] == f"{NODE}/1.5/{r['uid']}", doc
    assert doc["duration"] == 3600, doc
    assert (r["generation"], r["keys_changed_at"], r["client_state"],
            r["replaced_at"]) == (1234, 1234, "aaaa", None), r
    n = fx.db.node(NODE)
    assert (n["current_load"], n["available"]) == (1, CAPACITY - 1), n
    again = fx.ok(u)
    assert again["uid"] == doc["uid"], (again, doc)
    assert len(fx.db.users(email(u))) == 1
    assert fx.db.node(NODE)["current_load"] == 1


@both
def generation_rules(fx):
    u = new_user()
    uid = fx.ok(u, generation=1234)["uid"]
    st, _, doc = fx.get(u, generation=1233)
    assert (st, doc) == (401, unauthorized("invalid-generation")), (st, doc)
    # absent (None) and 0 are both "no generation"
    assert fx.ok(u, generation=None)["uid"] == uid
    assert fx.ok(u, generation=0)["uid"] == uid
    assert fx.db.users(email(u))[0]["generation"] == 1234
    assert fx.ok(u, generation=1240)["uid"] == uid
    assert fx.db.users(email(u))[0]["generation"] == 1240


@both
def keys_changed_at_rules(fx):
    u = new_user()
    uid = fx.db.add_user(email(u), generation=1232, keys_changed_at=1234)
    # a new keys_changed_at must not exceed the generation
    st, _, doc = fx.get(u, generation=1235, keys_changed_at=1236)
    assert (st, doc) == (401, unauthorized("invalid-keysChangedAt")), \
        (st, doc)
    # lower than the one on record
    st, _, doc = fx.get(u, generation=1235, keys_changed_at=1233)
    assert (st, doc) == (401, unauthorized("invalid-keysChangedAt")), \
        (st, doc)
    assert fx.ok(u, generation=1233, keys_changed_at=1234)["uid"] == uid
    # 0 is absent: a record without one stays without
    v = new_user()
    uid = fx.db.add_user(email(v), generation=1234, keys_changed_at=None)
    assert fx.ok(v, generation=1234, keys_changed_at=0)["uid"] == uid
    assert fx.db.users(email(v))[0]["keys_changed_at"] is None
    # and absent is below any keys_changed_at on record
    st, _, doc = fx.get(u, generation=1240, keys_changed_at=0)
    assert (st, doc) == (401, unauthorized("invalid-keysChangedAt")), \
        (st, doc)


@both
def client_state_rules(fx):
    u = new_user()
    e = email(u)
    old = fx.ok(u, generation=1234, keys_changed_at=1234,
                client_state="aaaa")
    st, _, doc = fx.get(u, generation=1234, keys_changed_at=1234,
                        client_state="bbbb")
    assert (st, doc) == (401, bad_client_state(
        "new value with no generation change")), (st, doc)
    st, _, doc = fx.get(u, generation=1235, keys_changed_at=1234,
                        client_state="bbbb")
    assert (st, doc) == (401, bad_client_state(
        "new value with no keys_changed_at change")), (st, doc)
    new = fx.ok(u, generation=1235, keys_changed_at=1235,
                client_state="bbbb")
    assert new["uid"] != old["uid"], (new, old)
    assert new["api_endpoint"] == f"{NODE}/1.5/{new['uid']}", new
    recs = fx.db.users(e)
    assert [r["uid"] for r in recs] == [old["uid"], new["uid"]], recs
    assert recs[0]["replaced_at"] is not None and \
        recs[1]["replaced_at"] is None, recs
    assert recs[0]["nodeid"] == recs[1]["nodeid"], recs
    # the old client state is stale now
    st, _, doc = fx.get(u, generation=1236, keys_changed_at=1236,
                        client_state="aaaa")
    assert (st, doc) == (401, bad_client_state("stale value")), (st, doc)
    # X-Client-State must agree with X-KeyID
    st, _, doc = fx.get(u, generation=1235, keys_changed_at=1235,
                        client_state="bbbb",
                        headers={"X-Client-State": "cccc"})
    assert (st, doc) == (401, unauthorized("invalid-client-state")), \
        (st, doc)


@both
def int64_values_kept_exactly(fx):
    u = new_user()
    big = 2**62 + 12345             # not a double
    fx.ok(u, generation=big, keys_changed_at=big - 1)
    r = fx.db.users(email(u))[0]
    assert (r["generation"], r["keys_changed_at"]) == (big, big - 1), r
    st, _, doc = fx.get(u, generation=big - 1, keys_changed_at=big - 1)
    assert (st, doc) == (401, unauthorized("invalid-generation")), (st, doc)
    fx.ok(u, generation=MAX_GENERATION, keys_changed_at=big - 1)
    assert fx.db.users(email(u))[0]["generation"] == MAX_GENERATION


# ---------------------------------------------------------------- nodes

@both
def least_loaded_node_and_no_downed_or_backed_off(fx):
    fx.db.reset(("https://n1.example.com", {"backoff": 1}),
                ("https://n2.example.com", {"downed": 1}),
                ("https://n3.example.com", {"current_load": 1,
                                            "available": 99}),
                ("https://n4.example.com", {"current_load": 2,
                                            "available": 98}))
    u = new_user()
    doc = fx.ok(u)
    assert doc["api_endpoint"].startswith("https://n3.example.com/"), doc
    n3 = fx.db.node("https://n3.example.com")
    assert (n3["current_load"], n3["available"]) == (2, 98), n3
    for url in ("https://n1.example.com", "https://n2.example.com"):
        assert fx.db.node(url)["current_load"] == 0
    # a user already on a node keeps it when it goes down
    fx.db.q("UPDATE nodes SET downed = 1 WHERE node = ?",
            "https://n3.example.com")
    assert fx.ok(u)["uid"] == doc["uid"]


@both
def capacity_released_when_every_node_is_full(fx):
    fx.db.reset(("https://n1.example.com", {"available": 0,
                                            "current_load": 99}),
                ("https://n2.example.com", {"available": 0,
                                            "current_load": 90}),
                ("https://n3.example.com", {"available": 0,
                                            "current_load": 60,
                                            "downed": 1}))
    doc = fx.ok(new_user())
    assert doc["api_endpoint"].startswith("https://n2.example.com/"), doc
    # min(100 x 0.1, 100 - load): 1 and 10, less the one just given out
    assert fx.db.node("https://n1.example.com")["available"] == 1
    assert fx.db.node("https://n2.example.com")["available"] == 9
    assert fx.db.node("https://n3.example.com")["available"] == 0


@both
def no_room_anywhere_is_503(fx):
    fx.db.reset(("https://n1.example.com", {"available": 0,
                                            "current_load": 100}))
    u = new_user()
    st, _, doc = fx.get(u)
    assert st == 503, (st, doc)
    assert doc == {"status": "internal-error", "errors": [
        {"location": "internal", "name": "",
         "description": "Server error"}]}, doc
    assert fx.db.users(email(u)) == []


# ---------------------------------------------------------------- concurrency

@both
def concurrent_first_requests_make_one_record(fx):
    u = new_user()
    results, lock = [], threading.Lock()
    start = threading.Barrier(12)

    def one():
        start.wait(10)
        r = fx.get(u, timeout=REQUEST_TIMEOUT + 5)
        with lock:
            results.append(r)
    threads = [threading.Thread(target=one) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(REQUEST_TIMEOUT + 10)
    assert len(results) == 12, results
    statuses = sorted(st for st, _, _ in results)
    # under SQLite a writer may wait past the database timeout: 503 with
    # Retry-After is allowed, a second record never
    uids = {doc["uid"] for st, _, doc in results if st == 200}
    assert statuses.count(200) >= 1, statuses
    assert set(statuses) <= {200, 503}, statuses
    assert len(uids) == 1, uids
    recs = fx.db.users(email(u))
    current = [r for r in recs if r["replaced_at"] is None]
    assert len(current) == 1 and current[0]["uid"] in uids, recs
    assert fx.db.node(NODE)["current_load"] == 1, fx.db.node(NODE)


# ---------------------------------------------------------------- outage

def assert_503_retry_after(st, hd, doc, t0, t1):
    assert st == 503, (st, doc)
    assert "retry-after" in {k.lower() for k in hd}, hd
    assert t1 - t0 < REQUEST_TIMEOUT + 1, f"answered after {t1 - t0:.1f}s"


@T.test
def sqlite_locked_by_another_writer_is_503_then_recovers():
    fx = FX["sqlite"]
    fx.db.reset((NODE, {"capacity": CAPACITY, "available": CAPACITY}))
    known = new_user()
    uid = fx.ok(known)["uid"]
    locker = sqlite3.connect(fx.path, timeout=10, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        st, hd, doc = fx.get(new_user())
        assert_503_retry_after(st, hd, doc, t0, time.monotonic())
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert fx.ok(known)["uid"] == uid
    fx.ok(new_user())


@T.test
def sqlite_busy_under_concurrent_writers():
    fx = FX["sqlite"]
    fx.db.reset((NODE, {"capacity": CAPACITY, "available": CAPACITY}))
    users = [new_user() for _ in range(60)]
    results, lock = [], threading.Lock()

    def worker(chunk):
        for u in chunk:
            t0 = time.monotonic()
            st, hd, doc = fx.get(u, timeout=REQUEST_TIMEOUT + 5)
            if st == 503:
                assert_503_retry_after(st, hd, doc, t0, time.monotonic())
            with lock:
                results.append((u, st, doc))
    threads = [threading.Thread(target=worker, args=(users[i::6],))
               for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(results) == len(users)
    bad = [(st, d) for _, st, d in results if st not in (200, 503)]
    assert not bad, bad
    for u, st, doc in results:
        recs = [r for r in fx.db.users(email(u)) if r["replaced_at"] is None]
        assert len(recs) <= 1, recs
        if st == 200:
            assert recs and recs[0]["uid"] == doc["uid"], (doc, recs)
    served = sum(1 for _, st, _ in results if st == 200)
    assert served >= len(users) // 2, f"only {served} of {len(users)} served"
    # every user that got 503 is served now
    for u, st, _ in results:
        if st == 503:
            fx.ok(u)


def pg_ctl(action):
    """Stops (fast: connections dropped at once) or starts the tests/with-pg
    cluster, bounded."""
    cmd = ["pg_ctlcluster"] + (["--mode", "fast"] if action == "stop"
                               else []) + \
        [os.environ["PGVERSION"], "regress", action]
    subprocess.run(cmd, check=True, timeout=60, capture_output=True)


if USE_PG:
    @T.test
    def postgres_stopped_mid_load_is_503_then_recovers():
        fx = FX["postgres"]
        fx.db.reset((NODE, {"capacity": CAPACITY, "available": CAPACITY}))
        known = [new_user() for _ in range(5)]
        uids = {u: fx.ok(u)["uid"] for u in known}
        users = iter(range(10**6))     # (next() under the GIL: unique)

        def req(i, n):
            u = known[n % len(known)] if n % 2 else \
                f"load{next(users)}{uuid.uuid4().hex[:8]}"
            h = {"Authorization": "Bearer " + T.fxa_token(user=u,
                                                           generation=1234),
                 "X-KeyID": key_id(1234, "aaaa")}
            return u, h
        outcomes, lock, stop = [], threading.Lock(), threading.Event()
        served = {}                     # user -> the uid a 200 gave

        def loop():
            n = 0
            while not stop.is_set() and n < 2000:
                u, h = req(0, n)
                t0 = time.monotonic()
                try:
                    st, hd, b = T.http_request(fx.t.port, "GET",
                                               "/1.0/sync/1.5", None,
                                               headers=h,
                                               timeout=REQUEST_TIMEOUT + 5)
                except Exception as e:
                    st, hd, b = repr(e), {}, b""
                with lock:
                    outcomes.append((t0, time.monotonic(), st, hd))
                    if st == 200:
                        served[u] = b["uid"]
                n += 1
        threads = [threading.Thread(target=loop) for _ in range(3)]
        for th in threads:
            th.start()
        try:
            T.wait_until(lambda: len(outcomes) >= 20, 10, what="load")
            pg_ctl("stop")
            down_at = time.monotonic()
            T.wait_until(lambda: any(o[0] > down_at and o[2] == 503
                                     for o in outcomes), 15,
                         what="a 503 while PostgreSQL is down")
            pg_ctl("start")
            up_at = time.monotonic()
            T.wait_until(lambda: any(o[0] > up_at and o[2] == 200
                                     for o in outcomes), 20,
                         what="a 200 once PostgreSQL is back")
            fx.db.reconnect()
        finally:
            stop.set()
            for th in threads:
                th.join(REQUEST_TIMEOUT + 10)
        down = [o for o in outcomes if o[0] > down_at and o[1] < up_at]
        assert down, "no request while PostgreSQL was down"
        for t0, t1, st, hd in down:
            assert st in (503, 200), st       # 200: begun before the stop
            assert t1 - t0 < REQUEST_TIMEOUT + 1, \
                f"a request took {t1 - t0:.1f}s while the database was down"
            if st == 503:
                assert "retry-after" in {k.lower() for k in hd}, hd
        # nothing committed was lost: the known users keep their uids, and
        # every user a 200 answered has that uid as its current record
        for u, uid in uids.items():
            assert fx.ok(u)["uid"] == uid
        for u, uid in served.items():
            cur = [r["uid"] for r in fx.db.users(email(u))
                   if r["replaced_at"] is None]
            assert cur == [uid], (u, uid, cur)
        bad = {o[2] for o in outcomes} - {200, 503}
        assert not bad, bad


# ---------------------------------------------------------------- tokenctl

@both
def tokenctl_node_commands(fx):
    n2 = "https://node-b.example.com"
    rc, out, err = fx.tokenctl("node", "add", SERVICE, n2, "--capacity",
                               "50")
    assert rc == 0, (rc, out, err)
    assert n2 in out, out
    assert fx.db.node(n2)["capacity"] == 50 and \
        fx.db.node(n2)["available"] == 50
    rc, out, err = fx.tokenctl("node", "add", SERVICE, n2, "--capacity",
                               "50")
    assert rc == 1 and "already" in err, (rc, err)
    rc, out, err = fx.tokenctl("node", "list", SERVICE)
    assert rc == 0 and NODE in out and n2 in out, (rc, out, err)
    # node-a is down: new users go to node-b
    rc, out, err = fx.tokenctl("node", "down", SERVICE, NODE)
    assert rc == 0 and fx.db.node(NODE)["downed"] == 1, (rc, err)
    u = new_user()
    assert fx.ok(u)["api_endpoint"].startswith(n2 + "/")
    rc, out, err = fx.tokenctl("node", "down", SERVICE, NODE, "--off")
    assert rc == 0 and fx.db.node(NODE)["downed"] == 0, (rc, err)
    rc, out, err = fx.tokenctl("node", "backoff", SERVICE, n2)
    assert rc == 0 and fx.db.node(n2)["backoff"] == 1, (rc, err)
    assert fx.ok(new_user())["api_endpoint"].startswith(NODE + "/")
    # capacity below the load: a warning, and no new user goes there
    rc, out, err = fx.tokenctl("node", "update", SERVICE, n2, "--capacity",
                               "0", "--backoff", "0")
    assert rc == 0 and "warning" in err, (rc, out, err)
    assert fx.db.node(n2)["capacity"] == 0
    assert fx.ok(new_user())["api_endpoint"].startswith(NODE + "/")
    # removing a node with a user on it is refused without --force
    rc, out, err = fx.tokenctl("node", "remove", SERVICE, n2)
    assert rc == 1 and "--force" in err, (rc, err)
    rc, out, err = fx.tokenctl("node", "remove", SERVICE, n2, "--force")
    assert rc == 0 and "unassigned 1 user" in out, (rc, out, err)
    assert fx.db.q("SELECT id FROM nodes WHERE node = ?", n2) == []
    # that user gets another node at the next request
    doc = fx.ok(u)
    assert doc["api_endpoint"].startswith(NODE + "/"), doc
    rc, out, err = fx.tokenctl("node", "update", SERVICE, n2, "--capacity",
                               "5")
    assert rc == 1 and "no node" in err, (rc, err)


@both
def tokenctl_user_commands(fx):
    u = new_user()
    e = email(u)
    first = fx.ok(u, generation=10, keys_changed_at=10, client_state="aaaa")
    second = fx.ok(u, generation=11, keys_changed_at=11,
                   client_state="bbbb")
    rc, out, err = fx.tokenctl("user", "show", e)
    assert rc == 0, (rc, out, err)
    assert str(first["uid"]) in out and str(second["uid"]) in out, out
    rc, out, err = fx.tokenctl("user", "show", "nobody@" + DOMAIN)
    assert rc == 1 and "no record" in err, (rc, err)
    # purge: the replaced record is old enough with no grace period
    rc, out, err = fx.tokenctl("user", "purge", "--grace-period", "0",
                               "--dry-run")
    assert rc == 0 and f"would purge uid {first['uid']}" in out, (rc, out)
    assert len(fx.db.users(e)) == 2
    rc, out, err = fx.tokenctl("user", "purge", "--grace-period", "1")
    assert rc == 0 and "purged 0 records" in out, (rc, out, err)
    rc, out, err = fx.tokenctl("user", "purge", "--grace-period", "0",
                               "--batch", "1")
    assert rc == 0 and f"purged uid {first['uid']}" in out, (rc, out, err)
    assert [r["uid"] for r in fx.db.users(e)] == [second["uid"]]
    # the user still on the node keeps its slot
    assert fx.db.node(NODE)["current_load"] == 1
    assert fx.ok(u, generation=11, keys_changed_at=11,
                 client_state="bbbb")["uid"] == second["uid"]
    # retire: an assertion of an older generation is refused
    rc, out, err = fx.tokenctl("user", "retire", e)
    assert rc == 0 and "retired 1 record" in out, (rc, out, err)
    r = fx.db.users(e)[-1]
    assert r["generation"] == MAX_GENERATION and r["replaced_at"], r
    st, _, doc = fx.get(u, generation=12, keys_changed_at=11,
                        client_state="bbbb")
    assert (st, doc) == (401, unauthorized("invalid-generation")), (st, doc)
    rc, out, err = fx.tokenctl("user", "retire", e)
    assert rc == 1 and "no current record" in err, (rc, err)


@both
def tokenctl_purge_gives_the_slot_back_to_a_node_left(fx):
    n2 = "https://node-b.example.com"
    u = new_user()
    fx.ok(u)                                    # on node-a
    rc, out, err = fx.tokenctl("node", "add", SERVICE, n2, "--capacity",
                               "10")
    assert rc == 0, err
    rc, out, err = fx.tokenctl("node", "down", SERVICE, NODE,
                               "--unassign")
    assert rc == 0 and "unassigned 1 user" in out, (rc, out, err)
    assert fx.ok(u)["api_endpoint"].startswith(n2 + "/")
    assert fx.db.node(NODE)["current_load"] == 1
    rc, out, err = fx.tokenctl("user", "purge", "--grace-period", "0")
    assert rc == 0 and "gave 1 node slot back" in out, (rc, out, err)
    n = fx.db.node(NODE)
    assert (n["current_load"], n["available"]) == (0, CAPACITY), n
    assert fx.db.node(n2)["current_load"] == 1


@both
def tokenctl_db_commands(fx):
    rc, out, err = fx.tokenctl("db", "check")
    assert rc == 0 and "schema: Mozilla's" in out, (rc, out, err)
    assert "warning" not in out, out
    rc, out, err = fx.tokenctl("db", "init")
    assert rc == 0 and "there already" in out, (rc, out, err)
    # two current records for one user: db check says so
    u = email(new_user())
    fx.db.add_user(u)
    fx.db.add_user(u, generation=1235)
    rc, out, err = fx.tokenctl("db", "check")
    assert rc == 0 and "1 user has more than one current record" in out, \
        (rc, out)


@T.test
def tokenctl_db_init_and_check_on_a_new_database():
    d = T.instance("tkd-nodes-ctl-").dir
    url = "sqlite:///" + os.path.join(d, "new.db")
    ctl = os.path.join(T.build_dir(), "tokenctl")
    p = subprocess.run([ctl, "db", "check", "--db", url],
                       capture_output=True, timeout=30)
    assert p.returncode == 1 and b"no database there" in p.stderr, p
    assert not os.path.exists(os.path.join(d, "new.db"))
    # an empty file is a database without the schema
    open(os.path.join(d, "new.db"), "wb").close()
    p = subprocess.run([ctl, "db", "check", "--db", url],
                       capture_output=True, timeout=30)
    assert p.returncode == 1 and b"not Mozilla's schema" in p.stderr, p
    p = subprocess.run([ctl, "db", "init", "--db", url], capture_output=True,
                       timeout=30)
    assert p.returncode == 0 and b"created" in p.stdout, p
    p = subprocess.run([ctl, "node", "add", "sync-1.5", NODE, "--capacity",
                        "5", "--db", url], capture_output=True, timeout=30)
    assert p.returncode == 1 and b"--pattern" in p.stderr, p
    p = subprocess.run([ctl, "node", "add", "sync-1.5", NODE, "--capacity",
                        "5", "--pattern", PATTERN, "--db", url],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p
    p = subprocess.run([ctl, "db", "check", "--db", url],
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and b"nodes: 1" in p.stdout, p


@T.test
def tokenctl_refuses_bad_arguments():
    fx = FX["sqlite"]
    cases = [
        (["node", "add", SERVICE, NODE], "--capacity"),
        (["node", "add", SERVICE, "ftp://x", "--capacity", "1"], "http"),
        (["node", "add", SERVICE, "https://" + "x" * 60, "--capacity", "1"],
         "64"),
        (["node", "add", SERVICE, NODE, "--capacity", "-1"], "integer"),
        (["node", "add", SERVICE, NODE, "--capacity", "1x"], "integer"),
        (["node", "update", SERVICE, NODE], "nothing to change"),
        (["node", "update", SERVICE, NODE, "--downed", "2"], "0 or 1"),
        (["node", "update", SERVICE, NODE, "--capacity", "99999999999"],
         "INTEGER"),
        (["node", "down", SERVICE], "two arguments"),
        (["node", "remove", SERVICE, NODE, "--capacity", "1"],
         "does not take"),
        (["user", "show", "not-an-email"], "USER@DOMAIN"),
        (["user", "purge", "--grace-period", "-1"], "days"),
        (["user", "purge", "--grace-period", "nan"], "days"),
        (["user", "purge", "--batch", "0"], "integer"),
        (["user", "purge", "--batch", "5000"], "1000"),
    ]
    for args, why in cases:
        rc, out, err = fx.tokenctl(*args)
        assert rc == 2 and why in err, (args, rc, out, err)
    # neither or both of -c and --db
    ctl = os.path.join(T.build_dir(), "tokenctl")
    p = subprocess.run([ctl, "node", "list"], capture_output=True,
                       timeout=30)
    assert p.returncode == 2 and b"-c CONFIG" in p.stderr, p
    p = subprocess.run([ctl, "node", "list", "--db", "mysql://x/y"],
                       capture_output=True, timeout=30)
    assert p.returncode == 2, p
    # a database that is not there: exit 3, quickly
    p = subprocess.run([ctl, "node", "list", "--db",
                        "postgres://u@127.0.0.1:1/none", "--timeout",
                        "2000"], capture_output=True, timeout=30)
    assert p.returncode == 3, p


if __name__ == "__main__":
    T.run(setup, teardown, per_test_timeout=90)
