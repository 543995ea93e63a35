/*
 * test_metrics.c - the metrics registry and text writer (core/metrics.c)
 * and the workers' figures in HEARTBEATs (pool/stats.c).
 *
 * The writer is checked against whole expected texts, written by hand
 * from the Prometheus exposition format (cumulative buckets, le="+Inf"
 * equal to _count, a value on its bound in that bucket, escaped label
 * values), so a wrong sum or an off-by-one bucket cannot hide.  The
 * figures are encoded by the worker's half and decoded by the front's, as
 * in a running pool; then each way a worker could lie (a service the
 * front does not know, a label smuggled in a name, a counter that goes
 * back, a number too long, a list too short) must be refused and counted,
 * and must never reach the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "pool/stats.h"

static const double bounds[] = { 0.1, 1, 10 };

static char *
write_all(struct metrics *m)
{
	size_t	 len;
	char	*s = metrics_write(m, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	return s;
}

static void
test_counter_gauge(void **state)
{
	struct metrics		*m = metrics_new();
	struct metric_family	*c, *g;
	struct metric		*a, *b, *x;
	const char		*names[] = { "endpoint", "status" };
	const char		*va[] = { "token", "200" }, *vb[] = { "token",
				    "401" };
	char			*s;

	c = metrics_family(m, METRIC_COUNTER, "t_requests_total", "Requests.",
	    NULL, 0);
	g = metrics_family(m, METRIC_GAUGE, "t_queue", "Queue.", NULL, 0);
	assert_non_null(c);
	assert_non_null(g);
	a = metrics_series(c, names, va, 2);
	b = metrics_series(c, names, vb, 2);
	x = metrics_series(g, NULL, NULL, 0);
	/* Nothing happened yet: nothing is written, not even HELP. */
	s = write_all(m);
	assert_string_equal(s, "");
	free(s);
	metric_add(a, 1);
	metric_add(a, 2);
	metric_touch(b);
	metric_set(x, 7);
	s = write_all(m);
	assert_string_equal(s,
	    "# HELP t_requests_total Requests.\n"
	    "# TYPE t_requests_total counter\n"
	    "t_requests_total{endpoint=\"token\",status=\"200\"} 3\n"
	    "t_requests_total{endpoint=\"token\",status=\"401\"} 0\n"
	    "# HELP t_queue Queue.\n"
	    "# TYPE t_queue gauge\n"
	    "t_queue 7\n");
	free(s);
	/* An unset gauge disappears, with its HELP and TYPE. */
	metric_unset(x);
	metric_set(a, 0.5);	/* fractions with their digits */
	s = write_all(m);
	assert_null(strstr(s, "t_queue"));
	assert_non_null(strstr(s, "status=\"200\"} 0.5\n"));
	free(s);
	metrics_free(m);
}

static void
test_histogram(void **state)
{
	struct metrics		*m = metrics_new();
	struct metric_family	*h;
	struct metric		*s;
	const char		*n = "endpoint", *v = "token";
	uint64_t		 delta[4] = { 1, 0, 0, 2 };
	char			*t;

	h = metrics_family(m, METRIC_HISTOGRAM, "t_seconds", "Latency.",
	    bounds, 3);
	s = metrics_series(h, &n, &v, 1);
	metric_observe(s, 0.05);
	metric_observe(s, 0.1);		/* on its bound: that bucket */
	metric_observe(s, 5);
	metric_observe(s, 11);		/* above them all: +Inf only */
	metric_hist_merge(s, delta, 100.25);
	t = write_all(m);
	assert_string_equal(t,
	    "# HELP t_seconds Latency.\n"
	    "# TYPE t_seconds histogram\n"
	    "t_seconds_bucket{endpoint=\"token\",le=\"0.1\"} 3\n"
	    "t_seconds_bucket{endpoint=\"token\",le=\"1\"} 3\n"
	    "t_seconds_bucket{endpoint=\"token\",le=\"10\"} 4\n"
	    "t_seconds_bucket{endpoint=\"token\",le=\"+Inf\"} 7\n"
	    "t_seconds_sum{endpoint=\"token\"} 116.4\n"
	    "t_seconds_count{endpoint=\"token\"} 7\n");
	free(t);
	assert_int_equal(metric_bucket(bounds, 3, 0.1), 0);
	assert_int_equal(metric_bucket(bounds, 3, 0.1000001), 1);
	assert_int_equal(metric_bucket(bounds, 3, 1e9), 3);
	metrics_free(m);
}

