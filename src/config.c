/*
 * config.c - turns tokend.conf into one checked, immutable struct config.
 *
 * Each section kind has a table of its keys (type, bounds, default), in the
 * manner of Redis's config table: the table drives parsing, defaults and
 * the checks, so a key is described once.  Files a key names (secrets,
 * JWKS) are read when the key is met, so an error in them points at the
 * key's line.  Nothing here is half-applied: config_load() either returns a
 * complete config or frees everything it built.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hkdf.h"
#include "ini.h"
#include "jws.h"
#include "log.h"
#include "tokenlib.h"

enum key_type {
	KT_INT,		/* int within [min, max] */
	KT_I64,		/* int64_t within [min, max] */
	KT_SIZE,	/* size_t within [min, max] */
	KT_MSEC,	/* seconds in the file, int milliseconds in memory */
	KT_LONG,	/* long within [min, max] */
	KT_MIB,		/* MiB in the file, long KiB in memory */
	KT_STR,		/* any non-empty string */
	KT_PATH,	/* path, resolved against the config file's directory */
	KT_BOOL,	/* on/off, yes/no, true/false, 1/0 */
	KT_LISTEN,	/* host:port or [v6]:port, numeric host */
	KT_LOGLEVEL,	/* error warning info debug */
	KT_ALGS,	/* space-separated JWS algorithm names */
	KT_SECRET,	/* path of a secret file, loaded on the spot */
	KT_JWKS,	/* path of a JWKS file, loaded on the spot */
	KT_URL,		/* http:// or https:// URL */
};

struct key_def {
	const char	*name;
	enum key_type	 type;
	size_t		 off;	/* offset of the field in its struct */
	long		 min, max;
	const char	*def;	/* default, or NULL if the key is required */
};

#define SRV(f)	offsetof(struct config, f)
#define ISS(f)	offsetof(struct issuer, f)
#define SVC(f)	offsetof(struct service, f)

static const struct key_def server_keys[] = {
	{ "listen", KT_LISTEN, SRV(listen), 0, 0, "127.0.0.1:8080" },
	{ "workers", KT_INT, SRV(workers), 0, 256, "0" /* 0: one per CPU */ },
	{ "threads", KT_INT, SRV(threads), 1, 64, "2" },
	{ "runtime_dir", KT_PATH, SRV(runtime_dir), 0, 0, "/run/tokend" },
	{ "max_body", KT_SIZE, SRV(max_body), 256, 1048576, "16384" },
	{ "queue_limit", KT_INT, SRV(queue_limit), 1, 1000000, "1024" },
	{ "request_timeout", KT_MSEC, SRV(request_timeout_ms), 1, 300, "5" },
	{ "shutdown_timeout", KT_MSEC, SRV(shutdown_timeout_ms), 1, 3600,
	    "10" },
	{ "max_connections", KT_INT, SRV(max_connections), 1, 1000000,
	    "20000" },
	{ "per_ip_connections", KT_INT, SRV(per_ip_connections), 0, 1000000,
	    "0" },
	{ "idle_timeout", KT_INT, SRV(idle_timeout), 1, 3600, "60" },
	{ "access_log", KT_BOOL, SRV(access_log), 0, 1, "on" },
	{ "log_level", KT_LOGLEVEL, SRV(log_level), 0, 0, "info" },
	{ "heartbeat_interval", KT_INT, SRV(heartbeat_ms), 50, 60000,
	    "1000" },
	{ "heartbeat_liveness", KT_INT, SRV(heartbeat_liveness), 2, 100,
	    "3" },
	{ "orphan_timeout", KT_MSEC, SRV(orphan_timeout_ms), 1, 3600, "30" },
	{ "max_jobs", KT_LONG, SRV(max_jobs), 0, 1000000000, "0" },
	{ "max_rss", KT_MIB, SRV(max_rss_kb), 0, 65536, "256" },
	{ "uid_secret_file", KT_SECRET, SRV(uid_secret), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct key_def issuer_keys[] = {
	{ "iss", KT_STR, ISS(iss), 0, 0, NULL },
	{ "jwks_file", KT_JWKS, ISS(jwks), 0, 0, NULL },
	{ "audience", KT_STR, ISS(audience), 0, 0, NULL },
	{ "algorithms", KT_ALGS, ISS(algorithms), 0, 0, "RS256 ES256 EdDSA" },
	{ "leeway", KT_I64, ISS(leeway), 0, 3600, "60" },
	{ NULL, 0, 0, 0, 0, NULL }
};

static const struct key_def service_keys[] = {
	{ "secret_file", KT_SECRET, SVC(secret), 0, 0, NULL },
	{ "node", KT_URL, SVC(node), 0, 0, NULL },
	{ "duration", KT_I64, SVC(duration), 1, 86400, "1800" },
	{ NULL, 0, 0, 0, 0, NULL }
};

#define MAX_KEYS 32	/* keys per section kind, for the "seen" set */

/* Parser state while the file is read. */
struct loader {
	struct config		*cfg;
	char			 dir[PATH_MAX];	/* the config file's directory */
	const struct key_def	*keys;		/* of the current section */
	void			*obj;		/* struct the keys fill */
	int			 seen[MAX_KEYS]; /* line a key was set on */
	int			 section_line;
	int			 server_seen;
	char			*err;
	size_t			 errlen;
};

static int
fail(struct loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct loader *l, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- secrets ---------------------------------------------------------- */

/*
 * Secret bytes live in their own mapping so they can be kept out of core
 * dumps (MADV_DONTDUMP) and wiped before the pages go back.
 */
static uint8_t *
secret_alloc(size_t len)
{
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_DONTDUMP);
	return p;
}

void
secret_free(struct secret *s)
{
	if (s->bytes == NULL)
		return;
	OPENSSL_cleanse(s->bytes, s->len);
	munmap(s->bytes, s->len > 0 ? s->len : 1);
	s->bytes = NULL;
	s->len = 0;
}

static int
secret_check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "secret file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "secret file %s: not a regular file",
		    path);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "secret file %s is readable by group or "
		    "others (mode %04o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_size > SECRET_MAX_BYTES) {
		snprintf(err, errlen, "secret file %s: larger than %d bytes",
		    path, SECRET_MAX_BYTES);
		return -1;
	}
	return 0;
}

