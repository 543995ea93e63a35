/*
 * broker.c - the front's ZeroMQ thread, after the ZeroMQ guide's
 * load-balancing broker.
 *
 * Sockets (all owned by this thread except the PUSH ones):
 *   jobs    PULL, inproc, bound here.  Each HTTP thread has its own PUSH
 *           (sockets are not thread-safe) and sends a struct job pointer.
 *   workers ROUTER, ipc://RUNTIME_DIR/worker.sock, ROUTER_MANDATORY so a
 *           send to a vanished worker fails instead of vanishing.
 *
 * A job sits in a slot from submit to done.  Slots are found again from a
 * reply by an 8-byte job id (slot index, generation), so a late reply to a
 * job that already timed out, or was re-dispatched, can never complete the
 * wrong request.  Every job has the same timeout, so the deadline list is
 * simply the slots in submission order.
 *
 * Workers say READY and are kept on an idle stack (the most recently idle
 * worker first: its caches are warm).  A worker is given one job at a time.
 * A worker that goes silent past heartbeat_liveness intervals is forgotten;
 * if it held a job, the job is dispatched once more to another worker.  A
 * worker that dies is known sooner: the supervisor reaps it and tells the
 * front, whose main thread passes the pid down a pipe (broker_worker_died).
 */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "config.h"
#include "log.h"

#define JOBS_ENDPOINT	"inproc://tokend-jobs"
#define MAX_WORKERS	1024
#define MAX_PUSH	256	/* HTTP threads that may submit */
#define MAX_ATTEMPTS	2	/* a job is dispatched at most twice */
#define DRAIN_BATCH	64	/* messages read per socket per loop turn */
#define IDENT_MAX	32

struct slot {
	struct job	*job;		/* NULL when free */
	uint32_t	 gen;		/* bumped when freed */
	int		 worker;	/* index, or -1 when queued */
	int		 attempts;
	uint64_t	 deadline;	/* mono ms */
	int		 prev, next;	/* live list, submission order */
	int		 free_next;
};

enum wstate { W_UNUSED, W_IDLE, W_BUSY };

struct wrk {
	enum wstate	 state;
	uint8_t		 id[IDENT_MAX];
	size_t		 idlen;
	pid_t		 pid;
	uint64_t	 seen;		/* mono ms of its last message */
	uint64_t	 since;		/* mono ms it took its job */
	int		 slot;		/* job held when W_BUSY */
	uint32_t	 gen;
};

struct broker {
	const struct config	*cfg;
	job_done_fn		 done;
	void			*ctx;
	void			*pull;
	void			*router;
	pthread_t		 thread;
	atomic_int		 stop;		/* the thread: leave the loop */
	atomic_int		 closed;	/* submit: refuse new jobs */
	atomic_int		 submitting;	/* submits under way */
	atomic_int		 inflight;
	atomic_int		 known;		/* workers registered */
	int			 died[2];	/* pipe of dead worker pids */
	int			 limit;		/* slots */

	/* Owned by the broker thread. */
	struct slot		*slots;
	int			 free_head;
	int			 live_head, live_tail;
	int			*queue;		/* ring of slot indices */
	int			 qhead, qlen;
	struct wrk		 workers[MAX_WORKERS];
	int			 nworkers;	/* high-water index */
	int			 idle[MAX_WORKERS];
	int			 nidle;
	uint64_t		 next_beat;

	/* HTTP threads' PUSH sockets, closed at stop. */
	pthread_mutex_t		 push_mtx;
	void			*push[MAX_PUSH];
	int			 npush;
};

static _Thread_local void	*tls_push;
static _Thread_local struct broker *tls_push_owner;

/* ---- slots ------------------------------------------------------------ */

