/* Unit tests of the tokenizer library (tok/): pre-tokenizer cases from
 * ../shared/data/README.md, the BPE against a naive reference (short and
 * long pieces), round trips on random bytes, no quadratic inputs, the
 * loaders (.tiktoken, GPT-2 json, tok-file), special tokens, threads,
 * decoding (its fast and slow paths, errors at block edges). */
#include "io.h"
#include "pretok.h"
#include "tap.h"
#include "tok.h"
#include "tokfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const ENCS[] = {"gpt2", "p50k_base", "cl100k_base", "o200k_base", "bytes"};

/* ---- pre-tokenizer ---- */

/* pieces of s joined with '|' */
static void split(PretokKind k, const char *s, char *out)
{
	size_t len = strlen(s), o = 0;
	for (size_t pos = 0; pos < len;) {
		size_t end = pretok_next(k, (const uint8_t *)s, len, pos);
		if (end <= pos || end > len) {
			strcpy(out + o, "<BAD>");
			return;
		}
		if (pos)
			out[o++] = '|';
		memcpy(out + o, s + pos, end - pos);
		o += end - pos;
		pos = end;
	}
	out[o] = 0;
}

static void check_split(PretokKind k, const char *s, const char *want, const char *name)
{
	char got[1024];
	split(k, s, got);
	if (strcmp(got, want) != 0)
		printf("# %s: got [%s] want [%s]\n", name, got, want);
	CHECK(strcmp(got, want) == 0, name);
}

static void test_pretok(void)
{
	check_split(PRETOK_GPT2, "IT'S it's", "IT|'|S| it|'s", "pretok-gpt2-contractions-lowercase");
	check_split(PRETOK_CL100K, "IT'S it's", "IT|'S| it|'s", "pretok-cl100k-contractions-any-case");
	check_split(PRETOK_GPT2, "Hello\n\nWorld", "Hello|\n|\n|World", "pretok-gpt2-newlines");
	check_split(PRETOK_GPT2, "a \t b", "a| \t| b", "pretok-gpt2-space-run");
	check_split(PRETOK_GPT2, "a   b  ", "a|  | b|  ", "pretok-gpt2-space-end");
	check_split(PRETOK_GPT2, "e\xcc\x81t\xc3\xa9", "e|\xcc\x81|t\xc3\xa9", "pretok-gpt2-combining-mark");
	check_split(PRETOK_CL100K, "e\xcc\x81", "e|\xcc\x81", "pretok-cl100k-combining-mark");
	check_split(PRETOK_O200K, "e\xcc\x81t", "e\xcc\x81t", "pretok-o200k-mark-is-letter");
	check_split(PRETOK_GPT2, "12345 678", "12345| 678", "pretok-gpt2-digits-unbounded");
	check_split(PRETOK_CL100K, "12345 678", "123|45| |678", "pretok-cl100k-digits-by-3");
	check_split(PRETOK_O200K, "1234567", "123|456|7", "pretok-o200k-digits-by-3");
	check_split(PRETOK_CL100K, "\tfoo\n\n  bar!\n\n", "\tfoo|\n\n| | bar|!\n\n", "pretok-cl100k-prefix-and-crlf");
	check_split(PRETOK_O200K, "HelloWorld HELLOworld", "Hello|World| HELLOworld", "pretok-o200k-case-runs");
	check_split(PRETOK_O200K, "a/b//\nc", "a|/b|//\n|c", "pretok-o200k-slash");
	check_split(PRETOK_O200K, "don't WON'T", "don't| WON'T", "pretok-o200k-contractions");
	check_split(PRETOK_CL100K, "x'\xc5\xbfy", "x|'\xc5\xbf|y", "pretok-cl100k-long-s-folds-to-s");
	/* U+3000 and NBSP are white space; U+1C is not */
	check_split(PRETOK_GPT2, "a\xe3\x80\x80\xe3\x80\x80" "b", "a|\xe3\x80\x80|\xe3\x80\x80|b", "pretok-gpt2-ideographic-space");
	check_split(PRETOK_GPT2, "a\x1c\x1d" "b", "a|\x1c\x1d|b", "pretok-gpt2-1c-is-not-space");
	/* invalid UTF-8: one-byte "other" characters */
	check_split(PRETOK_GPT2, "ab\xff\xfe" "cd \x80", "ab|\xff\xfe|cd| \x80", "pretok-gpt2-invalid-bytes");
	check_split(PRETOK_O200K, "\xc3(", "\xc3(", "pretok-o200k-truncated-sequence");
	check_split(PRETOK_CL100K, "\xed\xa0\x80x", "\xed\xa0\x80|x", "pretok-cl100k-surrogate-bytes");
	check_split(PRETOK_NONE, "a b c", "a b c", "pretok-none-whole");
}

