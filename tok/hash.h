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

/* The first min(n, 8) bytes of p as a little-endian word, zero-padded;
 * reads only the n bytes at p. */
static inline uint64_t tok_key8(const uint8_t *p, size_t n)
{
	if (n >= 8)
		return tok_load64(p);
	if (n >= 4)
		return (uint64_t)tok_load32(p) | (uint64_t)tok_load32(p + n - 4) << (8 * (n - 4));
	if (n == 0)
		return 0;
	return (uint64_t)p[0] | (uint64_t)p[n >> 1] << (8 * (n >> 1)) | (uint64_t)p[n - 1] << (8 * (n - 1));
}

/* wyhash-style hash of p[0..n) given its tok_key8; reads only the n bytes. */
static inline uint64_t tok_hash_k(const uint8_t *p, size_t n, uint64_t key8)
{
	const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
	if (n <= 8)
		return tok_mix(key8 ^ k0, (uint64_t)n ^ k1);
	uint64_t h = n * k1;
	size_t i = 0;
	for (; i + 8 < n; i += 8)
		h = tok_mix(tok_load64(p + i) ^ k0, h ^ k1);
	return tok_mix(tok_load64(p + n - 8) ^ k0, h ^ n);
}

static inline uint64_t tok_hash(const uint8_t *p, size_t n)
{
	return tok_hash_k(p, n, tok_key8(p, n));
}

/* Slot of hash h in a table of nslots (any number, not only powers of 2). */
static inline uint32_t tok_slot(uint64_t h, uint32_t nslots)
{
	return (uint32_t)(((h >> 32) * nslots) >> 32);
}

/* What a slot stores besides the key: the length (255 = 255 or more) and
 * 24 bits of the hash. */
static inline uint32_t tok_lentag(uint64_t h, size_t n)
{
	return (uint32_t)(n < 255 ? n : 255) | (uint32_t)(h & 0xffffff) << 8;
}

#endif
