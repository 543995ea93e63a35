/*
 * promtext.c - the Prometheus text exposition format, read strictly.
 *
 * tokenctl status reads a metrics endpoint to tell an operator whether
 * tokend is healthy; a wrong answer there is worse than none, so a text
 * that is not the format (an HTML error page, a proxy's banner, a JSON
 * body, garbage) is refused whole, with the line at fault, and tokenctl
 * says "unreachable" rather than guessing.  The grammar (Prometheus'
 * "Exposition formats", text 0.0.4):
 *
 *   line    = "" | "#" comment | sample
 *   sample  = name [ "{" [ label { "," label } [ "," ] ] "}" ] " " value
 *             [ " " timestamp ]
 *   name    = [a-zA-Z_:][a-zA-Z0-9_:]*     (labels: no ':')
 *   label   = lname "=" '"' escaped value '"'   (\\ \" \n)
 *   value   = a float, "+Inf", "-Inf" or "NaN"
 *
 * Every size has a bound (promtext.h); the text needs no NUL.
 */
#include "tools/promtext.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	const char	*p, *end;	/* the current line */
	char		*err;
	size_t		 errlen;
	size_t		 lineno;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct cursor *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(c->err, c->errlen, "line %zu: ", c->lineno);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
name_char(int ch, int first, int colon)
{
	if (isalpha(ch) || ch == '_' || (colon && ch == ':'))
		return 1;
	return !first && ch >= '0' && ch <= '9';
}

/* A metric (colon) or label name at c->p, copied (owned) to *out. */
static int
read_name(struct cursor *c, int colon, char **out)
{
	const char	*s = c->p;

	while (c->p < c->end && name_char((unsigned char)*c->p, c->p == s,
	    colon))
		c->p++;
	if (c->p == s)
		return fail(c, "expected a %s name", colon ? "metric" :
		    "label");
	if ((size_t)(c->p - s) > PROM_MAX_NAME)
		return fail(c, "name longer than %d bytes", PROM_MAX_NAME);
	if ((*out = strndup(s, (size_t)(c->p - s))) == NULL)
		return fail(c, "out of memory");
	return 0;
}

/* '"' escaped '"' at c->p, unescaped (owned) to *out. */
static int
read_quoted(struct cursor *c, char **out)
{
	char	buf[PROM_MAX_VALUE + 1];
	size_t	n = 0;

	if (c->p >= c->end || *c->p != '"')
		return fail(c, "expected '\"'");
	for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
		char	ch = *c->p;

		if (ch == '\\') {
			if (++c->p >= c->end)
				break;
			ch = *c->p == 'n' ? '\n' : *c->p;
			if (*c->p != 'n' && *c->p != '\\' && *c->p != '"')
				return fail(c, "bad escape \\%c in a label value",
				    isprint((unsigned char)*c->p) ? *c->p : '?');
		} else if (ch == '\0')
			return fail(c, "NUL byte in a label value");
		if (n == PROM_MAX_VALUE)
			return fail(c, "label value longer than %d bytes",
			    PROM_MAX_VALUE);
		buf[n++] = ch;
	}
	if (c->p >= c->end)
		return fail(c, "unterminated label value");
	c->p++;
	buf[n] = '\0';
	if ((*out = strdup(buf)) == NULL)
		return fail(c, "out of memory");
	return 0;
}

static int
read_labels(struct cursor *c, struct prom_sample *s)
{
	struct prom_label	*l;
	size_t			 i;

	c->p++;			/* '{' */
	while (c->p < c->end && *c->p != '}') {
		if (s->nlabels == PROM_MAX_LABELS)
			return fail(c, "more than %d labels",
			    PROM_MAX_LABELS);
		if (s->labels == NULL && (s->labels = calloc(PROM_MAX_LABELS,
		    sizeof(*s->labels))) == NULL)
			return fail(c, "out of memory");
		l = &s->labels[s->nlabels];
		if (read_name(c, 0, &l->name) == -1)
			return -1;
		s->nlabels++;
		if (c->p >= c->end || *c->p++ != '=')
			return fail(c, "expected '=' after label %s", l->name);
		if (read_quoted(c, &l->value) == -1)
			return -1;
		for (i = 0; i + 1 < s->nlabels; i++)
			if (strcmp(s->labels[i].name, l->name) == 0)
				return fail(c, "label %s twice", l->name);
		if (c->p < c->end && *c->p == ',')
			c->p++;
		else if (c->p < c->end && *c->p != '}')
			return fail(c, "expected ',' or '}'");
	}
	if (c->p >= c->end)
		return fail(c, "unterminated label set");
	c->p++;
	return 0;
}

