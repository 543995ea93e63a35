/*
 * test_protocol.c - broker<->worker frames (src/pool/protocol.c).
 *
 * Each test gets its own ZeroMQ context with a ROUTER (the broker's side)
 * bound to inproc://t and a DEALER (a worker) connected to it.  Good
 * messages go through proto_send() and come back out of proto_recv() field
 * for field; bad ones are built byte by byte and frame by frame with
 * zmq_send() so the decoder sees exactly what a broken or foreign worker
 * (a version-1 one among them) could send, and each must be dropped with
 * its own reason without desynchronising the stream.  The version 2 bytes
 * are checked against docs/protocol.md's example, so the document and the
 * code cannot drift apart.
 * Receives block with ZMQ_RCVTIMEO set, so a lost message fails the test
 * after a deadline instead of hanging it; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "pool/protocol.h"
#include "testutil.h"

#define ENDPOINT	"inproc://t"
#define DEADLINE_MS	5000

struct pair {
	void	*ctx;
	void	*router;	/* the broker */
	void	*dealer;	/* a worker */
};

static int
setup(void **state)
{
	struct pair	*p = calloc(1, sizeof(*p));
	int		 timeo = DEADLINE_MS;

	if (p == NULL || (p->ctx = zmq_ctx_new()) == NULL)
		return -1;
	p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
	p->dealer = zmq_socket(p->ctx, ZMQ_DEALER);
	if (p->router == NULL || p->dealer == NULL ||
	    proto_sockopts(p->router) == -1 ||
	    proto_sockopts(p->dealer) == -1 ||
	    zmq_setsockopt(p->router, ZMQ_RCVTIMEO, &timeo, sizeof(timeo)) ||
	    zmq_setsockopt(p->dealer, ZMQ_RCVTIMEO, &timeo, sizeof(timeo)) ||
	    zmq_bind(p->router, ENDPOINT) == -1 ||
	    zmq_connect(p->dealer, ENDPOINT) == -1)
		return -1;
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair	*p = *state;

	zmq_close(p->dealer);
	zmq_close(p->router);
	zmq_ctx_term(p->ctx);
	free(p);
	return 0;
}

/*
 * Sends one multipart message frame by frame: (data, len) pairs ending
 * with a NULL data pointer.
 */
static void
send_raw(void *sock, ...)
{
	va_list		 ap;
	const void	*data, *next;
	size_t		 len;

	va_start(ap, sock);
	data = va_arg(ap, const void *);
	while (data != NULL) {
		len = va_arg(ap, size_t);
		next = va_arg(ap, const void *);
		assert_int_equal(zmq_send(sock, data, len,
		    next != NULL ? ZMQ_SNDMORE : 0), (int)len);
		data = next;
	}
	va_end(ap);
}

/*
 * Appends one version 2 record (key length, key, 4-byte big-endian value
 * length, value) at p; returns the end.
 */
static uint8_t *
put_rec(uint8_t *p, const char *key, const void *val, uint32_t vlen)
{
	size_t	klen = strlen(key);

	*p++ = (uint8_t)klen;
	memcpy(p, key, klen);
	p += klen;
	*p++ = (uint8_t)(vlen >> 24);
	*p++ = (uint8_t)(vlen >> 16);
	*p++ = (uint8_t)(vlen >> 8);
	*p++ = (uint8_t)vlen;
	memcpy(p, val, vlen);
	return p + vlen;
}

/* Receives on the router; asserts it was dropped for reason why. */
static void
recv_malformed(struct pair *p, const char *want)
{
	struct proto_msg m;
	const char	*why = NULL;

	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 1);
	assert_non_null(why);
	assert_string_equal(why, want);
	proto_msg_close(&m);
	assert_int_equal(m.nframes, 0);
}

/* Sends a good HEARTBEAT and asserts it is the next message received. */
static void
assert_in_sync(struct pair *p)
{
	struct proto_msg m;
	const char	*why = NULL;
	size_t		 len;

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_HEARTBEAT,
	    (struct proto_field[]){ PROTO_FIELD_STR("seq", "after") }, 1), 0);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_HEARTBEAT);
	assert_int_equal(m.nfields, 1);
	assert_memory_equal(proto_get(&m, "seq", &len), "after", 5);
	assert_int_equal(len, 5);
	proto_msg_close(&m);
}

