"""Token formats, secret rotation, tokenctl and libtokend-verify, end to end.

One tokend (the "main" instance: two workers) serves three services:

  sync-1.5    format tokenlib, one node, secret_file (two secrets later)
  fern-1.0    format fernet, one node, secret_file
  multi-1.0   format tokenlib, nodes_file with two nodes, each its secret

and two issuers: "example" (keys made here, in Python) and "ctl" (a key
pair made by `tokenctl jwt keygen`, assertions by `tokenctl jwt sign`).

Every token is checked three ways, none of them tokend's own minting code:
independently in Python from docs/tokens.md (tokendtest: tokenlib from the
stdlib; Fernet by python3-cryptography's Fernet with the key `tokenctl
fernet-key` prints), by `tokenctl verify` (libtokend-verify, static), and
by the library's example service (libtokend-verify, shared).

  formats    a token of each service, every field, the derived key
  refusals   wrong secret, wrong format, tampered, expired: exit 1 and the
             reason; usage: exit 2
  nodes      the node of a uid is the documented rendezvous pick, and its
             token checks with that node's secret only
  tokenctl   secret, mint, fernet-key, jwt keygen/sign against the daemon
  rotation   a new secret on top + SIGHUP while requests flow: no request
             fails, old tokens keep verifying; the old secret dropped +
             SIGHUP: still no failure, and the old secret's tokens are now
             refused
  tokend -t  format and nodes_file errors with FILE:LINE

Run from the repository root:
    /usr/bin/python3 tests/integration/test_formats.py
(arguments select tests by name substring; BUILD=dir picks the binaries).
"""

import json
import os
import re
import signal
import stat
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, ISS, SYNC, SYNC_NODE, new_secret,  # noqa: E402
                        standalone, test)

CTL_ISS = "https://ctl.example.com"
FERN, FERN_NODE, FERN_TTL = "fern-1.0", "https://fern.example.com/1.0", 600
MULTI = "multi-1.0"
NODES = ["https://m1.example.com", "https://m2.example.com"]
PAYLOAD_FIELDS = {"uid", "node", "expires", "salt"}

S = types.SimpleNamespace(main=None)


def write_config(t, extra_services=(), workers=2):
    return t.write_config(
        t.server_section(workers=workers),
        T.issuer_section(algorithms="EdDSA"),
        T.issuer_section("ctl", CTL_ISS, "ctl.jwks",
                         algorithms="RS256 ES256 EdDSA"),
        T.service_section(duration=1800),
        T.service_section(FERN, FERN_NODE, format="fernet",
                          duration=FERN_TTL),
        T.service_section(MULTI, None, secret_file=None,
                          nodes_file="multi.nodes", duration=900),
        *extra_services)


def write_nodes(t):
    t.write_secret("multi.nodes", "# node,secret (newest first)\n" + "".join(
        f"{n},{S.node_secrets[n]}\n" for n in NODES))


def new_instance(name, workers=2):
    """A started instance with fresh secrets (t.sync, t.fern: newest
    first, as in the files) and a tokenctl-made issuer key (t.ctl_kid)."""
    t = T.instance(f"tkd-formats-{name}-")
    t.sync = [new_secret()]
    t.fern = [new_secret()]
    t.write_secrets(uid=new_secret(), sync=t.sync[0], fern=t.fern[0])
    write_nodes(t)
    t.write_jwks("example.jwks", [S.key])
    rc, out, err = T.tokenctl("jwt", "keygen", "--alg", "ES256",
                              "--key-out", t.path("ctl.pem"),
                              "--jwks-out", t.path("ctl.jwks"))
    if rc != 0:
        raise RuntimeError(f"tokenctl jwt keygen: exit {rc}: {err}")
    t.ctl_kid = out.strip()
    write_config(t, workers=workers)
    return t.start()


