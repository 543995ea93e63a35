"""End-to-end tests of tokend's JWT verification: every algorithm, issuer
options, key rotation without restart, and keys fetched over HTTPS.

Every assertion here is signed by Python's `cryptography` (or hmac), not
by anything of tokend's, and sent to the real daemon over HTTP:

  algorithms   RS256/384/512, PS256/384/512 (MGF1 same hash, salt = hash
               length), ES256/384/512 (raw r||s), EdDSA, HS256/384/512
               with a configured shared secret: each gives a token whose
               uid is the same for the same sub; each tampered one, and
               each alg/key mix-up, gets its own 401
  options      identity_claim = email (uid of the address, domain folded),
               require = email_verified=true, services restriction
  rotation     the JWKS file rewritten while client threads send requests:
               none fails, the new kid is accepted at once, the old one is
               refused once removed, a broken file keeps the keys in use
  jwks_url     a local HTTPS server on 127.0.0.1 (its own CA, made here):
               fetched at start, refetched on an unknown kid (rate
               limited), refreshed on an interval, the last good set kept
               while the server fails; an untrusted certificate is refused
  tokend -t    the new keys' errors with FILE:LINE; a jwks_url need not be
               reachable to check a config

Run from the repository root:  /usr/bin/python3 tests/integration/test_jwt.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import re
import ssl
import sys
import threading
import time
import types

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import (AUD, OTHER, OTHER_NODE, SYNC,  # noqa: E402
                        SYNC_NODE, new_secret, standalone, test)

ALL_ISS = "https://all.example.com"
MAIL_ISS = "https://mail.example.com"
ROT_ISS = "https://rotate.example.com"
WEB_ISS = "https://web.example.com"

ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512")
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
CURVES = {"ES256": (ec.SECP256R1, "P-256", 32),
          "ES384": (ec.SECP384R1, "P-384", 48),
          "ES512": (ec.SECP521R1, "P-521", 66)}

S = types.SimpleNamespace(main=None, servers=[], uids={})


# ---------------------------------------------------------------- keys

class JKey:
    """A signing key for one key type: "RSA" (RS* and PS*), "ES256",
    "ES384", "ES512" (each its curve) or "EdDSA"."""

    def __init__(self, kind, kid):
        self.kind, self.kid = kind, kid
        if kind == "RSA":
            self.private = rsa.generate_private_key(65537, 2048)
        elif kind in CURVES:
            self.private = ec.generate_private_key(CURVES[kind][0]())
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
        self.public = self.private.public_key()

    def jwk(self):
        if self.kind == "RSA":
            n = self.public.public_numbers()
            k = {"kty": "RSA", "n": T.b64url(T._int_bytes(n.n)),
                 "e": T.b64url(T._int_bytes(n.e))}
        elif self.kind in CURVES:
            _, crv, size = CURVES[self.kind]
            n = self.public.public_numbers()
            k = {"kty": "EC", "crv": crv,
                 "x": T.b64url(T._int_bytes(n.x, size)),
                 "y": T.b64url(T._int_bytes(n.y, size))}
        else:
            raw = self.public.public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
            k = {"kty": "OKP", "crv": "Ed25519", "x": T.b64url(raw)}
        k["kid"] = self.kid
        k["use"] = "sig"
        return k

    def sign(self, alg, data, salt=None):
        """The JWS signature of data for alg (RFC 7518 section 3)."""
        if alg.startswith("RS"):
            return self.private.sign(data, padding.PKCS1v15(),
                                     HASHES[alg[2:]]())
        if alg.startswith("PS"):
            h = HASHES[alg[2:]]()
            return self.private.sign(data, padding.PSS(
                padding.MGF1(h), h.digest_size if salt is None else salt), h)
        if alg.startswith("ES"):
            size = CURVES[alg][2]
            r, s = decode_dss_signature(self.private.sign(
                data, ec.ECDSA(HASHES[alg[2:]]())))
            return T._int_bytes(r, size) + T._int_bytes(s, size)
        return self.private.sign(data)


def jwks_json(keys):
    return json.dumps({"keys": [k.jwk() for k in keys]}, indent=1) + "\n"


def write_atomic(path, text):
    """Writes path by rename, as an operator's tooling should."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def sign(alg, payload, key=None, secret=None, kid="__key__", header=None,
         salt=None):
    """Compact JWS of payload: alg with key (or HS* with secret)."""
    h = {"alg": alg, "typ": "JWT"}
    kid = (key.kid if key else None) if kid == "__key__" else kid
    if kid is not None:
        h["kid"] = kid
    h.update(header or {})
    si = (T.b64url(json.dumps(h, separators=(",", ":")).encode()) + "." +
          T.b64url(json.dumps(payload, separators=(",", ":")).encode()))
    if alg.startswith("HS"):
        sig = hmac.new(secret, si.encode(),
                       getattr(hashlib, "sha" + alg[2:])).digest()
    else:
        sig = key.sign(alg, si.encode(), salt)
    return si + "." + T.b64url(sig)


