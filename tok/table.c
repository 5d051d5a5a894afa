/* Building, checking and viewing vocabulary table blocks (table.h), and the
 * .tiktoken rank file parser that the built-in tables are made from. */
#include "table.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD8(x) (((x) + 7) & ~(size_t)7)
#define PAD16(x) (((x) + 15) & ~(size_t)15)
#define MAX_VOCAB (1u << 26)

static size_t specials_off(void) { return PAD8(sizeof(TableHeader)); }

int table_build(const char *name, int pretok, const TableEntry *ent, uint32_t n_vocab,
		void **block, size_t *size, Error *e)
{
	if (n_vocab == 0 || n_vocab > MAX_VOCAB)
		return err_set(e, "%s: vocabulary of %u tokens is out of range", name, n_vocab);
	uint32_t n_ranks = 0, n_special = 0, max_len = 0;
	size_t bytes_len = 0;
	for (uint32_t i = 0; i < n_vocab; i++) {
		if (ent[i].kind == 0)
			continue;
		if (ent[i].len == 0)
			return err_set(e, "%s: token %u is empty", name, i);
		if (ent[i].kind == 1) {
			n_ranks++;
			if (ent[i].len > max_len)
				max_len = ent[i].len;
		} else {
			n_special++;
		}
		bytes_len += ent[i].len;
	}
	if (bytes_len > UINT32_MAX - TABLE_PAD)
		return err_set(e, "%s: tokens too long", name);
	/* load factor about 0.6: a lookup that fails probes ~3 slots */
	uint32_t nslots = n_ranks + n_ranks / 2 + n_ranks / 8 + 16;
	size_t o_spec = specials_off();
	size_t o_off = PAD8(o_spec + 4 * (size_t)n_special);
	size_t o_dec = PAD16(o_off + 4 * ((size_t)n_vocab + 1));
	size_t o_slots = o_dec + 16 * (size_t)n_vocab;
	size_t o_bytes = o_slots + sizeof(TableSlot) * (size_t)nslots;
	size_t total = PAD8(o_bytes + bytes_len + TABLE_PAD);
	uint8_t *b = aligned_alloc(64, (total + 63) & ~(size_t)63);
	if (b)
		memset(b, 0, total);
	if (!b)
		return err_set(e, "%s: out of memory", name);
	TableHeader *h = (TableHeader *)b;
	uint32_t *spec = (uint32_t *)(b + o_spec), *off = (uint32_t *)(b + o_off);
	TableSlot *slots = (TableSlot *)(b + o_slots);
	uint8_t *bytes = b + o_bytes, *dec = b + o_dec;
	h->magic = TABLE_MAGIC;
	h->version = TABLE_VERSION;
	h->n_vocab = n_vocab;
	h->n_ranks = n_ranks;
	h->nslots = nslots;
	h->max_len = max_len;
	h->pretok = (uint32_t)pretok;
	h->eot = -1;
	h->n_special = n_special;
	h->bytes_len = (uint32_t)bytes_len;
	h->size = total;
	snprintf(h->name, sizeof h->name, "%.32s", name);
	for (int i = 0; i < 256; i++)
		h->byte_id[i] = UINT32_MAX;
	uint32_t pos = 0, ns = 0;
	for (uint32_t i = 0; i < n_vocab; i++) {
		off[i] = pos;
		if (ent[i].kind == 0) {
			dec[16 * (size_t)i + 15] = 255; /* a gap: the decoder's slow path says so */
			continue;
		}
		memcpy(bytes + pos, ent[i].bytes, ent[i].len);
		pos += ent[i].len;
		if (ent[i].len < 16) {
			memcpy(dec + 16 * (size_t)i, ent[i].bytes, ent[i].len);
			dec[16 * (size_t)i + 15] = (uint8_t)ent[i].len;
		} else {
			dec[16 * (size_t)i + 15] = 255;
		}
		if (ent[i].kind == 2) {
			spec[ns++] = i;
			if (ent[i].len == 13 && memcmp(ent[i].bytes, "<|endoftext|>", 13) == 0)
				h->eot = (int32_t)i;
			continue;
		}
		if (ent[i].len == 1)
			h->byte_id[ent[i].bytes[0]] = i;
		uint64_t key = tok_key8(ent[i].bytes, ent[i].len);
		uint64_t hv = tok_hash_k(ent[i].bytes, ent[i].len, key);
		uint32_t lt = tok_lentag(hv, ent[i].len);
		for (uint32_t k = tok_slot(hv, nslots);; k = k + 1 == nslots ? 0 : k + 1) {
			TableSlot *sl = &slots[k];
			if (sl->id1 == 0) {
				*sl = (TableSlot){key, i + 1, lt};
				break;
			}
			uint32_t j = sl->id1 - 1;
			if (sl->key == key && sl->lentag == lt && ent[j].len == ent[i].len &&
			    memcmp(ent[j].bytes, ent[i].bytes, ent[i].len) == 0) {
				free(b);
				return err_set(e, "%s: tokens %u and %u have the same bytes", name, j, i);
			}
		}
	}
	off[n_vocab] = pos;
	for (int i = 0; i < 256; i++)
		if (h->byte_id[i] == UINT32_MAX) {
			free(b);
			return err_set(e, "%s: no token for the byte 0x%02x (every byte needs one)", name, i);
		}
	*block = b;
	*size = total;
	return 0;
}

