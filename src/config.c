/*
 * config.c - turns tokend.conf into one checked, immutable struct config.
 *
 * The generic work (the INI file, keys, defaults, errors at FILE:LINE) is
 * core/conf.c's; this file says what tokend's file holds: the [server]
 * keys, the [issuer] and [browserid] keys, the section table, and the
 * checks that span sections.  [service] is tokens/service.c's, joined here
 * to its node assignment (store/).  Files a key names (secrets, JWKS) are
 * read when the key is met, so an error in them points at the key's line.
 * Nothing is half-applied: config_load() either returns a complete config
 * or frees everything it built.
 *
 * A new section is one entry in sections[] and its finish function (and
 * its struct and keys, next to the code that uses them).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zmq.h>

#include "core/conf.h"
#include "core/log.h"
#include "identity/browserid.h"
#include "identity/fxa.h"
#include "identity/issuer.h"
#include "identity/jwks.h"
#include "identity/jws.h"
#include "identity/keys.h"
#include "pool/curve.h"
#include "pool/protocol.h"
#include "store/store.h"
#include "store/users.h"
#include "tokens/secret.h"
#include "tokens/service.h"
#include "worker.h"

/* ---- one-secret files: the uid secret, an issuer's HS* secret ---------- */

static int
load_secret(struct conf *l, const struct conf_key *k, const char *v,
    struct secret *s)
{
	char	 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	if (secret_load(s, path, msg, sizeof(msg)) == -1)
		return conf_fail(l, "%s: %s", k->name, msg);
	return 0;
}

/* A struct secret * field, allocated here. */
static void
clear_secret(const struct conf_key *k, void *obj)
{
	struct secret	**field = CONF_FIELD(obj, k);

	if (*field != NULL)
		secret_free(*field);
	free(*field);
	*field = NULL;
}

static int
set_secret(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	struct secret	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return conf_fail(l, "out of memory");
	if (load_secret(l, k, v, s) == -1) {
		free(s);
		return -1;
	}
	clear_secret(k, obj);
	*(struct secret **)CONF_FIELD(obj, k) = s;
	return 0;
}

static const struct conf_type secret_type = { .set = set_secret,
    .clear = clear_secret, .purge = clear_secret };

/*
 * identity/issuer.h holds an HS* secret as bytes and a length (identity may
 * not include tokens/); it is secret memory all the same.
 */
static void
clear_hs_secret(const struct conf_key *k, void *obj)
{
	struct issuer_secret	*hs = CONF_FIELD(obj, k);
	struct secret		 s = { hs->bytes, hs->len };

	secret_free(&s);
	hs->bytes = NULL;
	hs->len = 0;
}

static int
set_hs_secret(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct issuer_secret	*hs = CONF_FIELD(obj, k);
	struct secret		 s;

	if (load_secret(l, k, v, &s) == -1)
		return -1;
	clear_hs_secret(k, obj);
	hs->bytes = s.bytes;
	hs->len = s.len;
	return 0;
}

static const struct conf_type hs_secret_type = { .set = set_hs_secret,
    .clear = clear_hs_secret, .purge = clear_hs_secret };

/* ---- [server] --------------------------------------------------------- */

/*
 * host:port or [v6]:port, numeric, for key k: the address into host (room
 * for INET6_ADDRSTRLEN + 2), without brackets, and the port.
 */
static int
parse_hostport(struct conf *l, const struct conf_key *k, const char *v,
    char *host, uint16_t *portp)
{
	unsigned char	 addr[sizeof(struct in6_addr)];
	const char	*colon;
	long		 port;
	size_t		 hlen;

	if ((colon = strrchr(v, ':')) == NULL)
		return conf_fail(l, "%s: expected ADDRESS:PORT, got \"%s\"",
		    k->name, v);
	hlen = (size_t)(colon - v);
	if (hlen >= INET6_ADDRSTRLEN + 2)
		return conf_fail(l, "%s: address too long", k->name);
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return conf_fail(l, "%s: \"%s\" is not an IPv6 "
			    "address", k->name, host);
	} else if (inet_pton(AF_INET, host, addr) != 1)
		return conf_fail(l, "%s: \"%s\" is not a numeric IPv4 "
		    "address (write IPv6 as [addr]:port)", k->name, host);
	if (conf_parse_long(colon + 1, &port) == -1 || port < 1 ||
	    port > 65535)
		return conf_fail(l, "%s: port must be 1..65535, got \"%s\"",
		    k->name, colon + 1);
	*portp = (uint16_t)port;
	return 0;
}

/*
 * A listen key's three members: the text as written, its host and its
 * port (parse_hostport), replaced together.
 */
static int
set_hostport(struct conf *l, const struct conf_key *k, const char *v,
    char **text, char **hostp, uint16_t *portp)
{
	char		 host[INET6_ADDRSTRLEN + 2];
	uint16_t	 port = 0;

	if (parse_hostport(l, k, v, host, &port) == -1)
		return -1;
	free(*text);
	free(*hostp);
	*text = strdup(v);
	*hostp = strdup(host);
	*portp = port;
	return (*text && *hostp) ? 0 : conf_fail(l, "out of memory");
}

static void
clear_hostport(char **text, char **hostp, uint16_t *portp)
{
	free(*text);
	free(*hostp);
	*text = *hostp = NULL;
	*portp = 0;
}

/* listen: listen, listen_host and listen_port. */
static int
set_listen(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct config	*c = obj;

	return set_hostport(l, k, v, &c->listen, &c->listen_host,
	    &c->listen_port);
}

static void
clear_listen(const struct conf_key *k, void *obj)
{
	struct config	*c = obj;

	clear_hostport(&c->listen, &c->listen_host, &c->listen_port);
}

/* listen is three fields: a reload that keeps it keeps all three. */
static void
swap_listen(const struct conf_key *k, void *a, void *b)
{
	struct config	*x = a, *y = b;
	char		*listen = x->listen, *host = x->listen_host;
	uint16_t	 port = x->listen_port;

	x->listen = y->listen;
	x->listen_host = y->listen_host;
	x->listen_port = y->listen_port;
	y->listen = listen;
	y->listen_host = host;
	y->listen_port = port;
}

static const struct conf_type listen_type = { .set = set_listen,
    .clear = clear_listen, .show = conf_show_str, .swap = swap_listen };

/* sockaddr_un holds 108 bytes; leave room for "/worker.sock". */
#define RUNTIME_DIR_MAX	80

/* runtime_dir: a path short enough to hold the worker socket. */
static int
set_runtime_dir(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	const char	*dir;

	if (conf_pathname.set(l, k, obj, v) == -1)
		return -1;
	dir = *(char **)CONF_FIELD(obj, k);
	if (strlen(dir) > RUNTIME_DIR_MAX)
		return conf_fail(l, "%s: \"%s\" is %zu bytes, too long for a "
		    "Unix socket path (at most %d, as an absolute path)",
		    k->name, dir, strlen(dir), RUNTIME_DIR_MAX);
	return 0;
}

