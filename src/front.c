/*
 * front.c - the HTTP side of tokend.
 *
 * libmicrohttpd runs a pool of epoll threads.  For POST /v1/token a handler
 * reads the body (bounded by max_body), checks it is a JSON object naming a
 * known service and carrying an assertion, suspends the connection and
 * hands a struct job to the broker thread.  When the broker completes the
 * job it resumes the connection, and the handler, called once more by MHD
 * on its own thread, turns the worker's reply into the HTTP answer.
 *
 * The front holds no secret and does no crypto: config_purge_secrets()
 * runs before the first request.  Every way a request can fail ends in a
 * JSON error body {"status", "errors": [{location, name, description}]}.
 */
#include "front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "broker.h"
#include "clock.h"
#include "config.h"
#include "log.h"

enum req_state {
	R_READING,	/* body arriving */
	R_WAITING,	/* suspended, job with the broker */
	R_DONE,		/* resumed, job->outcome is set */
};

struct request {
	enum req_state	 state;
	char		*body;
	size_t		 len, cap;
	int		 too_large;
	json_t		*json;		/* parsed body, owns job strings */
	struct job	 job;
	struct MHD_Connection *conn;
	uint64_t	 start_us;
	unsigned	 status;
	char		 method[8];
	char		 path[64];
};

struct front {
	struct config		*cfg;
	struct broker		*broker;
	struct MHD_Daemon	*mhd;
	atomic_int		 draining;
};

/* The front is a process of its own: one instance, set once at start. */
static struct front	front;

/* ---- responses -------------------------------------------------------- */

