/*
 * status.c - tokenctl status: is this tokend healthy, and how busy is it?
 *
 * An operator on a host (or a probe) asks one question, and a dashboard
 * is not at hand: the metrics endpoint already holds the answer, so this
 * reads it twice, interval seconds apart, and turns the difference into a
 * few lines (workers by state, queue, requests per second by status,
 * p50/p99 latency from the histogram's buckets, the top rejection
 * reasons; the latency is that of the token endpoints) and an exit code
 * a script can act on:
 *
 *   0  healthy
 *   1  degraded: no worker idle or busy (none to serve), a worker lost
 *      (the broker stopped hearing from it), or more than max_5xx percent
 *      of the window's requests answered 5xx
 *   2  unreachable: no connection, no answer in time, not 200, or not the
 *      Prometheus text format with tokend's metrics in it
 *
 * Counters are differences between the reads (a counter that went down
 * was reset by a restart: its new value is the window's); gauges are the
 * second read's.  The quantiles interpolate inside the bucket the rank
 * falls in, as Prometheus' histogram_quantile() does.
 */
#include "tools/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/clock.h"

#define MAX_BUCKETS	64

/* ---- reading the endpoint ---------------------------------------------- */

struct body {
	char	*p;
	size_t	 len;
	int	 too_large;
};

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body	*b = arg;
	size_t		 len = size * n;
	char		*grown;

	if (b->len + len > PROM_MAX_BYTES) {
		b->too_large = 1;
		return 0;		/* aborts the transfer */
	}
	if ((grown = realloc(b->p, b->len + len + 1)) == NULL)
		return 0;
	b->p = grown;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return len;
}

int
status_fetch(const char *url, double timeout, struct prom_set *set,
    char *err, size_t errlen)
{
	static int	 inited;
	struct body	 b = { NULL, 0, 0 };
	char		 cerr[CURL_ERROR_SIZE] = "";
	CURL		*c;
	CURLcode	 rc;
	long		 code = 0, ms = (long)(timeout * 1000);
	int		 ret = -1;

	if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errlen, "curl_global_init failed");
		return -1;
	}
	inited = 1;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -1;
	}
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "tokenctl") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK) {
		snprintf(err, errlen, "%s: not a URL tokenctl can read", url);
		goto done;
	}
	rc = curl_easy_perform(c);
	if (b.too_large) {
		snprintf(err, errlen, "%s: answer longer than %d bytes", url,
		    PROM_MAX_BYTES);
		goto done;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, cerr[0] != '\0' ? cerr :
		    curl_easy_strerror(rc));
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(err, errlen, "%s: HTTP status %ld", url, code);
		goto done;
	}
	if (prom_parse(set, b.p != NULL ? b.p : "", b.len, err, errlen) ==
	    -1) {
		/* Prefixed with the URL: "URL: not the Prometheus format". */
		char	why[192];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: not the Prometheus text format (%s)",
		    url, why);
		goto done;
	}
	ret = 0;
done:
	free(b.p);
	curl_easy_cleanup(c);
	return ret;
}

/* ---- the window ---------------------------------------------------------- */

/*
 * after - before, of a counter (reset by a restart: after alone).  A
 * counter is never negative, NaN or infinite: such a value counts 0.
 */
static double
delta(double before, double after)
{
	if (!isfinite(after) || after < 0)
		return 0;
	if (!isfinite(before) || before < 0 || after < before)
		return after;
	return after - before;
}

/* The value of sample s of after in before: same name and labels. */
static double
before_of(const struct prom_set *before, const struct prom_sample *s)
{
	const char	*v;
	size_t		 i, j;

	for (i = 0; i < before->n; i++) {
		const struct prom_sample *b = &before->s[i];

		if (strcmp(b->name, s->name) != 0 || b->nlabels != s->nlabels)
			continue;
		for (j = 0; j < s->nlabels; j++)
			if ((v = prom_label(b, s->labels[j].name)) == NULL ||
			    strcmp(v, s->labels[j].value) != 0)
				break;
		if (j == s->nlabels)
			return b->value;
	}
	return 0;
}

static void
add_code(struct status_report *r, const char *code, double n)
{
	size_t	i;

	for (i = 0; i < r->ncodes; i++)
		if (strcmp(r->codes[i].code, code) == 0) {
			r->codes[i].rate += n;
			return;
		}
	if (r->ncodes == STATUS_MAX_CODES)
		return;
	snprintf(r->codes[r->ncodes].code, sizeof(r->codes[0].code), "%s",
	    code);
	r->codes[r->ncodes++].rate = n;
}

static int
by_code(const void *a, const void *b)
{
	return strcmp(((const struct status_code *)a)->code,
	    ((const struct status_code *)b)->code);
}

static void
requests(const struct prom_set *before, const struct prom_set *after,
    struct status_report *r)
{
	const char	*code;
	double		 n, total = 0, fivexx = 0;
	size_t		 i;

