/*
 * zap.c - who may join the front's TCP endpoint (docs/protocol.md,
 * "Transport"; docs/security.md, "The remote workers' port").
 *
 * CURVE alone encrypts, but admits any client key: without a ZAP handler
 * anyone who can reach the port can join the pool and be handed users'
 * assertions.  So the front answers ZAP (RFC 27) itself, in its own loop:
 * a request whose mechanism is CURVE and whose client key is in
 * authorized_keys gets 200 and, as its user id, the key in Z85, which
 * libzmq then attaches to every message of that connection as the
 * "User-Id" property: the broker reads it to know which key a worker
 * joined with, so that taking the key out of the list cuts the worker off
 * (ZAP runs at the handshake only).  Anything else gets 400.
 *
 * A peer that speaks no CURVE at all never reaches ZAP: its handshake
 * fails on the mechanism.  The socket monitor reports that (without the
 * peer's address, which libzmq does not give for a failed handshake), so
 * such a peer is logged as well.  A log line per refusal would let any
 * peer fill the journal: each kind of refusal is logged at most once a
 * minute per peer, saying how many were left out.
 */
#include "pool/zap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "core/log.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define MONITOR_ENDPOINT "inproc://tokend.remote.monitor"
#define ZAP_FRAMES	8	/* a CURVE request has 7 */
#define LOG_EVERY_MS	60000
#define PEERS		64	/* peers whose last line is remembered */
#define PEER_MAX	128

struct peer_log {
	char		 peer[PEER_MAX];
	uint64_t	 last;		/* mono ms of its last line; 0: free */
	unsigned	 skipped;
};

struct zap {
	void		*ctx;
	void		*handler;	/* REP at ZAP_ENDPOINT */
	void		*monitor;	/* PAIR, the router's events */
	struct authkeys	 keys;
	struct peer_log	 logs[PEERS];
	unsigned long	 refused;
};

int
zap_may_log(struct zap *z, const char *peer, uint64_t now, unsigned *skipped)
{
	struct peer_log	*p, *oldest = &z->logs[0];
	int		 i;

	for (i = 0; i < PEERS; i++) {
		p = &z->logs[i];
		if (p->last != 0 && strncmp(p->peer, peer, PEER_MAX - 1) == 0)
			break;
		if (p->last < oldest->last)
			oldest = p;
	}
	if (i == PEERS) {
		p = oldest;
		snprintf(p->peer, sizeof(p->peer), "%s", peer);
		p->skipped = 0;
		p->last = 0;
	}
	if (p->last != 0 && now - p->last < LOG_EVERY_MS) {
		p->skipped++;
		return 0;
	}
	*skipped = p->skipped;
	p->skipped = 0;
	p->last = now != 0 ? now : 1;
	return 1;
}

/* Receives the rest of a request's frames into f; returns how many. */
static int
recv_request(void *sock, zmq_msg_t *f, int first_done)
{
	int	n = first_done, more = 1;
	size_t	morelen;

	while (more) {
		zmq_msg_t	 spill, *m = n < ZAP_FRAMES ? &f[n] : &spill;

		if (n > 0 || !first_done) {
			zmq_msg_init(m);
			if (zmq_msg_recv(m, sock, n == 0 ? ZMQ_DONTWAIT : 0) ==
			    -1) {
				zmq_msg_close(m);
				return n == 0 ? -1 : n;
			}
		}
		morelen = sizeof(more);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &morelen);
		if (m == &spill)
			zmq_msg_close(m);
		n++;
	}
	return n;
}

