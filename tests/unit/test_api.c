/*
 * test_api.c - every endpoint's request parsing and error mapping
 * (src/http/api.c), without a socket.
 *
 * api.c reads a request only as struct api_request and answers in struct
 * api_call, so each case here fills the request facts as the front would,
 * routes and prepares it, and checks the job's fields, or the answer's
 * status, JSON body and headers.  For a job, a worker's REPLY is built by
 * hand and api_finish() must turn it, or a timeout or an unavailable pool,
 * into the answer in the endpoint's style.  Every expectation comes from
 * docs/api.md, docs/protocol.md and RFC 6749 5.2, not from api.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "http/api.h"

#define MAX_BODY	16384

#define GRANT	"urn:ietf:params:oauth:grant-type:token-exchange"
#define T_JWT	"urn:ietf:params:oauth:token-type:jwt"
#define T_ID	"urn:ietf:params:oauth:token-type:id_token"
#define T_ACCESS "urn:ietf:params:oauth:token-type:access_token"
#define EXCHANGE "grant_type=" GRANT "&subject_token=JWT" \
		 "&subject_token_type=" T_JWT
#define BODY	"{\"assertion\":\"a\",\"service\":\"s\"}"
#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One request as the front would hand it over, and what api.c made of it. */
struct http {
	struct api_request	 req;
	struct api_call		 call;
	size_t			 max_body;
	struct proto_field	 f[PROTO_JOB_FIELDS];
	size_t			 nf;
	char			 clen[24];
	json_t			*json;		/* the answer */
};

/* ---- making requests -------------------------------------------------- */

static void
new_request(struct http *h, const char *method, const char *path,
    const char *content_type, const char *body)
{
	memset(h, 0, sizeof(*h));
	h->max_body = MAX_BODY;
	h->req.method = method;
	h->req.path = path;
	h->req.content_type = content_type;
	if (body != NULL) {
		h->req.body = body;
		h->req.body_len = strlen(body);
		snprintf(h->clen, sizeof(h->clen), "%zu", strlen(body));
		h->req.content_length = h->clen;
	}
}

static void
v1(struct http *h, const char *body)
{
	new_request(h, "POST", "/v1/token", "application/json", body);
}

static void
tokenserver(struct http *h, const char *path, const char *authorization)
{
	new_request(h, "GET", path, NULL, NULL);
	h->req.authorization = authorization;
}

static void
exchange(struct http *h, const char *form)
{
	new_request(h, "POST", "/oauth/token",
	    "application/x-www-form-urlencoded", form);
}

/* The answer api.c decided on: its body into h->json. */
static void
parse_answer(struct http *h)
{
	json_error_t	err;

	assert_non_null(h->call.body);
	h->json = json_loadb(h->call.body, h->call.len, 0, &err);
	if (h->json == NULL)
		fail_msg("answer is not JSON (%s): %.*s", err.text,
		    (int)h->call.len, h->call.body);
}

/*
 * Routes and prepares as front.c does.  Returns 0 with a job in h->f, or 1
 * with the answer's body parsed into h->json.
 */
static int
send_request(struct http *h)
{
	if (api_route(&h->call, &h->req, h->max_body) == 0 &&
	    api_prepare(&h->call, h->f, &h->nf) == 0)
		return 0;
	parse_answer(h);
	return 1;
}

static void
done(struct http *h)
{
	json_decref(h->json);
	api_call_clear(&h->call);
}

/* ---- checking answers ------------------------------------------------- */

static const char *
header(const struct api_call *c, const char *name)
{
	int	i;

	for (i = 0; i < c->nhdr; i++)
		if (strcmp(c->hdr[i].name, name) == 0)
			return c->hdr[i].value;
	return NULL;
}

static const char *
str(json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(v);
}

/*
 * The answer is `status` with {"status": st, "errors": [{"location": loc,
 * "name": name, "description": ...}]} and nothing else; returns the
 * description (valid until done()).
 */
static const char *
error_answer(struct http *h, unsigned status, const char *st,
    const char *loc, const char *name)
{
	json_t	*errors, *e;

	assert_int_equal(h->call.status, status);
	assert_int_equal(json_object_size(h->json), 2);
	assert_string_equal(str(h->json, "status"), st);
	errors = json_object_get(h->json, "errors");
	assert_true(json_is_array(errors));
	assert_int_equal(json_array_size(errors), 1);
	e = json_array_get(errors, 0);
	assert_int_equal(json_object_size(e), 3);
	assert_string_equal(str(e, "location"), loc);
	assert_string_equal(str(e, "name"), name);
	assert_true(strlen(str(e, "description")) > 0);
	return str(e, "description");
}

/* RFC 6749 5.2: {"error": error, "error_description": ...} only. */
static const char *
oauth_answer(struct http *h, unsigned status, const char *error)
{
	assert_int_equal(h->call.status, status);
	assert_int_equal(json_object_size(h->json), 2);
	assert_string_equal(str(h->json, "error"), error);
	assert_true(strlen(str(h->json, "error_description")) > 0);
	return str(h->json, "error_description");
}

/* Sends h and expects the tokend-style error. */
static const char *
refused(struct http *h, unsigned status, const char *st, const char *loc,
    const char *name)
{
	if (send_request(h) != 1)
		fail_msg("%s %s made a job", h->req.method, h->req.path);
	return error_answer(h, status, st, loc, name);
}

static const char *
oauth_refused(struct http *h, unsigned status, const char *error)
{
	if (send_request(h) != 1)
		fail_msg("%s %s made a job", h->req.method, h->req.path);
	return oauth_answer(h, status, error);
}

static const struct proto_field *
field(const struct http *h, const char *key)
{
	size_t	i;

	for (i = 0; i < h->nf; i++)
		if (h->f[i].keylen == strlen(key) &&
		    memcmp(h->f[i].key, key, h->f[i].keylen) == 0)
			return &h->f[i];
	return NULL;
}

static void
assert_field(const struct http *h, const char *key, const char *want)
{
	const struct proto_field	*f = field(h, key);

	if (want == NULL) {
		if (f != NULL)
			fail_msg("job has %s = %.*s", key, (int)f->vallen,
			    (const char *)f->val);
		return;
	}
	if (f == NULL)
		fail_msg("job lacks %s", key);
	assert_int_equal(f->vallen, strlen(want));
	assert_memory_equal(f->val, want, f->vallen);
}

/*
 * Sends h and expects a job of exactly these fields (NULL: absent, as the
 * protocol wants an optional field the request left out).
 */
static void
job(struct http *h, const char *service, const char *assertion,
    const char *client_state, const char *kind)
{
	if (send_request(h) != 0)
		fail_msg("%s %s answered %u: %.*s", h->req.method, h->req.path,
		    h->call.status, (int)h->call.len, h->call.body);
	/* GET /1.0 without X-KeyID: the worker may refuse it (Mozilla's). */
	if (field(h, "key_id_error") != NULL)
		assert_field(h, "key_id_error", "missing");
	assert_int_equal(h->nf, 2 + (client_state != NULL) + (kind != NULL) +
	    (field(h, "key_id_error") != NULL));
	assert_field(h, "service", service);
	assert_field(h, "assertion", assertion);
	assert_field(h, "client_state", client_state);
	assert_field(h, "kind", kind);
}

