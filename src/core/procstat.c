/*
 * procstat.c - CPU time and resident size from /proc/PID/stat, for the
 * metrics of each process role (docs/metrics.md).
 *
 * getrusage(2) gives CPU time but only the peak resident size, and not
 * that of another process (the supervisor, for the front); /proc gives
 * both, for any process of ours.  The descriptor is kept open because a
 * confined process cannot open /proc again (Landlock checks at open(2)),
 * and pread(2) at offset 0 reads the file afresh every time.
 */
#include "core/procstat.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

int
procstat_open(pid_t pid)
{
	char	path[64];
	int	fd;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		log_warn("%s", path);
	return fd;
}

int
procstat_read(int fd, uint64_t *cpu_us, uint64_t *rss_bytes)
{
	static long	 tick, page;
	char		 buf[1024], *p;
	unsigned long	 utime, stime;
	long		 rss;
	ssize_t		 n;

	if (fd == -1 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	if (tick == 0) {
		tick = sysconf(_SC_CLK_TCK);
		page = sysconf(_SC_PAGESIZE);
	}
	/*
	 * The name, field 2, is in parentheses and may hold anything, ')'
	 * included: the fields resume after the last ')'.  From field 3
	 * (state): utime and stime are fields 14 and 15, rss field 24.
	 */
	if ((p = strrchr(buf, ')')) == NULL || tick <= 0 || page <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld", &utime, &stime,
	    &rss) != 3)
		return -1;
	*cpu_us = (uint64_t)(utime + stime) * 1000000 / (uint64_t)tick;
	*rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
	return 0;
}
