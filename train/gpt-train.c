/* gpt-train: train a GPT-2 model on token streams (gpt-train(1)). */
#include "err.h"
#include "gpt2.h"
#include "opts.h"
#include "progress.h"
#include "train.h"

#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: gpt-train -o DIR [options] [FILE|GLOB|-]...\n"
	"Train a GPT-2 model on token streams (stdin when no FILE is given).\n"
	"\n"
	"Data:\n"
	"      --val FILE            validation tokens\n"
	"      --val-fraction F      hold out the last fraction F of the training tokens\n"
	"Model (default -m d12 with the data's vocabulary):\n"
	"  -m, --model NAME          d12, d24, d36 or d48 (GPT-2 124M, 350M, 774M, 1.5B)\n"
	"      --layers N --heads N --channels N --context N   any other shape\n"
	"      --init FILE           start from this checkpoint\n"
	"Optimisation:\n"
	"  -b, --batch B             sequences per micro-batch (4)\n"
	"  -t, --seq-len T           tokens per sequence (64)\n"
	"      --batch-tokens N      tokens per step; accumulates gradients when > B*T (B*T)\n"
	"      --steps N             optimizer steps (default: --epochs)\n"
	"      --epochs N            passes over the training data (1)\n"
	"      --lr X                peak learning rate (3e-4)\n"
	"      --warmup N            linear warm-up steps (0)\n"
	"      --lr-schedule S       cosine, linear or constant (cosine)\n"
	"      --final-lr-frac F     final LR as a fraction of the peak (0.1)\n"
	"      --weight-decay X      AdamW decoupled decay on weight matrices (0.1)\n"
	"      --clip X              global gradient norm clip; 0 = off (1.0)\n"
	"      --seed N              initialisation seed (1337)\n"
	"Output:\n"
	"  -o, --output DIR          checkpoints, state files and log.txt\n"
	"      --checkpoint-every N  also checkpoint every N steps (only at the end)\n"
	"      --keep N              keep the newest N checkpoints; 0 = all (2)\n"
	"      --resume              continue from the newest complete checkpoint in DIR\n"
	"      --eval-every N        validation loss every N steps (and at the end)\n"
	"      --eval-batches N      validation micro-batches per evaluation (20)\n"
	"      --sample-every N      print a sample on stderr every N steps\n"
	"      --sample-tokens N     tokens per sample (64)\n"
	"Running:\n"
	"  -j, --threads N           threads (OMP_NUM_THREADS, else all cores)\n"
	"      --device D            cpu, cuda or auto (auto)\n"
	"  -q, --quiet               no progress, evaluation or sample output\n"
	"      --progress            progress line even when stderr is not a terminal\n"
	"  -h, --help                this help\n"
	"  -V, --version             version\n";

enum {
	O_VAL = 256, O_VAL_FRAC, O_LAYERS, O_HEADS, O_CHANNELS, O_CONTEXT, O_INIT, O_BATCH_TOKENS,
	O_STEPS, O_EPOCHS, O_LR, O_WARMUP, O_SCHEDULE, O_FINAL_LR, O_WD, O_CLIP, O_SEED, O_CKPT_EVERY,
	O_KEEP, O_RESUME, O_EVAL_EVERY, O_EVAL_BATCHES, O_SAMPLE_EVERY, O_SAMPLE_TOKENS, O_DEVICE,
	O_PROGRESS,
};

