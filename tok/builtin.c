/* The built-in encodings: table blocks made at build time by gen_table from
 * the .tiktoken files of tok/encodings (sha256-checked) and embedded with .incbin, so a
 * program opens them without reading or parsing anything. */
#include "builtin.h"

#include <string.h>

#ifndef TOK_TABLE_DIR
#error "TOK_TABLE_DIR must name the directory of the generated tables"
#endif

#define EMBED(sym, file)                                                     \
	__asm__(".section .rodata\n"                                         \
		".balign 64\n"                                               \
		".global " #sym "\n"                                         \
		".type " #sym ", @object\n" #sym ":\n"                       \
		".incbin \"" TOK_TABLE_DIR "/" file "\"\n"                   \
		".global " #sym "_end\n" #sym "_end:\n"                      \
		".previous\n");                                              \
	extern const uint8_t sym[], sym##_end[];

EMBED(tok_table_gpt2, "gpt2.tab")
EMBED(tok_table_p50k_base, "p50k_base.tab")
EMBED(tok_table_cl100k_base, "cl100k_base.tab")
EMBED(tok_table_o200k_base, "o200k_base.tab")
EMBED(tok_table_bytes, "bytes.tab")

const char *const tok_builtin_names[] = {"gpt2", "r50k_base", "p50k_base", "cl100k_base",
					 "o200k_base", "bytes", NULL};

int tok_builtin_table(const char *name, const void **block, size_t *size)
{
#define B(n, sym)                                                \
	if (strcmp(name, n) == 0) {                              \
		*block = sym;                                    \
		*size = (size_t)(sym##_end - sym);               \
		return 0;                                        \
	}
	B("gpt2", tok_table_gpt2)
	B("r50k_base", tok_table_gpt2)
	B("p50k_base", tok_table_p50k_base)
	B("cl100k_base", tok_table_cl100k_base)
	B("o200k_base", tok_table_o200k_base)
	B("bytes", tok_table_bytes)
#undef B
	return -1;
}
