"""End-to-end tests of tokend's token service.

One tokend (the "main" instance: two workers, two issuers, two services)
is started for the whole file and stopped by the last test (SIGTERM).
In order:

  processes  titles of supervisor, front and workers; runtime_dir mode
  tokens     RS256, ES256, EdDSA, a second service: every field, the token
             parsed and the key derived independently; uid rules
  4xx        400, 404, 405, 413 (also chunked), 415, each from a real request
  401        every reason the assertion can be refused for
  other      another instance, same uid secret, another service secret
             (uid stable), then another uid secret (uid changes)
  stalled    workers = 1, worker_credit = 1, queue_limit = 2,
             request_timeout = 1, its worker
             SIGSTOPped: 504, then 503 with Retry-After; SIGCONT: 200
  tokend -t  good and broken configs, FILE:LINE: messages (these run even
             if the main instance could not start)
  load       concurrent requests; a SIGKILLed worker is respawned

Every expectation comes from the spec (API, errors, tokenlib format), and
tokens are checked with tokendtest's own tokenlib implementation.

Run from the repository root:  /usr/bin/python3 tests/integration/test_token.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
import types

from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, ISS, OTHER, OTHER_NODE, SYNC,  # noqa: E402
                        SYNC_NODE, check_error, new_secret, standalone,
                        test)

RSA_ISS = "https://rsa.example.com"
LEEWAY = 60
TOKEN_FIELDS = {"id", "key", "uid", "api_endpoint", "duration", "hashalg",
                "expires"}

S = types.SimpleNamespace(main=None, other=None, stalled=None, uids={})


def setup_instance(t, sync_secret, uid_secret, **server):
    """Writes the standard secrets, JWKS and config into t's dir."""
    # Written with a trailing newline: the master secret is the text
    # without it, which the token checks below rely on.
    t.write_secrets(uid=uid_secret, sync=sync_secret)
    t.write_secrets(other=S.other_secret, end="")
    t.write_jwks("example.jwks", [S.keys[a] for a in T.ALGS])
    t.write_jwks("rsaonly.jwks", [S.rsa_key, S.rsa_ec_key])
    return t.write_config(
        t.server_section(**server),
        T.issuer_section(algorithms="RS256 ES256 EdDSA", leeway=LEEWAY),
        T.issuer_section("rsaonly", RSA_ISS, "rsaonly.jwks",
                         algorithms="RS256", leeway=LEEWAY),
        T.service_section(duration=1800),
        T.service_section(OTHER, OTHER_NODE, duration=600))


def setup():
    S.keys = {a: T.Key(a) for a in T.ALGS}
    S.rsa_key = T.Key("RS256")          # issuer rsaonly
    S.rsa_ec_key = T.Key("ES256")       # in rsaonly's JWKS, alg not allowed
    S.uid_secret = new_secret()
    S.sync_secret = new_secret()
    S.other_secret = new_secret()
    S.main = T.instance("tkd-main-")
    setup_instance(S.main, S.sync_secret, S.uid_secret, workers=2)
    S.main.start()


def jwt(alg="RS256", sub="alice", key=None, **kw):
    """A valid assertion for issuer example, claims overridable."""
    key = key or S.keys[alg]
    return T.sign_jwt(key, T.claims(sub, iss=kw.pop("iss", ISS),
                                    aud=kw.pop("aud", AUD), **kw))


# ---------------------------------------------------------------- checks

