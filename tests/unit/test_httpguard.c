/*
 * test_httpguard.c - strict request framing in front of libmicrohttpd
 * (src/http/httpguard.c).
 *
 * What the guard passes on must be exactly what the client sent, however
 * the bytes are split between reads; a refused head must become the
 * guard's own request, and nothing after it may pass.  The smuggling
 * cases are the ones found against the running daemon (issue 12): each
 * would otherwise let a body carry a second request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/httpguard.h"

#define MAX_HEAD	4608	/* connection_memory */
#define MAX_BODY	16384

static const char refusal[] = "GET " GUARD_PATH " HTTP/1.1\r\n"
    "Host: tokend\r\nConnection: close\r\n\r\n";

/* Feeds s in pieces of `step` bytes (0: all at once); returns the output. */
static char *
run(struct guard *g, const char *s, size_t len, size_t step, size_t *outlen)
{
	size_t	 off = 0, n;
	char	*out;

	guard_init(g, MAX_HEAD, MAX_BODY);
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		assert_int_equal(guard_feed(g, s + off, n), 0);
		off += n;
	}
	*outlen = guard_pending(g);
	out = malloc(*outlen + 1);
	assert_non_null(out);
	assert_int_equal(guard_take(g, out, *outlen), *outlen);
	out[*outlen] = '\0';
	return out;
}

/* s passes on unchanged in every split, as `heads` requests. */
static void
passes(const char *s, uint32_t heads)
{
	struct guard	 g;
	size_t		 step, n;
	char		*out;

	for (step = 0; step <= 7; step++) {
		out = run(&g, s, strlen(s), step, &n);
		assert_int_equal(n, strlen(s));
		assert_memory_equal(out, s, n);
		assert_int_equal(g.err, GUARD_OK);
		assert_int_equal(g.heads, heads);
		assert_int_equal(g.state, GS_HEAD);
		guard_free(&g);
		free(out);
	}
}

/* The head of s is refused with e: only the guard's request passes. */
static void
refused(const char *s, enum guard_err e)
{
	struct guard	 g;
	size_t		 step, n;
	char		*out;

	for (step = 0; step <= 3; step++) {
		out = run(&g, s, strlen(s), step, &n);
		assert_string_equal(out, refusal);
		assert_int_equal(g.err, e);
		assert_int_equal(g.bad, 1);
		assert_int_equal(g.heads, 1);
		assert_int_equal(g.state, GS_DEAD);
		guard_free(&g);
		free(out);
	}
}

#define POST	"POST /v1/token HTTP/1.1\r\nHost: x\r\n" \
		"Content-Type: application/json\r\n"
#define SECOND	"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n"

static void
test_valid_requests_pass_unchanged(void **state)
{
	passes("GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n", 1);
	passes("GET / HTTP/1.0\r\n\r\n", 1);
	passes(POST "Content-Length: 2\r\n\r\n{}", 1);
	passes(POST "Transfer-Encoding: chunked\r\n\r\n"
	    "2\r\n{}\r\n0\r\n\r\n", 1);
	passes(POST "transfer-encoding:  Chunked \r\n\r\n"
	    "1;ext=1\r\n{\r\n1 ; e\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n", 1);
	/* Pipelined: every request whole, in order. */
	passes(POST "Content-Length: 2\r\n\r\n{}" SECOND SECOND, 3);
	passes("GET /1.0/sync/1.5?x=%2F%20 HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer a.b.c\r\nX-Client-State: 0a\r\n"
	    "Obs-Text: caf\xc3\xa9\r\n\r\n", 1);
}

static void
test_empty_lines_before_a_request_are_dropped(void **state)
{
	struct guard	 g;
	size_t		 n;
	char		*out;

	out = run(&g, "\r\n\r\n" SECOND, strlen(SECOND) + 4, 1, &n);
	assert_string_equal(out, SECOND);
	guard_free(&g);
	free(out);
}

/* The three framings that smuggled a second request (issue 12). */
static void
test_smuggling_framings_are_refused(void **state)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), POST "Content-Length:\r\n %zu\r\n\r\n%s",
	    strlen(SECOND), SECOND);
	refused(buf, GUARD_CONTENT_LENGTH);
	snprintf(buf, sizeof(buf), POST "Content-Length: 0\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(SECOND), SECOND);
	refused(buf, GUARD_DUPLICATE);
	snprintf(buf, sizeof(buf), POST "Content-Length: %zu\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s",
	    strlen(SECOND) + 5, SECOND);
	refused(buf, GUARD_CL_AND_TE);
}

