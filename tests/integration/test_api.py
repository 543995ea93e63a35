"""End-to-end tests of tokend's HTTP surface (docs/api.md) beyond /v1/token's
basics: the tokenserver-compatible GET /1.0/APP/VERSION, Authorization on
POST /v1/token, the RFC 8693 token exchange POST /oauth/token, and the
headers every answer must carry.

One tokend (the "main" instance: two workers, one JWT issuer with an RS256,
an ES256 and an EdDSA key, services sync-1.5 and other-1.0) serves most
tests.  A second one (the "stalled" instance: one worker, queue_limit = 2,
request_timeout = 1) is started for the 503 / 504 tests; its worker, found
as a child of that instance's supervisor, is SIGSTOPped and SIGCONTed.
In order:

  tokenserver  200 (exactly id key uid api_endpoint duration hashalg),
               tokens checked with tokendtest's own tokenlib; uid the same
               as /v1/token's and /oauth/token's; every 401 / 400 / 404 /
               405 the spec lists for it
  v1           Authorization: Bearer with a body holding only the service;
               header and body both (400); Authorization: BrowserID <JWT>
  oauth        200 for every accepted spelling; each RFC 6749 5.2 error
               with its HTTP status and "error" code; 405, 413 (also from
               Content-Length alone, no body sent), 415
  headers      Cache-Control: no-store and Content-Type: application/json
               on every answer (every helper checks them; one test sweeps
               every endpoint and status once more)
  stalled      504 and 503 (Retry-After) in tokenserver and OAuth style;
               SIGCONT, then 200 again

Every expectation comes from docs/api.md, docs/tokens.md and the RFCs, not
from src/http/api.c.  Everything is on 127.0.0.1; every wait polls with a
deadline.

Run from the repository root:  /usr/bin/python3 tests/integration/test_api.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import hashlib
import hmac
import json
import os
import re
import socket
import sys
import threading
import time
import types
from urllib.parse import quote, quote_plus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, ISS, OTHER, OTHER_NODE, SYNC,  # noqa: E402
                        SYNC_NODE, new_secret, test)

LEEWAY = 60
MAX_BODY = 16384

TS_PATH = "/1.0/sync/1.5"
TS_FIELDS = {"id", "key", "uid", "api_endpoint", "duration", "hashalg"}
V1_FIELDS = TS_FIELDS | {"expires"}
OAUTH_FIELDS = {"access_token", "issued_token_type", "token_type",
                "expires_in", "key", "hashalg", "api_endpoint", "uid"}

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt"
TYPE_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
FORM = "application/x-www-form-urlencoded"

S = types.SimpleNamespace(main=None, stalled=None)


def setup_instance(t, **server):
    t.write_secrets(uid=S.uid_secret, sync=S.sync_secret,
                    other=S.other_secret)
    t.write_jwks("example.jwks", [S.keys[a] for a in T.ALGS])
    return t.write_config(
        t.server_section(max_body=MAX_BODY, **server),
        T.issuer_section(algorithms="RS256 ES256 EdDSA", leeway=LEEWAY),
        T.service_section(duration=1800),
        T.service_section(OTHER, OTHER_NODE, duration=600))


def setup():
    S.keys = {a: T.Key(a) for a in T.ALGS}
    S.uid_secret = new_secret()
    S.sync_secret = new_secret()
    S.other_secret = new_secret()
    S.main = T.instance("tkd-api-")
    setup_instance(S.main, workers=2)
    S.main.start()


def jwt(alg="RS256", sub="alice", **kw):
    """A valid assertion of issuer example, claims overridable."""
    return T.sign_jwt(S.keys[alg], T.claims(sub, iss=kw.pop("iss", ISS),
                                            aud=kw.pop("aud", AUD), **kw))


def expired_jwt(sub="alice"):
    now = int(time.time())
    return jwt(sub=sub, now=now - 3600, lifetime=600)    # 50 min > leeway


def forged_jwt(sub="alice"):
    return T.tamper_signature(jwt(sub=sub))


def expected_uid(sub, iss=ISS):
    """docs/tokens.md: HMAC-SHA256(uid_secret, iss || 0x00 || sub), first 8
    bytes big-endian, >> 11."""
    mac = hmac.new(S.uid_secret.encode(), iss.encode() + b"\x00" +
                   sub.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 11


# ---------------------------------------------------------------- requests

def ts_get(auth="__jwt__", path=TS_PATH, client_state=None, t=None,
           headers=None, **kw):
    """GET /1.0/APP/VERSION; auth is the whole Authorization value (None:
    no header; default: Bearer with a fresh valid JWT)."""
    h = dict(headers or {})
    if auth == "__jwt__":
        auth = "Bearer " + jwt()
    if auth is not None:
        h["Authorization"] = auth
    if client_state is not None:
        h["X-Client-State"] = client_state
    return (t or S.main).request("GET", path, headers=h, **kw)


def form(pairs, plus=True):
    """An application/x-www-form-urlencoded body of (name, value) pairs
    (repeats kept, order kept); plus=False encodes ' ' as %20."""
    q = quote_plus if plus else (lambda s: quote(s, safe=""))
    return "&".join(f"{q(k)}={q(v)}" for k, v in pairs)


def good_pairs(assertion=None, **over):
    """The parameters of a good exchange; over replaces (None removes)."""
    p = {"grant_type": GRANT, "subject_token": assertion or jwt(),
         "subject_token_type": TYPE_JWT, "audience": SYNC}
    for k, v in over.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return list(p.items())


def exchange(body, content_type=FORM, t=None, **kw):
    """POST /oauth/token; body is a list of pairs or the raw text."""
    if not isinstance(body, (str, bytes)):
        body = form(body)
    return (t or S.main).request("POST", "/oauth/token", body,
                                 {"Content-Type": content_type}, **kw)


def raw_request(port, head, timeout=5):
    """Sends head (request line and headers, no body) on a fresh loopback
    connection and reads the answer until the server closes or the answer
    is complete.  Returns (status, {lower-case header: value}, parsed
    body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode("ascii"))
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            if b"\r\n\r\n" in data:
                top, rest = data.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", top)
                if m and len(rest) >= int(m.group(1)):
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete answer within {timeout}s:"
                                   f" {data[:200]!r}")
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    if b"\r\n\r\n" not in data:
        raise AssertionError(f"no HTTP answer: {data[:200]!r}")
    top, rest = data.split(b"\r\n\r\n", 1)
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    try:
        body = json.loads(rest.decode("utf-8")) if rest else None
    except ValueError:
        body = T.NotJSON(rest.decode("utf-8", "replace"))
    return status, hdrs, body


