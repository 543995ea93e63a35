"""The Python worker (contrib/python-worker) against the real front.

contrib/python-worker/tokend_worker.py is written from docs/protocol.md
and docs/tokens.md alone; these tests hold it to what the C worker does,
side by side with it, on the same secrets and keys:

  python_only   a front with `workers = none` and the Python worker alone:
                tokens for RS256, ES256 and EdDSA assertions, tokenlib and
                Fernet, with and without X-Client-State, verify with
                libtokend-verify and tokenctl, and carry the uid, node,
                duration and payload layout the C worker gives the same
                assertion (a front with C workers only, beside it)
  no_worker     `workers = none` and no worker yet: 504 at request_timeout;
                once the Python worker joins, 200
  rejections    some forty bad assertions (expired, wrong audience, alg
                none, bad signature, unknown kid, a real exp, two keys and
                no kid, over 8192 bytes, ...) get the same HTTP status,
                error code, field, X-Timestamp and sentence from the
                Python worker as from the C worker
  mixed_pool    one C worker and one Python worker under a bounded load:
                every request 200, both served (the access log's worker=
                and the Python worker's own count agree)
  hostile       a fake broker sends the Python worker every malformed
                message the layout allows; it drops each, keeps serving,
                and reconnects (READY on a fresh connection, same identity)
                when the broker goes silent
  figures       its HEARTBEAT figures reach the front's metrics whole
  curve         over CURVE TCP with a worker host's config: it joins and
                serves; with a key the front does not list it is refused
                at the handshake, says so, and serves nothing
  refused       a REFUSE makes it log both versions and exit 2
  restart       a front that restarts is rejoined; with no front for
                orphan_timeout, the worker exits 1

Run from the repository root:  /usr/bin/python3 tests/integration/test_pyworker.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, ISS, SYNC, SYNC_NODE, OTHER, OTHER_NODE,  # noqa
                        new_secret, test)

WORKER = os.path.join(T.REPO, "contrib", "python-worker", "tokend_worker.py")
PY = "/usr/bin/python3"

S = {}          # what setup() makes: keys, secrets, the two instances


class PyWorkerProc:
    """contrib/python-worker/tokend_worker.py as a child, its log in the
    instance's directory."""

    def __init__(self, t, *args, log="pyworker.log", conf=None):
        self.log_path = t.path(log)
        self.argv = [PY, WORKER, "-c", conf or t.conf] + list(args)
        err = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)
        finally:
            err.close()
        _procs.append(self)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10):
        rx = re.compile(pattern, re.M)
        try:
            return T.wait_until(lambda: rx.search(self.log()), timeout,
                                what=f"python worker log /{pattern}/")
        except TimeoutError as e:
            raise AssertionError(f"{e}; log:\n{self.log()[-2000:]}") \
                from None

    def stop(self, timeout=5):
        """SIGTERM and wait; the exit code (SIGKILL past timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


_procs = []


def sections(t, **server):
    return [t.server_section(**server),
            T.issuer_section(algorithms="RS256 ES256 EdDSA"),
            T.service_section(),
            T.service_section(OTHER, OTHER_NODE, format="fernet")]


def make_instance(prefix, **server):
    t = T.instance(prefix)
    t.write_secrets(uid=S["uid"], sync=S["sync"], other=S["other"])
    t.write_jwks("example.jwks", S["keys"].values())
    t.write_config(*sections(t, **server))
    return t


def setup():
    S["keys"] = {a: T.Key(a) for a in T.ALGS}
    # A second ES256 key: an ES256 JWT without kid is then ambiguous.
    S["keys"]["ES256-2"] = T.Key("ES256")
    S["uid"], S["sync"], S["other"] = new_secret(), new_secret(), \
        new_secret()
    S["c"] = make_instance("tkd-pyw-c-", workers=1)
    S["c"].start()
    S["py"] = make_instance("tkd-pyw-py-", workers="none")
    S["py"].start()
    S["pw"] = PyWorkerProc(S["py"])
    S["pw"].wait_log("joined the front")


def teardown(failed):
    for p in _procs:
        p.stop()
    T.teardown(failed)


def jwt(alg="ES256", sub="alice", **claims):
    return T.sign_jwt(S["keys"][alg], T.claims(sub, **claims))


def payload_of(token):
    raw = base64.urlsafe_b64decode(token)
    return raw[:-32]


def uid_by_docs(sub, iss=ISS):
    """docs/tokens.md's uid, computed here."""
    mac = hmac.new(S["uid"].encode(), iss.encode() + b"\0" + sub.encode(),
                   hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 11


# ---------------------------------------------------------------- tests

@test
def python_only_tokens_verify_like_the_c_workers():
    py, c = S["py"], S["c"]
    sub = "py-" + os.urandom(4).hex()
    tokens = []
    for alg in T.ALGS:
        a = jwt(alg, sub)
        st, _, got = py.token(a)
        assert st == 200, f"{alg}: {st} {got}"
        st, _, ref = c.token(a)
        assert st == 200, f"C worker, {alg}: {st} {ref}"
        for k in ("uid", "api_endpoint", "duration", "hashalg"):
            assert got[k] == ref[k], f"{alg}: {k} {got[k]!r} != {ref[k]!r}"
        assert got["uid"] == uid_by_docs(sub)
        assert abs(got["expires"] - ref["expires"]) <= 2
        # The same payload bytes but for the salt and the second.
        p, r = payload_of(got["id"]), payload_of(ref["id"])
        norm = [re.sub(rb'"salt":"[0-9a-f]{6}"', b"", re.sub(
            rb'"expires":[0-9]+', b"", x)) for x in (p, r)]
        assert norm[0] == norm[1], (p, r)
        tokens.append(got)
    # libtokend-verify (the example service) and tokenctl, tokend's own.
    res = T.verify_with_library(py.path("sync.secret"),
                                [t["id"] for t in tokens])
    for t, r in zip(tokens, res):
        assert r[0] == "ok", r
        assert r[3] == t["uid"] and r[4] == t["key"], (r, t)
        assert r[5]["node"] == SYNC_NODE
    rc, out, err = T.tokenctl("verify", "-c", py.conf, "--service", SYNC,
                              tokens[0]["id"])
    assert rc == 0, (rc, out, err)
    # X-Client-State goes into the payload; Fernet through python's Fernet.
    st, _, got = py.request("POST", "/v1/token", {
        "assertion": jwt("EdDSA", sub), "service": OTHER},
        headers={"X-Client-State": "0a1b2c"})
    assert st == 200, (st, got)
    payload, ts = T.parse_fernet_token(got["id"], S["other"], 1800)
    assert payload["uid"] == uid_by_docs(sub), payload
    assert payload["client_state"] == "0a1b2c" and \
        payload["node"] == OTHER_NODE, payload
    res = T.verify_with_library(py.path("other.secret"), [got["id"]])
    assert res[0][0] == "ok" and res[0][4] == got["key"], res


@test
def python_only_no_worker_504_then_served():
    t = make_instance("tkd-pyw-none-", workers="none", request_timeout=1)
    t.start()
    a = jwt()
    st, _, body = t.token(a)
    assert st == 504, (st, body)
    w = PyWorkerProc(t)
    w.wait_log("joined the front")
    st, _, body = t.token(a)
    assert st == 200, (st, body)
    assert w.stop() == 0
    assert "exiting after 1 jobs (BYE sent)" in w.log(), w.log()


@test
def front_restart_is_rejoined_and_orphan_exits():
    """A front that restarts is rejoined without operator action (RESYNC
    or a fresh connection); with no front for orphan_timeout, the worker
    exits 1."""
    t = make_instance("tkd-pyw-restart-", workers="none",
                      heartbeat_interval=200, orphan_timeout=2)
    t.start()
    w = PyWorkerProc(t)
    w.wait_log("joined the front")
    a = jwt("RS256", "restart-user")
    assert t.token(a)[0] == 200
    t.stop()
    t.start()
    T.wait_until(lambda: t.token(a, timeout=3)[0] == 200, 10,
                 what="a token from the restarted front")
    assert w.proc.poll() is None, w.log()
    t.stop()
    t0 = time.monotonic()
    w.proc.wait(10)
    assert w.proc.returncode == 1, (w.proc.returncode, w.log())
    assert time.monotonic() - t0 >= 1.5, "gave up before orphan_timeout"
    assert "(orphan_timeout); exiting" in w.log(), w.log()


def raw_jwt(key, payload):
    """A JWT whose payload is these bytes, signed."""
    signing = T.b64url(json.dumps({"alg": key.alg, "kid": key.kid}).encode()
                       ) + "." + T.b64url(payload)
    return signing + "." + T.b64url(key.sign(signing.encode()))


@test
def figures_reach_the_front_metrics_and_heartbeat():
    """The Python worker's HEARTBEAT figures (docs/protocol.md, "Figures in
    a HEARTBEAT") are taken whole by the front: its metrics count the
    Python worker's jobs, tokens and refusals, none of its fields is
    refused, and /__heartbeat__ passes with it alone."""
    import http.client
    t = make_instance("tkd-pyw-figures-", workers="none",
                      heartbeat_interval=200)
    t.mport = T.free_port()
    t.write_config(*sections(t, workers="none", heartbeat_interval=200),
                   ("metrics", [("listen", f"127.0.0.1:{t.mport}")]))
    t.start()
    w = PyWorkerProc(t)
    w.wait_log("joined the front")
    for i in range(5):
        assert t.token(jwt("EdDSA", f"fig{i}"))[0] == 200
    assert t.token(jwt("EdDSA", aud="nobody"))[0] == 401
    assert t.request("POST", "/v1/token", {
        "assertion": jwt("EdDSA"), "service": OTHER})[0] == 200

    def sample(text, name, labels=""):
        m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text,
                      re.M)
        return float(m.group(1)) if m else 0.0

    def scrape():
        conn = http.client.HTTPConnection("127.0.0.1", t.mport, timeout=5)
        try:
            conn.request("GET", "/metrics")
            return conn.getresponse().read().decode()
        finally:
            conn.close()
    want = {("tokend_worker_jobs_total", ""): 7,
            ("tokend_tokens_issued_total",
             '{service="sync-1.5",format="tokenlib"}'): 5,
            ("tokend_tokens_issued_total",
             '{service="other-1.0",format="fernet"}'): 1,
            ("tokend_assertions_rejected_total",
             '{reason="invalid-credentials"}'): 1}

    def done():
        text = scrape()
        return text if all(sample(text, n, lb) == v for (n, lb), v in
                           want.items()) else None
    try:
        text = T.wait_until(done, 5, what="the Python worker's figures")
    except TimeoutError:
        raise AssertionError("figures not as expected:\n" + "\n".join(
            line for line in scrape().splitlines() if any(
                line.startswith(n) for n, _ in want))) from None
    assert sample(text, "tokend_metrics_heartbeat_fields_rejected_total") \
        == 0, text
    assert sample(text, "tokend_worker_duration_seconds_count") == 7
    st, _, body = t.get("/__heartbeat__")
    assert st == 200, (st, body)
    assert w.stop() == 0


