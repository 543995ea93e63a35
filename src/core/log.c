/*
 * log.c - one line per event on stderr, tagged with level, role and pid.
 *
 * Under systemd (JOURNAL_STREAM is set) each line starts with the sd-daemon
 * priority prefix "<N>" so journald records the right level; on a terminal
 * the level is spelled out instead.  The role ("supervisor", "front",
 * "worker 3") is process-global and set once after fork.  Every line is
 * formatted into one buffer and written with a single write(2), so lines
 * stay whole.  A loop that logs per request (the front's access log) holds
 * the log for one turn: its lines then leave together, one write(2) per
 * turn instead of one per request.  Only one thread may hold the log.
 *
 * Messages carry what clients sent (a path, a header's name) and what
 * files held: every control byte of a message is written as \xNN, and a
 * backslash as \\, so no input can start a line of its own, forge one,
 * or send escape sequences to a terminal.
 */
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char		 log_rolename[32] = "tokend";
static enum log_level	 log_max = LOG_LVL_INFO;
static int		 log_journal;
static int		 log_pid;	/* getpid() is a system call */

#define HOLD_MAX	(32 * 1024)
static char		 log_held[HOLD_MAX];
static size_t		 log_nheld;
static int		 log_holding;

static const struct {
	const char	*name;
	int		 prio;		/* syslog priority for journald */
} levels[] = {
	[LOG_LVL_ERR] = { "error", 3 },
	[LOG_LVL_WARN] = { "warning", 4 },
	[LOG_LVL_INFO] = { "info", 6 },
	[LOG_LVL_DEBUG] = { "debug", 7 },
};

/* A child starts with its own pid and nothing held of its parent's. */
static void
log_forked(void)
{
	log_pid = (int)getpid();
	log_nheld = 0;
	log_holding = 0;
}

static void
cache_pid(void)
{
	static int	registered;

	if (!registered && pthread_atfork(NULL, NULL, log_forked) == 0)
		registered = 1;
	log_pid = (int)getpid();
}

void
log_init(const char *role, enum log_level max)
{
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	cache_pid();
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
flush_held(void)
{
	if (log_nheld > 0)
		(void)!write(STDERR_FILENO, log_held, log_nheld);
	log_nheld = 0;
}

void
log_hold(void)
{
	log_holding = 1;
}

void
log_release(void)
{
	flush_held();
	log_holding = 0;
}

/*
 * Held lines wait for log_release() (or a full buffer); a warning or an
 * error goes out at once, after what was held, so the order stays.
 */
static void
emit(enum log_level lvl, const char *line, size_t len)
{
	if (!log_holding || lvl <= LOG_LVL_WARN) {
		flush_held();
		(void)!write(STDERR_FILENO, line, len);
		return;
	}
	if (log_nheld + len > sizeof(log_held))
		flush_held();
	memcpy(log_held + log_nheld, line, len);
	log_nheld += len;
}

/* Appends msg to line[len..cap) with control bytes escaped; new length. */
static size_t
escape(char *line, size_t len, size_t cap, const char *msg)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		c;

	for (; (c = (unsigned char)*msg) != '\0'; msg++) {
		if (c >= 0x20 && c != 0x7f && c != '\\') {
			if (len + 1 >= cap)
				break;
			line[len++] = (char)c;
		} else if (c == '\\') {
			if (len + 2 >= cap)
				break;
			line[len++] = '\\';
			line[len++] = '\\';
		} else {
			if (len + 4 >= cap)
				break;
			line[len++] = '\\';
			line[len++] = 'x';
			line[len++] = hex[c >> 4];
			line[len++] = hex[c & 15];
		}
	}
	return len;
}

static void
vlog(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	char	 line[1024], msg[1024];
	int	 saved = errno, n;
	size_t	 len, mlen;

	if (lvl > log_max)
		return;
	if (log_pid == 0)
		cache_pid();
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s[%d]: ",
		    levels[lvl].prio, log_rolename, log_pid);
	else
		n = snprintf(line, sizeof(line), "tokend %s[%d] %s: ",
		    log_rolename, log_pid, levels[lvl].name);
	len = n < 0 ? 0 : (size_t)n;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	mlen = n < 0 ? 0 : (size_t)n;
	if (with_errno && mlen < sizeof(msg))
		snprintf(msg + mlen, sizeof(msg) - mlen, ": %s",
		    strerror(saved));
	/* The prefix is ours; the message is escaped; room for '\n'. */
	len = escape(line, len, sizeof(line) - 1, msg);
	line[len++] = '\n';
	emit(lvl, line, len);
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
