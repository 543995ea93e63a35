/*
 * proctitle.c - process titles without libbsd.
 *
 * ps reads /proc/PID/cmdline, which is the memory where argv strings live;
 * the environment strings follow them.  Like nginx's ngx_setproctitle(),
 * proctitle_init() moves the environment to the heap so the whole span can
 * be rewritten.
 *
 * The kernel's comm name is set apart (prctl PR_SET_NAME): it is what
 * top, ps -e, pgrep and pidof match, and it holds 15 bytes, so it gets a
 * short name of its own ("tokend-worker") rather than the head of the
 * long title, which would read "worker 1" and say nothing of tokend.
 */
#include "core/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char	*title_start;
static size_t	 title_len;

void
proctitle_init(int argc, char **argv)
{
	char	*end, **env;
	size_t	 n, i;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < (size_t)argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	for (n = 0; environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		if ((env[i] = strdup(environ[i])) == NULL)
			return;
	}
	environ = env;
	/* argv[] itself stays valid: its strings are not used after this. */
	for (i = 1; i < (size_t)argc; i++)
		argv[i] = NULL;
	title_start = argv[0];
	title_len = (size_t)(end - argv[0]);
}

void
proctitle_set(const char *name, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The kernel cuts it at PROCTITLE_NAME_MAX bytes itself. */
	prctl(PR_SET_NAME, name);
	if (title_start == NULL || title_len < 2)
		return;
	memset(title_start, 0, title_len);
	snprintf(title_start, title_len, "%s", buf);
}
