/*
 * log.c - one line per event on stderr, tagged with level, role and pid.
 *
 * Under systemd (JOURNAL_STREAM is set) each line starts with the sd-daemon
 * priority prefix "<N>" so journald records the right level; on a terminal
 * the level is spelled out instead.  The role ("supervisor", "front",
 * "worker 3") is process-global and set once after fork, so no locking is
 * needed beyond what stdio does per call: every line is formatted into one
 * buffer and written with a single write(2), which keeps lines from the MHD
 * threads and the broker whole.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char		 log_rolename[32] = "tokend";
static enum log_level	 log_max = LOG_LVL_INFO;
static int		 log_journal;

static const struct {
	const char	*name;
	int		 prio;		/* syslog priority for journald */
} levels[] = {
	[LOG_LVL_ERR] = { "error", 3 },
	[LOG_LVL_WARN] = { "warning", 4 },
	[LOG_LVL_INFO] = { "info", 6 },
	[LOG_LVL_DEBUG] = { "debug", 7 },
};

void
log_init(const char *role, enum log_level max)
{
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	log_max = max;
	log_role(role);
}

void
log_role(const char *role)
{
	snprintf(log_rolename, sizeof(log_rolename), "%s", role);
}

void
log_set_level(enum log_level max)
{
	log_max = max;
}

int
log_enabled(enum log_level lvl)
{
	return lvl <= log_max;
}

static void
vlog(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	char	 line[1024];
	int	 saved = errno, n;
	size_t	 len;

	if (lvl > log_max)
		return;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s[%d]: ",
		    levels[lvl].prio, log_rolename, (int)getpid());
	else
		n = snprintf(line, sizeof(line), "tokend %s[%d] %s: ",
		    log_rolename, (int)getpid(), levels[lvl].name);
	len = n < 0 ? 0 : (size_t)n;
	if (len < sizeof(line)) {
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		len += n < 0 ? 0 : (size_t)n;
	}
	if (with_errno && len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(saved));
		len += n < 0 ? 0 : (size_t)n;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
	errno = saved;
}

#define LOG_FN(name, lvl, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(lvl, with_errno, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