static void
test_ready_and_job(void **state)
{
	struct pair		*p = *state;
	static const uint8_t	 jobid[PROTO_JOB_ID_LEN] =
	    { 0, 1, 2, 0xff, 0, 5, 6, 7 };
	const struct proto_field ready[] = {
		PROTO_FIELD_STR("pid", "12345"),
		PROTO_FIELD_STR("worker", "3"),
	};
	const struct proto_field job[] = {
		PROTO_FIELD("job", jobid, sizeof(jobid)),
		PROTO_FIELD_STR("service", "sync-1.5"),
		PROTO_FIELD_STR("assertion", "eyJhbGciOiJFUzI1NiJ9.e30.sig"),
	};
	struct proto_msg	 m, w;
	const char		*why = NULL;
	const void		*ident, *v;
	uint8_t			 id[256];
	size_t			 idlen, len;
	char			 buf[16];

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_READY, ready, 2),
	    0);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_READY);
	assert_int_equal(m.version, PROTO_VERSION);
	assert_int_equal(m.nframes, 2);		/* ident, the message */
	assert_int_equal(m.nfields, 2);
	assert_true(m.has_ident);
	assert_int_equal(m.f[0].keylen, 3);
	assert_memory_equal(m.f[0].key, "pid", 3);
	assert_int_equal(m.f[1].keylen, 6);
	assert_memory_equal(m.f[1].key, "worker", 6);

	assert_non_null(v = proto_get(&m, "pid", &len));
	assert_int_equal(len, 5);
	assert_memory_equal(v, "12345", 5);
	assert_int_equal(proto_get_str(&m, "worker", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "3");
	len = 99;
	assert_null(proto_get(&m, "job", &len));
	assert_int_equal(len, 0);
	assert_null(proto_get(&m, "pi", &len));		/* no prefix match */
	assert_null(proto_get(&m, "pidx", &len));
	assert_int_equal(proto_get_str(&m, "nope", buf, sizeof(buf)), -1);

	/* ZeroMQ gives an anonymous peer a 5-byte identity. */
	assert_non_null(ident = proto_ident(&m, &idlen));
	assert_true(idlen > 0 && idlen <= sizeof(id));
	memcpy(id, ident, idlen);
	proto_msg_close(&m);
	assert_int_equal(m.nframes, 0);

	/* The broker answers that peer by its identity. */
	assert_int_equal(proto_send(p->router, id, idlen, PROTO_JOB, job, 3),
	    0);
	assert_int_equal(proto_recv(p->dealer, 0, 0, &w, &why), 0);
	assert_int_equal(w.cmd, PROTO_JOB);
	assert_int_equal(w.nframes, 1);
	assert_int_equal(w.nfields, 3);
	assert_false(w.has_ident);
	idlen = 99;
	assert_null(proto_ident(&w, &idlen));
	assert_int_equal(idlen, 0);
	assert_non_null(v = proto_get(&w, "job", &len));
	assert_int_equal(len, PROTO_JOB_ID_LEN);
	assert_memory_equal(v, jobid, PROTO_JOB_ID_LEN);
	assert_int_equal(proto_get_str(&w, "service", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sync-1.5");
	assert_non_null(v = proto_get(&w, "assertion", &len));
	assert_int_equal(len, strlen("eyJhbGciOiJFUzI1NiJ9.e30.sig"));
	assert_memory_equal(v, "eyJhbGciOiJFUzI1NiJ9.e30.sig", len);
	proto_msg_close(&w);
}

/* A header alone is a whole message; every command byte comes through. */
static void
test_no_fields(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;
	static const int	 cmds[] = { PROTO_READY, PROTO_JOB, PROTO_REPLY,
	    PROTO_HEARTBEAT, PROTO_BYE, 200 };
	size_t			 i, len;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(proto_send(p->dealer, NULL, 0, cmds[i], NULL,
		    0), 0);
		assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
		assert_int_equal(m.cmd, cmds[i]);
		assert_int_equal(m.nframes, 2);
		assert_int_equal(m.nfields, 0);
		assert_null(proto_get(&m, "pid", &len));
		proto_msg_close(&m);
	}
}

/*
 * The exact bytes on the wire, as docs/protocol.md shows them: one frame,
 * {2, cmd}, then (key length, key, value length, value) records.
 */
static void
test_wire_format(void **state)
{
	struct pair	*p = *state;
	static const uint8_t want[] = { 0x02, 0x03,
	    0x05, 'e', 'r', 'r', 'o', 'r', 0x00, 0x00, 0x00, 0x01, 'x',
	    0x03, 'j', 'o', 'b', 0x00, 0x00, 0x00, 0x00 };
	uint8_t		 buf[64];
	int		 more;
	size_t		 morelen = sizeof(more);

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){ PROTO_FIELD_STR("error", "x"),
	    PROTO_FIELD("job", "", 0) }, 2), 0);
	assert_true(zmq_recv(p->router, buf, sizeof(buf), 0) > 0); /* ident */
	assert_int_equal(zmq_recv(p->router, buf, sizeof(buf), 0),
	    sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(zmq_getsockopt(p->router, ZMQ_RCVMORE, &more,
	    &morelen), 0);
	assert_int_equal(more, 0);
}