def rejection_cases():
    k = S["keys"]
    now = int(time.time())
    other = T.Key("ES256", kid=S["keys"]["ES256"].kid)   # not in the JWKS
    es = k["ES256"]
    none_jwt = (T.b64url(b'{"alg":"none","typ":"JWT"}') + "." +
                T.b64url(json.dumps(T.claims("alice")).encode()) + ".")
    return [
        ("expired", jwt(exp=now - 3600, iat=now - 7200, nbf=now - 7200)),
        ("not yet valid", jwt(nbf=now + 3600)),
        ("issued in the future", jwt(iat=now + 3600)),
        ("no exp", jwt(exp=None)),
        ("wrong audience", jwt(aud="someone-else")),
        ("audience list", jwt(aud=["x", AUD])),
        ("audience list without ours", jwt(aud=["x", "y"])),
        ("unknown issuer", jwt(iss="https://evil.example")),
        ("alg none", none_jwt),
        ("alg not allowed", T.sign_jwt(es, T.claims("alice"), alg="ES384")),
        ("HS256 with the public key", T.sign_jwt(es, T.claims("alice"),
                                                 alg="HS256")),
        ("bad signature", T.tamper_signature(jwt())),
        ("other key, same kid", T.sign_jwt(other, T.claims("alice"))),
        ("unknown kid", T.sign_jwt(es, T.claims("alice"), kid="nope")),
        ("no kid, one key fits", T.sign_jwt(k["EdDSA"], T.claims("alice"),
                                             kid=None)),
        ("no kid, two keys fit", T.sign_jwt(es, T.claims("alice"),
                                            kid=None)),
        ("kid of a key of another type", T.sign_jwt(
            es, T.claims("alice"), kid=k["RS256"].kid)),
        ("exp a real", jwt(exp=float(now + 300))),
        ("exp beyond int64", jwt(exp=1 << 64)),
        ("aud list with a number", jwt(aud=[AUD, 5])),
        ("aud a number", jwt(aud=5)),
        ("sub empty", jwt(sub="")),
        ("sub 256 bytes", jwt(sub="x" * 256)),
        ("sub 255 bytes", jwt(sub="x" * 255)),
        ("repeated claim", T.b64url(b'{"alg":"ES256"}') + "." + T.b64url(
            b'{"sub":"a","sub":"b"}') + ".AAAA"),
        ("over 8192 bytes", jwt(pad="x" * 9000)),
        ("deep JSON", jwt(deep=json.loads("[" * 25 + "]" * 25))),
        ("65 members", jwt(**{f"c{i}": i for i in range(60)})),
        ("alg NONE", none_jwt.replace(T.b64url(b'{"alg":"none","typ":"JWT"}'),
                                      T.b64url(b'{"alg":"NONE"}'))),
        ("alg unknown", T.sign_jwt(es, T.claims("alice"), alg="XY256")),
        ("crit", T.sign_jwt(es, T.claims("alice"), header={"crit": ["b64"]})),
        ("empty assertion", ""),
        ("NaN claim", raw_jwt(es, b'{"iss":"%s","sub":"a","x":NaN}' %
                              ISS.encode())),
        ("huge real", raw_jwt(es, b'{"iss":"%s","sub":"a","x":1e999}' %
                              ISS.encode())),
        ("5000 digits", raw_jwt(es, b'{"iss":"%s","sub":"a","x":%s}' % (
            ISS.encode(), b"9" * 5000))),
        ("NUL in sub", jwt(sub="a\0b")),
        ("lone surrogate", raw_jwt(es, b'{"iss":"%s","sub":"\\ud800"}' %
                                   ISS.encode())),
        ("non-UTF-8 claims", raw_jwt(es, b'{"iss":"%s","sub":"\xff"}' %
                                     ISS.encode())),
        ("non-ASCII assertion", jwt() + "\u00e9"),
        ("no sub", jwt(sub=None)),
        ("not a JWT", "hello"),
        ("two parts", "a.b"),
        ("bad base64", "a*b.c.d"),
        ("header not JSON", T.b64url(b"{") + ".e30.AA"),
        ("browserid-looking", "a~b"),
    ]


