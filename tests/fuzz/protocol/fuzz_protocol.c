/*
 * fuzz_protocol.c - libFuzzer harness of the worker protocol's decoder
 * (src/pool/protocol.c), on both sides: the broker's ROUTER receiving
 * from a worker, and a worker's DEALER receiving from the broker.
 *
 * Workers may be written in other languages, run on other hosts, or be
 * broken, and a front that a malformed message could crash is an outage
 * for every client; the broker's frames, read by a worker holding every
 * secret, deserve no more trust.  So the harness sends the input's frames
 * over a real ZeroMQ pair (inproc, as tests/unit/test_protocol.c does) and
 * checks what proto_recv() makes of them against docs/protocol.md, read
 * independently here:
 *
 *   - a message is taken exactly when the spec's layout holds (one frame,
 *     version 2, records that fill the frame, keys of 1 to 255 bytes,
 *     values of at most 65536, at most 16 fields) and dropped with a
 *     reason otherwise, its header's version and command still told (so
 *     that a version-1 peer can be refused in its own layout);
 *   - no declared length reads past the frame: every key and value lies
 *     inside the received frame, where the spec puts it;
 *   - what decodes re-encodes to the same bytes: proto_send() of the
 *     decoded fields gives the very frame received, and proto_send_v1() of
 *     a version-1 message's fields its very frames;
 *   - the accessors agree with the spec: proto_get() finds a key's first
 *     field, proto_get_str(), proto_get_long() and proto_pick_version()
 *     take exactly the values the spec allows, proto_msg_move() keeps the
 *     fields.
 *
 * Input: a byte of settings (bit 0: 0 the broker receives, 1 a worker
 * does; bits 1-3: the number of frames less one), one length byte for
 * each frame but the last, then the frames' bytes (the last frame takes
 * what remains).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "pool/protocol.h"

#include "../fuzz.h"

#define ENDPOINT	"inproc://fuzz-protocol"
#define IDENT		"w"		/* the worker's routing identity */
#define DEADLINE_MS	5000		/* a message lost is a failure */
#define MAX_FRAMES	8
#define HDR_LEN		2

static void	*ctx, *broker, *worker;

/* What the input sends, frame by frame. */
struct frames {
	const uint8_t	*p[MAX_FRAMES];
	size_t		 len[MAX_FRAMES];
	size_t		 n;
};

/* A field as the spec reads it. */
struct field {
	const uint8_t	*key, *val;
	size_t		 keylen, vallen;
};

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_protocol: %s: %s\n", what, zmq_strerror(errno));
	abort();
}

/* Receives one multipart message raw, returning its frames' count. */
static size_t
recv_raw(void *sock, zmq_msg_t frames[MAX_FRAMES + 1])
{
	size_t	n = 0, len;
	int	more = 1;

	while (more) {
		FUZZ_CHECK(n <= MAX_FRAMES);
		zmq_msg_init(&frames[n]);
		if (zmq_msg_recv(&frames[n], sock, 0) == -1)
			die("zmq_msg_recv");
		len = sizeof(more);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
		n++;
	}
	return n;
}

/*
 * A send of what was decoded must succeed.  One run under a loaded
 * machine (1.3M executions in, not reproducible from its input alone)
 * saw it fail: say with which errno, so that the next one tells whether
 * it was the socket (EAGAIN, a timeout) or the encoder (EMSGSIZE).
 */
static void
sent_ok(int rc)
{
	if (rc == -1)
		fprintf(stderr, "fuzz_protocol: send of a decoded message: "
		    "%s\n", zmq_strerror(errno));
	FUZZ_CHECK(rc == 0);
}

