/*
 * config.c - turns tokend.conf into one checked, immutable struct config.
 *
 * The generic work (the INI file, keys, defaults, errors at FILE:LINE) is
 * core/conf.c's; this file says what tokend's file holds: the [server]
 * keys, the [issuer] and [browserid] keys, the section table, and the
 * checks that span sections.  [service] is tokens/service.c's, joined here
 * to its node assignment (store/).  Files a key names (secrets, JWKS) are
 * read when the key is met, so an error in them points at the key's line.
 * Nothing is half-applied: config_load() either returns a complete config
 * or frees everything it built.
 *
 * A new section is one entry in sections[] and its finish function (and
 * its struct and keys, next to the code that uses them).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/log.h"
#include "identity/browserid.h"
#include "identity/issuer.h"
#include "identity/jwks.h"
#include "identity/jws.h"
#include "identity/keys.h"
#include "pool/protocol.h"
#include "store/store.h"
#include "tokens/secret.h"
#include "tokens/service.h"
#include "worker.h"

/* ---- one-secret files: the uid secret, an issuer's HS* secret ---------- */

static int
load_secret(struct conf *l, const struct conf_key *k, const char *v,
    struct secret *s)
{
	char	 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	if (secret_load(s, path, msg, sizeof(msg)) == -1)
		return conf_fail(l, "%s: %s", k->name, msg);
	return 0;
}

/* A struct secret * field, allocated here. */
static void
clear_secret(const struct conf_key *k, void *obj)
{
	struct secret	**field = CONF_FIELD(obj, k);

	if (*field != NULL)
		secret_free(*field);
	free(*field);
	*field = NULL;
}

static int
set_secret(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	struct secret	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return conf_fail(l, "out of memory");
	if (load_secret(l, k, v, s) == -1) {
		free(s);
		return -1;
	}
	clear_secret(k, obj);
	*(struct secret **)CONF_FIELD(obj, k) = s;
	return 0;
}

static const struct conf_type secret_type = { set_secret, clear_secret,
    clear_secret };

/*
 * identity/issuer.h holds an HS* secret as bytes and a length (identity may
 * not include tokens/); it is secret memory all the same.
 */
static void
clear_hs_secret(const struct conf_key *k, void *obj)
{
	struct issuer_secret	*hs = CONF_FIELD(obj, k);
	struct secret		 s = { hs->bytes, hs->len };

	secret_free(&s);
	hs->bytes = NULL;
	hs->len = 0;
}

static int
set_hs_secret(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct issuer_secret	*hs = CONF_FIELD(obj, k);
	struct secret		 s;

	if (load_secret(l, k, v, &s) == -1)
		return -1;
	clear_hs_secret(k, obj);
	hs->bytes = s.bytes;
	hs->len = s.len;
	return 0;
}

static const struct conf_type hs_secret_type = { set_hs_secret,
    clear_hs_secret, clear_hs_secret };

/* ---- [server] --------------------------------------------------------- */

/* host:port or [v6]:port, numeric: listen, listen_host and listen_port. */
static int
set_listen(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct config	*c = obj;
	char		 host[INET6_ADDRSTRLEN + 2];
	unsigned char	 addr[sizeof(struct in6_addr)];
	const char	*colon;
	long		 port;
	size_t		 hlen;

	if ((colon = strrchr(v, ':')) == NULL)
		return conf_fail(l, "listen: expected ADDRESS:PORT, got \"%s\"",
		    v);
	hlen = (size_t)(colon - v);
	if (hlen >= sizeof(host))
		return conf_fail(l, "listen: address too long");
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return conf_fail(l, "listen: \"%s\" is not an IPv6 "
			    "address", host);
	} else if (inet_pton(AF_INET, host, addr) != 1)
		return conf_fail(l, "listen: \"%s\" is not a numeric IPv4 "
		    "address (write IPv6 as [addr]:port)", host);
	if (conf_parse_long(colon + 1, &port) == -1 || port < 1 ||
	    port > 65535)
		return conf_fail(l, "listen: port must be 1..65535, got \"%s\"",
		    colon + 1);
	free(c->listen);
	free(c->listen_host);
	c->listen = strdup(v);
	c->listen_host = strdup(host);
	c->listen_port = (uint16_t)port;
	return (c->listen && c->listen_host) ? 0 :
	    conf_fail(l, "out of memory");
}

