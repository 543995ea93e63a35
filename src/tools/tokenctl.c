/*
 * tokenctl.c - the operator's companion to tokend.
 *
 *   secret      a new secret; --prepend and --drop-oldest: the first and
 *               the last step of a rotation (owner and mode kept)
 *   mint        a token minted offline, as a worker would
 *   verify      a token checked through libtokend-verify, as a service would
 *   fernet-key  the key a stock Fernet library needs
 *   jwt keygen, jwt sign
 *               a test issuer (src/tools/jwtgen.c), for smoke tests
 *   bench       the worker's pipeline in one process: the ceiling
 *               scripts/bench compares the daemon with
 *   status      a running tokend's health from its metrics endpoint
 *               (src/tools/status.c)
 *
 * commands[] at the end holds each command's synopsis and options: the
 * usage, `tokenctl --help` and each `tokenctl COMMAND --help` print them
 * (stdout, exit 0; a usage error prints the synopsis on stderr, exit 2),
 * and docs/man/tokenctl.1 explains them; a test checks that the page
 * covers every command the list names.
 *
 * Minting goes through token.c like the workers; checking goes through
 * the public API of libtokend-verify, so that tokenctl verify answers what
 * a service linked with the library would answer.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/clock.h"
#include "config.h"
#include "tools/jwtgen.h"
#include "tools/status.h"
#include "core/log.h"
#include "mint.h"
#include "tokens/secret.h"
#include "tokens/service.h"
#include "tokens/token.h"
#include "tokend/verify.h"

#define MAX_ASSERTIONS	100000
#define EXIT_INVALID	1
#define EXIT_USAGE	2

static _Noreturn void	usage(void);
static _Noreturn void	help(void);

/* "tokenctl: message" on stderr, then exit(code). */
static _Noreturn void __attribute__((format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list	ap;

	fputs("tokenctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static int64_t
parse_i64(const char *opt, const char *v, int64_t min)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min)
		die(EXIT_USAGE, "%s: expected an integer >= %" PRId64 ", got "
		    "\"%s\"", opt, min, v);
	return n;
}

/* ---- the service an option set names ---------------------------------- */

struct target {
	const char	*conf;
	const char	*service;
	const char	*node;
	const char	*secret_file;
	struct config	*cfg;
	const struct service *svc;	/* after resolve() */
};

/* Loads the config and finds the service (and node, if named). */
static void
resolve(struct target *t)
{
	char	err[CONFIG_ERRLEN];
	size_t	i;

	if (t->conf == NULL || t->service == NULL)
		usage();
	if ((t->cfg = config_load(t->conf, err, sizeof(err))) == NULL)
		die(EXIT_USAGE, "%s", err);
	if ((t->svc = config_service(t->cfg, t->service)) == NULL)
		die(EXIT_USAGE, "%s: no [service %s]", t->conf, t->service);
	if (t->node == NULL)
		return;
	if (t->svc->nnodes == 0) {
		if (strcmp(t->svc->node, t->node) != 0)
			die(EXIT_USAGE, "service %s has one node, %s",
			    t->service, t->svc->node);
		return;
	}
	for (i = 0; i < t->svc->nnodes; i++)
		if (strcmp(t->svc->nodes[i].node, t->node) == 0) {
			t->svc = &t->svc->nodes[i];
			return;
		}
	die(EXIT_USAGE, "service %s has no node %s", t->service, t->node);
}

enum {
	OPT_SERVICE = 256, OPT_NODE, OPT_SECRET_FILE, OPT_FORMAT, OPT_NOW,
	OPT_UID, OPT_ALL, OPT_PREPEND, OPT_DROP_OLDEST,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "now", required_argument, NULL, OPT_NOW },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "prepend", required_argument, NULL, OPT_PREPEND },
	{ "drop-oldest", required_argument, NULL, OPT_DROP_OLDEST },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* ---- secret ----------------------------------------------------------- */

/*
 * A new secret is put on top of path by secret.c, which keeps the file's
 * owner, group and mode.  A file it had to create belongs to whoever ran
 * this, often root: say so, since tokend's user must be able to read it.
 */
