/*
 * test_log.c - what reaches the log cannot forge a line (src/core/log.c).
 *
 * A client's path or header name ends up in log lines; before the fix a
 * request for "/a%0atokend supervisor[1] error: FORGED" wrote a second,
 * forged line.  Every control byte must come out as \xNN and a backslash
 * as \\, so that one event is always one line.
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

#include "core/log.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_bytes_are_escaped),
		cmocka_unit_test(test_backslash_is_escaped_so_escapes_are_unambiguous),
		cmocka_unit_test(test_utf8_and_plain_text_pass_unchanged),
		cmocka_unit_test(test_long_messages_stay_one_line),
	};

	log_init("test", LOG_LVL_INFO);
	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
