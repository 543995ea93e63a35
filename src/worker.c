/*
 * worker.c - the worker process loop.
 *
 * A worker owns one DEALER socket connected to the broker's ROUTER over
 * ipc, or on a worker host (tokend --worker, [remote] connect) over TCP
 * with CURVE: this host's key pair and the front's public key, and then
 * the same messages.  It says READY with the protocol versions it speaks and its credit
 * (worker_credit: how many jobs the broker may send it at once; they wait
 * in the socket, so the worker goes from one to the next without
 * sleeping).  The broker answers WELCOME, whose heartbeat settings the
 * worker then keeps to, or REFUSE: a front of another protocol version,
 * which no restart of this worker can fix, so it logs both sides' versions
 * and exits with EXIT_FATAL, which the supervisor never respawns (no
 * respawn loop; the log says what to upgrade).  RESYNC (the broker does
 * not know it: the front restarted, or took it for hung) is answered with
 * READY.  Then it answers every JOB, in the order received, with exactly
 * one REPLY, and sends a HEARTBEAT whenever it has been quiet for an
 * interval.  The broker heartbeats back; if it stays silent for
 * heartbeat_liveness intervals (the front died or restarted), the worker
 * drops its socket and connects afresh, so a restarted front finds its
 * pool again without the supervisor's help.  Its jobs are bounded below
 * the hung-worker limit (worker.h), so it never needs PROGRESS.
 *
 * Each incarnation connects under a routing identity of its own (pid,
 * start time, random bytes), the same across its reconnects, so the broker
 * knows a READY on a new connection for the worker it had.  A connection
 * is taken for gone when ZeroMQ reports it dropped (a socket monitor),
 * when a send cannot leave within heartbeat_interval (every send is
 * bounded: a worker whose connection broke on an oversize frame once
 * blocked in a send forever), or when the broker stays silent; then the
 * worker drops the socket, with the jobs still in it, and connects afresh
 * with a READY, and the broker dispatches those jobs again.
 *
 * If the broker stays away for orphan_timeout the worker exits, and the
 * supervisor starts a fresh one.  After max_jobs jobs, or once its peak
 * resident size passes max_rss, a worker finishes the job in hand, says
 * BYE and exits with EXIT_RECYCLE; the supervisor replaces it at once.
 *
 * All crypto happens here, through mint_token(); the loop itself only
 * decodes, dispatches and encodes.
 */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zmq.h>

#include "core/clock.h"
#include "config.h"
#include "identity/fxa.h"
#include "identity/keys.h"
#include "core/log.h"
#include "mint.h"
#include "pool/curve.h"
#include "pool/protocol.h"
#include "pool/stats.h"
#include "core/procstat.h"
#include "sandbox.h"
#include "tokens/service.h"

/*
 * Replies wait in the outbox while more jobs are waiting in the socket, up
 * to OUTBOX_MAX of them or OUTBOX_MS: then they leave back to back, and
 * ZeroMQ's I/O thread (here and in the front) wakes once for them all
 * instead of once each.  Wake-ups are most of what a job costs beyond its
 * crypto (docs/performance.md).
 */
#define OUTBOX_MAX	16
#define OUTBOX_MS	WORKER_OUTBOX_MS

/*
 * ZeroMQ retries a dropped connection after RECONNECT_MS; a fresh socket
 * after a lost connection is made no sooner either, so a front that keeps
 * dropping workers cannot make them spin.
 */
#define RECONNECT_MS	100
#define IDENT_LEN	48	/* "pid-boottime-random", hex */

struct reply {
	uint8_t			 job[PROTO_JOB_ID_LEN];
	struct mint_result	 res;	/* res.error set: an error reply */
};

