"""tokenctl on its own: the rotation's two edits, --help everywhere, its
manual.

  rotation  `secret --prepend` and `secret --drop-oldest`, run as root on a
            file of nobody:nogroup mode 0640, keep its owner, group and
            mode, and replace it by a rename alone (a new inode; a reader
            holding the old file still reads all of its old text; nothing
            left beside it); a missing file is created 0600 and the caller
            told; --drop-oldest refuses the only secret (exit 1, file
            untouched)
  reload    the documented rotation under a service user: a secret file
            owned by the user tokend runs as stays readable by that user
            (`tokend -t` run as it) after each step run as root: before
            this, the next reload failed with "Permission denied"
  help      `tokend --help` and `-h`; `tokenctl --help` lists the commands,
            and each command, group and subcommand found there answers
            --help and -h on stdout with exit 0, explaining every option
            of its synopsis; a usage error still exits 2 on stderr
  manual    docs/man/tokenctl.1 renders without a groff warning, has a
            section for every command tokenctl lists and names each of
            their options; `make install` puts it in man1

Run as root (the ownership cases chown to nobody) from the repository root:
    /usr/bin/python3 tests/integration/test_tokenctl.py
(arguments select tests by name substring; BUILD=dir picks the binaries).
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokendtest as T  # noqa: E402
from tokendtest import standalone  # noqa: E402

NOBODY = 65534                  # nobody and nogroup on Debian
MAN = os.path.join(T.REPO, "docs", "man", "tokenctl.1")
HEX = re.compile(r"[0-9a-f]{64}")


def tmpdir():
    """A fresh directory that the teardown of T removes (or keeps)."""
    return T.instance("tkd-ctl-").dir


def secret_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def owner_mode(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def rewrite(args, path):
    """Runs `tokenctl secret ARGS path` and checks that it replaced path by
    a rename: a new inode, the old one's text unchanged to the last byte
    (read through a descriptor opened before), no other name left in the
    directory.  Returns (exit code, stdout, stderr)."""
    before = sorted(os.listdir(os.path.dirname(path)))
    with open(path, "rb") as old:
        text = old.read()
        ino = os.fstat(old.fileno()).st_ino
        rc, out, err = T.tokenctl("secret", *args, path)
        old.seek(0)
        assert old.read() == text, "the old file was written in place"
    assert rc == 0, (rc, out, err)
    assert os.stat(path).st_ino != ino, "not replaced by a rename"
    assert sorted(os.listdir(os.path.dirname(path))) == before, \
        f"left beside it: {sorted(os.listdir(os.path.dirname(path)))}"
    return rc, out, err


# ---------------------------------------------------------------- rotation

@standalone
def prepend_and_drop_keep_owner_group_and_mode():
    assert os.geteuid() == 0, "run as root: the case chowns to nobody"
    d = tmpdir()
    path = os.path.join(d, "sync.secret")
    old = T.new_secret()
    T.write_secret(path, f"# sync-1.5\n{old}\n", 0o640)
    os.chown(path, NOBODY, NOBODY)
    _, out, err = rewrite(["--prepend"], path)
    assert out == "" and err == "", (out, err)
    assert owner_mode(path) == (NOBODY, NOBODY, 0o640), owner_mode(path)
    lines = secret_lines(path)
    assert len(lines) == 3 and HEX.fullmatch(lines[0]) and \
        lines[1:] == ["# sync-1.5", old], lines
    rewrite(["--drop-oldest"], path)
    assert owner_mode(path) == (NOBODY, NOBODY, 0o640), owner_mode(path)
    assert secret_lines(path) == lines[:2], secret_lines(path)


@standalone
def drop_oldest_refuses_the_only_secret():
    d = tmpdir()
    path = os.path.join(d, "one.secret")
    T.write_secret(path, T.new_secret() + "\n")
    with open(path) as f:
        text = f.read()
    ino = os.stat(path).st_ino
    rc, out, err = T.tokenctl("secret", "--drop-oldest", path)
    assert rc == 1 and out == "", (rc, out, err)
    assert err.startswith("tokenctl: ") and "only secret" in err and \
        path in err, err
    with open(path) as f:
        assert f.read() == text
    assert os.stat(path).st_ino == ino
    # Nothing to drop from at all: exit 1, the reason, nothing created.
    rc, out, err = T.tokenctl("secret", "--drop-oldest",
                              os.path.join(d, "none.secret"))
    assert rc == 1 and "No such file" in err, (rc, err)
    assert not os.path.exists(os.path.join(d, "none.secret"))
    # Both edits at once is a usage error.
    rc, out, err = T.tokenctl("secret", "--prepend", path, "--drop-oldest",
                              path)
    assert rc == 2 and err.startswith("usage: tokenctl secret"), (rc, err)


@standalone
def prepend_creates_a_missing_file_and_says_so():
    d = tmpdir()
    path = os.path.join(d, "new.secret")
    rc, out, err = T.tokenctl("secret", "--prepend", path)
    assert rc == 0 and out == "", (rc, out, err)
    assert owner_mode(path) == (os.geteuid(), os.getegid(), 0o600), \
        owner_mode(path)
    assert len(secret_lines(path)) == 1 and \
        HEX.fullmatch(secret_lines(path)[0])
    assert "created" in err and "0600" in err and path in err, err
    # Once it exists, a prepend says nothing.
    _, _, err = rewrite(["--prepend"], path)
    assert err == "", err


# ---------------------------------------------------------------- reload

def as_nobody(*argv):
    """Runs argv as nobody:nogroup with no other group."""
    return T.run_tool(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                       "--clear-groups", *argv])


@standalone
def rotation_as_root_leaves_the_file_readable_by_the_service_user():
    assert os.geteuid() == 0, "run as root: the case chowns to nobody"
    t = T.one_issuer_instance("tkd-ctl-", T.Key("EdDSA"))
    for dirpath, _, files in os.walk(t.dir):
        os.chown(dirpath, NOBODY, NOBODY)
        for f in files:
            os.chown(os.path.join(dirpath, f), NOBODY, NOBODY)
    sync = t.path("sync.secret")
    check = [T.tokend_path(), "-t", "-c", t.conf]
    rc, _, err = as_nobody(*check)
    assert rc == 0, f"before: {err.strip()}"
    for step in ("--prepend", "--drop-oldest"):
        rc, out, err = T.tokenctl("secret", step, sync)
        assert rc == 0, (step, rc, err)
        rc, _, err = as_nobody(*check)
        assert rc == 0, f"after {step} as root, tokend as nobody: " \
            f"{err.strip()}"
    assert len(secret_lines(sync)) == 1


# ---------------------------------------------------------------- help

def listed_commands():
    """The commands `tokenctl --help` lists, each a list of words."""
    rc, out, err = T.tokenctl("--help")
    assert rc == 0 and err == "", (rc, err)
    cmds = []
    for line in out.splitlines():
        m = re.match(r"(?:usage:)?\s*tokenctl((?: [a-z][a-z-]*)+)", line)
        if m:
            cmds.append(m.group(1).split())
    assert len(cmds) >= 6, f"too few commands found in:\n{out}"
    return cmds


def synopsis_options(words):
    """The options of a command's synopsis lines in `tokenctl --help`
    ("-c", "--service", ...)."""
    _, out, _ = T.tokenctl("--help")
    name = "tokenctl " + " ".join(words) + " "
    opts, mine = set(), False
    for line in out.splitlines():
        if re.match(r"(?:usage:)?\s*tokenctl ", line):
            mine = (line.split("tokenctl ", 1)[1] + " ").startswith(
                name[len("tokenctl "):])
        elif not line.startswith(" "):
            mine = False
        if mine:
            opts |= set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", line))
    return opts


@standalone
def tokend_answers_help():
    for flag in ("--help", "-h"):
        rc, out, err = T.run_tokend([flag])
        assert rc == 0 and err == "", (flag, rc, err)
        assert out.startswith("usage: tokend"), (flag, out)
        assert "-c FILE" in out and "-t" in out, out


@standalone
def every_tokenctl_command_answers_help():
    cmds = listed_commands()
    names = {" ".join(c) for c in cmds}
    # A group's name alone ("jwt") answers too, with its commands.
    groups = {" ".join(c[:k]) for c in cmds for k in range(1, len(c))}
    for name in sorted(names | groups):
        for flag in ("--help", "-h"):
            rc, out, err = T.tokenctl(*name.split(), flag)
            what = f"tokenctl {name} {flag}"
            assert rc == 0 and err == "", f"{what}: exit {rc}: {err}"
            assert out.startswith(f"usage: tokenctl {name} "), \
                f"{what}: {out!r}"
            members = [n for n in names if (n + " ").startswith(name + " ")]
            for n in members:
                assert f"tokenctl {n} " in out, f"{what} lacks {n}"
        if name in groups:
            continue
        # Every option of the synopsis is explained below it.
        body = out.split("\n\n", 1)[1] if "\n\n" in out else ""
        for opt in synopsis_options(name.split()):
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", body), \
                f"tokenctl {name} --help does not explain {opt}:\n{out}"


@standalone
def usage_errors_still_exit_2_on_stderr():
    for args in (["secret", "--bogus"], ["mint"], ["jwt"], ["jwt", "nope"],
                 ["nope"], []):
        rc, out, err = T.tokenctl(*args)
        assert rc == 2 and out == "", (args, rc, out)
        assert "usage: tokenctl" in err, (args, err)
    rc, out, err = T.tokenctl("nope")
    assert 'unknown command "nope"' in err, err
    rc, out, err = T.tokenctl("mint", "--bogus")
    # The usage of the command that failed, not of every command.
    assert "tokenctl mint" in err and "tokenctl verify" not in err, err


# ---------------------------------------------------------------- manual

def render_man():
    """(text, warnings) of docs/man/tokenctl.1 rendered by groff."""
    # Wide lines, no hyphenation: an option is never split across lines.
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-rLL=200n",
                        "-rHY=0", "-P-cbou", MAN], capture_output=True, timeout=30,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert p.returncode == 0, p.stderr.decode()
    # groff's hyphen is U+2010; options are typed with ASCII ones.
    return p.stdout.decode().replace("\u2010", "-").replace("\u2212", "-"), \
        p.stderr.decode()


@standalone
def manual_covers_every_command_and_option():
    text, warnings = render_man()
    assert warnings == "", f"groff warns:\n{warnings}"
    for words in listed_commands():
        name = "tokenctl " + " ".join(words)
        # A section of its own: a heading line naming it.
        assert re.search(rf"^ {{3}}{re.escape(name)}\b", text, re.M), \
            f"no section for {name} in {MAN}"
        for opt in synopsis_options(words):
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), \
                f"{MAN} does not name {opt} of {name}"


@standalone
def make_install_puts_the_manual_in_man1():
    d = tempfile.mkdtemp(prefix="tkd-ctl-install-")
    try:
        # -n: the install rule's commands, without building or running.
        p = subprocess.run(["make", "-s", "-n", "install",
                            f"BUILD={T.build_dir()}", f"DESTDIR={d}",
                            "PREFIX=/usr"], cwd=T.REPO, capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        want = re.compile(rf"install -m 0644 docs/man/tokenctl\.1 "
                          rf"{re.escape(d)}/usr/share/man/man1/"
                          rf"(tokenctl\.1)?$", re.M)
        out = p.stdout.decode()
        assert want.search(out), f"no install of tokenctl.1 in:\n{out}"
        # Its directory is made (by an install -d, maybe of several lines).
        mkdirs = re.findall(r"^install -d (?:.*\\\n)*.*$", out, re.M)
        assert any(f"{d}/usr/share/man/man1" in m for m in mkdirs), out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def setup():
    for p in (T.tokend_path(), T.tokenctl_path()):
        if not os.access(p, os.X_OK):
            raise RuntimeError(f"{p} not built (make)")


if __name__ == "__main__":
    T.run(setup, T.teardown, per_test_timeout=60)
