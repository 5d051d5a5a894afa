/* Secret shapes in added lines. */
#include "secrets.h"
#include "diff.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Character classes for key bodies. */
static int alnum(int c) { return isalnum(c); }
static int upnum(int c) { return isupper(c) || isdigit(c); }
static int word(int c) { return isalnum(c) || c == '_'; }
static int dash(int c) { return isalnum(c) || c == '_' || c == '-'; }
static int b64(int c) { return isalnum(c) || c == '/' || c == '+' || c == '='; }

typedef struct {
	const char *prefix;
	int (*cls)(int);
	size_t min;        /* characters of cls after the prefix */
	const char *what;
} Shape;

static const Shape shapes[] = {
	{"AKIA", upnum, 16, "an AWS access key id"},
	{"ASIA", upnum, 16, "an AWS access key id"},
	{"ghp_", alnum, 36, "a GitHub token"},
	{"gho_", alnum, 36, "a GitHub token"},
	{"ghu_", alnum, 36, "a GitHub token"},
	{"ghs_", alnum, 36, "a GitHub token"},
	{"ghr_", alnum, 36, "a GitHub token"},
	{"github_pat_", word, 22, "a GitHub token"},
	{"glpat-", dash, 20, "a GitLab token"},
	{"sk-ant-", dash, 20, "an Anthropic API key"},
	{"sk-", dash, 20, "an OpenAI-style API key"},
	{"xoxb-", dash, 10, "a Slack token"},
	{"xoxp-", dash, 10, "a Slack token"},
	{"xoxa-", dash, 10, "a Slack token"},
	{"xoxr-", dash, 10, "a Slack token"},
	{"xoxs-", dash, 10, "a Slack token"},
	{"AIza", dash, 35, "a Google API key"},
	{"sk_live_", alnum, 20, "a Stripe live key"},
	{"rk_live_", alnum, 20, "a Stripe live key"},
	{"npm_", alnum, 36, "an npm token"},
	{"hf_", alnum, 34, "a Hugging Face token"},
};

static const char *memmem_ci(const char *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(h + i, needle, k) == 0)
			return h + i;
	return NULL;
}

/* A placeholder from documentation (AKIAIOSFODNN7EXAMPLE), not a key. */
static int placeholder(const char *s, size_t n)
{
	return memmem_ci(s, n, "example") != NULL || memmem_ci(s, n, "xxxxxxxx") != NULL;
}

static const char *shape_match(const char *l, size_t n)
{
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		const Shape *sh = &shapes[s];
		size_t k = strlen(sh->prefix);
		for (const char *p = l; (p = memmem(p, (size_t)(l + n - p), sh->prefix, k)); p++) {
			if (p > l && word((unsigned char)p[-1]))
				continue;     /* inside a longer word */
			const char *q = p + k;
			while (q < l + n && sh->cls((unsigned char)*q))
				q++;
			if ((size_t)(q - p) - k >= sh->min && !placeholder(p, (size_t)(q - p)))
				return sh->what;
		}
	}
	if (memmem(l, n, "-----BEGIN ", 11) && memmem(l, n, "PRIVATE KEY", 11))
		return "a private key block";
	const char *a = memmem_ci(l, n, "aws_secret_access_key");
	if (a) {
		const char *q = a + 21;
		while (q < l + n && (*q == ' ' || *q == '"' || *q == '\'' || *q == '=' || *q == ':'))
			q++;
		const char *v = q;
		while (q < l + n && b64((unsigned char)*q))
			q++;
		if (q - v >= 40 && !placeholder(v, (size_t)(q - v)))
			return "an AWS secret access key";
	}
	return NULL;
}

/* .env, .env.local, .env.production...; not .env.example and friends. */
static int env_file(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	if (strcmp(b, ".env") == 0)
		return 1;
	if (strncmp(b, ".env.", 5) != 0)
		return 0;
	static const char *const safe[] = {"example", "sample", "template", "dist", "defaults", "schema", NULL};
	for (int i = 0; safe[i]; i++)
		if (strcasestr(b + 5, safe[i]))
			return 0;
	return 1;
}

/* NAME=value with a value, as in a .env file. */
static int env_assignment(const char *l, size_t n)
{
	size_t i = 0;
	while (i < n && isspace((unsigned char)l[i]))
		i++;
	if (n - i >= 7 && memcmp(l + i, "export ", 7) == 0)
		i += 7;
	size_t start = i;
	while (i < n && word((unsigned char)l[i]))
		i++;
	if (i == start || isdigit((unsigned char)l[start]))
		return 0;
	while (i < n && l[i] == ' ')
		i++;
	if (i >= n || l[i] != '=')
		return 0;
	for (i++; i < n; i++)
		if (!isspace((unsigned char)l[i]) && l[i] != '"' && l[i] != '\'')
			return 1;
	return 0;
}

size_t gcm_secrets_scan(const char *diff, size_t len, GcmSecret *hits, size_t max)
{
	char path[512] = "";
	size_t nhits = 0, lineno = 0;
	int in_body = 0, env_reported = 0;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(diff + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - diff) : len;
		const char *l = diff + off;
		size_t n = end - off;
		off = nl ? end + 1 : len;
		if (n >= 5 && memcmp(l, "diff ", 5) == 0) {
			in_body = 0;
			env_reported = 0;
			path[0] = 0;
		}
		if (!in_body) {
			if (gcm_diff_path_line(l, n, path, sizeof path))
				continue;
		}
		if (n >= 2 && memcmp(l, "@@", 2) == 0) {
			in_body = 1;
			const char *plus = memchr(l, '+', n);
			lineno = plus ? strtoul(plus + 1, NULL, 10) : 0;
			continue;
		}
		if (!in_body || n == 0)
			continue;
		if (l[0] == '-' || l[0] == '\\')
			continue;
		size_t this_line = lineno++;
		if (l[0] != '+')
			continue;
		const char *what = shape_match(l + 1, n - 1);
		if (!what && !env_reported && env_file(path) && env_assignment(l + 1, n - 1)) {
			what = "a .env file with values";
			env_reported = 1;
		}
		if (what) {
			if (nhits < max) {
				GcmSecret *h = &hits[nhits];
				strcpy(h->path, path[0] ? path : "<diff>");
				h->line = this_line;
				h->what = what;
			}
			nhits++;
		}
	}
	return nhits;
}
