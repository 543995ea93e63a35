/*
 * test_broker.c - the front's side of the pool (src/pool/broker.c), driven the
 * way front.c drives it, against workers that speak the real protocol.
 *
 * The broker binds its real ROUTER at ipc://DIR/worker.sock in a fresh
 * temporary directory; each "worker" is a DEALER socket in this process
 * that says READY with a pid and a credit, takes JOBs and answers (or
 * vanishes, and the test tells the broker as the supervisor would).  The
 * tests check what the pool promises: no worker holds more than its
 * credit, queue_limit bounds only what no worker has room for, a job is
 * completed exactly once (reply, timeout or unavailable), a job that kills
 * every worker it reaches is given up while its neighbours are answered,
 * a worker that says BYE gives its jobs back without blame, a job over the
 * frame limit is failed without being sent, kind reaches the worker only
 * when the front set it, and a worker that reconnects under its routing
 * identity gets its jobs back at once.  Version 2's negotiation: READY is
 * answered with WELCOME and the broker's terms, a version-1 worker (its
 * READY built frame by frame, as a version-1 worker sends it) or one of
 * versions the broker does not speak gets a REFUSE it can read, a worker
 * the broker does not know is told to RESYNC; PROGRESS keeps a slow job
 * from being taken for a hung worker, up to request_timeout, while a
 * silent one (heartbeats or not) is still taken for hung.  Every wait has
 * a deadline; nothing sleeps for a fixed time to let things happen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "pool/broker.h"
#include "core/clock.h"
#include "pool/protocol.h"
#include "testutil.h"

#define NJOBS		16
#define DEADLINE_MS	3000

struct fix {
	char		 dir[64];
	char		 assertion[NJOBS][16];	/* "job-N": names the job */
	struct broker_settings set;
	struct broker	*b;
	void		*ctx;		/* the workers' */
	struct job	 jobs[NJOBS];
	int		 done[NJOBS];	/* times done() was called */
};

static struct fix	*cur;		/* done() has no user pointer */

static void
on_done(struct job *job)
{
	cur->done[job - cur->jobs]++;
}

static struct fix *
fix_new_hb(int queue_limit, int request_timeout_ms, int credit, int hb_ms)
{
	struct fix	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(tu_tmpdir(f->dir, sizeof(f->dir), "broker"));
	f->set.runtime_dir = f->dir;
	f->set.queue_limit = queue_limit;
	f->set.request_timeout_ms = request_timeout_ms;
	f->set.heartbeat_ms = hb_ms;
	f->set.heartbeat_liveness = 3;
	f->set.credit = credit;
	cur = f;
	assert_non_null(f->b = broker_new(&f->set, on_done));
	assert_non_null(f->ctx = zmq_ctx_new());
	for (int i = 0; i < NJOBS; i++) {
		snprintf(f->assertion[i], sizeof(f->assertion[i]), "job-%d", i);
		f->jobs[i] = (struct job){ .fields = {
		    PROTO_FIELD_STR("service", "sync-1.5"),
		    PROTO_FIELD_STR("assertion", f->assertion[i]) },
		    .nfields = 2, .owner = f };
	}
	return f;
}

static struct fix *
fix_new(int queue_limit, int request_timeout_ms, int credit)
{
	return fix_new_hb(queue_limit, request_timeout_ms, credit, 1000);
}

static void
fix_free(struct fix *f)
{
	broker_stop(f->b);
	broker_free(f->b);
	zmq_ctx_term(f->ctx);
	tu_rmtree(f->dir);
	free(f);
}

/* One turn of front.c's loop, broker side: wait a little, read, tick. */
static void
turn(struct fix *f, long ms)
{
	zmq_pollitem_t	it = { broker_socket(f->b), 0, ZMQ_POLLIN, 0 };

	zmq_poll(&it, 1, ms);
	broker_read(f->b, mono_ms());
	broker_tick(f->b, mono_ms());
}

/*
 * A DEALER connected to the broker, under routing identity ident (or
 * ZeroMQ's anonymous one when NULL); nothing sent.
 */
static void *
peer_open(struct fix *f, const char *ident)
{
	char	endpoint[128];
	void	*s = zmq_socket(f->ctx, ZMQ_DEALER);
	int	 zero = 0;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (ident != NULL)
		assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, ident,
		    strlen(ident)), 0);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/%s", f->dir,
	    PROTO_ENDPOINT);
	assert_int_equal(zmq_connect(s, endpoint), 0);
	return s;
}

/*
 * Connects a worker socket (with routing identity ident, or ZeroMQ's
 * anonymous one when NULL) and sends its READY; does not wait for it.
 */
