/*
 * fuzz_httpguard.c - libFuzzer harness of the strict HTTP framing in
 * front of libmicrohttpd (src/http/httpguard.c).
 *
 * Every byte a client sends goes through the guard, however recv() split
 * it, so the harness feeds the input the way a hostile client would: in
 * pieces whose sizes, and the reads that MHD makes between them, are drawn
 * from the input itself.  It checks what the guard promises (httpguard.h):
 *
 *   - the output never exceeds the input plus the guard's own refusal
 *     request, and nothing passes once the guard is GS_DEAD;
 *   - the split does not matter: fed in one piece or in many, the same
 *     bytes pass (a closed connection only drops an unfinished request);
 *   - what passes is framed beyond doubt: a second guard fed the output
 *     byte by byte passes it unchanged, refuses nothing, and sees every
 *     request head end exactly at a CRLF CRLF.
 *
 * Input: 4 bytes of settings (max_head, max_body, the seed of the
 * splits, whether the client closes at the end), then the client's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/httpguard.h"

#include "../fuzz.h"

#define SETTINGS	4
#define PIECE_MAX	64	/* a read's size, beyond one drawn at random */

/* The request the guard passes in place of a refused one (httpguard.c). */
#define REFUSAL		"GET " GUARD_PATH " HTTP/1.1\r\n" \
			"Host: tokend\r\nConnection: close\r\n\r\n"

/* What the guard handed to "MHD", with room for all it may ever pass. */
struct sink {
	char	*buf;
	size_t	 len, cap;
};

/* The splits: xorshift32 seeded from the input, never from the clock. */
static uint32_t
next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Takes up to n of the guard's pending bytes into the sink. */
static void
take(struct guard *g, struct sink *s, size_t n)
{
	size_t	pending = guard_pending(g);

	FUZZ_CHECK(pending <= s->cap - s->len);
	if (n > pending)
		n = pending;
	FUZZ_CHECK(guard_take(g, s->buf + s->len, n) == n);
	s->len += n;
}

/*
 * One feed; the guard may pass nothing new once it is dead, and a head it
 * counts after that would be one it let through.
 */
static void
feed(struct guard *g, const char *p, size_t n)
{
	int		dead = g->state == GS_DEAD;
	size_t		pending = guard_pending(g);
	uint32_t	heads = g->heads;

	FUZZ_CHECK(guard_feed(g, p, n) == 0);
	if (dead)
		FUZZ_CHECK(guard_pending(g) == pending && g->heads == heads);
}

static int
ends_with(const struct sink *s, const char *tail, size_t n)
{
	return s->len >= n && memcmp(s->buf + s->len - n, tail, n) == 0;
}

/*
 * A refused guard names the request that carries its error, the last one
 * passed: the guard's own request for a head, or the one whose chunked
 * body it ended early (reframe() checks that ending is well framed).
 */
static void
check_dead_end(const struct guard *g, const struct sink *s)
{
	if (g->state != GS_DEAD || g->peer_closed)
		return;
	FUZZ_CHECK(g->err != GUARD_OK && g->bad == g->heads);
	FUZZ_CHECK(ends_with(s, "\r\n\r\n", 4));
}

/* The input fed in one piece, taken once: the reference output. */
static void
whole(const char *in, size_t n, size_t max_head, size_t max_body,
    struct sink *out, struct guard *g)
{
	guard_init(g, max_head, max_body);
	feed(g, in, n);
	take(g, out, SIZE_MAX);
	check_dead_end(g, out);
}

/* The input fed in drawn pieces, with drawn reads between them. */
static void
split(const char *in, size_t n, size_t max_head, size_t max_body,
    uint32_t seed, int eof, struct sink *out, struct guard *g)
{
	size_t		off = 0, piece;
	uint32_t	r;

	guard_init(g, max_head, max_body);
	while (off < n) {
		r = next(&seed);
		piece = r % 8 == 0 ? n - off : 1 + (r >> 8) % PIECE_MAX;
		if (piece > n - off)
			piece = n - off;
		feed(g, in + off, piece);
		off += piece;
		r = next(&seed);
		take(g, out, r % 4 == 0 ? 0 : r % 4 == 1 ? 1 + (r >> 8) % 512 :
		    SIZE_MAX);
	}
	if (eof) {
		guard_eof(g);
		FUZZ_CHECK(g->state == GS_DEAD && !g->in_request);
	}
	take(g, out, SIZE_MAX);
}