struct worker {
	const struct config	*cfg;
	int			 index;
	void			*ctx;
	void			*sock;
	void			*monitor;	/* sock's events: PAIR */
	unsigned		 connects;	/* sockets made, names monitors */
	int			 sigfd;
	char			 endpoint[300];
	int			 remote;	/* a worker host's: CURVE TCP */
	char			 ident[IDENT_LEN];	/* routing identity */
	char			 pid[16];	/* decimal, for READY */
	char			 credit[16];	/* jobs it takes at once */
	int			 welcomed;	/* WELCOME since the last READY */
	uint64_t		 ready_sent;	/* mono ms of the last READY */
	long			 hb_ms;		/* heartbeat interval, as the */
	long			 liveness;	/* broker's WELCOME said */
	uint64_t		 last_sent;	/* mono ms */
	uint64_t		 broker_seen;	/* mono ms */
	uint64_t		 lost_since;	/* mono ms, 0 while in touch */
	uint64_t		 connected;	/* mono ms of the last socket */
	int			 lost;		/* the connection is gone */
	uint64_t		 auth_logged;	/* mono ms: auth_failed() */
	long			 jobs;
	struct reply		 outbox[OUTBOX_MAX];
	int			 noutbox;
	uint64_t		 outbox_since;	/* mono ms of the oldest */
	int			 quit;
	int			 exit_code;
	/* Figures for the front, sent with a HEARTBEAT (pool/stats.h). */
	struct wstats		 stats;
	const char		**service_names;
	int			 procfd;	/* /proc/self/stat */
	uint64_t		 stats_sent;	/* mono ms; 0: send now */
	/* The node-assignment database, for nodes = database services. */
	struct mint_db		 db;
	/*
	 * Whether it answered its last call: -1 no such service (never
	 * asked), 0 down or not reachable, 1 up.  For heartbeats and health.
	 */
	int			 db_state;
};

static int
send_msg(struct worker *w, int cmd, const struct proto_field *f, size_t n)
{
	w->last_sent = mono_ms();
	if (proto_send(w->sock, NULL, 0, cmd, f, n) == -1) {
		/* EAGAIN: ZMQ_SNDTIMEO passed, there is no connection. */
		log_warnx("send to the front: %s: reconnecting",
		    zmq_strerror(errno));
		w->lost = 1;
		return -1;
	}
	return 0;
}

static void
worker_disconnect(struct worker *w)
{
	if (w->sock != NULL) {
		zmq_socket_monitor(w->sock, NULL, 0);
		zmq_close(w->sock);
		w->sock = NULL;
	}
	if (w->monitor != NULL) {
		zmq_close(w->monitor);
		w->monitor = NULL;
	}
}

/* READY: what it speaks, who it is (the pid for death notices), credit. */
static void
say_ready(struct worker *w)
{
	char	idx[16];

	snprintf(idx, sizeof(idx), "%d", w->index);
	struct proto_field f[] = {
		PROTO_FIELD_STR("versions", PROTO_VERSIONS),
		PROTO_FIELD_STR("credit", w->credit),
		PROTO_FIELD_STR("worker", idx),
		PROTO_FIELD_STR("pid", w->pid),
	};

	w->welcomed = 0;
	/* A pid names a process of the front's host only: not a remote's. */
	send_msg(w, PROTO_READY, f, w->remote ? 3 : 4);
	w->ready_sent = w->last_sent;
}

/*
 * A worker host's socket: CURVE with this host's key pair and the
 * front's public key, a bounded handshake, and ZMTP heartbeats that find
 * a dead TCP peer (docs/security.md, "The remote workers' port").
 */
static int
remote_sockopts(struct worker *w)
{
	const struct remote_config	*r = &w->cfg->remote;
	int				 hs = r->handshake_ms;
	int				 hb = (int)w->hb_ms;
	int				 dead = (int)(w->hb_ms * w->liveness);

	return zmq_setsockopt(w->sock, ZMQ_CURVE_SERVERKEY, r->server_key,
	    CURVE_Z85_LEN) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_CURVE_PUBLICKEY, r->public_key,
	    CURVE_Z85_LEN) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_CURVE_SECRETKEY, r->secret_key,
	    CURVE_Z85_LEN) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_HANDSHAKE_IVL, &hs, sizeof(hs)) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_TIMEOUT, &dead,
	    sizeof(dead)) == -1 ? -1 : 0;
}

/*
 * A fresh socket, watched by a monitor for the connection dropping, then
 * READY.  Returns -1 if the sockets cannot be made; a READY that cannot
 * leave only marks the connection lost again.
 */
