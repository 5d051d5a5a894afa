/* gpt-sample: generate tokens from a GPT-2 checkpoint.
 *   echo 'ROMEO:' | tok-encode | gpt-sample MODEL | tok-decode */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#ifdef GPTKIT_CUDA
#include "cuda_infer.h"
#include "cuda_model.h"
#endif
#include "err.h"
#include "io.h"
#include "gpt2.h"
#include "opts.h"
#include "sampler.h"
#include "stream.h"

static const char usage[] =
	"usage: gpt-sample [options] MODEL [PROMPT]\n"
	"Generate tokens from MODEL (an llm.c/gptkit checkpoint, or a Hugging Face GPT-2\n"
	"directory or .safetensors file), continuing the token stream PROMPT (default\n"
	"stdin); the new tokens go to stdout as a token stream, one flush per token.\n"
	"  -n, --max-tokens N         tokens to generate per sample (default 256)\n"
	"  -t, --temperature T        0 = greedy (default 1.0)\n"
	"  -k, --top-k K              keep the K most likely tokens (default 0 = all)\n"
	"  -p, --top-p P              keep the smallest set with probability >= P (default 1)\n"
	"      --min-p P              drop tokens below P times the most likely (default 0)\n"
	"      --repetition-penalty R penalise tokens already in the context (default 1)\n"
	"  -s, --seed N               random seed: same seed, same output (default: from the clock)\n"
	"      --num-samples N        N samples, separated by the end-of-text token (default 1)\n"
	"      --stop TOKENS          comma-separated token ids that end a sample\n"
	"      --ignore-eot           do not stop at the end-of-text token\n"
	"      --eot ID               the end-of-text token (default: the prompt stream's;\n"
	"                             50256 for a 50257-token model)\n"
	"      --no-prompt            start from the end-of-text token without reading input\n"
	"      --truncate-prompt      keep the end of a prompt longer than the context\n"
	"      --echo                 write the prompt before the new tokens\n"
	"      --dtype fp32|bf16      weights in memory (default fp32)\n"
	"      --device D             cpu, cuda or auto: the GPU when there is one (default auto)\n"
	"  -j, --threads N            threads (default: OMP_NUM_THREADS or all cores)\n"
	"      --stats                timings on stderr\n"
	"  -f, --force                write binary tokens even to a terminal\n"
	"  -h, --help                 this help\n"
	"      --version              the version\n";

enum { O_MINP = 256, O_REP, O_NSAMP, O_STOP, O_IGNEOT, O_EOT, O_NOPROMPT, O_TRUNC, O_ECHO, O_DTYPE,
       O_DEVICE, O_STATS, O_VERSION };