/*
 * The secret is the file's text less one trailing newline, used as bytes
 * as it stands: tokenlib does the same with the string it is given.
 */
int
secret_load(struct secret *s, const char *path, char *err, size_t errlen)
{
	uint8_t	 buf[SECRET_MAX_BYTES + 1];
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd, rc = -1;

	memset(s, 0, sizeof(*s));
	/* O_NONBLOCK: a FIFO must be refused below, not block the load. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "secret file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (secret_check_file(fd, path, err, errlen) == -1)
		goto done;
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "secret file %s: %s", path,
			    strerror(errno));
			goto done;
		}
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (memchr(buf, '\n', len) != NULL) {
		snprintf(err, errlen, "secret file %s: holds more than one "
		    "line; put one secret in it", path);
		goto done;
	}
	if (len < SECRET_MIN_BYTES) {
		snprintf(err, errlen, "secret file %s: secret is %zu bytes, "
		    "at least %d are required", path, len, SECRET_MIN_BYTES);
		goto done;
	}
	if ((s->bytes = secret_alloc(len)) == NULL) {
		snprintf(err, errlen, "secret file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	memcpy(s->bytes, buf, len);
	s->len = len;
	rc = 0;
done:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* ---- values ----------------------------------------------------------- */

static int
parse_long(const char *v, long *out)
{
	char	*end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return (errno != 0 || end == v || *end != '\0') ? -1 : 0;
}

static int
resolve_path(struct loader *l, const char *v, char *out, size_t outlen)
{
	int	n;

	if (v[0] == '/')
		n = snprintf(out, outlen, "%s", v);
	else
		n = snprintf(out, outlen, "%s/%s", l->dir, v);
	if (n < 0 || (size_t)n >= outlen)
		return fail(l, "path too long");
	return 0;
}

static int
parse_listen(struct loader *l, const char *v)
{
	struct config	*c = l->cfg;
	char		 host[INET6_ADDRSTRLEN + 2];
	unsigned char	 addr[sizeof(struct in6_addr)];
	const char	*colon;
	long		 port;
	size_t		 hlen;

	if ((colon = strrchr(v, ':')) == NULL)
		return fail(l, "listen: expected ADDRESS:PORT, got \"%s\"", v);
	hlen = (size_t)(colon - v);
	if (hlen >= sizeof(host))
		return fail(l, "listen: address too long");
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return fail(l, "listen: \"%s\" is not an IPv6 address",
			    host);
	} else if (inet_pton(AF_INET, host, addr) != 1)
		return fail(l, "listen: \"%s\" is not a numeric IPv4 address "
		    "(write IPv6 as [addr]:port)", host);
	if (parse_long(colon + 1, &port) == -1 || port < 1 || port > 65535)
		return fail(l, "listen: port must be 1..65535, got \"%s\"",
		    colon + 1);
	free(c->listen);
	free(c->listen_host);
	c->listen = strdup(v);
	c->listen_host = strdup(host);
	c->listen_port = (uint16_t)port;
	return (c->listen && c->listen_host) ? 0 : fail(l, "out of memory");
}

