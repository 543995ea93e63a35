/*
 * httpguard.c - strict HTTP/1.1 request framing (RFC 9112), byte by byte.
 *
 * httpguard.h says why this exists.  The guard is a small state machine
 * fed with whatever recv() returned: a head is gathered until its empty
 * line and checked whole (check_head), a Content-Length body is counted
 * through, a chunked body is followed chunk by chunk.  What was checked
 * goes to an output buffer that MHD reads from; nothing MHD reads was not
 * framed here first.  Memory per connection is the struct alone between
 * requests: the head buffer and the output are freed once empty, so ten
 * thousand idle keep-alive connections cost no buffers.
 */
#include "http/httpguard.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_LINE_MAX	128	/* chunk-size and extensions */
#define CL_DIGITS_MAX	18	/* < 2^62: no overflow, any real body */

/* What a passed request looks like to MHD in place of a refused one. */
static const char	 refusal[] = "GET " GUARD_PATH " HTTP/1.1\r\n"
			    "Host: tokend\r\nConnection: close\r\n\r\n";

static const struct guard_problem problems[GUARD_NERR] = {
	[GUARD_OK] = { "ok", 200, "", "", "" },
	[GUARD_LINE_END] = { "line-end", 400, "header", "request",
	    "every line of the request head must end with CRLF" },
	[GUARD_FOLDED] = { "folded-header", 400, "header", "request",
	    "folded header lines (obs-fold) are not accepted" },
	[GUARD_CTL] = { "control-byte", 400, "header", "request",
	    "a header value holds a NUL or another control byte" },
	[GUARD_REQUEST_LINE] = { "request-line", 400, "url", "request",
	    "the request line must be METHOD SP path SP HTTP/1.1" },
	[GUARD_TARGET] = { "bad-target", 400, "url", "path",
	    "the request target must be a path of visible ASCII, "
	    "without '\\' or '#'" },
	[GUARD_TARGET_ENCODED] = { "encoded-target", 400, "url", "path",
	    "the path holds an encoded slash, backslash, NUL or control "
	    "byte, or a malformed percent escape" },
	[GUARD_VERSION] = { "http-version", 505, "url", "version",
	    "only HTTP/1.0 and HTTP/1.1 are served" },
	[GUARD_HEADER] = { "header-syntax", 400, "header", "request",
	    "a header line must be name: value, with no space before "
	    "the colon" },
	[GUARD_DUPLICATE] = { "duplicate-header", 400, "header", "request",
	    "a header that must be unique was sent more than once" },
	[GUARD_NO_HOST] = { "no-host", 400, "header", "Host",
	    "an HTTP/1.1 request must have a Host header" },
	[GUARD_CONTENT_LENGTH] = { "content-length", 400, "header", "Content-Length",
	    "Content-Length must be decimal digits and nothing else" },
	[GUARD_CL_AND_TE] = { "length-and-chunked", 400, "header", "Transfer-Encoding",
	    "Content-Length and Transfer-Encoding must not come together" },
	[GUARD_TE] = { "transfer-coding", 501, "header", "Transfer-Encoding",
	    "the only transfer coding served is chunked" },
	[GUARD_TE_HTTP10] = { "transfer-coding-http10", 400, "header", "Transfer-Encoding",
	    "Transfer-Encoding is not allowed in an HTTP/1.0 request" },
	[GUARD_CHUNK] = { "chunked-framing", 400, "body", "body",
	    "the chunked body is malformed" },
	[GUARD_HEAD_TOO_LARGE] = { "head-too-large", 431, "header", "request",
	    "the request head is larger than the server accepts "
	    "(connection_memory)" },
	[GUARD_BODY_TOO_LARGE] = { "body-too-large", 413, "body", "body",
	    "the chunked request body is larger than max_body" },
};

/* Headers that frame or identify a request: a second one is refused. */
static const char *const unique_headers[] = {
	"Content-Length", "Transfer-Encoding", "Host", "Authorization",
	"Content-Type", "X-Client-State", "X-KeyID",
};
#define NUNIQUE (sizeof(unique_headers) / sizeof(unique_headers[0]))