def setup():
    for p in (T.tokend_path(), T.tokenctl_path(), T.verify_example_path()):
        if not os.access(p, os.X_OK):
            raise RuntimeError(f"{p} not built (make)")
    S.key = T.Key("EdDSA")
    S.node_secrets = {n: new_secret() for n in NODES}
    S.main = new_instance("main")


def jwt(sub="alice"):
    return T.sign_jwt(S.key, T.claims(sub, iss=ISS, aud=AUD, lifetime=900))


def get(service, sub="alice"):
    """A 200 token answer's body, with the request's time window."""
    t0 = time.time()
    st, _, body = S.main.token(jwt(sub), service)
    assert st == 200, f"{service}: {st} {body!r}"
    return body, t0, time.time()


def tokenctl_verify(*args, token):
    """tokenctl verify ARGS TOKEN (the token on stdin, via "-")."""
    return T.tokenctl("verify", *args, "-", input=token + "\n")


def check_payload(payload, body, node):
    assert set(payload) == PAYLOAD_FIELDS, sorted(payload)
    assert payload["uid"] == body["uid"], (payload, body)
    assert payload["node"] == node == body["api_endpoint"], (payload, body)
    assert payload["expires"] == body["expires"], (payload, body)
    assert re.fullmatch(r"[0-9a-f]{6}", payload["salt"]), payload


def check_everywhere(body, service, secrets, fmt, node):
    """tokenctl verify (-c and --secret-file) and the shared library both
    accept the token, with the payload and key the daemon handed out."""
    tok = body["id"]
    rc, out, err = tokenctl_verify("-c", S.main.conf, "--service", service,
                                   token=tok)
    assert rc == 0, f"tokenctl verify -c: exit {rc}: {err.strip()}"
    check_payload(json.loads(out), body, node)
    path = S.main.path("check.secret")
    T.write_secret(path, "".join(s + "\n" for s in secrets))
    rc, out, err = tokenctl_verify("--secret-file", path, "-v", token=tok)
    assert rc == 0, f"tokenctl verify --secret-file: exit {rc}: {err}"
    v = json.loads(out)
    assert v["format"] == fmt and v["key"] == body["key"], v
    check_payload(v["payload"], body, node)
    [res] = T.verify_with_library(path, [tok], fmt)
    assert res[0] == "ok", f"library: {res}"
    assert res[2] == fmt and res[3] == body["uid"] and \
        res[4] == body["key"], (res, body)
    check_payload(res[5], body, node)


# ---------------------------------------------------------------- formats

@test
def tokenlib_service_token_checked_everywhere():
    body, t0, t1 = get(SYNC)
    assert body["api_endpoint"] == SYNC_NODE and body["duration"] == 1800
    payload = T.parse_token(body["id"], S.main.sync[0])
    check_payload(payload, body, SYNC_NODE)
    assert body["key"] == T.get_derived_secret(body["id"], S.main.sync[0])
    assert int(t0) + 1800 - 1 <= body["expires"] <= int(t1) + 1800 + 1
    check_everywhere(body, SYNC, S.main.sync, "tokenlib", SYNC_NODE)


@test
def fernet_token_accepted_by_python_cryptography():
    from cryptography.fernet import Fernet
    body, t0, t1 = get(FERN)
    tok = body["id"]
    assert body["api_endpoint"] == FERN_NODE and \
        body["duration"] == FERN_TTL, body
    assert tok.startswith("gAAAAA") and re.fullmatch(r"[A-Za-z0-9_-]+=*",
                                                      tok), tok
    # The key a service is given, three ways: all the same.
    rc, out, err = T.tokenctl("fernet-key", "--secret-file",
                              S.main.path("fern.secret"))
    assert rc == 0, err
    key = out.strip()
    want = T.fernet_key(S.main.fern[0])
    assert key == want, (key, want)
    rc, out, err = T.tokenctl("fernet-key", "-c", S.main.conf,
                              "--service", FERN)
    assert rc == 0 and out.strip() == key, (rc, out, err)
    # A stock Fernet: Fernet(key).decrypt(token, ttl=duration).
    data = Fernet(key.encode()).decrypt(tok.encode(), ttl=FERN_TTL)
    payload = json.loads(data)
    check_payload(payload, body, FERN_NODE)
    ts = Fernet(key.encode()).extract_timestamp(tok.encode())
    assert int(t0) - 1 <= ts <= int(t1) + 1, (t0, ts, t1)
    assert payload["expires"] == ts + FERN_TTL, (payload, ts)
    # The client's key: tokenlib's derivation over the Fernet token.
    assert body["key"] == T.derived_secret(tok, S.main.fern[0],
                                           payload["salt"])
    # Another service's secret is another Fernet key.
    try:
        Fernet(T.fernet_key(S.main.sync[0]).encode()).decrypt(tok.encode())
    except Exception as e:
        assert type(e).__name__ == "InvalidToken", repr(e)
    else:
        raise AssertionError("Fernet token decrypts under another secret")
    check_everywhere(body, FERN, S.main.fern, "fernet", FERN_NODE)


