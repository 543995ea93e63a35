/*
 * guardio.h - the front's table of guards, one per client connection, and
 * the recv() that libmicrohttpd reads through (guardio.c says how).
 */
#ifndef TOKEND_GUARDIO_H
#define TOKEND_GUARDIO_H

#include <stddef.h>
#include <sys/types.h>

struct guard;

/* Room for descriptors 0 .. max_fd - 1; -1 if out of memory. */
int		 guardio_init(size_t max_fd);
/* A new connection on fd reads through a fresh guard from now on. */
int		 guardio_open(int fd, size_t max_head, size_t max_body);
void		 guardio_close(int fd);
/* The guard of fd, or NULL. */
struct guard	*guardio_get(int fd);

#endif
