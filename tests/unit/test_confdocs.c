/*
 * test_confdocs.c - conf/tokend.conf and tokend.conf(5) against the key
 * tables they are written from (src/config.c, src/tokens/service.c).
 *
 * Every key has one source: its table entry holds its default, bounds,
 * reload scope and text.  Both documents hold, between two marker lines,
 * exactly what conf_describe() makes of the tables, so a key added without
 * its text, or a text changed on one side only, fails here and cannot
 * drift.  With --write (scripts/confdocs) this program rewrites the two
 * regions instead of checking them.  The example file is also loaded as
 * a config, with the files it names: the shipped example must be one
 * tokend accepts.
 *
 * Run from the top of the source tree (tests/run does), where the two
 * documents are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/conf.h"
#include "testutil.h"

#define EXAMPLE_PATH	"conf/tokend.conf"
#define MAN_PATH	"docs/man/tokend.conf.5"

/* The lines around each document's generated region. */
static const struct document {
	const char	*path;
	enum conf_doc	 doc;
	const char	*begin, *end;
} documents[] = {
	{ EXAMPLE_PATH, CONF_DOC_EXAMPLE,
	  "# ---- the keys: written from src/'s key tables by scripts/confdocs "
	  "----\n",
	  "# ---- end of the keys ----\n" },
	{ MAN_PATH, CONF_DOC_MAN,
	  ".\\\" ---- the keys: written from src/'s key tables by "
	  "scripts/confdocs ----\n",
	  ".\\\" ---- end of the keys ----\n" },
};

/* The EC key of RFC 7515 A.3, for the example's jwks_file. */
#define JWKS_A3 \
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\"," \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}\n"
#define SECRET \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"

/* What conf_describe() writes for schema, in memory the caller frees. */
static char *
render(const struct conf_schema *schema, enum conf_doc doc, char *err,
    size_t errlen)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 rc;

	assert_non_null(f = open_memstream(&text, &len));
	rc = conf_describe(schema, doc, f, err, errlen);
	assert_int_equal(fclose(f), 0);
	if (rc == -1) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * The generated region of text: *start at its first byte (past the begin
 * line), *len bytes up to the end line; -1 if the markers are missing.
 */
static int
region(const char *text, const struct document *d, size_t *start,
    size_t *len)
{
	const char	*b, *e;

	if ((b = strstr(text, d->begin)) == NULL)
		return -1;
	b += strlen(d->begin);
	if ((e = strstr(b, d->end)) == NULL)
		return -1;
	*start = (size_t)(b - text);
	*len = (size_t)(e - b);
	return 0;
}

/* The 1-based line where a and b first differ, or 0 if they are equal. */
static int
first_difference(const char *a, size_t alen, const char *b, size_t blen,
    size_t *at)
{
	size_t	i;
	int	line = 1;

	for (i = 0; i < alen && i < blen && a[i] == b[i]; i++)
		if (a[i] == '\n')
			line++;
	*at = i;
	return i == alen && i == blen ? 0 : line;
}

/* One line of s from byte at on (at most 100 bytes), for a message. */
static const char *
line_at(const char *s, size_t len, size_t at)
{
	static char	buf[2][128];
	static int	next;
	char		*b = buf[next++ % 2];
	size_t		 start = at, n;

	while (start > 0 && s[start - 1] != '\n')
		start--;
	for (n = 0; start + n < len && s[start + n] != '\n' && n < 100; n++)
		;
	snprintf(b, sizeof(buf[0]), "%.*s", (int)n, s + start);
	return b;
}

/* The document d holds what the tables make of it, or the test fails. */
static void
assert_current(const struct document *d)
{
	char	*file, *want, err[4096];
	size_t	 flen, start = 0, len = 0, at;
	int	 line;

	assert_non_null(file = tu_read_file(d->path, &flen));
	if ((want = render(config_schema(), d->doc, err, sizeof(err))) == NULL)
		fail_msg("the key tables lack what %s needs:\n%s", d->path,
		    err);
	if (region(file, d, &start, &len) == -1)
		fail_msg("%s: no \"%.*s\" ... \"%.*s\" lines", d->path,
		    (int)strlen(d->begin) - 1, d->begin,
		    (int)strlen(d->end) - 1, d->end);
	line = first_difference(file + start, len, want, strlen(want), &at);
	if (line != 0)
		fail_msg("%s differs from the key tables at line %d of its "
		    "generated keys:\n  file:   %s\n  tables: %s\nrun "
		    "scripts/confdocs to write it again (and change a key's "
		    "text in its table, not in the document)", d->path, line,
		    line_at(file + start, len, at),
		    line_at(want, strlen(want), at));
	free(want);
	free(file);
}

