/*
 * test_fxa.c - the Firefox Accounts OAuth verifier (src/identity/fxa.c).
 *
 * The answer of FxA's /v1/verify decides whose token it is, so its
 * reading is checked rule by rule: each field's type, bounds and
 * spelling, and which failures are the client's (401: FXA_INVALID) and
 * which the verifier's (503: FXA_UNAVAILABLE).  Then the routing of a
 * Bearer token, and the remote call itself against sockets of the test's
 * own on 127.0.0.1: the request's exact bytes, a refused port, a verifier
 * that accepts and never answers (bounded by the issuer's timeout), one
 * that answers too much.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/clock.h"
#include "identity/fxa.h"
#include "identity/issuer.h"
#include "identity/jws.h"

#define SCOPE	"https://identity.mozilla.com/apps/oldsync"

/* The answer body, status 200, read for SCOPE. */
static enum fxa_status
parse(long status, const char *body, struct fxa_identity *id,
    const char **why)
{
	*why = NULL;
	return fxa_parse_answer(status, body, strlen(body), SCOPE, id, why);
}

/* Asserts body (status 200) gets st with a why holding fragment. */
#define assert_answer(status, body, st, fragment) \
	check_answer(status, body, st, fragment, __FILE__, __LINE__)

static void
check_answer(long status, const char *body, enum fxa_status st,
    const char *fragment, const char *file, int line)
{
	struct fxa_identity	 id;
	const char		*why;
	enum fxa_status		 got = parse(status, body, &id, &why);

	if (got != st || why == NULL || strstr(why, fragment) == NULL) {
		print_error("%ld %s: status %d (want %d), why \"%s\" (want "
		    "\"%s\")\n", status, body, got, st, why ? why : "(null)",
		    fragment);
		_fail(file, line);
	}
	if (got != FXA_OK && (id.user[0] != '\0' || id.generation != 0))
		fail_msg("%s: a refusal left an identity", body);
}

static void
test_valid_answer(void **state)
{
	struct fxa_identity	 id;
	const char		*why;

	assert_int_equal(parse(200, "{\"user\":\"0123456789abcdef0123456789"
	    "abcdef\",\"scope\":[\"profile\",\"" SCOPE "\"],\"generation\":"
	    "1234,\"client_id\":\"5882386c6d801776\"}", &id, &why), FXA_OK);
	assert_string_equal(id.user, "0123456789abcdef0123456789abcdef");
	assert_int_equal(id.generation, 1234);
	assert_int_equal(id.local, 0);
	/* Mozilla's test tokens: user "test", generation null. */
	assert_int_equal(parse(200, "{\"user\":\"test\",\"generation\":null,"
	    "\"client_id\":\"fake client id\",\"scope\":[\"" SCOPE "\"]}",
	    &id, &why), FXA_OK);
	assert_string_equal(id.user, "test");
	assert_int_equal(id.generation, 0);
	/* Absent, and 0: both "no generation". */
	assert_int_equal(parse(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE
	    "\"]}", &id, &why), FXA_OK);
	assert_int_equal(id.generation, 0);
	assert_int_equal(parse(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE
	    "\"],\"generation\":0}", &id, &why), FXA_OK);
	assert_int_equal(id.generation, 0);
	/* int64 kept exactly, to the last one. */
	assert_int_equal(parse(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE
	    "\"],\"generation\":9223372036854775807}", &id, &why), FXA_OK);
	assert_true(id.generation == INT64_MAX);
	/* Any 2xx is an answer. */
	assert_int_equal(parse(201, "{\"user\":\"u\",\"scope\":[\"" SCOPE
	    "\"]}", &id, &why), FXA_OK);
}

