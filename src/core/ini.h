/*
 * ini.h - the lexer of tokend's config files.
 *
 * Why not libinih: Debian's build fixes lines at 200 bytes (a JWKS URL or a
 * long path silently split), joins indented lines onto the previous key,
 * treats ';' after a value as a comment, and does not tell the handler which
 * line it is on.  Our grammar is small enough to state exactly instead:
 *
 *   # comment            (also ';'; only at the start of a line)
 *   [section]            or [kind name]
 *   key = value          (value runs to the end of the line, trimmed)
 *
 * Every callback gets the line number, so every config error can say
 * FILE:LINE.
 */
#ifndef TOKEND_INI_H
#define TOKEND_INI_H

#include <stddef.h>

#define INI_MAX_LINE 4096	/* bytes, newline included */

/*
 * A callback returns 0 to go on, or writes a message to err and returns
 * INI_FAIL (reported at the current line) or INI_FAIL_PLACED (the message
 * already says where, e.g. a section's own line).
 */
#define INI_FAIL	(-1)
#define INI_FAIL_PLACED	(-2)

struct ini_handler {
	/* kind is "server" for [server]; name is NULL then. */
	int	(*section)(void *arg, int line, const char *kind,
		    const char *name, char *err, size_t errlen);
	int	(*key)(void *arg, int line, const char *key, const char *value,
		    char *err, size_t errlen);
};

/*
 * Feeds every section and key of the file at path to h.  Returns 0, or -1
 * with "PATH:LINE: message" in err.
 */
int	ini_parse(const char *path, const struct ini_handler *h, void *arg,
	    char *err, size_t errlen);

#endif