static void
close_raw(zmq_msg_t *frames, size_t n)
{
	while (n > 0)
		zmq_msg_close(&frames[--n]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int		 timeo = DEADLINE_MS;
	/*
	 * No high-water mark: every message is taken within its own input,
	 * so none ever queues, and an inproc pipe's credit (returned to the
	 * writer by commands it processes only now and then) can never make
	 * a send wait on a queue that is in fact empty.
	 */
	int		 nohwm = 0;
	zmq_msg_t	 hello[MAX_FRAMES + 1];

	if ((ctx = zmq_ctx_new()) == NULL ||
	    (broker = zmq_socket(ctx, ZMQ_ROUTER)) == NULL ||
	    (worker = zmq_socket(ctx, ZMQ_DEALER)) == NULL ||
	    proto_sockopts(broker) == -1 || proto_sockopts(worker) == -1 ||
	    zmq_setsockopt(broker, ZMQ_RCVTIMEO, &timeo, sizeof(timeo)) ||
	    zmq_setsockopt(worker, ZMQ_RCVTIMEO, &timeo, sizeof(timeo)) ||
	    zmq_setsockopt(broker, ZMQ_SNDHWM, &nohwm, sizeof(nohwm)) ||
	    zmq_setsockopt(broker, ZMQ_RCVHWM, &nohwm, sizeof(nohwm)) ||
	    zmq_setsockopt(worker, ZMQ_SNDHWM, &nohwm, sizeof(nohwm)) ||
	    zmq_setsockopt(worker, ZMQ_RCVHWM, &nohwm, sizeof(nohwm)) ||
	    zmq_setsockopt(broker, ZMQ_SNDTIMEO, &timeo, sizeof(timeo)) ||
	    zmq_setsockopt(worker, ZMQ_SNDTIMEO, &timeo, sizeof(timeo)) ||
	    zmq_setsockopt(worker, ZMQ_ROUTING_ID, IDENT, strlen(IDENT)) ||
	    zmq_bind(broker, ENDPOINT) == -1 ||
	    zmq_connect(worker, ENDPOINT) == -1)
		die("sockets");
	/* The broker knows the worker once a message has come from it. */
	if (zmq_send(worker, "", 0, 0) == -1)
		die("zmq_send");
	close_raw(hello, recv_raw(broker, hello));
	return 0;
}

static void
read_frames(struct frames *fr, const uint8_t *data, size_t size)
{
	const uint8_t	*p, *end = data + size;
	size_t		 i;

	/* No more frames than there are length bytes for. */
	if ((fr->n = ((data[0] >> 1) & 7) + 1) > size)
		fr->n = size;
	p = data + fr->n;
	for (i = 0; i < fr->n; i++) {
		fr->len[i] = i + 1 < fr->n ? data[1 + i] : (size_t)(end - p);
		if (fr->len[i] > (size_t)(end - p))
			fr->len[i] = (size_t)(end - p);
		fr->p[i] = p;
		p += fr->len[i];
	}
}

/* Sends the frames as one message; to the worker behind its identity. */
static void
send_frames(void *sock, int to_worker, const struct frames *fr)
{
	size_t	i;

	if (to_worker && zmq_send(sock, IDENT, strlen(IDENT), ZMQ_SNDMORE) ==
	    -1)
		die("zmq_send");
	for (i = 0; i < fr->n; i++)
		if (zmq_send(sock, fr->p[i], fr->len[i], i + 1 < fr->n ?
		    ZMQ_SNDMORE : 0) == -1)
			die("zmq_send");
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * The records after a frame's header, by docs/protocol.md: 0 and the
 * fields, or -1 if the layout breaks.
 */
static int
spec_records(const uint8_t *p, size_t len, struct field *f, size_t *n)
{
	size_t		off = HDR_LEN, k;
	uint32_t	v;

	for (*n = 0; off < len; (*n)++) {
		if (*n == PROTO_MAX_FIELDS || (k = p[off++]) == 0 ||
		    len - off < k + 4)
			return -1;
		f[*n].key = p + off;
		f[*n].keylen = k;
		v = be32(p + off + k);
		off += k + 4;
		if (v > PROTO_MAX_VALUE || len - off < v)
			return -1;
		f[*n].val = p + off;
		f[*n].vallen = v;
		off += v;
	}
	return 0;
}

/* The spec's integer: 1 to 18 decimal digits and nothing else. */
static int
spec_decimal(const uint8_t *s, size_t len, long *v)
{
	char	buf[19];

	if (len == 0 || len > 18)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strspn(buf, "0123456789") != len)
		return -1;
	*v = strtol(buf, NULL, 10);
	return 0;
}

/* READY's "versions": 1-255s between single commas; 2 if one is 2. */
static int
spec_versions(const uint8_t *s, size_t len)
{
	size_t	start = 0, i;
	long	v;
	int	best = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		if (spec_decimal(s + start, i - start, &v) == -1 || v < 1 ||
		    v > 255)
			return 0;
		if (v == PROTO_VERSION)
			best = PROTO_VERSION;
		start = i + 1;
	}
	return best;
}

