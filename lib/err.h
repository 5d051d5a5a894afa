/* Errors and diagnostics.
 * Library code never exits: it fills an Error and returns -1 (or NULL).
 * Only a program's main turns an Error into `prog: message` and an exit code. */
#ifndef GPTKIT_ERR_H
#define GPTKIT_ERR_H

#include <stdarg.h>

typedef struct {
	char msg[512];
} Error;

/* Exit codes shared by every program. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Set the error message (printf style); always returns -1 so that
 * `return err_set(e, ...)` reads naturally.  e may be NULL. */
int err_set(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like err_set, with ": strerror(errno)" appended. */
int err_errno(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The program's name as invoked (basename of argv[0]). */
const char *prog_name(void);

/* `prog: message` on stderr. */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `prog: message` then exit(EXIT_FAIL). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* `prog: message: strerror(errno)` then exit(EXIT_FAIL). */
void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* `prog: <e->msg>` then exit(EXIT_FAIL). */
void die_err(const Error *e) __attribute__((noreturn));
/* `prog: message` + `Try 'prog --help'.` then exit(EXIT_USAGE). */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