def key_for(alg):
    if alg[:2] in ("RS", "PS"):
        return S.keys["RSA"]
    return S.keys[alg if alg != "EdDSA" else "EdDSA"]


def jwt(alg, sub="alice", iss=ALL_ISS, **kw):
    """A valid assertion of issuer all for alg."""
    payload = T.claims(sub, iss=iss, aud=AUD, **kw)
    if alg.startswith("HS"):
        return sign(alg, payload, secret=S.hs_secret)
    return sign(alg, payload, key_for(alg))


# ---------------------------------------------------------------- checks

def check_token(resp, secret=None, node=SYNC_NODE):
    """A 200 with a token that parses under the service secret; the body."""
    st, _, body = resp
    assert st == 200, f"expected 200, got {st} {body!r}"
    assert isinstance(body, dict) and isinstance(body.get("uid"), int), body
    payload = T.parse_token(body["id"], secret or S.sync_secret)
    assert payload["uid"] == body["uid"], (payload, body)
    assert body["api_endpoint"] == node, body
    return body


def check_401(resp, words, what=""):
    st, _, body = resp
    pre = f"{what}: " if what else ""
    assert st == 401, f"{pre}expected 401, got {st} {body!r}"
    e = body["errors"][0]
    assert body.get("status") == "invalid-credentials", f"{pre}{body!r}"
    d = e["description"].lower()
    assert any(w in d for w in words), \
        f"{pre}description {e['description']!r} mentions none of {words}"
    return e


# ---------------------------------------------------------------- instances

def base_instance(prefix, issuers, workers=2, **server):
    """A Tokend with the standard secrets and services, and the given
    [issuer] sections (a list of (name, items))."""
    t = T.instance(prefix)
    t.write_secrets(uid=S.uid_secret, sync=S.sync_secret,
                    other=S.other_secret, end="")
    t.write_config(t.server_section(workers=workers, **server),
                   *[("issuer " + n, items) for n, items in issuers],
                   T.service_section(), T.service_section(OTHER, OTHER_NODE))
    return t


def setup():
    S.uid_secret = new_secret()
    S.sync_secret = new_secret()
    S.other_secret = new_secret()
    S.hs_secret = os.urandom(32).hex().encode()      # 64 bytes: HS512 too
    S.keys = {"RSA": JKey("RSA", "rsa"), "ES256": JKey("ES256", "p256"),
              "ES384": JKey("ES384", "p384"), "ES512": JKey("ES512", "p521"),
              "EdDSA": JKey("EdDSA", "ed")}
    S.mail_key = JKey("ES256", "mail")
    S.rot = [JKey("RSA", "rot-a"), JKey("ES256", "rot-b")]
    t = S.main = base_instance("tkd-jwt-", [
        ("all", [("iss", ALL_ISS), ("audience", AUD),
                 ("jwks_file", "all.jwks"), ("hs_secret_file", "hs.secret"),
                 ("algorithms", " ".join(ALGS))]),
        ("mail", [("iss", MAIL_ISS), ("audience", AUD),
                  ("jwks_file", "mail.jwks"), ("algorithms", "ES256"),
                  ("identity_claim", "email"),
                  ("require", "email_verified=true"),
                  ("services", SYNC)]),
        ("rot", [("iss", ROT_ISS), ("audience", AUD),
                 ("jwks_file", "rot.jwks"),
                 ("algorithms", "RS256 ES256")])])
    t.write_secret("hs.secret", S.hs_secret.decode() + "\n")
    with open(t.path("all.jwks"), "w") as f:
        f.write(jwks_json(S.keys.values()))
    with open(t.path("mail.jwks"), "w") as f:
        f.write(jwks_json([S.mail_key]))
    with open(t.path("rot.jwks"), "w") as f:
        f.write(jwks_json([S.rot[0]]))
    t.start()


