/* Writing what tok-train learned: the Hugging Face tokenizer.json (a
 * byte-level BPE model behind the same pre-tokenizer regex) and the plain
 * list of merges.  tok-file(5) itself is written by tok/tokfile.c. */
#include "bpe_export.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The regular expressions of tok/pretok.c (../shared/data/README.md). */
static const char *const hf_pattern[] = {
	[PRETOK_GPT2] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
	[PRETOK_CL100K] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	[PRETOK_O200K] = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
			 "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
			 "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

const char *bpe_pattern_regex(PretokKind k)
{
	return k == PRETOK_NONE ? NULL : hf_pattern[k];
}

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other
 * 68 take U+0100 upward in byte order.  Appends the UTF-8 of byte b's char. */
static size_t byte_char(uint8_t b, char *out)
{
	unsigned cp;
	if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) {
		cp = b;
	} else {
		unsigned n = 0;
		for (unsigned x = 0; x < b; x++)
			if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174))
				n++;
		cp = 256 + n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xC0 | cp >> 6);
	out[1] = (char)(0x80 | (cp & 0x3F));
	return 2;
}

static char *byte_level(const uint8_t *s, uint32_t n)
{
	char *out = malloc(2 * (size_t)n + 1), *p = out;
	if (!out)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		p += byte_char(s[i], p);
	*p = 0;
	return out;
}

/* ---- token bytes -> id, to find every split of a token ---- */

typedef struct {
	const BpeVocab *v;
	uint32_t *slot;   /* id + 1 */
	size_t n;
} TokIndex;

static uint64_t fnv(const uint8_t *s, uint32_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h ^ h >> 29;
}

static int index_build(TokIndex *x, const BpeVocab *v)
{
	x->v = v;
	x->n = 1;
	while (x->n < 2 * (size_t)v->n_tokens)
		x->n *= 2;
	if (!(x->slot = calloc(x->n, sizeof *x->slot)))
		return -1;
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		size_t j = fnv(v->tok[i], v->len[i]) & (x->n - 1);
		while (x->slot[j])
			j = (j + 1) & (x->n - 1);
		x->slot[j] = i + 1;
	}
	return 0;
}

static int64_t index_find(const TokIndex *x, const uint8_t *s, uint32_t n)
{
	size_t j = fnv(s, n) & (x->n - 1);
	for (uint32_t k; (k = x->slot[j]); j = (j + 1) & (x->n - 1))
		if (x->v->len[k - 1] == n && memcmp(x->v->tok[k - 1], s, n) == 0)
			return k - 1;
	return -1;
}

/* ---- tokenizer.json ---- */

static json_t *pre_tokenizer(PretokKind k)
{
	json_t *split;
	if (k == PRETOK_NONE)
		split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "String", "\n",
				  "behavior", "MergedWithPrevious", "invert", 0);
	else
		split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex",
				  hf_pattern[k], "behavior", "Isolated", "invert", 0);
	json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
			       "trim_offsets", 1, "use_regex", 0);
	return json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", split, bl);
}

static int add_merge(json_t *merges, const BpeVocab *v, uint32_t a, uint32_t b)
{
	char *l = byte_level(v->tok[a], v->len[a]), *r = byte_level(v->tok[b], v->len[b]);
	int rc = -1;
	if (l && r)
		rc = json_array_append_new(merges, json_pack("[s, s]", l, r));
	free(l);
	free(r);
	return rc;
}

/* The merges: for each new token in rank order, the learned pair first,
 * then every other split of it into two tokens.  tok-encode, like tiktoken,
 * joins any two adjacent tokens whose bytes form a token (lowest rank
 * first); listing every split lets Hugging Face's merge-rank BPE do the same. */
static json_t *merge_list(const BpeVocab *v)
{
	TokIndex x;
	json_t *merges = json_array();
	if (!merges || index_build(&x, v)) {
		json_decref(merges);
		return NULL;
	}
	uint32_t *learned_a = calloc(v->n_tokens, sizeof *learned_a);
	uint32_t *learned_b = calloc(v->n_tokens, sizeof *learned_b);
	uint8_t *have = calloc(v->n_tokens, 1);
	if (!learned_a || !learned_b || !have)
		goto fail;
	for (size_t i = 0; i < v->n_merges; i++) {
		const BpeMerge *m = &v->merges[i];
		if (!have[m->id]) {
			have[m->id] = 1;
			learned_a[m->id] = m->left;
			learned_b[m->id] = m->right;
		}
	}
	for (uint32_t t = 256; t < v->n_tokens; t++) {
		if (have[t] && add_merge(merges, v, learned_a[t], learned_b[t]))
			goto fail;
		for (uint32_t k = 1; k < v->len[t]; k++) {
			int64_t a = index_find(&x, v->tok[t], k);
			int64_t b = index_find(&x, v->tok[t] + k, v->len[t] - k);
			if (a < 0 || b < 0 || (have[t] && a == learned_a[t] && b == learned_b[t]))
				continue;
			if (add_merge(merges, v, (uint32_t)a, (uint32_t)b))
				goto fail;
		}
	}
	free(learned_a);
	free(learned_b);
	free(have);
	free(x.slot);
	return merges;
fail:
	free(learned_a);
	free(learned_b);
	free(have);
	free(x.slot);
	json_decref(merges);
	return NULL;
}

int bpe_write_hf(FILE *fp, const char *name, const BpeVocab *v, PretokKind k,
		 const char *const *specials, size_t n_specials, Error *e)
{
	json_t *vocab = json_object(), *added = json_array(), *merges = merge_list(v);
	json_t *root = NULL;
	int rc = -1;
	if (!vocab || !added || !merges)
		goto oom;
	for (uint32_t i = 0; i < v->n_tokens; i++) {
		char *s = byte_level(v->tok[i], v->len[i]);
		if (!s || json_object_set_new(vocab, s, json_integer(i))) {
			free(s);
			goto oom;
		}
		free(s);
	}
	for (size_t i = 0; i < n_specials; i++)
		if (json_array_append_new(added, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}",
				"id", (json_int_t)(v->n_tokens + i), "content", specials[i],
				"single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1)))
			goto oom;
	json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:O, s:O}",
				  "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
				  "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
				  "ignore_merges", 1, "vocab", vocab, "merges", merges);
	json_t *pre = pre_tokenizer(k);
	json_t *dec = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
				"trim_offsets", 1, "use_regex", 0);
	if (!model || !pre || !dec) {
		json_decref(model);
		json_decref(pre);
		json_decref(dec);
		goto oom;
	}
	root = json_pack("{s:s, s:n, s:n, s:O, s:n, s:o, s:n, s:o, s:o}", "version", "1.0",
			 "truncation", "padding", "added_tokens", added, "normalizer",
			 "pre_tokenizer", pre, "post_processor", "decoder", dec, "model", model);
	if (!root)
		goto oom;
	if (json_dumpf(root, fp, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_COMPACT) ||
	    fputc('\n', fp) == EOF) {
		err_errno(e, "%s: write", name);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	err_set(e, "%s: out of memory", name);
out:
	json_decref(root);
	json_decref(vocab);
	json_decref(added);
	json_decref(merges);
	return rc;
}

int bpe_write_merges(FILE *fp, const char *name, const BpeVocab *v, Error *e)
{
	for (size_t i = 0; i < v->n_merges; i++) {
		const BpeMerge *m = &v->merges[i];
		if (fprintf(fp, "%u %u %u %llu\n", m->left, m->right, m->id,
			    (unsigned long long)m->count) < 0)
			return err_errno(e, "%s: write", name);
	}
	return 0;
}
