"""HTTP framing against the real daemon: what a hostile client or a
lenient proxy can send (issue 12, "HTTP framing"), over raw sockets.

Each case was found against tokend with libmicrohttpd 0.9.75 alone:

  smuggling   a body holding a second request was answered as a second
              request on the kept-alive connection (folded Content-Length,
              two Content-Length, Content-Length with chunked): now one
              400, the connection closed, the smuggled request unanswered
  folding     a folded Authorization or X-Client-State was dropped: 400
  coding      Transfer-Encoding other than chunked held the connection
              until idle_timeout: 501 at once; a chunked body over
              max_body was read to its end: 413 before the rest is sent
  closing     connections that send a request and close at once stayed in
              CLOSE_WAIT for idle_timeout (520 of them locked a client out
              with max_connections = 500): closed at once now
  per-ip      the default per_ip_connections is not unlimited
  log         a path with %0a forged a log line: one event, one line
  routing     /v1%2Ftoken, /v1/token%00.css, /1.0/sync%2f1.5 and a raw NUL
              reached endpoints: 400
  headers     NUL in a header value cut it short (X-Client-State, Bearer):
              400; a malformed Content-Length had its status line sent
              twice; no Host, two Host, two Authorization, bare LF: 400;
              HTTP/1.2: 505
  schemes     Authorization: BrowserID <JWT> and Bearer <a~b> each reach
              only their own verifier; /oauth/token refuses actor_token
              and X-Client-State; a repeated body key is refused on the
              jansson path too
  limits      an assertion larger than a worker frame: 413 naming it, and
              the pool keeps serving

Every expectation comes from RFC 9112, docs/api.md and issue 12, not from
src/.  Loopback only; every wait polls with a deadline.

Run from the repository root:  /usr/bin/python3 tests/integration/test_http.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import AUD, ISS, SYNC, test  # noqa: E402

MAX_BODY = 16384

S = types.SimpleNamespace(t=None, key=None)


def setup():
    S.key = T.Key("ES256")
    S.t = T.one_issuer_instance(
        "tkd-http-", S.key, service=T.service_section(duration=1800),
        max_body=MAX_BODY, workers=2, idle_timeout=30)
    S.t.start()


def jwt(sub="alice"):
    return T.sign_jwt(S.key, T.claims(sub, iss=ISS, aud=AUD))


# ---------------------------------------------------------------- raw HTTP

def exchange(data, wait=3.0, port=None):
    """Sends data on a fresh connection and reads until the server closes
    it or `wait` seconds pass.  Returns (raw bytes, closed, seconds)."""
    s = socket.create_connection(("127.0.0.1", port or S.t.port))
    s.settimeout(0.2)
    t0 = time.monotonic()
    out, closed = b"", False
    try:
        s.sendall(data)
        while time.monotonic() - t0 < wait:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                closed = True
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        s.close()
    return out, closed, time.monotonic() - t0


def responses(raw):
    """Splits raw bytes into [(status, headers dict, body bytes)]."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"incomplete response: {raw[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
        assert m, f"not a status line: {lines[0]!r}"
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((int(m.group(1)), hdrs, rest[:n]))
        raw = rest[n:]
    return out


def one_error(data, status, name=None, wait=3.0, words=()):
    """data gets exactly one answer, `status` with a JSON error body
    (naming `name`, saying each of `words`), and the connection closes."""
    raw, closed, _ = exchange(data, wait)
    rs = responses(raw)
    assert len(rs) == 1, f"{len(rs)} responses to {data[:80]!r}: {raw!r}"
    st, hdrs, body = rs[0]
    assert st == status, f"{data[:80]!r}: {st}, expected {status}: {body!r}"
    assert hdrs.get("content-type") == "application/json", hdrs
    err = json.loads(body)["errors"][0]
    if name is not None:
        assert err["name"] == name, (err, name)
    for w in words:
        assert w in err["description"], (err, w)
    assert closed, f"{data[:80]!r}: connection left open"
    return err


POST = (b"POST /v1/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\n")
SECOND = b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n"


def body_of(sub="alice"):
    return json.dumps({"assertion": jwt(sub), "service": SYNC}).encode()


# ---------------------------------------------------------------- smuggling

@test
def smuggling_folded_content_length_400_closed():
    one_error(POST + b"Content-Length:\r\n %d\r\n\r\n" % len(SECOND) +
              SECOND, 400, "Content-Length")


@test
def smuggling_two_content_lengths_400_closed():
    one_error(POST + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n"
              % len(SECOND) + SECOND, 400, "Content-Length", words=("once",))


@test
def smuggling_content_length_with_chunked_400_closed():
    one_error(POST + b"Content-Length: %d\r\nTransfer-Encoding: chunked"
              b"\r\n\r\n0\r\n\r\n" % (len(SECOND) + 5) + SECOND, 400,
              "Transfer-Encoding")


@test
def smuggling_victim_gets_no_foreign_answer():
    # A proxy reusing one backend connection: attacker, then victim.  The
    # attacker's request is refused and the connection closed, so the
    # victim's request (on the same connection) is never answered with the
    # smuggled one's answer.
    attack = (POST + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n"
              % len(SECOND) + SECOND)
    victim = POST + b"Content-Length: %d\r\n\r\n" % len(body_of()) + \
        body_of()
    raw, closed, _ = exchange(attack + victim)
    rs = responses(raw)
    assert [r[0] for r in rs] == [400], [r[0] for r in rs]
    assert closed


@test
def pipelined_good_requests_answered_in_order():
    # libmicrohttpd 0.9.75 answers pipelined requests in order and, once
    # it finds the next request already read, closes after an answer with
    # "Connection: close" (the client resends the rest, RFC 9112 9.3.2).
    # The guard must not change which request gets which answer.
    b = body_of()
    req = POST + b"Content-Length: %d\r\n\r\n" % len(b) + b
    raw, closed, _ = exchange(req + SECOND + req + b"GET /__lbheartbeat__ "
                              b"HTTP/1.1\r\nHost: x\r\nConnection: close"
                              b"\r\n\r\n", wait=5)
    rs = responses(raw)
    want = [(200, "id"), (200, None), (200, "id"), (200, None)]
    assert 1 <= len(rs) <= 4 and closed, (len(rs), closed)
    for (st, hdrs, body), (wst, field) in zip(rs, want):
        got = json.loads(body)
        assert st == wst and (field in got if field else got == {}), got
    assert len(rs) == 4 or rs[-1][1].get("connection") == "close", rs


@test
def folded_authorization_and_client_state_400():
    for hdr in (b"Authorization:\r\n Bearer " + jwt().encode(),
                b"X-Client-State: ab\r\n\tcd",
                b"X-Other: a\r\n b"):
        one_error(b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\n" + hdr +
                  b"\r\n\r\n", 400, words=("folded",))


# ---------------------------------------------------------------- codings

@test
def transfer_codings_other_than_chunked_501_at_once():
    for te in (b"identity", b"gzip, chunked", b"xchunked", b"chunked, gzip"):
        raw, closed, dt = exchange(POST + b"Transfer-Encoding: " + te +
                                   b"\r\n\r\n" + body_of(), wait=5)
        rs = responses(raw)
        assert [r[0] for r in rs] == [501], (te, raw)
        assert closed and dt < 2, (te, closed, dt)


@test
def chunked_body_over_max_body_413_before_the_rest():
    # The first chunk already passes max_body: the answer comes before the
    # client has sent the chunk's data at all.
    s = socket.create_connection(("127.0.0.1", S.t.port))
    s.settimeout(3)
    try:
        s.sendall(POST + b"Transfer-Encoding: chunked\r\n\r\n" +
                  b"%x\r\n" % (MAX_BODY + 1))
        raw = b""
        while b"\r\n\r\n" not in raw or len(responses(raw)) < 1:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    finally:
        s.close()
    rs = responses(raw)
    assert rs[0][0] == 413, raw
    # Chunk by chunk: stops at the limit too, closes.
    chunks = b"".join(b"1000\r\n" + b"a" * 4096 + b"\r\n" for _ in range(8))
    raw, closed, _ = exchange(POST + b"Transfer-Encoding: chunked\r\n\r\n" +
                              chunks + b"0\r\n\r\n")
    assert [r[0] for r in responses(raw)] == [413] and closed, raw[:300]


@test
def chunked_body_within_limit_served():
    b = body_of()
    chunked = b"".join(b"%x\r\n" % len(b[i:i + 100]) + b[i:i + 100] + b"\r\n"
                       for i in range(0, len(b), 100)) + b"0\r\n\r\n"
    raw, _, _ = exchange(POST + b"Transfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n" + chunked)
    assert [r[0] for r in responses(raw)] == [200], raw[:300]


# ---------------------------------------------------------------- closing

def close_wait_count(port):
    out = subprocess.run(["ss", "-Htan", "state", "close-wait", "sport",
                          f"= :{port}"], capture_output=True, text=True)
    return len([l for l in out.stdout.splitlines() if l.strip()])


@test
def send_and_close_frees_the_slot_at_once():
    # A small instance: 50 connection slots, 30 s idle timeout.  80 clients
    # that write a request and close at once must not hold slots: a well-
    # behaved client is served within a second, and no socket is left in
    # CLOSE_WAIT.
    t = T.one_issuer_instance("tkd-http-cw-", S.key, max_body=MAX_BODY,
                              workers=1, idle_timeout=30,
                              max_connections=50, per_ip_connections=0)
    try:
        t.start()
        b = body_of()
        kinds = (POST + b"Content-Length: %d\r\n\r\n" % len(b) + b,
                 POST + b"Content-Length: 100\r\n\r\n{\"a",
                 b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\n",
                 b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer " + jwt().encode() + b"\r\n\r\n")
        for i in range(80):
            s = socket.create_connection(("127.0.0.1", t.port))
            s.sendall(kinds[i % len(kinds)])
            s.close()
        T.wait_until(lambda: close_wait_count(t.port) == 0, 3,
                     what="no CLOSE_WAIT left")
        t0 = time.monotonic()
        st, _, body = t.token(jwt(), timeout=5)
        assert st == 200 and time.monotonic() - t0 < 1.5, (st, body)
    finally:
        t.stop()


@test
def default_per_ip_connections_is_bounded():
    # The main instance sets no per_ip_connections: with the default, one
    # address cannot take every slot (20,000 by default).  Past the
    # limit, the server closes new connections from the address at once;
    # the ones before are still served.
    socks = []
    try:
        for _ in range(300):
            socks.append(socket.create_connection(("127.0.0.1", S.t.port)))
        refused = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                if s.recv(1) == b"":
                    refused += 1
            except socket.timeout:
                pass
            except ConnectionResetError:
                refused += 1
        assert 0 < refused < 300, f"{refused} of 300 connections refused"
    finally:
        for s in socks:
            s.close()
    T.wait_until(lambda: S.t.token(jwt())[0] == 200, 5,
                 what="served again once the connections closed")


# ---------------------------------------------------------------- log

@test
def control_bytes_never_reach_the_log_raw():
    mark = S.t.log_mark()
    forged = "tokend supervisor[1] error: FORGED"
    for path in ("/a%0a" + forged.replace(" ", "%20"),
                 "/a%0d%0a" + forged.replace(" ", "%20")):
        one_error(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                  400, "path")
    one_error(b"GET /a\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n", 400, "path")
    # A well-formed request whose path holds text that looks like a line.
    T.http_request(S.t.port, "GET", "/x%20tokend%20supervisor[1]%20error:")
    time.sleep(0.3)     # the access log is written at the end of a turn
    log = S.t.log_since(mark)
    assert not any(l.startswith("tokend supervisor[1] error: FORGED")
                   for l in log.splitlines()), log
    assert "\x1b" not in log and "\r" not in log, repr(log)


# ---------------------------------------------------------------- routing

@test
def encoded_slashes_nuls_and_controls_in_paths_400():
    for target in (b"/v1%2Ftoken", b"/v1%2ftoken", b"/v1/token%00.css",
                   b"/1.0/sync%2f1.5", b"/1.0/sync/1%2F5", b"/v1\\token",
                   b"/__lbheartbeat__%0a", b"/v1/token%"):
        one_error(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                  "path")
    one_error(b"GET /__lbheartbeat__\x00.css HTTP/1.1\r\nHost: x\r\n\r\n",
              400, "path")


@test
def routes_match_the_raw_path():
    # An escape of an ordinary character is not decoded into a route.
    st, _, _ = T.http_request(S.t.port, "GET", "/__lbheartbea%74__")
    assert st == 404, st
    st, _, _ = T.http_request(S.t.port, "GET", "/__lbheartbeat__")
    assert st == 200, st


# ---------------------------------------------------------------- headers

@test
def nul_in_header_values_400():
    one_error(b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\nAuthorization: "
              b"Bearer " + jwt().encode() + b"\r\nX-Client-State: ab\x00"
              b"not-hex!\r\n\r\n", 400, words=("NUL",))
    one_error(b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\nAuthorization: "
              b"Bearer " + jwt().encode() + b"\x00junk\r\n\r\n", 400,
              words=("NUL",))


@test
def malformed_content_length_one_answer_400():
    for cl in (b"-1", b"0x10", b"+5", b"5, 5", b"99999999999999999999",
               b"", b"1 2"):
        raw, closed, _ = exchange(POST + b"Content-Length: " + cl +
                                  b"\r\n\r\n{}")
        assert raw.count(b"HTTP/1.1 ") == 1, (cl, raw)
        rs = responses(raw)
        assert rs[0][0] == 400 and closed, (cl, raw)
        assert json.loads(rs[0][2])["errors"][0]["name"] == "Content-Length"


@test
def host_and_line_ends_and_version():
    one_error(b"GET /__lbheartbeat__ HTTP/1.1\r\n\r\n", 400, "Host")
    one_error(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
              400, "Host")
    one_error(b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: a\r\nAuthorization: "
              b"Bearer x\r\nAuthorization: Bearer " + jwt().encode() +
              b"\r\n\r\n", 400, "Authorization")
    one_error(b"GET /__lbheartbeat__ HTTP/1.1\nHost: a\n\n", 400,
              words=("CRLF",))
    one_error(b"GET /__lbheartbeat__ HTTP/1.2\r\nHost: a\r\n\r\n", 505)
    # HTTP/1.0 needs no Host.
    raw, _, _ = exchange(b"GET /__lbheartbeat__ HTTP/1.0\r\n\r\n")
    assert responses(raw)[0][0] == 200, raw


@test
def oversized_head_is_a_json_431():
    one_error(b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\nAuthorization: "
              b"Bearer " + b"a" * 100000 + b"\r\n\r\n", 431)


# ---------------------------------------------------------------- schemes

def ts_get(auth, extra=b""):
    raw, _, _ = exchange(b"GET /1.0/sync/1.5 HTTP/1.1\r\nHost: x\r\n"
                         b"Connection: close\r\nAuthorization: " + auth +
                         b"\r\n" + extra + b"\r\n", wait=5)
    st, _, body = responses(raw)[0]
    return st, json.loads(body)


@test
def each_scheme_reaches_only_its_own_verifier():
    st, body = ts_get(b"BrowserID " + jwt().encode())
    assert st == 401, (st, body)
    assert "BrowserID" in body["errors"][0]["description"] or \
        "JWT" in body["errors"][0]["description"], body
    st, body = ts_get(b"Bearer a~b")
    assert st == 401, (st, body)
    assert "JWT" in body["errors"][0]["description"], body
    st, body = ts_get(b"Bearer " + jwt().encode())
    assert st == 200, (st, body)


FORM = "application/x-www-form-urlencoded"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt"


def exchange_post(fields, headers=None):
    from urllib.parse import urlencode
    h = {"Content-Type": FORM}
    h.update(headers or {})
    return T.http_request(S.t.port, "POST", "/oauth/token",
                          body=urlencode(fields), headers=h)


@test
def oauth_jwt_type_never_reaches_browserid():
    st, _, body = exchange_post({
        "grant_type": GRANT, "subject_token": "a.b.c~d.e.f",
        "subject_token_type": TYPE_JWT, "audience": SYNC})
    assert st == 400 and body["error"] == "invalid_grant", (st, body)
    assert "JWT" in body["error_description"], body


@test
def oauth_refuses_actor_token_and_client_state():
    base = {"grant_type": GRANT, "subject_token": jwt(),
            "subject_token_type": TYPE_JWT, "audience": SYNC}
    for extra in ({"actor_token": jwt("bob")},
                  {"actor_token_type": TYPE_JWT}):
        st, _, body = exchange_post(dict(base, **extra))
        assert st == 400 and body["error"] == "invalid_request", (st, body)
        assert "actor_token" in body["error_description"], body
    st, _, body = exchange_post(base, {"X-Client-State": "aa"})
    assert st == 400 and body["error"] == "invalid_request", (st, body)
    assert "X-Client-State" in body["error_description"], body
    st, _, body = exchange_post(base)
    assert st == 200, (st, body)


@test
def repeated_body_keys_refused_on_the_jansson_path():
    # A nested member sends the body past the flat fast path to jansson;
    # the duplicate must be refused there too, naming the body.
    for dup in ('"service": "%s", "service": "other"' % SYNC,
                '"service": "%s", "assertion": "x"' % SYNC):
        body = '{"assertion": "%s", %s, "extra": {"n": [1]}}' % (jwt(), dup)
        st, _, resp = T.http_request(
            S.t.port, "POST", "/v1/token", body=body,
            headers={"Content-Type": "application/json"})
        assert st == 400, (st, resp)
        e = resp["errors"][0]
        assert e["name"] == "body" and "duplicate" in e["description"], e


@test
def empty_client_state_refused_everywhere():
    one = b"X-Client-State:\r\n"
    st, body = ts_get(b"Bearer " + jwt().encode(), one)
    # GET /1.0 answers Mozilla's 400 "error"; /v1/token its own status.
    assert st == 400 and body["status"] == "error" and \
        body["errors"][0]["name"] == "X-Client-State", body
    raw, _, _ = exchange(POST + b"X-Client-State: \r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body_of()) +
                         body_of())
    st, _, b = responses(raw)[0]
    assert st == 400 and json.loads(b)["status"] == \
        "invalid-client-state", b


# ---------------------------------------------------------------- limits

@test
def assertion_over_the_frame_limit_413_and_pool_serves():
    # Through the Authorization header of a large-memory instance and the
    # body of one with the largest max_body: never a job, always a 413
    # naming the field, and the workers keep serving.
    t = T.one_issuer_instance("tkd-http-big-", S.key, max_body=69632,
                              connection_memory=69632, workers=1)
    try:
        t.start()
        big = "a" * 66000 + "." + "b" * 10 + "." + "c" * 10
        st, _, body = t.post("/v1/token", {"assertion": big,
                                           "service": SYNC})
        assert st == 413, (st, body)
        assert body["errors"][0]["name"] == "assertion", body
        st, _, body = t.request("GET", "/1.0/sync/1.5",
                                headers={"Authorization": "Bearer " + big})
        assert st == 413, (st, body)
        assert body["errors"][0]["name"] == "Authorization", body
        for _ in range(5):
            st, _, body = t.token(jwt())
            assert st == 200, (st, body)
    finally:
        t.stop()


if __name__ == "__main__":
    T.run(setup, T.teardown)
