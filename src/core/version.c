/*
 * version.c - the build's identity, in one object.
 *
 * The Makefile writes version.inc (scripts/version-gen: the tag or the
 * VERSION file, git's commit, the build date) into the build directory
 * and compiles this file alone with it on the include path, so a new
 * commit recompiles one small file, not every user of the values.  A
 * compile without it (the fuzz build, a hand-made one) still links and
 * says "unknown", which /__version__ then reports truthfully.
 */
#include "core/version.h"

#if defined(__has_include)
#if __has_include(<version.inc>)
#include <version.inc>
#endif
#endif

#ifndef TOKEND_VERSION
#define TOKEND_VERSION	"unknown"
#endif
#ifndef TOKEND_COMMIT
#define TOKEND_COMMIT	"unknown"
#endif
#ifndef TOKEND_BUILD
#define TOKEND_BUILD	"unknown"
#endif
#ifndef TOKEND_SOURCE
#define TOKEND_SOURCE	""
#endif

const char tokend_version[] = TOKEND_VERSION;
const char tokend_commit[] = TOKEND_COMMIT;
const char tokend_build[] = TOKEND_BUILD;
const char tokend_source[] = TOKEND_SOURCE;
