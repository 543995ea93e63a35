#!/usr/bin/python3
"""test_fxa - the fxa-oauth issuer (src/identity/fxa.c) in the real daemon.

Clients send "Authorization: Bearer <FxA OAuth token>" on Mozilla's
GET /1.0/sync/1.5, as Firefox does.  A stand-in verifier on 127.0.0.1
(tokendtest.FxaVerifier: Mozilla's mock protocol, where the token says
what the verifier answers) plays FxA's /v1/verify; the service has a
fixed node, so nothing here depends on the node-assignment database.

  remote     a token the verifier vouches for is minted (uid stable per FxA
             user); the request it got is a JSON POST of the token; a token
             without the scope, without a user, with an unsafe user, or
             refused by the verifier (401) gets 401 invalid-credentials
  outage     the verifier refusing connections, hanging past the timeout,
             answering 500, garbage or a huge answer: 503 with Retry-After
             within the issuer's timeout (and a margin), while the other
             worker keeps serving JWT clients, no worker is taken for hung,
             and service resumes by itself when the verifier does
  fast path  a JWT access token signed with the issuer's key (typ at+jwt,
             scope, fxa-generation) is verified without the verifier; a bad
             signature, the wrong typ, an expired token or one without the
             scope is refused without asking it; a kid the issuer lacks
             goes to the verifier (Mozilla's fallback); its fxa-generation
             is the user's generation in a nodes = database service
  https      verify_url with verify_ca_file from a confined worker, by
             address and by name; a certificate for another name is 503
"""

import os
import signal
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import FXA_SCOPE, fxa_token, new_secret, test  # noqa: E402

FXA_ISS = "https://accounts.firefox.com"
TS_PATH = "/1.0/sync/1.5"
TIMEOUT_MS = 600            # the issuer's timeout
MARGIN = 1.0                # seconds beyond it an answer may take here
UID = "0123456789abcdef0123456789abcdef"

S = types.SimpleNamespace()


def setup():
    S.sync_secret = new_secret()
    S.key = T.Key("RS256", kid="fxa-1")
    S.other_key = T.Key("RS256", kid="fxa-2")      # not in the JWKS
    S.jwt_key = T.Key("ES256", kid="idp-1")        # the plain JWT issuer's
    S.v = T.FxaVerifier()
    t = S.t = T.instance("tkd-fxa-")
    t.write_secrets(uid=new_secret(), sync=S.sync_secret)
    t.write_jwks("fxa.jwks", [S.key])
    t.write_jwks("example.jwks", [S.jwt_key])
    t.write_config(
        t.server_section(workers=2),
        T.issuer_section(algorithms="ES256"),
        T.fxa_issuer_section(verify_url=S.v.url, jwks_file="fxa.jwks",
                             algorithms="RS256", timeout=TIMEOUT_MS),
        T.service_section(duration=1800))
    t.start()


def teardown(failed):
    S.v.stop()
    T.teardown(failed)


def bearer(token, t=None, **kw):
    t = t or S.t
    return t.get(TS_PATH, headers={"Authorization": "Bearer " + token},
                 **kw)


def minted(resp, what=""):
    """The tokenlib token's payload of a 200 answer, checked."""
    st, h, body = resp
    assert st == 200, f"{what}: {st} {body!r}"
    assert body["api_endpoint"] == T.SYNC_NODE, body
    data = T.parse_token(body["id"], S.sync_secret)
    assert data["uid"] == body["uid"], (data, body)
    return body


def refused(resp, words=(), what=""):
    return T.check_error(resp, 401, "invalid-credentials", words=words,
                         what=what)


def unavailable(resp, what=""):
    st, h, body = resp
    assert st == 503, f"{what}: expected 503, got {st} {body!r}"
    ra = h.get("retry-after")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, \
        f"{what}: Retry-After {ra!r}"
    assert isinstance(body, dict) and body.get("errors"), \
        f"{what}: {body!r}"
    return body


def access_token(key=None, sub=UID, scope="profile " + FXA_SCOPE,
                 generation=1234, typ="at+jwt", lifetime=300, **extra):
    key = key or S.key
    c = T.claims(sub, iss=FXA_ISS, aud="5882386c6d801776", lifetime=lifetime,
                 scope=scope, **extra)
    if generation is not None:
        c["fxa-generation"] = generation
    return T.sign_jwt(key, c, header={"typ": typ})


