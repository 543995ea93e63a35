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
 * Workers say READY with the protocol versions they speak and their
 * credit: how many jobs they take at once (the one worked on, the rest
 * waiting in their socket, so a busy worker never sleeps between jobs).
 * The broker answers WELCOME (the version, its heartbeat settings and the
 * credit granted), or REFUSE, naming both sides' versions, to a worker it
 * cannot serve; a refusal is logged once per peer, and a version-1 peer
 * gets its REFUSE in version 1's layout, so that it can read it.  A
 * message from a worker that never said READY, or that was forgotten,
 * gets RESYNC: say READY again.
 *
 * A job goes to the worker holding the fewest.  A worker silent (idle) or
 * stuck on one job past heartbeat_liveness intervals is forgotten and its
 * jobs are dispatched again; PROGRESS about the job it is on extends that
 * limit, for as long as request_timeout after it started the job (a slow
 * job is not a hung worker; one that is still at it after its deadline
 * is).  The jobs of a worker that dies are dispatched again sooner: the
 * supervisor reaps it and tells the front (broker_worker_died).  Which of
 * its jobs killed it is known only when it held one, so the others become
 * suspects that run alone from then on (worker_forget).
 *
 * Workers are known by their routing identity, which each incarnation
 * chooses and keeps across reconnects (a pid means nothing on another
 * host; a local worker's READY names its pid only so that the
 * supervisor's death notices find it).  So a READY from a worker that
 * holds jobs means the same process is back on a new connection and the
 * old one took its jobs with it: they are dispatched again at once, not
 * after the hung-worker timeout.  No JOB is ever over PROTO_MAX_FRAME,
 * which would cost the worker its connection.
 */
#include "pool/broker.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <zmq.h>

#include "core/clock.h"
#include "core/log.h"
#include "pool/zap.h"

#define MAX_WORKERS	1024
#define MAX_CREDIT	16	/* jobs one worker may hold */
#define MAX_HELD	(2 * 256 * MAX_CREDIT) /* jobs all workers may hold:
				   twice the most workers, for reloads */
#define MAX_ATTEMPTS	2	/* deaths a job may be blamed for */
#define READ_BATCH	256	/* messages read per broker_read() */
#define IDENT_MAX	64	/* bytes of a worker's routing identity */
#define REFUSED_MAX	32	/* peers whose refusal was logged, remembered */
#define NAME_MAX_LEN	(2 * IDENT_MAX + 32)	/* worker_name() */

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
	void		*sock;		/* the ROUTER it joined on */
	char		 key[CURVE_Z85_LEN + 1]; /* remote: its CURVE key */
	uint8_t		 id[IDENT_MAX];
	size_t		 idlen;
	pid_t		 pid;		/* its READY's, 0 if none: for death
					   notices only */
	int		 credit;	/* jobs it takes at once */
	int		 alone;		/* holds a suspect job: gets no other */
	uint64_t	 seen;		/* mono ms of its last message */
	uint64_t	 started;	/* mono ms it started its current job */
	uint64_t	 progress;	/* mono ms of the later of started and
					   its last PROGRESS that counted */
	struct held	 held[MAX_CREDIT];	/* in the order sent */
	int		 nheld;
};

/* A peer refused: its refusal is logged once. */
struct refused {
	uint8_t		 id[IDENT_MAX];
	size_t		 idlen;
};

struct broker {
	struct broker_settings	 set;	/* runtime_dir: NULL after new */
	job_done_fn		 done;
	void			*ctx;
	void			*router;
	void			*remote;	/* CURVE TCP ROUTER, or NULL */
	struct zap		*zap;		/* its gate, or NULL */
	void			*from;		/* the socket being read */
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
	struct refused		 refused[REFUSED_MAX];	/* a ring */
	int			 nrefused;	/* ever added */
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
	s->deadline = now + (uint64_t)b->set.request_timeout_ms;
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
		if (b->workers[i].used && b->workers[i].sock == b->from &&
		    b->workers[i].idlen == len &&
		    memcmp(b->workers[i].id, id, len) == 0)
			return i;
	return -1;
}

/*
 * A routing identity for logs: as it is when it is printable ASCII (the C
 * worker's is), in hex otherwise.  buf has room for 2 * IDENT_MAX + 1.
 */
