#!/usr/bin/python3
"""tokend_worker: a tokend pool worker in Python.

Written from docs/protocol.md (the worker protocol, version 2) and
docs/tokens.md (uids, payloads, token formats) alone, as a worked example
of a worker in another language and as a check that those documents are
enough to write one.  It needs only Python 3, Debian's python3-zmq and
python3-cryptography.

It connects one DEALER socket to a front (over ipc, the runtime_dir's
worker.sock, or over CURVE-encrypted TCP), says READY, and then serves
JOBs one at a time, in the order received: it verifies a JWT assertion
(RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)
against the [issuer] sections of a tokend.conf, derives the uid, and
mints a tokenlib or Fernet token of the [service] asked for.  What it
reads of tokend.conf, and what it refuses to run with, is in README.md.

Every message from the broker is read with bounds (a malformed one is
logged and dropped, never trusted), every send is bounded, and a broker
that goes silent, drops the connection or refuses a send is left for a
fresh connection under the same routing identity.

Run:  tokend_worker.py -c /etc/tokend/tokend.conf [--connect ENDPOINT]
          [--credit N] [--name N] [--log-level LEVEL] [-t]
(CURVE TCP: the [remote] connect, secret_key_file and server_public_key
of a worker host's config; README.md.)
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import resource
import signal
import socket
import stat
import struct
import sys
import time

import zmq
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding as sympad
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    encode_dss_signature)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# ---------------------------------------------------------------- protocol
# docs/protocol.md, "Message layout" and "Commands".

VERSION = 2
(READY, JOB, REPLY, HEARTBEAT, BYE, WELCOME, REFUSE, PROGRESS,
 RESYNC) = range(1, 10)
COMMAND_NAMES = {READY: "READY", JOB: "JOB", REPLY: "REPLY",
                 HEARTBEAT: "HEARTBEAT", BYE: "BYE", WELCOME: "WELCOME",
                 REFUSE: "REFUSE", PROGRESS: "PROGRESS", RESYNC: "RESYNC"}
MAX_FRAME = 131072          # ZMQ_MAXMSGSIZE, PROTO_MAX_FRAME
MAX_VALUE = 65536           # PROTO_MAX_VALUE
MAX_FIELDS = 16
JOB_ID_LEN = 8
ERR_MAX, ERR_NAME_MAX, ERR_DESCRIPTION_MAX = 31, 31, 255
EXIT_FATAL = 2              # refused: never worth a restart

DECIMAL = re.compile(rb"[0-9]{1,18}\Z")


class Malformed(Exception):
    """A message that breaks docs/protocol.md's layout: dropped."""


def encode(cmd, fields=()):
    """One frame: version, command, then each (key, value) as a record.
    Values are bytes or str (UTF-8); raises ValueError past a limit."""
    out = [bytes([VERSION, cmd])]
    for k, v in fields:
        kb = k.encode("ascii")
        vb = v if isinstance(v, bytes) else str(v).encode("utf-8")
        if not 1 <= len(kb) <= 255 or len(vb) > MAX_VALUE:
            raise ValueError(f"field {k!r} breaks the limits")
        out += (bytes([len(kb)]), kb, struct.pack(">I", len(vb)), vb)
    frame = b"".join(out)
    if len(frame) > MAX_FRAME:
        raise ValueError("message over the frame limit")
    return frame


def decode(frame):
    """(version, command, {key: value}) of one frame, or Malformed.

    Keys are decoded as Latin-1 so that a non-ASCII key is merely unknown;
    the first of a repeated key wins."""
    if len(frame) < 2:
        raise Malformed("a frame shorter than 2 bytes")
    version, cmd, off, end, fields, n = frame[0], frame[1], 2, len(frame), \
        {}, 0
    while off < end:
        klen = frame[off]
        off += 1
        if klen == 0:
            raise Malformed("an empty key")
        if off + klen + 4 > end:
            raise Malformed("a record that runs past the end of the frame")
        key = frame[off:off + klen].decode("latin-1")
        off += klen
        (vlen,) = struct.unpack_from(">I", frame, off)
        off += 4
        if vlen > MAX_VALUE:
            raise Malformed(f"a value of {vlen} bytes")
        if off + vlen > end:
            raise Malformed("a record that runs past the end of the frame")
        n += 1
        if n > MAX_FIELDS:
            raise Malformed("more than 16 fields")
        fields.setdefault(key, frame[off:off + vlen])
        off += vlen
    return version, cmd, fields


def decimal(v, lo, hi):
    """A protocol integer (1 to 18 ASCII digits) within [lo, hi], or None."""
    if v is None or not DECIMAL.match(v):
        return None
    n = int(v)
    return n if lo <= n <= hi else None


def printable(b, limit):
    """A value fit for a log line: printable ASCII, cut at limit."""
    return "".join(chr(c) if 32 <= c < 127 else "?" for c in b[:limit])


# ---------------------------------------------------------------- logging

LEVELS = {"error": 0, "warning": 1, "info": 2, "debug": 3}
log_level = LEVELS["info"]
log_tag = "tokend python-worker"


def log(level, msg):
    if LEVELS[level] <= log_level:
        sys.stderr.write(f"{log_tag}[{os.getpid()}] {level}: {msg}\n")
        sys.stderr.flush()


class RateLimited:
    """At most one log line per second (or every `every` seconds) for one
    kind of event, telling how many were not logged: a peer sending
    garbage cannot flood the log."""

    def __init__(self, every=1.0):
        self.last, self.quiet, self.every = -every, 0, every

    def __call__(self, level, msg):
        now = time.monotonic()
        if now - self.last < self.every:
            self.quiet += 1
            return
        more = f" ({self.quiet} more not logged)" if self.quiet else ""
        self.last, self.quiet = now, 0
        log(level, msg + more)


# ---------------------------------------------------------------- config
# The subset of tokend.conf this worker reads: README.md says which keys.

class ConfigError(Exception):
    pass


def read_ini(path):
    """[(kind, name, line, {key: (value, line)})] of tokend.conf's syntax:
    [section] or [kind NAME] headers, key = value lines, comments on lines
    of their own starting with # or ;."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from None
    sections, cur = [], None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ConfigError(f"{path}:{no}: a section header without ]")
            words = line[1:-1].split()
            if not 1 <= len(words) <= 2:
                raise ConfigError(f"{path}:{no}: bad section header {line}")
            cur = (words[0], words[1] if len(words) == 2 else None, no, {})
            sections.append(cur)
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise ConfigError(f"{path}:{no}: not a key = value line")
        if cur is None:
            raise ConfigError(f"{path}:{no}: {key} outside any section")
        if key in cur[3]:
            raise ConfigError(f"{path}:{no}: [{cur[0]}] {key} set twice")
        cur[3][key] = (value, no)
    return sections


def read_private_file(path, what, limit):
    """Bytes of a secret file: a regular file, mode 0600 or stricter
    (docs/tokens.md), at most limit bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ConfigError(f"{what}: {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what}: {path}: not a regular file")
        if st.st_mode & 0o077:
            raise ConfigError(f"{what}: {path}: mode "
                              f"{stat.S_IMODE(st.st_mode):04o}, readable by "
                              "others than its owner (0600 or stricter)")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"{what}: {path}: over {limit} bytes")
    return data