static void
test_example_current(void **state)
{
	assert_current(&documents[0]);
}

static void
test_man_current(void **state)
{
	assert_current(&documents[1]);
}

/*
 * A key added to a table without its text cannot be written out, and one
 * with its text changes the documents: either way the checks above fail.
 * A copy of [server]'s table with one more key shows both.
 */
static void
test_new_key_needs_its_doc(void **state)
{
	const struct conf_schema	*real = config_schema();
	struct conf_section		 sections[CONF_MAX_SECTIONS + 1];
	struct conf_key			 keys[CONF_MAX_KEYS + 1];
	struct conf_schema		 schema = *real;
	char				*was, *now, err[4096];
	size_t				 n, s;

	for (s = 0; real->sections[s].name != NULL; s++)
		sections[s] = real->sections[s];
	sections[s] = real->sections[s];
	for (n = 0; sections[0].keys[n].name != NULL; n++)
		keys[n] = sections[0].keys[n];
	keys[n] = (struct conf_key){ "dummy_key", &conf_int, 0, 0, 1, "0",
	    CONF_RELOAD, .doc = NULL };
	keys[n + 1] = (struct conf_key){ .name = NULL };
	sections[0].keys = keys;
	schema.sections = sections;

	assert_null(render(&schema, CONF_DOC_EXAMPLE, err, sizeof(err)));
	assert_non_null(strstr(err, "[server] dummy_key: no doc"));
	assert_null(render(&schema, CONF_DOC_MAN, err, sizeof(err)));
	assert_non_null(strstr(err, "[server] dummy_key: no doc"));

	keys[n].reload = CONF_UNSTATED;
	keys[n].doc = "A key to come.";
	assert_null(render(&schema, CONF_DOC_MAN, err, sizeof(err)));
	assert_non_null(strstr(err, "[server] dummy_key: reload not stated"));

	keys[n].reload = CONF_RELOAD;
	assert_non_null(was = render(real, CONF_DOC_MAN, err, sizeof(err)));
	assert_non_null(now = render(&schema, CONF_DOC_MAN, err, sizeof(err)));
	assert_string_not_equal(was, now);
	assert_non_null(strstr(now, ".TP\n.B dummy_key\nA key to come.  From 0 "
	    "to 1, default 0.  A reload applies it.\n"));
	free(was);
	free(now);
	assert_non_null(now = render(&schema, CONF_DOC_EXAMPLE, err,
	    sizeof(err)));
	assert_non_null(strstr(now, "# A key to come.  From 0 to 1, default 0.  "
	    "A reload applies it.\ndummy_key = 0\n"));
	free(now);
}

/*
 * s with the comment lines ("# ...") of each block joined into one, each
 * line break and the "# " after it a space, so that a check does not
 * depend on where wrap() broke the lines.
 */
static char *
unwrap(char *s, const char *prefix)
{
	char	*in = s, *out = s;
	size_t	 n = strlen(prefix);
	int	 comment = strncmp(s, prefix, n) == 0;

	while (*in != '\0') {
		if (in[0] != '\n') {
			*out++ = *in++;
			continue;
		}
		if (comment && strncmp(in + 1, prefix, n) == 0) {
			*out++ = ' ';
			in += 1 + n;
			continue;
		}
		*out++ = *in++;
		comment = strncmp(in, prefix, n) == 0;
	}
	*out = '\0';
	return s;
}