static void
clear_listen(const struct conf_key *k, void *obj)
{
	struct config	*c = obj;

	free(c->listen);
	free(c->listen_host);
	c->listen = c->listen_host = NULL;
}

static const struct conf_type listen_type = { set_listen, clear_listen,
    NULL };

#define SRV(f)	offsetof(struct config, f)

static const struct conf_key server_keys[] = {
	{ "listen", &listen_type, SRV(listen), 0, 0, "127.0.0.1:8080" },
	{ "workers", &conf_int, SRV(workers), 0, 256, "0" /* one per CPU */ },
	{ "worker_credit", &conf_int, SRV(worker_credit), 1, 16, "16" },
	{ "runtime_dir", &conf_pathname, SRV(runtime_dir), 0, 0,
	    "/run/tokend" },
	{ "max_body", &conf_size, SRV(max_body), 256, 1048576, "16384" },
	{ "queue_limit", &conf_int, SRV(queue_limit), 1, 1000000, "1024" },
	{ "request_timeout", &conf_msec, SRV(request_timeout_ms), 1, 300,
	    "5" },
	{ "shutdown_timeout", &conf_msec, SRV(shutdown_timeout_ms), 1, 3600,
	    "10" },
	{ "max_connections", &conf_int, SRV(max_connections), 1, 1000000,
	    "20000" },
	/* 0 is unlimited: behind a reverse proxy, raise it or set 0. */
	{ "per_ip_connections", &conf_int, SRV(per_ip_connections), 0,
	    1000000, "256" },
	{ "idle_timeout", &conf_int, SRV(idle_timeout), 1, 3600, "60" },
	{ "connection_memory", &conf_size, SRV(connection_memory), 4096,
	    262144, "4608" },
	{ "access_log", &conf_bool, SRV(access_log), 0, 1, "on" },
	{ "sandbox", &conf_bool, SRV(sandbox), 0, 1, "on" },
	{ "log_level", &conf_loglevel, SRV(log_level), 0, 0, "info" },
	{ "heartbeat_interval", &conf_int, SRV(heartbeat_ms), 50, 60000,
	    "1000" },
	{ "heartbeat_liveness", &conf_int, SRV(heartbeat_liveness), 2, 100,
	    "3" },
	{ "orphan_timeout", &conf_msec, SRV(orphan_timeout_ms), 1, 3600,
	    "30" },
	{ "max_jobs", &conf_long, SRV(max_jobs), 0, 1000000000, "0" },
	{ "max_rss", &conf_mib, SRV(max_rss_kb), 0, 65536, "256" },
	{ "uid_secret_file", &secret_type, SRV(uid_secret), 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, NULL }
};

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
finish_server(struct conf *l, void *obj)
{
	struct config	*c = obj;
	long		 hung = (long)c->heartbeat_ms * c->heartbeat_liveness;
	long		 ncpu;

	if (c->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = ncpu < 1 ? 1 : ncpu > 256 ? 256 : (int)ncpu;
	}
	if (c->max_body > REQUEST_MAX)
		return conf_fail_at(l, conf_key_line(l, "max_body"), "max_body "
		    "= %zu: no request over %d bytes can be served (an "
		    "assertion reaches a worker in one frame of at most %d "
		    "bytes, docs/protocol.md); set max_body to %d or less",
		    c->max_body, REQUEST_MAX, PROTO_MAX_VALUE, REQUEST_MAX);
	if (c->connection_memory > REQUEST_MAX)
		return conf_fail_at(l, conf_key_line(l, "connection_memory"),
		    "connection_memory = %zu: no request head over %d bytes "
		    "can be served (an assertion reaches a worker in one frame "
		    "of at most %d bytes, docs/protocol.md); set "
		    "connection_memory to %d or less", c->connection_memory,
		    REQUEST_MAX, PROTO_MAX_VALUE, REQUEST_MAX);
	if (hung <= WORKER_JOB_MAX_MS(KEYS_WAIT_MS))
		return conf_fail_at(l, conf_key_line(l, "heartbeat_interval"),
		    "heartbeat_interval x heartbeat_liveness = %ld ms: a "
		    "worker would be taken for hung while a job may still "
		    "legitimately run (up to %d ms: verification, the wait for "
		    "an issuer's keys and the reply; the hung-worker rule, "
		    "docs/architecture.md); raise heartbeat_interval or "
		    "heartbeat_liveness", hung,
		    WORKER_JOB_MAX_MS(KEYS_WAIT_MS));
	/* sockaddr_un holds 108 bytes; leave room for "/worker.sock". */
	if (strlen(c->runtime_dir) > 80)
		return conf_fail_at(l, 0, "runtime_dir is longer than 80 "
		    "bytes, too long for a Unix socket path");
	return 0;
}

