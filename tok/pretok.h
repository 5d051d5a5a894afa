/* Pre-tokenizers: the regular expressions of GPT-2, cl100k_base and
 * o200k_base, written by hand over generated Unicode tables (see
 * tok/gen_unicode.py).  A piece never crosses a boundary that the regex
 * would not; invalid UTF-8 bytes are one-byte "other" characters. */
#ifndef GPTKIT_PRETOK_H
#define GPTKIT_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PRETOK_GPT2, PRETOK_CL100K, PRETOK_O200K, PRETOK_NONE } PretokKind;

/* End of the piece that starts at pos (pos < len).  PRETOK_NONE: len. */
size_t pretok_next(PretokKind k, const uint8_t *s, size_t len, size_t pos);

/* "gpt2", "cl100k", "o200k", "none" <-> kind; -1 for an unknown name. */
const char *pretok_name(PretokKind k);
int pretok_from_name(const char *name);

/* The Unicode version of the property tables. */
extern const char pretok_unicode_version[];

#endif