static enum MHD_Result
respond(struct request *r, unsigned status, char *body, size_t len,
    const char *retry_after)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	resp = MHD_create_response_from_buffer(len, body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (retry_after != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
		    retry_after);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    strcmp(r->path, "/v1/token") == 0 ? "POST" : "GET");
	/* While draining, ask clients to go so the front can exit. */
	if (atomic_load(&front.draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	r->status = status;
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
respond_json(struct request *r, unsigned status, json_t *obj,
    const char *retry_after)
{
	char	*body;

	body = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(obj);
	if (body == NULL)
		return MHD_NO;
	return respond(r, status, body, strlen(body), retry_after);
}

static enum MHD_Result
respond_error(struct request *r, unsigned status, const char *code,
    const char *location, const char *name, const char *description)
{
	return respond_json(r, status, json_pack("{s:s, s:[{s:s, s:s, s:s}]}",
	    "status", code, "errors", "location", location, "name", name,
	    "description", description),
	    status == MHD_HTTP_SERVICE_UNAVAILABLE ? "1" : NULL);
}

/* ---- the worker's answer -> HTTP -------------------------------------- */

static const struct {
	const char	*error;
	unsigned	 status;
	const char	*code;
} reply_errors[] = {
	{ PROTO_ERR_INVALID_REQUEST, 400, "invalid-request" },
	{ PROTO_ERR_INVALID_CREDENTIALS, 401, "invalid-credentials" },
	{ PROTO_ERR_UNKNOWN_SERVICE, 404, "not-found" },
	{ PROTO_ERR_INTERNAL, 500, "error" },
};

/* A reply field as a JSON string, or NULL if absent or not UTF-8. */
static json_t *
reply_str(const struct proto_msg *m, const char *key)
{
	const char	*v;
	size_t		 len;

	if ((v = proto_get(m, key, &len)) == NULL)
		return NULL;
	return json_stringn(v, len);
}

static json_t *
reply_int(const struct proto_msg *m, const char *key)
{
	char		 buf[24], *end;
	long long	 v;

	if (proto_get_str(m, key, buf, sizeof(buf)) == -1)
		return NULL;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\0')
		return NULL;
	return json_integer(v);
}

static enum MHD_Result
respond_reply_error(struct request *r, const struct proto_msg *m)
{
	char	 error[32], name[32], desc[256];
	size_t	 i;

	if (proto_get_str(m, "error", error, sizeof(error)) == -1)
		snprintf(error, sizeof(error), "%s", PROTO_ERR_INTERNAL);
	if (proto_get_str(m, "name", name, sizeof(name)) == -1)
		snprintf(name, sizeof(name), "assertion");
	if (proto_get_str(m, "description", desc, sizeof(desc)) == -1)
		snprintf(desc, sizeof(desc), "the worker gave no reason");
	for (i = 0; i < sizeof(reply_errors) / sizeof(reply_errors[0]); i++)
		if (strcmp(error, reply_errors[i].error) == 0)
			return respond_error(r, reply_errors[i].status,
			    reply_errors[i].code, "body", name, desc);
	return respond_error(r, 500, "error", "body", name,
	    "the worker answered with an unknown error");
}

static enum MHD_Result
respond_reply(struct request *r)
{
	const struct proto_msg	*m = &r->job.reply;
	json_t			*obj;
	size_t			 len;

	if (proto_get(m, "error", &len) != NULL)
		return respond_reply_error(r, m);
	obj = json_pack("{s:o?, s:o?, s:o?, s:o?, s:o?, s:o?, s:o?}",
	    "id", reply_str(m, "id"), "key", reply_str(m, "key"),
	    "uid", reply_int(m, "uid"),
	    "api_endpoint", reply_str(m, "api_endpoint"),
	    "duration", reply_int(m, "duration"),
	    "hashalg", reply_str(m, "hashalg"),
	    "expires", reply_int(m, "expires"));
	if (obj == NULL || json_object_size(obj) != 7) {
		json_decref(obj);
		return respond_error(r, 502, "error", "body", "assertion",
		    "the worker's reply is incomplete");
	}
	return respond_json(r, MHD_HTTP_OK, obj, NULL);
}

static enum MHD_Result
respond_outcome(struct request *r)
{
	enum MHD_Result	ret;

	switch (r->job.outcome) {
	case JOB_REPLIED:
		ret = respond_reply(r);
		proto_msg_close(&r->job.reply);
		return ret;
	case JOB_TIMEOUT:
		return respond_error(r, MHD_HTTP_GATEWAY_TIMEOUT, "timeout",
		    "body", "assertion",
		    "no worker answered within request_timeout");
	case JOB_UNAVAILABLE:
		break;
	}
	return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
	    "body", "assertion", "the server is shutting down or overloaded");
}

/* ---- the request ------------------------------------------------------ */

static int
is_json_type(const char *ct)
{
	static const char	type[] = "application/json";
	size_t			n = sizeof(type) - 1;

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
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

/* A non-empty string member of the body, or NULL. */
static const char *
body_string(struct request *r, const char *name, size_t *len)
{
	json_t	*v = json_object_get(r->json, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

static enum MHD_Result
submit_token(struct request *r)
{
	json_error_t	 jerr;
	char		 desc[256];

	if (r->too_large) {
		snprintf(desc, sizeof(desc), "request body is larger than "
		    "%zu bytes", front.cfg->max_body);
		return respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request-too-large", "body", "body", desc);
	}
	r->json = json_loadb(r->body ? r->body : "", r->len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (r->json == NULL) {
		snprintf(desc, sizeof(desc), "body is not valid JSON: %s",
		    jerr.text);
		return respond_error(r, 400, "invalid-request", "body", "body",
		    desc);
	}
	if (!json_is_object(r->json))
		return respond_error(r, 400, "invalid-request", "body", "body",
		    "body must be a JSON object");
	if ((r->job.assertion = body_string(r, "assertion",
	    &r->job.assertion_len)) == NULL)
		return respond_error(r, 400, "invalid-request", "body",
		    "assertion", "assertion must be a non-empty string");
	if ((r->job.service = body_string(r, "service",
	    &r->job.service_len)) == NULL)
		return respond_error(r, 400, "invalid-request", "body",
		    "service", "service must be a non-empty string");
	/*
	 * Whether the service exists is the worker's call: it holds the
	 * current config, so a reload that adds a service needs no new front.
	 */
	r->job.owner = r;
	r->state = R_WAITING;
	MHD_suspend_connection(r->conn);
	if (broker_submit(front.broker, &r->job) == -1) {
		r->state = R_DONE;
		r->job.outcome = JOB_UNAVAILABLE;
		MHD_resume_connection(r->conn);
	}
	return MHD_YES;
}

/* Called by the broker thread: the job is complete, wake the request. */
static void
job_done(struct job *job)
{
	struct request	*r = job->owner;

	r->state = R_DONE;
	MHD_resume_connection(r->conn);
}

/* First call for a request: route it; answer at once if it cannot go on. */
static enum MHD_Result
start_request(struct MHD_Connection *c, const char *url, const char *method,
    void **con_cls)
{
	struct request	*r;
	const char	*cl;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MHD_NO;
	r->conn = c;
	r->start_us = mono_us();
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", url);
	*con_cls = r;
	if (strcmp(url, "/__lbheartbeat__") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method-not-allowed", "url", "method",
			    "use GET");
		return respond_json(r, MHD_HTTP_OK, json_object(), NULL);
	}
	if (strcmp(url, "/v1/token") != 0)
		return respond_error(r, MHD_HTTP_NOT_FOUND, "not-found", "url",
		    "path", "no such endpoint");
	if (strcmp(method, "POST") != 0)
		return respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method-not-allowed", "url", "method", "use POST");
	if (!is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE)))
		return respond_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported-media-type", "header", "Content-Type",
		    "Content-Type must be application/json");
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > front.cfg->max_body) {
		r->too_large = 1;
		return submit_token(r);
	}
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
	if (r->status != 0) {
		*upload_data_size = 0;	/* answered already: drop the body */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (append_body(r, upload_data, *upload_data_size) == -1)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (r->state) {
	case R_READING:
		return submit_token(r);
	case R_WAITING:
		return MHD_YES;
	case R_DONE:
		break;
	}
	return respond_outcome(r);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request	*r = *con_cls;

	if (r == NULL)
		return;
	if (front.cfg->access_log)
		log_info("%s %s %u %.3fms worker=%d%s", r->method, r->path,
		    r->status, (double)(mono_us() - r->start_us) / 1000.0,
		    (int)r->job.worker_pid,
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
		    " (connection lost)");
	json_decref(r->json);
	free(r->body);
	free(r);
	*con_cls = NULL;
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

/* Idle keep-alive connections each take a descriptor: make room. */
static void
raise_nofile(const struct config *cfg)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)cfg->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit(RLIMIT_NOFILE, %llu)",
		    (unsigned long long)rl.rlim_cur);
}

