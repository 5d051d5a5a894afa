/* Diff parsing and cutting to a token budget. */
#include "diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A body line longer than this marks a minified or generated file. */
#define MINIFIED_LINE 1000

enum { KIND_TEXT, KIND_LOCK, KIND_MINIFIED, KIND_BINARY };
static const char *const kind_name[] = {"", "lock file", "minified", "binary"};

typedef struct {
	size_t off, len, tokens;
} Line;

typedef struct {
	char path[512];
	size_t first, nhdr, nlines;   /* lines [first, first+nlines); the first nhdr are the header */
	int kind;
	size_t hdr_tokens;
	size_t *cum;                  /* cum[i]: tokens of body lines [0, i) */
	size_t *cadd, *cdel;          /* added / removed lines among body lines [0, i) */
	size_t keep;                  /* body lines kept */
	int dropped;                  /* left out entirely, header too */
} File;

typedef struct {
	const char *src;
	Line *lines;
	size_t nlines;
	File *files;
	size_t nfiles;
	GcmCountFn count;
	void *ctx;
} Diff;

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n >= k && strcasecmp(s + n - k, suf) == 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int gcm_is_lock_file(const char *path)
{
	static const char *const names[] = {
		"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
		"bun.lock", "Cargo.lock", "Gemfile.lock", "poetry.lock", "Pipfile.lock", "composer.lock",
		"go.sum", "flake.lock", "uv.lock", "mix.lock", "Podfile.lock", "Package.resolved",
		"packages.lock.json", "gradle.lockfile", "pubspec.lock", "pdm.lock", "conda-lock.yml", NULL};
	const char *b = base_name(path);
	for (int i = 0; names[i]; i++)
		if (strcmp(b, names[i]) == 0)
			return 1;
	return ends_with(b, ".lock");
}

int gcm_is_minified_name(const char *path)
{
	static const char *const sufs[] = {".min.js", ".min.css", ".min.mjs", "-min.js", ".bundle.js",
					   ".js.map", ".css.map", ".map", NULL};
	for (int i = 0; sufs[i]; i++)
		if (ends_with(path, sufs[i]))
			return 1;
	return 0;
}

static void set_path(char *path, size_t cap, const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t' || s[n - 1] == ' '))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	if (n >= 2 && (memcmp(s, "b/", 2) == 0 || memcmp(s, "a/", 2) == 0))
		s += 2, n -= 2;
	if (n >= cap)
		n = cap - 1;
	memcpy(path, s, n);
	path[n] = 0;
}

int gcm_diff_path_line(const char *line, size_t n, char *path, size_t cap)
{
	if (n >= 11 && memcmp(line, "diff --git ", 11) == 0) {
		/* "diff --git a/X b/Y": the last " b/" (a path may hold " b/" too, rarely) */
		const char *b = NULL;
		for (const char *p = line + 11; p + 3 <= line + n; p++)
			if (memcmp(p, " b/", 3) == 0 || (p + 4 <= line + n && memcmp(p, " \"b/", 4) == 0))
				b = p + 1;
		if (b)
			set_path(path, cap, b, (size_t)(line + n - b));
		else
			set_path(path, cap, line + 11, n - 11);
		return 1;
	}
	if (n >= 4 && memcmp(line, "+++ ", 4) == 0) {
		if (!(n >= 13 && memcmp(line + 4, "/dev/null", 9) == 0))
			set_path(path, cap, line + 4, n - 4);
		return 1;
	}
	return 0;
}

static int starts(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(s, p, k) == 0;
}

static void diff_free(Diff *d)
{
	for (size_t i = 0; i < d->nfiles; i++) {
		free(d->files[i].cum);
		free(d->files[i].cadd);
		free(d->files[i].cdel);
	}
	free(d->files);
	free(d->lines);
}

