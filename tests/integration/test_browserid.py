"""End-to-end tests of BrowserID backed assertions against the real tokend.

One tokend is started for the whole file with:

  [browserid idp]       issuer idp.example, a fresh RSA 2048 root key,
                        audience https://token.example, secondary off
  [browserid fallback]  issuer fallback.example, a fresh DSA 2048/256 root
                        key (saved as a /.well-known/browserid support
                        document), secondary on, services = sync-1.5
  [issuer jwt]          a JWT issuer, to show the worker tells the formats
                        apart
  [service sync-1.5], [service other-1.0]

Every assertion is made by tests/browserid_gen.py, the independent
generator (plain-Python RSA and DSA from the BrowserID spec and
PyBrowserID), at the current time in milliseconds.  A good one must give
200 with a tokenlib token that tokendtest's own tokenlib accepts, a key
derived as tokenlib derives it, and the uid docs/tokens.md gives: the
keyed hash of (issuer domain, email with its domain lower-cased).  A chain
of certificates, however well signed, is refused.  A bad one must give 401 with the sentence that
names its fault.  Then `tokend -t` on [browserid] configs.

Run from the repository root:  /usr/bin/python3 tests/integration/test_browserid.py
"""

import hashlib
import hmac
import os
import re
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import browserid_gen as G  # noqa: E402
import tokendtest as T  # noqa: E402
from tokendtest import (OTHER, OTHER_NODE, SYNC, SYNC_NODE,  # noqa: E402
                        new_secret, standalone, test)

AUD = "https://token.example"
IDP = "idp.example"
FALLBACK = "fallback.example"
JWT_ISS = "https://jwt.example.com"
MIN = 60 * 1000

S = types.SimpleNamespace(t=None)


