/*
 * api.c - the meaning of each HTTP endpoint.
 *
 * Three styles of API answer from the same worker pool, so the same
 * failure has three spellings.  One table (problems[]) holds them all: a
 * handler names a problem kind, and answer_problem() writes it in the
 * endpoint's style.  Likewise a token is one set of worker reply fields,
 * laid out per style by the endpoint's format function.
 *
 * It sees a request only as struct api_request (api.h) and answers in
 * struct api_call: the HTTP server and the broker stay in front.c.
 */
#include "http/api.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/b64.h"
#include "core/version.h"
#include "http/jsonflat.h"
#include "pool/protocol.h"

/*
 * Which verifier a request may reach (the JOB field `kind`): each
 * Authorization scheme and token type names its own, so a JWT cannot be
 * sent as a BrowserID assertion or the other way round.
 */
#define KIND_JWT	"jwt"
#define KIND_BROWSERID	"browserid"

#define MAX_NAME	64	/* app, version, service names */
/* Members of a JSON body, in all of its objects (too_many_members()). */
#define BODY_MAX_MEMBERS	64

enum style { STYLE_TOKEND, STYLE_TOKENSERVER, STYLE_OAUTH };

enum problem {
	P_BAD_REQUEST,
	P_BAD_CREDENTIALS,
	P_BAD_TIMESTAMP,
	P_BAD_CLIENT_STATE,
	P_UNKNOWN_SERVICE,
	P_NOT_FOUND,
	P_METHOD,
	P_TOO_LARGE,
	P_MEDIA_TYPE,
	P_UNSUPPORTED_GRANT,
	P_UNAVAILABLE,
	P_TIMEOUT,
	P_INTERNAL,
	P_BAD_GATEWAY,
	P_HEAD_TOO_LARGE,
	P_NOT_IMPLEMENTED,
	P_VERSION,
	P_UNAUTHORIZED,		/* GET /1.0's "Unauthorized", "Unsupported" */
	P_BAD_QUERY,
	P_INVALID_GENERATION,
	P_INVALID_KEYS_CHANGED_AT,
	P_STALE_CLIENT_STATE,
	P_INVALID_KEY_ID,
	P_NO_NODE,
	P_SERVER_ERROR,		/* a worker's internal error naming nothing */
};

static const struct {
	unsigned	 status;
	const char	*tokend;	/* "status" of STYLE_TOKEND */
	const char	*tokenserver;	/* "status" of STYLE_TOKENSERVER */
	unsigned	 oauth_status;
	const char	*oauth;		/* "error" of STYLE_OAUTH (RFC 6749 5.2) */
	const char	*code;		/* the access log's error=, one each */
} problems[] = {
	[P_BAD_REQUEST] = { 400, "invalid-request", "error", 400,
	    "invalid_request", "invalid-request" },
	[P_BAD_CREDENTIALS] = { 401, "invalid-credentials",
	    "invalid-credentials", 400, "invalid_grant",
	    "invalid-credentials" },
	/* tokend's own API keeps one 401 status; X-Timestamp tells skew. */
	[P_BAD_TIMESTAMP] = { 401, "invalid-credentials", "invalid-timestamp",
	    400, "invalid_grant", "invalid-timestamp" },
	/* Mozilla answers a malformed X-Client-State with "error". */
	[P_BAD_CLIENT_STATE] = { 400, "invalid-client-state", "error", 400,
	    "invalid_request", "invalid-client-state" },
	[P_UNKNOWN_SERVICE] = { 404, "not-found", "error", 400,
	    "invalid_target", "unknown-service" },
	[P_NOT_FOUND] = { 404, "not-found", "error", 404, "invalid_request",
	    "not-found" },
	[P_METHOD] = { 405, "method-not-allowed", "error", 405,
	    "invalid_request", "method-not-allowed" },
	[P_TOO_LARGE] = { 413, "request-too-large", "error", 413,
	    "invalid_request", "request-too-large" },
	[P_MEDIA_TYPE] = { 415, "unsupported-media-type", "error", 415,
	    "invalid_request", "unsupported-media-type" },
	[P_UNSUPPORTED_GRANT] = { 400, "invalid-request", "error", 400,
	    "unsupported_grant_type", "unsupported-grant-type" },
	[P_UNAVAILABLE] = { 503, "unavailable", "error", 503,
	    "temporarily_unavailable", "unavailable" },
	[P_TIMEOUT] = { 504, "timeout", "error", 504,
	    "temporarily_unavailable", "timeout" },
	[P_INTERNAL] = { 500, "error", "error", 500, "server_error",
	    "internal-error" },
	[P_BAD_GATEWAY] = { 502, "error", "error", 502, "server_error",
	    "bad-gateway" },
	[P_HEAD_TOO_LARGE] = { 431, "request-too-large", "error", 431,
	    "invalid_request", "header-too-large" },
	[P_NOT_IMPLEMENTED] = { 501, "not-implemented", "error", 501,
	    "invalid_request", "not-implemented" },
	[P_VERSION] = { 505, "http-version-not-supported", "error", 505,
	    "invalid_request", "http-version-not-supported" },
	[P_UNAUTHORIZED] = { 401, "invalid-credentials", "error", 400,
	    "invalid_grant", "unauthorized" },
	[P_BAD_QUERY] = { 400, "invalid-request", "error", 400,
	    "invalid_request", "invalid-query" },
	/* A nodes = database service's refusals (Mozilla's statuses). */
	[P_INVALID_GENERATION] = { 401, "invalid-generation",
	    "invalid-generation", 400, "invalid_grant", "invalid-generation" },
	[P_INVALID_KEYS_CHANGED_AT] = { 401, "invalid-keysChangedAt",
	    "invalid-keysChangedAt", 400, "invalid_grant",
	    "invalid-keys-changed-at" },
	[P_STALE_CLIENT_STATE] = { 401, "invalid-client-state",
	    "invalid-client-state", 400, "invalid_grant",
	    "stale-client-state" },
	[P_INVALID_KEY_ID] = { 401, "invalid-key-id", "invalid-key-id", 400,
	    "invalid_request", "invalid-key-id" },
	/* Mozilla answers both as its internal error ("internal" location). */
	[P_NO_NODE] = { 503, "unavailable", "internal-error", 503,
	    "temporarily_unavailable", "no-node" },
	[P_SERVER_ERROR] = { 500, "error", "internal-error", 500,
	    "server_error", "server-error" },
};