static void
test_families_refused(void **state)
{
	static const double down[] = { 1, 0.5 }, same[] = { 1, 1 };
	static const double many[METRIC_MAX_BUCKETS + 1] = { 1, 2, 3, 4, 5, 6,
	    7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
	struct metrics		*m = metrics_new();
	struct metric_family	*f;
	const char		*n[3] = { "a", "b", "c" };

	assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "h", down, 2));
	assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "h", same, 2));
	assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "h", many,
	    METRIC_MAX_BUCKETS + 1));
	assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "h", NULL, 0));
	f = metrics_family(m, METRIC_COUNTER, "c_total", "c", NULL, 0);
	assert_null(metrics_series(f, n, n, 3));	/* too many labels */
	metrics_free(m);
}

/* Whatever bytes a label value holds, it stays one quoted value. */
static void
test_label_escaping(void **state)
{
	struct metrics		*m = metrics_new();
	struct metric_family	*f;
	const char		*n = "service";
	const char		*v = "a\"b\\c\nd} 9\nevil_total 1";
	char			*t;

	f = metrics_family(m, METRIC_COUNTER, "c_total", "c", NULL, 0);
	metric_add(metrics_series(f, &n, &v, 1), 1);
	t = write_all(m);
	assert_string_equal(t, "# HELP c_total c\n# TYPE c_total counter\n"
	    "c_total{service=\"a\\\"b\\\\c\\nd} 9\\nevil_total 1\"} 1\n");
	free(t);
	metrics_free(m);
}

/* ---- the workers' figures --------------------------------------------- */

static const char *const services[] = { "sync-1.5", "notes" };
static const char *const formats[] = { "tokenlib", "fernet" };

static struct stats *
new_stats(void)
{
	struct stats	*st = stats_new(&(struct stats_settings){
	    .services = services, .formats = formats, .nservices = 2,
	    .fresh_ms = 3000, .requests = 1 });

	assert_non_null(st);
	return st;
}

/* A HEARTBEAT of these fields, as proto_recv() would hand it over. */
static struct proto_msg *
msg_of(struct proto_msg *m, const struct proto_field *f, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->version = PROTO_VERSION;
	m->cmd = PROTO_HEARTBEAT;
	memcpy(m->f, f, n * sizeof(*f));
	m->nfields = n;
	return m;
}

static char *
scrape(struct stats *st)
{
	struct pool_census	c = { .queued = 3 };
	size_t			len;
	char			*t;

	c.workers[STATS_IDLE][STATS_LOCAL] = 2;
	t = stats_scrape(st, &c, 1000, &len);
	assert_non_null(t);
	return t;
}

/* The line of t that starts with prefix must end with " value". */
static void
assert_sample(const char *t, const char *prefix, const char *value)
{
	char	 want[256];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", prefix);
	p = strstr(t, want);
	if (p == NULL)
		fail_msg("no sample %s in:\n%s", prefix, t);
	p += strlen(want);
	if (strncmp(p, value, strlen(value)) != 0 || p[strlen(value)] != '\n')
		fail_msg("%s is %.20s, not %s", prefix, p, value);
}

