/*
 * protocol.c - encoding and size-checked decoding of broker<->worker
 * messages, in one place for both sides (see protocol.h, docs/protocol.md).
 *
 * Like OpenSMTPD's mproc, nothing outside this file touches raw frames: a
 * message either parses whole (header, even number of key/value frames,
 * known version) or is dropped with a reason.
 */
#include "pool/protocol.h"

#include <errno.h>
#include <string.h>

int
proto_sockopts(void *sock)
{
	int	linger = 0;
	int64_t	maxmsg = PROTO_MAX_FRAME;

	if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) == -1 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) == -1)
		return -1;
	return 0;
}

void
proto_msg_close(struct proto_msg *m)
{
	size_t	i;

	for (i = 0; i < m->nframes; i++)
		zmq_msg_close(&m->frames[i]);
	m->nframes = 0;
	m->nfields = 0;
}

/* Receives every frame of one message; extra frames are drained. */
static int
recv_frames(void *sock, int dontwait, struct proto_msg *m, int *overflow)
{
	int	more = 1;
	size_t	morelen;
	zmq_msg_t spill;

	m->nframes = 0;
	*overflow = 0;
	while (more) {
		zmq_msg_t *f = m->nframes < PROTO_MAX_FRAMES ?
		    &m->frames[m->nframes] : &spill;

		zmq_msg_init(f);
		if (zmq_msg_recv(f, sock, dontwait && m->nframes == 0 &&
		    !*overflow ? ZMQ_DONTWAIT : 0) == -1) {
			int saved = errno;

			zmq_msg_close(f);
			proto_msg_close(m);
			errno = saved;
			return -1;
		}
		morelen = sizeof(more);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &morelen);
		if (f == &spill) {
			zmq_msg_close(f);
			*overflow = 1;
		} else
			m->nframes++;
	}
	return 0;
}

static int
parse_frames(struct proto_msg *m, int router, const char **why)
{
	size_t		 i = router ? 1 : 0, n;
	const uint8_t	*hdr;

	if (m->nframes <= i) {
		*why = "no header frame";
		return -1;
	}
	if (zmq_msg_size(&m->frames[i]) != 2) {
		*why = "header frame is not 2 bytes";
		return -1;
	}
	hdr = zmq_msg_data(&m->frames[i]);
	if (hdr[0] != PROTO_VERSION) {
		*why = "unsupported protocol version";
		return -1;
	}
	m->cmd = hdr[1];
	i++;
	if ((m->nframes - i) % 2 != 0) {
		*why = "odd number of key/value frames";
		return -1;
	}
	for (n = 0; i < m->nframes; i += 2, n++) {
		m->f[n].key = zmq_msg_data(&m->frames[i]);
		m->f[n].keylen = zmq_msg_size(&m->frames[i]);
		m->f[n].val = zmq_msg_data(&m->frames[i + 1]);
		m->f[n].vallen = zmq_msg_size(&m->frames[i + 1]);
		if (m->f[n].keylen == 0) {
			*why = "empty key frame";
			return -1;
		}
	}
	m->nfields = n;
	return 0;
}

int
proto_recv(void *sock, int router, int dontwait, struct proto_msg *m,
    const char **why)
{
	int	overflow;

	m->has_ident = router;
	m->nfields = 0;
	if (recv_frames(sock, dontwait, m, &overflow) == -1)
		return -1;
	if (overflow) {
		*why = "too many frames";
		proto_msg_close(m);
		return 1;
	}
	if (parse_frames(m, router, why) == -1) {
		/* Keep the identity so the caller can name the peer. */
		return 1;
	}
	return 0;
}

void
proto_msg_move(struct proto_msg *dst, struct proto_msg *src)
{
	const char	*why;
	size_t		 i;

	/*
	 * Small frames live inside zmq_msg_t itself, so a moved frame's data
	 * pointer changes: parse the moved frames again.
	 */
	for (i = 0; i < src->nframes; i++) {
		zmq_msg_init(&dst->frames[i]);
		zmq_msg_move(&dst->frames[i], &src->frames[i]);
		zmq_msg_close(&src->frames[i]);
	}
	dst->nframes = src->nframes;
	dst->has_ident = src->has_ident;
	src->nframes = 0;
	src->nfields = 0;
	if (parse_frames(dst, dst->has_ident, &why) == -1)
		dst->nfields = 0;	/* src parsed, so this cannot happen */
}

const void *
proto_ident(const struct proto_msg *m, size_t *len)
{
	if (!m->has_ident || m->nframes == 0) {
		*len = 0;
		return NULL;
	}
	*len = zmq_msg_size((zmq_msg_t *)&m->frames[0]);
	return zmq_msg_data((zmq_msg_t *)&m->frames[0]);
}

const void *
proto_get(const struct proto_msg *m, const char *key, size_t *len)
{
	size_t	i, klen = strlen(key);

	for (i = 0; i < m->nfields; i++)
		if (m->f[i].keylen == klen &&
		    memcmp(m->f[i].key, key, klen) == 0) {
			*len = m->f[i].vallen;
			return m->f[i].val;
		}
	*len = 0;
	return NULL;
}

int
proto_get_str(const struct proto_msg *m, const char *key, char *buf,
    size_t buflen)
{
	const void	*v;
	size_t		 len;

	if ((v = proto_get(m, key, &len)) == NULL || len >= buflen ||
	    memchr(v, '\0', len) != NULL)
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return 0;
}

int
proto_fits(const struct proto_field *fields, size_t nfields)
{
	size_t	i;

	for (i = 0; i < nfields; i++)
		if (fields[i].vallen > PROTO_MAX_VALUE)
			return 0;
	return 1;
}

static int
send_frame(void *sock, const void *data, size_t len, int more)
{
	return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) == -1 ? -1 : 0;
}

int
proto_send(void *sock, const void *ident, size_t identlen, int cmd,
    const struct proto_field *fields, size_t nfields)
{
	uint8_t	hdr[2] = { PROTO_VERSION, (uint8_t)cmd };
	size_t	i;

	/*
	 * The peer's ZeroMQ would drop the whole connection for an oversize
	 * frame, with what is queued on it: refuse before the first frame.
	 */
	if (!proto_fits(fields, nfields)) {
		errno = EMSGSIZE;
		return -1;
	}
	if (ident != NULL && send_frame(sock, ident, identlen, 1) == -1)
		return -1;
	if (send_frame(sock, hdr, sizeof(hdr), nfields > 0) == -1)
		return -1;
	for (i = 0; i < nfields; i++) {
		if (send_frame(sock, fields[i].key, fields[i].keylen, 1) == -1 ||
		    send_frame(sock, fields[i].val, fields[i].vallen,
		    i + 1 < nfields) == -1)
			return -1;
	}
	return 0;
}