static const char *
ident_str(const uint8_t *id, size_t len, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t	i;

	for (i = 0; i < len && id[i] > ' ' && id[i] < 0x7f; i++)
		;
	if (len > IDENT_MAX)
		len = IDENT_MAX;
	if (i == len && len > 0) {
		memcpy(buf, id, len);
		buf[len] = '\0';
		return buf;
	}
	for (i = 0; i < len; i++) {
		buf[2 * i] = hex[id[i] >> 4];
		buf[2 * i + 1] = hex[id[i] & 15];
	}
	buf[2 * len] = '\0';
	return buf;
}

/* "IDENTITY (pid N)" for logs: the identity names it, a pid helps. */
static const char *
worker_name(const struct wrk *wk, char *buf)
{
	size_t	n;

	ident_str(wk->id, wk->idlen, buf);
	n = strlen(buf);
	if (wk->pid != 0)
		snprintf(buf + n, NAME_MAX_LEN - n, " (pid %d)", (int)wk->pid);
	return buf;
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
	wk->sock = b->from;
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
	stats_redispatched(b->set.stats);
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
	char		 name[NAME_MAX_LEN];
	int		 k, n = 0, i;

	for (k = 0; k < wk->nheld; k++)
		n += held_live(b, w, &wk->held[k]);
	log_info("worker %s %s: forgotten%s", worker_name(wk, name), why,
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
	struct proto_field	 f[PROTO_MAX_FIELDS];
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
			log_warnx("a job over the message limit (a field over "
			    "%d bytes, or %d in all): refused", PROTO_MAX_VALUE,
			    PROTO_MAX_FRAME);
			complete(b, i, JOB_UNAVAILABLE);
			continue;
		}
		if ((w = pick_worker(b, &b->slots[i])) == -1)
			break;
		wk = &b->workers[w];
		if (proto_send(wk->sock, wk->id, wk->idlen, PROTO_JOB, f,
		    n) == -1) {
			/* Its connection is gone: it died. */
			worker_forget(b, w, "unreachable", 0);
			continue;
		}
		queue_remove(b, i);
		/* Submitted request_timeout before its deadline. */
		stats_queue_wait(b->set.stats, (double)(now + (uint64_t)
		    b->set.request_timeout_ms - b->slots[i].deadline) / 1e3);
		if (wk->nheld == 0)
			wk->started = wk->progress = now;
		wk->held[wk->nheld++] = (struct held){ i, b->slots[i].gen };
		wk->alone = b->slots[i].suspect;
		b->slots[i].worker = w;
		b->slots[i].attempts++;
	}
}

/* ---- messages from workers -------------------------------------------- */

/* The job a REPLY or PROGRESS names, as (slot, gen); -1 if none. */
static int
job_of(struct broker *b, const struct proto_msg *m, uint32_t v[2])
{
	const void	*idp;
	size_t		 len;

	if ((idp = proto_get(m, "job", &len)) == NULL ||
	    len != PROTO_JOB_ID_LEN)
		return -1;
	memcpy(v, idp, PROTO_JOB_ID_LEN);
	return v[0] < (uint32_t)b->limit ? 0 : -1;
}

static void
on_reply(struct broker *b, int w, struct proto_msg *m, uint64_t now)
{
	struct wrk	*wk = &b->workers[w];
	char		 name[NAME_MAX_LEN];
	uint32_t	 v[2];
	struct slot	*s;
	struct job	*job;

	if (job_of(b, m, v) == -1) {
		log_warnx("worker %s: REPLY without a valid job id",
		    worker_name(wk, name));
		return;
	}
	/*
	 * Only the worker a job was sent to answers it.  A REPLY naming any
	 * other (a second answer, or another worker's job or a queued one,
	 * whose id a worker can guess from its own) would hand a client an
	 * answer minted for someone else.  A worker that is back after it
	 * was forgotten may still send late replies for jobs it had before:
	 * so this is info, not a warning.
	 */
	if (!held_remove(wk, (int)v[0], v[1])) {
		log_info("worker %s: REPLY for a job it does not hold: dropped",
		    worker_name(wk, name));
		return;
	}
	/* The worker moves on to its next job, if it holds one. */
	wk->started = wk->progress = now;
	if (wk->nheld == 0)
		wk->alone = 0;
	s = &b->slots[v[0]];
	if (s->job == NULL || s->gen != v[1])
		return;		/* timed out */
	job = s->job;
	job->worker_pid = wk->pid;
	proto_msg_move(&job->reply, m);
	complete(b, (int)v[0], JOB_REPLIED);
}