/* ---- BPE against a naive reference (tiktoken's algorithm) ---- */

static size_t naive_bpe(const Tokenizer *t, const uint8_t *p, size_t n, uint32_t *out)
{
	size_t *st = malloc((n + 1) * sizeof *st), m = n;
	for (size_t i = 0; i <= n; i++)
		st[i] = i;
	for (;;) {
		int64_t best = -1;
		size_t bi = 0;
		for (size_t i = 0; i + 1 < m; i++) {
			int64_t r = tok_rank(t, p + st[i], st[i + 2] - st[i]);
			if (r >= 0 && (best < 0 || r < best)) {
				best = r;
				bi = i;
			}
		}
		if (best < 0)
			break;
		memmove(st + bi + 1, st + bi + 2, (m - bi - 1) * sizeof *st);
		m--;
	}
	for (size_t i = 0; i < m; i++)
		out[i] = (uint32_t)tok_rank(t, p + st[i], st[i + 1] - st[i]);
	free(st);
	return m;
}

static void test_bpe_reference(void)
{
	Error e;
	static const char *const files[] = {"tok/encodings/gpt2.tiktoken", "tok/encodings/o200k_base.tiktoken"};
	uint8_t *text;
	size_t tlen;
	if (io_read_all("data/tinyshakespeare.txt", &text, &tlen, &e)) {
		CHECK(0, "bpe-reference-read-text");
		return;
	}
	for (int f = 0; f < 2; f++) {
		/* whole strings as one piece: short (<= 48 bytes) and long merges */
		Tokenizer *t = tok_open_tiktoken(files[f], PRETOK_NONE, NULL, 0, &e);
		CHECK(t != NULL, "bpe-reference-open");
		if (!t)
			continue;
		srand(42 + f);
		int bad = 0;
		uint32_t ref[400];
		for (int k = 0; k < 600 && !bad; k++) {
			size_t n = 1 + (size_t)rand() % 300;
			uint8_t s[300];
			if (k % 3 == 0) /* random bytes */
				for (size_t i = 0; i < n; i++)
					s[i] = (uint8_t)rand();
			else if (k % 3 == 1) /* real text */
				memcpy(s, text + (size_t)rand() % (tlen - 300), n);
			else /* few distinct bytes: many equal-rank ties */
				for (size_t i = 0; i < n; i++)
					s[i] = "aa b"[rand() % 4];
			TokVec v = {0};
			tok_encode_ordinary(t, s, n, &v, &e);
			size_t m = naive_bpe(t, s, n, ref);
			bad = v.len != m || memcmp(v.ids, ref, m * sizeof *ref) != 0;
			if (bad)
				printf("# %s: string %d of %zu bytes differs\n", files[f], k, n);
			tokvec_free(&v);
		}
		CHECK(!bad, f ? "bpe-reference-o200k" : "bpe-reference-gpt2");
		tok_free(t);
	}
	free(text);
}

/* ---- round trips, counts, threads ---- */

