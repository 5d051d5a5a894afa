/* Hand-written pre-tokenizers for the three regular expressions of
 * ../shared/data/README.md (P_GPT2, P_CL100K, P_O200K).  Each function
 * returns where the regex's leftmost-first match starting at pos ends; the
 * comments name the alternative being reproduced.  Every position starts a
 * match in all three patterns, so the pieces partition the input. */
#include "pretok.h"

#include <string.h>

#include "unicode_tab.h"

const char pretok_unicode_version[] = UNI_VERSION;

/* ---- characters ---- */

/* Class of the character at s[i] (i < len); its length in *n.  A byte that
 * does not start a valid UTF-8 sequence is a one-byte UNI_OTHER. */
static inline int char_at(const uint8_t *s, size_t len, size_t i, size_t *n)
{
	uint8_t b = s[i];
	if (b < 0x80) {
		*n = 1;
		return uni_stage2[0][b];
	}
	uint32_t cp;
	size_t left = len - i;
	if (b >= 0xC2 && b <= 0xDF) {
		if (left < 2 || (s[i + 1] & 0xC0) != 0x80)
			goto bad;
		cp = (uint32_t)(b & 0x1F) << 6 | (s[i + 1] & 0x3F);
		*n = 2;
	} else if (b >= 0xE0 && b <= 0xEF) {
		if (left < 3 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
			goto bad;
		if ((b == 0xE0 && s[i + 1] < 0xA0) || (b == 0xED && s[i + 1] > 0x9F))
			goto bad;
		cp = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
		*n = 3;
	} else if (b >= 0xF0 && b <= 0xF4) {
		if (left < 4 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
		    (s[i + 3] & 0xC0) != 0x80)
			goto bad;
		if ((b == 0xF0 && s[i + 1] < 0x90) || (b == 0xF4 && s[i + 1] > 0x8F))
			goto bad;
		cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3F) << 12 |
		     (uint32_t)(s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3F);
		*n = 4;
	} else {
		goto bad;
	}
	return uni_stage2[uni_stage1[cp >> 8]][cp & 0xFF];
bad:
	*n = 1;
	return UNI_OTHER;
}

#define IS_L(c) ((c) >= UNI_LU && (c) <= UNI_LO)
#define IS_N(c) ((c) == UNI_NUM)
#define IS_WS(c) ((c) == UNI_SPACE)
/* [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, invalid bytes */
#define IS_P(c) (!IS_L(c) && !IS_N(c) && !IS_WS(c))
/* o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
#define IS_UP(c) ((c) == UNI_LU || (c) == UNI_LT || (c) == UNI_LM || (c) == UNI_LO || (c) == UNI_MARK)
#define IS_LOW(c) ((c) == UNI_LL || (c) == UNI_LM || (c) == UNI_LO || (c) == UNI_MARK)

/* ---- ASCII runs, 16 bytes at a time ----
 * Where a word ends is the least predictable branch of all; with SSE2 the
 * end of a run of ASCII letters is found from a mask instead of a loop. */
#ifdef __SSE2__
#include <emmintrin.h>

/* End of the run of bytes in [lo, hi] (ASCII, lo > 0) from p. */
static inline size_t ascii_range_run(const uint8_t *s, size_t len, size_t p, char lo, char hi)
{
	const __m128i a = _mm_set1_epi8((char)(lo - 1)), b = _mm_set1_epi8((char)(hi + 1));
	while (p + 16 <= len) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + p));
		unsigned in = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, a), _mm_cmplt_epi8(x, b)));
		if (in != 0xffff)
			return p + (size_t)__builtin_ctz(~in);
		p += 16;
	}
	while (p < len && s[p] >= lo && s[p] <= hi)
		p++;
	return p;
}

/* End of the run of ASCII letters (either case) from p. */
static inline size_t ascii_letter_run(const uint8_t *s, size_t len, size_t p)
{
	const __m128i a = _mm_set1_epi8('a' - 1), b = _mm_set1_epi8('z' + 1), up = _mm_set1_epi8(0x20);
	while (p + 16 <= len) {
		__m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + p)), up); /* fold case */
		unsigned in = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, a), _mm_cmplt_epi8(x, b)));
		if (in != 0xffff)
			return p + (size_t)__builtin_ctz(~in);
		p += 16;
	}
	while (p < len && (unsigned)((s[p] | 0x20) - 'a') < 26u)
		p++;
	return p;
}
#else
static inline size_t ascii_range_run(const uint8_t *s, size_t len, size_t p, char lo, char hi)
{
	while (p < len && s[p] >= lo && s[p] <= hi)
		p++;
	return p;
}

static inline size_t ascii_letter_run(const uint8_t *s, size_t len, size_t p)
{
	while (p < len && (unsigned)((s[p] | 0x20) - 'a') < 26u)
		p++;
	return p;
}
#endif

/* The class of each ASCII character (the first block of the table). */
#define ASCII_CLASS(b) (uni_stage2[0][b])

