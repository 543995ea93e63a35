/*
 * conf.c - the table-driven config engine (conf.h): the INI lexer's
 * callbacks, the section and key rules every section shares, the report of
 * a file's errors, the generic value types, what a reload keeps, and the
 * documents the tables are written out as.
 *
 * Why every error at once: an operator who fixes one mistake per run of
 * `tokend -t` needs as many runs as mistakes.  So nothing stops at an
 * error; errors are kept, sorted into file order and written out at the
 * end, each with the section it is in, an unknown name with the known one
 * nearest to it.
 *
 * Why an engine apart from config.c: the rules (a key once, a section
 * NAME unique and well formed, defaults, required keys, where an error is)
 * were spread over a 123-line switch and a chain of name comparisons that
 * every new section had to extend in six places.  Here they hold for any
 * table, so config.c keeps only what is tokend's (its sections, keys and
 * the checks that span them), and a section added later cannot get them
 * wrong.
 */
#include "core/conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/ini.h"
#include "core/log.h"

const char conf_optional[] = "(optional)";

#define CONF_KEEP_ERRORS 1000	/* kept to sort; the rest only counted */
#define LINE_LEXER	(INT_MAX - 1)	/* sorts the lexer's error last but
					   for the whole file's */

/* One error of the file, for the sorted report. */
struct conf_error {
	int	 line;		/* 0: the whole file */
	size_t	 seq;		/* order found: the sort is stable */
	char	*text;		/* "PATH:LINE: [section] message" */
};

struct conf {
	const struct conf_schema	*schema;
	void				*root;
	const char			*path;
	char				 dir[PATH_MAX];	/* the file's */
	const struct conf_section	*cur;	/* the section being read */
	void				*obj;	/* its object */
	char				 label[CONF_MAX_NAME + 48]; /* its
						   "[kind NAME]" */
	int				 seen[CONF_MAX_KEYS]; /* key -> line */
	int				 section_line;
	size_t				 section_nerr; /* nerr at its start */
	int				 section_unknown; /* it has an unknown
						   key */
	int				 present[CONF_MAX_SECTIONS]; /* unnamed
						   section -> its line */
	int				 line;	/* being read; 0 after */
	int				 skip;	/* keys of a refused section
						   header are ignored */
	int				 reading; /* the lexer runs */
	struct conf_error		*errs;	/* the first CONF_KEEP_ERRORS */
	size_t				 nerrs;
	size_t				 nerr;	/* found, kept or not */
	char				 last[1024]; /* the last message */
};

/* The "[kind NAME]" of the section whose header is the last before line. */
static void label_at(const struct conf *, int line, char *buf, size_t len);

/* Keeps text as an error at line (sorted by it); counted even unkept. */
static void
keep_error(struct conf *l, int line, const char *text)
{
	struct conf_error	*e;

	l->nerr++;
	if (l->nerrs == CONF_KEEP_ERRORS)
		return;
	if ((e = reallocarray(l->errs, l->nerrs + 1, sizeof(*e))) == NULL)
		return;
	l->errs = e;
	e = &e[l->nerrs];
	e->line = line;
	e->seq = l->nerrs;
	if ((e->text = strdup(text)) != NULL)
		l->nerrs++;
}

/*
 * "PATH:LINE: [section] message": the section being read (none for a
 * header or a key outside any), or once the file is read the one line falls
 * in, unless the message names it first.
 */
static void
vfail(struct conf *l, int line, const char *fmt, va_list ap)
{
	char	 text[PATH_MAX + sizeof(l->last) + sizeof(l->label) + 32];
	char	 label[sizeof(l->label)], where[PATH_MAX + 16];

	vsnprintf(l->last, sizeof(l->last), fmt, ap);
	if (l->cur != NULL || l->reading)
		snprintf(label, sizeof(label), "%s", l->label);
	else
		label_at(l, line, label, sizeof(label));
	if (label[0] != '\0' && strncmp(l->last, label, strlen(label)) == 0)
		label[0] = '\0';
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", l->path, line);
	else
		snprintf(where, sizeof(where), "%s", l->path);
	snprintf(text, sizeof(text), "%s: %s%s%s", where, label,
	    label[0] != '\0' ? " " : "", l->last);
	keep_error(l, line, text);
}