static void test_roundtrip(void)
{
	Error e;
	srand(7);
	for (size_t k = 0; k < sizeof ENCS / sizeof *ENCS; k++) {
		Tokenizer *t = tok_open(ENCS[k], &e);
		int bad = 0;
		for (int r = 0; r < 1500 && !bad; r++) {
			uint8_t s[200];
			size_t n = (size_t)rand() % sizeof s;
			for (size_t i = 0; i < n; i++) /* bias towards UTF-8 lead/continuation bytes and ASCII */
				s[i] = rand() % 3 ? (uint8_t)(rand() % 128) : (uint8_t)(0x80 + rand() % 128);
			TokVec v = {0};
			uint8_t *out = NULL;
			size_t len = 0, cap = 0;
			if (tok_encode_ordinary(t, s, n, &v, &e) || tok_decode(t, v.ids, v.len, &out, &len, &cap, NULL, &e))
				bad = 1;
			else
				bad = len != n || memcmp(out, s, n) != 0 || tok_count(t, s, n) != v.len;
			free(out);
			tokvec_free(&v);
		}
		char name[64];
		snprintf(name, sizeof name, "roundtrip-random-bytes-%s", ENCS[k]);
		CHECK(!bad, name);
		tok_free(t);
	}
}

static void test_parallel(void)
{
	Error e;
	uint8_t *text;
	size_t len;
	if (io_read_all("data/tinyshakespeare.txt", &text, &len, &e)) {
		CHECK(0, "parallel-read");
		return;
	}
	Tokenizer *t = tok_open("cl100k_base", &e);
	TokVec a = {0}, b = {0};
	tok_encode_ordinary(t, text, len, &a, &e);
	tok_encode_parallel(t, text, len, 0, NULL, 3, &b, &e);
	CHECK(a.len == b.len && memcmp(a.ids, b.ids, a.len * 4) == 0, "parallel-same-ids");
	/* every cut place is a piece boundary whose halves encode alone */
	int bad = 0;
	for (size_t at = 1000, k = 0; k < 50 && !bad; k++, at += len / 60) {
		size_t c = tok_safe_split(text, len, at);
		if (c >= len)
			break;
		TokVec x = {0};
		tok_encode_ordinary(t, text, c, &x, &e);
		tok_encode_ordinary(t, text + c, len - c, &x, &e);
		bad = x.len != a.len || memcmp(x.ids, a.ids, a.len * 4) != 0;
		tokvec_free(&x);
	}
	CHECK(!bad, "safe-split-halves");
	tokvec_free(&a);
	tokvec_free(&b);
	tok_free(t);
	free(text);
}

/* ---- never quadratic ---- */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_not_quadratic(void)
{
	Error e;
	const size_t N = 1 << 20;
	uint8_t *buf = malloc(N), *text;
	size_t tlen;
	if (io_read_all("data/tinyshakespeare.txt", &text, &tlen, &e)) {
		CHECK(0, "quadratic-read");
		return;
	}
	/* sanitizer builds run several times slower */
	const char *san = getenv("SAN");
	double limit = san && strcmp(san, "1") == 0 ? 3.0 : 0.2;
	const char *kinds[] = {"a", "spaces", "caret", "random", "emoji", "no-space-text"};
	for (size_t k = 0; k < 4; k++) {
		Tokenizer *t = tok_open(ENCS[k], &e);
		for (int kind = 0; kind < 6; kind++) {
			srand(1);
			size_t j = 0;
			for (size_t i = 0; i < N; i++) {
				switch (kind) {
				case 0: buf[i] = 'a'; break;
				case 1: buf[i] = ' '; break;
				case 2: buf[i] = '^'; break;
				case 3: buf[i] = (uint8_t)rand(); break;
				case 4: buf[i] = (uint8_t)"\xf0\x9f\x98\x80"[i % 4]; break;
				case 5:
					while (text[j % tlen] == ' ' || text[j % tlen] == '\n')
						j++;
					buf[i] = text[j++ % tlen];
					break;
				}
			}
			TokVec v = {0};
			double t0 = cpu_now();
			int rc = tok_encode_ordinary(t, buf, N, &v, &e);
			double dt = cpu_now() - t0;
			uint8_t *out = NULL;
			size_t len = 0, cap = 0;
			tok_decode(t, v.ids, v.len, &out, &len, &cap, NULL, &e);
			char name[96];
			snprintf(name, sizeof name, "not-quadratic-%s-%s (%.3f s)", ENCS[k], kinds[kind], dt);
			CHECK(rc == 0 && dt < limit && len == N && memcmp(out, buf, N) == 0, name);
			free(out);
			tokvec_free(&v);
		}
		tok_free(t);
	}
	free(buf);
	free(text);
}

