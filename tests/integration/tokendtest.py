"""tokendtest - shared helpers for tokend's integration tests.

The integration tests start the real build/tokend (path from $BUILD,
default "build", relative to the repository root), speak HTTP to it and
check every answer against the specification, not against tokend's own
code.  Nothing here imports tokend: the JWT signing and the tokenlib token
checks are written independently, from the spec, so that a bug shared by
tokend's C and a test's expectation cannot hide.

What is here, in the order a test uses it:

  keys and JWTs   Key (RS256 / ES256 / EdDSA), write_jwks(), sign_jwt(),
                  claims()
  tokenlib        hkdf_sha256(), parse_token(), get_derived_secret():
                  Mozilla tokenlib 2.x, from hmac/hashlib/base64/json only
  instances       Tokend: a temp dir with config and secrets, start(),
                  stop(), the process tree, check_config() for `tokend -t`
  HTTP            http_request(), post_json(): (status, headers, body)
  load            Load: client threads sending requests, each bounded in
                  count and time; every outcome recorded and classified
                  (status, or refused / reset / timeout / error)
  processes       children_of(), stop_pids(), cont_pids(), proc_fd_count(),
                  proc_rss_kb(), unix_recv_queue() (bytes waiting unread in
                  a process's Unix sockets: shows which stopped worker
                  holds a job)
  logs            Tokend.log_mark(), log_since(), wait_log()
  waiting         wait_until(): every wait polls with a deadline
  suites          the setup they share: ISS, AUD, SYNC, OTHER and their
                  nodes, new_secret(), issuer_section(), service_section(),
                  instance(), one_issuer_instance(), case_instance(),
                  teardown(), which keeps a failed run's directories, and
                  check_error() for docs/api.md's error answers
  runner          @test, run(): "ok NAME (1.23s)" / "FAIL NAME (1.23s):
                  reason", then "N passed, N failed"; exit 1 if any failed

Only the Python 3 standard library and `cryptography` are used.
Run this file directly for a self-check of the helpers (no tokend needed).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def build_dir():
    """$BUILD (default "build"); a relative one is under the repository."""
    return os.path.join(REPO, os.environ.get("BUILD", "build"))


def tokend_path():
    return os.path.join(build_dir(), "tokend")


# ---------------------------------------------------------------- waiting

def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value, which is returned.

    Raises TimeoutError naming `what` (and the last exception pred raised,
    if any) when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last_exc = None
        except Exception as e:  # the condition may not be checkable yet
            last_exc = e
        if time.monotonic() >= deadline:
            more = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"{what}: not met within {timeout}s{more}")
        time.sleep(interval)


# ---------------------------------------------------------------- base64

def b64url(data):
    """Unpadded base64url, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def _int_bytes(n, size=None):
    if size is None:
        size = max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(size, "big")


# ---------------------------------------------------------------- keys, JWTs

ALGS = ("RS256", "ES256", "EdDSA")


