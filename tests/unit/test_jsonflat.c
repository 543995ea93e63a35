/*
 * test_jsonflat.c - the front's fast path for flat JSON (src/http/jsonflat.c).
 *
 * The reader must never disagree with jansson: whatever it accepts, jansson
 * (with JSON_REJECT_DUPLICATES, as api.c calls it) must read as an object
 * with exactly the same members.  Besides hand-picked shapes, 50,000 random
 * mutations of a real request body check that property.  The writer must
 * produce what jansson reads back byte for byte, and refuse exactly the
 * strings jansson refuses as invalid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/jsonflat.h"

#define BODY	"{\"assertion\": \"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\"" \
		", \"service\": \"sync-1.5\"}"

static int
parse(const char *s, struct jsonflat_member *m)
{
	return jsonflat_parse(s, strlen(s), m, JSONFLAT_MAX);
}

static void
test_reads_request_bodies(void **state)
{
	struct jsonflat_member	m[JSONFLAT_MAX];

	assert_int_equal(parse(BODY, m), 2);
	assert_int_equal(m[0].keylen, 9);
	assert_memory_equal(m[0].key, "assertion", 9);
	assert_int_equal(m[1].vallen, 8);
	assert_memory_equal(m[1].val, "sync-1.5", 8);
	assert_int_equal(parse("{}", m), 0);
	assert_int_equal(parse(" \t\r\n{ \n}\n ", m), 0);
	assert_int_equal(parse("{\"a\":\"\"}", m), 1);
	assert_int_equal(m[0].vallen, 0);
	assert_int_equal(parse("{\"\":\"x\"}", m), 1);
	assert_int_equal(parse("{\"a\" : \"b\" ,\"c\":\"d\"}\n", m), 2);
	assert_int_equal(parse("{\"a\":\"b\",\"b\":\"c\",\"c\":\"d\",\"d\":\"e\","
	    "\"e\":\"f\",\"f\":\"g\",\"g\":\"h\",\"h\":\"i\"}", m), 8);
}

/* Each is either invalid JSON or JSON outside the fast path's shape. */
static void
test_leaves_the_rest_to_jansson(void **state)
{
	static const char *const other[] = {
		"", " ", "{", "}", "[]", "\"a\"", "null", "{\"a\":\"b\"",
		"{\"a\":\"b\",}", "{,}", "{\"a\" \"b\"}", "{\"a\":}",
		"{\"a\":\"b\"} x", "{\"a\":\"b\"}{}", "{a:\"b\"}",
		"{'a':'b'}", "{\"a\":1}", "{\"a\":true}", "{\"a\":null}",
		"{\"a\":[\"b\"]}", "{\"a\":{\"b\":\"c\"}}", "{\"a\":\"b\\\"c\"}",
		"{\"a\":\"\\u0041\"}", "{\"a\\n\":\"b\"}", "{\"a\":\"caf\xc3\xa9\"}",
		"{\"a\":\"b\x7f\"}", "{\"a\":\"b\tc\"}", "{\"a\":\"b\",\"a\":\"c\"}",
		"\xef\xbb\xbf{}", "{\"a\":\"b\",\"b\":\"c\",\"c\":\"d\",\"d\":"
		"\"e\",\"e\":\"f\",\"f\":\"g\",\"g\":\"h\",\"h\":\"i\",\"i\":\"j\"}",
	};
	struct jsonflat_member	m[JSONFLAT_MAX];
	size_t			i;

	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (parse(other[i], m) != -1)
			fail_msg("took %s", other[i]);
	/* A NUL inside. */
	assert_int_equal(jsonflat_parse("{\"a\":\"b\0\"}", 9, m, 8), -1);
}

/* jsonflat_parse(s) = n >= 0 implies jansson reads the same n members. */
static void
agrees_with_jansson(const char *s, size_t len)
{
	struct jsonflat_member	 m[JSONFLAT_MAX];
	json_error_t		 err;
	json_t			*obj, *v;
	char			 key[256];
	int			 n, i;

	if ((n = jsonflat_parse(s, len, m, JSONFLAT_MAX)) == -1)
		return;
	obj = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
	if (obj == NULL || !json_is_object(obj))
		fail_msg("fast path took what jansson refuses: %.*s", (int)len,
		    s);
	assert_int_equal(json_object_size(obj), n);
	for (i = 0; i < n; i++) {
		assert_true(m[i].keylen < sizeof(key));
		memcpy(key, m[i].key, m[i].keylen);
		key[m[i].keylen] = '\0';
		v = json_object_get(obj, key);
		assert_non_null(v);
		assert_true(json_is_string(v));
		assert_int_equal(json_string_length(v), m[i].vallen);
		assert_memory_equal(json_string_value(v), m[i].val, m[i].vallen);
	}
	json_decref(obj);
}