# ---------------------------------------------------------------- remote

@test
def verified_token_is_minted_with_a_stable_uid():
    S.v.set_mode("mock")
    n0 = S.v.count()
    a = minted(bearer(fxa_token(user=UID, generation=1234)), "first")
    b = minted(bearer(fxa_token(user=UID)), "same user")
    c = minted(bearer(fxa_token(user="test")), "another user")
    assert a["uid"] == b["uid"] != c["uid"], (a, b, c)
    assert S.v.count() == n0 + 3
    # What FxA was sent: a JSON POST of {"token": <the bearer token>}.
    path, headers, body = S.v.requests[-1]
    assert path == "/v1/verify"
    assert headers.get("Content-Type") == "application/json", headers
    assert T.json.loads(body) == {"token": fxa_token(user="test")}, body


@test
def token_without_the_scope_is_refused():
    S.v.set_mode("mock")
    refused(bearer(fxa_token(scope=["profile"])), ("scope",))
    refused(bearer(fxa_token(scope=[])), ("scope",))
    refused(bearer(fxa_token(scope=[FXA_SCOPE + "/x"])), ("scope",))
    # A string is not the verifier's list.
    refused(bearer(fxa_token(body={"user": UID, "scope": FXA_SCOPE})),
            ("scope",))


@test
def answer_without_a_valid_user_is_refused():
    S.v.set_mode("mock")
    refused(bearer(fxa_token(body={"scope": [FXA_SCOPE]})), ("user",))
    refused(bearer(fxa_token(body={"user": 42, "scope": [FXA_SCOPE]})),
            ("user",))
    # What would change the email it becomes, or its database key.
    for user in ("a@evil.example", "../x", "a+b", "a.b", "x" * 65, ""):
        refused(bearer(fxa_token(user=user)), ("user",), what=repr(user))
    refused(bearer(fxa_token(generation=-1)), ("generation",))
    refused(bearer(fxa_token(generation="5")), ("generation",))


@test
def verifier_refusal_is_401_whatever_its_body():
    S.v.set_mode("mock")
    for status in (400, 401, 403):
        refused(bearer(fxa_token(user=UID, status=status)), ("refused",),
                what=str(status))
    # Mozilla's mock answers 400 to a token it cannot read.
    refused(bearer("0123456789abcdef"), ("refused",))


# ---------------------------------------------------------------- outage

def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


@test
def verifier_outages_are_503_within_the_timeout():
    limit = TIMEOUT_MS / 1000 + MARGIN
    try:
        for mode in ("refuse", "500", "garbage", "huge", "hang"):
            S.v.set_mode(mode)
            r, dt = timed(lambda: bearer(fxa_token(user=UID)))
            unavailable(r, mode)
            assert dt < limit, f"{mode}: answered after {dt:.2f}s"
        # hang: the worker gave up at the timeout, not before.
        assert dt >= TIMEOUT_MS / 1000 - 0.05, f"hang: {dt:.2f}s"
    finally:
        S.v.set_mode("mock")
    # Back by itself.
    minted(bearer(fxa_token(user=UID)), "after the outage")
    log = S.t.stderr()
    assert "answers again" in log, log[-2000:]


@test
def slow_verifier_within_the_timeout_is_waited_for():
    S.v.delay = TIMEOUT_MS / 1000 / 2
    try:
        r, dt = timed(lambda: bearer(fxa_token(user=UID)))
    finally:
        S.v.delay = 0
    minted(r, "slow verifier")
    assert dt >= TIMEOUT_MS / 1000 / 2 - 0.05, dt


@test
def redirect_is_not_followed():
    """A verifier that points elsewhere is not one: the operator trusted
    verify_url, not where it sends us (503, and the target is not asked).
    The target is on the same port: the worker's sandbox would stop a
    connection to another port anyway."""
    S.v.redirect_to = f"http://127.0.0.1:{S.v.port}/v1/elsewhere"
    S.v.set_mode("redirect")
    try:
        unavailable(bearer(fxa_token(user=UID)), "redirect")
        assert S.v.count("/v1/elsewhere") == 0, "the redirect was followed"
    finally:
        S.v.set_mode("mock")