/* A worker's REPLY: key, value, ..., NULL. */
static void
reply(struct proto_msg *m, ...)
{
	va_list		 ap;
	const char	*k, *v;

	memset(m, 0, sizeof(*m));
	m->cmd = PROTO_REPLY;
	va_start(ap, m);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		assert_true(m->nfields < PROTO_MAX_FIELDS);
		m->f[m->nfields++] = (struct proto_field){ k, strlen(k), v,
		    strlen(v) };
	}
	va_end(ap);
}

#define TOKEN_REPLY(m) reply((m), "job", "12345678", "id", "TOKEN", "key", \
	"KEY", "uid", "42", "api_endpoint", "https://node.example", \
	"duration", "1800", "expires", "1795445543", "hashalg", "sha256", NULL)

/* The job ends as outcome (with reply m): the answer parsed into h->json. */
static void
finish(struct http *h, enum job_outcome outcome, const struct proto_msg *m)
{
	struct proto_msg	empty;

	memset(&empty, 0, sizeof(empty));
	api_finish(&h->call, outcome, m != NULL ? m : &empty);
	parse_answer(h);
}

static void
assert_timestamp_header(const struct api_call *c)
{
	const char	*v = header(c, "X-Timestamp");
	long long	 ts;

	assert_non_null(v);
	ts = atoll(v);
	assert_true(ts > (long long)time(NULL) - 5);
	assert_true(ts <= (long long)time(NULL));
}

/* ---- POST /v1/token: bodies ------------------------------------------- */

static void
test_v1_flat_body_makes_a_job(void **state)
{
	struct http	h;

	v1(&h, "{\"assertion\": \"a.b.c\", \"service\": \"sync-1.5\"}");
	job(&h, "sync-1.5", "a.b.c", NULL, NULL);
	done(&h);
	/* Unknown members are ignored (later clients may send more). */
	v1(&h, "{\"service\":\"s\",\"assertion\":\"x~y\",\"v\":\"2\"}");
	job(&h, "s", "x~y", NULL, NULL);
	done(&h);
	/* A parameter of the media type is allowed, any case. */
	v1(&h, BODY);
	h.req.content_type = "Application/JSON ; charset=utf-8";
	job(&h, "s", "a", NULL, NULL);
	done(&h);
}

/* Bodies outside the fast path's shape go through jansson, same meaning. */
static void
test_v1_jansson_body_makes_a_job(void **state)
{
	struct http	h;

	v1(&h, "{\"assertion\":\"a\\u002eb\",\"service\":\"sync\\/1\"}");
	job(&h, "sync/1", "a.b", NULL, NULL);
	done(&h);
	v1(&h, "{\"assertion\":\"a\",\"service\":\"s\",\"n\":1,"
	    "\"o\":{\"p\":[true,null]}}");
	job(&h, "s", "a", NULL, NULL);
	done(&h);
	v1(&h, "{\"assertion\":\"caf\xc3\xa9\",\"service\":\"s\"}");
	job(&h, "s", "caf\xc3\xa9", NULL, NULL);
	done(&h);
}

static void
test_v1_duplicate_keys_refused_on_both_paths(void **state)
{
	static const char *const bodies[] = {
		/* flat shape */
		"{\"assertion\":\"a\",\"service\":\"s\",\"assertion\":\"b\"}",
		"{\"assertion\":\"a\",\"service\":\"s\",\"service\":\"s\"}",
		/* jansson's: a number, an escape */
		"{\"assertion\":\"a\",\"service\":\"s\",\"n\":1,"
		"\"assertion\":\"b\"}",
		"{\"assertion\":\"a\",\"service\":\"s\","
		"\"serv\\u0069ce\":\"t\"}",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(bodies); i++) {
		v1(&h, bodies[i]);
		assert_non_null(strstr(refused(&h, 400, "invalid-request",
		    "body", "body"), "duplicate"));
		done(&h);
	}
}

static void
test_v1_bodies_that_are_not_objects(void **state)
{
	static const char *const bodies[] = {
		"", "[]", "\"a\"", "null", "{", "{\"assertion\":\"a\",}",
		"{\"assertion\":\"a\"} {}", "{\"a\":\"\\ud800\"}",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(bodies); i++) {
		v1(&h, bodies[i]);
		refused(&h, 400, "invalid-request", "body", "body");
		done(&h);
	}
	/* No body at all. */
	v1(&h, NULL);
	refused(&h, 400, "invalid-request", "body", "body");
	done(&h);
}

static void
test_v1_missing_empty_or_non_string_fields(void **state)
{
	static const struct {
		const char	*body, *name;
	} cases[] = {
		{ "{\"service\":\"s\"}", "assertion" },
		{ "{\"assertion\":\"\",\"service\":\"s\"}", "assertion" },
		{ "{\"assertion\":\"\",\"service\":\"s\",\"n\":1}",
		    "assertion" },
		{ "{\"assertion\":5,\"service\":\"s\"}", "assertion" },
		{ "{\"assertion\":null,\"service\":\"s\"}", "assertion" },
		{ "{\"assertion\":[\"a\"],\"service\":\"s\"}", "assertion" },
		{ "{\"assertion\":\"a\"}", "service" },
		{ "{\"assertion\":\"a\",\"service\":\"\"}", "service" },
		{ "{\"assertion\":\"a\",\"service\":\"\",\"n\":1}", "service" },
		{ "{\"assertion\":\"a\",\"service\":7}", "service" },
		{ "{\"assertion\":\"a\",\"service\":{}}", "service" },
		{ "{}", "assertion" },
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(cases); i++) {
		v1(&h, cases[i].body);
		refused(&h, 400, "invalid-request", "body", cases[i].name);
		done(&h);
	}
}

/* ---- POST /v1/token: headers ------------------------------------------ */

static void
test_v1_authorization_schemes_set_the_kind(void **state)
{
	static const struct {
		const char	*header, *assertion, *kind;
	} cases[] = {
		{ "Bearer a.b.c", "a.b.c", "jwt" },
		{ "bearer a.b.c", "a.b.c", "jwt" },
		{ "Bearer   a.b.c", "a.b.c", "jwt" },
		{ "BrowserID c~a", "c~a", "browserid" },
		{ "BROWSERID c~a", "c~a", "browserid" },
		/* The scheme, not the look of the credential, decides. */
		{ "BrowserID a.b.c", "a.b.c", "browserid" },
		{ "Bearer c~a", "c~a", "jwt" },
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(cases); i++) {
		v1(&h, "{\"service\":\"s\"}");
		h.req.authorization = cases[i].header;
		job(&h, "s", cases[i].assertion, NULL, cases[i].kind);
		done(&h);
	}
}

static void
test_v1_malformed_authorization_is_401(void **state)
{
	static const char *const bad[] = {
		"", "Bearer", "Bearer ", "Bearer  ", "Bearer a b", "Basic YTpi",
		"Bearera.b.c", "Bearer\ta.b.c", "BrowserID", "Token a", "a.b.c",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(bad); i++) {
		v1(&h, "{\"service\":\"s\"}");
		h.req.authorization = bad[i];
		refused(&h, 401, "invalid-credentials", "header",
		    "Authorization");
		done(&h);
	}
}