def teardown(failed):
    T.teardown(failed)
    for srv in S.servers:
        srv.stop()


# ---------------------------------------------------------------- algorithms

@test
def each_algorithm_end_to_end():
    uids = set()
    for alg in ALGS:
        body = check_token(S.main.token(jwt(alg, sub="alice")))
        uids.add(body["uid"])
    # uid is of (iss, sub): one value whatever the algorithm.
    assert len(uids) == 1, f"uids of alice by algorithm: {uids}"
    S.uids["alice"] = uids.pop()


@test
def each_algorithm_second_service():
    for alg in ("PS512", "ES384", "HS384"):
        body = check_token(S.main.token(jwt(alg), OTHER), S.other_secret,
                           OTHER_NODE)
        if "alice" in S.uids:
            assert body["uid"] == S.uids["alice"], (alg, body["uid"])


@test
def each_algorithm_tampered_signature():
    for alg in ALGS:
        check_401(S.main.token(T.tamper_signature(jwt(alg))),
                  ("signature",), alg)


@test
def each_algorithm_without_kid():
    # The issuer's only key of the type (HS*: its secret) is used.
    for alg in ("RS384", "PS256", "ES512", "EdDSA"):
        a = sign(alg, T.claims("alice", iss=ALL_ISS, aud=AUD), key_for(alg),
                 kid=None)
        check_token(S.main.token(a))


@test
def hs256_shared_secret():
    check_token(S.main.token(jwt("HS256", sub="hs-user")))
    payload = T.claims("alice", iss=ALL_ISS, aud=AUD)
    check_401(S.main.token(sign("HS256", payload,
                                secret=os.urandom(32).hex().encode())),
              ("signature",), "other secret")
    # The classic confusion: the issuer's public RSA key as HMAC key.
    pem = S.keys["RSA"].public.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    check_401(S.main.token(sign("HS256", payload, secret=pem, kid="rsa")),
              ("signature",), "RSA PEM as HMAC key")
    # An issuer with no shared secret refuses HS* for that alone.
    mail = T.claims("x", iss=MAIL_ISS, aud=AUD, email="x@example.com",
                    email_verified=True)
    check_401(S.main.token(sign("HS256", mail, secret=pem)),
              ("shared secret",), "issuer without secret")


@test
def algorithm_key_mismatches():
    payload = T.claims("alice", iss=ALL_ISS, aud=AUD)
    # ES384 naming the P-256 key; ES256 naming the RSA key.
    check_401(S.main.token(sign("ES384", payload, S.keys["ES384"],
                                kid="p256")), ("curve",), "ES384/P-256")
    check_401(S.main.token(sign("ES256", payload, S.keys["ES256"],
                                kid="rsa")), ("key type",), "ES256/RSA")
    # PSS with a salt of 20 bytes (not the hash length): refused.
    check_401(S.main.token(sign("PS256", payload, S.keys["RSA"], salt=20)),
              ("signature",), "PS256 salt 20")
    # A PKCS #1 v1.5 signature labelled PS256.
    si_rs = sign("RS256", payload, S.keys["RSA"])
    h = T.b64url(json.dumps({"alg": "PS256", "kid": "rsa"}).encode())
    check_401(S.main.token(h + si_rs[si_rs.index("."):]), ("signature",),
              "RS as PS")
    check_401(S.main.token(T.b64url(b'{"alg":"none"}') + "." +
                           si_rs.split(".")[1] + "." + T.b64url(b"x" * 32)),
              ("none",), "alg none")
    check_401(S.main.token(sign("ES256", payload, S.keys["ES256"],
                                header={"crit": ["exp"], "exp": 1})),
              ("crit",), "crit")


