/*
 * test_sandbox.c - what the front's and a worker's confinement refuses,
 * and what it still lets through (src/core/sandbox.c).
 *
 * Each case forks a child that confines itself as its role would
 * (sandbox_restrict, then sandbox_lock) and then tries things: a refused
 * call must fail with EPERM (seccomp) or EACCES (Landlock, where the
 * kernel has it), exec must kill the child with SIGSYS, and what the role
 * needs (accepting a client, reading its key file, connecting to its
 * port) must still work.  The child reports the first check that failed
 * on stderr and exits 1; the parent asserts a clean exit, or SIGSYS.
 *
 * Sanitizer builds let open() through to Landlock (core/sandbox.c says
 * why): there a refused open is EACCES, and without Landlock it is not
 * refused at all, so those checks are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sandbox.h"
#include "testutil.h"

static char	tmp[256];
static int	landlock;	/* the kernel's ABI, 0: none */

/* In the child: a failed check ends it, saying which. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "child: %s:%d: %s (errno %d: %s)\n",	\
		    __FILE__, __LINE__, #c, errno, strerror(errno));	\
		_exit(1);						\
	}								\
} while (0)

/* A call refused by seccomp, or by Landlock where it decides. */
#define REFUSED(call)	((call) == -1 && (errno == EPERM || errno == EACCES))

/* Whether an open() refusal can be seen in this build on this kernel. */
static int
opens_refused(void)
{
	return !sandbox_sanitized() || landlock > 0;
}

static int
setup(void **state)
{
	(void)state;
	landlock = sandbox_landlock_abi();
	if (tu_tmpdir(tmp, sizeof(tmp), "sandbox") == NULL)
		return -1;
	tu_write_file(tmp, "secret", "the service secret\n", 0600);
	tu_write_file(tmp, "keys.jwks", "{\"keys\": []}\n", 0644);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tu_rmtree(tmp);
}

