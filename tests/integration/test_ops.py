"""What an operator sees of a running tokend (issue 18, the runtime items).

  names      each process has a short name the kernel keeps (ps -e, top,
             pgrep -x, pidof: tokend-sup, tokend-front, tokend-worker) and a
             long title that names its role, the listen address and the
             config's absolute path, so two instances on one host are told
             apart (pgrep -f on one config finds that instance alone)
  aud        a wrong or missing `aud` is refused with the audience the
             issuer requires, not "does not name this service"
  drain      a request still waiting when a drain gives up is answered 503
             naming no request field (Mozilla's style: location body, empty
             name), with Retry-After
  access     the access log line of a failed request says why (the error
             code and the field at fault: closed sets), for whom (the
             client's address) and when (UTC, milliseconds), and carries no
             part of the assertion
  socket     the front's worker socket in runtime_dir is gone once tokend
             has stopped

Run from the repository root:  /usr/bin/python3 tests/integration/test_ops.py
(arguments select tests by name substring; BUILD=dir picks the binary).
"""

import datetime
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import SYNC, new_secret, test  # noqa: E402

AUD = "urn:example:tokend-ops"      # the issuer's audience in this suite

S = types.SimpleNamespace(main=None, key=None)


def ops_instance(prefix, **server):
    """An instance trusting S.key, whose issuer requires AUD."""
    t = T.instance(prefix)
    t.write_secrets(uid=new_secret(), sync=new_secret())
    t.write_jwks("example.jwks", [S.key])
    t.write_config(t.server_section(**server),
                   T.issuer_section(algorithms=S.key.alg, audience=AUD),
                   T.service_section())
    return t


def setup():
    S.key = T.Key("ES256")
    S.main = ops_instance("tkd-ops-", workers=2)
    S.main.start()


def jwt(sub="alice", **claims):
    """A JWT for this suite's issuer; claims as T.claims()'s (aud=AUD)."""
    claims.setdefault("aud", AUD)
    return T.sign_jwt(S.key, T.claims(sub, **claims))


# ---------------------------------------------------------------- names