static void
prepend_secret(const char *path, const char *secret)
{
	struct stat	 st;
	struct passwd	*pw;
	struct group	*gr;
	char		 err[1024];
	int		 created;

	if (secret_file_prepend(path, secret, strlen(secret), &created, err,
	    sizeof(err)) == -1)
		die(1, "%s", err);
	if (!created || stat(path, &st) == -1)
		return;
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	fprintf(stderr, "tokenctl: %s did not exist: created it, mode 0600, "
	    "owner %s:%s; chown it to the user tokend runs as if that is "
	    "another\n", path, pw != NULL ? pw->pw_name : "?",
	    gr != NULL ? gr->gr_name : "?");
}

static int
cmd_secret(int argc, char **argv)
{
	const char	*prepend = NULL, *drop = NULL;
	uint8_t		 raw[32];
	char		 hex[2 * sizeof(raw) + 1], err[1024];
	size_t		 i;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_PREPEND: prepend = optarg; break;
		case OPT_DROP_OLDEST: drop = optarg; break;
		case 'h': help();
		default: usage();
		}
	}
	if (optind != argc || (prepend != NULL && drop != NULL))
		usage();
	if (drop != NULL) {
		if (secret_file_drop_oldest(drop, err, sizeof(err)) == -1)
			die(1, "%s", err);
		return 0;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die(1, "RAND_bytes failed");
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if (prepend != NULL)
		prepend_secret(prepend, hex);
	else
		printf("%s\n", hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	return 0;
}

/* ---- mint ------------------------------------------------------------- */

static int
cmd_mint(int argc, char **argv)
{
	struct target		 t = { 0 };
	const struct service	*svc;
	struct token_claims	 claims = { 0 };
	char			 token[TOKEN_MAX + 1], key[TOKEN_KEY_LEN + 1];
	int64_t			 now = wall_s(), uid = -1;
	json_t			*out;
	int			 ch;

	while ((ch = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
		case 'h': help();
		case OPT_SERVICE: t.service = optarg; break;
		case OPT_NODE: t.node = optarg; break;
		case OPT_UID: uid = parse_i64("--uid", optarg, 0); break;
		case OPT_NOW: now = parse_i64("--now", optarg, 0); break;
		default: usage();
		}
	}
	if (optind != argc || uid < 0)
		usage();
	resolve(&t);
	/* The node a worker would pick, unless one is named. */
	svc = t.node != NULL ? t.svc : config_node_for(t.svc, (uint64_t)uid);
	if (svc == NULL)
		die(1, "service %s: no node for uid %" PRId64, t.service, uid);
	claims.uid = (uint64_t)uid;
	claims.node = svc->node;
	claims.expires = now + svc->duration;
	if (token_mint(svc->format, &svc->secrets, &claims, now, token,
	    key) == -1)
		die(1, "cannot mint a token for service %s", t.service);
	out = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:I}", "id", token,
	    "key", key, "uid", (json_int_t)uid, "api_endpoint", svc->node,
	    "duration", (json_int_t)svc->duration, "hashalg", "sha256",
	    "expires", (json_int_t)claims.expires);
	if (out == NULL || json_dumpf(out, stdout, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) == -1)
		die(1, "cannot print the token");
	putchar('\n');
	json_decref(out);
	OPENSSL_cleanse(key, sizeof(key));
	config_free(t.cfg);
	return 0;
}

/* ---- verify ----------------------------------------------------------- */

/* A verifier holding the secrets of one service entry (one node). */
static struct tokend_verifier *
verifier_of(const struct service *svc)
{
	struct tokend_verifier	*v;
	size_t			 i;

	if ((v = tokend_verifier_new()) == NULL)
		die(EXIT_USAGE, "out of memory");
	for (i = 0; i < svc->secrets.n; i++)
		if (tokend_verifier_add_secret(v, svc->secrets.v[i].bytes,
		    svc->secrets.v[i].len) == -1)
			die(EXIT_USAGE, "service %s: %s", svc->name,
			    strerror(errno));
	if (tokend_verifier_set_format(v,
	    (enum tokend_format)svc->format) == -1)
		die(EXIT_USAGE, "service %s: bad format", svc->name);
	return v;
}

/* TOKEN, or a line of stdin for "-" (so it stays out of ps). */
static char *
read_token(const char *arg)
{
	static char	 buf[TOKEN_MAX + 2];
	size_t		 len;

	if (strcmp(arg, "-") != 0)
		return (char *)(uintptr_t)arg;
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		die(EXIT_USAGE, "no token on standard input");
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return buf;
}

