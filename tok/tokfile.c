/* tok-file(5): reading and writing gptkit's tokenizer files.
 *
 *   gptkit-tokenizer 1
 *   name NAME
 *   pattern gpt2|cl100k|o200k|none
 *   tokens N
 *   BASE64 ID          N lines, ids 0..N-1 in order (rank = id)
 *   specials M
 *   ID TEXT            M lines, ids >= N
 *   end
 */
#include "tokfile.h"
#include "io.h"
#include "tok_impl.h"

#include <stdlib.h>
#include <string.h>

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return 0;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

int tokfile_write_fp(FILE *fp, const char *name, const TokFileData *d, Error *e)
{
	if (!valid_name(d->name))
		return err_set(e, "%s: tokenizer name must be 1 to 32 printable characters without spaces", name);
	if ((unsigned)d->pattern > PRETOK_NONE)
		return err_set(e, "%s: unknown pre-tokenizer", name);
	fprintf(fp, "%s %d\nname %s\npattern %s\ntokens %u\n", TOKFILE_MAGIC, TOKFILE_VERSION, d->name,
		pretok_name(d->pattern), d->n_tokens);
	char *b64 = NULL;
	size_t b64cap = 0;
	for (uint32_t i = 0; i < d->n_tokens; i++) {
		size_t need = 4 * ((d->lens[i] + 2) / 3) + 1;
		if (d->lens[i] == 0) {
			free(b64);
			return err_set(e, "%s: token %u is empty", name, i);
		}
		if (need > b64cap) {
			char *nb = realloc(b64, need * 2);
			if (!nb) {
				free(b64);
				return err_set(e, "out of memory");
			}
			b64 = nb;
			b64cap = need * 2;
		}
		base64_encode(d->tokens[i], d->lens[i], b64);
		fprintf(fp, "%s %u\n", b64, i);
	}
	free(b64);
	fprintf(fp, "specials %zu\n", d->n_specials);
	for (size_t i = 0; i < d->n_specials; i++) {
		const char *s = d->specials[i].text;
		if (!*s || strpbrk(s, "\r\n"))
			return err_set(e, "%s: special token text must be one non-empty line", name);
		if (d->specials[i].id < d->n_tokens)
			return err_set(e, "%s: special token %s has id %u, which is an ordinary token's", name, s,
				       d->specials[i].id);
		fprintf(fp, "%u %s\n", d->specials[i].id, s);
	}
	fprintf(fp, "end\n");
	if (ferror(fp))
		return err_errno(e, "%s: write", name);
	return 0;
}

int tokfile_write(const char *path, const TokFileData *d, Error *e)
{
	AtomicFile af;
	if (atomic_open(&af, path, e))
		return -1;
	if (tokfile_write_fp(af.fp, io_display_name(path), d, e)) {
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, e);
}

/* ---- reading ---- */

typedef struct {
	const uint8_t *buf;
	size_t len, pos, line;
	char tmp[256];
} Lines;

/* Next line (without its newline), NUL-terminated in place is impossible
 * (const input): returns a pointer and length. */
static const char *next_line(Lines *L, size_t *n)
{
	if (L->pos >= L->len)
		return NULL;
	const uint8_t *s = L->buf + L->pos;
	const uint8_t *nl = memchr(s, '\n', L->len - L->pos);
	size_t l = nl ? (size_t)(nl - s) : L->len - L->pos;
	L->pos += l + (nl ? 1 : 0);
	L->line++;
	if (l && s[l - 1] == '\r')
		l--;
	*n = l;
	return (const char *)s;
}

/* "key value" line with a numeric or word value copied into L->tmp. */
static int keyed(Lines *L, const char *key, const char *fname, Error *e)
{
	size_t n, k = strlen(key);
	const char *s = next_line(L, &n);
	if (!s)
		return err_set(e, "%s: line %zu: unexpected end of file, expected '%s'", fname, L->line + 1, key);
	if (n <= k + 1 || memcmp(s, key, k) != 0 || s[k] != ' ' || n - k - 1 >= sizeof L->tmp)
		return err_set(e, "%s: line %zu: expected '%s VALUE'", fname, L->line, key);
	memcpy(L->tmp, s + k + 1, n - k - 1);
	L->tmp[n - k - 1] = 0;
	return 0;
}

static int parse_u32(const char *s, size_t n, uint32_t *v)
{
	uint64_t x = 0;
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x >= (1u << 26))
		return -1;
	*v = (uint32_t)x;
	return 0;
}

