/* tok-train: learn a byte-level BPE vocabulary from text and write it as a
 * tok-file(5) that tok-encode and tok-decode load with -t. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "bpe_export.h"
#include "bpe_train.h"
#include "err.h"
#include "io.h"
#include "opts.h"
#include "progress.h"
#include "tokfile.h"

static const char usage[] =
	"usage: tok-train -v VOCAB_SIZE [-p PATTERN] [-s NAME]... -o TOKENIZER [FILE...]\n"
	"Learn a byte-level BPE vocabulary from text (FILEs or stdin) and write it\n"
	"as a tokenizer file (tok-file(5)) for tok-encode -t and tok-decode -t.\n"
	"\n"
	"  -v, --vocab-size N       tokens wanted, specials included (>= 256 + specials)\n"
	"  -p, --pattern P          pre-tokenizer: gpt2 (default), cl100k, o200k, or none\n"
	"                           (none: each line, with its newline, is one piece)\n"
	"  -s, --special NAME       add a special token (repeatable); ids follow the merges\n"
	"  -o, --output FILE        the tokenizer file to write (atomically)\n"
	"  -f, --format F           tok (default), or hf: also write FILE.json, a Hugging\n"
	"                           Face tokenizer.json with the same tokens\n"
	"  -n, --name NAME          the encoding's name in the file (default: from FILE)\n"
	"  -m, --min-frequency N    stop when the best pair occurs fewer than N times (2)\n"
	"      --max-piece-bytes N  cut longer pieces into parts of N bytes (65536; 0: no limit)\n"
	"  -j, --jobs N             counting threads (default: OMP_NUM_THREADS or all CPUs)\n"
	"      --block-bytes N      read input in blocks of N bytes (4 MiB per thread)\n"
	"      --dump-merges FILE   also write the merges, one `left right id count` a line\n"
	"      --tie-order T        bytes (default): equal counts go to the smallest\n"
	"                           (left id, right id); hf: as Hugging Face's trainer\n"
	"  -q, --quiet              no progress or summary on stderr\n"
	"      --progress           progress on stderr even when it is not a terminal\n"
	"  -h, --help               this help\n"
	"      --version            version\n"
	"";

enum { OPT_MAX_PIECE = 256, OPT_DUMP, OPT_TIE, OPT_PROGRESS, OPT_VERSION, OPT_BLOCK };

static const struct option longopts[] = {
	{ "vocab-size", required_argument, 0, 'v' },
	{ "pattern", required_argument, 0, 'p' },
	{ "special", required_argument, 0, 's' },
	{ "output", required_argument, 0, 'o' },
	{ "format", required_argument, 0, 'f' },
	{ "name", required_argument, 0, 'n' },
	{ "min-frequency", required_argument, 0, 'm' },
	{ "max-piece-bytes", required_argument, 0, OPT_MAX_PIECE },
	{ "jobs", required_argument, 0, 'j' },
	{ "dump-merges", required_argument, 0, OPT_DUMP },
	{ "tie-order", required_argument, 0, OPT_TIE },
	{ "block-bytes", required_argument, 0, OPT_BLOCK },
	{ "quiet", no_argument, 0, 'q' },
	{ "progress", no_argument, 0, OPT_PROGRESS },
	{ "help", no_argument, 0, 'h' },
	{ "version", no_argument, 0, OPT_VERSION },
	{ 0, 0, 0, 0 },
};

/* The default name: the output's base name without its extension, with
 * characters the format does not allow replaced, at most 32. */
static void default_name(const char *path, char *out)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t n = strcspn(b, ".");
	if (n == 0 || strcmp(path, "-") == 0) {
		b = "tok-train";
		n = strlen(b);
	}
	if (n > 32)
		n = 32;
	for (size_t i = 0; i < n; i++)
		out[i] = b[i] > ' ' && b[i] < 0x7f ? b[i] : '_';
	out[n] = 0;
}

/* A token's bytes for the progress line: printable ASCII as is, the rest
 * as \xNN, cut short. */
