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
 *
 * With log_format = json every line is instead one MozLog object (the
 * shape Mozilla's Dockerflow services log in), so a pipeline reads the
 * fields without parsing text.  Its strings are JSON-escaped: control
 * bytes and DEL as \u00XX, and a byte that does not start a valid UTF-8
 * sequence (a hostile client's, or a cut one) as U+FFFD, so every line
 * is valid UTF-8 JSON whatever a client sent.  A line that would pass
 * the line buffer loses its last fields or the end of a string, never
 * its closing braces.  Both formats write what the callers give them, and
 * no caller gives a token, an assertion, a secret or a key.
 */
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char		 log_rolename[32] = "tokend";
static enum log_level	 log_max = LOG_LVL_INFO;
static int		 log_journal;
static int		 log_pid;	/* getpid() is a system call */
static enum log_format	 log_fmt = LOG_FMT_TEXT;
static char		 log_host[256] = "-";

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

/* The host's name is read once: MozLog's Hostname on every line. */
void
log_set_format(enum log_format fmt)
{
	log_fmt = fmt;
	if (fmt == LOG_FMT_JSON &&
	    gethostname(log_host, sizeof(log_host) - 1) == -1)
		snprintf(log_host, sizeof(log_host), "-");
	log_host[sizeof(log_host) - 1] = '\0';
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

/* The text line's prefix: journald's priority, or the level spelled. */
static size_t
text_prefix(char *line, size_t cap, enum log_level lvl)
{
	int	n;

	if (log_journal)
		n = snprintf(line, cap, "<%d>%s[%d]: ", levels[lvl].prio,
		    log_rolename, log_pid);
	else
		n = snprintf(line, cap, "tokend %s[%d] %s: ", log_rolename,
		    log_pid, levels[lvl].name);
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* ---- json ------------------------------------------------------------- */

/*
 * A line being built.  cap leaves room for the closing "}}\n", so a field
 * that does not fit is dropped whole (len goes back) and the line still
 * closes.
 */
struct jline {
	char	*p;
	size_t	 len, cap;
	int	 full;
};

static void
jraw(struct jline *j, const char *s, size_t n)
{
	if (j->full || j->len + n > j->cap) {
		j->full = 1;
		return;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
}

static void
jputs(struct jline *j, const char *s)
{
	jraw(j, s, strlen(s));
}

/*
 * Length of the valid UTF-8 sequence at s (RFC 3629: no overlong form,
 * no surrogate, nothing past U+10FFFF), or 0 if s does not start one.
 */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char	c = s[0], lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * s as a JSON string.  A value too long for the line is cut at a whole
 * character (or escape) and still closed; if not even "" fits, the line
 * is full.
 */
static void
jstr(struct jline *j, const char *str)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[8];
	size_t			 n, room;

	if (j->full || j->len + 2 > j->cap) {
		j->full = 1;
		return;
	}
	room = j->cap - 1;		/* the closing quote */
	j->p[j->len++] = '"';
	for (; *s != '\0'; s += n) {
		const char	*out = esc;
		size_t		 olen = 2;

		n = 1;
		esc[0] = '\\';
		if (*s == '"' || *s == '\\')
			esc[1] = (char)*s;
		else if (*s == '\n')
			esc[1] = 'n';
		else if (*s == '\t')
			esc[1] = 't';
		else if (*s == '\r')
			esc[1] = 'r';
		else if (*s < 0x20 || *s == 0x7f) {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*s >> 4];
			esc[5] = hex[*s & 15];
			olen = 6;
		} else if (*s < 0x80) {
			out = (const char *)s;
			olen = 1;
		} else if ((n = utf8_len(s)) > 0) {
			out = (const char *)s;
			olen = n;
		} else {
			n = 1;
			out = "\\ufffd";
			olen = 6;
		}
		if (j->len + olen > room)
			break;
		memcpy(j->p + j->len, out, olen);
		j->len += olen;
	}
	j->p[j->len++] = '"';
}

static void
jint(struct jline *j, long long v)
{
	char	buf[24];
	int	n = snprintf(buf, sizeof(buf), "%lld", v);

	jraw(j, buf, (size_t)n);
}

/* One field, or nothing if it does not fit whole. */
static void
jfield(struct jline *j, const struct log_field *f)
{
	size_t	mark = j->len;
	char	buf[32];
	int	n;

	if (f->type == LOG_FT_STR && f->str == NULL)
		return;
	jraw(j, ",\"", 2);
	jputs(j, f->key);
	jraw(j, "\":", 2);
	switch (f->type) {
	case LOG_FT_STR:
		jstr(j, f->str);
		break;
	case LOG_FT_INT:
		jint(j, f->num);
		break;
	case LOG_FT_BOOL:
		jputs(j, f->num ? "true" : "false");
		break;
	case LOG_FT_NUM:
		/* JSON has no NaN or infinity. */
		n = snprintf(buf, sizeof(buf), "%.3f", f->real);
		if (f->real != f->real || n <= 0 || (size_t)n >= sizeof(buf) ||
		    strchr(buf, 'n') != NULL || strchr(buf, 'i') != NULL)
			jputs(j, "null");
		else
			jraw(j, buf, (size_t)n);
		break;
	}
	if (j->full)
		j->len = mark;
}

/*
 * A MozLog object: Timestamp (ns since the epoch), Type, Logger,
 * Hostname, EnvVersion, Severity (syslog), Pid, then Fields: the role
 * first, then f[0..n).  Returns the line's length, '\n' included.
 */
static size_t
json_line(char *line, size_t cap, enum log_level lvl, const char *type,
    const struct log_field *f, size_t n)
{
	struct jline	j = { line, 0, cap - 3, 0 };
	struct timespec	ts;
	size_t		i, head;

	if (log_journal) {
		/* journald takes the level and strips the prefix. */
		j.len = (size_t)snprintf(line, cap, "<%d>", levels[lvl].prio);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	jputs(&j, "{\"Timestamp\":");
	jint(&j, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	jputs(&j, ",\"Type\":");
	jstr(&j, type);
	jputs(&j, ",\"Logger\":\"tokend\",\"Hostname\":");
	jstr(&j, log_host);
	jputs(&j, ",\"EnvVersion\":\"2.0\",\"Severity\":");
	jint(&j, levels[lvl].prio);
	jputs(&j, ",\"Pid\":");
	jint(&j, log_pid);
	jputs(&j, ",\"Fields\":{\"role\":");
	jstr(&j, log_rolename);
	head = j.len;
	for (i = 0; i < n && !j.full; i++)
		jfield(&j, &f[i]);
	if (j.full && j.len < head)
		j.len = head;
	/* cap - 3 was kept for these. */
	memcpy(line + j.len, "}}\n", 3);
	return j.len + 3;
}

/* ---- the entry points ------------------------------------------------- */

static void
vlog(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	char	 line[2048], msg[1024];
	int	 saved = errno, n;
	size_t	 len, mlen;

	if (lvl > log_max)
		return;
	if (log_pid == 0)
		cache_pid();
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	mlen = n < 0 ? 0 : (size_t)n;
	if (with_errno && mlen < sizeof(msg))
		snprintf(msg + mlen, sizeof(msg) - mlen, ": %s",
		    strerror(saved));
	if (log_fmt == LOG_FMT_JSON) {
		struct log_field f = LOG_STR("msg", msg);

		len = json_line(line, sizeof(line), lvl, "log", &f, 1);
	} else {
		len = text_prefix(line, 1024, lvl);
		/* The prefix is ours; the message is escaped; room for '\n'. */
		len = escape(line, len, 1024 - 1, msg);
		line[len++] = '\n';
	}
	emit(lvl, line, len);
	errno = saved;
}

void
log_event(enum log_level lvl, const char *type, const struct log_field *f,
    size_t n, const char *fmt, ...)
{
	va_list	ap;
	char	line[2048];
	int	saved = errno;

	if (lvl > log_max)
		return;
	if (log_fmt != LOG_FMT_JSON) {
		va_start(ap, fmt);
		vlog(lvl, 0, fmt, ap);
		va_end(ap);
		return;
	}
	if (log_pid == 0)
		cache_pid();
	emit(lvl, line, json_line(line, sizeof(line), lvl, type, f, n));
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
