/*
 * front.c - the HTTP side of tokend: one event loop.
 *
 * The front is one thread (plus ZeroMQ's I/O thread).  Its loop polls
 * three things: libmicrohttpd's epoll descriptor (MHD runs without threads
 * of its own), the broker's ROUTER socket, and a signalfd.  A handler
 * routes the request (api.c says what each endpoint means), reads the body
 * (bounded by max_body), lets api.c turn it into a job, suspends the
 * connection and hands the job to the broker, which sends it to a worker.
 * When the worker's reply comes in, the broker completes the job, the
 * connection is resumed, and the handler, called once more by MHD in the
 * same loop turn, has api.c turn the reply into the answer.
 *
 * One thread, because on the request path every hand-off between threads
 * is a wake-up, and wake-ups, not parsing, were most of the front's cost
 * (docs/performance.md); one loop turn also serves many requests at once.
 *
 * The front holds no secret and does no crypto: config_purge_secrets()
 * runs before the first request.
 */
#include "front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <zmq.h>

#include "http/api.h"
#include "pool/broker.h"
#include "pool/curve.h"
#include "core/clock.h"
#include "config.h"
#include "http/guardio.h"
#include "http/httpguard.h"
#include "http/metricsd.h"
#include "core/log.h"
#include "sandbox.h"

enum req_state {
	R_READING,	/* body arriving */
	R_WAITING,	/* suspended, job with the broker */
	R_DONE,		/* resumed, job->outcome is set */
	R_ANSWERED,	/* call holds the answer, queued */
};

struct request {
	enum req_state	 state;
	char		*body;
	size_t		 len, cap;
	int		 too_large;
	struct api_request req;		/* what api.c reads of it */
	struct api_call	 call;		/* the endpoint's view */
	struct job	 job;
	struct MHD_Connection *conn;
	struct guard	*guard;		/* the connection's (guardio.c) */
	const char	*refused;	/* the guard's code, if it refused */
	uint64_t	 start_us;
	struct api_health health;	/* /__heartbeat__'s facts */
	char		 method[8];
	char		 path[64];
};

enum front_phase {
	F_SERVING,
	F_DRAINING,	/* not accepting; jobs in flight get their answers */
	F_CLOSING,	/* answers written; connections leaving */
	F_DONE,
};

struct front {
	struct config		*cfg;
	struct broker		*broker;
	struct stats		*stats;		/* the figures (pool/stats.h) */
	struct metricsd		*metricsd;	/* NULL: no [metrics] listen */
	struct MHD_Daemon	*mhd;
	int			 mhd_fd;	/* MHD's epoll descriptor */
	int			 sigfd;
	int			 ready_fd;	/* to the supervisor, once */
	int			 keys_fd;	/* from it: authorized_keys */
	MHD_socket		 listen_fd;	/* after quiesce */
	enum front_phase	 phase;
	uint64_t		 quiet_since;	/* F_DRAINING: nothing in flight */
	uint64_t		 deadline;	/* of the phase, mono ms */
	uint64_t		 now;		/* mono ms of this loop turn */
	int			 resumed;	/* since the last MHD_run() */
	uint64_t		 metrics_due;	/* mono ms: run the listener */
};

#define FD_RESERVE	256	/* descriptors kept from clients */
#define QUIET_MS	100	/* drain: nothing in flight for this long */
#define CLOSE_MS	1000	/* drain: connections take their answers */
#define METRICS_IDLE_MS	1000	/* the metrics listener runs at least this often */

/* The front is a process of its own: one instance, set once at start. */
static struct front	front;

