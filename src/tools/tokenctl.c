/*
 * tokenctl.c - the operator's companion to tokend.
 *
 *   tokenctl secret [--prepend FILE]
 *       Prints a new random secret (32 bytes as 64 hex digits: one line of
 *       a secret file).  --prepend puts it on top of FILE instead (created
 *       0600 if need be, replaced atomically): the first step of a
 *       rotation.
 *   tokenctl mint -c CONF --service S --uid N [--node URL] [--now T]
 *       Mints a token as a worker would, offline, and prints the JSON a
 *       client gets from POST /v1/token.
 *   tokenctl verify (-c CONF --service S [--node URL] | --secret-file F)
 *           [--format tokenlib|fernet] [--now T] [-v] TOKEN|-
 *       Checks TOKEN with every secret (through libtokend-verify, as a
 *       service would) and prints its payload; -v prints what the library
 *       returns.  Exit 0 valid, 1 invalid (reason on stderr), 2 usage or
 *       setup error.
 *   tokenctl fernet-key (--secret-file F | -c CONF --service S
 *           [--node URL]) [--all]
 *       Prints the Fernet key of the minting secret (--all: of every
 *       secret, newest first) for a service using a stock Fernet library.
 *   tokenctl jwt keygen|sign ...
 *       A test issuer: a key pair and its JWKS, and JWTs signed with it
 *       (src/tools/jwtgen.c), for smoke tests of a running tokend.
 *   tokenctl bench -c CONF -s SERVICE [-n COUNT] [-t SECONDS] FILE
 *       Reads assertions (one a line) from FILE and runs them through the
 *       exact pipeline a worker runs (mint_token: verify, uid, mint), in
 *       this one process on one core.  Prints tokens per second and
 *       microseconds of CPU per token: the ceiling scripts/bench compares
 *       the daemon with.
 *
 * Minting goes through token.c like the workers; checking goes through
 * the public API of libtokend-verify, so that tokenctl verify answers what
 * a service linked with the library would answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
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
#include "core/log.h"
#include "mint.h"
#include "tokens/secret.h"
#include "tokens/service.h"
#include "tokens/token.h"
#include "tokend/verify.h"

#define MAX_ASSERTIONS	100000
#define EXIT_INVALID	1
#define EXIT_USAGE	2

static const char usage_text[] =
    "usage: tokenctl secret [--prepend FILE]\n"
    "       tokenctl mint -c CONFIG --service S --uid N [--node URL] "
    "[--now T]\n"
    "       tokenctl verify (-c CONFIG --service S [--node URL] | "
    "--secret-file F)\n"
    "                [--format tokenlib|fernet] [--now T] [-v] TOKEN|-\n"
    "       tokenctl fernet-key (--secret-file F | -c CONFIG --service S "
    "[--node URL]) [--all]\n"
    "       tokenctl jwt keygen --alg RS256|ES256|EdDSA [--kid K] "
    "--key-out PEM --jwks-out JSON\n"
    "       tokenctl jwt sign --key PEM [--kid K] --iss I --aud A --sub S "
    "[--ttl T] [--now T]\n"
    "       tokenctl bench -c CONFIG -s SERVICE [-n COUNT] [-t SECONDS] "
    "FILE\n";

static _Noreturn void
usage(void)
{
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}

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
	char	err[1024];
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
	OPT_UID, OPT_ALL, OPT_PREPEND,
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
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 }
};

/* ---- secret ----------------------------------------------------------- */

/*
 * Writes the new secret, then FILE's old text, to a 0600 temporary file
 * beside FILE, and renames it over FILE: a reader (tokend on SIGHUP) sees
 * the old file or the new one, never half of one.
 */