static void
test_v1_assertion_in_header_and_body_is_400(void **state)
{
	static const char *const bodies[] = {
		BODY,
		"{\"assertion\":\"\",\"service\":\"s\"}",
		"{\"assertion\":null,\"service\":\"s\"}",
		"{\"assertion\":\"a\",\"service\":\"s\",\"n\":1}",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(bodies); i++) {
		v1(&h, bodies[i]);
		h.req.authorization = "Bearer a.b.c";
		refused(&h, 400, "invalid-request", "body", "assertion");
		done(&h);
	}
	/* The service is still required with the header. */
	v1(&h, "{}");
	h.req.authorization = "Bearer a.b.c";
	refused(&h, 400, "invalid-request", "body", "service");
	done(&h);
}

static void
test_v1_client_state(void **state)
{
	static const char *const bad[] = {
		"", "x", "0123456789abcdef0123456789abcdef0", "12 3", " 1",
		"1-2", "0x12", "abcg",
	};
	struct http	h;
	size_t		i;

	v1(&h, BODY);
	h.req.client_state = "0";
	job(&h, "s", "a", "0", NULL);
	done(&h);
	v1(&h, BODY);
	h.req.client_state = "0123456789ABCDEF0123456789abcdef";
	job(&h, "s", "a", "0123456789abcdef0123456789abcdef", NULL);
	done(&h);
	for (i = 0; i < NITEMS(bad); i++) {
		v1(&h, BODY);
		h.req.client_state = bad[i];
		refused(&h, 400, "invalid-client-state", "header",
		    "X-Client-State");
		done(&h);
	}
	/* With Authorization too, both reach the job. */
	v1(&h, "{\"service\":\"s\"}");
	h.req.authorization = "BrowserID c~a";
	h.req.client_state = "AB";
	job(&h, "s", "c~a", "ab", "browserid");
	done(&h);
}

/*
 * A field over PROTO_MAX_VALUE would break the worker's connection: 413,
 * naming the field where the client put it.  Exactly the limit passes.
 */
static void
test_v1_field_over_the_frame_limit_is_413(void **state)
{
	size_t		 n = PROTO_MAX_VALUE + 1;
	char		*big = malloc(n + 1), *body = malloc(n + 64);
	char		*auth = malloc(n + 8);
	struct http	 h;

	assert_non_null(big);
	assert_non_null(body);
	assert_non_null(auth);
	memset(big, 'a', n);
	big[n] = '\0';
	snprintf(body, n + 64, "{\"assertion\":\"%s\",\"service\":\"s\"}",
	    big);
	v1(&h, body);
	h.max_body = n + 64;
	assert_non_null(strstr(refused(&h, 413, "request-too-large", "body",
	    "assertion"), "65536"));
	done(&h);

	snprintf(auth, n + 8, "Bearer %s", big);
	v1(&h, "{\"service\":\"s\"}");
	h.req.authorization = auth;
	refused(&h, 413, "request-too-large", "header", "Authorization");
	done(&h);

	snprintf(body, n + 64, "{\"assertion\":\"a\",\"service\":\"%s\"}",
	    big);
	v1(&h, body);
	h.max_body = n + 64;
	refused(&h, 413, "request-too-large", "body", "service");
	done(&h);

	big[n - 1] = '\0';	/* PROTO_MAX_VALUE: fits */
	snprintf(auth, n + 8, "Bearer %s", big);
	v1(&h, "{\"service\":\"s\"}");
	h.req.authorization = auth;
	job(&h, "s", big, NULL, "jwt");
	done(&h);
	free(big);
	free(body);
	free(auth);
}

/* ---- GET /1.0/APP/VERSION --------------------------------------------- */

static void
test_tokenserver_path_names_the_service(void **state)
{
	char		path[160], want[160];
	struct http	h;

	tokenserver(&h, "/1.0/sync/1.5", "BrowserID c~a");
	job(&h, "sync-1.5", "c~a", NULL, "browserid");
	done(&h);
	tokenserver(&h, "/1.0/Some_App.x/v-2", "Bearer a.b.c");
	h.req.client_state = "ABC";
	job(&h, "Some_App.x-v-2", "a.b.c", "abc", "jwt");
	done(&h);
	/* HEAD is GET without the body. */
	tokenserver(&h, "/1.0/sync/1.5", "Bearer a.b.c");
	h.req.method = "HEAD";
	job(&h, "sync-1.5", "a.b.c", NULL, "jwt");
	done(&h);
	/* Segments of 64 characters are the longest. */
	snprintf(path, sizeof(path), "/1.0/%.64s/%.64s",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "1111111111111111111111111111111111111111111111111111111111111111");
	snprintf(want, sizeof(want), "%.64s-%.64s", path + 5, path + 70);
	tokenserver(&h, path, "Bearer a.b.c");
	job(&h, want, "a.b.c", NULL, "jwt");
	done(&h);
}

static void
test_tokenserver_bad_paths_are_404(void **state)
{
	static const char *const paths[] = {
		"/1.0/sync", "/1.0/sync/", "/1.0/sync/1.5/", "/1.0//1.5",
		"/1.0/sync/1.5/x", "/1.0/sy%6Ec/1.5", "/1.0/sy nc/1.5",
		"/1.0/sync/1.5?", "/1.0/",
		"/1.0/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaa/1",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(paths); i++) {
		tokenserver(&h, paths[i], "Bearer a.b.c");
		refused(&h, 404, "error", "url", "path");
		done(&h);
	}
	/* Not under /1.0/: tokend's own style. */
	tokenserver(&h, "/2.0/sync/1.5", "Bearer a.b.c");
	refused(&h, 404, "not-found", "url", "path");
	done(&h);
}

static void
test_tokenserver_methods_and_headers(void **state)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE",
	    "get", "OPTIONS" };
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(methods); i++) {
		tokenserver(&h, "/1.0/sync/1.5", "Bearer a.b.c");
		h.req.method = methods[i];
		refused(&h, 405, "error", "url", "method");
		assert_string_equal(header(&h.call, "Allow"), "GET");
		done(&h);
	}
	/* Mozilla's bodies: test_authorization.py's exact answers. */
	tokenserver(&h, "/1.0/sync/1.5", NULL);
	assert_string_equal(refused(&h, 401, "error", "body", ""),
	    "Unauthorized");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Basic YTpi");
	assert_string_equal(refused(&h, 401, "error", "body", ""),
	    "Unsupported");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Unsupported-Auth-Scheme IHACKYOU");
	assert_string_equal(refused(&h, 401, "error", "body", ""),
	    "Unsupported");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Bearer");
	assert_string_equal(refused(&h, 401, "error", "body", ""),
	    "Unauthorized");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Bearer ");
	assert_string_equal(refused(&h, 401, "invalid-credentials", "body",
	    ""), "Unauthorized");
	done(&h);
	/* All that follows the scheme is the credential, spaces too. */
	tokenserver(&h, "/1.0/sync/1.5", "Bearer {\"a\": 1, \"b\": 2}");
	job(&h, "sync-1.5", "{\"a\": 1, \"b\": 2}", NULL, "jwt");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Bearer a.b.c");
	h.req.client_state = "nothex";
	assert_string_equal(refused(&h, 400, "error", "header",
	    "X-Client-State"), "Invalid client state value");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Bearer a.b.c");
	h.req.client_state = "";
	refused(&h, 400, "error", "header", "X-Client-State");
	done(&h);
	tokenserver(&h, "/1.0/sync/1.5", "Bearer a.b.c");
	h.req.client_state = "state!";
	refused(&h, 400, "error", "header", "X-Client-State");
	assert_non_null(header(&h.call, "X-Timestamp"));
	assert_string_equal(header(&h.call, "X-Content-Type-Options"),
	    "nosniff");
	done(&h);
	/* It takes no body, and no Content-Type is asked for. */
	new_request(&h, "GET", "/1.0/sync/1.5", "application/json", "{}");
	h.req.authorization = "Bearer a.b.c";
	refused(&h, 400, "error", "body", "body");
	done(&h);
}


