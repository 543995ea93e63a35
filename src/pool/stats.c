/*
 * stats.c - the pool's figures (stats.h): the metric families of
 * docs/metrics.md, the front's updates, and the figures the workers send
 * in their HEARTBEATs, encoded and decoded in one place.
 *
 * A worker's figures are cumulative; the front keeps each worker's last
 * report (by routing identity: a worker that reconnects is the same
 * worker and must not be counted twice) and adds only what grew since.
 * Counters therefore never go down, a worker that dies leaves its last
 * report counted, and a value lower than the last one (a bug, or a
 * remote worker that lies) adds nothing.  Every value is checked like any
 * field of the protocol: decimal digits only, a fixed count per field,
 * and service names only from the front's own config; a field that fails
 * is refused whole and counted, so a hostile worker can neither make up a
 * label nor make a counter jump backwards.
 *
 * Nothing here runs per request but stats_request() and
 * stats_queue_wait(): a few stores into series made at start.
 */
#include "pool/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/procstat.h"

const double stats_bounds[STATS_NBOUNDS] = {
	0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10,
};

const char *const stats_reasons[STATS_NREASONS] = {
	PROTO_ERR_INVALID_REQUEST, PROTO_ERR_INVALID_CREDENTIALS,
	PROTO_ERR_INVALID_TIMESTAMP, PROTO_ERR_UNKNOWN_SERVICE,
	PROTO_ERR_INTERNAL,
};

static const char *const endpoints[STATS_NENDPOINTS] = { STATS_ENDPOINTS };

/* The statuses tokend answers with; any other counts as "other". */
static const unsigned statuses[] = {
	200, 400, 401, 404, 405, 413, 415, 431, 500, 501, 502, 503, 504, 505,
};
#define NSTATUSES	(sizeof(statuses) / sizeof(statuses[0]))

static const char *const restart_causes[STATS_NRESTARTS] = {
	"crash", "signal", "recycle", "hang",
};
static const char *const states[STATS_NSTATES] = { "idle", "busy", "lost" };
static const char *const kinds[STATS_NKINDS] = { "local", "remote" };
enum { ROLE_SUPERVISOR, ROLE_FRONT, ROLE_WORKER, NROLES };
static const char *const roles[NROLES] = { "supervisor", "front", "worker" };

#define HIST_VALUES	(STATS_NBOUNDS + 2)	/* buckets, +Inf, sum (us) */
#define MAX_REPORTERS	256	/* workers whose last report is kept */
#define MAX_DIGITS	18
#define IDENT_MAX	64

/* ---- the worker's half ------------------------------------------------ */

int
wstats_init(struct wstats *w, const char *const *names, size_t n,
    int figures)
{
	size_t	i, size = 64 * WSTATS_FIELDS + 2 * HIST_VALUES * 24;

	memset(w, 0, sizeof(*w));
	w->db_state = -1;
	w->figures = figures;
	w->services = names;
	w->nservices = n;
	for (i = 0; i < n; i++)
		size += strlen(names[i]) + 2 + MAX_DIGITS;
	if ((w->tokens = calloc(n + 1, sizeof(*w->tokens))) == NULL ||
	    (w->buf = malloc(size)) == NULL) {
		wstats_free(w);
		return -1;
	}
	w->bufsize = size;
	return 0;
}

void
wstats_free(struct wstats *w)
{
	free(w->tokens);
	free(w->buf);
	w->tokens = NULL;
	w->buf = NULL;
}

void
wstats_job(struct wstats *w, double seconds, const char *error,
    size_t service)
{
	size_t	i;

	w->jobs++;
	metric_hist_observe(&w->busy, stats_bounds, STATS_NBOUNDS, seconds);
	if (error != NULL) {
		for (i = 0; i < STATS_NREASONS; i++)
			if (strcmp(error, stats_reasons[i]) == 0)
				break;
		/* mint.c uses these codes only; anything else is internal. */
		w->rejected[i < STATS_NREASONS ? i : STATS_NREASONS - 1]++;
	} else if (service < w->nservices)
		w->tokens[service]++;
}