/*
 * PROGRESS: the worker is still on a job it holds (a database call, a key
 * fetch), so it is not hung.  It counts until request_timeout after the
 * worker started that job: past its deadline the job has been answered
 * 504, and a worker still at it is taken for hung one liveness later
 * whatever it says (docs/protocol.md, "The hung-worker rule").
 */
static void
on_progress(struct broker *b, int w, const struct proto_msg *m, uint64_t now)
{
	struct wrk	*wk = &b->workers[w];
	uint32_t	 v[2];
	int		 k;

	/* A worker on a long job hears from the broker all the same. */
	if (proto_send(wk->sock, wk->id, wk->idlen, PROTO_HEARTBEAT, NULL,
	    0) == -1) {
		worker_forget(b, w, "unreachable", 0);
		return;
	}
	if (job_of(b, m, v) == -1)
		return;
	for (k = 0; k < wk->nheld; k++)
		if (wk->held[k].slot == (int)v[0] && wk->held[k].gen == v[1])
			break;
	if (k < wk->nheld &&
	    now - wk->started < (uint64_t)b->set.request_timeout_ms)
		wk->progress = now;
}

/* Remembers a refused peer; returns whether it was already known. */
static int
refused_before(struct broker *b, const void *id, size_t len)
{
	struct refused	*r;
	int		 i;

	if (len > IDENT_MAX)
		len = IDENT_MAX;
	for (i = 0; i < REFUSED_MAX && i < b->nrefused; i++)
		if (b->refused[i].idlen == len &&
		    memcmp(b->refused[i].id, id, len) == 0)
			return 1;
	r = &b->refused[b->nrefused++ % REFUSED_MAX];
	memcpy(r->id, id, len);
	r->idlen = len;
	return 0;
}

/*
 * Refuses a peer that speaks no version of ours: peer says what it
 * offered.  The answer goes in the layout of the version its header
 * named when that is version 1, so that a version-1 worker can read why;
 * it is sent to every READY and to the first message of another kind, and
 * logged once per peer.
 */
static void
refuse(struct broker *b, const struct proto_msg *m, const char *peer)
{
	char		 reason[200], ident[2 * IDENT_MAX + 1];
	const void	*id;
	size_t		 idlen;
	int		 known;

	id = proto_ident(m, &idlen);
	snprintf(reason, sizeof(reason), "this front speaks worker protocol "
	    "version %s; the worker offered %s", PROTO_VERSIONS, peer);
	known = refused_before(b, id, idlen);
	if (!known)
		log_warnx("worker %s refused: %s", ident_str(id, idlen, ident),
		    reason);
	if (known && m->cmd != PROTO_READY)
		return;
	struct proto_field f[] = {
		PROTO_FIELD_STR("versions", PROTO_VERSIONS),
		PROTO_FIELD_STR("peer_versions", peer),
		PROTO_FIELD_STR("reason", reason),
	};
	(void)(m->version == 1 ? proto_send_v1 : proto_send)(b->from, id,
	    idlen, PROTO_REFUSE, f, 3);
}

/* What a peer offered, for a refusal: printable, bounded. */
static const char *
offered(const struct proto_msg *m, char *buf, size_t len)
{
	const char	*v;
	size_t		 vlen, i;

	if (m->version != PROTO_VERSION) {
		snprintf(buf, len, "version %d%s", m->version, m->version == 1 ?
		    " (it names no versions)" : "");
		return buf;
	}
	if ((v = proto_get(m, "versions", &vlen)) == NULL) {
		snprintf(buf, len, "no versions field");
		return buf;
	}
	for (i = 0; i < vlen && i + 1 < len && v[i] >= ' ' && v[i] < 0x7f;
	    i++)
		buf[i] = v[i];
	buf[i] = '\0';
	return buf;
}

/*
 * READY's pid (for death notices) and credit, which the settings cap; a
 * credit that is not a number of 1 or more counts as 1, as an absent one
 * does.  A credit not granted as asked is logged: that worker is sent
 * fewer jobs at once than it says it takes.
 */