int table_view(const void *block, size_t size, TableView *v, Error *e)
{
	const TableHeader *h = block;
	if (size < sizeof *h || h->magic != TABLE_MAGIC || h->version != TABLE_VERSION || h->size != size)
		return err_set(e, "corrupt vocabulary table");
	const uint8_t *b = block;
	size_t o_spec = specials_off();
	size_t o_off = PAD8(o_spec + 4 * (size_t)h->n_special);
	size_t o_dec = PAD16(o_off + 4 * ((size_t)h->n_vocab + 1));
	size_t o_slots = o_dec + 16 * (size_t)h->n_vocab;
	size_t o_bytes = o_slots + sizeof(TableSlot) * (size_t)h->nslots;
	if (PAD8(o_bytes + h->bytes_len + TABLE_PAD) != size)
		return err_set(e, "corrupt vocabulary table");
	v->h = h;
	v->special_ids = (const uint32_t *)(b + o_spec);
	v->off = (const uint32_t *)(b + o_off);
	v->dec = b + o_dec;
	v->slots = (const TableSlot *)(b + o_slots);
	v->bytes = b + o_bytes;
	return 0;
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = b64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = b64[v >> 18];
		*out++ = b64[(v >> 12) & 63];
		*out++ = b64[(v >> 6) & 63];
		*out++ = '=';
	}
	*out = 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

long base64_decode(const char *in, size_t n, uint8_t *out)
{
	if (n == 0 || n % 4)
		return -1;
	long o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64val(in[i + k])) < 0) {
				return -1;
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = x >> 16;
		if (pad < 2)
			out[o++] = (x >> 8) & 0xff;
		if (pad < 1)
			out[o++] = x & 0xff;
	}
	return o;
}

/* ---- .tiktoken ---- */

int table_parse_tiktoken(const uint8_t *buf, size_t len, const char *name, TableEntry **entries,
			 uint32_t *n, uint8_t **store, Error *e)
{
	uint8_t *st = malloc(len + 1);
	uint32_t cap = 1024, max = 0;
	TableEntry *ent = calloc(cap, sizeof *ent);
	size_t sp = 0, line = 0, p = 0;
	if (!st || !ent)
		goto oom;
	while (p < len) {
		line++;
		const uint8_t *nl = memchr(buf + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - buf) : len, q = end;
		if (q > p && buf[q - 1] == '\r')
			q--;
		const uint8_t *sp_ = memchr(buf + p, ' ', q - p);
		if (!sp_) {
			err_set(e, "%s: line %zu: expected 'base64 rank'", name, line);
			goto fail;
		}
		size_t b64end = (size_t)(sp_ - buf);
		long got = base64_decode((const char *)buf + p, b64end - p, st + sp);
		if (got <= 0) {
			err_set(e, "%s: line %zu: bad base64 token", name, line);
			goto fail;
		}
		uint64_t rank = 0;
		size_t r = b64end + 1;
		if (r == q) {
			err_set(e, "%s: line %zu: missing rank", name, line);
			goto fail;
		}
		for (; r < q; r++) {
			if (buf[r] < '0' || buf[r] > '9' || rank >= MAX_VOCAB) {
				err_set(e, "%s: line %zu: bad rank", name, line);
				goto fail;
			}
			rank = rank * 10 + (buf[r] - '0');
		}
		if (rank >= MAX_VOCAB) {
			err_set(e, "%s: line %zu: rank %llu is too large", name, line, (unsigned long long)rank);
			goto fail;
		}
		while (rank >= cap) {
			TableEntry *ne = realloc(ent, 2 * (size_t)cap * sizeof *ent);
			if (!ne)
				goto oom;
			memset(ne + cap, 0, cap * sizeof *ent);
			ent = ne;
			cap *= 2;
		}
		if (ent[rank].kind) {
			err_set(e, "%s: line %zu: rank %llu appears twice", name, line, (unsigned long long)rank);
			goto fail;
		}
		/* bytes point into st, fixed up below (st may not move, but keep offsets simple) */
		ent[rank].bytes = (const uint8_t *)(uintptr_t)sp;
		ent[rank].len = (uint32_t)got;
		ent[rank].kind = 1;
		sp += (size_t)got;
		if (rank + 1 > max)
			max = (uint32_t)rank + 1;
		p = nl ? end + 1 : len;
	}
	if (max == 0) {
		err_set(e, "%s: no tokens", name);
		goto fail;
	}
	for (uint32_t i = 0; i < max; i++)
		if (ent[i].kind)
			ent[i].bytes = st + (uintptr_t)ent[i].bytes;
	*entries = ent;
	*n = max;
	*store = st;
	return 0;
oom:
	err_set(e, "%s: out of memory", name);
fail:
	free(st);
	free(ent);
	return -1;
}
