/*
 * ini.c - reads a config file line by line and hands sections and keys to
 * the caller with their line numbers.  Semantics live above it: the rules
 * every section shares in conf.c, which keys exist and what values mean in
 * the section tables (config.c and the parts that own a section).
 */
#include "core/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "[kind name]" -> kind, name (NULL if absent).  0, or -1 if malformed. */
static int
split_section(char *s, char **kind, char **name)
{
	size_t	 len = strlen(s);
	char	*sp;

	if (len < 2 || s[len - 1] != ']')
		return -1;
	s[len - 1] = '\0';
	s = trim(s + 1);
	if (*s == '\0')
		return -1;
	*kind = s;
	*name = NULL;
	if ((sp = strpbrk(s, " \t")) != NULL) {
		*sp = '\0';
		*name = trim(sp + 1);
		if (strpbrk(*name, " \t") != NULL)
			return -1;
	}
	return 0;
}

static int
parse_line(char *s, int line, const struct ini_handler *h, void *arg,
    char *err, size_t errlen)
{
	char	*kind, *name, *eq;

	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		if (split_section(s, &kind, &name) == -1) {
			snprintf(err, errlen, "malformed section header");
			return -1;
		}
		return h->section(arg, line, kind, name, err, errlen);
	}
	if ((eq = strchr(s, '=')) == NULL) {
		snprintf(err, errlen, "expected \"key = value\"");
		return -1;
	}
	*eq = '\0';
	s = trim(s);
	if (*s == '\0') {
		snprintf(err, errlen, "missing key before '='");
		return -1;
	}
	return h->key(arg, line, s, trim(eq + 1), err, errlen);
}

int
ini_parse(const char *path, const struct ini_handler *h, void *arg,
    char *err, size_t errlen)
{
	FILE	*f;
	char	*buf = NULL, msg[512];
	size_t	 cap = 0;
	ssize_t	 len;
	int	 line = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&buf, &cap, f)) != -1) {
		line++;
		msg[0] = '\0';
		if (len > INI_MAX_LINE) {
			snprintf(msg, sizeof(msg), "line longer than %d bytes",
			    INI_MAX_LINE);
			rc = -1;
		} else if (strlen(buf) != (size_t)len) {
			snprintf(msg, sizeof(msg), "NUL byte in line");
			rc = -1;
		} else
			rc = parse_line(buf, line, h, arg, msg, sizeof(msg));
		if (rc == INI_FAIL_PLACED) {
			snprintf(err, errlen, "%s", msg);
			rc = -1;
			break;
		}
		if (rc != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, line, msg);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	free(buf);
	fclose(f);
	return rc;
}
