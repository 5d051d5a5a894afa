/* Minimal checks for unit tests: each CHECK prints `ok NAME` or
 * `not ok NAME: where`, and test_done() sets the exit status. */
#ifndef GPTKIT_TAP_H
#define GPTKIT_TAP_H
#include <stdio.h>

static int tap_failures;

#define CHECK(cond, name) do { \
	if (cond) printf("ok %s\n", name); \
	else { printf("not ok %s: %s:%d: %s\n", name, __FILE__, __LINE__, #cond); tap_failures++; } \
} while (0)

static inline int test_done(void) { fflush(stdout); return tap_failures ? 1 : 0; }
#endif