static const struct option longopts[] = {
	{ "max-tokens", required_argument, NULL, 'n' },
	{ "temperature", required_argument, NULL, 't' },
	{ "top-k", required_argument, NULL, 'k' },
	{ "top-p", required_argument, NULL, 'p' },
	{ "min-p", required_argument, NULL, O_MINP },
	{ "repetition-penalty", required_argument, NULL, O_REP },
	{ "seed", required_argument, NULL, 's' },
	{ "num-samples", required_argument, NULL, O_NSAMP },
	{ "stop", required_argument, NULL, O_STOP },
	{ "ignore-eot", no_argument, NULL, O_IGNEOT },
	{ "eot", required_argument, NULL, O_EOT },
	{ "no-prompt", no_argument, NULL, O_NOPROMPT },
	{ "truncate-prompt", no_argument, NULL, O_TRUNC },
	{ "echo", no_argument, NULL, O_ECHO },
	{ "dtype", required_argument, NULL, O_DTYPE },
	{ "device", required_argument, NULL, O_DEVICE },
	{ "threads", required_argument, NULL, 'j' },
	{ "stats", no_argument, NULL, O_STATS },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Read the prompt; empty input (no bytes at all) is an empty prompt. */
static int read_prompt(const char *path, uint32_t **tok, size_t *n, StreamInfo *info, Error *e)
{
	if (path && strcmp(path, "-") != 0)
		return stream_read_all(path, tok, n, info, e);
	uint8_t *buf;
	size_t len;
	if (io_read_all("-", &buf, &len, e))
		return -1;
	if (len == 0) {
		free(buf);
		*tok = NULL;
		*n = 0;
		memset(info, 0, sizeof *info);
		info->eot = -1;
		return 0;
	}
	int fd = memfd_create("prompt", MFD_CLOEXEC);
	if (fd < 0 || io_write_full(fd, buf, len, e, "<stdin>") || lseek(fd, 0, SEEK_SET) != 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return fd < 0 ? err_errno(e, "memfd_create") : -1;
	}
	free(buf);
	TokenReader r;
	if (stream_open_fd(&r, fd, "<stdin>", e)) {
		close(fd);
		return -1;
	}
	*info = r.info;
	size_t cap = 1024, got = 0;
	uint32_t *t = malloc(cap * sizeof *t);
	long long k;
	while (t && (k = stream_read(&r, t + got, cap - got, e)) > 0) {
		got += (size_t)k;
		if (got == cap) {
			uint32_t *nt = realloc(t, (cap *= 2) * sizeof *t);
			if (!nt) {
				free(t);
				t = NULL;
			}
			t = nt;
		}
	}
	stream_close(&r);
	close(fd);
	if (!t)
		return err_set(e, "out of memory for the prompt");
	if (k < 0) {
		free(t);
		return -1;
	}
	*tok = t;
	*n = got;
	return 0;
}

static int parse_stop(const char *s, int **out, int *n)
{
	int cap = 8;
	*out = malloc(cap * sizeof **out);
	*n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > 0x7fffffff || (*end && *end != ','))
			return -1;
		if (*n == cap)
			*out = realloc(*out, (cap *= 2) * sizeof **out);
		(*out)[(*n)++] = (int)v;
		p = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

/* The forward pass on either device: the CPU engine, or the CUDA one when
 * gpu is set.  logits points at the last position's logits (V floats). */
typedef struct {
	Engine cpu;
	int on_cpu;
	Model cpu_model; /* the weights in the dtype asked for, when a GPU failed to open */
	int own_model;
#ifdef GPTKIT_CUDA
	CudaInfer *gpu;
#endif
	const float *logits;
} Runner;

enum { DEV_CPU, DEV_CUDA, DEV_AUTO };

/* Whether the model goes to a GPU: decided before it is loaded, so that a
 * machine without one (the normal case for auto) loads the weights once,
 * in the dtype asked for. */
static int wants_gpu(int device)
{
#ifdef GPTKIT_CUDA
	char why[256];
	return device == DEV_CUDA || (device == DEV_AUTO && cuda_device_count(why, sizeof why) > 0);
#else
	(void)device;
	return 0;
#endif
}

/* Open the runner: on the GPU when gpu is set (m then holds fp32 weights),
 * else, or when auto finds the GPU unusable, on the CPU. */
static int runner_open(Runner *r, const Model *m, int gpu, int device, ModelDtype dtype, Error *e)
{
	memset(r, 0, sizeof *r);
#ifdef GPTKIT_CUDA
	if (gpu) {
		char why[256];
		/* the model was loaded as fp32 for the GPU: m->w.wte starts the
		 * contiguous parameter block (gpt2_params_point) */
		r->gpu = cuda_infer_open(&m->config, m->w.wte, dtype == MODEL_BF16 ? CUDA_INFER_BF16 : CUDA_INFER_FP32,
					 256, why, sizeof why);
		if (r->gpu)
			return 0;
		if (device == DEV_CUDA)
			return err_set(e, "--device cuda: %s", why);
	}
#else
	(void)gpu;
	if (device == DEV_CUDA)
		return err_set(e, "--device cuda: built without CUDA");
#endif
	if (m->dtype != dtype) { /* fp32 weights loaded for a GPU that did not open */
		if (model_from_params(&r->cpu_model, &m->config, m->w.wte, dtype, e))
			return -1;
		r->own_model = 1;
		m = &r->cpu_model;
	}
	r->on_cpu = 1;
	return engine_init(&r->cpu, m, 256, e);
}

static void runner_forward(Runner *r, const int *tokens, int n)
{
#ifdef GPTKIT_CUDA
	if (r->gpu) {
		r->logits = cuda_infer_forward(r->gpu, tokens, n, NULL);
		if (!r->logits)
			die("cuda: %s", cuda_infer_error(r->gpu));
		return;
	}
#endif
	engine_forward(&r->cpu, tokens, n, NULL);
	r->logits = r->cpu.logits;
}

static void runner_rewind(Runner *r, int pos)
{
#ifdef GPTKIT_CUDA
	if (r->gpu) {
		cuda_infer_rewind(r->gpu, pos);
		return;
	}
#endif
	engine_rewind(&r->cpu, pos);
}

static const char *runner_kernels(const Runner *r)
{
	return r->on_cpu ? kern_name(r->cpu.kern) : "cuda";
}

static void runner_close(Runner *r)
{
#ifdef GPTKIT_CUDA
	if (r->gpu)
		cuda_infer_close(r->gpu);
#endif
	if (r->on_cpu)
		engine_free(&r->cpu);
	if (r->own_model)
		model_free(&r->cpu_model);
}

int main(int argc, char **argv)
{
	gpt2_blas_init(argv); /* OMP_WAIT_POLICY, OPENBLAS_CORETYPE: see gpt2.h */
	long long max_tokens = 256, nsamples = 1, eot_opt = -2;
	SamplerParams sp = { .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
			     .repetition_penalty = 1.0f };
	uint64_t seed = 0;
	int have_seed = 0, ignore_eot = 0, no_prompt = 0, truncate = 0, echo = 0, stats = 0, force = 0;
	int threads = 0, nstop = 0, *stop = NULL;
	ModelDtype dtype = MODEL_F32;
	int device = DEV_AUTO;
	static const char *const dtypes[] = { "fp32", "bf16", NULL };
	static const char *const devices[] = { "cpu", "cuda", "auto", NULL };
	int c;
	while ((c = opt_getopt(argc, argv, "n:t:k:p:s:j:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': max_tokens = opt_int(optarg, "--max-tokens", 0, 1LL << 40); break;
		case 't': sp.temperature = (float)opt_double(optarg, "--temperature", 0, 1e6); break;
		case 'k': sp.top_k = (int)opt_int(optarg, "--top-k", 0, 1 << 30); break;
		case 'p': sp.top_p = (float)opt_double(optarg, "--top-p", 1e-9, 1); break;
		case O_MINP: sp.min_p = (float)opt_double(optarg, "--min-p", 0, 1); break;
		case O_REP: sp.repetition_penalty = (float)opt_double(optarg, "--repetition-penalty", 1e-6, 1e6); break;
		case 's': seed = (uint64_t)opt_int(optarg, "--seed", 0, (1ULL << 63) - 1); have_seed = 1; break;
		case O_NSAMP: nsamples = opt_int(optarg, "--num-samples", 1, 1 << 30); break;
		case O_STOP:
			free(stop);
			if (parse_stop(optarg, &stop, &nstop))
				usage_error("--stop wants comma-separated token ids, not '%s'", optarg);
			break;
		case O_IGNEOT: ignore_eot = 1; break;
		case O_EOT: eot_opt = opt_int(optarg, "--eot", -1, 0x7fffffff); break;
		case O_NOPROMPT: no_prompt = 1; break;
		case O_TRUNC: truncate = 1; break;
		case O_ECHO: echo = 1; break;
		case O_DTYPE: dtype = opt_choice(optarg, "--dtype", dtypes) ? MODEL_BF16 : MODEL_F32; break;
		case O_DEVICE: device = opt_choice(optarg, "--device", devices); break;
		case 'j': threads = (int)opt_int(optarg, "--threads", 1, 4096); break;
		case O_STATS: stats = 1; break;
		case 'f': force = 1; break;
		case 'h': opt_help(usage);
		case O_VERSION: opt_version();
		default: usage_error("unknown option");
		}
	}
	if (optind >= argc)
		usage_error("no model given");
	if (argc - optind > 2)
		usage_error("too many arguments");
	const char *model_path = argv[optind], *prompt_path = argc - optind == 2 ? argv[optind + 1] : NULL;
	if (no_prompt && prompt_path)
		usage_error("--no-prompt and a prompt file");
	if (!have_seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (threads)
		gpt2_set_threads(threads);
	else
		gpt2_set_threads(omp_get_max_threads());

	Error e;
	if (stream_check_terminal(1, force, &e))
		die_err(&e);
	uint32_t *prompt = NULL;
	size_t np = 0;
	StreamInfo info = { .eot = -1 };
	if (!no_prompt && read_prompt(prompt_path, &prompt, &np, &info, &e))
		die_err(&e);

#ifndef GPTKIT_CUDA
	if (device == DEV_CUDA) /* before anything is read */
		die("--device cuda: built without CUDA");
#endif
	Model m;
	double t0 = io_now();
	/* the GPU takes fp32 weights and rounds them itself */
	int gpu = wants_gpu(device);
	if (model_load(&m, model_path, gpu ? MODEL_F32 : dtype, &e))
		die_err(&e);
	const GPT2Config *cfg = &m.config;
	int V = cfg->vocab_size, maxT = cfg->max_seq_len;
	if (info.n_vocab && (int)info.n_vocab > V)
		die("%s: the prompt's vocabulary (%u tokens) is larger than the model's (%d)",
		    io_display_name(prompt_path), info.n_vocab, V);
	for (size_t i = 0; i < np; i++)
		if ((int)prompt[i] >= V)
			die("%s: token %u at position %zu is outside the model's vocabulary (%d)",
			    io_display_name(prompt_path), prompt[i], i, V);
	int eot = eot_opt >= -1 ? (int)eot_opt : info.eot >= 0 ? info.eot : V == 50257 ? 50256 : -1;
	if (eot >= V)
		die("end-of-text token %d is outside the model's vocabulary (%d)", eot, V);
	if (np == 0) {
		if (eot < 0)
			die("no prompt and no end-of-text token to start from; give --eot ID");
		prompt = realloc(prompt, sizeof *prompt);
		prompt[0] = (uint32_t)eot;
		np = 1;
		echo = 0;
	}
	size_t skip = 0;
	if (np > (size_t)maxT) {
		if (!truncate)
			die("%s: the prompt has %zu tokens, more than the model's context (%d); use --truncate-prompt",
			    io_display_name(prompt_path), np, maxT);
		skip = np - maxT;
	}
	Runner s;
	if (runner_open(&s, &m, gpu, device, dtype, &e))
		die_err(&e);
	Sampler smp;
	if (sampler_init(&smp, &sp, V, seed, &e))
		die_err(&e);

	TokenWriter w;
	const char *enc = info.encoding[0] ? info.encoding : V == 50257 ? "gpt2" : "";
	uint32_t out_vocab = info.n_vocab ? info.n_vocab : (uint32_t)V;
	if (stream_writer_open(&w, 1, "<stdout>", out_vocab, eot, enc, &e))
		die_err(&e);
	if (echo && (stream_write(&w, prompt, np, &e) || stream_flush(&w, &e)))
		die_err(&e);

	int *ctx = malloc((size_t)maxT * sizeof *ctx);
	float *logits0 = malloc((size_t)V * sizeof *logits0), *logits = malloc((size_t)V * sizeof *logits);
	if (!ctx || !logits0 || !logits)
		die("out of memory");
	int n0 = (int)(np - skip);
	for (int i = 0; i < n0; i++)
		ctx[i] = (int)prompt[skip + i];
	double t1 = io_now();
	runner_forward(&s, ctx, n0);
	double t2 = io_now(), tdec = 0;
	long long ndec = 0, slides = 0;
	memcpy(logits0, s.logits, (size_t)V * sizeof *logits0);

	for (long long k = 0; k < nsamples; k++) {
		int n = n0;
		if (k > 0) {
			uint32_t sep = (uint32_t)eot;
			if (eot >= 0 && (stream_write(&w, &sep, 1, &e) || stream_flush(&w, &e)))
				die_err(&e);
			for (int i = 0; i < n0; i++)
				ctx[i] = (int)prompt[skip + i];
			runner_rewind(&s, n0);
		}
		memcpy(logits, logits0, (size_t)V * sizeof *logits);
		for (long long g = 0; g < max_tokens; g++) {
			/* never a token the prompt's vocabulary cannot decode */
			for (int i = (int)out_vocab; i < V; i++)
				logits[i] = -INFINITY;
			int next = sampler_next(&smp, logits, ctx, n);
			int stop_here = !ignore_eot && next == eot;
			for (int i = 0; i < nstop; i++)
				stop_here |= next == stop[i];
			if (stop_here)
				break;
			uint32_t u = (uint32_t)next;
			if (stream_write(&w, &u, 1, &e) || stream_flush(&w, &e))
				die_err(&e);
			if (g + 1 == max_tokens)
				break;
			double a = io_now();
			if (n == maxT) {
				/* The window is full: keep its second half and recompute it
				 * (GPT-2's positions are absolute, so the cache cannot shift). */
				int keep = maxT / 2;
				memmove(ctx, ctx + n - (keep - 1), (size_t)(keep - 1) * sizeof *ctx);
				ctx[keep - 1] = next;
				n = keep;
				runner_rewind(&s, 0);
				runner_forward(&s, ctx, n);
				slides++;
			} else {
				ctx[n++] = next;
				runner_forward(&s, &next, 1);
			}
			tdec += io_now() - a;
			ndec++;
			memcpy(logits, s.logits, (size_t)V * sizeof *logits);
		}
	}
	if (stream_writer_close(&w, &e))
		die_err(&e);
	if (stats)
		fprintf(stderr,
			"gpt-sample: load %.3f s; prompt %d tokens in %.3f s (%.1f tokens/s); "
			"%lld decode steps in %.3f s (%.2f tokens/s); %lld window slides; %s weights, %s kernels, %d threads\n",
			t1 - t0, n0, t2 - t1, n0 / (t2 - t1 > 0 ? t2 - t1 : 1e-9), ndec, tdec,
			ndec / (tdec > 0 ? tdec : 1e-9), slides, dtype == MODEL_BF16 ? "bf16" : "fp32",
			runner_kernels(&s), omp_get_max_threads());
	free(ctx);
	free(logits);
	free(logits0);
	free(prompt);
	free(stop);
	sampler_free(&smp);
	runner_close(&s);
	model_free(&m);
	return 0;
}
