"""What tokend says of itself to a log pipeline and a deployer (issue 17).

  version    GET /__version__ answers the values the Makefile baked in:
             the commit is `git rev-parse HEAD` of this checkout, the
             version the VERSION file's (or a tag's), the build an ISO 8601
             UTC date; tokend -V says the same
  json       one instance with log_format = json goes through a run with
             good requests, refused ones (bad signature, expired, hostile
             bytes in the path, a header and the body) and a SIGKILLed
             worker; then every line of its stderr is one MozLog object
             with the right fields and types, the access log is Type
             request.summary with the access line's fields, every process
             role wrote some, the hostile heads are refused with their
             reason (never their bytes), and no line holds any assertion,
             token, derived key or secret, whole or in part
  text       the default stays the text line

Run from the repository root:  /usr/bin/python3 tests/integration/test_logs.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import new_secret, test  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MOZLOG_KEYS = {"Timestamp", "Type", "Logger", "Hostname", "EnvVersion",
               "Severity", "Pid", "Fields"}

S = types.SimpleNamespace(main=None, key=None, secrets={}, assertions=[],
                          tokens=[], keys=[])


def setup():
    S.key = T.Key("ES256")
    S.secrets = {"uid": new_secret(), "sync": new_secret()}
    t = S.main = T.instance("tkd-logs-")
    t.write_secrets(**S.secrets)
    t.write_jwks("example.jwks", [S.key])
    t.write_config(t.server_section(workers=2, log_format="json"),
                   T.issuer_section(algorithms=S.key.alg),
                   T.service_section())
    t.start()


def jwt(sub="alice", **claims):
    a = T.sign_jwt(S.key, T.claims(sub, **claims))
    S.assertions.append(a)
    return a


def git(*args):
    p = subprocess.run(["git", "-C", ROOT] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       timeout=10)
    return p.stdout.decode().strip() if p.returncode == 0 else None


# ---------------------------------------------------------------- version

@test
def version_answers_the_baked_values():
    st, h, body = S.main.get("/__version__")
    assert st == 200, (st, body)
    assert h.get("content-type", "").startswith("application/json"), h
    assert set(body) <= {"version", "commit", "build", "source"}, body
    assert {"version", "commit", "build"} <= set(body), body
    head = git("rev-parse", "HEAD")
    if head is not None:
        assert body["commit"] == head, (body, head)
        tag = git("describe", "--tags")
        with open(os.path.join(ROOT, "VERSION")) as f:
            want = tag[1:] if tag and tag[0] == "v" else tag or \
                f.readline().strip()
        assert re.fullmatch(re.escape(want) + r"(-dirty)?",
                            body["version"]), (body, want)
    else:
        assert body["commit"] == "unknown", body
    built = datetime.datetime.strptime(body["build"], "%Y-%m-%dT%H:%M:%SZ")
    assert built <= datetime.datetime.utcnow() + \
        datetime.timedelta(minutes=5), body
    # The same values from the binary itself.
    out = subprocess.run([T.tokend_path(), "-V"], stdout=subprocess.PIPE,
                         timeout=10).stdout.decode()
    assert out == (f"tokend {body['version']} (commit {body['commit']}, "
                   f"built {body['build']})\n"), (out, body)


@test
def version_head_and_wrong_method():
    st, _, body = S.main.request("HEAD", "/__version__")
    assert st == 200 and body is None, (st, body)
    st, h, body = S.main.post("/__version__", {})
    assert st == 405 and h.get("allow") == "GET", (st, h, body)


# ---------------------------------------------------------------- json

def raw_exchange(port, data, timeout=5):
    """Sends data on a fresh connection; returns what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            out += b
    return out


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    assert m, raw[:200]
    return int(m.group(1))


def drive_the_run():
    """Requests of every kind, and a worker crash; returns the statuses."""
    t = S.main
    seen = []
    st, _, body = t.token(jwt("alice"))
    assert st == 200, (st, body)
    S.tokens.append(body["id"])
    S.keys.append(body["key"])
    seen.append(st)
    st, _, body = t.token(T.tamper_signature(jwt("bob")))
    assert st == 401, (st, body)
    seen.append(st)
    st, _, body = t.token(jwt("carol", now=int(time.time()) - 7200))
    assert st == 401, (st, body)
    seen.append(st)
    # The assertion in Authorization, on Mozilla's endpoint, refused.
    a = jwt("dave", aud="someone-else")
    st, _, _ = t.get("/1.0/sync/1.5",
                     headers={"Authorization": "Bearer " + a})
    assert st == 401, st
    seen.append(st)
    # Hostile bytes: invalid UTF-8 and controls in the path (logged), in a
    # header and in the body.
    st = status_of(raw_exchange(t.port, b"GET /v1/\xff\xfe\xc0\xafx"
                                b"\xe2\x80 HTTP/1.1\r\nHost: x\r\n"
                                b"Connection: close\r\n\r\n"))
    assert st in (400, 404), st
    seen.append(st)
    a = jwt("erin")
    st = status_of(raw_exchange(
        t.port, b"POST /v1/token HTTP/1.1\r\nHost: x\r\n"
        b"X-Evil: \xff\x1b[31m\xc3\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: 60\r\n\r\n"
        b'{"assertion": "\xff\x01' + a.encode()[:20] + b'", "service": '
        b'"\x1b"}'))
    assert st in (400, 401, 404), st
    seen.append(st)
    body = ('{"assertion": "' + T.tamper_signature(jwt("frank")) +
            '", "service": "sync-1.5\\u0000\\n\\"}"}')
    st, _, _ = t.request("POST", "/v1/token", body,
                         headers={"Content-Type": "application/json"})
    assert st in (400, 401, 404), st
    seen.append(st)
    # A worker crash: SIGKILL one, wait for its replacement, then a token.
    victim = t.workers()[0]
    mark = t.log_mark()
    os.kill(victim, signal.SIGKILL)
    t.wait_workers(2, timeout=10, gone=[victim])
    t.wait_log(r'"Severity":4,"Pid":%d' % t.pid, since=mark)

    def served():
        resp = t.token(jwt("grace"), timeout=5)
        return resp if resp[0] == 200 else None
    st, _, body = T.wait_until(served, 10, what="a token after the crash")
    S.tokens.append(body["id"])
    S.keys.append(body["key"])
    seen.append(st)
    return seen