# ---------------------------------------------------------------- options

def mail_jwt(email="carol@example.com", sub="mail-sub", **kw):
    kw.setdefault("email_verified", True)
    payload = T.claims(sub, iss=MAIL_ISS, aud=AUD, email=email, **kw)
    return sign("ES256", payload, S.mail_key)


@test
def identity_claim_email():
    a = check_token(S.main.token(mail_jwt("Carol@Example.COM")))
    b = check_token(S.main.token(mail_jwt("Carol@example.com",
                                          sub="another-sub")))
    # The identity is the address (domain folded), not the sub.
    assert a["uid"] == b["uid"], (a["uid"], b["uid"])
    c = check_token(S.main.token(mail_jwt("dave@example.com")))
    assert c["uid"] != a["uid"]
    check_401(S.main.token(mail_jwt(None)), ("email",), "no email")
    check_401(S.main.token(mail_jwt("not-an-address")), ("email",),
              "no address")
    check_401(S.main.token(mail_jwt("carol@localhost")), ("email",),
              "single-label domain")


def expected_uid(ns, sub):
    """docs/tokens.md: HMAC-SHA256(uid_secret, namespace || 0x00 || sub),
    the first 8 bytes big-endian, shifted right by 11."""
    mac = hmac.new(S.uid_secret.encode(), ns.encode() + b"\x00" +
                   sub.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 11


@test
def uid_of_email_domain_folded_local_part_kept():
    # One rule on both paths (docs/tokens.md): the domain lower-cased, the
    # local part as given; the namespace is the issuer's iss by default.
    def uid(email):
        return check_token(S.main.token(mail_jwt(email)))["uid"]

    bob = expected_uid(MAIL_ISS, "Bob@x.example")
    assert uid("Bob@X.Example") == bob, "Bob@X.Example"
    assert uid("Bob@x.example") == bob, "Bob@x.example"
    low = expected_uid(MAIL_ISS, "bob@x.example")
    assert low != bob and uid("bob@x.example") == low, "bob@x.example"
    # A sub identity is used as it stands, with the same namespace.
    assert check_token(S.main.token(jwt("ES256", sub="Bob@X.Example")))[
        "uid"] == expected_uid(ALL_ISS, "Bob@X.Example")


@test
def require_email_verified_true():
    check_401(S.main.token(mail_jwt(email_verified=False)),
              ("requires",), "false")
    check_401(S.main.token(mail_jwt(email_verified="true")),
              ("requires",), "string \"true\"")
    check_401(S.main.token(mail_jwt(email_verified=None)),
              ("requires",), "missing")


@test
def services_restriction():
    check_token(S.main.token(mail_jwt(), SYNC))
    e = check_401(S.main.token(mail_jwt(), OTHER),
                  ("not accepted for this service",), "mail -> other")
    assert e["name"] == "assertion", e
    # The other issuers may use both.
    check_token(S.main.token(jwt("ES256"), OTHER), S.other_secret,
                OTHER_NODE)


# ---------------------------------------------------------------- rotation

def rot_jwt(key, sub="rot-user"):
    alg = "RS256" if key.kind == "RSA" else "ES256"
    return sign(alg, T.claims(sub, iss=ROT_ISS, aud=AUD), key)


class Switch:
    """Which rotation keys the load threads sign with, changed live."""

    def __init__(self, keys):
        self.keys = list(keys)
        self.lock = threading.Lock()

    def set(self, keys):
        with self.lock:
            self.keys = list(keys)

    def request(self, i, n):
        with self.lock:
            key = self.keys[(i + n) % len(self.keys)]
        return ("POST", "/v1/token", {"assertion": rot_jwt(key),
                                      "service": SYNC})


@test
def jwks_file_rotation_while_requests_flow():
    t, (a, b) = S.main, S.rot
    path = t.path("rot.jwks")
    sw = Switch([a])
    load = T.Load(t.port, sw.request, threads=4, seconds=40).start()
    try:
        load.wait_count(40)
        mark = t.log_mark()
        # 1. Publish B beside A; clients use both at once: the worker
        #    that has not seen the change yet rereads the file on B's
        #    unknown kid, so no request fails.
        write_atomic(path, jwks_json([a, b]))
        sw.set([a, b])
        n = load.count()
        load.wait_count(n + 80)
        # Every worker has the new version (by B's kid, or its own check
        # of the file within a second or two).
        t.wait_log(r"issuer rot: 2 keys loaded from", since=mark, count=2)
        # 2. Clients move to B; then A is withdrawn.
        sw.set([b])
        n = load.count()
        load.wait_count(n + 40)
        write_atomic(path, jwks_json([b]))
        t.wait_log(r"issuer rot: 1 keys loaded from", since=mark, count=2)
        n = load.count()
        load.wait_count(n + 80)
        # 3. A broken version (written in place) keeps B serving.
        with open(path, "w") as f:
            f.write('{"keys": [')
        t.wait_log(r"issuer rot: .*invalid JSON.*keeping the keys in use",
                   since=mark)
        n = load.count()
        load.wait_count(n + 40)
        write_atomic(path, jwks_json([b]))
        n = load.count()
        load.wait_count(n + 40)
    finally:
        load.stop()
    bad = load.failures()
    assert not bad, f"{len(bad)} of {len(load.results)} failed, e.g. " \
                    f"{bad[:3]} {[o.body for o in bad[:3]]}"
    assert len(load.results) >= 320, len(load.results)
    # A, withdrawn, is now refused by every worker; B is accepted.
    for _ in range(6):
        check_401(t.token(rot_jwt(a)), ("kid",), "A after removal")
        check_token(t.token(rot_jwt(b)))


@test
def jwks_file_new_kid_accepted_at_once():
    # No waiting for the once-a-second check: the unknown kid itself
    # makes the worker reread the file.
    t, c = S.main, JKey("RSA", "rot-c")
    write_atomic(t.path("rot.jwks"), jwks_json([S.rot[1], c]))
    for _ in range(4):                  # both workers, each at once
        check_token(t.token(rot_jwt(c)))


# ---------------------------------------------------------------- HTTPS

def make_ca_and_cert(d):
    """A CA and a server certificate for IP 127.0.0.1 under it; returns
    (ca path, cert path, key path)."""
    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "tokend test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name)
          .issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                         critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=False, content_commitment=False,
              key_encipherment=False, data_encipherment=False,
              key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(d, n) for n in ("ca.pem", "cert.pem", "key.pem")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class JwksServer:
    """HTTPS on 127.0.0.1, serving /jwks.json from a settable body and
    status, and counting the requests."""

    def __init__(self, cert, key):
        self.body, self.status = b"{}", 200
        self.count = 0
        self.lock = threading.Lock()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with srv.lock:
                    srv.count += 1
                    body, status = srv.body, srv.status
                if self.path != "/jwks.json":
                    body, status = b"not found", 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        S.servers.append(self)

    def serve(self, keys=None, status=200, raw=None):
        with self.lock:
            self.status = status
            self.body = raw if raw is not None else \
                jwks_json(keys or []).encode()

    def requests(self):
        with self.lock:
            return self.count

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def web_jwt(key, sub="web-user"):
    return sign("ES256", T.claims(sub, iss=WEB_ISS, aud=AUD), key)


def web_instance(prefix, server, ca=True, refresh=None, jwks_file=None):
    """One worker, issuer web with server's jwks_url (trusting the test
    CA if ca), and optionally a jwks_file of those keys."""
    items = [("iss", WEB_ISS), ("audience", AUD),
             ("jwks_url", server.url), ("algorithms", "ES256")]
    if refresh is not None:
        items.append(("jwks_refresh", refresh))
    if ca:
        items.append(("jwks_ca_file", S.ca))
    if jwks_file is not None:
        items.append(("jwks_file", "web.jwks"))
    t = base_instance(prefix, [("web", items)], workers=1)
    if jwks_file is not None:
        with open(t.path("web.jwks"), "w") as f:
            f.write(jwks_json(jwks_file))
    return t


def https_setup():
    """The test CA and server certificate, made once, in their own dir
    (an instance dir, so teardown removes it)."""
    if getattr(S, "ca", None) is None:
        t = T.instance("tkd-tls-")
        S.ca, S.cert, S.key = make_ca_and_cert(t.dir)


@test
def jwks_url_fetched_at_start_and_on_unknown_kid():
    https_setup()
    srv = JwksServer(S.cert, S.key)
    a, b, c = (JKey("ES256", k) for k in ("web-a", "web-b", "web-c"))
    srv.serve([a])
    t = web_instance("tkd-url-", srv)
    t.start()
    # The worker fetches at start, before any token asks it to.
    t.wait_log(r"issuer web: 1 keys fetched from https://127\.0\.0\.1")
    assert srv.requests() == 1, srv.requests()
    check_token(t.token(web_jwt(a)))
    assert srv.requests() == 1, "a known kid made a fetch"

    n = srv.requests()
    # The issuer rotates to B: B's unknown kid fetches the set at once.
    srv.serve([b])
    check_token(t.token(web_jwt(b)))
    assert srv.requests() == n + 1, (n, srv.requests())
    check_token(t.token(web_jwt(b)))
    assert srv.requests() == n + 1, "a known kid fetched again"
    # Another rotation within 30 s: the unknown-kid fetch is rate limited,
    # so C is refused without a request; A (gone from the set) too.
    srv.serve([c])
    for key in (c, c, a):
        check_401(t.token(web_jwt(key)), ("kid",), key.kid)
    assert srv.requests() == n + 1, (n, srv.requests())
    check_token(t.token(web_jwt(b)))
    t.stop()


@test
def jwks_url_refresh_keeps_last_good_set_on_failure():
    https_setup()
    srv = JwksServer(S.cert, S.key)
    a, b = JKey("ES256", "fail-a"), JKey("ES256", "fail-b")
    srv.serve([a])
    t = web_instance("tkd-urlfail-", srv, refresh=1)
    t.start()
    check_token(t.token(web_jwt(a)))
    mark = t.log_mark()
    # Server errors, then garbage, then an empty set: A keeps working.
    for status, raw, why in ((500, b"oops", r"HTTP status 500"),
                             (200, b"<html>", r"invalid JSON"),
                             (200, b'{"keys":[]}', r'"keys" is empty')):
        srv.serve(status=status, raw=raw)
        t.wait_log(r"issuer web: jwks_url https://127\.0\.0\.1:\d+/"
                   r"jwks\.json: .*" + why + r".*keeping the keys in use",
                   since=mark, timeout=10)
        check_token(t.token(web_jwt(a)))
    # The server is back with B only: within a refresh or two B works
    # and A is gone.
    srv.serve([b])
    T.wait_until(lambda: t.token(web_jwt(b))[0] == 200, 10,
                 what="B accepted after the server recovered")
    check_401(t.token(web_jwt(a)), ("kid",), "A after refresh")
    t.stop()


@test
def jwks_url_untrusted_certificate_refused():
    # No jwks_ca_file: the test CA is not trusted, so the fetch fails and
    # the issuer has no keys; with a jwks_file, its keys serve meanwhile.
    https_setup()
    srv = JwksServer(S.cert, S.key)
    a, f = JKey("ES256", "tls-a"), JKey("ES256", "file-f")
    srv.serve([a])
    t = web_instance("tkd-urltls-", srv, ca=False)
    t.start()
    t.wait_log(r"issuer web: jwks_url .*(certificate|SSL).*keeping")
    # The token asks for another fetch (no keys at all): it fails as fast
    # as the TLS handshake fails, "not available", or, when that takes
    # longer than KEYS_WAIT_MS (a loaded machine, sanitizers), the set is
    # "being refreshed".  Either way, never a token.
    check_401(t.token(web_jwt(a)), ("not available", "being refreshed"),
              "no keys")
    t.stop()
    t2 = web_instance("tkd-urlfile-", srv, ca=False, jwks_file=[f])
    t2.start()
    check_token(t2.token(web_jwt(f)))
    check_401(t2.token(web_jwt(a)), ("kid",), "URL key, fetch failed")
    t2.stop()


# ---------------------------------------------------------------- tokend -t

def conf_case(name, issuer_items, files=()):
    t = T.instance(f"tkd-jwtconf-{name}-")
    t.write_secrets(uid=new_secret(), sync=new_secret(), end="")
    t.write_secret("hs.secret", "h" * 40)
    with open(t.path("k.jwks"), "w") as f:
        f.write(jwks_json([JKey("ES256", "k")]))
    conf = t.write_config(
        t.server_section(),
        ("issuer x", [("iss", "https://x.example"), ("audience", AUD)] +
         issuer_items),
        T.service_section())
    return t, conf


def expect_check(t, conf, key, words):
    """tokend -t exits 1 naming CONF:LINE of key in [issuer x]."""
    rc, _, err = T.check_config(conf)
    assert rc == 1, f"exit {rc}, stderr {err.strip()!r}"
    line = t.lines[("issuer x", key)] if key else t.lines[("issuer x", None)]
    assert f"{conf}:{line}: " in err, \
        f"no {conf}:{line}: in {err.strip()!r}"
    assert any(w in err for w in words), \
        f"stderr {err.strip()!r} mentions none of {words}"


@standalone
def config_check_jwt_keys():
    cases = [
        ("http", [("jwks_url", "http://127.0.0.1:1/jwks.json")],
         "jwks_url", ("https://",)),
        ("hsnosecret", [("jwks_file", "k.jwks"),
                        ("algorithms", "ES256 HS256")],
         "algorithms", ("HS256 needs hs_secret_file",)),
        ("hsshort", [("hs_secret_file", "hs.secret"),
                     ("algorithms", "HS384")],
         "hs_secret_file", ("at least 48 bytes",)),
        ("nokeys", [("algorithms", "RS256")], None, ("has no keys",)),
        ("pknokeys", [("hs_secret_file", "hs.secret"),
                      ("algorithms", "HS256 RS256")],
         "algorithms", ("RS256 needs jwks_file or jwks_url",)),
        ("cawithouturl", [("jwks_file", "k.jwks"),
                          ("jwks_ca_file", "k.jwks")],
         "jwks_ca_file", ("no jwks_url",)),
        ("idclaim", [("jwks_file", "k.jwks"), ("identity_claim", "name")],
         "identity_claim", ("sub or email",)),
        ("require", [("jwks_file", "k.jwks"), ("require", "email_verified")],
         "require", ("claim=value",)),
        ("services", [("jwks_file", "k.jwks"), ("services", "nosuch")],
         None, ("no [service nosuch]",)),
        ("alg", [("jwks_file", "k.jwks"), ("algorithms", "ES256 HS1")],
         "algorithms", ("unsupported algorithm \"HS1\"",)),
    ]
    for name, items, key, words in cases:
        t, conf = conf_case(name, items)
        try:
            expect_check(t, conf, key, words)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


@standalone
def config_check_unreachable_jwks_url_is_fine():
    # tokend -t never fetches: a worker does, at start.
    t, conf = conf_case("unreachable", [
        ("jwks_url", "https://127.0.0.1:1/jwks.json"),
        ("jwks_refresh", 60), ("algorithms", "ES256 EdDSA")])
    rc, _, err = T.check_config(conf)
    assert rc == 0, f"exit {rc}, stderr {err.strip()!r}"
    t2, conf2 = conf_case("all", [
        ("jwks_file", "k.jwks"), ("hs_secret_file", "hs.secret"),
        ("algorithms", "RS256 PS384 ES256 EdDSA HS256"),
        ("identity_claim", "email"), ("require",
                                      "email_verified=true hd=example.com"),
        ("services", SYNC), ("leeway", 30)])
    rc, _, err = T.check_config(conf2)
    assert rc == 0, f"exit {rc}, stderr {err.strip()!r}"


if __name__ == "__main__":
    T.run(setup, teardown, per_test_timeout=90)