static const struct option longopts[] = {
	{ "val", required_argument, 0, O_VAL },
	{ "val-fraction", required_argument, 0, O_VAL_FRAC },
	{ "model", required_argument, 0, 'm' },
	{ "layers", required_argument, 0, O_LAYERS },
	{ "heads", required_argument, 0, O_HEADS },
	{ "channels", required_argument, 0, O_CHANNELS },
	{ "context", required_argument, 0, O_CONTEXT },
	{ "init", required_argument, 0, O_INIT },
	{ "batch", required_argument, 0, 'b' },
	{ "seq-len", required_argument, 0, 't' },
	{ "batch-tokens", required_argument, 0, O_BATCH_TOKENS },
	{ "steps", required_argument, 0, O_STEPS },
	{ "epochs", required_argument, 0, O_EPOCHS },
	{ "lr", required_argument, 0, O_LR },
	{ "warmup", required_argument, 0, O_WARMUP },
	{ "lr-schedule", required_argument, 0, O_SCHEDULE },
	{ "final-lr-frac", required_argument, 0, O_FINAL_LR },
	{ "weight-decay", required_argument, 0, O_WD },
	{ "clip", required_argument, 0, O_CLIP },
	{ "seed", required_argument, 0, O_SEED },
	{ "output", required_argument, 0, 'o' },
	{ "checkpoint-every", required_argument, 0, O_CKPT_EVERY },
	{ "keep", required_argument, 0, O_KEEP },
	{ "resume", no_argument, 0, O_RESUME },
	{ "eval-every", required_argument, 0, O_EVAL_EVERY },
	{ "eval-batches", required_argument, 0, O_EVAL_BATCHES },
	{ "sample-every", required_argument, 0, O_SAMPLE_EVERY },
	{ "sample-tokens", required_argument, 0, O_SAMPLE_TOKENS },
	{ "threads", required_argument, 0, 'j' },
	{ "device", required_argument, 0, O_DEVICE },
	{ "quiet", no_argument, 0, 'q' },
	{ "progress", no_argument, 0, O_PROGRESS },
	{ "help", no_argument, 0, 'h' },
	{ "version", no_argument, 0, 'V' },
	{ 0, 0, 0, 0 },
};

