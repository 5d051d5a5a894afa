/* gpt-convert: GPT-2 weights between Hugging Face (config.json +
 * model.safetensors) and llm.c/gptkit checkpoints, in either direction. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "err.h"
#include "hf.h"
#include "opts.h"

static const char usage[] =
	"usage: gpt-convert [options] IN OUT\n"
	"Convert GPT-2 weights.  The direction follows IN:\n"
	"  IN a Hugging Face model (a directory with config.json and model.safetensors,\n"
	"     or a .safetensors file with config.json beside it): OUT is a checkpoint\n"
	"  IN a checkpoint (llm.c/gptkit, version 3 or 5): OUT is a directory that\n"
	"     GPT2LMHeadModel.from_pretrained() loads\n"
	"  -d, --dtype TYPE   checkpoint: fp32 (version 3, default) or bf16 (version 5);\n"
	"                     Hugging Face: fp32 (default), fp16 or bf16\n"
	"  -q, --quiet        say nothing on success\n"
	"  -h, --help         this help\n"
	"      --version      the version\n";

static const struct option longopts[] = {
	{ "dtype", required_argument, NULL, 'd' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const char *const dtypes[] = { "fp32", "fp16", "bf16", NULL };
	int dtype = 0, quiet = 0, c;
	while ((c = opt_getopt(argc, argv, "d:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dtype = opt_choice(optarg, "--dtype", dtypes); break;
		case 'q': quiet = 1; break;
		case 'h': opt_help(usage);
		case 'V': opt_version();
		default: usage_error("unknown option");
		}
	}
	if (argc - optind != 2)
		usage_error(argc - optind < 2 ? "IN and OUT are needed" : "too many arguments");
	const char *in = argv[optind], *out = argv[optind + 1];
	Error e;
	GPT2Config cfg;
	float *params;
	if (hf_is_model_path(in)) {
		if (dtype == 1)
			usage_error("a checkpoint holds fp32 or bf16, not fp16");
		if (hf_load(in, &cfg, &params, &e))
			die_err(&e);
		int version = dtype == 2 ? CKPT_V_BF16 : CKPT_V_FP32;
		if (ckpt_write(out, &cfg, params, version, &e))
			die_err(&e);
		if (!quiet)
			fprintf(stderr, "gpt-convert: %s -> %s (checkpoint v%d: L=%d H=%d C=%d T=%d V=%d padded to %d)\n",
				in, out, version, cfg.num_layers, cfg.num_heads, cfg.channels, cfg.max_seq_len,
				cfg.vocab_size, cfg.padded_vocab_size);
	} else {
		int version;
		if (ckpt_load(in, &cfg, &params, &version, &e))
			die_err(&e);
		StDtype st = dtype == 0 ? ST_F32 : dtype == 1 ? ST_F16 : ST_BF16;
		if (hf_save(out, &cfg, params, st, &e))
			die_err(&e);
		if (!quiet)
			fprintf(stderr, "gpt-convert: %s -> %s/ (Hugging Face %s: L=%d H=%d C=%d T=%d V=%d)\n", in, out,
				st_dtype_name(st), cfg.num_layers, cfg.num_heads, cfg.channels, cfg.max_seq_len,
				cfg.vocab_size);
	}
	free(params);
	return 0;
}
