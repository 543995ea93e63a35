/*
 * supervisor.c - the parent of every tokend process.
 *
 * It holds the validated config, forks one front and `workers` workers
 * from it, and then only reacts to events: signals arrive through a
 * signalfd (handlers never run; nginx's flag-setting idea, without the
 * flags), and respawns wait on the poll timeout.  It never creates a
 * ZeroMQ context and never starts a thread, so every fork is clean: each
 * child builds its own ZeroMQ state after the fork.
 *
 *   SIGCHLD  reap; log how the child died; respawn it.  A child that
 *            crashes or fails within a second of starting is respawned
 *            after a delay that doubles each time (100 ms up to 30 s), so
 *            a worker that dies at start-up cannot spin; one killed from
 *            outside (SIGKILL, SIGTERM) is respawned at once; one that
 *            exits with EXIT_FATAL (bad setup) is never respawned.
 *   SIGHUP   load the config again; if it is invalid, log why and keep the
 *            old one; else start workers on the new config and retire the
 *            old ones (each finishes its job; the broker re-dispatches a
 *            job that was on its way to one).
 *   SIGTERM  drain: the front stops accepting and finishes what it holds,
 *   SIGINT   then the workers go; exit 0.
 *
 * A worker's death is passed on to the front at once (SIG_WORKER_DIED, the
 * pid through sigqueue), so the broker re-dispatches its job without
 * waiting for missed heartbeats.  Under systemd (Type=notify) it reports
 * READY=1 when the front listens and a worker has joined, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1, and WATCHDOG=1 pings.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "config.h"
#include "front.h"
#include "core/log.h"
#include "core/notify.h"
#include "core/proctitle.h"
#include "pool/curve.h"
#include "pool/protocol.h"
#include "sandbox.h"
#include "worker.h"

#define RESPAWN_MIN_MS	100
#define RESPAWN_MAX_MS	30000
#define FAST_DEATH_MS	1000	/* dying sooner than this counts as failing */
#define MAX_CHILDREN	1024

enum role { ROLE_FRONT, ROLE_WORKER };

struct child {
	enum role	 role;
	int		 index;		/* worker number, 1-based */
	pid_t		 pid;		/* 0 while not running */
	int		 retiring;	/* told to go: never respawned */
	int		 fatal;		/* exited EXIT_FATAL: never respawned */
	int		 fails;		/* deaths in a row soon after start */
	uint64_t	 started;	/* mono ms */
	uint64_t	 respawn_at;	/* mono ms, while pid == 0 */
};

struct supervisor {
	struct config	*cfg;
	int		 sigfd;
	int		 ready_fd;	/* read end of the front's ready pipe */
	int		 keys_fd;	/* to the front: authorized_keys */
	int		 worker_host;	/* tokend --worker: no front */
	int		 ready;		/* READY=1 sent */
	uint64_t	 watchdog_ms;	/* systemd's interval, 0 if none */
	uint64_t	 next_ping;
	pid_t		 front_pid;
	struct child	 children[MAX_CHILDREN];
	int		 nchildren;
	int		 stopping;
	char		 where[PATH_MAX + 64];	/* titles: listen, config */
	char		 sock[PATH_MAX];	/* the front's worker socket */
};

/*
 * ps -f shows "tokend: ROLE LISTEN CONFIG" (the config's absolute path,
 * the address as the first config had it), so that two instances on one
 * host can be told apart; top, ps -e, pgrep and pidof show the short name.
 */
static void
set_title(const struct supervisor *s, const char *name, const char *role)
{
	proctitle_set(name, "tokend: %s %s", role, s->where);
}

static void
title_init(struct supervisor *s)
{
	char	path[PATH_MAX];

	if (realpath(s->cfg->path, path) == NULL)
		snprintf(path, sizeof(path), "%s", s->cfg->path);
	snprintf(s->where, sizeof(s->where), "%s %s", s->worker_host ?
	    s->cfg->remote.connect : s->cfg->listen, path);
}

/*
 * The worker socket the front bound, removed once the front and the
 * workers are gone, so a stopped tokend leaves nothing in runtime_dir.
 * The front cannot do it itself: its seccomp filter refuses unlink
 * (core/sandbox.c).  The path is the first config's, as the front's is:
 * runtime_dir changes only at a restart.
 */
