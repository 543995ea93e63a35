/*
 * fuzz_api.c - libFuzzer harness of the HTTP API (src/http/api.c), each
 * endpoint driven without a socket, as front.c drives it: api_route on
 * the request's facts, api_prepare once the body is in, and api_finish
 * with how the job ended, a worker's REPLY among them.
 *
 * Everything in struct api_request comes from a client (method, raw path,
 * four headers, the body), and the REPLY from a worker that may be of
 * another language, or wrong.  Whatever they hold, the harness checks
 * what api.h and docs/api.md promise:
 *
 *   - every answer has a status from 200 to 599 and a body that jansson
 *     reads as a JSON object; an error answer is one in the endpoint's
 *     style ({"status", "errors": [{location, name, description}]}, or
 *     RFC 6749's {"error", "error_description"});
 *   - a job holds "service" and "assertion", non-empty, an optional
 *     "client_state" of 1 to 32 lowercase hex digits and an optional
 *     "kind" of "jwt" or "browserid", each key once and no value over
 *     PROTO_MAX_VALUE (a larger one would break the worker's connection);
 *     GET /1.0's X-KeyID fields as docs/protocol.md says: either
 *     "keys_changed_at" (a decimal int64) with an optional
 *     "key_client_state" (lowercase hex), or a "key_id_error" of its four
 *     values, never both; "duration" a positive decimal int64;
 *   - a REPLY with an "error" never becomes a 200, and a 200 carries the
 *     worker's "key" as it sent it;
 *   - no crash and no leak (libFuzzer's leak check runs after each input).
 *
 * Input: a byte of settings, then the request's parts separated by 0xff
 * bytes: method, path, Content-Type, Content-Length, Authorization,
 * X-Client-State, the REPLY, and last the body (which may hold 0xff).
 * Settings, bit by bit: 0-1 the outcome (REPLIED twice as likely as
 * TIMEOUT or UNAVAILABLE); 2 max_body, the configured floor (256) or its
 * ceiling (PROTO_MAX_VALUE + 4096, config.c's REQUEST_MAX); 3-6 whether
 * each of the four headers was sent at all (an absent header differs from
 * an empty one); 7 whether the X-Client-State part is also sent as
 * X-KeyID (so that both of GET /1.0's key id readers meet any bytes).  The REPLY's fields are "key=value" records separated
 * by 0xfe bytes.  In any part, a 0xfd byte and a count N stand for 65520
 * + N 'A's, so that short inputs reach the limits around PROTO_MAX_VALUE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/api.h"

#include "../fuzz.h"

#define MAX_BODY_FLOOR	256
#define MAX_BODY_CEIL	(PROTO_MAX_VALUE + 4096)
#define RUN_BYTE	0xfd
#define RUN_BASE	65520
#define FIELD_SEP	0xfe
#define PART_SEP	0xff

enum part { METHOD, PATH, CTYPE, CLEN, AUTH, STATE, REPLY, BODY, NPARTS };

/* One request and the REPLY, each part NUL-terminated, all owned. */
struct input {
	char		*part[NPARTS];
	size_t		 len[NPARTS];
	unsigned	 settings;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Seeded once, so that no input depends on an earlier one. */
	json_object_seed(1);
	return 0;
}

/* p[0..len) with its runs expanded, NUL-terminated, into *out; owned. */
static size_t
expand(const uint8_t *p, size_t len, char **out)
{
	size_t	i, n = 0;
	char	*s;

	for (i = 0; i < len; i++)
		n += p[i] == RUN_BYTE && i + 1 < len ? RUN_BASE + p[++i] : 1;
	if ((s = malloc(n + 1)) == NULL)
		abort();
	for (i = 0, n = 0; i < len; i++) {
		if (p[i] == RUN_BYTE && i + 1 < len) {
			memset(s + n, 'A', RUN_BASE + p[i + 1]);
			n += RUN_BASE + p[++i];
		} else
			s[n++] = (char)p[i];
	}
	s[n] = '\0';
	*out = s;
	return n;
}

static void
read_input(struct input *in, const uint8_t *data, size_t size)
{
	const uint8_t	*p = data + 1, *end = data + size, *sep;
	int		 i;

	in->settings = data[0];
	for (i = 0; i < NPARTS; i++) {
		sep = i < BODY ? memchr(p, PART_SEP, (size_t)(end - p)) : NULL;
		if (sep == NULL)
			sep = end;
		in->len[i] = expand(p, (size_t)(sep - p), &in->part[i]);
		p = sep < end ? sep + 1 : end;
	}
}

static void
free_input(struct input *in)
{
	int	i;

	for (i = 0; i < NPARTS; i++)
		free(in->part[i]);
}