static const struct conf_type runtime_dir_type = { .set = set_runtime_dir,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

/*
 * workers: a count, or "none" for a front whose workers all connect from
 * elsewhere (a worker host's, contrib/python-worker).  0 already means one
 * per CPU, so "no local worker" needs a word of its own: an old file's
 * "workers = 0" must not silently become a front that serves nothing.
 */
#define WORKERS_NONE	(-1)

static int
set_workers(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	if (strcmp(v, "none") == 0) {
		*(int *)CONF_FIELD(obj, k) = WORKERS_NONE;
		return 0;
	}
	return conf_int.set(l, k, obj, v);
}

static void
show_workers(const struct conf_key *k, const void *obj, char *buf,
    size_t len)
{
	int	n = *(const int *)((const char *)obj + k->off);

	if (n == WORKERS_NONE)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%d", n);
}

static const struct conf_type workers_type = { .set = set_workers,
    .show = show_workers, .bounded = 1 };

#define SRV(f)	offsetof(struct config, f)

/*
 * Every key says whether a reload applies it.  A reload replaces the
 * workers and keeps the front, so what only the front reads (the listening
 * socket, its limits, the broker's settings) needs a restart: a reload
 * keeps its running value and says so (config_keep_running()).
 */
static const struct conf_key server_keys[] = {
	{ "listen", &listen_type, SRV(listen), 0, 0, "127.0.0.1:8080",
	  CONF_RESTART,
	  .doc = "Address and port of the HTTP front, numeric: ADDRESS:PORT, "
	  "IPv6 as [ADDRESS]:PORT." },
	{ "workers", &workers_type, SRV(workers), 0, 256, "0", CONF_RELOAD,
	  .doc = "Worker processes doing the crypto; 0 means one per CPU, "
	  "and none no local worker at all: a front served only by workers "
	  "that connect to it on their own (contrib/python-worker, a worker "
	  "host), which answers 504 until one has joined; a worker host "
	  "refuses it." },
	{ "worker_credit", &conf_int, SRV(worker_credit), 1, 16, "16",
	  CONF_RESTART,
	  .doc = "Jobs the front gives one worker at once: the one it works on "
	  "and the rest waiting in its socket, so that a busy worker goes from "
	  "job to job without sleeping and sends its replies in batches.  1 is "
	  "strict one-at-a-time; 16 doubles throughput on a small machine "
	  "(docs/performance.md).  The jobs of a worker that dies go to "
	  "others, one worker each until one of them is found to kill workers "
	  "(docs/architecture.md)." },
	{ "runtime_dir", &runtime_dir_type, SRV(runtime_dir), 0, 0,
	  "/run/tokend", CONF_RESTART,
	  .doc = "Directory of the front<->worker socket, created 0700 if "
	  "missing; at most 80 bytes, since a Unix socket path is short." },
	{ "state_dir", &conf_pathname, SRV(state_dir), 0, 0, "/var/lib/tokend",
	  CONF_RESTART,
	  .doc = "Directory of what tokend keeps across restarts: the SQLite "
	  "node-assignment database by default ([database] url).  The "
	  "supervisor creates it 0700 at start when a service has nodes = "
	  "database; only the workers write in it." },
	{ "max_body", &conf_size, SRV(max_body), 256, 1048576, "16384",
	  CONF_RESTART,
	  .doc = "Largest request body accepted, in bytes; a larger one gets "
	  "413.  No more than 69632 can be served: an assertion reaches a "
	  "worker in one 64 KiB frame (docs/protocol.md), so a larger one gets "
	  "413 whatever the limits." },
	{ "queue_limit", &conf_int, SRV(queue_limit), 1, 1000000, "1024",
	  CONF_RESTART,
	  .doc = "Requests that may wait when no worker has room for them; "
	  "beyond it the front answers 503 with Retry-After." },
	{ "request_timeout", &conf_msec, SRV(request_timeout_ms), 1, 300,
	  "5", CONF_RESTART,
	  .doc = "Seconds a request may wait for its answer; then 504." },
	{ "shutdown_timeout", &conf_msec, SRV(shutdown_timeout_ms), 1, 3600,
	  "10", CONF_RESTART,
	  .doc = "Seconds a drain (SIGTERM) waits for the requests in flight "
	  "before giving up on them." },
	{ "max_connections", &conf_int, SRV(max_connections), 1, 1000000,
	  "20000", CONF_RESTART,
	  .doc = "Connections the front holds at most." },
	{ "per_ip_connections", &conf_int, SRV(per_ip_connections), 0,
	  1000000, "256", CONF_RESTART,
	  .doc = "Connections one client address may hold; 0 means no limit.  "
	  "Behind a reverse proxy every connection comes from the proxy's "
	  "address: raise it to the proxy's connection pool, or set 0." },
	{ "idle_timeout", &conf_int, SRV(idle_timeout), 1, 3600, "60",
	  CONF_RESTART,
	  .doc = "Seconds an idle keep-alive connection is kept." },
	{ "connection_memory", &conf_size, SRV(connection_memory), 4096,
	  262144, "4608", CONF_RESTART,
	  .doc = "Bytes of libmicrohttpd's buffer per connection, no more than "
	  "69632.  It holds the request's headers and the answer's, and is "
	  "what an idle kept-alive connection costs (10,000 of them: 60 MiB at "
	  "4608).  A request head must fit with 64 bytes per header line and "
	  "512 to spare, or it gets a JSON 431: at 4608 an Authorization "
	  "header (a BrowserID assertion on GET /1.0/APP/VERSION) of up to "
	  "about 3.8 KB.  Raise it for larger ones; JSON bodies do not "
	  "count." },
	{ "access_log", &conf_bool, SRV(access_log), 0, 1, "on",
	  CONF_RESTART,
	  .doc = "One log line per request: on or off." },
	{ "sandbox", &conf_bool, SRV(sandbox), 0, 1, "on", CONF_WORKERS,
	  .doc = "Confines the front and the workers (Landlock and seccomp, "
	  "docs/security.md): each reaches only the files and ports its role "
	  "needs.  off is the escape hatch for a kernel or a set-up it does "
	  "not fit." },
	{ "log_level", &conf_loglevel, SRV(log_level), 0, 0, "info",
	  CONF_WORKERS,
	  .doc = "error, warning, info or debug (the supervisor's too)." },
	{ "log_format", &conf_logformat, SRV(log_format), 0, 0, "text",
	  CONF_RESTART,
	  .doc = "text: one line per event for a person or journald.  json: "
	  "one MozLog object per line (Timestamp in ns, Type, Logger, "
	  "Hostname, EnvVersion, Severity, Pid, Fields), the access log as "
	  "Type request.summary, for a log pipeline (docs/deployment.md).  "
	  "Every process writes the same format, so a change needs a "
	  "restart." },
	{ "heartbeat_interval", &conf_int, SRV(heartbeat_ms), 50, 60000,
	  "1000", CONF_RESTART,
	  .doc = "Milliseconds between heartbeats of idle workers and the "
	  "front." },
	{ "heartbeat_liveness", &conf_int, SRV(heartbeat_liveness), 2, 100,
	  "3", CONF_RESTART,
	  .doc = "Heartbeats a peer may miss before it is taken for dead.  A "
	  "worker that holds one job for heartbeat_interval x "
	  "heartbeat_liveness is taken for hung, so that product must exceed "
	  "the longest a job may take (the file is refused otherwise)." },
	{ "orphan_timeout", &conf_msec, SRV(orphan_timeout_ms), 1, 3600,
	  "30", CONF_RELOAD,
	  .doc = "Seconds a worker that has lost the front tries to reach it "
	  "again before it exits." },
	{ "max_jobs", &conf_long, SRV(max_jobs), 0, 1000000000, "0",
	  CONF_RELOAD,
	  .doc = "A worker exits after this many jobs and is replaced, which "
	  "bounds what a slow leak can grow to; 0 turns it off." },
	{ "max_rss", &conf_mib, SRV(max_rss_kb), 0, 65536, "256",
	  CONF_RELOAD,
	  .doc = "A worker exits once its resident size passes this many MiB "
	  "and is replaced; 0 turns it off." },
	{ "uid_secret_file", &secret_type, SRV(uid_secret), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "The secret that keys the hash giving each (issuer, subject) "
	  "its numeric uid (docs/tokens.md): one secret of at least 32 bytes "
	  "on one line, in a file of mode 0600 or 0400 that the user tokend "
	  "runs as can read.  Make one with `(umask 077; openssl rand -hex 32 "
	  "> uid.secret)`.  Keep it forever: a reload applies a new one like "
	  "any key, and a new one changes every uid.  Required, except on a "
	  "front with remote workers only ([remote]), which keys no uid.",
	  .example = "uid.secret" },
	{ .name = NULL }
};

/*
 * The largest request worth reading: an assertion reaches a worker in one
 * frame (PROTO_MAX_VALUE), and the rest of a body or a head (JSON syntax,
 * the service name, other headers) is small.  A larger max_body or
 * connection_memory would only let clients make the front hold bytes no
 * worker could take.
 */
#define REQUEST_MAX	(PROTO_MAX_VALUE + 4096)

/*
 * Limits that must fit each other (docs/security.md): the sizes against
 * the worker frame, the hung-worker limit against the longest a job may
 * take.  Each names the key that breaks the rule, at its line; all are
 * checked, so all are reported.
 */
static int
finish_server(struct conf *l, void *obj)
{
	struct config	*c = obj;
	long		 hung = (long)c->heartbeat_ms * c->heartbeat_liveness;
	long		 ncpu;
	int		 rc = 0;

	c->server_line = conf_section_line(l);
	if (c->workers == WORKERS_NONE)
		c->workers = 0;
	else if (c->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;
	}
	if (c->max_body > REQUEST_MAX)
		rc = conf_fail_at(l, conf_key_line(l, "max_body"), "max_body "
		    "= %zu: no request over %d bytes can be served (an "
		    "assertion reaches a worker in one frame of at most %d "
		    "bytes, docs/protocol.md); set max_body to %d or less",
		    c->max_body, REQUEST_MAX, PROTO_MAX_VALUE, REQUEST_MAX);
	if (c->connection_memory > REQUEST_MAX)
		rc = conf_fail_at(l, conf_key_line(l, "connection_memory"),
		    "connection_memory = %zu: no request head over %d bytes "
		    "can be served (an assertion reaches a worker in one frame "
		    "of at most %d bytes, docs/protocol.md); set "
		    "connection_memory to %d or less", c->connection_memory,
		    REQUEST_MAX, PROTO_MAX_VALUE, REQUEST_MAX);
	if (hung <= WORKER_JOB_MAX_MS(KEYS_WAIT_MS))
		rc = conf_fail_at(l, conf_key_line(l, "heartbeat_interval"),
		    "heartbeat_interval x heartbeat_liveness = %ld ms: a "
		    "worker would be taken for hung while a job may still "
		    "legitimately run (up to %d ms: verification, the wait for "
		    "an issuer's keys and the reply; the hung-worker rule, "
		    "docs/architecture.md); raise heartbeat_interval or "
		    "heartbeat_liveness", hung,
		    WORKER_JOB_MAX_MS(KEYS_WAIT_MS));
	return rc;
}

/* ---- [database] ------------------------------------------------------- */

/* password_file: the database's password, read as a secret file is. */
static int
set_password(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct secret	*s;
	char		 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return conf_fail(l, "out of memory");
	if (password_load(s, path, msg, sizeof(msg)) == -1) {
		free(s);
		return conf_fail(l, "%s: %s", k->name, msg);
	}
	clear_secret(k, obj);
	*(struct secret **)CONF_FIELD(obj, k) = s;
	return 0;
}

static const struct conf_type password_type = { .set = set_password,
    .clear = clear_secret, .purge = clear_secret };

/* release_rate: a fraction in (0, 1]. */
static int
set_rate(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d > 0.0 && d <= 1.0))
		return conf_fail(l, "%s: expected a number above 0 and at most "
		    "1, got \"%s\"", k->name, v);
	*(double *)CONF_FIELD(obj, k) = d;
	return 0;
}

static const struct conf_type rate_type = { .set = set_rate };

#define DB(f)	offsetof(struct config_database, f)
#define DATABASE_TIMEOUT_MIN_MS	10
#define DATABASE_TIMEOUT_MAX_MS	60000

/*
 * Read by the workers, each opening its own connection after fork: a
 * reload applies every key in the workers it starts.
 */
static const struct conf_key database_keys[] = {
	{ "url", &conf_str, DB(url), 0, 0, CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "The node-assignment database of the services with nodes = "
	  "database (docs/nodes.md): sqlite:///PATH (an absolute path: "
	  "embedded, one file, no server; its directory must be writable by "
	  "tokend) or postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME (libpq; "
	  "several tokend instances may share one).  Left out: "
	  "sqlite:///STATE_DIR/tokend.db.  Mozilla's schema; an empty database "
	  "gets it at start.",
	  .example = "#postgres://tokend@db.example.com/tokend" },
	{ "password_file", &password_type, DB(password), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "The PostgreSQL password, on one line of a file of mode 0600 "
	  "or 0400, instead of in url.", .example = "#db.password" },
	{ "timeout", &conf_int, DB(timeout_ms), DATABASE_TIMEOUT_MIN_MS,
	  DATABASE_TIMEOUT_MAX_MS, "400", CONF_RELOAD,
	  .doc = "Milliseconds one call to the database may take (a lock "
	  "waited for, a slow or unreachable server); past it the request gets "
	  "503 with Retry-After, and the next one tries again.  A request "
	  "makes at most two calls (the second: the services' rows, when the "
	  "database was unreachable at start).  The longest job (twice this, "
	  "plus a verifier's timeout and the wait for keys) must stay below "
	  "request_timeout and below heartbeat_interval x heartbeat_liveness "
	  "(the file is refused otherwise)." },
	{ "release_rate", &rate_type, DB(release_rate), 0, 0, "0.1",
	  CONF_RELOAD,
	  .doc = "When no node has room for a new user, each node's available "
	  "is raised to min(capacity x release_rate, capacity - "
	  "current_load): Mozilla's node_capacity_release_rate." },
	{ "max_releases", &conf_int, DB(max_releases), 0, 100, "5",
	  CONF_RELOAD,
	  .doc = "Rounds of release before a new user gets 503 (no node has "
	  "room)." },
	{ "capacity", &conf_i64, DB(capacity), 1, 1000000000, "100",
	  CONF_RELOAD,
	  .doc = "Capacity (and available) of the nodes created at start "
	  "(bootstrap_nodes)." },
	{ .name = NULL }
};

const char *
config_sqlite_path(const char *url)
{
	return strncmp(url, "sqlite://", 9) == 0 ? url + 9 : NULL;
}