# ---------------------------------------------------------------- checks

def check_headers(resp, what=""):
    """docs/api.md: every response is application/json with
    Cache-Control: no-store."""
    st, h, body = resp
    pre = f"{what}: " if what else ""
    ct = h.get("content-type")
    assert ct is not None and \
        ct.split(";")[0].strip().lower() == "application/json", \
        f"{pre}{st}: Content-Type {ct!r}, expected application/json"
    cc = h.get("cache-control")
    assert cc is not None and "no-store" in \
        [d.strip().lower() for d in cc.split(",")], \
        f"{pre}{st}: Cache-Control {cc!r}, expected no-store"


def check_tokenlib(token, key, uid, node, duration, t0, t1, secret,
                   client_state=None):
    """The token parses under the service secret (tokendtest's tokenlib),
    its payload is docs/tokens.md's, key is tokenlib's derived secret;
    returns the payload."""
    assert isinstance(token, str) and \
        re.fullmatch(r"[A-Za-z0-9_-]+=*", token) and len(token) % 4 == 0, \
        f"token is not padded urlsafe base64: {token!r}"
    try:
        payload = T.parse_token(token, secret)
    except T.TokenError as e:
        raise AssertionError(f"token does not parse under the service "
                             f"secret: {e}") from None
    fields = {"uid", "node", "expires", "salt"}
    if client_state is not None:
        fields.add("client_state")
    assert set(payload) == fields, f"payload fields {sorted(payload)}"
    if client_state is not None:
        assert payload["client_state"] == client_state, \
            f"payload client_state {payload['client_state']!r}, " \
            f"expected {client_state!r}"
    assert payload["uid"] == uid, (payload["uid"], uid)
    assert payload["node"] == node, payload["node"]
    lo, hi = int(t0) + duration - 2, int(t1) + duration + 2
    assert lo <= payload["expires"] <= hi, \
        f"payload expires {payload['expires']} not in [{lo}, {hi}]"
    want = T.get_derived_secret(token, secret)
    assert key == want, f"key {key!r} != derived secret {want!r}"
    try:
        T.parse_token(token, new_secret())
    except T.InvalidSignatureError:
        pass
    else:
        raise AssertionError("token also parses under another secret")
    return payload


def check_body_200(resp, fields, what=""):
    st, h, body = resp
    pre = f"{what}: " if what else ""
    assert st == 200, f"{pre}expected 200, got {st} {body!r}"
    check_headers(resp, what)
    assert isinstance(body, dict), f"{pre}body not a JSON object: {body!r}"
    assert set(body) == fields, \
        f"{pre}fields {sorted(body)} != {sorted(fields)}"
    return body


def check_ts_token(resp, t0, t1, secret=None, node=SYNC_NODE, duration=1800,
                   sub="alice", what="", client_state=None):
    """A tokenserver 200: exactly TS_FIELDS (no expires), a good token."""
    body = check_body_200(resp, TS_FIELDS, what)
    for f in ("id", "key", "api_endpoint", "hashalg"):
        assert isinstance(body[f], str), f"{f} not a string: {body[f]!r}"
    for f in ("uid", "duration"):
        assert type(body[f]) is int, f"{f} not an integer: {body[f]!r}"
    assert 0 <= body["uid"] < 2 ** 53, body["uid"]
    if sub is not None:
        assert body["uid"] == expected_uid(sub), \
            f"uid {body['uid']} != keyed hash of ({ISS}, {sub}) " \
            f"{expected_uid(sub)}"
    assert body["api_endpoint"] == node, body["api_endpoint"]
    assert body["duration"] == duration, body["duration"]
    assert body["hashalg"] == "sha256", body["hashalg"]
    check_tokenlib(body["id"], body["key"], body["uid"], node, duration,
                   t0, t1, secret or S.sync_secret, client_state)
    return body