/* The request's facts, as front.c's read_request() and submit() give. */
static void
make_request(struct api_request *req, const struct input *in,
    size_t max_body)
{
	const char	**hdr[] = { &req->content_type, &req->content_length,
			    &req->authorization, &req->client_state };
	int		  i;

	memset(req, 0, sizeof(*req));
	req->method = in->part[METHOD];
	req->path = in->part[PATH];
	for (i = 0; i < 4; i++)
		*hdr[i] = in->settings & (8u << i) ? in->part[CTYPE + i] : NULL;
	if (in->settings & 128)
		req->key_id = in->part[STATE];
	/* front.c keeps at most max_body bytes, and says when there were more. */
	if (in->len[BODY] > 0)
		req->body = in->part[BODY];
	req->body_len = in->len[BODY];
	if (req->body_len > max_body) {
		req->body_len = max_body;
		req->body_too_large = 1;
	}
}

/*
 * The worker's REPLY as the protocol's decoder hands it over: no more
 * fields than a message holds, keys of 1 to 255 bytes, values within
 * PROTO_MAX_VALUE (a record that breaks these is not one).
 */
static void
make_reply(struct proto_msg *m, const struct input *in)
{
	const char	*p = in->part[REPLY], *end = p + in->len[REPLY];
	const char	*sep, *eq;

	memset(m, 0, sizeof(*m));
	m->version = PROTO_VERSION;
	m->cmd = PROTO_REPLY;
	while (p < end && m->nfields < PROTO_MAX_FIELDS) {
		if ((sep = memchr(p, FIELD_SEP, (size_t)(end - p))) == NULL)
			sep = end;
		eq = memchr(p, '=', (size_t)(sep - p));
		if (eq != NULL && eq > p && eq - p <= PROTO_MAX_KEY &&
		    sep - eq - 1 <= PROTO_MAX_VALUE)
			m->f[m->nfields++] = (struct proto_field){ p,
			    (size_t)(eq - p), eq + 1, (size_t)(sep - eq - 1) };
		p = sep + 1;
	}
}

/* A non-empty JSON string member of obj, or NULL. */
static const char *
string_member(json_t *obj, const char *name)
{
	json_t	*v = json_object_get(obj, name);

	return json_is_string(v) && json_string_length(v) > 0 ?
	    json_string_value(v) : NULL;
}

/* An error answer in one of the two styles. */
static void
check_error_body(json_t *obj)
{
	json_t	*errors, *e;

	if (json_object_get(obj, "error") != NULL) {
		FUZZ_CHECK(string_member(obj, "error") != NULL);
		FUZZ_CHECK(json_is_string(json_object_get(obj,
		    "error_description")));
		return;
	}
	FUZZ_CHECK(string_member(obj, "status") != NULL);
	errors = json_object_get(obj, "errors");
	FUZZ_CHECK(json_is_array(errors) && json_array_size(errors) == 1);
	e = json_array_get(errors, 0);
	FUZZ_CHECK(string_member(e, "location") != NULL);
	/* A worker's own, as it sent them, may be empty. */
	FUZZ_CHECK(json_is_string(json_object_get(e, "name")));
	FUZZ_CHECK(json_is_string(json_object_get(e, "description")));
}

/*
 * Dockerflow's __heartbeat__ failing (the harness gives the front no
 * facts, so it always fails): its own shape, not an error body.
 */
static void
check_health_body(json_t *obj)
{
	json_t	*checks = json_object_get(obj, "checks");
	json_t	*details = json_object_get(obj, "details");

	FUZZ_CHECK(json_is_string(json_object_get(obj, "status")) &&
	    strcmp(string_member(obj, "status"), "error") == 0);
	FUZZ_CHECK(json_is_object(checks) && json_object_size(checks) > 0);
	FUZZ_CHECK(json_is_object(details) && json_object_size(details) > 0);
}

/* The answer call holds; returns its body as JSON (the caller frees). */
static json_t *
check_answer(const struct api_call *c)
{
	json_t	*obj;
	int	 i;

	FUZZ_CHECK(c->status >= 200 && c->status <= 599);
	FUZZ_CHECK(c->body != NULL && memchr(c->body, '\0', c->len) == NULL);
	/* A worker's value may hold a NUL: "\u0000" is JSON all the same. */
	obj = json_loadb(c->body, c->len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, NULL);
	FUZZ_CHECK(json_is_object(obj));
	if (c->status == 503 && strcmp(c->req->path, API_HEARTBEAT_PATH) == 0)
		check_health_body(obj);
	else if (c->status != 200)
		check_error_body(obj);
	FUZZ_CHECK(c->nhdr >= 0 && c->nhdr <= API_MAX_HEADERS);
	for (i = 0; i < c->nhdr; i++)
		FUZZ_CHECK(c->hdr[i].name != NULL && memchr(c->hdr[i].value,
		    '\0', sizeof(c->hdr[i].value)) != NULL);
	return obj;
}