static int
finish_database(struct conf *l, void *obj)
{
	struct config_database	*db = obj;
	const char		*path;
	int			 line = conf_key_line(l, "url");

	db->line = conf_section_line(l);
	if (db->url == NULL && db->password != NULL)
		return conf_fail_at(l, conf_key_line(l, "password_file"),
		    "password_file: the default database (a sqlite:// file "
		    "under state_dir) takes no password");
	if (db->url == NULL)
		return 0;	/* the default, once state_dir is known */
	if (strlen(db->url) > USERS_URL_MAX)
		return conf_fail_at(l, line, "url: longer than %d bytes",
		    USERS_URL_MAX);
	if ((path = config_sqlite_path(db->url)) != NULL) {
		if (path[0] != '/' || path[1] == '\0' ||
		    path[strlen(path) - 1] == '/')
			return conf_fail_at(l, line, "url: expected "
			    "sqlite:///ABSOLUTE/PATH/FILE, got \"%s\"",
			    db->url);
		if (db->password != NULL)
			return conf_fail_at(l, conf_key_line(l,
			    "password_file"), "password_file: a sqlite:// "
			    "database takes no password");
		return 0;
	}
	if (strncmp(db->url, "postgres://", 11) != 0 &&
	    strncmp(db->url, "postgresql://", 13) != 0)
		return conf_fail_at(l, line, "url: expected sqlite:///PATH or "
		    "postgres://USER@HOST/DBNAME");
	return 0;
}

/* ---- [metrics] -------------------------------------------------------- */

/* [metrics] listen: metrics_listen, metrics_host and metrics_port. */
static int
set_metrics_listen(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct config	*c = obj;

	return set_hostport(l, k, v, &c->metrics_listen, &c->metrics_host,
	    &c->metrics_port);
}

static void
clear_metrics_listen(const struct conf_key *k, void *obj)
{
	struct config	*c = obj;

	clear_hostport(&c->metrics_listen, &c->metrics_host,
	    &c->metrics_port);
}

static void
swap_metrics_listen(const struct conf_key *k, void *a, void *b)
{
	struct config	*x = a, *y = b;
	char		*listen = x->metrics_listen, *host = x->metrics_host;
	uint16_t	 port = x->metrics_port;

	x->metrics_listen = y->metrics_listen;
	x->metrics_host = y->metrics_host;
	x->metrics_port = y->metrics_port;
	y->metrics_listen = listen;
	y->metrics_host = host;
	y->metrics_port = port;
}

static void
show_metrics_listen(const struct conf_key *k, const void *obj, char *buf,
    size_t len)
{
	const struct config	*c = obj;

	snprintf(buf, len, "%s", c->metrics_listen != NULL ?
	    c->metrics_listen : "");
}

static const struct conf_type metrics_listen_type = {
    .set = set_metrics_listen, .clear = clear_metrics_listen,
    .show = show_metrics_listen, .swap = swap_metrics_listen };

static const struct conf_key metrics_keys[] = {
	{ "listen", &metrics_listen_type, SRV(metrics_listen), 0, 0,
	  CONF_OPTIONAL,
	  CONF_RESTART,
	  .doc = "Address and port of the metrics listener, numeric "
	  "(ADDRESS:PORT, IPv6 as [ADDRESS]:PORT): GET /metrics there answers "
	  "in the Prometheus text format (docs/metrics.md).  Unset: no "
	  "listener, and the workers send only the health facts "
	  "/__heartbeat__ needs.  Keep it on loopback or a management "
	  "network; it must differ from [server] listen.",
	  .example = "#127.0.0.1:9150" },
	{ .name = NULL }
};

/*
 * The two listeners must not share a port on one address: checked once
 * every section is in, whichever comes first in the file.
 */
static int
check_metrics(struct conf *l, const struct config *c)
{
	if (c->metrics_listen != NULL && c->listen_host != NULL &&
	    c->metrics_port == c->listen_port &&
	    (strcmp(c->metrics_host, c->listen_host) == 0 ||
	    strcmp(c->metrics_host, "0.0.0.0") == 0 ||
	    strcmp(c->listen_host, "0.0.0.0") == 0 ||
	    strcmp(c->metrics_host, "::") == 0 ||
	    strcmp(c->listen_host, "::") == 0))
		return conf_fail_at(l, 0, "[metrics] listen = %s: the metrics "
		    "listener needs a port of its own, not [server] listen's "
		    "(%s)", c->metrics_listen, c->listen);
	return 0;
}

/* ---- [issuer] --------------------------------------------------------- */

/*
 * jwks_file: the path is kept for keys.c, which watches it in each worker;
 * the set is loaded now, so that a bad file fails the load at its line.
 */
static void
clear_jwks(const struct conf_key *k, void *obj)
{
	struct issuer	*is = obj;

	jwks_free(is->jwks);
	is->jwks = NULL;
	free(is->jwks_file);
	is->jwks_file = NULL;
}

static void
purge_jwks(const struct conf_key *k, void *obj)
{
	struct issuer	*is = obj;

	jwks_free(is->jwks);
	is->jwks = NULL;
}

static int
set_jwks(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	struct issuer	*is = obj;
	char		 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	clear_jwks(k, is);
	if ((is->jwks_file = strdup(path)) == NULL)
		return conf_fail(l, "out of memory");
	if ((is->jwks = jwks_load(path, msg, sizeof(msg))) == NULL)
		return conf_fail(l, "jwks_file: %s", msg);
	return 0;
}

static const struct conf_type jwks_type = { .set = set_jwks,
    .clear = clear_jwks, .purge = purge_jwks };

static int
set_algs(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	unsigned	*out = CONF_FIELD(obj, k);
	char		 buf[256], *tok, *save = NULL;
	enum jws_alg	 alg;

	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return conf_fail(l, "algorithms: value too long");
	*out = 0;
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (jws_alg_parse(tok, &alg) == -1)
			return conf_fail(l, "algorithms: unsupported algorithm "
			    "\"%s\"", tok);
		*out |= JWS_ALG_BIT(alg);
	}
	if (*out == 0)
		return conf_fail(l, "algorithms: name at least one algorithm");
	return 0;
}

static const struct conf_type algs_type = { .set = set_algs };

static int
set_idclaim(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	int	*field = CONF_FIELD(obj, k);

	if (strcmp(v, "sub") == 0)
		*field = IDENTITY_SUB;
	else if (strcmp(v, "email") == 0)
		*field = IDENTITY_EMAIL;
	else
		return conf_fail(l, "%s: expected sub or email, got \"%s\"",
		    k->name, v);
	return 0;
}

static const struct conf_type idclaim_type = { .set = set_idclaim };

static void
clear_require(const struct conf_key *k, void *obj)
{
	struct issuer	*is = obj;
	size_t		 i;

	for (i = 0; i < is->nrequire; i++) {
		free(is->require[i].name);
		free(is->require[i].sval);
	}
	free(is->require);
	is->require = NULL;
	is->nrequire = 0;
}

/* One claim=value onto is->require. */
static int
add_require(struct conf *l, struct issuer *is, char *tok)
{
	struct claim_req	*r;
	char			*eq;

	if ((eq = strchr(tok, '=')) == NULL || eq == tok || eq[1] == '\0')
		return conf_fail(l, "require: expected claim=value, got "
		    "\"%s\"", tok);
	*eq = '\0';
	if ((r = reallocarray(is->require, is->nrequire + 1,
	    sizeof(*r))) == NULL)
		return conf_fail(l, "out of memory");
	is->require = r;
	r = &r[is->nrequire++];
	memset(r, 0, sizeof(*r));
	r->is_bool = strcmp(eq + 1, "true") == 0 ||
	    strcmp(eq + 1, "false") == 0;
	r->bval = strcmp(eq + 1, "true") == 0;
	if ((r->name = strdup(tok)) == NULL ||
	    (!r->is_bool && (r->sval = strdup(eq + 1)) == NULL))
		return conf_fail(l, "out of memory");
	return 0;
}

/*
 * require = name=value ...: true and false stand for JSON booleans (what
 * OpenID Connect's email_verified is), any other value for a string.
 */
