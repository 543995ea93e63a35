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
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "identity/browserid.h"
#include "core/hkdf.h"
#include "core/ini.h"
#include "identity/jws.h"
#include "identity/keys.h"
#include "core/log.h"
#include "pool/protocol.h"
#include "worker.h"

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
	KT_SECRET,	/* path of a one-secret file, loaded on the spot */
	KT_HS_SECRET,	/* KT_SECRET into an issuer's struct issuer_secret */
	KT_SECRETS,	/* path of a secret file (rotation), loaded on the spot */
	KT_NODES,	/* path of a nodes file, loaded on the spot */
	KT_FORMAT,	/* token format: tokenlib or fernet */
	KT_JWKS,	/* path of a JWKS file, loaded on the spot */
	KT_HTTPS,	/* https:// URL (plain http:// refused) */
	KT_IDCLAIM,	/* identity claim: sub or email */
	KT_REQUIRE,	/* space-separated claim=value pairs */
	KT_URL,		/* http:// or https:// URL */
	KT_BIDKEY,	/* path of a BrowserID public key, loaded on the spot */
};

struct key_def {
	const char	*name;
	enum key_type	 type;
	size_t		 off;	/* offset of the field in its struct */
	long		 min, max;
	const char	*def;	/* default, or NULL if the key is required */
};

/* A key_def default meaning "may be left out, and then stays unset". */
static const char KEY_OPTIONAL[] = "(optional)";

#define SRV(f)	offsetof(struct config, f)
#define ISS(f)	offsetof(struct issuer, f)
#define SVC(f)	offsetof(struct service, f)
#define BID(f)	offsetof(struct browserid_issuer, f)