def check_mozlog(line, obj, now_ns):
    assert set(obj) == MOZLOG_KEYS, (set(obj) ^ MOZLOG_KEYS, line)
    assert type(obj["Timestamp"]) is int, line
    assert abs(obj["Timestamp"] - now_ns) < 600 * 10**9, line
    assert type(obj["Type"]) is str and obj["Type"], line
    assert obj["Logger"] == "tokend", line
    assert obj["Hostname"] == socket.gethostname(), line
    assert obj["EnvVersion"] == "2.0", line
    assert type(obj["Severity"]) is int and obj["Severity"] in \
        (3, 4, 6, 7), line
    assert type(obj["Pid"]) is int and obj["Pid"] > 1, line
    f = obj["Fields"]
    assert type(f) is dict and type(f.get("role")) is str, line
    if obj["Type"] == "request.summary":
        assert type(f["code"]) is int and 100 <= f["code"] < 600, line
        assert type(f["t"]) in (int, float) and f["t"] >= 0, line
        assert type(f["client"]) is str and type(f["time"]) is str, line
        assert f["role"] == "front", line
        if "refused" not in f:
            assert type(f["method"]) is str and type(f["path"]) is str, line
            assert type(f["worker"]) is int, line
            assert type(f["lost"]) is bool, line
        for k in ("error", "field", "refused"):
            assert k not in f or type(f[k]) is str, line
    else:
        assert obj["Type"] == "log", line
        assert type(f["msg"]) is str, line


def secret_pieces():
    """Every string that must never reach a log: whole and in parts."""
    out = set(S.secrets.values())
    for a in S.assertions:
        out.add(a)
        out.update(p for p in a.split(".") if len(p) >= 16)
    for tok in S.tokens + S.keys:
        out.add(tok)
        out.add(tok[:24])
        out.add(tok.rstrip("=")[-24:])
    out.update(T.get_derived_secret(tok, S.secrets["sync"])
               for tok in S.tokens)
    return out


@test
def json_log_every_line_mozlog_no_secret():
    t = S.main
    statuses = drive_the_run()
    # The last access line is written once the request is complete.
    t.wait_log(r'"Type":"request.summary"', count=len(statuses))
    assert t.stop(), "tokend did not stop on SIGTERM"
    with open(t.stderr_path, "rb") as f:
        raw = f.read()
    now_ns = time.time_ns()
    lines = raw.split(b"\n")
    assert lines[-1] == b"", "the log does not end with a newline"
    objs = []
    for b in lines[:-1]:
        line = b.decode("utf-8")        # strict: valid UTF-8 or fail
        assert "\x1b" not in line and "\r" not in line, line
        obj = json.loads(line)
        check_mozlog(line, obj, now_ns)
        objs.append(obj)
    text = raw.decode("utf-8")
    for piece in secret_pieces():
        assert piece not in text, f"{piece[:12]}... in the log"
    access = [o["Fields"] for o in objs if o["Type"] == "request.summary"]
    codes = sorted(f["code"] for f in access)
    assert codes.count(200) >= 2 and codes.count(401) >= 3, codes
    errors = {f.get("error") for f in access}
    assert {"invalid-credentials"} <= errors, errors
    # The guard refused the hostile head before any of its bytes reached a
    # log line (test_log.c checks what the escaping makes of them).
    refused = {f.get("refused") for f in access}
    assert {"bad-target", "control-byte"} <= refused, refused
    roles = {o["Fields"]["role"].split(" ")[0] for o in objs}
    assert {"supervisor", "front", "worker"} <= roles, roles
    warned = [o for o in objs if o["Severity"] == 4 and
              o["Fields"]["role"] == "supervisor"]
    assert warned, "no warning of the killed worker"
    stamps = [o["Timestamp"] for o in objs]
    assert stamps[0] > 10**18, stamps[0]


@test
def text_stays_the_default():
    t = T.instance("tkd-logtext-")
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    t.write_config(t.server_section(workers=1),
                   T.issuer_section(algorithms=S.key.alg),
                   T.service_section())
    t.start()
    try:
        mark = t.log_mark()
        st, _, _ = t.get("/__lbheartbeat__")
        assert st == 200
        t.wait_log(r"^tokend front\[\d+\] info: GET /__lbheartbeat__ 200 ",
                   since=mark)
        assert "{\"Timestamp\"" not in t.stderr(), t.stderr_tail()
    finally:
        t.stop()


@test
def bad_log_format_names_the_line():
    t = T.instance("tkd-logbad-")
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    conf = t.write_config(t.server_section(log_format="xml"),
                          T.issuer_section(algorithms=S.key.alg),
                          T.service_section())
    code, _, err = T.check_config(conf)
    assert code == 1, (code, err)
    assert re.search(r"tokend\.conf:\d+: \[server\] log_format: expected "
                     r"text or json, got \"xml\"", err), err


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
