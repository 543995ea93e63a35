/*
 * notify.c - tells systemd about the supervisor's state (Type=notify).
 *
 * The protocol is a datagram of "KEY=VALUE" lines to the AF_UNIX socket in
 * $NOTIFY_SOCKET; a leading '@' names the abstract namespace.  Only the
 * supervisor (systemd's main process, NotifyAccess=main) sends.
 */
#include "core/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
notify_send(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	size_t			 len;
	socklen_t		 salen;
	int			 fd, rc;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return -1;
	len = strlen(path);
	if (len >= sizeof(sun.sun_path))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    salen) == -1 ? -1 : 0;
	close(fd);
	return rc;
}

uint64_t
notify_watchdog_ms(void)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	char		*end;
	unsigned long long v;

	if (usec == NULL)
		return 0;
	/* The variables may be meant for a parent that exec'd us. */
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	return v / 1000 > 0 ? v / 1000 : 1;
}