static void *
worker_open(struct fix *f, const char *ident, int pid, int credit)
{
	char	spid[16], scredit[16];
	void	*s = peer_open(f, ident);

	snprintf(spid, sizeof(spid), "%d", pid);
	snprintf(scredit, sizeof(scredit), "%d", credit);
	struct proto_field fl[] = {
		PROTO_FIELD_STR("versions", "2"),
		PROTO_FIELD_STR("pid", spid),
		PROTO_FIELD_STR("credit", scredit),
		PROTO_FIELD_STR("worker", "1"),
	};

	assert_int_equal(proto_send(s, NULL, 0, PROTO_READY, fl, 4), 0);
	return s;
}

/* A new worker, once the broker has registered it. */
static void *
worker_new(struct fix *f, int pid, int credit)
{
	int		 before = broker_workers(f->b);
	uint64_t	 end = mono_ms() + DEADLINE_MS;
	void		*s = worker_open(f, NULL, pid, credit);

	while (broker_workers(f->b) == before && mono_ms() < end)
		turn(f, 5);
	assert_int_equal(broker_workers(f->b), before + 1);
	return s;
}

/* A JOB as a worker sees it: the opaque id, and which test job it is. */
struct got {
	uint8_t	id[PROTO_JOB_ID_LEN];
	int	index;
	int	has_kind;	/* the JOB carried a kind field */
	char	kind[16];
};

/*
 * The next JOB this worker got, while the broker's loop keeps turning;
 * 0, or -1 if none came within ms.
 */
static int
worker_job(struct fix *f, void *s, long ms, struct got *g)
{
	struct proto_msg	 m;
	const char		*why;
	char			 a[16];
	const void		*id;
	size_t			 len;
	uint64_t		 end = mono_ms() + (uint64_t)ms;

	do {
		turn(f, 2);
		while (proto_recv(s, 0, 1, &m, &why) == 0) {
			if (m.cmd != PROTO_JOB) {
				proto_msg_close(&m);
				continue;
			}
			id = proto_get(&m, "job", &len);
			assert_int_equal(len, PROTO_JOB_ID_LEN);
			memcpy(g->id, id, len);
			/* A copy: the value is not NUL-terminated. */
			assert_int_equal(proto_get_str(&m, "assertion", a,
			    sizeof(a)), 0);
			assert_memory_equal(a, "job-", 4);
			g->index = atoi(a + 4);
			g->has_kind = proto_get(&m, "kind", &len) != NULL;
			if (proto_get_str(&m, "kind", g->kind,
			    sizeof(g->kind)) == -1)
				g->kind[0] = '\0';
			proto_msg_close(&m);
			return 0;
		}
	} while (mono_ms() < end);
	return -1;
}

static void
worker_reply(void *s, const struct got *g)
{
	struct proto_field fl[] = {
		PROTO_FIELD("job", g->id, PROTO_JOB_ID_LEN),
		PROTO_FIELD_STR("id", "token"),
		PROTO_FIELD_STR("key", "key"),
		PROTO_FIELD_STR("uid", "42"),
		PROTO_FIELD_STR("api_endpoint", "https://node"),
		PROTO_FIELD_STR("duration", "1800"),
		PROTO_FIELD_STR("expires", "1800000000"),
		PROTO_FIELD_STR("hashalg", "sha256"),
	};
	assert_int_equal(proto_send(s, NULL, 0, PROTO_REPLY, fl, 8), 0);
}

/* Turns the loop until every job in [0, n) is done, or the deadline. */
static void
until_done(struct fix *f, int n)
{
	uint64_t	end = mono_ms() + DEADLINE_MS;
	int		i, all;

	do {
		turn(f, 2);
		for (i = 0, all = 1; i < n; i++)
			all &= f->done[i] > 0;
	} while (!all && mono_ms() < end);
}

static void
close_reply(struct job *j)
{
	if (j->outcome == JOB_REPLIED)
		proto_msg_close(&j->reply);
}

/*
 * The next message of command cmd this socket got (others are skipped),
 * while the broker's loop keeps turning; 0, or -1 if none came within ms.
 * The caller closes m.
 */
static int
worker_expect(struct fix *f, void *s, int cmd, long ms, struct proto_msg *m)
{
	const char	*why;
	uint64_t	 end = mono_ms() + (uint64_t)ms;

	do {
		turn(f, 2);
		while (proto_recv(s, 0, 1, m, &why) == 0) {
			if (m->cmd == cmd)
				return 0;
			proto_msg_close(m);
		}
	} while (mono_ms() < end);
	return -1;
}

/*
 * Sends a version-1 message frame by frame, as a version-1 worker does:
 * the header {1, cmd}, then NULL-terminated key, value strings.
 */