static int
parse_algs(struct loader *l, const char *v, unsigned *out)
{
	char		 buf[256], *tok, *save = NULL;
	enum jws_alg	 alg;

	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return fail(l, "algorithms: value too long");
	*out = 0;
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (jws_alg_parse(tok, &alg) == -1)
			return fail(l, "algorithms: unsupported algorithm "
			    "\"%s\"", tok);
		*out |= JWS_ALG_BIT(alg);
	}
	if (*out == 0)
		return fail(l, "algorithms: name at least one algorithm");
	return 0;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "on", "yes", "true", "1" };
	static const char *no[] = { "off", "no", "false", "0" };
	size_t	i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int
parse_loglevel(const char *v, int *out)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	int	i;

	for (i = 0; i < 4; i++)
		if (strcasecmp(v, names[i]) == 0)
			return *out = i, 0;
	return -1;
}

/* Stores one value into its field; the field's C type follows key_type. */
static int
set_value(struct loader *l, const struct key_def *k, const char *v)
{
	char	 path[PATH_MAX], msg[512];
	void	*field = (char *)l->obj + k->off;
	long	 n;

	switch (k->type) {
	case KT_INT:
	case KT_I64:
	case KT_SIZE:
	case KT_MSEC:
	case KT_LONG:
	case KT_MIB:
		if (parse_long(v, &n) == -1 || n < k->min || n > k->max)
			return fail(l, "%s: expected an integer from %ld to "
			    "%ld, got \"%s\"", k->name, k->min, k->max, v);
		if (k->type == KT_LONG || k->type == KT_MIB)
			*(long *)field = k->type == KT_MIB ? n * 1024 : n;
		else if (k->type == KT_I64)
			*(int64_t *)field = n;
		else if (k->type == KT_SIZE)
			*(size_t *)field = (size_t)n;
		else
			*(int *)field = (int)(k->type == KT_MSEC ? n * 1000 : n);
		return 0;
	case KT_BOOL:
		if (parse_bool(v, field) == -1)
			return fail(l, "%s: expected on or off, got \"%s\"",
			    k->name, v);
		return 0;
	case KT_LOGLEVEL:
		if (parse_loglevel(v, field) == -1)
			return fail(l, "%s: expected error, warning, info or "
			    "debug, got \"%s\"", k->name, v);
		return 0;
	case KT_LISTEN:
		return parse_listen(l, v);
	case KT_ALGS:
		return parse_algs(l, v, field);
	case KT_URL:
		if (strncmp(v, "https://", 8) != 0 &&
		    strncmp(v, "http://", 7) != 0)
			return fail(l, "%s: expected an http:// or https:// "
			    "URL, got \"%s\"", k->name, v);
		/* FALLTHROUGH */
	case KT_STR:
		if (*v == '\0')
			return fail(l, "%s: empty value", k->name);
		free(*(char **)field);
		if ((*(char **)field = strdup(v)) == NULL)
			return fail(l, "out of memory");
		return 0;
	case KT_PATH:
		if (*v == '\0')
			return fail(l, "%s: empty value", k->name);
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		free(*(char **)field);
		if ((*(char **)field = strdup(path)) == NULL)
			return fail(l, "out of memory");
		return 0;
	case KT_SECRET:
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		secret_free(field);
		if (secret_load(field, path, msg, sizeof(msg)) == -1)
			return fail(l, "%s: %s", k->name, msg);
		return 0;
	case KT_JWKS:
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		jwks_free(*(struct jwks **)field);
		if ((*(struct jwks **)field = jwks_load(path, msg,
		    sizeof(msg))) == NULL)
			return fail(l, "%s: %s", k->name, msg);
		return 0;
	}
	return fail(l, "%s: internal error: unknown key type", k->name);
}