static int diff_parse(Diff *d, const char *src, size_t len, Error *e)
{
	size_t cap = 1024, fcap = 16;
	d->src = src;
	d->lines = malloc(cap * sizeof *d->lines);
	d->files = calloc(fcap, sizeof *d->files);
	if (!d->lines || !d->files)
		return err_set(e, "out of memory");
	/* file 0 holds whatever comes before the first "diff --git" */
	d->nfiles = 1;
	File *f = &d->files[0];
	int in_body = 0;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(src + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - src) + 1 : len;
		const char *l = src + off;
		size_t n = end - off;
		if (starts(l, n, "diff --git ") || starts(l, n, "diff --cc ") || starts(l, n, "diff --combined ")) {
			if (d->nfiles == fcap) {
				File *nf = realloc(d->files, 2 * fcap * sizeof *nf);
				if (!nf)
					return err_set(e, "out of memory");
				memset(nf + fcap, 0, fcap * sizeof *nf);
				d->files = nf;
				fcap *= 2;
			}
			f = &d->files[d->nfiles++];
			f->first = d->nlines;
			in_body = 0;
		}
		if (d->nlines == cap) {
			Line *nl2 = realloc(d->lines, 2 * cap * sizeof *nl2);
			if (!nl2)
				return err_set(e, "out of memory");
			d->lines = nl2;
			cap *= 2;
		}
		d->lines[d->nlines++] = (Line){off, n, d->count(d->ctx, l, n)};
		if (!in_body && f != &d->files[0]) {
			if (starts(l, n, "@@") || starts(l, n, "GIT binary patch")) {
				in_body = 1;
				if (starts(l, n, "GIT binary patch"))
					f->kind = KIND_BINARY;
			} else {
				f->nhdr++;
				gcm_diff_path_line(l, n, f->path, sizeof f->path);
			}
		} else if (f == &d->files[0]) {
			f->nhdr++;
		}
		if (in_body && n > MINIFIED_LINE && f->kind == KIND_TEXT)
			f->kind = KIND_MINIFIED;
		f->nlines++;
		off = end;
	}
	for (size_t i = 0; i < d->nfiles; i++) {
		f = &d->files[i];
		if (f->kind == KIND_TEXT && gcm_is_lock_file(f->path))
			f->kind = KIND_LOCK;
		else if (f->kind == KIND_TEXT && gcm_is_minified_name(f->path))
			f->kind = KIND_MINIFIED;
		size_t nb = f->nlines - f->nhdr;
		f->cum = malloc((nb + 1) * sizeof *f->cum);
		f->cadd = malloc((nb + 1) * sizeof *f->cadd);
		f->cdel = malloc((nb + 1) * sizeof *f->cdel);
		if (!f->cum || !f->cadd || !f->cdel)
			return err_set(e, "out of memory");
		for (size_t j = 0; j < f->nhdr; j++)
			f->hdr_tokens += d->lines[f->first + j].tokens;
		f->cum[0] = f->cadd[0] = f->cdel[0] = 0;
		for (size_t j = 0; j < nb; j++) {
			const Line *ln = &d->lines[f->first + f->nhdr + j];
			char c = ln->len ? src[ln->off] : 0;
			f->cum[j + 1] = f->cum[j] + ln->tokens;
			f->cadd[j + 1] = f->cadd[j] + (c == '+');
			f->cdel[j + 1] = f->cdel[j] + (c == '-');
		}
		f->keep = nb;
	}
	return 0;
}