static void
remove_socket(const struct supervisor *s)
{
	if (unlink(s->sock) == -1 && errno != ENOENT)
		log_warn("unlink %s", s->sock);
}

static const char *
child_name(const struct child *c, char *buf, size_t len)
{
	if (c->role == ROLE_FRONT)
		snprintf(buf, len, "front");
	else
		snprintf(buf, len, "worker %d", c->index);
	return buf;
}

/* In the child: become the role, never return. */
static void
child_run(struct supervisor *s, struct child *c, pid_t parent, int ready_w,
    int keys_r)
{
	char	name[32];
	int	rc;

	close(s->sigfd);
	if (s->ready_fd != -1)
		close(s->ready_fd);
	if (s->keys_fd != -1)
		close(s->keys_fd);
	/*
	 * Go when the supervisor goes, even if it is killed with -9.  The
	 * front gets SIGTERM: it drains and answers every request it holds.
	 * A worker gets SIGKILL: it reads SIGTERM only in its loop (through
	 * a signalfd; the signal stays blocked), so one that is stopped, or
	 * stuck in a job or a call, would never act on it: wedged workers
	 * once outlived a killed supervisor by hours.
	 */
	if (prctl(PR_SET_PDEATHSIG, c->role == ROLE_WORKER ? SIGKILL :
	    SIGTERM) == -1) {
		log_warn("prctl PR_SET_PDEATHSIG");
		_exit(EXIT_FATAL);
	}
	/* The supervisor died before the prctl: nothing would tell us. */
	if (getppid() != parent)
		_exit(0);
	child_name(c, name, sizeof(name));
	log_role(name);
	set_title(s, c->role == ROLE_FRONT ? "tokend-front" : "tokend-worker",
	    name);
	if (c->role == ROLE_FRONT)
		rc = front_main(s->cfg, ready_w, keys_r);
	else
		rc = worker_main(s->cfg, c->index);
	exit(rc);
}