int
conf_fail(struct conf *l, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfail(l, l->line, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_fail_at(struct conf *l, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfail(l, line < 0 ? 0 : line, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * A setter, hook or check that failed (rc -1) without saying why still
 * fails the file: nothing is accepted by accident.
 */
static void
failed(struct conf *l, size_t nerr_before, int rc, const char *what)
{
	if (rc != 0 && l->nerr == nerr_before)
		conf_fail(l, "%s: refused", what);
}

static int
key_index(const struct conf *l, const char *name)
{
	int	i;

	for (i = 0; l->cur != NULL && l->cur->keys[i].name != NULL; i++)
		if (strcmp(l->cur->keys[i].name, name) == 0)
			return i;
	return -1;
}

int
conf_key_line(const struct conf *l, const char *name)
{
	int	i = key_index(l, name);

	return i >= 0 && l->seen[i] ? l->seen[i] : l->section_line;
}

int
conf_key_set(const struct conf *l, const char *name)
{
	int	i = key_index(l, name);

	return i >= 0 && l->seen[i] != 0;
}

int
conf_section_line(const struct conf *l)
{
	return l->section_line;
}

const char *
conf_filename(const struct conf *l)
{
	return l->path;
}

int
conf_resolve(struct conf *l, const char *v, char *out, size_t outlen)
{
	int	n;

	if (v[0] == '/')
		n = snprintf(out, outlen, "%s", v);
	else
		n = snprintf(out, outlen, "%s/%s", l->dir, v);
	if (n < 0 || (size_t)n >= outlen)
		return conf_fail(l, "path too long");
	return 0;
}

/* Relative paths in the file are relative to its directory. */
static int
set_dir(struct conf *l, const char *path)
{
	char		 abs[PATH_MAX];
	const char	*slash;
	int		 n;

	if (path[0] != '/') {
		if (getcwd(abs, sizeof(abs)) == NULL)
			return conf_fail(l, "getcwd: %s", strerror(errno));
		n = snprintf(l->dir, sizeof(l->dir), "%s/%s", abs, path);
	} else
		n = snprintf(l->dir, sizeof(l->dir), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(l->dir))
		return conf_fail(l, "%s: path too long", path);
	if ((slash = strrchr(l->dir, '/')) != NULL)
		l->dir[slash == l->dir ? 1 : slash - l->dir] = '\0';
	return 0;
}

/* ---- the report -------------------------------------------------------- */

/* File order; errors of the whole file (line 0) after the rest. */
static int
error_order(const void *a, const void *b)
{
	const struct conf_error	*x = a, *y = b;
	int			 lx = x->line ? x->line : INT_MAX;
	int			 ly = y->line ? y->line : INT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The errors into out, one a line, as many whole ones as fit (at most
 * CONF_MAX_ERRORS; the first one even cut), then how many are left.
 */
static void
write_errors(struct conf *l, char *out, size_t outlen)
{
	size_t	i, used = 0, shown = 0, room;
	int	n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	qsort(l->errs, l->nerrs, sizeof(*l->errs), error_order);
	/* Keep room for the last line, "PATH: N more errors (M in all)". */
	room = outlen > 96 ? outlen - 96 : 0;
	for (i = 0; i < l->nerrs && shown < CONF_MAX_ERRORS; i++) {
		if (shown > 0 && used + strlen(l->errs[i].text) + 1 >= room)
			break;
		n = snprintf(out + used, outlen - used, "%s%s",
		    shown > 0 ? "\n" : "", l->errs[i].text);
		used = n < 0 || (size_t)n >= outlen - used ? outlen - 1 :
		    used + n;
		shown++;
	}
	if (l->nerr > shown && used + 1 < outlen)
		snprintf(out + used, outlen - used, "%s%s: %zu more error%s "
		    "(%zu in all)", shown > 0 ? "\n" : "", l->path,
		    l->nerr - shown, l->nerr - shown == 1 ? "" : "s", l->nerr);
}

static void
free_errors(struct conf *l)
{
	size_t	i;

	for (i = 0; i < l->nerrs; i++)
		free(l->errs[i].text);
	free(l->errs);
	l->errs = NULL;
	l->nerrs = 0;
}

/* ---- suggestions ------------------------------------------------------- */

#define NEAR_MAX	CONF_MAX_NAME	/* longer names get no suggestion */

static int
same(char a, char b)
{
	return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/*
 * The optimal string alignment distance of a and b, case aside: edits,
 * with two swapped letters as one ("secert" is one from "secret").
 */
static size_t
distance(const char *a, const char *b)
{
	size_t	 d[3][NEAR_MAX + 1], la = strlen(a), lb = strlen(b), i, j;
	size_t	*r, *p, *pp;	/* rows i, i - 1 and i - 2 */

	if (la > NEAR_MAX || lb > NEAR_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		r = d[i % 3];
		p = d[(i + 2) % 3];
		pp = d[(i + 1) % 3];
		r[0] = i;
		for (j = 1; j <= lb; j++) {
			r[j] = p[j - 1] + !same(a[i - 1], b[j - 1]);
			if (p[j] + 1 < r[j])
				r[j] = p[j] + 1;
			if (r[j - 1] + 1 < r[j])
				r[j] = r[j - 1] + 1;
			if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) &&
			    same(a[i - 2], b[j - 1]) && pp[j - 2] + 1 < r[j])
				r[j] = pp[j - 2] + 1;
		}
	}
	return d[la % 3][lb];
}

/* How near typo is to name: an edit distance up to 2, 3 for a prefix. */
static size_t
nearness(const char *typo, const char *name)
{
	size_t	d = distance(typo, name), lt = strlen(typo), ln = strlen(name);

	if (d <= 2 && d < lt)
		return d;
	if ((lt >= 3 && lt < ln && strncasecmp(typo, name, lt) == 0) ||
	    (ln >= 3 && ln < lt && strncasecmp(typo, name, ln) == 0))
		return 3;
	return SIZE_MAX;
}

/* The nearest of names[0..n) to typo, the first of equals; NULL: none. */
static const char *
nearest(const char *typo, const char *const *names, size_t n)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = SIZE_MAX;

	for (i = 0; i < n; i++)
		if ((d = nearness(typo, names[i])) < bestd) {
			bestd = d;
			best = names[i];
		}
	return best;
}

/* ", did you mean ..." for an unknown key of the current section. */
static void
suggest_key(const struct conf *l, const char *key, char *buf, size_t len)
{
	const struct conf_section	*s;
	const char			*names[CONF_MAX_KEYS];
	size_t				 n;

	buf[0] = '\0';
	for (n = 0; n < CONF_MAX_KEYS && l->cur->keys[n].name != NULL; n++)
		names[n] = l->cur->keys[n].name;
	if ((names[0] = nearest(key, names, n)) != NULL) {
		snprintf(buf, len, "; did you mean \"%s\"?", names[0]);
		return;
	}
	/* A key of another section: say where it belongs. */
	for (s = l->schema->sections; s->name != NULL; s++)
		for (n = 0; s != l->cur && s->keys[n].name != NULL; n++)
			if (strcmp(s->keys[n].name, key) == 0) {
				snprintf(buf, len, " (it is a key of [%s%s])",
				    s->name, s->named ? " NAME" : "");
				return;
			}
}

/* ---- objects ------------------------------------------------------- */

/* The objects of section s in root: *n of them, s->size bytes apart. */
static char *
objects(const struct conf_section *s, void *root, size_t *n)
{
	char	*at = (char *)root + s->off;

	if (s->named) {
		*n = *(size_t *)((char *)root + s->count_off);
		return *(char **)at;
	}
	if (s->size == 0) {
		*n = 1;
		return at;
	}
	*n = *(char **)at != NULL;
	return *(char **)at;
}

static char *
name_of(const struct conf_section *s, char *obj)
{
	return *(char **)(obj + s->name_off);
}

static int
named_exists(const struct conf *l, const struct conf_section *s,
    const char *name)
{
	char	*o;
	size_t	 i, n;

	o = objects(s, l->root, &n);
	for (i = 0; i < n; i++, o += s->size)
		if (strcmp(name_of(s, o), name) == 0)
			return 1;
	return 0;
}

/* A new element of a named section's array, zeroed, or NULL. */
static void *
add_named(struct conf *l, const struct conf_section *s, const char *name,
    int line)
{
	char	**arr = (char **)((char *)l->root + s->off), *o, *a;
	size_t	 *n = (size_t *)((char *)l->root + s->count_off);

	if (*n == s->max) {
		conf_fail(l, "too many [%s] sections (at most %zu)", s->name,
		    s->max);
		return NULL;
	}
	if ((a = reallocarray(*arr, *n + 1, s->size)) == NULL) {
		conf_fail(l, "out of memory");
		return NULL;
	}
	*arr = a;
	o = a + *n * s->size;
	memset(o, 0, s->size);
	(*n)++;
	*(int *)(o + s->line_off) = line;
	if ((*(char **)(o + s->name_off) = strdup(name)) == NULL) {
		conf_fail(l, "out of memory");
		return NULL;
	}
	return o;
}

/* The object of an unnamed section: in place, or allocated once. */
static void *
unnamed_object(struct conf *l, const struct conf_section *s)
{
	void	**p = (void **)((char *)l->root + s->off);

	if (s->size == 0)
		return p;
	if (*p == NULL && (*p = calloc(1, s->size)) == NULL)
		conf_fail(l, "out of memory");
	return *p;
}

static void
label_at(const struct conf *l, int line, char *buf, size_t len)
{
	const struct conf_section	*s;
	char				*o;
	size_t				 i, j, n;
	int				 best = 0, at;

	buf[0] = '\0';
	for (i = 0, s = l->schema->sections; s->name != NULL; i++, s++) {
		if (!s->named) {
			if (l->present[i] > best && l->present[i] <= line) {
				best = l->present[i];
				snprintf(buf, len, "[%s]", s->name);
			}
			continue;
		}
		o = objects(s, l->root, &n);
		for (j = 0; j < n; j++, o += s->size) {
			at = *(int *)(o + s->line_off);
			if (at > best && at <= line) {
				best = at;
				snprintf(buf, len, "[%s %s]", s->name,
				    name_of(s, o));
			}
		}
	}
}

/* ---- sections ------------------------------------------------------- */

/*
 * Applies defaults, reports every required key left out, and runs the
 * finish hook if the section is without error so far.  A section with an
 * unknown key reports none left out: that key is most likely one of them,
 * misspelt, and its error says which.
 */
static void
finish_section(struct conf *l)
{
	const struct conf_section	*s = l->cur;
	const struct conf_key		*k;
	size_t				 i, before;

	if (s == NULL)
		return;
	for (i = 0, k = s->keys; k->name != NULL; i++, k++) {
		if (l->seen[i] || k->def == CONF_OPTIONAL)
			continue;
		if (k->def == NULL) {
			if (!l->section_unknown)
				conf_fail_at(l, l->section_line, "missing "
				    "required key \"%s\"", k->name);
			continue;
		}
		/* Defaults are ours: failing one is a bug. */
		before = l->nerr;
		if (k->type->set(l, k, l->obj, k->def) == -1)
			fatalx("config: default of %s: %s", k->name,
			    l->nerr > before ? l->last : "refused");
	}
	if (s->finish != NULL && l->nerr == l->section_nerr) {
		before = l->nerr;
		failed(l, before, s->finish(l, l->obj), s->name);
	}
	l->cur = NULL;
	l->label[0] = '\0';
}

static void
begin_section(struct conf *l, const struct conf_section *s, void *obj,
    int line, const char *name)
{
	size_t	n;

	for (n = 0; s->keys[n].name != NULL; n++)
		;
	if (n > CONF_MAX_KEYS)
		fatalx("config: [%s] has more than %d keys", s->name,
		    CONF_MAX_KEYS);
	memset(l->seen, 0, sizeof(l->seen));
	l->cur = s;
	l->obj = obj;
	l->section_line = line;
	l->section_nerr = l->nerr;
	l->section_unknown = 0;
	snprintf(l->label, sizeof(l->label), "[%s%s%s]", s->name,
	    name != NULL ? " " : "", name != NULL ? name : "");
}

static int
valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > CONF_MAX_NAME)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.'))
			return 0;
	return 1;
}

/* " (did you mean [service NAME]?)" for an unknown [kind NAME]. */
static void
suggest_section(const struct conf *l, const char *kind, const char *name,
    char *buf, size_t len)
{
	const struct conf_section	*s;
	const char			*names[CONF_MAX_SECTIONS], *near;
	size_t				 n = 0;

	buf[0] = '\0';
	for (s = l->schema->sections; s->name != NULL; s++) {
		/* [server extra]: the kind is right, the NAME is not. */
		if (!s->named && name != NULL && strcmp(s->name, kind) == 0) {
			snprintf(buf, len, " ([%s] takes no NAME)", s->name);
			return;
		}
		if (n < CONF_MAX_SECTIONS)
			names[n++] = s->name;
	}
	if ((near = nearest(kind, names, n)) == NULL)
		return;
	for (s = l->schema->sections; strcmp(s->name, near) != 0; s++)
		;
	snprintf(buf, len, " (did you mean [%s%s%s]?)", near,
	    s->named ? " " : "", !s->named ? "" : name ? name : "NAME");
}

/* "unknown section [x]; expected [a], [b NAME] or [c NAME]". */
static void
unknown_section(struct conf *l, const char *kind, const char *name)
{
	const struct conf_section	*s;
	char				 list[512];
	char				 near[CONF_MAX_NAME * 2 + 64];
	size_t				 len = 0;

	list[0] = '\0';
	for (s = l->schema->sections; s->name != NULL && len < sizeof(list);
	    s++)
		len += snprintf(list + len, sizeof(list) - len, "%s[%s%s]",
		    s == l->schema->sections ? "" : s[1].name == NULL ? " or " :
		    ", ", s->name, s->named ? " NAME" : "");
	suggest_section(l, kind, name, near, sizeof(near));
	conf_fail(l, "unknown section [%s%s%s]%s; expected %s", kind,
	    name ? " " : "", name ? name : "", near, list);
}

/*
 * The object a header opens, or NULL (the error said why; the section's
 * keys are then skipped).
 */
static void *
open_section(struct conf *l, size_t i, const char *kind, const char *name,
    int line)
{
	const struct conf_section	*s = &l->schema->sections[i];
	void				*obj;

	if (!s->named) {
		if (l->present[i]) {
			conf_fail(l, "[%s] appears twice (first on line %d)",
			    kind, l->present[i]);
			return NULL;
		}
		l->present[i] = line;
		return unnamed_object(l, s);
	}
	if (name == NULL || !valid_name(name)) {
		conf_fail(l, "[%s NAME]: NAME must be 1-%d of A-Z a-z 0-9 . _ "
		    "-", kind, CONF_MAX_NAME);
		return NULL;
	}
	if (named_exists(l, s, name)) {
		conf_fail(l, "[%s %s] appears twice", kind, name);
		return NULL;
	}
	if ((obj = add_named(l, s, name, line)) == NULL)
		return NULL;
	return obj;
}

static int
on_section(void *arg, int line, const char *kind, const char *name,
    char *err, size_t errlen)
{
	struct conf			*l = arg;
	const struct conf_section	*s;
	void				*obj;
	size_t				 i;

	finish_section(l);
	l->line = line;
	l->skip = 1;
	for (i = 0, s = l->schema->sections; s->name != NULL; i++, s++)
		if (strcmp(s->name, kind) == 0 && (s->named || name == NULL))
			break;
	if (s->name == NULL)
		unknown_section(l, kind, name);
	else if ((obj = open_section(l, i, kind, name, line)) != NULL) {
		l->skip = 0;
		begin_section(l, s, obj, line, s->named ? name : NULL);
	}
	return 0;
}

static int
on_key(void *arg, int line, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct conf	*l = arg;
	char		 near[CONF_MAX_NAME * 2 + 64];
	size_t		 before;
	int		 i;

	l->line = line;
	if (l->cur == NULL) {
		if (!l->skip)
			conf_fail(l, "key \"%s\" outside any section", key);
		return 0;
	}
	if ((i = key_index(l, key)) == -1) {
		l->section_unknown = 1;
		suggest_key(l, key, near, sizeof(near));
		conf_fail(l, "unknown key \"%s\" in this section%s", key, near);
		return 0;
	}
	if (l->seen[i]) {
		conf_fail(l, "\"%s\" already set on line %d", key, l->seen[i]);
		return 0;
	}
	l->seen[i] = line;
	before = l->nerr;
	failed(l, before, l->cur->keys[i].type->set(l, &l->cur->keys[i],
	    l->obj, value), key);
	return 0;
}

/*
 * Unnamed sections the file left out: refused when they have a required
 * key, otherwise built from their defaults.
 */
static void
finish_missing(struct conf *l)
{
	const struct conf_section	*s;
	const struct conf_key		*k;
	void				*obj;
	size_t				 i;

	for (i = 0, s = l->schema->sections; s->name != NULL; i++, s++) {
		if (s->named || l->present[i])
			continue;
		for (k = s->keys; k->name != NULL && k->def != NULL; k++)
			;
		if (k->name != NULL) {
			conf_fail_at(l, 0, "no [%s] section (%s is required "
			    "there)", s->name, k->name);
			continue;
		}
		if ((obj = unnamed_object(l, s)) == NULL)
			continue;
		begin_section(l, s, obj, 0, NULL);
		finish_section(l);
	}
}

/* Reads the file to its end, then runs the checks it is ready for. */
static void
read_file(struct conf *l)
{
	static const struct ini_handler	 handler = { on_section, on_key };
	char				 lexer[PATH_MAX + 1024];
	size_t				 before;
	int				 rc;

	l->reading = 1;
	rc = ini_parse(l->path, &handler, l, lexer, sizeof(lexer));
	l->reading = 0;
	l->line = 0;
	if (rc == -1) {
		/* The lexer stopped: the rest of the file is unknown. */
		keep_error(l, LINE_LEXER, lexer);
		return;
	}
	finish_section(l);
	finish_missing(l);
	/* Checks across sections suppose every section valid. */
	if (l->nerr == 0 && l->schema->check != NULL) {
		before = l->nerr;
		failed(l, before, l->schema->check(l, l->root), l->path);
	}
}

int
conf_load(const char *path, const struct conf_schema *schema, void *root,
    char *err, size_t errlen)
{
	struct conf	l;
	size_t		n;

	for (n = 0; schema->sections[n].name != NULL; n++)
		;
	if (n > CONF_MAX_SECTIONS)
		fatalx("config: more than %d sections", CONF_MAX_SECTIONS);
	memset(&l, 0, sizeof(l));
	l.schema = schema;
	l.root = root;
	l.path = path;
	if (set_dir(&l, path) == 0)
		read_file(&l);
	if (l.nerr > 0)
		write_errors(&l, err, errlen);
	free_errors(&l);
	return l.nerr > 0 ? -1 : 0;
}

void
conf_clear(const struct conf_schema *schema, void *root)
{
	const struct conf_section	*s;
	const struct conf_key		*k;
	char				*o, *first;
	size_t				 i, n;

	for (s = schema->sections; s->name != NULL; s++) {
		first = objects(s, root, &n);
		for (i = 0, o = first; i < n; i++, o += s->size) {
			if (s->clear != NULL)
				s->clear(o);
			for (k = s->keys; k->name != NULL; k++)
				if (k->type->clear != NULL)
					k->type->clear(k, o);
			if (s->named)
				free(name_of(s, o));
		}
		if (s->named || s->size != 0) {
			free(first);
			*(void **)((char *)root + s->off) = NULL;
		}
		if (s->named)
			*(size_t *)((char *)root + s->count_off) = 0;
	}
}

void
conf_purge(const struct conf_schema *schema, void *root)
{
	const struct conf_section	*s;
	const struct conf_key		*k;
	char				*o;
	size_t				 i, n;

	for (s = schema->sections; s->name != NULL; s++)
		for (i = 0, o = objects(s, root, &n); i < n; i++, o += s->size)
			for (k = s->keys; k->name != NULL; k++)
				if (k->type->purge != NULL)
					k->type->purge(k, o);
}

/* ---- generic value types ---------------------------------------------- */

int
conf_parse_long(const char *v, long *out)
{
	char	*end;

	/* strtol would also take " 80" and "+80"; a config value is digits. */
	if (!((v[0] >= '0' && v[0] <= '9') ||
	    (v[0] == '-' && v[1] >= '0' && v[1] <= '9')))
		return -1;
	errno = 0;
	*out = strtol(v, &end, 10);
	return (errno != 0 || end == v || *end != '\0') ? -1 : 0;
}

/* The C types a number key may fill. */
enum width { W_INT, W_LONG, W_I64, W_SIZE };

/* Digits within [min, max], times scale (a unit of the file in memory). */
static int
set_number(struct conf *l, const struct conf_key *k, void *obj,
    const char *v, enum width w, long scale)
{
	void	*field = CONF_FIELD(obj, k);
	long	 n;

	if (conf_parse_long(v, &n) == -1 || n < k->min || n > k->max)
		return conf_fail(l, "%s: expected an integer from %ld to %ld, "
		    "got \"%s\"", k->name, k->min, k->max, v);
	n *= scale;
	switch (w) {
	case W_INT:
		*(int *)field = (int)n;
		break;
	case W_LONG:
		*(long *)field = n;
		break;
	case W_I64:
		*(int64_t *)field = n;
		break;
	case W_SIZE:
		*(size_t *)field = (size_t)n;
		break;
	}
	return 0;
}

static int
set_int(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	return set_number(l, k, obj, v, W_INT, 1);
}

static int
set_i64(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	return set_number(l, k, obj, v, W_I64, 1);
}

static int
set_long(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	return set_number(l, k, obj, v, W_LONG, 1);
}

static int
set_size(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	return set_number(l, k, obj, v, W_SIZE, 1);
}

/* Seconds in the file, milliseconds in memory. */
static int
set_msec(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	return set_number(l, k, obj, v, W_INT, 1000);
}

/* MiB in the file, KiB in memory. */
static int
set_mib(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	return set_number(l, k, obj, v, W_LONG, 1024);
}

/* One of names[] (case aside): its index into *(int *)field, or -1. */
static int
set_word(const struct conf_key *k, void *obj, const char *v,
    const char *const *names, const int *values, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0) {
			*(int *)CONF_FIELD(obj, k) = values[i];
			return 0;
		}
	return -1;
}

