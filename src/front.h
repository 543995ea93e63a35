/*
 * front.h - the front process: one event loop in which libmicrohttpd parses
 * requests and suspends them, and the broker gets them answered.
 */
#ifndef TOKEND_FRONT_H
#define TOKEND_FRONT_H

#include <signal.h>

struct config;

/*
 * Serves until SIGTERM, then drains; returns the process exit code.  Once
 * it listens and a worker has joined, it writes one byte to ready_fd and
 * closes it (the supervisor then tells systemd READY=1).
 * SIG_WORKER_DIED with a pid as its sigqueue value means "that worker
 * died"; -pid means it exited cleanly (after its BYE, so the jobs it held
 * were never worked on).  A real-time signal, because those queue: two
 * workers dying at once are two notices, where a second SIGUSR1 pending
 * would be dropped.
 */
#define SIG_WORKER_DIED	(SIGRTMIN + 0)
/*
 * The value also says why, for the metrics (docs/metrics.md): the cause
 * sits in the bits from NOTICE_SHIFT up (a pid is below 2^22, the
 * kernel's PID_MAX_LIMIT), the sign still says clean.  Pid 0 carries the
 * supervisor's other news: a reload applied or refused.
 */
enum notice_cause {
	NOTICE_EXIT = 0,	/* exited 0: retired or stopping */
	NOTICE_CRASH,		/* its own signal, or an error exit */
	NOTICE_SIGNAL,		/* killed from outside */
	NOTICE_RECYCLE,		/* EXIT_RECYCLE */
	NOTICE_RELOAD_OK,	/* pid 0: a SIGHUP reload applied */
	NOTICE_RELOAD_ERROR,	/* pid 0: a reload refused */
};
#define NOTICE_SHIFT		24
#define NOTICE_PID_MASK		((1 << NOTICE_SHIFT) - 1)
#define NOTICE_VALUE(pid, cause, clean)	\
	(((clean) ? -1 : 1) * (int)((unsigned)(pid) | \
	    (unsigned)(cause) << NOTICE_SHIFT))
/*
 * keys_fd: a SOCK_SEQPACKET socket on which the supervisor sends each
 * reload's authorized_keys ([remote] listen), or -1.
 */
int	front_main(struct config *cfg, int ready_fd, int keys_fd);

#endif
