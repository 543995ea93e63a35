/*
 * broker.c - the front's side of the worker pool, after the ZeroMQ guide's
 * load-balancing broker, run inside the front's event loop (front.c).
 *
 * One socket: a ROUTER at ipc://RUNTIME_DIR/worker.sock with
 * ROUTER_MANDATORY, so a send to a vanished worker fails instead of
 * vanishing.  HTTP requests become jobs by a plain function call in the same
 * thread: no inproc socket and no thread hand-off, which on a small machine
 * cost more than the HTTP parsing itself (docs/performance.md).
 *
 * A job sits in a slot from submit to done.  Slots are found again from a
 * reply by an 8-byte job id (slot index, generation), so a late reply to a
 * job that already timed out, or was re-dispatched, can never complete the
 * wrong request.  Every job has the same timeout, so the deadline list is
 * simply the slots in submission order.
 *
 * Workers say READY with their credit: how many jobs they take at once
 * (the one worked on, the rest waiting in their socket, so a busy worker
 * never sleeps between jobs).  A job goes to the worker holding the fewest.
 * A worker silent (idle) or stuck on one job past heartbeat_liveness
 * intervals is forgotten and its jobs are dispatched again; so are those
 * of a worker that dies, which is known sooner: the supervisor reaps it
 * and tells the front (broker_worker_died).  Which of its jobs killed it is
 * known only when it held one, so the others become suspects that run
 * alone from then on (worker_forget).
 *
 * Workers name their connection: each incarnation sets a routing identity
 * of its own and keeps it across reconnects.  So a READY from a worker
 * that holds jobs means the same process is back on a new connection and
 * the old one took its jobs with it: they are dispatched again at once,
 * not after the hung-worker timeout.  No JOB ever carries a frame over
 * PROTO_MAX_FRAME, which would cost the worker its connection.
 */
#include "pool/broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "core/clock.h"
#include "config.h"
#include "core/log.h"

#define MAX_WORKERS	1024
#define MAX_CREDIT	16	/* jobs one worker may hold */
#define MAX_HELD	(2 * 256 * MAX_CREDIT) /* jobs all workers may hold:
				   twice the most workers, for reloads */
#define MAX_ATTEMPTS	2	/* deaths a job may be blamed for */
#define READ_BATCH	256	/* messages read per broker_read() */
#define IDENT_MAX	64	/* bytes of a worker's routing identity */
#define JOB_FIELDS	5	/* job, service, assertion, client_state, kind */

/*
 * A slot is on two lists, both threaded through the slots by index: the
 * live list (submission order, so the head has the earliest deadline) from
 * submit to done, and the queue while it waits for a worker.
 */
enum { LIVE, QUEUE, NLISTS };

struct link {
	int		 prev, next;	/* slot indices, -1 at the ends */
};

struct list {
	int		 head, tail;
};

struct slot {
	struct job	*job;		/* NULL when free */
	uint32_t	 gen;		/* bumped when freed */
	int		 worker;	/* index, or -1 when queued */
	int		 attempts;
	int		 suspect;	/* a worker died holding it: runs alone */
	uint64_t	 deadline;	/* mono ms */
	struct link	 link[NLISTS];
	int		 free_next;
};

/* A job sent to a worker: the slot, as it was when sent. */
struct held {
	int		 slot;
	uint32_t	 gen;
};

struct wrk {
	int		 used;
	uint8_t		 id[IDENT_MAX];
	size_t		 idlen;
	pid_t		 pid;
	int		 credit;	/* jobs it takes at once */
	int		 alone;		/* holds a suspect job: gets no other */
	uint64_t	 seen;		/* mono ms of its last message */
	uint64_t	 since;		/* mono ms it started its first job */
	struct held	 held[MAX_CREDIT];	/* in the order sent */
	int		 nheld;
};

struct broker {
	const struct config	*cfg;
	job_done_fn		 done;
	void			*ctx;
	void			*router;
	int			 stopped;	/* submit: refuse new jobs */
	int			 inflight;
	int			 known;		/* workers registered */
	int			 limit;		/* slots */
	struct slot		*slots;
	int			 free_head;
	struct list		 list[NLISTS];
	int			 queued;	/* on list[QUEUE] */
	struct wrk		 workers[MAX_WORKERS];
	int			 nworkers;	/* high-water index */
	uint64_t		 next_beat;
	struct proto_msg	 msg;		/* large: not on the stack */
};

/* ---- slots ------------------------------------------------------------ */