def check_v1_token(resp, t0, t1, sub="alice", what=""):
    body = check_body_200(resp, V1_FIELDS, what)
    assert body["uid"] == expected_uid(sub), (body["uid"], sub)
    assert body["api_endpoint"] == SYNC_NODE and body["duration"] == 1800 \
        and body["hashalg"] == "sha256", body
    p = check_tokenlib(body["id"], body["key"], body["uid"], SYNC_NODE,
                       1800, t0, t1, S.sync_secret)
    assert body["expires"] == p["expires"], (body["expires"], p["expires"])
    return body


def check_oauth_token(resp, t0, t1, sub="alice", secret=None, node=SYNC_NODE,
                      duration=1800, what=""):
    """docs/api.md's 200 of /oauth/token, the access token checked as a
    tokenlib token."""
    body = check_body_200(resp, OAUTH_FIELDS, what)
    pre = f"{what}: " if what else ""
    assert body["issued_token_type"] == TYPE_ACCESS, \
        f"{pre}issued_token_type {body['issued_token_type']!r}"
    assert body["token_type"] == "Hawk", \
        f"{pre}token_type {body['token_type']!r}"
    assert type(body["expires_in"]) is int and \
        body["expires_in"] == duration, f"{pre}expires_in " \
        f"{body['expires_in']!r}"
    assert body["hashalg"] == "sha256", body["hashalg"]
    assert body["api_endpoint"] == node, body["api_endpoint"]
    assert type(body["uid"]) is int and body["uid"] == expected_uid(sub), \
        f"{pre}uid {body['uid']!r} != {expected_uid(sub)}"
    check_tokenlib(body["access_token"], body["key"], body["uid"], node,
                   duration, t0, t1, secret or S.sync_secret)
    return body


def check_error(resp, code, status, location=None, name=None, words=(),
                what=""):
    """tokendtest's check_error(), and the headers every answer carries."""
    body = T.check_error(resp, code, status, location, name, words, what)
    check_headers(resp, what)
    return body


# RFC 6749 5.2: error is %x20-21 / %x23-5B / %x5D-7E, so is the description.
RFC6749_CHARS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def check_oauth_error(resp, code, error, words=(), what=""):
    """RFC 6749 5.2: {"error": code, "error_description": text}."""
    st, h, body = resp
    pre = f"{what}: " if what else ""
    assert st == code, f"{pre}expected {code}, got {st} {body!r}"
    check_headers(resp, what)
    assert isinstance(body, dict), f"{pre}body not a JSON object: {body!r}"
    assert body.get("error") == error, \
        f"{pre}error {body.get('error')!r} != {error!r} in {body!r}"
    extra = set(body) - {"error", "error_description", "error_uri"}
    assert not extra, f"{pre}fields beyond RFC 6749 5.2: {sorted(extra)}"
    d = body.get("error_description")
    if d is not None:
        assert isinstance(d, str) and RFC6749_CHARS.fullmatch(d), \
            f"{pre}error_description not RFC 6749 text: {d!r}"
    if words:
        assert d and any(w in d.lower() for w in words), \
            f"{pre}error_description {d!r} mentions none of {words}"
    return body


def allow_methods(h):
    return [m.strip().upper() for m in h.get("allow", "").split(",")
            if m.strip()]


# ---------------------------------------------------------------- tokenserver

@test
def ts_bearer_200_exact_fields_tokenlib_each_alg():
    for alg in T.ALGS:
        t0 = time.time()
        resp = ts_get("Bearer " + jwt(alg))
        check_ts_token(resp, t0, time.time(), what=alg)


@test
def ts_other_app_version_maps_to_service():
    # /1.0/other/1.0 is [service other-1.0]: its secret, node, duration.
    t0 = time.time()
    resp = ts_get(path="/1.0/other/1.0")
    check_ts_token(resp, t0, time.time(), secret=S.other_secret,
                   node=OTHER_NODE, duration=600)


@test
def ts_uid_equals_v1_and_oauth_uid_same_sub():
    for sub in ("alice", "bob@example.com"):
        a = jwt("ES256", sub=sub)
        t0 = time.time()
        ts = check_ts_token(ts_get("Bearer " + a), t0, time.time(), sub=sub)
        t0 = time.time()
        v1 = check_v1_token(S.main.token(a), t0, time.time(), sub=sub)
        t0 = time.time()
        oa = check_oauth_token(exchange(good_pairs(a)), t0, time.time(),
                               sub=sub)
        assert ts["uid"] == v1["uid"] == oa["uid"], \
            f"sub {sub}: /1.0 uid {ts['uid']}, /v1/token uid {v1['uid']}, " \
            f"/oauth/token uid {oa['uid']}"


@test
def ts_scheme_case_insensitive():
    # RFC 7235 2.1: the auth-scheme is case-insensitive.
    for scheme in ("bearer", "BEARER"):
        t0 = time.time()
        check_ts_token(ts_get(f"{scheme} {jwt()}"), t0, time.time(),
                       what=scheme)