def pgrep(*args):
    """pids that `pgrep ARGS` prints (none: an empty list)."""
    p = subprocess.run(["pgrep"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    assert p.returncode in (0, 1), f"pgrep {args}: {p.stderr!r}"
    return sorted(int(x) for x in p.stdout.split())


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def titles_settled(t, nworkers):
    """Waits until the supervisor's children are one front and nworkers
    workers with their titles set; returns {pid: title}."""
    def ok():
        kids = t.children()
        fronts = [p for p, x in kids.items() if x.startswith("tokend: front")]
        workers = [p for p, x in kids.items()
                   if x.startswith("tokend: worker")]
        return kids if len(fronts) == 1 and len(workers) == nworkers and \
            len(kids) == nworkers + 1 else None
    return T.wait_until(ok, 10, what=f"front and {nworkers} workers titled")


@test
def short_names_found_by_pgrep_x():
    t = S.main
    kids = titles_settled(t, 2)
    front = [p for p, x in kids.items() if x.startswith("tokend: front")]
    workers = sorted(p for p, x in kids.items()
                     if x.startswith("tokend: worker"))
    assert t.pid in pgrep("-x", "tokend-sup"), \
        f"supervisor {t.pid} not found by pgrep -x tokend-sup " \
        f"(comm {comm(t.pid)!r})"
    got = pgrep("-P", str(t.pid), "-x", "tokend-front")
    assert got == front, f"pgrep -x tokend-front under {t.pid}: {got}, " \
        f"front {front}"
    got = pgrep("-P", str(t.pid), "-x", "tokend-worker")
    assert got == workers, f"pgrep -x tokend-worker under {t.pid}: {got}, " \
        f"workers {workers}"
    # Every one of them starts with tokend, which `pgrep tokend` matches.
    mine = {t.pid} | set(kids)
    assert mine <= set(pgrep("tokend")), (sorted(mine), pgrep("tokend"))


@test
def long_titles_name_role_address_and_config():
    t = S.main
    kids = titles_settled(t, 2)
    want_sup, want = T.proc_titles(t, 2)
    sup = T.proc_title(t.pid)
    assert sup == want_sup, f"supervisor: {sup!r}, expected {want_sup!r}"
    assert sorted(kids.values()) == want, (sorted(kids.values()), want)
    assert want_sup.endswith(f" 127.0.0.1:{t.port} "
                             f"{os.path.realpath(t.conf)}"), want_sup


@test
def two_instances_told_apart_by_config():
    other = ops_instance("tkd-ops-other-", workers=1)
    other.start()
    try:
        titles_settled(other, 1)
        titles_settled(S.main, 2)
        for t, n in ((S.main, 2), (other, 1)):
            conf = os.path.realpath(t.conf)
            # pgrep's patterns are extended regular expressions.
            got = pgrep("-f", "^tokend: .* " + conf.replace(".", "[.]"))
            want = sorted([t.pid] + list(t.children()))
            assert got == want and len(got) == n + 2, \
                f"pgrep -f on {conf}: {got}, instance {want}"
    finally:
        other.stop()


# ---------------------------------------------------------------- aud

def check_aud_refusal(resp, what):
    body = T.check_error(resp, 401, "invalid-credentials", "body",
                         "assertion", what=what)
    d = body["errors"][0]["description"]
    assert f'"{AUD}"' in d, f"{what}: {d!r} does not name {AUD!r}"
    assert "this service" not in d, f"{what}: {d!r}"


@test
def wrong_aud_names_the_required_audience():
    check_aud_refusal(S.main.token(jwt(aud="https://elsewhere.example")),
                      "another audience")
    check_aud_refusal(S.main.token(jwt(aud=None)), "no aud")
    check_aud_refusal(S.main.token(jwt(aud=["a", "b"])),
                      "an array without ours")
    st, _, body = S.main.token(jwt(aud=["a", AUD]))
    assert st == 200, f"an array holding ours: {st} {body!r}"


# ---------------------------------------------------------------- drain

@test
def drain_503_names_no_request_field():
    t = ops_instance("tkd-ops-drain-", workers=1, shutdown_timeout=1,
                     request_timeout=30)
    t.start()
    box = {}

    def ask():
        try:
            box["resp"] = t.token(jwt(), timeout=20)
        except Exception as e:
            box["resp"] = e
    # A token first: the worker has joined the front before it is stopped.
    assert t.token(jwt())[0] == 200
    pids = T.stop_pids(t.wait_workers(1))
    try:
        mark = t.log_mark()
        th = threading.Thread(target=ask, daemon=True)
        th.start()
        # The job is with the broker (the stopped worker holds it) once the
        # front has read the request: then drain.
        T.wait_until(lambda: T.unix_recv_queue(pids[0]) > 200, 10,
                     what="the job waiting at the stopped worker")
        os.kill(t.pid, signal.SIGTERM)
        th.join(15)
        assert not th.is_alive(), "no answer within 15 s of SIGTERM"
    finally:
        T.cont_pids(pids)
    resp = box["resp"]
    assert isinstance(resp, tuple), f"request failed: {resp!r}"
    body = T.check_error(resp, 503, "unavailable", "body", "")
    assert resp[1].get("retry-after") == "1", resp[1]
    line = t.wait_log(r"POST /v1/token 503 .*", since=mark)[0].group(0)
    assert " error=unavailable" in line and "field=" not in line, line
    t.stop()
    assert body["errors"][0]["name"] == "", body


# ---------------------------------------------------------------- access log

def access_line(t, mark, status):
    """The one access log line for a request of status since mark."""
    lines = t.wait_log(rf"^.* POST /v1/token {status} .*$", since=mark)
    assert len(lines) == 1, [m.group(0) for m in lines]
    return lines[0].group(0)


def check_when_and_who(line, t0, t1):
    m = re.search(r" client=(\S+) time=(\S+)", line)
    assert m, f"no client= time= in {line!r}"
    assert m.group(1) == "127.0.0.1", line
    when = datetime.datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S.%fZ")
    ts = when.replace(tzinfo=datetime.timezone.utc).timestamp()
    # The arrival, to the millisecond, between sending and the answer.
    assert t0 - 0.01 <= ts <= t1 + 0.01, (m.group(2), t0, t1)


def check_no_assertion(line, assertion):
    for part in assertion.split("."):
        assert part not in line, f"a part of the assertion is logged: {line}"
    for i in range(0, len(assertion) - 12, 4):
        assert assertion[i:i + 12] not in line, \
            f"assertion bytes {assertion[i:i + 12]!r} in {line!r}"


@test
def access_log_401_has_code_client_and_time_not_the_assertion():
    t = S.main
    cases = [
        (T.tamper_signature(jwt()), {}, "invalid-credentials",
         "assertion"),
        (jwt(iat=int(time.time()) - 4000, exp=int(time.time()) - 3000),
         {}, "invalid-timestamp", "assertion"),
        (jwt(aud="https://elsewhere.example"), {}, "invalid-credentials",
         "assertion"),
        (T.tamper_signature(jwt()), {"header": True}, "invalid-credentials",
         "Authorization"),
    ]
    for a, how, code, field in cases:
        mark = t.log_mark()
        t0 = time.time()
        if how.get("header"):
            resp = t.post("/v1/token", {"service": SYNC},
                          headers={"Authorization": "Bearer " + a})
        else:
            resp = t.token(a)
        t1 = time.time()
        assert resp[0] == 401, resp
        line = access_line(t, mark, 401)
        assert f" error={code} field={field}" in line, \
            f"expected error={code} field={field}: {line!r}"
        check_when_and_who(line, t0, t1)
        check_no_assertion(line, a)


@test
def access_log_200_has_no_error_and_400_names_the_field():
    t = S.main
    mark = t.log_mark()
    t0 = time.time()
    assert t.token(jwt())[0] == 200
    line = access_line(t, mark, 200)
    check_when_and_who(line, t0, time.time())
    assert "error=" not in line and "field=" not in line, line
    mark = t.log_mark()
    assert t.post("/v1/token", {"assertion": jwt()})[0] == 400
    line = access_line(t, mark, 400)
    assert " error=invalid-request field=service" in line, line


@test
def access_log_refused_head_has_client_and_time():
    t = S.main
    mark = t.log_mark()
    t0 = time.time()
    import socket
    with socket.create_connection(("127.0.0.1", t.port), timeout=5) as s:
        s.sendall(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx")
        s.recv(4096)
    line = t.wait_log(r"^.* - - 400 .*refused=.*$", since=mark)[0].group(0)
    check_when_and_who(line, t0, time.time())


# ---------------------------------------------------------------- socket

@test
def worker_socket_removed_at_exit():
    t = ops_instance("tkd-ops-sock-", workers=1)
    t.start()
    sock = t.path("run/worker.sock")
    assert os.path.exists(sock), f"no {sock} while running"
    assert t.stop(), f"tokend did not stop on SIGTERM:\n{t.stderr_tail()}"
    assert t.exit_code == 0, (t.exit_code, t.stderr_tail())
    assert not os.path.exists(sock), \
        f"{sock} left behind: {os.listdir(t.path('run'))}"


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