/*
 * docs/protocol.md's worked example, byte for byte: a READY as a Python
 * worker would build it decodes to its fields.
 */
static void
test_doc_example_ready(void **state)
{
	struct pair		*p = *state;
	static const uint8_t	 ready[] = { 0x02, 0x01,
	    0x08, 'v', 'e', 'r', 's', 'i', 'o', 'n', 's',
	    0x00, 0x00, 0x00, 0x03, '1', ',', '2',
	    0x06, 'c', 'r', 'e', 'd', 'i', 't', 0x00, 0x00, 0x00, 0x01, '4' };
	struct proto_msg	 m;
	const char		*why;
	const void		*v;
	size_t			 len;
	long			 credit;

	send_raw(p->dealer, ready, sizeof(ready), NULL);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_READY);
	assert_int_equal(m.nfields, 2);
	assert_non_null(v = proto_get(&m, "versions", &len));
	assert_int_equal(proto_pick_version(v, len), 2);
	assert_int_equal(proto_get_long(&m, "credit", 1, 16, &credit), 0);
	assert_int_equal(credit, 4);
	proto_msg_close(&m);
}

/*
 * A version-1 message (a 2-byte header frame, then a frame per key and
 * value) and one of a future version are dropped, but say which version
 * and command they were, with the peer's identity: the broker answers
 * them with a REFUSE.
 */
static void
test_malformed_version(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why = NULL;
	const void		*ident;
	size_t			 len;

	send_raw(p->dealer, "\x01\x01", (size_t)2, "pid", (size_t)3, "1",
	    (size_t)1, NULL);
	send_raw(p->dealer, "\x03\x04", (size_t)2, NULL);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 1);
	assert_string_equal(why, "unsupported protocol version");
	assert_int_equal(m.version, 1);
	assert_int_equal(m.cmd, PROTO_READY);
	assert_int_equal(m.nfields, 0);
	assert_non_null(ident = proto_ident(&m, &len));
	assert_true(len > 0);
	proto_msg_close(&m);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 1);
	assert_string_equal(why, "unsupported protocol version");
	assert_int_equal(m.version, 3);
	assert_int_equal(m.cmd, PROTO_HEARTBEAT);
	proto_msg_close(&m);
	assert_in_sync(p);
}

static void
test_malformed_header_size(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;

	send_raw(p->dealer, "\x02", (size_t)1, NULL);
	send_raw(p->dealer, "", (size_t)0, NULL);
	recv_malformed(p, "no header");
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 1);
	assert_string_equal(why, "no header");
	assert_int_equal(m.version, 0);		/* nothing to answer */
	proto_msg_close(&m);
	assert_in_sync(p);
}