/* Appends a histogram's counts and its sum in microseconds. */
static int
put_hist(char *p, size_t room, const struct metric_hist *h)
{
	size_t	i, n = 0;

	for (i = 0; i <= STATS_NBOUNDS; i++)
		n += (size_t)snprintf(p + n, room - n, "%" PRIu64 ",",
		    h->counts[i]);
	n += (size_t)snprintf(p + n, room - n, "%" PRIu64,
	    (uint64_t)(h->sum * 1e6));
	return (int)n;
}

size_t
wstats_fields(struct wstats *w, struct proto_field *f)
{
	char	*p = w->buf, *start;
	size_t	 nf = 0, i, room = w->bufsize;
	int	 n;

	/* Each value: its bytes at p, then p moves past them. */
#define FIELD(key, ...) do {						\
		start = p;						\
		n = snprintf(p, room, __VA_ARGS__);			\
		f[nf++] = (struct proto_field)PROTO_FIELD(key, start,	\
		    (size_t)n);						\
		p += n; room -= (size_t)n;				\
	} while (0)

	FIELD("keys_missing", "%ld", w->keys_missing);
	FIELD("db_state", "%d", w->db_state);
	if (!w->figures)
		return nf;
	FIELD("jobs", "%" PRIu64, w->jobs);
	start = p;
	n = put_hist(p, room, &w->busy);
	f[nf++] = (struct proto_field)PROTO_FIELD("busy", start, (size_t)n);
	p += n;
	room -= (size_t)n;
	FIELD("rejected", "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
	    ",%" PRIu64, w->rejected[0], w->rejected[1], w->rejected[2],
	    w->rejected[3], w->rejected[4]);
	FIELD("jwks", "%" PRIu64 ",%" PRIu64, w->jwks[0], w->jwks[1]);
	FIELD("cpu_us", "%" PRIu64, w->cpu_us);
	FIELD("rss", "%" PRIu64, w->rss);
	if (w->db_state != -1) {
		start = p;
		n = put_hist(p, room, &w->db);
		f[nf++] = (struct proto_field)PROTO_FIELD("db", start,
		    (size_t)n);
		p += n;
		room -= (size_t)n;
	}
	/* "NAME COUNT" lines: a name holds no newline (an INI line). */
	start = p;
	for (i = 0; i < w->nservices; i++) {
		if (w->tokens[i] == 0)
			continue;
		n = snprintf(p, room, "%s%s %" PRIu64, p == start ? "" : "\n",
		    w->services[i], w->tokens[i]);
		p += n;
		room -= (size_t)n;
	}
	if (p > start)
		f[nf++] = (struct proto_field)PROTO_FIELD("tokens", start,
		    (size_t)(p - start));
#undef FIELD
	return nf;
}

/* ---- the front's half ------------------------------------------------- */

/* A worker's last report. */
struct reporter {
	uint8_t		 id[IDENT_MAX];
	size_t		 idlen;
	int		 used;
	int		 warned;	/* a refused field was logged */
	uint64_t	 seen;		/* mono ms of the report */
	long		 keys_missing;	/* -1: not said */
	int		 db_state;
	uint64_t	 rss;
	uint64_t	 jobs, cpu_us, rejected[STATS_NREASONS], jwks[2];
	uint64_t	 busy[HIST_VALUES], db[HIST_VALUES];
	uint64_t	*tokens;	/* nservices */
};

struct stats {
	struct stats_settings	 set;
	struct metrics		*reg;
	struct metric		*req[STATS_NENDPOINTS][NSTATUSES + 1];
	struct metric		*req_dur[STATS_NENDPOINTS];
	struct metric		*queue_wait, *worker_dur, *db_dur;
	struct metric		*queue_len, *inflight;
	struct metric		*workers[STATS_NSTATES][STATS_NKINDS];
	struct metric		*restarts[STATS_NRESTARTS];
	struct metric		*redispatched, *jobs;
	struct metric		*rejected[STATS_NREASONS];
	struct metric		**tokens;	/* nservices */
	struct metric		*jwks[2], *config[2];
	struct metric		*keys_missing, *db_up;
	struct metric		*cpu[NROLES], *rss[NROLES];
	struct metric		*refused;
	struct reporter		 reporters[MAX_REPORTERS];
	uint64_t		*token_block;
	const char		**names;	/* copies of the settings' arrays */
	int			 proc_self, proc_sup;
};

