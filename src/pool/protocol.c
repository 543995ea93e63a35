/*
 * protocol.c - encoding and size-checked decoding of broker<->worker
 * messages, in one place for both sides (see protocol.h, docs/protocol.md).
 *
 * Like OpenSMTPD's mproc, nothing outside this file touches raw frames: a
 * message either parses whole (one frame, a known version, records that
 * end exactly at the frame's end) or is dropped with a reason.
 *
 * Version 2 packs a message into one frame because ZeroMQ's cost is per
 * frame, on both sides and in both I/O threads: with version 1's frame per
 * key and per value (7 frames a JOB, 17 a REPLY) the front spent a third
 * of its instructions per token on them (docs/performance.md).  Encoding
 * writes the records straight into the zmq_msg_t that is sent, so the
 * packing costs one copy of each value, as the frames did.
 */
#include "pool/protocol.h"

#include <errno.h>
#include <string.h>

#define HDR_LEN		2	/* version, command */
#define REC_OVERHEAD	5	/* key length (1), value length (4) */

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

/*
 * Receives every frame of one message; frames beyond the identity and
 * the first message frame are drained and counted in *extra.
 */
static int
recv_frames(void *sock, int router, int dontwait, struct proto_msg *m,
    size_t *extra)
{
	size_t	 keep = router ? 2 : 1, morelen;
	int	 more = 1;
	zmq_msg_t spill;

	m->nframes = 0;
	*extra = 0;
	while (more) {
		zmq_msg_t *f = m->nframes < keep ? &m->frames[m->nframes] :
		    &spill;

		zmq_msg_init(f);
		if (zmq_msg_recv(f, sock, dontwait && m->nframes == 0 ?
		    ZMQ_DONTWAIT : 0) == -1) {
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
			(*extra)++;
		} else
			m->nframes++;
	}
	return 0;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The records of a message body into m->f; -1 (and *why) if malformed. */
static int
parse_records(struct proto_msg *m, const uint8_t *p, size_t len,
    const char **why)
{
	size_t		 off = 0, n = 0, klen;
	uint32_t	 vlen;

	while (off < len) {
		if (n == PROTO_MAX_FIELDS) {
			*why = "too many fields";
			return -1;
		}
		if ((klen = p[off++]) == 0) {
			*why = "empty key";
			return -1;
		}
		if (len - off < klen + 4) {
			*why = "field runs past the end";
			return -1;
		}
		m->f[n].key = (const char *)p + off;
		m->f[n].keylen = klen;
		vlen = get_be32(p + off + klen);
		off += klen + 4;
		if (vlen > PROTO_MAX_VALUE) {
			*why = "value over the limit";
			return -1;
		}
		if (len - off < vlen) {
			*why = "field runs past the end";
			return -1;
		}
		m->f[n].val = p + off;
		m->f[n++].vallen = vlen;
		off += vlen;
	}
	m->nfields = n;
	return 0;
}

/*
 * The header first, so that even a message of another version says which
 * (the broker answers it in kind); then the one frame's records.
 */
static int
parse_frames(struct proto_msg *m, int router, size_t extra, const char **why)
{
	size_t		 i = router ? 1 : 0, len;
	const uint8_t	*p;

	m->version = 0;
	m->nfields = 0;
	if (m->nframes <= i) {
		*why = "no header";
		return -1;
	}
	p = zmq_msg_data(&m->frames[i]);
	if ((len = zmq_msg_size(&m->frames[i])) < HDR_LEN) {
		*why = "no header";
		return -1;
	}
	m->version = p[0];
	m->cmd = p[1];
	if (m->version != PROTO_VERSION) {
		*why = "unsupported protocol version";
		return -1;
	}
	if (extra > 0) {
		*why = "more than one frame";
		return -1;
	}
	return parse_records(m, p + HDR_LEN, len - HDR_LEN, why);
}

int
proto_recv(void *sock, int router, int dontwait, struct proto_msg *m,
    const char **why)
{
	size_t	extra;

	m->has_ident = router;
	m->nfields = 0;
	if (recv_frames(sock, router, dontwait, m, &extra) == -1)
		return -1;
	/* Keep the identity, so that the caller can name the peer. */
	return parse_frames(m, router, extra, why) == -1 ? 1 : 0;
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
	if (parse_frames(dst, dst->has_ident, 0, &why) == -1)
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

/* Decimal digits only: no sign, space or base prefix, at most 18. */
static int
parse_decimal(const char *s, size_t len, long *v)
{
	size_t	i;

	if (len == 0 || len > 18)
		return -1;
	for (*v = 0, i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
proto_get_long(const struct proto_msg *m, const char *key, long min,
    long max, long *v)
{
	const char	*s;
	size_t		 len;
	long		 n;

	if ((s = proto_get(m, key, &len)) == NULL ||
	    parse_decimal(s, len, &n) == -1 || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

int
proto_pick_version(const void *versions, size_t len)
{
	const char	*s = versions, *end, *comma;
	long		 v;
	int		 best = 0;

	/* A READY without "versions": NULL, which takes no offset. */
	if (s == NULL || len == 0)
		return 0;
	end = s + len;
	for (;;) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		if (parse_decimal(s, (size_t)(comma - s), &v) == -1 || v < 1 ||
		    v > 255)
			return 0;
		if (v == PROTO_VERSION)
			best = (int)v;
		if (comma == end)
			return best;
		s = comma + 1;
	}
}

/* The size of the message's one frame, or 0 if it cannot be sent. */
static size_t
message_size(const struct proto_field *fields, size_t nfields)
{
	size_t	i, size = HDR_LEN;

	if (nfields > PROTO_MAX_FIELDS)
		return 0;
	for (i = 0; i < nfields; i++) {
		if (fields[i].keylen == 0 || fields[i].keylen > PROTO_MAX_KEY ||
		    fields[i].vallen > PROTO_MAX_VALUE)
			return 0;
		size += REC_OVERHEAD + fields[i].keylen + fields[i].vallen;
	}
	return size > PROTO_MAX_FRAME ? 0 : size;
}

int
proto_fits(const struct proto_field *fields, size_t nfields)
{
	return message_size(fields, nfields) != 0;
}

static int
send_frame(void *sock, const void *data, size_t len, int more)
{
	return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) == -1 ? -1 : 0;
}

/* Writes header and records into msg, which has exactly their size. */
static void
encode(zmq_msg_t *msg, int cmd, const struct proto_field *fields,
    size_t nfields)
{
	uint8_t	*p = zmq_msg_data(msg);
	size_t	 i;

	*p++ = PROTO_VERSION;
	*p++ = (uint8_t)cmd;
	for (i = 0; i < nfields; i++) {
		*p++ = (uint8_t)fields[i].keylen;
		memcpy(p, fields[i].key, fields[i].keylen);
		p += fields[i].keylen;
		put_be32(p, (uint32_t)fields[i].vallen);
		p += 4;
		if (fields[i].vallen > 0)
			memcpy(p, fields[i].val, fields[i].vallen);
		p += fields[i].vallen;
	}
}

int
proto_send(void *sock, const void *ident, size_t identlen, int cmd,
    const struct proto_field *fields, size_t nfields)
{
	zmq_msg_t	msg;
	size_t		size;
	int		saved;

	/*
	 * The peer's ZeroMQ would drop the whole connection for an oversize
	 * frame, with what is queued on it: refuse before the first frame.
	 */
	if ((size = message_size(fields, nfields)) == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	if (ident != NULL && send_frame(sock, ident, identlen, 1) == -1)
		return -1;
	if (zmq_msg_init_size(&msg, size) == -1)
		return -1;
	encode(&msg, cmd, fields, nfields);
	if (zmq_msg_send(&msg, sock, 0) == -1) {
		saved = errno;
		zmq_msg_close(&msg);
		errno = saved;
		return -1;
	}
	return 0;
}

int
proto_send_v1(void *sock, const void *ident, size_t identlen, int cmd,
    const struct proto_field *fields, size_t nfields)
{
	uint8_t	hdr[HDR_LEN] = { 1, (uint8_t)cmd };
	size_t	i;

	if (message_size(fields, nfields) == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((ident != NULL && send_frame(sock, ident, identlen, 1) == -1) ||
	    send_frame(sock, hdr, sizeof(hdr), nfields > 0) == -1)
		return -1;
	for (i = 0; i < nfields; i++)
		if (send_frame(sock, fields[i].key, fields[i].keylen, 1) == -1 ||
		    send_frame(sock, fields[i].val, fields[i].vallen,
		    i + 1 < nfields) == -1)
			return -1;
	return 0;
}