def check_token(resp, secret, node, duration, t0, t1, other_secret=None):
    """Asserts a 200 token response is exactly what the spec says; returns
    the body."""
    st, h, body = resp
    assert st == 200, f"expected 200, got {st} {body!r}"
    ct = h.get("content-type", "")
    assert ct.startswith("application/json"), f"Content-Type {ct!r}"
    assert isinstance(body, dict), f"body not a JSON object: {body!r}"
    assert set(body) == TOKEN_FIELDS, \
        f"fields {sorted(body)} != {sorted(TOKEN_FIELDS)}"
    for f in ("id", "key", "api_endpoint", "hashalg"):
        assert isinstance(body[f], str), f"{f} not a string: {body[f]!r}"
    for f in ("uid", "duration", "expires"):
        assert type(body[f]) is int, f"{f} not an integer: {body[f]!r}"
    assert 0 <= body["uid"] < 2 ** 53, f"uid out of range: {body['uid']}"
    assert body["api_endpoint"] == node, body["api_endpoint"]
    assert body["duration"] == duration, body["duration"]
    assert body["hashalg"] == "sha256", body["hashalg"]
    lo, hi = int(t0) + duration - 2, int(t1) + duration + 2
    assert lo <= body["expires"] <= hi, \
        f"expires {body['expires']} not in [{lo}, {hi}] (now+{duration})"
    tok = body["id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+=*", tok) and len(tok) % 4 == 0, \
        f"token is not padded urlsafe base64: {tok!r}"
    try:
        payload = T.parse_token(tok, secret)
    except T.TokenError as e:
        raise AssertionError(f"token does not parse under the service "
                             f"secret: {e}") from None
    assert set(payload) == {"uid", "node", "expires", "salt"}, \
        f"payload fields {sorted(payload)}"
    assert payload["uid"] == body["uid"], (payload["uid"], body["uid"])
    assert payload["node"] == node, payload["node"]
    assert payload["expires"] == body["expires"], \
        (payload["expires"], body["expires"])
    assert isinstance(payload["salt"], str) and \
        re.fullmatch(r"[0-9a-f]+", payload["salt"]), \
        f"salt not hex: {payload['salt']!r}"
    want = T.get_derived_secret(tok, secret)
    assert body["key"] == want, f"key {body['key']!r} != derived {want!r}"
    for wrong in (other_secret, new_secret()):
        if wrong is None:
            continue
        try:
            T.parse_token(tok, wrong)
        except T.InvalidSignatureError:
            pass
        else:
            raise AssertionError("token also parses under another secret")
    return body


def get_token(t, assertion, service=SYNC, secret=None, node=SYNC_NODE,
              duration=1800):
    t0 = time.time()
    resp = t.token(assertion, service)
    t1 = time.time()
    return check_token(resp, secret or S.sync_secret, node, duration, t0, t1)


def reject(assertion, words, what="", service=SYNC):
    """The assertion must get 401 invalid-credentials naming the reason."""
    return check_error(S.main.token(assertion, service), 401,
                       "invalid-credentials", "body", "assertion", words,
                       what)


# ---------------------------------------------------------------- processes

def check_titles(t, nworkers):
    sup = T.proc_title(t.pid)
    want_sup, want = T.proc_titles(t, nworkers)
    assert sup == want_sup, f"supervisor title {sup!r}"

    def titles_ok():
        return sorted(t.children().values()) == want
    try:
        T.wait_until(titles_ok, 5, what="children titles")
    except TimeoutError:
        raise AssertionError(f"children of supervisor {t.pid}: "
                             f"{sorted(t.children().values())}, expected "
                             f"{want}") from None


@test
def ps_titles_supervisor_front_workers():
    check_titles(S.main, 2)


@test
def runtime_dir_created_0700():
    st = os.stat(S.main.path("run"))
    assert st.st_mode & 0o777 == 0o700, oct(st.st_mode & 0o777)


@test
def lbheartbeat_200_empty_object():
    st, h, body = S.main.get("/__lbheartbeat__")
    assert st == 200 and body == {}, (st, body)
    assert h.get("content-type", "").startswith("application/json"), h


# ---------------------------------------------------------------- tokens

@test
def token_rs256():
    S.uids["alice"] = get_token(S.main, jwt("RS256"))["uid"]


@test
def token_es256():
    body = get_token(S.main, jwt("ES256"))
    assert body["uid"] == S.uids.get("alice", body["uid"]), \
        "same sub, other algorithm: uid changed"


@test
def token_eddsa():
    body = get_token(S.main, jwt("EdDSA"))
    assert body["uid"] == S.uids.get("alice", body["uid"]), \
        "same sub, other algorithm: uid changed"


@test
def token_second_service_own_secret_node_duration():
    t0 = time.time()
    resp = S.main.token(jwt("RS256"), OTHER)
    body = check_token(resp, S.other_secret, OTHER_NODE, 600, t0,
                       time.time(), other_secret=S.sync_secret)
    if "alice" in S.uids:
        assert body["uid"] == S.uids["alice"], "uid depends on the service"


@test
def token_aud_array_containing_audience():
    get_token(S.main, jwt(aud=["someone-else", AUD]))