static void
send_v1(void *s, int cmd, ...)
{
	uint8_t		 hdr[2] = { 1, (uint8_t)cmd };
	const char	*k, *v;
	va_list		 ap;

	va_start(ap, cmd);
	k = va_arg(ap, const char *);
	assert_int_equal(zmq_send(s, hdr, 2, k != NULL ? ZMQ_SNDMORE : 0), 2);
	while (k != NULL) {
		v = va_arg(ap, const char *);
		assert_int_equal(zmq_send(s, k, strlen(k), ZMQ_SNDMORE),
		    (int)strlen(k));
		k = va_arg(ap, const char *);
		assert_int_equal(zmq_send(s, v, strlen(v),
		    k != NULL ? ZMQ_SNDMORE : 0), (int)strlen(v));
	}
	va_end(ap);
}

/*
 * A version-1 message as a version-1 worker parses it: the frames, as
 * NUL-terminated strings in fr (cut at 255 bytes, up to 8 frames); returns
 * how many, or -1 if nothing came within ms.
 */
static int
recv_v1(struct fix *f, void *s, long ms, char fr[][256])
{
	uint64_t	 end = mono_ms() + (uint64_t)ms;
	int		 n = 0, more = 1, len;
	size_t		 morelen = sizeof(more);

	do {
		turn(f, 2);
		if ((len = zmq_recv(s, fr[0], 255, ZMQ_DONTWAIT)) >= 0)
			break;
	} while (mono_ms() < end);
	if (len < 0)
		return -1;
	fr[n++][len > 255 ? 255 : len] = '\0';
	while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &morelen) == 0 && more &&
	    n < 8) {
		len = zmq_recv(s, fr[n], 255, 0);
		assert_true(len >= 0);
		fr[n++][len > 255 ? 255 : len] = '\0';
	}
	return n;
}

/*
 * Sends PROGRESS about job id (or a HEARTBEAT when id is NULL) every
 * every_ms while the broker's loop turns, until ms have passed or the
 * broker no longer knows as many workers as at the start; returns the
 * milliseconds that passed.
 */
static uint64_t
keep_sending(struct fix *f, void *s, const uint8_t *id, long every_ms,
    long ms)
{
	struct proto_field	 job = PROTO_FIELD("job", id, PROTO_JOB_ID_LEN);
	int			 known = broker_workers(f->b);
	uint64_t		 t0, next;

	for (t0 = next = mono_ms(); broker_workers(f->b) == known &&
	    mono_ms() - t0 < (uint64_t)ms; turn(f, 5)) {
		if (mono_ms() < next)
			continue;
		assert_int_equal(proto_send(s, NULL, 0, id != NULL ?
		    PROTO_PROGRESS : PROTO_HEARTBEAT, &job, id != NULL), 0);
		next += (uint64_t)every_ms;
	}
	return mono_ms() - t0;
}

/* Says READY (version 2, no pid) and waits for the WELCOME. */
static void
ready_welcomed(struct fix *f, void *s)
{
	struct proto_msg	m;

	assert_int_equal(proto_send(s, NULL, 0, PROTO_READY,
	    (struct proto_field[]){ PROTO_FIELD_STR("versions", "2") }, 1), 0);
	assert_int_equal(worker_expect(f, s, PROTO_WELCOME, DEADLINE_MS, &m),
	    0);
	proto_msg_close(&m);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_credit_bounds_what_a_worker_holds(void **state)
{
	struct fix	*f = fix_new(100, 5000, 2);
	struct got	 got[NJOBS], none;
	void		*w;
	int		 n = 0, i;

	for (i = 0; i < 5; i++)
		assert_int_equal(broker_submit(f->b, &f->jobs[i], mono_ms()), 0);
	w = worker_new(f, 1001, 2);
	/* Credit 2: two JOBs, in order, then nothing until a REPLY. */
	while (n < 2 && worker_job(f, w, DEADLINE_MS, &got[n]) == 0)
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(worker_job(f, w, 100, &none), -1);
	while (n < 5) {
		worker_reply(w, &got[n - 2]);
		assert_int_equal(worker_job(f, w, DEADLINE_MS, &got[n]), 0);
		n++;
		assert_int_equal(worker_job(f, w, 20, &none), -1);
	}
	for (i = 0; i < 5; i++)
		assert_int_equal(got[i].index, i);
	worker_reply(w, &got[3]);
	worker_reply(w, &got[4]);
	until_done(f, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(f->done[i], 1);
		assert_int_equal(f->jobs[i].outcome, JOB_REPLIED);
		assert_int_equal(f->jobs[i].worker_pid, 1001);
		close_reply(&f->jobs[i]);
	}
	assert_int_equal(broker_inflight(f->b), 0);
	zmq_close(w);
	fix_free(f);
}

static void
test_queue_limit_counts_only_jobs_without_room(void **state)
{
	struct fix	*f = fix_new(2, 5000, 3);
	void		*w = worker_new(f, 1002, 3);
	int		 i;

	/* Three fit in the worker's credit, two in the queue. */
	for (i = 0; i < 5; i++)
		assert_int_equal(broker_submit(f->b, &f->jobs[i], mono_ms()), 0);
	assert_int_equal(broker_submit(f->b, &f->jobs[5], mono_ms()), -1);
	assert_int_equal(broker_inflight(f->b), 5);
	broker_stop(f->b);
	for (i = 0; i < 5; i++) {
		assert_int_equal(f->done[i], 1);
		assert_int_equal(f->jobs[i].outcome, JOB_UNAVAILABLE);
	}
	assert_int_equal(f->done[5], 0);
	assert_int_equal(broker_submit(f->b, &f->jobs[5], mono_ms()), -1);
	zmq_close(w);
	fix_free(f);
}

static void
test_timeout_then_late_reply_is_dropped(void **state)
{
	struct fix	*f = fix_new(10, 300, 4);
	void		*w = worker_new(f, 1003, 4);
	struct got	 g, g2;

	assert_int_equal(broker_submit(f->b, &f->jobs[0], mono_ms()), 0);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	until_done(f, 1);
	assert_int_equal(f->done[0], 1);
	assert_int_equal(f->jobs[0].outcome, JOB_TIMEOUT);
	/* The next job reuses the slot; the old id must not match it. */
	assert_int_equal(broker_submit(f->b, &f->jobs[1], mono_ms()), 0);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g2), 0);
	assert_int_equal(g2.index, 1);
	assert_memory_not_equal(g.id, g2.id, PROTO_JOB_ID_LEN);
	worker_reply(w, &g);
	for (int i = 0; i < 10; i++)
		turn(f, 5);
	assert_int_equal(f->done[0], 1);
	assert_int_equal(f->done[1], 0);
	worker_reply(w, &g2);
	until_done(f, 2);
	assert_int_equal(f->done[1], 1);
	assert_int_equal(f->jobs[1].outcome, JOB_REPLIED);
	close_reply(&f->jobs[1]);
	zmq_close(w);
	fix_free(f);
}

