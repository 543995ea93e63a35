"""Remote worker hosts over CURVE-authenticated TCP, against the real daemon.

A front with remote workers only (no [issuer], no [service], no secret:
it starts no local worker) listens on a loopback TCP port with CURVE; worker
hosts are `tokend --worker` instances of their own, each with its own key
pair and its own sync secret, so that a token says which host minted it.
Heartbeats are fast (200 ms, taken for dead after 3 missed).  Every load is
bounded in count and time; every wait polls with a deadline.

  joins      a worker host joins over CURVE TCP and serves; its READY has
             no pid (the access log says worker=0)
  mixed      2 local workers and a host's 3 under load: all of them serve
  refused    a host whose key is not in authorized_keys, and a peer with
             no CURVE at all, are refused and serve nothing (504); each
             refusal is logged, at most once a minute per peer
  sighup     removing a host's key and SIGHUP cut that host off: every
             later token is the other host's
  kill9      kill -9 of a worker host (supervisor and workers) under load
             loses no request
  restart    kill -9 of the front under load: the supervisor respawns it
             and every remote worker joins again, with no operator action
  version    a worker speaking protocol version 3 over CURVE TCP is
             refused with REFUSE and a log line naming both versions; a
             front of version 3 refuses a host's C workers, which log both
             versions and exit for good, and the host stops
  hostile    a peer that connects and says nothing, and one that floods
             garbage, cost no request; the silent one is dropped after
             handshake_timeout

Run from the repository root:  /usr/bin/python3 tests/integration/test_remote.py
"""

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T                                   # noqa: E402
from tokendtest import test, SYNC, ISS, AUD              # noqa: E402

import zmq                                               # noqa: E402


class S:
    key = None
    jwts = []


HB = {"heartbeat_interval": 200, "heartbeat_liveness": 3}
_hosts = []


def setup():
    if not os.access(T.tokend_path(), os.X_OK):
        raise RuntimeError(f"{T.tokend_path()} not built (make)")
    S.key = T.Key("EdDSA")
    S.jwts = [T.sign_jwt(S.key, T.claims(f"user{i}", iss=ISS, aud=AUD,
                                         lifetime=900)) for i in range(16)]


def teardown(failed):
    for h in _hosts:
        h.stop()
    T.teardown(failed)


def tokenctl():
    return os.path.join(os.path.dirname(T.tokend_path()), "tokenctl")