/* Version 2 is one frame: a second one, even a valid record, is refused. */
static void
test_malformed_more_frames(void **state)
{
	struct pair	*p = *state;
	uint8_t		 rec[16], *end = put_rec(rec, "k", "v", 1);

	send_raw(p->dealer, "\x02\x04", (size_t)2, rec, (size_t)(end - rec),
	    NULL);
	send_raw(p->dealer, "\x02\x04", (size_t)2, "k", (size_t)1, "v",
	    (size_t)1, NULL);
	recv_malformed(p, "more than one frame");
	recv_malformed(p, "more than one frame");
	assert_in_sync(p);
}

static void
test_malformed_records(void **state)
{
	struct pair	*p = *state;
	uint8_t		 buf[64], *end;

	/* An empty key. */
	buf[0] = 2;
	buf[1] = 4;
	end = put_rec(buf + 2, "k", "v", 1);
	end = put_rec(end, "", "v", 1);
	send_raw(p->dealer, buf, (size_t)(end - buf), NULL);
	recv_malformed(p, "empty key");
	/* A value one byte longer than what is left; a cut length. */
	end = put_rec(buf + 2, "key", "value", 5);
	buf[2 + 1 + 3 + 3] = 6;
	send_raw(p->dealer, buf, (size_t)(end - buf), NULL);
	recv_malformed(p, "field runs past the end");
	send_raw(p->dealer, buf, (size_t)(2 + 1 + 3 + 2), NULL);
	recv_malformed(p, "field runs past the end");
	send_raw(p->dealer, buf, (size_t)(2 + 1 + 2), NULL);
	recv_malformed(p, "field runs past the end");
	/* A length over PROTO_MAX_VALUE, whatever follows. */
	end = put_rec(buf + 2, "k", "v", 1);
	buf[2 + 1 + 1 + 1] = 0x01;	/* 0x00010001 */
	send_raw(p->dealer, buf, (size_t)(end - buf), NULL);
	recv_malformed(p, "value over the limit");
	assert_in_sync(p);
}

/* Sends one REPLY of n fields named k0, k1, ... with values v0, v1, ... */
static void
send_fields(void *sock, int n)
{
	uint8_t	buf[4096], *p = buf;
	char	key[16], val[16];
	int	i;

	*p++ = 2;
	*p++ = PROTO_REPLY;
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		p = put_rec(p, key, val, (uint32_t)strlen(val));
	}
	assert_int_equal(zmq_send(sock, buf, (size_t)(p - buf), 0),
	    (int)(p - buf));
}