static int
slot_alloc(struct broker *b, struct job *job, uint64_t now)
{
	struct slot	*s;
	int		 i = b->free_head;

	if (i == -1)
		return -1;
	s = &b->slots[i];
	b->free_head = s->free_next;
	s->job = job;
	s->worker = -1;
	s->attempts = 0;
	s->deadline = now + (uint64_t)b->cfg->request_timeout_ms;
	s->next = -1;
	s->prev = b->live_tail;
	if (b->live_tail != -1)
		b->slots[b->live_tail].next = i;
	else
		b->live_head = i;
	b->live_tail = i;
	return i;
}

static void
slot_release(struct broker *b, int i)
{
	struct slot	*s = &b->slots[i];

	if (s->prev != -1)
		b->slots[s->prev].next = s->next;
	else
		b->live_head = s->next;
	if (s->next != -1)
		b->slots[s->next].prev = s->prev;
	else
		b->live_tail = s->prev;
	s->job = NULL;
	s->gen++;
	s->free_next = b->free_head;
	b->free_head = i;
}

/* Hands the job back to the front; the slot is free afterwards. */
static void
complete(struct broker *b, int i, enum job_outcome outcome)
{
	struct job	*job = b->slots[i].job;

	job->outcome = outcome;
	slot_release(b, i);
	atomic_fetch_sub(&b->inflight, 1);
	b->done(job);
}

static void
queue_push(struct broker *b, int i, int front)
{
	if (front) {
		b->qhead = (b->qhead + b->limit - 1) % b->limit;
		b->queue[b->qhead] = i;
	} else
		b->queue[(b->qhead + b->qlen) % b->limit] = i;
	b->qlen++;
}

static int
queue_pop(struct broker *b)
{
	int	i;

	/* Timed-out jobs leave their index behind: skip freed slots. */
	while (b->qlen > 0) {
		i = b->queue[b->qhead];
		b->qhead = (b->qhead + 1) % b->limit;
		b->qlen--;
		if (b->slots[i].job != NULL && b->slots[i].worker == -1)
			return i;
	}
	return -1;
}

/* ---- workers ---------------------------------------------------------- */

static int
worker_find(struct broker *b, const void *id, size_t len)
{
	int	i;

	for (i = 0; i < b->nworkers; i++)
		if (b->workers[i].state != W_UNUSED &&
		    b->workers[i].idlen == len &&
		    memcmp(b->workers[i].id, id, len) == 0)
			return i;
	return -1;
}

static void
idle_remove(struct broker *b, int w)
{
	int	i;

	for (i = 0; i < b->nidle; i++)
		if (b->idle[i] == w) {
			b->idle[i] = b->idle[--b->nidle];
			return;
		}
}

static void
set_idle(struct broker *b, int w)
{
	b->workers[w].state = W_IDLE;
	b->idle[b->nidle++] = w;
}

static int
worker_add(struct broker *b, const void *id, size_t len, uint64_t now)
{
	int	i;

	if (len > IDENT_MAX)
		return -1;
	for (i = 0; i < MAX_WORKERS; i++)
		if (b->workers[i].state == W_UNUSED)
			break;
	if (i == MAX_WORKERS)
		return -1;
	memset(&b->workers[i], 0, sizeof(b->workers[i]));
	memcpy(b->workers[i].id, id, len);
	b->workers[i].idlen = len;
	b->workers[i].seen = now;
	b->workers[i].slot = -1;
	if (i >= b->nworkers)
		b->nworkers = i + 1;
	set_idle(b, i);
	atomic_fetch_add(&b->known, 1);
	return i;
}

/* The job a busy worker held, if it is still waiting for that worker. */
static int
held_slot(struct broker *b, int w)
{
	struct wrk	*wk = &b->workers[w];
	struct slot	*s;

	if (wk->state != W_BUSY)
		return -1;
	s = &b->slots[wk->slot];
	if (s->job == NULL || s->gen != wk->gen || s->worker != w)
		return -1;
	return wk->slot;
}