static void show_bytes(char *out, size_t cap, const uint8_t *s, uint32_t n)
{
	size_t o = 0;
	for (uint32_t i = 0; i < n && o + 5 < cap; i++) {
		if (s[i] >= ' ' && s[i] < 0x7f && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", s[i]);
	}
	out[o] = 0;
}

static void on_merge(void *ctx, const BpeVocab *v, uint32_t target)
{
	Progress *pg = ctx;
	if (!pg->enabled)
		return;
	const BpeMerge *m = &v->merges[v->n_merges - 1];
	char a[40], b[40], extra[128];
	show_bytes(a, sizeof a, v->tok[m->left], v->len[m->left]);
	show_bytes(b, sizeof b, v->tok[m->right], v->len[m->right]);
	snprintf(extra, sizeof extra, "'%s' + '%s' (%llu)", a, b, (unsigned long long)m->count);
	pg->total = target - 256;
	progress_update(pg, v->n_tokens - 256, extra);
}

int main(int argc, char **argv)
{
	long long vocab = -1, min_freq = 2, max_piece = 65536, jobs = 0, block = 0;
	int pattern = PRETOK_GPT2, hf = 0, hf_ties = 0, pmode = PROGRESS_AUTO, quiet = 0;
	const char *out = NULL, *name = NULL, *dump = NULL;
	const char **specials = NULL;
	size_t n_specials = 0;
	static const char *const patterns[] = { "gpt2", "cl100k", "o200k", "none", NULL };
	static const char *const formats[] = { "tok", "hf", NULL };
	static const char *const ties[] = { "bytes", "hf", NULL };
	int c;
	while ((c = opt_getopt(argc, argv, "v:p:s:o:f:n:m:j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'v': vocab = opt_int(optarg, "-v", 1, 1LL << 31); break;
		case 'p': pattern = opt_choice(optarg, "-p", patterns); break;
		case 's':
			specials = realloc(specials, (n_specials + 1) * sizeof *specials);
			if (!specials)
				die("out of memory");
			specials[n_specials++] = optarg;
			break;
		case 'o': out = optarg; break;
		case 'f': hf = opt_choice(optarg, "-f", formats); break;
		case 'n': name = optarg; break;
		case 'm': min_freq = opt_int(optarg, "-m", 1, 1LL << 62); break;
		case OPT_MAX_PIECE: max_piece = opt_int(optarg, "--max-piece-bytes", 0, 1LL << 32); break;
		case 'j': jobs = opt_int(optarg, "-j", 1, 64); break;
		case OPT_BLOCK: block = opt_int(optarg, "--block-bytes", 16, 1LL << 34); break;
		case OPT_DUMP: dump = optarg; break;
		case OPT_TIE: hf_ties = opt_choice(optarg, "--tie-order", ties); break;
		case 'q': quiet = 1; break;
		case OPT_PROGRESS: pmode = PROGRESS_FORCE; break;
		case 'h': opt_help(usage);
		case OPT_VERSION: opt_version();
		default: usage_error("unknown option");
		}
	}
	if (quiet)
		pmode = PROGRESS_QUIET;
	if (vocab < 0)
		usage_error("the vocabulary size (-v) is required");
	if (!out)
		usage_error("the output file (-o) is required");
	if (hf && strcmp(out, "-") == 0)
		usage_error("-f hf needs a named output file (it writes FILE.json beside it)");
	for (size_t i = 0; i < n_specials; i++) {
		const char *s = specials[i];
		if (!*s || strpbrk(s, "\r\n"))
			usage_error("--special: a special token must be one non-empty line");
		if (strlen(s) == 1)
			usage_error("--special: '%s' collides with byte token %u", s, (unsigned char)s[0]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(s, specials[j]) == 0)
				usage_error("--special: '%s' is given twice", s);
	}
	if (vocab < 256 + (long long)n_specials)
		usage_error("-v: %lld is below 256 byte tokens + %zu special tokens", vocab, n_specials);
	char defname[33];
	if (!name) {
		default_name(out, defname);
		name = defname;
	}

	Error e;
	/* Open the outputs first: an unwritable path fails before the work. */
	AtomicFile af = { 0 }, afh = { 0 };
	char *hfpath = NULL;
	if (atomic_open(&af, out, &e))
		die_err(&e);
	if (hf) {
		if (asprintf(&hfpath, "%s.json", out) < 0)
			die("out of memory");
		if (atomic_open(&afh, hfpath, &e)) {
			atomic_abort(&af);
			die_err(&e);
		}
	}

	/* Count the pieces of every input. */
	CountOpts co = {
		.pattern = (PretokKind)pattern,
		.max_piece_bytes = (size_t)max_piece,
		.threads = jobs ? (int)jobs : omp_get_max_threads(),
		.block_bytes = (size_t)block,
	};
	PieceTable *pt = piece_table_new(&e);
	if (!pt)
		goto fail;
	int nfiles = argc - optind;
	uint64_t total = 0, done = 0;
	for (int i = 0; i < nfiles; i++) {
		struct stat st;
		if (strcmp(argv[optind + i], "-") && stat(argv[optind + i], &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	Progress pg;
	progress_init(&pg, "tok-train: counting", total, pmode);
	double t0 = io_now();
	for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
		const char *path = nfiles ? argv[optind + i] : "-";
		const char *dn = io_display_name(path);
		int fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0;
		if (fd < 0) {
			err_errno(&e, "%s", dn);
			goto fail;
		}
		int rc = count_fd(pt, fd, dn, &co, &done, &pg, &e);
		if (fd)
			close(fd);
		if (rc)
			goto fail;
	}
	progress_done(&pg, done, "bytes counted");
	double t1 = io_now();
	if (piece_table_total(pt) == 0) {
		err_set(&e, "%s: the corpus is empty", nfiles == 1 ? io_display_name(argv[optind]) :
			nfiles ? "the inputs" : "<stdin>");
		goto fail;
	}

	/* Learn the merges. */
	BpeVocab v;
	progress_init(&pg, "tok-train: merges", (uint64_t)vocab - n_specials - 256, pmode);
	TrainOpts to = {
		.n_tokens = (uint32_t)(vocab - (long long)n_specials),
		.min_frequency = (uint64_t)min_freq,
		.hf_ties = hf_ties,
		.progress = on_merge,
		.progress_ctx = &pg,
	};
	if (bpe_train(pt, &to, &v, &e))
		goto fail;
	progress_done(&pg, v.n_tokens - 256, NULL);
	double t2 = io_now();
	for (size_t i = 0; i < n_specials; i++)
		for (uint32_t t = 256; t < v.n_tokens; t++)
			if (v.len[t] == strlen(specials[i]) && memcmp(v.tok[t], specials[i], v.len[t]) == 0) {
				err_set(&e, "special token '%s' collides with learned token %u", specials[i], t);
				goto fail_v;
			}

	/* Write. */
	TokSpecial *ts = calloc(n_specials + 1, sizeof *ts);
	if (!ts)
		die("out of memory");
	for (size_t i = 0; i < n_specials; i++)
		ts[i] = (TokSpecial){ specials[i], v.n_tokens + (uint32_t)i };
	TokFileData d = {
		.name = name,
		.pattern = (PretokKind)pattern,
		.n_tokens = v.n_tokens,
		.tokens = (const uint8_t *const *)v.tok,
		.lens = v.len,
		.specials = ts,
		.n_specials = n_specials,
	};
	if (tokfile_write_fp(af.fp, io_display_name(out), &d, &e))
		goto fail_v;
	if (hf && bpe_write_hf(afh.fp, hfpath, &v, (PretokKind)pattern, specials, n_specials, &e))
		goto fail_v;
	if (dump) {
		AtomicFile afd;
		if (atomic_open(&afd, dump, &e))
			goto fail_v;
		if (bpe_write_merges(afd.fp, io_display_name(dump), &v, &e)) {
			atomic_abort(&afd);
			goto fail_v;
		}
		if (atomic_commit(&afd, &e))
			goto fail_v;
	}
	if (atomic_commit(&af, &e) || (hf && atomic_commit(&afh, &e)))
		goto fail_v;
	if (pg.enabled || pmode == PROGRESS_FORCE)
		fprintf(stderr, "tok-train: %u tokens (%zu merges) + %zu specials from %llu pieces "
			"(%zu distinct, %llu bytes); counting %.2fs, merging %.2fs\n",
			v.n_tokens, v.n_merges, n_specials, (unsigned long long)piece_table_total(pt),
			piece_table_size(pt), (unsigned long long)piece_table_bytes(pt), t1 - t0, t2 - t1);
	if (v.n_tokens + n_specials < (uint64_t)vocab && pmode != PROGRESS_QUIET)
		fprintf(stderr, "tok-train: %s: %u tokens, not %lld: no pair occurs %lld times or more\n",
			io_display_name(out), v.n_tokens + (uint32_t)n_specials, vocab, min_freq);
	free(ts);
	bpe_vocab_free(&v);
	piece_table_free(pt);
	free(specials);
	free(hfpath);
	return EXIT_OK;
fail_v:
	bpe_vocab_free(&v);
fail:
	atomic_abort(&af);
	if (hf)
		atomic_abort(&afh);
	die_err(&e);
}