@test
def token_expired_within_leeway_accepted():
    now = int(time.time())
    get_token(S.main, jwt(now=now - 600, lifetime=600 - 20))


@test
def token_no_kid():
    # The spec selects keys by kid; it does not say what a JWT without one
    # gets.  Either a good token (rsaonly has a single RS256 key) or a 401
    # that names the kid; never anything else.
    a = T.sign_jwt(S.rsa_key, T.claims("alice", iss=RSA_ISS), kid=None)
    t0 = time.time()
    resp = S.main.token(a)
    if resp[0] == 200:
        check_token(resp, S.sync_secret, SYNC_NODE, 1800, t0, time.time())
    else:
        check_error(resp, 401, "invalid-credentials", "body", "assertion",
                    ("kid", "key"))


@test
def uid_same_sub_same_uid():
    a = S.main.token(jwt("RS256", sub="bob"))[2]
    b = S.main.token(jwt("RS256", sub="bob"))[2]
    assert isinstance(a, dict) and isinstance(b, dict), (a, b)
    assert a.get("uid") is not None and a["uid"] == b.get("uid"), \
        (a.get("uid"), b.get("uid"))
    S.uids["bob"] = a["uid"]


@test
def uid_different_sub_different_uid():
    uids = {}
    for sub in ("alice", "bob", "carol", "alice@example.com", "1", "2"):
        uids[sub] = get_token(S.main, jwt("ES256", sub=sub))["uid"]
    assert len(set(uids.values())) == len(uids), f"uid collision: {uids}"


@test
def uid_per_issuer():
    # Same sub from two issuers: two identities (uid is per (issuer, sub)).
    a = get_token(S.main, jwt("RS256", sub="dave"))["uid"]
    b = get_token(S.main, T.sign_jwt(S.rsa_key,
                                     T.claims("dave", iss=RSA_ISS)))["uid"]
    assert a != b, f"issuers example and rsaonly give sub 'dave' uid {a}"


# ---------------------------------------------------------------- 4xx

@test
def error_malformed_json_400():
    resp = S.main.request("POST", "/v1/token", b'{"assertion": "x", ',
                          {"Content-Type": "application/json"})
    check_error(resp, 400, "invalid-request", "body")


@test
def error_body_not_object_400():
    resp = S.main.post("/v1/token", ["assertion", "service"])
    check_error(resp, 400, "invalid-request", "body")


@test
def error_missing_assertion_400():
    check_error(S.main.post("/v1/token", {"service": SYNC}), 400,
                "invalid-request", "body", "assertion",
                ("missing", "required", "must"))


@test
def error_missing_service_400():
    check_error(S.main.post("/v1/token", {"assertion": jwt()}), 400,
                "invalid-request", "body", "service",
                ("missing", "required", "must"))


@test
def error_assertion_not_string_400():
    check_error(S.main.post("/v1/token", {"assertion": 123,
                                          "service": SYNC}),
                400, "invalid-request", "body", "assertion", ("string",))


@test
def error_unknown_service_404():
    check_error(S.main.token(jwt(), "nosuch-1.0"), 404, "not-found", "body",
                "service", ("service", "unknown"))


@test
def error_unknown_path_404():
    check_error(S.main.get("/nowhere"), 404, "not-found", "url",
                what="GET /nowhere")
    check_error(S.main.post("/v1/tokens", {"assertion": jwt(),
                                           "service": SYNC}),
                404, "not-found", "url", what="POST /v1/tokens")


@test
def error_get_token_405():
    st, h, body = resp = S.main.get("/v1/token")
    check_error(resp, 405, "method-not-allowed")
    allow = [m.strip() for m in h.get("allow", "").split(",")]
    assert "POST" in allow, f"Allow header {h.get('allow')!r}"


@test
def error_body_over_max_body_413():
    big = {"assertion": "a" * 20000, "service": SYNC}
    check_error(S.main.post("/v1/token", big), 413, "request-too-large",
                ("body", "header"))


@test
def error_body_of_exactly_max_body_not_413():
    text = '{"assertion": "not-a-jwt", "service": "%s"}' % SYNC
    text += " " * (16384 - len(text))
    assert len(text) == 16384
    check_error(S.main.request("POST", "/v1/token", text,
                               {"Content-Type": "application/json"}),
                401, "invalid-credentials", "body", "assertion")


