/*
 * test_log.c - what reaches the log cannot forge a line (src/core/log.c).
 *
 * A client's path or header name ends up in log lines; before the fix a
 * request for "/a%0atokend supervisor[1] error: FORGED" wrote a second,
 * forged line.  Every control byte must come out as \xNN and a backslash
 * as \\, so that one event is always one line.
 *
 * With log_format = json each line is one MozLog object that a JSON
 * parser (jansson, which refuses invalid UTF-8) must read back with the
 * message intact: control bytes escaped, invalid UTF-8 as U+FFFD, and a
 * line too long for the buffer cut inside its strings, never its braces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"

static int	capture_saved, capture_pipe[2];

static void
capture_begin(void)
{
	assert_int_equal(pipe(capture_pipe), 0);
	capture_saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(capture_pipe[1], STDERR_FILENO), STDERR_FILENO);
}

/* What was written since capture_begin() (static buffer). */
static const char *
capture_end(void)
{
	static char	out[8192];
	ssize_t		n;

	dup2(capture_saved, STDERR_FILENO);
	close(capture_saved);
	close(capture_pipe[1]);
	n = read(capture_pipe[0], out, sizeof(out) - 1);
	close(capture_pipe[0]);
	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

/* Logs msg at info level and returns what was written (static buffer). */
static const char *
logged(const char *fmt, const char *arg)
{
	static char	 out[4096];
	int		 p[2], saved;
	ssize_t		 n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	log_info(fmt, arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

/* The message part of a line: after "tokend ROLE[PID] info: ". */
static const char *
message(const char *line)
{
	const char	*m = strstr(line, " info: ");

	assert_non_null(m);
	return m + 7;
}

static void
test_control_bytes_are_escaped(void **state)
{
	const char	*line;

	line = logged("GET %s 404", "/a\ntokend supervisor[1] error: FORGED");
	/* One line: the only newline is the last byte. */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_string_equal(message(line),
	    "GET /a\\x0atokend supervisor[1] error: FORGED 404\n");
	line = logged("%s", "cr\r esc\x1b[31m del\x7f tab\t");
	assert_string_equal(message(line),
	    "cr\\x0d esc\\x1b[31m del\\x7f tab\\x09\n");
}

static void
test_backslash_is_escaped_so_escapes_are_unambiguous(void **state)
{
	const char	*line;

	line = logged("%s", "a\\x0ab");
	assert_string_equal(message(line), "a\\\\x0ab\n");
}

static void
test_utf8_and_plain_text_pass_unchanged(void **state)
{
	assert_string_equal(message(logged("%s", "caf\xc3\xa9 ok")),
	    "caf\xc3\xa9 ok\n");
}

/* A message longer than a line is cut, and still ends the line. */
static void
test_long_messages_stay_one_line(void **state)
{
	char		 big[3000];
	const char	*line;

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	line = logged("%s", big);
	assert_true(strlen(line) <= 1024);
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
}

/* ---- json ------------------------------------------------------------- */

/* The one line written (checked: one line, only ASCII controls none). */
static json_t *
json_logged(const char *line)
{
	json_error_t	 err;
	json_t		*o;
	const char	*p;

	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	for (p = line; *p != '\n'; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	o = json_loadb(line, strlen(line) - 1, 0, &err);
	if (o == NULL)
		fail_msg("not JSON (%s): %s", err.text, line);
	return o;
}

static const char *
jfield(json_t *o, const char *name)
{
	json_t	*v = json_object_get(json_object_get(o, "Fields"), name);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
test_json_mozlog_fields(void **state)
{
	json_t	*o;
	char	 host[256] = "";

	log_set_format(LOG_FMT_JSON);
	capture_begin();
	log_warnx("disk %s", "full");
	o = json_logged(capture_end());
	log_set_format(LOG_FMT_TEXT);
	assert_true(json_is_integer(json_object_get(o, "Timestamp")));
	assert_true(json_integer_value(json_object_get(o, "Timestamp")) >
	    1700000000LL * 1000000000LL);
	assert_string_equal(json_string_value(json_object_get(o, "Type")),
	    "log");
	assert_string_equal(json_string_value(json_object_get(o, "Logger")),
	    "tokend");
	gethostname(host, sizeof(host) - 1);
	assert_string_equal(json_string_value(json_object_get(o,
	    "Hostname")), host);
	assert_string_equal(json_string_value(json_object_get(o,
	    "EnvVersion")), "2.0");
	assert_int_equal(json_integer_value(json_object_get(o, "Severity")),
	    4);
	assert_int_equal(json_integer_value(json_object_get(o, "Pid")),
	    getpid());
	assert_string_equal(jfield(o, "role"), "test");
	assert_string_equal(jfield(o, "msg"), "disk full");
	assert_int_equal(json_object_size(o), 8);
	json_decref(o);
}

/* Every control byte, quote and backslash reads back as it was. */
static void
test_json_escapes_round_trip(void **state)
{
	char		 all[160];
	json_t		*o;
	size_t		 i, n = 0;

	for (i = 1; i < 0x80; i++)
		all[n++] = (char)i;
	strcpy(all + n, "\"\\caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	log_set_format(LOG_FMT_JSON);
	capture_begin();
	log_info("%s", all);
	o = json_logged(capture_end());
	log_set_format(LOG_FMT_TEXT);
	assert_string_equal(jfield(o, "msg"), all);
	json_decref(o);
}

/* Bytes that are no UTF-8 become U+FFFD, one each; valid ones stay. */
static void
test_json_invalid_utf8_replaced(void **state)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "a\xff\xfe" "b", "a\xef\xbf\xbd\xef\xbf\xbd" "b" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd" },	/* cut */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd" },			/* past U+10FFFF */
		{ "\xf0\x9f\x98", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },	/* U+10FFFF */
		{ "\xc3\xa9\x80", "\xc3\xa9\xef\xbf\xbd" },
	};
	struct log_field	 f;
	json_t			*o;
	size_t			 i;

	log_set_format(LOG_FMT_JSON);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = (struct log_field)LOG_STR("path", cases[i].in);
		capture_begin();
		log_event(LOG_LVL_INFO, "request.summary", &f, 1, "x");
		o = json_logged(capture_end());
		assert_string_equal(jfield(o, "path"), cases[i].out);
		json_decref(o);
	}
	log_set_format(LOG_FMT_TEXT);
}

static void
test_json_event_fields(void **state)
{
	const struct log_field f[] = {
		LOG_STR("method", "GET"),
		LOG_INT("code", 401),
		LOG_NUM("t", 1.25),
		LOG_BOOL("lost", 1),
		LOG_STR("error", NULL),
		LOG_NUM("bad", 0.0 / 0.0),
	};
	json_t		*o, *fields;
	const char	*line;

	log_set_format(LOG_FMT_JSON);
	capture_begin();
	log_event(LOG_LVL_INFO, "request.summary", f, NFIELDS(f), "not %s",
	    "this");
	o = json_logged(capture_end());
	log_set_format(LOG_FMT_TEXT);
	fields = json_object_get(o, "Fields");
	assert_string_equal(json_string_value(json_object_get(o, "Type")),
	    "request.summary");
	assert_int_equal(json_integer_value(json_object_get(fields, "code")),
	    401);
	assert_true(json_real_value(json_object_get(fields, "t")) == 1.25);
	assert_true(json_is_true(json_object_get(fields, "lost")));
	assert_null(json_object_get(fields, "error"));
	assert_true(json_is_null(json_object_get(fields, "bad")));
	assert_null(json_object_get(fields, "msg"));
	json_decref(o);
	/* In text, the line the format makes. */
	capture_begin();
	log_event(LOG_LVL_INFO, "request.summary", f, NFIELDS(f), "not %s",
	    "this");
	line = capture_end();
	assert_string_equal(message(line), "not this\n");
}

/* Too long for a line: strings are cut, whole fields dropped, and the
 * object still closes. */
static void
test_json_long_lines_stay_valid(void **state)
{
	static char	 big[5000];
	json_t		*o;
	size_t		 i;

	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = i % 3 == 0 ? '\x01' : i % 3 == 1 ? '"' : '\xff';
	big[sizeof(big) - 1] = '\0';
	log_set_format(LOG_FMT_JSON);
	capture_begin();
	log_info("%s", big);
	o = json_logged(capture_end());
	assert_true(strlen(jfield(o, "msg")) > 100);
	json_decref(o);
	{
		const struct log_field f[] = {
			LOG_STR("a", big), LOG_STR("b", big), LOG_INT("c", 7),
		};

		capture_begin();
		log_event(LOG_LVL_INFO, "request.summary", f, NFIELDS(f), "x");
		o = json_logged(capture_end());
		assert_true(strlen(jfield(o, "a")) > 100);
		json_decref(o);
	}
	log_set_format(LOG_FMT_TEXT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_bytes_are_escaped),
		cmocka_unit_test(test_backslash_is_escaped_so_escapes_are_unambiguous),
		cmocka_unit_test(test_utf8_and_plain_text_pass_unchanged),
		cmocka_unit_test(test_long_messages_stay_one_line),
		cmocka_unit_test(test_json_mozlog_fields),
		cmocka_unit_test(test_json_escapes_round_trip),
		cmocka_unit_test(test_json_invalid_utf8_replaced),
		cmocka_unit_test(test_json_event_fields),
		cmocka_unit_test(test_json_long_lines_stay_valid),
	};

	log_init("test", LOG_LVL_INFO);
	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