static int
set_bool(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	static const char *const names[] = { "on", "off", "yes", "no", "true",
	    "false", "1", "0" };
	static const int values[] = { 1, 0, 1, 0, 1, 0, 1, 0 };

	if (set_word(k, obj, v, names, values, 8) == -1)
		return conf_fail(l, "%s: expected on or off, got \"%s\"",
		    k->name, v);
	return 0;
}

static int
set_loglevel(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	static const char *const names[] = { "error", "warning", "info",
	    "debug" };
	static const int values[] = { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO,
	    LOG_LVL_DEBUG };

	if (set_word(k, obj, v, names, values, 4) == -1)
		return conf_fail(l, "%s: expected error, warning, info or "
		    "debug, got \"%s\"", k->name, v);
	return 0;
}

static int
set_logformat(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	static const char *const names[] = { "text", "json" };
	static const int values[] = { LOG_FMT_TEXT, LOG_FMT_JSON };

	if (set_word(k, obj, v, names, values, 2) == -1)
		return conf_fail(l, "%s: expected text or json, got \"%s\"",
		    k->name, v);
	return 0;
}

void
conf_clear_str(const struct conf_key *k, void *obj)
{
	char	**field = CONF_FIELD(obj, k);

	free(*field);
	*field = NULL;
}

static int
store_str(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	char	*copy;

	if ((copy = strdup(v)) == NULL)
		return conf_fail(l, "out of memory");
	conf_clear_str(k, obj);
	*(char **)CONF_FIELD(obj, k) = copy;
	return 0;
}