/*
 * Job 2 kills every worker that works on it.  The first worker held four
 * jobs: which one killed it is unknown, so none is blamed and all four go
 * on alone.  Job 2 then kills two more workers, alone each time, and is
 * given up (503); the three others are answered, and so is job 4, which
 * came after the first death and is no suspect: it is never sent to a
 * worker that holds a suspect.
 */
static void
test_killer_job_is_given_up_and_its_neighbours_answered(void **state)
{
	struct fix	*f = fix_new(10, 5000, 4);
	struct got	 g, none;
	void		*w;
	int		 i, pid = 2000, deaths = 0;

	for (i = 0; i < 4; i++)
		assert_int_equal(broker_submit(f->b, &f->jobs[i], mono_ms()), 0);
	w = worker_new(f, ++pid, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	for (;;) {
		/* It dies (on job 2, though the broker cannot know). */
		zmq_close(w);
		broker_worker_died(f->b, pid, 0);
		if (deaths++ == 0)
			assert_int_equal(broker_submit(f->b, &f->jobs[4],
			    mono_ms()), 0);
		if (f->done[2] || deaths > 5)
			break;
		w = worker_new(f, ++pid, 4);
		/* A suspect comes alone: one JOB, no other while it is held. */
		while (worker_job(f, w, DEADLINE_MS, &g) == 0 && g.index != 2) {
			assert_int_equal(worker_job(f, w, 30, &none), -1);
			worker_reply(w, &g);
		}
		assert_int_equal(g.index, 2);
		assert_int_equal(worker_job(f, w, 30, &none), -1);
	}
	/* A last worker answers job 3, alone, then job 4. */
	w = worker_new(f, ++pid, 4);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	assert_int_equal(g.index, 3);
	assert_int_equal(worker_job(f, w, 30, &none), -1);
	worker_reply(w, &g);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	assert_int_equal(g.index, 4);
	worker_reply(w, &g);
	until_done(f, 5);
	zmq_close(w);
	assert_int_equal(f->jobs[2].outcome, JOB_UNAVAILABLE);
	assert_int_equal(deaths, 3);
	for (i = 0; i < 5; i++) {
		assert_int_equal(f->done[i], 1);
		if (i != 2) {
			assert_int_equal(f->jobs[i].outcome, JOB_REPLIED);
			close_reply(&f->jobs[i]);
		}
	}
	fix_free(f);
}

/* BYE gives the jobs back unblamed: the next worker takes them together. */
static void
test_bye_gives_jobs_back_without_blame(void **state)
{
	struct fix	*f = fix_new(10, 5000, 4);
	struct got	 g;
	void		*a, *b;
	int		 i, n;

	for (i = 0; i < 3; i++)
		assert_int_equal(broker_submit(f->b, &f->jobs[i], mono_ms()), 0);
	a = worker_new(f, 3001, 4);
	for (i = 0; i < 3; i++)
		assert_int_equal(worker_job(f, a, DEADLINE_MS, &g), 0);
	assert_int_equal(proto_send(a, NULL, 0, PROTO_BYE, NULL, 0), 0);
	for (uint64_t end = mono_ms() + DEADLINE_MS;
	    broker_workers(f->b) > 0 && mono_ms() < end; )
		turn(f, 5);
	assert_int_equal(broker_workers(f->b), 0);
	b = worker_new(f, 3002, 4);
	/* All three at once and in order: none became a suspect. */
	for (n = 0; n < 3 && worker_job(f, b, DEADLINE_MS, &g) == 0; n++)
		assert_int_equal(g.index, n);
	assert_int_equal(n, 3);
	zmq_close(a);
	zmq_close(b);
	broker_stop(f->b);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f->done[i], 1);
		assert_int_equal(f->jobs[i].outcome, JOB_UNAVAILABLE);
	}
	fix_free(f);
}

