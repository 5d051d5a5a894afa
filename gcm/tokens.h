/* gcm's token counter: a thin wrapper over gptkit's tokenizer (tok/), and
 * the rule that picks an encoding for a model name. */
#ifndef GCM_TOKENS_H
#define GCM_TOKENS_H

#include <stddef.h>
#include "err.h"

typedef struct GcmTokens GcmTokens;

/* encoding: "o200k_base", "cl100k_base" (or any name tok_open knows). */
GcmTokens *gcm_tokens_open(const char *encoding, Error *e);
size_t gcm_tokens_count(const GcmTokens *t, const char *text, size_t len);
void gcm_tokens_free(GcmTokens *t);

/* o200k_base for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, chatgpt-4o and the
 * o-series (o1, o3, o4-mini, ...), cl100k_base for anything else.  A
 * provider prefix ("openai/gpt-4o") is ignored. */
const char *gcm_encoding_for_model(const char *model);

#endif