@test
def refusals_have_reasons_and_exit_codes():
    body, _, _ = get(FERN)
    tok = body["id"]
    fern = S.main.path("fern.secret")
    sync = S.main.path("sync.secret")
    cases = [
        (("--secret-file", sync), tok, "signature does not match"),
        (("--secret-file", fern, "--format", "tokenlib"), tok,
         "signature does not match"),
        (("--secret-file", sync, "--format", "fernet"),
         get(SYNC)[0]["id"], "malformed"),
        (("--secret-file", fern), tok[:60] + ("A" if tok[60] != "A" else
                                              "B") + tok[61:],
         "signature does not match"),
        (("--secret-file", fern), tok[:-4], "malformed"),
        (("--secret-file", fern, "--now", str(body["expires"])), tok,
         "expired"),
        (("--secret-file", fern, "--now", str(body["expires"] - 3600)), tok,
         "issued in the future"),
    ]
    for args, token, words in cases:
        rc, out, err = tokenctl_verify(*args, token=token)
        assert rc == 1, f"{args}: exit {rc} (want 1): {err.strip()}"
        assert out == "", f"{args}: printed {out!r} for a bad token"
        assert words in err, f"{args}: stderr {err.strip()!r} lacks {words!r}"
    # The library says the same.
    res = T.verify_with_library(sync, [tok, "x"])
    assert res[0][:2] == ("invalid", 2) and res[1][:2] == ("invalid", 1), res
    # Usage and setup errors: 2, with nothing on stdout.
    for args in ((), ("--secret-file", fern), ("-c", S.main.conf, tok),
                 ("--secret-file", S.main.path("nope"), tok),
                 ("-c", S.main.conf, "--service", "nosuch", tok),
                 ("--secret-file", fern, "-c", S.main.conf, "--service",
                  FERN, tok)):
        rc, out, err = T.tokenctl("verify", *args)
        assert rc == 2 and out == "", f"verify {args}: exit {rc} {err!r}"
    # A token valid now, checked "later" by tokenctl: the boundary is
    # expires itself (expires <= now is expired), as tokenlib's.
    rc, out, err = tokenctl_verify("--secret-file", fern, "--now",
                                   str(body["expires"] - 1), token=tok)
    assert rc == 0, err


# ---------------------------------------------------------------- nodes