/* A TCP socket listening on 127.0.0.1, its port in *port. */
static int
tcp_listener(uint16_t *port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct sockaddr_in
loopback(uint16_t port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	return sin;
}

static int
connect_to(int fd, uint16_t port)
{
	struct sockaddr_in	sin = loopback(port);

	return connect(fd, (struct sockaddr *)&sin, sizeof(sin));
}

/* In the child: confine it as r says, both steps. */
static void
confine(const struct sandbox_rules *r)
{
	CHECK(sandbox_restrict(r) == landlock);
	CHECK(sandbox_lock(r) == 0);
}

/* Forks; the child runs fn(arg) and exits 0.  Returns its wait status. */
static int
in_child(void (*fn)(void *), void *arg)
{
	pid_t	pid;
	int	status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
assert_clean_exit(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
assert_killed_by_sigsys(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* ---- the front ------------------------------------------------------- */

static void
front_rules(struct sandbox_rules *r)
{
	sandbox_rules_init(r, SANDBOX_FRONT);
	r->sockdir = strdup(tmp);
	assert_non_null(r->sockdir);
}

struct front_case {
	int		 listener;	/* made before the filter: accepts */
	uint16_t	 port;		/* a listener elsewhere, to connect to */
	int		 unix_fd;	/* a socketpair end: still works */
};

static void
front_tries(void *arg)
{
	struct front_case	*c = arg;
	struct sandbox_rules	 r;
	char			 buf[4];
	int			 fd, s, one = 1;

	front_rules(&r);
	/* Made by set-up, before the filter, as the front's are. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	confine(&r);
	/* Files: the secret next door, or a new one. */
	if (opens_refused()) {
		CHECK(REFUSED(open(tu_path(tmp, "secret"), O_RDONLY)));
		CHECK(REFUSED(open(tu_path(tmp, "new"), O_WRONLY | O_CREAT,
		    0600)));
		CHECK(!sandbox_sanitized() ? errno == EPERM : 1);
	}
	CHECK(REFUSED(unlink(tu_path(tmp, "secret"))));
	CHECK(access(tu_path(tmp, "secret"), F_OK) == 0);
	/* The network: no new IP socket, no connect, no new listener. */
	CHECK(socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPERM);
	CHECK(socket(AF_INET6, SOCK_DGRAM, 0) == -1 && errno == EPERM);
	CHECK(socket(AF_PACKET, SOCK_RAW, 0) == -1 && errno == EPERM);
	CHECK(connect_to(s, c->port) == -1 && errno == EPERM);
	CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == 0);
	CHECK(listen(s, 1) == -1 && errno == EPERM);
	/* Another process's memory: the parent stands in for a worker. */
	if (opens_refused())	/* sanitized: Landlock's scope refuses */
		CHECK(REFUSED(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL)));
	CHECK(process_vm_readv(getppid(), &(struct iovec){ buf, 1 }, 1,
	    &(struct iovec){ buf, 1 }, 1, 0) == -1 && errno == EPERM);
	/* What it needs: ZeroMQ's AF_UNIX sockets, accepting clients. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	close(fd);
	CHECK(write(c->unix_fd, "ok", 2) == 2);
	CHECK((fd = accept(c->listener, NULL, NULL)) >= 0);
	CHECK(read(fd, buf, 2) == 2 && memcmp(buf, "hi", 2) == 0);
	close(fd);
	sandbox_rules_clear(&r);
}

static void
front_refuses_files_network_and_others(void **state)
{
	struct front_case	c;
	int			other, client, pair[2], status;
	pid_t			pid;
	char			buf[2];

	(void)state;
	c.listener = tcp_listener(&(uint16_t){ 0 });
	other = tcp_listener(&c.port);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	c.unix_fd = pair[1];
	/* A client for the front to accept, waiting in the backlog. */
	{
		struct sockaddr_in	sin;
		socklen_t		len = sizeof(sin);

		assert_int_equal(getsockname(c.listener,
		    (struct sockaddr *)&sin, &len), 0);
		client = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect_to(client, ntohs(sin.sin_port)), 0);
		assert_int_equal(write(client, "hi", 2), 2);
	}
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		front_tries(&c);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_clean_exit(status);
	assert_int_equal(read(pair[0], buf, 2), 2);
	assert_int_equal(access(tu_path(tmp, "new"), F_OK), -1);
	close(client);
	close(other);
	close(c.listener);
	close(pair[0]);
	close(pair[1]);
}

static void
exec_true(void *arg)
{
	struct sandbox_rules	*r = arg;
	char *const		 argv[] = { "/bin/true", NULL };

	confine(r);
	execv("/bin/true", argv);
	CHECK(!"execv returned");
}

static void
front_exec_kills(void **state)
{
	struct sandbox_rules	r;

	(void)state;
	front_rules(&r);
	assert_killed_by_sigsys(in_child(exec_true, &r));
	sandbox_rules_clear(&r);
}

/*
 * TSYNC: a thread that existed before the filter (ZeroMQ's I/O thread,
 * in the front) is refused too.
 */
struct waiter {
	int	go[2];
	int	result;		/* errno of its open, or 0 if it opened */
};

static void *
waiting_thread(void *arg)
{
	struct waiter	*w = arg;
	char		 c;
	int		 fd;

	if (read(w->go[0], &c, 1) != 1)
		return NULL;
	fd = open(tu_path(tmp, "secret"), O_RDONLY);
	w->result = fd == -1 ? errno : 0;
	return NULL;
}

static void
front_older_thread(void *arg)
{
	struct sandbox_rules	r;
	struct waiter		w = { .result = -1 };
	pthread_t		th;

	(void)arg;
	front_rules(&r);
	CHECK(pipe(w.go) == 0);
	CHECK(pthread_create(&th, NULL, waiting_thread, &w) == 0);
	CHECK(sandbox_lock(&r) == 0);	/* seccomp only: the thread is older */
	CHECK(write(w.go[1], "g", 1) == 1);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(w.result == EPERM);
	sandbox_rules_clear(&r);
}

static void
front_filter_reaches_older_threads(void **state)
{
	(void)state;
	if (sandbox_sanitized())
		skip();		/* opens are Landlock's there: per thread */
	assert_clean_exit(in_child(front_older_thread, NULL));
}

/* ---- a worker -------------------------------------------------------- */

static void
worker_rules(struct sandbox_rules *r)
{
	sandbox_rules_init(r, SANDBOX_WORKER);
	assert_int_equal(sandbox_allow_read(r, tu_path(tmp, "keys.jwks")), 0);
}

static void
worker_tries(void *arg)
{
	struct sandbox_rules	 r;
	char			 buf[64];
	ssize_t			 n;
	int			 fd, s, one = 1;

	(void)arg;
	worker_rules(&r);
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	confine(&r);
	/* Its key file still reads. */
	CHECK((fd = open(tu_path(tmp, "keys.jwks"), O_RDONLY)) >= 0);
	CHECK((n = read(fd, buf, sizeof(buf) - 1)) > 0);
	buf[n] = '\0';
	CHECK(strcmp(buf, "{\"keys\": []}\n") == 0);
	close(fd);
	/* No file written: not its key file, not a new one. */
	if (opens_refused()) {
		CHECK(REFUSED(open(tu_path(tmp, "keys.jwks"), O_WRONLY)));
		CHECK(REFUSED(open(tu_path(tmp, "keys.jwks"), O_RDWR)));
		CHECK(REFUSED(open(tu_path(tmp, "out"), O_WRONLY | O_CREAT |
		    O_TRUNC, 0600)));
	}
	/* Appending is writing; Landlock alone lets a read-only one by. */
	if (!sandbox_sanitized())
		CHECK(open(tu_path(tmp, "keys.jwks"), O_RDONLY | O_APPEND) ==
		    -1 && errno == EPERM);
	CHECK(REFUSED(unlink(tu_path(tmp, "keys.jwks"))));
	CHECK(REFUSED(rename(tu_path(tmp, "keys.jwks"), tu_path(tmp, "x"))));
	/* Files it does not need are not read (Landlock). */
	if (landlock > 0)
		CHECK(open(tu_path(tmp, "secret"), O_RDONLY) == -1 &&
		    errno == EACCES);
	/* No listening, no IP socket without a jwks_url. */
	CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == 0);
	{
		struct sockaddr_in	sin = loopback(0);

		CHECK(bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
		    errno == EPERM);
	}
	CHECK(listen(s, 1) == -1 && errno == EPERM);
	CHECK(socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPERM);
	/* ZeroMQ's ipc to its front: AF_UNIX. */
	CHECK((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	close(fd);
	sandbox_rules_clear(&r);
}

static void
worker_refuses_writes_listening_and_other_files(void **state)
{
	(void)state;
	assert_clean_exit(in_child(worker_tries, NULL));
	assert_int_equal(access(tu_path(tmp, "out"), F_OK), -1);
	assert_int_equal(access(tu_path(tmp, "keys.jwks"), F_OK), 0);
}

static void
worker_exec_kills(void **state)
{
	struct sandbox_rules	r;

	(void)state;
	worker_rules(&r);
	assert_killed_by_sigsys(in_child(exec_true, &r));
	sandbox_rules_clear(&r);
}

/* A jwks_url worker: IP sockets, TCP connects only to its ports. */
struct fetch_case {
	uint16_t	allowed, other;
};

static void
worker_fetches(void *arg)
{
	struct fetch_case	*c = arg;
	struct sandbox_rules	 r;
	int			 s;

	worker_rules(&r);
	r.inet = 1;
	CHECK(sandbox_allow_connect(&r, c->allowed) == 0);
	confine(&r);
	CHECK((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	CHECK(connect_to(s, c->allowed) == 0);
	close(s);
	if (landlock >= 4) {
		CHECK((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
		CHECK(connect_to(s, c->other) == -1 && errno == EACCES);
		close(s);
	}
	CHECK(socket(AF_PACKET, SOCK_RAW, 0) == -1 && errno == EPERM);
	sandbox_rules_clear(&r);
}

static void
worker_connects_only_to_its_ports(void **state)
{
	struct fetch_case	c;
	int			a, b;

	(void)state;
	a = tcp_listener(&c.allowed);
	b = tcp_listener(&c.other);
	assert_clean_exit(in_child(worker_fetches, &c));
	close(a);
	close(b);
}

/* The database's place: a write directory, and only there. */
static void
worker_writes_its_dir(void *arg)
{
	struct sandbox_rules	 r;
	int			 fd;

	(void)arg;
	worker_rules(&r);
	CHECK(sandbox_allow_write(&r, tu_path(tmp, "db")) == 0);
	confine(&r);
	CHECK((fd = open(tu_path(tmp, "db/nodes.sqlite"), O_RDWR | O_CREAT,
	    0600)) >= 0);
	CHECK(write(fd, "x", 1) == 1);
	close(fd);
	CHECK(unlink(tu_path(tmp, "db/nodes.sqlite")) == 0);
	CHECK(open(tu_path(tmp, "elsewhere"), O_WRONLY | O_CREAT,
	    0600) == -1 && errno == EACCES);
	sandbox_rules_clear(&r);
}

static void
worker_writes_only_its_database_dir(void **state)
{
	(void)state;
	if (landlock == 0)
		skip();		/* writes are then confined by nothing */
	assert_int_equal(mkdir(tu_path(tmp, "db"), 0700), 0);
	assert_clean_exit(in_child(worker_writes_its_dir, NULL));
	assert_int_equal(access(tu_path(tmp, "elsewhere"), F_OK), -1);
	assert_int_equal(rmdir(tu_path(tmp, "db")), 0);
}

/* ---- the rules ------------------------------------------------------- */

static void
rules_keep_one_copy_of_each(void **state)
{
	struct sandbox_rules	r;
	char			path[32];
	int			i;

	(void)state;
	sandbox_rules_init(&r, SANDBOX_WORKER);
	snprintf(path, sizeof(path), "/etc/hosts");
	assert_int_equal(sandbox_allow_read(&r, path), 0);
	path[0] = 'X';		/* the rules hold a copy */
	assert_int_equal(sandbox_allow_read(&r, "/etc/hosts"), 0);
	assert_int_equal(r.nread, 1);
	assert_string_equal(r.read[0], "/etc/hosts");
	assert_int_equal(sandbox_allow_connect(&r, 443), 0);
	assert_int_equal(sandbox_allow_connect(&r, 443), 0);
	assert_int_equal(r.nconnect, 1);
	for (i = 0; i < SANDBOX_MAX_PORTS - 1; i++)
		assert_int_equal(sandbox_allow_connect(&r, (uint16_t)(i + 1)),
		    0);
	assert_int_equal(sandbox_allow_connect(&r, 9999), -1);
	sandbox_rules_clear(&r);
	assert_int_equal(r.nread, 0);
	assert_int_equal(r.role, SANDBOX_WORKER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(front_refuses_files_network_and_others),
		cmocka_unit_test(front_exec_kills),
		cmocka_unit_test(front_filter_reaches_older_threads),
		cmocka_unit_test(worker_refuses_writes_listening_and_other_files),
		cmocka_unit_test(worker_exec_kills),
		cmocka_unit_test(worker_connects_only_to_its_ports),
		cmocka_unit_test(worker_writes_only_its_database_dir),
		cmocka_unit_test(rules_keep_one_copy_of_each),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