def write_json(t, rel, obj):
    import json
    with open(t.path(rel), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def setup():
    S.idp = G.RSKey.generate(2048)
    S.fallback = G.DSKey.generate(2048)
    S.stranger = G.RSKey.generate(2048)
    S.user = G.RSKey.generate(2048)
    S.user_ds = G.DSKey.generate(1024)
    S.inter = G.RSKey.generate(2048)
    S.mallory = G.RSKey.generate(2048)
    S.small = G.RSKey.generate(512)
    S.jwt_key = T.Key("RS256")
    S.uid_secret = new_secret()
    S.sync_secret = new_secret()
    S.other_secret = new_secret()
    t = S.t = T.instance("tkd-bid-")
    t.write_secrets(uid=S.uid_secret, sync=S.sync_secret,
                    other=S.other_secret)
    write_json(t, "idp.pub.json", S.idp.public())
    write_json(t, "fallback.json", {"public-key": S.fallback.public(),
                                    "authentication": "/sign_in",
                                    "provisioning": "/provision"})
    t.write_jwks("jwt.jwks", [S.jwt_key])
    t.write_config(
        t.server_section(workers=2),
        T.issuer_section("jwt", JWT_ISS, "jwt.jwks", audience=AUD),
        ("browserid idp", [("issuer", IDP),
                           ("public_key_file", "idp.pub.json"),
                           ("audience", AUD), ("leeway", 60)]),
        ("browserid fallback", [("issuer", FALLBACK),
                                ("public_key_file", "fallback.json"),
                                ("audience", AUD), ("secondary", "on"),
                                ("services", SYNC)]),
        T.service_section(duration=1800),
        T.service_section(OTHER, OTHER_NODE, duration=600))
    t.start()


# ---------------------------------------------------------------- assertions

def now_ms():
    return int(time.time() * 1000)


def cert(user=None, email="alice@idp.example", signer=None, alg="RS256",
         iss=IDP, iat=None, exp=None, **kw):
    now = now_ms()
    return G.certificate(signer or S.idp, alg, iss, email, user or S.user,
                         now - MIN if iat is None else iat,
                         now + 60 * MIN if exp is None else exp, **kw)


def asr(user=None, alg="RS256", aud=AUD, exp=None, **kw):
    return G.assertion(user or S.user, alg, aud,
                       now_ms() + 2 * MIN if exp is None else exp, **kw)


def good():
    return G.backed([cert()], asr())


def expected_uid(iss, sub):
    """docs/tokens.md: HMAC-SHA256(uid_secret, iss || 0x00 || sub), the
    first 8 bytes big-endian, shifted right by 11."""
    mac = hmac.new(S.uid_secret.encode(), iss.encode() + b"\x00" +
                   sub.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 11


# ---------------------------------------------------------------- checks

def check_token(resp, uid, secret=None, node=SYNC_NODE, duration=1800):
    st, h, body = resp
    assert st == 200, f"expected 200, got {st} {body!r}"
    assert isinstance(body, dict), body
    assert body.get("uid") == uid, f"uid {body.get('uid')} != {uid}"
    assert body.get("api_endpoint") == node, body
    assert body.get("duration") == duration, body
    secret = secret or S.sync_secret
    try:
        payload = T.parse_token(body["id"], secret)
    except T.TokenError as e:
        raise AssertionError(f"token does not parse: {e}") from None
    assert payload["uid"] == uid and payload["node"] == node, payload
    assert abs(payload["expires"] - (time.time() + duration)) < 5, payload
    assert body["key"] == T.get_derived_secret(body["id"], secret), \
        "key is not the derived secret"
    return body


def check_401(resp, words, timestamp=False, what=""):
    """401 invalid-credentials on the assertion, the description holding
    every one of words; a clock fault also carries X-Timestamp."""
    st, h, body = resp
    pre = f"{what}: " if what else ""
    assert st == 401, f"{pre}expected 401, got {st} {body!r}"
    assert isinstance(body, dict) and body.get("status") == \
        "invalid-credentials", f"{pre}{body!r}"
    e = body["errors"][0]
    assert e.get("name") == "assertion", f"{pre}{e!r}"
    d = e.get("description", "")
    for w in words:
        assert w.lower() in d.lower(), f"{pre}description {d!r} lacks {w!r}"
    if timestamp:
        ts = h.get("x-timestamp", "")
        assert re.fullmatch(r"[0-9]+", ts) and \
            abs(int(ts) - time.time()) < 30, f"{pre}X-Timestamp {ts!r}"
    return body


def reject(assertion, words, service=SYNC, **kw):
    return check_401(S.t.token(assertion, service), words, **kw)


# ---------------------------------------------------------------- 200

@test
def token_rs256_cert_rs256_assertion():
    check_token(S.t.token(good()), expected_uid(IDP, "alice@idp.example"))


@test
def token_ds128_user_key():
    a = G.backed([cert(S.user_ds)], asr(S.user_ds, "DS128"))
    check_token(S.t.token(a), expected_uid(IDP, "alice@idp.example"))


@test
def token_secondary_issuer_dsa_root_other_domain():
    a = G.backed([cert(email="bob@elsewhere.example", signer=S.fallback,
                       alg="DS256", iss=FALLBACK)], asr())
    check_token(S.t.token(a), expected_uid(FALLBACK, "bob@elsewhere.example"))


@test
def token_other_service_own_secret():
    check_token(S.t.token(good(), OTHER),
                expected_uid(IDP, "alice@idp.example"), S.other_secret,
                OTHER_NODE, 600)


@test
def token_authorization_browserid_header():
    resp = S.t.post("/v1/token", {"service": SYNC},
                    headers={"Authorization": "BrowserID " + good()})
    check_token(resp, expected_uid(IDP, "alice@idp.example"))


@test
def scheme_reaches_its_own_verifier_only():
    # The front names the verifier from the scheme (JOB field kind), and
    # the worker sends the assertion to that one only: each is valid for
    # the other verifier, so reaching it would mint a token.
    jwt = T.sign_jwt(S.jwt_key, T.claims("alice", iss=JWT_ISS, aud=AUD))
    for path, hdr in (("POST", "BrowserID " + jwt),
                      ("GET", "BrowserID " + jwt)):
        resp = (S.t.post("/v1/token", {"service": SYNC},
                         headers={"Authorization": hdr}) if path == "POST"
                else S.t.get("/1.0/sync/1.5", headers={"Authorization": hdr}))
        st, h, body = resp
        assert st == 401, (path, st, body)
        assert "BrowserID assertion was expected" in str(body), (path, body)
    st, h, body = S.t.post("/v1/token", {"service": SYNC},
                           headers={"Authorization": "Bearer " + good()})
    assert st == 401 and "a JWT was expected" in str(body), (st, body)
    # Unnamed (the assertion in the body): by the look, as before.
    check_token(S.t.token(good()), expected_uid(IDP, "alice@idp.example"))
    check_token(S.t.token(jwt), expected_uid(JWT_ISS, "alice"))


@test
def token_tokenserver_get_with_browserid():
    st, h, body = S.t.get("/1.0/sync/1.5",
                          headers={"Authorization": "BrowserID " + good()})
    assert st == 200, (st, body)
    assert body["uid"] == expected_uid(IDP, "alice@idp.example"), body
    T.parse_token(body["id"], S.sync_secret)


@test
def token_jwt_still_dispatched_to_jwt():
    jwt = T.sign_jwt(S.jwt_key, T.claims("alice", iss=JWT_ISS, aud=AUD))
    check_token(S.t.token(jwt), expected_uid(JWT_ISS, "alice"))


@test
def uid_email_domain_case_folded_local_part_kept():
    # docs/tokens.md: the domain lower-cased, the local part as given, so
    # Bob@IDP.Example and Bob@idp.example are one user, bob@ another.
    def minted(email, uid, **kw):
        check_token(S.t.token(G.backed([cert(email=email, **kw)], asr())),
                    uid)

    bob, low = (expected_uid(IDP, "Bob@idp.example"),
                expected_uid(IDP, "bob@idp.example"))
    assert bob != low
    minted("Bob@IDP.Example", bob)
    minted("Bob@idp.example", bob)
    minted("bob@idp.example", low)
    fb = dict(signer=S.fallback, alg="DS256", iss=FALLBACK)
    bob, low = (expected_uid(FALLBACK, "Bob@x.example"),
                expected_uid(FALLBACK, "bob@x.example"))
    minted("Bob@X.Example", bob, **fb)
    minted("Bob@x.example", bob, **fb)
    minted("bob@x.example", low, **fb)


@test
def uid_differs_by_email_and_issuer():
    a = check_token(S.t.token(G.backed([cert(email="zed@idp.example")],
                                       asr())),
                    expected_uid(IDP, "zed@idp.example"))["uid"]
    b = expected_uid(IDP, "alice@idp.example")
    c = expected_uid(FALLBACK, "alice@idp.example")
    assert len({a, b, c}) == 3, (a, b, c)


@test
def uid_namespace_shared_by_both_paths_only_when_both_say_so():
    # docs/tokens.md: an [issuer] and a [browserid] section that both set
    # uid_namespace = shared.example give a mailbox one uid whichever way
    # it comes, with the one email rule; the defaults keep them apart.
    t = T.instance("tkd-bidns-")
    t.write_secrets(uid=S.uid_secret, sync=S.sync_secret)
    write_json(t, "fallback.json", S.fallback.public())
    t.write_jwks("jwt.jwks", [S.jwt_key])
    t.write_config(
        t.server_section(workers=1),
        T.issuer_section("oidc", JWT_ISS, "jwt.jwks", audience=AUD,
                         identity_claim="email",
                         uid_namespace="shared.example"),
        ("browserid fallback", [("issuer", FALLBACK),
                                ("public_key_file", "fallback.json"),
                                ("audience", AUD), ("secondary", "on"),
                                ("uid_namespace", "shared.example")]),
        T.service_section(duration=1800))
    t.start()
    try:
        want = expected_uid("shared.example", "Bob@x.example")
        jwt = T.sign_jwt(S.jwt_key, T.claims("any-sub", iss=JWT_ISS,
                                             aud=AUD, email="Bob@X.Example"))
        check_token(t.token(jwt), want)
        bid = G.backed([cert(email="Bob@x.example", signer=S.fallback,
                             alg="DS256", iss=FALLBACK)], asr())
        check_token(t.token(bid), want)
        # In the main instance the same two are two users.
        assert want != expected_uid(FALLBACK, "Bob@x.example")
        check_token(S.t.token(bid), expected_uid(FALLBACK, "Bob@x.example"))
    finally:
        t.stop()


# ---------------------------------------------------------------- 401

@test
def reject_wrong_audience():
    reject(G.backed([cert()], asr(aud="https://other.example")),
           ["audience"])


@test
def reject_expired_assertion():
    reject(G.backed([cert()], asr(exp=now_ms() - 2 * MIN)),
           ["assertion expired"], timestamp=True)


@test
def reject_expired_certificate():
    reject(G.backed([cert(exp=now_ms() - 2 * MIN)], asr()),
           ["certificate expired"], timestamp=True)


@test
def reject_certificate_issued_in_future():
    reject(G.backed([cert(iat=now_ms() + 5 * MIN)], asr()),
           ["certificate issued in the future"], timestamp=True)


@test
def reject_expired_assertion_tokenserver_invalid_timestamp():
    a = G.backed([cert()], asr(exp=now_ms() - 2 * MIN))
    st, h, body = S.t.get("/1.0/sync/1.5",
                          headers={"Authorization": "BrowserID " + a})
    assert st == 401 and body.get("status") == "invalid-timestamp", \
        (st, body)
    assert "x-timestamp" in h, h


@test
def reject_tampered_certificate_signature():
    reject(G.backed([G.tamper_sig(cert())], asr()),
           ["certificate signature does not verify"])


@test
def reject_certificate_email_swapped():
    c = cert()
    forged = G.swap_payload(c, dict(G.claims_of(c), principal={
        "email": "mallory@idp.example"}))
    reject(G.backed([forged], asr()), ["certificate signature"])


@test
def reject_assertion_signed_by_other_key():
    reject(G.backed([cert()], asr(S.stranger)),
           ["assertion signature does not verify"])


@test
def reject_unknown_issuer():
    reject(G.backed([cert(iss="stranger.example",
                          email="a@stranger.example",
                          signer=S.stranger)], asr()),
           ["issuer", "not trusted"])


@test
def reject_email_domain_without_secondary():
    reject(G.backed([cert(email="bob@elsewhere.example")], asr()),
           ["may not vouch"])


@test
def reject_email_domain_prefix_or_extension_of_issuer():
    # Compared whole: neither a shorter nor a longer name is the issuer's.
    for email in ("alice@idp.exampl", "alice@idp", "alice@idp.example.evil",
                  "alice@xidp.example"):
        reject(G.backed([cert(email=email)], asr()), ["may not vouch"],
               what=email)


@test
def reject_issuer_not_allowed_for_service():
    a = G.backed([cert(email="bob@elsewhere.example", signer=S.fallback,
                       alg="DS256", iss=FALLBACK)], asr())
    reject(a, ["not allowed for this service"], service=OTHER)


@test
def reject_user_key_too_small():
    reject(G.backed([cert(S.small)], asr(S.small, "RS64")),
           ["key too small"])


# ---------------------------------------------------------------- chains
#
# A certificate after the first is signed by the key the one before it
# certifies: whoever holds that key, a user of the issuer, could vouch for
# anyone.  One certificate, signed by the issuer, is all tokend accepts;
# every chain below is well signed link by link.

CHAIN = ["certificate chains are not accepted"]


@test
def reject_chain_mallory_certifies_alice():
    # Mallory's genuine certificate is for her own key; she certifies a
    # fresh key as alice@idp.example and signs the assertion with it.
    fresh = G.RSKey.generate(2048)
    a = G.backed([cert(S.mallory, email="mallory@idp.example"),
                  cert(fresh, signer=S.mallory)], asr(fresh))
    reject(a, CHAIN)
    # Her own, unchained, is fine: she is only refused as alice.
    check_token(S.t.token(G.backed(
        [cert(S.mallory, email="mallory@idp.example")], asr(S.mallory))),
        expected_uid(IDP, "mallory@idp.example"))


@test
def reject_chain_intermediate_iss_is_a_user():
    a = G.backed([cert(S.mallory, email="mallory@idp.example"),
                  cert(signer=S.mallory, iss="mallory@idp.example")], asr())
    reject(a, CHAIN)


@test
def reject_chain_from_secondary_issuer_to_other_domain():
    a = G.backed([cert(S.mallory, email="mallory@fallback.example",
                       signer=S.fallback, alg="DS256", iss=FALLBACK),
                  cert(signer=S.mallory, iss="mallory@fallback.example")],
                 asr())
    reject(a, CHAIN)


@test
def reject_chain_of_two_certificates():
    a = G.backed([cert(S.inter, email="ca@idp.example"),
                  cert(signer=S.inter)], asr())
    reject(a, CHAIN)


@test
def reject_chain_of_four_and_five_certificates():
    for n in (4, 5):
        certs = [cert(S.inter, email="ca@idp.example")] + \
            [cert(S.inter, signer=S.inter) for _ in range(n - 2)] + \
            [cert(signer=S.inter)]
        reject(G.backed(certs, asr()), CHAIN, what=f"{n} certificates")


@test
def reject_unsupported_algorithm():
    a = G.token({"exp": now_ms() + MIN, "aud": AUD}, S.user, "RS256",
                header={"alg": "HS256"})
    reject(G.backed([cert()], a), ["algorithm not supported"])


@test
def reject_bad_base64():
    reject(cert() + "==~" + asr(), ["base64url"])


@test
def reject_empty_assertion_part():
    reject(cert() + "~", ["certificate~assertion"])


@test
def reject_no_email():
    reject(G.backed([cert(extra={"principal": {"host": "h.example"}})],
                    asr()), ["principal email"])


@test
def body_of_exactly_max_body_reaches_the_verifier():
    # A body of exactly max_body (16384) holding a certificate and a part
    # that is no JWS: the front passes it and the worker says why.
    head = '{"assertion": "%s~' % cert()
    tail = '", "service": "%s"}' % SYNC
    text = head + "A" * (16384 - len(head) - len(tail)) + tail
    assert len(text) == 16384
    check_401(S.t.request("POST", "/v1/token", text,
                          {"Content-Type": "application/json"}),
              ["three dot-separated parts"])


# ---------------------------------------------------------------- generator

@standalone
def generator_selftest_against_published_vectors():
    # The generator every test here relies on must agree with the spec's
    # example, PyBrowserID's assertion and OpenSSL (browserid_gen.py).
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = G.selftest()
    assert rc == 0, "generator self-test failed:\n" + "\n".join(
        line for line in out.getvalue().splitlines()
        if line.startswith("FAIL"))


# ---------------------------------------------------------------- tokend -t

def check_conf(sections, files=()):
    t = T.instance("tkd-bidconf-")
    t.write_secrets(uid=new_secret(), sync=new_secret(), end="")
    for name, obj in files:
        write_json(t, name, obj)
    conf = t.write_config(t.server_section(), *sections,
                          T.service_section())
    return t, conf, T.check_config(conf)


@standalone
def config_browserid_only_is_valid():
    k = G.RSKey.generate(2048)
    t, conf, (rc, out, err) = check_conf(
        [("browserid only", [("issuer", IDP),
                             ("public_key_file", "k.json"),
                             ("audience", AUD)])], [("k.json", k.public())])
    assert rc == 0, f"tokend -t refused: {err}"


@standalone
def config_small_root_key_refused_with_line():
    k = G.RSKey.generate(1024)
    t, conf, (rc, out, err) = check_conf(
        [("browserid small", [("issuer", IDP),
                              ("public_key_file", "k.json"),
                              ("audience", AUD)])], [("k.json", k.public())])
    line = t.lines[("browserid small", "public_key_file")]
    assert rc != 0, "accepted a 1024-bit root key"
    assert f"{conf}:{line}: [browserid small] public_key_file: " in err and \
        "under 256 bytes" in err, err


@standalone
def config_uid_namespace_clash_refused_with_both_sections():
    # A JWT issuer whose iss is the BrowserID issuer's domain would share
    # its uids by accident: refused unless both set uid_namespace to it.
    k = G.RSKey.generate(2048)
    t = T.instance("tkd-bidconf-")
    t.write_secrets(uid=new_secret(), sync=new_secret(), end="")
    t.write_jwks("jwt.jwks", [T.Key("ES256")])
    write_json(t, "k.json", k.public())

    def conf(issuer_ns, bid_ns):
        return t.write_config(
            t.server_section(),
            T.issuer_section("oidc", IDP, "jwt.jwks", audience=AUD,
                             **dict(issuer_ns)),
            ("browserid idp", [("issuer", IDP), ("public_key_file", "k.json"),
                               ("audience", AUD)] + bid_ns),
            T.service_section())

    shared = [("uid_namespace", IDP)]
    for issuer_ns, bid_ns in (([], []), (shared, []), ([], shared)):
        path = conf(issuer_ns, bid_ns)
        rc, out, err = T.check_config(path)
        line = t.lines[("browserid idp", None)]
        assert rc == 1, f"accepted {issuer_ns} {bid_ns}: {err}"
        assert f"{path}:{line}: [browserid idp] and [issuer oidc]" in err, err
        assert f"set uid_namespace = {IDP} in both" in err, err
    rc, out, err = T.check_config(conf(shared, shared))
    assert rc == 0, f"refused both set: {err}"
    rc, out, err = T.check_config(conf([("uid_namespace", "oidc")], []))
    assert rc == 0, f"refused distinct namespaces: {err}"


@standalone
def config_unknown_service_refused():
    k = G.RSKey.generate(2048)
    t, conf, (rc, out, err) = check_conf(
        [("browserid x", [("issuer", IDP), ("public_key_file", "k.json"),
                          ("audience", AUD), ("services", "nosuch-1.0")])],
        [("k.json", k.public())])
    assert rc != 0 and "no [service nosuch-1.0] section" in err, err


if __name__ == "__main__":
    T.run(setup, T.teardown)