static void
test_figures_round_trip(void **state)
{
	struct stats		*st = new_stats();
	struct wstats		 w;
	struct proto_field	 f[WSTATS_FIELDS];
	struct proto_msg	 m;
	struct pool_health	 h;
	size_t			 n;
	char			*t;

	assert_int_equal(wstats_init(&w, services, 2, 1), 0);
	wstats_job(&w, 0.0002, NULL, 0);
	wstats_job(&w, 0.003, NULL, 0);
	wstats_job(&w, 0.004, NULL, 1);
	wstats_job(&w, 0.001, "invalid-credentials", (size_t)-1);
	wstats_job(&w, 0.001, "something-else", (size_t)-1);
	w.jwks[0] = 2;
	w.cpu_us = 1500000;
	w.rss = 4096;
	n = wstats_fields(&w, f);
	assert_int_equal(stats_heartbeat(st, "w1", 2, msg_of(&m, f, n), 500),
	    0);
	/* The same report again (a retransmission) adds nothing. */
	assert_int_equal(stats_heartbeat(st, "w1", 2, msg_of(&m, f, n), 600),
	    0);
	/* A second worker adds its own. */
	assert_int_equal(stats_heartbeat(st, "w2", 2, msg_of(&m, f, n), 600),
	    0);
	t = scrape(st);
	assert_sample(t, "tokend_worker_jobs_total", "10");
	assert_sample(t, "tokend_tokens_issued_total{service=\"sync-1.5\","
	    "format=\"tokenlib\"}", "4");
	assert_sample(t, "tokend_tokens_issued_total{service=\"notes\","
	    "format=\"fernet\"}", "2");
	assert_sample(t, "tokend_assertions_rejected_total{reason="
	    "\"invalid-credentials\"}", "2");
	/* An error code mint.c never uses counts as internal. */
	assert_sample(t, "tokend_assertions_rejected_total{reason=\"error\"}",
	    "2");
	assert_sample(t, "tokend_worker_duration_seconds_bucket{le="
	    "\"0.00025\"}", "2");
	assert_sample(t, "tokend_worker_duration_seconds_bucket{le=\"0.001\"}",
	    "6");
	assert_sample(t, "tokend_worker_duration_seconds_count", "10");
	assert_sample(t, "tokend_jwks_reloads_total{result=\"ok\"}", "4");
	assert_sample(t, "tokend_process_cpu_seconds_total{role=\"worker\"}",
	    "3");
	assert_sample(t, "tokend_process_resident_memory_bytes{role="
	    "\"worker\"}", "8192");
	assert_sample(t, "tokend_workers{state=\"idle\",kind=\"local\"}", "2");
	assert_sample(t, "tokend_queue_length", "3");
	assert_sample(t, "tokend_issuers_without_keys", "0");
	assert_null(strstr(t, "tokend_db_up"));	/* no database */
	free(t);
	stats_health(st, 1000, &h);
	assert_true(h.reported);
	assert_int_equal(h.keys_missing, 0);
	assert_false(h.db_configured);
	/* Past fresh_ms, a report no longer speaks for a live worker. */
	stats_health(st, 5000, &h);
	assert_false(h.reported);
	wstats_free(&w);
	stats_free(st);
}

/* With metrics off a worker sends its health facts only. */
static void
test_figures_health_only(void **state)
{
	struct wstats		w;
	struct proto_field	f[WSTATS_FIELDS];
	size_t			n;

	assert_int_equal(wstats_init(&w, services, 2, 0), 0);
	w.keys_missing = 1;
	n = wstats_fields(&w, f);
	assert_int_equal(n, 2);
	assert_memory_equal(f[0].key, "keys_missing", 12);
	assert_memory_equal(f[0].val, "1", 1);
	assert_memory_equal(f[1].key, "db_state", 8);
	assert_memory_equal(f[1].val, "-1", 2);
	wstats_free(&w);
}

#define FIELD(k, v)	{ (k), sizeof(k) - 1, (v), sizeof(v) - 1 }

