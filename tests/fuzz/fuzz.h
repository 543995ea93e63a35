/*
 * fuzz.h - what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness checks invariants, not only "no crash": a broken invariant
 * must stop libFuzzer with the input that broke it, so FUZZ_CHECK aborts
 * (libFuzzer saves the input as a crash artefact) after saying which
 * invariant failed and where.  Harnesses are deterministic: no clock, no
 * randomness, nothing kept from one input to the next beyond what their
 * LLVMFuzzerInitialize sets up once and never changes.
 */
#ifndef TOKEND_FUZZ_H
#define TOKEND_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