static int
frame_is(zmq_msg_t *m, const char *s)
{
	return zmq_msg_size(m) == strlen(s) &&
	    memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

static void
send_str(void *sock, const void *p, size_t len, int more)
{
	(void)zmq_send(sock, p, len, more ? ZMQ_SNDMORE : 0);
}

/* The frame's bytes as printable text, for a log line. */
static const char *
frame_text(zmq_msg_t *m, char *buf, size_t len)
{
	const char	*p = zmq_msg_data(m);
	size_t		 i, n = zmq_msg_size(m);

	for (i = 0; i < n && i + 1 < len; i++)
		buf[i] = p[i] >= ' ' && p[i] <= '~' ? p[i] : '?';
	buf[i] = '\0';
	return i > 0 ? buf : "an unknown address";
}

/*
 * Answers one request: frames 0-6 are version, request id, domain,
 * address, routing id, mechanism, and (CURVE) the client's key.
 */
static void
answer(struct zap *z, zmq_msg_t *f, int n, uint64_t now)
{
	const struct authkey	*k = NULL;
	char			 addr[64], who[PEER_MAX];
	char			 z85[CURVE_Z85_LEN + 1];
	const char		*why = "it offers no CURVE key";
	unsigned		 skipped;
	int			 ok = 0;

	if (n >= 7 && frame_is(&f[5], "CURVE") &&
	    zmq_msg_size(&f[6]) == CURVE_KEY_LEN) {
		zmq_z85_encode(z85, zmq_msg_data(&f[6]), CURVE_KEY_LEN);
		if ((k = authkeys_find(&z->keys, zmq_msg_data(&f[6]))) != NULL)
			ok = 1;
		else
			why = "its CURVE key is not in authorized_keys";
	} else
		snprintf(z85, sizeof(z85), "none");
	if (n >= 4)
		frame_text(&f[3], addr, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "an unknown address");
	if (!ok) {
		z->refused++;
		snprintf(who, sizeof(who), "%s %s", addr, z85);
		if (zap_may_log(z, who, now, &skipped))
			log_warnx("remote worker host %s refused: %s (key %s)"
			    "%s", addr, why, z85, skipped > 0 ?
			    "; more refusals of it since the last line" : "");
	} else
		log_debug("remote worker host %s admitted: key %s (%s)", addr,
		    k->z85, k->name);
	send_str(z->handler, "1.0", 3, 1);
	send_str(z->handler, n >= 2 ? zmq_msg_data(&f[1]) : "",
	    n >= 2 ? zmq_msg_size(&f[1]) : 0, 1);
	send_str(z->handler, ok ? "200" : "400", 3, 1);
	send_str(z->handler, ok ? "OK" : "not authorized", ok ? 2 : 14, 1);
	/* The user id: the key, which the broker reads as "User-Id". */
	send_str(z->handler, ok ? k->z85 : "", ok ? CURVE_Z85_LEN : 0, 1);
	send_str(z->handler, "", 0, 0);
}

/* A handshake that failed before ZAP, or that ZAP failed. */
static void
on_event(struct zap *z, uint16_t event, uint32_t value, uint64_t now)
{
	const char	*what;
	unsigned	 skipped;

	log_debug("remote endpoint: event %#x, value %#x", event, value);
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
		return;		/* answer() said why */
	/*
	 * A peer without CURVE is seen one of two ways: the front reads its
	 * greeting first (a mechanism mismatch), or the peer reads the
	 * front's, finds CURVE, and hangs up (no detail).
	 */
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
	    value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
		what = "it does not speak CURVE (plain TCP is not offered)";
	else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
		what = "it broke the ZMTP or CURVE handshake";
	else
		what = "its handshake failed: it hung up (a peer without "
		    "CURVE does), or did not finish in handshake_timeout";
	z->refused++;
	/* One line a minute for all such peers: libzmq names none. */
	if (zap_may_log(z, "a handshake failed before ZAP", now, &skipped))
		log_warnx("a peer of the remote workers' endpoint was refused: "
		    "%s%s", what, skipped > 0 ? "; more since the last line" :
		    "");
}

static void
read_monitor(struct zap *z, uint64_t now)
{
	zmq_msg_t	ev;
	uint16_t	event;
	uint32_t	value;
	int		more;
	size_t		morelen;

	zmq_msg_init(&ev);
	while (zmq_msg_recv(&ev, z->monitor, ZMQ_DONTWAIT) != -1) {
		/* Frame 1: event (16 bits), value (32); frame 2: endpoint. */
		if (zmq_msg_size(&ev) >= sizeof(event) + sizeof(value)) {
			memcpy(&event, zmq_msg_data(&ev), sizeof(event));
			memcpy(&value, (uint8_t *)zmq_msg_data(&ev) +
			    sizeof(event), sizeof(value));
			on_event(z, event, value, now);
		}
		morelen = sizeof(more);
		while (zmq_getsockopt(z->monitor, ZMQ_RCVMORE, &more,
		    &morelen) == 0 && more &&
		    zmq_msg_recv(&ev, z->monitor, 0) != -1)
			morelen = sizeof(more);
	}
	zmq_msg_close(&ev);
}

void
zap_read(struct zap *z, uint64_t now)
{
	zmq_msg_t	f[ZAP_FRAMES];
	int		n, i, batch;

	/* A bounded batch: the loop has requests to serve too. */
	for (batch = 0; batch < 64; batch++) {
		if ((n = recv_request(z->handler, f, 0)) <= 0)
			break;
		if (n >= 1 && frame_is(&f[0], "1.0"))
			answer(z, f, n < ZAP_FRAMES ? n : ZAP_FRAMES, now);
		else {
			/* Not from libzmq: still answer, or REP is stuck. */
			send_str(z->handler, "1.0", 3, 1);
			send_str(z->handler, "", 0, 1);
			send_str(z->handler, "500", 3, 1);
			send_str(z->handler, "bad request", 11, 1);
			send_str(z->handler, "", 0, 1);
			send_str(z->handler, "", 0, 0);
		}
		for (i = 0; i < n && i < ZAP_FRAMES; i++)
			zmq_msg_close(&f[i]);
	}
	if (z->monitor != NULL)
		read_monitor(z, now);
}

struct zap *
zap_new(void *ctx, struct authkeys *keys)
{
	struct zap	*z;
	int		 linger = 0;

	if ((z = calloc(1, sizeof(*z))) == NULL) {
		log_warnx("zap: out of memory");
		return NULL;
	}
	z->ctx = ctx;
	if ((z->handler = zmq_socket(ctx, ZMQ_REP)) == NULL ||
	    zmq_setsockopt(z->handler, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1 ||
	    zmq_bind(z->handler, ZAP_ENDPOINT) == -1) {
		log_warnx("zap: bind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(errno));
		zap_free(z);
		return NULL;
	}
	z->keys = *keys;
	keys->v = NULL;
	keys->n = 0;
	return z;
}

int
zap_watch(struct zap *z, void *sock)
{
	int	linger = 0;

	if (zmq_socket_monitor(sock, MONITOR_ENDPOINT,
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == -1 ||
	    (z->monitor = zmq_socket(z->ctx, ZMQ_PAIR)) == NULL ||
	    zmq_setsockopt(z->monitor, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1 ||
	    zmq_connect(z->monitor, MONITOR_ENDPOINT) == -1) {
		log_warnx("zap: monitor: %s", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

void *
zap_socket(struct zap *z)
{
	return z->handler;
}

void *
zap_monitor(struct zap *z)
{
	return z->monitor;
}

const struct authkeys *
zap_keys(const struct zap *z)
{
	return &z->keys;
}

void
zap_set_keys(struct zap *z, struct authkeys *keys)
{
	authkeys_free(&z->keys);
	z->keys = *keys;
	keys->v = NULL;
	keys->n = 0;
}

unsigned long
zap_refused(const struct zap *z)
{
	return z->refused;
}

void
zap_free(struct zap *z)
{
	if (z == NULL)
		return;
	if (z->monitor != NULL)
		zmq_close(z->monitor);
	if (z->handler != NULL)
		zmq_close(z->handler);
	authkeys_free(&z->keys);
	free(z);
}
