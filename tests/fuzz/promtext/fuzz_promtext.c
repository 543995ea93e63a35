/*
 * fuzz_promtext.c - libFuzzer harness of tokenctl status's reader of the
 * Prometheus text format (src/tools/promtext.c) and of the summary built
 * on it (src/tools/status.c).
 *
 * What answers at a metrics URL is anyone's: the reader must refuse or
 * read within its bounds, and what it reads must be what the text said.
 * So: every sample it keeps has a name and labels of the grammar within
 * PROM_MAX_*, and writing the samples out again (names, labels escaped,
 * values in full precision) and reading that gives the same samples; the
 * summary of any two texts read is a report with finite rates and a
 * verdict, or a refusal naming tokend_workers.
 *
 * Input: the text; a 0xff byte (no text needs one) splits it into the
 * "before" and "after" reads of the summary.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/promtext.h"
#include "tools/status.h"

#include "../fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int
valid_name(const char *s, int colon)
{
	size_t	i;

	if (s[0] == '\0' || strlen(s) > PROM_MAX_NAME)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || s[i] == '_' || (colon && s[i] == ':') ||
		    (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* The set written out in the format; owned by the caller. */
static char *
write_out(const struct prom_set *set, size_t *len)
{
	char	*buf = NULL;
	size_t	 cap = 0, i, j;
	FILE	*f = open_memstream(&buf, &cap);
	const char *v;

	FUZZ_CHECK(f != NULL);
	for (i = 0; i < set->n; i++) {
		const struct prom_sample *s = &set->s[i];

		fputs(s->name, f);
		if (s->nlabels > 0)
			fputc('{', f);
		for (j = 0; j < s->nlabels; j++) {
			fprintf(f, "%s%s=\"", j ? "," : "", s->labels[j].name);
			for (v = s->labels[j].value; *v != '\0'; v++) {
				if (*v == '\\' || *v == '"')
					fputc('\\', f);
				if (*v == '\n')
					fputs("\\n", f);
				else
					fputc(*v, f);
			}
			fputc('"', f);
		}
		if (s->nlabels > 0)
			fputc('}', f);
		if (isnan(s->value))
			fputs(" NaN\n", f);
		else if (isinf(s->value))
			fputs(s->value > 0 ? " +Inf\n" : " -Inf\n", f);
		else
			fprintf(f, " %.17g\n", s->value);
	}
	fclose(f);
	*len = cap;
	return buf;
}

static void
check_set(const struct prom_set *set)
{
	size_t	i, j;

	FUZZ_CHECK(set->n <= PROM_MAX_SAMPLES);
	for (i = 0; i < set->n; i++) {
		const struct prom_sample *s = &set->s[i];

		FUZZ_CHECK(valid_name(s->name, 1));
		FUZZ_CHECK(s->nlabels <= PROM_MAX_LABELS);
		for (j = 0; j < s->nlabels; j++) {
			FUZZ_CHECK(valid_name(s->labels[j].name, 0));
			FUZZ_CHECK(strlen(s->labels[j].value) <=
			    PROM_MAX_VALUE);
		}
	}
}

static void
check_same(const struct prom_set *a, const struct prom_set *b)
{
	size_t	i, j;

	FUZZ_CHECK(a->n == b->n);
	for (i = 0; i < a->n; i++) {
		FUZZ_CHECK(strcmp(a->s[i].name, b->s[i].name) == 0);
		FUZZ_CHECK(a->s[i].nlabels == b->s[i].nlabels);
		for (j = 0; j < a->s[i].nlabels; j++) {
			FUZZ_CHECK(strcmp(a->s[i].labels[j].name,
			    b->s[i].labels[j].name) == 0);
			FUZZ_CHECK(strcmp(a->s[i].labels[j].value,
			    b->s[i].labels[j].value) == 0);
		}
		FUZZ_CHECK((isnan(a->s[i].value) && isnan(b->s[i].value)) ||
		    a->s[i].value == b->s[i].value);
	}
}

/* Read, check, write out, read again: the same samples. */
static int
read_checked(const char *text, size_t len, struct prom_set *set)
{
	struct prom_set	 again = { 0 };
	char		 err[256], *out;
	size_t		 olen;

	memset(set, 0, sizeof(*set));
	if (prom_parse(set, text, len, err, sizeof(err)) == -1) {
		FUZZ_CHECK(strncmp(err, "line ", 5) == 0 ||
		    strncmp(err, "longer than", 11) == 0);
		prom_free(set);
		return -1;
	}
	check_set(set);
	out = write_out(set, &olen);
	FUZZ_CHECK(prom_parse(&again, out, olen, err, sizeof(err)) == 0);
	check_same(set, &again);
	prom_free(&again);
	free(out);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*text = (const char *)data;
	const uint8_t		*cut = memchr(data, 0xff, size);
	struct prom_set		 before, after;
	struct status_report	 r;
	char			 err[256];
	size_t			 blen = cut ? (size_t)(cut - data) : 0;
	size_t			 i;

	if (cut == NULL) {
		if (read_checked(text, size, &before) == 0)
			prom_free(&before);
		return 0;
	}
	if (read_checked(text, blen, &before) == -1)
		return 0;
	if (read_checked(text + blen + 1, size - blen - 1, &after) == -1) {
		prom_free(&before);
		return 0;
	}
	if (status_summarize(&before, &after, 1.0, 5, &r, err,
	    sizeof(err)) == 0) {
		FUZZ_CHECK(r.verdict == STATUS_HEALTHY ||
		    r.verdict == STATUS_DEGRADED);
		FUZZ_CHECK(r.ncodes <= STATUS_MAX_CODES &&
		    r.ntop <= STATUS_TOP);
		FUZZ_CHECK(!isnan(r.rate) && r.rate >= 0);
		/* Only sums past DBL_MAX make inf / inf. */
		FUZZ_CHECK(isnan(r.share_5xx) ? isinf(r.rate) :
		    r.share_5xx >= 0 && r.share_5xx <= 100 + 1e-9);
		for (i = 1; i < r.ntop; i++)
			FUZZ_CHECK(r.top[i - 1].count >= r.top[i].count);
	} else
		FUZZ_CHECK(strstr(err, "tokend_workers") != NULL);
	prom_free(&before);
	prom_free(&after);
	return 0;
}