/* ---- [issuer] --------------------------------------------------------- */

/*
 * jwks_file: the path is kept for keys.c, which watches it in each worker;
 * the set is loaded now, so that a bad file fails the load at its line.
 */
static void
clear_jwks(const struct conf_key *k, void *obj)
{
	struct issuer	*is = obj;

	jwks_free(is->jwks);
	is->jwks = NULL;
	free(is->jwks_file);
	is->jwks_file = NULL;
}

static void
purge_jwks(const struct conf_key *k, void *obj)
{
	struct issuer	*is = obj;

	jwks_free(is->jwks);
	is->jwks = NULL;
}

static int
set_jwks(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	struct issuer	*is = obj;
	char		 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	clear_jwks(k, is);
	if ((is->jwks_file = strdup(path)) == NULL)
		return conf_fail(l, "out of memory");
	if ((is->jwks = jwks_load(path, msg, sizeof(msg))) == NULL)
		return conf_fail(l, "jwks_file: %s", msg);
	return 0;
}

static const struct conf_type jwks_type = { set_jwks, clear_jwks,
    purge_jwks };

static int
set_algs(struct conf *l, const struct conf_key *k, void *obj, const char *v)
{
	unsigned	*out = CONF_FIELD(obj, k);
	char		 buf[256], *tok, *save = NULL;
	enum jws_alg	 alg;

	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return conf_fail(l, "algorithms: value too long");
	*out = 0;
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (jws_alg_parse(tok, &alg) == -1)
			return conf_fail(l, "algorithms: unsupported algorithm "
			    "\"%s\"", tok);
		*out |= JWS_ALG_BIT(alg);
	}
	if (*out == 0)
		return conf_fail(l, "algorithms: name at least one algorithm");
	return 0;
}

static const struct conf_type algs_type = { set_algs, NULL, NULL };

static int
set_idclaim(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	int	*field = CONF_FIELD(obj, k);

	if (strcmp(v, "sub") == 0)
		*field = IDENTITY_SUB;
	else if (strcmp(v, "email") == 0)
		*field = IDENTITY_EMAIL;
	else
		return conf_fail(l, "%s: expected sub or email, got \"%s\"",
		    k->name, v);
	return 0;
}

static const struct conf_type idclaim_type = { set_idclaim, NULL, NULL };

static void
clear_require(const struct conf_key *k, void *obj)
{
	struct issuer	*is = obj;
	size_t		 i;

	for (i = 0; i < is->nrequire; i++) {
		free(is->require[i].name);
		free(is->require[i].sval);
	}
	free(is->require);
	is->require = NULL;
	is->nrequire = 0;
}

/* One claim=value onto is->require. */
static int
add_require(struct conf *l, struct issuer *is, char *tok)
{
	struct claim_req	*r;
	char			*eq;

	if ((eq = strchr(tok, '=')) == NULL || eq == tok || eq[1] == '\0')
		return conf_fail(l, "require: expected claim=value, got "
		    "\"%s\"", tok);
	*eq = '\0';
	if ((r = reallocarray(is->require, is->nrequire + 1,
	    sizeof(*r))) == NULL)
		return conf_fail(l, "out of memory");
	is->require = r;
	r = &r[is->nrequire++];
	memset(r, 0, sizeof(*r));
	r->is_bool = strcmp(eq + 1, "true") == 0 ||
	    strcmp(eq + 1, "false") == 0;
	r->bval = strcmp(eq + 1, "true") == 0;
	if ((r->name = strdup(tok)) == NULL ||
	    (!r->is_bool && (r->sval = strdup(eq + 1)) == NULL))
		return conf_fail(l, "out of memory");
	return 0;
}