static const struct key_def server_keys[] = {
	{ "listen", KT_LISTEN, SRV(listen), 0, 0, "127.0.0.1:8080" },
	{ "workers", KT_INT, SRV(workers), 0, 256, "0" /* 0: one per CPU */ },
	{ "worker_credit", KT_INT, SRV(worker_credit), 1, 16, "16" },
	{ "runtime_dir", KT_PATH, SRV(runtime_dir), 0, 0, "/run/tokend" },
	{ "max_body", KT_SIZE, SRV(max_body), 256, 1048576, "16384" },
	{ "queue_limit", KT_INT, SRV(queue_limit), 1, 1000000, "1024" },
	{ "request_timeout", KT_MSEC, SRV(request_timeout_ms), 1, 300, "5" },
	{ "shutdown_timeout", KT_MSEC, SRV(shutdown_timeout_ms), 1, 3600,
	    "10" },
	{ "max_connections", KT_INT, SRV(max_connections), 1, 1000000,
	    "20000" },
	/* 0 is unlimited: behind a reverse proxy, raise it or set 0. */
	{ "per_ip_connections", KT_INT, SRV(per_ip_connections), 0, 1000000,
	    "256" },
	{ "idle_timeout", KT_INT, SRV(idle_timeout), 1, 3600, "60" },
	{ "connection_memory", KT_SIZE, SRV(connection_memory), 4096, 262144,
	    "4608" },
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

/*
 * Keys come from jwks_file, jwks_url (or both), the HS* secret from
 * hs_secret_file: finish_issuer() checks they fit "algorithms".  "services"
 * is checked against the [service] sections once all are read.
 */
static const struct key_def issuer_keys[] = {
	{ "iss", KT_STR, ISS(iss), 0, 0, NULL },
	{ "jwks_file", KT_JWKS, ISS(jwks_file), 0, 0, KEY_OPTIONAL },
	{ "jwks_url", KT_HTTPS, ISS(jwks_url), 0, 0, KEY_OPTIONAL },
	{ "jwks_refresh", KT_I64, ISS(jwks_refresh), 1, 604800, "3600" },
	{ "jwks_ca_file", KT_PATH, ISS(jwks_ca_file), 0, 0, KEY_OPTIONAL },
	{ "hs_secret_file", KT_HS_SECRET, ISS(hs_secret), 0, 0, KEY_OPTIONAL },
	{ "audience", KT_STR, ISS(audience), 0, 0, NULL },
	{ "algorithms", KT_ALGS, ISS(algorithms), 0, 0, "RS256 ES256 EdDSA" },
	{ "leeway", KT_I64, ISS(leeway), 0, 3600, "60" },
	{ "identity_claim", KT_IDCLAIM, ISS(identity), 0, 0, "sub" },
	{ "require", KT_REQUIRE, ISS(require), 0, 0, KEY_OPTIONAL },
	{ "services", KT_STR, ISS(services_list), 0, 0, "*" },
	{ "uid_namespace", KT_STR, ISS(uid_namespace), 0, 0, KEY_OPTIONAL },
	{ NULL, 0, 0, 0, 0, NULL }
};

/* Either node + secret_file or nodes_file: finish_service() checks. */
static const struct key_def service_keys[] = {
	{ "format", KT_FORMAT, SVC(format), 0, 0, "tokenlib" },
	{ "secret_file", KT_SECRETS, SVC(secrets), 0, 0, KEY_OPTIONAL },
	{ "node", KT_URL, SVC(node), 0, 0, KEY_OPTIONAL },
	{ "nodes_file", KT_NODES, SVC(nodes), 0, 0, KEY_OPTIONAL },
	{ "duration", KT_I64, SVC(duration), 1, 86400, "1800" },
	{ NULL, 0, 0, 0, 0, NULL }
};

/* "services" is checked against the [service] sections once all are read. */
static const struct key_def browserid_keys[] = {
	{ "issuer", KT_STR, BID(issuer), 0, 0, NULL },
	{ "public_key_file", KT_BIDKEY, BID(key), 0, 0, NULL },
	{ "audience", KT_STR, BID(audience), 0, 0, NULL },
	{ "secondary", KT_BOOL, BID(secondary), 0, 1, "off" },
	{ "leeway", KT_I64, BID(leeway), 0, 3600, "60" },
	{ "services", KT_STR, BID(services_list), 0, 0, "*" },
	{ "uid_namespace", KT_STR, BID(uid_namespace), 0, 0, KEY_OPTIONAL },
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

/* ---- services -------------------------------------------------------- */

/*
 * A nodes_file becomes one struct service per node (see config.h), so
 * that the node picked for a uid is a service like any other to the code
 * that mints and answers.  Their name, format and duration are copied
 * from the section in finish_service(), once every key is read.
 */
static int
load_nodes(struct loader *l, struct service *sv, const char *path)
{
	struct node_secrets	*nodes;
	char			 msg[512];
	size_t			 n, i;

	if (sv->nodes != NULL)
		return fail(l, "internal error: nodes_file loaded twice");
	if (nodes_load(&nodes, &n, path, msg, sizeof(msg)) == -1)
		return fail(l, "nodes_file: %s", msg);
	if ((sv->nodes = calloc(n, sizeof(*sv->nodes))) == NULL) {
		nodes_free(nodes, n);
		return fail(l, "out of memory");
	}
	/* The URLs and secret sets move into the entries. */
	for (i = 0; i < n; i++) {
		sv->nodes[i].node = nodes[i].url;
		sv->nodes[i].secrets = nodes[i].secrets;
		nodes[i].url = NULL;
		memset(&nodes[i].secrets, 0, sizeof(nodes[i].secrets));
	}
	sv->nnodes = n;
	nodes_free(nodes, n);
	return 0;
}

/* First 8 bytes of SHA-256(url), big-endian: a node's rendezvous seed. */
static int
node_seed(const char *url, uint64_t *seed)
{
	uint8_t		md[SHA256_LEN];
	unsigned	i;

	if (EVP_Digest(url, strlen(url), md, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	for (*seed = 0, i = 0; i < 8; i++)
		*seed = *seed << 8 | md[i];
	return 0;
}

/* The checks of a [service] once all its keys are in. */
static int
finish_service(struct loader *l, struct service *sv)
{
	struct service	*e;
	size_t		 i;

	if (sv->nodes != NULL) {
		if (sv->node != NULL || sv->secrets.n > 0)
			return fail(l, "%s:%d: nodes_file replaces node and "
			    "secret_file: set either nodes_file, or node and "
			    "secret_file", l->cfg->path, l->section_line);
		for (i = 0; i < sv->nnodes; i++) {
			e = &sv->nodes[i];
			e->format = sv->format;
			e->duration = sv->duration;
			e->line = sv->line;
			if ((e->name = strdup(sv->name)) == NULL)
				return fail(l, "out of memory");
			if (node_seed(e->node, &e->node_seed) == -1)
				return fail(l, "%s:%d: cannot hash node %s",
				    l->cfg->path, l->section_line, e->node);
		}
		return 0;
	}
	if (sv->secrets.n == 0)
		return fail(l, "%s:%d: missing required key \"secret_file\" "
		    "(or nodes_file)", l->cfg->path, l->section_line);
	if (sv->node == NULL)
		return fail(l, "%s:%d: missing required key \"node\" (or "
		    "nodes_file)", l->cfg->path, l->section_line);
	return 0;
}

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * Rendezvous (highest random weight) hashing: every node scores the uid,
 * the highest score wins, the first in the file on a tie.  A uid keeps its
 * node whatever the order of the file, and adding or removing a node moves
 * only the uids that node gains or loses.
 */
const struct service *
config_node_for(const struct service *svc, uint64_t uid)
{
	const struct service	*best = svc;
	uint64_t		 score, top = 0;
	size_t			 i;

	for (i = 0; i < svc->nnodes; i++) {
		score = splitmix64(svc->nodes[i].node_seed ^ uid);
		if (i == 0 || score > top) {
			best = &svc->nodes[i];
			top = score;
		}
	}
	return best;
}

/* ---- issuers ------------------------------------------------------- */

/*
 * An issuer's HS* secret is secret memory like any other, loaded and freed
 * with tokens/secret.h; identity/issuer.h holds only its bytes and length
 * because identity may not include tokens/.
 */
static void
hs_secret_free(struct issuer_secret *hs)
{
	struct secret	 s = { hs->bytes, hs->len };

	secret_free(&s);
	hs->bytes = NULL;
	hs->len = 0;
}

static int
load_hs_secret(struct loader *l, const struct key_def *k,
    struct issuer_secret *hs, const char *path)
{
	struct secret	 s;
	char		 msg[512];

	hs_secret_free(hs);
	if (secret_load(&s, path, msg, sizeof(msg)) == -1)
		return fail(l, "%s: %s", k->name, msg);
	hs->bytes = s.bytes;
	hs->len = s.len;
	return 0;
}

/*
 * jwks_file: the path is kept for keys.c, which watches it in each worker;
 * the set is loaded now, so that a bad file fails the load at its line.
 */
static int
load_jwks(struct loader *l, struct issuer *is, const char *path)
{
	char	 msg[512];

	free(is->jwks_file);
	jwks_free(is->jwks);
	is->jwks = NULL;
	if ((is->jwks_file = strdup(path)) == NULL)
		return fail(l, "out of memory");
	if ((is->jwks = jwks_load(path, msg, sizeof(msg))) == NULL)
		return fail(l, "jwks_file: %s", msg);
	return 0;
}

/*
 * require = name=value ...: true and false stand for JSON booleans (what
 * OpenID Connect's email_verified is), any other value for a string.
 */
static int
parse_require(struct loader *l, struct issuer *is, const char *v)
{
	char		*copy, *tok, *save = NULL, *eq;
	struct claim_req *r;
	int		 rc = -1;

	if ((copy = strdup(v)) == NULL)
		return fail(l, "out of memory");
	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if ((eq = strchr(tok, '=')) == NULL || eq == tok ||
		    eq[1] == '\0') {
			fail(l, "require: expected claim=value, got \"%s\"",
			    tok);
			goto done;
		}
		*eq = '\0';
		if ((r = reallocarray(is->require, is->nrequire + 1,
		    sizeof(*r))) == NULL) {
			fail(l, "out of memory");
			goto done;
		}
		is->require = r;
		r = &r[is->nrequire];
		memset(r, 0, sizeof(*r));
		is->nrequire++;
		r->is_bool = strcmp(eq + 1, "true") == 0 ||
		    strcmp(eq + 1, "false") == 0;
		r->bval = strcmp(eq + 1, "true") == 0;
		if ((r->name = strdup(tok)) == NULL ||
		    (!r->is_bool && (r->sval = strdup(eq + 1)) == NULL)) {
			fail(l, "out of memory");
			goto done;
		}
	}
	if (is->nrequire == 0)
		fail(l, "require: name at least one claim=value");
	else
		rc = 0;
done:
	free(copy);
	return rc;
}

/* The line key name was set on in the current section, or the section's. */
static int
key_line(const struct loader *l, const char *name)
{
	size_t	 i;

	for (i = 0; l->keys[i].name != NULL; i++)
		if (strcmp(l->keys[i].name, name) == 0 && l->seen[i])
			return l->seen[i];
	return l->section_line;
}

/* The name of the first algorithm of set (for messages). */
static const char *
first_alg(unsigned set)
{
	int	 a;

	for (a = 0; a < JWS_ALG_COUNT; a++)
		if (set & JWS_ALG_BIT(a))
			return jws_alg_name(a);
	return "?";
}

/*
 * The checks of an [issuer] once all its keys are in: every algorithm
 * has what verifies it (HS* the shared secret, long enough for its hash;
 * the others a JWKS), and nothing is configured that nothing uses.
 */
static int
finish_issuer(struct loader *l, struct issuer *is)
{
	const char	*path = l->cfg->path;
	unsigned	 hs = is->algorithms & JWS_ALGS_HMAC;
	unsigned	 pk = is->algorithms & ~JWS_ALGS_HMAC;
	size_t		 need;
	int		 a;

	if (is->jwks_file == NULL && is->jwks_url == NULL &&
	    is->hs_secret.len == 0)
		return fail(l, "%s:%d: the issuer has no keys: set jwks_file, "
		    "jwks_url or hs_secret_file", path, l->section_line);
	if (hs != 0 && is->hs_secret.len == 0)
		return fail(l, "%s:%d: algorithms: %s needs hs_secret_file (a "
		    "secret shared with the issuer)", path,
		    key_line(l, "algorithms"), first_alg(hs));
	if (hs == 0 && is->hs_secret.len > 0)
		return fail(l, "%s:%d: hs_secret_file: algorithms names none "
		    "of HS256, HS384, HS512", path,
		    key_line(l, "hs_secret_file"));
	for (a = 0; a < JWS_ALG_COUNT; a++) {
		need = jws_alg_hash_len(a);
		/* RFC 7518 3.2: a key at least as long as the hash. */
		if ((hs & JWS_ALG_BIT(a)) && is->hs_secret.len < need)
			return fail(l, "%s:%d: hs_secret_file: %s needs a "
			    "secret of at least %zu bytes, this one has %zu",
			    path, key_line(l, "hs_secret_file"),
			    jws_alg_name(a), need, is->hs_secret.len);
	}
	if (pk != 0 && is->jwks_file == NULL && is->jwks_url == NULL)
		return fail(l, "%s:%d: algorithms: %s needs jwks_file or "
		    "jwks_url", path, key_line(l, "algorithms"),
		    first_alg(pk));
	if ((is->jwks_file != NULL || is->jwks_url != NULL) && pk == 0)
		return fail(l, "%s:%d: algorithms names only HS256/HS384/HS512, "
		    "so the issuer's JWKS would never be used", path,
		    key_line(l, "algorithms"));
	if (is->jwks_url == NULL && is->jwks_ca_file != NULL)
		return fail(l, "%s:%d: jwks_ca_file: no jwks_url to use it "
		    "for", path, key_line(l, "jwks_ca_file"));
	if (is->jwks_url == NULL && key_line(l, "jwks_refresh") !=
	    l->section_line)
		return fail(l, "%s:%d: jwks_refresh: no jwks_url to refresh",
		    path, key_line(l, "jwks_refresh"));
	if (is->jwks_ca_file != NULL && access(is->jwks_ca_file, R_OK) == -1)
		return fail(l, "%s:%d: jwks_ca_file: %s: %s", path,
		    key_line(l, "jwks_ca_file"), is->jwks_ca_file,
		    strerror(errno));
	return 0;
}

int
issuer_allows_service(const struct issuer *is, const char *name)
{
	size_t	 i;

	if (is->nservices == 0)
		return 1;
	for (i = 0; i < is->nservices; i++)
		if (strcmp(is->services[i], name) == 0)
			return 1;
	return 0;
}

/* ---- values ----------------------------------------------------------- */

static int
parse_long(const char *v, long *out)
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
	case KT_HS_SECRET:
		/* Only [issuer] has it. */
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		return load_hs_secret(l, k, field, path);
	case KT_SECRETS:
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		secrets_free(field);
		if (secrets_load(field, path, msg, sizeof(msg)) == -1)
			return fail(l, "%s: %s", k->name, msg);
		return 0;
	case KT_NODES:
		/* Only [service] has it: it fills nodes and nnodes. */
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		return load_nodes(l, l->obj, path);
	case KT_FORMAT:
		if (token_format_parse(v, field) == -1 ||
		    *(enum token_format *)field == TOKEN_FORMAT_ANY)
			return fail(l, "%s: expected tokenlib or fernet, got "
			    "\"%s\"", k->name, v);
		return 0;
	case KT_JWKS:
		/* Only [issuer] has it: it fills jwks_file and jwks. */
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		return load_jwks(l, l->obj, path);
	case KT_HTTPS:
		/* A key set over plain HTTP is a key set anyone can replace. */
		if (strncmp(v, "https://", 8) != 0 || v[8] == '\0')
			return fail(l, "%s: expected an https:// URL (plain "
			    "http:// is refused), got \"%s\"", k->name, v);
		free(*(char **)field);
		if ((*(char **)field = strdup(v)) == NULL)
			return fail(l, "out of memory");
		return 0;
	case KT_IDCLAIM:
		if (strcmp(v, "sub") == 0)
			*(int *)field = IDENTITY_SUB;
		else if (strcmp(v, "email") == 0)
			*(int *)field = IDENTITY_EMAIL;
		else
			return fail(l, "%s: expected sub or email, got \"%s\"",
			    k->name, v);
		return 0;
	case KT_REQUIRE:
		/* Only [issuer] has it: it fills require and nrequire. */
		return parse_require(l, l->obj, v);
	case KT_BIDKEY:
		if (resolve_path(l, v, path, sizeof(path)) == -1)
			return -1;
		browserid_key_free(*(struct browserid_key **)field);
		if ((*(struct browserid_key **)field = browserid_key_load(path,
		    msg, sizeof(msg))) == NULL)
			return fail(l, "%s: %s", k->name, msg);
		return 0;
	}
	return fail(l, "%s: internal error: unknown key type", k->name);
}

/* ---- the server's limits ----------------------------------------------- */

/*
 * The largest request worth reading: an assertion reaches a worker in one
 * frame (PROTO_MAX_VALUE), and the rest of a body or a head (JSON syntax,
 * the service name, other headers) is small.  A larger max_body or
 * connection_memory would only let clients make the front hold bytes no
 * worker could take.
 */
#define REQUEST_MAX	(PROTO_MAX_VALUE + 4096)

/*
 * Limits that must fit each other (docs/security.md): the sizes against
 * the worker frame, the hung-worker limit against the longest a job may
 * take.  Each names the key that breaks the rule, at its line.
 */
static int
finish_server(struct loader *l)
{
	struct config	*c = l->cfg;
	long		 hung = (long)c->heartbeat_ms * c->heartbeat_liveness;

	if (c->max_body > REQUEST_MAX)
		return fail(l, "%s:%d: max_body = %zu: no request over %d bytes "
		    "can be served (an assertion reaches a worker in one frame "
		    "of at most %d bytes, docs/protocol.md); set max_body to "
		    "%d or less", c->path, key_line(l, "max_body"), c->max_body,
		    REQUEST_MAX, PROTO_MAX_VALUE, REQUEST_MAX);
	if (c->connection_memory > REQUEST_MAX)
		return fail(l, "%s:%d: connection_memory = %zu: no request head "
		    "over %d bytes can be served (an assertion reaches a worker "
		    "in one frame of at most %d bytes, docs/protocol.md); set "
		    "connection_memory to %d or less", c->path,
		    key_line(l, "connection_memory"), c->connection_memory,
		    REQUEST_MAX, PROTO_MAX_VALUE, REQUEST_MAX);
	if (hung <= WORKER_JOB_MAX_MS(KEYS_WAIT_MS))
		return fail(l, "%s:%d: heartbeat_interval x heartbeat_liveness "
		    "= %ld ms: a worker would be taken for hung while a job may "
		    "still legitimately run (up to %d ms: verification, the "
		    "wait for an issuer's keys and the reply; the hung-worker "
		    "rule, docs/architecture.md); raise heartbeat_interval or "
		    "heartbeat_liveness", c->path,
		    key_line(l, "heartbeat_interval"), hung,
		    WORKER_JOB_MAX_MS(KEYS_WAIT_MS));
	return 0;
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
		if (k->def == KEY_OPTIONAL)
			continue;
		/* Defaults are ours: failing one is a bug. */
		if (set_value(l, k, k->def) == -1)
			fatalx("config: default of %s: %s", k->name, l->err);
	}
	if (l->keys == service_keys && finish_service(l, l->obj) == -1)
		return -1;
	if (l->keys == issuer_keys && finish_issuer(l, l->obj) == -1)
		return -1;
	if (l->keys == server_keys && finish_server(l) == -1)
		return -1;
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

static void *
add_browserid(struct config *c)
{
	struct browserid_issuer	*a;

	if (c->nbrowserid == CONFIG_MAX_BROWSERID ||
	    (a = reallocarray(c->browserid, c->nbrowserid + 1,
	    sizeof(*a))) == NULL)
		return NULL;
	c->browserid = a;
	memset(&a[c->nbrowserid], 0, sizeof(*a));
	return &a[c->nbrowserid++];
}

static int
named_exists(const struct config *c, const char *kind, const char *name)
{
	size_t	i;

	if (strcmp(kind, "issuer") == 0) {
		for (i = 0; i < c->nissuers; i++)
			if (strcmp(c->issuers[i].name, name) == 0)
				return 1;
	} else if (strcmp(kind, "browserid") == 0) {
		for (i = 0; i < c->nbrowserid; i++)
			if (strcmp(c->browserid[i].name, name) == 0)
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
	if (strcmp(kind, "issuer") != 0 && strcmp(kind, "service") != 0 &&
	    strcmp(kind, "browserid") != 0)
		return fail(l, "unknown section [%s%s%s]; expected [server], "
		    "[issuer NAME], [browserid NAME] or [service NAME]", kind,
		    name ? " " : "", name ? name : "");
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
	} else if (strcmp(kind, "browserid") == 0) {
		l->keys = browserid_keys;
		if ((l->obj = add_browserid(c)) == NULL)
			return fail(l, "too many [browserid] sections (at most "
			    "%d)", CONFIG_MAX_BROWSERID);
		((struct browserid_issuer *)l->obj)->line = line;
		namep = &((struct browserid_issuer *)l->obj)->name;
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

/*
 * [browserid] checks that need the whole file: one section per issuer
 * domain (the first certificate's "iss" picks it), and "services" split
 * into names that all have a [service] section.
 */
static int
check_browserid(struct loader *l)
{
	struct config		*c = l->cfg;
	struct browserid_issuer	*b;
	char			*tok, *save = NULL, *copy, **names;
	size_t			 i, j;

	for (i = 0; i < c->nbrowserid; i++) {
		b = &c->browserid[i];
		for (j = 0; j < i; j++)
			if (strcmp(c->browserid[j].issuer, b->issuer) == 0)
				return fail(l, "%s:%d: issuer \"%s\" is already "
				    "that of [browserid %s]", c->path, b->line,
				    b->issuer, c->browserid[j].name);
		if (strcmp(b->services_list, "*") == 0)
			continue;
		if ((copy = strdup(b->services_list)) == NULL)
			return fail(l, "out of memory");
		for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save)) {
			if (config_service(c, tok) == NULL) {
				fail(l, "%s:%d: services: no [service %s] "
				    "section", c->path, b->line, tok);
				free(copy);
				return -1;
			}
			if ((names = reallocarray(b->services,
			    b->nservices + 1, sizeof(*names))) == NULL ||
			    (names[b->nservices] = strdup(tok)) == NULL) {
				if (names != NULL)
					b->services = names;
				free(copy);
				return fail(l, "out of memory");
			}
			b->services = names;
			b->nservices++;
		}
		free(copy);
		if (b->nservices == 0)
			return fail(l, "%s:%d: services: name at least one "
			    "service, or * for all", c->path, b->line);
	}
	return 0;
}

/*
 * [issuer] checks that need the whole file: each "iss" names one issuer
 * (the token's "iss" picks it), and "services" split into names that all
 * have a [service] section.
 */
static int
check_issuers(struct loader *l)
{
	struct config	*c = l->cfg;
	struct issuer	*is;
	char		*tok, *save = NULL, *copy, **names;
	size_t		 i, j;

	for (i = 0; i < c->nissuers; i++) {
		is = &c->issuers[i];
		for (j = 0; j < i; j++)
			if (strcmp(c->issuers[j].iss, is->iss) == 0)
				return fail(l, "%s:%d: iss \"%s\" is already "
				    "that of [issuer %s]", c->path, is->line,
				    is->iss, c->issuers[j].name);
		if (strcmp(is->services_list, "*") == 0)
			continue;
		if ((copy = strdup(is->services_list)) == NULL)
			return fail(l, "out of memory");
		for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save)) {
			if (config_service(c, tok) == NULL) {
				fail(l, "%s:%d: services: no [service %s] "
				    "section", c->path, is->line, tok);
				free(copy);
				return -1;
			}
			if ((names = reallocarray(is->services,
			    is->nservices + 1, sizeof(*names))) == NULL ||
			    (names[is->nservices] = strdup(tok)) == NULL) {
				if (names != NULL)
					is->services = names;
				free(copy);
				return fail(l, "out of memory");
			}
			is->services = names;
			is->nservices++;
		}
		free(copy);
		if (is->nservices == 0)
			return fail(l, "%s:%d: services: name at least one "
			    "service, or * for all", c->path, is->line);
	}
	return 0;
}