@test
def hung_verifier_never_stops_the_pool():
    """While every FxA request waits out the timeout in one worker, JWT
    clients keep getting tokens from the other, and no worker is taken
    for hung."""
    mark = S.t.log_mark()
    fxa_results = []

    def fxa_client():
        for _ in range(4):
            fxa_results.append(timed(lambda: bearer(fxa_token(user=UID))))

    S.v.set_mode("hang")
    try:
        th = threading.Thread(target=fxa_client)
        th.start()
        jwt = []
        end = time.monotonic() + 4 * TIMEOUT_MS / 1000
        while th.is_alive() and time.monotonic() < end + 5:
            tok = T.sign_jwt(S.jwt_key, T.claims("alice"))
            jwt.append(timed(lambda: S.t.token(tok)))
        th.join(10)
    finally:
        S.v.set_mode("mock")
    assert len(fxa_results) == 4, fxa_results
    for r, dt in fxa_results:
        unavailable(r, "hung verifier")
        assert dt < TIMEOUT_MS / 1000 + MARGIN, f"{dt:.2f}s"
    assert len(jwt) >= 4, f"only {len(jwt)} JWT requests answered"
    for (st, h, body), dt in jwt:
        assert st == 200, (st, body)
    slow = max(dt for _, dt in jwt)
    assert slow < TIMEOUT_MS / 1000 + MARGIN, f"a JWT client waited {slow}"
    log = S.t.log_since(mark)
    assert not T.re.search(r"hung|forgotten", log), log


# ---------------------------------------------------------------- fast path

@test
def jwt_access_token_is_verified_locally():
    S.v.set_mode("refuse")      # proves FxA is not asked
    try:
        a = minted(bearer(access_token()), "access token")
        # Scopes space- or comma-separated; generation absent is fine.
        minted(bearer(access_token(scope=FXA_SCOPE + ",profile",
                                   generation=None)), "comma")
        # The same FxA user through either path: one uid.
        S.v.set_mode("mock")
        b = minted(bearer(fxa_token(user=UID)), "remote")
        assert a["uid"] == b["uid"], (a, b)
    finally:
        S.v.set_mode("mock")


@test
def bad_jwt_access_tokens_are_refused_without_asking_fxa():
    S.v.set_mode("mock")
    n0 = S.v.count()
    refused(bearer(T.tamper_signature(access_token())), ("signature",))
    refused(bearer(access_token(scope="profile")), ("scope",))
    refused(bearer(access_token(typ="JWT")), ("access token",))
    refused(bearer(access_token(lifetime=-3600)), ("expired",))
    refused(bearer(access_token(sub="a@b")), ("uid",))
    refused(bearer(access_token(generation=-5)), ())
    assert S.v.count() == n0 + 1, "only the ill-shaped generation asks FxA"


@test
def unknown_key_falls_back_to_fxa():
    S.v.set_mode("mock")
    n0 = S.v.count()
    # FxA (the mock) cannot read a JWT: it answers 400, so 401.
    refused(bearer(access_token(key=S.other_key)), ("refused",))
    assert S.v.count() == n0 + 1


@test
def fxa_tokens_never_pass_as_plain_jwts():
    """A JWT of the fxa-oauth issuer's iss sent as an assertion goes the
    same way (its scope is checked), and a plain issuer's JWT is not
    FxA's to judge."""
    S.v.set_mode("mock")
    T.check_error(S.t.token(access_token(scope="profile")), 401,
                  "invalid-credentials", words=("scope",))
    st, h, body = S.t.token(T.sign_jwt(S.jwt_key, T.claims("bob")))
    assert st == 200, body


