/*
 * sandbox.h - confining a process to what its role needs: Landlock (where
 * the kernel has it) for the files and TCP ports it may reach, a seccomp
 * filter (libseccomp) for the system calls it may make.
 *
 * The mechanism only: what a role may do in general (the front makes no
 * file and no outgoing connection, a worker writes no file and listens
 * nowhere) is here, in the tables of sandbox.c; which paths and ports an
 * instance needs comes from its config, in src/sandbox.c.  Two steps,
 * because threads that exist before a Landlock domain stay outside it
 * (landlock_restrict_self() binds the calling thread only), while a
 * seccomp filter reaches every thread (SCMP_FLTATR_CTL_TSYNC):
 *
 *   sandbox_restrict()  before the process starts a thread (ZeroMQ's, the
 *                       key fetcher's): Landlock, so every thread is in
 *                       the domain; set-up still reads and binds what
 *                       the rules allow
 *   sandbox_lock()      after set-up: the seccomp filter, for every
 *                       thread; from here on a refused call fails with
 *                       EPERM, and exec kills the process
 *
 * docs/security.md ("Confinement") says what each role may do and why.
 */
#ifndef TOKEND_SANDBOX_CORE_H
#define TOKEND_SANDBOX_CORE_H

#include <stddef.h>
#include <stdint.h>

enum sandbox_role {
	SANDBOX_FRONT,		/* HTTP and the broker: reads no file */
	SANDBOX_WORKER,		/* crypto and key fetches: writes no file */
};

#define SANDBOX_MAX_PATHS	96
#define SANDBOX_MAX_PORTS	64

/*
 * What one process may reach beyond its role's system calls.  The paths
 * are copies the rules own: sandbox_rules_clear() frees them.
 */
struct sandbox_rules {
	enum sandbox_role role;
	char		*read[SANDBOX_MAX_PATHS];  /* files, or dirs: beneath */
	size_t		 nread;
	char		*write[SANDBOX_MAX_PATHS]; /* dirs: files made, written, */
	size_t		 nwrite;		   /* removed beneath */
	char		*sockdir;	/* where set-up binds its ipc socket */
	uint16_t	 bind_tcp[2];	/* the ports set-up listens on, or 0:
					   HTTP, and [remote]'s */
	uint16_t	 connect_tcp[SANDBOX_MAX_PORTS];
	size_t		 nconnect;
	int		 inet;		/* may open IP sockets (jwks_url) */
};

void	sandbox_rules_init(struct sandbox_rules *, enum sandbox_role);
void	sandbox_rules_clear(struct sandbox_rules *);
/* Each returns 0, or -1 (a full table, out of memory), logged. */
int	sandbox_allow_read(struct sandbox_rules *, const char *path);
int	sandbox_allow_write(struct sandbox_rules *, const char *dir);
int	sandbox_allow_connect(struct sandbox_rules *, uint16_t port);

/* The running kernel's Landlock ABI version; 0 when it has none. */
int	sandbox_landlock_abi(void);

/*
 * Landlock for the calling thread and the threads it starts later: only
 * the rules' files, directories and ports.  Sets no_new_privs.  Returns
 * the ABI version applied, 0 if the kernel has no Landlock (nothing done:
 * the seccomp filter still applies), or -1, logged.
 */
int	sandbox_restrict(const struct sandbox_rules *);

/*
 * The role's seccomp filter, on every thread of the process.  Returns 0,
 * or -1, logged.
 */
int	sandbox_lock(const struct sandbox_rules *);

/* 1 in a build with AddressSanitizer (sandbox.c says what it allows). */
int	sandbox_sanitized(void);

#endif
