/*
 * fuzz_stats.c - libFuzzer harness of the front's reader of the workers'
 * figures (src/pool/stats.c, stats_heartbeat) and of the text it serves
 * (core/metrics.c).
 *
 * A worker's HEARTBEAT is a peer's bytes: a remote worker host, or a
 * process that took a worker's place, chooses every field.  Whatever it
 * sends, the metrics must stay what docs/metrics.md says: every label
 * value of the output is one of the closed sets (the configured services
 * and formats, the error codes, the fixed states, kinds, causes, roles),
 * no counter ever goes down from one scrape to the next, and each line is
 * a comment or NAME{LABELS} VALUE.
 *
 * Input: messages separated by 0xfe bytes, fields within a message by
 * 0xff, a field's key and value by its first 0x00; a message's first byte
 * picks the worker (one of four identities) that sends it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/stats.h"

#include "../fuzz.h"

static const char *const services[] = { "sync-1.5", "notes" };
static const char *const formats[] = { "tokenlib", "fernet" };

/* The label values the output may hold, by label name. */
static const char *const allowed[] = {
	"endpoint=token", "endpoint=mozilla", "endpoint=oauth",
	"endpoint=lbheartbeat", "endpoint=heartbeat", "endpoint=version",
	"endpoint=other", "reason=invalid-request",
	"reason=invalid-credentials", "reason=invalid-timestamp",
	"reason=unknown-service", "reason=error", "service=sync-1.5",
	"service=notes", "format=tokenlib", "format=fernet", "state=idle",
	"state=busy", "state=lost", "kind=local", "kind=remote",
	"cause=crash", "cause=signal", "cause=recycle", "cause=hang",
	"result=ok", "result=error", "role=supervisor", "role=front",
	"role=worker",
};

#define MAX_SAMPLES	512

struct sample {
	char	key[256];	/* the line up to its value */
	double	v;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int
label_ok(const char *name, size_t nlen, const char *val, size_t vlen)
{
	char	 pair[128];
	size_t	 i;

	if (nlen == 2 && memcmp(name, "le", 2) == 0)
		return 1;
	if (nlen == 6 && memcmp(name, "status", 6) == 0) {
		if (vlen == 5 && memcmp(val, "other", 5) == 0)
			return 1;
		return vlen == 3 && val[0] >= '1' && val[0] <= '5' &&
		    val[1] >= '0' && val[1] <= '9' && val[2] >= '0' &&
		    val[2] <= '9';
	}
	if (nlen + vlen + 2 > sizeof(pair))
		return 0;
	snprintf(pair, sizeof(pair), "%.*s=%.*s", (int)nlen, name, (int)vlen,
	    val);
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(pair, allowed[i]) == 0)
			return 1;
	return 0;
}

/* Checks one sample line's labels; returns the position of its value. */
static const char *
check_line(const char *line, const char *end)
{
	const char	*p = line, *name, *val;

	for (; p < end && *p != '{' && *p != ' '; p++)
		FUZZ_CHECK(*p == '_' || (*p >= 'a' && *p <= 'z'));
	if (p < end && *p == '{') {
		p++;
		while (*p != '}') {
			name = p;
			while (*p != '=')
				p++;
			FUZZ_CHECK(p[1] == '"');
			val = p + 2;
			p = val;
			while (*p != '"') {
				/* A closed set holds no byte to escape. */
				FUZZ_CHECK(*p != '\\' && *p != '\n');
				p++;
			}
			FUZZ_CHECK(label_ok(name, (size_t)(val - 2 - name),
			    val, (size_t)(p - val)));
			p++;
			if (*p == ',')
				p++;
		}
		p++;
	}
	FUZZ_CHECK(*p == ' ');
	return p + 1;
}