/*
 * The accessors on key: the first field of that key wins, and a key no
 * field has gives nothing.
 */
static void
check_key(const struct proto_msg *m, const char *key)
{
	static const long	 ranges[2][2] = { { 0, LONG_MAX }, { 1, 100 } };
	const struct proto_field *f = m->f;
	const void	*v, *want_v = NULL;
	char		 buf[64];
	size_t		 i, len, want_len = 0, klen = strlen(key);
	long		 got, want;
	int		 rc, r, is_str, is_long;

	for (i = m->nfields; i-- > 0; )
		if (f[i].keylen == klen && memcmp(f[i].key, key, klen) == 0) {
			want_v = f[i].val;
			want_len = f[i].vallen;
		}
	v = proto_get(m, key, &len);
	FUZZ_CHECK(v == want_v && len == want_len);
	rc = proto_get_str(m, key, buf, sizeof(buf));
	is_str = v != NULL && len < sizeof(buf) &&
	    memchr(v, '\0', len) == NULL;
	FUZZ_CHECK((rc == 0) == is_str);
	if (rc == 0)
		FUZZ_CHECK(memcmp(buf, v, len) == 0 && buf[len] == '\0');
	for (r = 0; r < 2; r++) {
		rc = proto_get_long(m, key, ranges[r][0], ranges[r][1], &got);
		is_long = v != NULL && spec_decimal(v, len, &want) == 0 &&
		    want >= ranges[r][0] && want <= ranges[r][1];
		FUZZ_CHECK((rc == 0) == is_long);
		if (rc == 0)
			FUZZ_CHECK(got == want);
	}
	if (strcmp(key, "versions") == 0)
		FUZZ_CHECK(proto_pick_version(v, len) ==
		    (len > 0 ? spec_versions(v, len) : 0));
}

/* Every key a field names (as a C string can), and the spec's keys. */
static void
check_accessors(const struct proto_msg *m)
{
	static const char *const spec_keys[] = {
		"versions", "credit", "pid", "worker", "job", "service",
		"assertion", "client_state", "kind", "error", "name",
		"description", "version", "heartbeat_interval", "reason",
	};
	char	key[PROTO_MAX_KEY + 1];
	size_t	i;

	for (i = 0; i < sizeof(spec_keys) / sizeof(spec_keys[0]); i++)
		check_key(m, spec_keys[i]);
	for (i = 0; i < m->nfields; i++) {
		if (memchr(m->f[i].key, '\0', m->f[i].keylen) != NULL)
			continue;	/* a C string cannot name it */
		memcpy(key, m->f[i].key, m->f[i].keylen);
		key[m->f[i].keylen] = '\0';
		check_key(m, key);
	}
}

/* proto_send() of what was decoded gives the frame that was received. */
static void
check_reencode(const struct proto_msg *m, int to_worker,
    const struct frames *fr)
{
	zmq_msg_t	 raw[MAX_FRAMES + 1];
	void		*from = to_worker ? broker : worker;
	void		*to = to_worker ? worker : broker;
	size_t		 n, skip = to_worker ? 0 : 1;

	if (fr->len[0] > PROTO_MAX_FRAME)
		return;		/* ZMQ_MAXMSGSIZE keeps it off the wire */
	FUZZ_CHECK(proto_fits(m->f, m->nfields));
	sent_ok(proto_send(from, to_worker ? IDENT : NULL, to_worker ?
	    strlen(IDENT) : 0, m->cmd, m->f, m->nfields));
	n = recv_raw(to, raw);
	FUZZ_CHECK(n == skip + 1);
	FUZZ_CHECK(zmq_msg_size(&raw[skip]) == fr->len[0] &&
	    memcmp(zmq_msg_data(&raw[skip]), fr->p[0], fr->len[0]) == 0);
	close_raw(raw, n);
}