/* Where a problem lies, for the {"location", "name"} of the answer. */
struct fault {
	const char	*location;	/* body, header, url */
	const char	*name;
	const char	*description;
};

/* The fields of a worker's successful REPLY, checked. */
struct token_reply {
	const char	*id, *key, *api_endpoint, *hashalg;
	size_t		 id_len, key_len, api_endpoint_len, hashalg_len;
	/* A nodes = database service's (Mozilla's fields); NULL: none. */
	const char	*hashed_fxa_uid, *node_type;
	size_t		 hashed_fxa_uid_len, node_type_len;
	long long	 uid, duration, expires;
};

struct api_endpoint {
	const char	*method;
	enum style	 style;
	const char	*content_type;	/* of the body, or NULL: no body */
	int		 (*match)(struct api_call *, const char *url);
	int		 (*prepare)(struct api_call *, const char *, size_t);
	char		*(*format)(const struct token_reply *, size_t *len);
	/* An endpoint the front answers alone, with no worker: its answer. */
	void		 (*local)(struct api_call *);
};

/* ---- answers ---------------------------------------------------------- */

static void
add_header(struct api_call *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_header(struct api_call *c, const char *name, const char *fmt, ...)
{
	va_list	ap;

	if (c->nhdr == API_MAX_HEADERS)
		return;
	c->hdr[c->nhdr].name = name;
	va_start(ap, fmt);
	vsnprintf(c->hdr[c->nhdr].value, sizeof(c->hdr[0].value), fmt, ap);
	va_end(ap);
	c->nhdr++;
}

static void
answer_json(struct api_call *c, unsigned status, json_t *obj)
{
	c->status = status;
	c->body = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(obj);
	if (c->body == NULL) {
		/* Out of memory: a fixed answer still tells the truth. */
		c->status = 500;
		c->body = strdup("{\"status\":\"error\"}");
	}
	c->len = c->body ? strlen(c->body) : 0;
}

/*
 * Every answer of GET /1.0 carries the server's time (a client corrects
 * its clock skew by it) and nosniff, as Mozilla's tokenserver does.
 */
static void
tokenserver_headers(struct api_call *c)
{
	add_header(c, "X-Timestamp", "%lld", (long long)time(NULL));
	add_header(c, "X-Content-Type-Options", "nosniff");
}

static enum style
style_of(const struct api_call *c)
{
	return c->ep != NULL ? c->ep->style : STYLE_TOKEND;
}

/*
 * What the access log tells of a problem: its code, and the name of the
 * field at fault only if it is a plain name (letters, digits, '-', '_'),
 * so that no value a client sent can reach the log through it.
 */
static void
note_problem(struct api_call *c, enum problem p, const char *name)
{
	size_t	n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_");

	c->error = problems[p].code;
	if (name[n] == '\0' && n < sizeof(c->field))
		memcpy(c->field, name, n + 1);
	else
		c->field[0] = '\0';
}

static int
answer_problem(struct api_call *c, enum problem p, const struct fault *f)
{
	enum style	s = style_of(c);

	note_problem(c, p, f->name);
	if (s == STYLE_TOKENSERVER)
		tokenserver_headers(c);
	else if (p == P_BAD_TIMESTAMP)
		add_header(c, "X-Timestamp", "%lld", (long long)time(NULL));
	if (p == P_UNAVAILABLE || p == P_NO_NODE)
		add_header(c, "Retry-After", "1");
	if (s == STYLE_OAUTH) {
		answer_json(c, problems[p].oauth_status, json_pack(
		    "{s:s, s:s}", "error", problems[p].oauth,
		    "error_description", f->description));
		return 1;
	}
	answer_json(c, problems[p].status, json_pack(
	    "{s:s, s:[{s:s, s:s, s:s}]}", "status", s == STYLE_TOKENSERVER ?
	    problems[p].tokenserver : problems[p].tokend, "errors",
	    "location", f->location, "name", f->name,
	    "description", f->description));
	return 1;
}

static int
problem(struct api_call *c, enum problem p, const char *location,
    const char *name, const char *description)
{
	struct fault	f = { location, name, description };

	return answer_problem(c, p, &f);
}

/* ---- reading requests ------------------------------------------------- */

/* "type/subtype" with optional parameters, case-insensitively. */
static int
has_type(const char *ct, const char *type)
{
	size_t	n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/*
 * Whether text that goes into an answer is printable ASCII.  Text quoted
 * from a client's body or sent by a worker may be anything, and bytes
 * that are not UTF-8 would make json_pack fail and the answer a bare 500.
 */
static int
ascii_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
set_owned(char **dst, const char *s, size_t len)
{
	free(*dst);
	if ((*dst = malloc(len + 1)) == NULL)
		return -1;
	memcpy(*dst, s, len);
	(*dst)[len] = '\0';
	return 0;
}

/*
 * Authorization: Bearer <JWT> or BrowserID <assertion>.  Returns 0 if the
 * header is absent, 1 if it gave the assertion, -1 (answered) if malformed.
 */
static int
auth_header(struct api_call *c)
{
	static const char *const schemes[] = { "Bearer", "BrowserID" };
	static const char *const kinds[] = { KIND_JWT, KIND_BROWSERID };
	const char	*v = c->req->authorization, *cred;
	size_t		 i, n;

	if (v == NULL)
		return 0;
	for (i = 0; i < 2; i++) {
		n = strlen(schemes[i]);
		if (strncasecmp(v, schemes[i], n) == 0 && v[n] == ' ')
			break;
	}
	if (i == 2) {
		problem(c, P_BAD_CREDENTIALS, "header", "Authorization",
		    "Authorization must be \"Bearer <JWT>\" or "
		    "\"BrowserID <assertion>\"");
		return -1;
	}
	for (cred = v + n; *cred == ' '; cred++)
		;
	if (*cred == '\0' || strchr(cred, ' ') != NULL) {
		problem(c, P_BAD_CREDENTIALS, "header", "Authorization",
		    "Authorization carries no credential");
		return -1;
	}
	if (set_owned(&c->assertion, cred, strlen(cred)) == -1) {
		problem(c, P_INTERNAL, "header", "Authorization",
		    "out of memory");
		return -1;
	}
	c->from_header = 1;
	c->kind = kinds[i];
	return 1;
}

/* X-Client-State: 1..32 hex digits, kept lowercase; 0 or -1 (answered). */
static int
client_state_header(struct api_call *c)
{
	const char	*v = c->req->client_state;
	size_t		 i, n;

	if (v == NULL)
		return 0;
	n = strlen(v);
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]))
			break;
	if (n == 0 || n > API_CLIENT_STATE_MAX || i != n) {
		problem(c, P_BAD_CLIENT_STATE, "header", "X-Client-State",
		    "X-Client-State must be 1 to 32 hexadecimal digits");
		return -1;
	}
	for (i = 0; i < n; i++)
		c->client_state[i] = (char)tolower((unsigned char)v[i]);
	c->client_state[n] = '\0';
	return 0;
}