/* ---- GET /1.0: X-KeyID, X-Client-State, ?duration= (Mozilla's) --------- */

/* A GET /1.0 request with X-KeyID (NULL: none) and X-Client-State. */
static void
keyid_request(struct http *h, const char *key_id, const char *xcs)
{
	tokenserver(h, "/1.0/sync/1.5", "Bearer a.b.c");
	h->req.key_id = key_id;
	h->req.client_state = xcs;
}

/*
 * The job's key id fields: keys_changed_at and key_client_state (NULL:
 * absent), or key_id_error.
 */
static void
keyid_job(const char *key_id, const char *xcs, const char *kca,
    const char *cs, const char *error)
{
	struct http	h;

	keyid_request(&h, key_id, xcs);
	if (send_request(&h) != 0)
		fail_msg("X-KeyID %s answered %u: %.*s", key_id,
		    h.call.status, (int)h.call.len, h.call.body);
	assert_field(&h, "keys_changed_at", kca);
	assert_field(&h, "key_client_state", cs);
	assert_field(&h, "key_id_error", error);
	done(&h);
}

static void
test_tokenserver_key_id_forms(void **state)
{
	/* FxA's form: zero-padded milliseconds, client state in b64url. */
	keyid_job("0000000001234-qqo", NULL, "1234", "aaaa", NULL);
	keyid_job("1234-u7s", "bbbb", "1234", "bbbb", NULL);
	/* 16 bytes, the most a client state holds. */
	keyid_job("1-AAECAwQFBgcICQoLDA0ODw", NULL, "1",
	    "000102030405060708090a0b0c0d0e0f", NULL);
	/* An empty client state; 0 travels (the worker takes it as absent). */
	keyid_job("0-", NULL, "0", NULL, NULL);
	keyid_job("+7-qqo", NULL, "7", "aaaa", NULL);
	/* int64 kept exactly, to its last value. */
	keyid_job("9223372036854775807-qqo", NULL, "9223372036854775807",
	    "aaaa", NULL);
	keyid_job("00009223372036854775807-qqo", NULL, "9223372036854775807",
	    "aaaa", NULL);
	/* Refused, for the worker to say after the credential. */
	keyid_job(NULL, NULL, NULL, NULL, "missing");
	keyid_job("1234-q\x01qo", NULL, NULL, NULL, "invalid");
	keyid_job("1234-q\xc3\xa9", NULL, NULL, NULL, "invalid");
	keyid_job("1234", NULL, NULL, NULL, "malformed");
	keyid_job("", NULL, NULL, NULL, "malformed");
	/* Above int64: an error, never a wrap. */
	keyid_job("9223372036854775808-qqo", NULL, NULL, NULL, "malformed");
	keyid_job("18446744073709551617-qqo", NULL, NULL, NULL, "malformed");
	keyid_job("-1234-qqo", NULL, NULL, NULL, "malformed");
	keyid_job("12a4-qqo", NULL, NULL, NULL, "malformed");
	keyid_job("+-qqo", NULL, NULL, NULL, "malformed");
	keyid_job(" 1234-qqo", NULL, NULL, NULL, "malformed");
	/* base64url without padding, canonical, no other alphabet. */
	keyid_job("1234-state!", NULL, NULL, NULL, "malformed");
	keyid_job("1234-qqo=", NULL, NULL, NULL, "malformed");
	keyid_job("1234-qqp", NULL, NULL, NULL, "malformed");
	keyid_job("1234-q", NULL, NULL, NULL, "malformed");
	keyid_job("1234-u7s+", NULL, NULL, NULL, "malformed");
	keyid_job("1234-u/s", NULL, NULL, NULL, "malformed");
	/* 17 bytes fit no client state column. */
	keyid_job("1-AAECAwQFBgcICQoLDA0ODxA", NULL, NULL, NULL, "malformed");
	/* X-Client-State must say the same (case counts, as Mozilla's). */
	keyid_job("1234-qqo", "bbbb", NULL, NULL, "mismatch");
	keyid_job("1234-qqo", "AAAA", NULL, NULL, "mismatch");
	keyid_job("1234-qqo", "aa.a", NULL, NULL, "mismatch");
	keyid_job("1234-", "aaaa", NULL, NULL, "mismatch");
}

static void
test_tokenserver_client_state_with_key_id(void **state)
{
	struct http	h;

	/* X-Client-State of the wrong form is 400 at once, as Mozilla's. */
	keyid_request(&h, "1234-qqo", "state!");
	assert_string_equal(refused(&h, 400, "error", "header",
	    "X-Client-State"), "Invalid client state value");
	done(&h);
	keyid_request(&h, "1234-qqo", "a" "0123456789abcdef0123456789abcdef");
	refused(&h, 400, "error", "header", "X-Client-State");
	done(&h);
	/* Equal: the token's client_state is the header's, lowercased. */
	keyid_request(&h, "1234-qqo", "aaaa");
	assert_int_equal(send_request(&h), 0);
	assert_field(&h, "client_state", "aaaa");
	assert_field(&h, "key_client_state", "aaaa");
	done(&h);
}

/* The job's duration field for ?duration=v (count of them: n). */
static void
duration_job(const char *v, int n, const char *want)
{
	struct http	h;

	keyid_request(&h, "1-qqo", NULL);
	h.req.duration = v;
	h.req.duration_count = n;
	assert_int_equal(send_request(&h), 0);
	assert_field(&h, "duration", want);
	done(&h);
}

static void
test_tokenserver_duration(void **state)
{
	struct http	h;

	duration_job("12", 1, "12");
	duration_job("+12", 1, "12");
	duration_job("0003600", 1, "3600");
	duration_job("9223372036854775807", 1, "9223372036854775807");
	/* Nonsense is ignored, as Mozilla ignores it (the default stands). */
	duration_job(NULL, 0, NULL);
	duration_job("lolwut", 1, NULL);
	duration_job("-1", 1, NULL);
	duration_job("", 1, NULL);
	duration_job("0", 1, NULL);
	duration_job("12s", 1, NULL);
	duration_job(" 12", 1, NULL);
	duration_job("1.5", 1, NULL);
	duration_job("9223372036854775808", 1, NULL);
	/* Given twice: Mozilla's 400. */
	keyid_request(&h, "1-qqo", NULL);
	h.req.duration = "12";
	h.req.duration_count = 2;
	assert_string_equal(refused(&h, 400, "error", "url", ""),
	    "invalid query params");
	done(&h);
}

/* ---- POST /oauth/token ------------------------------------------------ */