def answer(t, assertion, service=SYNC, headers=None):
    st, h, body = t.request("POST", "/v1/token", {
        "assertion": assertion, "service": service}, headers=headers)
    err = body["errors"][0] if isinstance(body, dict) and \
        body.get("errors") else {}
    return (st, body.get("status") if isinstance(body, dict) else None,
            err.get("location"), err.get("name"),
            "x-timestamp" in h), err.get("description")


@test
def rejections_match_the_c_worker():
    py, c = S["py"], S["c"]
    cases = rejection_cases() + [("unknown service", jwt(), "nope", None),
                                 ("unknown version", jwt(), "sync-1.1",
                                  None),
                                 ("browserid header", jwt(), SYNC,
                                  {"Authorization": "BrowserID " + jwt()}),
                                 ("bearer a~b", jwt(), SYNC,
                                  {"Authorization": "Bearer a~b"})]
    bad, descs = [], []
    for case in cases:
        name, a = case[0], case[1]
        svc = case[2] if len(case) > 2 else SYNC
        hdr = case[3] if len(case) > 3 else None
        if hdr is not None:
            a = None
        body_a = a

        def ask(t):
            st, h, body = t.request("POST", "/v1/token", dict(
                {"service": svc}, **({"assertion": body_a} if body_a
                                     else {})), headers=hdr)
            e = body["errors"][0] if isinstance(body, dict) and \
                body.get("errors") else {}
            return (st, body.get("status") if isinstance(body, dict)
                    else None, e.get("location"), e.get("name"),
                    "x-timestamp" in h), e.get("description")
        got, gd = ask(py)
        ref, rd = ask(c)
        # The Python worker has no BrowserID verifier: its own sentence.
        if got != ref or gd != rd and "BrowserID assertions are not" \
                not in (gd or ""):
            bad.append(f"{name}: python {got} {gd!r}, C {ref} {rd!r}")
        descs.append((name, gd, rd))
        if name not in ("audience list", "no kid, one key fits",
                        "sub 255 bytes"):
            assert ref[0] != 200, f"{name}: the C worker took it: {ref}"
    if os.environ.get("VERBOSE"):
        for name, gd, rd in descs:
            print(f"# {name}: python {gd!r}; C {rd!r}")
    assert not bad, "\n".join(bad)