static void
test_malformed_heads_are_refused(void **state)
{
	struct guard	 g;
	size_t		 n;
	char		*out;

	/* Folding, anywhere. */
	refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
	    GUARD_FOLDED);
	refused("GET / HTTP/1.1\r\nHost: x\r\nAuthorization:\r\n\tBearer x"
	    "\r\n\r\n", GUARD_FOLDED);
	/* Line ends. */
	refused("GET / HTTP/1.1\nHost: x\n\n", GUARD_LINE_END);
	refused("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", GUARD_LINE_END);
	/* Control bytes, NUL included (fed by length), in a value. */
	out = run(&g, "GET / HTTP/1.1\r\nHost: x\r\nX-Client-State: ab\0nh"
	    "\r\n\r\n", 50, 0, &n);
	assert_string_equal(out, refusal);
	assert_int_equal(g.err, GUARD_CTL);
	guard_free(&g);
	free(out);
	out = run(&g, "GET /v1/token\0.css HTTP/1.1\r\nHost: x\r\n\r\n", 40,
	    0, &n);
	assert_string_equal(out, refusal);
	assert_int_equal(g.err, GUARD_TARGET);
	guard_free(&g);
	free(out);
	refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: \x1b[31m\r\n\r\n",
	    GUARD_CTL);
	/* Field syntax. */
	refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n", GUARD_HEADER);
	refused("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
	    GUARD_HEADER);
	/* Unique headers. */
	refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	    GUARD_DUPLICATE);
	refused("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\n"
	    "authorization: Bearer b\r\n\r\n", GUARD_DUPLICATE);
	refused("GET / HTTP/1.1\r\n\r\n", GUARD_NO_HOST);
	/* Content-Length spellings. */
	refused(POST "Content-Length: -1\r\n\r\n", GUARD_CONTENT_LENGTH);
	refused(POST "Content-Length: 0x10\r\n\r\n", GUARD_CONTENT_LENGTH);
	refused(POST "Content-Length: +5\r\n\r\n", GUARD_CONTENT_LENGTH);
	refused(POST "Content-Length: 5, 5\r\n\r\n", GUARD_CONTENT_LENGTH);
	refused(POST "Content-Length: 1234567890123456789\r\n\r\n",
	    GUARD_CONTENT_LENGTH);
	refused(POST "Content-Length: \r\n\r\n", GUARD_CONTENT_LENGTH);
	/* Transfer codings. */
	refused(POST "Transfer-Encoding: identity\r\n\r\n", GUARD_TE);
	refused(POST "Transfer-Encoding: gzip, chunked\r\n\r\n", GUARD_TE);
	refused(POST "Transfer-Encoding: xchunked\r\n\r\n", GUARD_TE);
	refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    GUARD_TE_HTTP10);
	/* Request line and version. */
	refused("GET / HTTP/1.2\r\nHost: x\r\n\r\n", GUARD_VERSION);
	refused("GET / HTTP/2.0\r\nHost: x\r\n\r\n", GUARD_VERSION);
	refused("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", GUARD_REQUEST_LINE);
	refused("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_TARGET);
	refused("GET /\r\n\r\n", GUARD_REQUEST_LINE);
	refused("G@T / HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_REQUEST_LINE);
}

/* Routing sees the raw path: nothing may decode into another route. */
static void
test_targets_that_route_two_ways_are_refused(void **state)
{
	refused("GET /v1%2Ftoken HTTP/1.1\r\nHost: x\r\n\r\n",
	    GUARD_TARGET_ENCODED);
	refused("GET /1.0/sync%2f1.5 HTTP/1.1\r\nHost: x\r\n\r\n",
	    GUARD_TARGET_ENCODED);
	refused("GET /v1/token%00.css HTTP/1.1\r\nHost: x\r\n\r\n",
	    GUARD_TARGET_ENCODED);
	refused("GET /a%0atokend HTTP/1.1\r\nHost: x\r\n\r\n",
	    GUARD_TARGET_ENCODED);
	refused("GET /a%5Cb HTTP/1.1\r\nHost: x\r\n\r\n",
	    GUARD_TARGET_ENCODED);
	refused("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_TARGET_ENCODED);
	refused("GET /a% HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_TARGET_ENCODED);
	refused("GET /a\\b HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_TARGET);
	refused("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_TARGET);
	refused("GET http://x/v1/token HTTP/1.1\r\nHost: x\r\n\r\n",
	    GUARD_TARGET);
	refused("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", GUARD_TARGET);
}

/* A head MHD's pool could not hold (measured: httpguard.h). */
static void
test_a_head_too_large_for_mhd_is_refused(void **state)
{
	char	s[MAX_HEAD + 64];
	size_t	n, fits;

	/* One long field: fits up to the pool less its reserve. */
	fits = MAX_HEAD - GUARD_POOL_RESERVE - 2 * GUARD_FIELD_COST;
	n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(s + n, 'a', fits - n - 4);
	memcpy(s + fits - 4, "\r\n\r\n", 5);
	passes(s, 1);
	memset(s + n, 'a', fits - n - 3);
	memcpy(s + fits - 3, "\r\n\r\n", 5);
	refused(s, GUARD_HEAD_TOO_LARGE);
	/* Past the pool itself: refused before the head ends. */
	memset(s + n, 'a', sizeof(s) - n - 1);
	s[sizeof(s) - 1] = '\0';
	refused(s, GUARD_HEAD_TOO_LARGE);
	/* Many short fields cost MHD more than their bytes. */
	n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: x\r\n");
	for (fits = 0; fits < 70; fits++)	/* 300 bytes, 71 fields */
		n += (size_t)snprintf(s + n, sizeof(s) - n, "a:\r\n");
	snprintf(s + n, sizeof(s) - n, "\r\n");
	refused(s, GUARD_HEAD_TOO_LARGE);
}

/* Nothing after a refused head is passed on, however much follows. */
static void
test_nothing_passes_after_a_refusal(void **state)
{
	struct guard	 g;
	size_t		 n;
	char		*out;
	const char	 s[] = "GET / HTTP/1.2\r\nHost: x\r\n\r\n" SECOND;

	out = run(&g, s, sizeof(s) - 1, 0, &n);
	assert_string_equal(out, refusal);
	assert_int_equal(guard_feed(&g, SECOND, strlen(SECOND)), 0);
	assert_int_equal(guard_pending(&g), 0);
	guard_free(&g);
	free(out);
}

/* A good request before a bad one passes; the bad one is the second. */
static void
test_refusal_follows_the_requests_before_it(void **state)
{
	struct guard	 g;
	size_t		 n;
	char		*out;
	char		 s[256];

	snprintf(s, sizeof(s), "%s%s", SECOND,
	    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
	out = run(&g, s, strlen(s), 0, &n);
	assert_int_equal(n, strlen(SECOND) + strlen(refusal));
	assert_memory_equal(out, SECOND, strlen(SECOND));
	assert_string_equal(out + strlen(SECOND), refusal);
	assert_int_equal(g.bad, 2);
	assert_int_equal(g.heads, 2);
	guard_free(&g);
	free(out);
}

static void
test_chunked_framing_errors_end_the_body(void **state)
{
	static const struct {
		const char	*body;
		const char	*passed;	/* what MHD gets of the body */
		enum guard_err	 e;
	} cases[] = {
		{ "zz\r\n", "0\r\n\r\n", GUARD_CHUNK },
		{ "2\n{}\r\n0\r\n\r\n", "0\r\n\r\n", GUARD_CHUNK },
		{ "2\r\n{}XX0\r\n\r\n", "2\r\n{}\r\n0\r\n\r\n", GUARD_CHUNK },
		{ "1\r\n{\r\n0\r\nBad Trailer\r\n\r\n", "1\r\n{\r\n0\r\n\r\n",
		    GUARD_HEADER },
		{ "1\r\n{\r\n0\r\nX: \x01\r\n\r\n", "1\r\n{\r\n0\r\n\r\n",
		    GUARD_CTL },
		{ "8000\r\n", "0\r\n\r\n", GUARD_BODY_TOO_LARGE },
		{ "4000\r\n", NULL, GUARD_BODY_TOO_LARGE },
		{ "1234567890abcdef0\r\n", "0\r\n\r\n", GUARD_CHUNK },
	};
	const char	*head = POST "Transfer-Encoding: chunked\r\n\r\n";
	struct guard	 g;
	char		 s[40000], *out, *fill;
	size_t		 i, n, hl = strlen(head);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].passed == NULL) {
			/* 0x4000 bytes, then 0x4000 more: past MAX_BODY. */
			fill = malloc(0x4000);
			assert_non_null(fill);
			memset(fill, 'a', 0x4000);
			n = (size_t)snprintf(s, sizeof(s), "%s4000\r\n", head);
			memcpy(s + n, fill, 0x4000);
			n += 0x4000;
			n += (size_t)snprintf(s + n, sizeof(s) - n,
			    "\r\n4000\r\n");
			free(fill);
			out = run(&g, s, n, 1000, &n);
			assert_memory_equal(out + n - 7, "\r\n0\r\n\r\n", 7);
		} else {
			snprintf(s, sizeof(s), "%s%s", head, cases[i].body);
			out = run(&g, s, strlen(s), 0, &n);
			assert_int_equal(n, hl + strlen(cases[i].passed));
			assert_string_equal(out + hl, cases[i].passed);
		}
		assert_int_equal(g.err, cases[i].e);
		assert_int_equal(g.bad, 1);
		assert_int_equal(g.state, GS_DEAD);
		guard_free(&g);
		free(out);
	}
}

/*
 * A client that closes with a request unfinished: MHD must not wait for
 * the rest (it would hold the connection until idle_timeout).
 */
static void
test_eof_drops_an_unfinished_request(void **state)
{
	struct guard	 g;
	char		 buf[256];
	const char	*part = POST "Content-Length: 100\r\n\r\n{\"a\"";

	/* Not taken yet: the whole unfinished request is dropped. */
	guard_init(&g, MAX_HEAD, MAX_BODY);
	assert_int_equal(guard_feed(&g, SECOND, strlen(SECOND)), 0);
	assert_int_equal(guard_feed(&g, part, strlen(part)), 0);
	guard_eof(&g);
	assert_int_equal(guard_pending(&g), strlen(SECOND));
	assert_int_equal(guard_take(&g, buf, sizeof(buf)), strlen(SECOND));
	assert_true(g.peer_closed);
	assert_int_equal(g.state, GS_DEAD);
	guard_free(&g);

	/* Half taken: the rest is dropped, so MHD reads the end at once. */
	guard_init(&g, MAX_HEAD, MAX_BODY);
	assert_int_equal(guard_feed(&g, part, strlen(part)), 0);
	assert_int_equal(guard_take(&g, buf, 10), 10);
	guard_eof(&g);
	assert_int_equal(guard_pending(&g), 0);
	guard_free(&g);

	/* A head that never finished is never passed on. */
	guard_init(&g, MAX_HEAD, MAX_BODY);
	assert_int_equal(guard_feed(&g, "GET / HTTP/1.1\r\nHo", 18), 0);
	assert_int_equal(guard_pending(&g), 0);
	guard_eof(&g);
	assert_int_equal(guard_pending(&g), 0);
	guard_free(&g);
}

/* Random bytes never crash it, and what passes is always framed. */
static void
test_random_input_is_bounded(void **state)
{
	struct guard	 g;
	char		 buf[512], *out;
	size_t		 i, j, len, n;
	unsigned	 seed = 12345;
	static const char alphabet[] = "GET /HTP1.\r\n :aA0%2Fchunked\0\t";

	for (i = 0; i < 20000; i++) {
		len = (size_t)(rand_r(&seed) % sizeof(buf));
		for (j = 0; j < len; j++)
			buf[j] = alphabet[rand_r(&seed) %
			    (sizeof(alphabet) - 1)];
		out = run(&g, buf, len, (size_t)(rand_r(&seed) % 9), &n);
		assert_true(n <= len + sizeof(refusal));
		assert_true(g.line_len <= MAX_HEAD);
		guard_free(&g);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests_pass_unchanged),
		cmocka_unit_test(test_empty_lines_before_a_request_are_dropped),
		cmocka_unit_test(test_smuggling_framings_are_refused),
		cmocka_unit_test(test_malformed_heads_are_refused),
		cmocka_unit_test(test_targets_that_route_two_ways_are_refused),
		cmocka_unit_test(test_a_head_too_large_for_mhd_is_refused),
		cmocka_unit_test(test_nothing_passes_after_a_refusal),
		cmocka_unit_test(test_refusal_follows_the_requests_before_it),
		cmocka_unit_test(test_chunked_framing_errors_end_the_body),
		cmocka_unit_test(test_eof_drops_an_unfinished_request),
		cmocka_unit_test(test_random_input_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