static int
set_str(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	if (*v == '\0')
		return conf_fail(l, "%s: empty value", k->name);
	return store_str(l, k, obj, v);
}

static int
set_path(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	char	path[PATH_MAX];

	if (*v == '\0')
		return conf_fail(l, "%s: empty value", k->name);
	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	return store_str(l, k, obj, path);
}

static int
set_url(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return conf_fail(l, "%s: expected an http:// or https:// URL, "
		    "got \"%s\"", k->name, v);
	return set_str(l, k, obj, v);
}

/* A key set fetched over plain HTTP is a key set anyone can replace. */
static int
set_https(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	if (strncmp(v, "https://", 8) != 0 || v[8] == '\0')
		return conf_fail(l, "%s: expected an https:// URL (plain "
		    "http:// is refused), got \"%s\"", k->name, v);
	return store_str(l, k, obj, v);
}

/* ---- showing and swapping values, for a reload ------------------------ */

/* The C type of a number type's field, and its unit in the file. */
static enum width
number_kind(const struct conf_type *t, long *scale)
{
	*scale = t == &conf_msec ? 1000 : t == &conf_mib ? 1024 : 1;
	if (t == &conf_i64)
		return W_I64;
	if (t == &conf_long || t == &conf_mib)
		return W_LONG;
	if (t == &conf_size)
		return W_SIZE;
	return W_INT;
}