static void
list_insert(struct broker *b, int l, int i, int at_head)
{
	struct list	*ls = &b->list[l];
	struct link	*k = &b->slots[i].link[l];

	if (at_head) {
		k->prev = -1;
		k->next = ls->head;
		if (ls->head != -1)
			b->slots[ls->head].link[l].prev = i;
		else
			ls->tail = i;
		ls->head = i;
	} else {
		k->next = -1;
		k->prev = ls->tail;
		if (ls->tail != -1)
			b->slots[ls->tail].link[l].next = i;
		else
			ls->head = i;
		ls->tail = i;
	}
}

static void
list_remove(struct broker *b, int l, int i)
{
	struct list	*ls = &b->list[l];
	struct link	*k = &b->slots[i].link[l];

	if (k->prev != -1)
		b->slots[k->prev].link[l].next = k->next;
	else
		ls->head = k->next;
	if (k->next != -1)
		b->slots[k->next].link[l].prev = k->prev;
	else
		ls->tail = k->prev;
}

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
	s->attempts = 0;
	s->suspect = 0;
	s->deadline = now + (uint64_t)b->cfg->request_timeout_ms;
	list_insert(b, LIVE, i, 0);
	return i;
}

static void
slot_release(struct broker *b, int i)
{
	struct slot	*s = &b->slots[i];

	list_remove(b, LIVE, i);
	s->job = NULL;
	s->gen++;
	s->free_next = b->free_head;
	b->free_head = i;
}

/* Timed-out jobs must be able to leave the queue early: it is a list. */
static void
queue_push(struct broker *b, int i, int at_head)
{
	b->slots[i].worker = -1;
	list_insert(b, QUEUE, i, at_head);
	b->queued++;
}

static void
queue_remove(struct broker *b, int i)
{
	list_remove(b, QUEUE, i);
	b->queued--;
}

/* Hands the job back to the front; the slot is free afterwards. */
static void
complete(struct broker *b, int i, enum job_outcome outcome)
{
	struct job	*job = b->slots[i].job;

	if (b->slots[i].worker == -1)
		queue_remove(b, i);
	job->outcome = outcome;
	slot_release(b, i);
	b->inflight--;
	b->done(job);
}

/* ---- workers ---------------------------------------------------------- */

static int
worker_find(struct broker *b, const void *id, size_t len)
{
	int	i;

	for (i = 0; i < b->nworkers; i++)
		if (b->workers[i].used && b->workers[i].idlen == len &&
		    memcmp(b->workers[i].id, id, len) == 0)
			return i;
	return -1;
}

static int
worker_add(struct broker *b, const void *id, size_t len, uint64_t now)
{
	struct wrk	*wk;
	int		 i;

	if (len > IDENT_MAX) {
		log_warnx("a worker's identity is over %d bytes: ignored",
		    IDENT_MAX);
		return -1;
	}
	for (i = 0; i < MAX_WORKERS; i++)
		if (!b->workers[i].used)
			break;
	if (i == MAX_WORKERS) {
		log_warnx("too many workers connected: ignoring one");
		return -1;
	}
	wk = &b->workers[i];
	memset(wk, 0, sizeof(*wk));
	wk->used = 1;
	memcpy(wk->id, id, len);
	wk->idlen = len;
	wk->seen = now;
	wk->credit = 1;		/* until its READY says otherwise */
	if (i >= b->nworkers)
		b->nworkers = i + 1;
	b->known++;
	return i;
}

/* Is held entry h still the job the slot holds, waiting for worker w? */
static int
held_live(struct broker *b, int w, const struct held *h)
{
	const struct slot	*s = &b->slots[h->slot];

	return s->job != NULL && s->gen == h->gen && s->worker == w;
}

/* Drops the held entry for (slot, gen); returns whether it was there. */
static int
held_remove(struct wrk *wk, int slot, uint32_t gen)
{
	int	k;

	for (k = 0; k < wk->nheld; k++)
		if (wk->held[k].slot == slot && wk->held[k].gen == gen) {
			memmove(&wk->held[k], &wk->held[k + 1],
			    (size_t)(wk->nheld - k - 1) * sizeof(wk->held[0]));
			wk->nheld--;
			return 1;
		}
	return 0;
}

/*
 * Puts a job the broker took back from a worker at the head of the queue.
 * counted: the worker died or hung while working on it, so that dispatch
 * counts against the job's MAX_ATTEMPTS (a job that kills workers must not
 * kill them all); otherwise it does not.
 */
static void
requeue(struct broker *b, int i, int counted)
{
	if (!counted)
		b->slots[i].attempts--;
	queue_push(b, i, 1);
	if (b->slots[i].attempts >= MAX_ATTEMPTS)
		complete(b, i, JOB_UNAVAILABLE);
}

