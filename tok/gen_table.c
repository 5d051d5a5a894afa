/* Build-time generator of the built-in encodings: reads a .tiktoken rank
 * file and writes the table block (table.h) that tok/builtin.c embeds.
 *   gen_table NAME PRETOK RANKS.tiktoken|- OUT [TEXT=ID ...]
 * RANKS "-" makes the `bytes` encoding (token i is the byte i). */
#include "io.h"
#include "pretok.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	Error e;
	if (argc < 5) {
		fprintf(stderr, "usage: gen_table NAME PRETOK RANKS OUT [TEXT=ID ...]\n");
		return 2;
	}
	int pretok = pretok_from_name(argv[2]);
	if (pretok < 0) {
		fprintf(stderr, "gen_table: unknown pre-tokenizer %s\n", argv[2]);
		return 2;
	}
	TableEntry *ent = NULL;
	uint32_t n = 0;
	uint8_t *store = NULL, *buf = NULL, bytes[256];
	size_t len;
	if (strcmp(argv[3], "-") == 0) {
		n = 256;
		ent = calloc(n, sizeof *ent);
		for (int i = 0; i < 256; i++) {
			bytes[i] = (uint8_t)i;
			ent[i] = (TableEntry){bytes + i, 1, 1};
		}
	} else if (io_read_all(argv[3], &buf, &len, &e) ||
		   table_parse_tiktoken(buf, len, argv[3], &ent, &n, &store, &e)) {
		fprintf(stderr, "gen_table: %s\n", e.msg);
		return 1;
	}
	for (int i = 5; i < argc; i++) {
		char *eq = strrchr(argv[i], '=');
		uint32_t id = eq ? (uint32_t)strtoul(eq + 1, NULL, 10) : 0;
		if (!eq || id < n && ent[id].kind) {
			fprintf(stderr, "gen_table: bad special %s\n", argv[i]);
			return 2;
		}
		if (id >= n) {
			ent = realloc(ent, (id + 1) * sizeof *ent);
			memset(ent + n, 0, (id + 1 - n) * sizeof *ent);
			n = id + 1;
		}
		ent[id] = (TableEntry){(const uint8_t *)argv[i], (uint32_t)(eq - argv[i]), 2};
	}
	void *block;
	size_t size;
	if (table_build(argv[1], pretok, ent, n, &block, &size, &e)) {
		fprintf(stderr, "gen_table: %s\n", e.msg);
		return 1;
	}
	FILE *f = fopen(argv[4], "wb");
	if (!f || fwrite(block, 1, size, f) != size || fclose(f) != 0) {
		perror(argv[4]);
		return 1;
	}
	free(block);
	free(ent);
	free(store);
	free(buf);
	return 0;
}
