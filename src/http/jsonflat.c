/*
 * jsonflat.c - flat JSON objects, read and written fast (see jsonflat.h).
 *
 * The reader accepts a strict subset of JSON on purpose: anything it does
 * not take, jansson takes (or refuses, with its own message), so the two
 * can never disagree on what a body means.  The writer escapes properly
 * and checks UTF-8, so anything a worker sends is either written as valid
 * JSON or refused.
 */
#include "http/jsonflat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---------------------------------------------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A string of plain printable ASCII at p (its quotes excluded), or NULL. */
static const char *
plain_string(const char *p, const char *end, const char **s, size_t *len)
{
	const char	*q;

	if (p >= end || *p != '"')
		return NULL;
	for (q = ++p; q < end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e ||
		    *q == '\\')
			return NULL;
	if (q >= end)
		return NULL;
	*s = p;
	*len = (size_t)(q - p);
	return q + 1;
}

static int
key_seen(const struct jsonflat_member *m, int n, const char *key, size_t len)
{
	int	i;

	for (i = 0; i < n; i++)
		if (m[i].keylen == len && memcmp(m[i].key, key, len) == 0)
			return 1;
	return 0;
}

int
jsonflat_parse(const char *s, size_t len, struct jsonflat_member *m, int max)
{
	const char	*p = s, *end = s + len;
	int		 n = 0;

	p = skip_ws(p, end);
	if (p >= end || *p++ != '{')
		return -1;
	p = skip_ws(p, end);
	if (p < end && *p == '}')
		return skip_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		if (n == max)
			return -1;
		if ((p = plain_string(p, end, &m[n].key, &m[n].keylen)) == NULL)
			return -1;
		if (key_seen(m, n, m[n].key, m[n].keylen))
			return -1;
		p = skip_ws(p, end);
		if (p >= end || *p++ != ':')
			return -1;
		p = skip_ws(p, end);
		if ((p = plain_string(p, end, &m[n].val, &m[n].vallen)) == NULL)
			return -1;
		n++;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return skip_ws(p + 1, end) == end ? n : -1;
		return -1;
	}
}

/* ---- writing ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
	uint32_t	cp;
	size_t		n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static int
reserve(struct jsonflat_writer *w, size_t more)
{
	size_t	 cap;
	char	*p;

	if (w->failed)
		return -1;
	if (w->len + more + 1 <= w->cap)
		return 0;
	for (cap = w->cap ? w->cap : 512; cap < w->len + more + 1; cap *= 2)
		;
	if ((p = realloc(w->buf, cap)) == NULL) {
		w->failed = 1;
		return -1;
	}
	w->buf = p;
	w->cap = cap;
	return 0;
}

static void
put(struct jsonflat_writer *w, const char *s, size_t n)
{
	if (reserve(w, n) == -1)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* "key": after a ',' unless it is the first member. */
static void
put_key(struct jsonflat_writer *w, const char *key)
{
	if (w->len > 1)
		put(w, ",", 1);
	put(w, "\"", 1);
	put(w, key, strlen(key));
	put(w, "\":", 2);
}

void
jsonflat_begin(struct jsonflat_writer *w)
{
	memset(w, 0, sizeof(*w));
	put(w, "{", 1);
}

void
jsonflat_str(struct jsonflat_writer *w, const char *key, const char *val,
    size_t vallen)
{
	const unsigned char	*v = (const unsigned char *)val;
	char			 esc[8];
	size_t			 i, run, n;

	put_key(w, key);
	put(w, "\"", 1);
	for (i = 0; i < vallen && !w->failed; i += n) {
		/* Copy the longest run that needs nothing, in one go. */
		for (run = i; run < vallen && v[run] >= 0x20 && v[run] < 0x80 &&
		    v[run] != '"' && v[run] != '\\'; run++)
			;
		if (run > i) {
			put(w, val + i, run - i);
			n = run - i;
		} else if (v[i] == '"' || v[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)v[i];
			put(w, esc, 2);
			n = 1;
		} else if (v[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", v[i]);
			put(w, esc, 6);
			n = 1;
		} else if ((n = utf8_seq(v + i, vallen - i)) != 0)
			put(w, val + i, n);
		else
			w->failed = 1;
	}
	put(w, "\"", 1);
}

void
jsonflat_int(struct jsonflat_writer *w, const char *key, long long v)
{
	char	num[24];
	int	n;

	put_key(w, key);
	n = snprintf(num, sizeof(num), "%lld", v);
	put(w, num, (size_t)n);
}

char *
jsonflat_end(struct jsonflat_writer *w, size_t *len)
{
	put(w, "}", 1);
	if (w->failed) {
		free(w->buf);
		w->buf = NULL;
		return NULL;
	}
	w->buf[w->len] = '\0';
	*len = w->len;
	return w->buf;
}