static void
worker_describe(struct broker *b, int w, const struct proto_msg *m)
{
	struct wrk	*wk = &b->workers[w];
	char		 name[NAME_MAX_LEN];
	const char	*asked;
	size_t		 len;
	long		 v;
	int		 number;

	/* A pid means something on this host only (docs/protocol.md). */
	wk->pid = wk->sock == b->router &&
	    proto_get_long(m, "pid", 1, INT_MAX, &v) == 0 ? (pid_t)v : 0;
	number = proto_get_long(m, "credit", 1, LONG_MAX / 2, &v) == 0;
	if (!number)
		v = 1;
	wk->credit = v > b->set.credit ? b->set.credit : (int)v;
	if (wk->credit > MAX_CREDIT)	/* the size of held[] */
		wk->credit = MAX_CREDIT;
	if ((asked = proto_get(m, "credit", &len)) != NULL &&
	    (!number || wk->credit != v))
		log_info("worker %s asked for a credit of %.*s: given %d",
		    worker_name(wk, name), len > 24 ? 24 : (int)len, asked,
		    wk->credit);
}

/* The answer to a READY the broker can serve. */
static void
welcome(struct broker *b, int w)
{
	struct wrk	*wk = &b->workers[w];
	char		 version[8], hb[16], live[16], credit[16], timeout[16];

	snprintf(version, sizeof(version), "%d", PROTO_VERSION);
	snprintf(hb, sizeof(hb), "%d", b->set.heartbeat_ms);
	snprintf(live, sizeof(live), "%d", b->set.heartbeat_liveness);
	snprintf(credit, sizeof(credit), "%d", wk->credit);
	snprintf(timeout, sizeof(timeout), "%d", b->set.request_timeout_ms);
	struct proto_field f[] = {
		PROTO_FIELD_STR("version", version),
		PROTO_FIELD_STR("heartbeat_interval", hb),
		PROTO_FIELD_STR("heartbeat_liveness", live),
		PROTO_FIELD_STR("credit", credit),
		PROTO_FIELD_STR("request_timeout", timeout),
	};

	if (proto_send(wk->sock, wk->id, wk->idlen, PROTO_WELCOME, f, 5) == -1)
		worker_forget(b, w, "unreachable", 1);
}

/*
 * The CURVE key a message from the remote socket came with: ZAP's user id
 * (zap.c), which libzmq attaches to every message of the connection.
 */
static const char *
sender_key(const struct proto_msg *m)
{
	const char	*key;

	if (m->nframes < 2 ||
	    (key = zmq_msg_gets((zmq_msg_t *)&m->frames[1], "User-Id")) ==
	    NULL)
		return "";
	return key;
}

/*
 * Whether a message read from the remote socket may be heard.  ZAP
 * checked the key at the handshake, but a key taken out of
 * authorized_keys since leaves its connections up (libzmq cannot close
 * one peer of a ROUTER): broker_set_keys() forgets the workers that used
 * it, and from then on what such a connection says is dropped unheard,
 * READY included, and unanswered, so that the worker finds the front
 * silent, reconnects, and is refused by ZAP.  A worker known on this
 * socket was checked at its READY and at every change of the keys.
 */
static int
admitted(struct broker *b, const struct proto_msg *m, uint64_t now)
{
	const void	*id;
	const char	*key;
	char		 ident[2 * IDENT_MAX + 1], peer[2 * IDENT_MAX + 64];
	size_t		 idlen;
	unsigned	 skipped;

	if (b->from != b->remote)
		return 1;
	id = proto_ident(m, &idlen);
	if (m->cmd != PROTO_READY && worker_find(b, id, idlen) != -1)
		return 1;
	key = sender_key(m);
	if (authkeys_find_z85(zap_keys(b->zap), key) != NULL)
		return 1;
	ident_str(id, idlen, ident);
	snprintf(peer, sizeof(peer), "%s %s", ident, key);
	if (zap_may_log(b->zap, peer, now, &skipped))
		log_warnx("remote worker %s: its key %s is no longer in "
		    "authorized_keys: ignored", ident, key);
	return 0;
}