/*
 * Forgets a worker; the jobs it held go back to the head of the queue.
 * untouched: it certainly worked on none of them (it said BYE, or exited
 * cleanly).  Otherwise it died, hung or lost its connection on one of
 * them, and which one is not known when it held several: a worker keeps
 * finished replies in its outbox for a while, so the oldest job held need
 * not be the culprit.
 * Then none is counted, and each becomes a suspect that is sent to a
 * worker holding nothing else; dying there, it is known to be the culprit.
 */
static void
worker_forget(struct broker *b, int w, const char *why, int untouched)
{
	struct wrk	*wk = &b->workers[w];
	int		 k, n = 0, i;

	for (k = 0; k < wk->nheld; k++)
		n += held_live(b, w, &wk->held[k]);
	log_info("worker pid %d %s: forgotten%s", (int)wk->pid, why,
	    n > 0 ? ", its jobs are dispatched again" : "");
	/* Last first, so that they keep their order at the queue's head. */
	for (k = wk->nheld - 1; k >= 0; k--) {
		if (!held_live(b, w, &wk->held[k]))
			continue;
		i = wk->held[k].slot;
		if (!untouched)
			b->slots[i].suspect = 1;
		requeue(b, i, !untouched && wk->nheld == 1);
	}
	wk->used = 0;
	wk->nheld = 0;
	b->known--;
}

/* ---- dispatch --------------------------------------------------------- */

/*
 * The JOB message for slot i into f (room for PROTO_MAX_FIELDS), its id
 * into id; returns the number of fields: the id, then the front's fields.
 */
static size_t
job_fields(struct broker *b, int i, uint8_t *id, struct proto_field *f)
{
	const struct slot	*s = &b->slots[i];
	const struct job	*job = s->job;
	uint32_t		 v[2] = { (uint32_t)i, s->gen };
	size_t			 n = 0;

	/* The id is opaque to workers; native byte order is fine. */
	memcpy(id, v, PROTO_JOB_ID_LEN);
	f[n++] = (struct proto_field)PROTO_FIELD("job", id, PROTO_JOB_ID_LEN);
	memcpy(f + n, job->fields, job->nfields * sizeof(*f));
	return n + job->nfields;
}

/* Jobs worker wk would take now: none while it holds a suspect. */
static int
room_of(const struct wrk *wk)
{
	return !wk->used || wk->alone || wk->nheld >= wk->credit ? 0 :
	    wk->credit - wk->nheld;
}

/*
 * The worker for the job at the queue's head, or -1: for a suspect, one
 * that holds nothing; otherwise the one with room that holds the fewest.
 */
static int
pick_worker(struct broker *b, const struct slot *s)
{
	const struct wrk	*wk;
	int			 w, best = -1;

	for (w = 0; w < b->nworkers; w++) {
		wk = &b->workers[w];
		if (room_of(wk) == 0 || (s->suspect && wk->nheld > 0))
			continue;
		if (best == -1 || wk->nheld < b->workers[best].nheld)
			best = w;
	}
	return best;
}

static void
dispatch(struct broker *b, uint64_t now)
{
	struct proto_field	 f[JOB_FIELDS];
	uint8_t			 id[PROTO_JOB_ID_LEN];
	struct wrk		*wk;
	size_t			 n;
	int			 w, i;

	/*
	 * In order: a suspect at the head waits for a worker to empty (at
	 * most one worker's credit of jobs) rather than be overtaken.
	 */
	while ((i = b->list[QUEUE].head) != -1) {
		n = job_fields(b, i, id, f);
		/*
		 * A frame over the limit would cost the worker its connection
		 * and the job would go on to break the next one: it fails
		 * here, at once.  The front refuses such requests first.
		 */
		if (!proto_fits(f, n)) {
			log_warnx("a job with a field over %d bytes: refused",
			    PROTO_MAX_VALUE);
			complete(b, i, JOB_UNAVAILABLE);
			continue;
		}
		if ((w = pick_worker(b, &b->slots[i])) == -1)
			break;
		wk = &b->workers[w];
		if (proto_send(b->router, wk->id, wk->idlen, PROTO_JOB, f,
		    n) == -1) {
			/* Its connection is gone: it died. */
			worker_forget(b, w, "unreachable", 0);
			continue;
		}
		queue_remove(b, i);
		if (wk->nheld == 0)
			wk->since = now;
		wk->held[wk->nheld++] = (struct held){ i, b->slots[i].gen };
		wk->alone = b->slots[i].suspect;
		b->slots[i].worker = w;
		b->slots[i].attempts++;
	}
}

/* ---- messages from workers -------------------------------------------- */

