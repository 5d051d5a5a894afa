/* Mapped input files that shrink under us.  Reading a page of a mapping
 * beyond its file's current end raises SIGBUS, which would kill the program
 * with no word of which file (another program truncating or rewriting a
 * checkpoint or token stream while we read it).  A mapping registered here
 * turns that into the usual one-line error, `prog: NAME: offset N: file
 * shrank while mapped`, removes unfinished atomic output files (io.h), and
 * exits with status 1.  A SIGBUS outside every registered mapping keeps its
 * default action. */
#ifndef GPTKIT_MAPGUARD_H
#define GPTKIT_MAPGUARD_H

#include <stddef.h>

/* Register [base, base + len) as the mapping of file name (copied; installs
 * the handler on first use).  At most MAPGUARD_MAX mappings at a time; more
 * are left unguarded. */
#define MAPGUARD_MAX 16
void mapguard_add(const void *base, size_t len, const char *name);
/* Forget the mapping that starts at base (before munmap). */
void mapguard_remove(const void *base);

#endif