/* ---- loaders ---- */

static int same_ids(Tokenizer *a, Tokenizer *b, const uint8_t *s, size_t n)
{
	Error e;
	TokVec x = {0}, y = {0};
	tok_encode(a, s, n, NULL, &x, &e);
	tok_encode(b, s, n, NULL, &y, &e);
	int same = x.len == y.len && memcmp(x.ids, y.ids, x.len * 4) == 0;
	tokvec_free(&x);
	tokvec_free(&y);
	return same;
}

static void test_loaders(void)
{
	Error e;
	uint8_t *text;
	size_t tlen;
	io_read_all("tests/golden/tok/multilingual.txt", &text, &tlen, &e);
	Tokenizer *g = tok_open("gpt2", &e);
	CHECK(tok_n_vocab(g) == 50257 && tok_eot(g) == 50256, "builtin-gpt2-vocab");
	Tokenizer *j = tok_open("tok/gpt2/encoder.json", &e);
	CHECK(j && tok_n_vocab(j) == 50257 && tok_eot(j) == 50256, "gpt2-json-opens");
	if (j)
		CHECK(same_ids(g, j, text, tlen), "gpt2-json-same-ids");
	tok_free(j);
	Tokenizer *d = tok_open("tok/gpt2", &e);
	CHECK(d != NULL, "gpt2-json-directory");
	tok_free(d);
	static const struct { const char *name; uint32_t nv; int32_t eot; } b[] = {
		{"p50k_base", 50281, 50256}, {"cl100k_base", 100277, 100257}, {"o200k_base", 200019, 199999},
		{"bytes", 256, -1}, {"r50k_base", 50257, 50256}};
	for (size_t i = 0; i < 5; i++) {
		Tokenizer *t = tok_open(b[i].name, &e);
		char name[64];
		snprintf(name, sizeof name, "builtin-%s-vocab", b[i].name);
		CHECK(t && tok_n_vocab(t) == b[i].nv && tok_eot(t) == b[i].eot && strcmp(tok_name(t), b[i].name) == 0, name);
		if (i < 3) {
			char path[96];
			snprintf(path, sizeof path, "tok/encodings/%s.tiktoken", b[i].name);
			Tokenizer *f = tok_open(path, &e);
			snprintf(name, sizeof name, "tiktoken-file-%s-like-builtin", b[i].name);
			CHECK(f && tok_n_vocab(f) == b[i].nv && tok_pretok(f) == tok_pretok(t) && same_ids(t, f, text, tlen), name);
			tok_free(f);
		}
		tok_free(t);
	}
	Tokenizer *o = tok_open("o200k_base", &e);
	CHECK(tok_special_id(o, "<|endofprompt|>") == 200018 && tok_special_id(o, "<|fim_prefix|>") == -1,
	      "special-ids");
	const char *s = "a<|endoftext|>b<|endofprompt|>";
	size_t which = 9;
	CHECK(tok_find_special(o, (const uint8_t *)s, strlen(s), &which) == 1 && which == 0, "find-special");
	TokVec v = {0};
	uint8_t allowed[2] = {0, 1}; /* only <|endofprompt|> */
	tok_encode(o, (const uint8_t *)s, strlen(s), allowed, &v, &e);
	CHECK(v.len > 3 && v.ids[v.len - 1] == 200018, "encode-some-specials");
	for (size_t i = 0; i < v.len; i++)
		CHECK(v.ids[i] != 199999 || 0, "encode-disallowed-special-is-text");
	tokvec_free(&v);
	tok_free(o);
	Tokenizer *u = tok_open("no_such_encoding", &e);
	CHECK(!u && strstr(e.msg, "unknown encoding"), "unknown-encoding");
	tok_free(g);
	free(text);
}