static int
child_start(struct supervisor *s, struct child *c)
{
	pid_t	parent = getpid(), pid;
	char	name[32];
	int	ready[2] = { -1, -1 }, keys[2] = { -1, -1 };

	/* The front says "ready" through a pipe made for each of its lives. */
	if (c->role == ROLE_FRONT) {
		if (s->ready_fd != -1)
			close(s->ready_fd);
		s->ready_fd = -1;
		if (pipe2(ready, O_CLOEXEC) == -1)
			log_warn("pipe");
		/* A reload's authorized_keys, one datagram each. */
		if (s->keys_fd != -1)
			close(s->keys_fd);
		s->keys_fd = -1;
		if (s->cfg->remote.listen != NULL && socketpair(AF_UNIX,
		    SOCK_SEQPACKET | SOCK_CLOEXEC, 0, keys) == -1)
			log_warn("socketpair");
	}
	if ((pid = fork()) == -1) {
		log_warn("fork %s", child_name(c, name, sizeof(name)));
		c->respawn_at = mono_ms() + RESPAWN_MIN_MS;
		if (ready[0] != -1) {
			close(ready[0]);
			close(ready[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (ready[0] != -1)
			close(ready[0]);
		if (keys[0] != -1)
			close(keys[0]);
		child_run(s, c, parent, ready[1], keys[1]);
	}
	if (c->role == ROLE_FRONT) {
		s->front_pid = pid;
		if (ready[1] != -1)
			close(ready[1]);
		s->ready_fd = ready[0];
		if (keys[1] != -1)
			close(keys[1]);
		s->keys_fd = keys[0];
	}
	c->pid = pid;
	c->started = mono_ms();
	c->respawn_at = 0;
	log_debug("started %s, pid %d", child_name(c, name, sizeof(name)),
	    (int)pid);
	return 0;
}

static struct child *
child_add(struct supervisor *s, enum role role, int index)
{
	struct child	*c;
	int		 i;

	/* Reuse the slot of a retired child that is gone. */
	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].pid == 0 && (s->children[i].retiring ||
		    s->children[i].fatal))
			break;
	if (i == s->nchildren) {
		if (s->nchildren == MAX_CHILDREN)
			return NULL;
		s->nchildren++;
	}
	c = &s->children[i];
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->index = index;
	return c;
}

static void
start_workers(struct supervisor *s)
{
	struct child	*c;
	int		 i;

	for (i = 1; i <= s->cfg->workers; i++)
		if ((c = child_add(s, ROLE_WORKER, i)) != NULL)
			child_start(s, c);
}

/* Why a worker died, as the front's metrics count it (front.h). */
static enum notice_cause
death_cause(int status)
{
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGKILL ||
		    WTERMSIG(status) == SIGTERM ||
		    WTERMSIG(status) == SIGINT ? NOTICE_SIGNAL : NOTICE_CRASH;
	if (WEXITSTATUS(status) == EXIT_RECYCLE)
		return NOTICE_RECYCLE;
	return WEXITSTATUS(status) == 0 ? NOTICE_EXIT : NOTICE_CRASH;
}

/* A notice to the front (front.h); 0 when there is no front to tell. */
static int
tell_front(struct supervisor *s, pid_t pid, enum notice_cause cause,
    int clean)
{
	if (s->front_pid == 0)
		return 0;
	return sigqueue(s->front_pid, SIG_WORKER_DIED, (union sigval){
	    .sival_int = NOTICE_VALUE(pid, cause, clean) });
}

/* Decides what to do about a child that exited with status. */
static void
child_exited(struct supervisor *s, struct child *c, int status)
{
	char		 name[32];
	uint64_t	 now = mono_ms(), delay;

	child_name(c, name, sizeof(name));
	/* A clean exit (0, EXIT_RECYCLE) is sent as -pid: see front.h. */
	if (c->role == ROLE_WORKER &&
	    tell_front(s, c->pid, death_cause(status), WIFEXITED(status) &&
	    (WEXITSTATUS(status) == 0 ||
	    WEXITSTATUS(status) == EXIT_RECYCLE)) == -1)
		log_warn("telling the front that %s died", name);
	if (c->role == ROLE_FRONT)
		s->front_pid = 0;
	c->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_RECYCLE &&
	    !c->retiring && !s->stopping) {
		log_info("%s recycled", name);
		c->fails = 0;
		c->respawn_at = mono_ms();
		return;
	}
	if (WIFSIGNALED(status))
		log_warnx("%s killed by signal %d%s", name, WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else if (WEXITSTATUS(status) != 0 || (!c->retiring && !s->stopping))
		(WEXITSTATUS(status) == 0 ? log_info : log_warnx)(
		    "%s exited with code %d", name, WEXITSTATUS(status));
	if (c->retiring || s->stopping)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FATAL) {
		log_warnx("%s exited with fatal code %d and cannot be "
		    "respawned", name, EXIT_FATAL);
		c->fatal = 1;
		return;
	}
	/*
	 * Killed from outside (an operator, a chaos test): not the child's
	 * fault, respawn now.  Crashing or failing soon after start is, and
	 * backs off.
	 */
	if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL ||
	    WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
		delay = 0;
	else {
		c->fails = now - c->started < FAST_DEATH_MS ? c->fails + 1 : 0;
		delay = c->fails == 0 ? 0 : (uint64_t)RESPAWN_MIN_MS <<
		    (c->fails > 9 ? 9 : c->fails - 1);
	}
	if (delay > RESPAWN_MAX_MS)
		delay = RESPAWN_MAX_MS;
	if (delay > 0)
		log_info("respawning %s in %llu ms", name,
		    (unsigned long long)delay);
	c->respawn_at = now + delay;
}

static void
reap(struct supervisor *s)
{
	pid_t	pid;
	int	status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < s->nchildren; i++)
			if (s->children[i].pid == pid) {
				child_exited(s, &s->children[i], status);
				break;
			}
}

static void
respawn_due(struct supervisor *s)
{
	uint64_t	now = mono_ms();
	int		i;

	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->pid == 0 && !c->retiring && !c->fatal &&
		    c->respawn_at != 0 && c->respawn_at <= now)
			child_start(s, c);
	}
}

static int
poll_timeout(struct supervisor *s)
{
	uint64_t	now = mono_ms(), next = UINT64_MAX;
	int		i;

	if (s->watchdog_ms != 0)
		next = s->next_ping;
	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->pid == 0 && !c->retiring && !c->fatal &&
		    c->respawn_at != 0 && c->respawn_at < next)
			next = c->respawn_at;
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/*
 * The reloaded authorized_keys to the running front, which reads no file
 * (its sandbox): it cuts off the hosts whose key is gone.  A front
 * respawned later reads them from the config it is forked with.
 */