@test
def error_text_plain_415():
    resp = S.main.request("POST", "/v1/token",
                          json.dumps({"assertion": jwt(), "service": SYNC}),
                          {"Content-Type": "text/plain"})
    check_error(resp, 415, "unsupported-media-type", "header",
                "content-type")


@test
def error_chunked_body_over_max_body_413():
    # No Content-Length: the limit must hold while the body streams in.
    body = json.dumps({"assertion": "a" * 20000, "service": SYNC})
    check_error(S.main.request("POST", "/v1/token", body,
                               {"Content-Type": "application/json"},
                               chunked=True),
                413, "request-too-large", ("body", "header"))


@test
def token_chunked_body_200():
    body = json.dumps({"assertion": jwt(), "service": SYNC})
    t0 = time.time()
    resp = S.main.request("POST", "/v1/token", body,
                          {"Content-Type": "application/json"}, chunked=True)
    check_token(resp, S.sync_secret, SYNC_NODE, 1800, t0, time.time())


@test
def error_deeply_nested_json_400_and_still_serving():
    depth = 5000
    body = ('{"assertion": ' + "[" * depth + "]" * depth +
            ', "service": "%s"}' % SYNC)
    assert len(body) < 16384
    check_error(S.main.request("POST", "/v1/token", body,
                               {"Content-Type": "application/json"}),
                400, "invalid-request", "body")
    get_token(S.main, jwt())


# ---------------------------------------------------------------- 401

@test
def reject_expired():
    now = int(time.time())
    reject(jwt(now=now - 3600, lifetime=600), ("expired",))


@test
def reject_expired_just_beyond_leeway():
    now = int(time.time())
    reject(jwt(now=now - 600, lifetime=600 - LEEWAY - 5), ("expired",))


@test
def reject_missing_exp():
    reject(jwt(exp=None), ("exp",))


@test
def reject_not_yet_valid():
    now = int(time.time())
    reject(jwt(nbf=now + 600), ("nbf", "not yet", "before"))


@test
def reject_iat_in_future():
    now = int(time.time())
    reject(jwt(iat=now + 600, nbf=None), ("iat", "issued", "future"))


@test
def reject_wrong_audience():
    reject(jwt(aud="someone-else"), ("audience",), "aud string")
    reject(jwt(aud=["a", "b"]), ("audience",), "aud array")


@test
def reject_bad_signature():
    for alg in T.ALGS:
        reject(T.tamper_signature(jwt(alg)), ("signature",), alg)


@test
def reject_signed_by_other_key_same_kid():
    k = T.Key("RS256", kid=S.keys["RS256"].kid)
    reject(T.sign_jwt(k, T.claims("alice")), ("signature",))


@test
def reject_unknown_issuer():
    reject(jwt(iss="https://unknown.example.com"), ("issuer",))


@test
def reject_unknown_kid():
    reject(T.sign_jwt(S.keys["RS256"], T.claims("alice"), kid="no-such-kid"),
           ("kid", "key"))


@test
def reject_alg_not_allowed_for_issuer():
    reject(T.sign_jwt(S.rsa_ec_key, T.claims("alice", iss=RSA_ISS)),
           ("algorithm",))


@test
def reject_alg_does_not_match_key_type():
    # kid names the ES256 key, header claims RS256 (signed by an RSA key).
    a = T.sign_jwt(S.keys["RS256"], T.claims("alice"),
                   kid=S.keys["ES256"].kid)
    reject(a, ("key", "alg"))


def unsigned_parts(alg):
    h = T.b64url(json.dumps({"alg": alg, "typ": "JWT",
                             "kid": S.keys["RS256"].kid}).encode())
    p = T.b64url(json.dumps(T.claims("alice")).encode())
    return f"{h}.{p}"


@test
def reject_alg_none():
    # Unsecured JWS as RFC 7515 writes it (empty signature): any reason.
    reject(unsigned_parts("none") + ".", ())
    # With some signature bytes, the reason must be the algorithm.
    reject(unsigned_parts("none") + "." + T.b64url(b"x" * 32),
           ("alg", "none"))


@test
def reject_alg_hs256_with_public_key_as_secret():
    # The classic confusion: HMAC keyed with the issuer's public RSA key.
    pem = S.keys["RS256"].public.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    si = unsigned_parts("HS256")
    sig = hmac.new(pem, si.encode(), hashlib.sha256).digest()
    reject(f"{si}.{T.b64url(sig)}", ("alg",))


