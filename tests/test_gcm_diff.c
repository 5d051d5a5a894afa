/* Unit tests of gcm's diff budget (gcm/diff.c), secret scan
 * (gcm/secrets.c) and encoding choice (gcm/tokens.c). */
#include "diff.h"
#include "secrets.h"
#include "tap.h"
#include "tokens.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One token per byte: exact arithmetic for the budget checks. */
static size_t bytes(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	return n;
}

static size_t real(void *ctx, const char *s, size_t n)
{
	return gcm_tokens_count(ctx, s, n);
}

static char buf[1 << 20];
static size_t blen;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	blen += (size_t)vsnprintf(buf + blen, sizeof buf - blen, fmt, ap);
	va_end(ap);
}

static void file_header(const char *path)
{
	put("diff --git a/%s b/%s\nindex 1111111..2222222 100644\n--- a/%s\n+++ b/%s\n", path, path, path, path);
}

/* A staged diff of five files: small.c, big.c (4 hunks), package-lock.json,
 * app.min.js and a binary logo.png. */
static void make_diff(void)
{
	blen = 0;
	file_header("small.c");
	put("@@ -1,2 +1,3 @@\n int a;\n+int small_added;\n int b;\n");
	file_header("big.c");
	for (int h = 0; h < 4; h++) {
		put("@@ -%d,10 +%d,12 @@ void f%d(void)\n", 100 * h + 1, 100 * h + 1, h);
		for (int i = 0; i < 12; i++)
			put("+\tbig_line_%d_%d = compute(%d, %d);\n", h, i, h, i);
		put("-\told_line_%d();\n", h);
	}
	file_header("package-lock.json");
	put("@@ -1,3 +1,300 @@\n");
	for (int i = 0; i < 300; i++)
		put("+    \"node_modules/pkg%d\": { \"version\": \"1.0.%d\" },\n", i, i);
	file_header("web/app.min.js");
	put("@@ -1 +1 @@\n+");
	for (int i = 0; i < 400; i++)
		put("var a%d=%d;", i, i);
	put("\n");
	put("diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..3333333\nGIT binary patch\nliteral 600\n");
	for (int i = 0; i < 10; i++)
		put("zcmV-Q0r=jDP)<h;3K|Lk000e1NJLTq000mG000mO1^@s6AM^iV000X}NklLr2|</Ns4\n");
	put("\nliteral 0\nHcmV?d00001\n\n");
}

static int has(const GcmTrimmed *t, const char *s)
{
	return strstr(t->text, s) != NULL;
}

static int all_headers(const GcmTrimmed *t)
{
	return has(t, "diff --git a/small.c") && has(t, "diff --git a/big.c") &&
	       has(t, "diff --git a/package-lock.json") && has(t, "diff --git a/web/app.min.js") &&
	       has(t, "diff --git a/logo.png");
}

static int secret_at(const char *diff, const char *path, size_t line, const char *what)
{
	GcmSecret h[4];
	size_t n = gcm_secrets_scan(diff, strlen(diff), h, 4);
	if (n != 1) {
		printf("# %zu hits\n", n);
		return 0;
	}
	if (strcmp(h[0].path, path) || h[0].line != line || !strstr(h[0].what, what)) {
		printf("# hit %s:%zu %s\n", h[0].path, h[0].line, h[0].what);
		return 0;
	}
	return 1;
}

static size_t nsecrets(const char *diff)
{
	GcmSecret h[4];
	return gcm_secrets_scan(diff, strlen(diff), h, 4);
}

