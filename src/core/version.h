/*
 * version.h - what tokend says of its own build: GET /__version__
 * (Dockerflow) and tokend -V.  The values are baked in by the Makefile
 * (scripts/version-gen); a build outside it says "unknown".
 */
#ifndef TOKEND_VERSION_H
#define TOKEND_VERSION_H

extern const char tokend_version[];	/* "0.1.0", a tag, "-dirty" */
extern const char tokend_commit[];	/* 40 hex digits, or "unknown" */
extern const char tokend_build[];	/* ISO 8601 UTC, or "unknown" */
extern const char tokend_source[];	/* repository URL, or "" */

#endif
