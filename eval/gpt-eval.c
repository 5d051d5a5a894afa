/* gpt-eval: measure a GPT-2 model: loss, perplexity and bits per byte on
 * token streams, or multiple-choice accuracy on HellaSwag. */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "eval.h"
#include "io.h"
#include "gpt2.h"
#include "opts.h"
#include "stream.h"

static const char usage[] =
	"usage: gpt-eval [options] MODEL [FILE...]\n"
	"       gpt-eval [options] MODEL --task hellaswag FILE\n"
	"Measure MODEL (an llm.c/gptkit checkpoint, or a Hugging Face GPT-2 directory\n"
	"or .safetensors file) on token streams (FILE, default stdin): mean loss,\n"
	"perplexity and bits per byte, in windows of the model's context; or on a\n"
	"multiple-choice task: acc and acc_norm.\n"
	"  -T, --context N     window length (default: the model's context)\n"
	"      --stride N      start a window every N tokens, scoring each target once\n"
	"                      (default: the window length, llm.c's evaluation)\n"
	"  -e, --encoding ENC  tokenizer for bytes and task text (default: the stream's,\n"
	"                      else gpt2)\n"
	"  -t, --tokenizer FILE  the same, from a tokenizer file (as tok-encode -t)\n"
	"      --task NAME     hellaswag: FILE is HellaSwag JSONL or llm.c's eval .bin\n"
	"      --harness-norm  acc_norm divides by the ending's characters\n"
	"                      (lm-evaluation-harness) instead of its tokens (llm.c)\n"
	"  -n, --limit N       score only the first N examples of a task\n"
	"      --json          a JSON report\n"
	"  -v, --verbose       per-example results (tasks)\n"
	"  -j, --threads N     threads (default: OMP_NUM_THREADS or all cores)\n"
	"  -h, --help          this help\n"
	"      --version       the version\n";