def keypair(t, name):
    """A key pair made by tokenctl curve-keypair: the secret file NAME.key
    in t's directory; returns the authorized_keys line."""
    out = subprocess.run([tokenctl(), "curve-keypair", "--secret-out",
                          t.path(name + ".key"), "--comment", name],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert len(line.split()[0]) == 40 and line.endswith(" " + name), line
    return line


def write_authorized(t, lines):
    with open(t.path("authorized_keys"), "w") as f:
        f.write("# worker hosts\n" + "".join(x + "\n" for x in lines))
    os.chmod(t.path("authorized_keys"), 0o644)


def front(name, keys, **server):
    """A started front with remote workers only, admitting keys (names of
    hosts whose key pairs are made here).  Returns (t, {name: line}, pub)."""
    t = T.instance(f"tkd-remote-{name}-")
    pub = keypair(t, "front").split()[0]
    lines = {k: keypair(t, k) for k in keys}
    write_authorized(t, lines.values())
    t.rport = T.free_port()
    head, items = t.server_section(**dict(HB, workers=None,
                                          uid_secret_file=None, **server))
    t.write_config((head, items), ("remote", [
        ("listen", f"tcp://127.0.0.1:{t.rport}"),
        ("secret_key_file", "front.key"),
        ("authorized_keys", "authorized_keys"),
        ("handshake_timeout", 1)]))
    t.start()
    return t, lines, pub


class Host:
    """A worker host: `tokend --worker` in a directory of its own, with its
    own sync secret; its key pair is the one front() made under its name."""

    def __init__(self, fr, pub, name, workers=2, key_dir=None):
        self.t = T.instance(f"tkd-remote-host-{name}-")
        self.name = name
        self.secret = T.new_secret()
        self.t.write_secrets(uid=UID, sync=self.secret)
        self.t.write_jwks("example.jwks", [S.key])
        src = (key_dir or fr).path(name + ".key")
        with open(src) as f:
            self.t.write_secret("host.key", f.read())
        head, items = self.t.server_section(**dict(HB, workers=workers))
        self.t.write_config((head, items),
                            T.issuer_section(algorithms="EdDSA"),
                            T.service_section(),
                            ("remote", [
                                ("connect", f"tcp://127.0.0.1:{fr.rport}"),
                                ("secret_key_file", "host.key"),
                                ("server_public_key", pub)]))
        self.proc = None
        _hosts.append(self)

    def start(self):
        err = open(self.t.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [T.tokend_path(), "--worker", "-c", self.t.conf],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            start_new_session=True)
        err.close()
        return self

    def kill9(self):
        """kill -9 of the supervisor and every worker at once."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        self.proc = None

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(5)
        self.proc = None


UID = T.new_secret()


def token_request(i, n):
    return ("POST", "/v1/token",
            {"assertion": S.jwts[(i * 7 + n) % len(S.jwts)],
             "service": SYNC})


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def minted_by(body, hosts):
    """The host whose sync secret signed the token in body, or None."""
    for h in hosts:
        try:
            T.parse_token(body["id"], h.secret)
            return h
        except T.TokenError:
            continue
    return None


def served_by(t, hosts, n=20):
    """n requests, 8 at a time (the broker gives a job to the worker
    holding the fewest, so requests one after another would all go to
    one); returns {host name: count}; every one must be 200."""
    load = T.Load(t.port, token_request, threads=8, seconds=10,
                  max_per_thread=(n + 7) // 8).start().join()
    seen = {}
    for o in load.results[:n]:
        assert o.exc is None and o.status == 200, \
            f"{o}\n{t.stderr_tail()}"
        h = minted_by(o.body, hosts)
        assert h is not None, "a token no host's secret signed"
        seen[h.name] = seen.get(h.name, 0) + 1
    return seen


def wait_served(t, hosts, names, timeout=10):
    """Polls until requests are served by every host named."""
    def ok():
        try:
            return set(names) <= set(served_by(t, hosts, 16))
        except AssertionError:
            return False
    try:
        T.wait_until(ok, timeout, interval=0.1,
                     what=f"tokens minted by {sorted(names)}")
    except TimeoutError as e:
        raise AssertionError(f"{e}\nfront:\n{t.stderr_tail()}") from None


def check_all_ok(t, load, minimum):
    assert len(load.results) >= minimum, \
        f"only {len(load.results)} requests (expected >= {minimum})"
    bad = [o for o in load.results if o.exc is not None or o.status != 200]
    assert not bad, (f"{len(bad)} of {len(load.results)} failed: "
                     f"{load.kinds()}\n{t.stderr_tail(30)}")


# ---------------------------------------------------------------- joins

@test
def host_joins_over_curve_and_serves():
    t, _, pub = front("joins", ["alpha"])
    # With no local worker the front is ready (systemd's READY=1) when it
    # listens: a worker host that is down must not hold its start.
    t.wait_log(r"supervisor\[\d+\] info: serving")
    a = Host(t, pub, "alpha").start()
    wait_served(t, [a], ["alpha"])
    seen = served_by(t, [a], 20)
    assert seen == {"alpha": 20}, seen
    # Remote READYs name no pid: the access log has none to show.
    t.wait_log(r"POST /v1/token 200 .* worker=0 ")
    assert not [x for x in T.re.findall(r"POST /v1/token 200 \S+ worker=(\d+)",
                                        t.stderr()) if x != "0"]
    # A front with remote workers only has no local worker.
    assert t.workers() == [], t.children()


def worker_kinds(mport):
    """{kind: workers} of tokend_workers (idle or busy) on /metrics."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics",
                                timeout=5) as r:
        text = r.read().decode()
    out = {}
    for m in T.re.finditer(r'^tokend_workers\{state="(idle|busy)",'
                           r'kind="(\w+)"\} (\d+)$', text, T.re.M):
        out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(3))
    return out