def secret_lines(data):
    """The (line number, line) of a secret file that are not blank or #."""
    for no, line in enumerate(data.split(b"\n"), 1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip() == b"" or line.startswith(b"#"):
            continue
        yield no, line


def check_secret(path, no, s, minimum=32):
    if len(s) < minimum:
        raise ConfigError(f"{path}:{no}: a secret of {len(s)} bytes "
                          f"(at least {minimum})")
    if s != s.strip():
        raise ConfigError(f"{path}:{no}: a secret that starts or ends with "
                          "white space")
    return s


def read_secrets(path, what):
    """A secret file's secrets, newest first (docs/tokens.md)."""
    data = read_private_file(path, what, 4096)
    out = [check_secret(path, no, s) for no, s in secret_lines(data)]
    if not out:
        raise ConfigError(f"{what}: {path}: no secret")
    if len(out) > 16:
        raise ConfigError(f"{what}: {path}: more than 16 secrets")
    return out


def read_one_secret(path, what, minimum=32):
    data = read_private_file(path, what, 4096)
    out = [check_secret(path, no, s, minimum)
           for no, s in secret_lines(data)]
    if len(out) != 1:
        raise ConfigError(f"{what}: {path}: must hold exactly one secret")
    return out[0]


def hkdf(ikm, salt, info, length):
    """RFC 5869 HKDF-SHA256; no salt is 32 zero bytes."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


TOKENLIB_SIGNING = b"services.mozilla.com/tokenlib/v1/signing"
TOKENLIB_DERIVE = b"services.mozilla.com/tokenlib/v1/derive/"
FERNET_SIGNING = b"tokend/fernet/v1/signing"
FERNET_ENCRYPTION = b"tokend/fernet/v1/encryption"


class Secret:
    """A master secret and the keys its format uses (docs/tokens.md)."""

    def __init__(self, master, fmt):
        self.master = master
        if fmt == "tokenlib":
            self.sig = hkdf(master, None, TOKENLIB_SIGNING, 32)
        else:
            self.sig = hkdf(master, None, FERNET_SIGNING, 16)
            self.enc = hkdf(master, None, FERNET_ENCRYPTION, 16)


def splitmix64(x):
    m = (1 << 64) - 1
    x = (x + 0x9e3779b97f4a7c15) & m
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & m
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & m
    return x ^ (x >> 31)


class Service:
    def __init__(self, name, fmt, duration, nodes):
        self.name, self.format, self.duration = name, fmt, duration
        # [(url, seed, newest Secret)]: one for node + secret_file
        self.nodes = nodes

    def node_for(self, uid):
        """docs/tokens.md, "Several nodes": rendezvous hashing."""
        if len(self.nodes) == 1:
            return self.nodes[0][0], self.nodes[0][2]
        best = None
        for url, seed, secret in self.nodes:
            score = splitmix64(seed ^ uid)
            if best is None or score > best[0]:
                best = (score, url, secret)
        return best[1], best[2]


ALGS = {
    "RS256": ("RSA", hashes.SHA256), "RS384": ("RSA", hashes.SHA384),
    "RS512": ("RSA", hashes.SHA512), "PS256": ("RSA", hashes.SHA256),
    "PS384": ("RSA", hashes.SHA384), "PS512": ("RSA", hashes.SHA512),
    "ES256": ("EC", hashes.SHA256), "ES384": ("EC", hashes.SHA384),
    "ES512": ("EC", hashes.SHA512), "EdDSA": ("OKP", None),
    "HS256": ("oct", hashlib.sha256), "HS384": ("oct", hashlib.sha384),
    "HS512": ("oct", hashlib.sha512),
}
EC_CURVES = {"P-256": (ec.SECP256R1, 32, "ES256"),
             "P-384": (ec.SECP384R1, 48, "ES384"),
             "P-521": (ec.SECP521R1, 66, "ES512")}
HS_MIN = {"HS256": 32, "HS384": 48, "HS512": 64}


def b64url_decode(s):
    """Strict base64url without padding (RFC 7515 2): None if not."""
    if isinstance(s, str):
        try:
            s = s.encode("ascii")
        except UnicodeEncodeError:
            return None
    if len(s) % 4 == 1 or not re.fullmatch(rb"[A-Za-z0-9_-]*", s):
        return None
    try:
        return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))
    except ValueError:
        return None


class Jwk:
    """One public key of a JWK Set, parsed once."""

    def __init__(self, d):
        kty = d.get("kty")
        self.kid = d.get("kid") if isinstance(d.get("kid"), str) else None
        self.alg = d.get("alg") if isinstance(d.get("alg"), str) else None
        use = d.get("use")
        if use is not None and use != "sig":
            raise ValueError(f"use {use!r} is not sig")

        def num(name):
            b = b64url_decode(d.get(name, "")) if isinstance(
                d.get(name), str) else None
            if not b:
                raise ValueError(f"{name} is not base64url")
            return b
        if kty == "RSA":
            n, e = num("n"), num("e")
            bits = int.from_bytes(n, "big").bit_length()
            if not 2048 <= bits <= 8192:
                raise ValueError(f"an RSA key of {bits} bits (2048-8192)")
            self.key = rsa.RSAPublicNumbers(int.from_bytes(e, "big"),
                                            int.from_bytes(n, "big")
                                            ).public_key()
            self.kty, self.algs = "RSA", {"RS256", "RS384", "RS512",
                                          "PS256", "PS384", "PS512"}
            self.nbytes = (bits + 7) // 8
        elif kty == "EC":
            crv = EC_CURVES.get(d.get("crv"))
            if crv is None:
                raise ValueError(f"curve {d.get('crv')!r}")
            x, y = num("x"), num("y")
            if len(x) != crv[1] or len(y) != crv[1]:
                raise ValueError("x or y of the wrong size")
            self.key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                crv[0]()).public_key()
            self.kty, self.algs, self.size = "EC", {crv[2]}, crv[1]
        elif kty == "OKP":
            if d.get("crv") != "Ed25519":
                raise ValueError(f"curve {d.get('crv')!r}")
            self.key = ed25519.Ed25519PublicKey.from_public_bytes(num("x"))
            self.kty, self.algs = "OKP", {"EdDSA"}
        else:
            raise ValueError(f"key type {kty!r}")
        if self.alg is not None:
            if self.alg not in self.algs:
                raise ValueError(f"alg {self.alg} for a {kty} key")
            self.algs = {self.alg}

    def fits(self, alg):
        return alg in self.algs

    def fit(self, alg):
        """Reject unless this key may verify alg: its type, its curve, and
        its own alg if it names one."""
        if alg in self.algs:
            return
        if self.alg is not None and ALGS[alg][0] == self.kty:
            raise credentials("key is published for another algorithm (JWK "
                              "alg)")
        if self.kty == "EC" and ALGS[alg][0] == "EC":
            raise credentials("key is on another curve than the algorithm "
                              "uses")
        raise credentials("key type does not fit the algorithm")

    def check(self, alg, data, sig):
        """Reject unless sig is alg's signature of data by this key."""
        if self.kty == "EC" and len(sig) != 2 * self.size or \
                self.kty == "OKP" and len(sig) != 64 or \
                self.kty == "RSA" and len(sig) != self.nbytes:
            raise credentials("signature has the wrong length")
        if not self.verify(alg, data, sig):
            raise credentials("signature does not verify")

    def verify(self, alg, data, sig):
        """True if sig is alg's signature of data by this key."""
        try:
            if self.kty == "RSA":
                pad = padding.PKCS1v15() if alg[0] == "R" else padding.PSS(
                    padding.MGF1(ALGS[alg][1]()), ALGS[alg][1].digest_size)
                self.key.verify(sig, data, pad, ALGS[alg][1]())
            elif self.kty == "EC":
                if len(sig) != 2 * self.size:
                    return False
                der = encode_dss_signature(
                    int.from_bytes(sig[:self.size], "big"),
                    int.from_bytes(sig[self.size:], "big"))
                self.key.verify(der, data, ec.ECDSA(ALGS[alg][1]()))
            else:
                self.key.verify(sig, data)
            return True
        except (InvalidSignature, ValueError):
            return False


class KeySet:
    """An issuer's jwks_file, reread when it changes on disk: looked at
    at most once a second, and at once for an unknown kid."""

    MAX_BYTES, MAX_KEYS = 1 << 20, 64

    def __init__(self, path, name):
        self.path, self.name, self.keys = path, name, []
        self.stamp, self.checked = None, 0.0
        self.reloads = self.refused = 0     # for the HEARTBEAT's jwks
        self.error = None
        self.load(first=True)

    def load(self, first=False):
        stamp = None
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if stamp == self.stamp:
                return
            if st.st_size > self.MAX_BYTES:
                raise ValueError(f"over {self.MAX_BYTES} bytes")
            with open(self.path, "rb") as f:
                doc = json.loads(f.read(self.MAX_BYTES + 1))
            if not isinstance(doc, dict) or not isinstance(
                    doc.get("keys"), list):
                raise ValueError("not a JWK Set ({\"keys\": [...]})")
            if len(doc["keys"]) > self.MAX_KEYS:
                raise ValueError(f"more than {self.MAX_KEYS} keys")
            keys = []
            for i, d in enumerate(doc["keys"]):
                try:
                    if not isinstance(d, dict):
                        raise ValueError("not an object")
                    keys.append(Jwk(d))
                except (ValueError, TypeError) as e:
                    log("warning", f"[issuer {self.name}] {self.path}: key "
                        f"{i} skipped: {e}")
            if not keys:
                raise ValueError("no usable key")
            self.keys, self.stamp, self.error = keys, stamp, None
            if not first:
                self.reloads += 1
                log("info", f"[issuer {self.name}] {self.path}: "
                    f"{len(keys)} keys reloaded")
        except (OSError, ValueError) as e:
            if first:
                raise ConfigError(f"[issuer {self.name}] jwks_file "
                                  f"{self.path}: {e}") from None
            if stamp is not None:   # this version is refused once
                self.stamp = stamp
                self.refused += 1
            if str(e) != self.error:    # once, not every second
                self.error = str(e)
                log("warning", f"[issuer {self.name}] {self.path}: {e}; "
                    "keeping the keys in use")

    def refresh(self, now, force=False):
        if force or now - self.checked >= 1.0:
            self.checked = now
            self.load()


class Issuer:
    pass


SERVER_KEYS = {"uid_secret_file", "runtime_dir", "heartbeat_interval",
               "heartbeat_liveness", "orphan_timeout", "log_level",
               "worker_credit"}
ISSUER_KEYS = {"type", "iss", "jwks_file", "hs_secret_file", "audience",
               "algorithms", "leeway", "identity_claim", "require",
               "services", "uid_namespace"}
SERVICE_KEYS = {"format", "secret_file", "node", "nodes_file", "duration"}
# Keys of tokend.conf this worker cannot honour: refused, never ignored,
# since a worker that ignored them would answer otherwise than tokend's.
UNSUPPORTED = {
    ("issuer", "jwks_url"): "jwks_url is not supported by the Python "
    "worker: give it the keys in a jwks_file",
    ("issuer", "jwks_refresh"): "jwks_refresh goes with jwks_url, which "
    "the Python worker does not support",
    ("issuer", "jwks_ca_file"): "jwks_ca_file goes with jwks_url, which "
    "the Python worker does not support",
}
# Sections of tokend.conf that are the front's alone (a worker ignores
# them); any other unknown section is refused.  [remote] is read for a
# worker host's keys (connect, secret_key_file, server_public_key).
FRONT_SECTIONS = {"metrics"}
REMOTE_KEYS = {"connect", "secret_key_file", "server_public_key",
               "handshake_timeout"}
REMOTE_FRONT_KEYS = {"listen", "authorized_keys", "peer_queue"}


class Config:
    """What the worker needs of tokend.conf, checked whole at start."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        base = os.path.dirname(self.path)
        self.issuers, self.services = {}, {}
        server = remote = None
        issuers_raw, services_raw = [], []

        def where(line):
            return f"{self.path}:{line}"
        for kind, name, line, keys in read_ini(self.path):
            if kind == "server" and name is None:
                if server is not None:
                    raise ConfigError(f"{where(line)}: [server] twice")
                server = keys
            elif kind == "issuer" and name:
                issuers_raw.append((name, line, keys))
            elif kind == "service" and name:
                services_raw.append((name, line, keys))
            elif kind == "browserid":
                raise ConfigError(f"{where(line)}: [browserid {name}]: "
                                  "BrowserID is not supported by the Python "
                                  "worker (README.md)")
            elif kind == "remote" and name is None:
                remote = (line, keys)
            elif kind in FRONT_SECTIONS:
                continue
            else:
                raise ConfigError(f"{where(line)}: [{kind}"
                                  f"{' ' + name if name else ''}]: a section"
                                  " the Python worker does not know")
        self.base = base

        def path_of(v):
            return v if os.path.isabs(v) else os.path.join(base, v)

        def integer(sect, keys, key, default, lo, hi):
            v, line = keys.get(key, (default, 0))
            if not re.fullmatch(r"[0-9]{1,9}", v) or not lo <= int(v) <= hi:
                raise ConfigError(f"{where(line)}: [{sect}] {key} = {v}: "
                                  f"from {lo} to {hi}")
            return int(v)

        if server is None or "uid_secret_file" not in server:
            raise ConfigError(f"{self.path}: [server] uid_secret_file is "
                              "required")
        v, line = server["uid_secret_file"]
        self.uid_secret = read_one_secret(path_of(v), where(line) +
                                          ": [server] uid_secret_file")
        self.runtime_dir = path_of(server.get("runtime_dir",
                                              ("/run/tokend", 0))[0])
        self.heartbeat_ms = integer("server", server, "heartbeat_interval",
                                    "1000", 50, 60000)
        self.liveness = integer("server", server, "heartbeat_liveness", "3",
                                2, 100)
        self.orphan_timeout = integer("server", server, "orphan_timeout",
                                      "30", 1, 3600)
        self.credit = integer("server", server, "worker_credit", "16", 1, 16)
        lv, line = server.get("log_level", ("info", 0))
        if lv not in LEVELS:
            raise ConfigError(f"{where(line)}: [server] log_level = {lv}")
        self.log_level = LEVELS[lv]

        self.remote(remote, where, path_of, integer)
        for name, line, keys in services_raw:
            self.services[name] = self.service(name, line, keys, where,
                                               path_of, integer)
        namespaces = {}
        for name, line, keys in issuers_raw:
            iss = self.issuer(name, line, keys, where, path_of, integer)
            if iss.iss in self.issuers:
                raise ConfigError(f"{where(line)}: [issuer {name}] iss "
                                  f"{iss.iss} is another issuer's too")
            other = namespaces.get(iss.namespace)
            if other is not None and not (other.explicit_ns and
                                          iss.explicit_ns):
                raise ConfigError(f"{where(line)}: [issuer {name}] shares "
                                  f"its uid namespace with [issuer "
                                  f"{other.name}]: set uid_namespace in both"
                                  " to mean it")
            namespaces[iss.namespace] = iss
            self.issuers[iss.iss] = iss

    def remote(self, remote, where, path_of, integer):
        """[remote] of a worker host: the front's endpoint and the CURVE
        keys (docs/deployment.md); a front's own keys are ignored."""
        self.connect = self.curve = None
        self.handshake_ms = 5000
        if remote is None:
            return
        line, keys = remote
        for k, (v, kl) in keys.items():
            if k not in REMOTE_KEYS | REMOTE_FRONT_KEYS:
                raise ConfigError(f"{where(kl)}: [remote] {k}: a key the "
                                  "Python worker does not know")
        self.handshake_ms = integer("remote", keys, "handshake_timeout", "5",
                                    1, 60) * 1000
        if "connect" not in keys:
            return
        v, kl = keys["connect"]
        if not re.fullmatch(r"tcp://[^/]+:[0-9]{1,5}", v):
            raise ConfigError(f"{where(kl)}: [remote] connect: "
                              "tcp://HOST:PORT")
        self.connect = v
        if "secret_key_file" not in keys or "server_public_key" not in keys:
            raise ConfigError(f"{where(line)}: [remote] connect needs "
                              "secret_key_file and server_public_key")
        server, sl = keys["server_public_key"]
        if not Z85.fullmatch(server):
            raise ConfigError(f"{where(sl)}: [remote] server_public_key: "
                              "not 40 characters of Z85")
        v, kl = keys["secret_key_file"]
        secret = read_one_secret(path_of(v), f"{where(kl)}: [remote] "
                                 "secret_key_file", 40)
        if not Z85.fullmatch(secret.decode("ascii", "replace")):
            raise ConfigError(f"{where(kl)}: [remote] secret_key_file: not "
                              "one line of 40 characters of Z85")
        self.curve = (server.encode("ascii"), zmq.curve_public(secret),
                      secret)

    def service(self, name, line, keys, where, path_of, integer):
        for k, (v, kl) in keys.items():
            if k not in SERVICE_KEYS:
                raise ConfigError(f"{where(kl)}: [service {name}] {k}: a key "
                                  "the Python worker does not know")
        fmt = keys.get("format", ("tokenlib", 0))[0]
        if fmt not in ("tokenlib", "fernet"):
            raise ConfigError(f"{where(line)}: [service {name}] format = "
                              f"{fmt}: tokenlib or fernet")
        duration = integer(f"service {name}", keys, "duration", "1800", 1,
                           86400)
        nodes = []
        if "nodes_file" in keys:
            if "node" in keys or "secret_file" in keys:
                raise ConfigError(f"{where(line)}: [service {name}] "
                                  "nodes_file excludes node and secret_file")
            v, kl = keys["nodes_file"]
            path = path_of(v)
            data = read_private_file(path, f"{where(kl)}: [service {name}] "
                                     "nodes_file", 65536)
            for no, raw in secret_lines(data):
                parts = raw.split(b",")
                try:
                    url = parts[0].decode("ascii")
                except UnicodeDecodeError:
                    url = ""
                if not re.match(r"https?://", url) or len(parts) < 2:
                    raise ConfigError(f"{path}:{no}: URL,SECRET[,SECRET...]")
                secret = check_secret(path, no, parts[1])
                nodes.append((url, int.from_bytes(hashlib.sha256(
                    url.encode()).digest()[:8], "big"),
                    Secret(secret, fmt)))
            if not 1 <= len(nodes) <= 64:
                raise ConfigError(f"{path}: 1 to 64 nodes")
        else:
            if "node" not in keys or "secret_file" not in keys:
                raise ConfigError(f"{where(line)}: [service {name}] needs "
                                  "node and secret_file, or nodes_file")
            node, _ = keys["node"]
            if not re.match(r"https?://", node):
                raise ConfigError(f"{where(keys['node'][1])}: [service "
                                  f"{name}] node: an http:// or https:// URL")
            v, kl = keys["secret_file"]
            secrets = read_secrets(path_of(v), f"{where(kl)}: [service "
                                   f"{name}] secret_file")
            nodes.append((node, 0, Secret(secrets[0], fmt)))
        return Service(name, fmt, duration, nodes)

    def issuer(self, name, line, keys, where, path_of, integer):
        sect = f"issuer {name}"
        for k, (v, kl) in keys.items():
            if ("issuer", k) in UNSUPPORTED:
                raise ConfigError(f"{where(kl)}: [{sect}] "
                                  f"{UNSUPPORTED[('issuer', k)]}")
            if k not in ISSUER_KEYS:
                raise ConfigError(f"{where(kl)}: [{sect}] {k}: a key the "
                                  "Python worker does not know")
        kind = keys.get("type", ("jwt", 0))
        if kind[0] != "jwt":
            raise ConfigError(f"{where(kind[1])}: [{sect}] type = {kind[0]}:"
                              " the Python worker verifies JWT issuers only")
        i = Issuer()
        i.name = name
        for k in ("iss", "audience"):
            if k not in keys:
                raise ConfigError(f"{where(line)}: [{sect}] {k} is required")
        i.iss, i.audience = keys["iss"][0], keys["audience"][0]
        i.explicit_ns = "uid_namespace" in keys
        i.namespace = keys.get("uid_namespace", (i.iss, 0))[0]
        if len(i.namespace.encode()) > 1024:
            raise ConfigError(f"{where(line)}: [{sect}] uid_namespace over "
                              "1024 bytes")
        i.algorithms = keys.get("algorithms", ("RS256 ES256 EdDSA", 0))[0] \
            .split()
        for a in i.algorithms:
            if a not in ALGS:
                raise ConfigError(f"{where(keys['algorithms'][1])}: [{sect}]"
                                  f" algorithms: {a} is not one of "
                                  f"{' '.join(ALGS)}")
        i.leeway = integer(sect, keys, "leeway", "60", 0, 3600)
        i.identity_claim = keys.get("identity_claim", ("sub", 0))[0]
        if i.identity_claim not in ("sub", "email"):
            raise ConfigError(f"{where(keys['identity_claim'][1])}: [{sect}]"
                              " identity_claim: sub or email")
        i.require = {}
        for pair in keys.get("require", ("", 0))[0].split():
            k, eq, v = pair.partition("=")
            if not eq or not k:
                raise ConfigError(f"{where(keys['require'][1])}: [{sect}] "
                                  f"require: {pair} is not claim=value")
            i.require[k] = True if v == "true" else False if v == "false" \
                else v
        svc = keys.get("services", ("*", 0))[0].split()
        if svc != ["*"]:
            for s in svc:
                if s not in self.services:
                    raise ConfigError(f"{where(keys['services'][1])}: "
                                      f"[{sect}] services: no [service {s}]")
        i.services = None if svc == ["*"] else set(svc)
        i.hs_secret = None
        if "hs_secret_file" in keys:
            v, kl = keys["hs_secret_file"]
            hs = [a for a in i.algorithms if a.startswith("HS")]
            i.hs_secret = read_one_secret(
                path_of(v), f"{where(kl)}: [{sect}] hs_secret_file",
                max([HS_MIN[a] for a in hs] or [32]))
        if any(a.startswith("HS") for a in i.algorithms) and \
                i.hs_secret is None:
            raise ConfigError(f"{where(line)}: [{sect}] HS* algorithms need "
                              "hs_secret_file")
        i.keys = None
        if "jwks_file" in keys:
            i.keys = KeySet(path_of(keys["jwks_file"][0]), name)
        elif any(not a.startswith("HS") for a in i.algorithms):
            raise ConfigError(f"{where(line)}: [{sect}] needs jwks_file")
        return i


# ---------------------------------------------------------------- jobs

class Reject(Exception):
    """A job's failure, as docs/protocol.md's REPLY names it."""

    def __init__(self, error, name, description):
        super().__init__(description)
        self.error, self.name, self.description = error, name, description


def credentials(desc):
    return Reject("invalid-credentials", "assertion", desc)


def timestamp(desc):
    return Reject("invalid-timestamp", "assertion", desc)


# docs/protocol.md, "What a worker checks of a JWT": the bounds and the
# order of the checks, which decide the error when several apply.
JWS_MAX_BYTES = 8192        # the longest JWT
JOSE_MAX_HEADER = 4096      # the longest decoded header
JOSE_MAX_MEMBERS = 64       # members in all the objects of a header/claims
JOSE_MAX_DEPTH = 20         # nesting of arrays and objects
JWT_MAX_SUB = 255           # the longest identity, in bytes
MAX_EMAIL = 254
INT64 = (-(1 << 63), (1 << 63) - 1)


def jose_json(raw, what):
    """A JWT part's JSON object, bounded before it is parsed: nesting and
    members counted in one pass (brackets and colons in strings do not
    count), no repeated member, integers within int64."""
    depth, members, in_str, i, n = 0, 0, False, 0, len(raw)
    while i < n:
        c = raw[i]
        if in_str:
            if c == 0x5c:               # backslash: skip what it escapes
                i += 1
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in b"[{":
            depth += 1
            if depth > JOSE_MAX_DEPTH:
                raise credentials("JSON in the header or claims is nested "
                                  "too deeply")
        elif c in b"]}":
            depth -= 1
        elif c == 0x3a:
            members += 1
            if members > JOSE_MAX_MEMBERS:
                raise credentials("JSON in the header or claims has too "
                                  "many members")
        i += 1

    def no_repeats(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise KeyError(k)
            d[k] = v
        return d

    def bounded_int(text):
        if len(text) > 20 or not INT64[0] <= int(text) <= INT64[1]:
            raise OverflowError(text)
        return int(text)

    def bounded_float(text):
        v = float(text)
        if v in (float("inf"), float("-inf")):
            raise OverflowError(text)
        return v

    def not_json(name):             # NaN, Infinity: Python's, not JSON's
        raise ValueError(name)
    try:
        text = raw.decode("utf-8")
        # JSON's escapes of what a C string cannot hold, or no UTF-8
        # can: \u0000 and lone surrogates are not valid JSON here.
        if "\\u" in text and re.search(r"\\u0000", text):
            raise ValueError("NUL")
        obj = json.loads(text, object_pairs_hook=no_repeats,
                         parse_int=bounded_int, parse_float=bounded_float,
                         parse_constant=not_json)
        if "\\u" in text:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except KeyError:
        raise credentials("JSON member appears twice in the header or "
                          "claims") from None
    except OverflowError:
        raise credentials("number in the header or claims out of range") \
            from None
    except (ValueError, RecursionError, UnicodeError):
        raise credentials(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise credentials(f"{what} is not a JSON object")
    return obj


def verify_jwt(cfg, assertion, service, now):
    """(issuer, identity) of a JWT that passes every check, or Reject:
    docs/protocol.md's steps, in its order."""
    if len(assertion) > JWS_MAX_BYTES:
        raise credentials("assertion too large")
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts):
        raise credentials("assertion is not three dot-separated parts with "
                          "a signature")
    raw = [b64url_decode(p) for p in parts]
    if None in raw:
        raise credentials("assertion part is not unpadded base64url")
    if len(raw[0]) > JOSE_MAX_HEADER:
        raise credentials("JWS header too large")
    header = jose_json(raw[0], "JWS header")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise credentials("JWS header has no \"alg\"")
    if alg.lower() == "none":
        raise credentials("unsigned tokens (alg \"none\") are not accepted")
    if alg not in ALGS:
        raise credentials("signature algorithm not supported")
    if "crit" in header:
        raise credentials("critical header extensions (crit) are not "
                          "supported")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise credentials("key id (kid) is not a string")
    claims = jose_json(raw[1], "JWT payload")
    iss = claims.get("iss")
    if not isinstance(iss, str):
        raise credentials("no issuer (iss) claim")
    issuer = cfg.issuers.get(iss)
    if issuer is None:
        raise credentials("issuer (iss) is not trusted")
    signed = (parts[0] + "." + parts[1]).encode("ascii")
    if alg.startswith("HS"):
        if issuer.hs_secret is None:
            raise credentials("HMAC algorithm (HS256/HS384/HS512) not "
                              "accepted: the issuer has no shared secret")
        if alg not in issuer.algorithms:
            raise credentials("algorithm not allowed for this issuer")
        mac = hmac.new(issuer.hs_secret, signed, ALGS[alg][1]).digest()
        if not hmac.compare_digest(mac, raw[2]):
            raise credentials("signature does not verify")
    else:
        if alg not in issuer.algorithms:
            raise credentials("algorithm not allowed for this issuer")
        pick_key(issuer, alg, kid).check(alg, signed, raw[2])
    check_claims(issuer, claims, now)
    sub = identity(issuer, claims)
    if issuer.services is not None and service not in issuer.services:
        raise credentials("issuer not allowed for this service: its "
                          "assertions are not accepted for this service")
    return issuer, sub


def pick_key(issuer, alg, kid):
    """With a kid, that key (the file reread at once if none has it), which
    must fit alg; without one, the one key that fits alg: guessing among
    several would make the signature check a search."""
    ks = issuer.keys
    ks.refresh(time.monotonic())
    if not ks.keys:
        raise credentials("the issuer's keys are not available")
    if kid is not None:
        key = next((k for k in ks.keys if k.kid == kid), None)
        if key is None:
            ks.refresh(time.monotonic(), force=True)
            key = next((k for k in ks.keys if k.kid == kid), None)
        if key is None:
            raise credentials("unknown key id (kid)")
        key.fit(alg)
        return key
    fits = [k for k in ks.keys if k.fits(alg)]
    if not fits:
        raise credentials("no key of the issuer fits the algorithm")
    if len(fits) > 1:
        raise credentials("key id (kid) required: the issuer has several "
                          "keys")
    return fits[0]


def time_claim(claims, name):
    """An optional time claim: absent (None) or a JSON integer; a real is
    refused even without a fraction."""
    v = claims.get(name)
    if v is None and name not in claims:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise credentials("time claim (exp, nbf, iat) is not an integer")
    return v


def check_claims(issuer, claims, now):
    exp = time_claim(claims, "exp")
    if exp is None:
        raise credentials("no expiry (exp) claim")
    if exp <= now - issuer.leeway:
        raise timestamp("token expired")
    nbf = time_claim(claims, "nbf")
    if nbf is not None and nbf > now + issuer.leeway:
        raise timestamp("token not yet valid (nbf)")
    iat = time_claim(claims, "iat")
    if iat is not None and iat > now + issuer.leeway:
        raise timestamp("token issued in the future (iat)")
    aud = claims.get("aud")
    if isinstance(aud, str):
        found = aud == issuer.audience
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        found = issuer.audience in aud
    elif "aud" in claims:
        raise credentials("audience (aud) is not a string (or, in a JWT, an "
                          "array of strings)")
    else:
        found = False
    if not found:
        raise credentials(f"audience (aud) must name "
                          f"\"{printable(issuer.audience.encode(), 100)}\", "
                          "the audience required of this issuer")
    for k, v in issuer.require.items():
        c = claims.get(k)
        if isinstance(v, bool) != isinstance(c, bool) or c != v:
            raise credentials("a claim the issuer requires is missing or "
                              "has another value")


EMAIL_LABEL = re.compile(rb"(?![-])[A-Za-z0-9\x80-\xff-]+(?<![-])\Z")


def email_ok(b):
    """local@domain: the local part 1-64 bytes, no control, space or @;
    the domain two labels or more of letters, digits, - or UTF-8, none
    empty or starting or ending with -."""
    local, at, domain = b.partition(b"@")
    if len(b) > MAX_EMAIL or not at or not 1 <= len(local) <= 64:
        return False
    if any(c <= 0x20 or c == 0x7f for c in local):
        return False
    labels = domain.split(b".")
    return len(labels) >= 2 and all(EMAIL_LABEL.match(x) for x in labels)


def identity(issuer, claims):
    """The subject the uid is derived from (docs/tokens.md, "Emails")."""
    email = issuer.identity_claim == "email"
    v = claims.get(issuer.identity_claim)
    missing = credentials("email claim missing, too long or not an address"
                          if email else
                          "subject (sub) missing, empty or too long")
    if not isinstance(v, str):
        raise missing
    b = v.encode("utf-8", "surrogatepass")
    if not 1 <= len(b) <= JWT_MAX_SUB or b"\0" in b:
        raise missing
    if email:
        if not email_ok(b):
            raise missing
        local, _, domain = v.partition("@")
        v = local + "@" + "".join(c.lower() if "A" <= c <= "Z" else c
                                  for c in domain)
    return v


def uid_of(cfg, issuer, sub):
    """docs/tokens.md, "uid"."""
    mac = hmac.new(cfg.uid_secret, issuer.namespace.encode() + b"\0" +
                   sub.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 11


def mint(service, uid, client_state, now):
    """(token, key, node, expires): docs/tokens.md byte for byte."""
    node, secret = service.node_for(uid)
    expires = now + service.duration
    salt = os.urandom(3).hex()
    payload = '{"uid":%d,"node":%s,"expires":%d,"salt":"%s"' % (
        uid, json.dumps(node, ensure_ascii=False), expires, salt)
    if client_state is not None:
        payload += ',"client_state":"%s"' % client_state
    payload = (payload + "}").encode("utf-8")
    if service.format == "tokenlib":
        token = base64.urlsafe_b64encode(
            payload + hmac.new(secret.sig, payload, hashlib.sha256).digest())
    else:
        iv = os.urandom(16)
        padder = sympad.PKCS7(128).padder()
        plain = padder.update(payload) + padder.finalize()
        enc = Cipher(algorithms.AES(secret.enc), modes.CBC(iv)).encryptor()
        body = b"\x80" + struct.pack(">Q", now) + iv + \
            enc.update(plain) + enc.finalize()
        token = base64.urlsafe_b64encode(
            body + hmac.new(secret.sig, body, hashlib.sha256).digest())
    key = base64.urlsafe_b64encode(hkdf(secret.master, salt.encode("ascii"),
                                        TOKENLIB_DERIVE + token, 32))
    return token, key, node, expires


CLIENT_STATE = re.compile(rb"[0-9a-f]{1,32}\Z")
KEY_CLIENT_STATE = re.compile(rb"[0-9a-f]{0,32}\Z")
INT64_DIGITS = re.compile(rb"[0-9]{1,19}\Z")


def same_application(cfg, asked):
    """Whether a configured service has the application of the unknown
    one asked for: a '-' at the same place in both, the same bytes before
    it (sync-1.1 beside sync-1.5)."""
    for name in cfg.services:
        n = name.encode("utf-8")
        for k in range(min(len(asked), len(n))):
            if asked[k] == n[k] == 0x2d and asked[:k] == n[:k]:
                return True
    return False


def serve(cfg, f):
    """The REPLY fields for JOB fields f, or Reject: docs/protocol.md's
    JOB rules, in its order (kind, client_state, service, assertion, an
    unknown service, the verifier the kind names, then the JWT's steps)."""
    kind = f.get("kind")
    if kind is not None and kind not in (b"jwt", b"browserid"):
        raise Reject("invalid-request", "kind", "kind must be jwt or "
                     "browserid")
    cs = f.get("client_state")
    if cs is not None and not CLIENT_STATE.match(cs):
        raise Reject("invalid-request", "client_state", "client_state must "
                     "be 1 to 32 lowercase hex digits")
    # GET /1.0's X-KeyID and ?duration=: for nodes = database services,
    # which this worker refuses to run; checked all the same, as in C.
    kcs = f.get("key_client_state")
    if kcs is not None and not KEY_CLIENT_STATE.match(kcs):
        raise Reject("invalid-request", "key_client_state", "key_client_"
                     "state must be 0 to 32 lowercase hex digits")
    for k in ("keys_changed_at", "duration"):
        v = f.get(k)
        if v is not None and (not INT64_DIGITS.match(v) or
                              int(v) > INT64[1]):
            raise Reject("invalid-request", k, f"{k} must be a decimal "
                         "int64")
    if f.get("key_id_error") not in (None, b"missing", b"invalid",
                                     b"malformed", b"mismatch"):
        raise Reject("invalid-request", "key_id_error", "key_id_error must "
                     "be missing, invalid, malformed or mismatch")
    service, assertion = f.get("service"), f.get("assertion")
    if service is None:
        raise Reject("invalid-request", "service", "missing service")
    if assertion is None:
        raise Reject("invalid-request", "assertion", "missing assertion")
    try:
        svc = cfg.services.get(service.decode("utf-8"))
    except UnicodeDecodeError:
        svc = None
    if svc is None:
        raise Reject("unknown-service", "version" if same_application(
            cfg, service) else "service", "unknown service")
    backed = b"~" in assertion
    if kind == b"jwt" and backed:
        raise credentials("a JWT was expected (Authorization: Bearer, or a "
                          "JWT token type), not a BrowserID assertion")
    if kind == b"browserid" and not backed:
        raise credentials("a BrowserID assertion was expected "
                          "(Authorization: BrowserID), not a JWT")
    if backed:
        raise credentials("BrowserID assertions are not accepted by this "
                          "worker (contrib/python-worker)")
    # Byte for character: a non-ASCII byte fails as base64url, as in C.
    text = assertion.decode("latin-1")
    now = int(time.time())
    issuer, sub = verify_jwt(cfg, text, svc.name, now)
    uid = uid_of(cfg, issuer, sub)
    token, key, node, expires = mint(svc, uid, None if cs is None else
                                     cs.decode("ascii"), now)
    return [("id", token), ("key", key), ("uid", str(uid)),
            ("api_endpoint", node), ("duration", str(svc.duration)),
            ("expires", str(expires)), ("hashalg", "sha256")]


def reply_fields(cfg, job, f):
    """A REPLY's fields for a JOB: success, or the error's, cut to the
    front's limits."""
    try:
        return [("job", job)] + serve(cfg, f)
    except Reject as r:
        err, name, desc = r.error, r.name, r.description
    except Exception as e:          # a bug here must not cost the worker
        log("error", f"job failed internally: {type(e).__name__}: {e}")
        err, name, desc = "error", "assertion", \
            "the worker failed internally"
    desc = printable(desc.encode("ascii", "replace"), ERR_DESCRIPTION_MAX)
    return [("job", job), ("error", err[:ERR_MAX]),
            ("name", name[:ERR_NAME_MAX]), ("description", desc)]


# ---------------------------------------------------------------- CURVE

Z85 = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")


# ---------------------------------------------------------------- figures
# docs/protocol.md, "Figures in a HEARTBEAT": optional, for the front's
# metrics and /__heartbeat__.  Counts are cumulative since the start.

BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
           0.25, 0.5, 1, 2.5, 5, 10)
ERROR_CODES = ("invalid-request", "invalid-credentials", "invalid-timestamp",
               "unknown-service", "error")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Figures:
    def __init__(self, cfg):
        self.cfg = cfg
        self.jobs = 0
        self.busy = [0] * (len(BUCKETS) + 1)    # the last: above 10 s
        self.busy_us = 0
        self.rejected = [0] * len(ERROR_CODES)
        self.tokens = {}

    def job(self, seconds, fields):
        """Counts one answered job: its time, and its error or token."""
        self.jobs += 1
        i = next((i for i, b in enumerate(BUCKETS) if seconds <= b),
                 len(BUCKETS))
        self.busy[i] += 1
        self.busy_us += int(seconds * 1e6)
        f = dict(fields)
        if "error" in f:
            if f["error"] in ERROR_CODES:
                self.rejected[ERROR_CODES.index(f["error"])] += 1
        elif "service" in f:
            self.tokens[f["service"]] = self.tokens.get(f["service"], 0) + 1

    def fields(self):
        keysets = [i.keys for i in self.cfg.issuers.values()
                   if i.keys is not None]
        ru = resource.getrusage(resource.RUSAGE_SELF)
        try:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            rss = 0
        out = [("keys_missing", str(sum(1 for k in keysets if not k.keys))),
               ("db_state", "-1"), ("jobs", str(self.jobs)),
               ("busy", ",".join(map(str, self.busy + [self.busy_us]))),
               ("rejected", ",".join(map(str, self.rejected))),
               ("jwks", f"{sum(k.reloads for k in keysets)},"
                        f"{sum(k.refused for k in keysets)}"),
               ("cpu_us", str(int((ru.ru_utime + ru.ru_stime) * 1e6))),
               ("rss", str(rss))]
        if self.tokens:
            out.append(("tokens", "\n".join(f"{s} {n}" for s, n in
                                            sorted(self.tokens.items()))))
        return out


# ---------------------------------------------------------------- the link

class Worker:
    """One DEALER connection to a front and the protocol's state."""

    def __init__(self, cfg, endpoint, credit, curve=None, name=None):
        self.cfg, self.endpoint, self.curve = cfg, endpoint, curve
        self.want_credit = credit
        self.ctx = zmq.Context.instance()
        host = socket.gethostname().split(".")[0][:16]
        self.identity = (f"py-{host}-{os.getpid()}-" +
                         os.urandom(8).hex()).encode("ascii", "replace")[:64]
        self.name = name
        self.sock = self.monitor = None
        self.opened = 0.0
        self.hb = cfg.heartbeat_ms / 1000.0
        self.liveness = cfg.liveness
        self.welcomed = False
        self.ready_at = self.last_in = self.last_out = 0.0
        self.lost_at = time.monotonic()   # no front yet
        self.stopping = False
        self.jobs = 0
        self.figures = Figures(cfg)
        self.last_figures = 0.0
        self.garbage = RateLimited()
        self.auth_refused = RateLimited(60.0)

    # -- the socket

    def open(self):
        wait = self.opened + 0.1 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        s.setsockopt(zmq.SNDTIMEO, max(1, int(self.hb * 1000)))
        s.setsockopt(zmq.ROUTING_ID, self.identity)
        if self.curve is not None:
            server, public, secret = self.curve
            s.setsockopt(zmq.CURVE_SERVERKEY, server)
            s.setsockopt(zmq.CURVE_PUBLICKEY, public)
            s.setsockopt(zmq.CURVE_SECRETKEY, secret)
            s.setsockopt(zmq.HANDSHAKE_IVL, self.cfg.handshake_ms)
            # ZMTP heartbeats: a dead TCP peer is found with no message due.
            s.setsockopt(zmq.HEARTBEAT_IVL, int(self.hb * 1000))
            s.setsockopt(zmq.HEARTBEAT_TIMEOUT,
                         int(self.hb * 1000) * self.liveness)
        self.monitor = s.get_monitor_socket(
            zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        s.connect(self.endpoint)
        self.sock, self.opened = s, time.monotonic()
        self.poller = zmq.Poller()
        self.poller.register(s, zmq.POLLIN)
        self.poller.register(self.monitor, zmq.POLLIN)
        self.welcomed = False
        self.last_in = self.opened
        self.send(READY, self.ready_fields())

    def close(self):
        if self.sock is not None:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.monitor.close(0)
            self.sock.close(0)
        self.sock = self.monitor = None

    def reconnect(self, why):
        log("warning", f"connection to {self.endpoint} lost ({why}): "
            "connecting again")
        if self.welcomed or self.lost_at is None:
            self.lost_at = time.monotonic()
        self.close()
        self.open()

    def ready_fields(self):
        f = [("versions", str(VERSION)), ("credit", str(self.want_credit))]
        if self.name is not None:
            f.append(("worker", self.name))
        return f

    def send(self, cmd, fields=()):
        """Sends one message, bounded by SNDTIMEO; False when the send
        failed, which means the connection is gone (it is then renewed)."""
        try:
            self.sock.send(encode(cmd, fields))
        except zmq.Again:
            self.reconnect(f"a {COMMAND_NAMES[cmd]} could not be sent "
                           f"within {self.hb:.3f} s")
            return False
        except zmq.ZMQError as e:
            self.reconnect(f"send: {e}")
            return False
        now = time.monotonic()
        self.last_out = now
        if cmd == READY:
            self.ready_at = now
        return True

    # -- messages

    def dispatch(self, frames):
        if frames[0][:2] == bytes([1, REFUSE]):
            self.refused(1, {})     # version 1's layout: a frame per field
        if len(frames) != 1:
            self.garbage("warning", f"dropped a message of {len(frames)} "
                         "frames (the protocol has one)")
            return
        try:
            version, cmd, f = decode(frames[0])
        except Malformed as e:
            self.garbage("warning", f"dropped a malformed message: {e}")
            return
        self.last_in = time.monotonic()
        if cmd == REFUSE and version in (1, 2):
            self.refused(version, f)
        if version != VERSION:
            self.garbage("warning", f"dropped a message of protocol version"
                         f" {version} (this worker speaks {VERSION})")
            return
        if cmd == WELCOME:
            self.welcome(f)
        elif cmd == JOB:
            self.job(f)
        elif cmd == HEARTBEAT:
            pass
        elif cmd == RESYNC:
            if not self.welcomed and \
                    time.monotonic() - self.ready_at < self.hb:
                return          # one of a burst, before our READY's answer
            log("info", "the front does not know this worker (RESYNC): "
                "READY again")
            self.welcomed = False
            self.send(READY, self.ready_fields())
        else:
            self.garbage("warning", f"dropped an unexpected command {cmd}")

    def welcome(self, f):
        version = decimal(f.get("version"), 1, 255)
        hb = decimal(f.get("heartbeat_interval"), 50, 60000)
        live = decimal(f.get("heartbeat_liveness"), 2, 100)
        credit = decimal(f.get("credit"), 1, 1 << 31)
        timeout = decimal(f.get("request_timeout"), 1, 1 << 31)
        if version != VERSION or None in (hb, live, credit, timeout):
            self.garbage("warning", "dropped a WELCOME that breaks the "
                         "protocol's rules")
            return
        self.hb, self.liveness = hb / 1000.0, live
        self.sock.setsockopt(zmq.SNDTIMEO, hb)
        self.last_figures = 0.0     # figures at once after a WELCOME
        if not self.welcomed:
            log("info", f"joined the front at {self.endpoint} as "
                f"{self.identity.decode()} (protocol {version}, credit "
                f"{credit}, heartbeat {hb} ms x {live})")
        self.welcomed, self.lost_at = True, None

    def refused(self, version, f):
        if version == 1:        # only its header frame reached us: no fields
            log("error", "refused by the front, which speaks another worker "
                f"protocol version (this worker speaks {VERSION}); exiting")
        else:
            log("error", "refused by the front, which speaks worker protocol"
                f" version {printable(f.get('versions', b'?'), 63)} (this "
                f"worker speaks {VERSION}; the front understood "
                f"{printable(f.get('peer_versions', b'?'), 63)}): "
                f"{printable(f.get('reason', b''), 199)}; exiting")
        self.close()
        sys.exit(EXIT_FATAL)

    def job(self, f):
        job = f.get("job")
        if job is None or len(job) != JOB_ID_LEN:
            self.garbage("warning", "dropped a JOB without an 8-byte job id")
            return
        t0 = time.perf_counter()
        fields = reply_fields(self.cfg, job, f)
        took = time.perf_counter() - t0
        if self.send(REPLY, fields):
            self.jobs += 1
            svc = f.get("service", b"").decode("utf-8", "replace")
            self.figures.job(took, fields + ([] if any(
                k == "error" for k, _ in fields) else [("service", svc)]))

    # -- the loop

    def run(self):
        self.open()
        while not self.stopping:
            due = min(self.last_out, self.last_figures if self.welcomed
                      else self.last_out) + self.hb
            timeout = max(0.0, min(due, self.last_in + self.hb *
                                   self.liveness) - time.monotonic())
            try:
                ev = dict(self.poller.poll(timeout * 1000))
            except zmq.ZMQError as e:
                if e.errno == zmq.EINTR:
                    continue
                raise
            if self.stopping:
                break
            if ev.get(self.monitor):
                if self.monitor_says_lost():
                    self.reconnect("the front dropped the connection")
                    continue
            if ev.get(self.sock):
                self.drain()
            now = time.monotonic()
            if now - self.last_in > self.hb * self.liveness:
                self.reconnect(f"the front was silent for "
                               f"{self.hb * self.liveness:.3f} s")
                continue
            if self.welcomed and now - self.last_figures >= self.hb:
                # Figures every interval, busy or idle: also a heartbeat.
                self.last_figures = now
                self.send(HEARTBEAT, self.figures.fields())
            elif now - self.last_out >= self.hb:
                self.send(HEARTBEAT)
            if self.lost_at is not None and \
                    now - self.lost_at > self.cfg.orphan_timeout:
                log("error", f"no front at {self.endpoint} for "
                    f"{self.cfg.orphan_timeout} s (orphan_timeout); exiting")
                self.close()
                sys.exit(1)
        self.bye()

    def drain(self):
        """Every message waiting, up to a bound, so heartbeats still go."""
        for _ in range(64):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.dispatch(frames)
            if self.sock is None or self.stopping:
                return

    def monitor_says_lost(self):
        lost = False
        while True:
            try:
                frames = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return lost
            event = struct.unpack_from("=H", frames[0])[0] if frames and \
                len(frames[0]) >= 2 else 0
            if event == zmq.EVENT_DISCONNECTED:
                lost = True
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.auth_refused("warning", f"the front at {self.endpoint}"
                                  " refused this host's CURVE handshake: its"
                                  " public key is not in the front's "
                                  "authorized_keys")

    def bye(self):
        if self.sock is not None:
            try:
                self.sock.send(encode(BYE), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            log("info", f"exiting after {self.jobs} jobs (BYE sent)")
        self.close()


def main(argv=None):
    global log_level, log_tag
    ap = argparse.ArgumentParser(
        description="A tokend pool worker in Python (contrib/python-worker"
        "/README.md).")
    ap.add_argument("-c", "--config", required=True,
                    help="tokend.conf (the subset README.md names)")
    ap.add_argument("--connect", help="the front's endpoint: default "
                    "[remote] connect (CURVE TCP), else "
                    "ipc://RUNTIME_DIR/worker.sock")
    ap.add_argument("--credit", type=int, help="jobs held at once, 1 to 16 "
                    "(default: worker_credit)")
    ap.add_argument("--name", help="a name for the front's logs (READY's "
                    "worker field: decimal)")
    ap.add_argument("--log-level", choices=tuple(LEVELS),
                    help="instead of the config's log_level")
    ap.add_argument("-t", "--test", action="store_true",
                    help="check the config and exit")
    a = ap.parse_args(argv)
    try:
        cfg = Config(a.config)
        curve = None
        endpoint = a.connect or cfg.connect or \
            f"ipc://{cfg.runtime_dir}/worker.sock"
        if endpoint.startswith("tcp://"):
            if cfg.curve is None:
                raise ConfigError("a tcp:// endpoint needs [remote] "
                                  "secret_key_file and server_public_key: "
                                  "the Python worker speaks TCP only with "
                                  "CURVE")
            curve = cfg.curve
        elif not endpoint.startswith("ipc://"):
            raise ConfigError(f"{endpoint}: ipc:// or tcp://")
        credit = a.credit if a.credit is not None else cfg.credit
        if not 1 <= credit <= 16:
            raise ConfigError("--credit: from 1 to 16")
        if a.name is not None and not re.fullmatch(r"[0-9]{1,9}", a.name):
            raise ConfigError("--name: a decimal number")
    except ConfigError as e:
        log("error", str(e))
        return 1
    if a.test:
        print(f"{a.config}: ok ({len(cfg.issuers)} issuers, "
              f"{len(cfg.services)} services)")
        return 0
    log_level = cfg.log_level if a.log_level is None else \
        LEVELS[a.log_level]
    if a.name:
        log_tag = f"tokend python-worker {a.name}"
    w = Worker(cfg, endpoint, credit, curve, a.name)

    def stop(signo, frame):
        w.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    w.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
