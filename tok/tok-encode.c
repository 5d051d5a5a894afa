/* tok-encode: text in, token stream out (tok-encode(1)). */
#include "err.h"
#include "io.h"
#include "opts.h"
#include "stream.h"
#include "tok.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: tok-encode [-e ENCODING | -t FILE] [options] [FILE...]\n"
	"Encode text (the FILEs, or stdin) into a token stream (tok-stream(5)).\n"
	"  -e, --encoding NAME     gpt2 (default), r50k_base, p50k_base, cl100k_base,\n"
	"                          o200k_base, bytes\n"
	"  -t, --tokenizer FILE    a tok-file(5), .tiktoken or GPT-2 encoder.json\n"
	"      --pattern P         pre-tokenizer for a .tiktoken file: gpt2, cl100k, o200k, none\n"
	"      --special TEXT=ID   a special token of a .tiktoken file (repeatable)\n"
	"      --allow-special[=NAME,...]  encode these special tokens (all by default)\n"
	"      --disallow-special  fail on special token text that is not allowed\n"
	"      --eot               end-of-text token after each file\n"
	"      --eot-lines         each line is a document: its text, then end-of-text\n"
	"  -c, --count             print token counts (per file and total), not tokens\n"
	"      --format F          binary (default) or text (decimal ids)\n"
	"  -j, --threads N         encode on N threads (default: OMP_NUM_THREADS or 1)\n"
	"  -o, --output FILE       write to FILE (atomically) instead of stdout\n"
	"  -f, --force             write binary tokens to a terminal\n"
	"  -h, --help              this help;  --version  the version\n";

enum { OPT_PATTERN = 256, OPT_SPECIAL, OPT_ALLOW, OPT_DISALLOW, OPT_EOT, OPT_EOT_LINES, OPT_FORMAT, OPT_VERSION };

typedef struct {
	const Tokenizer *tok;
	uint8_t *allowed;     /* per special index; NULL = none allowed */
	int n_allowed;
	int disallow;
	int eot, eot_lines, count, text, threads;
	TokenWriter w;
	FILE *out;            /* text and count output */
	const char *out_name;
	TokVec v;
	size_t total;
	int mid_line;          /* text output: ids written on this line */
} Enc;

/* The first special token text in s that is not allowed: its offset or -1. */
static int64_t find_disallowed(const Enc *c, const uint8_t *s, size_t len, size_t *which)
{
	size_t pos = 0;
	while (pos < len) {
		int64_t at = tok_find_special(c->tok, s + pos, len - pos, which);
		if (at < 0)
			return -1;
		if (!c->allowed || !c->allowed[*which])
			return (int64_t)pos + at;
		pos += (size_t)at + 1;
	}
	return -1;
}

static int emit(Enc *c, Error *e)
{
	c->total += c->v.len;
	if (c->count) {
		c->v.len = 0;
		return 0;
	}
	if (c->text) {
		for (size_t i = 0; i < c->v.len; i++) {
			fprintf(c->out, c->mid_line ? " %u" : "%u", c->v.ids[i]);
			c->mid_line = 1;
		}
		c->v.len = 0;
		if (ferror(c->out))
			return err_errno(e, "%s: write", c->out_name);
		return 0;
	}
	int rc = stream_write(&c->w, c->v.ids, c->v.len, e);
	c->v.len = 0;
	return rc;
}

/* Encode s[0..len) (a whole number of documents when --eot-lines). */
static int encode_block(Enc *c, const uint8_t *s, size_t len, uint64_t base, const char *name, Error *e)
{
	if (c->disallow) {
		size_t which;
		int64_t at = find_disallowed(c, s, len, &which);
		if (at >= 0)
			return err_set(e, "%s: offset %llu: special token %s in the input (--disallow-special)", name,
				       (unsigned long long)(base + (uint64_t)at), tok_special_text(c->tok, which, NULL));
	}
	if (!c->eot_lines)
		return tok_encode_parallel(c->tok, s, len, c->n_allowed > 0, c->allowed, c->threads, &c->v, e) ||
		       emit(c, e);
	for (size_t p = 0; p < len;) {
		const uint8_t *nl = memchr(s + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - s) : len;
		if (tok_encode_parallel(c->tok, s + p, end - p, c->n_allowed > 0, c->allowed, 1, &c->v, e) ||
		    tokvec_reserve(&c->v, 1, e))
			return -1;
		c->v.ids[c->v.len++] = (uint32_t)tok_eot(c->tok);
		if (c->v.len > (1 << 16) && emit(c, e))
			return -1;
		p = end + 1;
	}
	return emit(c, e);
}