static void
test_user_rules(void **state)
{
	char	body[256], user[80];

	assert_answer(200, "{\"scope\":[\"" SCOPE "\"]}", FXA_INVALID,
	    "no valid user");
	assert_answer(200, "{\"user\":null,\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":42,\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":[\"u\"],\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":\"\",\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	/* What would change the email or the key it becomes. */
	assert_answer(200, "{\"user\":\"a@evil.example\",\"scope\":[\""
	    SCOPE "\"]}", FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":\"a/b\",\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":\"a b\",\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":\"a.b\",\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	/* NUL in a string: jansson refuses the text. */
	assert_answer(200, "{\"user\":\"a\\u0000b\",\"scope\":[\"" SCOPE
	    "\"]}", FXA_UNAVAILABLE, "not a JSON object");
	assert_answer(200, "{\"user\":\"caf\\u00e9\",\"scope\":[\"" SCOPE
	    "\"]}", FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":\"a\\nb\",\"scope\":[\"" SCOPE "\"]}",
	    FXA_INVALID, "no valid user");
	/* FXA_USER_MAX exactly, and one more. */
	memset(user, 'a', FXA_USER_MAX);
	user[FXA_USER_MAX] = '\0';
	snprintf(body, sizeof(body), "{\"user\":\"%s\",\"scope\":[\"" SCOPE
	    "\"]}", user);
	assert_answer(200, body, FXA_OK, "ok");
	snprintf(body, sizeof(body), "{\"user\":\"%sb\",\"scope\":[\"" SCOPE
	    "\"]}", user);
	assert_answer(200, body, FXA_INVALID, "no valid user");
	assert_answer(200, "{\"user\":\"A-z_09\",\"scope\":[\"" SCOPE "\"]}",
	    FXA_OK, "ok");
}

static void
test_user_ok(void **state)
{
	assert_true(fxa_user_ok("0123456789abcdef0123456789abcdef", 32));
	assert_true(fxa_user_ok("test", 4));
	assert_false(fxa_user_ok("", 0));
	assert_false(fxa_user_ok("te st", 5));
	assert_false(fxa_user_ok("a\0b", 3));
	assert_false(fxa_user_ok("a%40b", 5));
	assert_false(fxa_user_ok("..", 2));
}

static void
test_scope_rules(void **state)
{
	assert_answer(200, "{\"user\":\"u\"}", FXA_INVALID,
	    "no list of scopes");
	/* verify_url answers an array: a string is not one. */
	assert_answer(200, "{\"user\":\"u\",\"scope\":\"" SCOPE "\"}",
	    FXA_INVALID, "no list of scopes");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\",7]}",
	    FXA_INVALID, "no list of scopes");
	assert_answer(200, "{\"user\":\"u\",\"scope\":null}", FXA_INVALID,
	    "no list of scopes");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[]}", FXA_INVALID,
	    "required scope");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"profile\"]}",
	    FXA_INVALID, "required scope");
	/* Exactly the scope: no prefix, suffix, case or list in one. */
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "/x\"]}",
	    FXA_INVALID, "required scope");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"https://identity."
	    "mozilla.com/apps/\"]}", FXA_INVALID, "required scope");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"HTTPS://identity."
	    "mozilla.com/apps/oldsync\"]}", FXA_INVALID, "required scope");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"profile " SCOPE
	    "\"]}", FXA_INVALID, "required scope");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\\u0000"
	    "\"]}", FXA_UNAVAILABLE, "not a JSON object");
}

static void
test_generation_rules(void **state)
{
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"],"
	    "\"generation\":-1}", FXA_INVALID, "invalid generation");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"],"
	    "\"generation\":\"1234\"}", FXA_INVALID, "invalid generation");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"],"
	    "\"generation\":1234.0}", FXA_INVALID, "invalid generation");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"],"
	    "\"generation\":true}", FXA_INVALID, "invalid generation");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"],"
	    "\"generation\":[1]}", FXA_INVALID, "invalid generation");
	/* Beyond int64: no number jansson keeps; the answer is broken. */
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"],"
	    "\"generation\":9223372036854775808}", FXA_UNAVAILABLE,
	    "not a JSON object");
}