/* ---- POST /v1/token --------------------------------------------------- */

static int
match_token(struct api_call *c, const char *url)
{
	return strcmp(url, "/v1/token") == 0;
}

/* What a /v1/token body says, from either parser. */
struct token_body {
	int		 has_assertion;	/* the member exists, of any type */
	const char	*assertion;	/* a non-empty string, or NULL */
	size_t		 assertion_len;
	const char	*service;	/* a non-empty string, or NULL */
	size_t		 service_len;
};

/* A non-empty string member of obj, or NULL. */
static const char *
member(json_t *obj, const char *name, size_t *len)
{
	json_t	*v = json_object_get(obj, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

/*
 * The common body, {"assertion": "...", "service": "..."} in plain ASCII,
 * without jansson (jsonflat.h says why); -1 for any other shape.
 */
static int
read_flat_body(const char *body, size_t len, struct token_body *b)
{
	struct jsonflat_member	m[JSONFLAT_MAX];
	int			i, n;

	if ((n = jsonflat_parse(body, len, m, JSONFLAT_MAX)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (m[i].keylen == 9 && memcmp(m[i].key, "assertion", 9) == 0) {
			b->has_assertion = 1;
			if (m[i].vallen > 0) {
				b->assertion = m[i].val;
				b->assertion_len = m[i].vallen;
			}
		} else if (m[i].keylen == 7 &&
		    memcmp(m[i].key, "service", 7) == 0 && m[i].vallen > 0) {
			b->service = m[i].val;
			b->service_len = m[i].vallen;
		}
	}
	return 0;
}

/*
 * Whether s[0..len) has more than BODY_MAX_MEMBERS members in all of its
 * objects, each a ':' outside a string (escapes in strings skipped).
 * It runs before jansson, which would build a hash table of every object:
 * its seed is chosen once and shared by every tokend process for the
 * daemon's life, so the tables are kept too small for collisions to
 * matter (docs/security.md, Hash flooding).  Malformed JSON is jansson's
 * to refuse.
 */
static int
too_many_members(const char *s, size_t len)
{
	size_t	i;
	int	n = 0, in_str = 0;

	for (i = 0; i < len; i++) {
		if (in_str && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			in_str = !in_str;
		else if (!in_str && s[i] == ':' && ++n > BODY_MAX_MEMBERS)
			return 1;
	}
	return 0;
}

/* Any other body: jansson reads it, or says why it cannot. */
static json_t *
read_json_body(struct api_call *c, const char *body, size_t len,
    struct token_body *b)
{
	json_error_t	 jerr;
	json_t		*obj;
	char		 desc[256];

	if (body != NULL && too_many_members(body, len)) {
		snprintf(desc, sizeof(desc), "body has more than %d members "
		    "in all of its JSON objects", BODY_MAX_MEMBERS);
		problem(c, P_BAD_REQUEST, "body", "body", desc);
		return NULL;
	}
	obj = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		/* jansson quotes the body "near" the fault, any bytes. */
		if (ascii_text(jerr.text))
			snprintf(desc, sizeof(desc), "body is not valid JSON: "
			    "%s", jerr.text);
		else
			snprintf(desc, sizeof(desc), "body is not valid JSON "
			    "(at byte %d)", jerr.position);
		problem(c, P_BAD_REQUEST, "body", "body", desc);
		return NULL;
	}
	if (!json_is_object(obj)) {
		problem(c, P_BAD_REQUEST, "body", "body",
		    "body must be a JSON object");
		json_decref(obj);
		return NULL;
	}
	b->has_assertion = json_object_get(obj, "assertion") != NULL;
	b->assertion = member(obj, "assertion", &b->assertion_len);
	b->service = member(obj, "service", &b->service_len);
	return obj;
}

static int
prepare_token(struct api_call *c, const char *body, size_t len)
{
	struct token_body	 b = { 0 };
	json_t			*obj = NULL;	/* owns b's strings, if set */
	int			 rc = 1, auth;

	if ((auth = auth_header(c)) == -1 || client_state_header(c) == -1)
		return 1;
	if ((body == NULL || read_flat_body(body, len, &b) == -1) &&
	    (obj = read_json_body(c, body, len, &b)) == NULL)
		return 1;
	if (auth == 1 && b.has_assertion) {
		problem(c, P_BAD_REQUEST, "body", "assertion",
		    "give the assertion in the body or in Authorization, "
		    "not both");
		goto done;
	}
	if (auth == 0 && b.assertion == NULL) {
		problem(c, P_BAD_REQUEST, "body", "assertion",
		    "assertion must be a non-empty string");
		goto done;
	}
	if (auth == 0 &&
	    set_owned(&c->assertion, b.assertion, b.assertion_len) == -1)
		goto oom;
	if (b.service == NULL) {
		problem(c, P_BAD_REQUEST, "body", "service",
		    "service must be a non-empty string");
		goto done;
	}
	if (set_owned(&c->service, b.service, b.service_len) == -1)
		goto oom;
	rc = 0;
	goto done;
oom:
	problem(c, P_INTERNAL, "body", "body", "out of memory");
done:
	json_decref(obj);
	return rc;
}

static int
reply_int(const struct proto_msg *m, const char *key, long long *v)
{
	char	buf[24], *end;

	if (proto_get_str(m, key, buf, sizeof(buf)) == -1)
		return -1;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno != 0 || end == buf || *end != '\0' ? -1 : 0;
}

/*
 * The token fields of a worker's REPLY, or -1 if it lacks one (a worker in
 * another language may be wrong).
 */
static int
reply_fields(const struct proto_msg *m, struct token_reply *t)
{
	if ((t->id = proto_get(m, "id", &t->id_len)) == NULL ||
	    (t->key = proto_get(m, "key", &t->key_len)) == NULL ||
	    (t->api_endpoint = proto_get(m, "api_endpoint",
	    &t->api_endpoint_len)) == NULL ||
	    (t->hashalg = proto_get(m, "hashalg", &t->hashalg_len)) == NULL ||
	    reply_int(m, "uid", &t->uid) == -1 ||
	    reply_int(m, "duration", &t->duration) == -1 ||
	    reply_int(m, "expires", &t->expires) == -1)
		return -1;
	t->hashed_fxa_uid = proto_get(m, "hashed_fxa_uid",
	    &t->hashed_fxa_uid_len);
	t->node_type = proto_get(m, "node_type", &t->node_type_len);
	return 0;
}

/* tokend's answer; the tokenserver's is the same without "expires". */
static char *
write_token(const struct token_reply *t, int expires, size_t *len)
{
	struct jsonflat_writer	w;

	jsonflat_begin(&w);
	jsonflat_str(&w, "id", t->id, t->id_len);
	jsonflat_str(&w, "key", t->key, t->key_len);
	jsonflat_int(&w, "uid", t->uid);
	jsonflat_str(&w, "api_endpoint", t->api_endpoint, t->api_endpoint_len);
	jsonflat_int(&w, "duration", t->duration);
	jsonflat_str(&w, "hashalg", t->hashalg, t->hashalg_len);
	if (expires)
		jsonflat_int(&w, "expires", t->expires);
	return jsonflat_end(&w, len);
}

static char *
format_token(const struct token_reply *t, size_t *len)
{
	return write_token(t, 1, len);
}

/* ---- GET /1.0/APP/VERSION (tokenserver) ------------------------------- */

/* One path segment of [A-Za-z0-9._-]; returns its length or 0. */
static size_t
segment(const char *s)
{
	size_t	n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '.' || s[n] == '_' ||
	    s[n] == '-')
		n++;
	return n <= MAX_NAME ? n : 0;
}

static int
match_tokenserver(struct api_call *c, const char *url)
{
	const char	*app, *ver;
	size_t		 alen, vlen;
	char		 name[2 * MAX_NAME + 2];

	if (strncmp(url, "/1.0/", 5) != 0)
		return 0;
	app = url + 5;
	if ((alen = segment(app)) == 0 || app[alen] != '/')
		return 0;
	ver = app + alen + 1;
	if ((vlen = segment(ver)) == 0 || ver[vlen] != '\0')
		return 0;
	/* The service is "APP-VERSION", e.g. sync-1.5. */
	snprintf(name, sizeof(name), "%.*s-%.*s", (int)alen, app, (int)vlen,
	    ver);
	snprintf(c->version, sizeof(c->version), "%.*s", (int)vlen, ver);
	return set_owned(&c->service, name, strlen(name)) == 0;
}

/*
 * Authorization, as Mozilla's tokenserver reads it: "SCHEME CREDENTIAL".
 * Bearer (a JWT or an FxA token) and BrowserID are taken; the refusals
 * are Mozilla's bodies: 401 "error" with "Unauthorized" (no header, no
 * scheme) or "Unsupported" (another scheme).  The credential is all that
 * follows the first space, spaces included, as Mozilla reads it (its
 * test suite's FxA tokens are JSON with spaces); an empty one cannot
 * verify: invalid-credentials, as a verifier would say.  Returns 0, or 1
 * answered.
 */
static int
ts_auth_header(struct api_call *c)
{
	static const char *const schemes[] = { "Bearer", "BrowserID" };
	static const char *const kinds[] = { KIND_JWT, KIND_BROWSERID };
	const char	*v = c->req->authorization, *sp, *cred;
	size_t		 i;

	if (v == NULL || (sp = strchr(v, ' ')) == NULL)
		return problem(c, P_UNAUTHORIZED, "body", "", "Unauthorized");
	for (i = 0; i < 2; i++)
		if ((size_t)(sp - v) == strlen(schemes[i]) &&
		    strncasecmp(v, schemes[i], (size_t)(sp - v)) == 0)
			break;
	if (i == 2)
		return problem(c, P_UNAUTHORIZED, "body", "", "Unsupported");
	cred = sp + 1;
	if (*cred == '\0')
		return problem(c, P_BAD_CREDENTIALS, "body", "",
		    "Unauthorized");
	if (set_owned(&c->assertion, cred, strlen(cred)) == -1)
		return problem(c, P_INTERNAL, "header", "Authorization",
		    "out of memory");
	c->from_header = 1;
	c->kind = kinds[i];
	return 0;
}

/* Mozilla's X-Client-State: 1 to 32 of [A-Za-z0-9._-]. */
static int
ts_client_state_ok(const char *v)
{
	size_t	n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789._-");

	return n >= 1 && n <= API_CLIENT_STATE_MAX && v[n] == '\0';
}

/*
 * X-Client-State on GET /1.0: Mozilla's form is checked at once (400
 * "error").  The job's client_state (the token's, as today) is the value
 * lowercased when it is hex; one that is not is refused too, unless
 * X-KeyID is there to be compared with it (a mismatch, in the worker).
 * Returns 0, or 1 answered.
 */
static int
ts_client_state(struct api_call *c)
{
	const char	*v = c->req->client_state;
	size_t		 i, n;

	if (v == NULL)
		return 0;
	if (!ts_client_state_ok(v))
		return problem(c, P_BAD_CLIENT_STATE, "header",
		    "X-Client-State", "Invalid client state value");
	n = strlen(v);
	if (strspn(v, "0123456789abcdefABCDEF") != n) {
		if (c->req->key_id == NULL)
			return problem(c, P_BAD_CLIENT_STATE, "header",
			    "X-Client-State", "Invalid client state value");
		return 0;
	}
	for (i = 0; i < n; i++)
		c->client_state[i] = (char)tolower((unsigned char)v[i]);
	c->client_state[n] = '\0';
	return 0;
}

/*
 * A decimal int64 as Rust's i64::from_str reads it ([+]DIGITS; a '-'
 * cannot reach here), kept exactly: a value above INT64_MAX is refused,
 * never wrapped.  Returns 0 with *v, or -1.
 */
static int
parse_i64(const char *s, size_t len, int64_t *v)
{
	uint64_t	acc = 0;
	size_t		i = 0;

	if (len > 0 && s[0] == '+')
		i++;
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (acc > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		acc = acc * 10 + (uint64_t)(s[i] - '0');
	}
	*v = (int64_t)acc;
	return 0;
}

/*
 * X-KeyID: "<keys_changed_at>-<client state, base64url without padding>"
 * (FxA's key id).  Read as Mozilla reads it, in its order: absent, not
 * visible ASCII, no '-', not base64url (strict: no padding, canonical
 * bits), X-Client-State of the wrong form (400, answered here) or unequal
 * to it, keys_changed_at not an int64.  A refusal other than the 400 is
 * kept in key_id_error for the worker to answer after the credential, as
 * Mozilla checks the token first.  A client state longer than 16 bytes
 * fits no database column: refused as malformed.  Returns 0, or 1
 * answered.
 */
static int
ts_key_id(struct api_call *c)
{
	const char	*v = c->req->key_id, *dash, *xcs = c->req->client_state;
	uint8_t		 raw[3 * 64];
	size_t		 i, n, rawlen;
	int64_t		 kca;

	if (v == NULL) {
		c->key_id_error = PROTO_KEYID_MISSING;
		return 0;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e) {
			if (v[i] != '\t') {
				c->key_id_error = PROTO_KEYID_INVALID;
				return 0;
			}
		}
	if ((dash = strchr(v, '-')) == NULL) {
		c->key_id_error = PROTO_KEYID_MALFORMED;
		return 0;
	}
	n = strlen(dash + 1);
	if (n > 4 * sizeof(raw) / 3 || b64url_decode(raw, &rawlen, dash + 1, n,
	    B64_NOPAD) == -1 || rawlen * 2 > API_CLIENT_STATE_MAX) {
		c->key_id_error = PROTO_KEYID_MALFORMED;
		return 0;
	}
	for (i = 0; i < rawlen; i++) {
		c->key_client_state[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		c->key_client_state[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	c->key_client_state[2 * rawlen] = '\0';
	if (xcs != NULL && !ts_client_state_ok(xcs))
		return problem(c, P_BAD_CLIENT_STATE, "header",
		    "X-Client-State", "Invalid client state value");
	if (xcs != NULL && strcmp(xcs, c->key_client_state) != 0)
		c->key_id_error = PROTO_KEYID_MISMATCH;
	else if (parse_i64(v, (size_t)(dash - v), &kca) == -1)
		c->key_id_error = PROTO_KEYID_MALFORMED;
	if (c->key_id_error != NULL) {
		c->key_client_state[0] = '\0';	/* a refused key id says nothing */
		return 0;
	}
	snprintf(c->keys_changed_at, sizeof(c->keys_changed_at), "%" PRId64,
	    kca);
	return 0;
}

/*
 * ?duration=N: a shorter token than the service's, if N is a whole number
 * of seconds (Mozilla's u64: [+]DIGITS).  Anything else is ignored, as
 * Mozilla ignores it, and so is 0 (a token dead at birth); the worker
 * takes N only up to the service's duration.  The parameter given twice
 * is Mozilla's 400 "invalid query params".  Returns 0, or 1 answered.
 */
static int
ts_duration(struct api_call *c)
{
	const char	*v = c->req->duration;
	int64_t		 d;

	if (c->req->duration_count > 1)
		return problem(c, P_BAD_QUERY, "url", "",
		    "invalid query params");
	if (v == NULL || parse_i64(v, strlen(v), &d) == -1 || d == 0)
		return 0;
	snprintf(c->duration, sizeof(c->duration), "%" PRId64, d);
	return 0;
}

static int
prepare_tokenserver(struct api_call *c, const char *body, size_t len)
{
	if (ts_auth_header(c) || ts_client_state(c) || ts_key_id(c) ||
	    ts_duration(c))
		return 1;
	return 0;
}

/*
 * Mozilla's answer, in its order, when the worker gave its fields (a
 * nodes = database service); otherwise tokend's without "expires".
 */
static char *
format_tokenserver(const struct token_reply *t, size_t *len)
{
	struct jsonflat_writer	w;

	if (t->hashed_fxa_uid == NULL || t->node_type == NULL)
		return write_token(t, 0, len);
	jsonflat_begin(&w);
	jsonflat_str(&w, "id", t->id, t->id_len);
	jsonflat_str(&w, "key", t->key, t->key_len);
	jsonflat_int(&w, "uid", t->uid);
	jsonflat_str(&w, "api_endpoint", t->api_endpoint, t->api_endpoint_len);
	jsonflat_int(&w, "duration", t->duration);
	jsonflat_str(&w, "hashed_fxa_uid", t->hashed_fxa_uid,
	    t->hashed_fxa_uid_len);
	jsonflat_str(&w, "hashalg", t->hashalg, t->hashalg_len);
	jsonflat_str(&w, "node_type", t->node_type, t->node_type_len);
	return jsonflat_end(&w, len);
}

/* ---- POST /oauth/token (RFC 8693) ------------------------------------- */

#define GRANT_EXCHANGE	"urn:ietf:params:oauth:grant-type:token-exchange"
#define TYPE_JWT	"urn:ietf:params:oauth:token-type:jwt"
#define TYPE_ID_TOKEN	"urn:ietf:params:oauth:token-type:id_token"
#define TYPE_ACCESS	"urn:ietf:params:oauth:token-type:access_token"

static int
match_exchange(struct api_call *c, const char *url)
{
	return strcmp(url, "/oauth/token") == 0;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) in place ('+' is a space); new length or -1. */
static ssize_t
form_decode(char *s, size_t len)
{
	size_t	i, o;
	int	hi, lo;

	for (i = o = 0; i < len; i++, o++) {
		if (s[i] == '+')
			s[o] = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return -1;
			s[o] = (char)(hi << 4 | lo);
			i += 2;
		} else
			s[o] = s[i];
		if (s[o] == '\0')
			return -1;
	}
	s[o] = '\0';
	return (ssize_t)o;
}

#define FORM_FIELDS 8
static const char *const form_names[FORM_FIELDS] = {
	"grant_type", "subject_token", "subject_token_type", "audience",
	"resource", "requested_token_type", "actor_token", "actor_token_type",
};

/*
 * Splits an application/x-www-form-urlencoded body into the fields we
 * know (others are ignored, as RFC 6749 says).  vals point into buf.
 * Returns NULL, or the name of the field that is malformed or repeated.
 */
static const char *
form_parse(char *buf, size_t len, char *vals[FORM_FIELDS])
{
	char	*p = buf, *end = buf + len, *amp, *eq;
	ssize_t	 klen, vlen;
	size_t	 i;

	memset(vals, 0, FORM_FIELDS * sizeof(*vals));
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		*amp = '\0';
		if ((eq = strchr(p, '=')) == NULL)
			eq = amp;
		else
			*eq++ = '\0';
		if ((klen = form_decode(p, strlen(p))) == -1)
			return "body";
		for (i = 0; i < FORM_FIELDS; i++)
			if (strcmp(p, form_names[i]) == 0)
				break;
		if (i < FORM_FIELDS) {
			if (vals[i] != NULL)
				return form_names[i];	/* RFC 6749 3.2 */
			if (eq == amp || (vlen = form_decode(eq,
			    strlen(eq))) <= 0)
				return form_names[i];
			vals[i] = eq;
		}
		(void)klen;
		p = amp + 1;
	}
	return NULL;
}

static int
prepare_exchange(struct api_call *c, const char *body, size_t len)
{
	char		*buf, *v[FORM_FIELDS], desc[160];
	const char	*bad, *target;
	int		 rc = 1;

	if ((buf = malloc(len + 1)) == NULL)
		return problem(c, P_INTERNAL, "body", "body", "out of memory");
	memcpy(buf, body ? body : "", len);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL)
		bad = "body";
	else
		bad = form_parse(buf, len, v);
	if (bad != NULL) {
		snprintf(desc, sizeof(desc), "%s is malformed, empty or "
		    "repeated", bad);
		problem(c, P_BAD_REQUEST, "body", bad, desc);
	} else if (v[0] == NULL)
		problem(c, P_BAD_REQUEST, "body", "grant_type",
		    "grant_type is required");
	else if (strcmp(v[0], GRANT_EXCHANGE) != 0)
		problem(c, P_UNSUPPORTED_GRANT, "body", "grant_type",
		    "only " GRANT_EXCHANGE " is supported");
	else if (v[1] == NULL)
		problem(c, P_BAD_REQUEST, "body", "subject_token",
		    "subject_token is required");
	else if (v[2] == NULL || (strcmp(v[2], TYPE_JWT) != 0 &&
	    strcmp(v[2], TYPE_ID_TOKEN) != 0))
		problem(c, P_BAD_REQUEST, "body", "subject_token_type",
		    "subject_token_type must be " TYPE_JWT " or "
		    TYPE_ID_TOKEN);
	else if (v[5] != NULL && strcmp(v[5], TYPE_ACCESS) != 0)
		problem(c, P_BAD_REQUEST, "body", "requested_token_type",
		    "only " TYPE_ACCESS " can be issued");
	else if (v[6] != NULL || v[7] != NULL)
		/* RFC 8693 2.2.2: what is not supported is refused. */
		problem(c, P_BAD_REQUEST, "body", v[6] ? "actor_token" :
		    "actor_token_type", "delegation (actor_token) is not "
		    "supported");
	else if (c->req->client_state != NULL)
		problem(c, P_BAD_REQUEST, "header", "X-Client-State",
		    "X-Client-State is not accepted by /oauth/token");
	else if ((target = v[3] ? v[3] : v[4]) == NULL)
		problem(c, P_BAD_REQUEST, "body", "audience",
		    "audience (or resource) must name the service");
	else if (v[3] != NULL && v[4] != NULL && strcmp(v[3], v[4]) != 0)
		problem(c, P_BAD_REQUEST, "body", "resource",
		    "audience and resource name different services");
	else if (set_owned(&c->assertion, v[1], strlen(v[1])) == -1 ||
	    set_owned(&c->service, target, strlen(target)) == -1)
		problem(c, P_INTERNAL, "body", "body", "out of memory");
	else {
		c->kind = KIND_JWT;	/* both token types are JWTs */
		rc = 0;
	}
	OPENSSL_clear_free(buf, len + 1);
	return rc;
}

static char *
format_exchange(const struct token_reply *t, size_t *len)
{
	struct jsonflat_writer	w;

	/*
	 * The token is a Hawk credential id: the client signs requests with
	 * "key".  RFC 6749 7.1 lets a server name its own token type.
	 */
	jsonflat_begin(&w);
	jsonflat_str(&w, "access_token", t->id, t->id_len);
	jsonflat_str(&w, "issued_token_type", TYPE_ACCESS,
	    sizeof(TYPE_ACCESS) - 1);
	jsonflat_str(&w, "token_type", "Hawk", 4);
	jsonflat_int(&w, "expires_in", t->duration);
	jsonflat_str(&w, "key", t->key, t->key_len);
	jsonflat_str(&w, "hashalg", t->hashalg, t->hashalg_len);
	jsonflat_str(&w, "api_endpoint", t->api_endpoint, t->api_endpoint_len);
	jsonflat_int(&w, "uid", t->uid);
	return jsonflat_end(&w, len);
}

/* ---- GET /__lbheartbeat__ --------------------------------------------- */

static int
match_heartbeat(struct api_call *c, const char *url)
{
	return strcmp(url, "/__lbheartbeat__") == 0;
}

/* The front runs: that is all a load balancer asks. */
static void
answer_heartbeat(struct api_call *c)
{
	answer_json(c, 200, json_object());
}

/* ---- GET /__version__ (Dockerflow) ------------------------------------ */

static int
match_version(struct api_call *c, const char *url)
{
	return strcmp(url, "/__version__") == 0;
}

/*
 * Dockerflow's version object, from the values the build baked in
 * (core/version.h).  Its "build" is the build's date here, not a CI URL;
 * "source" is left out when the build did not know the repository.
 */
static void
answer_version(struct api_call *c)
{
	json_t	*o = json_object();

	if (tokend_source[0] != '\0')
		json_object_set_new(o, "source", json_string(tokend_source));
	json_object_set_new(o, "version", json_string(tokend_version));
	json_object_set_new(o, "commit", json_string(tokend_commit));
	json_object_set_new(o, "build", json_string(tokend_build));
	answer_json(c, 200, o);
}

/* ---- GET /__heartbeat__ ----------------------------------------------- */

static int
match_health(struct api_call *c, const char *url)
{
	return strcmp(url, API_HEARTBEAT_PATH) == 0;
}

/* One check into checks and, failing, its reason into details. */
static int
check(json_t *checks, json_t *details, const char *name, int ok,
    const char *why)
{
	json_object_set_new(checks, name, json_string(ok ? "ok" : "error"));
	if (!ok)
		json_object_set_new(details, name, json_pack("{s:s, s:s}",
		    "status", "error", "message", why));
	return ok;
}

/*
 * Dockerflow's __heartbeat__: 200 with every check "ok", or 503 with the
 * failing ones "error" and a message each in details.  The database check
 * is there only where one is configured.
 */
static void
answer_health(struct api_call *c)
{
	const struct api_health	*h = c->req->health;
	json_t			*checks = json_object(), *details = json_object();
	char			 keys[96];
	int			 ok = 1;

	if (h == NULL) {
		ok = check(checks, details, "workers", 0, "the front has no "
		    "facts about its workers");
		goto done;
	}
	ok &= check(checks, details, "workers", h->workers > 0, "no worker "
	    "has been heard from in the last two heartbeat intervals");
	/*
	 * A worker that reports nothing of its keys (one in another
	 * language, docs/protocol.md) cannot fail this check; the workers
	 * that report must not all lack a key set.
	 */
	snprintf(keys, sizeof(keys), "%ld issuers have no key set in any "
	    "live worker", h->keys_missing);
	ok &= check(checks, details, "issuer_keys", !h->keys_reported ||
	    h->keys_missing == 0, keys);
	if (h->db_configured)
		ok &= check(checks, details, "database", h->db_up, "no live "
		    "worker reaches the node-assignment database");
done:
	answer_json(c, ok ? 200 : 503, json_pack("{s:s, s:o, s:o}", "status",
	    ok ? "ok" : "error", "checks", checks, "details", details));
	if (!ok)
		add_header(c, "Retry-After", "1");
}

static const struct api_endpoint endpoints[] = {
	{ "POST", STYLE_TOKEND, "application/json", match_token,
	    prepare_token, format_token, NULL },
	{ "GET", STYLE_TOKENSERVER, NULL, match_tokenserver,
	    prepare_tokenserver, format_tokenserver, NULL },
	{ "POST", STYLE_OAUTH, "application/x-www-form-urlencoded",
	    match_exchange, prepare_exchange, format_exchange, NULL },
	{ "GET", STYLE_TOKEND, NULL, match_heartbeat, NULL, NULL,
	    answer_heartbeat },
	{ "GET", STYLE_TOKEND, NULL, match_version, NULL, NULL,
	    answer_version },
	{ "GET", STYLE_TOKEND, NULL, match_health, NULL, NULL,
	    answer_health },
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))
#define EP_TOKENSERVER (&endpoints[1])

/* ---- the calls front.c makes ------------------------------------------ */

/* 413, whether Content-Length said so or the body passed max_body. */
static int
body_too_large(struct api_call *c)
{
	char	desc[96];

	snprintf(desc, sizeof(desc), "request body is larger than %zu bytes",
	    c->max_body);
	return problem(c, P_TOO_LARGE, "body", "body", desc);
}

int
api_route(struct api_call *c, const struct api_request *req, size_t max_body)
{
	const struct api_endpoint	*ep;
	const char			*method = req->method;
	char				 desc[128];
	size_t				 i;

	memset(c, 0, sizeof(*c));
	c->req = req;
	c->max_body = max_body;
	for (i = 0, ep = NULL; i < NENDPOINTS && ep == NULL; i++)
		if (endpoints[i].match(c, req->path))
			ep = &endpoints[i];
	if (ep == NULL) {
		/* Tokenserver clients get their own style even for bad paths. */
		if (strncmp(req->path, "/1.0/", 5) == 0)
			c->ep = EP_TOKENSERVER;
		return problem(c, P_NOT_FOUND, "url", "path",
		    "no such endpoint");
	}
	c->ep = ep;
	if (strcmp(method, ep->method) != 0 && !(strcmp(method, "HEAD") == 0 &&
	    strcmp(ep->method, "GET") == 0)) {
		add_header(c, "Allow", "%s", ep->method);
		snprintf(desc, sizeof(desc), "use %s", ep->method);
		return problem(c, P_METHOD, "url", "method", desc);
	}
	if (ep->local != NULL) {	/* no worker needed */
		ep->local(c);
		return 1;
	}
	if (ep->content_type != NULL &&
	    !has_type(req->content_type, ep->content_type)) {
		snprintf(desc, sizeof(desc), "Content-Type must be %s",
		    ep->content_type);
		return problem(c, P_MEDIA_TYPE, "header", "Content-Type", desc);
	}
	if (req->content_length != NULL &&
	    strtoull(req->content_length, NULL, 10) > max_body)
		return body_too_large(c);
	return 0;
}

/*
 * A field the front would forward must fit the frame a worker accepts
 * (protocol.h): max_body and connection_memory may allow more than that,
 * and a larger frame would break the worker's connection.  413, naming
 * the field where the client put it.
 */
static int
field_too_large(struct api_call *c)
{
	char	desc[96];

	if (strlen(c->assertion) > PROTO_MAX_VALUE) {
		snprintf(desc, sizeof(desc), "the assertion is larger than %d "
		    "bytes", PROTO_MAX_VALUE);
		return problem(c, P_TOO_LARGE, c->from_header ? "header" :
		    "body", c->from_header ? "Authorization" : "assertion",
		    desc);
	}
	if (strlen(c->service) > PROTO_MAX_VALUE)
		return problem(c, P_TOO_LARGE, "body", "service",
		    "the service name is too long");
	return 0;
}

int
api_prepare(struct api_call *c, struct proto_field f[PROTO_JOB_FIELDS],
    size_t *nf)
{
	const struct api_request	*req = c->req;

	if (req->body_too_large)
		return body_too_large(c);
	if (c->ep->content_type == NULL && req->body_len > 0)
		return problem(c, P_BAD_REQUEST, "body", "body",
		    "this endpoint takes no body");
	if (c->ep->prepare(c, req->body, req->body_len) != 0)
		return 1;
	if (field_too_large(c))
		return 1;
	/* Optional fields the request left empty are not sent. */
	*nf = 0;
	f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR("service", c->service);
	f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR("assertion",
	    c->assertion);
	if (c->client_state[0] != '\0')
		f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR("client_state",
		    c->client_state);
	if (c->kind != NULL)
		f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR("kind",
		    c->kind);
	if (c->keys_changed_at[0] != '\0')
		f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR(
		    "keys_changed_at", c->keys_changed_at);
	if (c->key_client_state[0] != '\0')
		f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR(
		    "key_client_state", c->key_client_state);
	if (c->key_id_error != NULL)
		f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR(
		    "key_id_error", c->key_id_error);
	if (c->duration[0] != '\0')
		f[(*nf)++] = (struct proto_field)PROTO_FIELD_STR("duration",
		    c->duration);
	return 0;
}

/*
 * An unknown service: the worker names "version" when a service of the
 * same application exists.  GET /1.0 answers as Mozilla does (url,
 * "application" or the version asked for); the others name the service.
 */
static void
unknown_service(struct api_call *c, struct fault *f)
{
	int	version = strcmp(f->name, "version") == 0;

	if (c->ep->style != STYLE_TOKENSERVER) {
		if (version)
			f->name = "service";
		return;
	}
	f->location = "url";
	f->name = version ? c->version : "application";
	f->description = version ? "Unsupported application version" :
	    "Unsupported application";
}

/* The worker's error, in the endpoint's style. */
static void
finish_error(struct api_call *c, const struct proto_msg *m)
{
	static const struct {
		const char	*error;
		enum problem	 p;
	} map[] = {
		{ PROTO_ERR_INVALID_REQUEST, P_BAD_REQUEST },
		{ PROTO_ERR_INVALID_CREDENTIALS, P_BAD_CREDENTIALS },
		{ PROTO_ERR_INVALID_TIMESTAMP, P_BAD_TIMESTAMP },
		{ PROTO_ERR_UNKNOWN_SERVICE, P_UNKNOWN_SERVICE },
		{ PROTO_ERR_INTERNAL, P_INTERNAL },
		{ PROTO_ERR_INVALID_GENERATION, P_INVALID_GENERATION },
		{ PROTO_ERR_INVALID_KEYS_CHANGED_AT,
		    P_INVALID_KEYS_CHANGED_AT },
		{ PROTO_ERR_INVALID_CLIENT_STATE, P_STALE_CLIENT_STATE },
		{ PROTO_ERR_INVALID_KEY_ID, P_INVALID_KEY_ID },
		{ PROTO_ERR_UNAVAILABLE, P_UNAVAILABLE },
		{ PROTO_ERR_NO_NODE, P_NO_NODE },
	};
	char		 error[32], name[32], desc[256];
	struct fault	 f = { "body", name, desc };
	enum problem	 p = P_BAD_GATEWAY;
	size_t		 i;

	if (proto_get_str(m, "error", error, sizeof(error)) == -1)
		error[0] = '\0';
	/* docs/protocol.md: ASCII; anything else is taken as absent. */
	if (proto_get_str(m, "name", name, sizeof(name)) == -1 ||
	    !ascii_text(name))
		snprintf(name, sizeof(name), "assertion");
	if (proto_get_str(m, "description", desc, sizeof(desc)) == -1 ||
	    !ascii_text(desc))
		snprintf(desc, sizeof(desc), "the worker gave no reason");
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(error, map[i].error) == 0)
			p = map[i].p;
	if (p == P_BAD_GATEWAY)
		f.description = "the worker answered with an unknown error";
	if (p == P_INTERNAL && name[0] == '\0')
		p = P_SERVER_ERROR;
	if (p == P_NO_NODE || p == P_SERVER_ERROR)
		f.location = "internal";
	/* Say where the client put what was wrong. */
	if (strcmp(name, "assertion") == 0 && c->from_header) {
		f.location = "header";
		f.name = "Authorization";
	} else if (p == P_UNKNOWN_SERVICE)
		unknown_service(c, &f);
	else if (p == P_INVALID_KEY_ID || strcmp(name, "X-Client-State") == 0)
		f.location = "header";
	answer_problem(c, p, &f);
}