/* A float of the format at c->p up to a space or the line's end. */
static int
read_value(struct cursor *c, double *v)
{
	char		 buf[64], *end;
	const char	*s = c->p;
	size_t		 n;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
		c->p++;
	n = (size_t)(c->p - s);
	if (n == 0 || n >= sizeof(buf))
		return fail(c, "expected a value");
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(buf, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(buf, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	/* strtod would take "inf", "nan(...)" and hex: the format has none. */
	if (strspn(buf, "0123456789.eE+-") != n)
		return fail(c, "\"%s\" is not a value", buf);
	errno = 0;
	*v = strtod(buf, &end);
	if (*end != '\0' || errno == ERANGE)
		return fail(c, "\"%s\" is not a value", buf);
	return 0;
}

static int
read_timestamp(struct cursor *c)
{
	const char	*s = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	if (c->p == s || c->p - s > 20)
		return fail(c, "expected a timestamp");
	return 0;
}

static void
skip_blanks(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static void
sample_free(struct prom_sample *s)
{
	size_t	i;

	for (i = 0; i < s->nlabels; i++) {
		free(s->labels[i].name);
		free(s->labels[i].value);
	}
	free(s->labels);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

static int
read_sample(struct cursor *c, struct prom_set *set)
{
	struct prom_sample	*s;
	void			*grown;

	if (set->n == PROM_MAX_SAMPLES)
		return fail(c, "more than %d samples", PROM_MAX_SAMPLES);
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 64;
		if ((grown = reallocarray(set->s, set->cap,
		    sizeof(*set->s))) == NULL)
			return fail(c, "out of memory");
		set->s = grown;
	}
	s = &set->s[set->n++];
	memset(s, 0, sizeof(*s));
	if (read_name(c, 1, &s->name) == -1)
		return -1;
	if (c->p < c->end && *c->p == '{' && read_labels(c, s) == -1)
		return -1;
	if (c->p >= c->end || (*c->p != ' ' && *c->p != '\t'))
		return fail(c, "expected a space before the value");
	skip_blanks(c);
	if (read_value(c, &s->value) == -1)
		return -1;
	skip_blanks(c);
	if (c->p < c->end && read_timestamp(c) == -1)
		return -1;
	skip_blanks(c);
	if (c->p != c->end)
		return fail(c, "unexpected text after the value");
	return 0;
}

int
prom_parse(struct prom_set *set, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct cursor	 c = { .err = err, .errlen = errlen };
	const char	*next, *end = text + len;

	if (len > PROM_MAX_BYTES) {
		snprintf(err, errlen, "longer than %d bytes", PROM_MAX_BYTES);
		return -1;
	}
	for (; text < end; text = next) {
		c.lineno++;
		c.p = text;
		if ((next = memchr(text, '\n', (size_t)(end - text))) == NULL)
			next = end;
		c.end = next;
		if (next < end)
			next++;
		if (c.end > c.p && c.end[-1] == '\r')
			c.end--;
		if (c.end > c.p && memchr(c.p, '\0', (size_t)(c.end - c.p)) !=
		    NULL)
			return fail(&c, "NUL byte");
		skip_blanks(&c);
		if (c.p == c.end || *c.p == '#')
			continue;
		if (read_sample(&c, set) == -1) {
			/* The half-read sample is not kept. */
			sample_free(&set->s[--set->n]);
			return -1;
		}
	}
	return 0;
}

void
prom_free(struct prom_set *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		sample_free(&set->s[i]);
	free(set->s);
	memset(set, 0, sizeof(*set));
}

const char *
prom_label(const struct prom_sample *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

double
prom_sum(const struct prom_set *set, const char *name, const char *key,
    const char *value, int *found)
{
	const char	*v;
	double		 sum = 0;
	size_t		 i;

	*found = 0;
	for (i = 0; i < set->n; i++) {
		if (strcmp(set->s[i].name, name) != 0)
			continue;
		if (key != NULL && ((v = prom_label(&set->s[i], key)) == NULL ||
		    strcmp(v, value) != 0))
			continue;
		*found = 1;
		if (!isnan(set->s[i].value))
			sum += set->s[i].value;
	}
	return sum;
}