/* Whether the field is key, by length and bytes. */
static int
is_key(const struct proto_field *f, const char *key)
{
	return f->keylen == strlen(key) && memcmp(f->key, key, f->keylen) == 0;
}

static int
lower_hex(const char *s, size_t len)
{
	return len >= 1 && len <= API_CLIENT_STATE_MAX &&
	    strspn(s, "0123456789abcdef") == len;
}

/* A decimal int64 as the worker reads it: 1-19 digits, at most 2^63-1. */
static int
decimal_i64(const char *s, size_t len)
{
	return len >= 1 && len <= 19 && strspn(s, "0123456789") == len &&
	    (len < 19 || strcmp(s, "9223372036854775807") <= 0);
}

/* The job api_prepare made: the fields docs/protocol.md names, bounded. */
static void
check_job(const struct proto_field *f, size_t nf)
{
	static const char *const keys[] = {
		"service", "assertion", "client_state", "kind",
		"keys_changed_at", "key_client_state", "key_id_error",
		"duration",
	};
	int	seen[8] = { 0 };
	size_t	i, k;

	FUZZ_CHECK(nf >= 2 && nf <= PROTO_JOB_FIELDS);
	for (i = 0; i < nf; i++) {
		for (k = 0; k < 8 && !is_key(&f[i], keys[k]); k++)
			;
		FUZZ_CHECK(k < 8 && !seen[k]++);
		FUZZ_CHECK(f[i].vallen <= PROTO_MAX_VALUE);
		FUZZ_CHECK(f[i].vallen > 0 &&
		    strlen(f[i].val) == f[i].vallen);
		if (k == 2)
			FUZZ_CHECK(lower_hex(f[i].val, f[i].vallen));
		if (k == 3)
			FUZZ_CHECK(strcmp(f[i].val, "jwt") == 0 ||
			    strcmp(f[i].val, "browserid") == 0);
		if (k == 4)
			FUZZ_CHECK(decimal_i64(f[i].val, f[i].vallen));
		if (k == 5)
			FUZZ_CHECK(lower_hex(f[i].val, f[i].vallen));
		if (k == 6)
			FUZZ_CHECK(strcmp(f[i].val, "missing") == 0 ||
			    strcmp(f[i].val, "invalid") == 0 ||
			    strcmp(f[i].val, "malformed") == 0 ||
			    strcmp(f[i].val, "mismatch") == 0);
		if (k == 7)
			FUZZ_CHECK(decimal_i64(f[i].val, f[i].vallen) &&
			    strspn(f[i].val, "0") < f[i].vallen);
	}
	FUZZ_CHECK(seen[0] && seen[1]);
	/* A key id is read or refused, never both; its state needs it. */
	FUZZ_CHECK(!(seen[6] && (seen[4] || seen[5])));
	FUZZ_CHECK(!seen[5] || seen[4]);
}

/* How the job ended, and the answer it gets. */
static void
finish(struct api_call *c, const struct input *in)
{
	static const enum job_outcome outcomes[] = {
		JOB_REPLIED, JOB_REPLIED, JOB_TIMEOUT, JOB_UNAVAILABLE,
	};
	enum job_outcome	 outcome = outcomes[in->settings & 3];
	struct proto_msg	 m;
	const void		*key;
	size_t			 keylen, len;
	json_t			*obj, *v;

	make_reply(&m, in);
	api_finish(c, outcome, &m);
	obj = check_answer(c);
	if (outcome != JOB_REPLIED || proto_get(&m, "error", &len) != NULL)
		FUZZ_CHECK(c->status != 200);
	if (c->status == 200) {
		key = proto_get(&m, "key", &keylen);
		v = json_object_get(obj, "key");
		FUZZ_CHECK(key != NULL && json_is_string(v));
		FUZZ_CHECK(json_string_length(v) == keylen &&
		    memcmp(json_string_value(v), key, keylen) == 0);
	}
	json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input		 in;
	struct api_request	 req;
	struct api_call		 call;
	struct proto_field	 f[PROTO_JOB_FIELDS];
	size_t			 nf, max_body;
	int			 rc;

	if (size == 0)
		return 0;
	read_input(&in, data, size);
	max_body = in.settings & 4 ? MAX_BODY_CEIL : MAX_BODY_FLOOR;
	make_request(&req, &in, max_body);
	rc = api_route(&call, &req, max_body);
	FUZZ_CHECK(rc == 0 || rc == 1);
	if (rc == 0)
		rc = api_prepare(&call, f, &nf);
	FUZZ_CHECK(rc == 0 || rc == 1);
	if (rc == 1)
		json_decref(check_answer(&call));
	else {
		check_job(f, nf);
		finish(&call, &in);
	}
	api_call_clear(&call);
	free_input(&in);
	return 0;
}