/* Queues the answer api.c decided on. */
static enum MHD_Result
respond(struct request *r)
{
	struct api_call		*c = &r->call;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	int			 i;

	r->state = R_ANSWERED;
	resp = MHD_create_response_from_buffer(c->len, c->body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return MHD_NO;
	c->body = NULL;		/* the response owns it now */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	for (i = 0; i < c->nhdr; i++)
		MHD_add_response_header(resp, c->hdr[i].name, c->hdr[i].value);
	/*
	 * While draining, ask clients to go so the front can exit; and close
	 * after the last request of a connection whose client closed its
	 * side, or whose next request the guard refused (nothing more will
	 * be read there).
	 */
	if (front.phase != F_SERVING || (r->guard != NULL &&
	    r->guard->state == GS_DEAD && r->guard->seen == r->guard->heads))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	ret = MHD_queue_response(r->conn, c->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int
append_body(struct request *r, const char *data, size_t len)
{
	size_t	 cap;
	char	*p;

	if (r->too_large || r->len + len > front.cfg->max_body) {
		r->too_large = 1;
		return 0;
	}
	if (r->len + len > r->cap) {
		cap = r->cap ? r->cap * 2 : 1024;
		while (cap < r->len + len)
			cap *= 2;
		if (cap > front.cfg->max_body)
			cap = front.cfg->max_body;
		if ((p = realloc(r->body, cap)) == NULL)
			return -1;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	return 0;
}

/* The job is complete (or never left): answer in the endpoint's style. */
static enum MHD_Result
finish(struct request *r)
{
	api_finish(&r->call, r->job.outcome, &r->job.reply);
	if (r->job.outcome == JOB_REPLIED)
		proto_msg_close(&r->job.reply);
	return respond(r);
}

/*
 * Whether the guard refused this request (a head it replaced, or a
 * chunked body it cut short); call then holds the answer.
 */
static int
guard_refused(struct request *r)
{
	const struct guard_problem	*p;
	struct guard			*g = r->guard;
	char				 desc[160];

	if (g == NULL || g->err == GUARD_OK || g->bad != g->seen)
		return 0;
	p = guard_problem(g->err);
	r->refused = p->code;
	if (g->err == GUARD_DUPLICATE && g->err_name != NULL) {
		snprintf(desc, sizeof(desc), "%s must be sent once",
		    g->err_name);
		api_refuse(&r->call, p->status, p->location, g->err_name,
		    desc);
	} else
		api_refuse(&r->call, p->status, p->location, p->name,
		    p->description);
	return 1;
}

/* The body is complete: make the job and hand it over, or answer now. */
static enum MHD_Result
submit(struct request *r)
{
	if (guard_refused(r))
		return respond(r);
	r->req.body = r->body;
	r->req.body_len = r->len;
	r->req.body_too_large = r->too_large;
	if (api_prepare(&r->call, r->job.fields, &r->job.nfields))
		return respond(r);
	r->job.owner = r;
	if (broker_submit(front.broker, &r->job, front.now) == -1) {
		r->job.outcome = JOB_UNAVAILABLE;
		return finish(r);
	}
	r->state = R_WAITING;
	MHD_suspend_connection(r->conn);
	return MHD_YES;
}

/* Called by the broker: the job is complete, wake the request. */
static void
job_done(struct job *job)
{
	struct request	*r = job->owner;

	r->state = R_DONE;
	MHD_resume_connection(r->conn);
	/* Without threads of its own MHD is not woken by that: see loop. */
	front.resumed = 1;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Counts the query string's "duration" parameters (MHD's iterator). */
static enum MHD_Result
count_duration(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	if (strcmp(key, "duration") == 0)
		(*(int *)cls)++;
	return MHD_YES;
}

/*
 * The facts api.c reads of a request.  MHD keeps the method, path and
 * header values in the connection's memory until the request completes,
 * so they are borrowed, not copied.
 */
static void
read_request(struct api_request *q, struct MHD_Connection *c,
    const char *method, const char *url)
{
	q->method = method;
	q->path = url;		/* not decoded: see keep_escapes() */
	q->content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	q->content_length = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	q->authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	q->client_state = header(c, "X-Client-State");
	q->key_id = header(c, "X-KeyID");
	q->duration = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "duration");
	q->duration_count = 0;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_duration,
	    &q->duration_count);
}

/*
 * /__heartbeat__'s facts: the broker's census and the workers' latest
 * heartbeats, as of this loop turn; no worker is asked anything.
 */
static const struct api_health *
read_health(struct api_health *h)
{
	struct pool_census	c;
	struct pool_health	ph;
	int			k;

	broker_census(front.broker, front.now, &c);
	stats_health(front.stats, front.now, &ph);
	memset(h, 0, sizeof(*h));
	for (k = 0; k < STATS_NKINDS; k++)
		h->workers += c.workers[STATS_IDLE][k] + c.workers[STATS_BUSY][k];
	h->keys_reported = ph.reported;
	h->keys_missing = ph.keys_missing;
	h->db_configured = ph.db_configured;
	h->db_up = ph.db_up;
	return h;
}

/* First call for a request: route it; answer at once if it cannot go on. */
static enum MHD_Result
start_request(struct MHD_Connection *c, const char *url, const char *method,
    void **con_cls)
{
	const union MHD_ConnectionInfo	*ci;
	struct request			*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MHD_NO;
	r->conn = c;
	r->start_us = mono_us();
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", url);
	*con_cls = r;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && (r->guard = guardio_get(ci->connect_fd)) != NULL)
		r->guard->seen++;
	/* The guard's stand-in for a head it refused (httpguard.h). */
	if (strcmp(url, GUARD_PATH) == 0 && guard_refused(r))
		return respond(r);
	read_request(&r->req, c, method, url);
	if (strcmp(url, API_HEARTBEAT_PATH) == 0)
		r->req.health = read_health(&r->health);
	if (api_route(&r->call, &r->req, front.cfg->max_body))
		return respond(r);
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct request	*r = *con_cls;

	if (r == NULL)
		return start_request(c, url, method, con_cls);
	if (*upload_data_size > 0) {
		/* Answered already (e.g. 415): the body is dropped. */
		if (r->state == R_READING &&
		    append_body(r, upload_data, *upload_data_size) == -1)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (r->state) {
	case R_READING:
		return submit(r);
	case R_WAITING:
	case R_ANSWERED:
		return MHD_YES;
	case R_DONE:
		break;
	}
	return finish(r);
}

/* The client's address as inet_ntop(3) writes it, or "-". */
static const char *
client_address(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return "-";
	if (sa->sa_family == AF_INET && inet_ntop(AF_INET,
	    &((const struct sockaddr_in *)sa)->sin_addr, buf, len) != NULL)
		return buf;
	if (sa->sa_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, len) != NULL)
		return buf;
	return "-";
}

/*
 * When a request arrived, in UTC to the millisecond, from how long ago it
 * started: the wall clock is read only when a line is written, and a
 * journal's own timestamp is that of the line, not of the request.
 */
static const char *
arrival_time(uint64_t age_us, char *buf, size_t len)
{
	struct timespec	now;
	struct tm	tm;
	int64_t		ms;
	time_t		secs;

	clock_gettime(CLOCK_REALTIME, &now);
	ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 -
	    (int64_t)(age_us / 1000);
	secs = (time_t)(ms / 1000);
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return "-";
	snprintf(buf + strlen(buf), len - strlen(buf), ".%03dZ",
	    (int)(ms % 1000));
	return buf;
}

/*
 * One line per request: what, the answer, how long, which worker, for
 * whom (the client's address) and when; for an error its code and the
 * field at fault (api.h: closed sets, never the assertion or a token),
 * so that a 401 can be explained from the server's side.
 */
static void
access_log(struct request *r, struct MHD_Connection *c,
    enum MHD_RequestTerminationCode toe)
{
	uint64_t	age = mono_us() - r->start_us;
	char		addr[INET6_ADDRSTRLEN], when[32];
	const char	*who, *at;

	int		lost = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;

	who = client_address(c, addr, sizeof(addr));
	at = arrival_time(age, when, sizeof(when));
	if (r->refused != NULL) {
		/* What the client sent was not a request: say why. */
		const struct log_field f[] = {
			LOG_INT("code", r->call.status),
			LOG_NUM("t", (double)age / 1000.0),
			LOG_STR("refused", r->refused),
			LOG_STR("client", who),
			LOG_STR("time", at),
		};

		log_event(LOG_LVL_INFO, "request.summary", f, NFIELDS(f),
		    "- - %u %.3fms refused=%s client=%s time=%s",
		    r->call.status, (double)age / 1000.0, r->refused, who, at);
	} else {
		const struct log_field f[] = {
			LOG_STR("method", r->method),
			LOG_STR("path", r->path),
			LOG_INT("code", r->call.status),
			LOG_NUM("t", (double)age / 1000.0),
			LOG_INT("worker", (int)r->job.worker_pid),
			LOG_STR("client", who),
			LOG_STR("time", at),
			LOG_STR("error", r->call.error),
			LOG_STR("field", r->call.field[0] != '\0' ?
			    r->call.field : NULL),
			LOG_BOOL("lost", lost),
		};

		log_event(LOG_LVL_INFO, "request.summary", f, NFIELDS(f),
		    "%s %s %u %.3fms worker=%d client=%s time=%s%s%s%s%s%s",
		    r->method, r->path, r->call.status,
		    (double)age / 1000.0, (int)r->job.worker_pid, who, at,
		    r->call.error != NULL ? " error=" : "",
		    r->call.error != NULL ? r->call.error : "",
		    r->call.field[0] != '\0' ? " field=" : "", r->call.field,
		    lost ? " (connection lost)" : "");
	}
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request	*r = *con_cls;

	if (r == NULL)
		return;
	stats_request(front.stats, (int)api_metric_endpoint(&r->call),
	    r->call.status, (double)(mono_us() - r->start_us) / 1e6);
	if (front.cfg->access_log)
		access_log(r, c, toe);
	/*
	 * A client that left while its job was out is completed here without
	 * another on_request(): the worker's reply, if it came, is still held
	 * (closing an empty or already closed one does nothing).
	 */
	proto_msg_close(&r->job.reply);
	api_call_clear(&r->call);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* Every connection reads through a guard of its own (guardio.c). */
static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo	*ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		guardio_close(ci->connect_fd);
	else if (guardio_open(ci->connect_fd, front.cfg->connection_memory,
	    front.cfg->max_body) == -1)
		/* Unguarded, it would be framed by MHD alone: drop it. */
		shutdown(ci->connect_fd, SHUT_RDWR);
}

/*
 * MHD would percent-decode the path before the handler sees it, so
 * "/v1%2Ftoken" would reach /v1/token and a proxy rule written on the raw
 * path could be bypassed.  Routes match the raw path; the guard refused
 * every escape that could decode to a slash or a control byte.
 */
static size_t
keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_info("libmicrohttpd: %s", buf);
}

