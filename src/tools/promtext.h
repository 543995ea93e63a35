/*
 * promtext.h - a reader of the Prometheus text exposition format (0.0.4),
 * for tokenctl status: what a /metrics endpoint says, as samples.
 *
 * What it reads comes over the network from whatever answers at the URL
 * an operator typed, so every size is bounded (PROM_MAX_*) and anything
 * that is not the format is refused with the line and the reason, never
 * half-read.
 */
#ifndef TOKEND_PROMTEXT_H
#define TOKEND_PROMTEXT_H

#include <stddef.h>

#define PROM_MAX_BYTES		(4 * 1024 * 1024)	/* the whole text */
#define PROM_MAX_SAMPLES	100000
#define PROM_MAX_LABELS		16	/* of one sample */
#define PROM_MAX_NAME		200	/* a metric's or a label's name */
#define PROM_MAX_VALUE		1024	/* a label's value, unescaped */

struct prom_label {
	char	*name;
	char	*value;
};

struct prom_sample {
	char			*name;
	struct prom_label	*labels;
	size_t			 nlabels;
	double			 value;
};

struct prom_set {
	struct prom_sample	*s;
	size_t			 n, cap;
};

/*
 * Parses text[0..len) into set (empty before; prom_free() it whatever the
 * outcome).  0, or -1 with "line N: reason" in err.
 */
int		 prom_parse(struct prom_set *set, const char *text, size_t len,
		    char *err, size_t errlen);
void		 prom_free(struct prom_set *set);

/* The value of label name of s, or NULL. */
const char	*prom_label(const struct prom_sample *s, const char *name);

/*
 * The sum of the samples named name whose label key (if key is not NULL)
 * equals value; *found tells whether any matched.
 */
double		 prom_sum(const struct prom_set *set, const char *name,
		    const char *key, const char *value, int *found);

#endif
