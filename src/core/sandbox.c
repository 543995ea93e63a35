/*
 * sandbox.c - Landlock and seccomp for the front and the workers.
 *
 * Why: the front wipes every secret from its memory, but it runs as the
 * same user as the workers, so a front taken over through a bug in its
 * HTTP or JSON handling could simply open the secret files, ptrace a
 * worker, exec a shell or connect out.  After set-up each process keeps
 * only what its role needs:
 *
 *   front   no file opened, made or changed; no exec; no socket but
 *           AF_UNIX and no connect() at all (its workers connect to it);
 *           no bind() or listen(): it accepts on the sockets set-up made
 *   worker  no file opened for writing, made or changed; no exec; no
 *           bind() or listen(); IP sockets only when an issuer has a
 *           jwks_url, and then (Landlock ABI 4+) TCP connects only to the
 *           ports of those URLs and DNS; files read only where the rules
 *           list them (Landlock)
 *   both    no ptrace, no other process's memory or descriptors, no new
 *           namespaces, mounts, io_uring (its operations bypass seccomp),
 *           BPF, perf events, keyrings or userfaultfd
 *
 * The seccomp filter lists what is refused, not what is allowed.  libzmq,
 * libcurl, OpenSSL, glibc and the sanitizers make many calls on rare paths
 * (a reconnect, a resolver retry, an error report); a list of allowed
 * calls that missed one would turn that rare path into an outage found in
 * production.  The refused calls are the ones that reach what the role
 * must not: files, programs, the network, other processes, the kernel's
 * larger attack surfaces.  Files are then an allow-list, in Landlock.
 *
 * A refused call fails with EPERM, so the library that made it reports an
 * error the log shows, and the process goes on.  exec is the exception:
 * it kills the process (SCMP_ACT_KILL_PROCESS).  No code path of tokend
 * execs anything, so an attempt can only be an exploit running; an error
 * would let it try its next trick, a kill ends it, and the supervisor's
 * log names the signal (SIGSYS).
 *
 * Sanitizer builds (make asan) need more: LeakSanitizer stops the threads
 * at exit with ptrace() from a clone and reads /proc/self/maps, and every
 * report is written to a file of its own (log_path) and symbolized from
 * the binary and its libraries.  There ptrace() is allowed (Landlock
 * still keeps it within the process's own domain), open() is left to
 * Landlock, which allows reading /proc, the executable's directory and
 * the system's libraries, and writing in the log_path directories of
 * ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS.  A release build has none
 * of this.
 */
#include "core/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "core/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED	0
#endif

/*
 * The Landlock UAPI, spelled out here: Debian 12's kernel headers stop at
 * ABI 2, and the kernel takes a longer struct than it knows as long as
 * the extra fields are zero, so one definition serves every ABI.
 */
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH		1
#define LL_RULE_NET_PORT		2

#define LL_FS_EXECUTE		(1ULL << 0)
#define LL_FS_WRITE_FILE	(1ULL << 1)
#define LL_FS_READ_FILE		(1ULL << 2)
#define LL_FS_READ_DIR		(1ULL << 3)
#define LL_FS_REMOVE_DIR	(1ULL << 4)
#define LL_FS_REMOVE_FILE	(1ULL << 5)
#define LL_FS_MAKE_REG		(1ULL << 8)
#define LL_FS_MAKE_SOCK		(1ULL << 9)
#define LL_FS_ABI1		((1ULL << 13) - 1)	/* bits 0-12 */
#define LL_FS_REFER		(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE		(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV		(1ULL << 15)		/* ABI 5 */
#define LL_FS_ON_FILES		(LL_FS_EXECUTE | LL_FS_WRITE_FILE | \
				 LL_FS_READ_FILE | LL_FS_TRUNCATE | \
				 LL_FS_IOCTL_DEV)
#define LL_NET_BIND_TCP		(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT_TCP	(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL		(1ULL << 1)

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