/* The number at k's field, as set stored it. */
static long
number_at(const struct conf_key *k, const void *obj, enum width w)
{
	const void	*field = (const char *)obj + k->off;

	switch (w) {
	case W_INT:
		return *(const int *)field;
	case W_LONG:
		return *(const long *)field;
	case W_I64:
		return (long)*(const int64_t *)field;
	case W_SIZE:
		return (long)*(const size_t *)field;
	}
	return 0;
}

/* A number in the file's unit: seconds, not milliseconds. */
static void
show_number(const struct conf_key *k, const void *obj, char *buf,
    size_t len)
{
	long		 scale;
	enum width	 w = number_kind(k->type, &scale);

	snprintf(buf, len, "%ld", number_at(k, obj, w) / scale);
}

static void
show_bool(const struct conf_key *k, const void *obj, char *buf, size_t len)
{
	snprintf(buf, len, "%s", number_at(k, obj, W_INT) ? "on" : "off");
}

static void
show_loglevel(const struct conf_key *k, const void *obj, char *buf,
    size_t len)
{
	static const char *const names[] = { "error", "warning", "info",
	    "debug" };
	long	v = number_at(k, obj, W_INT);

	snprintf(buf, len, "%s", v >= 0 && v < 4 ? names[v] : "?");
}

