/* GPT-2's encoder.json + vocab.bpe.  Tokens are written through GPT-2's
 * bytes_to_unicode map; the 256 byte tokens rank first (in that map's
 * order), then merge i of vocab.bpe makes rank 256 + i.  encoder.json must
 * give every token its rank as id (as tiktoken requires); its other
 * entries (<|endoftext|>) are special tokens. */
#include "tok_impl.h"
#include "io.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* byte_of[cp] for cp < 324: the byte GPT-2 writes as code point cp; -1 if none. */
static void gpt2_byte_map(int byte_of[324], uint8_t order[256])
{
	int n = 0, extra = 0;
	for (int i = 0; i < 324; i++)
		byte_of[i] = -1;
	for (int b = 0; b < 256; b++)
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
			byte_of[b] = b;
			order[n++] = (uint8_t)b;
		}
	for (int b = 0; b < 256; b++)
		if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
			byte_of[256 + extra++] = b;
			order[n++] = (uint8_t)b;
		}
}

/* Decode a GPT-2 token string (UTF-8 of mapped code points) into bytes;
 * returns the length or -1. */
static long unmap(const int byte_of[324], const char *s, size_t n, uint8_t *out)
{
	long o = 0;
	for (size_t i = 0; i < n;) {
		uint8_t c = (uint8_t)s[i];
		uint32_t cp;
		if (c < 0x80) {
			cp = c;
			i++;
		} else if ((c & 0xE0) == 0xC0 && i + 1 < n) {
			cp = (uint32_t)(c & 0x1F) << 6 | (s[i + 1] & 0x3F);
			i += 2;
		} else {
			return -1;
		}
		if (cp >= 324 || byte_of[cp] < 0)
			return -1;
		out[o++] = (uint8_t)byte_of[cp];
	}
	return o;
}

Tokenizer *tok_open_gpt2_json(const char *encoder_path, const char *bpe_path, Error *e)
{
	int byte_of[324];
	uint8_t order[256];
	gpt2_byte_map(byte_of, order);
	uint8_t *bpe = NULL, *store = NULL;
	size_t len;
	TableEntry *ent = NULL;
	json_t *root = NULL;
	Tokenizer *t = NULL;
	if (io_read_all(bpe_path, &bpe, &len, e))
		return NULL;
	/* ranks: 256 bytes, then one per merge line */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += bpe[i] == '\n';
	size_t cap = 256 + lines + 1;
	ent = calloc(cap, sizeof *ent);
	store = malloc(256 + 2 * len + 16);
	if (!ent || !store) {
		err_set(e, "out of memory");
		goto out;
	}
	size_t sp = 0;
	for (int i = 0; i < 256; i++) {
		store[sp] = order[i];
		ent[i] = (TableEntry){store + sp, 1, 1};
		sp++;
	}
	uint32_t n = 256;
	size_t p = 0, line = 0;
	while (p < len) {
		line++;
		const uint8_t *nl = memchr(bpe + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - bpe) : len, q = end;
		if (q > p && bpe[q - 1] == '\r')
			q--;
		if (line == 1 && q - p >= 8 && memcmp(bpe + p, "#version", 8) == 0) {
			p = end + 1;
			continue;
		}
		if (q > p) {
			const uint8_t *sep = memchr(bpe + p, ' ', q - p);
			long a, b;
			if (!sep || (a = unmap(byte_of, (const char *)bpe + p, (size_t)(sep - bpe) - p, store + sp)) <= 0 ||
			    (b = unmap(byte_of, (const char *)sep + 1, q - (size_t)(sep - bpe) - 1, store + sp + a)) <= 0) {
				err_set(e, "%s: line %zu: expected two GPT-2 token strings", bpe_path, line);
				goto out;
			}
			ent[n++] = (TableEntry){store + sp, (uint32_t)(a + b), 1};
			sp += (size_t)(a + b);
		}
		p = nl ? end + 1 : len;
	}
	json_error_t je;
	root = json_load_file(encoder_path, 0, &je);
	if (!root) {
		err_set(e, "%s: line %d: %s", encoder_path, je.line, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(e, "%s: not a JSON object", encoder_path);
		goto out;
	}
	/* check every entry against the ranks; the rest become specials */
	uint8_t *seen = calloc(n, 1);
	const char *key;
	json_t *val;
	size_t nspec = 0;
	TableEntry *spec = calloc(json_object_size(root) + 1, sizeof *spec);
	uint32_t *spec_id = calloc(json_object_size(root) + 1, sizeof *spec_id);
	uint8_t tmp[1024];
	int bad = !seen || !spec || !spec_id;
	if (bad)
		err_set(e, "out of memory");
	json_object_foreach(root, key, val) {
		if (bad)
			break;
		json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
		if (id < 0 || id >= (1 << 26)) {
			bad = err_set(e, "%s: entry \"%.40s\": bad id", encoder_path, key);
			break;
		}
		size_t kl = strlen(key);
		long bl = kl < sizeof tmp ? unmap(byte_of, key, kl, tmp) : -1;
		if ((uint64_t)id < n && bl == (long)ent[id].len && memcmp(tmp, ent[id].bytes, (size_t)bl) == 0) {
			seen[id] = 1;
			continue;
		}
		if ((uint64_t)id < n) {
			bad = err_set(e, "%s: entry \"%.40s\" has id %lld, but vocab.bpe ranks another token there",
				      encoder_path, key, (long long)id);
			break;
		}
		spec[nspec] = (TableEntry){(const uint8_t *)key, (uint32_t)kl, 2};
		spec_id[nspec++] = (uint32_t)id;
	}
	for (uint32_t i = 0; !bad && i < n; i++)
		if (!seen[i])
			bad = err_set(e, "%s: token of rank %u has no entry in %s", bpe_path, i, encoder_path);
	if (!bad) {
		uint32_t nv = n;
		for (size_t i = 0; i < nspec; i++)
			if (spec_id[i] + 1 > nv)
				nv = spec_id[i] + 1;
		TableEntry *all = calloc(nv, sizeof *all);
		if (!all) {
			bad = err_set(e, "out of memory");
		} else {
			memcpy(all, ent, n * sizeof *ent);
			for (size_t i = 0; i < nspec; i++) {
				if (all[spec_id[i]].kind) {
					bad = err_set(e, "%s: id %u is used twice", encoder_path, spec_id[i]);
					break;
				}
				all[spec_id[i]] = spec[i];
			}
			/* GPT-2's own files make "gpt2"; others are named after
			 * their directory */
			char name[33] = "gpt2";
			if (!tok_same_as_builtin(all, nv)) {
				char dir[4096];
				snprintf(dir, sizeof dir, "%s", encoder_path);
				char *slash = strrchr(dir, '/');
				if (slash)
					*slash = 0;
				tok_name_from_path(slash ? dir : "gpt2-json", name, sizeof name);
			}
			void *block;
			size_t size;
			if (!bad && table_build(name, PRETOK_GPT2, all, nv, &block, &size, e) == 0)
				t = tok_from_block(block, size, block, e);
			free(all);
		}
	}
	free(seen);
	free(spec);
	free(spec_id);
out:
	json_decref(root);
	free(ent);
	free(store);
	free(bpe);
	return t;
}