/* Every bad field is refused whole, counted, and never a label. */
static void
test_figures_hostile(void **state)
{
	static const struct proto_field bad[] = {
		FIELD("tokens", "evil 5"),		/* unknown service */
		FIELD("tokens", "sync-1.5 1\nevil 5"),	/* one bad line */
		FIELD("tokens", "sync-1.5\"} 9 5"),	/* made-up name */
		FIELD("tokens", "sync-1.5 -1"),
		FIELD("tokens", "sync-1.5 1234567890123456789"),
		FIELD("tokens", "sync-1.5"),		/* no count */
		FIELD("jobs", "12a"),
		FIELD("jobs", ""),
		FIELD("jobs", "+5"),
		FIELD("rejected", "1,2,3,4"),		/* too short */
		FIELD("rejected", "1,2,3,4,5,6"),	/* too long */
		FIELD("rejected", "1,,3,4,5"),
		FIELD("busy", "1,2,3"),
		FIELD("db_state", "2"),
		FIELD("db_state", "-0"),
		FIELD("keys_missing", "99999999"),
		FIELD("cpu_us", "1e9"),
	};
	static const struct proto_field good[] = {
		FIELD("tokens", "sync-1.5 7"),
		FIELD("jobs", "7"),
		FIELD("some_future_field", "whatever"),	/* ignored */
	};
	static const struct proto_field back[] = {
		FIELD("tokens", "sync-1.5 3"),		/* went back */
		FIELD("jobs", "3"),
	};
	static const struct proto_field again[] = {
		FIELD("tokens", "sync-1.5 5"),		/* from 3: +2 */
		FIELD("jobs", "5"),
	};
	struct stats		*st = new_stats();
	struct proto_msg	 m;
	size_t			 i;
	char			*t, ident[65];

	memset(ident, 'x', sizeof(ident));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(stats_heartbeat(st, "w", 1,
		    msg_of(&m, &bad[i], 1), 100), 1);
	assert_int_equal(stats_heartbeat(st, "w", 1, msg_of(&m, good, 3),
	    100), 0);
	assert_int_equal(stats_heartbeat(st, "w", 1, msg_of(&m, back, 2),
	    200), 0);
	assert_int_equal(stats_heartbeat(st, "w", 1, msg_of(&m, again, 2),
	    300), 0);
	/* An identity longer than any worker's is not taken. */
	assert_int_equal(stats_heartbeat(st, ident, sizeof(ident),
	    msg_of(&m, good, 3), 300), 0);
	t = scrape(st);
	assert_null(strstr(t, "evil"));
	assert_null(strstr(t, "sync-1.5\\\""));
	assert_sample(t, "tokend_tokens_issued_total{service=\"sync-1.5\","
	    "format=\"tokenlib\"}", "9");
	assert_sample(t, "tokend_worker_jobs_total", "9");
	assert_sample(t, "tokend_metrics_heartbeat_fields_rejected_total",
	    "17");
	/* The refused "rejected" fields added nothing, not even a zero. */
	assert_null(strstr(t, "tokend_assertions_rejected_total{"));
	free(t);
	stats_free(st);
}

/* The front's own counts, with statuses outside the set as "other". */
static void
test_requests(void **state)
{
	struct stats	*st = new_stats();
	char		*t;

	stats_request(st, 0, 200, 0.0001);
	stats_request(st, 0, 401, 0.002);
	stats_request(st, 6, 418, 0.5);
	stats_request(st, 99, 200, 0.5);	/* no such endpoint: dropped */
	stats_restart(st, STATS_SIGNAL);
	stats_config_reload(st, 0);
	stats_queue_wait(st, 0.0003);
	t = scrape(st);
	assert_sample(t, "tokend_requests_total{endpoint=\"token\",status="
	    "\"200\"}", "1");
	assert_sample(t, "tokend_requests_total{endpoint=\"token\",status="
	    "\"401\"}", "1");
	assert_sample(t, "tokend_requests_total{endpoint=\"other\",status="
	    "\"other\"}", "1");
	assert_null(strstr(t, "status=\"404\""));
	assert_sample(t, "tokend_request_duration_seconds_bucket{endpoint="
	    "\"token\",le=\"0.00025\"}", "1");
	assert_sample(t, "tokend_request_duration_seconds_count{endpoint="
	    "\"token\"}", "2");
	assert_sample(t, "tokend_worker_restarts_total{cause=\"signal\"}",
	    "1");
	assert_sample(t, "tokend_worker_restarts_total{cause=\"crash\"}", "0");
	assert_sample(t, "tokend_config_reloads_total{result=\"error\"}", "1");
	assert_sample(t, "tokend_queue_wait_seconds_bucket{le=\"0.0005\"}",
	    "1");
	free(t);
	stats_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_gauge),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_families_refused),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_figures_round_trip),
		cmocka_unit_test(test_figures_health_only),
		cmocka_unit_test(test_figures_hostile),
		cmocka_unit_test(test_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