@test
def ts_no_authorization_401():
    # Mozilla's test_no_auth: its body, exactly.
    resp = ts_get(None)
    check_error(resp, 401, "error", "body", "")
    assert resp[2] == {"status": "error", "errors": [{
        "location": "body", "name": "", "description": "Unauthorized"}]}, \
        resp[2]


@test
def ts_malformed_authorization_401():
    # Mozilla's bodies: another scheme is "Unsupported", no scheme
    # "Unauthorized", a credential that cannot verify invalid-credentials.
    a = jwt()
    for value, status, desc in (
            ("Basic x", "error", "Unsupported"),
            ("Basic " + a, "error", "Unsupported"),
            ("Token " + a, "error", "Unsupported"),
            ("Bearer", "error", "Unauthorized"),
            (a, "error", "Unauthorized"),
            ("Bearer ", "invalid-credentials", "Unauthorized")):
        resp = ts_get(value)
        check_error(resp, 401, status, "body", "",
                    what=f"Authorization: {value[:20]!r}")
        assert resp[2]["errors"][0]["description"] == desc, resp[2]
    # All that follows "Bearer " is the credential, spaces included (as
    # Mozilla reads it): the verifier refuses these.
    for value in ("Bearer a b", f"Bearer {a} {a}"):
        check_error(ts_get(value), 401, "invalid-credentials",
                    what=f"Authorization: {value[:20]!r}")


def check_x_timestamp(resp, what):
    ts = resp[1].get("x-timestamp")
    assert ts is not None and re.fullmatch(r"[0-9]+", ts.strip()), \
        f"{what}: X-Timestamp {ts!r}"
    skew = int(ts) - time.time()
    assert abs(skew) <= 5, f"{what}: X-Timestamp {ts} is {skew:+.1f}s " \
        f"from local time"


@test
def ts_expired_401_invalid_timestamp_x_timestamp():
    resp = ts_get("Bearer " + expired_jwt())
    check_error(resp, 401, "invalid-timestamp", "header", "Authorization",
                ("expired",))
    check_x_timestamp(resp, "expired")


@test
def ts_nbf_future_401_invalid_timestamp():
    now = int(time.time())
    resp = ts_get("Bearer " + jwt(nbf=now + 600))
    check_error(resp, 401, "invalid-timestamp", "header", "Authorization",
                ("nbf", "not yet"))
    check_x_timestamp(resp, "nbf in the future")


@test
def ts_iat_future_401_invalid_timestamp():
    now = int(time.time())
    resp = ts_get("Bearer " + jwt(iat=now + 600, nbf=None))
    check_error(resp, 401, "invalid-timestamp", "header", "Authorization",
                ("iat", "future"))
    check_x_timestamp(resp, "iat in the future")


@test
def ts_bad_signature_401_invalid_credentials():
    for alg in T.ALGS:
        resp = ts_get("Bearer " + T.tamper_signature(jwt(alg)))
        check_error(resp, 401, "invalid-credentials", "header",
                    "Authorization", ("signature",), what=alg)
    # Signed by a stranger's key that claims a trusted kid.
    k = T.Key("RS256", kid=S.keys["RS256"].kid)
    check_error(ts_get("Bearer " + T.sign_jwt(k, T.claims("alice"))), 401,
                "invalid-credentials", "header", "Authorization",
                ("signature",), what="other key, same kid")


@test
def ts_unknown_app_404_url_application():
    # Mozilla's test_unknown_app / test_unknown_version: an application
    # that exists in another version names the version asked for.
    for path in ("/1.0/nope/1.0", "/1.0/" + "a" * 64 + "/1.0"):
        resp = ts_get(path=path)
        check_error(resp, 404, "error", "url", "application", what=path)
        assert resp[2]["errors"][0]["description"] == \
            "Unsupported application", resp[2]
    resp = ts_get(path="/1.0/sync/9.9")
    check_error(resp, 404, "error", "url", "9.9", what="/1.0/sync/9.9")
    assert resp[2]["errors"][0]["description"] == \
        "Unsupported application version", resp[2]


BAD_TS_PATHS = ("/1.0/sync", "/1.0/sync/", "/1.0/sync/1.5/x",
                "/1.0/sync/1.5/", "/1.0/sy%20nc/1.5", "/1.0//1.5",
                "/1.0/sync/1%2E5", "/1.0/" + "a" * 65 + "/1.0",
                "/1.0/sync/" + "1" * 65)


@test
def ts_bad_path_segments_404():
    for path in BAD_TS_PATHS:
        check_error(ts_get(path=path), 404, None, "url", what=path)


@test
def ts_bad_path_segments_404_status_error():
    # docs/api.md, tokenserver table: 404 `error` for an unknown
    # application "or path".  Every path is tried; all wrong ones are named.
    wrong, example = [], None
    for path in BAD_TS_PATHS:
        resp = ts_get(path=path)
        try:
            check_error(resp, 404, "error", "url", what=path)
        except AssertionError:
            wrong.append(path if len(path) < 30 else path[:27] + "...")
            example = example or f"GET {path} -> {resp[0]} {resp[2]!r}"
    assert not wrong, f"{len(wrong)} of {len(BAD_TS_PATHS)} paths are " \
        f"not 404 status 'error' ({', '.join(wrong)}); e.g. {example}"


