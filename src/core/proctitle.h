/*
 * proctitle.h - names each process for ps and top ("tokend: worker 3"),
 * as nginx does, by writing over the argv area.
 */
#ifndef TOKEND_PROCTITLE_H
#define TOKEND_PROCTITLE_H

/* Call once from main() before anything reads environ through argv. */
void	proctitle_init(int argc, char **argv);
void	proctitle_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