/* What each key's rendering says, from its table entry. */
static void
test_key_facts(void **state)
{
	char	*ex, *man, err[4096];

	assert_non_null(ex = render(config_schema(), CONF_DOC_EXAMPLE, err,
	    sizeof(err)));
	assert_non_null(man = render(config_schema(), CONF_DOC_MAN, err,
	    sizeof(err)));
	unwrap(ex, "# ");
	/* Default and bounds, restart. */
	assert_non_null(strstr(ex, "From 1 to 300, default 5.  Needs a "
	    "restart: a reload keeps the running value.\nrequest_timeout = "
	    "5\n"));
	/* Required: the example sets it. */
	assert_non_null(strstr(ex, "Required.  A reload applies it.\n"
	    "issuer = api.accounts.firefox.com\n"));
	/* Required but for one case, which its text names. */
	assert_non_null(strstr(ex, "Required, except on a front with remote "
	    "workers only ([remote]), which keys no uid.  A reload applies "
	    "it.\nuid_secret_file = uid.secret\n"));
	/* The way to make a secret tokend accepts, whole on one line. */
	assert_non_null(strstr(ex, "`(umask 077; openssl rand -hex 32 > "
	    "uid.secret)`"));
	assert_non_null(strstr(man, "\\fB(umask 077; openssl rand \\-hex 32 > "
	    "uid.secret)\\fR"));
	/* Optional, shown commented out. */
	assert_non_null(strstr(ex, "\n#nodes_file = sync.nodes\n"));
	/* A default shown commented out: it needs jwks_url. */
	assert_non_null(strstr(ex, "\n#jwks_refresh = 3600\n"));
	/* Every section, [browserid] too, with its example NAME. */
	assert_non_null(strstr(ex, "\n[server]\n"));
	assert_non_null(strstr(ex, "\n[issuer example]\n"));
	assert_non_null(strstr(ex, "\n[browserid firefox-accounts]\n"));
	assert_non_null(strstr(ex, "\n[service sync-1.5]\n"));
	assert_non_null(strstr(man, ".SH [browserid NAME]\n"));
	assert_non_null(strstr(man, ".TP\n.B nodes_file\n"));
	assert_non_null(strstr(man, ".TP\n.B format\n"));
	/* No troff request can start a line of text. */
	assert_null(strstr(man, "\n'"));
	free(ex);
	free(man);
}

/* The example, with the files it names, is a config tokend accepts. */
static void
test_example_loads(void **state)
{
	struct config	*c;
	char		 dir[64], err[CONFIG_ERRLEN], *text, *key;

	assert_non_null(tu_tmpdir(dir, sizeof(dir), "confdocs"));
	assert_non_null(text = tu_read_file(EXAMPLE_PATH, NULL));
	assert_non_null(key = tu_read_file(tu_vector("browserid/idp.pub.json"),
	    NULL));
	tu_write_file(dir, "tokend.conf", text, 0644);
	tu_write_file(dir, "uid.secret", SECRET, 0600);
	tu_write_file(dir, "sync.secret", SECRET, 0600);
	tu_write_file(dir, "example.jwks", JWKS_A3, 0644);
	tu_write_file(dir, "firefox-accounts.json", key, 0644);
	if ((c = config_load(tu_path(dir, "tokend.conf"), err,
	    sizeof(err))) == NULL)
		fail_msg("%s refused:\n%s", EXAMPLE_PATH, err);
	assert_int_equal(c->nissuers, 1);
	assert_int_equal(c->nbrowserid, 1);
	assert_int_equal(c->nservices, 1);
	config_free(c);
	free(key);
	free(text);
	assert_int_equal(tu_rmtree(dir), 0);
}

/* ---- --write: scripts/confdocs ------------------------------------------ */

/* Replaces d's region with what the tables make of it; 0 or -1. */
static int
write_document(const struct document *d)
{
	char	*file, *want, err[4096], tmp[PATH_MAX];
	size_t	 flen, start, len;
	FILE	*f;
	int	 ok;

	if ((file = tu_read_file(d->path, &flen)) == NULL)
		return -1;
	if ((want = render(config_schema(), d->doc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: the key tables lack:\n%s", d->path, err);
		free(file);
		return -1;
	}
	if (region(file, d, &start, &len) == -1) {
		fprintf(stderr, "%s: no marker lines\n", d->path);
		free(want);
		free(file);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", d->path);
	ok = (f = fopen(tmp, "w")) != NULL &&
	    fwrite(file, 1, start, f) == start &&
	    fputs(want, f) != EOF &&
	    fwrite(file + start + len, 1, flen - start - len, f) ==
	    flen - start - len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, d->path) == -1) {
		perror(tmp);
		unlink(tmp);
		ok = 0;
	}
	free(want);
	free(file);
	return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_current),
		cmocka_unit_test(test_man_current),
		cmocka_unit_test(test_new_key_needs_its_doc),
		cmocka_unit_test(test_key_facts),
		cmocka_unit_test(test_example_loads),
	};
	size_t	i;
	int	rc = 0;

	if (argc == 2 && strcmp(argv[1], "--write") == 0) {
		for (i = 0; i < sizeof(documents) / sizeof(documents[0]); i++)
			if (write_document(&documents[i]) == -1)
				rc = 1;
		return rc;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