/*
 * A job with a field over PROTO_MAX_VALUE would break the framing of the
 * connection it is sent on (the worker's ZMQ_MAXMSGSIZE), and then of the
 * next worker's: it is completed as a failure at once, never sent, and
 * the job behind it is not held up.
 */
static void
test_oversize_job_is_failed_not_sent(void **state)
{
	struct fix	*f = fix_new(10, 5000, 4);
	void		*w = worker_new(f, 4001, 4);
	struct got	 g, none;
	char		*big;

	assert_non_null(big = malloc(PROTO_MAX_VALUE + 1));
	memset(big, 'x', PROTO_MAX_VALUE + 1);
	memcpy(big, "job-0", 5);
	f->jobs[0].fields[1].val = big;
	f->jobs[0].fields[1].vallen = PROTO_MAX_VALUE + 1;
	assert_int_equal(broker_submit(f->b, &f->jobs[0], mono_ms()), 0);
	assert_int_equal(broker_submit(f->b, &f->jobs[1], mono_ms()), 0);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	assert_int_equal(g.index, 1);
	assert_int_equal(f->done[0], 1);
	assert_int_equal(f->jobs[0].outcome, JOB_UNAVAILABLE);
	assert_int_equal(f->jobs[0].worker_pid, 0);
	assert_int_equal(worker_job(f, w, 100, &none), -1);
	worker_reply(w, &g);
	until_done(f, 2);
	assert_int_equal(f->done[1], 1);
	assert_int_equal(f->jobs[1].outcome, JOB_REPLIED);
	close_reply(&f->jobs[1]);
	assert_int_equal(f->done[0], 1);
	assert_int_equal(broker_workers(f->b), 1);
	zmq_close(w);
	fix_free(f);
	free(big);
}

/* kind reaches the worker when the front set it, and only then. */
static void
test_fields_sent_as_the_front_set_them(void **state)
{
	struct fix	*f = fix_new(10, 5000, 4);
	void		*w = worker_new(f, 4101, 4);
	struct got	 g[3];
	int		 i;

	f->jobs[0].fields[f->jobs[0].nfields++] =
	    (struct proto_field)PROTO_FIELD_STR("kind", "jwt");
	f->jobs[2].fields[f->jobs[2].nfields++] =
	    (struct proto_field)PROTO_FIELD_STR("kind", "browserid");
	f->jobs[2].fields[f->jobs[2].nfields++] =
	    (struct proto_field)PROTO_FIELD_STR("client_state", "abcd");
	for (i = 0; i < 3; i++)
		assert_int_equal(broker_submit(f->b, &f->jobs[i], mono_ms()), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(worker_job(f, w, DEADLINE_MS, &g[i]), 0);
		assert_int_equal(g[i].index, i);
	}
	assert_true(g[0].has_kind);
	assert_string_equal(g[0].kind, "jwt");
	assert_false(g[1].has_kind);
	assert_true(g[2].has_kind);
	assert_string_equal(g[2].kind, "browserid");
	for (i = 0; i < 3; i++)
		worker_reply(w, &g[i]);
	until_done(f, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f->jobs[i].outcome, JOB_REPLIED);
		close_reply(&f->jobs[i]);
	}
	zmq_close(w);
	fix_free(f);
}

/*
 * A worker that reconnects (a new socket with the same routing identity,
 * while its old connection may not be torn down yet) and says READY is
 * recognised: the jobs it held are dispatched again at once, not after
 * heartbeat_interval x heartbeat_liveness (3 s here).  It may have lost
 * its connection to one of them, so they come back one at a time.  The
 * supervisor's death notice still finds it by pid afterwards.
 */