#define FAMILY(type, name, help, b, nb) \
	metrics_family(st->reg, type, name, help, b, nb)

static struct metric *
series0(struct metric_family *f)
{
	return f == NULL ? NULL : metrics_series(f, NULL, NULL, 0);
}

static struct metric *
series1(struct metric_family *f, const char *name, const char *value)
{
	return f == NULL ? NULL : metrics_series(f, &name, &value, 1);
}

static struct metric *
series2(struct metric_family *f, const char *n1, const char *v1,
    const char *n2, const char *v2)
{
	const char *names[2] = { n1, n2 }, *values[2] = { v1, v2 };

	return f == NULL ? NULL : metrics_series(f, names, values, 2);
}

/* The request families; 0, or -1 if out of memory. */
static int
make_requests(struct stats *st)
{
	struct metric_family	*req, *dur;
	char			 code[8];
	size_t			 e, s;

	req = FAMILY(METRIC_COUNTER, "tokend_requests_total",
	    "HTTP requests answered on the main listener, by endpoint and "
	    "status.", NULL, 0);
	dur = FAMILY(METRIC_HISTOGRAM, "tokend_request_duration_seconds",
	    "Time from routing a request to queueing its answer.",
	    stats_bounds, STATS_NBOUNDS);
	for (e = 0; e < STATS_NENDPOINTS; e++) {
		for (s = 0; s <= NSTATUSES; s++) {
			if (s < NSTATUSES)
				snprintf(code, sizeof(code), "%u", statuses[s]);
			else
				snprintf(code, sizeof(code), "other");
			if ((st->req[e][s] = series2(req, "endpoint",
			    endpoints[e], "status", code)) == NULL)
				return -1;
		}
		if ((st->req_dur[e] = series1(dur, "endpoint",
		    endpoints[e])) == NULL)
			return -1;
	}
	return 0;
}

static int
make_pool(struct stats *st)
{
	struct metric_family	*f;
	size_t			 i, j;

	st->queue_wait = series0(FAMILY(METRIC_HISTOGRAM,
	    "tokend_queue_wait_seconds", "Time a job waited for a worker, "
	    "from submission to each dispatch.", stats_bounds, STATS_NBOUNDS));
	st->worker_dur = series0(FAMILY(METRIC_HISTOGRAM,
	    "tokend_worker_duration_seconds", "Time a worker spent on one "
	    "job, measured in the worker.", stats_bounds, STATS_NBOUNDS));
	st->queue_len = series0(FAMILY(METRIC_GAUGE, "tokend_queue_length",
	    "Jobs waiting for room in a worker.", NULL, 0));
	st->inflight = series0(FAMILY(METRIC_GAUGE, "tokend_inflight_requests",
	    "Jobs submitted and not yet answered.", NULL, 0));
	f = FAMILY(METRIC_GAUGE, "tokend_workers", "Workers the broker "
	    "knows, by state and kind.", NULL, 0);
	for (i = 0; i < STATS_NSTATES; i++)
		for (j = 0; j < STATS_NKINDS; j++)
			if ((st->workers[i][j] = series2(f, "state", states[i],
			    "kind", kinds[j])) == NULL)
				return -1;
	f = FAMILY(METRIC_COUNTER, "tokend_worker_restarts_total", "Workers "
	    "replaced, by cause.", NULL, 0);
	for (i = 0; i < STATS_NRESTARTS; i++) {
		if ((st->restarts[i] = series1(f, "cause",
		    restart_causes[i])) == NULL)
			return -1;
		metric_touch(st->restarts[i]);
	}
	st->redispatched = series0(FAMILY(METRIC_COUNTER,
	    "tokend_jobs_redispatched_total", "Jobs taken back from a worker "
	    "and queued again.", NULL, 0));
	st->jobs = series0(FAMILY(METRIC_COUNTER, "tokend_worker_jobs_total",
	    "Jobs the workers finished.", NULL, 0));
	if (st->queue_wait == NULL || st->worker_dur == NULL ||
	    st->queue_len == NULL || st->inflight == NULL ||
	    st->redispatched == NULL || st->jobs == NULL)
		return -1;
	metric_touch(st->redispatched);
	return 0;
}