/* READY from worker w, or from a peer not yet known (w == -1). */
static void
on_ready(struct broker *b, int w, const struct proto_msg *m, uint64_t now)
{
	const void	*id, *versions;
	char		 peer[64];
	size_t		 idlen, vlen;

	id = proto_ident(m, &idlen);
	versions = proto_get(m, "versions", &vlen);
	if (w != -1 && b->workers[w].nheld > 0) {
		/*
		 * Its identity is its incarnation's, so this is the same
		 * process, back on a new connection: what the old one
		 * carried is lost.  That connection may have broken on one
		 * of these jobs, so they count as if it had died (a job
		 * that keeps breaking connections is given up like one that
		 * kills workers).
		 */
		worker_forget(b, w, "reconnected", 0);
		w = -1;
	}
	if (proto_pick_version(versions, vlen) != PROTO_VERSION) {
		if (w != -1)
			worker_forget(b, w, "refused", 1);
		refuse(b, m, offered(m, peer, sizeof(peer)));
		return;
	}
	if (w == -1 && (w = worker_add(b, id, idlen, now)) == -1)
		return;
	if (b->from == b->remote)
		snprintf(b->workers[w].key, sizeof(b->workers[w].key), "%s",
		    sender_key(m));
	b->workers[w].seen = now;
	worker_describe(b, w, m);
	welcome(b, w);
}

static void
on_worker_message(struct broker *b, struct proto_msg *m, uint64_t now)
{
	const void	*id;
	size_t		 idlen;
	int		 w;

	id = proto_ident(m, &idlen);
	w = worker_find(b, id, idlen);
	if (m->cmd == PROTO_READY) {
		on_ready(b, w, m, now);
		return;
	}
	if (w == -1) {
		/*
		 * A worker this broker never welcomed (the front restarted)
		 * or forgot (hung, silent): its jobs, if any, went elsewhere.
		 * It must say READY to be given jobs again.
		 */
		if (m->cmd != PROTO_BYE)
			(void)proto_send(b->from, id, idlen, PROTO_RESYNC,
			    NULL, 0);
		return;
	}
	b->workers[w].seen = now;
	switch (m->cmd) {
	case PROTO_HEARTBEAT:
		/* A worker's figures, if it sent any (pool/stats.h). */
		stats_heartbeat(b->set.stats, id, idlen, m, now);
		break;
	case PROTO_REPLY:
		on_reply(b, w, m, now);
		break;
	case PROTO_PROGRESS:
		on_progress(b, w, m, now);
		break;
	case PROTO_BYE:
		worker_forget(b, w, "left", 1);
		break;
	default: {
		char name[NAME_MAX_LEN];

		log_warnx("worker %s: unknown command %d",
		    worker_name(&b->workers[w], name), m->cmd);
		break;
	}
	}
}

/*
 * Who sent m, for a log line: a worker the broker knows by its name, any
 * other peer by its identity.  buf has room for NAME_MAX_LEN.
 */
static const char *
sender_name(struct broker *b, const struct proto_msg *m, char *buf)
{
	const void	*id;
	size_t		 idlen;
	int		 w;

	id = proto_ident(m, &idlen);
	if ((w = worker_find(b, id, idlen)) != -1)
		return worker_name(&b->workers[w], buf);
	return ident_str(id, idlen, buf);
}

static void
read_socket(struct broker *b, void *sock, uint64_t now)
{
	struct proto_msg	*m = &b->msg;
	const char		*why;
	char			 peer[64], name[NAME_MAX_LEN];
	int			 n, rc;

	b->from = sock;
	for (n = 0; n < READ_BATCH; n++) {
		rc = proto_recv(sock, 1, 1, m, &why);
		if (rc == -1)
			break;
		if (!admitted(b, m, now))
			;	/* a key no longer authorized: unheard */
		else if (rc == 1 && m->version != 0 &&
		    m->version != PROTO_VERSION)
			refuse(b, m, offered(m, peer, sizeof(peer)));
		else if (rc == 1)
			/* Dropped; a worker that sent it keeps its jobs. */
			log_warnx("malformed message from worker %s: %s",
			    sender_name(b, m, name), why);
		else
			on_worker_message(b, m, now);
		proto_msg_close(m);
	}
}

void
broker_read(struct broker *b, uint64_t now)
{
	read_socket(b, b->router, now);
	if (b->remote != NULL) {
		/* Handshakes first: a worker admitted now may say READY. */
		zap_read(b->zap, now);
		read_socket(b, b->remote, now);
	}
}