static void
show_logformat(const struct conf_key *k, const void *obj, char *buf,
    size_t len)
{
	long	v = number_at(k, obj, W_INT);

	snprintf(buf, len, "%s", v == LOG_FMT_TEXT ? "text" :
	    v == LOG_FMT_JSON ? "json" : "?");
}

void
conf_show_str(const struct conf_key *k, const void *obj, char *buf,
    size_t len)
{
	const char	*v = *(char *const *)((const char *)obj + k->off);

	snprintf(buf, len, "%s", v != NULL ? v : "(unset)");
}

/* Exchanges n bytes at k's field of a and b. */
static void
swap_field(const struct conf_key *k, void *a, void *b, size_t n)
{
	unsigned char	 t[sizeof(int64_t)], *x = CONF_FIELD(a, k);
	unsigned char	*y = CONF_FIELD(b, k);

	memcpy(t, x, n);
	memcpy(x, y, n);
	memcpy(y, t, n);
}

/* The field of a number type, or of on/off and log levels (ints). */
static void
swap_number(const struct conf_key *k, void *a, void *b)
{
	static const size_t	 size[] = { [W_INT] = sizeof(int),
	    [W_LONG] = sizeof(long), [W_I64] = sizeof(int64_t),
	    [W_SIZE] = sizeof(size_t) };
	long			 scale;

	swap_field(k, a, b, size[number_kind(k->type, &scale)]);
}