static void
test_exchange_makes_a_jwt_job(void **state)
{
	struct http	h;

	exchange(&h, EXCHANGE "&audience=sync-1.5");
	job(&h, "sync-1.5", "JWT", NULL, "jwt");
	done(&h);
	exchange(&h, "grant_type=" GRANT "&subject_token=JWT"
	    "&subject_token_type=" T_ID "&resource=sync-1.5"
	    "&requested_token_type=" T_ACCESS);
	job(&h, "sync-1.5", "JWT", NULL, "jwt");
	done(&h);
	/* Both target parameters, agreeing; unknown parameters ignored. */
	exchange(&h, EXCHANGE "&audience=s&resource=s&scope=x&flag&x=");
	job(&h, "s", "JWT", NULL, "jwt");
	done(&h);
	/* Form encoding, in names and values: '+' is a space. */
	exchange(&h, "grant%5Ftype=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type"
	    "%3Atoken-exchange&subject_token=a%2eb+c&subject_token_type="
	    T_JWT "&audience=my+app");
	job(&h, "my app", "a.b c", NULL, "jwt");
	done(&h);
	/* A "~" in the token does not make it a BrowserID assertion. */
	exchange(&h, "grant_type=" GRANT "&subject_token=c~a"
	    "&subject_token_type=" T_JWT "&audience=s");
	job(&h, "s", "c~a", NULL, "jwt");
	done(&h);
}

static void
test_exchange_invalid_request(void **state)
{
	static const struct {
		const char	*form;
	} cases[] = {
		{ "subject_token=JWT&subject_token_type=" T_JWT "&audience=s" },
		{ "grant_type=" GRANT "&subject_token_type=" T_JWT
		    "&audience=s" },
		{ "grant_type=" GRANT "&subject_token=JWT&audience=s" },
		{ "grant_type=" GRANT "&subject_token=JWT"
		    "&subject_token_type=" T_ACCESS "&audience=s" },
		{ EXCHANGE "&audience=s&audience=s" },
		{ EXCHANGE "&subject_token=JWT&audience=s" },
		{ EXCHANGE "&audience=" },
		{ EXCHANGE "&audience" },
		{ EXCHANGE "&audience=%zz" },
		{ EXCHANGE "&audience=a%0" },
		{ EXCHANGE "&audience=a%00b" },
		{ EXCHANGE "&audience=s&%zz=1" },
		{ EXCHANGE "&audience=s&requested_token_type=" T_JWT },
		{ EXCHANGE "&audience=s&actor_token=JWT2" },
		{ EXCHANGE "&audience=s&actor_token_type=" T_JWT },
		{ EXCHANGE },
		{ EXCHANGE "&audience=a&resource=b" },
		{ "" },
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(cases); i++) {
		exchange(&h, cases[i].form);
		oauth_refused(&h, 400, "invalid_request");
		done(&h);
	}
	/* A NUL byte in the body. */
	exchange(&h, EXCHANGE "&audience=s");
	h.req.body_len = strlen(h.req.body) + 1;
	oauth_refused(&h, 400, "invalid_request");
	done(&h);
}

/* Each refusal names the parameter at fault in its description. */
static void
test_exchange_errors_name_the_parameter(void **state)
{
	static const struct {
		const char	*form, *name;
	} cases[] = {
		{ "subject_token=JWT&subject_token_type=" T_JWT "&audience=s",
		    "grant_type" },
		{ "grant_type=" GRANT "&subject_token_type=" T_JWT
		    "&audience=s", "subject_token" },
		{ "grant_type=" GRANT "&subject_token=JWT&audience=s",
		    "subject_token_type" },
		{ EXCHANGE "&audience=s&audience=s", "audience" },
		{ EXCHANGE "&audience=s&actor_token=JWT2", "actor_token" },
		{ EXCHANGE "&audience=s&actor_token_type=x", "actor_token" },
		{ EXCHANGE, "audience" },
		{ EXCHANGE "&audience=a&resource=b", "resource" },
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(cases); i++) {
		exchange(&h, cases[i].form);
		if (strstr(oauth_refused(&h, 400, "invalid_request"),
		    cases[i].name) == NULL)
			fail_msg("%s: description does not name %s",
			    cases[i].form, cases[i].name);
		done(&h);
	}
}

static void
test_exchange_other_grants_and_headers(void **state)
{
	static const char *const states[] = { "abc", "" };
	struct http	h;
	size_t		i;

	exchange(&h, "grant_type=client_credentials&subject_token=JWT"
	    "&subject_token_type=" T_JWT "&audience=s");
	oauth_refused(&h, 400, "unsupported_grant_type");
	done(&h);
	/* X-Client-State is refused, even valid, even empty. */
	for (i = 0; i < NITEMS(states); i++) {
		exchange(&h, EXCHANGE "&audience=s");
		h.req.client_state = states[i];
		assert_non_null(strstr(oauth_refused(&h, 400,
		    "invalid_request"), "X-Client-State"));
		done(&h);
	}
	/* Its credential is the form's, not an Authorization header. */
	exchange(&h, EXCHANGE "&audience=s");
	h.req.authorization = "BrowserID c~a";
	job(&h, "s", "JWT", NULL, "jwt");
	done(&h);
	exchange(&h, EXCHANGE "&audience=s");
	h.req.method = "GET";
	oauth_refused(&h, 405, "invalid_request");
	assert_string_equal(header(&h.call, "Allow"), "POST");
	done(&h);
	exchange(&h, EXCHANGE "&audience=s");
	h.req.content_type = "application/json";
	oauth_refused(&h, 415, "invalid_request");
	done(&h);
	exchange(&h, EXCHANGE "&audience=s");
	h.req.content_length = "16385";
	oauth_refused(&h, 413, "invalid_request");
	done(&h);
}

/* ---- heartbeat, 404, 405, 413, 415 ------------------------------------ */

static void
test_heartbeat(void **state)
{
	struct http	h;

	new_request(&h, "GET", "/__lbheartbeat__", NULL, NULL);
	assert_int_equal(send_request(&h), 1);
	assert_int_equal(h.call.status, 200);
	assert_true(json_is_object(h.json));
	assert_int_equal(json_object_size(h.json), 0);
	assert_int_equal(h.call.nhdr, 0);
	done(&h);
	new_request(&h, "HEAD", "/__lbheartbeat__", NULL, NULL);
	assert_int_equal(send_request(&h), 1);
	assert_int_equal(h.call.status, 200);
	done(&h);
	new_request(&h, "POST", "/__lbheartbeat__", NULL, NULL);
	refused(&h, 405, "method-not-allowed", "url", "method");
	assert_string_equal(header(&h.call, "Allow"), "GET");
	done(&h);
}

static void
test_unknown_paths_are_404(void **state)
{
	static const char *const paths[] = {
		"/", "", "/v1/token/", "/v1/tokens", "/V1/token", "/v1//token",
		"/v1%2Ftoken", "/v1/%74oken", "/oauth/token/", "/__lbheartbeat",
		"/1.0", "/1.0sync/1.5",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(paths); i++) {
		v1(&h, BODY);
		h.req.path = paths[i];
		refused(&h, 404, "not-found", "url", "path");
		done(&h);
	}
}