static void
test_random_mutations_agree_with_jansson(void **state)
{
	static const char alphabet[] = "{}[]:,\"\\ \tab\x01\x7f\xc3\xa9""0e-";
	char		buf[256];
	size_t		len, pos;
	unsigned	seed = 12345;
	int		i, k, taken = 0;

	for (i = 0; i < 50000; i++) {
		len = strlen(BODY);
		memcpy(buf, BODY, len);
		for (k = 0; k < 1 + i % 3; k++) {
			pos = (size_t)rand_r(&seed) % len;
			switch (rand_r(&seed) % 3) {
			case 0:		/* replace */
				buf[pos] = alphabet[rand_r(&seed) %
				    (sizeof(alphabet) - 1)];
				break;
			case 1:		/* delete */
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
				break;
			default:	/* insert */
				if (len + 1 >= sizeof(buf))
					break;
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = alphabet[rand_r(&seed) %
				    (sizeof(alphabet) - 1)];
				len++;
			}
		}
		agrees_with_jansson(buf, len);
		taken += jsonflat_parse(buf, len, (struct jsonflat_member[8]){ 0 },
		    8) >= 0;
	}
	/* Both outcomes were exercised. */
	assert_true(taken > 1000 && taken < 49000);
}

/* ---- the writer ------------------------------------------------------- */

/* Writes {"s": v, "n": -5}, reads it back with jansson, compares. */
static int
round_trip(const char *v, size_t len)
{
	struct jsonflat_writer	 w;
	json_error_t		 err;
	json_t			*obj, *s;
	char			*text;
	size_t			 tlen;

	jsonflat_begin(&w);
	jsonflat_str(&w, "s", v, len);
	jsonflat_int(&w, "n", -5);
	if ((text = jsonflat_end(&w, &tlen)) == NULL)
		return -1;
	assert_int_equal(strlen(text), tlen);
	obj = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (obj == NULL)
		fail_msg("jansson cannot read %s: %s", text, err.text);
	s = json_object_get(obj, "s");
	assert_true(json_is_string(s));
	assert_int_equal(json_string_length(s), len);
	assert_memory_equal(json_string_value(s), v, len);
	assert_int_equal(json_integer_value(json_object_get(obj, "n")), -5);
	json_decref(obj);
	free(text);
	return 0;
}

static void
test_writer_escapes_and_checks_utf8(void **state)
{
	static const char *const good[] = {
		"", "plain", "q\"uote", "back\\slash", "tab\tnl\ncr\r",
		"\x01\x1f\x7f", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "/slash/",
	};
	static const char *const bad[] = {
		"\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80",
		"\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\xff", "\xc3", "\xe2\x82", "a\xc3(", "\xf0\x9f\x98",
	};
	struct jsonflat_writer	w;
	char			*text;
	size_t			 i, len;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(round_trip(good[i], strlen(good[i])), 0);
	assert_int_equal(round_trip("nul\0inside", 10), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (round_trip(bad[i], strlen(bad[i])) != -1)
			fail_msg("wrote invalid UTF-8 #%zu", i);
	jsonflat_begin(&w);
	jsonflat_int(&w, "min", LLONG_MIN);
	jsonflat_int(&w, "max", LLONG_MAX);
	text = jsonflat_end(&w, &len);
	assert_string_equal(text, "{\"min\":-9223372036854775808,"
	    "\"max\":9223372036854775807}");
	free(text);
	jsonflat_begin(&w);
	text = jsonflat_end(&w, &len);
	assert_string_equal(text, "{}");
	free(text);
}

/* The writer refuses exactly the byte strings jansson refuses. */
static void
test_writer_agrees_with_jansson_on_random_bytes(void **state)
{
	unsigned char	 v[12];
	unsigned	 seed = 777;
	json_t		*s;
	size_t		 len, k;
	int		 i, ok, valid = 0;

	for (i = 0; i < 50000; i++) {
		len = (size_t)rand_r(&seed) % sizeof(v);
		for (k = 0; k < len; k++)
			/* Mostly high bytes, where UTF-8 goes wrong. */
			v[k] = (unsigned char)(rand_r(&seed) % 4 ?
			    0x80 + rand_r(&seed) % 0x80 : rand_r(&seed) % 0x80);
		s = json_stringn((const char *)v, len);
		ok = round_trip((const char *)v, len) == 0;
		if (ok != (s != NULL))
			fail_msg("UTF-8 verdicts differ at case %d", i);
		valid += ok;
		json_decref(s);
	}
	assert_true(valid > 100 && valid < 49900);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_request_bodies),
		cmocka_unit_test(test_leaves_the_rest_to_jansson),
		cmocka_unit_test(test_random_mutations_agree_with_jansson),
		cmocka_unit_test(test_writer_escapes_and_checks_utf8),
		cmocka_unit_test(test_writer_agrees_with_jansson_on_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
