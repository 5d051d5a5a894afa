/* Checkpoints and training state files: round trips (fp32, bf16, mmap),
 * bf16 rounding, and an error naming the file and the field or offset for
 * every kind of damage. */
#include "checkpoint.h"
#include "state.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_ckpt.XXXXXX";
static char path[512];

static const GPT2Config cfg = { .max_seq_len = 8, .vocab_size = 100, .padded_vocab_size = 128,
				.num_layers = 2, .num_heads = 2, .channels = 8 };

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	uint8_t *b = malloc(*len + 1);
	if (fread(b, 1, *len, f) != *len)
		*len = 0;
	fclose(f);
	return b;
}

static void spit(const char *p, const uint8_t *b, size_t len)
{
	FILE *f = fopen(p, "wb");
	fwrite(b, 1, len, f);
	fclose(f);
}

/* Load a damaged copy; the error must contain want. */
static void expect_error(const uint8_t *good, size_t len, size_t cut, int word, int32_t value,
			 const char *want, const char *name)
{
	uint8_t *b = malloc(len);
	memcpy(b, good, len);
	if (word >= 0)
		memcpy(b + 4 * word, &value, 4);
	char p[600];
	snprintf(p, sizeof p, "%s/bad.bin", dir);
	spit(p, b, cut);
	GPT2Config c;
	float *params = NULL;
	int v;
	Error e = { "" };
	int rc = ckpt_load(p, &c, &params, &v, &e);
	int named = strstr(e.msg, p) != NULL && strstr(e.msg, want) != NULL;
	if (rc == 0 || !named)
		printf("# got: %s\n", rc ? e.msg : "(loaded)");
	CHECK(rc != 0 && named, name);
	/* the in-memory parser agrees */
	Error e2 = { "" };
	float *p2 = NULL;
	CHECK(ckpt_load_mem(b, cut, p, &c, &p2, &v, &e2) != 0 && strcmp(e.msg, e2.msg) == 0, name);
	free(params);
	free(p2);
	free(b);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	size_t n = gpt2_num_params(&cfg);
	float *p = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		p[i] = sinf((float)i) * 0.37f;
	Error e;

	/* fp32 round trip, and no temporary file left behind */
	snprintf(path, sizeof path, "%s/m3.bin", dir);
	CHECK(ckpt_write(path, &cfg, p, CKPT_V_FP32, &e) == 0, "write fp32");
	GPT2Config c;
	float *q = NULL;
	int v = 0;
	CHECK(ckpt_load(path, &c, &q, &v, &e) == 0 && v == 3 && memcmp(&c, &cfg, sizeof c) == 0 &&
	      memcmp(p, q, n * sizeof(float)) == 0, "fp32 round trip is exact");
	free(q);
	size_t len;
	uint8_t *good = slurp(path, &len);
	CHECK(len == ckpt_file_size(&cfg, 3), "fp32 file size");
	int32_t hdr[8];
	memcpy(hdr, good, sizeof hdr);
	CHECK(hdr[0] == 20240326 && hdr[1] == 3 && hdr[2] == 8 && hdr[3] == 100 && hdr[4] == 2 &&
	      hdr[5] == 2 && hdr[6] == 8 && hdr[7] == 128, "llm.c header layout");
	char cmd[700];
	snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
	CHECK(system(cmd) != 0, "no temporary file after a write");

	/* mmap view */
	CkptMap map;
	CHECK(ckpt_map(&map, path, &e) == 0 && map.params_f32 && !map.params_bf16 &&
	      memcmp(map.params_f32, p, n * 4) == 0, "mmap view of fp32");
	ckpt_unmap(&map);

	/* bf16 */
	CHECK(ckpt_f32_to_bf16(1.0f) == 0x3f80, "bf16 of 1");
	union { uint32_t u; float f; } x = { .u = 0x3f808000u }; /* halfway, even below */
	CHECK(ckpt_f32_to_bf16(x.f) == 0x3f80, "bf16 ties to even (down)");
	x.u = 0x3f818000u;
	CHECK(ckpt_f32_to_bf16(x.f) == 0x3f82, "bf16 ties to even (up)");
	x.u = 0x3f808001u;
	CHECK(ckpt_f32_to_bf16(x.f) == 0x3f81, "bf16 above half rounds up");
	CHECK(isnan(ckpt_bf16_to_f32(ckpt_f32_to_bf16(NAN))), "bf16 keeps NaN");
	snprintf(path, sizeof path, "%s/m5.bin", dir);
	CHECK(ckpt_write(path, &cfg, p, CKPT_V_BF16, &e) == 0, "write bf16");
	int same = 1;
	if (ckpt_load(path, &c, &q, &v, &e) == 0 && v == 5) {
		for (size_t i = 0; i < n; i++)
			same &= q[i] == ckpt_bf16_to_f32(ckpt_f32_to_bf16(p[i]));
		free(q);
	} else {
		same = 0;
	}
	CHECK(same, "bf16 round trip gives the rounded values");
	CHECK(ckpt_map(&map, path, &e) == 0 && map.params_bf16 && !map.params_f32 &&
	      map.params_bf16[5] == ckpt_f32_to_bf16(p[5]), "mmap view of bf16");
	ckpt_unmap(&map);

	/* damage, each named */
	expect_error(good, len, len, 0, 12345, "bad magic 12345 at offset 0", "bad magic");
	expect_error(good, len, len, 1, 4, "version 4 at offset 4", "bad version");
	expect_error(good, len, len, 2, 0, "maxT 0 at offset 8", "zero context");
	expect_error(good, len, len, 4, -3, "layers -3 at offset 16", "negative layers");
	expect_error(good, len, len, 5, 3, "not divisible by the 3 heads", "C not divisible by NH");
	expect_error(good, len, len, 7, 0, "padded vocab size 0 at offset 28", "zero Vp");
	expect_error(good, len, len, 3, 200, "smaller than the vocab size 200", "Vp < V");
	expect_error(good, len, len, 7, 130, "not a multiple of 128", "Vp not a multiple of 128");
	expect_error(good, len, 1000, -1, 0, "truncated header: 1000 bytes", "truncated header");
	expect_error(good, len, len - 4, -1, 0, "truncated", "truncated parameters");
	expect_error(good, len, 1024, -1, 0, "truncated", "header only");
	uint8_t *longer = malloc(len + 8);
	memcpy(longer, good, len);
	memset(longer + len, 0, 8);
	expect_error(longer, len + 8, len + 8, -1, 0, "8 extra bytes", "extra bytes");
	float inf = INFINITY;
	memcpy(longer + 1024 + 4 * 10, &inf, 4);
	expect_error(longer, len, len, -1, 0, "parameter 10 at offset 1064 is not a finite", "infinite parameter");
	free(longer);
	snprintf(path, sizeof path, "%s/none/m.bin", dir);
	CHECK(ckpt_write(path, &cfg, p, CKPT_V_FP32, &e) != 0 && strstr(e.msg, "none/m.bin"), "write into a missing directory fails");
	CHECK(ckpt_load(path, &c, &q, &v, &e) != 0 && strstr(e.msg, "none/m.bin"), "a missing file is named");

	/* training state */
	TrainState s = { .config = cfg, .step = 7, .total_steps = 10, .data_pos = 99, .epoch = 1, .rng = 42,
			 .data_tokens = 1000, .data_hash = 0x1234, .seed = 5, .B = 2, .T = 4, .batch_tokens = 16,
			 .warmup = 3, .schedule = 1, .lr = 1e-3f, .final_lr_frac = 0.1f, .weight_decay = 0.1f,
			 .clip = 1.0f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f };
	float *m = malloc(n * 4), *vv = malloc(n * 4), *m2 = malloc(n * 4), *v2 = malloc(n * 4);
	for (size_t i = 0; i < n; i++) {
		m[i] = p[i] * 0.5f;
		vv[i] = p[i] * p[i];
	}
	snprintf(path, sizeof path, "%s/state.bin", dir);
	CHECK(state_write(path, &s, m, vv, n, &e) == 0, "write state");
	TrainState r;
	CHECK(state_read(path, &r, m2, v2, &e) == 0 && r.step == 7 && r.data_pos == 99 && r.rng == 42 &&
	      r.lr == 1e-3f && r.schedule == 1 && r.batch_tokens == 16 && memcmp(&r.config, &cfg, sizeof cfg) == 0 &&
	      memcmp(m, m2, n * 4) == 0 && memcmp(vv, v2, n * 4) == 0, "state round trip");
	uint8_t *sb = slurp(path, &len);
	spit(path, sb, len - 1);
	CHECK(state_read(path, &r, m2, v2, &e) != 0 && strstr(e.msg, "truncated"), "truncated state");
	int32_t bad = 99;
	memcpy(sb + 32, &bad, 4);
	memcpy(sb + 40, &(int64_t){ 10 }, 8);
	spit(path, sb, len);
	CHECK(state_read(path, &r, m2, v2, &e) != 0 && strstr(e.msg, "offset 32"), "step past the total");
	memcpy(sb, &bad, 4);
	spit(path, sb, len);
	CHECK(state_read(path, &r, m2, v2, &e) != 0 && strstr(e.msg, "bad magic 99 at offset 0"), "state bad magic");

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	free(p); free(good); free(sb); free(m); free(vv); free(m2); free(v2);
	return test_done();
}