/* A section that keys uids: [issuer] or [browserid], for messages. */
struct uid_space {
	const char	*kind, *name;
	const char	*ns;		/* uid_namespace, or the default */
	int		 set;		/* uid_namespace was set */
	int		 line;
};

/*
 * A uid is the keyed hash of (namespace, subject) (docs/tokens.md), and
 * the defaults, an [issuer]'s iss and a [browserid]'s issuer domain, can
 * coincide by accident: a JWT issuer whose iss is a BrowserID issuer's
 * domain would give alice@ that domain one uid through either.  So two
 * sections share a namespace only when both set uid_namespace to it.
 * Then fills in the defaults.
 */
static int
check_uid_namespaces(struct loader *l)
{
	struct config		*c = l->cfg;
	struct uid_space	 sp[CONFIG_MAX_ISSUERS + CONFIG_MAX_BROWSERID];
	const struct uid_space	*a, *b;
	size_t			 i, j, n = 0;

	for (i = 0; i < c->nissuers; i++, n++)
		sp[n] = (struct uid_space){ "issuer", c->issuers[i].name,
		    c->issuers[i].uid_namespace ? c->issuers[i].uid_namespace :
		    c->issuers[i].iss, c->issuers[i].uid_namespace != NULL,
		    c->issuers[i].line };
	for (i = 0; i < c->nbrowserid; i++, n++)
		sp[n] = (struct uid_space){ "browserid", c->browserid[i].name,
		    c->browserid[i].uid_namespace ?
		    c->browserid[i].uid_namespace : c->browserid[i].issuer,
		    c->browserid[i].uid_namespace != NULL,
		    c->browserid[i].line };
	for (i = 0; i < n; i++) {
		/* mint_uid() has room for this much. */
		if (strlen(sp[i].ns) > CONFIG_MAX_UID_NAMESPACE)
			return fail(l, "%s:%d: [%s %s]: uid namespace longer "
			    "than %d bytes: set a shorter uid_namespace",
			    c->path, sp[i].line, sp[i].kind, sp[i].name,
			    CONFIG_MAX_UID_NAMESPACE);
		for (j = 0; j < i; j++) {
			if (strcmp(sp[i].ns, sp[j].ns) != 0 ||
			    (sp[i].set && sp[j].set))
				continue;
			/* Report at the later section, naming the other. */
			a = sp[i].line > sp[j].line ? &sp[i] : &sp[j];
			b = a == &sp[i] ? &sp[j] : &sp[i];
			return fail(l, "%s:%d: [%s %s] and [%s %s] (line %d) "
			    "have the same uid namespace \"%s\", so a subject "
			    "of either would get one uid: set uid_namespace = "
			    "%s in both if sharing uids is intended, or another "
			    "uid_namespace in one", c->path, a->line, a->kind,
			    a->name, b->kind, b->name, b->line, a->ns, a->ns);
		}
	}
	for (i = 0; i < c->nissuers; i++)
		if (c->issuers[i].uid_namespace == NULL &&
		    (c->issuers[i].uid_namespace = strdup(
		    c->issuers[i].iss)) == NULL)
			return fail(l, "out of memory");
	for (i = 0; i < c->nbrowserid; i++)
		if (c->browserid[i].uid_namespace == NULL &&
		    (c->browserid[i].uid_namespace = strdup(
		    c->browserid[i].issuer)) == NULL)
			return fail(l, "out of memory");
	return 0;
}

