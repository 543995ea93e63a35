/*
 * notify.h - the systemd notify protocol (sd_notify), without libsystemd.
 */
#ifndef TOKEND_NOTIFY_H
#define TOKEND_NOTIFY_H

#include <stdint.h>

/*
 * Sends msg ("READY=1", "STOPPING=1", ...) as one datagram to the socket
 * named by $NOTIFY_SOCKET.  Returns 0, or -1 if there is no such socket or
 * the send failed (tokend runs fine without systemd).
 */
int	notify_send(const char *msg);

/* The watchdog interval systemd asked for, in ms; 0 when there is none. */
uint64_t notify_watchdog_ms(void);

#endif