static void
send_keys(struct supervisor *s)
{
	if (s->keys_fd == -1 || s->cfg->remote.keys == NULL)
		return;
	if (authkeys_send(s->keys_fd, s->cfg->remote.keys) == -1)
		log_warn("sending authorized_keys to the front");
}

static int	make_private_dir(const char *, const char *);

static void
reload(struct supervisor *s)
{
	struct config	*cfg;
	char		 err[CONFIG_ERRLEN], *line, *next;
	int		 i;

	log_info("reloading %s", s->cfg->path);
	notify_send("RELOADING=1");
	if ((cfg = config_load(s->cfg->path, err, sizeof(err))) == NULL) {
		/* One log line per error of the file. */
		for (line = strtok_r(err, "\n", &next); line != NULL;
		    line = strtok_r(NULL, "\n", &next))
			log_warnx("reload failed, keeping the running config: "
			    "%s", line);
		notify_send("READY=1\nSTATUS=reload failed, running the "
		    "previous config");
		(void)tell_front(s, 0, NOTICE_RELOAD_ERROR, 0);
		return;
	}
	/*
	 * The front keeps running on what it read at its start: keys only it
	 * reads keep their running values (each change logged by name), so
	 * new workers still reach it and a respawned front is the same.
	 */
	config_keep_running(s->cfg, cfg);
	if (config_job_fits(cfg, err, sizeof(err)) == -1) {
		config_keep_undo(s->cfg, cfg);
		config_free(cfg);
		log_warnx("reload failed, keeping the running config: %s", err);
		notify_send("READY=1\nSTATUS=reload failed, running the "
		    "previous config");
		(void)tell_front(s, 0, NOTICE_RELOAD_ERROR, 0);
		return;
	}
	log_set_level(cfg->log_level);
	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->role != ROLE_WORKER || c->retiring)
			continue;
		c->retiring = 1;
		if (c->pid != 0)
			kill(c->pid, SIGTERM);
	}
	config_free(s->cfg);
	s->cfg = cfg;
	/* A service may have become nodes = database: its workers need it. */
	if (config_uses_database(cfg))
		(void)make_private_dir("state_dir", cfg->state_dir);
	send_keys(s);
	start_workers(s);
	log_info("reloaded: %d workers on the new config", cfg->workers);
	(void)tell_front(s, 0, NOTICE_RELOAD_OK, 0);
	notify_send("READY=1\nSTATUS=serving");
}

static int
running(struct supervisor *s, enum role role)
{
	int	i, n = 0;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].pid != 0 && s->children[i].role == role)
			n++;
	return n;
}

/* Waits (reaping) until no child of role runs, or deadline passes. */
static void
wait_role(struct supervisor *s, enum role role, uint64_t deadline)
{
	struct pollfd	pfd = { s->sigfd, POLLIN, 0 };
	struct signalfd_siginfo si;
	uint64_t	now;

	while (running(s, role) > 0 && (now = mono_ms()) < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now)) > 0)
			while (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
				;
		reap(s);
	}
}

static void
signal_role(struct supervisor *s, enum role role, int sig)
{
	int	i;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].pid != 0 && s->children[i].role == role)
			kill(s->children[i].pid, sig);
}

/* The front drains first: it needs the workers to finish its jobs. */
static void
shutdown_children(struct supervisor *s)
{
	enum role	order[2] = { ROLE_FRONT, ROLE_WORKER };
	uint64_t	limit[2] = { (uint64_t)s->cfg->shutdown_timeout_ms + 2000,
			    2000 };
	int		i;

	s->stopping = 1;
	notify_send("STOPPING=1");
	for (i = 0; i < 2; i++) {
		signal_role(s, order[i], SIGTERM);
		wait_role(s, order[i], mono_ms() + limit[i]);
		if (running(s, order[i]) > 0) {
			log_warnx("%s did not stop in time: killing",
			    order[i] == ROLE_FRONT ? "front" : "workers");
			signal_role(s, order[i], SIGKILL);
			wait_role(s, order[i], mono_ms() + 1000);
		}
	}
	if (!s->worker_host)
		remove_socket(s);
}

/* runtime_dir, state_dir: ours alone, 0700, made if missing. */
static int
make_private_dir(const char *key, const char *dir)
{
	struct stat	st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("%s %s is not a directory", key, dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("%s %s is not owned by us", key, dir);
		return -1;
	}
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) == -1) {
		log_warn("chmod %s", dir);
		return -1;
	}
	return 0;
}

