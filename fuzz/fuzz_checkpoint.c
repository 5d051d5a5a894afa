/* Fuzz target: the checkpoint loaders (train/checkpoint.c) and the training
 * state header parser (train/state.c) on arbitrary bytes.  Whatever the
 * input, they load a checkpoint whose size matches its header exactly, with
 * finite parameters, or return a clean error; they never read out of bounds
 * or allocate what the input merely claims. */
#include "checkpoint.h"
#include "state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	GPT2Config c;
	float *p = NULL;
	int v;
	Error e;
	if (ckpt_load_mem(data, size, "fuzz", &c, &p, &v, &e) == 0) {
		if (ckpt_file_size(&c, v) != size || (v != 3 && v != 5))
			abort();
		size_t n = gpt2_num_params(&c);
		for (size_t i = 0; i < n; i++)
			if (!isfinite(p[i]))
				abort();
		free(p);
	}
	/* the file loaders, through a memory file */
	int fd = memfd_create("fuzz", 0);
	if (fd >= 0) {
		if (write(fd, data, size) == (ssize_t)size) {
			char path[64];
			snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
			if (ckpt_load(path, &c, &p, &v, &e) == 0)
				free(p);
			CkptMap m;
			if (ckpt_map(&m, path, &e) == 0) {
				volatile float sink = 0;
				if (m.params_f32)
					sink += m.params_f32[m.num_params - 1];
				else
					sink += ckpt_bf16_to_f32(m.params_bf16[m.num_params - 1]);
				(void)sink;
				ckpt_unmap(&m);
			}
		}
		close(fd);
	}
	if (size >= STATE_HEADER_BYTES) {
		TrainState s;
		state_parse(data, &s, "fuzz", &e);
	}
	return 0;
}