static void
test_field_limit(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;
	const void		*ident;
	uint8_t			 id[256];
	size_t			 idlen;
	char			 buf[8];

	/* Exactly PROTO_MAX_FIELDS fields is fine, on both sides. */
	send_fields(p->dealer, PROTO_MAX_FIELDS);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	assert_int_equal(m.nfields, PROTO_MAX_FIELDS);
	assert_int_equal(proto_get_str(&m, "k15", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v15");
	ident = proto_ident(&m, &idlen);
	assert_true(idlen <= sizeof(id));
	memcpy(id, ident, idlen);
	proto_msg_close(&m);

	/* One more, and a lot more, are dropped whole. */
	send_fields(p->dealer, PROTO_MAX_FIELDS + 1);
	send_fields(p->dealer, 200);
	recv_malformed(p, "too many fields");
	recv_malformed(p, "too many fields");
	assert_in_sync(p);

	/* The dealer side, without an identity frame, has the same limit. */
	assert_int_equal(zmq_send(p->router, id, idlen, ZMQ_SNDMORE),
	    (int)idlen);
	send_fields(p->router, PROTO_MAX_FIELDS + 1);
	assert_int_equal(zmq_send(p->router, id, idlen, ZMQ_SNDMORE),
	    (int)idlen);
	send_fields(p->router, PROTO_MAX_FIELDS);
	assert_int_equal(proto_recv(p->dealer, 0, 0, &m, &why), 1);
	assert_string_equal(why, "too many fields");
	proto_msg_close(&m);
	assert_int_equal(proto_recv(p->dealer, 0, 0, &m, &why), 0);
	assert_int_equal(m.nfields, PROTO_MAX_FIELDS);
	assert_int_equal(proto_get_str(&m, "k0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v0");
	proto_msg_close(&m);
	/* proto_send() will not make such a message. */
	errno = 0;
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[PROTO_MAX_FIELDS + 1]){
		PROTO_FIELD_STR("k", "v") }, PROTO_MAX_FIELDS + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_in_sync(p);
}

static void
test_dontwait_empty(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;

	errno = 0;
	assert_int_equal(proto_recv(p->router, 1, 1, &m, &why), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(m.nframes, 0);
	errno = 0;
	assert_int_equal(proto_recv(p->dealer, 0, 1, &m, &why), -1);
	assert_int_equal(errno, EAGAIN);
}

/* ZMQ_ROUTER_MANDATORY turns a send to a gone peer into EHOSTUNREACH. */
static void
test_send_unknown_peer(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;
	const void		*ident;
	uint8_t			 id[256];
	size_t			 idlen;
	char			 buf[8];
	int			 on = 1;

	assert_int_equal(zmq_setsockopt(p->router, ZMQ_ROUTER_MANDATORY, &on,
	    sizeof(on)), 0);
	errno = 0;
	assert_int_equal(proto_send(p->router, "nobody", 6, PROTO_JOB,
	    (struct proto_field[]){ PROTO_FIELD_STR("job", "x") }, 1), -1);
	assert_int_equal(errno, EHOSTUNREACH);

	/* Nothing of it was queued: the next message to a real peer is whole. */
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_READY, NULL, 0),
	    0);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	ident = proto_ident(&m, &idlen);
	assert_true(idlen <= sizeof(id));
	memcpy(id, ident, idlen);
	proto_msg_close(&m);
	assert_int_equal(proto_send(p->router, id, idlen, PROTO_JOB,
	    (struct proto_field[]){ PROTO_FIELD_STR("job", "y") }, 1), 0);
	assert_int_equal(proto_recv(p->dealer, 0, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_JOB);
	assert_int_equal(m.nfields, 1);
	assert_int_equal(proto_get_str(&m, "job", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "y");
	proto_msg_close(&m);
}

/* memset through a volatile pointer: a store before free() is kept. */
static void *(*volatile wipe)(void *, int, size_t) = memset;

static int
points_into(const void *v, const void *obj, size_t size)
{
	return (const char *)v >= (const char *)obj &&
	    (const char *)v < (const char *)obj + size;
}

/*
 * Receives one message on the router into a fresh proto_msg, moves it into
 * another whose memory held garbage, and wipes and frees the first: the
 * moved fields must point into the second.  Returns the second.
 */
static struct proto_msg *
recv_and_move(struct pair *p, int inline_value)
{
	struct proto_msg	*src, *dst;
	const char		*why;
	const void		*v;
	size_t			 len;

	assert_non_null(src = malloc(sizeof(*src)));
	assert_non_null(dst = malloc(sizeof(*dst)));
	memset(dst, 0x5a, sizeof(*dst));
	assert_int_equal(proto_recv(p->router, 1, 0, src, &why), 0);
	/* A small message lives inside its zmq_msg_t, i.e. inside src. */
	v = proto_get(src, "small", &len);
	assert_int_equal(points_into(v, src, sizeof(*src)), inline_value);
	proto_msg_move(dst, src);
	assert_int_equal(src->nframes, 0);
	assert_int_equal(src->nfields, 0);
	proto_msg_close(src);			/* nothing left to close */
	wipe(src, 0xa5, sizeof(*src));		/* dst must not point here */
	free(src);
	assert_int_equal(dst->cmd, PROTO_REPLY);
	assert_int_equal(dst->nframes, 2);
	assert_true(dst->has_ident);
	v = proto_get(dst, "small", &len);
	assert_int_equal(points_into(v, dst, sizeof(*dst)), inline_value);
	return dst;
}

static void
test_msg_move(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	*dst;
	static char		 big[2000];
	const char		*small = "0123456789";	/* 22 bytes in all */
	const void		*v;
	size_t			 len, i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i % 26);
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){ PROTO_FIELD_STR("small", small) }, 1), 0);
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD_STR("small", small),
		PROTO_FIELD("big", big, sizeof(big)),
		PROTO_FIELD("empty", "", 0),
	    }, 3), 0);

	dst = recv_and_move(p, 1);
	assert_int_equal(dst->nfields, 1);
	assert_non_null(v = proto_get(dst, "small", &len));
	assert_int_equal(len, 10);
	assert_memory_equal(v, small, 10);
	proto_msg_close(dst);
	free(dst);

	dst = recv_and_move(p, 0);
	assert_int_equal(dst->nfields, 3);
	assert_non_null(v = proto_get(dst, "small", &len));
	assert_int_equal(len, 10);
	assert_memory_equal(v, small, 10);
	assert_non_null(v = proto_get(dst, "big", &len));
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(v, big, sizeof(big));
	assert_non_null(v = proto_get(dst, "empty", &len));
	assert_int_equal(len, 0);
	proto_msg_close(dst);
	free(dst);
}