static void
test_status_rules(void **state)
{
	static const char good[] = "{\"user\":\"u\",\"scope\":[\"" SCOPE
	    "\"]}";
	static const long refused[] = { 400, 401, 403, 410, 422, 499 };
	static const long outage[] = { 0, 100, 204 + 100, 302, 404, 405, 408,
	    429, 500, 502, 503, 504, 599 };
	size_t	i;

	/* A refusal whatever the body says (Mozilla's rule). */
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_answer(refused[i], good, FXA_INVALID, "refused");
	for (i = 0; i < sizeof(outage) / sizeof(outage[0]); i++)
		assert_answer(outage[i], good, FXA_UNAVAILABLE,
		    "cannot answer now");
}

static void
test_not_an_answer(void **state)
{
	assert_answer(200, "", FXA_UNAVAILABLE, "not a JSON object");
	assert_answer(200, "<html>502</html>", FXA_UNAVAILABLE,
	    "not a JSON object");
	assert_answer(200, "[\"u\"]", FXA_UNAVAILABLE, "not a JSON object");
	assert_answer(200, "\"u\"", FXA_UNAVAILABLE, "not a JSON object");
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"]",
	    FXA_UNAVAILABLE, "not a JSON object");
	/* Two users: which one is meant is not ours to guess. */
	assert_answer(200, "{\"user\":\"a\",\"user\":\"b\",\"scope\":[\""
	    SCOPE "\"]}", FXA_UNAVAILABLE, "not a JSON object");
	/* Trailing bytes after the object. */
	assert_answer(200, "{\"user\":\"u\",\"scope\":[\"" SCOPE "\"]} x",
	    FXA_UNAVAILABLE, "not a JSON object");
}

/* Issuers: a jwt one, the fxa-oauth one, as config.c leaves them. */
static struct issuer	issuers[2];

static void
set_issuers(const char *verify_url, int timeout_ms)
{
	memset(issuers, 0, sizeof(issuers));
	issuers[0].name = "idp";
	issuers[0].type = ISSUER_JWT;
	issuers[0].iss = "https://idp.example.com";
	issuers[1].name = "fxa";
	issuers[1].type = ISSUER_FXA_OAUTH;
	issuers[1].iss = "https://accounts.firefox.com";
	issuers[1].verify_url = (char *)verify_url;
	issuers[1].scope = SCOPE;
	issuers[1].email_domain = "api.accounts.firefox.com";
	issuers[1].timeout_ms = timeout_ms;
}

/* base64url of {"alg":"RS256"} and of {"iss":ISS}. */
#define HDR	"eyJhbGciOiJSUzI1NiJ9"
#define P_FXA	"eyJpc3MiOiJodHRwczovL2FjY291bnRzLmZpcmVmb3guY29tIn0"
#define P_IDP	"eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSJ9"
#define P_NONE	"eyJzdWIiOiJ4In0"	/* {"sub":"x"} */

static const struct issuer *
route(const char *tok, size_t n)
{
	return fxa_route(issuers, n, tok, strlen(tok));
}

static void
test_route(void **state)
{
	set_issuers("http://127.0.0.1:1/v1/verify", 1000);
	/* Opaque tokens, Mozilla's JSON test tokens: the fxa issuer. */
	assert_ptr_equal(route("0123456789abcdef0123456789abcdef", 2),
	    &issuers[1]);
	assert_ptr_equal(route("{\"body\": {\"user\": \"test\"}, \"status\": "
	    "200}", 2), &issuers[1]);
	/* A JWS goes by its iss. */
	assert_ptr_equal(route(HDR "." P_FXA ".c2ln", 2), &issuers[1]);
	assert_null(route(HDR "." P_IDP ".c2ln", 2));
	assert_null(route(HDR "." P_NONE ".c2ln", 2));
	/* Not of a JWS's shape: an opaque token, FxA's to judge. */
	assert_ptr_equal(route(HDR ".!!!.c2ln", 2), &issuers[1]);
	assert_ptr_equal(route(HDR ".." "c2ln", 2), &issuers[1]);
	/* Of its shape but no JWS: the JWT verifiers say why. */
	assert_null(route(HDR ".e30x.c2ln", 2));
	/* The JWT verifiers never take an fxa-oauth issuer's tokens (they
	 * must hold its scope): its iss is unknown to them. */
	{
		struct jwt_identity	id;
		const char		*fx = HDR "." P_FXA ".c2ln";
		const char		*idp = HDR "." P_IDP ".c2ln";

		assert_int_equal(jwt_verify(issuers, 2, fx, strlen(fx), 0,
		    &id), JOSE_ERR_ISS_UNKNOWN);
		assert_int_not_equal(jwt_verify(issuers, 2, idp, strlen(idp),
		    0, &id), JOSE_ERR_ISS_UNKNOWN);
		assert_ptr_equal(id.issuer, &issuers[0]);
	}
	/* No fxa-oauth issuer: nothing is routed. */
	assert_null(route("0123456789abcdef", 1));
	assert_null(route(HDR "." P_FXA ".c2ln", 1));
}