/* Checks that span sections, once every section is complete. */
static int
check_config(struct loader *l)
{
	struct config	*c = l->cfg;
	long		 ncpu;

	if (c->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;
	}
	if (!l->server_seen)
		return fail(l, "%s: no [server] section (uid_secret_file is "
		    "required there)", c->path);
	if (c->nissuers == 0 && c->nbrowserid == 0)
		return fail(l, "%s: no [issuer NAME] section (nor [browserid "
		    "NAME]): no assertion could ever be accepted", c->path);
	if (c->nservices == 0)
		return fail(l, "%s: no [service NAME] section: no token "
		    "could ever be issued", c->path);
	/* sockaddr_un holds 108 bytes; leave room for "/worker.sock". */
	if (strlen(c->runtime_dir) > 80)
		return fail(l, "%s: runtime_dir is longer than 80 bytes, too "
		    "long for a Unix socket path", c->path);
	if (check_issuers(l) == -1 || check_browserid(l) == -1)
		return -1;
	return check_uid_namespaces(l);
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
	size_t	i;

	free(is->name);
	free(is->iss);
	free(is->audience);
	free(is->uid_namespace);
	jwks_free(is->jwks);
	is->jwks = NULL;
	free(is->jwks_file);
	free(is->jwks_url);
	free(is->jwks_ca_file);
	hs_secret_free(&is->hs_secret);
	for (i = 0; i < is->nrequire; i++) {
		free(is->require[i].name);
		free(is->require[i].sval);
	}
	free(is->require);
	free(is->services_list);
	for (i = 0; i < is->nservices; i++)
		free(is->services[i]);
	free(is->services);
}