@test
def mixed_pool_under_load_both_serve_none_fail():
    t = make_instance("tkd-pyw-mixed-", workers=1, worker_credit=4)
    t.start()
    w = PyWorkerProc(t, "--credit", "4")
    w.wait_log("joined the front")
    mark = t.log_mark()
    subs = [f"user{i}" for i in range(8)]
    jwts = [jwt(T.ALGS[i % 3], s) for i, s in enumerate(subs)]
    uids = {j: uid_by_docs(s) for j, s in zip(jwts, subs)}
    load = T.Load(t.port, lambda i, n: (
        "POST", "/v1/token", {"assertion": jwts[(i + n) % 8],
                              "service": SYNC}),
        threads=4, seconds=6, max_per_thread=150).start()
    load.join()
    kinds = load.kinds()
    assert kinds == {"200": len(load.results)}, kinds
    for o in load.results:
        assert o.body["uid"] in uids.values(), o.body
    # Who answered: the access log's worker= (the Python worker names no
    # pid, so it is worker=0), against the Python worker's own count.
    n = len(load.results)
    lines = t.wait_log(r"POST /v1/token 200 \S+ worker=(\d+)", since=mark,
                       count=n)
    by = {}
    for m in lines:
        by[m.group(1)] = by.get(m.group(1), 0) + 1
    assert w.stop() == 0
    m = re.search(r"exiting after (\d+) jobs", w.log())
    assert m, w.log()
    py_jobs = int(m.group(1))
    c_jobs = sum(v for k, v in by.items() if k != "0")
    assert by.get("0", 0) == py_jobs, (by, py_jobs)
    assert py_jobs > 0 and c_jobs > 0, f"one side served nothing: {by}"
    assert py_jobs + c_jobs == n, (by, n)
    print(f"# mixed pool: {n} requests, C worker {c_jobs}, "
          f"Python worker {py_jobs}")