static void
test_v1_method_type_and_size(void **state)
{
	static const char *const methods[] = { "GET", "HEAD", "PUT", "post" };
	static const char *const types[] = {
		NULL, "", "text/plain", "application/jsonx",
		"application/x-www-form-urlencoded", "application/json-seq",
		"json",
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(methods); i++) {
		v1(&h, BODY);
		h.req.method = methods[i];
		refused(&h, 405, "method-not-allowed", "url", "method");
		assert_string_equal(header(&h.call, "Allow"), "POST");
		done(&h);
	}
	for (i = 0; i < NITEMS(types); i++) {
		v1(&h, BODY);
		h.req.content_type = types[i];
		refused(&h, 415, "unsupported-media-type", "header",
		    "Content-Type");
		done(&h);
	}
	/* By Content-Length, before a byte of the body is read. */
	v1(&h, BODY);
	h.req.content_length = "16385";
	assert_int_equal(api_route(&h.call, &h.req, h.max_body), 1);
	parse_answer(&h);
	assert_non_null(strstr(error_answer(&h, 413, "request-too-large",
	    "body", "body"), "16384"));
	done(&h);
	v1(&h, BODY);
	h.req.content_length = "99999999999999999999999";
	refused(&h, 413, "request-too-large", "body", "body");
	done(&h);
	/* Exactly max_body is allowed. */
	v1(&h, BODY);
	h.req.content_length = "16384";
	job(&h, "s", "a", NULL, NULL);
	done(&h);
	/* Or when the body passed max_body as it came (chunked). */
	v1(&h, NULL);
	h.req.body_too_large = 1;
	refused(&h, 413, "request-too-large", "body", "body");
	done(&h);
}

/* ---- api_finish: the worker's answer in each style -------------------- */

enum ep { EP_V1, EP_TS, EP_OAUTH, NEP };

/* A job made by each endpoint, the assertion from a header or not. */
static void
made_job(struct http *h, enum ep ep, int from_header)
{
	switch (ep) {
	case EP_V1:
		v1(h, from_header ? "{\"service\":\"s\"}" :
		    "{\"assertion\":\"a\",\"service\":\"s\"}");
		h->req.authorization = from_header ? "Bearer a" : NULL;
		break;
	case EP_TS:
		tokenserver(h, "/1.0/sync/1.5", "Bearer a");
		break;
	case EP_OAUTH:
		exchange(h, EXCHANGE "&audience=s");
		break;
	default:
		fail();
	}
	assert_int_equal(send_request(h), 0);
}

static void
test_finish_token_in_each_style(void **state)
{
	struct proto_msg	 m;
	struct http		 h;

	TOKEN_REPLY(&m);
	made_job(&h, EP_V1, 0);
	finish(&h, JOB_REPLIED, &m);
	assert_int_equal(h.call.status, 200);
	assert_int_equal(json_object_size(h.json), 7);
	assert_string_equal(str(h.json, "id"), "TOKEN");
	assert_string_equal(str(h.json, "key"), "KEY");
	assert_int_equal(json_integer_value(json_object_get(h.json, "uid")),
	    42);
	assert_string_equal(str(h.json, "api_endpoint"),
	    "https://node.example");
	assert_int_equal(json_integer_value(json_object_get(h.json,
	    "duration")), 1800);
	assert_string_equal(str(h.json, "hashalg"), "sha256");
	assert_int_equal(json_integer_value(json_object_get(h.json,
	    "expires")), 1795445543);
	assert_int_equal(h.call.nhdr, 0);
	done(&h);

	made_job(&h, EP_TS, 1);
	finish(&h, JOB_REPLIED, &m);
	assert_int_equal(h.call.status, 200);
	assert_int_equal(json_object_size(h.json), 6);
	assert_null(json_object_get(h.json, "expires"));
	assert_string_equal(str(h.json, "id"), "TOKEN");
	assert_int_equal(json_integer_value(json_object_get(h.json, "uid")),
	    42);
	done(&h);

	made_job(&h, EP_OAUTH, 0);
	finish(&h, JOB_REPLIED, &m);
	assert_int_equal(h.call.status, 200);
	assert_int_equal(json_object_size(h.json), 8);
	assert_string_equal(str(h.json, "access_token"), "TOKEN");
	assert_string_equal(str(h.json, "issued_token_type"), T_ACCESS);
	assert_string_equal(str(h.json, "token_type"), "Hawk");
	assert_int_equal(json_integer_value(json_object_get(h.json,
	    "expires_in")), 1800);
	assert_string_equal(str(h.json, "key"), "KEY");
	assert_string_equal(str(h.json, "hashalg"), "sha256");
	assert_string_equal(str(h.json, "api_endpoint"),
	    "https://node.example");
	assert_int_equal(json_integer_value(json_object_get(h.json, "uid")),
	    42);
	done(&h);
}

/*
 * docs/api.md and docs/protocol.md: each worker error, per style.  The
 * worker names the field at fault; the answer says where the client put it.
 */
static const struct {
	const char	*error;
	unsigned	 status;
	const char	*v1, *ts;	/* "status" */
	unsigned	 oauth_status;
	const char	*oauth;		/* "error" */
	int		 timestamp;	/* X-Timestamp */
} worker_errors[] = {
	{ "invalid-request", 400, "invalid-request", "error", 400,
	    "invalid_request", 0 },
	{ "invalid-credentials", 401, "invalid-credentials",
	    "invalid-credentials", 400, "invalid_grant", 0 },
	{ "invalid-timestamp", 401, "invalid-credentials",
	    "invalid-timestamp", 400, "invalid_grant", 1 },
	{ "unknown-service", 404, "not-found", "error", 400,
	    "invalid_target", 0 },
	{ "error", 500, "error", "error", 500, "server_error", 0 },
	{ "no-such-error", 502, "error", "error", 502, "server_error", 0 },
	{ "", 502, "error", "error", 502, "server_error", 0 },
};

/* Mozilla's answer: its eight fields, in its order, and its headers. */
static void
test_finish_tokenserver_mozilla_fields(void **state)
{
	static const char *const order[] = { "id", "key", "uid",
	    "api_endpoint", "duration", "hashed_fxa_uid", "hashalg",
	    "node_type" };
	struct proto_msg	 m;
	struct http		 h;
	const char		*p;
	size_t			 i;

	reply(&m, "job", "12345678", "id", "TOKEN", "key", "KEY", "uid", "7",
	    "api_endpoint", "https://n.example/1.5/7", "duration", "12",
	    "expires", "1795445543", "hashalg", "sha256", "hashed_fxa_uid",
	    "0123456789abcdef0123456789abcdef", "node_type", "spanner", NULL);
	made_job(&h, EP_TS, 1);
	finish(&h, JOB_REPLIED, &m);
	assert_int_equal(h.call.status, 200);
	assert_int_equal(json_object_size(h.json), 8);
	for (i = 0, p = h.call.body; i < NITEMS(order); i++) {
		char	key[32];

		snprintf(key, sizeof(key), "\"%s\":", order[i]);
		if ((p = strstr(p, key)) == NULL)
			fail_msg("%s missing or out of order: %s", order[i],
			    h.call.body);
	}
	assert_int_equal(json_integer_value(json_object_get(h.json, "uid")),
	    7);
	assert_string_equal(str(h.json, "node_type"), "spanner");
	assert_non_null(header(&h.call, "X-Timestamp"));
	assert_string_equal(header(&h.call, "X-Content-Type-Options"),
	    "nosniff");
	done(&h);
	/* tokend's own answer never carries them. */
	made_job(&h, EP_V1, 0);
	finish(&h, JOB_REPLIED, &m);
	assert_null(json_object_get(h.json, "node_type"));
	assert_null(header(&h.call, "X-Content-Type-Options"));
	done(&h);
}