@test
def reject_missing_sub():
    reject(jwt(sub=None), ("sub",))


@test
def reject_not_a_jwt():
    reject("this-is-not-a-jwt", ("malformed", "jwt", "jws", "token",
                                 "assertion"))


# ---------------------------------------------------------------- uid, again

@test
def uid_stable_across_restart_and_service_secret_change():
    # Another tokend: same uid secret, a new service secret.
    S.other = T.instance("tkd-other-")
    S.other.new_sync = new_secret()
    setup_instance(S.other, S.other.new_sync, S.uid_secret, workers=1)
    S.other.start()
    try:
        want = {}
        for sub in ("alice", "bob"):
            want[sub] = get_token(S.main, jwt(sub=sub))["uid"]
        for sub in ("alice", "bob"):
            t0 = time.time()
            resp = S.other.token(jwt(sub=sub))
            body = check_token(resp, S.other.new_sync, SYNC_NODE, 1800, t0,
                               time.time(), other_secret=S.sync_secret)
            assert body["uid"] == want[sub], \
                f"sub {sub}: uid {body['uid']} after restart, {want[sub]} " \
                f"before"
    finally:
        S.other.stop()


@test
def uid_depends_on_uid_secret():
    # The uid hash is keyed: a new uid secret gives new uids.
    t = S.other or T.instance("tkd-other-")
    t.port = None       # a fresh port, not one maybe still in TIME_WAIT
    secret = new_secret()
    setup_instance(t, secret, new_secret(), workers=1)
    t.start()
    try:
        a = get_token(t, jwt(sub="alice"), secret=secret)["uid"]
        b = get_token(S.main, jwt(sub="alice"))["uid"]
        assert a != b, f"same uid {a} under two different uid secrets"
    finally:
        t.stop()


# ---------------------------------------------------------------- 504, 503

def stalled():
    if S.stalled is None:
        S.stalled = T.instance("tkd-stall-")
        # worker_credit 1: the stopped worker holds one job, two wait.
        setup_instance(S.stalled, S.sync_secret, S.uid_secret, workers=1,
                       queue_limit=2, request_timeout=1, worker_credit=1)
        S.stalled.start()
    return S.stalled


def stop_workers(t, n):
    pids = T.wait_until(lambda: len(t.workers()) == n and t.workers(), 5,
                        what=f"{n} worker(s) under supervisor {t.pid}")
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    T.wait_until(lambda: all(T.proc_stat(p)[0] == "T" for p in pids), 5,
                 what="workers stopped")
    return pids


@test
def stalled_ps_titles_one_worker():
    check_titles(stalled(), 1)


@test
def stalled_worker_504_after_request_timeout():
    t = stalled()
    stop_workers(t, 1)
    t0 = time.monotonic()
    resp = t.token(jwt(), timeout=10)
    dt = time.monotonic() - t0
    check_error(resp, 504, "timeout")
    assert 0.8 <= dt <= 3.5, f"504 after {dt:.2f}s, request_timeout is 1s"


@test
def stalled_worker_queue_full_503_retry_after():
    t = stalled()
    stop_workers(t, 1)
    n = 8
    results = [None] * n
    a = jwt()

    def one(i):
        try:
            results[i] = t.token(a, timeout=10)
        except Exception as e:
            results[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(n)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.1, 12 - (time.monotonic() - t0)))
    dt = time.monotonic() - t0
    assert not any(th.is_alive() for th in threads), \
        f"requests still open after {dt:.1f}s"
    codes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
    assert all(c in (503, 504) for c in codes), f"statuses {codes}"
    busy = [r for r in results if r[0] == 503]
    assert busy, f"no 503 among {n} concurrent requests with queue_limit " \
        f"2: statuses {codes}"
    for r in busy:
        check_error(r, 503, "unavailable")
        ra = r[1].get("retry-after")
        assert ra is not None and ra.strip().isdigit() and int(ra) > 0, \
            f"Retry-After {ra!r}"
    assert dt <= 5, f"answers took {dt:.1f}s"