enum { O_STRIDE = 256, O_TASK, O_HARNESS, O_JSON, O_VERSION };
static const struct option longopts[] = {
	{ "context", required_argument, NULL, 'T' },
	{ "stride", required_argument, NULL, O_STRIDE },
	{ "encoding", required_argument, NULL, 'e' },
	{ "tokenizer", required_argument, NULL, 't' },
	{ "task", required_argument, NULL, O_TASK },
	{ "harness-norm", no_argument, NULL, O_HARNESS },
	{ "limit", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, O_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "threads", required_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void json_doubles(const double *x, int n)
{
	putchar('[');
	for (int i = 0; i < n; i++)
		printf("%s%.9g", i ? ", " : "", x[i]);
	putchar(']');
}

static int run_task(GPT2 *m, const char *path, const char *enc, int harness, long long limit, int json, int verbose)
{
	Error e;
	Tokenizer *tok = tok_open(enc ? enc : "gpt2", &e);
	if (!tok)
		die_err(&e);
	McExample *ex;
	size_t n, all;
	if (mc_read(path, tok, &ex, &all, &e))
		die_err(&e);
	n = all;
	if (limit > 0 && (size_t)limit < n)
		n = (size_t)limit;
	if (n == 0)
		die("%s: no examples", io_display_name(path));
	size_t acc = 0, acc_norm = 0;
	if (json)
		printf("{\"task\": \"hellaswag\", \"norm\": \"%s\", \"examples\": [", harness ? "harness" : "llm.c");
	for (size_t i = 0; i < n; i++) {
		McResult r;
		if (mc_score(m, &ex[i], &r, &e))
			die("%s: %s", io_display_name(path), e.msg);
		int pn = harness ? r.pred_harness : r.pred_norm;
		acc += r.pred == r.label;
		acc_norm += pn == r.label;
		if (verbose && json) {
			printf("%s\n  {\"index\": %d, \"label\": %d, \"pred\": %d, \"pred_norm\": %d, \"sum\": ", i ? "," : "",
			       r.index, r.label, r.pred, pn);
			json_doubles(r.sum, r.nchoices);
			printf(", \"mean\": ");
			json_doubles(r.mean, r.nchoices);
			printf(", \"chars\": [");
			for (int c = 0; c < r.nchoices; c++)
				printf("%s%d", c ? ", " : "", r.chars[c]);
			printf("]}");
		} else if (verbose) {
			printf("%d label %d pred %d pred_norm %d losses", r.index, r.label, r.pred, pn);
			for (int c = 0; c < r.nchoices; c++)
				printf(" %.4f/%.4f", r.sum[c], r.mean[c]);
			printf("\n");
		}
	}
	if (json)
		printf("%s], \"n\": %zu, \"acc\": %.9g, \"acc_norm\": %.9g}\n", verbose ? "\n" : "", n,
		       (double)acc / n, (double)acc_norm / n);
	else
		printf("hellaswag: %zu examples  acc %.4f  acc_norm %.4f%s\n", n, (double)acc / n, (double)acc_norm / n,
		       harness ? " (harness: per character)" : "");
	mc_free(ex, all);
	tok_free(tok);
	gpt2_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	gpt2_blas_init(argv); /* OMP_WAIT_POLICY, OPENBLAS_CORETYPE: see gpt2.h */
	long long T = 0, stride = 0, limit = 0;
	const char *enc = NULL, *task = NULL;
	int harness = 0, json = 0, verbose = 0, threads = 0, c;
	while ((c = opt_getopt(argc, argv, "T:e:t:n:vj:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'T': T = opt_int(optarg, "--context", 1, 1 << 20); break;
		case O_STRIDE: stride = opt_int(optarg, "--stride", 1, 1 << 20); break;
		case 'e':
		case 't': enc = optarg; break;
		case O_TASK:
			if (strcmp(optarg, "hellaswag") != 0)
				usage_error("unknown task '%s' (known: hellaswag)", optarg);
			task = optarg;
			break;
		case O_HARNESS: harness = 1; break;
		case 'n': limit = opt_int(optarg, "--limit", 1, 1LL << 40); break;
		case O_JSON: json = 1; break;
		case 'v': verbose = 1; break;
		case 'j': threads = (int)opt_int(optarg, "--threads", 1, 4096); break;
		case 'h': opt_help(usage);
		case O_VERSION: opt_version();
		}
	}
	if (optind >= argc)
		usage_error("no model given");
	if (task && argc - optind != 2)
		usage_error("--task hellaswag wants one FILE");
	if (!task && (harness || limit))
		usage_error("--harness-norm and --limit are for --task");
	gpt2_set_threads(threads ? threads : omp_get_max_threads());
	Error e;
	GPT2 m;
	if (eval_load_model(&m, argv[optind], &e))
		die_err(&e);
	if (task)
		return run_task(&m, argv[optind + 1], enc, harness, limit, json, verbose);

	int maxT = m.config.max_seq_len;
	if (T == 0)
		T = maxT;
	if (T > maxT)
		usage_error("--context %lld is longer than the model's context (%d)", T, maxT);
	if (stride == 0)
		stride = T;
	if (stride > T)
		usage_error("--stride %lld is longer than the window (%lld)", stride, T);
	LossSum sum = { 0 };
	Tokenizer *tok = NULL;
	const char *tok_label = NULL;
	int nfiles = argc - optind - 1;
	for (int f = 0; f < (nfiles ? nfiles : 1); f++) {
		const char *path = nfiles ? argv[optind + 1 + f] : "-";
		uint32_t *toks;
		size_t n;
		StreamInfo info;
		if (stream_read_all(path, &toks, &n, &info, &e))
			die_err(&e);
		if (!tok) {
			const char *name = enc ? enc : info.encoding[0] ? info.encoding : "gpt2";
			tok = tok_open(name, &e);
			if (!tok)
				die_err(&e);
			tok_label = tok_name(tok);
		} else if (!enc && info.encoding[0] && strcmp(info.encoding, tok_label) != 0) {
			die("%s: encoding %s differs from the first file's (%s)", io_display_name(path), info.encoding, tok_label);
		}
		if (eval_stream(&m, toks, n, (int)T, (int)stride, tok, &sum, &e))
			die("%s: %s", io_display_name(path), e.msg);
		free(toks);
	}
	if (sum.tokens == 0)
		die("no tokens to score (a stream needs at least 2 tokens)");
	double loss = sum.nats / sum.tokens, bpb = sum.bytes ? sum.nats / log(2.0) / sum.bytes : NAN;
	if (json)
		printf("{\"tokens\": %llu, \"loss\": %.9g, \"perplexity\": %.9g, \"bits_per_byte\": %.9g, \"bytes\": %llu, "
		       "\"encoding\": \"%s\", \"windows\": %llu, \"context\": %lld, \"stride\": %lld}\n",
		       (unsigned long long)sum.tokens, loss, exp(loss), sum.bytes ? bpb : 0.0,
		       (unsigned long long)sum.bytes, tok_label, (unsigned long long)sum.windows, T, stride);
	else
		printf("tokens %llu  loss %.6f  perplexity %.4f  bits/byte %.6f  (%llu bytes of %s, %llu windows of %lld, stride %lld)\n",
		       (unsigned long long)sum.tokens, loss, exp(loss), bpb, (unsigned long long)sum.bytes, tok_label,
		       (unsigned long long)sum.windows, T, stride);
	tok_free(tok);
	gpt2_free(&m);
	return 0;
}