/* What check_head() learns of a head. */
struct head_facts {
	int		 http11;
	int		 host;
	int		 chunked;
	int		 has_length;
	uint64_t	 length;
	unsigned	 seen;		/* bit i: unique_headers[i] was sent */
	size_t		 fields;
	const char	*dup;		/* the header sent twice */
};

const struct guard_problem *
guard_problem(enum guard_err e)
{
	return &problems[e < GUARD_NERR ? e : GUARD_REQUEST_LINE];
}

void
guard_init(struct guard *g, size_t max_head, size_t max_body)
{
	memset(g, 0, sizeof(*g));
	g->state = GS_HEAD;
	g->max_head = max_head;
	g->max_body = max_body;
}

static void
line_reset(struct guard *g)
{
	free(g->line);
	g->line = NULL;
	g->line_len = g->line_cap = 0;
}

void
guard_free(struct guard *g)
{
	line_reset(g);
	free(g->out);
	g->out = NULL;
	g->out_len = g->out_off = g->out_cap = 0;
}

/* ---- buffers ---------------------------------------------------------- */

static int
grow(char **buf, size_t *cap, size_t need)
{
	size_t	 c = *cap ? *cap : 512;
	char	*p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((p = realloc(*buf, c)) == NULL)
		return -1;
	*buf = p;
	*cap = c;
	return 0;
}

static int
out_put(struct guard *g, const char *p, size_t n)
{
	if (grow(&g->out, &g->out_cap, g->out_len + n) == -1)
		return -1;
	memcpy(g->out + g->out_len, p, n);
	g->out_len += n;
	return 0;
}

static int
line_put(struct guard *g, const char *p, size_t n)
{
	if (grow(&g->line, &g->line_cap, g->line_len + n) == -1)
		return -1;
	memcpy(g->line + g->line_len, p, n);
	g->line_len += n;
	return 0;
}

size_t
guard_pending(const struct guard *g)
{
	return g->out_len - g->out_off;
}

size_t
guard_take(struct guard *g, char *buf, size_t n)
{
	size_t	k = guard_pending(g);

	if (k > n)
		k = n;
	if (k == 0)
		return 0;
	memcpy(buf, g->out + g->out_off, k);
	g->out_off += k;
	if (g->out_off > g->out_mark)
		g->mark_valid = 0;	/* MHD has part of this request */
	if (g->out_off == g->out_len) {
		free(g->out);
		g->out = NULL;
		g->out_len = g->out_off = g->out_cap = 0;
		g->out_mark = 0;
		g->mark_valid = 0;
	}
	return k;
}

/* ---- refusing --------------------------------------------------------- */

/* A head is refused: MHD gets the guard's request in its place. */
static int
refuse_head(struct guard *g, enum guard_err e)
{
	line_reset(g);
	g->state = GS_DEAD;
	g->err = e;
	if (out_put(g, refusal, sizeof(refusal) - 1) == -1)
		return -1;
	g->bad = ++g->heads;
	g->in_request = 0;
	return 0;
}

/*
 * A chunked body is refused where it stands (always at a line boundary):
 * MHD gets the rest of a well-framed empty ending, and the request
 * already passed on carries the error.
 */
static int
refuse_body(struct guard *g, enum guard_err e)
{
	const char	*end;

	switch (g->state) {
	case GS_CHUNK_END:
		end = "\r\n0\r\n\r\n";
		break;
	case GS_TRAILER:
		end = "\r\n";
		break;
	default:
		end = "0\r\n\r\n";
		break;
	}
	line_reset(g);
	g->state = GS_DEAD;
	g->err = e;
	g->bad = g->heads;
	g->in_request = 0;
	return out_put(g, end, strlen(end));
}

/* ---- checking a head -------------------------------------------------- */

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * An origin-form target (RFC 9112 3.2.1) that routes the same however a
 * proxy decodes it: visible ASCII only, no '\' or '#', every '%' a whole
 * escape, and none that decodes to a control byte, or to a slash or
 * backslash inside the path.
 */
