#!/usr/bin/python3
"""browserid_gen - makes BrowserID backed identity assertions for the tests.

Written from the published format, not from tokend's C: the BrowserID spec
(mozilla/id-specs, browserid/index.md, beta1: "Public Key", "Identity
Certificate", "Identity Assertion", "Backed Identity Assertion") and
PyBrowserID, the verifier of Mozilla's TokenServer (browserid/jwt.py for the
algorithm names, browserid/crypto/fallback.py for the key fields and the
signature layout, browserid/utils.py for the "~" bundle).  The signing
arithmetic is done here in plain Python (RFC 8017 EMSA-PKCS1-v1_5 and
FIPS 186-4 DSA), so that the tokend verifier, which uses OpenSSL, is
checked against an implementation that shares no code with it;
`cryptography` only generates keys and, in the self-test, cross-checks the
signatures made here.

The format, in short:

  public key    {"algorithm": "RS", "n": "<decimal>", "e": "<decimal>"}
                {"algorithm": "DS", "p", "q", "g", "y": "<hex>"}
  token         b64url(header) "." b64url(payload) "." b64url(signature),
                unpadded; header {"alg": "RS256" | "RS128" | "RS64" |
                "DS128" | "DS256"}
  RS*           RSA PKCS #1 v1.5 with SHA-256 whatever the number
  DS128, DS256  DSA with SHA-1 / SHA-256; signature r || s, 20 / 32 bytes
  certificate   payload {"iss", "iat", "exp" (ms), "public-key",
                "principal": {"email"}}, signed by the issuer (or by the key
                the previous certificate certifies)
  assertion     payload {"exp" (ms), "aud"}, signed by the certified key
  backed        cert~...~cert~assertion (the format allows a chain, and
                the generator makes them; tokend accepts one certificate)

Usage:
  browserid_gen.py selftest          check against the published vectors
  browserid_gen.py vectors DIR       (re)write the unit test vectors

The vectors are deterministic given the key files in DIR (RSA PKCS #1 v1.5
is deterministic; DSA nonces here are derived from the key and message, in
the manner of RFC 6979), so running it again over committed keys rewrites
identical files.  Missing key files are generated afresh.
"""

import base64
import hashlib
import hmac
import json
import os
import sys

# --------------------------------------------------------------- encoding


def b64url(data):
    """Unpadded base64url (the spec: "all trailing '=' are omitted")."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def int_to_bytes(x, size=None):
    if size is None:
        size = max(1, (x.bit_length() + 7) // 8)
    return x.to_bytes(size, "big")


def dumps(obj):
    """Compact JSON, as jwcrypto wrote it (PyBrowserID uses json.dumps's
    default separators; both parse the same)."""
    return json.dumps(obj, separators=(",", ":"))


# --------------------------------------------------------------- algorithms

# alg -> (key "algorithm", hash, r/s length in bytes for DS)
ALGS = {
    "RS256": ("RS", hashlib.sha256, None),
    "RS128": ("RS", hashlib.sha256, None),
    "RS64": ("RS", hashlib.sha256, None),
    "DS256": ("DS", hashlib.sha256, 32),
    "DS128": ("DS", hashlib.sha1, 20),
}

# RFC 8017 9.2 note 1: the DER DigestInfo prefix of SHA-256.
SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")


class RSKey:
    """An RSA key: n, e and, for signing, d."""

    kind = "RS"

    def __init__(self, n, e, d=None):
        self.n, self.e, self.d = n, e, d

    @classmethod
    def generate(cls, bits):
        from cryptography.hazmat.primitives.asymmetric import rsa
        k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        pn = k.private_numbers()
        key = cls(pn.public_numbers.n, pn.public_numbers.e, pn.d)
        key.ref = k             # cryptography's own, for the self-test
        return key

    @property
    def size(self):
        return (self.n.bit_length() + 7) // 8

    def public(self):
        """The spec's public key object: decimal strings."""
        return {"algorithm": "RS", "n": str(self.n), "e": str(self.e)}

    def private(self):
        """PyBrowserID's private form (jwt.RS256Key(data) with "d")."""
        return dict(self.public(), d=str(self.d))

    def encode(self, data):
        """EMSA-PKCS1-v1_5 (RFC 8017 9.2) of SHA-256(data)."""
        t = SHA256_DIGESTINFO + hashlib.sha256(data).digest()
        k = self.size
        if k < len(t) + 11:
            raise ValueError("RSA modulus too short for SHA-256")
        return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t

    def sign(self, alg, data, strip=False):
        """The signature, full length (I2OSP to the modulus length), or,
        with strip, as PyBrowserID's fallback signer writes it
        (int2bytes: leading zero bytes dropped)."""
        if ALGS[alg][0] != "RS":
            raise ValueError(f"{alg} is not an RSA algorithm")
        m = int.from_bytes(self.encode(data), "big")
        s = pow(m, self.d, self.n)
        return int_to_bytes(s) if strip else int_to_bytes(s, self.size)

    def verify(self, alg, data, sig):
        if ALGS[alg][0] != "RS" or len(sig) > self.size:
            return False
        s = int.from_bytes(sig, "big")
        if s >= self.n:
            return False
        em = int_to_bytes(pow(s, self.e, self.n), self.size)
        return hmac.compare_digest(em, self.encode(data))