@test
def ts_post_405_allow_get():
    for hdrs in ({}, {"Authorization": "Bearer " + jwt()}):
        resp = S.main.request("POST", TS_PATH, headers=hdrs)
        check_error(resp, 405, "error", what="POST")
        assert allow_methods(resp[1]) == ["GET"], \
            f"Allow {resp[1].get('allow')!r}"


@test
def ts_get_with_body_400():
    # docs/api.md: "No body"; a 400 is `error` "as for /v1/token".
    resp = S.main.request("GET", TS_PATH, body=b"x=1",
                          headers={"Authorization": "Bearer " + jwt(),
                                   "Content-Type": FORM})
    check_error(resp, 400, "error", "body")


@test
def ts_authorization_header_size_limit():
    # conf/tokend.conf: headers up to about connection_memory - 500 bytes
    # (default 4608) are read; larger ones are refused with 431, and the
    # connection's buffer never grows past connection_memory.
    near = "BrowserID " + "a" * 3500
    st, _, body = ts_get(auth=near)
    assert st == 401 and isinstance(body, dict), (st, body)
    st, _, _ = ts_get(auth="BrowserID " + "a" * 6000)
    assert st == 431, f"6 KB Authorization header: {st}, expected 431"
    # The instance still serves.
    st, _, body = ts_get()
    assert st == 200, (st, body)


@test
def ts_client_state_valid_200():
    for cs in ("616263", "a", "ABCDEF0123", "0" * 32):
        t0 = time.time()
        # docs/api.md: the value travels, lowercased, in the payload.
        check_ts_token(ts_get(client_state=cs), t0, time.time(),
                       what=f"X-Client-State {cs!r}",
                       client_state=cs.lower())


@test
def ts_client_state_invalid_400():
    # Mozilla's 400 "error" (test_invalid_client_state_in_x_client_state);
    # without X-KeyID to compare with, a value that is not hex is refused
    # too.
    for cs in ("xyz", "1" * 33, "", "61 62", "0x61", "abcg", "state!"):
        resp = ts_get(client_state=cs)
        check_error(resp, 400, "error", "header", "X-Client-State",
                    what=f"X-Client-State {cs!r}")
        assert resp[2]["errors"][0]["description"] == \
            "Invalid client state value", resp[2]


@test
def ts_headers_on_every_answer():
    # X-Timestamp and nosniff on every answer of GET /1.0, as Mozilla's.
    for resp in (ts_get(), ts_get(None), ts_get(client_state="!"),
                 ts_get(path="/1.0/nope/1.0"), ts_get(path="/1.0/sync")):
        h = resp[1]
        assert h.get("x-content-type-options") == "nosniff", (resp[0], h)
        check_x_timestamp(resp, f"answer {resp[0]}")


# ---------------------------------------------------------------- /v1/token

def v1_post(body, auth=None, **kw):
    h = {"Content-Type": "application/json"}
    if auth is not None:
        h["Authorization"] = auth
    return S.main.request("POST", "/v1/token", json.dumps(body), h, **kw)


@test
def v1_bearer_header_body_service_200():
    for alg in T.ALGS:
        t0 = time.time()
        check_v1_token(v1_post({"service": SYNC}, "Bearer " + jwt(alg)), t0,
                       time.time(), what=alg)


@test
def v1_bearer_header_and_body_assertion_400():
    a = jwt()
    check_error(v1_post({"assertion": a, "service": SYNC}, "Bearer " + a),
                400, "invalid-request", "body", "assertion")


@test
def v1_bearer_header_bad_signature_401_names_header():
    check_error(v1_post({"service": SYNC}, "Bearer " + forged_jwt()), 401,
                "invalid-credentials", "header", "Authorization",
                ("signature",))


@test
def v1_browserid_scheme_with_jwt_reaches_worker():
    # docs/api.md: Authorization: BrowserID <assertion>; the worker tells a
    # JWT from a backed assertion by the '~', not by the scheme.  Any
    # answer from the worker will do; a 400 or a malformed-Authorization
    # 401 from the front will not.
    t0 = time.time()
    resp = v1_post({"service": SYNC}, "BrowserID " + jwt())
    st, h, body = resp
    print(f"# observed: /v1/token with Authorization: BrowserID <JWT> -> "
          f"{st} {json.dumps(body)[:160]}", flush=True)
    assert st != 400, f"400 from the front: {body!r}"
    if st == 200:
        check_v1_token(resp, t0, time.time())
    else:
        check_error(resp, 401, None, "header", "Authorization")
        d = body["errors"][0]["description"].lower()
        assert "must be" not in d and "no credential" not in d, \
            f"the front refused the header: {body!r}"


# ---------------------------------------------------------------- oauth 200

@test
def oauth_jwt_200_fields_tokenlib():
    for alg in T.ALGS:
        t0 = time.time()
        check_oauth_token(exchange(good_pairs(jwt(alg))), t0, time.time(),
                          what=alg)


@test
def oauth_id_token_type_200():
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(subject_token_type=TYPE_ID_TOKEN)),
                      t0, time.time())


