/* The hash of token byte strings, shared by the build-time table generator
 * and the encoder (the tables are built once and embedded, so both sides
 * must agree bit for bit). */
#ifndef GPTKIT_TOK_HASH_H
#define GPTKIT_TOK_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t tok_load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t tok_load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t tok_mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* wyhash-style: whole 8-byte words, then an overlapping tail; reads only
 * the n bytes at p. */
static inline uint64_t tok_hash(const uint8_t *p, size_t n)
{
	const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
	uint64_t a, b, h = n * k1;
	if (n <= 8) {
		if (n >= 4) {
			a = tok_load32(p);
			b = tok_load32(p + n - 4);
		} else if (n) {
			a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
			b = 0;
		} else {
			a = b = 0;
		}
		return tok_mix(a ^ k0, b ^ h);
	}
	size_t i = 0;
	for (; i + 8 < n; i += 8)
		h = tok_mix(tok_load64(p + i) ^ k0, h ^ k1);
	return tok_mix(tok_load64(p + n - 8) ^ k0, h ^ n);
}

#endif
