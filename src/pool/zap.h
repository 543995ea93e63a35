/*
 * zap.h - the gate of the front's TCP endpoint for remote workers: a ZAP
 * handler that admits only the CURVE keys of authorized_keys, and a
 * monitor of the handshakes that fail before ZAP is asked.
 *
 * Both live in the broker's context and are served by the front's one
 * loop (no thread): libzmq's I/O thread asks ZAP at each CURVE handshake
 * and waits for the answer, which zap_read() gives.  Refusals are logged
 * at most once a minute per peer address, with how many were not.
 */
#ifndef TOKEND_ZAP_H
#define TOKEND_ZAP_H

#include <stdint.h>

#include "pool/curve.h"

struct zap;

/*
 * Binds the ZAP handler in ctx (before any CURVE server socket of ctx
 * accepts) and takes keys (moved: *keys is left empty).  NULL, logged.
 */
struct zap	*zap_new(void *ctx, struct authkeys *keys);
/*
 * Watches the handshakes of sock (the CURVE ROUTER) through a monitor, so
 * that a peer without CURVE is logged too.  0, or -1 logged.
 */
int		 zap_watch(struct zap *, void *sock);
/* The sockets to poll for ZMQ_POLLIN: the handler's, then the monitor's. */
void		*zap_socket(struct zap *);
void		*zap_monitor(struct zap *);
/* Answers the waiting ZAP requests and reads the monitor's events. */
void		 zap_read(struct zap *, uint64_t now_ms);
/* The keys now admitted. */
const struct authkeys *zap_keys(const struct zap *);
/* Replaces the keys (moved) from the next handshake on. */
void		 zap_set_keys(struct zap *, struct authkeys *keys);
/*
 * Whether a line about peer (any text: an address, a key) may be logged
 * now: once a minute per peer.  *skipped gets how many were not since.
 */
int		 zap_may_log(struct zap *, const char *peer, uint64_t now_ms,
		    unsigned *skipped);
/* Refusals since start: ZAP's, and handshakes that failed before it. */
unsigned long	 zap_refused(const struct zap *);
void		 zap_free(struct zap *);

#endif
