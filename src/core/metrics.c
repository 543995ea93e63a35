/*
 * metrics.c - the registry of counters, gauges and histograms, and the
 * Prometheus text writer (metrics.h).
 *
 * Why our own and not a client library: what tokend needs is a few dozen
 * series with label values known at start (closed sets), updated from one
 * thread, and one writer; a library would bring threads, locks and
 * allocation on update for none of it.  The series live in families (a
 * linked list, in registration order, which is the order of the output)
 * and each series has its label text rendered and escaped once, so the
 * writer only prints numbers.
 */
#include "core/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metric_family {
	const char		*name;
	const char		*help;
	enum metric_type	 type;
	const double		*bounds;
	size_t			 nbounds;
	struct metric		**series;
	size_t			 nseries, cap;
	struct metric_family	*next;
};

struct metrics {
	struct metric_family	*head, *tail;
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	struct metric_family	*f, *next;
	size_t			 i;

	if (m == NULL)
		return;
	for (f = m->head; f != NULL; f = next) {
		next = f->next;
		for (i = 0; i < f->nseries; i++) {
			free(f->series[i]->labels);
			free(f->series[i]);
		}
		free(f->series);
		free(f);
	}
	free(m);
}

struct metric_family *
metrics_family(struct metrics *m, enum metric_type type, const char *name,
    const char *help, const double *bounds, size_t nbounds)
{
	struct metric_family	*f;
	size_t			 i;

	if (type == METRIC_HISTOGRAM && (nbounds == 0 ||
	    nbounds > METRIC_MAX_BUCKETS))
		return NULL;
	for (i = 1; i < nbounds; i++)
		if (!(bounds[i - 1] < bounds[i]))
			return NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->name = name;
	f->help = help;
	f->type = type;
	f->bounds = type == METRIC_HISTOGRAM ? bounds : NULL;
	f->nbounds = type == METRIC_HISTOGRAM ? nbounds : 0;
	if (m->tail != NULL)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	return f;
}

/* Appends s to buf at *n (room for len), escaped as a label value. */
static void
escape_into(char *buf, size_t *n, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			buf[(*n)++] = '\\';
			buf[(*n)++] = *s;
		} else if (*s == '\n') {
			buf[(*n)++] = '\\';
			buf[(*n)++] = 'n';
		} else
			buf[(*n)++] = *s;
	}
}

/* name1="value1",name2="value2": every byte of a value at most doubles. */
static char *
render_labels(const char *const *names, const char *const *values,
    size_t nlabels)
{
	size_t	 i, len = 1, n = 0;
	char	*buf;

	for (i = 0; i < nlabels; i++)
		len += strlen(names[i]) + 2 * strlen(values[i]) + 4;
	if ((buf = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < nlabels; i++) {
		if (i > 0)
			buf[n++] = ',';
		memcpy(buf + n, names[i], strlen(names[i]));
		n += strlen(names[i]);
		buf[n++] = '=';
		buf[n++] = '"';
		escape_into(buf, &n, values[i]);
		buf[n++] = '"';
	}
	buf[n] = '\0';
	return buf;
}

struct metric *
metrics_series(struct metric_family *f, const char *const *names,
    const char *const *values, size_t nlabels)
{
	struct metric	**v, *s;
	size_t		  cap;

	if (nlabels > METRIC_MAX_LABELS)
		return NULL;
	if (f->nseries == f->cap) {
		cap = f->cap ? 2 * f->cap : 8;
		if ((v = realloc(f->series, cap * sizeof(*v))) == NULL)
			return NULL;
		f->series = v;
		f->cap = cap;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fam = f;
	if (nlabels > 0 && (s->labels = render_labels(names, values,
	    nlabels)) == NULL) {
		free(s);
		return NULL;
	}
	f->series[f->nseries++] = s;
	return s;
}

size_t
metric_bucket(const double *bounds, size_t nbounds, double v)
{
	size_t	i;

	for (i = 0; i < nbounds; i++)
		if (v <= bounds[i])
			return i;
	return nbounds;
}

void
metric_hist_observe(struct metric_hist *h, const double *bounds,
    size_t nbounds, double v)
{
	h->counts[metric_bucket(bounds, nbounds, v)]++;
	h->sum += v;
}

void
metric_add(struct metric *s, double v)
{
	s->value += v;
	s->present = 1;
}

void
metric_set(struct metric *s, double v)
{
	s->value = v;
	s->present = 1;
}

void
metric_unset(struct metric *s)
{
	s->present = 0;
}

void
metric_touch(struct metric *s)
{
	s->present = 1;
}

void
metric_observe(struct metric *s, double v)
{
	metric_hist_observe(&s->hist, s->fam->bounds, s->fam->nbounds, v);
	s->present = 1;
}

void
metric_hist_merge(struct metric *s, const uint64_t *counts, double sum)
{
	size_t	i;

	for (i = 0; i <= s->fam->nbounds; i++)
		s->hist.counts[i] += counts[i];
	s->hist.sum += sum;
	s->present = 1;
}

/* ---- the text format -------------------------------------------------- */

/* A sample value: integers exactly, others to 15 significant digits. */
static void
put_value(FILE *out, double v)
{
	if (isnan(v))
		fputs("NaN", out);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", out);
	else if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v)
		fprintf(out, "%.0f", v);
	else
		fprintf(out, "%.15g", v);
}

/* NAME{labels[,extra]} VALUE */
static void
put_sample(FILE *out, const char *name, const char *suffix,
    const char *labels, const char *extra, double v)
{
	fprintf(out, "%s%s", name, suffix);
	if (labels != NULL || extra != NULL)
		fprintf(out, "{%s%s%s}", labels != NULL ? labels : "",
		    labels != NULL && extra != NULL ? "," : "",
		    extra != NULL ? extra : "");
	fputc(' ', out);
	put_value(out, v);
	fputc('\n', out);
}

static void
put_histogram(FILE *out, const struct metric_family *f, const struct metric *s)
{
	char		le[48];
	uint64_t	cum = 0;
	size_t		i;

	for (i = 0; i <= f->nbounds; i++) {
		cum += s->hist.counts[i];
		if (i < f->nbounds)
			snprintf(le, sizeof(le), "le=\"%.15g\"", f->bounds[i]);
		else
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		put_sample(out, f->name, "_bucket", s->labels, le,
		    (double)cum);
	}
	put_sample(out, f->name, "_sum", s->labels, NULL, s->hist.sum);
	put_sample(out, f->name, "_count", s->labels, NULL, (double)cum);
}

static void
put_family(FILE *out, const struct metric_family *f)
{
	static const char *const types[] = {
		[METRIC_COUNTER] = "counter", [METRIC_GAUGE] = "gauge",
		[METRIC_HISTOGRAM] = "histogram",
	};
	size_t	i, shown = 0;

	for (i = 0; i < f->nseries; i++)
		shown += f->series[i]->present;
	if (shown == 0)
		return;
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
	    f->name, types[f->type]);
	for (i = 0; i < f->nseries; i++) {
		if (!f->series[i]->present)
			continue;
		if (f->type == METRIC_HISTOGRAM)
			put_histogram(out, f, f->series[i]);
		else
			put_sample(out, f->name, "", f->series[i]->labels,
			    NULL, f->series[i]->value);
	}
}

char *
metrics_write(const struct metrics *m, size_t *len)
{
	const struct metric_family	*f;
	FILE				*out;
	char				*buf = NULL;

	*len = 0;
	if ((out = open_memstream(&buf, len)) == NULL)
		return NULL;
	for (f = m->head; f != NULL; f = f->next)
		put_family(out, f);
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
