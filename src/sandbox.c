/*
 * sandbox.c - what the front and a worker may reach after set-up, from the
 * config: the paths they read, the directory and port set-up binds, the
 * TCP ports a worker fetches keys from.  core/sandbox.c turns that into
 * Landlock rules and a seccomp filter; docs/security.md ("Confinement")
 * has the whole picture.
 *
 * Files are listed by what reads them, as closely as a rule can say it.
 * A key or CA file is allowed through its directory: operators replace
 * such files by rename, which makes a new inode, and a rule on the old
 * inode would then refuse the new version.  The worker already holds
 * every secret of the config, so its directory is no wider a door.
 * Libraries (glibc's resolver and NSS, OpenSSL, libcurl) open some files
 * lazily, on first use: what they open after set-up is allowed below
 * (a worker's DNS and TLS files) or used once before the filter (the
 * time zone, jansson's hash seed), so no request finds a path refused.
 */
#include "sandbox.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "config.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "identity/issuer.h"

/*
 * Read by glibc and libzmq in every process during set-up (libzmq's
 * OpenPGM looks up its protocol number, the CPU count is read) and on the
 * first log line or response (the time zone).
 */
static const char *const system_reads[] = {
	"/etc/protocols", "/etc/nsswitch.conf", "/etc/ld.so.cache",
	"/etc/localtime", "/usr/share/zoneinfo", "/dev/urandom",
	"/sys/devices/system/cpu",
};

/*
 * A worker that fetches a jwks_url: the resolver's files, the system's CA
 * certificates (the bundle, and the files /etc/ssl/certs links to),
 * OpenSSL's config, and the libraries NSS and OpenSSL load on first use.
 */
static const char *const fetch_reads[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf",
	"/etc/services", "/etc/ssl/certs", "/etc/ssl/openssl.cnf",
	"/usr/share/ca-certificates",
	"/usr/local/share/ca-certificates", "/usr/lib", "/lib",
};

#define DNS_TCP_PORT	53	/* a truncated UDP answer is asked again */

static int
allow_reads(struct sandbox_rules *r, const char *const *paths, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (sandbox_allow_read(r, paths[i]) == -1)
			return -1;
	return 0;
}