static void test_tokfile(void)
{
	Error e;
	char dir[] = "/tmp/gptkit-tok.XXXXXX", path[128];
	if (!mkdtemp(dir)) {
		CHECK(0, "tokfile-tmpdir");
		return;
	}
	snprintf(path, sizeof path, "%s/t.tok", dir);
	/* 256 bytes, then merges "th", "the", " the", "e\n" */
	uint8_t bytes[256];
	const uint8_t *toks[260];
	uint32_t lens[260];
	for (int i = 0; i < 256; i++) {
		bytes[i] = (uint8_t)i;
		toks[i] = bytes + i;
		lens[i] = 1;
	}
	const char *m[] = {"th", "the", " the", "e\n"};
	for (int i = 0; i < 4; i++) {
		toks[256 + i] = (const uint8_t *)m[i];
		lens[256 + i] = (uint32_t)strlen(m[i]);
	}
	TokSpecial sp[] = {{"<|endoftext|>", 260}, {"<|pad|>", 265}};
	TokFileData d = {"tiny", PRETOK_GPT2, 260, toks, lens, sp, 2};
	CHECK(tokfile_write(path, &d, &e) == 0, "tokfile-write");
	Tokenizer *t = tok_open(path, &e);
	CHECK(t != NULL, "tokfile-read");
	if (t) {
		CHECK(tok_n_vocab(t) == 266 && tok_eot(t) == 260 && strcmp(tok_name(t), "tiny") == 0 &&
		      tok_pretok(t) == PRETOK_GPT2 && tok_n_specials(t) == 2, "tokfile-fields");
		TokVec v = {0};
		const char *s = "the the<|endoftext|>";
		tok_encode(t, (const uint8_t *)s, strlen(s), NULL, &v, &e);
		CHECK(v.len == 3 && v.ids[0] == 257 && v.ids[1] == 258 && v.ids[2] == 260, "tokfile-encode");
		size_t n;
		CHECK(tok_token_bytes(t, 262, &n) == NULL && tok_token_bytes(t, 265, &n) && n == 7, "tokfile-gap-ids");
		tokvec_free(&v);
		tok_free(t);
	}
	/* malformed files: one line naming the file and line */
	static const struct { const char *text, *want, *name; } bad[] = {
		{"gptkit-tokenizer 2\n", "version", "tokfile-bad-version"},
		{"hello\n", "not a tok-file", "tokfile-bad-magic"},
		{"gptkit-tokenizer 1\nname x\npattern perl\n", "line 3", "tokfile-bad-pattern"},
		{"gptkit-tokenizer 1\nname x\npattern gpt2\ntokens 2\nYQ== 0\nYg== 1\nspecials 0\nend\n", "byte 0x00",
		 "tokfile-missing-byte"},
		{"gptkit-tokenizer 1\nname x\npattern gpt2\ntokens 2\nYQ== 1\n", "line 5", "tokfile-out-of-order"},
		{"gptkit-tokenizer 1\nname x\npattern gpt2\ntokens 2\nYQ== 0\nYQ== 1\nspecials 0\nend\n", "same bytes",
		 "tokfile-duplicate"},
		{"gptkit-tokenizer 1\nname x\npattern gpt2\ntokens 99999999\n", "line 4", "tokfile-huge-count"},
		{"gptkit-tokenizer 1\nname x\npattern gpt2\ntokens 1\n!!!! 0\n", "line 5", "tokfile-bad-base64"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		Tokenizer *b = tokfile_parse((const uint8_t *)bad[i].text, strlen(bad[i].text), "f.tok", &e);
		int good = !b && strstr(e.msg, bad[i].want) && strncmp(e.msg, "f.tok", 5) == 0;
		if (!good)
			printf("# %s: %s\n", bad[i].name, b ? "accepted" : e.msg);
		CHECK(good, bad[i].name);
		tok_free(b);
	}
	remove(path);
	remove(dir);
}

/* ---- decoding ---- */

/* tok_decode of ids[0..n) appended to a buffer that already holds "<>"
 * against the tokens' bytes one by one; with a bad id at `at` (n if none)
 * the error, its index and the bytes before it. */
static int decode_matches(const Tokenizer *t, const uint32_t *ids, size_t n, size_t at)
{
	size_t len = 2, cap = 2, wl = 2, bad = SIZE_MAX, need = 2, l;
	for (size_t i = 0; i < at; i++)
		need += tok_token_bytes(t, ids[i], &l) ? l : 0;
	uint8_t *buf = malloc(2), *want = malloc(need);
	Error e;
	memcpy(buf, "<>", 2);
	memcpy(want, "<>", 2);
	for (size_t i = 0; i < at; i++) {
		const uint8_t *b = tok_token_bytes(t, ids[i], &l);
		memcpy(want + wl, b, l);
		wl += l;
	}
	int rc = tok_decode(t, ids, n, &buf, &len, &cap, &bad, &e);
	int good = len == wl && memcmp(buf, want, wl) == 0 &&
		   (at == n ? rc == 0 : rc == -1 && bad == at && (strstr(e.msg, "outside") || strstr(e.msg, "names no")));
	free(buf);
	free(want);
	return good;
}

/* Ids that name tokens, a third of them 16 bytes or longer (the decoder's
 * slow path), in runs that cross its blocks of 256. */
static void test_decode(void)
{
	static const char *const encs[] = {"gpt2", "cl100k_base", "o200k_base"};
	static const size_t sizes[] = {0, 1, 3, 4, 5, 255, 256, 257, 1000, 3000};
	Error e;
	srand(7);
	for (size_t k = 0; k < sizeof encs / sizeof *encs; k++) {
		Tokenizer *t = tok_open(encs[k], &e);
		uint32_t nv = tok_n_vocab(t), nlong = 0, *lng = malloc(nv * sizeof *lng), ids[3000];
		for (uint32_t id = 0; id < nv; id++) {
			size_t l;
			if (tok_token_bytes(t, id, &l) && l >= 16)
				lng[nlong++] = id;
		}
		int good = nlong > 0;
		for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
			size_t n = sizes[s];
			for (size_t i = 0; i < n; i++) {
				size_t l;
				do
					ids[i] = rand() % 3 == 0 ? lng[rand() % nlong] : (uint32_t)rand() % nv;
				while (!tok_token_bytes(t, ids[i], &l));
			}
			good &= decode_matches(t, ids, n, n);
			/* an id out of range, or a gap (cl100k_base has 100261), here and there */
			static const size_t where[] = {0, 3, 4, 255, 256, 257, 999, 2999};
			for (size_t w = 0; w < sizeof where / sizeof *where; w++) {
				if (where[w] >= n)
					continue;
				uint32_t keep = ids[where[w]];
				ids[where[w]] = w % 2 ? nv + (uint32_t)w : UINT32_MAX;
				good &= decode_matches(t, ids, n, where[w]);
				if (k == 1) {
					ids[where[w]] = 100261;
					good &= decode_matches(t, ids, n, where[w]);
				}
				ids[where[w]] = keep;
			}
		}
		char name[64];
		snprintf(name, sizeof name, "decode-blocks-%s", encs[k]);
		CHECK(good, name);
		free(lng);
		tok_free(t);
	}
}

int main(void)
{
	test_pretok();
	test_bpe_reference();
	test_roundtrip();
	test_parallel();
	test_loaders();
	test_tokfile();
	test_decode();
	test_not_quadratic();
	return test_done();
}
