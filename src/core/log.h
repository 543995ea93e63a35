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
#include <stdnoreturn.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void	log_init(const char *role, enum log_level max);
void	log_role(const char *role);
void	log_set_level(enum log_level max);
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

/* Exit code of a child that must not be respawned (bad config, setup). */
#define EXIT_FATAL 2

#endif