/*
 * Forgets a worker; a job it held goes back to the head of the queue.
 * untouched: the worker certainly never worked on that job (it said BYE or
 * READY instead, or the job never reached it), so the dispatch does not
 * count against the job's attempts.  A job whose worker died or hung on
 * it does count: a job that kills workers must not kill them all.
 */
static void
worker_forget(struct broker *b, int w, const char *why, int untouched)
{
	int	i = held_slot(b, w);

	log_info("worker pid %d %s: forgotten%s", (int)b->workers[w].pid, why,
	    i != -1 ? ", its job is dispatched again" : "");
	if (b->workers[w].state == W_IDLE)
		idle_remove(b, w);
	b->workers[w].state = W_UNUSED;
	atomic_fetch_sub(&b->known, 1);
	if (i == -1)
		return;
	b->slots[i].worker = -1;
	if (untouched)
		b->slots[i].attempts--;
	if (b->slots[i].attempts >= MAX_ATTEMPTS)
		complete(b, i, JOB_UNAVAILABLE);
	else
		queue_push(b, i, 1);
}

/* ---- dispatch --------------------------------------------------------- */

static int
send_job(struct broker *b, int w, int i)
{
	struct slot	*s = &b->slots[i];
	uint8_t		 id[PROTO_JOB_ID_LEN];
	uint32_t	 v[2] = { (uint32_t)i, s->gen };
	struct proto_field f[] = {
		PROTO_FIELD("job", id, sizeof(id)),
		PROTO_FIELD("service", s->job->service, s->job->service_len),
		PROTO_FIELD("assertion", s->job->assertion,
		    s->job->assertion_len),
		PROTO_FIELD("client_state", s->job->client_state,
		    s->job->client_state_len),
	};

	/* The id is opaque to workers; native byte order is fine. */
	memcpy(id, v, sizeof(id));
	return proto_send(b->router, b->workers[w].id, b->workers[w].idlen,
	    PROTO_JOB, f, s->job->client_state_len > 0 ? 4 : 3);
}

static void
dispatch(struct broker *b, uint64_t now)
{
	int	w, i;

	while (b->nidle > 0 && (i = queue_pop(b)) != -1) {
		w = b->idle[--b->nidle];
		if (send_job(b, w, i) == -1) {
			queue_push(b, i, 1);
			b->workers[w].state = W_IDLE;	/* for forget */
			b->idle[b->nidle++] = w;
			worker_forget(b, w, "unreachable", 1);
			continue;
		}
		b->slots[i].worker = w;
		b->slots[i].attempts++;
		b->workers[w].state = W_BUSY;
		b->workers[w].slot = i;
		b->workers[w].gen = b->slots[i].gen;
		b->workers[w].since = now;
	}
}

/* ---- messages from workers -------------------------------------------- */

static void
on_reply(struct broker *b, int w, struct proto_msg *m)
{
	const void	*idp;
	uint32_t	 v[2];
	size_t		 len;
	struct slot	*s;
	struct job	*job;

	if ((idp = proto_get(m, "job", &len)) == NULL ||
	    len != PROTO_JOB_ID_LEN) {
		log_warnx("worker pid %d: REPLY without a job id",
		    (int)b->workers[w].pid);
		return;
	}
	memcpy(v, idp, sizeof(v));
	if (v[0] >= (uint32_t)b->limit)
		return;
	s = &b->slots[v[0]];
	if (s->job == NULL || s->gen != v[1])
		return;		/* timed out or answered by another worker */
	job = s->job;
	job->worker_pid = b->workers[w].pid;
	/*
	 * If the job was dispatched again, the other worker's reply will
	 * find the slot's generation moved on and be dropped.
	 */
	proto_msg_move(&job->reply, m);
	complete(b, (int)v[0], JOB_REPLIED);
}

