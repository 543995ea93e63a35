/*
 * pgfloor.c - the physical floor of one PostgreSQL round trip, for
 * scripts/bench --nodes postgres (docs/performance.md, "The
 * node-assignment database").
 *
 * Why: a returning user costs tokend one prepared statement, one round
 * trip (src/store/users.c); what the server and the kernel spend on a
 * round trip is paid whatever the statement is.  This program makes the
 * cheapest one there is, a prepared "SELECT 1", COUNT times in a row, the
 * way src/store/postgres.c does (PQsendQueryPrepared, poll() for the
 * answer, PQconsumeInput, PQgetResult), and prints the CPU that the client
 * (this process) and the server backend serving it spent per call, user
 * plus system time (so the kernel's share of both sides is in).  Its own
 * share of libpq work is the client's; the backend's CPU comes from
 * /proc/PID/stat of the pid PQbackendPID names, so it must run on the
 * server's host (loopback or a Unix socket: the case it measures).
 *
 * Usage: pgfloor CONNINFO COUNT [SQL [PARAM...]]
 * With SQL (placeholders $1, $2, ... for the PARAMs, as text), that
 * statement is prepared and run instead of SELECT 1: the difference is
 * what the statement itself costs above the round trip.
 * Output: "key: value" lines (calls, client_us_per_call,
 * backend_us_per_call, floor_us_per_call, wall_us_per_call).
 * Built by scripts/bench_nodes.py with cc and libpq; not part of tokend.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define WARMUP	200

static void
die(PGconn *c, const char *what)
{
	fprintf(stderr, "pgfloor: %s: %s", what, c != NULL ?
	    PQerrorMessage(c) : "out of memory\n");
	exit(1);
}

/* utime + stime of a process, in clock ticks (fields 14 and 15). */
static long long
proc_ticks(int pid)
{
	char		 path[64], buf[1024], *p;
	FILE		*f;
	long long	 ut, st;
	size_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* past the command name, which may hold spaces */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lld %lld", &ut, &st) != 2)
		return -1;
	return ut + st;
}

static double
self_us(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

static double
wall_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One prepared SELECT 1, as src/store/postgres.c runs a statement. */
static int		 nparams;
static const char	*const *params;

static void
round_trip(PGconn *c)
{
	struct pollfd	 pfd = { .fd = PQsocket(c), .events = POLLIN };
	PGresult	*r;
	int		 ok = 0;

	if (!PQsendQueryPrepared(c, "floor", nparams, params, NULL, NULL,
	    0))
		die(c, "send");
	while (PQflush(c) == 1)
		;
	for (;;) {
		while (PQisBusy(c)) {
			if (poll(&pfd, 1, 10000) != 1)
				die(c, "no answer within 10 s");
			if (!PQconsumeInput(c))
				die(c, "receive");
		}
		if ((r = PQgetResult(c)) == NULL)
			break;
		if (PQresultStatus(r) == PGRES_TUPLES_OK && (params != NULL ||
		    strcmp(PQgetvalue(r, 0, 0), "1") == 0))
			ok = 1;
		PQclear(r);
	}
	if (!ok)
		die(c, "the statement failed (or SELECT 1 did not answer "
		    "1)\n");
}

int
main(int argc, char **argv)
{
	PGconn		*c;
	PGresult	*r;
	long long	 t0, t1, hz = sysconf(_SC_CLK_TCK);
	double		 c0, c1, w0, w1, client, backend;
	long		 i, n;
	int		 pid;

	if (argc < 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: pgfloor CONNINFO COUNT [SQL "
		    "[PARAM...]]\n");
		return 2;
	}
	c = PQconnectdb(argv[1]);
	if (c == NULL || PQstatus(c) != CONNECTION_OK)
		die(c, "connect");
	if (argc > 3) {
		params = (const char *const *)argv + 4;
		nparams = argc - 4;
	}
	r = PQprepare(c, "floor", argc > 3 ? argv[3] : "SELECT 1", 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die(c, "prepare");
	PQclear(r);
	if (PQsetnonblocking(c, 1) != 0)
		die(c, "nonblocking");
	pid = PQbackendPID(c);
	for (i = 0; i < WARMUP; i++)
		round_trip(c);
	if ((t0 = proc_ticks(pid)) < 0) {
		fprintf(stderr, "pgfloor: cannot read /proc/%d/stat: the "
		    "server must run on this host\n", pid);
		return 1;
	}
	c0 = self_us();
	w0 = wall_us();
	for (i = 0; i < n; i++)
		round_trip(c);
	w1 = wall_us();
	c1 = self_us();
	t1 = proc_ticks(pid);
	PQfinish(c);
	client = (c1 - c0) / n;
	backend = (t1 - t0) * 1e6 / hz / n;
	printf("calls: %ld\nclient_us_per_call: %.1f\n"
	    "backend_us_per_call: %.1f\nfloor_us_per_call: %.1f\n"
	    "wall_us_per_call: %.1f\n", n, client, backend, client + backend,
	    (w1 - w0) / n);
	return 0;
}
