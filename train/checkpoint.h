/* llm.c model checkpoints (gpt-checkpoint(5)): a 256-int32 header
 * [0]=20240326 [1]=version (3 fp32, 5 bf16) [2]=maxT [3]=V [4]=L [5]=NH [6]=C [7]=Vp
 * then the parameters in the order of gpt2.h.  Reading validates everything
 * and names the file and the field or offset; writing is atomic (temporary
 * name, fsync, rename). */
#ifndef GPTKIT_CHECKPOINT_H
#define GPTKIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_MAGIC 20240326
#define CKPT_V_FP32 3
#define CKPT_V_BF16 5
#define CKPT_HEADER_INTS 256
#define CKPT_HEADER_BYTES 1024

/* Validate a header (little-endian int32 words as read from the file):
 * magic, version, and a sane shape (all > 0, C % NH == 0, V <= Vp,
 * Vp % 128 == 0, sizes that fit in memory).  Fills config and version. */
int ckpt_parse_header(const int32_t hdr[CKPT_HEADER_INTS], GPT2Config *config, int *version,
		      const char *name, Error *e);
/* Bytes a checkpoint of this shape and version must have (header included). */
uint64_t ckpt_file_size(const GPT2Config *c, int version);

/* Read a checkpoint (v3 or v5) into freshly malloc'd fp32 parameters
 * (gpt2_num_params floats).  The file size must match the header exactly. */
int ckpt_load(const char *path, GPT2Config *config, float **params, int *version, Error *e);
/* Parse a checkpoint already in memory (for the fuzzer and for callers that
 * have the bytes); same checks as ckpt_load. */
int ckpt_load_mem(const uint8_t *buf, size_t len, const char *name, GPT2Config *config,
		  float **params, int *version, Error *e);

/* A read-only, zero-copy view of a checkpoint file (mmap). */
typedef struct {
	GPT2Config config;
	int version;               /* 3 or 5 */
	size_t num_params;
	const float *params_f32;   /* version 3, else NULL */
	const uint16_t *params_bf16; /* version 5, else NULL */
	void *map;
	size_t map_len;
} CkptMap;
int ckpt_map(CkptMap *m, const char *path, Error *e);
void ckpt_unmap(CkptMap *m);

/* Write params of config c as version 3 (fp32) or 5 (bf16, round to nearest
 * even), atomically: the file appears complete under path or not at all. */
int ckpt_write(const char *path, const GPT2Config *c, const float *params, int version, Error *e);

/* bf16 <-> fp32 (bf16 is the top half of an fp32; rounding is to nearest even). */
static inline float ckpt_bf16_to_f32(uint16_t h)
{
	union { uint32_t u; float f; } x = { .u = (uint32_t)h << 16 };
	return x.f;
}
static inline uint16_t ckpt_f32_to_bf16(float f)
{
	union { float f; uint32_t u; } x = { .f = f };
	if ((x.u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
		return (uint16_t)((x.u >> 16) | 0x40);
	return (uint16_t)((x.u + 0x7fffu + ((x.u >> 16) & 1)) >> 16);
}

#ifdef __cplusplus
}
#endif

#endif