/* ---- the remote call against a socket of our own ------------------------ */

/* One HTTP exchange: the request read whole, then answer sent (or not). */
struct server {
	int		 fd;
	uint16_t	 port;
	const char	*answer;	/* NULL: accept, read, never answer */
	size_t		 answer_len;
	char		 request[4096];
	size_t		 request_len;
	pthread_t	 thread;
	int		 hold_ms;	/* with answer NULL: keep it this long */
};

static void
listen_on(struct server *s)
{
	struct sockaddr_in	 a = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 4), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
}

/* Reads a request head and its Content-Length body into s->request. */
static void
read_request(struct server *s, int c)
{
	char	*end, *cl;
	ssize_t	 n;
	size_t	 want = 0;

	while (s->request_len < sizeof(s->request) - 1) {
		n = read(c, s->request + s->request_len,
		    sizeof(s->request) - 1 - s->request_len);
		if (n <= 0)
			break;
		s->request_len += (size_t)n;
		s->request[s->request_len] = '\0';
		if ((end = strstr(s->request, "\r\n\r\n")) == NULL)
			continue;
		if (want == 0 && (cl = strcasestr(s->request,
		    "content-length:")) != NULL)
			want = (size_t)(end + 4 - s->request) +
			    strtoul(cl + 15, NULL, 10);
		if (s->request_len >= want)
			break;
	}
}

static void *
serve(void *arg)
{
	struct server	*s = arg;
	int		 c;

	if ((c = accept(s->fd, NULL, NULL)) == -1)
		return NULL;
	read_request(s, c);
	if (s->answer != NULL)
		(void)!write(c, s->answer, s->answer_len);
	else
		usleep((useconds_t)s->hold_ms * 1000);
	close(c);
	return NULL;
}