static int
make_workers(struct stats *st)
{
	struct metric_family	*f;
	static const char *const results[2] = { "ok", "error" };
	size_t			 i;

	f = FAMILY(METRIC_COUNTER, "tokend_assertions_rejected_total", "Jobs "
	    "a worker answered with an error, by error code.", NULL, 0);
	for (i = 0; i < STATS_NREASONS; i++)
		if ((st->rejected[i] = series1(f, "reason",
		    stats_reasons[i])) == NULL)
			return -1;
	f = FAMILY(METRIC_COUNTER, "tokend_tokens_issued_total", "Tokens "
	    "minted, by service and format.", NULL, 0);
	if ((st->tokens = calloc(st->set.nservices + 1,
	    sizeof(*st->tokens))) == NULL)
		return -1;
	for (i = 0; i < st->set.nservices; i++)
		if ((st->tokens[i] = series2(f, "service", st->set.services[i],
		    "format", st->set.formats[i])) == NULL)
			return -1;
	f = FAMILY(METRIC_COUNTER, "tokend_jwks_reloads_total", "Issuer key "
	    "sets replaced (ok) or refused (error) in the workers.", NULL, 0);
	for (i = 0; i < 2; i++)
		if ((st->jwks[i] = series1(f, "result", results[i])) == NULL)
			return -1;
	f = FAMILY(METRIC_COUNTER, "tokend_config_reloads_total", "SIGHUP "
	    "reloads, applied (ok) or refused (error).", NULL, 0);
	for (i = 0; i < 2; i++) {
		if ((st->config[i] = series1(f, "result", results[i])) == NULL)
			return -1;
		metric_touch(st->config[i]);
	}
	st->keys_missing = series0(FAMILY(METRIC_GAUGE,
	    "tokend_issuers_without_keys", "The most issuers that a live "
	    "worker has no key set for.", NULL, 0));
	st->db_dur = series0(FAMILY(METRIC_HISTOGRAM,
	    "tokend_db_duration_seconds", "Node-assignment database calls, "
	    "timed by the workers.", stats_bounds, STATS_NBOUNDS));
	st->db_up = series0(FAMILY(METRIC_GAUGE, "tokend_db_up", "1 when a "
	    "live worker reaches its database, 0 when none does.", NULL, 0));
	f = FAMILY(METRIC_COUNTER, "tokend_process_cpu_seconds_total", "CPU "
	    "time, user and system, by process role.", NULL, 0);
	for (i = 0; i < NROLES; i++)
		if ((st->cpu[i] = series1(f, "role", roles[i])) == NULL)
			return -1;
	f = FAMILY(METRIC_GAUGE, "tokend_process_resident_memory_bytes",
	    "Resident memory by process role (the live workers summed).",
	    NULL, 0);
	for (i = 0; i < NROLES; i++)
		if ((st->rss[i] = series1(f, "role", roles[i])) == NULL)
			return -1;
	st->refused = series0(FAMILY(METRIC_COUNTER,
	    "tokend_metrics_heartbeat_fields_rejected_total", "HEARTBEAT "
	    "figure fields the front refused.", NULL, 0));
	if (st->keys_missing == NULL || st->db_dur == NULL ||
	    st->db_up == NULL || st->refused == NULL)
		return -1;
	metric_touch(st->refused);
	return 0;
}