void
api_finish(struct api_call *c, enum job_outcome outcome,
    const struct proto_msg *m)
{
	struct token_reply	 t;
	size_t			 len;

	switch (outcome) {
	case JOB_TIMEOUT:
		problem(c, P_TIMEOUT, "body", "assertion",
		    "no worker answered within request_timeout");
		return;
	case JOB_UNAVAILABLE:
		/* Not the request's fault: no field named, as Mozilla's. */
		problem(c, P_UNAVAILABLE, "body", "",
		    "the server is shutting down or overloaded");
		return;
	case JOB_REPLIED:
		break;
	}
	if (proto_get(m, "error", &len) != NULL) {
		finish_error(c, m);
		return;
	}
	if (reply_fields(m, &t) == -1 ||
	    (c->body = c->ep->format(&t, &c->len)) == NULL) {
		problem(c, P_BAD_GATEWAY, "body", "assertion",
		    "the worker's reply is incomplete");
		return;
	}
	c->status = 200;
	if (c->ep->style == STYLE_TOKENSERVER)
		tokenserver_headers(c);
}

int
api_refuse(struct api_call *c, unsigned status, const char *location,
    const char *name, const char *description)
{
	enum problem	p;

	memset(c, 0, sizeof(*c));
	switch (status) {
	case 413:
		p = P_TOO_LARGE;
		break;
	case 431:
		p = P_HEAD_TOO_LARGE;
		break;
	case 501:
		p = P_NOT_IMPLEMENTED;
		break;
	case 505:
		p = P_VERSION;
		break;
	default:
		p = P_BAD_REQUEST;
		break;
	}
	return problem(c, p, location, name, description);
}

enum api_metric_endpoint
api_metric_endpoint(const struct api_call *c)
{
	const struct api_endpoint	*ep = c->ep;

	if (ep != NULL && ep->match == match_token)
		return API_EP_TOKEN;
	if (ep != NULL && ep->match == match_tokenserver)
		return API_EP_MOZILLA;
	if (ep != NULL && ep->match == match_exchange)
		return API_EP_OAUTH;
	if (ep != NULL && ep->match == match_heartbeat)
		return API_EP_LBHEARTBEAT;
	if (ep != NULL && ep->match == match_health)
		return API_EP_HEARTBEAT;
	if (ep != NULL && ep->match == match_version)
		return API_EP_VERSION;
	return API_EP_OTHER;
}

void
api_call_clear(struct api_call *c)
{
	free(c->service);
	if (c->assertion != NULL)
		OPENSSL_clear_free(c->assertion, strlen(c->assertion) + 1);
	free(c->body);
	c->service = c->assertion = c->body = NULL;
}
