/*
 * test_status.c - tokenctl status's reading of a metrics endpoint
 * (src/tools/promtext.c, src/tools/status.c), on saved texts.
 *
 * The parser must read what a Prometheus client library writes (HELP and
 * TYPE lines, escaped label values, +Inf buckets, NaN, timestamps) and
 * refuse whole anything else (an HTML page, JSON, a cut line, garbage),
 * within its bounds.  The summary must turn two reads into the figures an
 * operator reads: rates by status, quantiles from the histogram's bucket
 * differences, the top rejection reasons, and the verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/promtext.h"
#include "tools/status.h"

/* What tokend's endpoint says (docs/metrics.md), at two moments. */
static const char BEFORE[] =
    "# HELP tokend_requests_total Requests answered, by endpoint and "
    "status.\n"
    "# TYPE tokend_requests_total counter\n"
    "tokend_requests_total{endpoint=\"token\",status=\"200\"} 1000\n"
    "tokend_requests_total{endpoint=\"token\",status=\"401\"} 10\n"
    "tokend_requests_total{endpoint=\"mozilla\",status=\"200\"} 5\n"
    "# TYPE tokend_request_duration_seconds histogram\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"0.001\"} 500\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"0.005\"} 900\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"0.01\"} 1000\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"+Inf\"} 1010\n"
    "tokend_request_duration_seconds_sum{endpoint=\"token\"} 2.5\n"
    "tokend_request_duration_seconds_count{endpoint=\"token\"} 1010\n"
    "# TYPE tokend_queue_length gauge\n"
    "tokend_queue_length 0\n"
    "# TYPE tokend_workers gauge\n"
    "tokend_workers{state=\"idle\",kind=\"local\"} 2\n"
    "tokend_workers{state=\"busy\",kind=\"local\"} 0\n"
    "tokend_workers{state=\"lost\",kind=\"local\"} 0\n"
    "# TYPE tokend_assertions_rejected_total counter\n"
    "tokend_assertions_rejected_total{reason=\"expired\"} 4\n"
    "tokend_assertions_rejected_total{reason=\"bad-signature\"} 6\n"
    "# TYPE tokend_worker_restarts_total counter\n"
    "tokend_worker_restarts_total{cause=\"crash\"} 1\n";

/* One second later: 100 more 200s, 20 401s (5 expired, 12 bad-signature,
 * 3 unknown-kid), 80 503s; the token endpoint's buckets grow by 50, 40, 10
 * and 0 past 10 ms (the 503s are another endpoint's); 1000 load balancer
 * probes, fast, are no token requests and leave the quantiles alone. */
static const char AFTER[] =
    "tokend_requests_total{endpoint=\"token\",status=\"200\"} 1100\n"
    "tokend_requests_total{endpoint=\"token\",status=\"401\"} 30\n"
    "tokend_requests_total{endpoint=\"mozilla\",status=\"200\"} 5\n"
    "tokend_requests_total{endpoint=\"oauth\",status=\"503\"} 80\n"
    "tokend_requests_total{endpoint=\"lbheartbeat\",status=\"200\"} 0\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"0.001\"} 550\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"0.005\"} 990\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"0.01\"} 1100\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"token\","
    "le=\"+Inf\"} 1110\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"lbheartbeat\","
    "le=\"0.00025\"} 1000\n"
    "tokend_request_duration_seconds_bucket{endpoint=\"lbheartbeat\","
    "le=\"+Inf\"} 1000\n"
    "tokend_queue_length 7\n"
    "tokend_workers{state=\"idle\",kind=\"local\"} 1\n"
    "tokend_workers{state=\"busy\",kind=\"local\"} 1\n"
    "tokend_workers{state=\"lost\",kind=\"local\"} 0\n"
    "tokend_assertions_rejected_total{reason=\"expired\"} 9\n"
    "tokend_assertions_rejected_total{reason=\"bad-signature\"} 18\n"
    "tokend_assertions_rejected_total{reason=\"unknown-kid\"} 3\n"
    "tokend_worker_restarts_total{cause=\"crash\"} 1\n";

