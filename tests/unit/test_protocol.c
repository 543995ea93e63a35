/*
 * test_protocol.c - broker<->worker frames (src/pool/protocol.c).
 *
 * Each test gets its own ZeroMQ context with a ROUTER (the broker's side)
 * bound to inproc://t and a DEALER (a worker) connected to it.  Good
 * messages go through proto_send() and come back out of proto_recv() field
 * for field; bad ones are built frame by frame with zmq_send() so the
 * decoder sees exactly what a broken or foreign worker could send, and each
 * must be dropped with its own reason without desynchronising the stream.
 * Receives block with ZMQ_RCVTIMEO set, so a lost message fails the test
 * after a deadline instead of hanging it; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "pool/protocol.h"

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
	assert_int_equal(m.nframes, 6);		/* ident, header, 2 pairs */
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
	assert_int_equal(w.nframes, 7);
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

/* The exact frames on the wire: header {1, cmd}, then key, value... */
static void
test_wire_format(void **state)
{
	struct pair	*p = *state;
	uint8_t		 buf[64];
	int		 more;
	size_t		 morelen = sizeof(more);

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){ PROTO_FIELD_STR("error", "x") }, 1), 0);
	assert_true(zmq_recv(p->router, buf, sizeof(buf), 0) > 0); /* ident */
	assert_int_equal(zmq_recv(p->router, buf, sizeof(buf), 0), 2);
	assert_int_equal(buf[0], PROTO_VERSION);
	assert_int_equal(buf[1], PROTO_REPLY);
	assert_int_equal(zmq_recv(p->router, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "error", 5);
	assert_int_equal(zmq_getsockopt(p->router, ZMQ_RCVMORE, &more,
	    &morelen), 0);
	assert_int_equal(more, 1);
	assert_int_equal(zmq_recv(p->router, buf, sizeof(buf), 0), 1);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(zmq_getsockopt(p->router, ZMQ_RCVMORE, &more,
	    &morelen), 0);
	assert_int_equal(more, 0);
}

static void
test_malformed_version(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	 m;
	const char		*why = NULL;
	const void		*ident;
	size_t			 len;

	send_raw(p->dealer, "\x02\x01", (size_t)2, "pid", (size_t)3, "1",
	    (size_t)1, NULL);
	send_raw(p->dealer, "\x00\x01", (size_t)2, NULL);
	/* Dropped, but the identity is kept to name the peer. */
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 1);
	assert_string_equal(why, "unsupported protocol version");
	assert_non_null(ident = proto_ident(&m, &len));
	assert_true(len > 0);
	proto_msg_close(&m);
	recv_malformed(p, "unsupported protocol version");
	assert_in_sync(p);
}

static void
test_malformed_header_size(void **state)
{
	struct pair	*p = *state;

	send_raw(p->dealer, "\x01\x01\x00", (size_t)3, NULL);
	send_raw(p->dealer, "\x01", (size_t)1, "pid", (size_t)3, "1",
	    (size_t)1, NULL);
	send_raw(p->dealer, "", (size_t)0, NULL);
	recv_malformed(p, "header frame is not 2 bytes");
	recv_malformed(p, "header frame is not 2 bytes");
	recv_malformed(p, "header frame is not 2 bytes");
	assert_in_sync(p);
}

static void
test_malformed_odd_frames(void **state)
{
	struct pair	*p = *state;

	send_raw(p->dealer, "\x01\x04", (size_t)2, "key", (size_t)3, NULL);
	send_raw(p->dealer, "\x01\x04", (size_t)2, "k", (size_t)1, "v",
	    (size_t)1, "k2", (size_t)2, NULL);
	recv_malformed(p, "odd number of key/value frames");
	recv_malformed(p, "odd number of key/value frames");
	assert_in_sync(p);
}

static void
test_malformed_empty_key(void **state)
{
	struct pair	*p = *state;

	send_raw(p->dealer, "\x01\x04", (size_t)2, "k", (size_t)1, "v",
	    (size_t)1, "", (size_t)0, "v", (size_t)1, NULL);
	recv_malformed(p, "empty key frame");
	assert_in_sync(p);
}