@test
def fast_path_generation_reaches_the_database():
    """fxa-generation of a locally verified JWT is the user's generation
    in a nodes = database service (SQLite): kept in the record, and one
    going back is Mozilla's invalid-generation, as on the remote path."""
    import sqlite3
    t = T.instance("tkd-fxa-db-")
    t.write_secrets(uid=new_secret(), sync=S.sync_secret)
    t.write_jwks("fxa.jwks", [S.key])
    t.write_config(
        t.server_section(workers=1, state_dir="state"),
        T.fxa_issuer_section(verify_url=S.v.url, jwks_file="fxa.jwks",
                             algorithms="RS256"),
        T.service_section(nodes="database"),
        T.section("database", {"capacity": 10}, {}))
    t.start()
    S.v.set_mode("refuse")      # every answer here is the fast path's
    try:
        def get(generation):
            return t.get(TS_PATH, headers={
                "Authorization": "Bearer " + access_token(
                    generation=generation),
                "X-KeyID": "1234-qqo"})
        st, h, body = get(1234)
        assert st == 200 and body["api_endpoint"] == \
            f"{T.SYNC_NODE}/1.5/{body['uid']}", (st, body)
        db = sqlite3.connect(t.path("state/tokend.db"))
        try:
            rows = db.execute("SELECT generation FROM users WHERE email = "
                              "?", (UID + "@api.accounts.firefox.com",)
                              ).fetchall()
        finally:
            db.close()
        assert rows == [(1234,)], rows
        st, h, body = get(1233)
        assert st == 401 and body.get("status") == "invalid-generation", \
            (st, body)
        st, h, body = get(None)
        assert st == 200, (st, body)
    finally:
        S.v.set_mode("mock")
        t.stop()


# ---------------------------------------------------------------- https

@test
def https_verifier_is_trusted_only_with_its_certificate():
    """verify_url over https with verify_ca_file, from a confined worker
    (its CA file, the resolver's files and the port are all the sandbox
    lets it reach): a certificate for the address or name works; one of
    the same CA for another name is no verifier (503, logged), whatever
    it would answer."""
    root = T.instance("tkd-fxa-pki-")
    pki = T.test_pki(root.dir)
    # localhost: a name, resolved by the confined worker (/etc/hosts).
    for cert, host, ok in (("good", "127.0.0.1", True),
                           ("good", "localhost", True),
                           ("wrong", "127.0.0.1", False)):
        v = T.FxaVerifier(tls=(pki[cert + ".pem"], pki[cert + ".key"]))
        try:
            t = T.instance("tkd-fxa-tls-")
            t.write_secrets(uid=new_secret(), sync=S.sync_secret)
            t.write_config(
                t.server_section(workers=1, sandbox="on"),
                T.fxa_issuer_section(verify_url=v.url.replace(
                    "127.0.0.1", host), verify_ca_file=pki["ca.pem"]),
                T.service_section())
            t.start()
            r = bearer(fxa_token(user=UID), t=t)
            if ok:
                minted(r, f"good certificate, {host}")
                assert v.count() == 1
            else:
                unavailable(r, "wrong certificate")
                assert v.count() == 0, "a request reached the impostor"
                T.wait_until(lambda: "verify_url" in t.stderr(), 5,
                             what="the outage logged")
            t.stop()
        finally:
            v.stop()


@test
def reload_cannot_outgrow_the_running_heartbeat():
    """A file that raises both heartbeat_interval (a restart key: the
    running 1000 ms x 3 stays in force) and the verifier's timeout to
    2900 ms passes on its own, but the longest job would outlast the
    hung-worker limit in force: the reload is refused, naming why, and
    the running workers and timeout stay."""
    v = T.FxaVerifier()
    t = T.instance("tkd-fxa-hup-")
    try:
        t.write_secrets(uid=new_secret(), sync=S.sync_secret)

        def configure(heartbeat, timeout):
            t.write_config(
                t.server_section(workers=1, heartbeat_interval=heartbeat),
                T.fxa_issuer_section(verify_url=v.url, timeout=timeout),
                T.service_section())
        configure(1000, TIMEOUT_MS)
        t.start()
        pids = t.wait_workers(1)
        minted(bearer(fxa_token(user=UID), t=t), "before the reload")
        mark = t.log_mark()
        configure(3000, 2900)
        os.kill(t.pid, signal.SIGHUP)
        m = t.wait_log(r"^.*reload failed.*$", since=mark)[0]
        assert "heartbeat_interval" in m.group(0), m.group(0)
        assert t.workers() == pids, "the workers were replaced"
        # The running timeout still holds: a verifier slower than it is
        # an outage, answered within the old bound.
        v.delay = 1.5
        start = time.monotonic()
        unavailable(bearer(fxa_token(user=UID), t=t), "old timeout kept")
        assert time.monotonic() - start < TIMEOUT_MS / 1000 + MARGIN
    finally:
        v.stop()
        t.stop()


if __name__ == "__main__":
    T.run(setup, teardown, per_test_timeout=60)