static void
prepend_secret(const char *path, const char *line)
{
	char	 tmp[PATH_MAX], buf[SECRET_MAX_BYTES + 1];
	ssize_t	 n;
	size_t	 len = 0;
	int	 in, out;

	if (snprintf(tmp, sizeof(tmp), "%s.new.XXXXXX", path) >=
	    (int)sizeof(tmp))
		die(EXIT_USAGE, "%s: path too long", path);
	if ((in = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 &&
	    errno != ENOENT)
		die(1, "%s: %s", path, strerror(errno));
	while (in != -1 && len < sizeof(buf) &&
	    (n = read(in, buf + len, sizeof(buf) - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die(1, "%s: %s", path, strerror(errno));
		len += (size_t)n;
	}
	if (in != -1)
		close(in);
	if (len > SECRET_MAX_BYTES - strlen(line))
		die(1, "%s: would grow past %d bytes; remove old secrets "
		    "first", path, SECRET_MAX_BYTES);
	if ((out = mkstemp(tmp)) == -1)	/* mkstemp: mode 0600 */
		die(1, "%s: %s", tmp, strerror(errno));
	if (write(out, line, strlen(line)) != (ssize_t)strlen(line) ||
	    (len > 0 && write(out, buf, len) != (ssize_t)len) ||
	    fsync(out) == -1 || close(out) == -1 ||
	    rename(tmp, path) == -1) {
		n = errno;
		unlink(tmp);
		die(1, "%s: %s", path, strerror((int)n));
	}
	OPENSSL_cleanse(buf, sizeof(buf));
}

static int
cmd_secret(int argc, char **argv)
{
	const char	*prepend = NULL;
	uint8_t		 raw[32];
	char		 line[2 * sizeof(raw) + 2];
	size_t		 i;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (ch == OPT_PREPEND)
			prepend = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		die(1, "RAND_bytes failed");
	for (i = 0; i < sizeof(raw); i++)
		snprintf(line + 2 * i, 3, "%02x", raw[i]);
	line[2 * sizeof(raw)] = '\n';
	line[2 * sizeof(raw) + 1] = '\0';
	if (prepend != NULL)
		prepend_secret(prepend, line);
	else
		fputs(line, stdout);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(line, sizeof(line));
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

	while ((ch = getopt_long(argc, argv, "c:", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
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

	while ((ch = getopt_long(argc, argv, "c:v", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
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

	while ((ch = getopt_long(argc, argv, "c:", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': t.conf = optarg; break;
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
	char			 err[1024], **as;
	size_t			 n, i, done = 0, failed = 0;
	long			 count = 0;
	double			 seconds = 3, cpu0, cpu, wall;
	uint64_t		 t0, deadline;
	int			 ch;

	while ((ch = getopt(argc, argv, "c:s:n:t:")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
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
	{ NULL, 0, NULL, 0 }
};

/*
 * keygen prints the kid it used (a random one unless --kid), for sign's
 * --kid; sign prints the JWT.
 */
static int
cmd_jwt(int argc, char **argv)
{
	const char	*alg = NULL, *kid = NULL, *key_out = NULL;
	const char	*jwks_out = NULL, *key = NULL, *iss = NULL;
	const char	*aud = NULL, *sub = NULL;
	char		 err[512], kidbuf[32], *jwt;
	uint8_t		 rnd[4];
	int64_t		 ttl = 300, now = wall_s();
	int		 ch, keygen;

	if (argc < 2 || (strcmp(argv[1], "keygen") != 0 &&
	    strcmp(argv[1], "sign") != 0))
		usage();
	keygen = strcmp(argv[1], "keygen") == 0;
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", jwt_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_ALG: alg = optarg; break;
		case OPT_KID: kid = optarg; break;
		case OPT_KEY_OUT: key_out = optarg; break;
		case OPT_JWKS_OUT: jwks_out = optarg; break;
		case OPT_KEY: key = optarg; break;
		case OPT_ISS: iss = optarg; break;
		case OPT_AUD: aud = optarg; break;
		case OPT_SUB: sub = optarg; break;
		case OPT_TTL: ttl = parse_i64("--ttl", optarg, 1); break;
		case OPT_NOW: now = parse_i64("--now", optarg, 0); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (keygen) {
		if (alg == NULL || key_out == NULL || jwks_out == NULL)
			usage();
		if (kid == NULL) {
			if (RAND_bytes(rnd, sizeof(rnd)) != 1)
				die(1, "RAND_bytes failed");
			snprintf(kidbuf, sizeof(kidbuf), "tokenctl-%02x%02x"
			    "%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
			kid = kidbuf;
		}
		if (jwtgen_keygen(alg, kid, key_out, jwks_out, err,
		    sizeof(err)) == -1)
			die(1, "jwt keygen: %s", err);
		printf("%s\n", kid);
		return 0;
	}
	if (key == NULL || iss == NULL || aud == NULL || sub == NULL)
		usage();
	if ((jwt = jwtgen_sign(key, kid, iss, aud, sub, now, ttl, err,
	    sizeof(err))) == NULL)
		die(1, "jwt sign: %s", err);
	printf("%s\n", jwt);
	free(jwt);
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} commands[] = {
	{ "secret", cmd_secret },
	{ "mint", cmd_mint },
	{ "verify", cmd_verify },
	{ "fernet-key", cmd_fernet_key },
	{ "jwt", cmd_jwt },
	{ "bench", cmd_bench },
};

int
main(int argc, char **argv)
{
	size_t	i;

	log_init("tokenctl", LOG_LVL_WARN);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	usage();
}