/* Sends n (key, value) pairs named k0, k1, ... with values v0, v1, ... */
static void
send_pairs(void *sock, int n)
{
	char	key[16], val[16];
	int	i;

	assert_int_equal(zmq_send(sock, "\x01\x03", 2, ZMQ_SNDMORE), 2);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		assert_int_equal(zmq_send(sock, key, strlen(key), ZMQ_SNDMORE),
		    (int)strlen(key));
		assert_int_equal(zmq_send(sock, val, strlen(val),
		    i + 1 < n ? ZMQ_SNDMORE : 0), (int)strlen(val));
	}
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

	/* Exactly PROTO_MAX_FIELDS pairs is fine, on both sides. */
	send_pairs(p->dealer, PROTO_MAX_FIELDS);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	assert_int_equal(m.nfields, PROTO_MAX_FIELDS);
	assert_int_equal(m.nframes, PROTO_MAX_FRAMES);
	assert_int_equal(proto_get_str(&m, "k15", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v15");
	proto_msg_close(&m);

	/* One more, and a lot more, are dropped whole. */
	send_pairs(p->dealer, PROTO_MAX_FIELDS + 1);
	send_pairs(p->dealer, 200);
	recv_malformed(p, "too many frames");
	recv_malformed(p, "too many frames");
	assert_in_sync(p);

	/*
	 * The dealer side, without an identity frame, has the same limit.
	 * The router learns the dealer's identity from a READY first.
	 */
	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_READY, NULL, 0),
	    0);
	assert_int_equal(proto_recv(p->router, 1, 0, &m, &why), 0);
	ident = proto_ident(&m, &idlen);
	assert_true(idlen <= sizeof(id));
	memcpy(id, ident, idlen);
	proto_msg_close(&m);
	assert_int_equal(zmq_send(p->router, id, idlen, ZMQ_SNDMORE),
	    (int)idlen);
	send_pairs(p->router, PROTO_MAX_FIELDS + 1);
	assert_int_equal(zmq_send(p->router, id, idlen, ZMQ_SNDMORE),
	    (int)idlen);
	send_pairs(p->router, PROTO_MAX_FIELDS);
	assert_int_equal(proto_recv(p->dealer, 0, 0, &m, &why), 1);
	assert_string_equal(why, "too many frames");
	proto_msg_close(&m);
	assert_int_equal(proto_recv(p->dealer, 0, 0, &m, &why), 0);
	assert_int_equal(m.nfields, PROTO_MAX_FIELDS);
	assert_int_equal(proto_get_str(&m, "k0", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v0");
	proto_msg_close(&m);
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

static void
test_msg_move(void **state)
{
	struct pair		*p = *state;
	struct proto_msg	*src, *dst;
	static char		 big[2000];
	const char		*small = "0123456789abcdefghij";	/* 20 */
	const char		*why;
	const void		*v, *ident;
	size_t			 len, i, idlen, idlen2;
	uint8_t			 id[256];

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i % 26);
	assert_non_null(src = malloc(sizeof(*src)));
	assert_non_null(dst = malloc(sizeof(*dst)));
	memset(dst, 0x5a, sizeof(*dst));

	assert_int_equal(proto_send(p->dealer, NULL, 0, PROTO_REPLY,
	    (struct proto_field[]){
		PROTO_FIELD_STR("small", small),
		PROTO_FIELD("big", big, sizeof(big)),
		PROTO_FIELD("empty", "", 0),
	    }, 3), 0);
	assert_int_equal(proto_recv(p->router, 1, 0, src, &why), 0);
	ident = proto_ident(src, &idlen);
	assert_true(idlen <= sizeof(id));
	memcpy(id, ident, idlen);
	/* A small value lives inside its zmq_msg_t, i.e. inside src. */
	v = proto_get(src, "small", &len);
	assert_true(points_into(v, src, sizeof(*src)));

	proto_msg_move(dst, src);
	assert_int_equal(src->nframes, 0);
	assert_int_equal(src->nfields, 0);
	proto_msg_close(src);			/* nothing left to close */
	wipe(src, 0xa5, sizeof(*src));		/* dst must not point here */
	free(src);

	assert_int_equal(dst->cmd, PROTO_REPLY);
	assert_int_equal(dst->nframes, 8);
	assert_int_equal(dst->nfields, 3);
	assert_true(dst->has_ident);
	assert_non_null(v = proto_get(dst, "small", &len));
	assert_int_equal(len, 20);
	assert_memory_equal(v, small, 20);
	assert_true(points_into(v, dst, sizeof(*dst)));
	assert_non_null(v = proto_get(dst, "big", &len));
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(v, big, sizeof(big));
	assert_non_null(v = proto_get(dst, "empty", &len));
	assert_int_equal(len, 0);
	assert_non_null(ident = proto_ident(dst, &idlen2));
	assert_int_equal(idlen2, idlen);
	assert_memory_equal(ident, id, idlen);
	proto_msg_close(dst);
	free(dst);
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
	free(big);
}

/*
 * The limit is inclusive and agrees with what a real connection accepts: a
 * value of exactly PROTO_MAX_VALUE crosses ipc between two sockets set up
 * by proto_sockopts(), and the connection still carries the next message.
 */
static void
test_max_value_crosses_ipc(void **state)
{
	char		 dir[] = "/tmp/tkd-proto.XXXXXX", path[64];
	char		 endpoint[sizeof(path) + 6], *big;
	void		*ctx, *router, *dealer;
	struct proto_msg m;
	const char	*why;
	const void	*v;
	size_t		 len;
	int		 timeo = DEADLINE_MS;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
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
	assert_int_equal(proto_send(dealer, NULL, 0, PROTO_HEARTBEAT, NULL, 0),
	    0);
	assert_int_equal(proto_recv(router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_REPLY);
	assert_non_null(v = proto_get(&m, "big", &len));
	assert_int_equal(len, PROTO_MAX_VALUE);
	assert_memory_equal(v, big, PROTO_MAX_VALUE);
	proto_msg_close(&m);
	assert_int_equal(proto_recv(router, 1, 0, &m, &why), 0);
	assert_int_equal(m.cmd, PROTO_HEARTBEAT);
	proto_msg_close(&m);
	free(big);
	zmq_close(dealer);
	zmq_close(router);
	zmq_ctx_term(ctx);
	unlink(path);
	rmdir(dir);
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
		T(test_malformed_odd_frames),
		T(test_malformed_empty_key),
		T(test_field_limit),
		T(test_dontwait_empty),
		T(test_send_unknown_peer),
		T(test_msg_move),
		T(test_get_str),
		T(test_send_refuses_oversize_value),
		cmocka_unit_test(test_max_value_crosses_ipc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