/* Advance p over characters whose class satisfies cond: ASCII in a tight
 * loop, the rest through the UTF-8 decoder. */
#define RUN(cond)                                                        \
	for (;;) {                                                       \
		while (p < len && s[p] < 0x80 && cond(ASCII_CLASS(s[p])))  \
			p++;                                             \
		if (p >= len || s[p] < 0x80)                             \
			break;                                           \
		size_t n_;                                               \
		int c_ = char_at(s, len, p, &n_);                        \
		if (!(cond(c_)))                                         \
			break;                                           \
		p += n_;                                                 \
	}

static size_t run_l(const uint8_t *s, size_t len, size_t p)
{
	p = ascii_letter_run(s, len, p);
	RUN(IS_L)
	return p;
}
static size_t run_n(const uint8_t *s, size_t len, size_t p) { RUN(IS_N) return p; }
static size_t run_p(const uint8_t *s, size_t len, size_t p) { RUN(IS_P) return p; }
static size_t run_low(const uint8_t *s, size_t len, size_t p)
{
	p = ascii_range_run(s, len, p, 'a', 'z');
	RUN(IS_LOW)
	return p;
}
static size_t run_up(const uint8_t *s, size_t len, size_t p) { RUN(IS_UP) return p; }

/* `\s*[\r\n]+` (when crlf), then `\s+(?!\S)`, then `\s+`, at a whitespace
 * character. */
static size_t space_run(const uint8_t *s, size_t len, size_t pos, int crlf)
{
	size_t p = pos, last = pos, after_nl = 0;
	int count = 0;
	while (p < len) {
		size_t n;
		if (!IS_WS(char_at(s, len, p, &n)))
			break;
		if (s[p] == '\r' || s[p] == '\n')
			after_nl = p + 1;
		last = p;
		p += n;
		count++;
	}
	if (crlf && after_nl)
		return after_nl;
	if (p == len || count < 2)
		return p;
	return last;
}

/* ---- contractions ---- */

/* `'s|'t|'re|'ve|'m|'ll|'d` at s[p] == '\'': end of the match or 0.
 * With icase, (?i:...) under Unicode simple case folding, where s also
 * matches U+017F LATIN SMALL LETTER LONG S. */
static size_t contraction(const uint8_t *s, size_t len, size_t p, int icase)
{
	if (p + 1 >= len || s[p] != '\'')
		return 0;
	uint8_t a = s[p + 1], b = p + 2 < len ? s[p + 2] : 0;
	if (icase) {
		if (a == 0xC5 && b == 0xBF)
			return p + 3;
		a |= (a >= 'A' && a <= 'Z') ? 0x20 : 0;
		b |= (b >= 'A' && b <= 'Z') ? 0x20 : 0;
	}
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return p + 2;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return p + 3;
	return 0;
}

/* ---- P_GPT2 ----
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t gpt2_next(const uint8_t *s, size_t len, size_t pos)
{
	size_t e = contraction(s, len, pos, 0);
	if (e)
		return e;
	size_t n, p = pos;
	int c = char_at(s, len, pos, &n);
	if (s[pos] == ' ' && pos + 1 < len) {
		size_t n2;
		int d = char_at(s, len, pos + 1, &n2);
		if (!IS_WS(d)) {
			c = d;
			p = pos + 1;
		}
	}
	if (IS_L(c))
		return run_l(s, len, p);
	if (IS_N(c))
		return run_n(s, len, p);
	if (IS_P(c))
		return run_p(s, len, p);
	return space_run(s, len, pos, 0);
}

/* ---- P_CL100K ----
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t crlf_run(const uint8_t *s, size_t len, size_t p)
{
	while (p < len && (s[p] == '\r' || s[p] == '\n'))
		p++;
	return p;
}

static size_t n_upto3(const uint8_t *s, size_t len, size_t p)
{
	for (int i = 0; i < 3 && p < len; i++) {
		size_t n;
		if (!IS_N(char_at(s, len, p, &n)))
			break;
		p += n;
	}
	return p;
}

static size_t cl100k_next(const uint8_t *s, size_t len, size_t pos)
{
	size_t e = contraction(s, len, pos, 1);
	if (e)
		return e;
	size_t n;
	int c = char_at(s, len, pos, &n);
	if (IS_L(c))
		return run_l(s, len, pos + n);
	if (IS_N(c))
		return n_upto3(s, len, pos);
	if (s[pos] != '\r' && s[pos] != '\n' && pos + n < len) {
		size_t n2;
		if (IS_L(char_at(s, len, pos + n, &n2)))
			return run_l(s, len, pos + n + n2);
	}
	if (IS_P(c))
		return crlf_run(s, len, run_p(s, len, pos + n));
	if (s[pos] == ' ' && pos + 1 < len) {
		size_t n2;
		if (IS_P(char_at(s, len, pos + 1, &n2)))
			return crlf_run(s, len, run_p(s, len, pos + 1 + n2));
	}
	return space_run(s, len, pos, 1);
}

/* ---- P_O200K ----
 * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
 * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
 * \p{N}{1,3}
 *  ?[^\s\p{L}\p{N}]+[\r\n/]*
 * \s*[\r\n]+ | \s+(?!\S) | \s+ */