@test
def local_and_remote_workers_share_the_load():
    """2 local workers and a host's 3: credit goes to idle capacity
    wherever it is, so under load every one of them serves."""
    t = T.instance("tkd-remote-mixed-")
    pub = keypair(t, "front").split()[0]
    write_authorized(t, [keypair(t, "alpha")])
    t.rport = T.free_port()
    local = T.new_secret()
    t.write_secrets(uid=UID, sync=local)
    t.write_jwks("example.jwks", [S.key])
    head, items = t.server_section(**dict(HB, workers=2, worker_credit=2))
    mport = T.free_port()
    t.write_config((head, items), T.issuer_section(algorithms="EdDSA"),
                   T.service_section(), ("remote", [
                       ("listen", f"tcp://127.0.0.1:{t.rport}"),
                       ("secret_key_file", "front.key"),
                       ("authorized_keys", "authorized_keys")]),
                   ("metrics", [("listen", f"127.0.0.1:{mport}")]))
    t.start()
    a = Host(t, pub, "alpha", workers=3).start()

    class Local:
        name, secret = "local", local
    wait_served(t, [a, Local], ["alpha", "local"])
    pids = t.wait_workers(2)
    # The metrics tell the kinds apart by the socket each joined on.
    kinds = T.wait_until(lambda: (lambda k: k if k == {
        "local": 2, "remote": 3} else None)(worker_kinds(mport)), 5,
        what="tokend_workers: 2 local and 3 remote")
    assert kinds == {"local": 2, "remote": 3}
    remote = [p for p, title in T.children_of(a.proc.pid).items()
              if "tokend: worker" in title]
    assert len(remote) == 3, remote
    cpu0 = {p: cpu_ticks(p) for p in remote}
    load = T.Load(t.port, token_request, threads=12, seconds=4,
                  max_per_thread=100000).start().join()
    check_all_ok(t, load, 400)
    # Every remote worker worked (CPU), not one of them for all.
    idle = [p for p in remote if cpu_ticks(p) - cpu0[p] < 2]
    assert not idle, f"remote workers {idle} took no job"
    seen = {}
    for o in load.results:
        h = minted_by(o.body, [a, Local])
        assert h is not None, "a token no secret signed"
        seen[h.name] = seen.get(h.name, 0) + 1
    assert set(seen) == {"local", "alpha"}, seen
    # Each local worker served (the access log names its pid); the
    # remote ones are worker=0.
    log = t.stderr()
    served = set(T.re.findall(r"POST /v1/token 200 \S+ worker=(\d+)", log))
    assert {str(p) for p in pids} <= served, (pids, served)


# ---------------------------------------------------------------- refused

@test
def unknown_key_and_plain_tcp_refused_and_logged_once():
    t, _, pub = front("refused", ["alpha"], request_timeout=1)
    # A peer without CURVE: a ZMTP DEALER saying READY in the clear.
    ctx = zmq.Context()
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(f"tcp://127.0.0.1:{t.rport}")
    d.send(bytes([2, 1, 8]) + b"versions" + struct.pack(">I", 1) + b"2")
    pre = r"a peer of the remote workers' endpoint was refused: (it does " \
          r"not speak CURVE|its handshake failed: it hung up)"
    t.wait_log(pre)
    # beta's key pair exists, but is not in the front's authorized_keys.
    other = T.instance("tkd-remote-keys-")
    keypair(other, "beta")
    b = Host(t, pub, "beta", workers=1, key_dir=other).start()
    t.wait_log(r"remote worker host 127\.0\.0\.1 refused: its CURVE key "
               r"is not in authorized_keys")
    b.t.wait_log(r"refused this host's CURVE handshake: its public key is "
                 r"not in the front's authorized_keys")
    try:
        # Nobody serves: the request waits for a worker, then 504.
        st, _, body = t.token(S.jwts[0])
        assert st == 504, (st, body)
        assert d.poll(300) == 0, "the plain peer was answered"
        # ZeroMQ retries every 100 ms: the refusals are not all logged.
        time.sleep(1.5)
        log = t.stderr()
        n_key = log.count("its CURVE key is not in authorized_keys")
        n_pre = len(T.re.findall(pre, log))
        assert n_key == 1, f"{n_key} lines for beta's key:\n{log}"
        assert n_pre == 1, f"{n_pre} lines for the plain peer:\n{log}"
        assert "POST /v1/token 200" not in log
    finally:
        d.close()
        ctx.term()