/* A message taken whole: the fields are the spec's, and lie in the frame. */
static void
check_taken(struct proto_msg *m, int to_worker, const struct frames *fr,
    const struct field *f, size_t n)
{
	const uint8_t	*frame = zmq_msg_data(&m->frames[m->has_ident]);
	struct proto_msg moved;
	size_t		 i;

	FUZZ_CHECK(m->version == PROTO_VERSION && m->cmd == fr->p[0][1]);
	FUZZ_CHECK(m->nframes == 1u + m->has_ident &&
	    zmq_msg_size(&m->frames[m->has_ident]) == fr->len[0]);
	FUZZ_CHECK(m->nfields == n);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK((const uint8_t *)m->f[i].key >= frame + HDR_LEN &&
		    (const uint8_t *)m->f[i].val + m->f[i].vallen <=
		    frame + fr->len[0]);
		FUZZ_CHECK((const uint8_t *)m->f[i].key - frame ==
		    f[i].key - fr->p[0] && m->f[i].keylen == f[i].keylen);
		FUZZ_CHECK((const uint8_t *)m->f[i].val - frame ==
		    f[i].val - fr->p[0] && m->f[i].vallen == f[i].vallen);
	}
	check_accessors(m);
	check_reencode(m, to_worker, fr);
	proto_msg_move(&moved, m);
	FUZZ_CHECK(m->nframes == 0 && moved.nfields == n);
	proto_msg_close(&moved);
}

/*
 * A version-1 message (a 2-byte header frame, then a frame per key and
 * per value): proto_send_v1() of its fields gives its very frames.
 */
static void
check_v1(int to_worker, const struct frames *fr)
{
	struct proto_field	 f[MAX_FRAMES / 2];
	zmq_msg_t		 raw[MAX_FRAMES + 1];
	void			*from = to_worker ? broker : worker;
	void			*to = to_worker ? worker : broker;
	size_t			 i, nf = (fr->n - 1) / 2, n, skip;

	if (fr->len[0] != HDR_LEN || fr->p[0][0] != 1 || fr->n % 2 == 0)
		return;
	for (i = 0; i < nf; i++)
		f[i] = (struct proto_field){ (const char *)fr->p[1 + 2 * i],
		    fr->len[1 + 2 * i], fr->p[2 + 2 * i], fr->len[2 + 2 * i] };
	if (!proto_fits(f, nf))
		return;		/* not a message anyone may send */
	sent_ok(proto_send_v1(from, to_worker ? IDENT : NULL, to_worker ?
	    strlen(IDENT) : 0, fr->p[0][1], f, nf));
	n = recv_raw(to, raw);
	skip = to_worker ? 0 : 1;
	FUZZ_CHECK(n == skip + fr->n);
	for (i = 0; i < fr->n; i++)
		FUZZ_CHECK(zmq_msg_size(&raw[skip + i]) == fr->len[i] &&
		    memcmp(zmq_msg_data(&raw[skip + i]), fr->p[i],
		    fr->len[i]) == 0);
	close_raw(raw, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frames		 fr;
	struct field		 f[PROTO_MAX_FIELDS];
	struct proto_msg	 m;
	const char		*why = NULL;
	const void		*id;
	size_t			 n = 0, idlen;
	int			 to_worker, rc, spec_ok;

	if (size == 0)
		return 0;
	to_worker = data[0] & 1;
	read_frames(&fr, data, size);
	send_frames(to_worker ? broker : worker, to_worker, &fr);
	rc = proto_recv(to_worker ? worker : broker, !to_worker, 0, &m, &why);
	FUZZ_CHECK(rc == 0 || rc == 1);
	id = proto_ident(&m, &idlen);
	FUZZ_CHECK(to_worker ? id == NULL : (idlen == strlen(IDENT) &&
	    memcmp(id, IDENT, idlen) == 0));
	spec_ok = fr.n == 1 && fr.len[0] >= HDR_LEN &&
	    fr.p[0][0] == PROTO_VERSION &&
	    spec_records(fr.p[0], fr.len[0], f, &n) == 0;
	FUZZ_CHECK((rc == 0) == spec_ok);
	if (rc == 0)
		check_taken(&m, to_worker, &fr, f, n);
	else {
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		if (fr.len[0] >= HDR_LEN)
			FUZZ_CHECK(m.version == fr.p[0][0] &&
			    m.cmd == fr.p[0][1]);
		else
			FUZZ_CHECK(m.version == 0);
		proto_msg_close(&m);
		check_v1(to_worker, &fr);
	}
	return 0;
}
