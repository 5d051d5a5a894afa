/* File I/O helpers: whole-file reads, full writes, and atomic output files
 * (write to a temporary name beside the target, fsync, rename), so that a
 * crash or an error never leaves a half-written file under the real name. */
#ifndef GPTKIT_IO_H
#define GPTKIT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"

/* Read all of `path` ("-" or NULL = stdin) into a malloc'd buffer (one spare
 * NUL byte after the data, not counted in *len). */
int io_read_all(const char *path, uint8_t **buf, size_t *len, Error *e);
/* Read up to n bytes, retrying on short reads and EINTR; returns bytes read
 * (< n only at end of input) or -1. */
long long io_read_full(int fd, void *buf, size_t n, Error *e, const char *name);
/* Write all n bytes or fail. */
int io_write_full(int fd, const void *buf, size_t n, Error *e, const char *name);
/* Display name for a path argument: "-" and NULL become "<stdin>". */
const char *io_display_name(const char *path);

/* An output file that appears under its name only when committed. */
typedef struct {
	FILE *fp;
	char *path;   /* final name (NULL for stdout) */
	char *tmp;    /* temporary name while open */
} AtomicFile;

/* path "-" or NULL writes to stdout directly (nothing to rename). */
int atomic_open(AtomicFile *af, const char *path, Error *e);
/* Flush, fsync, rename into place, fsync the directory. */
int atomic_commit(AtomicFile *af, Error *e);
/* Close and remove the temporary file; safe to call after commit. */
void atomic_abort(AtomicFile *af);
/* Remove the temporary files of the atomic files still open (the first 16
 * opened; async-signal safe: for a fatal signal's handler, see mapguard.h). */
void io_unlink_temps(void);
/* fsync the directory that holds path (so a rename is durable). */
int io_fsync_parent(const char *path, Error *e);

/* Now, in seconds, from a monotonic clock. */
double io_now(void);

#endif