# ---------------------------------------------------------------- sighup

@test
def removing_a_key_and_sighup_cuts_the_host_off():
    t, lines, pub = front("sighup", ["alpha", "beta"])
    a = Host(t, pub, "alpha").start()
    b = Host(t, pub, "beta").start()
    wait_served(t, [a, b], ["alpha", "beta"])
    mark = t.log_mark()
    write_authorized(t, [lines["alpha"]])
    os.kill(t.pid, signal.SIGHUP)
    t.wait_log(r"cut off \(its key \S+ left authorized_keys\)", since=mark,
               count=2)
    seen = served_by(t, [a, b], 40)
    assert seen == {"alpha": 40}, seen
    # beta's workers find the front silent, reconnect, and ZAP refuses.
    b.t.wait_log(r"its public key is not in the front's authorized_keys",
                 timeout=10)
    assert served_by(t, [a, b], 10) == {"alpha": 10}
    # A bad line is a reload error at FILE:LINE; the list in force stays.
    with open(t.path("authorized_keys"), "a") as f:
        f.write("not-a-key host\n")
    mark = t.log_mark()
    os.kill(t.pid, signal.SIGHUP)
    t.wait_log(r"reload failed, keeping the running config: .*"
               r"authorized_keys:3: not a CURVE public key", since=mark)
    assert served_by(t, [a, b], 10) == {"alpha": 10}


# ---------------------------------------------------------------- kill9

@test
def kill9_of_a_worker_host_under_load_loses_no_request():
    t, _, pub = front("kill9", ["alpha", "beta"])
    a = Host(t, pub, "alpha").start()
    b = Host(t, pub, "beta").start()
    wait_served(t, [a, b], ["alpha", "beta"])
    load = T.Load(t.port, token_request, threads=4, seconds=12,
                  max_per_thread=3000).start()
    try:
        load.wait_count(40)
        b.kill9()
        load.wait_count(load.count() + 100, timeout=10)
    finally:
        load.stop()
    check_all_ok(t, load, 140)
    t.wait_log(r"worker \S+ (hung on a job|silent|unreachable): forgotten")
    assert served_by(t, [a, b], 10) == {"alpha": 10}


# ---------------------------------------------------------------- restart

@test
def front_restart_under_load_rejoined_by_remote_workers():
    t, _, pub = front("restart", ["alpha", "beta"])
    a = Host(t, pub, "alpha").start()
    b = Host(t, pub, "beta").start()
    wait_served(t, [a, b], ["alpha", "beta"])
    load = T.Load(t.port, token_request, threads=3, seconds=15,
                  max_per_thread=3000).start()
    try:
        load.wait_count(30)
        old = t.front()
        os.kill(old, signal.SIGKILL)
        T.wait_until(lambda: t.front() not in (None, old), 10,
                     what="a new front")
        # No operator action: both hosts serve the new front.
        wait_served(t, [a, b], ["alpha", "beta"], timeout=15)
        rejoined = time.monotonic()
        load.wait_count(load.count() + 60, timeout=10)
    finally:
        load.stop()
    # Requests made during the restart may fail; none after it.
    late = [o for o in load.results if o.t0 >= rejoined]
    assert len(late) >= 50, len(late)
    bad = [o for o in late if o.exc is not None or o.status != 200]
    assert not bad, f"{len(bad)} failed after the restart: {bad[:3]}"
    assert a.proc.poll() is None and b.proc.poll() is None


# ---------------------------------------------------------------- version