/*
 * require = name=value ...: true and false stand for JSON booleans (what
 * OpenID Connect's email_verified is), any other value for a string.
 */
static int
set_require(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct issuer	*is = obj;
	char		*copy, *tok, *save = NULL;
	int		 rc = 0;

	clear_require(k, is);
	if ((copy = strdup(v)) == NULL)
		return conf_fail(l, "out of memory");
	for (tok = strtok_r(copy, " \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, " \t", &save))
		rc = add_require(l, is, tok);
	free(copy);
	if (rc == 0 && is->nrequire == 0)
		return conf_fail(l, "require: name at least one claim=value");
	return rc;
}

static const struct conf_type require_type = { set_require, clear_require,
    NULL };

#define ISS(f)	offsetof(struct issuer, f)

/*
 * Keys come from jwks_file, jwks_url (or both), the HS* secret from
 * hs_secret_file: finish_issuer() checks they fit "algorithms".  "services"
 * is checked against the [service] sections once all are read.
 */
static const struct conf_key issuer_keys[] = {
	{ "iss", &conf_str, ISS(iss), 0, 0, NULL },
	{ "jwks_file", &jwks_type, ISS(jwks_file), 0, 0, CONF_OPTIONAL },
	{ "jwks_url", &conf_https, ISS(jwks_url), 0, 0, CONF_OPTIONAL },
	{ "jwks_refresh", &conf_i64, ISS(jwks_refresh), 1, 604800, "3600" },
	{ "jwks_ca_file", &conf_pathname, ISS(jwks_ca_file), 0, 0,
	    CONF_OPTIONAL },
	{ "hs_secret_file", &hs_secret_type, ISS(hs_secret), 0, 0,
	    CONF_OPTIONAL },
	{ "audience", &conf_str, ISS(audience), 0, 0, NULL },
	{ "algorithms", &algs_type, ISS(algorithms), 0, 0,
	    "RS256 ES256 EdDSA" },
	{ "leeway", &conf_i64, ISS(leeway), 0, 3600, "60" },
	{ "identity_claim", &idclaim_type, ISS(identity), 0, 0, "sub" },
	{ "require", &require_type, ISS(require), 0, 0, CONF_OPTIONAL },
	{ "services", &conf_str, ISS(services_list), 0, 0, "*" },
	{ "uid_namespace", &conf_str, ISS(uid_namespace), 0, 0,
	    CONF_OPTIONAL },
	{ NULL, NULL, 0, 0, 0, NULL }
};

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

/* Every HS* algorithm has a secret at least as long as its hash. */
static int
check_hs_secret(struct conf *l, const struct issuer *is, unsigned hs)
{
	int	 a, line = conf_key_line(l, "hs_secret_file");
	size_t	 need;

	if (hs != 0 && is->hs_secret.len == 0)
		return conf_fail_at(l, conf_key_line(l, "algorithms"),
		    "algorithms: %s needs hs_secret_file (a secret shared with "
		    "the issuer)", first_alg(hs));
	if (hs == 0 && is->hs_secret.len > 0)
		return conf_fail_at(l, line, "hs_secret_file: algorithms names "
		    "none of HS256, HS384, HS512");
	for (a = 0; a < JWS_ALG_COUNT; a++) {
		need = jws_alg_hash_len(a);
		/* RFC 7518 3.2: a key at least as long as the hash. */
		if ((hs & JWS_ALG_BIT(a)) && is->hs_secret.len < need)
			return conf_fail_at(l, line, "hs_secret_file: %s needs "
			    "a secret of at least %zu bytes, this one has %zu",
			    jws_alg_name(a), need, is->hs_secret.len);
	}
	return 0;
}

/*
 * The checks of an [issuer] once all its keys are in: every algorithm
 * has what verifies it (HS* the shared secret, long enough for its hash;
 * the others a JWKS), and nothing is configured that nothing uses.
 */
static int
finish_issuer(struct conf *l, void *obj)
{
	const struct issuer	*is = obj;
	unsigned		 pk = is->algorithms & ~JWS_ALGS_HMAC;
	int			 algs = conf_key_line(l, "algorithms");

	if (is->jwks_file == NULL && is->jwks_url == NULL &&
	    is->hs_secret.len == 0)
		return conf_fail_at(l, conf_section_line(l), "the issuer has "
		    "no keys: set jwks_file, jwks_url or hs_secret_file");
	if (check_hs_secret(l, is, is->algorithms & JWS_ALGS_HMAC) == -1)
		return -1;
	if (pk != 0 && is->jwks_file == NULL && is->jwks_url == NULL)
		return conf_fail_at(l, algs, "algorithms: %s needs jwks_file "
		    "or jwks_url", first_alg(pk));
	if ((is->jwks_file != NULL || is->jwks_url != NULL) && pk == 0)
		return conf_fail_at(l, algs, "algorithms names only "
		    "HS256/HS384/HS512, so the issuer's JWKS would never be "
		    "used");
	if (is->jwks_url == NULL && is->jwks_ca_file != NULL)
		return conf_fail_at(l, conf_key_line(l, "jwks_ca_file"),
		    "jwks_ca_file: no jwks_url to use it for");
	if (is->jwks_url == NULL && conf_key_set(l, "jwks_refresh"))
		return conf_fail_at(l, conf_key_line(l, "jwks_refresh"),
		    "jwks_refresh: no jwks_url to refresh");
	if (is->jwks_ca_file != NULL && access(is->jwks_ca_file, R_OK) == -1)
		return conf_fail_at(l, conf_key_line(l, "jwks_ca_file"),
		    "jwks_ca_file: %s: %s", is->jwks_ca_file, strerror(errno));
	return 0;
}

static void
free_names(char ***names, size_t *n)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*n = 0;
}

static void
clear_issuer(void *obj)
{
	struct issuer	*is = obj;

	free_names(&is->services, &is->nservices);
}

/* ---- [browserid] ------------------------------------------------------ */

static void
clear_bidkey(const struct conf_key *k, void *obj)
{
	struct browserid_key	**key = CONF_FIELD(obj, k);

	browserid_key_free(*key);
	*key = NULL;
}

static int
set_bidkey(struct conf *l, const struct conf_key *k, void *obj,
    const char *v)
{
	struct browserid_key	**key = CONF_FIELD(obj, k);
	char			 path[PATH_MAX], msg[512];

	if (conf_resolve(l, v, path, sizeof(path)) == -1)
		return -1;
	clear_bidkey(k, obj);
	if ((*key = browserid_key_load(path, msg, sizeof(msg))) == NULL)
		return conf_fail(l, "%s: %s", k->name, msg);
	return 0;
}

static const struct conf_type bidkey_type = { set_bidkey, clear_bidkey,
    clear_bidkey };

#define BID(f)	offsetof(struct browserid_issuer, f)

/* "services" is checked against the [service] sections once all are read. */
static const struct conf_key browserid_keys[] = {
	{ "issuer", &conf_str, BID(issuer), 0, 0, NULL },
	{ "public_key_file", &bidkey_type, BID(key), 0, 0, NULL },
	{ "audience", &conf_str, BID(audience), 0, 0, NULL },
	{ "secondary", &conf_bool, BID(secondary), 0, 1, "off" },
	{ "leeway", &conf_i64, BID(leeway), 0, 3600, "60" },
	{ "services", &conf_str, BID(services_list), 0, 0, "*" },
	{ "uid_namespace", &conf_str, BID(uid_namespace), 0, 0,
	    CONF_OPTIONAL },
	{ NULL, NULL, 0, 0, 0, NULL }
};

static void
clear_browserid(void *obj)
{
	struct browserid_issuer	*b = obj;

	free_names(&b->services, &b->nservices);
}

/* ---- [service]: tokens/service.c, with its node store ------------------ */

/*
 * A nodes_file service gets the store that picks a user's node (store/):
 * rendezvous hashing over its nodes' URLs.  tokens/ may not reach store/,
 * so the instance joins the two.
 */
static int
finish_service(struct conf *l, void *obj)
{
	struct service	*sv = obj;
	const char	*urls[NODES_MAX];
	char		 msg[256];
	size_t		 i;

	if (service_finish(l, sv) == -1)
		return -1;
	if (sv->nnodes == 0)
		return 0;
	for (i = 0; i < sv->nnodes && i < NODES_MAX; i++)
		urls[i] = sv->nodes[i].node;
	if ((sv->store = store_rendezvous_new(urls, i, msg,
	    sizeof(msg))) == NULL)
		return conf_fail_at(l, conf_section_line(l), "%s", msg);
	return 0;
}

static void
clear_service(void *obj)
{
	struct service	*sv = obj;

	store_free(sv->store);
	sv->store = NULL;
}

/* ---- the file --------------------------------------------------------- */

static const struct conf_section sections[] = {
	{ .name = "server", .keys = server_keys, .off = 0,
	  .finish = finish_server },
	{ .name = "issuer", .keys = issuer_keys,
	  CONF_NAMED(struct config, issuers, nissuers, struct issuer,
	      CONFIG_MAX_ISSUERS),
	  .finish = finish_issuer, .clear = clear_issuer },
	{ .name = "browserid", .keys = browserid_keys,
	  CONF_NAMED(struct config, browserid, nbrowserid,
	      struct browserid_issuer, CONFIG_MAX_BROWSERID),
	  .clear = clear_browserid },
	{ .name = "service", .keys = service_keys,
	  CONF_NAMED(struct config, services, nservices, struct service,
	      CONFIG_MAX_SERVICES),
	  .finish = finish_service, .clear = clear_service },
	{ .name = NULL }
};

/*
 * "services" of an [issuer] or [browserid] at line: split into names that
 * all have a [service] section.  "*" (every service) leaves *names NULL.
 */
static int
split_services(struct conf *l, const struct config *c, const char *list,
    int line, char ***names, size_t *n)
{
	char	*copy, *tok, *save = NULL, **v;
	int	 rc = 0;

	if (strcmp(list, "*") == 0)
		return 0;
	if ((copy = strdup(list)) == NULL)
		return conf_fail(l, "out of memory");
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (config_service(c, tok) == NULL) {
			rc = conf_fail_at(l, line, "services: no [service %s] "
			    "section", tok);
			break;
		}
		if ((v = reallocarray(*names, *n + 1, sizeof(*v))) == NULL ||
		    (v[*n] = strdup(tok)) == NULL) {
			if (v != NULL)
				*names = v;
			rc = conf_fail(l, "out of memory");
			break;
		}
		*names = v;
		(*n)++;
	}
	free(copy);
	if (rc == 0 && *n == 0)
		return conf_fail_at(l, line, "services: name at least one "
		    "service, or * for all");
	return rc;
}