static int
worker_connect(struct worker *w)
{
	char	mon[64];
	int	ivl = RECONNECT_MS, sndtimeo = (int)w->hb_ms;

	worker_disconnect(w);
	w->lost = 0;
	w->connected = mono_ms();
	/* A name of its own: the old monitor may not be unbound yet. */
	snprintf(mon, sizeof(mon), "inproc://monitor.%u", ++w->connects);
	if ((w->sock = zmq_socket(w->ctx, ZMQ_DEALER)) == NULL ||
	    proto_sockopts(w->sock) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_RECONNECT_IVL, &ivl,
	    sizeof(ivl)) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_SNDTIMEO, &sndtimeo,
	    sizeof(sndtimeo)) == -1 ||
	    zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->ident,
	    strlen(w->ident)) == -1 ||
	    (w->remote && remote_sockopts(w) == -1) ||
	    zmq_socket_monitor(w->sock, mon, ZMQ_EVENT_DISCONNECTED |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == -1 ||
	    (w->monitor = zmq_socket(w->ctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(w->monitor, mon) == -1 ||
	    zmq_connect(w->sock, w->endpoint) == -1) {
		log_warnx("connect %s: %s", w->endpoint, zmq_strerror(errno));
		worker_disconnect(w);
		return -1;
	}
	w->broker_seen = w->connected;
	say_ready(w);
	return 0;
}

/* Connects afresh; a worker that cannot make a socket exits. */
static void
reconnect(struct worker *w)
{
	if (worker_connect(w) == -1) {
		w->quit = 1;
		w->exit_code = 1;
	}
}

/*
 * The front refused this host's key (not in its authorized_keys), or the
 * handshake failed (a wrong server_public_key): logged once a minute, as
 * ZeroMQ retries every RECONNECT_MS.
 */
static void
auth_failed(struct worker *w, uint16_t event)
{
	uint64_t	now = mono_ms();

	if (w->auth_logged != 0 && now - w->auth_logged < 60000)
		return;
	w->auth_logged = now;
	log_warnx("the front at %s refused this host's CURVE handshake: %s",
	    w->endpoint, event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "its "
	    "public key is not in the front's authorized_keys" : "is "
	    "server_public_key the front's?");
}

/* Reads the monitor's events: a dropped connection marks it lost. */
static void
handle_monitor(struct worker *w)
{
	zmq_msg_t	 ev;
	uint16_t	 event;
	int		 more;
	size_t		 morelen;

	zmq_msg_init(&ev);
	while (zmq_msg_recv(&ev, w->monitor, ZMQ_DONTWAIT) != -1) {
		/* Frame 1: event (16 bits) and value; frame 2: endpoint. */
		if (zmq_msg_size(&ev) >= sizeof(event)) {
			memcpy(&event, zmq_msg_data(&ev), sizeof(event));
			/* ZeroMQ retries; the operator must act: say so. */
			if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
			    event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
				auth_failed(w, event);
			if (event == ZMQ_EVENT_DISCONNECTED && !w->lost) {
				log_info("connection to the front dropped: "
				    "reconnecting");
				w->lost = 1;
			}
		}
		morelen = sizeof(more);
		while (zmq_getsockopt(w->monitor, ZMQ_RCVMORE, &more,
		    &morelen) == 0 && more &&
		    zmq_msg_recv(&ev, w->monitor, 0) != -1)
			morelen = sizeof(more);
	}
	zmq_msg_close(&ev);
}

/* strlen(s), at most max: the protocol bounds the error fields. */
static size_t
cut(const char *s, size_t max)
{
	size_t	n = strlen(s);

	return n > max ? max : n;
}

static int
reply_error(struct worker *w, const struct reply *r)
{
	struct proto_field f[] = {
		PROTO_FIELD("job", r->job, PROTO_JOB_ID_LEN),
		PROTO_FIELD("error", r->res.error,
		    cut(r->res.error, PROTO_ERR_MAX)),
		PROTO_FIELD("name", r->res.error_name,
		    cut(r->res.error_name, PROTO_ERR_NAME_MAX)),
		PROTO_FIELD("description", r->res.description,
		    cut(r->res.description, PROTO_ERR_DESCRIPTION_MAX)),
	};

	return send_msg(w, PROTO_REPLY, f, 4);
}

static int
reply_token(struct worker *w, const struct reply *rp)
{
	const struct mint_result *r = &rp->res;
	char	uid[24], duration[24], expires[24];

	snprintf(uid, sizeof(uid), "%" PRIu64, r->uid);
	snprintf(duration, sizeof(duration), "%" PRId64, r->duration);
	snprintf(expires, sizeof(expires), "%" PRId64, r->expires);
	struct proto_field f[] = {
		PROTO_FIELD("job", rp->job, PROTO_JOB_ID_LEN),
		PROTO_FIELD_STR("id", r->token),
		PROTO_FIELD_STR("key", r->key),
		PROTO_FIELD_STR("uid", uid),
		PROTO_FIELD_STR("api_endpoint", r->api_endpoint),
		PROTO_FIELD_STR("duration", duration),
		PROTO_FIELD_STR("expires", expires),
		PROTO_FIELD_STR("hashalg", "sha256"),
		/* A nodes = database service's: Mozilla's fields. */
		PROTO_FIELD_STR("hashed_fxa_uid", r->hashed_fxa_uid),
		PROTO_FIELD_STR("node_type", r->node_type ? r->node_type : ""),
	};

	return send_msg(w, PROTO_REPLY, f, r->node_type != NULL ?
	    sizeof(f) / sizeof(f[0]) : sizeof(f) / sizeof(f[0]) - 2);
}

/*
 * Sends every reply in the outbox, oldest first.  Once the connection is
 * lost the rest are dropped: the broker sends their jobs again.
 */
static void
outbox_flush(struct worker *w)
{
	int	i;

	for (i = 0; i < w->noutbox; i++) {
		if (!w->lost)
			(w->outbox[i].res.error != NULL ? reply_error :
			    reply_token)(w, &w->outbox[i]);
		/* The client's derived secret: gone once sent, or dropped. */
		OPENSSL_cleanse(w->outbox[i].res.key,
		    sizeof(w->outbox[i].res.key));
	}
	w->noutbox = 0;
}

/* The outbox's next entry, for the job with this id, received at now. */
static struct mint_result *
outbox_add(struct worker *w, const void *job, uint64_t now)
{
	struct reply	*r = &w->outbox[w->noutbox];

	if (w->noutbox++ == 0)
		w->outbox_since = now;
	memcpy(r->job, job, PROTO_JOB_ID_LEN);
	return &r->res;
}

static void
invalid(struct mint_result *res, const char *name, const char *description)
{
	memset(res, 0, sizeof(*res));
	res->error = PROTO_ERR_INVALID_REQUEST;
	res->error_name = name;
	res->description = description;
}

/*
 * An optional JOB field holding a decimal int64 of 1 to 19 digits, kept
 * exactly (above INT64_MAX is no int64): 0 absent, 1 read, -1 malformed.
 */
static int
job_i64(const struct proto_msg *m, const char *key, int64_t *v)
{
	const char	*p;
	size_t		 len, i;
	uint64_t	 acc = 0;

	*v = 0;
	if ((p = proto_get(m, key, &len)) == NULL)
		return 0;
	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		acc = acc * 10 + (uint64_t)(p[i] - '0');
	}
	if (acc > (uint64_t)INT64_MAX)
		return -1;
	*v = (int64_t)acc;
	return 1;
}

