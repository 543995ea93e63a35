/*
 * procstat.h - a process's CPU time and resident size, from
 * /proc/PID/stat, through a descriptor opened once.
 *
 * Opened before a process confines itself (its sandbox reads nothing of
 * /proc afterwards); read with pread(2) whenever a figure is wanted.
 */
#ifndef TOKEND_PROCSTAT_H
#define TOKEND_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* A descriptor on /proc/PID/stat (0: this process), or -1 (logged). */
int	procstat_open(pid_t pid);
/*
 * User + system CPU in microseconds and resident bytes, as of now.
 * Returns 0, or -1 if fd is -1 or the file cannot be read.
 */
int	procstat_read(int fd, uint64_t *cpu_us, uint64_t *rss_bytes);

#endif