/* Allows reading beneath the directory that holds path. */
static int
allow_dir_of(struct sandbox_rules *r, const char *path)
{
	char	*dir, *slash;
	int	 rc;

	if ((dir = strdup(path)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		rc = sandbox_allow_read(r, ".");
	else {
		slash[slash == dir] = '\0';	/* "/x" is in "/" */
		rc = sandbox_allow_read(r, dir);
	}
	free(dir);
	return rc;
}

/* The TCP port of an https URL, through libcurl's own URL parser. */
static int
url_port(const char *url, uint16_t *port)
{
	CURLU	*u;
	char	*p = NULL;
	long	 v = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK)
		v = strtol(p, NULL, 10);
	curl_free(p);
	curl_url_cleanup(u);
	if (v <= 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Connections to url's port (and what a fetch reads, below). */
static int
allow_url(struct sandbox_rules *r, const struct issuer *is, const char *url)
{
	uint16_t	port;

	if (url_port(url, &port) == -1) {
		log_warnx("sandbox: issuer %s: no port in %s", is->name, url);
		return -1;
	}
	r->inet = 1;
	return sandbox_allow_connect(r, port);
}

/*
 * What an issuer's key sources need: its files, its URL's port; and an
 * fxa-oauth issuer's verify_url (identity/fxa.c), which a worker calls
 * inside jobs.
 */
static int
allow_issuer(struct sandbox_rules *r, const struct issuer *is)
{
	uint16_t	port;

	if (is->verify_url != NULL && allow_url(r, is, is->verify_url) == -1)
		return -1;
	if (is->verify_ca_file != NULL &&
	    allow_dir_of(r, is->verify_ca_file) == -1)
		return -1;

	if (is->jwks_file != NULL && allow_dir_of(r, is->jwks_file) == -1)
		return -1;
	if (is->jwks_ca_file != NULL &&
	    allow_dir_of(r, is->jwks_ca_file) == -1)
		return -1;
	if (is->jwks_url == NULL)
		return 0;
	if (url_port(is->jwks_url, &port) == -1) {
		log_warnx("sandbox: issuer %s: no port in %s", is->name,
		    is->jwks_url);
		return -1;
	}
	r->inet = 1;
	return sandbox_allow_connect(r, port);
}

/* Allows making, writing and removing files beside path (in its dir). */
static int
allow_write_dir_of(struct sandbox_rules *r, const char *path)
{
	char	*dir, *slash;
	int	 rc;

	if ((dir = strdup(path)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		rc = sandbox_allow_write(r, ".");
	else {
		slash[slash == dir] = '\0';
		rc = sandbox_allow_write(r, dir);
	}
	free(dir);
	return rc;
}

/*
 * A PostgreSQL URL's TCP ports, through libpq's own parser: each host
 * (a list may name several) with its port, or the one port for all, or
 * 5432.  A host that is a directory is a Unix socket: no port, and no
 * path rule applies to a connect.
 */
static int
allow_postgres(struct sandbox_rules *r, const char *url)
{
	PQconninfoOption	*opts, *o;
	const char		*host = NULL, *port = NULL, *h, *p;
	char			*err = NULL;
	size_t			 hl, pl;
	long			 v;
	int			 rc = 0;

	if ((opts = PQconninfoParse(url, &err)) == NULL) {
		log_warnx("sandbox: database url: %s", err != NULL ? err :
		    "out of memory");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0 ||
		    (strcmp(o->keyword, "hostaddr") == 0 && host == NULL))
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	for (h = host, p = port; rc == 0 && h != NULL && *h != '\0';
	    h += hl + (h[hl] == ',')) {
		hl = strcspn(h, ",");
		pl = p != NULL ? strcspn(p, ",") : 0;
		v = pl > 0 ? strtol(p, NULL, 10) : 5432;
		if (p != NULL && p[pl] == ',')
			p += pl + 1;	/* one port each; else the one */
		if (hl == 0 || h[0] == '/' || h[0] == '@')
			continue;	/* a Unix socket */
		if (v <= 0 || v > 65535) {
			log_warnx("sandbox: database url: no port");
			rc = -1;
			break;
		}
		r->inet = 1;
		rc = sandbox_allow_connect(r, (uint16_t)v);
	}
	PQconninfoFree(opts);
	return rc;
}

/*
 * The node-assignment database of nodes = database services: SQLite
 * makes, writes and removes its file and its journal beside it, in that
 * directory and nowhere else; PostgreSQL is a connection.
 */
static int
allow_database(const struct config *cfg, struct sandbox_rules *r)
{
	const char	*path;

	if (!config_uses_database(cfg))
		return 0;
	if ((path = config_sqlite_path(cfg->database->url)) != NULL)
		return allow_write_dir_of(r, path);
	return allow_postgres(r, cfg->database->url);
}

/*
 * The worker's allowed paths and ports, all in one place.  It reads its
 * issuers' key files again when they change (identity/keys.c) and fetches
 * their jwks_url.  It writes only where the node-assignment database's
 * SQLite file is (allow_database), so that the database's files (and its
 * journal) are made, written and removed there and nowhere else; that
 * extends these rules, it never switches them off.
 */
static int
worker_rules(const struct config *cfg, struct sandbox_rules *r)
{
	size_t	i;

	sandbox_rules_init(r, SANDBOX_WORKER);
	if (allow_reads(r, system_reads, sizeof(system_reads) /
	    sizeof(system_reads[0])) == -1)
		return -1;
	for (i = 0; i < cfg->nissuers; i++)
		if (allow_issuer(r, &cfg->issuers[i]) == -1)
			return -1;
	if (allow_database(cfg, r) == -1)
		return -1;
	/*
	 * A worker host's workers connect to the front over TCP, again at
	 * each reconnect; a front named by host name needs the resolver.
	 */
	if (cfg->remote.connect != NULL) {
		r->inet = 1;
		if (sandbox_allow_connect(r,
		    config_endpoint_port(cfg->remote.connect)) == -1)
			return -1;
	}
	if (r->inet && (allow_reads(r, fetch_reads, sizeof(fetch_reads) /
	    sizeof(fetch_reads[0])) == -1 ||
	    sandbox_allow_connect(r, DNS_TCP_PORT) == -1))
		return -1;
	return 0;
}

/*
 * The front reads nothing after set-up; set-up binds its worker socket in
 * runtime_dir and listens on its port.
 */
static int
front_rules(const struct config *cfg, struct sandbox_rules *r)
{
	sandbox_rules_init(r, SANDBOX_FRONT);
	if ((r->sockdir = strdup(cfg->runtime_dir)) == NULL)
		return -1;
	r->bind_tcp[0] = cfg->listen_port;
	/* [remote] listen: bound at set-up too, before the filter. */
	r->bind_tcp[1] = config_endpoint_port(cfg->remote.listen);
	return allow_reads(r, system_reads, sizeof(system_reads) /
	    sizeof(system_reads[0]));
}

/*
 * What glibc and jansson would open on first use after the filter: the
 * time zone (read once, then cached), jansson's hash seed (from
 * /dev/urandom, once per process; a no-op if chosen already).
 */
static void
warm_up(void)
{
	tzset();
	json_object_seed(0);
}

/* Each role's rules, by enum sandbox_role. */
static const struct role {
	const char	*name;
	int		(*rules)(const struct config *, struct sandbox_rules *);
} roles[] = {
	[SANDBOX_FRONT] = { "front", front_rules },
	[SANDBOX_WORKER] = { "worker", worker_rules },
};

int
sandbox_enter(const struct config *cfg, enum sandbox_role role)
{
	const struct role	*ro = &roles[role];
	struct sandbox_rules	 r;
	int			 abi = -1;

	if (!cfg->sandbox)
		return 0;
	if (ro->rules(cfg, &r) == 0)
		abi = sandbox_restrict(&r);
	sandbox_rules_clear(&r);
	if (abi == -1)
		log_warnx("sandbox: cannot confine the %s's files "
		    "(sandbox = off runs it unconfined)", ro->name);
	return abi == -1 ? -1 : 0;
}

int
sandbox_seal(const struct config *cfg, enum sandbox_role role)
{
	const struct role	*ro = &roles[role];
	struct sandbox_rules	 r;
	int			 rc = -1;

	if (!cfg->sandbox)
		return 0;
	warm_up();
	if (ro->rules(cfg, &r) == 0)
		rc = sandbox_lock(&r);
	sandbox_rules_clear(&r);
	if (rc == -1)
		log_warnx("sandbox: cannot install the %s's seccomp filter "
		    "(sandbox = off runs it unconfined)", ro->name);
	else
		log_debug("sandbox: %s confined", ro->name);
	return rc;
}

void
sandbox_report(const struct config *cfg)
{
	int	abi;

	if (!cfg->sandbox) {
		log_warnx("sandbox = off: the front and the workers run "
		    "unconfined");
		return;
	}
	if ((abi = sandbox_landlock_abi()) == 0)
		log_info("confinement: seccomp filters; no Landlock in this "
		    "kernel, so a worker's reads are not limited to its "
		    "files");
	else
		log_info("confinement: seccomp filters and Landlock ABI %d%s",
		    abi, abi < 4 ? " (without TCP port rules: they need "
		    "ABI 4)" : "");
}
