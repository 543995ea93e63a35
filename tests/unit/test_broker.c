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
 * identity gets its jobs back at once.  Every wait has a deadline; nothing
 * sleeps for a fixed time to let things happen.
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
#include "config.h"
#include "pool/protocol.h"

#define NJOBS		16
#define DEADLINE_MS	3000

struct fix {
	char		 dir[64];
	char		 assertion[NJOBS][16];	/* "job-N": names the job */
	struct config	 cfg;
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
fix_new(int queue_limit, int request_timeout_ms, int credit)
{
	struct fix	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tkd-broker.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->cfg.runtime_dir = f->dir;
	f->cfg.queue_limit = queue_limit;
	f->cfg.request_timeout_ms = request_timeout_ms;
	f->cfg.heartbeat_ms = 1000;
	f->cfg.heartbeat_liveness = 3;
	f->cfg.worker_credit = credit;
	f->cfg.workers = 2;
	cur = f;
	assert_non_null(f->b = broker_new(&f->cfg, on_done));
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

static void
fix_free(struct fix *f)
{
	char	path[128];

	broker_stop(f->b);
	broker_free(f->b);
	zmq_ctx_term(f->ctx);
	snprintf(path, sizeof(path), "%s/%s", f->dir, PROTO_ENDPOINT);
	unlink(path);
	rmdir(f->dir);
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
 * Connects a worker socket (with routing identity ident, or ZeroMQ's
 * anonymous one when NULL) and sends its READY; does not wait for it.
 */
static void *
worker_open(struct fix *f, const char *ident, int pid, int credit)
{
	char	endpoint[128], spid[16], scredit[16];
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
	snprintf(spid, sizeof(spid), "%d", pid);
	snprintf(scredit, sizeof(scredit), "%d", credit);
	struct proto_field fl[] = {
		PROTO_FIELD_STR("pid", spid),
		PROTO_FIELD_STR("credit", scredit),
		PROTO_FIELD_STR("worker", "1"),
	};

	assert_int_equal(proto_send(s, NULL, 0, PROTO_READY, fl, 3), 0);
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
	const char		*why, *a;
	const void		*id;
	size_t			 len, alen;
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
			a = proto_get(&m, "assertion", &alen);
			assert_true(a != NULL && alen > 4 &&
			    memcmp(a, "job-", 4) == 0);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
