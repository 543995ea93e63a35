#!/usr/bin/python3
"""A service with nodes = database, end to end, on the embedded SQLite
default (docs/nodes.md): GET /1.0/APP/VERSION with a JWT and X-KeyID
assigns a new user the node tokend created at start, answers with the
database's uid and api_endpoint in Mozilla's fields, and mints a token
with Mozilla's payload; a returning user keeps the record, a new client
state gets a new one on the same node, and the key id rules are Mozilla's.
A fixed-node service beside it answers as it always did.

Under tests/with-pg (TOKEND_TEST_PG=1) every test runs against a second
instance on a fresh PostgreSQL database too, its password in
password_file, confined by the sandbox like the first.  (Mozilla's own
suite and outages are the node-assignment suites'.)

  tests/integration/test_dbnodes.py [WORD...]   (tests whose name has one)
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T                                  # noqa: E402
from tokendtest import test                             # noqa: E402

NODE = "https://sync-1.example.com"
OTHER, OTHER_NODE = T.OTHER, T.OTHER_NODE
TS_PATH = "/1.0/sync/1.5"
MOZILLA_FIELDS = ["id", "key", "uid", "api_endpoint", "duration",
                  "hashed_fxa_uid", "hashalg", "node_type"]
PAYLOAD_KEYS = ["node", "fxa_kid", "fxa_uid", "hashed_device_id",
                "hashed_fxa_uid", "expires", "uid", "salt"]


class S:
    fxa = None
    t = None
    key = None
    sync = None
    other = None
    query = None
    pg_db = None
    backends = []       # (name, instance, query function)


def sqlite_query(path):
    def query(sql, args=()):
        with sqlite3.connect(path, timeout=5) as c:
            c.row_factory = sqlite3.Row
            return [dict(r) for r in c.execute(sql, args)]
    return query


def pg_connect(dbname):
    import psycopg2
    c = psycopg2.connect(host="127.0.0.1", dbname=dbname)
    c.autocommit = True
    return c


def pg_query(dbname):
    def query(sql, args=()):
        import psycopg2.extras
        c = pg_connect(dbname)
        try:
            cur = c.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
            cur.execute(sql.replace("?", "%s"), args)
            return [dict(r) for r in cur.fetchall()]
        finally:
            c.close()
    return query


def new_instance(prefix, database):
    t = T.instance(prefix)
    t.write_secrets(uid=T.new_secret(), sync=S.sync, other=S.other)
    t.write_jwks("example.jwks", [S.key])
    t.write_config(
        t.server_section(state_dir="state"),
        T.issuer_section(algorithms="ES256"),
        T.fxa_issuer_section(verify_url=S.fxa.url),
        T.service_section(node=NODE, nodes="database", duration=3600),
        T.service_section(OTHER, node=OTHER_NODE),
        T.section("database", dict(database, capacity=10), {}))
    t.start()
    return t


def setup():
    S.key = T.Key("ES256")
    S.sync, S.other = T.new_secret(), T.new_secret()
    S.fxa = T.FxaVerifier()
    t = new_instance("tkd-dbnodes-", {})
    S.backends.append(("sqlite", t,
                       sqlite_query(t.path("state/tokend.db"))))
    if os.environ.get("TOKEND_TEST_PG") == "1":
        S.pg_db = "tkd_dbnodes_%d" % os.getpid()
        c = pg_connect(os.environ.get("PGDATABASE", "postgres"))
        c.cursor().execute(f"CREATE DATABASE {S.pg_db}")
        c.close()
        pg = T.instance("tkd-dbnodes-pg-")
        pg.write_secret("db.password", os.environ["PGPASSWORD"] + "\n")
        url = "postgres://%s@127.0.0.1:%s/%s" % (
            os.environ["PGUSER"], os.environ["PGPORT"], S.pg_db)
        t = new_instance("tkd-dbnodes-pg-", {
            "url": url, "password_file": pg.path("db.password")})
        S.backends.append(("postgres", t, pg_query(S.pg_db)))


def each_backend(fn):
    """Runs fn once per database, with S.t and S.query set."""
    def run():
        for name, t, q in S.backends:
            S.t, S.query = t, q
            try:
                fn()
            except AssertionError as e:
                raise AssertionError(f"[{name}] {e}") from None
    run.__name__ = fn.__name__
    return run


def jwt(sub):
    return T.sign_jwt(S.key, T.claims(sub))


def ts_get(sub, key_id=None, path=TS_PATH, headers=None):
    h = {"Authorization": "Bearer " + jwt(sub)}
    if key_id is not None:
        h["X-KeyID"] = key_id
    h.update(headers or {})
    return S.t.request("GET", path, headers=h)


def query(sql, args=()):
    return S.query(sql, args)


def users(email):
    return query("SELECT * FROM users WHERE email = ? ORDER BY uid",
                 (email,))


def metrics_hash(text):
    return hmac.new(S.sync.encode(), text.encode(),
                    hashlib.sha256).hexdigest()[:32]


def payload_of(token):
    raw = base64.urlsafe_b64decode(token.encode("ascii"))
    return raw[:-32].decode("utf-8")


def check_ok(resp, what):
    st, h, body = resp
    assert st == 200, f"{what}: {st} {body!r}"
    assert h.get("x-content-type-options") == "nosniff", (what, h)
    assert h.get("x-timestamp", "").isdigit(), (what, h)
    return body


@test
@each_backend
def new_user_gets_a_node_and_the_database_uid():
    t0 = time.time()
    body = check_ok(ts_get("alice", "0000000001234-qqo"), "alice")
    # Mozilla's fields, in its order.
    assert list(body) == MOZILLA_FIELDS, list(body)
    rows = users("alice@idp.example.com")
    assert len(rows) == 1, rows
    u = rows[0]
    node = query("SELECT * FROM nodes WHERE node = ?", (NODE,))
    assert len(node) == 1, node
    # The node was made at start with available = capacity; one user now.
    assert node[0]["capacity"] == 10 and node[0]["current_load"] == 1 and \
        node[0]["available"] == 9, node
    assert u["nodeid"] == node[0]["id"] and u["replaced_at"] is None, u
    assert u["client_state"] == "aaaa" and u["keys_changed_at"] == 1234, u
    assert body["uid"] == u["uid"], (body, u)
    assert body["api_endpoint"] == f"{NODE}/1.5/{u['uid']}", body
    assert body["duration"] == 3600 and body["hashalg"] == "sha256", body
    assert body["node_type"] == "spanner", body
    assert body["hashed_fxa_uid"] == metrics_hash("alice"), body
    # The token: Mozilla's payload, keys in its order, signed with the
    # service's secret, for the record's uid and node.
    p = T.parse_token(body["id"], S.sync)
    assert list(json.loads(payload_of(body["id"]))) == PAYLOAD_KEYS, \
        payload_of(body["id"])
    assert p["uid"] == u["uid"] and p["node"] == NODE, p
    assert p["fxa_uid"] == "alice", p
    assert p["fxa_kid"] == "0000000001234-qqo", p
    assert p["hashed_fxa_uid"] == body["hashed_fxa_uid"], p
    assert p["hashed_device_id"] == metrics_hash(
        body["hashed_fxa_uid"] + "none"), p
    assert t0 + 3600 - 2 <= p["expires"] <= time.time() + 3600 + 2, p
    assert T.get_derived_secret(body["id"], S.sync) == body["key"]


@test
@each_backend
def returning_user_keeps_the_record():
    first = check_ok(ts_get("bob", "1234-qqo"), "bob")
    again = check_ok(ts_get("bob", "1234-qqo"), "bob again")
    assert first["uid"] == again["uid"], (first, again)
    assert len(users("bob@idp.example.com")) == 1


@test
@each_backend
def new_client_state_new_uid_same_node():
    old = check_ok(ts_get("carol", "1234-qqo"), "carol")
    new = check_ok(ts_get("carol", "1235-u7s"), "carol, new keys")
    assert new["uid"] != old["uid"], (old, new)
    rows = {r["uid"]: r for r in users("carol@idp.example.com")}
    assert rows[old["uid"]]["replaced_at"] is not None, rows
    assert rows[new["uid"]]["replaced_at"] is None, rows
    assert rows[new["uid"]]["nodeid"] == rows[old["uid"]]["nodeid"], rows
    assert rows[new["uid"]]["client_state"] == "bbbb", rows
    p = T.parse_token(new["id"], S.sync)
    assert p["fxa_kid"] == "0000000001235-u7s", p
    # The old client state is stale now: Mozilla's body, exactly.
    st, _, body = ts_get("carol", "1236-qqo")
    assert st == 401 and body == {"status": "invalid-client-state",
                                  "errors": [{
                                      "location": "header",
                                      "name": "X-Client-State",
                                      "description": "Unacceptable "
                                      "client-state value stale value"}]}, \
        (st, body)


@test
@each_backend
def key_id_rules_mozillas_answers():
    check_ok(ts_get("dave", "2000-qqo"), "dave")
    # keys_changed_at going back.
    st, _, body = ts_get("dave", "1999-qqo")
    assert st == 401 and body == {"status": "invalid-keysChangedAt",
                                  "errors": [{"location": "body",
                                              "name": "",
                                              "description":
                                              "Unauthorized"}]}, (st, body)
    # No X-KeyID, after the credential was checked.
    st, _, body = ts_get("dave")
    assert st == 401 and body == {"status": "invalid-key-id",
                                  "errors": [{"location": "header",
                                              "name": "",
                                              "description":
                                              "Missing X-KeyID header"}]}, \
        (st, body)
    # A credential that fails is said first, as Mozilla's order has it.
    st, _, body = S.t.request("GET", TS_PATH, headers={
        "Authorization": "Bearer " + T.tamper_signature(jwt("dave"))})
    assert st == 401 and body["status"] == "invalid-credentials", body
    # X-Client-State that differs from the key id's.
    st, _, body = ts_get("dave", "2000-qqo", headers={
        "X-Client-State": "bbbb"})
    assert st == 401 and body == {"status": "invalid-client-state",
                                  "errors": [{"location": "body",
                                              "name": "",
                                              "description":
                                              "Unauthorized"}]}, (st, body)
    # keys_changed_at beyond int64: refused, never wrapped.
    st, _, body = ts_get("dave", "9223372036854775808-qqo")
    assert st == 401 and body["status"] == "invalid-credentials", body
    # Nothing of the refusals was written.
    rows = users("dave@idp.example.com")
    assert len(rows) == 1 and rows[0]["keys_changed_at"] == 2000, rows


@test
@each_backend
def shorter_duration_honoured():
    body = check_ok(ts_get("erin", "1-qqo", path=TS_PATH + "?duration=12"),
                    "duration 12")
    assert body["duration"] == 12, body
    p = T.parse_token(body["id"], S.sync)
    assert p["expires"] <= time.time() + 14, p
    for q in ("4000", "lolwut", "-1", "0"):
        body = check_ok(ts_get("erin", "1-qqo",
                               path=TS_PATH + "?duration=" + q), q)
        assert body["duration"] == 3600, (q, body)


@test
@each_backend
def unknown_version_and_app_mozillas_404():
    st, _, body = ts_get("frank", "1-qqo", path="/1.0/sync/1.2")
    assert st == 404 and body == {"status": "error", "errors": [{
        "location": "url", "name": "1.2",
        "description": "Unsupported application version"}]}, (st, body)
    st, _, body = ts_get("frank", "1-qqo", path="/1.0/xXx/token")
    assert st == 404 and body == {"status": "error", "errors": [{
        "location": "url", "name": "application",
        "description": "Unsupported application"}]}, (st, body)


@test
@each_backend
def fixed_node_service_unchanged():
    st, _, body = ts_get("alice", "1-qqo", path="/1.0/other/1.0")
    assert st == 200, (st, body)
    assert sorted(body) == sorted(["id", "key", "uid", "api_endpoint",
                                   "duration", "hashalg"]), body
    assert body["api_endpoint"] == OTHER_NODE, body
    p = T.parse_token(body["id"], S.other)
    assert "fxa_uid" not in p and p["node"] == OTHER_NODE, p
    # Its uid is the keyed hash's, not a database's.
    assert body["uid"] > 10 ** 6, body


@test
@each_backend
def fxa_user_mozillas_email_and_generation():
    # An FxA OAuth token (Mozilla's stand-in verifier): the user is
    # <FxA uid>@email_domain, its generation is kept.
    tok = T.fxa_token(user="f0e1d2c3", generation=1234)
    st, _, body = S.t.request("GET", TS_PATH, headers={
        "Authorization": "Bearer " + tok, "X-KeyID": "1234-qqo"})
    assert st == 200, (st, body)
    rows = users("f0e1d2c3@api.accounts.firefox.com")
    assert len(rows) == 1 and rows[0]["uid"] == body["uid"], rows
    assert rows[0]["generation"] == 1234, rows
    assert body["hashed_fxa_uid"] == metrics_hash("f0e1d2c3"), body
    p = T.parse_token(body["id"], S.sync)
    assert p["fxa_uid"] == "f0e1d2c3", p
    # A generation going back: Mozilla's invalid-generation.
    tok = T.fxa_token(user="f0e1d2c3", generation=1233)
    st, _, body = S.t.request("GET", TS_PATH, headers={
        "Authorization": "Bearer " + tok, "X-KeyID": "1234-qqo"})
    assert st == 401 and body == {"status": "invalid-generation",
                                  "errors": [{"location": "body",
                                              "name": "",
                                              "description":
                                              "Unauthorized"}]}, (st, body)
    # The verifier down: 503 with Retry-After, never a hang.
    S.fxa.set_mode("500")
    try:
        st, h, body = S.t.request("GET", TS_PATH, headers={
            "Authorization": "Bearer " + tok, "X-KeyID": "1234-qqo"})
        assert st == 503 and h.get("retry-after"), (st, h, body)
    finally:
        S.fxa.set_mode("mock")


@test
def locked_database_503_then_recovers():
    # SQLite locked by another writer past [database] timeout: a new user
    # (whose assignment writes) gets 503 with Retry-After in bounded time,
    # and is served once the lock is gone.
    name, t, _ = S.backends[0]
    c = sqlite3.connect(t.path("state/tokend.db"), timeout=5,
                        isolation_level=None)
    try:
        c.execute("BEGIN EXCLUSIVE")
        S.t = t
        t0 = time.monotonic()
        st, h, body = ts_get("gina", "1-qqo")
        took = time.monotonic() - t0
        assert st == 503 and h.get("retry-after") == "1", (st, h, body)
        assert body["status"] == "error", body
        assert took < 3, f"503 after {took:.1f}s"
    finally:
        c.execute("COMMIT")
        c.close()
    body = check_ok(ts_get("gina", "1-qqo"), "gina after the lock")
    assert len(sqlite_query(t.path("state/tokend.db"))(
        "SELECT uid FROM users WHERE email = ?",
        ("gina@idp.example.com",))) == 1


@test
def reload_turns_a_service_to_the_database():
    # A running tokend whose service becomes nodes = database on SIGHUP:
    # the supervisor makes state_dir, the new workers open the database.
    t = T.instance("tkd-dbnodes-reload-")
    t.write_secrets(uid=T.new_secret(), sync=S.sync, other=S.other)
    t.write_jwks("example.jwks", [S.key])
    server = t.server_section(state_dir="state")
    issuer = T.issuer_section(algorithms="ES256")
    t.write_config(server, issuer, T.service_section(node=NODE))
    t.start()
    S.t = t
    st, _, body = ts_get("hana", "1-qqo")
    assert st == 200 and "node_type" not in body, (st, body)
    assert not os.path.exists(t.path("state")), "state_dir made too soon"
    mark = t.log_mark()
    t.write_config(server, issuer, T.service_section(node=NODE,
                                                     nodes="database"))
    os.kill(t.pid, signal.SIGHUP)
    t.wait_log("reloaded", since=mark)

    def assigned():
        st, _, body = ts_get("hana", "1-qqo")
        return st == 200 and body.get("node_type") == "spanner" and body
    body = T.wait_until(assigned, 10, what="a database answer after reload")
    rows = sqlite_query(t.path("state/tokend.db"))(
        "SELECT uid FROM users WHERE email = ?", ("hana@idp.example.com",))
    assert [r["uid"] for r in rows] == [body["uid"]], (rows, body)
    assert os.stat(t.path("state")).st_mode & 0o777 == 0o700


def teardown(failed):
    T.teardown(failed)
    if S.fxa is not None:
        S.fxa.stop()
    if S.pg_db is not None:
        c = pg_connect(os.environ.get("PGDATABASE", "postgres"))
        c.cursor().execute(f"DROP DATABASE IF EXISTS {S.pg_db}")
        c.close()


if __name__ == "__main__":
    T.run(setup, teardown)
