/*
 * fuzz_jsonflat.c - libFuzzer harness of the front's flat-JSON fast path
 * (src/http/jsonflat.c) against jansson, the parser of record.
 *
 * The fast path is only safe if it never disagrees with jansson: a body
 * it reads must mean the same to jansson (with JSON_REJECT_DUPLICATES, as
 * api.c calls it), or a request would be judged on other members than the
 * ones every other JSON reader sees.  So whatever jsonflat_parse accepts,
 * jansson must read as an object with exactly those members.  The writer
 * is held to the same standard from the other side: what it writes
 * jansson reads back value for value, and it refuses exactly the strings
 * jansson refuses as invalid UTF-8.
 *
 * Input: the body the parser reads; the writer gets the same bytes cut
 * into values at each 0xff byte (a byte no valid UTF-8 holds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/jsonflat.h"

#include "../fuzz.h"

#define WRITER_VALUES	8

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Seeded once, so that no input depends on an earlier one. */
	json_object_seed(1);
	return 0;
}

/* Whatever the fast path accepts, jansson reads the same way. */
static void
check_reader(const char *s, size_t len)
{
	struct jsonflat_member	 m[JSONFLAT_MAX];
	json_t			*root, *v;
	int			 n, i;

	n = jsonflat_parse(s, len, m, JSONFLAT_MAX);
	FUZZ_CHECK(n >= -1 && n <= JSONFLAT_MAX);
	if (n == -1)
		return;
	root = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(root));
	FUZZ_CHECK(json_object_size(root) == (size_t)n);
	for (i = 0; i < n; i++) {
		v = json_object_getn(root, m[i].key, m[i].keylen);
		FUZZ_CHECK(json_is_string(v));
		FUZZ_CHECK(json_string_length(v) == m[i].vallen &&
		    memcmp(json_string_value(v), m[i].val, m[i].vallen) == 0);
	}
	json_decref(root);
}

/* Whether jansson takes s[0..len) as a string (valid UTF-8). */
static int
jansson_takes(const char *s, size_t len)
{
	json_t	*v = json_stringn(s, len);
	int	 ok = v != NULL;

	json_decref(v);
	return ok;
}

/*
 * Writes the values cut from s, each under key "kI", and an integer;
 * jansson must read back every value and the integer, or the writer must
 * have refused a value jansson refuses too.
 */
static void
check_writer(const char *s, size_t len)
{
	struct jsonflat_writer	 w;
	const char		*val[WRITER_VALUES], *cut;
	size_t			 vlen[WRITER_VALUES], off = 0, outlen;
	char			 key[8], *out;
	json_t			*root, *v;
	int			 n = 0, valid = 1, more = 1, i;
	long long		 num = (long long)len * 7919 - 1000003;

	jsonflat_begin(&w);
	for (; n < WRITER_VALUES && more; n++) {
		cut = memchr(s + off, 0xff, len - off);
		val[n] = s + off;
		vlen[n] = cut != NULL ? (size_t)(cut - val[n]) : len - off;
		more = cut != NULL;
		off += vlen[n] + more;
		valid &= jansson_takes(val[n], vlen[n]);
		snprintf(key, sizeof(key), "k%d", n);
		jsonflat_str(&w, key, val[n], vlen[n]);
	}
	jsonflat_int(&w, "num", num);
	out = jsonflat_end(&w, &outlen);
	FUZZ_CHECK((out != NULL) == valid);
	if (out == NULL)
		return;
	FUZZ_CHECK(memchr(out, '\0', outlen) == NULL);
	/* An escaped NUL (\u0000) is valid JSON: jansson reads it if asked. */
	root = json_loadb(out, outlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    NULL);
	FUZZ_CHECK(json_is_object(root));
	FUZZ_CHECK(json_object_size(root) == (size_t)n + 1);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		v = json_object_get(root, key);
		FUZZ_CHECK(json_is_string(v) && json_string_length(v) ==
		    vlen[i] && memcmp(json_string_value(v), val[i],
		    vlen[i]) == 0);
	}
	v = json_object_get(root, "num");
	FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == num);
	json_decref(root);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_reader((const char *)data, size);
	check_writer((const char *)data, size);
	return 0;
}
