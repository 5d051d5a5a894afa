/* llm.c model checkpoints: see checkpoint.h and gpt-checkpoint(5). */
#include "checkpoint.h"
#include "io.h"
#include "mapguard.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const field_names[8] = {
	"magic", "version", "maxT", "vocab size", "layers", "heads", "channels", "padded vocab size",
};

int ckpt_parse_header(const int32_t h[CKPT_HEADER_INTS], GPT2Config *c, int *version,
		      const char *name, Error *e)
{
	if (h[0] != CKPT_MAGIC)
		return err_set(e, "%s: bad magic %d at offset 0 (not an llm.c model checkpoint, want %d)",
			       name, h[0], CKPT_MAGIC);
	if (h[1] != CKPT_V_FP32 && h[1] != CKPT_V_BF16)
		return err_set(e, "%s: unsupported version %d at offset 4 (want 3 for fp32 or 5 for bf16)",
			       name, h[1]);
	static const int limits[8] = { 0, 0, 1 << 20, 1 << 24, 1024, 1024, 1 << 16, 1 << 24 };
	for (int i = 2; i < 8; i++)
		if (h[i] <= 0 || h[i] > limits[i])
			return err_set(e, "%s: %s %d at offset %d is out of range (1..%d)",
				       name, field_names[i], h[i], 4 * i, limits[i]);
	GPT2Config cfg = {
		.max_seq_len = h[2], .vocab_size = h[3], .num_layers = h[4],
		.num_heads = h[5], .channels = h[6], .padded_vocab_size = h[7],
	};
	if (cfg.channels % cfg.num_heads)
		return err_set(e, "%s: channels %d (offset 24) are not divisible by the %d heads (offset 20)",
			       name, cfg.channels, cfg.num_heads);
	if (cfg.padded_vocab_size < cfg.vocab_size)
		return err_set(e, "%s: padded vocab size %d (offset 28) is smaller than the vocab size %d (offset 12)",
			       name, cfg.padded_vocab_size, cfg.vocab_size);
	if (cfg.padded_vocab_size % 128)
		return err_set(e, "%s: padded vocab size %d at offset 28 is not a multiple of 128",
			       name, cfg.padded_vocab_size);
	char what[600];
	snprintf(what, sizeof what, "%s", name);
	if (gpt2_config_check(&cfg, what, e))
		return -1;
	*c = cfg;
	*version = h[1];
	return 0;
}

uint64_t ckpt_file_size(const GPT2Config *c, int version)
{
	return CKPT_HEADER_BYTES + (uint64_t)gpt2_num_params(c) * (version == CKPT_V_BF16 ? 2 : 4);
}

static int check_size(const GPT2Config *c, int version, uint64_t have, const char *name, Error *e)
{
	uint64_t want = ckpt_file_size(c, version);
	if (have < want)
		return err_set(e, "%s: truncated: %llu bytes, the header's shape needs %llu (parameters end early at offset %llu)",
			       name, (unsigned long long)have, (unsigned long long)want, (unsigned long long)have);
	if (have > want)
		return err_set(e, "%s: size mismatch: %llu bytes, the header's shape needs %llu (%llu extra bytes at offset %llu)",
			       name, (unsigned long long)have, (unsigned long long)want,
			       (unsigned long long)(have - want), (unsigned long long)want);
	return 0;
}

/* Non-finite parameters would poison training; name the first one. */
static int check_finite(const float *p, size_t n, int version, const char *name, Error *e)
{
	size_t bad = n;
	#pragma omp parallel for reduction(min:bad)
	for (size_t i = 0; i < n; i++)
		if (!isfinite(p[i]) && i < bad)
			bad = i;
	if (bad < n)
		return err_set(e, "%s: parameter %zu at offset %llu is not a finite number", name, bad,
			       (unsigned long long)(CKPT_HEADER_BYTES + bad * (version == CKPT_V_BF16 ? 2 : 4)));
	return 0;
}

int ckpt_load_mem(const uint8_t *buf, size_t len, const char *name, GPT2Config *config,
		  float **params, int *version, Error *e)
{
	if (len < CKPT_HEADER_BYTES)
		return err_set(e, "%s: truncated header: %zu bytes, want %d", name, len, CKPT_HEADER_BYTES);
	int32_t h[CKPT_HEADER_INTS];
	memcpy(h, buf, sizeof h);
	GPT2Config c;
	int v;
	if (ckpt_parse_header(h, &c, &v, name, e) || check_size(&c, v, len, name, e))
		return -1;
	size_t n = gpt2_num_params(&c);
	float *p = malloc(n * sizeof(float));
	if (!p)
		return err_set(e, "%s: out of memory for %zu parameters", name, n);
	if (v == CKPT_V_FP32) {
		memcpy(p, buf + CKPT_HEADER_BYTES, n * sizeof(float));
	} else {
		for (size_t i = 0; i < n; i++) {
			uint16_t x;
			memcpy(&x, buf + CKPT_HEADER_BYTES + 2 * i, 2);
			p[i] = ckpt_bf16_to_f32(x);
		}
	}
	if (check_finite(p, n, v, name, e)) {
		free(p);
		return -1;
	}
	*config = c;
	*params = p;
	*version = v;
	return 0;
}