@test
def nodes_service_picks_node_per_uid():
    seen = set()
    for i in range(12):
        body, _, _ = get(MULTI, sub=f"user{i}")
        want = T.node_for_uid(NODES, body["uid"])
        assert body["api_endpoint"] == want, \
            f"uid {body['uid']}: node {body['api_endpoint']}, rule {want}"
        seen.add(want)
        mine = S.node_secrets[want]
        check_payload(T.parse_token(body["id"], mine), body, want)
        assert body["key"] == T.get_derived_secret(body["id"], mine)
        for other in NODES:
            if other == want:
                continue
            try:
                T.parse_token(body["id"], S.node_secrets[other])
            except T.InvalidSignatureError:
                pass
            else:
                raise AssertionError("token checks with another node's "
                                     "secret")
        # tokenctl finds the node whose secret checks it.
        rc, out, err = tokenctl_verify("-c", S.main.conf, "--service",
                                       MULTI, "-v", token=body["id"])
        assert rc == 0, err
        assert json.loads(out)["secret_node"] == want, out
        # Offline minting picks the same node for the same uid.
        rc, out, err = T.tokenctl("mint", "-c", S.main.conf, "--service",
                                  MULTI, "--uid", body["uid"])
        assert rc == 0 and json.loads(out)["api_endpoint"] == want, \
            (rc, out, err)
    assert seen == set(NODES), f"12 users all on {seen}"
    # The same user keeps the node.
    a, _, _ = get(MULTI, sub="user3")
    b, _, _ = get(MULTI, sub="user3")
    assert a["api_endpoint"] == b["api_endpoint"] and a["id"] != b["id"]


# ---------------------------------------------------------------- tokenctl

@test
def tokenctl_secret_and_prepend():
    rc, out, err = T.tokenctl("secret")
    assert rc == 0 and re.fullmatch(r"[0-9a-f]{64}\n", out), (rc, out, err)
    rc2, out2, _ = T.tokenctl("secret")
    assert out2 != out
    path = S.main.path("fresh.secret")
    for _ in range(2):
        rc, out, err = T.tokenctl("secret", "--prepend", path)
        assert rc == 0 and out == "", (rc, out, err)
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    with open(path) as f:
        lines = f.read().splitlines()
    assert len(lines) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", x)
                                   for x in lines), lines
    with open(path, "a") as f:
        f.write("# comment kept\n")
    T.tokenctl("secret", "--prepend", path)
    with open(path) as f:
        text = f.read().splitlines()
    assert text[1:] == lines + ["# comment kept"], text


@test
def tokenctl_mint_offline():
    now = int(time.time())
    rc, out, err = T.tokenctl("mint", "-c", S.main.conf, "--service", FERN,
                              "--uid", 12345, "--now", now)
    assert rc == 0, err
    body = json.loads(out)
    assert set(body) == {"id", "key", "uid", "api_endpoint", "duration",
                         "hashalg", "expires"}, body
    assert body["uid"] == 12345 and body["expires"] == now + FERN_TTL
    payload, ts = T.parse_fernet_token(body["id"], S.main.fern, FERN_TTL)
    assert ts == now
    check_payload(payload, body, FERN_NODE)
    rc, out, err = T.tokenctl("mint", "-c", S.main.conf, "--service", SYNC)
    assert rc == 2, (rc, err)


@test
def tokenctl_jwt_smoke_test_against_daemon():
    for alg in ("ES256", "RS256", "EdDSA"):
        if alg != "ES256":
            # A fresh key of each kind must be accepted by tokend's JWKS
            # parser too: tokend -t on a config naming it.
            rc, out, err = T.tokenctl(
                "jwt", "keygen", "--alg", alg, "--kid", f"k-{alg}",
                "--key-out", S.main.path(f"{alg}.pem"),
                "--jwks-out", S.main.path(f"{alg}.jwks"))
            assert rc == 0 and out.strip() == f"k-{alg}", (rc, out, err)
            assert stat.S_IMODE(os.stat(S.main.path(f"{alg}.pem"))
                                .st_mode) == 0o600
            with open(S.main.path(f"{alg}.jwks")) as f:
                jwk = json.load(f)["keys"][0]
            assert jwk["alg"] == alg and jwk["kid"] == f"k-{alg}", jwk
            continue
        rc, out, err = T.tokenctl("jwt", "sign", "--key",
                                  S.main.path("ctl.pem"), "--kid",
                                  S.main.ctl_kid, "--iss", CTL_ISS, "--aud",
                                  AUD, "--sub", "smoke")
        assert rc == 0, err
        assertion = out.strip()
        st, _, body = S.main.token(assertion, FERN)
        assert st == 200, f"{st} {body!r}"
        T.parse_fernet_token(body["id"], S.main.fern, FERN_TTL)
    # An EdDSA key from tokenctl verifies a tokenctl JWT in tokend too.
    t = S.main
    conf = t.path("jwt.conf")
    text = open(t.conf).read().replace("ctl.jwks", "EdDSA.jwks")
    with open(conf, "w") as f:
        f.write(text)
    rc, out, err = T.check_config(conf)
    assert rc == 0, err