@test
def oauth_resource_instead_of_audience_200():
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(audience=None, resource=SYNC)), t0,
                      time.time())


@test
def oauth_audience_and_resource_equal_200():
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(resource=SYNC)), t0, time.time())


@test
def oauth_other_service_200():
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(audience=OTHER)), t0, time.time(),
                      secret=S.other_secret, node=OTHER_NODE, duration=600)


@test
def oauth_requested_token_type_access_token_200():
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(requested_token_type=TYPE_ACCESS)),
                      t0, time.time())


@test
def oauth_every_byte_percent_encoded_200():
    # Names and values, every byte as %XX (upper and lower case hex).
    def enc(s, lower):
        e = "".join(f"%{b:02X}" for b in s.encode())
        return e.lower() if lower else e
    for lower in (False, True):
        body = "&".join(f"{enc(k, lower)}={enc(v, not lower)}"
                        for k, v in good_pairs())
        t0 = time.time()
        check_oauth_token(exchange(body), t0, time.time(),
                          what=f"lower={lower}")


@test
def oauth_plus_encoded_values_200():
    # '+' is a space in application/x-www-form-urlencoded: an ignored
    # parameter carrying spaces as '+' (RFC 8693 scope) and the urn's ':'
    # left raw.
    body = form(good_pairs()) + "&scope=" + quote_plus("openid profile sync")
    assert "+" in body
    t0 = time.time()
    check_oauth_token(exchange(body), t0, time.time())
    # A '+' in a known value is a space, not a plus sign: no such service.
    check_oauth_error(exchange(form(good_pairs()).replace(
        "audience=sync-1.5", "audience=sync-1.5+")), 400, "invalid_target",
        what="audience 'sync-1.5 '")
    # ... and %2B is a plus sign.
    check_oauth_error(exchange(form(good_pairs()).replace(
        "audience=sync-1.5", "audience=sync%2B1.5")), 400, "invalid_target",
        what="audience 'sync+1.5'")


@test
def oauth_unknown_parameters_ignored_200():
    t0 = time.time()
    body = "client_id=x&" + form(good_pairs()) + "&scope=a&scope=b&x&&"
    check_oauth_token(exchange(body), t0, time.time())


@test
def oauth_content_type_with_charset_200():
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(),
                               content_type=FORM + "; charset=UTF-8"),
                      t0, time.time())


# ---------------------------------------------------------------- oauth errors

@test
def oauth_missing_grant_type_invalid_request():
    check_oauth_error(exchange(good_pairs(grant_type=None)), 400,
                      "invalid_request", ("grant_type",))
    check_oauth_error(exchange(""), 400, "invalid_request",
                      what="empty body")


@test
def oauth_wrong_grant_type_unsupported_grant_type():
    for g in ("client_credentials", "authorization_code",
              "urn:ietf:params:oauth:grant-type:jwt-bearer", GRANT + "x"):
        check_oauth_error(exchange(good_pairs(grant_type=g)), 400,
                          "unsupported_grant_type", what=g)


@test
def oauth_missing_subject_token_invalid_request():
    check_oauth_error(exchange(good_pairs(subject_token=None)), 400,
                      "invalid_request", ("subject_token",))


@test
def oauth_empty_subject_token_invalid_request():
    check_oauth_error(exchange(form(good_pairs(subject_token=None)) +
                               "&subject_token="), 400, "invalid_request",
                      ("subject_token",))


@test
def oauth_wrong_subject_token_type_invalid_request():
    for tt in (TYPE_ACCESS, "urn:ietf:params:oauth:token-type:saml2",
               "jwt", TYPE_JWT + "x"):
        check_oauth_error(exchange(good_pairs(subject_token_type=tt)), 400,
                          "invalid_request", ("subject_token_type",),
                          what=tt)
    # RFC 8693 2.1: subject_token_type is REQUIRED.
    check_oauth_error(exchange(good_pairs(subject_token_type=None)), 400,
                      "invalid_request", ("subject_token_type",),
                      what="missing")


@test
def oauth_wrong_requested_token_type_invalid_request():
    check_oauth_error(exchange(good_pairs(requested_token_type=TYPE_JWT)),
                      400, "invalid_request",
                      ("requested_token_type", "access_token"))


@test
def oauth_missing_audience_and_resource_invalid_request():
    check_oauth_error(exchange(good_pairs(audience=None)), 400,
                      "invalid_request", ("audience", "resource"))


@test
def oauth_audience_differs_from_resource_invalid_request():
    check_oauth_error(exchange(good_pairs(resource=OTHER)), 400,
                      "invalid_request", ("audience", "resource"))


@test
def oauth_repeated_parameter_invalid_request():
    # RFC 6749 3.2: parameters MUST NOT be included more than once, even
    # with the same value.
    for name, value in (("audience", SYNC), ("grant_type", GRANT),
                        ("subject_token", None),
                        ("subject_token_type", TYPE_JWT)):
        pairs = good_pairs()
        if value is None:
            value = dict(pairs)[name]
        pairs.append((name, value))
        check_oauth_error(exchange(pairs), 400, "invalid_request", (name,),
                          what=f"{name} twice")