/*
 * Whole-file checks of [issuer] and [browserid]: each "iss" (a
 * certificate's issuer domain) names one section, since the assertion's
 * picks it; and "services" names [service] sections.
 */
static int
check_issuers(struct conf *l, const struct config *c)
{
	struct issuer		*is;
	struct browserid_issuer	*b;
	size_t			 i, j;

	for (i = 0; i < c->nissuers; i++) {
		is = &c->issuers[i];
		for (j = 0; j < i; j++)
			if (strcmp(c->issuers[j].iss, is->iss) == 0)
				return conf_fail_at(l, is->line, "iss \"%s\" "
				    "is already that of [issuer %s]", is->iss,
				    c->issuers[j].name);
		if (split_services(l, c, is->services_list, is->line,
		    &is->services, &is->nservices) == -1)
			return -1;
	}
	for (i = 0; i < c->nbrowserid; i++) {
		b = &c->browserid[i];
		for (j = 0; j < i; j++)
			if (strcmp(c->browserid[j].issuer, b->issuer) == 0)
				return conf_fail_at(l, b->line, "issuer \"%s\" "
				    "is already that of [browserid %s]",
				    b->issuer, c->browserid[j].name);
		if (split_services(l, c, b->services_list, b->line,
		    &b->services, &b->nservices) == -1)
			return -1;
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

static size_t
uid_spaces(const struct config *c, struct uid_space *sp)
{
	size_t	i, n = 0;

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
	return n;
}

/* *ns = def unless set; 0 or -1. */
static int
default_namespace(struct conf *l, char **ns, const char *def)
{
	if (*ns == NULL && (*ns = strdup(def)) == NULL)
		return conf_fail(l, "out of memory");
	return 0;
}

/*
 * A uid is the keyed hash of (namespace, subject) (docs/tokens.md), and
 * the defaults, an [issuer]'s iss and a [browserid]'s issuer domain, can
 * coincide by accident: a JWT issuer whose iss is a BrowserID issuer's
 * domain would give alice@ that domain one uid through either.  So two
 * sections share a namespace only when both set uid_namespace to it.
 * Then fills in the defaults.
 */
static int
check_uid_namespaces(struct conf *l, struct config *c)
{
	struct uid_space	 sp[CONFIG_MAX_ISSUERS + CONFIG_MAX_BROWSERID];
	const struct uid_space	*a, *b;
	size_t			 i, j, n = uid_spaces(c, sp);

	for (i = 0; i < n; i++) {
		/* mint_uid() has room for this much. */
		if (strlen(sp[i].ns) > CONFIG_MAX_UID_NAMESPACE)
			return conf_fail_at(l, sp[i].line, "[%s %s]: uid "
			    "namespace longer than %d bytes: set a shorter "
			    "uid_namespace", sp[i].kind, sp[i].name,
			    CONFIG_MAX_UID_NAMESPACE);
		for (j = 0; j < i; j++) {
			if (strcmp(sp[i].ns, sp[j].ns) != 0 ||
			    (sp[i].set && sp[j].set))
				continue;
			/* Report at the later section, naming the other. */
			a = sp[i].line > sp[j].line ? &sp[i] : &sp[j];
			b = a == &sp[i] ? &sp[j] : &sp[i];
			return conf_fail_at(l, a->line, "[%s %s] and [%s %s] "
			    "(line %d) have the same uid namespace \"%s\", so "
			    "a subject of either would get one uid: set "
			    "uid_namespace = %s in both if sharing uids is "
			    "intended, or another uid_namespace in one",
			    a->kind, a->name, b->kind, b->name, b->line, a->ns,
			    a->ns);
		}
	}
	for (i = 0; i < c->nissuers; i++)
		if (default_namespace(l, &c->issuers[i].uid_namespace,
		    c->issuers[i].iss) == -1)
			return -1;
	for (i = 0; i < c->nbrowserid; i++)
		if (default_namespace(l, &c->browserid[i].uid_namespace,
		    c->browserid[i].issuer) == -1)
			return -1;
	return 0;
}

/* Checks that span sections, once every section is complete. */
static int
check_config(struct conf *l, void *root)
{
	struct config	*c = root;

	if (c->nissuers == 0 && c->nbrowserid == 0)
		return conf_fail_at(l, 0, "no [issuer NAME] section (nor "
		    "[browserid NAME]): no assertion could ever be accepted");
	if (c->nservices == 0)
		return conf_fail_at(l, 0, "no [service NAME] section: no token "
		    "could ever be issued");
	if (check_issuers(l, c) == -1)
		return -1;
	return check_uid_namespaces(l, c);
}

static const struct conf_schema schema = { sections, check_config };

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(c);
		return NULL;
	}
	if (conf_load(path, &schema, c, err, errlen) == -1) {
		config_free(c);
		return NULL;
	}
	return c;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	conf_clear(&schema, c);
	free(c->path);
	free(c);
}

void
config_purge_secrets(struct config *c)
{
	conf_purge(&schema, c);
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

const struct service *
config_node_for(const struct service *svc, uint64_t uid)
{
	const struct store_user	 user = { uid };
	char			 msg[256];
	size_t			 i;

	if (svc->store == NULL)
		return svc;
	if (store_node_for(svc->store, &user, &i, msg, sizeof(msg)) == -1) {
		log_warnx("service %s: no node: %s", svc->name, msg);
		return NULL;
	}
	return &svc->nodes[i];
}