int main(void)
{
	Error e;
	GcmTrimmed t;
	make_diff();
	size_t total = blen;

	/* --- within budget: untouched --- */
	CHECK(gcm_diff_trim(buf, blen, total, bytes, NULL, &t, &e) == 0 && t.len == blen &&
	      memcmp(t.text, buf, blen) == 0 && !t.left_out && t.tokens_in == total, "trim_within_budget_untouched");
	gcm_trimmed_free(&t);

	/* --- just over: lock, minified and binary bodies go first --- */
	CHECK(gcm_diff_trim(buf, blen, total - 100, bytes, NULL, &t, &e) == 0, "trim_over_runs");
	CHECK(t.tokens <= total - 100 && t.tokens == t.len, "trim_over_within_budget");
	CHECK(all_headers(&t), "trim_over_keeps_every_header");
	CHECK(has(&t, "+int small_added;") && has(&t, "big_line_3_11"), "trim_over_text_files_whole");
	CHECK(!has(&t, "node_modules/pkg0") && !has(&t, "var a0=0") && !has(&t, "zcmV-Q0r"), "trim_over_lock_min_binary_dropped");
	CHECK(t.left_out && strstr(t.left_out, " package-lock.json | 301 lines left out (+300 -0), lock file") &&
	      strstr(t.left_out, "web/app.min.js") && strstr(t.left_out, "minified") &&
	      strstr(t.left_out, "logo.png") && strstr(t.left_out, "binary") && !strstr(t.left_out, "big.c"),
	      "trim_over_left_out_listed");
	CHECK(has(&t, "[gcm left out parts of this diff to fit its token budget:]") &&
	      has(&t, t.left_out), "trim_over_summary_in_text");
	gcm_trimmed_free(&t);

	/* --- tighter: the largest file loses hunks, the small one stays --- */
	size_t tight = 1400;
	CHECK(gcm_diff_trim(buf, blen, tight, bytes, NULL, &t, &e) == 0 && t.tokens <= tight, "trim_tight_within_budget");
	CHECK(all_headers(&t) && has(&t, "+int small_added;"), "trim_tight_headers_and_small_file_kept");
	CHECK(has(&t, "big_line_0_0") && !has(&t, "big_line_3_11") && strstr(t.left_out, " big.c | "),
	      "trim_tight_big_file_cut_from_the_end");
	gcm_trimmed_free(&t);

	/* --- every budget: never over, headers kept while they fit --- */
	int over = 0, headers_lost = 0, miscount = 0;
	for (size_t b = 0; b <= total + 10; b += 37) {
		if (gcm_diff_trim(buf, blen, b, bytes, NULL, &t, &e)) {
			over++;
			continue;
		}
		over += t.tokens > b;
		miscount += t.tokens != t.len;
		headers_lost += b >= 1200 && !all_headers(&t);
		gcm_trimmed_free(&t);
	}
	CHECK(over == 0 && miscount == 0, "trim_any_budget_never_over");
	CHECK(headers_lost == 0, "trim_any_budget_keeps_headers_when_they_fit");

	/* --- the real tokenizer --- */
	GcmTokens *tok = gcm_tokens_open("o200k_base", &e);
	CHECK(tok != NULL, "tokens_open_o200k");
	if (tok) {
		size_t n = gcm_tokens_count(tok, "Hello, world!", 13);
		CHECK(n == 4, "tokens_count_hello_world");
		int bad = 0;
		for (size_t b = 200; b <= 2000; b += 150) {
			if (gcm_diff_trim(buf, blen, b, real, tok, &t, &e)) {
				bad++;
				continue;
			}
			bad += t.tokens > b || gcm_tokens_count(tok, t.text, t.len) != t.tokens;
			gcm_trimmed_free(&t);
		}
		CHECK(bad == 0, "trim_real_tokens_within_budget");
		gcm_tokens_free(tok);
	}
	CHECK(gcm_tokens_open("no_such_encoding", &e) == NULL, "tokens_open_unknown_fails");

	/* --- encodings by model --- */
	CHECK(strcmp(gcm_encoding_for_model("gpt-4o-mini"), "o200k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("gpt-4.1-nano"), "o200k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("o3-mini"), "o200k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("o1"), "o200k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("openai/gpt-4o"), "o200k_base") == 0, "encoding_o200k_models");
	CHECK(strcmp(gcm_encoding_for_model("gpt-4"), "cl100k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("gpt-3.5-turbo"), "cl100k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("llama3.2"), "cl100k_base") == 0 &&
	      strcmp(gcm_encoding_for_model("omni"), "cl100k_base") == 0, "encoding_cl100k_otherwise");

	/* --- secrets --- */
	CHECK(secret_at("diff --git a/k.pem b/k.pem\nnew file mode 100644\n--- /dev/null\n+++ b/k.pem\n"
			"@@ -0,0 +1,3 @@\n+-----BEGIN RSA PRIVATE KEY-----\n+MIIEow\n+-----END RSA PRIVATE KEY-----\n",
			"k.pem", 1, "private key"), "secret_private_key");
	CHECK(secret_at("diff --git a/c.py b/c.py\n--- a/c.py\n+++ b/c.py\n@@ -10,3 +10,4 @@\n ctx\n-old\n ctx\n"
			"+AWS_KEY = 'AKIAQWERTYUIOPASDFGH'\n", "c.py", 12, "AWS access key"), "secret_aws_key_line_number");
	CHECK(nsecrets("diff --git a/c.py b/c.py\n+++ b/c.py\n@@ -1 +1 @@\n+k = 'AKIAIOSFODNN7EXAMPLE'\n") == 0,
	      "secret_aws_documentation_example_ignored");
	CHECK(nsecrets("diff --git a/c.py b/c.py\n+++ b/c.py\n@@ -1 +1 @@\n-k = 'AKIAQWERTYUIOPASDFGH'\n"
		       " ctx AKIAQWERTYUIOPASDFGH\n") == 0, "secret_removed_and_context_lines_ignored");
	CHECK(secret_at("diff --git a/x b/x\n+++ b/x\n@@ -1,0 +5,2 @@\n+ok\n+token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
			"x", 6, "GitHub"), "secret_github_token");
	CHECK(secret_at("diff --git a/x b/x\n+++ b/x\n@@ -1,0 +1 @@\n+OPENAI_API_KEY=sk-proj-abcdefghij0123456789KLMN\n",
			"x", 1, "API key"), "secret_openai_key");
	CHECK(nsecrets("diff --git a/x b/x\n+++ b/x\n@@ -1,0 +1 @@\n+ask-questions-about-everything-please\n") == 0,
	      "secret_sk_inside_word_ignored");
	CHECK(secret_at("diff --git a/x b/x\n+++ b/x\n@@ -1,0 +1 @@\n+aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz\n",
			"x", 1, "AWS secret"), "secret_aws_secret_key");
	CHECK(secret_at("diff --git a/app/.env b/app/.env\nnew file mode 100644\n--- /dev/null\n+++ b/app/.env\n"
			"@@ -0,0 +1,3 @@\n+# settings\n+DEBUG=\n+DB_PASSWORD=hunter2\n", "app/.env", 3, ".env"),
	      "secret_env_file");
	CHECK(nsecrets("diff --git a/.env.example b/.env.example\n+++ b/.env.example\n@@ -0,0 +1 @@\n+DB_PASSWORD=changeme\n") == 0,
	      "secret_env_example_allowed");
	CHECK(nsecrets(buf) == 0, "secret_clean_diff_has_none");
	return test_done();
}
