/* The training state file: see state.h and gpt-checkpoint(5). */
#include "state.h"
#include "checkpoint.h"
#include "io.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Field offsets in the 1024-byte header (all little-endian). */
enum {
	O_MAGIC = 0, O_VERSION = 4, O_CONFIG = 8, /* 6 int32: maxT V L NH C Vp */
	O_STEP = 32, O_TOTAL = 40, O_DATA_POS = 48, O_EPOCH = 56, O_RNG = 64,
	O_DATA_TOKENS = 72, O_DATA_HASH = 80, O_SEED = 88, O_B = 96, O_T = 100,
	O_BATCH_TOKENS = 104, O_WARMUP = 112, O_SCHEDULE = 120, O_LR = 124,
	O_FINAL_LR = 128, O_WD = 132, O_CLIP = 136, O_BETA1 = 140, O_BETA2 = 144, O_EPS = 148,
};

#define PUT(off, v) do { __typeof__(v) x_ = (v); memcpy(h + (off), &x_, sizeof x_); } while (0)
#define GET(off, v) memcpy(&(v), h + (off), sizeof(v))

int state_write(const char *path, const TrainState *s, const float *m, const float *v, size_t n,
		Error *e)
{
	uint8_t h[STATE_HEADER_BYTES] = { 0 };
	PUT(O_MAGIC, (int32_t)STATE_MAGIC);
	PUT(O_VERSION, (int32_t)STATE_VERSION);
	int32_t cfg[6] = { s->config.max_seq_len, s->config.vocab_size, s->config.num_layers,
			   s->config.num_heads, s->config.channels, s->config.padded_vocab_size };
	memcpy(h + O_CONFIG, cfg, sizeof cfg);
	PUT(O_STEP, s->step);
	PUT(O_TOTAL, s->total_steps);
	PUT(O_DATA_POS, s->data_pos);
	PUT(O_EPOCH, s->epoch);
	PUT(O_RNG, s->rng);
	PUT(O_DATA_TOKENS, s->data_tokens);
	PUT(O_DATA_HASH, s->data_hash);
	PUT(O_SEED, s->seed);
	PUT(O_B, s->B);
	PUT(O_T, s->T);
	PUT(O_BATCH_TOKENS, s->batch_tokens);
	PUT(O_WARMUP, s->warmup);
	PUT(O_SCHEDULE, s->schedule);
	PUT(O_LR, s->lr);
	PUT(O_FINAL_LR, s->final_lr_frac);
	PUT(O_WD, s->weight_decay);
	PUT(O_CLIP, s->clip);
	PUT(O_BETA1, s->beta1);
	PUT(O_BETA2, s->beta2);
	PUT(O_EPS, s->eps);
	AtomicFile af;
	if (atomic_open(&af, path, e))
		return -1;
	if (fwrite(h, sizeof h, 1, af.fp) != 1 || fwrite(m, sizeof(float), n, af.fp) != n ||
	    fwrite(v, sizeof(float), n, af.fp) != n) {
		err_errno(e, "%s: write", path);
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, e);
}

