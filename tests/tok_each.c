/* Test helper for tests/tok_tiktoken.py: encodes each of many strings on
 * its own, as a whole text.  Reads records (4-byte little-endian length,
 * then the bytes) on stdin; writes one line of decimal ids per record.
 *   tok_each ENCODING ordinary|special */
#include "tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	Error e;
	Tokenizer *t = argc == 3 ? tok_open(argv[1], &e) : NULL;
	if (!t) {
		fprintf(stderr, "usage: tok_each ENCODING ordinary|special\n");
		return 2;
	}
	int special = strcmp(argv[2], "special") == 0;
	uint8_t hdr[4], *buf = NULL;
	size_t cap = 0;
	TokVec v = {0};
	while (fread(hdr, 1, 4, stdin) == 4) {
		size_t n = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
		if (n > cap && !(buf = realloc(buf, cap = n)))
			return 1;
		if (fread(buf, 1, n, stdin) != n)
			return 1;
		v.len = 0;
		if ((special ? tok_encode(t, buf, n, NULL, &v, &e) : tok_encode_ordinary(t, buf, n, &v, &e))) {
			fprintf(stderr, "tok_each: %s\n", e.msg);
			return 1;
		}
		for (size_t i = 0; i < v.len; i++)
			printf(i ? " %u" : "%u", v.ids[i]);
		putchar('\n');
	}
	tokvec_free(&v);
	free(buf);
	tok_free(t);
	return 0;
}
