/*
 * proctitle.h - names each process twice, as ps and top show it: a short
 * name the kernel keeps (comm, 15 bytes: "tokend-front"), which pgrep,
 * pidof, top and ps -e match, and a long title written over the argv area
 * ("tokend: front 127.0.0.1:8080 /etc/tokend/tokend.conf"), which ps -f
 * and ps aux show, so two instances on one host can be told apart.
 */
#ifndef TOKEND_PROCTITLE_H
#define TOKEND_PROCTITLE_H

/* Longest short name the kernel keeps (TASK_COMM_LEN less the NUL). */
#define PROCTITLE_NAME_MAX	15

/* Call once from main() before anything reads environ through argv. */
void	proctitle_init(int argc, char **argv);

/*
 * Sets the short name (cut at PROCTITLE_NAME_MAX bytes) and the long
 * title, formatted as printf would.
 */
void	proctitle_set(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