int state_parse(const uint8_t h[STATE_HEADER_BYTES], TrainState *s, const char *name, Error *e)
{
	int32_t magic, version, cfg[6];
	GET(O_MAGIC, magic);
	GET(O_VERSION, version);
	if (magic != STATE_MAGIC)
		return err_set(e, "%s: bad magic %d at offset 0 (not a gpt-train state file, want %d)",
			       name, magic, STATE_MAGIC);
	if (version != STATE_VERSION)
		return err_set(e, "%s: unsupported version %d at offset 4 (want %d)", name, version, STATE_VERSION);
	memcpy(cfg, h + O_CONFIG, sizeof cfg);
	/* reuse the checkpoint header's shape checks */
	int32_t ch[CKPT_HEADER_INTS] = { CKPT_MAGIC, CKPT_V_FP32, cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5] };
	int ver;
	Error e2;
	if (ckpt_parse_header(ch, &s->config, &ver, name, &e2))
		return err_set(e, "%s (model shape at offset 8)", e2.msg);
	GET(O_STEP, s->step);
	GET(O_TOTAL, s->total_steps);
	GET(O_DATA_POS, s->data_pos);
	GET(O_EPOCH, s->epoch);
	GET(O_RNG, s->rng);
	GET(O_DATA_TOKENS, s->data_tokens);
	GET(O_DATA_HASH, s->data_hash);
	GET(O_SEED, s->seed);
	GET(O_B, s->B);
	GET(O_T, s->T);
	GET(O_BATCH_TOKENS, s->batch_tokens);
	GET(O_WARMUP, s->warmup);
	GET(O_SCHEDULE, s->schedule);
	GET(O_LR, s->lr);
	GET(O_FINAL_LR, s->final_lr_frac);
	GET(O_WD, s->weight_decay);
	GET(O_CLIP, s->clip);
	GET(O_BETA1, s->beta1);
	GET(O_BETA2, s->beta2);
	GET(O_EPS, s->eps);
	if (s->step < 0 || s->total_steps < s->step)
		return err_set(e, "%s: step %lld at offset %d is outside 0..%lld", name,
			       (long long)s->step, O_STEP, (long long)s->total_steps);
	if (s->B <= 0 || s->T <= 0 || s->T > s->config.max_seq_len)
		return err_set(e, "%s: batch %d x %d at offset %d does not fit the model", name, s->B, s->T, O_B);
	if (s->batch_tokens <= 0 || s->batch_tokens % ((int64_t)s->B * s->T))
		return err_set(e, "%s: batch tokens %lld at offset %d are not a multiple of %d x %d", name,
			       (long long)s->batch_tokens, O_BATCH_TOKENS, s->B, s->T);
	if (s->schedule < 0 || s->schedule > 2)
		return err_set(e, "%s: LR schedule %d at offset %d is unknown", name, s->schedule, O_SCHEDULE);
	if (s->data_pos > s->data_tokens)
		return err_set(e, "%s: data position %llu at offset %d is beyond the %llu training tokens", name,
			       (unsigned long long)s->data_pos, O_DATA_POS, (unsigned long long)s->data_tokens);
	float f[] = { s->lr, s->final_lr_frac, s->weight_decay, s->clip, s->beta1, s->beta2, s->eps };
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (!isfinite(f[i]) || f[i] < 0)
			return err_set(e, "%s: optimizer setting at offset %zu is not a non-negative number",
				       name, O_LR + 4 * i);
	return 0;
}

int state_read(const char *path, TrainState *s, float *m, float *v, Error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	uint8_t h[STATE_HEADER_BYTES];
	struct stat st;
	int rc = -1;
	if (fstat(fd, &st) != 0) {
		err_errno(e, "%s", path);
		goto out;
	}
	long long got = io_read_full(fd, h, sizeof h, e, path);
	if (got < 0)
		goto out;
	if (got < (long long)sizeof h) {
		err_set(e, "%s: truncated header: %lld bytes, want %d", path, got, STATE_HEADER_BYTES);
		goto out;
	}
	if (state_parse(h, s, path, e))
		goto out;
	size_t n = gpt2_num_params(&s->config);
	uint64_t want = STATE_HEADER_BYTES + (uint64_t)n * 8;
	if ((uint64_t)st.st_size != want) {
		err_set(e, "%s: %s: %llu bytes, the model's moments need %llu", path,
			(uint64_t)st.st_size < want ? "truncated" : "size mismatch",
			(unsigned long long)st.st_size, (unsigned long long)want);
		goto out;
	}
	if (m && v) {
		if (io_read_full(fd, m, n * 4, e, path) != (long long)(n * 4) ||
		    io_read_full(fd, v, n * 4, e, path) != (long long)(n * 4)) {
			err_set(e, "%s: truncated while reading the moments", path);
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
