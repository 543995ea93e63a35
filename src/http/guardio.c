/*
 * guardio.c - every byte libmicrohttpd reads passes through a guard.
 *
 * The tokend binary links libmicrohttpd statically with -Wl,--wrap=recv
 * (Makefile): the linker points MHD's recv() calls, and no other
 * library's, at __wrap_recv() below.  A connection the front registered
 * (guardio_open, from MHD's connection notification) reads through its
 * guard (httpguard.c); any other descriptor reads as before.
 *
 * MHD waits on epoll edges: after a read that returned less than it asked
 * for, it reads again only when new bytes arrive.  So a guarded read
 * returns either all it was asked for, or everything the socket had, and
 * reads until the socket says EAGAIN: bytes held back by the guard (a
 * head not yet whole) then always have more bytes, or an end, coming.
 * The same loop sees a client's FIN at once, which MHD would only see at
 * idle_timeout when it came with the request (guard_eof, front.c).
 */
#include "http/guardio.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "http/httpguard.h"

static struct guard	**guards;	/* by descriptor */
static size_t		  nguards;

int
guardio_init(size_t max_fd)
{
	if ((guards = calloc(max_fd, sizeof(*guards))) == NULL)
		return -1;
	nguards = max_fd;
	return 0;
}

int
guardio_open(int fd, size_t max_head, size_t max_body)
{
	struct guard	*g;

	if (fd < 0 || (size_t)fd >= nguards || guards[fd] != NULL)
		return -1;
	if ((g = malloc(sizeof(*g))) == NULL)
		return -1;
	guard_init(g, max_head, max_body);
	guards[fd] = g;
	return 0;
}

void
guardio_close(int fd)
{
	if (fd < 0 || (size_t)fd >= nguards || guards[fd] == NULL)
		return;
	guard_free(guards[fd]);
	free(guards[fd]);
	guards[fd] = NULL;
}

struct guard *
guardio_get(int fd)
{
	return fd >= 0 && (size_t)fd < nguards ? guards[fd] : NULL;
}

ssize_t	__real_recv(int, void *, size_t, int);
ssize_t	__wrap_recv(int, void *, size_t, int);

ssize_t
__wrap_recv(int fd, void *buf, size_t len, int flags)
{
	struct guard	*g = guardio_get(fd);
	char		 in[16384];
	ssize_t		 n;
	int		 saved = EAGAIN;

	if (g == NULL || (flags & MSG_PEEK))
		return __real_recv(fd, buf, len, flags);
	while (guard_pending(g) < len && g->state != GS_DEAD) {
		n = __real_recv(fd, in, sizeof(in), flags);
		if (n > 0) {
			if (guard_feed(g, in, (size_t)n) == -1) {
				errno = ENOMEM;
				return -1;
			}
		} else if (n == 0)
			guard_eof(g);
		else if (errno != EINTR) {
			saved = errno;
			break;
		}
	}
	if (guard_pending(g) > 0)
		return (ssize_t)guard_take(g, buf, len);
	if (g->peer_closed)
		return 0;
	/* Refused: nothing more is read; MHD closes after the answer. */
	errno = g->state == GS_DEAD ? EAGAIN : saved;
	return -1;
}