struct stats *
stats_new(const struct stats_settings *set)
{
	struct stats	*st;
	size_t		 i;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->set = *set;
	st->proc_self = st->proc_sup = -1;
	if (set->nservices > STATS_MAX_SERVICES) {
		free(st);
		return NULL;
	}
	/* The arrays are the caller's; the strings must outlive st. */
	if ((st->names = calloc(2 * set->nservices + 1,
	    sizeof(*st->names))) == NULL) {
		free(st);
		return NULL;
	}
	for (i = 0; i < set->nservices; i++) {
		st->names[i] = set->services[i];
		st->names[set->nservices + i] = set->formats[i];
	}
	st->set.services = st->names;
	st->set.formats = st->names + set->nservices;
	if ((st->reg = metrics_new()) == NULL ||
	    (st->token_block = calloc(MAX_REPORTERS * (set->nservices + 1),
	    sizeof(uint64_t))) == NULL ||
	    make_requests(st) == -1 || make_pool(st) == -1 ||
	    make_workers(st) == -1) {
		stats_free(st);
		return NULL;
	}
	for (i = 0; i < MAX_REPORTERS; i++)
		st->reporters[i].tokens = st->token_block +
		    i * (set->nservices + 1);
	return st;
}

void
stats_free(struct stats *st)
{
	if (st == NULL)
		return;
	if (st->proc_self != -1)
		close(st->proc_self);
	if (st->proc_sup != -1)
		close(st->proc_sup);
	metrics_free(st->reg);
	free(st->tokens);
	free(st->token_block);
	free(st->names);
	free(st);
}

void
stats_open_procs(struct stats *st, int supervisor_pid)
{
	st->proc_self = procstat_open(0);
	if (supervisor_pid > 1)
		st->proc_sup = procstat_open((pid_t)supervisor_pid);
}

void
stats_request(struct stats *st, int endpoint, unsigned status,
    double seconds)
{
	size_t	s;

	if (st == NULL || !st->set.requests || endpoint < 0 ||
	    endpoint >= STATS_NENDPOINTS)
		return;
	for (s = 0; s < NSTATUSES && statuses[s] != status; s++)
		;
	metric_add(st->req[endpoint][s], 1);
	metric_observe(st->req_dur[endpoint], seconds);
}

void
stats_queue_wait(struct stats *st, double seconds)
{
	if (st != NULL && st->set.requests)
		metric_observe(st->queue_wait, seconds);
}

void
stats_redispatched(struct stats *st)
{
	if (st != NULL)
		metric_add(st->redispatched, 1);
}

void
stats_restart(struct stats *st, enum stats_restart cause)
{
	if (st != NULL && cause < STATS_NRESTARTS)
		metric_add(st->restarts[cause], 1);
}

void
stats_config_reload(struct stats *st, int ok)
{
	if (st != NULL)
		metric_add(st->config[ok ? 0 : 1], 1);
}

/* ---- decoding a report ------------------------------------------------ */

/* Decimal digits only, 1 to MAX_DIGITS of them. */
static int
parse_u64(const char *s, size_t len, uint64_t *v)
{
	size_t	i;

	if (len == 0 || len > MAX_DIGITS)
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* Exactly n comma-separated numbers. */
static int
parse_list(const char *s, size_t len, uint64_t *v, size_t n)
{
	const char	*end = s + len, *comma;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		if ((i + 1 < n) != (comma < end) ||
		    parse_u64(s, (size_t)(comma - s), &v[i]) == -1)
			return -1;
		s = comma + 1;
	}
	return 0;
}

/* What grew since last (and remember now); nothing if it went down. */
static uint64_t
grown(uint64_t *last, uint64_t now)
{
	uint64_t	d = now >= *last ? now - *last : 0;

	*last = now;
	return d;
}

static struct reporter *
reporter_of(struct stats *st, const void *id, size_t len, uint64_t now)
{
	struct reporter	*r, *oldest = NULL;
	uint64_t	*tokens;
	size_t		 i;

	if (len > IDENT_MAX)
		return NULL;
	for (i = 0; i < MAX_REPORTERS; i++) {
		r = &st->reporters[i];
		if (r->used && r->idlen == len && memcmp(r->id, id, len) == 0)
			return r;
		if (oldest == NULL || !r->used ||
		    (oldest->used && r->seen < oldest->seen))
			oldest = r;
	}
	/* The longest silent gives its place: gone, or as good as. */
	tokens = oldest->tokens;
	memset(oldest, 0, sizeof(*oldest));
	memset(tokens, 0, (st->set.nservices + 1) * sizeof(*tokens));
	oldest->tokens = tokens;
	oldest->used = 1;
	memcpy(oldest->id, id, len);
	oldest->idlen = len;
	oldest->keys_missing = -1;
	oldest->db_state = -1;
	oldest->seen = now;
	return oldest;
}