void
conf_swap_ptr(const struct conf_key *k, void *a, void *b)
{
	swap_field(k, a, b, sizeof(void *));
}

const struct conf_type conf_int = { .set = set_int, .show = show_number,
    .swap = swap_number, .bounded = 1 };
const struct conf_type conf_i64 = { .set = set_i64, .show = show_number,
    .swap = swap_number, .bounded = 1 };
const struct conf_type conf_long = { .set = set_long, .show = show_number,
    .swap = swap_number, .bounded = 1 };
const struct conf_type conf_size = { .set = set_size, .show = show_number,
    .swap = swap_number, .bounded = 1 };
const struct conf_type conf_msec = { .set = set_msec, .show = show_number,
    .swap = swap_number, .bounded = 1 };
const struct conf_type conf_mib = { .set = set_mib, .show = show_number,
    .swap = swap_number, .bounded = 1 };
const struct conf_type conf_bool = { .set = set_bool, .show = show_bool,
    .swap = swap_number };
const struct conf_type conf_loglevel = { .set = set_loglevel,
    .show = show_loglevel, .swap = swap_number };
const struct conf_type conf_logformat = { .set = set_logformat,
    .show = show_logformat, .swap = swap_number };
const struct conf_type conf_str = { .set = set_str, .clear = conf_clear_str,
    .show = conf_show_str, .swap = conf_swap_ptr };
const struct conf_type conf_pathname = { .set = set_path,
    .clear = conf_clear_str, .show = conf_show_str, .swap = conf_swap_ptr };
const struct conf_type conf_url = { .set = set_url, .clear = conf_clear_str,
    .show = conf_show_str, .swap = conf_swap_ptr };
const struct conf_type conf_https = { .set = set_https, .clear = conf_clear_str,
    .show = conf_show_str, .swap = conf_swap_ptr };

/* ---- a reload ---------------------------------------------------------- */

/*
 * Whether a reload can keep k's running value: one object of an unnamed
 * section, a value it can show and swap, never a secret (shown in logs).
 */
static int
keepable(const struct conf_section *s, const struct conf_key *k)
{
	return !s->named && k->type->show != NULL && k->type->swap != NULL &&
	    k->type->purge == NULL;
}

size_t
conf_keep(const struct conf_schema *schema, void *running, void *next,
    void (*changed)(const struct conf_key *, const char *kept,
    const char *asked))
{
	const struct conf_section	*s;
	const struct conf_key		*k;
	char				*a, *b, kept[1024], asked[1024];
	size_t				 na, nb, n = 0;

	for (s = schema->sections; s->name != NULL; s++)
		for (k = s->keys; k->name != NULL; k++) {
			if (k->reload != CONF_RESTART)
				continue;
			/* A table that says otherwise is a bug. */
			if (!keepable(s, k))
				fatalx("config: [%s] %s needs a restart, but a "
				    "reload cannot keep it", s->name, k->name);
			a = objects(s, running, &na);
			b = objects(s, next, &nb);
			if (na == 0 || nb == 0)
				continue;
			k->type->show(k, a, kept, sizeof(kept));
			k->type->show(k, b, asked, sizeof(asked));
			if (strcmp(kept, asked) == 0)
				continue;
			k->type->swap(k, a, b);
			if (changed != NULL)
				changed(k, kept, asked);
			n++;
		}
	return n;
}

/* ---- the documents ----------------------------------------------------- */

/*
 * One word of text for troff: backslashes and a leading dot escaped, a
 * `command` in bold with its dashes as minus signs (what a reader types).
 */
static void
put_man_word(FILE *f, const char *w, size_t n, int line_start)
{
	size_t	i;
	int	code = 0;

	if (line_start && (w[0] == '.' || w[0] == '\''))
		fputs("\\&", f);
	for (i = 0; i < n; i++) {
		if (w[i] == '`')
			fputs((code = !code) ? "\\fB" : "\\fR", f);
		else if (w[i] == '\\')
			fputs("\\e", f);
		else if (w[i] == '-' && (code || i == 0))
			fputs("\\-", f);
		else
			fputc(w[i], f);
	}
}

/* The end of the word at w: a `command` is one word, spaces and all. */
static const char *
word_end(const char *w)
{
	const char	*close;

	for (; *w != '\0' && *w != ' '; w++)
		if (*w == '`' && (close = strchr(w + 1, '`')) != NULL)
			w = close;
	return w;
}

/*
 * text as lines of at most width bytes after prefix, words kept whole.
 * The spaces after a word are kept (two after a sentence), but never at
 * the end of a line.
 */
