/*
 * front.h - the front process: libmicrohttpd threads that parse requests
 * and suspend them, and the broker thread that gets them answered.
 */
#ifndef TOKEND_FRONT_H
#define TOKEND_FRONT_H

struct config;

/* Serves until SIGTERM, then drains; returns the process exit code. */
int	front_main(struct config *cfg);

#endif