/* The JOB's key_id_error, one of docs/protocol.md's values, or NULL. */
static int
job_key_id_error(const struct proto_msg *m, const char **out)
{
	static const char *const known[] = { PROTO_KEYID_MISSING,
	    PROTO_KEYID_INVALID, PROTO_KEYID_MALFORMED, PROTO_KEYID_MISMATCH };
	const char	*v;
	size_t		 len, i;

	*out = NULL;
	if ((v = proto_get(m, "key_id_error", &len)) == NULL)
		return 0;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (len == strlen(known[i]) && memcmp(v, known[i], len) == 0) {
			*out = known[i];
			return 0;
		}
	return -1;
}

/* Lowercase hex of at most 32 digits into buf (33 bytes); -1 if not. */
static int
job_hex(const struct proto_msg *m, const char *key, char *buf)
{
	size_t	len;

	if (proto_get(m, key, &len) == NULL)
		return 0;
	if (proto_get_str(m, key, buf, 33) == -1 ||
	    strspn(buf, "0123456789abcdef") != len)
		return -1;
	return 1;
}

static void
handle_job(struct worker *w, const struct proto_msg *m)
{
	struct mint_request	 req;
	struct mint_result	*res;
	char			 client_state[33], key_client_state[33];
	const void		*job;
	size_t			 len;
	int			 rc;

	if ((job = proto_get(m, "job", &len)) == NULL ||
	    len != PROTO_JOB_ID_LEN) {
		log_warnx("JOB without a valid job id: dropped");
		return;
	}
	res = outbox_add(w, job, w->broker_seen);
	req.service = proto_get(m, "service", &req.service_len);
	req.assertion = proto_get(m, "assertion", &req.assertion_len);
	req.client_state = NULL;
	/* Which verifier, when the client said; mint sees only these two. */
	if ((req.kind = proto_get(m, "kind", &req.kind_len)) != NULL &&
	    !(req.kind_len == 3 && memcmp(req.kind, "jwt", 3) == 0) &&
	    !(req.kind_len == 9 && memcmp(req.kind, "browserid", 9) == 0))
		return invalid(res, "kind", "kind must be jwt or browserid");
	if ((rc = job_hex(m, "client_state", client_state)) == -1 ||
	    (rc == 1 && client_state[0] == '\0'))
		return invalid(res, "client_state", "client_state "
		    "must be 1 to 32 lowercase hex digits");
	if (rc == 1)
		req.client_state = client_state;
	/* GET /1.0's X-KeyID and ?duration= (docs/protocol.md). */
	req.key_client_state = NULL;
	if ((rc = job_hex(m, "key_client_state", key_client_state)) == -1)
		return invalid(res, "key_client_state", "key_client_state "
		    "must be 0 to 32 lowercase hex digits");
	if (rc == 1)
		req.key_client_state = key_client_state;
	if (job_i64(m, "keys_changed_at", &req.keys_changed_at) == -1)
		return invalid(res, "keys_changed_at", "keys_changed_at must "
		    "be a decimal int64");
	if (job_i64(m, "duration", &req.duration) == -1)
		return invalid(res, "duration", "duration must be a decimal "
		    "int64");
	if (job_key_id_error(m, &req.key_id_error) == -1)
		return invalid(res, "key_id_error", "key_id_error must be "
		    "missing, invalid, malformed or mismatch");
	req.db = &w->db;
	if (req.service == NULL)
		return invalid(res, "service", "missing service");
	if (req.assertion == NULL)
		return invalid(res, "assertion", "missing assertion");
	mint_token(w->cfg, &req, wall_s(), res);
	w->db_state = w->db.state;
	w->jobs++;
}