@test
def oauth_bad_percent_encoding_invalid_request():
    good = form(good_pairs())
    for bad in (good.replace("audience=sync-1.5", "audience=sync%zz1.5"),
                good.replace("audience=sync-1.5", "audience=sync-1.5%"),
                good.replace("audience=sync-1.5", "audience=sync-1.5%4"),
                good.replace("audience=sync-1.5", "audience=sync%001.5"),
                good.replace("grant_type=", "grant%zztype=")):
        check_oauth_error(exchange(bad), 400, "invalid_request",
                          what=bad[bad.find("%") - 20:bad.find("%") + 8])


@test
def oauth_unknown_service_invalid_target():
    for target in (("audience", "nosuch-1.0"), ("resource", "nosuch-1.0")):
        pairs = good_pairs(audience=None)
        pairs.append(target)
        check_oauth_error(exchange(pairs), 400, "invalid_target",
                          what=target[0])


@test
def oauth_expired_jwt_invalid_grant():
    check_oauth_error(exchange(good_pairs(expired_jwt())), 400,
                      "invalid_grant", ("expir",))


@test
def oauth_forged_jwt_invalid_grant():
    check_oauth_error(exchange(good_pairs(forged_jwt())), 400,
                      "invalid_grant", ("signature",))
    k = T.Key("ES256", kid=S.keys["ES256"].kid)
    check_oauth_error(exchange(good_pairs(T.sign_jwt(k, T.claims("alice")))),
                      400, "invalid_grant", ("signature",),
                      what="other key, same kid")
    check_oauth_error(exchange(good_pairs("not-a-jwt")), 400,
                      "invalid_grant", what="not a JWT")


@test
def oauth_json_content_type_415():
    resp = S.main.request("POST", "/oauth/token",
                          json.dumps(dict(good_pairs())),
                          {"Content-Type": "application/json"})
    check_oauth_error(resp, 415, "invalid_request")
    resp = S.main.request("POST", "/oauth/token", form(good_pairs()))
    check_oauth_error(resp, 415, "invalid_request", what="no Content-Type")


@test
def oauth_get_405():
    for method in ("GET", "PUT"):
        resp = S.main.request(method, "/oauth/token")
        check_oauth_error(resp, 405, "invalid_request", what=method)
        assert allow_methods(resp[1]) == ["POST"], \
            f"{method}: Allow {resp[1].get('allow')!r}"


@test
def oauth_body_over_max_body_413():
    body = form(good_pairs()) + "&pad=" + "a" * (MAX_BODY + 100)
    check_oauth_error(exchange(body), 413, "invalid_request")


@test
def oauth_413_from_content_length_before_body():
    # Only the headers: Content-Length says 1 MB, not a byte follows.  The
    # answer must come from Content-Length alone, at once.
    head = ("POST /oauth/token HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            f"Content-Type: {FORM}\r\n"
            "Content-Length: 1000000\r\n"
            "\r\n")
    t0 = time.monotonic()
    resp = raw_request(S.main.port, head, timeout=5)
    dt = time.monotonic() - t0
    check_oauth_error(resp, 413, "invalid_request")
    assert dt < 3, f"413 after {dt:.2f}s"


@test
def oauth_body_of_exactly_max_body_not_413():
    body = form(good_pairs()) + "&pad="
    body += "a" * (MAX_BODY - len(body))
    assert len(body) == MAX_BODY
    t0 = time.time()
    check_oauth_token(exchange(body), t0, time.time())


# ---------------------------------------------------------------- headers

@test
def every_answer_json_no_store():
    a = jwt()
    bid = "BrowserID " + a
    cases = [
        ("GET", "/__lbheartbeat__", None, {}, 200),
        ("HEAD", "/__lbheartbeat__", None, {}, 200),
        ("POST", "/__lbheartbeat__", "", {}, 405),
        ("GET", "/nowhere", None, {}, 404),
        ("POST", "/nowhere", "{}", {"Content-Type": "application/json"}, 404),
        ("GET", TS_PATH, None, {"Authorization": "Bearer " + a}, 200),
        ("GET", TS_PATH, None, {}, 401),
        ("GET", TS_PATH, None, {"Authorization": "Bearer " + a,
                                "X-Client-State": "xyz"}, 400),
        ("GET", "/1.0/nope/1.0", None, {"Authorization": "Bearer " + a},
         404),
        ("GET", "/1.0/sync", None, {"Authorization": "Bearer " + a}, 404),
        ("POST", TS_PATH, "", {}, 405),
        ("POST", "/v1/token", json.dumps({"service": SYNC}),
         {"Content-Type": "application/json", "Authorization": bid}, None),
        ("POST", "/v1/token", json.dumps({"assertion": a, "service": SYNC}),
         {"Content-Type": "application/json"}, 200),
        ("POST", "/v1/token", "{", {"Content-Type": "application/json"},
         400),
        ("POST", "/v1/token", "{}", {"Content-Type": "text/plain"}, 415),
        ("POST", "/v1/token", "x" * (MAX_BODY + 1),
         {"Content-Type": "application/json"}, 413),
        ("GET", "/v1/token", None, {}, 405),
        ("POST", "/oauth/token", form(good_pairs(a)), {"Content-Type": FORM},
         200),
        ("POST", "/oauth/token", "grant_type=x", {"Content-Type": FORM},
         400),
        ("POST", "/oauth/token", form(good_pairs(forged_jwt())),
         {"Content-Type": FORM}, 400),
        ("POST", "/oauth/token", "{}", {"Content-Type": "application/json"},
         415),
        ("POST", "/oauth/token", "x" * (MAX_BODY + 1),
         {"Content-Type": FORM}, 413),
        ("GET", "/oauth/token", None, {}, 405),
    ]
    for method, path, body, hdrs, want in cases:
        what = f"{method} {path}"
        resp = S.main.request(method, path, body, hdrs)
        if want is not None:
            assert resp[0] == want, f"{what}: expected {want}, got " \
                f"{resp[0]} {resp[2]!r}"
        check_headers(resp, what)