@test
def stalled_worker_resumed_serves_200():
    t = stalled()
    pids = t.signal_workers(signal.SIGCONT)
    assert pids, "no worker found"
    deadline = time.monotonic() + 10
    last = None
    while time.monotonic() < deadline:
        t0 = time.time()
        last = t.token(jwt(), timeout=5)
        if last[0] == 200:
            check_token(last, S.sync_secret, SYNC_NODE, 1800, t0,
                        time.time())
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"no 200 within 10s of SIGCONT; last "
                             f"{last[0]} {last[2]!r}")
    # Still one worker (the same or a respawned one), titled as before.
    check_titles(t, 1)
    t.stop()


# ---------------------------------------------------------------- tokend -t

def config_case(name, mutate=None, secrets=None):
    """A fresh dir (under one temp dir for all cases) with a good config;
    mutate(sections) may change it.  Returns (conf path, line map)."""
    t = T.case_instance("tkd-conf-", name)
    for f, (text, mode) in {"uid.secret": (new_secret() + "\n", 0o600),
                            "sync.secret": (new_secret() + "\n", 0o600),
                            **(secrets or {})}.items():
        t.write_secret(f, text, mode)
    t.write_jwks("example.jwks", [S.keys[a] for a in T.ALGS])
    sections = [
        t.server_section(),
        T.issuer_section(algorithms="RS256 ES256 EdDSA", leeway=LEEWAY),
        T.service_section(duration=1800)]
    if mutate:
        mutate(sections)
    conf = t.write_config(*sections, name=f"{name}.conf")
    return conf, t.lines


def expect_good(conf):
    rc, out, err = T.check_config(conf)
    assert rc == 0, f"tokend -t: exit {rc}, stderr {err.strip()!r}"


def expect_bad(conf, line=None, words=()):
    """tokend -t must exit 1 with CONF:LINE: (LINE given, or any)."""
    rc, out, err = T.check_config(conf)
    assert rc == 1, f"exit {rc} (expected 1), stderr {err.strip()!r}"
    m = re.search(re.escape(conf) + r":(\d+): ", err)
    assert m, f"no '{conf}:LINE: ' in stderr {err.strip()!r}"
    if line is not None:
        assert int(m.group(1)) == line, \
            f"error at line {m.group(1)}, expected {line}: {err.strip()!r}"
    if words:
        assert any(w in err.lower() for w in words), \
            f"stderr {err.strip()!r} mentions none of {words}"
    return err


def add(sections, header, key, value):
    for h, items in sections:
        if h == header:
            items.append((key, value))
            return
    raise KeyError(header)


def set_key(sections, header, key, value):
    for h, items in sections:
        if h == header:
            for i, (k, _) in enumerate(items):
                if k == key:
                    items[i] = (k, value)
                    return
    raise KeyError((header, key))


@standalone
def config_check_good_exits_0():
    expect_good(config_case("good")[0])
    if S.main is not None and S.main.conf:
        expect_good(S.main.conf)


@standalone
def config_check_unknown_key_line():
    conf, lines = config_case(
        "unknown-key", lambda s: add(s, "server", "bogus_key", 1))
    expect_bad(conf, lines[("server", "bogus_key")], ("bogus_key",))
    conf, lines = config_case(
        "unknown-key2", lambda s: add(s, "service " + SYNC, "colour", "red"))
    expect_bad(conf, lines[("service " + SYNC, "colour")], ("colour",))


@standalone
def config_check_unknown_section_line():
    conf, lines = config_case(
        "unknown-section", lambda s: s.insert(1, ("bogus", [("a", 1)])))
    expect_bad(conf, lines[("bogus", None)], ("bogus",))


@standalone
def config_check_bad_workers():
    # (0 is not here: the spec does not say what it means.)
    for v in ("two", "-1", "2x", ""):
        conf, lines = config_case(
            "bad-workers", lambda s: set_key(s, "server", "workers", v))
        expect_bad(conf, lines[("server", "workers")], ("workers",))


@standalone
def config_check_missing_secret_file():
    conf, lines = config_case(
        "missing-secret",
        lambda s: set_key(s, "service " + SYNC, "secret_file", "nosuch"))
    expect_bad(conf, words=("nosuch", "no such"))


@standalone
def config_check_secret_mode_0644():
    conf, _ = config_case(
        "secret-0644",
        secrets={"sync.secret": (new_secret() + "\n", 0o644)})
    expect_bad(conf, words=("sync.secret", "mode", "permission",
                            "readable"))