/* The index of the [service] a token was minted for, or (size_t)-1. */
static size_t
service_of(const struct worker *w, const struct service *svc)
{
	const struct service	*s;
	size_t			 i;

	for (i = 0; i < w->cfg->nservices; i++) {
		s = &w->cfg->services[i];
		if (svc == s || (s->nnodes > 0 && svc >= s->nodes &&
		    svc < s->nodes + s->nnodes))
			return i;
	}
	return (size_t)-1;
}

/*
 * A job, and with metrics on its time and outcome in the figures (two
 * clock reads of the vDSO; nothing is sent per job).
 */
static void
timed_job(struct worker *w, const struct proto_msg *m)
{
	const struct mint_result	*res;
	uint64_t			 t0;
	int				 n = w->noutbox;

	if (!w->stats.figures) {
		handle_job(w, m);
		return;
	}
	t0 = mono_us();
	handle_job(w, m);
	if (w->noutbox == n)
		return;		/* no valid job id: no job */
	res = &w->outbox[w->noutbox - 1].res;
	wstats_job(&w->stats, (double)(mono_us() - t0) / 1e6, res->error,
	    res->error == NULL ? service_of(w, res->svc) : (size_t)-1);
}

/*
 * A HEARTBEAT with this worker's figures, every heartbeat interval, busy
 * or not: the front's /__heartbeat__ and metrics read them.  Cumulative,
 * so one lost costs nothing.
 */