/* Decimal values with bounds: digits only, nothing else. */
static void
test_get_long(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;
	long			 v = 7;

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_READY,
	    (struct proto_field[]){
		PROTO_FIELD_STR("ok", "1800"),
		PROTO_FIELD_STR("zero", "0"),
		PROTO_FIELD_STR("neg", "-1"),
		PROTO_FIELD_STR("plus", "+1"),
		PROTO_FIELD_STR("space", " 1"),
		PROTO_FIELD_STR("tail", "1x"),
		PROTO_FIELD_STR("empty", ""),
		PROTO_FIELD_STR("long", "1234567890123456789"),
		PROTO_FIELD_STR("max18", "999999999999999999"),
	    }, 9), 0);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	assert_int_equal(proto_get_long(&m, "ok", 1, 3600, &v), 0);
	assert_int_equal(v, 1800);
	assert_int_equal(proto_get_long(&m, "ok", 1, 1799, &v), -1);
	assert_int_equal(proto_get_long(&m, "ok", 1801, 9999, &v), -1);
	assert_int_equal(proto_get_long(&m, "zero", 0, 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(proto_get_long(&m, "zero", 1, 1, &v), -1);
	v = 7;
	assert_int_equal(proto_get_long(&m, "neg", -5, 5, &v), -1);
	assert_int_equal(proto_get_long(&m, "plus", 0, 5, &v), -1);
	assert_int_equal(proto_get_long(&m, "space", 0, 5, &v), -1);
	assert_int_equal(proto_get_long(&m, "tail", 0, 5, &v), -1);
	assert_int_equal(proto_get_long(&m, "empty", 0, 5, &v), -1);
	assert_int_equal(proto_get_long(&m, "long", 0, LONG_MAX, &v), -1);
	assert_int_equal(proto_get_long(&m, "absent", 0, 5, &v), -1);
	assert_int_equal(v, 7);			/* untouched on failure */
	assert_int_equal(proto_get_long(&m, "max18", 0, LONG_MAX, &v), 0);
	assert_int_equal(v, 999999999999999999L);
	proto_msg_close(&m);
}

/* READY's versions: a comma-separated list, the highest we speak wins. */
static void
test_pick_version(void **state)
{
	static const struct {
		const char	*versions;
		int		 want;
	} cases[] = {
		{ "2", 2 }, { "1,2", 2 }, { "2,3", 2 }, { "3,2,1", 2 },
		{ "002", 2 },
		{ "1", 0 }, { "3", 0 }, { "1,3", 0 }, { "", 0 }, { ",", 0 },
		{ "2,", 0 }, { ",2", 0 }, { "1;2", 0 }, { "2 ", 0 },
		{ " 2", 0 }, { "1,,2", 0 }, { "0,2", 0 }, { "256,2", 0 },
		{ "-2", 0 }, { "2.0", 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (proto_pick_version(cases[i].versions,
		    strlen(cases[i].versions)) != cases[i].want)
			fail_msg("versions \"%s\": expected %d",
			    cases[i].versions, cases[i].want);
	assert_int_equal(proto_pick_version(NULL, 0), 0);
	assert_int_equal(proto_pick_version("2\0", 2), 0);
}

/*
 * The REFUSE for a version-1 worker goes in version 1's layout: a 2-byte
 * header frame {1, cmd}, then a frame per key and per value, as a
 * version-1 worker parses it.
 */
static void
test_send_v1(void **state)
{
	struct pair	*p = *state;
	static const char *want[] = { "\x01\x07", "versions", "2",
	    "reason", "why" };
	uint8_t		 buf[64];
	int		 more, i, n;
	size_t		 morelen = sizeof(more);

	assert_int_equal(proto_send_v1(p->dealer, NULL, 0, PROTO_REFUSE,
	    (struct proto_field[]){ PROTO_FIELD_STR("versions", "2"),
	    PROTO_FIELD_STR("reason", "why") }, 2), 0);
	assert_true(zmq_recv(p->router, buf, sizeof(buf), 0) > 0); /* ident */
	for (i = 0; i < 5; i++) {
		n = zmq_recv(p->router, buf, sizeof(buf), 0);
		assert_int_equal(n, (int)strlen(want[i]));
		assert_memory_equal(buf, want[i], (size_t)n);
		assert_int_equal(zmq_getsockopt(p->router, ZMQ_RCVMORE, &more,
		    &morelen), 0);
		assert_int_equal(more, i < 4);
	}
	assert_in_sync(p);
}

static void
test_get_str(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why;
	char			 buf[16];

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD("nul", "ab\0cd", 5),
		PROTO_FIELD("tail", "abc\0", 4),
		PROTO_FIELD_STR("seven", "1234567"),
		PROTO_FIELD_STR("eight", "12345678"),
		PROTO_FIELD("empty", "", 0),
	    }, 5), 0);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);

	memset(buf, 'X', sizeof(buf));
	assert_int_equal(proto_get_str(&m, "nul", buf, sizeof(buf)), -1);
	assert_int_equal(proto_get_str(&m, "tail", buf, sizeof(buf)), -1);
	/* Seven bytes and the NUL fill 8 exactly; eight do not fit. */
	assert_int_equal(proto_get_str(&m, "seven", buf, 8), 0);
	assert_string_equal(buf, "1234567");
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(proto_get_str(&m, "eight", buf, 8), -1);
	assert_int_equal(buf[0], 'X');		/* untouched on failure */
	assert_int_equal(proto_get_str(&m, "eight", buf, 9), 0);
	assert_string_equal(buf, "12345678");
	assert_int_equal(proto_get_str(&m, "seven", buf, 7), -1);
	assert_int_equal(proto_get_str(&m, "empty", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(proto_get_str(&m, "empty", buf, 0), -1);
	proto_msg_close(&m);
}

/*
 * A value over PROTO_MAX_VALUE would make the receiving side drop the whole
 * connection (ZMQ_MAXMSGSIZE): proto_send() refuses it with EMSGSIZE and
 * sends no frame of the message, so the stream stays in step.
 */
static void
test_send_refuses_oversize_value(void **state)
{
	struct pair	*p = *state;
	char		*big;

	assert_non_null(big = malloc(PROTO_MAX_VALUE + 1));
	memset(big, 'a', PROTO_MAX_VALUE + 1);
	errno = 0;
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD_STR("job", "12345678"),
		PROTO_FIELD("assertion", big, PROTO_MAX_VALUE + 1),
	    }, 2), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_in_sync(p);
	/* The same from the broker's side, identity frame first. */
	errno = 0;
	assert_int_equal(proto_send(p->router, "someone", 7, PROTO_JOB,
	    (struct proto_field[]){
		PROTO_FIELD("assertion", big, PROTO_MAX_VALUE + 1),
	    }, 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	/*
	 * Two values that fit one by one but not together in one message
	 * (PROTO_MAX_FRAME), and a key over its 1-byte length.
	 */
	errno = 0;
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD("a", big, PROTO_MAX_VALUE),
		PROTO_FIELD("b", big, PROTO_MAX_VALUE),
	    }, 2), -1);
	assert_int_equal(errno, EMSGSIZE);
	errno = 0;
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		{ big, PROTO_MAX_KEY + 1, "v", 1 },
	    }, 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_in_sync(p);
	free(big);
}