/* A nodes = database service's refusals, with Mozilla's bodies. */
static void
test_finish_tokenserver_database_errors(void **state)
{
	static const struct {
		const char	*error, *name, *desc;
		unsigned	 status;
		const char	*st, *loc, *want_name;
	} e[] = {
		{ "invalid-generation", "", "Unauthorized", 401,
		    "invalid-generation", "body", "" },
		{ "invalid-keysChangedAt", "", "Unauthorized", 401,
		    "invalid-keysChangedAt", "body", "" },
		{ "invalid-client-state", "X-Client-State", "Unacceptable "
		    "client-state value stale value", 401,
		    "invalid-client-state", "header", "X-Client-State" },
		{ "invalid-client-state", "", "Unauthorized", 401,
		    "invalid-client-state", "body", "" },
		{ "invalid-key-id", "", "Missing X-KeyID header", 401,
		    "invalid-key-id", "header", "" },
		{ "invalid-credentials", "", "Unauthorized", 401,
		    "invalid-credentials", "body", "" },
		{ "unavailable", "", "Resource is not available", 503,
		    "error", "body", "" },
		/* Mozilla's internal error, its 503 when no node has room. */
		{ "no-node", "", "Server error", 503, "internal-error",
		    "internal", "" },
		{ "error", "", "Server error", 500, "internal-error",
		    "internal", "" },
		{ "unknown-service", "version", "unknown service", 404,
		    "error", "url", "1.5" },
		{ "unknown-service", "service", "unknown service", 404,
		    "error", "url", "application" },
	};
	struct proto_msg	 m;
	struct http		 h;
	const char		*desc;
	size_t			 i;

	for (i = 0; i < NITEMS(e); i++) {
		reply(&m, "job", "12345678", "error", e[i].error, "name",
		    e[i].name, "description", e[i].desc, NULL);
		made_job(&h, EP_TS, 1);
		finish(&h, JOB_REPLIED, &m);
		desc = error_answer(&h, e[i].status, e[i].st, e[i].loc,
		    e[i].want_name);
		if (strcmp(e[i].error, "unknown-service") != 0)
			assert_string_equal(desc, e[i].desc);
		else
			assert_string_equal(desc, strcmp(e[i].name,
			    "version") == 0 ? "Unsupported application version" :
			    "Unsupported application");
		if (e[i].status == 503)
			assert_string_equal(header(&h.call, "Retry-After"),
			    "1");
		assert_string_equal(header(&h.call, "X-Content-Type-Options"),
		    "nosniff");
		done(&h);
	}
	/* /v1/token names the service, whatever the worker says. */
	reply(&m, "job", "12345678", "error", "unknown-service", "name",
	    "version", "description", "unknown service", NULL);
	made_job(&h, EP_V1, 0);
	finish(&h, JOB_REPLIED, &m);
	error_answer(&h, 404, "not-found", "body", "service");
	done(&h);
}

static void
test_finish_worker_errors_in_each_style(void **state)
{
	struct proto_msg	 m;
	struct http		 h;
	const char		*desc;
	size_t			 i;

	for (i = 0; i < NITEMS(worker_errors);
	    i++) {
		reply(&m, "job", "12345678", "error", worker_errors[i].error,
		    "name", "assertion", "description", "signature mismatch",
		    NULL);
		made_job(&h, EP_V1, 0);
		finish(&h, JOB_REPLIED, &m);
		desc = error_answer(&h, worker_errors[i].status,
		    worker_errors[i].v1, "body", "assertion");
		if (worker_errors[i].status == 502)
			assert_non_null(strstr(desc, "unknown error"));
		else
			assert_string_equal(desc, "signature mismatch");
		if (worker_errors[i].timestamp)
			assert_timestamp_header(&h.call);
		else
			assert_null(header(&h.call, "X-Timestamp"));
		done(&h);

		made_job(&h, EP_TS, 1);
		finish(&h, JOB_REPLIED, &m);
		error_answer(&h, worker_errors[i].status, worker_errors[i].ts,
		    "header", "Authorization");
		if (worker_errors[i].timestamp)
			assert_timestamp_header(&h.call);
		done(&h);

		made_job(&h, EP_OAUTH, 0);
		finish(&h, JOB_REPLIED, &m);
		desc = oauth_answer(&h, worker_errors[i].oauth_status,
		    worker_errors[i].oauth);
		if (worker_errors[i].status != 502)
			assert_string_equal(desc, "signature mismatch");
		if (worker_errors[i].timestamp)
			assert_timestamp_header(&h.call);
		done(&h);
	}
}

static void
test_finish_says_where_the_field_was(void **state)
{
	struct proto_msg	 m;
	struct http		 h;

	/* The assertion came in Authorization. */
	reply(&m, "job", "12345678", "error", "invalid-credentials", "name",
	    "assertion", "description", "expired", NULL);
	made_job(&h, EP_V1, 1);
	finish(&h, JOB_REPLIED, &m);
	error_answer(&h, 401, "invalid-credentials", "header",
	    "Authorization");
	done(&h);
	/* The tokenserver's service is its path's application. */
	reply(&m, "job", "12345678", "error", "unknown-service", "name",
	    "service", "description", "no such service", NULL);
	made_job(&h, EP_TS, 1);
	finish(&h, JOB_REPLIED, &m);
	error_answer(&h, 404, "error", "url", "application");
	done(&h);
	made_job(&h, EP_V1, 0);
	finish(&h, JOB_REPLIED, &m);
	error_answer(&h, 404, "not-found", "body", "service");
	done(&h);
	/* A worker that says nothing more than the error. */
	reply(&m, "job", "12345678", "error", "invalid-credentials", NULL);
	made_job(&h, EP_V1, 0);
	finish(&h, JOB_REPLIED, &m);
	assert_non_null(strstr(error_answer(&h, 401, "invalid-credentials",
	    "body", "assertion"), "no reason"));
	done(&h);
}

static void
test_finish_timeout_and_unavailable(void **state)
{
	struct http	h;
	enum ep		ep;

	for (ep = 0; ep < NEP; ep++) {
		made_job(&h, ep, 0);
		finish(&h, JOB_TIMEOUT, NULL);
		if (ep == EP_OAUTH)
			oauth_answer(&h, 504, "temporarily_unavailable");
		else
			error_answer(&h, 504, ep == EP_V1 ? "timeout" : "error",
			    "body", "assertion");
		assert_null(header(&h.call, "Retry-After"));
		done(&h);

		made_job(&h, ep, 0);
		finish(&h, JOB_UNAVAILABLE, NULL);
		if (ep == EP_OAUTH)
			oauth_answer(&h, 503, "temporarily_unavailable");
		else
			/* No request field is at fault (Mozilla's style). */
			error_answer(&h, 503, ep == EP_V1 ? "unavailable" :
			    "error", "body", "");
		assert_string_equal(header(&h.call, "Retry-After"), "1");
		done(&h);
	}
}