@test
def other_protocol_version_over_tcp_refused_with_both_versions():
    t, lines, pub = front("version", ["gamma"])
    with open(t.path("gamma.key")) as f:
        secret = [x for x in f.read().split("\n")
                  if x and not x.startswith("# ")][0]
    ctx = zmq.Context()
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.curve_serverkey = pub.encode()
    d.curve_secretkey = secret.encode()
    d.curve_publickey = lines["gamma"].split()[0].encode()
    d.setsockopt(zmq.ROUTING_ID, b"py-v3-" + os.urandom(8).hex().encode())
    d.connect(f"tcp://127.0.0.1:{t.rport}")
    try:
        d.send(bytes([3, 1, 8]) + b"versions" + struct.pack(">I", 1) + b"3")
        assert d.poll(5000), f"no answer\n{t.stderr_tail()}"
        frame = d.recv()
        assert frame[:2] == bytes([2, 7]), frame[:8]
        fields, off = {}, 2
        while off < len(frame):
            k = frame[off + 1:off + 1 + frame[off]].decode()
            off += 1 + frame[off]
            (n,) = struct.unpack(">I", frame[off:off + 4])
            fields[k] = frame[off + 4:off + 4 + n].decode()
            off += 4 + n
        assert fields["versions"] == "2" and \
            fields["peer_versions"] == "version 3", fields
        t.wait_log(r"worker py-v3-\S+ refused: this front speaks worker "
                   r"protocol version 2; the worker offered version 3")
    finally:
        d.close()
        ctx.term()


@test
def worker_host_refused_by_a_front_of_another_version_stops():
    """The other side: a front (here a Python CURVE ROUTER) that speaks
    version 3 only refuses the C workers of a host; each logs both
    versions and exits for good, and the host's supervisor stops."""
    t = T.instance("tkd-remote-v3front-")
    pub = keypair(t, "front").split()[0]
    keypair(t, "alpha")
    with open(t.path("front.key")) as f:
        secret = [x for x in f.read().split("\n")
                  if x and not x.startswith("# ")][0]
    t.rport = T.free_port()
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.LINGER, 0)
    r.curve_server = True
    r.curve_secretkey = secret.encode()
    r.bind(f"tcp://127.0.0.1:{t.rport}")

    def field(k, v):
        return bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    # In the layout of the worker's READY (version 2), as a front must.
    refuse = bytes([2, 7]) + field(b"versions", b"3") + \
        field(b"peer_versions", b"2") + \
        field(b"reason", b"this front speaks worker protocol version 3")
    a = Host(t, pub, "alpha", workers=2).start()
    try:
        deadline = time.monotonic() + 10
        answered = set()
        while len(answered) < 2 and time.monotonic() < deadline:
            if r.poll(200):
                ident, frame = r.recv_multipart()
                if frame[:2] != bytes([2, 1]):      # a HEARTBEAT
                    continue
                assert b"pid" not in frame, frame   # READY, remote
                r.send_multipart([ident, refuse])
                answered.add(ident)
        assert len(answered) == 2, answered
        a.t.wait_log(r"refused by the front, which speaks worker protocol "
                     r"version 3 \(this worker speaks 2\)", count=2)
        a.t.wait_log(r"no worker of this host can run: stopping")
        a.proc.wait(10)
        assert a.proc.returncode == 1, a.proc.returncode
        a.proc = None
    finally:
        r.close()
        ctx.term()


# ---------------------------------------------------------------- hostile

@test
def silent_and_garbage_peers_cost_no_request():
    t, _, pub = front("hostile", ["alpha"])
    a = Host(t, pub, "alpha").start()
    wait_served(t, [a], ["alpha"])
    silent = socket.create_connection(("127.0.0.1", t.rport), timeout=5)
    stop = threading.Event()
    flooded = [0]

    def flood():
        rnd = random.Random(7)
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", t.rport),
                                              timeout=2) as s:
                    for _ in range(50):
                        s.sendall(bytes(rnd.getrandbits(8)
                                        for _ in range(4096)))
                        flooded[0] += 4096
            except OSError:
                pass
    th = threading.Thread(target=flood, daemon=True)
    th.start()
    try:
        load = T.Load(t.port, token_request, threads=3, seconds=10,
                      max_per_thread=100).start().join()
    finally:
        stop.set()
        th.join(5)
    check_all_ok(t, load, 100)
    assert flooded[0] > 0
    # The silent peer is dropped after handshake_timeout (1 s).
    silent.settimeout(5)
    t0 = time.monotonic()
    try:
        data = silent.recv(4096)
        while data:
            data = silent.recv(4096)
    except ConnectionResetError:
        pass
    assert time.monotonic() - t0 < 5
    silent.close()
    t.wait_log(r"a peer of the remote workers' endpoint was refused")


if __name__ == "__main__":
    T.run(setup, teardown, per_test_timeout=60)