/*
 * The limits are inclusive and agree with what a real connection accepts:
 * a value of exactly PROTO_MAX_VALUE, and a message of exactly
 * PROTO_MAX_FRAME, cross ipc between two sockets set up by
 * proto_sockopts(), and the connection still carries the next message.
 */
static void
test_max_value_crosses_ipc(void **state)
{
	char		 dir[64], endpoint[80], *big;
	void		*ctx, *router, *dealer;
	struct proto_msg m;
	const char	*why;
	const void	*v;
	size_t		 len;
	int		 timeo = DEADLINE_MS;

	assert_non_null(tu_tmpdir(dir, sizeof(dir), "proto"));
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", tu_path(dir, "s"));
	assert_non_null(ctx = zmq_ctx_new());
	assert_non_null(router = zmq_socket(ctx, ZMQ_ROUTER));
	assert_non_null(dealer = zmq_socket(ctx, ZMQ_DEALER));
	assert_int_equal(proto_sockopts(router), 0);
	assert_int_equal(proto_sockopts(dealer), 0);
	assert_int_equal(zmq_setsockopt(dealer, ZMQ_RCVTIMEO, &timeo,
	    sizeof(timeo)), 0);
	assert_int_equal(zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeo,
	    sizeof(timeo)), 0);
	assert_int_equal(zmq_bind(router, endpoint), 0);
	assert_int_equal(zmq_connect(dealer, endpoint), 0);
	assert_non_null(big = malloc(PROTO_MAX_VALUE));
	memset(big, 'b', PROTO_MAX_VALUE);
	assert_int_equal(proto_send(dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD("big", big, PROTO_MAX_VALUE),
	    }, 1), 0);
	/* A message of exactly PROTO_MAX_FRAME: two values and the rest. */
	assert_int_equal(proto_send(dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD("big", big, PROTO_MAX_VALUE),
		PROTO_FIELD("all", big, PROTO_MAX_FRAME - PROTO_MAX_VALUE -
		    2 - 2 * 5 - 3 - 3),
	    }, 2), 0);
	assert_int_equal(proto_send(dealer, NULL, 0, PROTO_HEARTBEAT, NULL, 0),
	    0);
	assert_int_equal(proto_recv(router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_REPLY);
	assert_non_null(v = proto_get(&m, "big", &len));
	assert_int_equal(len, PROTO_MAX_VALUE);
	assert_memory_equal(v, big, PROTO_MAX_VALUE);
	proto_msg_close(&m);
	assert_int_equal(proto_recv(router, 1, 0, &m, &why), 0);
	assert_int_equal(zmq_msg_size(&m.frames[1]), PROTO_MAX_FRAME);
	assert_non_null(v = proto_get(&m, "all", &len));
	assert_int_equal(len, PROTO_MAX_FRAME - PROTO_MAX_VALUE - 18);
	proto_msg_close(&m);
	assert_int_equal(proto_recv(router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_HEARTBEAT);
	proto_msg_close(&m);
	free(big);
	zmq_close(dealer);
	zmq_close(router);
	zmq_ctx_term(ctx);
	tu_rmtree(dir);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ready_and_job),
		T(test_no_fields),
		T(test_wire_format),
		T(test_malformed_version),
		T(test_malformed_header_size),
		T(test_doc_example_ready),
		T(test_malformed_more_frames),
		T(test_malformed_records),
		T(test_field_limit),
		T(test_dontwait_empty),
		T(test_send_unknown_peer),
		T(test_msg_move),
		T(test_get_str),
		T(test_get_long),
		T(test_pick_version),
		T(test_send_v1),
		T(test_send_refuses_oversize_value),
		cmocka_unit_test(test_max_value_crosses_ipc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