static struct MHD_Daemon *
start_mhd(const struct config *cfg)
{
	struct sockaddr_storage	 ss;
	unsigned int		 flags;
	int			 v6;

	if ((v6 = listen_addr(cfg, &ss)) == -1)
		return NULL;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    (v6 ? MHD_USE_IPv6 : 0);
	return MHD_start_daemon(flags, cfg->listen_port, NULL, NULL,
	    on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)cfg->per_ip_connections,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
}

/*
 * Stop accepting, let the jobs in flight finish (up to shutdown_timeout),
 * and give the connections a moment to take their answers.
 */
static void
drain(struct front *f)
{
	const union MHD_DaemonInfo	*info;
	uint64_t			 deadline;
	struct timespec			 tick = { 0, 10 * 1000 * 1000 };

	atomic_store(&f->draining, 1);
	MHD_quiesce_daemon(f->mhd);
	deadline = mono_ms() + (uint64_t)f->cfg->shutdown_timeout_ms;
	while (broker_inflight(f->broker) > 0 && mono_ms() < deadline)
		nanosleep(&tick, NULL);
	if (broker_inflight(f->broker) > 0)
		log_warnx("drain: %d requests still in flight after %d ms",
		    broker_inflight(f->broker), f->cfg->shutdown_timeout_ms);
	broker_stop(f->broker);
	f->broker = NULL;
	deadline = mono_ms() + 1000;
	while (mono_ms() < deadline) {
		info = MHD_get_daemon_info(f->mhd,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info == NULL || info->num_connections == 0)
			break;
		nanosleep(&tick, NULL);
	}
}

/* Tells the supervisor, once, that requests can be served now. */
static void
report_ready(int *ready_fd)
{
	if (*ready_fd == -1 || broker_workers(front.broker) == 0)
		return;
	if (write(*ready_fd, "R", 1) != 1)
		log_warn("ready pipe");
	close(*ready_fd);
	*ready_fd = -1;
}

int
front_main(struct config *cfg, int ready_fd)
{
	struct timespec	 tick = { 0, 50 * 1000 * 1000 };
	sigset_t	 mask;
	siginfo_t	 si;
	int		 sig;

	config_purge_secrets(cfg);
	front.cfg = cfg;
	raise_nofile(cfg);
	signal(SIGPIPE, SIG_IGN);
	if ((front.broker = broker_start(cfg, job_done)) == NULL)
		return EXIT_FATAL;
	if ((front.mhd = start_mhd(cfg)) == NULL) {
		log_warnx("cannot listen on %s", cfg->listen);
		broker_stop(front.broker);
		return EXIT_FATAL;
	}
	log_info("listening on %s", cfg->listen);
	/* Signals stay blocked in every thread; this one takes them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	for (;;) {
		report_ready(&ready_fd);
		sig = ready_fd == -1 ? sigwaitinfo(&mask, &si) :
		    sigtimedwait(&mask, &si, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGUSR1 && si.si_code == SI_QUEUE)
			broker_worker_died(front.broker,
			    (pid_t)si.si_value.sival_int);
	}
	log_info("draining");
	drain(&front);
	MHD_stop_daemon(front.mhd);
	return 0;
}