# ---------------------------------------------------------------- rotation

def token_request(i, n):
    service = (SYNC, FERN)[(i + n) % 2]
    return ("POST", "/v1/token", {"assertion": S.rot_jwts[n % 8],
                                  "service": service})


def collect(load, since=0.0):
    """(service, body, t0) of every 200 answer that started after since."""
    out = []
    for o in load.results:
        if o.status == 200 and o.t0 >= since:
            out.append((FERN if o.body["id"].startswith("gAAAAA") else SYNC,
                        o.body, o.t0))
    return out


def check_all(results, files, want_index=None):
    """Every token verifies through the library with files[service];
    want_index, if given, is the secret index each must have matched."""
    for service in (SYNC, FERN):
        toks = [b["id"] for s, b, _ in results if s == service]
        if not toks:
            continue
        res = T.verify_with_library(files[service], toks)
        bad = [(r, t[:20]) for r, t in zip(res, toks) if r[0] != "ok"]
        assert not bad, f"{service}: {len(bad)} of {len(toks)} refused: " \
            f"{bad[:3]}"
        if want_index is not None:
            idx = {r[1] for r in res}
            assert idx == {want_index}, \
                f"{service}: matched secrets {idx}, want {want_index}"


def wait_reload(t, old_workers):
    n = len(old_workers)
    mark = t.log_mark()
    os.kill(t.pid, signal.SIGHUP)
    t.wait_log(rf"reloaded: {n} workers", since=mark)
    return t.wait_workers(n, gone=old_workers)


# The rotation runs on an instance of its own with ROTATION_WORKERS workers
# (default 2), so the reload replaces a pool under load: a job on its way to
# a leaving worker must be dispatched again without failing.
ROTATION_WORKERS = int(os.environ.get("ROTATION_WORKERS", "2"))