# ---------------------------------------------------------------- stalled

def stalled():
    if S.stalled is None:
        S.stalled = T.instance("tkd-api-stall-")
        # One stopped worker holds its credit's worth (1), queue_limit
        # wait: of 8 requests, 3 get a 504 and the rest a 503.
        setup_instance(S.stalled, workers=1, queue_limit=2,
                       request_timeout=1, worker_credit=1)
        S.stalled.start()
    return S.stalled


class Stopped:
    """SIGSTOPs the instance's workers (children of its supervisor) for a
    with block; SIGCONTs them after, and waits until the instance mints
    again."""

    def __init__(self, t):
        self.t = t

    def __enter__(self):
        self.pids = T.stop_pids(self.t.wait_workers(1, timeout=10))
        return self

    def __exit__(self, *exc):
        T.cont_pids(self.pids)
        last = [None]

        def serving():
            last[0] = ts_get(t=self.t, timeout=5)
            return last[0][0] == 200
        try:
            T.wait_until(serving, 15, interval=0.1,
                         what="200 again after SIGCONT")
        except TimeoutError as e:
            if exc[0] is None:
                raise AssertionError(f"{e}; last answer {last[0]!r}") \
                    from None
        return False


def concurrently(n, fn, limit=12):
    """n threads each calling fn(); returns the results (or exceptions),
    within limit seconds."""
    results = [None] * n

    def one(i):
        try:
            results[i] = fn()
        except Exception as e:
            results[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(n)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.1, limit - (time.monotonic() - t0)))
    dt = time.monotonic() - t0
    assert not any(th.is_alive() for th in threads), \
        f"requests still open after {dt:.1f}s"
    return results, dt


def check_retry_after(resp, what):
    ra = resp[1].get("retry-after")
    assert ra is not None and ra.strip().isdigit() and int(ra) > 0, \
        f"{what}: Retry-After {ra!r}"


@test
def stalled_oauth_504_temporarily_unavailable():
    t = stalled()
    with Stopped(t):
        t0 = time.monotonic()
        resp = exchange(good_pairs(), t=t, timeout=10)
        dt = time.monotonic() - t0
        check_oauth_error(resp, 504, "temporarily_unavailable")
        assert 0.8 <= dt <= 3.5, f"504 after {dt:.2f}s, request_timeout 1s"


@test
def stalled_tokenserver_504_error():
    t = stalled()
    with Stopped(t):
        t0 = time.monotonic()
        resp = ts_get(t=t, timeout=10)
        dt = time.monotonic() - t0
        check_error(resp, 504, "error")
        assert 0.8 <= dt <= 3.5, f"504 after {dt:.2f}s, request_timeout 1s"


@test
def stalled_oauth_503_temporarily_unavailable_retry_after():
    t = stalled()
    body = form(good_pairs())
    with Stopped(t):
        results, dt = concurrently(
            8, lambda: exchange(body, t=t, timeout=10))
        codes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
        assert all(c in (503, 504) for c in codes), f"statuses {codes}"
        busy = [r for r in results if r[0] == 503]
        assert busy, f"no 503 among 8 requests, queue_limit 2: {codes}"
        for r in results:
            check_oauth_error(r, r[0], "temporarily_unavailable",
                              what=str(r[0]))
        for r in busy:
            check_retry_after(r, "503")
        assert dt <= 5, f"answers took {dt:.1f}s"


@test
def stalled_tokenserver_503_error_retry_after():
    t = stalled()
    a = jwt()
    with Stopped(t):
        results, dt = concurrently(
            8, lambda: ts_get("Bearer " + a, t=t, timeout=10))
        codes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
        assert all(c in (503, 504) for c in codes), f"statuses {codes}"
        busy = [r for r in results if r[0] == 503]
        assert busy, f"no 503 among 8 requests, queue_limit 2: {codes}"
        for r in results:
            check_error(r, r[0], "error", what=str(r[0]))
        for r in busy:
            check_retry_after(r, "503")
        assert dt <= 5, f"answers took {dt:.1f}s"


@test
def stalled_resumed_serves_200_everywhere():
    t = stalled()
    with Stopped(t):
        pass
    t0 = time.time()
    check_ts_token(ts_get(t=t), t0, time.time())
    t0 = time.time()
    check_oauth_token(exchange(good_pairs(), t=t), t0, time.time())
    assert len(t.workers()) == 1, t.children()
    t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=30)