static void
on_worker_message(struct broker *b, struct proto_msg *m, uint64_t now)
{
	const void	*id;
	size_t		 idlen;
	char		 pid[16];
	int		 w;

	id = proto_ident(m, &idlen);
	if ((w = worker_find(b, id, idlen)) == -1) {
		if (m->cmd == PROTO_BYE)
			return;
		if ((w = worker_add(b, id, idlen, now)) == -1) {
			log_warnx("too many workers connected: ignoring one");
			return;
		}
	}
	b->workers[w].seen = now;
	/*
	 * READY and HEARTBEAT name the worker's pid: a worker that joins a
	 * restarted front by heartbeat must be known by pid for death notices.
	 */
	if (proto_get_str(m, "pid", pid, sizeof(pid)) == 0)
		b->workers[w].pid = (pid_t)atoi(pid);
	switch (m->cmd) {
	case PROTO_READY:
		if (held_slot(b, w) != -1)
			/* It came back without its job: it restarted. */
			worker_forget(b, w, "restarted", 1);
		else if (b->workers[w].state == W_BUSY)
			set_idle(b, w);
		break;
	case PROTO_HEARTBEAT:
		break;
	case PROTO_REPLY:
		on_reply(b, w, m);
		if (b->workers[w].state == W_BUSY)
			set_idle(b, w);
		break;
	case PROTO_BYE:
		worker_forget(b, w, "left", 1);
		break;
	default:
		log_warnx("worker pid %d: unknown command %d",
		    (int)b->workers[w].pid, m->cmd);
		break;
	}
}

static void
read_workers(struct broker *b, uint64_t now)
{
	struct proto_msg	*m;
	const char		*why;
	int			 n, rc;

	/* A proto_msg is large: keep it off the stack of the hot loop. */
	static _Thread_local struct proto_msg msg;

	m = &msg;
	for (n = 0; n < DRAIN_BATCH; n++) {
		rc = proto_recv(b->router, 1, 1, m, &why);
		if (rc == -1)
			break;
		if (rc == 1)
			log_warnx("malformed message from a worker: %s", why);
		else
			on_worker_message(b, m, now);
		proto_msg_close(m);
	}
}

/* Returns how many jobs it took. */
static int
read_jobs(struct broker *b, uint64_t now)
{
	struct job	*job;
	int		 n, i;

	for (n = 0; n < DRAIN_BATCH; n++) {
		if (zmq_recv(b->pull, &job, sizeof(job), ZMQ_DONTWAIT) !=
		    sizeof(job))
			break;
		/* inflight <= limit, so a slot is always free here. */
		if ((i = slot_alloc(b, job, now)) == -1) {
			job->outcome = JOB_UNAVAILABLE;
			atomic_fetch_sub(&b->inflight, 1);
			b->done(job);
			continue;
		}
		queue_push(b, i, 0);
	}
	return n;
}

static void
read_deaths(struct broker *b)
{
	pid_t	pid;
	int	w, clean;

	/* Each record is a pid, negated for a clean exit. */
	while (read(b->died[0], &pid, sizeof(pid)) == sizeof(pid)) {
		clean = pid < 0;
		pid = clean ? -pid : pid;
		for (w = 0; w < b->nworkers; w++)
			if (b->workers[w].state != W_UNUSED &&
			    b->workers[w].pid == pid)
				worker_forget(b, w, clean ? "exited" : "died",
				    clean);
	}
}

/* ---- time ------------------------------------------------------------- */

static void
expire(struct broker *b, uint64_t now)
{
	uint64_t	 dead;
	int		 w, i;

	while (b->live_head != -1 && b->slots[b->live_head].deadline <= now)
		complete(b, b->live_head, JOB_TIMEOUT);

	dead = (uint64_t)b->cfg->heartbeat_ms *
	    (uint64_t)b->cfg->heartbeat_liveness;
	for (w = 0; w < b->nworkers; w++) {
		if (b->workers[w].state == W_UNUSED)
			continue;
		if (b->workers[w].state == W_BUSY &&
		    (i = held_slot(b, w)) != -1) {
			if (now - b->workers[w].since > dead)
				worker_forget(b, w, "hung on a job", 0);
		} else if (now - b->workers[w].seen > dead)
			worker_forget(b, w, "silent", 0);
	}
}