/* The signal that asked us to stop (0 = none): the loop checkpoints and returns. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

int main(int argc, char **argv)
{
	static const char *const models[] = { "d12", "d24", "d36", "d48", NULL };
	static const int model_shapes[][3] = { { 12, 12, 768 }, { 24, 16, 1024 }, { 36, 20, 1280 }, { 48, 25, 1600 } };
	static const char *const schedules[] = { "cosine", "linear", "constant", NULL };
	static const char *const devices[] = { "cpu", "cuda", "auto", NULL };
	TrainOptions o = {
		.shape = { .max_seq_len = 1024, .num_layers = 12, .num_heads = 12, .channels = 768 },
		.B = 4, .T = 64, .lr = 3e-4f, .final_lr_frac = 0.1f, .weight_decay = 0.1f, .clip = 1.0f,
		.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .schedule = LR_COSINE, .seed = 1337,
		.keep = 2, .eval_batches = 20, .sample_tokens = 64, .device = DEVICE_AUTO,
		.progress_mode = PROGRESS_AUTO,
	};
	gpt2_blas_init(argv);
	int threads = 0, have_model = 0, have_dims = 0;
	int c;
	while ((c = opt_getopt(argc, argv, "m:b:t:o:j:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case O_VAL: o.val_path = optarg; break;
		case O_VAL_FRAC: o.val_fraction = opt_double(optarg, "--val-fraction", 0, 0.9); break;
		case 'm': {
			int k = opt_choice(optarg, "--model", models);
			o.shape.num_layers = model_shapes[k][0];
			o.shape.num_heads = model_shapes[k][1];
			o.shape.channels = model_shapes[k][2];
			have_model = 1;
			o.set |= SET_SHAPE;
			break;
		}
		case O_LAYERS: o.shape.num_layers = (int)opt_int(optarg, "--layers", 1, 1024); have_dims = 1; o.set |= SET_SHAPE; break;
		case O_HEADS: o.shape.num_heads = (int)opt_int(optarg, "--heads", 1, 1024); have_dims = 1; o.set |= SET_SHAPE; break;
		case O_CHANNELS: o.shape.channels = (int)opt_int(optarg, "--channels", 1, 65536); have_dims = 1; o.set |= SET_SHAPE; break;
		case O_CONTEXT: o.shape.max_seq_len = (int)opt_int(optarg, "--context", 1, 1 << 20); have_dims = 1; o.set |= SET_SHAPE; break;
		case O_INIT: o.init_path = optarg; break;
		case 'b': o.B = (int)opt_int(optarg, "-b", 1, 1 << 16); o.set |= SET_B; break;
		case 't': o.T = (int)opt_int(optarg, "-t", 1, 1 << 20); o.set |= SET_T; break;
		case O_BATCH_TOKENS: o.batch_tokens = opt_int(optarg, "--batch-tokens", 1, 1LL << 40); o.set |= SET_BATCH_TOKENS; break;
		case O_STEPS: o.steps = opt_int(optarg, "--steps", 1, 1LL << 40); break;
		case O_EPOCHS: o.epochs = (int)opt_int(optarg, "--epochs", 1, 1 << 20); break;
		case O_LR: o.lr = (float)opt_double(optarg, "--lr", 0, 10); o.set |= SET_LR; break;
		case O_WARMUP: o.warmup = opt_int(optarg, "--warmup", 0, 1LL << 40); o.set |= SET_WARMUP; break;
		case O_SCHEDULE: o.schedule = opt_choice(optarg, "--lr-schedule", schedules); o.set |= SET_SCHEDULE; break;
		case O_FINAL_LR: o.final_lr_frac = (float)opt_double(optarg, "--final-lr-frac", 0, 1); o.set |= SET_FINAL_LR; break;
		case O_WD: o.weight_decay = (float)opt_double(optarg, "--weight-decay", 0, 10); o.set |= SET_WD; break;
		case O_CLIP: o.clip = (float)opt_double(optarg, "--clip", 0, 1e9); o.set |= SET_CLIP; break;
		case O_SEED: o.seed = (uint64_t)opt_int(optarg, "--seed", 0, (1LL << 62)); o.set |= SET_SEED; break;
		case 'o': o.out_dir = optarg; break;
		case O_CKPT_EVERY: o.checkpoint_every = opt_int(optarg, "--checkpoint-every", 0, 1LL << 40); break;
		case O_KEEP: o.keep = (int)opt_int(optarg, "--keep", 0, 1 << 20); break;
		case O_RESUME: o.resume = 1; break;
		case O_EVAL_EVERY: o.eval_every = opt_int(optarg, "--eval-every", 0, 1LL << 40); break;
		case O_EVAL_BATCHES: o.eval_batches = (int)opt_int(optarg, "--eval-batches", 1, 1 << 20); break;
		case O_SAMPLE_EVERY: o.sample_every = opt_int(optarg, "--sample-every", 0, 1LL << 40); break;
		case O_SAMPLE_TOKENS: o.sample_tokens = (int)opt_int(optarg, "--sample-tokens", 1, 1 << 20); break;
		case 'j': threads = (int)opt_int(optarg, "-j", 1, 4096); break;
		case O_DEVICE: o.device = opt_choice(optarg, "--device", devices); break;
		case 'q': o.quiet = 1; break;
		case O_PROGRESS: o.progress_mode = PROGRESS_FORCE; break;
		case 'h': opt_help(usage);
		case 'V': opt_version();
		default: usage_error("unknown option");
		}
	}
	if (!o.out_dir)
		usage_error("-o DIR is required");
	if (o.init_path && (have_model || have_dims))
		usage_error("--init takes the model's shape from the checkpoint; drop -m/--layers/--heads/--channels/--context");
	if (o.val_path && o.val_fraction > 0)
		usage_error("--val and --val-fraction exclude each other");
	if (o.steps && o.epochs)
		usage_error("--steps and --epochs exclude each other");
	if (o.shape.channels % o.shape.num_heads)
		usage_error("--channels %d is not divisible by --heads %d", o.shape.channels, o.shape.num_heads);
#ifndef GPTKIT_CUDA
	if (o.device == DEVICE_CUDA) /* before anything is read or created */
		die("--device cuda: built without CUDA");
#endif
	static const char *const stdin_only[] = { "-" };
	o.inputs = optind < argc ? (const char *const *)argv + optind : stdin_only;
	o.n_inputs = optind < argc ? argc - optind : 1;
	int stdin_uses = 0;
	for (int i = 0; i < o.n_inputs; i++)
		stdin_uses += strcmp(o.inputs[i], "-") == 0;
	if (stdin_uses + (o.val_path && strcmp(o.val_path, "-") == 0) > 1)
		usage_error("stdin can be read only once");

	if (threads > 0)
		gpt2_set_threads(threads);
	else
		gpt2_set_threads(omp_get_max_threads());

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	Error e;
	int rc = train_run(&o, &stop_signal, &e);
	if (rc < 0)
		die_err(&e);
	if (rc > 0) {
		if (!o.quiet)
			warnx_("stopped by %s; checkpoint written in %s (continue with --resume)",
			       rc == SIGINT ? "SIGINT" : "SIGTERM", o.out_dir);
		return 128 + rc;
	}
	return 0;
}