int ckpt_load(const char *path, GPT2Config *config, float **params, int *version, Error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		err_errno(e, "%s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a regular file", path);
	}
	int32_t h[CKPT_HEADER_INTS];
	long long got = io_read_full(fd, h, sizeof h, e, path);
	GPT2Config c;
	int v;
	float *p = NULL;
	if (got < 0)
		goto fail;
	if (got < (long long)sizeof h) {
		err_set(e, "%s: truncated header: %lld bytes, want %d", path, got, CKPT_HEADER_BYTES);
		goto fail;
	}
	if (ckpt_parse_header(h, &c, &v, path, e) || check_size(&c, v, (uint64_t)st.st_size, path, e))
		goto fail;
	size_t n = gpt2_num_params(&c);
	p = malloc(n * sizeof(float));
	if (!p) {
		err_set(e, "%s: out of memory for %zu parameters", path, n);
		goto fail;
	}
	if (v == CKPT_V_FP32) {
		got = io_read_full(fd, p, n * sizeof(float), e, path);
		if (got < 0)
			goto fail;
		if ((size_t)got < n * sizeof(float)) {
			err_set(e, "%s: truncated at offset %llu while reading parameters", path,
				(unsigned long long)(CKPT_HEADER_BYTES + got));
			goto fail;
		}
	} else {
		/* read the bf16 half into the upper half of the buffer, widen in place */
		uint16_t *half = (uint16_t *)(p + n) - n;
		got = io_read_full(fd, half, n * 2, e, path);
		if (got < 0)
			goto fail;
		if ((size_t)got < n * 2) {
			err_set(e, "%s: truncated at offset %llu while reading parameters", path,
				(unsigned long long)(CKPT_HEADER_BYTES + got));
			goto fail;
		}
		/* widening front to back never overwrites a bf16 not yet read:
		 * output i ends at byte 4i+4 <= input i+1 at byte 2n + 2i + 2 */
		for (size_t i = 0; i < n; i++)
			p[i] = ckpt_bf16_to_f32(half[i]);
	}
	close(fd);
	if (check_finite(p, n, v, path, e)) {
		free(p);
		return -1;
	}
	*config = c;
	*params = p;
	*version = v;
	return 0;
fail:
	free(p);
	close(fd);
	return -1;
}

int ckpt_map(CkptMap *m, const char *path, Error *e)
{
	memset(m, 0, sizeof *m);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int r = S_ISREG(st.st_mode) ? err_errno(e, "%s", path) : err_set(e, "%s: not a regular file", path);
		close(fd);
		return r;
	}
	if (st.st_size < CKPT_HEADER_BYTES) {
		close(fd);
		return err_set(e, "%s: truncated header: %lld bytes, want %d", path, (long long)st.st_size,
			       CKPT_HEADER_BYTES);
	}
	void *map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return err_errno(e, "%s: mmap", path);
	mapguard_add(map, st.st_size, path);
	int32_t h[CKPT_HEADER_INTS];
	memcpy(h, map, sizeof h);
	if (ckpt_parse_header(h, &m->config, &m->version, path, e) ||
	    check_size(&m->config, m->version, (uint64_t)st.st_size, path, e)) {
		mapguard_remove(map);
		munmap(map, st.st_size);
		return -1;
	}
	m->map = map;
	m->map_len = st.st_size;
	m->num_params = gpt2_num_params(&m->config);
	if (m->version == CKPT_V_FP32)
		m->params_f32 = (const float *)((const uint8_t *)map + CKPT_HEADER_BYTES);
	else
		m->params_bf16 = (const uint16_t *)((const uint8_t *)map + CKPT_HEADER_BYTES);
	return 0;
}

void ckpt_unmap(CkptMap *m)
{
	if (m->map) {
		mapguard_remove(m->map);
		munmap(m->map, m->map_len);
	}
	memset(m, 0, sizeof *m);
}

int ckpt_write(const char *path, const GPT2Config *c, const float *params, int version, Error *e)
{
	if (version != CKPT_V_FP32 && version != CKPT_V_BF16)
		return err_set(e, "%s: cannot write checkpoint version %d", path, version);
	int32_t h[CKPT_HEADER_INTS] = { 0 };
	h[0] = CKPT_MAGIC;
	h[1] = version;
	h[2] = c->max_seq_len;
	h[3] = c->vocab_size;
	h[4] = c->num_layers;
	h[5] = c->num_heads;
	h[6] = c->channels;
	h[7] = c->padded_vocab_size;
	AtomicFile af;
	if (atomic_open(&af, path, e))
		return -1;
	size_t n = gpt2_num_params(c);
	int ok = fwrite(h, sizeof h, 1, af.fp) == 1;
	if (version == CKPT_V_FP32) {
		ok = ok && fwrite(params, sizeof(float), n, af.fp) == n;
	} else {
		uint16_t buf[4096];
		for (size_t i = 0; ok && i < n; i += 4096) {
			size_t k = n - i < 4096 ? n - i : 4096;
			for (size_t j = 0; j < k; j++)
				buf[j] = ckpt_f32_to_bf16(params[i + j]);
			ok = fwrite(buf, 2, k, af.fp) == k;
		}
	}
	if (!ok) {
		err_errno(e, "%s: write", path);
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, e);
}