struct ll_path_beneath {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

struct ll_net_port {
	uint64_t	allowed_access;
	uint64_t	port;
};

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_add_rule		445
#define SYS_landlock_restrict_self	446
#endif

int
sandbox_sanitized(void)
{
	return SANITIZED;
}

/* ---- rules ----------------------------------------------------------- */

void
sandbox_rules_init(struct sandbox_rules *r, enum sandbox_role role)
{
	memset(r, 0, sizeof(*r));
	r->role = role;
}

void
sandbox_rules_clear(struct sandbox_rules *r)
{
	size_t	i;

	for (i = 0; i < r->nread; i++)
		free(r->read[i]);
	for (i = 0; i < r->nwrite; i++)
		free(r->write[i]);
	free(r->sockdir);
	sandbox_rules_init(r, r->role);
}

/* Appends a copy of path to list (n entries); -1 when full or no memory. */
static int
add_path(char **list, size_t *n, const char *path)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		if (strcmp(list[i], path) == 0)
			return 0;
	if (*n == SANDBOX_MAX_PATHS || (list[*n] = strdup(path)) == NULL) {
		log_warnx("sandbox: no room for the path %s", path);
		return -1;
	}
	(*n)++;
	return 0;
}

int
sandbox_allow_read(struct sandbox_rules *r, const char *path)
{
	return add_path(r->read, &r->nread, path);
}

int
sandbox_allow_write(struct sandbox_rules *r, const char *dir)
{
	return add_path(r->write, &r->nwrite, dir);
}

int
sandbox_allow_connect(struct sandbox_rules *r, uint16_t port)
{
	size_t	i;

	for (i = 0; i < r->nconnect; i++)
		if (r->connect_tcp[i] == port)
			return 0;
	if (r->nconnect == SANDBOX_MAX_PORTS) {
		log_warnx("sandbox: no room for port %u", port);
		return -1;
	}
	r->connect_tcp[r->nconnect++] = port;
	return 0;
}

/* ---- Landlock -------------------------------------------------------- */

int
sandbox_landlock_abi(void)
{
	long	abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

/* The file-system rights the kernel of abi knows: all of them handled. */
static uint64_t
fs_handled(int abi)
{
	uint64_t	fs = LL_FS_ABI1;

	if (abi >= 2)
		fs |= LL_FS_REFER;
	if (abi >= 3)
		fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LL_FS_IOCTL_DEV;
	return fs;
}

/*
 * Allows access beneath path (or to path, a file: only the rights that
 * apply to files).  A path that does not exist is skipped: there is
 * nothing there to reach.
 */
static int
add_path_rule(int ruleset, const char *path, uint64_t access, uint64_t fs)
{
	struct ll_path_beneath	pb;
	struct stat		st;
	int			fd, rc;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) {
			log_debug("sandbox: %s: %s, skipped", path,
			    strerror(errno));
			return 0;
		}
		log_warn("sandbox: %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("sandbox: fstat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		access &= LL_FS_ON_FILES;
	pb.allowed_access = access & fs;
	pb.parent_fd = fd;
	rc = pb.allowed_access == 0 ? 0 : (int)syscall(SYS_landlock_add_rule,
	    ruleset, LL_RULE_PATH_BENEATH, &pb, 0);
	if (rc == -1)
		log_warn("sandbox: landlock rule for %s", path);
	close(fd);
	return rc;
}

static int
add_port_rule(int ruleset, uint16_t port, uint64_t access)
{
	struct ll_net_port	np = { access, port };

	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &np,
	    0) == -1) {
		log_warn("sandbox: landlock rule for TCP port %u", port);
		return -1;
	}
	return 0;
}

/*
 * The directory of each sanitizer's log_path ("log_path=DIR/asan" in
 * ASAN_OPTIONS and the like), where its reports are written.
 */
static int
add_sanitizer_logs(struct sandbox_rules *r)
{
	const char	*vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS",
			    "LSAN_OPTIONS" };
	const char	*v, *p;
	char		 dir[PATH_MAX], *slash;
	size_t		 i, len;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((v = getenv(vars[i])) == NULL ||
		    (p = strstr(v, "log_path=")) == NULL)
			continue;
		p += strlen("log_path=");
		len = strcspn(p, ":");
		if (len == 0 || len >= sizeof(dir))
			continue;
		memcpy(dir, p, len);
		dir[len] = '\0';
		if ((slash = strrchr(dir, '/')) == NULL)
			continue;
		*slash = '\0';
		if (sandbox_allow_write(r, dir[0] != '\0' ? dir : "/") == -1)
			return -1;
	}
	return 0;
}

/* What a sanitizer build reads and writes besides the role's rules. */
static int
add_sanitizer_paths(struct sandbox_rules *r)
{
	char	exe[PATH_MAX], *slash;
	ssize_t	n;

	if (sandbox_allow_read(r, "/proc") == -1 ||
	    sandbox_allow_read(r, "/usr/lib") == -1 ||
	    sandbox_allow_read(r, "/lib") == -1)
		return -1;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL && slash != exe) {
			*slash = '\0';
			if (sandbox_allow_read(r, exe) == -1)
				return -1;
		}
	}
	return add_sanitizer_logs(r);
}