/* Read a file in blocks, encode each up to a place where the text can be
 * cut (a line end with --eot-lines), carry the rest over. */
static int encode_file(Enc *c, const char *path, Error *e)
{
	const char *name = io_display_name(path); /* path NULL: stdin, unnamed */
	int fd = !path || strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	size_t block = (size_t)(c->threads > 1 ? c->threads : 1) << 22;
	size_t cap = block, len = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < cap / 2)
		cap = (size_t)st.st_size + 64; /* small files: a small buffer */
	uint64_t base = 0;
	uint8_t *buf = malloc(cap);
	int rc = -1, eof = 0;
	size_t before = c->total;
	if (!buf) {
		err_set(e, "out of memory");
		goto out;
	}
	while (!eof) {
		if (cap - len < block / 2 && !(cap > len && cap < block / 2)) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				err_set(e, "%s: out of memory", name);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		long long got = io_read_full(fd, buf + len, cap - len, e, name);
		if (got < 0)
			goto out;
		eof = (size_t)got < cap - len;
		len += (size_t)got;
		size_t cut = len;
		if (!eof) {
			if (c->eot_lines) {
				const uint8_t *nl = memrchr(buf, '\n', len);
				cut = nl ? (size_t)(nl - buf) + 1 : 0;
			} else {
				/* the last place where the text can be cut */
				size_t at = 0, k;
				cut = 0;
				while ((k = tok_safe_split(buf, len, at)) < len) {
					cut = k;
					at = k + 1;
				}
			}
		}
		if (cut == 0)
			continue;
		if (encode_block(c, buf, cut, base, name, e))
			goto out;
		memmove(buf, buf + cut, len - cut);
		len -= cut;
		base += cut;
	}
	if (c->eot) {
		if (tok_eot(c->tok) < 0) {
			err_set(e, "%s has no end-of-text token (--eot)", tok_name(c->tok));
			goto out;
		}
		if (tokvec_reserve(&c->v, 1, e))
			goto out;
		c->v.ids[c->v.len++] = (uint32_t)tok_eot(c->tok);
		if (emit(c, e))
			goto out;
	}
	if (c->count)
		fprintf(c->out, "%8zu%s%s\n", c->total - before, path ? " " : "", path ? path : "");
	if (c->text && c->mid_line) {
		fputc('\n', c->out);
		c->mid_line = 0;
	}
	rc = 0;
out:
	free(buf);
	if (fd > 0)
		close(fd);
	return rc;
}