/* Body lines of f that fit in cap tokens. */
static size_t fit_lines(const File *f, size_t cap)
{
	size_t lo = 0, hi = f->nlines - f->nhdr;
	while (lo < hi) {
		size_t mid = (lo + hi + 1) / 2;
		if (f->cum[mid] <= cap)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* The --stat style list of what was left out ("" when nothing). */
static char *left_out_list(const Diff *d)
{
	size_t cap = 256, n = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 1; i < d->nfiles; i++) {
		const File *f = &d->files[i];
		size_t nb = f->nlines - f->nhdr;
		if (!f->dropped && f->keep == nb)
			continue;
		size_t gone = f->dropped ? f->nlines : nb - f->keep;
		size_t add = f->cadd[nb] - f->cadd[f->keep], del = f->cdel[nb] - f->cdel[f->keep];
		char item[700];
		int k = snprintf(item, sizeof item, " %s | %zu line%s left out (+%zu -%zu)%s%s\n",
				 f->path[0] ? f->path : "?", gone, gone == 1 ? "" : "s", add, del,
				 f->kind || f->dropped ? ", " : "",
				 f->dropped ? "whole file" : kind_name[f->kind]);
		if (k < 0)
			continue;
		if ((size_t)k >= sizeof item)
			k = sizeof item - 1;
		if (n + (size_t)k + 1 > cap) {
			while (n + (size_t)k + 1 > cap)
				cap *= 2;
			char *ns = realloc(s, cap);
			if (!ns) {
				free(s);
				return NULL;
			}
			s = ns;
		}
		memcpy(s + n, item, (size_t)k + 1);
		n += (size_t)k;
	}
	return s;
}

static const char summary_head[] = "[gcm left out parts of this diff to fit its token budget:]\n";

/* Tokens of the diff as currently cut, the summary included. */
static size_t cut_tokens(const Diff *d, int *oom)
{
	size_t t = 0;
	int cut = 0;
	for (size_t i = 0; i < d->nfiles; i++) {
		const File *f = &d->files[i];
		if (f->dropped) {
			cut = 1;
			continue;
		}
		t += f->hdr_tokens + f->cum[f->keep];
		cut |= f->keep != f->nlines - f->nhdr;
	}
	if (cut) {
		char *s = left_out_list(d);
		if (!s) {
			*oom = 1;
			return 0;
		}
		t += d->count(d->ctx, summary_head, sizeof summary_head - 1) + d->count(d->ctx, s, strlen(s)) + 1;
		free(s);
	}
	return t;
}

/* Cut to budget: lock, minified and binary bodies; then every text file's
 * body to a common cap (so the largest files lose the most); then whole
 * files from the end. */
static int cut(Diff *d, size_t budget, Error *e)
{
	int oom = 0;
	for (size_t i = 1; i < d->nfiles; i++) {
		File *f = &d->files[i];
		f->keep = f->kind == KIND_TEXT ? f->nlines - f->nhdr : 0;
		f->dropped = 0;
	}
	if (cut_tokens(d, &oom) <= budget || oom)
		goto done;
	size_t hi = 0;
	for (size_t i = 1; i < d->nfiles; i++)
		if (d->files[i].kind == KIND_TEXT && d->files[i].cum[d->files[i].nlines - d->files[i].nhdr] > hi)
			hi = d->files[i].cum[d->files[i].nlines - d->files[i].nhdr];
	size_t lo = 0;
	while (lo < hi && !oom) {
		size_t mid = lo + (hi - lo + 1) / 2;
		for (size_t i = 1; i < d->nfiles; i++)
			if (d->files[i].kind == KIND_TEXT)
				d->files[i].keep = fit_lines(&d->files[i], mid);
		if (cut_tokens(d, &oom) <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	for (size_t i = 1; i < d->nfiles; i++)
		if (d->files[i].kind == KIND_TEXT)
			d->files[i].keep = fit_lines(&d->files[i], lo);
	for (size_t i = d->nfiles - 1; i >= 1 && !oom && cut_tokens(d, &oom) > budget; i--) {
		d->files[i].dropped = 1;
		d->files[i].keep = 0;
	}
done:
	return oom ? err_set(e, "out of memory") : 0;
}

static int assemble(const Diff *d, GcmTrimmed *out, Error *e)
{
	size_t cap = 64;
	for (size_t i = 0; i < d->nlines; i++)
		cap += d->lines[i].len;
	char *list = left_out_list(d);
	if (!list)
		return err_set(e, "out of memory");
	cap += strlen(list) + sizeof summary_head + 2;
	char *s = malloc(cap);
	if (!s) {
		free(list);
		return err_set(e, "out of memory");
	}
	size_t n = 0;
	for (size_t i = 0; i < d->nfiles; i++) {
		const File *f = &d->files[i];
		if (f->dropped)
			continue;
		for (size_t j = 0; j < f->nhdr + f->keep; j++) {
			const Line *l = &d->lines[f->first + j];
			memcpy(s + n, d->src + l->off, l->len);
			n += l->len;
		}
	}
	if (list[0]) {
		if (n && s[n - 1] != '\n')
			s[n++] = '\n';
		memcpy(s + n, summary_head, sizeof summary_head - 1);
		n += sizeof summary_head - 1;
		size_t k = strlen(list);
		memcpy(s + n, list, k);
		n += k;
		out->left_out = list;
	} else {
		free(list);
		out->left_out = NULL;
	}
	s[n] = 0;
	out->text = s;
	out->len = n;
	return 0;
}

int gcm_diff_trim(const char *diff, size_t len, size_t budget, GcmCountFn count, void *ctx,
		  GcmTrimmed *out, Error *e)
{
	memset(out, 0, sizeof *out);
	Diff d = {.count = count, .ctx = ctx};
	int rc = -1;
	if (diff_parse(&d, diff, len, e))
		goto fail;
	for (size_t i = 0; i < d.nlines; i++)
		out->tokens_in += d.lines[i].tokens;
	/* Token counts of lines add up to about the count of the whole; where
	 * they fall short, aim lower and cut again. */
	size_t aim = budget;
	for (int round = 0; round < 8; round++) {
		if (out->tokens_in <= budget && round == 0) {
			for (size_t i = 1; i < d.nfiles; i++)
				d.files[i].keep = d.files[i].nlines - d.files[i].nhdr;
		} else if (cut(&d, aim, e)) {
			goto fail;
		}
		gcm_trimmed_free(out);
		if (assemble(&d, out, e))
			goto fail;
		out->tokens = count(ctx, out->text, out->len);
		if (out->tokens <= budget)
			break;
		size_t over = out->tokens - budget;
		aim = aim > over + 1 ? aim - over - 1 : 0;
		if (round == 7) {
			/* the headers alone do not fit: cut the text at a line end */
			size_t keep = 0, t = 0;
			for (size_t off = 0; off < out->len;) {
				const char *nl = memchr(out->text + off, '\n', out->len - off);
				size_t end = nl ? (size_t)(nl - out->text) + 1 : out->len;
				t += count(ctx, out->text + off, end - off);
				if (t > budget)
					break;
				keep = end;
				off = end;
			}
			out->text[keep] = 0;
			out->len = keep;
			out->tokens = count(ctx, out->text, out->len);
		}
	}
	rc = 0;
fail:
	if (rc)
		gcm_trimmed_free(out);
	diff_free(&d);
	return rc;
}

void gcm_trimmed_free(GcmTrimmed *t)
{
	free(t->text);
	free(t->left_out);
	t->text = t->left_out = NULL;
	t->len = t->tokens = 0;
}