static int
add_rules(int ruleset, const struct sandbox_rules *r, int abi)
{
	uint64_t	fs = fs_handled(abi);
	uint64_t	wr = LL_FS_READ_FILE | LL_FS_READ_DIR |
			    LL_FS_WRITE_FILE | LL_FS_REMOVE_FILE |
			    LL_FS_MAKE_REG | LL_FS_TRUNCATE;
	size_t		i;

	for (i = 0; i < r->nread; i++)
		if (add_path_rule(ruleset, r->read[i], LL_FS_READ_FILE |
		    LL_FS_READ_DIR, fs) == -1)
			return -1;
	for (i = 0; i < r->nwrite; i++)
		if (add_path_rule(ruleset, r->write[i], wr, fs) == -1)
			return -1;
	if (r->sockdir != NULL && add_path_rule(ruleset, r->sockdir,
	    LL_FS_MAKE_SOCK | LL_FS_REMOVE_FILE, fs) == -1)
		return -1;
	if (abi < 4)
		return 0;
	for (i = 0; i < 2; i++)
		if (r->bind_tcp[i] != 0 && add_port_rule(ruleset,
		    r->bind_tcp[i], LL_NET_BIND_TCP) == -1)
			return -1;
	for (i = 0; r->inet && i < r->nconnect; i++)
		if (add_port_rule(ruleset, r->connect_tcp[i],
		    LL_NET_CONNECT_TCP) == -1)
			return -1;
	return 0;
}

int
sandbox_restrict(const struct sandbox_rules *r)
{
	struct sandbox_rules	 san;
	struct ll_ruleset_attr	 attr;
	int			 abi, fd = -1, rc = -1;

	if ((abi = sandbox_landlock_abi()) == 0)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = fs_handled(abi);
	if (abi >= 4)
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	/* Connecting to another domain's abstract socket, signalling. */
	if (abi >= 6)
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	/* What the build itself needs: nothing, unless sanitized. */
	sandbox_rules_init(&san, r->role);
	if (SANITIZED && add_sanitizer_paths(&san) == -1)
		goto out;
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    sizeof(attr), 0)) == -1) {
		log_warn("sandbox: landlock_create_ruleset (ABI %d)", abi);
		goto out;
	}
	if (add_rules(fd, r, abi) == -1 || add_rules(fd, &san, abi) == -1)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("sandbox: PR_SET_NO_NEW_PRIVS");
		goto out;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		log_warn("sandbox: landlock_restrict_self");
		goto out;
	}
	rc = abi;
out:
	if (fd != -1)
		close(fd);
	sandbox_rules_clear(&san);
	return rc;
}

/* ---- seccomp --------------------------------------------------------- */

#define FRONT		(1U << SANDBOX_FRONT)
#define WORKER		(1U << SANDBOX_WORKER)
#define BOTH		(FRONT | WORKER)
#define NOT_SAN		(1U << 8)	/* allowed in sanitizer builds */
#define NO_WRITES	(1U << 9)	/* allowed once rules list writes */

