"""docs/deployment.md, run as written (issue 18), so the guide stays true.

Every ```sh block of the guide runs, in order, in one bash session with
`set -euo pipefail` (variables and shell functions of one block serve the
later ones, as they do for a reader), and each `#> TEXT` line of a block
must match a line of what that block printed, in the order they are
written (TEXT may hold `...`: anything).  The guide's own section
"Testing this guide" lists what is adapted, all of it here in PRELUDE and
substitutions(): the paths that need root live in a temporary directory,
`make install` installs there (DESTDIR), the port is a free one, the
`tokend` user is the tester's own, systemctl and journalctl are shell
functions that run the installed unit's commands in the background, and
1800 seconds become a few.  A block after the comment
`<!-- test: not under sanitizers ... -->` is left out of a sanitizer
build's run, and `cc` links the sanitizers there.

After the run, beyond the guide's own checks: the secrets and the config
are mode 0600 and the tester's, /etc/tokend is 0750, tokend exited 0 on
`systemctl stop` and left its runtime directory empty.

Run from the repository root:  /usr/bin/python3 tests/integration/test_deployment.py
(BUILD=dir picks the build that `make install` installs).
"""

import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import test  # noqa: E402

GUIDE = os.path.join(T.REPO, "docs", "deployment.md")
DURATION = 20           # seconds, for the guide's 1800
NOT_SANITIZED = "<!-- test: not under sanitizers"

S = types.SimpleNamespace(root=None, run=None, failed=False)