static enum guard_err
check_target(const unsigned char *t, size_t n)
{
	size_t	i;
	int	in_query = 0, v;

	if (n == 0 || t[0] != '/')
		return GUARD_TARGET;
	for (i = 0; i < n; i++) {
		if (t[i] < 0x21 || t[i] > 0x7e || t[i] == '\\' || t[i] == '#')
			return GUARD_TARGET;
		if (t[i] == '?')
			in_query = 1;
		if (t[i] != '%')
			continue;
		if (i + 2 >= n || hexval(t[i + 1]) < 0 ||
		    hexval(t[i + 2]) < 0)
			return GUARD_TARGET_ENCODED;
		v = hexval(t[i + 1]) << 4 | hexval(t[i + 2]);
		if (v < 0x20 || v == 0x7f ||
		    (!in_query && (v == '/' || v == '\\')))
			return GUARD_TARGET_ENCODED;
		i += 2;
	}
	return GUARD_OK;
}

/* "METHOD SP target SP HTTP/x.y" */
static enum guard_err
check_request_line(const unsigned char *l, size_t n, struct head_facts *f)
{
	size_t		i = 0, t0, tn;
	enum guard_err	e;

	while (i < n && is_tchar(l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ' ')
		return GUARD_REQUEST_LINE;
	t0 = ++i;
	while (i < n && l[i] != ' ')
		i++;
	tn = i - t0;
	if (i == n)
		return GUARD_REQUEST_LINE;
	if ((e = check_target(l + t0, tn)) != GUARD_OK)
		return e;
	i++;
	if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 ||
	    l[i + 5] < '0' || l[i + 5] > '9' || l[i + 6] != '.' ||
	    l[i + 7] < '0' || l[i + 7] > '9')
		return GUARD_REQUEST_LINE;
	if (l[i + 5] != '1' || (l[i + 7] != '0' && l[i + 7] != '1'))
		return GUARD_VERSION;
	f->http11 = l[i + 7] == '1';
	return GUARD_OK;
}

/* A value without the optional white space around it. */
static void
trim(const unsigned char **v, size_t *n)
{
	while (*n > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*n)--;
	}
	while (*n > 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

static enum guard_err
content_length(const unsigned char *v, size_t n, struct head_facts *f)
{
	size_t	i;

	if (n == 0 || n > CL_DIGITS_MAX)
		return GUARD_CONTENT_LENGTH;
	f->length = 0;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return GUARD_CONTENT_LENGTH;
		f->length = f->length * 10 + (uint64_t)(v[i] - '0');
	}
	f->has_length = 1;
	return GUARD_OK;
}