class DSKey:
    """A DSA key: p, q, g, y and, for signing, x."""

    kind = "DS"

    def __init__(self, p, q, g, y, x=None):
        self.p, self.q, self.g, self.y, self.x = p, q, g, y, x

    @classmethod
    def generate(cls, bits):
        from cryptography.hazmat.primitives.asymmetric import dsa
        k = dsa.generate_private_key(key_size=bits)
        pn = k.private_numbers()
        pp = pn.public_numbers.parameter_numbers
        return cls(pp.p, pp.q, pp.g, pn.public_numbers.y, pn.x)

    @property
    def size(self):
        return (self.p.bit_length() + 7) // 8

    def public(self):
        """The spec's public key object: hex strings, lower case, no
        leading zeros (PyBrowserID's to_hex)."""
        return {"algorithm": "DS", "p": format(self.p, "x"),
                "q": format(self.q, "x"), "g": format(self.g, "x"),
                "y": format(self.y, "x")}

    def private(self):
        return dict(self.public(), x=format(self.x, "x"))

    def _z(self, alg, data):
        """FIPS 186-4 4.6: the leftmost min(N, outlen) bits of the hash."""
        h = ALGS[alg][1](data).digest()
        z = int.from_bytes(h, "big")
        excess = len(h) * 8 - self.q.bit_length()
        return z >> excess if excess > 0 else z

    def _nonce(self, data, attempt):
        """A per-message k in [1, q-1], derived from x and the message (the
        idea of RFC 6979, simplified): the same input signs the same."""
        seed = hmac.new(int_to_bytes(self.x), data + bytes([attempt]),
                        hashlib.sha512).digest()
        return int.from_bytes(seed, "big") % (self.q - 1) + 1

    def sign_rs(self, alg, data):
        """(r, s) of FIPS 186-4 4.6."""
        kind, _, n = ALGS[alg]
        if kind != "DS" or self.q.bit_length() != 8 * n:
            raise ValueError(f"{alg} needs a {8 * n}-bit q")
        z = self._z(alg, data)
        for attempt in range(256):
            k = self._nonce(data, attempt)
            r = pow(self.g, k, self.p) % self.q
            if r == 0:
                continue
            s = pow(k, -1, self.q) * (z + self.x * r) % self.q
            if s != 0:
                return r, s
        raise RuntimeError("no DSA nonce worked")

    def sign(self, alg, data, strip=False):
        """r || s, each of the algorithm's length (jwt.py BITLENGTH // 8);
        with strip, the leading zero bytes of the whole dropped."""
        r, s = self.sign_rs(alg, data)
        n = ALGS[alg][2]
        sig = int_to_bytes(r, n) + int_to_bytes(s, n)
        return sig.lstrip(b"\x00") if strip else sig

    def verify(self, alg, data, sig):
        kind, _, n = ALGS[alg]
        if kind != "DS" or len(sig) > 2 * n:
            return False
        sig = sig.rjust(2 * n, b"\x00")     # PyBrowserID: signature.rjust
        r = int.from_bytes(sig[:n], "big")
        s = int.from_bytes(sig[n:], "big")
        if not (0 < r < self.q and 0 < s < self.q):
            return False
        w = pow(s, -1, self.q)
        u1 = self._z(alg, data) * w % self.q
        u2 = r * w % self.q
        v = pow(self.g, u1, self.p) * pow(self.y, u2, self.p) % self.p
        return v % self.q == r


