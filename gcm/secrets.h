/* gcm's secret scan: before a diff leaves the machine, look through its
 * added lines for likely secrets (private key blocks, .env files, common
 * cloud and service key shapes), so gcm can refuse to send them. */
#ifndef GCM_SECRETS_H
#define GCM_SECRETS_H

#include <stddef.h>

typedef struct {
	char path[512];     /* the file in the diff */
	size_t line;        /* line number in the new version of the file */
	const char *what;   /* "a private key block", "an AWS access key id", ... */
} GcmSecret;

/* Scan the added lines of diff; stores up to max hits and returns how many
 * there are in all.  The secret itself is never copied out. */
size_t gcm_secrets_scan(const char *diff, size_t len, GcmSecret *hits, size_t max);

#endif