static void
test_reconnected_worker_gets_its_jobs_again_at_once(void **state)
{
	struct fix	*f = fix_new(10, 10000, 4);
	const char	*ident = "w-5001-test";
	struct got	 g, none;
	void		*old, *again, *other;
	uint64_t	 t0;
	int		 i;

	for (i = 0; i < 2; i++)
		assert_int_equal(broker_submit(f->b, &f->jobs[i], mono_ms()), 0);
	old = worker_open(f, ident, 5001, 4);
	for (i = 0; i < 2; i++) {
		assert_int_equal(worker_job(f, old, DEADLINE_MS, &g), 0);
		assert_int_equal(g.index, i);
	}
	t0 = mono_ms();
	again = worker_open(f, ident, 5001, 4);
	for (i = 0; i < 2; i++) {
		assert_int_equal(worker_job(f, again, 1000, &g), 0);
		assert_int_equal(g.index, i);
		assert_int_equal(worker_job(f, again, 30, &none), -1);
		worker_reply(again, &g);
	}
	until_done(f, 2);
	assert_true(mono_ms() - t0 < 1500);
	for (i = 0; i < 2; i++) {
		assert_int_equal(f->done[i], 1);
		assert_int_equal(f->jobs[i].outcome, JOB_REPLIED);
		assert_int_equal(f->jobs[i].worker_pid, 5001);
		close_reply(&f->jobs[i]);
	}
	assert_int_equal(broker_workers(f->b), 1);
	/* Known by pid still: its death hands its job to another worker. */
	assert_int_equal(broker_submit(f->b, &f->jobs[2], mono_ms()), 0);
	assert_int_equal(worker_job(f, again, DEADLINE_MS, &g), 0);
	other = worker_new(f, 5002, 4);
	broker_worker_died(f->b, 5001, 0);
	assert_int_equal(broker_workers(f->b), 1);
	assert_int_equal(worker_job(f, other, DEADLINE_MS, &g), 0);
	assert_int_equal(g.index, 2);
	worker_reply(other, &g);
	until_done(f, 3);
	assert_int_equal(f->jobs[2].outcome, JOB_REPLIED);
	assert_int_equal(f->jobs[2].worker_pid, 5002);
	close_reply(&f->jobs[2]);
	zmq_close(old);
	zmq_close(again);
	zmq_close(other);
	fix_free(f);
}

/*
 * READY is answered with WELCOME: the version chosen from those the
 * worker named, the broker's heartbeat settings, its request_timeout and
 * the credit granted (what it asked, capped by the broker's credit).
 */