def load_key(obj):
    """A key from its JSON object (public or private form)."""
    if obj.get("algorithm") == "RS":
        return RSKey(int(obj["n"]), int(obj["e"]),
                     int(obj["d"]) if "d" in obj else None)
    if obj.get("algorithm") == "DS":
        return DSKey(*(int(obj[k], 16) for k in "pqgy"),
                     x=int(obj["x"], 16) if "x" in obj else None)
    raise ValueError(f"unknown algorithm {obj.get('algorithm')!r}")


def generate_key(kind, bits):
    return (RSKey if kind == "RS" else DSKey).generate(bits)


# --------------------------------------------------------------- tokens


def token(payload, key, alg, header=None, strip=False, raw_payload=None):
    """header.payload.signature of a dict payload signed with key.

    header replaces {"alg": alg} when given (a dict, or raw JSON text);
    raw_payload is JSON text used as it stands (for malformed payloads).
    """
    if header is None:
        header = {"alg": alg}
    h = header if isinstance(header, str) else dumps(header)
    p = raw_payload if raw_payload is not None else dumps(payload)
    signing_input = b64url(h.encode()) + "." + b64url(p.encode())
    sig = key.sign(alg, signing_input.encode("ascii"), strip=strip)
    return signing_input + "." + b64url(sig)


def certificate(signer, alg, iss, email, public_key, iat, exp, extra=None,
                drop=()):
    """An identity certificate: public_key (a key object or a public-key
    dict) certified for email by signer.  extra adds or replaces claims;
    drop removes them."""
    if not isinstance(public_key, dict):
        public_key = public_key.public()
    claims = {"iss": iss, "iat": iat, "exp": exp,
              "public-key": public_key, "principal": {"email": email}}
    claims.update(extra or {})
    for k in drop:
        claims.pop(k, None)
    return token(claims, signer, alg)


def assertion(user, alg, aud, exp, iat=None, extra=None, drop=(),
              strip=False):
    """An identity assertion for aud signed with the user's key."""
    claims = {"exp": exp, "aud": aud}
    if iat is not None:
        claims["iat"] = iat
    claims.update(extra or {})
    for k in drop:
        claims.pop(k, None)
    return token(claims, user, alg, strip=strip)


def backed(certs, assertion_):
    """cert~...~cert~assertion (PyBrowserID bundle_certs_and_assertion)."""
    return "~".join(list(certs) + [assertion_])


def verify_token(tok, key):
    """True if tok's signature verifies with key (for the self-test)."""
    h, p, s = tok.split(".")
    alg = json.loads(b64url_decode(h))["alg"]
    if ALGS[alg][0] != key.kind:
        return False
    return key.verify(alg, f"{h}.{p}".encode("ascii"), b64url_decode(s))


def claims_of(tok):
    return json.loads(b64url_decode(tok.split(".")[1]))


def tamper_sig(tok):
    """tok with one character in the middle of its signature changed."""
    h, p, s = tok.split(".")
    i = len(s) // 2
    c = "A" if s[i] != "A" else "B"
    return f"{h}.{p}.{s[:i]}{c}{s[i + 1:]}"


def swap_payload(tok, claims):
    """tok with its payload replaced and the old signature kept."""
    h, _, s = tok.split(".")
    return f"{h}.{b64url(dumps(claims).encode())}.{s}"


# --------------------------------------------------------------- published

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "unit", "vectors", "browserid")


def published():
    """The published vectors (see vectors/browserid/README):

    spec      the spec's backed assertion: a mockmyid.com RS256 certificate
              for warner@mockmyid.com and a DS128 assertion for
              http://localhost:10001, with mockmyid.com's public key
    pybrowserid  PyBrowserID's EXPIRED_ASSERTION: a browserid.org RS256
              certificate (root key unpublished) and a DS256 assertion
    java      a mockmyid.com RS256 certificate for test@mockmyid.com and an
              RS256 assertion for http://localhost:8080 ("typ" header,
              escaped slashes: another encoder than jwcrypto's)
    mockmyid.key.json is mockmyid.com's private key, which that mock
    identity provider published on purpose.
    """
    def read(name):
        with open(os.path.join(VECTORS, name)) as f:
            return f.read().strip()
    return (read("spec-mockmyid.txt"), json.loads(read("mockmyid.key.json")),
            read("pybrowserid-expired.txt"), read("java-mockmyid.txt"))


