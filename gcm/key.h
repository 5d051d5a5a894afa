/* gcm's API key: from GCM_API_KEY, OPENAI_API_KEY, or a key file only its
 * owner can read ($XDG_CONFIG_HOME/gcm/key, else ~/.config/gcm/key).  Never
 * from the command line; the buffer is wiped when freed. */
#ifndef GCM_KEY_H
#define GCM_KEY_H

#include <stddef.h>
#include "err.h"

typedef struct {
	char *key;          /* NULL when none is set (Ollama, llama-server) */
	char source[600];   /* where it came from, for messages: "GCM_API_KEY", a path */
} GcmKey;

/* -1 on a key file with group or other permissions, an unreadable key
 * file, or a key holding spaces or control characters. */
int gcm_key_load(GcmKey *k, Error *e);
void gcm_key_free(GcmKey *k);
/* The key file's path (whether or not it exists); -1 without HOME. */
int gcm_key_path(char *buf, size_t cap);

#endif
