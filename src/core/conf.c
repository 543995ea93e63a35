/*
 * conf.c - the table-driven config engine (conf.h): the INI lexer's
 * callbacks, the section and key rules every section shares, and the
 * generic value types.
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

struct conf {
	const struct conf_schema	*schema;
	void				*root;
	const char			*path;
	char				 dir[PATH_MAX];	/* the file's */
	const struct conf_section	*cur;	/* the section being read */
	void				*obj;	/* its object */
	int				 seen[CONF_MAX_KEYS]; /* key -> line */
	int				 section_line;
	int				 present[CONF_MAX_SECTIONS]; /* unnamed
						   section -> its line */
	char				*err;
	size_t				 errlen;
};

static int
vfail(struct conf *l, int line, const char *fmt, va_list ap)
{
	char	msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(l->err, l->errlen, "%s:%d: %s", l->path, line, msg);
	else if (line == 0)
		snprintf(l->err, l->errlen, "%s: %s", l->path, msg);
	else
		snprintf(l->err, l->errlen, "%s", msg);
	return -1;
}

int
conf_fail(struct conf *l, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfail(l, -1, fmt, ap);
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

/* ---- sections ------------------------------------------------------- */

/* Applies defaults, reports required keys left out, runs the finish hook. */
static int
finish_section(struct conf *l)
{
	const struct conf_section	*s = l->cur;
	const struct conf_key		*k;
	size_t				 i;

	if (s == NULL)
		return 0;
	for (i = 0, k = s->keys; k->name != NULL; i++, k++) {
		if (l->seen[i] || k->def == CONF_OPTIONAL)
			continue;
		if (k->def == NULL)
			return conf_fail_at(l, l->section_line, "missing "
			    "required key \"%s\"", k->name);
		/* Defaults are ours: failing one is a bug. */
		if (k->type->set(l, k, l->obj, k->def) == -1)
			fatalx("config: default of %s: %s", k->name, l->err);
	}
	if (s->finish != NULL && s->finish(l, l->obj) == -1)
		return -1;
	l->cur = NULL;
	return 0;
}

static void
begin_section(struct conf *l, const struct conf_section *s, void *obj,
    int line)
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

/* "unknown section [x]; expected [a], [b NAME] or [c NAME]". */
static int
unknown_section(struct conf *l, const char *kind, const char *name)
{
	const struct conf_section	*s;
	char				 list[512];
	size_t				 len = 0;

	list[0] = '\0';
	for (s = l->schema->sections; s->name != NULL && len < sizeof(list);
	    s++)
		len += snprintf(list + len, sizeof(list) - len, "%s[%s%s]",
		    s == l->schema->sections ? "" : s[1].name == NULL ? " or " :
		    ", ", s->name, s->named ? " NAME" : "");
	return conf_fail(l, "unknown section [%s%s%s]; expected %s", kind,
	    name ? " " : "", name ? name : "", list);
}

static int
on_section(void *arg, int line, const char *kind, const char *name,
    char *err, size_t errlen)
{
	struct conf			*l = arg;
	const struct conf_section	*s;
	void				*obj;
	size_t				 i;

	l->err = err;
	l->errlen = errlen;
	if (finish_section(l) == -1)
		return INI_FAIL_PLACED;
	for (i = 0, s = l->schema->sections; s->name != NULL; i++, s++)
		if (strcmp(s->name, kind) == 0 && (s->named || name == NULL))
			break;
	if (s->name == NULL)
		return unknown_section(l, kind, name);
	if (!s->named) {
		if (l->present[i])
			return conf_fail(l, "[%s] appears twice", kind);
		l->present[i] = line;
		if ((obj = unnamed_object(l, s)) == NULL)
			return -1;
	} else {
		if (name == NULL || !valid_name(name))
			return conf_fail(l, "[%s NAME]: NAME must be 1-%d of "
			    "A-Z a-z 0-9 . _ -", kind, CONF_MAX_NAME);
		if (named_exists(l, s, name))
			return conf_fail(l, "[%s %s] appears twice", kind,
			    name);
		if ((obj = add_named(l, s, name, line)) == NULL)
			return -1;
	}
	begin_section(l, s, obj, line);
	return 0;
}

static int
on_key(void *arg, int line, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct conf	*l = arg;
	int		 i;

	l->err = err;
	l->errlen = errlen;
	if (l->cur == NULL)
		return conf_fail(l, "key \"%s\" outside any section", key);
	if ((i = key_index(l, key)) == -1)
		return conf_fail(l, "unknown key \"%s\" in this section", key);
	if (l->seen[i])
		return conf_fail(l, "\"%s\" already set on line %d", key,
		    l->seen[i]);
	l->seen[i] = line;
	return l->cur->keys[i].type->set(l, &l->cur->keys[i], l->obj, value);
}

/*
 * Unnamed sections the file left out: refused when they have a required
 * key, otherwise built from their defaults.
 */
static int
finish_missing(struct conf *l)
{
	const struct conf_section	*s;
	const struct conf_key		*k;
	void				*obj;
	size_t				 i;

	for (i = 0, s = l->schema->sections; s->name != NULL; i++, s++) {
		if (s->named || l->present[i])
			continue;
		for (k = s->keys; k->name != NULL; k++)
			if (k->def == NULL)
				return conf_fail_at(l, 0, "no [%s] section (%s "
				    "is required there)", s->name, k->name);
		if ((obj = unnamed_object(l, s)) == NULL)
			return -1;
		begin_section(l, s, obj, 0);
		if (finish_section(l) == -1)
			return -1;
	}
	return 0;
}

int
conf_load(const char *path, const struct conf_schema *schema, void *root,
    char *err, size_t errlen)
{
	static const struct ini_handler	 handler = { on_section, on_key };
	struct conf			 l;
	char				 msg[1024];
	size_t				 n;

	for (n = 0; schema->sections[n].name != NULL; n++)
		;
	if (n > CONF_MAX_SECTIONS)
		fatalx("config: more than %d sections", CONF_MAX_SECTIONS);
	memset(&l, 0, sizeof(l));
	l.schema = schema;
	l.root = root;
	l.path = path;
	l.err = msg;
	l.errlen = sizeof(msg);
	msg[0] = '\0';
	if (set_dir(&l, path) == -1)
		goto fail;
	if (ini_parse(path, &handler, &l, err, errlen) == -1)
		return -1;
	l.err = msg;
	l.errlen = sizeof(msg);
	if (finish_section(&l) == -1 || finish_missing(&l) == -1 ||
	    (schema->check != NULL && schema->check(&l, root) == -1))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s", msg[0] ? msg : "out of memory");
	return -1;
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

const struct conf_type conf_int = { set_int, NULL, NULL };
const struct conf_type conf_i64 = { set_i64, NULL, NULL };
const struct conf_type conf_long = { set_long, NULL, NULL };
const struct conf_type conf_size = { set_size, NULL, NULL };
const struct conf_type conf_msec = { set_msec, NULL, NULL };
const struct conf_type conf_mib = { set_mib, NULL, NULL };
const struct conf_type conf_bool = { set_bool, NULL, NULL };
const struct conf_type conf_loglevel = { set_loglevel, NULL, NULL };
const struct conf_type conf_str = { set_str, conf_clear_str, NULL };
const struct conf_type conf_pathname = { set_path, conf_clear_str, NULL };
const struct conf_type conf_url = { set_url, conf_clear_str, NULL };
const struct conf_type conf_https = { set_https, conf_clear_str, NULL };