static void
start_server(struct server *s, const char *answer, size_t len)
{
	memset(s, 0, sizeof(*s));
	listen_on(s);
	s->answer = answer;
	s->answer_len = len;
	s->hold_ms = 3000;
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void
stop_server(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static char	url[64];

static const char *
url_of(uint16_t port)
{
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/verify", port);
	return url;
}

#define ANSWER(body) \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"Content-Length: " #body "\r\nConnection: close\r\n\r\n"

#define ERROR_500 \
	"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n" \
	"Connection: close\r\n\r\n{}"

static void
test_remote_answer_and_request(void **state)
{
	static const char body[] = "{\"user\":\"abc\",\"scope\":[\"" SCOPE
	    "\"],\"generation\":77}";
	char			 answer[512];
	struct server		 s;
	struct fxa_identity	 id;
	const char		*why, *tok = "tok\"en\\";

	snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close"
	    "\r\n\r\n%s", strlen(body), body);
	start_server(&s, answer, strlen(answer));
	set_issuers(url_of(s.port), 2000);
	assert_int_equal(fxa_start(issuers, 2), 0);
	assert_int_equal(fxa_verify(&issuers[1], tok, strlen(tok), 0, &id,
	    &why), FXA_OK);
	stop_server(&s);
	assert_string_equal(id.user, "abc");
	assert_int_equal(id.generation, 77);
	/* A JSON POST to the path, the token escaped, nothing else. */
	assert_true(strncmp(s.request, "POST /v1/verify HTTP/1.1\r\n", 26) ==
	    0);
	assert_non_null(strcasestr(s.request,
	    "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(s.request,
	    "\r\n\r\n{\"token\":\"tok\\\"en\\\\\"}"));
	fxa_stop();
}

static void
test_remote_outages(void **state)
{
	struct server		 s;
	struct fxa_identity	 id;
	const char		*why;
	static char		 huge[FXA_ANSWER_MAX + 512];
	uint64_t		 t0;
	int			 n;

	/* Refused: a port that was ours and is closed. */
	start_server(&s, "", 0);
	set_issuers(url_of(s.port), 500);
	shutdown(s.fd, SHUT_RDWR);
	stop_server(&s);
	assert_int_equal(fxa_start(issuers, 2), 0);
	t0 = mono_ms();
	assert_int_equal(fxa_verify(&issuers[1], "t", 1, 0, &id, &why),
	    FXA_UNAVAILABLE);
	assert_non_null(strstr(why, "cannot be reached"));
	assert_true(mono_ms() - t0 < 500);

	/* Accepts, reads, never answers: the timeout bounds it. */
	start_server(&s, NULL, 0);
	set_issuers(url_of(s.port), 300);
	t0 = mono_ms();
	assert_int_equal(fxa_verify(&issuers[1], "t", 1, 0, &id, &why),
	    FXA_UNAVAILABLE);
	assert_non_null(strstr(why, "in time"));
	assert_true(mono_ms() - t0 >= 300 - 5);
	assert_true(mono_ms() - t0 < 300 + 400);
	stop_server(&s);

	/* An answer over FXA_ANSWER_MAX, without a Content-Length. */
	n = snprintf(huge, sizeof(huge), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nConnection: close\r\n\r\n{\"user\":\"u\","
	    "\"pad\":\"");
	memset(huge + n, 'x', sizeof(huge) - (size_t)n);
	start_server(&s, huge, sizeof(huge));
	set_issuers(url_of(s.port), 2000);
	assert_int_equal(fxa_verify(&issuers[1], "t", 1, 0, &id, &why),
	    FXA_UNAVAILABLE);
	assert_non_null(strstr(why, "too large"));
	stop_server(&s);

	/* A token that is no UTF-8, or empty: refused, never sent. */
	set_issuers("http://127.0.0.1:1/v1/verify", 2000);
	assert_int_equal(fxa_verify(&issuers[1], "\xff\xfe", 2, 0, &id, &why),
	    FXA_INVALID);
	assert_non_null(strstr(why, "UTF-8"));
	assert_int_equal(fxa_verify(&issuers[1], "", 0, 0, &id, &why),
	    FXA_INVALID);

	/* 500, and a 200 that is no JSON object: the verifier's failure. */
	start_server(&s, ERROR_500, sizeof(ERROR_500) - 1);
	set_issuers(url_of(s.port), 2000);
	assert_int_equal(fxa_verify(&issuers[1], "t", 1, 0, &id, &why),
	    FXA_UNAVAILABLE);
	assert_non_null(strstr(why, "cannot answer now"));
	stop_server(&s);
	start_server(&s, ANSWER(5) "<html", sizeof(ANSWER(5) "<html") - 1);
	set_issuers(url_of(s.port), 2000);
	assert_int_equal(fxa_verify(&issuers[1], "t", 1, 0, &id, &why),
	    FXA_UNAVAILABLE);
	assert_non_null(strstr(why, "not a JSON object"));
	stop_server(&s);
	fxa_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_answer),
		cmocka_unit_test(test_user_rules),
		cmocka_unit_test(test_user_ok),
		cmocka_unit_test(test_scope_rules),
		cmocka_unit_test(test_generation_rules),
		cmocka_unit_test(test_status_rules),
		cmocka_unit_test(test_not_an_answer),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_remote_answer_and_request),
		cmocka_unit_test(test_remote_outages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