def selftest():
    """Checks this module against the published vectors and against
    `cryptography`; exits non-zero on any failure."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import (
        encode_dss_signature)

    failures = []

    def check(name, cond):
        print(("ok " if cond else "FAIL ") + name)
        if not cond:
            failures.append(name)

    spec, mockmyid, pyb, java = published()
    cert, asr = spec.split("~")
    root = load_key({k: v for k, v in mockmyid.items() if k != "d"})
    check("spec: certificate verifies with mockmyid.com's key",
          verify_token(cert, root))
    h, p, s = cert.split(".")
    check("spec: our RSA signer remakes the certificate's signature",
          b64url(load_key(mockmyid).sign("RS256", f"{h}.{p}".encode())) == s)
    c = claims_of(cert)
    check("spec: certificate claims", c["iss"] == "mockmyid.com" and
          c["principal"] == {"email": "warner@mockmyid.com"} and
          c["iat"] == 1347994401401 and c["exp"] == 1347998001401)
    user = load_key(c["public-key"])
    check("spec: DS128 assertion verifies with the certified key",
          verify_token(asr, user))
    check("spec: assertion claims", claims_of(asr) ==
          {"exp": 1347994698140, "aud": "http://localhost:10001"})
    check("spec: tampered assertion fails",
          not verify_token(tamper_sig(asr), user))
    pcert, pasr = pyb.split("~")
    puser = load_key(claims_of(pcert)["public-key"])
    check("pybrowserid: DS256 assertion verifies with the certified key",
          verify_token(pasr, puser))
    check("pybrowserid: not with the spec's key",
          not verify_token(pasr, user))
    jcert, jasr = java.split("~")
    check("java: certificate verifies with mockmyid.com's key",
          verify_token(jcert, root))
    check("java: RS256 assertion verifies with the certified key",
          verify_token(jasr, load_key(claims_of(jcert)["public-key"])))
    check("java: assertion claims", claims_of(jasr)["aud"] ==
          "http://localhost:8080" and claims_of(jasr)["exp"] == 1354600688212)

    # Our signatures against OpenSSL's verification, through cryptography.
    msg = b"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9"
    for bits in (1024, 2048):
        k = RSKey.generate(bits)
        pub = rsa.RSAPublicNumbers(k.e, k.n).public_key()
        for alg in ("RS256", "RS128", "RS64"):
            sig = k.sign(alg, msg)
            try:
                pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
                ok = True
            except Exception:
                ok = False
            check(f"RSA-{bits} {alg}: cryptography verifies our signature",
                  ok and k.verify(alg, msg, sig))
        # PKCS #1 v1.5 is deterministic: OpenSSL must sign the same bytes.
        check(f"RSA-{bits}: OpenSSL's signature equals ours",
              k.ref.sign(msg, padding.PKCS1v15(), hashes.SHA256()) ==
              k.sign("RS256", msg))
    for bits, alg, h in ((1024, "DS128", hashes.SHA1()),
                         (2048, "DS256", hashes.SHA256())):
        k = DSKey.generate(bits)
        pub = dsa.DSAPublicNumbers(k.y, dsa.DSAParameterNumbers(
            k.p, k.q, k.g)).public_key()
        sig = k.sign(alg, msg)
        n = ALGS[alg][2]
        der = encode_dss_signature(int.from_bytes(sig[:n], "big"),
                                   int.from_bytes(sig[n:], "big"))
        try:
            pub.verify(der, msg, h)
            ok = True
        except Exception:
            ok = False
        check(f"DSA-{bits} {alg}: cryptography verifies our signature",
              ok and len(sig) == 2 * n and k.verify(alg, msg, sig))
        check(f"DSA-{bits} {alg}: deterministic",
              k.sign(alg, msg) == sig)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


# --------------------------------------------------------------- vectors
#
# The unit test (tests/unit/test_browserid.c) configures, by hand:
#   [browserid idp]       issuer idp.example, idp.pub.json (RSA 2048),
#                         audience https://token.example, secondary off
#   [browserid fallback]  issuer fallback.example, fallback.pub.json
#                         (DSA 2048/256), same audience, secondary on
#   [browserid idp8443]   issuer idp.example:8443, idp.pub.json
#   [browserid example]   issuer example.com, idp.pub.json, secondary off
#   [browserid mockmyid]  the spec's vector (audience http://localhost:10001)
# all with leeway 60 s, and checks every line of cases.txt at NOW_MS.

NOW_MS = 1700000000000
AUD = "https://token.example"
IDP = "idp.example"
FALLBACK = "fallback.example"
EXAMPLE = "example.com"
MIN = 60 * 1000

# name -> (kind, bits)
KEYS = {
    "idp": ("RS", 2048),           # root of [browserid idp]
    "fallback": ("DS", 2048),      # root of [browserid fallback]
    "stranger": ("RS", 2048),      # nobody configured it
    "small-root": ("RS", 1024),    # refused as a root key
    "user-rsa2048": ("RS", 2048),
    "user-rsa1024": ("RS", 1024),
    "user-rsa512": ("RS", 512),
    "user-dsa1024": ("DS", 1024),
    "user-dsa2048": ("DS", 2048),
    "inter1": ("RS", 2048),
    "inter2": ("RS", 2048),
    "inter3": ("RS", 2048),
    "mallory": ("RS", 2048),       # a user of idp who holds her own key
}


def load_or_make_keys(d):
    keys = {}
    for name, (kind, bits) in KEYS.items():
        path = os.path.join(d, f"{name}.key.json")
        if os.path.exists(path):
            with open(path) as f:
                keys[name] = load_key(json.load(f))
        else:
            keys[name] = generate_key(kind, bits)
            with open(path, "w") as f:
                json.dump(keys[name].private(), f, indent=1)
                f.write("\n")
    return keys


def strip_case(make, key, alg, want_len):
    """The first nonce (an "n" claim) whose signature loses a leading zero
    byte, so the stripped signature is shorter than want_len."""
    for n in range(100000):
        tok = make(n)
        h, p, s = tok.split(".")
        sig = key.sign(alg, f"{h}.{p}".encode("ascii"), strip=True)
        if len(sig) < want_len:
            return f"{h}.{p}.{b64url(sig)}"
    raise RuntimeError("no short signature found")


def cases(k):
    """[(name, expected, backed assertion)]; expected is "ok EMAIL ISSUER"
    or a name of an error code, as test_browserid.c's codes[] maps them."""
    u, ud1, ud2 = k["user-rsa2048"], k["user-dsa1024"], k["user-dsa2048"]
    iat, exp = NOW_MS - MIN, NOW_MS + 60 * MIN
    aexp = NOW_MS + 2 * MIN

    def cert(user=u, email="alice@idp.example", signer=None, alg="RS256",
             iss=IDP, **kw):
        return certificate(signer or k["idp"], alg, iss, email, user,
                           kw.pop("iat", iat), kw.pop("exp", exp), **kw)

    def asr(user=u, alg="RS256", aud=AUD, **kw):
        return assertion(user, alg, aud, kw.pop("exp", aexp), **kw)

    ok = "ok alice@idp.example idp"
    good = backed([cert()], asr())
    out = [
        # ---- accepted
        ("ok_rs256_rsa2048", ok, good),
        ("ok_ds128_dsa1024", ok, backed([cert(ud1)], asr(ud1, "DS128"))),
        ("ok_ds256_dsa2048", ok, backed([cert(ud2)], asr(ud2, "DS256"))),
        ("ok_rs128_rsa1024", ok,
         backed([cert(k["user-rsa1024"])], asr(k["user-rsa1024"], "RS128"))),
        ("ok_rs64_rsa2048", ok, backed([cert()], asr(alg="RS64"))),
        ("ok_cert_signed_rs128", ok, backed([cert(alg="RS128")], asr())),
        ("ok_iat_and_extra_claims", ok,
         backed([cert(extra={"fxa-generation": 42})],
                asr(iat=NOW_MS - 1000, extra={"nonce": "x"}))),
        ("ok_secondary_other_domain", f"ok bob@elsewhere.example fallback",
         backed([cert(email="bob@elsewhere.example", signer=k["fallback"],
                      alg="DS256", iss=FALLBACK)], asr())),
        ("ok_secondary_own_domain", f"ok carol@fallback.example fallback",
         backed([cert(ud1, email="carol@fallback.example",
                      signer=k["fallback"], alg="DS256", iss=FALLBACK)],
                asr(ud1, "DS128"))),
        ("ok_expired_within_leeway", ok,
         backed([cert(exp=NOW_MS - 30000)], asr(exp=NOW_MS - 30000))),
        ("ok_iat_future_within_leeway", ok,
         backed([cert(iat=NOW_MS + 30000)], asr(iat=NOW_MS + 30000))),
        ("ok_email_with_port", "ok dave@idp.example:8443 idp8443",
         backed([cert(email="dave@idp.example:8443",
                      iss="idp.example:8443")], asr())),
        # The domain is folded to lower case, the local part kept as given
        # (docs/tokens.md, uid): the issuer's own domain in any case.
        ("ok_email_domain_case_folded", "ok Bob@idp.example idp",
         backed([cert(email="Bob@IDP.Example")], asr())),
        ("ok_secondary_domain_case_folded", "ok Bob@x.example fallback",
         backed([cert(email="Bob@X.Example", signer=k["fallback"],
                      alg="DS256", iss=FALLBACK)], asr())),
        ("ok_secondary_domain_lower", "ok Bob@x.example fallback",
         backed([cert(email="Bob@x.example", signer=k["fallback"],
                      alg="DS256", iss=FALLBACK)], asr())),
        ("ok_secondary_local_part_kept", "ok bob@x.example fallback",
         backed([cert(email="bob@x.example", signer=k["fallback"],
                      alg="DS256", iss=FALLBACK)], asr())),
        ("ok_example_com_own_domain", "ok alice@example.com example",
         backed([cert(email="alice@example.com", iss=EXAMPLE)], asr())),
        ("ok_rsa_sig_leading_zero_dropped", ok,
         backed([cert()], strip_case(
             lambda n: asr(extra={"n": n}), u, "RS256", u.size))),
        ("ok_dsa_sig_leading_zero_dropped", ok,
         backed([cert(ud1)], strip_case(
             lambda n: asr(ud1, "DS128", extra={"n": n}), ud1, "DS128", 40))),
        # ---- refused: signatures and keys
        ("cert_tampered_payload", "CERT_SIGNATURE",
         backed([swap_payload(cert(), dict(claims_of(cert()), principal={
             "email": "mallory@idp.example"}))], asr())),
        ("cert_tampered_signature", "CERT_SIGNATURE",
         backed([tamper_sig(cert())], asr())),
        ("cert_signed_by_stranger", "CERT_SIGNATURE",
         backed([cert(signer=k["stranger"])], asr())),
        ("assertion_tampered_payload", "ASSERTION_SIGNATURE",
         backed([cert()], swap_payload(asr(aud="https://evil.example"),
                                       {"exp": aexp, "aud": AUD}))),
        ("assertion_tampered_signature", "ASSERTION_SIGNATURE",
         backed([cert()], tamper_sig(asr()))),
        ("assertion_signed_by_other_key", "ASSERTION_SIGNATURE",
         backed([cert()], asr(k["stranger"]))),
        ("assertion_signed_by_issuer", "ASSERTION_SIGNATURE",
         backed([cert()], asr(k["idp"]))),
        ("alg_ds_with_rsa_key", "KEY_MISMATCH",
         backed([cert()], token({"exp": aexp, "aud": AUD}, u, "RS256",
                                header={"alg": "DS128"}))),
        ("alg_rs_with_dsa_key", "KEY_MISMATCH",
         backed([cert(ud1)], token({"exp": aexp, "aud": AUD}, ud1, "DS128",
                                   header={"alg": "RS256"}))),
        ("alg_ds256_with_160bit_q", "KEY_MISMATCH",
         backed([cert(ud1)], token({"exp": aexp, "aud": AUD}, ud1, "DS128",
                                   header={"alg": "DS256"}))),
        ("alg_unsupported_hs256", "ALG_UNSUPPORTED",
         backed([cert()], token({"exp": aexp, "aud": AUD}, u, "RS256",
                                header={"alg": "HS256"}))),
        ("alg_unsupported_none", "ALG_UNSUPPORTED",
         backed([cert()], token({"exp": aexp, "aud": AUD}, u, "RS256",
                                header={"alg": "none"}))),
        ("alg_unsupported_rs512_cert", "ALG_UNSUPPORTED",
         backed([token(claims_of(cert()), k["idp"], "RS256",
                       header={"alg": "RS512"})], asr())),
        ("alg_missing", "ALG_MISSING",
         backed([cert()], token({"exp": aexp, "aud": AUD}, u, "RS256",
                                header={"typ": "JWT"}))),
        ("user_key_rsa512", "KEY_TOO_SMALL",
         backed([cert(k["user-rsa512"])], asr(k["user-rsa512"], "RS64"))),
        ("cert_key_algorithm_ec", "CERT_KEY",
         backed([cert({"algorithm": "EC", "x": "1", "y": "2"})], asr())),
        ("cert_key_n_hex", "CERT_KEY",
         backed([cert({"algorithm": "RS", "n": format(u.n, "x"),
                       "e": "65537"})], asr())),
        ("cert_key_dsa_y_one", "CERT_KEY",
         backed([cert(dict(ud1.public(), y="1"))], asr(ud1, "DS128"))),
        ("cert_key_dsa_y_not_in_group", "CERT_KEY",
         backed([cert(dict(ud1.public(), y=format(ud1.y + 1, "x")))],
                asr(ud1, "DS128"))),
        ("cert_key_private_member", "CERT_KEY",
         backed([cert(dict(u.public(), d="3"))], asr())),
        ("rsa_sig_too_long", "SIG_LENGTH",
         backed([cert()], (lambda t: t[:t.rindex(".") + 1] + b64url(
             b"\x00" + b64url_decode(t.split(".")[2])))(asr()))),
        ("dsa_sig_too_long", "SIG_LENGTH",
         backed([cert(ud1)], (lambda t: t[:t.rindex(".") + 1] + b64url(
             b"\x00" + b64url_decode(t.split(".")[2])))(asr(ud1, "DS128")))),
        # ---- refused: issuer and principal
        ("issuer_unknown", "ISSUER_UNKNOWN",
         backed([cert(iss="stranger.example", email="alice@stranger.example",
                      signer=k["stranger"])], asr())),
        ("email_domain_mismatch_no_secondary", "ISSUER_DOMAIN",
         backed([cert(email="bob@elsewhere.example")], asr())),
        ("email_subdomain_not_issuer", "ISSUER_DOMAIN",
         backed([cert(email="alice@mail.idp.example")], asr())),
        # A name that is a prefix or an extension of the issuer's is
        # another domain: compared whole, not up to the shorter one.
        ("email_domain_prefix_of_issuer", "ISSUER_DOMAIN",
         backed([cert(email="alice@example.co", iss=EXAMPLE)], asr())),
        ("email_domain_short_prefix", "ISSUER_DOMAIN",
         backed([cert(email="alice@exa", iss=EXAMPLE)], asr())),
        ("email_domain_extends_issuer", "ISSUER_DOMAIN",
         backed([cert(email="alice@example.com.evil", iss=EXAMPLE)], asr())),
        ("email_missing", "EMAIL",
         backed([cert(extra={"principal": {"host": "idp.example"}})],
                asr())),
        ("email_invalid_no_at", "EMAIL",
         backed([cert(email="alice.idp.example")], asr())),
        ("email_invalid_space", "EMAIL",
         backed([cert(email="al ice@idp.example")], asr())),
        ("cert_iss_missing", "CERT_CLAIMS",
         backed([cert(drop=("iss",))], asr())),
        ("cert_public_key_missing", "CERT_CLAIMS",
         backed([cert(drop=("public-key",))], asr())),
        ("cert_exp_missing", "CERT_CLAIMS",
         backed([cert(drop=("exp",))], asr())),
        # ---- refused: time and audience
        ("cert_expired", "CERT_EXPIRED",
         backed([cert(exp=NOW_MS - 61000)], asr())),
        ("cert_iat_future", "CERT_NOT_YET_VALID",
         backed([cert(iat=NOW_MS + 61000)], asr())),
        ("assertion_expired", "ASSERTION_EXPIRED",
         backed([cert()], asr(exp=NOW_MS - 61000))),
        ("assertion_iat_future", "ASSERTION_IAT_FUTURE",
         backed([cert()], asr(iat=NOW_MS + 61000))),
        ("assertion_exp_missing", "ASSERTION_EXP_MISSING",
         backed([cert()], asr(drop=("exp",)))),
        ("assertion_exp_seconds_real", "CLAIM_TYPE",
         backed([cert()], asr(exp=float(aexp) / 1000))),
        ("assertion_exp_string", "CLAIM_TYPE",
         backed([cert()], asr(exp=str(aexp)))),
        ("cert_iat_string", "CLAIM_TYPE",
         backed([cert(iat=str(iat))], asr())),
        ("audience_wrong", "AUDIENCE",
         backed([cert()], asr(aud="https://other.example"))),
        ("audience_missing", "AUDIENCE",
         backed([cert()], asr(drop=("aud",)))),
        ("audience_array", "AUD_TYPE",
         backed([cert()], asr(aud=[AUD]))),
        ("audience_prefix", "AUDIENCE",
         backed([cert()], asr(aud=AUD + "/"))),
        # ---- refused: certificate chains
        # Any certificate after the first speaks for whoever holds the key
        # the one before it certifies, and nothing says for whom it may
        # vouch: a user of the issuer could certify any address.  Persona's
        # verifier refused chains; so does tokend, each well signed here.
        ("chain_mallory_certifies_alice", "CERT_CHAIN",
         backed([cert(k["mallory"], email="mallory@idp.example"),
                 cert(signer=k["mallory"])], asr())),
        ("chain_intermediate_iss_user_email", "CERT_CHAIN",
         backed([cert(k["mallory"], email="mallory@idp.example"),
                 cert(signer=k["mallory"], iss="mallory@idp.example")],
                asr())),
        ("chain_secondary_other_domain", "CERT_CHAIN",
         backed([cert(k["mallory"], email="mallory@fallback.example",
                      signer=k["fallback"], alg="DS256", iss=FALLBACK),
                 cert(signer=k["mallory"], iss="mallory@fallback.example")],
                asr())),
        ("chain_2", "CERT_CHAIN",
         backed([cert(k["inter1"], email="ca@idp.example"),
                 cert(signer=k["inter1"], iss="ignored.example")], asr())),
        ("chain_4", "CERT_CHAIN",
         backed([cert(k["inter1"], email="ca@idp.example"),
                 cert(k["inter2"], signer=k["inter1"]),
                 cert(k["inter3"], signer=k["inter2"]),
                 cert(signer=k["inter3"])], asr())),
        ("chain_5", "CERT_CHAIN",
         backed([cert(k["inter1"], email="ca@idp.example"),
                 cert(k["inter2"], signer=k["inter1"]),
                 cert(k["inter3"], signer=k["inter2"]),
                 cert(k["inter1"], signer=k["inter3"]),
                 cert(signer=k["inter1"])], asr())),
        # ---- refused: structure
        ("payload_duplicate_member", "DUPLICATE_MEMBER",
         backed([cert()], token(None, u, "RS256", raw_payload=(
             '{"exp":%d,"aud":"%s","aud":"https://evil.example"}'
             % (aexp, AUD))))),
        ("payload_not_object", "PAYLOAD_NOT_OBJECT",
         backed([cert()], token(None, u, "RS256", raw_payload="[1,2]"))),
        ("header_not_json", "HEADER",
         backed([cert()], token({"exp": aexp, "aud": AUD}, u, "RS256",
                                header="{alg:RS256}"))),
        ("no_certificate", "MALFORMED", "~" + asr()),
        ("no_assertion", "MALFORMED", cert() + "~"),
        ("empty_middle", "MALFORMED", cert() + "~~" + asr()),
        ("no_tilde_jwt_only", "MALFORMED", asr()),
        ("assertion_two_parts", "JWS",
         backed([cert()], asr().rsplit(".", 1)[0])),
        ("assertion_four_parts", "JWS", backed([cert()], asr() + ".e30")),
        # A 256-byte signature is 342 characters: "==" would pad it.
        ("cert_padded_base64", "BASE64", backed([cert() + "=="], asr())),
        ("cert_standard_alphabet", "BASE64",
         backed([cert()[:-1] + "+"], asr())),
    ]
    return out


def write_vectors(d):
    os.makedirs(d, exist_ok=True)
    k = load_or_make_keys(d)
    for name in ("idp", "fallback", "small-root"):
        with open(os.path.join(d, f"{name}.pub.json"), "w") as f:
            json.dump(k[name].public(), f, indent=1)
            f.write("\n")
    # A support document, as /.well-known/browserid serves it.
    with open(os.path.join(d, "idp.support.json"), "w") as f:
        json.dump({"public-key": k["idp"].public(),
                   "authentication": "/sign_in",
                   "provisioning": "/provision"}, f, indent=1)
        f.write("\n")
    rows = cases(k)
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(os.path.join(d, "cases.txt"), "w") as f:
        f.write(f"# written by tests/browserid_gen.py; now_ms {NOW_MS}\n")
        f.write("# NAME EXPECTED... then the backed assertion on the next "
                "line\n")
        for name, want, tok in rows:
            f.write(f"{name} {want}\n{tok}\n")
    print(f"{len(rows)} cases in {d}/cases.txt")


def main(argv):
    if len(argv) >= 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) == 3 and argv[1] == "vectors":
        write_vectors(argv[2])
        return 0
    print(__doc__.split("\n\n")[-2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