/* Every sample of text into s; returns how many. */
static size_t
read_samples(const char *text, struct sample *s)
{
	const char	*line = text, *end, *val;
	size_t		 n = 0;

	for (; *line != '\0'; line = end + 1) {
		end = strchr(line, '\n');
		FUZZ_CHECK(end != NULL);
		if (*line == '#')
			continue;
		val = check_line(line, end);
		FUZZ_CHECK(n < MAX_SAMPLES);
		FUZZ_CHECK((size_t)(val - line) < sizeof(s[n].key));
		memcpy(s[n].key, line, (size_t)(val - line));
		s[n].key[val - line] = '\0';
		s[n].v = strtod(val, NULL);
		FUZZ_CHECK(isfinite(s[n].v) && s[n].v >= 0);
		n++;
	}
	return n;
}

static struct sample	before[MAX_SAMPLES], after[MAX_SAMPLES];

/* No counter, bucket, sum or count went down (gauges may). */
static void
check_monotonic(const struct sample *a, size_t na, const struct sample *b,
    size_t nb)
{
	size_t	i, j;

	for (i = 0; i < na; i++) {
		if (strncmp(a[i].key, "tokend_workers", 14) == 0 ||
		    strncmp(a[i].key, "tokend_queue_length", 19) == 0 ||
		    strncmp(a[i].key, "tokend_inflight", 15) == 0 ||
		    strncmp(a[i].key, "tokend_issuers_without", 22) == 0 ||
		    strncmp(a[i].key, "tokend_db_up", 12) == 0 ||
		    strncmp(a[i].key, "tokend_process_resident", 23) == 0)
			continue;
		for (j = 0; j < nb && strcmp(a[i].key, b[j].key) != 0; j++)
			;
		FUZZ_CHECK(j < nb);	/* a series never disappears */
		FUZZ_CHECK(b[j].v >= a[i].v);
	}
}

static char *
scrape(struct stats *st)
{
	struct pool_census	 c = { .queued = 1 };
	size_t			 len;
	char			*t = stats_scrape(st, &c, 1000, &len);

	FUZZ_CHECK(t != NULL && strlen(t) == len);
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const idents[] = { "w0", "w1", "w2", "w3" };
	struct proto_msg	 m;
	struct stats		*st;
	const uint8_t		*msg = data, *end = data + size, *me, *f, *fe;
	const uint8_t		*nul;
	size_t			 na, nb;
	char			*t;
	uint64_t		 now = 0;

	st = stats_new(&(struct stats_settings){ .services = services,
	    .formats = formats, .nservices = 2, .fresh_ms = 3000,
	    .requests = 1 });
	FUZZ_CHECK(st != NULL);
	t = scrape(st);
	na = read_samples(t, before);
	free(t);
	while (msg < end) {
		if ((me = memchr(msg, 0xfe, (size_t)(end - msg))) == NULL)
			me = end;
		memset(&m, 0, sizeof(m));
		m.version = PROTO_VERSION;
		m.cmd = PROTO_HEARTBEAT;
		for (f = msg + (msg < me); f < me && m.nfields <
		    PROTO_MAX_FIELDS; f = fe + 1) {
			if ((fe = memchr(f, 0xff, (size_t)(me - f))) == NULL)
				fe = me;
			if ((nul = memchr(f, 0, (size_t)(fe - f))) == NULL)
				nul = fe;
			m.f[m.nfields].key = (const char *)f;
			m.f[m.nfields].keylen = (size_t)(nul - f);
			m.f[m.nfields].val = nul < fe ? nul + 1 : nul;
			m.f[m.nfields].vallen = nul < fe ?
			    (size_t)(fe - nul - 1) : 0;
			m.nfields++;
			if (fe == me)
				break;
		}
		now += 100;
		(void)stats_heartbeat(st, idents[msg < me ? *msg & 3 : 0], 2,
		    &m, now);
		t = scrape(st);
		nb = read_samples(t, after);
		free(t);
		check_monotonic(before, na, after, nb);
		memcpy(before, after, nb * sizeof(after[0]));
		na = nb;
		msg = me + 1;
	}
	stats_free(st);
	return 0;
}