static int
setup_signals(struct supervisor *s)
{
	sigset_t	mask;

	/* Blocked here, inherited blocked: each child takes its own. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if ((s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_warn("signalfd");
		return -1;
	}
	/* The front's (see front.h): blocked so it can read it. */
	sigaddset(&mask, SIG_WORKER_DIED);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1) {
		log_warn("sigprocmask");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Returns 1 when it is time to stop. */
static int
handle_signals(struct supervisor *s)
{
	struct signalfd_siginfo	si;
	int			stop = 0;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(s);
			break;
		case SIGHUP:
			reload(s);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: draining", (int)si.ssi_signo);
			stop = 1;
			break;
		}
	}
	return stop;
}

/* The front listens and a worker joined: tell systemd, once. */
static void
read_ready(struct supervisor *s)
{
	char	c;

	if (read(s->ready_fd, &c, 1) == 1 && !s->ready) {
		s->ready = 1;
		log_info("serving");
		notify_send("READY=1\nSTATUS=serving");
	}
	close(s->ready_fd);
	s->ready_fd = -1;
}

static void
watchdog(struct supervisor *s)
{
	uint64_t	now = mono_ms();

	if (s->watchdog_ms == 0 || now < s->next_ping)
		return;
	notify_send("WATCHDOG=1");
	s->next_ping = now + s->watchdog_ms / 2;
}

/*
 * A worker host (tokend --worker): every worker refused by the front (a
 * protocol version it does not speak) or failing its set-up leaves the
 * host serving nothing; it stops rather than look alive.
 */
static int
all_fatal(const struct supervisor *s)
{
	int	i, n = 0;

	for (i = 0; i < s->nchildren; i++) {
		if (s->children[i].role != ROLE_WORKER ||
		    s->children[i].retiring)
			continue;
		if (!s->children[i].fatal)
			return 0;
		n++;
	}
	return n > 0;
}

int
supervisor_main(struct config *cfg, int worker_host)
{
	struct supervisor	 s;
	struct pollfd		 pfd[2];
	struct child		*front = NULL;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.ready_fd = -1;
	s.keys_fd = -1;
	s.worker_host = worker_host;
	s.watchdog_ms = notify_watchdog_ms();
	title_init(&s);
	set_title(&s, "tokend-sup", "supervisor");
	snprintf(s.sock, sizeof(s.sock), "%s/%s", cfg->runtime_dir,
	    PROTO_ENDPOINT);
	if (setup_signals(&s) == -1 ||
	    (!worker_host && make_private_dir("runtime_dir",
	    cfg->runtime_dir) == -1))
		return 1;
	/* The workers open the database; its directory must be there. */
	if (config_uses_database(cfg) &&
	    make_private_dir("state_dir", cfg->state_dir) == -1)
		return 1;
	/* Not confined itself: it forks, and reloads config files. */
	sandbox_report(cfg);
	/* A worker host has no front: its workers connect to a remote one. */
	if (!worker_host && ((front = child_add(&s, ROLE_FRONT, 0)) == NULL ||
	    child_start(&s, front) == -1))
		return 1;
	start_workers(&s);
	if (worker_host) {
		log_info("started: %d workers of a worker host, for the front "
		    "at %s", cfg->workers, cfg->remote.connect);
		notify_send("READY=1\nSTATUS=worker host");
	} else
		log_info("started: front and %d workers", cfg->workers);
	for (;;) {
		pfd[0] = (struct pollfd){ s.sigfd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ s.ready_fd, POLLIN, 0 };
		if (poll(pfd, 2, poll_timeout(&s)) == -1 && errno != EINTR)
			fatal("poll");
		if (s.ready_fd != -1 && (pfd[1].revents & (POLLIN | POLLHUP)))
			read_ready(&s);
		watchdog(&s);
		if (handle_signals(&s))
			break;
		if (worker_host && all_fatal(&s)) {
			log_warnx("no worker of this host can run: stopping");
			shutdown_children(&s);
			config_free(s.cfg);
			return 1;
		}
		if (front != NULL && front->fatal) {
			log_warnx("the front cannot run: stopping");
			shutdown_children(&s);
			config_free(s.cfg);
			return 1;
		}
		respawn_due(&s);
	}
	shutdown_children(&s);
	log_info("stopped");
	config_free(s.cfg);
	close(s.sigfd);
	return 0;
}