static void
heartbeat(struct broker *b, uint64_t now)
{
	int	i, w;

	if (now < b->next_beat)
		return;
	b->next_beat = now + (uint64_t)b->cfg->heartbeat_ms;
	for (i = b->nidle - 1; i >= 0; i--) {
		w = b->idle[i];
		if (proto_send(b->router, b->workers[w].id, b->workers[w].idlen,
		    PROTO_HEARTBEAT, NULL, 0) == -1)
			worker_forget(b, w, "unreachable", 1);
	}
}

static long
poll_timeout(struct broker *b, uint64_t now)
{
	uint64_t	next = b->next_beat;

	if (b->live_head != -1 && b->slots[b->live_head].deadline < next)
		next = b->slots[b->live_head].deadline;
	if (next <= now)
		return 0;
	return next - now > 100 ? 100 : (long)(next - now);
}

static void *
broker_run(void *arg)
{
	struct broker	*b = arg;
	zmq_pollitem_t	 items[3];
	uint64_t	 now;

	b->next_beat = mono_ms() + (uint64_t)b->cfg->heartbeat_ms;
	while (!atomic_load(&b->stop)) {
		items[0] = (zmq_pollitem_t){ b->pull, 0, ZMQ_POLLIN, 0 };
		items[1] = (zmq_pollitem_t){ b->router, 0, ZMQ_POLLIN, 0 };
		items[2] = (zmq_pollitem_t){ NULL, b->died[0], ZMQ_POLLIN, 0 };
		if (zmq_poll(items, 3, poll_timeout(b, mono_ms())) == -1 &&
		    errno != EINTR) {
			log_warnx("broker: zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		now = mono_ms();
		/* Replies before deaths: a last REPLY beats a re-dispatch. */
		if (items[1].revents & ZMQ_POLLIN)
			read_workers(b, now);
		if (items[2].revents & ZMQ_POLLIN)
			read_deaths(b);
		if (items[0].revents & ZMQ_POLLIN)
			read_jobs(b, now);
		expire(b, now);
		heartbeat(b, now);
		dispatch(b, now);
	}
	return NULL;
}

/* ---- life cycle ------------------------------------------------------- */

static int
broker_sockets(struct broker *b)
{
	char	endpoint[160], path[140];
	int	one = 1, zero = 0;

	if ((b->ctx = zmq_ctx_new()) == NULL)
		return -1;
	if ((b->pull = zmq_socket(b->ctx, ZMQ_PULL)) == NULL ||
	    proto_sockopts(b->pull) == -1 ||
	    zmq_setsockopt(b->pull, ZMQ_RCVHWM, &zero, sizeof(zero)) == -1 ||
	    zmq_bind(b->pull, JOBS_ENDPOINT) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", b->cfg->runtime_dir,
	    PROTO_ENDPOINT);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	/* A socket file left by a front that crashed would refuse the bind. */
	(void)unlink(path);
	if ((b->router = zmq_socket(b->ctx, ZMQ_ROUTER)) == NULL ||
	    proto_sockopts(b->router) == -1 ||
	    zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one,
	    sizeof(one)) == -1 ||
	    zmq_bind(b->router, endpoint) == -1) {
		log_warnx("bind %s: %s", endpoint, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static int
broker_alloc(struct broker *b)
{
	int	i;

	b->limit = b->cfg->queue_limit + b->cfg->workers;
	b->slots = calloc((size_t)b->limit, sizeof(*b->slots));
	b->queue = calloc((size_t)b->limit, sizeof(*b->queue));
	if (b->slots == NULL || b->queue == NULL)
		return -1;
	for (i = 0; i < b->limit; i++)
		b->slots[i].free_next = i + 1 < b->limit ? i + 1 : -1;
	b->free_head = 0;
	b->live_head = b->live_tail = -1;
	return pipe2(b->died, O_NONBLOCK | O_CLOEXEC);
}

void
broker_free(struct broker *b)
{
	int	i;

	for (i = 0; i < b->npush; i++)
		zmq_close(b->push[i]);
	if (b->pull != NULL)
		zmq_close(b->pull);
	if (b->router != NULL)
		zmq_close(b->router);
	if (b->ctx != NULL)
		zmq_ctx_term(b->ctx);
	pthread_mutex_destroy(&b->push_mtx);
	if (b->died[0] != -1) {
		close(b->died[0]);
		close(b->died[1]);
	}
	free(b->slots);
	free(b->queue);
	free(b);
}

struct broker *
broker_start(const struct config *cfg, job_done_fn done)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->cfg = cfg;
	b->done = done;
	b->died[0] = b->died[1] = -1;
	pthread_mutex_init(&b->push_mtx, NULL);
	if (broker_alloc(b) == -1 || broker_sockets(b) == -1 ||
	    pthread_create(&b->thread, NULL, broker_run, b) != 0) {
		log_warnx("broker: cannot start: %s", zmq_strerror(errno));
		broker_free(b);
		return NULL;
	}
	return b;
}

/* This thread's PUSH socket, created on its first job. */
static void *
push_socket(struct broker *b)
{
	void	*s;

	if (tls_push != NULL && tls_push_owner == b)
		return tls_push;
	pthread_mutex_lock(&b->push_mtx);
	s = NULL;
	if (b->npush < MAX_PUSH && (s = zmq_socket(b->ctx, ZMQ_PUSH)) != NULL) {
		int zero = 0;

		if (proto_sockopts(s) == -1 ||
		    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof(zero)) == -1 ||
		    zmq_connect(s, JOBS_ENDPOINT) == -1) {
			zmq_close(s);
			s = NULL;
		} else
			b->push[b->npush++] = s;
	}
	pthread_mutex_unlock(&b->push_mtx);
	tls_push = s;
	tls_push_owner = b;
	return s;
}

int
broker_submit(struct broker *b, struct job *job)
{
	void	*s;
	int	 rc = -1;

	/*
	 * submitting brackets the send so broker_stop() can wait for it:
	 * either this thread sees closed, or broker_stop() sees submitting
	 * (sequentially consistent atomics), so no job is pushed unseen.
	 */
	atomic_fetch_add(&b->submitting, 1);
	if (atomic_load(&b->closed))
		goto done;
	if (atomic_fetch_add(&b->inflight, 1) >= b->limit)
		goto full;
	if ((s = push_socket(b)) == NULL ||
	    zmq_send(s, &job, sizeof(job), ZMQ_DONTWAIT) != sizeof(job))
		goto full;
	rc = 0;
	goto done;
full:
	atomic_fetch_sub(&b->inflight, 1);
done:
	atomic_fetch_sub(&b->submitting, 1);
	return rc;
}

int
broker_inflight(struct broker *b)
{
	return atomic_load(&b->inflight);
}

int
broker_workers(struct broker *b)
{
	return atomic_load(&b->known);
}

void
broker_worker_died(struct broker *b, pid_t pid, int clean)
{
	if (clean)
		pid = -pid;
	if (write(b->died[1], &pid, sizeof(pid)) != sizeof(pid))
		log_warnx("broker: cannot pass on the death of pid %d",
		    (int)pid);
}

void
broker_stop(struct broker *b)
{
	struct timespec	tick = { 0, 1000 * 1000 };

	atomic_store(&b->closed, 1);
	atomic_store(&b->stop, 1);
	pthread_join(b->thread, NULL);
	while (atomic_load(&b->submitting) > 0)
		nanosleep(&tick, NULL);
	/* Jobs still in the PULL queue or in slots get an answer, too. */
	while (read_jobs(b, mono_ms()) > 0)
		;
	while (b->live_head != -1)
		complete(b, b->live_head, JOB_UNAVAILABLE);
}