static void
send_figures(struct worker *w, uint64_t now)
{
	struct proto_field	f[WSTATS_FIELDS];
	size_t			n;

	w->stats.keys_missing = (long)keys_missing(w->cfg->issuers,
	    w->cfg->nissuers);
	keys_reloads(&w->stats.jwks[0], &w->stats.jwks[1]);
	w->stats.db_state = w->db_state;
	w->stats.db = w->db.time;
	(void)procstat_read(w->procfd, &w->stats.cpu_us, &w->stats.rss);
	n = wstats_fields(&w->stats, f);
	w->stats_sent = now;
	send_msg(w, PROTO_HEARTBEAT, f, n);
}

/*
 * The figures' state: the services' names (labels of tokens issued) and
 * the descriptor on /proc (opened before the sandbox).  Figures beyond
 * the health facts only with [metrics] listen set.
 */
static int
figures_setup(struct worker *w)
{
	const char	*format;
	size_t		 i, n = w->cfg->nservices;

	w->procfd = procstat_open(0);
	if ((w->service_names = calloc(n + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		w->service_names[i] = config_service_label(w->cfg, i, &format);
	return wstats_init(&w->stats, w->service_names, n,
	    w->cfg->metrics_listen != NULL);
}

/* Recycle after max_jobs: checked after every job. */
static void
check_jobs(struct worker *w)
{
	if (w->cfg->max_jobs > 0 && w->jobs >= w->cfg->max_jobs) {
		log_info("recycling after %ld jobs", w->jobs);
		w->quit = 1;
		w->exit_code = EXIT_RECYCLE;
	}
}

/*
 * Recycle once the peak RSS has passed max_rss: checked after every batch
 * of jobs, since getrusage() is a system call and a job grows the heap by
 * little.
 */
static void
check_rss(struct worker *w)
{
	struct rusage	ru;

	if (!w->quit && w->cfg->max_rss_kb > 0 &&
	    getrusage(RUSAGE_SELF, &ru) == 0 &&
	    ru.ru_maxrss > w->cfg->max_rss_kb) {
		log_info("recycling at %ld KiB resident (max_rss %ld KiB)",
		    ru.ru_maxrss, w->cfg->max_rss_kb);
		w->quit = 1;
		w->exit_code = EXIT_RECYCLE;
	}
}

/*
 * The broker's terms: its heartbeat settings replace the config's (they
 * are the same for a local worker; a remote one knows only these).
 */
static void
on_welcome(struct worker *w, const struct proto_msg *m)
{
	long	v, credit = 0;

	if (proto_get_long(m, "version", 1, 255, &v) == -1 ||
	    v != PROTO_VERSION) {
		log_warnx("the front welcomed this worker to a protocol "
		    "version it did not offer: exiting");
		w->quit = 1;
		w->exit_code = EXIT_FATAL;
		return;
	}
	(void)proto_get_long(m, "heartbeat_interval", 1, 3600000, &w->hb_ms);
	(void)proto_get_long(m, "heartbeat_liveness", 1, 1000, &w->liveness);
	(void)proto_get_long(m, "credit", 1, 1000000, &credit);
	w->welcomed = 1;
	w->stats_sent = 0;	/* the front learns our health at once */
	log_debug("welcomed: protocol %ld, heartbeat %ld ms x %ld, credit %ld",
	    v, w->hb_ms, w->liveness, credit);
}

/*
 * A front of other versions: restarting this worker would not help, and
 * respawning it would loop, so it exits with EXIT_FATAL.
 */
static void
on_refuse(struct worker *w, const struct proto_msg *m)
{
	char	theirs[64], reason[256];

	if (proto_get_str(m, "versions", theirs, sizeof(theirs)) == -1)
		snprintf(theirs, sizeof(theirs), "?");
	if (proto_get_str(m, "reason", reason, sizeof(reason)) == -1)
		snprintf(reason, sizeof(reason), "no reason given");
	log_warnx("refused by the front, which speaks worker protocol "
	    "version %s (this worker speaks %s): %s; exiting", theirs,
	    PROTO_VERSIONS, reason);
	w->quit = 1;
	w->exit_code = EXIT_FATAL;
}

/*
 * Takes the messages waiting, OUTBOX_MAX at most so that signals and
 * heartbeats are seen between batches under any load, answering jobs
 * through the outbox.  Replies leave when the outbox is full, before a job
 * once the oldest has waited OUTBOX_MS, and when the socket is empty.
 */
static void
handle_message(struct worker *w)
{
	struct proto_msg	 m;
	const char		*why;
	int			 n, rc;

	for (n = 0; n < OUTBOX_MAX && !w->quit && !w->lost &&
	    (rc = proto_recv(w->sock, 0, 1, &m, &why)) != -1; n++) {
		w->broker_seen = mono_ms();
		w->lost_since = 0;
		if (rc == 1) {
			log_warnx("malformed message from broker: %s", why);
			proto_msg_close(&m);
			continue;
		}
		if (w->noutbox > 0 && (w->noutbox == OUTBOX_MAX ||
		    w->broker_seen - w->outbox_since >= OUTBOX_MS))
			outbox_flush(w);
		switch (m.cmd) {
		case PROTO_JOB:
			timed_job(w, &m);
			check_jobs(w);
			break;
		case PROTO_HEARTBEAT:
			break;
		case PROTO_WELCOME:
			on_welcome(w, &m);
			break;
		case PROTO_REFUSE:
			on_refuse(w, &m);
			break;
		case PROTO_RESYNC:
			/*
			 * One READY for a burst: the RESYNCs that answered
			 * messages sent before it come before its WELCOME.
			 * One later than an interval means READY was lost
			 * (the front restarted): say it again.
			 */
			if (w->welcomed ||
			    w->broker_seen - w->ready_sent >= (uint64_t)w->hb_ms)
				say_ready(w);
			break;
		default:
			log_warnx("unexpected command %d from broker", m.cmd);
			break;
		}
		proto_msg_close(&m);
	}
	outbox_flush(w);
	check_rss(w);
}

static void
handle_signal(struct worker *w)
{
	struct signalfd_siginfo	si;

	while (read(w->sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			w->quit = 1;
}

/* Heartbeat when quiet; reconnect when the broker has gone silent. */
static void
keepalive(struct worker *w)
{
	const struct config	*cfg = w->cfg;
	uint64_t		 now = mono_ms();

	if (now - w->broker_seen > (uint64_t)w->hb_ms * (uint64_t)w->liveness) {
		if (w->lost_since == 0)
			w->lost_since = w->broker_seen;
		if (now - w->lost_since > (uint64_t)cfg->orphan_timeout_ms) {
			log_warnx("no front for %" PRIu64 " ms: exiting",
			    now - w->lost_since);
			w->quit = 1;
			w->exit_code = 1;
			return;
		}
		log_info("broker silent for %" PRIu64 " ms: reconnecting",
		    now - w->broker_seen);
		reconnect(w);
		return;
	}
	if (now - w->last_sent >= (uint64_t)w->hb_ms ||
	    now - w->stats_sent >= (uint64_t)w->hb_ms)
		send_figures(w, now);
	/* JWKS file changes, jwks_url */
	keys_refresh(cfg->issuers, cfg->nissuers, now);
}

/*
 * This incarnation's routing identity, kept across its reconnects.  On one
 * host, pid and boot-clock start time never recur together (a pid is
 * reused only after its process is gone, and CLOCK_BOOTTIME never goes
 * back); the random part keeps workers of different hosts apart.
 */
static int
make_ident(struct worker *w)
{
	struct timespec	ts;
	uint32_t	rnd;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) == -1 ||
	    getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		log_warn("worker identity");
		return -1;
	}
	snprintf(w->ident, sizeof(w->ident), "%x-%" PRIx64 "-%08" PRIx32,
	    (unsigned)getpid(), (uint64_t)ts.tv_sec * 1000000000 +
	    (uint64_t)ts.tv_nsec, rnd);
	return 0;
}

static int
worker_setup(struct worker *w)
{
	sigset_t	mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if ((w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_warn("signalfd");
		return -1;
	}
	if (make_ident(w) == -1)
		return -1;
	snprintf(w->pid, sizeof(w->pid), "%d", (int)getpid());
	w->hb_ms = w->cfg->heartbeat_ms;	/* until WELCOME */
	w->liveness = w->cfg->heartbeat_liveness;
	snprintf(w->credit, sizeof(w->credit), "%d", w->cfg->worker_credit);
	if ((w->remote = w->cfg->remote.connect != NULL))
		snprintf(w->endpoint, sizeof(w->endpoint), "%s",
		    w->cfg->remote.connect);
	else
		snprintf(w->endpoint, sizeof(w->endpoint), "ipc://%s/%s",
		    w->cfg->runtime_dir, PROTO_ENDPOINT);
	if ((w->ctx = zmq_ctx_new()) == NULL) {
		log_warnx("zmq_ctx_new: %s", zmq_strerror(errno));
		return -1;
	}
	return worker_connect(w);
}

/* Says BYE and gives the last REPLY and the BYE a moment to leave. */
static void
shutdown_socket(struct worker *w)
{
	int	linger = 500;

	if (w->sock != NULL && !w->lost) {
		/* The last figures first: what it did since its last beat. */
		send_figures(w, mono_ms());
		send_msg(w, PROTO_BYE, NULL, 0);
		zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
	}
	worker_disconnect(w);
}

int
worker_main(const struct config *cfg, int index)
{
	struct worker	 w = { .cfg = cfg, .index = index, .sigfd = -1,
			    .procfd = -1 };
	zmq_pollitem_t	 items[3];
	int		 n;

	/*
	 * Issuers' keys first: READY says this worker can verify.  Its files
	 * are confined before its threads exist, its calls once the keys are
	 * in: connecting to the front is what it does again at run time (a
	 * reconnect makes a new socket), so it does so under the filter from
	 * the first time, and READY says it is confined.
	 */
	if (figures_setup(&w) == -1 ||
	    sandbox_enter(cfg, SANDBOX_WORKER) == -1 ||
	    fxa_start(cfg->issuers, cfg->nissuers) == -1 ||
	    keys_start(cfg->issuers, cfg->nissuers, mono_ms()) == -1)
		return EXIT_FATAL;
	/*
	 * The database connection is this worker's own, made after the fork
	 * and before the filter, so that SQLite and libpq open what they
	 * open lazily (files, sockets, libraries) while they still may.
	 */
	mint_db_open(cfg, &w.db);
	w.db_state = w.db.state;
	if (sandbox_seal(cfg, SANDBOX_WORKER) == -1 || worker_setup(&w) == -1)
		return EXIT_FATAL;
	log_debug("worker %d ready on %s as %s", index, w.endpoint, w.ident);
	while (!w.quit) {
		items[0] = (zmq_pollitem_t){ w.sock, 0, ZMQ_POLLIN, 0 };
		items[1] = (zmq_pollitem_t){ NULL, w.sigfd, ZMQ_POLLIN, 0 };
		items[2] = (zmq_pollitem_t){ w.monitor, 0, ZMQ_POLLIN, 0 };
		n = zmq_poll(items, 3, w.lost ? RECONNECT_MS : w.hb_ms);
		/*
		 * Signals first, so a worker told to go takes no new job: the
		 * broker dispatches one already on its way again on our BYE.
		 */
		if (n == -1 && errno != EINTR) {
			log_warnx("zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		if (n > 0 && (items[1].revents & ZMQ_POLLIN))
			handle_signal(&w);
		if (n > 0 && (items[2].revents & ZMQ_POLLIN))
			handle_monitor(&w);
		if (n > 0 && (items[0].revents & ZMQ_POLLIN))
			handle_message(&w);
		if (w.quit)
			break;
		if (w.lost && mono_ms() - w.connected >= RECONNECT_MS)
			reconnect(&w);
		else if (!w.lost)
			keepalive(&w);
	}
	shutdown_socket(&w);
	keys_stop();
	fxa_stop();
	mint_db_close(&w.db);
	zmq_ctx_term(w.ctx);
	close(w.sigfd);
	if (w.procfd != -1)
		close(w.procfd);
	wstats_free(&w.stats);
	free(w.service_names);
	return w.exit_code;
}