/* A histogram field: its buckets' and sum's growth into the metric. */
static int
take_hist(const char *s, size_t len, uint64_t *last, struct metric *m)
{
	uint64_t	v[HIST_VALUES], d[HIST_VALUES];
	size_t		i;

	if (parse_list(s, len, v, HIST_VALUES) == -1)
		return -1;
	for (i = 0; i < HIST_VALUES; i++)
		d[i] = grown(&last[i], v[i]);
	metric_hist_merge(m, d, (double)d[STATS_NBOUNDS + 1] / 1e6);
	return 0;
}

/* The index of the configured service named s[0..len), or -1. */
static long
service_index(const struct stats *st, const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < st->set.nservices; i++)
		if (strlen(st->set.services[i]) == len &&
		    memcmp(st->set.services[i], s, len) == 0)
			return (long)i;
	return -1;
}

/* "NAME COUNT" lines; every name must be a configured service. */
static int
take_tokens(struct stats *st, struct reporter *r, const char *s, size_t len)
{
	const char	*end = s + len, *nl, *sp;
	uint64_t	 v[STATS_MAX_SERVICES], n;
	long		 idx[STATS_MAX_SERVICES];
	size_t		 k = 0, i;

	/* Checked whole first: a field is taken whole or not at all. */
	while (s < end) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		sp = s;
		for (const char *q = s; q < nl; q++)
			if (*q == ' ')
				sp = q;
		if (sp == s || k == STATS_MAX_SERVICES ||
		    (idx[k] = service_index(st, s, (size_t)(sp - s))) == -1 ||
		    parse_u64(sp + 1, (size_t)(nl - sp - 1), &n) == -1)
			return -1;
		v[k++] = n;
		s = nl + 1;
	}
	for (i = 0; i < k; i++)
		metric_add(st->tokens[idx[i]],
		    (double)grown(&r->tokens[idx[i]], v[i]));
	return 0;
}

/* One field of a report; -1 if refused. */
static int
take_field(struct stats *st, struct reporter *r, const struct proto_field *f)
{
	uint64_t	v[STATS_NREASONS];
	size_t		i;

#define IS(k)	(f->keylen == sizeof(k) - 1 && memcmp(f->key, k, f->keylen) == 0)
	if (IS("keys_missing")) {
		if (parse_u64(f->val, f->vallen, v) == -1 || v[0] > 1000000)
			return -1;
		r->keys_missing = (long)v[0];
	} else if (IS("db_state")) {
		if (f->vallen == 2 && memcmp(f->val, "-1", 2) == 0)
			r->db_state = -1;
		else if (parse_u64(f->val, f->vallen, v) == 0 && v[0] <= 1)
			r->db_state = (int)v[0];
		else
			return -1;
	} else if (IS("jobs")) {
		if (parse_u64(f->val, f->vallen, v) == -1)
			return -1;
		metric_add(st->jobs, (double)grown(&r->jobs, v[0]));
	} else if (IS("busy")) {
		return take_hist(f->val, f->vallen, r->busy, st->worker_dur);
	} else if (IS("db")) {
		return take_hist(f->val, f->vallen, r->db, st->db_dur);
	} else if (IS("rejected")) {
		if (parse_list(f->val, f->vallen, v, STATS_NREASONS) == -1)
			return -1;
		for (i = 0; i < STATS_NREASONS; i++)
			metric_add(st->rejected[i],
			    (double)grown(&r->rejected[i], v[i]));
	} else if (IS("jwks")) {
		if (parse_list(f->val, f->vallen, v, 2) == -1)
			return -1;
		for (i = 0; i < 2; i++)
			metric_add(st->jwks[i], (double)grown(&r->jwks[i],
			    v[i]));
	} else if (IS("cpu_us")) {
		if (parse_u64(f->val, f->vallen, v) == -1)
			return -1;
		metric_add(st->cpu[ROLE_WORKER],
		    (double)grown(&r->cpu_us, v[0]) / 1e6);
	} else if (IS("rss")) {
		if (parse_u64(f->val, f->vallen, v) == -1)
			return -1;
		r->rss = v[0];
	} else if (IS("tokens"))
		return take_tokens(st, r, f->val, f->vallen);
	/* Other keys: a newer worker's figures, ignored. */
#undef IS
	return 0;
}