	for (i = 0; i < after->n; i++) {
		const struct prom_sample *s = &after->s[i];

		if (strcmp(s->name, "tokend_requests_total") != 0 ||
		    (code = prom_label(s, "status")) == NULL)
			continue;
		n = delta(before_of(before, s), s->value);
		add_code(r, code, n);
		total += n;
		if (code[0] == '5')
			fivexx += n;
	}
	qsort(r->codes, r->ncodes, sizeof(r->codes[0]), by_code);
	for (i = 0; i < r->ncodes; i++)
		r->codes[i].rate /= r->secs;
	r->rate = total / r->secs;
	r->share_5xx = total > 0 ? 100.0 * fivexx / total : 0;
}

/*
 * The latency an operator asks about is that of token requests: the
 * health and version endpoints (answered by the front alone, probed every
 * few seconds) would pull the quantiles down.
 */
static int
token_endpoint(const struct prom_sample *s)
{
	const char	*ep = prom_label(s, "endpoint");

	return ep == NULL || strcmp(ep, "token") == 0 ||
	    strcmp(ep, "mozilla") == 0 || strcmp(ep, "oauth") == 0;
}

struct bucket {
	double	le, count;
};

static int
by_le(const void *a, const void *b)
{
	double	x = ((const struct bucket *)a)->le;
	double	y = ((const struct bucket *)b)->le;

	return x < y ? -1 : x > y;
}

/* The q-quantile of buckets b[0..n) (cumulative, sorted); NAN if empty. */
static double
quantile(const struct bucket *b, size_t n, double q)
{
	double	rank, lower = 0, below = 0;
	size_t	i;

	if (n == 0 || b[n - 1].count <= 0 || !isinf(b[n - 1].le))
		return NAN;
	rank = q * b[n - 1].count;
	for (i = 0; i < n; i++) {
		if (b[i].count >= rank) {
			if (isinf(b[i].le))
				/* Past the largest bound: say that bound. */
				return i > 0 ? b[i - 1].le : NAN;
			if (b[i].count == below)
				return b[i].le;
			return lower + (b[i].le - lower) * (rank - below) /
			    (b[i].count - below);
		}
		lower = b[i].le;
		below = b[i].count;
	}
	return NAN;
}

static void
latency(const struct prom_set *before, const struct prom_set *after,
    struct status_report *r)
{
	struct bucket	 b[MAX_BUCKETS];
	const char	*le;
	char		*end;
	double		 bound;
	size_t		 i, j, n = 0;

	for (i = 0; i < after->n; i++) {
		const struct prom_sample *s = &after->s[i];

		if (strcmp(s->name,
		    "tokend_request_duration_seconds_bucket") != 0 ||
		    !token_endpoint(s) || (le = prom_label(s, "le")) == NULL)
			continue;
		bound = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, &end);
		if (!isinf(bound) && (*end != '\0' || isnan(bound)))
			continue;
		for (j = 0; j < n && b[j].le != bound; j++)
			;
		if (j == n) {
			if (n == MAX_BUCKETS)
				continue;
			b[n].le = bound;
			b[n++].count = 0;
		}
		b[j].count += delta(before_of(before, s), s->value);
	}
	qsort(b, n, sizeof(b[0]), by_le);
	r->p50 = quantile(b, n, 0.5);
	r->p99 = quantile(b, n, 0.99);
}

/* Puts (reason, n) in its place in top[0..*ntop), largest first. */
static void
top_insert(struct status_reason *top, size_t *ntop, const char *reason,
    double n)
{
	size_t	j;

	for (j = *ntop; j > 0 && top[j - 1].count < n; j--)
		if (j < STATUS_TOP)
			top[j] = top[j - 1];
	if (j == STATUS_TOP)
		return;
	snprintf(top[j].reason, sizeof(top[j].reason), "%s", reason);
	top[j].count = n;
	if (*ntop < STATUS_TOP)
		(*ntop)++;
}

/*
 * The window's top reasons, and the top since the start: the workers'
 * figures reach the front with their heartbeats, so a short window may
 * see none of the rejections its requests had.
 */
static void
rejections(const struct prom_set *before, const struct prom_set *after,
    struct status_report *r)
{
	const char	*reason;
	double		 n;
	size_t		 i;

	for (i = 0; i < after->n; i++) {
		const struct prom_sample *s = &after->s[i];

		if (strcmp(s->name, "tokend_assertions_rejected_total") != 0 ||
		    (reason = prom_label(s, "reason")) == NULL)
			continue;
		if ((n = delta(0, s->value)) > 0)
			top_insert(r->since, &r->nsince, reason, n);
		if ((n = delta(before_of(before, s), s->value)) > 0)
			top_insert(r->top, &r->ntop, reason, n);
	}
}

static void
because(struct status_report *r, const char *what)
{
	size_t	len = strlen(r->why);

	r->verdict = STATUS_DEGRADED;
	snprintf(r->why + len, sizeof(r->why) - len, "%s%s", len ? "; " : "",
	    what);
}