# ---------------------------------------------------------------- a fake
# broker: a ROUTER the Python worker connects to, sending what no front
# would.

def v2(cmd, fields=()):
    out = bytes([2, cmd])
    for k, v in fields:
        k = k.encode()
        v = v if isinstance(v, bytes) else v.encode()
        out += bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    return out


def fake_broker_instance(prefix):
    """An instance dir with a config (never started), and a ROUTER bound
    at its runtime_dir's worker socket."""
    import zmq
    t = make_instance(prefix, workers="none", heartbeat_interval=200)
    os.makedirs(t.path("run"), 0o700, exist_ok=True)
    ctx = zmq.Context.instance()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.LINGER, 0)
    r.setsockopt(zmq.ROUTER_HANDOVER, 1)
    r.bind("ipc://" + t.path("run/worker.sock"))
    return t, r


def recv(r, timeout=5):
    """(identity, version, cmd, fields) of the next message, or an
    AssertionError after timeout."""
    if not r.poll(timeout * 1000):
        raise AssertionError(f"nothing from the worker in {timeout}s")
    ident, frame = r.recv_multipart()
    ver, cmd, f = T.v2_decode(frame)
    return ident, ver, cmd, f


WELCOME_FIELDS = [("version", "2"), ("heartbeat_interval", "200"),
                  ("heartbeat_liveness", "3"), ("credit", "1"),
                  ("request_timeout", "5000")]