@standalone
def config_check_secret_too_short():
    conf, _ = config_case("secret-short",
                          secrets={"sync.secret": ("x" * 31 + "\n", 0o600)})
    expect_bad(conf, words=("sync.secret", "short", "32"))
    # 32 bytes and the trailing newline that is not part of the secret.
    expect_good(config_case("secret-32",
                            secrets={"sync.secret": ("x" * 32 + "\n",
                                                     0o600)})[0])


@standalone
def config_check_uid_secret_too_short():
    conf, _ = config_case("uid-short",
                          secrets={"uid.secret": ("u" * 16, 0o600)})
    expect_bad(conf, words=("uid.secret", "short", "32"))


@standalone
def config_check_missing_jwks_file():
    conf, _ = config_case(
        "missing-jwks",
        lambda s: set_key(s, "issuer example", "jwks_file", "nosuch.jwks"))
    expect_bad(conf, words=("nosuch.jwks", "no such"))


@standalone
def start_with_bad_config_exits_nonzero():
    # Not only -t: a daemon start on a config tokend -t refuses must fail.
    conf, _ = config_case(
        "start-0644", secrets={"sync.secret": (new_secret() + "\n", 0o644)})
    rc, out, err = T.run_tokend(["-c", conf], timeout=10)
    assert rc != 0, f"tokend -c with a 0644 secret: exit {rc}"
    assert "sync.secret" in err, f"stderr {err.strip()!r}"


# ---------------------------------------------------------------- load, crash

@test
def concurrent_requests_all_200():
    nthreads, per = 8, 5
    assertions = [jwt("ES256", sub=f"user{i}") for i in range(nthreads)]
    results, lock = [], threading.Lock()

    def one(i):
        for _ in range(per):
            t0 = time.time()
            try:
                r = S.main.token(assertions[i], timeout=10)
            except Exception as e:
                r = e
            with lock:
                results.append((i, t0, time.time(), r))
    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(nthreads)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.1, 20 - (time.monotonic() - start)))
    assert not any(th.is_alive() for th in threads), \
        "requests still open after 20s"
    assert len(results) == nthreads * per, len(results)
    uids, ids = {}, set()
    for i, t0, t1, r in results:
        assert isinstance(r, tuple), f"request failed: {r!r}"
        body = check_token(r, S.sync_secret, SYNC_NODE, 1800, t0, t1)
        assert uids.setdefault(i, body["uid"]) == body["uid"], \
            f"user{i}: uids {uids[i]} and {body['uid']}"
        ids.add(body["id"])
    assert len(set(uids.values())) == nthreads, f"uid collision: {uids}"
    assert len(ids) == nthreads * per, "two requests got the same token"


@test
def worker_killed_is_respawned():
    t = S.main
    before = T.wait_until(lambda: len(t.workers()) == 2 and t.children(), 5,
                          what="two workers")
    victim = t.workers()[0]
    os.kill(victim, signal.SIGKILL)

    def respawned():
        kids = t.children()
        return victim not in kids and \
            sorted(kids.values()) == sorted(before.values())
    try:
        T.wait_until(respawned, 10, what="respawn")
    except TimeoutError:
        raise AssertionError(f"worker {victim} ({before[victim]!r}) killed; "
                             f"10s later children are "
                             f"{sorted(t.children().values())}") from None
    deadline = time.monotonic() + 5
    while True:
        t0 = time.time()
        resp = t.token(jwt(), timeout=5)
        if resp[0] == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check_token(resp, S.sync_secret, SYNC_NODE, 1800, t0, time.time())


# ---------------------------------------------------------------- shutdown

@test
def sigterm_stops_supervisor_and_children():
    t = S.main
    kids = list(t.children())
    assert kids, "no children before SIGTERM"
    t0 = time.monotonic()
    os.kill(t.pid, signal.SIGTERM)
    # Not reaped yet, so that t.stop() can still kill any straggler.
    try:
        assert T.exited_noreap(t.pid, 10), \
            "supervisor still running 10s after SIGTERM"
        T.wait_until(lambda: not any(T.proc_alive(p) for p in kids), 5,
                     what="children gone after SIGTERM")
        dt = time.monotonic() - t0
        assert dt < 10, dt
    finally:
        t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