def guide_blocks(text):
    """[(line number, code, marker)] of each ```sh block; marker is the
    HTML comment on the closest non-empty line before it, or ""."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            marker = lines[j].strip() if j >= 0 and \
                lines[j].strip().startswith("<!--") else ""
            end = lines.index("```", i + 1)
            out.append((i + 1, "\n".join(lines[i + 1:end]), marker))
            i = end
        i += 1
    return out


def expectations(code):
    """The `#> TEXT` lines of a block, each as its `...`-separated parts."""
    return [[p.strip() for p in ln.strip()[3:].split("...") if p.strip()]
            for ln in code.splitlines() if ln.strip().startswith("#> ")]


def line_matches(line, parts):
    pos = 0
    for p in parts:
        pos = line.find(p, pos)
        if pos < 0:
            return False
        pos += len(p)
    return True


def unmet(output, expected):
    """The first expectation that no line of output meets, after the line
    that met the one before it; None when all are met."""
    lines, k = output.splitlines(), 0
    for parts in expected:
        while k < len(lines) and not line_matches(lines[k], parts):
            k += 1
        if k == len(lines):
            return " ... ".join(parts)
        k += 1
    return None


def substitutions(root, port):
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    return [
        ("/etc/tokend", f"{root}/etc/tokend"),
        ("/run/tokend", f"{root}/run/tokend"),
        ("/usr/local", f"{root}/usr/local"),
        ("127.0.0.1:8080", f"127.0.0.1:{port}"),
        ("tokend:tokend", f"{user}:{group}"),
        ("-g tokend", f"-g {group}"),
        ("1800", str(DURATION)),
    ]


# The stand-ins for what needs root or systemd (the guide's "Testing this
# guide" names each).  tokend runs as a background job of this shell: the
# test kills the whole session at the end, whatever happened.
PRELUDE = r'''
exec 2>&1
set -euo pipefail
umask 022
export PATH="$ROOT/usr/local/sbin:$ROOT/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export HOME="$ROOT/home"
export PKG_CONFIG_PATH="$ROOT/usr/local/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$ROOT"
export LD_LIBRARY_PATH="$ROOT/usr/local/lib"
mkdir -p "$HOME"
LOG="$ROOT/tokend.log"
PIDFILE="$ROOT/tokend.pid"

SANFLAGS=()
if [ "$SANITIZED" = 1 ]; then
	# make asan's flags, so that make rebuilds nothing without them.
	SANFLAGS=(OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
	    LDFLAGS="-fsanitize=address,undefined")
	cc() { command cc -fsanitize=address,undefined "$@"; }
fi
make() { command make BUILD="$BUILD" DESTDIR="$ROOT" "${SANFLAGS[@]}" "$@"; }
systemd-sysusers() { echo "(test) no user made: the tester's stands in"; }
runuser() {
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
	shift
	"$@"
}
journalctl() { cat "$LOG"; }

unit_line() {	# KEY: the installed unit's KEY= line, paths moved
	sed -n "s/^$1=//p" "$ROOT/lib/systemd/system/tokend.service" |
	    sed -e "s|/usr/local|$ROOT/usr/local|g" \
	    -e "s|/etc/tokend|$ROOT/etc/tokend|g"
}
alive() {	# PID: running, not a zombie
	local st=""
	[ -r "/proc/$1/stat" ] && read -r _ _ st _ < "/proc/$1/stat"
	[ -n "$st" ] && [ "$st" != Z ]
}
unit_start() {
	local pre cmd pid i
	pre=$(unit_line ExecStartPre)
	cmd=$(unit_line ExecStart)
	mkdir -p "$ROOT/run"
	install -d -m 0700 "$ROOT/run/tokend"	# RuntimeDirectory=
	$pre
	$cmd >>"$LOG" 2>&1 </dev/null &
	pid=$!
	echo "$pid" > "$PIDFILE"
	for i in $(seq 300); do
		if curl -fsS -o /dev/null \
		    "http://127.0.0.1:$PORT/__lbheartbeat__" 2>/dev/null; then
			echo "(test) tokend started, pid $pid"
			return 0
		fi
		alive "$pid" || { echo "(test) tokend exited"; tail "$LOG"; return 1; }
		sleep 0.1
	done
	echo "(test) tokend not serving within 30 s"; tail "$LOG"; return 1
}
unit_reload() {	# SIGHUP; done once "reloaded" is logged, old workers gone
	local sup old n i p left
	sup=$(cat "$PIDFILE")
	old=$(pgrep -P "$sup" -x tokend-worker || true)
	n=$(grep -c ' reloaded' "$LOG" || true)
	kill -HUP "$sup"
	for i in $(seq 300); do
		left=""
		for p in $old; do
			alive "$p" && left="$left $p"
		done
		if [ "$(grep -c ' reloaded' "$LOG" || true)" -gt "$n" ] &&
		    [ -z "$left" ]; then
			echo "(test) reloaded"
			return 0
		fi
		sleep 0.1
	done
	echo "(test) no reload within 30 s"; tail "$LOG"; return 1
}
unit_stop() {
	local pid i rc=0
	pid=$(cat "$PIDFILE")
	kill -TERM "$pid"
	for i in $(seq 600); do
		if ! alive "$pid"; then
			wait "$pid" || rc=$?
			echo "$rc" > "$ROOT/tokend.exit"
			echo "(test) tokend exited with code $rc"
			return 0
		fi
		sleep 0.1
	done
	echo "(test) tokend still running 60 s after SIGTERM"; return 1
}
systemctl() {
	case "$*" in
	daemon-reload) ;;
	"enable --now tokend"|"start tokend") unit_start ;;
	"reload tokend") unit_reload ;;
	"stop tokend") unit_stop ;;
	"status tokend"*) alive "$(cat "$PIDFILE")" &&
	    echo "(test) tokend is running" ;;
	*) echo "(test) no stand-in for systemctl $*"; return 1 ;;
	esac
}
'''


def sanitized():
    """Whether the build under test has AddressSanitizer."""
    with open(T.tokend_path(), "rb") as f:
        return b"__asan_init" in f.read()


def substitute(blocks, subs):
    """The blocks with substitutions() made, in code and `#>` lines alike."""
    out = []
    for line, code, marker in blocks:
        for a, b in subs:
            code = code.replace(a, b)
        out.append((line, code, marker))
    return out


def script(blocks):
    """The bash script of the guide's blocks, each after a marker line."""
    out = [PRELUDE]
    for n, (_, code, _) in enumerate(blocks):
        out.append(f"printf '\\n@@@ block {n}\\n'\n{code}\n")
    out.append("printf '\\n@@@ end\\n'\n")
    return "\n".join(out)


