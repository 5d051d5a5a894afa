/* The embedded table blocks of the built-in encodings (tok/builtin.c). */
#ifndef GPTKIT_TOK_BUILTIN_H
#define GPTKIT_TOK_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

/* The block of a built-in encoding name; -1 if there is none. */
int tok_builtin_table(const char *name, const void **block, size_t *size);

#endif