static void
wrap(FILE *f, const char *prefix, const char *text, size_t width, int man)
{
	const char	*w = text, *e;
	size_t		 col = 0, n, gap = 0;

	while (*w == ' ')
		w++;
	while (*w != '\0') {
		e = word_end(w);
		n = (size_t)(e - w);
		if (col > 0 && col + gap + n > width) {
			fputc('\n', f);
			col = 0;
		}
		if (col == 0)
			fputs(prefix, f);
		else
			fprintf(f, "%*s", (int)gap, "");
		if (man)
			put_man_word(f, w, n, col == 0);
		else
			fwrite(w, 1, n, f);
		col += (col == 0 ? 0 : gap) + n;
		for (gap = 0; *e == ' '; e++)
			gap++;
		w = e;
	}
	if (col > 0)
		fputc('\n', f);
}

/*
 * "From 1 to 300, default 5.  A reload applies it.": what the table says
 * of k beyond its text.  Whether an optional key is needed (secret_file,
 * unless nodes_file) is for its text to say.
 */
static void
key_facts(const struct conf_key *k, char *buf, size_t len)
{
	char		 what[512];
	const char	*reload;
	int		 range = k->type->bounded;

	what[0] = '\0';
	if (range)
		snprintf(what, sizeof(what), "From %ld to %ld%s", k->min,
		    k->max, k->def == NULL ? "; required.  " :
		    k->def == CONF_OPTIONAL ? ".  " : ", default ");
	else if (k->def == NULL)
		snprintf(what, sizeof(what), "Required.  ");
	else if (k->def != CONF_OPTIONAL)
		snprintf(what, sizeof(what), "Default ");
	if (k->def != NULL && k->def != CONF_OPTIONAL)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		    "%s.  ", k->def);
	reload = k->reload == CONF_RESTART ? "Needs a restart: a reload "
	    "keeps the running value." : k->reload == CONF_WORKERS ? "A "
	    "reload applies it to the workers it starts; the front keeps its "
	    "value until a restart." : "A reload applies it.";
	snprintf(buf, len, "%s%s", what, reload);
}

/* Whether the tables hold what the documents need; messages into err. */
static int
describe_check(const struct conf_schema *schema, char *err, size_t errlen)
{
	const struct conf_section	*s;
	const struct conf_key		*k;
	size_t				 used = 0;
	int				 n;

#define DESCRIBE_FAIL(...) do {						\
		n = snprintf(err + used, errlen - used, __VA_ARGS__);	\
		if (n > 0 && (size_t)n < errlen - used)			\
			used += n;					\
	} while (0)
	err[0] = '\0';
	for (s = schema->sections; s->name != NULL; s++) {
		if (s->doc == NULL || (s->named && s->example == NULL))
			DESCRIBE_FAIL("[%s]: no doc or example NAME\n",
			    s->name);
		for (k = s->keys; k->name != NULL; k++) {
			if (k->doc == NULL || k->doc[0] == '\0')
				DESCRIBE_FAIL("[%s] %s: no doc\n", s->name,
				    k->name);
			if (k->reload == CONF_UNSTATED)
				DESCRIBE_FAIL("[%s] %s: reload not stated\n",
				    s->name, k->name);
			if ((k->def == NULL || k->def == CONF_OPTIONAL) &&
			    k->example == NULL)
				DESCRIBE_FAIL("[%s] %s: no default and no "
				    "example\n", s->name, k->name);
			if (k->def == NULL && k->example != NULL &&
			    k->example[0] == '#')
				DESCRIBE_FAIL("[%s] %s: required, but the "
				    "example leaves it out\n", s->name,
				    k->name);
			if (k->reload == CONF_RESTART && !keepable(s, k))
				DESCRIBE_FAIL("[%s] %s: needs a restart, but a "
				    "reload cannot keep it\n", s->name,
				    k->name);
		}
	}
#undef DESCRIBE_FAIL
	return used > 0 ? -1 : 0;
}

/* "key = value", or "#key = value" for a key the example does not set. */
static void
example_line(FILE *f, const struct conf_key *k)
{
	const char	*v = k->example != NULL ? k->example : k->def;

	if (v[0] == '#')
		fprintf(f, "#%s = %s\n", k->name, v + 1);
	else
		fprintf(f, "%s = %s\n", k->name, v);
}

static void
describe_key(FILE *f, enum conf_doc doc, const struct conf_key *k)
{
	char	text[4096], facts[1024];

	key_facts(k, facts, sizeof(facts));
	snprintf(text, sizeof(text), "%s  %s", k->doc, facts);
	if (doc == CONF_DOC_EXAMPLE) {
		wrap(f, "# ", text, 74, 0);
		example_line(f, k);
		return;
	}
	fprintf(f, ".TP\n.B %s\n", k->name);
	wrap(f, "", text, 72, 1);
}

int
conf_describe(const struct conf_schema *schema, enum conf_doc doc, FILE *f,
    char *err, size_t errlen)
{
	const struct conf_section	*s;
	const struct conf_key		*k;

	if (describe_check(schema, err, errlen) == -1)
		return -1;
	for (s = schema->sections; s->name != NULL; s++) {
		if (doc == CONF_DOC_EXAMPLE) {
			fputc('\n', f);
			wrap(f, "# ", s->doc, 74, 0);
			fprintf(f, "[%s%s%s]\n", s->name, s->named ? " " : "",
			    s->named ? s->example : "");
		} else {
			fprintf(f, ".SH [%s%s]\n", s->name,
			    s->named ? " NAME" : "");
			wrap(f, "", s->doc, 72, 1);
		}
		for (k = s->keys; k->name != NULL; k++)
			describe_key(f, doc, k);
	}
	return 0;
}