/* ---- life cycle ------------------------------------------------------- */

static int
listen_addr(const struct config *cfg, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(cfg->listen_port);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cfg->listen_port);
		return 1;
	}
	return -1;
}

/*
 * Idle keep-alive connections each take a descriptor: make room.  Returns
 * the limit in force, which sizes the guards' table and caps how many
 * client connections libmicrohttpd may hold (connection_limit()).
 */
static size_t
raise_nofile(const struct config *cfg)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)cfg->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (size_t)want;
	if (rl.rlim_cur >= want)
		return (size_t)rl.rlim_cur;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("setrlimit(RLIMIT_NOFILE, %llu)",
		    (unsigned long long)rl.rlim_cur);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (size_t)rl.rlim_cur;
}

/*
 * Client connections allowed under a descriptor limit of nofile.  The
 * front's other descriptors (a ZeroMQ connection per worker, ZeroMQ's own,
 * epoll, signalfd) need room that clients can never take: libzmq 4.3.4
 * aborts the process when accept() on its ipc socket fails with EMFILE
 * (a worker reconnecting to a front at its limit killed it).
 */
static unsigned int
connection_limit(const struct config *cfg, size_t nofile)
{
	size_t	room = nofile > 2 * FD_RESERVE ? nofile - FD_RESERVE :
		    nofile / 2;

	if ((size_t)cfg->max_connections <= room)
		return (unsigned int)cfg->max_connections;
	log_warnx("RLIMIT_NOFILE is %zu: room for %zu client connections, "
	    "not max_connections = %d (raise LimitNOFILE)", nofile, room,
	    cfg->max_connections);
	return (unsigned int)room;
}