int
status_summarize(const struct prom_set *before, const struct prom_set *after,
    double secs, double max_5xx, struct status_report *r, char *err,
    size_t errlen)
{
	char	buf[96];
	int	found;
	size_t	i;

	memset(r, 0, sizeof(*r));
	r->secs = secs > 0 ? secs : 1;
	prom_sum(after, "tokend_workers", NULL, NULL, &found);
	if (!found) {
		snprintf(err, errlen, "no tokend_workers metric: not tokend's "
		    "metrics endpoint");
		return -1;
	}
	r->idle = prom_sum(after, "tokend_workers", "state", "idle", &found);
	r->busy = prom_sum(after, "tokend_workers", "state", "busy", &found);
	r->lost = prom_sum(after, "tokend_workers", "state", "lost", &found);
	r->queue = prom_sum(after, "tokend_queue_length", NULL, NULL, &found);
	requests(before, after, r);
	latency(before, after, r);
	rejections(before, after, r);
	for (i = 0; i < after->n; i++)
		if (strcmp(after->s[i].name,
		    "tokend_worker_restarts_total") == 0)
			r->restarts += delta(before_of(before, &after->s[i]),
			    after->s[i].value);
	r->verdict = STATUS_HEALTHY;
	if (r->idle + r->busy < 1)
		because(r, "no worker idle or busy");
	if (r->lost >= 1) {
		snprintf(buf, sizeof(buf), "%.0f worker%s lost", r->lost,
		    r->lost >= 2 ? "s" : "");
		because(r, buf);
	}
	if (r->share_5xx > max_5xx) {
		snprintf(buf, sizeof(buf), "%.1f%% of requests answered 5xx "
		    "(more than %g%%)", r->share_5xx, max_5xx);
		because(r, buf);
	}
	return 0;
}

/* "1.23 ms", or "-" when there was no request. */
static const char *
millis(double s, char *buf, size_t len)
{
	if (isnan(s))
		return "-";
	snprintf(buf, len, "%.2f ms", s * 1000);
	return buf;
}

void
status_print(FILE *f, const char *url, const struct status_report *r)
{
	char	a[32], b[32];
	size_t	i, n;

	fprintf(f, "tokend at %s, over %.1f s\n", url, r->secs);
	fprintf(f, "workers:   %.0f idle, %.0f busy, %.0f lost\n", r->idle,
	    r->busy, r->lost);
	fprintf(f, "queue:     %.0f\n", r->queue);
	fprintf(f, "requests:  %.1f/s", r->rate);
	for (i = 0, n = 0; i < r->ncodes; i++)
		if (r->codes[i].rate > 0)
			fprintf(f, "%s%s %.1f/s", n++ == 0 ? " (" : ", ",
			    r->codes[i].code, r->codes[i].rate);
	fprintf(f, "%s\n", n > 0 ? ")" : "");
	fprintf(f, "latency:   p50 %s, p99 %s\n", millis(r->p50, a,
	    sizeof(a)), millis(r->p99, b, sizeof(b)));
	fprintf(f, "rejected:  ");
	for (i = 0; i < r->ntop; i++)
		fprintf(f, "%s%s %.0f", i ? ", " : "", r->top[i].reason,
		    r->top[i].count);
	if (r->ntop == 0)
		fprintf(f, "none in the window");
	for (i = 0; r->ntop == 0 && i < r->nsince; i++)
		fprintf(f, "%s%s %.0f", i ? ", " : " (since the start: ",
		    r->since[i].reason, r->since[i].count);
	fprintf(f, "%s\n", r->ntop == 0 && r->nsince > 0 ? ")" : "");
	fprintf(f, "restarts:  %.0f\n", r->restarts);
	if (r->verdict == STATUS_HEALTHY)
		fprintf(f, "status:    healthy\n");
	else
		fprintf(f, "status:    degraded: %s\n", r->why);
}

/* ---- the command --------------------------------------------------------- */

static void
sleep_s(double s)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1)
		;
}

int
status_run(const struct status_options *o)
{
	struct prom_set		before = { 0 }, after = { 0 };
	struct status_report	r;
	char			err[512];
	uint64_t		t0, t1;
	int			ret = STATUS_UNREACHABLE;

	t0 = mono_us();
	if (status_fetch(o->url, o->timeout, &before, err, sizeof(err)) == -1)
		goto fail;
	sleep_s(o->interval);
	t1 = mono_us();
	if (status_fetch(o->url, o->timeout, &after, err, sizeof(err)) == -1)
		goto fail;
	/* The reads' starts, not their ends: both wait alike for the answer. */
	if (status_summarize(&before, &after, (double)(t1 - t0) / 1e6,
	    o->max_5xx, &r, err, sizeof(err)) == -1)
		goto fail;
	status_print(stdout, o->url, &r);
	ret = r.verdict;
	goto done;
fail:
	fprintf(stderr, "tokenctl: unreachable: %s\n", err);
done:
	prom_free(&before);
	prom_free(&after);
	return ret;
}