/*
 * What passed is framed beyond doubt: a second guard with the same
 * limits, fed it byte by byte, refuses nothing and passes it unchanged
 * but for what it still holds (an unfinished line), and each head it
 * counts ends at the CRLF CRLF just fed.  When the first guard stopped
 * between requests (or refused), the output ends with a whole request,
 * and heads (unless UINT32_MAX) is how many it holds.
 */
static void
reframe(const struct sink *s, size_t max_head, size_t max_body,
    uint32_t heads, int whole)
{
	struct guard	g;
	struct sink	out;
	size_t		i;
	uint32_t	seen = 0;

	out.cap = s->len;
	out.len = 0;
	if ((out.buf = malloc(out.cap + 1)) == NULL)
		abort();
	guard_init(&g, max_head, max_body);
	for (i = 0; i < s->len; i++) {
		feed(&g, s->buf + i, 1);
		if (g.heads != seen) {
			FUZZ_CHECK(g.heads == seen + 1 && i >= 3 &&
			    memcmp(s->buf + i - 3, "\r\n\r\n", 4) == 0);
			seen = g.heads;
		}
	}
	take(&g, &out, SIZE_MAX);
	FUZZ_CHECK(g.err == GUARD_OK && g.state != GS_DEAD);
	FUZZ_CHECK(out.len + g.line_len == s->len);
	FUZZ_CHECK(memcmp(out.buf, s->buf, out.len) == 0);
	FUZZ_CHECK(g.line_len == 0 ||
	    memcmp(g.line, s->buf + out.len, g.line_len) == 0);
	if (heads != UINT32_MAX)
		FUZZ_CHECK(g.heads == heads);
	if (whole)
		FUZZ_CHECK(g.state == GS_HEAD && g.line_len == 0 &&
		    !g.in_request);
	guard_free(&g);
	free(out.buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guard	 g0, g1;
	struct sink	 s0, s1;
	const char	*in = (const char *)data + SETTINGS;
	size_t		 n, max_head, max_body;
	uint32_t	 seed;
	int		 eof;

	if (size < SETTINGS)
		return 0;
	n = size - SETTINGS;
	/* Within config.c's bounds of connection_memory and max_body. */
	max_head = data[0] < 64 ? 4608 : 4096 + (size_t)(data[0] - 64) * 20;
	max_body = data[1] < 128 ? 16384 : 256 + (size_t)(data[1] - 128) * 4;
	seed = (uint32_t)data[2] << 8 | data[3] | 0x10000;
	eof = data[3] & 1;

	s0.cap = s1.cap = n + sizeof(REFUSAL) - 1;
	s0.len = s1.len = 0;
	s0.buf = malloc(s0.cap + 1);
	s1.buf = malloc(s1.cap + 1);
	if (s0.buf == NULL || s1.buf == NULL)
		abort();

	whole(in, n, max_head, max_body, &s0, &g0);
	split(in, n, max_head, max_body, seed, eof, &s1, &g1);
	if (eof)
		/* Closing only drops the unfinished request, if any. */
		FUZZ_CHECK(s1.len <= s0.len &&
		    memcmp(s1.buf, s0.buf, s1.len) == 0);
	else {
		FUZZ_CHECK(s1.len == s0.len &&
		    memcmp(s1.buf, s0.buf, s1.len) == 0);
		FUZZ_CHECK(g1.heads == g0.heads && g1.err == g0.err &&
		    g1.state == g0.state && g1.bad == g0.bad);
	}
	reframe(&s1, max_head, max_body, eof ? UINT32_MAX : g1.heads,
	    !eof && (g1.state == GS_DEAD ||
	    (g1.state == GS_HEAD && g1.line_len == 0)));

	guard_free(&g0);
	guard_free(&g1);
	free(s0.buf);
	free(s1.buf);
	return 0;
}