/* "name: value" (RFC 9110 5.5), for a header or a trailer. */
static enum guard_err
check_field(const unsigned char *l, size_t n, const unsigned char **val,
    size_t *vlen, size_t *nlen)
{
	size_t	i = 0;

	if (n > 0 && (l[0] == ' ' || l[0] == '\t'))
		return GUARD_FOLDED;
	while (i < n && is_tchar(l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ':')
		return GUARD_HEADER;
	*nlen = i;
	for (i++, *val = l + i; i < n; i++)
		if ((l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
			return GUARD_CTL;
	*vlen = (size_t)(l + n - *val);
	trim(val, vlen);
	return GUARD_OK;
}

static enum guard_err
check_header(const unsigned char *l, size_t n, struct head_facts *f)
{
	const unsigned char	*v;
	size_t			 vn, nn, i;
	enum guard_err		 e;

	if ((e = check_field(l, n, &v, &vn, &nn)) != GUARD_OK)
		return e;
	for (i = 0; i < NUNIQUE; i++)
		if (strlen(unique_headers[i]) == nn &&
		    strncasecmp((const char *)l, unique_headers[i], nn) == 0)
			break;
	if (i == NUNIQUE)
		return GUARD_OK;
	if (f->seen & 1u << i) {
		f->dup = unique_headers[i];
		return GUARD_DUPLICATE;
	}
	f->seen |= 1u << i;
	switch (i) {
	case 0:
		return content_length(v, vn, f);
	case 1:
		if (vn != 7 || strncasecmp((const char *)v, "chunked", 7) != 0)
			return GUARD_TE;
		f->chunked = 1;
		break;
	case 2:
		f->host = 1;
		break;
	}
	return GUARD_OK;
}

/*
 * The whole head, CRLF CRLF included; every LF in it is known to follow
 * a CR.  A CR anywhere else is a bare CR.
 */
static enum guard_err
check_head(const unsigned char *h, size_t n, struct head_facts *f)
{
	const unsigned char	*l = h, *end = h + n - 2, *cr;
	enum guard_err		 e;
	int			 first = 1;

	memset(f, 0, sizeof(*f));
	while (l < end) {
		cr = memchr(l, '\r', (size_t)(end - l));
		if (cr == NULL || cr[1] != '\n')
			return GUARD_LINE_END;
		e = first ? check_request_line(l, (size_t)(cr - l), f) :
		    check_header(l, (size_t)(cr - l), f);
		f->fields += !first;
		if (e != GUARD_OK)
			return e;
		first = 0;
		l = cr + 2;
	}
	if (f->chunked && f->has_length)
		return GUARD_CL_AND_TE;
	if ((f->seen & 2) && !f->http11)
		return GUARD_TE_HTTP10;
	if (f->http11 && !f->host)
		return GUARD_NO_HOST;
	return GUARD_OK;
}

/* ---- the states ------------------------------------------------------- */

/* The head is whole: pass it on and follow its body, or refuse it. */
static int
head_done(struct guard *g)
{
	struct head_facts	f;
	enum guard_err		e;

	e = check_head((const unsigned char *)g->line, g->line_len, &f);
	if (e == GUARD_OK && g->line_len + GUARD_FIELD_COST * f.fields +
	    GUARD_POOL_RESERVE > g->max_head)
		e = GUARD_HEAD_TOO_LARGE;
	if (e != GUARD_OK) {
		g->err_name = f.dup;
		return refuse_head(g, e);
	}
	g->out_mark = g->out_len;
	g->mark_valid = 1;
	if (out_put(g, g->line, g->line_len) == -1)
		return -1;
	line_reset(g);
	g->heads++;
	g->in_request = 1;
	g->body_len = 0;
	if (f.chunked)
		g->state = GS_CHUNK_LINE;
	else if (f.has_length && f.length > 0) {
		g->state = GS_BODY;
		g->left = f.length;
	} else {
		g->state = GS_HEAD;
		g->in_request = 0;
	}
	return 0;
}

/*
 * Gathers p into g->line up to and including a LF, at most max bytes in
 * all.  Returns the bytes used, or (size_t)-1 when out of memory; *lf
 * says whether the line now ends in CRLF, *err is set for a bare LF or a
 * line over max.
 */
static size_t
gather(struct guard *g, const char *p, size_t n, size_t max, int *lf,
    enum guard_err *err, enum guard_err too_long)
{
	const char	*nl = memchr(p, '\n', n);
	size_t		 take = nl != NULL ? (size_t)(nl - p) + 1 : n;

	*lf = 0;
	*err = GUARD_OK;
	if (g->line_len + take > max) {
		*err = too_long;
		return n;
	}
	if (line_put(g, p, take) == -1)
		return (size_t)-1;
	if (nl == NULL)
		return take;
	if (g->line_len < 2 || g->line[g->line_len - 2] != '\r')
		*err = GUARD_LINE_END;
	*lf = 1;
	return take;
}

static size_t
feed_head(struct guard *g, const char *p, size_t n)
{
	enum guard_err	 e;
	size_t		 used;
	int		 lf;

	used = gather(g, p, n, g->max_head, &lf, &e, GUARD_HEAD_TOO_LARGE);
	if (used == (size_t)-1)
		return used;
	if (e != GUARD_OK)
		return refuse_head(g, e) == -1 ? (size_t)-1 : n;
	if (!lf)
		return used;
	if (g->line_len == 2) {		/* an empty line before a request */
		line_reset(g);
		return used;
	}
	if (g->line_len >= 4 &&
	    memcmp(g->line + g->line_len - 4, "\r\n\r\n", 4) == 0 &&
	    head_done(g) == -1)
		return (size_t)-1;
	return used;
}

/* chunk-size [ ; extensions ] CRLF; *size gets the size. */
static enum guard_err
chunk_size(const char *l, size_t n, uint64_t *size)
{
	size_t	i;
	int	v;

	*size = 0;
	for (i = 0; i < n && (v = hexval((unsigned char)l[i])) >= 0; i++) {
		if (i == 15)
			return GUARD_CHUNK;
		*size = *size << 4 | (uint64_t)v;
	}
	if (i == 0)
		return GUARD_CHUNK;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';')
		return GUARD_CHUNK;
	for (; i < n; i++)
		if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
			return GUARD_CHUNK;
	return GUARD_OK;
}

static size_t
feed_line(struct guard *g, const char *p, size_t n)
{
	const unsigned char	*v;
	enum guard_err		 e;
	uint64_t		 size = 0;
	size_t			 used, max, vn, nn;
	int			 lf;

	max = g->state == GS_TRAILER ? g->max_head : g->state == GS_CHUNK_END ?
	    2 : CHUNK_LINE_MAX;
	used = gather(g, p, n, max, &lf, &e, GUARD_CHUNK);
	if (used == (size_t)-1)
		return used;
	if (e != GUARD_OK)
		return refuse_body(g, e == GUARD_LINE_END ? GUARD_CHUNK : e) ==
		    -1 ? (size_t)-1 : n;
	if (!lf)
		return used;
	switch (g->state) {
	case GS_CHUNK_END:
		e = g->line_len == 2 ? GUARD_OK : GUARD_CHUNK;
		break;
	case GS_CHUNK_LINE:
		e = chunk_size(g->line, g->line_len - 2, &size);
		if (e == GUARD_OK && size > g->max_body - g->body_len)
			e = GUARD_BODY_TOO_LARGE;
		break;
	default:	/* GS_TRAILER: one field per line until an empty one */
		e = GUARD_OK;
		if (g->line_len > 2 && (g->line_len < 4 || memcmp(g->line +
		    g->line_len - 4, "\r\n\r\n", 4) != 0)) {
			/* The line just gathered starts after the last CRLF. */
			v = (const unsigned char *)g->line + g->line_len - 2;
			while (v > (const unsigned char *)g->line &&
			    v[-1] != '\n')
				v--;
			e = check_field(v, (size_t)((const unsigned char *)
			    g->line + g->line_len - 2 - v), &v, &vn, &nn);
			if (e == GUARD_OK)
				return used;
		}
		break;
	}
	if (e != GUARD_OK)
		return refuse_body(g, e) == -1 ? (size_t)-1 : n;
	if (out_put(g, g->line, g->line_len) == -1)
		return (size_t)-1;
	line_reset(g);
	if (g->state == GS_CHUNK_END)
		g->state = GS_CHUNK_LINE;
	else if (g->state == GS_TRAILER) {
		g->state = GS_HEAD;
		g->in_request = 0;
	} else if (size == 0)
		g->state = GS_TRAILER;
	else {
		g->state = GS_CHUNK_DATA;
		g->left = size;
		g->body_len += size;
	}
	return used;
}

static size_t
feed_data(struct guard *g, const char *p, size_t n)
{
	size_t	take = n < g->left ? n : (size_t)g->left;

	if (out_put(g, p, take) == -1)
		return (size_t)-1;
	g->left -= take;
	if (g->left == 0) {
		if (g->state == GS_CHUNK_DATA)
			g->state = GS_CHUNK_END;
		else {
			g->state = GS_HEAD;
			g->in_request = 0;
		}
	}
	return take;
}

int
guard_feed(struct guard *g, const char *p, size_t n)
{
	size_t	used;

	while (n > 0 && g->state != GS_DEAD) {
		switch (g->state) {
		case GS_HEAD:
			used = feed_head(g, p, n);
			break;
		case GS_BODY:
		case GS_CHUNK_DATA:
			used = feed_data(g, p, n);
			break;
		default:
			used = feed_line(g, p, n);
			break;
		}
		if (used == (size_t)-1)
			return -1;
		p += used;
		n -= used;
	}
	return 0;
}

void
guard_eof(struct guard *g)
{
	g->peer_closed = 1;
	line_reset(g);
	if (g->in_request) {
		/* Unfinished: drop what MHD has not taken of it. */
		g->out_len = g->mark_valid ? g->out_mark : g->out_off;
		g->in_request = 0;
	}
	g->state = GS_DEAD;
}