static void
parse_ok(struct prom_set *set, const char *text)
{
	char	err[256] = "";

	memset(set, 0, sizeof(*set));
	if (prom_parse(set, text, strlen(text), err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
}

/* Refused, with the reason naming the line; returns the reason. */
static const char *
parse_refused(const char *text, size_t len)
{
	static char	 err[256];
	struct prom_set	 set = { 0 };

	err[0] = '\0';
	assert_int_equal(prom_parse(&set, text, len, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	prom_free(&set);
	return err;
}

static void
test_parse_client_library_output(void **state)
{
	struct prom_set	 set;
	int		 found;
	const char	 text[] =
	    "# HELP x_total A \"quoted\" help \\\\ line.\n"
	    "# TYPE x_total counter\n"
	    "x_total{a=\"q\\\"uote\",b=\"back\\\\slash\",c=\"new\\nline\",} "
	    "3 1700000000000\r\n"
	    "\n"
	    "  # indented comment\n"
	    "up 1\n"
	    "ns:rule_name{le=\"+Inf\"} +Inf\n"
	    "nan_gauge NaN\n"
	    "neg -1.5e-3\n"
	    "empty{} 2\n";

	parse_ok(&set, text);
	assert_int_equal(set.n, 6);
	assert_string_equal(set.s[0].name, "x_total");
	assert_string_equal(prom_label(&set.s[0], "a"), "q\"uote");
	assert_string_equal(prom_label(&set.s[0], "b"), "back\\slash");
	assert_string_equal(prom_label(&set.s[0], "c"), "new\nline");
	assert_null(prom_label(&set.s[0], "d"));
	assert_true(set.s[0].value == 3);
	assert_true(isinf(set.s[2].value) && set.s[2].value > 0);
	assert_true(isnan(set.s[3].value));
	assert_true(set.s[4].value == -1.5e-3);
	assert_int_equal(set.s[5].nlabels, 0);
	assert_true(prom_sum(&set, "up", NULL, NULL, &found) == 1 && found);
	/* NaN is no number to add. */
	assert_true(prom_sum(&set, "nan_gauge", NULL, NULL, &found) == 0);
	prom_free(&set);
}

static void
test_parse_refuses_what_is_not_the_format(void **state)
{
	static const char *const bad[] = {
		"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n",
		"{\"status\": \"ok\"}\n",
		"up\n",					/* no value */
		"up 1 2 3\n",				/* two timestamps */
		"up one\n",
		"up inf\n",				/* strtod's, not ours */
		"up 0x10\n",
		"up nan\n",
		"9up 1\n",
		"up{a=\"b\" 1\n",			/* unterminated set */
		"up{a=\"b} 1\n",			/* unterminated value */
		"up{a=b} 1\n",
		"up{a=\"\\t\"} 1\n",			/* bad escape */
		"up{a=\"1\",a=\"2\"} 1\n",		/* label twice */
		"up{a:b=\"1\"} 1\n",			/* ':' in a label */
		"up{=\"1\"} 1\n",
		"up{a=\"1\"}1\n",			/* no space */
		"up 1e999\n",				/* out of range */
		"up 1 12x\n",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(strstr(parse_refused(bad[i], strlen(bad[i])),
		    "line 1: "));
	/* A NUL inside a line, and the line number of a later fault. */
	assert_non_null(strstr(parse_refused("up 1\nup\0 1\n", 11),
	    "line 2: NUL"));
}

static void
test_parse_bounds(void **state)
{
	char	*big;
	size_t	 i, n;

	/* A label value over PROM_MAX_VALUE. */
	big = malloc(PROM_MAX_VALUE + 64);
	n = (size_t)sprintf(big, "up{a=\"");
	memset(big + n, 'x', PROM_MAX_VALUE + 1);
	n += PROM_MAX_VALUE + 1;
	n += (size_t)sprintf(big + n, "\"} 1\n");
	assert_non_null(strstr(parse_refused(big, n), "longer than"));
	free(big);
	/* More labels than PROM_MAX_LABELS. */
	big = malloc(4096);
	n = (size_t)sprintf(big, "up{");
	for (i = 0; i <= PROM_MAX_LABELS; i++)
		n += (size_t)sprintf(big + n, "l%zu=\"v\",", i);
	n += (size_t)sprintf(big + n, "} 1\n");
	assert_non_null(strstr(parse_refused(big, n), "labels"));
	free(big);
	/* More samples than PROM_MAX_SAMPLES. */
	n = (size_t)(PROM_MAX_SAMPLES + 1) * 4;
	big = malloc(n);
	for (i = 0; i < n; i += 4)
		memcpy(big + i, "u 1\n", 4);
	assert_non_null(strstr(parse_refused(big, n), "samples"));
	free(big);
	/* A text over PROM_MAX_BYTES, refused before reading. */
	assert_non_null(strstr(parse_refused("", (size_t)PROM_MAX_BYTES + 1),
	    "longer than"));
}

/* Random bytes and mutated samples: refused or read, never a fault. */
static void
test_parse_garbage(void **state)
{
	char		 buf[512];
	char		 err[256];
	struct prom_set	 set;
	unsigned	 seed = 17;
	size_t		 i, j, len;

	for (i = 0; i < 20000; i++) {
		len = (size_t)(rand_r(&seed) % sizeof(buf));
		if (i % 2) {
			for (j = 0; j < len; j++)
				buf[j] = (char)rand_r(&seed);
		} else {
			len = strlen(BEFORE) < sizeof(buf) ? strlen(BEFORE) :
			    sizeof(buf);
			memcpy(buf, BEFORE, len);
			for (j = 0; j < 4; j++)
				buf[rand_r(&seed) % len] = "{}\"\\=, \n\0x9+"
				    [rand_r(&seed) % 13];
		}
		memset(&set, 0, sizeof(set));
		(void)prom_parse(&set, buf, len, err, sizeof(err));
		prom_free(&set);
	}
}

static void
summarize(const char *before, const char *after, double max_5xx,
    struct status_report *r)
{
	struct prom_set	a, b;
	char		err[256];

	parse_ok(&a, before);
	parse_ok(&b, after);
	if (status_summarize(&a, &b, 1.0, max_5xx, r, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	prom_free(&a);
	prom_free(&b);
}

static void
test_summary_of_a_window(void **state)
{
	struct status_report	r;

	summarize(BEFORE, AFTER, 50, &r);
	assert_true(r.idle == 1 && r.busy == 1 && r.lost == 0);
	assert_true(r.queue == 7);
	assert_true(r.rate == 200);
	assert_int_equal(r.ncodes, 3);
	assert_string_equal(r.codes[0].code, "200");
	assert_true(r.codes[0].rate == 100);
	assert_string_equal(r.codes[1].code, "401");
	assert_true(r.codes[1].rate == 20);
	assert_string_equal(r.codes[2].code, "503");
	assert_true(r.codes[2].rate == 80);
	assert_true(r.share_5xx == 40);
	/* 100 in the window: 50 under 1 ms, 90 under 5 ms, 100 under 10. */
	assert_true(fabs(r.p50 - 0.001) < 1e-12);
	assert_true(fabs(r.p99 - 0.0095) < 1e-12);
	assert_int_equal(r.ntop, 3);
	assert_string_equal(r.top[0].reason, "bad-signature");
	assert_true(r.top[0].count == 12);
	assert_string_equal(r.top[1].reason, "expired");
	assert_string_equal(r.top[2].reason, "unknown-kid");
	assert_true(r.restarts == 0);
	assert_int_equal(r.verdict, STATUS_HEALTHY);
}

static void
test_verdicts(void **state)
{
	struct status_report	r;

	/* 40% 5xx is over the default 5%. */
	summarize(BEFORE, AFTER, 5, &r);
	assert_int_equal(r.verdict, STATUS_DEGRADED);
	assert_non_null(strstr(r.why, "40.0% of requests answered 5xx"));
	/* Every worker lost: none idle or busy, and lost ones. */
	summarize(BEFORE, "tokend_workers{state=\"idle\",kind=\"local\"} 0\n"
	    "tokend_workers{state=\"busy\",kind=\"local\"} 0\n"
	    "tokend_workers{state=\"lost\",kind=\"local\"} 2\n", 5, &r);
	assert_int_equal(r.verdict, STATUS_DEGRADED);
	assert_string_equal(r.why, "no worker idle or busy; 2 workers lost");
	/* Quiet and whole: healthy, with no latency to tell. */
	summarize(BEFORE, BEFORE, 5, &r);
	assert_int_equal(r.verdict, STATUS_HEALTHY);
	assert_true(r.rate == 0 && isnan(r.p50) && isnan(r.p99));
	assert_int_equal(r.ntop, 0);
	/* The rejections since the start, for a window that saw none. */
	assert_int_equal(r.nsince, 2);
	assert_string_equal(r.since[0].reason, "bad-signature");
	assert_true(r.since[0].count == 6);
	assert_string_equal(r.since[1].reason, "expired");
}

/* A restart between the reads: counters start again from 0. */
static void
test_counter_reset(void **state)
{
	struct status_report	r;

	summarize(AFTER, "tokend_workers{state=\"idle\",kind=\"local\"} 2\n"
	    "tokend_requests_total{endpoint=\"token\",status=\"200\"} 3\n"
	    "tokend_worker_restarts_total{cause=\"crash\"} 0\n"
	    "tokend_worker_restarts_total{cause=\"signal\"} 1\n", 5, &r);
	assert_true(r.rate == 3);
	assert_true(r.restarts == 1);
}

static void
test_not_tokend_metrics(void **state)
{
	struct prom_set		a, b;
	struct status_report	r;
	char			err[256] = "";

	parse_ok(&a, "up 1\n");
	parse_ok(&b, "up 1\n");
	assert_int_equal(status_summarize(&a, &b, 1, 5, &r, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "tokend_workers"));
	prom_free(&a);
	prom_free(&b);
}

static void
test_print(void **state)
{
	struct status_report	r;
	char			out[2048];
	FILE			*f;
	size_t			n;

	summarize(BEFORE, AFTER, 5, &r);
	f = fmemopen(out, sizeof(out) - 1, "w");
	status_print(f, "http://x/metrics", &r);
	n = (size_t)ftell(f);
	fclose(f);
	out[n] = '\0';
	assert_non_null(strstr(out, "workers:   1 idle, 1 busy, 0 lost\n"));
	assert_non_null(strstr(out, "queue:     7\n"));
	assert_non_null(strstr(out, "requests:  200.0/s (200 100.0/s, "
	    "401 20.0/s, 503 80.0/s)\n"));
	assert_non_null(strstr(out, "latency:   p50 1.00 ms, p99 9.50 ms\n"));
	assert_non_null(strstr(out, "rejected:  bad-signature 12, expired 5, "
	    "unknown-kid 3\n"));
	assert_non_null(strstr(out, "status:    degraded: 40.0% of requests "
	    "answered 5xx (more than 5%)\n"));
	/* A quiet window: no rate of 0 listed; the reasons since start. */
	summarize(BEFORE, BEFORE, 5, &r);
	f = fmemopen(out, sizeof(out) - 1, "w");
	status_print(f, "http://x/metrics", &r);
	n = (size_t)ftell(f);
	fclose(f);
	out[n] = '\0';
	assert_non_null(strstr(out, "requests:  0.0/s\n"));
	assert_non_null(strstr(out, "latency:   p50 -, p99 -\n"));
	assert_non_null(strstr(out, "rejected:  none in the window (since the "
	    "start: bad-signature 6, expired 4)\n"));
	assert_non_null(strstr(out, "status:    healthy\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_client_library_output),
		cmocka_unit_test(test_parse_refuses_what_is_not_the_format),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_summary_of_a_window),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_counter_reset),
		cmocka_unit_test(test_not_tokend_metrics),
		cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