Tokenizer *tokfile_parse(const uint8_t *buf, size_t len, const char *fname, Error *e)
{
	Lines L = {buf, len, 0, 0, {0}};
	char name[33], hdr[64];
	int pattern;
	uint32_t ntok, nspec;
	snprintf(hdr, sizeof hdr, "%s %d", TOKFILE_MAGIC, TOKFILE_VERSION);
	size_t n;
	const char *s = next_line(&L, &n);
	if (!s || n != strlen(hdr) || memcmp(s, hdr, n) != 0) {
		if (s && n > strlen(TOKFILE_MAGIC) && memcmp(s, TOKFILE_MAGIC " ", strlen(TOKFILE_MAGIC) + 1) == 0)
			err_set(e, "%s: line 1: unsupported tok-file version (this program reads version %d)", fname,
				TOKFILE_VERSION);
		else
			err_set(e, "%s: line 1: not a tok-file (expected '%s')", fname, hdr);
		return NULL;
	}
	if (keyed(&L, "name", fname, e))
		return NULL;
	if (!valid_name(L.tmp)) {
		err_set(e, "%s: line %zu: bad name", fname, L.line);
		return NULL;
	}
	snprintf(name, sizeof name, "%s", L.tmp);
	if (keyed(&L, "pattern", fname, e))
		return NULL;
	if ((pattern = pretok_from_name(L.tmp)) < 0) {
		err_set(e, "%s: line %zu: unknown pattern '%s' (gpt2, cl100k, o200k, none)", fname, L.line, L.tmp);
		return NULL;
	}
	if (keyed(&L, "tokens", fname, e))
		return NULL;
	if (parse_u32(L.tmp, strlen(L.tmp), &ntok) || ntok == 0) {
		err_set(e, "%s: line %zu: bad token count", fname, L.line);
		return NULL;
	}
	if (ntok > len / 4) { /* every token line takes at least 4 bytes */
		err_set(e, "%s: line %zu: token count %u exceeds the file", fname, L.line, ntok);
		return NULL;
	}
	TableEntry *ent = calloc(ntok, sizeof *ent);
	uint8_t *store = malloc(len + 1);
	Tokenizer *t = NULL;
	size_t sp = 0;
	uint32_t nv = ntok;
	if (!ent || !store) {
		err_set(e, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < ntok; i++) {
		s = next_line(&L, &n);
		const char *sp_ = s ? memchr(s, ' ', n) : NULL;
		uint32_t id;
		long got;
		if (!s) {
			err_set(e, "%s: line %zu: unexpected end of file in the tokens", fname, L.line + 1);
			goto out;
		}
		if (!sp_ || (got = base64_decode(s, (size_t)(sp_ - s), store + sp)) <= 0 ||
		    parse_u32(sp_ + 1, n - (size_t)(sp_ - s) - 1, &id)) {
			err_set(e, "%s: line %zu: expected 'BASE64 ID'", fname, L.line);
			goto out;
		}
		if (id != i) {
			err_set(e, "%s: line %zu: token id %u out of order (expected %u)", fname, L.line, id, i);
			goto out;
		}
		ent[i] = (TableEntry){(const uint8_t *)(uintptr_t)sp, (uint32_t)got, 1};
		sp += (size_t)got;
	}
	if (keyed(&L, "specials", fname, e))
		goto out;
	if (parse_u32(L.tmp, strlen(L.tmp), &nspec) || nspec > len / 4) {
		err_set(e, "%s: line %zu: bad special token count", fname, L.line);
		goto out;
	}
	size_t spec_start = L.pos, spec_line = L.line;
	for (uint32_t i = 0; i < nspec; i++) { /* first pass: the largest id */
		uint32_t id;
		const char *sp_;
		s = next_line(&L, &n);
		if (!s) {
			err_set(e, "%s: line %zu: unexpected end of file in the special tokens", fname, L.line + 1);
			goto out;
		}
		if (!(sp_ = memchr(s, ' ', n)) || parse_u32(s, (size_t)(sp_ - s), &id) || (size_t)(sp_ - s) + 1 >= n) {
			err_set(e, "%s: line %zu: expected 'ID TEXT'", fname, L.line);
			goto out;
		}
		if (id < ntok) {
			err_set(e, "%s: line %zu: special token id %u is an ordinary token's", fname, L.line, id);
			goto out;
		}
		if (id + 1 > nv)
			nv = id + 1;
	}
	s = next_line(&L, &n);
	if (!s || n != 3 || memcmp(s, "end", 3) != 0) {
		err_set(e, "%s: line %zu: expected 'end'", fname, s ? L.line : L.line + 1);
		goto out;
	}
	TableEntry *all = realloc(ent, (size_t)nv * sizeof *ent);
	if (!all) {
		err_set(e, "out of memory");
		goto out;
	}
	ent = all;
	memset(ent + ntok, 0, (size_t)(nv - ntok) * sizeof *ent);
	for (uint32_t i = 0; i < ntok; i++)
		ent[i].bytes = store + (uintptr_t)ent[i].bytes;
	L.pos = spec_start;
	L.line = spec_line;
	for (uint32_t i = 0; i < nspec; i++) {
		s = next_line(&L, &n);
		const char *sp_ = memchr(s, ' ', n);
		uint32_t id = 0;
		parse_u32(s, (size_t)(sp_ - s), &id);
		if (ent[id].kind) {
			err_set(e, "%s: line %zu: special token id %u appears twice", fname, L.line, id);
			goto out;
		}
		ent[id] = (TableEntry){(const uint8_t *)sp_ + 1, (uint32_t)(n - (size_t)(sp_ - s) - 1), 2};
	}
	void *block;
	size_t size;
	if (table_build(name, pattern, ent, nv, &block, &size, e) == 0)
		t = tok_from_block(block, size, block, e);
	else if (strncmp(e->msg, fname, strlen(fname)) != 0) {
		char m[sizeof e->msg];
		snprintf(m, sizeof m, "%.200s: %.300s", fname, e->msg);
		memcpy(e->msg, m, sizeof m);
	}
out:
	free(ent);
	free(store);
	return t;
}