int
stats_heartbeat(struct stats *st, const void *id, size_t idlen,
    const struct proto_msg *m, uint64_t now)
{
	struct reporter	*r;
	size_t		 i;
	int		 bad = 0;

	if (st == NULL || m->nfields == 0 ||
	    (r = reporter_of(st, id, idlen, now)) == NULL)
		return 0;
	r->seen = now;
	for (i = 0; i < m->nfields; i++)
		if (take_field(st, r, &m->f[i]) == -1) {
			bad++;
			if (!r->warned)
				log_warnx("a worker's HEARTBEAT field %.*s is "
				    "malformed or names an unknown label: "
				    "refused (logged once per worker)",
				    (int)(m->f[i].keylen > 32 ? 32 :
				    m->f[i].keylen), m->f[i].key);
			r->warned = 1;
		}
	if (bad > 0)
		metric_add(st->refused, bad);
	return bad;
}

void
stats_health(struct stats *st, uint64_t now, struct pool_health *h)
{
	const struct reporter	*r;
	size_t			 i;

	memset(h, 0, sizeof(*h));
	h->keys_missing = -1;
	for (i = 0; i < MAX_REPORTERS; i++) {
		r = &st->reporters[i];
		if (!r->used || now - r->seen > st->set.fresh_ms)
			continue;
		if (r->keys_missing >= 0) {
			h->reported = 1;
			if (h->keys_missing == -1 ||
			    r->keys_missing < h->keys_missing)
				h->keys_missing = r->keys_missing;
		}
		if (r->db_state >= 0) {
			h->db_configured = 1;
			h->db_up |= r->db_state == 1;
		}
	}
}

/* The gauges that are read at the scrape, not counted as they go. */
static void
set_gauges(struct stats *st, const struct pool_census *c, uint64_t now)
{
	const struct reporter	*r;
	uint64_t		 cpu, rss, wrss = 0;
	long			 most = -1;
	int			 i, j, db = -1;

	for (i = 0; i < STATS_NSTATES; i++)
		for (j = 0; j < STATS_NKINDS; j++)
			metric_set(st->workers[i][j], c->workers[i][j]);
	metric_set(st->queue_len, c->queued);
	metric_set(st->inflight, c->inflight);
	for (i = 0; i < MAX_REPORTERS; i++) {
		r = &st->reporters[i];
		if (!r->used || now - r->seen > st->set.fresh_ms)
			continue;
		wrss += r->rss;
		if (r->keys_missing > most)
			most = r->keys_missing;
		if (r->db_state >= 0 && db < 1)
			db = r->db_state;
	}
	metric_set(st->rss[ROLE_WORKER], (double)wrss);
	metric_touch(st->cpu[ROLE_WORKER]);
	if (most >= 0)
		metric_set(st->keys_missing, (double)most);
	else
		metric_unset(st->keys_missing);
	if (db >= 0)
		metric_set(st->db_up, db);
	else
		metric_unset(st->db_up);
	/* The front's own and the supervisor's: read now. */
	if (procstat_read(st->proc_self, &cpu, &rss) == 0) {
		metric_set(st->cpu[ROLE_FRONT], (double)cpu / 1e6);
		metric_set(st->rss[ROLE_FRONT], (double)rss);
	}
	if (procstat_read(st->proc_sup, &cpu, &rss) == 0) {
		metric_set(st->cpu[ROLE_SUPERVISOR], (double)cpu / 1e6);
		metric_set(st->rss[ROLE_SUPERVISOR], (double)rss);
	}
}

char *
stats_scrape(struct stats *st, const struct pool_census *c, uint64_t now,
    size_t *len)
{
	set_gauges(st, c, now);
	return metrics_write(st->reg, len);
}