class Key:
    """A fresh signing key for one JWS algorithm, with its kid."""

    def __init__(self, alg, kid=None):
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537,
                                                    key_size=2048)
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(f"unsupported alg {alg!r}")
        self.alg = alg
        self.kid = kid if kid is not None else \
            f"{alg.lower()}-{os.urandom(4).hex()}"
        self.public = self.private.public_key()

    def jwk(self, with_alg=True):
        """The public key as a JWK (RFC 7517/7518/8037) dict."""
        if self.alg == "RS256":
            nums = self.public.public_numbers()
            k = {"kty": "RSA", "n": b64url(_int_bytes(nums.n)),
                 "e": b64url(_int_bytes(nums.e))}
        elif self.alg == "ES256":
            nums = self.public.public_numbers()
            k = {"kty": "EC", "crv": "P-256",
                 "x": b64url(_int_bytes(nums.x, 32)),
                 "y": b64url(_int_bytes(nums.y, 32))}
        else:
            raw = self.public.public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
            k = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        k["kid"] = self.kid
        k["use"] = "sig"
        if with_alg:
            k["alg"] = self.alg
        return k

    def sign(self, data):
        """The raw JWS signature of `data` for this key's algorithm."""
        if self.alg == "RS256":
            return self.private.sign(data, padding.PKCS1v15(),
                                     hashes.SHA256())
        if self.alg == "ES256":
            der = self.private.sign(data, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return _int_bytes(r, 32) + _int_bytes(s, 32)   # RFC 7518 3.4
        return self.private.sign(data)

    def verify(self, data, sig):
        """Raises cryptography's InvalidSignature if sig is bad (self-test)."""
        if self.alg == "RS256":
            self.public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        elif self.alg == "ES256":
            from cryptography.hazmat.primitives.asymmetric.utils import (
                encode_dss_signature)
            if len(sig) != 64:
                raise ValueError("ES256 signature must be 64 bytes")
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            self.public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            self.public.verify(sig, data)


def write_jwks(path, keys, with_alg=True):
    """Writes {"keys": [...]} with the public JWK of every key."""
    with open(path, "w") as f:
        json.dump({"keys": [k.jwk(with_alg) for k in keys]}, f, indent=1)
        f.write("\n")


def claims(sub, iss="https://idp.example.com", aud="tokend", lifetime=300,
           now=None, **extra):
    """A claim set valid from now for `lifetime` s; extra overrides (a value
    of None, sub included, removes the claim)."""
    now = int(time.time()) if now is None else now
    c = {"iss": iss, "sub": sub, "aud": aud, "iat": now, "nbf": now,
         "exp": now + lifetime}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def sign_jwt(key, payload, alg=None, kid="__key__", header=None):
    """Compact JWS of payload (a dict) signed with key.

    alg defaults to the key's; kid defaults to the key's (None omits it);
    header entries are added to (or, with None, removed from) the header.
    """
    h = {"alg": alg or key.alg, "typ": "JWT"}
    kid = key.kid if kid == "__key__" else kid
    if kid is not None:
        h["kid"] = kid
    for k, v in (header or {}).items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    signing_input = (b64url(json.dumps(h, separators=(",", ":")).encode())
                     + "." +
                     b64url(json.dumps(payload, separators=(",", ":"))
                            .encode()))
    sig = key.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url(sig)


def tamper_signature(jwt):
    """The same JWT with one character in the middle of its signature part
    changed (the middle, so that it never only touches padding bits)."""
    head, payload, sig = jwt.split(".")
    i = len(sig) // 2
    c = "A" if sig[i] != "A" else "B"
    return f"{head}.{payload}.{sig[:i]}{c}{sig[i + 1:]}"


# ---------------------------------------------------------------- tokenlib
#
# Mozilla tokenlib 2.x, from its specification:
#   payload = JSON object {uid, node, expires, salt, ...}
#   sig     = HMAC-SHA256(signing key, payload bytes)
#   signing key = HKDF-SHA256(master, salt=None, info=SIGNING_INFO, 32)
#   token   = urlsafe_b64encode(payload || sig), '=' padded
#   derived secret = urlsafe_b64encode(HKDF-SHA256(master,
#                        salt=payload["salt"].encode("ascii"),
#                        info=DERIVE_INFO + token.encode("ascii"), 32))

TOKENLIB_SIGNING_INFO = b"services.mozilla.com/tokenlib/v1/signing"
TOKENLIB_DERIVE_INFO = b"services.mozilla.com/tokenlib/v1/derive/"


class TokenError(Exception):
    pass


class InvalidSignatureError(TokenError):
    pass


class MalformedTokenError(TokenError):
    pass


class ExpiredTokenError(TokenError):
    pass


def hkdf_sha256(ikm, salt, info, length):
    """RFC 5869 HKDF with SHA-256; salt None means 32 zero bytes."""
    if salt is None:
        salt = b"\x00" * 32
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def _secret_bytes(secret):
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _signing_key(secret):
    return hkdf_sha256(_secret_bytes(secret), None, TOKENLIB_SIGNING_INFO, 32)


def parse_token(token, secret, now=None):
    """The payload dict of a valid token, as tokenlib.parse_token.

    Raises MalformedTokenError, InvalidSignatureError or ExpiredTokenError.
    """
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except Exception as e:
        raise MalformedTokenError(f"not base64url: {e}") from None
    if len(raw) <= 32:
        raise MalformedTokenError("token too short")
    payload, sig = raw[:-32], raw[-32:]
    expected = hmac.new(_signing_key(secret), payload,
                        hashlib.sha256).digest()
    if not hmac.compare_digest(sig, expected):
        raise InvalidSignatureError("token signature does not match")
    try:
        data = json.loads(payload.decode("utf-8"))
    except Exception as e:
        raise MalformedTokenError(f"payload not JSON: {e}") from None
    if not isinstance(data, dict):
        raise MalformedTokenError("payload not a JSON object")
    now = time.time() if now is None else now
    if data.get("expires", 0) <= now:
        raise ExpiredTokenError("token expired")
    return data


def get_derived_secret(token, secret):
    """The per-token secret, as tokenlib.get_derived_secret.

    Reads the salt from the payload without checking the signature, as
    tokenlib does; call parse_token first.
    """
    raw = base64.urlsafe_b64decode(token.encode("ascii"))
    data = json.loads(raw[:-32].decode("utf-8"))
    derived = hkdf_sha256(_secret_bytes(secret),
                          data["salt"].encode("ascii"),
                          TOKENLIB_DERIVE_INFO + token.encode("ascii"), 32)
    return base64.urlsafe_b64encode(derived).decode("ascii")


def make_token(data, secret, duration=300, now=None):
    """tokenlib.make_token, only for this module's self-test."""
    data = dict(data)
    data.setdefault("salt", os.urandom(3).hex())
    data.setdefault("expires",
                    int((time.time() if now is None else now) + duration))
    payload = json.dumps(data).encode("utf-8")
    sig = hmac.new(_signing_key(secret), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload + sig).decode("ascii")


# ---------------------------------------------------------------- HTTP

class NotJSON(str):
    """A response body that is not JSON (kept as text for messages)."""


def http_request(port, method, path, body=None, headers=None, timeout=10,
                 host="127.0.0.1", chunked=False):
    """One request on a fresh connection.

    body: bytes, str, or anything else (JSON-encoded with Content-Type
    application/json unless headers say otherwise); chunked sends it with
    Transfer-Encoding: chunked, 1 KiB a chunk, and no Content-Length.
    Returns (status,
    headers, parsed) where headers is a dict with lower-case names and
    parsed is the JSON body, None when empty, or a NotJSON string.
    """
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            if chunked:
                headers["Transfer-Encoding"] = "chunked"
                chunks = (body[i:i + 1024]
                          for i in range(0, len(body or b""), 1024))
                conn.request(method, path, body=chunks, headers=headers,
                             encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The server may answer (413) and close before reading it all;
            # its answer is still there to read.  A connection that never
            # opened (reset while connecting: a draining server closed its
            # listener with it still in the backlog) was never accepted:
            # to the client that is a refusal, not an answer to read.
            if conn.sock is None:
                raise ConnectionRefusedError(
                    f"connection reset before it was accepted: {exc}") \
                    from exc
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    finally:
        conn.close()
    if not raw:
        return status, hdrs, None
    try:
        return status, hdrs, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, hdrs, NotJSON(raw.decode("utf-8", "replace"))


def post_json(port, path, obj, **kw):
    return http_request(port, "POST", path, body=obj, **kw)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------- /proc

def proc_title(pid):
    """The process title (/proc/PID/cmdline, NULs as spaces, trimmed), or
    None if the process is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw.replace(b"\x00", b" ").decode("utf-8", "replace").strip()


def proc_stat(pid):
    """(state, ppid) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def proc_alive(pid):
    """True if the process exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def children_of(ppid):
    """{pid: title} of the live children of ppid."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is None or st[1] != ppid or st[0] in ("Z", "X"):
            continue
        title = proc_title(int(name))
        if title is not None:
            out[int(name)] = title
    return out


def under_asan(pid):
    """Whether process pid runs with AddressSanitizer, which keeps freed
    memory in quarantine (up to 256 MiB) on purpose: RSS says nothing about
    leaks there, and LeakSanitizer checks them at exit instead (tests/run
    fails on any report)."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def proc_fd_count(pid):
    """Number of open descriptors of pid."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss_kb(pid):
    """VmRSS of pid in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def stop_pids(pids, timeout=5):
    """SIGSTOPs every pid and waits (bounded) until each is stopped."""
    pids = list(pids)
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    wait_until(lambda: all((proc_stat(p) or ("T",))[0] in ("T", "t")
                           for p in pids), timeout,
               interval=0.01, what=f"pids {pids} stopped")
    return pids


def cont_pids(pids):
    """SIGCONTs every pid still there."""
    for p in pids:
        try:
            os.kill(p, signal.SIGCONT)
        except ProcessLookupError:
            pass


def _socket_inodes(pid):
    out = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return out
    for n in names:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def unix_recv_queue(pid):
    """Bytes received but not yet read by pid, summed over its Unix stream
    sockets (`ss -xn` Recv-Q).  A stopped worker's ZeroMQ thread reads
    nothing, so a JOB sent to it (hundreds of bytes: it carries the
    assertion) stays there, while heartbeats add only a few bytes each."""
    inodes = _socket_inodes(pid)
    if not inodes:
        return 0
    out = subprocess.run(["ss", "-xnH"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=5,
                         check=True).stdout.decode("utf-8", "replace")
    total = 0
    for line in out.splitlines():
        f = line.split()
        # Netid State Recv-Q Send-Q Local Port Peer Port
        if len(f) >= 8 and f[5] in inodes and f[2].isdigit():
            total += int(f[2])
    return total


# ---------------------------------------------------------------- instances

def write_secret(path, text, mode=0o600):
    """Writes text to path with exactly `mode` (umask does not apply)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def render_config(sections):
    """INI text from [(header, [(key, value), ...]), ...]; returns (text,
    {(header, key): line}) so tests can name the line of any key."""
    lines, where = [], {}
    for header, items in sections:
        if lines:
            lines.append("")
        lines.append(f"[{header}]")
        where[(header, None)] = len(lines)
        for k, v in items:
            lines.append(f"{k} = {v}")
            where[(header, k)] = len(lines)
    return "\n".join(lines) + "\n", where


def section(header, items, over):
    """(header, [(key, value), ...]) for render_config(): the items of
    dict items, each replaced by over's value of its key or, where that
    is None, left out; then over's other keys, in order."""
    items = dict(items)
    items.update(over)
    return (header, [(k, v) for k, v in items.items() if v is not None])


def run_tokend(args, timeout=10):
    """Runs `tokend ARGS` to completion; returns (exit code, stdout,
    stderr).  On timeout its whole session is killed and TimeoutError
    raised, so that nothing it forked outlives the test."""
    p = subprocess.Popen([tokend_path()] + list(args),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate(timeout=5)
        raise TimeoutError(f"tokend {' '.join(args)}: still running after "
                           f"{timeout}s") from None
    return (p.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"))


def check_config(conf, timeout=10):
    """Runs `tokend -t -c conf`; returns (exit code, stdout, stderr)."""
    return run_tokend(["-t", "-c", conf], timeout)


def exited_noreap(pid, timeout):
    """Polls (bounded) until child pid has exited, leaving it unreaped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid,
                         os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True                 # already reaped
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


class Tokend:
    """One tokend instance in its own fresh temp dir.

    Typical use (a suite makes it with instance(), for teardown()):
        t = Tokend()
        t.write_secrets(uid=new_secret(), sync=new_secret())
        t.write_config(t.server_section(workers=2), issuer_section(...),
                       service_section(...))
        t.start()
        ... t.post("/v1/token", {...}) ...
        t.stop()
    """

    def __init__(self, prefix="tkd-", dir=None):
        """A fresh temp dir (or the given dir, created if need be)."""
        if dir is None:
            self.dir = tempfile.mkdtemp(prefix=prefix)
        else:
            os.makedirs(dir, 0o700, exist_ok=True)
            self.dir = dir
        self.port = None
        self.proc = None
        self.conf = None
        self.lines = {}
        self.stderr_path = os.path.join(self.dir, "tokend.stderr")
        self.exit_code = None

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def write_secret(self, rel, text, mode=0o600):
        write_secret(self.path(rel), text, mode)

    def write_secrets(self, end="\n", **secrets):
        """Writes NAME.secret holding value and end, mode 0600, for each
        NAME=value: t.write_secrets(uid=new_secret(), sync=S.sync)."""
        for name, value in secrets.items():
            self.write_secret(name + ".secret", value + end)

    def write_jwks(self, rel, keys, with_alg=True):
        write_jwks(self.path(rel), keys, with_alg)

    def server_section(self, **over):
        """The [server] section with a fresh port and defaults; keyword
        arguments override (value None removes the key)."""
        if self.port is None:
            self.port = free_port()
        return section("server", {
            "listen": f"127.0.0.1:{self.port}", "workers": 2,
            "runtime_dir": "run", "max_body": 16384, "queue_limit": 1024,
            "request_timeout": 5, "uid_secret_file": "uid.secret"}, over)

    def write_config(self, *sections, name="tokend.conf", text=None):
        """Writes the config (from sections, or raw text) and remembers it
        as the one start() uses.  Returns its absolute path."""
        conf = self.path(name)
        if text is None:
            text, self.lines = render_config(sections)
        with open(conf, "w") as f:
            f.write(text)
        self.conf = conf
        return conf

    def stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=15):
        return "\n".join(self.stderr().splitlines()[-n:])

    def log_mark(self):
        """The current length of the stderr log, for log_since()."""
        try:
            return os.path.getsize(self.stderr_path)
        except FileNotFoundError:
            return 0

    def log_since(self, mark=0):
        """The stderr log from byte offset mark on."""
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(mark)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10, since=0, count=1):
        """Polls the log (from offset since) until regex pattern matches
        count times; returns the list of matches."""
        rx = re.compile(pattern, re.M)

        def found():
            m = list(rx.finditer(self.log_since(since)))
            return m if len(m) >= count else None
        try:
            return wait_until(found, timeout, interval=0.05,
                              what=f"log line /{pattern}/ x{count}")
        except TimeoutError as e:
            raise AssertionError(f"{e}; log tail:\n"
                                 f"{self.stderr_tail()}") from None

    # -- life cycle

    def start(self, timeout=15, env=None, no_core=False, nofile=None):
        """Starts `tokend -c conf` and waits until /__lbheartbeat__ says 200.

        The process gets its own session, so that a kill on a failed stop
        reaches every process of this instance and nothing else.  env adds
        to (a value of None removes from) the inherited environment;
        no_core sets RLIMIT_CORE to 0, for tests that crash children on
        purpose; nofile sets RLIMIT_NOFILE (soft and hard) to that.
        """
        if self.proc is not None:
            raise RuntimeError("already started")
        self.exit_code = None
        penv = None
        if env:
            penv = dict(os.environ)
            for k, v in env.items():
                if v is None:
                    penv.pop(k, None)
                else:
                    penv[k] = v

        def limits():
            if no_core:
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [tokend_path(), "-c", self.conf], stdin=subprocess.DEVNULL,
                stdout=err, stderr=err, start_new_session=True, env=penv,
                preexec_fn=limits if no_core or nofile else None)
        finally:
            err.close()
        try:
            self.wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tokend exited with {self.proc.returncode} before it "
                    f"was ready; stderr:\n{self.stderr_tail()}")
            try:
                st, _, _ = self.get("/__lbheartbeat__", timeout=1)
            except OSError:
                return False
            return st == 200
        deadline = time.monotonic() + timeout
        while True:
            if ready():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"tokend not ready within {timeout}s; stderr:\n"
                    f"{self.stderr_tail()}")
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM to the supervisor, wait (bounded); on timeout SIGKILL the
        whole session.  Returns True if it stopped on SIGTERM in time."""
        if self.proc is None:
            return True
        graceful = True
        kids = list(children_of(self.proc.pid))
        # A stopped child would never see the SIGTERM; wake them first.
        for pid in kids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        pid = self.proc.pid
        if self.proc.returncode is None:
            # Wait without reaping: while the supervisor is an unreaped
            # zombie its pid, and so its process group id, cannot be reused,
            # so the killpg below reaches this instance and nothing else.
            if exited_noreap(pid, 0):
                graceful = False        # died before we asked it to
            else:
                os.kill(pid, signal.SIGTERM)
                if not exited_noreap(pid, timeout):
                    graceful = False
            try:
                os.killpg(pid, signal.SIGKILL)   # stragglers in its group
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            graceful = False
        self.exit_code = self.proc.returncode
        self.proc = None
        return graceful

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- processes

    def children(self):
        """{pid: title} of the supervisor's live children."""
        return children_of(self.proc.pid)

    def workers(self):
        """pids of this instance's workers: children of our supervisor
        whose title contains "tokend: worker"."""
        return sorted(p for p, t in self.children().items()
                      if "tokend: worker" in t)

    def signal_workers(self, sig):
        pids = self.workers()
        for p in pids:
            os.kill(p, sig)
        return pids

    def front(self):
        """pid of this instance's front, or None."""
        for p, t in self.children().items():
            if "tokend: front" in t:
                return p
        return None

    def wait_workers(self, n, timeout=10, gone=()):
        """Polls until exactly n workers run and none of the pids in gone
        is among them; returns their pids."""
        gone = set(gone)

        def ok():
            w = self.workers()
            return w if len(w) == n and not gone & set(w) else None
        try:
            return wait_until(ok, timeout, interval=0.02,
                              what=f"{n} workers under supervisor "
                                   f"{self.pid}")
        except TimeoutError as e:
            raise AssertionError(f"{e}: children now "
                                 f"{sorted(self.children().items())}"
                                 ) from None

    # -- HTTP

    def request(self, method, path, body=None, headers=None, timeout=10,
                chunked=False):
        return http_request(self.port, method, path, body, headers, timeout,
                            chunked=chunked)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj, **kw):
        return self.request("POST", path, obj, **kw)

    def token(self, assertion, service="sync-1.5", **kw):
        return self.post("/v1/token",
                         {"assertion": assertion, "service": service}, **kw)


# ---------------------------------------------------------------- load

def error_kind(exc):
    """How a request failed, from the client's side: "refused" (nothing
    listens), "reset" (the connection was dropped: reset, or closed
    without a complete answer), "timeout", or "error"."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError,
                        ConnectionAbortedError, http.client.BadStatusLine,
                        http.client.IncompleteRead)):
        return "reset"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    return "error"


class Outcome:
    """One request of a Load: thread index, monotonic start and end, and
    either status/headers/body or kind ("refused"...) with the exception."""
    __slots__ = ("thread", "t0", "t1", "status", "headers", "body", "kind",
                 "exc")

    def __init__(self, thread, t0, t1, resp=None, exc=None):
        self.thread, self.t0, self.t1 = thread, t0, t1
        self.status = self.headers = self.body = None
        self.exc = exc
        if resp is not None:
            self.status, self.headers, self.body = resp
            self.kind = str(self.status)
        else:
            self.kind = error_kind(exc)

    def __repr__(self):
        what = self.status if self.exc is None else \
            f"{self.kind}: {self.exc!r}"
        return f"<request thread {self.thread} {self.t0:.3f}-" \
               f"{self.t1:.3f} {what}>"


class Load:
    """Client threads, each sending requests one after another (a fresh
    connection each) until stop(), or until it has sent max_per_thread or
    run for seconds, whichever comes first.  Every outcome is kept.

        load = Load(t.port, lambda i, n: (method, path, body)).start()
        ... load.wait_count(100) ...
        load.stop()         # or load.join(): until its own bounds
        assert load.kinds() == {"200": len(load.results)}

    request(thread index, request number) gives each request; the default
    is a GET of /__lbheartbeat__.  A thread whose request ends with a kind
    in stop_on (say "refused": the server is gone) sends no more.
    """

    def __init__(self, port, request=None, threads=4, seconds=10,
                 max_per_thread=100000, timeout=10, stop_on=()):
        self.port = port
        self.request = request or (lambda i, n: ("GET", "/__lbheartbeat__",
                                                 None))
        self.nthreads = threads
        self.seconds = seconds
        self.max_per_thread = max_per_thread
        self.timeout = timeout
        self.stop_on = tuple(stop_on)
        self.results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self.started = None

    def _run(self, i):
        deadline = self.started + self.seconds
        for n in range(self.max_per_thread):
            if self._stop.is_set() or time.monotonic() >= deadline:
                break
            method, path, body = self.request(i, n)
            t0 = time.monotonic()
            try:
                o = Outcome(i, t0, None, resp=http_request(
                    self.port, method, path, body, timeout=self.timeout))
            except Exception as e:
                o = Outcome(i, t0, None, exc=e)
            o.t1 = time.monotonic()
            with self._lock:
                self.results.append(o)
            if o.kind in self.stop_on:
                break

    def start(self):
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._run, args=(i,),
                                          daemon=True)
                         for i in range(self.nthreads)]
        for th in self._threads:
            th.start()
        return self

    def count(self):
        with self._lock:
            return len(self.results)

    def wait_count(self, n, timeout=10):
        """Polls until at least n requests have finished."""
        return wait_until(lambda: self.count() >= n, timeout, interval=0.01,
                          what=f"{n} requests done (have {self.count()})")

    def join(self, timeout=None):
        """Waits for the threads to reach their own bounds (seconds or
        max_per_thread); past timeout (default: seconds plus the request
        timeout and a margin) stops them and raises AssertionError."""
        if timeout is None:
            timeout = self.seconds + self.timeout + 5
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.01, deadline - time.monotonic()))
        if any(th.is_alive() for th in self._threads):
            self.stop()
            raise AssertionError(f"load still running after {timeout}s")
        return self

    def stop(self, timeout=None):
        """Tells the threads to finish their current request and waits for
        them (bounded: the request timeout and a margin by default)."""
        self._stop.set()
        deadline = time.monotonic() + (timeout if timeout is not None
                                       else self.timeout + 5)
        for th in self._threads:
            th.join(max(0.01, deadline - time.monotonic()))
        alive = sum(th.is_alive() for th in self._threads)
        if alive:
            raise AssertionError(f"{alive} load threads still in a "
                                 f"request after stop()")
        return self

    def kinds(self, results=None):
        """{kind: count}: "200", "503", ..., "refused", "reset", ..."""
        out = {}
        for o in self.results if results is None else results:
            out[o.kind] = out.get(o.kind, 0) + 1
        return out

    def failures(self, ok=("200",)):
        """The outcomes whose kind is not in ok."""
        return [o for o in self.results if o.kind not in ok]


# ---------------------------------------------------------------- suites
#
# The setup most suites share, so that each one states only what is its
# own: the usual issuer and services, fresh secrets, the sections that
# name them, and one list of a suite's instances with the teardown that
# keeps a failed run's directories and names their logs.

ISS = "https://idp.example.com"         # claims()'s default issuer
AUD = "tokend"                          # and audience
SYNC, SYNC_NODE = "sync-1.5", "https://sync-1.example.com"
OTHER, OTHER_NODE = "other-1.0", "https://other.example.com/v1"

_instances = []                         # instance()'s, for teardown()
_case_roots = {}                        # case_instance()'s, by prefix


def new_secret():
    """A fresh master secret: 32 random bytes as 64 hex characters."""
    return os.urandom(32).hex()


def issuer_section(name="example", iss=ISS, jwks_file="example.jwks",
                   **over):
    """[issuer NAME] of iss for AUD with its keys in jwks_file; over as
    section()'s (jwks_file=None for a jwks_url issuer, audience=...)."""
    return section("issuer " + name, {"iss": iss, "jwks_file": jwks_file,
                                      "audience": AUD}, over)


def service_section(name=SYNC, node=SYNC_NODE, **over):
    """[service NAME] for node, its secrets in PREFIX.secret where PREFIX
    is the name up to its first "-" (sync.secret for sync-1.5); over as
    section()'s."""
    return section("service " + name, {
        "secret_file": name.split("-")[0] + ".secret", "node": node}, over)


def instance(prefix, **kw):
    """A Tokend (kw as its constructor's) that teardown() stops and then
    removes, or keeps when a test failed."""
    t = Tokend(prefix=prefix, **kw)
    _instances.append(t)
    return t


def case_instance(prefix, name):
    """A Tokend in a fresh directory NN-NAME inside one instance() per
    prefix: for the many `tokend -t` cases, never started, which need no
    temp dir each."""
    if prefix not in _case_roots:
        _case_roots[prefix] = instance(prefix)
    root = _case_roots[prefix]
    return Tokend(dir=root.path(f"{len(os.listdir(root.dir)):02d}-{name}"))


def one_issuer_instance(prefix, key, sync_secret=None, service=None,
                        uid_secret=None, **server):
    """An instance(), not started: fresh uid and sync secrets (uid_secret,
    sync_secret if given), [issuer example] trusting key alone for its
    algorithm, one service (service_section()'s unless given); server as
    server_section()'s."""
    t = instance(prefix)
    t.write_secrets(uid=uid_secret or new_secret(),
                    sync=sync_secret or new_secret())
    t.write_jwks("example.jwks", [key])
    t.write_config(t.server_section(**server),
                   issuer_section(algorithms=key.alg),
                   service or service_section())
    return t


def check_error(resp, code, status, location=None, name=None, words=(),
                what=""):
    """Asserts an error answer of docs/api.md and returns its body: HTTP
    code, JSON, {"status": status (None: any string), "errors": [{location,
    name, description}]}; errors[0]'s location is body, header or url, and
    location (one, or a tuple of them) if given, its name is name (any
    case) if given, its description names one of words if any."""
    st, h, body = resp
    pre = f"{what}: " if what else ""
    assert st == code, f"{pre}expected {code}, got {st} {body!r}"
    ct = h.get("content-type", "")
    assert ct.startswith("application/json"), f"{pre}Content-Type {ct!r}"
    assert isinstance(body, dict), f"{pre}body not a JSON object: {body!r}"
    if status is None:
        assert isinstance(body.get("status"), str), f"{pre}no status: {body!r}"
    else:
        assert body.get("status") == status, \
            f"{pre}status {body.get('status')!r} != {status!r} in {body!r}"
    errs = body.get("errors")
    assert isinstance(errs, list) and errs, f"{pre}no errors list: {body!r}"
    e = errs[0]
    assert isinstance(e, dict) and all(
        isinstance(e.get(k), str) for k in ("location", "name",
                                            "description")), \
        f"{pre}errors[0] lacks location/name/description strings: {e!r}"
    assert e["location"] in ("body", "header", "url"), \
        f"{pre}location {e['location']!r}"
    if location is not None:
        locs = (location,) if isinstance(location, str) else location
        assert e["location"] in locs, \
            f"{pre}location {e['location']!r}, expected {locs}"
    if name is not None:
        assert e["name"].lower() == name.lower(), \
            f"{pre}name {e['name']!r}, expected {name!r}"
    if words:
        d = e["description"].lower()
        assert any(w in d for w in words), \
            f"{pre}description {e['description']!r} mentions none of {words}"
    return body


def teardown(failed):
    """run()'s teardown for every instance(): stops them all, then removes
    each one's directory, or, when a test failed, keeps it and prints
    "# kept DIR (stderr: LOG)" for a look afterwards."""
    for t in _instances:
        t.stop()
    for t in _instances:
        if not failed:
            t.cleanup()
        elif os.path.exists(t.stderr_path):
            print(f"# kept {t.dir} (stderr: {t.stderr_path})", flush=True)
        else:
            print(f"# kept {t.dir}", flush=True)
    del _instances[:]
    _case_roots.clear()


# ---------------------------------------------------------------- runner

_TESTS = []


def test(fn):
    """Registers fn as a test; tests run in the order they are defined."""
    _TESTS.append(fn)
    return fn


def standalone(fn):
    """Registers fn as a test that does not need setup(): it still runs
    when setup failed (tokend -t checks, for one)."""
    fn.standalone = True
    return test(fn)


class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded its time limit")


def run(setup=None, teardown=None, per_test_timeout=60, argv=None):
    """Runs the registered tests (those whose name contains one of argv's
    words, if any) and exits: 0 if all passed, 1 otherwise.

    setup() runs first; if it fails, every selected test that is not
    @standalone is a failure (the reason in full is printed once, as a
    "# setup failed:" comment).
    teardown(failed) runs last, always.  Each test is cut off after
    per_test_timeout seconds (SIGALRM).
    """
    argv = sys.argv[1:] if argv is None else argv
    tests = [t for t in _TESTS
             if not argv or any(a in t.__name__ for a in argv)]
    passed = failed = 0
    signal.signal(signal.SIGALRM, _alarm)
    setup_err = None
    if setup is not None:
        try:
            setup()
        except Exception as e:
            setup_err = str(e) or type(e).__name__
            for line in setup_err.splitlines():
                print(f"# setup failed: {line}", flush=True)
            setup_err = "setup failed: " + setup_err.splitlines()[0]
    for t in tests:
        name = t.__name__
        if setup_err and not getattr(t, "standalone", False):
            print(f"FAIL {name}: {setup_err}", flush=True)
            failed += 1
            continue
        signal.alarm(per_test_timeout)
        t0 = time.monotonic()
        try:
            t()
            signal.alarm(0)
            print(f"ok {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            passed += 1
        except Exception as e:
            signal.alarm(0)
            reason = str(e) or type(e).__name__
            if not isinstance(e, AssertionError):
                reason = f"{type(e).__name__}: {reason}"
                if os.environ.get("VERBOSE"):
                    traceback.print_exc()
            print(f"FAIL {name} ({time.monotonic() - t0:.2f}s): {reason}",
                  flush=True)
            failed += 1
    if teardown is not None:
        try:
            teardown(failed)
        except Exception as e:
            print(f"FAIL teardown: {e}", flush=True)
            failed += 1
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- self-test

def _selftest():
    """Checks the helpers against references; needs no tokend."""
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    @test
    def hkdf_rfc5869_case1():
        okm = hkdf_sha256(bytes.fromhex("0b" * 22),
                          bytes.fromhex("000102030405060708090a0b0c"),
                          bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
        assert okm.hex() == (
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865"), okm.hex()

    @test
    def hkdf_rfc5869_case3_no_salt():
        okm = hkdf_sha256(bytes.fromhex("0b" * 22), None, b"", 42)
        assert okm.hex() == (
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8"), okm.hex()

    @test
    def hkdf_matches_cryptography():
        for salt in (None, b"abc123"):
            ikm, info = os.urandom(40), b"info/" + os.urandom(8).hex().encode()
            ref = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                       info=info).derive(ikm)
            assert hkdf_sha256(ikm, salt, info, 32) == ref

    @test
    def tokenlib_roundtrip():
        secret = os.urandom(32).hex()
        tok = make_token({"uid": 42, "node": "https://n"}, secret)
        assert re.fullmatch(r"[A-Za-z0-9_-]+=*", tok) and len(tok) % 4 == 0
        data = parse_token(tok, secret)
        assert data["uid"] == 42 and data["node"] == "https://n"
        assert re.fullmatch(r"[0-9a-f]+", data["salt"])
        # The derived secret, recomputed the long way round.
        ref = HKDF(algorithm=hashes.SHA256(), length=32,
                   salt=data["salt"].encode("ascii"),
                   info=TOKENLIB_DERIVE_INFO + tok.encode("ascii")
                   ).derive(secret.encode())
        assert get_derived_secret(tok, secret) == \
            base64.urlsafe_b64encode(ref).decode()
        # And the signature with cryptography's HKDF.
        sk = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                  info=TOKENLIB_SIGNING_INFO).derive(secret.encode())
        raw = base64.urlsafe_b64decode(tok)
        assert hmac.new(sk, raw[:-32], hashlib.sha256).digest() == raw[-32:]

    @test
    def tokenlib_rejects():
        secret = os.urandom(32).hex()
        tok = make_token({"uid": 1, "node": "n"}, secret)
        for bad, exc in ((lambda: parse_token(tok, secret + "x"),
                          InvalidSignatureError),
                         (lambda: parse_token(
                             make_token({"uid": 1}, secret, duration=-10),
                             secret), ExpiredTokenError),
                         (lambda: parse_token("AAAA", secret),
                          MalformedTokenError)):
            try:
                bad()
            except exc:
                continue
            raise AssertionError(f"expected {exc.__name__}")

    @test
    def jwt_each_alg_verifies():
        for alg in ALGS:
            k = Key(alg)
            jwt = sign_jwt(k, claims("alice"))
            h, p, s = jwt.split(".")
            assert json.loads(b64url_decode(h)) == \
                {"alg": alg, "typ": "JWT", "kid": k.kid}
            assert json.loads(b64url_decode(p))["sub"] == "alice"
            assert "=" not in jwt
            sig = b64url_decode(s)
            if alg == "ES256":
                assert len(sig) == 64
            k.verify(f"{h}.{p}".encode(), sig)
            bad = tamper_signature(jwt).split(".")[2]
            try:
                k.verify(f"{h}.{p}".encode(), b64url_decode(bad))
            except Exception:
                pass
            else:
                raise AssertionError(f"{alg}: tampered signature verified")

    @test
    def jwks_file_shape():
        d = tempfile.mkdtemp(prefix="tkd-self-")
        try:
            keys = [Key(a, kid=a) for a in ALGS]
            write_jwks(os.path.join(d, "k.jwks"), keys)
            with open(os.path.join(d, "k.jwks")) as f:
                j = json.load(f)
            kty = [(k["kid"], k["kty"], k.get("crv")) for k in j["keys"]]
            assert kty == [("RS256", "RSA", None), ("ES256", "EC", "P-256"),
                           ("EdDSA", "OKP", "Ed25519")], kty
            n = b64url_decode(j["keys"][0]["n"])
            assert len(n) == 256 and b64url_decode(j["keys"][0]["e"]) == \
                b"\x01\x00\x01"
            assert len(b64url_decode(j["keys"][1]["x"])) == 32
            assert len(b64url_decode(j["keys"][2]["x"])) == 32
            write_secret(os.path.join(d, "s"), "x" * 40)
            assert os.stat(os.path.join(d, "s")).st_mode & 0o777 == 0o600
            write_secret(os.path.join(d, "s2"), "x" * 40, 0o644)
            assert os.stat(os.path.join(d, "s2")).st_mode & 0o777 == 0o644
        finally:
            shutil.rmtree(d)

    @test
    def render_config_lines():
        text, where = render_config([("server", [("a", 1), ("b", 2)]),
                                     ("service x", [("c", 3)])])
        lines = text.splitlines()
        assert lines[where[("server", "b")] - 1] == "b = 2"
        assert lines[where[("service x", None)] - 1] == "[service x]"
        assert lines[where[("service x", "c")] - 1] == "c = 3"

    @test
    def sections_override_and_leave_out():
        assert issuer_section(algorithms="EdDSA") == ("issuer example", [
            ("iss", ISS), ("jwks_file", "example.jwks"), ("audience", AUD),
            ("algorithms", "EdDSA")])
        assert issuer_section("web", "https://w.example", None,
                              jwks_url="https://u.example/k",
                              audience="a") == ("issuer web", [
            ("iss", "https://w.example"), ("audience", "a"),
            ("jwks_url", "https://u.example/k")])
        assert service_section(OTHER, "https://n.example",
                               duration=600) == ("service other-1.0", [
            ("secret_file", "other.secret"), ("node", "https://n.example"),
            ("duration", 600)])
        assert service_section("multi-1.0", None, secret_file=None,
                               nodes_file="m.nodes") == (
            "service multi-1.0", [("nodes_file", "m.nodes")])

    @test
    def teardown_keeps_a_failed_runs_dirs_and_names_their_logs():
        import contextlib
        import io
        a, b = instance("tkd-self-a-"), instance("tkd-self-b-")
        a.write_secrets(uid="u", sync="s")
        b.write_secrets(end="", fern="f")
        with open(a.stderr_path, "w") as f:
            f.write("a log line\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            teardown(True)
        try:
            assert out.getvalue().splitlines() == [
                f"# kept {a.dir} (stderr: {a.stderr_path})",
                f"# kept {b.dir}"], out.getvalue()
            for t, name, text in ((a, "uid", "u\n"), (a, "sync", "s\n"),
                                  (b, "fern", "f")):
                path = t.path(name + ".secret")
                with open(path) as f:
                    assert f.read() == text, (path, text)
                assert os.stat(path).st_mode & 0o777 == 0o600, path
        finally:
            shutil.rmtree(a.dir)
            shutil.rmtree(b.dir)
        c = instance("tkd-self-c-")
        cases = [case_instance("tkd-self-cases-", n) for n in ("x", "y")]
        assert [os.path.basename(t.dir) for t in cases] == ["00-x", "01-y"]
        assert os.path.dirname(cases[0].dir) == \
            os.path.dirname(cases[1].dir)
        teardown(False)
        for t in [c] + cases:
            assert not os.path.exists(t.dir), t.dir
        assert not _instances, _instances

    @test
    def check_error_reads_the_answer_and_each_field():
        h = {"content-type": "application/json; charset=utf-8"}
        body = {"status": "invalid-credentials", "errors": [{
            "location": "body", "name": "assertion",
            "description": "Token expired"}]}
        assert check_error((401, h, body), 401, "invalid-credentials",
                           ("body", "header"), "Assertion",
                           ("expired",)) is body
        assert check_error((401, h, body), 401, None, "body") is body
        for resp, args in (((401, h, body), (400, None)),
                           ((401, h, body), (401, "invalid-request")),
                           ((401, h, body), (401, None, "url")),
                           ((401, h, body), (401, None, None, "service")),
                           ((401, h, body), (401, None, None, None,
                                             ("signature",))),
                           ((401, {}, body), (401, None)),
                           ((401, h, {"status": "x"}), (401, None))):
            try:
                check_error(resp, *args)
            except AssertionError:
                continue
            raise AssertionError(f"accepted {resp} as {args}")

    @test
    def wait_until_polls_and_times_out():
        n = [0]

        def pred():
            n[0] += 1
            return n[0] >= 3 and "yes"
        assert wait_until(pred, 2, 0.01) == "yes"
        t0 = time.monotonic()
        try:
            wait_until(lambda: False, 0.2, 0.01, "never")
        except TimeoutError as e:
            assert "never" in str(e)
        else:
            raise AssertionError("no timeout")
        assert time.monotonic() - t0 < 1

    @test
    def load_counts_refused_and_stops_on_it():
        load = Load(free_port(), threads=2, seconds=5, max_per_thread=3,
                    timeout=2).start().join()
        assert load.kinds() == {"refused": 6}, load.kinds()
        load = Load(free_port(), threads=2, seconds=5, max_per_thread=3,
                    timeout=2, stop_on=("refused",)).start().join()
        assert load.kinds() == {"refused": 2}, load.kinds()

    run()


if __name__ == "__main__":
    _selftest()


# ---------------------------------------------------------------- formats
#
# Appended for tests/integration/test_formats.py: the Fernet format and the
# per-node assignment, from docs/tokens.md (not from tokend's C), and the
# tools that check tokens on the service side (tokenctl, and the
# libtokend-verify example program).  Defined after the self-test's
# __main__ guard so that the helpers above stay untouched; importing the
# module defines them all.

FERNET_SIGNING_INFO = b"tokend/fernet/v1/signing"
FERNET_ENCRYPTION_INFO = b"tokend/fernet/v1/encryption"


def tokenctl_path():
    return os.path.join(build_dir(), "tokenctl")


def verify_example_path():
    """The libtokend-verify example service (linked with the .so)."""
    return os.path.join(build_dir(), "tokend-verify-example")


def run_tool(argv, input=None, timeout=30):
    """Runs argv to completion; returns (exit code, stdout, stderr) as
    text.  On timeout the process is killed and TimeoutError raised."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(None if input is None else
                                 input.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate(timeout=5)
        raise TimeoutError(f"{argv[0]}: still running after {timeout}s") \
            from None
    return (p.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"))


def tokenctl(*args, input=None, timeout=30):
    """`tokenctl ARGS`: (exit code, stdout, stderr)."""
    return run_tool([tokenctl_path()] + [str(a) for a in args], input,
                    timeout)


def fernet_key(secret):
    """The Fernet key of a master secret: urlsafe_b64(sig16 || enc16)."""
    s = _secret_bytes(secret)
    return base64.urlsafe_b64encode(
        hkdf_sha256(s, None, FERNET_SIGNING_INFO, 16) +
        hkdf_sha256(s, None, FERNET_ENCRYPTION_INFO, 16)).decode("ascii")


def parse_fernet_token(token, secrets, ttl, now=None):
    """(payload dict, timestamp) of a tokend Fernet token, checked by
    python3-cryptography's MultiFernet with the keys of secrets (a list,
    newest first) and ttl.  Raises cryptography.fernet.InvalidToken."""
    from cryptography.fernet import Fernet, MultiFernet
    if isinstance(secrets, (str, bytes)):
        secrets = [secrets]
    f = MultiFernet([Fernet(fernet_key(s)) for s in secrets])
    now = int(time.time()) if now is None else now
    data = f.decrypt_at_time(token.encode("ascii"), ttl, now)
    ts = Fernet(fernet_key(secrets[0])).extract_timestamp(
        token.encode("ascii"))
    return json.loads(data.decode("utf-8")), ts


def derived_secret(token, secret, salt):
    """The client's key for any tokend token: tokenlib's derivation."""
    return base64.urlsafe_b64encode(hkdf_sha256(
        _secret_bytes(secret), salt.encode("ascii"),
        TOKENLIB_DERIVE_INFO + token.encode("ascii"), 32)).decode("ascii")


def node_for_uid(nodes, uid):
    """The node (URL) of uid among nodes, by docs/tokens.md's rendezvous
    rule: highest splitmix64(seed(url) ^ uid), the first on a tie."""
    mask = (1 << 64) - 1

    def splitmix64(x):
        x = (x + 0x9e3779b97f4a7c15) & mask
        x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & mask
        x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & mask
        return x ^ (x >> 31)
    best = None
    for url in nodes:
        seed = int.from_bytes(hashlib.sha256(url.encode()).digest()[:8],
                              "big")
        score = splitmix64(seed ^ uid)
        if best is None or score > best[0]:
            best = (score, url)
    return best[1]


def verify_with_library(secret_file, tokens, fmt=None, timeout=60):
    """Checks tokens through libtokend-verify's shared build (the example
    service).  Returns one tuple per token: ("ok", secret_index, format,
    uid, key, payload dict) or ("invalid", status, reason)."""
    argv = [verify_example_path()]
    if fmt:
        argv += ["-f", fmt]
    rc, out, err = run_tool(argv + [secret_file],
                            "".join(t + "\n" for t in tokens), timeout)
    if rc != 0:
        raise AssertionError(f"tokend-verify-example: exit {rc}: "
                             f"{err.strip()}")
    res = []
    for line in out.splitlines():
        f = line.split(" ", 5)
        if f[0] == "ok":
            res.append(("ok", int(f[1]), f[2], int(f[3]), f[4],
                        json.loads(f[5])))
        else:
            res.append(("invalid", int(f[1]), line.split(" ", 2)[2]))
    if len(res) != len(tokens):
        raise AssertionError(f"{len(tokens)} tokens, {len(res)} answers: "
                             f"{err.strip()}")
    return res


# ---------------------------------------------------------------- workers
#
# Appended for tests/integration/test_badworker.py: a worker of protocol
# version 2 (docs/protocol.md) in Python's standard library alone, to join
# a real front next to its C workers.  The same ZMTP peer as
# test_pool.py's, which keeps its own copy.

import struct  # noqa: E402

# Version 2 commands (docs/protocol.md).
READY, JOB, REPLY, HEARTBEAT, BYE, WELCOME, REFUSE, PROGRESS, RESYNC = \
    range(1, 10)


class Zmtp:
    """One ZeroMQ peer over a Unix socket: ZMTP 3.0 with the NULL
    mechanism (the 64-byte greeting, a READY command naming the socket
    type and, for a DEALER, its identity), then messages as lists of
    frames."""

    def __init__(self, sock, socket_type, identity=b""):
        self.s = sock
        self.buf = b""
        greeting = (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, 0]) +
                    b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)
        self.s.sendall(greeting)
        self._read(64)
        props = self._prop(b"Socket-Type", socket_type)
        if identity:
            props += self._prop(b"Identity", identity)
        self._send_frame(b"\x05READY" + props, command=True)
        while not self._recv_frame()[1]:    # the peer's READY command
            pass

    @classmethod
    def connect(cls, path, identity):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        return cls(s, b"DEALER", identity)

    @staticmethod
    def _prop(name, value):
        return bytes([len(name)]) + name + struct.pack(">I", len(value)) + \
            value

    def _read(self, n):
        while len(self.buf) < n:
            data = self.s.recv(65536)
            if not data:
                raise EOFError("peer closed the connection")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, body, more=False, command=False):
        flags = (1 if more else 0) | (4 if command else 0)
        if len(body) > 255:
            head = bytes([flags | 2]) + struct.pack(">Q", len(body))
        else:
            head = bytes([flags, len(body)])
        self.s.sendall(head + body)

    def _recv_frame(self):
        """(body, is_command, more)."""
        flags = self._read(1)[0]
        size = struct.unpack(">Q", self._read(8))[0] if flags & 2 else \
            self._read(1)[0]
        return self._read(size), bool(flags & 4), bool(flags & 1)

    def send(self, frames):
        for i, f in enumerate(frames):
            self._send_frame(f, more=i + 1 < len(frames))

    def recv(self, timeout=5):
        """The next message (a list of frames), or None after timeout."""
        self.s.settimeout(timeout)
        try:
            frames = []
            while True:
                body, command, more = self._recv_frame()
                if command:
                    continue
                frames.append(body)
                if not more:
                    return frames
        except socket.timeout:
            return None
        finally:
            self.s.settimeout(10)

    def close(self):
        self.s.close()


def v2_encode(cmd, fields):
    """One version 2 message: {2, cmd}, then (key length, key, 4-byte
    value length, value) records; fields is a list of (key, value)."""
    out = bytes([2, cmd])
    for k, v in fields:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        out += bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    return out


def v2_decode(frame):
    """(version, cmd, {key: value})."""
    version, cmd, off, fields = frame[0], frame[1], 2, {}
    while off < len(frame):
        klen = frame[off]
        key = frame[off + 1:off + 1 + klen].decode()
        off += 1 + klen
        vlen = struct.unpack(">I", frame[off:off + 4])[0]
        fields.setdefault(key, frame[off + 4:off + 4 + vlen])
        off += 4 + vlen
    return version, cmd, fields


class PyWorker:
    """A version 2 worker in Python, after docs/protocol.md alone, on the
    worker socket at path; beat is its heartbeat interval in seconds."""

    def __init__(self, path, identity, beat=0.1):
        self.z = Zmtp.connect(path, identity)
        self.identity = identity
        self.beat = beat
        self.last_sent = 0

    def send(self, cmd, fields=()):
        self.send_frames([v2_encode(cmd, fields)])

    def send_frames(self, frames):
        """Any frames, well-formed or not."""
        self.z.send(frames)
        self.last_sent = time.monotonic()

    def recv(self, timeout):
        """The next message as (cmd, fields), heartbeating first if it is
        time; None after timeout."""
        if time.monotonic() - self.last_sent >= self.beat:
            self.send(HEARTBEAT)
        msg = self.z.recv(timeout=timeout)
        if msg is None:
            return None
        assert len(msg) == 1, f"a version 2 message is one frame: {msg}"
        version, cmd, fields = v2_decode(msg[0])
        assert version == 2, msg
        return cmd, fields

    def expect(self, want, timeout=5):
        """The fields of the next message of command want, heartbeating
        while idle; None after timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.recv(min(self.beat, max(0.01, end -
                                               time.monotonic())))
            if got is not None and got[0] == want:
                return got[1]
        return None

    def close(self):
        self.z.close()


# ---------------------------------------------------------------- titles
#
# Appended for issue 18's process names (test_ops.py, and the suites that
# check an instance's process tree).

def proc_titles(t, nworkers):
    """The titles ps shows of instance t (src/supervisor.c): the
    supervisor's, and the sorted titles of its front and nworkers workers,
    each naming its role, the listen address and the config's absolute
    path, so that two instances are told apart."""
    where = f"127.0.0.1:{t.port} {os.path.realpath(t.conf)}"
    return (f"tokend: supervisor {where}",
            sorted([f"tokend: front {where}"] +
                   [f"tokend: worker {i} {where}"
                    for i in range(1, nworkers + 1)]))


# ---------------------------------------------------------------- FxA
#
# Appended for issue 15's fxa-oauth issuer (test_fxa.py, and the suites
# that run Mozilla's tokenserver tests): a stand-in for the Firefox
# Accounts OAuth server's POST /v1/verify on 127.0.0.1, speaking the
# protocol the way Mozilla's own mock does
# (tools/integration_tests/tokenserver/mock_fxa_server.py in
# syncstorage-rs): the bearer token is itself a JSON text
# {"body": {...}, "status": N}, and the verifier answers that body with
# that status.  Knobs stage an outage.

import http.server  # noqa: E402

FXA_SCOPE = "https://identity.mozilla.com/apps/oldsync"


def fxa_token(user="test", generation=None, scope=(FXA_SCOPE,), status=200,
              client_id="5882386c6d801776", body=None):
    """A token FxaVerifier answers: Mozilla's build_oauth_headers() shape,
    {"body": {"user", "generation", "client_id", "scope"}, "status"}.
    body= replaces the whole body (any JSON value) for malformed
    answers; generation None is sent as null, as Mozilla's helper does.
    Compact JSON (no spaces), so it is one Authorization credential."""
    if body is None:
        body = {"user": user, "generation": generation,
                "client_id": client_id, "scope": list(scope)}
    return json.dumps({"body": body, "status": status},
                      separators=(",", ":"))


class FxaVerifier:
    """POST /v1/verify (and GET /v1/jwks, a key set of keys) on
    127.0.0.1:port, in a thread.  url is the verify_url to configure.

    mode, settable at any time:
      "mock"     Mozilla's protocol (the default): the token's body with
                 its status; a token that is not such JSON: 400
      "refuse"   the port is closed: connections are refused
      "hang"     requests are read and never answered, until the mode
                 changes or stop() (bounded: hang_limit seconds)
      "500"      every answer 500 with a JSON error
      "garbage"  200 with bytes that are not JSON
      "huge"     200 with a JSON answer of huge_bytes (1 MiB)
      "redirect" 307 to redirect_to (another verifier's url)
    delay: seconds every answer waits first (a slow but live verifier).
    requests: (path, headers dict, body bytes) of each request seen.
    tls=(cert, key) serves https (test_pki() makes both)."""

    def __init__(self, port=0, keys=(), tls=None):
        self.tls = tls                  # (cert.pem, key.pem): https
        self.mode = "mock"
        self.keys = list(keys)
        self.requests = []
        self.hang_limit = 30
        self.huge_bytes = 1 << 20
        self.redirect_to = None
        self.delay = 0
        self._release = threading.Event()      # ends a "hang"
        self._stopping = threading.Event()     # cuts a delay short
        self._lock = threading.RLock()
        self._conns = set()
        self._server = None
        self._thread = None
        self.port = port or free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/v1/verify"
        self._open()

    # -- the listening socket, closed for "refuse"
    def _open(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with outer._lock:
                    outer._conns.add(self.connection)

            def finish(self):
                with outer._lock:
                    outer._conns.discard(self.connection)
                super().finish()

            def do_GET(self):
                outer._answer(self, "GET")

            def do_POST(self):
                outer._answer(self, "POST")

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                pass        # a client that gave up (the huge answer)

        self._server = Server(("127.0.0.1", self.port), Handler)
        if self.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._server.socket = ctx.wrap_socket(self._server.socket,
                                                  server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def _close(self):
        """Closes the port and every connection a client kept alive, so
        that nothing reaches the verifier any more."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None
        for c in list(self._conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set_mode(self, mode):
        assert mode in ("mock", "refuse", "hang", "500", "garbage", "huge",
                        "redirect")
        with self._lock:
            old, self.mode = self.mode, mode
            if old == "hang":
                self._release.set()
            if mode == "hang":
                self._release.clear()
            if mode == "refuse" and old != "refuse":
                self._close()
            elif old == "refuse" and mode != "refuse":
                self._open()

    def stop(self):
        self._release.set()
        self._stopping.set()
        self._close()

    def count(self, path="/v1/verify"):
        """How many requests for path arrived so far."""
        with self._lock:
            return sum(1 for r in self.requests if r[0] == path)

    # -- one request
    def _send(self, h, status, body, ctype="application/json"):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _answer(self, h, method):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(min(n, 1 << 20)) if n > 0 else b""
        with self._lock:
            self.requests.append((h.path, dict(h.headers), body))
            mode = self.mode
        if mode == "hang":
            self._release.wait(self.hang_limit)
            h.close_connection = True
            return
        if self.delay:
            self._stopping.wait(self.delay)
        if mode == "redirect":
            h.send_response(307)
            h.send_header("Location", self.redirect_to)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if mode == "500":
            return self._send(h, 500, b'{"code":500,"errno":999,'
                              b'"error":"Internal Server Error"}')
        if mode == "garbage":
            return self._send(h, 200, b"<html>502 Bad Gateway</html>",
                              "text/html")
        if mode == "huge":
            pad = "x" * self.huge_bytes
            return self._send(h, 200, json.dumps(
                {"user": "test", "scope": [FXA_SCOPE], "pad": pad}).encode())
        if method == "GET" and h.path == "/v1/jwks":
            return self._send(h, 200, json.dumps(
                {"keys": [k.jwk() for k in self.keys]}).encode())
        if method != "POST" or h.path != "/v1/verify":
            return self._send(h, 404, b'{"error":"not found"}')
        try:
            payload = json.loads(json.loads(body)["token"])
            status, answer = int(payload["status"]), payload["body"]
        except Exception as e:              # Mozilla's mock: 400
            return self._send(h, 400, json.dumps(
                {"error": str(e)}).encode())
        self._send(h, status, json.dumps(answer).encode())


def fxa_issuer_section(name="fxa", verify_url=None, **over):
    """[issuer NAME] of type fxa-oauth against verify_url, users
    <uid>@api.accounts.firefox.com; over as section()'s."""
    return section("issuer " + name, {
        "type": "fxa-oauth", "iss": "https://accounts.firefox.com",
        "verify_url": verify_url,
        "email_domain": "api.accounts.firefox.com"}, over)


def test_pki(d, wrong_name="verifier.wrong.example"):
    """A test CA and two server certificates under it, made by openssl(1)
    in d: "good" for 127.0.0.1 and localhost, "wrong" for wrong_name
    only.  Returns {name: path} for ca.pem, good.pem/.key, wrong.pem/.key."""
    def openssl(*args):
        p = subprocess.run(["openssl"] + list(args), cwd=d,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {args[0]}: exit {p.returncode}: "
                               f"{p.stderr.decode('utf-8', 'replace')}")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=tokend test CA")
    for name, cn, san in (("good", "127.0.0.1", "IP:127.0.0.1,DNS:localhost"),
                          ("wrong", wrong_name, "DNS:" + wrong_name)):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(f"subjectAltName = {san}\n"
                    "extendedKeyUsage = serverAuth\n"
                    "basicConstraints = critical, CA:FALSE\n")
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", name + ".ext", "-out", name + ".pem")
    return {n: os.path.join(d, n) for n in ("ca.pem", "good.pem", "good.key",
                                            "wrong.pem", "wrong.key")}