static void
browserid_clear(struct browserid_issuer *b)
{
	size_t	i;

	free(b->name);
	free(b->issuer);
	free(b->audience);
	free(b->uid_namespace);
	free(b->services_list);
	for (i = 0; i < b->nservices; i++)
		free(b->services[i]);
	free(b->services);
	browserid_key_free(b->key);
	b->key = NULL;
}

static void
service_clear(struct service *s)
{
	size_t	i;

	free(s->name);
	free(s->node);
	secrets_free(&s->secrets);
	for (i = 0; i < s->nnodes; i++)
		service_clear(&s->nodes[i]);
	free(s->nodes);
	s->nodes = NULL;
	s->nnodes = 0;
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
	for (i = 0; i < c->nbrowserid; i++)
		browserid_clear(&c->browserid[i]);
	free(c->issuers);
	free(c->services);
	free(c->browserid);
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
	size_t	i, j;

	for (i = 0; i < c->nissuers; i++) {
		jwks_free(c->issuers[i].jwks);
		c->issuers[i].jwks = NULL;
		hs_secret_free(&c->issuers[i].hs_secret);
	}
	for (i = 0; i < c->nbrowserid; i++) {
		browserid_key_free(c->browserid[i].key);
		c->browserid[i].key = NULL;
	}
	for (i = 0; i < c->nservices; i++) {
		secrets_free(&c->services[i].secrets);
		for (j = 0; j < c->services[i].nnodes; j++)
			secrets_free(&c->services[i].nodes[j].secrets);
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