/* Calls refused (EPERM) outright, and to which roles. */
static const struct refused {
	const char	*name;
	unsigned	 flags;
} refused[] = {
	/* Another process's memory or descriptors: a worker's secrets. */
	{ "ptrace", BOTH | NOT_SAN },
	{ "process_vm_readv", BOTH },
	{ "process_vm_writev", BOTH },
	{ "pidfd_getfd", BOTH },
	{ "kcmp", BOTH },
	/* Namespaces and mounts: a way around path rules, kernel surface. */
	{ "unshare", BOTH },
	{ "setns", BOTH },
	{ "mount", BOTH },
	{ "umount2", BOTH },
	{ "pivot_root", BOTH },
	{ "chroot", BOTH },
	{ "fsopen", BOTH },
	{ "fsconfig", BOTH },
	{ "fsmount", BOTH },
	{ "fspick", BOTH },
	{ "move_mount", BOTH },
	{ "open_tree", BOTH },
	{ "mount_setattr", BOTH },
	/* io_uring's operations (an open, a connect) never meet seccomp. */
	{ "io_uring_setup", BOTH },
	{ "io_uring_enter", BOTH },
	{ "io_uring_register", BOTH },
	/* The kernel's larger attack surfaces, and its administration. */
	{ "bpf", BOTH },
	{ "perf_event_open", BOTH },
	{ "userfaultfd", BOTH },
	{ "add_key", BOTH },
	{ "request_key", BOTH },
	{ "keyctl", BOTH },
	{ "init_module", BOTH },
	{ "finit_module", BOTH },
	{ "delete_module", BOTH },
	{ "kexec_load", BOTH },
	{ "kexec_file_load", BOTH },
	{ "reboot", BOTH },
	{ "swapon", BOTH },
	{ "swapoff", BOTH },
	{ "acct", BOTH },
	{ "quotactl", BOTH },
	/* Files by handle: no path, so no path rule applies. */
	{ "name_to_handle_at", BOTH },
	{ "open_by_handle_at", BOTH },
	/* No new listening socket after set-up. */
	{ "bind", BOTH },
	{ "listen", BOTH },
	/* The front reaches no one: its workers connect to it. */
	{ "connect", FRONT },
	/* Opening files: the front opens none; openat2's flags are hidden. */
	{ "open", FRONT | NOT_SAN },
	{ "openat", FRONT | NOT_SAN },
	{ "creat", FRONT | NOT_SAN },
	{ "creat", WORKER | NOT_SAN | NO_WRITES },
	{ "openat2", BOTH },
	/* Files changed by path or through a descriptor opened to read. */
	{ "unlink", BOTH | NO_WRITES },
	{ "unlinkat", BOTH | NO_WRITES },
	{ "rename", BOTH | NO_WRITES },
	{ "renameat", BOTH | NO_WRITES },
	{ "renameat2", BOTH | NO_WRITES },
	{ "mkdir", BOTH | NO_WRITES },
	{ "mkdirat", BOTH | NO_WRITES },
	{ "rmdir", BOTH | NO_WRITES },
	{ "link", BOTH | NO_WRITES },
	{ "linkat", BOTH | NO_WRITES },
	{ "symlink", BOTH | NO_WRITES },
	{ "symlinkat", BOTH | NO_WRITES },
	{ "mknod", BOTH | NO_WRITES },
	{ "mknodat", BOTH | NO_WRITES },
	{ "chmod", BOTH | NO_WRITES },
	{ "fchmod", BOTH | NO_WRITES },
	{ "fchmodat", BOTH | NO_WRITES },
	{ "fchmodat2", BOTH | NO_WRITES },
	{ "chown", BOTH | NO_WRITES },
	{ "fchown", BOTH | NO_WRITES },
	{ "lchown", BOTH | NO_WRITES },
	{ "fchownat", BOTH | NO_WRITES },
	{ "truncate", BOTH | NO_WRITES },
	{ "utime", BOTH | NO_WRITES },
	{ "utimes", BOTH | NO_WRITES },
	{ "futimesat", BOTH | NO_WRITES },
	{ "utimensat", BOTH | NO_WRITES },
	{ "setxattr", BOTH | NO_WRITES },
	{ "lsetxattr", BOTH | NO_WRITES },
	{ "fsetxattr", BOTH | NO_WRITES },
	{ "removexattr", BOTH | NO_WRITES },
	{ "lremovexattr", BOTH | NO_WRITES },
	{ "fremovexattr", BOTH | NO_WRITES },
};

/* Whether the table's entry e applies to a process under rules r. */
static int
applies(const struct refused *e, const struct sandbox_rules *r)
{
	if ((e->flags & (1U << r->role)) == 0)
		return 0;
	if ((e->flags & NOT_SAN) && SANITIZED)
		return 0;
	if ((e->flags & NO_WRITES) && r->nwrite > 0)
		return 0;
	return 1;
}

/*
 * Adds one rule for the named call; a call this architecture (or this
 * libseccomp) does not know cannot be made, and is skipped.
 */
static int
rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
    const struct scmp_arg_cmp *cmp)
{
	int	nr, rc;

	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		return 0;
	if ((rc = seccomp_rule_add_array(ctx, action, nr, n, cmp)) < 0) {
		log_warnx("sandbox: seccomp rule for %s: %s", name,
		    strerror(-rc));
		return -1;
	}
	return 0;
}

static int
deny(scmp_filter_ctx ctx, const char *name)
{
	return rule(ctx, SCMP_ACT_ERRNO(EPERM), name, 0, NULL);
}

/* Refuses call when its argument arg has any of the bits of mask. */
static int
deny_bits(scmp_filter_ctx ctx, const char *name, unsigned arg,
    uint64_t mask)
{
	struct scmp_arg_cmp	cmp;
	uint64_t		bit;

	for (bit = 1; bit != 0 && bit <= mask; bit <<= 1) {
		if ((mask & bit) == 0)
			continue;
		cmp = (struct scmp_arg_cmp){ arg, SCMP_CMP_MASKED_EQ, bit,
		    bit };
		if (rule(ctx, SCMP_ACT_ERRNO(EPERM), name, 1, &cmp) == -1)
			return -1;
	}
	return 0;
}