static struct MHD_Daemon *
start_mhd(const struct config *cfg, unsigned int conn_limit)
{
	struct sockaddr_storage	 ss;
	unsigned int		 flags;
	int			 v6;

	if ((v6 = listen_addr(cfg, &ss)) == -1)
		return NULL;
	/* No MHD thread: front_main's loop drives MHD (see the top). */
	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    (v6 ? MHD_USE_IPv6 : 0);
	return MHD_start_daemon(flags, cfg->listen_port, NULL, NULL,
	    on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, conn_limit,
	    /*
	     * Each connection's buffer (MHD's default is 32 KiB) is what an
	     * idle kept-alive connection costs: MHD zeroes all of it after
	     * each request.  It holds the request's headers and the answer's;
	     * bodies pass through it to our own buffer.
	     */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_memory,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)cfg->per_ip_connections,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
	    MHD_OPTION_END);
}

/* Hands every connection waiting in the listen queue to MHD. */
static void
adopt_backlog(struct front *f)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, n = 0;

	/* Never block here: take what is queued now, and no more. */
	fcntl(f->listen_fd, F_SETFL, fcntl(f->listen_fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		len = sizeof(ss);
		fd = accept4(f->listen_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			break;
		/* MHD closes fd itself when it refuses it. */
		if (MHD_add_connection(f->mhd, fd, (struct sockaddr *)&ss,
		    len) == MHD_YES)
			n++;
	}
	if (n > 0)
		log_info("drain: took %d queued connections", n);
}

/*
 * SIGTERM: stop accepting, let the jobs in flight finish (up to
 * shutdown_timeout), and give the connections a moment to take their
 * answers.  The loop goes on meanwhile; drain_step() moves the phases on.
 */
static void
drain_start(struct front *f)
{
	log_info("draining");
	f->phase = F_DRAINING;
	f->quiet_since = f->now;
	f->deadline = f->now + (uint64_t)f->cfg->shutdown_timeout_ms;
	/*
	 * MHD leaves the listening socket to us; the kernel would go on
	 * queueing connections that nobody takes.  Take over the ones already
	 * queued (their clients think they are accepted), then shut it so
	 * later ones are refused; close it after MHD_stop_daemon().
	 */
	if ((f->listen_fd = MHD_quiesce_daemon(f->mhd)) != MHD_INVALID_SOCKET) {
		adopt_backlog(f);
		shutdown(f->listen_fd, SHUT_RDWR);
	}
}

static void
drain_step(struct front *f)
{
	const union MHD_DaemonInfo	*info;

	if (f->phase == F_DRAINING) {
		/*
		 * Requests the front read just before quiescing, or that
		 * arrive on kept-alive connections, still go to the workers
		 * (and are told to close): wait until none has been in
		 * flight for a while.
		 */
		if (broker_inflight(f->broker) > 0)
			f->quiet_since = f->now;
		if (f->now - f->quiet_since < QUIET_MS && f->now < f->deadline)
			return;
		if (broker_inflight(f->broker) > 0)
			log_warnx("drain: %d requests still in flight after "
			    "%d ms", broker_inflight(f->broker),
			    f->cfg->shutdown_timeout_ms);
		/* From here on a new request is answered 503 at once. */
		broker_stop(f->broker);
		f->phase = F_CLOSING;
		f->deadline = f->now + CLOSE_MS;
		info = MHD_get_daemon_info(f->mhd,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		log_info("drain: broker stopped, %u connections to close",
		    info != NULL ? info->num_connections : 0);
		return;
	}
	info = MHD_get_daemon_info(f->mhd,
	    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	if (info == NULL || info->num_connections == 0 || f->now >= f->deadline)
		f->phase = F_DONE;
}

/* Tells the supervisor, once, that requests can be served now. */
static void
report_ready(struct front *f)
{
	/*
	 * With local workers, once one has joined.  A front whose workers
	 * are all elsewhere (workers = none, [remote]) cannot wait for them:
	 * a worker host that is down would have systemd kill a front that
	 * is fine; it is ready when it listens.
	 */
	if (f->ready_fd == -1 || (broker_workers(f->broker) == 0 &&
	    f->cfg->workers > 0))
		return;
	if (write(f->ready_fd, "R", 1) != 1)
		log_warn("ready pipe");
	close(f->ready_fd);
	f->ready_fd = -1;
}

/* From the supervisor: a worker died, or a reload happened (front.h). */
static void
supervisor_notice(struct front *f, int value)
{
	static const int restart[] = {
		[NOTICE_CRASH] = STATS_CRASH, [NOTICE_SIGNAL] = STATS_SIGNAL,
		[NOTICE_RECYCLE] = STATS_RECYCLE,
	};
	unsigned	v = (unsigned)abs(value);
	unsigned	cause = v >> NOTICE_SHIFT;
	pid_t		pid = (pid_t)(v & NOTICE_PID_MASK);

	if (cause == NOTICE_RELOAD_OK || cause == NOTICE_RELOAD_ERROR)
		stats_config_reload(f->stats, cause == NOTICE_RELOAD_OK);
	else if (cause >= NOTICE_CRASH && cause <= NOTICE_RECYCLE)
		stats_restart(f->stats, (enum stats_restart)restart[cause]);
	broker_worker_died(f->broker, pid, value < 0);
}

static void
read_signals(struct front *f)
{
	struct signalfd_siginfo	si;

	while (read(f->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (f->phase == F_SERVING)
				drain_start(f);
		} else if ((int)si.ssi_signo == SIG_WORKER_DIED &&
		    si.ssi_code == SI_QUEUE)
			supervisor_notice(f, si.ssi_int);
	}
}

/*
 * A reload's authorized_keys, from the supervisor: the front reads no
 * files after set-up (its sandbox), so the supervisor, which reloads the
 * config, sends the list it read (pool/curve.h).
 */
static void
read_keys(struct front *f)
{
	struct authkeys	ks = { NULL, 0 };

	if (authkeys_recv(f->keys_fd, &ks) == 0) {
		broker_set_keys(f->broker, &ks);
		return;
	}
	if (errno == EAGAIN || errno == EINTR)
		return;
	if (errno != EPIPE)
		log_warnx("authorized_keys from the supervisor: %s",
		    strerror(errno));
	close(f->keys_fd);
	f->keys_fd = -1;
}

/* How long the loop may sleep: until MHD, the broker or the drain acts. */
static long
loop_timeout(struct front *f)
{
	MHD_UNSIGNED_LONG_LONG	mhd;
	long			t = broker_timeout(f->broker, f->now);

	if (MHD_get_timeout(f->mhd, &mhd) == MHD_YES && mhd < (unsigned long)t)
		t = (long)mhd;
	if (f->metricsd != NULL && (f->metrics_due <= f->now ||
	    f->metrics_due - f->now < (uint64_t)t))
		t = f->metrics_due <= f->now ? 0 : (long)(f->metrics_due - f->now);
	if (f->resumed)		/* a 504 or 503 from broker_tick() waits */
		t = 0;
	if (f->phase != F_SERVING && t > 10)
		t = 10;
	return t;
}

/*
 * One loop turn.  Replies first, so the connections they resume are
 * answered by the MHD_run() that follows; MHD_run() reads new requests;
 * broker_tick() sends them, all together, and times out and heartbeats
 * (a job it times out is answered by the next turn's MHD_run()).
 */
static int
loop_once(struct front *f)
{
	zmq_pollitem_t	items[9];
	void		*socks[4];
	size_t		 ns = broker_sockets(f->broker, socks, 4), i, n = 0;
	size_t		 mi = 0;	/* the metrics listener's item */
	int		 replies = 0;

	/* The broker's sockets (ipc; [remote]'s TCP, ZAP, monitor), then: */
	for (i = 0; i < ns; i++)
		items[n++] = (zmq_pollitem_t){ socks[i], 0, ZMQ_POLLIN, 0 };
	items[n++] = (zmq_pollitem_t){ NULL, f->mhd_fd, ZMQ_POLLIN, 0 };
	items[n++] = (zmq_pollitem_t){ NULL, f->sigfd, ZMQ_POLLIN, 0 };
	items[n++] = (zmq_pollitem_t){ NULL, f->keys_fd, f->keys_fd == -1 ?
	    0 : ZMQ_POLLIN, 0 };
	if (f->metricsd != NULL) {
		mi = n;
		items[n++] = (zmq_pollitem_t){ NULL, metricsd_fd(f->metricsd),
		    ZMQ_POLLIN, 0 };
	}
	if (zmq_poll(items, (int)n, loop_timeout(f)) == -1 && errno != EINTR) {
		log_warnx("zmq_poll: %s", zmq_strerror(errno));
		return -1;
	}
	/* The turn's access log lines leave in one write(2). */
	log_hold();
	f->now = mono_ms();
	/* Replies before death notices: a last REPLY beats a re-dispatch. */
	for (i = 0; i < ns; i++)
		replies |= items[i].revents & ZMQ_POLLIN;
	if (replies)
		broker_read(f->broker, f->now);
	if (items[ns + 1].revents & ZMQ_POLLIN)
		read_signals(f);
	if (items[ns + 2].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
		read_keys(f);
	f->resumed = 0;
	MHD_run(f->mhd);
	broker_tick(f->broker, f->now);
	/*
	 * A scrape sees the figures of the turn's end.  The listener runs
	 * only when it has input or work it said is due (at most a second
	 * away): MHD_run() makes a system call, which every busy turn of the
	 * main listener would otherwise pay.
	 */
	if (f->metricsd != NULL && ((items[mi].revents & ZMQ_POLLIN) ||
	    f->now >= f->metrics_due)) {
		metricsd_run(f->metricsd);
		f->metrics_due = f->now + (uint64_t)metricsd_timeout(
		    f->metricsd, METRICS_IDLE_MS);
	}
	report_ready(f);
	if (f->phase != F_SERVING)
		drain_step(f);
	log_release();
	return 0;
}

static int
open_signals(void)
{
	sigset_t	mask;

	/* The supervisor forked us with these blocked; keep them so. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIG_WORKER_DIED);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGHUP);	/* the supervisor's: ignored here */
	return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* GET /metrics: the census of this moment, then every figure. */
static char *
scrape(void *arg, size_t *len)
{
	struct pool_census	c;
	uint64_t		now = mono_ms();

	broker_census(front.broker, now, &c);
	return stats_scrape(front.stats, &c, now, len);
}

/*
 * The figures (always: /__heartbeat__ reads the workers' reports) and,
 * with [metrics] listen, their listener.  Both open what they need before
 * the sandbox: the listener binds its port, the figures open /proc for
 * the front's and the supervisor's CPU and memory.
 */
static int
start_metrics(const struct config *cfg)
{
	const char	*names[CONFIG_MAX_SERVICES], *formats[CONFIG_MAX_SERVICES];
	size_t		 n;

	for (n = 0; n < CONFIG_MAX_SERVICES &&
	    (names[n] = config_service_label(cfg, n, &formats[n])) != NULL;
	    n++)
		;
	if ((front.stats = stats_new(&(struct stats_settings){
	    .services = names, .formats = formats, .nservices = n,
	    .fresh_ms = (uint64_t)cfg->heartbeat_ms *
	    (uint64_t)cfg->heartbeat_liveness,
	    .requests = cfg->metrics_listen != NULL })) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	if (cfg->metrics_listen == NULL)
		return 0;
	stats_open_procs(front.stats, (int)getppid());
	if ((front.metricsd = metricsd_start(cfg->metrics_host,
	    cfg->metrics_port, scrape, NULL)) == NULL) {
		log_warnx("cannot listen on %s ([metrics] listen)",
		    cfg->metrics_listen);
		return -1;
	}
	log_info("metrics on %s", cfg->metrics_listen);
	return 0;
}

int
front_main(struct config *cfg, int ready_fd, int keys_fd)
{
	const union MHD_DaemonInfo	*info;
	struct authkeys			 keys = { NULL, 0 };
	char				 curve[CONFIG_Z85_SIZE];
	size_t				 nofile;
	int				 rc = 0;

	/*
	 * The one secret the front needs, its CURVE key ([remote] listen),
	 * goes to its socket and is wiped with the rest.
	 */
	memcpy(curve, cfg->remote.secret_key, sizeof(curve));
	config_purge_secrets(cfg);
	front.keys_fd = keys_fd;
	if (cfg->remote.keys != NULL && authkeys_copy(&keys,
	    cfg->remote.keys) == -1) {
		log_warnx("out of memory");
		return EXIT_FATAL;
	}
	front.cfg = cfg;
	front.ready_fd = ready_fd;
	front.listen_fd = MHD_INVALID_SOCKET;
	front.now = mono_ms();
	nofile = raise_nofile(cfg);
	if (guardio_init(nofile) == -1) {
		log_warnx("out of memory");
		return EXIT_FATAL;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((front.sigfd = open_signals()) == -1) {
		log_warn("signalfd");
		return EXIT_FATAL;
	}
	if (start_metrics(cfg) == -1)
		return EXIT_FATAL;
	/* Before ZeroMQ's threads exist, so they are confined too. */
	if (sandbox_enter(cfg, SANDBOX_FRONT) == -1)
		return EXIT_FATAL;
	if ((front.broker = broker_new(&(struct broker_settings){
	    .runtime_dir = cfg->runtime_dir, .credit = cfg->worker_credit,
	    .queue_limit = cfg->queue_limit,
	    .request_timeout_ms = cfg->request_timeout_ms,
	    .heartbeat_ms = cfg->heartbeat_ms,
	    .heartbeat_liveness = cfg->heartbeat_liveness,
	    .stats = front.stats,
	    .remote_listen = cfg->remote.listen, .remote_secret = curve,
	    .remote_keys = &keys, .handshake_ms = cfg->remote.handshake_ms,
	    .peer_queue = cfg->remote.peer_queue }, job_done)) == NULL) {
		explicit_bzero(curve, sizeof(curve));
		authkeys_free(&keys);
		return EXIT_FATAL;
	}
	explicit_bzero(curve, sizeof(curve));
	authkeys_free(&keys);
	if ((front.mhd = start_mhd(cfg, connection_limit(cfg, nofile))) ==
	    NULL ||
	    (info = MHD_get_daemon_info(front.mhd,
	    MHD_DAEMON_INFO_EPOLL_FD)) == NULL) {
		log_warnx("cannot listen on %s", cfg->listen);
		broker_free(front.broker);
		return EXIT_FATAL;
	}
	front.mhd_fd = info->epoll_fd;
	log_info("listening on %s", cfg->listen);
	if (sandbox_seal(cfg, SANDBOX_FRONT) == -1) {
		rc = EXIT_FATAL;
		front.phase = F_DONE;
	}
	while (front.phase != F_DONE)
		if (loop_once(&front) == -1) {
			rc = 1;
			break;
		}
	broker_stop(front.broker);
	MHD_run(front.mhd);
	MHD_stop_daemon(front.mhd);
	broker_free(front.broker);
	metricsd_stop(front.metricsd);
	stats_free(front.stats);
	if (front.listen_fd != MHD_INVALID_SOCKET)
		close(front.listen_fd);
	close(front.sigfd);
	return rc;
}