@test
def hostile_frames_are_dropped_and_silence_reconnects():
    t, r = fake_broker_instance("tkd-pyw-fake-")
    w = PyWorkerProc(t)
    try:
        ident, ver, cmd, f = recv(r)
        assert (ver, cmd) == (2, T.READY) and f["versions"] == b"2", f
        assert "pid" not in f, f    # not forked by the front's supervisor
        r.send_multipart([ident, v2(T.WELCOME, WELCOME_FIELDS)])
        job = lambda i: v2(T.JOB, [("job", struct.pack(">Q", i)),  # noqa
                                   ("service", SYNC),
                                   ("assertion", jwt())])
        big = 65537
        hostile = [
            b"", b"\x02", b"\x02\x02\x00",                # short, empty key
            b"\x02\x02\x03job\x00\x00\x00\x09abc",          # runs past end
            b"\x02\x02\x03job" + struct.pack(">I", big) + b"x" * 10,
            v2(T.JOB, [(f"k{i}", "v") for i in range(17)]),   # 17 fields
            bytes([3, T.JOB]) + job(1)[2:],               # version 3
            v2(T.JOB, [("service", SYNC)]),               # no job id
            v2(T.JOB, [("job", b"1234567"), ("service", SYNC)]),
            v2(T.WELCOME, [("version", "x")]),
            v2(77), v2(T.REPLY), v2(T.PROGRESS), v2(T.BYE),
            v2(T.JOB, [("job", os.urandom(8)), ("assertion",
                                                 b"\xff" * 70000)]),
        ]
        for frame in hostile:
            r.send_multipart([ident, frame])
        r.send_multipart([ident, b"\x02\x02", b"two frames"])
        r.send_multipart([ident, os.urandom(300)])
        # Jobs that break their fields' rules are answered, not dropped.
        bad_jobs = {
            b"nosvc---": ([("assertion", jwt())], "invalid-request",
                          b"service"),
            b"noassert": ([("service", SYNC)], "invalid-request",
                          b"assertion"),
            b"badstate": ([("service", SYNC), ("assertion", jwt()),
                           ("client_state", "ABC")], "invalid-request",
                          b"client_state"),
            b"badkind-": ([("service", SYNC), ("assertion", jwt()),
                           ("kind", "saml")], "invalid-request", b"kind"),
            b"nosuchsv": ([("service", "nope"), ("assertion", jwt())],
                          "unknown-service", b"service"),
            b"svc-utf8": ([("service", b"\xff\xfe"), ("assertion",
                                                      jwt())],
                          "unknown-service", b"service"),
            b"version-": ([("service", "sync-9"), ("assertion", jwt())],
                          "unknown-service", b"version"),
            b"duration": ([("service", SYNC), ("assertion", jwt()),
                           ("duration", "-5")], "invalid-request",
                          b"duration"),
            b"kca-big-": ([("service", SYNC), ("assertion", jwt()),
                           ("keys_changed_at", "9" * 19)],
                          "invalid-request", b"keys_changed_at"),
            b"kcs-bad-": ([("service", SYNC), ("assertion", jwt()),
                           ("key_client_state", "XY")], "invalid-request",
                          b"key_client_state"),
            b"keyiderr": ([("service", SYNC), ("assertion", jwt()),
                           ("key_id_error", "other")], "invalid-request",
                          b"key_id_error"),
        }
        for jid, (fields, _, _) in bad_jobs.items():
            r.send_multipart([ident, v2(T.JOB, [("job", jid)] + fields)])
        r.send_multipart([ident, job(42)])
        answers = {}
        deadline = time.monotonic() + 5
        while len(answers) < len(bad_jobs) + 1:
            assert time.monotonic() < deadline, answers
            _, ver, cmd, f = recv(r)
            if cmd == T.REPLY:
                answers[f["job"]] = f
        for jid, (_, err, name) in bad_jobs.items():
            a = answers[jid]
            assert a["error"] == err.encode() and a["name"] == name, \
                (jid, a)
            assert 0 < len(a["description"]) <= 255
        ok = answers[struct.pack(">Q", 42)]
        assert int(ok["uid"]) == uid_by_docs("alice"), ok
        assert len(ok["key"]) == 44 and ok["hashalg"] == b"sha256", ok
        assert w.proc.poll() is None, w.log()
        assert "dropped a malformed message" in w.log(), w.log()
        # Silence: no heartbeat from the broker for 200 ms x 3, so the
        # worker takes the connection for lost and says READY again, on a
        # fresh connection, under the same identity.
        t0 = time.monotonic()
        while True:
            ident2, ver, cmd, f = recv(r, timeout=3)
            if cmd == T.READY:
                break
            assert cmd == T.HEARTBEAT, cmd
        assert ident2 == ident
        assert time.monotonic() - t0 >= 0.5, "READY again before liveness"
        w.wait_log("connection to .* lost \\(the front was silent")
        # RESYNC right after a READY is one of a burst: ignored; later, it
        # is answered with READY.
        r.send_multipart([ident, v2(T.WELCOME, WELCOME_FIELDS)])
        r.send_multipart([ident, v2(T.RESYNC)])
        time.sleep(0.25)            # past heartbeat_interval after READY
        r.send_multipart([ident, v2(T.RESYNC)])
        while True:
            _, ver, cmd, f = recv(r, timeout=3)
            if cmd == T.READY:
                break
        assert w.stop() == 0
        # BYE on the way out.
        seen = []
        while r.poll(500):
            seen.append(T.v2_decode(r.recv_multipart()[1])[1])
        assert T.BYE in seen, seen
    finally:
        w.stop()
        r.close(0)