/*
 * Opening for writing, creating, truncating, appending (a worker's reads
 * stay open).  O_RDONLY is 0, so "read only" is "none of these bits".
 */
static int
deny_write_opens(scmp_filter_ctx ctx)
{
	uint64_t	w = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND |
			    __O_TMPFILE;

	return deny_bits(ctx, "open", 1, w) == -1 ||
	    deny_bits(ctx, "openat", 2, w) == -1 ? -1 : 0;
}

/*
 * socket() for the domains allowed, EPERM for every other.  libseccomp
 * takes one comparison per argument in a rule, so each domain below the
 * highest allowed gets its own rule, and one more refuses those above.
 */
static int
allow_domains(scmp_filter_ctx ctx, const int *ok, size_t nok)
{
	struct scmp_arg_cmp	cmp;
	int			d, top = 0;
	size_t			i;

	for (i = 0; i < nok; i++)
		if (ok[i] > top)
			top = ok[i];
	for (d = 0; d < top; d++) {
		for (i = 0; i < nok && ok[i] != d; i++)
			;
		if (i < nok)
			continue;
		cmp = (struct scmp_arg_cmp){ 0, SCMP_CMP_EQ, (uint64_t)d, 0 };
		if (rule(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &cmp) == -1)
			return -1;
	}
	cmp = (struct scmp_arg_cmp){ 0, SCMP_CMP_GT, (uint64_t)top, 0 };
	return rule(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &cmp);
}

/*
 * Threads: clone() with no namespace flag (its flags are its first
 * argument, which the filter can read).  clone3() passes them in memory
 * the filter cannot read: ENOSYS makes glibc fall back to clone().
 */
static int
limit_clone(scmp_filter_ctx ctx)
{
	uint64_t	ns = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
			    CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
			    CLONE_NEWNET;

	if (deny_bits(ctx, "clone", 0, ns) == -1)
		return -1;
	return rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
}

static int
build(scmp_filter_ctx ctx, const struct sandbox_rules *r)
{
	static const int	unix_only[] = { AF_UNIX };
	/* jwks_url: TCP, DNS over UDP, and glibc's address sorting. */
	static const int	inet[] = { AF_UNIX, AF_INET, AF_INET6,
				    AF_NETLINK };
	size_t			i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (applies(&refused[i], r) && deny(ctx, refused[i].name) == -1)
			return -1;
	if (rule(ctx, SCMP_ACT_KILL_PROCESS, "execve", 0, NULL) == -1 ||
	    rule(ctx, SCMP_ACT_KILL_PROCESS, "execveat", 0, NULL) == -1 ||
	    limit_clone(ctx) == -1)
		return -1;
	if (r->role == SANDBOX_WORKER && !SANITIZED && r->nwrite == 0 &&
	    deny_write_opens(ctx) == -1)
		return -1;
	/* The filter cannot see paths: only Landlock keeps writes there. */
	if (r->nwrite > 0 && sandbox_landlock_abi() == 0)
		log_warnx("sandbox: no Landlock in this kernel: files may be "
		    "written outside %s", r->write[0]);
	if (r->role == SANDBOX_WORKER && r->inet)
		return allow_domains(ctx, inet, sizeof(inet) / sizeof(inet[0]));
	return allow_domains(ctx, unix_only, 1);
}

int
sandbox_lock(const struct sandbox_rules *r)
{
	scmp_filter_ctx	ctx;
	int		rc;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		log_warnx("sandbox: seccomp_init failed");
		return -1;
	}
	/*
	 * Every thread, ZeroMQ's and the key fetcher's too; no_new_privs.  A
	 * binary tree of system call numbers: a call the filter does not
	 * name runs about 10 BPF instructions, not one per rule (kernels from
	 * 5.11 skip the filter for those anyway, caching its constant answer).
	 */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
		log_warnx("sandbox: seccomp_attr_set: %s", strerror(-rc));
		seccomp_release(ctx);
		return -1;
	}
	if (build(ctx, r) == -1) {
		seccomp_release(ctx);
		return -1;
	}
	if ((rc = seccomp_load(ctx)) < 0) {
		log_warnx("sandbox: seccomp_load: %s", strerror(-rc));
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	return 0;
}