static void
on_reply(struct broker *b, int w, struct proto_msg *m, uint64_t now)
{
	struct wrk	*wk = &b->workers[w];
	const void	*idp;
	uint32_t	 v[2];
	size_t		 len;
	struct slot	*s;
	struct job	*job;

	if ((idp = proto_get(m, "job", &len)) == NULL ||
	    len != PROTO_JOB_ID_LEN) {
		log_warnx("worker pid %d: REPLY without a job id",
		    (int)wk->pid);
		return;
	}
	memcpy(v, idp, sizeof(v));
	if (v[0] >= (uint32_t)b->limit)
		return;
	/* The worker moves on to its next job, if it holds one. */
	if (held_remove(wk, (int)v[0], v[1])) {
		wk->since = now;
		if (wk->nheld == 0)
			wk->alone = 0;
	}
	s = &b->slots[v[0]];
	if (s->job == NULL || s->gen != v[1])
		return;		/* timed out or answered by another worker */
	job = s->job;
	job->worker_pid = wk->pid;
	/*
	 * If the job was dispatched again, the other worker's reply will
	 * find the slot's generation moved on and be dropped.
	 */
	proto_msg_move(&job->reply, m);
	complete(b, (int)v[0], JOB_REPLIED);
}

/*
 * READY and HEARTBEAT carry the worker's pid (a worker that joins a
 * restarted front by heartbeat must be known by pid for death notices) and
 * its credit, which the config caps.
 */
static void
worker_describe(struct broker *b, int w, const struct proto_msg *m)
{
	struct wrk	*wk = &b->workers[w];
	char		 buf[16];
	long		 v;

	if (proto_get_str(m, "pid", buf, sizeof(buf)) == 0)
		wk->pid = (pid_t)atoi(buf);
	if (proto_get_str(m, "credit", buf, sizeof(buf)) == 0) {
		v = strtol(buf, NULL, 10);
		if (v > b->cfg->worker_credit)
			v = b->cfg->worker_credit;
		wk->credit = v < 1 ? 1 : v > MAX_CREDIT ? MAX_CREDIT : (int)v;
	}
}