static int
set_require(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct issuer	*is = obj;
	char		*copy, *tok, *save = NULL;
	int		 rc = 0;

	clear_require(k, is);
	if ((copy = strdup(v)) == NULL)
		return conf_fail(l, "out of memory");
	for (tok = strtok_r(copy, " \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, " \t", &save))
		rc = add_require(l, is, tok);
	free(copy);
	if (rc == 0 && is->nrequire == 0)
		return conf_fail(l, "require: name at least one claim=value");
	return rc;
}

static const struct conf_type require_type = { .set = set_require,
    .clear = clear_require };

/* ---- iss --------------------------------------------------------------- */

/* host[:port], or [v6][:port]: labels of letters, digits and '-'. */
static int
valid_host(const char *h, size_t n)
{
	size_t	i, label = 0;

	for (i = n; i > 0 && isdigit((unsigned char)h[i - 1]); i--)
		;
	if (i > 0 && i < n && h[i - 1] == ':')
		n = i - 1;	/* without its port */
	if (n > 2 && h[0] == '[' && h[n - 1] == ']')
		return strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		if (h[i] == '.' && label > 0 && h[i - 1] != '-')
			label = 0;
		else if (isalnum((unsigned char)h[i]) ||
		    (h[i] == '-' && label > 0))
			label++;
		else
			return 0;
		if (label > 63)
			return 0;
	}
	return label > 0 && h[n - 1] != '-';
}

/*
 * The issuer's "iss" is compared with each token's claim byte for byte, so
 * a value no issuer would put there (a typo in the scheme, a stray word)
 * would make every assertion fail with 401: refuse it now instead.  An
 * http(s):// URL with a host (OpenID Connect), or a host name.
 */
static int
set_iss(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	const char	*host = v, *end;

	if (*v == '\0')
		return conf_str.set(l, k, obj, v);	/* "empty value" */
	if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	end = host + strcspn(host, "/?#");
	if (!valid_host(host, (size_t)(end - host)) ||
	    (host == v && *end != '\0') || strpbrk(v, " \t") != NULL)
		return conf_fail(l, "%s: expected an https:// URL or a host "
		    "name, as the issuer writes its tokens' \"iss\" claim, got "
		    "\"%s\"", k->name, v);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type iss_type = { .set = set_iss,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

/* ---- type = fxa-oauth ---------------------------------------------- */

static int
set_issuer_type(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	int	*field = CONF_FIELD(obj, k);

	if (strcmp(v, "jwt") == 0)
		*field = ISSUER_JWT;
	else if (strcmp(v, "fxa-oauth") == 0)
		*field = ISSUER_FXA_OAUTH;
	else
		return conf_fail(l, "%s: expected jwt or fxa-oauth, got \"%s\"",
		    k->name, v);
	return 0;
}

static const struct conf_type issuer_type_type = { .set = set_issuer_type };

/* Whether host (as libcurl gives it: "[::1]" bracketed) is a literal
 * loopback address: 127.0.0.0/8 or ::1.  Names are not: who answers for a
 * name is whoever answers DNS (or writes /etc/hosts). */
static int
loopback_literal(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 buf[INET6_ADDRSTRLEN + 2];
	size_t		 n = strlen(host);

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || n >= sizeof(buf) || host[0] != '[' || host[n - 1] != ']')
		return 0;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Why url is no acceptable verify_url, or NULL: parsed by libcurl, which
 * will use it, so that the check and the use agree on every part. */
static const char *
verify_url_problem(const char *url)
{
	static const char suffix[] = "/v1/verify";
	CURLU		*u;
	char		*scheme = NULL, *host = NULL, *user = NULL, *path = NULL;
	char		*frag = NULL;
	const char	*why = NULL;
	size_t		 plen;

	/* libcurl reads "https:///v1/verify" as the host v1. */
	if (strstr(url, ":///") != NULL)
		return "not a URL with a host";
	if ((u = curl_url()) == NULL)
		return "out of memory";
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		why = "not a URL with a host";
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		why = "expected an https:// URL";
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		why = "a user name in the URL (\"NAME@host\") is refused: "
		    "https://accounts.example@evil.example/ is evil.example";
	else if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)
		why = "a #fragment is refused";
	else if (strcmp(scheme, "http") == 0 && !loopback_literal(host))
		why = "plain http:// only to a literal loopback address "
		    "(127.0.0.1, [::1]): anyone on the path, or who answers "
		    "DNS for the name, could vouch for any user";
	else if ((plen = strlen(path)) < sizeof(suffix) - 1 ||
	    strcmp(path + plen - (sizeof(suffix) - 1), suffix) != 0)
		why = "the path must end in /v1/verify (FxA's verify "
		    "endpoint, not the server's base URL)";
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(path);
	curl_free(frag);
	curl_url_cleanup(u);
	return why;
}

static int
set_verify_url(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	const char	*why;

	if (strpbrk(v, " \t") != NULL)
		why = "white space in the URL";
	else
		why = verify_url_problem(v);
	if (why != NULL)
		return conf_fail(l, "%s: %s, got \"%s\"", k->name, why, v);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type verify_url_type = { .set = set_verify_url,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

/* A host name, lower case (the emails it makes are database keys: one
 * spelling per user), no port. */
static int
set_email_domain(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	const char	*p;

	for (p = v; *p != '\0'; p++)
		if (isupper((unsigned char)*p) || *p == ':' || *p == '[')
			break;
	if (*p != '\0' || !valid_host(v, strlen(v)) || strchr(v, '.') == NULL)
		return conf_fail(l, "%s: expected a lower-case host name such "
		    "as api.accounts.firefox.com, got \"%s\"", k->name, v);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type email_domain_type = { .set = set_email_domain,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

/* A scope: printable ASCII without spaces or commas (the separators of
 * a JWT's scope claim). */
static int
set_scope(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	const char	*p;

	for (p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == ',')
			return conf_fail(l, "%s: one scope, printable and "
			    "without spaces or commas, got \"%s\"", k->name, v);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type scope_type = { .set = set_scope,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

#define ISS(f)	offsetof(struct issuer, f)

/*
 * Keys come from jwks_file, jwks_url (or both), the HS* secret from
 * hs_secret_file: finish_issuer() checks they fit "algorithms".  "services"
 * is checked against the [service] sections once all are read.  The
 * workers read all of it, so a reload applies every key.
 */
static const struct conf_key issuer_keys[] = {
	{ "type", &issuer_type_type, ISS(type), 0, 0, "jwt", CONF_RELOAD,
	  .doc = "jwt: the issuer signs JWTs (OpenID Connect ID tokens, OAuth "
	  "access tokens) that clients present.  fxa-oauth: Firefox Accounts "
	  "OAuth, as Mozilla's tokenserver takes it: clients send "
	  "\"Authorization: Bearer TOKEN\"; a JWT access token whose iss is "
	  "this issuer's is verified with its keys (jwks_file, jwks_url), any "
	  "other token by FxA's verify_url, and the token must hold scope.  "
	  "One fxa-oauth issuer at most (docs/api.md, Firefox Accounts)." },
	{ "iss", &iss_type, ISS(iss), 0, 0, NULL, CONF_RELOAD,
	  .doc = "The \"iss\" claim of the issuer's tokens, exactly: an "
	  "https:// (or http://) URL, or a host name.  For fxa-oauth, that of "
	  "FxA's JWT access tokens (https://accounts.firefox.com).",
	  .example = "https://idp.example.com" },
	{ "jwks_file", &jwks_type, ISS(jwks_file), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "Its public keys as a JWK Set (RSA of 2048 to 8192 bits, EC "
	  "P-256, P-384, P-521, Ed25519).  Each worker rereads it when it "
	  "changes on disk (checked at most once a second, and at once when a "
	  "token names an unknown kid), so keys rotate without a reload; a "
	  "version that does not parse is logged and the keys in use are "
	  "kept.  Replace it by rename (write a temporary file, mv it).",
	  .example = "example.jwks" },
	{ "jwks_url", &conf_https, ISS(jwks_url), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "And/or the URL of its JWK Set (https:// only: plain http:// "
	  "is refused), fetched by each worker at start, every jwks_refresh "
	  "seconds, and when a token names an unknown kid (at most once per 30 "
	  "s); connect timeout 2 s, whole fetch 5 s, at most 1 MiB, no "
	  "redirects, certificate and host name verified.  A failed fetch is "
	  "logged and the last good set kept (retried after 30 s, or "
	  "jwks_refresh if shorter).  With jwks_file too, a worker starts with "
	  "the file's keys and each fetch replaces them; with jwks_url alone "
	  "the issuer has no keys (its assertions get 401) until a fetch "
	  "succeeds.  `tokend -t` does not fetch.",
	  .example = "#https://idp.example.com/.well-known/jwks.json" },
	{ "jwks_refresh", &conf_i64, ISS(jwks_refresh), 1, 604800, "3600",
	  CONF_RELOAD,
	  .doc = "Seconds between fetches of jwks_url; refused without "
	  "jwks_url.", .example = "#3600" },
	{ "jwks_ca_file", &conf_pathname, ISS(jwks_ca_file), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "CA certificates (PEM) that verify jwks_url's server, instead "
	  "of the system's.", .example = "#/etc/tokend/idp-ca.pem" },
	{ "hs_secret_file", &hs_secret_type, ISS(hs_secret), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "The secret shared with the issuer for HS256, HS384 and "
	  "HS512: one secret on one line, at least as many bytes as the hash "
	  "(32, 48, 64), mode 0600.  Without it HS* is refused whatever the "
	  "token says, so a public key can never be used as an HMAC key.",
	  .example = "#example-hs.secret" },
	{ "audience", &conf_str, ISS(audience), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "A value the \"aud\" claim must hold (a string, or an array "
	  "that contains it).  Required for type jwt; for fxa-oauth, checked "
	  "on JWT access tokens when set (FxA's hold the client id).",
	  .example = "tokend" },
	{ "algorithms", &algs_type, ISS(algorithms), 0, 0,
	  "RS256 ES256 EdDSA", CONF_RELOAD,
	  .doc = "Signature algorithms accepted from this issuer, any of RS256 "
	  "RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA HS256 HS384 "
	  "HS512.  HS* need hs_secret_file, the others jwks_file or jwks_url; "
	  "when the keys come from jwks_file alone, one of its keys at least "
	  "must verify one of them." },
	{ "leeway", &conf_i64, ISS(leeway), 0, 3600, "60", CONF_RELOAD,
	  .doc = "Seconds of clock skew allowed on exp, nbf and iat." },
	{ "identity_claim", &idclaim_type, ISS(identity), 0, 0, "sub",
	  CONF_RELOAD,
	  .doc = "The claim that is the user's identity, from which the uid is "
	  "derived: sub, or email (which must then look like an address; its "
	  "domain is compared in lower case)." },
	{ "require", &require_type, ISS(require), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "Claims every token must carry, as space-separated "
	  "claim=value pairs: true and false are JSON booleans, any other "
	  "value a string, compared exactly.",
	  .example = "#email_verified=true" },
	{ "services", &conf_str, ISS(services_list), 0, 0, "*", CONF_RELOAD,
	  .doc = "Services this issuer's assertions may be exchanged for "
	  "(space-separated [service] names), or * for all; another service "
	  "gets 401." },
	{ "uid_namespace", &conf_str, ISS(uid_namespace), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "The namespace its uids are keyed in (docs/tokens.md), at "
	  "most 1024 bytes: by default its iss, so a user's uid is that of "
	  "(iss, identity).  Two sections (of either kind) whose namespaces "
	  "are the same share their users' uids: refused unless both set "
	  "uid_namespace to that value.  Changing it changes every uid of this "
	  "issuer.", .example = "#https://idp.example.com" },
	{ "verify_url", &verify_url_type, ISS(verify_url), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "fxa-oauth (required): FxA's token verification endpoint, "
	  "its path ending in /v1/verify.  Each token that is not a JWT this "
	  "issuer has the key for is POSTed there as {\"token\": ...}; the "
	  "answer names the user, the scopes and the key generation.  "
	  "https:// (certificate and host name verified, no redirects, "
	  "answers of at most 16 KiB), or http:// to a literal loopback "
	  "address (127.0.0.1, [::1]) only: a verifier anyone on the path "
	  "could impersonate would vouch for any user.",
	  .example = "#https://oauth.accounts.firefox.com/v1/verify" },
	{ "verify_ca_file", &conf_pathname, ISS(verify_ca_file), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "fxa-oauth: CA certificates (PEM) that verify verify_url's "
	  "server, instead of the system's (a self-hosted FxA with a private "
	  "CA).", .example = "#/etc/tokend/fxa-ca.pem" },
	{ "scope", &scope_type, ISS(scope), 0, 0, FXA_SCOPE_DEFAULT,
	  CONF_RELOAD,
	  .doc = "fxa-oauth: the scope every token must hold (Sync's by "
	  "default); a token without it gets 401.",
	  .example = "#" FXA_SCOPE_DEFAULT },
	{ "email_domain", &email_domain_type, ISS(email_domain), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "fxa-oauth (required): users are <FxA uid>@email_domain, "
	  "as in Mozilla's tokenserver (its users table's email): a lower-case "
	  "host name.", .example = "#api.accounts.firefox.com" },
	{ "timeout", &conf_int, ISS(timeout_ms), FXA_TIMEOUT_MIN_MS,
	  FXA_TIMEOUT_MAX_MS, FXA_TIMEOUT_DEFAULT, CONF_RELOAD,
	  .doc = "fxa-oauth: milliseconds one call to verify_url may take, "
	  "connection included (the connection alone: half of it); past it "
	  "the request gets 503 with Retry-After.  A worker waits for it, so "
	  "it counts in the longest job: with the other waits, it must stay "
	  "under heartbeat_interval x heartbeat_liveness and under "
	  "request_timeout (the file is refused otherwise).",
	  .example = "#" FXA_TIMEOUT_DEFAULT },
	{ .name = NULL }
};

/* The name of the first algorithm of set (for messages). */
static const char *
first_alg(unsigned set)
{
	int	 a;

	for (a = 0; a < JWS_ALG_COUNT; a++)
		if (set & JWS_ALG_BIT(a))
			return jws_alg_name(a);
	return "?";
}

/* Every HS* algorithm has a secret at least as long as its hash. */
static int
check_hs_secret(struct conf *l, const struct issuer *is, unsigned hs)
{
	int	 a, line = conf_key_line(l, "hs_secret_file");
	size_t	 need;

	if (hs != 0 && is->hs_secret.len == 0)
		return conf_fail_at(l, conf_key_line(l, "algorithms"),
		    "algorithms: %s needs hs_secret_file (a secret shared with "
		    "the issuer)", first_alg(hs));
	if (hs == 0 && is->hs_secret.len > 0)
		return conf_fail_at(l, line, "hs_secret_file: algorithms names "
		    "none of HS256, HS384, HS512");
	for (a = 0; a < JWS_ALG_COUNT; a++) {
		need = jws_alg_hash_len(a);
		/* RFC 7518 3.2: a key at least as long as the hash. */
		if ((hs & JWS_ALG_BIT(a)) && is->hs_secret.len < need)
			return conf_fail_at(l, line, "hs_secret_file: %s needs "
			    "a secret of at least %zu bytes, this one has %zu",
			    jws_alg_name(a), need, is->hs_secret.len);
	}
	return 0;
}

/* Key types by enum jwk_kty, for messages. */
static const char *const kty_names[] = {
	[JWK_KTY_RSA] = "RSA",
	[JWK_KTY_EC_P256] = "EC P-256",
	[JWK_KTY_ED25519] = "OKP Ed25519",
	[JWK_KTY_EC_P384] = "EC P-384",
	[JWK_KTY_EC_P521] = "EC P-521",
};

/* The algorithms of set that a key of ks verifies (jws.c's rule). */
static unsigned
verifiable(const struct jwks *ks, unsigned set)
{
	unsigned	 out = 0;
	size_t		 i;
	int		 a;

	for (i = 0; i < ks->nkeys; i++)
		for (a = 0; a < JWS_ALG_COUNT; a++)
			if ((set & JWS_ALG_BIT(a)) &&
			    jws_alg_kty(a) == (int)ks->keys[i].kty &&
			    (ks->keys[i].alg == NULL ||
			    strcmp(ks->keys[i].alg, jws_alg_name(a)) == 0))
				out |= JWS_ALG_BIT(a);
	return out;
}

/* "RS256 EdDSA", or "none". */
static void
alg_names(unsigned set, char *buf, size_t len)
{
	size_t	used = 0;
	int	a, n;

	snprintf(buf, len, "none");
	for (a = 0; a < JWS_ALG_COUNT; a++)
		if ((set & JWS_ALG_BIT(a)) && used < len) {
			n = snprintf(buf + used, len - used, "%s%s",
			    used ? " " : "", jws_alg_name(a));
			used += n > 0 ? (size_t)n : 0;
		}
}

/* "EC P-256 (kid "k1"), RSA (alg PS256)". */
static void
key_names(const struct jwks *ks, char *buf, size_t len)
{
	const struct jwk	*k;
	size_t			 i, used = 0;
	int			 n;

	buf[0] = '\0';
	for (i = 0; i < ks->nkeys && used < len; i++) {
		k = &ks->keys[i];
		n = snprintf(buf + used, len - used, "%s%s%s%s%s%s%s%s",
		    i ? ", " : "", kty_names[k->kty],
		    k->kid || k->alg ? " (" : "", k->kid ? "kid \"" : "",
		    k->kid ? k->kid : "", k->kid ? "\"" : "",
		    k->alg ? (k->kid ? ", alg " : "alg ") : "",
		    k->alg ? k->alg : "");
		used += n > 0 ? (size_t)n : 0;
		if ((k->kid || k->alg) && used + 1 < len) {
			buf[used++] = ')';
			buf[used] = '\0';
		}
	}
}

/*
 * Keys from jwks_file alone: one of them at least verifies one of the
 * public-key algorithms, or no token of the issuer could ever pass (a set
 * of EC keys with algorithms = RS256, say).  jwks_url's keys are not known
 * before a worker fetches them.
 */
static int
check_jwks_algs(struct conf *l, const struct issuer *is, unsigned pk)
{
	char	want[128], have[128], keys[512];

	if (is->jwks == NULL || is->jwks_url != NULL || pk == 0 ||
	    verifiable(is->jwks, pk) != 0)
		return 0;
	alg_names(pk, want, sizeof(want));
	alg_names(verifiable(is->jwks, ~JWS_ALGS_HMAC), have, sizeof(have));
	key_names(is->jwks, keys, sizeof(keys));
	return conf_fail_at(l, conf_key_line(l, "algorithms"), "algorithms: "
	    "no key of jwks_file verifies %s (its keys: %s); they verify %s: "
	    "name one of those in algorithms, or add a key", want, keys, have);
}

/*
 * The checks of an [issuer] once all its keys are in: every algorithm
 * has what verifies it (HS* the shared secret, long enough for its hash;
 * the others a JWKS, whose keys fit them), and nothing is configured that
 * nothing uses.
 */
/* Keys of one type that a section of the other sets: refused, since the
 * operator meant something that would silently not happen. */
static int
refuse_keys(struct conf *l, const char *const *keys, const char *why)
{
	int	rc = 0;

	for (; *keys != NULL; keys++)
		if (conf_key_set(l, *keys))
			rc = conf_fail_at(l, conf_key_line(l, *keys), "%s: %s",
			    *keys, why);
	return rc;
}

/*
 * type = fxa-oauth: the verifier's URL and the users' domain are needed;
 * keys are optional (a JWT fast path), an HS* secret is never FxA's.
 * type = jwt: an audience is needed, the fxa-oauth keys mean nothing.
 */
static int
finish_issuer_type(struct conf *l, struct issuer *is)
{
	static const char *const fxa_only[] = { "verify_url", "scope",
	    "email_domain", "timeout", "verify_ca_file", NULL };
	static const char *const jwt_only[] = { "hs_secret_file",
	    "identity_claim", "require", NULL };
	int	 rc = 0;

	is->timeout_line = conf_key_line(l, "timeout");
	if (is->type == ISSUER_JWT) {
		if (is->audience == NULL)
			rc = conf_fail_at(l, conf_section_line(l), "missing "
			    "required key \"audience\"");
		if (refuse_keys(l, fxa_only, "only for type = fxa-oauth") == -1)
			rc = -1;
		return rc;
	}
	if (is->verify_url == NULL)
		rc = conf_fail_at(l, conf_section_line(l), "type = fxa-oauth "
		    "needs verify_url (FxA's /v1/verify)");
	if (is->email_domain == NULL)
		rc = conf_fail_at(l, conf_section_line(l), "type = fxa-oauth "
		    "needs email_domain (users are <FxA uid>@email_domain)");
	if (refuse_keys(l, jwt_only, "not for type = fxa-oauth (FxA's "
	    "tokens are checked by their scope, and their user is sub)") == -1)
		rc = -1;
	if (is->verify_ca_file != NULL && is->verify_url != NULL &&
	    strncmp(is->verify_url, "https:", 6) != 0)
		rc = conf_fail_at(l, conf_key_line(l, "verify_ca_file"),
		    "verify_ca_file: verify_url is not https://");
	if (is->verify_ca_file != NULL && access(is->verify_ca_file,
	    R_OK) == -1)
		rc = conf_fail_at(l, conf_key_line(l, "verify_ca_file"),
		    "verify_ca_file: %s: %s", is->verify_ca_file,
		    strerror(errno));
	return rc;
}

static int
finish_issuer(struct conf *l, void *obj)
{
	struct issuer		*is = obj;
	unsigned		 pk = is->algorithms & ~JWS_ALGS_HMAC;
	int			 algs = conf_key_line(l, "algorithms");

	if (finish_issuer_type(l, is) == -1)
		return -1;
	/* fxa-oauth without keys: every token goes to verify_url. */
	if (is->type == ISSUER_FXA_OAUTH && is->jwks_file == NULL &&
	    is->jwks_url == NULL) {
		if (conf_key_set(l, "algorithms"))
			return conf_fail_at(l, algs, "algorithms: no jwks_file "
			    "or jwks_url to verify JWT access tokens with");
		return refuse_keys(l, (const char *const[]){ "jwks_ca_file",
		    "jwks_refresh", NULL }, "no jwks_url to use it for");
	}
	if (is->jwks_file == NULL && is->jwks_url == NULL &&
	    is->hs_secret.len == 0)
		return conf_fail_at(l, conf_section_line(l), "the issuer has "
		    "no keys: set jwks_file, jwks_url or hs_secret_file");
	if (check_hs_secret(l, is, is->algorithms & JWS_ALGS_HMAC) == -1)
		return -1;
	if (pk != 0 && is->jwks_file == NULL && is->jwks_url == NULL)
		return conf_fail_at(l, algs, "algorithms: %s needs jwks_file "
		    "or jwks_url", first_alg(pk));
	if ((is->jwks_file != NULL || is->jwks_url != NULL) && pk == 0)
		return conf_fail_at(l, algs, "algorithms names only "
		    "HS256/HS384/HS512, so the issuer's JWKS would never be "
		    "used");
	if (is->jwks_url == NULL && is->jwks_ca_file != NULL)
		return conf_fail_at(l, conf_key_line(l, "jwks_ca_file"),
		    "jwks_ca_file: no jwks_url to use it for");
	if (is->jwks_url == NULL && conf_key_set(l, "jwks_refresh"))
		return conf_fail_at(l, conf_key_line(l, "jwks_refresh"),
		    "jwks_refresh: no jwks_url to refresh");
	if (is->jwks_ca_file != NULL && access(is->jwks_ca_file, R_OK) == -1)
		return conf_fail_at(l, conf_key_line(l, "jwks_ca_file"),
		    "jwks_ca_file: %s: %s", is->jwks_ca_file, strerror(errno));
	return check_jwks_algs(l, is, pk);
}

static void
free_names(char ***names, size_t *n)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*n = 0;
}

static void
clear_issuer(void *obj)
{
	struct issuer	*is = obj;

	free_names(&is->services, &is->nservices);
}

/* ---- [browserid] ------------------------------------------------------ */

static void
clear_bidkey(const struct conf_key *k, void *obj)
{
	struct browserid_key	**key = CONF_FIELD(obj, k);

	browserid_key_free(*key);
	*key = NULL;
}

static int
set_bidkey(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct browserid_key	**key = CONF_FIELD(obj, k);
	char			 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	clear_bidkey(k, obj);
	if ((*key = browserid_key_load(path, msg, sizeof(msg))) == NULL)
		return conf_fail(l, "%s: %s", k->name, msg);
	return 0;
}

static const struct conf_type bidkey_type = { .set = set_bidkey,
    .clear = clear_bidkey, .purge = clear_bidkey };

#define BID(f)	offsetof(struct browserid_issuer, f)

/*
 * "services" is checked against the [service] sections once all are read.
 * The workers read all of it, so a reload applies every key.
 */
static const struct conf_key browserid_keys[] = {
	{ "issuer", &conf_str, BID(issuer), 0, 0, NULL, CONF_RELOAD,
	  .doc = "The issuer's domain: the certificate's \"iss\", exactly; one "
	  "section per issuer.", .example = "api.accounts.firefox.com" },
	{ "public_key_file", &bidkey_type, BID(key), 0, 0, NULL, CONF_RELOAD,
	  .doc = "Its public key, parsed once at load: a BrowserID key object "
	  "({\"algorithm\":\"RS\",\"n\":\"<decimal>\",\"e\":\"<decimal>\"} or "
	  "{\"algorithm\":\"DS\",\"p\",\"q\",\"g\",\"y\":\"<hex>\"}), or the "
	  "issuer's support document (/.well-known/browserid) holding it as "
	  "\"public-key\".  RSA moduli and DSA primes of at least 256 bytes "
	  "(2048 bits); user keys that only sign the assertion may be of 128 "
	  "bytes (1024 bits).", .example = "firefox-accounts.json" },
	{ "audience", &conf_str, BID(audience), 0, 0, NULL, CONF_RELOAD,
	  .doc = "The assertion's \"aud\", exactly (one string).",
	  .example = "https://token.example.com" },
	{ "secondary", &conf_bool, BID(secondary), 0, 1, "off", CONF_RELOAD,
	  .doc = "off: the issuer vouches only for emails of its own domain "
	  "(alice@issuer); on: for any domain (a secondary or fallback "
	  "identity provider)." },
	{ "leeway", &conf_i64, BID(leeway), 0, 3600, "60", CONF_RELOAD,
	  .doc = "Seconds of clock skew allowed on exp and iat (milliseconds "
	  "in the tokens)." },
	{ "services", &conf_str, BID(services_list), 0, 0, "*", CONF_RELOAD,
	  .doc = "Services this issuer's users may get tokens for, "
	  "space-separated, or * for all." },
	{ "uid_namespace", &conf_str, BID(uid_namespace), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "The namespace its uids are keyed in, as for [issuer]: by "
	  "default the issuer domain.  An [issuer] whose iss is this domain "
	  "would share it: refused unless both set the same uid_namespace, to "
	  "mean it.", .example = "#api.accounts.firefox.com" },
	{ .name = NULL }
};

static void
clear_browserid(void *obj)
{
	struct browserid_issuer	*b = obj;

	free_names(&b->services, &b->nservices);
}

/* ---- [service]: tokens/service.c, with its node store ------------------ */

/*
 * A nodes_file service gets the store that picks a user's node (store/):
 * rendezvous hashing over its nodes' URLs.  tokens/ may not reach store/,
 * so the instance joins the two.
 */
static int
finish_service(struct conf *l, void *obj)
{
	struct service	*sv = obj;
	const char	*urls[NODES_MAX];
	char		 msg[256];
	size_t		 i;

	if (service_finish(l, sv) == -1)
		return -1;
	if (sv->nnodes == 0)
		return 0;
	for (i = 0; i < sv->nnodes && i < NODES_MAX; i++)
		urls[i] = sv->nodes[i].node;
	if ((sv->store = store_rendezvous_new(urls, i, msg,
	    sizeof(msg))) == NULL)
		return conf_fail_at(l, conf_section_line(l), "%s", msg);
	return 0;
}

static void
clear_service(void *obj)
{
	struct service	*sv = obj;

	store_free(sv->store);
	sv->store = NULL;
	service_clear(sv);
}

/* ---- [remote]: worker hosts over CURVE TCP ------------------------------ */

uint16_t
config_endpoint_port(const char *endpoint)
{
	const char	*colon;
	long		 port;

	if (endpoint == NULL || strncmp(endpoint, "tcp://", 6) != 0 ||
	    (colon = strrchr(endpoint, ':')) == NULL ||
	    colon < endpoint + 6 || conf_parse_long(colon + 1, &port) == -1 ||
	    port < 1 || port > 65535)
		return 0;
	return (uint16_t)port;
}

/*
 * listen (the front) and connect (a worker host): tcp://HOST:PORT, and
 * nothing else.  Plain TCP without CURVE, ipc and the rest are not
 * offered here.  The front binds a numeric address (or * for every
 * one): it has no resolver after set-up; a worker host may name its
 * front.
 */
static int
set_endpoint(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	char		 host[256];
	unsigned char	 addr[sizeof(struct in6_addr)];
	const char	*h = v + 6, *colon = strrchr(v, ':');
	size_t		 hlen;
	int		 bind = strcmp(k->name, "listen") == 0;

	if (strncmp(v, "tcp://", 6) != 0 || colon == NULL || colon < h ||
	    config_endpoint_port(v) == 0)
		return conf_fail(l, "%s: expected tcp://%s:PORT with a port of "
		    "1..65535, got \"%s\" (the remote workers' endpoint is TCP "
		    "with CURVE, nothing else)", k->name, bind ? "ADDRESS" :
		    "HOST", v);
	hlen = (size_t)(colon - h);
	if (hlen == 0 || hlen >= sizeof(host))
		return conf_fail(l, "%s: no host in \"%s\"", k->name, v);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, addr) != 1)
			return conf_fail(l, "%s: \"%s\" is not an IPv6 address",
			    k->name, host + 1);
	} else if (bind && strcmp(host, "*") != 0 &&
	    inet_pton(AF_INET, host, addr) != 1)
		return conf_fail(l, "%s: \"%s\" is not a numeric IPv4 address "
		    "or * (write IPv6 as [ADDRESS])", k->name, host);
	else if (!bind && strspn(host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hlen)
		return conf_fail(l, "%s: \"%s\" is not a host name or address",
		    k->name, host);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type endpoint_type = { .set = set_endpoint,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

/* A Z85 public key, given in the file itself: public keys are no secret. */
static int
set_public_key(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	uint8_t	key[CURVE_KEY_LEN];

	if (curve_key_decode(v, strlen(v), key) == -1)
		return conf_fail(l, "%s: not a CURVE public key (40 characters "
		    "of Z85, as tokenctl curve-keypair prints)", k->name);
	return conf_str.set(l, k, obj, v);
}

static const struct conf_type public_key_type = { .set = set_public_key,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };

/*
 * secret_key_file: this end's CURVE secret key, one Z85 line in a file
 * with the rules of every secret file (tokens/secret.h: mode 0600 or
 * 0400, a regular file).  Its public key is derived from it.
 */
static void
purge_curve_secret(const struct conf_key *k, void *obj)
{
	struct remote_config	*r = obj;

	explicit_bzero(r->secret_key, sizeof(r->secret_key));
}

static int
set_curve_secret(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct remote_config	*r = obj;
	struct secret		 s;
	uint8_t			 key[CURVE_KEY_LEN];
	int			 rc = 0;

	if (load_secret(l, k, v, &s) == -1)
		return -1;
	if (curve_key_decode((const char *)s.bytes, s.len, key) == -1)
		rc = conf_fail(l, "%s: not a CURVE secret key (one line of 40 "
		    "characters of Z85, as tokenctl curve-keypair writes)",
		    k->name);
	else {
		memcpy(r->secret_key, s.bytes, CURVE_Z85_LEN);
		r->secret_key[CURVE_Z85_LEN] = '\0';
		if (zmq_curve_public(r->public_key, r->secret_key) == -1)
			rc = conf_fail(l, "%s: %s", k->name,
			    zmq_strerror(errno));
	}
	explicit_bzero(key, sizeof(key));
	secret_free(&s);
	return rc;
}

static const struct conf_type curve_secret_type = { .set = set_curve_secret,
    .clear = purge_curve_secret, .purge = purge_curve_secret };

/* authorized_keys: the path, and the list read now (pool/curve.c). */
static void
clear_authkeys(const struct conf_key *k, void *obj)
{
	struct remote_config	*r = obj;

	if (r->keys != NULL)
		authkeys_free(r->keys);
	free(r->keys);
	free(r->authorized_keys);
	r->keys = NULL;
	r->authorized_keys = NULL;
}

static int
set_authkeys(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct remote_config	*r = obj;
	struct authkeys		*ks;
	char			 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return conf_fail(l, "out of memory");
	if (authkeys_load(ks, path, msg, sizeof(msg)) == -1) {
		free(ks);
		return conf_fail(l, "%s: %s", k->name, msg);
	}
	clear_authkeys(k, obj);
	r->keys = ks;
	if ((r->authorized_keys = strdup(path)) == NULL)
		return conf_fail(l, "out of memory");
	return 0;
}

static const struct conf_type authkeys_type = { .set = set_authkeys,
    .clear = clear_authkeys };

#define RMT(f)	offsetof(struct remote_config, f)

static const struct conf_key remote_keys[] = {
	{ "listen", &endpoint_type, RMT(listen), 0, 0, CONF_OPTIONAL,
	  CONF_RESTART,
	  .doc = "On a front: the TCP endpoint remote worker hosts connect "
	  "to, tcp://ADDRESS:PORT (a numeric address, [IPv6] or * for all), "
	  "in addition to the local ipc socket.  Always CURVE-encrypted and "
	  "open only to the keys of authorized_keys; plain TCP is not offered. "
	  " Keep it off the public Internet all the same (docs/security.md).",
	  .example = "#tcp://10.0.0.1:5555" },
	{ "connect", &endpoint_type, RMT(connect), 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "On a worker host (tokend --worker): the front's endpoint, "
	  "tcp://HOST:PORT, as its listen says.  Each worker connects to it "
	  "with this host's key pair and server_public_key.",
	  .example = "#tcp://front.example.com:5555" },
	{ "secret_key_file", &curve_secret_type, 0, 0, 0, CONF_OPTIONAL,
	  CONF_WORKERS,
	  .doc = "This end's CURVE secret key: one line of 40 characters of "
	  "Z85, in a file of mode 0600 or 0400, as `tokenctl curve-keypair "
	  "--secret-out FILE` writes it.  The public key is derived from it.  "
	  "Needed by listen and by connect.",
	  .example = "#curve.secret" },
	{ "server_public_key", &public_key_type, RMT(server_key), 0, 0,
	  CONF_OPTIONAL, CONF_RELOAD,
	  .doc = "On a worker host: the front's CURVE public key, 40 "
	  "characters of Z85 (what tokenctl curve-keypair printed for the "
	  "front's secret_key_file).  A front with another key is refused by "
	  "the workers' handshake.",
	  .example = "#rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" },
	{ "authorized_keys", &authkeys_type, 0, 0, 0, CONF_OPTIONAL,
	  CONF_RELOAD,
	  .doc = "On a front: the worker hosts admitted, one CURVE public key "
	  "per line followed by a comment naming the host; blank lines and "
	  "# comments are ignored, any other bad line is an error at its "
	  "FILE:LINE.  Group and others may not write it.  A reload (SIGHUP) "
	  "reads it again: a host whose key is gone is cut off at once, its "
	  "jobs going to other workers.",
	  .example = "#authorized_keys" },
	{ "handshake_timeout", &conf_msec, RMT(handshake_ms), 1, 60, "5",
	  CONF_WORKERS,
	  .doc = "Seconds a peer has to finish its CURVE handshake before its "
	  "connection is closed: a peer that connects and says nothing holds "
	  "a connection no longer.  On a worker host it must stay below "
	  "orphan_timeout." },
	{ "peer_queue", &conf_int, RMT(peer_queue), 8, 10000, "64",
	  CONF_RESTART,
	  .doc = "Messages queued per remote peer in each direction (ZeroMQ's "
	  "high-water marks): what one peer can make the front hold is at "
	  "most this many times 131072 bytes.  It must exceed worker_credit "
	  "by 4 (the jobs a worker holds, and heartbeats)." },
	{ .name = NULL }
};

/*
 * The rules within [remote]: one role per file, and each role's keys.
 * A [remote] that sets neither listen nor connect sets nothing.
 */
static int
finish_remote(struct conf *l, void *obj)
{
	struct remote_config	*r = obj;
	int			 line = conf_section_line(l);

	r->line = line;
	if (r->listen != NULL && r->connect != NULL)
		return conf_fail_at(l, conf_key_line(l, "connect"), "listen "
		    "and connect: a front listens, a worker host connects; a "
		    "file is one or the other");
	if (r->listen == NULL && r->connect == NULL) {
		if (line != 0 && (r->secret_key[0] != '\0' || r->keys ||
		    r->server_key))
			return conf_fail_at(l, line, "[remote] needs listen "
			    "(on a front) or connect (on a worker host)");
		return 0;
	}
	if (!zmq_has("curve"))
		return conf_fail_at(l, conf_key_line(l, r->listen ? "listen" :
		    "connect"), "this libzmq has no CURVE, and remote workers "
		    "are offered over CURVE only: install a libzmq built with "
		    "libsodium");
	if (r->secret_key[0] == '\0')
		return conf_fail_at(l, line, "%s needs secret_key_file (this "
		    "end's CURVE key)", r->listen ? "listen" : "connect");
	if (r->listen != NULL && r->keys == NULL)
		return conf_fail_at(l, line, "listen needs authorized_keys: "
		    "the worker hosts it admits");
	if (r->listen != NULL && r->server_key != NULL)
		return conf_fail_at(l, conf_key_line(l, "server_public_key"),
		    "server_public_key is a worker host's (with connect)");
	if (r->connect != NULL && r->server_key == NULL)
		return conf_fail_at(l, line, "connect needs server_public_key: "
		    "the front's CURVE public key");
	if (r->connect != NULL && r->keys != NULL)
		return conf_fail_at(l, conf_key_line(l, "authorized_keys"),
		    "authorized_keys is a front's (with listen)");
	return 0;
}

/*
 * [remote] against [server]: the queues must hold what a worker may be
 * sent at once, and a worker host must get a handshake through before it
 * gives up on the front.  A front with remote workers only (no [issuer],
 * no [service]) starts no local worker and needs no secret at all.
 */
static int
check_remote(struct conf *l, struct config *c)
{
	const struct remote_config	*r = &c->remote;
	int				 rc = 0;

	if (r->listen == NULL && r->connect == NULL)
		return 0;
	if (r->peer_queue < c->worker_credit + 4)
		rc = conf_fail_at(l, r->line, "[remote] peer_queue = %d is "
		    "below worker_credit + 4 = %d: a remote worker given its "
		    "credit of jobs would find its queue full and be dropped; "
		    "raise peer_queue or lower worker_credit", r->peer_queue,
		    c->worker_credit + 4);
	if (r->connect != NULL && r->handshake_ms >= c->orphan_timeout_ms)
		rc = conf_fail_at(l, r->line, "[remote] handshake_timeout (%d "
		    "ms) is not below orphan_timeout (%d ms): a worker would "
		    "give up on the front before one handshake could end",
		    r->handshake_ms, c->orphan_timeout_ms);
	/* finish_server() made "none" 0; "0", one per CPU, is a count now. */
	if (r->connect != NULL && c->workers == 0)
		rc = conf_fail_at(l, c->server_line, "[server] workers = none "
		    "on a worker host ([remote] connect): it would start no "
		    "worker; give a count, or 0 for one per CPU");
	return rc;
}

/* ---- the file --------------------------------------------------------- */

static const struct conf_section sections[] = {
	{ .name = "server", .keys = server_keys, .off = 0,
	  .finish = finish_server,
	  .doc = "The daemon itself: the HTTP front and its limits, the worker "
	  "processes, logging, and the secret that keys every uid." },
	{ .name = "metrics", .keys = metrics_keys, .off = 0,
	  .doc = "The metrics listener: Prometheus figures on an address of "
	  "their own (docs/metrics.md).  Optional." },
	{ .name = "issuer", .keys = issuer_keys,
	  CONF_NAMED(struct config, issuers, nissuers, struct issuer,
	      CONFIG_MAX_ISSUERS),
	  .finish = finish_issuer, .clear = clear_issuer,
	  .doc = "A trusted identity provider.  Assertions are JWTs (OpenID "
	  "Connect ID tokens, OAuth access tokens) whose \"iss\" claim selects "
	  "the issuer.  Any number of [issuer NAME] sections.  The keys an "
	  "issuer signs with come from jwks_file, jwks_url or both; "
	  "HS256/384/512 need hs_secret_file.", .example = "example" },
	{ .name = "browserid", .keys = browserid_keys,
	  CONF_NAMED(struct config, browserid, nbrowserid,
	      struct browserid_issuer, CONFIG_MAX_BROWSERID),
	  .clear = clear_browserid,
	  .doc = "A BrowserID certificate issuer, for backed identity "
	  "assertions (\"certificate~assertion\", the credential of Mozilla's "
	  "original TokenServer; RS256, RS128, RS64, DS128 or DS256, times in "
	  "milliseconds), sent as {\"assertion\": ...} or \"Authorization: "
	  "BrowserID\".  The certificate's \"iss\" selects the section, so "
	  "each issuer domain has one section; its root key signs the one "
	  "certificate, whose key signs the assertion.  Chains of certificates "
	  "are refused (an intermediate could vouch for anyone).  Any number "
	  "of [browserid NAME] sections.  The uid is that of (uid_namespace, "
	  "principal email), with the same uid_secret_file as JWT identities.",
	  .example = "firefox-accounts" },
	{ .name = "database", .keys = database_keys,
	  .off = offsetof(struct config, database),
	  .size = sizeof(struct config_database),
	  .finish = finish_database,
	  .doc = "The node-assignment database of the services with nodes = "
	  "database (docs/nodes.md): Mozilla's tokenserver schema, in an "
	  "embedded SQLite file (the default, under state_dir) or in "
	  "PostgreSQL.  Each worker keeps one connection of its own." },
	{ .name = "service", .keys = service_keys,
	  CONF_NAMED(struct config, services, nservices, struct service,
	      CONFIG_MAX_SERVICES),
	  .finish = finish_service, .clear = clear_service,
	  .doc = "A service tokens are issued for; NAME is what clients ask "
	  "for.  It has one node (node and secret_file) or several "
	  "(nodes_file).", .example = "sync-1.5" },
	{ .name = "remote", .keys = remote_keys,
	  .off = offsetof(struct config, remote), .finish = finish_remote,
	  .doc = "Worker hosts over TCP, always CURVE-encrypted and "
	  "authenticated (docs/deployment.md, \"Worker hosts\").  On the "
	  "front: listen, secret_key_file and authorized_keys.  On a worker "
	  "host, run as tokend --worker: connect, secret_key_file and "
	  "server_public_key, beside the [server] worker keys, [issuer] and "
	  "[service] sections it mints with.  A front with remote workers "
	  "only may leave out [issuer] and [service] (and every secret): it "
	  "then starts no local worker." },
	{ .name = NULL }
};

/*
 * "services" of an [issuer] or [browserid] at line: split into names that
 * all have a [service] section.  "*" (every service) leaves *names NULL.
 */
static int
split_services(struct conf *l, const struct config *c, const char *list,
    int line, char ***names, size_t *n)
{
	char	*copy, *tok, *save = NULL, **v;
	int	 rc = 0;

	if (strcmp(list, "*") == 0)
		return 0;
	if ((copy = strdup(list)) == NULL)
		return conf_fail(l, "out of memory");
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (config_service(c, tok) == NULL) {
			rc = conf_fail_at(l, line, "services: no [service %s] "
			    "section", tok);
			break;
		}
		if ((v = reallocarray(*names, *n + 1, sizeof(*v))) == NULL ||
		    (v[*n] = strdup(tok)) == NULL) {
			if (v != NULL)
				*names = v;
			rc = conf_fail(l, "out of memory");
			break;
		}
		*names = v;
		(*n)++;
	}
	free(copy);
	if (rc == 0 && *n == 0)
		return conf_fail_at(l, line, "services: name at least one "
		    "service, or * for all");
	return rc;
}

/*
 * Whole-file checks of [issuer] and [browserid]: each "iss" (a
 * certificate's issuer domain) names one section, since the assertion's
 * picks it; and "services" names [service] sections.
 */
static int
check_issuers(struct conf *l, const struct config *c)
{
	struct issuer		*is;
	struct browserid_issuer	*b;
	size_t			 i, j;

	for (i = 0; i < c->nissuers; i++) {
		is = &c->issuers[i];
		for (j = 0; j < i; j++)
			if (strcmp(c->issuers[j].iss, is->iss) == 0)
				return conf_fail_at(l, is->line, "iss \"%s\" "
				    "is already that of [issuer %s]", is->iss,
				    c->issuers[j].name);
		if (split_services(l, c, is->services_list, is->line,
		    &is->services, &is->nservices) == -1)
			return -1;
	}
	for (i = 0; i < c->nbrowserid; i++) {
		b = &c->browserid[i];
		for (j = 0; j < i; j++)
			if (strcmp(c->browserid[j].issuer, b->issuer) == 0)
				return conf_fail_at(l, b->line, "issuer \"%s\" "
				    "is already that of [browserid %s]",
				    b->issuer, c->browserid[j].name);
		if (split_services(l, c, b->services_list, b->line,
		    &b->services, &b->nservices) == -1)
			return -1;
	}
	return 0;
}

/* A section that keys uids: [issuer] or [browserid], for messages. */
struct uid_space {
	const char	*kind, *name;
	const char	*ns;		/* uid_namespace, or the default */
	int		 set;		/* uid_namespace was set */
	int		 line;
};

static size_t
uid_spaces(const struct config *c, struct uid_space *sp)
{
	size_t	i, n = 0;

	for (i = 0; i < c->nissuers; i++, n++)
		sp[n] = (struct uid_space){ "issuer", c->issuers[i].name,
		    c->issuers[i].uid_namespace ? c->issuers[i].uid_namespace :
		    c->issuers[i].iss, c->issuers[i].uid_namespace != NULL,
		    c->issuers[i].line };
	for (i = 0; i < c->nbrowserid; i++, n++)
		sp[n] = (struct uid_space){ "browserid", c->browserid[i].name,
		    c->browserid[i].uid_namespace ?
		    c->browserid[i].uid_namespace : c->browserid[i].issuer,
		    c->browserid[i].uid_namespace != NULL,
		    c->browserid[i].line };
	return n;
}

/* *ns = def unless set; 0 or -1. */
static int
default_namespace(struct conf *l, char **ns, const char *def)
{
	if (*ns == NULL && (*ns = strdup(def)) == NULL)
		return conf_fail(l, "out of memory");
	return 0;
}

/*
 * A uid is the keyed hash of (namespace, subject) (docs/tokens.md), and
 * the defaults, an [issuer]'s iss and a [browserid]'s issuer domain, can
 * coincide by accident: a JWT issuer whose iss is a BrowserID issuer's
 * domain would give alice@ that domain one uid through either.  So two
 * sections share a namespace only when both set uid_namespace to it.
 * Then fills in the defaults.
 */
static int
check_uid_namespaces(struct conf *l, struct config *c)
{
	struct uid_space	 sp[CONFIG_MAX_ISSUERS + CONFIG_MAX_BROWSERID];
	const struct uid_space	*a, *b;
	size_t			 i, j, n = uid_spaces(c, sp);

	for (i = 0; i < n; i++) {
		/* mint_uid() has room for this much. */
		if (strlen(sp[i].ns) > CONFIG_MAX_UID_NAMESPACE)
			return conf_fail_at(l, sp[i].line, "[%s %s]: uid "
			    "namespace longer than %d bytes: set a shorter "
			    "uid_namespace", sp[i].kind, sp[i].name,
			    CONFIG_MAX_UID_NAMESPACE);
		for (j = 0; j < i; j++) {
			if (strcmp(sp[i].ns, sp[j].ns) != 0 ||
			    (sp[i].set && sp[j].set))
				continue;
			/* Report at the later section, naming the other. */
			a = sp[i].line > sp[j].line ? &sp[i] : &sp[j];
			b = a == &sp[i] ? &sp[j] : &sp[i];
			return conf_fail_at(l, a->line, "[%s %s] and [%s %s] "
			    "(line %d) have the same uid namespace \"%s\", so "
			    "a subject of either would get one uid: set "
			    "uid_namespace = %s in both if sharing uids is "
			    "intended, or another uid_namespace in one",
			    a->kind, a->name, b->kind, b->name, b->line, a->ns,
			    a->ns);
		}
	}
	for (i = 0; i < c->nissuers; i++)
		if (default_namespace(l, &c->issuers[i].uid_namespace,
		    c->issuers[i].iss) == -1)
			return -1;
	for (i = 0; i < c->nbrowserid; i++)
		if (default_namespace(l, &c->browserid[i].uid_namespace,
		    c->browserid[i].issuer) == -1)
			return -1;
	return 0;
}

int
config_uses_database(const struct config *c)
{
	size_t	i;

	for (i = 0; i < c->nservices; i++)
		if (c->services[i].nodes_database)
			return 1;
	return 0;
}

/*
 * The fxa-oauth issuer whose remote call may take longest, or NULL: its
 * timeout is what the FxA verifier adds to a job.
 */
static const struct issuer *
slowest_verifier(const struct config *c)
{
	const struct issuer	*slow = NULL;
	size_t			 i;

	for (i = 0; i < c->nissuers; i++)
		if (c->issuers[i].type == ISSUER_FXA_OAUTH && (slow == NULL ||
		    c->issuers[i].timeout_ms > slow->timeout_ms))
			slow = &c->issuers[i];
	return slow;
}

long
config_job_max_ms(const struct config *c)
{
	const struct issuer	*fxa = slowest_verifier(c);
	long			 ms = WORKER_JOB_MAX_MS(KEYS_WAIT_MS);

	/*
	 * At most two database calls in one job: assigning the user, and
	 * first making the services' rows when that failed at start (a job
	 * that has to reopen the connection does only that, and answers
	 * 503: mint.c).
	 */
	if (config_uses_database(c))
		ms += 2L * c->database->timeout_ms;
	/* A JWT access token may wait for its key, then go to verify_url. */
	if (fxa != NULL)
		ms += fxa->timeout_ms;
	return ms;
}

/*
 * [database] against [server]: its default url under state_dir, and the
 * longest job (with the database's timeout) against the hung-worker rule
 * and request_timeout, so that a slow database gets its 503 before the
 * broker gives up on the worker or the client.
 */
static int
check_database(struct conf *l, struct config *c)
{
	struct config_database	*db = c->database;
	long			 job = config_job_max_ms(c);
	long			 hung = (long)c->heartbeat_ms *
				    c->heartbeat_liveness;
	char			 url[PATH_MAX + 16];
	int			 line = db->line;

	if (db->url == NULL) {
		snprintf(url, sizeof(url), "sqlite://%s/tokend.db",
		    c->state_dir);
		if ((db->url = strdup(url)) == NULL)
			return conf_fail_at(l, 0, "out of memory");
	}
	if (!config_uses_database(c))
		return 0;
	if (job >= hung)
		return conf_fail_at(l, line, "[database] timeout = %d ms: a job "
		    "may take up to %ld ms (verification, the wait for keys, "
		    "the database), not below heartbeat_interval x "
		    "heartbeat_liveness = %ld ms (the hung-worker rule, "
		    "docs/architecture.md); lower timeout or raise "
		    "heartbeat_interval", db->timeout_ms, job, hung);
	if (job >= c->request_timeout_ms)
		return conf_fail_at(l, line, "[database] timeout = %d ms: a job "
		    "may take up to %ld ms, not below request_timeout = %d ms, "
		    "so a slow database would be answered 504 instead of 503; "
		    "lower timeout or raise request_timeout", db->timeout_ms,
		    job, c->request_timeout_ms);
	return 0;
}

/*
 * The longest job (config_job_max_ms) against the two limits it must fit:
 * the hung-worker limit, past which the broker gives the job to another
 * worker (and the verifier is asked twice), and request_timeout, past
 * which the client gets 504 instead of the job's answer (a 503 with
 * Retry-After when the verifier is down).  finish_server checked the
 * base; what outside services add is reported at the key that adds it.
 */
static int
check_job_time(struct conf *l, const struct config *c)
{
	const struct issuer	*fxa = slowest_verifier(c);
	long			 job = config_job_max_ms(c);
	long			 hung = (long)c->heartbeat_ms *
				    c->heartbeat_liveness;
	int			 rc = 0;

	if (fxa == NULL)
		return 0;
	if (hung <= job)
		rc = conf_fail_at(l, fxa->timeout_line, "[issuer %s] timeout = "
		    "%d ms: a job may then take up to %ld ms (the verifier's "
		    "timeout, the wait for an issuer's keys, verification and "
		    "the reply), not under heartbeat_interval x "
		    "heartbeat_liveness = %ld ms, past which a worker is taken "
		    "for hung (docs/architecture.md); lower timeout or raise "
		    "heartbeat_interval", fxa->name, fxa->timeout_ms, job, hung);
	if (c->request_timeout_ms <= job)
		rc = conf_fail_at(l, fxa->timeout_line, "[issuer %s] timeout = "
		    "%d ms: a job may then take up to %ld ms, not under "
		    "request_timeout = %d ms, so a client would get 504 before "
		    "the verifier's answer or its 503; lower timeout or raise "
		    "request_timeout", fxa->name, fxa->timeout_ms, job,
		    c->request_timeout_ms);
	return rc;
}

/*
 * The fxa-oauth issuer answers Bearer tokens that are no JWS: a second one
 * could never be reached by them (fxa_route takes the first).
 */
static int
check_fxa_issuers(struct conf *l, const struct config *c)
{
	const struct issuer	*first = NULL;
	size_t			 i;

	for (i = 0; i < c->nissuers; i++) {
		if (c->issuers[i].type != ISSUER_FXA_OAUTH)
			continue;
		if (first != NULL)
			return conf_fail_at(l, c->issuers[i].line, "[issuer "
			    "%s]: a second type = fxa-oauth issuer ([issuer "
			    "%s] is one): Bearer tokens go to one verifier",
			    c->issuers[i].name, first->name);
		first = &c->issuers[i];
	}
	return 0;
}

/* Checks that span sections, once every section is complete. */
static int
check_config(struct conf *l, void *root)
{
	struct config	*c = root;

	if (check_remote(l, c) == -1)
		return -1;
	/* A front with remote workers only: nothing to mint with here. */
	if (c->remote.listen != NULL && c->nissuers == 0 &&
	    c->nbrowserid == 0 && c->nservices == 0) {
		c->workers = 0;
		return 0;
	}
	if (c->uid_secret == NULL && c->server_line == 0)
		return conf_fail_at(l, 0, "no [server] section: its "
		    "uid_secret_file is required");
	if (c->uid_secret == NULL)
		return conf_fail_at(l, c->server_line, "[server] missing "
		    "required key \"uid_secret_file\"");
	if (c->nissuers == 0 && c->nbrowserid == 0)
		return conf_fail_at(l, 0, "no [issuer NAME] section (nor "
		    "[browserid NAME]): no assertion could ever be accepted");
	if (c->nservices == 0)
		return conf_fail_at(l, 0, "no [service NAME] section: no token "
		    "could ever be issued");
	if (check_issuers(l, c) == -1 || check_database(l, c) == -1 ||
	    check_fxa_issuers(l, c) == -1 || check_job_time(l, c) == -1 ||
	    check_metrics(l, c) == -1)
		return -1;
	return check_uid_namespaces(l, c);
}

static const struct conf_schema schema = { sections, check_config };

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(c);
		return NULL;
	}
	if (conf_load(path, &schema, c, err, errlen) == -1) {
		config_free(c);
		return NULL;
	}
	return c;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	conf_clear(&schema, c);
	free(c->path);
	free(c);
}

void
config_purge_secrets(struct config *c)
{
	conf_purge(&schema, c);
}

static void
log_kept(const struct conf_key *k, const char *kept, const char *asked)
{
	log_warnx("reload: %s = %s needs a restart; %s stays in force until "
	    "then", k->name, asked, kept);
}

size_t
config_keep_running(struct config *running, struct config *next)
{
	return conf_keep(&schema, running, next, log_kept);
}

void
config_keep_undo(struct config *running, struct config *next)
{
	(void)conf_keep(&schema, running, next, NULL);
}

int
config_job_fits(const struct config *c, char *err, size_t errlen)
{
	long	job = config_job_max_ms(c);
	long	hung = (long)c->heartbeat_ms * c->heartbeat_liveness;

	if (job < hung && job < c->request_timeout_ms)
		return 0;
	snprintf(err, errlen, "a job may take up to %ld ms (the verifier's "
	    "and the database's timeouts, the wait for keys), not below the "
	    "running heartbeat_interval x heartbeat_liveness = %ld ms and "
	    "request_timeout = %d ms, which only a restart changes; lower the "
	    "timeouts, or restart to raise those", job, hung,
	    c->request_timeout_ms);
	return -1;
}

const struct conf_schema *
config_schema(void)
{
	return &schema;
}

const struct service *
config_service(const struct config *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

const struct service *
config_node_for(const struct service *svc, uint64_t uid)
{
	const struct store_user	 user = { uid };
	char			 msg[256];
	size_t			 i;

	if (svc->store == NULL)
		return svc;
	if (store_node_for(svc->store, &user, &i, msg, sizeof(msg)) == -1) {
		log_warnx("service %s: no node: %s", svc->name, msg);
		return NULL;
	}
	return &svc->nodes[i];
}

const char *
config_service_label(const struct config *c, size_t i, const char **format)
{
	if (i >= c->nservices)
		return NULL;
	*format = token_format_name(c->services[i].format);
	return c->services[i].name;
}
