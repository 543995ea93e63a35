/*
 * clock.h - the two clocks tokend reads: monotonic milliseconds for
 * deadlines and heartbeats (never jumps), wall-clock seconds for token
 * expiry and claim checks.
 */
#ifndef TOKEND_CLOCK_H
#define TOKEND_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline int64_t
wall_s(void)
{
	return (int64_t)time(NULL);
}

#endif