/* ---- sections --------------------------------------------------------- */

/* Applies defaults and reports required keys the section left out. */
static int
finish_section(struct loader *l)
{
	const struct key_def	*k;
	size_t			 i;

	if (l->keys == NULL)
		return 0;
	for (i = 0, k = l->keys; k->name != NULL; i++, k++) {
		if (l->seen[i])
			continue;
		if (k->def == NULL)
			return fail(l, "%s:%d: missing required key \"%s\"",
			    l->cfg->path, l->section_line, k->name);
		/* Defaults are ours: failing one is a bug. */
		if (set_value(l, k, k->def) == -1)
			fatalx("config: default of %s: %s", k->name, l->err);
	}
	l->keys = NULL;
	return 0;
}

static int
valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.'))
			return 0;
	return 1;
}

static void *
add_issuer(struct config *c)
{
	struct issuer	*a;

	if (c->nissuers == CONFIG_MAX_ISSUERS ||
	    (a = reallocarray(c->issuers, c->nissuers + 1, sizeof(*a))) == NULL)
		return NULL;
	c->issuers = a;
	memset(&a[c->nissuers], 0, sizeof(*a));
	return &a[c->nissuers++];
}

static void *
add_service(struct config *c)
{
	struct service	*a;

	if (c->nservices == CONFIG_MAX_SERVICES ||
	    (a = reallocarray(c->services, c->nservices + 1,
	    sizeof(*a))) == NULL)
		return NULL;
	c->services = a;
	memset(&a[c->nservices], 0, sizeof(*a));
	return &a[c->nservices++];
}

static int
named_exists(const struct config *c, const char *kind, const char *name)
{
	size_t	i;

	if (strcmp(kind, "issuer") == 0) {
		for (i = 0; i < c->nissuers; i++)
			if (strcmp(c->issuers[i].name, name) == 0)
				return 1;
	} else
		for (i = 0; i < c->nservices; i++)
			if (strcmp(c->services[i].name, name) == 0)
				return 1;
	return 0;
}

static int
on_section(void *arg, int line, const char *kind, const char *name,
    char *err, size_t errlen)
{
	struct loader	*l = arg;
	struct config	*c = l->cfg;
	char		**namep;

	l->err = err;
	l->errlen = errlen;
	if (finish_section(l) == -1)
		return INI_FAIL_PLACED;
	memset(l->seen, 0, sizeof(l->seen));
	l->section_line = line;
	if (strcmp(kind, "server") == 0 && name == NULL) {
		if (l->server_seen++)
			return fail(l, "[server] appears twice");
		l->keys = server_keys;
		l->obj = c;
		return 0;
	}
	if (strcmp(kind, "issuer") != 0 && strcmp(kind, "service") != 0)
		return fail(l, "unknown section [%s%s%s]; expected [server], "
		    "[issuer NAME] or [service NAME]", kind, name ? " " : "",
		    name ? name : "");
	if (name == NULL || !valid_name(name))
		return fail(l, "[%s NAME]: NAME must be 1-64 of A-Z a-z 0-9 "
		    ". _ -", kind);
	if (named_exists(c, kind, name))
		return fail(l, "[%s %s] appears twice", kind, name);
	if (kind[1] == 's') {	/* "issuer" */
		l->keys = issuer_keys;
		if ((l->obj = add_issuer(c)) == NULL)
			return fail(l, "too many issuers (at most %d)",
			    CONFIG_MAX_ISSUERS);
		((struct issuer *)l->obj)->line = line;
		namep = &((struct issuer *)l->obj)->name;
	} else {
		l->keys = service_keys;
		if ((l->obj = add_service(c)) == NULL)
			return fail(l, "too many services (at most %d)",
			    CONFIG_MAX_SERVICES);
		((struct service *)l->obj)->line = line;
		namep = &((struct service *)l->obj)->name;
	}
	if ((*namep = strdup(name)) == NULL)
		return fail(l, "out of memory");
	return 0;
}

static int
on_key(void *arg, int line, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct loader		*l = arg;
	const struct key_def	*k;
	size_t			 i;

	l->err = err;
	l->errlen = errlen;
	if (l->keys == NULL)
		return fail(l, "key \"%s\" outside any section", key);
	for (i = 0, k = l->keys; k->name != NULL; i++, k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL)
		return fail(l, "unknown key \"%s\" in this section", key);
	if (l->seen[i])
		return fail(l, "\"%s\" already set on line %d", key,
		    l->seen[i]);
	l->seen[i] = line;
	return set_value(l, k, value);
}