@test
def rotation_by_sighup_under_load():
    t = new_instance("rotation", workers=ROTATION_WORKERS)
    S.rot_jwts = [jwt(f"rot{i}") for i in range(8)]
    old_sync, old_fern = t.sync[0], t.fern[0]
    new_sync, new_fern = new_secret(), new_secret()
    both = {SYNC: t.path("sync.both"), FERN: t.path("fern.both")}
    only_new = {SYNC: t.path("sync.new"), FERN: t.path("fern.new")}
    only_old = {SYNC: t.path("sync.old"), FERN: t.path("fern.old")}
    for d, a, b in ((both, [new_sync, old_sync], [new_fern, old_fern]),
                    (only_new, [new_sync], [new_fern]),
                    (only_old, [old_sync], [old_fern])):
        T.write_secret(d[SYNC], "".join(s + "\n" for s in a))
        T.write_secret(d[FERN], "".join(s + "\n" for s in b))
    workers = t.wait_workers(ROTATION_WORKERS)
    load = T.Load(t.port, token_request, threads=4, seconds=40,
                  max_per_thread=100000).start()
    try:
        load.wait_count(40)
        before = collect(load)
        # Step 1: the new secret on top of each file, then SIGHUP.
        t.write_secret("sync.secret", f"# rotated\n{new_sync}\n{old_sync}\n")
        t.write_secret("fern.secret", f"{new_fern}\n{old_fern}\n")
        workers = wait_reload(t, workers)
        step1 = time.monotonic()
        load.wait_count(load.count() + 150, timeout=20)
        after1 = collect(load, since=step1)
        # Step 2: later, the old secret goes.
        t.write_secret("sync.secret", f"{new_sync}\n")
        t.write_secret("fern.secret", f"{new_fern}\n")
        workers = wait_reload(t, workers)
        step2 = time.monotonic()
        load.wait_count(load.count() + 150, timeout=20)
    finally:
        load.stop()
    fails = load.failures()
    assert not fails, f"{len(fails)} of {len(load.results)} requests " \
        f"failed during rotation: {load.kinds()} " \
        f"{[(o, o.body) for o in fails[:3]]}"
    everything = collect(load)
    assert len(everything) == len(load.results) >= 160, len(everything)
    # While both are listed, every token checks, old and new alike.
    check_all(everything, both)
    # Before the rotation: the old secret (index 1 under new+old); after
    # the first reload had replaced the workers: the new one (index 0).
    check_all(before, both, want_index=1)
    check_all(after1, both, want_index=0)
    check_all(after1, only_new, want_index=0)
    check_all(collect(load, since=step2), only_new, want_index=0)
    # The old secret dropped: its tokens are refused, by the library and by
    # tokenctl against the running config; independent checks agree.
    res = T.verify_with_library(only_new[FERN],
                                [b["id"] for s, b, _ in before if s == FERN])
    assert res and all(r[:2] == ("invalid", 2) for r in res), res[:3]
    sync_old = [b for s, b, _ in before if s == SYNC]
    rc, out, err = tokenctl_verify("-c", t.conf, "--service", SYNC,
                                   token=sync_old[0]["id"])
    assert rc == 1 and "signature" in err, (rc, err)
    T.parse_token(sync_old[0]["id"], old_sync)
    for s, b, _ in after1:
        if s == SYNC:
            T.parse_token(b["id"], new_sync)
        else:
            T.parse_fernet_token(b["id"], [new_fern], FERN_TTL)


# ---------------------------------------------------------------- tokend -t

def config_case(name, service_items, files=()):
    t = T.case_instance("tkd-formats-conf-", name)
    t.write_secrets(uid=new_secret(), a=new_secret())
    t.write_secret("n.nodes", f"{NODES[0]},{new_secret()}\n")
    for f, text in files:
        t.write_secret(f, text)
    t.write_jwks("example.jwks", [T.Key("EdDSA")])
    conf = t.write_config(t.server_section(), T.issuer_section(),
                          ("service s", service_items))
    return conf, t.lines


@standalone
def config_check_formats_and_nodes():
    good = [
        [("format", "fernet"), ("secret_file", "a.secret"),
         ("node", NODES[0])],
        [("nodes_file", "n.nodes"), ("format", "tokenlib")],
    ]
    for items in good:
        conf, _ = config_case("good", items)
        rc, out, err = T.check_config(conf)
        assert rc == 0, f"{items}: exit {rc}: {err.strip()}"
    bad = [
        ([("format", "jwe"), ("secret_file", "a.secret"),
          ("node", NODES[0])], ("service s", "format"),
         "expected tokenlib or fernet"),
        ([("nodes_file", "n.nodes"), ("node", NODES[0])],
         ("service s", None), "nodes_file replaces node and secret_file"),
        ([("nodes_file", "bad.nodes")], ("service s", "nodes_file"),
         "line 2: the node has no secret"),
        ([("secret_file", "two.secret"), ("node", NODES[0])],
         ("service s", "secret_file"), "line 2: secret is 5 bytes"),
    ]
    for items, where, words in bad:
        conf, lines = config_case(
            "bad", items, files=[("bad.nodes", f"{NODES[0]},{new_secret()}\n"
                                  f"{NODES[1]}\n"),
                                 ("two.secret", f"{new_secret()}\nshort\n")])
        rc, out, err = T.check_config(conf)
        assert rc == 1, f"{items}: exit {rc}"
        assert f"{conf}:{lines[where]}: " in err, \
            f"{items}: {err.strip()!r} not at line {lines[where]}"
        assert words in err, f"{items}: {err.strip()!r} lacks {words!r}"


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=120)