def split_output(out):
    """{block number: its output}, and whether the end was reached."""
    parts, cur = {}, None
    for line in out.splitlines():
        m = re.fullmatch(r"@@@ block (\d+)", line)
        if m:
            cur = int(m.group(1))
            parts[cur] = []
        elif line == "@@@ end":
            return {k: "\n".join(v) for k, v in parts.items()}, True
        elif cur is not None:
            parts[cur].append(line)
    return {k: "\n".join(v) for k, v in parts.items()}, False


def run_guide():
    with open(GUIDE) as f:
        blocks = guide_blocks(f.read())
    san = sanitized()
    blocks = [b for b in blocks if not (san and
                                        b[2].startswith(NOT_SANITIZED))]
    assert len(blocks) >= 10, f"{len(blocks)} sh blocks in {GUIDE}"
    root = tempfile.mkdtemp(prefix="tkd-deploy-")
    S.root = os.path.join(root, "root")
    os.mkdir(S.root)
    port = T.free_port()
    env = dict(os.environ, ROOT=S.root, PORT=str(port),
               BUILD=os.environ.get("BUILD", "build"),
               SANITIZED="1" if san else "0")
    blocks = substitute(blocks, substitutions(S.root, port))
    text = script(blocks)
    with open(os.path.join(root, "guide.sh"), "w") as f:
        f.write(text)
    p = subprocess.Popen(["bash", os.path.join(root, "guide.sh")],
                         cwd=T.REPO, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        out = b"(the guide was still running after 240 s)"
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)     # tokend, if still there
        except ProcessLookupError:
            pass
        p.wait()
    out = out.decode("utf-8", "replace")
    with open(os.path.join(root, "guide.out"), "w") as f:
        f.write(out)
    S.run = types.SimpleNamespace(dir=root, blocks=blocks, out=out,
                                  rc=p.returncode)
    return S.run


def where(run, n):
    line, code, _ = run.blocks[n]
    return f"the block at {GUIDE}:{line} ({code.splitlines()[0]!r})"


@test
def guide_runs_and_prints_what_it_says():
    run = run_guide()
    outs, ended = split_output(run.out)
    if not ended:
        n = max(outs) if outs else 0
        tail = "\n".join(outs.get(n, run.out).splitlines()[-25:])
        raise AssertionError(f"stopped (exit {run.rc}) in {where(run, n)}:"
                             f"\n{tail}\n(all of it: {run.dir}/guide.out)")
    for n, (_, code, _) in enumerate(run.blocks):
        miss = unmet(outs.get(n, ""), expectations(code))
        assert miss is None, \
            f"{where(run, n)} did not print {miss!r}; it printed:\n" \
            f"{outs.get(n, '')[-2000:]}"


@test
def files_private_and_tokend_stopped_clean():
    assert S.run is not None and S.run.rc == 0, "the guide did not run"
    etc = os.path.join(S.root, "etc", "tokend")
    st = os.stat(etc)
    assert stat.S_IMODE(st.st_mode) == 0o750, oct(st.st_mode)
    for name in ("uid.secret", "sync.secret", "notes.secret", "idp.jwks",
                 "tokend.conf"):
        st = os.stat(os.path.join(etc, name))
        assert stat.S_IMODE(st.st_mode) == 0o600 and \
            st.st_uid == os.getuid(), \
            f"{name}: mode {oct(st.st_mode)}, uid {st.st_uid}"
    with open(os.path.join(etc, "sync.secret")) as f:
        secrets = [ln for ln in f.read().split() if ln]
    assert len(secrets) == 1, f"sync.secret after the rotation: {secrets}"
    with open(os.path.join(S.root, "tokend.exit")) as f:
        assert f.read().strip() == "0", "tokend's exit code"
    left = os.listdir(os.path.join(S.root, "run", "tokend"))
    assert left == [], f"left in the runtime directory: {left}"


def teardown(failed):
    if S.run is None:
        return
    if failed:
        print(f"# kept {S.run.dir} (guide.sh, guide.out, root/tokend.log)",
              flush=True)
    else:
        shutil.rmtree(S.run.dir, ignore_errors=True)


if __name__ == "__main__":
    T.run(None, teardown, per_test_timeout=300)