/* ---- the whole file --------------------------------------------------- */

/* Checks that span sections, once every section is complete. */
static int
check_config(struct loader *l)
{
	struct config	*c = l->cfg;
	size_t		 i;
	long		 ncpu;

	if (c->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;
	}
	if (!l->server_seen)
		return fail(l, "%s: no [server] section (uid_secret_file is "
		    "required there)", c->path);
	if (c->nissuers == 0)
		return fail(l, "%s: no [issuer NAME] section: no assertion "
		    "could ever be accepted", c->path);
	if (c->nservices == 0)
		return fail(l, "%s: no [service NAME] section: no token "
		    "could ever be issued", c->path);
	/* sockaddr_un holds 108 bytes; leave room for "/worker.sock". */
	if (strlen(c->runtime_dir) > 80)
		return fail(l, "%s: runtime_dir is longer than 80 bytes, too "
		    "long for a Unix socket path", c->path);
	for (i = 0; i < c->nservices; i++)
		if (tokenlib_signing_key(c->services[i].sig_key,
		    &c->services[i].secret) == -1)
			return fail(l, "%s:%d: cannot derive signing key",
			    c->path, c->services[i].line);
	return 0;
}

static int
set_dir(struct loader *l, const char *path)
{
	char		 abs[PATH_MAX];
	const char	*slash;

	if (path[0] != '/') {
		if (getcwd(abs, sizeof(abs)) == NULL)
			return fail(l, "getcwd: %s", strerror(errno));
		if (snprintf(l->dir, sizeof(l->dir), "%s/%s", abs, path) >=
		    (int)sizeof(l->dir))
			return fail(l, "%s: path too long", path);
	} else if (snprintf(l->dir, sizeof(l->dir), "%s", path) >=
	    (int)sizeof(l->dir))
		return fail(l, "%s: path too long", path);
	if ((slash = strrchr(l->dir, '/')) != NULL)
		l->dir[slash == l->dir ? 1 : slash - l->dir] = '\0';
	return 0;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	static const struct ini_handler	 handler = { on_section, on_key };
	struct loader			 l;
	struct config			*c;
	char				 msg[1024];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	memset(&l, 0, sizeof(l));
	l.cfg = c;
	l.err = msg;
	l.errlen = sizeof(msg);
	msg[0] = '\0';
	if ((c->path = strdup(path)) == NULL || set_dir(&l, path) == -1)
		goto fail;
	if (ini_parse(path, &handler, &l, err, errlen) == -1)
		goto fail_reported;
	l.err = msg;
	l.errlen = sizeof(msg);
	/* A missing [server] still gets its defaults (and its errors). */
	if (finish_section(&l) == -1 || check_config(&l) == -1)
		goto fail;
	return c;
fail:
	snprintf(err, errlen, "%s", msg[0] ? msg : "out of memory");
fail_reported:
	config_free(c);
	return NULL;
}

static void
issuer_clear(struct issuer *is)
{
	free(is->name);
	free(is->iss);
	free(is->audience);
	jwks_free(is->jwks);
	is->jwks = NULL;
}

static void
service_clear(struct service *s)
{
	free(s->name);
	free(s->node);
	secret_free(&s->secret);
	OPENSSL_cleanse(s->sig_key, sizeof(s->sig_key));
}

void
config_free(struct config *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nissuers; i++)
		issuer_clear(&c->issuers[i]);
	for (i = 0; i < c->nservices; i++)
		service_clear(&c->services[i]);
	free(c->issuers);
	free(c->services);
	secret_free(&c->uid_secret);
	free(c->path);
	free(c->listen);
	free(c->listen_host);
	free(c->runtime_dir);
	free(c);
}

void
config_purge_secrets(struct config *c)
{
	size_t	i;

	for (i = 0; i < c->nissuers; i++) {
		jwks_free(c->issuers[i].jwks);
		c->issuers[i].jwks = NULL;
	}
	for (i = 0; i < c->nservices; i++) {
		secret_free(&c->services[i].secret);
		OPENSSL_cleanse(c->services[i].sig_key,
		    sizeof(c->services[i].sig_key));
	}
	secret_free(&c->uid_secret);
}

const struct service *
config_service(const struct config *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}