/* --allow-special=NAME,...: flags per special index. */
static void parse_allowed(Enc *c, const char *list)
{
	size_t ns = tok_n_specials(c->tok);
	c->allowed = calloc(ns ? ns : 1, 1);
	if (!c->allowed)
		die("out of memory");
	if (!list) {
		memset(c->allowed, 1, ns);
		c->n_allowed = (int)ns;
		return;
	}
	char *copy = strdup(list), *save = NULL;
	for (char *tk = strtok_r(copy, ",", &save); tk; tk = strtok_r(NULL, ",", &save)) {
		int64_t id = tok_special_id(c->tok, tk);
		if (id < 0)
			usage_error("--allow-special: %s has no special token %s", tok_name(c->tok), tk);
		for (size_t i = 0; i < ns; i++) {
			uint32_t sid;
			tok_special_text(c->tok, i, &sid);
			if (sid == (uint32_t)id && !c->allowed[i]) {
				c->allowed[i] = 1;
				c->n_allowed++;
			}
		}
	}
	free(copy);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"encoding", required_argument, 0, 'e'}, {"tokenizer", required_argument, 0, 't'},
		{"pattern", required_argument, 0, OPT_PATTERN}, {"special", required_argument, 0, OPT_SPECIAL},
		{"allow-special", optional_argument, 0, OPT_ALLOW}, {"disallow-special", no_argument, 0, OPT_DISALLOW},
		{"eot", no_argument, 0, OPT_EOT}, {"eot-lines", no_argument, 0, OPT_EOT_LINES},
		{"count", no_argument, 0, 'c'}, {"format", required_argument, 0, OPT_FORMAT},
		{"threads", required_argument, 0, 'j'}, {"output", required_argument, 0, 'o'},
		{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0}};
	static const char *const formats[] = {"binary", "text", NULL};
	static const char *const patterns[] = {"gpt2", "cl100k", "o200k", "none", NULL};
	Enc c = {0};
	const char *enc = NULL, *tfile = NULL, *output = NULL, *allow = NULL;
	int pattern = -1, force = 0, want_allow = 0;
	TokSpecial specials[64];
	size_t nspec = 0;
	const char *omp = getenv("OMP_NUM_THREADS");
	c.threads = omp && atoi(omp) > 0 ? atoi(omp) : 1;
	int o;
	while ((o = opt_getopt(argc, argv, "e:t:cj:o:fh", longopts, NULL)) != -1) {
		switch (o) {
		case 'e': enc = optarg; break;
		case 't': tfile = optarg; break;
		case OPT_PATTERN: pattern = opt_choice(optarg, "--pattern", patterns); break;
		case OPT_SPECIAL: {
			char *eq = strrchr(optarg, '=');
			if (!eq || eq == optarg || nspec == 64)
				usage_error("--special wants TEXT=ID, not '%s'", optarg);
			*eq = 0;
			specials[nspec].text = optarg;
			specials[nspec++].id = (uint32_t)opt_int(eq + 1, "--special", 0, (1 << 26) - 1);
			break;
		}
		case OPT_ALLOW: want_allow = 1; allow = optarg; break;
		case OPT_DISALLOW: c.disallow = 1; break;
		case OPT_EOT: c.eot = 1; break;
		case OPT_EOT_LINES: c.eot_lines = 1; break;
		case 'c': c.count = 1; break;
		case OPT_FORMAT: c.text = opt_choice(optarg, "--format", formats); break;
		case 'j': c.threads = (int)opt_int(optarg, "-j", 1, 1024); break;
		case 'o': output = optarg; break;
		case 'f': force = 1; break;
		case 'h': opt_help(usage);
		case OPT_VERSION: opt_version();
		default: usage_error("unknown option");
		}
	}
	if (enc && tfile)
		usage_error("-e and -t exclude each other");
	if ((pattern >= 0 || nspec) && !tfile)
		usage_error("--pattern and --special go with -t FILE.tiktoken");
	Error e;
	Tokenizer *tok;
	if (tfile && (pattern >= 0 || nspec))
		tok = tok_open_tiktoken(tfile, pattern, nspec ? specials : NULL, nspec, &e);
	else
		tok = tok_open(tfile ? tfile : enc ? enc : "gpt2", &e);
	if (!tok)
		die_err(&e);
	c.tok = tok;
	if (want_allow)
		parse_allowed(&c, allow);
	if ((c.eot_lines || c.eot) && tok_eot(tok) < 0)
		die("%s has no end-of-text token (--eot, --eot-lines)", tok_name(tok));

	/* unreadable inputs fail before any output */
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "-") != 0 && access(argv[i], R_OK) != 0)
			die_errno("%s", argv[i]);

	AtomicFile af = {0};
	if (atomic_open(&af, output, &e))
		die_err(&e);
	c.out = af.fp;
	c.out_name = output ? output : "<stdout>";
	int fd = fileno(af.fp);
	if (!c.count && !c.text) {
		if (stream_check_terminal(fd, force, &e) ||
		    stream_writer_open(&c.w, fd, c.out_name, tok_n_vocab(tok), tok_eot(tok), tok_name(tok), &e))
			goto fail;
	}
	int nfiles = argc - optind;
	for (int i = optind; i < argc || (nfiles == 0 && i == optind); i++)
		if (encode_file(&c, nfiles ? argv[i] : NULL, &e))
			goto fail;
	if (c.count && nfiles > 1)
		fprintf(c.out, "%8zu total\n", c.total);
	if (!c.count && !c.text && stream_writer_close(&c.w, &e))
		goto fail;
	if (atomic_commit(&af, &e))
		die_err(&e);
	tokvec_free(&c.v);
	free(c.allowed);
	tok_free(tok);
	return 0;
fail:
	atomic_abort(&af);
	die_err(&e);
}