@test
def refused_logs_both_versions_and_exits_2():
    t, r = fake_broker_instance("tkd-pyw-refuse-")
    w = PyWorkerProc(t)
    try:
        ident, ver, cmd, f = recv(r)
        r.send_multipart([ident, v2(T.REFUSE, [
            ("versions", "3"), ("peer_versions", "2"),
            ("reason", "this front speaks worker protocol version 3")])])
        w.proc.wait(5)
        assert w.proc.returncode == 2, (w.proc.returncode, w.log())
        assert re.search(r"refused by the front, which speaks worker "
                         r"protocol version 3 \(this worker speaks 2",
                         w.log()), w.log()
    finally:
        w.stop()
        r.close(0)


@test
def config_subset_is_checked():
    """What the worker cannot honour is refused at start, naming the line:
    never ignored, so it never answers otherwise than tokend would."""
    t = make_instance("tkd-pyw-conf-", workers="none")
    cases = [
        ("[browserid x]\nissuer = a.example\n", "BrowserID is not supported"),
        ("[issuer y]\niss = https://y.example\naudience = a\n"
         "jwks_url = https://y.example/jwks\n", "jwks_url is not supported"),
        ("[frobnicate]\n", "does not know"),
    ]
    base = open(t.conf).read()
    for extra, words in cases:
        with open(t.conf, "w") as f:
            f.write(base + "\n" + extra)
        p = subprocess.run([PY, WORKER, "-c", t.conf, "-t"],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 1 and words in p.stderr, (extra, p.stderr)
        assert re.search(re.escape(t.conf) + r":\d+:", p.stderr), p.stderr
    with open(t.conf, "w") as f:
        f.write(base)
    os.chmod(t.path("sync.secret"), 0o644)
    p = subprocess.run([PY, WORKER, "-c", t.conf, "-t"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "0644" in p.stderr, p.stderr
    os.chmod(t.path("sync.secret"), 0o600)
    p = subprocess.run([PY, WORKER, "-c", t.conf, "-t"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr


# ---------------------------------------------------------------- CURVE

def curve_front(prefix, authorized, **server):
    """A started front with no local worker and a CURVE TCP listener
    ([remote] listen) admitting authorized {host name: public key}.
    Returns (t, the front's public key, the port)."""
    import zmq
    t = make_instance(prefix, workers="none", **server)
    pub, sec = zmq.curve_keypair()
    t.write_secret("front.key", sec.decode() + "\n")
    with open(t.path("authorized_keys"), "w") as f:
        f.write("# worker hosts\n" + "".join(
            f"{k} {name}\n" for name, k in authorized.items()))
    port = T.free_port()
    t.write_config(*sections(t, workers="none", **server), ("remote", [
        ("listen", f"tcp://127.0.0.1:{port}"),
        ("secret_key_file", "front.key"),
        ("authorized_keys", "authorized_keys"),
        ("handshake_timeout", 1)]))
    t.start()
    return t, pub.decode(), port


def curve_worker_conf(t, name, secret, front_pub, port):
    """A worker host's config beside t's, on its secrets and keys: what
    `tokend --worker -c` reads, and the Python worker too."""
    t.write_secret(name + ".key", secret + "\n")
    text, _ = T.render_config(
        [("server", [("uid_secret_file", "uid.secret"),
                     ("heartbeat_interval", 200)])] + sections(t)[1:] +
        [("remote", [("connect", f"tcp://127.0.0.1:{port}"),
                     ("secret_key_file", name + ".key"),
                     ("server_public_key", front_pub)])])
    path = t.path(name + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def curve_tcp_joins_and_a_stranger_is_refused():
    """The Python worker joins a front over CURVE TCP with a worker host's
    config and serves; one whose key the front does not list is refused
    at the handshake, says so, and serves nothing."""
    import zmq
    good_pub, good_sec = zmq.curve_keypair()
    bad_pub, bad_sec = zmq.curve_keypair()
    t, front_pub, port = curve_front(
        "tkd-pyw-curve-", {"py-host": good_pub.decode()},
        request_timeout=1, heartbeat_interval=200)
    bad = curve_worker_conf(t, "stranger", bad_sec.decode(), front_pub, port)
    good = curve_worker_conf(t, "py-host", good_sec.decode(), front_pub,
                             port)
    stranger = PyWorkerProc(t, conf=bad, log="stranger.log")
    stranger.wait_log("refused this host's CURVE handshake")
    a = jwt("EdDSA", "curve-user")
    st, _, body = t.token(a)
    assert st == 504, (st, body)        # the stranger serves nothing
    w = PyWorkerProc(t, conf=good, log="py-host.log")
    w.wait_log(f"joined the front at tcp://127.0.0.1:{port}")
    st, _, body = t.token(a)
    assert st == 200, (st, body)
    assert body["uid"] == uid_by_docs("curve-user"), body
    res = T.verify_with_library(t.path("sync.secret"), [body["id"]])
    assert res[0][0] == "ok" and res[0][3] == body["uid"], res
    assert "joined the front" not in stranger.log(), stranger.log()
    assert w.stop() == 0
    stranger.stop()


if __name__ == "__main__":
    T.run(setup=setup, teardown=teardown)