/* A REPLY without every token field, or with a field not a number: 502. */
static void
test_finish_incomplete_reply_is_502(void **state)
{
	static const char *const keys[] = { "id", "key", "uid",
	    "api_endpoint", "duration", "expires", "hashalg" };
	struct proto_msg	 m;
	struct http		 h;
	size_t			 i, j, k;
	enum ep			 ep;

	for (i = 0; i < NITEMS(keys); i++) {
		TOKEN_REPLY(&m);
		for (j = k = 0; j < m.nfields; j++)	/* drop keys[i] */
			if (strcmp(m.f[j].key, keys[i]) != 0)
				m.f[k++] = m.f[j];
		m.nfields = k;
		for (ep = 0; ep < NEP; ep++) {
			made_job(&h, ep, 0);
			finish(&h, JOB_REPLIED, &m);
			if (ep == EP_OAUTH)
				oauth_answer(&h, 502, "server_error");
			else
				assert_non_null(strstr(error_answer(&h, 502,
				    "error", "body", "assertion"),
				    "incomplete"));
			done(&h);
		}
	}
	reply(&m, "id", "T", "key", "K", "uid", "4x2", "api_endpoint", "u",
	    "duration", "1800", "expires", "1", "hashalg", "sha256", NULL);
	made_job(&h, EP_V1, 0);
	finish(&h, JOB_REPLIED, &m);
	error_answer(&h, 502, "error", "body", "assertion");
	done(&h);
	reply(&m, "id", "T", "key", "K", "uid", "42", "api_endpoint", "u",
	    "duration", "", "expires", "1", "hashalg", "sha256", NULL);
	made_job(&h, EP_TS, 1);
	finish(&h, JOB_REPLIED, &m);
	error_answer(&h, 502, "error", "body", "assertion");
	done(&h);
}

/* ---- api_refuse: the HTTP guard's refusals ---------------------------- */

static void
test_refuse_in_tokend_style(void **state)
{
	static const struct {
		unsigned	 status;
		const char	*st;
	} cases[] = {
		{ 400, "invalid-request" }, { 413, "request-too-large" },
		{ 431, "request-too-large" }, { 501, "not-implemented" },
		{ 505, "http-version-not-supported" },
	};
	struct http	h;
	size_t		i;

	for (i = 0; i < NITEMS(cases); i++) {
		memset(&h, 0, sizeof(h));
		assert_int_equal(api_refuse(&h.call, cases[i].status,
		    "header", "Content-Length", "sent twice"), 1);
		parse_answer(&h);
		assert_string_equal(error_answer(&h, cases[i].status,
		    cases[i].st, "header", "Content-Length"), "sent twice");
		done(&h);
	}
}

/* ---- hash flooding: members bounded before jansson ------------------- */

/*
 * The most members a JSON body may hold in all (api.c; docs/security.md,
 * "Hash flooding").
 */
#define BODY_MAX_MEMBERS	64

/*
 * A /v1/token body of n members in all, each key distinct: assertion and
 * service, then "mI":I, with the object o (k members) at the end when o
 * is not NULL.  free() it.
 */
static char *
body_of_members(int n, const char *o, int k)
{
	char	*s;
	size_t	 len;
	int	 i;

	assert_non_null(s = malloc(64 + 24 * (size_t)n + (o ? strlen(o) : 0)));
	len = (size_t)sprintf(s, "{\"assertion\":\"a\",\"service\":\"s\"");
	for (i = 2; i < n - (o != NULL ? k + 1 : 0); i++)
		len += (size_t)sprintf(s + len, ",\"m%d\":%d", i, i);
	if (o != NULL)
		len += (size_t)sprintf(s + len, ",\"o\":%s", o);
	strcpy(s + len, "}");
	return s;
}

/*
 * Hash flooding: no body makes the front build a hash table of the
 * client's size.  64 members pass, 65 are refused with a 400 naming the
 * body, counted in all (nested objects too) before jansson reads it.
 */
static void
test_v1_members_capped_before_parsing(void **state)
{
	static const char	*o = "{\"x\":1,\"y\":{\"z\":[2]}}";
	struct http		 h;
	char			*b;

	v1(&h, b = body_of_members(BODY_MAX_MEMBERS, NULL, 0));
	job(&h, "s", "a", NULL, NULL);
	done(&h);
	free(b);
	v1(&h, b = body_of_members(BODY_MAX_MEMBERS + 1, NULL, 0));
	assert_non_null(strstr(refused(&h, 400, "invalid-request", "body",
	    "body"), "more than 64 members"));
	done(&h);
	free(b);
	/* A nested object's members count as much as the top level's. */
	v1(&h, b = body_of_members(BODY_MAX_MEMBERS, o, 3));
	job(&h, "s", "a", NULL, NULL);
	done(&h);
	free(b);
	v1(&h, b = body_of_members(BODY_MAX_MEMBERS + 1, o, 3));
	refused(&h, 400, "invalid-request", "body", "body");
	done(&h);
	free(b);
	/* 10,000 members are refused as such, however large max_body. */
	v1(&h, b = body_of_members(10000, NULL, 0));
	h.max_body = 1 << 20;
	assert_non_null(strstr(refused(&h, 400, "invalid-request", "body",
	    "body"), "more than 64 members"));
	done(&h);
	free(b);
}

/* Colons inside strings, after an escaped quote too, are no members. */
static void
test_v1_colons_in_strings_are_no_members(void **state)
{
	struct http	 h;
	char		 body[512], colons[2 * BODY_MAX_MEMBERS + 1];

	memset(colons, ':', sizeof(colons) - 1);
	colons[sizeof(colons) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"assertion\":\"a\\\"%s\","
	    "\"service\":\"s\",\"%s\":1}", colons, colons);
	v1(&h, body);
	assert_int_equal(send_request(&h), 0);
	assert_field(&h, "service", "s");
	assert_non_null(field(&h, "assertion"));
	assert_int_equal(field(&h, "assertion")->vallen, 2 + strlen(colons));
	done(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_flat_body_makes_a_job),
		cmocka_unit_test(test_v1_jansson_body_makes_a_job),
		cmocka_unit_test(test_v1_duplicate_keys_refused_on_both_paths),
		cmocka_unit_test(test_v1_bodies_that_are_not_objects),
		cmocka_unit_test(test_v1_missing_empty_or_non_string_fields),
		cmocka_unit_test(test_v1_authorization_schemes_set_the_kind),
		cmocka_unit_test(test_v1_malformed_authorization_is_401),
		cmocka_unit_test(test_v1_assertion_in_header_and_body_is_400),
		cmocka_unit_test(test_v1_client_state),
		cmocka_unit_test(test_v1_field_over_the_frame_limit_is_413),
		cmocka_unit_test(test_tokenserver_path_names_the_service),
		cmocka_unit_test(test_tokenserver_bad_paths_are_404),
		cmocka_unit_test(test_tokenserver_methods_and_headers),
		cmocka_unit_test(test_exchange_makes_a_jwt_job),
		cmocka_unit_test(test_exchange_invalid_request),
		cmocka_unit_test(test_exchange_errors_name_the_parameter),
		cmocka_unit_test(test_exchange_other_grants_and_headers),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_unknown_paths_are_404),
		cmocka_unit_test(test_v1_method_type_and_size),
		cmocka_unit_test(test_finish_token_in_each_style),
		cmocka_unit_test(test_tokenserver_key_id_forms),
		cmocka_unit_test(test_tokenserver_client_state_with_key_id),
		cmocka_unit_test(test_tokenserver_duration),
		cmocka_unit_test(test_finish_tokenserver_mozilla_fields),
		cmocka_unit_test(test_finish_tokenserver_database_errors),
		cmocka_unit_test(test_finish_worker_errors_in_each_style),
		cmocka_unit_test(test_finish_says_where_the_field_was),
		cmocka_unit_test(test_finish_timeout_and_unavailable),
		cmocka_unit_test(test_finish_incomplete_reply_is_502),
		cmocka_unit_test(test_refuse_in_tokend_style),
		cmocka_unit_test(test_v1_members_capped_before_parsing),
		cmocka_unit_test(test_v1_colons_in_strings_are_no_members),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