static inline size_t opt_contraction(const uint8_t *s, size_t len, size_t p)
{
	if (p >= len || s[p] != '\'')
		return p;
	size_t e = contraction(s, len, p, 1);
	return e ? e : p;
}

#define ASCII_UPPER(b) ((unsigned)(b) - 'A' < 26u)
#define ASCII_LOWER(b) ((unsigned)(b) - 'a' < 26u)

/* First alternative from q (after any prefix): UP* LOW+, backtracking the
 * UP* run to the last character that is also LOW.  0 if it fails. */
static size_t o200k_a1(const uint8_t *s, size_t len, size_t q)
{
	size_t p = q, last_low_end = 0;
	/* ASCII first: upper-case letters are UP only, lower-case LOW only */
	while (p < len && ASCII_UPPER(s[p]))
		p++;
	if (p < len && ASCII_LOWER(s[p])) {
		p = ascii_range_run(s, len, p + 1, 'a', 'z');
		if (p < len && s[p] >= 0x80)
			p = run_low(s, len, p);
		return opt_contraction(s, len, p);
	}
	if (p >= len || s[p] < 0x80)
		return 0;
	while (p < len) {
		size_t n;
		int c = char_at(s, len, p, &n);
		if (!IS_UP(c)) {
			if (c == UNI_LL)
				return opt_contraction(s, len, run_low(s, len, p + n));
			break;
		}
		p += n;
		if (IS_LOW(c))
			last_low_end = p;
	}
	return last_low_end ? opt_contraction(s, len, last_low_end) : 0;
}

/* Second alternative from q: UP+ LOW*.  0 if it fails. */
static size_t o200k_a2(const uint8_t *s, size_t len, size_t q)
{
	size_t n;
	if (q >= len || !IS_UP(char_at(s, len, q, &n)))
		return 0;
	return opt_contraction(s, len, run_low(s, len, run_up(s, len, q + n)));
}

static size_t o200k_next(const uint8_t *s, size_t len, size_t pos)
{
	size_t n, e;
	uint8_t b = s[pos];
	if (b < 0x80) { /* ASCII fast paths: a word, or one char and a word */
		size_t q = pos;
		if (!ASCII_UPPER(b) && !ASCII_LOWER(b)) {
			if ((unsigned)b - '0' < 10u || b == '\r' || b == '\n' || pos + 1 >= len ||
			    !(ASCII_UPPER(s[pos + 1]) || ASCII_LOWER(s[pos + 1])))
				goto general;
			q = pos + 1; /* the prefix: both letter alternatives take it */
		}
		e = o200k_a1(s, len, q);
		return e ? e : o200k_a2(s, len, q);
	}
general:;
	int c = char_at(s, len, pos, &n);
	if (c == UNI_LL) /* the common case: a lower-case word */
		return opt_contraction(s, len, run_low(s, len, pos + n));
	int prefix = !IS_L(c) && !IS_N(c) && s[pos] != '\r' && s[pos] != '\n';
	if (prefix && (e = o200k_a1(s, len, pos + n)))
		return e;
	if ((e = o200k_a1(s, len, pos)))
		return e;
	if (prefix && (e = o200k_a2(s, len, pos + n)))
		return e;
	if ((e = o200k_a2(s, len, pos)))
		return e;
	if (IS_N(c))
		return n_upto3(s, len, pos);
	size_t p = 0;
	if (IS_P(c))
		p = run_p(s, len, pos + n);
	else if (s[pos] == ' ' && pos + 1 < len) {
		size_t n2;
		if (IS_P(char_at(s, len, pos + 1, &n2)))
			p = run_p(s, len, pos + 1 + n2);
	}
	if (p) {
		while (p < len && (s[p] == '\r' || s[p] == '\n' || s[p] == '/'))
			p++;
		return p;
	}
	return space_run(s, len, pos, 1);
}

size_t pretok_next(PretokKind k, const uint8_t *s, size_t len, size_t pos)
{
	switch (k) {
	case PRETOK_GPT2:
		return gpt2_next(s, len, pos);
	case PRETOK_CL100K:
		return cl100k_next(s, len, pos);
	case PRETOK_O200K:
		return o200k_next(s, len, pos);
	default:
		return len;
	}
}

static const char *const kind_names[] = {"gpt2", "cl100k", "o200k", "none"};

const char *pretok_name(PretokKind k)
{
	return (unsigned)k <= PRETOK_NONE ? kind_names[k] : "?";
}

int pretok_from_name(const char *name)
{
	for (int i = 0; i <= PRETOK_NONE; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}
