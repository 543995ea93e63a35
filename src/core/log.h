/*
 * log.h - the one logging idiom of tokend.
 *
 * Every process writes one line per event to stderr; journald (or the
 * terminal) collects it.  fatal()/log_warn() append strerror(errno);
 * fatalx()/log_warnx() do not.  A bad client is never worth more than
 * log_info(): warnings are for the operator.
 */
#ifndef TOKEND_LOG_H
#define TOKEND_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/*
 * text: "tokend ROLE[PID] LEVEL: message" (the default).  json: one
 * MozLog object per line ({"Timestamp" (ns), "Type", "Logger":"tokend",
 * "Hostname", "EnvVersion":"2.0", "Severity" (syslog), "Pid", "Fields"}),
 * for a log pipeline; docs/deployment.md has the shape.
 */
enum log_format { LOG_FMT_TEXT, LOG_FMT_JSON };

/*
 * One named value of a structured event (log_event()).  Keys are ours
 * (a C literal); string values may come from clients and are escaped.
 */
enum log_ftype { LOG_FT_STR, LOG_FT_INT, LOG_FT_NUM, LOG_FT_BOOL };
struct log_field {
	const char	*key;
	enum log_ftype	 type;
	const char	*str;		/* LOG_FT_STR; NULL: left out */
	long long	 num;		/* LOG_FT_INT, LOG_FT_BOOL */
	double		 real;		/* LOG_FT_NUM */
};
#define LOG_STR(k, v)	{ .key = (k), .type = LOG_FT_STR, .str = (v) }
#define LOG_INT(k, v)	{ .key = (k), .type = LOG_FT_INT, .num = (v) }
#define LOG_NUM(k, v)	{ .key = (k), .type = LOG_FT_NUM, .real = (v) }
#define LOG_BOOL(k, v)	{ .key = (k), .type = LOG_FT_BOOL, .num = !!(v) }
#define NFIELDS(f)	(sizeof(f) / sizeof((f)[0]))

void	log_init(const char *role, enum log_level max);
void	log_role(const char *role);
void	log_set_level(enum log_level max);
void	log_set_format(enum log_format fmt);
int	log_enabled(enum log_level lvl);
/*
 * Between log_hold() and log_release(), info and debug lines are kept and
 * written together at release (warnings and errors still go at once): for
 * one turn of a loop that logs per request.  One thread only.
 */
void	log_hold(void);
void	log_release(void);

noreturn void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A structured event (the access log's request.summary): in text, the line
 * fmt makes; in json, an object of MozLog Type type whose Fields are
 * f[0..n) (fmt is then not formatted: the fields say it all).
 */
void	log_event(enum log_level lvl, const char *type,
	    const struct log_field *f, size_t n, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* Exit code of a child that must not be respawned (bad config, setup). */
#define EXIT_FATAL 2

#endif