static void
on_worker_message(struct broker *b, struct proto_msg *m, uint64_t now)
{
	const void	*id;
	size_t		 idlen;
	int		 w;

	id = proto_ident(m, &idlen);
	if ((w = worker_find(b, id, idlen)) == -1) {
		if (m->cmd == PROTO_BYE)
			return;
		if ((w = worker_add(b, id, idlen, now)) == -1)
			return;
	}
	b->workers[w].seen = now;
	switch (m->cmd) {
	case PROTO_READY:
		if (b->workers[w].nheld > 0) {
			/*
			 * Its identity is its incarnation's, so this is the
			 * same process, back on a new connection: what the
			 * old one carried is lost.  That connection may have
			 * broken on one of these jobs, so they count as if
			 * it had died (a job that keeps breaking connections
			 * is given up like one that kills workers).
			 */
			worker_forget(b, w, "reconnected", 0);
			if ((w = worker_add(b, id, idlen, now)) == -1)
				return;
		}
		worker_describe(b, w, m);
		break;
	case PROTO_HEARTBEAT:
		worker_describe(b, w, m);
		break;
	case PROTO_REPLY:
		on_reply(b, w, m, now);
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

void
broker_read(struct broker *b, uint64_t now)
{
	struct proto_msg	*m = &b->msg;
	const char		*why;
	int			 n, rc;

	for (n = 0; n < READ_BATCH; n++) {
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

void
broker_worker_died(struct broker *b, pid_t pid, int clean)
{
	int	w;

	for (w = 0; w < b->nworkers; w++)
		if (b->workers[w].used && b->workers[w].pid == pid)
			worker_forget(b, w, clean ? "exited" : "died", clean);
}

/* ---- time ------------------------------------------------------------- */

static void
expire(struct broker *b, uint64_t now)
{
	uint64_t	 dead;
	struct wrk	*wk;
	int		 w, i;

	while ((i = b->list[LIVE].head) != -1 && b->slots[i].deadline <= now)
		complete(b, i, JOB_TIMEOUT);

	dead = (uint64_t)b->cfg->heartbeat_ms *
	    (uint64_t)b->cfg->heartbeat_liveness;
	for (w = 0; w < b->nworkers; w++) {
		wk = &b->workers[w];
		if (!wk->used)
			continue;
		/*
		 * A worker busy on a job sends nothing; one on the same job
		 * for longer than a silent worker may be is taken for hung.
		 * Jobs that timed out still count: the worker is on them.
		 */
		if (wk->nheld > 0) {
			if (now - wk->since > dead)
				worker_forget(b, w, "hung on a job", 0);
		} else if (now - wk->seen > dead)
			worker_forget(b, w, "silent", 0);
	}
}

static void
heartbeat(struct broker *b, uint64_t now)
{
	int	w;

	if (now < b->next_beat)
		return;
	b->next_beat = now + (uint64_t)b->cfg->heartbeat_ms;
	for (w = 0; w < b->nworkers; w++)
		if (b->workers[w].used && b->workers[w].nheld == 0 &&
		    proto_send(b->router, b->workers[w].id,
		    b->workers[w].idlen, PROTO_HEARTBEAT, NULL, 0) == -1)
			worker_forget(b, w, "unreachable", 1);
}

void
broker_tick(struct broker *b, uint64_t now)
{
	expire(b, now);
	heartbeat(b, now);
	dispatch(b, now);
}

long
broker_timeout(struct broker *b, uint64_t now)
{
	uint64_t	next = b->next_beat;
	int		i = b->list[LIVE].head;

	if (i != -1 && b->slots[i].deadline < next)
		next = b->slots[i].deadline;
	if (next <= now)
		return 0;
	return next - now > 100 ? 100 : (long)(next - now);
}

/* ---- jobs from the front ---------------------------------------------- */

/* Jobs the workers would take now without queueing. */
static int
room(struct broker *b)
{
	int	w, n = 0;

	for (w = 0; w < b->nworkers; w++)
		n += room_of(&b->workers[w]);
	return n;
}

int
broker_submit(struct broker *b, struct job *job, uint64_t now)
{
	int	i;

	/*
	 * The job is sent by the next broker_tick(), with all the others of
	 * this loop turn: ZeroMQ then writes them in one go.  queue_limit
	 * bounds the jobs that the workers have no room for.
	 */
	if (b->stopped || (b->queued >= b->cfg->queue_limit &&
	    b->queued >= b->cfg->queue_limit + room(b)) ||
	    (i = slot_alloc(b, job, now)) == -1)
		return -1;
	b->inflight++;
	queue_push(b, i, 0);
	return 0;
}

int
broker_inflight(struct broker *b)
{
	return b->inflight;
}

int
broker_workers(struct broker *b)
{
	return b->known;
}

void *
broker_socket(struct broker *b)
{
	return b->router;
}

/* ---- life cycle ------------------------------------------------------- */

static int
broker_bind(struct broker *b)
{
	char	endpoint[160], path[140];
	int	one = 1;

	if ((b->ctx = zmq_ctx_new()) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", b->cfg->runtime_dir,
	    PROTO_ENDPOINT);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	/* A socket file left by a front that crashed would refuse the bind. */
	(void)unlink(path);
	/*
	 * HANDOVER: a worker that reconnects takes its identity over from
	 * its old connection at once; without it the ROUTER ignores the new
	 * one for as long as the old one seems up.
	 */
	if ((b->router = zmq_socket(b->ctx, ZMQ_ROUTER)) == NULL ||
	    proto_sockopts(b->router) == -1 ||
	    zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one,
	    sizeof(one)) == -1 ||
	    zmq_setsockopt(b->router, ZMQ_ROUTER_HANDOVER, &one,
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

	/*
	 * Every job queued or held is in a slot: queue_limit waiting, plus
	 * what the workers hold, which a reload that adds workers may raise.
	 */
	b->limit = b->cfg->queue_limit + MAX_HELD;
	if ((b->slots = calloc((size_t)b->limit, sizeof(*b->slots))) == NULL)
		return -1;
	for (i = 0; i < b->limit; i++)
		b->slots[i].free_next = i + 1 < b->limit ? i + 1 : -1;
	b->free_head = 0;
	for (i = 0; i < NLISTS; i++)
		b->list[i] = (struct list){ -1, -1 };
	return 0;
}

void
broker_free(struct broker *b)
{
	if (b->router != NULL)
		zmq_close(b->router);
	if (b->ctx != NULL)
		zmq_ctx_term(b->ctx);
	free(b->slots);
	free(b);
}

struct broker *
broker_new(const struct config *cfg, job_done_fn done)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->cfg = cfg;
	b->done = done;
	b->next_beat = mono_ms() + (uint64_t)cfg->heartbeat_ms;
	if (broker_alloc(b) == -1 || broker_bind(b) == -1) {
		log_warnx("broker: cannot start");
		broker_free(b);
		return NULL;
	}
	return b;
}

void
broker_stop(struct broker *b)
{
	int	i;

	b->stopped = 1;
	while ((i = b->list[LIVE].head) != -1)
		complete(b, i, JOB_UNAVAILABLE);
}
