/* Token counting through tok/ (tok_open, tok_count). */
#include "tokens.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tok.h"

struct GcmTokens {
	Tokenizer *tok;
};

GcmTokens *gcm_tokens_open(const char *encoding, Error *e)
{
	GcmTokens *t = malloc(sizeof *t);
	if (!t) {
		err_set(e, "out of memory");
		return NULL;
	}
	if (!(t->tok = tok_open(encoding, e))) {
		free(t);
		return NULL;
	}
	return t;
}

size_t gcm_tokens_count(const GcmTokens *t, const char *text, size_t len)
{
	return tok_count(t->tok, (const uint8_t *)text, len);
}

void gcm_tokens_free(GcmTokens *t)
{
	if (t) {
		tok_free(t->tok);
		free(t);
	}
}

const char *gcm_encoding_for_model(const char *model)
{
	const char *slash = strrchr(model, '/');
	const char *m = slash ? slash + 1 : model;
	static const char *const o200k[] = {"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o",
					    "gpt-oss", "codex-", NULL};
	for (int i = 0; o200k[i]; i++)
		if (strncasecmp(m, o200k[i], strlen(o200k[i])) == 0)
			return "o200k_base";
	/* o1, o3, o4-mini, o1-preview...: 'o', digits, then end or '-' */
	if ((m[0] == 'o' || m[0] == 'O') && isdigit((unsigned char)m[1])) {
		const char *p = m + 1;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == 0 || *p == '-')
			return "o200k_base";
	}
	return "cl100k_base";
}