size_t
broker_sockets(struct broker *b, void **socks, size_t max)
{
	size_t	n = 0;

	if (n < max)
		socks[n++] = b->router;
	if (b->remote != NULL && max >= 4) {
		socks[n++] = b->remote;
		socks[n++] = zap_socket(b->zap);
		socks[n++] = zap_monitor(b->zap);
	}
	return n;
}

void
broker_set_keys(struct broker *b, struct authkeys *keys)
{
	const struct authkey	*k;
	struct wrk		*wk;
	char			 why[160];
	int			 w;

	if (b->zap == NULL) {
		authkeys_free(keys);
		return;
	}
	log_info("authorized_keys: %zu keys (%zu before)", keys->n,
	    zap_keys(b->zap)->n);
	zap_set_keys(b->zap, keys);
	for (w = 0; w < b->nworkers; w++) {
		wk = &b->workers[w];
		if (!wk->used || wk->sock != b->remote ||
		    (k = authkeys_find_z85(zap_keys(b->zap), wk->key)) != NULL)
			continue;
		snprintf(why, sizeof(why), "cut off (its key %s left "
		    "authorized_keys)", wk->key);
		/* Not its doing: its jobs count nothing against them. */
		worker_forget(b, w, why, 1);
	}
}

void
broker_worker_died(struct broker *b, pid_t pid, int clean)
{
	int	w;

	/* Pids name local workers only, as their READY said; 0 is none. */
	if (pid <= 0)
		return;
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

	dead = (uint64_t)b->set.heartbeat_ms *
	    (uint64_t)b->set.heartbeat_liveness;
	for (w = 0; w < b->nworkers; w++) {
		wk = &b->workers[w];
		if (!wk->used)
			continue;
		/*
		 * A worker busy on a job may send nothing; one on the same
		 * job for longer than a silent worker may be, PROGRESS
		 * aside, is taken for hung.  Jobs that timed out still
		 * count: the worker is on them.
		 */
		if (wk->nheld > 0) {
			if (now - wk->progress > dead) {
				stats_restart(b->set.stats, STATS_HANG);
				worker_forget(b, w, "hung on a job", 0);
			}
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
	b->next_beat = now + (uint64_t)b->set.heartbeat_ms;
	/*
	 * Idle workers only: a busy one hears JOBs, or HEARTBEATs answering
	 * its PROGRESS; and a worker that lost its connection while busy
	 * comes back with READY, which names what happened.
	 */
	for (w = 0; w < b->nworkers; w++)
		if (b->workers[w].used && b->workers[w].nheld == 0 &&
		    proto_send(b->workers[w].sock, b->workers[w].id,
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
	if (b->stopped || (b->queued >= b->set.queue_limit &&
	    b->queued >= b->set.queue_limit + room(b)) ||
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

void
broker_census(struct broker *b, uint64_t now, struct pool_census *c)
{
	const struct wrk	*wk;
	uint64_t		 lost = 2 * (uint64_t)b->set.heartbeat_ms;
	int			 w, state;

	memset(c, 0, sizeof(*c));
	for (w = 0; w < b->nworkers; w++) {
		wk = &b->workers[w];
		if (!wk->used)
			continue;
		state = now - wk->seen > lost ? STATS_LOST : wk->nheld > 0 ?
		    STATS_BUSY : STATS_IDLE;
		/* Local: on this host's ipc socket; remote: [remote]'s TCP. */
		c->workers[state][wk->sock == b->router ? STATS_LOCAL :
		    STATS_REMOTE]++;
	}
	c->queued = b->queued;
	c->inflight = b->inflight;
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
broker_bind(struct broker *b, const char *runtime_dir)
{
	char	endpoint[160], path[140];
	int	one = 1;

	if ((b->ctx = zmq_ctx_new()) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", runtime_dir, PROTO_ENDPOINT);
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

/*
 * The CURVE TCP endpoint for remote workers: a ROUTER of its own, since
 * CURVE is set per socket (the ipc one stays as it is), and its ZAP gate,
 * bound first: libzmq admits any key while no ZAP handler is bound.  The
 * options keep the exposed port cheap to whoever reaches it
 * (docs/security.md, "The remote workers' port"): the message limit of
 * every socket (proto_sockopts()); a handshake that must end in
 * handshake_ms; ZMTP heartbeats that drop a peer silent for the liveness
 * (HEARTBEAT_TTL tells the worker's side the same); high-water marks of
 * hwm messages each way per peer, so a peer can make the front hold at
 * most hwm x PROTO_MAX_FRAME bytes it sent; and no blocking send: a peer
 * that does not read is forgotten when its queue is full, never waited
 * for.
 */
static int
broker_bind_remote(struct broker *b, const struct broker_settings *set)
{
	uint8_t	secret[CURVE_KEY_LEN];
	int	one = 1, zero = 0, hs = set->handshake_ms;
	int	hb = set->heartbeat_ms, hwm = set->peer_queue;
	int	dead = set->heartbeat_ms * set->heartbeat_liveness;
	int	rc;

	if ((b->zap = zap_new(b->ctx, set->remote_keys)) == NULL)
		return -1;
	if (curve_key_decode(set->remote_secret, strlen(set->remote_secret),
	    secret) == -1) {
		log_warnx("remote: the secret key is not a Z85 CURVE key");
		return -1;
	}
	rc = (b->remote = zmq_socket(b->ctx, ZMQ_ROUTER)) == NULL ||
	    proto_sockopts(b->remote) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_ROUTER_MANDATORY, &one,
	    sizeof(one)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_ROUTER_HANDOVER, &one,
	    sizeof(one)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_CURVE_SERVER, &one,
	    sizeof(one)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_CURVE_SECRETKEY, secret,
	    sizeof(secret)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_HANDSHAKE_IVL, &hs,
	    sizeof(hs)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_HEARTBEAT_IVL, &hb,
	    sizeof(hb)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_HEARTBEAT_TIMEOUT, &dead,
	    sizeof(dead)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_HEARTBEAT_TTL, &dead,
	    sizeof(dead)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_RCVHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(b->remote, ZMQ_SNDTIMEO, &zero,
	    sizeof(zero)) == -1 ||
	    zap_watch(b->zap, b->remote) == -1 ||
	    zmq_bind(b->remote, set->remote_listen) == -1 ? -1 : 0;
	explicit_bzero(secret, sizeof(secret));
	if (rc == -1)
		log_warnx("bind %s: %s", set->remote_listen,
		    zmq_strerror(errno));
	else
		log_info("remote workers: CURVE on %s, %zu authorized keys",
		    set->remote_listen, zap_keys(b->zap)->n);
	return rc;
}

static int
broker_alloc(struct broker *b)
{
	uint32_t	gen;
	int		i;

	/*
	 * Every job queued or held is in a slot: queue_limit waiting, plus
	 * what the workers hold, which a reload that adds workers may raise.
	 */
	b->limit = b->set.queue_limit + MAX_HELD;
	if ((b->slots = calloc((size_t)b->limit, sizeof(*b->slots))) == NULL)
		return -1;
	/*
	 * Generations start anywhere, so that a REPLY meant for an earlier
	 * front (still queued in a worker when this one started) cannot
	 * match a job of this one.
	 */
	if (getrandom(&gen, sizeof(gen), GRND_NONBLOCK) != sizeof(gen))
		gen = (uint32_t)mono_ms() * 2654435761u;
	for (i = 0; i < b->limit; i++) {
		b->slots[i].free_next = i + 1 < b->limit ? i + 1 : -1;
		b->slots[i].gen = gen;
	}
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
	if (b->remote != NULL) {
		zmq_socket_monitor(b->remote, NULL, 0);
		zmq_close(b->remote);
	}
	zap_free(b->zap);
	if (b->ctx != NULL)
		zmq_ctx_term(b->ctx);
	free(b->slots);
	free(b);
}

struct broker *
broker_new(const struct broker_settings *set, job_done_fn done)
{
	struct broker	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->set = *set;
	b->set.runtime_dir = NULL;	/* the caller's: used here only */
	b->set.remote_listen = NULL;
	b->set.remote_secret = NULL;
	b->set.remote_keys = NULL;
	b->done = done;
	b->next_beat = mono_ms() + (uint64_t)set->heartbeat_ms;
	if (broker_alloc(b) == -1 || broker_bind(b, set->runtime_dir) == -1 ||
	    (set->remote_listen != NULL &&
	    broker_bind_remote(b, set) == -1)) {
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