static void
test_ready_is_welcomed_with_the_terms(void **state)
{
	struct fix		*f = fix_new(10, 5000, 4);
	void			*s = peer_open(f, "w-welcome");
	struct proto_msg	 m;
	long			 v;

	assert_int_equal(proto_send(s, NULL, 0, PROTO_READY,
	    (struct proto_field[]){ PROTO_FIELD_STR("versions", "1,2,3"),
	    PROTO_FIELD_STR("credit", "9") }, 2), 0);
	assert_int_equal(worker_expect(f, s, PROTO_WELCOME, DEADLINE_MS, &m),
	    0);
	assert_int_equal(proto_get_long(&m, "version", 0, 255, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(proto_get_long(&m, "heartbeat_interval", 0, 99999,
	    &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(proto_get_long(&m, "heartbeat_liveness", 0, 99, &v),
	    0);
	assert_int_equal(v, 3);
	assert_int_equal(proto_get_long(&m, "credit", 0, 99, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(proto_get_long(&m, "request_timeout", 0, 99999, &v),
	    0);
	assert_int_equal(v, 5000);
	proto_msg_close(&m);
	assert_int_equal(broker_workers(f->b), 1);
	zmq_close(s);
	fix_free(f);
}

/*
 * A version-1 worker (its READY and HEARTBEAT built frame by frame, as it
 * sends them) is refused in version 1's layout, which it can read: each
 * READY, and the first other message, get a REFUSE naming both sides'
 * versions; it is never registered.  A version 2 READY offering only
 * versions the broker does not speak is refused in version 2.
 */
static void
test_unservable_worker_is_refused_in_its_layout(void **state)
{
	struct fix		*f = fix_new(10, 5000, 4);
	void			*v1 = peer_open(f, "w-v1"), *v3;
	char			 fr[8][256];
	struct proto_msg	 m;
	char			 buf[256];

	send_v1(v1, PROTO_READY, "pid", "77", "worker", "1", "credit", "4",
	    NULL);
	assert_int_equal(recv_v1(f, v1, DEADLINE_MS, fr), 7);
	assert_memory_equal(fr[0], "\x01\x07", 2);
	assert_string_equal(fr[1], "versions");
	assert_string_equal(fr[2], "2");
	assert_string_equal(fr[3], "peer_versions");
	assert_string_equal(fr[4], "version 1 (it names no versions)");
	assert_string_equal(fr[5], "reason");
	assert_non_null(strstr(fr[6], "speaks worker protocol version 2"));
	assert_non_null(strstr(fr[6], "offered version 1"));
	/* Its heartbeats get no more REFUSEs; its next READY does. */
	send_v1(v1, PROTO_HEARTBEAT, "pid", "77", NULL);
	assert_int_equal(recv_v1(f, v1, 200, fr), -1);
	send_v1(v1, PROTO_READY, "pid", "77", NULL);
	assert_int_equal(recv_v1(f, v1, DEADLINE_MS, fr), 7);
	assert_memory_equal(fr[0], "\x01\x07", 2);
	assert_int_equal(broker_workers(f->b), 0);

	v3 = peer_open(f, "w-v3");
	assert_int_equal(proto_send(v3, NULL, 0, PROTO_READY,
	    (struct proto_field[]){ PROTO_FIELD_STR("versions", "3,4") }, 1),
	    0);
	assert_int_equal(worker_expect(f, v3, PROTO_REFUSE, DEADLINE_MS, &m),
	    0);
	assert_int_equal(proto_get_str(&m, "versions", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2");
	assert_int_equal(proto_get_str(&m, "peer_versions", buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "3,4");
	proto_msg_close(&m);
	assert_int_equal(broker_workers(f->b), 0);
	/* Nothing is dispatched to either. */
	assert_int_equal(broker_submit(f->b, &f->jobs[0], mono_ms()), 0);
	for (int i = 0; i < 20; i++)
		turn(f, 5);
	assert_int_equal(f->done[0], 0);
	zmq_close(v1);
	zmq_close(v3);
	fix_free(f);
}

/*
 * A worker the broker does not know (a restarted front, or one it took
 * for hung) is not registered by a HEARTBEAT or REPLY, as it was in
 * version 1: it is told to RESYNC, and its READY registers it.
 */
static void
test_unknown_worker_is_told_to_resync(void **state)
{
	struct fix		*f = fix_new(10, 5000, 4);
	void			*s = peer_open(f, "w-resync");
	struct proto_msg	 m;

	assert_int_equal(proto_send(s, NULL, 0, PROTO_HEARTBEAT, NULL, 0), 0);
	assert_int_equal(worker_expect(f, s, PROTO_RESYNC, DEADLINE_MS, &m),
	    0);
	proto_msg_close(&m);
	assert_int_equal(broker_workers(f->b), 0);
	ready_welcomed(f, s);
	assert_int_equal(broker_workers(f->b), 1);
	zmq_close(s);
	fix_free(f);
}

/*
 * Heartbeats of 100 ms, liveness 3: a worker holding a job for 300 ms
 * without PROGRESS is hung.  One that sends PROGRESS about its job every
 * 100 ms keeps it for three times that, hears a HEARTBEAT back for each
 * (it holds a job, so it gets no idle heartbeats), and answers it;
 * another that sends only HEARTBEATs (a live thread beside a hung one) is
 * forgotten and its job goes to another worker.
 */
static void
test_progress_keeps_a_slow_job_heartbeats_do_not(void **state)
{
	struct fix	*f = fix_new_hb(10, 5000, 1, 100);
	void		*slow = worker_new(f, 6001, 1), *other;
	struct proto_msg m;
	const char	*why;
	struct got	 g, g2;
	uint64_t	 t0, next;
	int		 beats;

	assert_int_equal(broker_submit(f->b, &f->jobs[0], mono_ms()), 0);
	assert_int_equal(worker_job(f, slow, DEADLINE_MS, &g), 0);
	assert_true(keep_sending(f, slow, g.id, 100, 1000) >= 1000);
	assert_int_equal(broker_workers(f->b), 1);
	/* Each PROGRESS was answered: it heard from the broker while busy. */
	for (beats = 0; proto_recv(slow, 0, 1, &m, &why) == 0;
	    proto_msg_close(&m))
		beats += m.cmd == PROTO_HEARTBEAT;
	assert_true(beats >= 5);
	worker_reply(slow, &g);
	until_done(f, 1);
	assert_int_equal(f->jobs[0].outcome, JOB_REPLIED);
	assert_int_equal(f->jobs[0].worker_pid, 6001);
	close_reply(&f->jobs[0]);

	/* Heartbeats alone: hung within liveness, its job elsewhere. */
	assert_int_equal(broker_submit(f->b, &f->jobs[1], mono_ms()), 0);
	assert_int_equal(worker_job(f, slow, DEADLINE_MS, &g), 0);
	other = worker_new(f, 6002, 1);
	for (t0 = next = mono_ms(); broker_workers(f->b) == 2 &&
	    mono_ms() - t0 < DEADLINE_MS; turn(f, 5)) {
		if (mono_ms() >= next) {
			assert_int_equal(proto_send(slow, NULL, 0,
			    PROTO_HEARTBEAT, NULL, 0), 0);
			assert_int_equal(proto_send(other, NULL, 0,
			    PROTO_HEARTBEAT, NULL, 0), 0);
			next += 50;
		}
	}
	assert_int_equal(broker_workers(f->b), 1);
	assert_true(mono_ms() - t0 < 1000);
	assert_int_equal(worker_job(f, other, DEADLINE_MS, &g2), 0);
	assert_int_equal(g2.index, 1);
	worker_reply(other, &g2);
	until_done(f, 2);
	assert_int_equal(f->jobs[1].outcome, JOB_REPLIED);
	assert_int_equal(f->jobs[1].worker_pid, 6002);
	close_reply(&f->jobs[1]);
	zmq_close(slow);
	zmq_close(other);
	fix_free(f);
}

/*
 * PROGRESS counts until request_timeout (600 ms) after the worker started
 * the job: a worker still at it then is hung one liveness (300 ms) later,
 * whatever it says, and PROGRESS about a job it does not hold counts for
 * nothing.
 */
static void
test_progress_counts_until_request_timeout(void **state)
{
	struct fix	*f = fix_new_hb(10, 600, 1, 100);
	void		*w = worker_new(f, 6101, 1);
	static const uint8_t bogus[PROTO_JOB_ID_LEN] = { 0 };
	struct got	 g;
	uint64_t	 gone;

	assert_int_equal(broker_submit(f->b, &f->jobs[0], mono_ms()), 0);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	gone = keep_sending(f, w, g.id, 50, DEADLINE_MS);
	assert_int_equal(broker_workers(f->b), 0);
	assert_true(gone >= 600 && gone < 600 + 300 + 500);
	assert_int_equal(f->jobs[0].outcome, JOB_TIMEOUT);

	/* Progress about a job it does not hold: hung as if silent. */
	w = (zmq_close(w), worker_new(f, 6102, 1));
	assert_int_equal(broker_submit(f->b, &f->jobs[1], mono_ms()), 0);
	assert_int_equal(worker_job(f, w, DEADLINE_MS, &g), 0);
	assert_true(keep_sending(f, w, bogus, 50, DEADLINE_MS) < 300 + 300);
	assert_int_equal(broker_workers(f->b), 0);
	zmq_close(w);
	fix_free(f);
}

/*
 * Death notices name a pid; the broker knows workers by identity and maps
 * the pid through their READY.  A worker whose READY named no pid (a
 * remote one) is never taken for another's death.
 */
static void
test_death_notice_maps_pid_to_identity(void **state)
{
	struct fix		*f = fix_new(10, 5000, 4);
	void			*anon = peer_open(f, "w-remote"), *local;
	struct proto_msg	 m;

	ready_welcomed(f, anon);
	local = worker_open(f, "w-local", 7001, 4);
	assert_int_equal(worker_expect(f, local, PROTO_WELCOME, DEADLINE_MS,
	    &m), 0);
	proto_msg_close(&m);
	assert_int_equal(broker_workers(f->b), 2);
	broker_worker_died(f->b, 0, 0);
	broker_worker_died(f->b, 7002, 0);
	assert_int_equal(broker_workers(f->b), 2);
	broker_worker_died(f->b, 7001, 0);
	assert_int_equal(broker_workers(f->b), 1);
	/* The one left is the remote one: its heartbeat needs no RESYNC. */
	assert_int_equal(proto_send(anon, NULL, 0, PROTO_HEARTBEAT, NULL, 0),
	    0);
	assert_int_equal(worker_expect(f, anon, PROTO_RESYNC, 200, &m), -1);
	assert_int_equal(proto_send(local, NULL, 0, PROTO_HEARTBEAT, NULL, 0),
	    0);
	assert_int_equal(worker_expect(f, local, PROTO_RESYNC, DEADLINE_MS,
	    &m), 0);
	proto_msg_close(&m);
	zmq_close(anon);
	zmq_close(local);
	fix_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credit_bounds_what_a_worker_holds),
		cmocka_unit_test(test_queue_limit_counts_only_jobs_without_room),
		cmocka_unit_test(test_timeout_then_late_reply_is_dropped),
		cmocka_unit_test(
		    test_killer_job_is_given_up_and_its_neighbours_answered),
		cmocka_unit_test(test_bye_gives_jobs_back_without_blame),
		cmocka_unit_test(test_oversize_job_is_failed_not_sent),
		cmocka_unit_test(test_fields_sent_as_the_front_set_them),
		cmocka_unit_test(
		    test_reconnected_worker_gets_its_jobs_again_at_once),
		cmocka_unit_test(test_ready_is_welcomed_with_the_terms),
		cmocka_unit_test(
		    test_unservable_worker_is_refused_in_its_layout),
		cmocka_unit_test(test_unknown_worker_is_told_to_resync),
		cmocka_unit_test(
		    test_progress_keeps_a_slow_job_heartbeats_do_not),
		cmocka_unit_test(test_progress_counts_until_request_timeout),
		cmocka_unit_test(test_death_notice_maps_pid_to_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