static void
print_verified(const struct tokend_token *tok, const char *node_of_secret,
    int verbose)
{
	json_t	*payload, *out;

	if (!verbose) {
		printf("%s\n", tok->payload);
		return;
	}
	payload = json_loads(tok->payload, 0, NULL);
	out = json_pack("{s:s, s:I, s:s?, s:I, s:I, s:I, s:s, s:s, s:o}",
	    "format", tokend_format_name(tok->format),
	    "secret", (json_int_t)tok->secret_index,
	    "secret_node", node_of_secret,
	    "uid", (json_int_t)tok->uid,
	    "expires", (json_int_t)tok->expires,
	    "issued_at", (json_int_t)tok->issued_at,
	    "node", tok->node, "key", tok->key, "payload", payload);
	if (out == NULL || json_dumpf(out, stdout, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) == -1)
		die(EXIT_USAGE, "cannot print the payload");
	putchar('\n');
	json_decref(out);
}

static int
cmd_verify(int argc, char **argv)
{
	struct target		 t = { 0 };
	struct tokend_verifier	*v;
	struct tokend_token	 tok;
	enum token_format	 fmt = TOKEN_FORMAT_ANY;
	const struct service	*entry;
	const char		*token, *node = NULL;
	char			 err[1024];
	int64_t			 now = wall_s();
	size_t			 i, n;
	int			 ch, verbose = 0, rc = TOKEND_ERR_SIGNATURE;
	int			 fmt_set = 0;

	while ((ch = getopt_long(argc, argv, "c:hv", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
		case 'h': help();
		case 'v': verbose = 1; break;
		case OPT_SERVICE: t.service = optarg; break;
		case OPT_NODE: t.node = optarg; break;
		case OPT_SECRET_FILE: t.secret_file = optarg; break;
		case OPT_NOW: now = parse_i64("--now", optarg, 0); break;
		case OPT_FORMAT:
			if (token_format_parse(optarg, &fmt) == -1)
				die(EXIT_USAGE, "--format: expected tokenlib "
				    "or fernet, got \"%s\"", optarg);
			fmt_set = 1;
			break;
		default: usage();
		}
	}
	if (optind + 1 != argc ||
	    (t.secret_file != NULL) == (t.conf != NULL || t.service != NULL))
		usage();
	token = read_token(argv[optind]);
	if (t.secret_file != NULL) {
		if ((v = tokend_verifier_new()) == NULL)
			die(EXIT_USAGE, "out of memory");
		if (tokend_verifier_load_file(v, t.secret_file, err,
		    sizeof(err)) == -1)
			die(EXIT_USAGE, "%s", err);
		tokend_verifier_set_format(v, (enum tokend_format)fmt);
		rc = tokend_verify(v, token, now, &tok);
		tokend_verifier_free(v);
	} else {
		resolve(&t);
		/* Each node's secrets apart: a node knows only its own. */
		n = t.svc->nnodes > 0 ? t.svc->nnodes : 1;
		for (i = 0; i < n; i++) {
			entry = t.svc->nnodes > 0 ? &t.svc->nodes[i] : t.svc;
			v = verifier_of(entry);
			if (fmt_set)
				tokend_verifier_set_format(v,
				    (enum tokend_format)fmt);
			rc = tokend_verify(v, token, now, &tok);
			tokend_verifier_free(v);
			node = entry->node;
			if (rc != TOKEND_ERR_SIGNATURE)
				break;
		}
	}
	if (rc != TOKEND_OK)
		die(EXIT_INVALID, "token rejected: %s", tokend_strerror(rc));
	print_verified(&tok, node, verbose);
	tokend_token_clear(&tok);
	config_free(t.cfg);
	return 0;
}

/* ---- fernet-key ------------------------------------------------------- */

static int
cmd_fernet_key(int argc, char **argv)
{
	struct target		 t = { 0 };
	struct secrets		 file = { 0 };
	const struct secrets	*s;
	char			 err[1024], key[TOKEND_FERNET_KEY_LEN + 1];
	size_t			 i;
	int			 ch, all = 0;

	while ((ch = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
		case 'h': help();
		case OPT_SERVICE: t.service = optarg; break;
		case OPT_NODE: t.node = optarg; break;
		case OPT_SECRET_FILE: t.secret_file = optarg; break;
		case OPT_ALL: all = 1; break;
		default: usage();
		}
	}
	if (optind != argc ||
	    (t.secret_file != NULL) == (t.conf != NULL || t.service != NULL))
		usage();
	if (t.secret_file != NULL) {
		if (secrets_load(&file, t.secret_file, err, sizeof(err)) == -1)
			die(EXIT_USAGE, "%s", err);
		s = &file;
	} else {
		resolve(&t);
		if (t.svc->nnodes > 0)
			die(EXIT_USAGE, "service %s has several nodes: name "
			    "one with --node", t.service);
		s = &t.svc->secrets;
	}
	for (i = 0; i < (all ? s->n : 1); i++) {
		if (tokend_fernet_key(s->v[i].bytes, s->v[i].len, key) == -1)
			die(1, "cannot derive the Fernet key");
		printf("%s\n", key);
	}
	OPENSSL_cleanse(key, sizeof(key));
	secrets_free(&file);
	config_free(t.cfg);
	return 0;
}

/* ---- bench ------------------------------------------------------------ */

/* One assertion per line; returns the count, exits on error. */
static size_t
read_assertions(const char *path, char ***out)
{
	FILE	*f;
	char	*line = NULL, **v;
	size_t	 cap = 0, n = 0;
	ssize_t	 len;

	if ((f = fopen(path, "r")) == NULL)
		fatal("%s", path);
	if ((v = calloc(MAX_ASSERTIONS, sizeof(*v))) == NULL)
		fatal("calloc");
	while (n < MAX_ASSERTIONS && (len = getline(&line, &cap, f)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > 0 && (v[n++] = strdup(line)) == NULL)
			fatal("strdup");
	}
	free(line);
	fclose(f);
	if (n == 0)
		fatalx("%s: no assertions", path);
	*out = v;
	return n;
}

/* bench's options are short ones; --help is the only long one. */
static const struct option help_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static double
cpu_seconds(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
cmd_bench(int argc, char **argv)
{
	const char		*conf = NULL, *service = NULL;
	struct config		*cfg;
	struct mint_request	 req = { 0 };
	struct mint_result	 res;
	char			 err[CONFIG_ERRLEN], **as;
	size_t			 n, i, done = 0, failed = 0;
	long			 count = 0;
	double			 seconds = 3, cpu0, cpu, wall;
	uint64_t		 t0, deadline;
	int			 ch;

	while ((ch = getopt_long(argc, argv, "c:s:n:t:h", help_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'h': help();
		case 's': service = optarg; break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (conf == NULL || service == NULL || optind + 1 != argc)
		usage();
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	n = read_assertions(argv[optind], &as);
	req.service = service;
	req.service_len = strlen(service);
	t0 = mono_us();
	deadline = t0 + (uint64_t)(seconds * 1e6);
	cpu0 = cpu_seconds();
	for (i = 0; count > 0 ? (long)done < count : mono_us() < deadline;
	    i = (i + 1) % n) {
		req.assertion = as[i];
		req.assertion_len = strlen(as[i]);
		mint_token(cfg, &req, wall_s(), &res);
		if (res.error != NULL && failed++ == 0)
			fprintf(stderr, "tokenctl: assertion %zu: %s\n", i,
			    res.description);
		done++;
	}
	wall = (double)(mono_us() - t0) / 1e6;
	cpu = cpu_seconds() - cpu0;
	printf("tokens: %zu\nfailed: %zu\nseconds: %.3f\n"
	    "tokens_per_second: %.0f\ncpu_us_per_token: %.2f\n",
	    done, failed, wall, (double)done / wall, cpu * 1e6 / (double)done);
	for (i = 0; i < n; i++)
		free(as[i]);
	free(as);
	config_free(cfg);
	return failed == 0 ? 0 : 1;
}

/* ---- jwt ------------------------------------------------------------- */

enum {
	OPT_ALG = 300, OPT_KID, OPT_KEY_OUT, OPT_JWKS_OUT, OPT_KEY, OPT_ISS,
	OPT_AUD, OPT_SUB, OPT_TTL,
};

static const struct option jwt_opts[] = {
	{ "alg", required_argument, NULL, OPT_ALG },
	{ "kid", required_argument, NULL, OPT_KID },
	{ "key-out", required_argument, NULL, OPT_KEY_OUT },
	{ "jwks-out", required_argument, NULL, OPT_JWKS_OUT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "iss", required_argument, NULL, OPT_ISS },
	{ "aud", required_argument, NULL, OPT_AUD },
	{ "sub", required_argument, NULL, OPT_SUB },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "now", required_argument, NULL, OPT_NOW },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* The options of jwt keygen and jwt sign, with their defaults. */
struct jwt_args {
	const char	*alg, *kid, *key_out, *jwks_out;
	const char	*key, *iss, *aud, *sub;
	int64_t		 ttl, now;
};

static void
jwt_parse(int argc, char **argv, struct jwt_args *a)
{
	int	 ch;

	memset(a, 0, sizeof(*a));
	a->ttl = 300;
	a->now = wall_s();
	while ((ch = getopt_long(argc, argv, "h", jwt_opts, NULL)) != -1) {
		switch (ch) {
		case 'h': help();
		case OPT_ALG: a->alg = optarg; break;
		case OPT_KID: a->kid = optarg; break;
		case OPT_KEY_OUT: a->key_out = optarg; break;
		case OPT_JWKS_OUT: a->jwks_out = optarg; break;
		case OPT_KEY: a->key = optarg; break;
		case OPT_ISS: a->iss = optarg; break;
		case OPT_AUD: a->aud = optarg; break;
		case OPT_SUB: a->sub = optarg; break;
		case OPT_TTL: a->ttl = parse_i64("--ttl", optarg, 1); break;
		case OPT_NOW: a->now = parse_i64("--now", optarg, 0); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
}

/* Prints the kid it used (random unless --kid), for sign's --kid. */
static int
cmd_jwt_keygen(int argc, char **argv)
{
	struct jwt_args	 a;
	char		 err[512], kidbuf[32];
	uint8_t		 rnd[4];

	jwt_parse(argc, argv, &a);
	if (a.alg == NULL || a.key_out == NULL || a.jwks_out == NULL)
		usage();
	if (a.kid == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			die(1, "RAND_bytes failed");
		snprintf(kidbuf, sizeof(kidbuf), "tokenctl-%02x%02x%02x%02x",
		    rnd[0], rnd[1], rnd[2], rnd[3]);
		a.kid = kidbuf;
	}
	if (jwtgen_keygen(a.alg, a.kid, a.key_out, a.jwks_out, err,
	    sizeof(err)) == -1)
		die(1, "jwt keygen: %s", err);
	printf("%s\n", a.kid);
	return 0;
}

static int
cmd_jwt_sign(int argc, char **argv)
{
	struct jwt_args	 a;
	char		 err[512], *jwt;

	jwt_parse(argc, argv, &a);
	if (a.key == NULL || a.iss == NULL || a.aud == NULL || a.sub == NULL)
		usage();
	if ((jwt = jwtgen_sign(a.key, a.kid, a.iss, a.aud, a.sub, a.now, a.ttl,
	    err, sizeof(err))) == NULL)
		die(1, "jwt sign: %s", err);
	printf("%s\n", jwt);
	free(jwt);
	return 0;
}

/* ---- status ------------------------------------------------------------ */

enum { OPT_METRICS = 400, OPT_INTERVAL, OPT_TIMEOUT, OPT_MAX_5XX };

static const struct option status_opts[] = {
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "max-5xx", required_argument, NULL, OPT_MAX_5XX },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static double
parse_double(const char *opt, const char *v, double min, double max)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= min && d <= max))
		die(EXIT_USAGE, "%s: expected a number from %g to %g, got "
		    "\"%s\"", opt, min, max, v);
	return d;
}

static int
cmd_status(int argc, char **argv)
{
	struct status_options	o = { NULL, 1, 2, 5 };
	int			ch;

	while ((ch = getopt_long(argc, argv, "h", status_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_METRICS: o.url = optarg; break;
		case OPT_INTERVAL:
			o.interval = parse_double("--interval", optarg, 0.1, 60);
			break;
		case OPT_TIMEOUT:
			o.timeout = parse_double("--timeout", optarg, 0.1, 60);
			break;
		case OPT_MAX_5XX:
			o.max_5xx = parse_double("--max-5xx", optarg, 0, 100);
			break;
		case 'h': help();
		default: usage();
		}
	}
	if (o.url == NULL || optind != argc)
		usage();
	return status_run(&o);
}

/* ---- commands, usage, --help ------------------------------------------ */

/*
 * Every command: its name ("jwt keygen" for one of a group), its synopsis
 * (after "tokenctl NAME" in the usage) and the help its --help adds.
 * Defaults stated here are the code's; docs/man/tokenctl.1 says more.
 */
static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*synopsis;
	const char	*help;
} commands[] = {
	{ "secret", cmd_secret, "[--prepend FILE | --drop-oldest FILE]",
	    "Prints a new secret: 32 random bytes as 64 hex digits, one line\n"
	    "of a secret file.\n"
	    "  --prepend FILE      put it on top of FILE instead: a rotation's\n"
	    "                      first step (then reload tokend); a missing\n"
	    "                      FILE is created, mode 0600, owned by the\n"
	    "                      caller\n"
	    "  --drop-oldest FILE  remove FILE's oldest (last) secret instead:\n"
	    "                      a rotation's last step, once the longest\n"
	    "                      token duration has passed (then reload);\n"
	    "                      refused (exit 1) for the only secret\n"
	    "Both rewrite FILE whole, atomically, keeping its owner, group and\n"
	    "mode: run them as root or as the user tokend runs as.\n" },
	{ "mint", cmd_mint,
	    "-c CONFIG --service S --uid N [--node URL] [--now T]",
	    "Mints a token offline, as a worker would, and prints the JSON a\n"
	    "client gets from POST /v1/token.\n"
	    "  -c, --config CONFIG  tokend's configuration\n"
	    "  --service S          the [service S] to mint for\n"
	    "  --uid N              the user's uid\n"
	    "  --node URL           this node (default: the node tokend picks\n"
	    "                       for the uid)\n"
	    "  --now T              mint at unix time T (default: now)\n" },
	{ "verify", cmd_verify,
	    "(-c CONFIG --service S [--node URL] | --secret-file F)\n"
	    "                [--format tokenlib|fernet] [--now T] [-v] TOKEN|-",
	    "Checks TOKEN (\"-\": a line of standard input, out of ps) with every\n"
	    "secret, through libtokend-verify, and prints its payload.  Exit 0\n"
	    "valid, 1 invalid (the reason on stderr), 2 usage or setup error.\n"
	    "  -c, --config CONFIG  tokend's configuration, with --service S:\n"
	    "                       that service's secrets (each node's in turn)\n"
	    "  --node URL           only that node's secrets\n"
	    "  --secret-file F      the secrets of F instead\n"
	    "  --format F           accept only tokenlib or fernet (default: the\n"
	    "                       service's format; with --secret-file, any)\n"
	    "  --now T              check at unix time T (default: now)\n"
	    "  -v, --verbose        print JSON: format, secret (index, 0 newest),\n"
	    "                       secret_node, uid, expires, issued_at (-1 for\n"
	    "                       tokenlib), node, key, payload\n" },
	{ "fernet-key", cmd_fernet_key,
	    "(--secret-file F | -c CONFIG --service S [--node URL]) [--all]",
	    "Prints the Fernet key (44 characters) of the minting (first)\n"
	    "secret, for a service checking fernet tokens with a stock Fernet\n"
	    "library.\n"
	    "  --secret-file F      the secrets of F\n"
	    "  -c, --config CONFIG  or of [service S] (--service S) in CONFIG;\n"
	    "                       --node URL for a service with a nodes_file\n"
	    "  --all                the key of every secret, newest first\n" },
	{ "jwt keygen", cmd_jwt_keygen,
	    "--alg RS256|ES256|EdDSA [--kid K] --key-out PEM --jwks-out JSON",
	    "A test issuer's key: a new key pair, and prints its kid.\n"
	    "  --alg A          RS256 (RSA 2048), ES256 (P-256) or EdDSA\n"
	    "                   (Ed25519)\n"
	    "  --kid K          the key id (default: \"tokenctl-\" and 8 random\n"
	    "                   hex digits)\n"
	    "  --key-out PEM    where the private key goes (PKCS#8, mode 0600)\n"
	    "  --jwks-out JSON  where its public JWK Set goes, for an\n"
	    "                   [issuer]'s jwks_file\n" },
	{ "jwt sign", cmd_jwt_sign,
	    "--key PEM [--kid K] --iss I --aud A --sub S [--ttl T] [--now T]",
	    "Prints a JWT signed with PEM (its alg follows the key), with the\n"
	    "claims iss, sub, aud, iat and nbf (now) and exp (now + ttl).\n"
	    "  --key PEM  the private key jwt keygen wrote\n"
	    "  --kid K    the header's kid (default: none; give keygen's)\n"
	    "  --iss I    the issuer: an [issuer]'s iss\n"
	    "  --aud A    the audience: that [issuer]'s audience\n"
	    "  --sub S    the subject: the user\n"
	    "  --ttl T    lifetime in seconds (default: 300)\n"
	    "  --now T    issue at unix time T (default: now)\n" },
	{ "bench", cmd_bench, "-c CONFIG -s SERVICE [-n COUNT] [-t SECONDS] FILE",
	    "Runs the assertions of FILE (one a line) through the pipeline a\n"
	    "worker runs (verify, uid, mint) in this one process, and prints\n"
	    "tokens per second and CPU microseconds per token.  Exit 1 if an\n"
	    "assertion failed.\n"
	    "  -c CONFIG   tokend's configuration\n"
	    "  -s SERVICE  the service to mint for\n"
	    "  -n COUNT    stop after COUNT tokens (default: after SECONDS)\n"
	    "  -t SECONDS  run for SECONDS (default: 3)\n" },
	{ "status", cmd_status,
	    "--metrics URL [--interval S] [--timeout S] [--max-5xx PCT]",
	    "Reads tokend's metrics endpoint ([metrics] listen) twice, S\n"
	    "seconds apart, and prints workers by state, the queue, requests\n"
	    "per second by status, p50/p99 latency and the top rejection\n"
	    "reasons of that window.  Exit 0 healthy; 1 degraded: no worker\n"
	    "idle or busy, a worker lost, or more than PCT percent of the\n"
	    "window's requests answered 5xx; 2 unreachable: no connection,\n"
	    "no answer in time, not 200, or not tokend's Prometheus metrics.\n"
	    "  --metrics URL  e.g. http://127.0.0.1:9150/metrics\n"
	    "  --interval S   seconds between the reads (default: 1)\n"
	    "  --timeout S    seconds one read may take (default: 2)\n"
	    "  --max-5xx PCT  degraded above this share of 5xx (default: 5)\n" },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* The command (or group, "jwt") main() runs; NULL: none yet. */
static const char	*running;

/* Whether command name is selected by prefix: itself, or in its group. */
static int
selected(const char *name, const char *prefix)
{
	size_t	len;

	if (prefix == NULL)
		return 1;
	len = strlen(prefix);
	return strncmp(name, prefix, len) == 0 &&
	    (name[len] == '\0' || name[len] == ' ');
}

/* The synopsis of every command running selects (all before one runs). */
static void
print_synopses(FILE *f)
{
	const char	*lead = "usage:";
	size_t		 i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (!selected(commands[i].name, running))
			continue;
		fprintf(f, "%-6s tokenctl %s %s\n", lead, commands[i].name,
		    commands[i].synopsis);
		lead = "";
	}
}

static _Noreturn void
usage(void)
{
	print_synopses(stderr);
	exit(EXIT_USAGE);
}

/* --help: the synopses, then each selected command's help, on stdout. */
static _Noreturn void
help(void)
{
	size_t	i;

	print_synopses(stdout);
	if (running == NULL)
		fputs("\nEach command answers --help with its options; "
		    "tokenctl(1) has the details.\n", stdout);
	for (i = 0; running != NULL && i < NCOMMANDS; i++)
		if (selected(commands[i].name, running))
			printf("\n%s", commands[i].help);
	exit(0);
}

static int
is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* How many words of argv name (1, or 2 for "jwt keygen"); 0 if none. */
static int
command_words(const char *name, int argc, char **argv)
{
	size_t	len = strcspn(name, " ");

	if (strncmp(argv[0], name, len) != 0 || argv[0][len] != '\0')
		return 0;
	if (name[len] == '\0')
		return 1;
	return argc > 1 && strcmp(argv[1], name + len + 1) == 0 ? 2 : 0;
}

int
main(int argc, char **argv)
{
	size_t	i;
	int	n;

	log_init("tokenctl", LOG_LVL_WARN);
	if (argc < 2)
		usage();
	if (is_help(argv[1]))
		help();
	for (i = 0; i < NCOMMANDS; i++)
		if ((n = command_words(commands[i].name, argc - 1,
		    argv + 1)) > 0) {
			running = commands[i].name;
			return commands[i].fn(argc - n, argv + n);
		}
	/* A group's name alone, or with --help: its commands. */
	for (i = 0; i < NCOMMANDS; i++)
		if (selected(commands[i].name, argv[1]))
			running = argv[1];
	if (running == NULL)
		fprintf(stderr, "tokenctl: unknown command \"%s\"\n", argv[1]);
	else if (argc > 2 && is_help(argv[2]))
		help();
	usage();
}
